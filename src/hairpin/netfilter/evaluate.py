"""Walk a packet through an iptables table the way the kernel's ipt_do_table does.

Rules are compiled into predicate lists (``Compiled``) the first time a packet reaches their chain (a
180,000-rule dump is loaded without compiling the chains no traced packet enters); ``Evaluator.run(table, chain, ctx)``
traverses a built-in chain with jumps, gotos and RETURN, applies non-terminating targets (MARK,
CONNMARK, LOG) and stops at a terminating one (ACCEPT, DROP, REJECT, DNAT, SNAT, MASQUERADE...).
Chains are indexed by ``-d``/``--dport`` keys the way nftables maps are, so a packet's cost in a
10,000-Service KUBE-SERVICES chain does not grow with the number of rules.

Random choices (``-m statistic --mode random``) are asked of ``ctx.choose(probability, rule)``: the
simulator samples its seeded RNG, the tracer branches.  Matches and targets hairpin does not model
call ``ctx.unknown(rule, what)``, which decides conservatively and records where it could not decide.
Semantics are the kernel's (net/netfilter/xt_*.c, net/ipv4/netfilter/*); see docs/model.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

from hairpin.errors import ParseError
from hairpin.model.net import Packet, addr_int, ip_int
from hairpin.netfilter.matches import Undecidable, Unknown, compile_match
from hairpin.netfilter.rules import Match, Rule, Ruleset, Target
from hairpin.netfilter.targets import mark_action, notrack, tproxy
from hairpin.parsers.chain_depth import MAX_NESTING
from hairpin.parsers.iptables_getopt import shown_rule
from hairpin.text import digits

if TYPE_CHECKING:
    from hairpin.parsers.ipset import IpSet

__all__ = ["Compiled", "Context", "Evaluator", "NatAction", "Step", "Verdict", "rule_reads"]

VERDICTS = {"ACCEPT", "DROP", "RETURN", "QUEUE", "REJECT", "NFQUEUE"}
NON_TERMINATING = {"MARK", "CONNMARK", "LOG", "NFLOG", "TRACE", "ULOG", "AUDIT", "CHECKSUM", "CLASSIFY", "DSCP",
                   "TOS", "TTL", "TCPMSS", "CT", "NOTRACK", "SECMARK", "CONNSECMARK", "TEE", "SET", "IDLETIMER",
                   "LED", "RATEEST"}  # fmt: skip
NAT_TARGETS = {"DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP"}


class Host(Protocol):
    """What the evaluator needs to know of the host: its addresses and their interfaces."""

    def is_local(self, addr: int, iface: str | None = None) -> bool: ...


@dataclass(frozen=True)
class NatAction:
    """A NAT decision taken by the nat table: rewrite ``manip`` ("dst" or "src") to addr:port."""

    kind: str  # DNAT | SNAT | MASQUERADE | REDIRECT
    manip: str  # dst | src
    addr: int | None  # None: MASQUERADE (the output interface's address)
    port: int | None  # None: keep the port if the tuple stays unique
    port_range: tuple[int, int] | None = None
    random_fully: bool = False
    random: bool = False
    rule: Rule | None = None


class Step(NamedTuple):
    """A rule that matched on the way: the rule (its table, chain, line), what it did, and its text.

    A tuple: one is made for every rule a packet matches, on every pass."""

    rule: Rule
    effect: str
    text: str = ""


@dataclass
class Verdict:
    verdict: str  # ACCEPT | DROP | REJECT | QUEUE
    rule: Rule | None = None  # the rule that decided (None: the chain policy)
    nat: NatAction | None = None
    steps: list[Step] = field(default_factory=list)


@dataclass(slots=True)
class Context:
    """The packet and the host state a table sees: marks, conntrack, interfaces.

    One is made for every table a packet crosses: slots, and the host passes its fields by position."""

    packet: Packet
    host: Host
    hook: str
    iif: str | None = None
    oif: str | None = None
    mark: int = 0
    ctmark: int = 0
    ctstate: str = "NEW"  # NEW | ESTABLISHED | RELATED | INVALID | UNTRACKED
    ctdir: str = "ORIGINAL"
    ctstatus: frozenset[str] = frozenset()
    ct_orig_dst: tuple[int, int] | None = None
    choose: Callable[[float, Rule], bool] = lambda p, r: False
    unknown: Callable[[Rule, str], bool] = lambda r, what: False
    untracked: bool = False
    #: ``skb->ipvs_property``: IPVS has forwarded this packet (or restored its reply source); -m ipvs
    ipvs: bool = False


Pred = Callable[[Context], bool]


#: the rules one outcome's passes may look at (an honest node's look at hundreds or thousands)
MAX_EVALUATIONS = 4_000_000


def over_budget(file: str | None, line: int) -> ParseError:
    """The error of a trace past MAX_EVALUATIONS, at the jump that went past it."""
    return ParseError(f"more than {MAX_EVALUATIONS:,} rules looked at for one packet: the same chains are jumped to "
                      "over and over (a chain jumping twice to the next, many deep?); not followed", file, line)  # fmt: skip


def _compile_match(m: Match, rule: Rule, ipsets: Mapping[str, IpSet] | None = None) -> list[Pred]:
    """The predicates of one match (sure and late together), for callers that want one list."""
    sure, late = compile_match(m, rule, ipsets)
    return sure + late


def _nat_target(t: Target, rule: Rule) -> NatAction:
    name = t.name

    def endpoint(text: str) -> tuple[int | None, int | None, tuple[int, int] | None]:
        if text.startswith("[") or text.count(":") > 1:  # IPv6: [A[-B]]:P[-Q] or A[-B] (libxt_NAT.c parse_to)
            addr_part, _, port_part = text[1:].partition("]:") if text.startswith("[") else (text, "", "")
            addr = addr_int(addr_part.rstrip("]").split("-")[0]) if addr_part.rstrip("]") else None
        else:
            addr_part, _, port_part = text.partition(":")
            addr = ip_int(addr_part.split("-")[0]) if addr_part else None
        if not port_part:
            return addr, None, None
        lo, _, hi = port_part.partition("-")
        return addr, int(lo), (int(lo), int(hi or lo))

    flags = {o.name for o in t.options}
    if name == "DNAT":
        o = t.get("--to-destination")
        addr, port, rng = endpoint(o.value if o else "")
        return NatAction("DNAT", "dst", addr, port, rng, rule=rule)
    if name == "SNAT":
        o = t.get("--to-source")
        addr, port, rng = endpoint(o.value if o else "")
        return NatAction("SNAT", "src", addr, port, rng, "--random-fully" in flags, "--random" in flags, rule)
    if name == "MASQUERADE":
        o = t.get("--to-ports")
        rng = None
        if o is not None:
            lo, _, hi = o.value.partition("-")
            rng = (int(lo), int(hi or lo))
        return NatAction("MASQUERADE", "src", None, None, rng, "--random-fully" in flags, "--random" in flags, rule)
    if name == "REDIRECT":
        o = t.get("--to-ports")
        port = int(o.value.split("-")[0]) if o else None
        return NatAction("REDIRECT", "dst", None, port, rule=rule)
    raise Unknown(f"-j {name}")


class Compiled:
    """A rule turned into predicates and an action.

    ``preds`` always decide; ``late`` may raise ``Undecidable`` and run after every ``preds`` passed.
    ``unknown`` names what hairpin does not model in the rule (a match or a target), ``unknown_why`` says
    why; an unknown match is decided by the evaluator's ``unknown`` callback, an unknown target is
    treated as non-terminating (the packet goes on to the next rule) and said so in the step.
    """

    __slots__ = ("_text", "action", "effect", "jump", "late", "nat", "preds", "reads", "rule", "terminal", "unknown",
                 "unknown_target", "unknown_why")  # fmt: skip

    def __init__(self, rule: Rule, chains: set[str], ipsets: Mapping[str, IpSet] | None = None,
                 family: int = 4) -> None:  # fmt: skip
        self.rule = rule
        self._text: str | None = None
        self.preds: list[Pred] = []
        self.late: list[Pred] = []
        self.unknown: str | None = None
        self.unknown_why: str | None = None
        self.unknown_target: str | None = None
        self.nat: NatAction | None = None
        self.jump: str | None = None
        self.terminal: str | None = None
        self.action: Callable[[Context], str] | None = None
        self.effect = ""
        #: the per-flow fields the rule reads (``rule_reads``), found when first asked
        self.reads: int | None = None
        for m in rule.matches:
            try:
                sure, late = compile_match(m, rule, ipsets, family)
            except Unknown as exc:
                self._unknown(exc.name, exc.why)
                continue
            except (ValueError, KeyError, IndexError) as exc:
                self._unknown(f"-m {m.module}" if m.module else m.options[0].name, f"bad value in rule: {exc}")
                continue
            self.preds.extend(sure)
            self.late.extend(late)
        t = rule.target
        if t is None:
            return
        if t.name in VERDICTS:
            self.terminal = t.name
        elif t.name in chains:
            self.jump = t.name
        elif t.name in NAT_TARGETS:
            try:
                self.nat = _nat_target(t, rule)
                self.terminal = "ACCEPT"
            except (Unknown, ValueError) as exc:
                self._unknown_target(f"-j {t.name}", str(exc))
        elif t.name in ("MARK", "CONNMARK"):
            try:
                self.action = mark_action(t)
            except (Unknown, ValueError, KeyError) as exc:
                self._unknown_target(f"-j {t.name}", str(exc))
        elif t.name == "TPROXY":
            self.action, self.terminal = tproxy(t), "ACCEPT"
        elif t.name in NON_TERMINATING:
            name = t.name
            self.action = lambda c: name
            if t.name == "NOTRACK" or (t.name == "CT" and t.get("--notrack") is not None):
                self.action = notrack
        else:
            self._unknown_target(f"-j {t.name}", f"target {t.name} is not modelled")
        #: what the step says when the rule jumps or ends the walk (the same every time)
        if self.jump is not None:
            self.effect = f"{'goto' if t.goto else 'jump'} {self.jump}"
        elif self.terminal is not None:
            self.effect = self.nat.kind if self.nat else self.terminal

    def _unknown(self, name: str, why: str) -> None:
        if self.unknown is None:
            self.unknown, self.unknown_why = name, why
        self.late.append(_undecidable_pred(name, why))

    def _unknown_target(self, name: str, why: str) -> None:
        self.unknown_target = name
        if self.unknown is None:
            self.unknown, self.unknown_why = name, why

    @property
    def text(self) -> str:
        """The rule as iptables-save prints it, and as the file wrote it if otherwise (built on first use:
        most rules are never shown)."""
        if self._text is None:
            self._text = shown_rule(self.rule)
        return self._text


def _undecidable_pred(name: str, why: str) -> Pred:
    def pred(c: Context) -> bool:
        raise Undecidable(name, why)

    return pred


def _index_keys(rule: Rule) -> list[tuple[int, int]] | None:
    """The (daddr, dport) keys of which a packet must hit one for the rule to match; None: any packet may.

    ``-d A/32`` (``-d A/128``) gives the address, a single ``--dport`` (tcp/udp/sctp) or a ``multiport --dports`` list of
    single ports gives the ports (one key each); -1 stands for "any".  Negated options give nothing.
    """
    daddr = -1
    dports: list[int] | None = None
    for m in rule.matches:
        for o in m.options:
            if o.negated:
                continue
            if m.module == "" and o.name == "-d" and o.value.endswith("/32") and ":" not in o.value:
                daddr = ip_int(o.value[:-3])
            elif m.module == "" and o.name == "-d" and o.value.endswith("/128") and ":" in o.value:
                daddr = addr_int(o.value[:-4])  # tagged, as an IPv6 packet's destination is
            elif m.module in ("tcp", "udp", "sctp") and o.name in ("--dport", "--destination-port"):
                if ":" not in o.value:
                    dports = [int(o.value)]
            elif m.module == "multiport" and o.name in ("--dports", "--destination-ports"):
                vals = o.value.split(",")
                if all(digits(v) for v in vals):
                    dports = [int(v) for v in vals]
    if daddr < 0 and dports is None:
        return None
    return [(daddr, p) for p in dports] if dports else [(daddr, -1)]


class _ChainIndex:
    """Rules of a long chain bucketed by (daddr, dport), in order, like an nftables verdict map.

    A packet's candidates are the rules that need no key plus the buckets of (dst, dport), (dst, any)
    and (any, dport): the cost of a lookup follows the number of candidates, not the chain's length.
    """

    def __init__(self, rules: list[Rule]) -> None:
        self.by_key: dict[tuple[int, int], list[int]] = {}
        self.wild: list[int] = []
        for i, rule in enumerate(rules):
            keys = _index_keys(rule)
            if keys is None:
                self.wild.append(i)
            else:
                for key in keys:
                    self.by_key.setdefault(key, []).append(i)

    def candidates(self, p: Packet) -> list[int]:
        lists = [self.wild]
        for key in ((p.dst, p.dport), (p.dst, -1), (-1, p.dport)):
            found = self.by_key.get(key)
            if found:
                lists.append(found)
        if len(lists) == 1:
            return self.wild
        if len(lists) == 2 and not self.wild:
            return lists[1]
        return sorted({i for lst in lists for i in lst})


INDEX_MIN = 32

#: which per-flow fields a pure chain reads: (src, sport, dst, dport, conntrack's original destination)
Reads = tuple[bool, bool, bool, bool, bool]
#: ``rule_reads``' bits: those five fields (bit i: Reads[i]), and a random draw (``-m statistic``)
DST, DPORT, DRAWS = 1 << 2, 1 << 3, 1 << 5
#: modules whose predicates read no per-flow field beyond those listed in _READS (matches.py)
_PURE_MODULES = frozenset({"", "tcp", "udp", "sctp", "comment", "multiport", "mark", "connmark", "conntrack", "state",
                           "iprange", "pkttype", "addrtype", "physdev", "policy", "tos", "dscp", "helper", "nfacct",
                           "icmp", "frag", "hbh", "dst", "rt", "srh", "ipv6header"})  # fmt: skip
_READS: dict[tuple[str, str], tuple[int, ...]] = {
    ("", "-s"): (0,), ("", "-d"): (2,),
    ("iprange", "--src-range"): (0,), ("iprange", "--dst-range"): (2,),
    ("addrtype", "--src-type"): (0,), ("addrtype", "--dst-type"): (2,),
    ("conntrack", "--ctorigdst"): (4,), ("conntrack", "--ctorigdstport"): (4,),
    ("multiport", "--sports"): (1,), ("multiport", "--source-ports"): (1,), ("multiport", "--ports"): (1, 3),
    ("multiport", "--dports"): (3,), ("multiport", "--destination-ports"): (3,),
}  # fmt: skip
for _m in ("tcp", "udp", "sctp"):
    _READS.update({(_m, "--sport"): (1,), (_m, "--source-port"): (1,), (_m, "--dport"): (3,),
                   (_m, "--destination-port"): (3,)})  # fmt: skip


def rule_reads(cr: Compiled) -> int:
    """What a rule's verdict depends on beyond the packet's header fields, interfaces, marks and conntrack
    state: the bits of the per-flow fields it reads (``Reads``' order) and ``DRAWS`` when it asks for a
    random draw (``ctx.choose``: ``-m statistic``); -1 when it holds an undecidable or unmodelled match or
    target, or a match of a module not known to read nothing else (``_PURE_MODULES``)."""
    if cr.reads is not None:
        return cr.reads
    reads = 0
    if cr.late or cr.unknown is not None or cr.unknown_target is not None:
        reads = -1
    for m in cr.rule.matches if reads == 0 else ():
        if m.module == "statistic":  # both modes ask ctx.choose and read nothing else (matches._statistic)
            reads |= DRAWS
            continue
        if m.module not in _PURE_MODULES:
            reads = -1
            break
        for o in m.options:
            for i in _READS.get((m.module, o.name), ()):
                reads |= 1 << i
        if m.module == "pkttype":
            reads |= DST
    cr.reads = reads
    return reads


class Evaluator:
    """Evaluates one namespace's Ruleset.

    ``ipsets`` (``hairpin.parsers.ipset.parse``) decides ``-m set``; without it set matches are undecidable.
    ``unknown``, when set, decides undecidable matches instead of each Context's own callback (the tracer
    branches there); ``on_run``, when set, is called with (table, chain, ctx, verdict) after each ``run``.
    """

    unknown: Callable[[Rule, str], bool] | None = None
    on_run: Callable[[str, str, Context, Verdict], None] | None = None

    def __init__(self, ruleset: Ruleset, ipsets: Mapping[str, IpSet] | None = None) -> None:
        self.ruleset = ruleset
        self.ipsets = ipsets
        #: compiled rules per (table, chain), each compiled the first time a packet reaches it (None until
        #: then): a rule no packet reaches, in a chain of 10,000, is never compiled
        self.chains: dict[tuple[str, str], list[Compiled | None]] = {}
        self._source: dict[tuple[str, str], list[Rule]] = {}
        self.policies: dict[tuple[str, str], str | None] = {}
        self.index: dict[tuple[str, str], _ChainIndex] = {}
        self.unknown: Callable[[Rule, str], bool] | None = None
        self.on_run: Callable[[str, str, Context, Verdict], None] | None = None
        self._names: dict[str, set[str]] = {}
        live = []
        for table in ruleset.tables.values():
            self._names[table.name] = set(table.chains)
            for chain in table.chains.values():
                self.policies[(table.name, chain.name)] = chain.policy
                if chain.rules or chain.policy == "DROP":
                    live.append((table.name, chain.name))
        #: (table, chain) of every chain holding at least one rule, or a DROP policy (an empty built-in chain
        #: ``:FORWARD DROP`` drops every packet: ipt_do_table returns the policy): other hooks are skipped.
        self.live: frozenset[tuple[str, str]] = frozenset(live)
        self._pure: dict[tuple[str, str], Reads | None] = {}
        #: while ``run_recorded`` walks: each chain entered, with the rules it looked at and whether by the index
        self._seen: list[tuple[str, str, Sequence[int], bool]] | None = None
        self._chain_reads: dict[tuple[str, str], int] = {}  # run_recorded: an unindexed chain's (0: not known yet)
        #: rules the walks may still look at (None: no bound, the simulator's own rules); the tracer bounds it:
        #: two jumps to the same chain in each of 40 nested chains are 2^40 rules for one packet
        self.budget: int | None = None

    def pure(self, table: str, chain: str) -> Reads | None:
        """Whether a traversal of ``chain`` is a function of the packet's header fields, interfaces,
        marks and conntrack state alone (no ``statistic`` draw, no undecidable or unmodelled match or
        target anywhere it can jump): None if not; else which of the fields that differ from flow to
        flow (source, source port, destination, destination port, conntrack's original destination)
        any of its rules reads.

        A pure chain's verdict can be cached per flow class, keyed by the fields its rules read and
        nothing else, the way Open vSwitch's megaflow cache keeps a classifier's decision for every
        packet that agrees on the fields the classifier looked at.
        """
        key = (table, chain)
        if key not in self._pure:
            self._pure[key] = self._purity(table, chain)
        return self._pure[key]

    def _purity(self, table: str, chain: str) -> Reads | None:
        seen: set[str] = set()
        todo = [chain]
        reads = 0
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for cr in self.rules(table, name) or ():
                r = rule_reads(cr)
                if r < 0 or r & DRAWS:
                    return None
                reads |= r
                if cr.jump is not None:
                    todo.append(cr.jump)
        return (bool(reads & 1), bool(reads & 2), bool(reads & DST), bool(reads & DPORT), bool(reads & 16))

    def has(self, table: str, chain: str) -> bool:
        return (table, chain) in self.live

    def _open(self, table: str, chain: str) -> list[Compiled | None] | None:
        """A chain's slots for compiled rules (None: no such chain); its index, for a long chain."""
        key = (table, chain)
        got = self.chains.get(key)
        if got is None:
            t = self.ruleset.tables.get(table)
            c = t.chains.get(chain) if t is not None else None
            if c is None:
                return None
            self._source[key] = c.rules
            got = self.chains[key] = [None] * len(c.rules)
            if len(got) >= INDEX_MIN:
                self.index[key] = _ChainIndex(c.rules)
        return got

    def _compile(self, table: str, chain: str, rules: list[Compiled | None], i: int) -> Compiled:
        cr = rules[i] = Compiled(self._source[(table, chain)][i], self._names[table], self.ipsets, self.ruleset.family)
        return cr

    def rules(self, table: str, chain: str) -> list[Compiled] | None:
        """Every compiled rule of a chain (None: no such chain)."""
        got = self._open(table, chain)
        if got is None:
            return None
        return [cr if cr is not None else self._compile(table, chain, got, i) for i, cr in enumerate(got)]

    def compile_all(self) -> None:
        """Compile every chain now (what ``unknown_rules`` needs)."""
        for table in self.ruleset.tables.values():
            for name in table.chains:
                self.rules(table.name, name)

    def run(self, table: str, chain: str, ctx: Context) -> Verdict:
        """Traverse built-in ``chain`` of ``table``; the verdict, the NAT decision and the rules matched."""
        steps: list[Step] = []
        result = self._walk(table, chain, ctx, steps, 0)
        if result is None:
            policy = self.policies.get((table, chain)) or "ACCEPT"
            v = Verdict(policy, None, None, steps)
        else:
            v = Verdict(result[0], result[1].rule if result[1] else None, result[1].nat if result[1] else None, steps)
        if self.on_run is not None:
            self.on_run(table, chain, ctx, v)
        return v

    def run_recorded(self, table: str, chain: str, ctx: Context) -> tuple[Verdict, int, int]:
        """``run``, and what its walk depended on: the ``rule_reads`` bits of every rule it looked at (the
        index's keys, destination and port, for an indexed chain; -1 when one of them is -1), and how many
        rules it looked at (what ``run`` took from ``budget``)."""
        seen = self._seen = []
        try:
            v = self.run(table, chain, ctx)
        finally:
            self._seen = None
        reads = looked = 0
        for t, c, order, indexed in seen:
            looked += len(order)
            if indexed:  # the candidates (-1 stays -1 with the index's bits)
                r = self._reads(t, c, order) | DST | DPORT
            else:  # every rule of the chain, the same each time
                r = self._chain_reads.get((t, c), 0)
                if r == 0:
                    r = self._chain_reads[(t, c)] = self._reads(t, c, order)
            reads = -1 if r < 0 or reads < 0 else reads | r
        return v, reads, looked

    def _reads(self, table: str, chain: str, order: Sequence[int]) -> int:
        """The ``rule_reads`` bits of rules ``order`` of a chain (-1 when one is -1)."""
        rules = self.chains[(table, chain)]
        reads = 0
        for i in order:
            r = rule_reads(rules[i] or self._compile(table, chain, rules, i))
            if r < 0:
                return -1
            reads |= r
        return reads

    def _late(self, cr: Compiled, ctx: Context, steps: list[Step]) -> bool:
        """The rule's late predicates (after every sure one passed): an undecidable one is asked."""
        for p in cr.late:
            try:
                if not p(ctx):
                    return False
            except Undecidable as exc:
                decide = self.unknown or ctx.unknown
                if decide(cr.rule, exc.name):
                    steps.append(Step(cr.rule, f"could not decide {exc.name} ({exc.why}); assumed it matches",
                                      cr.text))  # fmt: skip
                else:
                    steps.append(Step(cr.rule, f"could not decide {exc.name} ({exc.why}); assumed it does not match",
                                      cr.text))  # fmt: skip
                    return False
        return True

    def _walk(
        self, table: str, chain: str, ctx: Context, steps: list[Step], depth: int
    ) -> tuple[str, Compiled | None] | None:
        """None: fell off the end (or RETURN); else (verdict, deciding rule)."""
        if depth > MAX_NESTING:  # iptables_check refuses such a ruleset when it is read; be safe
            return ("DROP", None)
        rules = self.chains.get((table, chain)) or self._open(table, chain)
        if not rules:
            return None
        idx = self.index.get((table, chain))
        order = idx.candidates(ctx.packet) if idx is not None else range(len(rules))
        if self.budget is not None:
            self.budget -= len(order)
        if self._seen is not None:
            self._seen.append((table, chain, order, idx is not None))
        for i in order:
            cr = rules[i]
            if cr is None:
                cr = self._compile(table, chain, rules, i)
            matched = True
            for pred in cr.preds:  # _matches, inline: this loop runs for every candidate rule of every pass
                if not pred(ctx):
                    matched = False
                    break
            if not matched or (cr.late and not self._late(cr, ctx, steps)):
                continue
            if cr.unknown_target is not None:
                steps.append(Step(cr.rule, f"{cr.unknown_target} not modelled ({cr.unknown_why}); "
                                           "treated as non-terminating", cr.text))  # fmt: skip
                continue
            if cr.action is not None:
                steps.append(Step(cr.rule, cr.action(ctx), cr.text))
                if cr.terminal is None:
                    continue
                return (cr.terminal, cr)
            if cr.jump is not None:
                if self.budget is not None and self.budget < 0:
                    raise over_budget(self.ruleset.file, cr.rule.line)
                steps.append(Step(cr.rule, cr.effect, cr.text))
                res = self._walk(table, cr.jump, ctx, steps, depth + 1)
                if res is not None:
                    return res
                if cr.rule.target is not None and cr.rule.target.goto:
                    return None
                continue
            if cr.terminal == "RETURN":
                steps.append(Step(cr.rule, "RETURN", cr.text))
                return None
            if cr.terminal is not None:
                steps.append(Step(cr.rule, cr.effect, cr.text))
                return (cr.terminal, cr)
            # a rule without a target matched: ipt_do_table counts it (ADD_COUNTER before the target) and goes on
            steps.append(Step(cr.rule, "no target: counted", cr.text))
        return None

    def unknown_rules(self) -> list[tuple[Rule, str]]:
        """Every rule with something hairpin does not model, with its name (``-m set``, ``-j FOO``)."""
        self.compile_all()
        return [(c.rule, c.unknown) for rules in self.chains.values() for c in rules if c is not None and c.unknown]

    def unknown_reasons(self) -> list[tuple[Rule, str, str]]:
        """As ``unknown_rules`` with the reason for each."""
        self.compile_all()
        return [(c.rule, c.unknown, c.unknown_why or "") for rules in self.chains.values() for c in rules
                if c is not None and c.unknown]  # fmt: skip
