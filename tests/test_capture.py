"""Capture reading: pcap and pcapng built byte by byte, gzip, streams, truncation, errors."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import dnssniff.capture as capture_module
from dnssniff.capture import LINKTYPE_NAMES, linktype_name, open_capture, open_stream
from dnssniff.errors import CaptureNotFound, CapturePermission, NotACapture
from dnssniff.model import Frame

# --- builders -------------------------------------------------------------------------------


def pcap(records, *, bo="<", nano=False, linktype=1, snaplen=262144, network=None) -> bytes:
    """A classic pcap: records are (sec, frac, data) or (sec, frac, data, wirelen)."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    net = linktype if network is None else network
    out = [struct.pack(bo + "IHHiIII", magic, 2, 4, 0, 0, snaplen, net)]
    for sec, frac, data, *wire in records:
        wirelen = wire[0] if wire else len(data)
        out.append(struct.pack(bo + "IIII", sec, frac, len(data), wirelen) + data)
    return b"".join(out)


def block(btype: int, body: bytes, bo: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(bo + "II", btype, length) + body + struct.pack(bo + "I", length)


def option(code: int, value: bytes, bo: str = "<") -> bytes:
    return struct.pack(bo + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(bo: str = "<") -> bytes:
    return block(0x0A0D0D0A, struct.pack(bo + "IHHq", 0x1A2B3C4D, 1, 0, -1), bo)


def idb(linktype, *, snaplen=0, tsresol=None, tsoffset=None, name=None, bo="<") -> bytes:
    opts = b""
    if name is not None:
        opts += option(2, name.encode(), bo)
    if tsresol is not None:
        opts += option(9, bytes([tsresol]), bo)
    if tsoffset is not None:
        opts += option(14, struct.pack(bo + "q", tsoffset), bo)
    if opts:
        opts += struct.pack(bo + "HH", 0, 0)
    return block(1, struct.pack(bo + "HHI", linktype, 0, snaplen) + opts, bo)


def epb(ifid: int, ticks: int, data: bytes, wirelen=None, bo="<") -> bytes:
    wl = len(data) if wirelen is None else wirelen
    head = struct.pack(bo + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(data), wl)
    return block(6, head + data, bo)


def spb(data: bytes, wirelen=None, bo="<") -> bytes:
    return block(3, struct.pack(bo + "I", len(data) if wirelen is None else wirelen) + data, bo)


def pb(ifid: int, ticks: int, data: bytes, bo="<") -> bytes:
    head = struct.pack(
        bo + "HHIIII", ifid, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
    )
    return block(2, head + data, bo)


class Trickle(io.RawIOBase):
    """A pipe-like stream: no seek, and each read hands over at most `step` bytes."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self._step, len(self._data) - self._pos)
        b[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def read_all(data: bytes, name: str = "t.pcap", step: int | None = None):
    stream = io.BytesIO(data) if step is None else Trickle(data, step)
    with open_stream(stream, name) as cap:
        frames = list(cap)
    return cap, frames


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


P1 = b"\x01" * 60
P2 = b"\x02" * 98
P3 = b"\x03" * 7

# --- classic pcap ---------------------------------------------------------------------------


@pytest.mark.parametrize("bo", ["<", ">"])
def test_pcap_microseconds(bo):
    data = pcap([(1700000000, 123456, P1), (1700000001, 999999, P2, 1500)], bo=bo)
    cap, frames = read_all(data)
    assert cap.format == "pcap" and cap.compressed is False
    assert frames == [
        Frame(1700000000.123456, 1, P1, 60, 0),
        Frame(1700000001.999999, 1, P2, 1500, 0),
    ]
    assert (cap.stats.frames, cap.stats.bytes, cap.stats.snaplen_cut) == (2, 158, 1)
    assert cap.stats.truncated is False and cap.stats.truncated_detail == ""
    assert cap.interfaces[0].linktype == 1 and cap.interfaces[0].units_per_second == 10**6


@pytest.mark.parametrize("bo", ["<", ">"])
def test_pcap_nanoseconds(bo):
    data = pcap([(1700000000, 123456789, P1), (5, 1, P3)], bo=bo, nano=True, linktype=276)
    _cap, frames = read_all(data)
    # The exactly rounded value: the float nearest to the decimal timestamp.
    assert [f.ts for f in frames] == [1700000000.123456789, 5.000000001]
    assert [(f.linktype, f.data) for f in frames] == [(276, P1), (276, P3)]


def test_pcap_linktype_ignores_fcs_bits():
    # Bit 28 set with an FCS length of 2 in bits 29-31, Ethernet in the low 16 bits.
    _cap, frames = read_all(pcap([(1, 0, P1)], network=(0x5 << 28) | 1))
    assert frames[0].linktype == 1


def test_pcap_zero_length_record_and_empty_capture():
    cap, frames = read_all(pcap([(1, 0, b""), (2, 0, P1)]))
    assert [f.data for f in frames] == [b"", P1]
    cap, frames = read_all(pcap([]))
    assert frames == [] and cap.stats.frames == 0 and cap.stats.truncated is False


def test_pcap_read_through_short_reads_gives_the_same_frames():
    records = [(1700000000 + i, i, bytes([i]) * (i * 7 % 300)) for i in range(50)]
    data = pcap(records)
    _cap, whole = read_all(data)
    for step in (1, 3, 17, 1000):
        cap, frames = read_all(data, step=step)
        assert frames == whole
        assert cap.stats.frames == 50 and cap.stats.truncated is False


# --- truncation and corruption --------------------------------------------------------------


def test_pcap_cut_mid_record_keeps_frames_before_it():
    data = pcap([(1, 0, P1), (2, 0, P2), (3, 0, P1)])
    cut = 24 + (16 + 60) + (16 + 98) + 40  # 40 bytes of the third record's 76
    cap, frames = read_all(data[:cut])
    assert [f.ts for f in frames] == [1.0, 2.0]
    assert cap.stats.frames == 2 and cap.stats.bytes == 158
    assert cap.stats.truncated is True
    assert cap.stats.truncated_detail == (
        "capture ends in the middle of packet 3 (record needs 76 bytes, 40 present)"
    )


def test_pcap_cut_in_record_header():
    data = pcap([(1, 0, P1), (2, 0, P2)])
    cap, frames = read_all(data[: 24 + 76 + 7], step=5)
    assert len(frames) == 1
    assert cap.stats.truncated_detail == (
        "capture ends in the middle of packet 2 (record needs 16 bytes, 7 present)"
    )


def test_pcap_with_junk_appended_is_truncated_not_an_error():
    cap, frames = read_all(pcap([(1, 0, P1)]) + b"junk")
    assert len(frames) == 1 and cap.stats.truncated is True
    assert cap.stats.truncated_detail == (
        "capture ends in the middle of packet 2 (record needs 16 bytes, 4 present)"
    )


def test_pcap_absurd_caplen_stops_without_buffering_it():
    data = pcap([(1, 0, P1)]) + struct.pack("<IIII", 2, 0, 0x7FFFFFF0, 60) + P1 * 100
    cap, frames = read_all(data)
    assert len(frames) == 1 and cap.stats.truncated is True
    assert cap.stats.truncated_detail == (
        "corrupt record header at offset 100: packet 2 claims 2147483632 captured bytes "
        "(snaplen 262144); reading stopped there"
    )


def test_pcapng_cut_mid_packet_block():
    data = shb() + idb(1) + epb(0, 1, P1) + epb(0, 2, P2)
    cap, frames = read_all(data[:-30])
    assert [f.data for f in frames] == [P1]
    assert cap.stats.truncated_detail == (
        "capture ends in the middle of packet 2 (block needs 132 bytes, 102 present)"
    )


def test_pcapng_cut_in_interface_block_and_in_block_header():
    data = shb() + idb(1, name="eth0")
    cap, _frames = read_all(data[:-3])
    assert cap.stats.truncated_detail == (
        "capture ends in the middle of an interface description block "
        "(block needs 32 bytes, 29 present)"
    )
    cap, _frames = read_all(data + b"\x06\0\0")
    assert cap.stats.truncated_detail == (
        "capture ends in the middle of a block header (block needs 8 bytes, 3 present)"
    )


@pytest.mark.parametrize("length", [8, 30, 0x7FFFFFF0])
def test_pcapng_absurd_block_length_stops(length):
    bad = struct.pack("<II", 6, length) + b"\0" * 40
    cap, frames = read_all(shb() + idb(1) + epb(0, 1, P1) + bad + epb(0, 2, P1))
    assert len(frames) == 1 and cap.stats.truncated is True
    assert cap.stats.truncated_detail == (
        f"corrupt pcapng block at offset 140 (block length {length}); reading stopped there"
    )


def test_pcapng_trailing_length_mismatch_stops():
    good = epb(0, 1, P1)
    bad = good[:-4] + struct.pack("<I", len(good) + 4)
    cap, frames = read_all(shb() + idb(1) + good + bad)
    assert len(frames) == 1
    assert cap.stats.truncated_detail == (
        "corrupt pcapng block at offset 140 (trailing length differs from 92); "
        "reading stopped there"
    )


# --- pcapng ---------------------------------------------------------------------------------


def test_pcapng_two_interfaces_with_their_own_resolution_and_link_type():
    ns = 1700000000_123456789
    data = (
        shb()
        + idb(1, tsresol=9, name="eth0")
        + idb(113, tsresol=0x80 | 10, tsoffset=1600000000, name="any")
        + epb(0, ns, P1)
        + epb(1, 1537, P2, wirelen=200)  # 1537 / 1024 s after the offset
        + epb(0, ns + 1, P3)
    )
    cap, frames = read_all(data, "two.pcapng")
    assert cap.format == "pcapng"
    assert frames == [
        Frame(1700000000.123456789, 1, P1, 60, 0),
        Frame(1600000001.5009765625, 113, P2, 200, 1),
        Frame(1700000000.12345679, 1, P3, 7, 0),
    ]
    assert [
        (i.index, i.linktype, i.name, i.units_per_second, i.tsoffset) for i in cap.interfaces
    ] == [
        (0, 1, "eth0", 10**9, 0),
        (1, 113, "any", 1024, 1600000000),
    ]
    assert (cap.stats.frames, cap.stats.bytes, cap.stats.snaplen_cut) == (3, 165, 1)


def test_pcapng_default_resolution_is_microseconds():
    _cap, frames = read_all(shb() + idb(1) + epb(0, 1700000000_654321, P1))
    assert frames[0].ts == 1700000000.654321


def test_pcapng_simple_packet_block():
    data = (
        shb()
        + idb(101, snaplen=64, tsresol=6)
        + epb(0, 5_000000, P1)
        + spb(P2[:64], wirelen=98)  # cut by the snaplen
        + spb(P3)
        + block(3, struct.pack("<I", 500) + P1)  # wirelen beyond the block: block length wins
    )
    cap, frames = read_all(data)
    assert [(f.ts, f.linktype, f.data, f.wirelen) for f in frames] == [
        (5.0, 101, P1, 60),
        (5.0, 101, P2[:64], 98),
        (5.0, 101, P3, 7),
        (5.0, 101, P1, 500),
    ]
    assert cap.stats.snaplen_cut == 2


def test_pcapng_obsolete_packet_block():
    _cap, frames = read_all(shb() + idb(1) + pb(0, 2_500000, P2))
    assert frames == [Frame(2.5, 1, P2, 98, 0)]


def test_pcapng_unknown_blocks_are_skipped_and_counted_known_ones_silently():
    nrb = block(4, b"\0\0\0\0")
    isb = block(5, struct.pack("<III", 0, 0, 0))
    custom = block(0xBAD, struct.pack("<I", 32473) + b"x")
    unknown = block(0x12345, b"whatever")
    data = shb() + idb(1) + nrb + unknown + epb(0, 1, P1) + custom + unknown + isb
    cap, frames = read_all(data)
    assert len(frames) == 1
    assert cap.stats.skipped_blocks == 2
    assert cap.stats.truncated is False


def test_pcapng_several_sections_each_with_its_own_byte_order_and_interfaces():
    data = (
        shb()
        + idb(1, name="a")
        + epb(0, 1_000000, P1)
        + shb(">")
        + idb(276, tsresol=3, bo=">")
        + idb(101, bo=">")
        + epb(1, 7, P2, bo=">")
        + epb(0, 2500, P3, bo=">")
        + shb()
        + idb(228)
        + epb(0, 3_000000, P1)
    )
    cap, frames = read_all(data, step=13)
    assert [(f.ts, f.linktype, f.interface) for f in frames] == [
        (1.0, 1, 0),
        (7e-6, 101, 2),
        (2.5, 276, 1),
        (3.0, 228, 3),
    ]
    assert [i.linktype for i in cap.interfaces] == [1, 276, 101, 228]


def test_pcapng_bad_packets_are_counted_as_malformed():
    oversized = block(6, struct.pack("<IIIII", 0, 0, 1, 999, 999) + P1)
    data = (
        shb()
        + spb(P1)  # before any interface
        + idb(1)
        + epb(3, 1, P1)  # undescribed interface
        + oversized
        + epb(0, 2, P2)
    )
    cap, frames = read_all(data)
    assert [f.data for f in frames] == [P2]
    assert cap.malformed == Counter(
        {
            "pcapng: packet on an undescribed interface": 2,
            "pcapng: packet data runs past its block": 1,
        }
    )


def test_pcapng_written_by_scapy(tmp_path):
    scapy_utils = pytest.importorskip("scapy.utils")
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    pkts = []
    for i, t in enumerate((1700000000.5, 1700000001.25, 1700000002.0)):
        p = Ether() / IP(src="10.0.0.1", dst="10.0.0.53") / UDP(sport=5000 + i, dport=53)
        p.time = t
        pkts.append(p)
    path = str(tmp_path / "scapy.pcapng")
    writer = scapy_utils.PcapNgWriter(path)
    for p in pkts:
        writer.write(p)
    writer.close()
    with open_capture(path) as cap:
        frames = list(cap)
    assert cap.format == "pcapng"
    assert [(f.ts, f.linktype, f.data) for f in frames] == [(p.time, 1, bytes(p)) for p in pkts]


# --- gzip and streams -----------------------------------------------------------------------


def test_gzip_file_is_detected_by_content(tmp_path):
    data = pcap([(1, 0, P1), (2, 0, P2)])
    path = write(tmp_path, "no-suffix", gzip.compress(data))
    with open_capture(path) as cap:
        frames = list(cap)
    assert cap.compressed is True and cap.format == "pcap"
    assert [f.data for f in frames] == [P1, P2]


def test_gzip_pcapng_through_a_pipe_like_stream():
    data = shb() + idb(1) + b"".join(epb(0, i, bytes([i]) * i) for i in range(100))
    cap, frames = read_all(gzip.compress(data), step=7)
    assert cap.compressed is True and cap.format == "pcapng"
    assert len(frames) == 100 and frames[99].data == b"\x63" * 99


def test_gzip_with_several_members():
    first = pcap([(1, 0, P1)])
    cap, frames = read_all(
        gzip.compress(first) + gzip.compress(struct.pack("<IIII", 2, 0, 7, 7) + P3)
    )
    assert [f.data for f in frames] == [P1, P3] and cap.stats.truncated is False


def test_gzip_cut_short_is_truncation():
    data = pcap([(i, 0, os.urandom(200)) for i in range(200)])  # incompressible
    packed = gzip.compress(data)
    cap, frames = read_all(packed[: len(packed) // 2], step=100)
    assert 0 < len(frames) < 200
    assert cap.stats.truncated is True
    assert cap.stats.truncated_detail.startswith(
        f"the gzip stream is cut short; capture ends in the middle of packet {len(frames) + 1} "
    )


def test_gzip_cut_at_a_record_boundary_is_still_truncation():
    packed = gzip.compress(pcap([(1, 0, P1)]))
    cap, frames = read_all(packed[:-8])  # the CRC and size trailer are missing
    assert len(frames) == 1
    assert cap.stats.truncated_detail == "the gzip stream is cut short; capture ends after packet 1"


def test_gzip_followed_by_garbage():
    cap, frames = read_all(gzip.compress(pcap([(1, 0, P1)])) + b"garbage")
    assert len(frames) == 1
    assert cap.stats.truncated_detail == (
        "the gzip data is followed by bytes that are not gzip; capture ends after packet 1"
    )


def test_stdin_dash(monkeypatch):
    data = pcap([(1, 0, P1)])

    class FakeStdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr(sys, "stdin", FakeStdin())
    with open_capture("-") as cap:
        assert [f.data for f in cap] == [P1]
    assert cap.name == "<stdin>"


def test_next_and_close_bring_stats_up_to_date(tmp_path):
    path = write(tmp_path, "a.pcap", pcap([(1, 0, P1), (2, 0, P2), (3, 0, P3)]))
    cap = open_capture(path)
    assert next(cap).data == P1
    assert next(cap).data == P2
    cap.close()
    assert (cap.stats.frames, cap.stats.bytes) == (2, 158)
    cap.close()  # twice is harmless


# --- errors ---------------------------------------------------------------------------------


def test_missing_file():
    with pytest.raises(CaptureNotFound) as err:
        open_capture("/nonexistent/x.pcap")
    assert str(err.value) == "no such file: /nonexistent/x.pcap"


def test_directory(tmp_path):
    with pytest.raises(CaptureNotFound) as err:
        open_capture(str(tmp_path))
    assert str(err.value) == f"{tmp_path} is a directory, not a capture file"


def test_empty_file(tmp_path):
    path = write(tmp_path, "e.pcap", b"")
    with pytest.raises(NotACapture) as err:
        open_capture(path)
    assert str(err.value) == f"{path} is empty (0 bytes)"


def test_text_file(tmp_path):
    path = write(tmp_path, "h.pcap", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(NotACapture) as err:
        open_capture(path)
    assert str(err.value) == (
        f"{path} is not a pcap or pcapng capture (it starts with 'GET / HTTP/1.1\\r\\n')"
    )


def test_binary_garbage_is_shown_escaped():
    with pytest.raises(NotACapture) as err:
        open_stream(io.BytesIO(b"\x00\xff'\x1b[31mred" + b"z" * 40), "g")
    assert str(err.value) == (
        'g is not a pcap or pcapng capture (it starts with "\\x00\\xff\'\\x1b[31mredzzzzz")'
    )


def test_too_short(tmp_path):
    path = write(tmp_path, "s.pcap", pcap([])[:20])
    with pytest.raises(NotACapture) as err:
        open_capture(path)
    assert str(err.value) == f"{path} is too short to be a capture (20 bytes)"
    with pytest.raises(NotACapture) as err:
        open_stream(io.BytesIO(b"ab"), "t")
    assert str(err.value) == "t is too short to be a capture (2 bytes)"
    with pytest.raises(NotACapture) as err:
        open_stream(io.BytesIO(shb()[:20]), "u")
    assert str(err.value) == "u is too short to be a capture (20 bytes)"


def test_pcapng_with_bad_byte_order_magic():
    bad = shb()[:8] + b"ABCD" + shb()[12:]
    with pytest.raises(NotACapture) as err:
        open_stream(io.BytesIO(bad), "b")
    assert str(err.value) == (
        "b starts like a pcapng capture but its section header has an invalid byte-order "
        "magic ('ABCD')"
    )


def test_gzip_errors():
    with pytest.raises(NotACapture) as err:
        open_stream(io.BytesIO(gzip.compress(b"")), "z")
    assert str(err.value) == "z is empty after gzip decompression (0 bytes)"
    with pytest.raises(NotACapture) as err:
        open_stream(io.BytesIO(gzip.compress(b"hello world, not pcap")), "z")
    assert str(err.value) == (
        "z is not a pcap or pcapng capture "
        "(it starts with 'hello world, not' after gzip decompression)"
    )
    with pytest.raises(NotACapture) as err:
        open_stream(io.BytesIO(b"\x1f\x8b\x08\x00garbage-garbage"), "z")
    assert str(err.value).startswith("z is gzip-compressed but the gzip data is corrupt (")
    with pytest.raises(NotACapture) as err:
        open_stream(io.BytesIO(b"\x28\xb5\x2f\xfd...."), "z")
    assert str(err.value) == "z is zstd-compressed (decompress it first: zstd -d)"


def test_permission_denied(tmp_path, monkeypatch):
    path = write(tmp_path, "p.pcap", pcap([]))
    if os.geteuid() == 0:  # root reads any file: make open() refuse as the kernel would

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(capture_module, "open", refuse, raising=False)
    else:
        os.chmod(path, 0)
    with pytest.raises(CapturePermission) as err:
        open_capture(path)
    assert str(err.value) == f"permission denied: {path}"


def test_linktype_names():
    assert LINKTYPE_NAMES[1] == "EN10MB" and LINKTYPE_NAMES[276] == "LINUX_SLL2"
    assert LINKTYPE_NAMES[147] == "USER0" and LINKTYPE_NAMES[162] == "USER15"
    assert linktype_name(113) == "LINUX_SLL (113)" and linktype_name(9999) == "9999"


# --- cross-check with tcpdump ---------------------------------------------------------------


def _udp_frame(i: int) -> bytes:
    udp = struct.pack("!HHHH", 40000 + i, 53, 8 + 12, 0) + struct.pack(
        "!HHHHHH", i, 0x0100, 0, 0, 0, 0
    )
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 53]))  # fmt: skip
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_timestamps_agree_with_tcpdump(tmp_path, kind):
    stamps = [(1700000000 + i * 3, (i * 123457) % 1000000) for i in range(20)]
    if kind == "pcap":
        data = pcap([(s, u, _udp_frame(i)) for i, (s, u) in enumerate(stamps)], bo=">")
    else:
        data = (
            shb()
            + idb(1, tsresol=6)
            + b"".join(epb(0, s * 10**6 + u, _udp_frame(i)) for i, (s, u) in enumerate(stamps))
        )
    path = write(tmp_path, f"x.{kind}", data)
    out = subprocess.run(
        ["tcpdump", "-r", path, "-tt", "-n"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    with open_capture(path) as cap:
        ours = [f"{f.ts:.6f}" for f in cap]
    assert [line.split()[0] for line in out] == ours
    assert len(ours) == 20


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_multi_interface_pcapng_agrees_with_tshark(tmp_path):
    data = (
        shb()
        + idb(1, tsresol=9, name="eth0")
        + idb(113, tsresol=0x80 | 10, tsoffset=1600000000, name="any")
        + epb(0, 1700000000_123456789, P1)
        + epb(1, 1537, P2, wirelen=200)
        + shb(">")
        + idb(101, bo=">")
        + epb(0, 5, P3, bo=">")
    )
    path = write(tmp_path, "two.pcapng", data)
    fields = ["frame.time_epoch", "frame.len", "frame.cap_len"]
    out = subprocess.run(
        ["tshark", "-r", path, "-T", "fields", *(a for f in fields for a in ("-e", f))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    theirs = [line.split("\t") for line in out]
    with open_capture(path) as cap:
        ours = list(cap)
    assert len(theirs) == len(ours) == 3
    for (ts, wirelen, caplen), frame in zip(theirs, ours, strict=True):
        # A float holds about 0.24 us at today's epoch, so compare to well under a microsecond.
        assert abs(float(ts) - frame.ts) < 3e-7
        assert (int(wirelen), int(caplen)) == (frame.wirelen, len(frame.data))
