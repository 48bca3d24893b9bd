"""examples/: every file loads, matches the published JSON Schema, and simulates to the outcome its
opening comment promises.  The counts are what seed 0 gives over 600 connections (measured); each is
checked against the closed form of hairpin.aws.risk (within 4 standard deviations of the binomial)."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from hairpin import scenario
from hairpin.aws import risk
from hairpin.backends import sim
from hairpin.model.net import Endpoint, Flags, addr_int
from hairpin.tcp import syn_schedule

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCHEMA = json.loads(resources.files("hairpin").joinpath("scenarios/schema.json").read_text())
N, SEED = 600, 0


@dataclass(frozen=True)
class Expected:
    closed_form: Fraction
    timeouts: int  # of N connections with SEED
    targets: dict[str, tuple[int, str]]  # target -> (connections, their outcome)
    own: str  # the target on the caller's own node (node:NodePort, or the pod for ip targets)
    own_outcome: str  # what a connection sent there does
    synack_from: str  # where the caller's (first) SYN-ACK of that connection comes from
    syns: int = 1  # SYNs the caller sends on that connection
    elapsed_s: float | None = None  # when it gives up (timeouts)


EXPECTED = {
    "seed-ip-targets.yaml": Expected(
        Fraction(0), 0, {"192.168.16.142:80": (600, "established")},
        own="192.168.16.142:80", own_outcome="established", synack_from="192.168.168.103:80",
    ),
    "three-az-cross-zone.yaml": Expected(
        Fraction(1, 6), 89,
        {"10.20.1.11:30443": (89, "timeout"), "10.20.2.12:30443": (108, "established"),
         "10.20.33.21:30443": (94, "established"), "10.20.34.22:30443": (88, "established"),
         "10.20.65.31:30443": (102, "established"), "10.20.66.32:30443": (119, "established")},
        own="10.20.1.11:30443", own_outcome="timeout", synack_from="10.20.1.11:30443", syns=7, elapsed_s=127.0,
    ),
    "etp-local.yaml": Expected(
        Fraction(1, 2), 317, {"10.0.1.10:31080": (317, "timeout"), "10.0.17.10:31080": (283, "established")},
        own="10.0.1.10:31080", own_outcome="timeout", synack_from="10.0.1.10:31080", syns=7, elapsed_s=127.0,
    ),
    "nftables-mode.yaml": Expected(
        Fraction(1, 2), 298, {"10.1.0.10:30080": (298, "timeout"), "10.1.1.10:30080": (302, "established")},
        own="10.1.0.10:30080", own_outcome="timeout", synack_from="10.1.0.10:30080", syns=11, elapsed_s=131.0,
    ),
    "ipvs-mode.yaml": Expected(
        Fraction(1, 3), 191,
        {"10.2.0.10:30080": (191, "timeout"), "10.2.1.10:30080": (201, "established"),
         "10.2.2.10:30080": (208, "established")},
        own="10.2.0.10:30080", own_outcome="timeout", synack_from="10.2.0.10:30080", syns=7, elapsed_s=127.0,
    ),
    "internet-facing.yaml": Expected(
        Fraction(0), 0, {"192.168.2.3:31443": (300, "established"), "192.168.21.86:31443": (300, "established")},
        own="192.168.2.3:31443", own_outcome="established", synack_from="198.51.100.10:443",
    ),
    # IPv6 (a single-stack IPv6 cluster, dualstack NLB with an IPv6 target group): the seed's outcome
    "seed-ipv6.yaml": Expected(
        Fraction(1, 2), 306,
        {"[2a05:d018:a:5600::a]:31468": (306, "timeout"), "[2a05:d018:a:5600::b]:31468": (294, "established")},
        own="[2a05:d018:a:5600::a]:31468", own_outcome="timeout", synack_from="[2a05:d018:a:5600::a]:31468", syns=7,
        elapsed_s=127.0,
    ),
    "clb.yaml": Expected(
        Fraction(0), 0, {"192.168.2.3:31468": (297, "established"), "192.168.21.86:31468": (303, "established")},
        own="192.168.2.3:31468", own_outcome="established", synack_from="192.168.168.103:80",
    ),
}  # fmt: skip


def test_every_example_has_expectations() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(EXPECTED)
    assert 4 <= len(EXPECTED) <= 8


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_loads_and_matches_the_schema(name: str) -> None:
    path = EXAMPLES / name
    text = path.read_text()
    assert text.startswith("# ") and "Expected outcome:" in text.split("\nname:")[0]
    errors = [e.message for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(yaml.safe_load(text))]
    assert errors == []
    s = scenario.load(path)
    assert s.name == path.stem


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_simulates_to_its_promised_outcome(name: str) -> None:
    want = EXPECTED[name]
    s = scenario.load(EXAMPLES / name)
    p = risk.timeout_fraction(s)
    assert p == want.closed_form
    run = sim.run(s, N, SEED)
    assert (run.summary.timeouts, run.summary.resets, run.summary.established) == (want.timeouts, 0, N - want.timeouts)
    assert run.summary.expected_rate == float(p)
    if p in (0, 1):
        assert want.timeouts == p * N
    else:
        assert abs(want.timeouts - p * N) <= 4 * math.sqrt(N * p * (1 - p))
    by_target = Counter((c.target, c.outcome) for c in run.connections)
    assert dict(by_target) == {(t, outcome): n for t, (n, outcome) in want.targets.items()}

    # one connection the load balancer sends to the caller's own node (or pod), replayed with every hop
    own = next(c for c in run.connections if c.target == want.own)
    c = sim.Network(s).connect(own.id, SEED)
    assert (c.target, c.outcome, c.syns) == (want.own, want.own_outcome, want.syns)
    assert c.hairpin == (want.own_outcome == "timeout")
    caller = addr_int(s.client_pod.ip)
    synacks = [h.packet for h in c.hops if h.kind == "deliver" and h.packet.dst == caller
               and h.packet.flags == Flags.SYN | Flags.ACK]  # fmt: skip
    assert synacks and str(Endpoint(synacks[0].src, synacks[0].sport)) == want.synack_from
    # it succeeds exactly when the SYN-ACK comes from the address:port the caller called
    assert (want.synack_from == c.service) == (want.own_outcome == "established")
    if want.elapsed_s is not None:
        times, give_up = syn_schedule(s.kernel.tcp_syn_retries, s.kernel.tcp_syn_linear_timeouts)
        assert (len(times), give_up) == (want.syns, want.elapsed_s)
        assert c.elapsed_s == pytest.approx(want.elapsed_s)
        assert len(synacks) == want.syns  # every retransmitted SYN is answered from node:NodePort again
