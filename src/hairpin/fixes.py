"""Named workarounds: each is the scenario changed the way its fix changes the cluster.

``FIXES`` names each workaround and says what it sets; ``with_fix()`` returns the scenario with one applied,
marked with its name (``Scenario.fix``), so the simulator, the lab and ``check`` compare the same variants.
``hairpin.scenario`` re-exports both.  ``missing()`` says what of a fix a scenario lacks: a scenario file's ``fix:``
key names the workaround it has applied, and the loader refuses one that does not have it (``hairpin.scenario``).
"""

from __future__ import annotations

from dataclasses import replace

from hairpin.errors import ScenarioError
from hairpin.model.scenario import LoadBalancer, Scenario

__all__ = ["FIXES", "TARGET_LABEL", "missing", "with_fix"]

FIXES: dict[str, str] = {
    "ip-targets": "NLB ip targets (aws-load-balancer-nlb-target-type: ip; legacy aws-load-balancer-type: nlb-ip)",
    "no-preserve-client-ip": "preserve_client_ip.enabled=false on the instance target group",
    "cluster-ip": "in-cluster callers use the Service's ClusterIP (cluster DNS name) instead of the NLB",
    "proxy-protocol-v2": "preserve_client_ip.enabled=false plus proxy_protocol_v2.enabled=true (annotation "
    "aws-load-balancer-proxy-protocol: '*'): the client address travels in a PPv2 header",
    "target-node-labels": "register only some nodes as targets (aws-load-balancer-target-node-labels): the scenario's "
    "load_balancer.target_node_labels, else the nodes that run no caller pod",
    "anti-affinity": "pod anti-affinity keeps target pods off the caller's node (ip targets with preservation on)",
}

#: Node label ``with_fix(..., "target-node-labels")`` puts on the nodes it registers when the scenario names none.
TARGET_LABEL = ("hairpin.dev/lb-target", "true")


def with_fix(scenario: Scenario, fix: str) -> Scenario:
    """The scenario with one named workaround applied (see ``FIXES``)."""
    svc = scenario.client_service
    lb = svc.load_balancer or LoadBalancer()
    if fix == "ip-targets":
        new_svc = replace(svc, load_balancer=replace(lb, target_type="ip", preserve_client_ip=None))
    elif fix == "no-preserve-client-ip":
        new_svc = replace(svc, load_balancer=replace(lb, preserve_client_ip=False))
    elif fix == "cluster-ip":
        return replace(scenario, client=replace(scenario.client, via="cluster-ip"), fix=fix)
    elif fix == "proxy-protocol-v2":
        new_svc = replace(svc, load_balancer=replace(lb, preserve_client_ip=False, proxy_protocol_v2=True))
    elif fix == "target-node-labels":
        if lb.target_node_labels:  # the scenario says which nodes are registered: keep its choice
            return replace(scenario, fix=fix)
        callers = {scenario.client_pod.node}
        nodes = tuple(n if n.name in callers else replace(n, labels=(*n.labels, TARGET_LABEL)) for n in scenario.nodes)
        new_svc = replace(svc, load_balancer=replace(lb, target_node_labels=(TARGET_LABEL,)))
        services = tuple(new_svc if s.key == svc.key else s for s in scenario.services)
        return replace(scenario, nodes=nodes, services=services, fix=fix)
    elif fix == "anti-affinity":
        return _anti_affinity(scenario)
    else:
        raise ScenarioError(f"unknown fix {fix!r}; known: {', '.join(FIXES)}")
    services = tuple(new_svc if s.key == svc.key else s for s in scenario.services)
    return replace(scenario, services=services, fix=fix)


def missing(scenario: Scenario, fix: str) -> str:
    """What of the workaround ``fix`` (a name in ``FIXES``) ``scenario`` lacks, or '' when it has it: the setting
    ``with_fix`` makes, as the simulator reads it (ip targets with preservation off however written; the nodes'
    labels whichever the scenario chose).  A scenario that has it runs as ``with_fix`` would run it."""
    svc = scenario.client_service
    lb = svc.load_balancer
    where = f"the load balancer of {svc.key}"
    if fix == "cluster-ip":
        return "" if scenario.client.via == "cluster-ip" else "client.via is load-balancer, not cluster-ip"
    if fix == "anti-affinity":
        caller = scenario.client_pod.node
        if all(n.name == caller for n in scenario.nodes):  # no other node: with_fix leaves the pods where they are
            return ""
        mine = [p.name for p in scenario.pods if p.name in svc.endpoints and p.node == caller and not p.host_network]
        return f"target pod {mine[0]} runs on the caller's node {caller}" if mine else ""
    if lb is None:
        return f"{svc.key} has no load balancer"
    if fix == "ip-targets":
        if lb.target_type != "ip":
            return f"{where} has {lb.target_type} targets, not ip"
        return f"{where} has ip targets with client IP preservation on" if lb.preserves_client_ip else ""
    if fix == "no-preserve-client-ip":
        return f"{where} preserves client IP addresses" if lb.preserves_client_ip else ""
    if fix == "proxy-protocol-v2":
        if lb.preserves_client_ip:
            return f"{where} preserves client IP addresses"
        return "" if lb.proxy_protocol_v2 else f"{where} has no proxy protocol v2"
    if fix == "target-node-labels":
        return "" if lb.target_node_labels else f"{where} has no target_node_labels"
    raise ScenarioError(f"unknown fix {fix!r}; known: {', '.join(FIXES)}")


def _anti_affinity(scenario: Scenario) -> Scenario:
    """Target pods scheduled away from the caller's node (requiredDuringScheduling pod anti-affinity).

    Each target pod on the caller's node moves to another node of the same AZ (its VPC address stays valid
    in the AZ's subnet), else to any other node; with no other node the scenario is unchanged.
    """
    caller = scenario.client_pod.node
    svc = scenario.client_service
    az = scenario.node(caller).az
    others = [n for n in scenario.nodes if n.name != caller]
    same = [n for n in others if n.az == az] or others
    if not same:
        return replace(scenario, fix="anti-affinity")
    moved = set(svc.endpoints)
    pods = tuple(
        replace(p, node=same[i % len(same)].name) if p.name in moved and p.node == caller and not p.host_network
        else p
        for i, p in enumerate(scenario.pods)
    )  # fmt: skip
    return replace(scenario, pods=pods, fix="anti-affinity")
