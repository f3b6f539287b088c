"""What holding completed transactions costs the pipeline (decode and pairing included).

Why this exists: `dnssniff lookups` keeps each transaction in its open chain until the
lookup closes, and `analyze` drops it at once. Holding Python objects longer makes every
later allocation touch more memory, so the whole run slows down, not only the lookup
builder. This script measures that effect alone: the same pipeline with a sink that keeps
each transaction for H seconds of packet time (a deque, oldest dropped first), for each H
given, runs alternated. It is why idle chains close every quarter second (see `_TICK` in
`dnssniff/lookups.py`).

    python bench/hold_cost.py FILE [--repeat 4] [--hold 0,0.3,1,3]

Prints the median seconds per holding time; compare them with each other (same command,
same machine), not with other runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dnssniff.api import analyze_file  # noqa: E402
from dnssniff.model import Transaction  # noqa: E402
from dnssniff.pipeline import AnalyzerOptions  # noqa: E402


def run(path: str, hold: float) -> float:
    """Seconds for one pipeline run whose sink holds each transaction `hold` seconds."""
    held: deque[Transaction] = deque()

    def sink(txn: Transaction) -> None:
        held.append(txn)
        oldest = txn.ts - hold
        while held[0].ts < oldest:
            held.popleft()

    began = time.perf_counter()
    analyze_file(path, replace(AnalyzerOptions(), tally=False), sink)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--hold", default="0,0.3,1,3", help="seconds, comma-separated")
    args = parser.parse_args(argv)
    holds = [float(h) for h in args.hold.split(",")]
    times: dict[float, list[float]] = {h: [] for h in holds}
    for _ in range(args.repeat):
        for h in holds:
            times[h].append(run(args.file, h))
    base = statistics.median(times[holds[0]])
    for h in holds:
        median = statistics.median(times[h])
        runs = " ".join(f"{t:.2f}" for t in times[h])
        print(f"hold {h:g} s: median {median:.2f} s ({median - base:+.2f} s; runs {runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
