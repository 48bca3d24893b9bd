"""The VPC router: delivers a packet to the ENI that owns its destination, and hands NLB traffic over.

Each node's ENI owns the node's primary address and the pod addresses the VPC CNI assigned to it as
secondary addresses.  The VPC drops a packet whose source the sending ENI does not own (the ENI's
source/destination check, on by default).  Packets to an NLB node's listener go to the NLB; a packet
leaving a target that belongs to an NLB flow (the reply to a preserved client address, or to the NLB's
own address) goes back through the NLB, which is how an NLB sees replies at all.  Packets to a Classic
Load Balancer node go to it (``hairpin.aws.clb``): a proxy, it answers the client itself and opens its
own connection to a target from its own address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hairpin.aws.clb import Clb
from hairpin.aws.nlb import NlbSet
from hairpin.model.net import Packet, ip_str
from hairpin.routing import Routing

if TYPE_CHECKING:
    from hairpin.host import Fabric

__all__ = ["VpcRouter"]


class VpcRouter:
    label = "VPC"
    name = "vpc"

    def __init__(self, fabric: Fabric, routing: Routing, nlbs: NlbSet, clbs: list[Clb] | None = None) -> None:
        self.fabric = fabric
        self.routing = routing
        self.nlbs = nlbs
        self.clbs = clbs or []

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
                return self._route(out)
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
            fwd = owner_nlb.forward(p)
            if fwd is None:
                self.fabric.record(self, f"NLB {ip_str(p.dst)}", p, [
                    f"NLB {ip_str(p.dst)}: no listener/healthy target for port {p.dport}: dropped"
                ], "drop", lane="NLB")  # fmt: skip
                return
            out, why = fwd
            self.fabric.record(self, f"NLB {ip_str(p.dst)}", out, [why], "nlb", lane="NLB")
            return self._route(out)
        self._route(p)

    def _route(self, p: Packet) -> None:
        r = self.routing.lookup(p.dst)
        if r.dev is None or r.type != "unicast":
            self.fabric.record(self, "VPC", p, [f"VPC: no ENI owns {ip_str(p.dst)}: dropped"], "drop")
            return
        self.fabric.transmit(self, r.dev, p, [f"VPC route: {ip_str(p.dst)} is on the ENI behind {r.dev}"])
