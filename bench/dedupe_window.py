"""Time the deduplicator alone at several windows, on the decoded packets of one capture.

The window is how long a packet is remembered, so it sets the size of the deduplicator's
tables and with it the cost per packet. This decodes the first `--packets` frames once,
then times `Deduplicator.is_duplicate` over them at each window (each packet's interface as
`frame_interface` reads it), alternating the windows `--repeat` times, and prints the medians.

    python bench/dedupe_window.py bench/out/capture-1000000-seed1-sll2.pcap
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from dnssniff.capture import open_capture
from dnssniff.decoder import Decoder, frame_interface
from dnssniff.dedupe import Deduplicator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--packets", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--windows", type=float, nargs="+", default=[0.010, 0.100, 0.250, 1.0])
    args = parser.parse_args(argv)

    decoder = Decoder(ports=frozenset({53}))
    items = []
    with open_capture(args.capture) as capture:
        for frame in itertools.islice(capture, args.packets):
            interface = frame_interface(frame)
            items.extend((item, interface) for item in decoder.feed(frame))
    if not items:
        raise SystemExit(f"{args.capture}: no DNS packets")
    span = items[-1][0].ts - items[0][0].ts
    print(f"{len(items):,} packets over {span:.1f} s of capture time")

    times: dict[float, list[float]] = {w: [] for w in args.windows}
    copies: dict[float, int] = {}
    for _ in range(args.repeat):
        for window in args.windows:
            dedupe = Deduplicator(window=window, interface_window=window)
            check = dedupe.is_duplicate
            start = time.perf_counter()
            for item, interface in items:
                check(item, interface)
            times[window].append(time.perf_counter() - start)
            copies[window] = dedupe.stats.duplicates
    base = statistics.median(times[args.windows[0]])
    for window, runs in times.items():
        median = statistics.median(runs)
        print(
            f"window {window * 1000:7.1f} ms: {copies[window]:,} copies, median {median:.3f} s "
            f"({len(items) / median:,.0f} packets/s, {median / base:.2f}x the first)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
