"""Drop the extra copies of one packet that `tcpdump -i any` records on several interfaces.

On a node, a pod's DNS packet is captured on its veth, on the bridge and on the uplink,
5-120 us apart, each copy with its own link header and the uplink copy with TTL - 1. The
copies are identical above the IP header, so the key is the transport header fields and
the payload, never the frame. A resolver's retransmission is identical too, but comes
seconds later (glibc waits `timeout`, 5 s by default; musl 2.5 s; nothing resends within
milliseconds), so a short window separates the two without ambiguity.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dnssniff.model import Datagram, TcpSegment

DEFAULT_WINDOW = 0.010


@dataclass(slots=True)
class DedupeStats:
    """What the deduplicator saw."""

    seen: int = 0
    duplicates: int = 0
    evicted: int = 0


class Deduplicator:
    """Remembers the packets of the last `window` seconds (packet time), at most `max_entries`."""

    __slots__ = ("_order", "_seen", "max_entries", "stats", "window")

    def __init__(self, window: float = DEFAULT_WINDOW, max_entries: int = 65_536) -> None:
        self.window = window
        self.max_entries = max_entries
        self.stats = DedupeStats()
        self._seen: dict[tuple, float] = {}
        self._order: deque[tuple[float, tuple]] = deque()

    def is_duplicate(self, item: Datagram | TcpSegment) -> bool:
        """True when an identical packet was seen less than `window` seconds before."""
        self.stats.seen += 1
        if self.window <= 0:
            return False
        ts = item.ts
        if type(item) is Datagram:
            key = (item.src, item.sport, item.dst, item.dport, item.payload)
        else:
            key = (item.src, item.sport, item.dst, item.dport, item.seq, item.flags, item.payload)
        order = self._order
        seen = self._seen
        horizon = ts - self.window
        while order and order[0][0] < horizon:
            old_ts, old_key = order.popleft()
            if seen.get(old_key) == old_ts:
                del seen[old_key]
        last = seen.get(key)
        if last is not None and ts - last <= self.window:
            self.stats.duplicates += 1
            return True
        if len(order) >= self.max_entries:
            old_ts, old_key = order.popleft()
            if seen.get(old_key) == old_ts:
                del seen[old_key]
            self.stats.evicted += 1
        seen[key] = ts
        order.append((ts, key))
        return False
