"""``-m ipvs`` (xt_ipvs) compiled into a predicate: IPVS's own mark on the packet and the IPVS connection it belongs
to (Linux net/netfilter/xt_ipvs.c ``ipvs_mt``; options as iptables' extensions/libxt_ipvs.c parses them).  Undecidable
on a host whose IPVS table is not known.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hairpin.model.net import ip_int
from hairpin.netfilter.matches import _PACKET_PROTO, PROTOCOLS, Pred, Undecidable, Unknown
from hairpin.netfilter.rules import Match
from hairpin.text import digits

if TYPE_CHECKING:
    from hairpin.netfilter.evaluate import Context

__all__ = ["ipvs_pred"]


#: ip_vs_core.c handles these protocols (``ip_vs_proto_get``); any other packet finds no IPVS connection
_IPVS_PROTOS = frozenset({"tcp", "udp", "sctp"})


def _ipvs_mask(text: str) -> tuple[int, int]:
    """``--vaddr A[/M]`` as (address, mask).  iptables 1.8.9 takes a prefix length or a dotted mask and
    loads a prefix above 32 as /32 (``iptables -v -A OUTPUT -m ipvs --vaddr 10.0.0.1/40`` prints
    ``vaddr 10.0.0.1``)."""
    addr, _, m = text.partition("/")
    if not m:
        return ip_int(addr), 0xFFFFFFFF
    if digits(m):
        bits = min(int(m), 32)
        return ip_int(addr), (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
    return ip_int(addr), ip_int(m)


def ipvs_pred(m: Match) -> Pred:
    """xt_ipvs (Linux net/netfilter/xt_ipvs.c ``ipvs_mt``; options as iptables' extensions/libxt_ipvs.c
    parses them, where every option but ``--ipvs`` implies ``--ipvs``):

    - ``[!] --ipvs`` alone: the packet carries ``skb->ipvs_property``, which IPVS sets on a packet it has
      forwarded (ip_vs_xmit.c ``ip_vs_nat_send_or_cont``: a request after its destination became the real
      server) or whose reply source it has restored (ip_vs_core.c ``handle_response``);
    - any other option: no match unless the packet carries that property; ``--vproto`` compares the
      *packet's* protocol; then the IPVS connection is looked up with the packet read as client -> real
      server (``conn_out_get`` on an inverted ``ip_vs_iphdr``: ``ip_vs_conn_out_get`` compares the packet's
      source with the connection's client and its destination with the real server), no match without
      one; ``--vport`` / ``--vaddr`` (masked) compare the connection's virtual port / address,
      ``--vmethod`` its forwarding method (kube-proxy's real servers are masquerading: MASQ),
      ``--vportctl`` its controlling connection (hairpin's never have one: matches only negated),
      ``--vdir`` the conntrack direction (an untracked packet does not match).
    """
    opts = {o.name: o for o in m.options}
    if set(opts) == {"--ipvs"}:
        want = not opts["--ipvs"].negated

        def prop(c: Context) -> bool:
            if getattr(c.host, "ipvs", None) is None:
                raise Undecidable("-m ipvs", "the node's IPVS table is not known (give its `ipvsadm -Sn` output)")
            return c.ipvs == want

        return prop
    checks: list[Callable[[Context, Any], bool]] = []
    proto_o = opts.get("--vproto")
    proto = -1
    if proto_o is not None:
        text = proto_o.value.lower()
        proto = PROTOCOLS.get(text, int(text) if digits(text) else -1)
    port_o, addr_o = opts.get("--vport"), opts.get("--vaddr")
    if port_o is not None:
        vport, neg_port = _ipvs_port(port_o.value), port_o.negated
        checks.append(lambda c, conn: (conn.vaddr[1] == vport) != neg_port)
    if (ctl := opts.get("--vportctl")) is not None:
        neg_ctl = ctl.negated
        checks.append(lambda c, conn: neg_ctl)  # cp->control is NULL: (false == vportctl) ^ !invert
    if (vdir := opts.get("--vdir")) is not None:
        want_reply = vdir.value.upper() == "REPLY"
        checks.append(lambda c, conn: c.ctstate != "UNTRACKED" and (c.ctdir == "REPLY") == want_reply)
    if (meth := opts.get("--vmethod")) is not None:
        masq, neg_meth = meth.value.upper() == "MASQ", meth.negated
        checks.append(lambda c, conn: masq != neg_meth)
    if addr_o is not None:
        vaddr, vmask = _ipvs_mask(addr_o.value)
        neg_addr = addr_o.negated
        checks.append(lambda c, conn: ((conn.vaddr[0] ^ vaddr) & vmask == 0) != neg_addr)
    neg_proto = proto_o.negated if proto_o is not None else False

    def pred(c: Context) -> bool:
        table: Any = getattr(c.host, "ipvs", None)
        if table is None:
            raise Undecidable("-m ipvs", "the node's IPVS table is not known (give its `ipvsadm -Sn` output)")
        if not c.ipvs:
            return False
        p = c.packet
        if proto_o is not None and (_PACKET_PROTO.get(p.proto, -1) == proto) == neg_proto:
            return False
        if p.proto not in _IPVS_PROTOS:
            return False
        conn = table.forwarded(p.proto, p.src, p.sport, p.dst, p.dport)
        if conn is None:
            return False
        return all(check(c, conn) for check in checks)

    return pred


def _ipvs_port(text: str) -> int:
    """``--vport`` / ``--vportctl``: a number or a service name (iptables resolves it with getservbyname)."""
    if digits(text):
        return int(text)
    try:
        return socket.getservbyname(text, "tcp")
    except OSError:
        raise Unknown("-m ipvs", f"port {text!r} is not a number or a known service") from None
