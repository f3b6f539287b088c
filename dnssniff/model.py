"""The data that flows through the pipeline, stage to stage.

Per-packet types (`Frame`, `Datagram`, `TcpSegment`, `DnsMessage`) are slotted dataclasses
that are *not* frozen: a frozen dataclass assigns every field through
`object.__setattr__`, which costs about 4x more per instance (0.57 us against 0.15 us for
four fields, measured with timeit on this project's CI machine). At a million packets that
is seconds. They are still treated as immutable: no stage mutates an item it received.
`Transaction` is made for every second packet, so it follows the same rule (2.1 us to
build frozen, 0.5 us not). The one exception: the correlator makes a query's `Transaction`
when the query is seen and completes it in place (response, status, rtt) when the answer
comes or the time runs out; every consumer but its `on_query` hook gets it completed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Transport:
    """The transport a DNS message travelled on: the plain strings "udp" and "tcp".

    Not an Enum: Enum members hash through a Python-level `__hash__`, and the transport is
    part of every pairing key, so an Enum cost ~0.5 us per dict operation per packet.
    """

    UDP = "udp"
    TCP = "tcp"


@dataclass(slots=True)
class Frame:
    """One captured packet, as a capture source yields it.

    `ts` is the capture timestamp in epoch seconds; `caplen` is `len(data)`, `wirelen` the
    length the packet had on the wire (larger when tcpdump's snaplen cut it).
    """

    ts: float
    linktype: int
    data: bytes
    wirelen: int
    interface: int = 0


@dataclass(slots=True)
class Datagram:
    """A DNS payload with its endpoints, after link, IP, overlay and transport decoding.

    For UDP, `payload` is the UDP payload. For TCP it is one DNS message with the 2-byte
    length prefix already removed (produced by the TCP reassembler).
    """

    ts: float
    transport: str
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes


@dataclass(slots=True)
class TcpSegment:
    """A TCP segment on a watched port, before stream reassembly.

    `flags` holds the TCP flag bits (0x01 FIN, 0x02 SYN, 0x04 RST, 0x10 ACK).
    """

    ts: float
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    flags: int
    payload: bytes


@dataclass(slots=True, unsafe_hash=True)
class Flow:
    """The endpoints of one message, oriented client -> server.

    Made for most messages (glibc opens a new socket per search step), so not frozen for
    the same reason as the per-packet types; hashable for callers that group by flow.
    """

    transport: str
    client: str
    client_port: int
    server: str
    server_port: int


@dataclass(slots=True)
class DnsMessage:
    """One decoded DNS message: header and first question from the fast path.

    `qname` is the presentation form with the trailing dot and every unprintable byte
    escaped as ``\\DDD`` (safe for terminals, CSV and HTML after their own quoting);
    `qname_key` is its lower-cased form, used for pairing because resolvers and servers
    may change the case (0x20 randomisation). `answers` is filled lazily by
    `dnssniff.dnswire.answers_of` because most reports never look at them.
    `payload` is kept so that answers can be decoded on demand.
    """

    ts: float
    flow: Flow
    id: int
    qr: bool
    opcode: int
    rcode: int
    flags: int
    qname: str
    qname_key: str
    qtype: int
    qclass: int
    qdcount: int
    ancount: int
    nscount: int
    arcount: int
    size: int
    payload: bytes


class Status(StrEnum):
    """How a transaction ended."""

    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    UNSOLICITED = "unsolicited"
    # Its query was seen, its response not yet: only a correlator's `on_query` hook sees a
    # transaction in this state (the correlator completes it in place later).
    PENDING = "pending"


@dataclass(slots=True)
class Transaction:
    """One question and its answer (or the lack of one), as Zeek's dns.log records it.

    `query` is the first transmission of the question (None for an unsolicited response),
    `response` the reply that was paired (None when unanswered). `rtt` is measured from the
    first transmission, so a retransmitted query shows the delay the client really saw.
    `retransmits` counts the extra transmissions of the same query (same flow, id and
    question). `ts` is the first message's time. `status` is `PENDING` only for the
    correlator's `on_query` hook, before the transaction is completed (see above).
    """

    ts: float
    flow: Flow
    id: int
    qname: str
    qtype: int
    qclass: int
    status: Status
    query: DnsMessage | None
    response: DnsMessage | None
    rtt: float | None
    retransmits: int = 0
    extra_responses: int = 0
    # Times of every transmission of the query, first first (a list for answered ones: the
    # correlator hands over its own rather than copy it; treat it as read-only).
    query_times: Sequence[float] = field(default=())

    @property
    def rcode(self) -> int | None:
        """The response code, or None when no response was seen."""
        return None if self.response is None else self.response.rcode
