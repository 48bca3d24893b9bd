"""What kube-proxy's IPVS mode programs on one node: the virtual servers, the ipsets and the
iptables rules around them.

From kubernetes pkg/proxy/ipvs/proxier.go (``syncProxyRules``, ``writeIptablesRules``,
``createAndLinkKubeChain``, ``ipsetWithIptablesChain``) and pkg/proxy/ipvs/ipset.go (set names,
types and comments):

- virtual servers: for every service port one on ClusterIP:port (the ClusterIP is bound to the
  dummy ``kube-ipvs0``, so it is a local address) and, for NodePort/LoadBalancer Services, one on
  every node address:NodePort (nodePortAddresses unset: all the node's addresses; the scenario knows
  the primary one).  Scheduler ``rr`` (the default), the endpoints as masquerading (``-m``) real
  servers.  externalTrafficPolicy Local keeps only the node's local endpoints on the NodePort
  server, and falls back to all endpoints when the node has none (kubernetes PR #97081: "allow
  access from local pods even if no local endpoints exist"; the NLB's health check keeps external
  traffic off such a node);
- ipsets: KUBE-CLUSTER-IP (hash:ip,port), KUBE-LOOP-BACK (hash:ip,port,ip: a pod reaching itself),
  KUBE-NODE-PORT-TCP / KUBE-NODE-PORT-LOCAL-TCP (bitmap:port), KUBE-HEALTH-CHECK-NODE-PORT
  (bitmap:port) and, from 1.25, KUBE-IPVS-IPS (hash:ip, the addresses on kube-ipvs0);
- iptables: NodePort traffic is marked for masquerade in nat KUBE-SERVICES -> KUBE-NODE-PORT ->
  KUBE-MARK-MASQ (mark 0x4000) and masqueraded in KUBE-POSTROUTING; IPVS itself never changes the
  source.  EKS sets no ``--cluster-cidr`` (no local-traffic detector), so KUBE-CLUSTER-IP matches
  ``src,dst`` (node processes whose source is a ClusterIP), as in the iptables proxier's notes in
  ``hairpin.kube.proxy``.

Version boundaries (the iptables proxier's, ``hairpin.kube.layout``, plus):
- KUBE-PROXY-FIREWALL / KUBE-SOURCE-RANGES-FIREWALL and KUBE-IPVS-FILTER (kubernetes PR #108460,
  "Prevent host access on VIP addresses in proxy-mode=ipvs", merged 2022-06-22: v1.25) from 1.25;
- KUBE-IPVS-OUT-FILTER (kubernetes issue #119656) and the first KUBE-SERVICES rule
  ``-s 127.0.0.0/8 -j RETURN`` from 1.29.  These two are in the current proxier.go; the exact
  release that added them is not pinned down in hairpin's sources (docs/modes.md).
"""

from __future__ import annotations

from hairpin.ipvs import IpvsTable, VirtualServer
from hairpin.kube.dump import Tables, comment
from hairpin.kube.layout import layout_for
from hairpin.model.net import ip_int
from hairpin.scenario import Scenario

__all__ = ["ipset_save", "ipsets", "tables", "virtual_servers"]

MASQ_MARK = "0x4000"
DUMMY = "kube-ipvs0"

#: set name -> (ipset type, kube-proxy's comment for it), in kube-proxy's ipsetInfo order.  The comment
#: goes into the iptables rules that match the set (``-m comment``), never onto the set or its entries.
SETS: dict[str, tuple[str, str]] = {
    "KUBE-LOOP-BACK": ("hash:ip,port,ip", "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"),
    "KUBE-CLUSTER-IP": ("hash:ip,port", "Kubernetes service cluster ip + port for masquerade purpose"),
    "KUBE-EXTERNAL-IP": ("hash:ip,port", "Kubernetes service external ip + port for masquerade and filter purpose"),
    "KUBE-EXTERNAL-IP-LOCAL": ("hash:ip,port", "Kubernetes service external ip + port with externalTrafficPolicy=local"),
    "KUBE-LOAD-BALANCER": ("hash:ip,port", "Kubernetes service lb portal"),
    "KUBE-LOAD-BALANCER-FW": ("hash:ip,port",
                              "Kubernetes service load balancer ip + port for load balancer with sourceRange"),
    "KUBE-LOAD-BALANCER-LOCAL": ("hash:ip,port",
                                 "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"),
    "KUBE-LOAD-BALANCER-SOURCE-IP": ("hash:ip,port,ip",
                                     "Kubernetes service load balancer ip + port + source IP for packet filter purpose"),
    "KUBE-LOAD-BALANCER-SOURCE-CIDR": ("hash:ip,port,net",
                                       "Kubernetes service load balancer ip + port + source cidr for packet filter purpose"),
    "KUBE-NODE-PORT-TCP": ("bitmap:port", "Kubernetes nodeport TCP port for masquerade purpose"),
    "KUBE-NODE-PORT-LOCAL-TCP": ("bitmap:port", "Kubernetes nodeport TCP port with externalTrafficPolicy=local"),
    "KUBE-NODE-PORT-UDP": ("bitmap:port", "Kubernetes nodeport UDP port for masquerade purpose"),
    "KUBE-NODE-PORT-LOCAL-UDP": ("bitmap:port", "Kubernetes nodeport UDP port with externalTrafficPolicy=local"),
    "KUBE-HEALTH-CHECK-NODE-PORT": ("bitmap:port", "Kubernetes health check node port"),
    "KUBE-IPVS-IPS": ("hash:ip", "Addresses on the ipvs interface"),
}  # fmt: skip


def virtual_servers(scenario: Scenario, node: str) -> IpvsTable:
    """The IPVS table kube-proxy keeps on ``node`` (in scenario order, endpoints in scenario order)."""
    node_ip = ip_int(scenario.node(node).ip)
    table = IpvsTable()
    for svc in scenario.services:
        pods = scenario.endpoints_of(svc)
        for sp in svc.ports:
            proto = sp.protocol.lower()
            dests = [(ip_int(p.ip), sp.target_port) for p in pods]
            table.add(VirtualServer(proto, ip_int(svc.cluster_ip), sp.port, list(dests)))
            if svc.type in ("NodePort", "LoadBalancer") and sp.node_port:
                ext = dests
                if svc.external_traffic_policy == "Local":
                    local = [(ip_int(p.ip), sp.target_port) for p in pods if p.node == node]
                    ext = local or dests  # PR #97081: no local endpoint -> all endpoints
                table.add(VirtualServer(proto, node_ip, sp.node_port, list(ext)))
    return table


def ipsets(scenario: Scenario, node: str) -> dict[str, list[str]]:
    """Members of the ipsets kube-proxy fills on ``node``, in ``ipset save`` member syntax.

    Only sets with members are listed, plus the three the seed always has (KUBE-CLUSTER-IP,
    KUBE-NODE-PORT-TCP, KUBE-LOOP-BACK)."""
    out: dict[str, list[str]] = {"KUBE-CLUSTER-IP": [], "KUBE-NODE-PORT-TCP": [], "KUBE-LOOP-BACK": []}

    def put(name: str, member: str) -> None:
        members = out.setdefault(name, [])
        if member not in members:
            members.append(member)

    for svc in scenario.services:
        local_policy = svc.external_traffic_policy == "Local"
        for sp in svc.ports:
            proto = sp.protocol.lower()
            put("KUBE-CLUSTER-IP", f"{svc.cluster_ip},{proto}:{sp.port}")
            if svc.type in ("NodePort", "LoadBalancer") and sp.node_port and proto in ("tcp", "udp"):
                put(f"KUBE-NODE-PORT-{proto.upper()}", str(sp.node_port))
                if local_policy:
                    put(f"KUBE-NODE-PORT-LOCAL-{proto.upper()}", str(sp.node_port))
            for p in scenario.endpoints_of(svc):
                if p.node == node:
                    put("KUBE-LOOP-BACK", f"{p.ip},{proto}:{sp.target_port},{p.ip}")
        if local_policy and svc.type == "LoadBalancer" and svc.health_check_node_port:
            put("KUBE-HEALTH-CHECK-NODE-PORT", str(svc.health_check_node_port))
    if layout_for(scenario.kube_proxy.version).minor >= 25:
        out["KUBE-IPVS-IPS"] = dummy_addresses(scenario)
    return out


def dummy_addresses(scenario: Scenario) -> list[str]:
    """The addresses kube-proxy binds to ``kube-ipvs0`` (every ClusterIP; the NLB publishes no IP)."""
    return list(dict.fromkeys(svc.cluster_ip for svc in scenario.services))


def ipset_save(scenario: Scenario, node: str) -> str:
    """``ipset save`` text of kube-proxy's sets on ``node`` (every set kube-proxy creates, in
    ipsetInfo order), as ``hairpin.parsers.ipset`` and ``ipset restore`` read it.

    kube-proxy creates the sets with ``ipset create NAME TYPE family inet hashsize 1024 maxelem
    65536`` (hash types) or ``range 0-65535`` (bitmap:port) and adds bare entries: no ``comment``
    extension on either (kubernetes pkg/proxy/ipvs/ipset/ipset.go ``createSet`` and ``AddEntry``,
    earlier pkg/util/ipset/ipset.go; the set's comment only goes into the iptables rules).  A
    bitmap:port set is listed in port order, as ``ipset save`` lists it; a hash set's members in
    kube-proxy's order (``ipset save`` prints them in hash order, which depends on the random seed
    the kernel gives each set).  Newer ipset/kernel pairs also print ``bucketsize 12 initval 0x...``
    on a hash set's create line (ipset 7.17 on Linux 6.18, 2026-12); hairpin leaves the seed out."""
    members = ipsets(scenario, node)
    minor = layout_for(scenario.kube_proxy.version).minor
    lines: list[str] = []
    for name, (kind, _note) in SETS.items():
        if name == "KUBE-IPVS-IPS" and minor < 25:
            continue
        opts = "range 0-65535" if kind == "bitmap:port" else "family inet hashsize 1024 maxelem 65536"
        lines.append(f"create {name} {kind} {opts}")
        entries = members.get(name, [])
        if kind == "bitmap:port":
            entries = sorted(entries, key=int)
        lines.extend(f"add {name} {m}" for m in entries)
    return "\n".join(lines) + "\n"


def tables(scenario: Scenario, node: str) -> Tables:
    """kube-proxy's iptables rules on ``node`` in IPVS mode (tables nat and filter)."""
    scenario.node(node)  # KeyError for an unknown node
    minor = layout_for(scenario.kube_proxy.version).minor
    members = ipsets(scenario, node)
    t = Tables()
    t.table("filter")
    t.table("nat")
    nat_chains = ["KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-NODE-PORT", "KUBE-LOAD-BALANCER", "KUBE-MARK-MASQ"]
    filter_chains = ["KUBE-FORWARD", "KUBE-NODE-PORT"]
    if minor >= 25:
        filter_chains += ["KUBE-PROXY-FIREWALL", "KUBE-SOURCE-RANGES-FIREWALL", "KUBE-IPVS-FILTER"]
    if minor >= 29:
        filter_chains.append("KUBE-IPVS-OUT-FILTER")
    for c in nat_chains:
        t.chain("nat", c)
    for c in filter_chains:
        t.chain("filter", c)

    def match(name: str, dirs: str) -> str:
        return f"{comment(SETS[name][1])} -m set --match-set {name} {dirs}"

    if minor >= 29:
        t.add("nat", "KUBE-SERVICES", "-s 127.0.0.0/8 -j RETURN")
    # ipsetWithIptablesChain, in its order, for the sets that have members
    if members.get("KUBE-LOOP-BACK"):
        t.add("nat", "KUBE-POSTROUTING", f"{match('KUBE-LOOP-BACK', 'dst,dst,src')} -j MASQUERADE")
    for proto in ("TCP", "UDP"):
        if members.get(f"KUBE-NODE-PORT-LOCAL-{proto}"):
            t.add("nat", "KUBE-NODE-PORT",
                  f"-p {proto.lower()} {match(f'KUBE-NODE-PORT-LOCAL-{proto}', 'dst')} -j RETURN")  # fmt: skip
        if members.get(f"KUBE-NODE-PORT-{proto}"):
            t.add("nat", "KUBE-NODE-PORT", f"-p {proto.lower()} {match(f'KUBE-NODE-PORT-{proto}', 'dst')} -j KUBE-MARK-MASQ")
    if members.get("KUBE-CLUSTER-IP"):
        # masqueradeAll false, no local detector on EKS: node processes whose source is a ClusterIP
        t.add("nat", "KUBE-SERVICES", f"{match('KUBE-CLUSTER-IP', 'src,dst')} -j KUBE-MARK-MASQ")
    t.add("nat", "KUBE-SERVICES", "-m addrtype --dst-type LOCAL -j KUBE-NODE-PORT")
    t.add("nat", "KUBE-LOAD-BALANCER", "-j KUBE-MARK-MASQ")
    if minor >= 25:
        t.add("filter", "KUBE-SOURCE-RANGES-FIREWALL", "-j DROP")
    if members.get("KUBE-CLUSTER-IP"):  # acceptIPVSTraffic: the end of KUBE-SERVICES
        t.add("nat", "KUBE-SERVICES", "-m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT")
    t.add("filter", "KUBE-FORWARD",
          f"{comment('kubernetes forwarding rules')} -m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT")  # fmt: skip
    t.add("filter", "KUBE-FORWARD",
          f"{comment('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")  # fmt: skip
    t.add("filter", "KUBE-NODE-PORT", f"{match('KUBE-HEALTH-CHECK-NODE-PORT', 'dst')} -j ACCEPT")
    if minor >= 25:
        for name, dirs in (("KUBE-LOAD-BALANCER", "dst,dst"), ("KUBE-CLUSTER-IP", "dst,dst"),
                           ("KUBE-EXTERNAL-IP", "dst,dst"), ("KUBE-EXTERNAL-IP-LOCAL", "dst,dst"),
                           ("KUBE-HEALTH-CHECK-NODE-PORT", "dst")):  # fmt: skip
            t.add("filter", "KUBE-IPVS-FILTER", f"-m set --match-set {name} {dirs} -j RETURN")
        t.add("filter", "KUBE-IPVS-FILTER",
              "-m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable")  # fmt: skip
    t.add("nat", "KUBE-POSTROUTING", f"-m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN")
    t.add("nat", "KUBE-POSTROUTING", f"-j MARK --set-xmark {MASQ_MARK}/0x0")
    t.add("nat", "KUBE-POSTROUTING", f"{comment('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully")
    t.add("nat", "KUBE-MARK-MASQ", f"-j MARK --set-xmark {MASQ_MARK}/{MASQ_MARK}")
    _jumps(t, minor)
    return t


def _jumps(t: Tables, minor: int) -> None:
    """createAndLinkKubeChain: each jump is prepended (EnsureRule Prepend) in iptablesJumpChain
    order, so in a built-in chain the last one listed ends up first."""
    jumps = [
        ("nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals"),
        ("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals"),
        ("nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules"),
        ("filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules"),
        ("filter", "INPUT", "KUBE-NODE-PORT", "kubernetes health check rules"),
    ]
    if minor >= 25:
        jumps += [
            ("filter", "INPUT", "KUBE-PROXY-FIREWALL", "kube-proxy firewall rules"),
            ("filter", "FORWARD", "KUBE-PROXY-FIREWALL", "kube-proxy firewall rules"),
            ("filter", "INPUT", "KUBE-IPVS-FILTER", "kubernetes ipvs access filter"),
        ]
    if minor >= 29:
        jumps.append(("filter", "OUTPUT", "KUBE-IPVS-OUT-FILTER", "kubernetes ipvs access filter"))
    for table, chain, to, note in jumps:
        t.chain(table, chain).insert(0, f"{comment(note)} -j {to}")
