"""Latency percentiles in bounded memory.

A capture of any size must be summarised in constant memory, so RTTs cannot all be kept.
`LatencyDigest` keeps the exact values until `exact_limit` of them have been seen (small
captures, and every test, get exact percentiles), then folds them into a log-linear
histogram whose buckets are 1% wide: any percentile it reports afterwards is within 1% of
the true value. The maximum and minimum are always exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

_GROWTH = 1.01
_LOG_GROWTH = math.log(_GROWTH)
# Bucket 0 holds everything at or below 1 microsecond; capture clocks do not resolve less.
_FLOOR = 1e-6


@dataclass(slots=True)
class LatencyDigest:
    """Collects RTTs (seconds) and answers percentile queries.

    `add` only appends to a list (it runs once per answered query); the list is folded
    into the histogram in batches of `exact_limit`, with C-speed builtins for min and max.
    """

    exact_limit: int = 100_000
    _batch: list[float] = field(default_factory=list)
    _folded: int = 0
    _total: float = 0.0
    _max: float = 0.0
    _min: float = math.inf
    _buckets: dict[int, int] = field(default_factory=dict)

    def add(self, rtt: float) -> None:
        """Record one RTT."""
        batch = self._batch
        batch.append(rtt)
        if len(batch) > self.exact_limit:
            self._fold()

    def _fold(self) -> None:
        batch = self._batch
        if not batch:
            return
        self._total += sum(batch)
        self._max = max(self._max, max(batch))
        self._min = min(self._min, min(batch))
        buckets = self._buckets
        log, floor, step = math.log, _FLOOR, _LOG_GROWTH
        for rtt in batch:
            index = 0 if rtt <= floor else int(log(rtt / floor) / step) + 1
            buckets[index] = buckets.get(index, 0) + 1
        self._folded += len(batch)
        self._batch = []

    @property
    def count(self) -> int:
        """RTTs recorded."""
        return self._folded + len(self._batch)

    @property
    def exact(self) -> bool:
        """True while every value is still kept (percentiles are exact)."""
        return self._folded == 0

    @property
    def maximum(self) -> float:
        """The largest RTT (0 when empty)."""
        return max(self._max, max(self._batch, default=0.0))

    @property
    def minimum(self) -> float:
        """The smallest RTT (inf when empty)."""
        return min(self._min, min(self._batch, default=math.inf))

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0-100) by the nearest-rank method, None when empty."""
        count = self.count
        if count == 0:
            return None
        rank = max(1, math.ceil(q / 100.0 * count))
        if self.exact:
            return sorted(self._batch)[rank - 1]
        self._fold()
        seen = 0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                if index == 0:
                    return min(self.minimum, _FLOOR)
                low = _FLOOR * _GROWTH ** (index - 1)
                # The geometric middle of the bucket, clamped to what was really seen.
                return min(self.maximum, max(self.minimum, low * math.sqrt(_GROWTH)))
        return self.maximum

    def summary(self) -> dict[str, float | None]:
        """p50/p90/p99/max/mean in seconds (None when no RTT was recorded)."""
        count = self.count
        if count == 0:
            return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
        if self.exact:
            values = sorted(self._batch)

            def pick(q: float) -> float:
                return values[max(1, math.ceil(q / 100.0 * count)) - 1]
        else:
            pick = self.percentile  # type: ignore[assignment]
        total = self._total + sum(self._batch)
        return {
            "p50": pick(50),
            "p90": pick(90),
            "p99": pick(99),
            "max": self.maximum,
            "mean": total / count,
        }
