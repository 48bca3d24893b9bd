"""``scenario from-cluster`` infers ``cni.connmark_backend`` from the aws-node image tag and the nodes' OS images
(hairpin.kube.cni_backend): nftables on Amazon Linux 2023 with aws-node 1.23 and later, iptables otherwise,
a warning when the nodes mix OS images or their OS does not settle it; the file says why and loads back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hairpin import scenario
from hairpin.cli.main import main
from hairpin.kube import cni_backend
from hairpin.kube.from_cluster import scenario_from_objects, scenario_yaml
from hairpin.parsers import manifests as m

DUMP = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"
AL2023 = "Amazon Linux 2023.6.20250115"
AL2 = "Amazon Linux 2"
BOTTLEROCKET = "Bottlerocket OS 1.29.0 (aws-k8s-1.31)"

NFT_NOTE = ("cni.connmark_backend: nftables: every node runs Amazon Linux 2023 (Amazon Linux 2023.6.20250115 on 3 "
            "nodes), whose EKS AMI installs iptables-nft, so aws-node writes its connection marks as the nftables "
            "table ip aws-cni (set iptables for nodes switched to iptables-legacy)")  # fmt: skip
AL2_NOTE = ("cni.connmark_backend: iptables: every node runs Amazon Linux 2 (Amazon Linux 2 on 3 nodes), whose "
            "iptables is iptables-legacy, so aws-node writes its connection marks as iptables rules")  # fmt: skip
OLD_NOTE = ("cni.connmark_backend: iptables: VPC CNI 1.22 writes its connection marks as iptables rules on every "
            "node (the nftables table ip aws-cni, on nodes whose iptables is nf_tables such as Amazon Linux 2023, "
            "is 1.23 and later)")  # fmt: skip
MIXED = ("cni.connmark_backend: iptables assumed: the nodes run different OS images (Amazon Linux 2 on node3, "
         "Amazon Linux 2023.6.20250115 on 2 nodes); aws-node 1.23 writes its connection marks as the nftables table "
         "ip aws-cni on nodes whose iptables is nf_tables (Amazon Linux 2023) and as iptables rules on the others, "
         "and a scenario models one form: set cni.connmark_backend: nftables to model the nf_tables nodes")  # fmt: skip
HOW = "set cni.connmark_backend: nftables if `iptables --version` in a node's aws-node container says nf_tables"
UNKNOWN = ("cni.connmark_backend: iptables assumed: the nodes' OS image (Bottlerocket OS 1.29.0 (aws-k8s-1.31) on 3 "
           "nodes) does not tell whether their iptables is nf_tables, where aws-node 1.23 writes its connection "
           f"marks as the nftables table ip aws-cni instead; {HOW}")  # fmt: skip
NO_IMAGE = ("cni.connmark_backend: iptables assumed: the input gives no OS image for the nodes "
            "(status.nodeInfo.osImage), which could tell whether their iptables is nf_tables, where aws-node 1.23 "
            f"writes its connection marks as the nftables table ip aws-cni instead; {HOW}")  # fmt: skip


def _dump(tmp_path: Path, tag: str, images: list[str | None]) -> Path:
    """The seed's dump with ``images`` as node1..node3's osImage, an aws-node pod of ``tag`` and a kube-proxy pod."""
    doc = yaml.safe_load(DUMP.read_text())
    nodes = [it for it in doc["items"] if it["kind"] == "Node"]
    assert len(nodes) == len(images) == 3
    for node, image in zip(nodes, images, strict=True):
        if image is not None:
            node["status"]["nodeInfo"]["osImage"] = image
    pods: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": "kube-system", "labels": {"k8s-app": app}},
         "spec": {"nodeName": "node1", "hostNetwork": True, "containers": [{"name": app, "image": image}]},
         "status": {"phase": "Running", "podIP": "192.168.2.3"}}
        for name, app, image in (
            ("aws-node-x7k2p", "aws-node", f"602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:{tag}"),
            ("kube-proxy-4xk9s", "kube-proxy", "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy:v1.31.2"),
        )
    ]  # fmt: skip
    doc["items"] = [*doc["items"], *pods]
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _build(tmp_path: Path, tag: str, images: list[str | None]) -> tuple[scenario.Scenario, list[str]]:
    return scenario_from_objects(m.load_paths([_dump(tmp_path, tag, images)]),
                                 service="nginx-demo/service-nginx-demo", client="default/netshoot")  # fmt: skip


@pytest.mark.parametrize(
    ("tag", "images", "backend", "note"),
    [
        ("v1.23.0-eksbuild.1", [AL2023] * 3, "nftables", NFT_NOTE),
        ("v1.22.4-eksbuild.1", [AL2023] * 3, "iptables", OLD_NOTE),
        ("v1.23.0-eksbuild.1", [AL2] * 3, "iptables", AL2_NOTE),
        ("v1.23.0-eksbuild.1", [AL2023, AL2023, AL2], "iptables", MIXED),
        ("v1.23.0-eksbuild.1", [BOTTLEROCKET] * 3, "iptables", UNKNOWN),
        ("v1.23.1", [None] * 3, "iptables", NO_IMAGE),
        ("v1.22.4-eksbuild.1", [AL2] * 3, "iptables", None),  # nothing to say: iptables either way
    ],
)
def test_the_backend_and_why(tmp_path: Path, tag: str, images: list[str | None], backend: str,
                             note: str | None) -> None:  # fmt: skip
    s, notes = _build(tmp_path, tag, images)
    assert s.cni.connmark_backend == backend
    said = [n for n in notes if n.startswith("cni.connmark_backend")]
    assert said == ([note] if note else [])
    if note:
        assert f"# - {note}\n" in scenario_yaml(s, notes)


def test_os_images() -> None:
    assert cni_backend.os_family("Amazon Linux 2023") == ("Amazon Linux 2023", "nftables")
    assert cni_backend.os_family("Amazon Linux 2023.6.20250115") == ("Amazon Linux 2023", "nftables")
    assert cni_backend.os_family("Amazon Linux 2") == ("Amazon Linux 2", "iptables")
    for other in ("Amazon Linux 20", "Amazon Linux 2022", "Amazon Linux", BOTTLEROCKET, "Ubuntu 22.04.5 LTS", "", None):
        assert cni_backend.os_family(other) is None, other


def _from_cluster(tmp_path: Path, dump: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, list[str]]:
    out = tmp_path / "mine.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", "--service", "nginx-demo/service-nginx-demo", "--client-pod",
              "default/netshoot", str(dump), "-o", str(out)])  # fmt: skip
    assert exc.value.code in (0, None)
    return out, [x for x in capsys.readouterr().err.splitlines() if x.startswith("hairpin: warning:")]


def test_nftables_round_trips_through_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, warnings = _from_cluster(tmp_path, _dump(tmp_path, "v1.23.0-eksbuild.1", [AL2023] * 3), capsys)
    assert warnings == []
    text = out.read_text()
    assert f"# - {NFT_NOTE}\n" in text
    assert yaml.safe_load(text)["cni"] == {"name": "aws-vpc-cni", "external_snat": False, "nat_outgoing": False,
                                           "version": "1.23", "connmark_backend": "nftables"}  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "validate", str(out)])
    assert exc.value.code in (0, None)
    assert capsys.readouterr().out == f"{out}: ok (nginx-demo-service-nginx-demo: 3 nodes, 4 pods, 1 services)\n"
    assert scenario.load(out).cni.connmark_backend == "nftables"


@pytest.mark.parametrize(("images", "line"), [([AL2023, AL2023, AL2], MIXED), ([BOTTLEROCKET] * 3, UNKNOWN)])
def test_an_assumed_backend_is_one_warning_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                images: list[str | None], line: str) -> None:  # fmt: skip
    out, warnings = _from_cluster(tmp_path, _dump(tmp_path, "v1.23.0-eksbuild.1", images), capsys)
    assert warnings == [f"hairpin: warning: {line}"]
    assert f"# - {line}\n" in out.read_text()
    assert "connmark_backend" not in yaml.safe_load(out.read_text())["cni"]  # the default, not written


def test_a_bad_os_image_is_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = yaml.safe_load(_dump(tmp_path, "v1.23.0-eksbuild.1", [AL2023] * 3).read_text())
    doc["items"][0]["status"]["nodeInfo"]["osImage"] = ["Amazon Linux 2023"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", "--service", "nginx-demo/service-nginx-demo", str(tmp_path / "bad.yaml")])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"hairpin: error: {tmp_path / 'bad.yaml'}:3: status.nodeInfo.osImage is an array, not a string: kubectl "
        "refuses the file"
    ]
