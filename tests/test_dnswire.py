"""Tests for dnssniff.dnswire, dnssniff.names and dnssniff.mnemonics.

Vectors are built with dnspython (make_query, make_response, rrsets) or by hand for the
malformed cases, and the fast path is checked against dnspython wherever both decode.
Speed figures are in dnssniff/dnswire.py's module docstring.
"""

from __future__ import annotations

import dataclasses
import gzip
import ipaddress
import random
import struct
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rrset
import pytest

from dnssniff.dnswire import Malformed, answers_of, parse_message, read_name, response_details
from dnssniff.mnemonics import (
    opcode_text,
    qclass_text,
    qclass_value,
    qtype_text,
    qtype_value,
    rcode_text,
    rcode_value,
)
from dnssniff.model import Datagram, DnsMessage, Flow, Transport
from dnssniff.names import escape_label, labels_text

CLIENT, CPORT, SERVER, SPORT = "10.0.0.5", 40000, "10.96.0.10", 53
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def query_dg(payload: bytes, transport: Transport = Transport.UDP) -> Datagram:
    return Datagram(1.5, transport, CLIENT, CPORT, SERVER, SPORT, payload)


def response_dg(payload: bytes, transport: Transport = Transport.UDP) -> Datagram:
    return Datagram(1.6, transport, SERVER, SPORT, CLIENT, CPORT, payload)


def header(qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0, flags: int = 0x0100) -> bytes:
    return struct.pack("!6H", 0x1234, flags, qd, an, ns, ar)


def reason(payload: bytes) -> str:
    with pytest.raises(Malformed) as info:
        parse_message(query_dg(payload))
    return info.value.reason


def response_with(qname: str, qtype: str, *rrsets: dns.rrset.RRset) -> bytes:
    r = dns.message.make_response(dns.message.make_query(qname, qtype, id=7))
    for rrset in rrsets:
        r.answer.append(rrset)
    return r.to_wire()


def dnspython_answers(wire: bytes) -> tuple[str, ...]:
    m = dns.message.from_wire(wire)
    return tuple(rd.to_text() for rrset in m.answer for rd in rrset)


def _msg(wire: bytes) -> DnsMessage:
    return parse_message(response_dg(wire))


# --- header and question -------------------------------------------------------------------


def test_dnsmessage_field_order_is_what_parse_message_passes_positionally():
    names = [f.name for f in dataclasses.fields(DnsMessage)]
    assert names == [
        "ts", "flow", "id", "qr", "opcode", "rcode", "flags", "qname", "qname_key", "qtype",
        "qclass", "qdcount", "ancount", "nscount", "arcount", "size", "payload",
    ]  # fmt: skip


def test_query_header_question_and_flow():
    wire = dns.message.make_query("google.com.default.svc.cluster.local.", "A", id=4660).to_wire()
    m = parse_message(query_dg(wire))
    assert m == DnsMessage(
        ts=1.5,
        flow=Flow(Transport.UDP, CLIENT, CPORT, SERVER, SPORT),
        id=4660,
        qr=False,
        opcode=0,
        rcode=0,
        flags=0x0100,
        qname="google.com.default.svc.cluster.local.",
        qname_key="google.com.default.svc.cluster.local.",
        qtype=1,
        qclass=1,
        qdcount=1,
        ancount=0,
        nscount=0,
        arcount=0,
        size=len(wire),
        payload=wire,
    )


def test_response_flow_is_oriented_client_to_server():
    r = dns.message.make_response(dns.message.make_query("example.com.", "AAAA", id=9))
    r.set_rcode(dns.rcode.NXDOMAIN)
    for transport in (Transport.UDP, Transport.TCP):
        m = parse_message(response_dg(r.to_wire(), transport))
        assert m.flow == Flow(transport, CLIENT, CPORT, SERVER, SPORT)
        assert (m.qr, m.rcode, m.id, m.qtype, m.opcode) == (True, 3, 9, 28, 0)
        assert m.flags == 0x8000 | 0x0100 | 3
        assert (m.qdcount, m.ancount, m.nscount, m.arcount) == (1, 0, 0, 0)


def test_opcode_and_flags_word():
    flags = 0x8000 | (5 << 11) | 0x0400 | 0x0200 | 0x0100 | 0x0080 | 0x0020 | 0x0010 | 2
    m = parse_message(response_dg(header(flags=flags) + b"\x00\x00\x06\x00\x01"))
    assert (m.qr, m.opcode, m.rcode, m.flags) == (True, 5, 2, flags)
    assert (m.qname, m.qname_key, m.qtype, m.qclass) == (".", ".", 6, 1)


def test_root_and_chaos_question():
    wire = dns.message.make_query(".", "NS").to_wire()
    assert parse_message(query_dg(wire)).qname == "."
    wire = dns.message.make_query("version.bind.", "TXT", rdclass="CH").to_wire()
    m = parse_message(query_dg(wire))
    assert (m.qname, m.qtype, m.qclass) == ("version.bind.", 16, 3)


def test_upper_case_name_keeps_case_and_key_is_lower():
    wire = dns.message.make_query("GooGle.COM.", "A").to_wire()
    for _ in range(2):  # the second time through the name memo table
        m = parse_message(query_dg(wire))
        assert (m.qname, m.qname_key) == ("GooGle.COM.", "google.com.")


def test_odd_bytes_in_question_name_are_escaped_like_dnspython():
    labels = [b"a\x1bb", b"new\nline", b"dot.in", b"sp ace", b'@$;()"\\', b"\xff\x7fX", b"OK"]
    wire = header() + b"".join(bytes([len(x)]) + x for x in labels) + b"\x00\x00\x01\x00\x01"
    for _ in range(2):
        m = parse_message(query_dg(wire))
        assert m.qname == dns.name.Name([*labels, b""]).to_text()
        assert m.qname == (
            'a\\027b.new\\010line.dot\\.in.sp\\032ace.\\@\\$\\;\\(\\)\\"\\\\.\\255\\127X.OK.'
        )
        assert m.qname_key == m.qname.lower()
        assert m.qname_key.endswith("\\255\\127x.ok.")
        assert "\x1b" not in m.qname and "\n" not in m.qname


def test_compressed_question_name():
    # The only bytes before the first question are the header: arcount's low byte is a
    # root label, so "\x03www" + a pointer to offset 11 is the name "www.".
    wire = header(flags=0x8180) + b"\x03www\xc0\x0b\x00\x01\x00\x01"
    m = parse_message(response_dg(wire))
    assert (m.qname, m.qtype, m.qclass) == ("www.", 1, 1)
    assert dns.name.from_wire(wire, 12)[0].to_text() == "www."


def test_qdcount_zero():
    wire = header(qd=0, flags=(4 << 11))  # NOTIFY without a question
    m = parse_message(query_dg(wire))
    assert (m.qname, m.qname_key, m.qtype, m.qclass, m.qdcount, m.opcode) == ("", "", 0, 0, 0, 4)


def test_payload_may_be_bytearray_or_memoryview():
    wire = dns.message.make_query("a.example.", "A").to_wire()
    assert parse_message(query_dg(bytearray(wire))).qname == "a.example."  # type: ignore[arg-type]
    assert parse_message(query_dg(memoryview(wire))).payload == wire  # type: ignore[arg-type]


# --- malformed -----------------------------------------------------------------------------


def test_malformed_reasons():
    tail = b"\x00\x01\x00\x01"
    assert reason(b"") == "dns: shorter than header"
    assert reason(header()[:11]) == "dns: shorter than header"
    assert reason(header()) == "dns: question name truncated"
    assert reason(header() + b"\x06goo") == "dns: question name truncated"
    assert reason(header() + b"\x06google") == "dns: question name truncated"
    assert reason(header() + b"\x03www\xc0") == "dns: question name truncated"
    assert reason(header() + b"\x40" + b"a" * 64 + b"\x00" + tail) == "dns: label too long"
    assert reason(header() + b"\x80abc\x00" + tail) == "dns: label too long"
    assert reason(header() + b"\x03www\xc0\x0c" + tail) == "dns: compression pointer loop"
    assert reason(header() + b"\x03www\xc0\x10" + tail) == "dns: compression pointer loop"
    assert reason(header() + b"\x03www\xc0\x11" + tail) == "dns: forward compression pointer"
    assert reason(header() + b"\xc0\x20" + b"\x00" * 40) == "dns: forward compression pointer"
    long_name = (b"\x3f" + b"a" * 63) * 4 + b"\x00"  # 257 bytes on the wire
    assert reason(header() + long_name + tail) == "dns: name longer than 255"
    ok_name = (b"\x3f" + b"a" * 63) * 3 + b"\x3d" + b"a" * 61 + b"\x00"  # exactly 255
    assert parse_message(query_dg(header() + ok_name + tail)).qname.count("a") == 250
    assert reason(header() + b"\x00") == "dns: question truncated"
    assert reason(header() + b"\x03com\x00\x00\x01\x00") == "dns: question truncated"


def test_malformed_names_are_rejected_by_dnspython_too():
    for bad in (
        header() + b"\x03www\xc0\x0c",
        header() + b"\x03www\xc0\x10\x00\x00",
        header() + b"\x40" + b"a" * 70,
        header() + (b"\x3f" + b"a" * 63) * 4 + b"\x00",
    ):
        with pytest.raises(Malformed):
            parse_message(query_dg(bad))
        with pytest.raises(dns.exception.DNSException):
            dns.name.from_wire(bad, 12)


def test_pointer_into_the_name_itself_is_a_loop():
    # A second name at 14 points to 12, whose label runs on into the name itself.
    with pytest.raises(Malformed, match=r"^dns: compression pointer loop$"):
        read_name(header() + b"\x01a\xc0\x0c", 14)
    # The target (12) lies before the name (14) but its 4-byte label overlaps the name.
    with pytest.raises(Malformed, match=r"^dns: compression pointer loop$"):
        read_name(header() + b"\x04a\xc0\x0czz", 14)


def test_pointer_chain_limit():
    def chain(hops: int) -> bytes:
        # arcount's low byte (offset 11) is 0, a root; a pointer at 12 to 11, at 14 to 12...
        data = header(ar=0) + struct.pack("!H", 0xC000 | 11)
        for k in range(1, hops):
            data += struct.pack("!H", 0xC000 | (12 + 2 * (k - 1)))
        return data

    data = chain(16)
    assert read_name(data, len(data) - 2) == ([], len(data))
    data = chain(17)
    with pytest.raises(Malformed, match=r"^dns: compression pointer chain too long$"):
        read_name(data, len(data) - 2)


def test_random_mutations_raise_only_malformed_and_agree_with_dnspython():
    rng = random.Random(1035)
    q = dns.message.make_query("www.Example.com.", "A")
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("www.example.com.", 60, "IN", "CNAME", "a.example.net."))
    r.answer.append(dns.rrset.from_text("a.example.net.", 60, "IN", "A", "192.0.2.1"))
    seeds = [q.to_wire(), r.to_wire()]
    accepted = rejected = 0
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(12, len(data))
            data[i] = rng.choice([0, 1, 3, 63, 64, 0xC0, rng.randrange(256)])
        if rng.random() < 0.3:
            del data[rng.randrange(12, len(data)) :]
        data = bytes(data)
        try:
            m = parse_message(response_dg(data))
        except Malformed as err:
            rejected += 1
            assert err.reason.startswith("dns: ")
            if err.reason != "dns: question truncated":
                with pytest.raises(dns.exception.DNSException):
                    dns.name.from_wire(data, 12)
            continue
        accepted += 1
        assert m.qname == dns.name.from_wire(data, 12)[0].to_text()
        answers = answers_of(m)  # never raises
        details = response_details(m)
        assert details.answers == answers
        assert len(details.answers) == len(details.ttls) == len(details.answer_types)
    assert accepted > 300 and rejected > 300


# --- escaping ------------------------------------------------------------------------------


def test_escape_label_examples():
    assert escape_label(b"plain-label_1") == "plain-label_1"
    assert escape_label(b"a.b") == "a\\.b"
    assert escape_label(b"a b") == "a\\032b"  # as dnspython: space is \032, not "\ "
    assert escape_label(b"\x1b[31m") == "\\027[31m"
    assert escape_label(b'"();@$\\') == '\\"\\(\\)\\;\\@\\$\\\\'
    assert escape_label(b"*") == "*"
    assert escape_label(b"") == ""
    assert labels_text([]) == "."
    assert labels_text([b"a.b", b"c"]) == "a\\.b.c."


def test_escape_label_agrees_with_dnspython_on_random_labels():
    rng = random.Random(20240501)
    printable = bytes(range(0x20, 0x7F))
    for _ in range(5000):
        n = rng.randint(1, 63)
        if rng.random() < 0.5:
            raw = bytes(rng.randrange(256) for _ in range(n))
        else:
            raw = bytes(rng.choice(printable) for _ in range(n))
        assert escape_label(raw) == dns.name.Name([raw, b""]).to_text()[:-1]
        labels = [raw, bytes(rng.choice(printable) for _ in range(rng.randint(1, 20)))]
        assert labels_text(labels) == dns.name.Name([*labels, b""]).to_text()


# --- answers and details -------------------------------------------------------------------


def test_answers_a_and_cname_chain():
    wire = response_with(
        "www.example.com.",
        "A",
        dns.rrset.from_text("www.example.com.", 300, "IN", "CNAME", "edge.example.net."),
        dns.rrset.from_text("edge.example.net.", 60, "IN", "CNAME", "E1.CDN.example."),
        dns.rrset.from_text("e1.cdn.example.", 20, "IN", "A", "192.0.2.1", "192.0.2.2"),
    )
    m = _msg(wire)
    answers = answers_of(m)
    assert answers == dnspython_answers(wire)  # dnspython shuffles an rrset's records
    assert answers[:2] == ("edge.example.net.", "E1.CDN.example.")
    assert sorted(answers[2:]) == ["192.0.2.1", "192.0.2.2"]
    d = response_details(m)
    assert d.answers == answers
    assert d.ttls == (300, 60, 20, 20)
    assert d.answer_types == (5, 5, 1, 1)
    assert d.errors == ()
    assert (d.authority_soa, d.soa_minimum, d.edns, d.extended_rcode) == (False, None, None, 0)


def test_answers_aaaa_agree_with_dnspython():
    rng = random.Random(6)
    addresses = ["::", "::1", "::ffff:192.0.2.1", "::192.0.2.1", "2001:db8::1", "1::", "1:0:0:1::1"]
    addresses += [str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(50)]
    addresses += [
        str(ipaddress.IPv6Address(rng.choice([1, 0xFFFF, 0x1234]) << rng.choice([0, 16, 32, 64])))
        for _ in range(50)
    ]
    rrset = dns.rrset.from_text("v6.example.", 5, "IN", "AAAA", *addresses)
    wire = response_with("v6.example.", "AAAA", rrset)
    ours = answers_of(_msg(wire))
    assert ours == dnspython_answers(wire)
    assert "::ffff:192.0.2.1" in ours and "2001:db8::1" in ours


def test_answers_mx_txt_srv_unknown_ptr_ns_dname_caa():
    raw_txt = b'\x13hello \x1b[31m\x07q"u\\o\n\xff'
    txt = dns.rdata.from_wire(1, 16, raw_txt, 0, len(raw_txt))
    rrsets = [
        dns.rrset.from_text("ex.", 60, "IN", "MX", "10 mail.ex.", "20 mx2.other."),
        dns.rrset.from_rdata("ex.", 60, txt),
        dns.rrset.from_text("_sip._tcp.ex.", 60, "IN", "SRV", "0 5 5060 sip.ex."),
        dns.rrset.from_text("ex.", 60, "IN", "TYPE65280", "\\# 3 abcdef"),
        dns.rrset.from_text("1.2.0.192.in-addr.arpa.", 60, "IN", "PTR", "host\\.dot.ex."),
        dns.rrset.from_text("ex.", 60, "IN", "NS", "ns1.ex."),
        dns.rrset.from_text("old.ex.", 60, "IN", "DNAME", "new.ex."),
        dns.rrset.from_text("ex.", 60, "IN", "CAA", '0 issue "letsencrypt.org"'),
    ]
    wire = response_with("ex.", "ANY", *rrsets)
    answers = answers_of(_msg(wire))
    assert answers == dnspython_answers(wire)
    assert (answers[0], answers[1]) in (
        ("10 mail.ex.", "20 mx2.other."),
        ("20 mx2.other.", "10 mail.ex."),
    )
    assert answers[2:] == (
        # TXT: control bytes, ESC and non-ASCII as \DDD; quotes and backslashes escaped.
        '"hello \\027[31m\\007q\\"u\\\\o\\010\\255"',
        "0 5 5060 sip.ex.",
        "\\# 3 abcdef",
        "host\\.dot.ex.",
        "ns1.ex.",
        "new.ex.",
        '0 issue "letsencrypt.org"',
    )
    assert "\x1b" not in "".join(answers)


def test_soa_in_authority_edns_and_extended_rcode():
    q = dns.message.make_query("nope.svc.cluster.local.", "A", use_edns=0, payload=1232)
    r = dns.message.make_response(q)
    r.use_edns(0, payload=1232)
    r.set_rcode(dns.rcode.NXDOMAIN)
    soa = "ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"
    r.authority.append(dns.rrset.from_text("cluster.local.", 30, "IN", "SOA", soa))
    d = response_details(_msg(r.to_wire()))
    assert (d.authority_soa, d.soa_minimum, d.soa_ttl) == (True, 5, 30)
    assert (d.edns, d.edns_version, d.extended_rcode, d.answers, d.errors) == (1232, 0, 3, (), ())

    r.set_rcode(dns.rcode.BADVERS)
    m = _msg(r.to_wire())
    assert m.rcode == 0  # the header holds only the low 4 bits
    assert response_details(m).extended_rcode == 16
    assert rcode_text(response_details(m).extended_rcode) == "BADVERS"


def test_edns_do_bit_in_a_query():
    q = dns.message.make_query("ex.", "A", use_edns=0, payload=4096, want_dnssec=True)
    d = response_details(parse_message(query_dg(q.to_wire())))
    assert (d.edns, d.edns_do, d.rd, d.tc, d.answers) == (4096, True, True, False, ())


def test_flag_bits():
    flags = 0x8000 | 0x0400 | 0x0200 | 0x0100 | 0x0080 | 0x0020 | 0x0010
    d = response_details(_msg(header(flags=flags) + b"\x00\x00\x01\x00\x01"))
    assert (d.tc, d.aa, d.rd, d.ra, d.ad, d.cd) == (True, True, True, True, True, True)
    d = response_details(_msg(header(flags=0x8000 | 0x0200) + b"\x00\x00\x01\x00\x01"))
    assert (d.tc, d.aa, d.rd, d.ra, d.ad, d.cd) == (True, False, False, False, False, False)


def test_truncated_answer_section_gives_partial_answers():
    rrset = dns.rrset.from_text("ex.", 60, "IN", "A", "192.0.2.1", "192.0.2.2", "192.0.2.3")
    wire = response_with("ex.", "A", rrset)
    # Each A record is 16 bytes: cut inside the rdata, the fixed part and the owner name.
    in_wire_order = dnspython_answers(wire)
    assert sorted(in_wire_order) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    for cut, kept in ((1, 2), (10, 2), (15, 2), (17, 1)):
        m = _msg(wire[:-cut])
        assert answers_of(m) == in_wire_order[:kept]
        d = response_details(m)
        assert d.errors == ("dns: answer section truncated",)
        assert d.ttls == (60,) * kept
    # A message whose question is cut (payload replaced after parsing): no exception.
    m = dataclasses.replace(_msg(wire), payload=wire[:14])
    assert answers_of(m) == ()
    assert response_details(m).errors == ("dns: question section truncated",)


def test_bad_rdata_falls_back_to_generic_form():
    base = header(an=3, flags=0x8180) + b"\x02ex\x00\x00\x01\x00\x01"
    rr_a = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x03\x01\x02\x03"  # 3-byte A
    rr_cname = b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x02\xc0\x40"  # forward pointer
    rr_mx = b"\xc0\x0c\x00\x0f\x00\x01\x00\x00\x00\x3c\x00\x01\x00"  # 1-byte MX
    m = _msg(base + rr_a + rr_cname + rr_mx)
    assert answers_of(m) == ("\\# 3 010203", "\\# 2 c040", "\\# 1 00")


def test_second_question_is_skipped_before_answers():
    wire = (
        header(qd=2, an=1, flags=0x8180)
        + b"\x02ex\x00\x00\x01\x00\x01"
        + b"\x03www\xc0\x0c\x00\x1c\x00\x01"
        + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x07"
    )
    m = _msg(wire)
    assert (m.qname, m.qdcount) == ("ex.", 2)
    assert answers_of(m) == ("192.0.2.7",)


# --- mnemonics -----------------------------------------------------------------------------


def test_mnemonics():
    assert [rcode_text(v) for v in (0, 1, 2, 3, 4, 5, 16, 24, 4000)] == [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS",
        "RCODE24", "RCODE4000",
    ]  # fmt: skip
    assert [qtype_text(v) for v in (1, 28, 5, 12, 33, 65, 255, 22, 65534)] == [
        "A", "AAAA", "CNAME", "PTR", "SRV", "HTTPS", "ANY", "NSAP", "TYPE65534",
    ]  # fmt: skip
    assert [qclass_text(v) for v in (1, 3, 4, 254, 255, 42)] == [
        "IN", "CH", "HS", "NONE", "ANY", "CLASS42",
    ]  # fmt: skip
    assert [opcode_text(v) for v in (0, 1, 2, 4, 5, 7)] == [
        "QUERY", "IQUERY", "STATUS", "NOTIFY", "UPDATE", "OPCODE7",
    ]  # fmt: skip
    assert qtype_value("AAAA") == 28
    assert qtype_value("aaaa") == 28
    assert qtype_value("NSAP-PTR") == 23
    assert qtype_value("TYPE65534") == 65534
    assert qtype_value("28") == 28
    assert qclass_value("ch") == 3
    assert rcode_value("NXDOMAIN") == 3
    assert rcode_value("RCODE24") == 24
    for bad in ("AAAAA", "TYPE70000", "", "TYPE"):
        with pytest.raises(ValueError):
            qtype_value(bad)


def test_mnemonics_cover_every_dnspython_type():
    for t in dns.rdatatype.RdataType:
        assert qtype_text(int(t)) == dns.rdatatype.to_text(t)
        assert qtype_value(qtype_text(int(t))) == int(t)


# --- corpus --------------------------------------------------------------------------------


def _corpus_payloads():
    """UDP/53 payloads of every corpus pcap, read with scapy (tests only)."""
    scapy_all = pytest.importorskip("scapy.all")
    for path in sorted(CORPUS.rglob("*.pcap*")):
        try:
            if path.suffix == ".gz":
                with gzip.open(path) as fh:
                    packets = scapy_all.rdpcap(fh)
            else:
                packets = scapy_all.rdpcap(str(path))
        except Exception:
            continue
        for pkt in packets:
            udp = pkt.getlayer(scapy_all.UDP)
            if udp is None or 53 not in (udp.sport, udp.dport):
                continue
            payload = bytes(udp.payload)
            if payload:
                yield path.name, payload


@pytest.mark.corpus
def test_corpus_agrees_with_dnspython():
    if not CORPUS.is_dir():
        pytest.skip("no corpus")
    seen = compared = 0
    for name, payload in _corpus_payloads():
        seen += 1
        try:
            ref = dns.message.from_wire(payload, ignore_trailing=True)
        except Exception:
            ref = None
        try:
            m = parse_message(query_dg(payload))
        except Malformed:
            assert ref is None, name
            continue
        response_details(m)  # never raises
        if ref is None:
            continue
        compared += 1
        assert (m.id, m.flags) == (ref.id, ref.flags), name
        if ref.question:
            q = ref.question[0]
            assert (m.qname, m.qtype, m.qclass) == (q.name.to_text(), q.rdtype, q.rdclass), name
        theirs = [rd.to_text() for rrset in ref.answer for rd in rrset]
        # dnspython merges the records of an rrset and drops duplicates: compare as sets.
        assert set(answers_of(m)) == set(theirs), name
    assert seen > 500 and compared > 500
