"""The nat table on a ``LinuxHost``: a new connection's binding, and the rewrite of later packets from its tuples.

A connection's first packet walks the nat chain of its hook; the binding the chain's target asks for
(DNAT, REDIRECT, SNAT, MASQUERADE) is written into the conntrack entry's reply tuple (nf_nat_setup_info), with
the entry's NAT status set only when the tuple changes (IPS_DST_NAT, IPS_SRC_NAT: ``--ctstate DNAT/SNAT``).
A source binding keeps the packet's port when no other connection's reply uses it and no ``--random``
option is given, else draws one from the range (nf_nat_l4proto_unique_tuple).  Later packets are rewritten
from the tuples alone (nf_nat_packet), in the directions the status asks for.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from hairpin.conntrack import IP_CT_DIR_ORIGINAL, IP_CT_DIR_REPLY
from hairpin.ip6 import redirect_address
from hairpin.model.net import is_v6
from hairpin.notes import Note, ct_nat_lines, ct_words, dnat_lines, snat_lines

if TYPE_CHECKING:
    from hairpin.conntrack import Conntrack, Entry
    from hairpin.engine import Engine
    from hairpin.fabric import Fabric, Pass
    from hairpin.model.net import Packet
    from hairpin.netfilter.evaluate import NatAction, Verdict
    from hairpin.routing import RouteResult, Routing

__all__ = ["PORT_MAX", "PORT_MIN", "NatHooks", "port_range"]

PORT_MIN, PORT_MAX = 1024, 65535


class NatHooks:
    """The nat half of ``LinuxHost``: what it needs of the host is declared here, the host gives it."""

    if TYPE_CHECKING:
        conntrack: Conntrack
        routing: Routing
        rng: random.Random
        fabric: Fabric

        @property
        def engine(self) -> Engine: ...

        def _table(self, table: str, chain: str, st: Pass, hook: str, oif: str | None,
                   notes: list[str | Note]) -> Verdict | None: ...  # fmt: skip

    def _manip(self, st: Pass, manip: str) -> None:
        """Rewrite from the conntrack tuples (nf_nat_packet) for an already-decided NAT."""
        ct = st.ct
        if ct is None:
            return
        p = st.packet
        original = st.direction == IP_CT_DIR_ORIGINAL
        if manip == "dst" and not (ct.dnat if original else ct.snat):
            return
        if manip == "src" and not (ct.snat if original else ct.dnat):
            return
        other = ct.reply if original else ct.orig
        if manip == "dst":
            if (p.dst, p.dport) != (other[0], other[1]):
                st.packet = p.with_dst(other[0], other[1])
        elif (p.src, p.sport) != (other[2], other[3]):
            st.packet = p.with_src(other[2], other[3])

    def _nat(self, st: Pass, hook: str, chain: str, manip: str, oif: str | None, route: RouteResult | None,
             notes: list[str | Note]) -> bool:  # fmt: skip
        """The nat table for a new connection, else tuple-based rewrite.  False: drop."""
        ct = st.ct
        if ct is None:
            return True
        if manip in ct.nat_done:
            before = st.packet
            self._manip(st, manip)
            if st.packet != before and self.fabric.verbose:
                what = "de-NAT" if st.direction == IP_CT_DIR_REPLY else "NAT"
                note = Note(ct_nat_lines, what, manip, before, st.packet, *ct_words(ct))
                notes.append(note if self.fabric.lazy else note.lines()[0])
            return True
        ct.nat_done.add(manip)
        v = self._table("nat", chain, st, hook, oif, notes)
        if v is None or v.nat is None:
            return not (v is not None and v.verdict == "DROP")
        return self._bind(st, v.nat, hook, oif, route, notes)

    def _bind(self, st: Pass, nat: NatAction, hook: str, oif: str | None, route: RouteResult | None,
              notes: list[str | Note]) -> bool:  # fmt: skip
        ct = st.ct
        assert ct is not None
        p = st.packet
        now = self.engine.now
        if nat.manip == "dst":
            daddr = nat.addr if nat.addr is not None else (route.src if route and route.src else p.dst)
            if nat.kind == "REDIRECT":  # loopback in OUTPUT, else the input device's address (hairpin.ip6)
                where = [] if st.iif is None else self.routing.addresses.get(st.iif, [])
                to = redirect_address(hook, p.dst, where)
                if to is None:
                    notes.append(f"REDIRECT: {st.iif} has no address to redirect to: drop (nf_nat_redirect)")
                    return False
                daddr = to
            port = nat.port if nat.port is not None else p.dport
            ct.reply = (daddr, port, ct.reply[2], ct.reply[3], ct.reply[4])
            # nf_nat_setup_info sets IPS_DST_NAT (--ctstate DNAT) only when the tuple changes
            ct.dnat = ct.dnat or (daddr, port) != (p.dst, p.dport)
            st.packet = p.with_dst(daddr, port)
            if self.fabric.verbose:
                note = Note(dnat_lines, nat.kind, p.dst, p.dport, daddr, port)
                notes.append(note if self.fabric.lazy else note.lines()[0])
            return True
        addr = nat.addr
        if addr is None:  # MASQUERADE: the output device's address toward the next hop (IPv4: nf_nat_masquerade_ipv4,
            # inet_select_addr), toward the destination (IPv6: nf_nat_masquerade_ipv6, ipv6_dev_get_saddr)
            gw = route.gateway if route and route.gateway is not None and not is_v6(p.dst) else p.dst
            addr = self.routing.select_source(oif, gw, universe=True)
            if addr is None:
                notes.append("MASQUERADE: no address to use: drop")
                return False
        sport = self._pick_port(ct, addr, p, nat, now)
        if sport is None:
            notes.append(f"{nat.kind}: no free port: drop")
            return False
        ct.reply = (ct.reply[0], ct.reply[1], addr, sport, ct.reply[4])
        ct.snat = ct.snat or (addr, sport) != (p.src, p.sport)  # IPS_SRC_NAT: likewise
        st.packet = p.with_src(addr, sport)
        if self.fabric.verbose:
            lo, hi = port_range(p, nat)
            drawn = (lo, hi) if sport != p.sport and lo < hi and not nat.random_fully else None
            note = Note(snat_lines, nat.kind, nat.random_fully, p.src, p.sport, addr, sport, drawn)
            notes.append(note if self.fabric.lazy else note.lines()[0])
        return True

    def _pick_port(self, ct: Entry, addr: int, p: Packet, nat: NatAction, now: float) -> int | None:
        lo, hi = port_range(p, nat)
        r0, r1, r4 = ct.reply[0], ct.reply[1], ct.reply[4]
        in_use = self.conntrack.reply_in_use
        kept = not (nat.random_fully or nat.random) and lo <= p.sport <= hi
        if kept and not in_use((r0, r1, addr, p.sport, r4), now):
            return p.sport
        span = hi - lo + 1
        start = self.rng.randrange(span)
        for k in range(min(span, 4096)):
            port = lo + (start + k) % span
            if not in_use((r0, r1, addr, port, r4), now):
                return port
        return None


def port_range(p: Packet, nat: NatAction) -> tuple[int, int]:
    """The source ports a SNAT/MASQUERADE may give ``p``: the rule's range, else 1024-65535 for a source
    port >= 1024 and 1-1023 below (nf_nat_l4proto_unique_tuple's default ranges)."""
    lo, hi = nat.port_range or ((PORT_MIN, PORT_MAX) if p.sport >= PORT_MIN else (1, 1023))
    if nat.port is not None and nat.port_range is None:
        lo = hi = nat.port
    return lo, hi
