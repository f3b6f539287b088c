"""`tcpdump -i any` copies of one packet count once; retransmissions do not vanish."""

from __future__ import annotations

from dnssniff.dedupe import Deduplicator
from dnssniff.model import Datagram, TcpSegment, Transport


def dg(ts, payload=b"\x12\x34query", sport=40000):
    return Datagram(ts, Transport.UDP, "10.244.1.10", sport, "10.96.0.10", 53, payload)


def test_copies_within_the_window_are_dropped():
    d = Deduplicator(window=0.010)
    verdicts = [d.is_duplicate(dg(t)) for t in (1.0, 1.000005, 1.000120)]
    assert verdicts == [False, True, True]
    assert d.stats.duplicates == 2


def test_retransmission_seconds_later_is_kept():
    d = Deduplicator(window=0.010)
    assert [d.is_duplicate(dg(t)) for t in (1.0, 6.0)] == [False, False]


def test_different_payload_or_port_is_not_a_copy():
    d = Deduplicator()
    assert not d.is_duplicate(dg(1.0))
    assert not d.is_duplicate(dg(1.0, payload=b"\x12\x35query"))
    assert not d.is_duplicate(dg(1.0, sport=40001))


def test_tcp_segments_compare_seq_and_flags():
    d = Deduplicator()
    seg = TcpSegment(1.0, "10.0.0.1", 5000, "10.0.0.2", 53, 100, 0x18, b"\x00\x0cabc")
    assert not d.is_duplicate(seg)
    assert d.is_duplicate(
        TcpSegment(1.00001, "10.0.0.1", 5000, "10.0.0.2", 53, 100, 0x18, b"\x00\x0cabc")
    )
    assert not d.is_duplicate(
        TcpSegment(1.00002, "10.0.0.1", 5000, "10.0.0.2", 53, 112, 0x18, b"\x00\x0cabc")
    )


def test_window_zero_disables():
    d = Deduplicator(window=0)
    assert [d.is_duplicate(dg(1.0)), d.is_duplicate(dg(1.0))] == [False, False]


def test_table_is_bounded():
    d = Deduplicator(window=10.0, max_entries=100)
    for i in range(1000):
        d.is_duplicate(dg(1.0 + i * 1e-6, payload=i.to_bytes(4, "big")))
    assert len(d._current) + len(d._previous) <= 200
    assert d.stats.evicted == 800


def test_copies_out_of_order_and_across_a_generation_boundary():
    d = Deduplicator(window=0.010)
    assert not d.is_duplicate(dg(1.009))
    assert d.is_duplicate(dg(1.008))  # written a microsecond-scale step out of order
    assert not d.is_duplicate(dg(1.5, payload=b"other"))  # rotates the generations
    assert not d.is_duplicate(dg(1.5095))  # the first copy is long gone: a new packet
    assert d.is_duplicate(dg(1.5185))  # still within the window, in the previous generation


def test_same_bytes_on_the_same_interface_are_a_resend():
    """glibc resends the pair 0.3-0.8 ms after a SERVFAIL: on -i any, copies come from other
    interfaces, the resend from the same one."""
    d = Deduplicator(window=0.010)
    verdicts = [
        d.is_duplicate(dg(1.0), interface=3),  # the query on the pod's veth
        d.is_duplicate(dg(1.000025), interface=5),  # its copy on the server's veth
        d.is_duplicate(dg(1.0008), interface=3),  # glibc's resend: a new packet
        d.is_duplicate(dg(1.000825), interface=5),  # the resend's copy
    ]
    assert verdicts == [False, True, False, True]
    assert d.stats.duplicates == 2


def test_copies_written_out_of_order_across_interfaces():
    d = Deduplicator(window=0.010)
    assert [
        d.is_duplicate(dg(t), interface=i)
        for t, i in ((1.000020, 5), (1.0, 3), (1.0008, 5), (1.00081, 3))
    ] == [False, True, False, True]


def test_without_interface_information_the_window_decides():
    d = Deduplicator(window=0.010)
    assert [d.is_duplicate(dg(t)) for t in (1.0, 1.0008)] == [False, True]


def test_copies_on_another_interface_can_be_far_apart():
    """A loaded node stamps a forwarded copy when the softirq runs: 10.3 ms after the first
    copy in one CI run. With interfaces known, a copy is recognised for up to 100 ms."""
    d = Deduplicator()
    verdicts = [
        d.is_duplicate(dg(1.0), interface=3),
        d.is_duplicate(dg(1.0103), interface=5),  # the late copy
        d.is_duplicate(dg(1.6), interface=3),  # a resend on the same interface
        d.is_duplicate(dg(1.66), interface=5),  # ...and its copy, 60 ms late
        d.is_duplicate(dg(1.8), interface=5),  # 200 ms after the resend: a new packet
    ]
    assert verdicts == [False, True, False, True, False]
    assert d.stats.duplicates == 2


def test_without_interface_information_the_window_stays_10_ms():
    d = Deduplicator()
    assert [d.is_duplicate(dg(t)) for t in (1.0, 1.0099, 1.0301)] == [False, True, False]
