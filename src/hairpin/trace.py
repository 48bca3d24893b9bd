"""The tracer: what a real node does with one packet, every path it can take, and its reply.

A node is its own state as its tools print it, in any of the forms people paste (``Node.load``; forms told
by content in ``hairpin.parsers.forms``, cross-checked in ``hairpin.parsers.node``): ``iptables-save`` or
``iptables -S``, ``ip route``/``ip rule``/``ip addr`` (plain, ``-o``, coloured, JSON) or ``route -n``, and
optionally ``nft list ruleset`` (kube-proxy's nftables mode), ``ipset save``, ``ipvsadm -Sn``, ``ss -ltnu``
and ``conntrack -L``.  The tracer builds the simulator's own ``LinuxHost`` from it (one netfilter, conntrack
and routing model for every face of hairpin) and sends the packet through it.

Random choices are not sampled.  Each time a rule asks for one (``-m statistic --mode random``: how
kube-proxy picks an endpoint), the tracer explores both answers, depth first, with a fresh conntrack
table per path, so the result lists every outcome with its exact probability: the kernel keeps the
probability as ``lround(p * 2^31)`` and matches when ``prandom_u32() & 0x7FFFFFFF`` is below it
(net/netfilter/xt_statistic.c, iptables extensions/libxt_statistic.c), so an outcome's probability is a
product of ``N / 2^31`` terms, given as an exact fraction.

``reply=True`` follows what the node really sends back, through the same host (conntrack de-NATs it):
a SYN forwarded out ``IFACE`` is answered by the backend with a SYN-ACK arriving on ``IFACE`` (a UDP
datagram by a UDP reply); a SYN delivered locally is answered with a SYN-ACK when a socket listens on its
port and with an RST when none does (tcp_v4_send_reset; a UDP datagram to a closed port draws ICMP port
unreachable, which is named but not traced), as the node's ``ss -ltnu`` output (``Node.listening``)
says; without it the listener is assumed and a warning says so.  A REJECT rule answers for the node: an
RST with ``--reject-with tcp-reset``, else ICMP (net/ipv4/netfilter/ipt_REJECT.c).  When the reply
leaves by another interface than the request came in on, the outcome is flagged as an asymmetric
return: with client IP preservation that is the seed's failure (the client gets a SYN-ACK from
``node:NodePort`` instead of the address it called, and resets it).

Before any trace, the rule file is checked as iptables-restore and the kernel would
(``hairpin.parsers.iptables_check``), and the packet against the node: ``in IFACE`` must name an
interface the node has, and a packet sent by the node (``out``) must have one of its addresses as source.

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
from hairpin.netfilter.nft import NftTable, Stacked
from hairpin.netfilter.rules import Rule, Ruleset
from hairpin.parsers import conntrack_list, forms, iproute, ipset, iptables_check, iptables_save, ipvsadm
from hairpin.parsers.conntrack_list import CtEntry
from hairpin.parsers.ipset import IpSet
from hairpin.parsers.nft_ruleset import read_nft
from hairpin.parsers.node import read_node

__all__ = ["FILES", "Leg", "Node", "Outcome", "RuleStep", "Trace", "check_packet", "parse_packet", "trace"]

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
    links: set[str] = field(default_factory=set)  # every interface the files name (empty: not checked)
    forms: dict[str, str] = field(default_factory=dict)  # kind -> "FILE: the form read"
    listening: set[tuple[str, int]] | None = None  # (proto, port) with a listening socket; None: unknown
    nft: NftTable | None = None  # kube-proxy's nftables mode: ``nft list ruleset``'s table ip kube-proxy
    nft_warnings: list[str] = field(default_factory=list)
    conntrack: list[CtEntry] | None = None  # ``conntrack -L``: entries loaded before each trace
    _tracer: _Tracer | None = field(default=None, repr=False, compare=False)

    def tracer(self) -> _Tracer:
        """The node's host, built once (compiling and indexing every rule) and reused by every trace."""
        if self._tracer is None:
            self._tracer = _Tracer(self)
        return self._tracer

    @classmethod
    def load(
        cls,
        iptables_save_file: str | Path | list[Path] | None,
        routes_file: str | Path,
        rules_file: str | Path | None = None,
        addrs_file: str | Path | None = None,
        name: str = "node",
        ipset_file: str | Path | None = None,
        ipvs_file: str | Path | None = None,
        table: str | None = None,
        sockets_file: str | Path | None = None,
        nft_file: str | Path | None = None,
        conntrack_file: str | Path | None = None,
    ) -> Node:
        """Read a node's files in any accepted form (``hairpin.parsers.forms``), checked before use."""
        if iptables_save_file is None:
            ipt: list[Path] = []
        elif isinstance(iptables_save_file, list):
            ipt = iptables_save_file
        else:
            ipt = [Path(iptables_save_file)]
        if not ipt and nft_file is None:
            raise InputError("give the node's rules: iptables-save (or iptables -S), or nft list ruleset")
        with paused():  # millions of small objects, no cycles to collect (hairpin.gcpause)
            nf = read_node(ipt[0] if ipt else None, routes_file, rules_file, addrs_file,
                           table if len(ipt) == 1 else None)  # fmt: skip
        rs = nf.ruleset
        for more in ipt[1:]:  # one file per table (iptables -t nat -S > nat, iptables -S > filter...)
            extra, form = forms.read_iptables(iproute.read_text(more), str(more), None)
            iptables_check.check(extra)
            clash = set(extra.tables) & set(rs.tables)
            if clash:
                raise InputError(f"table {sorted(clash)[0]} is also in {ipt[0]}", str(more))
            rs = rs.merged(extra)
            nf.forms["iptables"] += f"; {more}: {form}"
        sets = ipset.load(ipset_file) if ipset_file is not None else None
        ipvs = ipvsadm.load(ipvs_file) if ipvs_file is not None else None
        listening = _read_sockets(sockets_file) if sockets_file is not None else None
        if sockets_file is not None:
            nf.forms["sockets"] = f"{sockets_file}: ss -ltnu"
        nft = None
        nft_warnings: list[str] = []
        if nft_file is not None:
            nft, form, nft_warnings = read_nft(iproute.read_text(nft_file), str(nft_file), bool(ipt))
            nf.forms["nft"] = f"{nft_file}: {form}"
        ct = None
        if conntrack_file is not None:
            ct = conntrack_list.parse(iproute.read_text(conntrack_file), str(conntrack_file))
            nf.forms["conntrack"] = f"{conntrack_file}: conntrack -L ({len(ct)} tcp/udp entries)"
        return cls(rs, nf.routing, name, sets, ipvs, nf.links, nf.forms, listening, nft, nft_warnings, ct)

    @staticmethod
    def find(directory: str | Path) -> dict[str, Path]:
        """The node files in ``directory``: by their conventional names (``FILES``), else by content."""
        return Node.find_all(directory)[0]

    @staticmethod
    def find_all(directory: str | Path) -> tuple[dict[str, Path], list[Path]]:
        """``find``, and every iptables file (one ``iptables -t TABLE -S`` output per file is common)."""
        d = Path(directory)
        if not d.is_dir():
            raise InputError("not a directory", str(d))
        out: dict[str, Path] = {}
        more: list[Path] = []
        for key, names in FILES.items():
            for n in names:
                if (d / n).is_file():
                    out[key] = d / n
                    break
        for f in sorted(d.iterdir())[:256]:
            if not f.is_file() or f in out.values() or f.stat().st_size > 64 * 2**20:
                continue
            try:
                with f.open(encoding="utf-8", errors="strict") as fh:
                    head = fh.read(65536)
            except (OSError, UnicodeDecodeError):
                continue
            kind = "sockets" if _SS_HEADER.match(head) else forms.kind_of(head)
            if kind == "iptables":
                more.append(f)
            if kind is not None and kind not in out:
                out[kind] = f
        for key in ("iptables", "routes"):
            if key not in out and not (key == "iptables" and "nft" in out):
                raise InputError(f"no {key} file (looked for {', '.join(FILES[key])} and read every file's content)",
                                 str(d))  # fmt: skip
        every = [out["iptables"]] if "iptables" in out else []
        return out, every + [f for f in more if f not in every]


_SS_HEADER = re.compile(r"^\s*(Netid\s+)?State\s+Recv-Q\s+Send-Q\s+Local Address:Port", re.M)


def _read_sockets(path: str | Path) -> set[tuple[str, int]]:
    """``ss -ltnu`` (or ``-ltn``): the (proto, port) pairs something listens on, any local address."""
    text = iproute.read_text(path)
    out: set[tuple[str, int]] = set()
    for lineno, raw in enumerate(text.splitlines(), 1):
        toks = raw.split()
        if not toks or toks[0] in ("State", "Netid"):
            continue
        proto = "tcp"
        if toks[0] in ("tcp", "udp"):
            proto, toks = toks[0], toks[1:]
        if len(toks) < 4 or toks[0] not in ("LISTEN", "UNCONN"):
            continue
        local = toks[3]
        port = local.rpartition(":")[2]
        if not port.isdigit() or int(port) > 65535:
            raise InputError(f"bad local address {local!r} (ss -ltnu)", str(path), lineno)
        out.add(("udp" if toks[0] == "UNCONN" and proto == "tcp" else proto, int(port)))
    return out


def check_packet(node: Node, packet: Packet, iif: str | None) -> None:
    """Refuse a packet the node could not see: an unknown interface, or a source not its own when sent by it."""
    if iif is not None and node.links and iif not in node.links:
        known = ", ".join(sorted(node.links))
        raise InputError(f"packet {packet}: the node has no interface {iif!r} (its files name: {known})")
    if iif is None and not node.routing.routing.is_local(packet.src):
        raise InputError(f"packet {packet}: sent by the node ('out') but {ip_str(packet.src)} is not one of its "
                         "addresses (local routing table); a packet from a pod enters on the pod's interface: "
                         "'in IFACE'")  # fmt: skip


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


ASYMMETRIC_WHY = (
    "a reply that leaves by another interface than its request came in on does not go back the way the request "
    "came. If that interface faces the load balancer and the client's address was preserved, the client called "
    "the load balancer's address, gets the reply from the node's address instead, and resets it: random "
    "timeouts (the seed's failure)"
)


@dataclass
class Trace:
    """Every outcome of one packet on one node."""

    packet: Packet
    iif: str | None
    outcomes: list[Outcome]
    warnings: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)  # kind -> "FILE: form read"

    @property
    def asymmetric_outcomes(self) -> list[int]:
        return [i for i, o in enumerate(self.outcomes, 1) if o.asymmetric]

    def to_json(self) -> dict[str, Any]:
        return {
            "packet": str(self.packet),
            "in": self.iif,
            "inputs": self.inputs,
            "outcomes": [o.to_json() for o in self.outcomes],
            "total_probability": str(sum((o.probability for o in self.outcomes), Fraction(0))),
            "warnings": self.warnings,
            "asymmetric": {"outcomes": self.asymmetric_outcomes, "why": ASYMMETRIC_WHY}
            if self.asymmetric_outcomes else None,
        }  # fmt: skip

    def lines(self) -> Iterator[tuple[str, str]]:
        """The text report as (style, line) pairs: whole lines, never wrapped."""
        where = f"in {self.iif}" if self.iif else "sent by the node"
        n = len(self.outcomes)
        yield "bold", f"{self.packet} {where}: {n} outcome{'s' if n != 1 else ''}"
        for kind, said in self.inputs.items():
            yield "dim", f"read {kind}: {said}"
        if self.warnings:
            yield "", ""
            yield "bold yellow", f"warnings ({len(self.warnings)}):"
            for w in self.warnings:
                yield "yellow", f"  warning: {w}"
        for i, o in enumerate(self.outcomes, 1):
            yield "", ""
            yield "bold cyan", f"outcome {i}/{n}: probability {o.probability} ({float(o.probability):.6f})"
            for c in o.choices:
                yield "cyan", f"  chose: {c}"
            for leg in o.legs:
                yield "bold", f"  {leg.name}: {leg.packet} " + (f"in {leg.iif}" if leg.iif else "(sent by the node)")
                for s in leg.steps:
                    yield "", f"    {s.table:<6} {s.chain:<24} line {s.line:<5} {s.text}  [{s.effect}]"
                for note in leg.notes:
                    yield "dim", f"    {note}"
                yield ("green" if leg.kind in ("forward", "local") else "red"), f"    => {leg.verdict}"
            for u in o.undecided:
                yield "yellow", f"  could not decide: {u}"
            if o.asymmetric:
                yield "bold red", f"  ASYMMETRIC RETURN: {o.asymmetric}"
        asym = self.asymmetric_outcomes
        if asym:
            yield "", ""
            which = ", ".join(map(str, asym))
            yield "bold red", f"ASYMMETRIC RETURN in outcome{'s' if len(asym) > 1 else ''} {which} of {n}: {ASYMMETRIC_WHY}"

    def text(self) -> str:
        return "".join(line + "\n" for _, line in self.lines())

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        for style, line in self.lines():
            yield Text(line, style=style, no_wrap=True, overflow="ignore")


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
        ipt = Evaluator(node.ruleset, node.ipsets) if node.ruleset.tables else None
        # an nftables-mode node: kube-proxy's nft table and iptables-nft's tables on the same hooks, in the
        # kernel's priority order (hairpin.netfilter.nft.Stacked, as the simulator runs them)
        self.host.nf = Stacked(ipt, node.nft) if node.nft is not None else ipt
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
            # the host's own socket layer has no sockets: what answers is the tracer's reply (``_reply``)
            leg.notes.extend(n for n in notes if not _RULE_NOTE.match(n) and not n.startswith("TCP: "))
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

    def _reply(self, req: Leg) -> Leg | None:
        """What answers the request, followed through the node (None: nothing to follow)."""
        q = req.out_packet
        if req.kind == "drop" and req.steps and req.steps[-1].effect.startswith("REJECT"):
            return self._rejected(req)
        if q is None or q.proto not in ("tcp", "udp"):
            return None
        if q.proto == "udp":
            flags, why = Flags(0), "a UDP reply"
        elif q.flags & Flags.SYN and not q.flags & Flags.ACK:
            flags, why = Flags.SYN | Flags.ACK, "SYN-ACK"
        else:
            flags, why = Flags.ACK, "ACK"
        if req.kind == "forward":
            r = Packet(q.dst, q.dport, q.src, q.sport, flags, 5000, q.seq + 1 if q.proto == "tcp" else 0, q.proto)
            leg = self._pass("reply", r, req.oif)
            leg.notes.insert(0, f"{why} from the backend {ip_str(q.dst)}:{q.dport}, arriving on {req.oif}")
            return leg
        if req.kind != "local":
            return None
        known = self.node.listening
        listens = known is None or (q.proto, q.dport) in known
        if not listens and q.proto == "udp":
            leg = Leg("reply", q, None, kind="none")
            leg.verdict = (f"nothing listens on udp port {q.dport}: the node answers ICMP port unreachable "
                           "(not traced)")  # fmt: skip
            return leg
        if not listens:
            flags, why = Flags.RST | Flags.ACK, f"RST: nothing listens on tcp port {q.dport} (ss)"
        elif known is None:
            why += f" from a local socket, assumed to listen on {q.proto} port {q.dport} (give ss -ltnu to know)"
        else:
            why += f" from the local socket listening on {q.proto} port {q.dport} (ss)"
        seq = 0 if flags & Flags.RST else 5000
        r = Packet(q.dst, q.dport, q.src, q.sport, flags, seq, q.seq + 1 if q.proto == "tcp" else 0, q.proto)
        leg = self._pass("reply", r, None)
        leg.notes.insert(0, why)
        return leg

    def _rejected(self, req: Leg) -> Leg:
        """REJECT answers for the node (ipt_REJECT.c): an RST with --reject-with tcp-reset, else ICMP."""
        step = req.steps[-1]
        p = req.packet
        req.verdict = req.verdict.replace("dropped in", "rejected in", 1) + f" by REJECT (line {step.line})"
        if "tcp-reset" in step.text and p.proto == "tcp":
            r = Packet(p.dst, p.dport, p.src, p.sport, Flags.RST | Flags.ACK, 0, p.seq + 1, "tcp")
            leg = Leg("reply", r, None, kind="none")
            leg.verdict = f"REJECT (line {step.line}) answers {r} (nf_send_reset), not traced further"
            return leg
        kind = next((w.split()[1] for w in [step.text[step.text.find("--reject-with"):]] if "--reject-with" in w),
                    "icmp-port-unreachable")  # fmt: skip
        leg = Leg("reply", p, None, kind="none")
        leg.verdict = f"REJECT (line {step.line}) answers ICMP {kind} to {ip_str(p.src)}, not traced further"
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
            if rule.table == "nft":  # numgen random mod N: the tracer asks 1/N, 1/(N-1)... exactly (nft.py)
                exact = Fraction(p).limit_denominator(1 << 16)
                text = f"(p={exact}): {rule.source}"
            else:
                exact = _probability(p)
                text = f"(p={exact}): {iptables_save.format_rule(rule)}"
            return decide(exact, "", f"line {rule.line} matched {text}", f"line {rule.line} did not match {text}")

        self.host.choose = choose
        if self.host.ipvs is not None:
            self.host.ipvs.choose = decide
        self.host.reset()
        if self.node.conntrack:
            conntrack_list.load_into(self.host.conntrack, self.node.conntrack, self.fabric.engine.now)
        self.host.rng = random.Random(0)
        self.undecided = []
        legs = [self._pass("request", packet, iif)]
        for c in self.node.conntrack or ():
            t = (packet.src, packet.sport, packet.dst, packet.dport, packet.proto)
            if t in (c.orig, c.reply):
                legs[0].notes.insert(0, f"conntrack -L line {c.line}: the packet belongs to this existing "
                                        f"{'original' if t == c.orig else 'reply'}-direction entry; its NAT applies")  # fmt: skip
        asym: str | None = None
        if reply:
            rep = self._reply(legs[0])
            if rep is not None:
                legs.append(rep)
                if iif is not None and rep.kind == "forward" and rep.oif != iif:
                    out = rep.out_packet
                    assert out is not None
                    asym = f"the request came in on {iif} but its reply leaves on {rep.oif} as {out}"
        prob = Fraction(1)
        choices = []
        for exact, yes, no, answer in decisions:
            prob *= exact if answer else 1 - exact
            choices.append(yes if answer else no)
        return Outcome(prob, choices, legs, list(self.undecided), asym), len(decisions)


def trace(node: Node, packet: Packet, iif: str | None, *, reply: bool = False) -> Trace:
    """Every outcome of ``packet`` entering ``node`` on ``iif`` (None: sent by the node itself)."""
    check_packet(node, packet, iif)
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
    warnings = list(node.routing.warnings) + list(node.nft_warnings)
    if stack:
        warnings.append(f"more than {MAX_PATHS} paths: the rest are not listed")
    if reply and node.listening is None and any(o.legs[0].kind == "local" for o in outcomes):
        warnings.append("a reply from a local socket assumes something listens on the port; give the node's "
                        "`ss -ltnu` output (--sockets FILE) to know (no listener: RST)")  # fmt: skip
    return Trace(packet, iif, outcomes, warnings, dict(node.forms))
