"""The library entry points: `analyze_file` for scripts and notebooks.

This is the layer that opens files; the `Analyzer` below it never does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

from dnssniff.capture import open_capture
from dnssniff.pipeline import (
    Analyzer,
    AnalyzerOptions,
    CaptureInfo,
    Report,
    TransactionSink,
    finish,
    run_capture,
)


def analyze_file(
    paths: str | PathLike | Sequence[str | PathLike],
    options: AnalyzerOptions | None = None,
    sink: TransactionSink | None = None,
) -> Report:
    """Analyse one or more captures ("-" is standard input) as one stream of packets.

    `sink`, when given, receives every transaction as it completes.
    """
    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    analyzer = Analyzer(options)
    captures: list[CaptureInfo] = []
    for path in paths:
        with open_capture(str(path)) as capture:
            captures.append(run_capture(analyzer, capture, sink))
    finish(analyzer, sink)
    return Report(summary=analyzer.summary(), captures=captures, options=analyzer.options)
