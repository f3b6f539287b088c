"""The namespace pod and the DNS server really work, and real glibc behaves as we assume.

These tests run real programs (getent, dig, tcpdump) in network namespaces that they create;
packets stay inside those namespaces. They skip with the reason when not root or when
``ip netns``/tcpdump are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

try:
    from tests.support.netns import DEFAULT_SEARCH, PodNetwork, netns_available
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from support.netns import DEFAULT_SEARCH, PodNetwork, netns_available

pytestmark = pytest.mark.netns

ZONE = {
    "records": {
        "google.com.": {"A": ["142.250.72.14"], "AAAA": ["2607:f8b0:4007:80f::200e"]},
        "example.org.": {"A": ["93.184.215.14"], "TXT": ["v=spf1 -all"]},
        "www.example.org.": {"CNAME": "example.org."},
        "httpd-example.default.svc.cluster.local.": {"A": ["10.96.45.12"]},
    },
    "nodata": ["v4only.default.svc.cluster.local."],
    "servfail": ["broken.example.org."],
    "truncate": ["tc.example.org."],
    "big": {"many.example.org.": 50},
    "drop_first": [{"name": "slow.example.org.", "qtype": "A", "count": 1}],
}
SLL2_HEADER = 20
ETHERNET_HEADER = 14


@pytest.fixture(scope="module", autouse=True)
def _needs_netns() -> None:
    reason = netns_available()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def net():
    with PodNetwork("dnssniff-test") as network:
        network.start_dns(ZONE)
        yield network


def dig(net: PodNetwork, *args: str) -> subprocess.CompletedProcess[str]:
    return net.run(["dig", "+tries=1", "+time=2", f"@{net.dns_ip}", *args])


def asked(net: PodNetwork) -> list[tuple[str, str, str, str | None]]:
    return [(q["proto"], q["qname"], q["qtype"], q["rcode"]) for q in net.queries()]


def read_frames(path: Path) -> list[bytes]:
    from scapy.utils import RawPcapReader

    with RawPcapReader(str(path)) as reader:
        return [bytes(data) for data, _ in reader]


def test_pod_resolv_conf_is_the_walkthroughs(net: PodNetwork) -> None:
    seen = net.run(["cat", "/etc/resolv.conf"]).stdout
    assert seen == (
        "search default.svc.cluster.local svc.cluster.local cluster.local "
        "us-central1-c.c.myproject.internal\nnameserver 10.244.1.53\noptions ndots:5\n"
    )
    assert tuple(net.search) == DEFAULT_SEARCH


def test_server_answers_and_logs_every_query(net: PodNetwork) -> None:
    assert dig(net, "+short", "google.com").stdout.split() == ["142.250.72.14"]
    assert dig(net, "+short", "www.example.org").stdout.split() == [
        "example.org.",
        "93.184.215.14",
    ]
    assert dig(net, "+short", "example.org", "TXT").stdout.strip() == '"v=spf1 -all"'
    assert "status: NXDOMAIN" in dig(net, "nope.default.svc.cluster.local").stdout
    nodata = dig(net, "v4only.default.svc.cluster.local", "AAAA").stdout
    assert "status: NOERROR" in nodata
    assert "ANSWER: 0, AUTHORITY: 1" in nodata
    assert "status: SERVFAIL" in dig(net, "broken.example.org").stdout
    assert "status: NXDOMAIN" in dig(net, "unknown.example.net").stdout

    first = net.queries()[0]
    assert first["proto"] == "udp"
    assert first["client"] == "10.244.1.10"
    assert isinstance(first["client_port"], int)
    assert isinstance(first["id"], int)
    assert (first["qname"], first["qtype"], first["rcode"]) == ("google.com.", "A", "NOERROR")
    assert [q[3] for q in asked(net)] == [
        "NOERROR",
        "NOERROR",
        "NOERROR",
        "NXDOMAIN",
        "NOERROR",
        "SERVFAIL",
        "NXDOMAIN",
    ]


def test_server_logs_qname_as_received(net: PodNetwork) -> None:
    dig(net, "GooGle.COM")
    assert net.queries()[0]["qname"] == "GooGle.COM."


def test_drop_first_makes_the_client_retransmit(net: PodNetwork) -> None:
    result = net.run(["dig", "+tries=2", "+time=1", f"@{net.dns_ip}", "slow.example.org"])
    assert "status: NXDOMAIN" in result.stdout  # slow.example.org has no record: NXDOMAIN
    log = net.queries()
    assert [(q["qname"], q.get("dropped", False)) for q in log] == [
        ("slow.example.org.", True),
        ("slow.example.org.", False),
    ]
    assert log[0]["id"] == log[1]["id"]  # dig resends with the same id


def test_truncation_then_tcp(net: PodNetwork) -> None:
    dig(net, "+noedns", "tc.example.org")
    dig(net, "+noedns", "many.example.org")
    got = [(q["proto"], q["qname"], q["tc"], q["answers"]) for q in net.queries()]
    assert got == [
        ("udp", "tc.example.org.", True, 0),
        ("tcp", "tc.example.org.", False, 4),
        ("udp", "many.example.org.", True, 0),  # 50 A records do not fit 512 bytes
        ("tcp", "many.example.org.", False, 50),
    ]


def test_getent_ahosts_google_walks_the_search_list(net: PodNetwork) -> None:
    result = net.run(["getent", "ahosts", "google.com"])
    assert result.returncode == 0
    assert "142.250.72.14" in result.stdout
    suffixes = [*(f".{s}." for s in DEFAULT_SEARCH), "."]
    expected = []
    for suffix in suffixes:
        rcode = "NOERROR" if suffix == "." else "NXDOMAIN"
        expected += [
            ("udp", f"google.com{suffix}", "A", rcode),
            ("udp", f"google.com{suffix}", "AAAA", rcode),
        ]
    assert asked(net) == expected
    log = net.queries()
    assert {q["client"] for q in log} == {"10.244.1.10"}
    for a, aaaa in zip(log[::2], log[1::2], strict=True):
        # glibc sends A and AAAA back to back on one socket, with different ids.
        assert a["client_port"] == aaaa["client_port"]
        assert a["id"] != aaaa["id"]


def test_getent_hosts_walks_aaaa_first_then_a(net: PodNetwork) -> None:
    assert net.run(["getent", "hosts", "httpd-example"]).stdout.split() == [
        "10.96.45.12",
        "httpd-example.default.svc.cluster.local",
    ]
    names = [f"httpd-example.{s}." for s in DEFAULT_SEARCH]
    assert asked(net) == [
        ("udp", names[0], "AAAA", "NOERROR"),  # NODATA does not stop the AAAA walk
        ("udp", names[1], "AAAA", "NXDOMAIN"),
        ("udp", names[2], "AAAA", "NXDOMAIN"),
        ("udp", names[3], "AAAA", "NXDOMAIN"),
        ("udp", "httpd-example.", "AAAA", "NXDOMAIN"),
        ("udp", names[0], "A", "NOERROR"),
    ]


def test_glibc_retries_truncated_answers_over_tcp(net: PodNetwork) -> None:
    assert net.run(["getent", "ahosts", "tc.example.org."]).returncode == 0
    got = [(q["proto"], q["qtype"], q["tc"]) for q in net.queries()]
    assert got == [
        ("udp", "A", True),
        ("udp", "AAAA", True),
        ("tcp", "A", False),
        ("tcp", "AAAA", False),
    ]
    log = net.queries()
    assert (log[2]["id"], log[3]["id"]) == (log[0]["id"], log[1]["id"])  # same ids over TCP


def _copies(frames: list[bytes], start: int) -> Counter[bytes]:
    return Counter(frame[start:] for frame in frames)


def test_node_any_capture_holds_each_packet_twice(net: PodNetwork, tmp_path: Path) -> None:
    with (
        net.capture("node-any", tmp_path / "node.pcap") as node,
        net.capture("pod-eth0", tmp_path / "pod.pcap") as pod,
    ):
        assert net.run(["getent", "ahosts", "google.com."]).returncode == 0
    assert pod.packets_captured == 4
    assert node.packets_captured == 8
    assert node.dropped_by_kernel == 0
    pod_frames = read_frames(tmp_path / "pod.pcap")
    node_frames = read_frames(tmp_path / "node.pcap")
    # Bridged: the pod veth (in) and the dns veth (out) carry the same IP packet.
    assert sorted(_copies(node_frames, SLL2_HEADER).values()) == [2, 2, 2, 2]
    assert set(_copies(node_frames, SLL2_HEADER)) == set(_copies(pod_frames, ETHERNET_HEADER))


def test_routed_node_capture_holds_three_copies_one_with_lower_ttl(tmp_path: Path) -> None:
    with PodNetwork("dnssniff-test", routed=True) as net:
        net.start_dns(ZONE)
        assert net.run(["cat", "/etc/resolv.conf"]).stdout.count("nameserver 10.96.0.10") == 1
        with net.capture("node-any", tmp_path / "node.pcap") as node:
            assert net.run(["getent", "ahosts", "google.com."]).returncode == 0
    assert node.packets_captured == 12
    frames = read_frames(tmp_path / "node.pcap")
    # From the UDP header on, the three copies are equal; the TTL differs on the uplink copy.
    udp = _copies(frames, SLL2_HEADER + 20)
    assert sorted(udp.values()) == [3, 3, 3, 3]
    # A query is seen on vpod0 and br0 before routing (TTL 64) and on vdns after (63);
    # an answer on vdns before routing (64) and on br0 and vpod0 after (63).
    ttls = Counter(frame[SLL2_HEADER + 8] for frame in frames)
    assert ttls == {64: 6, 63: 6}


def test_two_pods_have_their_own_addresses(tmp_path: Path) -> None:
    with PodNetwork("dnssniff-test", pods=2) as net:
        net.start_dns(ZONE)
        assert net.run(["getent", "ahosts", "google.com."], pod=0).returncode == 0
        assert net.run(["getent", "ahosts", "google.com."], pod=1).returncode == 0
        assert [q["client"] for q in net.queries()] == ["10.244.1.10"] * 2 + ["10.244.1.11"] * 2


def test_everything_is_removed_even_on_error() -> None:
    net = PodNetwork("dnssniff-test")
    with pytest.raises(RuntimeError, match="boom"), net:
        net.start_dns(ZONE)
        names = [net.node_ns, net.dns_ns, net.pods[0].netns]
        raise RuntimeError("boom")
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for name in names:
        assert name not in listed
        assert not os.path.exists(f"/etc/netns/{name}")
    assert net.workdir is None


MUSL_SOURCE = Path(__file__).parent / "support" / "musl_resolve.c"


def test_musl_stops_at_first_answer_and_has_no_tcp_fallback(
    net: PodNetwork, tmp_path: Path
) -> None:
    compiler = shutil.which("musl-gcc")
    if compiler is None:
        pytest.skip("musl-gcc not installed")
    binary = tmp_path / "musl_resolve"
    subprocess.run(
        [compiler, "-static", "-O2", "-o", str(binary), str(MUSL_SOURCE)], check=True, timeout=60
    )
    assert net.run([str(binary), "httpd-example"]).stdout.split() == ["10.96.45.12"]
    truncated = net.run([str(binary), "tc.example.org."])
    assert truncated.returncode == 2  # musl 1.2.3 keeps the empty TC=1 answer: no TCP retry
    assert asked(net) == [
        ("udp", "httpd-example.default.svc.cluster.local.", "A", "NOERROR"),
        ("udp", "httpd-example.default.svc.cluster.local.", "AAAA", "NOERROR"),
        ("udp", "tc.example.org.", "A", "NOERROR"),
        ("udp", "tc.example.org.", "AAAA", "NOERROR"),
    ]
