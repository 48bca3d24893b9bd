"""A node's routing state as its tools print it: ``ip -4 route show table all``, ``route -n``, ``ip rule`` (its
lines, table names and prefixes: ``hairpin.parsers.iprule``) and ``ip -4 -o addr`` (its lines:
``hairpin.parsers.ipaddr``), read into ``hairpin.routing.Routing`` and written back; with ``family=6`` the
IPv6 ones (``ip -6 route show table all``, ``ip -6 rule``, ``ip -6 -o addr``: the same grammar with IPv6
prefixes, ``pref`` on every route, ``/128`` hosts printed bare, a multipath route's next hops on lines of their
own).

Formats (iproute2 6.x and net-tools 2.10, as printed on this machine; see tests/data/trace/):

    ip -4 route show table all   [TYPE] PREFIX [via GW] [dev DEV] [table T] [proto P] [scope S]
                                 [src ADDR] [metric N] [flags] [mtu ...]...   (main-table routes omit
                                 ``table``; TYPE is omitted for unicast; local, broadcast, blackhole,
                                 unreachable, prohibit, throw, multicast, anycast, nat also exist)
    route -n                     "Kernel IP routing table", a column header, then
                                 Destination Gateway Genmask Flags Metric Ref Use Iface (main table only;
                                 flag ``!`` is a reject route, Iface ``*`` or ``-`` a blackhole)
    ip -4 -o addr                IDX: DEV    inet ADDR/PREFIX [brd B] scope S [flags] LABEL\\ valid_lft ...

Everything a line says is kept (``ParsedRoute.extra``, ``ParsedRule.tokens``...) so the writers give the
state back; what the routing model cannot represent (an ``ip rule`` with ``not``, ``tos``, ``uidrange``,
``ipproto``, ``sport``, ``dport``, ``suppress_prefixlength``, ``goto``; a multipath route's further next
hops) is kept for writing and left out of the model with a warning naming its line.  Malformed lines
raise ``ParseError(file, line)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from hairpin import routing6
from hairpin.errors import ParseError
from hairpin.model.net import ip_str, is_v6
from hairpin.parsers import pasted
from hairpin.parsers.ipaddr import ADDR_FLAGS, ParsedAddress, format_addrs, parse_addrs
from hairpin.parsers.ipaddr import address as _addr
from hairpin.parsers.iprule import (
    ParsedRule,
    TableNames,
    _cidr,
    _prefix_text,
    format_ip_rules,
    parse_ip_rules,
    rule_tokens,
)
from hairpin.routing import LOCAL_TABLE, MAIN_TABLE, RouteEntry, Routing, RuleEntry
from hairpin.text import digits, split_lines

__all__ = [
    "ADDR_FLAGS",
    "NodeRouting",
    "ParsedAddress",
    "ParsedRoute",
    "ParsedRule",
    "TableNames",
    "format_addrs",
    "format_ip_routes",
    "format_ip_rules",
    "format_route_n",
    "parse_addrs",
    "parse_ip_routes",
    "parse_ip_rules",
    "parse_route_n",
    "parse_routes",
    "read_text",
]

ROUTE_TYPES = ("unicast", "local", "broadcast", "multicast", "blackhole", "unreachable", "prohibit", "throw",
               "nat", "anycast")  # fmt: skip
_VALUED = {"via", "dev", "table", "proto", "scope", "src", "metric", "mtu", "advmss", "window", "rtt", "rttvar",
           "ssthresh", "cwnd", "initcwnd", "initrwnd", "realms", "realm", "tos", "dsfield", "expires", "pref",
           "weight", "nhid", "hoplimit", "features", "quickack", "congctl", "fastopen_no_cookie", "rto_min",
           "reordering", "error", "ttl-propagate", "from", "mark", "uid", "cache", "age", "users", "used"}  # fmt: skip
_MODEL_KEYS = {"via", "dev", "table", "proto", "scope", "src", "metric"}


#: a word that is an IPv6 address or prefix as iproute2 prints it (hex digits and colons, ``::ffff:a.b.c.d``);
#: another word with a colon (a pasted ``Warning:``) is no route of either family
V6_PREFIX = re.compile(r"[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(/\d+)?")


def read_text(path: str | Path) -> str:
    """A state file's text, read through ``hairpin.reading`` (bounded, UTF-8) and refused at a shell prompt line
    (``hairpin.parsers.pasted``); problems are one InputError or ParseError."""
    return pasted.read_state(path)


# ------------------------------------------------------------------------------------------ ip route


@dataclass(frozen=True)
class ParsedRoute:
    """One route line: the model's entry, plus what the model does not use (kept for writing)."""

    entry: RouteEntry
    line: int = 0
    proto: str | None = None
    flags: tuple[str, ...] = ()  # onlink, linkdown, dead, pervasive, offload...
    extra: tuple[str, ...] = ()  # mtu 9001, pref medium, nexthop groups...
    table_text: str | None = None  # as written ("2", "local"); None: main, unwritten
    #: what puts each ``nexthop`` of a multipath route on a line of its own: "\n\t" (``ip route``), "\\\t"
    #: (``ip -o route``); None: one line
    layout: str | None = None

    def format(self, names: TableNames | None = None) -> str:
        """The line as ``ip route show table all`` prints it (with its trailing space; a multipath route's next
        hops as they were laid out).  An IPv6 route's ``pref`` comes after everything but the next hops."""
        e = self.entry
        out: list[str] = [] if e.type == "unicast" else [e.type]
        out.append(_prefix_text(e.net, e.prefix))
        multipath = "nexthop" in self.extra  # its via and dev are its first next hop's, printed there
        if e.via is not None and not multipath:
            out += ["via", ip_str(e.via)]
        if e.dev is not None and not multipath:
            out += ["dev", e.dev]
        if e.table != MAIN_TABLE:
            out += ["table", self.table_text or (names or TableNames()).name(e.table)]
        if self.proto is not None:
            out += ["proto", self.proto]
        if e.scope != _default_scope(e.type, e.via):
            out += ["scope", e.scope]
        if e.src is not None:
            out += ["src", ip_str(e.src)]
        if e.metric or is_v6(e.net):  # the kernel gives every IPv6 route its RTA_PRIORITY, 0 too
            out += ["metric", str(e.metric)]
        out += list(self.flags)
        cut = self.extra.index("nexthop") if "nexthop" in self.extra else len(self.extra)
        out += list(self.extra[:cut])
        if e.pref is not None:
            out += ["pref", e.pref]
        hops = list(self.extra[cut:])
        end = "" if e.pref is not None else " "  # iproute2 prints ``pref`` last, with no space after it
        if not hops or self.layout is None:
            return " ".join(out + hops) + (end if not hops else " ")
        groups: list[list[str]] = []
        for t in hops:
            if t == "nexthop":
                groups.append([])
            groups[-1].append(t)
        return " ".join(out) + "".join(self.layout + " ".join(g) + " " for g in groups)


def _default_scope(rtype: str, via: int | None) -> str:
    """The scope ``ip route`` leaves unprinted (global for unicast/blackhole..., host for local, link for
    broadcast): iproute2 prints ``scope`` only when it differs from RT_SCOPE_UNIVERSE."""
    return "global"


def parse_ip_routes(text: str, file: str | None = None, names: TableNames | None = None,
                    family: int = 4, repeats: bool = False) -> list[ParsedRoute]:  # fmt: skip
    """``ip -4 route show table all`` (or ``ip route``) text; ``family=6``: ``ip -6 route show table all``.  A
    multipath route's ``nexthop`` lines (indented, or after ``\\<TAB>`` in ``-o`` form) belong to its line.

    A route listed twice, word for word, is refused (``repeats`` lets it through: lines rebuilt from ``ip -j
    route`` may leave out what told two entries apart): the kernel holds one route per table, prefix, type,
    metric and next hop (``ip route add``/``append`` of an existing one answers "File exists": checked in a
    namespace, iproute2 6.1.0, Linux 6.18), and ``ip route`` prints the table of every route but main's, so
    one listing never shows the same line twice: two listings pasted together (of two nodes?) do."""
    names = names if names is not None else TableNames()
    logical: list[tuple[int, str, str | None]] = []  # line number, text, layout
    for lineno, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("nexthop") and raw[:1].isspace() and logical and logical[-1][2] in (None, "\n\t"):
            first, head, _ = logical[-1]
            logical[-1] = (first, f"{head} {line}", "\n\t")
            continue
        layout = None
        if "\\\tnexthop" in line:
            layout, line = "\\\t", line.replace("\\\t", " ")
        logical.append((lineno, line, layout))
    out: list[ParsedRoute] = []
    seen: dict[tuple[str, ...], int] = {}
    for lineno, line, layout in logical:
        if not repeats and (first := seen.setdefault(tuple(line.split()), lineno)) != lineno:
            raise ParseError(f"route '{' '.join(line.split())[:80]}' again (first at line {first}): the kernel holds "
                             "each route once, so one ip route listing never shows it twice (two listings pasted "
                             "together?)", file, lineno)  # fmt: skip
        out.append(replace(_parse_route_line(line, file, lineno, names, family), layout=layout))
    return out


def _parse_route_line(line: str, file: str | None, lineno: int, names: TableNames, family: int = 4) -> ParsedRoute:
    toks = line.split()
    rtype = "unicast"
    if toks[0] in ROUTE_TYPES:
        rtype = toks.pop(0)
        if not toks:
            raise ParseError(f"route type {rtype} without a prefix", file, lineno)
    if toks[0].startswith("nexthop"):
        raise ParseError("nexthop line without its route's line before it", file, lineno)
    if family == 4 and V6_PREFIX.fullmatch(toks[0]):
        raise ParseError(f"IPv6 route {toks[0]!r}: give the IPv4 table (ip -4 route show table all)", file, lineno)
    if family == 6 and "." in toks[0] and ":" not in toks[0]:  # ::ffff:a.b.c.d is IPv6
        raise ParseError(f"IPv4 route {toks[0]!r}: give the IPv6 table (ip -6 route show table all)", file, lineno)
    net, mask, prefix = _cidr(toks[0], file, lineno, family=family)
    pref: str | None = None
    if net & ~mask & 0xFFFFFFFF:
        raise ParseError(f"prefix {toks[0]!r} has host bits set", file, lineno)
    vals: dict[str, str] = {}
    flags: list[str] = []
    extra: list[str] = []
    table_text: str | None = None
    i = 1
    while i < len(toks):
        key = toks[i]
        if key == "nexthop":  # multipath: keep the rest as written, use the first next hop
            rest = toks[i:]
            extra += rest
            for j, t in enumerate(rest[:-1]):
                if t == "via" and "via" not in vals:
                    vals["via"] = rest[j + 1]
                if t == "dev" and "dev" not in vals:
                    vals["dev"] = rest[j + 1]
            break
        if key in _VALUED:
            if i + 1 >= len(toks):
                raise ParseError(f"{key} without a value", file, lineno)
            value = toks[i + 1]
            step = 2
            if key == "via" and value in ("inet", "inet6") and i + 2 < len(toks):
                if value != ("inet6" if family == 6 else "inet"):  # RTA_VIA (RFC 5549), the other family's hop
                    raise ParseError(f"a next hop of the other family (via {value} {toks[i + 2]}) is not modelled",
                                     file, lineno)  # fmt: skip
                value, step = toks[i + 2], 3
            if key == "pref" and family == 6:
                if value not in ("low", "medium", "high") or pref is not None:
                    raise ParseError(f"bad pref {value!r} (low, medium or high, once)", file, lineno)
                pref = value
                i += 2
                continue
            if key in ("mtu", "window", "rtt", "cwnd", "advmss", "initcwnd", "initrwnd") and value == "lock":
                if i + 2 >= len(toks):
                    raise ParseError(f"{key} lock without a value", file, lineno)
                extra += toks[i : i + 3]
                i += 3
                continue
            if key in _MODEL_KEYS:
                if key in vals:
                    raise ParseError(f"{key} given twice", file, lineno)
                vals[key] = value
                if key == "table":
                    table_text = value
            else:
                extra += toks[i : i + step]
            i += step
            continue
        if key.isalpha() or key.replace("_", "").isalpha():
            flags.append(key)
            i += 1
            continue
        raise ParseError(f"unexpected {key!r} in route", file, lineno)
    table = names.id(vals["table"], file, lineno) if "table" in vals else MAIN_TABLE
    via = _addr(vals["via"], file, lineno, "gateway", family) if "via" in vals else None
    src = _addr(vals["src"], file, lineno, "source", family) if "src" in vals else None
    metric = 0
    if "metric" in vals:
        # RTA_PRIORITY is a u32: ip route never prints more (ip/iproute.c: "metric" value is invalid)
        m = vals["metric"]
        if not digits(m) or int(m) > 0xFFFFFFFF:  # (int() refuses 4,300 digits and more in its own words)
            raise ParseError(f"bad metric {m if len(m) <= 24 else m[:24] + '...'!r} (0 to 4294967295)", file, lineno)
        metric = int(vals["metric"])
    scope = vals.get("scope", "global")
    if scope not in ("global", "universe", "link", "host", "site", "nowhere") and not digits(scope):
        raise ParseError(f"bad scope {scope!r}", file, lineno)
    if rtype == "unicast" and "dev" not in vals and via is None:
        raise ParseError("unicast route with neither dev nor via", file, lineno)
    entry = RouteEntry(net, mask, prefix, vals.get("dev"), via, rtype, scope, src, table, metric, pref)
    return ParsedRoute(entry, lineno, vals.get("proto"), tuple(flags), tuple(extra), table_text)


def format_ip_routes(routes: list[ParsedRoute], names: TableNames | None = None) -> str:
    """Routes back as ``ip -4 route show table all`` prints them (one per line, each with its trailing space)."""
    return "".join(r.format(names) + "\n" for r in routes)


# ------------------------------------------------------------------------------------------ route -n

_ROUTE_N_TITLE = "Kernel IP routing table"
_ROUTE_N_HEADER = "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface"


def parse_route_n(text: str, file: str | None = None) -> list[ParsedRoute]:
    """``route -n`` text (net-tools): the main table only."""
    out: list[ParsedRoute] = []
    for lineno, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if not line or line.startswith(_ROUTE_N_TITLE) or line.startswith("Destination"):
            continue
        cols = line.split()
        if len(cols) != 8:
            raise ParseError(f"expected 8 columns (Destination Gateway Genmask Flags Metric Ref Use Iface), "
                             f"got {len(cols)}", file, lineno)  # fmt: skip
        dst_s, gw_s, mask_s, flags, metric_s, ref_s, use_s, iface = cols
        dst = _addr(dst_s, file, lineno, "destination")
        mask = _addr(mask_s, file, lineno, "genmask")
        prefix = bin(mask).count("1")
        if mask != ((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0):
            raise ParseError(f"genmask {mask_s} is not a prefix mask", file, lineno)
        if not (digits(metric_s) and digits(ref_s) and digits(use_s)):
            raise ParseError("Metric, Ref and Use must be numbers", file, lineno)
        if int(metric_s) > 0xFFFFFFFF:
            shown = metric_s if len(metric_s) <= 24 else metric_s[:24] + "..."
            raise ParseError(f"bad metric {shown!r} (0 to 4294967295)", file, lineno)
        if not flags or any(c not in "UGHRDMdacoeCp!" for c in flags):
            raise ParseError(f"bad flags {flags!r}", file, lineno)
        gw = _addr(gw_s, file, lineno, "gateway")
        # /proc/net/route (fib_flag_trans) marks unreachable and prohibit routes RTF_REJECT ("!"); a blackhole
        # route has no flag of its own, only no device ("*")
        rtype = "unreachable" if "!" in flags else ("blackhole" if iface in ("*", "-") else "unicast")
        dev = None if iface in ("*", "-") else iface
        via = gw if "G" in flags and gw else None
        scope = "link" if via is None and rtype == "unicast" else "global"
        entry = RouteEntry(dst & mask, mask, prefix, dev, via, rtype, scope, None, MAIN_TABLE, int(metric_s))
        out.append(ParsedRoute(entry, lineno, extra=(f"ref={ref_s}", f"use={use_s}")))
    return out


def format_route_n(routes: list[ParsedRoute]) -> str:
    """Main-table routes as ``route -n`` prints them."""
    lines = [_ROUTE_N_TITLE, _ROUTE_N_HEADER]
    for r in routes:
        e = r.entry
        if e.table != MAIN_TABLE:
            continue
        # net-tools lib/inet_gr.c: U, G, H ... and ! for reject (unreachable/prohibit) routes
        flags = "U" + ("G" if e.via is not None else "") + ("H" if e.prefix == 32 else "")
        if e.type in ("unreachable", "prohibit"):
            flags += "!"
        iface = e.dev if e.dev is not None and e.type == "unicast" else "*"
        ref = use = 0
        for x in r.extra:
            if x.startswith("ref="):
                ref = int(x[4:])
            elif x.startswith("use="):
                use = int(x[4:])
        gw = ip_str(e.via) if e.via is not None else "0.0.0.0"
        lines.append(f"{ip_str(e.net):<15} {gw:<15} {ip_str(e.mask):<15} {flags:<5} {e.metric:<6} {ref:<3} "
                     f"{use:>6} {iface}")  # fmt: skip
    return "\n".join(lines) + "\n"


def parse_routes(text: str, file: str | None = None, names: TableNames | None = None,
                 family: int = 4) -> list[ParsedRoute]:  # fmt: skip
    """Either format: ``route -n`` when the text starts with its title or header, else ``ip route``
    (``family=6``: ``route -n`` has no IPv6 form here and is refused)."""
    head = text.lstrip()
    if head.startswith(_ROUTE_N_TITLE) or head.startswith("Destination") or head.startswith(ROUTE_A_INET6_TITLE):
        refuse_route_n(head, file, family)
        return parse_route_n(text, file)
    return parse_ip_routes(text, file, names, family)


ROUTE_A_INET6_TITLE = "Kernel IPv6 routing table"


def refuse_route_n(head: str, file: str | None, family: int) -> None:
    """``route -n`` for IPv6, or ``route -A inet6 -n`` at all: one line saying what to give instead."""
    if head.startswith(ROUTE_A_INET6_TITLE):
        want = "ip -6 route show table all" if family == 6 else "ip -4 route show table all (or route -n)"
        raise ParseError(f"route -A inet6 -n is not read (it leaves out the tables and route types a trace needs): "
                         f"give {want}", file, 1)  # fmt: skip
    if family == 6:
        raise ParseError("route -n shows IPv4 routes only: give ip -6 route show table all", file, 1)


# ------------------------------------------------------------------------------------------ the model


@dataclass
class NodeRouting:
    """A node's routing model built from its files, with where each route and rule came from."""

    routing: Routing
    routes: list[ParsedRoute]
    rules: list[ParsedRule]
    addrs: list[ParsedAddress]
    names: TableNames
    route_lines: dict[RouteEntry, int] = field(default_factory=dict)
    rule_lines: dict[RuleEntry, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # routes|rules|addrs -> file name
    family: int = 4


def _addrs_from_local_table(routes: list[ParsedRoute], family: int = 4) -> list[ParsedAddress]:
    if family == 6:
        return _addrs6_from_local_table(routes)
    out: list[ParsedAddress] = []
    for r in routes:
        e = r.entry
        if e.table != LOCAL_TABLE or e.type != "local" or e.prefix != 32 or e.dev is None:
            continue
        prefix = 32
        for c in routes:
            ce = c.entry
            if (ce.table == MAIN_TABLE and ce.src == e.net and ce.dev == e.dev and ce.scope == "link"
                    and (e.net & ce.mask) == ce.net):  # fmt: skip
                prefix = ce.prefix
                break
        if e.dev == "lo" and (e.net >> 24) == 127:
            prefix = 8
        out.append(ParsedAddress(len(out) + 1, e.dev, e.net, prefix, r.line, ("scope", "host" if e.dev == "lo" else
                                                                                 "global", e.dev)))  # fmt: skip
    return out


_SCOPE_WORDS = {routing6.SCOPE_NODE: "host", routing6.SCOPE_LINK: "link", routing6.SCOPE_SITE: "site"}


def _addrs6_from_local_table(routes: list[ParsedRoute]) -> list[ParsedAddress]:
    """The addresses an IPv6 local table shows (``local ADDR dev DEV table local``), each with the prefix of the
    longest ``proto kernel`` route of its device in main that holds it (IPv6 prefix routes carry no ``src``), else
    /128 (``noprefixroute``, lo's ::1)."""
    out: list[ParsedAddress] = []
    for r in routes:
        e = r.entry
        if e.table != LOCAL_TABLE or e.type != "local" or e.prefix != 128 or e.dev is None:
            continue
        held = [c.entry.prefix for c in routes if c.entry.table == MAIN_TABLE and c.proto == "kernel"
                and c.entry.type == "unicast" and c.entry.via is None and c.entry.dev == e.dev
                and (e.net & c.entry.mask) == c.entry.net]  # fmt: skip
        prefix = max(held, default=128)
        scope = _SCOPE_WORDS.get(routing6.addr_scope(e.net), "global")
        out.append(ParsedAddress(len(out) + 1, e.dev, e.net, prefix, r.line, ("scope", scope)))
    return out


def routing_files(routing: Routing, names: TableNames | None = None) -> dict[str, str]:
    """A model ``Routing`` written as the three files a node gives (``ip-route``, ``ip-rule``, ``ip-addr``)."""
    routes = []
    for table in sorted(routing.tables, key=lambda t: (t == LOCAL_TABLE, t)):
        for e in routing.tables[table]:
            proto = "kernel" if e.type == "local" or (e.scope == "link" and e.src is not None) else None
            if routing.family == 6 and e.type == "unicast" and e.via is None and e.metric == 256:
                proto = "kernel"  # the prefix routes add_address makes, as addrconf_prefix_route does
            routes.append(ParsedRoute(e, proto=proto))
    rules = [ParsedRule(r.priority, rule_tokens(r, names), r) for r in routing.rules]
    addrs: list[ParsedAddress] = []
    for dev, lst in routing.addresses.items():
        for addr, prefix in lst:
            if routing.family == 6:
                flags = tuple(sorted(routing.addr_flags.get((dev, addr), ())))
                tokens = ("scope", _SCOPE_WORDS.get(routing6.addr_scope(addr), "global"), *flags)
            else:
                tokens = ("scope", "host" if dev == "lo" else "global", dev)
            addrs.append(ParsedAddress(len(addrs) + 1, dev, addr, prefix, tokens=tokens))
    # the model may hold a route twice (a scenario's connected route and the CNI's same one): the kernel once
    text = "".join(dict.fromkeys(format_ip_routes(routes, names).splitlines(keepends=True)))
    return {"ip-route": text, "ip-rule": format_ip_rules(rules), "ip-addr": format_addrs(addrs)}
