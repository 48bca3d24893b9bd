"""The VPC CNI's ``table ip aws-cni`` in the lab (root): loaded with ``nft -f`` in each node's namespace beside
iptables' tables (and kube-proxy's table in nftables mode), the real kernel gives the simulator's outcomes."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace

import pytest

from hairpin import scenario
from hairpin.backends.lab import run, up

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(x) for x in ("iptables-restore", "nft")),
    reason="the lab needs root, iptables and nft",
)


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_the_kernel_agrees_with_the_simulator(mode: str) -> None:
    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode=mode, version="1.33" if mode == "nftables" else "1.18"),
                cni=replace(s.cni, version="1.23", connmark_backend="nftables"))  # fmt: skip
    lab = up(s, persistent=False)
    try:
        listed = subprocess.run(["ip", "netns", "exec", lab.ns("node1"), "nft", "list", "table", "ip", "aws-cni"],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
        result = run(lab, 8, timeout=2.5, seed=3)
    finally:
        lab.remove()
    assert listed.startswith("table ip aws-cni {\n\tchain nat-prerouting {\n")
    assert result.agreement == 1.0
    outcomes = [c.outcome for c in result.connections]
    assert "established" in outcomes and "timeout" in outcomes
