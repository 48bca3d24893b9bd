"""kube-proxy's other data-path modes in the lab (root): nftables mode on the real kernel agrees with
the simulator; IPVS needs the ip_vs module, which this machine's kernel does not have: the lab refuses it
before making anything."""

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


@pytest.mark.parametrize(("version", "dispatch"), [
    ("1.33", "numgen random mod 3 vmap"),
    # 1.36+ (kubernetes PR #135800 / #136499): DNAT in the service chain, the hairpin-connections set
    ("1.36", "dnat ip to numgen random mod 3 map"),
])  # fmt: skip
def test_nftables_mode_hairpins_in_the_kernel_as_simulated(version: str, dispatch: str) -> None:
    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode="nftables", version=version))
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
    assert dispatch in listed
    assert ("set hairpin-connections {" in listed) == (version == "1.36")
    assert "KUBE-SVC-" not in ipt and "AWS-SNAT-CHAIN-0" in ipt
    assert 0 < result.timeouts < 10
    assert result.agreement == 1.0
    for c in result.connections:
        assert (c.outcome == "timeout") == (c.target == "192.168.2.3:31468")


def test_ipvs_mode_is_refused_before_anything_is_made(lab_dir: Path) -> None:
    """The real preflight on this kernel: without /proc/net/ip_vs the lab names what is missing; with it, IPVS
    in the lab is still not built.  Either way no namespace and no record is made (tests/test_lab_commands.py
    checks both branches without root)."""
    from hairpin.backends.lab import build
    from hairpin.backends.lab.record import labs

    s = scenario.seed()
    with pytest.raises(build.LabUnsupported) as e:
        up(replace(s, kube_proxy=replace(s.kube_proxy, mode="ipvs")))
    if Path("/proc/net/ip_vs").exists():
        assert str(e.value).startswith("IPVS in the lab is not built yet")
    else:
        assert str(e.value) == (
            "the lab needs the kernel's IPVS (ip_vs) for kube_proxy.mode ipvs; /proc/net/ip_vs is absent on this kernel"
        )
    # a lab records itself (in HAIRPIN_LAB_DIR) before it makes its first namespace: no record, nothing made
    assert not lab_dir.exists() and labs() == []
