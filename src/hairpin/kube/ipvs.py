"""What kube-proxy's IPVS mode programs on one node for the scenario's Services (the virtual
servers and ipset members; the iptables text it writes is not generated yet: see docs/modes.md).

From kubernetes pkg/proxy/ipvs/proxier.go: for every service port a virtual server on the
ClusterIP:port (the ClusterIP bound to the dummy ``kube-ipvs0``) and, for NodePort/LoadBalancer
Services, one on every node address:NodePort (nodePortAddresses unset: all the node's addresses;
the scenario knows the primary one), scheduler ``rr`` by default, the Service's endpoints as
masquerading (``-m``) real servers.  ipsets: KUBE-CLUSTER-IP (ClusterIP,proto:port), KUBE-NODE-PORT-TCP
(bitmap of TCP NodePorts, matched in KUBE-SERVICES -> KUBE-NODE-PORT -> KUBE-MARK-MASQ) and
KUBE-LOOP-BACK (endpoint,proto:port,endpoint: a pod reaching itself, masqueraded in KUBE-POSTROUTING).
"""

from __future__ import annotations

from hairpin.ipvs import IpvsTable, VirtualServer
from hairpin.model.net import ip_int
from hairpin.scenario import Scenario

__all__ = ["ipsets", "virtual_servers"]


def virtual_servers(scenario: Scenario, node: str) -> IpvsTable:
    """The IPVS table kube-proxy keeps on ``node`` (in scenario order, endpoints in scenario order)."""
    node_ip = ip_int(next(n.ip for n in scenario.nodes if n.name == node))
    table = IpvsTable()
    for svc in scenario.services:
        pods = scenario.endpoints_of(svc)
        local_policy = svc.external_traffic_policy == "Local"
        for sp in svc.ports:
            proto = sp.protocol.lower()
            dests = [(ip_int(p.ip), sp.target_port) for p in pods]
            table.add(VirtualServer(proto, ip_int(svc.cluster_ip), sp.port, list(dests)))
            if svc.type in ("NodePort", "LoadBalancer") and sp.node_port:
                ext = [(ip_int(p.ip), sp.target_port) for p in pods if p.node == node] if local_policy else dests
                table.add(VirtualServer(proto, node_ip, sp.node_port, list(ext)))
    return table


def ipsets(scenario: Scenario, node: str) -> dict[str, list[str]]:
    """Members of the ipsets kube-proxy fills on ``node``, in ``ipset save`` member syntax."""
    out: dict[str, list[str]] = {"KUBE-CLUSTER-IP": [], "KUBE-NODE-PORT-TCP": [], "KUBE-LOOP-BACK": []}
    for svc in scenario.services:
        for sp in svc.ports:
            proto = sp.protocol.lower()
            out["KUBE-CLUSTER-IP"].append(f"{svc.cluster_ip},{proto}:{sp.port}")
            if svc.type in ("NodePort", "LoadBalancer") and sp.node_port and proto == "tcp":
                out["KUBE-NODE-PORT-TCP"].append(str(sp.node_port))
            for p in scenario.endpoints_of(svc):
                if p.node == node:
                    out["KUBE-LOOP-BACK"].append(f"{p.ip},{proto}:{sp.target_port},{p.ip}")
    return out
