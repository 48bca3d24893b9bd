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
- ``served_warning``: from v3.5.0 the controller, with its feature gate NLBGatewayAPI left to its default, turns
  NLB Gateway support off at start unless ``gateway.networking.k8s.io/v1`` serves Gateway, GatewayClass,
  TLSRoute, TCPRoute and UDPRoute and ``gateway.k8s.aws/v1`` serves TargetGroupConfiguration,
  LoadBalancerConfiguration and ListenerRuleConfiguration (``pkg/gateway/crddetect/gateway_feature_flags.go``
  nlbKinds and its test "tcproute and udproute not served at v1 (gateway api < 1.6) - NLB disabled"; v3.2.0 -
  v3.4.x asked for TCPRoute and UDPRoute at v1alpha2 and the ``gateway.k8s.aws`` kinds at v1beta1).  With the gate
  set in its flags it reads the routes at whichever version is served (PR #4829).  An object read at an older
  version (a live cluster's list falls back to it only when the newer one is not served; ``kubectl get`` writes
  the preferred version) suggests the newer one is not served, so the checker warns; a manifest's apiVersion
  proves nothing of the cluster, hence a warning, not a verdict.  When the controller's image names no release
  (``:latest``, a digest only), which of these behaviours runs is not known: one warning says so instead.
"""

from __future__ import annotations

from typing import Any

from hairpin.aws.lbc_flags import LbcFlags
from hairpin.parsers.manifests import KubeObject
from hairpin.text import shown

__all__ = ["lb_config_refusal", "refusal", "served_warning"]

#: kind -> the group version v3.5.0's CRD detection needs it served at, for the kinds hairpin reads
NEEDED_AT_V1 = {
    "TCPRoute": "gateway.networking.k8s.io/v1", "UDPRoute": "gateway.networking.k8s.io/v1",
    "TLSRoute": "gateway.networking.k8s.io/v1", "TargetGroupConfiguration": "gateway.k8s.aws/v1",
    "LoadBalancerConfiguration": "gateway.k8s.aws/v1",
}  # fmt: skip

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


def served_warning(objects: list[KubeObject], flags: LbcFlags | None) -> str | None:
    """A warning when an object of a kind v3.5.0's CRD detection needs at v1 was read at another version and the
    controller's flags leave NLBGatewayAPI to its default: its image is v3.5.0 or later (it may turn its NLB Gateway
    support off), or its image names no release (whether it does depends on the release, which is not known: said,
    not guessed).  Without the Deployment nothing is said (most manifests of L4 routes are still written at
    v1alpha2), nor for v3.4.x and older, whose detection asks for the routes at v1alpha2."""
    if flags is None or (flags.version is not None and flags.version < (3, 5, 0)):
        return None
    if dict(flags.feature_gates).get("NLBGatewayAPI") is not None:
        return None
    for o in objects:
        want = NEEDED_AT_V1.get(o.kind)
        got = o.data.get("apiVersion")
        if want is None or not isinstance(got, str) or got == want or got.split("/")[0] != want.split("/")[0]:
            continue
        meta = o.data.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        name = shown(f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}")
        read_at = shown(got)
        if flags.version is None:  # the release decides, and the image does not say it
            return (f"{o.kind} {name} is read at {read_at}, not {want}, and the AWS Load Balancer Controller's image "
                    "names no release, so whether it builds NLBs for these Gateways is not known: from v3.5.0, with "
                    f"its feature gate NLBGatewayAPI left to its default, it turns its NLB Gateway support off at start "
                    f"when the cluster does not serve {want} (Gateway API before 1.6, or the controller's CRDs not "
                    "upgraded; pkg/gateway/crddetect), while v3.2.0 to v3.4.x ask for the L4 routes at v1alpha2; give "
                    f"--lbc-version vX.Y.Z or the image with its tag to decide ({flags.source})")  # fmt: skip
        release = "v{}.{}.{}".format(*flags.version)
        return (f"{o.kind} {name} is read at {read_at}, not {want}: if the cluster does not serve {want} (Gateway API "
                "before 1.6, or the controller's CRDs not upgraded), the AWS Load Balancer Controller "
                f"{release} turns its NLB Gateway support off at start, as its feature gate NLBGatewayAPI is left "
                f"to its default (pkg/gateway/crddetect), and these Gateways get no NLB ({flags.source})")
    return None
