"""The security-group drop in real kernels (root only): the lab's vpc namespace drops what the NLB's (or the
targets') security group would, every connection times out, and the simulator agrees connection by connection."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import needs_root_and
from hairpin import scenario
from hairpin.aws import risk
from hairpin.backends.lab import run, up

pytestmark = [needs_root_and("ip", "iptables-restore"), pytest.mark.usefixtures("lab_dir")]



def _variant(**kw: object) -> scenario.Scenario:
    s = scenario.seed()
    svc = s.client_service
    lb = svc.load_balancer
    assert lb is not None
    return replace(s, services=(replace(svc, load_balancer=replace(lb, **kw)),))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "timeouts"),
    [
        ({"security_groups": True, "source_ranges": ("10.99.0.0/16",)}, 4),  # dropped at the NLB: every one
        ({"source_ranges": ("10.99.0.0/16",)}, 4),  # no NLB groups, preservation on: dropped at the target
        ({"security_groups": True, "source_ranges": ("192.168.0.0/16",)}, None),  # admitted: the seed's hairpin only
    ],
)
def test_security_group_drop_in_the_lab(kw: dict[str, object], timeouts: int | None) -> None:
    s = _variant(**kw)
    n = 4
    lab = up(s)
    try:
        result = run(lab, n, timeout=2.5, seed=3)
    finally:
        lab.remove()
    assert len(result.connections) == n and result.agreement == 1.0
    assert all(c.simulated_outcome == c.outcome for c in result.connections)
    if timeouts is not None:
        assert result.timeouts == timeouts and risk.timeout_probability(s) == 1.0
        # a dropped SYN leaves no conntrack entry in the vpc namespace, so the lab names no target; the simulator
        # names the one the NLB picked when the drop is at the target, none when it is at the NLB
        assert all(c.target == "" for c in result.connections)
        assert all(bool(c.simulated_target) == ("security_groups" not in kw) for c in result.connections)
    else:
        assert risk.timeout_probability(s) == 0.5
        assert all(c.outcome == "established" or c.target == "192.168.2.3:31468" for c in result.connections)
