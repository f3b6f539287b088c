"""Totals over a stream of lookups: per name, per client, the most wasteful, and advice.

Everything is bounded whatever the capture holds: names and clients beyond `max_keys`
are folded into one "(other)" row, the most wasteful lookups are a heap of `top`, and the
what-if for another ndots replays one representative lookup per name (the first seen,
at most `max_keys` of them) and scales it by the name's lookup count: lookups of one name
from pods that share a resolv.conf cost the same queries, and replaying each of a
million lookups under every candidate ndots would cost more than the analysis itself.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from dataclasses import dataclass, field, replace

from dnssniff.lookups import Lookup
from dnssniff.resolvconf import ResolverConfig
from dnssniff.whatif import fqdn_queries, replay_one

OTHER = "(other)"


@dataclass(slots=True)
class Totals:
    """What a set of lookups cost."""

    lookups: int = 0
    queries: int = 0
    wasted_queries: int = 0
    wasted_time: float = 0.0
    time: float = 0.0
    queries_fqdn: int = 0
    # Counts by outcome, resolver and answer name: plain dicts (`most_common` ranks them),
    # as a Counter's increment costs twice a dict's and this runs twice per lookup.
    outcomes: dict[str, int] = field(default_factory=dict)
    resolvers: dict[str, int] = field(default_factory=dict)
    answer_names: dict[str, int] = field(default_factory=dict)

    def add(self, lookup: Lookup, fqdn_queries: int) -> None:
        """Count one lookup; `fqdn_queries` is what it would cost with a trailing dot."""
        self.lookups += 1
        self.queries += lookup.queries
        self.wasted_queries += lookup.wasted_queries
        self.wasted_time += lookup.wasted_time
        self.time += lookup.duration
        self.queries_fqdn += fqdn_queries
        counts = self.outcomes
        key = lookup.outcome
        counts[key] = counts.get(key, 0) + 1
        counts = self.resolvers
        key = lookup.resolver
        counts[key] = counts.get(key, 0) + 1
        counts = self.answer_names
        key = lookup.answer_name
        if key in counts:
            counts[key] += 1
        elif len(counts) < 16:
            counts[key] = 1

    @property
    def wasted_share(self) -> float:
        """Wasted queries over all queries (0 when none)."""
        return self.wasted_queries / self.queries if self.queries else 0.0


@dataclass(slots=True, frozen=True)
class NdotsChange:
    """The capture's lookups under another ndots (estimated from one lookup per name)."""

    ndots: int
    queries_before: int
    queries_after: int
    unreachable: int

    @property
    def saved(self) -> int:
        """Queries saved over the capture."""
        return self.queries_before - self.queries_after


class LookupTally:
    """Accumulates lookups for the `lookups` report."""

    def __init__(self, *, top: int = 20, max_keys: int = 10_000, resolver: str = "glibc") -> None:
        self.top = top
        self.max_keys = max_keys
        self.resolver = resolver
        self.names: dict[str, Totals] = {}
        self.clients: dict[str, Totals] = {}
        self._worst: list[tuple[int, float, int, Lookup]] = []
        self._seq = itertools.count()
        self._representatives: dict[str, Lookup] = {}

    def add(self, lookup: Lookup) -> None:
        """Count one lookup (once per lookup of a large capture: known names and clients
        and lookups that cannot enter the most wasteful cost a dict access each)."""
        fqdn = fqdn_queries(lookup)
        name = lookup.name
        totals = self.names.get(name)
        if totals is None:
            totals = self._bucket(self.names, name)
            if name not in self._representatives and len(self._representatives) < self.max_keys:
                self._representatives[name] = lookup
        totals.add(lookup, fqdn)
        totals = self.clients.get(lookup.client)
        if totals is None:
            totals = self._bucket(self.clients, lookup.client)
        totals.add(lookup, fqdn)
        worst = self._worst
        wasted = lookup.wasted_queries
        if len(worst) < self.top:
            heapq.heappush(worst, (wasted, lookup.wasted_time, -next(self._seq), lookup))
        else:
            # ties go to the earlier lookup: a later one enters only when strictly worse
            low = worst[0]
            if wasted > low[0] or (wasted == low[0] and lookup.wasted_time > low[1]):
                heapq.heapreplace(worst, (wasted, lookup.wasted_time, -next(self._seq), lookup))

    @property
    def total(self) -> Totals:
        """The whole capture's totals: the sum of the per-name ones (every lookup is in
        exactly one name's, "(other)" included), made when asked rather than per lookup."""
        total = Totals()
        for t in self.names.values():
            total.lookups += t.lookups
            total.queries += t.queries
            total.wasted_queries += t.wasted_queries
            total.wasted_time += t.wasted_time
            total.time += t.time
            total.queries_fqdn += t.queries_fqdn
            for mine, theirs in ((total.outcomes, t.outcomes), (total.resolvers, t.resolvers)):
                for key, n in theirs.items():
                    mine[key] = mine.get(key, 0) + n
        return total

    def _bucket(self, table: dict[str, Totals], key: str) -> Totals:
        totals = table.get(key)
        if totals is None:
            if len(table) >= self.max_keys:
                key = OTHER
                totals = table.get(key)
            if totals is None:
                totals = table[key] = Totals()
        return totals

    def worst(self) -> list[Lookup]:
        """The most wasteful lookups, most wasted queries (then time) first."""
        return [e[3] for e in sorted(self._worst, key=lambda e: e[:3], reverse=True)]

    def ranked_names(self) -> list[tuple[str, Totals]]:
        """Names by wasted queries, most first."""
        return sorted(self.names.items(), key=lambda kv: (-kv[1].wasted_queries, kv[0]))

    def ranked_clients(self) -> list[tuple[str, Totals]]:
        """Clients by wasted queries, most first."""
        return sorted(self.clients.items(), key=lambda kv: (-kv[1].wasted_queries, kv[0]))

    def ndots_change(self, config: ResolverConfig, ndots: int) -> NdotsChange:
        """Estimate the capture's queries under `ndots` (one representative per name)."""
        trial = replace(config, ndots=ndots)
        before = after = unreachable = 0
        for name, rep in self._representatives.items():
            totals = self.names.get(name)
            if totals is None:
                continue
            cost = replay_one(rep, trial, self.resolver, fqdn=False)
            scale = totals.lookups
            before += totals.queries
            after += cost.queries * scale
            unreachable += 0 if cost.reachable else scale
        return NdotsChange(ndots, before, after, unreachable)

    def best_ndots(self, config: ResolverConfig | None) -> NdotsChange | None:
        """The highest lower ndots with the biggest saving that loses no answer, or None."""
        if config is None or not config.search:
            return None
        best: NdotsChange | None = None
        for ndots in range(config.ndots - 1, 0, -1):
            change = self.ndots_change(config, ndots)
            if change.unreachable or change.saved <= 0:
                continue
            if best is None or change.saved > best.saved:
                best = change
        return best

    def advice(self, config: ResolverConfig | None, limit: int = 5) -> list[str]:
        """What to change, biggest saving first, with the saving computed."""
        out: list[str] = []
        best = self.best_ndots(config)
        if best is not None:
            pct = 100 * best.saved / best.queries_before if best.queries_before else 0
            out.append(
                f"set dnsConfig options ndots: {best.ndots} (now {config.ndots}): saves "
                f"{best.saved:,} of {best.queries_before:,} queries ({pct:.0f}%) in this capture"
            )
        ranked = sorted(
            ((n, t) for n, t in self.names.items() if n != OTHER and t.queries > t.queries_fqdn),
            key=lambda kv: (-(kv[1].queries - kv[1].queries_fqdn), kv[0]),
        )
        for name, t in ranked[:limit]:
            answer = most_common(t.answer_names, 1)[0][0] if t.answer_names else name
            saved = t.queries - t.queries_fqdn
            out.append(
                f"use '{answer}' (trailing dot) instead of '{name.rstrip('.')}': saves "
                f"{_per(saved, t.lookups)} of {_per(t.queries, t.lookups)} queries per lookup; "
                f"{saved:,} in this capture"
            )
        wasted = sum(t.wasted_queries for t in self.names.values())
        if config is not None and len(config.search) > 3 and wasted:
            extra = ", ".join(config.search[3:])
            out.append(
                f"drop search domains the cluster does not need ({extra}): each one costs "
                "every external lookup two more queries (A and AAAA)"
            )
        if wasted:
            out.append(
                "enable CoreDNS autopath (with pods verified) or NodeLocal DNSCache to answer "
                "search-list expansions next to the pod"
            )
        return out


def most_common(counts: dict[str, int], n: int | None = None) -> list[tuple[str, int]]:
    """The `n` (all by default) biggest counts, biggest first; ties in first-seen order
    (`Counter.most_common`)."""
    return Counter(counts).most_common(n)


def _per(total: int, lookups: int) -> str:
    value = total / lookups if lookups else 0.0
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
