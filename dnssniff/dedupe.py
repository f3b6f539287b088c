"""Drop the extra copies of one packet that `tcpdump -i any` records on several interfaces.

On a node, a pod's DNS packet is captured on its veth, on the bridge and on the uplink,
5-120 us apart, each copy with its own link header and the uplink copy with TTL - 1. The
copies are identical above the IP header, so the key is the transport header fields and
the payload, never the frame. A resolver's retransmission is identical too, but comes
seconds later (glibc waits `timeout`, 5 s by default; musl 2.5 s; nothing resends within
milliseconds), so a short window separates the two without ambiguity.
"""

from __future__ import annotations

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
    """Remembers the packets of the last `window` seconds (packet time), at most `max_entries`.

    Two generations of dicts instead of a per-packet expiry queue: the current generation
    takes new keys, and when it is `window` old it becomes the previous one and the older
    is dropped whole. A key is thus remembered for between one and two windows, which is
    all the comparison needs, at the cost of one or two dict lookups per packet.
    """

    __slots__ = ("_current", "_previous", "_started", "max_entries", "stats", "window")

    def __init__(self, window: float = DEFAULT_WINDOW, max_entries: int = 65_536) -> None:
        self.window = window
        self.max_entries = max_entries
        self.stats = DedupeStats()
        self._current: dict[tuple, float] = {}
        self._previous: dict[tuple, float] = {}
        self._started = float("-inf")

    def _rotate(self, ts: float) -> None:
        if ts - self._started >= 2 * self.window:
            self._previous = {}
        else:
            self._previous = self._current
        self._current = {}
        self._started = ts

    def is_duplicate(self, item: Datagram | TcpSegment) -> bool:
        """True when an identical packet was seen less than `window` seconds before."""
        self.stats.seen += 1
        window = self.window
        if window <= 0:
            return False
        ts = item.ts
        if ts - self._started >= window:
            self._rotate(ts)
        elif len(self._current) >= self.max_entries:
            # A burst larger than the table within one window: forget the older half.
            self.stats.evicted += len(self._previous)
            self._previous = self._current
            self._current = {}
            self._started = ts
        if type(item) is Datagram:
            key = (item.src, item.sport, item.dst, item.dport, item.payload)
        else:
            key = (item.src, item.sport, item.dst, item.dport, item.seq, item.flags, item.payload)
        last = self._current.get(key)
        if last is None:
            last = self._previous.get(key)
        # abs(): `tcpdump -i any` may write the copies a few microseconds out of order.
        if last is not None and abs(ts - last) <= window:
            self.stats.duplicates += 1
            return True
        self._current[key] = ts
        return False
