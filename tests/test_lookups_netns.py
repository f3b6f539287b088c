"""`dnssniff lookups` against real resolvers (glibc, musl, dig, nslookup, Python) in a pod.

Each client command runs in a network-namespace pod whose DNS server logs every query it
receives (dropped ones too, with source port and id). The same run is captured at once on
the pod's eth0 and with `tcpdump -i any` on the node (every packet twice there), and for each
command the test asserts: exactly one lookup, its chain stands for exactly the transmissions
in the server log, and its name, queries, wasted queries and outcome are the expected ones.
The pod is built once per module; all commands of a resolv.conf run in one capture, ~1 s
apart. Packets stay inside namespaces the test creates; everything is removed at the end.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dnssniff.api import lookups_of_file
from dnssniff.cli import app
from dnssniff.resolvconf import parse_resolv_conf

try:
    from tests.support import scenarios as sc
    from tests.support.netns import DEFAULT_SEARCH, PodNetwork, netns_available
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from support import scenarios as sc  # type: ignore[no-redef]
    from support.netns import DEFAULT_SEARCH, PodNetwork, netns_available  # type: ignore[no-redef]

pytestmark = pytest.mark.netns

KINDS = ("pod-eth0", "node-any")
EXACT_TARGET = 0.95
MUSL_PLACEHOLDER = "musl_resolve"
# Commands listed at collection time (musl ones included: they skip when it cannot be built).
WALK_COMMANDS = [c for c in sc.walkthrough_commands(MUSL_PLACEHOLDER) if isinstance(c, sc.Command)]
NDOTS1_COMMANDS = [c for c in sc.ndots1_commands() if isinstance(c, sc.Command)]

# Where dnssniff is wrong today: the test asserts the correct behaviour and is expected to
# fail. (Empty: glibc's immediate SERVFAIL resend, once eaten by dedupe on node captures, is
# now told from a copy by the interface it was captured on.)
KNOWN_BUGS: dict[str, str] = {}


@dataclass(slots=True)
class Phase:
    """One resolv.conf's run: the recording and the pod's resolv.conf as the pod saw it."""

    recording: sc.Recording
    resolv_conf: Path
    _cache: dict[tuple[str, bool], list[dict[str, Any]]] = field(default_factory=dict)

    def lookups(self, kind: str, given: bool = True) -> list[dict[str, Any]]:
        """dnssniff's lookup records for one capture, with --resolv-conf or inferred."""
        key = (kind, given)
        if key not in self._cache:
            args = ["--resolv-conf", str(self.resolv_conf)] if given else []
            self._cache[key] = run_lookups(self.recording.captures[kind], *args)
        return self._cache[key]


@dataclass(slots=True)
class World:
    walk: Phase
    ndots1: Phase
    musl: str | None
    musl_reason: str
    wall: dict[str, float]


def run_lookups(path: Path, *args: str) -> list[dict[str, Any]]:
    """`dnssniff lookups PATH --format jsonl ARGS`, in-process; the "lookup" records."""
    result = CliRunner().invoke(app, ["lookups", str(path), "--format", "jsonl", *args])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [r for r in rows if r["type"] == "lookup"]


def pod_resolv_conf(net: PodNetwork, pod: int, dest: Path) -> Path:
    """The resolv.conf as the pod's own programs read it."""
    dest.write_text(net.run(["cat", "/etc/resolv.conf"], pod=pod).stdout, encoding="ascii")
    return dest


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    reason = netns_available()
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    work = tmp_path_factory.mktemp("lookups-netns")
    musl, musl_reason = sc.build_musl(work)
    with PodNetwork("dnssniff-lk", pods=2) as net:
        # Pod 1 reads ndots:1 (`ip netns exec` binds /etc/netns/<ns>/resolv.conf per run).
        ndots1 = net.resolv_conf().replace("ndots:5", "ndots:1")
        (Path("/etc/netns") / net.pods[1].netns / "resolv.conf").write_text(ndots1, "ascii")
        net.start_dns(sc.ZONE)
        walk_conf = pod_resolv_conf(net, 0, work / "walk-resolv.conf")
        ndots1_conf = pod_resolv_conf(net, 1, work / "ndots1-resolv.conf")
        walk = sc.record(
            net,
            sc.walkthrough_commands(musl),
            {"pod-eth0": work / "walk-pod.pcap", "node-any": work / "walk-node.pcap"},
        )
        nd1 = sc.record(
            net,
            sc.ndots1_commands(),
            {"pod1-eth0": work / "ndots1-pod.pcap", "node-any": work / "ndots1-node.pcap"},
            pod=1,
        )
    nd1.captures["pod-eth0"] = nd1.captures.pop("pod1-eth0")
    nd1.capture_stats["pod-eth0"] = nd1.capture_stats.pop("pod1-eth0")
    recorded = time.monotonic()
    return World(
        Phase(walk, walk_conf),
        Phase(nd1, ndots1_conf),
        musl,
        musl_reason,
        {"record": recorded - started},
    )


def ran_of(world: World, label: str) -> tuple[Phase, sc.Ran]:
    for phase in (world.walk, world.ndots1):
        for ran in phase.recording.ran:
            if ran.command.label == label:
                return phase, ran
    raise LookupError(label)


def command_params(commands: list[sc.Command]) -> list[Any]:
    params = []
    for kind in KINDS:
        for cmd in commands:
            marks = []
            bug = KNOWN_BUGS.get(cmd.label) or KNOWN_BUGS.get(f"{kind}:{cmd.label}")
            if bug:
                marks.append(pytest.mark.xfail(strict=True, reason=bug))
            params.append(pytest.param(kind, cmd.label, marks=marks, id=f"{kind}-{cmd.label}"))
    return params


# -- the recording itself --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_captures_lost_nothing(world: World, kind: str) -> None:
    for phase in (world.walk, world.ndots1):
        captured, dropped = phase.recording.capture_stats[kind]
        assert dropped == 0
        assert captured is not None and captured > 0


def test_pods_read_their_resolv_conf(world: World) -> None:
    search = "search " + " ".join(DEFAULT_SEARCH)
    assert world.walk.resolv_conf.read_text(encoding="ascii") == (
        f"{search}\nnameserver 10.244.1.53\noptions ndots:5\n"
    )
    assert world.ndots1.resolv_conf.read_text(encoding="ascii") == (
        f"{search}\nnameserver 10.244.1.53\noptions ndots:1\n"
    )


def test_every_command_succeeded_or_failed_as_it_should(world: World) -> None:
    codes = {}
    for phase in (world.walk, world.ndots1):
        for ran in phase.recording.ran:
            codes.setdefault(ran.group, ran.returncode)
    want_fail = {"musl-shadow": 2}  # musl: "Name does not resolve" at the NODATA
    assert codes == {label: want_fail.get(label, 0) for label in codes}


# -- what the real resolvers sent (the server's log; dnssniff must match it) -----------------


def asked(world: World, label: str) -> list[tuple[str, str, str, str | None]]:
    phase, ran = ran_of(world, label)
    return [
        (q["proto"], q["qname"], q["qtype"], q["rcode"])
        for q in sc.log_of(ran, phase.recording.log)
    ]


def expansions(base: str) -> list[str]:
    return [f"{base}.{suffix}." for suffix in DEFAULT_SEARCH]


def test_nslookup_walks_a_then_asks_aaaa_at_the_answer(world: World) -> None:
    walk = [("udp", n, "A", "NXDOMAIN") for n in expansions("google.com")]
    assert asked(world, "nslookup-google") == [
        *walk,
        ("udp", "google.com.", "A", "NOERROR"),
        ("udp", "google.com.", "AAAA", "NOERROR"),
    ]
    phase, ran = ran_of(world, "nslookup-google")
    ports = [q["client_port"] for q in sc.log_of(ran, phase.recording.log)]
    assert len(set(ports)) == 6  # a socket per query


def test_dig_sends_one_query_and_dig_search_walks_for_a(world: World) -> None:
    assert asked(world, "dig-google") == [("udp", "google.com.", "A", "NOERROR")]
    assert asked(world, "dig-search-google") == [
        *[("udp", n, "A", "NXDOMAIN") for n in expansions("google.com")],
        ("udp", "google.com.", "A", "NOERROR"),
    ]


def test_glibc_goes_past_nodata(world: World) -> None:
    assert asked(world, "getent-v4only") == [
        ("udp", "v4only.default.svc.cluster.local.", "A", "NOERROR"),
        ("udp", "v4only.default.svc.cluster.local.", "AAAA", "NOERROR"),  # NODATA
    ]
    assert asked(world, "getent-shadow") == [
        ("udp", "shadow.default.svc.cluster.local.", "A", "NOERROR"),  # NODATA
        ("udp", "shadow.default.svc.cluster.local.", "AAAA", "NOERROR"),  # NODATA
        ("udp", "shadow.svc.cluster.local.", "A", "NOERROR"),
        ("udp", "shadow.svc.cluster.local.", "AAAA", "NOERROR"),
    ]


def test_musl_stops_at_the_first_nodata(world: World) -> None:
    if world.musl is None:
        pytest.skip(world.musl_reason)
    assert asked(world, "musl-shadow") == [
        ("udp", "shadow.default.svc.cluster.local.", "A", "NOERROR"),
        ("udp", "shadow.default.svc.cluster.local.", "AAAA", "NOERROR"),
    ]
    assert asked(world, "musl-v4only") == asked(world, "getent-v4only")


def test_glibc_resends_the_pair_once_after_servfail(world: World) -> None:
    phase, ran = ran_of(world, "getent-servfail")
    log = sc.log_of(ran, phase.recording.log)
    first = "flaky.default.svc.cluster.local."
    assert [(q["qname"], q["qtype"], q["rcode"]) for q in log] == [
        (first, "A", "SERVFAIL"),
        (first, "AAAA", "SERVFAIL"),
        (first, "A", "SERVFAIL"),
        (first, "AAAA", "SERVFAIL"),
        ("flaky.svc.cluster.local.", "A", "NOERROR"),
        ("flaky.svc.cluster.local.", "AAAA", "NOERROR"),
    ]
    # The resend is the same questions on the same socket with the same ids.
    assert [(q["client_port"], q["id"]) for q in log[:2]] == [
        (q["client_port"], q["id"]) for q in log[2:4]
    ]


def test_glibc_resends_both_after_a_lost_aaaa(world: World) -> None:
    phase, ran = ran_of(world, "getent-lost-aaaa")
    log = sc.log_of(ran, phase.recording.log)
    tail = [(q["qname"], q["qtype"], q["rcode"], q.get("dropped", False)) for q in log[8:]]
    assert tail == [
        ("slow6.example.org.", "A", "NOERROR", False),
        ("slow6.example.org.", "AAAA", None, True),
        ("slow6.example.org.", "A", "NOERROR", False),  # answered, yet asked again
        ("slow6.example.org.", "AAAA", "NOERROR", False),
    ]
    assert 4.9 < log[10]["ts"] - log[9]["ts"] < 5.5  # glibc's 5 s timeout
    assert {(q["client_port"], q["id"]) for q in log[8:10]} == {
        (q["client_port"], q["id"]) for q in log[10:]
    }


def test_glibc_retries_truncated_answers_over_tcp(world: World) -> None:
    assert asked(world, "getent-truncated") == [
        ("udp", "tc.example.org.", "A", "NOERROR"),
        ("udp", "tc.example.org.", "AAAA", "NOERROR"),
        ("tcp", "tc.example.org.", "A", "NOERROR"),
        ("tcp", "tc.example.org.", "AAAA", "NOERROR"),
    ]


# -- dnssniff's lookups against that truth ----------------------------------------------------


@pytest.mark.parametrize(("kind", "label"), command_params(WALK_COMMANDS + NDOTS1_COMMANDS))
def test_command_is_one_exact_lookup(world: World, kind: str, label: str) -> None:
    phase, ran = ran_of_or_skip(world, label)
    lookups = phase.lookups(kind)
    problems = sc.mismatches(ran, lookups, phase.recording.log)
    evidence = [sc.chain_text(lk) for lk in sc.lookups_of(ran, lookups)]
    assert problems == [], evidence


def ran_of_or_skip(world: World, label: str) -> tuple[Phase, sc.Ran]:
    try:
        return ran_of(world, label)
    except LookupError:
        if label.startswith("musl-") and world.musl is None:
            pytest.skip(world.musl_reason)
        raise


@pytest.mark.parametrize("kind", KINDS)
def test_one_lookup_per_command_and_nothing_else(world: World, kind: str) -> None:
    for phase in (world.walk, world.ndots1):
        assert len(phase.lookups(kind)) == len(phase.recording.ran)


@pytest.mark.parametrize("kind", ["pod-eth0", "node-any"])
def test_lookups_count_every_query_the_server_received(world: World, kind: str) -> None:
    for phase in (world.walk, world.ndots1):
        lookups = phase.lookups(kind)
        assert sum(lk["queries"] for lk in lookups) == len(phase.recording.log)
        transmissions = sum((sc.chain_transmissions(lk) for lk in lookups), Counter())
        assert transmissions == sc.log_transmissions(phase.recording.log)


def only_lookup(world: World, kind: str, label: str) -> dict[str, Any]:
    phase, ran = ran_of(world, label)
    (lookup,) = sc.lookups_of(ran, phase.lookups(kind))
    return lookup


@pytest.mark.parametrize("kind", KINDS)
def test_lost_aaaa_is_one_lookup_with_its_retransmission(world: World, kind: str) -> None:
    lookup = only_lookup(world, kind, "getent-lost-aaaa")
    final = [
        (t["qtype"], t["rcode"], t["retransmits"])
        for t in lookup["chain"]
        if t["qname"] == "slow6.example.org."
    ]
    # The AAAA sent twice is one transaction with a retransmit; the A glibc asked again
    # although it had its answer is a second transaction (same port and id).
    assert final == [("A", "NOERROR", 0), ("AAAA", "NOERROR", 1), ("A", "NOERROR", 0)]
    assert lookup["queries"] == 12
    assert lookup["duration"] > 4.9


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_lookup_holds_udp_and_tcp_transactions(world: World, kind: str) -> None:
    lookup = only_lookup(world, kind, "getent-truncated")
    assert [(t["proto"], t["qtype"], t["tc"]) for t in lookup["chain"]] == [
        ("udp", "A", True),
        ("udp", "AAAA", True),
        ("tcp", "A", False),
        ("tcp", "AAAA", False),
    ]
    # The four A records came over TCP (dnspython shuffles their order on the wire).
    assert sorted(lookup["answers"]) == [f"10.100.0.{i}" for i in range(1, 5)]


@pytest.mark.parametrize("kind", KINDS)
def test_storm_is_200_nxdomain_lookups(world: World, kind: str) -> None:
    storm = [ran for ran in world.walk.recording.ran if ran.group == "storm"]
    assert len(storm) == sc.STORM_SIZE
    lookups = world.walk.lookups(kind)
    window = storm[0]
    mine = [lk for lk in lookups if sc.in_window(lk["start"], window)]
    assert len(mine) == sc.STORM_SIZE
    assert sorted(lk["name"] for lk in mine) == sorted(ran.command.base for ran in storm)
    assert Counter((lk["outcome"], lk["queries"], lk["wasted_queries"]) for lk in mine) == {
        ("NXDOMAIN", 10, 8): sc.STORM_SIZE
    }
    log = [q for q in world.walk.recording.log if sc.in_window(q["ts"], window)]
    assert len(log) == 10 * sc.STORM_SIZE
    assert sum(lk["queries"] for lk in mine) == len(log)
    assert sum((sc.chain_transmissions(lk) for lk in mine), Counter()) == sc.log_transmissions(log)


@pytest.mark.parametrize("kind", KINDS)
def test_resolv_conf_given_or_inferred_gives_the_same_lookups(world: World, kind: str) -> None:
    given = world.walk.lookups(kind, given=True)
    inferred = world.walk.lookups(kind, given=False)
    assert inferred == given


def test_library_gives_the_cli_lookups(world: World) -> None:
    config = parse_resolv_conf(world.walk.resolv_conf.read_text(encoding="ascii"))
    assert (config.search, config.ndots) == (DEFAULT_SEARCH, 5)
    got: list[Any] = []
    lookups_of_file(world.walk.recording.captures["pod-eth0"], config, got.append)
    cli = world.walk.lookups("pod-eth0")
    assert [(lk.name, lk.queries, lk.wasted_queries, lk.outcome) for lk in got] == [
        (r["name"], r["queries"], r["wasted_queries"], r["outcome"]) for r in cli
    ]


EXACT: dict[str, float] = {}


@pytest.mark.parametrize("kind", KINDS)
def test_most_commands_are_reconstructed_exactly(world: World, kind: str) -> None:
    exact = total = 0
    failed: list[str] = []
    for phase in (world.walk, world.ndots1):
        lookups = phase.lookups(kind)
        for ran in phase.recording.ran:
            total += 1
            problems = sc.mismatches(ran, lookups, phase.recording.log)
            if problems:
                failed.append(f"{ran.command.label}: {problems}")
            else:
                exact += 1
    EXACT[kind] = exact / total
    print(
        f"\n{kind}: {exact}/{total} commands reconstructed exactly ({exact / total:.1%});"
        f" recording took {world.wall['record']:.1f} s"
    )
    for line in failed:
        print("  ", line)
    assert exact / total >= EXACT_TARGET, failed
