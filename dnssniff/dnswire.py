"""DNS wire format -> `DnsMessage`: a hand-written fast path, dnspython for the rest.

Why not just dnspython: `dns.message.from_wire` builds every rrset, name and rdata object.
Measured with timeit on the 2-vCPU CI machine (CPython 3.11, dnspython 2.9, best of 5, the
machine shared with other jobs): 22-40 us for a one-question query and about 80 us for a
response with two A records. That is minutes for a capture of a million packets. Pairing
needs only the header and the first question, so `parse_message` reads those by hand with
`struct` and a label loop: 1.1-1.5 us per message (query or response for
google.com.default.svc.cluster.local. A) when the name has been seen before, 3.5-8 us when
every name is new (the walk costs about 0.2 us a label). A bounded LRU memo table makes the
common case cheap (see `_question_name`): Kubernetes traffic repeats the same few hundred
names.

Full records are decoded lazily, only when a report asks: `answers_of` (about 3 us for two
A records) and `response_details` (about 4-5 us) walk the sections by hand, print A, AAAA,
CNAME, PTR, NS, DNAME and MX themselves and hand every other rdata to
`dns.rdata.from_wire(...).to_text()`.

Compression pointers follow dnspython's rule (`dns.name.from_wire_parser`): every pointer
points strictly before the start of the part of the name read so far, and the part it points
to must end before that start; at most 16 hops. That makes loops impossible, bounds the work
per name, and means a question name dnssniff accepts is one dnspython accepts too.
"""

from __future__ import annotations

import functools
import socket
import struct
from dataclasses import dataclass

import dns.rdata

from dnssniff.model import Datagram, DnsMessage, Flow
from dnssniff.names import labels_text

__all__ = [
    "Malformed",
    "ResponseDetails",
    "answers_of",
    "parse_message",
    "read_name",
    "response_details",
]

_HEADER = struct.Struct("!6H")
_U16 = struct.Struct("!H")
_QTAIL = struct.Struct("!HH")
_RR = struct.Struct("!HHIH")
_U32 = struct.Struct("!I")

_MAX_NAME = 255
_MAX_POINTER_HOPS = 16  # dnspython's MAX_COMPRESSION_POINTER_CHAIN

_A, _NS, _CNAME, _SOA, _PTR, _MX, _AAAA, _DNAME, _OPT = 1, 2, 5, 6, 12, 15, 28, 39, 41
_NAME_RDATA = frozenset((_NS, _CNAME, _PTR, _DNAME))

# Bound of the per-process memo table of question names (see _question_name).
NAME_CACHE_SIZE = 8192


class Malformed(Exception):
    """A DNS message that cannot be used at all; `reason` is the short counter key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_name(
    data: bytes, pos: int, truncated: str = "dns: name truncated"
) -> tuple[list[bytes], int]:
    """Read a possibly compressed name at `pos`; return its labels and the offset after it.

    The labels exclude the root label. Raises `Malformed` with `truncated` as the reason when
    the message ends inside the name, and with the pointer and length reasons otherwise.
    """
    labels: list[bytes] = []
    end = len(data)  # reads must stay below this (the previous segment's start after a jump)
    limit = pos  # a pointer must point below this: the start of the current segment
    after = -1
    wirelen = 1
    hops = 0
    while True:
        if pos >= end:
            raise Malformed(truncated if end == len(data) else "dns: compression pointer loop")
        n = data[pos]
        if n == 0:
            break
        if n < 64:
            nxt = pos + 1 + n
            if nxt > end:
                if end == len(data):
                    raise Malformed(truncated)
                raise Malformed("dns: compression pointer loop")
            wirelen += n + 1
            if wirelen > _MAX_NAME:
                raise Malformed("dns: name longer than 255")
            labels.append(data[pos + 1 : nxt])
            pos = nxt
        elif n >= 0xC0:
            if pos + 2 > end:
                raise Malformed(truncated if end == len(data) else "dns: compression pointer loop")
            target = ((n & 0x3F) << 8) | data[pos + 1]
            if after < 0:
                after = pos + 2
            if target > pos:
                raise Malformed("dns: forward compression pointer")
            if target >= limit:
                raise Malformed("dns: compression pointer loop")
            hops += 1
            if hops > _MAX_POINTER_HOPS:
                raise Malformed("dns: compression pointer chain too long")
            end = limit
            limit = target
            pos = target
        else:
            # 0x40-0xbf: a length over 63, or the obsolete extended label types.
            raise Malformed("dns: label too long")
    return labels, (after if after >= 0 else pos + 1)


@functools.lru_cache(maxsize=NAME_CACHE_SIZE)
def _question_name(wire: bytes) -> tuple[str, str] | None:
    """Text and key of an uncompressed name whose wire form, root byte included, is `wire`.

    `wire` runs from the name's start to the first zero byte after it, so for a plain
    uncompressed name it is exactly the name. Anything else (a pointer, a zero byte inside a
    label, an overlong name) returns None and `parse_message` takes the general path, which
    also produces the right Malformed reason. The result depends on `wire` alone, so it is
    memoised: a capture repeats the same few hundred names, and a hit costs a slice, a hash
    and a dict probe instead of the label loop. The LRU bound keeps memory fixed.
    """
    last = len(wire) - 1
    if last >= _MAX_NAME:
        return None
    labels = []
    pos = 0
    n = wire[0]
    while n:
        if n > 63:
            return None
        nxt = pos + 1 + n
        if nxt > last:
            return None
        labels.append(wire[pos + 1 : nxt])
        pos = nxt
        n = wire[pos]
    text = labels_text(labels)
    return text, text.lower()


def parse_message(dg: Datagram) -> DnsMessage:
    """Decode the header and the first question of `dg.payload`.

    The flow is oriented client -> server: a query (QR=0) is sent by the client, a response
    by the server. Raises `Malformed` only for a message that cannot be paired at all.
    """
    data = dg.payload
    if type(data) is not bytes:
        data = bytes(data)
    size = len(data)
    if size < 12:
        raise Malformed("dns: shorter than header")
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if qdcount:
        zero = data.find(0, 12)
        names = _question_name(data[12 : zero + 1]) if zero > 0 else None
        if names is None:
            labels, after = read_name(data, 12, "dns: question name truncated")
            qname = labels_text(labels)
            qname_key = qname.lower()
        else:
            qname, qname_key = names
            after = zero + 1
        if after + 4 > size:
            raise Malformed("dns: question truncated")
        qtype, qclass = _QTAIL.unpack_from(data, after)
    else:
        qname = qname_key = ""
        qtype = qclass = 0
    qr = flags >= 0x8000
    if qr:
        flow = Flow(dg.transport, dg.dst, dg.dport, dg.src, dg.sport)
    else:
        flow = Flow(dg.transport, dg.src, dg.sport, dg.dst, dg.dport)
    # Positional: keyword arguments cost 0.5 us more per message on this 17-field class.
    # tests/test_dnswire.py pins the field order so a change to model.py fails loudly.
    return DnsMessage(
        dg.ts,
        flow,
        ident,
        qr,
        (flags >> 11) & 0xF,
        flags & 0xF,
        flags,
        qname,
        qname_key,
        qtype,
        qclass,
        qdcount,
        ancount,
        nscount,
        arcount,
        size,
        data,
    )


def cache_info() -> dict[str, tuple[int, int, int, int]]:
    """(hits, misses, maxsize, currsize) of the name memo table, for diagnostics.

    Evictions are misses - currsize once the table is full. (Flows are not memoised: glibc
    opens a socket per search step, so a quarter of the messages of a pod capture start a
    new flow, and a cache miss cost more than the non-frozen `Flow` it would save.)
    """
    return {"names": tuple(_question_name.cache_info())}


# --- records, decoded on demand -----------------------------------------------------------


@dataclass(slots=True)
class ResponseDetails:
    """What a report may want from a response beyond the header and question.

    `answers`, `ttls` and `answer_types` are parallel, one entry per decoded ANSWER record.
    `authority_soa` says the AUTHORITY section holds an SOA (a negative answer from an
    authoritative source); `soa_minimum` is its MINIMUM field, which with the SOA's TTL bounds
    negative caching (RFC 2308). `edns` is the OPT record's UDP payload size (None without
    EDNS); `extended_rcode` joins the header rcode and the OPT upper bits (16 = BADVERS).
    `errors` names where decoding stopped, e.g. "dns: answer section truncated".
    """

    answers: tuple[str, ...]
    ttls: tuple[int, ...]
    answer_types: tuple[int, ...]
    authority_soa: bool
    soa_minimum: int | None
    soa_ttl: int | None
    edns: int | None
    edns_version: int | None
    edns_do: bool
    extended_rcode: int
    tc: bool
    aa: bool
    rd: bool
    ra: bool
    ad: bool
    cd: bool
    errors: tuple[str, ...]


def _skip_name(data: bytes, pos: int) -> int:
    """Offset after the name at `pos`, without following pointers (owner names are unused)."""
    n = data[pos]
    while n:
        if n >= 0xC0:
            if pos + 2 > len(data):
                raise IndexError
            return pos + 2
        if n > 63:
            raise Malformed("dns: label too long")
        pos += n + 1
        n = data[pos]
    return pos + 1


def _skip_questions(data: bytes, qdcount: int) -> int:
    """Offset of the answer section. Raises Malformed/IndexError when the questions are cut."""
    pos = 12
    for _ in range(qdcount):
        pos = _skip_name(data, pos) + 4
        if pos > len(data):
            raise IndexError
    return pos


def _records(
    data: bytes, pos: int, count: int, section: str, errors: list[str]
) -> tuple[list[tuple[int, int, int, int, int]], int]:
    """Walk `count` records from `pos`; return (type, class, ttl, rdata start, rdata end) and
    the offset after the last whole record. A cut or bad record ends the walk and adds a
    reason to `errors`."""
    out = []
    size = len(data)
    for _ in range(count):
        try:
            head = _skip_name(data, pos)
        except (IndexError, Malformed):
            errors.append(f"dns: {section} section truncated")
            break
        if head + 10 > size:
            errors.append(f"dns: {section} section truncated")
            break
        rtype, rclass, ttl, rdlen = _RR.unpack_from(data, head)
        start = head + 10
        pos = start + rdlen
        if pos > size:
            errors.append(f"dns: {section} section truncated")
            break
        out.append((rtype, rclass, ttl, start, pos))
    return out, pos


def _rdata_name(data: bytes, start: int, end: int) -> str | None:
    """The text of a name that must fill the rdata [start, end) exactly, or None."""
    try:
        labels, after = read_name(data, start)
    except Malformed:
        return None
    return labels_text(labels) if after == end else None


def rdata_text(data: bytes, rtype: int, rclass: int, start: int, end: int) -> str:
    """Presentation text of the rdata at data[start:end], as dnspython would print it.

    A, AAAA and the name types are done here; other types, and anything that does not
    decode cleanly, go to dnspython, and what dnspython rejects is printed in the RFC 3597
    generic form (``\\# 3 010203``), so a record is never silently dropped.
    """
    length = end - start
    if rtype == _A and length == 4:
        return socket.inet_ntop(socket.AF_INET, data[start:end])
    if rtype == _AAAA and length == 16:
        return socket.inet_ntop(socket.AF_INET6, data[start:end])
    if rtype in _NAME_RDATA:
        text = _rdata_name(data, start, end)
        if text is not None:
            return text
    elif rtype == _MX and length >= 3:
        text = _rdata_name(data, start + 2, end)
        if text is not None:
            return f"{_U16.unpack_from(data, start)[0]} {text}"
    try:
        return dns.rdata.from_wire(rclass, rtype, data, start, length).to_text()
    except Exception:
        # dnspython raises many exception types for bad rdata; none may escape a report.
        return dns.rdata.GenericRdata(rclass, rtype, data[start:end]).to_text().rstrip()


def _answers(data: bytes, qdcount: int, ancount: int, errors: list[str]):
    """Answer records and the offset after them; (`[]`, -1) when the questions are cut."""
    try:
        pos = _skip_questions(data, qdcount)
    except (IndexError, Malformed):
        errors.append("dns: question section truncated")
        return [], -1
    records, pos = _records(data, pos, ancount, "answer", errors)
    if errors:
        pos = -1
    # Class ANY or NONE with no rdata is an UPDATE prerequisite or deletion (RFC 2136): it
    # names an rrset, it carries no answer. dnspython leaves such rrsets empty too.
    return [r for r in records if r[3] != r[4] or r[1] < 254], pos


def answers_of(msg: DnsMessage) -> tuple[str, ...]:
    """Text of each ANSWER record's rdata, in order (Zeek's `answers`). Never raises.

    A malformed section yields the records decoded before the damage.
    """
    data = msg.payload
    records, _ = _answers(data, msg.qdcount, msg.ancount, [])
    return tuple([rdata_text(data, t, c, s, e) for t, c, _ttl, s, e in records])


def cname_target(msg: DnsMessage) -> str | None:
    """The name the ANSWER section's CNAME records lead to (the last target, as
    presentation text with the trailing dot), or None without a CNAME. Never raises."""
    data = msg.payload
    records, _ = _answers(data, msg.qdcount, msg.ancount, [])
    target = None
    for rtype, rclass, _ttl, start, end in records:
        if rtype == 5:
            target = rdata_text(data, rtype, rclass, start, end)
    return target


def response_details(msg: DnsMessage) -> ResponseDetails:
    """Decode the answer, authority and additional sections of `msg`. Never raises.

    Called only by reports that show answers, TTLs, negative-caching or EDNS data; the
    pairing path never pays for it.
    """
    data = msg.payload
    flags = msg.flags
    errors: list[str] = []
    answers, pos = _answers(data, msg.qdcount, msg.ancount, errors)
    authority_soa = False
    soa_minimum = soa_ttl = edns = edns_version = None
    edns_do = False
    extended_rcode = flags & 0xF
    if pos >= 0:
        authority, pos = _records(data, pos, msg.nscount, "authority", errors)
        for rtype, _rclass, ttl, start, end in authority:
            if rtype == _SOA and not authority_soa:
                authority_soa = True
                soa_ttl = ttl
                if end - start >= 22:
                    soa_minimum = _U32.unpack_from(data, end - 4)[0]
        if not errors:
            additional, _ = _records(data, pos, msg.arcount, "additional", errors)
            for rtype, rclass, ttl, _start, _end in additional:
                if rtype == _OPT:
                    edns = rclass
                    edns_version = (ttl >> 16) & 0xFF
                    edns_do = bool(ttl & 0x8000)
                    extended_rcode |= (ttl >> 24) << 4
                    break
    # Positional: keyword arguments cost about 1 us more on this 17-field class.
    return ResponseDetails(
        tuple([rdata_text(data, t, c, s, e) for t, c, _ttl, s, e in answers]),
        tuple([r[2] for r in answers]),
        tuple([r[0] for r in answers]),
        authority_soa,
        soa_minimum,
        soa_ttl,
        edns,
        edns_version,
        edns_do,
        extended_rcode,
        bool(flags & 0x0200),  # tc
        bool(flags & 0x0400),  # aa
        bool(flags & 0x0100),  # rd
        bool(flags & 0x0080),  # ra
        bool(flags & 0x0020),  # ad
        bool(flags & 0x0010),  # cd
        tuple(errors),
    )
