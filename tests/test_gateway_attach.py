"""Which Gateway listeners admit a route (hairpin.aws.gateway_attach): allowedRoutes namespaces and kinds.

A route in another namespace than its Gateway, under a listener without allowedRoutes, is not attached by the AWS
Load Balancer Controller (from: Same is the default); hairpin reported such a route's target group at risk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hairpin.aws import gateway_attach as ga
from hairpin.diagnose import check as chk
from hairpin.parsers import manifests as m
from test_check import _main

GW = Path(__file__).parent / "data" / "check" / "gateway" / "cross-namespace.yaml"
NAME = "TCPRoute/web/web:8080"
SAME = (
    "TCPRoute shop/web is not attached: listener tcp of Gateway infra/edge admits routes from namespace infra only "
    "(allowedRoutes.namespaces.from unset: Same), not from shop; the AWS Load Balancer Controller builds no target "
    "group for it (listener_attachment_helper.go); to attach it, set the listener's allowedRoutes (namespaces.from: "
    "All, or a selector matching the route's namespace)"
)


def _docs() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(GW.read_text()))


def _listener(docs: list[dict[str, Any]]) -> dict[str, Any]:
    gw = next(d for d in docs if d["kind"] == "Gateway")
    listener: dict[str, Any] = gw["spec"]["listeners"][0]
    return listener


def _check(docs: list[dict[str, Any]]) -> dict[str, chk.Finding]:
    text = "---\n".join(yaml.safe_dump(d) for d in docs)
    return {f.name: f for f in chk.check(m.parse_yaml(text, "gw.yaml")).findings}


def test_cross_namespace_route_without_allowed_routes_is_not_attached() -> None:
    f = _check(_docs())[NAME]
    assert (f.at_risk, f.settings.controller, f.settings.load_balancer, f.fixes) == (False, "none", "none", [])
    assert list(f.settings.problems) == [SAME]
    assert f.reason == (
        "TCPRoute shop/web: not attached (listener tcp of Gateway infra/edge admits routes from namespace infra only "
        "(allowedRoutes.namespaces.from unset: Same), not from shop): no target group"
    )


def test_cli_exit_code_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = _main(["check", str(GW), "--format", "json"], capsys)
    (svc,) = json.loads(out)["services"]
    assert (code, svc["name"], svc["at_risk"], svc["load_balancer"], svc["problems"]) == (
        0,
        NAME,
        False,
        "none",
        [SAME],
    )


def test_from_all_and_same_namespace_attach() -> None:
    docs = _docs()
    _listener(docs)["allowedRoutes"] = {"namespaces": {"from": "All"}}
    f = _check(docs)[NAME]
    assert (f.at_risk, f.settings.controller, f.settings.problems, f.warnings) == (
        True,
        "aws-load-balancer-controller",
        (),
        [],
    )
    docs = _docs()
    _listener(docs)["allowedRoutes"] = {"namespaces": {"from": "Same"}}
    assert (
        _check(docs)[NAME]
        .settings.problems[0]
        .startswith(
            "TCPRoute shop/web is not attached: listener tcp of Gateway infra/edge admits routes from namespace infra only "
            "(allowedRoutes.namespaces.from: Same), not from shop;"
        )
    )
    for d in docs:  # the route moved into the Gateway's namespace
        if d["kind"] in ("TCPRoute", "Service"):
            d["metadata"]["namespace"] = "infra"
    assert _check(docs)[NAME].at_risk is True


def test_selector_needs_the_namespace_labels() -> None:
    docs = _docs()
    _listener(docs)["allowedRoutes"] = {
        "namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "shop"}}}
    }
    f = _check(docs)[NAME]
    assert f.at_risk is True
    assert f.warnings == [
        "whether listener tcp of Gateway infra/edge admits TCPRoute shop/web depends on the labels of namespace shop "
        "(allowedRoutes.namespaces.selector), and the input has no Namespace object for it: if they do not match, the "
        "controller builds no target group for the route and this verdict does not apply"
    ]
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "shop"}}}
    f = _check([*docs, ns])[NAME]
    assert (f.at_risk, f.warnings) == (True, [])
    ns["metadata"]["labels"] = {"team": "other"}  # type: ignore[index]
    f = _check([*docs, ns])[NAME]
    assert (f.at_risk, f.settings.problems) == (
        False,
        ("TCPRoute shop/web is not attached: listener tcp of Gateway infra/edge admits namespaces matching "
         "allowedRoutes.namespaces.selector, and namespace shop does not; the AWS Load Balancer Controller builds no "
         "target group for it (listener_attachment_helper.go); to attach it, set the listener's allowedRoutes "
         "(namespaces.from: All, or a selector matching the route's namespace)",),
    )  # fmt: skip
    # the API server's own name label decides without the Namespace object
    sel = {"matchExpressions": [{"key": ga.NAME_LABEL, "operator": "In", "values": ["shop", "web"]}]}
    _listener(docs)["allowedRoutes"] = {"namespaces": {"from": "Selector", "selector": sel}}
    f = _check(docs)[NAME]
    assert (f.at_risk, f.warnings) == (True, [])


def test_kinds_and_selector_semantics() -> None:
    docs = _docs()
    _listener(docs)["allowedRoutes"] = {"namespaces": {"from": "All"}, "kinds": [{"kind": "TLSRoute"}]}
    assert (
        _check(docs)[NAME]
        .settings.problems[0]
        .startswith(
            "TCPRoute shop/web is not attached: listener tcp of Gateway infra/edge admits only TLSRoute "
            "(allowedRoutes.kinds), not TCPRoute;"
        )
    )
    labels = {"a": "1"}
    assert ga.selector_matches({}, labels) is True
    assert ga.selector_matches({"matchExpressions": [{"key": "b", "operator": "DoesNotExist"}]}, labels) is True
    assert (
        ga.selector_matches({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, labels) is False
    )
    assert ga.selector_matches({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, labels) is True
    assert ga.selector_matches({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}, labels) is False
    listener = {"name": "tcp", "allowedRoutes": {"namespaces": {"from": "Selector"}}}
    assert ga.admits(listener, ("infra", "edge"), "TCPRoute", ("shop", "web"), None) == (
        False,
        "listener tcp of Gateway infra/edge: allowedRoutes.namespaces.from Selector without a selector admits no namespace",
    )


GW_SEED = """\
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: aws-nlb}
spec: {controllerName: gateway.k8s.aws/nlb}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: nginx-demo}
spec:
  gatewayClassName: aws-nlb
  listeners: [{name: tcp, protocol: TCP, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: web, namespace: nginx-demo}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: service-nginx-demo, port: 80}]}]
"""


def test_next_line_names_a_service_scenario_from_cluster_builds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Next line's scenario from-cluster command works: a Gateway's target group sorted first named itself,
    which from-cluster refused (exit 2)."""
    seed = str(Path(__file__).parent / "data" / "check" / "seed-dump.yaml")
    gw = tmp_path / "gw.yaml"
    gw.write_text(GW_SEED)
    code, out, _ = _main(["check", seed, str(gw)], capsys)
    assert (code, out.splitlines()[-1]) == (
        1,
        f"Next: see it happen on your cluster: hairpin scenario from-cluster --service nginx-demo/service-nginx-demo "
        f"{seed} {gw} -o mine.yaml, then hairpin reproduce --scenario mine.yaml",
    )
    code, out, _ = _main(["check", str(GW)], capsys)  # nothing at risk: no scenario either
    assert code == 0
    docs = _docs()
    _listener(docs)["allowedRoutes"] = {"namespaces": {"from": "All"}}
    only = tmp_path / "only.yaml"
    only.write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    code, out, _ = _main(["check", str(only)], capsys)
    assert (code, out.splitlines()[-1]) == (
        1,
        "Next: apply a fix listed above for shop/TCPRoute/web/web:8080 and run hairpin check again; scenario "
        "from-cluster builds a Service's own load balancer, not a Gateway's target groups",
    )
    name = "nginx-demo/TCPRoute/web/service-nginx-demo:80"
    code, _, err = _main(["scenario", "from-cluster", "--service", name, seed, str(gw), "-o", str(tmp_path / "s.yaml")],
                         capsys)  # fmt: skip
    assert (code, err.strip()) == (
        2,
        f"hairpin: error: {seed}, {gw}: --service {name}: a Gateway's target group as hairpin check names it; "
        "scenario from-cluster builds a Service's own load balancer only, not a Gateway's",
    )
