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
    """Collects RTTs (seconds) and answers percentile queries."""

    exact_limit: int = 100_000
    count: int = 0
    total: float = 0.0
    maximum: float = 0.0
    minimum: float = math.inf
    _exact: list[float] | None = field(default_factory=list)
    _buckets: dict[int, int] = field(default_factory=dict)

    def add(self, rtt: float) -> None:
        """Record one RTT."""
        self.count += 1
        self.total += rtt
        if rtt > self.maximum:
            self.maximum = rtt
        if rtt < self.minimum:
            self.minimum = rtt
        exact = self._exact
        if exact is not None:
            exact.append(rtt)
            if len(exact) > self.exact_limit:
                for value in exact:
                    self._bucket_add(value)
                self._exact = None
        else:
            self._bucket_add(rtt)

    def _bucket_add(self, rtt: float) -> None:
        index = 0 if rtt <= _FLOOR else int(math.log(rtt / _FLOOR) / _LOG_GROWTH) + 1
        self._buckets[index] = self._buckets.get(index, 0) + 1

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0-100) by the nearest-rank method, None when empty."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q / 100.0 * self.count))
        if self._exact is not None:
            return sorted(self._exact)[rank - 1]
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
        if self.count == 0:
            return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
        values = sorted(self._exact) if self._exact is not None else None

        def pick(q: float) -> float | None:
            if values is None:
                return self.percentile(q)
            return values[max(1, math.ceil(q / 100.0 * self.count)) - 1]

        return {
            "p50": pick(50),
            "p90": pick(90),
            "p99": pick(99),
            "max": self.maximum,
            "mean": self.total / self.count,
        }
