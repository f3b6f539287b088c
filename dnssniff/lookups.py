"""Rebuild the lookups applications made from the transactions a resolver sent for them.

One `getaddrinfo("google.com")` in a pod with the usual Kubernetes resolv.conf (four search
domains, ndots:5) is ten transactions on the wire: A and AAAA for each expansion, all
NXDOMAIN, then the name as-is. The report counts that as ONE lookup of `google.com.` that
cost 10 queries, 8 of them wasted. This module does the grouping.

How (the rules of `dnssniff.resolvers` as a matcher):

- Every transaction name is read as each "base + . + search domain" it could be, and as
  the base itself ("as-is"); each reading gives the position of that name in the order the
  resolver tries the base's candidates. A chain keeps the readings all its names agree on.
- A transaction continues an open chain of the same client when one of its readings does:
  the next position (a further search step), the same position (the other query type, a
  resend after a loss or SERVFAIL, the TCP retry of a truncated answer), or position 0
  again with a query type the chain has not asked yet (`getent hosts` walks the list for
  AAAA and then again for A). A name after the chain got data, the same question again
  without a reason to resend, or a gap of more than `window` seconds starts a new lookup.
- Transactions reach us in completion order (an unanswered one only when the correlator
  gives up on it, 15 s later by default), so they are held `reorder` seconds and processed
  in order of their first transmission. Each is then complete (status, reply, resends)
  when it is matched, which keeps the matcher a plain function of the past.

Memory is bounded: the reorder buffer and open chains together hold at most `max_open`
transactions, a client at most `max_chains_per_client` open chains; what is pushed out early
is counted in `stats`, never dropped silently (an evicted chain is still reported).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from dnssniff.dnswire import answers_of
from dnssniff.mnemonics import qtype_text, rcode_text
from dnssniff.model import Status, Transaction, Transport
from dnssniff.resolvconf import MAX_NDOTS, ResolverConfig
from dnssniff.resolvers import candidate_names, count_dots

TC_FLAG = 0x0200
DEFAULT_WINDOW = 12.0
# The correlator emits an unanswered transaction 15 s (its default timeout) after the
# first transmission, at its next expiry sweep (every 1 s): it must still be placed in
# order, so hold transactions longer than timeout + sweep.
DEFAULT_REORDER = 17.0
MAX_CHAIN = 64  # transactions in one chain; a longer "chain" is a loop or a storm, cut it

# Outcome of a lookup from the replies at its final name: the best one wins.
_OUTCOME_RANK = {"NOERROR": 0, "NODATA": 1, "NXDOMAIN": 2, "SERVFAIL": 3, "REFUSED": 4}
_TIMEOUT_RANK = 5
_OTHER_RANK = 6

_INFERRED = "inferred from traffic"


@dataclass(slots=True, frozen=True)
class Lookup:
    """One lookup an application made, and what it cost on the wire.

    `name` is what the application asked for (trailing dot added), `answer_name` the name
    that answered with data, else the last one tried. `queries` counts every transmission
    (retransmissions too); `wasted_queries` all but, for each query type, the one
    transmission of the final name whose reply was used. `wasted_time` runs from the first
    query to the sending of the useful query. `final` holds, per query type, the transaction
    of the final name whose reply was used (or the last unanswered one), so a
    caller can decode their answers into `answers` (left empty here: most reports never
    show them, and decoding costs more than the grouping).
    """

    client: str
    name: str
    qtypes: tuple[str, ...]
    start: float
    duration: float
    queries: int
    wasted_queries: int
    wasted_time: float
    outcome: str
    answer_name: str
    answers: tuple[str, ...]
    resolver: str
    chain: tuple[Transaction, ...]
    findings: tuple[str, ...]
    final: tuple[Transaction, ...] = ()


@dataclass(slots=True)
class LookupStats:
    """Counts kept by the builder beyond the lookups it emits."""

    transactions: int = 0
    lookups: int = 0
    unsolicited: int = 0
    late: int = 0  # arrived after their turn in the reorder buffer had passed
    forced: int = 0  # processed early because the buffer was full
    chains_evicted: int = 0  # closed early: too many open chains or transactions
    chains_cut: int = 0  # closed at MAX_CHAIN transactions


def name_key(qname: str) -> str:
    """Lower-case relative form of a transaction's name ("" for the root)."""
    key = qname.lower()
    return key[:-1] if key.endswith(".") and not key.endswith("\\.") else key


def _has_data(txn: Transaction) -> bool:
    r = txn.response
    return r is not None and r.rcode == 0 and r.ancount > 0


def reply_result(txn: Transaction) -> str:
    """The reply as the resolver rules name it: NOERROR (data), NODATA, TIMEOUT, rcode."""
    r = txn.response
    if r is None:
        return "TIMEOUT"
    if r.rcode == 0:
        return "NOERROR" if r.ancount > 0 else "NODATA"
    return rcode_text(r.rcode)


def _needs_resend(txn: Transaction) -> bool:
    """A reply (or its absence) after which a resolver sends the same question again."""
    r = txn.response
    if r is None:
        return True
    return r.rcode == 2 or bool(r.flags & TC_FLAG)


def _last_sent(txn: Transaction) -> float:
    return txn.query_times[-1] if txn.query_times else txn.ts


def _end(txn: Transaction, timeout: float) -> float:
    r = txn.response
    return r.ts if r is not None else _last_sent(txn) + timeout


def _activity(txn: Transaction) -> float:
    r = txn.response
    return r.ts if r is not None else _last_sent(txn)


class _Readings:
    """Bounded cache: name key -> {base: position in the base's candidate order}."""

    __slots__ = ("cache", "config", "limit")

    def __init__(self, config: ResolverConfig, limit: int = 50_000) -> None:
        self.config = config
        self.cache: dict[str, dict[str, int]] = {}
        self.limit = limit

    def of(self, key: str) -> dict[str, int]:
        found = self.cache.get(key)
        if found is not None:
            return found
        config = self.config
        ndots = config.ndots
        search = config.search
        n = len(search)
        out: dict[str, int] = {}
        for i, suffix in enumerate(search):
            cut = len(key) - len(suffix) - 1
            if cut > 0 and key.endswith(suffix) and key[cut] == "." and _unescaped(key, cut):
                base = key[:cut]
                if base not in out:
                    out[base] = i if count_dots(base) < ndots else i + 1
        if key not in out:
            out[key] = n if count_dots(key) < ndots else 0
        if len(self.cache) >= self.limit:
            self.cache.clear()
        self.cache[key] = out
        return out


def _unescaped(text: str, index: int) -> bool:
    """True when text[index] is not preceded by an odd number of backslashes."""
    j = index
    while j > 0 and text[j - 1] == "\\":
        j -= 1
    return (index - j) % 2 == 0


@dataclass(slots=True, eq=False)
class _Chain:
    """An open chain: the transactions so far and the readings they all agree on."""

    client: str
    readings: dict[str, int]  # base -> position of the latest name
    first: dict[str, int]  # base -> position of the first name
    txns: list[Transaction] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    pass_start: int = 0
    qtypes: set[int] = field(default_factory=set)
    data_time: float | None = None
    last_activity: float = 0.0
    passes: int = 1
    indexed: tuple[str, ...] = ()  # the (client, base) index entries that point here

    def add(self, txn: Transaction, key: str) -> None:
        self.txns.append(txn)
        self.keys.append(key)
        self.qtypes.add(txn.qtype)
        activity = _activity(txn)
        if activity > self.last_activity:
            self.last_activity = activity
        if _has_data(txn):
            t = txn.response.ts  # type: ignore[union-attr]
            if self.data_time is None or t < self.data_time:
                self.data_time = t


class LookupBuilder:
    """Turns a stream of `Transaction` into a stream of `Lookup`, in bounded memory.

    `config` is the resolver configuration of the clients; None infers it from the first
    `reorder` seconds of traffic (see `infer_config`) and leaves it in `self.config`.
    `feed` returns the lookups completed so far, `expire(now)` those that can no longer
    grow at packet time `now`, `flush()` everything at the end of the capture.

    A finished chain (it got data, or its last candidate name was answered) is closed
    after `grace` idle seconds rather than `window`: only the other query type or a second
    pass can still join it, and those follow within milliseconds. That keeps a storm of
    repeated lookups from piling up open chains.
    """

    def __init__(
        self,
        config: ResolverConfig | None,
        *,
        window: float = DEFAULT_WINDOW,
        max_open: int = 100_000,
        reorder: float = DEFAULT_REORDER,
        grace: float = 0.25,
        max_chains_per_client: int = 256,
    ) -> None:
        self.config = config
        self.window = window
        self.max_open = max_open
        self.reorder = reorder
        self.grace = grace
        self.max_chains_per_client = max_chains_per_client
        self.stats = LookupStats()
        self._readings = _Readings(config) if config is not None else None
        self._heap: list[tuple[float, int, Transaction]] = []
        self._seq = itertools.count()
        self._chains: dict[str, list[_Chain]] = {}
        self._index: dict[tuple[str, str], list[_Chain]] = {}
        self._in_chains = 0
        self._clock = float("-inf")  # latest packet time seen
        self._released = float("-inf")  # every transaction sent before this is processed

    @property
    def open_transactions(self) -> int:
        """Transactions held now (reorder buffer plus open chains); at most about max_open."""
        return len(self._heap) + self._in_chains

    # -- streaming interface -------------------------------------------------------------

    def feed(self, txn: Transaction) -> list[Lookup]:
        """Accept one transaction; return the lookups it allowed to be completed."""
        if txn.status == Status.UNSOLICITED:
            self.stats.unsolicited += 1
            return []
        self.stats.transactions += 1
        out: list[Lookup] = []
        seen = _activity(txn)
        if seen > self._clock:
            self._clock = seen
        if self._readings is not None and txn.ts < self._released:
            self.stats.late += 1
            self._process(txn, out)
        else:
            heapq.heappush(self._heap, (txn.ts, next(self._seq), txn))
            self._release(self._clock - self.reorder, out)
        if len(self._heap) + self._in_chains > self.max_open:
            self._bound(out)
        return out

    def expire(self, now: float) -> list[Lookup]:
        """Process what packet time `now` has made safe; return the lookups that closed."""
        if now > self._clock:
            self._clock = now
        out: list[Lookup] = []
        self._release(self._clock - self.reorder, out)
        self._close_idle(out)
        return out

    def flush(self) -> list[Lookup]:
        """Process and close everything (end of capture)."""
        out: list[Lookup] = []
        self._release(float("inf"), out)
        for chains in list(self._chains.values()):
            for chain in list(chains):
                self._close(chain, out)
        return out

    # -- internals -----------------------------------------------------------------------

    def _ensure_config(self) -> None:
        if self._readings is not None:
            return
        sample = [item[2] for item in self._heap]
        self.config = infer_config(sample, window=self.window) or ResolverConfig(source=_INFERRED)
        self._readings = _Readings(self.config)

    def _release(self, until: float, out: list[Lookup]) -> None:
        heap = self._heap
        if not heap or heap[0][0] > until:
            if until > self._released:
                self._released = until
            return
        self._ensure_config()
        while heap and heap[0][0] <= until:
            txn = heapq.heappop(heap)[2]
            self._released = txn.ts
            self._process(txn, out)
        if until > self._released:
            self._released = until

    def _bound(self, out: list[Lookup]) -> None:
        """Bring held transactions back under max_open: process the oldest early (the
        reorder window shrinks), closing the chains that made idle; only when that is not
        enough, close the least recently active chains."""
        target = self.max_open * 9 // 10
        heap = self._heap
        if heap:
            self._ensure_config()
        while heap and len(heap) + self._in_chains > target:
            for _ in range(min(len(heap), 256)):
                txn = heapq.heappop(heap)[2]
                self.stats.forced += 1
                if txn.ts > self._released:
                    self._released = txn.ts
                self._process(txn, out)
            self._close_idle(out)
        if len(heap) + self._in_chains > target:
            chains = sorted(
                (c for cs in self._chains.values() for c in cs), key=lambda c: c.last_activity
            )
            for chain in chains:
                if len(heap) + self._in_chains <= target:
                    break
                self.stats.chains_evicted += 1
                self._close(chain, out)

    def _close(self, chain: _Chain, out: list[Lookup]) -> None:
        """Remove an open chain from every table and emit its lookup."""
        chains = self._chains.get(chain.client)
        if chains is not None:
            chains.remove(chain)
            if not chains:
                del self._chains[chain.client]
        index = self._index
        for base in chain.indexed:
            slot = (chain.client, base)
            entries = index.get(slot)
            if entries is not None:
                entries.remove(chain)
                if not entries:
                    del index[slot]
        self._in_chains -= len(chain.txns)
        self.stats.lookups += 1
        out.append(build_lookup(chain, self.config or ResolverConfig()))

    def _idle(self, chain: _Chain, now: float) -> bool:
        idle = now - chain.last_activity
        return idle > self.window or (idle > self.grace and _finished(chain, self.config))

    def _close_idle(self, out: list[Lookup]) -> None:
        now = self._released
        for chains in list(self._chains.values()):
            for chain in [c for c in chains if self._idle(c, now)]:
                self._close(chain, out)

    def _process(self, txn: Transaction, out: list[Lookup]) -> None:
        assert self._readings is not None
        client = txn.flow.client
        key = name_key(txn.qname)
        readings = self._readings.of(key)
        index = self._index
        # Newest chain first, and the first that accepts wins: a client's most recent
        # chain for a base is the one a continuation belongs to, and stopping early keeps
        # a storm of repeated lookups (several finished chains per base) cheap.
        best: _Chain | None = None
        best_match: dict[str, int] | None = None
        new_pass = False
        tried: set[int] = set()
        ts = txn.ts
        for base in readings:
            entries = index.get((client, base))
            if not entries:
                continue
            for chain in reversed(entries):
                if id(chain) in tried:
                    continue
                tried.add(id(chain))
                if self._idle(chain, ts):
                    self._close(chain, out)
                    continue
                match, new_pass = _match(chain, txn, key, readings)
                if match:
                    best, best_match = chain, match
                    break
            if best is not None:
                break
        if best is not None and best_match is not None:
            if new_pass:
                best.pass_start = len(best.txns)
                best.passes += 1
            best.readings = best_match
            best.first = {b: p for b, p in best.first.items() if b in best_match}
            best.add(txn, key)
            self._in_chains += 1
            if len(best.txns) >= MAX_CHAIN:
                self.stats.chains_cut += 1
                self._close(best, out)
            return
        # The cached readings dict is shared, never mutated: narrowing replaces it.
        chain = _Chain(client=client, readings=readings, first=readings)
        chain.indexed = tuple(readings)
        chain.add(txn, key)
        self._in_chains += 1
        for base in readings:
            index.setdefault((client, base), []).append(chain)
        chains = self._chains.setdefault(client, [])
        chains.append(chain)
        if len(chains) > self.max_chains_per_client:
            for old in [c for c in chains if self._idle(c, txn.ts)]:
                self._close(old, out)
            if len(chains) > self.max_chains_per_client:
                self.stats.chains_evicted += 1
                self._close(min(chains, key=lambda c: c.last_activity), out)


def _finished(chain: _Chain, config: ResolverConfig | None) -> bool:
    """The chain can only grow by another query type or pass: it got data, or every
    reading has reached its last candidate name and that name was answered for good."""
    if chain.data_time is not None:
        return True
    n = len(config.search) if config is not None else 0
    if any(pos != n for pos in chain.readings.values()):
        return False
    last = chain.keys[-1]
    return not any(
        _needs_resend(t) for t, k in zip(chain.txns, chain.keys, strict=True) if k == last
    )


def _match(
    chain: _Chain, txn: Transaction, key: str, readings: dict[str, int]
) -> tuple[dict[str, int] | None, bool]:
    """The readings under which `txn` continues `chain` (None: it does not), and whether
    it starts a new pass over the candidate names."""
    ok: dict[str, int] = {}
    new_pass = False
    same_step: bool | None = None
    for base, pos in readings.items():
        last = chain.readings.get(base)
        if last is None:
            continue
        if pos > last:
            if chain.data_time is None:
                ok[base] = pos
        elif pos == last:
            if same_step is None:
                same_step = _same_step_continues(chain, txn, key)
            if same_step:
                ok[base] = pos
        elif chain.data_time is None and txn.qtype not in chain.qtypes:
            ok[base] = pos
            new_pass = True
    return (ok or None), new_pass


def _same_step_continues(chain: _Chain, txn: Transaction, key: str) -> bool:
    """Whether a transaction for the chain's current name belongs to the same lookup.

    Yes for a query type not yet asked for this name in this pass, and for a resend: the
    earlier question went unanswered, got SERVFAIL or a truncated reply, or the resend
    reuses its socket and id (a resend the correlator saw as a new transaction).
    """
    earlier = [
        t
        for t, k in zip(chain.txns[chain.pass_start :], chain.keys[chain.pass_start :], strict=True)
        if k == key
    ]
    same_type = [t for t in earlier if t.qtype == txn.qtype]
    if not same_type:
        return True
    if any(_needs_resend(t) for t in earlier):
        return True
    prev = same_type[-1]
    return prev.id == txn.id and prev.flow == txn.flow


def _choose_base(chain: _Chain) -> str:
    """The reading of the chain that names what the application asked for.

    The reading in which the chain starts earliest in the candidate order wins: a chain
    that starts at position 0 is a whole lookup. A tie at position 0 (with ndots:1,
    `web.default.svc.cluster.local` is both `web` expanded and itself tried as-is first)
    goes to the shortest base: the two cost the same, and in-cluster names are far more
    often asked short.
    """
    return min(chain.first.items(), key=lambda item: (item[1], len(item[0])))[0]


def pick_useful(txns: list[Transaction]) -> Transaction:
    """Of one name's transactions of one type: the one whose reply the resolver used."""
    for t in txns:
        if _has_data(t):
            return t
    answered = [t for t in txns if t.response is not None]
    return answered[-1] if answered else txns[-1]


def build_lookup(chain: _Chain, config: ResolverConfig) -> Lookup:
    """Summarise a closed chain as a `Lookup` (cost, outcome, resolver guess, findings).

    An unanswered transaction ends `config.timeout` after its last transmission.
    """
    timeout = config.timeout
    txns = chain.txns
    keys = chain.keys
    first = txns[0]
    base = _choose_base(chain)
    name = (first.qname[: len(base)] + ".") if base else "."
    data_keys = [k for t, k in zip(txns, keys, strict=True) if _has_data(t)]
    final_key = data_keys[0] if data_keys else keys[-1]
    by_type: dict[int, list[Transaction]] = {}
    for t, k in zip(txns, keys, strict=True):
        if k == final_key:
            by_type.setdefault(t.qtype, []).append(t)
    useful = tuple(pick_useful(ts) for ts in by_type.values())
    start = first.ts
    queries = sum(1 + t.retransmits for t in txns)
    with_data = [t for t in useful if _has_data(t)]
    answered = [t for t in useful if t.response is not None]
    used = min(with_data or answered or useful, key=_last_sent)
    wasted_time = max(0.0, _last_sent(used) - start)
    duration = max(_end(t, timeout) for t in txns) - start
    results = [reply_result(t) for t in useful]
    outcome = min(
        results,
        key=lambda r: _OUTCOME_RANK.get(r, _TIMEOUT_RANK if r == "TIMEOUT" else _OTHER_RANK),
    )
    findings = _findings(chain, base, final_key, useful)
    qtypes = tuple(qtype_text(q) for q in sorted({t.qtype for t in txns}))
    return Lookup(
        client=chain.client,
        name=name,
        qtypes=qtypes,
        start=start,
        duration=duration,
        queries=queries,
        # a question that never got a reply was sent for nothing, even at the final name
        wasted_queries=queries - len(answered),
        wasted_time=wasted_time,
        outcome=outcome,
        answer_name=used.qname,
        answers=(),
        resolver=guess_resolver(chain, base, config),
        chain=tuple(txns),
        findings=findings,
        final=useful,
    )


def _is_autopath(useful: tuple[Transaction, ...], base: str, final_key: str) -> bool:
    """CoreDNS autopath: an expansion answered with a CNAME to the name as-is."""
    if final_key == base:
        return False
    target = base + "."
    for t in useful:
        if _has_data(t):
            texts = answers_of(t.response)  # type: ignore[arg-type]
            if any(text.lower() == target for text in texts):
                return True
    return False


def _findings(
    chain: _Chain, base: str, final_key: str, useful: tuple[Transaction, ...]
) -> tuple[str, ...]:
    txns = chain.txns
    out: list[str] = []
    if len(set(chain.keys)) > 1:
        out.append("search-list expansion")
    if _is_autopath(useful, base, final_key):
        out.append("autopath")
    if chain.passes > 1:
        out.append("separate query-type passes")
    seen = Counter((k, t.qtype) for t, k in zip(txns, chain.keys, strict=True))
    if any(t.retransmits for t in txns) or any(
        n > 1 and not _tcp_retry_only(chain, k, q) for (k, q), n in seen.items()
    ):
        out.append("retransmission")
    truncated = {k for t, k in zip(txns, chain.keys, strict=True) if _truncated_udp(t)}
    if truncated:
        tcp = {k for t, k in zip(txns, chain.keys, strict=True) if t.flow.transport == "tcp"}
        if truncated & tcp:
            out.append("tcp retry after truncation")
        if truncated - tcp:
            out.append("truncated without tcp retry")
    if any(t.response is None for t in txns):
        out.append("timeout")
    if any(t.response is not None and t.response.rcode == 2 for t in txns):
        out.append("servfail")
    return tuple(out)


def _truncated_udp(t: Transaction) -> bool:
    r = t.response
    return r is not None and t.flow.transport == Transport.UDP and bool(r.flags & TC_FLAG)


def _tcp_retry_only(chain: _Chain, key: str, qtype: int) -> bool:
    """A UDP question answered truncated and asked again over TCP is not a resend."""
    same = [t for t, k in zip(chain.txns, chain.keys, strict=True) if k == key and t.qtype == qtype]
    return len(same) == 2 and _truncated_udp(same[0]) and same[1].flow.transport == "tcp"


def guess_resolver(chain: _Chain, base: str, config: ResolverConfig) -> str:
    """Name the stub resolver from the shape of the chain (see DESIGN.md, "Lookups").

    Two query types for one name from two source ports: Go. One port: glibc, unless it
    stopped where glibc goes on (NODATA/SERVFAIL before the end of the list, or no search
    at all for a failing name with enough dots): musl. Only A, one absolute name where a
    searching resolver would have expanded it: dig. A through the list and AAAA only for the
    name that answered: nslookup.
    """
    txns = chain.txns
    keys = chain.keys
    qtypes = {t.qtype for t in txns}
    order = candidate_names(base, config)
    distinct = list(dict.fromkeys(keys))
    if qtypes == {1}:
        if (
            len(distinct) == 1
            and distinct[0] == base
            and config.search
            and count_dots(base) < config.ndots
        ):
            return "dig"
        return "unknown"
    if 1 in qtypes and 28 in qtypes:
        if chain.passes > 1:
            return "glibc"
        last_key = keys[-1]
        earlier = [t for t, k in zip(txns, keys, strict=True) if k != last_key]
        if earlier and all(t.qtype == 1 for t in earlier):
            return "nslookup"
        ports: dict[str, set[tuple[int, int]]] = {}
        for t, k in zip(txns, keys, strict=True):
            ports.setdefault(k, set()).add((t.qtype, t.flow.client_port))
        two_ports = False
        one_port = False
        for pairs in ports.values():
            a = {p for q, p in pairs if q == 1}
            aaaa = {p for q, p in pairs if q == 28}
            if a and aaaa:
                if a & aaaa:
                    one_port = True
                else:
                    two_ports = True
        if two_ports and not one_port:
            return "go"
        if one_port:
            return "musl" if _stopped_like_musl(chain, base, order, config) else "glibc"
    return "unknown"


def _stopped_like_musl(chain: _Chain, base: str, order: list[str], config: ResolverConfig) -> bool:
    txns = chain.txns
    keys = chain.keys
    if any(_has_data(t) for t in txns):
        return False
    last_key = keys[-1]
    results = {reply_result(t) for t, k in zip(txns, keys, strict=True) if k == last_key}
    if order and last_key != order[-1] and results & {"NODATA", "SERVFAIL"}:
        return True
    # Enough dots and a failed as-is query, with no search after it: glibc would search.
    return (
        bool(config.search)
        and count_dots(base) >= config.ndots
        and set(keys) == {base}
        and results == {"NXDOMAIN"}
    )


# -- inference of the search list ----------------------------------------------------------


def _labels(key: str) -> list[str]:
    if "\\" not in key:
        return key.split(".") if key else []
    labels: list[str] = []
    current = []
    i = 0
    while i < len(key):
        c = key[i]
        if c == "\\":
            current.append(key[i : i + 2])
            i += 2
            continue
        if c == ".":
            labels.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    labels.append("".join(current))
    return labels


@dataclass(slots=True)
class _Group:
    names: list[list[str]]
    base: list[str]
    last_ts: float
    failed: bool


def _common_prefix(a: list[str], b: list[str]) -> list[str]:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


def infer_config(
    transactions: Iterable[Transaction], *, window: float = DEFAULT_WINDOW
) -> ResolverConfig | None:
    """Guess the clients' search list and ndots from their traffic; None without evidence.

    Per client, in time order, consecutive failed names that share their leading labels
    and then differ only in their tail (`x.default.svc.cluster.local`, `x.svc.cluster.local`,
    ..., `x`) are one search walk: the shared part is the base, the tails are the search
    domains in order. The search list is the walk seen that most other walks are a prefix
    of (then the longest). ndots: a base searched first has fewer dots than ndots, a base
    tried as-is first at least as many; the Kubernetes default 5 is kept when it fits.
    """
    per_client: dict[str, list[Transaction]] = defaultdict(list)
    for t in transactions:
        if t.query is not None or t.response is not None:
            per_client[t.flow.client].append(t)
    walks: list[tuple[tuple[str, ...], int | None, int]] = []
    for txns in per_client.values():
        txns.sort(key=lambda t: t.ts)
        group: _Group | None = None
        last_key: str | None = None
        for t in txns:
            key = name_key(t.qname)
            if key == last_key and group is not None:
                group.failed = group.failed and not _has_data(t)
                group.last_ts = max(group.last_ts, t.ts)
                continue
            last_key = key
            labels = _labels(key)
            if group is not None and _continues_walk(group, labels, t.ts, window):
                group.names.append(labels)
                group.base = _common_prefix(group.base, labels)
                group.last_ts = t.ts
                group.failed = not _has_data(t)
                continue
            if group is not None:
                _close_walk(group, walks)
            group = _Group([labels], labels, t.ts, not _has_data(t))
        if group is not None:
            _close_walk(group, walks)
    if not walks:
        return None
    sequences = Counter(seq for seq, _, _ in walks)

    def support(candidate: tuple[str, ...]) -> int:
        return sum(n for seq, n in sequences.items() if candidate[: len(seq)] == seq)

    search = max(sequences, key=lambda c: (support(c), len(c)))
    lower, upper = 1, None
    for seq, asis_index, dots in walks:
        if search[: len(seq)] != seq:
            continue
        if asis_index == 0:
            upper = dots if upper is None else min(upper, dots)
        else:
            lower = max(lower, dots + 1)
    ndots = _pick_ndots(lower, upper)
    return ResolverConfig(search=search, ndots=ndots, source=_INFERRED)


def _continues_walk(group: _Group, labels: list[str], ts: float, window: float) -> bool:
    if not group.failed or ts - group.last_ts > window or labels in group.names:
        return False
    return bool(_common_prefix(group.base, labels))


def _close_walk(group: _Group, walks: list[tuple[tuple[str, ...], int | None, int]]) -> None:
    if len(group.names) < 2:
        return
    base = group.base
    n = len(base)
    tails = [".".join(labels[n:]) for labels in group.names]
    suffixes = tuple(t for t in tails if t)
    if len(set(suffixes)) != len(suffixes) or not suffixes:
        return
    asis_index = tails.index("") if "" in tails else None
    dots = len(base) - 1
    walks.append((suffixes, asis_index, dots))


def _pick_ndots(lower: int, upper: int | None) -> int:
    """The Kubernetes default 5 when the evidence allows it, else the nearest bound."""
    if upper is not None and upper < lower:
        return min(lower, MAX_NDOTS)
    if lower <= 5 and (upper is None or upper >= 5):
        return 5
    if lower > 5:
        return min(lower, MAX_NDOTS)
    return upper if upper is not None else lower
