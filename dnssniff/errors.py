"""One exception root for everything dnssniff reports to a user.

Every error carries a message written for the person at the terminal; the CLI prints it on
one line and exits with the code named in `dnssniff.status`.
"""

from __future__ import annotations


class DnssniffError(Exception):
    """Root of dnssniff's own errors; `str(err)` is a complete one-line message."""


class CaptureError(DnssniffError):
    """A capture cannot be read at all (missing, not a capture, unsupported)."""


class CaptureNotFound(CaptureError):
    """The capture file does not exist or is not a regular file."""


class NotACapture(CaptureError):
    """The input is readable but is not a pcap or pcapng capture."""


class UnknownLinkType(CaptureError):
    """The capture uses a link-layer type dnssniff cannot decode."""


class CapturePermission(CaptureError):
    """The operating system refused access (file permissions, or capture without NET_RAW)."""


class ConfigError(DnssniffError):
    """A command-line option or configuration file is invalid."""
