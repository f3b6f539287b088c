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
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer

from dnssniff import __version__
from dnssniff.api import analyze_file, lookups_of_file
from dnssniff.errors import CaptureError, CapturePermission, ConfigError, DnssniffError
from dnssniff.lookupsummary import LookupTally
from dnssniff.pipeline import AnalyzerOptions, Report
from dnssniff.report.lookups import lookups_formatter
from dnssniff.report.resolving import explain_json, explain_table, whatif_json, whatif_table
from dnssniff.report.summary import summary_json, summary_table, warnings_of
from dnssniff.report.transactions import transaction_formatter
from dnssniff.resolvconf import ResolverConfig, parse_resolv_conf
from dnssniff.resolvers import planned_queries
from dnssniff.status import ExitCode
from dnssniff.whatif import Replayer

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
    """stdout, or the `--output` file; a file this command created is removed if it fails,
    so a bad capture leaves no half-written report behind."""
    if path is None or str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    created = not path.exists()
    try:
        handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with handle:
            yield handle
    except BaseException:
        if created:
            path.unlink(missing_ok=True)
        raise


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
        _err(
            f"internal error: {type(exc).__name__}: {exc} (please report this as a bug; "
            "set DNSSNIFF_DEBUG=1 for a traceback)"
        )
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
    port: list[int] | None, timeout: float, dedupe_window: float | None, dedupe: DedupeMode
) -> AnalyzerOptions:
    ports = frozenset({53, *(port or [])})
    for p in ports:
        if not 0 < p < 65536:
            raise ConfigError(f"--port {p} is not a port number (1-65535)")
    if timeout <= 0:
        raise ConfigError("--timeout must be positive")
    if dedupe_window is not None and dedupe_window < 0:
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
    float | None,
    typer.Option(
        help="Identical packets closer than this (seconds) are one packet seen on "
        "several interfaces (tcpdump -i any); 0 disables. Default: 0.1 when the capture "
        "records interfaces (a resend on the same interface still counts), else 0.010.",
        show_default=False,
    ),
]
DedupeModeOpt = Annotated[
    DedupeMode,
    typer.Option(
        "--dedupe",
        help="auto: drop copies in -i any (Linux cooked) captures and "
        "multi-interface pcapng; on/off: always/never.",
    ),
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
    dedupe_window: DedupeOpt = None,
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
    dedupe_window: DedupeOpt = None,
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


ResolvConfOpt = Annotated[
    Path | None,
    typer.Option("--resolv-conf", help="The clients' resolv.conf (search list, ndots)."),
]
SearchOpt = Annotated[
    list[str] | None,
    typer.Option("--search", help="Search domain, in order (repeat, or comma-separated)."),
]
NdotsOpt = Annotated[int | None, typer.Option("--ndots", help="The clients' ndots (0-15).")]


def _read_resolv_conf(path: Path) -> ResolverConfig:
    try:
        content = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a resolv.conf") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return parse_resolv_conf(content, f"resolv.conf {path}")


def _resolver_config(
    resolv_conf: Path | None, search: list[str] | None, ndots: int | None
) -> ResolverConfig | None:
    """The clients' configuration from the options, or None to infer it from the traffic."""
    if ndots is not None and not 0 <= ndots <= 15:
        raise ConfigError(f"--ndots {ndots} is out of range (0-15, as glibc caps it)")
    if resolv_conf is not None and search:
        raise ConfigError("give either --resolv-conf or --search, not both")
    if resolv_conf is not None:
        config = _read_resolv_conf(resolv_conf)
        return (
            config
            if ndots is None
            else replace(config, ndots=ndots, source=config.source + f" with ndots:{ndots}")
        )
    if search:
        # Kubernetes writes ndots:5 into every pod's resolv.conf.
        return ResolverConfig.from_args(search, 5 if ndots is None else ndots)
    if ndots is not None:
        raise ConfigError("--ndots needs --search or --resolv-conf (the search list)")
    return None


def _inferred_note(builder, given: ResolverConfig | None) -> None:
    if given is None:
        config = builder.config
        if config is None:
            _err(
                "note: no --resolv-conf or --search given and no search list could be "
                "inferred from the traffic; lookups are the names as queried"
            )
        else:
            learnt = builder.stats.domains_learnt
            later = (
                "; later walks showed more search domains: "
                + ", ".join(f"{d} ({n} client{'s' if n > 1 else ''})" for d, n in learnt.items())
                if learnt
                else ""
            )
            _err(
                f"note: search list and ndots inferred from the traffic: search "
                f"{' '.join(config.search) or '(none)'}; ndots:{config.ndots}{later} "
                "(give --resolv-conf to be exact)"
            )


@app.command()
def lookups(
    files: FilesArg,
    resolv_conf: ResolvConfOpt = None,
    search: SearchOpt = None,
    ndots: NdotsOpt = None,
    fmt: Annotated[RecordFormat, typer.Option("--format", "-f")] = RecordFormat.table,
    output: OutputOpt = None,
    limit: Annotated[int, typer.Option(help="Rows per table (table format).")] = 20,
    port: PortOpt = None,
    timeout: TimeoutOpt = 15.0,
    dedupe_window: DedupeOpt = None,
    dedupe: DedupeModeOpt = DedupeMode.auto,
) -> None:
    """The per-lookup wasted-query report: what applications asked for and what it cost."""

    def work() -> None:
        options = _options(port, timeout, dedupe_window, dedupe)
        config = _resolver_config(resolv_conf, search, ndots)
        if limit < 1:
            raise ConfigError("--limit must be at least 1")
        formatter = lookups_formatter(fmt.value, limit)
        tally = LookupTally(top=limit)
        with _output(output) as out:
            out.write(formatter.header())
            write, row, add = out.write, formatter.row, tally.add

            def on_lookup(lookup) -> None:
                add(lookup)
                piece = row(lookup)
                if piece:
                    write(piece)

            report, builder = lookups_of_file(files, config, on_lookup, options)
            out.write(formatter.footer(tally, builder.config))
        _inferred_note(builder, config)
        _warn(report)

    _guard(work)


class ResolverName(StrEnum):
    """Stub resolvers whose behaviour dnssniff knows."""

    glibc = "glibc"
    musl = "musl"
    go = "go"
    dig = "dig"
    dig_search = "dig+search"
    nslookup = "nslookup"


@app.command()
def explain(
    name: Annotated[str, typer.Argument(help="The name an application looks up.")],
    resolv_conf: ResolvConfOpt = None,
    search: SearchOpt = None,
    ndots: NdotsOpt = None,
    resolver: Annotated[ResolverName, typer.Option(help="The stub resolver.")] = (
        ResolverName.glibc
    ),
    fmt: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.table,
) -> None:
    """The queries a resolver sends for NAME, in order, and why (a dry run, no traffic).

    Without --resolv-conf or --search, reads /etc/resolv.conf (a sidecar's is the pod's).
    """

    def work() -> None:
        config = _resolver_config(resolv_conf, search, ndots)
        if config is None:
            config = _read_resolv_conf(Path("/etc/resolv.conf"))
        if not name or len(name) > 1010:
            raise ConfigError("NAME must be a domain name (at most 253 characters)")
        plan = planned_queries(name, config, resolver.value)
        render = explain_json if fmt is SummaryFormat.json else explain_table
        sys.stdout.write(render(name, config, resolver.value, plan))

    _guard(work)


@app.command()
def whatif(
    files: FilesArg,
    ndots: Annotated[int | None, typer.Option("--ndots", help="Replay with this ndots.")] = None,
    search: Annotated[
        list[str] | None,
        typer.Option(
            "--search", help="Replay with this search list (repeat or commas; '' for none)."
        ),
    ] = None,
    fqdn: Annotated[
        bool,
        typer.Option(
            "--fqdn",
            help="Replay as if every application asked for the answering name with a trailing dot.",
        ),
    ] = False,
    resolv_conf: ResolvConfOpt = None,
    resolver: Annotated[ResolverName, typer.Option(help="Resolver to replay.")] = (
        ResolverName.glibc
    ),
    fmt: Annotated[SummaryFormat, typer.Option("--format", "-f")] = SummaryFormat.table,
    output: OutputOpt = None,
    limit: Annotated[int, typer.Option(help="Names in the table.")] = 20,
    port: PortOpt = None,
    timeout: TimeoutOpt = 15.0,
    dedupe: DedupeModeOpt = DedupeMode.auto,
) -> None:
    """Replay the captured lookups under another configuration: queries before and after.

    --resolv-conf gives the configuration the capture was made with (else it is inferred).
    """

    def work() -> None:
        if ndots is None and search is None and not fqdn:
            raise ConfigError("say what to change: --ndots N, --search DOMAIN... or --fqdn")
        if ndots is not None and not 0 <= ndots <= 15:
            raise ConfigError(f"--ndots {ndots} is out of range (0-15)")
        options = _options(port, timeout, None, dedupe)
        base = _resolver_config(resolv_conf, None, None)
        state: dict = {}

        def on_lookup(lookup) -> None:
            # The builder knows the captured config (given or inferred) before it emits
            # its first lookup, so the replay is set up then and streams from there.
            replayer = state.get("replayer")
            if replayer is None:
                captured = base or state["builder"].config or ResolverConfig()
                new = captured
                if search is not None:
                    new = ResolverConfig.from_args(search, new.ndots)
                if ndots is not None:
                    new = replace(new, ndots=ndots)
                replayer = state["replayer"] = Replayer(new, resolver.value, fqdn=fqdn)
            replayer.add(lookup)

        report, builder = lookups_of_file(
            files, base, on_lookup, options, on_builder=lambda b: state.__setitem__("builder", b)
        )
        captured = base or builder.config
        if "replayer" not in state:
            raise ConfigError("the capture holds no lookups to replay")
        result = state["replayer"].result()
        rendered = (
            whatif_json(captured, result)
            if fmt is SummaryFormat.json
            else whatif_table(captured, result, limit)
        )
        with _output(output) as out:
            out.write(rendered)
        _inferred_note(builder, base)
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
