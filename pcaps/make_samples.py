"""Regenerate the shipped sample captures with real resolvers in a network-namespace "pod".

Run as root from the repository root: ``/work/venv/bin/python pcaps/make_samples.py``.
The zone and the commands are fixed, so the captures hold the same queries every time; DNS
ids, source ports, MAC addresses and timestamps differ from run to run (they come from the
real programs). The script checks each capture against the server's own query log and fails
rather than ship a capture with a lost packet. pcaps/README.md says what each file holds.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.netns import PodNetwork, netns_available  # noqa: E402

LINKTYPE_LINUX_SLL2 = 276
MAX_SAMPLE_BYTES = 20_000
ATTEMPTS = 3
# Two connections, each at least a handshake, a query, an answer and a FIN exchange.
MIN_TCP_PACKETS = 2 * (3 + 2 + 3)
T = TypeVar("T")
PYTHON_IN_POD = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable

# The walkthrough's cluster: one Service, two external names, a truncating name, and a
# headless Service with more endpoints than fit a 512-byte UDP answer.
ZONE: dict[str, Any] = {
    "records": {
        "google.com.": {"A": ["142.250.72.14"], "AAAA": ["2607:f8b0:4007:80f::200e"]},
        "example.org.": {
            "A": ["93.184.215.14"],
            "AAAA": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        },
        "httpd-example.default.svc.cluster.local.": {"A": ["10.96.45.12"]},
    },
    "truncate": ["tc.example.org."],
    "ttl": 30,
}

GETENT_GOOGLE = ["getent", "ahosts", "google.com"]
GETENT_HTTPD = ["getent", "hosts", "httpd-example"]
PYTHON_EXAMPLE = [PYTHON_IN_POD, "-c", "import socket; socket.getaddrinfo('example.org', 443)"]


def run_checked(net: PodNetwork, cmd: list[str], pod: int = 0) -> None:
    result = net.run(cmd, pod=pod)
    if result.returncode != 0:
        raise SystemExit(f"{cmd} failed ({result.returncode}): {result.stderr.strip()}")


def queries_of(net: PodNetwork) -> list[tuple[str, str, str]]:
    return [(q["proto"], q["qname"], q["qtype"]) for q in net.queries()]


def tcpdump_read(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """tcpdump -r, through gunzip for .gz (tcpdump reads a capture from stdin with -r -)."""
    if path.suffix == ".gz":
        data = gzip.decompress(path.read_bytes())
        cmd = ["tcpdump", "-n", "-r", "-", *args]
        return subprocess.run(cmd, input=data, capture_output=True, check=True)
    return subprocess.run(
        ["tcpdump", "-n", "-r", str(path), *args], capture_output=True, check=True
    )


def tcpdump_count(path: Path, *bpf: str) -> int:
    out = tcpdump_read(path, *bpf).stdout.decode()
    return len([line for line in out.splitlines() if line.strip()])


class CaptureMismatch(Exception):
    """A capture does not hold the packets the server log says were exchanged."""


def expect_packets(path: Path, expected: int) -> None:
    got = tcpdump_count(path)
    if got != expected:
        raise CaptureMismatch(f"{path.name}: {got} packets, expected {expected}")


def with_retries(make: Callable[[], T]) -> T:
    """Run one recording again if a capture came out short (seen once in ~15 runs)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return make()
        except CaptureMismatch as exc:
            print(f"attempt {attempt}: {exc}", file=sys.stderr)
    raise SystemExit(f"captures still wrong after {ATTEMPTS} attempts")


def to_pcapng(src: Path, dst: Path) -> None:
    """Rewrite a tcpdump pcap as pcapng, same link type and exact timestamps.

    scapy's writer turns the timestamp into ticks with int(ts * 10**6); a float would lose a
    microsecond now and then, so it is given an exact Decimal.
    """
    from scapy.utils import RawPcapNgWriter, RawPcapReader

    reader = RawPcapReader(str(src))
    writer = RawPcapNgWriter(str(dst))
    writer.linktype = reader.linktype
    writer.write_header(None)
    scale = 10**9 if getattr(reader, "nano", False) else 10**6
    try:
        for data, meta in reader:
            ts = Decimal(meta.sec) + Decimal(meta.usec) / scale
            writer.write_packet(data, sec=ts, wirelen=meta.wirelen)
    finally:
        writer.close()
        reader.close()
    check_same_packets(src, dst)


def check_same_packets(src: Path, dst: Path) -> None:
    from scapy.utils import RawPcapNgReader, RawPcapReader

    with RawPcapReader(str(src)) as a:
        old = [(d, m.sec * 10**6 + m.usec) for d, m in a]
    with RawPcapNgReader(str(dst)) as b:
        new = [(d, (m.tshigh << 32 | m.tslow) * 10**6 // m.tsresol) for d, m in b]
    # (both sides are microseconds: the node captures are recorded without nano precision)
    if old != new:
        raise SystemExit(f"{dst.name}: pcapng conversion changed packets or timestamps")


def to_nanosecond_pcap(src: Path, dst: Path) -> None:
    """Rewrite a little-endian microsecond pcap as a nanosecond one (same instants)."""
    data = src.read_bytes()
    magic, major, minor, zone, sigfigs, snaplen, network = struct.unpack_from("<IHHiIII", data)
    if magic != 0xA1B2C3D4:
        raise SystemExit(f"{src}: expected a little-endian microsecond pcap")
    out = [struct.pack("<IHHiIII", 0xA1B23C4D, major, minor, zone, sigfigs, snaplen, network)]
    pos = 24
    while pos + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, pos)
        out.append(struct.pack("<IIII", sec, usec * 1000, incl, orig))
        out.append(data[pos + 16 : pos + 16 + incl])
        pos += 16 + incl
    dst.write_bytes(b"".join(out))


def walkthrough(out: Path, tmp: Path) -> list[tuple[str, str, str]]:
    """walkthrough.pcap (+ nano variant) on pod eth0 and walkthrough-any.pcapng on the node."""
    with PodNetwork("dnssniff-samples") as net:
        net.start_dns(ZONE)
        node_raw = tmp / "walkthrough-any.pcap"
        with net.capture("node-any", node_raw):
            with net.capture("pod-eth0", out / "walkthrough.pcap"):
                run_checked(net, GETENT_GOOGLE)
            walk = queries_of(net)
            run_checked(net, GETENT_HTTPD)
            run_checked(net, PYTHON_EXAMPLE)
        total = len(net.queries())
    expect_packets(out / "walkthrough.pcap", 2 * len(walk))
    # tcpdump -w wrote microsecond files even with --time-stamp-precision=nano here, so the
    # nanosecond sample is the same packets rewritten with the nanosecond magic.
    to_nanosecond_pcap(out / "walkthrough.pcap", out / "walkthrough-nano.pcap")
    expect_packets(out / "walkthrough-nano.pcap", 2 * len(walk))
    # Bridged /24: each pod packet crosses the pod's veth (in) and the dns veth (out).
    expect_packets(node_raw, 2 * 2 * total)
    to_pcapng(node_raw, out / "walkthrough-any.pcapng")
    # mtime=0 so the same pcap always gives the same .gz bytes.
    raw = (out / "walkthrough.pcap").read_bytes()
    with gzip.GzipFile(out / "walkthrough.pcap.gz", "wb", mtime=0) as g:
        g.write(raw)
    return walk


def routed(out: Path, tmp: Path) -> None:
    """node-routed-any.pcapng: DNS behind the node's router, so three copies per packet."""
    with PodNetwork("dnssniff-samples", routed=True) as net:
        net.start_dns(ZONE)
        raw = tmp / "node-routed-any.pcap"
        with net.capture("node-any", raw):
            run_checked(net, GETENT_HTTPD)
        total = len(net.queries())
    expect_packets(raw, 3 * 2 * total)
    to_pcapng(raw, out / "node-routed-any.pcapng")


def tcp(out: Path) -> list[tuple[str, str, str]]:
    """tcp.pcap: dig over TCP, then glibc falling back to TCP after a TC=1 answer."""
    with PodNetwork("dnssniff-samples") as net:
        net.start_dns(ZONE)
        with net.capture("pod-eth0", out / "tcp.pcap"):
            run_checked(
                net, ["dig", "+tcp", "+tries=1", "+time=2", f"@{net.dns_ip}", "example.org"]
            )
            run_checked(net, ["getent", "ahosts", "tc.example.org."])
        queries = queries_of(net)
    # Two UDP exchanges (TC=1), one TCP query for dig, two pipelined on one TCP connection.
    udp = sum(1 for q in queries if q[0] == "udp")
    if udp != 2 or len(queries) != 5:
        raise CaptureMismatch(f"tcp.pcap: unexpected queries {queries}")
    # TCP segment counts depend on delayed ACKs, so only a lower bound is checked there.
    if tcpdump_count(out / "tcp.pcap", "udp") != 2 * udp:
        raise CaptureMismatch("tcp.pcap: UDP packets missing")
    if tcpdump_count(out / "tcp.pcap", "tcp") < MIN_TCP_PACKETS:
        raise CaptureMismatch("tcp.pcap: TCP packets missing")
    return queries


def summarize(paths: Sequence[Path]) -> None:
    for path in paths:
        probe = tcpdump_read(path, "-c", "1").stderr.decode()
        link = next((ln for ln in probe.splitlines() if "link-type" in ln), "?")
        link = link.split("link-type", 1)[1].strip() if "link-type" in link else link
        size = path.stat().st_size
        print(f"{path.name:28} {tcpdump_count(path):4d} packets  {size:6d} bytes  {link}")
        if size > MAX_SAMPLE_BYTES:
            raise SystemExit(f"{path.name} is larger than {MAX_SAMPLE_BYTES} bytes")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("-v", "--verbose", action="store_true", help="print the server logs")
    args = parser.parse_args(argv)
    reason = netns_available()
    if reason:
        print(f"cannot make samples: {reason}", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".tmp"
    tmp.mkdir(exist_ok=True)
    try:
        walk = with_retries(lambda: walkthrough(out, tmp))
        with_retries(lambda: routed(out, tmp))
        tcp_queries = with_retries(lambda: tcp(out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.verbose:
        print("walkthrough queries:", *walk, sep="\n  ")
        print("tcp.pcap queries:", *tcp_queries, sep="\n  ")
    names = [
        "walkthrough.pcap",
        "walkthrough-nano.pcap",
        "walkthrough.pcap.gz",
        "walkthrough-any.pcapng",
        "node-routed-any.pcapng",
        "tcp.pcap",
    ]
    summarize([out / n for n in names])
    return 0


if __name__ == "__main__":
    sys.exit(main())
