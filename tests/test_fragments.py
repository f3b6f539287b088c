"""IP fragment reassembly: the bounded table on its own, then IPv4 and IPv6 through the decoder."""

from __future__ import annotations

import functools
from collections import Counter

from scapy.all import (
    DNS,
    DNSQR,
    DNSRR,
    IP,
    UDP,
    VXLAN,
    CookedLinuxV2,
    Ether,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    Raw,
    fragment,
    fragment6,
    raw,
)

from dnssniff.decoder import Decoder
from dnssniff.fragments import FragmentTable
from dnssniff.model import Datagram, Frame, Transport

# Explicit MACs: without them scapy looks up a route and neighbour for every packet.
ETHER = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
# A DNS answer too large for one 1500-byte packet.
BIG = raw(
    DNS(
        id=7,
        qr=1,
        qd=DNSQR(qname="big.example", qtype="TXT"),
        an=[DNSRR(rrname="big.example", type="TXT", rdata=[b"x" * 250]) for _ in range(12)],
    )
)
SERVER4, CLIENT4 = "10.96.0.10", "10.0.0.1"
SERVER6, CLIENT6 = "fd00:10:96::a", "fd00::1"
RESPONSE4 = IP(src=SERVER4, dst=CLIENT4, id=4242) / UDP(sport=53, dport=40000) / Raw(BIG)
RESPONSE6 = (
    IPv6(src=SERVER6, dst=CLIENT6)
    / IPv6ExtHdrFragment(id=0xABCDEF)
    / UDP(sport=53, dport=40000)
    / Raw(BIG)
)


def frames(packets, *, ts: float = 1.0, step: float = 0.001) -> list[Frame]:
    out = []
    for i, pkt in enumerate(packets):
        data = raw(ETHER / pkt)
        out.append(Frame(ts + i * step, 1, data, len(data)))
    return out


def feed_all(decoder: Decoder, items: list[Frame]) -> list:
    out = []
    for item in items:
        out.extend(decoder.feed(item))
    return out


@functools.cache
def _fragment_bytes() -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    # scapy's fragment6 takes seconds; build once, hand out fresh packets.
    v4 = tuple(raw(p) for p in fragment(RESPONSE4, fragsize=1000))
    v6 = tuple(raw(p) for p in fragment6(RESPONSE6, 1280))
    assert (len(v4), len(v6)) == (4, 3)
    return v4, v6


def fragments4() -> list:
    return [IP(b) for b in _fragment_bytes()[0]]


def fragments6() -> list:
    return [IPv6(b) for b in _fragment_bytes()[1]]


# -- the table on its own --------------------------------------------------------------------


def table(**kw) -> FragmentTable:
    return FragmentTable(Counter(), **kw)


def test_table_in_order_reversed_and_duplicates() -> None:
    parts = [(0, b"a" * 8, True), (8, b"b" * 8, True), (16, b"c" * 3, False)]
    for order in (parts, parts[::-1], [parts[1], parts[1], parts[0], parts[0], parts[2]]):
        t = table()
        results = [t.add("k", 1.0, off, data, more, meta=off) for off, data, more in order]
        assert results[:-1] == [None] * (len(order) - 1)
        assert results[-1] == (b"a" * 8 + b"b" * 8 + b"ccc", 0)
        assert len(t) == 0
        assert not t.malformed


def test_table_overlap_drops_the_datagram() -> None:
    t = table()
    assert t.add("k", 1.0, 0, b"a" * 16, True) is None
    assert t.add("k", 1.0, 8, b"b" * 16, True) is None
    assert t.malformed == {"fragment: overlap": 1}
    assert len(t) == 0
    # The pieces that follow open a new group that cannot complete without offset 0.
    assert t.add("k", 1.0, 24, b"c", False) is None
    assert len(t) == 1


def test_table_same_offset_other_length_is_overlap() -> None:
    t = table()
    t.add("k", 1.0, 0, b"a" * 16, True)
    t.add("k", 1.0, 0, b"a" * 8, True)
    assert t.malformed == {"fragment: overlap": 1}


def test_table_conflicting_last_fragments() -> None:
    t = table()
    t.add("k", 1.0, 16, b"z", False)
    t.add("k", 1.0, 24, b"z", False)
    assert t.malformed == {"fragment: overlap": 1}


def test_table_piece_beyond_end() -> None:
    t = table()
    t.add("k", 1.0, 8, b"z", False)
    t.add("k", 1.0, 16, b"y" * 8, True)
    assert t.malformed == {"fragment: beyond end": 1}
    assert len(t) == 0


def test_table_limits() -> None:
    t = table(max_pieces=2)
    t.add("big", 1.0, 65528, b"x" * 16, False)
    t.add("odd", 1.0, 0, b"x" * 7, True)
    for i in range(3):
        t.add("many", 1.0, i * 8, b"x" * 8, True)
    assert t.malformed == {
        "fragment: too large": 1,
        "fragment: bad length": 1,
        "fragment: too many pieces": 1,
    }
    assert len(t) == 0


def test_table_evicts_oldest_group() -> None:
    t = table(max_groups=2)
    for key in ("a", "b", "c"):
        t.add(key, 1.0, 8, b"tail", False)
    assert t.evicted == 1
    assert t.add("a", 1.0, 0, b"x" * 8, True) is None  # "a" was evicted: a new group...
    assert t.evicted == 2  # ...which evicted "b"
    assert t.add("c", 1.0, 0, b"x" * 8, True) == (b"x" * 8 + b"tail", None)


def test_table_expiry_by_packet_time() -> None:
    t = table(timeout=30.0)
    t.add("old", 100.0, 8, b"tail", False)
    t.add("new", 120.0, 8, b"tail", False)
    assert t.expire(130.0) == 0  # exactly at the timeout: kept
    assert t.expire(130.5) == 1
    assert t.expired == 1
    assert len(t) == 1
    # A late piece of an expired group starts afresh instead of completing stale data.
    t.add("late", 200.0, 8, b"tail", False)
    assert t.add("late", 231.0, 0, b"x" * 8, True) is None
    assert t.expired == 2
    assert t.flush() == 2
    assert t.expired == 4
    assert len(t) == 0


# -- IPv4 through the decoder ----------------------------------------------------------------

EXPECTED4 = Datagram(1.003, Transport.UDP, SERVER4, 53, CLIENT4, 40000, BIG)


def test_ipv4_fragments_in_order() -> None:
    decoder = Decoder()
    out = feed_all(decoder, frames(fragments4()))
    assert out == [EXPECTED4]
    stats = decoder.stats
    assert (stats.fragments, stats.reassembled, stats.udp_dns, stats.frames) == (4, 1, 1, 4)
    assert not decoder.malformed


def test_ipv4_fragments_reversed() -> None:
    decoder = Decoder()
    out = feed_all(decoder, frames(fragments4()[::-1]))
    assert [d.payload for d in out] == [BIG]
    assert not decoder.malformed


def test_ipv4_fragments_duplicated() -> None:
    pieces = fragments4()
    decoder = Decoder()
    out = feed_all(decoder, frames([p for p in pieces[:3] for _ in range(2)] + pieces[3:]))
    assert [d.payload for d in out] == [BIG]
    assert decoder.stats.fragments == 7
    assert decoder.stats.reassembled == 1
    assert not decoder.malformed


def test_ipv4_fragments_overlap() -> None:
    udp = raw(UDP(sport=53, dport=40000) / Raw(b"q" * 40))
    head = IP(src=SERVER4, dst=CLIENT4, id=9, proto=17, flags="MF", frag=0) / Raw(udp[:24])
    overlapping = IP(src=SERVER4, dst=CLIENT4, id=9, proto=17, flags="MF", frag=2) / Raw(udp[16:40])
    tail = IP(src=SERVER4, dst=CLIENT4, id=9, proto=17, frag=5) / Raw(udp[40:])
    decoder = Decoder()
    assert feed_all(decoder, frames([head, overlapping, tail])) == []
    assert decoder.malformed == {"fragment: overlap": 1}
    decoder.flush()
    assert decoder.stats.fragment_groups_expired == 1  # the tail's orphan group


def test_ipv4_missing_piece_expires() -> None:
    pieces = fragments4()
    decoder = Decoder(fragment_timeout=30.0)
    assert feed_all(decoder, frames(pieces[:2] + pieces[3:], ts=10.0)) == []
    decoder.expire(39.0)
    assert decoder.stats.fragment_groups_expired == 0
    decoder.expire(41.0)
    assert decoder.stats.fragment_groups_expired == 1
    # The missing piece arrives too late: alone, it completes nothing.
    assert feed_all(decoder, frames(pieces[2:3], ts=42.0)) == []
    decoder.flush()
    assert decoder.stats.fragment_groups_expired == 2
    assert decoder.stats.reassembled == 0
    assert not decoder.malformed


def test_ipv4_group_cap_evicts_oldest() -> None:
    decoder = Decoder(max_fragment_groups=2)
    sets = []
    for ident in (1, 2, 3):
        pkt = IP(src=SERVER4, dst=CLIENT4, id=ident) / UDP(sport=53, dport=40000) / Raw(BIG)
        sets.append(fragment(pkt, fragsize=1000))
    first = [pieces[0] for pieces in sets]
    assert feed_all(decoder, frames(first)) == []
    assert decoder.stats.fragment_groups_evicted == 1  # id 1 made room for id 3
    out = feed_all(decoder, frames(sets[2][1:]))
    assert [d.payload for d in out] == [BIG]
    assert feed_all(decoder, frames(sets[0][1:])) == []  # id 1's head was evicted
    assert decoder.stats.reassembled == 1
    decoder.flush()
    assert decoder.stats.fragment_groups_evicted == 1
    assert decoder.stats.fragment_groups_expired == 2  # id 2's head, id 1's tail


def test_ipv4_fragment_cut_by_snaplen() -> None:
    data = raw(ETHER / fragments4()[0])
    decoder = Decoder()
    assert decoder.feed(Frame(1.0, 1, data[:200], len(data))) == []
    assert decoder.malformed == {"fragment: cut by snaplen": 1}
    assert decoder.stats.fragments == 0


def test_reassembled_non_dns_is_other() -> None:
    pkt = IP(src=SERVER4, dst=CLIENT4, id=5) / UDP(sport=123, dport=123) / Raw(BIG)
    decoder = Decoder()
    assert feed_all(decoder, frames(fragment(pkt, fragsize=1000))) == []
    assert decoder.stats.reassembled == 1
    assert decoder.stats.other == 1


def test_fragmented_vxlan_carries_dns() -> None:
    """The reassembled packet goes through the overlay path like any other."""
    inner = IP(src=CLIENT4, dst=SERVER4) / UDP(sport=40000, dport=53) / Raw(BIG)
    outer = (
        IP(src="192.168.0.1", dst="192.168.0.2", id=77)
        / UDP(sport=50000, dport=4789)
        / VXLAN(vni=1)
        / ETHER
        / inner
    )
    decoder = Decoder()
    out = feed_all(decoder, frames(fragment(outer, fragsize=1400)))
    assert [(d.src, d.dst, d.payload) for d in out] == [(CLIENT4, SERVER4, BIG)]
    assert decoder.stats.tunnels == 1


def test_copies_on_several_interfaces_reassemble_separately() -> None:
    """`tcpdump -i any` sees each fragment on the veth and on the bridge (SLL2 ifindex)."""
    decoder = Decoder()
    out = []
    for i, pkt in enumerate(fragments4()):
        for ifindex in (7, 3):
            data = raw(CookedLinuxV2(proto=0x0800, ifindex=ifindex) / pkt)
            out.extend(decoder.feed(Frame(1.0 + i / 1000, 276, data, len(data))))
    assert [d.payload for d in out] == [BIG, BIG]
    decoder.flush()
    assert decoder.stats.fragment_groups_expired == 0


# -- IPv6 through the decoder ----------------------------------------------------------------


def test_ipv6_fragments_in_order_and_reversed() -> None:
    for pieces in (fragments6(), fragments6()[::-1]):
        decoder = Decoder()
        out = feed_all(decoder, frames(pieces))
        assert [(d.src, d.sport, d.dst, d.dport, d.payload) for d in out] == [
            (SERVER6, 53, CLIENT6, 40000, BIG)
        ]
        assert (decoder.stats.fragments, decoder.stats.reassembled) == (3, 1)
        assert not decoder.malformed


def test_ipv6_fragments_duplicate_and_overlap() -> None:
    pieces = fragments6()
    decoder = Decoder()
    out = feed_all(decoder, frames([pieces[0], pieces[0], pieces[1], pieces[2], pieces[2]]))
    assert [d.payload for d in out] == [BIG]
    # Overlap: a second "first" fragment shifted by 8 bytes.
    frag = pieces[1].copy()
    frag[IPv6ExtHdrFragment].offset -= 1
    decoder = Decoder()
    assert feed_all(decoder, frames([pieces[0], frag, pieces[2]])) == []
    assert decoder.malformed == {"fragment: overlap": 1}


def test_ipv6_extension_header_after_fragment_header() -> None:
    pkt = (
        IPv6(src=SERVER6, dst=CLIENT6)
        / IPv6ExtHdrFragment(id=5)
        / IPv6ExtHdrDestOpt()
        / UDP(sport=53, dport=40000)
        / Raw(BIG)
    )
    decoder = Decoder()
    out = feed_all(decoder, frames(fragment6(pkt, 1280)))
    assert [d.payload for d in out] == [BIG]


def test_ipv6_missing_piece_and_flush() -> None:
    pieces = fragments6()
    decoder = Decoder()
    assert feed_all(decoder, frames(pieces[:2])) == []
    assert decoder.flush() == []
    assert decoder.stats.fragment_groups_expired == 1


def test_ipv4_and_ipv6_ids_do_not_collide() -> None:
    """Keys include the IP version, so the same numbers in both families stay apart."""
    decoder = Decoder()
    out = feed_all(decoder, frames([fragments4()[0], *fragments6(), *fragments4()[1:]]))
    assert sorted(d.dst for d in out) == [CLIENT4, CLIENT6]
