"""Can the cluster's callers reach an internal NLB at all?  The security-group half of ``hairpin check``.

A Service's source ranges (``spec.loadBalancerSourceRanges``, else the annotation
``service.beta.kubernetes.io/load-balancer-source-ranges``; EKS Auto Mode takes only the spec field) become
security group rules: on the NLB when it has security groups, else on the targets when client IP
preservation is on (``hairpin.aws.security_groups`` has the facts and sources).  A caller whose address
is in none of them has every SYN dropped: it times out with probability 1, every time, not at random like
the hairpin.  The callers are the pods of the input (a host-network pod calls from its node's address).

``assess(cluster, svc, settings)`` returns None when nothing is dropped or nothing can be said, else a
``Blocked`` with the sentence for the verdict, the worst node and the fix (a patch of the Service's spec).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass

from hairpin.aws import automode, ipfamily
from hairpin.aws.controller import LBC, Settings, annotation
from hairpin.aws.security_groups import SOURCE_RANGES_ANNOTATION, blocked, mapped_ranges, parse_ranges, source_ranges
from hairpin.diagnose import families
from hairpin.errors import InputError
from hairpin.kube.apivalidation import go_trim_space
from hairpin.kube.cluster import Cluster, KService

__all__ = ["Blocked", "assess", "fix_cost"]


@dataclass(frozen=True)
class Blocked:
    """In-cluster callers a security group drops (none: only ``warnings`` and ``steps`` to add)."""

    reason: str
    node: str  # node of the first blocked caller (by namespace/name)
    callers: tuple[str, ...]  # namespace/name of every blocked caller pod
    where: str  # nlb | target
    patch: str  # kubectl patch command adding a placeholder for the callers' network
    problem: str | None = None
    families: tuple[str, ...] = ()  # the families the blocked callers are judged in (IPv4 and/or IPv6)
    warnings: tuple[str, ...] = ()  # what the input leaves undecided (not a verdict)
    steps: tuple[str, ...] = ()  # what hairpin assumed, for "how hairpin decided"


def _judge_family(s: Settings, fam: int, has_own: bool) -> int | None:
    """The family a caller is judged in at the security group: the target group's when it has an address of it
    (it keeps that address); else, at a dualstack NLB's own group, the other family (it reaches the NLB over that
    family, with its own address); else None (an ipv4 NLB's caller without an IPv4 address goes out through some
    NAT: its source is unknown; without NLB security groups the target sees the NLB's address)."""
    if has_own:
        return fam
    if s.security_groups and s.ip_address_type in ipfamily.GATEWAY_LB_TYPES[1:]:
        return 10 - fam
    return None


def assess(cluster: Cluster, svc: KService, s: Settings, *, given: tuple[tuple[str, ...], str, str] | None = None) -> Blocked | None:
    """The callers of ``svc``'s internal NLB that its security groups drop, or None.  ``given``: the ranges, where
    they come from and the patch's object (``kind -n ns name`` and its JSON path), instead of the Service's."""
    if not s.is_nlb or s.scheme != "internal":
        return None
    if (s.controller != automode.AUTO_MODE and not s.own_groups_ignored
            and annotation("aws-load-balancer-security-groups") in svc.annotations):
        return None  # the user's own groups: the controller does not write the source ranges into them
    try:
        if given is not None:
            ranges, origin = parse_ranges(given[0], given[1]), given[1]
        else:
            ranges, origin = source_ranges(svc.source_ranges, svc.annotations,
                                           annotation_honoured=s.controller != automode.AUTO_MODE)  # fmt: skip
    except InputError as exc:
        return Blocked("", "", (), "", "", problem=f"{exc.message}: the source ranges were not checked")
    fam = families.tg_family(s.tg_ip_address_type)
    dual = s.ip_address_type in ipfamily.GATEWAY_LB_TYPES[1:]
    v6 = fam == 6 or dual  # IPv6 in play: the answer names the families
    if not ranges:
        return _defaults(s) if fam == 6 else None
    # the AWS Load Balancer Controller (and its Gateway builder; EKS Auto Mode assumed alike) hands each range to EC2
    # as written, an IPv6 rule when it has a ":" (model_build_managed_sg.go buildManagedSecurityGroupIngressPermissions,
    # gateway/model/model_build_security_group.go): an IPv4-mapped one (::ffff:10.0.0.0/104), which Kubernetes reads
    # as 10.0.0.0/8, is a rule whose effect EC2 does not document.  It is counted as admitting nobody, and the callers
    # its IPv4 reading would admit are left undecided (a warning)
    doubt: tuple[tuple[str, str], ...] = ()
    strict, shown_ranges = ranges, ranges
    if given is not None or s.controller in (LBC, automode.AUTO_MODE):
        written = [go_trim_space(str(w)) for w in (_written(svc, origin) if given is None else given[0])]
        doubt = mapped_ranges(written)
        if doubt:  # the ranges are the written ones, in order (parse_ranges keeps it)
            as_written = {w for w, _ in doubt}
            strict = tuple(r for w, r in zip(written, ranges, strict=True) if w not in as_written)
            shown_ranges = tuple(w if w in as_written else r for w, r in zip(written, ranges, strict=True))
    doubt_nets = [ipaddress.ip_network(v4) for _, v4 in doubt]
    undecided: list[str] = []
    preserve = bool(s.preserve_client_ip)
    out: list[tuple[str, str, str, int]] = []  # (pod key, address, node, family judged in)
    where = ""
    seen = 0  # callers with an address of the target group's family
    unknown: list[str] = []  # ipv4 NLB callers without an IPv4 address
    for p in sorted(cluster.pods.values(), key=lambda p: (p.namespace, p.name)):
        if p.node is None:
            continue
        own = families.caller_address(cluster, p, fam)
        judged = _judge_family(s, fam, own is not None)
        if judged is None:
            if not dual and (s.security_groups or preserve) and families.caller_address(cluster, p, 6) is not None:
                unknown.append(f"{p.namespace}/{p.name}")
            continue
        src = own if judged == fam else families.caller_address(cluster, p, judged)
        if src is None:
            continue
        seen += judged == fam
        w = _where(src, families.ranges_of(strict, judged), s, preserve)
        if w is not None and any(ipaddress.ip_address(src) in n for n in doubt_nets):
            undecided.append(f"{p.namespace}/{p.name} ({src})")
        elif w is not None:
            where = w
            out.append((f"{p.namespace}/{p.name}", src, p.node, judged))
    warnings = _warnings(s, fam, ranges, origin, seen, unknown) if v6 or unknown else ()
    warnings += _doubt_warnings(s, origin, doubt, undecided)
    if not out:
        return Blocked("", "", (), "", "", warnings=warnings) if warnings else None
    shown = ", ".join(shown_ranges)
    at = (
        "the NLB's security group"
        if where == "nlb"
        else "the targets' security group (client IP preserved, so they see the caller's address)"
    )
    first = out[0]
    fams = tuple(families.NAMES[f] for f in (4, 6) if any(x[3] == f for x in out))
    over = ""
    if v6:
        over = " (" + "; ".join(_over(s, f, strict, sum(x[3] == f for x in out)) for f in (4, 6) if families.NAMES[f] in fams) + ")"
    reason = (
        f"{len(out)} in-cluster caller pod(s) are outside {origin} ({shown}), e.g. {first[0]} ({first[1]}) on node "
        f"{first[2]}{over}: {at} drops every SYN they send, so each of their connections times out (P = 1), whatever "
        "target the NLB picks"
    )
    admit = [families.PLACEHOLDER[f] for f in (4, 6) if families.NAMES[f] in fams]
    if given is not None:
        body = json.dumps({"spec": {"sourceRanges": [*ranges, *admit]}})
        patch = f"kubectl patch {given[2]} --type merge -p '{body}'"
    else:
        body = json.dumps({"spec": {"loadBalancerSourceRanges": [*ranges, *admit]}})
        patch = f"kubectl patch service {svc.kubectl_ns}{svc.name} --type merge -p '{body}'"
    return Blocked(reason, first[2], tuple(k for k, _, _, _ in out), where, patch, families=fams,
                   warnings=warnings)  # fmt: skip


def _written(svc: KService, origin: str) -> Sequence[str]:
    """The Service's source ranges as written where ``origin`` names (the spec field, or the annotation split)."""
    if origin == SOURCE_RANGES_ANNOTATION:
        return go_trim_space(svc.annotations.get(SOURCE_RANGES_ANNOTATION) or "").split(",")
    return svc.source_ranges


def _doubt_warnings(s: Settings, origin: str, doubt: tuple[tuple[str, str], ...],
                    undecided: list[str]) -> tuple[str, ...]:  # fmt: skip
    if not doubt:
        return ()
    who = (
        "EKS Auto Mode (assumed to do as the AWS Load Balancer Controller)"
        if s.controller == automode.AUTO_MODE
        else "the AWS Load Balancer Controller"
    )
    each = ", ".join(f"{w} (IPv4 {v4} to Kubernetes, kube-proxy and the in-tree provider)" for w, v4 in doubt)
    out = [f"{origin} has the IPv4-mapped range(s) {each}: {who} hands them to EC2 as written, as IPv6 security group "
           "rules, and EC2 does not document what such a rule admits, so hairpin counts them as admitting nobody; "
           f"write {', '.join(v4 for _, v4 in doubt)} instead"]  # fmt: skip
    if undecided:
        out.append(f"{len(undecided)} in-cluster caller pod(s) are inside only the IPv4 reading of those ranges (e.g. "
                   f"{', '.join(undecided[:3])}): hairpin cannot tell whether the security group drops their SYNs")  # fmt: skip
    return tuple(out)


def _where(src: str, ranges: tuple[str, ...], s: Settings, preserve: bool) -> str | None:
    """Where ``src`` is dropped given the ranges of its family; none of its family: the group has no rule of that
    family (the controller writes each range in its own family), so it is dropped wherever the ranges apply."""
    if ranges:
        return blocked(src, ranges, nlb_security_groups=s.security_groups, preserve_client_ip=preserve)
    return "nlb" if s.security_groups else ("target" if preserve else None)


def _over(s: Settings, f: int, ranges: tuple[str, ...], n: int) -> str:
    """How the ``n`` callers judged in family ``f`` reach the NLB, and the ranges of that family."""
    name, tg = families.NAMES[f], families.tg_family(s.tg_ip_address_type)
    how = (f"{n} reach it over {name}, the family the target group keeps the caller's address in, " if f == tg
           else f"{n} have no {families.NAMES[tg]} address and reach it over {name}, ")  # fmt: skip
    own = families.ranges_of(ranges, f)
    if own:
        return f"{how}from outside the {name} ranges ({', '.join(own)})"
    return (f"{how}and no range is {name} (the AWS Load Balancer Controller writes each range as a rule of its own "
            f"family, so none admits {name})")  # fmt: skip


def _warnings(s: Settings, fam: int, ranges: tuple[str, ...], origin: str, seen: int,
              unknown: list[str]) -> tuple[str, ...]:  # fmt: skip
    out = []
    name = families.NAMES[fam]
    if fam == 6 and not seen:
        own = families.ranges_of(ranges, 6)
        what = (f"callers over IPv6 are admitted only from its IPv6 ranges ({', '.join(own)})" if own else
                f"{origin} has no IPv6 range, so every caller that reaches the NLB over IPv6 is dropped (P = 1)")  # fmt: skip
        out.append(f"IPv6 target group with {origin} set: {what}; the input has no pod with an IPv6 address "
                   "(status.podIPs), so hairpin cannot tell whether in-cluster callers are dropped; give the pods "
                   "(kubectl get pods -A -o yaml) to check")  # fmt: skip
    if unknown:
        out.append(f"{len(unknown)} caller pod(s) have no {name} address (e.g. {', '.join(unknown[:3])}): they reach "
                   "the IPv4 load balancer through some NAT (on an IPv6 EKS cluster, from their node's IPv4 address), "
                   "a source the input does not show, so the source ranges were not checked for them")  # fmt: skip
    return tuple(out)


def _defaults(s: Settings) -> Blocked | None:
    """No source ranges on an IPv6 target group: what the rules admit, and what hairpin assumes."""
    if s.security_groups:
        return None  # the NLB's group admits 0.0.0.0/0 and ::/0 (model_build_managed_sg.go), the targets its group
    if not s.preserve_client_ip:
        return None  # the targets see the NLB's address
    step = ("no source ranges, no security groups on the NLB, client IP preserved: the targets' rules admit the VPC's "
            "IPv6 CIDRs (getDefaultIPSourceRanges for an internal NLB's IPv6 target group, model_build_target_group.go); "
            "hairpin does not know the VPC's CIDRs and assumes every in-cluster caller's IPv6 address is inside them "
            "(the AWS VPC CNI gives pods addresses from the VPC's subnets)")  # fmt: skip
    return Blocked("", "", (), "", "", steps=(step,))


def fix_cost(fams: tuple[str, ...]) -> str:
    """The source-ranges fix's cost: the placeholders of the families whose callers are dropped."""
    if "IPv6" not in fams:
        return ("replace <VPC-CIDR> with the network of the in-cluster callers (the VPC CIDR holds them with the AWS "
                "VPC CNI); every address in it can then reach the NLB")  # fmt: skip
    parts = ["<VPC-CIDR> with the VPC's IPv4 CIDR"] if "IPv4" in fams else []
    parts.append("<VPC-IPv6-CIDR> with the VPC's IPv6 CIDR (the networks the in-cluster callers take their addresses "
                 "from with the AWS VPC CNI)")
    return (f"replace {' and '.join(parts)}; every address in them can then reach the NLB; the AWS Load Balancer "
            "Controller writes an IPv6 range only for a dualstack NLB (it refuses one on an ipv4 NLB)")
