"""Issue 9's node caller: a hostNetwork pod (or a process on the node) calling the NLB.

The NLB keeps the client's address, which is the node's own: the node drops the packet as a martian
source (fib_validate_source, accept_local=0). No SYN/ACK, no RST: only SYN retransmissions until ETIMEDOUT.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from hairpin import scenario
from hairpin.backends import sim
from hairpin.model.net import Flags


def node_caller() -> scenario.Scenario:
    s = scenario.seed()
    pods = tuple(replace(p, host_network=True, ip="192.168.2.3") if p.name == "netshoot" else p for p in s.pods)
    return replace(s, pods=pods, name="node-caller")


def test_node_caller_is_dropped_as_a_martian_with_no_rst() -> None:
    c = sim.connect(node_caller(), client_port=40000, target="192.168.2.3:31468")
    assert c.outcome == "timeout" and c.elapsed_s == pytest.approx(127.0) and c.syns == 7
    first = [h for h in c.hops if h.t < 0.5]
    assert [(h.at, str(h.packet.source), str(h.packet.dest), h.packet.flags.label(), h.kind) for h in first] == [
        ("node1 eth0", "192.168.2.3:40000", "192.168.168.103:80", "SYN", "send"),
        ("NLB 192.168.168.103", "192.168.2.3:40000", "192.168.2.3:31468", "SYN", "nlb"),
        ("VPC v-node1", "192.168.2.3:40000", "192.168.2.3:31468", "SYN", "send"),
        # routing runs after nat PREROUTING, so the dropped packet is already DNATed to a backend
        ("node1", "192.168.2.3:40000", first[3].packet.dest.ip + ":80", "SYN", "martian"),
    ]
    assert "martian source 192.168.2.3 on eth0" in first[3].action
    assert not any(h.packet.flags & Flags.RST for h in c.hops)
    assert not any(h.packet.flags == Flags.SYN | Flags.ACK for h in c.hops)


def test_node_caller_through_another_node_succeeds() -> None:
    c = sim.connect(node_caller(), client_port=40001, target="192.168.21.86:31468")
    assert c.outcome == "established" and not c.hairpin


@pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (CI runs as root)")
@pytest.mark.usefixtures("lab_dir")
def test_node_caller_in_the_lab(tmp_path: Path) -> None:
    from hairpin.backends.lab import run, up
    from hairpin.backends.lab.run import capture_packets

    lab = up(node_caller())
    try:
        result = run(lab, 12, timeout=2.5, seed=3, capture=tmp_path / "cap")
    finally:
        lab.remove()
    node1, node2 = "192.168.2.3:31468", "192.168.21.86:31468"
    assert len(result.connections) == 12 and result.agreement == 1.0
    for c in result.connections:
        assert c.target in (node1, node2) and c.simulated_target == c.target
        assert c.outcome == c.simulated_outcome == ("timeout" if c.target == node1 else "established")
        assert c.nlb_source == c.client  # nothing translated the node's own address
    timed_out = [c for c in result.connections if c.outcome == "timeout"]
    assert 0 < len(timed_out) < 12 and result.timeouts == len(timed_out)
    for c in timed_out:
        sport = int(c.client.split(":")[1])
        packets = capture_packets(tmp_path / "cap" / "node1.pcap", "192.168.2.3", sport)
        assert {p.flags for p in packets} == {"SYN"}  # no SYN/ACK, no RST
        # each SYN (at 0 s and 1 s within 2.5 s) leaves node1 and comes back from the NLB to node1: dropped
        assert [(f"{p.src}:{p.sport}", f"{p.dst}:{p.dport}") for p in packets] == [
            (c.client, "192.168.168.103:80"), (c.client, node1),
        ] * 2  # fmt: skip
        assert 0.9 < packets[2].t - packets[0].t < 1.2


def nat_outgoing() -> scenario.Scenario:
    s = scenario.seed()
    return replace(s, cni=replace(s.cni, nat_outgoing=True), name="nat-outgoing")


def test_a_pod_masqueraded_on_the_way_out_fails_like_the_node_caller() -> None:
    """Overlay CNIs (Calico natOutgoing, Cilium masquerading) send the pod's SYN to the VIP with the node's
    address: hairpinned, it arrives back at its own node with the node's own source and is dropped as a
    martian, with no SYN-ACK and no RST; sent elsewhere it works."""
    s = nat_outgoing()
    c = sim.connect(s, client_port=40000, target="192.168.2.3:31468")
    assert c.outcome == "timeout" and c.syns == 7 and c.elapsed_s == pytest.approx(127.0)
    first = [h for h in c.hops if h.t < 0.5]
    out = next(h for h in first if h.at == "node1 eth0")
    assert out.packet.source.ip == "192.168.2.3" and str(out.packet.dest) == "192.168.168.103:80"
    assert "MASQUERADE" in out.action
    assert first[-1].kind == "martian" and first[-1].packet.source.ip == "192.168.2.3"
    assert not any(h.packet.flags & Flags.RST or h.packet.flags == Flags.SYN | Flags.ACK for h in c.hops)
    ok = sim.connect(s, client_port=40001, target="192.168.21.86:31468")
    assert ok.outcome == "established"
    run = sim.run(s, 400, 0)
    assert run.summary.expected_rate == 0.5 and abs(run.summary.rate - 0.5) < 4 * (0.25 / 400) ** 0.5


def test_pcap_names_the_masqueraded_pod_a_node_loopback() -> None:
    from hairpin.diagnose.capture import analyse
    from hairpin.render.pcap import records

    c = sim.connect(nat_outgoing(), client_port=40000, target="192.168.2.3:31468")
    node1 = [
        r for r in records(c.hops) if r.interface and (r.interface.startswith("node1") or r.interface == "VPC v-node1")
    ]
    a = analyse(node1)
    assert a.hairpins == [] and a.other_failures == {"node-loopback": 1}


@pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (CI runs as root)")
@pytest.mark.usefixtures("lab_dir")
def test_a_masqueraded_pod_in_the_lab(tmp_path: Path) -> None:
    """The real kernel with the overlay CNI's outgoing MASQUERADE on node1: the NLB sees node1's address; every
    connection sent back to node1 times out with SYN retransmissions only (no SYN/ACK, no RST), the others
    establish, and the simulator agrees connection by connection on the outcome and the target."""
    from hairpin.backends.lab import run, up
    from hairpin.backends.lab.run import capture_packets

    n, node1, node2, pod, vip = 16, "192.168.2.3", "192.168.21.86", "192.168.27.239", "192.168.168.103:80"
    lab = up(nat_outgoing())
    try:
        ipt = subprocess.run(["ip", "netns", "exec", lab.ns("node1"), "iptables-save", "-t", "nat"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        result = run(lab, n, timeout=2.5, seed=5, capture=tmp_path / "cap")
    finally:
        lab.remove()
    assert f"-A POSTROUTING -s {pod}/32" in ipt and "-j MASQUERADE --random-fully" in ipt  # the CNI's rules, loaded
    assert len(result.connections) == n and result.agreement == 1.0
    for c in result.connections:
        assert c.target in (f"{node1}:31468", f"{node2}:31468")  # found through node1's translation
        assert c.simulated_target == c.target and c.simulated_outcome == c.outcome
        assert c.outcome == ("timeout" if c.target == f"{node1}:31468" else "established")
        assert c.nlb_source.split(":")[0] == node1  # the NLB saw the node's address, not the pod's
    timed_out = [c for c in result.connections if c.outcome == "timeout"]
    assert 0 < len(timed_out) < n and result.timeouts == len(timed_out)
    for c in timed_out:
        sport = int(c.client.split(":")[1])
        masq = int(c.nlb_source.split(":")[1])
        packets = capture_packets(tmp_path / "cap" / "node1.pcap", pod, sport)
        assert {p.flags for p in packets} == {"SYN"}  # no SYN/ACK, no RST: only SYNs and their retransmissions
        sent = [p for p in packets if (p.src, p.sport) == (pod, sport)]
        assert len(sent) == 2 and 0.9 < sent[1].t - sent[0].t < 1.2  # SYNs at 0 s and 1 s within 2.5 s
        # each SYN leaves masqueraded (the port conntrack reported) and comes back from the NLB to node1
        assert [(p.src, p.sport, f"{p.dst}:{p.dport}") for p in packets] == [
            (pod, sport, vip), (node1, masq, vip), (node1, masq, f"{node1}:31468"),
        ] * 2  # fmt: skip
        assert c.real_sequence == c.simulated_sequence == [
            f"{pod}:{sport} > {vip} SYN", f"{node1}:* > {vip} SYN", f"{node1}:* > {node1}:31468 SYN",
        ]  # fmt: skip
