"""What does not fix the hairpin, shown as such: client retries (p^(n+1)) and externalTrafficPolicy Local."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace

import pytest

from hairpin import retries, scenario
from hairpin.aws import risk
from hairpin.backends import sim
from hairpin.model.net import Flags


def local_policy(s: scenario.Scenario) -> scenario.Scenario:
    key = s.client_service.key
    return replace(s, services=tuple(replace(x, external_traffic_policy="Local", health_check_node_port=32000)
                                     if x.key == key else x for x in s.services))  # fmt: skip


def test_retries_follow_p_to_the_n_plus_one() -> None:
    run = sim.run(scenario.seed(), 3000, 7)
    for n in (1, 2, 3):
        r = retries.summary(run, n)
        assert r.requests == 3000 // (n + 1) and r.expected == pytest.approx(0.5 ** (n + 1))
        sd = math.sqrt(r.expected * (1 - r.expected) / r.requests)
        assert abs(r.rate - r.expected) < 4 * sd, (n, r)
        assert r.attempt_timeout_s == 127.0


def test_retries_in_reproduce_json() -> None:
    out = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "reproduce", "--connections", "400", "--no-fixes",
                          "--retries", "2", "--format", "json"], capture_output=True, text=True, check=True).stdout  # fmt: skip
    r = json.loads(out)["retries"]
    assert (r["retries"], r["requests"], r["expected_rate"], r["per_attempt_rate"]) == (2, 133, 0.125, 0.5)


def test_external_traffic_policy_local_makes_the_seed_fail_every_time() -> None:
    """Only nodes with a local endpoint pass the NLB health check: in eu-west-1a that is node1, the
    caller's own node, so (cross-zone off) every connection is sent back to it; kube-proxy DNATs to the
    local endpoint without masquerading, and the endpoint's SYN-ACK is de-NATed to node1:31468 and
    delivered straight to the client pod, which resets it."""
    s = local_policy(scenario.seed())
    assert risk.timeout_fraction(s) == 1
    run = sim.run(s, 60, 0)
    assert run.summary.timeouts == 60 and {c.target for c in run.connections} == {"192.168.2.3:31468"}
    c = run.connections[0]
    first = [h for h in c.hops if h.t < 0.5]
    syn_to_pod = next(h for h in first if h.at == "node1 eni851d8a400b6")
    assert str(syn_to_pod.packet) == f"tcp {c.client} > 192.168.16.142:80 SYN"  # DNAT, client address kept
    synack = next(h for h in first if h.at == "node1 enie348bef9edc")
    assert synack.packet.flags == Flags.SYN | Flags.ACK and str(synack.packet.source) == "192.168.2.3:31468"
    assert any(h.packet.flags == Flags.RST and str(h.packet.source) == c.client for h in first)


def test_external_traffic_policy_local_with_preservation_off_works() -> None:
    s = scenario.with_fix(local_policy(scenario.seed()), "no-preserve-client-ip")
    assert sim.run(s, 40, 0).summary.timeouts == 0
