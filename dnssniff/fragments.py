"""Bounded reassembly of IPv4 and IPv6 fragments, keyed by the caller.

Large DNS answers over UDP (DNSSEC, big TXT sets, EDNS buffers above the path MTU) arrive
as IP fragments; without reassembly the analyzer would see only the first piece.

Policy, chosen so that untrusted input costs bounded memory and time:
- at most `max_groups` datagrams in progress; a new one beyond that evicts the oldest;
- at most `max_bytes` of payload (65535) and `max_pieces` fragments per datagram;
- a group older than `timeout` seconds of packet time is dropped (`expire`, or when a
  fragment for it arrives late);
- an exact duplicate (same offset and length) is ignored - captures taken on several
  interfaces see every fragment more than once;
- any other overlap drops the whole datagram, as RFC 5722 requires for IPv6: overlapping
  fragments are how reassembly attacks hide data, and there is no right answer to pick.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field

MAX_DATAGRAM = 65535
MAX_PIECES = 256


@dataclass(slots=True)
class _Group:
    """One datagram being reassembled."""

    first_ts: float
    pieces: dict[int, bytes] = field(default_factory=dict)  # offset -> payload
    total: int = -1  # payload length, known once the last fragment (M=0) is seen
    received: int = 0
    meta: object = None  # what the first fragment (offset 0) carried, e.g. next header


class FragmentTable:
    """Holds fragments until their datagram is complete; returns it whole.

    `malformed` is the decoder's counter (shared so that every reason lands in one
    place); `expired` and `evicted` count dropped groups.
    """

    def __init__(
        self,
        malformed: Counter[str],
        *,
        max_groups: int = 4096,
        timeout: float = 30.0,
        max_bytes: int = MAX_DATAGRAM,
        max_pieces: int = MAX_PIECES,
    ) -> None:
        self.malformed = malformed
        self.max_groups = max_groups
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_pieces = max_pieces
        self.expired = 0
        self.evicted = 0
        # Insertion order is creation order, so the first entry is the oldest group.
        self._groups: dict[Hashable, _Group] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def add(
        self,
        key: Hashable,
        ts: float,
        offset: int,
        payload: bytes,
        more: bool,
        meta: object = None,
    ) -> tuple[bytes, object] | None:
        """Add one fragment; return ``(payload, meta)`` when its datagram is complete.

        `offset` is in bytes, `more` is the "more fragments" flag, `meta` is kept from the
        fragment at offset 0 and handed back with the datagram.
        """
        size = len(payload)
        stop = offset + size
        if stop > self.max_bytes:
            self._drop(key, "fragment: too large")
            return None
        if more and (size == 0 or size % 8):
            # Only the last fragment may have a length that is not a multiple of 8.
            self._drop(key, "fragment: bad length")
            return None
        groups = self._groups
        group = groups.get(key)
        if group is not None and ts - group.first_ts > self.timeout:
            del groups[key]
            self.expired += 1
            group = None
        if group is None:
            if len(groups) >= self.max_groups:
                del groups[next(iter(groups))]
                self.evicted += 1
            group = groups[key] = _Group(ts)
        pieces = group.pieces
        same = pieces.get(offset)
        if same is not None and len(same) == size:
            return None  # duplicate copy of a fragment already held
        if same is not None or self._overlaps(pieces, offset, stop):
            self._drop(key, "fragment: overlap")
            return None
        if not more:
            if group.total >= 0 and group.total != stop:
                self._drop(key, "fragment: overlap")
                return None
            group.total = stop
        if group.total >= 0 and stop > group.total:
            self._drop(key, "fragment: beyond end")
            return None
        if len(pieces) >= self.max_pieces:
            self._drop(key, "fragment: too many pieces")
            return None
        pieces[offset] = payload
        group.received += size
        if offset == 0:
            group.meta = meta
        if group.received != group.total:
            return None
        # No overlaps and every piece inside [0, total): the byte counts matching means
        # there is no hole left.
        del groups[key]
        whole = b"".join(pieces[o] for o in sorted(pieces))
        return whole, group.meta

    @staticmethod
    def _overlaps(pieces: dict[int, bytes], start: int, stop: int) -> bool:
        for other_start, other in pieces.items():
            if other_start < stop and start < other_start + len(other):
                return True
        return False

    def _drop(self, key: Hashable, reason: str) -> None:
        self._groups.pop(key, None)
        self.malformed[reason] += 1

    def expire(self, now: float) -> int:
        """Drop groups whose first fragment is older than the timeout; return how many.

        Groups are checked oldest first and the sweep stops at the first young one, so a
        sweep costs what it removes. Packet times that go backwards (multi-interface
        captures) can leave a group until the next sweep or the cap removes it.
        """
        groups = self._groups
        limit = now - self.timeout
        dropped = 0
        while groups:
            key = next(iter(groups))
            if groups[key].first_ts >= limit:
                break
            del groups[key]
            dropped += 1
        self.expired += dropped
        return dropped

    def flush(self) -> int:
        """End of capture: every group still open is incomplete; drop and count them."""
        dropped = len(self._groups)
        self._groups.clear()
        self.expired += dropped
        return dropped
