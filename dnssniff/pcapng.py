"""The pcapng file format, read block by block with constant memory.

Handles what tcpdump, dumpcap and scapy write: several sections (each with its own byte order
and interfaces), Interface Description Blocks with `if_name`, `if_tsresol` and `if_tsoffset`,
Enhanced, Simple and obsolete Packet Blocks. Other blocks are skipped; the ones of an unknown
type are counted. Like `dnssniff.pcap`, blocks are parsed out of a large buffer with
`struct.unpack_from` because this loop runs once per packet of every capture.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from dnssniff.model import Frame
from dnssniff.pcap import CHUNK_SIZE, ByteSource, CaptureStats, Interface

MAGIC = b"\x0a\x0d\x0d\x0a"
"""The Section Header Block type; it reads the same in both byte orders."""

MIN_SECTION_HEADER = 28
MAX_BLOCK = 256 << 20
"""No real block comes near this; a larger length means the file is corrupt, and trusting it
would mean buffering the rest of the file."""

BYTE_ORDER_MAGICS = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}

SHB = 0x0A0D0D0A
IDB = 1
PB = 2
SPB = 3
EPB = 6
KNOWN_UNUSED = frozenset({4, 5, 7, 8, 9, 10, 0xBAD, 0x40000BAD})
"""Name resolution, interface statistics, IRIG, ARINC, journal, decryption secrets, custom:
known types that carry no packet, skipped without counting them as unknown."""

_BLOCK_NAMES = {SHB: "a section header block", IDB: "an interface description block"}

OPT_END = 0
OPT_IF_NAME = 2
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14


def section_byteorder(head: bytes) -> str | None:
    """Return "<" or ">" for a section header at the start of `head`, None if it is invalid."""
    return BYTE_ORDER_MAGICS.get(bytes(head[8:12]))


class _Structs:
    """The unpackers for one byte order, built once: a section may switch byte order."""

    __slots__ = ("block", "epb", "idb", "int64", "option", "pb", "u32")

    def __init__(self, byteorder: str) -> None:
        self.block = struct.Struct(byteorder + "II").unpack_from
        self.u32 = struct.Struct(byteorder + "I").unpack_from
        self.epb = struct.Struct(byteorder + "IIIII").unpack_from
        self.pb = struct.Struct(byteorder + "HHIIII").unpack_from
        self.idb = struct.Struct(byteorder + "HHI").unpack_from
        self.option = struct.Struct(byteorder + "HH").unpack_from
        self.int64 = struct.Struct(byteorder + "q").unpack_from


_STRUCTS = {"<": _Structs("<"), ">": _Structs(">")}


def read_frames(
    source: ByteSource, head: bytes, stats: CaptureStats, interfaces: list[Interface]
) -> Iterator[Frame]:
    """Yield the frames of a pcapng stream whose first bytes (a section header) are `head`.

    Interfaces are appended to `interfaces` as their descriptions are read. A Simple Packet
    Block has no timestamp: its frame gets the previous packet's time (0.0 before any), so
    that packet time never runs backwards for the stages that expire state by it.
    """
    read = source.read
    frame = Frame
    buf = head
    pos = 0
    n = len(buf)
    base = 0
    s = _STRUCTS[section_byteorder(head) or "<"]
    block, epb, u32 = s.block, s.epb, s.u32
    # Per interface of the current section: (linktype, units/s, offset in units, snaplen, index).
    section: list[tuple[int, int, int, int, int]] = []
    frames = nbytes = cut = 0
    last_ts = 0.0
    malformed = stats.malformed
    try:
        while True:
            while pos + 8 <= n:
                btype, blen = block(buf, pos)
                if btype == SHB:
                    if pos + 12 > n:
                        break
                    order = section_byteorder(buf[pos : pos + 12])
                    if order is None:
                        _corrupt(stats, base + pos, "section header with an invalid byte order")
                        return
                    s = _STRUCTS[order]
                    block, epb, u32 = s.block, s.epb, s.u32
                    blen = u32(buf, pos + 4)[0]
                if blen < 12 or blen & 3 or blen > MAX_BLOCK:
                    _corrupt(stats, base + pos, f"block length {blen}")
                    return
                end = pos + blen
                if end > n:
                    break
                if u32(buf, end - 4)[0] != blen:
                    _corrupt(stats, base + pos, f"trailing length differs from {blen}")
                    return
                if btype == EPB:
                    # The common case, kept inline: every other block goes below.
                    if blen < 32:
                        malformed["pcapng: enhanced packet block too short"] += 1
                    else:
                        ifid, hi, lo, caplen, wirelen = epb(buf, pos + 8)
                        if caplen > blen - 32:
                            malformed["pcapng: packet data runs past its block"] += 1
                        elif ifid >= len(section):
                            malformed["pcapng: packet on an undescribed interface"] += 1
                        else:
                            linktype, units, offset, _snap, index = section[ifid]
                            last_ts = ((hi << 32 | lo) + offset) / units
                            if caplen < wirelen:
                                cut += 1
                            frames += 1
                            nbytes += caplen
                            data = buf[pos + 28 : pos + 28 + caplen]
                            yield frame(last_ts, linktype, data, wirelen, index)
                elif btype == IDB:
                    described = _interface(buf, pos, blen, s, len(interfaces), malformed)
                    if described is not None:
                        interfaces.append(described)
                        units = described.units_per_second
                        section.append(
                            (
                                described.linktype,
                                units,
                                described.tsoffset * units,
                                described.snaplen,
                                described.index,
                            )
                        )
                elif btype == SPB:
                    if blen < 16:
                        malformed["pcapng: simple packet block too short"] += 1
                    elif not section:
                        malformed["pcapng: packet on an undescribed interface"] += 1
                    else:
                        linktype, _units, _offset, snaplen, index = section[0]
                        wirelen = u32(buf, pos + 8)[0]
                        caplen = min(wirelen, blen - 16, snaplen or wirelen)
                        if caplen < wirelen:
                            cut += 1
                        frames += 1
                        nbytes += caplen
                        data = buf[pos + 12 : pos + 12 + caplen]
                        yield frame(last_ts, linktype, data, wirelen, index)
                elif btype == PB:
                    if blen < 32:
                        malformed["pcapng: packet block too short"] += 1
                    else:
                        ifid, _drops, hi, lo, caplen, wirelen = s.pb(buf, pos + 8)
                        if caplen > blen - 32:
                            malformed["pcapng: packet data runs past its block"] += 1
                        elif ifid >= len(section):
                            malformed["pcapng: packet on an undescribed interface"] += 1
                        else:
                            linktype, units, offset, _snap, index = section[ifid]
                            last_ts = ((hi << 32 | lo) + offset) / units
                            if caplen < wirelen:
                                cut += 1
                            frames += 1
                            nbytes += caplen
                            data = buf[pos + 28 : pos + 28 + caplen]
                            yield frame(last_ts, linktype, data, wirelen, index)
                elif btype == SHB:
                    section = []
                elif btype not in KNOWN_UNUSED:
                    stats.skipped_blocks += 1
                pos = end
            stats.frames, stats.bytes, stats.snaplen_cut = frames, nbytes, cut
            need, pending = 8, -1
            if pos + 8 <= n:
                pending, need = block(buf, pos)
                if pending == SHB:
                    order = section_byteorder(buf[pos : pos + 12]) if pos + 12 <= n else None
                    need = _STRUCTS[order].u32(buf, pos + 4)[0] if order else 12
            chunk = read(max(CHUNK_SIZE, need - (n - pos)))
            if not chunk:
                _note_end(stats, source, pending, n - pos, need, frames)
                return
            base += pos
            buf = buf[pos:] + chunk
            pos = 0
            n = len(buf)
    finally:
        stats.frames, stats.bytes, stats.snaplen_cut = frames, nbytes, cut


def _interface(
    buf: bytes, pos: int, blen: int, s: _Structs, index: int, malformed: dict[str, int]
) -> Interface | None:
    """Decode an Interface Description Block and its options (name, timestamp resolution)."""
    if blen < 20:
        malformed["pcapng: interface description block too short"] += 1
        return None
    linktype, _reserved, snaplen = s.idb(buf, pos + 8)
    name = ""
    units = 1_000_000
    tsoffset = 0
    opt = pos + 16
    end = pos + blen - 4
    while opt + 4 <= end:
        code, length = s.option(buf, opt)
        if code == OPT_END:
            break
        value = opt + 4
        if value + length > end:
            malformed["pcapng: interface option runs past its block"] += 1
            break
        if code == OPT_IF_NAME:
            name = buf[value : value + length].decode("utf-8", "replace")
        elif code == OPT_IF_TSRESOL and length >= 1:
            resol = buf[value]
            # Top bit set: a negative power of 2, otherwise of 10 (pcapng spec, if_tsresol).
            units = 2 ** (resol & 0x7F) if resol & 0x80 else 10**resol
        elif code == OPT_IF_TSOFFSET and length >= 8:
            tsoffset = s.int64(buf, value)[0]
        opt = value + (length + 3) // 4 * 4
    return Interface(index, linktype, snaplen, name, units, tsoffset)


def _corrupt(stats: CaptureStats, offset: int, what: str) -> None:
    """Stop at a block whose framing cannot be trusted, saying where."""
    stats.truncated = True
    stats.truncated_detail = (
        f"corrupt pcapng block at offset {offset} ({what}); reading stopped there"
    )


def _note_end(
    stats: CaptureStats, source: ByteSource, btype: int, present: int, need: int, frames: int
) -> None:
    """Record why the data ended, if it ended anywhere but after a complete block.

    `btype` is the type of the incomplete block, -1 when not even its header is there.
    """
    if present:
        stats.truncated = True
        if btype < 0:
            what = "a block header"
        elif btype in (PB, SPB, EPB):
            what = f"packet {frames + 1}"
        elif btype in _BLOCK_NAMES:
            what = _BLOCK_NAMES[btype]
        else:
            what = f"a block of type {btype:#x}"
        stats.truncated_detail = (
            f"capture ends in the middle of {what} (block needs {need} bytes, {present} present)"
        )
    if source.problem:
        stats.truncated = True
        where = stats.truncated_detail or f"capture ends after packet {frames}"
        stats.truncated_detail = f"{source.problem}; {where}"
