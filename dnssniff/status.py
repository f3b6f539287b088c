"""Every exit code dnssniff uses, named once (as httpie's `status.py` does)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes. Scripts may rely on these values."""

    OK = 0
    ERROR = 1  # an unexpected failure (a bug): reported on one line, never a traceback
    USAGE = 2  # bad command line (typer/click's own code for usage errors)
    BAD_INPUT = 3  # the capture cannot be read: missing, not a capture, unknown link type
    PERMISSION = 4  # the OS refused: file permissions, or capture without NET_RAW
    INTERRUPTED = 130  # Ctrl-C
