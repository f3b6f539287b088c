"""Reassemble DNS-over-TCP streams into whole DNS messages (RFC 1035 4.2.2, RFC 7766 8).

Each direction of a connection (src, sport, dst, dport) is an independent byte stream of
messages, each preceded by a 2-byte big-endian length. A passive capture sees that stream
with every defect a network and a capture can add: retransmissions, reordering, segments
the capture dropped, connections that started before the capture did. The reassembler
never emits garbage: a message is emitted only when the framing is known (the stream began
at a SYN, or a segment start passed `plausible_start`), and everything it throws away is
counted in `TcpStats` or `malformed`.

Timestamps: a message carries the time of the segment whose arrival *completed* it. A DNS
message cannot be acted on before its last byte (the server cannot answer half a query, the
client's timer stops at the whole answer), so completion is what RTTs should measure. It
also keeps the output in packet-time order, which the later stages' expiry relies on, and
needs no per-message bookkeeping. (The first byte's time would be older than the segment
that delivers it, so a correlator could already have expired the partner message.) When a
message is recovered past a hole (the capture missed a segment the host did receive),
the held segment's own time is used: that is when the host really had the data.
"""

from __future__ import annotations

import collections
import struct
from collections import OrderedDict
from dataclasses import dataclass, field

from dnssniff.model import Datagram, TcpSegment, Transport

FIN = 0x01
SYN = 0x02
RST = 0x04
_CONTROL = FIN | SYN | RST

_MASK = 0xFFFFFFFF  # sequence numbers are modulo 2**32 (RFC 9293 3.4)
_HALF = 0x80000000  # a distance >= 2**31 is "behind", below it "ahead"

DNS_HEADER_SIZE = 12
_MIN_FRAME = 2 + DNS_HEADER_SIZE
_MAX_QDCOUNT = 4  # real messages carry 0 or 1 question; a few more is still not garbage
_MIN_QUESTION = 5  # root name (1) + QTYPE + QCLASS
_MIN_RR = 11  # root name (1) + TYPE, CLASS, TTL, RDLENGTH
_OPCODES = frozenset({0, 1, 2, 4, 5, 6})  # QUERY IQUERY STATUS NOTIFY UPDATE DSO
_QCLASSES = frozenset({1, 3, 4, 254, 255})  # IN CH HS NONE ANY
_HEADER = struct.Struct("!HHHHHHH")  # length prefix + DNS header

_TCP = Transport.TCP

Key = tuple[str, int, str, int]


@dataclass(slots=True)
class TcpStats:
    """Counters of what the reassembler saw and what it had to throw away.

    `bytes_skipped` counts stream bytes not delivered while the stream went on: bytes the
    capture never had (the width of each hole) and buffered bytes discarded to resynchronise
    (partial messages cut by a hole, unsynchronised data, oversized messages). Partial
    messages left when a stream ends are counted in `malformed` ("... at FIN/RST/SYN/timeout")
    or, at the end of the capture, in `incomplete_at_end`.
    """

    segments: int = 0
    messages: int = 0
    retransmitted_segments: int = 0
    out_of_order_segments: int = 0
    holes: int = 0
    bytes_skipped: int = 0
    flows_evicted: int = 0
    flows_expired: int = 0
    incomplete_at_end: int = 0
    midstream_starts: int = 0


@dataclass(slots=True)
class _Stream:
    """The state of one direction of one TCP connection.

    `buf` starts at a message boundary when `synced`; otherwise `cands` lists the offsets in
    `buf` where a segment started, the only places a resynchronisation is tried. `skip` is a
    count of stream bytes still to discard (the rest of a message that was given up) while
    the framing stays known. `ooo` holds segments ahead of `expect`, by sequence number, with
    their capture time. `ooo` and `cands` are made on first use: most streams never need them.
    """

    expect: int
    last_ts: float
    synced: bool
    isn: int | None = None
    buf: bytearray = field(default_factory=bytearray)
    skip: int = 0
    ooo: dict[int, tuple[bytes, float]] | None = None
    ooo_bytes: int = 0
    cands: list[int] | None = None


def plausible_start(buf: bytes | bytearray, off: int, max_frame: int) -> bool | None:
    """Whether `buf[off:]` looks like a length prefix followed by a DNS message.

    Returns None when more bytes are needed to tell. Used only when the framing is unknown
    (capture started mid-stream, or after a hole), so it may be slow-ish and strict: the
    length must cover a header and fit the buffer cap; the opcode must be assigned; the
    counts must fit in the length at their minimum sizes; and the first question's name
    must be plain labels ending inside the message (nothing precedes it for a compression
    pointer to point at), followed by a known QCLASS. A message without a question is
    accepted only as a bare header. Header checks alone were not enough: bytes in the middle
    of a query ("ple\\0\\0\\1\\0\\1...") pass them with a large length and would stall the
    stream waiting for a 28 kB message that never comes.
    """
    avail = len(buf) - off
    if avail < 2:
        return None
    length = buf[off] << 8 | buf[off + 1]
    if length < DNS_HEADER_SIZE or length + 2 > max_frame:
        return False
    if avail < _MIN_FRAME:
        return None
    _, _, flags, qd, an, ns, ar = _HEADER.unpack_from(buf, off)
    if (flags >> 11) & 0xF not in _OPCODES or qd > _MAX_QDCOUNT:
        return False
    if qd * _MIN_QUESTION + (an + ns + ar) * _MIN_RR > length - DNS_HEADER_SIZE:
        return False
    if qd == 0:
        return length == DNS_HEADER_SIZE
    end = off + 2 + length
    have = len(buf)
    pos = off + _MIN_FRAME
    while True:
        if pos >= end:
            return False
        if pos >= have:
            return None
        label = buf[pos]
        if label == 0:
            break
        if label > 63:
            return False
        pos += label + 1
    pos += 5  # root label, QTYPE, QCLASS
    if pos > end:
        return False
    if pos > have:
        return None
    return (buf[pos - 2] << 8 | buf[pos - 1]) in _QCLASSES


class TcpReassembler:
    """Turn TCP segments of DNS connections into one `Datagram` per DNS message.

    Feed every segment of the watched ports, in capture order; `feed` returns the messages
    the segment completed. Bounded: at most `max_flows` stream states (the least recently
    used is evicted), `max_buffer` bytes buffered per stream (in order + out of order) and
    `max_out_of_order` held segments per stream; past those, the missing data is declared a
    hole, skipped and counted. Time is packet time only: a stream idle for more than
    `flow_timeout` seconds is dropped by `expire(now)` or when its next segment arrives.

    A stream whose SYN was seen starts at ISN + 1 with known framing. A stream first seen
    mid-connection is assumed, as dnscap does, to start at a message boundary; if its first
    segment does not look like one, "tcp: unsynchronised stream" is counted and later segment
    starts are tried. FIN and RST deliver what can still be delivered and drop the state; a
    FIN that overtakes missing data therefore loses that data (counted as a hole).

    After a SYN the framing is trusted (a message with an odd header is still delivered, for
    the DNS decoder to judge); only resynchronisation applies `plausible_start`. Known limit:
    no memory of closed streams is kept, so data retransmitted after its FIN was seen starts a
    new mid-stream state and can deliver that message a second time.
    """

    def __init__(
        self,
        *,
        max_flows: int = 10_000,
        max_buffer: int = 131_072,
        flow_timeout: float = 60.0,
        max_out_of_order: int = 64,
    ) -> None:
        self._max_flows = max_flows
        self._max_buffer = max_buffer
        self._timeout = flow_timeout
        self._max_ooo = max_out_of_order
        # Insertion order is recency order (move_to_end on every segment), which makes the
        # LRU eviction O(1) and lets expire() stop at the first stream still alive.
        self._flows: OrderedDict[Key, _Stream] = OrderedDict()
        self.stats = TcpStats()
        self.malformed: collections.Counter[str] = collections.Counter()

    def __len__(self) -> int:
        """The number of stream states currently held."""
        return len(self._flows)

    def feed(self, seg: TcpSegment) -> list[Datagram]:
        """Take one segment; return the DNS messages it completed (usually 0 or 1)."""
        stats = self.stats
        stats.segments += 1
        key = (seg.src, seg.sport, seg.dst, seg.dport)
        flows = self._flows
        st = flows.get(key)
        if st is not None:
            flows.move_to_end(key)
            ts = seg.ts
            # Hand-written fast path for what nearly all DNS-over-TCP traffic is: a pure ACK,
            # or one whole message in one in-order segment of a synchronised stream. It skips
            # the buffer entirely (no bytearray copy, no parse loop), which is what keeps the
            # pipeline above its packets-per-second budget.
            if not seg.flags & _CONTROL and ts - st.last_ts <= self._timeout:
                payload = seg.payload
                if not payload:
                    st.last_ts = ts
                    return []
                n = len(payload)
                if (
                    st.expect == seg.seq
                    and st.synced
                    and not st.buf
                    and not st.ooo
                    and not st.skip
                    and _MIN_FRAME <= n <= self._max_buffer
                    and (payload[0] << 8 | payload[1]) + 2 == n
                ):
                    st.expect = (st.expect + n) & _MASK
                    st.last_ts = ts
                    stats.messages += 1
                    return [Datagram(ts, _TCP, seg.src, seg.sport, seg.dst, seg.dport, payload[2:])]
        return self._feed_slow(seg, key, st)

    def expire(self, now: float) -> list[Datagram]:
        """Drop streams idle for more than `flow_timeout` at packet time `now`; count them.

        Returns messages recovered from held out-of-order data by skipping the hole in front
        of it (usually none). Streams are visited in recency order and the walk stops at the
        first live one, so a call costs O(expired streams).
        """
        out: list[Datagram] = []
        cutoff = now - self._timeout
        flows = self._flows
        while flows:
            key = next(iter(flows))
            st = flows[key]
            if st.last_ts >= cutoff:
                break
            self.stats.flows_expired += 1
            if self._close(key, st, out):
                self.malformed["tcp: incomplete message at timeout"] += 1
        return out

    def flush(self) -> list[Datagram]:
        """End of capture: drop every stream, counting partial messages in `incomplete_at_end`.

        Messages held behind a hole that will now never be filled are recovered and returned;
        everything complete was already returned by `feed`, so this is usually empty.
        """
        out: list[Datagram] = []
        for key, st in list(self._flows.items()):
            if self._close(key, st, out):
                self.stats.incomplete_at_end += 1
        return out

    # -- slow path ------------------------------------------------------------------------

    def _feed_slow(self, seg: TcpSegment, key: Key, st: _Stream | None) -> list[Datagram]:
        out: list[Datagram] = []
        ts = seg.ts
        flags = seg.flags
        if st is not None and ts - st.last_ts > self._timeout:
            self.stats.flows_expired += 1
            if self._close(key, st, out):
                self.malformed["tcp: incomplete message at timeout"] += 1
            st = None
        if flags & RST:
            # An RST's payload is a diagnostic, not stream data.
            if st is not None and self._close(key, st, out):
                self.malformed["tcp: incomplete message at RST"] += 1
            return out
        payload = seg.payload
        seq = seg.seq
        if flags & SYN:
            if st is not None and st.isn == seq:
                # A retransmitted SYN (its SYN-ACK was lost): nothing new.
                self.stats.retransmitted_segments += 1
                st.last_ts = ts
                return out
            if st is not None and self._close(key, st, out):
                self.malformed["tcp: incomplete message at SYN"] += 1
            seq = (seq + 1) & _MASK
            st = self._open(key, ts, seq, synced=True)
            st.isn = seg.seq
        elif st is None:
            if not payload:
                # A bare ACK or FIN tells nothing worth a table slot.
                return out
            st = self._open(key, ts, seq, synced=False)
            st.cands = []
            self.stats.midstream_starts += 1
        st.last_ts = ts
        if payload:
            self._data(key, st, seq, payload, ts, out)
        if flags & FIN and self._close(key, st, out):
            self.malformed["tcp: incomplete message at FIN"] += 1
        return out

    def _open(self, key: Key, ts: float, expect: int, *, synced: bool) -> _Stream:
        flows = self._flows
        if len(flows) >= self._max_flows:
            flows.popitem(last=False)
            self.stats.flows_evicted += 1
        st = _Stream(expect, ts, synced)
        flows[key] = st
        return st

    def _close(self, key: Key, st: _Stream, out: list[Datagram]) -> bool:
        """Deliver what held data still gives, drop the state; True if a partial was left."""
        while st.ooo:
            self._skip_hole(key, st, out)
        del self._flows[key]
        return bool(st.buf)

    def _data(
        self, key: Key, st: _Stream, seq: int, data: bytes, ts: float, out: list[Datagram]
    ) -> None:
        stats = self.stats
        ahead = (seq - st.expect) & _MASK
        if ahead == 0:
            self._append(st, data, boundary=True)
        elif ahead < _HALF:
            ooo = st.ooo
            if ooo is None:
                ooo = st.ooo = {}
            prev = ooo.get(seq)
            if prev is not None:
                stats.retransmitted_segments += 1
                if len(prev[0]) >= len(data):
                    return
                st.ooo_bytes -= len(prev[0])
            else:
                stats.out_of_order_segments += 1
            ooo[seq] = (data, ts)
            st.ooo_bytes += len(data)
            while ooo and (
                len(ooo) > self._max_ooo or len(st.buf) + st.ooo_bytes > self._max_buffer
            ):
                self._skip_hole(key, st, out)
            return
        else:
            stats.retransmitted_segments += 1
            overlap = (st.expect - seq) & _MASK
            if overlap >= len(data):
                return
            # The new tail of a partly retransmitted segment starts mid-message: no boundary.
            self._append(st, data[overlap:], boundary=False)
        if st.ooo:
            self._drain(key, st, ts, out)
        self._parse(key, st, ts, out)

    def _append(self, st: _Stream, data: bytes, *, boundary: bool) -> None:
        """Add in-order bytes at `expect`, discarding what `skip` still owes."""
        st.expect = (st.expect + len(data)) & _MASK
        if st.skip:
            n = st.skip
            if n >= len(data):
                st.skip = n - len(data)
                self.stats.bytes_skipped += len(data)
                return
            st.skip = 0
            self.stats.bytes_skipped += n
            data = data[n:]  # starts exactly at the next message: the framing is still known
        elif not st.synced and boundary:
            st.cands.append(len(st.buf))  # type: ignore[union-attr]
        st.buf += data

    def _drain(self, key: Key, st: _Stream, ts: float | None, out: list[Datagram]) -> None:
        """Move held segments that are now contiguous into the buffer.

        With `ts` given (a gap was filled), messages complete at `ts`, parsed by the caller.
        With None (a hole was skipped), each held segment is parsed at its own capture time.
        """
        ooo = st.ooo
        assert ooo is not None
        base = st.expect
        # Signed distance from `expect`, shifted to sort correctly across the 2**32 wrap.
        for s in sorted(ooo, key=lambda s: (s - base + _HALF) & _MASK):
            ahead = (s - st.expect) & _MASK
            if ahead and ahead < _HALF:
                break  # a gap remains
            data, seg_ts = ooo.pop(s)
            st.ooo_bytes -= len(data)
            overlap = (st.expect - s) & _MASK
            if overlap < len(data):
                self._append(st, data[overlap:] if overlap else data, boundary=not overlap)
                if ts is None:
                    self._parse(key, st, seg_ts, out)

    def _skip_hole(self, key: Key, st: _Stream, out: list[Datagram]) -> None:
        """Give up on the bytes before the first held segment and continue from it.

        If the hole lies inside the message being assembled (its length is known and covers
        the hole), the framing survives: the rest of that message is skipped exactly.
        Otherwise the stream becomes unsynchronised and resynchronises on a segment start.
        """
        stats = self.stats
        ooo = st.ooo
        assert ooo
        expect = st.expect
        first = min(ooo, key=lambda s: (s - expect) & _MASK)
        gap = (first - expect) & _MASK
        stats.holes += 1
        stats.bytes_skipped += gap
        buf = st.buf
        stats.bytes_skipped += len(buf)
        if st.synced and st.skip >= gap:
            st.skip -= gap
        elif st.synced and len(buf) >= 2 and (buf[0] << 8 | buf[1]) + 2 - len(buf) >= gap:
            st.skip = (buf[0] << 8 | buf[1]) + 2 - len(buf) - gap
        else:
            st.synced = False
            st.skip = 0
            st.cands = []
        buf.clear()
        st.expect = first
        self._drain(key, st, None, out)

    def _resync(self, st: _Stream) -> bool:
        """Find a segment start that looks like a message; True once the stream is synced."""
        buf = st.buf
        cands = st.cands
        assert cands is not None
        while cands:
            c = cands[0]
            verdict = plausible_start(buf, c, self._max_buffer)
            if verdict is None:  # too few bytes yet; drop what precedes the candidate
                if c:
                    self.stats.bytes_skipped += c
                    del buf[:c]
                    st.cands = [x - c for x in cands]
                return False
            if verdict:
                self.stats.bytes_skipped += c
                del buf[:c]
                st.cands = None
                st.synced = True
                return True
            self.malformed["tcp: unsynchronised stream"] += 1
            del cands[0]
        self.stats.bytes_skipped += len(buf)
        buf.clear()
        return False

    def _parse(self, key: Key, st: _Stream, ts: float, out: list[Datagram]) -> None:
        """Emit every whole message at the front of a buffer; keep the partial tail."""
        if not st.synced and not self._resync(st):
            return
        buf = st.buf
        n = len(buf)
        pos = 0
        max_frame = self._max_buffer
        src, sport, dst, dport = key
        stats = self.stats
        with memoryview(buf) as view:
            while n - pos >= 2:
                length = buf[pos] << 8 | buf[pos + 1]
                end = pos + 2 + length
                if length < DNS_HEADER_SIZE:
                    # Not DNS framing (or we lost track of it): drop all, resync later.
                    self.malformed["tcp: length prefix shorter than a DNS header"] += 1
                    stats.bytes_skipped += n - pos
                    pos = n
                    st.synced = False
                    st.cands = []
                    break
                if length + 2 > max_frame:
                    # Too big to buffer, but its end is known: skip it and stay in step.
                    self.malformed["tcp: message longer than max_buffer"] += 1
                    if end <= n:
                        stats.bytes_skipped += end - pos
                        pos = end
                        continue
                    stats.bytes_skipped += n - pos
                    st.skip = end - n
                    pos = n
                    break
                if end > n:
                    break
                out.append(Datagram(ts, _TCP, src, sport, dst, dport, bytes(view[pos + 2 : end])))
                stats.messages += 1
                pos = end
        if pos:
            del buf[:pos]
