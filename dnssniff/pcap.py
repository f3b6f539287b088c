"""The classic libpcap file format, read record by record with constant memory.

This module also holds the vocabulary both file formats share (`CaptureStats`, `Interface`,
`ByteSource`) so that `dnssniff.pcapng` can use it without depending on the opener in
`dnssniff.capture`, which in turn depends on both format modules.

Why a hand-written reader and not scapy's `RawPcapReader`: scapy reads each record with two
`file.read` calls and builds a tuple of metadata per packet, about 2 us a frame; parsing
records out of a 1 MiB buffer with `struct.unpack_from` costs a fraction of that, and this
reader sits in front of every other stage of the pipeline.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from dnssniff.model import Frame

CHUNK_SIZE = 1 << 20
"""How much is read from the file at a time: large reads keep system-call cost negligible."""

HEADER_SIZE = 24
RECORD_HEADER_SIZE = 16
MAX_SNAPLEN = 262144
"""libpcap's own MAXIMUM_SNAPLEN; records longer than twice this (or twice the file's snaplen,
up to 64 MiB) can only come from a corrupt file, and are never buffered."""

_SANE_SNAPLEN_CAP = 64 << 20

# The magic number as it appears in the file -> (struct byte order, timestamp units per second).
MAGICS: dict[bytes, tuple[str, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}


@dataclass(slots=True)
class CaptureStats:
    """What reading a capture found, besides the frames themselves.

    `bytes` is the sum of the captured lengths of the frames returned. `snaplen_cut` counts
    frames shorter than they were on the wire. `truncated` is set when the data ended or
    became unreadable in the middle of the capture (a killed tcpdump, a cut gzip stream, a
    corrupt length); `truncated_detail` says where and why. `skipped_blocks` counts pcapng
    blocks of a type this reader does not know. `malformed` counts records that were skipped
    but did not stop the reading, by reason.

    The counters are brought up to date at every buffer refill and when iteration ends or
    the capture is closed, not after each frame (that would cost two attribute writes a
    frame on the hottest loop of the program).
    """

    frames: int = 0
    bytes: int = 0
    snaplen_cut: int = 0
    truncated: bool = False
    truncated_detail: str = ""
    skipped_blocks: int = 0
    malformed: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True, frozen=True)
class Interface:
    """One capture interface: a classic pcap file has one, a pcapng file one per IDB.

    `index` is the number frames carry in `Frame.interface`: it counts the interfaces of the
    whole file, so that the interfaces of a second pcapng section do not reuse the numbers of
    the first. `units_per_second` and `tsoffset` (seconds) come from pcapng's `if_tsresol` and
    `if_tsoffset`.
    """

    index: int
    linktype: int
    snaplen: int
    name: str = ""
    units_per_second: int = 1_000_000
    tsoffset: int = 0


class ByteSource(Protocol):
    """Where a reader gets its bytes: a file, a pipe or a gzip decompressor.

    `read` returns at most `size` bytes and b"" only at the end. `problem` is "" when the data
    ended where it should, or says why it ended early (a gzip stream cut short).
    """

    problem: str

    def read(self, size: int) -> bytes:
        """Return up to `size` bytes, b"" at the end of the data."""
        ...


@dataclass(slots=True, frozen=True)
class PcapHeader:
    """The fields of a pcap global header that matter for reading records."""

    byteorder: str
    units_per_second: int
    version: tuple[int, int]
    snaplen: int
    linktype: int
    fcs_bits: int


def parse_header(head: bytes) -> PcapHeader | None:
    """Decode the 24-byte global header, or return None if `head` has no pcap magic.

    The link type is the low 16 bits of the network field: libpcap keeps FCS information in
    the upper bits, which would otherwise turn Ethernet with FCS into an unknown link type.
    """
    known = MAGICS.get(bytes(head[:4]))
    if known is None or len(head) < HEADER_SIZE:
        return None
    byteorder, units = known
    major, minor, _zone, _sigfigs, snaplen, network = struct.unpack_from(
        byteorder + "HHiIII", head, 4
    )
    return PcapHeader(byteorder, units, (major, minor), snaplen, network & 0xFFFF, network >> 16)


def read_frames(
    source: ByteSource, head: bytes, header: PcapHeader, stats: CaptureStats
) -> Iterator[Frame]:
    """Yield the frames of a pcap stream whose first bytes (header included) are `head`.

    Stops after the last complete record; a partial or absurd record sets `stats.truncated`.
    Timestamps are `(sec * units + frac) / units`, an exactly rounded division, so a
    microsecond or nanosecond timestamp becomes the float nearest to its decimal value.
    """
    record = struct.Struct(header.byteorder + "IIII").unpack_from
    units = header.units_per_second
    linktype = header.linktype
    limit = 2 * max(MAX_SNAPLEN, min(header.snaplen, _SANE_SNAPLEN_CAP))
    read = source.read
    frame = Frame
    buf = head
    pos = HEADER_SIZE
    n = len(buf)
    base = 0  # offset in the (decompressed) stream of buf[0], for messages
    # Captured bytes are not summed per frame: they are derived from the stream position
    # (each record is 16 bytes of header plus its data), which saves an addition per frame.
    frames = cut = 0
    try:
        while True:
            # The hot loop: one unpack, one slice and one Frame per record.
            while pos + 16 <= n:
                sec, frac, caplen, wirelen = record(buf, pos)
                start = pos + 16
                end = start + caplen
                if end > n or caplen > limit:
                    break
                if caplen < wirelen:
                    cut += 1
                frames += 1
                pos = end  # before the yield, so that stats are right if the reader stops here
                yield frame((sec * units + frac) / units, linktype, buf[start:end], wirelen)
            stats.frames, stats.bytes = frames, base + pos - HEADER_SIZE - 16 * frames
            stats.snaplen_cut = cut
            need = 16
            if pos + 16 <= n:
                caplen = record(buf, pos)[2]
                if caplen > limit:
                    stats.truncated = True
                    stats.truncated_detail = (
                        f"corrupt record header at offset {base + pos}: packet {frames + 1} "
                        f"claims {caplen} captured bytes (snaplen {header.snaplen}); "
                        "reading stopped there"
                    )
                    return
                need = 16 + caplen
            chunk = read(max(CHUNK_SIZE, need - (n - pos)))
            if not chunk:
                _note_end(stats, source, n - pos, need, frames)
                return
            base += pos
            buf = buf[pos:] + chunk
            pos = 0
            n = len(buf)
    finally:
        stats.frames, stats.bytes = frames, base + pos - HEADER_SIZE - 16 * frames
        stats.snaplen_cut = cut


def _note_end(
    stats: CaptureStats, source: ByteSource, present: int, need: int, frames: int
) -> None:
    """Record why the data ended, if it ended anywhere but after a complete record."""
    if present:
        stats.truncated = True
        stats.truncated_detail = (
            f"capture ends in the middle of packet {frames + 1} "
            f"(record needs {need} bytes, {present} present)"
        )
    if source.problem:
        stats.truncated = True
        where = stats.truncated_detail or f"capture ends after packet {frames}"
        stats.truncated_detail = f"{source.problem}; {where}"
