"""Write a synthetic but realistic capture of pod DNS traffic, with its ground truth.

The benchmark needs a large capture (a million packets) whose right answer is known, and no
real cluster can be recorded in CI. This generator models what the project saw from real
resolvers (see docs in shared/DESIGN.md): glibc walking the search list of a pod with
ndots:5 (A and AAAA back to back on one socket ~6 us apart with different ids, a new source
port per search step), CoreDNS answering NXDOMAIN with an SOA in authority, the retransmission
of a lost query with the same id and port 5 s later, queries never answered, and a TCP retry
after a truncated UDP answer.

It streams: lookups are planned in start order, their packets go into a heap ordered by
time, and every packet older than the next lookup's start is written out. Memory is bounded
by the packets in flight (about 5 s of traffic, because of retransmissions), not by the
capture size. Everything is packed by hand with `struct` (no scapy) because the generator
must write well over 200k packets/s to keep a 1M-packet benchmark cheap; DNS messages are
built once per (name, type) and only the id is patched per packet.

Simplification: glibc resends both queries of the pair after a loss; this generator resends
only the lost one, so that the ground truth (one transaction per question, its retransmits)
is unambiguous. Unanswered queries are resent once (attempts:2) and then the lookup stops.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import struct
import sys
import time
from array import array
from dataclasses import asdict, dataclass
from pathlib import Path

LINKTYPE_EN10MB = 1
LINKTYPE_SLL2 = 276
LINKTYPES = {"en10mb": LINKTYPE_EN10MB, "sll2": LINKTYPE_SLL2}

T_A = 1
T_AAAA = 28
T_CNAME = 5
T_SOA = 6
NOERROR = 0
NXDOMAIN = 3

# Times are integer microseconds: exact, and cheaper than floats for pcap's sec/usec split.
START_US = 1_700_000_000_000_000
RETRANSMIT_US = 5_000_000  # glibc's default `timeout:5`

CLUSTER_DOMAIN = "cluster.local"
HOST_SUFFIX = "us-central1-c.c.myproject.internal"
NAMESPACES = (
    ("default", 30),
    ("shop", 20),
    ("payments", 12),
    ("monitoring", 10),
    ("ingress", 8),
    ("batch", 8),
    ("auth", 7),
    ("data", 5),
)
# Services that exist in every namespace: a pod asks for them by their short name.
LOCAL_SERVICES = ("redis", "api", "frontend", "cache", "kafka", "orders", "users", "worker")
# Services in another namespace: `name.ns`, answered at the second search step.
REMOTE_SERVICES = (
    "postgres.db",
    "elasticsearch.logging",
    "prometheus.monitoring",
    "vault.auth",
    "rabbitmq.queue",
    "mongo.db",
)
# External names: (weight, A addresses, AAAA addresses, CNAME target or "").
EXTERNAL: dict[str, tuple[int, tuple[str, ...], tuple[str, ...], str]] = {
    "google.com": (30, ("142.250.72.14",), ("2607:f8b0:4007:80f::200e",), ""),
    "api.stripe.com": (12, ("54.187.174.169", "54.187.205.235", "54.187.216.72"), (), ""),
    "s3.amazonaws.com": (12, ("52.217.105.166", "52.216.58.96"), (), "s3-1-w.amazonaws.com"),
    "www.googleapis.com": (10, ("142.250.191.42",), ("2607:f8b0:4007:809::200a",), ""),
    "api.github.com": (8, ("140.82.113.6",), (), ""),
    "sqs.us-east-1.amazonaws.com": (6, ("3.236.169.66",), (), ""),
    "hooks.slack.com": (5, ("34.235.231.104", "52.4.216.85"), (), ""),
    "registry-1.docker.io": (5, ("54.227.20.253", "3.216.34.172"), (), ""),
    "oauth2.googleapis.com": (4, ("142.251.46.202",), ("2607:f8b0:4007:80e::200a",), ""),
    "sentry.io": (4, ("35.186.247.156",), (), ""),
    "api.segment.io": (3, ("52.34.68.98",), (), ""),
    "pypi.org": (3, ("151.101.0.223", "151.101.64.223"), ("2a04:4e42::223",), ""),
}
# Names asked with a trailing dot (as-is only) and for A alone, by `dig` (its query flags).
FQDNS = ("kubernetes.default.svc.cluster.local.", "metadata.google.internal.")
_DIG_OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)  # root, OPT, 1232 bytes, no options
# A headless service whose A set does not fit 512 bytes: UDP answer truncated, TCP retry
# (asked by dig too).
BIG_NAME = "cassandra.data.svc.cluster.local."
BIG_RECORDS = 48

# Share of lookups per kind (external names walk the whole search list: ~70% NXDOMAIN).
KIND_WEIGHTS = (("external", 55), ("local", 25), ("remote", 15), ("fqdn", 3), ("tcp", 2))
P_RETRANSMIT = 0.01  # a query's first transmission is lost, answered after the resend
P_UNANSWERED = 0.005  # a query and its resend are never answered; the lookup stops


@dataclass(slots=True)
class GenSummary:
    """The ground truth of a generated capture, for tests and the benchmark's --check.

    `queries` and `responses` count DNS messages (a retransmission is a query message);
    `transactions` counts distinct questions, each `answered` or `unanswered`, and
    `retransmits` the extra transmissions of those questions. `dns_messages` is what a
    dissector such as tshark reports as DNS packets.
    """

    path: str = ""
    linktype: int = LINKTYPE_EN10MB
    seed: int = 1
    packets: int = 0
    bytes: int = 0
    lookups: int = 0
    queries: int = 0
    responses: int = 0
    transactions: int = 0
    answered: int = 0
    unanswered: int = 0
    retransmits: int = 0
    nxdomain: int = 0
    truncated: int = 0
    udp_messages: int = 0
    tcp_messages: int = 0
    tcp_connections: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0

    @property
    def dns_messages(self) -> int:
        """DNS messages in the capture (queries, retransmits and responses)."""
        return self.queries + self.responses

    @property
    def duration(self) -> float:
        """Seconds from the first to the last packet."""
        return self.last_ts - self.first_ts

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict, with the derived figures."""
        data = asdict(self)
        data["dns_messages"] = self.dns_messages
        data["duration"] = round(self.duration, 6)
        return data


@dataclass(slots=True)
class _Tally:
    """Ground-truth counts of one planned lookup, committed only if its packets fit."""

    queries: int = 0
    responses: int = 0
    transactions: int = 0
    answered: int = 0
    unanswered: int = 0
    retransmits: int = 0
    nxdomain: int = 0
    truncated: int = 0
    tcp_messages: int = 0
    tcp_connections: int = 0


_TALLY_FIELDS = tuple(_Tally.__slots__)  # type: ignore[attr-defined]


@dataclass(slots=True)
class _Pod:
    ip: bytes
    mac: bytes
    search: tuple[str, ...]  # search suffixes, in order
    namespace: str
    link_out: bytes  # link header of a packet the pod sends
    link_in: bytes  # link header of a packet the pod receives


@dataclass(slots=True)
class _Answer:
    """A question's prepared wire forms; the id (first two bytes) is patched per packet."""

    query_tail: bytes  # the query without its id
    response_tail: bytes  # the response without its id
    rcode: int
    positive: bool  # the response has answer records
    truncated_tail: bytes = b""  # the TC=1 UDP form, for names too big for 512 bytes


_IP_UDP = struct.Struct("!BBHHHBBH4s4sHHHH")
_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_TCP_PSEUDO = struct.Struct("!4s4sBBH")
_REC = struct.Struct("<IIII")
_H = struct.Struct("!H")
_HDR = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_SOA_TAIL = struct.Struct("!IIIII")
_SLL2 = struct.Struct("!HHIHBB8s")
_TCP_SYN, _TCP_ACK, _TCP_PSH, _TCP_FIN = 0x02, 0x10, 0x08, 0x01


def _ip4(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def _ip6(text: str) -> bytes:
    head, _, tail = text.partition("::")
    h = [int(x, 16) for x in head.split(":") if x]
    t = [int(x, 16) for x in tail.split(":") if x]
    return struct.pack("!8H", *(h + [0] * (8 - len(h) - len(t)) + t))


def _put_name(buf: bytearray, name: str, table: dict[str, int]) -> None:
    """Append `name` with RFC 1035 compression against the suffixes already written."""
    labels = [label for label in name.split(".") if label]
    for i in range(len(labels)):
        suffix = ".".join(labels[i:]).lower()
        pointer = table.get(suffix)
        if pointer is not None:
            buf += _H.pack(0xC000 | pointer)
            return
        if len(buf) < 0x3FFF:
            table[suffix] = len(buf)
        label = labels[i].encode("ascii")
        buf.append(len(label))
        buf += label
    buf.append(0)


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`, as an integer in network order."""
    if len(data) & 1:
        data += b"\0"
    words = array("H", data)
    if sys.byteorder == "little":
        words.byteswap()
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class _Zone:
    """What CoreDNS (and its upstreams) answer for each name: the model of the cluster."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int], _Answer] = {}
        self._local = {(svc, ns) for svc in LOCAL_SERVICES for ns, _ in NAMESPACES}
        self._remote = {tuple(name.split(".")) for name in REMOTE_SERVICES}

    def answer(self, qname: str, qtype: int) -> _Answer:
        """The prepared query and response for a question (cached: names repeat a lot)."""
        key = (qname, qtype)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._build(qname, qtype)
        return found

    def _records(self, qname: str, qtype: int) -> tuple[int, list[tuple[int, int, bytes]], str]:
        """(rcode, [(type, ttl, rdata or name)], zone for the SOA) for a question."""
        name = qname.rstrip(".")
        cluster = "svc." + CLUSTER_DOMAIN
        if name.endswith("." + cluster):
            parts = tuple(name[: -len(cluster) - 1].split("."))
            exists = len(parts) == 2 and (
                parts in self._local or parts in self._remote or parts == ("kubernetes", "default")
            )
            if not exists and name != BIG_NAME.rstrip("."):
                return NXDOMAIN, [], CLUSTER_DOMAIN
            if qtype != T_A:
                return NOERROR, [], CLUSTER_DOMAIN
            if name == BIG_NAME.rstrip("."):
                return NOERROR, [(T_A, 5, bytes((10, 244, 7, i))) for i in range(BIG_RECORDS)], ""
            seed = sum(name.encode()) * 7919
            return NOERROR, [(T_A, 5, bytes((10, 96, seed % 250 + 1, seed // 250 % 250 + 1)))], ""
        if name.endswith(CLUSTER_DOMAIN):
            return NXDOMAIN, [], CLUSTER_DOMAIN
        if name.endswith(".internal"):
            if name == "metadata.google.internal" and qtype == T_A:
                return NOERROR, [(T_A, 300, _ip4("169.254.169.254"))], ""
            return NXDOMAIN, [], "c.myproject.internal"
        entry = EXTERNAL.get(name)
        if entry is None:
            return NXDOMAIN, [], ""
        _, v4, v6, cname = entry
        records: list[tuple[int, int, bytes]] = []
        if cname:
            records.append((T_CNAME, 3600, cname.encode()))
        if qtype == T_A:
            records += [(T_A, 60, _ip4(a)) for a in v4]
        elif qtype == T_AAAA:
            records += [(T_AAAA, 300, _ip6(a)) for a in v6]
        zone = ".".join(name.split(".")[-2:])
        if len(records) == (1 if cname else 0):
            return NOERROR, records, zone
        return NOERROR, records, ""

    def _build(self, qname: str, qtype: int) -> _Answer:
        question = bytearray(_HDR.pack(0, 0x0100, 1, 0, 0, 0))
        _put_name(question, qname, {})
        question += struct.pack("!HH", qtype, 1)
        query = bytes(question)
        if qname in FQDNS or qname == BIG_NAME:
            # asked the way dig asks: AD set and an EDNS OPT record (1232-byte buffer)
            query = _HDR.pack(0, 0x0120, 1, 0, 0, 1) + query[12:] + _DIG_OPT
        rcode, records, zone = self._records(qname, qtype)
        authoritative = qname.rstrip(".").endswith(CLUSTER_DOMAIN)
        flags = (0x8580 if authoritative else 0x8180) | rcode
        body = bytearray(_HDR.pack(0, flags, 1, 0, 0, 0))
        table: dict[str, int] = {}
        _put_name(body, qname, table)
        body += struct.pack("!HH", qtype, 1)
        owner = qname
        for rtype, ttl, rdata in records:
            _put_name(body, owner, table)
            if rtype == T_CNAME:
                target = rdata.decode()
                body += _RR.pack(rtype, 1, ttl, 0)
                start = len(body)
                _put_name(body, target, table)
                struct.pack_into("!H", body, start - 2, len(body) - start)
                owner = target
            else:
                body += _RR.pack(rtype, 1, ttl, len(rdata)) + rdata
        nscount = 0
        if zone and not [r for r in records if r[0] == qtype]:
            nscount = 1
            _put_name(body, zone, table)
            body += _RR.pack(T_SOA, 1, 5 if authoritative else 60, 0)
            start = len(body)
            _put_name(body, "ns.dns." + zone if authoritative else "ns1." + zone, table)
            _put_name(body, "hostmaster." + zone, table)
            body += _SOA_TAIL.pack(1700000000, 7200, 1800, 86400, 30)
            struct.pack_into("!H", body, start - 2, len(body) - start)
        struct.pack_into("!HH", body, 6, len(records), nscount)
        truncated = b""
        if len(body) > 512:
            tc = bytearray(_HDR.pack(0, flags | 0x0200, 1, 0, 0, 0))
            tc += question[12:]
            truncated = bytes(tc)
        return _Answer(query[2:], bytes(body[2:]), rcode, bool(records), truncated[2:])


class _Generator:
    """Plans lookups and turns them into frames; the state of one capture being written."""

    def __init__(self, seed: int, linktype: int, pods: int, servers: tuple[str, ...]) -> None:
        self.rng = random.Random(seed)
        self.linktype = linktype
        self.zone = _Zone()
        self.servers = [_ip4(s) for s in servers]
        self.ipid = 0
        self.pods = self._make_pods(pods)
        # Some pods are far chattier than others, as in real clusters.
        weights = [self.rng.paretovariate(1.2) for _ in self.pods]
        self.pod_cum = list(_cumulative(weights))
        self.ext_names = list(EXTERNAL)
        self.ext_cum = list(_cumulative([EXTERNAL[n][0] for n in self.ext_names]))
        self.kinds = [k for k, _ in KIND_WEIGHTS]
        self.kind_cum = list(_cumulative([w for _, w in KIND_WEIGHTS]))
        self._psum: dict[tuple[bytes, bytes], int] = {}
        self.rtts = self._make_rtts()
        # Per-lookup ground truth of the last planned lookup, kept only when asked for:
        # (client ip, name as asked, qtypes, queries, wasted queries, outcome).
        self.want_truth = False
        self.truth: tuple[bytes, str, tuple[str, ...], int, int, str] | None = None

    def _make_pods(self, count: int) -> list[_Pod]:
        if not 0 < count <= 8000:
            raise ValueError("pods must be between 1 and 8000")
        rng = self.rng
        seen: set[bytes] = set()
        pods = []
        ns_names = [ns for ns, _ in NAMESPACES]
        ns_cum = list(_cumulative([w for _, w in NAMESPACES]))
        while len(pods) < count:
            ip = bytes((10, 244, rng.randrange(32), rng.randrange(2, 255)))
            if ip in seen:
                continue
            seen.add(ip)
            mac = b"\x0a\x58" + ip
            gateway = b"\x0a\x58" + ip[:3] + b"\x01"
            ns = rng.choices(ns_names, cum_weights=ns_cum)[0]
            search = (f"{ns}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN)
            search += (HOST_SUFFIX,)
            if self.linktype == LINKTYPE_SLL2:
                # `tcpdump -i any` in the pod: outgoing (4) and to-us (0), the sender's MAC.
                link_out = _SLL2.pack(0x0800, 0, 2, 1, 4, 6, mac + b"\0\0")
                link_in = _SLL2.pack(0x0800, 0, 2, 1, 0, 6, gateway + b"\0\0")
            else:
                link_out = gateway + mac + b"\x08\x00"
                link_in = mac + gateway + b"\x08\x00"
            pods.append(_Pod(ip, mac, search, ns, link_out, link_in))
        return pods

    def _partial_sum(self, a: bytes, b: bytes) -> int:
        """The constant part of the IPv4 header checksum for a pair of addresses.

        Only the total length and id vary per packet; the sum is symmetric in the two
        addresses, so one entry serves both directions.
        """
        key = (a, b)
        found = self._psum.get(key)
        if found is None:
            words = struct.unpack("!4H", a + b)
            found = self._psum[key] = 0x4500 + 0x4000 + (64 << 8) + sum(words)
        return found

    def udp(self, link: bytes, src: bytes, dst: bytes, sport: int, dport: int, dns: bytes) -> bytes:
        """One Ethernet/SLL2 + IPv4 + UDP frame (UDP checksum 0: allowed for IPv4)."""
        ulen = 8 + len(dns)
        tlen = 20 + ulen
        ipid = self.ipid = (self.ipid + 1) & 0xFFFF
        s = self._partial_sum(src, dst) + 17 + tlen + ipid
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        ip = _IP_UDP.pack(
            0x45, 0, tlen, ipid, 0x4000, 64, 17, ~s & 0xFFFF, src, dst, sport, dport, ulen, 0
        )
        return link + ip + dns

    def tcp(
        self,
        link: bytes,
        src: bytes,
        dst: bytes,
        ports: tuple[int, int],
        seq: int,
        ack: int,
        flags: int,
        data: bytes = b"",
    ) -> bytes:
        """One IPv4 + TCP frame with correct IP and TCP checksums."""
        sport, dport = ports
        tlen = 40 + len(data)
        ipid = self.ipid = (self.ipid + 1) & 0xFFFF
        s = self._partial_sum(src, dst) + 6 + tlen + ipid
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        seg = _TCP.pack(sport, dport, seq, ack, 0x50, flags, 64240, 0, 0) + data
        csum = _checksum(_TCP_PSEUDO.pack(src, dst, 0, 6, len(seg)) + seg)
        seg = seg[:16] + _H.pack(csum) + seg[18:]
        return link + _IP.pack(0x45, 0, tlen, ipid, 0x4000, 64, 6, ~s & 0xFFFF, src, dst) + seg

    # --- planning -------------------------------------------------------------------------

    def _make_rtts(self) -> list[int]:
        """A pool of CoreDNS round trips in us: mostly 0.2-5 ms, a 2% slow tail to 60 ms.

        Drawing from a pool (one `getrandbits` per reply) is ~5x cheaper than a lognormal
        draw, and 8192 values are plenty for the distribution's shape.
        """
        rng = self.rng
        pool = []
        for _ in range(1 << 13):
            if rng.random() < 0.02:
                pool.append(rng.randrange(5_000, 60_000))
            else:
                pool.append(min(5_000, max(200, int(rng.lognormvariate(6.4, 0.6)))))
        return pool

    def rtt(self) -> int:
        """A round trip drawn from the pool."""
        return self.rtts[self.rng.getrandbits(13)]

    def span(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi): `randrange` costs ~1 us, this a fifth of it."""
        return lo + int(self.rng.random() * (hi - lo))

    def plan(self, t: int) -> tuple[list[tuple[int, bytes]], _Tally]:
        """Plan one lookup starting at `t`: its frames (time, bytes) and its ground truth."""
        rng = self.rng
        pod = self.pods[_pick(rng, self.pod_cum)]
        server = self.servers[rng.randrange(len(self.servers))]
        kind = self.kinds[_pick(rng, self.kind_cum)]
        events: list[tuple[int, bytes]] = []
        tally = _Tally()
        if kind == "external":
            name = self.ext_names[_pick(rng, self.ext_cum)]
            names = [f"{name}.{s}." for s in pod.search] + [name + "."]
        elif kind == "local":
            name = LOCAL_SERVICES[rng.randrange(len(LOCAL_SERVICES))]
            names = [f"{name}.{s}." for s in pod.search] + [name + "."]
        elif kind == "remote":
            name = REMOTE_SERVICES[rng.randrange(len(REMOTE_SERVICES))]
            names = [f"{name}.{s}." for s in pod.search] + [name + "."]
        elif kind == "fqdn":
            name = FQDNS[rng.randrange(len(FQDNS))]
            names = [name]
        else:
            self._plan_tcp(events, tally, pod, server, t)
            if self.want_truth:
                # UDP answer truncated (no data), TCP answer used: one of two queries wasted.
                self.truth = (pod.ip, BIG_NAME, ("A",), 2, 1, "NOERROR")
            return events, tally
        single = False
        answered = 0
        stop = success = False
        for qname in names:
            answered = tally.answered
            t, stop, success, single = self._step(events, tally, pod, server, qname, t, single)
            if stop or success:
                break
            t += self.span(15, 60)
        if self.want_truth:
            # The project's definition: every transmission is wasted but, per query type,
            # the answered one at the final name (the one that got data, or the last tried).
            useful = tally.answered - answered
            outcome = "NOERROR" if success else "TIMEOUT" if stop else "NXDOMAIN"
            qtypes = ("A",) if kind == "fqdn" else ("A", "AAAA")
            self.truth = (pod.ip, name, qtypes, tally.queries, tally.queries - useful, outcome)
        return events, tally

    def _step(
        self,
        events: list[tuple[int, bytes]],
        tally: _Tally,
        pod: _Pod,
        server: bytes,
        qname: str,
        t: int,
        single: bool,
    ) -> tuple[int, bool, bool, bool]:
        """One search step: A and AAAA from a new port. Returns (done, stop, success, single).

        Nine packets in ten go through here, so the IPv4/UDP packing of `udp` is inlined
        and everything is in locals: this keeps the generator above 200k packets/s.
        """
        rng = self.rng
        rand = rng.random
        sport = 32768 + int(rand() * 28232)
        done = t
        stop = success = False
        qtypes = (T_A,) if qname in FQDNS else (T_A, T_AAAA)
        went_single = single
        psum = self._partial_sum(pod.ip, server) + 17
        pack = _IP.pack
        hpack = _H.pack
        zone = self.zone
        append = events.append
        rtts = self.rtts
        cip = pod.ip
        for qtype in qtypes:
            ans = zone.answer(qname, qtype)
            idb = hpack(rng.getrandbits(16))
            dns = idb + ans.query_tail
            ulen = 8 + len(dns)
            ipid = self.ipid = (self.ipid + 1) & 0xFFFF
            c = psum + 20 + ulen + ipid
            c = (c & 0xFFFF) + (c >> 16)
            c = (c & 0xFFFF) + (c >> 16)
            ip = pack(0x45, 0, 20 + ulen, ipid, 0x4000, 64, 17, ~c & 0xFFFF, cip, server)
            query = pod.link_out + ip + hpack(sport) + b"\x005" + hpack(ulen) + b"\0\0" + dns
            append((t, query))
            tally.queries += 1
            tally.transactions += 1
            fate = rand()
            sent = t
            if fate < P_UNANSWERED + P_RETRANSMIT:
                sent = t + RETRANSMIT_US + int(rand() * 400)
                append((sent, query))
                tally.queries += 1
                tally.retransmits += 1
                went_single = True
            if fate < P_UNANSWERED:
                tally.unanswered += 1
                done = max(done, sent + RETRANSMIT_US)
                stop = True
            else:
                reply_at = sent + rtts[rng.getrandbits(13)]
                dns = idb + ans.response_tail
                ulen = 8 + len(dns)
                ipid = self.ipid = (self.ipid + 1) & 0xFFFF
                c = psum + 20 + ulen + ipid
                c = (c & 0xFFFF) + (c >> 16)
                c = (c & 0xFFFF) + (c >> 16)
                ip = pack(0x45, 0, 20 + ulen, ipid, 0x4000, 64, 17, ~c & 0xFFFF, server, cip)
                udp = b"\x005" + hpack(sport) + hpack(ulen) + b"\0\0"
                append((reply_at, pod.link_in + ip + udp + dns))
                tally.responses += 1
                tally.answered += 1
                if ans.rcode == NXDOMAIN:
                    tally.nxdomain += 1
                elif ans.positive:
                    success = True
                if reply_at > done:
                    done = reply_at
            # glibc sends the pair back to back unless a loss put it in one-at-a-time mode.
            t = done + 10 + int(rand() * 20) if single else t + 4 + int(rand() * 5)
        return done, stop, success, went_single

    def _plan_tcp(
        self, events: list[tuple[int, bytes]], tally: _Tally, pod: _Pod, server: bytes, t: int
    ) -> None:
        """A truncated UDP answer for a big headless service, then the same question on TCP."""
        rng = self.rng
        ans = self.zone.answer(BIG_NAME, T_A)
        sport = self.span(32768, 61000)
        idb = _H.pack(rng.getrandbits(16))
        events.append((t, self.udp(pod.link_out, pod.ip, server, sport, 53, idb + ans.query_tail)))
        t += self.rtt()
        tc = self.udp(pod.link_in, server, pod.ip, 53, sport, idb + ans.truncated_tail)
        events.append((t, tc))
        tally.queries += 1
        tally.responses += 1
        tally.transactions += 1
        tally.answered += 1
        tally.truncated += 1
        # The TCP connection: handshake, length-prefixed query and answer, FIN both ways.
        out = (self.span(32768, 61000), 53)
        inc = (53, out[0])
        c = rng.getrandbits(32)
        s = rng.getrandbits(32)
        idb = _H.pack(rng.getrandbits(16))
        q = _H.pack(len(ans.query_tail) + 2) + idb + ans.query_tail
        r = _H.pack(len(ans.response_tail) + 2) + idb + ans.response_tail
        m = 0xFFFFFFFF
        link_out, link_in, ip = pod.link_out, pod.link_in, pod.ip
        hop = self.span(60, 200)
        t += self.span(20, 80)
        seq = [
            (t, self.tcp(link_out, ip, server, out, c, 0, _TCP_SYN)),
            (t + hop, self.tcp(link_in, server, ip, inc, s, (c + 1) & m, _TCP_SYN | _TCP_ACK)),
            (t + hop + 12, self.tcp(link_out, ip, server, out, (c + 1) & m, (s + 1) & m, _TCP_ACK)),
        ]
        t += hop + 20
        c1, s1 = (c + 1) & m, (s + 1) & m
        seq.append((t, self.tcp(link_out, ip, server, out, c1, s1, _TCP_PSH | _TCP_ACK, q)))
        t += self.rtt()
        seq.append((t, self.tcp(link_in, server, ip, inc, s1, (c1 + len(q)) & m, 0x18, r)))
        c2, s2 = (c1 + len(q)) & m, (s1 + len(r)) & m
        seq.append((t + 10, self.tcp(link_out, ip, server, out, c2, s2, _TCP_ACK)))
        seq.append((t + 30, self.tcp(link_out, ip, server, out, c2, s2, _TCP_FIN | _TCP_ACK)))
        t += 30 + hop
        seq.append((t, self.tcp(link_in, server, ip, inc, s2, (c2 + 1) & m, _TCP_FIN | _TCP_ACK)))
        seq.append((t + 12, self.tcp(link_out, ip, server, out, (c2 + 1) & m, (s2 + 1) & m, 0x10)))
        events.extend(seq)
        tally.queries += 1
        tally.responses += 1
        tally.transactions += 1
        tally.answered += 1
        tally.tcp_messages += 2
        tally.tcp_connections += 1

    def plan_filler(self, t: int, room: int) -> tuple[list[tuple[int, bytes]], _Tally]:
        """A one- or two-packet lookup that fills the capture to exactly the asked size.

        Two packets: an A-only question with a trailing dot, answered. One packet: a query
        whose answer the capture stopped before (unanswered, no resend).
        """
        rng = self.rng
        pod = self.pods[_pick(rng, self.pod_cum)]
        server = self.servers[0]
        ans = self.zone.answer(FQDNS[0], T_A)
        sport = self.span(32768, 61000)
        idb = _H.pack(rng.getrandbits(16))
        events = [(t, self.udp(pod.link_out, pod.ip, server, sport, 53, idb + ans.query_tail))]
        tally = _Tally(queries=1, transactions=1)
        if room >= 2:
            resp = self.udp(pod.link_in, server, pod.ip, 53, sport, idb + ans.response_tail)
            events.append((t + self.rtt(), resp))
            tally.responses = tally.answered = 1
        else:
            tally.unanswered = 1
        if self.want_truth:
            answered = tally.answered
            outcome = "NOERROR" if answered else "TIMEOUT"
            self.truth = (pod.ip, FQDNS[0], ("A",), 1, 1 - answered, outcome)
        return events, tally


LOOKUP_TRUTH_FIELDS = ("client", "name", "qtypes", "start", "queries", "wasted_queries", "outcome")


def _truth_line(truth: tuple[bytes, str, tuple[str, ...], int, int, str], start_us: int) -> str:
    """One planned lookup as a JSON line.

    `name` is what the application asked (`google.com`, `redis`, or an FQDN with its
    trailing dot); `queries` counts transmissions (retransmissions too); `wasted_queries`
    follows the project's definition (all but the answered query of each type at the final
    name); `outcome` is NOERROR (data), NXDOMAIN (the whole list failed) or TIMEOUT (a
    query never answered stopped the walk).
    """
    ip, name, qtypes, queries, wasted, outcome = truth
    record = {
        "client": ".".join(map(str, ip)),
        "name": name,
        "qtypes": list(qtypes),
        "start": start_us / 1e6,
        "queries": queries,
        "wasted_queries": wasted,
        "outcome": outcome,
    }
    return json.dumps(record, separators=(",", ":")) + "\n"


def _cumulative(weights: list[float] | list[int]) -> list[float]:
    total = 0.0
    out = []
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick(rng: random.Random, cum: list[float]) -> int:
    """Index drawn with cumulative weights (bisect, without `choices`' list allocation)."""
    x = rng.random() * cum[-1]
    lo, hi = 0, len(cum) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def generate(
    path: str | Path,
    packets: int,
    seed: int = 1,
    *,
    linktype: str | int = "en10mb",
    pods: int = 400,
    servers: tuple[str, ...] = ("10.96.0.10",),
    rate: float = 1700.0,
    truth_lookups: str | Path | None = None,
) -> GenSummary:
    """Write a capture of exactly `packets` packets to `path` and return its ground truth.

    `rate` is the mean packets per second of capture time (1M packets span ~10 minutes).
    The same arguments always write the same bytes. `truth_lookups`, when given, receives
    one JSON line per planned lookup, in start order (see `LOOKUP_TRUTH_FIELDS`); the
    capture's bytes do not depend on it.
    """
    if packets < 0:
        raise ValueError("packets must be >= 0")
    lt = LINKTYPES[linktype] if isinstance(linktype, str) else int(linktype)
    if lt not in LINKTYPES.values():
        raise ValueError(f"unsupported linktype {linktype!r}")
    gen = _Generator(seed, lt, pods, servers)
    rng = gen.rng
    summary = GenSummary(path=str(path), linktype=lt, seed=seed)
    total = _Tally()
    heap: list[tuple[int, int, bytes]] = []
    order = 0
    planned = 0
    mean_gap = 13.6 / rate * 1e6  # mean packets per lookup / packets per second
    t_next = START_US
    chunk: list[bytes] = []
    rec = _REC.pack
    heappush, heappop = heapq.heappush, heapq.heappop
    nbytes = 0
    first = last = None
    truth_out = None if truth_lookups is None else open(truth_lookups, "w")  # noqa: SIM115
    gen.want_truth = truth_out is not None
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, lt))
        filling = False
        while planned < packets:
            t_next += int(rng.expovariate(1.0) * mean_gap) + 1
            # Nothing planned later can start before t_next: everything older is final.
            while heap and heap[0][0] < t_next:
                ts, _, frame = heappop(heap)
                n = len(frame)
                chunk.append(rec(ts // 1_000_000, ts % 1_000_000, n, n))
                chunk.append(frame)
                nbytes += n
                if first is None:
                    first = ts
                last = ts
                if len(chunk) >= 8192:
                    out.write(b"".join(chunk))
                    chunk.clear()
            room = packets - planned
            if not filling:
                events, tally = gen.plan(t_next)
                if len(events) > room:
                    filling = True
            if filling:
                events, tally = gen.plan_filler(t_next, room)
            for ts, frame in events:
                heappush(heap, (ts, order, frame))
                order += 1
            planned += len(events)
            for name in _TALLY_FIELDS:
                setattr(total, name, getattr(total, name) + getattr(tally, name))
            summary.lookups += 1
            if truth_out is not None:
                truth_out.write(_truth_line(gen.truth, t_next))  # type: ignore[arg-type]
        while heap:
            ts, _, frame = heappop(heap)
            n = len(frame)
            chunk.append(rec(ts // 1_000_000, ts % 1_000_000, n, n))
            chunk.append(frame)
            nbytes += n
            if first is None:
                first = ts
            last = ts
        out.write(b"".join(chunk))
    if truth_out is not None:
        truth_out.close()
    for name in _TALLY_FIELDS:
        setattr(summary, name, getattr(total, name))
    summary.packets = planned
    summary.bytes = 24 + 16 * planned + nbytes
    summary.udp_messages = summary.queries + summary.responses - summary.tcp_messages
    summary.first_ts = (first or 0) / 1e6
    summary.last_ts = (last or 0) / 1e6
    return summary


def main(argv: list[str] | None = None) -> int:
    """CLI: write the capture, print its ground truth as JSON on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="pcap file to write")
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--linktype", choices=sorted(LINKTYPES), default="en10mb")
    parser.add_argument("--pods", type=int, default=400)
    parser.add_argument("--servers", default="10.96.0.10", help="comma-separated server IPs")
    parser.add_argument("--truth", type=Path, help="also write the ground truth JSON here")
    parser.add_argument(
        "--truth-lookups", type=Path, help="also write one JSON line per planned lookup here"
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    summary = generate(
        args.out,
        args.packets,
        args.seed,
        linktype=args.linktype,
        pods=args.pods,
        servers=tuple(args.servers.split(",")),
        truth_lookups=args.truth_lookups,
    )
    elapsed = time.perf_counter() - began
    text = json.dumps(summary.to_dict(), indent=2)
    if args.truth:
        args.truth.write_text(text + "\n")
    print(text)
    rate = summary.packets / elapsed if elapsed else 0.0
    print(
        f"wrote {summary.packets} packets in {elapsed:.2f} s ({rate:,.0f} packets/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
