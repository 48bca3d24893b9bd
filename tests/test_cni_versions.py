"""The AWS VPC CNI's host rules by ``cni.version`` (hairpin.kube.cni_layout): the exact text of 1.7 and of the
newest layout, the boundaries, the scenario key, the kernel accepting the rules, the simulator, the node files,
the lab (root) and ``scenario from-cluster``."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from hairpin import scenario
from hairpin.backends import sim
from hairpin.cli.main import main
from hairpin.errors import ScenarioError
from hairpin.kube import cni, cni_layout, node_iptables
from hairpin.kube.from_cluster import scenario_from_objects, scenario_yaml
from hairpin.parsers import manifests as m

SEED = Path("src/hairpin/scenarios/seed.yaml")
DATA = Path(__file__).parent / "data"
NEWEST = f"1.{cni_layout.NEWEST_READ}"


def with_cni(version: str, **kw: bool) -> scenario.Scenario:
    s = scenario.seed()
    return replace(s, cni=replace(s.cni, version=version, **kw))


MANGLE = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-xmark 0x80/0x80
-A PREROUTING -i eni+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80
"""
VLAN = '-A PREROUTING -i vlan+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80\n'
NAT_HEAD = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
"""

#: v1.7.10's SetupHostNetwork, word for word (the vlan+ restore rule and ! -o vlan+: PR #1125, v1.7.0)
V17 = (
    MANGLE
    + VLAN
    + "COMMIT\n"
    + NAT_HEAD
    + """:AWS-SNAT-CHAIN-0 - [0:0]
:AWS-SNAT-CHAIN-1 - [0:0]
-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0
-A AWS-SNAT-CHAIN-0 ! -d 192.168.0.0/16 -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-1
-A AWS-SNAT-CHAIN-1 ! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source 192.168.2.3 --random-fully
COMMIT
"""
)

V123 = (
    MANGLE
    + VLAN
    + "COMMIT\n"
    + NAT_HEAD
    + """:AWS-CONNMARK-CHAIN-0 - [0:0]
:AWS-SNAT-CHAIN-0 - [0:0]
-A PREROUTING -i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0
-A PREROUTING -m comment --comment "AWS, CONNMARK" -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80
-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0
-A AWS-CONNMARK-CHAIN-0 -d 192.168.0.0/16 -m comment --comment "AWS CONNMARK CHAIN" -j RETURN
-A AWS-CONNMARK-CHAIN-0 -m comment --comment "AWS, CONNMARK" -j CONNMARK --set-xmark 0x80/0x80
-A AWS-SNAT-CHAIN-0 -d 192.168.0.0/16 -m comment --comment "AWS SNAT CHAIN" -j RETURN
-A AWS-SNAT-CHAIN-0 ! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source 192.168.2.3 --random-fully
COMMIT
"""
)


def test_the_default_is_1_7_in_v1_7_10s_words() -> None:
    s = scenario.seed()
    assert s.cni.version == "1.7"
    assert cni.iptables_save(s, "node1") == V17
    assert cni.iptables_save(with_cni("1.7"), "node1") == V17


def test_the_newest_layout_on_the_seeds_node1() -> None:
    assert NEWEST == "1.23"
    assert cni.iptables_save(with_cni(NEWEST), "node1") == V123


def test_1_8_chains_a_connmark_chain_per_cidr_with_state_new_until_1_12() -> None:
    v18 = cni.iptables_save(with_cni("1.8"), "node1")
    assert ('-A PREROUTING -i eni+ -m comment --comment "AWS, outbound connections" -m state --state NEW '
            "-j AWS-CONNMARK-CHAIN-0") in v18  # fmt: skip
    assert ('-A AWS-CONNMARK-CHAIN-0 ! -d 192.168.0.0/16 -m comment --comment "AWS CONNMARK CHAIN, VPC CIDR" '
            "-j AWS-CONNMARK-CHAIN-1") in v18  # fmt: skip
    assert '-A AWS-CONNMARK-CHAIN-1 -m comment --comment "AWS, CONNMARK" -j CONNMARK --set-xmark 0x80/0x80' in v18
    v112 = cni.iptables_save(with_cni("1.12"), "node1")
    assert v112 == v18.replace(" -m state --state NEW", "")


def test_1_16_to_1_22_is_what_a_real_eks_node_shows() -> None:
    """The AWS rules of `iptables -t nat -S` off a real EKS node (tests/data/trace/eks-node-S/SOURCE.md, VPC
    172.31.0.0/16, node 172.31.0.225) are 1.16's, addresses aside."""
    real = [x for x in (DATA / "trace" / "eks-node-S" / "iptables-t-nat-S").read_text().splitlines() if "AWS" in x]
    ours = cni.iptables_save(with_cni("1.19"), "node1").split("*nat", 1)[1]
    ours = ours.replace("192.168.0.0/16", "172.31.0.0/16").replace("192.168.2.3", "172.31.0.225")
    mine = [x for x in ours.splitlines() if x.startswith("-A")]
    assert sorted(mine) == sorted(x for x in real if x.startswith("-A"))
    assert cni.iptables_save(with_cni("1.16"), "node1") == cni.iptables_save(with_cni("1.22"), "node1")
    assert cni.iptables_save(with_cni("1.22"), "node1") == V123.replace(
        '"AWS CONNMARK CHAIN"', '"AWS CONNMARK CHAIN, VPC CIDR"')  # fmt: skip


def test_external_snat_by_layout() -> None:
    # 1.8 - 1.22: the chains stay (ipt.NewChain runs first), empty; 1.23 deletes the connmark chain
    old = cni.iptables_save(with_cni("1.16", external_snat=True), "node1").split("*nat", 1)[1]
    assert old == NAT_HEAD.removeprefix("*nat") + ":AWS-CONNMARK-CHAIN-0 - [0:0]\n:AWS-SNAT-CHAIN-0 - [0:0]\nCOMMIT\n"
    new = cni.iptables_save(with_cni(NEWEST, external_snat=True), "node1").split("*nat", 1)[1]
    assert new == NAT_HEAD.removeprefix("*nat") + ":AWS-SNAT-CHAIN-0 - [0:0]\nCOMMIT\n"


@pytest.mark.parametrize(
    ("version", "minor", "note"),
    [
        ("1.7", 7, None),
        ("v1.7.10", 7, None),
        ("1.8", 8, None),
        ("1.11", 8, "VPC CNI 1.11 writes the host rules of 1.8 (unchanged since then: PR #1475, v1.8.0: nat "
                    "AWS-CONNMARK-CHAIN-i)"),
        ("1.12", 12, None),
        ("1.15", 12, "VPC CNI 1.15 writes the host rules of 1.12 (unchanged since then: PR #2026, v1.12.1: no -m "
                     "state --state NEW)"),
        ("1.16", 16, None),
        ("1.19", 16, "VPC CNI 1.19 writes the host rules of 1.16 (unchanged since then: PR #2697, v1.16.0: single "
                     "chains with RETURN rules)"),
        ("1.23", 23, None),
        ("1.24", 23, "VPC CNI 1.24 is newer than the newest release hairpin's rules were read from (1.23); its "
                     "rules are taken to be 1.23's"),
    ],
)  # fmt: skip
def test_boundaries(version: str, minor: int, note: str | None) -> None:
    assert cni_layout.layout_for(version).minor == minor
    assert cni_layout.note(version) == note


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.6", "s.yaml:L: cni.version: '1.6' is not modelled; use \"1.7\" or later"),
        ("2.0", "s.yaml:L: cni.version: '2.0' is not modelled; use \"1.7\" or later"),
        ("latest", "s.yaml:L: cni.version: expected \"1.NN\", got 'latest'"),
        (1.2, "s.yaml:L: cni.version: write the version as a quoted string such as \"1.20\" (got 1.2; YAML reads "
              "an unquoted 1.20 as the number 1.2)"),
    ],
)  # fmt: skip
def test_a_bad_version_is_one_line_naming_the_key(tmp_path: Path, value: object, message: str) -> None:
    doc = yaml.safe_load(SEED.read_text())
    doc["cni"] = {"version": value}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    line = next(i for i, x in enumerate(path.read_text().splitlines(), 1) if x.strip().startswith("version:")
                and x.startswith("  ") and "cni" in path.read_text().splitlines()[i - 2])  # fmt: skip
    with pytest.raises(ScenarioError) as e:
        scenario.load(path)
    assert str(e.value) == message.replace("s.yaml", str(path)).replace(":L:", f":{line}:")
    p = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "scenario", "validate", str(path)],
                       capture_output=True, text=True, check=False)  # fmt: skip
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "cni.version: " in p.stderr


def test_the_version_loads_from_a_file(tmp_path: Path) -> None:
    doc = yaml.safe_load(SEED.read_text())
    doc["cni"] = {"version": "1.19"}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
    assert scenario.load(tmp_path / "s.yaml").cni.version == "1.19"


# ------------------------------------------------------------------------------------------ the kernel takes them

real = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(x) for x in ("iptables-nft-restore", "unshare")),
    reason="needs root, iptables-nft-restore and unshare",
)


@real
@pytest.mark.parametrize("version", ["1.8", "1.12", "1.16", NEWEST])
def test_the_rules_load_with_iptables_nft_restore(version: str) -> None:
    text = node_iptables(with_cni(version), "node1")
    p = subprocess.run(["unshare", "--net", "iptables-nft-restore", "--test"], input=text, text=True,
                       capture_output=True, check=False)  # fmt: skip
    assert (p.returncode, p.stderr) == (0, "")


# ------------------------------------------------------------------------------------------ the simulator


def _synack_to_the_pod(c: sim.Connection) -> list[str]:
    """Where node1 sends the de-NATed SYN-ACK from node:NodePort to the client pod (first round)."""
    return [h.at for h in c.hops if h.kind == "send" and h.t < 0.5 and h.packet.flags.label() == "SYN,ACK"
            and str(h.packet.source) == "192.168.2.3:31468" and str(h.packet.dest).startswith("192.168.27.239:")]  # fmt: skip


def test_the_seed_fails_the_same_with_the_newest_cni() -> None:
    """The failure does not rest on the CNI's rules for primary-ENI pods: same seed, same connections."""
    old = sim.run(scenario.seed(), 60, seed=3)
    new = sim.run(with_cni(NEWEST), 60, seed=3)
    assert 0 < new.summary.timeouts < 60
    assert (new.summary.timeouts, new.summary.rate) == (old.summary.timeouts, old.summary.rate)
    assert [(c.target, c.outcome) for c in new.connections] == [(c.target, c.outcome) for c in old.connections]
    timed_out = new.example("timeout")
    assert timed_out is not None and timed_out.hairpin
    # the asymmetric SYN-ACK: node:NodePort straight to the pod's veth, and the pod resets it
    assert [at.split()[:2] for at in _synack_to_the_pod(timed_out)] == [["node1", "enie348bef9edc"]]
    assert any(h.kind == "send" and h.packet.flags.label() == "RST" and str(h.packet.dest) == "192.168.2.3:31468"
               for h in timed_out.hops)  # fmt: skip


# ------------------------------------------------------------------------------------------ node files + trace


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400", "PYTHONPATH": "src"}
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          env=env, check=False)  # fmt: skip


def _outcomes(out: str) -> list[str]:
    return [x.strip() for x in out.splitlines() if x.strip().startswith("=>")]


def test_node_files_trace_to_the_same_outcomes(tmp_path: Path) -> None:
    doc = yaml.safe_load(SEED.read_text())
    found = {}
    for v in ("1.7", NEWEST):
        doc["cni"] = {"version": v}
        (tmp_path / f"{v}.yaml").write_text(yaml.safe_dump(doc))
        p = _cli("scenario", "nodes", str(tmp_path / f"{v}.yaml"), str(tmp_path / v))
        assert p.returncode == 0, p.stderr
        node1 = str(tmp_path / v / "node1")
        found[v] = [
            _outcomes(_cli("trace", "--node", node1, "tcp 192.168.27.239:40000 > 192.168.168.103:80 syn in enie348bef9edc").stdout),
            _outcomes(_cli("trace", "--node", node1, "--reply", "tcp 192.168.27.239:40000 > 192.168.2.3:31468 syn in eth0").stdout),
            _outcomes(_cli("trace", "--node", node1, "tcp 192.168.27.239:40000 > 8.8.8.8:443 syn in enie348bef9edc").stdout),
        ]  # fmt: skip
    assert found["1.7"][:2] == found[NEWEST][:2] and all(found["1.7"])
    assert "AWS CONNMARK CHAIN" in (tmp_path / NEWEST / "node1" / "iptables-save").read_text()
    # leaving the VPC: the same way out, now by the fwmark rule the new connmark chain feeds
    via = "forwarded out eth0 as tcp 192.168.2.3:56364 > 8.8.8.8:443 SYN"
    assert found["1.7"][2] == [f"=> {via} (table main: default via 192.168.0.1 dev eth0)"]
    assert found[NEWEST][2] == [
        f"=> {via} (rule 1024: from all fwmark 0x80/0x80 lookup main; table main: default via 192.168.0.1 dev eth0)"
    ]


# ------------------------------------------------------------------------------------------ from-cluster

AWS_NODE_POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "aws-node-x7k2p", "namespace": "kube-system", "uid": "p-aws-node",
                 "labels": {"k8s-app": "aws-node"}},
    "spec": {"nodeName": "node1", "hostNetwork": True,
             "containers": [{"name": "aws-node",
                             "image": "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.19.0-eksbuild.1"},
                            {"name": "aws-eks-nodeagent",
                             "image": "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon/aws-network-policy-agent:v1.1.2"}]},
    "status": {"phase": "Running", "podIP": "192.168.2.3"},
}  # fmt: skip


def _objects(tmp_path: Path, pods: list[dict[str, object]]) -> list[m.KubeObject]:
    doc = yaml.safe_load((DATA / "check" / "seed-dump.yaml").read_text())
    doc["items"] = [*doc["items"], *pods]
    (tmp_path / "dump.yaml").write_text(yaml.safe_dump(doc))
    return m.load_paths([tmp_path / "dump.yaml"])


def test_from_cluster_takes_the_version_from_the_aws_node_image(tmp_path: Path) -> None:
    s, notes = scenario_from_objects(_objects(tmp_path, [AWS_NODE_POD]), service="nginx-demo/service-nginx-demo",
                                     client="default/netshoot")  # fmt: skip
    assert s.cni.version == "1.19"
    assert "VPC CNI 1.19 from the image tag v1.19.0-eksbuild.1 of aws-node pod kube-system/aws-node-x7k2p" in notes
    assert ("VPC CNI 1.19 writes the host rules of 1.16 (unchanged since then: PR #2697, v1.16.0: single chains "
            "with RETURN rules)") in notes  # fmt: skip
    text = scenario_yaml(s, notes)
    (tmp_path / "s.yaml").write_text(text)
    assert scenario.load(tmp_path / "s.yaml").cni.version == "1.19"
    assert "# - VPC CNI 1.19 from the image tag v1.19.0-eksbuild.1 of aws-node pod kube-system/aws-node-x7k2p\n" in text


def test_from_cluster_without_aws_node_keeps_the_default(tmp_path: Path) -> None:
    s, notes = scenario_from_objects(_objects(tmp_path, []), service="nginx-demo/service-nginx-demo",
                                     client="default/netshoot")  # fmt: skip
    assert s.cni.version == "1.7"
    assert ("VPC CNI version unknown (no aws-node pod with an amazon-k8s-cni image in the input): 1.7 assumed"
            in notes)  # fmt: skip


@pytest.mark.parametrize(("image", "why"), [
    ("602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni@sha256:" + "d" * 64,
     "the amazon-k8s-cni image of aws-node pod kube-system/aws-node-x7k2p (a digest only) names no release"),
    ("602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:latest",
     "the amazon-k8s-cni image tag latest of aws-node pod kube-system/aws-node-x7k2p names no release"),
    ("602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:main",
     "the amazon-k8s-cni image tag main of aws-node pod kube-system/aws-node-x7k2p names no release"),
])  # fmt: skip
def test_from_cluster_says_which_release_it_assumed_for_an_image_that_names_none(
    tmp_path: Path, image: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pod = copy.deepcopy(AWS_NODE_POD)
    pod["spec"]["containers"][0]["image"] = image  # type: ignore[index]
    s, notes = scenario_from_objects(_objects(tmp_path, [pod]), service="nginx-demo/service-nginx-demo",
                                     client="default/netshoot")  # fmt: skip
    assert s.cni.version == "1.7"
    line = f"release assumed: {why}: VPC CNI 1.7 assumed; set cni.version in the scenario to the release it runs"
    assert [n for n in notes if "VPC CNI" in n] == [line]
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(tmp_path / "dump.yaml"), "--service", "nginx-demo/service-nginx-demo",
              "--client-pod", "default/netshoot", "-o", str(tmp_path / "s.yaml")])  # fmt: skip
    assert exc.value.code in (0, None)
    assert f"hairpin: warning: {line}\n" in capsys.readouterr().err


def test_from_cluster_takes_a_released_tag_over_one_that_names_none(tmp_path: Path) -> None:
    latest = copy.deepcopy(AWS_NODE_POD)
    latest["metadata"]["name"] = "aws-node-latest"  # type: ignore[index]
    latest["spec"]["containers"][0]["image"] = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:latest"  # type: ignore[index]
    s, notes = scenario_from_objects(_objects(tmp_path, [latest, AWS_NODE_POD]), service="nginx-demo/service-nginx-demo",
                                     client="default/netshoot")  # fmt: skip
    assert s.cni.version == "1.19"
    assert [n for n in notes if "aws-node pod " in n and "CNI" in n] == [
        "VPC CNI 1.19 from the image tag v1.19.0-eksbuild.1 of aws-node pod kube-system/aws-node-x7k2p (other aws-node "
        "pods run latest)",
        "release assumed: the amazon-k8s-cni image tag latest of aws-node pod kube-system/aws-node-latest names no "
        "release: VPC CNI 1.19 taken from aws-node pod kube-system/aws-node-x7k2p; set cni.version in the scenario to "
        "the release it runs",
    ]


# ------------------------------------------------------------------------------------------ the lab (root)


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("iptables-restore"),
    reason="the lab needs root and iptables/iproute2",
)
@pytest.mark.usefixtures("lab_dir")
def test_the_lab_agrees_with_the_simulator_on_the_newest_cni() -> None:
    from hairpin.backends.lab import run, up

    lab = up(with_cni(NEWEST))
    try:
        result = run(lab, 8, timeout=2.5, seed=1)
        saved = subprocess.run(["ip", "netns", "exec", lab.ns("node1"), "iptables-save", "-t", "nat"],
                               capture_output=True, text=True, check=False).stdout  # fmt: skip
    finally:
        lab.remove()
    assert not [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                          check=True).stdout.split() if n.startswith(lab.record.prefix)]  # fmt: skip
    assert result.agreement == 1.0 and 0 < result.timeouts < 8
    assert all(c.simulated_outcome == c.outcome for c in result.connections)
    assert '-A AWS-CONNMARK-CHAIN-0 -d 192.168.0.0/16 -m comment --comment "AWS CONNMARK CHAIN" -j RETURN' in saved
