"""The command line on the shipped sample captures and on bad input, run in-process."""

from __future__ import annotations

import csv
import gzip
import io
import json
import struct
from pathlib import Path

from typer.testing import CliRunner

from dnssniff.cli import app
from dnssniff.status import ExitCode

PCAPS = Path(__file__).resolve().parent.parent / "pcaps"
WALK = PCAPS / "walkthrough.pcap"

EXPANSIONS = [
    "google.com.default.svc.cluster.local.",
    "google.com.svc.cluster.local.",
    "google.com.cluster.local.",
    "google.com.us-central1-c.c.myproject.internal.",
]


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def jsonl(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_walkthrough_transactions_jsonl_exact():
    result = run("transactions", WALK, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = sorted(jsonl(result), key=lambda r: r["ts"])
    assert [(r["qname"], r["qtype"], r["rcode"]) for r in rows] == [
        (name, qtype, "NXDOMAIN") for name in EXPANSIONS for qtype in ("A", "AAAA")
    ] + [("google.com.", "A", "NOERROR"), ("google.com.", "AAAA", "NOERROR")]
    assert {r["status"] for r in rows} == {"answered"}
    assert {(r["client"], r["server"], r["server_port"], r["proto"]) for r in rows} == {
        ("10.244.1.10", "10.244.1.53", 53, "udp")
    }
    assert rows[-2]["answers"] == ["142.250.72.14"]
    assert rows[-1]["answers"] == ["2607:f8b0:4007:80f::200e"]
    # glibc: A and AAAA share one socket, a new socket for every search step.
    ports = [r["client_port"] for r in rows]
    assert ports[0::2] == ports[1::2] and len(set(ports)) == 5
    required = {
        "ts",
        "proto",
        "client",
        "client_port",
        "server",
        "server_port",
        "id",
        "qname",
        "qtype",
        "qclass",
        "status",
        "rcode",
        "rtt",
        "answers",
        "retransmits",
    }
    assert all(required <= set(r) for r in rows)
    assert all(r["rtt"] > 0 and r["retransmits"] == 0 and r["qclass"] == "IN" for r in rows)


def test_analyze_json_summary_walkthrough():
    result = run("analyze", WALK, "--format", "json")
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)["summary"]
    assert {
        k: s[k]
        for k in (
            "frames",
            "dns_messages",
            "queries",
            "responses",
            "transactions",
            "answered",
            "unanswered",
            "unsolicited",
            "retransmits",
            "duplicates",
            "malformed",
        )
    } == {
        "frames": 20,
        "dns_messages": 20,
        "queries": 10,
        "responses": 10,
        "transactions": 10,
        "answered": 10,
        "unanswered": 0,
        "unsolicited": 0,
        "retransmits": 0,
        "duplicates": 0,
        "malformed": 0,
    }
    assert s["malformed_by_reason"] == {}
    assert s["rcodes"] == {"NXDOMAIN": 8, "NOERROR": 2}
    assert 0 < s["p50"] <= s["p90"] <= s["p99"] <= s["max"]


def test_node_any_capture_counts_each_packet_once():
    result = run("analyze", PCAPS / "walkthrough-any.pcapng", "--format", "json")
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)["summary"]
    assert (s["frames"], s["duplicates"], s["queries"], s["responses"]) == (104, 52, 26, 26)
    assert (s["answered"], s["unanswered"], s["unsolicited"]) == (26, 0, 0)
    off = json.loads(
        run(
            "analyze", PCAPS / "walkthrough-any.pcapng", "-f", "json", "--dedupe-window", "0"
        ).stdout
    )["summary"]
    assert off["duplicates"] == 0 and off["queries"] == 52 and off["retransmits"] == 26


def test_gzip_and_stdin_give_the_same_answer(tmp_path):
    plain = jsonl(run("transactions", WALK, "-f", "jsonl"))
    gz = tmp_path / "renamed.bin"
    gz.write_bytes(gzip.compress(WALK.read_bytes()))
    assert jsonl(run("transactions", gz, "-f", "jsonl")) == plain
    piped = run("transactions", "-", "-f", "jsonl", input=gzip.compress(WALK.read_bytes()))
    assert piped.exit_code == 0, piped.output
    assert jsonl(piped) == plain


def test_tcp_sample_pairs_tcp_transactions():
    rows = jsonl(run("transactions", PCAPS / "tcp.pcap", "-f", "jsonl"))
    tcp = [r for r in rows if r["proto"] == "tcp"]
    assert tcp and all(r["status"] == "answered" for r in tcp)
    assert any(r["qname"] == "example.org." for r in tcp)
    assert any(r["tc"] for r in rows if r["proto"] == "udp")


def test_csv_and_json_carry_the_same_rows(tmp_path):
    rows = jsonl(run("transactions", WALK, "-f", "jsonl"))
    out = tmp_path / "t.csv"
    assert run("transactions", WALK, "-f", "csv", "-o", out).exit_code == 0
    parsed = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["qname"] for r in parsed] == [r["qname"] for r in rows]
    assert json.loads(run("transactions", WALK, "-f", "json").stdout) == rows


def test_table_is_for_people():
    result = run("transactions", WALK)
    assert result.exit_code == 0
    assert "google.com.cluster.local." in result.stdout and "NXDOMAIN" in result.stdout
    assert " ms" in result.stdout or " us" in result.stdout


def _one_line_error(result, code, text):
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert text in lines[0]


def test_missing_file(tmp_path):
    _one_line_error(run("analyze", tmp_path / "nope.pcap"), ExitCode.BAD_INPUT, "no such file")


def test_directory(tmp_path):
    _one_line_error(run("analyze", tmp_path), ExitCode.BAD_INPUT, "is a directory")


def test_empty_file(tmp_path):
    f = tmp_path / "empty.pcap"
    f.write_bytes(b"")
    _one_line_error(run("analyze", f), ExitCode.BAD_INPUT, "is empty")


def test_text_file(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("GET / HTTP/1.1\r\nHost: example\r\n\r\n")
    _one_line_error(run("analyze", f), ExitCode.BAD_INPUT, "not a pcap or pcapng capture")


def test_random_bytes(tmp_path):
    f = tmp_path / "random.bin"
    f.write_bytes(bytes(range(7, 250)) * 3)
    _one_line_error(run("transactions", f), ExitCode.BAD_INPUT, "not a pcap or pcapng capture")


def test_unknown_link_type(tmp_path):
    f = tmp_path / "user0.pcap"
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147)
    record = struct.pack("<IIII", 1, 0, 4, 4) + b"abcd"
    f.write_bytes(header + record)
    _one_line_error(run("analyze", f), ExitCode.BAD_INPUT, "unsupported link type 147 (USER0)")


def test_truncated_capture_is_analysed_up_to_the_cut(tmp_path):
    data = WALK.read_bytes()
    f = tmp_path / "cut.pcap"
    f.write_bytes(data[: len(data) - 30])
    result = run("analyze", f, "-f", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["summary"]["frames"] == 19
    assert doc["captures"][0]["truncated"] is True
    warnings = [line for line in result.stderr.splitlines() if line]
    assert len(warnings) == 1 and "truncated" in warnings[0]


def test_bad_option_value():
    _one_line_error(run("analyze", WALK, "--port", "70000"), ExitCode.USAGE, "--port 70000")


def _doubled(path: Path, out: Path) -> None:
    """A copy of a microsecond pcap with every record written twice, 20 us apart."""
    data = path.read_bytes()
    body, pos = [data[:24]], 24
    while pos + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, pos)
        rec = data[pos + 16 : pos + 16 + incl]
        body.append(data[pos : pos + 16] + rec)
        body.append(struct.pack("<IIII", sec, usec + 20, incl, orig) + rec)
        pos += 16 + incl
    out.write_bytes(b"".join(body))


def test_dedupe_auto_is_off_for_one_ethernet_interface_and_can_be_forced(tmp_path):
    doubled = tmp_path / "doubled.pcap"
    _doubled(WALK, doubled)
    auto = json.loads(run("analyze", doubled, "-f", "json").stdout)["summary"]
    assert (auto["frames"], auto["duplicates"], auto["retransmits"], auto["answered"]) == (
        40,
        0,
        10,
        10,
    )
    on = json.loads(run("analyze", doubled, "-f", "json", "--dedupe", "on").stdout)["summary"]
    assert (on["duplicates"], on["retransmits"], on["answered"], on["late_responses"]) == (
        20,
        0,
        10,
        0,
    )
    off = json.loads(
        run("analyze", PCAPS / "walkthrough-any.pcapng", "-f", "json", "--dedupe", "off").stdout
    )["summary"]
    assert off["duplicates"] == 0 and off["retransmits"] == 26


def _late_copies_sll2(path: Path, out: Path, delay_us: int) -> None:
    """The microsecond Ethernet pcap `path` as `tcpdump -i any` on a loaded node writes it:
    LINUX_SLL2, each packet seen on the pod's veth (ifindex 3) and again on the server's
    (ifindex 5) `delay_us` later, records in time order."""
    data = path.read_bytes()
    records, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16 : pos + 16 + incl]
        ip = frame[14:]
        for n, (ifindex, pkttype) in enumerate(((3, 0), (5, 4))):
            link = struct.pack("!HHIHBB8s", 0x0800, 0, ifindex, 1, pkttype, 6, frame[6:12])
            records.append((sec * 1_000_000 + usec + n * delay_us, link + ip))
        pos += 16 + incl
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 276)
    body = [header]
    for us, rec in sorted(records, key=lambda r: r[0]):
        body.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(rec), len(rec)))
        body.append(rec)
    out.write_bytes(b"".join(body))


def test_late_copy_on_another_interface_counts_once(tmp_path):
    """A CI run's node capture held one copy 10.3 ms after the first: with the old 10 ms
    window it became a retransmission and an extra query in a lookup."""
    late = tmp_path / "late.pcap"
    _late_copies_sll2(WALK, late, 25_000)
    auto = json.loads(run("analyze", late, "-f", "json").stdout)["summary"]
    assert (auto["frames"], auto["duplicates"], auto["retransmits"], auto["answered"]) == (
        40,
        20,
        0,
        10,
    )
    lookups = jsonl(run("lookups", late, "-f", "jsonl"))
    assert [
        (lk["name"], lk["queries"], lk["wasted_queries"])
        for lk in lookups
        if lk["type"] == "lookup"
    ] == [("google.com.", 10, 8)]
    # The old 10 ms window takes every late copy for a packet of its own.
    narrow = run("analyze", late, "-f", "json", "--dedupe-window", "0.010")
    summary = json.loads(narrow.stdout)["summary"]
    assert (summary["duplicates"], summary["answered"]) == (0, 20)


def test_nanosecond_sample_gives_the_same_transactions():
    nano = jsonl(run("transactions", PCAPS / "walkthrough-nano.pcap", "-f", "jsonl"))
    assert nano == jsonl(run("transactions", WALK, "-f", "jsonl"))
    assert (PCAPS / "walkthrough-nano.pcap").read_bytes()[:4] == b"\x4d\x3c\xb2\xa1"


def test_failed_run_leaves_no_output_file(tmp_path):
    out = tmp_path / "report.jsonl"
    result = run("transactions", tmp_path / "missing.pcap", "-f", "jsonl", "-o", out)
    assert result.exit_code == ExitCode.BAD_INPUT and not out.exists()
    assert run("transactions", WALK, "-f", "jsonl", "-o", out).exit_code == 0
    assert len(out.read_text().splitlines()) == 10
