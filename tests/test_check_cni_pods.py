"""The AWS VPC CNI's settings read from every aws-node pod and the DaemonSet kube-system/aws-node's pod template
(``hairpin.kube.cni_mode.cni_settings``), and what ``hairpin check`` and ``scenario from-cluster`` say of them:
sources that differ (a rollout under way), a family that does not match the cluster's, the image tag.

Facts: aws/amazon-vpc-cni-k8s ``pkg/ipamd/ipamd.go`` (New reads ENABLE_IPv4/ENABLE_IPv6 once at start;
initNetworkConfig takes the primary ENI's address of that family), ``utils/utils.go`` GetBoolAsStringEnvVar.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hairpin.cli.main import main
from hairpin.diagnose import check as chk
from hairpin.kube.cni_mode import DIFFER, ENV, TEMPLATE, CniMode, CniSettings, cni_mode, cni_settings
from hairpin.kube.datapath import Seen
from hairpin.kube.from_cluster import scenario_from_objects
from hairpin.parsers import manifests as m
from test_check import CONTRACT
from test_check_cni_ipv6 import V6, aws_node, inited
from test_check_datapath import KUBE_PROXY, NODES, PROXY_CONFIG, service

DATA = Path(__file__).parent / "data" / "check"
V4 = {"ENABLE_IPv6": "false", "ENABLE_IPv4": "true"}
A, B, C = (f"aws-node in pod kube-system/aws-node-{x}" for x in "abc")
NOT_KNOWN = "each node runs with its own pod's settings, so hairpin takes the VPC CNI's mode as not known"
NO_FAMILY = ("hairpin cannot tell the cluster's primary family, the family the API server gives a Service without "
             "spec.ipFamilies; taken as IPv4, for the Service default/api, a manifest without spec.ipFamilies")  # fmt: skip


def daemon_set(env: dict[str, str | None], image: str = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:"
               "v1.20.4-eksbuild.2", ns: str = "kube-system", name: str = "aws-node") -> dict[str, Any]:  # fmt: skip
    pod = aws_node(env)
    ctrs = pod["spec"]["containers"]
    ctrs[0]["image"] = image
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": ns, "uid": "ds-1"},
            "spec": {"selector": {"matchLabels": {"k8s-app": "aws-node"}},
                     "template": {"metadata": {"labels": {"k8s-app": "aws-node"}},
                                  "spec": {"initContainers": pod["spec"]["initContainers"], "containers": ctrs}}}}  # fmt: skip


# ------------------------------------------------------------------------------------------ cni_settings


@pytest.mark.parametrize(("pods", "template", "want"), [
    ([], None, CniSettings(None, None, ())),
    # agreeing pods: the first one's reading, no warning
    ([(A, V4), (B, V4)], None, CniSettings(CniMode(False, f"ENABLE_IPv6=false on {A}"), None, ())),
    # values ipamd reads alike (ParseBool: true and True; unset and false both false) are no difference
    ([(A, V6), (B, {**V6, "ENABLE_IPv6": "True", "ENABLE_IPv4": "0"})], None,
     CniSettings(CniMode(True, f"ENABLE_IPv6=true on {A}"), None, (), True)),
    ([(A, {**V4, "ENABLE_PREFIX_DELEGATION": "false"}), (B, V4)], None,
     CniSettings(CniMode(False, f"ENABLE_IPv6=false on {A}"), None, ())),
    # a difference that leaves the mode as it is: a warning, the mode still known
    ([(A, V4), (B, V4), (C, {**V4, "ENABLE_PREFIX_DELEGATION": "true"})], None,
     CniSettings(CniMode(False, f"ENABLE_IPv6=false on {A}"), None, (
         f"{DIFFER} {A} has ENABLE_PREFIX_DELEGATION not set; {C} has ENABLE_PREFIX_DELEGATION=true "
         "(3 aws-node pods read)",))),
    # the mode differs: not known, whichever pod comes first
    ([(A, V4), (B, V6)], None, CniSettings(None, (
        f"the aws-node sources disagree on the VPC CNI's mode (IPv4 mode, ENABLE_IPv6=false on {A}; IPv6 mode, "
        f"ENABLE_IPv6=true on {B})"), (
        f"{DIFFER} {A} has ENABLE_IPv6=false, ENABLE_IPv4=true, ENABLE_PREFIX_DELEGATION not set; {B} has "
        f"ENABLE_IPv6=true, ENABLE_IPv4=false, ENABLE_PREFIX_DELEGATION=true (2 aws-node pods read): {NOT_KNOWN}",),
        True)),
    # a value from a ConfigMap is unknown: it may differ, so it is said and the mode is not known
    ([(A, V6), (B, {**V6, "ENABLE_IPv6": None})], None, CniSettings(None, (
        f"the aws-node sources disagree on the VPC CNI's mode (IPv6 mode, ENABLE_IPv6=true on {A}; not given on "
        f"{B})"), (f"{DIFFER} {A} has ENABLE_IPv6=true; {B} has ENABLE_IPv6 from a ConfigMap or Secret (valueFrom, "
                   f"not in the input) (2 aws-node pods read): {NOT_KNOWN}",), True)),
    # two pods differing from the first on different variables: one warning each
    ([(A, V4), (B, {**V4, "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"}), (C, {**V4, "ENABLE_IPv4": "TRUE\n"})],
     None, CniSettings(None, (
         f"the aws-node sources disagree on the VPC CNI's mode (IPv4 mode, ENABLE_IPv6=false on {A}; IPv4 mode, "
         f"ENABLE_IPv6=false on {C}, which ipamd refuses (\"IPv4 and IPv6 are both disabled. One of them have to be "
         "enabled\"))"), (
         f"{DIFFER} {A} has AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG not set; {B} has AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG=true "
         f"(3 aws-node pods read): {NOT_KNOWN}",
         f"{DIFFER} {A} has ENABLE_IPv4=true; {C} has ENABLE_IPv4='TRUE\\n' (3 aws-node pods read)"))),
    # the DaemonSet's template alone stands in for the pods
    ([], (TEMPLATE, V6), CniSettings(CniMode(True, f"ENABLE_IPv6=true on {TEMPLATE}"), None, (), True)),
    # pods and template agree: the pods' reading (what runs)
    ([(A, V6)], (TEMPLATE, V6), CniSettings(CniMode(True, f"ENABLE_IPv6=true on {A}"), None, (), True)),
    # a rollout under way: the template (what new pods get) differs from the pods (what runs)
    ([(A, V4), (B, V4)], (TEMPLATE, V6), CniSettings(None, (
        f"the aws-node sources disagree on the VPC CNI's mode (IPv4 mode, ENABLE_IPv6=false on {A}; IPv6 mode, "
        f"ENABLE_IPv6=true on {TEMPLATE})"), (
        f"{DIFFER} {A} has ENABLE_IPv6=false, ENABLE_IPv4=true, ENABLE_PREFIX_DELEGATION not set; {TEMPLATE} has "
        "ENABLE_IPv6=true, ENABLE_IPv4=false, ENABLE_PREFIX_DELEGATION=true (2 aws-node pods and the DaemonSet's pod "
        "template read): new and replaced pods get the template's settings, so hairpin takes the VPC CNI's mode as "
        "not known",), True)),
])  # fmt: skip
def test_cni_settings(pods: list[tuple[str, dict[str, str | None]]], template: tuple[str, dict[str, str | None]] | None,
                      want: CniSettings) -> None:  # fmt: skip
    assert cni_settings(pods, template) == want


_VALUES = st.one_of(st.none(), st.sampled_from(["true", "false", "True", "0", "1", "yes", ""]))
_ENVS = st.dictionaries(st.sampled_from(ENV), _VALUES, max_size=len(ENV))


@given(st.lists(_ENVS, min_size=1, max_size=6), st.one_of(st.none(), _ENVS))
def test_cni_settings_never_claims_a_mode_a_source_does_not_give(envs: list[dict[str, str | None]],
                                                                 template: dict[str, str | None] | None) -> None:  # fmt: skip
    pods = [(f"aws-node in pod kube-system/p{i}", e) for i, e in enumerate(envs)]
    got = cni_settings(pods, (TEMPLATE, template) if template is not None else None)
    sources = [*pods, *([(TEMPLATE, template)] if template is not None else [])]
    modes = [cni_mode(e, w) for w, e in sources]
    if got.mode is not None:  # a mode is given only when every source gives the same one, named by the first
        assert all(x is not None and (x.ipv6, x.refused) == (got.mode.ipv6, got.mode.refused) for x in modes)
        assert got.mode == modes[0] and got.split is None
    else:
        assert got.split is not None or all(x is None for x in modes)
    assert got.any_ipv6 == any(x is not None and x.ipv6 for x in modes)
    # identical sources never warn; each warning names the first source and a later one
    if all(e == envs[0] for e in [*envs, *([template] if template is not None else [])]):
        assert got.warnings == () and got.split is None
    for w in got.warnings:
        assert w.startswith(f"{DIFFER} aws-node in pod kube-system/p0 has ")


# ------------------------------------------------------------------------------------------ Seen


@pytest.mark.parametrize(("image", "tag"), [
    ("602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.19.2-eksbuild.1", "v1.19.2-eksbuild.1"),
    ("registry:5000/amazon-k8s-cni", ""),  # a registry's port is no tag
    ("registry:5000/amazon-k8s-cni:v1.20.0", "v1.20.0"),
    ("public.ecr.aws/eks/amazon-k8s-cni@sha256:" + "a" * 64, ""),  # a digest only
    ("public.ecr.aws/eks/amazon-k8s-cni:v1.18.6@sha256:" + "b" * 64, "v1.18.6"),  # the tag beside a digest
    ("amazon-k8s-cni:v1.7.5", "v1.7.5"),
    ("registry:5000/amazon-k8s-cni:v1.19.0\x1b[2J", repr("v1.19.0\x1b[2J")),  # shown quoted, never raw
])  # fmt: skip
def test_aws_node_image_tag(image: str, tag: str) -> None:
    pod = aws_node(V4, "aws-node-a")
    pod["spec"]["containers"][0]["image"] = image
    ds = daemon_set(V4, image)
    s = Seen()
    s.see_pods([pod])
    s.see_daemon_set(ds)
    assert s.aws_node_tags == ([(tag, "kube-system/aws-node-a")] if tag else [])
    assert s.cni_template_tag == tag


def test_seen_reads_the_aws_node_daemon_set_only() -> None:
    s = Seen()
    for ds in (daemon_set(V6, ns="default"), daemon_set(V6, name="aws-node-windows"),
               {"kind": "DaemonSet", "metadata": {"name": "aws-node", "namespace": "kube-system"}, "spec": "x"}):  # fmt: skip
        s.see_daemon_set(ds)
    assert (s.cni_template, s.cni_template_tag, s.cni_mode) == (None, "", None)
    s.see_daemon_set(daemon_set(V6))
    assert s.cni_template == (TEMPLATE, inited(V6))
    assert s.cni_mode == CniMode(True, f"ENABLE_IPv6=true on {TEMPLATE}")
    assert s.aws_node_pods == 0  # the template is no pod: the datapath's pod counts are the pods'


# ------------------------------------------------------------------------------------------ hairpin check


def _families(*docs: dict[str, Any]) -> list[str]:
    """``_manifest``'s report's ``ip_family_warnings``: a doubt on the primary family, said once for the report."""
    text = (DATA / "ipv6" / "refused.yaml").read_text().replace("  ipFamilies: [IPv6]\n  ipFamilyPolicy: SingleStack\n", "")  # fmt: skip
    text += "".join("---\n" + yaml.safe_dump(d) for d in docs)
    return chk.check(m.parse_yaml(text, "t.yaml")).ip_family_warnings


def _manifest(*docs: dict[str, Any]) -> tuple[chk.Finding, tuple[str, ...]]:
    """refused.yaml's internal NLB without spec.ipFamilies (a manifest: its family is the cluster's primary one)."""
    text = (
        (DATA / "ipv6" / "refused.yaml")
        .read_text()
        .replace("  ipFamilies: [IPv6]\n  ipFamilyPolicy: SingleStack\n", "")
    )
    text += "".join("---\n" + yaml.safe_dump(d) for d in docs)
    report = chk.check(m.parse_yaml(text, "t.yaml"))
    (f,) = report.findings
    return f, report.cni_warnings


def test_one_ipv6_pod_among_ipv4_ones_gives_no_family() -> None:
    """Before, the first aws-node pod decided: an IPv6 one made the manifest IPv6 (no load balancer built)."""
    f, warned = _manifest(aws_node(V6, "aws-node-a"), aws_node(V4, "aws-node-b"))
    assert (f.at_risk, f.settings.controller, f.settings.tg_ip_address_type) == (
        True,
        "aws-load-balancer-controller",
        "ipv4",
    )
    assert f.warnings == []  # said once for the report
    assert _families(aws_node(V6, "aws-node-a"), aws_node(V4, "aws-node-b")) == [
        f"the aws-node sources disagree on the VPC CNI's mode (IPv6 mode, ENABLE_IPv6=true on {A}; IPv4 mode, "
        f"ENABLE_IPv6=false on {B}): {NO_FAMILY}"]  # fmt: skip
    assert warned == (f"{DIFFER} {A} has ENABLE_IPv6=true, ENABLE_IPv4=false, ENABLE_PREFIX_DELEGATION=true; {B} has "
                      f"ENABLE_IPv6=false, ENABLE_IPv4=true, ENABLE_PREFIX_DELEGATION not set (2 aws-node pods read): "
                      f"{NOT_KNOWN}",)  # fmt: skip
    # pods that differ between IPv4 readings only: IPv4 as before, no family doubt
    f, warned = _manifest(aws_node(V4, "aws-node-a"), aws_node({**V4, "ENABLE_IPv4": "1"}, "aws-node-b"),
                          aws_node({**V4, "ENABLE_PREFIX_DELEGATION": "true"}, "aws-node-c"))  # fmt: skip
    assert (f.settings.tg_ip_address_type, f.warnings) == ("ipv4", [])
    assert _families(aws_node(V4, "aws-node-a"), aws_node({**V4, "ENABLE_IPv4": "1"}, "aws-node-b")) == []
    assert warned == (f"{DIFFER} {A} has ENABLE_PREFIX_DELEGATION not set; {C} has ENABLE_PREFIX_DELEGATION=true "
                      "(3 aws-node pods read)",)  # fmt: skip


def test_the_daemon_set_template() -> None:
    # no pod in the input: the template stands in (an IPv6 cluster: no load balancer without dualstack)
    f, warned = _manifest(daemon_set(V6))
    assert (f.settings.controller, f.warnings, warned) == ("none", [], ())
    assert (f"no spec.ipFamilies: the API server gives the Service the cluster's primary family, IPv6 (the VPC CNI "
            f"runs in IPv6 mode, ENABLE_IPv6=true on {TEMPLATE}: an IPv6 cluster)") in f.settings.steps  # fmt: skip
    # pods and template agree: the pods' reading is named (what runs now)
    f, warned = _manifest(aws_node(V6, "aws-node-a"), daemon_set(V6))
    assert (f.settings.controller, warned) == ("none", ())
    assert any(f"ENABLE_IPv6=true on {A}: an IPv6 cluster" in step for step in f.settings.steps)
    # a rollout to IPv6 under way: the pods run IPv4, new pods get IPv6; neither wins
    f, warned = _manifest(aws_node(V4, "aws-node-a"), daemon_set(V6))
    assert (f.settings.tg_ip_address_type, len(warned)) == ("ipv4", 1)
    assert f.warnings == []  # said once for the report
    assert _families(aws_node(V4, "aws-node-a"), daemon_set(V6)) == [
        f"the aws-node sources disagree on the VPC CNI's mode (IPv4 mode, ENABLE_IPv6=false on {A}; IPv6 mode, "
        f"ENABLE_IPv6=true on {TEMPLATE}): {NO_FAMILY}"]  # fmt: skip
    assert warned[0].endswith("(1 aws-node pod and the DaemonSet's pod template read): new and replaced pods get the "
                              "template's settings, so hairpin takes the VPC CNI's mode as not known")  # fmt: skip


def _node(name: str, ip: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": f"n-{name}",
            "labels": {"topology.kubernetes.io/zone": "eu-west-1a"}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}  # fmt: skip


def _api_service(ip: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default", "uid": "k"},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
                     "ipFamilies": ["IPv6" if ":" in ip else "IPv4"], "ports": [{"port": 443}]}}  # fmt: skip


MISMATCH = ("VPC CNI settings do not match the cluster's family: {where} sets {got} mode, but {shown}; the CNI takes "
            "its family from ENABLE_IPv4 and ENABLE_IPv6 alone (pkg/ipamd/ipamd.go initNetworkConfig), so its pods get "
            "{got} addresses whatever the cluster's family")  # fmt: skip


def test_a_family_that_does_not_match_the_nodes() -> None:
    # IPv6 nodes, the CNI in IPv4 mode: warned; the nodes still give the primary family
    f, warned = _manifest(
        aws_node(V4, "aws-node-a"), _node("n0", "2a05:d018:1:a00::10"), _node("n1", "2a05:d018:1:a00::11")
    )
    assert warned == (MISMATCH.format(where=f"ENABLE_IPv6=false on {A}", got="IPv4",
                                      shown="every node's InternalIP is IPv6 (n0: 2a05:d018:1:a00::10, and 1 other node)"),)  # fmt: skip
    assert (f.settings.controller, f.warnings) == ("none", [])
    # the CNI in IPv6 mode, an IPv4 node: warned at the top, and the manifest's family once for the report
    docs = (aws_node(V6, "aws-node-a"), _node("n0", "2a05:d018:1:a00::10"), _node("n1", "10.0.1.11"))
    f, warned = _manifest(*docs)
    assert warned == (MISMATCH.format(where=f"ENABLE_IPv6=true on {A}", got="IPv6",
                                      shown="node n1's InternalIP is IPv4 (10.0.1.11)"),)  # fmt: skip
    assert f.warnings == []
    assert _families(*docs) == [f"the VPC CNI runs in IPv6 mode (ENABLE_IPv6=true on {A}), but node n1's InternalIP is "
                                f"IPv4 (10.0.1.11): {NO_FAMILY}"]  # fmt: skip
    # the Service default/kubernetes shows the primary range's family
    _, warned = _manifest(aws_node(V4, "aws-node-a"), _api_service("fd12:3456:789a::1"))
    assert warned == (MISMATCH.format(where=f"ENABLE_IPv6=false on {A}", got="IPv4", shown=(
        "the Service default/kubernetes has the cluster IP fd12:3456:789a::1, the first of the cluster's primary "
        "range")),)  # fmt: skip
    # matching families, settings ipamd refuses (said on the manifest), no CNI mode: nothing at the top
    for docs in ([aws_node(V4, "aws-node-a"), _node("n0", "10.0.1.10"), _api_service("172.20.0.1")],
                 [aws_node(V6, "aws-node-a"), _node("n0", "2a05:d018:1:a00::10"), _api_service("fd12:3456:789a::1")],
                 [aws_node({**V6, "ENABLE_PREFIX_DELEGATION": "false"}, "aws-node-a"), _node("n0", "10.0.1.10")],
                 [aws_node({}, "aws-node-a"), _node("n0", "2a05:d018:1:a00::10")]):  # fmt: skip
        assert _manifest(*docs)[1] == ()


def _cli(tmp_path: Path, items: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], fmt: str) -> tuple[int, str]:
    dump = tmp_path / "dump.json"
    items = [*NODES, service(), *KUBE_PROXY, PROXY_CONFIG, *items]
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    with pytest.raises(SystemExit) as exc:
        main(["check", str(dump), "--format", fmt])
    out, err = capsys.readouterr()
    assert err == ""
    return int(exc.value.code or 0), out


def test_check_says_it_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pods = [aws_node(V4, "aws-node-a"), aws_node(V4, "aws-node-b"), aws_node(V6, "aws-node-c")]
    want = (f"{DIFFER} {A} has ENABLE_IPv6=false, ENABLE_IPv4=true, ENABLE_PREFIX_DELEGATION not set; {C} has "
            "ENABLE_IPv6=true, ENABLE_IPv4=false, ENABLE_PREFIX_DELEGATION=true (3 aws-node pods read): "
            f"{NOT_KNOWN}")  # fmt: skip
    code, text = _cli(tmp_path, pods, capsys, "text")
    lines = text.splitlines()
    assert code == 1  # the Service is at risk: the warning changes no exit code
    assert lines[1] == f"warning: {want}"
    assert [ln for ln in lines if ln.startswith("warning: ")] == [f"warning: {want}"]
    code, js = _cli(tmp_path, pods, capsys, "json")
    doc = json.loads(js)
    jsonschema.validate(doc, CONTRACT)
    assert (code, doc["cni_warnings"], doc["datapath"]) == (1, [want], None)
    code, sarif = _cli(tmp_path, pods, capsys, "sarif")
    (run,) = json.loads(sarif)["runs"]
    (inv,) = run["invocations"]
    assert code == 1
    assert inv["toolExecutionNotifications"] == [
        {"level": "warning", "message": {"text": want}, "descriptor": {"id": "cni"}}
    ]
    assert run["properties"]["cni_warnings"] == [want]
    # pods that agree: nothing new, the field empty
    code, js = _cli(tmp_path, pods[:2], capsys, "json")
    assert (code, json.loads(js)["cni_warnings"]) == (1, [])


def test_a_lowercase_daemonset_kind_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = daemon_set(V6)
    ds["kind"] = "daemonset"
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*NODES, service(), ds]}))
    with pytest.raises(SystemExit) as exc:
        main(["check", str(dump)])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.splitlines() == [f"hairpin: error: {dump}:1: kind 'daemonset' is not 'DaemonSet': kinds are case-sensitive, "
                                'kubectl refuses the object (no matches for kind "daemonset")']  # fmt: skip


# ------------------------------------------------------------------------------------------ scenario from-cluster


def _dump(tmp_path: Path, extra: list[dict[str, Any]]) -> Path:
    doc = yaml.safe_load((DATA / "seed-dump.yaml").read_text())
    doc["items"] = [*doc["items"], *copy.deepcopy(extra)]
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_from_cluster_version_and_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svc = "nginx-demo/service-nginx-demo"
    # no aws-node pod: the DaemonSet's template gives the release
    _, notes = scenario_from_objects(m.load_paths([_dump(tmp_path, [daemon_set(V4)])]), service=svc)
    assert ("VPC CNI 1.20 from the image tag v1.20.4-eksbuild.2 of the pod template of DaemonSet kube-system/aws-node"
            in notes)  # fmt: skip
    # pods win (what runs); the template's other release is said
    pods = [aws_node(V4, "aws-node-a"), aws_node({**V4, "ENABLE_IPv6": "true"}, "aws-node-b")]
    built, notes = scenario_from_objects(m.load_paths([_dump(tmp_path, [*pods, daemon_set(V4)])]), service=svc)
    assert built.cni.version == "1.19"
    assert ("VPC CNI 1.19 from the image tag v1.19.2 of aws-node pod kube-system/aws-node-a (the pod template of "
            "DaemonSet kube-system/aws-node has v1.20.4-eksbuild.2)") in notes  # fmt: skip
    differ = (f"{DIFFER} {A} has ENABLE_IPv6=false; {B} has ENABLE_IPv6=true "
              "(2 aws-node pods and the DaemonSet's pod template read): each node runs with its own pod's settings, "
              "so hairpin takes the VPC CNI's mode as not known")  # fmt: skip
    assert differ in notes
    out = tmp_path / "s.yaml"
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "scenario",
                "from-cluster",
                str(_dump(tmp_path, [*pods, daemon_set(V4)])),
                "--service",
                svc,
                "-o",
                str(out),
            ]
        )
    assert exc.value.code in (0, None)
    assert f"hairpin: warning: {differ}\n" in capsys.readouterr().err
