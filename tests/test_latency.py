"""Percentiles: exact on small inputs, within 1% in bounded memory on large ones."""

from __future__ import annotations

import random

import pytest

from dnssniff.latency import LatencyDigest


def test_exact_nearest_rank():
    d = LatencyDigest()
    for v in range(1, 101):
        d.add(v / 1000)
    s = d.summary()
    assert (s["p50"], s["p90"], s["p99"], s["max"]) == (0.05, 0.09, 0.099, 0.1)


def test_empty():
    assert LatencyDigest().summary()["p50"] is None


def test_histogram_mode_is_within_one_percent_and_bounded():
    rng = random.Random(7)
    values = [rng.lognormvariate(-6, 1.2) for _ in range(50_000)]
    d = LatencyDigest(exact_limit=1000)
    for v in values:
        d.add(v)
    assert not d.exact and len(d._buckets) < 3000 and len(d._batch) <= 1000
    values.sort()
    for q in (50, 90, 99):
        true = values[int(q / 100 * len(values)) - 1]
        assert d.percentile(q) == pytest.approx(true, rel=0.011)
    assert d.summary()["max"] == values[-1]
