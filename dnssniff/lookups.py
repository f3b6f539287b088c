"""Rebuild the lookups applications made from the transactions a resolver sent for them.

One `getaddrinfo("google.com")` in a pod with the usual Kubernetes resolv.conf (four search
domains, ndots:5) is ten transactions on the wire: A and AAAA for each expansion, all
NXDOMAIN, then the name as-is. The report counts that as ONE lookup of `google.com.` that
cost 10 queries, 8 of them wasted. This module does the grouping.

How (the rules of `dnssniff.resolvers` as a matcher):

- Every transaction name is read as each "base + . + search domain" it could be, and as
  the base itself ("as-is"); each reading gives the position of that name in the order the
  resolver tries the base's candidates. A chain keeps the readings all its names agree on.
  With a pod's configuration the first search domain is read for any namespace (see
  `namespace_suffix`): a node-wide capture holds pods of many namespaces.
- A transaction continues an open chain of the same client when one of its readings does:
  the next position (a further search step), the same name (the other query type, a
  resend after a loss or SERVFAIL, the TCP retry of a truncated answer), or position 0
  again with a query type the chain has not asked yet (`getent hosts` walks the list for
  AAAA and then again for A). A name after the chain got data, the same question again
  without a reason to resend, or a gap of more than `window` seconds starts a new lookup.
- A pod may run two lookups of one name at once (two threads). Resolvers send the next
  name only once every answer of the current one is in (or timed out), and A and AAAA of
  glibc and musl share a socket; so when several chains could take a transaction, the
  one for which it is the exact next step in time (or the same socket) wins over one it
  would make skip a step or jump ahead of its answers.
- Queries are matched in the order they were sent. `dnssniff lookups` feeds each
  transaction when its query is sent (`sent`, from the correlator's `on_query` hook,
  pending) and again when it completes (`done`): the matcher sees what the resolver had
  seen when it sent the query (the replies already in), a chain waits for its pending
  transactions before it closes, and nothing is held back. A question still pending is
  not "lost" yet: the same question from a new socket is its resend only once the
  resolver's timeout is up (sooner, it is another lookup of the same name).
- The pipeline feeds those two events through `hooks`, which queue them and apply them in
  batches of 256 (the builder's tables and the decoder's then stay in the CPU caches in
  turn). By the time a batch is applied the correlator may already have answered or resent
  a transaction the batch shows pending, so the builder keeps its own view: a transaction
  is complete only once its completion is applied (`_waiting`, `_held`), sent when its
  resends are applied (`_resent`); the result is the same as one event at a time.
- `feed` takes completed transactions instead (a library caller with a list of them):
  they come in completion order (an unanswered one only when the correlator gives up on
  it, 15 s later by default), so they are held `reorder` seconds and processed in order
  of their first transmission, each complete when it is matched. Fed as sent, `reorder`
  is only the length of the inference sample (no configuration given).

Memory is bounded: the reorder buffer (or sample) and open chains together hold at most `max_open`
transactions, a client at most `max_chains_per_client` open chains; what is pushed out early
is counted in `stats`, never dropped silently (an evicted chain is still reported).

Speed: `lookups` must stay within 1.5x of `analyze` on the same capture, so the per-
transaction path (`_drain`, `_process`, `_done`) and the per-lookup summary (`build_lookup`)
are written flat, over locals, and name readings are cached per query name as sent.
The commonest transaction (the second of an A/AAAA pair, on the socket of its chain's
current step) is decided and added inline in `_process`; a chain keeps, as
transactions join it, what its summary needs (lost, SERVFAIL, truncated, retransmitted,
the first name with data, the query types), so `build_lookup` looks at the final name's
one or two transactions only, not at every transaction again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter

from dnssniff.dnswire import answers_of, cname_target
from dnssniff.mnemonics import qtype_text, rcode_text
from dnssniff.model import DnsMessage, Status, Transaction, Transport
from dnssniff.resolvconf import MAX_NDOTS, ResolverConfig
from dnssniff.resolvers import candidate_names, count_dots

TC_FLAG = 0x0200
AD_FLAG = 0x0020
DEFAULT_WINDOW = 12.0
# (`feed`, completed transactions) The correlator emits an unanswered transaction 15 s
# (its default timeout) after the first transmission, at its next expiry sweep (every
# 1 s): it must still be placed in order, so hold transactions longer than timeout +
# sweep. (`sent`) The inference sample's length when no configuration is given.
DEFAULT_REORDER = 17.0
MAX_CHAIN = 64  # transactions in one chain; a longer "chain" is a loop or a storm, cut it
# A resolver sends the next name after the last answer of the current one (tens of
# microseconds after it); the slack only absorbs timestamp rounding.
_CLOCK_SLACK = 0.00002
# The shortest wait before a stub resolver resends a question whose reply it did not get
# (glibc: `timeout`, 5 s by default, at least 1 s; musl: timeout/attempts, 2.5 s).
_MIN_RESEND = 0.5
# Fed as sent, idle chains are closed at every quarter second of packet time, so a finished
# lookup is reported 0.25-0.5 s after its last answer (`grace`, then the next quarter).
# Until then its chain holds every transaction (queries and replies), and holding them
# longer slows the whole run, decoding included: on the 1M-packet benchmark capture, a
# sink that holds each transaction 1 s costs +0.6 s over one that drops it at once, 0.3 s
# +0.1 s (`bench/hold_cost.py`); whole-second ticks kept chains 0.8 s at the median, these
# 0.4 s. A power of two: the ticks are exact in floating point.
_TICK = 0.25
# Inference: the longest pause between two names of one walk, after the earlier one's reply
# (resolvers send the next name at once; a lost reply is waited for, see `_seen`).
_WALK_GAP = 0.5

# Outcome of a lookup from the replies at its final name: the best one wins. A timeout
# beats a negative answer: the walk stopped there (glibc and musl give up on a timeout),
# so the application was told "try again", not "no such name".
_OUTCOME_RANK = {
    "NOERROR": 0,
    "TIMEOUT": 1,
    "NODATA": 2,
    "NXDOMAIN": 3,
    "SERVFAIL": 4,
    "REFUSED": 5,
}
_OTHER_RANK = 6

_INFERRED = "inferred from traffic"
_SENT = attrgetter("ts")
_NEG_INF = float("-inf")
_INF = float("inf")
_UNSOLICITED = Status.UNSOLICITED
_PENDING = Status.PENDING
_NO_LOOKUPS: tuple[Lookup, ...] = ()

# Match qualities (higher wins; see the module docstring).
_Q_SOCKET = 3  # same name, same socket: the other query type or a resend
_Q_STEP = 2  # the exact next step, sent after the current one's answers
_Q_LOOSE = 1  # a skipped step, or sent before the current step was answered


@dataclass(slots=True)
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

    `namespace` is the client's Kubernetes namespace when the configuration is a pod's
    (`<ns>.svc.<domain> svc.<domain> ...`) and the chain or the client's earlier lookups
    showed it ("" otherwise): the client's own first search domain is `<namespace>.svc.<domain>`.
    `fqdn` is True when the chain is the name as-is alone where a searching resolver would
    have expanded it: the application asked for it with a trailing dot (or used dig).

    Not frozen (a frozen dataclass costs ~4x to build, see `dnssniff.model`); treat it as
    immutable all the same.
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
    namespace: str = ""
    fqdn: bool = False


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
    # (inferred configuration) search domains a client's walk showed after the last one
    # inferred, learnt for that client: domain -> clients
    domains_learnt: dict[str, int] = field(default_factory=dict)


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
    """A reply (or its absence) after which a resolver may send the same question again
    (musl resends after a SERVFAIL with the same id when its retry interval is up)."""
    r = txn.response
    if r is None:
        return True
    return r.rcode == 2 or bool(r.flags & TC_FLAG)


def _last_sent(txn: Transaction) -> float:
    return txn.query_times[-1] if txn.query_times else txn.ts


def _pending_since(txn: Transaction) -> float | None:
    """(Fed completed transactions) when a pending one was last sent, None when complete."""
    return _last_sent(txn) if txn.status is _PENDING else None


def _as_pending(txn: Transaction, retransmits: int) -> Transaction:
    """A copy of `txn` as it stood while pending, after `retransmits` resends: what a
    builder fed in batches shows for a transaction it had not seen complete yet."""
    return replace(
        txn,
        status=_PENDING,
        response=None,
        rtt=None,
        retransmits=retransmits,
        query_times=list(txn.query_times[: retransmits + 1]),
    )


def namespace_suffix(config: ResolverConfig | None) -> str | None:
    """`svc.<cluster domain>` when `config` is a Kubernetes pod's, else None.

    The kubelet writes `<namespace>.svc.<domain> svc.<domain> <domain> [host domains]` into
    every pod: pods of different namespaces differ only in the first domain. A node-wide
    capture (or a sidecar's resolv.conf applied to a whole node) therefore needs the first
    domain read per client: `x.shop.svc.cluster.local` is step one of `x` for a pod in
    `shop`, whatever namespace the configuration names.
    """
    if config is None:
        return None
    search = config.search
    if len(search) < 2:
        return None
    second = search[1]
    first = search[0]
    if not second.startswith("svc.") or not first.endswith("." + second):
        return None
    label = first[: -len(second) - 1]
    return second if label and "." not in label and "\\" not in label else None


def config_namespace(config: ResolverConfig | None) -> str:
    """The namespace a pod's configuration names in its first search domain ("" if none)."""
    if namespace_suffix(config) is None:
        return ""
    first = config.search[0]  # type: ignore[union-attr]
    return first[: first.index(".")]


def with_namespace(config: ResolverConfig, namespace: str) -> ResolverConfig:
    """`config` as a pod of `namespace` has it (unchanged unless it is a pod's config)."""
    if not namespace:
        return config
    suffix = namespace_suffix(config)
    if suffix is None:
        return config
    first = f"{namespace}.{suffix}"
    if config.search[0] == first:
        return config
    return replace(config, search=(first, *config.search[1:]))


def _unescaped(text: str, index: int) -> bool:
    """True when text[index] is not preceded by an odd number of backslashes."""
    j = index
    while j > 0 and text[j - 1] == "\\":
        j -= 1
    return (index - j) % 2 == 0


def _split_last_label(name: str) -> tuple[str, str] | None:
    """(everything before the last unescaped dot, the last label), or None without one."""
    dot = name.rfind(".")
    while dot > 0 and not _unescaped(name, dot):
        dot = name.rfind(".", 0, dot)
    if dot <= 0:
        return None
    return name[:dot], name[dot + 1 :]


class _Readings:
    """Bounded cache: query name as sent -> (name key, {base: position in its order}).

    With a pod's configuration (see `namespace_suffix`) the first search domain is read
    for any namespace: `P.L.svc.D` gives base `P` at the first search step. Which
    namespace that was is recovered from the chain when the lookup is built. Keyed by the
    name as sent so that the common case costs one dict lookup (no lower-casing).
    """

    __slots__ = ("cache", "config", "limit", "ns_suffix")

    def __init__(self, config: ResolverConfig, limit: int = 50_000) -> None:
        self.config = config
        self.cache: dict[str, tuple[str, dict[str, int]]] = {}
        self.limit = limit
        self.ns_suffix = namespace_suffix(config)

    def of(self, qname: str) -> tuple[str, dict[str, int]]:
        found = self.cache.get(qname)
        if found is not None:
            return found
        key = name_key(qname)
        config = self.config
        ndots = config.ndots
        search = config.search
        n = len(search)
        out: dict[str, int] = {}
        ns_suffix = self.ns_suffix
        for i, suffix in enumerate(search):
            if i == 0 and ns_suffix is not None:
                cut = len(key) - len(ns_suffix) - 1
                if cut > 0 and key.endswith(ns_suffix) and key[cut] == "." and _unescaped(key, cut):
                    split = _split_last_label(key[:cut])
                    if split is not None:
                        base = split[0]
                        out[base] = 0 if count_dots(base) < ndots else 1
                continue
            cut = len(key) - len(suffix) - 1
            if cut > 0 and key.endswith(suffix) and key[cut] == "." and _unescaped(key, cut):
                base = key[:cut]
                if base not in out:
                    out[base] = i if count_dots(base) < ndots else i + 1
        if key not in out:
            out[key] = n if count_dots(key) < ndots else 0
        if len(self.cache) >= self.limit:
            self.cache.clear()
        found = self.cache[qname] = (key, out)
        return found


class _Chain:
    """An open chain: the transactions so far and the readings they all agree on.

    The current step is `txns[step_from:]` (they share `keys[-1]`); `step_end` is when its
    last answer came (or its last query timed out): the earliest a resolver sends the next
    name.

    `add` also keeps what `build_lookup` needs (retransmissions, whether any reply was
    lost, SERVFAIL or truncated, the first name that got data): it reads each reply there
    anyway, and that spares the summary a second pass over every transaction.
    """

    __slots__ = (
        "alias",
        "client",
        "data_time",
        "final_key",
        "first",
        "indexed",
        "keys",
        "last_activity",
        "lost",
        "maybe_dup",
        "paired",
        "pass_start",
        "passes",
        "ports",
        "qs",
        "readings",
        "resent_index",
        "retransmits",
        "servfail",
        "step_end",
        "step_from",
        "steps",
        "truncated",
        "txns",
        "waiting",
        "waiting_index",
    )

    def __init__(
        self,
        client: str,
        readings: dict[str, int],
        txn: Transaction,
        key: str,
        timeout: float,
        port: int,
        waiting_index: dict[int, _Chain],
        resent_index: dict[int, tuple[float, int]],
        sent_at: float | None,
    ) -> None:
        """Open a chain with its first transaction (`add` for an empty chain, inline: a
        chain is made for every lookup). `waiting_index` and `resent_index` are the
        builder's view of pending transactions (see `LookupBuilder.sent`): `sent_at` is
        when a pending `txn` was last sent, as far as the builder has applied it (None: it
        is complete, read it); a pending one is entered in `waiting_index`."""
        self.client = client
        self.readings = readings  # base -> position of the latest name
        # base -> position of the first name: every reading of it (those still agreed on
        # are the bases of `readings`: `_choose_base` narrows it, not each join)
        self.first = readings
        # the index entries that point here (the cached readings are never mutated)
        self.indexed: Iterable[str] = readings
        self.txns: list[Transaction] = [txn]
        self.keys: list[str] = [key]
        self.qs: list[int] = [txn.qtype]  # the query type of each transaction (few: a list)
        self.ports: list[int] = [port]  # sockets the chain's steps used (socket index entries)
        self.pass_start = 0
        self.passes = 1
        self.step_from = 0
        self.steps = 1  # runs of one name in `keys`
        # False: no (name, query type) was asked twice; True: perhaps (`_findings` looks)
        self.maybe_dup = False
        # A and AAAA of one name seen on one socket (set where `_process` sees it cheaply;
        # when False, `guess_resolver` looks at the ports itself)
        self.paired = False
        # the completed transactions' retransmissions (a pending one's count when it completes)
        self.retransmits = 0 if sent_at is not None else txn.retransmits
        self.data_time: float | None = None
        self.final_key: str | None = None  # key of the first transaction that got data
        self.lost = False  # some transaction went unanswered
        self.servfail = False
        self.truncated = False  # some reply had TC=1
        # the key of the CNAME target nslookup asked AAAA for (see `_cname_join`)
        self.alias: str | None = None
        # Transactions still pending (fed when sent, see `LookupBuilder.sent`): a chain
        # waits for them before it closes, and `LookupBuilder.done` applies their replies.
        self.waiting = 0
        self.waiting_index = waiting_index
        self.resent_index = resent_index
        if sent_at is not None:
            activity = sent_at
            end = sent_at + timeout
            self.waiting = 1
            waiting_index[id(txn)] = self
        else:
            r = txn.response
            if r is None:
                times = txn.query_times
                activity = times[-1] if times else txn.ts
                end = activity + timeout
                self.lost = True
            else:
                activity = end = r.ts
                self._reply(r, key, activity)
        self.last_activity = activity if activity > _NEG_INF else _NEG_INF
        self.step_end = end if end > _NEG_INF else _NEG_INF

    def add(self, txn: Transaction, key: str, timeout: float, sent_at: float | None) -> None:
        """Append `txn` (`sent_at` as for `__init__`)."""
        keys = self.keys
        if keys[-1] != key:
            if key in keys:
                self.maybe_dup = True
            self.steps += 1
            self.step_from = len(keys)
            self.step_end = _NEG_INF
        else:
            self.maybe_dup = True
        self.txns.append(txn)
        keys.append(key)
        self.qs.append(txn.qtype)
        if sent_at is not None:
            activity = sent_at
            end = sent_at + timeout
            self.waiting += 1
            self.waiting_index[id(txn)] = self
        else:
            if txn.retransmits:
                self.retransmits += txn.retransmits
            r = txn.response
            if r is None:
                times = txn.query_times
                activity = times[-1] if times else txn.ts
                end = activity + timeout
                self.lost = True
            else:
                activity = end = r.ts
                self._reply(r, key, activity)
        if activity > self.last_activity:
            self.last_activity = activity
        if end > self.step_end:
            self.step_end = end

    def _reply(self, r: DnsMessage, key: str, at: float) -> None:
        """Note what a reply to `key` received `at` says (data, SERVFAIL, truncation)."""
        rcode = r.rcode
        if rcode == 0:
            if r.ancount > 0:
                data_time = self.data_time
                if data_time is None:
                    # the first transaction with data: its name is the one that answered
                    self.data_time = at
                    self.final_key = key
                elif at < data_time:
                    self.data_time = at
        elif rcode == 2:
            self.servfail = True
        if r.flags & TC_FLAG:
            self.truncated = True

    def resent(self, txn: Transaction, at: float, timeout: float) -> None:
        """A pending transaction of this chain was sent again `at`: its step waits longer."""
        if at > self.last_activity:
            self.last_activity = at
        if self._index_of(txn) >= self.step_from and at + timeout > self.step_end:
            self.step_end = at + timeout

    def _index_of(self, txn: Transaction) -> int:
        txns = self.txns
        i = len(txns) - 1
        while txns[i] is not txn:
            i -= 1
        return i

    def abandon(self) -> None:
        """The chain closes before its pending transactions completed (it was evicted):
        forget them; they read as unanswered, their transmissions so far counted. The
        chain holds a copy of each as it stood (`_as_pending`): the correlator completes
        the transaction itself later (fed in batches, perhaps already), and the lookup,
        whenever it is written, must show what its summary was made of."""
        index = self.waiting_index
        resent = self.resent_index
        txns = self.txns
        for i, t in enumerate(txns):
            if index.get(id(t)) is self:
                del index[id(t)]
                seen = resent.pop(id(t), None)
                n = seen[1] if seen is not None else 0
                self.retransmits += n
                txns[i] = _as_pending(t, n)
        self.waiting = 0
        self.lost = True


class LookupBuilder:
    """Turns a stream of `Transaction` into a stream of `Lookup`, in bounded memory.

    `config` is the resolver configuration of the clients; None infers it from the first
    `reorder` seconds of traffic (see `infer_config`) and leaves it in `self.config`.
    `feed` returns the lookups completed so far, `expire(now)` those that can no longer
    grow at packet time `now`, `flush()` everything at the end of the capture; with
    `on_lookup` given, all three pass them to it instead and return nothing.

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
        max_clients: int = 100_000,
        on_lookup: Callable[[Lookup], object] | None = None,
        batch: int = 256,
    ) -> None:
        self.config = config
        self._timeout = config.timeout if config is not None else 0.0  # (see `_done`)
        self.window = window
        self.max_open = max_open
        self.reorder = reorder
        self.grace = grace
        self.max_chains_per_client = max_chains_per_client
        self.max_clients = max_clients
        # When given, completed lookups go here and `feed` returns nothing: `feed` can then
        # be a pipeline's transaction sink itself (one call per transaction, not two).
        self._on_lookup = on_lookup
        self._stats = LookupStats()
        # transactions whose chains closed: with those held (`_open`), the transactions fed
        # (folded into `stats` when read; one count per transaction on the hot path)
        self._closed = 0
        self._readings = _Readings(config) if config is not None else None
        # Inferred per client where its own walks show another ndots than the shared
        # config's (a node-wide capture holds pods of several configurations): client ->
        # (its config, its readings). Empty when the configuration is given.
        self._client_configs: dict[str, tuple[ResolverConfig, _Readings]] = {}
        # its cache, looked up directly on the per-transaction path
        self._reading_cache = self._readings.cache if self._readings is not None else {}
        # The reorder buffer: transactions by the whole second they were sent in. Each
        # second is sorted once when released (a stable sort keeps arrival order for equal
        # times): cheaper than a heap push and pop per transaction.
        self._buckets: dict[int, list[Transaction]] = {}
        self._cur: list[Transaction] = []  # the newest second's bucket (see `feed`)
        self._cur_second = 0
        self._cur_lo = _INF
        self._cur_hi = _NEG_INF
        # Transactions held, in the reorder buffer or in open chains: one counter, as a
        # transaction moving from one to the other changes nothing (see `max_open`).
        self._open = 0
        self._chains: dict[str, list[_Chain]] = {}
        # client -> base -> the open chains read with that base, oldest first: one chain
        # itself (nearly always), or a list of two or more (saves a list per entry)
        self._index: dict[str, dict[str, _Chain | list[_Chain]]] = {}
        self._namespaces: dict[str, str] = {}  # client -> namespace seen in its walks
        # The namespace a given pod config names: the clients' own until their walks show
        # another. An inferred config's is only the commonest one of a node: a client's
        # namespace stays unknown (any namespace read as a first step) until learnt.
        self._config_namespace = config_namespace(config)
        # client -> source port -> the open chain whose latest step used that socket: the
        # second query of a glibc/musl pair (and a resend) finds its chain in one lookup.
        self._sockets: dict[str, dict[int, _Chain]] = {}
        self._clock = float("-inf")  # latest packet time seen
        self._released = float("-inf")  # every transaction sent before this is processed
        # Fed as sent (`sent`/`done`), what the builder has applied: id of each pending
        # transaction -> its open chain; id -> (last transmission, resends) of a pending one
        # sent again; ids of the pending ones held in the inference sample. A transaction
        # is read only once its completion is applied (see `hooks`).
        self._waiting: dict[int, _Chain] = {}
        self._resent: dict[int, tuple[float, int]] = {}
        self._held: set[int] = set()
        # events not applied yet (see `_drain`)
        self._events: list[tuple[Transaction, int] | Transaction] = []
        self.batch = batch
        self._streaming = False
        self._inferred = False  # the configuration was inferred (see `_learn_domain`)
        self._sample_end = _INF  # (as sent, no config given) when the inference sample ends
        self._next_tick = _NEG_INF  # (as sent) when idle chains are next closed
        self._out: list[Lookup] = []  # (as sent) lookups closed by the current call

    @property
    def stats(self) -> LookupStats:
        """The counts so far."""
        self._stats.transactions = self._open + self._closed
        return self._stats

    @property
    def open_transactions(self) -> int:
        """Transactions held now (reorder buffer plus open chains); at most about max_open."""
        return self._open

    # -- streaming interface -------------------------------------------------------------

    def feed(self, txn: Transaction) -> Sequence[Lookup]:
        """Accept one transaction; return the lookups it allowed to be completed.

        Once a second of packet time it processes the transactions that became due and
        closes the chains that went idle (what `expire` does), so a caller that feeds a
        steady stream need not call `expire` at all. Nearly every call returns an empty
        tuple (no list is made for it)."""
        if txn.status is _UNSOLICITED:
            self._stats.unsolicited += 1
            return _NO_LOOKUPS
        ts = txn.ts
        r = txn.response
        if r is not None:
            seen = r.ts
        else:
            times = txn.query_times
            seen = times[-1] if times else ts
        clock = self._clock
        if seen > clock:
            self._clock = clock = seen
        released = self._released
        if ts < released and self._readings is not None:
            self._stats.late += 1
            self._open += 1
            out: list[Lookup] = []
            self._process(txn, out, _pending_since(txn))
            return self._handed(out)
        # Nearly every transaction belongs to the newest second: its bucket is kept at
        # hand (`_cur_lo <= ts < _cur_hi` is `int(ts) == second` for a second >= 1).
        if self._cur_lo <= ts < self._cur_hi:
            self._cur.append(txn)
        else:
            self._hold(ts, txn)
        self._open += 1
        if clock - self.reorder >= released + 1.0:
            out = []
            self._release(clock - self.reorder, out)
            self._close_idle(out)
            if self._open > self.max_open:
                self._bound(out)
            return self._handed(out)
        if self._open > self.max_open:
            out = []
            self._bound(out)
            return self._handed(out)
        return _NO_LOOKUPS

    def hooks(self) -> tuple[Callable[[Transaction], None], Callable[[Transaction], None]]:
        """The pipeline hooks for feeding as sent, in batches: `(on_query, sink)`.

        Both only queue the event; every `batch` events the builder applies them, in order,
        as `sent` and `done` would have one by one (lookups go to `on_lookup`, required).
        Working in batches keeps the builder's tables and the decoder's hot in the CPU
        caches, each in turn: on the first 200k packets of the benchmark capture,
        `lookups` misses the simulated L1 data cache 29% less often than event by event
        (`bench/README.md`). The result is the same: by the time a batch is applied the
        correlator may have answered (or resent) a transaction the batch still shows
        pending, so the builder never reads a transaction's reply before it applied its
        completion, nor its transmissions before it applied them (`_waiting`, `_resent`,
        `_held`). `expire` and `flush` apply what is queued.
        """
        if self._on_lookup is None:
            raise ValueError("LookupBuilder.hooks needs on_lookup (lookups come out in batches)")
        events = self._events
        queue = events.append
        batch = self.batch
        drain = self._drain
        handed = self._handed

        def on_query(txn: Transaction) -> None:
            # what the transaction is now (see `_drain`): the batch applies it later
            queue((txn, txn.retransmits or (0 if txn.status is _PENDING else -1)))
            if len(events) >= batch:
                out = self._out
                drain(out)
                if out:
                    self._out = []
                    handed(out)

        return on_query, queue

    def _drain(self, out: list[Lookup]) -> None:
        """Apply the queued events, in order. A query sent is `(txn, code)`: `code` 0 a new
        pending query, n > 0 its n-th resend, -1 a transaction complete at once (its reply
        came first); a completion is the transaction alone (see `_done`)."""
        events = self._events
        if not events:
            return
        done = self._done
        process = self._process
        try:
            for event in events:
                if event.__class__ is not tuple:
                    done(event, out)  # type: ignore[arg-type]
                    continue
                txn, code = event  # type: ignore[misc]
                if code > 0:
                    self._resent_now(txn, code)
                    continue
                self._streaming = True
                self._open += 1
                ts = txn.ts
                if ts > self._clock:
                    self._clock = ts
                if self._readings is None:
                    self._sample(txn, code, out)
                else:
                    if self._clock >= self._next_tick:
                        self._tick(out)
                    process(txn, out, ts if code == 0 else None)
                if self._open > self.max_open:
                    self._bound(out)
        finally:
            events.clear()

    def _resent_now(self, txn: Transaction, code: int) -> None:
        """A pending transaction was sent again (same socket, id and question), its
        `code`-th resend: its step waits longer."""
        key = id(txn)
        chain = self._waiting.get(key)
        if chain is not None or key in self._held:
            at = txn.query_times[code]
            self._resent[key] = (at, code)
            if chain is not None:
                chain.resent(txn, at, self.config.timeout)  # type: ignore[union-attr]

    def _sample(self, txn: Transaction, code: int, out: list[Lookup]) -> None:
        """(No configuration given) hold a new query in the inference sample; at its end,
        infer the configuration and match the sample."""
        self._hold(txn.ts, txn)
        if code == 0:
            self._held.add(id(txn))
        if self._sample_end == _INF:
            self._sample_end = txn.ts + self.reorder
        elif self._clock >= self._sample_end:
            self._release_sample(out)

    def sent(self, txn: Transaction) -> Sequence[Lookup]:
        """Accept a transaction when its query is sent, still pending (the correlator's
        `on_query` hook); `done` completes it. Returns the lookups completed meanwhile.

        This is the builder's streaming form: queries arrive in the order they were sent,
        so each is matched at once, with no reorder buffer (`feed` holds completed
        transactions `reorder` seconds instead, because a lost query completes 15 s after
        it was sent). A chain with pending transactions stays open until they complete.
        With no configuration given, the first `reorder` seconds are held all the same: they
        are the sample the search list and ndots are inferred from. `hooks` gives the same
        two calls queued, in batches.
        """
        self._events.append((txn, txn.retransmits or (0 if txn.status is _PENDING else -1)))
        out = self._out  # (empty: handed over below whenever something was put in it)
        self._drain(out)
        if out:
            self._out = []
            return self._handed(out)
        return _NO_LOOKUPS

    def done(self, txn: Transaction) -> Sequence[Lookup]:
        """A transaction passed to `sent` completed (answered or timed out): apply it to
        its chain (see `_done`). The pipeline's transaction sink when the builder is fed
        as queries are sent (`hooks` queues it instead)."""
        self._events.append(txn)
        out = self._out
        self._drain(out)
        if out:
            self._out = []
            return self._handed(out)
        return _NO_LOOKUPS

    def _done(self, txn: Transaction, out: list[Lookup]) -> None:
        """Apply a completion as `_Chain.add` would have (the current step's end is
        recomputed: it counted the pending transaction at its timeout). Runs once per
        transaction, flat."""
        key = id(txn)
        chain = self._waiting.pop(key, None)
        if chain is None:
            # completed when sent (its reply came first), still in the inference sample,
            # in a chain evicted meanwhile, or unsolicited (never sent)
            if self._held:
                self._held.discard(key)
            if txn.retransmits:
                self._resent.pop(key, None)
            if txn.status is _UNSOLICITED:
                self._stats.unsolicited += 1
            return
        chain.waiting -= 1
        if txn.retransmits:
            chain.retransmits += txn.retransmits
            self._resent.pop(key, None)
        txns = chain.txns
        last = i = len(txns) - 1
        while txns[i] is not txn:
            i -= 1
        r = txn.response
        timeout = self._timeout
        if r is None:
            chain.lost = True
            times = txn.query_times
            activity = times[-1] if times else txn.ts
            end = activity + timeout
        else:
            activity = end = r.ts
            rcode = r.rcode
            # (most replies are NXDOMAIN: nothing to note)
            if (rcode == 0 and r.ancount > 0) or rcode == 2 or r.flags & TC_FLAG:
                chain._reply(r, chain.keys[i], activity)
            if activity > self._clock:
                self._clock = activity
        if activity > chain.last_activity:
            chain.last_activity = activity
        step_from = chain.step_from
        if i >= step_from:
            if step_from == last:
                chain.step_end = end  # the step is this transaction alone
            elif step_from == last - 1:
                # an A/AAAA pair (most steps): the later of the two ends, `_chain_end` inline
                other = txns[last] if i == step_from else txns[step_from]
                if chain.waiting and id(other) in self._waiting:
                    # still pending as far as applied (its reply may be in by now)
                    seen = self._resent.get(id(other))
                    other_end = (seen[0] if seen is not None else other.ts) + timeout
                else:
                    o = other.response
                    if o is None:
                        times = other.query_times
                        other_end = (times[-1] if times else other.ts) + timeout
                    else:
                        other_end = o.ts
                chain.step_end = end if end > other_end else other_end
            else:
                times = txn.query_times
                if (times[-1] if times else txn.ts) + timeout >= chain.step_end:
                    # the step's end was this transaction's timeout: recompute it (else
                    # another transaction of the step ends later, and it still does)
                    chain.step_end = _chain_end(chain, txns[step_from:], timeout)
        if self._clock >= self._next_tick:
            self._tick(out)

    def _tick(self, out: list[Lookup]) -> None:
        """At each `_TICK` of packet time (fed as sent): close the chains idle then.

        At fixed points of packet time, as `_release_sample` closes them in the sample:
        the lookups come out in the same order whether the configuration is given or
        inferred."""
        now = _tick_of(self._clock)
        self._next_tick = now + _TICK
        self._released = now
        self._close_idle(out)

    def _release_sample(self, out: list[Lookup]) -> None:
        """(Fed as sent, no configuration given) infer it from the held sample, then match
        the sample's transactions in sending order, closing idle chains at each `_TICK`
        as `_tick` would have."""
        self._ensure_config()
        buckets = self._buckets
        for second in sorted(buckets):
            bucket = buckets.pop(second)
            if len(bucket) > 1:
                bucket.sort(key=_SENT)
            for txn in bucket:
                now = _tick_of(txn.ts)
                if now > self._released:
                    self._released = now
                    self._close_idle(out)
                self._process(txn, out, self._held_sent(txn))
        self._forget_current()
        now = _tick_of(self._clock)
        self._next_tick = now + _TICK
        self._released = now

    def _handed(self, out: list[Lookup]) -> Sequence[Lookup]:
        """`out`, or nothing once passed to `on_lookup`."""
        on_lookup = self._on_lookup
        if on_lookup is None or not out:
            return out
        for lookup in out:
            on_lookup(lookup)
        return _NO_LOOKUPS

    def expire(self, now: float) -> Sequence[Lookup]:
        """Process what packet time `now` has made safe; return the lookups that closed."""
        out: list[Lookup] = []
        self._drain(out)
        if now > self._clock:
            self._clock = now
        if not self._streaming:
            self._release(self._clock - self.reorder, out)
            self._close_idle(out)
        elif self._readings is None:
            if self._clock >= self._sample_end:
                self._release_sample(out)
        elif self._clock >= self._next_tick:
            self._tick(out)
        return self._handed(out)

    def flush(self) -> Sequence[Lookup]:
        """Process and close everything (end of capture)."""
        out: list[Lookup] = []
        self._drain(out)
        if self._streaming and self._readings is None and self._buckets:
            self._release_sample(out)
        self._release(float("inf"), out)
        for chains in list(self._chains.values()):
            for chain in list(chains):
                self._close(chain, out)
        return self._handed(out)

    # -- internals -----------------------------------------------------------------------

    def _ensure_config(self) -> None:
        if self._readings is not None:
            return
        held = self._held
        sample = [
            self._as_applied(t) if held and id(t) in held else t
            for bucket in self._buckets.values()
            for t in bucket
        ]
        inferred = infer_configs(sample, window=self.window)
        config, per_client = inferred.config, inferred.ndots
        self.config = config or ResolverConfig(source=_INFERRED)
        self._timeout = self.config.timeout
        self._inferred = True
        for client, namespace in inferred.namespaces.items():
            if len(self._namespaces) < self.max_clients:
                self._namespaces.setdefault(client, namespace)
        by_ndots: dict[int, tuple[ResolverConfig, _Readings]] = {}
        for client, ndots in per_client.items():
            entry = by_ndots.get(ndots)
            if entry is None:
                own = replace(self.config, ndots=ndots)
                entry = by_ndots[ndots] = (own, _Readings(own))
            self._client_configs[client] = entry
        self._readings = _Readings(self.config)
        self._reading_cache = self._readings.cache

    def _held_sent(self, txn: Transaction) -> float | None:
        """A held transaction leaves the sample: when it was last sent if it is pending as
        far as applied, else None (complete: read it)."""
        key = id(txn)
        if key in self._held:
            self._held.discard(key)
            seen = self._resent.get(key)
            return seen[0] if seen is not None else txn.ts
        return None if self._streaming else _pending_since(txn)

    def _as_applied(self, txn: Transaction) -> Transaction:
        """A held transaction pending as far as applied, as it stood then (itself, unless
        fed in batches and answered or resent since)."""
        seen = self._resent.get(id(txn))
        n = seen[1] if seen is not None else 0
        if txn.status is _PENDING and txn.retransmits == n:
            return txn
        return _as_pending(txn, n)

    def _hold(self, ts: float, txn: Transaction) -> None:
        """Put `txn` in the bucket of its second; keep the newest bucket at hand."""
        second = int(ts)
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = [txn]
        else:
            bucket.append(txn)
        if second >= 1 and (second > self._cur_second or self._cur_lo == _INF):
            self._cur = bucket
            self._cur_second = second
            self._cur_lo = float(second)
            self._cur_hi = float(second + 1)

    def _forget_current(self) -> None:
        """A bucket left the table: the one at hand may be gone."""
        self._cur_lo = _INF
        self._cur_hi = _NEG_INF

    def _release_second(self, second: int, out: list[Lookup]) -> None:
        bucket = self._buckets.pop(second)
        self._forget_current()
        if len(bucket) > 1:
            bucket.sort(key=_SENT)
        self._process_sorted(bucket, out)
        if second + 1 > self._released:
            self._released = second + 1

    def _release(self, until: float, out: list[Lookup]) -> None:
        """Process every second of transactions sent before `until`, oldest first."""
        buckets = self._buckets
        while buckets:
            first = min(buckets)
            if first + 1 > until:
                # everything sent before `first` is processed
                limit = first if first < until else until
                if limit > self._released:
                    self._released = limit
                return
            self._ensure_config()
            self._release_second(first, out)
        if until > self._released:
            self._released = until

    def _bound(self, out: list[Lookup]) -> None:
        """Bring held transactions back under max_open: process the oldest seconds early
        (the reorder window shrinks), closing the chains that made idle; only when that is
        not enough, close the least recently active chains."""
        target = self.max_open * 9 // 10
        buckets = self._buckets
        if buckets:
            self._ensure_config()
        process = self._process
        while buckets and self._open > target:
            first = min(buckets)
            bucket = buckets[first]
            bucket.sort(key=_SENT)
            chunk = bucket[:256]
            del bucket[:256]
            if not bucket:
                del buckets[first]
                self._forget_current()
            self._stats.forced += len(chunk)
            for txn in chunk:
                if txn.ts > self._released:
                    self._released = txn.ts
                process(txn, out, self._held_sent(txn))
            self._close_idle(out)
        if self._open > target:
            chains = sorted(
                (c for cs in self._chains.values() for c in cs), key=lambda c: c.last_activity
            )
            for chain in chains:
                if self._open <= target:
                    break
                self._stats.chains_evicted += 1
                self._close(chain, out)

    def _close(self, chain: _Chain, out: list[Lookup]) -> None:
        """Remove an open chain from every table and emit its lookup."""
        if chain.waiting:
            chain.abandon()
        client = chain.client
        chains = self._chains.get(client)
        if chains is not None and len(chains) == 1 and chains[0] is chain:
            # the client's only open chain (most lookups): every entry of its index and
            # socket tables is this chain's
            del self._chains[client]
            self._index.pop(client, None)
            self._sockets.pop(client, None)
            cidx = None
        else:
            if chains is not None:
                chains.remove(chain)  # (others remain: the only-chain case is above)
            cidx = self._index.get(client)
        if cidx is not None:
            for base in chain.indexed:
                entries = cidx.get(base)
                if entries is chain:
                    del cidx[base]
                elif entries is not None:
                    entries.remove(chain)  # type: ignore[union-attr]
                    if not entries:
                        del cidx[base]
            sockets = self._sockets.get(client)
            if sockets is not None:
                for port in chain.ports:
                    if sockets.get(port) is chain:
                        del sockets[port]
                if not sockets:
                    del self._sockets[client]
            if not cidx:
                del self._index[client]
        n = len(chain.txns)
        self._open -= n
        self._closed += n
        self._stats.lookups += 1
        namespaces = self._namespaces
        known = namespaces.get(client)
        own = self._client_configs.get(client) if self._client_configs else None
        config = own[0] if own is not None else self.config or ResolverConfig()
        lookup = build_lookup(chain, config, known or self._config_namespace or None)
        if lookup.namespace:
            # A walk from `<ns>.svc.<domain>` on shows the client's namespace; one name
            # answered at once does not (the client's own, as far as we knew).
            if known != lookup.namespace and chain.steps > 1:
                if len(namespaces) >= self.max_clients:
                    namespaces.clear()
                namespaces[client] = lookup.namespace
        elif known:
            lookup.namespace = known
        out.append(lookup)

    def _idle(self, chain: _Chain, now: float) -> bool:
        if chain.waiting:
            return False
        idle = now - chain.last_activity
        return idle > self.window or (
            idle > self.grace and _finished(chain, self._config_of(chain.client))
        )

    def _config_of(self, client: str) -> ResolverConfig | None:
        """The client's own configuration (its ndots or search list learnt), else the
        shared one."""
        own = self._client_configs.get(client) if self._client_configs else None
        return own[0] if own is not None else self.config

    def _close_idle(self, out: list[Lookup]) -> None:
        now = self._released
        window = self.window
        grace = self.grace
        config = self.config
        own = self._config_of if self._client_configs else None
        # Every open chain at each tick (a quarter second fed as sent, a second fed
        # completed): one pass over all clients (`_idle` inline), then the closing, in the
        # same order (closing one chain leaves the others idle or not as they were).
        idle_chains = [
            c
            for chains in self._chains.values()
            for c in chains
            # (a chain waiting for a reply first: one lost query keeps its chain 15 s)
            if not c.waiting
            and (
                (idle := now - c.last_activity) > window
                or (idle > grace and _finished(c, config if own is None else own(c.client)))
            )
        ]
        for chain in idle_chains:
            self._close(chain, out)

    def _as_is_first(
        self,
        client: str,
        txn: Transaction,
        key: str,
        readings: dict[str, int],
        ts: float,
        sent_at: float | None,
    ) -> bool:
        """`txn` is the first search step of a name the client just tried as-is and got no
        data for. Then its ndots is at most that name's dots (glibc tries a name as-is first
        when it has enough dots): the client gets that ndots from now on, and `txn` joins
        the as-is chain. True when it did. This holds for a given config too: one
        resolv.conf given for a node capture is wrong for the node's pods that set another
        ndots, and their walks say so."""
        own = self._client_configs.get(client)
        config = own[0] if own is not None else self.config
        cidx = self._index.get(client)
        if cidx is None:
            return False
        for base, pos in readings.items():
            if pos != 0 or "." not in base:
                continue
            entries = cidx.get(base)
            if entries is None:
                continue
            n = len(config.search)  # type: ignore[union-attr]
            for chain in reversed(entries) if entries.__class__ is list else (entries,):  # type: ignore[arg-type]
                if (
                    chain.steps != 1
                    or chain.keys[0] != base
                    or chain.first.get(base) != n
                    or base not in chain.readings
                    or chain.data_time is not None
                    or chain.lost
                    or chain.waiting
                    or not chain.step_end - _CLOCK_SLACK <= ts <= chain.step_end + _MIN_RESEND
                ):
                    continue
                ndots = count_dots(base)
                if own is None or own[0].ndots > ndots:
                    mine = replace(config, ndots=ndots)  # type: ignore[arg-type]
                    self._client_configs[client] = (mine, _Readings(mine))
                chain.first = {base: 0}
                chain.readings = {base: 1}
                self._join(chain, client, txn, key, sent_at)
                return True
        return False

    def _join(
        self, chain: _Chain, client: str, txn: Transaction, key: str, sent_at: float | None
    ) -> None:
        """Add `txn` to `chain` outside the matcher's own path, socket index included."""
        chain.add(txn, key, self.config.timeout, sent_at)  # type: ignore[union-attr]
        port = txn.flow.client_port
        sockets = self._sockets.get(client)
        if sockets is None:
            sockets = self._sockets[client] = {}
        sockets[port] = chain
        chain.ports.append(port)

    def _cname_join(
        self, client: str, txn: Transaction, key: str, ts: float, sent_at: float | None
    ) -> bool:
        """nslookup asks A through the list, then AAAA for the name that answered, or for
        the CNAME target when that name is an alias (`www.example.org` -> AAAA of
        `example.org`): `txn` is such a question when a chain of this client that asked A
        alone got data whose CNAME leads to `txn`'s name, just before. It joins that chain,
        as the AAAA of its final name. True when it did."""
        chains = self._chains.get(client)
        if not chains:
            return False
        for chain in reversed(chains[-8:]):
            data_time = chain.data_time
            if (
                data_time is None
                or chain.alias is not None
                or not data_time - _CLOCK_SLACK <= ts <= chain.step_end + _MIN_RESEND
                or chain.qs.count(1) != len(chain.qs)
            ):
                continue
            found = None
            waiting = self._waiting if chain.waiting else None
            for t in chain.txns[chain.step_from :]:
                # (a reply counts once its completion is applied, see `hooks`)
                if _has_data(t) and (waiting is None or id(t) not in waiting):
                    found = t
                    break
            target = cname_target(found.response) if found is not None else None  # type: ignore[union-attr]
            if target is None or name_key(target) != key:
                continue
            self._join(chain, client, txn, key, sent_at)
            chain.alias = key
            return True
        return False

    def _learn_domain(
        self, client: str, txn: Transaction, key: str, ts: float, sent_at: float | None
    ) -> bool:
        """(Inferred configuration) `txn` asks `<base>.<suffix>`, with `suffix` not a
        known search domain, right after a walk of this client asked `<base>.<the last
        known domain>` and got no data: the client's search list goes on with `suffix`
        (the inference sample, the first seconds, showed no walk that far). The client
        learns it, and `txn` joins that walk. True when it did."""
        own = self._client_configs.get(client)
        config = own[0] if own is not None else self.config
        search = config.search  # type: ignore[union-attr]
        chains = self._chains.get(client)
        if not search or not chains:
            return False
        tail = "." + search[-1]
        for chain in reversed(chains[-8:]):
            last = chain.keys[-1]
            if (
                chain.data_time is not None
                or chain.waiting
                or chain.lost
                or not last.endswith(tail)
                or not chain.step_end - _CLOCK_SLACK <= ts <= chain.step_end + _MIN_RESEND
            ):
                continue
            base = last[: -len(tail)]
            pos = chain.readings.get(base)
            if pos is None or not key.startswith(base + "."):
                continue
            suffix = key[len(base) + 1 :]
            if not suffix or suffix in search:
                continue
            mine = replace(config, search=(*search, suffix))  # type: ignore[arg-type]
            self._client_configs[client] = (mine, _Readings(mine))
            learnt = self._stats.domains_learnt
            if suffix in learnt or len(learnt) < 64:
                learnt[suffix] = learnt.get(suffix, 0) + 1
            chain.readings = {base: pos + 1}
            if base in chain.first and len(chain.first) > 1:
                chain.first = {base: chain.first[base]}
            self._join(chain, client, txn, key, sent_at)
            return True
        return False

    def _process_sorted(self, txns: Iterable[Transaction], out: list[Lookup]) -> None:
        """Match held transactions, in the order given (see `_process`)."""
        process = self._process
        held_sent = self._held_sent
        for txn in txns:
            process(txn, out, held_sent(txn))

    def _process(self, txn: Transaction, out: list[Lookup], sent_at: float | None) -> None:
        """Match one transaction: it joins the open chain it continues, or starts one.
        `sent_at`: when it was last sent, if pending as far as the builder has applied
        (None: complete, read it).

        The commonest case, a third to a half of all transactions (the second question of
        a glibc or musl pair, on the socket of the chain's current step), is decided and
        added right here; the rest goes to `_process_slow`.
        """
        flow = txn.flow
        client = flow.client
        port = flow.client_port
        qname = txn.qname
        client_configs = self._client_configs
        if client_configs and (own := client_configs.get(client)) is not None:
            found = own[1].of(qname)
        else:
            found = self._reading_cache.get(qname)
            if found is None:
                found = self._readings.of(qname)  # type: ignore[union-attr]
        key, readings = found
        ts = txn.ts
        sockets = self._sockets.get(client)
        if sockets is not None:
            # Fast path: the same name on the socket of a chain's current step.
            hint = sockets.get(port)
            if hint is not None and hint.keys[-1] == key and ts - hint.last_activity <= self.grace:
                # The usual case inline: the step so far is one question of the other
                # type on this socket (glibc's and musl's A and AAAA), what `_same_step`
                # rates _Q_SOCKET; it is also the evidence `guess_resolver` looks for.
                # (The first question of a step or pass comes through `_process_slow`,
                # which appends its port to `ports`: when it is the step's only one,
                # `ports[-1]` is its port.)
                start = hint.step_from
                if hint.pass_start > start:
                    start = hint.pass_start
                qtype = txn.qtype
                htxns = hint.txns
                other = hint.qs[start]
                if (
                    len(htxns) - start == 1
                    and other != qtype
                    and hint.ports[-1] == port
                    and ts <= hint.step_end + _MIN_RESEND
                ):
                    if (qtype == 28 and other == 1) or (qtype == 1 and other == 28):
                        hint.paired = True
                    if start != hint.step_from:
                        hint.maybe_dup = True
                    quality = _Q_SOCKET
                else:
                    quality = _same_step(hint, txn, self.config)  # type: ignore[arg-type]
                    hint.maybe_dup = True
                if quality == _Q_SOCKET:
                    # `hint.add` inline, less the change of step: keep the two in step.
                    htxns.append(txn)
                    hint.keys.append(key)
                    hint.qs.append(qtype)
                    if sent_at is not None:
                        activity = sent_at
                        end = sent_at + self._timeout
                        hint.waiting += 1
                        self._waiting[id(txn)] = hint
                    else:
                        # (rare when fed as sent: the reply comes later, see `done`)
                        if txn.retransmits:
                            hint.retransmits += txn.retransmits  # (see `_Chain.add`)
                        r = txn.response
                        if r is None:
                            times = txn.query_times
                            activity = times[-1] if times else ts
                            end = activity + self._timeout
                            hint.lost = True
                        else:
                            activity = end = r.ts
                            hint._reply(r, key, activity)
                    if activity > hint.last_activity:
                        hint.last_activity = activity
                    if end > hint.step_end:
                        hint.step_end = end
                    if len(htxns) >= MAX_CHAIN:
                        self._stats.chains_cut += 1
                        self._close(hint, out)
                    return
        self._process_slow(txn, client, port, key, readings, ts, out, sent_at)

    def _process_slow(
        self,
        txn: Transaction,
        client: str,
        port: int,
        key: str,
        readings: dict[str, int],
        ts: float,
        out: list[Lookup],
        sent_at: float | None,
    ) -> None:
        """Find the open chain `txn` continues best (closing idle ones met on the way),
        or start one."""
        own = self._client_configs.get(client) if self._client_configs else None
        config = own[0] if own is not None else self.config
        timeout = config.timeout  # type: ignore[union-attr]
        cidx = self._index.get(client)
        best: _Chain | None = None
        best_match: dict[str, int] | None = None
        best_quality = 0
        new_pass = False
        chains = self._chains.get(client)
        only = chains[0] if chains is not None and len(chains) == 1 else None
        if only is not None and (only.waiting or ts - only.last_activity <= self.grace):
            # The client's only open chain, not idle (most search steps): the one
            # candidate, what the loop below would find. (A chain that shares no reading
            # with `txn` is not one, and `_match` says no to it as well.)
            best_match, best_quality, new_pass = _match(only, txn, key, readings, ts, config)  # type: ignore[arg-type]
            if best_quality:
                best = only
        elif cidx is not None:
            tried: list[_Chain] = []
            window = self.window
            grace = self.grace
            for base in readings:
                entries = cidx.get(base)
                if entries is None:
                    continue
                # Newest chain first: of equal matches, the most recent chain wins.
                for chain in reversed(entries) if entries.__class__ is list else (entries,):  # type: ignore[arg-type]
                    if chain in tried:
                        continue
                    tried.append(chain)
                    idle = ts - chain.last_activity
                    if not chain.waiting and (
                        idle > window or (idle > grace and _finished(chain, config))
                    ):
                        self._close(chain, out)
                        continue
                    match, quality, again = _match(chain, txn, key, readings, ts, config)  # type: ignore[arg-type]
                    if quality > best_quality or (
                        # two walks of one name at once: the resolver sends the next step
                        # right after the answers, so the chain answered last is the one
                        quality == best_quality == _Q_STEP and chain.step_end > best.step_end  # type: ignore[union-attr]
                    ):
                        best, best_match, best_quality, new_pass = chain, match, quality, again
                        if quality == _Q_SOCKET:
                            break
                if best_quality == _Q_SOCKET:
                    break
        if best is not None and best_match is not None:
            if new_pass:
                best.pass_start = len(best.txns)
                best.passes += 1
            best.readings = best_match  # (`first` is narrowed to it when read)
            best.add(txn, key, timeout, sent_at)
            # (closing idle chains above may have dropped the client's socket table)
            sockets = self._sockets.get(client)
            if sockets is None:
                sockets = self._sockets[client] = {}
            sockets[port] = best
            best.ports.append(port)
            if len(best.txns) >= MAX_CHAIN:
                self._stats.chains_cut += 1
                self._close(best, out)
            return
        if cidx is not None and self._as_is_first(client, txn, key, readings, ts, sent_at):
            return
        if txn.qtype == 28 and cidx is not None and self._cname_join(client, txn, key, ts, sent_at):
            return
        if (
            self._inferred
            and cidx is not None
            # (a name read as-is only: a suffix that is no known search domain)
            and len(readings) == 1
            and key in readings
            and self._learn_domain(client, txn, key, ts, sent_at)
        ):
            return
        # The cached readings dict is shared, never mutated: narrowing replaces it.
        chain = _Chain(
            client, readings, txn, key, timeout, port, self._waiting, self._resent, sent_at
        )
        sockets = self._sockets.get(client)
        if sockets is None:
            sockets = self._sockets[client] = {}
        sockets[port] = chain
        # (closing idle chains above may have dropped the client's index)
        cidx = self._index.get(client)
        if cidx is None:
            cidx = self._index[client] = {}
        for base in readings:
            entries = cidx.get(base)
            if entries is None:
                cidx[base] = chain
            elif entries.__class__ is list:
                entries.append(chain)  # type: ignore[union-attr]
            else:
                cidx[base] = [entries, chain]  # type: ignore[list-item]
        chains = self._chains.get(client)
        if chains is None:
            self._chains[client] = [chain]
            return
        chains.append(chain)
        if len(chains) > self.max_chains_per_client:
            for old in [c for c in chains if self._idle(c, ts)]:
                self._close(old, out)
            if len(chains) > self.max_chains_per_client:
                self._stats.chains_evicted += 1
                self._close(min(chains, key=lambda c: c.last_activity), out)


def _tick_of(t: float) -> float:
    """The `_TICK` point at or before packet time `t`."""
    return math.floor(t / _TICK) * _TICK


def _finished(chain: _Chain, config: ResolverConfig | None) -> bool:
    """The chain can only grow by another query type or pass: it got data, or every
    reading has reached its last candidate name and that name was answered for good."""
    if chain.data_time is not None:
        return True
    n = len(config.search) if config is not None else 0
    for pos in chain.readings.values():
        if pos != n:
            return False
    return not any(_needs_resend(t) for t in chain.txns[chain.step_from :])


def _match(
    chain: _Chain,
    txn: Transaction,
    key: str,
    readings: dict[str, int],
    ts: float,
    config: ResolverConfig,
) -> tuple[dict[str, int] | None, int, bool]:
    """The readings under which `txn` continues `chain` (None: it does not), how well
    (`_Q_*`, 0 for not at all), and whether it starts a new pass over the names."""
    ok: dict[str, int] = {}
    quality = 0
    new_pass = False
    same_step = -1
    open_walk = chain.data_time is None
    # (over the chain's readings: after its first step, one)
    for base, last in chain.readings.items():
        pos = readings.get(base)
        if pos is None:
            continue
        if pos > last:
            # a resolver sends the next name at once after the answers (or the timeout)
            # of the current one: a name later on is another lookup's, not a step forward
            if open_walk and ts <= chain.step_end + _MIN_RESEND:
                ok[base] = pos
                q = _Q_STEP if pos == last + 1 and ts >= chain.step_end - _CLOCK_SLACK else _Q_LOOSE
                if q > quality:
                    quality = q
        elif pos == last:
            # One base and position name one question, except the first search domain of
            # a pod's config, which differs per namespace: require the same name.
            if same_step < 0:
                same_step = _same_step(chain, txn, config) if key == chain.keys[-1] else 0
            if same_step:
                ok[base] = pos
                if same_step > quality:
                    quality = same_step
        elif open_walk and txn.qtype not in chain.qs and ts <= chain.step_end + _MIN_RESEND:
            # a second pass starts as soon as the first is over (`getent hosts`); later,
            # the same name from the top is a new lookup
            ok[base] = pos
            new_pass = True
            q = _Q_STEP if ts >= chain.step_end - _CLOCK_SLACK else _Q_LOOSE
            if q > quality:
                quality = q
    if not ok:
        return None, 0, False
    return ok, quality, new_pass


def _same_step(chain: _Chain, txn: Transaction, config: ResolverConfig) -> int:
    """Whether (and how well) a transaction for the chain's current name belongs to it.

    Yes for a query type not yet asked for this name in this pass (`_Q_SOCKET` on the
    socket of the step, as glibc and musl send A and AAAA), and for a resend with a
    reason: the earlier question of that type went unanswered and the resolver had
    attempts left (Go retries on a new socket and id), the step got SERVFAIL (glibc
    resends the pair), a truncated UDP reply is retried over TCP, or the resend reuses the
    socket and id (a resend the correlator saw as a new transaction). Another thread of
    the pod looking the same name up asks the same question again without any of these.
    """
    start = chain.step_from if chain.step_from > chain.pass_start else chain.pass_start
    qtype = txn.qtype
    flow = txn.flow
    port = flow.client_port
    prev = None
    same_socket = False
    servfail = False
    ts = txn.ts
    # Transactions pending as far as the builder has applied (see `LookupBuilder.hooks`):
    # their replies, if in by now, are not read yet.
    waiting = chain.waiting_index if chain.waiting else None
    for t in chain.txns[start:]:
        if t.flow.client_port == port:
            same_socket = True
        r = t.response
        if r is not None and waiting is not None and id(t) in waiting:
            r = None
        # resolvers resend after a SERVFAIL at once (glibc, Go) or with the same id
        # (musl): a new question seconds later is another lookup, and so is one sent
        # before the SERVFAIL came (fed completed, its reply is already there)
        if r is not None and r.rcode == 2 and -_CLOCK_SLACK <= ts - r.ts < _MIN_RESEND:
            servfail = True
        if t.qtype == qtype:
            prev = t
    quality = _Q_SOCKET if same_socket else _Q_STEP
    if prev is None:
        # the other query type of a step comes with it or right after its answer (or
        # timeout); the same name asked later is another lookup of it
        return quality if ts <= chain.step_end + _MIN_RESEND else 0
    if servfail or (prev.id == txn.id and prev.flow == flow):
        return quality
    pending = waiting is not None and id(prev) in waiting
    r = None if pending else prev.response
    if r is None:
        if pending and chain.truncated and flow.transport == "tcp":
            # glibc retries the whole step over TCP as soon as one reply is truncated,
            # without waiting for the other's (still pending when fed as sent)
            return quality
        if pending:
            seen = chain.resent_index.get(id(prev))
            last, resends = seen if seen is not None else (prev.ts, 0)
        else:
            last, resends = _last_sent(prev), prev.retransmits
        # a lost reply is resent after the resolver's timeout, while it has attempts left
        if 1 + resends >= config.attempts:
            return 0
        waited = ts - last
        if pending:
            # Fed as sent, a question still unanswered may yet be answered: only a resolver
            # whose timeout is up resends it as a new transaction (Go, on a new socket and
            # id; glibc and musl resend on the same socket with the same id, which the
            # correlator counts as a retransmission), so anything sooner is another
            # lookup's same question.
            return quality if waited >= _pending_resend_wait(config) else 0
        return quality if waited >= _MIN_RESEND else 0
    if r.flags & TC_FLAG and flow.transport == "tcp" and prev.flow.transport == "udp":
        return quality
    return 0


def _pending_resend_wait(config: ResolverConfig) -> float:
    """How long a resolver waits before resending an unanswered question as a new
    transaction: its `timeout`, less 20 ms of timestamp slack (a resolver's timer never
    fires early, and on a busy pod another lookup of the same name just before the timeout
    is far likelier than a resend)."""
    wait = config.timeout - 0.02
    return wait if wait > _MIN_RESEND else _MIN_RESEND


def _choose_base(
    chain: _Chain, qtypes: set[int], config: ResolverConfig, namespace: str | None
) -> tuple[str, bool]:
    """The reading of the chain that names what the application asked for, and whether
    that is the name as-is with a trailing dot.

    A chain that starts at position 0 of a reading is a whole lookup; a tie at position 0
    (with ndots:1, `web.default.svc.cluster.local` is both `web` expanded and itself tried
    as-is first) goes to the shortest base: the two cost the same, and in-cluster names
    are far more often asked short. A chain of ONE name that no reading starts at
    position 0 is the name as-is (a trailing dot: `kubernetes.default.svc.cluster.local.`
    from a pod of another namespace) rather than a walk whose first steps were never
    sent. So is a single name asked for A alone: the searching stub resolvers (glibc
    getaddrinfo, musl, Go) ask A and AAAA together, so A alone is dig or a health check
    with a fully qualified name (`dig +search` of a name found at the first step looks the
    same on the wire and costs the same: nothing is wasted either way). dig is told by
    its query, not by A alone (see `dig_like`): glibc's `getaddrinfo(AF_INET)` asks A alone
    too, through the search list, and the name it found at the first step was asked short.

    `namespace` is the client's (known or learnt, None when unknown): a single name
    `P.<other namespace>.svc.<domain>` is not a search step of `P` for that client but the
    service of another namespace asked by its full name (a walk from that first domain on
    to the next ones shows the client's namespace instead, and is read as a walk).
    """
    # (`first` holds every reading of the first name; those the chain still agrees on
    # are its `readings`' bases)
    readings = chain.readings
    first = chain.first
    best_base = ""
    best_pos = -1
    for base, pos in first.items():
        if (
            best_pos < 0 or pos < best_pos or (pos == best_pos and len(base) < len(best_base))
        ) and base in readings:
            best_base, best_pos = base, pos
    keys = chain.keys
    key0 = keys[0]
    n_keys = len(keys) if chain.alias is None else len(keys) - keys.count(chain.alias)
    if namespace is not None and best_pos == 0 and best_base != key0 and chain.steps == 1:
        split = _namespace_split_cached(key0, config)
        if split is not None and split[0] == best_base and split[1] != namespace:
            best_base, best_pos = "", -1
            for base, pos in first.items():
                if (
                    base != split[0]
                    and base in readings
                    and (
                        best_pos < 0
                        or pos < best_pos
                        or (pos == best_pos and len(base) < len(best_base))
                    )
                ):
                    best_base, best_pos = base, pos
    if (
        (best_pos != 0 or (len(qtypes) == 1 and 1 in qtypes and dig_like(chain.txns[0])))
        and key0 in first
        and key0 in readings
        and keys.count(key0) == n_keys
    ):
        return key0, True
    return best_base, False


def dig_like(txn: Transaction) -> bool:
    """The query came from dig (or another BIND tool that sets AD and sends EDNS).

    dig asks with the AD flag and an OPT record (EDNS, with a cookie) by default; the stub
    resolvers of glibc, musl and Go, and nslookup, ask with RD alone and no additional
    record (glibc adds EDNS only with `options edns0`, AD only with `trust-ad`: both, for
    one name asked for A alone, would read as dig).
    """
    q = txn.query
    return q is not None and q.arcount > 0 and bool(q.flags & AD_FLAG)


def pick_useful(txns: list[Transaction]) -> Transaction:
    """Of one name's transactions of one type: the one whose reply the resolver used."""
    for t in txns:
        if _has_data(t):
            return t
    answered = [t for t in txns if t.response is not None]
    return answered[-1] if answered else txns[-1]


def _pick_useful_fast(txns: list[Transaction]) -> Transaction:
    if len(txns) == 1:
        return txns[0]
    return pick_useful(txns)


def _useful_of(chain: _Chain, final_key: str) -> tuple[Transaction, ...]:
    """Per query type, in order of first appearance: the transaction of `final_key` whose
    reply the resolver used (see `pick_useful`)."""
    txns = chain.txns
    keys = chain.keys
    step_from = chain.step_from
    n = len(keys)
    # The common case: the final name is the current step and was not asked before it.
    if final_key == keys[-1] and keys.count(final_key) == n - step_from:
        if step_from == n - 1:
            return (txns[-1],)
        qs = chain.qs
        if step_from == n - 2 and qs[-1] != qs[-2]:
            return (txns[-2], txns[-1])
        run = txns[step_from:]
    else:
        run = [t for t, k in zip(txns, keys, strict=True) if k == final_key]
    by_type: dict[int, list[Transaction]] = {}
    for t in run:
        found = by_type.get(t.qtype)
        if found is None:
            by_type[t.qtype] = [t]
        else:
            found.append(t)
    return tuple([_pick_useful_fast(ts) for ts in by_type.values()])


def _chain_end(chain: _Chain, txns: list[Transaction], timeout: float) -> float:
    """When the last reply to `txns` (of `chain`) came or the last unanswered query timed
    out, as far as the builder has applied them: a transaction still pending in its view
    ends `timeout` after its last transmission applied."""
    index = chain.waiting_index if chain.waiting else None
    end = _NEG_INF
    for t in txns:
        if index is not None and id(t) in index:
            seen = chain.resent_index.get(id(t))
            e = (seen[0] if seen is not None else t.ts) + timeout
        else:
            r = t.response
            if r is None:
                times = t.query_times
                e = (times[-1] if times else t.ts) + timeout
            else:
                e = r.ts
        if e > end:
            end = e
    return end


def build_lookup(chain: _Chain, config: ResolverConfig, namespace: str | None = None) -> Lookup:
    """Summarise a closed chain as a `Lookup` (cost, outcome, resolver guess, findings).

    An unanswered transaction ends `config.timeout` after its last transmission. It runs
    once per lookup, a hundred thousand times on a large capture: what needs every reply
    was gathered by `_Chain.add`, and the rest looks at the final name's one or two
    transactions and at the chain's query types, read once here for the findings and the
    resolver guess. `namespace` is the client's Kubernetes namespace when known (see
    `_choose_base`).
    """
    txns = chain.txns
    keys = chain.keys
    first = txns[0]
    qtypes_set = set(chain.qs)
    base, fqdn = _choose_base(chain, qtypes_set, config, namespace)
    name = (first.qname[: len(base)] + ".") if base else "."
    queries = len(txns) + chain.retransmits
    # Without an unanswered transaction the chain ends at its latest reply.
    end = _chain_end(chain, txns, config.timeout) if chain.lost else chain.last_activity
    final_key = chain.final_key
    if final_key is None:
        final_key = keys[-1]
    # (the usual case of `_useful_of` inline: A and AAAA of the last name, asked once)
    n = len(keys)
    step_from = chain.step_from
    if step_from == n - 2 and final_key == keys[-1] and keys.count(final_key) == 2:
        qs = chain.qs
        useful = (txns[-2], txns[-1]) if qs[-1] != qs[-2] else _useful_of(chain, final_key)
    else:
        useful = _useful_of(chain, final_key)
    alias = chain.alias
    if alias is not None and alias != final_key:
        useful = (*useful, pick_useful([t for t, k in zip(txns, keys, strict=True) if k == alias]))
    start = first.ts
    # One pass over the useful transactions: the reply used (the first with data, else
    # the first answered, else any; the earliest sent of those) and the best outcome.
    with_data = answered = fallback = None
    data_sent = answered_sent = fallback_sent = _INF
    n_answered = 0
    several_answers = False  # some useful reply holds 2+ records (autopath's CNAME)
    best_rank = _OTHER_RANK + 1
    outcome = ""
    for t in useful:
        times = t.query_times
        sent = times[-1] if times else t.ts
        if sent < fallback_sent:
            fallback, fallback_sent = t, sent
        r = t.response
        if r is None:
            result = "TIMEOUT"
        else:
            n_answered += 1
            if sent < answered_sent:
                answered, answered_sent = t, sent
            rcode = r.rcode
            if rcode == 0:
                if r.ancount > 0:
                    result = "NOERROR"
                    if r.ancount > 1:
                        several_answers = True
                    if sent < data_sent:
                        with_data, data_sent = t, sent
                else:
                    result = "NODATA"
            else:
                result = rcode_text(rcode)
        rank = _OUTCOME_RANK.get(result, _OTHER_RANK)
        if rank < best_rank:
            best_rank, outcome = rank, result
    if with_data is not None:
        used, used_sent = with_data, data_sent
    elif answered is not None:
        used, used_sent = answered, answered_sent
    else:
        used, used_sent = fallback, fallback_sent
    wasted_time = used_sent - start
    if wasted_time < 0.0:
        wasted_time = 0.0
    findings = _findings(chain, base, final_key, useful, several_answers)
    if len(qtypes_set) == 2 and 1 in qtypes_set and 28 in qtypes_set:
        qtypes: tuple[str, ...] = ("A", "AAAA")
    else:
        qtypes = tuple([qtype_text(q) for q in sorted(qtypes_set)])
    # positional: a dataclass builds faster without keyword matching (field order above)
    return Lookup(
        chain.client,
        name,
        qtypes,
        start,
        end - start,
        queries,
        # a question that never got a reply was sent for nothing, even at the final name
        queries - n_answered,
        wasted_time,
        outcome,
        used.qname,  # type: ignore[union-attr]
        (),
        guess_resolver(chain, base, config, qtypes_set),
        tuple(txns),
        findings,
        useful,
        _namespace_of(keys, base, config),
        fqdn,
    )


# (config, its namespace_suffix, {name key: (base, namespace) or None}): one config per run
_last_suffix: list = [None, None, {}]


def _suffix_of(config: ResolverConfig) -> str | None:
    """`namespace_suffix(config)`, remembered with its name cache for the last config (the
    configs of one run differ at most in ndots: the cache is kept across them)."""
    if _last_suffix[0] is not config:
        suffix = namespace_suffix(config)
        if suffix != _last_suffix[1]:
            _last_suffix[2] = {}
        _last_suffix[0], _last_suffix[1] = config, suffix
    return _last_suffix[1]


def _namespace_of(keys: list[str], base: str, config: ResolverConfig) -> str:
    """The namespace whose first search domain the chain tried for `base` ("" if none)."""
    suffix = _suffix_of(config)
    if suffix is None or not base:
        return ""
    # Each name is `base.<namespace>.<suffix>` for at most one base (the namespace has no
    # dot), so that reading is cached per name.
    split_of = _last_suffix[2]
    previous = None
    for key in keys:
        if key is previous:
            continue
        previous = key
        split = split_of.get(key, False)
        if split is False:
            split = _namespace_split(key, suffix)
            if len(split_of) >= 50_000:
                split_of.clear()
            split_of[key] = split
        if split is not None and split[0] == base:
            return split[1]
    return ""


def _namespace_split_cached(key: str, config: ResolverConfig) -> tuple[str, str] | None:
    """`_namespace_split` of `key` with `config`'s suffix, cached as `_namespace_of` does."""
    suffix = _suffix_of(config)
    if suffix is None:
        return None
    split_of = _last_suffix[2]
    split = split_of.get(key, False)
    if split is False:
        split = _namespace_split(key, suffix)
        if len(split_of) >= 50_000:
            split_of.clear()
        split_of[key] = split
    return split


def _namespace_split(key: str, suffix: str) -> tuple[str, str] | None:
    """(base, namespace) when `key` is `base.<namespace>.<suffix>`, else None."""
    end = len(key) - len(suffix) - 1
    if end <= 0 or not key.endswith(suffix) or key[end] != ".":
        return None
    dot = key.rfind(".", 0, end)
    if dot < 0 or dot + 1 == end:
        return None
    return key[:dot], key[dot + 1 : end]


def _is_autopath(useful: tuple[Transaction, ...], base: str, final_key: str) -> bool:
    """CoreDNS autopath: an expansion answered with a CNAME to the name as-is."""
    if final_key == base:
        return False
    target = base + "."
    for t in useful:
        # a CNAME and the target's records: at least two answers
        r = t.response
        if r is not None and r.rcode == 0 and r.ancount > 1:
            texts = answers_of(r)
            if any(text.lower() == target for text in texts):
                return True
    return False


def _findings(
    chain: _Chain,
    base: str,
    final_key: str,
    useful: tuple[Transaction, ...],
    several_answers: bool,
) -> tuple[str, ...]:
    txns = chain.txns
    keys = chain.keys
    qtype_list = chain.qs
    out: list[str] = []
    if chain.steps > 1:
        out.append("search-list expansion")
    if several_answers and final_key != base and _is_autopath(useful, base, final_key):
        out.append("autopath")
    if chain.passes > 1:
        out.append("separate query-type passes")
    if chain.retransmits:
        out.append("retransmission")
    elif chain.maybe_dup and len(set(zip(keys, qtype_list, strict=True))) != len(keys):
        # a question asked twice: a resend, unless it is the TCP retry of a truncated reply
        seen: dict[tuple[str, int], int] = {}
        for q in zip(keys, qtype_list, strict=True):
            seen[q] = seen.get(q, 0) + 1
        if any(n > 1 and not _tcp_retry_only(chain, k, q) for (k, q), n in seen.items()):
            out.append("retransmission")
    if chain.truncated:
        cut = {k for t, k in zip(txns, keys, strict=True) if _truncated_udp(t)}
        if cut:
            over_tcp = {k for t, k in zip(txns, keys, strict=True) if t.flow.transport == "tcp"}
            if cut & over_tcp:
                out.append("tcp retry after truncation")
            if cut - over_tcp:
                out.append("truncated without tcp retry")
    if chain.lost:
        out.append("timeout")
    if chain.servfail:
        out.append("servfail")
    return tuple(out)


def _truncated_udp(t: Transaction) -> bool:
    r = t.response
    return r is not None and t.flow.transport == Transport.UDP and bool(r.flags & TC_FLAG)


def _tcp_retry_only(chain: _Chain, key: str, qtype: int) -> bool:
    """A UDP question answered truncated and asked again over TCP is not a resend."""
    same = [t for t, k in zip(chain.txns, chain.keys, strict=True) if k == key and t.qtype == qtype]
    return len(same) == 2 and _truncated_udp(same[0]) and same[1].flow.transport == "tcp"


def guess_resolver(
    chain: _Chain, base: str, config: ResolverConfig, qtypes: set[int] | None = None
) -> str:
    """Name the stub resolver from the shape of the chain (see DESIGN.md, "Lookups").

    Two query types for one name from two source ports: Go. One port: glibc, unless it
    stopped where glibc goes on (NODATA/SERVFAIL before the end of the list, or no search
    at all for a failing name with enough dots): musl. dig's own query flags (`dig_like`):
    dig, or dig+search when it walked the list. A through the list and AAAA only for the
    name that answered: nslookup. `qtypes` is the set of the chain's query types, when the
    caller has it.
    """
    keys = chain.keys
    if qtypes is None:
        qtypes = set(chain.qs)
    if len(qtypes) == 1 and 1 in qtypes:
        if dig_like(chain.txns[0]):
            return "dig" if chain.steps == 1 else "dig+search"
        return "unknown"
    if 1 in qtypes and 28 in qtypes:
        if chain.passes > 1:
            return "glibc"
        last_key = keys[-1]
        if last_key != keys[0]:
            nslookup = True
            for i, q in enumerate(chain.qs):
                if q != 1 and keys[i] != last_key:
                    nslookup = False
                    break
            if nslookup:
                return "nslookup"
        if chain.paired or _one_socket_pair(chain):
            if chain.data_time is None and _stopped_like_musl(chain, base, config):
                return "musl"
            return "glibc"
        if _both_types_asked(chain):
            return "go"
    return "unknown"


def _one_socket_pair(chain: _Chain) -> bool:
    """Some name was asked for A and AAAA from one source port."""
    named_ports = list(zip(chain.keys, [t.flow.client_port for t in chain.txns], strict=True))
    qs = chain.qs
    a_ports = {kp for kp, q in zip(named_ports, qs, strict=True) if q == 1}
    return any(kp in a_ports for kp, q in zip(named_ports, qs, strict=True) if q == 28)


def _both_types_asked(chain: _Chain) -> bool:
    """Some name was asked for both A and AAAA."""
    qs = chain.qs
    a_names = {k for k, q in zip(chain.keys, qs, strict=True) if q == 1}
    return any(k in a_names for k, q in zip(chain.keys, qs, strict=True) if q == 28)


def _stopped_like_musl(chain: _Chain, base: str, config: ResolverConfig) -> bool:
    if chain.data_time is not None:
        return False
    txns = chain.txns
    keys = chain.keys
    last_key = keys[-1]
    results = {reply_result(t) for t, k in zip(txns, keys, strict=True) if k == last_key}
    if "TIMEOUT" in results:
        return False  # glibc stops at a timeout too
    if results & {"NODATA", "SERVFAIL"}:
        order = candidate_names(base, with_namespace(config, _namespace_of(keys, base, config)))
        if order and last_key != order[-1]:
            return True
    # Enough dots and a failed as-is query, with no search after it: glibc would search.
    return (
        bool(config.search)
        and count_dots(base) >= config.ndots
        and keys.count(base) == len(keys)
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
    last_seen: float  # the latest reply, or the latest query sent when unanswered


def _seen(t: Transaction) -> float:
    r = t.response
    if r is not None:
        return r.ts
    return _last_sent(t) + _WALK_GAP  # a lost reply: the resolver waits, then goes on


def _common_prefix(a: list[str], b: list[str]) -> list[str]:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


@dataclass(slots=True)
class Inference:
    """What `infer_configs` read from the traffic."""

    config: ResolverConfig | None  # the shared search list and ndots (None: no evidence)
    ndots: dict[str, int]  # client -> its own ndots, where its walks call for another
    namespaces: dict[str, str]  # client -> the namespace its walks started in


def infer_config(
    transactions: Iterable[Transaction], *, window: float = DEFAULT_WINDOW
) -> ResolverConfig | None:
    """Guess the clients' search list and ndots from their traffic; None without evidence
    (the shared part of `infer_configs`)."""
    return infer_configs(transactions, window=window).config


def infer_configs(
    transactions: Iterable[Transaction], *, window: float = DEFAULT_WINDOW
) -> Inference:
    """Guess the clients' search list and ndots from their traffic: the shared config
    (None without evidence) and, per client whose own walks call for another ndots, that
    ndots (pods of one node may set different ndots; the search lists differ only in the
    namespace, which the builder reads per client), and per client whose walk started
    at `<namespace>.svc.<domain>`, that namespace (so that the first lookups of a capture
    already tell a service of another namespace asked by its full name from a short name).

    Per client, in time order, consecutive failed names that share their leading labels
    and then differ only in their tail (`x.default.svc.cluster.local`, `x.svc.cluster.local`,
    ..., `x`) are one search walk: the shared part is the base, the tails are the search
    domains in order. The search list is the walk seen that most other walks are a prefix
    of (then the longest). ndots: a base searched first has fewer dots than ndots, a base
    tried as-is first at least as many; the Kubernetes default 5 is kept when it fits. A
    walk goes on only while its names follow one another at once (a resolver sends the next
    name right after the answer, or after a timeout): the full name a later command asks is
    not a further search domain.
    """
    per_client: dict[str, list[Transaction]] = {}
    for t in transactions:
        if t.query is not None or t.response is not None:
            client = t.flow.client
            found = per_client.get(client)
            if found is None:
                per_client[client] = [t]
            else:
                found.append(t)
    walks: list[tuple[tuple[str, ...], int | None, int]] = []
    owner: list[str] = []  # the client of each walk
    # It reads the first `reorder` seconds of a capture, a few names many times over:
    # the key and labels of each name are made once (the label lists are never mutated).
    key_of: dict[str, str] = {}
    labels_of: dict[str, list[str]] = {}
    for client, txns in per_client.items():
        txns.sort(key=_SENT)
        group: _Group | None = None
        last_key: str | None = None
        for t in txns:
            qname = t.qname
            key = key_of.get(qname)
            if key is None:
                key = key_of[qname] = name_key(qname)
            if key == last_key and group is not None:
                if group.failed and _has_data(t):
                    group.failed = False
                ts = t.ts
                if ts > group.last_ts:
                    group.last_ts = ts
                end = _seen(t)
                if end > group.last_seen:
                    group.last_seen = end
                continue
            last_key = key
            labels = labels_of.get(key)
            if labels is None:
                labels = labels_of[key] = _labels(key)
            ts = t.ts
            if group is not None and _continues_walk(group, labels, ts, window):
                group.names.append(labels)
                group.base = _common_prefix(group.base, labels)
                group.last_ts = ts
                group.last_seen = _seen(t)
                group.failed = not _has_data(t)
                continue
            if group is not None and _close_walk(group, walks):
                owner.append(client)
            group = _Group([labels], labels, ts, not _has_data(t), _seen(t))
        if group is not None and _close_walk(group, walks):
            owner.append(client)
    if not walks:
        return Inference(None, {}, {})
    sequences = Counter(seq for seq, _, _ in walks)

    def support(candidate: tuple[str, ...]) -> int:
        return sum(n for seq, n in sequences.items() if candidate[: len(seq)] == seq)

    search = max(sequences, key=lambda c: (support(c), len(c)))
    lower = 1
    bounds: dict[str, list] = {}  # client -> [lower, upper]
    for (seq, asis_index, dots), client in zip(walks, owner, strict=True):
        # a pod of another namespace walks its own first domain, then the shared ones
        if search[: len(seq)] != seq and search[1 : len(seq)] != seq[1:]:
            continue
        own = bounds.get(client)
        if own is None:
            own = bounds[client] = [1, None]
        if asis_index == 0:
            own[1] = dots if own[1] is None else min(own[1], dots)
        else:
            lower = max(lower, dots + 1)
            own[0] = max(own[0], dots + 1)
    # A client whose as-is-first walks put its ndots below what the others' searched walks
    # need gets its own ndots (below): its upper bound is explained there and must not pull
    # the shared ndots down for everyone else (pods of one node: ndots 5 and ndots 2).
    upper = None
    for _, up in bounds.values():
        if up is not None and up >= lower:
            upper = up if upper is None else min(upper, up)
    ndots = _pick_ndots(lower, upper)
    per_client = {}
    for client, (low, up) in bounds.items():
        # only an as-is-first walk tells a client's ndots apart from the shared one
        if up is not None and up < ndots:
            own_ndots = _pick_ndots(low, up)
            if own_ndots != ndots:
                per_client[client] = own_ndots
    config = ResolverConfig(search=search, ndots=ndots, source=_INFERRED)
    namespaces: dict[str, str] = {}
    suffix = namespace_suffix(config)
    if suffix is not None:
        for (seq, _, _), client in zip(walks, owner, strict=True):
            # a walk over the shared domains from its own first one: `<ns>.<suffix>`
            if len(seq) >= 2 and seq[1:] == search[1 : len(seq)]:
                label = seq[0][: -len(suffix) - 1]
                if seq[0].endswith("." + suffix) and label and "." not in label:
                    namespaces.setdefault(client, label)
    return Inference(config, per_client, namespaces)


def _continues_walk(group: _Group, labels: list[str], ts: float, window: float) -> bool:
    if not group.failed or ts - group.last_ts > window or labels in group.names:
        return False
    if ts - group.last_seen > _WALK_GAP:
        return False
    base = group.base  # (a common prefix, non-empty when the first labels agree)
    return bool(base) and bool(labels) and base[0] == labels[0]


def _close_walk(group: _Group, walks: list[tuple[tuple[str, ...], int | None, int]]) -> bool:
    """Add the group's walk to `walks` if it is one; say whether it was."""
    if len(group.names) < 2:
        return False
    base = group.base
    n = len(base)
    tails = [".".join(labels[n:]) for labels in group.names]
    suffixes = tuple(t for t in tails if t)
    if len(set(suffixes)) != len(suffixes) or not suffixes:
        return False
    asis_index = tails.index("") if "" in tails else None
    dots = len(base) - 1
    walks.append((suffixes, asis_index, dots))
    return True


def _pick_ndots(lower: int, upper: int | None) -> int:
    """The Kubernetes default 5 when the evidence allows it, else the nearest bound."""
    if upper is not None and upper < lower:
        return min(lower, MAX_NDOTS)
    if lower <= 5 and (upper is None or upper >= 5):
        return 5
    if lower > 5:
        return min(lower, MAX_NDOTS)
    return upper if upper is not None else lower
