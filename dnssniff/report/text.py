"""Human units and safe text for people's terminals and for spreadsheets."""

from __future__ import annotations

import csv
import io

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def duration(seconds: float | None) -> str:
    """'412 us', '3.10 ms', '1.25 s' (or '-' when unknown)."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)} min {secs:.0f} s"


def count(n: int) -> str:
    """12,345."""
    return f"{n:,}"


def percent(part: int, whole: int) -> str:
    """'80.0%' ('-' when the whole is zero)."""
    return "-" if whole == 0 else f"{100.0 * part / whole:.1f}%"


def csv_cell(value: str) -> str:
    """Neutralise spreadsheet formulas (OWASP's CSV-injection advice) in a wire string.

    Names are already `\\DDD`-escaped by the decoder, so no control byte survives; a name may
    still start with '=' or '+', which Excel and LibreOffice would evaluate.
    """
    if value and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class CsvLine:
    """Turns one row of values into one safe CSV line (RFC 4180, '\\n' ends lines).

    None becomes an empty cell, a list its items joined by spaces, and every string goes
    through `csv_cell`. One StringIO is reused: a row is formatted, taken, and cleared.
    """

    def __init__(self) -> None:
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\n")

    def __call__(self, values) -> str:
        cells = []
        for value in values:
            if value is None:
                value = ""
            elif isinstance(value, list):
                value = " ".join(value)
            cells.append(csv_cell(value) if isinstance(value, str) else value)
        self._writer.writerow(cells)
        line = self._buf.getvalue()
        self._buf.seek(0)
        self._buf.truncate()
        return line
