"""The simulator on the seed scenario: the seed's packet sequence, the rate, the fixes, determinism."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from hairpin import scenario
from hairpin.backends import sim
from hairpin.model.net import Flags

CLIENT = "192.168.27.239"
VIP = "192.168.168.103:80"
NODE1 = "192.168.2.3"
NODE_PORT = f"{NODE1}:31468"


@pytest.fixture(scope="module")
def seed_scenario() -> scenario.Scenario:
    return scenario.seed()


@pytest.fixture(scope="module")
def hairpinned(seed_scenario: scenario.Scenario) -> sim.Connection:
    return sim.connect(seed_scenario, client_port=49134, target=NODE_PORT, seed=7)


def _sent(conn: sim.Connection) -> list[tuple[str, str, str, str, float]]:
    return [(h.at, str(h.packet.source), str(h.packet.dest), h.packet.flags.label(), h.t)
            for h in conn.hops if h.kind in ("send", "nlb")]  # fmt: skip


def test_hairpinned_connection_follows_the_seed_step_by_step(hairpinned: sim.Connection) -> None:
    c = hairpinned
    assert c.outcome == "timeout" and c.hairpin and c.target == NODE_PORT
    sent = _sent(c)
    first_round = [s for s in sent if s[4] < 0.5]
    flows = [(src, dst, flags) for _, src, dst, flags, _ in first_round]
    # 1. the pod's SYN to the VIP
    assert flows[0] == (f"{CLIENT}:49134", VIP, "SYN")
    # 2. the NLB keeps the client IP and rewrites the destination to node:NodePort
    i_nlb = flows.index((f"{CLIENT}:49134", NODE_PORT, "SYN"))
    assert first_round[i_nlb][0] == "NLB 192.168.168.103"
    # 3. kube-proxy DNAT + MASQUERADE: node:P -> backend:80
    masq = next(f for f in flows[i_nlb:] if f[0].startswith(f"{NODE1}:") and f[2] == "SYN" and f[1].endswith(":80"))
    masq_src, backend = masq[0], masq[1]
    assert backend in ("192.168.39.2:80", "192.168.49.70:80", "192.168.16.142:80")
    # 4. the backend answers the node
    assert (backend, masq_src, "SYN,ACK") in flows
    # 5. the de-NATed SYN-ACK goes from node:NodePort straight to the client pod's veth
    synack = next(s for s in first_round if (s[1], s[2], s[3]) == (NODE_PORT, f"{CLIENT}:49134", "SYN,ACK"))
    assert synack[0].startswith("node1 eni")
    delivered = [h for h in c.hops if h.kind == "deliver" and h.lane == "netshoot" and h.t < 0.5]
    assert str(delivered[0].packet.source) == NODE_PORT and "no socket matches" in delivered[0].action
    # 6. the client resets it
    assert (f"{CLIENT}:49134", NODE_PORT, "RST") in flows
    # 7. conntrack forwards the RST to the backend
    assert (masq_src, backend, "RST") in flows
    at_backend = [
        h for h in c.hops if h.kind == "deliver" and h.packet.flags == Flags.RST and str(h.packet.dest) == backend
    ]
    assert at_backend and "RST drops the request socket" in at_backend[0].action
    # 8. SYN retransmits on the kernel's schedule until ETIMEDOUT at 127 s
    syn_times = [round(t, 3) for at, src, dst, fl, t in sent if at == "pod netshoot eth0" and fl == "SYN"]
    assert syn_times == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    assert c.elapsed_s == pytest.approx(127.0)
    assert c.hops[-1].kind == "timeout" and "ETIMEDOUT after 7 SYNs" in c.hops[-1].action


def test_every_retransmission_is_hairpinned_again_with_a_fresh_conntrack_entry(hairpinned: sim.Connection) -> None:
    rsts = [h for h in hairpinned.hops if h.lane == "netshoot" and h.kind == "send" and h.packet.flags == Flags.RST]
    assert len(rsts) == 7
    reopened = [h for h in hairpinned.hops if "re-opens closed entry" in h.action or "re-opens" in h.action]
    # the RST moved node1's entry to CLOSE; each retransmitted SYN re-opens it (or finds it expired after 10 s)
    assert len(reopened) >= 3


def test_the_nlb_picking_another_node_succeeds_through_the_nlb(seed_scenario: scenario.Scenario) -> None:
    c = sim.connect(seed_scenario, client_port=49135, target="192.168.21.86:31468")
    assert c.outcome == "established" and not c.hairpin
    back = [h for h in c.hops if h.kind == "nlb" and h.packet.flags == Flags.SYN | Flags.ACK]
    assert [(str(h.packet.source), str(h.packet.dest)) for h in back] == [(VIP, f"{CLIENT}:49135")]
    assert c.elapsed_s < 0.01


def test_rate_agrees_with_the_closed_form(seed_scenario: scenario.Scenario) -> None:
    n = 2000
    r = sim.run(seed_scenario, n, seed=11)
    assert r.summary.expected_rate == pytest.approx(0.5)
    assert r.summary.attempts == n and r.summary.timeouts + r.summary.established == n
    # binomial: sd = sqrt(p(1-p)/n) = 0.0112; 4 sd
    assert abs(r.summary.rate - 0.5) < 4 * (0.25 / n) ** 0.5
    # every timeout is a connection the NLB sent to the client's own node, and only those
    for c in r.connections:
        assert (c.outcome == "timeout") == (c.target == NODE_PORT)


@pytest.mark.parametrize("fix", sorted(set(scenario.FIXES) - {"anti-affinity"}))  # ip targets only: test_fixes.py
def test_each_workaround_gives_no_timeouts(seed_scenario: scenario.Scenario, fix: str) -> None:
    r = sim.run(scenario.with_fix(seed_scenario, fix), 300, seed=5)
    assert r.summary.timeouts == 0 and r.summary.established == 300


def test_same_seed_same_bytes(seed_scenario: scenario.Scenario) -> None:
    a = json.dumps(sim.run(seed_scenario, 50, seed=3, fixes=True).to_json())
    b = json.dumps(sim.run(seed_scenario, 50, seed=3, fixes=True).to_json())
    c = json.dumps(sim.run(seed_scenario, 50, seed=4, fixes=True).to_json())
    assert a == b and a != c


def test_a_connection_is_the_same_alone_or_in_a_run(seed_scenario: scenario.Scenario) -> None:
    r = sim.run(seed_scenario, 20, seed=9)
    net = sim.Network(seed_scenario)  # verbose: with every word of the trace
    alone = net.connect(17, 9)
    in_run = r.connections[17]  # quiet: the run records packets only
    assert alone.to_json(hops=False) == in_run.to_json(hops=False)

    def packets(c: sim.Connection) -> list[tuple[float, str, str, str, str]]:
        return [(h.t, h.at, str(h.packet.source), str(h.packet.dest), h.packet.flags.label()) for h in c.hops]

    assert packets(alone) == packets(in_run) and len(alone.hops) > 20


def test_kernel_6_5_linear_timeouts(seed_scenario: scenario.Scenario) -> None:
    s = replace(seed_scenario, kernel=replace(seed_scenario.kernel, tcp_syn_linear_timeouts=4))
    c = sim.connect(s, client_port=40146, target=NODE_PORT)
    syns = [round(h.t) for h in c.hops if h.lane == "netshoot" and h.kind == "send" and h.packet.flags == Flags.SYN]
    assert syns == [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67]
    assert c.outcome == "timeout" and c.elapsed_s == pytest.approx(131.0)


def test_json_contract(seed_scenario: scenario.Scenario) -> None:
    doc = sim.run(seed_scenario, 10, seed=1, fixes=True).to_json()
    assert set(doc) >= {"scenario", "seed", "connections", "summary", "fixes"}
    assert doc["scenario"] == "seed" and doc["seed"] == 1
    assert set(doc["summary"]) == {"attempts", "timeouts", "rate", "expected_rate"}
    conn = next(c for c in doc["connections"] if "hops" in c)
    assert set(conn) == {"id", "client", "service", "target", "outcome", "elapsed_s", "hops"}
    assert conn["service"] == VIP and conn["client"].startswith(CLIENT + ":")
    hop = conn["hops"][0]
    assert set(hop) == {"t", "at", "src", "dst", "flags", "action"} and hop["flags"] == ["SYN"]
    assert [f["name"] for f in doc["fixes"]] == list(scenario.FIXES)


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
def test_cluster_ip_endpoint_can_be_forced(mode: str) -> None:
    s = scenario.seed()
    version = "1.33" if mode == "nftables" else s.kube_proxy.version  # nftables mode: 1.30 and later
    s = scenario.with_fix(replace(s, kube_proxy=replace(s.kube_proxy, mode=mode, version=version)), "cluster-ip")
    for i, ep in enumerate(("192.168.39.2:80", "192.168.49.70:80", "192.168.16.142:80")):
        c = sim.connect(s, client_port=40000 + i, target=ep, seed=2)
        assert (c.target, c.outcome) == (ep, "established")
        delivered = next(h for h in c.hops if h.kind == "deliver" and h.packet.flags == Flags.SYN)
        assert str(delivered.packet.dest) == ep
