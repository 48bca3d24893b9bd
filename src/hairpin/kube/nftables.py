"""The ruleset kube-proxy keeps on one node in nftables mode, as ``nft list table ip kube-proxy`` prints it.

``ruleset(scenario, node)`` is a pure function of the scenario.  It writes what kubernetes/kubernetes
pkg/proxy/nftables/proxier.go (``setupNFTables`` + ``syncProxyRules``; KEP-3866: alpha 1.29, beta
1.31, GA 1.33) writes, in the text form ``nft list table`` gives back after ``nft -f`` (so the text
loads as is, and listing the loaded table gives the same text: tests/test_kube_nftables.py checks
both on the real kernel; kube-proxy's ``TestOverallNFTablesRules`` is compared with it for 1.34 - 1.35 in
tests/test_kube_oracle_lab.py (master), for 1.30 - 1.33 in tests/test_kube_oracle_nft.py and for 1.36+
in tests/test_kube_oracle_nft136.py, from copies of proxier_test.go of those lines).

Layouts (``NftLayout``), with what each rests on:

- 1.29 (alpha) is refused: its filter chains sat at ``dstnat - 1``, the firewall checks ran in
  input/forward and a service's source ranges had another form; kubernetes PRs #122296, #122614
  and #122692 (all merged for 1.30) changed them, and no 1.29 source was read for hairpin;
- 1.30 - 1.33: the stored proxier.go of that line (``nftablesBaseChains``/``nftablesJumpChains``):
  filter-{prerouting,input,forward,output} at ``dstnat - 10``, filter-output-post-dnat at
  ``dstnat + 10``; the ``cluster-ips`` set and the ``cluster-ips-check`` chain (PR #122692: reject
  invalid ports of ClusterIPs, drop unallocated ClusterIPs of the service CIDRs);
  ``service-endpoints-check`` (input, forward, output) and ``nodeport-endpoints-check`` (input);
  the ClusterIP masquerade rule also matches the service port (``ip daddr C tcp dport P ip saddr
  != CIDR``; kubernetes PR #131492 dropped the port after v1.33.0);
- 1.34 and later: PR #132456 (merged 2025-06): filter-prerouting-pre-dnat and
  filter-output-pre-dnat at ``dstnat - 10`` (the firewall checks), filter-{forward,input,output}
  at ``filter`` (0), filter-output-post-dnat folded into filter-output; the base rules of
  proxier_test.go ``TestOverallNFTablesRules`` (master);
- 1.36 and later: kubernetes PR #135800 ("rework nftables masquerading code, part 1", in the
  v1.36.0 changelog) and its follow-up PR #136499 (release note NONE), read in the stored
  pkg/proxy/nftables/proxier.go of jesseward/kubernetes @ 5ec89f49 (``setupNFTables``,
  ``syncProxyRules``, ``writeServiceToEndpointDNATs``): no ``mark-for-masquerade`` chain (the mark
  is set in place: ``meta mark set meta mark | 0x4000``); the ClusterIP masquerade rule is one rule
  at the head of ``services`` (``ip daddr @cluster-ips ip saddr != CIDR``); a service chain without
  ClientIP affinity DNATs itself through ``dnat ip to numgen random mod N map { i : ip . port }``
  (endpoint chains only with affinity, without a masquerade rule); hairpin traffic is masqueraded
  in ``masquerading`` by ``ct status dnat`` and a ``hairpin-connections`` set of
  ``ep . ep . proto . port`` for every local endpoint (created first of the sets).

Per service port (1.30 - 1.35; 1.36 as above): ``service-<HASH>-<ns>/<name>/<proto>/<port>`` (Cluster policy: the
local-traffic detector's masquerade, ClientIP affinity checks, then ONE ``numgen random mod N
vmap`` rule, each endpoint with probability exactly 1/N), ``local-…`` (Local policy),
``external-…`` (NodePort, load-balancer VIPs and external IPs), ``endpoint-…__<ip>/<port>``,
``firewall-…`` (loadBalancerSourceRanges), ``affinity-…`` sets; the ``cluster-ips`` set, the
``service-ips`` / ``service-nodeports`` / ``no-endpoint-*`` / ``firewall-ips`` map elements.

IPv6 (an IPv6 scenario, ``Scenario.family`` 6): ``table ip6 kube-proxy``, what the proxier writes for the
IPv6 family (``setupNFTables`` and ``syncProxyRules``, their ``ipX`` / ``ipvX_addr`` / ``noLocalhost``, in the
stored proxier.go of kubernetes/kubernetes and jesseward/kubernetes @ 5ec89f49; ``_Family``): ``ip6`` matches,
``ipv6_addr`` sets and map keys, ``ip6 daddr != ::1`` for NodePorts on every local address, DNAT targets
``[addr]:port`` (``epInfo.String()``; 1.36: ``dnat ip6 to numgen ... map { i : addr . port }``), and endpoint
chain names with the address's colons as dots (``servicePortEndpointChainNameBase``).  The text loads and lists
back identically too (tests/test_ipv6_nftables.py, on the kernel).

Facts assumed for the node: masquerade bit 14 (mark 0x4000); ``--nodeport-addresses`` at the
nftables mode's default, the node's primary IP (kubernetes.io "virtual IPs and service proxies",
nftables mode, "NodePort interfaces"): the ``nodeport-ips`` set holds the scenario's node address;
the service CIDRs (ServiceCIDR objects) are ``kube_proxy.service_cidr`` when the scenario gives it
(the drop rule of ``cluster-ips-check`` is written only then, as kube-proxy writes it only when it
knows them).  Services are written in scenario order (kube-proxy walks a Go map), endpoints in the
scenario's order.  Elements of a map or set with more than one element are listed here in the
order they are added; ``nft list`` prints them in the kernel hash's order, which depends on a
random seed per set (tests compare them as sets).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass, field

from hairpin.kube import names
from hairpin.kube.layout import nftables_layout_for
from hairpin.kube.proxy import externally_accessible, lb_vips, nodeport_addresses
from hairpin.scenario import Scenario, Service, ServicePort
from hairpin.text import digits

__all__ = ["COMMENT_MAX", "MASQ_MARK", "TABLE", "NftLayout", "chain_base", "element_comment", "endpoint_chain", "ruleset",
           "service_chain"]

TABLE = "kube-proxy"
MASQ_MARK = 0x4000

_PORT_KEY = "type inet_proto . inet_service : verdict"


@dataclass(frozen=True)
class _Family:
    """What proxier.go's ``setupNFTables`` and ``syncProxyRules`` write per IP family: ``ipX`` (``ip`` or
    ``ip6``), ``ipvX_addr`` (the type of address sets and map keys) and ``noLocalhost`` (the NodePort rules'
    loopback exclusion when ``--nodeport-addresses`` matches every address: ``ip daddr != 127.0.0.0/8`` or
    ``ip6 daddr != ::1``)."""

    v6: bool

    @property
    def ipx(self) -> str:
        return "ip6" if self.v6 else "ip"

    @property
    def addr(self) -> str:
        return "ipv6_addr" if self.v6 else "ipv4_addr"

    @property
    def no_localhost(self) -> str:
        return "ip6 daddr != ::1" if self.v6 else "ip daddr != 127.0.0.0/8"

    @property
    def vmap_key(self) -> str:
        return f"type {self.addr} . inet_proto . inet_service : verdict"

    @property
    def hairpin_key(self) -> str:
        return f"type {self.addr} . {self.addr} . inet_proto . inet_service"

    @property
    def per_line(self) -> int:
        """Elements of an address set on one line of ``nft list``: two IPv4 addresses, one IPv6 address (nft 1.0.6
        on the kernel: its listing breaks the line after every element of a type other than IPv4's address)."""
        return 1 if self.v6 else 2

    def hostport(self, ip: str, port: int) -> str:
        """``epInfo.String()``: ``net.JoinHostPort``, ``[ip]:port`` for IPv6."""
        return f"[{ip}]:{port}" if self.v6 else f"{ip}:{port}"


@dataclass(frozen=True)
class NftLayout:
    """The version-dependent skeleton: base chains (name, type, hook, priority as ``nft list`` prints
    it) and the jumps from them, in kube-proxy's order."""

    minor: int

    @property
    def base_chains(self) -> tuple[tuple[str, str, str, str], ...]:
        if self.minor >= 34:  # PR #132456
            return (
                ("filter-prerouting-pre-dnat", "filter", "prerouting", "dstnat - 10"),
                ("filter-output-pre-dnat", "filter", "output", "-110"),
                ("filter-forward", "filter", "forward", "filter"),
                ("filter-input", "filter", "input", "filter"),
                ("filter-output", "filter", "output", "filter"),
                ("nat-prerouting", "nat", "prerouting", "dstnat"),
                ("nat-output", "nat", "output", "-100"),
                ("nat-postrouting", "nat", "postrouting", "srcnat"),
            )
        return (
            ("filter-prerouting", "filter", "prerouting", "dstnat - 10"),
            ("filter-input", "filter", "input", "-110"),
            ("filter-forward", "filter", "forward", "-110"),
            ("filter-output", "filter", "output", "-110"),
            ("filter-output-post-dnat", "filter", "output", "-90"),
            ("nat-prerouting", "nat", "prerouting", "dstnat"),
            ("nat-output", "nat", "output", "-100"),
            ("nat-postrouting", "nat", "postrouting", "srcnat"),
        )

    @property
    def mark_chain(self) -> bool:
        """The ``mark-for-masquerade`` chain and the per-endpoint hairpin rules (before 1.36: PR #135800)."""
        return self.minor < 36

    @property
    def jumps(self) -> tuple[tuple[str, str, str], ...]:
        """(to, from, match) in nftablesJumpChains order."""
        pre, out_pre = ("filter-prerouting-pre-dnat", "filter-output-pre-dnat") if self.minor >= 34 else (
            "filter-prerouting", "filter-output")  # fmt: skip
        post = "filter-output" if self.minor >= 34 else "filter-output-post-dnat"
        new = "ct state new"
        return (
            ("nodeport-endpoints-check", "filter-input", new),
            ("service-endpoints-check", "filter-input", new),
            ("service-endpoints-check", "filter-forward", new),
            ("service-endpoints-check", "filter-output", new),
            ("firewall-check", pre, new),
            ("firewall-check", out_pre, new),
            ("services", "nat-output", ""),
            ("services", "nat-prerouting", ""),
            ("masquerading", "nat-postrouting", ""),
            ("cluster-ips-check", "filter-forward", new),
            ("cluster-ips-check", post, new),
        )


def chain_base(name: str) -> str:
    """proxier.go ``hashAndTruncate``: ``base32(sha256(name))[:8] + "-" + name`` (240-char cap)."""
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()
    out = digest[:8] + "-" + name
    cap = 256 - 16
    return out if len(out) <= cap else out[: cap - 3] + "..."


def _spn_path(svc: Service, sp: ServicePort) -> str:
    return f"{svc.namespace}/{svc.name}/{sp.protocol.lower()}/{sp.name}"


def service_chain(svc: Service, sp: ServicePort, prefix: str = "service-") -> str:
    """``service-`` / ``external-`` / ``local-`` / ``firewall-`` chain of one service port."""
    return prefix + chain_base(_spn_path(svc, sp))


def endpoint_chain(svc: Service, sp: ServicePort, ip: str, port: int, prefix: str = "endpoint-") -> str:
    """``endpoint-<HASH>-ns/name/proto/port__ip/port`` (``affinity-`` for the affinity set).  An IPv6 address's
    colons, which a chain name may not hold, are dots (``servicePortEndpointChainNameBase``:
    ``strings.ReplaceAll(endpointIP, ":", ".")``), before the hash is taken."""
    return prefix + chain_base(f"{_spn_path(svc, sp)}__{ip.replace(':', '.')}/{port}")


#: the longest comment nft takes, in bytes: libnftnl ``include/libnftnl/udata.h`` NFTNL_UDATA_COMMENT_MAXLEN, which
#: nftables' parser (``src/parser_bison.y``, comment_spec) enforces with "comment too long, 128 characters maximum
#: allowed" (knftables ``types.go`` CommentLengthMax says the same and leaves the cut to its callers)
COMMENT_MAX = 128


def element_comment(spn: str) -> str:
    """The comment kube-proxy gives a service port's map elements, ``ns/name:port`` (svcPortNameString), cut to
    ``COMMENT_MAX`` bytes.  Names and port names are ASCII (DNS labels, IANA service names), so bytes are
    characters.  kube-proxy wrote it whole up to 1.36: nft then refuses the whole transaction, so a node with such an
    element gets no Service rules at all (kubernetes issue #139515).  1.37 cuts it to the 128-byte limit (PR #139516,
    "proxy/nftables: Truncate service comments to prevent length limit violations", in CHANGELOG-1.37.md since
    v1.37.0-alpha.1; no backport to an earlier line was found).  The cut comment is written here for every
    release, so the ruleset loads; ``hairpin.scenario_checks`` warns that releases before 1.37 fail instead."""
    return spn[:COMMENT_MAX]


def _block(kind: str, name: str, head: list[str], body: list[str]) -> list[str]:
    return [f"\t{kind} {name} {{", *(f"\t\t{x}" for x in head), *(f"\t\t{x}" for x in body), "\t}", ""]


_PROTO = {"tcp": 6, "udp": 17, "sctp": 132}


def _key_order(element: str) -> int:
    """Where ``nft list`` puts an element (nft 1.0.6, checked on the kernel): a single address key in
    numeric order; a concatenated key (``addr . proto . port``, ``proto . port``) by its data
    registers (each field padded to 4 bytes, network byte order) read as one little-endian integer,
    so the port field orders first, then the protocol, then the address."""
    key = element.split(" comment ")[0].split(" : ")[0].strip()
    fields = key.split(" . ")
    if len(fields) == 1:
        return int(ipaddress.ip_address(fields[0].split("/")[0]))
    data = b""
    for f in fields:
        if f in _PROTO:
            data += bytes([_PROTO[f], 0, 0, 0])
        elif digits(f):
            data += int(f).to_bytes(2, "big") + b"\0\0"
        else:
            data += ipaddress.ip_address(f).packed
    return int.from_bytes(data, "little")


def _elements(elements: list[str], per_line: int = 1) -> list[str]:
    """``elements = { ... }`` as nft lists it: sorted (``_key_order``), one map element or two set
    elements per line."""
    if not elements:
        return []
    ordered = sorted(elements, key=_key_order)
    rows = [", ".join(ordered[i : i + per_line]) for i in range(0, len(ordered), per_line)]
    return ["elements = { " + ",\n\t\t\t     ".join(rows) + " }"]


def _duration(seconds: int) -> str:
    """nft's time format: ``10800`` -> ``3h``, ``90`` -> ``1m30s``."""
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        out += f"{n}{unit}" if n else ""
    return out or "0s"


@dataclass
class _Out:
    """What syncProxyRules adds, per container, in order."""

    sets: dict[str, list[str]] = field(default_factory=dict)
    affinity: list[tuple[str, int]] = field(default_factory=list)
    chains: list[tuple[str, list[str]]] = field(default_factory=list)

    def add(self, container: str, element: str) -> None:
        self.sets.setdefault(container, []).append(element)


def _service_port(o: _Out, s: Scenario, node: str, svc: Service, sp: ServicePort, minor: int, fam: _Family) -> None:
    proto = sp.protocol.lower()
    ipx = fam.ipx
    spn = names.service_port_name(svc.namespace, svc.name, sp.name)
    pods = s.endpoints_of(svc)
    eps = [(p.ip, sp.target_port, p.node == node) for p in pods]
    local = [e for e in eps if e[2]]
    externally = externally_accessible(svc, sp)
    local_policy = externally and svc.external_traffic_policy == "Local"
    internal_local = svc.internal_traffic_policy == "Local"
    node_port = sp.node_port if svc.type in ("NodePort", "LoadBalancer") else None
    vips = lb_vips(svc)
    cidr = s.kube_proxy.cluster_cidr
    cluster, ext, loc, fw = (service_chain(svc, sp, p) for p in ("service-", "external-", "local-", "firewall-"))
    has_eps = bool(eps)
    has_internal = has_eps and (not internal_local or bool(local))
    has_external = has_eps and (not local_policy or bool(local))
    uses_cluster = not internal_local or externally  # UsesClusterEndpoints()
    uses_fw = has_eps and bool(vips) and bool(svc.load_balancer_source_ranges)
    int_verdict = "goto reject-chain" if not has_eps else "drop"
    ext_verdict = int_verdict
    key = f"{proto} . {sp.port}"
    no_ep = f'comment "{element_comment(spn)}"'
    # 1.36+ (kubernetes PR #135800): the mark is set in place, no mark-for-masquerade chain
    mark_chain = minor < 36
    masq = "jump mark-for-masquerade" if mark_chain else f"meta mark set meta mark | 0x{MASQ_MARK:08x}"
    affinity = svc.session_affinity == "ClientIP"
    members = eps if uses_cluster else local
    if not mark_chain:
        # 1.36+ syncProxyRules: every local endpoint the node can reach goes into hairpin-connections
        # (ip . ip . protocol . endpoint port), before the service's other elements
        for ip, port, is_local in members:
            if is_local:
                o.add("hairpin-connections", f"{ip} . {ip} . {proto} . {port}")
    o.add("cluster-ips", svc.cluster_ip)
    if has_internal:
        o.add("service-ips", f"{svc.cluster_ip} . {key} : goto {loc if internal_local else cluster}")
    else:
        o.add("no-endpoint-services", f"{svc.cluster_ip} . {key} {no_ep} : {int_verdict}")
    for ip in (*svc.external_ips, *vips):
        if has_eps:
            o.add("service-ips", f"{ip} . {key} : goto {ext}")
        if not has_external:
            o.add("no-endpoint-services", f"{ip} . {key} {no_ep} : {ext_verdict}")
    if uses_fw:
        for ip in vips:
            o.add("firewall-ips", f"{ip} . {key} : goto {fw}")
    if node_port:
        if has_eps:
            o.add("service-nodeports", f"{proto} . {node_port} : goto {ext}")
        if not has_external:
            o.add("no-endpoint-nodeports", f"{proto} . {node_port} {no_ep} : {ext_verdict}")
    if not has_eps:
        return
    chains: list[tuple[str, list[str]]] = []
    endpoint_chains: list[tuple[str, list[str]]] = []

    def policy(chain: str, chosen: list[tuple[str, int, bool]], masq_rule: bool) -> None:
        rules = []
        if masq_rule and cidr and mark_chain:
            # 1.30 - 1.33 also match the service port; kubernetes PR #131492 ("nftables: cleanup service
            # chain checks", opened 2025-04-26, after v1.33.0) dropped it: the service-ips lookup
            # that led here already matched protocol and port.  1.36+: one rule in ``services``.
            dport = f" {proto} dport {sp.port}" if minor < 34 else ""
            rules.append(f"{ipx} daddr {svc.cluster_ip}{dport} {ipx} saddr != {cidr} jump mark-for-masquerade")
        if affinity:
            for ip, port, _ in chosen:
                aff, epc = endpoint_chain(svc, sp, ip, port, "affinity-"), endpoint_chain(svc, sp, ip, port)
                rules.append(f"{ipx} saddr @{aff} goto {epc}")
        if affinity or mark_chain:
            vm = ", ".join(f"{i} : goto {endpoint_chain(svc, sp, ip, port)}" for i, (ip, port, _) in enumerate(chosen))
            rules.append(f"numgen random mod {len(chosen)} vmap {{ {vm} }}")
        else:
            # 1.36+ writeServiceToEndpointDNATs, as nft 1.0.6 lists it
            dm = ", ".join(f"{i} : {ip} . {port}" for i, (ip, port, _) in enumerate(chosen))
            rules.append(f"meta l4proto {proto} dnat {ipx} to numgen random mod {len(chosen)} map {{ {dm} }}")
        chains.append((chain, rules))

    if affinity:
        o.affinity += [(endpoint_chain(svc, sp, ip, port, "affinity-"), svc.session_affinity_timeout)
                       for ip, port, _ in members]  # fmt: skip
    if uses_cluster:
        policy(cluster, eps, not internal_local)
    if (local_policy or internal_local) and local:
        policy(loc, local, internal_local)
    if externally:
        rules = []
        if not local_policy:
            rules.append(masq if mark_chain else f'{masq} comment "masquerade"')
        else:
            if cidr:
                rules.append(f'{ipx} saddr {cidr} goto {cluster} comment "short-circuit pod traffic"')
            rules += [
                f'fib saddr type local {masq} comment "masquerade local traffic"',
                f'fib saddr type local goto {cluster} comment "short-circuit local traffic"',
            ]
        if has_external:
            rules.append(f"goto {loc if local_policy else cluster}")
        chains.append((ext, rules))
    for ip, port, _ in members if affinity or mark_chain else ():
        rules = [f"{ipx} saddr {ip} jump mark-for-masquerade"] if mark_chain else []
        if affinity:
            rules.append(f"update @{endpoint_chain(svc, sp, ip, port, 'affinity-')} {{ {ipx} saddr }}")
        rules.append(f"meta l4proto {proto} dnat to {fam.hostport(ip, port)}")
        endpoint_chains.append((endpoint_chain(svc, sp, ip, port), rules))
    if uses_fw:
        nets = sorted(svc.load_balancer_source_ranges, key=lambda n: int(ipaddress.ip_network(n).network_address))
        ranges = nets[0] if len(nets) == 1 else "{ " + ", ".join(nets) + " }"
        chains.append((fw, [f"{ipx} saddr != {ranges} drop"]))
    # chains are listed in the order they were created: 1.36+ syncProxyRules ensures the endpoint
    # chains first (its first loop over the endpoints), the service's own chains after them
    if not mark_chain:
        o.chains += endpoint_chains + chains
    elif uses_fw:  # before 1.36 hairpin lists the firewall chain last (its own order, kept)
        o.chains += chains[:-1] + endpoint_chains + chains[-1:]
    else:
        o.chains += chains + endpoint_chains


def ruleset(scenario: Scenario, node: str) -> str:
    """kube-proxy's ``table ip kube-proxy`` on ``node``, as ``nft list table ip kube-proxy`` prints it (``table ip6
    kube-proxy`` in an IPv6 scenario: kube-proxy's IPv6 proxier, ``_Family``)."""
    lay = NftLayout(nftables_layout_for(scenario.kube_proxy.version).minor)
    fam = _Family(scenario.family == 6)
    ipx = fam.ipx
    node_ips = nodeport_addresses(scenario, node, default_all=False)
    mark = f"0x{MASQ_MARK:08x}"
    o = _Out()
    for svc in scenario.services:
        for sp in svc.ports:
            _service_port(o, scenario, node, svc, sp, lay.minor, fam)
    els = o.sets
    lines = [f"table {ipx} {TABLE} {{", '\tcomment "rules for kube-proxy"']
    if not lay.mark_chain:  # 1.36+ setupNFTables adds this set before cluster-ips
        lines += _block("set", "hairpin-connections", [fam.hairpin_key, 'comment "service hairpin connections"'],
                        _elements(list(dict.fromkeys(els.get("hairpin-connections", [])))))  # fmt: skip
    lines += _block("set", "cluster-ips", [f"type {fam.addr}", 'comment "Active ClusterIPs"'],
                    _elements(list(dict.fromkeys(els.get("cluster-ips", []))), fam.per_line))  # fmt: skip
    if node_ips is not None:  # MatchAll: kube-proxy deletes the set
        lines += _block("set", "nodeport-ips", [f"type {fam.addr}", 'comment "IPs that accept NodePort traffic"'],
                        _elements(node_ips, fam.per_line))  # fmt: skip
    to_node = f"{ipx} daddr @nodeport-ips" if node_ips is not None else f"fib daddr type local {fam.no_localhost}"
    for name, key, note in (
        ("no-endpoint-services", fam.vmap_key, "vmap to drop or reject packets to services with no endpoints"),
        ("no-endpoint-nodeports", _PORT_KEY, "vmap to drop or reject packets to service nodeports with no endpoints"),
        ("firewall-ips", fam.vmap_key, "destinations that are subject to LoadBalancerSourceRanges"),
        ("service-ips", fam.vmap_key, "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
        ("service-nodeports", _PORT_KEY, "NodePort traffic"),
    ):
        lines += _block("map", name, [key, f'comment "{note}"'], _elements(els.get(name, [])))
    for name, timeout in o.affinity:
        # nft lists the default size of a dynamic set (65535) although kube-proxy gives none
        lines += _block("set", name, [f"type {fam.addr}", "size 65535", "flags dynamic,timeout", f"timeout {_duration(timeout)}"], [])
    jumps: dict[str, list[str]] = {}
    for to, src, match in lay.jumps:
        jumps.setdefault(src, []).append(f"{match} jump {to}".strip())
    for name, kind, hook, prio in lay.base_chains:
        lines += _block("chain", name, [f"type {kind} hook {hook} priority {prio}; policy accept;"], jumps.get(name, []))
    cluster_check = [f'{ipx} daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"']
    if scenario.kube_proxy.service_cidr:
        cluster_check.append(
            f'{ipx} daddr {scenario.kube_proxy.service_cidr} drop comment "Drop traffic to unallocated ClusterIPs"'
        )
    regular = {
        "nodeport-endpoints-check": [
            (f"{ipx} daddr @nodeport-ips" if node_ips is not None else fam.no_localhost)
            + " meta l4proto . th dport vmap @no-endpoint-nodeports"
        ],
        "service-endpoints-check": [f"{ipx} daddr . meta l4proto . th dport vmap @no-endpoint-services"],
        "firewall-check": [f"{ipx} daddr . meta l4proto . th dport vmap @firewall-ips"],
        "services": [
            f"{ipx} daddr . meta l4proto . th dport vmap @service-ips",
            f"{to_node} meta l4proto . th dport vmap @service-nodeports",
        ],
        "masquerading": [
            f"meta mark & {mark} == 0x00000000 return",
            f"meta mark set meta mark ^ {mark}",
            "masquerade fully-random",
        ] if lay.mark_chain else [
            # 1.36+ setupNFTables: the marked packet, then a DNATed connection of an endpoint to itself
            f"meta mark & {mark} != 0x00000000 meta mark set meta mark ^ {mark} masquerade fully-random",
            f"ct status dnat {ipx} saddr . {ipx} daddr . meta l4proto . th dport @hairpin-connections masquerade "
            "fully-random",
        ],
        "cluster-ips-check": cluster_check,
        "mark-for-masquerade": [f"meta mark set meta mark | {mark}"],
    }
    cidr = scenario.kube_proxy.cluster_cidr
    if not lay.mark_chain and cidr:
        # 1.36+: the local-traffic detector's ClusterIP masquerade, once, at the head of services
        regular["services"].insert(0, f"{ipx} daddr @cluster-ips {ipx} saddr != {cidr} meta mark set meta mark | {mark} "
                                      'comment "masquerade clusterIP traffic from outside cluster"')  # fmt: skip
    for name in dict.fromkeys([to for to, _, _ in lay.jumps] + (["mark-for-masquerade"] if lay.mark_chain else [])):
        lines += _block("chain", name, [], regular[name])
    lines += _block("chain", "reject-chain", ['comment "helper for @no-endpoint-services / @no-endpoint-nodeports"'],
                    ["reject"])  # fmt: skip
    for name, rules in o.chains:
        lines += _block("chain", name, [], rules)
    lines[-1] = "}"
    return "\n".join(lines) + "\n"
