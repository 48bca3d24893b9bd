"""``--live`` reads the VPC CNI's DaemonSet kube-system/aws-node by name (its pod template: what a new or replaced
aws-node pod gets, hairpin.kube.cni_mode); without it (401, 403, 404) the aws-node pods alone say the settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hairpin.cli.main import main
from test_check import AWS_NODE_DS, _Api, api  # noqa: F401  (api: the stub API server's fixture)
from test_check_cni_ipv6 import V6, aws_node
from test_check_cni_pods import DIFFER, TEMPLATE, V4, daemon_set
from test_cni_init import warned, with_init

ARGS = ["check", "--kubeconfig", "KUBECONFIG", "--context", "stub", "--format", "json"]
POD = "aws-node in pod kube-system/aws-node-a"
IPV6_INIT = [{"name": "ENABLE_IPv6", "value": "true"}]


def mismatch(where: str) -> str:
    """The warning that ``where`` in IPv6 mode does not match the seed's IPv4 nodes."""
    return (
        f"VPC CNI settings do not match the cluster's family: ENABLE_IPv6=true on {where} sets IPv6 mode, but node "
        "node1's InternalIP is IPv4 (192.168.2.3); the CNI takes its family from ENABLE_IPv4 and ENABLE_IPv6 alone "
        "(pkg/ipamd/ipamd.go initNetworkConfig), so its pods get IPv6 addresses whatever the cluster's family"
    )


def _check(kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any] | None, str]:
    try:
        code = main([str(kubeconfig) if a == "KUBECONFIG" else a for a in ARGS])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else None, err


def test_the_template_is_read_by_name(api: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """A rollout from IPv4 to IPv6 under way: the pod runs IPv4, the template gives new pods IPv6.  Read under the
    documented ClusterRole (the stub answers 403 to anything else)."""
    _Api.rbac = True
    _Api.routes["/api/v1/pods"] = [*_Api.routes["/api/v1/pods"], aws_node(V4, "aws-node-a")]
    _Api.objects[AWS_NODE_DS] = daemon_set(V6)
    code, doc, err = _check(api, capsys)
    assert (code, err) == (1, "")
    assert doc is not None and doc["cni_warnings"] == [
        f"{DIFFER} {POD} has ENABLE_IPv6=false, ENABLE_IPv4=true, ENABLE_PREFIX_DELEGATION not set; {TEMPLATE} has "
        "ENABLE_IPv6=true, ENABLE_IPv4=false, ENABLE_PREFIX_DELEGATION=true (1 aws-node pod and the DaemonSet's pod "
        "template read): new and replaced pods get the template's settings, so hairpin takes the VPC CNI's mode as "
        "not known"
    ]
    assert [p for p in _Api.seen if "daemonsets" in p] == [AWS_NODE_DS]  # one get by name, never a list


def test_the_template_stands_in_for_absent_pods(api: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    _Api.objects[AWS_NODE_DS] = daemon_set(V6)
    code, doc, err = _check(api, capsys)
    assert (code, err) == (1, "")
    assert doc is not None and doc["cni_warnings"] == [mismatch(TEMPLATE)]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_without_the_template_the_pods_alone_say(api: Path, capsys: pytest.CaptureFixture[str], status: int) -> None:  # noqa: F811
    _Api.routes["/api/v1/pods"] = [*_Api.routes["/api/v1/pods"], aws_node(V4, "aws-node-a")]
    if status != 404:  # 404: the stub holds no such DaemonSet
        _Api.objects[AWS_NODE_DS] = daemon_set(V6)
        _Api.fail[AWS_NODE_DS] = status
    code, doc, err = _check(api, capsys)
    assert (code, err) == (1, "")
    assert doc is not None and doc["cni_warnings"] == []
    assert doc["services"][0]["probability"] == 0.5
    assert [p for p in _Api.seen if "daemonsets" in p] == [AWS_NODE_DS]


def test_another_failure_is_one_line(api: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    _Api.fail[AWS_NODE_DS] = 500
    code, doc, err = _check(api, capsys)
    assert (code, doc) == (2, None)
    assert err == (
        "hairpin: error: context stub: reading DaemonSet kube-system/aws-node failed: 500 Internal Server Error\n"
    )


def test_a_daemon_set_that_is_not_a_mapping_is_passed_over(api: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    _Api.objects[AWS_NODE_DS] = ["not", "a", "DaemonSet"]  # type: ignore[assignment]
    code, doc, err = _check(api, capsys)
    assert (code, err) == (1, "")
    assert doc is not None and doc["cni_warnings"] == []


def test_the_templates_init_container_is_read(api: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """The template in IPv6 mode, its init container aws-vpc-cni-init without ENABLE_IPv6 (tests/test_cni_init.py)."""
    _Api.routes["/api/v1/pods"] = [*_Api.routes["/api/v1/pods"], with_init(aws_node(V6, "aws-node-a"), IPV6_INIT)]
    _Api.objects[AWS_NODE_DS] = with_init(daemon_set(V6), None)
    code, doc, err = _check(api, capsys)
    assert (code, err) == (1, "")
    assert doc is not None and doc["cni_warnings"] == [warned(TEMPLATE, "ENABLE_IPv6 not set"), mismatch(POD)]


def test_from_cluster_says_it_too(api: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    _Api.routes["/api/v1/pods"] = [*_Api.routes["/api/v1/pods"], with_init(aws_node(V4, "aws-node-a"), None)]
    _Api.objects[AWS_NODE_DS] = with_init(daemon_set(V6), None)  # the template: IPv6 mode, its init container not
    out = tmp_path / "live.yaml"
    try:
        code = main(["scenario", "from-cluster", "--kubeconfig", str(api), "--service", "nginx-demo/service-nginx-demo",
                     "--client-pod", "default/netshoot", "-o", str(out)])  # fmt: skip
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 0
    assert [ln for ln in err.splitlines() if ln.startswith("hairpin: warning: ")] == [
        f"hairpin: warning: {DIFFER} {POD} has ENABLE_IPv6=false, ENABLE_IPv4=true, ENABLE_PREFIX_DELEGATION not set; "
        f"{TEMPLATE} has ENABLE_IPv6=true, ENABLE_IPv4=false, ENABLE_PREFIX_DELEGATION=true (1 aws-node pod and the "
        "DaemonSet's pod template read): new and replaced pods get the template's settings, so hairpin takes the VPC "
        "CNI's mode as not known",
        f"hairpin: warning: {warned(TEMPLATE, 'ENABLE_IPv6 not set')}",
    ]
    assert "# - VPC CNI settings for IPv6 are incomplete: " in out.read_text()  # the scenario's header too
