"""Counts over a stream of transactions: what `dnssniff analyze` reports.

Everything here is bounded whatever the capture holds: counters keyed by protocol numbers
(at most 65,536 of each) and a `LatencyDigest`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dnssniff.latency import LatencyDigest
from dnssniff.mnemonics import qtype_text, rcode_text
from dnssniff.model import Transaction


@dataclass(slots=True)
class TransactionTally:
    """Accumulates the per-transaction part of the summary."""

    transactions: int = 0
    answered: int = 0
    unanswered: int = 0
    unsolicited: int = 0
    retransmits: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    latency: LatencyDigest = field(default_factory=LatencyDigest)
    rcodes: Counter[int] = field(default_factory=Counter)
    qtypes: Counter[int] = field(default_factory=Counter)
    transports: Counter[str] = field(default_factory=Counter)

    def add(self, txn: Transaction) -> None:
        """Count one transaction (runs for every second packet: plain dict operations)."""
        self.transactions += 1
        response = txn.response
        if txn.rtt is not None:
            self.answered += 1
            self.latency.add(txn.rtt)
        elif response is None:
            self.unanswered += 1
        else:
            self.unsolicited += 1
        self.retransmits += txn.retransmits
        if response is not None:
            rcodes = self.rcodes
            rcodes[response.rcode] = rcodes.get(response.rcode, 0) + 1
        qtypes = self.qtypes
        qtypes[txn.qtype] = qtypes.get(txn.qtype, 0) + 1
        transports = self.transports
        transport = txn.flow.transport
        transports[transport] = transports.get(transport, 0) + 1
        ts = txn.ts
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts

    def rcode_counts(self) -> dict[str, int]:
        """Responses per rcode mnemonic, most frequent first."""
        return {rcode_text(code): n for code, n in self.rcodes.most_common()}

    def qtype_counts(self) -> dict[str, int]:
        """Transactions per query type mnemonic, most frequent first."""
        return {qtype_text(code): n for code, n in self.qtypes.most_common()}
