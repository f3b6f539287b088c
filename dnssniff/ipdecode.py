"""IPv4 and IPv6 headers, including IPv4 options and IPv6 extension headers.

The functions return plain tuples: the decoder's general path calls them once per packet and
a tuple is the cheapest thing CPython can hand back. Bad headers raise `Malformed`.

`cut` means "the capture holds less than the packet had on the wire" (tcpdump's snaplen):
a packet whose length field exceeds the captured bytes is then kept, marked, so that the
transport layer can say precisely what was lost instead of calling the header a liar.
"""

from __future__ import annotations

import struct

from dnssniff.linklayer import Malformed

PROTO_HOPOPTS = 0
PROTO_IPIP = 4
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_IPV6 = 41
PROTO_ROUTING = 43
PROTO_FRAGMENT = 44
PROTO_GRE = 47
PROTO_ESP = 50
PROTO_AH = 51
PROTO_NONE = 59
PROTO_DSTOPTS = 60

# Extension headers sized in 8-octet units beyond the first 8 (RFC 8200 section 4).
_EXT_8 = frozenset({PROTO_HOPOPTS, PROTO_ROUTING, PROTO_DSTOPTS})
# A packet cannot hold more extension headers than this without being an attack; the
# bound keeps the walk's cost fixed whatever the input.
MAX_EXTENSION_HEADERS = 16

IPV4_FLAG_MF = 0x2000
IPV4_FRAG_MASK = 0x3FFF  # MF flag and the 13-bit offset: non-zero means "a fragment"

_IPV4 = struct.Struct("!BxHHHxB2x4s4s").unpack_from
_IPV6 = struct.Struct("!B3xHBx16s16s").unpack_from
_IPV6_FRAG = struct.Struct("!BxHI").unpack_from

IPv4Header = tuple[int, int, bool, int, int, int, bytes, bytes]
IPv6Header = tuple[int, int, bool, int, bytes, bytes]
Ipv6Fragment = tuple[int, bool, int, int]


def ipv4_header(data: bytes, off: int, end: int, cut: bool) -> IPv4Header:
    """Decode an IPv4 header at `off`; `cut` says the frame was shortened by snaplen.

    Returns ``(payload_off, packet_end, cut, ident, frag_field, proto, src, dst)``, where
    `packet_end` drops Ethernet trailer padding and `cut` is True when the total length
    runs past the captured bytes of a snaplen-cut frame.
    """
    if end - off < 20:
        raise Malformed("ipv4: truncated header")
    vihl, total, ident, frag, proto, src, dst = _IPV4(data, off)
    if vihl >> 4 != 4:
        raise Malformed("ipv4: bad version")
    hl = (vihl & 0x0F) * 4
    if hl < 20:
        raise Malformed("ipv4: bad header length")
    if off + hl > end:
        raise Malformed("ipv4: truncated header")
    if total == 0:
        # Segmentation offload: the kernel hands tcpdump a super-packet before the NIC
        # fills in the length. Wireshark makes the same assumption.
        packet_end = end
        cut = False
    elif total < hl:
        raise Malformed("ipv4: bad total length")
    elif off + total <= end:
        packet_end = off + total
        cut = False
    elif cut:
        packet_end = end
    else:
        raise Malformed("ipv4: total length exceeds packet")
    return off + hl, packet_end, cut, ident, frag, proto, src, dst


def ipv6_header(data: bytes, off: int, end: int, cut: bool) -> IPv6Header:
    """Decode the fixed IPv6 header at `off`.

    Returns ``(payload_off, packet_end, cut, next_header, src, dst)``, with the same
    meaning of `packet_end` and `cut` as `ipv4_header`.
    """
    if end - off < 40:
        raise Malformed("ipv6: truncated header")
    vtc, plen, nh, src, dst = _IPV6(data, off)
    if vtc >> 4 != 6:
        raise Malformed("ipv6: bad version")
    start = off + 40
    if plen == 0:
        packet_end = end  # jumbogram or offload: trust the capture
        cut = False
    elif start + plen <= end:
        packet_end = start + plen
        cut = False
    elif cut:
        packet_end = end
    else:
        raise Malformed("ipv6: payload length exceeds packet")
    return start, packet_end, cut, nh, src, dst


def ipv6_extensions(
    data: bytes, off: int, end: int, nh: int
) -> tuple[int, int, Ipv6Fragment | None]:
    """Walk extension headers from `off` (whose type is `nh`) to the upper layer.

    Returns ``(next_header, offset, fragment)``. The walk stops at a fragment header that
    really fragments, returning ``fragment = (offset, more, ident, next_header)`` and the
    offset of the fragmentable part; an atomic fragment (offset 0, no M flag) is stepped over.
    ESP, "no next header" and unknown values end the walk: the caller treats them as other.
    """
    for _ in range(MAX_EXTENSION_HEADERS):
        if nh in _EXT_8 or nh == PROTO_AH:
            if end - off < 8:
                raise Malformed("ipv6: truncated extension header")
            size = (data[off + 1] + 1) * 8 if nh != PROTO_AH else (data[off + 1] + 2) * 4
            if off + size > end:
                raise Malformed("ipv6: truncated extension header")
            nh = data[off]
            off += size
        elif nh == PROTO_FRAGMENT:
            if end - off < 8:
                raise Malformed("ipv6: truncated extension header")
            inner, field, ident = _IPV6_FRAG(data, off)
            off += 8
            frag_off = field & 0xFFF8
            more = bool(field & 0x0001)
            if frag_off or more:
                return PROTO_FRAGMENT, off, (frag_off, more, ident, inner)
            nh = inner  # atomic fragment (RFC 6946): a whole packet
        else:
            return nh, off, None
    raise Malformed("ipv6: too many extension headers")
