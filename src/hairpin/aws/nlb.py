"""The Network Load Balancer, as its documentation describes it.

- One NLB node per enabled AZ, each with its own address; a client reaches the node its DNS answer named.
- A node sends a new flow to a healthy target of its target group: only targets in its own AZ when
  cross-zone load balancing is off (the default for NLBs), all healthy targets when it is on.
  ("Network Load Balancers", "Cross-zone load balancing", AWS ELB docs.)
- The target is chosen by a flow hash "based on the protocol, source IP address, source port,
  destination IP address, destination port, and TCP sequence number" (same docs, "Routing algorithm"),
  and every later packet of the flow goes to the same target: the node keeps a flow table, so SYN
  retransmissions (same 5-tuple, same sequence number) land on the same target.
- Client IP preservation (target group attribute ``preserve_client_ip.enabled``): on, the node rewrites
  only the destination to target:port and keeps the client's address; off, it also rewrites the source to
  its own private address.  Defaults: on for instance targets, off for ip targets with TCP/TLS
  ("Target groups for your Network Load Balancers", Client IP preservation).
- Replies that leave the target toward the client (preservation on) or toward the NLB's address (off)
  are handed back to the NLB by the VPC, which restores the listener's address as source.
- Proxy Protocol v2 (``proxy_protocol_v2.enabled``) prepends a header naming the client to the first
  bytes the target receives: the client's address and port and the listener's, whatever the client IP
  preservation setting, so a backend that parses it (nginx ``listen ... proxy_protocol``) recovers the
  caller's address with preservation off.  Health check connections carry a header too, without client
  information ("Edit target group attributes", Proxy protocol:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#proxy-protocol;
  header format: haproxy's proxy-protocol.txt, section 2.2).  ``Flow.proxy_header`` holds the header's
  content in the version 1 text form, which is what a PPv2 parser hands the application.

Targets: instance targets are node IP:NodePort of the registered nodes (all nodes, or those matching the
target-node-labels); with externalTrafficPolicy Local only nodes with a local endpoint pass the health
check (kube-proxy's healthCheckNodePort answers 503 on the others, and from 1.23 is refused on a node whose address
``--nodeport-addresses`` leaves out: ``hairpin.kube.proxy.answers_health_checks``), with Cluster every node passes unless the
Service has no endpoints: the check is a TCP connection to the NodePort (the AWS Load Balancer Controller's
and the cloud provider's default for Cluster), which kube-proxy's "has no endpoints" REJECT refuses.  ip targets are pod IP:targetPort.  Targets in AZs the load balancer has not enabled receive no
traffic.  An NLB node whose AZ has no healthy target is removed from DNS; with no healthy target in any
enabled AZ the NLB "fails open" and every node uses every registered target (target-group-health-checks,
target-group-cross-zone pages of the ELB docs; the same rules as ``hairpin.aws.risk``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from hairpin.aws.risk import instance_target_healthy
from hairpin.aws.security_groups import blocked
from hairpin.kube.proxy import answers_health_checks, answers_node_ports
from hairpin.model.net import Endpoint, Packet, addr_int, ip_str, is_v6
from hairpin.scenario import Scenario, Service

__all__ = ["Flow", "Nlb", "NlbNode", "Target", "flow_hash_of", "targets_for"]


@dataclass(frozen=True)
class Target:
    addr: int
    port: int
    az: str
    name: str  # node or pod name
    healthy: bool = True

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.addr, self.port)

    def __str__(self) -> str:
        return str(self.endpoint)  # ip:port, [ip]:port for IPv6


@dataclass(frozen=True)
class NlbNode:
    az: str
    addr: int
    port: int  # listener port
    targets: tuple[Target, ...]  # the targets this node may choose from (AZ or cross-zone)


@dataclass
class Flow:
    node: NlbNode
    client: Endpoint
    listener: Endpoint
    target: Target
    nat_src: Endpoint | None  # set when client IP preservation is off
    proxy_header_sent: bool = False
    #: the Proxy Protocol v2 header's content, e.g. "PROXY TCP4 192.168.27.239 192.168.52.10 40000 80"
    #: (client address, listener address, client port, listener port); None without Proxy Protocol
    proxy_header: str | None = None


def targets_for(s: Scenario, svc: Service) -> list[Target]:
    """Every registered target of the Service's target group, with its health."""
    lb = svc.load_balancer
    if lb is None or not svc.ports:
        return []
    sp = svc.ports[0]
    eps = s.endpoints_of(svc)
    out: list[Target] = []
    if lb.target_type == "ip":
        for pod in eps:
            out.append(Target(addr_int(pod.ip), sp.target_port, s.node(pod.node).az, pod.name))
        return out
    if sp.node_port is None:
        return []
    want = dict(lb.target_node_labels)
    for node in s.nodes:
        labels = dict(node.labels)
        if want and any(labels.get(k) != v for k, v in want.items()):
            continue
        local = any(p.node == node.name for p in eps)
        healthy = instance_target_healthy(svc.external_traffic_policy, local, bool(eps), answers_node_ports(s, node.name),
                                          answers_health_checks(s, node.name))  # fmt: skip
        out.append(Target(addr_int(node.ip), sp.node_port, node.az, node.name, healthy))
    return out


def flow_hash_of(key: bytes, proto: str, src: int, sport: int, dst: int, dport: int, seq: int) -> int:
    """The simulated flow hash of a packet's (protocol, addresses, ports, sequence number) under ``key``."""
    data = f"{proto}|{src}|{sport}|{dst}|{dport}|{seq}".encode()
    return int.from_bytes(hashlib.blake2b(data, key=key, digest_size=8).digest(), "big")


class Nlb:
    """The NLB nodes of one Service and their flow tables."""

    def __init__(self, s: Scenario, svc: Service, key: bytes = b"hairpin") -> None:
        lb = svc.load_balancer
        assert lb is not None
        self.service = svc
        self.preserve = lb.preserves_client_ip
        self.proxy_protocol = lb.proxy_protocol_v2
        self.security_groups = lb.security_groups
        self.source_ranges = lb.source_ranges
        self.key = hashlib.blake2b(key, digest_size=16).digest()
        enabled = {az for az, _ in lb.nodes}
        # targets registered in an AZ the load balancer has not enabled receive no traffic
        registered = [t for t in targets_for(s, svc) if t.az in enabled]
        any_healthy = any(t.healthy for t in registered)
        listener_port = svc.ports[0].port
        self.nodes: dict[int, NlbNode] = {}
        self.in_dns: list[int] = []  # node addresses DNS answers with (those with a healthy target)
        for az, addr in lb.nodes:
            pool = registered if lb.cross_zone else [t for t in registered if t.az == az]
            healthy = [t for t in pool if t.healthy]
            # fail open (no healthy target in any enabled AZ): every registered target, from every node;
            # else the healthy ones; a node whose AZ has none is withdrawn from DNS, and a caller that still
            # uses it reaches its own pool's registered targets
            chosen = registered if not any_healthy else (healthy or pool)
            if healthy or not any_healthy:
                self.in_dns.append(addr_int(addr))
            self.nodes[addr_int(addr)] = NlbNode(az, addr_int(addr), listener_port, tuple(chosen))
        self.flows: dict[tuple[int, int, int, int], Flow] = {}
        self.replies: dict[tuple[int, int, int, int], Flow] = {}
        self.force: Callable[[NlbNode, Packet], Target | None] | None = None

    def reset(self) -> None:
        self.flows.clear()
        self.replies.clear()

    def owns(self, addr: int) -> bool:
        return addr in self.nodes

    def security_group_drop(self, p: Packet) -> tuple[str, str] | None:
        """(where, why) when a security group drops this client packet (``hairpin.aws.security_groups``)."""
        where = blocked(ip_str(p.src), self.source_ranges, nlb_security_groups=self.security_groups,
                        preserve_client_ip=self.preserve)  # fmt: skip
        if where is None:
            return None
        ranges = ", ".join(self.source_ranges)
        if where == "nlb":
            return where, (f"the NLB's security group admits only its source ranges ({ranges}): "
                           f"{ip_str(p.src)} is not in them, dropped")  # fmt: skip
        return where, (f"client IP preserved, and the targets' security group admits only the source ranges "
                       f"({ranges}): {ip_str(p.src)} is not in them, dropped at the target")  # fmt: skip

    def flow_hash(self, p: Packet) -> int:
        """The flow hash over protocol, addresses, ports and TCP sequence number (keyed per run)."""
        return flow_hash_of(self.key, p.proto, p.src, p.sport, p.dst, p.dport, p.seq)

    def choose(self, node: NlbNode, p: Packet) -> Target | None:
        if self.force is not None:
            forced = self.force(node, p)
            if forced is not None:
                return forced
        if not node.targets:
            return None
        return node.targets[self.flow_hash(p) % len(node.targets)]

    def forward(self, p: Packet) -> tuple[Packet, str] | None:
        """A client packet to a listener: the packet the node sends to the target, and why."""
        node = self.nodes.get(p.dst)
        if node is None or p.dport != node.port:
            return None
        key = (p.src, p.sport, p.dst, p.dport)
        flow = self.flows.get(key)
        how = "flow table hit (same flow, same target)"
        if flow is None:
            target = self.choose(node, p)
            if target is None:
                return None
            nat_src = None
            if not self.preserve:
                nat_src = Endpoint(node.addr, 1024 + self.flow_hash(p) % 64512)
            flow = Flow(node, p.source, p.dest, target, nat_src)
            if self.proxy_protocol:
                fam = "TCP6" if is_v6(p.src) else "TCP4"  # proxy-protocol.txt 2.2: the header's address family
                flow.proxy_header = f"PROXY {fam} {ip_str(p.src)} {ip_str(p.dst)} {p.sport} {p.dport}"
            self.flows[key] = flow
            back = nat_src or p.source
            self.replies[(target.addr, target.port, back.addr, back.port)] = flow
            pool = ", ".join(t.name for t in node.targets)
            how = (
                f"new flow: flow hash (proto, src, sport, dst, dport, seq) picks target {target} ({target.name}) "
                f"of {len(node.targets)} in {'all AZs (cross-zone)' if len(set(t.az for t in node.targets)) > 1 else node.az}: [{pool}]"
            )
        src = flow.nat_src or p.source
        out = Packet(src.addr, src.port, flow.target.addr, flow.target.port, p.flags, p.seq, p.ack, p.proto, p.payload)
        keep = (
            "client IP preserved: only the destination is rewritten"
            if flow.nat_src is None
            else (f"client IP preservation off: source rewritten to the NLB's own address {flow.nat_src}")
        )
        pp = ""
        if flow.proxy_header is not None:
            pp = (
                f"; Proxy Protocol v2: the target's first bytes will be a header carrying the client "
                f"({flow.proxy_header})"
            )
        return out, f"NLB {ip_str(node.addr)} ({node.az}): {how}; {keep}{pp}"

    def reverse(self, p: Packet) -> tuple[Packet, str] | None:
        """A target's reply the VPC hands back to the NLB: restore the listener as the source."""
        flow = self.replies.get((p.src, p.sport, p.dst, p.dport))
        if flow is None:
            return None
        out = Packet(flow.listener.addr, flow.listener.port, flow.client.addr, flow.client.port, p.flags, p.seq,
                     p.ack, p.proto, p.payload)  # fmt: skip
        return (
            out,
            f"NLB {ip_str(flow.node.addr)}: reply of flow {flow.client} -> {flow.listener}, source restored to the listener",
        )


@dataclass
class NlbSet:
    """Every NLB of a scenario, by node address."""

    nlbs: list[Nlb] = field(default_factory=list)

    def for_addr(self, addr: int) -> Nlb | None:
        for n in self.nlbs:
            if n.owns(addr):
                return n
        return None
