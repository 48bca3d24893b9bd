"""The Gateway API objects ``hairpin check`` reads from a live cluster (``hairpin.aws.gateway``).

Read-only, paged list calls through the custom objects API.  Every kind is optional: a cluster without
the CRDs answers 404, one without the right answers 403, and the kind is skipped.  Versions tried, first
served wins: Gateway API ``gateway.networking.k8s.io`` v1 (GatewayClass, Gateway; TCPRoute and UDPRoute from
Gateway API 1.6) then v1alpha2 (the L4 routes before that); the AWS Load Balancer Controller's
``gateway.k8s.aws`` v1 (storage version from v3.5.0) then v1beta1 (from v2.13.0).  Also the controller's
TargetGroupBindings (``elbv2.k8s.aws`` v1beta1, its storage version: apis/elbv2/v1beta1), for the target groups
made outside the cluster (``hairpin.diagnose.tgb``).
"""

from __future__ import annotations

from typing import Any

from hairpin.errors import InputError
from hairpin.kube.answers import Budget
from hairpin.parsers.manifests import KubeObject

__all__ = ["GATEWAY_LISTS", "live_gateway_objects"]

#: (kind, group, versions to try, plural)
GATEWAY_LISTS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("GatewayClass", "gateway.networking.k8s.io", ("v1",), "gatewayclasses"),
    ("Gateway", "gateway.networking.k8s.io", ("v1",), "gateways"),
    ("TCPRoute", "gateway.networking.k8s.io", ("v1", "v1alpha2"), "tcproutes"),
    ("UDPRoute", "gateway.networking.k8s.io", ("v1", "v1alpha2"), "udproutes"),
    ("TLSRoute", "gateway.networking.k8s.io", ("v1", "v1alpha3", "v1alpha2"), "tlsroutes"),
    ("TargetGroupConfiguration", "gateway.k8s.aws", ("v1", "v1beta1"), "targetgroupconfigurations"),
    ("LoadBalancerConfiguration", "gateway.k8s.aws", ("v1", "v1beta1"), "loadbalancerconfigurations"),
    ("TargetGroupBinding", "elbv2.k8s.aws", ("v1beta1",), "targetgroupbindings"),
)


def live_gateway_objects(api_client: Any, budget: Budget) -> list[KubeObject]:
    """Every Gateway API object of the kinds above that the cluster serves (answers counted in ``budget``)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api = client.CustomObjectsApi(api_client)
    out: list[KubeObject] = []
    for kind, group, versions, plural in GATEWAY_LISTS:
        for version in versions:
            token: str | None = None
            pages = budget.pages(f"listing {kind}s")
            try:
                while True:
                    kw: dict[str, Any] = {"limit": 500, "_preload_content": False}
                    if token:
                        kw["_continue"] = token
                    resp: Any = api.list_cluster_custom_object(group, version, plural, **kw)
                    data = budget.json(resp, f"listing {kind}s")
                    if not isinstance(data, dict):
                        raise InputError(
                            f"listing {kind}s failed: the API server answered a {type(data).__name__}", budget.where
                        )
                    items = data.get("items") or []
                    if not isinstance(items, list):
                        raise InputError(f"listing {kind}s failed: the API server's items are not a list", budget.where)
                    out.extend(KubeObject(kind, i, None, None) for i in items if isinstance(i, dict))
                    meta = data.get("metadata")
                    token = pages.next(meta.get("continue") if isinstance(meta, dict) else None)
                    if not token:
                        break
            except InputError:
                raise
            except ApiException as exc:
                if exc.status in (401, 403, 404):
                    continue  # not served in this version (or not readable): try the next, else skip the kind
                raise InputError(f"listing {kind}s failed: {exc.status} {exc.reason}", budget.where) from None
            except Exception as exc:  # connection refused, TLS
                raise InputError(f"listing {kind}s failed: {exc}", budget.where) from None
            break
    return out
