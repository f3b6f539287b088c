"""Formatters for `dnssniff transactions`: one record per query/answer pair, streamed.

A formatter turns transactions into text pieces (`header`, `row`, `footer`) and never
writes; the CLI writes them as they come, so jsonl, json and csv stream in constant memory.
A table must know every row to align its columns, so `TableFormat` keeps at most
`max_rows` rows and says how many it left out.
"""

from __future__ import annotations

import json

from tabulate import tabulate

from dnssniff.model import Transaction
from dnssniff.report import text
from dnssniff.report.records import TRANSACTION_FIELDS, transaction_record


class JsonlFormat:
    """One JSON object per line (like Zeek's JSON dns.log)."""

    def header(self) -> str:
        return ""

    def row(self, txn: Transaction) -> str:
        return json.dumps(transaction_record(txn), separators=(",", ":")) + "\n"

    def footer(self) -> str:
        return ""


class JsonFormat:
    """A JSON array of the same objects, streamed element by element."""

    def __init__(self) -> None:
        self._first = True

    def header(self) -> str:
        return "["

    def row(self, txn: Transaction) -> str:
        sep = "\n" if self._first else ",\n"
        self._first = False
        return sep + json.dumps(transaction_record(txn))

    def footer(self) -> str:
        return "]\n" if self._first else "\n]\n"


class CsvFormat:
    """RFC 4180 CSV with a header row; answers joined by spaces; formulas neutralised."""

    def __init__(self) -> None:
        self._line = text.CsvLine()

    def header(self) -> str:
        return self._line(TRANSACTION_FIELDS)

    def row(self, txn: Transaction) -> str:
        record = transaction_record(txn)
        return self._line(record[name] for name in TRANSACTION_FIELDS)

    def footer(self) -> str:
        return ""


_TABLE_HEADERS = (
    "time",
    "proto",
    "client",
    "server",
    "id",
    "qname",
    "type",
    "status",
    "rcode",
    "rtt",
    "retx",
    "answers",
)


class TableFormat:
    """An aligned table for people (tabulate), at most `max_rows` rows."""

    def __init__(self, max_rows: int = 10_000) -> None:
        self.max_rows = max_rows
        self._rows: list[tuple] = []
        self._omitted = 0

    def header(self) -> str:
        return ""

    def row(self, txn: Transaction) -> str:
        if len(self._rows) >= self.max_rows:
            self._omitted += 1
            return ""
        rec = transaction_record(txn)
        answers = rec["answers"]
        shown = " ".join(answers[:3]) + (f" (+{len(answers) - 3})" if len(answers) > 3 else "")
        self._rows.append(
            (
                f"{rec['ts']:.6f}",
                rec["proto"],
                f"{rec['client']}:{rec['client_port']}",
                f"{rec['server']}:{rec['server_port']}",
                rec["id"],
                rec["qname"],
                rec["qtype"],
                rec["status"],
                rec["rcode"] or "-",
                text.duration(rec["rtt"]),
                rec["retransmits"] or "",
                shown,
            )
        )
        return ""

    def footer(self) -> str:
        # Transactions complete in answer order; people read them in query order.
        self._rows.sort(key=lambda row: float(row[0]))
        out = tabulate(self._rows, headers=_TABLE_HEADERS, disable_numparse=True) + "\n"
        if self._omitted:
            out += (
                f"... {text.count(self._omitted)} more transactions not shown; "
                "use --format jsonl or csv for the full list\n"
            )
        return out


FORMATS = {"jsonl": JsonlFormat, "json": JsonFormat, "csv": CsvFormat, "table": TableFormat}


def transaction_formatter(fmt: str):
    """A fresh formatter for `fmt` (one of FORMATS)."""
    return FORMATS[fmt]()
