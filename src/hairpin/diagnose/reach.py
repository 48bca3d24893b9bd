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

import json
from dataclasses import dataclass

from hairpin.aws import automode
from hairpin.aws.controller import Settings, annotation
from hairpin.aws.security_groups import blocked, parse_ranges, source_ranges
from hairpin.errors import InputError
from hairpin.kube.cluster import Cluster, KService

__all__ = ["Blocked", "assess"]


@dataclass(frozen=True)
class Blocked:
    """In-cluster callers a security group drops."""

    reason: str
    node: str  # node of the first blocked caller (by namespace/name)
    callers: tuple[str, ...]  # namespace/name of every blocked caller pod
    where: str  # nlb | target
    patch: str  # kubectl patch command adding a placeholder for the callers' network
    problem: str | None = None


def assess(cluster: Cluster, svc: KService, s: Settings, *, given: tuple[tuple[str, ...], str, str] | None = None) -> Blocked | None:
    """The callers of ``svc``'s internal NLB that its security groups drop, or None.  ``given``: the ranges, where
    they come from and the patch's object (``kind -n ns name`` and its JSON path), instead of the Service's."""
    if not s.is_nlb or s.scheme != "internal":
        return None
    if s.controller != automode.AUTO_MODE and annotation("aws-load-balancer-security-groups") in svc.annotations:
        return None  # the user's own groups: the controller does not write the source ranges into them
    try:
        if given is not None:
            ranges, origin = parse_ranges(given[0], given[1]), given[1]
        else:
            ranges, origin = source_ranges(svc.source_ranges, svc.annotations,
                                           annotation_honoured=s.controller != automode.AUTO_MODE)  # fmt: skip
    except InputError as exc:
        return Blocked("", "", (), "", "", problem=f"{exc.message}: the source ranges were not checked")
    if not ranges:
        return None
    preserve = bool(s.preserve_client_ip)
    out: list[tuple[str, str, str]] = []  # (pod key, address, node)
    where = ""
    for p in sorted(cluster.pods.values(), key=lambda p: (p.namespace, p.name)):
        node = cluster.nodes.get(p.node or "")
        src = (node.ip if node is not None else None) if p.host_network else p.ip
        if not src or p.node is None:
            continue
        w = blocked(src, ranges, nlb_security_groups=s.security_groups, preserve_client_ip=preserve)
        if w is not None:
            where = w
            out.append((f"{p.namespace}/{p.name}", src, p.node))
    if not out:
        return None
    shown = ", ".join(ranges)
    at = (
        "the NLB's security group"
        if where == "nlb"
        else "the targets' security group (client IP preserved, so they see the caller's address)"
    )
    first = out[0]
    reason = (
        f"{len(out)} in-cluster caller pod(s) are outside {origin} ({shown}), e.g. {first[0]} ({first[1]}) on node "
        f"{first[2]}: {at} drops every SYN they send, so each of their connections times out (P = 1), whatever "
        "target the NLB picks"
    )
    if given is not None:
        body = json.dumps({"spec": {"sourceRanges": [*ranges, "<VPC-CIDR>"]}})
        patch = f"kubectl patch {given[2]} --type merge -p '{body}'"
    else:
        body = json.dumps({"spec": {"loadBalancerSourceRanges": [*ranges, "<VPC-CIDR>"]}})
        patch = f"kubectl patch service -n {svc.namespace} {svc.name} --type merge -p '{body}'"
    return Blocked(reason, first[2], tuple(k for k, _, _ in out), where, patch)
