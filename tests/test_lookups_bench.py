"""`lookups` against the benchmark generator's per-lookup ground truth.

The generator (`bench/gen_capture.py`) plans every lookup itself, so it knows what each
application asked and what it cost: 400 pods in 8 namespaces (so 8 different first search
domains), glibc walks with A and AAAA on one socket, chatty pods running lookups of the
same name at once, retransmissions after 5 s, unanswered queries, TCP retries, FQDNs
asked for A alone. The builder infers the search list itself, as `dnssniff lookups` does
without --resolv-conf.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from dnssniff.api import analyze_file, lookups_of_file
from dnssniff.lookups import LookupBuilder
from dnssniff.pipeline import AnalyzerOptions
from dnssniff.report.lookups import lookup_json
from tests.support.bench import load_generator

PACKETS = 20_000


gen = load_generator()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    pcap, truth_path = folder / "pods.pcap", folder / "lookups.jsonl"
    summary = gen.generate(pcap, PACKETS, seed=3, truth_lookups=truth_path)
    truth = [json.loads(line) for line in truth_path.read_text().splitlines()]
    got = []
    _, builder = lookups_of_file(pcap, None, got.append)
    return summary, truth, got, builder, (pcap,)


def _as_asked(name: str) -> str:
    return name if name.endswith(".") else name + "."


def test_truth_file_has_one_line_per_lookup(generated) -> None:
    summary, truth, _, _, _ = generated
    assert len(truth) == summary.lookups
    assert sum(t["queries"] for t in truth) == summary.queries
    assert set(truth[0]) == set(gen.LOOKUP_TRUTH_FIELDS)
    kinds = Counter(t["name"] for t in truth)
    assert kinds["redis"] > 0 and kinds["google.com"] > 0 and kinds[gen.BIG_NAME] > 0


def test_truth_does_not_change_the_capture(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    gen.generate(a, 3000, seed=5)
    gen.generate(b, 3000, seed=5, truth_lookups=tmp_path / "t.jsonl")
    assert a.read_bytes() == b.read_bytes()


def test_lookups_are_reconstructed_exactly(generated) -> None:
    _, truth, got, builder, _ = generated
    assert builder.config.search[1:] == (
        "svc.cluster.local",
        "cluster.local",
        "us-central1-c.c.myproject.internal",
    )
    assert builder.config.ndots == 5
    _assert_exact(truth, got)


def test_lookups_are_exact_past_the_inference_sample(generated) -> None:
    """After the inference sample (the first `reorder` seconds, 17 by default: longer than
    this capture) every query is matched as it is sent. A 2 s sample puts most of the
    capture on that path."""
    _, truth, _, _, pcaps = generated
    got = []
    builder = LookupBuilder(None, on_lookup=got.append, reorder=2.0)
    options = replace(AnalyzerOptions(), tally=False)
    analyze_file(pcaps[0], options, builder.done, builder.sent)
    builder.flush()
    assert builder.config.ndots == 5
    assert builder.stats.transactions > 0
    _assert_exact(truth, got)


@pytest.mark.parametrize("max_open", [100_000, 400])
@pytest.mark.parametrize("reorder", [17.0, 2.0])
def test_batches_give_the_lookups_of_one_event_at_a_time(generated, max_open, reorder) -> None:
    """`lookups_of_file` queues the correlator's events and applies them in batches: by
    then the correlator has answered or resent some transactions a batch still shows
    pending. The lookups (every field, every transaction of every chain) must be those of
    `sent` and `done` called one event at a time, whatever the batch size. A `max_open` of
    400 evicts chains with queries still pending: they show as they stood."""
    pcap = generated[4][0]
    options = replace(AnalyzerOptions(), tally=False)
    direct: list = []
    builder = LookupBuilder(None, reorder=reorder, max_open=max_open)
    analyze_file(
        pcap,
        options,
        lambda t: direct.extend(builder.done(t)),
        lambda t: direct.extend(builder.sent(t)),
    )
    direct.extend(builder.flush())
    expected = [lookup_json(lk) for lk in direct]
    assert len(expected) > 1000
    if max_open < 100_000:
        assert builder.stats.chains_evicted + builder.stats.forced > 0
        assert any('"status": "pending"' in line for line in expected)

    for batch in (1, 7, 256, 10**9):
        got: list = []

        def setup(b: LookupBuilder, batch: int = batch) -> None:
            b.batch, b.reorder, b.max_open = batch, reorder, max_open

        lookups_of_file(pcap, None, got.append, None, setup)
        assert [lookup_json(lk) for lk in got] == expected, batch


def _assert_exact(truth: list[dict], got: list) -> None:
    # Lookups start at the generator's planned time (its first query), per client.
    found = {(lk.client, round(lk.start * 1e6)): lk for lk in got}
    exact = 0
    misses = []
    for t in truth:
        lk = found.get((t["client"], round(t["start"] * 1e6)))
        if lk is not None and (lk.name, lk.queries, lk.wasted_queries) == (
            _as_asked(t["name"]),
            t["queries"],
            t["wasted_queries"],
        ):
            exact += 1
        else:
            misses.append((t, lk and (lk.name, lk.queries, lk.wasted_queries)))
    assert exact >= 0.99 * len(truth), misses[:5]
    assert abs(len(got) - len(truth)) <= 0.01 * len(truth)


def test_totals_and_outcomes_match(generated) -> None:
    _, truth, got, _, _ = generated
    assert sum(lk.queries for lk in got) == sum(t["queries"] for t in truth)
    wasted = sum(t["wasted_queries"] for t in truth)
    assert abs(sum(lk.wasted_queries for lk in got) - wasted) <= 0.01 * wasted
    outcomes = Counter(t["outcome"] for t in truth)
    assert Counter(lk.outcome for lk in got) == outcomes
    # the generator imitates glibc (A+AAAA on one socket) and A-only FQDN checks
    assert set(Counter(lk.resolver for lk in got)) <= {"glibc", "dig"}


def test_namespaces_are_read_per_pod(generated) -> None:
    _, _, got, _, _ = generated
    in_cluster = [lk for lk in got if lk.name in ("redis.", "api.", "kafka.")]
    assert in_cluster
    for lk in in_cluster:
        assert lk.answer_name == f"{lk.name}{lk.namespace}.svc.cluster.local."
    # ("" for FQDN lookups of a pod before its first search walk showed its namespace)
    assert {lk.namespace for lk in got} - {""} == {ns for ns, _ in gen.NAMESPACES}
