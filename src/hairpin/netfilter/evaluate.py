"""Walk a packet through an iptables table the way the kernel's ipt_do_table does.

Rules are compiled once into predicate lists (``Compiled``); ``Evaluator.run(table, chain, ctx)``
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

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from hairpin.model.net import Packet, ip_int
from hairpin.netfilter.rules import Match, Option, Rule, Ruleset, Target
from hairpin.parsers.iptables_save import format_rule

__all__ = ["Compiled", "Context", "Evaluator", "NatAction", "Step", "Verdict"]

VERDICTS = {"ACCEPT", "DROP", "RETURN", "QUEUE", "REJECT", "NFQUEUE"}
NON_TERMINATING = {"MARK", "CONNMARK", "LOG", "NFLOG", "TRACE", "ULOG", "AUDIT", "CHECKSUM", "CLASSIFY", "DSCP",
                   "TOS", "TTL", "TCPMSS", "CT", "NOTRACK", "SECMARK", "CONNSECMARK", "TEE"}  # fmt: skip
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


@dataclass(frozen=True)
class Step:
    """A rule that matched on the way: its table, chain, text and what it did."""

    rule: Rule
    effect: str
    text: str = ""


@dataclass
class Verdict:
    verdict: str  # ACCEPT | DROP | REJECT | QUEUE
    rule: Rule | None = None  # the rule that decided (None: the chain policy)
    nat: NatAction | None = None
    steps: list[Step] = field(default_factory=list)


@dataclass
class Context:
    """The packet and the host state a table sees: marks, conntrack, interfaces."""

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
    counters: dict[int, int] = field(default_factory=dict)
    untracked: bool = False


Pred = Callable[[Context], bool]


def _net(text: str) -> tuple[int, int]:
    n = ipaddress.IPv4Network(text, strict=False)
    return int(n.network_address), int(n.netmask)


def _mark(value: str) -> tuple[int, int]:
    v, _, m = value.partition("/")
    return int(v, 0), int(m, 0) if m else 0xFFFFFFFF


def _ports(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        out.append((int(a) if a else 0, int(b) if b else (int(a) if a else 65535)))
    return out


_PROTOS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp", "sctp": "sctp",
           "132": "sctp", "all": "all", "0": "all"}  # fmt: skip
_FLAG_BITS = {"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128, "ALL": 255,
              "NONE": 0}  # fmt: skip


def _flags(text: str) -> int:
    v = 0
    for name in text.split(","):
        v |= _FLAG_BITS[name.upper()]
    return v


def _neg(pred: Pred, negated: bool) -> Pred:
    return (lambda c: not pred(c)) if negated else pred


def _addr_type(c: Context, addr: int, types: set[str], iface: str | None) -> bool:
    if addr == 0xFFFFFFFF:
        kind = "BROADCAST"
    elif (addr >> 28) == 0xE:
        kind = "MULTICAST"
    elif c.host.is_local(addr, iface):
        kind = "LOCAL"
    else:
        kind = "UNICAST"
    return kind in types


class _Unknown(Exception):
    pass


def _compile_option(module: str, o: Option, rule: Rule) -> Pred:
    n, neg = o.name, o.negated
    if module == "":
        if n in ("-s", "-d"):
            net, mask = _net(o.value)
            if n == "-s":
                return _neg(lambda c: (c.packet.src & mask) == net, neg)
            return _neg(lambda c: (c.packet.dst & mask) == net, neg)
        if n == "-p":
            proto = _PROTOS.get(o.value.lower())
            if proto is None:
                raise _Unknown(f"-p {o.value}")
            if proto == "all":
                return _neg(lambda c: True, neg)
            return _neg(lambda c: c.packet.proto == proto, neg)
        if n in ("-i", "-o"):
            name = o.value
            if name.endswith("+"):
                prefix = name[:-1]
                if n == "-i":
                    return _neg(lambda c: c.iif is not None and c.iif.startswith(prefix), neg)
                return _neg(lambda c: c.oif is not None and c.oif.startswith(prefix), neg)
            if n == "-i":
                return _neg(lambda c: c.iif == name, neg)
            return _neg(lambda c: c.oif == name, neg)
        if n == "-f":
            return _neg(lambda c: False, neg)  # hairpin's packets are never fragments
    if module in ("tcp", "udp"):
        if n in ("--dport", "--destination-port", "--sport", "--source-port"):
            ((lo, hi),) = _ports(o.value)
            if n in ("--dport", "--destination-port"):
                return _neg(lambda c: c.packet.proto == module and lo <= c.packet.dport <= hi, neg)
            return _neg(lambda c: c.packet.proto == module and lo <= c.packet.sport <= hi, neg)
        if n == "--tcp-flags" and len(o.values) == 2:
            mask, comp = _flags(o.values[0]), _flags(o.values[1])
            return _neg(lambda c: (int(c.packet.flags) & mask) == comp, neg)
        if n == "--syn":
            return _neg(lambda c: (int(c.packet.flags) & 0x17) == 0x02, neg)
    if module == "multiport" and n in ("--dports", "--destination-ports", "--sports", "--source-ports", "--ports"):
        ranges = _ports(o.value)
        if n in ("--dports", "--destination-ports"):
            return _neg(lambda c: any(a <= c.packet.dport <= b for a, b in ranges), neg)
        if n in ("--sports", "--source-ports"):
            return _neg(lambda c: any(a <= c.packet.sport <= b for a, b in ranges), neg)
        return _neg(lambda c: any(a <= c.packet.dport <= b or a <= c.packet.sport <= b for a, b in ranges), neg)
    if module == "comment":
        return lambda c: True
    if module == "mark" and n == "--mark":
        v, m = _mark(o.value)
        return _neg(lambda c: (c.mark & m) == v, neg)
    if module == "connmark" and n == "--mark":
        v, m = _mark(o.value)
        return _neg(lambda c: (c.ctmark & m) == v, neg)
    if module in ("conntrack", "state") and n in ("--ctstate", "--state"):
        states = set(o.value.split(","))

        def ctstate(c: Context) -> bool:
            if c.ctstate in states:
                return True
            if "DNAT" in states and "DNAT" in c.ctstatus:
                return True
            return "SNAT" in states and "SNAT" in c.ctstatus

        return _neg(ctstate, neg)
    if module == "conntrack" and n == "--ctdir":
        want = o.value.upper()
        return _neg(lambda c: c.ctdir == want, neg)
    if module == "conntrack" and n == "--ctstatus":
        want_s = set(o.value.split(","))
        return _neg(lambda c: bool(want_s & c.ctstatus), neg)
    if module == "conntrack" and n in ("--ctorigdst", "--ctorigdstport"):
        if n == "--ctorigdst":
            net, mask = _net(o.value)
            return _neg(lambda c: c.ct_orig_dst is not None and (c.ct_orig_dst[0] & mask) == net, neg)
        port = int(o.value)
        return _neg(lambda c: c.ct_orig_dst is not None and c.ct_orig_dst[1] == port, neg)
    if module == "iprange" and n in ("--src-range", "--dst-range"):
        a, _, b = o.value.partition("-")
        lo, hi = ip_int(a), ip_int(b or a)
        if n == "--src-range":
            return _neg(lambda c: lo <= c.packet.src <= hi, neg)
        return _neg(lambda c: lo <= c.packet.dst <= hi, neg)
    if module == "pkttype" and n == "--pkt-type":
        want_t = o.value.lower()
        return _neg(lambda c: want_t == "unicast", neg)
    raise _Unknown(f"-m {module} {n}" if module else n)


def _compile_match(m: Match, rule: Rule) -> list[Pred]:
    if m.module == "addrtype":
        src = m.get("--src-type")
        dst = m.get("--dst-type")
        lim_in = m.get("--limit-iface-in") is not None
        lim_out = m.get("--limit-iface-out") is not None
        preds: list[Pred] = []

        def iface(c: Context) -> str | None:
            return c.iif if lim_in else (c.oif if lim_out else None)

        if src is not None:
            st = set(src.value.split(","))
            preds.append(_neg(lambda c: _addr_type(c, c.packet.src, st, iface(c)), src.negated))
        if dst is not None:
            dt = set(dst.value.split(","))
            preds.append(_neg(lambda c: _addr_type(c, c.packet.dst, dt, iface(c)), dst.negated))
        return preds
    if m.module == "statistic":
        mode = m.get("--mode")
        if mode is not None and mode.value == "random":
            prob_opt = m.get("--probability")
            p = float(prob_opt.value) if prob_opt else 0.0
            negated = bool(prob_opt and prob_opt.negated)
            return [_neg(lambda c: c.choose(p, rule), negated)]
        if mode is not None and mode.value == "nth":
            every_o, packet_o = m.get("--every"), m.get("--packet")
            every = int(every_o.value) if every_o else 1
            start = int(packet_o.value) if packet_o else 0
            key = id(rule)

            def nth(c: Context) -> bool:
                count = c.counters.get(key, start)
                c.counters[key] = (count + 1) % every
                return count == 0 or (count % every) == 0

            return [nth]
        raise _Unknown("-m statistic")
    if m.module in ("mark", "connmark", "conntrack", "state", "multiport", "comment", "tcp", "udp", "iprange",
                    "pkttype", ""):  # fmt: skip
        return [_compile_option(m.module, o, rule) for o in m.options]
    raise _Unknown(f"-m {m.module}")


def _nat_target(t: Target, rule: Rule) -> NatAction:
    name = t.name

    def endpoint(text: str) -> tuple[int | None, int | None, tuple[int, int] | None]:
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
    raise _Unknown(f"-j {name}")


class Compiled:
    """A rule turned into predicates and an action."""

    __slots__ = ("action", "jump", "nat", "preds", "rule", "terminal", "text", "unknown")

    def __init__(self, rule: Rule, chains: set[str]) -> None:
        self.rule = rule
        self.text = format_rule(rule)
        self.preds: list[Pred] = []
        self.unknown: str | None = None
        self.nat: NatAction | None = None
        self.jump: str | None = None
        self.terminal: str | None = None
        self.action: Callable[[Context], str] | None = None
        try:
            for m in rule.matches:
                self.preds.extend(_compile_match(m, rule))
        except (_Unknown, ValueError, KeyError) as exc:
            self.unknown = str(exc) if isinstance(exc, _Unknown) else f"bad value in rule: {exc}"
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
            except (_Unknown, ValueError) as exc:
                self.unknown = self.unknown or str(exc)
        elif t.name in ("MARK", "CONNMARK"):
            self.action = _mark_action(t)
        elif t.name in NON_TERMINATING:
            self.action = lambda c: t.name
            if t.name == "NOTRACK" or (t.name == "CT" and t.get("--notrack") is not None):
                self.action = _notrack
        else:
            self.unknown = self.unknown or f"-j {t.name}"


def _notrack(c: Context) -> str:
    c.untracked = True
    return "NOTRACK"


def _mark_action(t: Target) -> Callable[[Context], str]:
    full = 0xFFFFFFFF
    opts = {o.name: o.value for o in t.options}
    if t.name == "MARK":
        if "--set-xmark" in opts or "--set-mark" in opts:
            xmark = "--set-xmark" in opts
            v, m = _mark(opts.get("--set-xmark") or opts["--set-mark"])

            def set_mark(c: Context) -> str:
                c.mark = ((c.mark & ~m) ^ v) & full if xmark else ((c.mark & ~m) | v) & full
                return f"mark={c.mark:#x}"

            return set_mark
        for key, op in (("--or-mark", "or"), ("--and-mark", "and"), ("--xor-mark", "xor")):
            if key in opts:
                val = int(opts[key], 0)

                def bit_mark(c: Context, op: str = op, val: int = val) -> str:
                    c.mark = {"or": c.mark | val, "and": c.mark & val, "xor": c.mark ^ val}[op] & full
                    return f"mark={c.mark:#x}"

                return bit_mark
    else:
        nfmask = int(opts.get("--nfmask", opts.get("--mask", "0xffffffff")), 0)
        ctmask = int(opts.get("--ctmask", opts.get("--mask", "0xffffffff")), 0)
        if "--set-xmark" in opts or "--set-mark" in opts:
            xmark = "--set-xmark" in opts
            v, m = _mark(opts.get("--set-xmark") or opts["--set-mark"])

            def set_ct(c: Context) -> str:
                c.ctmark = ((c.ctmark & ~m) ^ v) & full if xmark else ((c.ctmark & ~m) | v) & full
                return f"ctmark={c.ctmark:#x}"

            return set_ct
        if "--restore-mark" in opts:

            def restore(c: Context) -> str:
                c.mark = ((c.mark & ~nfmask) ^ (c.ctmark & ctmask)) & full
                return f"mark={c.mark:#x} (restored from ctmark)"

            return restore
        if "--save-mark" in opts:

            def save(c: Context) -> str:
                c.ctmark = ((c.ctmark & ~ctmask) ^ (c.mark & nfmask)) & full
                return f"ctmark={c.ctmark:#x} (saved from mark)"

            return save
    raise _Unknown(f"-j {t.name} {' '.join(opts)}")


def _index_key(rule: Rule) -> tuple[int, int] | None:
    """(daddr, dport) a rule requires exactly, for the chain index; None when it matches more."""
    daddr = dport = -1
    for m in rule.matches:
        for o in m.options:
            if o.negated:
                continue
            if m.module == "" and o.name == "-d" and o.value.endswith("/32"):
                daddr = ip_int(o.value[:-3])
            elif m.module in ("tcp", "udp") and o.name in ("--dport", "--destination-port") and ":" not in o.value:
                dport = int(o.value)
    if daddr < 0 and dport < 0:
        return None
    return daddr, dport


class _ChainIndex:
    """Rules of a long chain bucketed by (daddr, dport), in order, like an nftables verdict map."""

    def __init__(self, rules: list[Compiled]) -> None:
        self.by_key: dict[tuple[int, int], list[int]] = {}
        self.wild: list[int] = []
        for i, cr in enumerate(rules):
            key = _index_key(cr.rule)
            if key is None:
                self.wild.append(i)
            else:
                self.by_key.setdefault(key, []).append(i)

    def candidates(self, p: Packet) -> list[int]:
        lists = [self.wild]
        for key in ((p.dst, p.dport), (p.dst, -1), (-1, p.dport)):
            found = self.by_key.get(key)
            if found:
                lists.append(found)
        if len(lists) == 1:
            return self.wild
        return sorted(i for lst in lists for i in lst)


INDEX_MIN = 32


class Evaluator:
    """Evaluates one namespace's Ruleset."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.chains: dict[tuple[str, str], list[Compiled]] = {}
        self.policies: dict[tuple[str, str], str | None] = {}
        self.index: dict[tuple[str, str], _ChainIndex] = {}
        for table in ruleset.tables.values():
            names = set(table.chains)
            for chain in table.chains.values():
                compiled = [Compiled(r, names) for r in chain.rules]
                self.chains[(table.name, chain.name)] = compiled
                self.policies[(table.name, chain.name)] = chain.policy
                if len(compiled) >= INDEX_MIN:
                    self.index[(table.name, chain.name)] = _ChainIndex(compiled)

    def has(self, table: str, chain: str) -> bool:
        return bool(self.chains.get((table, chain)))

    def run(self, table: str, chain: str, ctx: Context) -> Verdict:
        """Traverse built-in ``chain`` of ``table``; the verdict, the NAT decision and the rules matched."""
        steps: list[Step] = []
        result = self._walk(table, chain, ctx, steps, 0)
        if result is None:
            policy = self.policies.get((table, chain)) or "ACCEPT"
            return Verdict(policy, None, None, steps)
        return Verdict(result[0], result[1].rule if result[1] else None, result[1].nat if result[1] else None, steps)

    def _walk(
        self, table: str, chain: str, ctx: Context, steps: list[Step], depth: int
    ) -> tuple[str, Compiled | None] | None:
        """None: fell off the end (or RETURN); else (verdict, deciding rule)."""
        if depth > 64:
            return ("DROP", None)  # the kernel refuses loops at load time; be safe
        rules = self.chains.get((table, chain))
        if not rules:
            return None
        idx = self.index.get((table, chain))
        order = idx.candidates(ctx.packet) if idx is not None else range(len(rules))
        for i in order:
            cr = rules[i]
            if cr.unknown is not None:
                if not ctx.unknown(cr.rule, cr.unknown):
                    continue
                steps.append(Step(cr.rule, f"could not decide {cr.unknown}; assumed it matches", cr.text))
                if cr.jump is None and cr.terminal is None and cr.action is None:
                    continue
            elif not all(p(ctx) for p in cr.preds):
                continue
            if cr.action is not None:
                steps.append(Step(cr.rule, cr.action(ctx), cr.text))
                continue
            if cr.jump is not None:
                steps.append(
                    Step(cr.rule, f"{'goto' if cr.rule.target and cr.rule.target.goto else 'jump'} {cr.jump}", cr.text)
                )
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
                steps.append(Step(cr.rule, cr.nat.kind if cr.nat else cr.terminal, cr.text))
                return (cr.terminal, cr)
        return None

    def unknown_rules(self) -> list[tuple[Rule, str]]:
        return [(c.rule, c.unknown) for rules in self.chains.values() for c in rules if c.unknown]
