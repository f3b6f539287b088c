"""Presentation form of DNS names: labels as bytes -> escaped text.

A label on the wire is any 0-63 bytes. Reports print names in terminals, CSV and HTML, so
every byte that could confuse a reader or a parser is escaped exactly as dnspython's
`dns.name.Name.to_text()` does it (RFC 1035 section 5.1 style): the specials
``" ( ) . ; \\ @ $`` get a backslash, every byte outside 0x21-0x7e (space, control bytes such
as ESC, DEL, non-ASCII) becomes ``\\DDD`` with three decimal digits. Matching dnspython means
a name printed by dnssniff can be pasted into dig or dnspython and mean the same name.

Why a hand-written version: almost every real name is plain letters, digits and hyphens,
and for those one `bytes.translate` check plus one `decode` is all the work; the per-byte
loop runs only for the rare odd label.
"""

from __future__ import annotations

_SPECIALS = b'"().;\\@$'

# Bytes printed as themselves: printable ASCII without space and without the specials.
_PLAIN = bytes(c for c in range(0x21, 0x7F) if c not in _SPECIALS)

# The text of every byte value, for the slow path.
_ESCAPED: tuple[str, ...] = tuple(
    ("\\" + chr(c)) if c in _SPECIALS else (chr(c) if 0x20 < c < 0x7F else f"\\{c:03d}")
    for c in range(256)
)


def escape_label(raw: bytes) -> str:
    """Return the presentation form of one label, escaped as dnspython escapes it."""
    if raw.translate(None, _PLAIN):
        return "".join([_ESCAPED[c] for c in raw])
    return raw.decode("ascii")


def labels_text(labels: list[bytes]) -> str:
    """Return the absolute presentation form (trailing dot) of a name given its labels.

    `labels` excludes the empty root label; no labels is the root name ".".
    """
    if not labels:
        return "."
    raw = b".".join(labels)
    # What is left after deleting plain bytes must be exactly the separators we joined
    # with; anything else (a '.' inside a label, a control byte) takes the escaping path.
    left = raw.translate(None, _PLAIN)
    if len(left) == len(labels) - 1 and left.count(46) == len(left):
        return raw.decode("ascii") + "."
    return ".".join([escape_label(label) for label in labels]) + "."
