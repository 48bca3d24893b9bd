"""``aws-load-balancer-target-node-labels`` as each controller reads it: which nodes its instance targets are.

- The AWS cloud provider (kubernetes/cloud-provider-aws ``pkg/providers/v1/aws_loadbalancer.go``,
  filterTargetNodes): the pairs as getKeyValuePropertiesFromAnnotation splits them
  (``hairpin.aws.cloud_provider.in_tree_pairs``: no trimming around ``=``); a node is a target when it has
  every key, with the same value, or with any value when the pair's value is empty (``key`` or ``key=``).
- The AWS Load Balancer Controller (``pkg/service/model_build_target_group.go``
  buildTargetGroupBindingNodeSelector, instance targets only): ParseStringMapAnnotation
  (``pkg/annotations/parser.go``): pieces split on ``,``, each trimmed; a piece without ``=`` or with an empty
  key fails the parse, and with it the model build (no load balancer); key and value trimmed; the pairs become
  the TargetGroupBinding's ``matchLabels``, so an empty value matches only an empty label value.
"""

from __future__ import annotations

from dataclasses import dataclass

from hairpin.aws.cloud_provider import in_tree_pairs

__all__ = ["NodeSelector", "selector", "string_map"]


@dataclass(frozen=True)
class NodeSelector:
    """Labels a target node has (key, value), keys it has with any value, or why the controller refuses it."""

    labels: tuple[tuple[str, str], ...] = ()
    keys: tuple[str, ...] = ()
    refused: str | None = None


def selector(raw: str, *, in_tree: bool) -> NodeSelector:
    """The node selector of the annotation's value ``raw``, for the in-tree provider or the LBC."""
    if in_tree:
        pairs = in_tree_pairs(raw)
        return NodeSelector(tuple(sorted((k, v) for k, v in pairs.items() if v)),
                            tuple(sorted(k for k, v in pairs.items() if not v)))  # fmt: skip
    try:
        out = string_map(raw, strict=True)
    except ValueError as e:
        return NodeSelector(refused=f'{e.args[0]!r} is not key=value ("failed to parse stringMap annotation")')
    return NodeSelector(tuple(sorted(out.items())))


def string_map(raw: str, *, strict: bool = False) -> dict[str, str]:
    """``k1=v1,k2=v2`` (the controllers' stringMap annotation format) as a dict, each piece and its key and value
    trimmed, empty pieces skipped; a bare key maps to ``''``.  ``strict``: a piece without ``=`` or with an empty
    key raises ``ValueError(piece)``, as the AWS Load Balancer Controller's parser refuses it."""
    out: dict[str, str] = {}
    for piece in raw.split(","):
        piece = piece.strip()
        if not piece:
            continue
        key, eq, value = piece.partition("=")
        if strict and (not eq or not key.strip()):
            raise ValueError(piece)
        out[key.strip()] = value.strip()
    return out
