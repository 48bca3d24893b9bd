"""``aws-load-balancer-target-node-labels`` as each controller reads it: which nodes its instance targets are.

- The AWS cloud provider (kubernetes/cloud-provider-aws ``pkg/providers/v1/aws_loadbalancer.go``,
  filterTargetNodes): the pairs as getKeyValuePropertiesFromAnnotation splits them
  (``hairpin.aws.cloud_provider.in_tree_pairs``: no trimming around ``=``); a node is a target when it has
  every key, with the same value, or with any value when the pair's value is empty (``key`` or ``key=``).
- The AWS Load Balancer Controller (``pkg/service/model_build_target_group.go``
  buildTargetGroupBindingNodeSelector, instance targets only): ParseStringMapAnnotation
  (``pkg/annotations/parser.go``, read as ``hairpin.aws.lbc_annotations`` says, which changed in v2.14.1); a
  failed parse fails the model build (no load balancer); the pairs become the TargetGroupBinding's
  ``matchLabels``, so an empty value matches only an empty label value.
"""

from __future__ import annotations

from dataclasses import dataclass

from hairpin.aws.cloud_provider import in_tree_pairs
from hairpin.aws.lbc_annotations import read_map

__all__ = ["NodeSelector", "selector", "string_map"]


@dataclass(frozen=True)
class NodeSelector:
    """Labels a target node has (key, value), keys it has with any value, or why the controller refuses it."""

    labels: tuple[tuple[str, str], ...] = ()
    keys: tuple[str, ...] = ()
    refused: str | None = None
    #: the LBC's releases read the annotation differently and which one runs is not known
    warning: str | None = None


def selector(raw: str | None, *, in_tree: bool, version: tuple[int, int, int] | None = None) -> NodeSelector:
    """The node selector of the annotation's value ``raw`` (None: no annotation), for the in-tree provider or
    the LBC of release ``version`` (None: not known)."""
    if raw is None:
        return NodeSelector()
    if in_tree:
        pairs = in_tree_pairs(raw)
        return NodeSelector(tuple(sorted((k, v) for k, v in pairs.items() if v)),
                            tuple(sorted(k for k, v in pairs.items() if not v)))  # fmt: skip
    got = read_map("service.beta.kubernetes.io/aws-load-balancer-target-node-labels", raw, version)
    if got.refused is not None:
        return NodeSelector(refused=got.why_refused, warning=got.warning)
    return NodeSelector(tuple(sorted(got.pairs.items())), warning=got.warning)


def string_map(raw: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` as a dict, each piece and its key and value trimmed, empty pieces skipped; a bare key
    maps to ``''``.  A lenient reading for text that no controller refuses on its own (hairpin's fixes, EKS
    Auto Mode's attributes); the AWS Load Balancer Controller's own reading is ``hairpin.aws.lbc_annotations``."""
    out: dict[str, str] = {}
    for piece in raw.split(","):
        piece = piece.strip()
        if not piece:
            continue
        key, _, value = piece.partition("=")
        out[key.strip()] = value.strip()
    return out
