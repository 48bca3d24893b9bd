"""Services a controller refuses for their spec before it builds anything: no load balancer, so no hairpin.

- ``in_tree``: the AWS cloud provider's EnsureLoadBalancer (``hairpin.aws.cloud_provider.refusals``; a Service
  whose status already names a load balancer keeps its verdict, as the failure leaves that one as it was) and
  its ports without a node port (``spec.allocateLoadBalancerNodePorts: false``: no listener at all).
- ``lbc_instance``: the AWS Load Balancer Controller's refusal of instance targets for a Service with ports that
  get no node port (``unallocated``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hairpin.aws import cloud_provider
from hairpin.aws import controller as ctl
from hairpin.kube.cluster import KService

__all__ = ["in_tree", "lbc_instance", "unallocated"]


def in_tree(svc: KService, s: ctl.Settings, tg_checked: bool) -> ctl.Settings:
    """``s``, or no load balancer when the AWS cloud provider's EnsureLoadBalancer fails on the Service before it
    builds anything (``hairpin.aws.cloud_provider.refusals``).  A Service whose status already names a load
    balancer keeps ``s``: the failure leaves the one built before as it was, and that is the one callers reach."""
    why = cloud_provider.refusals([_port_of(p) for p in svc.ports], nlb=s.is_nlb, session_affinity=svc.session_affinity,
                                  load_balancer_ip=svc.load_balancer_ip,
                                  tg_attributes_checked=tg_checked and ctl.TG_ATTRIBUTES in svc.annotations)  # fmt: skip
    if not why and svc.ports and len(unallocated(svc)) == len(svc.ports):
        # EnsureLoadBalancer skips each port without a node port ("Ignoring port without NodePort defined"): the
        # load balancer gets no listener, so no connection through it reaches a target
        return ctl.not_built(s.external_traffic_policy, (*s.steps, (
            "spec.allocateLoadBalancerNodePorts: false and no port has a nodePort: the AWS cloud provider skips every "
            "port (\"Ignoring port without NodePort defined\"; pkg/providers/v1/aws.go EnsureLoadBalancer), so its load "
            "balancer gets no listener and no connection through it reaches a target")),
            (*s.problems, "no port has a nodePort (spec.allocateLoadBalancerNodePorts: false): the load balancer gets "
             "no listener"))  # fmt: skip
    if not why:
        return s
    said = "; ".join(f'"{w}"' for w in why)
    problems = (*s.problems, *(f"the AWS cloud provider refuses the Service: {w}" for w in why))
    if svc.existing and any(ip or host for ip, host, _ in svc.ingress):
        lb = "NLB" if s.is_nlb else "Classic ELB"
        step = (f"the AWS cloud provider refuses the Service as it is now ({said}; pkg/providers/v1/aws.go "
                f"EnsureLoadBalancer): the {lb} in its status was built before and keeps the settings judged here")  # fmt: skip
        return dataclasses.replace(s, steps=(*s.steps, step), problems=problems)
    step = (f"the AWS cloud provider refuses the Service ({said}; pkg/providers/v1/aws.go EnsureLoadBalancer): "
            "no load balancer is built")  # fmt: skip
    return ctl.not_built(s.external_traffic_policy, (*s.steps, step), problems)


def lbc_instance(svc: KService, s: ctl.Settings) -> ctl.Settings:
    """``s`` (the AWS Load Balancer Controller's instance targets), or no load balancer when a port gets no node
    port: the model build fails (``pkg/service/model_build_target_group.go`` buildTargetType, v2.4.0 and later)."""
    ports = ", ".join(str(p.get("port")) for p in unallocated(svc))
    if not ports:
        return s
    step = (f"spec.allocateLoadBalancerNodePorts: false and port(s) {ports} without a nodePort: the AWS Load Balancer "
            "Controller refuses instance targets (\"unable to support instance target type with an unallocated "
            "NodePort\") and builds no load balancer")  # fmt: skip
    problem = "unable to support instance target type with an unallocated NodePort (the controller refuses the Service)"
    return ctl.not_built(s.external_traffic_policy, (*s.steps, step), (*s.problems, problem))


def unallocated(svc: KService) -> list[dict[str, Any]]:
    """The Service's ports that get no node port: with ``spec.allocateLoadBalancerNodePorts: false`` the API server
    allocates none but those written in the object (kubernetes ``pkg/registry/core/service/storage``)."""
    if svc.allocate_node_ports:
        return []
    return [p for p in svc.ports if not p.get("nodePort")]


def _port_of(p: dict[str, Any]) -> tuple[int | None, str]:
    number = p.get("port")
    return (number if isinstance(number, int) else None), str(p.get("protocol") or "TCP")
