"""``hairpin check``: Services of any type the AWS Load Balancer Controller takes, its feature gates, and
verdicts per port (one target group per Service port)."""

from __future__ import annotations

import json
from fractions import Fraction as F
from typing import Any

import pytest
import yaml

from hairpin.cli.main import main
from hairpin.diagnose import check as chk
from hairpin.parsers import manifests as m

P = "service.beta.kubernetes.io/"
TYPE, TT, TGA = P + "aws-load-balancer-type", P + "aws-load-balancer-nlb-target-type", P + "aws-load-balancer-target-group-attributes"
A, B = "eu-west-1a", "eu-west-1b"


def svc(name: str, typ: str, ann: dict[str, str], ports: list[tuple[int, str]] | None = None,
        cls: str | None = None) -> dict[str, Any]:  # fmt: skip
    spec: dict[str, Any] = {"type": typ, "selector": {"app": "web"},
                            "ports": [{"name": f"p{i}", "port": n, "targetPort": 8000 + i, "protocol": proto}
                                      for i, (n, proto) in enumerate(ports or [(80, "TCP")])]}  # fmt: skip
    if typ in ("NodePort", "LoadBalancer"):
        for i, p in enumerate(spec["ports"]):
            p["nodePort"] = 30080 + i
    if cls:
        spec["loadBalancerClass"] = cls
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop", "annotations": ann},
            "spec": spec}  # fmt: skip


def lbc(gates: str | None) -> dict[str, Any]:
    args = ["--cluster-name=prod"] + ([f"--feature-gates={gates}"] if gates else [])
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "aws-load-balancer-controller", "namespace": "kube-system"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "controller", "image": "public.ecr.aws/eks/aws-load-balancer-controller:v2.14.1",
                 "args": args}]}}}}  # fmt: skip


def report(*docs: dict[str, Any]) -> chk.Report:
    return chk.check(m.parse_yaml("---\n".join(yaml.safe_dump(d) for d in docs), "t.yaml"))


def row(f: chk.Finding) -> tuple[Any, ...]:
    s = f.settings
    return (f.name, f.service_type, s.controller, s.load_balancer, s.scheme, s.target_type, f.at_risk)


EXT_INSTANCE = {TYPE: "external", TT: "instance"}


def test_nodeport_services_the_lbc_takes() -> None:
    r = report(
        svc("np-instance", "NodePort", EXT_INSTANCE),
        svc("np-nlb-ip", "NodePort", {TYPE: "nlb-ip"}),
        svc("np-plain", "NodePort", {}),
        svc("np-nlb", "NodePort", {TYPE: "nlb"}),  # the in-tree provider takes type LoadBalancer only
        svc("cip-ip", "ClusterIP", {TYPE: "external", TT: "ip", TGA: "preserve_client_ip.enabled=true"}),
        svc("cip-instance", "ClusterIP", EXT_INSTANCE),
        svc("ext-name", "ExternalName", {TYPE: "nlb-ip"}),
    )
    assert [row(f) for f in r.findings] == [
        ("cip-ip", "ClusterIP", "aws-load-balancer-controller", "nlb", "internal", "ip", True),
        ("np-instance", "NodePort", "aws-load-balancer-controller", "nlb", "internal", "instance", True),
        ("cip-instance", "ClusterIP", "none", "none", "unknown", None, False),
        ("ext-name", "ExternalName", "none", "none", "unknown", None, False),
        ("np-nlb-ip", "NodePort", "aws-load-balancer-controller", "nlb", "internal", "ip", False),
    ]
    np = r.findings[1]
    assert np.settings.steps[0] == (
        "type NodePort: the AWS Load Balancer Controller reconciles it (it takes any type unless its feature gate "
        "ServiceTypeLoadBalancerOnly is on; the in-tree provider takes only type LoadBalancer)"
    )
    assert [x.name for x in np.fixes] == ["no-preserve-client-ip", "proxy-protocol-v2", "ip-targets", "cluster-ip"]
    cip = r.findings[2]
    assert cip.settings.problems == ("instance targets need type NodePort or LoadBalancer, got ClusterIP",)
    assert r.findings[3].reason == "type ExternalName: no load balancer"
    assert r.exit_code == 1
    assert json.loads(json.dumps(r.to_json()))["services"][1]["type"] == "NodePort"


def test_load_balancer_class_on_a_nodeport_is_refused_by_the_api_server() -> None:
    # validateLoadBalancerClassField: the Service never exists, so no verdict (an empty class is a class too)
    for cls in ("service.k8s.aws/nlb", ""):
        d = svc("np-class", "NodePort", {})
        d["spec"]["loadBalancerClass"] = cls
        r = report(d)
        assert (r.findings, r.exit_code) == ([], 2)
        assert [(e.line, e.message) for e in r.errors] == [(1, (
            "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer': the API server "
            "refuses the Service"))]  # fmt: skip


def test_feature_gate_from_the_controllers_deployment() -> None:
    on = report(lbc("ServiceTypeLoadBalancerOnly=true,NLBSecurityGroup=false"), svc("np", "NodePort", EXT_INSTANCE),
                svc("lb", "LoadBalancer", EXT_INSTANCE))  # fmt: skip
    assert [row(f) for f in on.findings] == [
        ("lb", "LoadBalancer", "aws-load-balancer-controller", "nlb", "internal", "instance", True)
    ]
    for gates in ("ServiceTypeLoadBalancerOnly=false", None):
        off = report(lbc(gates), svc("np", "NodePort", EXT_INSTANCE))
        assert [row(f) for f in off.findings] == [
            ("np", "NodePort", "aws-load-balancer-controller", "nlb", "internal", "instance", True)
        ]


def test_lbc_flags_parsing() -> None:
    from hairpin.aws.controller import lbc_flags

    f = lbc_flags(["--cluster-name=x", "--feature-gates", "A=true,B=0", "--feature-gates=B=t,C=maybe"])
    assert f.feature_gates == (("A", True), ("B", True))
    assert f.gate("C", True) is True and f.gate("A", False) is True


# ------------------------------------------------------------------------------------------ per port

def test_tcp_and_udp_ports_ip_targets_no_nodes() -> None:
    (f,) = report(svc("dns", "LoadBalancer", {TYPE: "nlb-ip"}, [(80, "TCP"), (53, "UDP")])).findings
    assert f.at_risk and f.settings.preserve_client_ip is True
    assert [(p.label, p.preserve_client_ip, p.at_risk, p.probability) for p in f.ports] == [
        ("80/TCP", False, False, F(0)),
        ("53/UDP", True, True, None),
    ]
    assert f.ports[0].reason == (
        "client IP preservation off (the default for ip targets with TCP): targets see the NLB's address and answer it"
    )
    assert f.ports[1].reason == "client IP preservation always on for UDP target groups: at risk, P as given for the Service"
    # UDP: AWS cannot turn preservation off, so that fix is not offered
    assert "no-preserve-client-ip" not in [x.name for x in f.fixes]
    sarif = chk.Report([f], []).to_sarif()
    text = sarif["runs"][0]["results"][0]["message"]["text"]
    assert text.startswith(
        "Service shop/dns (port 53/UDP at risk; 80/TCP not: client IP preservation off (the default for ip targets "
        "with TCP): targets see the NLB's address and answer it): internal NLB, ip targets"
    )
    assert [p["at_risk"] for p in sarif["runs"][0]["results"][0]["properties"]["ports"]] == [False, True]


def node(name: str, az: str) -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": az}},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.31.2"}}}  # fmt: skip


def test_per_port_probability_with_nodes_instance_targets_preservation_off() -> None:
    """preserve_client_ip.enabled=false turns off the TCP target group only: the UDP one stays at risk."""
    ann = {**EXT_INSTANCE, TGA: "preserve_client_ip.enabled=false"}
    r = report(node("n1", A), node("n2", A), node("n3", B), svc("mixed", "NodePort", ann, [(80, "TCP"), (514, "UDP")]))
    (f,) = r.findings
    assert (f.at_risk, f.probability, f.worst_node) == (True, F(1, 2), "n3")
    assert [(p.label, p.preserve_client_ip, p.at_risk, p.probability) for p in f.ports] == [
        ("80/TCP", False, False, F(0)),
        ("514/UDP", True, True, F(1, 2)),
    ]
    assert f.ports[1].reason == "client IP preservation always on for UDP target groups: at risk, P = 1/2 (50.0%)"
    j = f.to_json()
    assert j["ports"][0] == {"port": 80, "protocol": "TCP", "preserve_client_ip": False, "at_risk": False,
                             "probability": 0.0, "reason": "client IP preservation off (" + TGA +
                             ": preserve_client_ip.enabled=false): targets see the NLB's address and answer it",
                             "fixes": [], "kube_proxy_rule": None}  # fmt: skip
    assert (j["ports"][1]["probability"], j["ports"][1]["fixes"]) == (0.5, ["cluster-ip"])
    # the ClusterIP fix names the port at risk, not the Service's first port
    assert f.fixes[0].summary.startswith("point in-cluster callers at mixed.shop.svc.cluster.local:514 ")


def test_same_port_number_tcp_and_udp_is_one_tcp_udp_target_group_for_the_lbc() -> None:
    # TCP_UDP listeners need this annotation or the feature gate EnableTCPUDPListener (tests/test_check_lbc_flags.py)
    ann = {TYPE: "external", TT: "ip", TGA: "preserve_client_ip.enabled=false", P + "aws-load-balancer-enable-tcp-udp-listener": "true"}
    (f,) = report(svc("dns", "LoadBalancer", ann, [(53, "TCP"), (53, "UDP"), (8053, "TCP")])).findings
    assert [(p.label, p.at_risk) for p in f.ports] == [("53/TCP_UDP", True), ("53/TCP_UDP", True), ("8053/TCP", False)]


def test_not_at_risk_service_ports_carry_the_service_reason() -> None:
    (f,) = report(svc("pub", "LoadBalancer", {**EXT_INSTANCE, P + "aws-load-balancer-scheme": "internet-facing"})).findings
    (p,) = f.ports
    assert not p.at_risk and p.probability is None
    assert p.reason.startswith("client IP preservation on (the default for instance targets); internet-facing NLB")


# ------------------------------------------------------------------------------------- from a JSON dump

def _slice(svc_name: str, eps: list[tuple[str, str]]) -> dict[str, Any]:
    return {"kind": "EndpointSlice", "metadata": {"name": svc_name + "-x", "namespace": "shop",
            "labels": {"kubernetes.io/service-name": svc_name}},
            "endpoints": [{"addresses": [ip], "nodeName": n, "conditions": {"ready": True}} for ip, n in eps]}  # fmt: skip


def test_dump_nodeport_udp_tcp_ip_targets_and_the_feature_gate(tmp_path: Any) -> None:
    """A `kubectl get -o json` dump: a NodePort Service with ip targets, TCP and UDP ports, 3 target pods
    (2 on n1, 1 on n3), cross-zone off: UDP's target group is at risk with the worst node's P, TCP's is not;
    with the controller's Deployment saying ServiceTypeLoadBalancerOnly=true the Service is not checked."""
    items = [node("n1", A), node("n2", A), node("n3", B),
             svc("syslog", "NodePort", {TYPE: "external", TT: "ip"}, [(514, "UDP"), (6514, "TCP")]),
             _slice("syslog", [("10.0.1.5", "n1"), ("10.0.1.6", "n1"), ("10.0.3.5", "n3")])]  # fmt: skip
    for it in items:
        it["metadata"]["uid"] = "u-" + it["metadata"]["name"]
    path = tmp_path / "dump.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=4))
    (f,) = chk.check(m.load_paths([path])).findings
    assert row(f) == ("syslog", "NodePort", "aws-load-balancer-controller", "nlb", "internal", "ip", True)
    # n1 runs 2 of the 2 targets in AZ a: P = (1/2)(2/2) + (1/2)(0) = 1/2 over the 2 AZ addresses
    assert (f.probability, f.worst_node) == (F(1, 2), "n1")
    assert [(p.label, p.at_risk, p.probability) for p in f.ports] == [("514/UDP", True, F(1, 2)), ("6514/TCP", False, F(0))]
    assert f.line is not None and f.marks == {}  # JSON: lines, no columns
    items.append(lbc("ServiceTypeLoadBalancerOnly=true"))
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=4))
    assert chk.check(m.load_paths([path])).findings == []


def test_text_names_the_port_at_risk(tmp_path: Any, capsys: Any) -> None:
    ann = {**EXT_INSTANCE, TGA: "preserve_client_ip.enabled=false"}
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(svc("mixed", "NodePort", ann, [(80, "TCP"), (514, "UDP")])))
    with pytest.raises(SystemExit) as exc:
        main(["check", str(path)])
    out = " ".join(capsys.readouterr().out.split())
    assert exc.value.code == 1
    assert ("per port (target group): - 80/TCP: ok: client IP preservation off (" + TGA +
            ": preserve_client_ip.enabled=false): targets see the NLB's address and answer it - 514/UDP: AT RISK: "
            "client IP preservation always on for UDP target groups: at risk, P as given for the Service") in out  # fmt: skip
