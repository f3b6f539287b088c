"""DNS protocol numbers <-> their mnemonics (NOERROR, AAAA, IN, QUERY).

dnspython's enums are the source of truth, but `dns.rdatatype.to_text()` and friends go
through enum machinery on every call (about 1 us). Reports label every transaction, so the
names are read from the enums once, here, and each later lookup is a dict access. Unknown
numbers get the RFC 3597 style generic form: TYPE65534, CLASS42, and in the same spirit
RCODE24 and OPCODE7.
"""

from __future__ import annotations

import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

_QTYPE: dict[int, str] = {int(t): dns.rdatatype.to_text(t) for t in dns.rdatatype.RdataType}
_QCLASS: dict[int, str] = {int(c): dns.rdataclass.to_text(c) for c in dns.rdataclass.RdataClass}
_RCODE: dict[int, str] = {int(r): dns.rcode.to_text(r) for r in dns.rcode.Rcode}
_OPCODE: dict[int, str] = {int(o): dns.opcode.to_text(o) for o in dns.opcode.Opcode}

_QTYPE_VALUE: dict[str, int] = {text: value for value, text in _QTYPE.items()}
_QCLASS_VALUE: dict[str, int] = {text: value for value, text in _QCLASS.items()}
_RCODE_VALUE: dict[str, int] = {text: value for value, text in _RCODE.items()}


def qtype_text(value: int) -> str:
    """Return the mnemonic of an RR type ("AAAA"), or "TYPE<n>" when it has none."""
    text = _QTYPE.get(value)
    return text if text is not None else f"TYPE{value}"


def qclass_text(value: int) -> str:
    """Return the mnemonic of a class ("IN", "CH", "ANY"), or "CLASS<n>"."""
    text = _QCLASS.get(value)
    return text if text is not None else f"CLASS{value}"


def rcode_text(value: int) -> str:
    """Return the mnemonic of a response code ("NXDOMAIN"), or "RCODE<n>".

    `value` may be the 12-bit extended rcode (header bits plus EDNS upper bits), so 16 is
    BADVERS.
    """
    text = _RCODE.get(value)
    return text if text is not None else f"RCODE{value}"


def opcode_text(value: int) -> str:
    """Return the mnemonic of an opcode ("QUERY", "NOTIFY"), or "OPCODE<n>"."""
    text = _OPCODE.get(value)
    return text if text is not None else f"OPCODE{value}"


def _value(text: str, table: dict[str, int], prefix: str, limit: int, what: str) -> int:
    """Parse a mnemonic or its generic form (prefix + decimal number) into a number."""
    key = text.strip().upper()
    value = table.get(key)
    if value is not None:
        return value
    if key.startswith(prefix) and key[len(prefix) :].isdigit():
        value = int(key[len(prefix) :])
        if value <= limit:
            return value
    if key.isdigit() and int(key) <= limit:
        return int(key)
    raise ValueError(f"unknown DNS {what} {text!r}")


def qtype_value(text: str) -> int:
    """Return the number of an RR type given "AAAA", "aaaa", "TYPE65534" or "28".

    Raises ValueError for text that names no type (the CLI turns it into a usage error).
    """
    return _value(text, _QTYPE_VALUE, "TYPE", 0xFFFF, "type")


def qclass_value(text: str) -> int:
    """Return the number of a class given "IN", "ch", "CLASS42" or "1"; ValueError otherwise."""
    return _value(text, _QCLASS_VALUE, "CLASS", 0xFFFF, "class")


def rcode_value(text: str) -> int:
    """Return the number of a response code given "NXDOMAIN", "RCODE24" or "3".

    Raises ValueError for text that names no response code.
    """
    return _value(text, _RCODE_VALUE, "RCODE", 0xFFF, "rcode")
