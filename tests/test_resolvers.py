"""The candidate names each resolver sends, and when each one stops."""

from __future__ import annotations

import pytest

from dnssniff.resolvconf import ResolverConfig
from dnssniff.resolvers import (
    PlannedQuery,
    candidate_names,
    continues_after,
    count_dots,
    is_absolute,
    planned_queries,
)

K8S = ResolverConfig(
    search=(
        "default.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
        "us-central1-c.c.myproject.internal",
    ),
    ndots=5,
)


def names(plan):
    return [p.name for p in plan]


def test_glibc_walkthrough_search_first():
    plan = planned_queries("google.com", K8S, "glibc")
    assert plan == [
        PlannedQuery(
            "google.com.default.svc.cluster.local.",
            ("A", "AAAA"),
            "fewer than 5 dots: search list first (1/4)",
        ),
        PlannedQuery(
            "google.com.svc.cluster.local.",
            ("A", "AAAA"),
            "fewer than 5 dots: search list first (2/4)",
        ),
        PlannedQuery(
            "google.com.cluster.local.", ("A", "AAAA"), "fewer than 5 dots: search list first (3/4)"
        ),
        PlannedQuery(
            "google.com.us-central1-c.c.myproject.internal.",
            ("A", "AAAA"),
            "fewer than 5 dots: search list first (4/4)",
        ),
        PlannedQuery("google.com.", ("A", "AAAA"), "as-is last"),
    ]


def test_trailing_dot_is_as_is_only_for_every_resolver():
    for resolver in ("glibc", "musl", "go", "dig+search"):
        plan = planned_queries("google.com.", K8S, resolver)
        assert names(plan) == ["google.com."]
        assert plan[0].reason == "trailing dot: tried as-is only"


def test_enough_dots_glibc_as_is_first_then_search():
    plan = planned_queries("a.b.c.d.e.f", K8S, "glibc")
    assert names(plan) == [
        "a.b.c.d.e.f.",
        "a.b.c.d.e.f.default.svc.cluster.local.",
        "a.b.c.d.e.f.svc.cluster.local.",
        "a.b.c.d.e.f.cluster.local.",
        "a.b.c.d.e.f.us-central1-c.c.myproject.internal.",
    ]
    assert plan[0].reason == "5 dots >= ndots:5: as-is first"
    assert plan[1].reason == "search list 1/4 after as-is"


def test_musl_no_search_with_enough_dots():
    plan = planned_queries("a.b.c.d.e.f", K8S, "musl")
    assert plan == [
        PlannedQuery(
            "a.b.c.d.e.f.", ("A", "AAAA"), "5 dots >= ndots:5: musl tries it as-is only, no search"
        )
    ]
    assert names(planned_queries("google.com", K8S, "musl")) == names(
        planned_queries("google.com", K8S, "glibc")
    )


def test_go_orders_like_glibc():
    assert planned_queries("google.com", K8S, "go") == planned_queries("google.com", K8S, "glibc")


def test_dig_and_dig_search():
    assert planned_queries("web", K8S, "dig") == [
        PlannedQuery("web.", ("A",), "dig does not use the search list: as-is only")
    ]
    plan = planned_queries("web", K8S, "dig+search")
    assert names(plan) == [
        "web.default.svc.cluster.local.",
        "web.svc.cluster.local.",
        "web.cluster.local.",
        "web.us-central1-c.c.myproject.internal.",
        "web.",
    ]
    assert {p.qtypes for p in plan} == {("A",)}


def test_nslookup_documents_aaaa():
    plan = planned_queries("web", K8S, "nslookup")
    assert plan[0].qtypes == ("A",)
    assert plan[-1].reason == "as-is last; AAAA only for the name that answers"


def test_ndots_one_and_no_search():
    config = ResolverConfig(search=("svc.cluster.local",), ndots=1)
    assert names(planned_queries("google.com", config)) == [
        "google.com.",
        "google.com.svc.cluster.local.",
    ]
    assert names(planned_queries("web", config)) == ["web.svc.cluster.local.", "web."]
    plan = planned_queries("web", ResolverConfig())
    assert plan == [PlannedQuery("web.", ("A", "AAAA"), "no search list: tried as-is only")]


def test_unknown_resolver_is_an_error():
    with pytest.raises(ValueError, match="unknown resolver 'bind'"):
        planned_queries("x", K8S, "bind")
    with pytest.raises(ValueError, match="unknown resolver"):
        continues_after("bind", "NXDOMAIN")


@pytest.mark.parametrize(
    ("resolver", "result", "expected"),
    [
        ("glibc", "NXDOMAIN", True),
        ("glibc", "NODATA", True),
        ("glibc", "SERVFAIL", True),
        ("glibc", "REFUSED", False),
        ("glibc", "TIMEOUT", False),
        ("glibc", "NOERROR", False),
        ("musl", "NXDOMAIN", True),
        ("musl", "NODATA", False),
        ("musl", "SERVFAIL", False),
        ("go", "SERVFAIL", True),
        ("go", "TIMEOUT", True),
        ("go", "NOERROR", False),
        ("dig", "NXDOMAIN", False),
        ("dig+search", "NXDOMAIN", True),
        ("nslookup", "nxdomain", True),
    ],
)
def test_continues_after(resolver, result, expected):
    assert continues_after(resolver, result) is expected


def test_name_helpers():
    assert is_absolute("a.b.")
    assert not is_absolute("a.b")
    assert not is_absolute("a\\.")
    assert is_absolute("a\\\\.")
    assert count_dots("a.b.c") == 2
    assert count_dots("a\\.b.c") == 1
    assert candidate_names("a\\.b", K8S)[-1] == "a\\.b"
    assert candidate_names("x", ResolverConfig(search=("s",), ndots=0)) == ["x", "x.s"]
