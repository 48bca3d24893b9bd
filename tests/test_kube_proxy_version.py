"""kube-proxy's release as ``hairpin check`` and ``scenario from-cluster`` read it (``hairpin.kube.version``):
its pods' image tag first, then the nodes' ``status.nodeInfo.kubeProxyVersion`` (the kubelet's own version,
kubernetes/kubernetes ``pkg/kubelet/nodestatus/setters.go``), which kubelets of 1.33 and later leave empty
(feature gate DisableNodeKubeProxyVersion, ``pkg/features/kube_features.go``), then the oldest kubelet of 1.33 or
later."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hairpin.cli.main import main
from hairpin.diagnose import check as chk
from hairpin.diagnose.versions import oldest_kube_proxy
from hairpin.kube.cluster import Cluster
from hairpin.kube.from_cluster import scenario_from_objects
from hairpin.kube.version import ProxyVersion, kube_proxy_version, newest_kube_proxy
from hairpin.parsers import manifests as m

DUMP = yaml.safe_load((Path(__file__).parent / "data" / "check" / "seed-dump.yaml").read_text())
SVC, CLIENT = "nginx-demo/service-nginx-demo", "default/netshoot"
EKS = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy:"
NFT = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy-config", "namespace": "kube-system"},
       "data": {"config": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n"}}  # fmt: skip


def proxy_pod(name: str, image: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
            "spec": {"nodeName": "node1", "hostNetwork": True, "containers": [{"name": "kube-proxy", "image": image}]},
            "status": {"phase": "Running"}}  # fmt: skip


def objects(
    tmp_path: Path, kubelets: list[str], proxy: str = "", extra: list[dict[str, Any]] | None = None
) -> list[m.KubeObject]:
    """The seed's dump with its three nodes' nodeInfo replaced: kubeletVersion from ``kubelets``, kubeProxyVersion
    ``proxy`` ("" as kubelets of 1.33 and later write it)."""
    doc = copy.deepcopy(DUMP)
    nodes = [o for o in doc["items"] if o["kind"] == "Node"]
    assert len(nodes) == len(kubelets) == 3
    for n, v in zip(nodes, kubelets, strict=True):
        n["status"]["nodeInfo"] = {"kubeletVersion": v, "kubeProxyVersion": proxy}
    doc["items"] = [*doc["items"], *(extra or [])]
    (tmp_path / "dump.yaml").write_text(yaml.safe_dump(doc))
    return m.load_paths([tmp_path / "dump.yaml"])


def test_kubelets_of_1_33_and_later_leave_kube_proxy_version_empty_the_oldest_kubelet_is_assumed(
    tmp_path: Path,
) -> None:
    objs = objects(tmp_path, ["v1.35.2-eks-113cf36", "v1.34.4-eks-113cf36", "v1.35.2-eks-113cf36"], extra=[NFT])
    s, notes = scenario_from_objects(objs, service=SVC, client=CLIENT)
    assert (s.kube_proxy.mode, s.kube_proxy.version) == ("nftables", "1.34")  # was 1.30, the first nftables layout
    assert ("kube-proxy version not in the input (no kube-proxy pod with an image tag; kubelets leave "
            "status.nodeInfo.kubeProxyVersion empty from 1.33): 1.34, the oldest kubelet's (node node2), assumed") in notes  # fmt: skip
    assert oldest_kube_proxy(Cluster.from_objects(objs)) is None  # check: unknown (ipMode then taken as honoured)


def test_the_image_tag_of_kube_proxys_pods_wins(tmp_path: Path) -> None:
    pods = [proxy_pod("kube-proxy-b2x9q", EKS + "v1.35.0-minimal-eksbuild.3"),
            proxy_pod("kube-proxy-a7k2p", EKS + "v1.33.5-minimal-eksbuild.2@sha256:" + "c" * 64),
            proxy_pod("kube-proxy-latest", EKS + "latest")]  # fmt: skip
    objs = objects(tmp_path, ["v1.35.2-eks-1", "v1.35.2-eks-1", "v1.35.2-eks-1"], extra=[NFT, *pods])
    s, notes = scenario_from_objects(objs, service=SVC, client=CLIENT)
    assert s.kube_proxy.version == "1.33"
    assert (
        "kube-proxy 1.33 from the image tag v1.33.5-minimal-eksbuild.2 of kube-proxy pod kube-system/kube-proxy-a7k2p"
        in notes
    )
    assert kube_proxy_version(Cluster.from_objects(objs)) == ProxyVersion(
        (1, 33), "the image tag v1.33.5-minimal-eksbuild.2 of kube-proxy pod kube-system/kube-proxy-a7k2p"
    )


def test_kube_proxy_version_is_the_kubelets_so_the_image_tag_wins_over_it(tmp_path: Path) -> None:
    # a 1.29 kubelet writes kubeProxyVersion v1.29.3 whatever kube-proxy runs; the pod says 1.31: ipMode is honoured
    objs = objects(tmp_path, ["v1.29.3", "v1.29.3", "v1.29.3"], "v1.29.3",
                   [proxy_pod("kube-proxy-x", "registry.k8s.io/kube-proxy:v1.31.4")])  # fmt: skip
    assert oldest_kube_proxy(Cluster.from_objects(objs)) == (1, 31)
    objs = objects(tmp_path, ["v1.30.1", "v1.29.3", "v1.30.1"], "v1.29.3")
    assert kube_proxy_version(Cluster.from_objects(objs)) == ProxyVersion(
        (1, 29), "status.nodeInfo.kubeProxyVersion v1.29.3 of node node1, which the kubelet writes with its own version"
    )


def test_an_empty_kube_proxy_version_below_1_33_assumes_the_first_layout(tmp_path: Path) -> None:
    s, notes = scenario_from_objects(objects(tmp_path, ["v1.32.1", "v1.35.0", "v1.35.0"]), service=SVC, client=CLIENT)
    assert s.kube_proxy.version == "1.29"
    assert ("kube-proxy version unknown (no kube-proxy pod with an image tag, no node "
            "status.nodeInfo.kubeProxyVersion): 1.29 assumed") in notes  # fmt: skip


# ------------------------------------------------------------------ images that name no release, releases not checked

NO_RELEASE_TELL = ("hairpin reads kube-proxy's release from its pods' image tags, then from the nodes' "
                   "status.nodeInfo.kubeProxyVersion, then from --kube-proxy-version")  # fmt: skip


def test_kube_proxy_images_that_name_no_release_say_what_was_assumed(tmp_path: Path) -> None:
    pods = [proxy_pod("kube-proxy-latest", EKS + "latest"),
            proxy_pod("kube-proxy-digest", EKS.rstrip(":") + "@sha256:" + "e" * 64),
            proxy_pod("kube-proxy-custom", "registry.k8s.io/kube-proxy:v1.x-custom")]  # fmt: skip
    objs = objects(tmp_path, ["v1.35.2-eks-1", "v1.34.4-eks-1", "v1.35.2-eks-1"], extra=[NFT, *pods])
    c = Cluster.from_objects(objs)
    assert kube_proxy_version(c) is None
    bad = ("the image tag latest of kube-proxy pod kube-system/kube-proxy-latest (and 2 other kube-proxy pods) names "
           "no release")  # fmt: skip
    assert chk.check(objs).version_warnings == [f"{bad}: kube-proxy is taken to be 1.30 or later; {NO_RELEASE_TELL}"]
    s, notes = scenario_from_objects(objs, service=SVC, client=CLIENT)
    assert s.kube_proxy.version == "1.34"  # the oldest kubelet's, as without the pods
    assert (f"release assumed: {bad}: kube-proxy 1.34 assumed (the scenario's notes say where from); set "
            "kube_proxy.version in the scenario to the release it runs") in notes  # fmt: skip


def test_a_digest_only_kube_proxy_beside_a_tagged_one_takes_the_tag(tmp_path: Path) -> None:
    pods = [proxy_pod("kube-proxy-digest", "registry.k8s.io/kube-proxy@sha256:" + "f" * 64),
            proxy_pod("kube-proxy-tagged", "registry.k8s.io/kube-proxy:v1.33.2")]  # fmt: skip
    objs = objects(tmp_path, ["v1.33.2", "v1.33.2", "v1.33.2"], extra=pods)
    assert chk.check(objs).version_warnings == [
        "the image of kube-proxy pod kube-system/kube-proxy-digest (a digest only) names no release: kube-proxy is "
        "taken to be 1.33, from the image tag v1.33.2 of kube-proxy pod kube-system/kube-proxy-tagged; "
        + NO_RELEASE_TELL
    ]


def test_a_kube_proxy_newer_than_any_checked_says_its_rules_are_the_newest_checked(tmp_path: Path) -> None:
    objs = objects(tmp_path, ["v1.37.0", "v1.37.0", "v1.37.0"], extra=[NFT, proxy_pod("kube-proxy-n", EKS + "v1.37.0")])
    assert chk.check(objs).version_warnings == [
        "kube-proxy 1.37 (nftables mode) is newer than the newest release hairpin's rules were checked against (1.36); "
        "its rules are taken to be 1.36's (from the image tag v1.37.0 of kube-proxy pod kube-system/kube-proxy-n)"
    ]
    objs = objects(tmp_path, ["v1.36.1", "v1.36.1", "v1.36.1"], extra=[NFT, proxy_pod("kube-proxy-n", EKS + "v1.36.1")])
    assert chk.check(objs).version_warnings == []
    # no ConfigMap: the iptables mode hairpin check assumes; ipvs was checked up to 1.33 only
    objs = objects(tmp_path, ["v1.37.0", "v1.37.0", "v1.37.0"], extra=[proxy_pod("kube-proxy-n", EKS + "v1.37.0")])
    assert chk.check(objs).version_warnings == [
        "kube-proxy 1.37 (iptables mode) is newer than the newest release hairpin's rules were checked against (1.36); "
        "its rules are taken to be 1.36's (from the image tag v1.37.0 of kube-proxy pod kube-system/kube-proxy-n)"
    ]


def test_the_warnings_reach_the_text_json_and_sarif_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    objects(tmp_path, ["v1.37.0", "v1.37.0", "v1.37.0"], extra=[NFT, proxy_pod("kube-proxy-n", EKS + "v1.37.0")])
    line = ("kube-proxy 1.37 (nftables mode) is newer than the newest release hairpin's rules were checked against "
            "(1.36); its rules are taken to be 1.36's (from the image tag v1.37.0 of kube-proxy pod "
            "kube-system/kube-proxy-n)")  # fmt: skip
    outputs = {}
    for fmt in ("json", "sarif", "text"):
        with pytest.raises(SystemExit):
            main(["check", str(tmp_path / "dump.yaml"), "--format", fmt])
        outputs[fmt] = capsys.readouterr().out
    assert json.loads(outputs["json"])["version_warnings"] == [line]
    (run,) = json.loads(outputs["sarif"])["runs"]
    assert run["invocations"][0]["toolExecutionNotifications"] == [
        {"level": "warning", "message": {"text": line}, "descriptor": {"id": "versions"}}]
    assert "warning: kube-proxy 1.37 (nftables mode) is newer than" in outputs["text"]


# ------------------------------------------------------------------ mixed releases: any newer than checked is said

MIXED_137 = (
    "kube-proxy 1.37 (nftables mode) is newer than the newest release hairpin's rules were checked against (1.36); its "
    "rules are taken to be 1.36's (from the image tag v1.37.0 of kube-proxy pod kube-system/kube-proxy-new)"
)


def test_a_newer_than_checked_kube_proxy_beside_an_older_one_is_named_and_the_oldest_still_decides(
    tmp_path: Path,
) -> None:
    pods = [proxy_pod("kube-proxy-old", EKS + "v1.36.1"), proxy_pod("kube-proxy-new", EKS + "v1.37.0")]
    objs = objects(tmp_path, ["v1.36.1", "v1.37.0", "v1.37.0"], extra=[NFT, *pods])
    c = Cluster.from_objects(objs)
    assert oldest_kube_proxy(c) == (1, 36)  # behaviour: the oldest, as before
    assert newest_kube_proxy(c) == ProxyVersion((1, 37), "the image tag v1.37.0 of kube-proxy pod kube-system/kube-proxy-new")
    assert chk.check(objs).version_warnings == [
        f"{MIXED_137}; the verdicts that depend on kube-proxy's release take the oldest kube-proxy seen, 1.36 (from the "
        "image tag v1.36.1 of kube-proxy pod kube-system/kube-proxy-old): a behaviour that came in later is not on "
        "every node"
    ]
    s, notes = scenario_from_objects(objs, service=SVC, client=CLIENT)
    assert s.kube_proxy.version == "1.36"
    assert [n for n in notes if "newer than" in n] == [
        f"newer kube-proxy seen: {MIXED_137}; the scenario models the oldest kube-proxy seen, 1.36 (from the image tag "
        "v1.36.1 of kube-proxy pod kube-system/kube-proxy-old); set kube_proxy.version to reproduce a node that runs "
        "the newer one"
    ]


def test_mixed_releases_all_checked_say_nothing(tmp_path: Path) -> None:
    pods = [proxy_pod("kube-proxy-old", EKS + "v1.34.2"), proxy_pod("kube-proxy-new", EKS + "v1.36.1")]
    objs = objects(tmp_path, ["v1.34.2", "v1.36.1", "v1.36.1"], extra=[NFT, *pods])
    assert chk.check(objs).version_warnings == []
    _, notes = scenario_from_objects(objs, service=SVC, client=CLIENT)
    assert [n for n in notes if "newer" in n] == []


def test_mixed_releases_from_the_nodes_kube_proxy_version(tmp_path: Path) -> None:
    """Without pods, the nodes' kubeProxyVersion (IPVS: checked up to 1.33): the newest is named, the oldest decides."""
    objs = objects(tmp_path, ["v1.32.1", "v1.32.1", "v1.32.1"], "v1.32.1")
    doc = yaml.safe_load((tmp_path / "dump.yaml").read_text())
    nodes = [o for o in doc["items"] if o["kind"] == "Node"]
    nodes[2]["status"]["nodeInfo"] = {"kubeletVersion": "v1.34.0", "kubeProxyVersion": "v1.34.0"}
    ipvs = copy.deepcopy(NFT)
    ipvs["data"]["config"] = ipvs["data"]["config"].replace("nftables", "ipvs")  # type: ignore[index]
    doc["items"].append(ipvs)
    (tmp_path / "dump.yaml").write_text(yaml.safe_dump(doc))
    objs = m.load_paths([tmp_path / "dump.yaml"])
    assert oldest_kube_proxy(Cluster.from_objects(objs)) == (1, 32)
    assert chk.check(objs).version_warnings == [
        "kube-proxy 1.34 (ipvs mode) is newer than the newest release hairpin's rules were checked against (1.33); its "
        "rules are taken to be 1.33's (from status.nodeInfo.kubeProxyVersion v1.34.0 of node node3, which the kubelet "
        "writes with its own version); the verdicts that depend on kube-proxy's release take the oldest kube-proxy "
        "seen, 1.32 (from status.nodeInfo.kubeProxyVersion v1.32.1 of node node1, which the kubelet writes with its "
        "own version): a behaviour that came in later is not on every node"
    ]
