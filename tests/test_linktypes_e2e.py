"""The walkthrough's real packets, re-framed in every link type and overlay dnssniff reads,
give exactly the walkthrough's ten transactions through the whole command line."""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from scapy.all import GRE, IP, UDP, VXLAN, Dot1AD, Dot1Q, Ether, Raw, raw
from scapy.contrib.geneve import GENEVE
from typer.testing import CliRunner

from dnssniff.capture import open_capture
from dnssniff.cli import app

WALK = Path(__file__).resolve().parent.parent / "pcaps" / "walkthrough.pcap"
MAC = "02:00:00:00:00:01"


def _ip_packets() -> list[tuple[float, bytes]]:
    with open_capture(str(WALK)) as cap:
        return [(f.ts, f.data[14:]) for f in cap]


def pcap_bytes(linktype: int, frames: list[tuple[float, bytes]]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for ts, data in frames:
        sec = int(ts)
        usec = round((ts - sec) * 1e6)
        out.append(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    return b"".join(out)


def pcapng_bytes(interfaces: list[int], frames: list[tuple[int, float, bytes]]) -> bytes:
    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for lt in interfaces:
        out.append(block(1, struct.pack("<HHI", lt, 0, 262144)))
    for iface, ts, data in frames:
        units = round(ts * 1e6)
        body = struct.pack("<IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data), len(data))
        out.append(block(6, body + data))
    return b"".join(out)


def sll(ip: bytes) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", 0x0800) + ip


def sll2(ip: bytes) -> bytes:
    return struct.pack("!HHIHBB8s", 0x0800, 0, 3, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0") + ip


def ether(ip: bytes) -> bytes:
    return raw(Ether(src=MAC, dst=MAC, type=0x0800)) + ip


def outer(layers, inner: bytes) -> bytes:
    """An outer Ethernet/IPv4 packet carrying `layers` then `inner` (lengths computed)."""
    return raw(
        Ether(src=MAC, dst=MAC) / IP(src="192.168.0.1", dst="192.168.0.2") / layers / Raw(inner)
    )


VARIANTS: dict[str, tuple[int, Callable[[bytes], bytes]]] = {
    "ethernet": (1, ether),
    "802.1q": (1, lambda ip: raw(Ether(src=MAC, dst=MAC) / Dot1Q(vlan=7, type=0x0800)) + ip),
    "802.1ad+802.1q": (
        1,
        lambda ip: (
            raw(Ether(src=MAC, dst=MAC, type=0x88A8) / Dot1AD(vlan=3) / Dot1Q(vlan=7, type=0x0800))
            + ip
        ),
    ),
    "linux-sll": (113, sll),
    "linux-sll2": (276, sll2),
    "raw": (101, lambda ip: ip),
    "ipv4": (228, lambda ip: ip),
    "null": (0, lambda ip: struct.pack("<I", 2) + ip),
    "loop": (108, lambda ip: struct.pack("!I", 2) + ip),
    "vxlan": (1, lambda ip: outer(UDP(sport=50000, dport=4789) / VXLAN(vni=1), ether(ip))),
    "vxlan-flannel-8472": (
        1,
        lambda ip: outer(UDP(sport=50000, dport=8472) / VXLAN(vni=1), ether(ip)),
    ),
    "geneve": (1, lambda ip: outer(UDP(sport=50000, dport=6081) / GENEVE(proto=0x6558), ether(ip))),
    "gre": (1, lambda ip: outer(GRE(proto=0x0800), ip)),
    "gre-in-udp": (1, lambda ip: outer(UDP(sport=50000, dport=4754) / GRE(proto=0x0800), ip)),
    "ip-in-ip": (
        1,
        lambda ip: raw(
            Ether(src=MAC, dst=MAC) / IP(src="192.168.0.1", dst="192.168.0.2", proto=4) / Raw(ip)
        ),
    ),
    "vxlan-in-vxlan": (
        1,
        lambda ip: outer(
            UDP(sport=50001, dport=4789) / VXLAN(vni=2),
            outer(UDP(sport=50000, dport=4789) / VXLAN(vni=1), ether(ip)),
        ),
    ),
}


def transactions(path: Path) -> list[dict]:
    result = CliRunner().invoke(app, ["transactions", str(path), "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def baseline() -> list[dict]:
    rows = transactions(WALK)
    assert len(rows) == 10
    return rows


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_link_type_and_overlay_gives_the_same_transactions(variant, baseline, tmp_path):
    linktype, wrap = VARIANTS[variant]
    frames = [(ts, wrap(ip)) for ts, ip in _ip_packets()]
    path = tmp_path / f"{variant}.pcap"
    path.write_bytes(pcap_bytes(linktype, frames))
    assert transactions(path) == baseline


def test_pcapng_two_interfaces_two_link_types_and_gzip(baseline, tmp_path):
    frames = []
    for i, (ts, ip) in enumerate(_ip_packets()):
        iface = i % 2
        frames.append((iface, ts, ether(ip) if iface == 0 else sll2(ip)))
    data = pcapng_bytes([1, 276], frames)
    plain = tmp_path / "two.pcapng"
    plain.write_bytes(data)
    assert transactions(plain) == baseline
    packed = tmp_path / "two.pcapng.gz"
    packed.write_bytes(gzip.compress(data))
    assert transactions(packed) == baseline
