"""A small, scriptable DNS server: the CoreDNS stand-in for the network-namespace tests.

Run it as a process (``python dnsserver.py --zone Z.json --log L.jsonl --listen IP``) inside
the test "dns" namespace. Real resolvers (glibc, musl, dig) talk to it over real sockets, so
the captures we record show what those resolvers really send. Every query it receives is
logged as one JSON line (flushed at once) so a test can compare the wire with the truth.

The zone is JSON, so a test states the behaviour it needs in data::

    {
      "records": {"google.com.": {"A": ["142.250.72.14"], "AAAA": ["2607:f8b0::200e"]},
                  "www.example.org.": {"CNAME": "example.org."}},
      "nodata": ["v4only.default.svc.cluster.local."],     # name exists, no record of the type
      "servfail": ["broken.example."],
      "drop_first": [{"name": "slow.example.", "qtype": "A", "count": 1}],   # UDP only
      "truncate": ["tc.example."],   # UDP: TC=1, no answers; TCP: the records (4 A by default)
      "big": {"many.example.": 40},         # that many A records (UDP truncates naturally)
      "ttl": 30
    }

Names under ``cluster.local.`` that are not known get NXDOMAIN with the cluster SOA in the
authority section (as CoreDNS's kubernetes plugin does); other unknown names get NXDOMAIN with
the root SOA (as a forwarding upstream would).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

CLUSTER_ZONE = dns.name.from_text("cluster.local.")
MAX_TCP_CONNECTIONS = 64
TCP_IDLE_TIMEOUT = 5.0
CNAME_CHAIN_LIMIT = 8
TRUNCATE_DEFAULT_RECORDS = 4


def _absolute(name: str) -> str:
    """Zone keys are compared lowercased and absolute so that JSON authors may omit the dot."""
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


class Zone:
    """The answers the server gives, built from the JSON config; counters for drop_first."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.ttl = int(config.get("ttl", 30))
        self.records: dict[str, dict[str, Any]] = {
            _absolute(k): v for k, v in config.get("records", {}).items()
        }
        self.nodata = {_absolute(n) for n in config.get("nodata", [])}
        self.servfail = {_absolute(n) for n in config.get("servfail", [])}
        self.truncate = {_absolute(n) for n in config.get("truncate", [])}
        big = config.get("big", {})
        if isinstance(big, list):
            big = {n: 40 for n in big}
        self.big = {_absolute(k): int(v) for k, v in big.items()}
        # A truncate name without records of its own still needs a full answer over TCP.
        for name in self.truncate:
            if name not in self.records and name not in self.big:
                self.big[name] = TRUNCATE_DEFAULT_RECORDS
        # drop_first: (name, qtype) -> how many more UDP queries to drop. A lock guards it,
        # since UDP and TCP are served from different threads.
        self._drops: dict[tuple[str, str], int] = {}
        for rule in config.get("drop_first", []):
            key = (_absolute(rule["name"]), rule.get("qtype", "A").upper())
            self._drops[key] = int(rule.get("count", 1))
        self._lock = threading.Lock()

    def should_drop(self, name: str, qtype: str) -> bool:
        """True while the name/type still has UDP queries to drop (the client must resend)."""
        with self._lock:
            left = self._drops.get((name, qtype), 0)
            if left <= 0:
                return False
            self._drops[(name, qtype)] = left - 1
            return True

    def soa_for(self, qname: dns.name.Name) -> dns.rrset.RRset:
        """The SOA a real server would put in the authority section of a negative answer."""
        if qname.is_subdomain(CLUSTER_ZONE):
            origin, mname, rname = (
                CLUSTER_ZONE,
                "ns.dns.cluster.local.",
                "hostmaster.cluster.local.",
            )
        else:
            origin, mname, rname = dns.name.root, "a.root-servers.net.", "nstld.verisign-grs.com."
        soa = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.SOA, f"{mname} {rname} 1 7200 1800 86400 30"
        )
        rrset = dns.rrset.RRset(origin, dns.rdataclass.IN, dns.rdatatype.SOA)
        rrset.add(soa, ttl=30)
        return rrset

    def _rrset(self, owner: dns.name.Name, rdtype: str, values: list[str]) -> dns.rrset.RRset:
        rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, dns.rdatatype.from_text(rdtype))
        for value in values:
            text = json.dumps(value) if rdtype == "TXT" else value
            rrset.add(dns.rdata.from_text(dns.rdataclass.IN, rrset.rdtype, text), ttl=self.ttl)
        return rrset

    def _big_rrset(self, owner: dns.name.Name, count: int) -> dns.rrset.RRset:
        base = int(ipaddress.IPv4Address("10.100.0.1"))
        values = [str(ipaddress.IPv4Address(base + i)) for i in range(count)]
        return self._rrset(owner, "A", values)

    def exists(self, key: str) -> bool:
        """Whether the name exists at all (NODATA rather than NXDOMAIN for a missing type)."""
        return key in self.records or key in self.nodata or key in self.big or key in self.truncate

    def resolve(self, qname: dns.name.Name, qtype: str) -> tuple[int, list[dns.rrset.RRset]]:
        """Return (rcode, answer rrsets), following CNAMEs inside the zone."""
        answers: list[dns.rrset.RRset] = []
        owner = qname
        for _ in range(CNAME_CHAIN_LIMIT):
            key = owner.to_text().lower()
            if key in self.servfail:
                return dns.rcode.SERVFAIL, []
            if key in self.big and qtype == "A":
                answers.append(self._big_rrset(owner, self.big[key]))
                return dns.rcode.NOERROR, answers
            entry = self.records.get(key)
            if entry is None:
                if self.exists(key) or answers:
                    return dns.rcode.NOERROR, answers
                return dns.rcode.NXDOMAIN, answers
            if qtype in entry and qtype != "CNAME":
                values = entry[qtype]
                answers.append(
                    self._rrset(owner, qtype, [values] if isinstance(values, str) else values)
                )
                return dns.rcode.NOERROR, answers
            target = entry.get("CNAME")
            if target is None:
                return dns.rcode.NOERROR, answers
            answers.append(self._rrset(owner, "CNAME", [_absolute(target)]))
            if qtype == "CNAME":
                return dns.rcode.NOERROR, answers
            owner = dns.name.from_text(_absolute(target))
        return dns.rcode.SERVFAIL, answers


class QueryLog:
    """One JSON line per query, flushed at once so a test can read it while we run."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


class Server:
    """UDP and TCP on one address; answers from a Zone; logs every query."""

    def __init__(self, zone: Zone, log: QueryLog, listen: str, port: int) -> None:
        self.zone = zone
        self.log = log
        family = socket.AF_INET6 if ":" in listen else socket.AF_INET
        self.udp = socket.socket(family, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.bind((listen, port))
        self.tcp = socket.socket(family, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((listen, port))
        self.tcp.listen(16)
        self.stop = threading.Event()
        self._conn_slots = threading.BoundedSemaphore(MAX_TCP_CONNECTIONS)

    # -- answering -------------------------------------------------------------------------
    def answer(self, wire: bytes, proto: str, client: tuple[Any, ...]) -> bytes | None:
        """Build the reply for one query (None: drop it); log the query either way."""
        record: dict[str, Any] = {
            "ts": time.time(),
            "proto": proto,
            "client": client[0],
            "client_port": client[1],
        }
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException as exc:
            record.update(id=_wire_id(wire), qname=None, qtype=None, rcode="FORMERR")
            record["error"] = type(exc).__name__
            self.log.write(record)
            return _formerr(wire)
        record["id"] = query.id
        if not query.question:
            record.update(qname=None, qtype=None, rcode="FORMERR")
            self.log.write(record)
            return _formerr(wire)
        question = query.question[0]
        qname = question.name
        qtype = dns.rdatatype.to_text(question.rdtype)
        record["qname"] = qname.to_text()
        record["qtype"] = qtype
        key = qname.to_text().lower()

        if proto == "udp" and self.zone.should_drop(key, qtype):
            record.update(rcode=None, dropped=True)
            self.log.write(record)
            return None

        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if qname.is_subdomain(CLUSTER_ZONE):
            response.flags |= dns.flags.AA
        rcode, answers = self.zone.resolve(qname, qtype)
        response.set_rcode(rcode)
        truncated = False
        if proto == "udp" and key in self.zone.truncate:
            truncated = True
        else:
            response.answer.extend(answers)
            if rcode == dns.rcode.NXDOMAIN or (rcode == dns.rcode.NOERROR and not answers):
                response.authority.append(self.zone.soa_for(qname))
        wire_out = self._render(response, query, proto)
        if wire_out is None:
            truncated = True
        if truncated:
            response.answer.clear()
            response.authority.clear()
            response.flags |= dns.flags.TC
            wire_out = response.to_wire()
        record.update(
            rcode=dns.rcode.to_text(rcode),
            tc=truncated,
            answers=sum(len(r) for r in response.answer),
        )
        self.log.write(record)
        return wire_out

    @staticmethod
    def _render(
        response: dns.message.Message, query: dns.message.Message, proto: str
    ) -> bytes | None:
        """Wire form of the response, or None when it does not fit the client's UDP size."""
        if proto == "tcp":
            return response.to_wire()
        limit = max(512, query.payload) if query.edns >= 0 else 512
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            return None

    # -- sockets ---------------------------------------------------------------------------
    def serve(self) -> None:
        """Serve until stop is set (SIGTERM); poll so that the stop flag is seen quickly."""
        sel = selectors.DefaultSelector()
        sel.register(self.udp, selectors.EVENT_READ, "udp")
        sel.register(self.tcp, selectors.EVENT_READ, "tcp")
        try:
            while not self.stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    if key.data == "udp":
                        self._serve_udp()
                    else:
                        self._accept_tcp()
        finally:
            sel.close()
            self.udp.close()
            self.tcp.close()

    def _serve_udp(self) -> None:
        try:
            wire, client = self.udp.recvfrom(65535)
        except OSError:
            return
        reply = self.answer(wire, "udp", client)
        if reply is not None:
            with contextlib.suppress(OSError):
                self.udp.sendto(reply, client)

    def _accept_tcp(self) -> None:
        try:
            conn, client = self.tcp.accept()
        except OSError:
            return
        if not self._conn_slots.acquire(blocking=False):
            conn.close()
            return
        threading.Thread(target=self._serve_tcp, args=(conn, client), daemon=True).start()

    def _serve_tcp(self, conn: socket.socket, client: tuple[Any, ...]) -> None:
        """Serve length-prefixed queries on one connection until EOF, idle timeout or stop."""
        conn.settimeout(TCP_IDLE_TIMEOUT)
        try:
            while not self.stop.is_set():
                head = _recv_exact(conn, 2)
                if head is None:
                    return
                (length,) = struct.unpack("!H", head)
                wire = _recv_exact(conn, length)
                if wire is None:
                    return
                reply = self.answer(wire, "tcp", client)
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return
        finally:
            conn.close()
            self._conn_slots.release()


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    buf = b""
    while len(buf) < size:
        chunk = conn.recv(size - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _wire_id(wire: bytes) -> int | None:
    return struct.unpack_from("!H", wire)[0] if len(wire) >= 2 else None


def _formerr(wire: bytes) -> bytes | None:
    """A bare FORMERR header echoing the id, as servers do for unparsable queries."""
    if len(wire) < 12:
        return None
    (qid,) = struct.unpack_from("!H", wire)
    return struct.pack("!HHHHHH", qid, 0x8000 | dns.rcode.FORMERR, 0, 0, 0, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zone", required=True, type=Path)
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--port", type=int, default=53)
    args = parser.parse_args(argv)

    zone = Zone(json.loads(args.zone.read_text(encoding="utf-8")))
    log = QueryLog(args.log)
    server = Server(zone, log, args.listen, args.port)
    signal.signal(signal.SIGTERM, lambda *_: server.stop.set())
    signal.signal(signal.SIGINT, lambda *_: server.stop.set())
    print("ready", flush=True)
    try:
        server.serve()
    finally:
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
