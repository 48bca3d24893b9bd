"""The closed-form probability that one connection from an in-cluster caller times out through its NLB.

What the formula rests on (AWS Elastic Load Balancing docs, "Network Load Balancers" and "Target groups
for your Network Load Balancers"; the derivation is written out in docs/check.md):

- A connection to one NLB node's address is served by that node.  With cross-zone load balancing off
  (the NLB default) the node routes "only to the healthy targets in its Availability Zone"; with it on,
  "to the healthy targets in all enabled Availability Zones".  Targets registered in an AZ the load
  balancer has not enabled receive no traffic.
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-cross-zone.html
- "If there are no healthy targets in an enabled Availability Zone for one or more target groups, we
  remove the IP address for the corresponding subnet from DNS"; if every target fails its health check
  in every enabled AZ the load balancer fails open: traffic goes to all targets in all enabled AZs
  regardless of health (same health-check page; also re:Post "elb-dns-cross-zone-balance-configuration").
- The node picks the target by a flow hash over protocol, source IP and port, destination IP and port
  and TCP sequence number ("Network Load Balancers", Routing algorithm): with random ephemeral ports and
  ISNs the choice is uniform over the node's target set.
- Client IP preservation (``preserve_client_ip.enabled``; on for instance targets, off for ip targets
  with TCP/TLS): when on, a caller routed to a target on its own host cannot be answered ("NAT loopback,
  also known as hairpinning, is not supported when client IP preservation is enabled";
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-troubleshooting.html#loopback-timeout).
  In Kubernetes the caller's node de-NATs the reply and hands it to the caller pod directly (seed doc).
- A Classic ELB proxies (a new TCP connection from the ELB), so it cannot hairpin; an internet-facing
  NLB is reached from pods through the NAT gateway, whose address replaces the caller's.

- Load-balancer ingress IPs kube-proxy captures (the Service's ``load_balancer_ips``: ipMode VIP,
  KEP-1860; ``hairpin.kube.ipmode``): a connection to one of them is DNATed to an endpoint on the
  caller's own node and never reaches the NLB (probability 0), unless the Service's
  loadBalancerSourceRanges leave the caller's address out, when kube-proxy's firewall drops it there
  every time (probability 1; KUBE-PROXY-FIREWALL, nftables ``firewall-check``).

So for a caller on node N calling NLB node ``a``: P(a) = hits(T(a)) / |T(a)|, where T(a) is the target
set of that node and hits counts the targets that live on N (N itself for instance targets; the target
pods on N for ip targets).  Averaged uniformly over the NLB addresses DNS returns unless the caller is
pinned to one address.

Two layers: pure functions on counts (``caller_probability``, ``even_spread_probability``), which the
checker uses, and ``timeout_probability(scenario)`` for a full scenario, which the simulator reports as
its expected rate.  Everything is exact (``fractions.Fraction``) until the float at the very end.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from hairpin.aws.security_groups import blocked
from hairpin.kube.layout import layout_for
from hairpin.kube.proxy import answers_health_checks, answers_node_ports
from hairpin.scenario import Scenario, Service

__all__ = [
    "TargetCounts",
    "caller_probability",
    "even_spread_probability",
    "instance_target_healthy",
    "not_the_hairpin",
    "scenario_counts",
    "timeout_fraction",
    "timeout_probability",
]


@dataclass(frozen=True)
class TargetCounts:
    """Registered and healthy targets of one target group, per AZ, and how many live on the caller's node.

    ``local_registered``/``local_healthy`` count targets on the caller's node (at most 1 for instance
    targets; the target pods on that node for ip targets); they belong to ``caller_az``.
    """

    registered: Mapping[str, int]
    healthy: Mapping[str, int]
    caller_az: str
    local_registered: int = 0
    local_healthy: int = 0
    enabled_azs: tuple[str, ...] = field(default=())

    def azs(self) -> tuple[str, ...]:
        """The AZs the NLB has a node in (given, else every AZ with a registered target)."""
        if self.enabled_azs:
            return self.enabled_azs
        return tuple(sorted(a for a, n in self.registered.items() if n > 0))


def _pool(c: TargetCounts, az: str, cross_zone: bool, enabled: tuple[str, ...], healthy: bool) -> tuple[int, int]:
    """(hits, size) of the target set the NLB node in ``az`` chooses from."""
    counts = c.healthy if healthy else c.registered
    local = (c.local_healthy if healthy else c.local_registered) if c.caller_az in enabled else 0
    if cross_zone:
        return local, sum(counts.get(a, 0) for a in enabled)
    return (local if az == c.caller_az else 0), counts.get(az, 0)


def caller_probability(c: TargetCounts, *, cross_zone: bool, pinned_az: str | None = None) -> Fraction:
    """The probability that one connection of a caller on the counted node is sent back to that node.

    ``pinned_az``: the caller always uses the NLB node of that AZ (a cached DNS answer or the scenario's
    ``client.address``); None: uniform over the addresses DNS returns.
    """
    enabled = c.azs()
    any_healthy = sum(c.healthy.get(a, 0) for a in enabled) > 0
    if not any_healthy:
        # fail open: every registered target in every enabled AZ, whatever its health, from every node
        hits = c.local_registered if c.caller_az in enabled else 0
        size = sum(c.registered.get(a, 0) for a in enabled)
        return Fraction(hits, size) if size else Fraction(0)
    if pinned_az is not None:
        hits, size = _pool(c, pinned_az, cross_zone, enabled, healthy=True)
        if size == 0:
            # the address was withdrawn from DNS but the caller still uses it: its own AZ's registered targets
            hits, size = _pool(c, pinned_az, cross_zone, enabled, healthy=False)
        return Fraction(hits, size) if size else Fraction(0)
    in_dns = [(h, n) for h, n in (_pool(c, a, cross_zone, enabled, healthy=True) for a in enabled) if n > 0]
    return sum((Fraction(h, n) for h, n in in_dns), Fraction(0)) / len(in_dns)


def even_spread_probability(nodes_per_az: Mapping[str, int], caller_az: str, *, cross_zone: bool,
                            pinned_own_az: bool = False) -> Fraction:  # fmt: skip
    """Instance targets, every node registered and healthy (externalTrafficPolicy Cluster).

    Cross-zone on: 1/n (n nodes in all).  Off: 1/(k·n_a) averaged over k AZs in DNS, 1/n_a when the
    caller always uses its own AZ's NLB node.  Nodes spread evenly (n_a = n/k) give 1/n either way.
    """
    c = TargetCounts(dict(nodes_per_az), dict(nodes_per_az), caller_az, 1, 1)
    return caller_probability(c, cross_zone=cross_zone, pinned_az=caller_az if pinned_own_az else None)


def _labels_match(want: tuple[tuple[str, str], ...], have: tuple[tuple[str, str], ...]) -> bool:
    if not want:
        return True
    h = dict(have)
    return all(h.get(k) == v for k, v in want)


def instance_target_healthy(external_traffic_policy: str, local_endpoint: bool, endpoints: bool,
                            node_ports: bool = True, health_port: bool = True) -> bool:  # fmt: skip
    """Whether a node registered as an instance target passes the NLB's health check: with
    externalTrafficPolicy Local, kube-proxy's healthCheckNodePort answers 200 only with an endpoint on the node
    (503 without); with Cluster the check is a TCP connection to the NodePort (the AWS Load Balancer
    Controller's and the cloud provider's default), which kube-proxy's "has no endpoints" REJECT refuses on
    every node when the Service has none, and which a node whose address ``--nodeport-addresses`` leaves out
    answers with a RST (``node_ports`` False: ``hairpin.kube.proxy.answers_node_ports``).  With Local the check goes
    to the healthCheckNodePort, which kube-proxy 1.23 and later serve only on the ``--nodeport-addresses`` addresses
    (``health_port`` False: ``hairpin.kube.proxy.answers_health_checks``): refused there, the node fails it whatever
    its endpoints.  The simulator (``hairpin.aws.nlb.targets_for``) and the closed form (``scenario_counts``) both
    ask this."""
    if external_traffic_policy == "Local":
        return local_endpoint and health_port
    return endpoints and node_ports


def scenario_counts(s: Scenario, svc: Service, caller_node: str) -> TargetCounts:
    """The target counts of ``svc``'s target group as seen from a caller on ``caller_node``."""
    lb = svc.load_balancer
    caller_az = s.node(caller_node).az
    registered: dict[str, int] = {}
    healthy: dict[str, int] = {}
    local_reg = local_ok = 0
    eps = s.endpoints_of(svc)
    if lb is not None and lb.target_type == "ip":
        for pod in eps:
            az = s.node(pod.node).az
            registered[az] = registered.get(az, 0) + 1
            healthy[az] = healthy.get(az, 0) + 1
            if pod.node == caller_node:
                local_reg += 1
                local_ok += 1
    elif lb is not None and svc.ports and svc.ports[0].node_port is not None:
        local_nodes = {p.node for p in eps}
        for node in s.nodes:
            if not _labels_match(lb.target_node_labels, node.labels):
                continue
            ok = instance_target_healthy(svc.external_traffic_policy, node.name in local_nodes, bool(eps),
                                         answers_node_ports(s, node.name), answers_health_checks(s, node.name))  # fmt: skip
            registered[node.az] = registered.get(node.az, 0) + 1
            healthy[node.az] = healthy.get(node.az, 0) + int(ok)
            if node.name == caller_node:
                local_reg, local_ok = 1, int(ok)
    enabled = tuple(az for az, _ in lb.nodes) if lb is not None and lb.nodes else tuple(a.name for a in s.vpc.azs)
    return TargetCounts(registered, healthy, caller_az, local_reg, local_ok, enabled)


def timeout_fraction(s: Scenario, *, address: str | None = None) -> Fraction:
    """The exact timeout probability of one connection of the scenario's client (see the module doc).

    The NLB node is ``address``, else the scenario's ``client.address``, else uniform over the NLB's AZ
    addresses in DNS.
    """
    svc = s.client_service
    lb = svc.load_balancer
    if s.client.via == "cluster-ip" or lb is None or lb.type != "nlb":
        return Fraction(0)
    caller = s.client_pod
    src = s.node(caller.node).ip if caller.host_network else caller.ip
    captured = _captured(s, svc, lb.nodes, src)
    pinned = address or s.client.address
    if captured and (pinned in captured if pinned is not None else len(captured) == len(lb.nodes)):
        return next(iter(captured.values()))
    if captured and pinned is None:
        # some NLB addresses captured, the caller uniform over those in DNS: each address's own probability
        counts = scenario_counts(s, svc, caller.node)
        enabled = counts.azs()
        dns = [a for a in enabled if _pool(counts, a, lb.cross_zone, enabled, healthy=True)[1] > 0] or list(enabled)
        by_az = dict(lb.nodes)
        return sum((captured[by_az[a]] if by_az.get(a) in captured else timeout_fraction(s, address=by_az[a])
                    for a in dns if a in by_az), Fraction(0)) / len(dns)  # fmt: skip
    # a security group that does not admit the caller drops every attempt (hairpin.aws.security_groups);
    # through an internet-facing NLB the source is the NAT gateway's address, not modelled here
    if lb.scheme == "internal" and blocked(src, lb.source_ranges, nlb_security_groups=lb.security_groups,
                                           preserve_client_ip=lb.preserves_client_ip):  # fmt: skip
        return Fraction(1)
    if lb.scheme != "internal" or not lb.preserves_client_ip:
        return Fraction(0)
    counts = scenario_counts(s, svc, caller.node)
    pinned_az = None
    if pinned is not None:
        by_addr = {addr: az for az, addr in lb.nodes}
        pinned_az = by_addr.get(pinned)
    return caller_probability(counts, cross_zone=lb.cross_zone, pinned_az=pinned_az)


def not_the_hairpin(s: Scenario) -> str | None:
    """Why the scenario client's course through the NLB is decided by something other than the NLB's pick of
    target (then the per-node hairpin table does not apply), or None: kube-proxy captures an NLB address the
    client's DNS can return (load-balancer ingress IPs, ipMode VIP), or a security group drops the client."""
    svc = s.client_service
    lb = svc.load_balancer
    if lb is None or lb.type != "nlb":
        return None
    caller = s.client_pod
    src = s.node(caller.node).ip if caller.host_network else caller.ip
    if _captured(s, svc, lb.nodes, src):
        return "kube-proxy on the caller's node captures the load balancer's addresses (ingress IPs, ipMode VIP)"
    where = blocked(src, lb.source_ranges, nlb_security_groups=lb.security_groups,
                    preserve_client_ip=lb.preserves_client_ip)  # fmt: skip
    if lb.scheme == "internal" and where:
        whose = "the NLB's" if where == "nlb" else "the targets'"
        return f"{whose} security group drops the caller"
    return None


def _captured(s: Scenario, svc: Service, nlb_nodes: tuple[tuple[str, str], ...], src: str) -> dict[str, Fraction]:
    """The NLB addresses kube-proxy captures on the caller's node (the Service's load-balancer ingress
    IPs, ipMode VIP: hairpin.kube.ipmode), each with the timeout probability of a connection to it:
    never the NLB's (the caller's node DNATs it to an endpoint itself), but 1 when
    loadBalancerSourceRanges leave the caller out (kube-proxy's firewall drops it on that node).

    Except in the iptables mode before 1.25, where KUBE-FW-* ends in ``-j KUBE-MARK-DROP`` and only
    kubelet's KUBE-FIREWALL, jumped to from INPUT and OUTPUT (pkg/kubelet/kubelet_network_linux.go), drops
    the mark: a pod's SYN to the load balancer's address is not for the node, so it is forwarded, marked
    but not dropped, to the load balancer, and the NLB's own odds apply (the address is not captured); a
    host-network caller's SYN goes through OUTPUT and is dropped.  In the IPVS mode before 1.25 the mark is
    set in nat KUBE-FIREWALL, but the VIP is local (kube-ipvs0), so a pod's SYN meets kubelet's rule in
    INPUT and is dropped as well (release-1.18 pkg/proxy/ipvs/proxier.go, hairpin.kube.ipvs).

    A host-network caller in the IPVS mode from 1.25 reaches the VIP through OUTPUT and IPVS's LOCAL_OUT
    hook, never INPUT or FORWARD, the only hooks that jump to KUBE-PROXY-FIREWALL (pkg/proxy/ipvs/proxier.go
    ``iptablesJumpChain``): 1.25 to 1.28 let it through whatever the ranges say (kubernetes issue #119656,
    "Can't restrict access from K8s nodes with loadBalancerSourceRanges for proxy-mode=ipvs"); from 1.29
    filter OUTPUT -> KUBE-IPVS-OUT-FILTER drops it (``-s VIP -m ipvs --vaddr VIP ... -j DROP`` for a VIP
    whose ranges miss the node's IP, kubernetes PR #119791)."""
    vips = set(svc.load_balancer_ips)
    ranges = svc.load_balancer_source_ranges

    def inside(ip: str) -> bool:
        return any(ipaddress.ip_address(ip) in ipaddress.ip_network(r) for r in ranges)

    outside = bool(ranges) and not inside(src)
    if outside and _marks_only(s) and not s.client_pod.host_network:
        return {}
    if s.kube_proxy.mode == "ipvs" and s.client_pod.host_network and ranges and not layout_for(
            s.kube_proxy.version).proxy_firewall:
        # IPVS before 1.25: the VIP is on kube-ipvs0, so a node process reaches it from the VIP itself (the
        # local route's source); nat KUBE-FIREWALL RETURNs it when the VIP is in a range
        # (KUBE-LOAD-BALANCER-SOURCE-CIDR) or the node's IP is (KUBE-LOAD-BALANCER-SOURCE-IP, allowFromNode),
        # else KUBE-MARK-DROP and kubelet's KUBE-FIREWALL drops it in OUTPUT
        return {addr: Fraction(int(not (inside(addr) or inside(src)))) for _, addr in nlb_nodes if addr in vips}
    if s.kube_proxy.mode == "ipvs" and s.client_pod.host_network and layout_for(s.kube_proxy.version).minor < 29:
        return {addr: Fraction(0) for _, addr in nlb_nodes if addr in vips}  # 1.25-1.28: no OUTPUT filter
    return {addr: Fraction(int(outside)) for _, addr in nlb_nodes if addr in vips}


def _marks_only(s: Scenario) -> bool:
    """kube-proxy's source-range firewall marks for drop instead of dropping (iptables mode before 1.25)."""
    return s.kube_proxy.mode == "iptables" and not layout_for(s.kube_proxy.version).proxy_firewall


def timeout_probability(s: Scenario, *, address: str | None = None) -> float:
    """``timeout_fraction`` as a float: what ``hairpin reproduce`` shows as the expected rate."""
    return float(timeout_fraction(s, address=address))
