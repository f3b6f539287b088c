"""Search-list chains -> lookups, on hand-built transactions with exact expectations."""

from __future__ import annotations

import copy
from dataclasses import replace

import dns.message
import dns.rrset
import pytest

from dnssniff.correlate import Correlator
from dnssniff.lookups import LookupBuilder, infer_config, infer_configs
from dnssniff.mnemonics import qtype_value
from dnssniff.model import DnsMessage, Flow, Status, Transaction, Transport
from dnssniff.resolvconf import ResolverConfig, parse_resolv_conf

CLIENT = "10.244.1.10"
CLIENT2 = "10.244.2.20"
SERVER = "10.96.0.10"
K8S = parse_resolv_conf(
    "search default.svc.cluster.local svc.cluster.local cluster.local"
    " us-central1-c.c.myproject.internal\nnameserver 10.96.0.10\noptions ndots:5\n",
    "resolv.conf test",
)
SUFFIXES = K8S.search
GAP = 0.0005  # between search steps
RTT = 0.0004

_RCODES = {"NOERROR": 0, "SERVFAIL": 2, "NXDOMAIN": 3, "REFUSED": 5}


def message(ts, flow, id, qname, qtype, *, qr, rcode=0, ancount=0, flags=0, arcount=0, payload=b""):
    return DnsMessage(
        ts=ts,
        flow=flow,
        id=id,
        qr=qr,
        opcode=0,
        rcode=rcode,
        flags=flags | (0x8180 if qr else 0x0100),
        qname=qname,
        qname_key=qname.lower(),
        qtype=qtype,
        qclass=1,
        qdcount=1,
        ancount=ancount,
        nscount=0,
        arcount=arcount,
        size=60,
        payload=payload,
    )


def txn(
    ts,
    qname,
    qtype="A",
    reply="NXDOMAIN",
    *,
    port=40000,
    id=1,
    client=CLIENT,
    tcp=False,
    tc=False,
    retransmits=0,
    resend_after=5.0,
    rtt=RTT,
    payload=b"",
    ancount=None,
    dig=False,
):
    """One transaction. reply: "DATA", "NODATA", an rcode name, or "LOST" (unanswered).
    `dig`: the query carries dig's AD flag and EDNS record."""
    flow = Flow(Transport.TCP if tcp else Transport.UDP, client, port, SERVER, 53)
    qt = qtype_value(qtype)
    times = tuple(ts + i * resend_after for i in range(1 + retransmits))
    query = message(
        ts, flow, id, qname, qt, qr=False, flags=0x0020 if dig else 0, arcount=1 if dig else 0
    )
    if reply == "LOST":
        return Transaction(
            ts, flow, id, qname, qt, 1, Status.UNANSWERED, query, None, None, retransmits, 0, times
        )
    rcode = _RCODES.get(reply, 0)
    an = (1 if reply == "DATA" else 0) if ancount is None else ancount
    response = message(
        times[-1] + rtt,
        flow,
        id,
        qname,
        qt,
        qr=True,
        rcode=rcode,
        ancount=an,
        flags=0x0200 if tc else 0,
        payload=payload,
    )
    return Transaction(
        ts,
        flow,
        id,
        qname,
        qt,
        1,
        Status.ANSWERED,
        query,
        response,
        response.ts - ts,
        retransmits,
        0,
        times,
    )


def getaddrinfo(t0, steps, *, client=CLIENT, port=40000, id=100, two_ports=False):
    """glibc-style A+AAAA per step (same socket, 6 us apart), a new socket per step.

    steps: [(name, replyA, replyAAAA)]; go-style (two_ports) uses a socket per query.
    """
    out = []
    t = t0
    for i, (name, ra, raaaa) in enumerate(steps):
        pa = port + 2 * i
        out.append(txn(t, name, "A", ra, port=pa, id=id + 2 * i, client=client))
        out.append(
            txn(
                t + 0.000006,
                name,
                "AAAA",
                raaaa,
                port=pa + 1 if two_ports else pa,
                id=id + 2 * i + 1,
                client=client,
            )
        )
        t += GAP
    return out


def expansions(base):
    return [f"{base}.{s}." for s in SUFFIXES]


def walkthrough(t0=1000.0, **kw):
    steps = [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("google.com")]
    steps.append(("google.com.", "DATA", "DATA"))
    return getaddrinfo(t0, steps, **kw)


def completion(t):
    # the correlator emits an unanswered query 15 s after its first transmission
    return t.response.ts if t.response is not None else t.query_times[0] + 15.0


# How `run` feeds the builder: completed transactions (`feed`, in completion order, as a
# library caller may), or each query when sent (`sent`) and its completion (`done`),
# through a real correlator, one event at a time, or queued (`hooks`, as `dnssniff
# lookups` does with batches of 256) in batches of 3, or all applied after the capture
# (`replay`'s `lagged`). Every test that uses `run` runs all four; the queued runs also
# check that the builder's state is what one event at a time gives.
FEEDS = ("completed", "as-sent", "batched-3", "lagged")
_feed = ["completed"]


@pytest.fixture(autouse=True, params=FEEDS)
def feed_mode(request):
    _feed[0] = request.param
    yield request.param
    _feed[0] = "completed"


def run(txns, config=K8S, *, streaming=True, **kw):
    """Feed in completion order (as the correlator emits), expiring as time goes; or, in
    the "as-sent" mode, replay the transactions' packets through a correlator."""
    if _feed[0] == "as-sent":
        builder = LookupBuilder(config, **kw)
        return replay(txns, builder, streaming=streaming), builder
    if _feed[0] in ("batched-3", "lagged"):
        out = []
        lagged = _feed[0] == "lagged"
        builder = LookupBuilder(config, on_lookup=out.append, batch=10**9 if lagged else 3, **kw)
        twin = LookupBuilder(config, **kw)
        hooks = builder.hooks()
        replay(txns, builder, streaming=streaming, hooks=hooks, twin=twin, lagged=lagged)
        return sorted(out, key=lambda lk: (lk.start, lk.client)), builder
    return run_completed(txns, config, streaming=streaming, **kw)


def run_completed(txns, config=K8S, *, streaming=True, **kw):
    """`run` feeding completed transactions, whatever the mode."""
    builder = LookupBuilder(config, **kw)
    out = []
    for t in sorted(txns, key=completion):
        if streaming:
            out.extend(builder.expire(completion(t)))
        out.extend(builder.feed(t))
    out.extend(builder.flush())
    return sorted(out, key=lambda lk: (lk.start, lk.client)), builder


def packets_of(txns):
    """The messages the transactions were made of, in capture order: each transmission of
    the query (resends are copies at their own times), then the reply."""
    out = []
    for t in txns:
        for i, at in enumerate(t.query_times or (t.ts,)):
            q = t.query if i == 0 else copy.copy(t.query)
            q.ts = at
            out.append(q)
        if t.response is not None:
            out.append(t.response)
    return sorted(out, key=lambda m: (m.ts, m.qr))


def builder_state(builder):
    """What a builder holds and has decided, for comparing two (private fields read on
    purpose: lookups come out only when chains close, decisions are made long before)."""
    chains = sorted(
        (
            c.client,
            tuple(c.keys),
            tuple((t.ts, t.id, t.qtype) for t in c.txns),
            (c.step_from, c.pass_start, c.steps, c.step_end, c.last_activity),
            (c.waiting, c.lost, c.retransmits, c.data_time, c.final_key, c.alias),
            (c.truncated, c.servfail, c.maybe_dup, c.paired, tuple(c.ports)),
            tuple(sorted(c.readings.items())),
        )
        for cs in builder._chains.values()
        for c in cs
    )
    configs = sorted((k, v[0]) for k, v in builder._client_configs.items())
    return chains, builder.config, configs, sorted(builder._namespaces.items())


def replay(txns, builder, *, streaming=True, hooks=None, twin=None, lagged=False):
    """Feed `builder` as the pipeline of `dnssniff lookups` does: queries as sent, through
    a correlator (timeout 15 s, expired once a second of packet time).

    With `hooks` (`builder.hooks()`) the events are queued through them instead, and
    `twin` (a builder like it) is fed one event at a time alongside. In batches, the two
    must hold the same state whenever the queue is empty. `lagged`: nothing is applied
    until the capture has ended, then the queued events one at a time, each checked
    against the twin's state right after that event: every reply and resend is in by
    then, and the builder must not read one before its event.
    """
    out = []
    if hooks is None:
        on_query = lambda t: out.extend(builder.sent(t))  # noqa: E731
        done_of = builder.done
    else:
        queue_sent, sink = hooks
        events = builder._events
        marks = []  # (events queued, the twin's state then, the expire call then or None)

        def same_as_twin():
            if lagged:
                marks.append((len(events), builder_state(twin), None))
            elif not events:
                assert builder_state(builder) == builder_state(twin)

        def on_query(t):
            twin.sent(t)
            queue_sent(t)
            same_as_twin()

        def done_of(t):
            twin.done(t)
            sink(t)
            same_as_twin()
            return ()

        real_expire = builder.expire

        def expire(now):
            twin.expire(now)
            if lagged:
                marks.append((len(events), builder_state(twin), now))
                return ()
            found = real_expire(now)
            same_as_twin()
            return found

        builder.expire = expire

    correlator = Correlator(on_query=on_query)
    next_expire = None
    for m in packets_of(txns):
        if next_expire is None:
            next_expire = m.ts + 1.0
        while m.ts >= next_expire:
            for done in correlator.expire(next_expire):
                out.extend(done_of(done))
            if streaming:
                out.extend(builder.expire(next_expire))
            next_expire += 1.0
        for done in correlator.feed(m):
            out.extend(done_of(done))
    for done in correlator.flush():
        out.extend(done_of(done))
    if lagged:
        queued = list(events)
        events.clear()
        applied = 0
        for count, state, now in marks:
            while applied < count:
                events.append(queued[applied])
                applied += 1
                closed = []
                builder._drain(closed)
                out.extend(builder._handed(closed))
            if now is not None:
                out.extend(real_expire(now))
            assert builder_state(builder) == state, f"after event {applied}"
    out.extend(builder.flush())
    return sorted(out, key=lambda lk: (lk.start, lk.client))


def test_walkthrough_google_com():
    (lookup,), builder = run(walkthrough())
    assert lookup.client == CLIENT
    assert lookup.name == "google.com."
    assert lookup.qtypes == ("A", "AAAA")
    assert lookup.queries == 10
    assert lookup.wasted_queries == 8
    assert lookup.outcome == "NOERROR"
    assert lookup.answer_name == "google.com."
    assert lookup.resolver == "glibc"
    assert lookup.findings == ("search-list expansion",)
    assert lookup.start == 1000.0
    assert lookup.wasted_time == pytest.approx(4 * GAP)
    assert lookup.duration == pytest.approx(4 * GAP + 0.000006 + RTT)
    assert len(lookup.chain) == 10
    assert [t.qtype for t in lookup.final] == [1, 28]
    assert all(t.qname == "google.com." for t in lookup.final)
    assert builder.stats.lookups == 1
    assert builder.stats.transactions == 10


def test_getent_hosts_aaaa_pass_then_a_pass_is_one_lookup():
    names = [*expansions("httpd-example"), "httpd-example."]
    t0 = 2000.0
    txns = [
        txn(t0 + i * GAP, n, "AAAA", "NODATA" if i == 0 else "NXDOMAIN", port=41000 + i, id=i)
        for i, n in enumerate(names)
    ]
    txns.append(txn(t0 + 5 * GAP, names[0], "A", "DATA", port=41005, id=9))
    (lookup,), _ = run(txns)
    assert lookup.name == "httpd-example."
    assert lookup.queries == 6
    assert lookup.wasted_queries == 4
    assert lookup.outcome == "NOERROR"
    assert lookup.answer_name == "httpd-example.default.svc.cluster.local."
    assert lookup.qtypes == ("A", "AAAA")
    assert lookup.resolver == "glibc"
    assert lookup.findings == ("search-list expansion", "separate query-type passes")
    assert lookup.wasted_time == pytest.approx(5 * GAP)


def test_name_with_five_dots_is_tried_as_is_first():
    (lookup,), _ = run(getaddrinfo(10.0, [("a.b.c.d.e.f.", "DATA", "DATA")]))
    assert lookup.name == "a.b.c.d.e.f."
    assert (lookup.queries, lookup.wasted_queries, lookup.wasted_time) == (2, 0, 0.0)
    assert lookup.findings == ()


def test_five_dots_not_found_as_is_then_search_list():
    steps = [("a.b.c.d.e.f.", "NXDOMAIN", "NXDOMAIN")]
    steps.append(("a.b.c.d.e.f.default.svc.cluster.local.", "DATA", "NODATA"))
    (lookup,), _ = run(getaddrinfo(10.0, steps))
    assert lookup.name == "a.b.c.d.e.f."
    assert (lookup.queries, lookup.wasted_queries) == (4, 2)
    assert lookup.answer_name == "a.b.c.d.e.f.default.svc.cluster.local."


def test_trailing_dot_one_step():
    (lookup,), _ = run(getaddrinfo(10.0, [("google.com.", "DATA", "DATA")]))
    assert lookup.name == "google.com."
    assert (lookup.queries, lookup.wasted_queries) == (2, 0)
    assert lookup.resolver == "glibc"


def test_ndots_one():
    config = ResolverConfig(search=SUFFIXES, ndots=1)
    txns = getaddrinfo(10.0, [("google.com.", "DATA", "DATA")])
    txns += getaddrinfo(
        11.0,
        [("web.default.svc.cluster.local.", "DATA", "NODATA")],
        port=42000,
        id=500,
    )
    first, second = run(txns, config)[0]
    assert (first.name, first.queries, first.wasted_queries) == ("google.com.", 2, 0)
    assert (second.name, second.queries, second.wasted_queries) == ("web.", 2, 0)
    assert second.answer_name == "web.default.svc.cluster.local."


def test_musl_stops_at_nodata():
    steps = [
        ("web.default.svc.cluster.local.", "NXDOMAIN", "NXDOMAIN"),
        ("web.svc.cluster.local.", "NODATA", "NODATA"),
    ]
    (lookup,), _ = run(getaddrinfo(10.0, steps))
    assert lookup.name == "web."
    assert lookup.outcome == "NODATA"
    assert lookup.answer_name == "web.svc.cluster.local."
    assert (lookup.queries, lookup.wasted_queries) == (4, 2)
    assert lookup.resolver == "musl"


def test_musl_no_search_with_enough_dots():
    (lookup,), _ = run(getaddrinfo(10.0, [("a.b.c.d.e.f.", "NXDOMAIN", "NXDOMAIN")]))
    assert lookup.outcome == "NXDOMAIN"
    assert lookup.resolver == "musl"


def test_glibc_continues_past_nodata_and_servfail():
    t0 = 10.0
    n = expansions("api")
    txns = getaddrinfo(t0, [(n[0], "NODATA", "NODATA"), (n[1], "SERVFAIL", "SERVFAIL")])
    # glibc resends the SERVFAIL pair once at once, then goes on
    txns += getaddrinfo(t0 + 2 * GAP, [(n[1], "SERVFAIL", "SERVFAIL")], port=43000, id=300)
    txns += getaddrinfo(
        t0 + 3 * GAP,
        [
            (n[2], "NXDOMAIN", "NXDOMAIN"),
            (n[3], "NXDOMAIN", "NXDOMAIN"),
            ("api.", "DATA", "NODATA"),
        ],
        port=44000,
        id=400,
    )
    (lookup,), _ = run(txns)
    assert lookup.name == "api."
    assert lookup.queries == 12
    assert lookup.wasted_queries == 10
    assert lookup.outcome == "NOERROR"
    assert lookup.answer_name == "api."
    assert lookup.resolver == "glibc"
    assert lookup.findings == ("search-list expansion", "retransmission", "servfail")


def test_lost_aaaa_retransmitted_after_five_seconds():
    txns = walkthrough()
    last = txns[-1]
    txns[-1] = txn(last.ts, "google.com.", "AAAA", "DATA", port=40008, id=109, retransmits=1)
    (lookup,), _ = run(txns)
    assert lookup.queries == 11
    assert lookup.wasted_queries == 9
    assert lookup.outcome == "NOERROR"
    assert lookup.duration == pytest.approx(4 * GAP + 0.000006 + 5.0 + RTT)
    assert lookup.wasted_time == pytest.approx(4 * GAP)
    assert lookup.findings == ("search-list expansion", "retransmission")


def test_aaaa_resent_twice_then_answered():
    """attempts:3: the same question on the same socket and id at 5 s and 10 s, answered
    after the second resend: both resends are queries of the one lookup."""
    txns = walkthrough()
    last = txns[-1]
    txns[-1] = txn(last.ts, "google.com.", "AAAA", "DATA", port=40008, id=109, retransmits=2)
    (lookup,), _ = run(txns, replace(K8S, attempts=3))
    assert (lookup.queries, lookup.wasted_queries, lookup.outcome) == (12, 10, "NOERROR")
    assert lookup.duration == pytest.approx(4 * GAP + 0.000006 + 10.0 + RTT)
    assert lookup.findings == ("search-list expansion", "retransmission")


def test_the_same_question_before_the_servfail_arrived_is_another_lookup():
    """A resolver resends a question after its SERVFAIL; the same question from another
    socket before the SERVFAIL came is another thread's lookup (fed as sent, the
    SERVFAIL is not even in yet)."""
    name = "web.example.org."
    txns = [
        txn(10.0, name, "A", "DATA", port=40000, id=1),
        txn(10.000006, name, "AAAA", "SERVFAIL", port=40000, id=2, rtt=0.3),
        txn(10.1, name, "AAAA", "NODATA", port=41000, id=9),
    ]
    lookups, _ = run(txns)
    assert [(lk.start, lk.queries) for lk in lookups] == [(10.0, 2), (10.1, 1)]


def test_aaaa_never_answered_is_placed_in_its_chain():
    """The correlator emits an unanswered query 15 s late; it still joins its lookup."""
    txns = walkthrough()
    last = txns[-1]
    txns[-1] = txn(last.ts, "google.com.", "AAAA", "LOST", port=40008, id=109, retransmits=1)
    # and a later, unrelated lookup from the same client that completes before it arrives
    txns += getaddrinfo(1008.0, [("example.org.", "DATA", "DATA")], port=45000, id=900)
    (lookup, other), builder = run(txns)
    assert lookup.queries == 11
    assert lookup.wasted_queries == 10
    assert lookup.outcome == "NOERROR"
    assert "timeout" in lookup.findings
    assert lookup.duration == pytest.approx(4 * GAP + 0.000006 + 5.0 + K8S.timeout)
    assert other.name == "example.org."
    assert builder.stats.late == 0


def test_truncated_then_tcp_retry_is_one_lookup():
    t0 = 50.0
    txns = [
        txn(t0, "big.example.", "A", "NOERROR", port=46000, id=1, tc=True, ancount=0),
        txn(t0 + 0.000006, "big.example.", "AAAA", "NODATA", port=46000, id=2),
        txn(t0 + 0.001, "big.example.", "A", "DATA", port=46001, id=1, tcp=True, ancount=40),
    ]
    (lookup,), _ = run(txns)
    assert (lookup.queries, lookup.wasted_queries) == (3, 1)
    assert lookup.outcome == "NOERROR"
    assert lookup.findings == ("tcp retry after truncation",)
    assert lookup.final[0].flow.transport == Transport.TCP


def test_truncated_without_tcp_retry():
    txns = [txn(50.0, "big.example.", "A", "NOERROR", tc=True, ancount=3)]
    (lookup,), _ = run(txns)
    assert lookup.findings == ("truncated without tcp retry",)


def test_same_name_thirty_seconds_apart_is_two_lookups():
    lookups, _ = run(walkthrough(100.0) + walkthrough(130.0, port=50000, id=700))
    assert [(lk.start, lk.queries, lk.wasted_queries) for lk in lookups] == [
        (100.0, 10, 8),
        (130.0, 10, 8),
    ]


def test_same_name_again_right_after_is_a_new_lookup():
    steps = [("a.b.c.d.e.f.", "DATA", "DATA")]
    txns = getaddrinfo(10.0, steps) + getaddrinfo(10.01, steps, port=47000, id=9)
    lookups, _ = run(txns)
    assert [lk.queries for lk in lookups] == [2, 2]


def test_two_clients_interleaved():
    """Client 1 walks the list for google.com while client 2, at the same moment, runs a
    short lookup and the same walk (two lookups of its own overlapping in time)."""
    a = walkthrough(100.0)
    b = getaddrinfo(
        100.0001, [("httpd-example.default.svc.cluster.local.", "DATA", "NODATA")], client=CLIENT2
    ) + walkthrough(100.0002, client=CLIENT2, port=60000, id=200)
    lookups, _ = run(a + b)
    got = [(lk.client, lk.name, lk.queries, lk.wasted_queries) for lk in lookups]
    assert got == [
        (CLIENT, "google.com.", 10, 8),
        (CLIENT2, "httpd-example.", 2, 0),
        (CLIENT2, "google.com.", 10, 8),
    ]


def test_dig_without_search_single_label():
    (lookup,), _ = run([txn(10.0, "web.", "A", "NXDOMAIN", dig=True)])
    assert lookup.name == "web."
    assert (lookup.queries, lookup.wasted_queries) == (1, 0)
    assert lookup.outcome == "NXDOMAIN"
    assert lookup.resolver == "dig"
    assert lookup.qtypes == ("A",)


def test_go_two_ports_and_nslookup():
    (go,), _ = run(walkthrough(two_ports=True))
    assert go.resolver == "go"
    n = expansions("web")
    txns = [txn(10.0 + i * GAP, name, "A", "NXDOMAIN", port=48000 + i) for i, name in enumerate(n)]
    txns.append(txn(10.0 + 4 * GAP, "web.", "A", "DATA", port=48010))
    txns.append(txn(10.0 + 5 * GAP, "web.", "AAAA", "NODATA", port=48011))
    (ns,), _ = run(txns)
    assert ns.resolver == "nslookup"
    assert (ns.queries, ns.wasted_queries) == (6, 4)


def _autopath_payload(qtype, rdata):
    query = dns.message.make_query("google.com.default.svc.cluster.local.", qtype)
    response = dns.message.make_response(query)
    response.answer.append(
        dns.rrset.from_text(
            "google.com.default.svc.cluster.local.", 5, "IN", "CNAME", "google.com."
        )
    )
    response.answer.append(dns.rrset.from_text("google.com.", 5, "IN", qtype, rdata))
    return response.to_wire()


def autopath_pair():
    """A pod's A and AAAA for `google.com`, both answered by CoreDNS autopath at the first
    search step with a CNAME to `google.com.` and its address."""
    name = "google.com.default.svc.cluster.local."
    return [
        txn(10.0, name, "A", "DATA", ancount=2, payload=_autopath_payload("A", "142.250.1.1")),
        txn(
            10.000006,
            name,
            "AAAA",
            "DATA",
            id=2,
            ancount=2,
            payload=_autopath_payload("AAAA", "2607:f8b0::1"),
        ),
    ]


def test_coredns_autopath():
    name = "google.com.default.svc.cluster.local."
    txns = autopath_pair()
    (lookup,), _ = run(txns)
    assert lookup.name == "google.com."
    assert lookup.answer_name == name
    assert (lookup.queries, lookup.wasted_queries) == (2, 0)
    assert lookup.findings == ("autopath",)


def _cname_payload(owner, target, rdata):
    response = dns.message.make_response(dns.message.make_query(owner, "A"))
    response.answer.append(dns.rrset.from_text(owner, 30, "IN", "CNAME", target))
    response.answer.append(dns.rrset.from_text(target, 30, "IN", "A", rdata))
    return response.to_wire()


def nslookup_of_alias(**answer):
    """nslookup (BIND 9.18) of `www.example.org`: A through the list, each from its own
    socket, answered at the name as-is (with `answer` as the reply's fields), then AAAA for
    `example.org.`."""
    names = [*expansions("www.example.org"), "www.example.org."]
    txns = [txn(10.0 + i * GAP, n, "A", "NXDOMAIN", port=48000 + i) for i, n in enumerate(names)]
    txns[-1] = txn(10.0 + 4 * GAP, "www.example.org.", "A", "DATA", port=48004, **answer)
    txns.append(txn(10.0 + 5 * GAP, "example.org.", "AAAA", "DATA", port=48005))
    return txns


def test_nslookup_asks_aaaa_at_the_cname_target():
    """The A at `www.example.org.` answers with a CNAME to `example.org.`, and nslookup
    asks AAAA for the target, not for the name typed. One lookup: 6 queries, 4 wasted (the
    A of the alias and the AAAA of its target are the useful ones)."""
    payload = _cname_payload("www.example.org.", "example.org.", "93.184.216.34")
    (lookup,), _ = run(nslookup_of_alias(ancount=2, payload=payload))
    assert lookup.name == "www.example.org."
    assert (lookup.queries, lookup.wasted_queries) == (6, 4)
    assert lookup.resolver == "nslookup"
    assert lookup.qtypes == ("A", "AAAA")
    assert [t.qname for t in lookup.final] == ["www.example.org.", "example.org."]


def test_aaaa_of_another_name_is_not_taken_without_the_cname():
    """The same shape, but the A answer holds no CNAME: the AAAA of `example.org.` is
    another lookup."""
    lookups, _ = run(nslookup_of_alias())
    assert [(lk.name, lk.queries) for lk in lookups] == [
        ("www.example.org.", 5),
        ("example.org.", 1),
    ]


def test_a_alone_is_dig_only_with_digs_query_flags():
    """A alone for `web.default.svc.cluster.local.`, answered: from dig (AD + EDNS) it is
    the name typed; from glibc's getaddrinfo(AF_INET) it is `web` found at the first
    search step (the wire is the same otherwise, and short names are what pods ask)."""
    name = "web.default.svc.cluster.local."
    (from_dig,), _ = run([txn(10.0, name, "A", "DATA", dig=True)])
    (from_libc,), _ = run([txn(10.0, name, "A", "DATA")])
    assert (from_dig.name, from_dig.resolver, from_dig.fqdn) == (name, "dig", True)
    assert (from_libc.name, from_libc.resolver, from_libc.fqdn) == ("web.", "unknown", False)


def test_dig_search_is_named():
    names = [*expansions("google.com"), "google.com."]
    txns = [
        txn(10.0 + i * GAP, n, "A", "NXDOMAIN", port=48000 + i, dig=True)
        for i, n in enumerate(names)
    ]
    txns[-1] = txn(10.0 + 4 * GAP, "google.com.", "A", "DATA", port=48004, dig=True)
    (lookup,), _ = run(txns)
    assert (lookup.name, lookup.queries, lookup.wasted_queries) == ("google.com.", 5, 4)
    assert lookup.resolver == "dig+search"


def storm(n, *, every, client=CLIENT):
    txns = []
    names = [*expansions("nosuch"), "nosuch."]
    for i in range(n):
        steps = [(name, "NXDOMAIN", "NXDOMAIN") for name in names]
        txns += getaddrinfo(100.0 + i * every, steps, client=client, port=1024 + (i * 10) % 60000)
    return txns


@pytest.mark.parametrize("every", [0.02, 0.003])
def test_storm_of_failing_lookups_counted_exactly(every):
    lookups, builder = run(storm(500, every=every))
    assert len(lookups) == 500
    assert {(lk.name, lk.queries, lk.wasted_queries, lk.outcome) for lk in lookups} == {
        ("nosuch.", 10, 8, "NXDOMAIN")
    }
    assert sum(lk.queries for lk in lookups) == 5000
    assert builder.stats.chains_evicted == 0
    assert builder.stats.forced == 0


def test_bounded_memory():
    txns = []
    for c in range(40):
        txns += storm(50, every=0.02, client=f"10.1.0.{c}")
    builder = LookupBuilder(K8S, max_open=1000)
    out = []
    peak = 0
    for t in sorted(txns, key=completion):
        out.extend(builder.feed(t))  # never expired: only the bound keeps memory in check
        peak = max(peak, builder.open_transactions)
    out.extend(builder.flush())
    assert peak <= 1000
    assert builder.stats.forced > 0
    assert sum(lk.queries for lk in out) == len(txns) == 20000
    assert builder.stats.lookups == len(out)


def test_per_client_chain_cap_evicts_and_counts():
    txns = [
        txn(10.0 + i * 0.0001, f"name{i}.", "A", "LOST", port=2000 + i, id=i) for i in range(20)
    ]
    lookups, builder = run(txns, max_chains_per_client=5)
    assert len(lookups) == 20
    assert builder.stats.chains_evicted == 15


def test_out_of_order_feed_gives_the_same_lookups():
    txns = walkthrough() + walkthrough(1000.0001, client=CLIENT2)
    builder = LookupBuilder(K8S)
    out = []
    for t in reversed(txns):
        out.extend(builder.feed(t))
    out.extend(builder.flush())
    assert sorted((lk.client, lk.queries, lk.wasted_queries) for lk in out) == [
        (CLIENT, 10, 8),
        (CLIENT2, 10, 8),
    ]


def test_unsolicited_is_ignored_and_counted():
    t = txn(10.0, "x.", "A", "NXDOMAIN")
    unsolicited = Transaction(
        t.ts, t.flow, t.id, t.qname, t.qtype, 1, Status.UNSOLICITED, None, t.response, None
    )
    builder = LookupBuilder(K8S)
    assert not builder.feed(unsolicited)
    assert builder.flush() == []
    assert builder.stats.unsolicited == 1


def mixed_capture():
    txns = walkthrough(100.0)
    names = [*expansions("httpd-example"), "httpd-example."]
    txns += [
        txn(101.0 + i * GAP, n, "AAAA", "NODATA" if i == 0 else "NXDOMAIN", client=CLIENT2, id=i)
        for i, n in enumerate(names)
    ]
    txns.append(txn(101.0 + 5 * GAP, names[0], "A", "DATA", client=CLIENT2, id=9))
    txns += getaddrinfo(
        102.0,
        [
            ("kubernetes.default.default.svc.cluster.local.", "NXDOMAIN", "NXDOMAIN"),
            ("kubernetes.default.svc.cluster.local.", "DATA", "NODATA"),
        ],
        client=CLIENT2,
        port=30000,
    )
    txns += getaddrinfo(103.0, [("a.b.c.d.e.f.", "DATA", "DATA")], port=31000)  # no walk
    txns += getaddrinfo(104.0, [("metrics.example.", "DATA", "DATA")], port=32000)  # FQDN
    txns.append(txn(105.0, "foo.example.com.", "A", "NXDOMAIN", port=33000))  # noise pair
    txns.append(txn(105.001, "foo.bar.net.", "A", "DATA", port=33001))
    return txns


def test_infer_search_list_from_mixed_capture():
    config = infer_config(mixed_capture())
    assert config == ResolverConfig(search=SUFFIXES, ndots=5, source="inferred from traffic")
    assert infer_config([]) is None
    assert infer_config(getaddrinfo(1.0, [("x.", "DATA", "DATA")])) is None


def test_infer_ndots_from_as_is_first_walks():
    steps = [
        ("a.b.svc.cluster.local.", "NXDOMAIN", "NXDOMAIN"),
        ("a.b.cluster.local.", "NXDOMAIN", "NXDOMAIN"),
        ("a.b.", "DATA", "DATA"),
    ]
    txns = getaddrinfo(1.0, steps)
    txns += getaddrinfo(
        2.0,
        [
            ("x.y.z.", "NXDOMAIN", "NXDOMAIN"),
            ("x.y.z.svc.cluster.local.", "NXDOMAIN", "NXDOMAIN"),
            ("x.y.z.cluster.local.", "DATA", "DATA"),
        ],
        port=5000,
    )
    config = infer_config(txns)
    assert config is not None
    assert config.search == ("svc.cluster.local", "cluster.local")
    assert config.ndots == 2


def test_builder_without_config_infers_it():
    with_config, _ = run(mixed_capture())
    inferred, builder = run(mixed_capture(), None)
    assert builder.config == ResolverConfig(
        search=SUFFIXES, ndots=5, source="inferred from traffic"
    )

    def summary(lookups):
        return [(lk.client, lk.name, lk.queries, lk.wasted_queries) for lk in lookups]

    assert summary(inferred) == summary(with_config)
    assert summary(with_config)[:3] == [
        (CLIENT, "google.com.", 10, 8),
        (CLIENT2, "httpd-example.", 6, 4),
        (CLIENT2, "kubernetes.default.", 4, 2),
    ]


def test_lookup_json_is_what_json_dumps_writes():
    """The report's hand-written JSON of a lookup is byte for byte json.dumps(record)."""
    import json

    from dnssniff.report.lookups import lookup_json, lookup_record

    autopath = autopath_pair()
    lost = walkthrough(2000.0)
    lost[-1] = txn(lost[-1].ts, "google.com.", "AAAA", "LOST", port=40008, id=109, retransmits=1)
    odd = [txn(3000.0, 'we\\"ird\\\\.na\\000me.', "TXT", "SERVFAIL", tcp=True)]
    truncated = [
        txn(50.0, "big.example.", "A", "NOERROR", port=46000, id=1, tc=True, ancount=0),
        txn(50.001, "big.example.", "A", "NXDOMAIN", port=46001, id=1, tcp=True),
    ]
    lookups, _ = run(autopath + lost + odd + truncated + getent_like())
    assert len(lookups) == 5
    for lookup in lookups:
        assert lookup_json(lookup) == json.dumps(lookup_record(lookup))


def getent_like():
    names = [*expansions("httpd-example"), "httpd-example."]
    out = [
        txn(4000.0 + i * GAP, n, "AAAA", "NODATA" if i == 0 else "NXDOMAIN", port=41000 + i, id=i)
        for i, n in enumerate(names)
    ]
    out.append(txn(4000.0 + 5 * GAP, names[0], "A", "DATA", port=41005, id=9, rtt=0.1234567891))
    return out


def test_report_numbers_are_written_as_json_dumps_writes_them():
    from dnssniff.report.lookups import _num

    values = [0.0, 1.0, 1e-05, 0.0001, 0.000448123, 0.0004485, 5.000001, 1700000000.000674]
    values += [1700000355.4013, 0.1234565, 99999.9999995]
    assert [_num(v) for v in values] == [repr(round(v, 6)) for v in values]


def shop_expansions(base):
    return [f"{base}.shop.svc.cluster.local.", *[f"{base}.{s}." for s in SUFFIXES[1:]]]


def test_pods_of_another_namespace_walk_their_own_first_domain():
    """A node-wide capture: the config says `default`, this pod lives in `shop`."""
    steps = [(n, "NXDOMAIN", "NXDOMAIN") for n in shop_expansions("google.com")]
    steps.append(("google.com.", "DATA", "DATA"))
    txns = getaddrinfo(10.0, steps)
    txns += getaddrinfo(11.0, [("redis.shop.svc.cluster.local.", "DATA", "NODATA")], port=41000)
    txns += getaddrinfo(
        12.0,
        [
            ("postgres.db.shop.svc.cluster.local.", "NXDOMAIN", "NXDOMAIN"),
            ("postgres.db.svc.cluster.local.", "DATA", "NODATA"),
        ],
        port=42000,
    )
    txns.append(
        txn(13.0, "kubernetes.default.svc.cluster.local.", "A", "DATA", port=43000, dig=True)
    )
    lookups, _ = run(txns)
    got = [(lk.name, lk.queries, lk.wasted_queries, lk.namespace, lk.fqdn) for lk in lookups]
    assert got == [
        ("google.com.", 10, 8, "shop", False),
        ("redis.", 2, 0, "shop", False),
        ("postgres.db.", 4, 2, "shop", False),
        # A alone for one name: asked as-is (dig, a health check), the pod's namespace kept
        ("kubernetes.default.svc.cluster.local.", 1, 0, "shop", True),
    ]
    assert [lk.resolver for lk in lookups] == ["glibc", "glibc", "glibc", "dig"]


def test_two_walks_of_one_name_at_once_from_one_pod():
    """Two threads resolve google.com 0.7 ms apart; the second loses a reply at step 2.
    Each step goes to the walk whose answers were in when it was sent."""
    first = walkthrough(100.0, port=40000, id=100)
    second = walkthrough(100.0007, port=50000, id=300)
    lost = second[2]
    second[2] = txn(lost.ts, lost.qname, "A", "NXDOMAIN", port=50002, id=302, retransmits=1)
    # the second walk waits 5 s for that reply before its next step
    second[4:] = [
        txn(
            t.ts + 5.0,
            t.qname,
            "A" if t.qtype == 1 else "AAAA",
            "DATA" if t.qname == "google.com." else "NXDOMAIN",
            port=t.flow.client_port,
            id=t.id,
        )
        for t in second[4:]
    ]
    lookups, _ = run(first + second)
    assert [(lk.start, lk.queries, lk.wasted_queries) for lk in lookups] == [
        (100.0, 10, 8),
        (100.0007, 11, 9),
    ]
    for lk in lookups:
        ports = {t.flow.client_port // 10000 for t in lk.chain}
        assert len(ports) == 1  # each walk kept its own sockets


def test_lost_reply_then_the_same_name_again_is_two_lookups():
    """A lost A (resent once, never answered) ends the walk; the pod asks again later
    from a new socket: a new lookup, not a resend (glibc's attempts are used up)."""
    txns = [
        txn(10.0, "redis.default.svc.cluster.local.", "A", "LOST", retransmits=1, id=1),
        txn(10.000006, "redis.default.svc.cluster.local.", "AAAA", "NODATA", id=2),
    ]
    txns += getaddrinfo(
        12.0, [("redis.default.svc.cluster.local.", "DATA", "NODATA")], port=41000, id=10
    )
    lookups, _ = run(txns)
    assert [(lk.queries, lk.wasted_queries, lk.outcome) for lk in lookups] == [
        (3, 2, "TIMEOUT"),
        (2, 0, "NOERROR"),
    ]
    assert [lk.resolver for lk in lookups] == ["glibc", "glibc"]


def test_pair_on_one_socket_found_after_a_resend():
    """A and AAAA from two sockets, then the lost AAAA resent from the A's socket: the
    builder's shortcut for pairs does not see it, the resolver guess still must (one
    socket for both types: glibc, not Go), and the resend is a retransmission."""
    name = "web.default.svc.cluster.local."
    txns = [
        txn(10.0, name, "A", "DATA", port=40000, id=1),
        txn(10.000006, name, "AAAA", "LOST", port=40001, id=2),
        txn(15.0, name, "AAAA", "NODATA", port=40000, id=3),
    ]
    (lookup,), _ = run(txns, grace=10.0)
    assert lookup.resolver == "glibc"
    assert lookup.findings == ("retransmission", "timeout")
    assert (lookup.queries, lookup.wasted_queries, lookup.outcome) == (3, 1, "NOERROR")
    assert [t.id for t in lookup.final] == [1, 3]
    assert lookup.duration == pytest.approx(5.0004)


# -- found by bench/resolver_check.py (real resolvers, judged against the server's log) -----


def test_service_of_another_namespace_by_full_name_is_not_a_search_step():
    """The given config names `default`: `pele-api.team-fuza.svc.cluster.local` answered at
    the first query is that full name (another namespace's service), while the pod's own
    `redis.default.svc.cluster.local` is still `redis` found at the first step."""
    txns = getaddrinfo(10.0, [("pele-api.team-fuza.svc.cluster.local.", "DATA", "DATA")])
    txns += getaddrinfo(11.0, [("redis.default.svc.cluster.local.", "DATA", "NODATA")], port=41000)
    lookups, _ = run(txns)
    got = [(lk.name, lk.queries, lk.wasted_queries, lk.namespace, lk.fqdn) for lk in lookups]
    assert got == [
        ("pele-api.team-fuza.svc.cluster.local.", 2, 0, "", True),
        ("redis.", 2, 0, "default", False),
    ]


def test_namespace_learnt_from_a_walk_decides_later_full_names():
    """Node-wide, config `default`: the pod's walk shows it lives in `shop`. Afterwards a
    `shop` service answered at once is a search step, a `default` one a full name."""
    steps = [(n, "NXDOMAIN", "NXDOMAIN") for n in shop_expansions("google.com")]
    steps.append(("google.com.", "DATA", "DATA"))
    txns = getaddrinfo(10.0, steps)
    txns += getaddrinfo(11.0, [("redis.shop.svc.cluster.local.", "DATA", "NODATA")], port=41000)
    txns += getaddrinfo(12.0, [("web.default.svc.cluster.local.", "DATA", "NODATA")], port=42000)
    lookups, _ = run(txns)
    got = [(lk.name, lk.queries, lk.wasted_queries, lk.namespace, lk.fqdn) for lk in lookups]
    assert got == [
        ("google.com.", 10, 8, "shop", False),
        ("redis.", 2, 0, "shop", False),
        ("web.default.svc.cluster.local.", 2, 0, "shop", True),
    ]


def test_a_walk_ended_in_servfail_does_not_take_a_later_lookup_of_the_name():
    """nslookup walks A to `pito.lame.com.` (SERVFAIL, the end of its list); 8 s later musl
    asks `pito.lame.com.` from a new socket with new ids and resends on SERVFAIL with the
    same ids (at once, and 2.5 s later). Two lookups: the first one's chain is over."""
    names = [*expansions("pito.lame.com"), "pito.lame.com."]
    txns = [
        txn(10.0 + i * GAP, n, "A", "SERVFAIL" if i == 4 else "NXDOMAIN", port=40000 + i, id=i)
        for i, n in enumerate(names)
    ]
    for t0 in (18.0, 18.001, 20.5):
        txns.append(txn(t0, "pito.lame.com.", "A", "SERVFAIL", port=45000, id=70))
        txns.append(txn(t0 + 0.000006, "pito.lame.com.", "AAAA", "SERVFAIL", port=45000, id=71))
    lookups, _ = run(txns)
    got = [(lk.name, lk.start, lk.queries, lk.wasted_queries, lk.outcome) for lk in lookups]
    assert got == [
        ("pito.lame.com.", 10.0, 5, 4, "SERVFAIL"),
        ("pito.lame.com.", 18.0, 6, 4, "SERVFAIL"),
    ]


def test_a_new_question_seconds_after_a_servfail_is_not_its_resend():
    """glibc resends a SERVFAIL pair at once; the same name from a new socket and id 3 s
    later is another lookup, not a resend (a resend with the same socket and id is)."""
    name = "web.default.svc.cluster.local."
    txns = [
        txn(10.0, name, "A", "SERVFAIL", port=40000, id=1),
        txn(10.0005, name, "A", "SERVFAIL", port=40001, id=1),  # at once: a resend
        txn(13.0, name, "A", "DATA", port=41000, id=9),
    ]
    lookups, _ = run(txns, grace=10.0)
    assert [(lk.start, lk.queries, lk.outcome) for lk in lookups] == [
        (10.0, 2, "SERVFAIL"),
        (13.0, 1, "NOERROR"),
    ]


def test_a_second_pass_only_right_after_the_first():
    """`getent hosts` walks AAAA then at once A over the same names: one lookup. The A
    walk of the same name 5 s later (the chain still open) is another lookup."""
    names = [*expansions("nope"), "nope."]
    aaaa = [txn(10.0 + i * GAP, n, "AAAA", port=40000 + i, id=i) for i, n in enumerate(names)]
    a = [txn(10.01 + i * GAP, n, "A", port=41000 + i, id=10 + i) for i, n in enumerate(names)]
    late = [txn(15.0 + i * GAP, n, "A", port=42000 + i, id=20 + i) for i, n in enumerate(names)]
    lookups, _ = run(aaaa + late, grace=10.0)
    assert [(lk.start, lk.queries) for lk in lookups] == [(10.0, 5), (15.0, 5)]
    lookups, _ = run(aaaa + a, grace=10.0)
    assert [(lk.start, lk.queries, lk.findings) for lk in lookups] == [
        (10.0, 10, ("search-list expansion", "separate query-type passes"))
    ]


POD1 = "10.244.1.11"


def test_infer_ndots_per_client_and_no_domain_from_a_later_full_name():
    """Two pods on a node: CLIENT searches a 4-dot name first (ndots 5), POD1 tries a 2-dot
    name as-is first (ndots 2). The shared config keeps 5, POD1 gets 2. A full name POD1
    asks a second after a failed walk of the same first label is no search domain."""
    txns = getaddrinfo(
        1.0,
        [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("a.b.c.d.e")]
        + [("a.b.c.d.e.", "DATA", "DATA")],
    )
    txns += getaddrinfo(
        2.0,
        [("maku.broken.com.", "NXDOMAIN", "NXDOMAIN")]
        + [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("maku.broken.com")],
        client=POD1,
    )
    txns += getaddrinfo(
        3.0,
        [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("naku")]
        + [("naku.", "NXDOMAIN", "NXDOMAIN")],
        client=POD1,
        port=50000,
    )
    txns += getaddrinfo(
        4.0, [("naku.ops.svc.cluster.local.", "DATA", "DATA")], client=POD1, port=51000
    )
    inferred = infer_configs(txns)
    config, per_client = inferred.config, inferred.ndots
    assert config == ResolverConfig(search=SUFFIXES, ndots=5, source="inferred from traffic")
    assert per_client == {POD1: 2}
    assert inferred.namespaces == {CLIENT: "default", POD1: "default"}


def test_inferred_namespace_applies_from_the_first_lookup():
    """No config given. The capture opens with the pod asking a service of another
    namespace by its full name (one step, answered); its namespace shows only in a walk a
    second later. The walk is in the inference sample, so the first lookup is already read
    as `web.shop.svc.cluster.local.`, not as `web` found at the pod's first search step."""
    txns = getaddrinfo(1.0, [("web.shop.svc.cluster.local.", "DATA", "DATA")], port=39000)
    txns += walkthrough(2.0)
    lookups, builder = run(txns, config=None)
    assert builder.config.search == SUFFIXES
    assert [(lk.name, lk.queries, lk.namespace) for lk in lookups] == [
        ("web.shop.svc.cluster.local.", 2, "default"),
        ("google.com.", 10, "default"),
    ]


def test_builder_learns_a_lower_ndots_from_an_as_is_first_walk():
    """No config given, and the inference sample shows only ndots-5 walks; later a pod
    tries `maku.broken.com` as-is first, then its search list: one lookup of 10 queries,
    and the pod's later as-is-first walks are read with its ndots."""
    txns = walkthrough(1.0)
    t0 = 40.0
    for k in range(2):
        steps = [("maku.broken.com.", "NXDOMAIN", "NXDOMAIN")]
        steps += [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("maku.broken.com")]
        txns += getaddrinfo(t0 + k * 5.0, steps, client=POD1, port=50000 + 100 * k)
    lookups, builder = run(txns, None)
    got = [(lk.client, lk.name, lk.queries, lk.wasted_queries, lk.outcome) for lk in lookups]
    assert got == [
        (CLIENT, "google.com.", 10, 8, "NOERROR"),
        (POD1, "maku.broken.com.", 10, 8, "NXDOMAIN"),
        (POD1, "maku.broken.com.", 10, 8, "NXDOMAIN"),
    ]
    assert builder.config.ndots == 5
    assert [lk.resolver for lk in lookups[1:]] == ["glibc", "glibc"]


def test_a_given_config_yields_to_a_pods_own_lower_ndots():
    """One resolv.conf (ndots 5) given for a node capture, and a pod of that node has ndots
    2: it tries `maku.broken.com` as-is first, then its search list, right after. That is
    one lookup of 10 queries (not an as-is lookup and a walk), and the pod's later walks
    are read with ndots 2; the other pod keeps ndots 5."""
    txns = walkthrough(1.0)
    for k in range(2):
        steps = [("maku.broken.com.", "NXDOMAIN", "NXDOMAIN")]
        steps += [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("maku.broken.com")]
        txns += getaddrinfo(40.0 + k * 5.0, steps, client=POD1, port=50000 + 100 * k)
    txns += walkthrough(60.0, port=41000, id=500)
    lookups, builder = run(txns)
    got = [(lk.client, lk.name, lk.queries, lk.wasted_queries) for lk in lookups]
    assert got == [
        (CLIENT, "google.com.", 10, 8),
        (POD1, "maku.broken.com.", 10, 8),
        (POD1, "maku.broken.com.", 10, 8),
        (CLIENT, "google.com.", 10, 8),
    ]
    assert builder.config is K8S


def test_a_step_forward_only_right_after_the_previous_answer():
    """`dig +search` asks one name (NXDOMAIN) and stops; a later command's query for the
    next search name 0.7 s after that answer is another lookup, not a step forward. The
    same name right after the answer (as a resolver walks) is the next step."""
    first = txn(10.0, "nope.default.svc.cluster.local.", "A", port=40000, id=1)
    late = txn(10.7, "nope.svc.cluster.local.", "A", "DATA", port=40001, id=2)
    lookups, _ = run([first, late], grace=10.0)
    assert [(lk.start, lk.queries, lk.outcome) for lk in lookups] == [
        (10.0, 1, "NXDOMAIN"),
        (10.7, 1, "NOERROR"),
    ]
    prompt = txn(10.0005, "nope.svc.cluster.local.", "A", "DATA", port=40001, id=2)
    lookups, _ = run([first, prompt], grace=10.0)
    assert [(lk.name, lk.start, lk.queries, lk.wasted_queries) for lk in lookups] == [
        ("nope.", 10.0, 2, 1)
    ]


def test_the_other_query_type_of_a_step_only_right_after_it():
    """`dig +search` gets SERVFAIL at its first name and stops; `getent hosts` asks AAAA
    for that name 3 s later: another lookup, not the type the first one had not asked."""
    name = "saku-cache.default.svc.cluster.local."
    txns = [
        txn(10.0, name, "A", "SERVFAIL", port=40000, id=1),
        txn(13.0, name, "AAAA", "DATA", port=41000, id=9),
    ]
    lookups, _ = run(txns, grace=10.0)
    assert [(lk.start, lk.queries, lk.outcome) for lk in lookups] == [
        (10.0, 1, "SERVFAIL"),
        (13.0, 1, "NOERROR"),
    ]
    # (on the same socket as well: the fast path keeps the same limit)
    txns[1] = txn(13.0, name, "AAAA", "DATA", port=40000, id=9)
    lookups, _ = run(txns, grace=10.0)
    assert [(lk.start, lk.queries) for lk in lookups] == [(10.0, 1), (13.0, 1)]


def test_infer_ndots_leaves_a_client_explained_upper_bound_out_of_the_shared_one():
    """CLIENT searches a 3-dot name first (ndots at least 4), POD1 tries a 2-dot name as-is
    first (ndots at most 2): POD1 gets 2 of its own, so the shared ndots keeps the
    Kubernetes default 5 rather than being pulled down to 4."""
    txns = getaddrinfo(
        1.0,
        [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("a.b.c.d")]
        + [("a.b.c.d.", "DATA", "DATA")],
    )
    txns += getaddrinfo(
        2.0,
        [("maku.broken.com.", "NXDOMAIN", "NXDOMAIN")]
        + [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("maku.broken.com")],
        client=POD1,
    )
    inferred = infer_configs(txns)
    config, per_client = inferred.config, inferred.ndots
    assert config == ResolverConfig(search=SUFFIXES, ndots=5, source="inferred from traffic")
    assert per_client == {POD1: 2}


def test_on_lookup_receives_what_feed_would_return():
    """With `on_lookup`, feed, expire and flush hand the lookups over and return nothing;
    the lookups are the same as those returned without it."""
    txns = walkthrough(1.0) + walkthrough(40.0, port=41000, id=300) + storm(3, every=2.0)
    expected, _ = run_completed(txns, streaming=False)
    got = []
    builder = LookupBuilder(K8S, on_lookup=got.append)
    returned = [lk for t in sorted(txns, key=completion) for lk in builder.feed(t)]
    returned += builder.expire(1000.0)
    returned += builder.flush()
    assert returned == []
    assert sorted(got, key=lambda lk: (lk.start, lk.client)) == expected


def test_another_lookup_of_a_name_while_a_query_of_it_is_pending():
    """A chatty pod asks a name again while the first lookup's A is still unanswered
    (glibc resends it 5 s later on the same socket, with the same id, and gets data).
    Fed as sent, the pending A might still be resent as a new transaction (Go), but not
    before the resolver's timeout: the second question 2.5 s later is another lookup."""
    name = "web.default.svc.cluster.local."
    txns = [
        txn(10.0, name, "A", "DATA", port=40000, id=1, retransmits=1),
        txn(10.000006, name, "AAAA", "NODATA", port=40000, id=2),
        txn(12.5, name, "A", "DATA", port=41000, id=9),
        txn(12.500006, name, "AAAA", "NODATA", port=41000, id=10),
    ]
    lookups, _ = run(txns)
    assert [(lk.start, lk.name, lk.queries, lk.wasted_queries) for lk in lookups] == [
        (10.0, "web.", 3, 1),
        (12.5, "web.", 2, 0),
    ]


def test_tcp_retry_before_the_other_udp_reply_came():
    """glibc retries the step over TCP as soon as one UDP reply is truncated, before the
    other's reply is in (it comes later, truncated too): one lookup of four queries."""
    name = "tc.example.org."
    txns = [
        txn(10.0, name, "A", "DATA", port=40000, id=1, tc=True),
        txn(10.000006, name, "AAAA", "DATA", port=40000, id=2, tc=True, rtt=0.01),
        txn(10.0005, name, "A", "DATA", port=40001, id=1, tcp=True),
        txn(10.0006, name, "AAAA", "DATA", port=40001, id=2, tcp=True),
    ]
    (lookup,), _ = run(txns, parse_resolv_conf("nameserver 10.96.0.10\n", "r"))
    assert (lookup.name, lookup.queries, lookup.wasted_queries) == (name, 4, 2)


def test_an_evicted_chain_counts_its_pending_queries_resends():
    """Fed as sent, a chain evicted while a query of it is still pending (and resent)
    is reported at once with every transmission so far."""
    got = []
    builder = LookupBuilder(K8S, max_chains_per_client=1, on_lookup=got.append)
    correlator = Correlator(on_query=builder.sent)
    flow = Flow(Transport.UDP, CLIENT, 40000, SERVER, 53)
    correlator.feed(message(10.0, flow, 1, "a.", 1, qr=False))
    correlator.feed(message(15.0, flow, 1, "a.", 1, qr=False))  # the resend
    other = Flow(Transport.UDP, CLIENT, 40001, SERVER, 53)
    correlator.feed(message(15.5, other, 2, "b.", 1, qr=False))  # evicts the first chain
    (evicted,) = got  # at once, before the end
    builder.flush()
    assert evicted.name == "a." and len(got) == 2
    assert (evicted.queries, evicted.chain[0].status) == (2, Status.PENDING)
    assert builder.stats.chains_evicted == 1


def test_a_search_domain_the_sample_did_not_show_is_learnt_from_a_later_walk():
    """Inferred configuration: the first 17 s (the sample) show walks through three
    search domains only; a walk later goes on to the pod's fourth before the name as-is.
    The client learns that domain and the walk stays one lookup, as with resolv.conf."""
    txns = []
    for i, base in enumerate(("a.b", "c.d", "e.f")):
        steps = [(f"{base}.{s}.", "NXDOMAIN", "NXDOMAIN") for s in SUFFIXES[:2]]
        steps.append((f"{base}.{SUFFIXES[2]}.", "DATA", "DATA"))
        txns += getaddrinfo(1.0 + i, steps, port=40000 + 10 * i, id=100 + 10 * i)
    steps = [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("nope")]
    txns += getaddrinfo(30.0, [*steps, ("nope.", "NXDOMAIN", "NXDOMAIN")], port=41000, id=300)
    given, _ = run(txns)
    inferred, builder = run(txns, None)
    assert builder.config.search == SUFFIXES[:3]

    def summary(lookups):
        return [(lk.name, lk.queries, lk.wasted_queries, lk.outcome) for lk in lookups]

    assert summary(inferred) == summary(given)
    assert summary(inferred)[-1] == ("nope.", 10, 8, "NXDOMAIN")
    assert builder.stats.domains_learnt == {SUFFIXES[3]: 1}


def test_no_search_domain_is_learnt_from_a_name_asked_later():
    """A name `<walked base>.<other suffix>` asked a second after the walk is another
    lookup, not a search step."""
    steps = [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("nope")[:3]]
    txns = getaddrinfo(1.0, [*steps, ("nope.", "NXDOMAIN", "NXDOMAIN")])
    txns += getaddrinfo(2.0, [("nope.example.org.", "DATA", "DATA")], port=41000, id=300)
    lookups, builder = run(txns, None)
    assert builder.stats.domains_learnt == {}
    assert [lk.name for lk in lookups][-1] == "nope.example.org."


def test_a_finished_lookup_is_handed_over_half_a_second_after_its_answers():
    """Fed as sent, idle chains are closed at each quarter second of packet time: a
    finished lookup leaves the builder (and frees its transactions) at the first quarter
    past `grace` after its last answer, not at the next whole second."""
    lookup_txns = walkthrough(1000.1)
    last_answer = max(t.response.ts for t in lookup_txns)
    later = txn(1000.6, "web.default.svc.cluster.local.", "A", "DATA", client=CLIENT2, id=7)
    builder = LookupBuilder(K8S)
    handed = []  # (packet time, lookup name)
    correlator = Correlator(
        on_query=lambda t: handed.extend((t.ts, lk.name) for lk in builder.sent(t))
    )
    for m in packets_of([*lookup_txns, later]):
        for done in correlator.feed(m):
            handed.extend((m.ts, lk.name) for lk in builder.done(done))
    assert last_answer + builder.grace < 1000.5 < later.ts
    # the later query is the first packet past the 1000.5 tick: it closes the walk
    assert handed == [(later.ts, "google.com.")]


def test_queued_hooks_need_on_lookup():
    # lookups come out when a batch is applied, inside the pipeline's hooks: nowhere to
    # return them
    with pytest.raises(ValueError, match="needs on_lookup"):
        LookupBuilder(K8S).hooks()
