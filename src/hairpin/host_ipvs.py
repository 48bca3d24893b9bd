"""IPVS's hooks on a ``LinuxHost`` (kube-proxy's IPVS mode), at the kernel's priorities
(net/netfilter/ipvs/ip_vs_core.c ``ip_vs_ops4``):

    LOCAL_IN,  after filter INPUT, before nat INPUT: ip_vs_reply4 (a real server's reply to a local
               client: source := vaddr:vport), then ip_vs_remote_request4 (ip_vs_in: schedule, dest
               := real server, conntrack's reply tuple altered (net.ipv4.vs.conntrack=1, which
               kube-proxy sets), re-routed and sent through mangle/filter OUTPUT and POSTROUTING,
               where kube-proxy's mark 0x4000 gets it masqueraded)
    LOCAL_OUT, after nat OUTPUT: ip_vs_local_request4 (a local process to a virtual server)
    FORWARD,   after filter FORWARD: ip_vs_reply4 (ip_vs_out: a real server's reply to a remote
               client: source := vaddr:vport)

``LinuxHost`` calls these where its path crosses those hooks; the IPVS table itself is ``hairpin.ipvs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hairpin.conntrack import IP_CT_DIR_ORIGINAL
from hairpin.model.net import Flags

if TYPE_CHECKING:
    from hairpin.engine import Engine
    from hairpin.fabric import Fabric, Pass
    from hairpin.ipvs import Connection as IpvsConnection
    from hairpin.ipvs import IpvsTable
    from hairpin.netfilter.evaluate import Verdict
    from hairpin.notes import Note
    from hairpin.routing import RouteResult

__all__ = ["IpvsHooks"]


class IpvsHooks:
    """The IPVS half of ``LinuxHost``: what it needs of the host is declared here, the host gives it."""

    if TYPE_CHECKING:
        ipvs: IpvsTable | None
        fabric: Fabric

        @property
        def engine(self) -> Engine: ...

        def _table(self, table: str, chain: str, st: Pass, hook: str, oif: str | None,
                   notes: list[str | Note]) -> Verdict | None: ...  # fmt: skip

        def _drop(self, st: Pass, notes: list[str | Note], where: str, kind: str = "drop") -> None: ...

        def _route_note(self, r: RouteResult, suffix: str) -> str | Note: ...

        def _postrouting(self, st: Pass, r: RouteResult, notes: list[str | Note], loopback: bool = False) -> None: ...

    def _ipvs_request(self, st: Pass, notes: list[str | Note]) -> IpvsConnection | bool | None:
        """ip_vs_in: the connection the packet belongs to, with its destination rewritten to the real
        server and conntrack's reply tuple altered.  None: not IPVS's packet; False: a virtual server
        without destinations (dropped)."""
        assert self.ipvs is not None
        p = st.packet
        if p.proto not in ("tcp", "udp"):
            return None
        conn = self.ipvs.inbound(p.proto, p.src, p.sport, p.dst, p.dport, p.flags, self.engine.now)
        if conn is None:
            vs = self.ipvs.lookup(p.proto, p.dst, p.dport)
            return False if vs is not None and not vs.dests and p.flags & Flags.SYN else None
        st.packet = p.with_dst(*conn.dest)
        st.ipvs = True  # ip_vs_nat_send_or_cont: skb->ipvs_property = 1 (what -m ipvs looks at)
        ct = st.ct
        if ct is not None and not ct.confirmed and st.direction == IP_CT_DIR_ORIGINAL:
            ct.reply = (conn.dest[0], conn.dest[1], ct.reply[2], ct.reply[3], ct.reply[4])  # ip_vs_update_conntrack
        if self.fabric.verbose:
            notes.append(f"IPVS: {p.dest} -> {st.packet.dest} (masq, rr) [{conn.describe()}]")
        return conn

    def _ipvs_reply(self, st: Pass, notes: list[str | Note]) -> bool:
        """ip_vs_out: a real server's reply leaves with the virtual address as its source."""
        assert self.ipvs is not None
        p = st.packet
        if p.proto not in ("tcp", "udp"):
            return False
        conn = self.ipvs.outbound(p.proto, p.src, p.sport, p.dst, p.dport, p.flags, self.engine.now)
        if conn is None:
            return False
        st.packet = p.with_src(*conn.vaddr)
        st.ipvs = True  # handle_response: skb->ipvs_property = 1
        if self.fabric.verbose:
            notes.append(f"IPVS reply: {p.source} -> {st.packet.source} [{conn.describe()}]")
        return True

    def _ipvs_send(self, st: Pass, r: RouteResult, notes: list[str | Note]) -> None:
        """ip_vs_nat_xmit -> ip_vs_nat_send_or_cont: the rewritten packet goes out through LOCAL_OUT's
        mangle and filter (its nat decision is taken) and POSTROUTING."""
        if r.type != "unicast" or r.dev is None:
            notes.append(f"route: {r.describe()}")
            return self._drop(st, notes, "IPVS (no route to the real server)")
        v = self._table("mangle", "OUTPUT", st, "OUTPUT", r.dev, notes)
        if v is not None and v.verdict != "ACCEPT":
            return self._drop(st, notes, "mangle OUTPUT")
        v = self._table("filter", "OUTPUT", st, "OUTPUT", r.dev, notes)
        if v is not None and v.verdict != "ACCEPT":
            return self._drop(st, notes, "filter OUTPUT")
        if self.fabric.verbose:
            notes.append(self._route_note(r, ""))
        self._postrouting(st, r, notes)
