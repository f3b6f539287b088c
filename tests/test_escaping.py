"""Names and strings from the wire never reach a terminal or a CSV unescaped."""

from __future__ import annotations

import csv
import io
import json

import dns.message
import dns.name
import dns.rrset
import pytest
from scapy.all import IP, UDP, Ether, wrpcap
from typer.testing import CliRunner

from dnssniff.cli import app

HOSTILE = dns.name.Name(
    [
        b"\x1b[2J\x1b]0;pwned\x07",
        b"a\nb\rc",
        b"=cmd|' /C calc'!A0",
        b"svc",
        b"cluster",
        b"local",
        b"",
    ]
)


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    query = dns.message.make_query(HOSTILE, "A", id=4242)
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text(HOSTILE, 30, "IN", "CNAME", "x\\027y.example."))
    response.answer.append(
        dns.rrset.from_text("x\\027y.example.", 30, "IN", "TXT", '"\\027[31mred\\010"')
    )
    base = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    pkts = [
        base
        / IP(src="10.244.1.10", dst="10.96.0.10")
        / UDP(sport=40000, dport=53)
        / query.to_wire(),
        base
        / IP(src="10.96.0.10", dst="10.244.1.10")
        / UDP(sport=53, dport=40000)
        / response.to_wire(),
    ]
    pkts[0].time, pkts[1].time = 1700000000.0, 1700000000.001
    path = tmp_path_factory.mktemp("esc") / "hostile.pcap"
    wrpcap(str(path), pkts)
    return path


def _clean(text: str) -> None:
    bad = [c for c in text if (ord(c) < 0x20 and c not in "\n") or ord(c) == 0x7F]
    assert bad == [], repr(text[:300])


@pytest.mark.parametrize("command", ["transactions", "lookups"])
@pytest.mark.parametrize("fmt", ["table", "jsonl", "json", "csv"])
def test_no_control_byte_reaches_any_output(capture, command, fmt):
    result = CliRunner().invoke(app, [command, str(capture), "-f", fmt])
    assert result.exit_code == 0, result.output
    _clean(result.stdout)
    _clean(result.stderr)
    assert "\\027[2J\\027]0\\;pwned\\007" in result.stdout.replace("\\\\", "\\")


def test_escaped_forms_exactly(capture):
    result = CliRunner().invoke(app, ["transactions", str(capture), "-f", "jsonl"])
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["qname"] == (
        "\\027[2J\\027]0\\;pwned\\007.a\\010b\\013c.=cmd|'\\032/C\\032calc'!A0.svc.cluster.local."
    )
    assert row["answers"][0] == "x\\027y.example."
    assert row["answers"][1] == '"\\027[31mred\\010"'


def test_csv_neutralises_formulas(capture):
    result = CliRunner().invoke(app, ["transactions", str(capture), "-f", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["qname"].startswith("\\027")
    # A cell that a spreadsheet would evaluate gets a leading quote.
    from dnssniff.report.text import csv_cell

    assert csv_cell("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert csv_cell("google.com.") == "google.com."


def test_analyze_table_is_clean(capture):
    result = CliRunner().invoke(app, ["analyze", str(capture)])
    assert result.exit_code == 0
    _clean(result.stdout)
