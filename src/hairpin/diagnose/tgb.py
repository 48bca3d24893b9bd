"""TargetGroupBindings: target groups made outside the cluster that the AWS Load Balancer Controller fills.

Facts, from kubernetes-sigs/aws-load-balancer-controller (docs/guide/targetgroupbinding/targetgroupbinding.md and
spec.md; apis/elbv2/v1beta1/targetgroupbinding_types.go; pkg/deploy/tracking/provider.go):

- A ``TargetGroupBinding`` (``elbv2.k8s.aws/v1beta1``) names an existing ALB or NLB target group
  (``spec.targetGroupARN``, else ``spec.targetGroupName``) and a Service port (``spec.serviceRef``: name, port);
  the controller registers the nodes at the port's NodePort (``spec.targetType: instance``, nodes chosen by the
  default node selector and ``spec.nodeSelector``) or the ready endpoints' pod addresses (``ip``).  Without
  ``targetType`` its webhook reads the target group's type from AWS.  The load balancer itself (NLB or ALB, its
  scheme) and the target group's attributes (``preserve_client_ip.enabled``) are made outside Kubernetes
  (Terraform, CloudFormation, the console), so no Kubernetes object says them.
- The controller makes TargetGroupBindings of its own for the Services, Ingresses and Gateways it provisions,
  labelled with its stack (``service.k8s.aws/stack-name``, ``ingress.k8s.aws/stack``, ...): those are judged
  through their Service or Gateway, not here.

An NLB target group with instance targets keeps the client IP unless the attribute turns it off (AWS's default;
the controller's getPreserveClientIP, model_build_target_group_binding_network.go), so a binding to an internal
NLB is the seed's failure with the load balancer made by hand.  hairpin cannot see the target group, so each
user-made binding is one finding: not at risk, verdict undecided, a warning saying what decides it and how to
read it from AWS.  (Until 2026-12-02 such bindings were dropped without a word: a NodePort Service behind an
internal NLB made by Terraform gave "nothing to fix", exit 0.)
"""

from __future__ import annotations

from typing import Any

from hairpin.aws import controller as ctl
from hairpin.diagnose.finding import Finding
from hairpin.kube.cluster import Cluster, KService
from hairpin.parsers.manifests import KubeObject

__all__ = ["KIND", "findings"]

KIND = "TargetGroupBinding"
#: label prefixes of the controller's own bindings (its stack labels)
_GENERATED = ("service.k8s.aws/", "ingress.k8s.aws/", "gateway.k8s.aws")


def _d(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _node_port(svc: KService | None, port: Any) -> int | None:
    if svc is None:
        return None
    for p in svc.ports:
        if port is not None and (p.get("port") == port or p.get("name") == port):
            np = p.get("nodePort")
            return np if isinstance(np, int) else None
    return None


def _finding(o: KubeObject, services: dict[tuple[str, str], KService]) -> Finding | None:
    meta, spec = _d(o.data.get("metadata")), _d(o.data.get("spec"))
    labels = _d(meta.get("labels"))
    if any(str(k).startswith(_GENERATED) for k in labels):
        return None
    ns, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
    ref = _d(spec.get("serviceRef"))
    sname, sport = str(ref.get("name") or ""), ref.get("port")
    svc = services.get((ns, sname))
    tg = str(spec.get("targetGroupARN") or spec.get("targetGroupName") or "(no target group named)")
    field = "targetGroupARN" if spec.get("targetGroupARN") else "targetGroupName"
    tt = spec.get("targetType")
    target_type = str(tt) if tt in ("instance", "ip") else None
    np = _node_port(svc, sport)
    if target_type == "instance":
        targets = f"the nodes at Service {ns}/{sname}'s NodePort" + (f" {np}" if np else f" for port {sport}")
        risk = ("if it belongs to an internal NLB and keeps the client IP (AWS's default for instance targets over TCP), a "
                "caller on a registered node is sent back to its own node with P = 1/n for n registered nodes and "
                "times out, as behind a Service's internal NLB")  # fmt: skip
    else:
        targets = (f"the pods of Service {ns}/{sname} port {sport}" if target_type == "ip" else
                   f"Service {ns}/{sname} port {sport} (targetType unset: the controller reads it from the target group)")  # fmt: skip
        risk = ("if it belongs to an internal NLB and keeps the client IP (AWS's default for instance targets over TCP and "
                "for UDP, not for ip targets over TCP), a caller can be sent back to its own node and time out, as "
                "behind a Service's internal NLB")  # fmt: skip
    step = f"TargetGroupBinding {ns}/{name}: the AWS Load Balancer Controller registers {targets} in target group {tg}"
    undecided = ("undecided: the target group's load balancer (NLB or ALB, internal or internet-facing) and its "
                 "preserve_client_ip.enabled attribute are made outside Kubernetes and are in no object hairpin reads")  # fmt: skip
    warning = (f"target group {tg} (TargetGroupBinding {ns}/{name} spec.{field}), where the AWS Load Balancer "
               f"Controller registers {targets}, is made outside Kubernetes and hairpin cannot see it: {risk}; read its "
               "load balancer and attribute with `aws elbv2 "
               "describe-target-groups` (LoadBalancerArns, then describe-load-balancers: Scheme, Type) and `aws elbv2 "
               "describe-target-group-attributes` (preserve_client_ip.enabled)")  # fmt: skip
    etp = svc.external_traffic_policy if svc is not None else "Cluster"
    s = ctl.Settings(ctl.LBC, "unknown", "unknown", target_type, None, False, etp, steps=(step, undecided))
    return Finding(ns, f"{KIND}/{name}/{sname}:{sport}", o.file, o.line, False, s, undecided, service_type=KIND,
                   warnings=[warning])  # fmt: skip


def findings(cluster: Cluster) -> list[Finding]:
    """One finding per user-made TargetGroupBinding of the input."""
    services = {(s.namespace, s.name): s for s in cluster.services}
    out = [_finding(o, services) for o in cluster.target_group_bindings]
    return [f for f in out if f is not None]
