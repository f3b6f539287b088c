"""The benchmark's helper scripts run and measure what they say (on the walkthrough sample).

They are run as a user runs them, as scripts; the figures they print are timings, so only
their counts and shape are asserted.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "pcaps" / "walkthrough.pcap"


def script(name: str, *args: str, sample: Path = SAMPLE) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), str(sample), *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def test_builder_only_feeds_the_builder_as_the_lookups_command_does() -> None:
    # the walkthrough's `getent ahosts google.com`: 10 queries and their replies, 1 lookup
    out = script("builder_only.py", "--repeat", "1")
    assert re.fullmatch(
        r"20 messages, 1 lookups: correlator \+ builder \+ tally \d+\.\d{3} s \(median\)\n", out
    )
    out = script("builder_only.py", "--repeat", "1", "--no-builder")
    assert re.fullmatch(r"20 messages, 0 lookups: correlator alone \d+\.\d{3} s \(median\)\n", out)


def test_hold_cost_prints_one_line_per_holding_time() -> None:
    out = script("hold_cost.py", "--repeat", "2", "--hold", "0,0.5,2")
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["hold 0 s", "hold 0.5 s", "hold 2 s"]
    assert lines[0].startswith("hold 0 s: median ") and "(+0.00 s; runs " in lines[0]
    assert all(len(re.findall(r"\d+\.\d\d", line.split("runs ")[1])) == 2 for line in lines)


def test_lookups_split_times_each_way_of_feeding_the_builder() -> None:
    # the walkthrough holds one lookup, whichever way the builder is fed
    line = (
        r"run 1: total \d+\.\d\d s, builder \d+\.\d\d s, rest -?\d+\.\d\d s \(1 lookups\);"
        r" pipeline without the builder \d+\.\d\d s\n"
        r"medians: total \d+\.\d\d s, builder \d+\.\d\d s, rest -?\d+\.\d\d s,"
        r" pipeline alone \d+\.\d\d s\n"
    )
    for feed in ((), ("--one-at-a-time",), ("--completed",)):
        assert re.fullmatch(line, script("lookups_split.py", "--repeat", "1", *feed)), feed


def test_dedupe_window_times_each_window_and_counts_the_copies() -> None:
    # the node sample: 52 packets, each seen on two interfaces a few microseconds apart
    out = script(
        "dedupe_window.py",
        "--repeat",
        "1",
        "--windows",
        "0.01",
        "0.1",
        sample=ROOT / "pcaps" / "walkthrough-any.pcapng",
    )
    lines = out.splitlines()
    assert re.fullmatch(r"104 packets over \d+\.\d s of capture time", lines[0])
    for line, ms in zip(lines[1:], ("10.0", "100.0"), strict=True):
        pattern = (
            rf"window +{ms} ms: 52 copies, median \d+\.\d{{3}} s \(.* packets/s, .*x the first\)"
        )
        assert re.fullmatch(pattern, line), line
