"""Issue 9 fixes beyond the first three: Proxy Protocol v2, target node labels, anti-affinity (sim + closed form)."""

from __future__ import annotations

import math
import os
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from hairpin import scenario as sc
from hairpin.aws import risk
from hairpin.backends import sim
from hairpin.model.net import Flags


def _lb(s: sc.Scenario, **kw: object) -> sc.Scenario:
    svc = s.client_service
    assert svc.load_balancer is not None
    new = replace(svc, load_balancer=replace(svc.load_balancer, **kw))  # type: ignore[arg-type]
    return replace(s, services=tuple(new if x.key == svc.key else x for x in s.services))


def _within(timeouts: int, n: int, p: float) -> bool:
    sd = math.sqrt(n * p * (1 - p))
    return abs(timeouts - n * p) <= 4 * sd + 1e-9


def test_fix_names_are_known() -> None:
    assert {"proxy-protocol-v2", "target-node-labels", "anti-affinity"} <= set(sc.FIXES)
    assert set(sc.FIXES) == set(sim.FIX_WHY)


def test_proxy_protocol_v2_sets_preservation_off_and_pp2_on() -> None:
    s = sc.with_fix(sc.seed(), "proxy-protocol-v2")
    lb = s.client_service.load_balancer
    assert lb is not None
    assert lb.preserve_client_ip is False and lb.proxy_protocol_v2 is True and s.fix == "proxy-protocol-v2"
    assert risk.timeout_fraction(s) == 0


def test_proxy_protocol_v2_carries_the_client_address_to_the_backend() -> None:
    s = sc.with_fix(sc.seed(), "proxy-protocol-v2")
    c = sim.connect(s, client_port=40000, target="192.168.2.3:31468")  # the caller's own node: no hairpin now
    assert c.outcome == "established" and not c.hairpin
    nlb_syn = [h for h in c.hops if h.kind == "nlb" and h.packet.flags == Flags.SYN]
    assert nlb_syn
    first = nlb_syn[0]
    # the packet's source is the NLB (preservation off); the header names the caller pod
    assert first.packet.src != 0 and first.packet.dst == 0xC0A80203 and first.packet.dport == 31468
    assert "PROXY TCP4 192.168.27.239 192.168.168.103 40000 80" in first.action
    assert "source rewritten to the NLB's own address 192.168.168.103" in first.action


def test_without_proxy_protocol_no_header() -> None:
    c = sim.connect(sc.with_fix(sc.seed(), "no-preserve-client-ip"), client_port=40000)
    assert not any("PROXY TCP4" in h.action for h in c.hops)


def test_proxy_protocol_v2_zero_timeouts_in_sim() -> None:
    r = sim.run(sc.with_fix(sc.seed(), "proxy-protocol-v2"), 100, 0)
    assert r.summary.timeouts == 0 and r.summary.established == 100


def test_target_node_labels_derived_registers_nodes_without_callers() -> None:
    s = sc.with_fix(sc.seed(), "target-node-labels")
    lb = s.client_service.load_balancer
    assert lb is not None and lb.target_node_labels == (sc.TARGET_LABEL,)
    labelled = [n.name for n in s.nodes if sc.TARGET_LABEL in n.labels]
    assert labelled == ["node2", "node3"]
    assert risk.timeout_fraction(s) == 0
    r = sim.run(s, 100, 0)
    assert r.summary.timeouts == 0
    assert {c.target for c in r.connections} == {"192.168.21.86:31468"}  # node2, the only 1a target left


def _edge(s: sc.Scenario, names: set[str]) -> sc.Scenario:
    nodes = tuple(replace(n, labels=(("role", "edge"),)) if n.name in names else n for n in s.nodes)
    return _lb(replace(s, nodes=nodes), target_node_labels=(("role", "edge"),))


def test_target_node_labels_residual_when_the_caller_is_on_a_registered_node() -> None:
    # the scenario registers node1 (the caller's) and node2; DNS uniform over both AZ addresses:
    # 1a pool {node1, node2} -> 1/2, 1b pool {} -> withdrawn from DNS; so P = 1/2
    s = _edge(replace(sc.seed(), client=replace(sc.seed().client, address=None)), {"node1", "node2"})
    fixed = sc.with_fix(s, "target-node-labels")
    assert fixed.client_service == s.client_service  # the scenario's own labels are kept
    assert risk.timeout_fraction(fixed) == Fraction(1, 2)
    n = 400
    r = sim.run(fixed, n, 0)
    assert _within(r.summary.timeouts, n, 0.5)
    assert r.summary.timeouts > 0


def test_target_node_labels_residual_cross_zone_on() -> None:
    # node1 and node3 registered, cross-zone on: every NLB node picks from {node1, node3}: P = 1/2
    s = _lb(_edge(sc.seed(), {"node1", "node3"}), cross_zone=True)
    assert risk.timeout_fraction(s) == Fraction(1, 2)
    r = sim.run(s, 400, 1)
    assert _within(r.summary.timeouts, 400, 0.5)


def test_ip_targets_with_preservation_on_fail_when_a_target_pod_shares_the_callers_node() -> None:
    s = _lb(sc.seed(), target_type="ip", preserve_client_ip=True)
    assert risk.timeout_fraction(s) == 1  # nginx-demo-1 on node1 is the only target pod in eu-west-1a
    r = sim.run(s, 50, 0)
    assert r.summary.timeouts == 50
    # cross-zone on: 1 of the 3 target pods is on node1
    sx = _lb(s, cross_zone=True)
    assert risk.timeout_fraction(sx) == Fraction(1, 3)
    rx = sim.run(sx, 300, 0)
    assert _within(rx.summary.timeouts, 300, 1 / 3)


def test_anti_affinity_moves_target_pods_off_the_callers_node() -> None:
    s = _lb(sc.seed(), target_type="ip", preserve_client_ip=True)
    fixed = sc.with_fix(s, "anti-affinity")
    assert fixed.pod("nginx-demo-1").node == "node2"  # same AZ, no caller
    assert fixed.pod("netshoot").node == "node1"
    assert risk.timeout_fraction(fixed) == 0
    assert sim.run(fixed, 100, 0).summary.timeouts == 0


def test_anti_affinity_does_nothing_for_instance_targets() -> None:
    fixed = sc.with_fix(sc.seed(), "anti-affinity")
    assert risk.timeout_fraction(fixed) == Fraction(1, 2)  # node1 is still a target of the 1a NLB node
    r = sim.run(fixed, 400, 0)
    assert _within(r.summary.timeouts, 400, 0.5)


@pytest.mark.parametrize("fix", ["proxy-protocol-v2", "target-node-labels"])
def test_run_with_fixes_reports_the_new_fixes(fix: str) -> None:
    r = sim.run(sc.seed(), 20, 0, fixes=True)
    names = {n: s for n, s, _ in r.fixes}
    assert names[fix].timeouts == 0
    assert names["anti-affinity"].expected_rate == 0.5


# ------------------------------------------------------------------------------ the lab (real kernels, root)

_lab_ok = os.geteuid() == 0 and (Path("/usr/sbin/iptables-restore").exists() or Path("/sbin/iptables-restore").exists())


@pytest.mark.skipif(not _lab_ok, reason="the lab needs root and iptables/iproute2")
@pytest.mark.parametrize(
    ("variant", "fix", "timeouts", "targets"),
    [
        ("seed", "proxy-protocol-v2", 0, {"192.168.2.3:31468", "192.168.21.86:31468"}),
        ("seed", "target-node-labels", 0, {"192.168.21.86:31468"}),  # node1 is no longer registered
        ("ip-preserve", None, 8, {"192.168.16.142:80"}),  # nginx-demo-1 shares node1: every connection hairpins
        ("ip-preserve", "anti-affinity", 0, {"192.168.16.142:80"}),  # the same pod, moved to node2
    ],
)
@pytest.mark.usefixtures("lab_dir")
def test_new_fixes_in_the_lab(variant: str, fix: str | None, timeouts: int, targets: set[str]) -> None:
    from hairpin.backends.lab import run, up

    s = sc.seed() if variant == "seed" else _lb(sc.seed(), target_type="ip", preserve_client_ip=True)
    lab = up(sc.with_fix(s, fix) if fix else s)
    try:
        result = run(lab, 8, timeout=2.5, seed=2)
    finally:
        lab.remove()
    assert len(result.connections) == 8 and result.timeouts == timeouts and result.agreement == 1.0
    outcome = "timeout" if timeouts else "established"
    for c in result.connections:
        assert c.outcome == c.simulated_outcome == outcome
        assert c.target in targets and c.simulated_target == c.target
