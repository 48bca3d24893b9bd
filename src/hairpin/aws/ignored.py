"""Annotations a Service carries that the controller provisioning it does not act on.

The author of ``aws-load-balancer-scheme: internal`` on a Service the in-tree provider builds meant an
internal load balancer and gets an internet-facing one; ``ignored_annotations`` names each such
annotation and the controller that ignores it, from the lists of annotations each controller reads
(sources below).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hairpin.aws.controller import ANNOTATION_PREFIX, IN_TREE, INTERNAL, LBC, SCHEME, TG_ATTRIBUTES, Settings

__all__ = ["IN_TREE_READS", "LBC_READS", "Ignored", "ignored_annotations"]

# The annotations each controller reads (suffixes after service.beta.kubernetes.io/).  In-tree:
# kubernetes/cloud-provider-aws pkg/providers/v1/*.go (every "service.beta.kubernetes.io/aws-load-balancer-*"
# constant, 2026-07).  LBC: kubernetes-sigs/aws-load-balancer-controller pkg/annotations/constants.go
# (SvcLBSuffix*, 2026-08; listener-attributes is a prefix: aws-load-balancer-listener-attributes.<proto>-<port>).
IN_TREE_READS = frozenset({
    "aws-load-balancer-access-log-emit-interval", "aws-load-balancer-access-log-enabled",
    "aws-load-balancer-access-log-s3-bucket-name", "aws-load-balancer-access-log-s3-bucket-prefix",
    "aws-load-balancer-additional-resource-tags", "aws-load-balancer-backend-protocol",
    "aws-load-balancer-connection-draining-enabled", "aws-load-balancer-connection-draining-timeout",
    "aws-load-balancer-connection-idle-timeout", "aws-load-balancer-cross-zone-load-balancing-enabled",
    "aws-load-balancer-eip-allocations", "aws-load-balancer-extra-security-groups",
    "aws-load-balancer-healthcheck-healthy-threshold", "aws-load-balancer-healthcheck-interval",
    "aws-load-balancer-healthcheck-path", "aws-load-balancer-healthcheck-port",
    "aws-load-balancer-healthcheck-protocol", "aws-load-balancer-healthcheck-timeout",
    "aws-load-balancer-healthcheck-unhealthy-threshold", "aws-load-balancer-internal",
    "aws-load-balancer-private-ipv4-addresses", "aws-load-balancer-proxy-protocol",
    "aws-load-balancer-security-groups", "aws-load-balancer-ssl-cert", "aws-load-balancer-ssl-negotiation-policy",
    "aws-load-balancer-ssl-ports", "aws-load-balancer-subnets", "aws-load-balancer-target-group-attributes",
    "aws-load-balancer-target-node-labels", "aws-load-balancer-type",
})  # fmt: skip
LBC_READS = frozenset({
    "aws-load-balancer-type", "aws-load-balancer-nlb-target-type", "aws-load-balancer-name",
    "aws-load-balancer-scheme", "aws-load-balancer-internal", "aws-load-balancer-proxy-protocol",
    "aws-load-balancer-proxy-protocol-per-target-group", "aws-load-balancer-ip-address-type",
    "aws-load-balancer-access-log-enabled", "aws-load-balancer-access-log-s3-bucket-name",
    "aws-load-balancer-access-log-s3-bucket-prefix", "aws-load-balancer-cross-zone-load-balancing-enabled",
    "aws-load-balancer-ssl-cert", "aws-load-balancer-ssl-ports", "aws-load-balancer-ssl-negotiation-policy",
    "aws-load-balancer-backend-protocol", "aws-load-balancer-additional-resource-tags",
    "aws-load-balancer-healthcheck-healthy-threshold", "aws-load-balancer-healthcheck-unhealthy-threshold",
    "aws-load-balancer-healthcheck-timeout", "aws-load-balancer-healthcheck-interval",
    "aws-load-balancer-healthcheck-protocol", "aws-load-balancer-healthcheck-port",
    "aws-load-balancer-healthcheck-path", "aws-load-balancer-healthcheck-success-codes",
    "aws-load-balancer-target-group-attributes", "aws-load-balancer-subnets", "aws-load-balancer-eip-allocations",
    "aws-load-balancer-private-ipv4-addresses", "aws-load-balancer-ipv6-addresses", "aws-load-balancer-alpn-policy",
    "aws-load-balancer-target-node-labels", "aws-load-balancer-attributes", "aws-load-balancer-security-groups",
    "aws-load-balancer-manage-backend-security-group-rules",
    "aws-load-balancer-inbound-sg-rules-on-private-link-traffic", "aws-load-balancer-security-group-prefix-lists",
    "aws-load-balancer-multi-cluster-target-group", "aws-load-balancer-enable-prefix-for-ipv6-source-nat",
    "aws-load-balancer-source-nat-ipv6-prefixes", "aws-load-balancer-minimum-load-balancer-capacity",
    "aws-load-balancer-enable-icmp-for-path-mtu-discovery", "aws-load-balancer-enable-tcp-udp-listener",
    "aws-load-balancer-disable-nlb-sg", "aws-load-balancer-quic-enabled-ports",
})  # fmt: skip
#: per-listener and (v2.14.0) per-port annotations (``...-listener-attributes.TCP-80``, ``...-target-group-attributes.80``)
_LBC_PREFIXES = ("aws-load-balancer-listener-attributes.", "aws-load-balancer-target-group-attributes.")
_CONTROLLER_NAMES = {IN_TREE: "the in-tree provider", LBC: "the AWS Load Balancer Controller",
                     "eks-auto-mode": "EKS Auto Mode"}  # fmt: skip


@dataclass(frozen=True)
class Ignored:
    """An annotation on the Service that the controller provisioning it does not act on."""

    annotation: str
    value: str
    controller: str  # in-tree | aws-load-balancer-controller
    why: str

    def to_json(self) -> dict[str, str]:
        return {"annotation": self.annotation, "value": self.value, "controller": self.controller, "why": self.why}

    def text(self) -> str:
        return f"{self.annotation}: {self.value!r} ignored by {_CONTROLLER_NAMES[self.controller]}: {self.why}"


def ignored_annotations(annotations: Mapping[str, str], s: Settings, *,
                        in_tree_tg_attributes: bool = False) -> tuple[Ignored, ...]:  # fmt: skip
    """The ``aws-load-balancer-*`` annotations the provisioning controller ignores: keys it does not read
    at all (only the other controller does), ``aws-load-balancer-internal`` next to
    ``aws-load-balancer-scheme`` for the LBC (the scheme annotation wins: ``model_build_load_balancer.go``
    buildLoadBalancerScheme), and the target group attributes on in-tree providers without PR #1214."""
    if s.controller not in (IN_TREE, LBC):
        return ()
    out: list[Ignored] = []
    for key in sorted(annotations):
        if not key.startswith(ANNOTATION_PREFIX + "aws-load-balancer-"):
            continue
        suffix = key[len(ANNOTATION_PREFIX):]
        value = str(annotations[key])
        if s.controller == IN_TREE:
            if suffix not in IN_TREE_READS:
                why = ("only the AWS Load Balancer Controller reads it" if suffix in LBC_READS
                       or suffix.startswith(_LBC_PREFIXES) else "no AWS load balancer controller reads it")  # fmt: skip
                out.append(Ignored(key, value, IN_TREE, why))
            elif key == TG_ATTRIBUTES and not in_tree_tg_attributes:
                out.append(Ignored(key, value, IN_TREE, "read only by cloud-provider-aws v1.32.6, v1.33.3, v1.34.0 "
                                   "(not v1.34.1), v1.35.0 and later; this cluster's "
                                   "provider is not known to be one of them"))  # fmt: skip
        else:
            if suffix not in LBC_READS and not suffix.startswith(_LBC_PREFIXES):
                why = ("only the in-tree provider reads it" if suffix in IN_TREE_READS
                       else "no AWS load balancer controller reads it")  # fmt: skip
                out.append(Ignored(key, value, LBC, why))
            elif key == INTERNAL and SCHEME in annotations:
                out.append(Ignored(key, value, LBC, f"{SCHEME} is set and wins over it"))
    return tuple(out)
