"""The lab on the IPv6 example in kube-proxy's nftables mode, and with ClientIP affinity in both modes (root): the
node namespaces hold the ``table ip6 kube-proxy`` hairpin.kube.nftables writes (loaded with ``nft -f``), and the
real kernels agree with the simulator connection by connection."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hairpin import scenario
from hairpin.kube.nftables import ruleset

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "seed-ipv6.yaml"
NODE1, NODE2, CALLER = "2a05:d018:a:5600::a", "2a05:d018:a:5600::b", "2a05:d018:a:5600:1::5"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "ip6tables-restore", "nft", "tcpdump")),
    reason="the lab needs root, iproute2, ip6tables, nft and tcpdump",
)


def _variant(tmp_path: Path, mode: str, affinity: bool) -> scenario.Scenario:
    text = EXAMPLE.read_text().replace("  mode: iptables", f"  mode: {mode}")
    if affinity:
        text = text.replace("    external_traffic_policy: Cluster\n",
                            "    external_traffic_policy: Cluster\n    session_affinity: ClientIP\n")  # fmt: skip
    path = tmp_path / "v.yaml"
    path.write_text(text)
    return scenario.load(path)


@pytest.mark.parametrize(("mode", "affinity"), [("nftables", False), ("nftables", True), ("iptables", True)])
@pytest.mark.usefixtures("lab_dir")
def test_ipv6_lab_agrees_with_the_simulator(tmp_path: Path, mode: str, affinity: bool) -> None:
    from hairpin.backends.lab import run, up

    s = _variant(tmp_path, mode, affinity)
    node1, node2 = f"[{NODE1}]:31468", f"[{NODE2}]:31468"
    lab = up(s)
    names = list(lab.record.namespaces)
    try:
        listed = subprocess.run(["ip", "netns", "exec", lab.ns("node1"), "nft", "list", "ruleset"],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
        result = run(lab, 12, timeout=2.5, seed=1, capture=tmp_path / "cap")
    finally:
        lab.remove()
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name in left.split() for name in names)
    # iptables-nft's ip6 tables hold kubelet's canaries only; kube-proxy's table is the generated text
    tables = [line for line in listed.splitlines() if line.startswith("table ")]
    assert ("table ip6 kube-proxy {" in tables) == (mode == "nftables")
    if mode == "nftables":
        start = listed.index("table ip6 kube-proxy {")
        assert listed[start : start + len(ruleset(s, "node1"))] == ruleset(s, "node1")
    assert len(result.connections) == 12 and result.agreement == 1.0
    for c in result.connections:
        assert c.client.startswith(f"[{CALLER}]:") and c.nlb_source == c.client
        assert c.target in (node1, node2) and c.simulated_target == c.target
        assert c.outcome == c.simulated_outcome == ("timeout" if c.target == node1 else "established")
    timed_out = [c for c in result.connections if c.outcome == "timeout"]
    assert 0 < len(timed_out) < 12
    for c in timed_out:
        assert c.sequence_match is True and c.real_sequence[4] == f"{node1} > {c.client} SYN,ACK"
