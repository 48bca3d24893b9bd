"""The tracer's walk: one path of a packet (and its reply) through a node's host, recorded compactly.

``Tracer.run`` resets the node's ``LinuxHost`` (the simulator's own netfilter, conntrack and routing
model), answers the random choices as a script says (the first time, yes), and sends the packet through;
what the host did is kept as records (``hairpin.model.trace``: each table traversal's steps, each event
with its notes as ``Note`` objects, each choice with its rule and exact probability).  No words are made
here: the report builds them from the records of the outcomes it shows.

The exact probabilities are the kernel's: xt_statistic keeps ``--probability p`` as ``lround(p * 2^31)``
and matches when ``prandom_u32() & 0x7FFFFFFF`` is below it (net/netfilter/xt_statistic.c, iptables
extensions/libxt_statistic.c), so a choice is ``N / 2^31`` exactly; nft's ``numgen random mod N`` is
asked as 1/N, 1/(N-1)... (``hairpin.netfilter.nft``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING

from hairpin.conntrack import Tuple
from hairpin.engine import Engine
from hairpin.host import Fabric, LinuxHost, Place
from hairpin.model.net import Flags, Packet, ip_str, is_v6
from hairpin.model.trace import Decision, Event, Leg, Outcome
from hairpin.netfilter.backends import Backends
from hairpin.netfilter.evaluate import Evaluator
from hairpin.netfilter.nft import NftTable
from hairpin.netfilter.nft_tables import tables_of
from hairpin.netfilter.rules import Rule
from hairpin.netfilter.stacked import Stacked
from hairpin.netfilter.targets import reject_reply6
from hairpin.notes import Note
from hairpin.parsers import conntrack_list, sockets
from hairpin.parsers.conntrack_list import CtEntry
from hairpin.routing import need_strict
from hairpin.tunnels import Encapsulation, encapsulation

if TYPE_CHECKING:
    from hairpin.legacy import OrderKey
    from hairpin.trace import Node

__all__ = ["SILENT", "Tracer"]

#: how a reply leg that TCP never sends begins (a SYN to a broadcast or anycast address, or from an IPv4-mapped
#: source): the first line of ``hairpin trace`` counts these outcomes as not answered
SILENT = "TCP answers nothing"


class _Fabric(Fabric):
    """Collects what the host sends and ends, instead of carrying it anywhere; asks for lazy notes."""

    lazy = True
    answers_rejects = True  # Tracer._rejected follows a REJECT's answer

    def __init__(self) -> None:
        self.engine = Engine()
        self.verbose = True
        self.events: list[Event] = []

    def transmit(self, host: Place, oif: str, packet: Packet, notes: Sequence[str | Note]) -> None:
        self.events.append(("forward", oif, packet, list(notes), self.engine.now))

    def record(
        self, host: Place, where: str, packet: Packet, notes: Sequence[str | Note], kind: str, lane: str | None = None
    ) -> None:
        self.events.append((kind, where, packet, list(notes), self.engine.now))


def _probability(p: float) -> Fraction:
    """The kernel's exact probability for a saved ``--probability p`` (xt_statistic: N / 2^31)."""
    n = round(p * 0x80000000)
    return Fraction(min(max(n, 0), 0x80000000), 0x80000000)


class _Draws(random.Random):
    """``random.Random(0)`` started afresh for every path, without resetting its state each time.

    Every path of a trace draws from a fresh ``Random(0)`` (a MASQUERADE --random-fully port, an ISN), so
    the k-th draw of every path that draws alike is the same number: the draws made are remembered and
    handed out again; a path that asks for something else than the one before at some draw gets the
    generator rewound to that draw (``setstate`` and the draws before it again) and drawn from."""

    def __init__(self) -> None:
        super().__init__(0)
        self._start = super().getstate()
        self._made: list[tuple[int, int | float]] = []  # (bits asked, or -1 for random(); the number)
        self._next = 0  # the draw the current path is at; the generator stands at len(self._made)

    def restart(self) -> None:
        self._next = 0

    def _draw(self, bits: int) -> int | float:
        i = self._next
        self._next = i + 1
        made = self._made
        if i < len(made):
            if made[i][0] == bits:
                return made[i][1]
            del made[i:]
            super().setstate(self._start)
            for b, _ in made:
                super().random() if b < 0 else super().getrandbits(b)
        value = super().random() if bits < 0 else super().getrandbits(bits)
        made.append((bits, value))
        return value

    def getrandbits(self, k: int) -> int:
        value = self._draw(k)
        assert isinstance(value, int)
        return value

    def random(self) -> float:
        value = self._draw(-1)
        assert isinstance(value, float)
        return value


def _why(why: str, q: Packet, oif: str | None) -> list[str]:
    return [f"{why} from the backend {q.dest}, arriving on {oif}"]


class Tracer:
    """A node's host, built once (rules compiled on first use, long chains indexed), and its walks."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.fabric = _Fabric()
        self.host = LinuxHost(node.name, self.fabric, node.routing.routing, None, ip_forward=True, ipvs=node.ipvs)
        self.host.ruleset = node.ruleset
        ipt: Evaluator | None = Evaluator(node.ruleset, node.ipsets) if node.ruleset.tables else None
        #: the order of tables of equal priority on one hook, which no dump records: iptables-legacy's and
        #: iptables-nft's at every hook both hold rules at, kube-proxy's nft table and iptables' at the nat hooks:
        #: (table, hook, a, b) -> True when ``a`` runs before ``b``, as ``hairpin.legacy.trace_orders`` sets it
        #: for each order it tries; the pairs asked
        self.orders: dict[OrderKey, bool] = {}
        self.asked: list[OrderKey] = []
        self.backends: Backends | None = None
        if node.legacy is not None:
            self.backends = ipt = Backends(ipt, Evaluator(node.legacy, node.ipsets),
                                           lambda table, hook: self._order(table, hook, "legacy", "nft"))  # fmt: skip
        # an nftables-mode node: kube-proxy's nft table and iptables-nft's tables on the same hooks, in the
        # kernel's priority order, every order of the nat chains of equal priority tried
        # (hairpin.netfilter.stacked.Stacked; the simulator runs one of them)
        self.host.nf = Stacked(ipt, node.nft, self._order) if node.nft is not None else ipt
        #: the evaluators whose work is budgeted per outcome (hairpin.trace): each backend's, and kube-proxy's nft table
        inner = [self.backends.nft, self.backends.legacy] if self.backends is not None else [ipt]
        self.evaluators: list[Evaluator | NftTable] = [e for e in inner if e is not None] + tables_of(node.nft)
        self.undecided: list[str] = []
        self.host.unknown = self._unknown
        # a chain without random draws or undecidable matches gives the same verdict (the same steps) to
        # every packet that agrees on what it reads: its verdicts are kept, per flow class (LinuxHost._table)
        self.host.uncached = frozenset({"nat"})
        # nat's walks (random draws: kube-proxy's endpoint choice) are kept per flow class with the answers to
        # their draws, each keyed by the fields the rules it met read (hairpin.netfilter.walks)
        self.host.remembered = frozenset({"nat"})
        self.exact: dict[tuple[float, bool], Fraction] = {}  # (p, nft?) -> the exact probability asked
        #: (p, answer, id(rule)) -> the Decision a rule's draw records (an immutable tuple, the rule in it), made once
        self._decided: dict[tuple[float, bool, int], Decision] = {}
        self._decisions: list[Decision] = []  # the current path's choices (run), and its script
        self._script: list[bool] = []
        self.draws = _Draws()  # every path starts from the same draws
        self._ct_index: dict[Tuple, tuple[int, int]] | None = None  # conntrack -L: hairpin.parsers.conntrack_list.index
        self._ct_lines: dict[Tuple, list[CtEntry]] = {}
        self._tunnels: dict[str | None, Encapsulation | None] = {}
        self.host.rng = self.draws

    def _order(self, table: str, hook: str, a: str, b: str) -> bool:
        """Whether ``a``'s table runs before ``b``'s at (table, hook): True until ``hairpin.legacy`` asks for
        the other order (legacy before nft, iptables before kube-proxy: the simulator's order)."""
        key = (table, hook, a, b)
        if key not in self.orders:
            self.orders[key] = True
        if key not in self.asked:
            self.asked.append(key)
        return self.orders[key]

    def _unknown(self, rule: Rule, what: str) -> bool:
        self.undecided.append(f"line {rule.line} ({rule.table} {rule.chain}): {what}; taken as not matching")
        return False

    def _pass(self, name: str, packet: Packet, iif: str | None, oif: str | None = None) -> Leg:
        leg = Leg(name, packet, iif, node=self.node.name)
        self.host.walked = leg.walk  # each table traversal's steps (LinuxHost._table)
        self.fabric.events = leg.events
        if iif is None:
            self.host.output(packet, oif=oif)
        else:
            self.host.receive(packet, iif)
        self.host.walked = None
        leg.ended()
        if leg.kind == "forward":  # out of a tunnel device: the outer packet it becomes is not followed
            oif = leg.oif
            if oif not in self._tunnels:  # per device (an Encapsulation is immutable; the node's kinds are read once)
                self._tunnels[oif] = encapsulation(oif, self.node.link_kinds)
            leg.tunnel = self._tunnels[oif]
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
            leg.lead.insert(0, Note(_why, why, q, req.oif))
            return leg
        if req.kind != "local":
            return None
        if q.proto == "tcp" and self.host.routing.is_broadcast(q.dst):
            # tcp_v4_conn_request drops a SYN to a broadcast address, tcp_v4_send_reset answers no RTN_BROADCAST
            leg = Leg("reply", q, None, kind="none", node=self.node.name)
            leg.verdict = f"{SILENT} to {ip_str(q.dst)}, a broadcast address (tcp_v4_conn_request)"
            return leg
        route = self.host.routing.lookup(q.dst, q.src) if is_v6(q.dst) else None
        if q.proto == "tcp" and route is not None and route.route is not None and route.route.type == "anycast":
            # tcp_v6_conn_request and tcp_v6_send_reset answer only a unicast destination (ipv6_unicast_destination:
            # an RTF_LOCAL route; an anycast route is not one)
            leg = Leg("reply", q, None, kind="none", node=self.node.name)
            leg.verdict = (f"{SILENT} to {ip_str(q.dst)}, an anycast address of the node "
                           "(tcp_v6_conn_request)")  # fmt: skip
            return leg
        known = self.node.listening
        # (a socket bound to a device takes what arrives on it: a packet the node sends itself arrives on lo)
        arrived = req.iif if req.iif is not None else "lo"
        listens = known is None or sockets.listener_for(known, q.proto, q.dst, q.dport, arrived) is not None
        # the port's sockets that take other addresses, families or devices than this packet's, said as ss lists them
        others = "" if known is None or listens else sockets.bound_elsewhere(known, q.proto, q.dport)
        if not listens and q.proto == "udp":
            leg = Leg("reply", q, None, kind="none", node=self.node.name)
            leg.verdict = (f"nothing listens on udp port {q.dport}{others}: the node answers "
                           f"{'ICMPv6' if is_v6(q.dst) else 'ICMP'} port unreachable (not traced)")  # fmt: skip
            return leg
        if listens and why == "SYN-ACK" and is_v6(q.src) and (q.src >> 32) & 0xFFFFFFFF_FFFFFFFF_FFFFFFFF == 0xFFFF:
            # tcp_v6_conn_request (net/ipv6/tcp_ipv6.c) drops a SYN from an IPv4-mapped source (::ffff:a.b.c.d),
            # counted in Ip6InHdrErrors; with no listener the RST is sent (tcp_v6_send_reset has no such check)
            leg = Leg("reply", q, None, kind="none", node=self.node.name)
            leg.verdict = (f"{SILENT} to a SYN from {ip_str(q.src)}, an IPv4-mapped source "
                           "(tcp_v6_conn_request drops it)")  # fmt: skip
            return leg
        if not listens:
            flags, why = Flags.RST | Flags.ACK, f"RST: nothing listens on tcp port {q.dport}{others} (ss)"
        elif known is None:
            why += f" from a local socket, assumed to listen on {q.proto} port {q.dport} (give ss -ltnu to know)"
        else:
            why += f" from the local socket listening on {q.proto} port {q.dport} (ss)"
        seq = 0 if flags & Flags.RST else 5000
        r = Packet(q.dst, q.dport, q.src, q.sport, flags, seq, q.seq + 1 if q.proto == "tcp" else 0, q.proto)
        # an answer to a link-local (or loopback) IPv6 peer keeps to the device the request came in on
        # (net/ipv6/tcp_ipv6.c: tcp_v6_init_req keeps it as the request socket's bound device "so that link locals
        # have meaning", tcp_v6_send_reset takes it for an RST; a UDP socket answers to the sender's scope id)
        oif = arrived if is_v6(q.src) and need_strict(q.src) else None
        leg = self._pass("reply", r, None, oif)
        leg.lead.insert(0, why)
        return leg

    def _rejected(self, req: Leg) -> Leg:
        """REJECT answers for the node (ipt_REJECT.c, ip6t_REJECT.c): an RST with --reject-with tcp-reset, else
        ICMP (ICMPv6 for IPv6; the default is port unreachable in both)."""
        step = req.steps[-1]
        p = req.packet
        v6 = is_v6(p.dst)
        req.verdict = req.verdict.replace("dropped in", "rejected in", 1) + f" by REJECT (line {step.line})"
        if "tcp-reset" in step.text and p.proto == "tcp":
            r = Packet(p.dst, p.dport, p.src, p.sport, Flags.RST | Flags.ACK, 0, p.seq + 1, "tcp")
            leg = Leg("reply", r, None, kind="none", node=self.node.name)
            leg.verdict = (f"REJECT (line {step.line}) answers {r} ({'nf_send_reset6' if v6 else 'nf_send_reset'}), "
                           "not traced further")  # fmt: skip
            return leg
        kind = next((w.split()[1] for w in [step.text[step.text.find("--reject-with"):]] if "--reject-with" in w),
                    None)  # fmt: skip
        words = reject_reply6(kind)[2] if v6 else f"ICMP {kind or 'icmp-port-unreachable'}"
        leg = Leg("reply", p, None, kind="none", node=self.node.name)
        leg.verdict = f"REJECT (line {step.line}) answers {words} to {ip_str(p.src)}, not traced further"
        return leg

    # a path's choices, answered by its script (``run``): methods, not closures made anew for every path
    def _decide(self, exact: Fraction, what: str, yes: str = "", no: str = "") -> bool:
        decisions, script = self._decisions, self._script
        i = len(decisions)
        answer = script[i] if i < len(script) else True
        decisions.append((exact, answer, None, what, yes, no))
        return answer

    def _choose(self, p: float, rule: Rule) -> bool:
        decisions, script = self._decisions, self._script
        i = len(decisions)
        answer = script[i] if i < len(script) else True
        caching = self.host.caching
        made = self._decided.get((p, answer, id(rule))) if caching else None
        if made is None or made[2] is not rule:
            nft = rule.table == "nft"
            exact = self.exact.get((p, nft))
            if exact is None:
                # numgen random mod N: the tracer asks 1/N, 1/(N-1)... exactly (nft.py)
                exact = self.exact[(p, nft)] = Fraction(p).limit_denominator(1 << 16) if nft else _probability(p)
            label = "" if self.backends is None else "legacy" if self.backends.is_legacy(rule) else "nft"
            made = (exact, answer, rule, label, "", "")
            if caching:  # shared only where the host keeps its verdicts (not kept: made at every draw)
                if len(self._decided) >= 1 << 16:
                    self._decided.clear()
                self._decided[(p, answer, id(rule))] = made
        decisions.append(made)
        return answer

    def _preload(self) -> None:
        """The node's ``conntrack -L`` entries, held by the host's conntrack for this path."""
        listed = self.node.conntrack
        assert listed is not None
        if self._ct_index is None:  # once per node: which entry each tuple finds, and the entries by tuple
            self._ct_index = conntrack_list.index(listed)
            for c in listed:
                for tup in dict.fromkeys((c.orig, c.reply)):
                    self._ct_lines.setdefault(tup, []).append(c)
        now = self.fabric.engine.now
        self.host.conntrack.preload(self._ct_index, lambda n: conntrack_list.make(listed[n], n, now))

    def run(self, packet: Packet, iif: str | None, reply: bool, script: list[bool]) -> tuple[Outcome, int]:
        """The path ``script`` answers (True for every choice past its end), and how many choices it met."""
        decisions: list[Decision] = []
        self._decisions = decisions
        self._script = script
        host = self.host
        host.choose = self._choose
        if host.ipvs is not None:
            host.ipvs.choose = self._decide
        host.reset()
        if self.node.conntrack:
            self._preload()
        self.draws.restart()
        self.undecided = []
        legs = [self._pass("request", packet, iif)]
        t = (packet.src, packet.sport, packet.dst, packet.dport, packet.proto)
        for c in self._ct_lines.get(t, ()) if self._ct_lines else ():
            legs[0].lead.insert(0, f"conntrack -L line {c.line}: the packet belongs to this existing "
                                   f"{'original' if t == c.orig else 'reply'}-direction entry; its NAT applies")  # fmt: skip
        asym: tuple[str, Leg] | None = None
        if reply:
            rep = self._reply(legs[0])
            if rep is not None:
                legs.append(rep)
                if iif is not None and rep.kind == "forward" and rep.oif != iif:
                    assert rep.out_packet is not None
                    asym = (iif, rep)
        return Outcome(decisions, legs, self.undecided, asym), len(decisions)
