"""Benchmark `dnssniff analyze` against a tshark command on the same generated capture.

The performance target of the project is stated against tshark (the tool a person would
otherwise reach for): dnssniff must process a capture at least 3x faster than
`tshark -r FILE -T fields -e dns.id -e dns.qry.name -e dns.flags.rcode -e dns.time`. Both
run on the same file on the same machine, alternately, so that a busy machine slows both;
the report gives medians, and the ratio of the medians is the figure to read.

`--lookups` also times `dnssniff lookups` (the per-lookup report, table format, search list
inferred) in the same alternation: its target is at most 1.5x the time of `dnssniff
analyze` on the same capture (decode and pairing, with analyze's summary), so the report
gives the ratio of the two medians.

Peak memory comes from GNU time (`/usr/bin/time -f %M`) when it is installed: a child
spawned directly by this Python process would inherit this process's own peak RSS as a
floor in `ru_maxrss` (the memory is shared with the parent until exec). Without GNU time it
falls back to `os.wait4` and says so.

Exit codes: 0 success, 1 dnssniff failed (or the capture could not be made), 2 bad
arguments, 3 `--check` found counts that differ from the generator's ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
GNU_TIME = "/usr/bin/time"
TSHARK_FIELDS = ("dns.id", "dns.qry.name", "dns.flags.rcode", "dns.time")
TARGET_RATIO = 3.0
LOOKUPS_TARGET = 1.5  # `dnssniff lookups` over `dnssniff analyze`, at most
# dnssniff's JSON key (under "summary") -> the generator's ground-truth field.
CHECK_KEYS = {
    "queries": "queries",
    "responses": "responses",
    "transactions": "transactions",
    "answered": "answered",
    "unanswered": "unanswered",
    "retransmits": "retransmits",
}

sys.path.insert(0, str(BENCH))
import gen_capture  # noqa: E402  (a sibling script, not an installed module)


@dataclass(slots=True)
class Run:
    """One measured execution of a tool."""

    seconds: float
    cpu_seconds: float  # user + system: steadier than wall time on a busy machine
    peak_kb: int
    returncode: int
    peak_source: str


@dataclass(slots=True)
class ToolResult:
    """Every run of one tool and their medians."""

    name: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)
    error: str = ""

    @property
    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if r.returncode == 0]

    def median_seconds(self) -> float | None:
        ok = self.ok_runs
        return statistics.median(r.seconds for r in ok) if ok else None

    def median_cpu_seconds(self) -> float | None:
        ok = self.ok_runs
        return statistics.median(r.cpu_seconds for r in ok) if ok else None

    def median_peak_mb(self) -> float | None:
        ok = self.ok_runs
        return statistics.median(r.peak_kb for r in ok) / 1024 if ok else None


def measure(cmd: list[str], stdout: Path | None, stderr: Path) -> Run:
    """Run `cmd` to completion; wall time and peak RSS of the child."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    try:
        with open(stderr, "wb") as err:
            if Path(GNU_TIME).exists():
                with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
                    full = [GNU_TIME, "-f", "%M %U %S", "-o", report.name, *cmd]
                    began = time.perf_counter()
                    code = subprocess.run(full, stdout=out, stderr=err, check=False).returncode
                    seconds = time.perf_counter() - began
                    # GNU time may put "Command exited with non-zero status" first.
                    last = (Path(report.name).read_text().strip().splitlines() or [""])[-1]
                    try:
                        peak, user, system = last.split()
                        return Run(
                            seconds, float(user) + float(system), int(peak), code, "gnu-time"
                        )
                    except ValueError:  # the command could not be started at all
                        return Run(seconds, 0.0, 0, code or 127, "gnu-time")
            began = time.perf_counter()
            try:
                child = subprocess.Popen(cmd, stdout=out, stderr=err)
            except OSError as exc:
                err.write(f"{exc}\n".encode())
                return Run(0.0, 0.0, 0, 127, "wait4")
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - began
            child.returncode = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
            return Run(seconds, cpu, usage.ru_maxrss, child.returncode, "wait4")
    finally:
        if stdout:
            out.close()  # type: ignore[union-attr]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def prepare_capture(args: argparse.Namespace) -> tuple[Path, dict | None, dict | None, bool]:
    """(capture, ground truth or None, generator timing or None, whether to delete it after)."""
    if args.file:
        path = Path(args.file)
        generated_here = False
    else:
        path = OUT / f"capture-{args.packets}-seed{args.seed}-{args.linktype}.pcap"
        generated_here = True
    truth_path = path.with_name(path.name + ".truth.json")
    if path.exists():
        truth = json.loads(truth_path.read_text()) if truth_path.exists() else None
        return path, truth, None, generated_here and not args.keep
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {args.packets:,} packets into {path} ...", file=sys.stderr)
    began = time.perf_counter()
    summary = gen_capture.generate(path, args.packets, args.seed, linktype=args.linktype)
    seconds = time.perf_counter() - began
    truth = summary.to_dict()
    truth_path.write_text(json.dumps(truth, indent=2) + "\n")
    gen = {"seconds": round(seconds, 3), "packets_per_second": round(summary.packets / seconds)}
    print(
        f"generated in {seconds:.2f} s ({gen['packets_per_second']:,} packets/s)", file=sys.stderr
    )
    return path, truth, gen, generated_here and not args.keep


def count_packets(path: Path) -> int | None:
    """Records in a classic pcap file (walking the record headers), None for another format."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24 or head[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            if head[:4] not in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
                return None
            order = ">"
        else:
            order = "<"
        record = struct.Struct(order + "IIII")
        count = 0
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return count
            f.seek(record.unpack(rec)[2], os.SEEK_CUR)
            count += 1


def check(output: Path, truth: dict) -> list[str]:
    """Mismatches between dnssniff's JSON summary and the ground truth, one line each."""
    try:
        report = json.loads(output.read_text())
    except (OSError, ValueError) as exc:
        return [f"dnssniff output is not JSON: {exc}"]
    summary = report.get("summary") if isinstance(report, dict) else None
    if not isinstance(summary, dict):
        return ["dnssniff output has no 'summary' object"]
    problems = []
    for key, truth_key in CHECK_KEYS.items():
        if key not in summary:
            problems.append(f"summary.{key}: missing (expected {truth[truth_key]})")
        elif summary[key] != truth[truth_key]:
            problems.append(f"summary.{key}: {summary[key]} != expected {truth[truth_key]}")
    return problems


def table(results: list[ToolResult], packets: int | None) -> str:
    """The human-readable comparison."""
    rows = [("tool", "runs", "median s", "packets/s", "median cpu s", "peak MB", "status")]
    for res in results:
        med = res.median_seconds()
        cpu = res.median_cpu_seconds()
        peak = res.median_peak_mb()
        status = res.error or ("ok" if len(res.ok_runs) == len(res.runs) else "failed runs")
        rows.append(
            (
                res.name,
                f"{len(res.ok_runs)}/{len(res.runs)}",
                "-" if med is None else f"{med:.2f}",
                "-" if med is None or not packets else f"{packets / med:,.0f}",
                "-" if cpu is None else f"{cpu:.2f}",
                "-" if peak is None else f"{peak:.1f}",
                status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def _tshark_version() -> str:
    try:
        out = subprocess.run(["tshark", "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return out.stdout.splitlines()[0] if out.stdout else ""


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) the capture, run both tools alternately, report and save."""
    parser = argparse.ArgumentParser(description="dnssniff vs tshark on a generated capture")
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--linktype", choices=sorted(gen_capture.LINKTYPES), default="en10mb")
    parser.add_argument("--file", help="capture to use (generated there if missing, then kept)")
    parser.add_argument("--keep", action="store_true", help="keep the generated capture")
    parser.add_argument("--check", action="store_true", help="compare counts with ground truth")
    parser.add_argument("--no-tshark", action="store_true", help="run dnssniff only")
    parser.add_argument(
        "--lookups", action="store_true", help="also time `dnssniff lookups` (vs analyze)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.packets < 1:
        parser.error("--repeat and --packets must be >= 1")

    OUT.mkdir(parents=True, exist_ok=True)
    try:
        capture, truth, gen, delete_after = prepare_capture(args)
    except (OSError, ValueError) as exc:
        print(f"error: cannot prepare the capture: {exc}", file=sys.stderr)
        return 1
    packets = truth["packets"] if truth else count_packets(capture)

    sniff = ToolResult(
        "dnssniff", [sys.executable, "-m", "dnssniff", "analyze", str(capture), "--format", "json"]
    )
    fields = [arg for name in TSHARK_FIELDS for arg in ("-e", name)]
    shark = ToolResult("tshark", ["tshark", "-r", str(capture), "-T", "fields", *fields])
    tools = [sniff] if args.no_tshark else [sniff, shark]
    if not args.no_tshark and shutil.which("tshark") is None:
        shark.error = "tshark not installed"
        tools = [sniff]
    lookups = ToolResult(
        "dnssniff-lookups", [sys.executable, "-m", "dnssniff", "lookups", str(capture)]
    )
    if args.lookups:
        tools.append(lookups)
    sniff_out, sniff_err = OUT / "dnssniff-stdout.json", OUT / "dnssniff-stderr.txt"
    for i in range(args.repeat):
        for tool in tools:
            if tool.error:
                continue
            if tool is sniff:
                run = measure(tool.command, sniff_out, sniff_err)
            else:
                run = measure(tool.command, None, OUT / f"{tool.name}-stderr.txt")
            tool.runs.append(run)
            state = "ok" if run.returncode == 0 else f"exit {run.returncode}"
            print(
                f"run {i + 1}/{args.repeat} {tool.name}: {run.seconds:.2f} s "
                f"({run.cpu_seconds:.2f} s cpu), "
                f"{run.peak_kb / 1024:.1f} MB, {state}",
                file=sys.stderr,
            )
            if run.returncode != 0:
                # A failing tool is not retried: its error is the result.
                log = sniff_err if tool is sniff else OUT / f"{tool.name}-stderr.txt"
                tool.error = f"failed (exit {run.returncode})"
                print(
                    f"{tool.name} failed; last lines of its stderr:\n{_tail(log)}", file=sys.stderr
                )

    results = [sniff, shark, *([lookups] if args.lookups else [])]
    size = f"{packets:,} packets" if packets else "not a classic pcap: packets not counted"
    print(f"\ncapture: {capture} ({size})")
    print(table(results, packets))
    ratio = cpu_ratio = None
    if sniff.median_seconds() and shark.median_seconds():
        ratio = shark.median_seconds() / sniff.median_seconds()
        verdict = "meets" if ratio >= TARGET_RATIO else "misses"
        print(f"ratio tshark/dnssniff: {ratio:.2f}x ({verdict} the {TARGET_RATIO:.0f}x target)")
        cpu_ratio = shark.median_cpu_seconds() / max(sniff.median_cpu_seconds() or 0, 1e-9)
        print(f"cpu ratio tshark/dnssniff: {cpu_ratio:.2f}x")

    lookups_ratio = None
    if args.lookups and sniff.median_seconds() and lookups.median_seconds():
        lookups_ratio = lookups.median_seconds() / sniff.median_seconds()
        verdict = "meets" if lookups_ratio <= LOOKUPS_TARGET else "misses"
        each = ", ".join(
            f"{b.seconds / a.seconds:.2f}"
            for a, b in zip(sniff.runs, lookups.runs, strict=False)
            if a.returncode == 0 and b.returncode == 0
        )
        print(
            f"ratio lookups/analyze: {lookups_ratio:.2f}x ({verdict} the at most "
            f"{LOOKUPS_TARGET}x target; per alternation: {each})"
        )
        cpu = lookups.median_cpu_seconds() / max(sniff.median_cpu_seconds() or 0, 1e-9)
        print(f"cpu ratio lookups/analyze: {cpu:.2f}x")

    problems: list[str] = []
    if args.check:
        if not sniff.ok_runs:
            problems = ["no successful dnssniff run to check"]
        elif truth is None:
            problems = [f"no ground truth next to {capture} (*.truth.json)"]
        else:
            problems = check(sniff_out, truth)
        print("check: " + ("counts match the ground truth" if not problems else "MISMATCH"))
        for line in problems:
            print(f"  {line}")

    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "tshark": _tshark_version(),
        },
        "capture": {"path": str(capture), "packets": packets, "truth": truth, "generator": gen},
        "tools": {
            res.name: {
                "command": res.command,
                "runs": [asdict(r) for r in res.runs],
                "median_seconds": res.median_seconds(),
                "packets_per_second": packets / res.median_seconds()
                if res.median_seconds() and packets
                else None,
                "median_cpu_seconds": res.median_cpu_seconds(),
                "median_peak_mb": res.median_peak_mb(),
                "error": res.error,
            }
            for res in results
        },
        "ratio_tshark_over_dnssniff": ratio,
        "cpu_ratio_tshark_over_dnssniff": cpu_ratio,
        "target_ratio": TARGET_RATIO,
        "ratio_lookups_over_analyze": lookups_ratio,
        "lookups_target_ratio": LOOKUPS_TARGET,
        "check": {"ran": args.check, "mismatches": problems},
    }
    (OUT / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {OUT / 'results.json'}")

    if delete_after:
        capture.unlink(missing_ok=True)
        capture.with_name(capture.name + ".truth.json").unlink(missing_ok=True)
    if not sniff.ok_runs or sniff.error:
        return 1
    if problems:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
