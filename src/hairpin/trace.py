"""The tracer: what a real node does with one packet, every path it can take, and its reply.

A node is its own state as its tools print it: ``iptables-save``, ``ip -4 route show table all`` (or
``route -n``), ``ip rule``, ``ip -4 -o addr`` (``Node.load``).  The tracer builds the simulator's own
``LinuxHost`` from it (one netfilter, conntrack and routing model for every face of hairpin) and sends the
packet through it.

Random choices are not sampled.  Each time a rule asks for one (``-m statistic --mode random``: how
kube-proxy picks an endpoint), the tracer explores both answers, depth first, with a fresh conntrack
table per path, so the result lists every outcome with its exact probability: the kernel keeps the
probability as ``lround(p * 2^31)`` and matches when ``prandom_u32() & 0x7FFFFFFF`` is below it
(net/netfilter/xt_statistic.c, iptables extensions/libxt_statistic.c), so an outcome's probability is a
product of ``N / 2^31`` terms, given as an exact fraction.

``reply=True`` follows the reply of each outcome through the same host (conntrack de-NATs it): a SYN
forwarded out ``IFACE`` is answered by a SYN-ACK arriving on ``IFACE``; a SYN delivered locally is
answered by the local socket (assumed to listen).  When the reply leaves by another interface than the
request came in on, the outcome is flagged as an asymmetric return: with client IP preservation that is
the seed's failure (the client gets a SYN-ACK from ``node:NodePort`` instead of the address it called,
and resets it).

A rule the model cannot decide (an unknown match or target) is decided conservatively (it does not match)
and named in the outcome's ``undecided`` list with its line.

A node in kube-proxy's IPVS mode also gives its ``ipvsadm -Sn`` (or ``-Ln``) output: the host runs IPVS's
hooks with those virtual servers, and a new connection's real server is a branch too (where the node's
rr scheduler stands is unknown: each real server 1/n).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from hairpin.engine import Engine
from hairpin.errors import InputError
from hairpin.gcpause import paused
from hairpin.host import Fabric, LinuxHost, Place
from hairpin.ipvs import IpvsTable
from hairpin.model.hop import Hop
from hairpin.model.net import Flags, Packet, ip_int, ip_str
from hairpin.netfilter.evaluate import Evaluator, Verdict
from hairpin.netfilter.rules import Rule, Ruleset
from hairpin.parsers import iproute, ipset, iptables_save, ipvsadm
from hairpin.parsers.ipset import IpSet

__all__ = ["FILES", "Leg", "Node", "Outcome", "RuleStep", "Trace", "parse_packet", "trace"]

#: Conventional file names in a node directory (``--node DIR``), first found wins.
FILES = {
    "iptables": ("iptables-save", "iptables-save.txt", "iptables.txt"),
    "routes": ("ip-route", "ip-route.txt", "routes", "routes.txt", "route-n", "route-n.txt"),
    "rules": ("ip-rule", "ip-rule.txt", "rules", "rules.txt"),
    "addrs": ("ip-addr", "ip-addr.txt", "addrs", "addrs.txt"),
    "ipset": ("ipset-save", "ipset-save.txt", "ipset", "ipset.txt"),
    "ipvs": ("ipvsadm", "ipvsadm.txt", "ipvsadm-save", "ipvsadm-save.txt"),
}
MAX_PATHS = 4096
_RULE_NOTE = re.compile(r"^(raw|mangle|nat|filter|security) \S+: ")
_PACKET = re.compile(
    r"^\s*(?P<proto>tcp|udp)\s+(?P<src>[\d.]+):(?P<sport>\d+)\s*>\s*(?P<dst>[\d.]+):(?P<dport>\d+)"
    r"(?:\s+(?P<flags>(?!in\b|out\b)[A-Za-z,|]+))?(?:\s+(?:in\s+(?P<iif>\S+)|(?P<out>out)))?\s*$"
)


def parse_packet(text: str) -> tuple[Packet, str | None]:
    """``tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0`` -> (packet, input interface); ``out``
    instead of ``in IFACE`` means a packet this node itself sends (OUTPUT)."""
    m = _PACKET.match(text)
    if m is None:
        raise InputError(f"packet {text!r}: expected 'tcp SRC:PORT > DST:PORT [FLAGS] (in IFACE | out)'")
    if m["iif"] is None and m["out"] is None:
        raise InputError(f"packet {text!r}: say where it enters: 'in IFACE' (e.g. in eth0) or 'out' (sent by the node)")
    try:
        flags = Flags.parse(m["flags"]) if m["flags"] else (Flags.SYN if m["proto"] == "tcp" else Flags(0))
        src, dst = ip_int(m["src"]), ip_int(m["dst"])
    except ValueError as e:
        raise InputError(f"packet {text!r}: {e}") from None
    sport, dport = int(m["sport"]), int(m["dport"])
    if sport > 65535 or dport > 65535:
        raise InputError(f"packet {text!r}: port out of range")
    seq = 1000 if flags & Flags.SYN and not flags & Flags.ACK else 2000
    return Packet(src, sport, dst, dport, flags, seq, 0, m["proto"]), m["iif"]


@dataclass
class Node:
    """A node's netfilter rules and routing, with the files they came from."""

    ruleset: Ruleset
    routing: iproute.NodeRouting
    name: str = "node"
    ipsets: dict[str, IpSet] | None = None  # ``ipset save`` content, to decide ``-m set`` (Calico, IPVS mode)
    ipvs: IpvsTable | None = None  # ``ipvsadm -Sn``/``-Ln``: kube-proxy's IPVS mode
    _tracer: _Tracer | None = field(default=None, repr=False, compare=False)

    def tracer(self) -> _Tracer:
        """The node's host, built once (compiling and indexing every rule) and reused by every trace."""
        if self._tracer is None:
            self._tracer = _Tracer(self)
        return self._tracer

    @classmethod
    def load(
        cls,
        iptables_save_file: str | Path,
        routes_file: str | Path,
        rules_file: str | Path | None = None,
        addrs_file: str | Path | None = None,
        name: str = "node",
        ipset_file: str | Path | None = None,
        ipvs_file: str | Path | None = None,
    ) -> Node:
        with paused():  # millions of small objects, no cycles to collect (hairpin.gcpause)
            rs = iptables_save.parse(iproute.read_text(iptables_save_file), str(iptables_save_file))
        nr = iproute.build_routing(
            iproute.read_text(routes_file),
            str(routes_file),
            iproute.read_text(rules_file) if rules_file is not None else None,
            str(rules_file) if rules_file is not None else None,
            iproute.read_text(addrs_file) if addrs_file is not None else None,
            str(addrs_file) if addrs_file is not None else None,
        )
        sets = ipset.load(ipset_file) if ipset_file is not None else None
        return cls(rs, nr, name, sets, ipvsadm.load(ipvs_file) if ipvs_file is not None else None)

    @staticmethod
    def find(directory: str | Path) -> dict[str, Path]:
        """The node files in ``directory`` by their conventional names (``FILES``)."""
        d = Path(directory)
        if not d.is_dir():
            raise InputError("not a directory", str(d))
        out: dict[str, Path] = {}
        for key, names in FILES.items():
            for n in names:
                if (d / n).is_file():
                    out[key] = d / n
                    break
        for key in ("iptables", "routes"):
            if key not in out:
                raise InputError(f"no {key} file (looked for {', '.join(FILES[key])})", str(d))
        return out


@dataclass(frozen=True)
class RuleStep:
    """A rule the packet matched: where it is in the file and what it did."""

    table: str
    chain: str
    line: int
    text: str
    effect: str

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "chain": self.chain, "line": self.line, "rule": self.text, "effect": self.effect}


@dataclass
class Leg:
    """One packet's pass through the node (the request, or its reply)."""

    name: str
    packet: Packet
    iif: str | None
    steps: list[RuleStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hops: list[Hop] = field(default_factory=list)
    verdict: str = ""
    out_packet: Packet | None = None
    oif: str | None = None
    kind: str = ""  # forward | local | drop | martian | none

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": {"packet": str(self.packet), "iface": self.iif},
            "steps": [s.to_json() for s in self.steps],
            "notes": self.notes,
            "verdict": self.verdict,
            "out": {"packet": str(self.out_packet), "iface": self.oif} if self.out_packet is not None else None,
            "hops": [h.to_json() for h in self.hops],
        }


@dataclass
class Outcome:
    """One path: the random choices that lead to it, its probability, and what happened."""

    probability: Fraction
    choices: list[str]
    legs: list[Leg]
    undecided: list[str] = field(default_factory=list)
    asymmetric: str | None = None

    @property
    def hops(self) -> list[Hop]:
        return [h for leg in self.legs for h in leg.hops]

    def to_json(self) -> dict[str, Any]:
        return {
            "probability": str(self.probability),
            "p": float(self.probability),
            "choices": self.choices,
            "legs": [leg.to_json() for leg in self.legs],
            "asymmetric": self.asymmetric,
            "undecided": self.undecided,
        }


@dataclass
class Trace:
    """Every outcome of one packet on one node."""

    packet: Packet
    iif: str | None
    outcomes: list[Outcome]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "packet": str(self.packet),
            "in": self.iif,
            "outcomes": [o.to_json() for o in self.outcomes],
            "total_probability": str(sum((o.probability for o in self.outcomes), Fraction(0))),
            "warnings": self.warnings,
        }

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        where = f"in {self.iif}" if self.iif else "sent by the node"
        n = len(self.outcomes)
        yield Text(f"{self.packet} {where}: {n} outcome{'s' if n != 1 else ''}", style="bold")
        for w in self.warnings:
            yield Text(f"warning: {w}", style="yellow")
        for i, o in enumerate(self.outcomes, 1):
            yield Text("")
            yield Text(f"outcome {i}/{n}: probability {o.probability} ({float(o.probability):.6f})", style="bold cyan")
            for c in o.choices:
                yield Text(f"  chose: {c}", style="cyan")
            for leg in o.legs:
                yield Text(f"  {leg.name}: {leg.packet} " + (f"in {leg.iif}" if leg.iif else "(sent by the node)"),
                           style="bold")  # fmt: skip
                for s in leg.steps:
                    yield Text(f"    {s.table:<6} {s.chain:<24} line {s.line:<5} {s.text}  [{s.effect}]")
                for note in leg.notes:
                    yield Text(f"    {note}", style="dim")
                style = "green" if leg.kind in ("forward", "local") else "red"
                yield Text(f"    => {leg.verdict}", style=style)
            for u in o.undecided:
                yield Text(f"  could not decide: {u}", style="yellow")
            if o.asymmetric:
                yield Text(f"  ASYMMETRIC RETURN: {o.asymmetric}", style="bold red")


class _Fabric(Fabric):
    """Collects what the host sends and ends, instead of carrying it anywhere."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.verbose = True
        self.events: list[tuple[str, str, Packet, list[str]]] = []

    def transmit(self, host: Place, oif: str, packet: Packet, notes: list[str]) -> None:
        self.events.append(("forward", oif, packet, list(notes)))

    def record(
        self, host: Place, where: str, packet: Packet, notes: list[str], kind: str, lane: str | None = None
    ) -> None:
        self.events.append((kind, where, packet, list(notes)))


def _probability(p: float) -> Fraction:
    """The kernel's exact probability for a saved ``--probability p`` (xt_statistic: N / 2^31)."""
    n = round(p * 0x80000000)
    return Fraction(min(max(n, 0), 0x80000000), 0x80000000)


class _Tracer:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.fabric = _Fabric()
        self.host = LinuxHost(node.name, self.fabric, node.routing.routing, None, ip_forward=True, ipvs=node.ipvs)
        self.host.ruleset = node.ruleset
        self.host.nf = Evaluator(node.ruleset, node.ipsets) if node.ruleset.tables else None
        self.leg: Leg | None = None
        self.undecided: list[str] = []
        self.host.watch = self._watch
        self.host.unknown = self._unknown

    def _watch(self, table: str, chain: str, v: Verdict) -> None:
        if self.leg is None:
            return
        for s in v.steps:
            r = s.rule
            self.leg.steps.append(RuleStep(table, r.chain, r.line, s.text or iptables_save.format_rule(r), s.effect))

    def _unknown(self, rule: Rule, what: str) -> bool:
        self.undecided.append(f"line {rule.line} ({rule.table} {rule.chain}): {what}; taken as not matching")
        return False

    def _pass(self, name: str, packet: Packet, iif: str | None) -> Leg:
        leg = Leg(name, packet, iif)
        self.leg = leg
        self.fabric.events.clear()
        if iif is None:
            self.host.output(packet)
        else:
            self.host.receive(packet, iif)
        self.leg = None
        for kind, where, pkt, notes in self.fabric.events:
            leg.notes.extend(n for n in notes if not _RULE_NOTE.match(n))
            action = "; ".join(notes)
            at = f"{self.node.name} {where}" if kind == "forward" else where
            leg.hops.append(Hop(self.fabric.engine.now, at, pkt, action, "send" if kind == "forward" else kind,
                                0, self.node.name))  # fmt: skip
            if kind == "forward":
                leg.kind, leg.oif, leg.out_packet = "forward", where, pkt
                route = next((n for n in notes if n.startswith("route: ")), "")
                leg.verdict = f"forwarded out {where} as {pkt}" + (f" ({route[7:]})" if route else "")
            elif kind == "deliver":
                leg.kind, leg.out_packet = "local", pkt
                leg.verdict = f"delivered locally as {pkt}"
            elif kind in ("drop", "martian"):
                leg.kind = kind
                where_dropped = next((n[11:] for n in reversed(notes) if n.startswith("dropped in ")), where)
                leg.verdict = f"dropped in {where_dropped}" + (" (martian source)" if kind == "martian" else "")
        if not leg.kind:
            leg.kind, leg.verdict = "none", "no packet left (swallowed)"
        return leg

    def run(self, packet: Packet, iif: str | None, reply: bool, script: list[bool]) -> tuple[Outcome, int]:
        decisions: list[tuple[Fraction, str, str, bool]] = []  # p, text if taken, text if not, answer

        def decide(exact: Fraction, what: str, yes: str = "", no: str = "") -> bool:
            i = len(decisions)
            answer = script[i] if i < len(script) else True
            decisions.append((exact, yes or f"{what}: chosen (p={exact})", no or f"{what}: not chosen (p={exact})",
                              answer))  # fmt: skip
            return answer

        def choose(p: float, rule: Rule) -> bool:
            exact = _probability(p)
            text = f"(p={exact}): {iptables_save.format_rule(rule)}"
            return decide(exact, "", f"line {rule.line} matched {text}", f"line {rule.line} did not match {text}")

        self.host.choose = choose
        if self.host.ipvs is not None:
            self.host.ipvs.choose = decide
        self.host.reset()
        self.host.rng = random.Random(0)
        self.undecided = []
        legs = [self._pass("request", packet, iif)]
        req = legs[0]
        asym: str | None = None
        if reply and req.out_packet is not None and req.out_packet.proto == "tcp":
            q = req.out_packet
            flags = Flags.SYN | Flags.ACK if q.flags & Flags.SYN and not q.flags & Flags.ACK else Flags.ACK
            r = Packet(q.dst, q.dport, q.src, q.sport, flags, 5000, q.seq + 1, q.proto)
            rep = self._pass("reply", r, req.oif if req.kind == "forward" else None)
            legs.append(rep)
            if iif is not None and rep.kind == "forward" and rep.oif != iif:
                out = rep.out_packet
                assert out is not None
                asym = (
                    f"the request came in on {iif} but its reply leaves on {rep.oif} as {out}: it does not go back "
                    f"the way the request came. If {iif} faces the load balancer and the client's address was "
                    f"preserved, the client called the load balancer's address, gets this SYN-ACK from "
                    f"{ip_str(out.src)}:{out.sport} instead, and resets it: the seed's random timeouts"
                )
        prob = Fraction(1)
        choices = []
        for exact, yes, no, answer in decisions:
            prob *= exact if answer else 1 - exact
            choices.append(yes if answer else no)
        return Outcome(prob, choices, legs, list(self.undecided), asym), len(decisions)


def trace(node: Node, packet: Packet, iif: str | None, *, reply: bool = False) -> Trace:
    """Every outcome of ``packet`` entering ``node`` on ``iif`` (None: sent by the node itself)."""
    t = node.tracer()
    outcomes: list[Outcome] = []
    stack: list[list[bool]] = [[]]
    while stack:
        script = stack.pop()
        o, n = t.run(packet, iif, reply, script)
        outcomes.append(o)
        if len(outcomes) >= MAX_PATHS:
            break
        for i in range(n - 1, len(script) - 1, -1):  # the other answer at each new decision
            stack.append(script + [True] * (i - len(script)) + [False])
    warnings = list(node.routing.warnings)
    if stack:
        warnings.append(f"more than {MAX_PATHS} paths: the rest are not listed")
    return Trace(packet, iif, outcomes, warnings)
