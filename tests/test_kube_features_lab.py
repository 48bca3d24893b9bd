"""kube-proxy's load-balancer VIP rules in the lab (root): with the NLB's addresses published as ipMode
VIP ingress IPs, the real kernel captures the caller's SYN on its own node, as the simulator does; and
with loadBalancerSourceRanges that leave the pods out, every connection is dropped there."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

import pytest

from hairpin import scenario
from hairpin.backends.lab import run, up

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("iptables-restore") is None,
                                reason="the lab needs root and iptables")  # fmt: skip

NLB_IPS = ("192.168.168.103", "192.168.140.27")


def _seed(mode: str = "iptables", **svc: object) -> scenario.Scenario:
    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode=mode, version="1.33" if mode == "nftables" else "1.30"))
    return replace(s, services=(replace(s.services[0], **svc),))  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
@pytest.mark.parametrize(("ranges", "outcome"), [((), "established"), (("10.0.0.0/8",), "timeout")])
def test_vip_ingress_ips_in_the_kernel_as_simulated(mode: str, ranges: tuple[str, ...], outcome: str) -> None:
    """nftables mode: the kernel runs kube-proxy's firewall check at dstnat - 10 on prerouting, as the
    simulator's host does."""
    if mode == "nftables" and shutil.which("nft") is None:
        pytest.skip("nftables mode needs nft")
    lab = up(_seed(mode, load_balancer_ips=NLB_IPS, load_balancer_source_ranges=ranges), persistent=False)
    try:
        result = run(lab, 4, timeout=2.5, seed=1)
    finally:
        lab.remove()
    assert [c.outcome for c in result.connections] == [outcome] * 4
    assert result.agreement == 1.0


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
@pytest.mark.parametrize(("ranges", "outcome"), [((), "established"), (("10.0.0.0/8",), "timeout")])
def test_source_ranges_drop_a_node_caller_in_the_kernel_as_simulated(
    mode: str, ranges: tuple[str, ...], outcome: str
) -> None:
    """A process on the node (hostNetwork pod) calling the VIP with the node's address outside the ranges:
    iptables drops it in filter OUTPUT (KUBE-PROXY-FIREWALL), nftables in its output firewall check at
    dstnat - 10, before nat-output; the simulator runs that check before DNAT too."""
    if mode == "nftables" and shutil.which("nft") is None:
        pytest.skip("nftables mode needs nft")
    s = _seed(mode, load_balancer_ips=NLB_IPS, load_balancer_source_ranges=ranges)
    s = replace(s, pods=tuple(replace(p, host_network=True, ip="192.168.2.3") if p.name == "netshoot" else p
                              for p in s.pods), name=f"fw-node-{mode[:3]}")  # fmt: skip
    lab = up(s, persistent=False)
    try:
        result = run(lab, 3, timeout=2.5, seed=1)
    finally:
        lab.remove()
    assert [c.outcome for c in result.connections] == [outcome] * 3
    assert result.agreement == 1.0


def test_kube_proxy_124_marks_a_pod_outside_the_ranges_and_the_kernel_forwards_it() -> None:
    """kube-proxy 1.24 ends KUBE-FW with -j KUBE-MARK-DROP and only kubelet's KUBE-FIREWALL (INPUT, OUTPUT)
    drops the mark: a pod's SYN to the NLB's address is forwarded, marked, to the NLB, whose own odds apply
    (the seed's hairpin: some connections time out, others are established), where 1.25+ drops every one.
    A node caller's SYN goes through OUTPUT and is dropped.  The real kernel agrees with the simulator on
    every connection."""
    s = _seed(load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8",))
    s = replace(s, kube_proxy=replace(s.kube_proxy, version="1.24"), name="fw-124")
    lab = up(s, persistent=False)
    try:
        # the NLB's pick hashes the SYN's sequence number, which the kernel draws, so 8 connections all time out
        # one run in 256 (2 nodes in the AZ): 8 more then (both sets: every connection agrees)
        runs = [run(lab, 8, timeout=2.5, seed=3)]
        if all(c.outcome == "timeout" for c in runs[0].connections):
            runs.append(run(lab, 8, timeout=2.5, seed=4))
    finally:
        lab.remove()
    outcomes = {c.outcome for r in runs for c in r.connections}
    assert all(r.agreement == 1.0 for r in runs) and "established" in outcomes, outcomes
    node = replace(s, pods=tuple(replace(p, host_network=True, ip="192.168.2.3") if p.name == "netshoot" else p
                                 for p in s.pods), name="fw-124-node")  # fmt: skip
    lab = up(node, persistent=False)
    try:
        result = run(lab, 3, timeout=2.5, seed=1)
    finally:
        lab.remove()
    assert [c.outcome for c in result.connections] == ["timeout"] * 3 and result.agreement == 1.0
