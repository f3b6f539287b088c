"""Replaying lookups under another resolver configuration, with exact counts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_lookups import (
    GAP,
    K8S,
    RTT,
    expansions,
    getaddrinfo,
    run,
    storm,
    txn,
    walkthrough,
)

from dnssniff.resolvconf import ResolverConfig
from dnssniff.whatif import advice, best_ndots, replay


def getent_hosts(t0=2000.0):
    names = [*expansions("httpd-example"), "httpd-example."]
    txns = [
        txn(t0 + i * GAP, n, "AAAA", "NODATA" if i == 0 else "NXDOMAIN", port=41000 + i, id=i)
        for i, n in enumerate(names)
    ]
    txns.append(txn(t0 + 5 * GAP, names[0], "A", "DATA", port=41005, id=9))
    return txns


def lookups_of(txns):
    return run(txns)[0]


def test_same_config_reproduces_what_was_seen():
    lookups = lookups_of(walkthrough() + getent_hosts())
    same = replay(lookups, K8S)
    assert (same.queries_before, same.queries_after) == (16, 16)
    assert same.saved == 0
    assert same.unreachable == 0
    # the model charges each extra step the mean NXDOMAIN RTT (0.4 ms here), not the
    # 0.5 ms the resolver really spent between steps: 4 + 5 extra steps
    assert same.wasted_time_before == pytest.approx(9 * GAP)
    assert same.wasted_time_after == pytest.approx(9 * RTT)


def test_fqdn_walkthrough_saves_eight_of_ten():
    (lookup,) = lookups_of(walkthrough())
    result = replay([lookup], K8S, fqdn=True)
    assert (result.queries_before, result.queries_after) == (10, 2)
    assert result.wasted_time_after == 0.0
    assert result.label == "use the answer names with a trailing dot"
    (row,) = result.per_name
    assert (row.name, row.answer_name, row.lookups) == ("google.com.", "google.com.", 1)
    assert (row.queries_before, row.queries_after, row.queries_fqdn) == (10, 2, 2)


def test_getent_hosts_passes_are_modelled():
    (lookup,) = lookups_of(getent_hosts())
    assert replay([lookup], K8S, fqdn=True).queries_after == 2
    # ndots:1 changes nothing for a name without dots: the AAAA pass still walks all five
    assert replay([lookup], replace(K8S, ndots=1)).queries_after == 6


def test_lower_ndots_for_external_name():
    (lookup,) = lookups_of(walkthrough())
    result = replay([lookup], replace(K8S, ndots=1))
    assert result.queries_after == 2
    assert result.label == (
        "ndots:1, search default.svc.cluster.local svc.cluster.local"
        " cluster.local us-central1-c.c.myproject.internal"
    )
    (row,) = result.per_name
    assert row.wasted_time_after == 0.0


def test_wasted_time_after_uses_mean_nxdomain_rtt():
    (lookup,) = lookups_of(walkthrough())
    shorter = ResolverConfig(search=("default.svc.cluster.local", "svc.cluster.local"), ndots=5)
    result = replay([lookup], shorter)
    assert result.queries_after == 6
    rtt = lookup.chain[0].rtt
    assert result.wasted_time_after == pytest.approx(2 * rtt)
    assert result.unreachable == 0


def test_search_list_without_the_answer_domain_is_unreachable():
    (lookup,) = lookups_of(getent_hosts())
    result = replay([lookup], ResolverConfig(search=("cluster.local",), ndots=5))
    assert result.unreachable == 1
    assert result.per_name[0].unreachable == 1


def test_retransmissions_of_the_useful_query_stay():
    txns = walkthrough()
    last = txns[-1]
    txns[-1] = txn(last.ts, "google.com.", "AAAA", "DATA", port=40008, id=109, retransmits=1)
    (lookup,) = lookups_of(txns)
    assert replay([lookup], K8S, fqdn=True).queries_after == 3


def test_musl_replay_stops_at_nodata():
    steps = [
        ("web.default.svc.cluster.local.", "NXDOMAIN", "NXDOMAIN"),
        ("web.svc.cluster.local.", "NODATA", "NODATA"),
    ]
    (lookup,) = lookups_of(getaddrinfo(10.0, steps))
    assert replay([lookup], K8S, "musl").queries_after == 4
    # glibc would go on past NODATA through the rest of the list (assumed NXDOMAIN)
    assert replay([lookup], K8S, "glibc").queries_after == 10


def test_storm_totals_and_advice():
    lookups = lookups_of(storm(500, every=0.02) + walkthrough(5000.0))
    fqdn = replay(lookups, K8S, fqdn=True)
    assert (fqdn.lookups, fqdn.queries_before, fqdn.queries_after) == (501, 5010, 1002)
    assert [(r.name, r.lookups, r.queries_before) for r in fqdn.per_name] == [
        ("nosuch.", 500, 5000),
        ("google.com.", 1, 10),
    ]
    change = best_ndots(lookups, K8S)
    assert change is not None
    assert change.label == "set dnsConfig options ndots: 1"
    assert change.queries_after == 5002
    assert advice(fqdn.per_name, change=change) == [
        "set dnsConfig options ndots: 1: saves 8 of 5,010 queries (0%) in this capture",
        "use 'nosuch.' (trailing dot): saves 8 of 10 queries per lookup; 4,000 in this capture",
        "use 'google.com.' (trailing dot): saves 8 of 10 queries per lookup; 8 in this capture",
    ]


def test_advice_for_walkthrough_and_in_cluster_name():
    lookups = lookups_of(walkthrough() + getent_hosts())
    result = replay(lookups, replace(K8S, ndots=1))
    assert advice(result.per_name, limit=1) == [
        "use 'google.com.' (trailing dot): saves 8 of 10 queries per lookup; 8 in this capture"
    ]
    assert advice(result.per_name)[1] == (
        "use 'httpd-example.default.svc.cluster.local.' (trailing dot): saves 4 of 6 queries"
        " per lookup; 4 in this capture"
    )
    change = best_ndots(lookups, K8S)
    # google.com has one dot: only ndots:1 sends it as-is first
    assert change is not None and change.label == "set dnsConfig options ndots: 1"
    assert advice([], change=change) == [
        "set dnsConfig options ndots: 1: saves 8 of 16 queries (50%) in this capture"
    ]
    two = replace(K8S, ndots=2)
    lookups += lookups_of(
        getaddrinfo(
            3000.0,
            [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("api.github.com")]
            + [("api.github.com.", "DATA", "DATA")],
            port=9000,
        )
    )
    assert best_ndots(lookups, K8S).label == "set dnsConfig options ndots: 1"
    assert replay(lookups, two).queries_after == 16 + 2


def test_no_advice_when_nothing_to_save():
    lookups = lookups_of(getaddrinfo(1.0, [("google.com.", "DATA", "DATA")]))
    assert advice(replay(lookups, K8S).per_name) == []
    assert best_ndots(lookups, K8S) is None


def test_best_ndots_prefers_the_smallest_change():
    steps = [(n, "NXDOMAIN", "NXDOMAIN") for n in expansions("api.github.com")]
    steps.append(("api.github.com.", "DATA", "DATA"))
    lookups = lookups_of(getaddrinfo(1.0, steps))
    change = best_ndots(lookups, K8S)
    assert change is not None
    assert change.label == "set dnsConfig options ndots: 2"
    assert (change.queries_before, change.queries_after) == (10, 2)


def test_pods_of_another_namespace_replay_with_their_own_search_list():
    from test_lookups import shop_expansions

    steps = [(n, "NXDOMAIN", "NXDOMAIN") for n in shop_expansions("google.com")]
    steps.append(("google.com.", "DATA", "DATA"))
    txns = getaddrinfo(10.0, steps)
    txns += getaddrinfo(11.0, [("redis.shop.svc.cluster.local.", "DATA", "NODATA")], port=41000)
    txns.append(txn(12.0, "kubernetes.default.svc.cluster.local.", "A", "DATA", port=43000))
    lookups = lookups_of(txns)
    same = replay(lookups, K8S)
    assert (same.queries_before, same.queries_after, same.unreachable) == (13, 13, 0)
    # ndots:1: google.com is tried as-is first; redis still finds shop's service; the
    # FQDN stays one query
    lower = replay(lookups, replace(K8S, ndots=1))
    assert (lower.queries_after, lower.unreachable) == (2 + 2 + 1, 0)
