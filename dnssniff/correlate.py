"""Pair every DNS query with its response, in packet time, in bounded memory.

Pairing follows Zeek's DNS analyzer: the key is the flow (transport, client, client port,
server, server port) and the DNS id, and within a key the question (name case-insensitive,
type, class) picks among the pending queries, oldest first. That handles:

- id reuse on the same socket (a FIFO per key);
- retransmission with the same id and question: counted on the pending query, the RTT
  still measured from the first transmission, because that is the delay the client saw;
- a response captured before its query (`tcpdump -i any` writes interfaces' packets out
  of order by a few microseconds): the response waits `reorder_window` seconds for it;
- a response that quotes no question (some FORMERR/NOTIMP replies): paired on the id.

A query still pending after `timeout` seconds of packet time becomes `unanswered`.

The `Transaction` is made when its query is seen (status `PENDING`) and completed in place
when the response comes or the time runs out; `feed` returns it then. A consumer that must
see queries in the order they were sent (the lookup builder: a lost query completes 15 s
late) passes `on_query`, which gets each transaction when its query is seen, pending, and
again at each retransmission (`retransmits` tells which). The
default timeout (15 s) is longer than glibc's two 5 s attempts and musl's 2.5 s resends, so
a resolver's own retransmission is seen as one, not as a new transaction. Every table is
capped; evictions are counted and the evicted query is reported as unanswered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter

from dnssniff.model import DnsMessage, Status, Transaction

DEFAULT_TIMEOUT = 15.0
# Returned when a message completes nothing (most queries): no list allocated.
_NONE: list = []
DEFAULT_REORDER_WINDOW = 0.5
_PENDING = Status.PENDING
_SENT = attrgetter("ts")
_ANSWERED = Status.ANSWERED


@dataclass(slots=True)
class CorrelateStats:
    """Counts kept by the correlator, beyond the transactions it emits."""

    queries: int = 0
    responses: int = 0
    retransmits: int = 0
    reordered: int = 0
    late_responses: int = 0
    pending_evicted: int = 0
    orphans_evicted: int = 0


def _same_question(a: DnsMessage, b: DnsMessage) -> bool:
    return a.qname_key == b.qname_key and a.qtype == b.qtype and a.qclass == b.qclass


class Correlator:
    """Turns a stream of `DnsMessage` into a stream of `Transaction`.

    `feed` returns the transactions completed by that message; `expire(now)` those whose
    time ran out; `flush()` everything left at the end of the capture.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        reorder_window: float = DEFAULT_REORDER_WINDOW,
        max_pending: int = 200_000,
        max_orphans: int = 50_000,
        on_query: Callable[[Transaction], object] | None = None,
    ) -> None:
        self.timeout = timeout
        self.on_query = on_query
        self.reorder_window = reorder_window
        self.max_pending = max_pending
        self.max_orphans = max_orphans
        self._stats = CorrelateStats()
        # The two counters bumped per message live on the instance (one attribute write
        # instead of two); `stats` folds them in when read.
        self._queries = 0
        self._responses = 0
        # Only queries still waiting are here, as their pending transactions (an answer
        # completes one and removes it), a few hundred
        # in a busy pod capture, so expiry scans this table once a second. An ordered queue
        # of every query sent was slower: popping half a million long-answered entries
        # touched cold memory, 5% of the whole run on a 1M-packet capture.
        self._pending: dict[tuple, list[Transaction]] = {}
        self._pending_count = 0
        self._orphans: dict[tuple, list[DnsMessage]] = {}
        self._orphan_order: deque[tuple[float, tuple]] = deque()
        self._orphan_count = 0
        # Keys answered recently: a second response to them is late or duplicated. Two
        # generations, each `timeout` long, swapped on expiry: one dict write per answer.
        self._answered: dict[tuple, float] = {}
        self._answered_before: dict[tuple, float] = {}
        self._answered_since = float("-inf")

    @property
    def stats(self) -> CorrelateStats:
        """The counts so far."""
        stats = self._stats
        stats.queries, stats.responses = self._queries, self._responses
        return stats

    # -- feeding -----------------------------------------------------------------------

    def feed(self, msg: DnsMessage) -> list[Transaction]:
        """Account for one message; return the transactions it completes."""
        flow = msg.flow
        key = (flow.transport, flow.client, flow.client_port, flow.server, flow.server_port, msg.id)
        if msg.qr:
            return self._on_response(key, msg)
        return self._on_query(key, msg)

    def _on_query(self, key: tuple, msg: DnsMessage) -> list[Transaction]:
        self._queries += 1
        entries = self._pending.get(key)
        if entries is not None:
            for txn in entries:
                if _same_question(txn.query, msg):  # type: ignore[arg-type]
                    txn.query_times.append(msg.ts)  # type: ignore[attr-defined]
                    txn.retransmits += 1
                    self._stats.retransmits += 1
                    if self.on_query is not None:
                        self.on_query(txn)
                    return _NONE
        orphans = self._orphans.get(key)
        if orphans is not None:
            for i, response in enumerate(orphans):
                if _same_question(msg, response) or response.qdcount == 0:
                    del orphans[i]
                    self._orphan_count -= 1
                    if not orphans:
                        del self._orphans[key]
                    self._stats.reordered += 1
                    self._mark_answered(key, response.ts)
                    txn = self._answered_txn(msg, [msg.ts], response)
                    if self.on_query is not None:
                        self.on_query(txn)
                    return [txn]
        out = self._evict_oldest_pending() if self._pending_count >= self.max_pending else _NONE
        ts = msg.ts
        # Positional: one Transaction per query; keywords cost ~0.4 us more each time.
        txn = Transaction(
            ts, msg.flow, msg.id, msg.qname, msg.qtype, msg.qclass, _PENDING, msg, None, None,
            0, 0, [ts],
        )  # fmt: skip
        if entries is None:
            self._pending[key] = [txn]
        else:
            entries.append(txn)
        self._pending_count += 1
        if self.on_query is not None:
            self.on_query(txn)
        return out

    def _on_response(self, key: tuple, msg: DnsMessage) -> list[Transaction]:
        self._responses += 1
        entries = self._pending.get(key)
        if entries is not None:
            qname_key, qtype, qclass = msg.qname_key, msg.qtype, msg.qclass
            for i, txn in enumerate(entries):
                query: DnsMessage = txn.query  # type: ignore[assignment]
                if (
                    query.qname_key == qname_key and query.qtype == qtype and query.qclass == qclass
                ) or msg.qdcount == 0:
                    if len(entries) == 1:
                        del self._pending[key]
                    else:
                        del entries[i]
                    self._pending_count -= 1
                    self._answered[key] = msg.ts
                    # Same endpoints: share the query's flow, so that the response's own
                    # dies young (consumers that hold transactions hold one flow, not two).
                    msg.flow = query.flow
                    # Complete the pending transaction in place (see the module docstring).
                    txn.status = _ANSWERED
                    txn.response = msg
                    rtt = msg.ts - txn.ts
                    txn.rtt = rtt if rtt > 0.0 else 0.0
                    return [txn]
        answered_at = self._answered.get(key)
        if answered_at is None:
            answered_at = self._answered_before.get(key)
        if answered_at is not None and msg.ts - answered_at <= self.timeout:
            # A second response to a query already answered: report it on its own, as
            # Zeek does, but do not let it wait for a query that already came.
            self._stats.late_responses += 1
            return [self._unsolicited(msg)]
        out: list[Transaction] = []
        if self._orphan_count >= self.max_orphans:
            out.extend(self._evict_oldest_orphan())
        self._orphans.setdefault(key, []).append(msg)
        self._orphan_order.append((msg.ts, key))
        self._orphan_count += 1
        return out

    def _mark_answered(self, key: tuple, ts: float) -> None:
        self._answered[key] = ts

    # -- building transactions ----------------------------------------------------------

    @staticmethod
    def _answered_txn(query: DnsMessage, times: list[float], response: DnsMessage) -> Transaction:
        """A query seen after its response (see `reorder_window`): answered at once."""
        first = times[0]
        rtt = response.ts - first
        return Transaction(
            first,
            query.flow,
            query.id,
            query.qname,
            query.qtype,
            query.qclass,
            _ANSWERED,
            query,
            response,
            rtt if rtt > 0.0 else 0.0,
            len(times) - 1,
            0,
            times,
        )

    @staticmethod
    def _unanswered(txn: Transaction) -> Transaction:
        """Complete a pending transaction in place as unanswered."""
        txn.status = Status.UNANSWERED
        txn.query_times = tuple(txn.query_times)
        return txn

    @staticmethod
    def _unsolicited(response: DnsMessage) -> Transaction:
        return Transaction(
            ts=response.ts,
            flow=response.flow,
            id=response.id,
            qname=response.qname,
            qtype=response.qtype,
            qclass=response.qclass,
            status=Status.UNSOLICITED,
            query=None,
            response=response,
            rtt=None,
        )

    # -- time and capacity -----------------------------------------------------------------

    def _close_pending(self, txn: Transaction) -> Transaction:
        """Remove a still-pending query from the tables and report it unanswered."""
        flow = txn.flow
        key = (flow.transport, flow.client, flow.client_port, flow.server, flow.server_port, txn.id)
        entries = self._pending[key]
        entries.remove(txn)
        if not entries:
            del self._pending[key]
        self._pending_count -= 1
        return self._unanswered(txn)

    def _evict_oldest_pending(self) -> list[Transaction]:
        """The table is full: report the oldest tenth of it unanswered (one sort, not one
        scan per new query, so a flood of unanswered queries stays linear)."""
        entries = sorted((t for group in self._pending.values() for t in group), key=_SENT)
        victims = entries[: max(1, len(entries) // 10)]
        self._stats.pending_evicted += len(victims)
        return [self._close_pending(t) for t in victims]

    def _evict_oldest_orphan(self) -> list[Transaction]:
        while self._orphan_order:
            ts, key = self._orphan_order.popleft()
            taken = self._take_orphan(key, ts)
            if taken is not None:
                self._stats.orphans_evicted += 1
                return [self._unsolicited(taken)]
        return []

    def _take_orphan(self, key: tuple, ts: float) -> DnsMessage | None:
        orphans = self._orphans.get(key)
        if not orphans:
            return None
        for i, response in enumerate(orphans):
            if response.ts == ts:
                del orphans[i]
                self._orphan_count -= 1
                if not orphans:
                    del self._orphans[key]
                return response
        return None

    def expire(self, now: float) -> list[Transaction]:
        """Close queries older than `timeout` and responses older than `reorder_window`."""
        out: list[Transaction] = []
        horizon = now - self.timeout
        expired = [t for group in self._pending.values() for t in group if t.ts <= horizon]
        if expired:
            expired.sort(key=_SENT)
            out.extend(self._close_pending(t) for t in expired)
        orphan_horizon = now - self.reorder_window
        order = self._orphan_order
        while order and order[0][0] <= orphan_horizon:
            ts, key = order.popleft()
            taken = self._take_orphan(key, ts)
            if taken is not None:
                out.append(self._unsolicited(taken))
        if now - self._answered_since >= self.timeout or len(self._answered) > self.max_pending:
            self._answered_before = self._answered
            self._answered = {}
            self._answered_since = now
        return out

    def flush(self) -> list[Transaction]:
        """End of capture: every pending query is unanswered, every orphan unsolicited."""
        out: list[Transaction] = []
        for entries in self._pending.values():
            out.extend(self._unanswered(t) for t in entries)
        self._pending.clear()
        self._pending_count = 0
        while self._orphan_order:
            ts, key = self._orphan_order.popleft()
            taken = self._take_orphan(key, ts)
            if taken is not None:
                out.append(self._unsolicited(taken))
        self._answered.clear()
        self._answered_before.clear()
        out.sort(key=lambda t: t.ts)
        return out
