"""`lookups`, `explain` and `whatif` on the shipped captures (recorded from real glibc)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dnssniff.cli import app
from dnssniff.status import ExitCode

PCAPS = Path(__file__).resolve().parent.parent / "pcaps"
WALK = PCAPS / "walkthrough.pcap"
ANY = PCAPS / "walkthrough-any.pcapng"
SEARCH = [
    "default.svc.cluster.local",
    "svc.cluster.local",
    "cluster.local",
    "us-central1-c.c.myproject.internal",
]


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def lookups(*args) -> list[dict]:
    result = run("lookups", *args, "-f", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return [r for r in rows if r["type"] == "lookup"]


@pytest.fixture
def resolv_conf(tmp_path) -> Path:
    path = tmp_path / "resolv.conf"
    path.write_text(f"nameserver 10.96.0.10\nsearch {' '.join(SEARCH)}\noptions ndots:5\n")
    return path


def test_walkthrough_is_one_lookup_of_ten_queries_eight_wasted():
    (lk,) = lookups(WALK)
    assert (
        lk["client"],
        lk["name"],
        lk["qtypes"],
        lk["queries"],
        lk["wasted_queries"],
        lk["outcome"],
        lk["answer_name"],
        lk["resolver"],
    ) == ("10.244.1.10", "google.com.", ["A", "AAAA"], 10, 8, "NOERROR", "google.com.", "glibc")
    names = [f"google.com.{s}." for s in SEARCH] + ["google.com."]
    assert [(t["qname"], t["qtype"]) for t in lk["chain"]] == [
        (n, q) for n in names for q in ("A", "AAAA")
    ]
    assert [t["rcode"] for t in lk["chain"]] == ["NXDOMAIN"] * 8 + ["NOERROR"] * 2
    assert sorted(lk["answers"]) == ["142.250.72.14", "2607:f8b0:4007:80f::200e"]
    assert 0 < lk["wasted_time"] < lk["duration"]
    assert "search-list expansion" in lk["findings"]


def test_node_capture_three_commands_three_lookups(resolv_conf):
    expected = [
        ("google.com.", 10, 8, "google.com."),
        ("httpd-example.", 6, 4, "httpd-example.default.svc.cluster.local."),
        ("example.org.", 10, 8, "example.org."),
    ]
    for args in ((), ("--resolv-conf", resolv_conf), ("--search", ",".join(SEARCH), "--ndots", 5)):
        got = sorted(lookups(ANY, *args), key=lambda r: r["start"])
        assert [
            (r["name"], r["queries"], r["wasted_queries"], r["answer_name"]) for r in got
        ] == expected, args
    httpd = sorted(lookups(ANY), key=lambda r: r["start"])[1]
    # gethostbyname2 (getent hosts): AAAA through the whole list, then A.
    assert [t["qtype"] for t in httpd["chain"]] == ["AAAA"] * 5 + ["A"]


def test_lookups_json_has_totals_names_clients_advice():
    result = run("lookups", ANY, "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert len(doc["lookups"]) == 3
    assert doc["config"] == {"search": SEARCH, "ndots": 5, "source": "inferred from traffic"}
    assert (
        doc["totals"]["lookups"],
        doc["totals"]["queries"],
        doc["totals"]["wasted_queries"],
    ) == (3, 26, 20)
    assert [n["name"] for n in doc["names"]] == ["example.org.", "google.com.", "httpd-example."]
    assert doc["clients"][0]["client"] == "10.244.1.10"
    assert doc["advice"][0] == (
        "set dnsConfig options ndots: 1 (now 5): saves 16 of 26 queries (62%) in this capture"
    )
    assert any("use 'google.com.' (trailing dot)" in a for a in doc["advice"])
    assert "inferred from the traffic" in result.stderr


def test_lookups_table_for_people():
    result = run("lookups", ANY)
    assert result.exit_code == 0
    out = result.stdout
    assert "most wasteful lookups" in out and "per name" in out and "what to change" in out
    assert "26 queries, 20 wasted (76.9%)" in out


def test_lookups_csv_has_one_row_per_lookup():
    result = run("lookups", ANY, "-f", "csv")
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("client,name,qtypes,") and len(lines) == 4


def test_explain_walkthrough(resolv_conf):
    result = run("explain", "google.com", "--resolv-conf", resolv_conf, "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    names = [f"google.com.{s}." for s in SEARCH] + ["google.com."]
    assert [(q["name"], q["qtype"]) for q in doc["queries"]] == [
        (n, t) for n in names for t in ("A", "AAAA")
    ]
    table = run("explain", "google.com", "--resolv-conf", resolv_conf).stdout
    assert "10 queries if only the last name exists (8 of them wasted)" in table
    assert "Asking for 'google.com.' (trailing dot) sends 2 queries." in table


def test_explain_resolvers_differ(resolv_conf):
    musl = json.loads(
        run(
            "explain",
            "a.b.c.d.e.example.org",
            "--resolv-conf",
            resolv_conf,
            "--resolver",
            "musl",
            "-f",
            "json",
        ).stdout
    )
    assert [q["name"] for q in musl["queries"]] == ["a.b.c.d.e.example.org."] * 2
    glibc = json.loads(
        run("explain", "a.b.c.d.e.example.org", "--resolv-conf", resolv_conf, "-f", "json").stdout
    )
    assert glibc["queries"][0]["name"] == "a.b.c.d.e.example.org."
    assert len(glibc["queries"]) == 10
    dig = json.loads(
        run(
            "explain", "google.com", "--resolv-conf", resolv_conf, "--resolver", "dig", "-f", "json"
        ).stdout
    )
    assert [(q["name"], q["qtype"]) for q in dig["queries"]] == [("google.com.", "A")]
    fqdn = json.loads(
        run("explain", "google.com.", "--search", "svc.cluster.local", "-f", "json").stdout
    )
    assert len(fqdn["queries"]) == 2


def test_whatif_fqdn_and_ndots():
    fq = json.loads(run("whatif", ANY, "--fqdn", "-f", "json").stdout)
    assert (fq["lookups"], fq["queries_before"], fq["queries_after"], fq["unreachable"]) == (
        3,
        26,
        6,
        0,
    )
    nd = json.loads(run("whatif", ANY, "--ndots", 1, "-f", "json").stdout)
    assert (nd["queries_before"], nd["queries_after"]) == (26, 10)
    per = {n["name"]: (n["queries_before"], n["queries_after"]) for n in nd["per_name"]}
    assert per == {"google.com.": (10, 2), "example.org.": (10, 2), "httpd-example.": (6, 6)}
    short = json.loads(
        run("whatif", ANY, "--search", "default.svc.cluster.local", "-f", "json").stdout
    )
    # google.com and example.org: one expansion then as-is, A+AAAA (4 each); httpd-example,
    # gethostbyname2's passes: AAAA at the one expansion (NODATA) and as-is, then A (3).
    assert short["queries_after"] == 4 + 4 + 3 and short["unreachable"] == 0


def _one_line_error(result, code, text):
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and text in lines[0]


def test_config_errors(tmp_path, resolv_conf):
    _one_line_error(
        run("lookups", WALK, "--resolv-conf", tmp_path / "nope"), ExitCode.USAGE, "no such file"
    )
    _one_line_error(
        run("lookups", WALK, "--resolv-conf", resolv_conf, "--search", "x"),
        ExitCode.USAGE,
        "either --resolv-conf or --search",
    )
    _one_line_error(run("lookups", WALK, "--ndots", 3), ExitCode.USAGE, "--ndots needs")
    _one_line_error(run("whatif", WALK), ExitCode.USAGE, "say what to change")
    _one_line_error(
        run("explain", "x", "--search", "a", "--ndots", 99), ExitCode.USAGE, "out of range"
    )


def test_limit_sets_how_many_wasteful_lookups_are_kept():
    doc = json.loads(run("lookups", ANY, "-f", "json", "--limit", 2).stdout)
    assert [lk["name"] for lk in doc["most_wasteful"]] == ["example.org.", "google.com."]
    _one_line_error(run("lookups", ANY, "--limit", 0), ExitCode.USAGE, "--limit")


def _walks_pcap(path: Path) -> Path:
    """A pod whose first 17 s (the inference sample) show three search domains, then a
    walk through all four (glibc: A and AAAA per name on one socket, NXDOMAIN each)."""
    import dns.message
    import dns.rcode
    import dns.rrset
    from scapy.all import IP, UDP, Ether, wrpcap

    domains = ["default.svc.cluster.local", "svc.cluster.local", "cluster.local", "ec2.internal"]
    pkts = []
    ident = [1]

    def step(t: float, name: str, port: int, found: bool) -> None:
        for i, qtype in enumerate(("A", "AAAA")):
            query = dns.message.make_query(name, qtype, id=ident[0])
            ident[0] += 1
            reply = dns.message.make_response(query)
            if found:
                data = "10.0.0.1" if qtype == "A" else "fd00::1"
                reply.answer.append(dns.rrset.from_text(name, 30, "IN", qtype, data))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            for at, src, dst, sport, dport, msg in (
                (t + i * 1e-5, "10.244.1.10", "10.96.0.10", port, 53, query),
                (t + 3e-4 + i * 1e-5, "10.96.0.10", "10.244.1.10", 53, port, reply),
            ):
                pkt = Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / msg.to_wire()
                pkt.time = at
                pkts.append(pkt)

    t0 = 1700000000.0
    for i, base in enumerate(("a.b", "c.d", "e.f")):
        for j, domain in enumerate(domains[:3]):
            step(t0 + i + j * 0.001, f"{base}.{domain}.", 40000 + 10 * i + j, j == 2)
    names = [f"nope.{d}." for d in domains] + ["nope."]
    for j, name in enumerate(names):
        step(t0 + 30 + j * 0.001, name, 41000 + j, False)
    pkts.sort(key=lambda p: p.time)
    wrpcap(str(path), pkts)
    return path


def test_lookups_learn_a_search_domain_the_inference_sample_missed(tmp_path):
    pcap = _walks_pcap(tmp_path / "walks.pcap")
    result = run("lookups", str(pcap), "-f", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    got = [(r["name"], r["queries"], r["wasted_queries"]) for r in rows if r["type"] == "lookup"]
    assert got[-1] == ("nope.", 10, 8)
    assert len(got) == 4
    assert (
        "search default.svc.cluster.local svc.cluster.local cluster.local; ndots:5; later walks "
        "showed more search domains: ec2.internal (1 client)"
    ) in result.stderr
