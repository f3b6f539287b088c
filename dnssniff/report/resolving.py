"""Formatters for `dnssniff explain` and `dnssniff whatif`."""

from __future__ import annotations

import json

from tabulate import tabulate

from dnssniff.report import text
from dnssniff.report.lookups import config_record
from dnssniff.resolvconf import ResolverConfig
from dnssniff.resolvers import PlannedQuery
from dnssniff.whatif import WhatIf


def explain_table(
    name: str, config: ResolverConfig, resolver: str, plan: list[PlannedQuery]
) -> str:
    """The queries a resolver sends for `name`, in order, with why."""
    search = " ".join(config.search) or "(none)"
    head = (
        f"{resolver} resolving '{name}' with search {search} and ndots:{config.ndots} "
        f"({config.source})"
    )
    rows = []
    n = 0
    for step, planned in enumerate(plan, 1):
        for qtype in planned.qtypes:
            n += 1
            rows.append((n, step, planned.name, qtype, planned.reason))
    table = tabulate(rows, headers=("#", "step", "query", "type", "why"), disable_numparse=True)
    useful = len(plan[-1].qtypes) if plan else 0
    tail = (
        f"{n} queries if only the last name exists ({n - useful} of them wasted); "
        "a name that exists earlier in the list stops the search there."
    )
    if len(plan) > 1:
        fqdn = name if name.endswith(".") else name + "."
        tail += f" Asking for '{fqdn}' (trailing dot) sends {useful} queries."
    return "\n".join([head, "", table, "", tail]) + "\n"


def explain_json(name: str, config: ResolverConfig, resolver: str, plan: list[PlannedQuery]) -> str:
    """The same as JSON."""
    doc = {
        "name": name,
        "resolver": resolver,
        "config": config_record(config),
        "queries": [
            {"name": p.name, "qtype": q, "reason": p.reason} for p in plan for q in p.qtypes
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _pct(before: int, after: int) -> str:
    """'-80%' for a saving, '+20%' for a cost."""
    return "-" if before == 0 else f"{100.0 * (after - before) / before:+.0f}%"


def whatif_table(base: ResolverConfig | None, result: WhatIf, limit: int = 20) -> str:
    """Queries and wasted time as captured and under the other configuration."""
    c, d = text.count, text.duration
    parts = []
    if base is not None:
        search = " ".join(base.search) or "(none)"
        parts.append(f"captured with: search {search}; ndots:{base.ndots} ({base.source})")
    parts.append(f"what if:       {result.label} ({result.resolver})")
    rows = [
        ("lookups", c(result.lookups), c(result.lookups), ""),
        (
            "queries",
            c(result.queries_before),
            c(result.queries_after),
            _pct(result.queries_before, result.queries_after),
        ),
        ("time on wasted queries", d(result.wasted_time_before), d(result.wasted_time_after), ""),
        ("lookups that would miss their answer", "", c(result.unreachable), ""),
    ]
    parts += [
        "",
        tabulate(
            rows,
            headers=("", "as captured", "what if", "change"),
            disable_numparse=True,
            colalign=("left", "right", "right", "right"),
        ),
        "(what-if times assume each extra query costs the capture's mean NXDOMAIN round trip)",
    ]
    names = [
        (
            n.name,
            c(n.lookups),
            c(n.queries_before),
            c(n.queries_after),
            _pct(n.queries_before, n.queries_after),
            d(n.wasted_time_before),
            d(n.wasted_time_after),
            c(n.unreachable) if n.unreachable else "",
        )
        for n in result.per_name[:limit]
    ]
    if names:
        parts += [
            "",
            tabulate(
                names,
                headers=(
                    "name",
                    "lookups",
                    "queries before",
                    "after",
                    "change",
                    "wasted time before",
                    "after",
                    "would miss",
                ),
                disable_numparse=True,
                colalign=("left",) + ("right",) * 7,
            ),
        ]
        if len(result.per_name) > limit:
            parts.append(f"... and {c(len(result.per_name) - limit)} more names")
    if result.unreachable:
        parts += [
            "",
            f"warning: {c(result.unreachable)} lookups would no longer reach the "
            "name that answered them: this change is not safe as it stands",
        ]
    return "\n".join(parts) + "\n"


def whatif_json(base: ResolverConfig | None, result: WhatIf) -> str:
    """The same as JSON."""
    doc = {
        "captured_config": config_record(base),
        "change": result.label,
        "config": config_record(result.config),
        "resolver": result.resolver,
        "fqdn": result.fqdn,
        "lookups": result.lookups,
        "queries_before": result.queries_before,
        "queries_after": result.queries_after,
        "saved": result.saved,
        "wasted_time_before": round(result.wasted_time_before, 6),
        "wasted_time_after": round(result.wasted_time_after, 6),
        "unreachable": result.unreachable,
        "per_name": [
            {
                "name": n.name,
                "answer_name": n.answer_name,
                "lookups": n.lookups,
                "queries_before": n.queries_before,
                "queries_after": n.queries_after,
                "queries_with_trailing_dot": n.queries_fqdn,
                "wasted_time_before": round(n.wasted_time_before, 6),
                "wasted_time_after": round(n.wasted_time_after, 6),
                "unreachable": n.unreachable,
            }
            for n in result.per_name
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
