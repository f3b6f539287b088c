"""Formatters for `dnssniff lookups`: one record per application lookup, then totals.

jsonl and csv stream one record per lookup as lookups complete (in completion order) and
memory stays constant; jsonl then adds one line per name and per client (`"type"`
tells them apart). json is one document: the same lookup records streamed in a
`lookups` array, then the most wasteful ones, per-name and per-client totals and advice.
The table shows the most wasteful lookups first, then the totals and the advice.
"""

from __future__ import annotations

import json

from tabulate import tabulate

from dnssniff.dnswire import answers_of
from dnssniff.lookups import Lookup
from dnssniff.lookupsummary import LookupTally, Totals, most_common
from dnssniff.mnemonics import qclass_text, qtype_text, rcode_text
from dnssniff.report import text
from dnssniff.report.records import transaction_record
from dnssniff.resolvconf import ResolverConfig

LOOKUP_FIELDS = (
    "client",
    "name",
    "qtypes",
    "start",
    "duration",
    "queries",
    "wasted_queries",
    "wasted_time",
    "outcome",
    "answer_name",
    "answers",
    "resolver",
    "findings",
)


_json_str = json.encoder.encode_basestring_ascii  # what json.dumps uses for str (C)
_CACHE_MAX = 4096
# Memos for the record texts that repeat from transaction to transaction: quoted strings
# (addresses, names, mnemonics) and the JSON of a response's answers (keyed by the message
# without its id). Bounded: cleared when full.
_quoted: dict[object, str] = {}
_answers_json: dict[bytes, tuple[str, tuple[str, ...]]] = {}


def _q(value: str) -> str:
    found = _quoted.get(value)
    if found is None:
        if len(_quoted) >= _CACHE_MAX:
            _quoted.clear()
        found = _quoted[value] = _json_str(value)
    return found


def _answers(response) -> tuple[str, tuple[str, ...]]:
    """(the JSON list, the texts) of `answers_of(response)`, memoised.

    Most answers repeat (the same service, the same external name), and decoding them is
    the dearest part of a lookup's record.
    """
    key = response.payload[2:]
    found = _answers_json.get(key)
    if found is None:
        if len(_answers_json) >= _CACHE_MAX:
            _answers_json.clear()
        texts = answers_of(response)
        found = _answers_json[key] = (_json_list(texts), texts)
    return found


def _json_list(texts) -> str:
    return "[" + ", ".join([_json_str(x) for x in texts]) + "]" if texts else "[]"


def _num(x: float) -> str:
    """`repr(round(x, 6))` (what json.dumps writes for the rounded value), ~2x faster.

    Both round the exact binary value half-even to six decimals; for 1e-4 <= x < 1e15
    the shortest repr of that double is the six-decimal text without trailing zeros.
    """
    if 0.0001 <= x < 1e15:
        text = f"{x:.6f}"
        text = text.rstrip("0")
        return text + "0" if text[-1] == "." else text
    return repr(round(x, 6))


def _mnemonic(kind: str, value: int) -> str:
    found = _quoted.get((kind, value))
    if found is None:
        text = {"qtype": qtype_text, "qclass": qclass_text, "rcode": rcode_text}[kind](value)
        found = _quoted[(kind, value)] = _json_str(text)
    return found


def _txn_json(txn) -> str:
    """`json.dumps(transaction_record(txn))`, written directly.

    A lookup report holds every transaction of every chain: building the dict and
    encoding it cost more than the whole lookup reconstruction, so the record's text is
    formatted here with the same field order, separators and number forms (floats are
    `repr(round(x, 6))`, as the json module writes them). `test_lookups` checks the
    output is byte for byte what json.dumps gives.
    """
    flow = txn.flow
    response = txn.response
    query = txn.query
    quoted = _quoted
    if response is not None:
        rcode = quoted.get(("rcode", response.rcode)) or _mnemonic("rcode", response.rcode)
        answers = _answers(response)[0] if response.ancount else "[]"
        tc = "true" if response.flags & 0x0200 else "false"
        response_size = response.size
    else:
        rcode = "null"
        answers = "[]"
        tc = "false"
        response_size = "null"
    rtt = txn.rtt
    return (
        f'{{"ts": {_num(txn.ts)}, "proto": {quoted.get(flow.transport) or _q(flow.transport)}, '
        f'"client": {quoted.get(flow.client) or _q(flow.client)}, '
        f'"client_port": {flow.client_port}, '
        f'"server": {quoted.get(flow.server) or _q(flow.server)}, '
        f'"server_port": {flow.server_port}, '
        f'"id": {txn.id}, "qname": {quoted.get(txn.qname) or _q(txn.qname)}, '
        f'"qtype": {quoted.get(("qtype", txn.qtype)) or _mnemonic("qtype", txn.qtype)}, '
        f'"qclass": {quoted.get(("qclass", txn.qclass)) or _mnemonic("qclass", txn.qclass)}, '
        f'"status": {quoted.get(txn.status) or _status(txn.status)}, "rcode": {rcode}, '
        f'"rtt": {"null" if rtt is None else _num(rtt)}, "answers": {answers}, '
        f'"retransmits": {txn.retransmits}, "tc": {tc}, '
        f'"query_size": {"null" if query is None else query.size}, '
        f'"response_size": {response_size}}}'
    )


def _status(status) -> str:
    found = _quoted[status] = _json_str(status.value)
    return found


def lookup_json(lookup: Lookup) -> str:
    """`json.dumps(lookup_record(lookup))`, written directly (see `_txn_json`)."""
    answers: list[str] = []
    for txn in lookup.final:
        r = txn.response
        if r is not None and r.ancount:
            answers.extend(_answers(r)[1])
    chain = ", ".join([_txn_json(t) for t in lookup.chain])
    return (
        f'{{"client": {_q(lookup.client)}, "name": {_q(lookup.name)}, '
        f'"qtypes": {_json_list(lookup.qtypes)}, "start": {_num(lookup.start)}, '
        f'"duration": {_num(lookup.duration)}, "queries": {lookup.queries}, '
        f'"wasted_queries": {lookup.wasted_queries}, '
        f'"wasted_time": {_num(lookup.wasted_time)}, '
        f'"outcome": {_q(lookup.outcome)}, '
        f'"answer_name": {_q(lookup.answer_name)}, "answers": {_json_list(answers)}, '
        f'"resolver": {_q(lookup.resolver)}, '
        f'"findings": {_json_list(lookup.findings)}, "chain": [{chain}]}}'
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
        "outcomes": dict(most_common(t.outcomes)),
        "resolvers": dict(most_common(t.resolvers)),
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
        lines += [
            {"type": "client", **totals_record("client", k, t)} for k, t in tally.ranked_clients()
        ]
        return "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines)


class LookupsCsv:
    """One CSV row per lookup; the chain as 'name type rcode > ...'."""

    def __init__(self) -> None:
        self._line = text.CsvLine()

    def header(self) -> str:
        return self._line((*LOOKUP_FIELDS, "chain"))

    def row(self, lookup: Lookup) -> str:
        rec = lookup_record(lookup)
        return self._line([*(rec[name] for name in LOOKUP_FIELDS), _chain_text(rec)])

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
        return sep + lookup_json(lookup)

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
                f"resolver config ({config.source}): search {search}; ndots:{config.ndots}"
            )
        else:
            parts.append(
                "resolver config: none given and none could be inferred "
                "(use --resolv-conf or --search/--ndots)"
            )
        parts.append(
            f"{c(total.lookups)} lookups, {c(total.queries)} queries, "
            f"{c(total.wasted_queries)} wasted ({text.percent(total.wasted_queries, total.queries)}"
            f"), {d(total.wasted_time)} spent on wasted queries"
        )
        rows = []
        for lk in tally.worst()[: self.limit]:
            steps = len({(t.qname.lower(), t.qtype) for t in lk.chain})
            rows.append(
                (
                    lk.client,
                    lk.name,
                    "+".join(lk.qtypes),
                    lk.outcome,
                    lk.answer_name,
                    lk.queries,
                    lk.wasted_queries,
                    d(lk.wasted_time),
                    d(lk.duration),
                    lk.resolver,
                    f"{steps} questions",
                    ", ".join(lk.findings),
                )
            )
        if rows:
            parts += [
                "",
                "most wasteful lookups",
                tabulate(
                    rows,
                    headers=(
                        "client",
                        "name",
                        "types",
                        "outcome",
                        "answered as",
                        "queries",
                        "wasted",
                        "wasted time",
                        "duration",
                        "resolver",
                        "chain",
                        "findings",
                    ),
                    disable_numparse=True,
                ),
            ]
        for title, key, ranked in (
            ("per name", "name", tally.ranked_names()),
            ("per client", "client", tally.ranked_clients()),
        ):
            rows = [
                (
                    k,
                    c(t.lookups),
                    c(t.queries),
                    c(t.wasted_queries),
                    text.percent(t.wasted_queries, t.queries),
                    d(t.wasted_time),
                    ", ".join(f"{o} {n}" for o, n in most_common(t.outcomes, 3)),
                )
                for k, t in ranked[: self.limit]
            ]
            if rows:
                parts += [
                    "",
                    title,
                    tabulate(
                        rows,
                        headers=(
                            key,
                            "lookups",
                            "queries",
                            "wasted",
                            "wasted %",
                            "wasted time",
                            "outcomes",
                        ),
                        disable_numparse=True,
                        colalign=("left",) + ("right",) * 5 + ("left",),
                    ),
                ]
            if len(ranked) > self.limit:
                parts.append(f"... and {c(len(ranked) - self.limit)} more")
        advice = tally.advice(config)
        if advice:
            parts += ["", "what to change"] + [f"- {line}" for line in advice]
        return "\n".join(parts) + "\n"


LOOKUP_FORMATS = {
    "jsonl": LookupsJsonl,
    "json": LookupsJson,
    "csv": LookupsCsv,
    "table": LookupsTable,
}


def lookups_formatter(fmt: str, limit: int = 20):
    """A fresh formatter for `fmt`."""
    if fmt == "table":
        return LookupsTable(limit)
    return LOOKUP_FORMATS[fmt]()
