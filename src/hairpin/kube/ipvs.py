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
  KUBE-NODE-PORT-TCP / KUBE-NODE-PORT-LOCAL-TCP (bitmap:port), from 1.21 KUBE-HEALTH-CHECK-NODE-PORT
  (bitmap:port, with filter INPUT -> KUBE-NODE-PORT "kubernetes health check rules" ACCEPTing its ports:
  PR #97824) and, from 1.25, KUBE-IPVS-IPS (hash:ip, the addresses on kube-ipvs0);
- iptables: NodePort traffic is marked for masquerade in nat KUBE-SERVICES -> KUBE-NODE-PORT ->
  KUBE-MARK-MASQ (mark 0x4000) and masqueraded in KUBE-POSTROUTING; IPVS itself never changes the
  source.  EKS sets no ``--cluster-cidr`` (no local-traffic detector), so KUBE-CLUSTER-IP matches
  ``src,dst`` (node processes whose source is a ClusterIP), as in the iptables proxier's notes in
  ``hairpin.kube.proxy``.

Service external IPs, load-balancer IPs (ipMode VIP) and loadBalancerSourceRanges (before 1.25 the source-range
rules sit in nat instead: see ``tables``, after the release-1.18 tree 2018112767/kubernetes @ b3796c7b; from 1.25,
``hairpin.kube.layout.IPVS_FEATURES_FIRST``, as below; kubernetes master as stored, pkg/proxy/ipvs/proxier.go
``syncProxyRules`` "Capture externalIPs" / "Capture load-balancer ingress", ``writeIptablesRules``,
``acceptIPVSTraffic``, ``ipsetWithIptablesChain``):

- a virtual server on every externalIP:port and every load-balancer VIP:port, bound to kube-ipvs0
  (from 1.28 unless the address is one of the node's own: ``shouldBind``, PR #115019; before, that one
  too, as the release-1.18 tree's ``syncService(..., true)`` does), so it is a local address on every
  node and IPVS answers it at LOCAL_IN: an in-cluster caller of a captured VIP never leaves the node
  for the load balancer.  Their real servers follow externalTrafficPolicy (``syncEndpoint`` with
  ``ExternalPolicyLocal()``: the local endpoints, all of them when the node has none, PR #97081);
- ipsets: KUBE-EXTERNAL-IP (policy Cluster) or KUBE-EXTERNAL-IP-LOCAL (policy Local) with
  ``ip,proto:port``; KUBE-LOAD-BALANCER with every VIP, KUBE-LOAD-BALANCER-LOCAL for policy Local,
  KUBE-LOAD-BALANCER-FW for a Service with source ranges, KUBE-LOAD-BALANCER-SOURCE-CIDR with
  ``vip,proto:port,cidr`` per range, and KUBE-LOAD-BALANCER-SOURCE-IP ``vip,proto:port,vip`` when a
  range holds the node's IP (``allowFromNode``);
- iptables: nat KUBE-SERVICES -> KUBE-LOAD-BALANCER (-> RETURN for policy Local, else KUBE-MARK-MASQ);
  filter INPUT/FORWARD -> KUBE-PROXY-FIREWALL -> KUBE-SOURCE-RANGES-FIREWALL for the FW set: RETURN for
  an allowed source, else ``-j DROP`` (filter INPUT runs before IPVS's LOCAL_IN hook, so the packet is
  still addressed to the VIP); external IPs: KUBE-MARK-MASQ (policy Cluster) and two ACCEPT rules
  (``physdev``/``addrtype``); the last KUBE-SERVICES rules ACCEPT KUBE-CLUSTER-IP and KUBE-LOAD-BALANCER
  destinations.  From 1.29 a VIP whose source ranges miss the node's IP also gets a filter
  KUBE-IPVS-OUT-FILTER rule ``-s VIP -m ipvs --vaddr VIP --vproto P --vport N -j DROP`` (kubernetes
  PR #119791, issue #119656, merged 2023-08 for v1.29), printed as iptables-save prints it (iptables
  extensions/libxt_ipvs.c ``ipvs_mt_dump``: protocol number, then address/mask, then port).

Version boundaries (the iptables proxier's, ``hairpin.kube.layout``, plus):
- filter KUBE-NODE-PORT, its INPUT jump and KUBE-HEALTH-CHECK-NODE-PORT from 1.21 (kubernetes PR #97824,
  CHANGELOG-1.21 v1.21.0-alpha.3; absent from the release-1.18 tree's ``iptablesJumpChain``,
  ``iptablesChains`` and ``ipsetInfo``): written from 1.24, not for 1.18 (``HEALTH_CHECK_FIRST``);
- a node's own address left off kube-ipvs0 (and so off KUBE-IPVS-IPS) from 1.28 (kubernetes PR #115019,
  fixes issues #114815 and #117613, a 1.28 tree as stored, fork kevinhehc/k8s-1.28 @ 804fd5ef, has
  ``shouldBind``; backported to 1.27 patch releases, which a minor-only version cannot tell apart:
  ``OWN_ADDRESS_UNBOUND_FIRST``);
- KUBE-PROXY-FIREWALL / KUBE-SOURCE-RANGES-FIREWALL and KUBE-IPVS-FILTER (kubernetes PR #108460,
  "Prevent host access on VIP addresses in proxy-mode=ipvs", merged 2022-06-22: v1.25) from 1.25;
- KUBE-IPVS-OUT-FILTER (kubernetes issue #119656, PR #119791, merged 2023-08 for v1.29; no CHANGELOG-1.29
  entry was found in the stored sources) and the first KUBE-SERVICES rule ``-s 127.0.0.0/8 -j RETURN``
  from 1.29.  Before it, in 1.25 to 1.28, a node process calling a VIP is not checked against the
  source ranges at all (KUBE-PROXY-FIREWALL hangs off INPUT and FORWARD only: docs/modes.md).
"""

from __future__ import annotations

from hairpin.ipvs import IpvsTable, VirtualServer
from hairpin.kube.dump import Tables, comment
from hairpin.kube.layout import layout_for
from hairpin.kube.proxy import lb_vips
from hairpin.model.net import ip_int
from hairpin.model.scenario import Service
from hairpin.scenario import Scenario

__all__ = ["ipset_save", "ipsets", "tables", "virtual_servers"]

MASQ_MARK = "0x4000"
#: the first minor whose syncEndpoint falls back to every endpoint for policy Local (kubernetes PR #97081)
LOCAL_FALLBACK_FIRST = 21
#: the first minor that applies externalTrafficPolicy to external IPs by default (ExternalPolicyForExternalIP on:
#: kubernetes PR #90537, for 1.19)
EXTERNAL_POLICY_FIRST = 19
#: the first minor with the filter KUBE-NODE-PORT chain, its INPUT jump ("kubernetes health check rules") and the
#: KUBE-HEALTH-CHECK-NODE-PORT set (kubernetes PR #97824, first in v1.21.0-alpha.3, CHANGELOG-1.21 "Bug or
#: Regression"; the release-1.18 tree's ``iptablesJumpChain``, ``iptablesChains`` and ``ipsetInfo`` have none)
HEALTH_CHECK_FIRST = 21
#: the first minor that leaves a node's own address off kube-ipvs0 (``shouldBind``: kubernetes PR #115019, "Allow
#: node addresses to be used as loadBalancer addresses for proxy-mode=ipvs", fixes issues #114815 and #117613,
#: merged 2023 for v1.28; backported to release-1.27 patch releases, which hairpin's minor-only versions cannot
#: tell apart, so 1.27 is written as 1.27.0).  Before it syncProxyRules binds every external IP and VIP
#: (``syncService(..., true)``; release-1.18 tree, 2018112767/kubernetes @ b3796c7b pkg/proxy/ipvs/proxier.go)
OWN_ADDRESS_UNBOUND_FIRST = 28
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
    """The IPVS table kube-proxy keeps on ``node`` (in scenario order, endpoints in scenario order):
    per service port the ClusterIP, every external IP, every load-balancer VIP, then the node's
    NodePort, as syncProxyRules adds them."""
    node_ip = ip_int(scenario.node(node).ip)
    minor = layout_for(scenario.kube_proxy.version).minor
    table = IpvsTable()
    for svc in scenario.services:
        pods = scenario.endpoints_of(svc)
        for sp in svc.ports:
            proto = sp.protocol.lower()
            dests = [(ip_int(p.ip), sp.target_port) for p in pods]
            ext = dests
            if svc.external_traffic_policy == "Local":
                local = [(ip_int(p.ip), sp.target_port) for p in pods if p.node == node]
                # PR #97081 (merged 2020-12, v1.21): no local endpoint -> all endpoints; release-1.18's
                # syncEndpoint keeps only the local ones, so such a node's servers have none
                ext = local or (dests if minor >= LOCAL_FALLBACK_FIRST else [])
            table.add(VirtualServer(proto, ip_int(svc.cluster_ip), sp.port, list(dests)))
            # release-1.18 syncProxyRules gives external IPs the endpoints of policy Cluster (ExternalPolicyForExternalIP,
            # kubernetes PR #88786, is off there: its TestOnlyLocalExternalIPs turns the gate on; on by default from
            # 1.19, PR #90537)
            ext_ip = ext if minor >= EXTERNAL_POLICY_FIRST else dests
            for addr in svc.external_ips:
                table.add(VirtualServer(proto, ip_int(addr), sp.port, list(ext_ip)))
            for addr in lb_vips(svc):
                table.add(VirtualServer(proto, ip_int(addr), sp.port, list(ext)))
            if svc.type in ("NodePort", "LoadBalancer") and sp.node_port:
                table.add(VirtualServer(proto, node_ip, sp.node_port, list(ext)))
    return table


def _contains(cidr: str, ip: str) -> bool:
    net, _, bits = cidr.partition("/")
    width = int(bits) if bits else 32
    mask = (0xFFFFFFFF << (32 - width)) & 0xFFFFFFFF
    return ip_int(ip) & mask == ip_int(net) & mask


def node_allowed(svc: Service, node_ip: str) -> bool:
    """kube-proxy's ``allowFromNode``: a source range holds the node's IP."""
    return any(_contains(c, node_ip) for c in svc.load_balancer_source_ranges)


def ipsets(scenario: Scenario, node: str) -> dict[str, list[str]]:
    """Members of the ipsets kube-proxy fills on ``node``, in ``ipset save`` member syntax.

    Only sets with members are listed, plus the three the seed always has (KUBE-CLUSTER-IP,
    KUBE-NODE-PORT-TCP, KUBE-LOOP-BACK)."""
    out: dict[str, list[str]] = {"KUBE-CLUSTER-IP": [], "KUBE-NODE-PORT-TCP": [], "KUBE-LOOP-BACK": []}
    node_ip = scenario.node(node).ip
    minor = layout_for(scenario.kube_proxy.version).minor

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
            for ip in svc.external_ips:
                local_ext = local_policy and minor >= EXTERNAL_POLICY_FIRST
                put("KUBE-EXTERNAL-IP-LOCAL" if local_ext else "KUBE-EXTERNAL-IP", f"{ip},{proto}:{sp.port}")
            for vip in lb_vips(svc):
                entry = f"{vip},{proto}:{sp.port}"
                put("KUBE-LOAD-BALANCER", entry)
                if local_policy:
                    put("KUBE-LOAD-BALANCER-LOCAL", entry)
                if svc.load_balancer_source_ranges:
                    put("KUBE-LOAD-BALANCER-FW", entry)
                    for cidr in svc.load_balancer_source_ranges:  # ipset save prints a /32 net bare
                        put("KUBE-LOAD-BALANCER-SOURCE-CIDR", f"{entry},{cidr.removesuffix('/32')}")
                    if node_allowed(svc, node_ip):
                        put("KUBE-LOAD-BALANCER-SOURCE-IP", f"{entry},{vip}")
        if local_policy and svc.type == "LoadBalancer" and svc.health_check_node_port and minor >= HEALTH_CHECK_FIRST:
            put("KUBE-HEALTH-CHECK-NODE-PORT", str(svc.health_check_node_port))
    if minor >= 25:
        out["KUBE-IPVS-IPS"] = dummy_addresses(scenario, node)
    return out


def dummy_addresses(scenario: Scenario, node: str | None = None) -> list[str]:
    """The addresses kube-proxy binds to ``kube-ipvs0`` on ``node``: every ClusterIP, external IP and
    load-balancer VIP; from 1.28 (``OWN_ADDRESS_UNBOUND_FIRST``) except one that is already the node's
    own address (``shouldBind``), before it that one too, so the address is then on eth0 and on
    kube-ipvs0.  The AWS controllers' NLBs publish a hostname, so no VIP unless the scenario gives one."""
    minor = layout_for(scenario.kube_proxy.version).minor
    own = {scenario.node(node).ip} if node is not None and minor >= OWN_ADDRESS_UNBOUND_FIRST else set()
    addrs = [svc.cluster_ip for svc in scenario.services]
    for svc in scenario.services:
        addrs += [a for a in (*svc.external_ips, *lb_vips(svc)) if a not in own]
    return list(dict.fromkeys(addrs))


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
        if (name == "KUBE-IPVS-IPS" and minor < 25) or (name == "KUBE-HEALTH-CHECK-NODE-PORT" and minor < HEALTH_CHECK_FIRST):
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
    if minor < 25:  # the nat KUBE-FIREWALL of the layouts before PR #110628 (its rule: below)
        nat_chains.append("KUBE-FIREWALL")
    filter_chains = ["KUBE-FORWARD"] + (["KUBE-NODE-PORT"] if minor >= HEALTH_CHECK_FIRST else [])
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
    chained = [("KUBE-LOOP-BACK", "nat", "KUBE-POSTROUTING", "MASQUERADE", "dst,dst,src", ""),
               ("KUBE-LOAD-BALANCER", "nat", "KUBE-SERVICES", "KUBE-LOAD-BALANCER", "dst,dst", "")]  # fmt: skip
    if minor < 25:
        # release-1.18 ipsetWithIptablesChain (2018112767/kubernetes @ b3796c7b pkg/proxy/ipvs/proxier.go): the
        # source-range sets sit in nat, before KUBE-LOAD-BALANCER-LOCAL: KUBE-LOAD-BALANCER -> KUBE-FIREWALL for a
        # KUBE-LOAD-BALANCER-FW member, RETURN there for an allowed source, else KUBE-MARK-DROP (below)
        chained += [("KUBE-LOAD-BALANCER-FW", "nat", "KUBE-LOAD-BALANCER", "KUBE-FIREWALL", "dst,dst", ""),
                    ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "nat", "KUBE-FIREWALL", "RETURN", "dst,dst,src", ""),
                    ("KUBE-LOAD-BALANCER-SOURCE-IP", "nat", "KUBE-FIREWALL", "RETURN", "dst,dst,src", "")]  # fmt: skip
    chained.append(("KUBE-LOAD-BALANCER-LOCAL", "nat", "KUBE-LOAD-BALANCER", "RETURN", "dst,dst", ""))
    for proto in ("tcp", "udp"):
        chained += [(f"KUBE-NODE-PORT-LOCAL-{proto.upper()}", "nat", "KUBE-NODE-PORT", "RETURN", "dst", proto),
                    (f"KUBE-NODE-PORT-{proto.upper()}", "nat", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "dst", proto)]  # fmt: skip
    if minor >= 25:
        chained += [("KUBE-LOAD-BALANCER-FW", "filter", "KUBE-PROXY-FIREWALL", "KUBE-SOURCE-RANGES-FIREWALL", "dst,dst", ""),
                    ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "filter", "KUBE-SOURCE-RANGES-FIREWALL", "RETURN", "dst,dst,src", ""),
                    ("KUBE-LOAD-BALANCER-SOURCE-IP", "filter", "KUBE-SOURCE-RANGES-FIREWALL", "RETURN", "dst,dst,src", "")]  # fmt: skip
    for name, table, chain, to, dirs, proto in chained:
        if members.get(name):
            p = f"-p {proto} " if proto else ""
            t.add(table, chain, f"{p}{match(name, dirs)} -j {to}")
    if members.get("KUBE-CLUSTER-IP"):
        # masqueradeAll false, no local detector on EKS: node processes whose source is a ClusterIP
        t.add("nat", "KUBE-SERVICES", f"{match('KUBE-CLUSTER-IP', 'src,dst')} -j KUBE-MARK-MASQ")
    for name in ("KUBE-EXTERNAL-IP", "KUBE-EXTERNAL-IP-LOCAL"):  # writeIptablesRules' externalIPRules
        if members.get(name):
            if name == "KUBE-EXTERNAL-IP":  # policy Cluster: SNAT
                t.add("nat", "KUBE-SERVICES", f"{match(name, 'dst,dst')} -j KUBE-MARK-MASQ")
            t.add("nat", "KUBE-SERVICES",
                  f"{match(name, 'dst,dst')} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT")  # fmt: skip
            t.add("nat", "KUBE-SERVICES", f"{match(name, 'dst,dst')} -m addrtype --dst-type LOCAL -j ACCEPT")
    t.add("nat", "KUBE-SERVICES", "-m addrtype --dst-type LOCAL -j KUBE-NODE-PORT")
    t.add("nat", "KUBE-LOAD-BALANCER", "-j KUBE-MARK-MASQ")
    if minor < 25:
        # release-1.18 pkg/proxy/ipvs/proxier.go writeIptablesRules, "mark drop for KUBE-FIRE-WALL" (the fork
        # 2018112767/kubernetes at b3796c7b); kubelet owns KUBE-MARK-DROP (hairpin.kube.kubelet)
        t.add("nat", "KUBE-FIREWALL", "-j KUBE-MARK-DROP")
        t.chain("nat", "KUBE-MARK-DROP")
    if minor >= 25:
        t.add("filter", "KUBE-SOURCE-RANGES-FIREWALL", "-j DROP")
    if minor >= 29:  # lbNoNodeAccessIPPortProtocolEntries: VIPs whose source ranges miss the node's IP
        for vip, proto, port in no_node_access(scenario, node):
            t.add("filter", "KUBE-IPVS-OUT-FILTER",
                  f"-s {vip}/32 -m ipvs --vproto {_PROTO_NUMBER[proto]} --vaddr {vip}/32 --vport {port} -j DROP")  # fmt: skip
    for name in ("KUBE-CLUSTER-IP", "KUBE-LOAD-BALANCER"):  # acceptIPVSTraffic: the end of KUBE-SERVICES
        if members.get(name):
            t.add("nat", "KUBE-SERVICES", f"-m set --match-set {name} dst,dst -j ACCEPT")
    t.add("filter", "KUBE-FORWARD",
          f"{comment('kubernetes forwarding rules')} -m mark --mark {MASQ_MARK}/{MASQ_MARK} -j ACCEPT")  # fmt: skip
    if minor < 24:  # release-1.18 writeIptablesRules: two conntrack rules, no -s/-d (as its iptables proxier)
        for side in ("source", "destination"):
            t.add("filter", "KUBE-FORWARD", f"{comment(f'kubernetes forwarding conntrack pod {side} rule')} "
                                            "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")  # fmt: skip
    else:
        t.add("filter", "KUBE-FORWARD",
              f"{comment('kubernetes forwarding conntrack rule')} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")  # fmt: skip
    if minor >= HEALTH_CHECK_FIRST:  # PR #97824
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


#: /etc/protocols numbers, as libxt_ipvs prints ``--vproto``
_PROTO_NUMBER = {"tcp": 6, "udp": 17}


def no_node_access(scenario: Scenario, node: str) -> list[tuple[str, str, int]]:
    """(VIP, protocol, port) of every load-balancer VIP with source ranges none of which holds the
    node's IP: kube-proxy 1.29+ drops the node's own connections to it (KUBE-IPVS-OUT-FILTER)."""
    node_ip = scenario.node(node).ip
    out: list[tuple[str, str, int]] = []
    for svc in scenario.services:
        if not svc.load_balancer_source_ranges or node_allowed(svc, node_ip):
            continue
        for sp in svc.ports:
            out += [(vip, sp.protocol.lower(), sp.port) for vip in lb_vips(svc)]
    return out


def _jumps(t: Tables, minor: int) -> None:
    """createAndLinkKubeChain: each jump is prepended (EnsureRule Prepend) in iptablesJumpChain
    order, so in a built-in chain the last one listed ends up first."""
    jumps = [
        ("nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals"),
        ("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals"),
        ("nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules"),
        ("filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules"),
    ]
    if minor >= HEALTH_CHECK_FIRST:  # PR #97824
        jumps.append(("filter", "INPUT", "KUBE-NODE-PORT", "kubernetes health check rules"))
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
