"""The rules kube-proxy (iptables mode) keeps on one node, as ``iptables-save`` prints them.

``iptables_save(scenario, node)`` is a pure function of the scenario: for every Service port it
writes what kubernetes/kubernetes pkg/proxy/iptables/proxier.go ``syncProxyRules`` writes (the
``*filter`` and ``*nat`` tables), plus the jump rules kube-proxy ensures in the built-in chains,
in the order ``iptables-save`` shows them after ``iptables-restore`` (see ``hairpin.kube.dump``).
The version-dependent choices live in ``hairpin.kube.layout``; docs/kube-proxy.md shows both
layouts for the seed.

Facts of an EKS node that the text depends on, and what is assumed:
- ``--cluster-cidr`` is not set in EKS's kube-proxy config, so there is no local-traffic detector:
  no ``! -s <clusterCIDR>`` masquerade rules, no "pod traffic for ... external destinations" and no
  "Redirect pods trying to reach external loadbalancer VIP" rules (proxier.go: only written when
  ``clusterCIDR``/``localDetector.IsImplemented()``), as the seed's dump shows;
- masqueradeAll false, masquerade bit 14 (mark 0x4000), iptables >= 1.6.2 (``--random-fully``);
- the NLB's ingress is a hostname, not an IP, so no ``loadbalancer IP`` rules and no KUBE-FW chain;
- nodePortAddresses unset ("all": ``-m addrtype --dst-type LOCAL``), localhostNodePorts true
  (>= 1.28) and the nfacct counters absent (the rules then carry no ``-m nfacct``);
- IPv6 (an IPv6 scenario, ``Scenario.family`` 6): the rules of kube-proxy's IPv6 proxier as ip6tables-save prints
  them, from the same syncProxyRules (one proxier per family, NewProxier(ipFamily ...)): host addresses as
  ``/128``; endpoints as ``net.JoinHostPort`` writes them (``[addr]:port``, in DNAT targets, comments and the
  KUBE-SEP hash); REJECT's default reply ``icmp6-port-unreachable`` (ip6t_REJECT); the NodePort tail rule
  ``-m addrtype --dst-type LOCAL`` plus ``! -d ::1/128`` ("For IPv6 they never work": localhost NodePorts);
  no KUBE-FIREWALL "block incoming localnet connections" rule (written only ``if !isIPv6 &&
  localhostNodePorts``).  Masquerading (KUBE-MARK-MASQ, KUBE-POSTROUTING) is the same in both families;
- Services are written in scenario order (kube-proxy walks a Go map, so a real node's order of
  rules between Services in KUBE-SERVICES/KUBE-NODEPORTS is arbitrary), endpoints in the order the
  scenario lists them (the order of the Endpoints/EndpointSlice object), all ready.
"""

from __future__ import annotations

from dataclasses import dataclass

from hairpin.kube import names
from hairpin.kube.dump import Tables, comment
from hairpin.kube.kubelet import LOCALNET_RULE
from hairpin.kube.layout import Layout, layout_for, parse_version
from hairpin.scenario import Pod, Scenario, Service, ServicePort

__all__ = ["REJECT", "REJECT6", "Endpoint", "externally_accessible", "host", "iptables_save", "lb_vips",
           "nodeport_addresses", "reject", "tables"]  # fmt: skip

MASQ_MARK = "0x4000"
DROP_MARK = "0x8000"
#: ``-j REJECT`` as iptables-save prints it (the default --reject-with for IPv4)
REJECT = "REJECT --reject-with icmp-port-unreachable"
REJECT6 = "REJECT --reject-with icmp6-port-unreachable"
NODEPORTS_COMMENT = "kubernetes service nodeports; NOTE: this must be the last rule in this chain"


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of a Service port as kube-proxy sees it."""

    ip: str
    port: int
    local: bool
    chain: str

    @property
    def address(self) -> str:
        """``net.JoinHostPort``: ``ip:port``, ``[ip]:port`` for IPv6."""
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


def host(ip: str) -> str:
    """One address as a ``-s``/``-d`` network the way iptables-save prints it: ``/32``, or ``/128`` for IPv6."""
    return f"{ip}/128" if ":" in ip else f"{ip}/32"


def reject(s: Scenario) -> str:
    """``-j REJECT`` as the family's iptables-save prints it (default --reject-with: ipt_REJECT / ip6t_REJECT)."""
    return REJECT6 if s.family == 6 else REJECT


def _endpoints(s: Scenario, svc: Service, sp: ServicePort, spn: str, node: str) -> list[Endpoint]:
    pods: list[Pod] = s.endpoints_of(svc)
    out = []
    for p in pods:
        address = f"{p.ip}:{sp.target_port}"
        out.append(Endpoint(p.ip, sp.target_port, p.node == node, names.endpoint_chain(spn, sp.protocol, address)))
    return out


def _probability_args(n_left: int) -> str:
    return f"-m statistic --mode random --probability {names.saved_probability(names.kube_proxy_probability(n_left))}"


def _dispatch(t: Tables, chain: str, eps: list[Endpoint], comment_of: list[str]) -> None:
    """Rules that pick one endpoint uniformly: 1/n, 1/(n-1), ..., then the last unconditionally."""
    n = len(eps)
    for i, ep in enumerate(eps):
        stat = f" {_probability_args(n - i)}" if i < n - 1 else ""
        t.add("nat", chain, f"{comment_of[i]}{stat} -j {ep.chain}")


def _recent_mask(ip: str) -> str:
    """``-m recent``'s default ``--mask`` as iptables-save prints it: every bit of the family's address
    (libxt_recent ``recent_save``: the IPv4 or the IPv6 form; ip6tables-save 1.8.9 prints
    ``ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff``, checked with ip6tables-restore)."""
    return "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" if ":" in ip else "255.255.255.255"


def _sep_chains(t: Tables, eps: list[Endpoint], proto: str, cmt: str, svc: Service | None = None) -> None:
    for ep in eps:
        t.add("nat", ep.chain, f"-s {host(ep.ip)} {cmt} -j KUBE-MARK-MASQ")
        recent = ""
        if svc is not None and svc.session_affinity == "ClientIP":  # update the client's affinity list
            recent = f" -m recent --set --name {ep.chain} --mask {_recent_mask(ep.ip)} --rsource"
        t.add("nat", ep.chain, f"-p {proto} {cmt}{recent} -m {proto} -j DNAT --to-destination {ep.address}")


def _builtin_jumps(t: Tables, lay: Layout) -> None:
    """The jumps kube-proxy ensures with ``EnsureRule(Prepend, ...)`` (iptablesJumpChains), so the
    last one listed comes first in its built-in chain."""
    new = "-m conntrack --ctstate NEW"
    ext = f"{new} {comment('kubernetes externally-visible service portals')} -j KUBE-EXTERNAL-SERVICES"
    svc = f"{new} {comment('kubernetes service portals')} -j KUBE-SERVICES"
    fwd = f"{comment('kubernetes forwarding rules')} -j KUBE-FORWARD"
    if lay.legacy:
        jumps = [("INPUT", ext), ("FORWARD", svc), ("OUTPUT", svc), ("INPUT", svc), ("FORWARD", fwd)]
    else:
        hc = f"{comment('kubernetes health check service ports')} -j KUBE-NODEPORTS"
        jumps = [("INPUT", ext), ("FORWARD", ext), ("INPUT", hc), ("FORWARD", svc), ("OUTPUT", svc), ("FORWARD", fwd)]
        if lay.proxy_firewall:
            pf = f"{new} {comment('kubernetes load balancer firewall')} -j KUBE-PROXY-FIREWALL"
            jumps += [("INPUT", pf), ("OUTPUT", pf), ("FORWARD", pf)]
    for chain, rule in jumps:
        t.chain("filter", chain).insert(0, rule)
    portals = f"{comment('kubernetes service portals')} -j KUBE-SERVICES"
    t.chain("nat", "OUTPUT").insert(0, portals)
    t.chain("nat", "PREROUTING").insert(0, portals)
    t.chain("nat", "POSTROUTING").insert(0, f"{comment('kubernetes postrouting rules')} -j KUBE-POSTROUTING")


def _top_chains(t: Tables, lay: Layout, random_fully: bool = True, family: int = 4) -> None:
    filter_chains = ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD"]
    if not lay.legacy:
        filter_chains.append("KUBE-NODEPORTS")
    if lay.proxy_firewall:
        filter_chains.append("KUBE-PROXY-FIREWALL")
    for c in filter_chains:
        t.chain("filter", c)
    for c in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"):
        t.chain("nat", c)
    # PR #92035 (v1.18.5+, and every later release): RETURN unless marked, clear the mark, MASQUERADE.
    t.add("nat", "KUBE-POSTROUTING", f"-m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN")
    t.add("nat", "KUBE-POSTROUTING", f"-j MARK --set-xmark {MASQ_MARK}/0x0")
    fully = " --random-fully" if random_fully else ""
    t.add("nat", "KUBE-POSTROUTING", f"{comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE{fully}")
    t.add("nat", "KUBE-MARK-MASQ", f"-j MARK --set-xmark {MASQ_MARK}/{MASQ_MARK}")
    if lay.proxy_writes_localnet_rule and family == 4:  # "if !isIPv6 && proxier.localhostNodePorts"
        t.add("filter", "KUBE-FIREWALL", LOCALNET_RULE)


def _legacy_service(t: Tables, svc: Service, sp: ServicePort, s: Scenario, node: str) -> None:
    """kube-proxy 1.18 syncProxyRules for one service port (pkg/proxy/iptables/proxier.go of the release-1.18
    tree; the stored copy read is the fork 2018112767/kubernetes at b3796c7b, whose proxier_test.go
    TestEndpointSliceE2E tests/test_kube_oracle_old.py compares with)."""
    proto = sp.protocol.lower()
    cidr = s.kube_proxy.cluster_cidr
    spn = names.service_port_name(svc.namespace, svc.name, sp.name, legacy_colon=True)
    cmt = comment(spn)
    svc_chain = names.service_chain(spn, proto)
    xlb = names.xlb_chain(spn, proto)
    eps = _endpoints(s, svc, sp, spn, node)
    local_policy = svc.external_traffic_policy == "Local" and svc.type in ("NodePort", "LoadBalancer")
    node_port = sp.node_port if svc.type in ("NodePort", "LoadBalancer") else None
    dport = f"-m {proto} --dport"
    if not eps:
        t.add("filter", "KUBE-SERVICES",
              f"-d {svc.cluster_ip}/32 -p {proto} {comment(spn + ' has no endpoints')} {dport} {sp.port} -j {REJECT}")
        if node_port:
            t.add("filter", "KUBE-EXTERNAL-SERVICES",
                  f"-p {proto} {comment(spn + ' has no endpoints')} -m addrtype --dst-type LOCAL {dport} {node_port} -j {REJECT}")
        if local_policy:
            t.chain("nat", xlb)
        return
    t.chain("nat", svc_chain)
    if local_policy:
        t.chain("nat", xlb)
    cluster_ip = f"-d {svc.cluster_ip}/32 -p {proto} {comment(spn + ' cluster IP')} {dport} {sp.port}"
    if cidr:  # localDetector.JumpIfNotLocal: off-cluster sources to the ClusterIP are masqueraded
        t.add("nat", "KUBE-SERVICES", f"! -s {cidr} {cluster_ip} -j KUBE-MARK-MASQ")
    t.add("nat", "KUBE-SERVICES", f"{cluster_ip} -j {svc_chain}")
    if node_port:
        if not local_policy:
            t.add("nat", "KUBE-NODEPORTS", f"-p {proto} {cmt} {dport} {node_port} -j KUBE-MARK-MASQ")
            t.add("nat", "KUBE-NODEPORTS", f"-p {proto} {cmt} {dport} {node_port} -j {svc_chain}")
        else:
            t.add("nat", "KUBE-NODEPORTS", f"-s 127.0.0.0/8 -p {proto} {cmt} {dport} {node_port} -j KUBE-MARK-MASQ")
            t.add("nat", "KUBE-NODEPORTS", f"-p {proto} {cmt} {dport} {node_port} -j {xlb}")
    _dispatch(t, svc_chain, eps, [cmt] * len(eps))
    _sep_chains(t, eps, proto, cmt)
    if not local_policy:
        return
    if cidr:  # localDetector.JumpIfLocal: pods calling the NodePort/VIP go to the whole Service
        t.add("nat", xlb,
              f"-s {cidr} {comment('Redirect pods trying to reach external loadbalancer VIP to clusterIP')} -j {svc_chain}")
    t.add("nat", xlb, f"{comment(f'masquerade LOCAL traffic for {spn} LB IP')} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ")
    t.add("nat", xlb,
          f"{comment(f'route LOCAL traffic for {spn} LB IP to service chain')} -m addrtype --src-type LOCAL -j {svc_chain}")
    local = [e for e in eps if e.local]
    if not local:
        t.add("nat", xlb, f"{comment(spn + ' has no local endpoints')} -j KUBE-MARK-DROP")
        return
    _dispatch(t, xlb, local, [comment(f"Balancing rule {i} for {spn}") for i in range(len(local))])


def externally_accessible(svc: Service, sp: ServicePort) -> bool:
    """kube-proxy's ``ExternallyAccessible()``: a nodePort, load-balancer VIPs or external IPs
    (pkg/proxy/serviceport.go).  Only then is a KUBE-EXT chain (nftables: ``external-``) written."""
    node_port = sp.node_port if svc.type in ("NodePort", "LoadBalancer") else None
    return bool(node_port or svc.external_ips or lb_vips(svc))


def lb_vips(svc: Service) -> tuple[str, ...]:
    """status.loadBalancer.ingress IPs kube-proxy captures (ipMode VIP; only for type LoadBalancer)."""
    return svc.load_balancer_ips if svc.type == "LoadBalancer" else ()


def _service(t: Tables, svc: Service, sp: ServicePort, s: Scenario, node: str, lay: Layout) -> None:
    """kube-proxy >= 1.24 syncProxyRules for one service port (pkg/proxy/iptables/proxier.go; the
    expected dumps of proxier_test.go TestOverallIPTablesRules check the same rules)."""
    proto = sp.protocol.lower()
    spn = names.service_port_name(svc.namespace, svc.name, sp.name)
    cmt = comment(spn)
    svc_chain = names.service_chain(spn, proto)
    svl = names.local_chain(spn, proto)
    ext = names.external_chain(spn, proto)
    fw = names.firewall_chain(spn, proto)
    eps = _endpoints(s, svc, sp, spn, node)
    local = [e for e in eps if e.local]
    externally = externally_accessible(svc, sp)
    # ExternalPolicyLocal(): ETP Local and externally accessible; InternalPolicyLocal(): ITP Local
    local_policy = svc.external_traffic_policy == "Local" and externally
    internal_local = svc.internal_traffic_policy == "Local"
    node_port = sp.node_port if svc.type in ("NodePort", "LoadBalancer") else None
    vips = lb_vips(svc)
    cidr = s.kube_proxy.cluster_cidr
    dport = f"-m {proto} --dport"
    has_eps = bool(eps)
    has_internal = has_eps and (not internal_local or bool(local))
    has_external = has_eps and (not local_policy or bool(local))
    internal_chain = svl if internal_local else svc_chain
    uses_fw = has_eps and bool(vips) and bool(svc.load_balancer_source_ranges)
    lb_chain = fw if uses_fw else ext
    int_target, int_comment, ext_target, ext_comment = "", "", "", ""
    if not has_eps:
        int_target = ext_target = reject(s)
        int_comment = ext_comment = f"{spn} has no endpoints"
    else:
        if not has_internal:
            int_target, int_comment = "DROP", f"{spn} has no local endpoints"
        if not has_external:
            ext_target, ext_comment = "DROP", f"{spn} has no local endpoints"
    # cluster IP
    if has_internal:
        t.add("nat", "KUBE-SERVICES",
              f"-d {host(svc.cluster_ip)} -p {proto} {comment(spn + ' cluster IP')} {dport} {sp.port} -j {internal_chain}")
    else:
        t.add("filter", "KUBE-SERVICES",
              f"-d {host(svc.cluster_ip)} -p {proto} {comment(int_comment)} {dport} {sp.port} -j {int_target}")
    # external IPs
    for ip in svc.external_ips:
        if has_eps:
            t.add("nat", "KUBE-SERVICES",
                  f"-d {host(ip)} -p {proto} {comment(spn + ' external IP')} {dport} {sp.port} -j {ext}")
        if not has_external:
            t.add("filter", "KUBE-EXTERNAL-SERVICES",
                  f"-d {host(ip)} -p {proto} {comment(ext_comment)} {dport} {sp.port} -j {ext_target}")
    # load-balancer ingress IPs (ipMode VIP)
    for ip in vips:
        if has_eps:
            t.add("nat", "KUBE-SERVICES",
                  f"-d {host(ip)} -p {proto} {comment(spn + ' loadbalancer IP')} {dport} {sp.port} -j {lb_chain}")
        if uses_fw and lay.proxy_firewall:
            t.add("filter", "KUBE-PROXY-FIREWALL",
                  f"-d {host(ip)} -p {proto} {comment(f'{spn} traffic not accepted by {fw}')} {dport} {sp.port} -j DROP")
    if not has_external:
        for ip in vips:
            t.add("filter", "KUBE-EXTERNAL-SERVICES",
                  f"-d {host(ip)} -p {proto} {comment(ext_comment)} {dport} {sp.port} -j {ext_target}")
    if node_port:
        if has_eps:
            t.add("nat", "KUBE-NODEPORTS", f"-p {proto} {cmt} {dport} {node_port} -j {ext}")
        # 1.24 still marked for drop inside KUBE-SVL (PR #110290 moved it here in 1.25)
        if not has_external and not (has_eps and lay.mark_drop_for_no_local):
            t.add("filter", "KUBE-EXTERNAL-SERVICES",
                  f"-p {proto} {comment(ext_comment)} -m addrtype --dst-type LOCAL {dport} {node_port} -j {ext_target}")
    if externally and svc.external_traffic_policy == "Local" and svc.health_check_node_port:
        t.add("filter", "KUBE-NODEPORTS",
              f"-p tcp {comment(spn + ' health check node port')} -m tcp --dport {svc.health_check_node_port} -j ACCEPT")
    if not has_eps:
        return
    # internal traffic: the local-traffic detector masquerades off-cluster sources
    if has_internal and cidr:
        t.add("nat", internal_chain,
              f"! -s {cidr} -d {host(svc.cluster_ip)} -p {proto} {comment(spn + ' cluster IP')} {dport} {sp.port} "
              "-j KUBE-MARK-MASQ")
    # external traffic (NodePort / LoadBalancer / external IPs)
    if externally:
        t.chain("nat", ext)
        if not local_policy:
            t.add("nat", ext, f"{comment(f'masquerade traffic for {spn} external destinations')} -j KUBE-MARK-MASQ")
        else:
            if cidr:
                t.add("nat", ext, f"-s {cidr} {comment(f'pod traffic for {spn} external destinations')} -j {svc_chain}")
            t.add("nat", ext,
                  f"{comment(f'masquerade LOCAL traffic for {spn} external destinations')} "
                  "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ")
            t.add("nat", ext,
                  f"{comment(f'route LOCAL traffic for {spn} external destinations')} "
                  f"-m addrtype --src-type LOCAL -j {svc_chain}")
        if has_external:
            t.add("nat", ext, f"-j {svl if local_policy else svc_chain}")
        elif lay.mark_drop_for_no_local:
            t.add("nat", ext, f"-j {svl}")
    if uses_fw:
        lb_ip = comment(f"{spn} loadbalancer IP")
        for src in svc.load_balancer_source_ranges:
            t.add("nat", fw, f"-s {src} {lb_ip} -j {ext}")
        node_ip = s.node(node).ip
        if any(_contains(src, node_ip) for src in svc.load_balancer_source_ranges):
            for ip in vips:  # VIPs are local addresses: the node's own requests come from them
                t.add("nat", fw, f"-s {host(ip)} {lb_ip} -j {ext}")
        if lay.proxy_firewall:
            t.add("nat", fw, comment(f"other traffic to {spn} will be dropped by KUBE-PROXY-FIREWALL"))
        else:  # 1.24: "the packet cannot go thru the firewall, then mark it for DROP" (kubelet's KUBE-MARK-DROP;
            # only kubelet's KUBE-FIREWALL in INPUT and OUTPUT drops marked packets: hairpin.kube.kubelet)
            t.add("nat", fw, f"{lb_ip} -j KUBE-MARK-DROP")
    # policy chains: UsesClusterEndpoints() = ITP Cluster or externally accessible (ETP Local still
    # needs them for the short-circuits); UsesLocalEndpoints() = ITP Local or ETP Local
    uses_cluster = not internal_local or externally
    if uses_cluster:
        t.chain("nat", svc_chain)
        _policy_rules(t, svc, svc_chain, spn, eps)
    if (local_policy or internal_local) and local:
        t.chain("nat", svl)
        _policy_rules(t, svc, svl, spn, local)
    elif local_policy and lay.mark_drop_for_no_local:
        t.add("nat", svl, f"{comment(spn + ' has no local endpoints')} -j KUBE-MARK-DROP")
    _sep_chains(t, eps if uses_cluster else local, proto, cmt, svc)


def nodeport_addresses(scenario: Scenario, node: str, default_all: bool) -> list[str] | None:
    """The node addresses NodePorts answer on (``--nodeport-addresses``, proxyutil.NodePortAddresses),
    or None for every local address (unset in iptables mode, ``default_all``; a 0.0.0.0/0 entry).  The
    scenario knows one address per node, its primary one; "primary" is the nftables mode's default."""
    cidrs = scenario.kube_proxy.node_port_addresses
    node_ip = scenario.node(node).ip
    if cidrs is None:
        return None if default_all else [node_ip]
    if "primary" in cidrs:
        return [node_ip]
    if "0.0.0.0/0" in cidrs or "::/0" in cidrs:
        return None
    return [node_ip] if any(_contains(c, node_ip) for c in cidrs) else []


def answers_node_ports(scenario: Scenario, node: str) -> bool:
    """Whether kube-proxy answers NodePorts at ``node``'s own address, where the NLB registers and health-checks
    an instance target: not when ``--nodeport-addresses`` leaves that address out (its rules then match no packet
    to it, so the NLB's TCP health check to the NodePort gets a RST).  The IPVS model does not read
    ``node_port_addresses``: every node answers there."""
    mode = scenario.kube_proxy.mode
    if mode == "ipvs":
        return True
    ips = nodeport_addresses(scenario, node, default_all=mode != "nftables")
    return ips is None or scenario.node(node).ip in ips


#: the first kube-proxy release whose health check node port servers listen on the --nodeport-addresses addresses
#: only (kubernetes PR #104742, CHANGELOG-1.23.md: before, each listened on ":<port>", every address)
HEALTH_ON_NODEPORT_ADDRESSES = (1, 23)


def answers_health_checks(scenario: Scenario, node: str) -> bool:
    """Whether kube-proxy's server for a Service's healthCheckNodePort listens at ``node``'s own address, where the
    NLB health-checks an instance target of an externalTrafficPolicy Local Service.  From 1.23
    (``pkg/proxy/healthcheck/service_health.go`` newServiceHealthServer: every node address
    ``--nodeport-addresses`` matches, all addresses when it matches all) only where NodePorts are answered
    (``answers_node_ports``); before, on every address."""
    if parse_version(scenario.kube_proxy.version) < HEALTH_ON_NODEPORT_ADDRESSES:
        return True
    return answers_node_ports(scenario, node)


def _contains(cidr: str, ip: str) -> bool:
    import ipaddress

    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)


def _policy_rules(t: Tables, svc: Service, chain: str, spn: str, eps: list[Endpoint]) -> None:
    """writeServiceToEndpointRules: ClientIP affinity checks first (``-m recent --rcheck``), then the
    uniform pick."""
    if svc.session_affinity == "ClientIP":
        for e in eps:
            t.add("nat", chain,
                  f"{comment(f'{spn} -> {e.address}')} -m recent --rcheck --seconds {svc.session_affinity_timeout} "
                  f"--reap --name {e.chain} --mask {_recent_mask(e.ip)} --rsource -j {e.chain}")
    _dispatch(t, chain, eps, [comment(f"{spn} -> {e.address}") for e in eps])


def tables(scenario: Scenario, node: str, *, random_fully: bool = True) -> Tables:
    """kube-proxy's rules on ``node`` as tables (see ``iptables_save`` for the text).

    ``random_fully``: the node's iptables has ``--random-fully`` (iptables >= 1.6.2, every EKS AMI);
    kube-proxy leaves it out where iptables lacks it, as its unit tests' fake iptables does."""
    scenario.node(node)  # KeyError for an unknown node
    lay = layout_for(scenario.kube_proxy.version)
    t = Tables()
    t.table("filter")
    t.table("nat")
    _top_chains(t, lay, random_fully, scenario.family)
    for svc in scenario.services:
        for sp in svc.ports:
            if lay.legacy:
                _legacy_service(t, svc, sp, scenario, node)
            else:
                _service(t, svc, sp, scenario, node, lay)
    node_ips = nodeport_addresses(scenario, node, default_all=True)
    if node_ips is None:  # nodePortAddresses unset: every local address; IPv6 "! -d ::1/128" (never localhost)
        not_lo = "! -d ::1/128 " if scenario.family == 6 else ""
        t.add("nat", "KUBE-SERVICES",
              f"{not_lo}{comment(NODEPORTS_COMMENT)} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")  # fmt: skip
    for ip in node_ips or ():  # one rule per node address in --nodeport-addresses
        t.add("nat", "KUBE-SERVICES", f"-d {host(ip)} {comment(NODEPORTS_COMMENT)} -j KUBE-NODEPORTS")
    t.add("filter", "KUBE-FORWARD", "-m conntrack --ctstate INVALID -j DROP")
    t.add("filter", "KUBE-FORWARD",
          f"{comment('kubernetes forwarding rules')} -m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT")
    conntrack = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    if lay.legacy:
        # 1.18 writes both conntrack rules whether or not --cluster-cidr is set, without -s/-d (release-1.18
        # proxier.go syncProxyRules, "kubernetes forwarding conntrack pod source rule" / "... destination rule";
        # the expected dump of its proxier_test.go TestEndpointSliceE2E holds both)
        for side in ("source", "destination"):
            t.add("filter", "KUBE-FORWARD", f"{comment(f'kubernetes forwarding conntrack pod {side} rule')} {conntrack}")
    else:
        t.add("filter", "KUBE-FORWARD", f"{comment('kubernetes forwarding conntrack rule')} {conntrack}")
    if lay.legacy or lay.mark_drop_for_no_local:
        t.chain("nat", "KUBE-MARK-DROP")  # kubelet's chain; kube-proxy jumps to it
    _builtin_jumps(t, lay)
    return t


def iptables_save(scenario: Scenario, node: str, *, random_fully: bool = True) -> str:
    """The ``*filter`` and ``*nat`` text of kube-proxy on ``node`` (iptables mode), as iptables-save prints it."""
    return tables(scenario, node, random_fully=random_fully).render(("filter", "nat"))
