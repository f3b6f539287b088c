"""Human units and safe text for people's terminals and for spreadsheets."""

from __future__ import annotations

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
