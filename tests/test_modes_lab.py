"""kube-proxy's other data-path modes in the lab (root): nftables mode on the real kernel agrees with
the simulator; IPVS needs the ip_vs module, which this machine's kernel does not have."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from hairpin import scenario
from hairpin.backends.lab import run, up

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nft") is None, reason="the lab needs root and nft")


def test_nftables_mode_hairpins_in_the_kernel_as_simulated() -> None:
    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode="nftables"))
    lab = up(s, persistent=False)
    try:
        node1 = lab.ns("node1")
        listed = subprocess.run(
            ["ip", "netns", "exec", node1, "nft", "list", "table", "ip", "kube-proxy"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        ipt = subprocess.run(["ip", "netns", "exec", node1, "iptables-save"], capture_output=True, text=True).stdout
        result = run(lab, 10, timeout=2.5, seed=1)
    finally:
        lab.remove()
    assert "numgen random mod 3 vmap" in listed
    assert "KUBE-SVC-" not in ipt and "AWS-SNAT-CHAIN-0" in ipt
    assert 0 < result.timeouts < 10
    assert result.agreement == 1.0
    for c in result.connections:
        assert (c.outcome == "timeout") == (c.target == "192.168.2.3:31468")


@pytest.mark.skipif(
    not Path("/proc/net/ip_vs").exists(),
    reason="no ip_vs in this kernel (/proc/net/ip_vs absent, no modprobe): IPVS is not modelled in the lab",
)
def test_ipvs_mode_in_the_lab() -> None:
    pytest.skip("IPVS mode is not implemented yet (see docs/modes.md)")
