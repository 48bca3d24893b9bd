"""The VPC router: delivers a packet to the ENI that owns its destination, and hands NLB traffic over.

Each node's ENI owns the node's primary address and the pod addresses the VPC CNI assigned to it as
secondary addresses.  The VPC drops a packet whose source the sending ENI does not own (the ENI's
source/destination check, on by default).  Packets to an NLB node's listener go to the NLB; a packet
leaving a target that belongs to an NLB flow (the reply to a preserved client address, or to the NLB's
own address) goes back through the NLB, which is how an NLB sees replies at all.  Packets to a Classic
Load Balancer node go to it (``hairpin.aws.clb``): a proxy, it answers the client itself and opens its
own connection to a target from its own address.

Internet-facing NLBs are reached from private subnets through a NAT gateway (the subnet's default
route): the pod's packet to the NLB's public address first leaves its node SNATed to the node's address
by the VPC CNI (``AWS-SNAT-CHAIN``: destinations outside the VPC CIDR; amazon-vpc-cni-k8s
pkg/networkutils/network.go), then the NAT gateway replaces that with its Elastic IP
(``NAT_GATEWAY_EIP``) and a port of its own ("NAT gateways", Amazon VPC User Guide:
https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html).  The NLB sees the NAT gateway
as the client, so with client IP preservation the target replies to the EIP, which is not local to any
node: the reply goes back through the NLB and the NAT gateway, never straight to the caller.  The NLB's
"loopback" failure needs the packet's source and destination to coincide ("NAT loopback, also known as
hairpinning, is not supported when client IP preservation is enabled", troubleshooting page
#loopback-timeout; AWS re:Post knowledge-center article "target-connection-fails-load-balancer": it
fails only when source and destination are the same), which the NAT gateway's address rules out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hairpin.aws.clb import Clb
from hairpin.aws.nlb import NlbSet
from hairpin.model.net import Endpoint, Packet, ip_int, ip_str
from hairpin.routing import Routing

if TYPE_CHECKING:
    from hairpin.host import Fabric

__all__ = ["NAT_GATEWAY_EIP", "VpcRouter"]

#: The Elastic IP of the NAT gateway that private subnets use to reach public addresses (a documentation
#: address, RFC 5737): the source an internet-facing NLB sees for in-cluster callers.
NAT_GATEWAY_EIP = "203.0.113.10"


class VpcRouter:
    label = "VPC"
    name = "vpc"

    def __init__(self, fabric: Fabric, routing: Routing, nlbs: NlbSet, clbs: list[Clb] | None = None) -> None:
        self.fabric = fabric
        self.routing = routing
        self.nlbs = nlbs
        self.clbs = clbs or []
        self.eip = ip_int(NAT_GATEWAY_EIP)
        self.nat_out: dict[tuple[int, int, int, int], int] = {}  # private 5-tuple -> NAT gateway port
        self.nat_back: dict[int, Endpoint] = {}  # NAT gateway port -> private source

    def reset(self) -> None:
        self.nat_out.clear()
        self.nat_back.clear()

    def _natgw_out(self, p: Packet) -> Packet:
        key = (p.src, p.sport, p.dst, p.dport)
        port = self.nat_out.get(key)
        if port is None:
            port = 1024 + (p.sport * 7919 + len(self.nat_out)) % 64512
            self.nat_out[key] = port
            self.nat_back[port] = p.source
        out = p.with_src(self.eip, port)
        self.fabric.record(self, "NAT gateway", out, [
            f"NAT gateway {NAT_GATEWAY_EIP}: private subnet to a public address: source {p.source} -> {out.source}"
        ], "snat", lane="NLB")  # fmt: skip
        return out

    def _natgw_back(self, p: Packet) -> Packet | None:
        orig = self.nat_back.get(p.dport) if p.dst == self.eip else None
        if orig is None:
            return None
        out = p.with_dst(orig.addr, orig.port)
        self.fabric.record(self, "NAT gateway", out, [
            f"NAT gateway {NAT_GATEWAY_EIP}: reply de-NATed to {orig}"
        ], "dnat", lane="NLB")  # fmt: skip
        return out

    def receive(self, p: Packet, iif: str) -> None:
        owner = self.routing.lookup(p.src)
        if owner.dev != iif and not any(n.owns(p.src) for n in self.nlbs.nlbs):
            self.fabric.record(self, "VPC", p, [
                f"source/destination check: {ip_str(p.src)} is not an address of the sending ENI ({iif}): dropped"
            ], "drop")  # fmt: skip
            return
        for nlb in self.nlbs.nlbs:
            back = nlb.reverse(p)
            if back is not None:
                out, why = back
                self.fabric.record(self, f"NLB {ip_str(out.src)}", out, [why], "nlb", lane="NLB")
                return self._route(self._natgw_back(out) or out)
        for clb in self.clbs:
            if clb.owns(p.dst):
                answers = clb.handle(p)
                if not answers:
                    self.fabric.record(self, f"CLB {ip_str(p.dst)}", p, ["CLB: consumed (handshake ACK)"], "nlb",
                                       lane="NLB")  # fmt: skip
                for out, why in answers:
                    self.fabric.record(self, f"CLB {ip_str(p.dst)}", out, [why], "nlb", lane="NLB")
                    self._route(out)
                return
        owner_nlb = self.nlbs.for_addr(p.dst)
        if owner_nlb is not None:
            lb = owner_nlb.service.load_balancer
            if lb is not None and lb.scheme == "internet-facing" and p.src != self.eip:
                p = self._natgw_out(p)
            sg = owner_nlb.security_group_drop(p)
            if sg is not None and sg[0] == "nlb":
                self.fabric.record(self, f"NLB {ip_str(p.dst)}", p, [f"NLB {ip_str(p.dst)}: {sg[1]}"], "drop",
                                   lane="NLB")  # fmt: skip
                return
            fwd = owner_nlb.forward(p)
            if fwd is None:
                self.fabric.record(self, f"NLB {ip_str(p.dst)}", p, [
                    f"NLB {ip_str(p.dst)}: no listener/healthy target for port {p.dport}: dropped"
                ], "drop", lane="NLB")  # fmt: skip
                return
            out, why = fwd
            if sg is not None:  # forwarded, then refused by the target's security group
                self.fabric.record(self, f"NLB {ip_str(p.dst)}", out, [why, sg[1]], "drop", lane="NLB")
                return
            self.fabric.record(self, f"NLB {ip_str(p.dst)}", out, [why], "nlb", lane="NLB")
            return self._route(out)
        self._route(p)

    def _route(self, p: Packet) -> None:
        r = self.routing.lookup(p.dst)
        if r.dev is None or r.type != "unicast":
            self.fabric.record(self, "VPC", p, [f"VPC: no ENI owns {ip_str(p.dst)}: dropped"], "drop")
            return
        self.fabric.transmit(self, r.dev, p, [f"VPC route: {ip_str(p.dst)} is on the ENI behind {r.dev}"])
