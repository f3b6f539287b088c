"""Formatters for `dnssniff lookups`: one record per application lookup, then totals.

jsonl and csv stream one record per lookup as lookups complete (in completion order) and
memory stays constant; jsonl then adds one line per name and per client (`"type"`
tells them apart). json is one document: the same lookup records streamed in a
`lookups` array, then the most wasteful ones, per-name and per-client totals and advice.
The table shows the most wasteful lookups first, then the totals and the advice.
"""

from __future__ import annotations

import csv
import io
import json

from tabulate import tabulate

from dnssniff.dnswire import answers_of
from dnssniff.lookups import Lookup
from dnssniff.lookupsummary import LookupTally, Totals
from dnssniff.report import text
from dnssniff.report.records import transaction_record
from dnssniff.resolvconf import ResolverConfig

LOOKUP_FIELDS = (
    "client", "name", "qtypes", "start", "duration", "queries", "wasted_queries",
    "wasted_time", "outcome", "answer_name", "answers", "resolver", "findings",
)


def lookup_record(lookup: Lookup) -> dict:
    """One lookup as a JSON-ready dict; `chain` holds its transactions in order."""
    answers: list[str] = []
    for txn in lookup.final:
        if txn.response is not None and txn.response.ancount:
            answers.extend(answers_of(txn.response))
    return {
        "client": lookup.client,
        "name": lookup.name,
        "qtypes": list(lookup.qtypes),
        "start": round(lookup.start, 6),
        "duration": round(lookup.duration, 6),
        "queries": lookup.queries,
        "wasted_queries": lookup.wasted_queries,
        "wasted_time": round(lookup.wasted_time, 6),
        "outcome": lookup.outcome,
        "answer_name": lookup.answer_name,
        "answers": answers,
        "resolver": lookup.resolver,
        "findings": list(lookup.findings),
        "chain": [transaction_record(t) for t in lookup.chain],
    }


def totals_record(key_name: str, key: str, t: Totals) -> dict:
    """Per-name or per-client totals as a JSON-ready dict."""
    return {
        key_name: key,
        "lookups": t.lookups,
        "queries": t.queries,
        "wasted_queries": t.wasted_queries,
        "wasted_share": round(t.wasted_share, 4),
        "wasted_time": round(t.wasted_time, 6),
        "queries_with_trailing_dot": t.queries_fqdn,
        "outcomes": dict(t.outcomes.most_common()),
        "resolvers": dict(t.resolvers.most_common()),
    }


def config_record(config: ResolverConfig | None) -> dict | None:
    """The resolver configuration the report assumed, and where it came from."""
    if config is None:
        return None
    return {"search": list(config.search), "ndots": config.ndots, "source": config.source}


def _chain_text(record: dict) -> str:
    steps = []
    for t in record["chain"]:
        retx = f" x{1 + t['retransmits']}" if t["retransmits"] else ""
        steps.append(f"{t['qname']} {t['qtype']} {t['rcode'] or t['status']}{retx}")
    return " > ".join(steps)


class LookupsJsonl:
    """One JSON object per lookup, then per name and per client."""

    def header(self) -> str:
        return ""

    def row(self, lookup: Lookup) -> str:
        return json.dumps({"type": "lookup", **lookup_record(lookup)}, separators=(",", ":")) + "\n"

    def footer(self, tally: LookupTally, config: ResolverConfig | None) -> str:
        lines = [{"type": "name", **totals_record("name", k, t)} for k, t in tally.ranked_names()]
        lines += [{"type": "client", **totals_record("client", k, t)}
                  for k, t in tally.ranked_clients()]
        return "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines)


class LookupsCsv:
    """One CSV row per lookup; the chain as 'name type rcode > ...'."""

    def __init__(self) -> None:
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\n")
        self._writer.writerow((*LOOKUP_FIELDS, "chain"))

    def _take(self) -> str:
        value = self._buf.getvalue()
        self._buf.seek(0)
        self._buf.truncate()
        return value

    def header(self) -> str:
        return self._take()

    def row(self, lookup: Lookup) -> str:
        rec = lookup_record(lookup)
        cells = []
        for name in LOOKUP_FIELDS:
            value = rec[name]
            if isinstance(value, list):
                value = " ".join(value)
            cells.append(text.csv_cell(value) if isinstance(value, str) else value)
        cells.append(text.csv_cell(_chain_text(rec)))
        self._writer.writerow(cells)
        return self._take()

    def footer(self, tally: LookupTally, config: ResolverConfig | None) -> str:
        return ""


class LookupsJson:
    """One JSON document; lookups streamed inside it."""

    def __init__(self) -> None:
        self._first = True

    def header(self) -> str:
        return '{"lookups": ['

    def row(self, lookup: Lookup) -> str:
        sep = "\n" if self._first else ",\n"
        self._first = False
        return sep + json.dumps(lookup_record(lookup))

    def footer(self, tally: LookupTally, config: ResolverConfig | None) -> str:
        doc = {
            "config": config_record(config),
            "totals": totals_record("scope", "all", tally.total),
            "most_wasteful": [lookup_record(x) for x in tally.worst()],
            "names": [totals_record("name", k, t) for k, t in tally.ranked_names()],
            "clients": [totals_record("client", k, t) for k, t in tally.ranked_clients()],
            "advice": tally.advice(config),
        }
        body = json.dumps(doc, indent=1)
        return "\n]," + body[1:] + "\n"


class LookupsTable:
    """For people: the most wasteful lookups, totals per name and client, advice."""

    def __init__(self, limit: int = 20) -> None:
        self.limit = limit

    def header(self) -> str:
        return ""

    def row(self, lookup: Lookup) -> str:
        return ""

    def footer(self, tally: LookupTally, config: ResolverConfig | None) -> str:
        c, d = text.count, text.duration
        total = tally.total
        parts = []
        if config is not None:
            search = " ".join(config.search) or "(none)"
            parts.append(
                f"resolver config ({config.source}): search {search}; ndots:{config.ndots}")
        else:
            parts.append("resolver config: none given and none could be inferred "
                         "(use --resolv-conf or --search/--ndots)")
        parts.append(
            f"{c(total.lookups)} lookups, {c(total.queries)} queries, "
            f"{c(total.wasted_queries)} wasted ({text.percent(total.wasted_queries, total.queries)}"
            f"), {d(total.wasted_time)} spent on wasted queries"
        )
        rows = []
        for lk in tally.worst()[: self.limit]:
            steps = len({(t.qname.lower(), t.qtype) for t in lk.chain})
            rows.append((
                lk.client, lk.name, "+".join(lk.qtypes), lk.outcome, lk.answer_name,
                lk.queries, lk.wasted_queries, d(lk.wasted_time), d(lk.duration),
                lk.resolver, f"{steps} questions", ", ".join(lk.findings),
            ))
        if rows:
            parts += ["", "most wasteful lookups", tabulate(
                rows, headers=("client", "name", "types", "outcome", "answered as", "queries",
                               "wasted", "wasted time", "duration", "resolver", "chain",
                               "findings"),
                disable_numparse=True)]
        for title, key, ranked in (("per name", "name", tally.ranked_names()),
                                   ("per client", "client", tally.ranked_clients())):
            rows = [
                (k, c(t.lookups), c(t.queries), c(t.wasted_queries),
                 text.percent(t.wasted_queries, t.queries), d(t.wasted_time),
                 ", ".join(f"{o} {n}" for o, n in t.outcomes.most_common(3)))
                for k, t in ranked[: self.limit]
            ]
            if rows:
                parts += ["", title, tabulate(
                    rows, headers=(key, "lookups", "queries", "wasted", "wasted %",
                                   "wasted time", "outcomes"),
                    disable_numparse=True, colalign=("left",) + ("right",) * 5 + ("left",))]
            if len(ranked) > self.limit:
                parts.append(f"... and {c(len(ranked) - self.limit)} more")
        advice = tally.advice(config)
        if advice:
            parts += ["", "what to change"] + [f"- {line}" for line in advice]
        return "\n".join(parts) + "\n"


LOOKUP_FORMATS = {"jsonl": LookupsJsonl, "json": LookupsJson, "csv": LookupsCsv,
                  "table": LookupsTable}


def lookups_formatter(fmt: str, limit: int = 20):
    """A fresh formatter for `fmt`."""
    if fmt == "table":
        return LookupsTable(limit)
    return LOOKUP_FORMATS[fmt]()
