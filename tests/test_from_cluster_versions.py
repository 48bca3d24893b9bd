"""``hairpin scenario from-cluster`` on releases newer than hairpin's rules were checked against: a warning, as
``hairpin check`` gives for the same kube-proxy (the model may be wrong for that release), not a note."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from hairpin.cli.main import main
from test_cni_versions import AWS_NODE_POD
from test_kube_proxy_version import CLIENT, EKS, NFT, SVC, objects, proxy_pod

KP_137 = ("kube-proxy 1.37 (nftables mode) is newer than the newest release hairpin's rules were checked against "
          "(1.36); its rules are taken to be 1.36's")  # fmt: skip
CNI_124 = ("VPC CNI 1.24 is newer than the newest release hairpin's rules were read from (1.23); its rules are taken "
           "to be 1.23's")  # fmt: skip


def aws_node(tag: str) -> dict[str, object]:
    pod = copy.deepcopy(AWS_NODE_POD)
    pod["spec"]["containers"][0]["image"] = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:" + tag  # type: ignore[index]
    return pod


def from_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(tmp_path / "dump.yaml"), "--service", SVC, "--client-pod", CLIENT,
              "-o", str(tmp_path / "s.yaml")])  # fmt: skip
    return int(exc.value.code or 0), capsys.readouterr().err.splitlines()


def test_newer_kube_proxy_and_vpc_cni_are_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    objects(tmp_path, ["v1.37.0"] * 3, extra=[NFT, proxy_pod("kube-proxy-n", EKS + "v1.37.0"), aws_node("v1.24.0")])
    code, err = from_cluster(tmp_path, capsys)
    assert code == 0
    said = [line for line in err if "is newer than" in line]
    assert said == [f"hairpin: warning: {KP_137}", f"hairpin: warning: {CNI_124}"]


def test_a_checked_release_that_takes_an_older_layout_stays_a_note(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    objects(tmp_path, ["v1.36.0"] * 3, extra=[NFT, proxy_pod("kube-proxy-n", EKS + "v1.36.0"), aws_node("v1.19.0")])
    code, err = from_cluster(tmp_path, capsys)
    assert code == 0
    assert [line for line in err if "VPC CNI" in line or "kube-proxy 1." in line] == [
        "hairpin: note: VPC CNI 1.19 writes the host rules of 1.16 (unchanged since then: PR #2697, v1.16.0: single "
        "chains with RETURN rules)"]  # fmt: skip


def test_a_newer_kube_proxy_beside_the_oldest_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pods = [proxy_pod("kube-proxy-old", EKS + "v1.36.1"), proxy_pod("kube-proxy-new", EKS + "v1.37.0")]
    objects(tmp_path, ["v1.36.1", "v1.37.0", "v1.37.0"], extra=[NFT, *pods, aws_node("v1.23.0")])
    code, err = from_cluster(tmp_path, capsys)
    assert code == 0
    assert [line for line in err if "is newer than" in line] == [
        f"hairpin: warning: newer kube-proxy seen: {KP_137} (from the image tag v1.37.0 of kube-proxy pod "
        "kube-system/kube-proxy-new); the scenario models the oldest kube-proxy seen, 1.36 (from the image tag v1.36.1 "
        "of kube-proxy pod kube-system/kube-proxy-old); set kube_proxy.version to reproduce a node that runs the newer "
        "one"
    ]
    assert "\nkube_proxy: {mode: nftables, version: '1.36'}\n" in (tmp_path / "s.yaml").read_text()
