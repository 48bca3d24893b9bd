"""One entry point for every controller hairpin knows: which one provisions a Service, and its settings.

``resolve`` sends a Service of class ``eks.amazonaws.com/nlb`` to EKS Auto Mode (``hairpin.aws.automode``)
and every other to ``hairpin.aws.controller.resolve`` (the in-tree AWS cloud provider and the AWS Load
Balancer Controller), telling the latter whether the cloud provider honours the target group
attributes annotation (``hairpin.aws.cloud_provider``) and saying in the steps what was assumed.

The cloud provider accepts only ``preserve_client_ip.enabled`` and ``proxy_protocol_v2.enabled`` in that
annotation, each exactly ``true`` or ``false``, and refuses the Service when anything else is there
(cloud-provider-aws ``aws_validations.go``, validateServiceAnnotationTargetGroupAttributes, run first in
EnsureLoadBalancer): an existing NLB keeps its target group attributes, i.e. its defaults.  It splits the
annotation its own way (``in_tree_pairs``), not as the AWS Load Balancer Controller does: it does not trim
around ``=``, and compares values exactly, so ``preserve_client_ip.enabled=False`` or ``= false`` is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from hairpin.aws import automode
from hairpin.aws import controller as ctl
from hairpin.aws.cloud_provider import Support, in_tree_pairs

__all__ = ["IN_TREE_TG_KEYS", "in_tree_pairs", "in_tree_refusals", "resolve"]

IN_TREE_TG_KEYS = frozenset({"preserve_client_ip.enabled", "proxy_protocol_v2.enabled"})


def _name(key: str) -> str:
    return key if key == key.strip() and key else repr(key)


def in_tree_refusals(pairs: Mapping[str, str], protocols: Sequence[str]) -> list[str]:
    """Why the cloud provider refuses these attributes (validateServiceAnnotationTargetGroupAttributes,
    ``pkg/providers/v1/aws_validations.go``), one clause each; empty when it accepts them."""
    out: list[str] = []
    other = sorted(k for k in pairs if k not in IN_TREE_TG_KEYS)
    if other:
        out.append(f"it accepts only {', '.join(sorted(IN_TREE_TG_KEYS))}, not {', '.join(_name(k) for k in other)}")
    for key in sorted(k for k in pairs if k in IN_TREE_TG_KEYS):
        value = pairs[key]
        if not value:
            out.append(f"{key} has no value")
        elif value not in ("true", "false"):
            out.append(f"{key}={value!r} is not exactly true or false")
        elif key == "preserve_client_ip.enabled" and value == "false" and any(p.upper() == "UDP" for p in protocols):
            out.append(f"{key}=false is refused on a UDP port")
    return out


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
    pairs = in_tree_pairs(raw)
    honoured = in_tree is not None and in_tree.honoured is True
    rejected = in_tree_refusals(pairs, protocols) if ctl.TG_ATTRIBUTES in annotations else []
    common = {
        "load_balancer_class": load_balancer_class,
        "service_type": service_type,
        "protocols": protocols,
        "external_traffic_policy": external_traffic_policy,
        "mutator_webhook": mutator_webhook,
        "lbc_load_balancer_only": lbc_load_balancer_only,
        "ports": ports,
        "lbc": lbc,
    }
    s = ctl.resolve(annotations, in_tree_tg_attributes=honoured and not rejected, **common)  # type: ignore[arg-type]
    if honoured and not rejected and s.controller == ctl.IN_TREE and s.is_nlb:
        # read as the provider splits it (``k=true=x`` is k=true to it), not as the LBC does
        canonical = ",".join(f"{k}={v}" for k, v in pairs.items())
        if canonical != raw:
            s = ctl.resolve({**annotations, ctl.TG_ATTRIBUTES: canonical}, in_tree_tg_attributes=True, **common)  # type: ignore[arg-type]
    if s.controller == ctl.LBC and s.is_nlb and lbc is not None and lbc.version is not None and lbc.version < (2, 6, 0):
        # before v2.6.0 neither the feature gate NLBSecurityGroup (pkg/config/feature_gates.go) nor the Service
        # annotation aws-load-balancer-security-groups (pkg/annotations/constants.go) exists: v2.5.4 builds NLBs
        # without security groups
        step = (f"no security groups on the NLB: the AWS Load Balancer Controller's {lbc.release_is}, and releases "
                f"before v2.6.0 build NLBs without them ({lbc.source})")
        return dataclasses.replace(s, steps=(*s.steps[:-1], step, s.steps[-1]), security_groups=False)
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
        note = (f"{ctl.TG_ATTRIBUTES} rejected by the cloud provider: {'; '.join(rejected)} (aws_validations.go); "
                f"the target group keeps its defaults; {why}")  # fmt: skip
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
