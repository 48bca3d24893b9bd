"""A node's state files read together: each file's form found by content, cross-checked against the others.

Where files disagree, the kernel's own source of truth decides and a warning says so:

- Whether an address is the node's own (``-m addrtype --dst-type LOCAL``, local delivery) is decided by
  the local routing table (table 255): the kernel answers ``addrtype`` with ``inet_addr_type_table``, a
  FIB lookup in the local table (net/ipv4/fib_frontend.c), not from the address list.  An address the
  local table has and the address file lacks is added (with the prefix of its ``proto kernel`` route);
  an address the local table lacks is not local.
- A route naming an interface no address file lists, an ``ip rule`` list without a ``lookup main``, an
  empty main table: warnings (the trace still runs on what the files say).

The interfaces the node has are those the address file lists plus those routes name; a packet ``in
IFACE`` must enter on one of them.

``family=6`` reads the node's IPv6 routing state the same way: the local table's ``local ADDR`` /128 routes
decide what is local (ip6tables' addrtype asks the IPv6 FIB: net/netfilter/xt_addrtype.c match_lookup_rt6),
``::1`` is lo's; a tentative or DAD-failed address has no local route yet and is left out, said so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hairpin import routing6, unseen
from hairpin.errors import InputError
from hairpin.model.net import ip_str, is_loopback
from hairpin.netfilter.rules import Ruleset
from hairpin.parsers import forms, iproute, iptables_check, linkinfo
from hairpin.routing import DEFAULT_TABLE, LOCAL_TABLE, MAIN_TABLE, Routing
from hairpin.text import digits

__all__ = ["NodeFiles", "build_routing", "read_node"]


@dataclass
class NodeFiles:
    """What a node's files say, the form each was read in, and where they disagree."""

    ruleset: Ruleset
    routing: iproute.NodeRouting
    links: set[str]
    forms: dict[str, str] = field(default_factory=dict)  # iptables|routes|rules|addrs -> "FILE: form"
    #: each device's kind where the address file says it (``ip -d addr``: ``hairpin.parsers.linkinfo``)
    kinds: dict[str, linkinfo.LinkKind] = field(default_factory=dict)


def read_node(iptables: str | Path | None, routes: str | Path, rules: str | Path | None = None,
              addrs: str | Path | None = None, table: str | None = None, family: int = 4) -> NodeFiles:  # fmt: skip
    """Read and check a node's rule and routing files (any accepted form); no iptables file: no rules.
    ``family=6``: the files are the node's IPv6 ones (ip6tables-save, ``ip -6 route``...); a rule dump of the
    other family is refused in one line (``forms.read_iptables``)."""
    said: dict[str, str] = {}
    rs = Ruleset()
    if iptables is not None:
        f_ipt = str(iptables)
        rs, ipt_form = forms.read_iptables(iproute.read_text(iptables), f_ipt, table, family)
        iptables_check.check(rs)
        rs.warnings += unseen.cut_service_chains(rs)
        said["iptables"] = f"{f_ipt}: {ipt_form}"
    names = iproute.TableNames()
    f_routes = str(routes)
    route_list, route_form = forms.read_routes(iproute.read_text(routes), f_routes, names, family)
    rule_list: list[iproute.ParsedRule] | None = None
    said["routes"] = f"{f_routes}: {route_form}"
    if rules is not None:
        rule_list, rule_form = forms.read_rules(iproute.read_text(rules), str(rules), names, family)
        said["rules"] = f"{rules}: {rule_form}"
    addr_list: list[iproute.ParsedAddress] | None = None
    links: set[str] | None = None
    kinds: dict[str, linkinfo.LinkKind] = {}
    if addrs is not None:
        addr_text = iproute.read_text(addrs)
        addr_list, links, addr_form = forms.read_addrs(addr_text, str(addrs), family)
        said["addrs"] = f"{addrs}: {addr_form}"
        kinds = linkinfo.read_link_kinds(addr_text)
    nr = build_routing(route_list, rule_list, addr_list, names, f_routes, str(rules) if rules else None,
                       str(addrs) if addrs else None, links, family)  # fmt: skip
    every = set(links or ()) | {r.entry.dev for r in route_list if r.entry.dev} | {a.dev for a in nr.addrs} | {"lo"}
    return NodeFiles(rs, nr, every, said, kinds)


def build_routing(routes: list[iproute.ParsedRoute], rules: list[iproute.ParsedRule] | None,
                  addrs: list[iproute.ParsedAddress] | None, names: iproute.TableNames, routes_file: str,
                  rules_file: str | None, addrs_file: str | None,
                  links: set[str] | None, family: int = 4) -> iproute.NodeRouting:  # fmt: skip
    """The routing model, the local table deciding what is local (see the module's docstring)."""
    warnings: list[str] = []
    fam, v = ("IPv6", "6") if family == 6 else ("IPv4", "4")
    local_routes = [r for r in routes if r.entry.table == LOCAL_TABLE and r.entry.type == "local"
                    and r.entry.prefix == (128 if family == 6 else 32)]  # fmt: skip
    from_table = {a.addr: a for a in iproute._addrs_from_local_table(routes, family)}
    has_local = any(r.entry.table == LOCAL_TABLE for r in routes)
    if addrs is None or not addrs:
        if addrs is not None and has_local:
            warnings.append(f"{addrs_file}: no {fam} address at all; the addresses come from the local table")
        model_addrs = list(from_table.values())
        if not model_addrs and not has_local and family == 4:
            model_addrs = _addrs_from_kernel_routes(routes)
            for a in model_addrs:
                warnings.append(f"{routes_file}:{a.line}: no address file and no local table: {a.cidr} on {a.dev} "
                                "is taken from this proto kernel route (the kernel adds one per address)")  # fmt: skip
        if not model_addrs and not routes:
            raise InputError(f"no {fam} route in the file (empty, or not the node's routes): give `ip -{v} route "
                             "show table all`", routes_file)  # fmt: skip
        if not model_addrs:
            raise InputError(f"no local addresses: give the addresses (ip -{v} -o addr) or the local table "
                             f"(ip -{v} route show table all)", routes_file)  # fmt: skip
    elif has_local:
        _refuse_two_nodes(addrs, local_routes, from_table, addrs_file, routes_file, family)
        model_addrs = []
        for a in addrs:
            if a.addr in from_table or is_loopback(a.addr):
                model_addrs.append(a)
            elif family == 6 and a.flags & {"tentative", "dadfailed"}:
                why = "failed duplicate address detection (dadfailed)" if "dadfailed" in a.flags else \
                    "tentative (duplicate address detection not done)"  # fmt: skip
                warnings.append(f"{addrs_file}:{a.line}: {a.cidr} on {a.dev} {why}: not local, never a source; "
                                "left out")  # fmt: skip
            else:
                warnings.append(f"{addrs_file}:{a.line}: {a.cidr} on {a.dev} is not in the local routing table "
                                f"({routes_file}): the kernel does not treat it as local; left out")  # fmt: skip
        listed = {a.addr for a in addrs}
        for r in local_routes:
            if r.entry.net not in listed:
                a = from_table[r.entry.net]
                model_addrs.append(a)
                warnings.append(f"{routes_file}:{r.line}: the local table has {a.cidr.split('/')[0]} on {a.dev}, "
                                f"which {addrs_file} does not list: it is local (the kernel decides addrtype "
                                "LOCAL from the local table)")  # fmt: skip
    else:
        model_addrs = list(addrs)
    if rules is not None:
        for pr_ in rules:
            if pr_.entry is None:
                warnings.append(f"{rules_file}:{pr_.line}: ignored '{pr_.format()}' ({pr_.why})")
        if not any(x.entry is not None and x.entry.action == "lookup" and x.entry.table == MAIN_TABLE
                   for x in rules):  # fmt: skip
            warnings.append(f"{rules_file}: no rule looks up table main: only the tables the rules name are "
                            "consulted")  # fmt: skip
        if routes and all(r.entry.table == MAIN_TABLE for r in routes):  # `ip route`: table main only
            unheld = [(x.line, x.entry.label or str(x.entry.table)) for x in rules if x.entry is not None
                      and x.entry.action == "lookup" and x.entry.table not in (MAIN_TABLE, LOCAL_TABLE, DEFAULT_TABLE)]  # fmt: skip
            if unheld:
                tables = sorted({t for _, t in unheld}, key=lambda t: (not digits(t), int(t) if digits(t) else 0, t))
                lines = ", ".join(str(n) for n, _ in unheld)
                warnings.append(f"{rules_file}:{unheld[0][0]}: {'rules look' if len(unheld) > 1 else 'a rule looks'} up "
                                f"table{'s' if len(tables) > 1 else ''} "
                                f"{', '.join(tables)} (line{'s' if len(unheld) > 1 else ''} {lines}), which "
                                f"{routes_file} does not hold (it lists table main only, as `ip route` prints it): "
                                "taken as empty, so those packets go on to the next rule; give "
                                f"`ip -{v} route show table all`")  # fmt: skip
    if rules is None:
        warnings += _tables_no_rule_reaches(routes, names, routes_file, v)
    if not any(r.entry.table == MAIN_TABLE for r in routes):
        warnings.append(f"{routes_file}: the main routing table is empty")
    elif rules is not None and family == 4:
        warnings += _pod_rules_without_routes(routes, rules, routes_file, rules_file)
    if links is not None:
        for r in routes:
            dev = r.entry.dev
            if dev is not None and dev not in links and r.entry.table != LOCAL_TABLE:
                warnings.append(f"{routes_file}:{r.line}: route uses {dev}, which {addrs_file} does not list")
    source_specific = [pr for pr in routes if "from" in pr.extra]
    for pr in source_specific:  # RTA_SRC: an IPv6 subtree route (CONFIG_IPV6_SUBTREES; iproute2 prints it when
        # rtm_src_len is not 0).  fib6_node_lookup_1 descends into the prefix's subtree by source and, when no source
        # prefix holds the packet's, backtracks past the prefix's own routes: a packet of any source can be routed
        # otherwise than the remaining routes say.
        dst = f"{ip_str(pr.entry.net)}/{pr.entry.prefix}"
        warnings.append(f"{routes_file}:{pr.line}: ignored route {pr.entry.describe()} from "
                        f"{pr.extra[pr.extra.index('from') + 1]}: source-specific routes are not modelled, so a "
                        f"packet to {dst} may be routed otherwise, from any source")  # fmt: skip
    modelled = [pr for pr in routes if pr not in source_specific]
    for pr in modelled:
        if any(t == "nexthop" for t in pr.extra):
            warnings.append(f"{routes_file}:{pr.line}: multipath route: only its first next hop is used")
        # (IPv6's multicast routes, ff00::/8 on every interface: trace refuses a multicast destination instead)
        if pr.entry.type in (("nat",) if family == 6 else ("nat", "multicast", "anycast")):
            warnings.append(f"{routes_file}:{pr.line}: route type {pr.entry.type} is treated as unicast")
    entries = [r.entry for r in rules or [] if r.entry is not None]
    routing = (Routing(rules=sorted(entries, key=lambda e: e.priority), family=family) if rules
               else Routing(family=family))  # fmt: skip
    for a in model_addrs:
        if family == 6 and "temporary" in a.flags and any(
                b.dev == a.dev and "temporary" not in b.flags and routing6.addr_scope(b.addr) == routing6.SCOPE_GLOBAL
                for b in model_addrs):  # fmt: skip
            warnings.append(f"{addrs_file}:{a.line}: {a.cidr} on {a.dev} is temporary: as a source (MASQUERADE, the "
                            f"node's own packets) the kernel prefers it to a public address when net.ipv6.conf."
                            f"{a.dev}.use_tempaddr is 2, the public one when 1 (ipv6_get_saddr_eval rule 7), which "
                            "the dump does not say: the public one is assumed")  # fmt: skip
        if family == 6:
            routing.add_address(a.dev, a.cidr, a.flags)
        else:
            routing.add_address(a.dev, a.cidr)
    generated_local = routing.tables.get(LOCAL_TABLE, [])
    routing.tables.clear()
    for pr in modelled:
        routing.add_route(pr.entry)
    if not has_local:
        for e in generated_local:
            routing.add_route(e)
    nr = iproute.NodeRouting(routing, routes, rules or [], model_addrs, names, warnings=warnings, family=family)
    nr.route_lines = {r.entry: r.line for r in modelled}
    nr.rule_lines = {r.entry: r.line for r in rules or [] if r.entry is not None}
    for key, f in (("routes", routes_file), ("rules", rules_file), ("addrs", addrs_file)):
        if f is not None:
            nr.files[key] = f
    return nr


def _refuse_two_nodes(addrs: list[iproute.ParsedAddress], local_routes: list[iproute.ParsedRoute],
                      from_table: dict[int, iproute.ParsedAddress], addrs_file: str | None, routes_file: str,
                      family: int) -> None:  # fmt: skip
    """Refuse an address file and a local table that share no address but loopback: the kernel adds a ``local``
    route to table local for every address it gives a device (IPv4: ``fib_add_ifaddr``, net/ipv4/fib_frontend.c;
    IPv6: ``addrconf_f6i_alloc`` once DAD is done, net/ipv6/addrconf.c), so one node's two listings always
    share its addresses; none in common is two nodes' files (``ip addr`` of one, ``ip route show table all``
    of another), whose trace would answer for neither node.  Some in common: the warnings of ``build_routing``."""
    unsure = {"tentative", "dadfailed"} if family == 6 else set()
    listed = [a for a in addrs if not is_loopback(a.addr) and not a.flags & unsure]
    held = [r for r in local_routes if not is_loopback(r.entry.net)]
    if not listed or not held or any(a.addr in from_table for a in listed):
        return
    mine = ", ".join(f"{a.cidr.split('/')[0]} on {a.dev}" for a in listed[:3]) + (", ..." if len(listed) > 3 else "")
    theirs = ", ".join(f"{ip_str(r.entry.net)} on {r.entry.dev}" for r in held[:3]) + (", ..." if len(held) > 3 else "")
    raise InputError(f"no address here ({mine}) is in the local table of {routes_file} ({theirs}), but the kernel "
                     "gives every address of the node a local route: these are two nodes' files; give one node's "
                     "(hairpin collect saves them together)", addrs_file, listed[0].line)  # fmt: skip


def _tables_no_rule_reaches(routes: list[iproute.ParsedRoute], names: iproute.TableNames, routes_file: str,
                            v: str) -> list[str]:  # fmt: skip
    """No ``ip rule`` file: the kernel's default rules are assumed (IPv4: 0 local, 32766 main, 32767 default,
    net/ipv4/fib_rules.c ``fib_default_rules_init``; IPv6: 0 local, 32766 main, net/ipv6/fib6_rules.c
    ``fib6_default_rules_init``), so a table the route file holds besides those is never looked up.  On an EKS
    node such a table is the AWS VPC CNI's, one per secondary ENI, which its ``1536: from POD lookup N`` rules
    send that ENI's pods to (amazon-vpc-cni-k8s cmd/routed-eni-cni-plugin/driver, fromContainerRulePriority):
    without the rules, their packets are traced out by table main's routes, which is not what the node does."""
    other: dict[str, int] = {}
    for r in routes:
        if r.entry.table not in (MAIN_TABLE, LOCAL_TABLE, DEFAULT_TABLE):
            other.setdefault(names.name(r.entry.table), r.line)
    if not other:
        return []
    held = sorted(other, key=lambda t: (not digits(t), int(t) if digits(t) else 0, t))
    first = min(other.values())
    tables = f"table{'s' if len(held) > 1 else ''} {', '.join(held)}"
    defaults = "local, main" if v == "6" else "local, main, default"
    who = ("the AWS VPC CNI sends a secondary ENI's pods to its table with `from POD lookup N` rules, without which "
           "their packets are traced by table main's routes instead" if v == "4" else
           "packets an ip rule sends there are traced by table main's routes instead")  # fmt: skip
    return [f"{routes_file}:{first}: no ip rule file: the kernel's default rules are assumed ({defaults}), so "
            f"{tables} here {'are' if len(held) > 1 else 'is'} never looked up; {who}: give `ip -{v} rule show` "
            "(--rules FILE; hairpin collect saves it)"]  # fmt: skip


def _pod_rules_without_routes(routes: list[iproute.ParsedRoute], rules: list[iproute.ParsedRule], routes_file: str,
                              rules_file: str | None) -> list[str]:  # fmt: skip
    """A ``to POD lookup main`` rule (from all) whose pod has no host route in table main: the AWS VPC CNI adds
    the two together for each pod (amazon-vpc-cni-k8s cmd/routed-eni-cni-plugin/driver
    ``setupIPBasedContainerRouteRules``: the route to the pod's host veth and the rule at 512), so a route file
    without the route is most likely a paste that lost lines; the trace then routes the pod's packets by table
    main's other routes, as the kernel would with these files."""
    hosts = {r.entry.net for r in routes if r.entry.table == MAIN_TABLE and r.entry.prefix == 32}
    out: list[str] = []
    for x in rules:
        e = x.entry
        if e is None or e.action != "lookup" or e.table != MAIN_TABLE or e.src is not None or e.dst is None:
            continue
        if e.dst[1] == 0xFFFFFFFF and e.dst[0] not in hosts:
            ip = ip_str(e.dst[0])
            rule = f"{x.priority}: {' '.join(x.tokens)}"
            out.append(f"{rules_file}:{x.line}: '{rule}' sends packets for {ip} to table main, which has no route "
                       f"to {ip} in {routes_file}: the AWS VPC CNI adds the two together for each pod (the route to "
                       "its host veth), so the route file looks cut (a paste that lost lines?); packets for "
                       f"{ip} take table main's other routes")  # fmt: skip
    return out


def _addrs_from_kernel_routes(routes: list[iproute.ParsedRoute]) -> list[iproute.ParsedAddress]:
    """Addresses implied by ``proto kernel scope link src ADDR`` routes: the kernel adds one such route per
    address with a prefix shorter than 32 (fib_add_ifaddr, net/ipv4/fib_frontend.c)."""
    out: list[iproute.ParsedAddress] = []
    for r in routes:
        e = r.entry
        if r.proto == "kernel" and e.scope == "link" and e.src is not None and e.dev is not None \
                and e.table == MAIN_TABLE and (e.src & e.mask) == e.net:  # fmt: skip
            out.append(iproute.ParsedAddress(len(out) + 1, e.dev, e.src, e.prefix, r.line))
    return out
