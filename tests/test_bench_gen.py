"""The benchmark's capture generator writes what it claims: exact size, valid frames, truth.

The ground truth is recomputed here independently, by parsing every frame with dnspython
and pairing queries with responses, so a wrong count in the generator cannot hide behind
the same wrong count in dnssniff.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from tests.support.bench import load_generator

ROOT = Path(__file__).resolve().parent.parent


gen = load_generator()
N = 2000


def _records(path: Path) -> tuple[int, list[tuple[int, bytes, int]]]:
    """(linktype, [(ts_us, frame, wirelen)]) of a classic microsecond pcap."""
    data = path.read_bytes()
    magic, major, minor, _, _, snaplen, linktype = struct.unpack_from("<IHHiIII", data)
    assert (magic, major, minor, snaplen) == (0xA1B2C3D4, 2, 4, 262144)
    out = []
    pos = 24
    while pos < len(data):
        sec, usec, caplen, wirelen = struct.unpack_from("<IIII", data, pos)
        pos += 16
        out.append((sec * 1_000_000 + usec, data[pos : pos + caplen], wirelen))
        pos += caplen
    assert pos == len(data)
    return linktype, out


def _inet_sum(data: bytes) -> int:
    if len(data) & 1:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _dns_messages(path: Path):
    """Yield (ts, transport, client, client_port, is_query, message, payload) per DNS message.

    Checks the IPv4 and TCP checksums on the way.
    """
    linktype, records = _records(path)
    link = {gen.LINKTYPE_EN10MB: 14, gen.LINKTYPE_SLL2: 20}[linktype]
    for ts, frame, wirelen in records:
        assert wirelen == len(frame)
        ip = frame[link:]
        assert ip[0] == 0x45
        assert _inet_sum(ip[:20]) == 0xFFFF, "bad IPv4 header checksum"
        total = struct.unpack_from("!H", ip, 2)[0]
        assert total == len(ip)
        src, dst = ip[12:16], ip[16:20]
        proto = ip[9]
        if proto == 17:
            sport, dport, ulen, csum = struct.unpack_from("!HHHH", ip, 20)
            assert ulen == len(ip) - 20 and csum == 0
            payload = ip[28:]
            transport = "udp"
        else:
            assert proto == 6
            seg = ip[20:]
            pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
            assert _inet_sum(pseudo + seg) == 0xFFFF, "bad TCP checksum"
            sport, dport = struct.unpack_from("!HH", seg)
            body = seg[(seg[12] >> 4) * 4 :]
            if not body:
                continue
            assert struct.unpack_from("!H", body)[0] == len(body) - 2
            payload = body[2:]
            transport = "tcp"
        is_query = dport == 53
        client, port = (src, sport) if is_query else (dst, dport)
        message = dns.message.from_wire(payload)
        yield ts, transport, client, port, is_query, message, payload


def _truth_from_wire(path: Path) -> Counter[str]:
    """Recount the ground truth from the frames alone."""
    counts: Counter[str] = Counter()
    pending: dict[tuple, int] = {}
    for _, transport, client, port, is_query, msg, _ in _dns_messages(path):
        q = msg.question[0]
        key = (transport, client, port, msg.id, str(q.name).lower(), q.rdtype)
        if is_query:
            counts["queries"] += 1
            if key in pending:
                counts["retransmits"] += 1
            else:
                pending[key] = 1
                counts["transactions"] += 1
        else:
            counts["responses"] += 1
            assert pending.pop(key) == 1, "response without its query"
            counts["answered"] += 1
            if msg.rcode() == dns.rcode.NXDOMAIN:
                counts["nxdomain"] += 1
            if msg.flags & dns.flags.TC:
                counts["truncated"] += 1
        if transport == "tcp":
            counts["tcp_messages"] += 1
    counts["unanswered"] = len(pending)
    return counts


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("gen") / "pods.pcap"
    return path, gen.generate(path, N, seed=7)


def test_exact_packet_count_and_size(capture) -> None:
    path, summary = capture
    _, records = _records(path)
    assert len(records) == summary.packets == N
    assert path.stat().st_size == summary.bytes


@pytest.mark.parametrize("count", [0, 1, 2, 3, 17, 501])
def test_small_counts_are_exact(tmp_path: Path, count: int) -> None:
    path = tmp_path / "small.pcap"
    summary = gen.generate(path, count, seed=3)
    assert len(_records(path)[1]) == summary.packets == count
    truth = _truth_from_wire(path)
    assert truth["queries"] == summary.queries
    assert truth["responses"] == summary.responses
    assert truth["unanswered"] == summary.unanswered


def test_ground_truth_matches_the_wire(capture) -> None:
    path, summary = capture
    truth = _truth_from_wire(path)
    for key in (
        "queries",
        "responses",
        "transactions",
        "answered",
        "unanswered",
        "retransmits",
        "nxdomain",
        "truncated",
        "tcp_messages",
    ):
        assert truth[key] == getattr(summary, key), key
    assert summary.transactions == summary.answered + summary.unanswered
    assert summary.queries == summary.transactions + summary.retransmits
    assert summary.dns_messages == summary.udp_messages + summary.tcp_messages


def test_traffic_looks_like_a_cluster(capture) -> None:
    path, summary = capture
    # ~70% NXDOMAIN, ~1.5% retransmitted queries, TCP lookups present.
    assert 0.6 < summary.nxdomain / summary.responses < 0.8
    assert 0 < summary.retransmits < 0.05 * summary.queries
    assert summary.unanswered > 0 and summary.tcp_connections > 0
    assert summary.tcp_messages == 2 * summary.tcp_connections
    clients = set()
    names = Counter()
    for _, _, client, _, is_query, msg, payload in _dns_messages(path):
        clients.add(client)
        assert client[:2] == bytes((10, 244))
        names[str(msg.question[0].name)] += 1
        if not is_query and msg.rcode() == dns.rcode.NXDOMAIN:
            # CoreDNS's negative answer: the zone's SOA in authority, names compressed.
            assert msg.authority and msg.authority[0].rdtype == dns.rdatatype.SOA
        if not is_query:
            assert b"\xc0\x0c" in payload or msg.authority or msg.flags & dns.flags.TC
    assert len(clients) > 60
    assert names["google.com.default.svc.cluster.local."] > 0
    assert names["google.com.us-central1-c.c.myproject.internal."] > 0
    assert names["google.com."] > 0


def test_glibc_pairs_a_and_aaaa_on_one_port(capture) -> None:
    path, _ = capture
    first: dict[tuple, list] = {}
    for ts, transport, client, port, is_query, msg, _ in _dns_messages(path):
        if is_query and transport == "udp":
            q = msg.question[0]
            first.setdefault((client, port), []).append((ts, q.rdtype, msg.id, str(q.name)))
    gaps = []
    for queries in first.values():
        types = [rdtype for _, rdtype, _, _ in queries]
        if types[:2] == [dns.rdatatype.A, dns.rdatatype.AAAA]:
            (t0, _, id0, n0), (t1, _, id1, n1) = queries[:2]
            assert n0 == n1 and id0 != id1
            gaps.append(t1 - t0)
    assert len(gaps) > 300
    # Back to back, except after a loss put the lookup in one-at-a-time mode.
    assert sum(4 <= g < 9 for g in gaps) > 0.95 * len(gaps)


def test_timestamps_increase_over_a_realistic_span(capture) -> None:
    path, summary = capture
    times = [ts for ts, _, _ in _records(path)[1]]
    assert times == sorted(times)
    assert times[0] / 1e6 == summary.first_ts and times[-1] / 1e6 == summary.last_ts
    assert 1.0 < summary.duration < 20.0  # ~1.2 s of traffic plus 5 s retransmissions


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.pcap", tmp_path / "b.pcap", tmp_path / "c.pcap"
    gen.generate(a, 500, seed=11)
    gen.generate(b, 500, seed=11)
    gen.generate(c, 500, seed=12)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_sll2_link_type(tmp_path: Path) -> None:
    path = tmp_path / "any.pcap"
    summary = gen.generate(path, 300, seed=5, linktype="sll2")
    linktype, records = _records(path)
    assert linktype == summary.linktype == 276
    assert {frame[10] for _, frame, _ in records} == {0, 4}  # to us, outgoing
    assert _truth_from_wire(path)["queries"] == summary.queries


def _peak_rss_kb(path: Path, packets: int) -> int:
    """The generator's peak RSS in a fresh process, from its own /proc/self/status.

    Not `ru_maxrss`: a child spawned by a Python process inherits the parent's peak as a
    floor (vfork shares the parent's memory until exec), which would hide any growth.
    """
    code = (
        "import sys; sys.path.insert(0, sys.argv[3]); import gen_capture;"
        "gen_capture.generate(sys.argv[1], int(sys.argv[2]));"
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
    )
    cmd = [sys.executable, "-c", code, str(path), str(packets), str(ROOT / "bench")]
    return int(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_memory_does_not_grow_with_the_capture(tmp_path: Path) -> None:
    small = _peak_rss_kb(tmp_path / "small.pcap", 2_000)
    big = _peak_rss_kb(tmp_path / "big.pcap", 150_000)
    # 150k packets are 20 MB of capture; streaming keeps only ~5 s of traffic in flight.
    assert (tmp_path / "big.pcap").stat().st_size > 19_000_000
    assert big - small < 6_000


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_reads_the_same_messages(capture) -> None:
    path, summary = capture
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "dns.id", "-e", "dns.flags.response"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(out) == N
    dns_lines = [line for line in out if line.strip()]
    assert len(dns_lines) == summary.dns_messages
    assert sum(line.endswith("\t0") for line in dns_lines) == summary.queries


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
def test_tcpdump_reads_every_packet(capture) -> None:
    path, _ = capture
    out = subprocess.run(
        ["tcpdump", "-nn", "-r", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(out) == N
