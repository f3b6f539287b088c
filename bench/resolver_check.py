"""Held-out accuracy check of `dnssniff lookups` against real resolvers.

Why this exists beside `tests/test_lookups_netns.py`: the tests check a fixed list of
commands whose expected costs were written down after looking at the wire, so they prove
dnssniff handles the cases someone thought of. This script draws client commands at random
(seeded) over a zone of names the tests never use, runs them with the real resolvers
(glibc getent/Python, musl, dig, nslookup) in two pods with different resolv.conf, and
judges dnssniff against the DNS server's own query log, never against a hand-written
expectation. The target it reports on: >= 95% of commands become exactly one lookup with
the right name, query count and wasted count, on pod (`-i eth0`) and node (`-i any`)
captures, with the resolv.conf given and inferred.

Ground truth for one command: every query the server logged from the pod's address between
the command's start and end (commands run one at a time, `--gap` apart). From it:
`queries` = the number of transmissions; the final name = the last name answered with data,
else the last name asked; `wasted` = queries minus one per query type that got data or was
asked at the final name (shared/DESIGN.md: "the successful query is the useful one"). The
right name is the argument as typed, lowercased, with one trailing dot.

Safety: packets stay in network namespaces this script creates (no default route, no link
to the host); every process and namespace is removed on exit (PodNetwork), every loop and
wait is bounded. Exit status is 0 whatever the figures (it is a report); 2 for bad usage.

    python bench/resolver_check.py [--commands N] [--seed S] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support import scenarios as sc  # noqa: E402
from tests.support.netns import DEFAULT_SEARCH, PodNetwork, netns_available  # noqa: E402

TARGET = 0.95
GAP_SECONDS = 0.7
# Recording stops drawing commands after this long, so that the whole run (setup, recording,
# six dnssniff runs) stays under four minutes even when musl SERVFAIL lookups (5 s each)
# come up often.
RECORD_BUDGET = 175.0
COMMAND_TIMEOUT = 20.0
DNSSNIFF_TIMEOUT = 120.0
WINDOW_SLACK = sc.WINDOW_SLACK
POD1_NDOTS = 2
# Labels the tests' zone uses: the drawn words must not collide with them.
TEST_WORDS = frozenset(
    {"google", "example", "httpd", "v4only", "shadow", "flaky", "slow6", "tc", "nosuch"}
)
PY_UNSPEC = (
    "import socket,sys\ntry: socket.getaddrinfo(sys.argv[1], 443)\nexcept OSError: sys.exit(2)"
)
PY_INET = sc.PY_INET
CLIENT_KINDS = (
    "getent-ahosts",
    "getent-hosts",
    "python",
    "python-inet",
    "musl",
    "dig",
    "dig-search",
    "nslookup",
)


# -- the zone: new names, drawn per seed ------------------------------------------------------


@dataclass(slots=True)
class World:
    """The names a run can ask for, and the zone that answers them."""

    namespaces: tuple[str, ...]  # [0] is pod 0's ("default"), [1] pod 1's
    services: dict[str, list[str]]  # namespace -> service names
    external: dict[str, list[str]]  # category -> names (no trailing dot)
    servfail_step: list[str]  # services whose pod-namespace expansion SERVFAILs
    zone: dict[str, Any]


class Words:
    """Pronounceable random labels, unique within a run, none from the tests' zone."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set(TEST_WORDS)

    def __call__(self, syllables: int = 2) -> str:
        for _ in range(1000):
            word = "".join(
                self._rng.choice("bdfgklmnprstvz") + self._rng.choice("aeiou")
                for _ in range(syllables)
            )
            if word not in self._used:
                self._used.add(word)
                return word
        raise RuntimeError("ran out of words")


def build_world(rng: random.Random) -> World:
    """Services in four namespaces, external names of 1 to 7 dots, and failing names."""
    word = Words(rng)
    namespaces = ("default", f"team-{word()}", f"{word()}-prod", f"ops-{word()}")
    records: dict[str, dict[str, Any]] = {}
    nodata: list[str] = []
    servfail: list[str] = []

    def ip4() -> str:
        return f"10.{rng.randrange(96, 112)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def ip6() -> str:
        return f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"

    services: dict[str, list[str]] = {}
    for ns in namespaces:
        services[ns] = [f"{word()}{rng.choice(['', '-api', '-db', '-web'])}" for _ in range(3)]
        for i, svc in enumerate(services[ns]):
            entry: dict[str, Any] = {"A": [ip4()]}
            if i == 0:
                entry["AAAA"] = [ip6()]  # one dual-stack service per namespace
            records[f"{svc}.{ns}.svc.cluster.local."] = entry

    # SERVFAIL at the pods' first search step, the address one step later (as `flaky`).
    servfail_step = [f"{word()}-cache" for _ in range(2)]
    for svc in servfail_step:
        for ns in namespaces[:2]:
            servfail.append(f"{svc}.{ns}.svc.cluster.local.")
        records[f"{svc}.svc.cluster.local."] = {"A": [ip4()]}

    external: dict[str, list[str]] = defaultdict(list)
    tlds = ("com", "io", "net", "org", "dev")
    for _ in range(3):
        domain = f"{word(3)}.{rng.choice(tlds)}"
        external["ext-1dot"].append(domain)
        records[domain + "."] = {"A": [ip4()], "AAAA": [ip6()]}
        two = f"{rng.choice(['api', 'cdn', 'auth'])}.{domain}"
        three = f"{word()}.{rng.choice(['eu', 'us'])}.{domain}"
        external["ext-2-3dots"] += [two, three]
        records[two + "."] = {"A": [ip4()], "AAAA": [ip6()]}
        records[three + "."] = {"A": [ip4()]}
        # 5, 6 and 7 dots: at or over ndots:5, tried as-is first by every resolver.
        labels = [word() for _ in range(6)]
        for dots in (5, 6, 7):
            many = ".".join([*labels[: dots - 1], domain])
            external["ext-5+dots"].append(many)
            records[many + "."] = {"A": [ip4()], "AAAA": [ip6()]}
        legacy = f"legacy.{domain}"
        external["ext-v4only"].append(legacy)
        records[legacy + "."] = {"A": [ip4()]}  # no AAAA: NODATA beside the A
        alias = f"www.{domain}"
        external["ext-cname"].append(alias)
        records[alias + "."] = {"CNAME": domain + "."}
        empty = f"{word()}.{domain}"
        external["nodata"].append(empty)
        nodata.append(empty + ".")
    for _ in range(3):
        external["nxdomain"] += [
            word(),  # a bare label: the whole list, then the root
            f"{word()}.{rng.choice(tlds)}",
            f"{word()}.{word()}.{word()}.{word()}.{word()}.{rng.choice(tlds)}",
        ]
        broken = f"{word()}.{rng.choice(['broken', 'lame'])}.{rng.choice(tlds)}"
        external["servfail"].append(broken)
        servfail.append(broken + ".")
    zone = {"records": records, "nodata": nodata, "servfail": servfail, "ttl": 30}
    return World(namespaces, services, dict(external), servfail_step, zone)


CATEGORIES: tuple[str, ...] = (
    "svc-short",
    "svc-other-short",
    "svc.ns",
    "svc.ns.svc",
    "svc-fqdn",
    "svc-fqdn.",
    "servfail-step",
    "ext-1dot",
    "ext-2-3dots",
    "ext-5+dots",
    "ext-v4only",
    "ext-cname",
    "nodata",
    "nxdomain",
    "servfail",
)


def draw_name(rng: random.Random, world: World, category: str, pod: int) -> str:
    """A name of this category as an application in `pod` would type it."""
    own = world.namespaces[pod]
    if category == "svc-short":
        return rng.choice(world.services[own])
    if category == "svc-other-short":
        other = rng.choice([ns for ns in world.namespaces if ns != own])
        return rng.choice(world.services[other])  # NXDOMAIN everywhere: another namespace's
    if category == "servfail-step":
        return rng.choice(world.servfail_step)
    ns = rng.choice(world.namespaces)
    svc = rng.choice(world.services[ns])
    if category == "svc.ns":
        return f"{svc}.{ns}"
    if category == "svc.ns.svc":
        return f"{svc}.{ns}.svc"
    if category == "svc-fqdn":
        return f"{svc}.{ns}.svc.cluster.local"
    if category == "svc-fqdn.":
        return f"{svc}.{ns}.svc.cluster.local."
    name = rng.choice(world.external[category])
    if rng.random() < 0.25:
        name += "."  # an application that asked for the FQDN
    return name


# -- the commands -----------------------------------------------------------------------------


@dataclass(slots=True)
class Case:
    """One command as drawn and run: who ran it, when, and what it asked for."""

    index: int
    kind: str
    category: str
    pod: int
    name: str
    argv: list[str]
    start: float = 0.0
    end: float = 0.0
    returncode: int | None = None

    @property
    def expected_name(self) -> str:
        return self.name.lower().rstrip(".") + "."

    @property
    def label(self) -> str:
        return f"#{self.index} pod{self.pod} {self.kind} {self.name} [{self.category}]"


def argv_for(kind: str, name: str, musl: str | None) -> list[str]:
    if kind == "getent-ahosts":
        return ["getent", "ahosts", name]
    if kind == "getent-hosts":
        return ["getent", "hosts", name]
    if kind == "python":
        return [sc.PYTHON_IN_POD, "-c", PY_UNSPEC, name]
    if kind == "python-inet":
        return [sc.PYTHON_IN_POD, "-c", PY_INET, name]
    if kind == "musl":
        assert musl is not None
        return [musl, name]
    if kind == "dig":
        return ["dig", name]
    if kind == "dig-search":
        return ["dig", "+search", name]
    if kind == "nslookup":
        return ["nslookup", name]
    raise ValueError(kind)


def draw_cases(rng: random.Random, world: World, count: int, musl: str | None) -> list[Case]:
    kinds = [k for k in CLIENT_KINDS if k != "musl" or musl is not None]
    cases = []
    for i in range(count):
        kind = rng.choice(kinds)
        category = rng.choice(CATEGORIES)
        pod = 0 if rng.random() < 0.6 else 1
        name = draw_name(rng, world, category, pod)
        cases.append(Case(i, kind, category, pod, name, argv_for(kind, name, musl)))
    return cases


def pod_search(namespace: str) -> tuple[str, ...]:
    """The kubelet's search list for a pod of `namespace` (the walkthrough's host domain)."""
    return (f"{namespace}.svc.cluster.local", *DEFAULT_SEARCH[1:])


# -- recording --------------------------------------------------------------------------------


@dataclass(slots=True)
class Recording:
    cases: list[Case]
    log: list[dict[str, Any]]
    pod_ips: list[str]
    resolv_confs: list[Path]  # as each pod's programs read it
    captures: dict[str, Path]  # "pod0", "pod1", "node"
    capture_stats: dict[str, tuple[int | None, int | None]]
    skipped: int  # commands not run: the time budget ran out
    seconds: float


def record(world: World, cases: list[Case], work: Path, gap: float, budget: float) -> Recording:
    """Run the cases in two pods under three captures at once; the server logs the truth."""
    started = time.monotonic()
    with PodNetwork("dnssniff-rc", pods=2) as net:
        pod1_conf = "".join(
            [
                f"search {' '.join(pod_search(world.namespaces[1]))}\n",
                f"nameserver {net.dns_ip}\n",
                f"options ndots:{POD1_NDOTS}\n",
            ]
        )
        (Path("/etc/netns") / net.pods[1].netns / "resolv.conf").write_text(pod1_conf, "ascii")
        net.start_dns(world.zone)
        confs = []
        for pod in (0, 1):
            dest = work / f"pod{pod}-resolv.conf"
            dest.write_text(net.run(["cat", "/etc/resolv.conf"], pod=pod).stdout, "ascii")
            confs.append(dest)
        captures = {
            "pod0": work / "pod0-eth0.pcap",
            "pod1": work / "pod1-eth0.pcap",
            "node": work / "node-any.pcap",
        }
        where = {"pod0": "pod-eth0", "pod1": "pod1-eth0", "node": "node-any"}
        begin = time.time()
        skipped = 0
        with contextlib.ExitStack() as stack:
            caps = {
                key: stack.enter_context(net.capture(where[key], path, extra_args=sc.CAPTURE_ARGS))
                for key, path in captures.items()
            }
            time.sleep(gap)
            for case in cases:
                if time.monotonic() - started > budget:
                    skipped += 1
                    continue
                case.start = time.time()
                try:
                    result = net.run(case.argv, timeout=COMMAND_TIMEOUT, pod=case.pod)
                    case.returncode = result.returncode
                except subprocess.TimeoutExpired:
                    case.returncode = None
                case.end = time.time()
                time.sleep(gap)
        stats = {k: (c.packets_captured, c.dropped_by_kernel) for k, c in caps.items()}
        log = [q for q in net.queries() if q["ts"] >= begin]
        pod_ips = [p.ip for p in net.pods]
    ran = [c for c in cases if c.start]
    return Recording(ran, log, pod_ips, confs, captures, stats, skipped, time.monotonic() - started)


# -- ground truth from the server log ---------------------------------------------------------


@dataclass(slots=True)
class Truth:
    entries: list[dict[str, Any]]
    queries: int
    wasted: int
    final: str


def truth_of(case: Case, client: str, log: list[dict[str, Any]]) -> Truth:
    """What the server received for this command (see the module docstring for the rules)."""
    lo, hi = case.start - WINDOW_SLACK, case.end + WINDOW_SLACK
    entries = [q for q in log if q["client"] == client and lo <= q["ts"] <= hi and q["qname"]]
    final = ""
    for q in entries:
        if q.get("answers"):
            final = q["qname"].lower()
    if not final and entries:
        final = entries[-1]["qname"].lower()
    # One useful transmission per query type: the one whose data the application got
    # (nslookup asks AAAA at a CNAME's target: the A at the alias was used all the same),
    # else the last one at the final name (a NODATA or failure reply, the one it was told).
    with_data = {q["qtype"] for q in entries if q.get("answers")}
    at_final = {q["qtype"] for q in entries if q["qname"].lower() == final}
    useful = with_data | at_final
    return Truth(entries, len(entries), len(entries) - len(useful), final)


def log_text(entries: list[dict[str, Any]]) -> str:
    return " > ".join(
        f"{q['qname']} {q['qtype']} {q['rcode'] or 'dropped'} {q['proto']}:{q['client_port']}"
        f" id={q['id']}"
        for q in entries
    )


# -- dnssniff's side --------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    """One `dnssniff lookups` run: its lookups, or why it failed; stderr notes kept."""

    capture: str
    args: list[str]
    lookups: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    notes: str = ""
    seconds: float = 0.0


def run_dnssniff(capture: Path, args: list[str]) -> Run:
    cmd = [sys.executable, "-m", "dnssniff", "lookups", str(capture), "-f", "jsonl", *args]
    run = Run(capture.name, args)
    t0 = time.monotonic()
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=DNSSNIFF_TIMEOUT, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        run.error = f"timed out after {DNSSNIFF_TIMEOUT:.0f} s"
        return run
    run.seconds = time.monotonic() - t0
    run.notes = done.stderr.strip()
    if done.returncode != 0:
        run.error = f"exit {done.returncode}: {done.stderr.strip()[-400:]}"
        return run
    for line in done.stdout.splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("type") == "lookup":
                run.lookups.append(row)
    return run


@dataclass(frozen=True, slots=True)
class Variant:
    """A capture type and how dnssniff was told the resolv.conf; which run judges which pod."""

    name: str
    runs: tuple[str, str]  # run key for pod 0's commands, for pod 1's
    headline: bool = True


VARIANTS = (
    Variant("pod-eth0 given", ("pod0-given", "pod1-given")),
    Variant("pod-eth0 inferred", ("pod0-inferred", "pod1-inferred")),
    Variant("node-any given", ("node-given0", "node-given1")),
    Variant("node-any inferred", ("node-inferred", "node-inferred")),
    # What a node-wide user with one resolv.conf gets: pod 0's for both pods.
    Variant("node-any pod0-conf", ("node-given0", "node-given0"), headline=False),
)


def analyse(rec: Recording) -> dict[str, Run]:
    c0, c1 = (["--resolv-conf", str(p)] for p in rec.resolv_confs)
    plan = {
        "pod0-given": (rec.captures["pod0"], c0),
        "pod1-given": (rec.captures["pod1"], c1),
        "pod0-inferred": (rec.captures["pod0"], []),
        "pod1-inferred": (rec.captures["pod1"], []),
        "node-given0": (rec.captures["node"], c0),
        "node-given1": (rec.captures["node"], c1),
        "node-inferred": (rec.captures["node"], []),
    }
    return {key: run_dnssniff(path, args) for key, (path, args) in plan.items()}


@dataclass(slots=True)
class Verdict:
    exact: bool  # one lookup, right name, queries and wasted
    chain_exact: bool  # ... and its chain stands for exactly the logged transmissions
    problems: list[str]
    chains: list[str]
    # Only the name is wrong, and the wire cannot tell the two names apart: every query was
    # for one name N, which is both names' first candidate in this pod (`svc` searched at
    # the pod's own `<ns>.svc.cluster.local`, or `svc.<ns>.svc.cluster.local.` as-is).
    ambiguous: bool = False


def first_candidate(name: str, first_domain: str) -> set[str]:
    """The names a query for N could be the first try of: N as-is, or its short form."""
    readings = {name}
    suffix = "." + first_domain + "."
    if name.endswith(suffix):
        readings.add(name[: -len(suffix)] + ".")
    return readings


def wire_ambiguous(truth: Truth, reported: str, expected: str, first_domain: str) -> bool:
    names = {q["qname"].lower() for q in truth.entries}
    if len(names) != 1:
        return False
    readings = first_candidate(names.pop(), first_domain)
    return reported in readings and expected in readings


def lookups_in(case: Case, client: str, lookups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lo, hi = case.start - WINDOW_SLACK, case.end + WINDOW_SLACK
    return [lk for lk in lookups if lk["client"] == client and lo <= lk["start"] <= hi]


def judge(case: Case, truth: Truth, run: Run, client: str, first_domain: str) -> Verdict:
    if run.error:
        return Verdict(False, False, [f"dnssniff failed: {run.error}"], [])
    mine = lookups_in(case, client, run.lookups)
    chains = [
        f"{lk['name']} q={lk['queries']} w={lk['wasted_queries']} {lk['outcome']}"
        f" {lk['resolver']}: {sc.chain_text(lk)}"
        for lk in mine
    ]
    if len(mine) != 1:
        return Verdict(False, False, [f"{len(mine)} lookups, expected 1"], chains)
    lk = mine[0]
    problems = []
    got = (lk["name"].lower(), lk["queries"], lk["wasted_queries"])
    want = (case.expected_name, truth.queries, truth.wasted)
    if got != want:
        problems.append(f"(name, queries, wasted) {got} != {want}")
    exact = not problems
    ambiguous = (
        not exact and got[1:] == want[1:] and wire_ambiguous(truth, got[0], want[0], first_domain)
    )
    if ambiguous:
        problems.append("name ambiguous on the wire")
    sent = sc.log_transmissions(truth.entries)
    seen = sc.chain_transmissions(lk)
    if sent != seen:
        problems.append(
            f"transmissions: server-only {dict(sent - seen)}, chain-only {dict(seen - sent)}"
        )
    return Verdict(exact, sent == seen and exact, problems, chains, ambiguous)


# -- the report -------------------------------------------------------------------------------


def report(
    rec: Recording, runs: dict[str, Run], world: World, args: argparse.Namespace, musl: str
) -> dict[str, Any]:
    truths = [truth_of(c, rec.pod_ips[c.pod], rec.log) for c in rec.cases]
    verdicts: dict[str, list[Verdict]] = {}
    for v in VARIANTS:
        verdicts[v.name] = [
            judge(
                c,
                t,
                runs[v.runs[c.pod]],
                rec.pod_ips[c.pod],
                pod_search(world.namespaces[c.pod])[0],
            )
            for c, t in zip(rec.cases, truths, strict=True)
        ]
    out = print
    out(
        f"resolver_check: seed {args.seed}, {len(rec.cases)} commands run"
        + (f" ({rec.skipped} skipped: time budget)" if rec.skipped else "")
        + f", recording {rec.seconds:.0f} s; musl: {musl}"
    )
    out(
        f"pod 0 ns {world.namespaces[0]} ndots:5, pod 1 ns {world.namespaces[1]}"
        f" ndots:{POD1_NDOTS}; server log {len(rec.log)} queries"
    )
    for key, (captured, dropped) in rec.capture_stats.items():
        out(f"  capture {key}: {captured} packets, {dropped} dropped by kernel")
    for key, run in runs.items():
        note = run.error or run.notes.replace("dnssniff: note: ", "")
        out(
            f"  dnssniff {key}: {len(run.lookups)} lookups in {run.seconds:.1f} s"
            + (f"; {note}" if note else "")
        )
    silent = [c for c, t in zip(rec.cases, truths, strict=True) if t.queries == 0]
    if silent:
        out(
            f"  {len(silent)} commands sent nothing (the server logged no query): "
            + ", ".join(c.label for c in silent)
        )

    names = [v.name for v in VARIANTS]
    width = max(len(k) for k in (*CLIENT_KINDS, *CATEGORIES, "all")) + 2

    def table(title: str, keys: tuple[str, ...], key_of: Callable[[Case], str]) -> None:
        out()
        out(f"{title:<{width}}{'cmds':>5}" + "".join(f"{n:>20}" for n in names))
        for key in (*keys, "all"):
            idx = [i for i, c in enumerate(rec.cases) if key in ("all", key_of(c))]
            if not idx:
                continue
            cells = []
            for n in names:
                exact = sum(verdicts[n][i].exact for i in idx)
                amb = sum(verdicts[n][i].ambiguous for i in idx)
                cells.append(f"{exact:>3}" + (f" +{amb:<2} amb" if amb else " " * 8))
            out(f"{key:<{width}}{len(idx):>5}" + "".join(f"{c:>20}" for c in cells))

    table("client kind", CLIENT_KINDS, lambda c: c.kind)
    table("name category", CATEGORIES, lambda c: c.category)
    table("pod", ("pod0", "pod1"), lambda c: f"pod{c.pod}")

    out("(cells: exact matches; +N amb: only the name differs, and the wire cannot tell the")
    out(" two names apart, e.g. `svc` asked in namespace ns and `svc.ns.svc.cluster.local.`)")
    out()
    fractions = {}
    total = len(rec.cases)
    for v in VARIANTS:
        exact = sum(x.exact for x in verdicts[v.name])
        amb = sum(x.ambiguous for x in verdicts[v.name])
        chain = sum(x.chain_exact for x in verdicts[v.name])
        strict = exact / total if total else 0.0
        forgiven = (exact + amb) / total if total else 0.0
        fractions[v.name] = {"exact": strict, "exact_or_ambiguous": forgiven}
        verdict = "meets" if strict >= TARGET else "BELOW"
        tag = "" if v.headline else "  (information: pod 0's resolv.conf for both pods)"
        out(
            f"{v.name:<20} exact {exact}/{total} = {strict:.1%} ({verdict} {TARGET:.0%});"
            f" ambiguous names forgiven {exact + amb}/{total} = {forgiven:.1%};"
            f" chain-exact {chain}/{total}{tag}"
        )

    # Every mismatch, once per command, with the variants it happened in.
    out()
    out("mismatches (server log | dnssniff's lookups in the command's window, per variant):")
    any_bad = False
    for i, (case, truth) in enumerate(zip(rec.cases, truths, strict=True)):
        bad = [v.name for v in VARIANTS if not verdicts[v.name][i].chain_exact]
        if not bad:
            continue
        any_bad = True
        out(
            f"- {case.label} rc={case.returncode}: truth q={truth.queries} w={truth.wasted}"
            f" final={truth.final}"
        )
        out(f"    server: {log_text(truth.entries) or '(nothing)'}")
        shown: dict[tuple[str, ...], list[str]] = {}
        for n in bad:
            verdict = verdicts[n][i]
            shown.setdefault((*verdict.problems, "\0", *verdict.chains), []).append(n)
        for key, where in shown.items():
            split = key.index("\0")
            out(f"    [{', '.join(where)}] {'; '.join(key[:split])}")
            for chain in key[split + 1 :] or ("(no lookup)",):
                out(f"        {chain}")
    if not any_bad:
        out("  none")

    spurious = _spurious(rec, runs)
    if spurious:
        out()
        out("lookups outside every command window (per run):")
        for key, rows in spurious.items():
            for lk in rows:
                out(f"  {key}: {lk['client']} {lk['name']} q={lk['queries']} at {lk['start']:.3f}")
    return {
        "seed": args.seed,
        "commands": len(rec.cases),
        "skipped": rec.skipped,
        "fractions": fractions,
        "cases": [
            {
                **asdict(c),
                "truth": {"queries": t.queries, "wasted": t.wasted, "final": t.final},
                "verdicts": {
                    n: {
                        "exact": verdicts[n][i].exact,
                        "ambiguous": verdicts[n][i].ambiguous,
                        "chain_exact": verdicts[n][i].chain_exact,
                        "problems": verdicts[n][i].problems,
                    }
                    for n in names
                },
            }
            for i, (c, t) in enumerate(zip(rec.cases, truths, strict=True))
        ],
    }


def _spurious(rec: Recording, runs: dict[str, Run]) -> dict[str, list[dict[str, Any]]]:
    """dnssniff lookups that fall in no command's window (a split lookup shows up here too)."""
    windows = [(c.start - WINDOW_SLACK, c.end + WINDOW_SLACK) for c in rec.cases]
    out = {}
    for key, run in runs.items():
        rows = [lk for lk in run.lookups if not any(lo <= lk["start"] <= hi for lo, hi in windows)]
        if rows:
            out[key] = rows
    return out


# -- main -------------------------------------------------------------------------------------


@contextlib.contextmanager
def workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    path = Path(tempfile.mkdtemp(prefix="dnssniff-rc-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=150, help="commands to draw (150)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument("--keep", type=Path, help="keep captures, log and results here")
    parser.add_argument("--gap", type=float, default=GAP_SECONDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.commands <= 1000:
        parser.error("--commands must be 1..1000")
    reason = netns_available()
    if reason:
        print(f"resolver_check: cannot run here: {reason}")
        return 0
    t0 = time.monotonic()
    try:
        with workdir(args.keep) as work:
            rng = random.Random(args.seed)
            world = build_world(rng)
            musl, musl_reason = sc.build_musl(work)
            cases = draw_cases(rng, world, args.commands, musl)
            rec = record(world, cases, work, args.gap, RECORD_BUDGET)
            runs = analyse(rec)
            result = report(rec, runs, world, args, musl or f"not used ({musl_reason})")
            print(f"\ntotal {time.monotonic() - t0:.0f} s")
            if args.keep is not None:
                (work / "zone.json").write_text(json.dumps(world.zone, indent=1), "utf-8")
                (work / "server-log.jsonl").write_text(
                    "".join(json.dumps(q) + "\n" for q in rec.log), "utf-8"
                )
                (work / "results.json").write_text(json.dumps(result, indent=1), "utf-8")
                for key, run in runs.items():
                    (work / f"lookups-{key}.json").write_text(json.dumps(run.lookups), "utf-8")
                print(f"kept in {work}")
    except Exception:  # a report: say what broke, exit 0 all the same
        print("resolver_check: failed:\n" + traceback.format_exc(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
