"""Link-layer headers: from a captured frame to an ethertype and the offset of its payload.

Every link type is reduced to the same answer, ``(ethertype, offset)``, so the network layer
has one entry point whatever the capture was: raw-IP and loopback captures get the ethertype
their IP version or address family implies, PPP protocol numbers are mapped to ethertypes.
An ethertype that is not IPv4 or IPv6 (ARP, LLDP, ...) is returned as-is for the caller to
count as "other"; 0 means "no network-layer payload we understand".

Decoding errors raise `Malformed` with a short reason; the decoder counts the reason. An
exception (rather than a return code) is used because malformed frames are rare: the common
path pays nothing for it, and the code stays readable.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_TEB = 0x6558  # transparent ethernet bridging: an Ethernet frame follows
ETH_PPP = 0x880B
ETH_PPPOE_SESSION = 0x8864
ETH_MPLS = frozenset({0x8847, 0x8848})
# 802.1Q, 802.1ad (QinQ) and the pre-standard QinQ tags, possibly stacked.
ETH_VLAN = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})

# Address families that mean IPv6 in DLT_NULL / DLT_LOOP headers, which use the capturing
# OS's own AF_INET6 value (NetBSD/OpenBSD 24, FreeBSD 28, macOS 30). AF_INET is 2 everywhere.
AF_INET = 2
AF_INET6_VALUES = frozenset({24, 28, 30})

PPP_IPV4 = 0x0021
PPP_IPV6 = 0x0057

_U16 = struct.Struct("!H").unpack_from
_U32_LE = struct.Struct("<I").unpack_from
_U32_BE = struct.Struct("!I").unpack_from


class Malformed(Exception):
    """A frame or packet that cannot be decoded; `reason` is the counter key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def ethertype_payload(ethertype: int, data: bytes, off: int, end: int) -> tuple[int, int]:
    """Skip the headers that sit between an ethertype and the network layer.

    VLAN tags (stacked), 802.2 LLC/SNAP (an ethertype below 0x600 is an 802.3 length),
    PPPoE session and MPLS labels. Returns the final ethertype and its payload offset.
    """
    while True:
        if ethertype in (ETH_IPV4, ETH_IPV6):
            return ethertype, off
        if ethertype in ETH_VLAN:
            if end - off < 4:
                raise Malformed("vlan: truncated")
            ethertype = _U16(data, off + 2)[0]
            off += 4
        elif ethertype < 0x0600:
            # 802.3 length field (or SLL's 802.2 pseudo-protocol): only SNAP carries IP.
            if end - off < 8:
                return 0, off
            if data[off : off + 3] != b"\xaa\xaa\x03":
                return 0, off
            ethertype = _U16(data, off + 6)[0]
            off += 8
            if ethertype < 0x0600:
                return 0, off
        elif ethertype == ETH_PPPOE_SESSION:
            if end - off < 8:
                raise Malformed("pppoe: truncated")
            return ppp_payload(data, off + 6, end)
        elif ethertype in ETH_MPLS:
            return _mpls_payload(data, off, end)
        else:
            return ethertype, off


def _mpls_payload(data: bytes, off: int, end: int) -> tuple[int, int]:
    """Skip an MPLS label stack; guess IPv4/IPv6 from the first nibble, as Wireshark does."""
    while True:
        if end - off < 4:
            raise Malformed("mpls: truncated")
        bottom = data[off + 2] & 0x01
        off += 4
        if bottom:
            break
    if off >= end:
        return 0, off
    version = data[off] >> 4
    if version == 4:
        return ETH_IPV4, off
    if version == 6:
        return ETH_IPV6, off
    return 0, off  # pseudowire or control word: not decoded


def ethernet(data: bytes, off: int, end: int) -> tuple[int, int]:
    """An Ethernet II / 802.3 header at `off` (also used for frames inside tunnels)."""
    if end - off < 14:
        raise Malformed("ethernet: truncated")
    return ethertype_payload(_U16(data, off + 12)[0], data, off + 14, end)


def ppp_payload(data: bytes, off: int, end: int) -> tuple[int, int]:
    """A PPP header: optional FF 03 address/control, 1- or 2-byte protocol field.

    Protocol-field compression sends 1 byte when the value is odd (RFC 1661 section 6.5);
    the first byte of an uncompressed protocol is always even, which is how they differ.
    """
    if end - off >= 2 and data[off] == 0xFF and data[off + 1] == 0x03:
        off += 2
    if end - off < 1:
        raise Malformed("ppp: truncated")
    if data[off] & 0x01:
        proto = data[off]
        off += 1
    else:
        if end - off < 2:
            raise Malformed("ppp: truncated")
        proto = _U16(data, off)[0]
        off += 2
    if proto == PPP_IPV4:
        return ETH_IPV4, off
    if proto == PPP_IPV6:
        return ETH_IPV6, off
    return 0, off  # LCP, CCP, ...: control traffic


def _ip_version(data: bytes, off: int, name: str) -> tuple[int, int]:
    if len(data) <= off:
        raise Malformed(f"{name}: truncated")
    version = data[off] >> 4
    if version == 4:
        return ETH_IPV4, off
    if version == 6:
        return ETH_IPV6, off
    raise Malformed(f"{name}: bad ip version")


def _en10mb(data: bytes) -> tuple[int, int]:
    return ethernet(data, 0, len(data))


def _raw(data: bytes) -> tuple[int, int]:
    return _ip_version(data, 0, "raw")


def _ipv4(data: bytes) -> tuple[int, int]:
    return ETH_IPV4, 0


def _ipv6(data: bytes) -> tuple[int, int]:
    return ETH_IPV6, 0


def _family(af: int) -> int:
    if af == AF_INET:
        return ETH_IPV4
    if af in AF_INET6_VALUES:
        return ETH_IPV6
    return 0


def _null(data: bytes) -> tuple[int, int]:
    # DLT_NULL writes the family in the capturing host's byte order, which the file does
    # not record: try little-endian (almost every capture) and fall back to big-endian.
    if len(data) < 4:
        raise Malformed("null: truncated")
    ethertype = _family(_U32_LE(data, 0)[0]) or _family(_U32_BE(data, 0)[0])
    return ethertype, 4


def _loop(data: bytes) -> tuple[int, int]:
    if len(data) < 4:
        raise Malformed("loop: truncated")
    return _family(_U32_BE(data, 0)[0]), 4


def _linux_sll(data: bytes) -> tuple[int, int]:
    if len(data) < 16:
        raise Malformed("sll: truncated")
    return ethertype_payload(_U16(data, 14)[0], data, 16, len(data))


def _linux_sll2(data: bytes) -> tuple[int, int]:
    if len(data) < 20:
        raise Malformed("sll2: truncated")
    return ethertype_payload(_U16(data, 0)[0], data, 20, len(data))


def _fddi(data: bytes) -> tuple[int, int]:
    # 13-byte FDDI header (frame control, two MACs), then 802.2 LLC/SNAP.
    if len(data) < 13:
        raise Malformed("fddi: truncated")
    return ethertype_payload(0, data, 13, len(data))


def _ppp(data: bytes) -> tuple[int, int]:
    return ppp_payload(data, 0, len(data))


def _c_hdlc(data: bytes) -> tuple[int, int]:
    if len(data) < 4:
        raise Malformed("chdlc: truncated")
    return ethertype_payload(_U16(data, 2)[0], data, 4, len(data))


LINKTYPE_HANDLERS: dict[int, Callable[[bytes], tuple[int, int]]] = {
    0: _null,
    1: _en10mb,
    9: _ppp,
    10: _fddi,
    12: _raw,
    14: _raw,
    50: _ppp,  # PPP_HDLC
    101: _raw,
    104: _c_hdlc,
    108: _loop,
    113: _linux_sll,
    228: _ipv4,
    229: _ipv6,
    276: _linux_sll2,
}

SUPPORTED_LINKTYPES: frozenset[int] = frozenset(LINKTYPE_HANDLERS)


def link_payload(linktype: int, data: bytes) -> tuple[int, int]:
    """The ethertype carried by a frame of `linktype` and the offset where it starts."""
    handler = LINKTYPE_HANDLERS.get(linktype)
    if handler is None:
        raise Malformed("link: unsupported linktype")
    return handler(data)
