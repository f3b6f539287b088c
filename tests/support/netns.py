"""A real "pod" in Linux network namespaces, for tests and sample captures.

Why namespaces rather than mocks: dnssniff must understand what real resolvers (glibc, musl,
dig, Python) put on the wire, and what ``tcpdump -i any`` on a node records. The only honest
source for that is the real programs, talking to a real server, captured by real tcpdump.

Layout (every name carries a prefix, the pid and a counter, so parallel runs never collide)::

    pod0 ns: eth0 10.244.1.10/24 --veth-- vpod0 -+
    pod1 ns: eth0 10.244.1.11/24 --veth-- vpod1 -+- br0 (node ns)
    dns  ns: eth0 10.244.1.53/24 --veth-- vdns  -+

With ``routed=True`` the DNS server sits at 10.96.0.10 (the usual kube-dns service address)
behind the node, which routes between br0 (10.244.1.1) and the vdns link: a node capture
then holds three copies of each pod packet (pod veth, bridge, uplink with TTL - 1), the case
DESIGN.md describes. By default (one bridged /24) it holds two (pod veth in, dns veth out).

Safety: the namespaces have no default route and no link to the host's network, so nothing
sent inside can leave them; the pod's resolv.conf names only our own server.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

DEFAULT_SEARCH = (
    "default.svc.cluster.local",
    "svc.cluster.local",
    "cluster.local",
    "us-central1-c.c.myproject.internal",
)
DNSSERVER = Path(__file__).with_name("dnsserver.py")
SUBNET_PREFIX = "10.244.1."
DNS_IP = "10.244.1.53"
ROUTED_DNS_IP = "10.96.0.10"
NODE_GATEWAY_IP = "10.244.1.1"
MAX_PODS = 8
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
# Time for packets already in the kernel ring to reach tcpdump before it is interrupted.
CAPTURE_DRAIN_SECONDS = 0.3

_counter = itertools.count()
_CAPTURE_WHERE = re.compile(r"^(node|dns|pod(\d*))-(any|eth0|br0)$")


def netns_available() -> str | None:
    """None when namespace tests can run here, else the reason to skip them."""
    if os.name != "posix" or not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("ip", "tcpdump"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    try:
        import dns.message  # noqa: F401
    except ImportError:
        return "dnspython not installed"
    probe = f"dnssniff-probe-{os.getpid()}-{next(_counter)}"
    try:
        added = subprocess.run(["ip", "netns", "add", probe], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "ip netns not available"
    if added.returncode != 0:
        return "ip netns not available: " + added.stderr.decode(errors="replace").strip()
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None


@dataclass(slots=True)
class Capture:
    """A finished (or running) tcpdump: where it wrote and what it said when stopped."""

    path: Path
    where: str
    stderr: list[str] = field(default_factory=list)

    @property
    def packets_captured(self) -> int | None:
        """tcpdump's own "N packets captured" count (None until it has stopped)."""
        for line in self.stderr:
            m = re.match(r"(\d+) packets? captured", line)
            if m:
                return int(m.group(1))
        return None

    @property
    def dropped_by_kernel(self) -> int | None:
        for line in self.stderr:
            m = re.match(r"(\d+) packets? dropped by kernel", line)
            if m:
                return int(m.group(1))
        return None


@dataclass(frozen=True, slots=True)
class Pod:
    """One pod: its namespace, address and the node-side name of its veth."""

    netns: str
    ip: str
    node_veth: str


class PodNetwork:
    """Context manager: node, pod(s) and dns namespaces, torn down on exit even on error."""

    def __init__(
        self,
        name_prefix: str = "dnssniff",
        search: Sequence[str] = DEFAULT_SEARCH,
        ndots: int = 5,
        options: Sequence[str] = (),
        pods: int = 1,
        routed: bool = False,
        pod_ipv6: bool = False,
    ) -> None:
        if not 1 <= pods <= MAX_PODS:
            raise ValueError(f"pods must be 1..{MAX_PODS}")
        base = f"{name_prefix}-{os.getpid()}-{next(_counter)}"
        self.node_ns = f"{base}-node"
        self.dns_ns = f"{base}-dns"
        self.pods = [
            Pod(f"{base}-pod{i}", f"{SUBNET_PREFIX}{10 + i}", f"vpod{i}") for i in range(pods)
        ]
        self.search = tuple(search)
        self.ndots = ndots
        self.options = tuple(options)
        self.routed = routed
        self.pod_ipv6 = pod_ipv6
        self.dns_ip = ROUTED_DNS_IP if routed else DNS_IP
        self.workdir: Path | None = None
        self.log_path: Path | None = None
        self._created: list[str] = []
        self._etc_dirs: list[Path] = []
        self._server: subprocess.Popen[str] | None = None
        self._server_output: list[str] = []
        self._server_reader: _LineReader | None = None

    # -- life cycle ----------------------------------------------------------------------
    def __enter__(self) -> PodNetwork:
        try:
            self.workdir = Path(tempfile.mkdtemp(prefix="dnssniff-netns-"))
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server, delete every namespace and file we made; never raises."""
        if self._server is not None:
            _stop(self._server, signal.SIGTERM)
            self._close_server_pipe()
        for ns in reversed(self._created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        self._created.clear()
        for etc in self._etc_dirs:
            shutil.rmtree(etc, ignore_errors=True)
        self._etc_dirs.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def _build(self) -> None:
        node = self.node_ns
        for ns in (node, self.dns_ns, *(p.netns for p in self.pods)):
            _ip("netns", "add", ns)
            self._created.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", node, "link", "add", "br0", "type", "bridge")
        _ip("-n", node, "link", "set", "br0", "up")
        prefix_len = "24"
        for pod in self.pods:
            self._veth(pod.node_veth, pod.netns, f"{pod.ip}/{prefix_len}", bridged=True)
            if self.pod_ipv6:
                # A global IPv6 address makes glibc's AI_ADDRCONFIG ask for AAAA, as in a
                # dual-stack cluster; nodad so it is usable at once.
                last = pod.ip.rsplit(".", 1)[1]
                _ip(
                    "-n",
                    pod.netns,
                    "addr",
                    "add",
                    f"fd00:10:244:1::{last}/64",
                    "dev",
                    "eth0",
                    "nodad",
                )
            self._write_etc(pod)
        if self.routed:
            _ip("-n", node, "addr", "add", f"{NODE_GATEWAY_IP}/24", "dev", "br0")
            self._veth("vdns", self.dns_ns, f"{self.dns_ip}/32", bridged=False)
            _ip("-n", node, "route", "add", f"{self.dns_ip}/32", "dev", "vdns")
            _ip("-n", self.dns_ns, "route", "add", f"{NODE_GATEWAY_IP}/32", "dev", "eth0")
            _ip("-n", self.dns_ns, "route", "add", f"{SUBNET_PREFIX}0/24", "via", NODE_GATEWAY_IP)
            for pod in self.pods:
                _ip("-n", pod.netns, "route", "add", "10.96.0.0/12", "via", NODE_GATEWAY_IP)
            _netns_exec(node, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        else:
            self._veth("vdns", self.dns_ns, f"{self.dns_ip}/{prefix_len}", bridged=True)

    def _veth(self, node_side: str, ns: str, address: str, *, bridged: bool) -> None:
        node = self.node_ns
        _ip(
            "-n",
            node,
            "link",
            "add",
            node_side,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns,
        )
        if bridged:
            _ip("-n", node, "link", "set", node_side, "master", "br0")
        _ip("-n", node, "link", "set", node_side, "up")
        _ip("-n", ns, "addr", "add", address, "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")

    def _write_etc(self, pod: Pod) -> None:
        """`ip netns exec` bind-mounts /etc/netns/<ns>/* over /etc: the pod's own resolv.conf."""
        etc = Path("/etc/netns") / pod.netns
        etc.mkdir(parents=True, exist_ok=True)
        self._etc_dirs.append(etc)
        (etc / "resolv.conf").write_text(self.resolv_conf(), encoding="ascii")
        short = pod.netns.rsplit("-", 1)[1]
        hosts = f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n{pod.ip}\t{short}\n"
        (etc / "hosts").write_text(hosts, encoding="ascii")

    def resolv_conf(self) -> str:
        """The pod's resolv.conf text, as kubelet writes it for ClusterFirst pods."""
        lines = [f"search {' '.join(self.search)}"] if self.search else []
        lines.append(f"nameserver {self.dns_ip}")
        opts = [f"ndots:{self.ndots}", *self.options]
        lines.append(f"options {' '.join(opts)}")
        return "\n".join(lines) + "\n"

    # -- the DNS server -------------------------------------------------------------------
    def start_dns(self, zone: dict[str, Any]) -> Path:
        """Start dnsserver.py in the dns namespace with this zone; return its query log."""
        if self._server is not None:
            raise RuntimeError("DNS server already running")
        assert self.workdir is not None, "use PodNetwork as a context manager"
        zone_path = self.workdir / "zone.json"
        zone_path.write_text(json.dumps(zone), encoding="utf-8")
        self.log_path = self.workdir / "queries.jsonl"
        self.log_path.touch()
        cmd = [
            sys.executable,
            str(DNSSERVER),
            "--zone",
            str(zone_path),
            "--log",
            str(self.log_path),
            "--listen",
            self.dns_ip,
        ]
        self._server = subprocess.Popen(
            ["ip", "netns", "exec", self.dns_ns, *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self._server.stdout is not None
        self._server_reader = _LineReader(self._server.stdout, self._server_output)
        if not self._server_reader.wait_for("ready", self._server, READY_TIMEOUT):
            _stop(self._server, signal.SIGTERM)
            self._close_server_pipe()
            output = "".join(self._server_output)
            raise RuntimeError(f"dnsserver did not start: {output.strip()}")
        return self.log_path

    def stop_dns(self) -> None:
        """Stop the server (SIGTERM, as a pod's DNS would be stopped) if it runs."""
        if self._server is not None:
            _stop(self._server, signal.SIGTERM)
            self._close_server_pipe()

    def _close_server_pipe(self) -> None:
        if self._server_reader is not None:
            self._server_reader.join()
            self._server_reader = None
        if self._server is not None and self._server.stdout is not None:
            self._server.stdout.close()
        self._server = None

    @property
    def server_output(self) -> str:
        """What the server printed (its "ready" line, or a traceback when it failed)."""
        return "".join(self._server_output)

    def queries(self) -> list[dict[str, Any]]:
        """The server's log: one dict per query received, in arrival order."""
        if self.log_path is None or not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def clear_queries(self) -> None:
        """Forget the log so far (the server appends, so truncating is safe)."""
        if self.log_path is not None:
            self.log_path.write_text("", encoding="utf-8")

    # -- running things in the pod --------------------------------------------------------
    def run(
        self, cmd: list[str], timeout: float = 20, pod: int = 0
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in a pod's namespace (its resolv.conf applies); exit codes are returned."""
        return _netns_exec(self.pods[pod].netns, cmd, timeout=timeout, check=False)

    @contextlib.contextmanager
    def capture(
        self,
        where: str,
        path: str | os.PathLike[str],
        bpf: str = "port 53",
        extra_args: Sequence[str] = (),
    ) -> Iterator[Capture]:
        """Run tcpdump in a namespace while the body runs; yields once it is listening.

        ``where`` is ``pod-eth0``, ``pod-any`` (pod 0; ``pod1-eth0`` for another pod),
        ``node-any``, ``node-br0`` or ``dns-eth0``. tcpdump runs with ``--immediate-mode``,
        a 4 MiB buffer and ``-U`` (plus ``extra_args``, e.g. ``--time-stamp-precision=nano``)
        and is stopped with SIGINT after a short drain, so that
        nothing the body caused is lost.
        """
        ns, iface = self._capture_target(where)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            "tcpdump",
            "--immediate-mode",
            "-B",
            "4096",
            "-U",
            "-n",
            "-Z",
            "root",  # stay root: the file is ours and no privilege drop can race the open
            "-i",
            iface,
            "-w",
            str(out),
            *extra_args,
            *bpf.split(),
        ]
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        cap = Capture(out, where)
        assert proc.stderr is not None
        reader = _LineReader(proc.stderr, cap.stderr)
        try:
            if not reader.wait_for("listening on", proc, READY_TIMEOUT):
                raise RuntimeError(f"tcpdump did not start: {''.join(cap.stderr).strip()}")
            yield cap
            time.sleep(CAPTURE_DRAIN_SECONDS)
        finally:
            _stop(proc, signal.SIGINT)
            reader.join()
            proc.stderr.close()
            cap.stderr[:] = [line.strip() for line in cap.stderr if line.strip()]

    def _capture_target(self, where: str) -> tuple[str, str]:
        m = _CAPTURE_WHERE.match(where)
        if m is None:
            raise ValueError(f"unknown capture point {where!r}")
        who, index, iface = m.group(1), m.group(2), m.group(3)
        if who == "node":
            return self.node_ns, iface
        if who == "dns":
            return self.dns_ns, iface
        return self.pods[int(index or 0)].netns, iface


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _netns_exec(
    ns: str, cmd: list[str], timeout: float = 10, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


class _LineReader:
    """Drains a child's pipe in a thread into a list, so we can wait for a line with a timeout.

    A thread, because a blocking readline has no timeout; it reads to EOF so the child can
    never block on a full pipe.
    """

    def __init__(self, stream: IO[str], sink: list[str]) -> None:
        self._stream = stream
        self._sink = sink
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in self._stream:
                with self._cond:
                    self._sink.append(line)
                    self._cond.notify_all()

    def wait_for(self, needle: str, proc: subprocess.Popen[str], timeout: float) -> bool:
        """True once a line holds needle; False on timeout or if the process exits first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(needle in line for line in self._sink):
                left = deadline - time.monotonic()
                if left <= 0 or (proc.poll() is not None and not self._thread.is_alive()):
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def join(self) -> None:
        """Wait for EOF (the process has ended); bounded so a stuck pipe cannot hang us."""
        self._thread.join(STOP_TIMEOUT)


def _stop(proc: subprocess.Popen[str], sig: int) -> None:
    """Signal, wait, then kill: a test must never leave a process behind."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
