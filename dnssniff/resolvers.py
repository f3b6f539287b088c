"""Which names each stub resolver sends for one application lookup, and when it stops.

The rules are data here, in one place, because three consumers must agree on them: the
lookup reconstruction (`dnssniff.lookups`), the what-if replay (`dnssniff.whatif`) and
`dnssniff explain`. They follow the resolvers' sources and what was seen on the wire
(DESIGN.md, "Lookups"): glibc `resolv/res_query.c`, musl `src/network/lookup_name.c`,
Go `src/net/dnsclient_unix.go` (without StrictErrors), BIND 9.18 dig and nslookup.

Names are presentation text (escaped as dnssniff prints them). Only an unescaped dot
separates labels, so `a\\.b` has no dots for ndots and a final `\\.` is not a trailing dot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dnssniff.resolvconf import ResolverConfig

Resolver = Literal["glibc", "musl", "go", "dig", "dig+search", "nslookup"]
RESOLVERS: tuple[str, ...] = ("glibc", "musl", "go", "dig", "dig+search", "nslookup")

# What a resolver does after the reply for one candidate name. "NODATA" is NOERROR without
# answers; "TIMEOUT" is no reply after every attempt. Anything not listed stops the search.
_CONTINUES: dict[str, frozenset[str]] = {
    # res_search: NXDOMAIN and NODATA go on; SERVFAIL (TRY_AGAIN with rcode SERVFAIL) goes
    # on; a timeout or ECONNREFUSED/REFUSED ends the search ("done++").
    "glibc": frozenset({"NXDOMAIN", "NODATA", "SERVFAIL"}),
    # name_from_dns_search: only EAI_NONAME (NXDOMAIN) goes on; NODATA, SERVFAIL stop.
    "musl": frozenset({"NXDOMAIN"}),
    # goLookupIPCNAMEOrder: every error goes on to the next name unless StrictErrors.
    "go": frozenset({"NXDOMAIN", "NODATA", "SERVFAIL", "REFUSED", "TIMEOUT"}),
    # dig without +search sends one absolute query: nothing to go on to.
    "dig": frozenset(),
    # dighost.c next_origin() is driven by NXDOMAIN.
    "dig+search": frozenset({"NXDOMAIN"}),
    "nslookup": frozenset({"NXDOMAIN"}),
}

_QTYPES: dict[str, tuple[str, ...]] = {
    "glibc": ("A", "AAAA"),  # getaddrinfo with AF_UNSPEC: both, back to back, one socket
    "musl": ("A", "AAAA"),  # both in parallel on one socket
    "go": ("A", "AAAA"),  # both, each on its own socket
    "dig": ("A",),
    "dig+search": ("A",),
    "nslookup": ("A",),  # then AAAA only for the name that answered
}


@dataclass(slots=True, frozen=True)
class PlannedQuery:
    """One candidate name a resolver will query, with the types it asks and why."""

    name: str
    qtypes: tuple[str, ...]
    reason: str


def is_absolute(name: str) -> bool:
    """True when the name ends with an unescaped dot (the application asked for an FQDN)."""
    if not name.endswith("."):
        return False
    backslashes = len(name) - 1 - len(name[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def count_dots(name: str) -> int:
    """Unescaped dots in a relative name: the number ndots is compared with."""
    if "\\" not in name:
        return name.count(".")
    dots = 0
    i = 0
    while i < len(name):
        c = name[i]
        if c == "\\":
            i += 2
            continue
        if c == ".":
            dots += 1
        i += 1
    return dots


def relative(name: str) -> str:
    """The name without its trailing (unescaped) dot; "." becomes ""."""
    return name[:-1] if is_absolute(name) else name


def candidate_names(base: str, config: ResolverConfig, resolver: str = "glibc") -> list[str]:
    """The names (relative, no trailing dot) tried for relative name `base`, in order.

    This is the ordering the lookup reconstruction matches chains against; for an
    absolute name use `planned_queries`.
    """
    dots = count_dots(base)
    suffixed = [f"{base}.{s}" if base else s for s in config.search]
    if resolver == "dig":
        return [base]
    if dots >= config.ndots:
        if resolver == "musl":
            return [base]
        return [base, *suffixed]
    return [*suffixed, base]


def planned_queries(
    name: str, config: ResolverConfig, resolver: str = "glibc"
) -> list[PlannedQuery]:
    """The queries `resolver` sends for an application's `name`, in order, with reasons.

    Names in the result are absolute (trailing dot). Raises ValueError for an unknown
    resolver name.
    """
    if resolver not in _QTYPES:
        raise ValueError(f"unknown resolver {resolver!r}; expected one of {', '.join(RESOLVERS)}")
    qtypes = _QTYPES[resolver]
    extra = "; AAAA only for the name that answers" if resolver == "nslookup" else ""
    if is_absolute(name):
        return [PlannedQuery(name, qtypes, "trailing dot: tried as-is only" + extra)]
    base = name
    if resolver == "dig":
        return [PlannedQuery(base + ".", qtypes, "dig does not use the search list: as-is only")]
    if not config.search:
        return [PlannedQuery(base + ".", qtypes, "no search list: tried as-is only" + extra)]
    dots = count_dots(base)
    n = len(config.search)
    plural = "dot" if dots == 1 else "dots"
    out: list[PlannedQuery] = []
    if dots >= config.ndots:
        if resolver == "musl":
            reason = f"{dots} {plural} >= ndots:{config.ndots}: musl tries it as-is only, no search"
            return [PlannedQuery(base + ".", qtypes, reason + extra)]
        first = f"{dots} {plural} >= ndots:{config.ndots}: as-is first"
        out.append(PlannedQuery(base + ".", qtypes, first + extra))
        for i, suffix in enumerate(config.search, 1):
            reason = f"search list {i}/{n} after as-is"
            out.append(PlannedQuery(f"{base}.{suffix}.", qtypes, reason + extra))
        return out
    for i, suffix in enumerate(config.search, 1):
        reason = f"fewer than {config.ndots} dots: search list first ({i}/{n})"
        out.append(PlannedQuery(f"{base}.{suffix}.", qtypes, reason + extra))
    out.append(PlannedQuery(base + ".", qtypes, "as-is last" + extra))
    return out


def continues_after(resolver: str, result: str) -> bool:
    """Whether `resolver` tries the next candidate name after `result` for the current one.

    `result` is "NOERROR" (with data: never continues), "NODATA", "NXDOMAIN", "SERVFAIL",
    "REFUSED" or "TIMEOUT"; unknown results stop. Raises ValueError for an unknown resolver.
    """
    if resolver not in _CONTINUES:
        raise ValueError(f"unknown resolver {resolver!r}; expected one of {', '.join(RESOLVERS)}")
    return result.upper() in _CONTINUES[resolver]
