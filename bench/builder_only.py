"""The lookup builder's own cost, without decoding: for comparing two versions of it.

Why this exists: on a shared machine a whole `dnssniff lookups` run varies by 5-10% from
run to run, more than most changes to the builder save. This script decodes the capture
once, then times only the part that changes: the correlator feeding `LookupBuilder.hooks`
(as `dnssniff lookups` does) and the report's `LookupTally`; `--no-builder`
times the correlator alone, to subtract. Run it under callgrind for a count that does not
depend on the machine's load (instructions, not seconds):

    python bench/builder_only.py FILE [--repeat 5] [--no-builder]
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python bench/builder_only.py FILE --repeat 1

Compare two versions with `PYTHONPATH=<their checkout>`, on the same capture (the first
200k packets of the benchmark capture: `tcpdump -r FILE -w OUT -c 200000`).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import sys
import time

from dnssniff.capture import open_capture
from dnssniff.correlate import Correlator
from dnssniff.decoder import Decoder
from dnssniff.dnswire import Malformed, parse_message
from dnssniff.lookups import LookupBuilder
from dnssniff.lookupsummary import LookupTally
from dnssniff.model import DnsMessage, TcpSegment, Transaction


def messages(path: str) -> list[DnsMessage]:
    """The capture's UDP DNS messages, decoded (TCP is left out: it is not what is timed)."""
    out: list[DnsMessage] = []
    decoder = Decoder(ports=frozenset({53}))
    with open_capture(path) as capture:
        for frame in capture:
            for item in decoder.feed(frame):
                if type(item) is TcpSegment:
                    continue
                with contextlib.suppress(Malformed):
                    out.append(parse_message(item))
    return out


def once(msgs: list[DnsMessage], build: bool) -> tuple[float, int]:
    """(seconds, lookups) for one pass: the correlator, expired once a second of packet
    time as the pipeline does, feeding the builder and the tally when `build`."""
    done = _ignore
    builder = None
    if build:
        tally = LookupTally()
        builder = LookupBuilder(None, on_lookup=tally.add)
        on_query, done = builder.hooks()  # (as `dnssniff lookups` feeds it: in batches)
        correlator = Correlator(on_query=on_query)
    else:
        correlator = Correlator()
    next_expire = 0.0
    began = time.perf_counter()
    for m in msgs:
        ts = m.ts
        if ts >= next_expire:
            if next_expire:
                for txn in correlator.expire(ts):
                    done(txn)
            next_expire = ts + 1.0
        for txn in correlator.feed(m):
            done(txn)
    for txn in correlator.flush():
        done(txn)
    if builder is not None:
        builder.flush()
    return time.perf_counter() - began, builder.stats.lookups if builder is not None else 0


def _ignore(_txn: Transaction) -> None:
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-builder", action="store_true", help="the correlator alone")
    args = parser.parse_args(argv)
    msgs = messages(args.file)
    # the decoded messages live the whole run: keep the collector off them
    gc.collect()
    gc.freeze()
    runs = [once(msgs, not args.no_builder) for _ in range(args.repeat)]
    seconds = statistics.median(r[0] for r in runs)
    what = "correlator alone" if args.no_builder else "correlator + builder + tally"
    print(f"{len(msgs):,} messages, {runs[0][1]:,} lookups: {what} {seconds:.3f} s (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
