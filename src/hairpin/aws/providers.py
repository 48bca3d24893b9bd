"""One entry point for every controller hairpin knows: which one provisions a Service, and its settings.

``resolve`` sends a Service of class ``eks.amazonaws.com/nlb`` to EKS Auto Mode (``hairpin.aws.automode``)
and every other to ``hairpin.aws.controller.resolve`` (the in-tree AWS cloud provider and the AWS Load
Balancer Controller), telling the latter whether the cloud provider honours the target group
attributes annotation (``hairpin.aws.cloud_provider``) and saying in the steps what was assumed.

The cloud provider accepts only ``preserve_client_ip.enabled`` and ``proxy_protocol_v2.enabled`` in that
annotation and rejects it whole when another key is there (cloud-provider-aws ``aws_validations.go``):
the target group then keeps its defaults.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from hairpin.aws import automode
from hairpin.aws import controller as ctl
from hairpin.aws.cloud_provider import Support

__all__ = ["IN_TREE_TG_KEYS", "resolve"]

IN_TREE_TG_KEYS = frozenset({"preserve_client_ip.enabled", "proxy_protocol_v2.enabled"})


def resolve(
    annotations: Mapping[str, str],
    *,
    load_balancer_class: str | None = None,
    service_type: str = "LoadBalancer",
    protocols: Sequence[str] = ("TCP",),
    external_traffic_policy: str = "Cluster",
    mutator_webhook: bool = False,
    in_tree: Support | None = None,
    lbc_load_balancer_only: bool = False,
    ports: Sequence[tuple[int | None, str]] = (),
    lbc: ctl.LbcFlags | None = None,
) -> ctl.Settings:
    """The settings of whichever controller provisions the Service.  ``in_tree``: the cloud provider's support
    for the target group attributes annotation (None: unknown, assumed ignored).  ``lbc``: the AWS Load
    Balancer Controller's command line (``hairpin.aws.lbc_flags``; None: its defaults)."""
    if service_type == "LoadBalancer" and load_balancer_class == automode.AUTO_CLASS:
        return automode.resolve(annotations, protocols=protocols, external_traffic_policy=external_traffic_policy,
                                ports=ports)  # fmt: skip
    raw = str(annotations.get(ctl.TG_ATTRIBUTES, ""))
    keys = set(ctl.parse_map(raw))
    honoured = in_tree is not None and in_tree.honoured is True
    rejected = sorted(keys - IN_TREE_TG_KEYS)
    s = ctl.resolve(
        annotations,
        load_balancer_class=load_balancer_class,
        service_type=service_type,
        protocols=protocols,
        external_traffic_policy=external_traffic_policy,
        mutator_webhook=mutator_webhook,
        in_tree_tg_attributes=honoured and not rejected,
        lbc_load_balancer_only=lbc_load_balancer_only,
        ports=ports,
        lbc=lbc,
    )
    if s.controller == ctl.LBC and s.is_nlb:
        # v2.6.0 attaches security groups to the NLBs it creates (feature gate NLBSecurityGroup, default on)
        own = ctl.annotation("aws-load-balancer-security-groups")
        step = (f"security groups on the NLB: {own} names them (their rules are not in Kubernetes objects)"
                if own in annotations else
                "security groups on the NLB (assumed: the AWS Load Balancer Controller v2.6.0 or later creates "
                "its NLBs with them)")  # fmt: skip
        return dataclasses.replace(s, steps=(*s.steps[:-1], step, s.steps[-1]), security_groups=True)
    if s.controller != ctl.IN_TREE or s.load_balancer != "nlb" or ctl.TG_ATTRIBUTES not in annotations:
        return s
    why = in_tree.note if in_tree is not None else "cloud provider release unknown: assumed to ignore it"
    steps = list(s.steps)
    problems = list(s.problems)
    if honoured and rejected:
        note = (f"{ctl.TG_ATTRIBUTES} rejected by the cloud provider: it accepts only {', '.join(sorted(IN_TREE_TG_KEYS))}"
                f", not {', '.join(rejected)} (aws_validations.go); the target group keeps its defaults; {why}")  # fmt: skip
        problems.append(note)
    elif honoured:
        note = f"{ctl.TG_ATTRIBUTES} honoured by the cloud provider: {why}"
    else:
        note = f"{ctl.TG_ATTRIBUTES} ignored: {why}"
    old = next((i for i, t in enumerate(steps) if t.startswith(f"{ctl.TG_ATTRIBUTES} ignored")), None)
    if old is not None:
        steps[old] = note
    else:
        at = next((i for i, t in enumerate(steps) if t.startswith("client IP preservation")), len(steps))
        steps.insert(at, note)
    return dataclasses.replace(s, steps=tuple(steps), problems=tuple(problems))
