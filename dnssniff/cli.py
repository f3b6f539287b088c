"""The command line: the only module that touches argv, stdout/stderr and exit codes.

The core yields results, formatters turn them into strings, and this module writes them:
reports on stdout (or `--output`), warnings and errors on stderr, one line each, never a
traceback. Exit codes are named in `dnssniff.status`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer

from dnssniff import __version__
from dnssniff.api import analyze_file
from dnssniff.errors import CaptureError, CapturePermission, ConfigError, DnssniffError
from dnssniff.pipeline import AnalyzerOptions, Report
from dnssniff.report.summary import summary_json, summary_table, warnings_of
from dnssniff.report.transactions import transaction_formatter
from dnssniff.status import ExitCode

app = typer.Typer(
    name="dnssniff",
    help="Show what a pod's DNS lookups really cost: read tcpdump captures of port 53, pair "
    "queries with answers, and count the queries the search list wastes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class SummaryFormat(StrEnum):
    """Formats of `analyze`."""

    table = "table"
    json = "json"


class RecordFormat(StrEnum):
    """Formats of per-record commands."""

    table = "table"
    jsonl = "jsonl"
    json = "json"
    csv = "csv"


def _err(message: str) -> None:
    sys.stderr.write(f"dnssniff: {message}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None or str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    with handle:
        yield handle


def _guard(work: Callable[[], ExitCode | None]) -> None:
    """Run a command; turn every failure into one line on stderr and a named exit code."""
    try:
        code = work() or ExitCode.OK
    except CapturePermission as exc:
        _err(f"error: {exc}")
        code = ExitCode.PERMISSION
    except CaptureError as exc:
        _err(f"error: {exc}")
        code = ExitCode.BAD_INPUT
    except ConfigError as exc:
        _err(f"error: {exc}")
        code = ExitCode.USAGE
    except DnssniffError as exc:
        _err(f"error: {exc}")
        code = ExitCode.ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader (head, less) went away: not an error worth a message.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        code = ExitCode.OK
    except PermissionError as exc:
        _err(f"error: permission denied: {exc.filename or exc}")
        code = ExitCode.PERMISSION
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            _err("error: no space left on device while writing the report")
        else:
            _err(f"error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        code = ExitCode.ERROR
    except Exception as exc:  # last resort: one line, never a traceback
        _err(f"internal error: {type(exc).__name__}: {exc} (please report this as a bug; "
             "set DNSSNIFF_DEBUG=1 for a traceback)")
        if os.environ.get("DNSSNIFF_DEBUG"):
            raise
        code = ExitCode.ERROR
    raise typer.Exit(int(code))


class DedupeMode(StrEnum):
    """When to drop copies of one packet seen on several interfaces."""

    auto = "auto"
    on = "on"
    off = "off"


def _options(
    port: list[int] | None, timeout: float, dedupe_window: float, dedupe: DedupeMode
) -> AnalyzerOptions:
    ports = frozenset({53, *(port or [])})
    for p in ports:
        if not 0 < p < 65536:
            raise ConfigError(f"--port {p} is not a port number (1-65535)")
    if timeout <= 0:
        raise ConfigError("--timeout must be positive")
    if dedupe_window < 0:
        raise ConfigError("--dedupe-window cannot be negative")
    return AnalyzerOptions(
        ports=ports, timeout=timeout, dedupe_window=dedupe_window, dedupe=dedupe.value
    )


def _warn(report: Report) -> None:
    for line in warnings_of(report):
        _err(f"warning: {line}")


FilesArg = Annotated[
    list[str], typer.Argument(help="Capture files (pcap or pcapng, gzip'ed or not); - for stdin.")
]
PortOpt = Annotated[
    list[int] | None,
    typer.Option("--port", "-p", help="Also decode DNS on this UDP/TCP port (53 always)."),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(help="Seconds of capture time after which a query counts as unanswered."),
]
DedupeOpt = Annotated[
    float,
    typer.Option(help="Identical packets closer than this (seconds) are one packet seen on "
                 "several interfaces (tcpdump -i any); 0 disables."),
]
DedupeModeOpt = Annotated[
    DedupeMode,
    typer.Option("--dedupe", help="auto: drop copies in -i any (Linux cooked) captures and "
                 "multi-interface pcapng; on/off: always/never."),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")
]


@app.command()
def analyze(
    files: FilesArg,
    fmt: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.table,
    output: OutputOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 15.0,
    dedupe_window: DedupeOpt = 0.010,
    dedupe: DedupeModeOpt = DedupeMode.auto,
) -> None:
    """The full report of one or more captures (for now: the summary)."""

    def work() -> None:
        options = _options(port, timeout, dedupe_window, dedupe)
        report = analyze_file(files, options)
        rendered = summary_json(report) if fmt is SummaryFormat.json else summary_table(report)
        with _output(output) as out:
            out.write(rendered)
        _warn(report)

    _guard(work)


@app.command()
def transactions(
    files: FilesArg,
    fmt: Annotated[RecordFormat, typer.Option("--format", "-f")] = RecordFormat.table,
    output: OutputOpt = None,
    port: PortOpt = None,
    timeout: TimeoutOpt = 15.0,
    dedupe_window: DedupeOpt = 0.010,
    dedupe: DedupeModeOpt = DedupeMode.auto,
) -> None:
    """One record per query/answer pair, like Zeek's dns.log (streamed for jsonl/json/csv)."""

    def work() -> None:
        options = _options(port, timeout, dedupe_window, dedupe)
        formatter = transaction_formatter(fmt.value)
        with _output(output) as out:
            out.write(formatter.header())
            write = out.write
            row = formatter.row

            def sink(txn) -> None:
                piece = row(txn)
                if piece:
                    write(piece)

            report = analyze_file(files, options, sink)
            out.write(formatter.footer())
        _warn(report)

    _guard(work)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"dnssniff {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """dnssniff: what your pods' DNS lookups really cost."""


def main() -> None:
    """Console-script entry point."""
    app()
