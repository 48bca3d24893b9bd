"""``hairpin check`` and the AWS cloud provider's ``[Global] NLBSecurityGroupMode`` (hairpin.aws.cloud_config,
hairpin.diagnose.cloud_sg): with Managed, an in-tree NLB has the provider's own security group, which admits only the
source ranges, so in-cluster callers outside them are dropped at the NLB whatever client IP preservation says;
unknown mode: a warning where the answer differs; the cloud config from --cloud-config or a ConfigMap of the input.

The dump: two nodes, a target pod and a caller pod (10.0.1.31, outside 10.99.0.0/16), and an internal in-tree NLB
Service with client IP preservation off (honoured by cloud-provider-aws v1.35, the nodes' kubelets say 1.35).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin.aws import cloud_config as cc
from hairpin.cli.main import main
from hairpin.errors import InputError
from test_check import CONTRACT  # tests/ is on sys.path (rootdir conftest, no package)

BYO = "service.beta.kubernetes.io/aws-load-balancer-security-groups"
TG = "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"


def node(name: str, az: str, ip: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"n-{name}", "labels": {"topology.kubernetes.io/zone": az}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                       "nodeInfo": {"kubeletVersion": "v1.35.1", "kubeProxyVersion": "v1.35.1"}}}  # fmt: skip


def pod(ns: str, name: str, on: str, ip: str, app: str = "client") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "uid": f"p-{name}",
                                                            "labels": {"app": app}},
            "spec": {"nodeName": on, "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip


def service(*, preserve: bool = False, extra: dict[str, str] | None = None, ingress: bool = False,
            existing: bool = True) -> dict[str, Any]:  # fmt: skip
    ann = {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
           "service.beta.kubernetes.io/aws-load-balancer-internal": "true"}
    if not preserve:
        ann[TG] = "preserve_client_ip.enabled=false"
    ann.update(extra or {})
    meta: dict[str, Any] = {"name": "web", "namespace": "shop", "annotations": ann}
    if existing:
        meta["uid"] = "s-web"
    d: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": meta,
                         "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                                  "loadBalancerSourceRanges": ["10.99.0.0/16"], "externalTrafficPolicy": "Cluster",
                                  "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP",
                                             "nodePort": 30080}]}}  # fmt: skip
    if ingress:
        d["status"] = {"loadBalancer": {"ingress": [{"hostname": "web-1.elb.eu-west-1.amazonaws.com"}]}}
    return d


def config_map(ns: str, name: str, key: str, text: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {key: text}}


OPENSHIFT = ("openshift-cloud-controller-manager", "cloud-conf", "cloud.conf")
MANAGED_INI = "[Global]\nVPC = vpc-0abc\nNLBSecurityGroupMode = Managed\n"
BASE = [node("ip-a", "eu-west-1a", "10.0.1.10"), node("ip-b", "eu-west-1b", "10.0.2.10"),
        pod("shop", "web-1", "ip-a", "10.0.1.21", app="web"), pod("default", "client-a", "ip-a", "10.0.1.31")]


def _run(tmp_path: Path, items: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
         *args: str) -> tuple[int, dict[str, Any], str]:  # fmt: skip
    path = tmp_path / "dump.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=1))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["check", str(path), "--format", "json", *args])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    jsonschema.validate(doc, CONTRACT)
    return int(exc.value.code or 0), doc, err


ADMITTED = ("internal NLB with client IP preservation off: targets see the NLB's address and answer it (Kubernetes "
            "v1.35 (the newest kubelet in the input): every cloud-provider-aws v1.35 release honours it "
            "(cloud-provider-aws PR #1214))")  # fmt: skip
DROP = ("2 in-cluster caller pod(s) are outside spec.loadBalancerSourceRanges (10.99.0.0/16), e.g. default/client-a "
        "(10.0.1.31) on node ip-a: the NLB's security group drops every SYN they send, so each of their connections "
        "times out (P = 1), whatever target the NLB picks")  # fmt: skip
DIFFERS = ("the answer differs for 2 in-cluster caller pod(s) outside the source ranges (e.g. default/client-a on node "
           "ip-a) on port(s) 80/TCP, where client IP preservation is off.  NLBSecurityGroupMode not set (the default): "
           "the NLB has no security group and the targets see the NLB's address, so they are admitted.  "
           "NLBSecurityGroupMode = Managed (cloud-provider-aws v1.35.0 and later): the NLB's own security group admits "
           "only the source ranges and drops every SYN they send (P = 1)")  # fmt: skip
UNKNOWN = ("NLBSecurityGroupMode unknown (no cloud config in the input: give --cloud-config FILE, or a dump with the "
           "cloud-controller-manager's config ConfigMap): " + DIFFERS)  # fmt: skip
NOTE = ("NLBSecurityGroupMode = Managed ({src}): the cloud provider creates a security group for each NLB it creates, "
        "admitting the source ranges (else 0.0.0.0/0) on the listener ports (aws.go ensureNLBSecurityGroupRules)")


def test_unknown_mode_is_a_warning_and_the_verdict_is_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, err = _run(tmp_path, [*BASE, service()], capsys)
    s = doc["services"][0]
    assert (code, err, s["at_risk"], s["reason"], s["security_group_drop"]) == (0, "", False, ADMITTED, None)
    assert s["warnings"] == [UNKNOWN]
    assert (s["nlb_security_group_mode"], s["nlb_security_group_mode_from"]) == ("unknown", None)
    assert doc["cloud_config"] == {"nlb_security_group_mode": "unknown", "value": None, "source": None,
                                   "note": "NLBSecurityGroupMode unknown: no cloud config in the input (--cloud-config FILE)"}


def test_unknown_mode_no_warning_where_the_answer_is_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # preservation on: the targets' rules take the same ranges, dropped either way (at the target, as before)
    code, doc, _ = _run(tmp_path, [*BASE, service(preserve=True)], capsys)
    s = doc["services"][0]
    assert code == 1 and s["warnings"] == [] and s["security_group_drop"].endswith(
        "the targets' security group (client IP preserved, so they see the caller's address) drops every SYN they "
        "send, so each of their connections times out (P = 1), whatever target the NLB picks")
    # every caller inside the ranges: no warning
    inside = [*BASE[:3], pod("default", "client-a", "ip-a", "10.99.1.31")]
    svc = service()
    svc["spec"]["loadBalancerSourceRanges"] = ["10.99.0.0/16", "10.0.1.21/32"]
    code, doc, _ = _run(tmp_path, [*inside, svc], capsys)
    assert (code, doc["services"][0]["warnings"]) == (0, [])


def test_cloud_config_file_managed_drops_at_the_nlb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ini = tmp_path / "cloud.conf"
    ini.write_text("; the CCM's config\n[global]\n  nlbsecuritygroupmode = \"Managed\"  # opt in\n")
    code, doc, err = _run(tmp_path, [*BASE, service()], capsys, "--cloud-config", str(ini))
    s = doc["services"][0]
    assert (code, err, s["at_risk"], s["probability"]) == (1, "", True, 1.0)
    assert s["security_group_drop"] == DROP and s["reason"] == f"{DROP} ({ADMITTED})"
    assert s["warnings"] == [] and s["ports"][0]["at_risk"] is True
    src = f"--cloud-config {ini}"
    assert (s["nlb_security_group_mode"], s["nlb_security_group_mode_from"]) == ("Managed", src)
    assert doc["cloud_config"] == {"nlb_security_group_mode": "Managed", "value": "Managed", "source": src,
                                   "note": NOTE.format(src=src)}
    assert s["fix"] == ("admit the in-cluster callers' network in the source ranges: kubectl patch service -n shop web --type merge -p '{\"spec\": {\"loadBalancerSourceRanges\": "
                        "[\"10.99.0.0/16\", \"<VPC-CIDR>\"]}}'")


def test_openshift_config_map_and_a_generic_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = _run(tmp_path, [*BASE, service(), config_map(*OPENSHIFT, MANAGED_INI)], capsys)
    s = doc["services"][0]
    src = "ConfigMap openshift-cloud-controller-manager/cloud-conf (cloud.conf)"
    assert (code, s["security_group_drop"], s["nlb_security_group_mode_from"]) == (1, DROP, src)
    code, doc, _ = _run(tmp_path, [*BASE, service(), config_map("kube-system", "ccm-config", "cloud.ini", MANAGED_INI)], capsys)
    assert (code, doc["cloud_config"]["source"]) == (1, "ConfigMap kube-system/ccm-config (cloud.ini)")
    # a ConfigMap with a [Global] but no NLBSecurityGroupMode (another cloud's config) is not the AWS one
    code, doc, _ = _run(tmp_path, [*BASE, service(), config_map("kube-system", "x", "c", "[Global]\nzone = a\n")], capsys)
    assert (code, doc["cloud_config"]["nlb_security_group_mode"]) == (0, "unknown")


def test_openshift_without_the_setting_is_unset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = _run(tmp_path, [*BASE, service(), config_map(*OPENSHIFT, "[Global]\nVPC = vpc-0abc\n")], capsys)
    s = doc["services"][0]
    assert (code, s["at_risk"], s["warnings"], s["nlb_security_group_mode"]) == (0, False, [], "unset")
    assert doc["cloud_config"]["note"] == ("NLBSecurityGroupMode not set (ConfigMap openshift-cloud-controller-manager/"
                                           "cloud-conf (cloud.conf)): the cloud provider puts no security group on its NLBs")


def test_bad_ini_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*BASE, service()]}))
    for text, line, msg in [("[Global]\nNLBSecurityGroupMode = \"Managed\n", 2, "string not terminated (gcfg)"),
                            ("NLBSecurityGroupMode = Managed\n", 1, "variable NLBSecurityGroupMode before any [section] (gcfg)"),
                            ("[Global\n", 1, "not a section header: '[Global' (gcfg: [name] or [name \"sub\"])")]:  # fmt: skip
        ini = tmp_path / "bad.conf"
        ini.write_text(text)
        with pytest.raises(SystemExit) as exc:
            main(["check", str(dump), "--cloud-config", str(ini)])
        out, err = capsys.readouterr()
        assert (exc.value.code, out, err) == (2, "", f"hairpin: error: {ini}:{line}: {msg}\n")
    # in a ConfigMap: an input error naming the object, the other Services still checked
    bad = config_map(*OPENSHIFT, "[Global]\nNLBSecurityGroupMode = Man\\aged\n")
    code, doc, err = _run(tmp_path, [*BASE, service(), bad], capsys)
    assert code == 2 and len(doc["services"]) == 1
    assert doc["errors"] == [{"file": str(tmp_path / "dump.json"), "line": 156, "message":
                              "ConfigMap openshift-cloud-controller-manager/cloud-conf (cloud.conf) line 2: unquoted '\\' "
                              "must be followed by a new line (gcfg)"}]  # fmt: skip


def test_invalid_value_is_a_problem_and_fails_a_new_nlb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ini = tmp_path / "cloud.conf"
    ini.write_text("[Global]\nNLBSecurityGroupMode = managed\n")
    refused = (f"NLBSecurityGroupMode = managed (--cloud-config {ini}) is refused by cloud-provider-aws v1.35.0 and "
               "later (config.go IsNLBSecurityGroupModeManaged: invalid NLB security group mode: \"managed\". Expected: "
               "\"Managed\")")  # fmt: skip
    problem = (f"{refused}: the cloud provider fails every new NLB (an NLB built before is left as it is, v1.35.0 to "
               "v1.36.1); fix: NLBSecurityGroupMode = Managed, or remove it")  # fmt: skip
    code, doc, _ = _run(tmp_path, [*BASE, service()], capsys, "--cloud-config", str(ini))
    s = doc["services"][0]
    assert (code, s["problems"], s["nlb_security_group_mode"]) == (0, [problem], "invalid")
    assert s["warnings"] == ["NLBSecurityGroupMode = managed is refused by the provider (see problems): " + DIFFERS]
    code, doc, _ = _run(tmp_path, [*BASE, service(existing=False)], capsys, "--cloud-config", str(ini))
    s = doc["services"][0]
    assert (code, s["controller"], s["load_balancer"], s["problems"]) == (0, "none", "none", [problem])
    assert s["reason"] == f"{refused}: EnsureLoadBalancer fails, no load balancer is built"


def test_managed_needs_v1_35(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ini = tmp_path / "cloud.conf"
    ini.write_text(MANAGED_INI)
    code, doc, _ = _run(tmp_path, [*BASE, service()], capsys, "--cloud-config", str(ini), "--cloud-provider-version", "v1.34.3")
    s = doc["services"][0]
    # v1.34.3 honours the target group attributes annotation, so preservation stays off; no security group
    assert (code, s["at_risk"], s["nlb_security_group_mode"], s["warnings"]) == (0, False, "unset", [])
    assert doc["cloud_config"]["note"] == (
        f"NLBSecurityGroupMode = Managed (--cloud-config {ini}), but cloud-provider-aws v1.34 predates the setting "
        "(cloud-provider-aws PR #1158, in v1.35.0 and later): it ignores it and puts no security group on its NLBs")


def test_managed_and_an_nlb_that_already_exists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = _run(tmp_path, [*BASE, service(ingress=True), config_map(*OPENSHIFT, MANAGED_INI)], capsys)
    s = doc["services"][0]
    assert (code, s["security_group_drop"]) == (1, DROP)
    assert s["warnings"] == [
        "the cloud provider puts its security group only on an NLB it creates while NLBSecurityGroupMode = Managed is "
        "set (an NLB created without security groups cannot be given any: cloud-provider-aws docs/nlb_security_groups.md); "
        "if this Service's NLB (web-1.elb.eu-west-1.amazonaws.com) was created before, it has none, and on port(s) 80/TCP "
        "(client IP preservation off) its targets see the NLB's address: the 2 caller pod(s) named above are then "
        "admitted there"]  # fmt: skip


def test_own_security_groups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [*BASE, service(extra={BYO: "sg-0123"}), config_map(*OPENSHIFT, MANAGED_INI)]
    # release unknown: nothing said about the groups' rules, a warning says what a release up to v1.36.1 does
    code, doc, _ = _run(tmp_path, items, capsys)
    s = doc["services"][0]
    assert (code, s["security_group_drop"]) == (0, None)
    assert s["warnings"] == [
        f"{BYO} on an NLB with NLBSecurityGroupMode = Managed: cloud-provider-aws attaches these groups instead of its "
        "own only from cloud-provider-aws PR #1379, merged 2026-06-05, in no release up to v1.36.1 (assumed from "
        "v1.37.0); a release up to v1.36.1 ignores the annotation and attaches its managed group, which admits only "
        "the source ranges (else 0.0.0.0/0); give --cloud-provider-version to decide"]  # fmt: skip
    # v1.36.1 ignores the annotation on NLBs: its managed group drops them
    code, doc, _ = _run(tmp_path, items, capsys, "--cloud-provider-version", "v1.36.1")
    assert (code, doc["services"][0]["security_group_drop"], doc["services"][0]["warnings"]) == (1, DROP, [])
    # v1.37: the user's groups, nothing said
    code, doc, _ = _run(tmp_path, items, capsys, "--cloud-provider-version", "v1.37.0")
    assert (code, doc["services"][0]["security_group_drop"], doc["services"][0]["warnings"]) == (0, None, [])
    # not Managed: the annotation is ignored on NLBs, and no security group drops them (preservation off)
    items[-1] = config_map(*OPENSHIFT, "[Global]\n")
    code, doc, _ = _run(tmp_path, items, capsys)
    assert (code, doc["services"][0]["security_group_drop"], doc["services"][0]["warnings"]) == (0, None, [])


def test_disagreeing_config_maps_are_unknown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = [*BASE, service(), config_map(*OPENSHIFT, MANAGED_INI),
             config_map("kube-system", "old", "cloud.conf", "[Global]\nNLBSecurityGroupMode =\n")]
    code, doc, _ = _run(tmp_path, items, capsys)
    assert (code, doc["cloud_config"]["nlb_security_group_mode"]) == (0, "unknown")
    assert doc["cloud_config"]["note"] == (
        "NLBSecurityGroupMode unknown: the input's cloud configs disagree (ConfigMap openshift-cloud-controller-manager/"
        "cloud-conf (cloud.conf): Managed; ConfigMap kube-system/old (cloud.conf): (not set)); give --cloud-config FILE")
    # --cloud-config wins over them
    ini = tmp_path / "cloud.conf"
    ini.write_text(MANAGED_INI)
    code, doc, _ = _run(tmp_path, items, capsys, "--cloud-config", str(ini))
    assert (code, doc["cloud_config"]["source"]) == (1, f"--cloud-config {ini}")


def test_sarif_and_text_carry_the_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*BASE, service()]}))
    with pytest.raises(SystemExit):
        main(["check", str(path), "--format", "sarif"])
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["properties"]["cloud_config"]["nlb_security_group_mode"] == "unknown"
    with pytest.raises(SystemExit):
        main(["check", str(path)])
    assert "NLBSecurityGroupMode unknown" in " ".join(capsys.readouterr().out.split())


def test_parse_ini_follows_gcfg() -> None:
    text = ("# c\n[Global]\nA = 1\nb=\"x ; y\" ; comment\nflag\n[ServiceOverride \"1\"]\nService = s3\n"
            "[global]\nlong = a \\\n b\n")  # fmt: skip
    assert cc.parse_ini(text, "f") == {"global": {"a": "1", "b": "x ; y", "flag": "true", "long": "a  b"},
                                       "serviceoverride.1": {"service": "s3"}}
    with pytest.raises(InputError) as exc:
        cc.parse_ini("[Global]\nx = \"a\\tb\"\n", "f")
    assert exc.value.one_line() == "f:2: unknown escape sequence \\t (gcfg)"


NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,8}", fullmatch=True)
VALUES = st.text(st.characters(codec="utf-8", exclude_characters="\n\r\x00"), max_size=20)


@given(st.dictionaries(NAMES.map(str.lower), VALUES, max_size=5))
def test_quoted_values_read_back(values: dict[str, str]) -> None:
    """Any value written quoted (its \\ and " escaped) reads back as written."""
    body = "".join(f'{k} = "{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"\n'
                   for k, v in values.items())  # fmt: skip
    assert cc.parse_ini("[Global]\n" + body, "f").get("global", {}) == values
