"""Linux routing: policy rules over routing tables, longest-prefix match, the local table (IPv4, and IPv6 in
a ``Routing(family=6)``).

``Routing.lookup`` follows fib_lookup: rules in priority order (0 ``from all lookup local``, the
scenario's rules such as the VPC CNI's 512/1024/1536, 32766 ``lookup main``, 32767 ``lookup default``),
the first table that has a matching route decides.  Within a table the longest prefix wins.  The local
table holds the host's own addresses (type local).  ``select_source`` is inet_select_addr: the primary
address of the output device in the next hop's subnet, else the device's first address, else (a device
with no address, such as the VPC CNI's host-side veths) the first address of another device.

IPv6 (``family=6``; addresses are the tagged ints of ``hairpin.model.net``) follows net/ipv6: the default rules
are only ``0: from all lookup local`` and ``32766: from all lookup main`` (net/ipv6/fib6_rules.c
fib6_default_rules_init; ``ip -6 rule`` on a fresh namespace lists just these two); within a table the longest
prefix wins, then the lowest metric, then the higher router preference (``pref high|medium|low``:
rt6_score_route in net/ipv6/route.c); a ``local`` or ``anycast`` route delivers locally (ip6_rt_init_dst gives
both ``ip6_input``, and ip6_rt_get_dev_rcu the loopback device); there is no broadcast.  Addresses add their
routes as net/ipv6/addrconf.c does (see ``add_address``), and the source address is chosen by
``hairpin.routing6.select_source`` (ipv6_dev_get_saddr) unless the route names one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from hairpin import routing6
from hairpin.errors import ModelError
from hairpin.model.net import V6, ip_int, ip_str, is_loopback, is_v6, mask_of, net_of

__all__ = ["RouteEntry", "RouteResult", "Routing", "RuleEntry"]

LOCAL_TABLE = 255
MAIN_TABLE = 254
DEFAULT_TABLE = 253
TABLE_NAMES = {255: "local", 254: "main", 253: "default"}
_PREF_RANK = {"low": 1, "medium": 2, "high": 3}  # include/net/ip6_route.h IPV6_DECODE_PREF order


def need_strict(dst: int) -> bool:
    """rt6_need_strict (include/net/ip6_route.h): a multicast, link-local or loopback destination."""
    v = dst & (V6 - 1)
    return v >> 120 == 0xFF or v >> 118 == 0x3FA or v == 1


def table_name(table: int) -> str:
    return TABLE_NAMES.get(table, str(table))


@dataclass(frozen=True)
class RouteEntry:
    net: int
    mask: int
    prefix: int
    dev: str | None
    via: int | None = None
    type: str = "unicast"  # unicast | local | blackhole | unreachable | prohibit | broadcast
    scope: str = "global"
    src: int | None = None
    table: int = MAIN_TABLE
    metric: int = 0
    pref: str | None = None  # IPv6 router preference (RTA_PREF): high | medium | low; None for IPv4

    def describe(self) -> str:
        host = 128 if is_v6(self.net) else 32
        dst = (
            "default"
            if self.prefix == 0
            else (ip_str(self.net) if self.prefix == host else f"{ip_str(self.net)}/{self.prefix}")
        )
        parts = [] if self.type == "unicast" else [self.type]
        parts.append(dst)
        if self.via is not None:
            parts.append(f"via {ip_str(self.via)}")
        if self.dev:
            parts.append(f"dev {self.dev}")
        if self.scope != "global" and self.type == "unicast":
            parts.append(f"scope {self.scope}")
        if self.src is not None:
            parts.append(f"src {ip_str(self.src)}")
        return " ".join(parts)


@dataclass(frozen=True)
class RuleEntry:
    priority: int
    table: int
    src: tuple[int, int] | None = None  # (net, mask)
    dst: tuple[int, int] | None = None
    fwmark: int | None = None
    fwmask: int = 0xFFFFFFFF
    iif: str | None = None
    oif: str | None = None
    action: str = "lookup"  # lookup | blackhole | unreachable | prohibit
    #: the table's name as the rule file writes it, for a table named in rt_tables (``lookup custom``): the number
    #: hairpin gives such a name (from 2^31) is its own, so words show the name
    label: str | None = field(default=None, compare=False)

    def matches(self, src: int, dst: int, mark: int, iif: str | None, oif: str | None) -> bool:
        if self.src is not None and (src & self.src[1]) != self.src[0]:
            return False
        if self.dst is not None and (dst & self.dst[1]) != self.dst[0]:
            return False
        if self.fwmark is not None and (mark & self.fwmask) != self.fwmark:
            return False
        if self.iif is not None and self.iif != (iif or "lo"):
            return False
        return not (self.oif is not None and self.oif != oif)

    def describe(self) -> str:
        parts = [f"{self.priority}:", "from"]
        parts.append("all" if self.src is None else _cidr(*self.src))
        if self.dst is not None:
            parts += ["to", _cidr(*self.dst)]
        if self.fwmark is not None:
            parts += ["fwmark", f"{self.fwmark:#x}" + (f"/{self.fwmask:#x}" if self.fwmask != 0xFFFFFFFF else "")]
        if self.iif:
            parts += ["iif", self.iif]
        if self.oif:
            parts += ["oif", self.oif]
        parts += ["lookup", self.label or table_name(self.table)] if self.action == "lookup" else [self.action]
        return " ".join(parts)


def prefix_len(mask: int) -> int:
    """The prefix length of a mask in either family (an IPv6 mask carries the ``V6`` tag bit)."""
    return bin(mask & (V6 - 1)).count("1")


def _cidr(net: int, mask: int) -> str:
    prefix = prefix_len(mask)
    return ip_str(net) if prefix == (128 if is_v6(net) else 32) else f"{ip_str(net)}/{prefix}"


def parse_cidr(text: str, family: int = 4) -> tuple[int, int, int]:
    """``(net, mask, prefix)`` of a prefix (``default``/``all`` too); IPv6 text only for ``family=6``."""
    if family == 6:
        if text in ("default", "all", "::/0"):
            return V6, V6, 0
        return net_of(text, True)
    if text in ("default", "all", "0/0"):
        return 0, 0, 0
    n = ipaddress.IPv4Network(text, strict=False)
    return int(n.network_address), int(n.netmask), n.prefixlen


@dataclass(frozen=True)
class RouteResult:
    """The routing decision: the rule and route that decided, the output device and next hop."""

    type: str  # local | unicast | unreachable | blackhole | prohibit
    table: int | None
    rule: RuleEntry | None
    route: RouteEntry | None
    dev: str | None
    gateway: int | None
    src: int | None  # preferred source (route's src or selected)

    def describe(self) -> str:
        if self.route is None:
            return f"no route ({self.type})"
        rule = (
            f"rule {self.rule.describe()}; " if self.rule is not None and self.rule.priority not in (0, 32766) else ""
        )
        named = self.rule.label if self.rule is not None and self.rule.table == self.table else None
        return f"{rule}table {named or table_name(self.table or 0)}: {self.route.describe()}"


@dataclass
class Routing:
    """One namespace's routing state: addresses per device, tables and rules."""

    addresses: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # dev -> [(addr, prefix)]
    tables: dict[int, list[RouteEntry]] = field(default_factory=dict)
    rules: list[RuleEntry] = field(default_factory=list)
    family: int = 4  # 4 or 6: which family's addresses, routes and rules this is

    def __post_init__(self) -> None:
        if self.family not in (4, 6):
            raise ValueError(f"family {self.family}: 4 or 6")
        if not self.rules:
            self.rules = [RuleEntry(0, LOCAL_TABLE), RuleEntry(32766, MAIN_TABLE)]
            if self.family == 4:
                self.rules.append(RuleEntry(32767, DEFAULT_TABLE))
        #: IPv6 address flags as ``ip addr`` prints them (tentative, dadfailed, deprecated...): (dev, addr) -> flags
        self.addr_flags: dict[tuple[str, int], frozenset[str]] = {}
        self._local: dict[int, str] = {}
        #: the local table's broadcast routes (``broadcast 10.1.0.255 dev eth0 table local``): address -> device
        self._broadcast: dict[int, str] = {}
        self._cache: dict[tuple[int, int, str | None, int, str | None], RouteResult] = {}
        self._sources: dict[tuple[str | None, int | None, bool], int | None] = {}
        #: False: every lookup walks the rules and tables (results are identical either way)
        self.caching = True

    # -- building
    def add_address(self, dev: str, cidr: str, flags: Iterable[str] = ()) -> None:
        """An address and the routes the kernel adds with it.  IPv4: fib_add_ifaddr.  IPv6 (net/ipv6/addrconf.c):
        the local table's ``local ADDR`` route once the address is usable (a tentative or DAD-failed one has none
        yet: addrconf_dad_completed inserts it), the prefix route ``NET/P dev DEV metric 256`` in main at once
        (inet6_addr_add -> addrconf_prefix_route, a /128 too; none with ``noprefixroute``, none for lo's ::1,
        which init_loopback adds through add_addr); the subnet-router anycast routes (only with forwarding on)
        are not added.  ``flags``: IPv6 address flags as ``ip addr`` prints them."""
        self._sources.clear()
        if self.family == 6:
            self._add_address6(dev, cidr, frozenset(flags))
            return
        addr_s, _, prefix_s = cidr.partition("/")
        addr, prefix = ip_int(addr_s), int(prefix_s or 32)
        self.addresses.setdefault(dev, []).append((addr, prefix))
        self._local[addr] = dev
        self.add_route(RouteEntry(addr, 0xFFFFFFFF, 32, dev, type="local", scope="host", src=addr, table=LOCAL_TABLE))
        if prefix < 32 and dev != "lo":
            mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
            net = addr & mask
            if not any(r.net == net and r.prefix == prefix and r.dev == dev for r in self.tables.get(MAIN_TABLE, [])):
                self.add_route(RouteEntry(net, mask, prefix, dev, scope="link", src=addr))

    def _add_address6(self, dev: str, cidr: str, flags: frozenset[str]) -> None:
        addr_s, _, prefix_s = cidr.partition("/")
        addr = net_of(addr_s, True)[0]
        prefix = int(prefix_s or 128)
        self.addresses.setdefault(dev, []).append((addr, prefix))
        self.addr_flags[(dev, addr)] = flags
        if not flags & {"tentative", "dadfailed"}:
            self._local.setdefault(addr, dev)
            self.add_route(RouteEntry(addr, mask_of(128, True), 128, dev, type="local", table=LOCAL_TABLE, metric=0,
                                      pref="medium"))  # fmt: skip
        if "noprefixroute" in flags or (dev == "lo" and addr == V6 | 1):
            return
        mask = mask_of(prefix, True)
        net = addr & mask
        if not any(r.net == net and r.prefix == prefix and r.dev == dev for r in self.tables.get(MAIN_TABLE, [])):
            self.add_route(RouteEntry(net, mask, prefix, dev, metric=256, pref="medium"))

    def add_route(self, r: RouteEntry) -> None:
        self._cache.clear()
        if r.table == LOCAL_TABLE and r.type == "broadcast" and r.prefix == 32 and r.dev is not None:
            self._broadcast.setdefault(r.net, r.dev)
        if self.family == 6 and r.table == LOCAL_TABLE and r.type == "local" and r.prefix == 128 and r.dev:
            self._local.setdefault(r.net, r.dev)
        routes = self.tables.setdefault(r.table, [])
        routes.append(r)
        # IPv6: among routes of one prefix and metric the higher router preference wins (rt6_score_route)
        routes.sort(key=lambda x: (-x.prefix, x.metric, -_PREF_RANK.get(x.pref or "medium", 2)))

    def add_rule(self, r: RuleEntry) -> None:
        self._cache.clear()
        self.rules.append(r)
        self.rules.sort(key=lambda x: x.priority)

    # -- questions
    def is_local(self, addr: int, dev: str | None = None) -> bool:
        owner = self._local.get(addr)
        if owner is None:  # local 127.0.0.0/8 dev lo table local; IPv6: local ::1 dev lo table local
            return is_loopback(addr) and is_v6(addr) == (self.family == 6) and dev in (None, "lo")
        return dev is None or owner == dev

    def is_broadcast(self, addr: int, dev: str | None = None) -> bool:
        """Whether the local table routes ``addr`` as broadcast (a subnet's broadcast address), on ``dev`` when
        given: what inet_dev_addr_type (net/ipv4/fib_frontend.c) answers RTN_BROADCAST for; 255.255.255.255
        always is.  IPv6 has no broadcast: always False."""
        if self.family == 6:
            return False
        if addr == 0xFFFFFFFF:
            return True
        owner = self._broadcast.get(addr)
        return owner is not None and (dev is None or owner == dev)

    def local_device(self, addr: int) -> str | None:
        return self._local.get(addr)

    def primary_address(self) -> int | None:
        for dev, addrs in self.addresses.items():
            if dev != "lo" and addrs:
                return addrs[0][0]
        return None

    def select_source(self, dev: str | None, toward: int | None, universe: bool = False) -> int | None:
        """inet_select_addr: the output device's address in the next hop's subnet, else the device's
        first address, else the first address of any other device (scope global).  ``universe``: scope
        RT_SCOPE_UNIVERSE, as MASQUERADE asks (nf_nat_masquerade.c): loopback addresses (scope host) are
        never chosen, so a packet masqueraded out of ``lo`` gets another device's address.

        IPv6: ipv6_dev_get_saddr toward the destination ``toward`` (the kernel selects for the destination, not
        the next hop: ip6_route_get_saddr), see ``hairpin.routing6.select_source`` for the rules modelled;
        ``universe`` changes nothing (rule 2 keeps ::1, scope node, for ::1 alone).

        Answers are kept per question (the addresses change only through ``add_address``, which forgets them)."""
        key = (dev, toward, universe)
        if not self.caching:
            return self._select_source(dev, toward, universe)
        if key not in self._sources:
            self._sources[key] = self._select_source(dev, toward, universe)
        return self._sources[key]

    def _select_source(self, dev: str | None, toward: int | None, universe: bool) -> int | None:
        if self.family == 6:
            cands = routing6.candidates_of(self.addresses, self.addr_flags)
            return routing6.select_source(cands, dev, toward if toward is not None else V6)
        if dev is not None:
            addrs = self.addresses.get(dev, [])
            if universe:
                addrs = [(a, n) for a, n in addrs if (a >> 24) != 127]
            if toward is not None:
                for addr, prefix in addrs:
                    mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0
                    if (addr & mask) == (toward & mask):
                        return addr
            if addrs:
                return addrs[0][0]
        for d, addrs in self.addresses.items():
            if d != "lo" and addrs:
                return addrs[0][0]
        lo = self.addresses.get("lo")
        return lo[0][0] if lo else None

    def lookup(
        self, dst: int, src: int = 0, iif: str | None = None, mark: int = 0, oif: str | None = None
    ) -> RouteResult:
        """fib_lookup; results are cached (the state only changes through add_* which clear the cache)."""
        key = (dst, src, iif, mark, oif)
        if not self.caching:
            return self._lookup(dst, src, iif, mark, oif)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._lookup(dst, src, iif, mark, oif)
        return hit

    def _lookup(self, dst: int, src: int, iif: str | None, mark: int, oif: str | None) -> RouteResult:
        if self.family == 6 and not is_v6(dst):
            raise ModelError(f"IPv4 destination {ip_str(dst)} asked of an IPv6 routing table")
        for rule in self.rules:
            if not rule.matches(src, dst, mark, iif, oif):
                continue
            if rule.action != "lookup":
                return RouteResult(rule.action, None, rule, None, None, None, None)
            if self.family == 6:
                found = self._match6(rule.table, dst, iif, oif)
                if found is None or found.type == "throw":
                    # a throw route fails the table's lookup, so the next rule is tried (ip6_rt_type_to_error:
                    # RTN_THROW is -EAGAIN; net/ipv6/fib6_rules.c fib6_rule_action goes on to the next rule)
                    continue
                if found.type in ("blackhole", "unreachable", "prohibit"):
                    return RouteResult(found.type, rule.table, rule, found, None, None, None)
                return self._result6(rule, found, dst)
            for r in self.tables.get(rule.table, ()):
                if (dst & r.mask) != r.net:
                    continue
                if oif is not None and r.dev is not None and r.dev != oif and r.type == "unicast":
                    continue
                if r.type == "throw":  # fib_props[RTN_THROW].error is -EAGAIN: fib_rules_lookup tries the next rule
                    break
                if r.type in ("blackhole", "unreachable", "prohibit"):
                    return RouteResult(r.type, rule.table, rule, r, None, None, None)
                if r.type == "local" or (r.type == "broadcast" and iif is not None):
                    # a received broadcast is delivered locally (ip_route_input_slow: brd_input -> local_input)
                    return RouteResult("local", rule.table, rule, r, "lo", None, r.src)
                src_sel = r.src if r.src is not None else self.select_source(r.dev, r.via if r.via is not None else dst)
                return RouteResult("unicast", rule.table, rule, r, r.dev, r.via, src_sel)
        return RouteResult("unreachable", None, None, None, None, None, None)

    def _match6(self, table: int, dst: int, iif: str | None, oif: str | None) -> RouteEntry | None:
        """A table's route for ``dst`` as fib6_table_lookup picks it (net/ipv6/route.c): the longest prefix, the
        lowest metric, the higher ``pref``, then (rt6_score_route) a route on the device the lookup names: the
        output device, or for a received packet its input device (ip6_route_input passes flowi6_iif as the
        device to prefer).  Strict (RT6_LOOKUP_F_IFACE, no other device allowed, less specific prefixes tried
        next as fib6_backtrack does): an output device given, or a received packet to a link-local or multicast
        destination (rt6_need_strict).  ``pref`` counts as in kernels built with CONFIG_IPV6_ROUTER_PREF (the
        distributions', and the Linux 6.18 the fixtures were read off: tests/data/trace/v6-node1/ip-6-route-get-equal).  Not modelled: the
        next hop's neighbour state (RT6_LOOKUP_F_REACHABLE, used only with forwarding off, which a Kubernetes
        node never has) and a multipath route's hash (its first next hop is used; build_routing warns)."""
        strict = oif if oif is not None else (iif if iif is not None and need_strict(dst) else None)
        prefer = oif if oif is not None else iif
        best: RouteEntry | None = None
        for r in self.tables.get(table, ()):
            if (dst & r.mask) != r.net:
                continue
            if best is not None and (r.prefix, r.metric, r.pref) != (best.prefix, best.metric, best.pref):
                break
            if strict is not None and r.dev is not None and r.dev != strict and r.type in ("unicast", "local", "anycast"):
                # rt6_score_route fails any route (a local one too: its device is its address's) on another
                # device; so a link-local address of eth1 is not local to a packet arriving on eth0 (Linux 6.18:
                # ip -6 route get fe80::<eth1's> iif eth0 answers fe80::/64 dev eth0)
                continue
            if best is None:
                best = r
            if prefer is None or r.dev == prefer:
                return r
        return best

    def _result6(self, rule: RuleEntry, r: RouteEntry, dst: int) -> RouteResult:
        """An IPv6 route's decision: local and anycast routes deliver locally on lo (ip6_rt_init_dst,
        ip6_rt_get_dev_rcu); the source is the route's ``src`` else ipv6_dev_get_saddr on the route's device
        toward ``dst`` (ip6_route_get_saddr); a multicast route is followed as unicast (build_routing warns)."""
        src = r.src if r.src is not None else self.select_source(r.dev, dst)
        if r.type in ("local", "anycast"):
            return RouteResult("local", rule.table, rule, r, "lo", None, src)
        return RouteResult("unicast", rule.table, rule, r, r.dev, r.via, src)
