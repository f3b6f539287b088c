"""From captured frames to DNS datagrams and TCP segments on the watched ports.

The decoder strips the link layer, IP (with options, extension headers and fragments) and
any overlay tunnels, then emits a `Datagram` for UDP or a `TcpSegment` for TCP when either
port is watched. Tunnels are opened before the port check, so the endpoints reported are
the inner ones: the pods, not the nodes.

Almost every packet in a DNS capture is Ethernet or Linux-cooked-v2, IPv4 without options,
UDP, not fragmented. `Decoder.feed` handles exactly that case with one `struct` call and a
few comparisons before it falls back to the general, layer-by-layer path: the general path
costs several function calls and tuple packs per packet, which at a million packets is
seconds of CPU. Both paths must give the same answer; tests compare them.

Counting (`DecodeStats`): `frames` every frame; `ip_packets` frames whose link layer
carries IPv4/IPv6; `udp_dns` UDP datagrams emitted; `tcp_dns` TCP segments on a watched
port (a bare ACK is counted but not emitted: the stream reassembler needs only data and
SYN/FIN/RST); `other` packets that end without output and without error (ARP, ICMP,
other ports, ESP, PPP control); `fragments` IP fragments taken in; `reassembled`
datagrams rebuilt from them; `tunnels` tunnel headers opened. A frame that cannot be
decoded is counted once in `malformed` under its reason and yields nothing.
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from dataclasses import dataclass

from dnssniff.fragments import FragmentTable
from dnssniff.ipdecode import (
    IPV4_FLAG_MF,
    IPV4_FRAG_MASK,
    PROTO_GRE,
    PROTO_IPIP,
    PROTO_IPV6,
    PROTO_TCP,
    PROTO_UDP,
    ipv4_header,
    ipv6_extensions,
    ipv6_header,
)
from dnssniff.linklayer import (
    ETH_IPV4,
    ETH_IPV6,
    SUPPORTED_LINKTYPES,
    Malformed,
    link_payload,
)
from dnssniff.model import Datagram, Frame, TcpSegment, Transport
from dnssniff.overlay import GENEVE_PORT, GRE_IN_UDP_PORT, UDP_OVERLAY_PORTS, geneve, gre, vxlan

__all__ = ["SUPPORTED_LINKTYPES", "DecodeStats", "Decoder"]

TCP_FIN_SYN_RST = 0x07
# Distinct addresses seen in a capture are few (pods, resolvers); the cache is cleared when
# full rather than managed as an LRU, which would cost more per packet than it saves.
ADDR_CACHE_MAX = 4096

# Fast-path layouts: ethertype, IPv4 version/IHL, total length, flags/fragment offset,
# protocol, addresses, then UDP ports and length - one call for the whole header stack.
_ETH_FAST = struct.Struct("!12xIH2xI2x8sHHH").unpack_from
_ETH_FAST_LEN = 14 + 28
_SLL2_FAST = struct.Struct("!H18xBxH2xI2x8sHHH").unpack_from
_SLL2_FAST_LEN = 20 + 28

_UDP_HEADER = struct.Struct("!HHH").unpack_from
_TCP_HEADER = struct.Struct("!HHI4xBB").unpack_from

_UDP = Transport.UDP


@dataclass(slots=True)
class DecodeStats:
    """What the decoder has seen; see the module docstring for each count's meaning."""

    frames: int = 0
    ip_packets: int = 0
    udp_dns: int = 0
    tcp_dns: int = 0
    other: int = 0
    fragments: int = 0
    reassembled: int = 0
    fragment_groups_expired: int = 0
    fragment_groups_evicted: int = 0
    tunnels: int = 0


class Decoder:
    """Decode frames into DNS `Datagram`s (UDP) and `TcpSegment`s on `ports`.

    `max_fragment_groups` and `fragment_timeout` (seconds of packet time) bound IP
    reassembly; `max_depth` bounds how many tunnels may be nested in one packet.
    """

    def __init__(
        self,
        ports: frozenset[int] = frozenset({53}),
        *,
        max_fragment_groups: int = 4096,
        fragment_timeout: float = 30.0,
        max_depth: int = 4,
    ) -> None:
        self.ports = frozenset(ports)
        self.max_depth = max_depth
        self._stats = DecodeStats()
        # Fast-path counters, folded into `stats` when it is read: one integer bump per
        # packet instead of three attribute updates.
        self._fast_frames = 0
        self._fast_hits = 0
        self._fast_other = 0
        self.malformed: Counter[str] = Counter()
        self._fragments = FragmentTable(
            self.malformed, max_groups=max_fragment_groups, timeout=fragment_timeout
        )
        self._addr_cache: dict[bytes, str] = {}
        self._pair_cache: dict[bytes, tuple[str, str]] = {}
        self._frame = Frame(0.0, 0, b"", 0)  # the frame on the general path

    # -- public API -------------------------------------------------------------------

    def feed(self, frame: Frame) -> list[Datagram | TcpSegment]:
        """Decode one frame; return what it carried on the watched ports (often nothing)."""
        self._fast_frames += 1
        data = frame.data
        linktype = frame.linktype
        # Fast path, see the module docstring. Anything unusual falls through to `_decode`.
        # `head` packs ethertype, IPv4 version/IHL and TOS; `fragproto` packs flags/offset,
        # TTL and protocol: fewer fields unpacked is measurably faster.
        if linktype == 1 and len(data) >= _ETH_FAST_LEN:
            head, total, fragproto, addrs, sport, dport, ulen = _ETH_FAST(data, 0)
            base = 14
        elif linktype == 276 and len(data) >= _SLL2_FAST_LEN:
            et, vihl, total, fragproto, addrs, sport, dport, ulen = _SLL2_FAST(data, 0)
            head = (et << 16) | (vihl << 8)
            base = 20
        else:
            return self._decode(frame)
        if (
            head & 0xFFFFFF00 == 0x08004500  # IPv4, no options
            and fragproto & 0x3FFF00FF == 17  # UDP, not a fragment
            and 8 <= ulen <= total - 20
            and base + total <= len(data)
        ):
            ports = self.ports
            if sport in ports or dport in ports:
                self._fast_hits += 1
                pair = self._pair_cache.get(addrs) or self._pair(addrs)
                start = base + 28
                return [
                    Datagram(
                        frame.ts,
                        _UDP,
                        pair[0],
                        sport,
                        pair[1],
                        dport,
                        data[start : start + ulen - 8],
                    )
                ]
            if dport not in UDP_OVERLAY_PORTS:
                self._fast_other += 1  # well-formed UDP on another port: nothing to do
                return []
        return self._decode(frame)

    @property
    def stats(self) -> DecodeStats:
        """The counts so far (the fast path's counts are folded in on read)."""
        stats = self._stats
        if self._fast_frames:
            stats.frames += self._fast_frames
            self._fast_frames = 0
        if self._fast_hits:
            hits = self._fast_hits
            stats.ip_packets += hits
            stats.udp_dns += hits
            self._fast_hits = 0
        if self._fast_other:
            stats.ip_packets += self._fast_other
            stats.other += self._fast_other
            self._fast_other = 0
        return stats

    def expire(self, now: float) -> None:
        """Drop fragment groups older than the fragment timeout at packet time `now`."""
        self._fragments.expire(now)
        self._stats.fragment_groups_expired = self._fragments.expired

    def flush(self) -> list:
        """End of capture: count the incomplete fragment groups as expired and drop them."""
        self._fragments.flush()
        self._stats.fragment_groups_expired = self._fragments.expired
        return []

    # -- general path -------------------------------------------------------------------

    def _decode(self, frame: Frame) -> list[Datagram | TcpSegment]:
        self._frame = frame
        data = frame.data
        try:
            et, off = link_payload(frame.linktype, data)
            if et in (ETH_IPV4, ETH_IPV6):
                self._stats.ip_packets += 1
            return self._network(et, data, off, len(data), frame.wirelen > len(data), 0)
        except Malformed as err:
            self.malformed[err.reason] += 1
        except (struct.error, IndexError, ValueError):
            # A bug, not bad input: every layer checks lengths before it reads. Counted so
            # that one odd packet cannot stop a capture; tests assert it never happens.
            self.malformed["decode: internal error"] += 1
        return []

    def _network(self, et: int, data: bytes, off: int, end: int, cut: bool, depth: int) -> list:
        if et == ETH_IPV4:
            return self._ipv4(data, off, end, cut, depth)
        if et == ETH_IPV6:
            return self._ipv6(data, off, end, cut, depth)
        self._stats.other += 1
        return []

    def _ipv4(self, data: bytes, off: int, end: int, cut: bool, depth: int) -> list:
        off, end, cut, ident, frag, proto, src, dst = ipv4_header(data, off, end, cut)
        if frag & IPV4_FRAG_MASK:
            if cut:
                raise Malformed("fragment: cut by snaplen")
            self._stats.fragments += 1
            key = (self._interface(), 4, src, dst, ident, proto)
            done = self._fragments.add(
                key, self._frame.ts, (frag & 0x1FFF) * 8, data[off:end], bool(frag & IPV4_FLAG_MF)
            )
            self._sync_fragment_stats()
            if done is None:
                return []
            self._stats.reassembled += 1
            data = done[0]
            off, end = 0, len(data)
        return self._transport(proto, data, off, end, cut, src, dst, depth)

    def _ipv6(self, data: bytes, off: int, end: int, cut: bool, depth: int) -> list:
        off, end, cut, nh, src, dst = ipv6_header(data, off, end, cut)
        nh, off, frag = ipv6_extensions(data, off, end, nh)
        if frag is not None:
            if cut:
                raise Malformed("fragment: cut by snaplen")
            frag_off, more, ident, inner = frag
            self._stats.fragments += 1
            key = (self._interface(), 6, src, dst, ident)
            done = self._fragments.add(key, self._frame.ts, frag_off, data[off:end], more, inner)
            self._sync_fragment_stats()
            if done is None:
                return []
            self._stats.reassembled += 1
            data = done[0]
            end = len(data)
            # Headers after the fragment header belong to the fragmentable part.
            nh, off, frag = ipv6_extensions(data, 0, end, done[1])  # type: ignore[arg-type]
            if frag is not None:
                raise Malformed("fragment: nested fragment header")
        return self._transport(nh, data, off, end, cut, src, dst, depth)

    def _transport(
        self,
        proto: int,
        data: bytes,
        off: int,
        end: int,
        cut: bool,
        src: bytes,
        dst: bytes,
        depth: int,
    ) -> list:
        if proto == PROTO_UDP:
            return self._udp(data, off, end, cut, src, dst, depth)
        if proto == PROTO_TCP:
            return self._tcp(data, off, end, cut, src, dst)
        if proto in (PROTO_IPIP, PROTO_IPV6, PROTO_GRE):
            if depth >= self.max_depth:
                raise Malformed("tunnel: too deep")
            if proto == PROTO_GRE:
                et, off = gre(data, off, end)
            else:
                et = ETH_IPV4 if proto == PROTO_IPIP else ETH_IPV6
            self._stats.tunnels += 1
            return self._network(et, data, off, end, cut, depth + 1)
        self._stats.other += 1
        return []

    def _udp(
        self, data: bytes, off: int, end: int, cut: bool, src: bytes, dst: bytes, depth: int
    ) -> list:
        if end - off < 8:
            raise Malformed("udp: truncated header")
        sport, dport, ulen = _UDP_HEADER(data, off)
        ports = self.ports
        if dport in UDP_OVERLAY_PORTS and sport not in ports:
            return self._udp_overlay(data, off, end, cut, dport, ulen, depth)
        if sport not in ports and dport not in ports:
            self._stats.other += 1
            return []
        if ulen < 8:
            raise Malformed("udp: bad length")
        stop = off + ulen
        if stop > end:
            raise Malformed("udp: payload cut by snaplen" if cut else "udp: length exceeds packet")
        self._stats.udp_dns += 1
        return [
            Datagram(
                self._frame.ts,
                _UDP,
                self._addr(src),
                sport,
                self._addr(dst),
                dport,
                data[off + 8 : stop],
            )
        ]

    def _udp_overlay(
        self, data: bytes, off: int, end: int, cut: bool, dport: int, ulen: int, depth: int
    ) -> list:
        if ulen < 8:
            raise Malformed("udp: bad length")
        stop = off + ulen
        if stop > end:
            if not cut:
                raise Malformed("udp: length exceeds packet")
            stop = end  # decode what was captured; the inner layers report the cut
        if depth >= self.max_depth:
            raise Malformed("tunnel: too deep")
        start = off + 8
        if dport == GENEVE_PORT:
            et, inner = geneve(data, start, stop)
        elif dport == GRE_IN_UDP_PORT:
            et, inner = gre(data, start, stop)
        else:
            et, inner = vxlan(data, start, stop)
        self._stats.tunnels += 1
        return self._network(et, data, inner, stop, cut, depth + 1)

    def _tcp(self, data: bytes, off: int, end: int, cut: bool, src: bytes, dst: bytes) -> list:
        if end - off < 20:
            raise Malformed("tcp: truncated header")
        sport, dport, seq, doff, flags = _TCP_HEADER(data, off)
        ports = self.ports
        if sport not in ports and dport not in ports:
            self._stats.other += 1
            return []
        size = (doff >> 4) * 4
        if size < 20:
            raise Malformed("tcp: bad data offset")
        if off + size > end:
            raise Malformed("tcp: truncated header" if cut else "tcp: bad data offset")
        if cut:
            # A TCP stream with bytes missing cannot be framed; better to leave a gap the
            # reassembler can see than to hand it a short segment.
            raise Malformed("tcp: payload cut by snaplen")
        self._stats.tcp_dns += 1
        payload = data[off + size : end]
        if payload or flags & TCP_FIN_SYN_RST:
            return [
                TcpSegment(
                    self._frame.ts,
                    self._addr(src),
                    sport,
                    self._addr(dst),
                    dport,
                    seq,
                    flags,
                    payload,
                )
            ]
        return []

    # -- helpers ------------------------------------------------------------------------

    def _addr(self, raw: bytes) -> str:
        """The standard text form of an address, from a small cache (inet_ntop is slow)."""
        cache = self._addr_cache
        text = cache.get(raw)
        if text is None:
            text = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
            if len(cache) >= ADDR_CACHE_MAX:
                cache.clear()
            cache[raw] = text
        return text

    def _pair(self, addrs: bytes) -> tuple[str, str]:
        """Source and destination text for the fast path's 8 address bytes, cached."""
        cache = self._pair_cache
        if len(cache) >= ADDR_CACHE_MAX:
            cache.clear()
        pair = cache[addrs] = (self._addr(addrs[:4]), self._addr(addrs[4:]))
        return pair

    def _interface(self) -> int:
        """The interface a fragment was captured on, part of the reassembly key.

        Under `tcpdump -i any` (SLL2) the same fragment is captured on the pod's veth, the
        bridge and the uplink; keyed by interface, each copy reassembles on its own instead
        of a late copy opening a group that can never complete. Dedupe happens later.
        """
        return frame_interface(self._frame)

    def _sync_fragment_stats(self) -> None:
        table = self._fragments
        self._stats.fragment_groups_expired = table.expired
        self._stats.fragment_groups_evicted = table.evicted


def frame_interface(frame: Frame) -> int:
    """Which interface a frame was captured on, as far as the capture tells.

    LINUX_SLL2 records the interface index; LINUX_SLL (v1) does not, but the packet type
    (incoming, outgoing, other host) and link-layer address differ between the copies of
    one packet on different interfaces, so together they stand in for it. pcapng adds its
    own interface number. The deduplicator uses this to tell a copy seen on another
    interface from a resend on the same one.
    """
    data = frame.data
    if frame.linktype == 276 and len(data) >= 8:
        return (frame.interface << 32) | int.from_bytes(data[4:8], "big")
    if frame.linktype == 113 and len(data) >= 14:
        return (frame.interface << 80) | int.from_bytes(data[0:2] + data[6:14], "big")
    return frame.interface
