"""``hairpin check --kube-proxy-version``: kube-proxy's release when the input shows none (no kube-proxy pod with a
release in its image tag, no node's status.nodeInfo.kubeProxyVersion); the input wins over it, with a warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hairpin.cli.main import main
from test_kube_proxy_version import EKS, NFT, objects, proxy_pod

DUMP = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"
A, B = "192.168.168.103", "192.168.140.27"  # the seed NLB's addresses in eu-west-1a and eu-west-1b


def check(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["check", *args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def proxy_mode_status(tmp_path: Path) -> Path:
    """The seed's cluster (kubelets leave kubeProxyVersion empty, no kube-proxy pod), its NLB's two addresses in the
    Service's status with ipMode Proxy: kube-proxy 1.30 and later leave them to the NLB, earlier ones capture every
    ingress IP (KEP-1860; hairpin.kube.ipmode)."""
    doc = yaml.safe_load(DUMP.read_text())
    for item in doc["items"]:
        if item["kind"] == "Node":
            item["status"]["nodeInfo"]["kubeProxyVersion"] = ""
        if item["kind"] == "Service" and item["spec"].get("type") == "LoadBalancer":
            item["status"] = {"loadBalancer": {"ingress": [{"ip": A, "ipMode": "Proxy"}, {"ip": B, "ipMode": "Proxy"}]}}
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_release_given_decides_when_the_input_shows_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(proxy_mode_status(tmp_path))
    code, out, err = check([path, "--format", "json"], capsys)
    assert (code, err) == (1, "")  # a current kube-proxy: ipMode Proxy, the NLB's addresses reach the NLB
    doc = json.loads(out)
    assert (doc["services"][0]["at_risk"], doc["version_warnings"]) == (True, [])
    code, out, err = check([path, "--format", "json", "--kube-proxy-version", "1.29"], capsys)
    assert (code, err) == (0, "")  # 1.29 captures every ingress IP: no in-cluster caller reaches the NLB
    doc = json.loads(out)
    assert (doc["services"][0]["at_risk"], doc["version_warnings"]) == (False, [])
    assert "kube-proxy 1.29 predates LoadBalancerIPMode" in doc["services"][0]["reason"]


def test_a_release_newer_than_checked_is_warned_of(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check([str(proxy_mode_status(tmp_path)), "--format", "json", "--kube-proxy-version", "v1.37.1"],
                           capsys)  # fmt: skip
    assert (code, err) == (1, "")
    assert json.loads(out)["version_warnings"] == [
        "kube-proxy 1.37 (iptables mode) is newer than the newest release hairpin's rules were checked against (1.36); "
        "its rules are taken to be 1.36's (from --kube-proxy-version)"]  # fmt: skip


def test_the_input_wins_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    objects(tmp_path, ["v1.35.2", "v1.35.2", "v1.35.2"], extra=[NFT, proxy_pod("kube-proxy-a", EKS + "v1.33.5")])
    path = str(tmp_path / "dump.yaml")
    code, out, err = check([path, "--format", "json", "--kube-proxy-version", "1.31"], capsys)
    assert (code, err) == (1, "")
    assert json.loads(out)["version_warnings"] == [
        "--kube-proxy-version 1.31 is not used: the input shows kube-proxy 1.33 (from the image tag v1.33.5 of "
        "kube-proxy pod kube-system/kube-proxy-a), which hairpin takes"]  # fmt: skip
    code, out, err = check([path, "--format", "json", "--kube-proxy-version", "v1.33.0"], capsys)
    assert (code, err, json.loads(out)["version_warnings"]) == (1, "", [])  # the same release: nothing to say
    # a pod whose image names no release: the given release fills in, and the warning says so
    objects(tmp_path, ["v1.35.2", "v1.35.2", "v1.35.2"], extra=[NFT, proxy_pod("kube-proxy-l", EKS + "latest")])
    code, out, err = check([path, "--format", "json", "--kube-proxy-version", "1.34"], capsys)
    assert (code, err) == (1, "")
    assert json.loads(out)["version_warnings"] == [
        "the image tag latest of kube-proxy pod kube-system/kube-proxy-l names no release: kube-proxy is taken to be "
        "1.34, from --kube-proxy-version; hairpin reads kube-proxy's release from its pods' image tags, then from the "
        "nodes' status.nodeInfo.kubeProxyVersion, then from --kube-proxy-version"]  # fmt: skip


@pytest.mark.parametrize("value", ["1", "1.x", "latest", "2.0", "v1.33.4.5", "", " "])
def test_a_bad_value_is_one_line_and_exit_2(value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check([str(proxy_mode_status(tmp_path)), "--kube-proxy-version", value], capsys)
    assert (code, out) == (2, "")
    kind = "kube-proxy release" if value == "2.0" else "version"
    assert err == f"hairpin: error: --kube-proxy-version: {value!r} is not a {kind} like 1.33 or v1.33.4\n"
