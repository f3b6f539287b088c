"""Tunnel headers: VXLAN, Geneve, GRE (incl. PPTP's enhanced GRE) and GRE-in-UDP.

Kubernetes networks (flannel, Calico, Cilium, AWS/Azure CNIs) carry pod traffic in these
overlays; a capture on the node's uplink sees the pods' DNS only inside them. Each function
takes the tunnel header's offset and returns ``(ethertype, offset)`` of the inner packet,
like `dnssniff.linklayer`, so the decoder can feed it back into the network layer.
"""

from __future__ import annotations

import struct

from dnssniff.linklayer import ETH_PPP, ETH_TEB, Malformed, ethernet, ppp_payload

VXLAN_PORTS = frozenset({4789, 8472})  # IANA, and the Linux kernel's (flannel's) default
GENEVE_PORT = 6081
GRE_IN_UDP_PORT = 4754
UDP_OVERLAY_PORTS = VXLAN_PORTS | {GENEVE_PORT, GRE_IN_UDP_PORT}

VXLAN_FLAG_I = 0x08  # "VNI present": the one flag every VXLAN sender sets

GRE_C = 0x8000  # checksum present
GRE_R = 0x4000  # routing present (RFC 1701, obsolete)
GRE_K = 0x2000  # key present
GRE_S = 0x1000  # sequence number present
GRE_A = 0x0080  # acknowledgement present (enhanced GRE, RFC 2637)

_HH = struct.Struct("!HH").unpack_from


def vxlan(data: bytes, off: int, end: int) -> tuple[int, int]:
    """An 8-byte VXLAN header followed by an Ethernet frame (RFC 7348)."""
    if end - off < 8:
        raise Malformed("vxlan: truncated")
    if not data[off] & VXLAN_FLAG_I:
        raise Malformed("vxlan: bad flags")
    return ethernet(data, off + 8, end)


def geneve(data: bytes, off: int, end: int) -> tuple[int, int]:
    """A Geneve header (RFC 8926) with its options skipped; protocol type is an ethertype."""
    if end - off < 8:
        raise Malformed("geneve: truncated")
    first = data[off]
    if first >> 6:
        raise Malformed("geneve: bad version")
    size = 8 + (first & 0x3F) * 4
    if off + size > end:
        raise Malformed("geneve: truncated")
    proto = _HH(data, off)[1]
    if proto == ETH_TEB:
        return ethernet(data, off + size, end)
    return proto, off + size


def gre(data: bytes, off: int, end: int) -> tuple[int, int]:
    """A GRE header (RFC 2784/2890), or PPTP's enhanced GRE version 1 carrying PPP.

    An enhanced-GRE packet with no payload (a bare acknowledgement, frequent in PPTP)
    returns ethertype 0: nothing to decode, not an error.
    """
    if end - off < 4:
        raise Malformed("gre: truncated")
    flags, proto = _HH(data, off)
    version = flags & 0x0007
    size = 4
    if version == 0:
        if flags & GRE_R:
            raise Malformed("gre: routing not supported")
        if flags & (GRE_C | GRE_R):
            size += 4
        if flags & GRE_K:
            size += 4
        if flags & GRE_S:
            size += 4
    elif version == 1:
        if not flags & GRE_K or proto != ETH_PPP:
            raise Malformed("gre: bad enhanced header")
        size += 4
        if flags & GRE_S:
            size += 4
        if flags & GRE_A:
            size += 4
        if end - off >= 8:
            # The key's high half is the payload length: trust it to trim padding.
            payload_len = _HH(data, off + 4)[0]
            end = min(end, off + size + payload_len)
    else:
        raise Malformed("gre: unsupported version")
    if off + size > end:
        raise Malformed("gre: truncated")
    off += size
    if proto == ETH_PPP:
        if off >= end:
            return 0, off
        return ppp_payload(data, off, end)
    if proto == ETH_TEB:
        return ethernet(data, off, end)
    return proto, off
