"""Pairing rules of the correlator, on hand-built messages with exact expectations."""

from __future__ import annotations

import pytest

from dnssniff.correlate import Correlator
from dnssniff.model import DnsMessage, Flow, Status, Transport

FLOW = Flow(Transport.UDP, "10.244.1.10", 40000, "10.96.0.10", 53)


def msg(ts, *, qr=False, id=1, qname="google.com.", qtype=1, rcode=0, flow=FLOW, qdcount=1):
    return DnsMessage(
        ts=ts,
        flow=flow,
        id=id,
        qr=qr,
        opcode=0,
        rcode=rcode,
        flags=0x8180 if qr else 0x0100,
        qname=qname,
        qname_key=qname.lower(),
        qtype=qtype,
        qclass=1,
        qdcount=qdcount,
        ancount=0,
        nscount=0,
        arcount=0,
        size=40,
        payload=b"",
    )


def run(messages, **kw):
    c = Correlator(**kw)
    out = []
    for m in messages:
        out.extend(c.expire(m.ts))
        out.extend(c.feed(m))
    out.extend(c.flush())
    return c, out


def test_query_and_response_pair_with_rtt():
    c, out = run([msg(10.0), msg(10.0021, qr=True, rcode=3)])
    assert len(out) == 1
    t = out[0]
    assert t.status is Status.ANSWERED
    assert t.rtt == pytest.approx(0.0021)
    assert t.rcode == 3
    assert t.retransmits == 0
    assert (c.stats.queries, c.stats.responses) == (1, 1)


def test_retransmission_counted_and_rtt_from_first_send():
    c, out = run([msg(0.0), msg(5.0), msg(5.002, qr=True)])
    assert len(out) == 1
    assert out[0].retransmits == 1
    assert out[0].rtt == pytest.approx(5.002)
    assert list(out[0].query_times) == [0.0, 5.0]
    assert c.stats.retransmits == 1


def test_a_and_aaaa_on_one_socket_pair_separately():
    _, out = run(
        [
            msg(0.0, id=7, qtype=1),
            msg(0.000006, id=8, qtype=28),
            msg(0.001, qr=True, id=8, qtype=28),
            msg(0.002, qr=True, id=7, qtype=1),
        ]
    )
    assert [(t.id, t.qtype, t.status) for t in out] == [
        (8, 28, Status.ANSWERED),
        (7, 1, Status.ANSWERED),
    ]


def test_id_reuse_after_answer_is_a_new_transaction():
    _, out = run([msg(0.0), msg(0.01, qr=True), msg(1.0), msg(1.02, qr=True, rcode=2)])
    assert [(t.status, t.rcode, t.retransmits) for t in out] == [
        (Status.ANSWERED, 0, 0),
        (Status.ANSWERED, 2, 0),
    ]


def test_same_id_different_question_is_fifo_by_question():
    _, out = run(
        [
            msg(0.0, qname="a.example."),
            msg(0.001, qname="b.example."),
            msg(0.002, qr=True, qname="B.EXAMPLE."),
            msg(0.003, qr=True, qname="a.example."),
        ]
    )
    assert [(t.qname, round(t.rtt, 6)) for t in out] == [
        ("b.example.", 0.001),
        ("a.example.", 0.003),
    ]


def test_response_before_query_still_pairs():
    c, out = run([msg(1.00002, qr=True), msg(1.0)])
    assert len(out) == 1 and out[0].status is Status.ANSWERED
    assert out[0].rtt == pytest.approx(0.00002)
    assert c.stats.reordered == 1


def test_unanswered_after_timeout_of_packet_time():
    other = Flow(Transport.UDP, "10.244.1.11", 40001, "10.96.0.10", 53)
    _, out = run([msg(0.0), msg(16.0, flow=other), msg(16.001, flow=other, qr=True)], timeout=15.0)
    assert [(t.flow.client, t.status) for t in out] == [
        ("10.244.1.10", Status.UNANSWERED),
        ("10.244.1.11", Status.ANSWERED),
    ]


def test_unanswered_at_end_of_capture():
    _, out = run([msg(0.0, id=1), msg(0.1, id=2)])
    assert [(t.id, t.status, t.rtt, t.rcode) for t in out] == [
        (1, Status.UNANSWERED, None, None),
        (2, Status.UNANSWERED, None, None),
    ]


def test_response_without_query_is_unsolicited_after_reorder_window():
    _, out = run([msg(0.0, qr=True, id=99), msg(5.0, id=5), msg(5.1, id=5, qr=True)])
    assert [(t.id, t.status) for t in out] == [(99, Status.UNSOLICITED), (5, Status.ANSWERED)]


def test_second_response_is_reported_on_its_own():
    c, out = run([msg(0.0), msg(0.001, qr=True), msg(0.002, qr=True)])
    assert [t.status for t in out] == [Status.ANSWERED, Status.UNSOLICITED]
    assert c.stats.late_responses == 1


def test_response_without_question_pairs_on_id():
    _, out = run([msg(0.0), msg(0.001, qr=True, qname="", qtype=0, qdcount=0, rcode=1)])
    assert len(out) == 1 and out[0].status is Status.ANSWERED and out[0].rcode == 1


def test_pending_table_is_capped_and_evictions_counted():
    c = Correlator(max_pending=3)
    out = []
    for i in range(5):
        out.extend(c.feed(msg(i * 0.001, id=i)))
    assert [t.id for t in out] == [0, 1]
    assert all(t.status is Status.UNANSWERED for t in out)
    assert c.stats.pending_evicted == 2
    assert len(c.flush()) == 3


def test_orphan_table_is_capped():
    c = Correlator(max_orphans=2)
    out = []
    for i in range(4):
        out.extend(c.feed(msg(0.0, qr=True, id=i)))
    assert [(t.id, t.status) for t in out] == [(0, Status.UNSOLICITED), (1, Status.UNSOLICITED)]
    assert c.stats.orphans_evicted == 2


def test_different_ports_never_pair():
    other = Flow(Transport.UDP, "10.244.1.10", 40001, "10.96.0.10", 53)
    _, out = run([msg(0.0), msg(0.001, qr=True, flow=other)])
    assert sorted(t.status.value for t in out) == ["unanswered", "unsolicited"]


def test_memory_stays_bounded_over_a_long_stream():
    c = Correlator(timeout=1.0)
    for i in range(20_000):
        ts = i * 0.01
        c.expire(ts)
        c.feed(msg(ts, id=i % 65536))  # never answered
    assert c._pending_count <= 101


def test_on_query_sees_each_query_pending_and_each_resend():
    """`on_query` gets the transaction when its query is sent (pending) and at each
    retransmission; the correlator completes that same object when the reply comes."""
    seen = []
    c = Correlator(on_query=lambda t: seen.append((t, t.status, t.retransmits)))
    assert c.feed(msg(0.0)) == []
    assert c.feed(msg(0.001, id=2, qtype=28)) == []
    assert c.feed(msg(5.0)) == []  # glibc's resend: same socket, id and question
    (answered,) = c.feed(msg(5.002, qr=True))
    first, aaaa = seen[0][0], seen[1][0]
    assert [(s, r) for _, s, r in seen] == [
        (Status.PENDING, 0),
        (Status.PENDING, 0),
        (Status.PENDING, 1),
    ]
    assert answered is first and seen[2][0] is first
    assert (answered.status, answered.retransmits, answered.query_times) == (
        Status.ANSWERED,
        1,
        [0.0, 5.0],
    )
    assert answered.rtt == pytest.approx(5.002)
    (lost,) = c.expire(16.0)
    assert lost is aaaa and lost.status is Status.UNANSWERED and lost.query_times == (0.001,)


def test_on_query_sees_a_query_that_came_after_its_reply_completed():
    seen = []
    c = Correlator(on_query=seen.append)
    assert c.feed(msg(1.0001, qr=True)) == []
    (txn,) = c.feed(msg(1.0))
    assert seen == [txn] and txn.status is Status.ANSWERED
