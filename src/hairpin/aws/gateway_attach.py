"""Which Gateway listeners admit a route: the AWS Load Balancer Controller's attachment checks.

Facts, from kubernetes-sigs/aws-load-balancer-controller ``pkg/gateway/routeutils/listener_attachment_helper.go``
(``namespaceCheck``, ``kindCheck``) and ``namespace_selector.go``, which implement the Gateway API's rules
(gateway-api ``apis/v1/gateway_types.go``, ``AllowedRoutes``):

- ``allowedRoutes.namespaces.from`` unset (no ``allowedRoutes``, no ``namespaces``, no ``from``) is ``Same``: the
  listener admits routes of the Gateway's own namespace only.  ``All`` admits every namespace.  ``Selector``
  admits the namespaces whose labels match ``allowedRoutes.namespaces.selector`` (a label selector:
  ``matchLabels`` and ``matchExpressions`` with In, NotIn, Exists, DoesNotExist); ``Selector`` without a
  selector admits none, and so does any other value.
- ``allowedRoutes.kinds``, when it lists kinds, is the set of route kinds the listener admits (the controller
  compares the kind only, not the group).  When empty the listener's protocol decides, as hairpin's listener
  choice already does (``hairpin.aws.gateway``).
- A route not admitted by any listener it names gets no target group: the controller builds nothing for it.

Every namespace carries the label ``kubernetes.io/metadata.name`` with its own name (set by the API server since
Kubernetes 1.21: kubernetes ``pkg/apis/core/v1/defaults.go``, ``SetDefaults_Namespace``), so a selector on that label
alone is decided without the Namespace object; a selector on other labels needs the Namespace object in the input.

``admits(listener, ...)`` returns True, False with why, or None with why (undecided).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["NAME_LABEL", "admits", "selector_matches"]

NAME_LABEL = "kubernetes.io/metadata.name"
SOURCE = "the AWS Load Balancer Controller's listener_attachment_helper.go"


def _d(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list[Any]:
    return x if isinstance(x, list) else []


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label selector (``matchLabels``, ``matchExpressions``) against ``labels``; ``{}`` matches everything
    (apimachinery ``metav1.LabelSelectorAsSelector``)."""
    for k, v in _d(selector.get("matchLabels")).items():
        if labels.get(str(k)) != str(v):
            return False
    for e in _l(selector.get("matchExpressions")):
        e = _d(e)
        key, op, values = str(e.get("key")), e.get("operator"), [str(v) for v in _l(e.get("values"))]
        has = key in labels
        if op == "In" and not (has and labels[key] in values):
            return False
        if op == "NotIn" and has and labels[key] in values:
            return False
        if op == "Exists" and not has:
            return False
        if op == "DoesNotExist" and has:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def _keys(selector: Mapping[str, Any]) -> set[str]:
    return {str(k) for k in _d(selector.get("matchLabels"))} | {
        str(_d(e).get("key")) for e in _l(selector.get("matchExpressions"))
    }


def admits(listener: Mapping[str, Any], gateway: tuple[str, str], route_kind: str, route: tuple[str, str],
           namespace_labels: Mapping[str, str] | None) -> tuple[bool | None, str]:  # fmt: skip
    """Whether ``listener`` of Gateway ``gateway`` (namespace, name) admits the route (kind, (namespace, name)).

    ``namespace_labels``: the labels of the route's Namespace object, None when the input has no such object.
    Returns (True, ""), (False, why) or (None, why): why is a sentence naming the listener and the field."""
    gns, gname = gateway
    rns, rname = route
    allowed = _d(listener.get("allowedRoutes"))
    where = f"listener {listener.get('name')} of Gateway {gns}/{gname}"
    kinds = [str(_d(k).get("kind")) for k in _l(allowed.get("kinds"))]
    if kinds and route_kind not in kinds:
        return False, f"{where} admits only {', '.join(kinds)} (allowedRoutes.kinds), not {route_kind}"
    namespaces = _d(allowed.get("namespaces"))
    frm = namespaces.get("from")
    if frm is None or frm == "Same":
        if rns == gns:
            return True, ""
        how = "allowedRoutes.namespaces.from: Same" if frm == "Same" else "allowedRoutes.namespaces.from unset: Same"
        return False, f"{where} admits routes from namespace {gns} only ({how}), not from {rns}"
    if frm == "All":
        return True, ""
    if frm != "Selector":
        return (
            False,
            f"{where}: allowedRoutes.namespaces.from {frm!r} is not Same, All or Selector: no route is admitted",
        )
    selector = namespaces.get("selector")
    if not isinstance(selector, dict):
        return False, f"{where}: allowedRoutes.namespaces.from Selector without a selector admits no namespace"
    labels = {**(namespace_labels or {}), NAME_LABEL: rns}  # the API server sets it, whatever was written
    if namespace_labels is None and _keys(selector) - {NAME_LABEL}:
        return None, (f"whether {where} admits {route_kind} {rns}/{rname} depends on the labels of namespace {rns} "
                      "(allowedRoutes.namespaces.selector), and the input has no Namespace object for it: if they do "
                      "not match, the controller builds no target group for the route and this verdict does not "
                      "apply")  # fmt: skip
    if selector_matches(selector, labels):
        return True, ""
    return False, f"{where} admits namespaces matching allowedRoutes.namespaces.selector, and namespace {rns} does not"
