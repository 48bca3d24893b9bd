"""The closed form (hairpin.aws.risk) against the simulator on generated variants of the seed cluster.

Each variant changes what the NLB chooses from: DNS not pinned, cross-zone, externalTrafficPolicy Local
(unhealthy nodes), fail-open, ip targets with preservation on, an AZ the NLB does not enable.
Tolerance: 4 binomial standard deviations of the simulated rate.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from hairpin import scenario
from hairpin.aws import risk
from hairpin.backends import sim


def variant(name: str) -> scenario.Scenario:
    s = scenario.seed()
    svc = s.client_service
    lb = svc.load_balancer
    assert lb is not None

    def with_lb(**kw: object) -> scenario.Scenario:
        return replace(s, services=(replace(svc, load_balancer=replace(lb, **kw)),))

    if name == "seed":
        return s
    if name == "dns-unpinned":
        return replace(s, client=replace(s.client, address=None))
    if name == "cross-zone":
        return with_lb(cross_zone=True)
    if name == "cross-zone-unpinned":
        return replace(with_lb(cross_zone=True), client=replace(s.client, address=None))
    if name == "etp-local":  # node2 has no endpoint: unhealthy; node1 is the only healthy AZ-a target
        return replace(s, services=(replace(svc, external_traffic_policy="Local"),))
    if name == "fail-open":  # Local with no endpoints at all: every target unhealthy
        return replace(s, services=(replace(svc, external_traffic_policy="Local", endpoints=()),))
    if name == "ip-preserve":  # ip targets with preservation on: the AZ-a pod is on the caller's node
        return with_lb(target_type="ip", preserve_client_ip=True)
    if name == "one-az-enabled":  # only eu-west-1a enabled: node3's targets get nothing
        return with_lb(nodes=(("eu-west-1a", "192.168.168.103"),), cross_zone=True)
    raise ValueError(name)


EXACT = {
    "seed": 1 / 2,
    "dns-unpinned": 1 / 4,  # 1/2 through the AZ-a node, 0 through the AZ-b node
    "cross-zone": 1 / 3,
    "cross-zone-unpinned": 1 / 3,
    "etp-local": 1.0,
    "fail-open": 1 / 3,
    "ip-preserve": 1.0,
    "one-az-enabled": 1 / 2,
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_formula_matches_simulation(name: str) -> None:
    s = variant(name)
    p = risk.timeout_probability(s)
    assert p == pytest.approx(EXACT[name])
    if name == "fail-open":
        return  # no endpoints: every connection fails at the node (no backend), which is not a hairpin
    n = 1200
    r = sim.run(s, n, seed=13)
    assert r.summary.expected_rate == pytest.approx(p)
    sd = max((p * (1 - p) / n) ** 0.5, 1e-9)
    assert abs(r.summary.rate - p) <= 4 * sd + 1e-12, (name, r.summary.rate, p)
