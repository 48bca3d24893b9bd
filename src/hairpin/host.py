"""A simulated Linux network namespace: netfilter hooks, conntrack with NAT, routing and TCP.

The packet path follows the kernel's hook order and priorities:

    receive:  raw PREROUTING -> conntrack -> mangle PREROUTING -> [nft filter < dstnat]
              -> nat PREROUTING (DNAT) -> [nft filter >= dstnat]
              -> routing decision (martian source check)
              -> local:   mangle INPUT -> filter INPUT -> nat INPUT (SNAT) -> confirm -> TCP
              -> forward: mangle FORWARD -> filter FORWARD -> POSTROUTING
    output:   routing -> raw OUTPUT -> conntrack -> mangle OUTPUT -> [nft filter < dstnat]
              -> nat OUTPUT (DNAT) -> reroute
              -> filter OUTPUT -> POSTROUTING
    POSTROUTING: mangle POSTROUTING -> nat POSTROUTING (SNAT, MASQUERADE) -> confirm -> transmit, or, to
              one of its own addresses, out of lo and back in: raw, mangle PREROUTING on lo -> INPUT

The nat table is consulted only for a connection's first packet; later packets are rewritten from the
conntrack tuples, and only in the directions the entry's NAT status asks for (nf_nat_packet: a
destination rewrite in the original direction needs IPS_DST_NAT, in the reply direction IPS_SRC_NAT,
and the other way round for the source).

The nat table's bindings (DNAT, SNAT, MASQUERADE, REDIRECT and the source port drawn) are ``hairpin.host_nat``'s.
With an IPVS table (kube-proxy's IPVS mode) the host also runs IPVS's hooks (``hairpin.host_ipvs``).
IPv6 packets take the same path; where the kernel's IPv6 paths differ (checks before PREROUTING, no martian
source check, forwarding's source checks, REDIRECT's address) ``hairpin.ip6`` says how.

Namespaces without iptables rules (pods) run no conntrack, as a namespace whose
hooks nothing registered.  Every hop a packet makes is reported to the network with what acted on it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from hairpin.conntrack import IP_CT_DIR_ORIGINAL, IP_CT_DIR_REPLY, Conntrack, tuple_of
from hairpin.engine import Engine
from hairpin.fabric import Fabric, Pass, Place
from hairpin.host_ipvs import IpvsHooks
from hairpin.host_nat import NatHooks, port_range
from hairpin.ip6 import forward_refusal, receive_refusal
from hairpin.model.net import Packet, ip_str, is_v6
from hairpin.netfilter.evaluate import Context, Evaluator, Reads, Step, Verdict
from hairpin.netfilter.matches import Unknown
from hairpin.netfilter.nft import PRE_DNAT
from hairpin.netfilter.rules import Rule
from hairpin.netfilter.targets import reject_reply
from hairpin.netfilter.walks import Leaf, Walks
from hairpin.notes import Note, ct_words, new_entry_lines, route_lines, rule_lines
from hairpin.routing import RouteResult, Routing
from hairpin.tcp import TcpStack

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hairpin.ipvs import IpvsTable
    from hairpin.netfilter.rules import Ruleset
    from hairpin.parsers.ipset import IpSet

__all__ = ["Fabric", "LinuxHost", "Place", "port_range"]

#: the (table, chain) pairs the packet path consults
#: (the ``-pre-dnat`` pseudo-hooks: nft filter chains that run before the nat table, ``PRE_DNAT``)
_HOOK_CHAINS = (*((t, c) for t in ("raw", "mangle", "nat", "filter")
                  for c in ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")),
                ("filter", "PREROUTING" + PRE_DNAT), ("filter", "OUTPUT" + PRE_DNAT))  # fmt: skip
_CTSTATUS = {(d, s): frozenset(n for n, on in (("DNAT", d), ("SNAT", s)) if on) for d in (False, True)
             for s in (False, True)}  # fmt: skip
#: flow classes a host keeps verdicts for before it starts afresh (a cache: outcomes never depend on it)
CACHE_MAX = 1 << 16


class LinuxHost(NatHooks, IpvsHooks):
    """One network namespace.  ``label`` names it in traces (``node1``, ``pod netshoot``)."""

    def __init__(
        self,
        name: str,
        fabric: Fabric,
        routing: Routing,
        ruleset: Ruleset | None = None,
        *,
        ip_forward: bool = False,
        accept_local: bool = False,
        syn_retries: int = 6,
        linear_timeouts: int = 0,
        rng: random.Random | None = None,
        label: str | None = None,
        ipsets: Mapping[str, IpSet] | None = None,
        ipvs: IpvsTable | None = None,
    ) -> None:
        self.name = name
        self.label = label or name
        self.fabric = fabric
        self.routing = routing
        self.ruleset = ruleset
        self.nf = Evaluator(ruleset, ipsets) if ruleset is not None and ruleset.tables else None
        self.ipvs = ipvs
        self.conntrack = Conntrack()
        self.ip_forward = ip_forward
        self.accept_local = accept_local
        self.rng = rng or random.Random(0)
        self.tcp = TcpStack(fabric.engine, self._tcp_send, self._isn, syn_retries, linear_timeouts)
        self.choose: Callable[[float, Rule], bool] = lambda p, r: self.rng.random() < p
        #: Asked when a rule holds a match or target hairpin does not model (the tracer records it).
        self.unknown: Callable[[Rule, str], bool] = lambda r, what: False
        #: Called with (table, chain, verdict) after each table traversal (the tracer's view of rules).
        self.watch: Callable[[str, str, Verdict], None] | None = None
        #: False: no verdict cache (every traversal walks the rules; outcomes are identical either way).
        self.caching = True
        #: tables whose verdicts are never cached (the tracer's nat: a connection's first packet alone walks
        #: it, and deciding whether kube-proxy's nat chains are pure would compile every rule they reach)
        self.uncached: frozenset[str] = frozenset()
        #: tables whose walks are kept per flow class with the answers to their random draws
        #: (hairpin.netfilter.walks; the tracer's nat)
        self.remembered: frozenset[str] = frozenset()
        self.walks = Walks()
        self._live: frozenset[tuple[str, str]] = frozenset()
        self._live_of: Evaluator | None = None
        self._cacheable: dict[tuple[str, str], Reads | None] = {}
        self._verdicts: dict[tuple[object, ...], tuple[Verdict, int, int]] = {}
        #: where each table traversal's (table, steps) is appended, when set (the tracer's leg: ``Leg.walk``)
        self.walked: list[tuple[str, list[Step]]] | None = None
        #: id(verdict) -> (verdict, its lazy Note or None, (table, steps)) for the verdicts the caches hand out
        #: again (``_again``): made once, not at every pass
        self._again_of: dict[int, tuple[Verdict, Note | None, tuple[str, list[Step]]]] = {}
        self._route_notes: dict[tuple[int, str], tuple[RouteResult, Note]] = {}  # _route_note's, made once

    def _tcp_send(self, packet: Packet, why: str) -> None:
        # TCP answers after the segment that caused the answer has been delivered (and traced).
        self.engine.after(0.0, lambda: self.output(packet, why))

    def _isn(self) -> int:
        return self.rng.getrandbits(32)

    # -- the evaluator's view of the host
    def is_local(self, addr: int, iface: str | None = None) -> bool:
        return self.routing.is_local(addr, iface)

    def is_broadcast(self, addr: int, iface: str | None = None) -> bool:
        return self.routing.is_broadcast(addr, iface)

    @property
    def engine(self) -> Engine:
        return self.fabric.engine

    # -- netfilter helpers
    def _hooks(self, nf: Evaluator) -> None:
        """Which (table, chain) hooks hold rules, and which of those may be cached, for ``nf``."""
        self._live = frozenset(k for k in _HOOK_CHAINS if nf.has(*k))
        self._cacheable = {}  # filled on first use: the tracer, which never caches, never pays for it
        self._verdicts.clear()
        self._again_of.clear()
        self.walks.clear()
        self._live_of = nf

    def _refresh(self) -> frozenset[tuple[str, str]]:
        """The hooks holding rules, recomputed when ``nf`` was replaced (the simulator stacks nft on it)."""
        if self.nf is None:
            self._live, self._live_of = frozenset(), None
        else:
            self._hooks(self.nf)
        return self._live

    def _table(self, table: str, chain: str, st: Pass, hook: str, oif: str | None, notes: list[str | Note]) -> Verdict | None:
        nf = self.nf
        if nf is None:
            return None
        if nf is not self._live_of:
            self._hooks(nf)
        hc = (table, chain)
        if hc not in self._live:
            return None  # no rule on this hook: nothing to walk
        ct = st.ct
        key: tuple[object, ...] | None = None
        kept: Verdict | None = None
        plain = self.caching and nf.on_run is None and nf.unknown is None
        if plain and table not in self.uncached:
            if hc in self._cacheable:
                reads = self._cacheable[hc]
            else:
                reads = self._cacheable[hc] = nf.pure(table, chain)
            if reads is not None:
                # the verdict of a chain without random draws or undecidable matches, per flow class: the
                # per-flow fields its rules never read are left out of the key (-1)
                p = st.packet
                rs, rsp, rd, rdp, ro = reads
                if ct is None:
                    key = (table, chain, hook, p.src if rs else -1, p.sport if rsp else -1, p.dst if rd else -1,
                           p.dport if rdp else -1, p.flags, p.proto, st.iif, oif, st.mark, st.ctstate, st.direction,
                           0, False, False, -1, -1)  # fmt: skip
                else:
                    key = (table, chain, hook, p.src if rs else -1, p.sport if rsp else -1, p.dst if rd else -1,
                           p.dport if rdp else -1, p.flags, p.proto, st.iif, oif, st.mark, st.ctstate, st.direction,
                           ct.mark, ct.dnat, ct.snat, ct.orig[2] if ro else -1, ct.orig[3] if ro else -1)  # fmt: skip
                hit = self._verdicts.get(key)
                if hit is not None:
                    kept, st.mark, ctmark = hit
                    if ct is not None:
                        ct.mark = ctmark
        found: Leaf | list[bool] | None = None
        wkey: tuple[object, ...] = ()
        if kept is None and plain and table in self.remembered and type(nf) is Evaluator:
            # a chain with random draws: its walks kept per flow class and answers (hairpin.netfilter.walks)
            wkey = self._flow_key(table, chain, hook, st, oif, self.walks.masks.get(hc, 0))
            found = self.walks.find(wkey, nf, self.choose)
            if type(found) is tuple:
                kept, st.mark, ctmark, _ = found
                if ct is not None:
                    ct.mark = ctmark
        if kept is not None:
            # a verdict a cache handed out again, recorded as a fresh one is (walked, _notes) with the (table, steps)
            # pair and lazy Note made the first time: both hold only immutable values (a Note builds the same lines
            # whenever read), and sharing them leaves fewer objects for the garbage collector
            if self.watch is not None:
                self.watch(table, chain, kept)
            made = self._again_of.get(id(kept))
            if made is None or made[0] is not kept:
                made = self._again(table, kept)
            if self.walked is not None:
                self.walked.append(made[2])
            if made[1] is not None and self.fabric.verbose:
                notes.append(made[1])
                return kept
            return self._notes(table, kept, notes)
        # LOCAL_OUT runs with no input device (__ip_local_out: nf_hook(..., NULL, dev)): there `-i` compares an
        # empty name (ipt_do_table's nulldevname), even in IPVS's re-sent packet; POST_ROUTING gets skb->dev
        # (ip_output: indev = skb->dev), the input device of a forwarded packet
        iif = None if hook == "OUTPUT" else st.iif
        ctx = Context(  # by position (Context's field order): one is made for every table a packet crosses
            st.packet, self, hook, iif, oif, st.mark, ct.mark if ct else 0, st.ctstate,
            "ORIGINAL" if st.direction == IP_CT_DIR_ORIGINAL else "REPLY",
            _CTSTATUS[(ct.dnat, ct.snat)] if ct else _CTSTATUS[(False, False)],
            (ct.orig[2], ct.orig[3]) if ct else None, self.choose, self.unknown, False, st.ipvs,
        )  # fmt: skip
        if type(found) is list:
            assert type(nf) is Evaluator
            v = self._walk(nf, table, chain, hook, st, oif, ctx, wkey, found)
        else:
            v = nf.run(table, chain, ctx)
        if self.watch is not None:
            self.watch(table, chain, v)
        if self.walked is not None:
            self.walked.append((table, v.steps))
        st.mark = ctx.mark
        if ct is not None:
            ct.mark = ctx.ctmark
        if key is not None:
            if len(self._verdicts) >= CACHE_MAX:
                self._verdicts.clear()
            self._verdicts[key] = (v, ctx.mark, ctx.ctmark)
        return self._notes(table, v, notes)

    def _walk(self, nf: Evaluator, table: str, chain: str, hook: str, st: Pass, oif: str | None, ctx: Context,
              wkey: tuple[object, ...], answers: list[bool]) -> Verdict:  # fmt: skip
        """A walk kept (or to keep) per flow class (``Walks.walk``), keyed again by ``_flow_key`` when it reads a
        field more (a method of its own: ``_table`` makes no closure, whose cells every call would pay for)."""
        return self.walks.walk(nf, table, chain, ctx, wkey, answers,
                               lambda mask: self._flow_key(table, chain, hook, st, oif, mask))  # fmt: skip

    @staticmethod
    def _flow_key(table: str, chain: str, hook: str, st: Pass, oif: str | None, mask: int) -> tuple[object, ...]:
        """Everything a walk of ``chain`` may read (Context's fields, made from these), the per-flow fields but
        those ``mask`` names (``hairpin.netfilter.evaluate.rule_reads`` bits) left out (-1)."""
        p, ct = st.packet, st.ct
        if ct is None:
            return (table, chain, hook, mask, p.src if mask & 1 else -1, p.sport if mask & 2 else -1,
                    p.dst if mask & 4 else -1, p.dport if mask & 8 else -1, p.flags, p.proto, st.iif, oif, st.mark,
                    st.ctstate, st.direction, st.ipvs, 0, False, False, -1, -1)  # fmt: skip
        return (table, chain, hook, mask, p.src if mask & 1 else -1, p.sport if mask & 2 else -1,
                p.dst if mask & 4 else -1, p.dport if mask & 8 else -1, p.flags, p.proto, st.iif, oif, st.mark,
                st.ctstate, st.direction, st.ipvs, ct.mark, ct.dnat, ct.snat, ct.orig[2] if mask & 16 else -1,
                ct.orig[3] if mask & 16 else -1)  # fmt: skip

    def _filter(self, st: Pass, hook: str, phase: str, oif: str | None, notes: list[str | Note]) -> bool:
        """nft filter chains on prerouting/output, on one side of DNAT (``phase``: ``PRE_DNAT`` or
        ""); False: dropped (and recorded)."""
        v = self._table("filter", hook + phase, st, hook, oif, notes)
        if v is not None and v.verdict != "ACCEPT":
            r = v.rule
            what = "policy" if r is None else f"nft {r.chain}: {r.source}" if r.table == "nft" else r.text
            if v.verdict == "REJECT":
                self._reject(st, notes, f"filter {hook}", v, f"filter {hook} ({what})")
            else:
                self._drop(st, notes, f"filter {hook} ({what})")
            return False
        return True

    def _notes(self, table: str, v: Verdict, notes: list[str | Note]) -> Verdict:
        fabric = self.fabric
        if not fabric.verbose or not v.steps:
            return v
        if fabric.lazy:
            notes.append(Note(rule_lines, table, v.steps))
        else:
            notes.extend(rule_lines(table, v.steps))
        return v

    def _again(self, table: str, v: Verdict) -> tuple[Verdict, Note | None, tuple[str, list[Step]]]:
        """What ``_table`` records of ``v`` each time a cache hands it out again, made the first time: ``v``
        (which keeps its id apart), its lazy Note (None: no note, or words made at once) and (table, steps)."""
        if len(self._again_of) >= CACHE_MAX:
            self._again_of.clear()
        fabric = self.fabric
        note = Note(rule_lines, table, v.steps) if fabric.lazy and fabric.verbose and v.steps else None
        made = self._again_of[id(v)] = (v, note, (table, v.steps))
        return made

    def _conntrack_in(self, st: Pass, notes: list[str | Note]) -> bool:
        """nf_conntrack_in: find or create the entry.  False: drop."""
        if self.nf is None:
            return True
        p = st.packet
        now = self.fabric.engine.now
        found = self.conntrack.lookup(p, now)
        if found is not None:
            entry, direction = found
            if p.proto == "tcp":
                res = self.conntrack.tcp_update(entry, direction, p.flags, now)
                if res == "reopen":
                    if self.fabric.verbose:
                        notes.append(
                            f"conntrack: SYN re-opens closed entry [{entry.describe()}]: entry destroyed, tracked anew"
                        )
                    self.conntrack.kill(entry)
                    found = None
            if found is not None:
                st.ct, st.direction = entry, direction
                st.ctstate = "ESTABLISHED" if entry.seen_reply or direction == IP_CT_DIR_REPLY else "NEW"
                return True
        if p.proto == "tcp":
            state = Conntrack.tcp_new_state(p.flags)
            if state is None:
                st.ctstate = "INVALID"
                notes.append(f"conntrack: {p.flags.label()} matches no entry: INVALID (not tracked, not NATed)")
                return True
        else:
            state = "UDP"
        entry = self.conntrack.new(p)
        entry.state = state
        st.ct, st.direction, st.ctstate, st.new = entry, IP_CT_DIR_ORIGINAL, "NEW", True
        return True

    # -- paths
    def receive(self, packet: Packet, iif: str) -> None:
        """A packet arrives on interface ``iif``."""
        notes: list[str | Note] = []
        st = Pass(packet, iif)
        if packet.dst > 0xFFFFFFFF and (why := receive_refusal(packet.src, packet.dst, iif)) is not None:
            notes.append(f"{why}: dropped before any hook")
            return self._drop(st, notes, "receive", kind="martian")
        live = self._live if self.nf is self._live_of else self._refresh()
        if ("raw", "PREROUTING") in live:
            v = self._table("raw", "PREROUTING", st, "PREROUTING", None, notes)
            if v is not None and v.verdict == "DROP":
                return self._drop(st, notes, "raw PREROUTING")
        self._conntrack_in(st, notes)
        if ("mangle", "PREROUTING") in live:
            v = self._table("mangle", "PREROUTING", st, "PREROUTING", None, notes)
            if v is not None and v.verdict == "DROP":
                return self._drop(st, notes, "mangle PREROUTING")
        if ("filter", "PREROUTING" + PRE_DNAT) in live and not self._filter(st, "PREROUTING", PRE_DNAT, None, notes):
            return None  # nft filter chains before DNAT (kube-proxy's firewall check, dstnat - 10)
        if not self._nat(st, "PREROUTING", "PREROUTING", "dst", None, None, notes):
            return self._drop(st, notes, "nat PREROUTING")
        if ("filter", "PREROUTING") in live and not self._filter(st, "PREROUTING", "", None, notes):
            return None  # nft filter chains after DNAT
        p = st.packet
        v6 = p.dst > 0xFFFFFFFF  # IPv6: no martian checks here (hairpin.ip6)
        loopback = "" if v6 else "destination" if (p.dst >> 24) == 127 else "source" if (p.src >> 24) == 127 else ""
        if loopback and iif != "lo":
            notes.append(f"martian {loopback} {ip_str(p.dst if loopback == 'destination' else p.src)} on {iif}: a "
                         "loopback address from outside lo (ip_route_input_slow; route_localnet=0): dropped")  # fmt: skip
            return self._drop(st, notes, "routing", kind="martian")
        if not v6 and self.routing.is_local(p.src) and not self.accept_local and (p.src >> 24) != 127:
            notes.append(
                f"martian source {ip_str(p.src)} on {iif}: the source is one of this host's own addresses "
                "(fib_validate_source; net.ipv4.conf.*.accept_local=0): dropped"
            )
            return self._drop(st, notes, "routing", kind="martian")
        r = self.routing.lookup(p.dst, p.src, iif, st.mark)
        verbose = self.fabric.verbose
        if r.type == "local":
            if verbose:
                notes.append(self._route_note(r, " (local delivery)"))
            return self._local_in(st, notes)
        if r.type != "unicast" or r.dev is None:
            notes.append(f"route: {r.describe()}")
            return self._drop(st, notes, "routing")
        if not self.ip_forward:
            notes.append("not a local address and ip_forward=0: dropped")
            return self._drop(st, notes, "routing")
        if v6 and (why := forward_refusal(p.src, r.dev == iif)) is not None:
            notes.append(f"{why}: dropped")
            return self._drop(st, notes, "routing")
        if verbose:
            notes.append(self._route_note(r, ""))
        if ("mangle", "FORWARD") in live:
            v = self._table("mangle", "FORWARD", st, "FORWARD", r.dev, notes)
            if v is not None and v.verdict != "ACCEPT":
                return self._drop(st, notes, "mangle FORWARD")
        if ("filter", "FORWARD") in live:
            v = self._table("filter", "FORWARD", st, "FORWARD", r.dev, notes)
            if v is not None and v.verdict != "ACCEPT":
                dropped = f"filter FORWARD ({v.rule.text if v.rule else 'policy'})"
                if v.verdict == "REJECT":
                    return self._reject(st, notes, "filter FORWARD", v, dropped)
                return self._drop(st, notes, dropped)
        if self.ipvs is not None:
            self._ipvs_reply(st, notes)
        self._postrouting(st, r, notes)

    def _local_in(self, st: Pass, notes: list[str | Note]) -> None:
        live = self._live if self.nf is self._live_of else self._refresh()
        for table, chain in (("mangle", "INPUT"), ("filter", "INPUT")):
            if (table, chain) not in live:
                continue
            v = self._table(table, chain, st, chain, None, notes)
            if v is not None and v.verdict == "REJECT":
                return self._reject(st, notes, f"{table} INPUT", v)
            if v is not None and v.verdict != "ACCEPT":
                return self._drop(st, notes, f"{table} INPUT")
        if self.ipvs is not None and not self._ipvs_reply(st, notes):
            conn = self._ipvs_request(st, notes)
            if conn is False:
                return self._drop(st, notes, "IPVS (no destination: ICMP port unreachable)")
            if conn is not None:
                r = self.routing.lookup(st.packet.dst, st.packet.src, None, st.mark)
                if r.type != "local":
                    return self._ipvs_send(st, r, notes)
        self._deliver(st, notes)

    def _deliver(self, st: Pass, notes: list[str | Note]) -> None:
        if not self._nat(st, "INPUT", "INPUT", "src", None, None, notes):
            return self._drop(st, notes, "nat INPUT")
        if st.ct is not None and not self.conntrack.confirm(st.ct, self.fabric.engine.now):
            notes.append("conntrack: confirm failed (clash): dropped")
            return self._drop(st, notes, "conntrack")
        what = self.tcp.receive(st.packet) if st.packet.proto == "tcp" else "no UDP socket"
        notes.append(f"TCP: {what}")
        self.fabric.record(self, self.label, st.packet, notes, "deliver")

    def output(self, packet: Packet, why: str = "", oif: str | None = None) -> None:
        """A packet this namespace's TCP sends; ``oif``: the device its socket is bound to (every route lookup
        keeps to it: ip6_route_me_harder takes the socket's bound device, as the first lookup did)."""
        notes: list[str | Note] = [why] if why else []
        st = Pass(packet, None)
        r = self.routing.lookup(packet.dst, packet.src, None, 0, oif)
        if r.type not in ("unicast", "local"):
            notes.append(f"route: {r.describe()}: EHOSTUNREACH")
            return self._drop(st, notes, "routing")
        live = self._live if self.nf is self._live_of else self._refresh()
        # a DROP in raw or mangle OUTPUT (or in mangle POSTROUTING) drops the packet as in every other table:
        # iptable_raw.c and iptable_mangle.c return ipt_do_table's verdict to the hook (nf_hook_slow)
        if ("raw", "OUTPUT") in live:
            v = self._table("raw", "OUTPUT", st, "OUTPUT", r.dev, notes)
            if v is not None and v.verdict != "ACCEPT":
                return self._drop(st, notes, "raw OUTPUT")
        self._conntrack_in(st, notes)
        marked = st.mark
        if ("mangle", "OUTPUT") in live:
            v = self._table("mangle", "OUTPUT", st, "OUTPUT", r.dev, notes)
            if v is not None and v.verdict != "ACCEPT":
                return self._drop(st, notes, "mangle OUTPUT")
        hooked = r.dev
        if st.mark != marked:  # ipt_mangle_out: "Reroute for ANY change", with the mark mangle left
            r = self.routing.lookup(st.packet.dst, st.packet.src, None, st.mark, oif)
        if ("filter", "OUTPUT" + PRE_DNAT) in live and not self._filter(st, "OUTPUT", PRE_DNAT, hooked, notes):
            return None  # nft filter chains before DNAT (kube-proxy's firewall check, dstnat - 10)
        before = st.packet.dst
        if not self._nat(st, "OUTPUT", "OUTPUT", "dst", hooked, r, notes):
            return self._drop(st, notes, "nat OUTPUT")
        if self.ipvs is not None and self._ipvs_request(st, notes) is False:  # ip_vs_local_request4
            return self._drop(st, notes, "IPVS (no destination)")
        # every LOCAL_OUT table runs with the output device of the route taken before the hook
        # (__ip_local_out: nf_hook(..., NULL, skb_dst(skb)->dev, ...), one nf_hook_state for the whole hook): a
        # reroute after mangle's mark or nat's DNAT (ip_route_me_harder) changes the device POSTROUTING sees,
        # not the `-o` of filter OUTPUT
        # re-routed when mangle OUTPUT changed the mark (iptable_mangle.c ipt_mangle_out: "Reroute for ANY
        # change"; a mark set in raw OUTPUT re-routes nothing), above, and when nat OUTPUT changed the destination
        # address, with the mark as it is then (nf_nat_proto.c nf_nat_ipv4_local_fn and nf_nat_ipv6_local_fn
        # compare the addresses only: a mark nat OUTPUT sets re-routes nothing by itself)
        if st.packet.dst != before:
            r = self.routing.lookup(st.packet.dst, st.packet.src, None, st.mark, oif)
        if ("filter", "OUTPUT") in live:
            v = self._table("filter", "OUTPUT", st, "OUTPUT", hooked, notes)
            if v is not None and v.verdict == "REJECT":
                return self._reject(st, notes, "filter OUTPUT", v)
            if v is not None and v.verdict != "ACCEPT":
                return self._drop(st, notes, "filter OUTPUT")
        if r.type == "local":
            notes.append(f"route: {r.describe()} (loopback)")
            return self._postrouting(st, r, notes, loopback=True)
        if self.fabric.verbose:
            notes.append(self._route_note(r, ""))
        self._postrouting(st, r, notes)

    def _postrouting(self, st: Pass, r: RouteResult, notes: list[str | Note], loopback: bool = False) -> None:
        """POSTROUTING out of ``r.dev``, or out of ``lo`` for a packet to one of the node's own addresses (ip_output
        runs the hook for every device, loopback too), then the wire or ``_loopback``."""
        dev = "lo" if loopback else r.dev
        assert dev is not None
        if ("mangle", "POSTROUTING") in (self._live if self.nf is self._live_of else self._refresh()):
            v = self._table("mangle", "POSTROUTING", st, "POSTROUTING", dev, notes)
            if v is not None and v.verdict != "ACCEPT":
                return self._drop(st, notes, "mangle POSTROUTING")
        if not self._nat(st, "POSTROUTING", "POSTROUTING", "src", dev, r, notes):
            return self._drop(st, notes, "nat POSTROUTING")
        if st.ct is not None and not self.conntrack.confirm(st.ct, self.fabric.engine.now):
            notes.append("conntrack: confirm failed (clash): dropped")
            return self._drop(st, notes, "conntrack")
        if st.ct is not None and st.new and self.fabric.verbose:
            note = Note(new_entry_lines, *ct_words(st.ct))
            notes.append(note if self.fabric.lazy else note.lines()[0])
        if loopback:
            return self._loopback(st, notes)
        self.fabric.transmit(self, dev, st.packet, notes)

    def _loopback(self, st: Pass, notes: list[str | Note]) -> None:
        """A packet the node sends itself comes back in on ``lo`` (loopback_xmit, ip_rcv): PREROUTING again, with
        the conntrack entry it carries (nf_conntrack_in: "Previously seen (loopback or untracked)? Ignore."; the
        state stays NEW), its output route kept (ip_rcv_finish looks nothing up: no martian check), nat PREROUTING
        not asked (the destination binding was made at OUTPUT), then INPUT."""
        self.fabric.record(self, f"{self.label} lo", st.packet, notes, "send")
        st.iif = "lo"
        back: list[str | Note] = []
        live = self._live if self.nf is self._live_of else self._refresh()
        for table in ("raw", "mangle"):
            if (table, "PREROUTING") in live:
                v = self._table(table, "PREROUTING", st, "PREROUTING", None, back)
                if v is not None and v.verdict != "ACCEPT":
                    return self._drop(st, back, f"{table} PREROUTING")
        if ("filter", "PREROUTING" + PRE_DNAT) in live and not self._filter(st, "PREROUTING", PRE_DNAT, None, back):
            return None
        if not self._nat(st, "PREROUTING", "PREROUTING", "dst", None, None, back):
            return self._drop(st, back, "nat PREROUTING")
        if ("filter", "PREROUTING") in live and not self._filter(st, "PREROUTING", "", None, back):
            return None
        self._local_in(st, back)

    def _route_note(self, r: RouteResult, suffix: str) -> str | Note:
        if not self.fabric.lazy:
            return Note(route_lines, r, suffix).lines()[0]
        if not self.caching:
            return Note(route_lines, r, suffix)
        # a lazy note per route decision (Routing.lookup keeps its answers: the same one comes again) and suffix
        made = self._route_notes.get((id(r), suffix))
        if made is None or made[0] is not r:
            if len(self._route_notes) >= CACHE_MAX:
                self._route_notes.clear()
            made = self._route_notes[(id(r), suffix)] = (r, Note(route_lines, r, suffix))
        return made[1]

    def _reject(self, st: Pass, notes: list[str | Note], where: str, v: Verdict, dropped: str = "") -> None:
        """A REJECT verdict in ``where``: the packet is dropped and the kernel answers its source (ipt_REJECT.c
        reject_tg: nf_send_unreach, nf_send_reset).  The simulator does not carry that answer (docs/model.md,
        "What is not modelled"); under the tracer, which follows it itself, the packet is recorded as dropped in
        ``dropped`` (else ``where``), as for a DROP."""
        if self.fabric.answers_rejects:
            return self._drop(st, notes, dropped or where)
        r = v.rule
        why = ""
        if r is not None:
            why = f" ({r.comment() or r.text})" if r.table != "nft" else f" (nft {r.chain}: {r.source})"
        try:
            words = reject_reply(r.target if r is not None and r.table != "nft" else None, is_v6(st.packet.src))
        except Unknown as exc:
            words = f"an answer hairpin does not model ({exc.why})"
        notes.append(f"rejected in {where} by REJECT{why}: {words} to {ip_str(st.packet.src)}")
        notes.append("REJECT's answer is not simulated further")  # (the tracer follows it: answers_rejects)
        self.fabric.record(self, self.label, st.packet, notes, "drop")

    def _drop(self, st: Pass, notes: list[str | Note], where: str, kind: str = "drop") -> None:
        notes.append(f"dropped in {where}")
        self.fabric.record(self, self.label, st.packet, notes, kind)

    def reset(self) -> None:
        self.conntrack.clear()
        self.tcp.reset()
        if self.ipvs is not None:
            self.ipvs.reset()


def with_payload(p: Packet, payload: bytes) -> Packet:
    return replace(p, payload=payload)


_ = tuple_of
