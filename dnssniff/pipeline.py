"""Wires the core stages together: frames in, transactions and a summary out.

    Frame -> Decoder -> Deduplicator -> TcpReassembler (TCP only) -> parse_message
          -> Correlator -> Transaction -> TransactionTally

The `Analyzer` does no I/O and never reads the clock: a pcap replay and a live capture feed
it the same `Frame`s and get the same answer. `Analyzer.feed_many` is the one loop over
packets, kept tight because it runs once per packet; `run_capture` drives it over a file.
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

from dnssniff.capture import LINKTYPE_NAMES, Capture
from dnssniff.correlate import DEFAULT_REORDER_WINDOW, DEFAULT_TIMEOUT, Correlator
from dnssniff.decoder import SUPPORTED_LINKTYPES, Decoder, frame_interface
from dnssniff.dedupe import DEFAULT_WINDOW, INTERFACE_WINDOW, Deduplicator
from dnssniff.dnswire import Malformed, parse_message
from dnssniff.errors import UnknownLinkType
from dnssniff.model import Frame, TcpSegment, Transaction
from dnssniff.summary import TransactionTally
from dnssniff.tcpstream import TcpReassembler

TransactionSink = Callable[[Transaction], None]

# What `Analyzer.feed` returns for the many frames that complete nothing (no allocation).
_NOTHING: tuple[Transaction, ...] = ()

# LINUX_SLL and LINUX_SLL2: what `tcpdump -i any` writes, one copy per interface crossed.
_MULTI_INTERFACE_LINKTYPES = frozenset({113, 276})


@dataclass(slots=True, frozen=True)
class AnalyzerOptions:
    """Knobs a user can turn; the defaults suit a pod or node capture."""

    ports: frozenset[int] = frozenset({53})
    timeout: float = DEFAULT_TIMEOUT
    # Seconds within which identical packets are copies of one. None: 10 ms where the
    # capture cannot tell interfaces apart, 100 ms where it can (see `dnssniff.dedupe`).
    dedupe_window: float | None = None
    # "auto": drop copies only where a capture can hold them: Linux cooked captures
    # (`tcpdump -i any`) and pcapng files with several interfaces. A single Ethernet or
    # raw-IP interface records each packet once, and skipping the check there saves ~10%
    # of the per-packet time. "on" / "off" force it.
    dedupe: str = "auto"
    # Count transactions into the `analyze` summary. Commands that report something else
    # (lookups, whatif) turn it off: it is a fifth of the per-transaction work.
    tally: bool = True
    reorder_window: float = DEFAULT_REORDER_WINDOW
    # How often (packet time) the stages drop what has expired. Expiry is a sweep over the
    # front of insertion-ordered tables, so once a second costs nothing measurable.
    expire_every: float = 1.0


@dataclass(slots=True)
class CaptureInfo:
    """What was learnt about one input capture."""

    name: str
    format: str
    compressed: bool
    frames: int
    snaplen_cut: int
    truncated: bool
    truncated_detail: str
    linktypes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Summary:
    """The numbers `dnssniff analyze` reports. `to_dict` is its JSON form."""

    frames: int
    dns_messages: int
    queries: int
    responses: int
    transactions: int
    answered: int
    unanswered: int
    unsolicited: int
    retransmits: int
    duplicates: int
    late_responses: int
    reordered: int
    malformed: int
    malformed_by_reason: dict[str, int]
    latency: dict[str, float | None]
    rcodes: dict[str, int]
    qtypes: dict[str, int]
    transports: dict[str, int]
    first_ts: float | None
    last_ts: float | None
    other_frames: int
    tcp_messages: int
    evicted: dict[str, int]
    decode: dict[str, int] = field(default_factory=dict)
    tcp: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (latency percentiles also at the top level)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        # Capture clocks resolve microseconds (a float epoch holds ~0.2 us): say no more.
        out["latency"] = {k: None if v is None else round(v, 6) for k, v in self.latency.items()}
        out.update(out["latency"])
        return out


@dataclass(slots=True)
class Report:
    """Everything one analysis produced; every formatter renders it."""

    summary: Summary
    captures: list[CaptureInfo]
    options: AnalyzerOptions


class Analyzer:
    """Feed it frames; it returns transactions as they complete and keeps the counts."""

    def __init__(
        self,
        options: AnalyzerOptions | None = None,
        on_query: Callable[[Transaction], object] | None = None,
    ) -> None:
        """`on_query`, when given, gets each transaction as soon as its query is seen, still
        pending (see `dnssniff.correlate`): for a consumer that must follow sending order."""
        self.options = options or AnalyzerOptions()
        opts = self.options
        self.decoder = Decoder(ports=opts.ports)
        window = opts.dedupe_window
        self.dedupe = Deduplicator(
            window=DEFAULT_WINDOW if window is None else window,
            interface_window=INTERFACE_WINDOW if window is None else window,
        )
        self.tcp = TcpReassembler()
        self.correlator = Correlator(
            timeout=opts.timeout, reorder_window=opts.reorder_window, on_query=on_query
        )
        self.tally = TransactionTally()
        self.dns_malformed: Counter[str] = Counter()
        # Records the capture reader skipped (a pcapng block on an undescribed interface...).
        self.capture_malformed: Counter[str] = Counter()
        self._next_expire = 0.0
        self._dedupe_on = opts.dedupe == "on" and opts.dedupe_window != 0
        self._multi_interface = False
        self._linktypes: set[int] = set()
        # Bound once: `feed` runs per packet and attribute lookups add up.
        self._decode = self.decoder.feed
        self._is_duplicate = self.dedupe.is_duplicate
        self._tcp_feed = self.tcp.feed
        self._correlate = self.correlator.feed
        self._tally_add = self.tally.add if opts.tally else _ignore

    def check_linktype(self, linktype: int, source: str) -> None:
        """Raise `UnknownLinkType` for a link type the decoder cannot read."""
        if linktype in self._linktypes:
            return
        if linktype in _MULTI_INTERFACE_LINKTYPES:
            self.enable_auto_dedupe()
        if linktype not in SUPPORTED_LINKTYPES:
            name = LINKTYPE_NAMES.get(linktype)
            label = f"{linktype} ({name})" if name else str(linktype)
            raise UnknownLinkType(
                f"{source}: unsupported link type {label}; dnssniff reads Ethernet, Linux "
                "cooked (SLL, SLL2), raw IP, BSD NULL/LOOP, PPP, Cisco HDLC and FDDI captures"
            )
        self._linktypes.add(linktype)

    def enable_auto_dedupe(self) -> None:
        """The input can hold copies of a packet: deduplicate unless told "off"."""
        opts = self.options
        if opts.dedupe == "auto" and opts.dedupe_window != 0:
            self._dedupe_on = True

    def feed(self, frame: Frame) -> Sequence[Transaction]:
        """Process one frame; return the transactions completed meanwhile."""
        out: list[Transaction] = []
        self.feed_many((frame,), out.append)
        return out or _NOTHING

    def feed_many(
        self, frames: Iterable[Frame], sink: TransactionSink, source: str = "capture"
    ) -> None:
        """Process `frames`, counting each completed transaction and passing it to `sink`.

        This loop runs once per packet of every analysis, so everything it touches is a
        local variable and the common case (one UDP datagram per frame) makes no call but
        the stages' own. `source` names the input in errors (an unsupported link type).
        """
        decode, is_duplicate, tcp_feed = self._decode, self._is_duplicate, self._tcp_feed
        correlate, tally_add, parse = self._correlate, self._tally_add, parse_message
        malformed = self.dns_malformed
        known = self._linktypes
        every = self.options.expire_every
        next_expire = self._next_expire
        dedupe_on = self._dedupe_on
        by_interface = self._multi_interface or bool(known & _MULTI_INTERFACE_LINKTYPES)
        # One call per completed transaction: the tally, the sink, or both.
        if tally_add is _ignore:
            emit = sink
        elif sink is _ignore:
            emit = tally_add
        else:

            def emit(txn: Transaction) -> None:
                tally_add(txn)
                sink(txn)

        for frame in frames:
            if frame.linktype not in known:
                self.check_linktype(frame.linktype, source)
                dedupe_on = self._dedupe_on
                by_interface = by_interface or frame.linktype in _MULTI_INTERFACE_LINKTYPES
            if frame.interface and not self._multi_interface:
                # A second pcapng interface: the same packet may be on both.
                self._multi_interface = True
                self.enable_auto_dedupe()
                dedupe_on = self._dedupe_on
                by_interface = True
            ts = frame.ts
            if ts >= next_expire:
                if next_expire:
                    for txn in self._expire(ts):
                        emit(txn)
                next_expire = self._next_expire = ts + every
            items = decode(frame)
            if not items:
                continue
            if dedupe_on:
                interface = frame_interface(frame) if by_interface else None
            for item in items:
                if dedupe_on and is_duplicate(item, interface):
                    continue
                if type(item) is TcpSegment:
                    done = []
                    self._feed_datagrams(tcp_feed(item), done)
                else:
                    try:
                        msg = parse(item)
                    except Malformed as err:
                        malformed[err.reason] += 1
                        continue
                    done = correlate(msg)
                for txn in done:
                    emit(txn)

    def _feed_datagrams(self, datagrams, out: list[Transaction]) -> None:
        for dg in datagrams:
            try:
                msg = parse_message(dg)
            except Malformed as err:
                self.dns_malformed[err.reason] += 1
                continue
            done = self.correlator.feed(msg)
            if done:
                out.extend(done)

    def expire(self, now: float) -> list[Transaction]:
        """Let every stage drop what `now` (packet time) has made stale.

        A live source calls this on idle ticks (with the last packet's time advanced by the
        idle time) so that unanswered queries are reported without waiting for traffic.
        """
        out = self._expire(now)
        for txn in out:
            self._tally_add(txn)
        return out

    def _expire(self, now: float) -> list[Transaction]:
        self.decoder.expire(now)
        out: list[Transaction] = []
        # Messages held behind a TCP hole that will never fill are delivered on expiry.
        self._feed_datagrams(self.tcp.expire(now), out)
        out.extend(self.correlator.expire(now))
        return out

    def finish(self) -> list[Transaction]:
        """End of input: close everything still open and count it."""
        self.decoder.flush()
        out: list[Transaction] = []
        self._feed_datagrams(self.tcp.flush(), out)
        out.extend(self.correlator.flush())
        for txn in out:
            self._tally_add(txn)
        return out

    def malformed_by_reason(self) -> dict[str, int]:
        """Every malformed-packet reason of every stage, most frequent first."""
        reasons: Counter[str] = Counter()
        reasons.update(self.capture_malformed)
        reasons.update(self.decoder.malformed)
        reasons.update(self.tcp.malformed)
        reasons.update(self.dns_malformed)
        return dict(reasons.most_common())

    def summary(self) -> Summary:
        """The counts so far (complete after `finish`)."""
        tally = self.tally
        cstats = self.correlator.stats
        malformed = self.malformed_by_reason()
        dstats = self.decoder.stats
        tstats = self.tcp.stats
        return Summary(
            frames=dstats.frames,
            # Every decoded message goes to the correlator, which counts them by kind.
            dns_messages=cstats.queries + cstats.responses,
            queries=cstats.queries,
            responses=cstats.responses,
            transactions=tally.transactions,
            answered=tally.answered,
            unanswered=tally.unanswered,
            unsolicited=tally.unsolicited,
            retransmits=tally.retransmits,
            duplicates=self.dedupe.stats.duplicates,
            late_responses=cstats.late_responses,
            reordered=cstats.reordered,
            malformed=sum(malformed.values()),
            malformed_by_reason=malformed,
            latency=tally.latency.summary(),
            rcodes=tally.rcode_counts(),
            qtypes=tally.qtype_counts(),
            transports=dict(tally.transports),
            first_ts=tally.first_ts,
            last_ts=tally.last_ts,
            other_frames=dstats.other,
            tcp_messages=tstats.messages,
            decode=asdict(dstats),
            tcp=asdict(tstats),
            evicted={
                "pending_queries": cstats.pending_evicted,
                "orphan_responses": cstats.orphans_evicted,
                "tcp_flows": tstats.flows_evicted,
                "fragment_groups": dstats.fragment_groups_evicted,
                "dedupe_entries": self.dedupe.stats.evicted,
            },
        )


@contextlib.contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Raise the young-generation GC threshold while packets flow.

    The pipeline allocates a few small objects per packet and keeps tens of thousands alive
    in its tables; with CPython's default threshold (700) the collector ran so often that
    it cost ~3 us per packet on a 200k-packet capture (correlation went from 6.0 to 3.0
    us/packet with it raised). Nothing here builds reference cycles, so collecting less
    often only delays what little there is to collect.
    """
    saved = gc.get_threshold()
    gc.set_threshold(100_000, saved[1], saved[2])
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def run_capture(
    analyzer: Analyzer, capture: Capture, sink: TransactionSink | None = None
) -> CaptureInfo:
    """Feed one open capture through `analyzer`, passing completed transactions to `sink`."""
    name = getattr(capture, "name", "capture")
    with _fewer_gc_passes():
        analyzer.feed_many(capture, sink or _ignore, name)
    stats = capture.stats
    analyzer.capture_malformed.update(capture.malformed)
    return CaptureInfo(
        name=name,
        format=capture.format,
        compressed=capture.compressed,
        frames=stats.frames,
        snaplen_cut=stats.snaplen_cut,
        truncated=stats.truncated,
        truncated_detail=stats.truncated_detail,
        linktypes=sorted(
            LINKTYPE_NAMES.get(lt, str(lt)) for lt in {i.linktype for i in capture.interfaces}
        ),
    )


def _ignore(txn: Transaction) -> None:
    """The sink of an analysis that only wants the summary."""


def finish(analyzer: Analyzer, sink: TransactionSink | None = None) -> None:
    """Flush `analyzer` at the end of all inputs, passing the last transactions to `sink`."""
    for txn in analyzer.finish():
        if sink is not None:
            sink(txn)
