"""A stub resolver's configuration, parsed from resolv.conf the way glibc reads it.

The lookup report explains a pod's traffic with the resolver's own rules, so the parser
follows glibc's `resolv/res_init.c` (2.36) rather than a tidier reading of the man page:

- `search` and `domain` replace each other: the LAST of either line wins, and
  `domain X` means a search list of just X;
- `nameserver` lines are all kept, but glibc uses only the first three (MAXNS): a note says so;
- `options ndots:N` is capped at 15, `timeout:N` at 30, `attempts:N` at 5 (RES_MAXNDOTS,
  RES_MAXRETRANS, RES_MAXRETRY); glibc reads the number with `atoi`, so `ndots:x` is 0;
- a line whose first character is `#` or `;` is a comment; unknown keywords and options are
  ignored, as glibc ignores them.

Not modelled (they need the environment or the host, and the core does no I/O): the
LOCALDOMAIN and RES_OPTIONS variables, and the default domain glibc takes from the host
name when no search/domain line exists. glibc since 2.26 has no limit on the number of
search domains, so none is applied.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

MAX_NAMESERVERS = 3
MAX_NDOTS = 15
MAX_TIMEOUT = 30
MAX_ATTEMPTS = 5

_ATOI = re.compile(r"[ \t]*([+-]?\d+)")


def normalise_domain(domain: str) -> str:
    """A search domain as the chain matcher compares it: lower case, no trailing dot."""
    return domain.strip().rstrip(".").lower()


@dataclass(slots=True, frozen=True)
class ResolverConfig:
    """What decides which names a stub resolver sends for one application lookup.

    `search` holds normalised domains (lower case, no trailing dot) in the order they are
    tried. `source` says where the configuration came from ("resolv.conf FILE",
    "command line", "inferred from traffic") because every report must say what it assumed.
    `notes` records what the parser noticed but the resolver silently ignores.
    """

    search: tuple[str, ...] = ()
    ndots: int = 1
    nameservers: tuple[str, ...] = ()
    timeout: float = 5
    attempts: int = 2
    rotate: bool = False
    single_request: bool = False
    single_request_reopen: bool = False
    use_vc: bool = False
    edns0: bool = False
    source: str = "default"
    notes: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, search: list[str], ndots: int) -> ResolverConfig:
        """The configuration given as `--search` and `--ndots` on the command line.

        Search domains may be given comma-separated or one per option.
        """
        domains: list[str] = []
        for item in search:
            for part in item.replace(",", " ").split():
                domain = normalise_domain(part)
                if domain:
                    domains.append(domain)
        return cls(
            search=tuple(domains),
            ndots=min(max(ndots, 0), MAX_NDOTS),
            source="command line",
        )


def _atoi(text: str) -> int:
    """C's atoi: leading digits, 0 when there are none (glibc's option parsing uses it)."""
    match = _ATOI.match(text)
    return int(match.group(1)) if match else 0


def _keyword(line: str, word: str) -> str | None:
    """The rest of `line` when it starts with `word` and a blank (glibc's MATCH macro)."""
    if line.startswith(word) and len(line) > len(word) and line[len(word)] in " \t":
        return line[len(word) :]
    return None


def _valid_address(text: str) -> bool:
    address = text.split("%", 1)[0]
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def parse_resolv_conf(text: str, source: str = "resolv.conf") -> ResolverConfig:
    """Parse resolv.conf text with glibc's rules (see the module docstring). Never raises.

    `source` is recorded as given, e.g. "resolv.conf /etc/resolv.conf".
    """
    search: tuple[str, ...] = ()
    nameservers: list[str] = []
    notes: list[str] = []
    opts: dict[str, int | bool] = {"ndots": 1, "timeout": 5, "attempts": 2}
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if not line or line[0] in "#;":
            continue
        rest = _keyword(line, "domain")
        if rest is not None:
            words = rest.split()
            if words:
                search = (normalise_domain(words[0]),)
            continue
        rest = _keyword(line, "search")
        if rest is not None:
            words = [normalise_domain(w) for w in rest.split()]
            words = [w for w in words if w]
            if words:
                search = tuple(words)
            continue
        rest = _keyword(line, "nameserver")
        if rest is not None:
            words = rest.split()
            if words and _valid_address(words[0]):
                nameservers.append(words[0])
            elif words:
                notes.append(f"nameserver {words[0]!r} is not an IP address: ignored")
            continue
        rest = _keyword(line, "options")
        if rest is not None:
            for word in rest.split():
                _option(word, opts, notes)
    if len(nameservers) > MAX_NAMESERVERS:
        notes.append(
            f"{len(nameservers)} nameservers listed: glibc uses only the first {MAX_NAMESERVERS}"
        )
    return ResolverConfig(
        search=search,
        ndots=int(opts["ndots"]),
        nameservers=tuple(nameservers),
        timeout=float(opts["timeout"]),
        attempts=int(opts["attempts"]),
        rotate=bool(opts.get("rotate", False)),
        single_request=bool(opts.get("single-request", False)),
        single_request_reopen=bool(opts.get("single-request-reopen", False)),
        use_vc=bool(opts.get("use-vc", False)),
        edns0=bool(opts.get("edns0", False)),
        source=source,
        notes=tuple(notes),
    )


_CAPS = {"ndots": MAX_NDOTS, "timeout": MAX_TIMEOUT, "attempts": MAX_ATTEMPTS}
_FLAGS = frozenset({"rotate", "single-request", "single-request-reopen", "use-vc", "edns0"})


def _option(word: str, opts: dict[str, int | bool], notes: list[str]) -> None:
    """Apply one `options` word; numbers are capped exactly as glibc caps them."""
    name, sep, value = word.partition(":")
    if sep and name in _CAPS:
        number = _atoi(value)
        if number < 0:
            # glibc would store a negative value into an unsigned bit-field; no real
            # resolv.conf does this, so say so rather than mimic the wrap-around.
            notes.append(f"options {word}: negative value, treated as 0")
            number = 0
        if number > _CAPS[name]:
            notes.append(f"options {word}: capped at {_CAPS[name]} as glibc caps it")
            number = _CAPS[name]
        opts[name] = number
    elif not sep and name in _FLAGS:
        opts[name] = True
