"""TargetGroupBindings (hairpin.diagnose.tgb): a target group made outside the cluster is undecided, with a warning.

Until 2026-12-02 a TargetGroupBinding was dropped without a word: a NodePort Service behind an internal NLB made by
Terraform (instance targets, client IP kept: the seed's failure) gave "nothing to fix", exit 0."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from hairpin.diagnose import check as chk
from hairpin.parsers import manifests as m
from test_check import CONTRACT, _main

TGB = Path(__file__).parent / "data" / "check" / "tgb" / "terraform-nlb.yaml"
ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/legacy/73e2d6bc24d8a067"
HOW = (
    "read its load balancer and attribute with `aws elbv2 describe-target-groups` (LoadBalancerArns, then "
    "describe-load-balancers: Scheme, Type) and `aws elbv2 describe-target-group-attributes` (preserve_client_ip.enabled)"
)
WARNING = (
    f"target group {ARN} (TargetGroupBinding shop/legacy-tgb spec.targetGroupARN), where the AWS Load Balancer "
    "Controller registers the nodes at Service shop/legacy's NodePort 30080, is made outside Kubernetes and hairpin "
    "cannot see it: if it belongs to an internal NLB and keeps the client IP (AWS's default for instance targets over "
    "TCP), a caller on a registered node is sent back to its own node with P = 1/n for n registered nodes and times "
    f"out, as behind a Service's internal NLB; {HOW}"
)


def test_user_binding_is_undecided_and_the_controllers_own_is_skipped() -> None:
    (f,) = chk.check(m.load_paths([str(TGB)], [])).findings
    assert (f.namespace, f.name, f.service_type, f.at_risk, f.line) == (
        "shop", "TargetGroupBinding/legacy-tgb/legacy:80", "TargetGroupBinding", False, 16)  # fmt: skip
    s = f.settings
    assert (s.controller, s.load_balancer, s.scheme, s.target_type, s.preserve_client_ip) == (
        "aws-load-balancer-controller", "unknown", "unknown", "instance", None)  # fmt: skip
    assert f.warnings == [WARNING]
    assert f.reason == (
        "undecided: the target group's load balancer (NLB or ALB, internal or internet-facing) and its "
        "preserve_client_ip.enabled attribute are made outside Kubernetes and are in no object hairpin reads"
    )


def test_cli_text_json_sarif(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _main(["check", str(TGB), "--format", "json"], capsys)
    doc = json.loads(out)
    jsonschema.validate(doc, CONTRACT)
    (svc,) = doc["services"]
    assert (code, svc["load_balancer"], svc["type"], svc["warnings"]) == (0, "unknown", "TargetGroupBinding", [WARNING])
    code, out, _ = _main(["check", str(TGB)], capsys)
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == (
        "hairpin check: 1 of 1 Service(s) with a load balancer undecided (a TargetGroupBinding's target group, whose "
        "load balancer is in no Kubernetes object: below); none of the others can send an in-cluster caller back to "
        "its own node"
    )
    assert lines[-1] == (
        "Next: read the load balancer and preserve_client_ip.enabled of shop/TargetGroupBinding/legacy-tgb/legacy:80's "
        "target group from AWS (the warning above says how): hairpin cannot see them"
    )
    assert "│ shop/TargetGroupBinding/legacy-tgb/legacy:80 (TargetGroupBinding) │ undecided  │" in lines
    assert "│ aws-load-balancer-controller: unknown instance                    │            │" in lines
    code, out, _ = _main(["check", str(TGB), "--format", "sarif"], capsys)
    (res,) = json.loads(out)["runs"][0]["results"]
    assert (code, res["ruleId"], res["level"]) == (0, "HP005", "warning")
    assert res["locations"][0]["physicalLocation"]["region"] == {"startLine": 16}


def test_ip_and_unset_target_types() -> None:
    text = (
        "apiVersion: elbv2.k8s.aws/v1beta1\nkind: TargetGroupBinding\nmetadata: {name: b, namespace: shop}\n"
        "spec: {serviceRef: {name: api, port: http}, targetGroupName: api-tg}\n"
    )
    (f,) = chk.check(m.parse_yaml(text, "b.yaml")).findings
    assert (f.name, f.settings.target_type) == ("TargetGroupBinding/b/api:http", None)
    assert f.warnings == [
        "target group api-tg (TargetGroupBinding shop/b spec.targetGroupName), where the AWS Load Balancer Controller "
        "registers Service shop/api port http (targetType unset: the controller reads it from the target group), is "
        "made outside Kubernetes and hairpin cannot see it: if it belongs to an internal NLB and keeps the client IP "
        "(AWS's default for instance targets over TCP and for UDP, not for ip targets over TCP), a caller can be sent "
        f"back to its own node and time out, as behind a Service's internal NLB; {HOW}"
    ]
