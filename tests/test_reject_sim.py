"""A Service without endpoints in the simulator: kube-proxy's "has no endpoints" REJECT is a rejection with the
kernel's answer named (not a plain drop), and the NLB's health checks fail on every node, so it fails open
(hairpin.host._reject, hairpin.netfilter.targets.reject_reply, hairpin.aws.nlb.targets_for, hairpin.aws.risk)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from hairpin import scenario
from hairpin.aws import risk
from hairpin.aws.nlb import Nlb, targets_for
from hairpin.backends import sim
from hairpin.netfilter.matches import Unknown
from hairpin.netfilter.targets import reject_reply


def _without_endpoints() -> scenario.Scenario:
    s = scenario.seed()
    return replace(s, services=(replace(s.services[0], endpoints=()),))


def test_reject_reply_words() -> None:
    assert reject_reply(None) == "ICMP port unreachable"  # libipt_REJECT's default
    assert reject_reply("icmp-host-prohibited") == "ICMP host prohibited"
    assert reject_reply("icmp-admin-prohibited") == "ICMP administratively prohibited"
    assert reject_reply("tcp-reset") == "TCP RST"
    assert reject_reply(None, v6=True) == "ICMPv6 port unreachable"  # libip6t_REJECT's default
    assert reject_reply("icmp6-adm-prohibited", v6=True) == "ICMPv6 administratively prohibited"
    with pytest.raises(Unknown):
        reject_reply("icmp-nonsense")


def test_no_endpoints_every_node_fails_the_health_check_and_the_nlb_fails_open() -> None:
    s = _without_endpoints()
    svc = s.client_service
    assert [(t.name, t.healthy) for t in targets_for(s, svc)] == [("node1", False), ("node2", False),
                                                                   ("node3", False)]  # fmt: skip
    nlb = Nlb(s, svc)
    assert {n.az: sorted(t.name for t in n.targets) for n in nlb.nodes.values()} == {
        "eu-west-1a": ["node1", "node2", "node3"], "eu-west-1b": ["node1", "node2", "node3"]}  # fmt: skip
    assert risk.timeout_fraction(s) == Fraction(1, 3)
    # with endpoints, externalTrafficPolicy Cluster: every node healthy, as before
    assert all(t.healthy for t in targets_for(scenario.seed(), scenario.seed().client_service))
    assert risk.timeout_fraction(scenario.seed()) == Fraction(1, 2)


def test_the_node_rejects_the_syn_and_says_what_it_answers() -> None:
    s = _without_endpoints()
    c = sim.connect(s, client_port=40000, target="192.168.21.86:31468")
    assert c.outcome == "timeout"
    (hop,) = [h for h in c.hops if h.kind == "drop"][:1]
    assert hop.lane == "node2"
    notes = hop.action.split(" | ")
    assert ("rejected in filter INPUT by REJECT (nginx-demo/service-nginx-demo: has no endpoints): ICMP port "
            "unreachable to 192.168.27.239") in notes  # fmt: skip
    assert "REJECT's answer is not simulated further" in notes
    assert not any(n.startswith("dropped in") for n in notes)
    # the caller's own node rejects it the same way
    c = sim.connect(s, client_port=40001, target="192.168.2.3:31468")
    assert c.outcome == "timeout"
    assert [h.lane for h in c.hops if h.kind == "drop"][:1] == ["node1"]


def test_a_bulk_connections_rejection_is_named_in_the_warning() -> None:
    """Connections of a bulk run are recorded without words; the warning replays the one it names."""
    from pathlib import Path

    from hairpin import story

    s = scenario.load(Path(__file__).resolve().parents[1] / "examples" / "seed-ipv6.yaml")
    s = replace(s, services=(replace(s.services[0], endpoints=()),))
    r = sim.run(s, 10, 0, fixes=False)
    assert not any(h.action for h in r.connections[1].hops[:5])  # recorded without words
    assert story.elsewhere(r) == (9, "#1: node2: rejected in filter INPUT by REJECT (nginx-demo/service-nginx-demo "
                                     "has no endpoints): ICMPv6 port unreachable to 2a05:d018:a:5600:1::5")  # fmt: skip
