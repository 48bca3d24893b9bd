"""``hairpin check``: verdicts, probabilities, fixes, JSON/SARIF, exit codes, live cluster (hairpin.diagnose.check)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction as F
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
import yaml

from hairpin.cli.main import main
from hairpin.diagnose import check as chk
from hairpin.kube.gateway_live import GATEWAY_LISTS
from hairpin.parsers import manifests as m
from stub_api import serving

DATA = Path(__file__).parent / "data" / "check"
P = "service.beta.kubernetes.io/"
TYPE, TT, SCHEME, INTERNAL = (
    P + "aws-load-balancer-type",
    P + "aws-load-balancer-nlb-target-type",
    P + "aws-load-balancer-scheme",
    P + "aws-load-balancer-internal",
)
TGA, XZ = P + "aws-load-balancer-target-group-attributes", P + "aws-load-balancer-cross-zone-load-balancing-enabled"
A, B = "eu-west-1a", "eu-west-1b"


def service(name: str = "svc", ann: dict[str, str] | None = None, *, cls: str | None = None, proto: str = "TCP",
            etp: str | None = None, selector: dict[str, str] | None = None, existing: bool = False) -> dict[str, Any]:  # fmt: skip
    spec: dict[str, Any] = {"type": "LoadBalancer", "selector": selector or {"app": "web"},
                            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": proto}]}  # fmt: skip
    if cls:
        spec["loadBalancerClass"] = cls
    if etp:
        spec["externalTrafficPolicy"] = etp
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "annotations": ann or {}}
    if existing:
        meta["uid"] = "u-" + name
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def node(
    name: str, az: str, ip: str, labels: dict[str, str] | None = None, version: str = "v1.29.3-eks-ae9a62a"
) -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": az, **(labels or {})}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}], "nodeInfo": {"kubeletVersion": version}}}  # fmt: skip


def pod(name: str, node_name: str, ip: str, labels: dict[str, str] | None = None, ready: bool = True) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "shop", "labels": labels or {"app": "web"}},
            "spec": {"nodeName": node_name}, "status": {"phase": "Running", "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}  # fmt: skip


def run(*docs: dict[str, Any], webhook: bool | None = None) -> chk.Report:
    text = "---\n".join(yaml.safe_dump(d) for d in docs)
    return chk.check(m.parse_yaml(text, "t.yaml"), mutator_webhook=webhook)


def one(*docs: dict[str, Any], webhook: bool | None = None) -> chk.Finding:
    r = run(*docs, webhook=webhook)
    assert len(r.findings) == 1
    return r.findings[0]


# ------------------------------------------------------------------------------ verdicts without nodes

NO_NODES = [
    ({}, None, "TCP", False, ("in-tree", "clb", "internet-facing", None, None, False)),
    ({INTERNAL: "true"}, None, "TCP", False, ("in-tree", "clb", "internal", None, None, False)),
    ({TYPE: "nlb"}, None, "TCP", False, ("in-tree", "nlb", "internet-facing", "instance", True, False)),
    ({TYPE: "nlb", INTERNAL: "true"}, None, "TCP", False, ("in-tree", "nlb", "internal", "instance", True, True)),
    (
        {TYPE: "nlb", INTERNAL: "true", TGA: "preserve_client_ip.enabled=false"},
        None,
        "TCP",
        False,
        ("in-tree", "nlb", "internal", "instance", True, True),
    ),
    ({TYPE: "nlb-ip"}, None, "TCP", False, ("aws-load-balancer-controller", "nlb", "internal", "ip", False, False)),
    ({TYPE: "nlb-ip"}, None, "UDP", False, ("aws-load-balancer-controller", "nlb", "internal", "ip", True, True)),
    (
        {TYPE: "external", TT: "ip", TGA: "preserve_client_ip.enabled=true"},
        None,
        "TCP",
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "ip", True, True),
    ),
    (
        {TYPE: "external", TT: "instance"},
        None,
        "TCP",
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", True, True),
    ),
    (
        {TYPE: "external", TT: "instance", TGA: "preserve_client_ip.enabled=false"},
        None,
        "TCP",
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", False, False),
    ),
    (
        {TYPE: "external", TT: "instance", SCHEME: "internet-facing"},
        None,
        "TCP",
        False,
        ("aws-load-balancer-controller", "nlb", "internet-facing", "instance", True, False),
    ),
    (
        {TYPE: "external", TT: "instance", INTERNAL: "false"},
        None,
        "TCP",
        False,
        ("aws-load-balancer-controller", "nlb", "internet-facing", "instance", True, False),
    ),
    (
        {},
        "service.k8s.aws/nlb",
        "TCP",
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", True, True),
    ),
    ({}, None, "TCP", True, ("aws-load-balancer-controller", "nlb", "internal", "instance", True, True)),
    ({TYPE: "external"}, None, "TCP", False, ("none", "none", "unknown", None, None, False)),
    ({}, "example.com/lb", "TCP", False, ("other", "none", "unknown", None, None, False)),
]


@pytest.mark.parametrize(("ann", "cls", "proto", "webhook", "want"), NO_NODES)
def test_verdict_from_manifests(
    ann: dict[str, str], cls: str | None, proto: str, webhook: bool, want: tuple[Any, ...]
) -> None:
    f = one(service(ann=ann, cls=cls, proto=proto), webhook=webhook)
    got = f.to_json()
    assert (got["controller"], got["load_balancer"], got["scheme"], got["target_type"], got["preserve_client_ip"],
            got["at_risk"]) == want  # fmt: skip
    assert got["probability"] is None
    assert (got["fix"] is not None) == got["at_risk"]
    if f.at_risk:
        assert "P = " in f.reason
        assert ("1/n" in f.reason) != ("m/|T|" in f.reason)


def test_non_risky_reasons() -> None:
    assert one(service(ann={})).reason.startswith("Classic ELB: it proxies")
    assert one(service(ann={TYPE: "nlb"})).reason.startswith("internet-facing NLB")
    assert one(service(ann={TYPE: "nlb-ip"})).reason.startswith("internal NLB with client IP preservation off")


def test_only_loadbalancer_services_are_reported(tmp_path: Path) -> None:
    r = chk.check(m.load_paths([DATA / "manifests"]))
    assert [(f.name, f.at_risk, f.line) for f in r.findings] == [
        ("web-internal", True, 14),
        ("api", False, 1),
        ("web-public", False, 29),
    ]
    assert r.exit_code == 1


# ------------------------------------------------------------------------------ probabilities with nodes

NODES = [node("a1", A, "10.0.1.10"), node("a2", A, "10.0.1.11"), node("b1", B, "10.0.2.10"),
         node("b2", B, "10.0.2.11"), node("b3", B, "10.0.2.12")]  # fmt: skip


def test_seed_dump() -> None:
    r = chk.check(m.load_paths([DATA / "seed-dump.yaml"]))
    (f,) = r.findings
    assert (f.at_risk, f.probability, f.worst_node, f.file, f.line) == (
        True,
        F(1, 2),
        "node3",
        str(DATA / "seed-dump.yaml"),
        56,
    )
    assert "P = 1/2 (50.0%)" in f.reason and "per AZ eu-west-1a: 2, eu-west-1b: 1" in f.reason
    assert [x.name for x in f.fixes] == ["cluster-ip", "recreate-ip-targets"]  # in-tree 1.18: no TG attributes


def test_instance_targets_probability() -> None:
    internal = {TYPE: "external", TT: "instance"}
    f = one(service(ann=internal), *NODES)
    # worst caller: a node of AZ a: (1/2) averaged over 2 AZ addresses = 1/4
    assert (f.probability, f.worst_node) == (F(1, 4), "a1")
    f = one(service(ann={**internal, XZ: "true"}), *NODES)
    assert (f.probability, f.worst_node) == (F(1, 5), "a1")
    labelled = [node("a1", A, "10.0.1.10", {"edge": "y"}), *NODES[1:3], node("b2", B, "10.0.2.11", {"edge": "y"})]
    f = one(service(ann={**internal, P + "aws-load-balancer-target-node-labels": "edge=y"}), *labelled)
    assert f.probability == F(1, 2)
    excluded = [node("a1", A, "10.0.1.10", {"node.kubernetes.io/exclude-from-external-load-balancers": ""}), *NODES[1:]]
    f = one(service(ann=internal), *excluded)
    assert (f.probability, f.worst_node) == (F(1, 2), "a2")


def test_external_traffic_policy_local_counts_healthy_nodes() -> None:
    internal = {TYPE: "external", TT: "instance"}
    pods = [pod("w1", "a1", "10.0.1.50"), pod("w2", "b1", "10.0.2.50"), pod("w3", "b2", "10.0.2.51", ready=False)]
    f = one(service(ann=internal, etp="Local"), *NODES, *pods)
    # healthy: a1 (AZ a), b1 (AZ b): a caller on a1 or b1 gets 1/1 from its AZ's node, averaged over 2: 1/2
    assert (f.probability, f.worst_node) == (F(1, 2), "a1")
    assert "1 node(s)" not in f.reason and "2 node(s) with a ready endpoint" in f.reason


def test_ip_targets_with_preservation() -> None:
    ann = {TYPE: "external", TT: "ip", TGA: "preserve_client_ip.enabled=true"}
    pods = [pod("w1", "a1", "10.0.1.50"), pod("w2", "a1", "10.0.1.51"), pod("w3", "b1", "10.0.2.50"),
            pod("other", "a2", "10.0.1.60", {"app": "db"})]  # fmt: skip
    f = one(service(ann=ann), *NODES, *pods)
    assert (f.probability, f.worst_node) == (F(1, 2), "a1")  # 2/2 from AZ a's node, 0 from b's
    f = one(service(ann={**ann, XZ: "true"}), *NODES, *pods)
    assert (f.probability, f.worst_node) == (F(2, 3), "a1")
    assert f.fixes[0].command("shop", "svc") == (
        f"kubectl annotate service -n shop svc '{TGA}=preserve_client_ip.enabled=false' --overwrite"
    )


def test_endpoint_slices_win_over_selector() -> None:
    ann = {TYPE: "external", TT: "ip", TGA: "preserve_client_ip.enabled=true"}
    pods = [pod("w1", "a1", "10.0.1.50"), pod("w2", "b1", "10.0.2.50")]
    sl = {"kind": "EndpointSlice", "metadata": {"name": "s1", "namespace": "shop", "labels": {"kubernetes.io/service-name": "svc"}},
          "endpoints": [{"addresses": ["10.0.1.50"], "nodeName": "a1", "conditions": {"ready": True}},
                        {"addresses": ["10.0.2.50"], "nodeName": "b1", "conditions": {"ready": False}}]}  # fmt: skip
    f = one(service(ann=ann), *NODES, *pods, sl)
    # only w1 is ready: AZ b has no healthy target, its address leaves DNS, and AZ a's node sends all to a1
    assert f.probability == F(1, 1)


def test_no_registered_node_is_not_at_risk() -> None:
    f = one(service(ann={TYPE: "external", TT: "instance", P + "aws-load-balancer-target-node-labels": "x=y"}), *NODES)
    assert (f.at_risk, f.probability, f.fix) == (False, F(0), None)


# ------------------------------------------------------------------------------ fixes


def test_fixes_ordered_and_only_those_that_work() -> None:
    f = one(service(ann={TYPE: "external", TT: "instance", TGA: "proxy_protocol_v2.enabled=true"}))
    assert [x.name for x in f.fixes] == ["no-preserve-client-ip", "ip-targets", "cluster-ip"]
    assert f.fixes[0].yaml() == (
        f'metadata:\n  annotations:\n    {TGA}: "proxy_protocol_v2.enabled=true,preserve_client_ip.enabled=false"'
    )
    assert f.fix == (f"kubectl annotate service -n shop svc "
                     f"'{TGA}=proxy_protocol_v2.enabled=true,preserve_client_ip.enabled=false' --overwrite")  # fmt: skip
    assert f.fixes[1].command("shop", "svc") == f"kubectl annotate service -n shop svc '{TT}=ip' --overwrite"
    assert "svc.shop.svc.cluster.local:80" in f.fixes[2].summary
    # UDP: preservation cannot be turned off: the ClusterIP, or keeping target pods off the callers' nodes
    f = one(service(ann={TYPE: "nlb-ip"}, proto="UDP"))
    assert [x.name for x in f.fixes] == ["cluster-ip", "anti-affinity"]
    assert f.fixes[1].yaml() is None and "podAntiAffinity" in f.fixes[1].summary
    # in-tree on 1.35+ (every cloud-provider-aws 1.35 release honours the annotation): it works in place
    f = one(service(ann={TYPE: "nlb", INTERNAL: "true"}), node("n", A, "10.0.1.1", version="v1.35.1"))
    assert [x.name for x in f.fixes] == ["no-preserve-client-ip", "cluster-ip", "recreate-ip-targets"]
    assert "kubectl delete service -n shop svc" in f.fixes[2].command("shop", "svc")


def test_proxy_protocol_v2_fix_proposed_after_preservation_off() -> None:
    f = one(service(ann={TYPE: "external", TT: "instance"}))
    assert [x.name for x in f.fixes] == ["no-preserve-client-ip", "proxy-protocol-v2", "ip-targets", "cluster-ip"]
    pp = f.fixes[1]
    assert pp.annotations == ((TGA, "preserve_client_ip.enabled=false"),
                              ("service.beta.kubernetes.io/aws-load-balancer-proxy-protocol", "*"))  # fmt: skip
    assert pp.command("shop", "svc") == (
        f"kubectl annotate service -n shop svc '{TGA}=preserve_client_ip.enabled=false' "
        "'service.beta.kubernetes.io/aws-load-balancer-proxy-protocol=*' --overwrite"
    )
    assert "parse PPv2" in pp.cost and "health check" in pp.cost
    # ip targets with preservation forced on: anti-affinity is offered too, last among the in-place ones
    f = one(service(ann={TYPE: "external", TT: "ip", TGA: "preserve_client_ip.enabled=true"}))
    assert [x.name for x in f.fixes] == ["no-preserve-client-ip", "proxy-protocol-v2", "cluster-ip", "anti-affinity"]


# ------------------------------------------------------------------------------ webhook


def test_webhook_in_input_applies_to_manifests_only() -> None:
    wh = {"kind": "MutatingWebhookConfiguration", "metadata": {"name": "aws-load-balancer-webhook"},
          "webhooks": [{"name": "mservice.elbv2.k8s.aws"}]}  # fmt: skip
    r = run(service("new"), service("old", existing=True), wh)
    got = {f.name: f.settings.controller for f in r.findings}
    assert got == {"new": "aws-load-balancer-controller", "old": "in-tree"}


# ------------------------------------------------------------------------------ JSON and SARIF

#: hairpin.diagnose.proxy_firewall.ProxyDrop.to_json
KUBE_PROXY_DROP = {
    "type": "object", "additionalProperties": False,
    "required": ["reason", "certain", "mode", "addresses", "source_ranges", "rules", "callers", "admit", "families"],
    "properties": {
        "reason": {"type": "string"}, "certain": {"type": "boolean"}, "mode": {"enum": ["iptables", "nftables", "ipvs"]},
        "addresses": {"type": "array", "items": {"type": "string"}},
        "source_ranges": {"type": "array", "items": {"type": "string"}},
        "rules": {"type": "array", "items": {"type": "object", "additionalProperties": False, "required": ["port", "rule"],
                                             "properties": {"port": {"type": "string"}, "rule": {"type": "string"}}}},
        "callers": {"type": "array", "items": {"type": "string"}},
        "admit": {"type": "array", "items": {"type": "string"}},
        "families": {"type": "array", "minItems": 1, "items": {"enum": ["IPv4", "IPv6"]}},
    },
}  # fmt: skip

OPENSHIFT_NS = "openshift-cloud-controller-manager"  # its cloud config ConfigMap, cloud-conf (hairpin.aws.cloud_config)

CONTRACT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["services", "errors"],
    "properties": {
        "services": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["namespace", "name", "file", "line", "at_risk", "controller", "load_balancer", "scheme",
                         "target_type", "preserve_client_ip", "reason", "probability", "fix", "security_group_drop",
                         "security_group_drop_families", "kube_proxy_drop", "warnings", "ip_families", "ip_family_policy", "ip_address_type",
                         "target_group_ip_address_type"],
            "properties": {
                "namespace": {"type": "string"}, "name": {"type": "string"}, "file": {"type": ["string", "null"]},
                "line": {"type": ["integer", "null"]}, "at_risk": {"type": "boolean"}, "controller": {"type": "string"},
                "load_balancer": {"type": "string"}, "scheme": {"type": "string"},
                "target_type": {"type": ["string", "null"]}, "preserve_client_ip": {"type": ["boolean", "null"]},
                "reason": {"type": "string"}, "probability": {"type": ["number", "null"]}, "fix": {"type": ["string", "null"]},
                "type": {"type": "string"},
                "ports": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["port", "protocol", "preserve_client_ip", "at_risk", "probability", "reason", "fixes",
                                 "kube_proxy_rule"],
                    "properties": {"port": {"type": ["integer", "null"]}, "protocol": {"type": "string"},
                                   "preserve_client_ip": {"type": ["boolean", "null"]}, "at_risk": {"type": "boolean"},
                                   "probability": {"type": ["number", "null"]}, "reason": {"type": "string"},
                                   "fixes": {"type": "array", "items": {"type": "string"}},
                                   "kube_proxy_rule": {"type": ["string", "null"]}}}},
                "ignored_annotations": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["annotation", "value", "controller", "why"],
                    "properties": {k: {"type": "string"} for k in ("annotation", "value", "controller", "why")}}},
                "security_group_drop": {"type": ["string", "null"]},
                "security_group_drop_families": {"type": "array", "items": {"enum": ["IPv4", "IPv6"]}},
                "kube_proxy_drop": {"oneOf": [{"type": "null"}, KUBE_PROXY_DROP]},
                "problems": {"type": "array", "items": {"type": "string"}},
                "warnings": {"type": "array", "items": {"type": "string"}},
                "ip_families": {"type": "array", "items": {"enum": ["IPv4", "IPv6"]}},
                "ip_family_policy": {"enum": [None, "SingleStack", "PreferDualStack", "RequireDualStack"]},
                "ip_address_type": {"enum": [None, "ipv4", "dualstack"]},
                "target_group_ip_address_type": {"enum": [None, "ipv4", "ipv6"]},
                "nlb_security_group_mode": {"enum": [None, "Managed", "unset", "invalid", "unknown"]},
                "nlb_security_group_mode_from": {"type": ["string", "null"]},
            }}},
        "errors": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["file", "line", "message"],
            "properties": {"file": {"type": "string"}, "line": {"type": ["integer", "null"]}, "message": {"type": "string"}}}},
        "cloud_config": {
            "type": "object", "additionalProperties": False,
            "required": ["nlb_security_group_mode", "value", "source", "note"],
            "properties": {"nlb_security_group_mode": {"enum": ["Managed", "unset", "invalid", "unknown"]},
                           "value": {"type": ["string", "null"]}, "source": {"type": ["string", "null"]},
                           "note": {"type": "string"}}},
        "datapath": {"oneOf": [{"type": "null"}, {
            "type": "object", "additionalProperties": False, "required": ["kind", "modelled", "seen", "message"],
            "properties": {"kind": {"enum": ["cilium-kube-proxy-replacement", "calico-ebpf", "no-kube-proxy",
                                             "ebpf-beside-kube-proxy"]},
                           "modelled": {"type": "boolean"}, "seen": {"type": "array", "items": {"type": "string"}},
                           "message": {"type": "string"}}}]},
        "cni_warnings": {"type": "array", "items": {"type": "string"}},
        "version_warnings": {"type": "array", "items": {"type": "string"}},
        "lbc_warnings": {"type": "array", "items": {"type": "string"}},
        "lbc_problems": {"type": "array", "items": {"type": "string"}},
        "ip_family_warnings": {"type": "array", "items": {"type": "string"}},
    },
}  # fmt: skip


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_cli_json_contract_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(["check", str(DATA / "manifests"), "--format", "json"], capsys)
    doc = json.loads(out)
    jsonschema.validate(doc, CONTRACT)
    assert code == 1 and err == ""
    assert [s["name"] for s in doc["services"] if s["at_risk"]] == ["web-internal"]
    code, out, _ = _main(["check", str(DATA / "manifests" / "clean.yaml"), "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["errors"] == []


def test_cli_bad_file_is_one_line_and_others_still_checked(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(["check", str(DATA / "broken.yaml"), str(DATA / "manifests"), "--format", "json"], capsys)
    assert code == 2
    assert err.splitlines() == [
        f"hairpin: error: {DATA / 'broken.yaml'}:5: not valid YAML: did not find expected ',' or ']'"
    ]
    doc = json.loads(out)
    jsonschema.validate(doc, CONTRACT)
    assert doc["errors"] == [
        {"file": str(DATA / "broken.yaml"), "line": 5, "message": "not valid YAML: did not find expected ',' or ']'"}
    ]
    assert len(doc["services"]) == 3
    code, _, err = _main(["check", str(DATA / "nope.yaml")], capsys)
    assert code == 2 and "nope.yaml: no such file or directory" in err
    code, _, err = _main(["check", "--format", "xml", str(DATA)], capsys)
    assert code == 2 and err.startswith("hairpin: error: --format must be one of text, json, sarif")


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _main(["check", str(DATA / "seed-dump.yaml")], capsys)
    assert code == 1
    assert "AT RISK" in out and "1/2 (50.0%)" in out and "fixes, cheapest first" in out


def test_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "hairpin.sarif"
    code, out, _ = _main(
        ["check", str(DATA / "manifests"), str(DATA / "broken.yaml"), "--format", "sarif", "-o", str(out_file)], capsys
    )
    assert code == 2 and out == ""
    doc = json.loads(out_file.read_text())
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = doc["runs"]
    assert run_["tool"]["driver"]["name"] == "hairpin"
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == ["HP001", "HP002", "HP003", "HP004", "HP005"]
    assert [r["defaultConfiguration"]["level"] for r in run_["tool"]["driver"]["rules"]] == [
        "warning", "note", "error", "error", "warning"]  # fmt: skip
    (res,) = run_["results"]
    assert res["ruleId"] == "HP001" and res["level"] == "warning"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == str(DATA / "manifests" / "app.yaml")
    assert loc["region"] == {"startLine": 22, "startColumn": 5}  # aws-load-balancer-scheme: internal
    (rel,) = res["relatedLocations"]
    assert rel["physicalLocation"]["region"] == {"startLine": 14} and rel["message"]["text"] == "Service shop/web-internal"
    assert "shop/web-internal" in res["message"]["text"]
    (note,) = run_["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "error" and note["locations"][0]["physicalLocation"]["region"] == {"startLine": 5}
    assert run_["invocations"][0]["executionSuccessful"] is False


def test_sarif_relative_uri() -> None:
    r = chk.check(
        m.parse_yaml(
            yaml.safe_dump(service(ann={TYPE: "nlb-ip", TGA: "preserve_client_ip.enabled=true"})), "./k8s/svc.yaml"
        )
    )
    res = r.to_sarif()["runs"][0]["results"][0]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "k8s/svc.yaml"


# ------------------------------------------------------------------------------ live cluster (local API stub)

SEED = yaml.safe_load((DATA / "seed-dump.yaml").read_text())["items"]


LBC_DEPLOYMENT: dict[str, Any] = {
    "metadata": {"name": "aws-load-balancer-controller", "namespace": "kube-system"},
    "spec": {"template": {"spec": {"containers": [{
        "name": "aws-load-balancer-controller",
        "image": "public.ecr.aws/eks/aws-load-balancer-controller:v2.14.1",
        "args": ["--cluster-name=prod", "--ingress-class=alb", "--feature-gates=ServiceTypeLoadBalancerOnly=false"],
    }]}}},
}  # fmt: skip

#: What the ClusterRole in docs/check.md grants, as (verb, API path): list of six kinds, get of four ConfigMaps and of
#: the VPC CNI's DaemonSet.
AWS_NODE_DS = "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node"
ROLE = {
    ("list", "/api/v1/nodes"), ("list", "/api/v1/pods"), ("list", "/api/v1/services"),
    ("list", "/apis/discovery.k8s.io/v1/endpointslices"),
    ("list", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"),
    ("list", "/apis/apps/v1/deployments"),
    ("get", "/api/v1/namespaces/kube-system/configmaps/kube-proxy-config"),
    ("get", "/api/v1/namespaces/kube-system/configmaps/kube-proxy"),
    ("get", "/api/v1/namespaces/kube-system/configmaps/cilium-config"),
    ("get", "/api/v1/namespaces/openshift-cloud-controller-manager/configmaps/cloud-conf"),
    ("get", AWS_NODE_DS),
    ("get", "/version"),
    *(("list", f"/apis/{group}/{version}/{plural}") for _, group, versions, plural in GATEWAY_LISTS
      for version in versions),
}  # fmt: skip


class _Api(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, list[dict[str, Any]]]] = {}  # list calls
    objects: ClassVar[dict[str, dict[str, Any]]] = {}  # get calls
    seen: ClassVar[list[str]] = []
    rbac: ClassVar[bool] = False  # answer 403 to anything outside ROLE, as the API server would
    fail: ClassVar[dict[str, int]] = {}  # path -> the status it is answered with (403, 500...)

    def _status(self, code: int, reason: str) -> None:
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code})
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def do_GET(self) -> None:
        self.seen.append(self.path)
        path, _, query = self.path.partition("?")
        key = path.rstrip("/") if path.rstrip("/") in self.objects else path  # the client asks for /version/
        verb = "watch" if "watch=" in query else "get" if key in self.objects else "list"
        if self.rbac and (verb, key) not in ROLE:
            self._status(403, "Forbidden")
            return
        if key in self.fail:
            self._status(self.fail[key], "Failed")
            return
        if key in self.objects:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(self.objects[key]).encode())
            return
        items = self.routes.get(path)
        if items is None:
            self._status(404, "NotFound")
            return
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        start = int(params.get("continue", "0") or 0)
        page = items[start : start + 2]  # pages of 2: exercises the continue token
        nxt = str(start + 2) if start + 2 < len(items) else None
        body = json.dumps(
            {"kind": "List", "apiVersion": "v1", "metadata": {"continue": nxt} if nxt else {}, "items": page}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Path]:
    def kind(k: str) -> list[dict[str, Any]]:
        return [i for i in SEED if i["kind"] == k]

    _Api.routes = {
        "/api/v1/nodes": kind("Node"),
        "/api/v1/pods": kind("Pod"),
        "/api/v1/services": kind("Service"),
        "/apis/discovery.k8s.io/v1/endpointslices": kind("EndpointSlice"),
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations": [
            {"metadata": {"name": "aws-load-balancer-webhook"}, "webhooks": [{"name": "mservice.elbv2.k8s.aws"}]}
        ],
        "/apis/apps/v1/deployments": [LBC_DEPLOYMENT],
        "/api/v1/namespaces/kube-system/configmaps": [  # listing them is never needed (and RBAC forbids it)
            {"metadata": {"name": "aws-auth", "namespace": "kube-system"}, "data": {"mapRoles": "- rolearn: x"}},
        ],
    }
    _Api.objects = {  # the API server's version; EKS's kube-proxy add-on config, read by name
        "/version": {"major": "1", "minor": "18", "gitVersion": "v1.18.20-eks-1e5d8a"},
        "/api/v1/namespaces/kube-system/configmaps/kube-proxy-config": {
            "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "kube-proxy-config", "namespace": "kube-system"},
            "data": {"config": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: \"ipvs\"\n"},
        },
    }  # fmt: skip
    _Api.seen = []
    _Api.rbac = False
    _Api.fail = {}
    with serving(_Api, tmp_path) as path:
        yield path


def test_live_cluster(api: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(["check", "--kubeconfig", str(api), "--context", "stub", "--format", "json"], capsys)
    assert code == 1, err
    (svc,) = json.loads(out)["services"]
    assert (svc["name"], svc["file"], svc["line"], svc["probability"], svc["controller"]) == (
        "service-nginx-demo",
        None,
        None,
        0.5,
        "in-tree",
    )  # existing Service: the webhook does not rewrite it
    assert any("continue=2" in p for p in _Api.seen), "paged list calls"
    assert {p.split("?")[0].rstrip("/") for p in _Api.seen} <= {p for _, p in ROLE}


def test_live_cluster_scenario_takes_kube_proxys_mode(api: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "live.yaml"
    code, _, err = _main(["scenario", "from-cluster", "--kubeconfig", str(api), "--context", "stub",
                          "--service", "nginx-demo/service-nginx-demo", "--client-pod", "default/netshoot",
                          "-o", str(out_file)], capsys)  # fmt: skip
    assert code == 0, err
    from hairpin import scenario as sc

    s = sc.load(out_file)
    assert (s.kube_proxy.mode, s.kube_proxy.version) == ("ipvs", "1.18")
    assert "# - kube-proxy ConfigMap kube-system/kube-proxy-config (config): mode ipvs" in out_file.read_text()


def test_live_cluster_without_configmap_access(api: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _Api.objects.clear()  # the stub answers 404, as RBAC-less reads may
    code, out, err = _main(["check", "--kubeconfig", str(api), "--context", "stub", "--format", "json"], capsys)
    assert code == 1, err
    assert json.loads(out)["services"][0]["probability"] == 0.5


def test_live_cluster_needs_only_the_documented_role(api: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The API stub answers 403 to anything outside the ClusterRole docs/check.md gives: check and
    from-cluster still work, ConfigMaps are read by name (kube-system's are never listed)."""
    _Api.rbac = True
    code, out, err = _main(["check", "--kubeconfig", str(api), "--context", "stub", "--format", "json"], capsys)
    assert (code, err) == (1, "")
    assert json.loads(out)["services"][0]["probability"] == 0.5
    out_file = tmp_path / "live.yaml"
    code, _, err = _main(["scenario", "from-cluster", "--kubeconfig", str(api), "--service",
                          "nginx-demo/service-nginx-demo", "--client-pod", "default/netshoot", "-o", str(out_file)], capsys)  # fmt: skip
    assert code == 0, err
    assert "mode ipvs" in out_file.read_text()
    paths = {p.split("?")[0].rstrip("/") for p in _Api.seen}
    assert paths == {p for _, p in ROLE}  # every permission used (the missing kube-proxy ConfigMap: 404 allowed)
    assert "/api/v1/namespaces/kube-system/configmaps" not in paths


def test_documented_cluster_role_matches_the_stub() -> None:
    """docs/check.md's ClusterRole grants exactly ROLE."""
    text = (Path(__file__).parent.parent / "docs" / "check.md").read_text()
    block = text.split("```yaml\n# hairpin-reader\n", 1)[1].split("```", 1)[0]
    role = yaml.safe_load(block)
    assert role["kind"] == "ClusterRole"
    granted = set()
    paths = {("", "nodes"): "/api/v1/nodes", ("", "pods"): "/api/v1/pods", ("", "services"): "/api/v1/services",
             ("discovery.k8s.io", "endpointslices"): "/apis/discovery.k8s.io/v1/endpointslices",
             ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"):
                 "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
             ("apps", "deployments"): "/apis/apps/v1/deployments"}  # fmt: skip
    for _, group, versions, plural in GATEWAY_LISTS:  # every served version the client may try
        paths[(group, plural)] = tuple(f"/apis/{group}/{v}/{plural}" for v in versions)  # type: ignore[assignment]
    for rule in role["rules"]:
        if "nonResourceURLs" in rule:
            granted |= {(verb, url) for url in rule["nonResourceURLs"] for verb in rule["verbs"]}
            continue
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                for verb in rule["verbs"]:
                    if res == "configmaps":
                        granted |= {(verb, f"/api/v1/namespaces/{OPENSHIFT_NS if n == 'cloud-conf' else 'kube-system'}"
                                           f"/configmaps/{n}") for n in rule["resourceNames"]}
                    elif res == "daemonsets":  # by name only: a rule without resourceNames would grant them all
                        granted |= {(verb, f"/apis/{group}/v1/namespaces/kube-system/daemonsets/{n}")
                                    for n in rule["resourceNames"]}  # fmt: skip
                    else:
                        found = paths[(group, res)]
                        granted |= {(verb, p) for p in ((found,) if isinstance(found, str) else found)}
    assert granted == ROLE


def test_live_cluster_plus_manifest_gets_webhook(api: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "new.yaml"
    f.write_text(yaml.safe_dump(service("fresh")))
    code, out, _ = _main(["check", str(f), "--kubeconfig", str(api), "--format", "json"], capsys)
    got = {s["name"]: (s["controller"], s["probability"]) for s in json.loads(out)["services"]}
    # fresh: LBC instance targets (webhook), nodes 2+1 in AZs a, b: worst node3: 1/2
    assert code == 1
    assert got == {"fresh": ("aws-load-balancer-controller", 0.5), "service-nginx-demo": ("in-tree", 0.5)}


def test_live_cluster_unreachable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _main(["check", "--kubeconfig", str(tmp_path / "missing")], capsys)
    assert code == 2 and err.startswith("hairpin: error: ") and "kubeconfig" in err and len(err.splitlines()) == 1


def test_live_cluster_nodeport_and_the_controllers_feature_gate(api: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The controller's Deployment (listed by its Helm label) decides whether NodePort Services are checked."""
    np = service("np", {TYPE: "external", TT: "instance"}, existing=True)
    np["spec"]["type"] = "NodePort"
    _Api.routes["/api/v1/services"] = [*_Api.routes["/api/v1/services"], np]
    args = ["check", "--kubeconfig", str(api), "--context", "stub", "--format", "json"]
    code, out, _ = _main(args, capsys)
    assert code == 1
    assert [(s["name"], s["type"], s["at_risk"]) for s in json.loads(out)["services"]] == [
        ("service-nginx-demo", "LoadBalancer", True), ("np", "NodePort", True)]  # fmt: skip
    assert "/apis/apps/v1/deployments?labelSelector=app.kubernetes.io/name%3Daws-load-balancer-controller&limit=500" in _Api.seen
    gated = json.loads(json.dumps(LBC_DEPLOYMENT))
    gated["spec"]["template"]["spec"]["containers"][0]["args"][2] = "--feature-gates=ServiceTypeLoadBalancerOnly=true"
    _Api.routes["/apis/apps/v1/deployments"] = [gated]
    code, out, _ = _main(args, capsys)
    assert [s["name"] for s in json.loads(out)["services"]] == ["service-nginx-demo"]


def test_live_cluster_controller_flags(api: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The controller's Deployment in a live cluster: --load-balancer-class and --default-target-type decide
    which Services it provisions and with which targets (seed nodes 2+1 in AZs a, b: worst node3, P = 1/2)."""
    corp = "corp.example/nlb"
    dep = json.loads(json.dumps(LBC_DEPLOYMENT))
    dep["spec"]["template"]["spec"]["containers"][0]["args"] += [f"--load-balancer-class={corp}", "--default-target-type",
                                                                 "instance", "--feature-gates=EnableIPTargetType=false"]  # fmt: skip
    _Api.routes["/apis/apps/v1/deployments"] = [dep]
    _Api.routes["/api/v1/services"] = [
        *_Api.routes["/api/v1/services"], service("corp", cls=corp, existing=True),
        service("old-class", cls="service.k8s.aws/nlb", existing=True),
        service("corp-ip", {TT: "ip"}, cls=corp, existing=True)]  # fmt: skip
    code, out, _ = _main(["check", "--kubeconfig", str(api), "--context", "stub", "--format", "json"], capsys)
    assert code == 1
    got = [(s["name"], s["controller"], s["target_type"], s["at_risk"], s["probability"]) for s in json.loads(out)["services"]]
    assert got == [
        ("service-nginx-demo", "in-tree", "instance", True, 0.5),
        ("corp", "aws-load-balancer-controller", "instance", True, 0.5),
        ("corp-ip", "none", None, False, None),
        ("old-class", "other", None, False, None),
    ]


@pytest.mark.parametrize("columns", ["80", "40"])
def test_a_fixs_yaml_and_command_are_whole_lines_at_any_width(tmp_path: Path, columns: str) -> None:
    """What the user pastes (the fix's YAML, its kubectl command) is never wrapped or cut, on stdout or in -o F:
    a terminal too narrow wraps it on screen and copies it whole."""
    import os
    import subprocess
    import sys

    manifests = Path(__file__).parent / "data" / "check" / "manifests"
    env = {**os.environ, "COLUMNS": columns, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    out = tmp_path / "report.txt"
    for args in ([], ["-o", str(out)]):
        p = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "check", str(manifests), *args],
                           capture_output=True, text=True, env=env, check=False)  # fmt: skip
        assert p.returncode == 1, p.stderr
        lines = (out.read_text() if args else p.stdout).splitlines()
        assert (f"           {TGA}: \"preserve_client_ip.enabled=false\"") in lines
        assert (f"       kubectl annotate service -n shop web-internal '{TGA}=preserve_client_ip.enabled=false' "
                "--overwrite") in lines  # fmt: skip
        assert (f"       kubectl annotate service -n shop web-internal '{TGA}=preserve_client_ip.enabled=false' "
                "'service.beta.kubernetes.io/aws-load-balancer-proxy-protocol=*' --overwrite") in lines  # fmt: skip
        prose = [ln for ln in lines if ln.startswith("       cost: ")]
        assert prose and all(len(ln.rstrip()) <= int(columns) for ln in prose)  # prose still wraps at the width
