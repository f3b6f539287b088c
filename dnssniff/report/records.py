"""The JSON form of a transaction, shared by every transaction formatter.

Field names are part of dnssniff's interface (documented in the README): `ts`, `proto`,
`client`, `client_port`, `server`, `server_port`, `id`, `qname`, `qtype`, `qclass`,
`status`, `rcode`, `rtt`, `answers`, `retransmits`, then extras. Every string that came off
the wire is already escaped by `dnssniff.dnswire` (`\\DDD` for unprintable bytes).
"""

from __future__ import annotations

from dnssniff.dnswire import answers_of
from dnssniff.mnemonics import qclass_text, qtype_text, rcode_text
from dnssniff.model import Transaction

TRANSACTION_FIELDS = (
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
    "tc",
    "query_size",
    "response_size",
)


def transaction_record(txn: Transaction) -> dict:
    """One transaction as a JSON-ready dict with the documented field names."""
    flow = txn.flow
    response = txn.response
    query = txn.query
    if response is not None:
        rcode = rcode_text(response.rcode)
        answers = list(answers_of(response)) if response.ancount else []
        tc = bool(response.flags & 0x0200)
    else:
        rcode = None
        answers = []
        tc = False
    return {
        "ts": round(txn.ts, 6),
        "proto": flow.transport,
        "client": flow.client,
        "client_port": flow.client_port,
        "server": flow.server,
        "server_port": flow.server_port,
        "id": txn.id,
        "qname": txn.qname,
        "qtype": qtype_text(txn.qtype),
        "qclass": qclass_text(txn.qclass),
        "status": txn.status.value,
        "rcode": rcode,
        "rtt": None if txn.rtt is None else round(txn.rtt, 6),
        "answers": answers,
        "retransmits": txn.retransmits,
        "tc": tc,
        "query_size": None if query is None else query.size,
        "response_size": None if response is None else response.size,
    }
