"""Drop the extra copies of one packet that `tcpdump -i any` records on several interfaces.

On a node, a pod's DNS packet is captured on its veth, on the bridge and on the uplink,
5-120 us apart, each copy with its own link header and the uplink copy with TTL - 1. The
copies are identical above the IP header, so the key is the transport header fields and
the payload, never the frame. A resolver's retransmission is identical too and usually
comes seconds later (glibc waits `timeout`, 5 s by default; musl 2.5 s), but not always:
after a SERVFAIL glibc resends the pair at once, 0.3-0.8 ms later, on the same socket with
the same ids. So when the capture says which interface a packet was seen on (`tcpdump -i
any`, multi-interface pcapng), a copy is an identical packet within the window *on an
interface this packet has not been seen on yet*; the same bytes again on the same
interface are a resend. Without interface information, the window alone decides.

The two cases get different windows. Without interface information the window must stay
well below a resolver's resend interval, so it is 10 ms. With it, time is not what tells a
copy from a resend, and the copies of one packet can be far more than 10 ms apart: they are
stamped at different points of the kernel's path, and in between the packet can wait for
the softirq to run. On a loaded machine that wait was 10.3 ms (a CI run of this project's
node capture). So with interfaces the window is 100 ms, ten times that. Longer would still
be correct, but the table grows with the window: `bench/dedupe_window.py` on the bench's
SLL2 capture (1,650 packets a second) checks packets as fast at 100 ms as at 10 ms, and
about twice as slowly at 1 s.
"""

from __future__ import annotations

from dataclasses import dataclass

from dnssniff.model import Datagram, TcpSegment

DEFAULT_WINDOW = 0.010
# The window when the capture says which interface each packet was seen on.
INTERFACE_WINDOW = 0.100


@dataclass(slots=True)
class DedupeStats:
    """What the deduplicator saw."""

    seen: int = 0
    duplicates: int = 0
    evicted: int = 0


class Deduplicator:
    """Remembers the packets of the last window (packet time), at most `max_entries`.

    `window` applies to packets without interface information, `interface_window` to
    packets with it (see the module docstring). One capture gives one kind or the other,
    so the generations below follow the window of the packet at hand.

    Two generations of dicts instead of a per-packet expiry queue: the current generation
    takes new keys, and when it is `window` old it becomes the previous one and the older
    is dropped whole. A key is thus remembered for between one and two windows, which is
    all the comparison needs, at the cost of one or two dict lookups per packet.
    """

    __slots__ = (
        "_current",
        "_previous",
        "_started",
        "interface_window",
        "max_entries",
        "stats",
        "window",
    )

    def __init__(
        self,
        window: float = DEFAULT_WINDOW,
        max_entries: int = 65_536,
        interface_window: float = INTERFACE_WINDOW,
    ) -> None:
        self.window = window
        self.interface_window = interface_window
        self.max_entries = max_entries
        self.stats = DedupeStats()
        # key -> (time of the first copy, interfaces it was seen on or None if unknown)
        self._current: dict[tuple, tuple[float, set[int] | None]] = {}
        self._previous: dict[tuple, tuple[float, set[int] | None]] = {}
        self._started = float("-inf")

    def _rotate(self, ts: float, window: float) -> None:
        if ts - self._started >= 2 * window:
            self._previous = {}
        else:
            self._previous = self._current
        self._current = {}
        self._started = ts

    def is_duplicate(self, item: Datagram | TcpSegment, interface: int | None = None) -> bool:
        """True when `item` is a copy of a packet seen less than `window` seconds before.

        `interface` identifies where it was captured (see `decoder.frame_interface`); None
        when the capture cannot tell.
        """
        self.stats.seen += 1
        window = self.window if interface is None else self.interface_window
        if window <= 0:
            return False
        ts = item.ts
        if ts - self._started >= window:
            self._rotate(ts, window)
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
        seen = self._current.get(key)
        if seen is None:
            seen = self._previous.get(key)
        # abs(): `tcpdump -i any` may write the copies a few microseconds out of order.
        if seen is not None and abs(ts - seen[0]) <= window:
            interfaces = seen[1]
            if interface is None or interfaces is None:
                self.stats.duplicates += 1
                return True
            if interface not in interfaces:
                interfaces.add(interface)
                self.stats.duplicates += 1
                return True
            # The same bytes on the same interface again: a resend, a packet of its own.
        self._current[key] = (ts, None if interface is None else {interface})
        return False
