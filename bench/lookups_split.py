"""Where `dnssniff lookups` spends its time: the pipeline, and the lookup builder inside it.

Why this exists: the per-lookup report must stay within 1.5x `dnssniff analyze` (see
`run.py --lookups`), and the two numbers that decide where to work are how long the
builder itself runs and how much the pipeline around it slows down. As `dnssniff lookups`
feeds it, through `LookupBuilder.hooks` (events queued, applied in batches of 256), the
builder runs inside the query hook that applies a batch; the completion sink only queues
(a list append, counted in the rest). `--one-at-a-time` calls `sent` and `done` for each
event instead (timed around each; each queues its event and applies it at once, so this
costs a little more than the builder did before batches). `--completed` feeds completed
transactions (`LookupBuilder.feed`, held `--reorder` seconds, 17 by default, and matched
in sending order): the way the builder was fed before it took queries as they are sent.

    python bench/lookups_split.py FILE [--repeat 3] [--one-at-a-time | --completed [--reorder 17]]

Prints, per run: the total, the time inside the builder, the rest (decode and pairing),
then the same pipeline without the builder for the baseline. The timer costs ~0.1 s per
million transactions, counted inside.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dnssniff.api import analyze_file  # noqa: E402
from dnssniff.errors import DnssniffError  # noqa: E402
from dnssniff.lookups import DEFAULT_REORDER, LookupBuilder  # noqa: E402
from dnssniff.pipeline import AnalyzerOptions  # noqa: E402


def split(path: str, reorder: float, feed: str) -> tuple[float, float, int]:
    """(total seconds, seconds inside the builder, lookups) for one run."""
    lookups = [0]

    def count(_lookup: object) -> None:
        lookups[0] += 1

    builder = LookupBuilder(None, on_lookup=count, reorder=reorder)
    clock = time.perf_counter
    inside = [0.0]

    def timed(step):
        def call(txn) -> None:
            began = clock()
            step(txn)
            inside[0] += clock() - began

        return call

    began = clock()
    options = replace(AnalyzerOptions(), tally=False)
    if feed == "completed":
        analyze_file(path, options, timed(builder.feed))
    elif feed == "one":
        analyze_file(path, options, timed(builder.done), timed(builder.sent))
    else:
        on_query, sink = builder.hooks()
        analyze_file(path, options, sink, timed(on_query))
    flushed = clock()
    builder.flush()
    inside[0] += clock() - flushed
    return clock() - began, inside[0], lookups[0]


def pipeline_only(path: str) -> float:
    began = time.perf_counter()
    analyze_file(path, replace(AnalyzerOptions(), tally=False), lambda txn: None)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reorder", type=float, default=DEFAULT_REORDER)
    feeds = parser.add_mutually_exclusive_group()
    feeds.add_argument("--completed", action="store_true", help="feed completed transactions")
    feeds.add_argument(
        "--one-at-a-time", action="store_true", help="call sent and done for each event"
    )
    args = parser.parse_args(argv)
    feed = "completed" if args.completed else "one" if args.one_at_a_time else "batched"
    if args.repeat < 1 or args.reorder <= 0:
        parser.error("--repeat must be >= 1 and --reorder > 0")
    totals, insides, bases = [], [], []
    for i in range(args.repeat):
        try:
            total, inside, lookups = split(args.file, args.reorder, feed)
            base = pipeline_only(args.file)
        except DnssniffError as exc:
            print(f"lookups_split: error: {exc}", file=sys.stderr)
            return 1
        totals.append(total)
        insides.append(inside)
        bases.append(base)
        print(
            f"run {i + 1}: total {total:.2f} s, builder {inside:.2f} s, rest {total - inside:.2f}"
            f" s ({lookups:,} lookups); pipeline without the builder {base:.2f} s"
        )
    med = statistics.median
    print(
        f"medians: total {med(totals):.2f} s, builder {med(insides):.2f} s, rest"
        f" {med(totals) - med(insides):.2f} s, pipeline alone {med(bases):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
