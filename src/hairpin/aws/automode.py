"""EKS Auto Mode's load balancing: what it builds for a Service of class ``eks.amazonaws.com/nlb``.

Facts, from the Amazon EKS User Guide (awsdocs/amazon-eks-user-guide ``latest/ug/automode/``):

- ``auto-configure-nlb.adoc`` ("Use Service Annotations to configure Network Load Balancers"): Auto Mode
  provisions an NLB for ``spec.loadBalancerClass: eks.amazonaws.com/nlb``, set as the cluster's default
  class.  Documented annotations (prefix ``service.beta.kubernetes.io/``): ``aws-load-balancer-type``
  (listed with ``external``, yet also "Not supported, use spec.loadBalancerClass": the class decides here),
  ``aws-load-balancer-nlb-target-type`` (``instance`` or ``ip``), ``aws-load-balancer-scheme``,
  health-check, subnet, TLS, tag and IP-address-type annotations, ``aws-load-balancer-attributes`` and
  ``aws-load-balancer-target-group-attributes`` (shown with ``proxy_protocol_v2.enabled=true``, values one
  per line).  Not supported: ``aws-load-balancer-internal`` (use the scheme annotation),
  ``aws-load-balancer-proxy-protocol`` and ``aws-load-balancer-cross-zone-load-balancing-enabled`` (use the
  attributes annotations), ``load-balancer-source-ranges`` (use ``spec.loadBalancerSourceRanges``).
- ``auto-networking.adoc`` ("Considerations for load balancing"): "The default targeting mode is IP Mode,
  not Instance Mode"; NLBs only in security group mode.
- Not documented, and assumed here (each assumption is a step of the verdict): the scheme default
  (internal, as the AWS Load Balancer Controller, whose annotations Auto Mode takes), whether
  ``preserve_client_ip.enabled`` in the target group attributes is applied (assumed yes, as the
  controller does), the client IP preservation default (assumed AWS's target group default: on for
  instance targets, off for ip targets with TCP/TLS, on with UDP; "Target groups for your Network Load
  Balancers", Client IP preservation) and ``aws-load-balancer-target-node-labels`` (not documented:
  assumed ignored, every node registered).

Fix advice for these Services uses only what the page documents (target type, scheme, calling the
ClusterIP): ``hairpin.diagnose.check`` asks ``HONOURED`` before proposing an annotation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hairpin.aws import controller as ctl
from hairpin.aws.ignored import Ignored
from hairpin.aws.protocols import always_preserved

__all__ = ["AUTO_CLASS", "AUTO_MODE", "HONOURED", "IGNORED", "NODE_LABEL", "ignored", "parse_attributes", "resolve"]

AUTO_CLASS = "eks.amazonaws.com/nlb"
#: Auto Mode's nodes are labelled eks.amazonaws.com/compute-type=auto (the EKS User Guide's sample apps,
#: automode/sample-apps/inflate-stateful.yaml, select them with it)
NODE_LABEL = "eks.amazonaws.com/compute-type"
AUTO_MODE = "eks-auto-mode"
DOC = "EKS User Guide, auto-configure-nlb"

#: annotations Auto Mode documents for NLBs (fix advice uses only these)
HONOURED = frozenset(
    ctl.annotation(s)
    for s in (
        "aws-load-balancer-nlb-target-type",
        "aws-load-balancer-scheme",
        "aws-load-balancer-attributes",
        "aws-load-balancer-target-group-attributes",
        "aws-load-balancer-healthcheck-protocol",
        "aws-load-balancer-healthcheck-path",
        "aws-load-balancer-healthcheck-port",
        "aws-load-balancer-subnets",
        "aws-load-balancer-ssl-cert",
        "aws-load-balancer-ssl-ports",
        "aws-load-balancer-additional-resource-tags",
        "aws-load-balancer-ip-address-type",
    )
)
#: annotations the page says are not supported, with what to use instead
IGNORED: dict[str, str] = {
    ctl.TYPE: "spec.loadBalancerClass",
    ctl.INTERNAL: ctl.SCHEME,
    ctl.PROXY_PROTOCOL: f"{ctl.TG_ATTRIBUTES}: proxy_protocol_v2.enabled=true",
    ctl.CROSS_ZONE: f"{ctl.LB_ATTRIBUTES}: load_balancing.cross_zone.enabled=true",
    ctl.annotation("load-balancer-source-ranges"): "spec.loadBalancerSourceRanges",
    ctl.annotation("aws-load-balancer-access-log-enabled"): ctl.LB_ATTRIBUTES,
}


def ignored(annotations: Mapping[str, str]) -> tuple[Ignored, ...]:
    """The annotations the EKS guide says Auto Mode does not support, with what to use instead."""
    return tuple(Ignored(k, str(annotations[k]), AUTO_MODE, f"EKS Auto Mode does not support it (use {IGNORED[k]})")
                 for k in sorted(set(annotations) & set(IGNORED)))  # fmt: skip


def parse_attributes(value: str) -> dict[str, str]:
    """``k=v`` pairs separated by commas or newlines (the page writes one per line)."""
    return ctl.parse_map(value.replace("\n", ","))


def resolve(
    annotations: Mapping[str, str],
    *,
    protocols: Sequence[str] = ("TCP",),
    external_traffic_policy: str = "Cluster",
    ports: Sequence[tuple[int | None, str]] = (),
) -> ctl.Settings:
    """The NLB EKS Auto Mode builds for a Service of class ``eks.amazonaws.com/nlb``."""
    a = {str(k): str(v) for k, v in annotations.items()}
    etp = external_traffic_policy or "Cluster"
    steps = [f"spec.loadBalancerClass {AUTO_CLASS}: EKS Auto Mode provisions a Network Load Balancer ({DOC})"]
    problems: list[str] = []
    for key in sorted(set(a) & set(IGNORED)):
        steps.append(f"{key} ignored: EKS Auto Mode does not support it (use {IGNORED[key]})")
    raw = a.get(ctl.SCHEME)
    if raw in ("internal", "internet-facing"):
        scheme = raw
        steps.append(f"scheme {raw} ({ctl.SCHEME})")
    else:
        if raw is not None:
            problems.append(f"{ctl.SCHEME}: unknown scheme {raw!r}")
        scheme = "internal"
        steps.append("scheme internal (assumed: Auto Mode's default is not documented; the AWS Load Balancer "
                     "Controller's is internal)")  # fmt: skip
    tt = a.get(ctl.TARGET_TYPE)
    odd: list[str] = []
    if tt in ("ip", "instance"):
        target_type = tt
        steps.append(f"target type {tt} ({ctl.TARGET_TYPE})")
    elif tt is not None:
        # not documented: assumed as the AWS Load Balancer Controller's buildTargetType (model_build_target_group.go),
        # whose annotations Auto Mode takes: a value present and not 'ip' registers instances
        problems.append(f"{ctl.TARGET_TYPE}: {tt!r} is not ip or instance")
        target_type = "instance"
        steps.append(f"target type instance (assumed: {ctl.TARGET_TYPE} {tt!r} is neither ip nor instance; the AWS "
                     "Load Balancer Controller registers instances for anything but 'ip')")  # fmt: skip
        odd.append(f"{ctl.TARGET_TYPE}: {tt!r}: EKS Auto Mode does not document what it does with a value other than "
                   "ip or instance; hairpin assumed instance targets, as the AWS Load Balancer Controller does (with "
                   "ip targets, Auto Mode's default, a TCP target group would not keep the caller's address): write "
                   "'ip' or 'instance'")  # fmt: skip
    else:
        target_type = "ip"
        steps.append('target type ip (Auto Mode\'s default: "IP Mode, not Instance Mode", auto-networking)')
    tg = parse_attributes(a.get(ctl.TG_ATTRIBUTES, ""))
    lb = parse_attributes(a.get(ctl.LB_ATTRIBUTES, ""))
    cross = False
    key = "load_balancing.cross_zone.enabled"
    for where, attrs in ((f"target group attribute {key}", tg), (f"{ctl.LB_ATTRIBUTES}: {key}", lb)):
        v = attrs.get(key)
        if v in ("true", "false"):
            cross = v == "true"
            steps.append(f"cross-zone {'on' if cross else 'off'} ({where}={v})")
            break
    else:
        steps.append("cross-zone off (the NLB default)")
    preserve = _preserve(target_type, tg, protocols, steps, problems)
    pp2 = tg.get("proxy_protocol_v2.enabled") == "true"
    if ctl.NODE_LABELS in a:
        steps.append(f"{ctl.NODE_LABELS} ignored (assumed: Auto Mode does not document it): every node registered")
    steps.append("security groups on the NLB: Auto Mode builds NLBs only in security group mode (auto-networking)")
    steps.append(f"externalTrafficPolicy {etp}")
    # per port, as the Load Balancer Controller, whose model Auto Mode takes (TCP+UDP on one port: TCP_UDP)
    tgs = ctl.target_groups(target_type, tg, ports, merge_tcp_udp=True)
    warnings: list[str] = odd
    if scheme == "internal" and target_type == "instance" and any(not t.preserve_client_ip for t in tgs):
        # the verdict rests on an undocumented behaviour: say what the other case gives
        warnings.append(
            f"{ctl.TG_ATTRIBUTES}: preserve_client_ip.enabled=false is assumed applied: EKS Auto Mode documents the "
            "annotation only with proxy_protocol_v2.enabled; if it does not apply this key, the instance target group "
            "keeps AWS's default (client IP preservation on) and this internal NLB can send callers back to their own "
            "node: check the target group's preserve_client_ip.enabled (aws elbv2 describe-target-group-attributes)"
        )
    return ctl.Settings(AUTO_MODE, "nlb", scheme, target_type, preserve, cross, etp, (), pp2,
                        tuple(steps), tuple(problems), tgs, security_groups=True, warnings=tuple(warnings))  # fmt: skip


def _preserve(target_type: str, tg: Mapping[str, str], protocols: Sequence[str], steps: list[str],
              problems: list[str]) -> bool:  # fmt: skip
    key = "preserve_client_ip.enabled"
    forced = always_preserved(protocols)
    value = tg.get(key)
    if forced is not None:
        if value == "false":
            problems.append(f"{key}=false: {forced}")
        steps.append(f"client IP preservation on ({forced})")
        return True
    if value in ("true", "false"):
        steps.append(
            f"client IP preservation {'on' if value == 'true' else 'off'} ({ctl.TG_ATTRIBUTES}: {key}={value}; "
            "assumed applied as by the AWS Load Balancer Controller: Auto Mode documents the annotation, not this key)"
        )
        return value == "true"
    if value is not None:
        problems.append(f"{ctl.TG_ATTRIBUTES}: {key}={value!r} is not a boolean")
    if target_type == "instance":
        steps.append("client IP preservation on (assumed AWS's default for instance targets; Auto Mode's is not "
                     "documented)")  # fmt: skip
        return True
    steps.append("client IP preservation off (assumed AWS's default for ip targets with TCP; Auto Mode's is not "
                 "documented)")  # fmt: skip
    return False
