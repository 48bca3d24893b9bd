"""nftables: a parser for the ``nft list table`` text subset kube-proxy's nftables mode writes, and an
evaluator of that table for one packet at one hook.

Its IPv6 table (``table ip6 kube-proxy``: ``family`` 6) is the same with ``ip6 saddr|daddr``, ``ipv6_addr`` sets,
``dnat to [A]:P`` and ``dnat ip6 to numgen ... map``; its addresses are tagged as IPv6 packets' are
(hairpin.model.net), so no IPv4 packet meets them.  A match of the other family (``ip6 daddr`` in ``table ip``)
is refused: a table of one family sees only that family's packets.

What it knows (nft(8) semantics; the statements are the ones kubernetes pkg/proxy/nftables/proxier.go
writes, see ``hairpin.kube.nftables``):

- a table holds sets (``type ipv4_addr``, ``elements = { a, ... }``; a dynamic set with a timeout,
  kube-proxy's ``affinity-…``, starts empty and ``update @set { ip saddr }`` adds the source until the
  timeout, on the simulated node's clock: ClientIP affinity across connections), maps (``type K : verdict``, ``elements = { k :
  verdict, ... }``) and chains; a base
  chain has ``type filter|nat hook H priority P``; ``jump`` returns to the caller, ``goto`` does not,
  falling off a regular chain returns, falling off a base chain is its policy (accept);
- matches: ``ct state new``, ``ct status dnat`` (the connection's conntrack entry has a DNAT binding),
  ``tcp|udp|sctp dport N`` (the packet's protocol and destination port;
  kube-proxy 1.30 - 1.33 write it in the ClusterIP masquerade rule), ``ip saddr|daddr [!=] A[/N]``, ``ip saddr|daddr [!=] @SET`` and
  ``[!=] { A[/N], ... }``, ``fib saddr|daddr type local``,
  ``meta mark & M ==|!= V``; ``ip saddr . ip daddr . meta l4proto . th dport @SET`` against a set of
  ``type ipv4_addr . ipv4_addr . inet_proto . inet_service`` (kube-proxy 1.36's ``hairpin-connections``,
  checked after DNAT, at postrouting); verdict maps keyed on ``ip daddr . meta l4proto . th dport`` or ``meta
  l4proto . th dport`` (no element: the rule does not match and evaluation goes on);
- ``numgen random mod N vmap { 0 : V0, ... }``: element i with probability exactly 1/N.  The choice is
  asked of ``ctx.choose`` as N-1 successive draws of 1/N, 1/(N-1), ..., 1/2 (the same law), so the
  tracer can branch on it as on the iptables statistic match;
- ``meta l4proto P dnat ip to numgen random mod N map { 0 : A . P, ... }`` (kube-proxy 1.36+): DNAT to
  element i with probability exactly 1/N, drawn the same way;
- the AWS VPC CNI's ``table ip aws-cni`` (``hairpin.kube.cni.nft_ruleset``): ``iifname "NAME"`` and
  ``iifname "PREFIX*"`` (the input interface, by name or prefix; none on a locally made packet),
  ``ct mark set ct mark | M`` and ``meta mark set ct mark & M`` (the whole packet mark replaced); both read
  the conntrack entry, and without one (``nft_ct_get_eval``: NFT_BREAK) the rule stops there;
- statements: ``meta mark set meta mark | M`` / ``^ M``, ``meta l4proto P dnat to A:P`` (DNAT),
  ``masquerade [fully-random]``, ``reject``, ``drop``, ``accept``, ``return``; ``counter`` (with its numbers
  or a name) counts and is otherwise ignored, as is a trailing ``comment "..."``.

Anything else is a ParseError with its line: the evaluator never guesses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hairpin.errors import ParseError
from hairpin.model.net import addr_int, ip_int, net_of
from hairpin.netfilter.evaluate import Context, NatAction, Step, Verdict, over_budget
from hairpin.netfilter.matches import has_ct
from hairpin.netfilter.rules import Rule
from hairpin.text import digits, split_lines

__all__ = ["PRE_DNAT", "NftChain", "NftRule", "NftTable", "parse"]

_HOOKS = {"prerouting": "PREROUTING", "input": "INPUT", "forward": "FORWARD", "output": "OUTPUT",
          "postrouting": "POSTROUTING"}  # fmt: skip
_PRIO_NAMES = {"dstnat": -100, "srcnat": 100, "filter": 0, "mangle": -150, "raw": -300}
_DSTNAT = _PRIO_NAMES["dstnat"]
#: the suffix of the host's pseudo-hooks ``PREROUTING-pre-dnat`` / ``OUTPUT-pre-dnat``: filter base
#: chains whose priority is below dstnat (-100), run before the nat table (kube-proxy's
#: filter-prerouting / filter-prerouting-pre-dnat and filter-output / filter-output-pre-dnat, at
#: ``dstnat - 10``: pkg/proxy/nftables/proxier.go ``nftablesBaseChains``, "our filter chains have to
#: run before DNAT" so that they see the service's own address)
PRE_DNAT = "-pre-dnat"


@dataclass(frozen=True)
class NftRule:
    """One rule: its text, where it came from, and a compiled form (a tuple of steps)."""

    chain: str
    text: str
    line: int
    steps: tuple[tuple[str, ...], ...]

    def as_rule(self) -> Rule:
        """An iptables-model stand-in, for callers (``ctx.choose``) that name the deciding rule."""
        return Rule("nft", self.chain, (), None, line=self.line, source=self.text)


@dataclass
class NftChain:
    name: str
    rules: list[NftRule] = field(default_factory=list)
    kind: str | None = None
    hook: str | None = None
    priority: int = 0


@dataclass
class NftTable:
    """One parsed ``table ip NAME`` (or ``table ip6 NAME``: ``family`` 6, its addresses tagged as IPv6 ones are)."""

    name: str
    chains: dict[str, NftChain] = field(default_factory=dict)
    maps: dict[tuple[str, ...], dict[tuple[str, ...], str]] = field(default_factory=dict)
    vmaps: dict[str, dict[tuple[str, ...], str]] = field(default_factory=dict)
    #: named sets of addresses/networks: (network, mask) pairs
    sets: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: named sets of ``ipv4_addr . ipv4_addr . inet_proto . inet_service``: (saddr, daddr, proto, port)
    tuples: dict[str, set[tuple[int, int, str, int]]] = field(default_factory=dict)
    #: dynamic sets with a timeout (kube-proxy's ``affinity-…``): seconds each entry lives, and the
    #: entries ``update @set { ip saddr }`` added while the table ran (address -> expiry)
    timeouts: dict[str, float] = field(default_factory=dict)
    dynamic: dict[str, dict[int, float]] = field(default_factory=dict, repr=False, compare=False)
    #: the rules that acted during the current ``run`` (reported as the Verdict's steps)
    _steps: list[Step] = field(default_factory=list, repr=False, compare=False)
    #: sets by mask (hairpin.netfilter.nft._by_mask), built the first time a packet meets them
    _indexed: dict[str, dict[int, frozenset[int]]] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: rules the walks may still look at (None: no bound), as for hairpin.netfilter.evaluate.Evaluator
    budget: int | None = field(default=None, repr=False, compare=False)
    file: str | None = field(default=None, repr=False, compare=False)
    family: int = 4

    def base_chains(self, kind: str, hook: str) -> list[NftChain]:
        """Base chains of ``kind`` on ``hook`` (iptables hook name), by priority.

        Filter chains on prerouting and output are split at the DNAT priority (-100), where the host
        runs the nat table: ``HOOK + PRE_DNAT`` names those before it (kube-proxy's firewall checks at
        ``dstnat - 10``), ``HOOK`` those at or after it."""
        base = hook.removesuffix(PRE_DNAT)
        found = [c for c in self.chains.values() if c.kind == kind and c.hook == base]
        if kind == "filter" and base in ("PREROUTING", "OUTPUT"):
            found = [c for c in found if (c.priority < _DSTNAT) == (base != hook)]
        elif base != hook:
            return []
        return sorted(found, key=lambda c: c.priority)

    # -- evaluator: the same has/run face as hairpin.netfilter.evaluate.Evaluator
    def has(self, table: str, hook: str) -> bool:
        return bool(self.base_chains(table, hook))

    def run(self, table: str, hook: str, ctx: Context) -> Verdict:
        return self.run_chains(self.base_chains(table, hook), ctx)

    def run_chains(self, chains: list[NftChain], ctx: Context) -> Verdict:
        """Base chains of one hook, in the order given: the first verdict other than accept, or NAT binding."""
        self._steps = []
        for chain in chains:
            v = self._chain(chain.name, ctx, 0)
            if v is not None and (v.verdict != "ACCEPT" or v.nat is not None):
                v.steps = self._steps
                return v
        return Verdict("ACCEPT", steps=self._steps)

    def _chain(self, name: str, ctx: Context, depth: int) -> Verdict | None:
        """None: fell off (or returned from) the chain."""
        if depth > 32:  # nft_ruleset refuses more than 15 when it reads the table
            raise RecursionError(f"nft chain {name}: jumps nest deeper than 32")
        rules = self.chains[name].rules
        if self.budget is not None:
            self.budget -= len(rules)
        for rule in rules:
            out = self._rule(rule, ctx, depth)
            if out == "continue":
                continue
            if out == "return":
                return None
            assert isinstance(out, Verdict)
            return out
        return None

    def _verdict(self, verdict: str, rule: NftRule, ctx: Context, depth: int) -> Verdict | str:
        word, _, target = verdict.partition(" ")
        self._steps.append(Step(rule.as_rule(), verdict, f"nft {rule.text}"))
        if self.budget is not None and self.budget < 0 and word in ("jump", "goto"):
            raise over_budget(self.file, rule.line)
        if word == "jump":
            v = self._chain(target, ctx, depth + 1)
            return "continue" if v is None else v
        if word == "goto":
            v = self._chain(target, ctx, depth + 1)
            return "return" if v is None else v
        if word == "return":
            return "return"
        return Verdict({"accept": "ACCEPT", "drop": "DROP", "reject": "REJECT"}[word], rule.as_rule())

    def _rule(self, rule: NftRule, ctx: Context, depth: int) -> Verdict | str:
        p = ctx.packet
        for step in rule.steps:
            op = step[0]
            if op == "ctnew":
                if ctx.ctstate != "NEW":
                    return "continue"
            elif op == "ctdnat":
                if "DNAT" not in ctx.ctstatus:
                    return "continue"
            elif op == "intuple":
                if (p.src, p.dst, p.proto, p.dport) not in self.tuples[step[1]]:
                    return "continue"
            elif op == "l4port":
                if p.proto != step[1] or p.dport != int(step[2]):
                    return "continue"
            elif op == "addr":
                _, which, neg, net, mask = step
                addr = p.src if which == "saddr" else p.dst
                if ((addr & int(mask)) == int(net)) == (neg == "!="):
                    return "continue"
            elif op == "inset":
                _, which, neg, name, inline = step
                addr = p.src if which == "saddr" else p.dst
                which_set = name or "{" + inline
                if (nets := self._indexed.get(which_set)) is None:
                    nets = self._indexed[which_set] = _by_mask(self.sets.get(name, []) if name else _networks(inline, "", 0))
                found = any(addr & m in ns for m, ns in nets.items())
                if name in self.timeouts:
                    found = found or self.dynamic.get(name, {}).get(addr, -1.0) > _now(ctx)
                if found == (neg == "!="):
                    return "continue"
            elif op == "update":
                self.dynamic.setdefault(step[1], {})[p.src] = _now(ctx) + self.timeouts.get(step[1], 0.0)
            elif op == "fiblocal":
                if not ctx.host.is_local(p.src if step[1] == "saddr" else p.dst):
                    return "continue"
            elif op == "markeq":
                if ((ctx.mark & int(step[1])) == int(step[2])) == (step[3] == "!="):
                    return "continue"
            elif op == "vmap":
                key = (
                    (p.proto, str(p.dport)) if step[1] == "proto.port" else (str(ip_int(p.dst)), p.proto, str(p.dport))
                )
                verdict = self.vmaps[step[2]].get(key)
                if verdict is None:
                    return "continue"
                return self._verdict(verdict, rule, ctx, depth)
            elif op == "numgen":
                targets = step[1:]
                return self._verdict(targets[_draw(len(targets), rule, ctx)], rule, ctx, depth)
            elif op == "dnatmap":
                if p.proto != step[1]:
                    return "continue"
                to_addr, _, to_port = step[2 + _draw(len(step) - 2, rule, ctx)].partition(":")
                self._steps.append(Step(rule.as_rule(), "DNAT", f"nft {rule.text}"))
                return Verdict("ACCEPT", rule.as_rule(), NatAction("DNAT", "dst", int(to_addr), int(to_port)))
            elif op == "iifname":
                name = step[1]
                if ctx.iif is None or not (ctx.iif.startswith(name[:-1]) if name.endswith("*") else ctx.iif == name):
                    return "continue"
            elif op in ("ctmarkor", "markfromct"):
                if not has_ct(ctx):  # nft_ct_get_eval without an entry: NFT_BREAK, the rule ends here
                    return "continue"
                if op == "ctmarkor":
                    ctx.ctmark |= int(step[1])
                    self._steps.append(Step(rule.as_rule(), f"ctmark={ctx.ctmark:#x}", f"nft {rule.text}"))
                else:
                    ctx.mark = ctx.ctmark & int(step[1])
                    self._steps.append(Step(rule.as_rule(), f"mark={ctx.mark:#x} (from ctmark)", f"nft {rule.text}"))
            elif op in ("markor", "markxor"):
                ctx.mark = ctx.mark | int(step[1]) if op == "markor" else ctx.mark ^ int(step[1])
                # a non-terminating statement that acted, noted as the iptables MARK target is
                self._steps.append(Step(rule.as_rule(), f"mark={ctx.mark:#x}", f"nft {rule.text}"))
            elif op == "dnat":
                if p.proto != step[1]:
                    return "continue"
                self._steps.append(Step(rule.as_rule(), "DNAT", f"nft {rule.text}"))
                return Verdict("ACCEPT", rule.as_rule(), NatAction("DNAT", "dst", int(step[2]), int(step[3])))
            elif op == "masq":
                nat = NatAction("MASQUERADE", "src", None, None, random_fully=step[1] == "1")
                self._steps.append(Step(rule.as_rule(), "MASQUERADE", f"nft {rule.text}"))
                return Verdict("ACCEPT", rule.as_rule(), nat)
            elif op == "verdict":
                return self._verdict(step[1], rule, ctx, depth)
        return "continue"


def _draw(n: int, rule: NftRule, ctx: Context) -> int:
    """``numgen random mod n``: element i with probability 1/n, asked of ``ctx.choose`` as n-1 draws of
    1/n, 1/(n-1), ..., 1/2 (the same law; the tracer branches on each)."""
    for i in range(n - 1):
        if ctx.choose(1.0 / (n - i), rule.as_rule()):
            return i
    return n - 1


_NUM = r"(0x[0-9a-fA-F]+|\d+)"
#: an address of either family as nft prints it (an IPv6 one in ``table ip6``: kube-proxy writes ``ip6`` matches
#: there, pkg/proxy/nftables/proxier.go ``ipX``)
_ADDR = r"(\d+\.\d+\.\d+\.\d+|[0-9a-fA-F]*:[0-9a-fA-F:.]*)"
_TUPLE_TYPE = "type ipv4_addr . ipv4_addr . inet_proto . inet_service"
_TUPLE_TYPE6 = "type ipv6_addr . ipv6_addr . inet_proto . inet_service"
_STATEMENTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"ct state new"), "ctnew"),
    (re.compile(r"ct status dnat"), "ctdnat"),
    (re.compile(r"(?:ip|ip6) saddr \. (?:ip|ip6) daddr \. meta l4proto \. th dport @([\w./-]+)"), "intuple"),
    (re.compile(r"(tcp|udp|sctp) dport (\d+)"), "l4port"),
    (re.compile(rf"(?:ip|ip6) (saddr|daddr) (!= )?{_ADDR}(?:/(\d+))?"), "addr"),
    (re.compile(r"(?:ip|ip6) (saddr|daddr) (!= )?(?:@([\w./-]+)|\{ ([\da-fA-F:./, ]+) \})"), "inset"),
    (re.compile(r"update @([\w./-]+) \{ (?:ip|ip6) saddr \}"), "update"),
    (re.compile(r"fib (saddr|daddr) type local"), "fiblocal"),
    (re.compile(rf"meta mark & {_NUM} (==|!=) {_NUM}"), "markeq"),
    (re.compile(r"(?:ip|ip6) daddr \. meta l4proto \. th dport vmap @([\w.-]+)"), "vmap3"),
    (re.compile(r"meta l4proto \. th dport vmap @([\w.-]+)"), "vmap2"),
    (re.compile(r"numgen random mod (\d+) vmap \{ ([^}]*) \}"), "numgen"),
    (re.compile(rf"meta mark set meta mark \| {_NUM}"), "markor"),
    (re.compile(rf"meta mark set meta mark \^ {_NUM}"), "markxor"),
    (re.compile(r'iifname "([\w.@:-]+\*?)"'), "iifname"),
    (re.compile(rf"ct mark set ct mark \| {_NUM}"), "ctmarkor"),
    (re.compile(rf"meta mark set ct mark & {_NUM}"), "markfromct"),
    (re.compile(r"meta l4proto (tcp|udp|sctp) dnat (?:ip6 )?to (\d+\.\d+\.\d+\.\d+|\[[0-9a-fA-F:.]+\]):(\d+)"), "dnat"),
    (re.compile(r"meta l4proto (tcp|udp|sctp) dnat ip6? to numgen random mod (\d+) map \{ ([^}]*) \}"), "dnatmap"),
    (re.compile(r"masquerade( fully-random)?"), "masq"),
    # nft's counter statement (``nft list ruleset`` shows its numbers; ``counter name X`` counts in a named
    # counter object): it counts and never changes the packet or the verdict (nft_counter.c)
    (re.compile(r'counter(?: packets \d+ bytes \d+| name "?[\w.-]+"?)?'), "counter"),
    (re.compile(r"(jump|goto) ([\w./-]+)"), "verdict2"),
    (re.compile(r"(return|accept|drop|reject)"), "verdict1"),
]


def _compile(text: str, file: str, line: int) -> tuple[tuple[str, ...], ...]:
    rest = re.sub(r'\s*comment "[^"]*"\s*$', "", text).strip()
    steps: list[tuple[str, ...]] = []
    while rest:
        for pattern, kind in _STATEMENTS:  # noqa: B007 (kind is used after the break)
            m = pattern.match(rest)
            if m and (m.end() == len(rest) or rest[m.end()] == " "):
                break
        else:
            raise ParseError(f"nft statement not modelled: {rest!r}", file, line)
        g = m.groups()
        if kind == "addr":
            net, mask = _network(g[2], g[3] or "", file, line)
            steps.append(("addr", g[0], (g[1] or "==").strip(), str(net), str(mask)))
        elif kind == "inset":
            if g[3]:
                _networks(g[3], file, line)  # checked here, read when a packet meets it
            steps.append(("inset", g[0], (g[1] or "==").strip(), g[2] or "", g[3] or ""))
        elif kind == "markeq":
            steps.append(("markeq", str(int(g[0], 0)), str(int(g[2], 0)), g[1]))
        elif kind in ("markor", "markxor", "ctmarkor", "markfromct"):
            steps.append((kind, str(int(g[0], 0))))
        elif kind == "vmap3":
            steps.append(("vmap", "addr.proto.port", g[0]))
        elif kind == "vmap2":
            steps.append(("vmap", "proto.port", g[0]))
        elif kind == "numgen":
            table = dict(e.strip().partition(" : ")[::2] for e in g[1].split(","))
            n = int(g[0])
            # the count first (numgen random mod 4294967295 with two elements), then as a set: as strings,
            # sorted("10", "2") is not the order of range(11)
            if n != len(table) or set(table) != {str(i) for i in range(n)} or not all(table.values()):
                raise ParseError(f"numgen mod {n} needs elements 0..{n - 1}", file, line)
            steps.append(("numgen", *(table[str(i)] for i in range(n))))
        elif kind == "dnat":
            steps.append(("dnat", g[0], str(_addr(g[1].strip("[]"), file, line)), g[2]))
        elif kind == "dnatmap":
            n = int(g[1])
            found: dict[str, str] = {}
            for elem in g[2].split(","):
                m2 = re.fullmatch(rf"\s*(\d+) : {_ADDR} \. (\d+)\s*", elem)
                if not m2:
                    raise ParseError(f"dnat map element not modelled: {elem.strip()!r}", file, line)
                found[m2.group(1)] = f"{_addr(m2.group(2), file, line)}:{m2.group(3)}"
            if n != len(found) or set(found) != {str(i) for i in range(n)}:
                raise ParseError(f"numgen mod {n} needs elements 0..{n - 1}", file, line)
            steps.append(("dnatmap", g[0], *(found[str(i)] for i in range(n))))
        elif kind == "masq":
            steps.append(("masq", "1" if g[0] else "0"))
        elif kind == "verdict2":
            steps.append(("verdict", f"{g[0]} {g[1]}"))
        elif kind == "verdict1":
            steps.append(("verdict", g[0]))
        elif kind == "counter":
            pass
        else:
            steps.append((kind, *(x or "" for x in g)))
        rest = rest[m.end() :].strip()
    return tuple(steps)


def _now(ctx: Context) -> float:
    """The simulated node's clock (LinuxHost.engine); a host without one (a unit test's) is at 0."""
    host: Any = ctx.host
    engine = getattr(host, "engine", None)
    return float(engine.now) if engine is not None else 0.0


def _seconds(text: str) -> float:
    """nft's ``3h``, ``1m30s``, ``10800s`` -> seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([dhms])", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise ValueError(text)
    return float(sum(int(n) * units[u] for n, u in parts))


def _tuple(element: str, file: str, line: int) -> tuple[int, int, str, int]:
    """``a . b . tcp . 80`` -> (a, b, "tcp", 80)."""
    m = re.fullmatch(rf"\s*{_ADDR} \. {_ADDR} \. (tcp|udp|sctp) \. (\d+)\s*", element)
    if not m:
        raise ParseError(f"set element not modelled: {element.strip()!r}", file, line)
    return _addr(m.group(1), file, line), _addr(m.group(2), file, line), m.group(3), int(m.group(4))


def _addr(text: str, file: str, line: int) -> int:
    """An address of either family as an int (IPv6 tagged: ``hairpin.model.net.addr_int``)."""
    try:
        return addr_int(text)
    except ValueError:
        raise ParseError(f"bad address {text[:40]!r}", file, line) from None


def _networks(text: str, file: str, line: int) -> list[tuple[int, int]]:
    """``a, b/n`` -> (network, mask) pairs; a bad address or prefix length is a ParseError."""
    out = []
    for item in text.split(","):
        addr, _, prefix = item.strip().partition("/")
        out.append(_network(addr, prefix, file, line))
    return out


def _network(addr: str, prefix: str, file: str, line: int) -> tuple[int, int]:
    """(network, mask) of ``addr/prefix`` (no prefix: the host); an IPv6 one tagged (``net_of``)."""
    if ":" in addr:
        if prefix and (not digits(prefix) or int(prefix) > 128):
            raise ParseError(f"bad prefix length /{prefix[:20]} (0 to 128)", file, line)
        try:
            net, mask, _ = net_of(f"{addr}/{prefix or 128}", True)
        except ValueError:
            raise ParseError(f"bad address {addr[:40]!r}", file, line) from None
        return net, mask
    prefix = prefix or "32"
    if not digits(prefix) or int(prefix) > 32:
        raise ParseError(f"bad prefix length /{prefix[:20]} (0 to 32)", file, line)
    mask = (0xFFFFFFFF << (32 - int(prefix))) & 0xFFFFFFFF
    try:
        return ip_int(addr) & mask, mask
    except ValueError:
        raise ParseError(f"bad address {addr[:40]!r}", file, line) from None


def _by_mask(members: list[tuple[int, int]]) -> dict[int, frozenset[int]]:
    """A set's (network, mask) pairs as one set of networks per mask: a lookup costs the number of distinct
    prefix lengths (at most 33), not the number of elements."""
    out: dict[int, set[int]] = {}
    for net, mask in members:
        out.setdefault(mask, set()).add(net)
    return {m: frozenset(n) for m, n in out.items()}


def _priority(text: str, file: str, line: int) -> int:
    m = re.fullmatch(r"(-?\d+)|(\w+)(?: ([+-]) (\d+))?", text.strip())
    if not m:
        raise ParseError(f"bad chain priority {text!r}", file, line)
    if m.group(1):
        return int(m.group(1))
    if m.group(2) not in _PRIO_NAMES:
        raise ParseError(f"unknown priority name {m.group(2)!r}", file, line)
    base = _PRIO_NAMES[m.group(2)]
    off = int(m.group(4) or 0)
    return base - off if m.group(3) == "-" else base + off


def parse(text: str, file: str = "<nft>") -> NftTable:
    """Parse one ``table ip NAME { ... }`` as ``nft list table`` prints it."""
    lines = split_lines(text)
    table: NftTable | None = None
    chain: NftChain | None = None
    vmap: str | None = None
    nset: str | None = None
    pending = ""
    start = 0
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if pending:
            pending += " " + s
            if "}" not in s:
                continue
            s, pending, no = pending, "", start
        if not s:
            continue
        if table is None:
            m = re.fullmatch(r"table (ip|ip6) ([\w.-]+) \{", s)
            if not m:
                raise ParseError("expected 'table ip NAME {' or 'table ip6 NAME {'", file, no)
            table = NftTable(m.group(2), file=file, family=6 if m.group(1) == "ip6" else 4)
            continue
        if s == "}":
            chain, vmap, nset = None, None, None
            continue
        if chain is None and vmap is None and nset is None:
            m = re.fullmatch(r"(chain|map|set) ([\w./-]+) \{", s)
            if m and m.group(1) == "chain":
                chain = table.chains.setdefault(m.group(2), NftChain(m.group(2)))
            elif m and m.group(1) == "set":
                nset = m.group(2)
                table.sets[nset] = []
            elif m:
                vmap = m.group(2)
                table.vmaps[vmap] = {}
            elif not s.startswith("comment "):
                raise ParseError(f"expected a chain or map, got {s!r}", file, no)
            continue
        if nset is not None:
            if s.startswith("elements = {") and "}" not in s:
                pending, start = s, no
                continue
            if s.startswith("elements = {") and nset in table.tuples:
                body = s[len("elements = {") : s.rindex("}")]
                table.tuples[nset] = {_tuple(e, file, no) for e in body.split(",")}
            elif s.startswith("elements = {"):
                body = s[len("elements = {") : s.rindex("}")]
                if not re.fullmatch(r"[\d./, ]+" if table.family == 4 else r"[\da-fA-F:./, ]+", body):
                    raise ParseError(f"set element not modelled: {body.strip()!r}", file, no)
                table.sets[nset] = _networks(body, file, no)
            elif s == (_TUPLE_TYPE if table.family == 4 else _TUPLE_TYPE6):
                del table.sets[nset]
                table.tuples[nset] = set()
            elif s.startswith("type ") and s != ("type ipv4_addr" if table.family == 4 else "type ipv6_addr"):
                raise ParseError(f"set type not modelled: {s!r}", file, no)
            elif s.startswith("timeout "):
                try:
                    table.timeouts[nset] = _seconds(s.removeprefix("timeout ").strip())
                except ValueError:
                    raise ParseError(f"set timeout not modelled: {s!r}", file, no) from None
            elif not s.startswith(("type ipv4_addr", "type ipv6_addr", "comment ", "flags ", "size ")):
                raise ParseError(f"set line not modelled: {s!r}", file, no)
            continue
        if vmap is not None:
            if s.startswith("elements = {") and "}" not in s:
                pending, start = s, no
                continue
            if s.startswith("elements = {"):
                body = s[len("elements = {") : s.rindex("}")]
                for elem in body.split(","):
                    k, sep, v = elem.partition(" : ")
                    if not sep:
                        raise ParseError(f"map element without ' : ': {elem.strip()!r}", file, no)
                    k = re.sub(r'\s*comment "[^"]*"', "", k).strip()
                    parts = tuple(x.strip() for x in k.split(" . "))
                    key = tuple(
                        str(ip_int(x)) if re.fullmatch(r"[\d.]+", x) and x.count(".") == 3
                        else str(_addr(x, file, no)) if ":" in x else x for x in parts
                    )  # fmt: skip
                    table.vmaps[vmap][key] = v.strip()
            elif not s.startswith(("type ", "comment ", "flags ")):
                raise ParseError(f"map line not modelled: {s!r}", file, no)
            continue
        assert chain is not None
        m = re.fullmatch(r"type (filter|nat|route) hook (\w+) priority ([^;]+); policy (accept|drop);", s)
        if m:
            chain.kind, chain.hook = m.group(1), _HOOKS[m.group(2)]
            chain.priority = _priority(m.group(3), file, no)
            continue
        if s.startswith("comment "):
            continue
        bare = re.sub(r'\s*comment "[^"]*"\s*$', "", s)
        if re.search(r"(?:^| )ip6 " if table.family == 4 else r"(?:^| )ip (?:saddr|daddr)", bare):
            # nft loads it, but a table of one family sees only that family's packets (nf_tables_api.c): the
            # match never holds; kube-proxy never writes it
            raise ParseError(f"an {'ip6' if table.family == 4 else 'ip'} match in table "
                             f"{'ip' if table.family == 4 else 'ip6'} {table.name}: not modelled", file, no)  # fmt: skip
        chain.rules.append(NftRule(chain.name, s, no, _compile(s, file, no)))
    if table is None:
        raise ParseError("no table", file, 1)
    for c in table.chains.values():
        for r in c.rules:
            for st in r.steps:
                name = st[3] if st[0] == "inset" else st[1] if st[0] == "update" else ""
                if name and name not in table.sets:
                    raise ParseError(f"set {name!r} is not defined", file, r.line)
                if st[0] == "intuple" and st[1] not in table.tuples:
                    raise ParseError(f"set {st[1]!r} is not a defined set of "
                                     f"{(_TUPLE_TYPE if table.family == 4 else _TUPLE_TYPE6)[5:]}", file, r.line)
                targets = st[1:] if st[0] == "numgen" else st[1:] if st[0] == "verdict" else ()
                for t in targets:
                    word, _, name = t.partition(" ")
                    if word in ("jump", "goto") and name not in table.chains:
                        raise ParseError(f"{word} to undefined chain {name!r}", file, r.line)
    return table
