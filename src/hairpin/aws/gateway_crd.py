"""Values the AWS Load Balancer Controller's Gateway API CRDs refuse: the API server never stores such an object.

The CRDs of ``gateway.k8s.aws`` (v1beta1 and v1 alike; kubernetes-sigs/aws-load-balancer-controller
``apis/gateway/v1*/loadbalancerconfig_types.go`` and ``targetgroupconfig_types.go``) declare enums
(``+kubebuilder:validation:Enum``) for the fields below, and the API server refuses an object whose value is
not one of them, in any other case or with spaces (``Unsupported value: "IP"``): the controller never sees it.

- ``refusal``: why a TargetGroupConfiguration would be refused, in the API server's words, for the fields the
  verdict reads (``targetType``, ``ipAddressType``); the checker makes it an input error and leaves the object out.
- ``lb_config_refusal``: the same for a LoadBalancerConfiguration's ``scheme`` and ``mergingMode``
  (``ipAddressType``: ``hairpin.aws.ipfamily``).  Read as written, ``scheme: Internal`` would make an internal
  NLB look internet-facing; but the controller does not reconcile a Gateway whose LoadBalancerConfiguration it
  cannot get (``pkg/gateway/gatewayutils/lb_config_utils.go`` ResolveLoadBalancerConfig returns the Get error to
  ``controllers/gateway/config_resolver.go``), so ``hairpin.aws.gateway`` reports no NLB for it.
"""

from __future__ import annotations

from typing import Any

from hairpin.parsers.manifests import KubeObject

__all__ = ["lb_config_refusal", "refusal"]

GROUP = "gateway.k8s.aws/"
LB_CONFIG: dict[str, tuple[str, ...]] = {
    "scheme": ("internal", "internet-facing"),
    "mergingMode": ("prefer-gateway", "prefer-gateway-class"),
}
TG_PROPS: dict[str, tuple[str, ...]] = {"targetType": ("instance", "ip"), "ipAddressType": ("ipv4", "ipv6")}


def _check(where: str, props: Any, enums: dict[str, tuple[str, ...]]) -> str | None:
    if not isinstance(props, dict):
        return None
    for key, allowed in enums.items():
        if key not in props or props[key] is None:
            continue
        value = props[key]
        if value not in allowed:
            shown = f'"{value}"' if isinstance(value, str) else repr(value)
            supported = ", ".join(f'"{a}"' for a in allowed)
            return f"{where}{key}: Unsupported value: {shown}: supported values: {supported}"
    return None


def lb_config_refusal(spec: Any) -> str | None:
    """Why the API server refuses a LoadBalancerConfiguration with this spec, or None."""
    return _check("spec.", spec, LB_CONFIG)


def refusal(o: KubeObject) -> str | None:
    """Why the API server refuses this TargetGroupConfiguration of ``gateway.k8s.aws``, or None."""
    if o.kind != "TargetGroupConfiguration" or not str(o.data.get("apiVersion") or "").startswith(GROUP):
        return None
    spec = o.data.get("spec")
    if not isinstance(spec, dict):
        return None
    bad = _check("spec.defaultConfiguration.", spec.get("defaultConfiguration"), TG_PROPS)
    routes = spec.get("routeConfigurations")
    for i, rc in enumerate(routes if isinstance(routes, list) else []):
        if bad is None and isinstance(rc, dict):
            bad = _check(f"spec.routeConfigurations[{i}].targetGroupProps.", rc.get("targetGroupProps"), TG_PROPS)
    if bad is None:
        return None
    return f"{bad} (the CRD's enum: the API server refuses the TargetGroupConfiguration; the controller never sees it)"
