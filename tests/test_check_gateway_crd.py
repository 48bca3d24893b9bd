"""Values the gateway.k8s.aws CRDs' enums refuse: the object is an input error, and the Gateway keeps the defaults."""

from __future__ import annotations

from fractions import Fraction

import pytest
import yaml

from hairpin.diagnose import check as chk
from hairpin.parsers import manifests as m
from test_check import node, pod

GATEWAY = """\
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: aws-nlb}
spec: {controllerName: gateway.k8s.aws/nlb}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  gatewayClassName: aws-nlb
  infrastructure: {parametersRef: {group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: cfg}}
  listeners: [{name: tcp, protocol: TCP, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: web, namespace: shop}
spec:
  parentRefs: [{name: edge, sectionName: tcp}]
  rules: [{backendRefs: [{name: web, port: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 8080}]}
"""


def _run(*extra: dict[str, object]) -> chk.Report:
    text = GATEWAY + "".join("---\n" + yaml.safe_dump(d) for d in extra)
    return chk.check(m.parse_yaml(text, "g.yaml"))


def _lbcfg(version: str, spec: dict[str, object]) -> dict[str, object]:
    return {"apiVersion": f"gateway.k8s.aws/{version}", "kind": "LoadBalancerConfiguration",
            "metadata": {"name": "cfg", "namespace": "shop"}, "spec": spec}  # fmt: skip


def _tgc(version: str, props: dict[str, object]) -> dict[str, object]:
    return {"apiVersion": f"gateway.k8s.aws/{version}", "kind": "TargetGroupConfiguration",
            "metadata": {"name": "tgc", "namespace": "shop"},
            "spec": {"targetReference": {"name": "web"}, "defaultConfiguration": props}}  # fmt: skip


@pytest.mark.parametrize("version", ["v1beta1", "v1"])
@pytest.mark.parametrize("scheme", ["Internal", "Internet-facing", "internet-facing ", "public"])
def test_a_scheme_out_of_the_enum_leaves_the_gateway_without_an_nlb(version: str, scheme: str) -> None:
    # never "internet-facing, not at risk": the API server refuses the config, and the controller does not
    # reconcile a Gateway whose LoadBalancerConfiguration it cannot get
    r = _run(_lbcfg(version, {"scheme": scheme}))
    assert (r.errors, r.exit_code) == ([], 0)
    (f,) = r.findings
    refused = f'spec.scheme: Unsupported value: "{scheme}": supported values: "internal", "internet-facing"'
    assert (f.at_risk, f.settings.controller, f.settings.load_balancer, f.fixes) == (False, "none", "none", [])
    assert f.settings.problems == (
        f"LoadBalancerConfiguration shop/cfg: {refused} (the API server refuses it): the Gateway gets no NLB",
    )
    assert f.reason == (
        f"LoadBalancerConfiguration shop/cfg: {refused} (the CRD's enum): the API server refuses it, and the "
        "controller does not reconcile a Gateway whose LoadBalancerConfiguration it cannot get "
        "(gatewayutils.ResolveLoadBalancerConfig): no NLB is built"
    )


@pytest.mark.parametrize("version", ["v1beta1", "v1"])
def test_a_target_type_out_of_the_enum_refuses_the_whole_object(version: str) -> None:
    # the preserve_client_ip.enabled=false next to it is refused with it: instance targets, preservation on
    r = _run(_tgc(version, {"targetType": "IP", "targetGroupAttributes": [
        {"key": "preserve_client_ip.enabled", "value": "false"}]}))  # fmt: skip
    assert [(e.line, e.message) for e in r.errors] == [(26,
        'spec.defaultConfiguration.targetType: Unsupported value: "IP": supported values: "instance", "ip" (the '
        "CRD's enum: the API server refuses the TargetGroupConfiguration; the controller never sees it)")]  # fmt: skip
    (f,) = r.findings
    assert (f.settings.target_type, f.settings.preserve_client_ip, f.at_risk) == ("instance", True, True)
    route = _tgc(version, {})
    route["spec"]["routeConfigurations"] = [{"routeIdentifier": {"kind": "TCPRoute"},
                                              "targetGroupProps": {"ipAddressType": "IPv6"}}]  # fmt: skip
    assert [e.message.split(":")[0] for e in _run(route).errors] == [
        "spec.routeConfigurations[0].targetGroupProps.ipAddressType"
    ]


def test_values_in_the_enum_are_read_as_before() -> None:
    r = _run(_lbcfg("v1", {"scheme": "internet-facing"}))
    assert (r.errors, r.findings[0].settings.scheme, r.findings[0].at_risk) == ([], "internet-facing", False)
    r = _run(_lbcfg("v1", {}), _tgc("v1beta1", {"targetType": "ip"}))
    assert (r.errors, r.findings[0].settings.target_type) == ([], "ip")


def test_a_node_selector_limits_the_instance_targets() -> None:
    nodes = [node("a1", "eu-west-1a", "10.0.1.1"), node("b1", "eu-west-1b", "10.0.2.1"),
             node("b2", "eu-west-1b", "10.0.2.2", {"role": "edge"})]  # fmt: skip
    (f,) = _run(_lbcfg("v1", {}), *nodes).findings
    assert (f.probability, f.worst_node) == (Fraction(1, 2), "a1")
    sel = _tgc("v1", {"nodeSelector": {"matchLabels": {"role": "edge"}}})
    (f,) = _run(_lbcfg("v1", {}), sel, *nodes).findings
    # only b2 is registered: every connection goes to it (the NLB's AZ a address has no target)
    assert (f.at_risk, f.probability, f.worst_node, f.warnings) == (True, Fraction(1), "b2", [])
    assert "instance targets limited to nodes labelled role=edge (TargetGroupConfiguration shop/tgc nodeSelector)" in (
        f.settings.steps
    )
    none = _tgc("v1", {"nodeSelector": {"matchLabels": {"role": "none"}}})
    assert _run(_lbcfg("v1", {}), none, *nodes).findings[0].at_risk is False
    expr = _tgc("v1", {"nodeSelector": {"matchExpressions": [{"key": "role", "operator": "Exists"}]}})
    (f,) = _run(_lbcfg("v1", {}), expr, *nodes).findings
    assert f.warnings == [
        "TargetGroupConfiguration shop/tgc nodeSelector.matchExpressions is not evaluated: the verdict counts every "
        "node its matchLabels select, more than the controller registers if an expression excludes some"
    ]
    # ip targets: no TargetGroupBinding node selector
    ip = _tgc("v1", {"targetType": "ip", "nodeSelector": {"matchLabels": {"role": "none"}}})
    assert _run(_lbcfg("v1", {}), ip).findings[0].settings.target_node_labels == ()


def test_a_local_backend_is_health_checked_as_the_service_path_does() -> None:
    # instance targets of an externalTrafficPolicy Local Service: only nodes with a ready endpoint pass
    nodes = [node("a1", "eu-west-1a", "10.0.1.1"), node("a2", "eu-west-1a", "10.0.1.2"),
             node("b1", "eu-west-1b", "10.0.2.1")]  # fmt: skip
    web = pod("w1", "a1", "10.0.1.50", {"app": "web"})
    local = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080}], "externalTrafficPolicy": "Local"}}  # fmt: skip
    text = GATEWAY[: GATEWAY.rindex("---\n")]  # without its Service: this one replaces it
    docs = [_lbcfg("v1", {}), local, *nodes, web]
    f = chk.check(m.parse_yaml(text + "".join("---\n" + yaml.safe_dump(d) for d in docs), "g.yaml")).findings[0]
    # a1 alone is healthy: every connection goes to it (AZ b's address has no healthy target), P = 1 on a1
    assert (f.at_risk, f.probability, f.worst_node, f.settings.external_traffic_policy) == (
        True,
        Fraction(1),
        "a1",
        "Local",
    )
    assert "externalTrafficPolicy Local: 1 node(s) with a ready endpoint pass the health check" in f.reason
