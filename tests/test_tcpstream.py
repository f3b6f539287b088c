"""Tests for dnssniff.tcpstream: DNS-over-TCP reassembly from captured segments.

As h11's tests do for its readers, every stream is fed whole, then one byte per segment
(with correct sequence numbers), then with junk after the last message.
"""

from __future__ import annotations

import itertools
import random
import struct

import dns.message
import dns.rcode
import dns.rrset
import pytest

from dnssniff.model import Datagram, TcpSegment, Transport
from dnssniff.tcpstream import FIN, RST, SYN, TcpReassembler, plausible_start

ACK = 0x10
MASK = 0xFFFFFFFF
C = ("10.0.0.1", 40000, "10.0.0.53", 53)  # client -> server
S = ("10.0.0.53", 53, "10.0.0.1", 40000)  # server -> client


def query(name: str, qid: int) -> bytes:
    """A realistic query in wire form (dnspython)."""
    msg = dns.message.make_query(name, "A")
    msg.id = qid
    return msg.to_wire()


def frame(msg: bytes) -> bytes:
    """The 2-byte length prefix of DNS over TCP, then the message."""
    return struct.pack("!H", len(msg)) + msg


Q1 = query("a.example.", 1)
Q2 = query("bb.example.", 2)
Q3 = query("ccc.example.", 3)
JUNK = b"\x01\x00half a message"  # announces 256 bytes, has 15


def seg(seq: int, payload: bytes = b"", flags: int = ACK, ts: float = 1.0, ends=C) -> TcpSegment:
    return TcpSegment(ts, ends[0], ends[1], ends[2], ends[3], seq & MASK, flags, payload)


def segments(stream: bytes, mode: str, isn: int = 1000, syn: bool = True, ends=C):
    """The segments that carry `stream`: one, or one per byte; ts 1, 2, 3... per segment."""
    out = [seg(isn, flags=SYN, ts=0.0, ends=ends)] if syn else []
    start = isn + 1 if syn else isn
    size = len(stream) if mode == "whole" else 1
    for i, off in enumerate(range(0, len(stream), size)):
        out.append(seg(start + off, stream[off : off + size], ts=float(i + 1), ends=ends))
    return out


def feed_all(r: TcpReassembler, segs) -> list[Datagram]:
    out: list[Datagram] = []
    for s in segs:
        out += r.feed(s)
    return out


def payloads(dgrams: list[Datagram]) -> list[bytes]:
    return [d.payload for d in dgrams]


MODES = ["whole", "bytewise", "junk", "junk-bytewise"]


def run(stream: bytes, mode: str, **kw) -> tuple[list[Datagram], TcpReassembler]:
    """Feed `stream` in `mode`; with "junk", an incomplete message follows it."""
    r = TcpReassembler()
    if mode.startswith("junk"):
        stream += JUNK
    out = feed_all(r, segments(stream, "bytewise" if mode.endswith("bytewise") else "whole", **kw))
    out += r.flush()
    return out, r


def check_junk(r: TcpReassembler, mode: str) -> None:
    """The junk tail is never emitted: it is counted as incomplete at the end."""
    assert r.stats.incomplete_at_end == (1 if mode.startswith("junk") else 0)
    assert not r.malformed


# -- framing --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_several_messages_in_one_stream(mode):
    out, r = run(frame(Q1) + frame(Q2) + frame(Q3), mode)
    assert payloads(out) == [Q1, Q2, Q3]
    assert all(d.transport is Transport.TCP for d in out)
    assert [(d.src, d.sport, d.dst, d.dport) for d in out] == [C] * 3
    assert r.stats.messages == 3
    check_junk(r, mode)


@pytest.mark.parametrize("mode", MODES)
def test_timestamp_is_that_of_the_completing_segment(mode):
    out, _ = run(frame(Q1) + frame(Q2), mode)
    if mode.endswith("bytewise"):  # byte i is in the segment with ts i + 1
        assert [d.ts for d in out] == [len(Q1) + 2.0, len(Q1) + len(Q2) + 4.0]
    else:
        assert [d.ts for d in out] == [1.0, 1.0]


def test_one_message_across_many_segments_and_split_prefix():
    stream = frame(Q1) + frame(Q2)
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    # cut: the first message in 3 pieces; the second's prefix split 1 byte + 1 byte
    cuts = [0, 5, 20, len(Q1) + 2, len(Q1) + 3, len(Q1) + 4, len(stream)]
    out = []
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        out.append(payloads(r.feed(seg(1 + a, stream[a:b], ts=10.0 + i))))
    assert out == [[], [], [Q1], [], [], [Q2]]


@pytest.mark.parametrize("mode", MODES)
def test_sequence_wraps_at_2_32(mode):
    out, r = run(frame(Q1) + frame(Q2), mode, isn=MASK - 10)
    assert payloads(out) == [Q1, Q2]
    check_junk(r, mode)
    assert r.stats.retransmitted_segments == 0
    assert r.stats.out_of_order_segments == 0


def test_out_of_order_across_the_wrap():
    stream = frame(Q1) + frame(Q2)
    r = TcpReassembler()
    r.feed(seg(MASK - 3, flags=SYN))  # data starts at 2**32 - 2
    cut = len(Q1) + 2
    assert r.feed(seg(MASK - 2 + cut, stream[cut:], ts=2.0)) == []
    assert payloads(r.feed(seg(MASK - 2, stream[:cut], ts=3.0))) == [Q1, Q2]
    assert r.stats.out_of_order_segments == 1


def test_directions_are_independent_streams():
    r = TcpReassembler()
    r.feed(seg(100, flags=SYN, ends=C))
    r.feed(seg(500, flags=SYN | ACK, ends=S))
    resp = dns.message.make_response(dns.message.from_wire(Q1)).to_wire()
    a, b = frame(Q1), frame(resp)
    assert r.feed(seg(101, a[:3], ends=C)) == []
    assert r.feed(seg(501, b[:3], ends=S)) == []
    assert [(d.src, d.payload) for d in r.feed(seg(501 + 3, b[3:], ends=S))] == [(S[0], resp)]
    assert [(d.src, d.payload) for d in r.feed(seg(101 + 3, a[3:], ends=C))] == [(C[0], Q1)]
    assert len(r) == 2


# -- retransmission and reordering ----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_every_segment_twice_is_delivered_once(mode):
    stream = frame(Q1) + frame(Q2)
    if mode.startswith("junk"):
        stream += JUNK
    segs = segments(stream, "bytewise" if mode.endswith("bytewise") else "whole")
    r = TcpReassembler()
    out = feed_all(r, [s for s in segs for _ in (0, 1)])
    out += r.flush()
    assert payloads(out) == [Q1, Q2]
    # the doubled SYN is a retransmission too
    assert r.stats.retransmitted_segments == len(segs)
    check_junk(r, mode)


def test_partially_overlapping_retransmission():
    stream = frame(Q1) + frame(Q2)
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    assert r.feed(seg(1, stream[:10])) == []
    # resends bytes 5..30: 5 old, 20 new, completing Q1 (29 bytes framed)
    assert payloads(r.feed(seg(1 + 5, stream[5:30]))) == [Q1]
    # resends 20.. to the end: 10 old bytes, then the rest of Q2
    assert payloads(r.feed(seg(1 + 20, stream[20:]))) == [Q2]
    assert r.stats.retransmitted_segments == 2
    assert r.stats.bytes_skipped == 0


@pytest.mark.parametrize("mode", ["whole", "bytewise"])
def test_reversed_segments_are_held_until_the_gap_fills(mode):
    stream = frame(Q1) + frame(Q2)
    segs = segments(stream, "bytewise" if mode == "bytewise" else "whole")
    syn, data = segs[0], segs[1:]
    if mode == "whole":  # three segments, sent in the order 3, 2, 1
        cut1, cut2 = 7, len(Q1) + 3
        data = [seg(1001, stream[:cut1], ts=1.0), seg(1001 + cut1, stream[cut1:cut2], ts=2.0)]
        data.append(seg(1001 + cut2, stream[cut2:], ts=3.0))
    r = TcpReassembler(max_out_of_order=len(data), max_buffer=1 << 20)
    r.feed(syn)
    out = feed_all(r, reversed(data))
    assert payloads(out) == [Q1, Q2]
    last_ts = data[0].ts
    assert [d.ts for d in out] == [last_ts, last_ts]  # completed when the gap filled
    assert r.stats.out_of_order_segments == len(data) - 1
    assert r.stats.holes == 0


def test_out_of_order_duplicate_and_overlap_while_held():
    stream = frame(Q1) + frame(Q2)
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    assert r.feed(seg(1 + 10, stream[10:20])) == []
    assert r.feed(seg(1 + 10, stream[10:20])) == []  # same held segment again
    assert r.feed(seg(1 + 10, stream[10:40])) == []  # a longer one replaces it
    assert r.feed(seg(1 + 30, stream[30:])) == []  # overlaps the held one
    assert payloads(r.feed(seg(1, stream[:10]))) == [Q1, Q2]
    assert r.stats.retransmitted_segments == 2
    assert r.stats.out_of_order_segments == 2


# -- holes ----------------------------------------------------------------------------------


def test_hole_inside_a_message_keeps_the_framing():
    """A lost piece of Q2: Q2 is skipped exactly, Q3 after it still comes out."""
    stream = frame(Q1) + frame(Q2) + frame(Q3)
    b1, b2 = len(Q1) + 2, len(Q1) + len(Q2) + 4
    r = TcpReassembler(max_out_of_order=1)
    r.feed(seg(0, flags=SYN))
    assert payloads(r.feed(seg(1, stream[: b1 + 5], ts=1.0))) == [Q1]
    # stream[b1+5 : b1+9] never arrives
    assert r.feed(seg(1 + b1 + 9, stream[b1 + 9 : b2 + 3], ts=2.0)) == []
    out = r.feed(seg(1 + b2 + 3, stream[b2 + 3 :], ts=3.0))  # 2 held > max: hole
    assert payloads(out) == [Q3]
    assert out[0].ts == 3.0
    assert r.stats.holes == 1
    assert r.stats.bytes_skipped == len(Q2) + 2  # 5 buffered + 4 missing + the rest of Q2
    assert not r.malformed


def test_hole_at_a_message_boundary_resynchronises_on_a_plausible_segment():
    """Q1 is lost whole; the next segment starts with junk, the one after with Q3."""
    garbage = b"\x00\x05\xff\xff\xff"  # a 5-byte "message" is not DNS
    r = TcpReassembler(max_out_of_order=3)
    r.feed(seg(0, flags=SYN))
    off_g = 1 + len(frame(Q1))
    off_q3 = off_g + len(garbage)
    assert r.feed(seg(off_g, garbage, ts=1.0)) == []
    assert r.feed(seg(off_q3, frame(Q3), ts=2.0)) == []
    assert r.feed(seg(off_q3 + len(frame(Q3)), frame(Q2)[:7], ts=3.0)) == []
    out = r.flush()  # end of capture: the gap will never fill
    assert payloads(out) == [Q3]
    assert out[0].ts == 2.0  # the held segment's own time
    assert r.stats.holes == 1
    assert r.malformed == {"tcp: unsynchronised stream": 1}
    assert r.stats.bytes_skipped == len(frame(Q1)) + len(garbage)
    assert r.stats.incomplete_at_end == 1  # Q2's first 7 bytes


def test_hole_detected_by_buffer_cap():
    big = frame(Q1) * 3
    r = TcpReassembler(max_buffer=2 * len(big))
    r.feed(seg(0, flags=SYN))
    gap = 1 + len(frame(Q1))  # the first copy of Q1 is lost
    assert r.feed(seg(gap, big, ts=1.0)) == []
    assert r.feed(seg(gap + len(big), big, ts=2.0)) == []
    out = r.feed(seg(gap + 2 * len(big), big, ts=3.0))  # 3 * len(big) > cap
    assert payloads(out) == [Q1] * 9
    assert [d.ts for d in out] == [1.0] * 3 + [2.0] * 3 + [3.0] * 3
    assert r.stats.holes == 1
    assert r.stats.bytes_skipped == len(frame(Q1))


def test_fin_skips_a_hole_and_delivers_held_messages():
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    off = 1 + len(frame(Q1))
    assert r.feed(seg(off, frame(Q2), ts=1.0)) == []
    out = r.feed(seg(off + len(frame(Q2)), frame(Q3), flags=FIN | ACK, ts=2.0))
    assert payloads(out) == [Q2, Q3]
    assert [d.ts for d in out] == [1.0, 2.0]
    assert r.stats.holes == 1
    assert len(r) == 0


# -- capture starting mid-stream ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_midstream_start_on_a_message_boundary(mode):
    out, r = run(frame(Q1) + frame(Q2), mode, syn=False, isn=77)
    assert payloads(out) == [Q1, Q2]
    assert r.stats.midstream_starts == 1
    check_junk(r, mode)


def test_midstream_start_inside_a_message_waits_for_a_boundary():
    r = TcpReassembler()
    tail = frame(Q1)[9:]  # the end of a message whose start was not captured
    assert r.feed(seg(5000, tail, ts=1.0)) == []
    assert r.malformed == {"tcp: unsynchronised stream": 1}
    assert payloads(r.feed(seg(5000 + len(tail), frame(Q2), ts=2.0))) == [Q2]
    assert r.stats.bytes_skipped == len(tail)
    assert r.stats.midstream_starts == 1


def test_midstream_candidate_shorter_than_a_header_waits_for_more_bytes():
    r = TcpReassembler()
    f = frame(Q1)
    assert r.feed(seg(10, f[:1])) == []
    assert r.feed(seg(11, f[1:13])) == []
    assert payloads(r.feed(seg(23, f[13:] + frame(Q2)))) == [Q1, Q2]
    assert not r.malformed


def test_pure_ack_of_unknown_flow_takes_no_slot():
    r = TcpReassembler()
    assert r.feed(seg(1)) == []
    assert r.feed(seg(1, flags=FIN | ACK)) == []
    assert len(r) == 0
    assert r.stats.midstream_starts == 0
    assert r.stats.segments == 2


# -- connection control ---------------------------------------------------------------------


def test_fin_delivers_and_drops_state():
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    assert payloads(r.feed(seg(1, frame(Q1), flags=FIN | ACK))) == [Q1]
    assert len(r) == 0
    assert not r.malformed


def test_fin_with_a_partial_message_counts_it():
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    assert r.feed(seg(1, frame(Q1)[:-1], flags=FIN | ACK)) == []
    assert r.malformed == {"tcp: incomplete message at FIN": 1}
    assert len(r) == 0


def test_rst_drops_state_and_ignores_its_payload():
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    r.feed(seg(1, frame(Q1)[:5]))
    assert r.feed(seg(6, frame(Q1)[5:], flags=RST)) == []
    assert r.malformed == {"tcp: incomplete message at RST": 1}
    assert len(r) == 0


def test_syn_resets_an_existing_flow_and_a_retransmitted_syn_does_not():
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    r.feed(seg(1, frame(Q1)[:5]))
    assert r.feed(seg(0, flags=SYN)) == []  # same ISN: retransmitted SYN
    assert payloads(r.feed(seg(6, frame(Q1)[5:]))) == [Q1]
    r.feed(seg(1 + len(frame(Q1)), frame(Q2)[:5]))
    assert r.feed(seg(9000, flags=SYN)) == []  # new connection on the same 4-tuple
    assert r.malformed == {"tcp: incomplete message at SYN": 1}
    assert payloads(r.feed(seg(9001, frame(Q3)))) == [Q3]
    assert r.stats.retransmitted_segments == 1


def test_syn_with_data():
    r = TcpReassembler()
    assert payloads(r.feed(seg(41, frame(Q1), flags=SYN))) == [Q1]  # TCP Fast Open


# -- bad framing and caps -------------------------------------------------------------------


def test_length_prefix_larger_than_max_buffer_is_skipped_exactly():
    r = TcpReassembler(max_buffer=100)
    big = b"\x00\x01" + bytes(298)  # a 300-byte message
    stream = frame(big) + frame(Q1)
    r.feed(seg(0, flags=SYN))
    out = []
    for off in range(0, len(stream), 64):
        out += r.feed(seg(1 + off, stream[off : off + 64]))
    assert payloads(out) == [Q1]
    assert r.malformed == {"tcp: message longer than max_buffer": 1}
    assert r.stats.bytes_skipped == 302


def test_hole_inside_an_oversized_message_keeps_the_framing():
    r = TcpReassembler(max_buffer=100)
    stream = frame(b"\x00\x01" + bytes(298)) + frame(Q1)
    r.feed(seg(0, flags=SYN))
    assert r.feed(seg(1, stream[:50])) == []
    # stream[50:100] is lost; the next held segment is too much for the cap of 100 bytes
    assert r.feed(seg(101, stream[100:160])) == []
    assert payloads(r.feed(seg(161, stream[160:]))) == [Q1]
    assert r.stats.holes == 1
    assert r.stats.bytes_skipped == 302
    assert r.malformed == {"tcp: message longer than max_buffer": 1}


def test_payloads_are_bytes():
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    out = r.feed(seg(1, frame(Q1) + frame(Q2)[:3])) + r.feed(seg(6 + len(Q1), frame(Q2)[3:]))
    assert [type(d.payload) for d in out] == [bytes, bytes]


def test_oversized_message_inside_one_segment():
    r = TcpReassembler(max_buffer=100)
    r.feed(seg(0, flags=SYN))
    out = r.feed(seg(1, frame(bytes(200)) + frame(Q1)))
    assert payloads(out) == [Q1]
    assert r.stats.bytes_skipped == 202


@pytest.mark.parametrize("prefix", [b"\x00\x00", b"\x00\x0b"])
def test_length_prefix_below_header_size_resyncs(prefix):
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    assert r.feed(seg(1, prefix + b"x" * 11)) == []
    assert r.malformed == {"tcp: length prefix shorter than a DNS header": 1}
    assert payloads(r.feed(seg(14, frame(Q1)))) == [Q1]
    assert r.stats.bytes_skipped == 13


def test_lru_eviction_at_max_flows():
    r = TcpReassembler(max_flows=2)
    ends = [("10.0.0.1", p, "10.0.0.53", 53) for p in (1, 2, 3)]
    r.feed(seg(0, flags=SYN, ends=ends[0]))
    r.feed(seg(0, flags=SYN, ends=ends[1]))
    r.feed(seg(1, frame(Q1)[:3], ends=ends[0]))  # flow 1 is now the most recent
    r.feed(seg(0, flags=SYN, ends=ends[2]))  # evicts flow 2
    assert r.stats.flows_evicted == 1
    assert len(r) == 2
    assert payloads(r.feed(seg(4, frame(Q1)[3:], ends=ends[0]))) == [Q1]
    # flow 2 is unknown now: its next segment is a mid-stream start
    assert payloads(r.feed(seg(1, frame(Q2), ends=ends[1]))) == [Q2]
    assert r.stats.midstream_starts == 1
    assert r.stats.flows_evicted == 2


def test_expire_drops_idle_flows():
    r = TcpReassembler(flow_timeout=10.0)
    r.feed(seg(0, flags=SYN, ts=0.0))
    r.feed(seg(1, frame(Q1)[:4], ts=1.0))
    r.feed(seg(0, flags=SYN, ts=5.0, ends=S))
    assert r.expire(11.0) == []  # C idle 10 s: not more than the timeout
    assert len(r) == 2
    assert r.expire(11.5) == []
    assert len(r) == 1
    assert r.stats.flows_expired == 1
    assert r.malformed == {"tcp: incomplete message at timeout": 1}


def test_idle_flow_found_expired_by_its_next_segment():
    r = TcpReassembler(flow_timeout=10.0)
    r.feed(seg(0, flags=SYN, ts=0.0))
    r.feed(seg(1, frame(Q1)[:4], ts=1.0))
    # 20 s later: the old state is dropped; this segment starts a new (mid-stream) one
    assert payloads(r.feed(seg(5, frame(Q2), ts=21.0))) == [Q2]
    assert r.stats.flows_expired == 1
    assert r.stats.midstream_starts == 1


def test_expire_recovers_messages_held_behind_a_hole():
    r = TcpReassembler(flow_timeout=10.0)
    r.feed(seg(0, flags=SYN, ts=0.0))
    r.feed(seg(1 + len(frame(Q1)), frame(Q2), ts=1.0))
    assert payloads(r.expire(100.0)) == [Q2]
    assert r.stats.holes == 1


def test_flush_counts_incomplete_and_returns_nothing_else():
    r = TcpReassembler()
    r.feed(seg(0, flags=SYN))
    r.feed(seg(1, frame(Q1) + frame(Q2)[:3]))
    r.feed(seg(0, flags=SYN, ends=S))
    assert r.flush() == []
    assert r.stats.incomplete_at_end == 1
    assert len(r) == 0


# -- realistic payloads ---------------------------------------------------------------------


def test_real_query_and_response_round_trip_through_dnspython():
    q = dns.message.make_query("kubernetes.default.svc.cluster.local.", "AAAA", use_edns=0)
    resp = dns.message.make_response(q)
    resp.set_rcode(dns.rcode.NXDOMAIN)
    big = dns.message.make_response(dns.message.make_query("big.example.", "TXT"))
    big.answer.append(
        dns.rrset.from_text(
            "big.example.", 60, "IN", "TXT", *[f'"{i:03d}{"x" * 200}"' for i in range(40)]
        )
    )
    wires = [q.to_wire(), resp.to_wire(), big.to_wire()]
    assert len(wires[2]) > 8000  # spans many segments
    stream = b"".join(struct.pack("!H", len(w)) + w for w in wires)
    r = TcpReassembler()
    r.feed(seg(7, flags=SYN))
    out = []
    for off in range(0, len(stream), 1460):  # MSS-sized segments
        out += r.feed(seg(8 + off, stream[off : off + 1460]))
    assert [dns.message.from_wire(d.payload) for d in out] == [q, resp, big]
    assert r.stats.messages == 3


def test_real_messages_are_plausible_starts():
    q = frame(query("example.com.", 0xBEEF))
    resp = dns.message.make_response(dns.message.from_wire(q[2:]))
    resp.answer.append(dns.rrset.from_text("example.com.", 60, "IN", "A", "192.0.2.1"))
    assert plausible_start(q, 0, 65537) is True
    assert plausible_start(b"\x00\x0c" + bytes(12), 0, 100) is True  # a bare header
    assert plausible_start(b"junk" + q, 4, 65537) is True
    assert plausible_start(frame(resp.to_wire()), 0, 65537) is True
    assert plausible_start(q[:13], 0, 65537) is None
    assert plausible_start(q[:20], 0, 65537) is None  # inside the name
    assert plausible_start(q[:-1], 0, 65537) is None  # QCLASS cut
    assert plausible_start(q, 0, len(q) - 1) is False  # over the cap
    assert plausible_start(q[:1], 0, 65537) is None


@pytest.mark.parametrize(
    "header",
    [
        b"\x00\x0b" + bytes(12),  # length below a header
        b"\x40\x00" + bytes(12),  # longer than the cap
        b"\x00\x20" + b"\x00\x00\x18\x00" + b"\x00\x01" + bytes(6),  # opcode 3 is unassigned
        b"\x00\x20" + b"\x00\x00\x00\x00" + b"\x00\x05" + bytes(6),  # QDCOUNT 5
        b"\x00\x20" + b"\x00\x00\x80\x00" + b"\x00\x01\x00\x02" + bytes(4),  # 2 RRs in 20 B
        b"\x00\x20" + bytes(2) + b"\x00\x00\x00\x00" + bytes(6),  # no question, 32 bytes
        b"\x00\x20" + bytes(4) + b"\x00\x01" + bytes(6) + b"\x40" + bytes(17),  # label > 63
        b"\x00\x11" + bytes(4) + b"\x00\x01" + bytes(6) + b"\x03abc\x00",  # name past the end
        b"\x00\x11" + bytes(4) + b"\x00\x01" + bytes(6) + b"\x00\x00\x01\x00\x02",  # QCLASS 2
    ],
)
def test_implausible_starts(header):
    assert plausible_start(header, 0, 1000) is False


# -- randomised ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_random_cuts_duplicates_and_reordering_deliver_every_message_once(seed):
    rng = random.Random(seed)
    msgs = [query(f"n{i}.{'x' * rng.randrange(1, 60)}.example.", i) for i in range(30)]
    stream = b"".join(frame(m) for m in msgs)
    isn = rng.choice([0, MASK - 300, rng.randrange(1 << 32)])
    cuts = sorted({0, len(stream), *rng.sample(range(1, len(stream)), 120)})
    segs = [seg(isn + 1 + a, stream[a:b]) for a, b in itertools.pairwise(cuts)]
    segs += rng.sample(segs, 30)  # retransmissions
    # reorder only locally, as a network does: shuffle within windows of 8
    for i in range(0, len(segs), 8):
        window = segs[i : i + 8]
        rng.shuffle(window)
        segs[i : i + 8] = window
    r = TcpReassembler()
    out = r.feed(seg(isn, flags=SYN)) + feed_all(r, segs) + r.flush()
    assert payloads(out) == msgs
    assert r.stats.holes == 0
    assert r.stats.bytes_skipped == 0
    assert r.stats.incomplete_at_end == 0


@pytest.mark.parametrize("seed", range(10))
def test_random_garbage_never_crashes_and_is_never_emitted(seed):
    rng = random.Random(seed)
    r = TcpReassembler(max_flows=4, max_buffer=4096, max_out_of_order=4)
    out = []
    for i in range(2000):
        ends = ("10.0.0.1", rng.randrange(6), "10.0.0.53", 53)
        flags = rng.choice([ACK, ACK, ACK, SYN, FIN | ACK, RST])
        # after a SYN the framing is trusted, so a SYN carries no garbage here
        payload = b"" if flags == SYN else rng.randbytes(rng.randrange(0, 300))
        out += r.feed(seg(rng.randrange(1 << 32), payload, flags=flags, ts=i * 0.01, ends=ends))
    out += r.flush()
    assert out == []
    assert len(r) == 0


def is_subsequence(part: list[bytes], whole: list[bytes]) -> bool:
    it = iter(whole)
    return all(any(p == w for w in it) for p in part)


@pytest.mark.parametrize("seed", range(20))
def test_lost_segments_lose_messages_but_never_invent_any(seed):
    rng = random.Random(seed)
    msgs = [query(f"n{i}.{'x' * rng.randrange(1, 60)}.example.", i) for i in range(60)]
    stream = b"".join(frame(m) for m in msgs)
    # clients write one message at a time, so most segments start on a boundary; some of
    # the messages are split further
    bounds = list(itertools.accumulate(len(frame(m)) for m in msgs))
    cuts = sorted({0, *bounds, *rng.sample(range(1, len(stream)), 40)})
    segs = [seg(1 + a, stream[a:b], ts=a / 1000) for a, b in itertools.pairwise(cuts)]
    lost = set(rng.sample(range(len(segs)), 5))
    r = TcpReassembler(max_out_of_order=rng.choice([0, 3, 64]))
    out = r.feed(seg(0, flags=SYN)) + feed_all(r, [s for i, s in enumerate(segs) if i not in lost])
    out += r.flush()
    got = payloads(out)
    assert is_subsequence(got, msgs)
    assert 0 < r.stats.holes <= 5
    assert len(got) >= len(msgs) - 5 * 4  # a hole costs a few messages, not the stream
    assert r.stats.messages == len(got)


@pytest.mark.parametrize("seed", range(5))
def test_contiguous_garbage_without_syn_is_never_emitted(seed):
    rng = random.Random(seed)
    r = TcpReassembler()
    seq, out = 12345, []
    for _ in range(500):
        data = rng.randbytes(rng.randrange(1, 200))
        out += r.feed(seg(seq, data))
        seq += len(data)
    assert out + r.flush() == []
    assert r.malformed["tcp: unsynchronised stream"] > 400
