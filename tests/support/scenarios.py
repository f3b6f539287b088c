"""Client commands run in a namespace pod, and the ground truth to judge dnssniff's lookups by.

Why a separate module: the lookup tests need three things that are not assertions - a zone
that makes each resolver behaviour happen (NODATA, SERVFAIL, a lost reply, truncation), the
commands with what each is expected to cost, and a recorder that runs them with gaps so
lookups separate in time and remembers when each ran. The server's own query log is the
truth: every query it received, dropped ones included, with source port and id, so a
dnssniff chain can be compared transmission by transmission.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from tests.support.netns import PodNetwork
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from support.netns import PodNetwork  # type: ignore[no-redef]

PYTHON_IN_POD = "/usr/bin/python3"
MUSL_SOURCE = Path(__file__).parent / "musl_resolve.c"
# getaddrinfo for IPv4 only (A alone), as `curl -4` or a v4-only client asks.
PY_INET = (
    "import socket,sys\ntry: socket.getaddrinfo(sys.argv[1], 443, socket.AF_INET)\n"
    "except OSError: sys.exit(2)"
)
STORM_SIZE = 200
# Between two commands: longer than the builder's 0.25 s grace for a finished chain, so a
# lookup of the same name by the next command cannot be mistaken for a continuation.
GAP_SECONDS = 1.0
# A bigger kernel buffer than PodNetwork's 4 MiB: two tcpdumps, the server and the storm's
# clients share two cores, and a node capture of the storm (8,000 frames in ~2 s) lost a
# dozen frames to a full buffer in one run of three. tcpdump takes the last -B given.
CAPTURE_ARGS = ("-B", "32768")
# Slack around a command's wall-clock window (the capture and the log use the same clock).
WINDOW_SLACK = 0.05

ZONE: dict[str, Any] = {
    "records": {
        "google.com.": {"A": ["142.250.72.14"], "AAAA": ["2607:f8b0:4007:80f::200e"]},
        "example.org.": {
            "A": ["93.184.215.14"],
            "AAAA": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        },
        "httpd-example.default.svc.cluster.local.": {"A": ["10.96.45.12"]},
        # Six dots: at least ndots:5, so every resolver tries it as-is first.
        "a.b.c.d.e.example.org.": {"A": ["93.184.215.20"], "AAAA": ["2001:db8::20"]},
        # An A and no AAAA at the first search step: data for one type, NODATA for the other.
        "v4only.default.svc.cluster.local.": {"A": ["10.96.7.7"]},
        # NODATA for both types at the first step, the address one step later: glibc goes
        # on to it, musl stops at the NODATA.
        "shadow.svc.cluster.local.": {"A": ["10.96.8.8"]},
        # SERVFAIL at the first step, the address one step later.
        "flaky.svc.cluster.local.": {"A": ["10.96.9.9"]},
        "slow6.example.org.": {"A": ["93.184.215.30"], "AAAA": ["2001:db8::30"]},
        # An alias: nslookup asks AAAA for the target, not for the name typed.
        "www.example.org.": {"CNAME": "example.org."},
    },
    "nodata": ["shadow.default.svc.cluster.local."],
    "servfail": ["flaky.default.svc.cluster.local."],
    "truncate": ["tc.example.org."],
    # The first AAAA for slow6 is never answered: glibc resends after its 5 s timeout.
    "drop_first": [{"name": "slow6.example.org.", "qtype": "AAAA", "count": 1}],
}


@dataclass(frozen=True, slots=True)
class Expected:
    """What one application lookup should look like in dnssniff's report."""

    name: str
    queries: int
    wasted: int
    outcome: str
    answer_name: str | None = None
    resolver: str | None = None
    findings: tuple[str, ...] = ()  # each must be present (others may be too)


@dataclass(frozen=True, slots=True)
class Command:
    """One client command run in the pod, and what it should cost.

    `base` selects, inside the command's time window, the server log entries and the
    lookups that belong to it: the storm runs 200 lookups in one shell command, and each is
    judged on its own by its name. `also` names other names the command asks for (the
    target of a CNAME, which nslookup asks AAAA for).
    """

    label: str
    argv: tuple[str, ...]
    expected: Expected
    needs: str | None = None  # "musl": run only when the musl binary could be built
    also: tuple[str, ...] = ()

    @property
    def base(self) -> str:
        return self.expected.name


@dataclass(frozen=True, slots=True)
class Storm:
    """`count` failing getaddrinfo lookups in one bounded shell loop inside the pod."""

    label: str
    count: int

    def script(self) -> str:
        loop = (
            f"while [ $i -lt {self.count} ]; do getent ahosts nosuch-$i.example; i=$((i+1)); done"
        )
        return f"i=0; {loop}; true"

    def members(self) -> list[Command]:
        """The lookups the loop makes, one virtual command each."""
        return [
            Command(
                f"{self.label}-{i}",
                ("getent", "ahosts", f"nosuch-{i}.example"),
                Expected(f"nosuch-{i}.example.", 10, 8, "NXDOMAIN", resolver="glibc"),
            )
            for i in range(self.count)
        ]


def build_musl(workdir: Path) -> tuple[str | None, str]:
    """Build the musl-linked test client in `workdir`: (its path, "") or (None, why not)."""
    compiler = shutil.which("musl-gcc")
    if compiler is None:
        return None, "musl-gcc not installed"
    binary = workdir / "musl_resolve"
    built = subprocess.run(
        [compiler, "-static", "-O2", "-o", str(binary), str(MUSL_SOURCE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if built.returncode != 0:
        return None, f"musl-gcc failed: {built.stderr.strip()}"
    return str(binary), ""


def walkthrough_commands(musl: str | None) -> list[Command | Storm]:
    """The walkthrough pod (four search domains, ndots:5): the commands, in run order."""
    py = "import socket; socket.getaddrinfo('example.org', 443)"
    cmds: list[Command | Storm] = [
        Command(
            "getent-google",
            ("getent", "ahosts", "google.com"),
            Expected("google.com.", 10, 8, "NOERROR", "google.com.", "glibc"),
        ),
        Command(
            "getent-hosts-httpd",
            ("getent", "hosts", "httpd-example"),
            Expected(
                "httpd-example.",
                6,
                4,
                "NOERROR",
                "httpd-example.default.svc.cluster.local.",
                "glibc",
                ("separate query-type passes",),
            ),
        ),
        Command(
            "python-example",
            (PYTHON_IN_POD, "-c", py),
            Expected("example.org.", 10, 8, "NOERROR", "example.org.", "glibc"),
        ),
        Command(
            "dig-google",
            ("dig", "google.com"),
            Expected("google.com.", 1, 0, "NOERROR", "google.com.", "dig"),
        ),
        Command(
            "dig-search-google",
            ("dig", "+search", "google.com"),
            Expected("google.com.", 5, 4, "NOERROR", "google.com.", "dig+search"),
        ),
        # nslookup (BIND 9.18): A through the whole list, then AAAA for the name that
        # answered only, each query from its own socket.
        Command(
            "nslookup-google",
            ("nslookup", "google.com"),
            Expected("google.com.", 6, 4, "NOERROR", "google.com.", "nslookup"),
        ),
        # Through an alias: A for `www.example.org` through the list (its answer holds the
        # CNAME and the target's A), then AAAA for the target `example.org` only.
        Command(
            "nslookup-cname",
            ("nslookup", "www.example.org"),
            Expected("www.example.org.", 6, 4, "NOERROR", "www.example.org.", "nslookup"),
            also=("example.org.",),
        ),
        # getaddrinfo(AF_INET) asks A alone: found at the first step, the name asked short.
        Command(
            "python-inet-httpd",
            (PYTHON_IN_POD, "-c", PY_INET, "httpd-example"),
            Expected("httpd-example.", 1, 0, "NOERROR", "httpd-example.default.svc.cluster.local."),
        ),
        # The same query from dig (AD flag, EDNS): the full name, as typed.
        Command(
            "dig-httpd-fqdn",
            ("dig", "httpd-example.default.svc.cluster.local"),
            Expected(
                "httpd-example.default.svc.cluster.local.",
                1,
                0,
                "NOERROR",
                "httpd-example.default.svc.cluster.local.",
                "dig",
            ),
        ),
        Command(
            "getent-many-dots",
            ("getent", "ahosts", "a.b.c.d.e.example.org"),
            Expected("a.b.c.d.e.example.org.", 2, 0, "NOERROR", "a.b.c.d.e.example.org."),
        ),
        Command(
            "getent-trailing-dot",
            ("getent", "ahosts", "google.com."),
            Expected("google.com.", 2, 0, "NOERROR", "google.com."),
        ),
        # NODATA for AAAA beside an A: the lookup is done at the first step.
        Command(
            "getent-v4only",
            ("getent", "ahosts", "v4only"),
            Expected("v4only.", 2, 0, "NOERROR", "v4only.default.svc.cluster.local."),
        ),
        # NODATA for both types: glibc continues to the next search domain.
        Command(
            "getent-shadow",
            ("getent", "ahosts", "shadow"),
            Expected("shadow.", 4, 2, "NOERROR", "shadow.svc.cluster.local.", "glibc"),
        ),
        # SERVFAIL: glibc resends the pair at once (same socket, same ids), then goes on.
        Command(
            "getent-servfail",
            ("getent", "ahosts", "flaky"),
            Expected("flaky.", 6, 4, "NOERROR", "flaky.svc.cluster.local.", "glibc", ("servfail",)),
        ),
        # Truncated UDP answers, both retried over one TCP connection.
        Command(
            "getent-truncated",
            ("getent", "ahosts", "tc.example.org."),
            Expected(
                "tc.example.org.",
                4,
                2,
                "NOERROR",
                "tc.example.org.",
                "glibc",
                ("tcp retry after truncation",),
            ),
        ),
        # The AAAA at the final name is lost; 5 s later glibc resends A and AAAA with the
        # same ids on the same socket: 12 transmissions, all but the two used are waste.
        Command(
            "getent-lost-aaaa",
            ("getent", "ahosts", "slow6.example.org"),
            Expected(
                "slow6.example.org.",
                12,
                10,
                "NOERROR",
                "slow6.example.org.",
                "glibc",
                ("retransmission",),
            ),
        ),
        Storm("storm", STORM_SIZE),
    ]
    if musl is not None:
        cmds += [
            Command(
                "musl-google",
                (musl, "google.com"),
                Expected("google.com.", 10, 8, "NOERROR", "google.com."),
                needs="musl",
            ),
            Command(
                "musl-v4only",
                (musl, "v4only"),
                Expected("v4only.", 2, 0, "NOERROR", "v4only.default.svc.cluster.local."),
                needs="musl",
            ),
            # musl stops at the first NODATA: the address one step later is never asked for.
            Command(
                "musl-shadow",
                (musl, "shadow"),
                Expected("shadow.", 2, 0, "NODATA", "shadow.default.svc.cluster.local.", "musl"),
                needs="musl",
            ),
        ]
    return cmds


def ndots1_commands() -> list[Command | Storm]:
    """The same search list with ndots:1: a name with a dot is tried as-is first."""
    return [
        Command(
            "ndots1-getent-google",
            ("getent", "ahosts", "google.com"),
            Expected("google.com.", 2, 0, "NOERROR", "google.com.", "glibc"),
        ),
        # No dot: still searched first, and found at the first step.
        Command(
            "ndots1-getent-httpd",
            ("getent", "ahosts", "httpd-example"),
            Expected("httpd-example.", 2, 0, "NOERROR", "httpd-example.default.svc.cluster.local."),
        ),
    ]


@dataclass(slots=True)
class Ran:
    """A command as run: its wall-clock window and exit status (storm members share one)."""

    command: Command
    start: float
    end: float
    returncode: int
    group: str  # the label of the shell command it ran in (a storm's, or its own)


@dataclass(slots=True)
class Recording:
    """Everything a phase produced: what ran when, the server log, the capture files."""

    ran: list[Ran] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    captures: dict[str, Path] = field(default_factory=dict)
    capture_stats: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)


def record(
    net: PodNetwork,
    commands: Sequence[Command | Storm],
    captures: dict[str, Path],
    pod: int = 0,
    gap: float = GAP_SECONDS,
) -> Recording:
    """Run the commands in `pod` one after another, `gap` apart, under every capture."""
    rec = Recording(captures=dict(captures))
    begin = time.time()
    with _captures(net, captures) as caps:
        time.sleep(gap)
        for cmd in commands:
            start = time.time()
            if isinstance(cmd, Storm):
                result = net.run(["sh", "-c", cmd.script()], timeout=120, pod=pod)
                end = time.time()
                rec.ran += [Ran(m, start, end, result.returncode, cmd.label) for m in cmd.members()]
            else:
                result = net.run(list(cmd.argv), timeout=30, pod=pod)
                end = time.time()
                rec.ran.append(Ran(cmd, start, end, result.returncode, cmd.label))
            time.sleep(gap)
    rec.capture_stats = {c.where: (c.packets_captured, c.dropped_by_kernel) for c in caps}
    rec.log = [q for q in net.queries() if q["ts"] >= begin]  # this phase's queries only
    return rec


class _captures:
    """Several `PodNetwork.capture` contexts at once (pod-eth0 and node-any of one run)."""

    def __init__(self, net: PodNetwork, captures: dict[str, Path]) -> None:
        self._contexts = [
            net.capture(where, path, extra_args=CAPTURE_ARGS) for where, path in captures.items()
        ]
        self._entered: list[Any] = []

    def __enter__(self) -> list[Any]:
        try:
            for ctx in self._contexts:
                self._entered.append((ctx, ctx.__enter__()))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return [cap for _, cap in self._entered]

    def __exit__(self, *exc: object) -> None:
        while self._entered:
            ctx, _ = self._entered.pop()
            ctx.__exit__(None, None, None)


# -- comparing the server log with dnssniff's chains ----------------------------------------


def belongs(qname: str, base: str) -> bool:
    """Whether a query name is `base` itself or one of its search expansions (the base
    ends with a dot, so `nosuch-1.example.` does not take in `nosuch-10.example.`)."""
    return qname.lower().startswith(base.lower())


def in_window(ts: float, ran: Ran) -> bool:
    return ran.start - WINDOW_SLACK <= ts <= ran.end + WINDOW_SLACK


def log_of(ran: Ran, log: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The server log entries this command caused, in arrival order."""
    also = ran.command.also
    return [
        q
        for q in log
        if in_window(q["ts"], ran)
        and (belongs(q["qname"], ran.command.base) or q["qname"].lower() in also)
    ]


def lookups_of(ran: Ran, lookups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """dnssniff's lookup records for this command (by start time and name)."""
    return [
        lk
        for lk in lookups
        if in_window(lk["start"], ran)
        and any(belongs(t["qname"], ran.command.base) for t in lk["chain"])
    ]


Transmission = tuple[str, str, str, int, int]


def log_transmissions(entries: Iterable[dict[str, Any]]) -> Counter[Transmission]:
    """Every query the server received: (proto, qname, qtype, client port, id)."""
    return Counter(
        (q["proto"], q["qname"].lower(), q["qtype"], q["client_port"], q["id"]) for q in entries
    )


def chain_transmissions(lookup: dict[str, Any]) -> Counter[Transmission]:
    """Every transmission a lookup's chain stands for: each transaction 1 + retransmits times."""
    out: Counter[Transmission] = Counter()
    for t in lookup["chain"]:
        key = (t["proto"], t["qname"].lower(), t["qtype"], t["client_port"], t["id"])
        out[key] += 1 + t["retransmits"]
    return out


def mismatches(ran: Ran, lookups: list[dict[str, Any]], log: list[dict[str, Any]]) -> list[str]:
    """Why this command was not reconstructed exactly ([] when it was)."""
    mine = lookups_of(ran, lookups)
    if len(mine) != 1:
        names = [(lk["name"], lk["queries"]) for lk in mine]
        return [f"{len(mine)} lookups, expected 1: {names}"]
    lk = mine[0]
    exp = ran.command.expected
    problems = []
    sent = log_transmissions(log_of(ran, log))
    seen = chain_transmissions(lk)
    if sent != seen:
        problems.append(
            f"transmissions differ: server-only {sent - seen}, chain-only {seen - sent}"
        )
    got = (lk["name"], lk["queries"], lk["wasted_queries"], lk["outcome"])
    want = (exp.name, exp.queries, exp.wasted, exp.outcome)
    if got != want:
        problems.append(f"(name, queries, wasted, outcome) {got} != {want}")
    if exp.answer_name is not None and lk["answer_name"].lower() != exp.answer_name:
        problems.append(f"answer_name {lk['answer_name']} != {exp.answer_name}")
    if exp.resolver is not None and lk["resolver"] != exp.resolver:
        problems.append(f"resolver {lk['resolver']} != {exp.resolver}")
    missing = [f for f in exp.findings if f not in lk["findings"]]
    if missing:
        problems.append(f"findings {lk['findings']} lack {missing}")
    return problems


def chain_text(lookup: dict[str, Any]) -> str:
    """A chain as evidence for a bug report: name type rcode/status proto port id xN."""
    return " > ".join(
        f"{t['qname']} {t['qtype']} {t['rcode'] or t['status']} {t['proto']}:{t['client_port']}"
        f" id={t['id']}" + (f" x{1 + t['retransmits']}" if t["retransmits"] else "")
        for t in lookup["chain"]
    )
