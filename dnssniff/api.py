"""The library entry points: `analyze_file` for scripts and notebooks.

This is the layer that opens files; the `Analyzer` below it never does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from os import PathLike

from dnssniff.capture import open_capture
from dnssniff.lookups import Lookup, LookupBuilder
from dnssniff.pipeline import (
    Analyzer,
    AnalyzerOptions,
    CaptureInfo,
    Report,
    TransactionSink,
    finish,
    run_capture,
)
from dnssniff.resolvconf import ResolverConfig


def analyze_file(
    paths: str | PathLike | Sequence[str | PathLike],
    options: AnalyzerOptions | None = None,
    sink: TransactionSink | None = None,
    on_query: TransactionSink | None = None,
) -> Report:
    """Analyse one or more captures ("-" is standard input) as one stream of packets.

    `sink`, when given, receives every transaction as it completes; `on_query` each one
    when its query is seen, still pending (completed in place later, then passed to `sink`).
    """
    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    analyzer = Analyzer(options, on_query)
    captures: list[CaptureInfo] = []
    for path in paths:
        with open_capture(str(path)) as capture:
            captures.append(run_capture(analyzer, capture, sink))
    finish(analyzer, sink)
    return Report(summary=analyzer.summary(), captures=captures, options=analyzer.options)


def lookups_of_file(
    paths: str | PathLike | Sequence[str | PathLike],
    config: ResolverConfig | None,
    on_lookup: Callable[[Lookup], None],
    options: AnalyzerOptions | None = None,
    on_builder: Callable[[LookupBuilder], None] | None = None,
) -> tuple[Report, LookupBuilder]:
    """Analyse captures and rebuild the lookups applications made, passing each to `on_lookup`.

    `config` None lets the builder infer the search list and ndots from the traffic (the
    builder's `config` then says what it inferred). Returns the report and the builder,
    whose `stats` and `config` the caller may show.
    """
    # The builder is fed each transaction as its query is sent (pending) and again when it
    # completes (the pipeline's sink), through `hooks`, which apply them in batches; it
    # hands lookups to `on_lookup` itself and closes idle chains itself, every quarter
    # second of packet time.
    builder = LookupBuilder(config, on_lookup=on_lookup)
    if on_builder is not None:
        on_builder(builder)

    # The `analyze` summary is not part of this report: skip its counting.
    options = replace(options or AnalyzerOptions(), tally=False)
    on_query, sink = builder.hooks()
    report = analyze_file(paths, options, sink, on_query)
    builder.flush()
    return report, builder
