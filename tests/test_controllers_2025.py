"""The controllers of 2025-26: the cloud provider's target group attributes by release, EKS Auto Mode, protocols
whose client IP preservation cannot be turned off (hairpin.aws.cloud_provider, automode, protocols, providers)."""

from __future__ import annotations

import copy
import json
from fractions import Fraction as F
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.aws import cloud_provider as cp
from hairpin.aws import gateway as gwmod
from hairpin.aws.protocols import always_preserved, target_group_protocols
from hairpin.diagnose import check as chk
from hairpin.errors import InputError
from hairpin.parsers import manifests as m
from test_check import LBC_DEPLOYMENT, _Api, _main, api, node, one, run, service  # noqa: F401  (api: the stub API server fixture)

P = "service.beta.kubernetes.io/"
TYPE, TT, SCHEME, INTERNAL = (P + "aws-load-balancer-type", P + "aws-load-balancer-nlb-target-type",
                              P + "aws-load-balancer-scheme", P + "aws-load-balancer-internal")  # fmt: skip
TGA = P + "aws-load-balancer-target-group-attributes"
A, B = "eu-west-1a", "eu-west-1b"
AUTO = "eks.amazonaws.com/nlb"
IN_TREE_OFF = {TYPE: "nlb", INTERNAL: "true", TGA: "preserve_client_ip.enabled=false"}
FIRSTS = "v1.32.6, v1.33.3, v1.34.0 (not v1.34.1), v1.35.0 and later"


# ------------------------------------------------------------------------------ cloud provider releases


@pytest.mark.parametrize(
    ("version", "has"),
    [((1, 31, 9), False), ((1, 31, -1), False), ((1, 32, 5), False), ((1, 32, 6), True), ((1, 33, 2), False),
     ((1, 33, 3), True), ((1, 34, 0), True), ((1, 34, 1), False), ((1, 34, 2), True), ((1, 35, 0), True),
     ((1, 36, -1), True), ((1, 33, -1), None), ((1, 34, -1), None), ((1, 30, 14), False)],
)  # fmt: skip
def test_release_has_tg_attributes(version: cp.Version, has: bool | None) -> None:
    assert cp.release_has_tg_attributes(version) is has


def test_parse_version() -> None:
    assert cp.parse_version("v1.33.4-eks-a737599") == (1, 33, 4)
    assert cp.parse_version("1.35") == (1, 35, -1)
    assert cp.parse_version("v1.32.6+k3s1") == (1, 32, 6)
    for bad in ("1", "1.x", "", "v1.33.4.5", "1.99999"):
        with pytest.raises(InputError) as e:
            cp.parse_version(bad)
        assert str(e.value) == f"--kubernetes-version: {bad!r} is not a version like 1.33 or v1.33.4"


def test_support_notes() -> None:
    s = cp.tg_attributes_support((1, 33, 5), "the API server's /version: v1.33.5-eks-1")
    assert s.honoured is None
    assert s.note == ("Kubernetes v1.33 (the API server's /version: v1.33.5-eks-1): cloud-provider-aws v1.33.3 and "
                      "later honour it (cloud-provider-aws PR #1214); its patch release is not visible, so hairpin "
                      "assumed it ignores the annotation (give --cloud-provider-version to decide)")  # fmt: skip
    assert cp.tg_attributes_support((1, 31, 2), "x").honoured is False
    assert cp.tg_attributes_support((1, 31, -1), "k", lower_bound=True).honoured is None
    assert cp.tg_attributes_support((1, 36, -1), "k", lower_bound=True).honoured is True
    assert cp.tg_attributes_support(None, provider=(1, 34, 1)).note == (
        f"cloud-provider-aws v1.34.1 ignores the annotation (cloud-provider-aws PR #1214 is in {FIRSTS})"
    )
    assert cp.tg_attributes_support((1, 30, 0), provider=(1, 32, 6)).honoured is True  # the provider decides


def _versions(k: str | None = None, p: str | None = None) -> chk.Versions:
    return chk.Versions(cp.parse_version(k) if k else None, "--kubernetes-version" if k else "",
                        cp.parse_version(p) if p else None)  # fmt: skip


def _check(*docs: dict[str, object], versions: chk.Versions | None = None) -> chk.Finding:
    text = "---\n".join(yaml.safe_dump(d) for d in docs)
    r = chk.check(m.parse_yaml(text, "t.yaml"), versions=versions)
    assert len(r.findings) == 1
    return r.findings[0]


def test_in_tree_preservation_off_honoured_from_the_releases_that_have_it() -> None:
    f = _check(service(ann=IN_TREE_OFF), versions=_versions("1.35"))
    assert (f.at_risk, f.settings.preserve_client_ip, f.fixes) == (False, False, [])
    assert f.reason == (
        "internal NLB with client IP preservation off: targets see the NLB's address and answer it (Kubernetes "
        "v1.35 (--kubernetes-version): every cloud-provider-aws v1.35 release honours it (cloud-provider-aws PR #1214))"
    )
    honoured = [s for s in f.settings.steps if s.startswith(f"{TGA} honoured by the cloud provider")]
    assert len(honoured) == 1 and "Kubernetes v1.35 (--kubernetes-version)" in honoured[0]
    # 1.33: depends on the provider's patch release: assumed ignored, at risk, and the verdict says so
    f = _check(service(ann=IN_TREE_OFF), versions=_versions("1.33"))
    assert (f.at_risk, f.settings.preserve_client_ip) == (True, True)
    assert f.reason.endswith(
        "(assumed: Kubernetes v1.33 (--kubernetes-version): cloud-provider-aws v1.33.3 and later honour it "
        "(cloud-provider-aws PR #1214); its patch release is not visible, so hairpin assumed it ignores the "
        "annotation (give --cloud-provider-version to decide))"
    )
    assert [x.name for x in f.fixes] == ["cluster-ip", "recreate-ip-targets"]
    assert _check(service(ann=IN_TREE_OFF), versions=_versions("1.33", "v1.33.3")).at_risk is False
    assert _check(service(ann=IN_TREE_OFF), versions=_versions("1.34", "v1.34.1")).at_risk is True
    assert _check(service(ann=IN_TREE_OFF), versions=_versions("1.31")).at_risk is True
    # no version at all: assumed ignored
    f = _check(service(ann=IN_TREE_OFF))
    assert f.at_risk and f.reason.endswith(
        f"(assumed: Kubernetes version unknown: hairpin assumed a cloud provider that ignores the annotation "
        f"(cloud-provider-aws PR #1214 is in {FIRSTS}); give --kubernetes-version or check a live cluster)"
    )


def test_in_tree_kubelet_is_a_lower_bound() -> None:
    f = _check(service(ann=IN_TREE_OFF), node("n1", A, "10.0.1.1", version="v1.31.4-eks-1"))
    assert (f.at_risk, f.probability) == (True, F(1))
    assert "Kubernetes v1.31 (the newest kubelet in the input) or newer" in f.reason
    f = _check(service(ann=IN_TREE_OFF), node("n1", A, "10.0.1.1", version="v1.36.0"))
    assert (f.at_risk, f.probability) == (False, None)


def test_in_tree_rejects_other_keys_and_udp_off() -> None:
    ann = {**IN_TREE_OFF, TGA: "preserve_client_ip.enabled=false,deregistration_delay.timeout_seconds=10"}
    f = _check(service(ann=ann), versions=_versions("1.35"))
    assert (f.at_risk, f.settings.preserve_client_ip) == (True, True)
    assert f.settings.problems == (
        f"{TGA} rejected by the cloud provider: it accepts only preserve_client_ip.enabled, proxy_protocol_v2.enabled"
        ", not deregistration_delay.timeout_seconds (aws_validations.go); the target group keeps its defaults; "
        "Kubernetes v1.35 (--kubernetes-version): every cloud-provider-aws v1.35 release honours it "
        "(cloud-provider-aws PR #1214)",
    )
    # the fix drops the attribute the provider refuses (it would refuse the whole annotation again)
    assert f.fixes[0].name == "no-preserve-client-ip"
    assert f.fixes[0].annotations == ((TGA, "preserve_client_ip.enabled=false"),)
    f = _check(service(ann=IN_TREE_OFF, proto="UDP"), versions=_versions("1.35"))
    assert (f.at_risk, f.settings.preserve_client_ip) == (True, True)
    assert [x.name for x in f.fixes] == ["cluster-ip"]  # never preservation off for UDP


@pytest.mark.parametrize(
    ("value", "why"),
    [("preserve_client_ip.enabled=False", "preserve_client_ip.enabled='False' is not exactly true or false"),
     ("preserve_client_ip.enabled= false", "preserve_client_ip.enabled=' false' is not exactly true or false"),
     ("preserve_client_ip.enabled=0", "preserve_client_ip.enabled='0' is not exactly true or false"),
     ("preserve_client_ip.enabled=", "preserve_client_ip.enabled has no value"),
     ("preserve_client_ip.enabled =false", "it accepts only preserve_client_ip.enabled, proxy_protocol_v2.enabled, "
                                           "not 'preserve_client_ip.enabled '"),
     ("preserve_client_ip.enabled=false,proxy_protocol_v2.enabled=yes",
      "proxy_protocol_v2.enabled='yes' is not exactly true or false")],
)  # fmt: skip
def test_in_tree_compares_values_exactly(value: str, why: str) -> None:
    # cloud-provider-aws aws_validations.go: values exactly "true"/"false", keys as split (no trimming around
    # '='); the Service is refused, so an NLB built before keeps preservation on: still at risk
    f = _check(service(ann={**IN_TREE_OFF, TGA: value}), versions=_versions("1.35", "v1.35.0"))
    assert (f.at_risk, f.settings.preserve_client_ip) == (True, True)
    assert f.settings.problems == (
        f"{TGA} rejected by the cloud provider: {why} (aws_validations.go); the target group keeps its defaults; "
        f"cloud-provider-aws v1.35.0 honours the annotation (cloud-provider-aws PR #1214 is in {FIRSTS})",
    )
    assert f.fixes[0].annotations[0] == (TGA, "preserve_client_ip.enabled=false")


def test_in_tree_splits_on_every_equals_sign() -> None:
    # getKeyValuePropertiesFromAnnotation keeps the text between the first and second '=': "false=x" is "false"
    f = _check(service(ann={**IN_TREE_OFF, TGA: " preserve_client_ip.enabled=false=x "}),
               versions=_versions("1.35", "v1.35.0"))  # fmt: skip
    assert (f.at_risk, f.settings.preserve_client_ip, f.settings.problems) == (False, False, ())


def test_cli_kubernetes_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "svc.yaml"
    f.write_text(yaml.safe_dump(service(ann=IN_TREE_OFF)))
    code, out, _ = _main(["check", str(f), "--format", "json", "--kubernetes-version", "1.35"], capsys)
    assert code == 0 and json.loads(out)["services"][0]["preserve_client_ip"] is False
    code, out, _ = _main(["check", str(f), "--format", "json", "--kubernetes-version", "1.33"], capsys)
    assert code == 1
    code, out, _ = _main(["check", str(f), "--format", "json", "--kubernetes-version", "1.33",
                          "--cloud-provider-version", "v1.33.3"], capsys)  # fmt: skip
    assert code == 0
    code, out, err = _main(["check", str(f), "--kubernetes-version", "1.x"], capsys)
    assert (code, out, err) == (2, "", "hairpin: error: --kubernetes-version: '1.x' is not a version like 1.33 or "
                                       "v1.33.4\n")  # fmt: skip


def test_live_cluster_version_from_the_api_server(api: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    svc = service("internal", ann=IN_TREE_OFF, existing=True)
    _Api.routes["/api/v1/services"] = [svc]
    _Api.objects["/version"] = {"major": "1", "minor": "35", "gitVersion": "v1.35.2-eks-113cf36"}
    code, out, err = _main(["check", "--kubeconfig", str(api), "--format", "json"], capsys)
    assert code == 0, err
    (got,) = json.loads(out)["services"]
    assert got["reason"].endswith("(Kubernetes v1.35 (the API server's /version: v1.35.2-eks-113cf36): every "
                                  "cloud-provider-aws v1.35 release honours it (cloud-provider-aws PR #1214))")  # fmt: skip
    # --kubernetes-version wins over the server (not asked) ...
    code, out, _ = _main(["check", "--kubeconfig", str(api), "--format", "json", "--kubernetes-version", "1.31"],
                         capsys)  # fmt: skip
    assert code == 1
    # ... and without /version the kubelets (1.18 in the seed) are a lower bound: assumed ignored
    del _Api.objects["/version"]
    code, out, _ = _main(["check", "--kubeconfig", str(api), "--format", "json"], capsys)
    assert code == 1 and "Kubernetes v1.18 (the newest kubelet in the input) or newer" in out


# ------------------------------------------------------------------------------ EKS Auto Mode

AUTO_NODE = {"eks.amazonaws.com/compute-type": "auto"}
AUTO_STEPS_HEAD = "spec.loadBalancerClass eks.amazonaws.com/nlb: EKS Auto Mode provisions a Network Load Balancer"


def test_auto_mode_defaults_ip_targets_preservation_off() -> None:
    f = one(service(cls=AUTO))
    s = f.settings
    assert (f.at_risk, s.controller, s.load_balancer, s.scheme, s.target_type, s.preserve_client_ip) == (
        False, "eks-auto-mode", "nlb", "internal", "ip", False)  # fmt: skip
    assert f.reason == "internal NLB with client IP preservation off: targets see the NLB's address and answer it"
    assert s.steps[0].startswith(AUTO_STEPS_HEAD)
    assert "security groups on the NLB: Auto Mode builds NLBs only in security group mode (auto-networking)" in s.steps


def test_auto_mode_instance_targets_at_risk_and_fixes_only_what_it_honours() -> None:
    ann = {TT: "instance", INTERNAL: "false", TYPE: "nlb"}  # the last two are not supported by Auto Mode
    f = one(service(cls=AUTO, ann=ann), node("n1", A, "10.0.1.1"), node("n2", B, "10.0.2.1"))
    assert (f.at_risk, f.probability, f.worst_node, f.settings.scheme) == (True, F(1, 2), "n1", "internal")
    assert f.settings.steps[1:3] == (
        f"{INTERNAL} ignored: EKS Auto Mode does not support it (use {SCHEME})",
        f"{TYPE} ignored: EKS Auto Mode does not support it (use spec.loadBalancerClass)",
    )
    assert [x.name for x in f.fixes] == ["ip-targets", "cluster-ip"]
    assert f.fixes[0].command("shop", "svc") == f"kubectl annotate service -n shop svc '{TT}=ip' --overwrite"
    assert [x.to_json() for x in f.ignored] == [
        {"annotation": INTERNAL, "value": "false", "controller": "eks-auto-mode",
         "why": f"EKS Auto Mode does not support it (use {SCHEME})"},
        {"annotation": TYPE, "value": "nlb", "controller": "eks-auto-mode",
         "why": "EKS Auto Mode does not support it (use spec.loadBalancerClass)"},
    ]  # fmt: skip
    from hairpin.aws import automode

    for x in f.fixes:  # every annotation a fix proposes is one Auto Mode documents
        assert all(k in automode.HONOURED for k, _ in x.annotations)
    # preservation off through the target group attributes (one per line, as the EKS guide writes them)
    off = one(
        service(cls=AUTO, ann={TT: "instance", TGA: "proxy_protocol_v2.enabled=true\npreserve_client_ip.enabled=false"})
    )
    assert (off.at_risk, off.settings.preserve_client_ip, off.settings.proxy_protocol_v2) == (False, False, True)
    # ... a verdict that rests on the undocumented key: said, with what the other case gives
    assert off.warnings == [
        f"{TGA}: preserve_client_ip.enabled=false is assumed applied: EKS Auto Mode documents the annotation only "
        "with proxy_protocol_v2.enabled; if it does not apply this key, the instance target group keeps AWS's default "
        "(client IP preservation on) and this internal NLB can send callers back to their own node: check the target "
        "group's preserve_client_ip.enabled (aws elbv2 describe-target-group-attributes)"
    ]
    # no warning where the key changes nothing: ip targets, or an internet-facing NLB
    ip_off = one(service(cls=AUTO, ann={TGA: "preserve_client_ip.enabled=false"}))
    public = one(service(cls=AUTO, ann={TT: "instance", SCHEME: "internet-facing", TGA: "preserve_client_ip.enabled=false"}))
    assert (ip_off.warnings, public.warnings) == ([], [])


def test_auto_mode_udp_keeps_the_client_ip() -> None:
    from test_check import pod

    f = one(service(cls=AUTO, proto="UDP", ann={TGA: "preserve_client_ip.enabled=false"}),
            node("n1", A, "10.0.1.1"), pod("p1", "n1", "10.0.1.5"), pod("p2", "n1", "10.0.1.6"))  # fmt: skip
    assert (f.at_risk, f.probability, f.settings.preserve_client_ip) == (True, F(1), True)
    assert [x.name for x in f.fixes] == ["cluster-ip", "anti-affinity"]
    assert f.settings.problems == (
        "preserve_client_ip.enabled=false: UDP target group: client IP preservation is always on for UDP, TCP_UDP, "
        "QUIC and TCP_QUIC target groups and cannot be turned off (AWS, Target groups for your Network Load Balancers)",
    )


def test_auto_mode_default_class_for_manifests() -> None:
    svc = service(ann={TT: "instance"})
    f = one(svc, node("n1", A, "10.0.1.1", AUTO_NODE))
    assert (f.settings.controller, f.at_risk, f.probability) == ("eks-auto-mode", True, F(1))
    assert f.settings.steps[0] == (
        "no loadBalancerClass: EKS Auto Mode sets eks.amazonaws.com/nlb as the cluster's default class "
        "(nodes labelled eks.amazonaws.com/compute-type=auto)"
    )
    # an existing Service without a class was not given one: the in-tree provider's Classic ELB
    assert (
        one(service(ann={TT: "instance"}, existing=True), node("n1", A, "10.0.1.1", AUTO_NODE)).settings.load_balancer
        == "clb"
    )
    # told so (no Auto Mode nodes in the input)
    r = chk.check(m.parse_yaml(yaml.safe_dump(svc), "t.yaml"), auto_mode=True)
    assert r.findings[0].settings.steps[0].endswith("default class (--auto-mode)")
    assert (
        chk.check(m.parse_yaml(yaml.safe_dump(svc), "t.yaml"), auto_mode=False).findings[0].settings.controller
        == "in-tree"
    )


def test_auto_mode_sarif_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "auto.yaml"
    f.write_text("# Auto Mode\n" + yaml.safe_dump(service("edge", cls=AUTO, ann={TT: "instance"})))
    code, out, _ = _main(["check", str(f), "--format", "sarif"], capsys)
    assert code == 1
    (res,) = json.loads(out)["runs"][0]["results"]
    loc = res["locations"][0]["physicalLocation"]
    assert (loc["artifactLocation"]["uri"], loc["region"]["startLine"]) == (str(f), 6)  # the target type annotation
    assert res["properties"]["controller"] == "eks-auto-mode"
    assert [x["name"] for x in res["properties"]["fixes"]] == ["ip-targets", "cluster-ip"]


# ------------------------------------------------------------------------------ protocols


def test_target_group_protocols() -> None:
    ports = [
        {"port": 53, "protocol": "UDP"},
        {"port": 53, "protocol": "TCP"},
        {"port": 80},
        {"port": 443, "protocol": "UDP"},
    ]
    assert target_group_protocols(ports) == [(53, "TCP_UDP"), (80, "TCP"), (443, "UDP")]
    assert always_preserved(["TCP", "tcp"]) is None
    assert always_preserved(["TCP_QUIC", "QUIC"]) is not None and always_preserved(["QUIC"]).startswith(
        "QUIC target group"
    )  # type: ignore[union-attr]


def test_lbc_tcp_udp_service_never_gets_preservation_off() -> None:
    svc = service(ann={TYPE: "external", TT: "instance", P + "aws-load-balancer-enable-tcp-udp-listener": "true"})  # TCP_UDP on
    svc["spec"]["ports"] = [{"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53, "nodePort": 30053},
                            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53, "nodePort": 30053}]  # fmt: skip
    f = one(svc)
    assert f.at_risk and [x.name for x in f.fixes] == ["cluster-ip"]
    svc["metadata"]["annotations"][TGA] = "preserve_client_ip.enabled=false"
    f = one(svc)  # AWS refuses the value for the TCP_UDP target group: still preserved, still at risk
    assert (f.at_risk, f.settings.preserve_client_ip) == (True, True)


# ------------------------------------------------------------------------------ security groups (the second failure)

LBC_INSTANCE = {TYPE: "external", TT: "instance"}
SG_REASON = (
    "2 in-cluster caller pod(s) are outside spec.loadBalancerSourceRanges (10.99.0.0/16), e.g. shop/caller (10.0.2.9) "
    "on node n2: the NLB's security group drops every SYN they send, so each of their connections times out (P = 1), "
    "whatever target the NLB picks"
)


def _sg_cluster(
    ann: dict[str, str], ranges: list[str] | None = None, cls: str | None = None
) -> list[dict[str, object]]:
    from test_check import pod

    svc = service(ann=ann, cls=cls)
    if ranges is not None:
        svc["spec"]["loadBalancerSourceRanges"] = ranges
    return [svc, node("n1", A, "10.0.1.1"), node("n2", B, "10.0.2.1"), pod("web-1", "n1", "10.0.1.5"),
            pod("caller", "n2", "10.0.2.9", {"app": "x"})]  # fmt: skip


def test_source_ranges_that_leave_out_the_callers() -> None:
    f = one(*_sg_cluster(LBC_INSTANCE, ["10.99.0.0/16"]))
    assert (f.at_risk, f.probability, f.worst_node, f.settings.security_groups) == (True, F(1), "n2", True)
    assert f.reason.endswith("; second failure: " + SG_REASON)
    assert f.blocked == SG_REASON
    assert [x.name for x in f.fixes] == ["source-ranges", "no-preserve-client-ip", "proxy-protocol-v2", "ip-targets",
                                         "cluster-ip"]  # fmt: skip
    assert f.fix == (
        "admit the in-cluster callers' network in the source ranges: kubectl patch service -n shop svc --type merge "
        """-p '{"spec": {"loadBalancerSourceRanges": ["10.99.0.0/16", "<VPC-CIDR>"]}}'"""
    )
    assert f.to_json()["security_group_drop"] == SG_REASON
    # the NLB's security group filters whatever the preservation: turning it off leaves the drop
    f = one(*_sg_cluster({**LBC_INSTANCE, TGA: "preserve_client_ip.enabled=false"}, ["10.99.0.0/16"]))
    assert (f.at_risk, f.probability) == (True, F(1))
    assert f.reason == (SG_REASON + " (internal NLB with client IP preservation off: targets see the NLB's address "
                        "and answer it)")  # fmt: skip
    assert [x.name for x in f.fixes] == ["source-ranges"]
    # ranges that hold the callers: only the hairpin
    f = one(*_sg_cluster(LBC_INSTANCE, ["10.0.0.0/16"]))
    assert (f.probability, f.blocked) == (F(1, 2), None)


def test_source_ranges_without_nlb_security_groups() -> None:
    # the in-tree provider (no security groups on the NLB) writes the ranges into the nodes' group: they see the
    # caller's address only with preservation on
    ann = {TYPE: "nlb", INTERNAL: "true"}
    f = _check(*_sg_cluster(ann, ["10.99.0.0/16"]))
    assert (f.at_risk, f.probability, f.settings.security_groups) == (True, F(1), False)
    assert f.blocked is not None and "the targets' security group (client IP preserved" in f.blocked
    f = _check(
        *_sg_cluster({**ann, TGA: "preserve_client_ip.enabled=false"}, ["10.99.0.0/16"]), versions=_versions("1.35")
    )
    assert (f.at_risk, f.blocked) == (False, None)
    # the annotation form of the ranges
    f = _check(*_sg_cluster({**ann, P + "load-balancer-source-ranges": "10.99.0.0/16"}))
    assert f.blocked is not None and "outside service.beta.kubernetes.io/load-balancer-source-ranges" in f.blocked


def test_auto_mode_ignores_the_source_ranges_annotation_not_the_field() -> None:
    ann = {TT: "instance", P + "load-balancer-source-ranges": "10.99.0.0/16"}
    f = one(*_sg_cluster(ann, cls=AUTO))
    assert (f.probability, f.blocked) == (F(1, 2), None)
    f = one(*_sg_cluster({TT: "ip"}, ["10.99.0.0/16"], cls=AUTO))  # ip targets, preservation off: still dropped
    assert (f.at_risk, f.probability, f.worst_node) == (True, F(1), "n2")


def test_a_source_range_the_api_server_refuses_leaves_the_service_out() -> None:
    bad = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64): the API server refuses the Service"
    r = run(*_sg_cluster(LBC_INSTANCE, ["10.0.0.0/99"]))
    assert (r.findings, [(e.line, e.message) for e in r.errors]) == (
        [], [(1, f'spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/99": {bad}')])
    # the annotation: trimmed, split on ',', each piece trimmed; an empty piece is refused, named by the annotation
    r = run(*_sg_cluster({**LBC_INSTANCE, P + "load-balancer-source-ranges": " 10.99.0.0/16, "}))
    assert (r.findings, [(e.line, e.message) for e in r.errors]) == (
        [], [(1, f'metadata.annotations[{P}load-balancer-source-ranges]: Invalid value: "": {bad}')])
    # nothing but white space: set, and no ranges (the default admits everyone)
    f = one(*_sg_cluster({**LBC_INSTANCE, P + "load-balancer-source-ranges": " \t"}))
    assert (f.blocked, f.settings.problems) == (None, ())
    # padded pieces are the ranges they hold
    f = one(*_sg_cluster({**LBC_INSTANCE, P + "load-balancer-source-ranges": " 10.99.0.0/16 ,010.98.0.0/16"}))
    assert f.blocked is not None and "outside service.beta.kubernetes.io/load-balancer-source-ranges" in f.blocked


def test_scenario_from_cluster_carries_the_security_groups(tmp_path: Path) -> None:
    from hairpin.kube.from_cluster import scenario_from_objects, scenario_yaml

    docs = _sg_cluster(LBC_INSTANCE, ["10.99.0.0/16"])
    objs = m.parse_yaml("---\n".join(yaml.safe_dump(d) for d in docs), "t.yaml")
    s, notes = scenario_from_objects(objs, service="shop/svc", client="shop/caller")
    lb = s.services[0].load_balancer
    assert lb is not None and (lb.security_groups, lb.source_ranges) == (True, ("10.99.0.0/16",))
    assert "source ranges from spec.loadBalancerSourceRanges: 10.99.0.0/16" in notes
    from hairpin import scenario
    from hairpin.aws import risk

    out = tmp_path / "s.yaml"
    out.write_text(scenario_yaml(s, notes))
    assert risk.timeout_probability(scenario.load(out)) == 1.0


# ------------------------------------------------------------------------------ LoadBalancerIPMode


def _with_status(svc: dict[str, object], ingress: list[dict[str, str]]) -> dict[str, object]:
    svc["status"] = {"loadBalancer": {"ingress": ingress}}
    return svc


NLB_HOST = "k8s-shop-svc-0123456789.elb.eu-west-1.amazonaws.com"


def test_ipmode_vip_covering_every_az_keeps_callers_off_the_nlb() -> None:
    from hairpin.kube import ipmode

    ing = [{"ip": "10.0.1.200", "ipMode": "VIP"}, {"ip": "10.0.2.200"}, {"hostname": NLB_HOST}]
    docs = _sg_cluster(LBC_INSTANCE)
    f = one(_with_status(docs[0], ing), *docs[1:])  # type: ignore[arg-type]
    assert (f.at_risk, f.probability, f.fixes, f.candidates) == (False, F(0), [], [])
    assert f.reason.startswith(
        "kube-proxy handles in-cluster calls to 10.0.1.200, 10.0.2.200 (status.loadBalancer.ingress with ipMode VIP) on "
        "the caller's own node, so they never reach the NLB (kube-proxy version unknown: assumed 1.30 or later, which "
        "honours ipMode); the NLB has one address per AZ (2) and the status lists 2: no in-cluster caller of these "
        "addresses or of the NLB's DNS name reaches the NLB.  Residual risk: a caller that connects to an NLB address "
        "not in the status still does (internal NLB, instance targets"
    )
    assert ipmode.capture([("10.0.1.200", None, "Proxy")], (1, 29)).captured == ("10.0.1.200",)  # before the gate


def test_ipmode_partial_or_proxy_or_hostname_only_stays_at_risk() -> None:
    docs = _sg_cluster(LBC_INSTANCE)
    f = one(_with_status(docs[0], [{"ip": "10.0.1.200", "ipMode": "VIP"}]), *docs[1:])  # type: ignore[arg-type]
    assert (f.at_risk, f.probability) == (True, F(1, 2))
    assert f.reason.endswith("but callers that resolve another NLB address still reach it (1 address(es) for 2 AZ(s))")
    docs = _sg_cluster(LBC_INSTANCE)
    f = one(_with_status(docs[0], [{"ip": "10.0.1.200", "ipMode": "Proxy"}, {"ip": "10.0.2.200", "ipMode": "Proxy"}]),
            *docs[1:])  # type: ignore[arg-type]  # fmt: skip
    assert (f.at_risk, f.probability) == (True, F(1, 2))
    # what AWS controllers publish today: a hostname only; the request to publish VIPs is a candidate, not a fix
    docs = _sg_cluster(LBC_INSTANCE)
    f = one(_with_status(docs[0], [{"hostname": NLB_HOST}]), *docs[1:])  # type: ignore[arg-type]
    assert (f.at_risk, f.probability) == (True, F(1, 2))
    assert [x.name for x in f.candidates] == ["ipmode-vip"]
    assert "kubernetes-sigs/aws-load-balancer-controller #4803" in f.candidates[0].summary
    assert f.candidates[0].cost.startswith("not available in any release; residual risk: a caller that connects to an "
                                           "NLB address missing from the status still goes to the NLB")  # fmt: skip


def test_ipmode_old_kube_proxy_captures_proxy_mode_too() -> None:
    docs = _sg_cluster(LBC_INSTANCE)
    for d in docs[1:3]:
        d["status"]["nodeInfo"]["kubeProxyVersion"] = "v1.28.5"  # type: ignore[index]
    ing = [{"ip": "10.0.1.200", "ipMode": "Proxy"}, {"ip": "10.0.2.200", "ipMode": "Proxy"}]
    f = one(_with_status(docs[0], ing), *docs[1:])  # type: ignore[arg-type]
    assert (f.at_risk, f.probability) == (False, F(0))
    assert (
        "(kube-proxy 1.28 predates LoadBalancerIPMode (on by default from 1.30): it captures every ingress IP"
        in f.reason
    )


def test_ipmode_live_cluster(api: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    svc = service("vip", ann=LBC_INSTANCE, existing=True)
    seed_nodes = [i for i in _Api.routes["/api/v1/nodes"]]
    azs = sorted({n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in seed_nodes})
    _Api.routes["/api/v1/services"] = [
        _with_status(svc, [{"ip": f"192.168.250.{i}", "ipMode": "VIP"} for i in range(len(azs))])
    ]
    code, out, err = _main(["check", "--kubeconfig", str(api), "--format", "sarif"], capsys)
    assert (code, json.loads(out)["runs"][0]["results"]) == (0, []), err
    _Api.routes["/api/v1/services"] = [_with_status(svc, [{"hostname": NLB_HOST}])]
    code, out, err = _main(["check", "--kubeconfig", str(api), "--format", "sarif"], capsys)
    (res,) = json.loads(out)["runs"][0]["results"]
    assert code == 1 and res["locations"] == [
        {"logicalLocations": [{"name": "vip", "fullyQualifiedName": "shop/vip", "kind": "resource"}]}
    ]
    assert [c["name"] for c in res["properties"]["candidates"]] == ["ipmode-vip"]


# ------------------------------------------------------------------------------ Gateway API (the LBC's NLB Gateways)

GW = Path(__file__).parent / "data" / "check" / "gateway" / "nlb-gateway.yaml"


def _gw_docs() -> list[dict[str, object]]:
    return list(yaml.safe_load_all(GW.read_text()))


def _gw(*extra: dict[str, object], docs: list[dict[str, object]] | None = None) -> dict[str, chk.Finding]:
    text = "---\n".join(yaml.safe_dump(d) for d in [*(docs if docs is not None else _gw_docs()), *extra])
    return {f.name: f for f in chk.check(m.parse_yaml(text, "gw.yaml")).findings}


def test_gateway_target_groups_from_the_file() -> None:
    r = chk.check(m.load_paths([str(GW)], []))
    got = {
        f.name: (f.at_risk, f.settings.target_type, f.settings.preserve_client_ip, f.file, f.line) for f in r.findings
    }
    assert got == {
        "TCPRoute/web/web:8080": (True, "instance", True, str(GW), 64),  # located at its TargetGroupConfiguration
        "UDPRoute/dns/resolver:53": (True, "instance", True, str(GW), 51),  # no TGC: at the route
    }
    web, dns = (next(f for f in r.findings if f.name.startswith(k)) for k in ("TCPRoute", "UDPRoute"))
    assert [x.name for x in web.fixes] == ["no-preserve-client-ip", "ip-targets", "cluster-ip"]
    assert web.fix == (
        'kubectl patch targetgroupconfiguration -n shop web-tg --type merge -p \'{"spec": {"defaultConfiguration": '
        '{"targetGroupAttributes": [{"key": "deregistration_delay.timeout_seconds", "value": "30"}, '
        '{"key": "preserve_client_ip.enabled", "value": "false"}]}}}\''
    )
    assert web.fixes[1].command("shop", web.name) == (
        "kubectl patch targetgroupconfiguration -n shop web-tg --type merge -p "
        '\'{"spec": {"defaultConfiguration": {"targetType": "ip"}}}\''
    )
    assert web.fixes[2].summary.startswith("point in-cluster callers at web.shop.svc.cluster.local:8080")
    # UDP: preservation always on, so neither preservation off nor ip targets
    assert [x.name for x in dns.fixes] == ["cluster-ip"]
    assert dns.settings.steps[3] == "UDPRoute shop/dns: listener UDP:53 -> Service shop/resolver"


def test_gateway_probability_with_nodes_and_new_tgc_yaml() -> None:
    docs = [d for d in _gw_docs() if d["kind"] != "TargetGroupConfiguration"]
    f = _gw(node("n1", A, "10.0.1.1"), node("n2", B, "10.0.2.1"), node("n3", B, "10.0.2.2"), docs=docs)
    web = f["TCPRoute/web/web:8080"]
    assert (web.at_risk, web.probability, web.worst_node) == (True, F(1, 2), "n1")
    assert web.fixes[0].yaml() == json.dumps({
        "apiVersion": "gateway.k8s.aws/v1", "kind": "TargetGroupConfiguration",
        "metadata": {"name": "web-hairpin", "namespace": "shop"},
        "spec": {"targetReference": {"name": "web"}, "defaultConfiguration": {
            "targetGroupAttributes": [{"key": "preserve_client_ip.enabled", "value": "false"}]}}})  # fmt: skip
    assert web.fixes[0].command("shop", web.name).startswith("kubectl apply -f - <<'EOF'\n{\"apiVersion\"")


def test_gateway_tgc_route_configuration_and_scheme() -> None:
    docs = _gw_docs()
    tgc = next(d for d in docs if d["kind"] == "TargetGroupConfiguration")
    tgc["spec"]["defaultConfiguration"]["targetType"] = "ip"  # type: ignore[index]
    f = _gw(docs=docs)["TCPRoute/web/web:8080"]
    assert (f.at_risk, f.settings.target_type, f.settings.preserve_client_ip) == (False, "ip", False)
    # a route-specific configuration wins over the default one
    tgc["spec"]["routeConfigurations"] = [  # type: ignore[index]
        {"routeIdentifier": {"kind": "TCPRoute"}, "targetGroupProps": {"targetType": "instance"}},
        {"routeIdentifier": {"kind": "TCPRoute", "namespace": "shop", "name": "web"},
         "targetGroupProps": {"targetGroupAttributes": [{"key": "preserve_client_ip.enabled", "value": "true"}]}},
    ]  # fmt: skip
    f = _gw(docs=docs)["TCPRoute/web/web:8080"]
    assert (f.at_risk, f.settings.target_type, f.settings.preserve_client_ip) == (True, "ip", True)
    assert [x.name for x in f.fixes] == ["cluster-ip", "anti-affinity"]  # the route's own setting is not patched
    # internet-facing from the GatewayClass's configuration, which wins by default
    docs = _gw_docs()
    cls = next(d for d in docs if d["kind"] == "GatewayClass")
    cls["spec"]["parametersRef"] = {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration",  # type: ignore[index]
                                    "name": "public", "namespace": "infra"}  # fmt: skip
    public = {"apiVersion": "gateway.k8s.aws/v1", "kind": "LoadBalancerConfiguration",
              "metadata": {"name": "public", "namespace": "infra"}, "spec": {"scheme": "internet-facing"}}  # fmt: skip
    assert _gw(public, docs=docs)["TCPRoute/web/web:8080"].settings.scheme == "internet-facing"
    public["spec"]["mergingMode"] = "prefer-gateway"  # type: ignore[index]
    assert _gw(public, docs=docs)["TCPRoute/web/web:8080"].settings.scheme == "internal"


def test_gateway_other_classes_and_quic() -> None:
    docs = _gw_docs()
    next(d for d in docs if d["kind"] == "GatewayClass")["spec"]["controllerName"] = "example.com/gw"  # type: ignore[index]
    assert _gw(docs=docs) == {}
    docs = _gw_docs()
    lbc = next(d for d in docs if d["kind"] == "LoadBalancerConfiguration")
    lbc["spec"]["listenerConfigurations"] = [{"protocolPort": "UDP:53", "quicEnabled": True}]  # type: ignore[index]
    f = _gw(docs=docs)["UDPRoute/dns/resolver:53"]
    assert "QUIC target group: client IP preservation is always on" in f.settings.steps[5]
    # TCP and UDP listeners on one port: a TCP_UDP target group
    gw = next(d for d in docs if d["kind"] == "Gateway")
    gw["spec"]["listeners"][1]["port"] = 80  # type: ignore[index]
    f = _gw(docs=docs)["TCPRoute/web/web:8080"]
    assert f.settings.steps[3] == "TCPRoute shop/web: listener TCP_UDP:80 -> Service shop/web"
    assert [x.name for x in f.fixes] == ["cluster-ip"]


def test_gateway_source_ranges_and_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_check import pod

    docs = _gw_docs()
    next(d for d in docs if d["kind"] == "LoadBalancerConfiguration")["spec"]["sourceRanges"] = ["10.99.0.0/16"]  # type: ignore[index]
    f = _gw(node("n1", A, "10.0.1.1"), pod("caller", "n1", "10.0.1.9"), docs=docs)["TCPRoute/web/web:8080"]
    assert (f.at_risk, f.probability, f.worst_node) == (True, F(1), "n1")
    assert f.blocked == (
        "1 in-cluster caller pod(s) are outside the LoadBalancerConfiguration's sourceRanges (10.99.0.0/16), e.g. "
        "shop/caller (10.0.1.9) on node n1: the NLB's security group drops every SYN they send, so each of their "
        "connections times out (P = 1), whatever target the NLB picks"
    )
    assert f.fix == ("admit the in-cluster callers' network in the source ranges: kubectl patch "
                     "loadbalancerconfiguration -n shop edge-lb --type merge -p "
                     "'{\"spec\": {\"sourceRanges\": [\"10.99.0.0/16\", \"<VPC-CIDR>\"]}}'")  # fmt: skip
    code, out, _ = _main(["check", str(GW), "--format", "sarif"], capsys)
    assert code == 1
    results = json.loads(out)["runs"][0]["results"]
    locs = [(r["locations"][0]["physicalLocation"]["region"]["startLine"],
             r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]) for r in results]  # fmt: skip
    assert locs == [(64, "shop/TCPRoute/web/web:8080"), (51, "shop/UDPRoute/dns/resolver:53")]


def test_gateway_live_cluster(api: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    docs = _gw_docs()
    for d in docs:
        d["metadata"]["uid"] = "u-" + d["metadata"]["name"]  # type: ignore[index]

    def of(kind: str) -> list[dict[str, object]]:
        return [d for d in docs if d["kind"] == kind]

    gw, aws = "/apis/gateway.networking.k8s.io", "/apis/gateway.k8s.aws"
    _Api.routes.update({
        f"{gw}/v1/gatewayclasses": of("GatewayClass"), f"{gw}/v1/gateways": of("Gateway"),
        f"{gw}/v1alpha2/tcproutes": of("TCPRoute"),  # Gateway API before 1.6: the L4 routes in v1alpha2 only
        f"{gw}/v1/udproutes": of("UDPRoute"),
        f"{aws}/v1beta1/targetgroupconfigurations": of("TargetGroupConfiguration"),
        f"{aws}/v1/loadbalancerconfigurations": of("LoadBalancerConfiguration"),
    })  # fmt: skip
    _Api.routes["/api/v1/services"] = []
    # the stub's controller is v2.14.1, whose feature gate NLBGatewayAPI is off by default (on from v3.2.0,
    # pkg/config/feature_gates.go): turn it on, as a v2.14.1 user of Gateways must
    dep = copy.deepcopy(LBC_DEPLOYMENT)
    dep["spec"]["template"]["spec"]["containers"][0]["args"].append("--feature-gates=NLBGatewayAPI=true")
    _Api.routes["/apis/apps/v1/deployments"] = [dep]
    code, out, err = _main(["check", "--kubeconfig", str(api), "--format", "json"], capsys)
    assert code == 1, err
    got = {s["name"]: (s["probability"], s["file"]) for s in json.loads(out)["services"]}
    # the seed's nodes: 2 in eu-west-1a, 1 in eu-west-1b: node3 is the worst, 1/2
    assert got == {"TCPRoute/web/web:8080": (0.5, None), "UDPRoute/dns/resolver:53": (0.5, None)}
    assert f"{gw}/v1/tcproutes?limit=500" in _Api.seen and f"{gw}/v1alpha2/tcproutes?limit=500" in _Api.seen


# ------------------------------------------------------------------------------ the matrix in docs/check.md


def test_docs_matrix_is_the_generators_output() -> None:
    from hairpin.diagnose import matrix

    doc = (Path(__file__).parent.parent / "docs" / "check.md").read_text()
    start, end = doc.index(matrix.BEGIN), doc.index(matrix.END) + len(matrix.END)
    assert doc[start:end] == matrix.markdown()
    rows = {(r[0], r[1], r[2], r[3], r[4]): (r[5], r[6], r[7]) for r in matrix.rows()}
    assert len(rows) == 60
    assert rows[("in-tree (cloud-provider-aws)", "v1.35.0", "instance", "TCP", "false")] == ("replaced", "ok", "-")
    assert rows[("in-tree (cloud-provider-aws)", "v1.34.1", "instance", "TCP", "false")][1] == "**at risk**"
    assert rows[("EKS Auto Mode", "-", "instance", "TCP", "(unset)")] == (
        "preserved",
        "**at risk**",
        "ip-targets, cluster-ip",
    )
    for key, (client, _, fixes) in rows.items():  # UDP keeps the client IP, and no fix turns it off
        if key[3] == "UDP":
            assert client == "preserved" and "no-preserve-client-ip" not in fixes and "ip-targets" not in fixes


# ------------------------------------------------------------------------------ untrusted input: never a traceback


_WORDS = st.sampled_from(["name", "namespace", "kind", "spec", "port", "protocol", "listeners", "parentRefs", "rules",
                          "backendRefs", "targetReference", "defaultConfiguration", "routeConfigurations",
                          "targetGroupAttributes", "key", "value", "targetType", "sectionName", "gatewayClassName",
                          "controllerName", "infrastructure", "parametersRef", "scheme", "sourceRanges", "edge",
                          "shop", "gateway.k8s.aws/nlb", "TCP", "UDP", "ip", "instance"])  # fmt: skip
_JUNK = st.recursive(st.none() | st.booleans() | st.integers(-2, 70000) | _WORDS,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_WORDS, inner, max_size=4),
                     max_leaves=25)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(gwmod.KINDS)),
                          st.dictionaries(_WORDS, _JUNK, max_size=5)), max_size=6))  # fmt: skip
def test_gateway_objects_of_any_shape_never_crash(objs: list[tuple[str, dict[str, object]]]) -> None:
    from hairpin.parsers.manifests import KubeObject

    docs = [KubeObject(k, {"kind": k, **d}, "f.yaml", i + 1) for i, (k, d) in enumerate(objs)]
    cls = {"kind": "GatewayClass", "metadata": {"name": "c"}, "spec": {"controllerName": gwmod.NLB_CONTROLLER}}
    docs.append(KubeObject("GatewayClass", cls, None, None))
    for tg in gwmod.target_groups(docs):
        assert tg.settings.load_balancer == "nlb" and tg.settings.preserve_client_ip in (True, False)
    chk.check(docs)  # the whole checker too


@given(st.text(max_size=20))
def test_parse_version_accepts_or_refuses_in_one_line(text: str) -> None:
    try:
        v = cp.parse_version(text)
    except InputError as e:
        assert "\n" not in str(e).replace(repr(text), "")
    else:
        assert v[0] >= 0 and v[1] >= 0 and v[2] >= -1


def test_scenario_from_cluster_takes_the_cloud_provider_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hairpin import scenario
    from test_check import pod

    f = tmp_path / "in.yaml"
    docs = [service(ann=IN_TREE_OFF), node("n1", A, "10.0.1.1"), pod("web-1", "n1", "10.0.1.5")]
    f.write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    got = {}
    for extra in (
        [],
        ["--kubernetes-version", "1.35"],
        ["--kubernetes-version", "1.33", "--cloud-provider-version", "v1.33.2"],
    ):
        out = tmp_path / f"s{len(got)}.yaml"
        code, _, err = _main(
            ["scenario", "from-cluster", str(f), "--service", "shop/svc", "-o", str(out), *extra], capsys
        )
        assert code == 0, err
        lb = scenario.load(out).services[0].load_balancer
        assert lb is not None
        got[" ".join(extra)] = lb.preserve_client_ip
    assert got == {"": True, "--kubernetes-version 1.35": False,
                   "--kubernetes-version 1.33 --cloud-provider-version v1.33.2": True}  # fmt: skip
    text = (tmp_path / "s1.yaml").read_text()
    assert f"# - load balancer: {TGA} honoured by the cloud provider: Kubernetes v1.35 (--kubernetes-version)" in text


def test_lbc_feature_gate_without_nlb_security_groups() -> None:
    import copy

    from test_check import LBC_DEPLOYMENT

    dep = copy.deepcopy(LBC_DEPLOYMENT)
    dep["kind"] = "Deployment"
    dep["spec"]["template"]["spec"]["containers"][0]["args"][-1] = "--feature-gates=NLBSecurityGroup=false"
    # no groups on the NLB: with preservation off nothing filters the callers any more
    docs = _sg_cluster({**LBC_INSTANCE, TGA: "preserve_client_ip.enabled=false"}, ["10.99.0.0/16"])
    f = one(*docs, dep)
    assert (f.at_risk, f.settings.security_groups, f.blocked) == (False, False, None)
    assert f.settings.steps[-2] == ("no security groups on the NLB: feature gate NLBSecurityGroup=false "
                                    "(Deployment kube-system/aws-load-balancer-controller (t.yaml:76))")  # fmt: skip
    f = one(*docs)  # without the Deployment: groups assumed (v2.6.0 and later)
    assert (f.at_risk, f.probability, f.settings.security_groups) == (True, F(1), True)


def test_a_target_type_out_of_ip_and_instance_is_instance_as_the_controller_reads_it() -> None:
    # the LBC's buildTargetType: anything but "ip" registers instances ("IP" meant ip, and is at risk)
    f = one(service(cls="service.k8s.aws/nlb", ann={TT: "IP"}))
    assert (f.at_risk, f.settings.target_type) == (True, "instance")
    assert f.settings.problems == (
        f"{TT}: 'IP' is not ip or instance: the controller registers instances for anything but 'ip' (buildTargetType)",
    )
    # EKS Auto Mode does not document it: assumed as the LBC, and the verdict says what it rests on
    f = one(service(cls=AUTO, ann={TT: "IP"}))
    assert (f.at_risk, f.settings.target_type, f.settings.problems) == (True, "instance", (f"{TT}: 'IP' is not ip or instance",))
    assert f.warnings[0] == (
        f"{TT}: 'IP': EKS Auto Mode does not document what it does with a value other than ip or instance; hairpin "
        "assumed instance targets, as the AWS Load Balancer Controller does (with ip targets, Auto Mode's default, a "
        "TCP target group would not keep the caller's address): write 'ip' or 'instance'"
    )
    assert one(service(cls=AUTO)).settings.target_type == "ip"  # absent: Auto Mode's default


def test_ipmode_status_of_a_manifest_is_said_not_to_be_applied() -> None:
    ing = [{"ip": "10.0.1.200", "ipMode": "VIP"}, {"ip": "10.0.2.200", "ipMode": "VIP"}]
    docs = _sg_cluster(LBC_INSTANCE)
    manifest = one(_with_status(docs[0], ing), *docs[1:])  # type: ignore[arg-type]
    assert manifest.at_risk is False
    assert manifest.warnings == [
        "status.loadBalancer.ingress comes from a manifest, not from the cluster: the API server discards a Service's "
        "status when it is created, and only the load balancer controller writes it (no AWS controller publishes "
        "ipMode VIP addresses as of 2026-12-01); the verdict holds only if it does"
    ]
    live = _with_status(_sg_cluster(LBC_INSTANCE)[0], ing)
    live["metadata"]["uid"] = "u-1"  # type: ignore[index]
    assert one(live, *docs[1:]).warnings == []  # type: ignore[arg-type]
