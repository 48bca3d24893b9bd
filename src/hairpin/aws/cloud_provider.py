"""Which releases of the AWS cloud provider honour the target group attributes annotation, and why hairpin thinks so.

The in-tree / cloud-controller-manager AWS provider (kubernetes/cloud-provider-aws) reads
``service.beta.kubernetes.io/aws-load-balancer-target-group-attributes`` on NLB Services since PR #1214
("Fix hairpinning traffic on internal NLB by introducing TG attribute reconciler", merged 2025-08-29,
fixing issue #1160; ``pkg/providers/v1/aws.go``, validation in ``aws_validations.go``):

- accepted keys: ``preserve_client_ip.enabled`` and ``proxy_protocol_v2.enabled``; any other key makes the
  provider reject the annotation ("not supported by the controller or is invalid");
  ``preserve_client_ip.enabled=false`` is rejected on UDP ports;
- first tags with it: v1.32.6, v1.33.3, v1.34.0 (from master; v1.34.1 was cut without it, v1.34.2 has it
  again), v1.35.0 and every later minor.  release-1.31 carries the back-port (#1318) but no v1.31 tag with
  it has been published (checked up to v1.31.9);
- its ``docs/service_controller.md`` ("hairpin connection on internal NLB") turns preservation off this way.

The provider's minor version follows the cluster's (cloud-provider-aws is released per Kubernetes minor);
its patch release is not visible from Kubernetes objects, so for 1.32-1.34 the answer depends on it
unless the provider's own version is given.  ``tg_attributes_support`` returns the answer with one sentence
saying what was assumed; the checker puts that sentence in the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from hairpin.errors import InputError
from hairpin.text import digits

__all__ = [
    "FIRST_PATCH",
    "MISSING",
    "Support",
    "Version",
    "in_tree_pairs",
    "parse_version",
    "refusals",
    "release_has_tg_attributes",
    "tg_attributes_support",
]

Version = tuple[int, int, int]  # (major, minor, patch); patch -1 when not known

#: per 1.x minor, the first cloud-provider-aws patch release that honours the annotation
FIRST_PATCH: dict[int, int] = {32: 6, 33: 3, 34: 0}
#: the first minor whose every release has it
ALL_FROM_MINOR = 35
#: releases cut after the first one without it (v1.34.1 was tagged from a branch point before the merge)
MISSING: frozenset[Version] = frozenset({(1, 34, 1)})

PR = "cloud-provider-aws PR #1214"


@dataclass(frozen=True)
class Support:
    """Whether the provider honours the annotation: True, False, or None (depends on its patch release)."""

    honoured: bool | None
    note: str


def parse_version(text: str, what: str = "--kubernetes-version") -> Version:
    """``1.33``, ``v1.33.4``, ``v1.33.4-eks-a737599`` -> (1, 33, 4); (1, 33, -1) without a patch.  Bad: InputError."""
    raw = text.strip()
    core = raw[1:] if raw[:1] in ("v", "V") else raw
    core = core.split("-", 1)[0].split("+", 1)[0]
    parts = core.split(".")
    if not 2 <= len(parts) <= 3 or not all(digits(p) and len(p) <= 4 for p in parts):
        raise InputError(f"{what}: {text!r} is not a version like 1.33 or v1.33.4")
    major, minor = int(parts[0]), int(parts[1])
    patch = int(parts[2]) if len(parts) == 3 else -1
    return major, minor, patch


def release_has_tg_attributes(v: Version) -> bool | None:
    """Does cloud-provider-aws release ``v`` honour the annotation?  None: unknown (no patch given for 1.32-1.34)."""
    major, minor, patch = v
    if major != 1:
        return major > 1
    if minor >= ALL_FROM_MINOR:
        return True
    first = FIRST_PATCH.get(minor)
    if first is None:
        return False
    if patch < 0:
        return None
    return patch >= first and v not in MISSING


def _fmt(v: Version) -> str:
    return f"v{v[0]}.{v[1]}" + (f".{v[2]}" if v[2] >= 0 else "")


def tg_attributes_support(kubernetes: Version | None, kubernetes_from: str = "", provider: Version | None = None,
                          *, lower_bound: bool = False) -> Support:  # fmt: skip
    """Whether the AWS cloud provider of a cluster honours ``aws-load-balancer-target-group-attributes``.

    ``provider``: the cloud-provider-aws release, when known (``--cloud-provider-version``): decides alone.
    ``kubernetes``: the cluster's version and ``kubernetes_from`` where it came from (the API server's
    /version, ``--kubernetes-version``, or the newest kubelet of a dump: ``lower_bound``, the control plane
    may be newer, so only a yes is certain).
    """
    firsts = "v1.32.6, v1.33.3, v1.34.0 (not v1.34.1), v1.35.0 and later"
    if provider is not None:
        has = release_has_tg_attributes(provider)
        if has is None:
            return Support(None, f"cloud-provider-aws {_fmt(provider)}: give its patch release ({PR} is in {firsts})")
        verb = "honours" if has else "ignores"
        return Support(has, f"cloud-provider-aws {_fmt(provider)} {verb} the annotation ({PR} is in {firsts})")
    if kubernetes is None:
        return Support(
            None,
            f"Kubernetes version unknown: hairpin assumed a cloud provider that ignores the annotation ({PR} is in "
            f"{firsts}); give --kubernetes-version or check a live cluster",
        )
    src = f" ({kubernetes_from})" if kubernetes_from else ""
    minor = (kubernetes[0], kubernetes[1], -1)
    has = release_has_tg_attributes(minor)
    k = f"Kubernetes v{kubernetes[0]}.{kubernetes[1]}{src}"
    if has is True:
        return Support(
            True, f"{k}: every cloud-provider-aws v{kubernetes[0]}.{kubernetes[1]} release honours it ({PR})"
        )
    if lower_bound:
        return Support(
            None,
            f"{k} or newer: the control plane may run a newer provider; hairpin assumed one that ignores the "
            f"annotation ({PR} is in {firsts}); give --kubernetes-version or check a live cluster",
        )
    if has is False:
        return Support(False, f"{k}: no cloud-provider-aws v{kubernetes[0]}.{kubernetes[1]} release honours it ({PR} "
                              f"is in {firsts})")  # fmt: skip
    first = FIRST_PATCH[kubernetes[1]]
    return Support(
        None,
        f"{k}: cloud-provider-aws v1.{kubernetes[1]}.{first} and later honour it"
        + (", except v1.34.1" if kubernetes[1] == 34 else "")
        + f" ({PR}); its patch release is not visible, so hairpin assumed it ignores the annotation "
        "(give --cloud-provider-version to decide)",
    )


def refusals(ports: list[tuple[int | None, str]], *, nlb: bool, session_affinity: str, load_balancer_ip: str,
             tg_attributes_checked: bool) -> list[str]:  # fmt: skip
    """Why the cloud provider's EnsureLoadBalancer (kubernetes/cloud-provider-aws ``pkg/providers/v1/aws.go``)
    fails for a Service before it builds or changes anything, in its own words; empty when it goes on.
    ``ports``: (port, protocol) of each Service port; ``nlb``: ``aws-load-balancer-type: nlb``;
    ``tg_attributes_checked``: the Service has ``aws-load-balancer-target-group-attributes`` and the release
    validates it (the releases that honour it, ``aws_validations.go``).  The checks, all in every release
    since the provider left the Kubernetes tree but the mixed-protocol one (v1.22.0; before Kubernetes 1.24
    the API server itself refused a LoadBalancer Service with two protocols, feature gate MixedProtocolLBService):
    a Classic ELB with the target group attributes annotation, a sessionAffinity other than None, two protocols (checkMixedProtocol), a protocol the load balancer does not take (checkProtocol: an NLB
    TCP and UDP, a Classic ELB TCP), ``spec.loadBalancerIP``.  Not checked: the older copy of the provider that
    kube-controller-manager itself ran up to Kubernetes 1.26 (k8s.io/legacy-cloud-providers/aws; the copy read
    takes TCP only, "Only TCP LoadBalancer is supported for AWS ELB", and has no mixed-protocol check of its own).  (No ports at all fails too, but the API server refuses such a Service first.)"""
    out: list[str] = []
    if tg_attributes_checked and not nlb:
        out.append("target group attributes annotation is only supported for NLB")
    if session_affinity not in ("", "None"):
        out.append(f"unsupported load balancer affinity: {session_affinity}")
    protocols = [proto for _, proto in ports]
    if len(set(protocols)) > 1:
        out.append("mixed protocol is not supported for LoadBalancer")
    allowed = ("TCP", "UDP") if nlb else ("TCP",)
    for bad in dict.fromkeys(p for p in protocols if p not in allowed):
        out.append(f"Protocol {bad} not supported by LoadBalancer")
    if load_balancer_ip:
        out.append("LoadBalancerIP cannot be specified for AWS ELB")
    return out


def in_tree_pairs(raw: str) -> dict[str, str]:
    """``aws-load-balancer-target-group-attributes`` as the cloud provider reads it (getKeyValuePropertiesFromAnnotation,
    ``pkg/providers/v1/aws_loadbalancer.go``): the value trimmed and split on ``,``; each piece trimmed and split on
    every ``=``: the key is the text before the first ``=`` and the value the text up to the next one, neither
    trimmed again; a piece without ``=`` is a key with an empty value; pieces with an empty key are skipped; a
    later key wins."""
    out: dict[str, str] = {}
    for piece in raw.strip().split(","):
        parts = piece.strip().split("=")
        if parts[0]:
            out[parts[0]] = parts[1] if len(parts) >= 2 else ""
    return out
