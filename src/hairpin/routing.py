"""Linux IPv4 routing: policy rules over routing tables, longest-prefix match, the local table.

``Routing.lookup`` follows fib_lookup: rules in priority order (0 ``from all lookup local``, the
scenario's rules such as the VPC CNI's 512/1024/1536, 32766 ``lookup main``, 32767 ``lookup default``),
the first table that has a matching route decides.  Within a table the longest prefix wins.  The local
table holds the host's own addresses (type local).  ``select_source`` is inet_select_addr: the primary
address of the output device in the next hop's subnet, else the device's first address, else (a device
with no address, such as the VPC CNI's host-side veths) the first address of another device.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from hairpin.model.net import ip_int, ip_str

__all__ = ["RouteEntry", "RouteResult", "Routing", "RuleEntry"]

LOCAL_TABLE = 255
MAIN_TABLE = 254
DEFAULT_TABLE = 253
TABLE_NAMES = {255: "local", 254: "main", 253: "default"}


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

    def describe(self) -> str:
        dst = (
            "default"
            if self.prefix == 0
            else (ip_str(self.net) if self.prefix == 32 else f"{ip_str(self.net)}/{self.prefix}")
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
        parts += ["lookup", table_name(self.table)] if self.action == "lookup" else [self.action]
        return " ".join(parts)


def _cidr(net: int, mask: int) -> str:
    prefix = bin(mask).count("1")
    return ip_str(net) if prefix == 32 else f"{ip_str(net)}/{prefix}"


def parse_cidr(text: str) -> tuple[int, int, int]:
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
        return f"{rule}table {table_name(self.table or 0)}: {self.route.describe()}"


@dataclass
class Routing:
    """One namespace's routing state: addresses per device, tables and rules."""

    addresses: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # dev -> [(addr, prefix)]
    tables: dict[int, list[RouteEntry]] = field(default_factory=dict)
    rules: list[RuleEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.rules:
            self.rules = [
                RuleEntry(0, LOCAL_TABLE),
                RuleEntry(32766, MAIN_TABLE),
                RuleEntry(32767, DEFAULT_TABLE),
            ]
        self._local: dict[int, str] = {}
        #: the local table's broadcast routes (``broadcast 10.1.0.255 dev eth0 table local``): address -> device
        self._broadcast: dict[int, str] = {}
        self._cache: dict[tuple[int, int, str | None, int, str | None], RouteResult] = {}
        #: False: every lookup walks the rules and tables (results are identical either way)
        self.caching = True

    # -- building
    def add_address(self, dev: str, cidr: str) -> None:
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

    def add_route(self, r: RouteEntry) -> None:
        self._cache.clear()
        if r.table == LOCAL_TABLE and r.type == "broadcast" and r.prefix == 32 and r.dev is not None:
            self._broadcast.setdefault(r.net, r.dev)
        routes = self.tables.setdefault(r.table, [])
        routes.append(r)
        routes.sort(key=lambda x: (-x.prefix, x.metric))

    def add_rule(self, r: RuleEntry) -> None:
        self._cache.clear()
        self.rules.append(r)
        self.rules.sort(key=lambda x: x.priority)

    # -- questions
    def is_local(self, addr: int, dev: str | None = None) -> bool:
        owner = self._local.get(addr)
        if owner is None:
            return (addr >> 24) == 127 and dev in (None, "lo")  # local 127.0.0.0/8 dev lo table local
        return dev is None or owner == dev

    def is_broadcast(self, addr: int, dev: str | None = None) -> bool:
        """Whether the local table routes ``addr`` as broadcast (a subnet's broadcast address), on ``dev`` when
        given: what inet_dev_addr_type (net/ipv4/fib_frontend.c) answers RTN_BROADCAST for; 255.255.255.255
        always is."""
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
        never chosen, so a packet masqueraded out of ``lo`` gets another device's address."""
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
        for rule in self.rules:
            if not rule.matches(src, dst, mark, iif, oif):
                continue
            if rule.action != "lookup":
                return RouteResult(rule.action, None, rule, None, None, None, None)
            for r in self.tables.get(rule.table, ()):
                if (dst & r.mask) != r.net:
                    continue
                if oif is not None and r.dev is not None and r.dev != oif and r.type == "unicast":
                    continue
                if r.type in ("blackhole", "unreachable", "prohibit"):
                    return RouteResult(r.type, rule.table, rule, r, None, None, None)
                if r.type == "local" or (r.type == "broadcast" and iif is not None):
                    # a received broadcast is delivered locally (ip_route_input_slow: brd_input -> local_input)
                    return RouteResult("local", rule.table, rule, r, "lo", None, r.src)
                src_sel = r.src if r.src is not None else self.select_source(r.dev, r.via if r.via is not None else dst)
                return RouteResult("unicast", rule.table, rule, r, r.dev, r.via, src_sel)
        return RouteResult("unreachable", None, None, None, None, None, None)
