"""Open a capture file or stream: recognise gzip, pcap and pcapng by content, report why not.

Everything that can make a capture unreadable is found here, when it is opened, and raised
as a `dnssniff.errors.CaptureError` with a one-line message naming the input. Problems found
while reading (a capture cut short, a corrupt length) are not errors: iteration stops after
the last good frame and `Capture.stats` says what happened, because a half-written capture
from a killed tcpdump is the normal case in the field.
"""

from __future__ import annotations

import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import BinaryIO

from dnssniff import pcap, pcapng
from dnssniff.errors import CaptureError, CaptureNotFound, CapturePermission, NotACapture
from dnssniff.model import Frame
from dnssniff.pcap import CHUNK_SIZE, CaptureStats, Interface

__all__ = [
    "LINKTYPE_NAMES",
    "Capture",
    "CaptureStats",
    "Interface",
    "linktype_name",
    "open_capture",
    "open_stream",
]

LINKTYPE_NAMES: dict[int, str] = {
    0: "NULL",
    1: "EN10MB",
    6: "IEEE802_5",
    7: "ARCNET_BSD",
    8: "SLIP",
    9: "PPP",
    10: "FDDI",
    50: "PPP_HDLC",
    51: "PPP_ETHER",
    100: "ATM_RFC1483",
    101: "RAW",
    104: "C_HDLC",
    105: "IEEE802_11",
    107: "FRELAY",
    108: "LOOP",
    113: "LINUX_SLL",
    117: "PFLOG",
    119: "IEEE802_11_PRISM",
    127: "IEEE802_11_RADIOTAP",
    138: "APPLE_IP_OVER_IEEE1394",
    139: "MTP2_WITH_PHDR",
    143: "DOCSIS",
    163: "IEEE802_11_AVS",
    187: "BLUETOOTH_HCI_H4",
    189: "USB_LINUX",
    192: "PPI",
    195: "IEEE802_15_4_WITHFCS",
    197: "ERF",
    201: "BLUETOOTH_HCI_H4_WITH_PHDR",
    215: "IEEE802_15_4_NONASK_PHY",
    220: "USB_LINUX_MMAPPED",
    227: "CAN_SOCKETCAN",
    228: "IPV4",
    229: "IPV6",
    230: "IEEE802_15_4_NOFCS",
    231: "DBUS",
    239: "NFLOG",
    240: "NETANALYZER",
    247: "IPNET",
    249: "USBPCAP",
    251: "BLUETOOTH_LE_LL",
    252: "WIRESHARK_UPPER_PDU",
    253: "NETLINK",
    254: "BLUETOOTH_LINUX_MONITOR",
    256: "BLUETOOTH_LE_LL_WITH_PHDR",
    266: "USB_DARWIN",
    271: "VSOCK",
    272: "NORDIC_BLE",
    274: "ETHERNET_MPACKET",
    276: "LINUX_SLL2",
    **{147 + i: f"USER{i}" for i in range(16)},
}
"""Link-layer type names as tcpdump.org's list spells them (LINKTYPE_ without the prefix;
Ethernet as tcpdump prints it), for messages about captures dnssniff cannot decode."""

GZIP_MAGIC = b"\x1f\x8b"
_OTHER_COMPRESSION = {
    b"\x28\xb5\x2f\xfd": "zstd-compressed (decompress it first: zstd -d)",
    b"\xfd7zXZ": "xz-compressed (decompress it first: xz -d)",
    b"BZh": "bzip2-compressed (decompress it first: bunzip2)",
}
_PREFIX_SHOWN = 16
_HEAD_SIZE = 64


def linktype_name(linktype: int) -> str:
    """Name a link type for a message: "LINUX_SLL2 (276)", or "279" when it has no name."""
    name = LINKTYPE_NAMES.get(linktype)
    return f"{name} ({linktype})" if name else str(linktype)


class Capture:
    """An open capture: an iterator of `Frame`s, and what reading it found.

    `format` is "pcap" or "pcapng", `compressed` tells whether the content was gzip'ed,
    `interfaces` lists the capture interfaces seen so far (pcapng describes them as it
    goes), `stats` counts frames and records truncation. `iter(capture)` hands out the
    underlying generator itself so a `for` loop pays no per-frame method call; `next()` on
    the capture works too.
    """

    def __init__(
        self,
        name: str,
        format: str,
        compressed: bool,
        frames: Iterator[Frame],
        stats: CaptureStats,
        interfaces: list[Interface],
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.format = format
        self.compressed = compressed
        self.stats = stats
        self.interfaces = interfaces
        self._frames = frames
        self._on_close = on_close

    @property
    def malformed(self) -> Counter[str]:
        """Records skipped without stopping the reading, by reason."""
        return self.stats.malformed

    def __iter__(self) -> Iterator[Frame]:
        return self._frames

    def __next__(self) -> Frame:
        return next(self._frames)

    def close(self) -> None:
        """Stop reading, bring `stats` up to date and close the file if this module opened it."""
        close_frames = getattr(self._frames, "close", None)
        if close_frames is not None:
            close_frames()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()

    def __enter__(self) -> Capture:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        gz = ", gzip" if self.compressed else ""
        return f"<Capture {self.name!r} {self.format}{gz}, {self.stats.frames} frames read>"


def open_capture(path: str) -> Capture:
    """Open a capture file by path; "-" reads standard input.

    Raises `CaptureNotFound`, `CapturePermission`, `NotACapture` or `CaptureError` with a
    message that names `path`.
    """
    if path == "-":
        stdin = sys.stdin.buffer
        if stdin.isatty():
            raise NotACapture(
                "standard input is a terminal: pipe a capture into it (tcpdump -w - ... | ...)"
            )
        return open_stream(stdin, "<stdin>")
    try:
        f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by Capture.close
    except FileNotFoundError:
        raise CaptureNotFound(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CaptureNotFound(f"{path} is a directory, not a capture file") from None
    except PermissionError:
        raise CapturePermission(f"permission denied: {path}") from None
    except OSError as err:
        raise CaptureError(f"cannot open {path}: {err.strerror or err}") from None
    try:
        capture = open_stream(f, path)
    except BaseException:
        f.close()
        raise
    capture._on_close = f.close
    return capture


def open_stream(binary_file: BinaryIO, name: str) -> Capture:
    """Read a capture from an already open binary stream (stdin, a pipe, a BytesIO).

    Only reads forward, so pipes work. The stream is left open: it belongs to the caller.
    `name` is used in messages.
    """
    plain = _PlainSource(binary_file, name)
    head = _read_head(plain)
    if not head:
        raise NotACapture(f"{name} is empty (0 bytes)")
    source: _PlainSource | _GunzipSource = plain
    compressed = head[:2] == GZIP_MAGIC
    if compressed:
        source = _GunzipSource(plain, head)
        head = _read_head(source)
        if not head:
            if source.problem:
                raise NotACapture(f"{name} is gzip-compressed but {source.problem}")
            raise NotACapture(f"{name} is empty after gzip decompression (0 bytes)")
    stats = CaptureStats()
    magic = bytes(head[:4])
    if magic in pcap.MAGICS:
        header = pcap.parse_header(head)
        if header is None:
            raise NotACapture(_too_short(name, head, compressed))
        interfaces = [Interface(0, header.linktype, header.snaplen, "", header.units_per_second)]
        frames = pcap.read_frames(source, head, header, stats)
        return Capture(name, "pcap", compressed, frames, stats, interfaces)
    if magic == pcapng.MAGIC:
        if len(head) < pcapng.MIN_SECTION_HEADER:
            raise NotACapture(_too_short(name, head, compressed))
        if pcapng.section_byteorder(head) is None:
            raise NotACapture(
                f"{name} starts like a pcapng capture but its section header has an invalid "
                f"byte-order magic ({_shown(head[8:12])})"
            )
        described: list[Interface] = []
        frames = pcapng.read_frames(source, head, stats, described)
        return Capture(name, "pcapng", compressed, frames, stats, described)
    if len(head) < 4:
        raise NotACapture(_too_short(name, head, compressed))
    for prefix, what in _OTHER_COMPRESSION.items():
        if head.startswith(prefix):
            raise NotACapture(f"{name} is {what}")
    inner = " after gzip decompression" if compressed else ""
    raise NotACapture(
        f"{name} is not a pcap or pcapng capture "
        f"(it starts with {_shown(head[:_PREFIX_SHOWN])}{inner})"
    )


def _shown(data: bytes) -> str:
    """Quote bytes for a message: printable ASCII as is, everything else escaped like repr."""
    return repr(bytes(data))[1:]


def _too_short(name: str, head: bytes, compressed: bool) -> str:
    inner = " after gzip decompression" if compressed else ""
    return f"{name} is too short to be a capture ({len(head)} bytes{inner})"


def _read_head(source: _PlainSource | _GunzipSource) -> bytes:
    """Read the first bytes, enough for any header, looping because pipes return short reads."""
    parts = []
    got = 0
    while got < _HEAD_SIZE:
        data = source.read(_HEAD_SIZE - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


class _PlainSource:
    """Bytes straight from the stream; a read error becomes a `CaptureError` naming it.

    Uses `read1` where the stream has it, so a pipe from a live tcpdump hands over what has
    arrived instead of blocking until a whole megabyte is there.
    """

    __slots__ = ("_name", "_read", "problem")

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._read = getattr(stream, "read1", None) or stream.read
        self._name = name
        self.problem = ""

    def read(self, size: int) -> bytes:
        try:
            return self._read(size)
        except OSError as err:
            raise CaptureError(f"cannot read {self._name}: {err.strerror or err}") from None


class _GunzipSource:
    """Decompress gzip on the fly with bounded output per call (never the whole file).

    zlib is used directly instead of `gzip.GzipFile` so that a stream cut short yields every
    byte that was decompressed before the cut (GzipFile raises EOFError and the bytes of the
    pending read are lost) and so that pipes need no seeking. Concatenated gzip members are
    read one after the other, as gunzip does.
    """

    __slots__ = ("_decomp", "_done", "_pending", "_raw", "problem")

    def __init__(self, raw: _PlainSource, head: bytes) -> None:
        self._raw = raw
        self._pending = head
        self._decomp = zlib.decompressobj(wbits=31)
        self._done = False
        self.problem = ""

    def _raw_read(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        return self._raw.read(CHUNK_SIZE)

    def read(self, size: int) -> bytes:
        parts = []
        got = 0
        d = self._decomp
        while got < size and not self._done:
            if d.eof:
                data = d.unused_data or self._raw_read()
                if not data:
                    self._done = True
                    break
                if len(data) < 2:
                    data += self._raw_read()
                if not data.startswith(GZIP_MAGIC):
                    # What gunzip calls "trailing garbage": keep what was decompressed.
                    self.problem = "the gzip data is followed by bytes that are not gzip"
                    self._done = True
                    break
                d = self._decomp = zlib.decompressobj(wbits=31)
            else:
                data = d.unconsumed_tail or self._raw_read()
                if not data:
                    tail = d.flush()
                    parts.append(tail)
                    got += len(tail)
                    self.problem = "the gzip stream is cut short"
                    self._done = True
                    break
            try:
                out = d.decompress(data, size - got)
            except zlib.error as err:
                self.problem = f"the gzip data is corrupt ({err})"
                self._done = True
                break
            parts.append(out)
            got += len(out)
        return b"".join(parts)
