"""Formatters for `dnssniff analyze`: the summary as JSON or as a table for people."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tabulate import tabulate

from dnssniff.pipeline import Report
from dnssniff.report import text


def warnings_of(report: Report) -> list[str]:
    """One-line warnings a user must see (also printed on stderr by the CLI)."""
    out = []
    for cap in report.captures:
        if cap.truncated:
            out.append(
                f"{cap.name}: capture is truncated ({cap.truncated_detail}); "
                "everything before the cut was analysed"
            )
        if cap.snaplen_cut:
            out.append(
                f"{cap.name}: {text.count(cap.snaplen_cut)} packets were cut by the "
                "capture's snaplen (capture with -s 0 to keep whole packets)"
            )
    return out


def summary_json(report: Report) -> str:
    """`{"summary": {...}, "captures": [...], "warnings": [...]}`."""
    doc = {
        "summary": report.summary.to_dict(),
        "captures": [
            {name: getattr(cap, name) for name in cap.__dataclass_fields__}
            for cap in report.captures
        ],
        "warnings": warnings_of(report),
    }
    return json.dumps(doc, indent=2) + "\n"


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def summary_table(report: Report) -> str:
    """The same numbers, laid out for a terminal."""
    s = report.summary
    c = text.count
    names = ", ".join(cap.name for cap in report.captures)
    span = None if s.first_ts is None or s.last_ts is None else s.last_ts - s.first_ts
    overview = [
        ("captures", names),
        ("first query", _when(s.first_ts)),
        ("span", text.duration(span)),
        ("frames", c(s.frames)),
        (
            "DNS messages",
            f"{c(s.dns_messages)} ({c(s.queries)} queries, {c(s.responses)} responses)",
        ),
        ("duplicate copies dropped", c(s.duplicates)),
        ("malformed", c(s.malformed)),
    ]
    if s.tcp.get("segments"):
        t = s.tcp
        overview.append(
            (
                "DNS over TCP",
                f"{c(t['messages'])} messages in {c(t['segments'])} "
                f"segments, {c(t['holes'])} holes ({c(t['bytes_skipped'])} bytes "
                "skipped)",
            )
        )
    if s.decode.get("fragments"):
        d = s.decode
        overview.append(
            ("IP fragments", f"{c(d['fragments'])} reassembled into {c(d['reassembled'])} packets")
        )
    if s.decode.get("tunnels"):
        overview.append(("tunnel layers removed", c(s.decode["tunnels"])))
    txns = [
        ("transactions", c(s.transactions), ""),
        ("answered", c(s.answered), text.percent(s.answered, s.transactions)),
        ("unanswered", c(s.unanswered), text.percent(s.unanswered, s.transactions)),
        ("unsolicited responses", c(s.unsolicited), text.percent(s.unsolicited, s.transactions)),
        ("retransmitted queries", c(s.retransmits), ""),
    ]
    lat = s.latency
    latency = [(k, text.duration(lat[k])) for k in ("p50", "p90", "p99", "max")]
    parts = [
        tabulate(overview, tablefmt="plain"),
        "",
        tabulate(
            txns,
            headers=("transactions", "count", "share"),
            tablefmt="simple",
            colalign=("left", "right", "right"),
        ),
        "",
        tabulate(
            latency,
            headers=("latency (answered)", "rtt"),
            tablefmt="simple",
            colalign=("left", "right"),
        ),
    ]
    if s.rcodes:
        total = sum(s.rcodes.values())
        rows = [(k, c(v), text.percent(v, total)) for k, v in s.rcodes.items()]
        parts += [
            "",
            tabulate(
                rows,
                headers=("rcode", "responses", "share"),
                tablefmt="simple",
                colalign=("left", "right", "right"),
            ),
        ]
    if s.qtypes:
        rows = [(k, c(v)) for k, v in list(s.qtypes.items())[:10]]
        parts += [
            "",
            tabulate(
                rows,
                headers=("qtype", "transactions"),
                tablefmt="simple",
                colalign=("left", "right"),
            ),
        ]
    if s.malformed_by_reason:
        rows = [(k, c(v)) for k, v in s.malformed_by_reason.items()]
        parts += [
            "",
            tabulate(
                rows,
                headers=("malformed", "packets"),
                tablefmt="simple",
                colalign=("left", "right"),
            ),
        ]
    return "\n".join(parts) + "\n"
