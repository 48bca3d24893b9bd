"""The simulator's caches (routing decisions, per-flow-class netfilter verdicts, skipped empty hooks)
never change a result: random scenarios run with and without every cache give byte-identical JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin import scenario, sweep
from hairpin.backends import sim
from hairpin.host import LinuxHost

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))


def _doc(s: scenario.Scenario, n: int, seed: int, fixes: bool, caching: bool) -> str:
    r = sim.run(s, n, seed=seed, fixes=fixes, caching=caching)
    return json.dumps(r.to_json(all_hops=True))


points = st.fixed_dictionaries(
    {},
    optional={
        "nodes": st.integers(1, 3),
        "azs": st.integers(1, 3),
        "cross_zone": st.booleans(),
        "target_type": st.sampled_from(["instance", "ip"]),
        "preserve_client_ip": st.sampled_from([None, True, False]),
        "traffic_policy": st.sampled_from(["Cluster", "Local"]),
        "mode": st.sampled_from(["iptables", "nftables", "ipvs"]),
    },
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(point=points, seed=st.integers(0, 2**16), n=st.integers(2, 6), fixes=st.booleans())
def test_random_scenarios_identical_without_caches(point: dict[str, Any], seed: int, n: int, fixes: bool) -> None:
    s = sweep.point_scenario(scenario.seed(), point)
    assert _doc(s, n, seed, fixes, True) == _doc(s, n, seed, fixes, False)


def test_examples_identical_without_caches() -> None:
    assert EXAMPLES
    for path in EXAMPLES:
        s = scenario.load(path)
        assert _doc(s, 8, 5, False, True) == _doc(s, 8, 5, False, False), path.name


def test_caches_are_used_and_switched_off() -> None:
    """The property above compares something: with caching on, node1 keeps verdicts and skips hooks
    without rules; with caching off it keeps none."""
    s = scenario.seed()
    on = sim.Network(s, verbose=False)
    on.connect(0, 1, target="192.168.2.3:31468")
    node1 = on.hosts["node1"]
    assert isinstance(node1, LinuxHost)
    assert node1._verdicts  # filter and mangle chains are pure in the seed's rules
    assert ("raw", "PREROUTING") not in node1._live
    assert ("nat", "PREROUTING") in node1._live and node1._cacheable[("nat", "PREROUTING")] is None  # statistic
    assert node1._cacheable[("filter", "FORWARD")] == (False, False, False, False, False)
    off = sim.Network(s, verbose=False, caching=False)
    off.connect(0, 1, target="192.168.2.3:31468")
    node1 = off.hosts["node1"]
    assert isinstance(node1, LinuxHost)
    assert not node1._verdicts and not node1.routing._cache
