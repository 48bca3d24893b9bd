"""IPv6 and dual-stack Services: which IP family the load balancer reaches its targets with, per controller.

A Service's ``spec.ipFamilies`` (``IPv4``, ``IPv6``, or both) and ``spec.ipFamilyPolicy`` (``SingleStack``,
``PreferDualStack``, ``RequireDualStack``) decide which families its cluster IPs and node ports have;
``service.beta.kubernetes.io/aws-load-balancer-ip-address-type`` decides whether the NLB itself listens on
IPv4 only or on IPv4 and IPv6.  ``apply(settings, ...)`` adds what follows to a controller's settings.
Facts, from the sources (checked 2026-12-01):

- AWS Load Balancer Controller (kubernetes-sigs/aws-load-balancer-controller, the same from v2.3.1 to v3.5.0):
  the NLB's IP address type is the annotation, ``ipv4`` or ``dualstack`` (default ``ipv4``; any other value
  fails the Service with "unknown IPAddressType: <value>": ``pkg/service/model_build_load_balancer.go``
  buildLoadBalancerIPAddressType, ``model_builder.go``; ``dualstack-without-public-ipv4`` is an Ingress and
  Gateway value only).  Its target groups' IP address type (``pkg/service/model_build_target_group.go``
  buildTargetGroupIPAddressType): ``ipv6`` when any entry of ``spec.ipFamilies`` is ``IPv6`` and the NLB is
  ``dualstack``; when ``IPv6`` is there and the NLB is not dualstack the Service fails with "unsupported
  IPv6 configuration, lb not dual-stack"; otherwise ``ipv4``.  ``spec.ipFamilyPolicy`` is not read.  History:
  v2.1.0 read the annotation and not ``spec.ipFamilies``; v2.3.0 (PR #2284) added the rule above and also
  refused every IPv6 NLB target group ("ipv6 target group not supported for NLB"); v2.3.1 (PR #2332, NLB
  IPv6 target groups) has today's rule.
- Its docs (``docs/guide/service/annotations.md``, source ranges): client IP preservation "has no effect on
  traffic converted from IPv4 to IPv6 and on traffic converted from IPv6 to IPv4"; such traffic reaches the
  target from the NLB's private address.  So an IPv4 caller of a dualstack NLB with an IPv6 target group
  (or an IPv6 caller with an IPv4 one) is never answered behind the NLB's back: not this failure.  A caller
  of the target group's own family keeps its address, and the hairpin (a caller sent to its own node, the
  reply de-NATed there and handed straight back) is the same over ip6tables: kube-proxy runs one proxier
  per IP family with the same rules.
- Instance targets in an IPv6 target group: the controller builds them; the Amazon EKS User Guide
  (``workloads/network-load-balancing.adoc``) says "You can only load balance over IPv6 to IP targets, not
  instance targets".  hairpin keeps the verdict (the node's IPv6 address, client address preserved) and
  says in a warning that AWS may refuse it.
- The API server (kubernetes ``pkg/apis/core/validation/validation.go``, ValidateService) refuses an
  ``ipFamilies`` entry other than ``IPv4``/``IPv6`` ("Unsupported value"), the same family twice
  ("Duplicate value"), a policy other than the three above, and ``SingleStack`` with two families.  For a
  manifest not yet applied it fills in what is missing: ``RequireDualStack`` gets both families,
  ``PreferDualStack`` gets the second family only on a dual-stack cluster, and no families at all gets the
  cluster's primary one.  hairpin takes IPv6 for that when every node in the input has an IPv6 InternalIP
  (an IPv6 EKS cluster: the Amazon EKS User Guide, "Learn about IPv6 addresses to clusters, Pods, and
  services", gives nodes and Pods IPv6 addresses and Services IPv6 cluster IPs), else IPv4 as before.
  Before that default, a manifest that names its cluster IPs (``spec.clusterIP``, which the API server copies
  into an empty ``spec.clusterIPs``) gets the family of each cluster IP that ``spec.ipFamilies`` does not
  cover ("Infer IPFamilies[] from ClusterIPs[]", ``pkg/registry/core/service/storage/alloc.go``
  initIPFamilyFields): ``clusterIP: fd00::10`` alone is an IPv6 Service.  A cluster IP of another family than
  its ``spec.ipFamilies`` entry, and ``spec.clusterIPs[0]`` other than ``spec.clusterIP``, are refused
  (ValidateServiceClusterIPsRelatedFields in ``validation.go``, in its words).
- The in-tree provider (kubernetes/cloud-provider-aws, every release to v1.36.1): its load balancer code
  reads neither ``spec.ipFamilies`` nor the ip-address-type annotation; it creates IPv4 load balancers and
  target groups (``pkg/providers/v1/aws_loadbalancer.go``: no IpAddressType in CreateTargetGroupInput, so
  AWS's default ``ipv4``).  Dual-stack support is proposed in PR #1313 (open).  kube-proxy's IPv4 proxier
  skips a Service with no IPv4 cluster IP (kubernetes ``pkg/proxy/servicechangetracker.go``
  serviceToServiceMap), node ports included: an IPv6-only Service behind it has a load balancer whose
  traffic reaches a node port nothing serves.
- EKS Auto Mode (EKS User Guide, ``automode/auto-configure-nlb.adoc``): documents the annotation with
  ``ipv4`` or ``dualstack``; its target group rule is not documented: assumed the Load Balancer
  Controller's, and every step says so.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hairpin.aws import controller as ctl
from hairpin.aws.security_groups import SOURCE_RANGES_ANNOTATION

__all__ = ["IP_ADDRESS_TYPE", "LbType", "apply", "caller_note", "cluster_ips", "families_after_admission", "gateway_lb_type",
           "inferred_families", "primary_family", "refusal", "v6_range_refusal"]  # fmt: skip

IP_ADDRESS_TYPE = ctl.annotation("aws-load-balancer-ip-address-type")
FAMILIES = ("IPv4", "IPv6")
POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
AUTO_MODE = "eks-auto-mode"
LBC_ERROR = "unsupported IPv6 configuration, lb not dual-stack"
#: LoadBalancerConfiguration spec.ipAddressType (its CRD's enum); the Gateway path's isIPv6Supported takes both
#: dualstack values as dual-stack (pkg/gateway/model/utilities.go)
GATEWAY_LB_TYPES = ("ipv4", "dualstack", "dualstack-without-public-ipv4")
GATEWAY_BUILD = "pkg/gateway/model/model_build_listener.go returns it"


def cluster_ips(cluster_ip: Any, ips: Any) -> tuple[str, ...]:
    """The Service's ``spec.clusterIPs`` as the API server takes them: as written, else ``[spec.clusterIP]`` when
    only that is set (the registry's normalizeClusterIPs); ``None`` (headless) and empty strings included."""
    if isinstance(ips, list) and ips:
        return tuple(str(x) for x in ips if isinstance(x, str))
    return (cluster_ip,) if isinstance(cluster_ip, str) and cluster_ip else ()


def _family_of(ip: str) -> str | None:
    """The family the API server gives a cluster IP (k8s.io/utils/net IsIPv6String: an address Go's ParseIP reads
    whose To4() is nil, so an IPv4-mapped ``::ffff:a.b.c.d`` counts as IPv4); None: not an address."""
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return None  # "None" (headless), or not an address: nothing to infer
    return "IPv6" if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is None else "IPv4"


def inferred_families(families: Sequence[str], ips: Sequence[str]) -> tuple[str, ...]:
    """``families`` with the family of each cluster IP past their end (initIPFamilyFields: "Infer IPFamilies[]
    from ClusterIPs[]"; it stops at ``None``, a headless Service)."""
    out = list(families)
    for i, ip in enumerate(ips):
        fam = _family_of(ip)
        if fam is None:
            break
        if i >= len(out):
            out.append(fam)
    return tuple(out)


def refusal(families: Any, policy: Any, cluster_ip: Any = None, ips: Any = None) -> str | None:
    """The API server's error for ``spec.ipFamilies``/``spec.ipFamilyPolicy`` values it refuses, and for cluster
    IPs that disagree with ``spec.clusterIP`` or with their ``spec.ipFamilies`` entry (types are checked earlier,
    ``hairpin.parsers.shapes``), in its words; None when it accepts them."""
    if isinstance(ips, list) and ips and isinstance(cluster_ip, str) and cluster_ip and ips[0] != cluster_ip:
        shown = "[" + ", ".join(f'"{x}"' for x in ips) + "]"
        return (f"spec.clusterIPs: Invalid value: {shown}: first value must match `clusterIP`: the API server "
                "refuses the Service")  # fmt: skip
    if isinstance(families, list):
        seen: set[str] = set()
        for i, fam in enumerate(families):
            if fam is None:
                continue
            if fam not in FAMILIES:
                return (f'spec.ipFamilies[{i}]: Unsupported value: "{fam}": supported values: "IPv4", "IPv6": the API '
                        "server refuses the Service")  # fmt: skip
            if fam in seen:
                return f'spec.ipFamilies[{i}]: Duplicate value: "{fam}": the API server refuses the Service'
            seen.add(fam)
    if isinstance(policy, str):
        if policy not in POLICIES:
            return (f'spec.ipFamilyPolicy: Unsupported value: "{policy}": supported values: "PreferDualStack", '
                    '"RequireDualStack", "SingleStack": the API server refuses the Service')  # fmt: skip
        if policy == "SingleStack" and isinstance(families, list) and len([f for f in families if f]) == 2:
            return ("spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or "
                    "'PreferDualStack' when multiple IP families are specified: the API server refuses the Service")
    given = cluster_ips(cluster_ip, ips)
    if isinstance(families, list) and given and given[0] != "None":
        for i, (fam, ip) in enumerate(zip(families, given, strict=False)):
            got = _family_of(ip)
            if fam in FAMILIES and got is not None and got != fam:
                return (f'spec.clusterIPs[{i}]: Invalid value: "{ip}": expected an {fam} value as indicated by '
                        f"`ipFamilies[{i}]`: the API server refuses the Service")  # fmt: skip
    return None


def families_after_admission(families: Sequence[str], policy: str | None, existing: bool) -> tuple[frozenset[str], bool]:
    """(the families the Service certainly has once the API server stored it, whether it may get the other one
    too).  A Service read from a cluster or a dump has what is stored; a manifest gets both with
    RequireDualStack, maybe the other with PreferDualStack (a dual-stack cluster), none added otherwise."""
    given = frozenset(families)
    if existing:
        return given, False
    if policy == "RequireDualStack":
        return frozenset(FAMILIES), False
    return given, policy == "PreferDualStack" and len(given) < 2


def primary_family(node_ips: Iterable[str | None]) -> str | None:
    """``IPv6`` when there are nodes and every one's InternalIP is an IPv6 address (an IPv6 cluster, whose API
    server gives a Service without ``spec.ipFamilies`` IPv6), else None (IPv4 assumed, as before)."""
    seen = False
    for ip in node_ips:
        if not ip or ":" not in ip:
            return None
        seen = True
    return "IPv6" if seen else None


def _from(families: Sequence[str], policy: str | None, primary: bool = False) -> str:
    if primary:
        return f"no spec.ipFamilies on an {families[0]} cluster"
    what = f"spec.ipFamilies [{', '.join(families)}]" if families else "no spec.ipFamilies"
    return what + (f", ipFamilyPolicy {policy}" if policy else "")


def apply(s: ctl.Settings, annotations: Mapping[str, str], families: Sequence[str], policy: str | None,
          existing: bool, primary: str | None = None, lb_type: LbType | None = None,
          ips: Sequence[str] = (), primary_from: str = "", doubt: str | None = None) -> ctl.Settings:  # fmt: skip
    """``s`` with its load balancer's and target groups' IP address types, or refused by the controller.
    Settings of a Service that neither lists IPv6 nor carries the annotation are returned unchanged but for
    the address types (ipv4), so that IPv4 answers stay as they were.  ``primary``: the cluster's primary
    family when the nodes show it (``primary_family``), given to a manifest without ``spec.ipFamilies``.
    ``lb_type``: where the NLB's IP address type is set when not the annotation (a Gateway's, ``gateway_lb_type``).
    ``ips``: the manifest's cluster IPs (``cluster_ips``), whose families the API server adds first.
    ``primary_from``: what showed the primary family (default: every node's InternalIP); ``doubt``: why the
    primary family is not known although the input hints at it, a warning for a manifest that needs it."""
    shown = _from(families, policy)
    more = inferred_families(families, ips) if not existing else tuple(families)
    if len(more) > len(families) and "IPv6" not in more[len(families) :]:
        families = more  # IPv4, as assumed without it: no step, so that IPv4 answers stay as they were
    elif len(more) > len(families):
        added = more[len(families) :]
        named = ", ".join(ips[len(families) : len(more)])
        s = dataclasses.replace(s, steps=(*s.steps[:-1], f"spec.clusterIPs [{named}]: the API server adds "
                                          f"{' and '.join(added)} to spec.ipFamilies (it infers a family from each "
                                          "cluster IP the list does not cover)", *s.steps[-1:]))  # fmt: skip
        families = more
        shown = f"spec.ipFamilies [{', '.join(families)}] (from spec.clusterIPs)" + (f", ipFamilyPolicy {policy}"
                                                                                     if policy else "")  # fmt: skip
    if primary is not None and not families and not existing:
        why = primary_from or f"every node's InternalIP is {primary}"
        s = dataclasses.replace(s, steps=(*s.steps[:-1], f"no spec.ipFamilies: the API server gives the Service the "
                                          f"cluster's primary family, {primary} ({why})", *s.steps[-1:]))  # fmt: skip
        families = (primary,)
        shown = _from(families, policy, primary=True)
    elif doubt is not None and not families and not existing:  # said once by hairpin check (families.family_warnings)
        s = dataclasses.replace(s, warnings=(*s.warnings, doubt))
    certain, maybe = families_after_admission(families, policy, existing)
    if not s.is_nlb and s.load_balancer != "clb":
        return s
    if s.controller == ctl.IN_TREE:
        return _in_tree(s, annotations, shown, certain, maybe)
    if s.controller in (ctl.LBC, AUTO_MODE):
        return _lbc(s, annotations, shown, certain, maybe, lb_type)
    return s


def _in_tree(s: ctl.Settings, a: Mapping[str, str], shown: str,
             certain: frozenset[str], maybe: bool) -> ctl.Settings:  # fmt: skip
    tg = "ipv4" if s.is_nlb else None
    if "IPv6" not in certain:
        return dataclasses.replace(s, ip_address_type="ipv4", tg_ip_address_type=tg)
    steps, warnings = list(s.steps), list(s.warnings)
    at = len(steps) - 1
    broken = None
    why = (f"{shown}: the in-tree provider builds an IPv4 load balancer"
           + (" and target group" if s.is_nlb else "") + " all the same (it reads neither spec.ipFamilies nor "
           f"{IP_ADDRESS_TYPE}, cloud-provider-aws up to v1.36.1; PR #1313 proposes dual-stack support)")  # fmt: skip
    if "IPv4" in certain:
        steps.insert(at, why + ": IPv4 callers as below")
    elif maybe:
        steps.insert(at, why)
        warnings.append(
            f"{shown}: on a dual-stack cluster the API server adds IPv4 and the verdict below holds; "
            "on a single-stack IPv6 cluster the Service has no IPv4 node port and no connection through the load "
            "balancer succeeds (not modelled: hairpin cannot see the cluster's families in a manifest)"
        )
    else:
        broken = (
            f"{why}; kube-proxy serves an IPv6-only Service's node port on IPv6 only (its IPv4 proxier skips a Service "
            "without an IPv4 cluster IP), so the load balancer sends every connection to a node port nothing serves: "
            "no caller, in the cluster or outside, gets through (a broken Service, not this failure)"
        )
        steps.insert(at, broken)
    problems = list(s.problems)
    if broken:
        problems.append("IPv6-only Service behind the in-tree provider's IPv4 load balancer: nothing serves its node "
                        "port over IPv4 (use the AWS Load Balancer Controller with "
                        f"{IP_ADDRESS_TYPE}: dualstack, or add IPv4 to spec.ipFamilies)")  # fmt: skip
    return dataclasses.replace(s, steps=tuple(steps), problems=tuple(problems), warnings=tuple(warnings),
                               ip_address_type="ipv4", tg_ip_address_type=tg, broken=broken)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class LbType:
    """Where an NLB's IP address type is written and how the controller reads it there: the Service annotation
    (``service``), or a Gateway's LoadBalancerConfiguration ``spec.ipAddressType`` (``gateway``)."""

    raw: str | None  # the value as written; None: not set
    label: str  # what sets it, as shown in steps
    fix: str  # the change that makes the NLB dual-stack
    dual: tuple[str, ...] = ("dualstack",)  # values the controller takes as dual-stack (isIPv6Supported)
    where: str = "model_build_target_group.go"  # the controller's file with the refusal
    gateway: bool = False
    nothing: str = "no load balancer is built"  # what a refusal leaves


def service_lb_type(annotations: Mapping[str, str]) -> LbType:
    """The Service path: the annotation, ``ipv4`` or ``dualstack``."""
    return LbType(annotations.get(IP_ADDRESS_TYPE), IP_ADDRESS_TYPE, f"{IP_ADDRESS_TYPE}: dualstack")


def gateway_lb_type(raw: Any, config: str | None) -> LbType:
    """A Gateway's NLB: ``spec.ipAddressType`` of the LoadBalancerConfiguration ``config`` (namespace/name) that
    sets it, or the controller's default, ipv4, when none does (pkg/gateway/model/base_model_builder.go)."""
    label = f"LoadBalancerConfiguration {config} ipAddressType" if config else "a LoadBalancerConfiguration ipAddressType"
    fix = (f"ipAddressType: dualstack in LoadBalancerConfiguration {config}" if config else "a LoadBalancerConfiguration "
           "with ipAddressType: dualstack for the Gateway (spec.infrastructure.parametersRef)")  # fmt: skip
    return LbType(None if raw is None else str(raw), label, fix, GATEWAY_LB_TYPES[1:],
                  "pkg/gateway/model/model_build_target_group.go", gateway=True,
                  nothing=f"the error ends the Gateway's whole model build ({GATEWAY_BUILD}): no load balancer is built "
                  "for any of its routes")  # fmt: skip


def _lbc(s: ctl.Settings, a: Mapping[str, str], shown: str,
         certain: frozenset[str], maybe: bool, t: LbType | None = None) -> ctl.Settings:  # fmt: skip
    t = t if t is not None else service_lb_type(a)
    auto = s.controller == AUTO_MODE
    who = "EKS Auto Mode" if auto else "the AWS Load Balancer Controller"
    assumed = (" (assumed: Auto Mode documents the annotation, not its target group rule; this is the AWS Load "
               "Balancer Controller's)") if auto else ""  # fmt: skip
    raw, label = t.raw, t.label
    v6 = "IPv6" in certain
    if raw is None and not v6 and not maybe:
        return dataclasses.replace(s, ip_address_type="ipv4", tg_ip_address_type="ipv4")
    steps, warnings, problems = list(s.steps), list(s.warnings), list(s.problems)
    at = len(steps) - 1
    if raw is not None and raw not in ("ipv4", *t.dual):
        if t.gateway:
            steps.append(f"{label}: {raw!r}: the API server refuses the LoadBalancerConfiguration (its CRD allows "
                         f"{', '.join(GATEWAY_LB_TYPES)}; the controller's own check says \"unknown IPAddressType: "
                         f"{raw}\"): {t.nothing}")  # fmt: skip
            problems.append(f"{label}: {raw!r} is not one of {', '.join(GATEWAY_LB_TYPES)}")
            return _refused(s, steps, problems, warnings, None)
        steps.append(f"{IP_ADDRESS_TYPE}: {raw!r}: {who} refuses it (\"unknown IPAddressType: {raw}\"; ipv4 or "
                         "dualstack): no load balancer is built")  # fmt: skip
        problems.append(f"{IP_ADDRESS_TYPE}: {raw!r} is not ipv4 or dualstack (\"unknown IPAddressType: {raw}\")")
        return _refused(s, steps, problems, warnings, None)
    lb = raw or "ipv4"
    lb_why = f"{label}: {raw}" if raw else f"ipv4, the default without {label}"
    if t.gateway and lb == GATEWAY_LB_TYPES[2]:
        warnings.append(f"{label}: {lb}: the AWS Load Balancer Controller takes it as dual-stack, but the Elastic Load "
                        "Balancing API Reference lists only ipv4 and dualstack for Network Load Balancers; if AWS "
                        "refuses it no load balancer is built (not modelled: the verdict assumes it is)")  # fmt: skip
    if v6 and lb not in t.dual:
        steps.append(f"{shown} with an {lb} NLB ({lb_why}): {who} refuses it (\"{LBC_ERROR}\", "
                         f"{t.where}){assumed}: {t.nothing}")  # fmt: skip
        problems.append(f"{who} will not provision it: \"{LBC_ERROR}\" (spec.ipFamilies has IPv6){assumed}; fix: "
                        f"{t.fix}")  # fmt: skip
        return _refused(s, steps, problems, warnings, lb)
    if v6:
        tg = "ipv6"
        steps.insert(at, f"target group IP address type ipv6 ({shown} has IPv6, NLB {lb} from "
                         f"{label}){assumed}: the NLB reaches the targets over IPv6 "
                         + ("at each node's primary IPv6 address" if s.target_type == "instance" else "at the pods' IPv6 "
                            "addresses") + "; a caller over IPv6 keeps its address when preservation is on, an IPv4 "
                         "caller is translated and reaches the target from the NLB's own address")  # fmt: skip
        if s.target_type == "instance":
            warnings.append("instance targets in an IPv6 target group: the AWS Load Balancer Controller builds them, but "
                            "the Amazon EKS User Guide says IPv6 load balancing works to ip targets only; if AWS refuses "
                            "the target group no load balancer is built (not modelled: the verdict assumes it is)")  # fmt: skip
    elif maybe:
        tg = None
        outcome = ("builds an IPv6 target group" if lb in t.dual
                   else f"refuses it (\"{LBC_ERROR}\")")  # fmt: skip
        steps.insert(at, f"{shown}: on a dual-stack cluster the API server adds IPv6 and {who} "
                         f"{outcome}{assumed}; the verdict below assumes IPv4 (a single-stack IPv4 cluster)")  # fmt: skip
        warnings.append(f"{shown}: target group IP address type not decided: IPv4 on a single-stack "
                        f"IPv4 cluster (the verdict below), on a dual-stack cluster {who} {outcome} (not modelled: "
                        "hairpin cannot see the cluster's families in a manifest)")  # fmt: skip
    else:
        tg = "ipv4"
        steps.insert(at, f"target group IP address type ipv4 ({shown}){assumed}; NLB {lb} "
                         f"({lb_why})" + ("" if lb not in t.dual else ": a caller over IPv6 is translated to IPv4 "
                                          "and reaches the target from the NLB's own address"))  # fmt: skip
    return dataclasses.replace(s, steps=tuple(steps), warnings=tuple(warnings), problems=tuple(problems),
                               ip_address_type=lb, tg_ip_address_type=tg)  # fmt: skip


def _refused(s: ctl.Settings, steps: list[str], problems: list[str], warnings: list[str],
             lb: str | None) -> ctl.Settings:  # fmt: skip
    """No load balancer: the controller fails the Service (as for its other refusals, controller ``none``); the
    last step, the refusal, is the finding's reason."""
    return ctl.Settings(ctl.NONE, "none", "unknown", None, None, False, s.external_traffic_policy,
                        steps=tuple(steps), problems=tuple(problems), warnings=tuple(warnings),
                        ip_address_type=lb)  # fmt: skip


def gateway_failed(s: ctl.Settings, refused: str, by: ctl.Settings) -> ctl.Settings:
    """``s``, a target group of a Gateway whose target group ``refused`` (settings ``by``) the controller refuses:
    the error ends the Gateway's model build (buildL4TargetGroupTuples returns it to buildListener), so no load
    balancer is built for this route either."""
    why = by.problems[-1] if by.problems else LBC_ERROR
    step = (f"target group {refused} of the same Gateway is refused; the error ends the Gateway's whole model build "
            f"({GATEWAY_BUILD}): no load balancer is built, so this target group is not built either")  # fmt: skip
    problem = f"the Gateway's NLB is not built: target group {refused}: {why}"
    return _refused(s, [*s.steps, step], [*s.problems, problem], list(s.warnings), by.ip_address_type)


def caller_note(s: ctl.Settings) -> str:
    """What the verdict says about callers of the other family, for an at-risk NLB ('' when nothing to add)."""
    if s.tg_ip_address_type == "ipv6":
        return ("; this holds for callers that reach the NLB over IPv6 (IPv6 target group): an IPv4 caller's "
                "connection is translated to IPv6 and reaches the target from the NLB's own address (client IP "
                "preservation has no effect across families), so IPv4 callers are not sent back to themselves")
    if s.tg_ip_address_type == "ipv4" and s.ip_address_type in GATEWAY_LB_TYPES[1:]:
        return ("; this holds for callers over IPv4: a caller that reaches the dualstack NLB over IPv6 is "
                "translated to IPv4 and reaches the target from the NLB's own address")
    return ""


def v6_range_refusal(s: ctl.Settings, spec_ranges: Sequence[str], annotations: Mapping[str, str]) -> ctl.Settings:
    """``s``, or refused: the AWS Load Balancer Controller builds its managed security group for an NLB with security
    groups and no ``aws-load-balancer-security-groups``, and fails the Service when a source range has a ``:`` and the
    NLB is not dualstack ("unsupported v6 cidr <cidr> when lb is not dualstack", ``pkg/service/
    model_build_managed_sg.go`` buildCIDRsFromSourceRanges, v2.6.0 to v3.5.0).  The ranges are the spec field, else
    the annotation (comma-separated); EKS Auto Mode reads the spec field only and is assumed to check the same."""
    if s.controller not in (ctl.LBC, AUTO_MODE) or not s.security_groups or s.ip_address_type == "dualstack":
        return s
    auto = s.controller == AUTO_MODE
    if not auto and ctl.annotation("aws-load-balancer-security-groups") in annotations:
        return s  # the user's own groups: no managed group is built
    ranges = [str(r).strip() for r in spec_ranges]
    where = "spec.loadBalancerSourceRanges"
    if not [r for r in ranges if r] and not auto:
        ranges, where = [r.strip() for r in annotations.get(SOURCE_RANGES_ANNOTATION, "").split(",")], SOURCE_RANGES_ANNOTATION
    bad = next((r for r in ranges if ":" in r), None)
    if bad is None:
        return s
    who = "EKS Auto Mode" if auto else "the AWS Load Balancer Controller"
    assumed = " (assumed: the AWS Load Balancer Controller's check)" if auto else ""
    error = f"unsupported v6 cidr {bad} when lb is not dualstack"
    lb = s.ip_address_type or "ipv4"
    step = (f"{where} has the IPv6 range {bad} and the NLB is {lb}: {who} refuses it (\"{error}\", "
            f"model_build_managed_sg.go: its security group gets IPv6 rules only on a dualstack NLB){assumed}: no load "
            "balancer is built")  # fmt: skip
    problem = (f"{who} will not provision it: \"{error}\"{assumed}; fix: {IP_ADDRESS_TYPE}: dualstack, or remove the "
               f"IPv6 range from {where}")  # fmt: skip
    return _refused(s, [*s.steps, step], [*s.problems, problem], list(s.warnings), s.ip_address_type)
