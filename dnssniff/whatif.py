"""What the same lookups would cost under another resolver configuration.

`dnssniff whatif` answers "what if ndots were 2", "what if the app used the FQDN": each
observed lookup is replayed against the candidate names of the new configuration
(`dnssniff.resolvers`), assuming the same final answer name. A name the capture saw keeps
the reply it got; a name it never saw is assumed NXDOMAIN (an expansion that did not exist
before does not exist now). Time is modelled from the chain's own round trips: every
extra step costs the mean RTT of its NXDOMAIN queries. Retransmissions of the useful
queries stay (a config change does not cure packet loss); all others go with their queries.

The replay models what resolvers do with the two query types: together, step by step
(getaddrinfo), or in separate passes when the capture showed that (`getent hosts` walks the
list for AAAA, then for A).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from dnssniff.lookups import Lookup, name_key, pick_useful, reply_result, with_namespace
from dnssniff.resolvconf import ResolverConfig
from dnssniff.resolvers import candidate_names, continues_after, relative


@dataclass(slots=True, frozen=True)
class NameWhatIf:
    """Totals for one application name: as captured, under the new config, and as FQDN."""

    name: str
    answer_name: str
    lookups: int
    queries_before: int
    queries_after: int
    queries_fqdn: int
    wasted_time_before: float
    wasted_time_after: float
    unreachable: int


@dataclass(slots=True, frozen=True)
class WhatIf:
    """The replay of a set of lookups under `config` (or as FQDNs when `fqdn`).

    `unreachable` counts lookups whose answer name the new config never tries: they
    would fail or find another answer, so a change with unreachable lookups is unsafe.
    """

    config: ResolverConfig
    resolver: str
    fqdn: bool
    label: str
    lookups: int
    queries_before: int
    queries_after: int
    wasted_time_before: float
    wasted_time_after: float
    unreachable: int
    per_name: tuple[NameWhatIf, ...]

    @property
    def saved(self) -> int:
        """Queries the change saves over the whole capture (negative: it costs more)."""
        return self.queries_before - self.queries_after


@dataclass(slots=True, frozen=True)
class _Cost:
    queries: int
    wasted_time: float
    reachable: bool


def _step_rtt(lookup: Lookup) -> float:
    """Mean RTT of the chain's NXDOMAIN queries (of all answered ones if none failed)."""
    nx = [t.rtt for t in lookup.chain if t.rtt is not None and t.rcode == 3]
    if not nx:
        nx = [t.rtt for t in lookup.chain if t.rtt is not None]
    return sum(nx) / len(nx) if nx else 0.0


def _stops(result: str, resolver: str) -> bool:
    return result == "NOERROR" or not continues_after(resolver, result)


def fqdn_queries(lookup: Lookup) -> int:
    """Queries `lookup` would cost with its answer name and a trailing dot.

    The same figure as `replay_one(lookup, ..., fqdn=True).queries`, without building the
    replay: the `lookups` report needs it for every lookup, and a one-name plan is one
    query per type asked (in separate passes, until a type got data) plus the
    retransmissions of the useful queries.
    """
    kept = 0
    for t in lookup.final:
        kept += t.retransmits
    if "separate query-type passes" not in lookup.findings:
        return len(lookup.qtypes) + kept
    return len(_fqdn_passes(lookup)) + kept


def _fqdn_passes(lookup: Lookup) -> list[int]:
    """The query types a one-name replay of a multi-pass lookup asks, in order."""
    final_key = name_key(lookup.answer_name)
    order: list[int] = []
    by_type: dict[int, list] = {}
    for t in lookup.chain:
        if t.qtype not in order:
            order.append(t.qtype)
        if name_key(t.qname) == final_key:
            by_type.setdefault(t.qtype, []).append(t)
    asked: list[int] = []
    for qtype in order:
        asked.append(qtype)
        txns = by_type.get(qtype)
        if txns is not None and reply_result(pick_useful(txns)) == "NOERROR":
            break
    return asked


def replay_one(lookup: Lookup, config: ResolverConfig, resolver: str, *, fqdn: bool) -> _Cost:
    """Queries and wasted time of one lookup under `config` (see the module docstring).

    A lookup with a known Kubernetes namespace is replayed with its own pod's search list
    (`dnssniff.lookups.with_namespace`): pods of a node-wide capture differ in their first
    search domain. A lookup read as asked with a trailing dot (`lookup.fqdn`) stays one
    name under any ndots or search list.
    """
    if fqdn:
        kept = sum(t.retransmits for t in lookup.final)
        if "separate query-type passes" not in lookup.findings:
            return _Cost(fqdn_queries(lookup), 0.0, True)
        serial = len(_fqdn_passes(lookup))
        return _Cost(serial + kept, max(0, serial - 1) * _step_rtt(lookup), True)
    final_key = name_key(lookup.answer_name)
    base = relative(lookup.name).lower()
    if lookup.fqdn:
        plan = [base]
    else:
        plan = candidate_names(base, with_namespace(config, lookup.namespace), resolver)
    reachable = final_key in plan
    by_question: dict[tuple[str, int], list] = {}
    order: list[int] = []
    for t in lookup.chain:
        by_question.setdefault((name_key(t.qname), t.qtype), []).append(t)
        if t.qtype not in order:
            order.append(t.qtype)
    replies = {q: reply_result(pick_useful(ts)) for q, ts in by_question.items()}

    def steps_until_stop(qtypes: Sequence[int]) -> tuple[int, bool]:
        for i, name in enumerate(plan):
            results = [replies.get((name, q), "NXDOMAIN") for q in qtypes]
            if any(_stops(r, resolver) for r in results):
                return i + 1, "NOERROR" in results
        return len(plan), False

    rtt = _step_rtt(lookup)
    kept = sum(t.retransmits for t in lookup.final)
    if "separate query-type passes" in lookup.findings:
        queries = 0
        serial = 0
        for qtype in order:
            steps, got_data = steps_until_stop([qtype])
            queries += steps
            serial += steps
            if got_data:
                break
        return _Cost(queries + kept, max(0, serial - 1) * rtt, reachable)
    steps, _ = steps_until_stop(order)
    return _Cost(steps * len(order) + kept, (steps - 1) * rtt, reachable)


def _label(config: ResolverConfig, fqdn: bool) -> str:
    if fqdn:
        return "use the answer names with a trailing dot"
    search = " ".join(config.search) or "(none)"
    return f"ndots:{config.ndots}, search {search}"


class Replayer:
    """Streaming form of `replay`: `add` lookups as they complete, then `result()`.

    Per-name totals are bounded: names beyond `max_names` are summed under "(other)".
    """

    def __init__(
        self,
        new_config: ResolverConfig,
        resolver: str = "glibc",
        *,
        fqdn: bool = False,
        label: str | None = None,
        max_names: int = 10_000,
    ) -> None:
        self.new_config = new_config
        self.resolver = resolver
        self.fqdn = fqdn
        self.label = label or _label(new_config, fqdn)
        self.max_names = max_names
        self._totals: dict[str, list] = {}
        self._answer_names: dict[str, Counter[str]] = {}
        self.n = self.before = self.after = self.unreachable = 0
        self.time_before = self.time_after = 0.0

    def add(self, lookup: Lookup) -> None:
        """Replay one lookup and count it."""
        cost = replay_one(lookup, self.new_config, self.resolver, fqdn=self.fqdn)
        as_fqdn = (
            cost if self.fqdn else replay_one(lookup, self.new_config, self.resolver, fqdn=True)
        )
        self.n += 1
        self.before += lookup.queries
        self.after += cost.queries
        self.time_before += lookup.wasted_time
        self.time_after += cost.wasted_time
        self.unreachable += not cost.reachable
        name = lookup.name
        row = self._totals.get(name)
        if row is None:
            if len(self._totals) >= self.max_names:
                name = "(other)"
            row = self._totals.setdefault(name, [0, 0, 0, 0, 0.0, 0.0, 0])
        row[0] += 1
        row[1] += lookup.queries
        row[2] += cost.queries
        row[3] += as_fqdn.queries
        row[4] += lookup.wasted_time
        row[5] += cost.wasted_time
        row[6] += not cost.reachable
        answers = self._answer_names.setdefault(name, Counter())
        if len(answers) < 16 or lookup.answer_name in answers:
            answers[lookup.answer_name] += 1

    def result(self) -> WhatIf:
        """The totals so far; `per_name` sorted by queries saved, most first, then name."""
        per_name = [
            NameWhatIf(
                name=name,
                answer_name=self._answer_names[name].most_common(1)[0][0],
                lookups=row[0],
                queries_before=row[1],
                queries_after=row[2],
                queries_fqdn=row[3],
                wasted_time_before=row[4],
                wasted_time_after=row[5],
                unreachable=row[6],
            )
            for name, row in self._totals.items()
        ]
        per_name.sort(key=lambda s: (-(s.queries_before - s.queries_after), s.name))
        return WhatIf(
            config=self.new_config,
            resolver=self.resolver,
            fqdn=self.fqdn,
            label=self.label,
            lookups=self.n,
            queries_before=self.before,
            queries_after=self.after,
            wasted_time_before=self.time_before,
            wasted_time_after=self.time_after,
            unreachable=self.unreachable,
            per_name=tuple(per_name),
        )


def replay(
    lookups: Iterable[Lookup],
    new_config: ResolverConfig,
    resolver: str = "glibc",
    *,
    fqdn: bool = False,
    label: str | None = None,
) -> WhatIf:
    """Replay `lookups` under `new_config` (or as FQDNs when `fqdn`); totals and per name.

    `per_name` is sorted by queries saved, most first, then by name.
    """
    replayer = Replayer(new_config, resolver, fqdn=fqdn, label=label)
    for lookup in lookups:
        replayer.add(lookup)
    return replayer.result()


def best_ndots(
    lookups: Sequence[Lookup], config: ResolverConfig, resolver: str = "glibc"
) -> WhatIf | None:
    """The lower ndots that saves the most queries without losing any answer, or None.

    Ties go to the higher ndots: the smallest change that gets the saving.
    """
    best: WhatIf | None = None
    for ndots in range(config.ndots - 1, 0, -1):
        trial = replay(
            lookups,
            replace(config, ndots=ndots),
            resolver,
            label=f"set dnsConfig options ndots: {ndots}",
        )
        if trial.unreachable or trial.saved <= 0:
            continue
        if best is None or trial.saved > best.saved:
            best = trial
    return best


def _per_lookup(total: int, lookups: int) -> str:
    value = total / lookups
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def advice(
    name_stats: Iterable[NameWhatIf], *, change: WhatIf | None = None, limit: int = 5
) -> list[str]:
    """Short recommendations, biggest saving first.

    One line for a config `change` that saves queries, e.g. "set dnsConfig options ndots: 2:
    saves 800 of 1,000 queries (80%) in this capture", then up to `limit` names whose
    answer name with a trailing dot saves queries: "use 'google.com.' (trailing dot): saves
    8 of 10 queries per lookup; 4,000 in this capture".
    """
    out: list[str] = []
    if change is not None and change.saved > 0:
        pct = 100 * change.saved / change.queries_before
        line = (
            f"{change.label}: saves {change.saved:,} of {change.queries_before:,} queries "
            f"({pct:.0f}%) in this capture"
        )
        if change.unreachable:
            line += f", but {change.unreachable:,} lookups would no longer reach their answer"
        out.append(line)
    ranked = sorted(
        (s for s in name_stats if s.queries_before > s.queries_fqdn),
        key=lambda s: (-(s.queries_before - s.queries_fqdn), s.name),
    )
    for s in ranked[:limit]:
        saved = s.queries_before - s.queries_fqdn
        per_saved = _per_lookup(saved, s.lookups)
        per_before = _per_lookup(s.queries_before, s.lookups)
        out.append(
            f"use '{s.answer_name}' (trailing dot): saves {per_saved} of {per_before} "
            f"queries per lookup; {saved:,} in this capture"
        )
    return out
