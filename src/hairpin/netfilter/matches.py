"""What each iptables match means, compiled into predicates over a ``Context``.

``compile_match(match, rule, env)`` returns two predicate lists: ``sure`` ones that always decide, and
``late`` ones that may raise ``Undecidable`` at run time (a ``-m owner`` on a locally generated packet,
a ``-m socket``, a ``-m recent --rcheck``: facts that live in the node's sockets or kernel lists, not in
its dumped state).  A match hairpin does not know raises ``Unknown`` at compile time; the evaluator turns
both into a call to the tracer's ``unknown`` callback (the simulator assumes "does not match").

Semantics follow the kernel's ``net/netfilter/xt_*.c`` and ``net/ipv4/netfilter/ipt_*.c``:
- ``statistic``: ``--mode random``: matches when ``(get_random_u32() & 0x7FFFFFFF) < P`` with
  ``P = lround(0x80000000 * probability)`` (libxt_statistic.c, xt_statistic.c); ``--mode nth``: a per-rule
  counter, so the rule takes 1 packet in ``--every`` (asked of ``choose(1/every)``).
- ``physdev``: hairpin's packets are never bridged; xt_physdev's "not a bridged packet" branch matches
  only when every option given is negated.
- ``rpfilter``: ipt_rpfilter.c: a FIB lookup of the source (iif loopback, source = the destination,
  the packet mark with ``--validmark``) must give a unicast route out of the input device (any device with
  ``--loose``; a local route is accepted with ``--accept-local``); loopback packets always pass.
- ``policy``: hairpin has no IPsec: ``--pol none`` matches, ``--pol ipsec`` does not.
- ``owner``: xt_owner.c: a packet with no socket (forwarded) matches only if every option is negated.
- ``set``: ipset membership from ``ipset save`` content (``hairpin.parsers.ipset``); undecidable without it.
- ``ipvs``: ``hairpin.netfilter.ipvs_match`` (net/netfilter/xt_ipvs.c ``ipvs_mt``): IPVS's own mark on the packet and the IPVS
  connection it belongs to; undecidable on a host whose IPVS table is not known.
- ip6tables' rules on IPv6 packets (``compile_match(..., family=6)``): networks, ``addrtype``, ip6tables' own matches
  as ``hairpin.netfilter.matches6`` says; ``-p icmp`` is protocol 1, ``-p ipv6-icmp`` 58 (an IPv6 packet hairpin
  calls "icmp"); ``-m set`` (ipset's inet6 sets) and ``-m rpfilter`` (ip6t_rpfilter) are undecidable.
"""

from __future__ import annotations

import ipaddress
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hairpin.model.net import V6, addr_int, is_v6
from hairpin.netfilter import matches6
from hairpin.netfilter.rules import Match, Option, Rule
from hairpin.text import digits

if TYPE_CHECKING:
    from hairpin.netfilter.evaluate import Context
    from hairpin.parsers.ipset import IpSet

__all__ = ["PROTOCOLS", "Pred", "Undecidable", "Unknown", "compile_match", "keep_recent_lists", "net", "ports"]

Pred = Callable[["Context"], bool]


class Unknown(Exception):
    """A match or target hairpin does not model: ``name`` (``-m foo``) and a longer ``why``."""

    def __init__(self, name: str, why: str = "") -> None:
        super().__init__(name)
        self.name = name
        self.why = why or f"{name} is not modelled"


class Undecidable(Exception):
    """Raised by a predicate when the answer depends on state the node's dump does not hold."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(name)
        self.name = name
        self.why = why


#: protocol names iptables-save prints (from /etc/protocols) and numbers -> IP protocol number
PROTOCOLS = {"all": 0, "icmp": 1, "igmp": 2, "ipencap": 4, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17, "gre": 47,
             "esp": 50, "ah": 51, "ospf": 89, "pim": 103, "vrrp": 112, "l2tp": 115, "sctp": 132,
             "udplite": 136, "mh": 135, "icmpv6": 58, "ipv6-icmp": 58, "ipv6-mh": 135, "hopopt": 0, "ipv6": 41,
             "ipv6-route": 43, "ipv6-frag": 44, "ipv6-nonxt": 59, "ipv6-opts": 60}  # fmt: skip
_PACKET_PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "sctp": 132}


def net(text: str) -> tuple[int, int]:
    """(network, mask) of an IPv4 network, or an IPv6 one in the tagged form (``matches6.net6``)."""
    if ":" in text:
        return matches6.net6(text)
    n = ipaddress.IPv4Network(text, strict=False)
    return int(n.network_address), int(n.netmask)


def mark(value: str) -> tuple[int, int]:
    v, _, m = value.partition("/")
    return int(v, 0), int(m, 0) if m else 0xFFFFFFFF


def ports(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        out.append((int(a) if a else 0, int(b) if b else (int(a) if a else 65535)))
    return out


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
    """xt_addrtype.c ``match_type``: inet_dev_addr_type, a lookup in the local table (a local or broadcast
    route there; none: UNICAST), restricted to ``iface``'s routes with ``--limit-iface-in/out``; IPv6:
    ``matches6.addr_type6``."""
    if addr > 0xFFFFFFFF:
        try:
            return matches6.addr_type6(c, addr, types, iface)
        except matches6.Undecided as e:
            raise Undecidable("-m addrtype", str(e)) from None
    if addr == 0xFFFFFFFF:
        kind = "BROADCAST"
    elif (addr >> 28) == 0xE:
        kind = "MULTICAST"
    elif c.host.is_local(addr, iface):
        kind = "LOCAL"
    elif (is_broadcast := getattr(c.host, "is_broadcast", None)) is not None and is_broadcast(addr, iface):
        kind = "BROADCAST"
    else:
        kind = "UNICAST"
    return kind in types


def _builtin(o: Option) -> Pred:
    n, neg = o.name, o.negated
    if n in ("-s", "-d"):
        nt, mask = net(o.value)
        if n == "-s":
            return _neg(lambda c: (c.packet.src & mask) == nt, neg)
        return _neg(lambda c: (c.packet.dst & mask) == nt, neg)
    if n == "-p":
        text = o.value.lower()
        number = PROTOCOLS.get(text, int(text) if digits(text) else -1)
        if number < 0:
            raise Unknown(f"-p {o.value}", f"protocol {o.value!r} is not known")
        if number == 0:
            return _neg(lambda c: True, neg)
        if number in (1, 58):  # hairpin names ICMPv6 "icmp" too: an IPv6 packet's is 58 (ip6_packet_match)
            return _neg(lambda c: _PACKET_PROTO.get(c.packet.proto, -1) + 57 * (c.packet.proto == "icmp"
                                                                                and is_v6(c.packet.dst)) == number, neg)
        return _neg(lambda c: _PACKET_PROTO.get(c.packet.proto, -1) == number, neg)
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
    raise Unknown(n)


def _l4(module: str, o: Option) -> Pred:
    n, neg = o.name, o.negated
    if n in ("--dport", "--destination-port", "--sport", "--source-port"):
        ((lo, hi),) = ports(o.value)
        if n in ("--dport", "--destination-port"):
            return _neg(lambda c: c.packet.proto == module and lo <= c.packet.dport <= hi, neg)
        return _neg(lambda c: c.packet.proto == module and lo <= c.packet.sport <= hi, neg)
    if module == "tcp" and n == "--tcp-flags" and len(o.values) == 2:
        fmask, comp = _flags(o.values[0]), _flags(o.values[1])
        return _neg(lambda c: c.packet.proto == "tcp" and (int(c.packet.flags) & fmask) == comp, neg)
    if module == "tcp" and n == "--syn":
        return _neg(lambda c: c.packet.proto == "tcp" and (int(c.packet.flags) & 0x17) == 0x02, neg)
    raise Unknown(f"-m {module} {n}")


def has_ct(c: Context) -> bool:
    """Whether the packet has a conntrack entry: the kernel's ``nf_ct_get`` is NULL for a packet not yet seen
    by conntrack (the raw table), one it found INVALID, or one made untracked; hairpin says so by the state."""
    return c.ctstate not in ("INVALID", "UNTRACKED")


def _conntrack(module: str, o: Option, with_state: bool = False) -> Pred:
    """One option of ``-m conntrack`` (or ``-m state``).  Without an entry, xt_conntrack.c ``conntrack_mt``
    decides the state option alone (INVALID, UNTRACKED) and then returns whether one was given: every other
    option, negated or not, then matches only beside a ``--ctstate`` (``with_state``)."""
    n, neg = o.name, o.negated
    if n not in ("--ctstate", "--state") and module == "conntrack":
        pred = _conntrack_entry(o)
        return lambda c: pred(c) if has_ct(c) else with_state
    if n in ("--ctstate", "--state"):
        states = set(o.value.split(","))

        def ctstate(c: Context) -> bool:
            if c.ctstate in states:
                return True
            if "DNAT" in states and "DNAT" in c.ctstatus:
                return True
            return "SNAT" in states and "SNAT" in c.ctstatus

        return _neg(ctstate, neg)
    raise Unknown(f"-m state {n}")


def _conntrack_entry(o: Option) -> Pred:
    """A ``-m conntrack`` option read from the entry (asked only when the packet has one)."""
    n, neg = o.name, o.negated
    if n == "--ctdir":
        want = o.value.upper()
        return _neg(lambda c: c.ctdir == want, neg)
    if n == "--ctstatus":
        want_s = set(o.value.split(","))
        return _neg(lambda c: bool(want_s & c.ctstatus), neg)
    if n == "--ctorigdst":
        nt, mask = net(o.value)
        return _neg(lambda c: c.ct_orig_dst is not None and (c.ct_orig_dst[0] & mask) == nt, neg)
    if n == "--ctorigdstport":
        ((lo, hi),) = ports(o.value)
        return _neg(lambda c: c.ct_orig_dst is not None and lo <= c.ct_orig_dst[1] <= hi, neg)
    if n == "--ctproto":
        text = o.value.lower()
        number = PROTOCOLS.get(text, int(text) if digits(text) else -1)
        return _neg(lambda c: _PACKET_PROTO.get(c.packet.proto, -1) == number, neg)
    raise Unknown(f"-m conntrack {n}", f"-m conntrack {n} needs the conntrack entry's tuples")


def _undecidable(name: str, why: str) -> Pred:
    def pred(c: Context) -> bool:
        raise Undecidable(name, why)

    return pred


def _port_in(ranges: list[tuple[int, int]], *, dport: bool, sport: bool) -> Pred:
    def pred(c: Context) -> bool:
        p = c.packet
        return any((dport and a <= p.dport <= b) or (sport and a <= p.sport <= b) for a, b in ranges)

    return pred


def _marked(value: int, mask: int, *, conn: bool, negated: bool = False) -> Pred:
    if conn:
        # xt_connmark.c connmark_mt: no entry, no match, negated or not
        return lambda c: has_ct(c) and ((c.ctmark & mask) == value) != negated
    return lambda c: (c.mark & mask) == value


def _addr_between(lo: int, hi: int, *, src: bool) -> Pred:
    if src:
        return lambda c: lo <= c.packet.src <= hi
    return lambda c: lo <= c.packet.dst <= hi


def _const(value: bool) -> Pred:
    return lambda c: value


def compile_match(m: Match, rule: Rule, ipsets: Mapping[str, IpSet] | None,
                  family: int = 4) -> tuple[list[Pred], list[Pred]]:  # fmt: skip
    """(sure predicates, late predicates) for one ``-m`` module (or one built-in option) of a rule of iptables
    (``family`` 4) or ip6tables (6: its own matches are ``matches6``'s)."""
    mod = m.module
    if family == 6 and mod in matches6.MATCHES6:
        return _compile6(m)
    if mod == "":
        return [_builtin(o) for o in m.options], []
    if mod in ("tcp", "udp", "sctp"):
        return [_l4(mod, o) for o in m.options], []
    if mod == "comment":
        return [], []
    if mod == "multiport":
        preds: list[Pred] = []
        for o in m.options:
            rng = ports(o.value)
            if o.name in ("--dports", "--destination-ports"):
                preds.append(_neg(_port_in(rng, dport=True, sport=False), o.negated))
            elif o.name in ("--sports", "--source-ports"):
                preds.append(_neg(_port_in(rng, dport=False, sport=True), o.negated))
            elif o.name == "--ports":
                preds.append(_neg(_port_in(rng, dport=True, sport=True), o.negated))
            else:
                raise Unknown(f"-m multiport {o.name}")
        return preds, []
    if mod in ("mark", "connmark"):
        preds = []
        for o in m.options:
            if o.name != "--mark":
                raise Unknown(f"-m {mod} {o.name}")
            v, mk = mark(o.value)
            if mod == "mark":
                preds.append(_neg(_marked(v, mk, conn=False), o.negated))
            else:
                preds.append(_marked(v, mk, conn=True, negated=o.negated))
        return preds, []
    if mod in ("conntrack", "state"):
        state = any(o.name in ("--ctstate", "--state") for o in m.options)
        return [_conntrack(mod, o, state) for o in m.options], []
    if mod == "iprange":
        preds = []
        for o in m.options:
            a, _, b = o.value.partition("-")
            lo, hi = addr_int(a), addr_int(b or a)  # IPv6: tagged, so no IPv4 packet is between them
            if o.name == "--src-range":
                preds.append(_neg(_addr_between(lo, hi, src=True), o.negated))
            elif o.name == "--dst-range":
                preds.append(_neg(_addr_between(lo, hi, src=False), o.negated))
            else:
                raise Unknown(f"-m iprange {o.name}")
        return preds, []
    if mod == "pkttype":
        o = m.options[0]
        want = o.value.lower()

        def pkttype(c: Context) -> bool:
            d = c.packet.dst
            # xt_pkttype.c reads skb->pkt_type: a packet this host sends is PACKET_HOST ("unicast") whatever its
            # destination, in both families (measured: tests/test_ip6tables_kernel_lab.py, and for IPv4 a datagram
            # to 224.0.0.9 in tests/test_trace_kernel_cases.py); a received one to ff00::/8 or 224.0.0.0/4 came in
            # a multicast frame (33:33:..., RFC 2464 7; 01:00:5e:..., RFC 1112 6.4); to 255.255.255.255 in a
            # broadcast one; IPv6 has no broadcast
            kind = ("unicast" if c.iif is None else
                    "multicast" if ((d ^ V6) >> 120 == 0xFF if d > 0xFFFFFFFF else d >> 28 == 0xE)
                    else "broadcast" if d == 0xFFFFFFFF else "unicast")  # fmt: skip
            return kind == want

        return [_neg(pkttype, o.negated)], []
    if mod == "addrtype":  # an IPv6 ANYCAST or UNREACHABLE may be undecidable: asked late
        routed = any(t in ("ANYCAST", "UNREACHABLE") for o in m.options for t in o.value.split(","))
        return ([], _addrtype(m)) if routed else (_addrtype(m), [])
    if mod == "statistic":
        return [_statistic(m, rule)], []
    if mod == "physdev":
        # not bridged: each option matches only when negated (xt_physdev.c, !nf_bridge_info_exists)
        return [_neg(lambda c: False, o.negated) for o in m.options], []
    if mod == "policy":
        pol = m.get("--pol")
        if pol is None:
            raise Unknown("-m policy", "-m policy without --pol")
        return [_neg(_const(pol.value == "none"), pol.negated)], []
    if mod in ("tos", "dscp"):
        preds = []
        for o in m.options:
            if o.name == "--tos":
                v, mk = mark(o.value) if "/" in o.value else (int(o.value, 0), 0xFF)
                preds.append(_neg(_const((0 & mk) == v), o.negated))
            elif o.name == "--dscp":
                preds.append(_neg(_const(int(o.value, 0) == 0), o.negated))
            else:
                raise Unknown(f"-m {mod} {o.name}")
        return preds, []  # hairpin's packets carry TOS 0
    if mod == "helper":
        o = m.options[0]
        return [_neg(lambda c: False, o.negated)], []  # no conntrack helper is assigned (nf_conntrack_helper=0)
    if mod == "icmp":
        # sure predicates run first, so the late one is only asked of ICMP packets
        return [lambda c: c.packet.proto == "icmp"], [_undecidable("-m icmp", "hairpin's packets carry no ICMP type")]
    if mod == "rpfilter":
        return [], [_rpfilter(m)]
    if mod == "owner":
        every_negated = all(o.negated for o in m.options if o.name != "--suppl-groups")

        def owner(c: Context) -> bool:
            if c.iif is not None:
                return every_negated  # no local socket: xt_owner matches iff every option is inverted
            raise Undecidable("-m owner", "the sending socket's owner is not in the node's dump")

        return [], [owner]
    if mod == "set":
        return [], _set(m, ipsets)
    if mod == "recent":
        return [], [_recent(m)]
    if mod == "socket":
        raise Unknown("-m socket", "whether a local socket owns the packet is not in the node's dump")
    if mod == "nfacct":
        return [], []
    if mod == "ipvs":
        from hairpin.netfilter.ipvs_match import ipvs_pred  # it reads this module's names

        return [], [ipvs_pred(m)]
    raise Unknown(f"-m {mod}")


def _compile6(m: Match) -> tuple[list[Pred], list[Pred]]:
    """ip6tables' own matches (``matches6``): ``icmp6`` (needs ``-p ipv6-icmp``) undecidable, the extension-header
    matches false, ``ipv6header`` constant, ``hl`` and ``eui64`` not modelled."""
    mod = m.module
    if mod == "icmp6":
        return [lambda c: c.packet.proto == "icmp"], [_undecidable("-m icmp6", "hairpin's packets carry no ICMPv6 type")]
    if mod in matches6.EXT_HEADER_MATCHES:  # ipv6_find_hdr finds no such header: no match (ip6t_frag.c...)
        return [_const(False)], []
    if mod == "ipv6header":
        return [_const(matches6.ipv6header(m))], []
    raise Unknown(f"-m {mod}", f"-m {mod}: the packet's {'hop limit' if mod == 'hl' else 'source MAC'} is not modelled"
                  if mod in ("hl", "eui64") else "")  # fmt: skip


#: xt_recent lists (name -> address -> last seen, simulated seconds) of the hosts whose lists hairpin
#: keeps: the simulator's, which start empty with the node (``keep_recent_lists``).  A tracer of a real
#: node does not know its /proc/net/xt_recent, so there a check is undecidable.
_RECENT: weakref.WeakKeyDictionary[Any, dict[str, dict[int, float]]] = weakref.WeakKeyDictionary()


def keep_recent_lists(host: Any) -> None:
    """Keep xt_recent lists for ``host`` (a simulated node: its lists start empty)."""
    _RECENT.setdefault(host, {})


def _recent(m: Match) -> Pred:
    """xt_recent.c: ``--set`` records the address and matches; ``--rcheck`` / ``--update`` match when
    the address was seen within ``--seconds`` (``--update`` refreshes it, ``--reap`` drops older
    entries); ``--rsource`` (default) keys on the source, ``--rdest`` on the destination."""
    opt = m.get("--name")
    name = opt.value if opt else "DEFAULT"
    setting = m.get("--set") is not None
    update = m.get("--update") is not None
    sec = m.get("--seconds")
    seconds = int(sec.value) if sec else None
    reap = m.get("--reap") is not None
    rdest = m.get("--rdest") is not None

    def pred(c: Context) -> bool:
        lists = _RECENT.get(c.host)
        if lists is None:
            if setting:
                return True  # --set matches; the list it feeds is not known here
            raise Undecidable("-m recent", f"-m recent list {name} is kernel state (/proc/net/xt_recent) "
                                           "the dump does not hold")  # fmt: skip
        entries = lists.setdefault(name, {})
        host: Any = c.host  # a simulated node (LinuxHost): its engine is the clock
        now = float(host.engine.now)
        addr = c.packet.dst if rdest else c.packet.src
        if setting:
            entries[addr] = now
            return True
        if reap and seconds is not None:
            for a in [a for a, t in entries.items() if now - t > seconds]:
                del entries[a]
        seen = entries.get(addr)
        ok = seen is not None and (seconds is None or now - seen <= seconds)
        if ok and update:
            entries[addr] = now
        return ok

    return pred


def _addrtype(m: Match) -> list[Pred]:
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


def _statistic(m: Match, rule: Rule) -> Pred:
    mode = m.get("--mode")
    if mode is not None and mode.value == "random":
        prob_opt = m.get("--probability")
        p = float(prob_opt.value) if prob_opt else 0.0
        negated = bool(prob_opt and prob_opt.negated)
        return _neg(lambda c: c.choose(p, rule), negated)
    if mode is not None and mode.value == "nth":
        every_o = m.get("--every")
        every = int(every_o.value) if every_o else 1
        negated = bool(every_o and every_o.negated)
        # a per-rule counter: one packet in `every` reaching the rule matches (xt_statistic.c)
        return _neg(lambda c: c.choose(1.0 / every, rule), negated)
    raise Unknown("-m statistic", f"-m statistic --mode {mode.value if mode else '?'} is not known")


def _rpfilter(m: Match) -> Pred:
    names = {o.name for o in m.options}
    invert = "--invert" in names
    loose, validmark, accept_local = "--loose" in names, "--validmark" in names, "--accept-local" in names

    def rpfilter(c: Context) -> bool:
        if c.iif == "lo" or c.iif is None:
            return not invert
        if is_v6(c.packet.src):
            raise Undecidable("-m rpfilter", "ip6t_rpfilter's reverse route lookup is not modelled")
        routing: Any = getattr(c.host, "routing", None)
        if routing is None:
            raise Undecidable("-m rpfilter", "the host's routes are not known")
        p = c.packet
        saddr = p.dst if not (p.dst >> 28 == 0xE or p.dst == 0xFFFFFFFF or p.dst >> 24 == 0) else 0
        r = routing.lookup(p.src, saddr, None, c.mark if validmark else 0)
        ok = (loose or r.dev == c.iif) if r.type == "unicast" else (r.type == "local" and accept_local)
        return ok != invert

    return rpfilter


def _set(m: Match, ipsets: Mapping[str, IpSet] | None) -> list[Pred]:
    out: list[Pred] = []
    for o in m.options:
        if o.name != "--match-set":
            continue  # --return-nomatch, counters: no effect on a single packet's match
        if len(o.values) != 2:
            raise Unknown("-m set", "--match-set needs a set name and src/dst flags")
        name, dirs = o.values[0], o.values[1].split(",")
        if ipsets is None:
            raise Unknown("-m set", f"set {name}: no ipset content (give --ipset FILE from `ipset save`)")
        s = ipsets.get(name)
        if s is None:
            raise Unknown("-m set", f"set {name} is not in the ipset file")
        if not s.supported:
            raise Unknown("-m set", f"set {name}: type {s.type} is not modelled")

        def member(c: Context, s: IpSet = s, dirs: list[str] = dirs) -> bool:
            family = 6 if is_v6(c.packet.dst) else 4
            if s.family not in (0, family):  # iptables-restore refuses it (libxt_set: "The protocol family of
                # set ... is not applicable"): the ipset file is not this dump's (as a list:set's member the kernel
                # counts it as no match: ip_set_core.c ip_set_test)
                raise Undecidable("-m set", f"set {s.name} is an IPv{s.family} set (ipset family "
                                  f"{'inet6' if s.family == 6 else 'inet'}): {'ip6tables' if family == 6 else 'iptables'} "
                                  "refuses such a rule, so the ipset file is not this rules' (libxt_set)")  # fmt: skip
            if family == 6:
                raise Undecidable("-m set", f"set {s.name}: IPv6 sets (ipset family inet6) are not modelled")
            return s.test(c.packet, dirs)

        out.append(_neg(member, o.negated))
    return out
