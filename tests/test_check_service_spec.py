"""Service fields the verdict and the fixes depend on: what the AWS cloud provider's EnsureLoadBalancer refuses
before it builds anything (kubernetes/cloud-provider-aws pkg/providers/v1/aws.go: no load balancer, not a hairpin),
spec.allocateLoadBalancerNodePorts, internalTrafficPolicy, and a manifest without a namespace."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hairpin.aws import cloud_provider as cp
from hairpin.diagnose import check as chk
from hairpin.kube.cluster import Cluster
from hairpin.parsers import manifests as m
from test_check import one, service

P = "service.beta.kubernetes.io/"
TYPE, INTERNAL, TGA = (
    P + "aws-load-balancer-type",
    P + "aws-load-balancer-internal",
    P + "aws-load-balancer-target-group-attributes",
)
NLB = {TYPE: "nlb", INTERNAL: "true"}


def _svc(ann: dict[str, str], **spec: Any) -> dict[str, Any]:
    d = service(ann=ann)
    d["spec"].update(spec)
    return d


TCP_UDP = [{"name": "a", "port": 53, "protocol": "TCP", "nodePort": 30053},
           {"name": "b", "port": 53, "protocol": "UDP", "nodePort": 30054}]  # fmt: skip


@pytest.mark.parametrize(
    ("ann", "spec", "said"),
    [(NLB, {"sessionAffinity": "ClientIP"}, "unsupported load balancer affinity: ClientIP"),
     (NLB, {"ports": TCP_UDP}, "mixed protocol is not supported for LoadBalancer"),
     (NLB, {"ports": [{"port": 80, "protocol": "SCTP"}]}, "Protocol SCTP not supported by LoadBalancer"),
     (NLB, {"loadBalancerIP": "10.0.0.5"}, "LoadBalancerIP cannot be specified for AWS ELB"),
     ({INTERNAL: "true"}, {"ports": [{"port": 53, "protocol": "UDP"}]}, "Protocol UDP not supported by LoadBalancer")],
)  # fmt: skip
def test_refused_services_get_no_load_balancer(ann: dict[str, str], spec: dict[str, Any], said: str) -> None:
    f = one(_svc(ann, **spec))
    assert (f.at_risk, f.settings.controller, f.settings.load_balancer, f.fixes) == (False, "none", "none", [])
    assert f.settings.problems == (f"the AWS cloud provider refuses the Service: {said}",)
    assert f.reason == (f'the AWS cloud provider refuses the Service ("{said}"; pkg/providers/v1/aws.go '
                        "EnsureLoadBalancer): no load balancer is built")  # fmt: skip


def test_accepted_services_are_unchanged() -> None:
    for spec in ({"sessionAffinity": "None"}, {"loadBalancerIP": ""},
                 {"ports": [{"name": "a", "port": 53, "protocol": "UDP"}, {"name": "b", "port": 54, "protocol": "UDP"}]}):  # fmt: skip
        f = one(_svc(NLB, **spec))
        assert (f.at_risk, f.settings.controller, f.settings.problems) == (True, "in-tree", ())
    # the AWS Load Balancer Controller has none of these checks: TCP and UDP are its TCP_UDP question
    f = one(_svc({TYPE: "external", P + "aws-load-balancer-nlb-target-type": "instance"}, sessionAffinity="ClientIP"))
    assert (f.at_risk, f.settings.controller) == (True, "aws-load-balancer-controller")


def test_an_existing_load_balancer_is_judged_as_it_was_built() -> None:
    # the failure leaves the NLB in the status as it was: callers still reach it, and it still hairpins
    d = _svc(NLB, sessionAffinity="ClientIP")
    d["metadata"]["uid"] = "u-1"
    d["status"] = {"loadBalancer": {"ingress": [{"hostname": "a-1.elb.eu-west-1.amazonaws.com"}]}}
    f = one(d)
    assert (f.at_risk, f.settings.controller, f.settings.load_balancer) == (True, "in-tree", "nlb")
    assert f.settings.problems == (
        "the AWS cloud provider refuses the Service: unsupported load balancer affinity: ClientIP",
    )
    assert f.settings.steps[-1] == (
        'the AWS cloud provider refuses the Service as it is now ("unsupported load balancer affinity: ClientIP"; '
        "pkg/providers/v1/aws.go EnsureLoadBalancer): the NLB in its status was built before and keeps the settings "
        "judged here"
    )


def test_target_group_attributes_on_a_classic_elb_only_where_the_release_checks_them() -> None:
    d = _svc({INTERNAL: "true", TGA: "preserve_client_ip.enabled=false"})
    objs = m.parse_yaml(yaml.safe_dump(d), "t.yaml")
    new = chk.check(objs, versions=chk.Versions(None, "", cp.parse_version("v1.35.0"))).findings[0]
    assert new.settings.problems == (
        "the AWS cloud provider refuses the Service: target group attributes annotation is only supported for NLB",
    )
    assert new.settings.load_balancer == "none"
    old = chk.check(objs, versions=chk.Versions(None, "", cp.parse_version("v1.31.9"))).findings[0]
    assert (old.settings.load_balancer, old.settings.problems) == ("clb", ())


def test_refusals_lists_every_reason_in_the_providers_words() -> None:
    assert cp.refusals([(80, "TCP"), (53, "UDP"), (9, "SCTP")], nlb=True, session_affinity="ClientIP",
                       load_balancer_ip="1.2.3.4", tg_attributes_checked=True) == [
        "unsupported load balancer affinity: ClientIP", "mixed protocol is not supported for LoadBalancer",
        "Protocol SCTP not supported by LoadBalancer", "LoadBalancerIP cannot be specified for AWS ELB"]  # fmt: skip
    assert cp.refusals([(80, "TCP")], nlb=False, session_affinity="", load_balancer_ip="",
                       tg_attributes_checked=False) == []  # fmt: skip


def test_unallocated_node_ports() -> None:
    # spec.allocateLoadBalancerNodePorts: false, no nodePort written: the API server allocates none
    ports = [{"port": 80, "protocol": "TCP"}]
    f = one(_svc(NLB, allocateLoadBalancerNodePorts=False, ports=ports))
    assert (f.at_risk, f.settings.load_balancer) == (False, "none")
    assert f.settings.problems == (
        "no port has a nodePort (spec.allocateLoadBalancerNodePorts: false): the load balancer gets no listener",
    )
    lbc = {TYPE: "external", P + "aws-load-balancer-nlb-target-type": "instance"}
    f = one(_svc(lbc, allocateLoadBalancerNodePorts=False, ports=ports))
    assert (f.at_risk, f.settings.load_balancer) == (False, "none")
    assert f.settings.problems == (
        "unable to support instance target type with an unallocated NodePort (the controller refuses the Service)",
    )
    # a nodePort written in the object is allocated; ip targets need none
    assert one(_svc(lbc, allocateLoadBalancerNodePorts=False)).at_risk is True
    assert one(_svc(NLB, allocateLoadBalancerNodePorts=False)).at_risk is True
    ip = {**lbc, P + "aws-load-balancer-nlb-target-type": "ip", TGA: "preserve_client_ip.enabled=true"}
    assert one(_svc(ip, allocateLoadBalancerNodePorts=False, ports=ports)).at_risk is True


def test_cluster_ip_fix_says_internal_traffic_policy_local_drops_callers_without_a_local_endpoint() -> None:
    f = one(_svc(NLB, internalTrafficPolicy="Local"))
    fix = next(x for x in f.fixes if x.name == "cluster-ip")
    assert fix.cost == (
        "every in-cluster caller's configuration changes; the load balancer and the client IP stay as they are; with "
        "internalTrafficPolicy Local kube-proxy drops the ClusterIP connections of a caller on a node without a ready "
        "endpoint of the Service: set it to Cluster, or keep callers next to the endpoints"
    )
    plain = next(x for x in one(_svc(NLB, internalTrafficPolicy="Cluster")).fixes if x.name == "cluster-ip")
    assert (
        plain.cost
        == "every in-cluster caller's configuration changes; the load balancer and the client IP stay as they are"
    )


@pytest.mark.parametrize(("value", "scheme"), [("", "internet-facing"), (None, "internet-facing"),
                                              ("false", "internet-facing"), ("False", "internal"), (" true", "internal")])  # fmt: skip
def test_in_tree_internal_is_any_value_but_false_or_empty(value: str | None, scheme: str) -> None:
    # cloud-provider-aws EnsureLoadBalancer: "false" -> internet-facing, "" (absent, empty or null) -> internet-facing
    f = one(_svc({TYPE: "nlb", INTERNAL: value}))  # type: ignore[dict-item]
    assert (f.settings.scheme, f.at_risk) == (scheme, scheme == "internal")
    if scheme == "internet-facing":
        assert f.settings.steps[1] == f"scheme internet-facing ({INTERNAL}: {value or ''!r}; the in-tree default)"


def test_a_manifest_without_a_namespace_gets_commands_without_one() -> None:
    # kubectl applies such a manifest to the namespace of its command: "-n default" could name another Service
    d = _svc(NLB)
    del d["metadata"]["namespace"]
    f = one(d)
    assert (f.namespace, f.at_risk) == ("default", True)
    assert [x.name for x in f.fixes] == ["cluster-ip", "recreate-ip-targets"]
    cip = next(x for x in f.fixes if x.name == "cluster-ip")
    assert cip.summary == (
        "point in-cluster callers at svc.<namespace>.svc.cluster.local:80 (the ClusterIP) instead of the load "
        "balancer's DNS name"
    )
    recreate = next(x for x in f.fixes if x.name == "recreate-ip-targets")
    assert recreate.command(f.command_namespace, f.name) == (
        "add these annotations to the Service's manifest, then: kubectl delete service svc && kubectl apply -f <manifest>"
    )
    assert f.warnings == [
        "metadata.namespace is not set: hairpin shows the Service as default/svc, but kubectl creates it in the "
        "namespace of the command that applies it (-n, else the context's); the fixes' commands leave -n out to match"
    ]
    # with a namespace, or read from the cluster: -n as before, no warning
    g = one(_svc(NLB))
    assert (g.command_namespace, g.warnings) == ("shop", [])
    assert (
        next(x for x in g.fixes if x.name == "recreate-ip-targets")
        .command(g.command_namespace, g.name)
        .endswith("kubectl delete service -n shop svc && kubectl apply -f <manifest>")
    )
    live = _svc(NLB)
    del live["metadata"]["namespace"]
    live["metadata"]["uid"] = "u-1"
    assert (one(live).command_namespace, one(live).warnings) == ("default", [])
    # the source-range patches (kube-proxy's and the security group's) name the Service the same way
    c = Cluster.from_objects(m.parse_yaml(yaml.safe_dump(d), "t.yaml"))
    assert (c.services[0].kubectl_ns, c.services[0].dns_namespace) == ("", "<namespace>")
    c = Cluster.from_objects(m.parse_yaml(yaml.safe_dump(_svc(NLB)), "t.yaml"))
    assert (c.services[0].kubectl_ns, c.services[0].dns_namespace) == ("-n shop ", "shop")


def test_in_tree_cross_zone_only_from_its_own_annotation() -> None:
    xz = P + "aws-load-balancer-cross-zone-load-balancing-enabled"
    assert one(_svc({**NLB, TGA: "load_balancing.cross_zone.enabled=true"})).settings.cross_zone is False
    assert one(_svc({**NLB, xz: "true"})).settings.cross_zone is True


@pytest.mark.parametrize("kind", ["service", "SERVICE", "node", "endpointslice"])
def test_a_kind_in_another_case_is_refused_not_skipped(kind: str) -> None:
    # kubectl: 'no matches for kind "service" in version "v1"': a CI job must not pass on it
    d = _svc(NLB)
    d["kind"] = kind
    r = chk.check(m.parse_yaml(yaml.safe_dump(d), "t.yaml"))
    assert (r.findings, r.exit_code) == ([], 2)
    right = {"service": "Service", "node": "Node", "endpointslice": "EndpointSlice"}[kind.lower()]
    assert [(e.line, e.message) for e in r.errors] == [(1, (
        f"kind {kind!r} is not {right!r}: kinds are case-sensitive, kubectl refuses the object "
        f'(no matches for kind "{kind}")'))]  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "listed"),
    [("externalTrafficPolicy", "local", '"Cluster", "Local"'),
     ("externalTrafficPolicy", "Global", '"Cluster", "Local"'),
     ("internalTrafficPolicy", "local", '"Cluster", "Local"'),
     ("type", "loadbalancer", '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'),
     ("sessionAffinity", "clientip", '"ClientIP", "None"')],
)  # fmt: skip
def test_a_value_outside_a_service_fields_enum_is_the_api_servers_refusal(field: str, value: str, listed: str) -> None:
    # ValidateService (kubernetes pkg/apis/core/validation/validation.go) refuses it with field.NotSupported: the
    # Service never exists, so no verdict; `externalTrafficPolicy: local` was read as Cluster and judged
    r = chk.check(m.parse_yaml(yaml.safe_dump(_svc(NLB, **{field: value})), "t.yaml"))
    assert (r.findings, r.exit_code) == ([], 2)
    assert [(e.line, e.message) for e in r.errors] == [(1, (
        f'spec.{field}: Unsupported value: "{value}": supported values: {listed}: the API server refuses the '
        "Service"))]  # fmt: skip


@pytest.mark.parametrize(
    "spec",
    [{"externalTrafficPolicy": "Local"}, {"externalTrafficPolicy": ""}, {"internalTrafficPolicy": "Local"},
     {"sessionAffinity": "None"}, {"type": "LoadBalancer"}],
)  # fmt: skip
def test_the_enums_values_and_an_empty_one_are_taken(spec: dict[str, str]) -> None:
    r = chk.check(m.parse_yaml(yaml.safe_dump(_svc(NLB, **spec)), "t.yaml"))
    assert r.errors == [] and len(r.findings) == 1


def test_from_cluster_says_why_a_refused_service_is_not_there(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from hairpin.cli.main import main

    f = tmp_path / "svc.yaml"
    f.write_text(yaml.safe_dump(_svc(NLB, externalTrafficPolicy="local")))
    for name, err in (("shop/svc", f'{f}:1: spec.externalTrafficPolicy: Unsupported value: "local": supported values: '
                                   '"Cluster", "Local": the API server refuses the Service'),
                      ("shop/other", f"{f}: --service shop/other: no such Service in the input")):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            main(["scenario", "from-cluster", str(f), "--service", name, "-o", "-"])
        assert (exc.value.code, capsys.readouterr().err) == (2, f"hairpin: error: {err}\n")
