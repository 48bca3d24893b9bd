"""Issue 8's settings in the real kernel (root): each compared with the simulator connection by connection.

externalTrafficPolicy Local (the NLB's health check), cross-zone load balancing, the kernel >= 6.5 SYN
schedule (``tcp_syn_linear_timeouts``), an internet-facing NLB reached through a NAT gateway and a Classic
ELB (a real TCP proxy in the vpc namespace), and ``hairpin lab run --scenario`` on their example files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import needs_root_and
from hairpin import scenario as sc
from hairpin.aws.vpc import NAT_GATEWAY_EIP
from hairpin.backends import sim
from hairpin.backends.lab import labs, run, up
from hairpin.backends.lab.run import capture_packets, parse_conntrack_tuples

pytestmark = [needs_root_and("ip", "iptables-restore", "tcpdump"), pytest.mark.usefixtures("lab_dir")]

POD = "192.168.27.239"  # netshoot, the caller, on node1
NODE1, NODE2, NODE3 = "192.168.2.3:31468", "192.168.21.86:31468", "192.168.44.17:31468"
VIP = "192.168.168.103:80"  # the eu-west-1a load balancer node the caller resolves
NGINX1 = "192.168.16.142:80"  # nginx-demo-1, the only backend on node1
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"



def _lb(s: sc.Scenario, **kw: object) -> sc.Scenario:
    svc = s.client_service
    assert svc.load_balancer is not None
    new = replace(svc, load_balancer=replace(svc.load_balancer, **kw))  # type: ignore[arg-type]
    return replace(s, services=tuple(new if x.key == svc.key else x for x in s.services))


def _local(s: sc.Scenario) -> sc.Scenario:
    svc = replace(s.client_service, external_traffic_policy="Local", health_check_node_port=32123)
    return replace(s, services=tuple(svc if x.key == svc.key else x for x in s.services), name="etp-local")


def _in(lab: object, logical: str, argv: list[str]) -> str:
    from hairpin.backends.lab import Lab

    assert isinstance(lab, Lab)
    return subprocess.run(["ip", "netns", "exec", lab.ns(logical), *argv], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def test_external_traffic_policy_local_every_connection_to_node1_times_out(tmp_path: Path) -> None:
    """Only node1 runs a backend in eu-west-1a, so only node1 passes the NLB's health check there: the
    emulated NLB's DNAT has node1 as its single target, every connection hairpins (closed form 100 %), and
    node1's kube-proxy keeps the client's address (Local: DNAT to its own endpoint, no MASQUERADE).  The
    health checks are real HTTP GETs from the vpc namespace to each node's healthCheckNodePort."""
    s = _local(sc.seed())
    assert sim.expected_rate(s) == 1.0
    lab = up(s)
    try:
        health = dict(lab.health)
        nat = _in(lab, "vpc", ["iptables-save", "-t", "nat"])
        result = run(lab, 12, timeout=2.5, seed=11, capture=tmp_path / "cap")
        node1_ct = parse_conntrack_tuples(_in(lab, "node1", ["cat", "/proc/net/nf_conntrack"]))
    finally:
        lab.remove()
    # the health checks, made for real from the vpc namespace to kube-proxy's healthCheckNodePort servers
    assert health == {"192.168.2.3:32123": 200, "192.168.21.86:32123": 503, "192.168.44.17:32123": 200}
    # the NLB node in eu-west-1a: one DNAT, to node1 (node2 fails the health check); eu-west-1b: node3
    dnat = [line for line in nat.splitlines() if "-j DNAT" in line]
    assert dnat == ["-A HP-NLB-0 -p tcp -j DNAT --to-destination 192.168.2.3:31468",
                    "-A HP-NLB-1 -p tcp -j DNAT --to-destination 192.168.44.17:31468"]  # fmt: skip
    assert len(result.connections) == 12 and result.timeouts == 12 and result.agreement == 1.0
    for c in result.connections:
        assert (c.target, c.outcome, c.simulated_target, c.simulated_outcome) == (NODE1, "timeout", NODE1, "timeout")
        assert c.nlb_source == c.client
        sport = int(c.client.split(":")[1])
        # the backend (nginx-demo-1 on node1) saw the client's own address: conntrack and capture agree
        assert node1_ct[(POD, sport, "192.168.2.3", 31468)] == ("192.168.16.142", 80, POD, sport)
        rows = {(f"{p.src}:{p.sport}", f"{p.dst}:{p.dport}", p.flags)
                for p in capture_packets(tmp_path / "cap" / "node1.pcap", POD, sport)}  # fmt: skip
        assert {(c.client, NGINX1, "SYN"), (NGINX1, c.client, "SYN,ACK"), (NODE1, c.client, "SYN,ACK"),
                (c.client, NODE1, "RST")} <= rows  # fmt: skip
        assert not any(src.startswith("192.168.2.3:") and dst == NGINX1 for src, dst, _ in rows)  # no MASQUERADE


def test_cross_zone_uses_all_three_nodes_and_only_node1_times_out() -> None:
    s = _lb(sc.seed(), cross_zone=True)
    assert sim.expected_rate(s) == pytest.approx(1 / 3)
    lab = up(s)
    try:
        nat = _in(lab, "vpc", ["iptables-save", "-t", "nat"])
        result = run(lab, 16, timeout=2.5, seed=12)
        targets = {c.target for c in result.connections}
        if targets != {NODE1, NODE2, NODE3}:  # p = 3 * (2/3)^16 = 0.5 %: one more round in the same lab
            more = run(lab, 8, timeout=2.5, seed=13)
            result.connections += more.connections
    finally:
        lab.remove()
    assert nat.count("-j DNAT --to-destination 192.168.44.17:31468") == 2  # node3 behind both NLB nodes
    assert result.agreement == 1.0
    assert {c.target for c in result.connections} == {NODE1, NODE2, NODE3}
    for c in result.connections:
        assert c.simulated_target == c.target
        assert c.outcome == c.simulated_outcome == ("timeout" if c.target == NODE1 else "established")
    assert result.timeouts == sum(c.target == NODE1 for c in result.connections)


def _syn_times(pcap: Path, client: str, dst: str) -> list[float]:
    """When the client sent each SYN (its first appearance: tcpdump -i any sees it on the pod's veth and
    again leaving eth0), relative to the first."""
    host, _, port = client.partition(":")
    sent = [p.t for p in capture_packets(pcap, host, int(port)) if p.flags == "SYN" and f"{p.src}:{p.sport}" == client
            and f"{p.dst}:{p.dport}" == dst]  # fmt: skip
    out: list[float] = []
    for t in sorted(sent):
        if not out or t - out[-1] > 0.3:
            out.append(t)
    return [round(t - out[0], 3) for t in out]


@pytest.mark.parametrize(
    ("linear", "timeout", "expected"),
    [(4, 6.5, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]), (0, 3.5, [0.0, 1.0, 3.0])],
)
def test_syn_schedule_of_a_hairpinned_connection(tmp_path: Path, linear: int, timeout: float,
                                                 expected: list[float]) -> None:  # fmt: skip
    """Kernel >= 6.5's tcp_syn_linear_timeouts (4: the first four retransmissions 1 s apart) and the older
    schedule (0: doubling), read off the capture of hairpinned connections (externalTrafficPolicy Local: every
    connection goes to node1) and compared with the simulator's SYNs of the same connection."""
    s = _local(sc.seed())
    s = replace(s, kernel=replace(s.kernel, tcp_syn_linear_timeouts=linear))
    lab = up(s)
    try:
        assert _in(lab, "netshoot", ["sysctl", "-n", "net.ipv4.tcp_syn_linear_timeouts"]).strip() == str(linear)
        result = run(lab, 3, timeout=timeout, seed=14, capture=tmp_path / "cap")
    finally:
        lab.remove()
    assert result.timeouts == 3 and result.agreement == 1.0
    for c in result.connections:
        real = _syn_times(tmp_path / "cap" / "node1.pcap", c.client, VIP)
        assert len(real) == len(expected) and all(abs(a - b) <= 0.3 for a, b in zip(real, expected, strict=True)), real
        replay = sim.connect(s, client_port=int(c.client.split(":")[1]), target=c.target, conn_id=c.id, seed=14)
        simulated = [h.t for h in replay.hops if h.at == "pod netshoot eth0" and h.kind == "send"
                     and h.packet.flags.label() == "SYN"]  # fmt: skip
        assert [round(t) for t in simulated if t < timeout] == [round(t) for t in expected]


def _internet_facing(s: sc.Scenario) -> sc.Scenario:
    s = _lb(s, scheme="internet-facing", nodes=(("eu-west-1a", "198.51.100.10"), ("eu-west-1b", "198.51.100.11")))
    return replace(s, client=replace(s.client, address="198.51.100.10"), name="internet-facing")


def test_internet_facing_nlb_through_the_nat_gateway_never_times_out(tmp_path: Path) -> None:
    """The vpc namespace SNATs flows to the NLB's public addresses to the NAT gateway's EIP, which the NLB
    emulation keeps as the client: node1's de-NATed SYN/ACK goes to the EIP, back through the vpc namespace,
    so even connections sent to the caller's own node establish."""
    s = _internet_facing(sc.seed())
    assert sim.expected_rate(s) == 0
    lab = up(s)
    try:
        nat = _in(lab, "vpc", ["iptables-save", "-t", "nat"])
        result = run(lab, 16, timeout=2.5, seed=15, capture=tmp_path / "cap")
    finally:
        lab.remove()
    assert f'--ctorigdst 198.51.100.10 -m comment --comment "NAT gateway {NAT_GATEWAY_EIP}" -j SNAT' in nat
    assert len(result.connections) == 16 and result.timeouts == 0 and result.agreement == 1.0
    for c in result.connections:
        assert c.target in (NODE1, NODE2) and c.simulated_target == c.target
        assert c.outcome == c.simulated_outcome == "established"
        assert c.nlb_source.split(":")[0] == NAT_GATEWAY_EIP  # the NLB saw the NAT gateway, not node1 or the pod
    own = [c for c in result.connections if c.target == NODE1]
    assert own  # node1 with p = 1/2 each: missing it in 16 has p = 1/65536
    for c in own:
        sport = int(c.client.split(":")[1])
        rows = [(f"{p.src}:{p.sport}", f"{p.dst}:{p.dport}", p.flags)
                for p in capture_packets(tmp_path / "cap" / "node1.pcap", POD, sport)]  # fmt: skip
        eip = c.nlb_source
        assert (c.client, "198.51.100.10:80", "SYN") == rows[0]
        assert rows[1][0].startswith("192.168.2.3:") and rows[1][1:] == ("198.51.100.10:80", "SYN")  # VPC CNI SNAT
        assert (eip, NODE1, "SYN") == rows[2]  # from the NLB to node1, the EIP as source
        assert (NODE1, eip, "SYN,ACK") in rows  # de-NATed to the EIP: leaves node1 for the vpc namespace
        assert ("198.51.100.10:80", c.client, "SYN,ACK") in rows  # the caller's answer comes from what it called
        assert not any(r[2] == "RST" for r in rows)


def test_classic_elb_is_a_real_proxy_and_never_times_out(tmp_path: Path) -> None:
    """A Classic ELB node is a TCP proxy process in the vpc namespace: it answers the caller itself and opens
    its own connection from 192.168.168.103 to node:NodePort; node1 answers the proxy, never the pod."""
    s = _lb(sc.seed(), type="clb")
    assert sim.expected_rate(s) == 0
    lab = up(s)
    try:
        assert len(lab.record.pids) == 3 + 2  # three backends' servers, one proxy per CLB node
        listening = _in(lab, "vpc", ["ss", "-Hltn"])
        result = run(lab, 16, timeout=2.5, seed=16, capture=tmp_path / "cap")
        files = list(lab.record.files)
    finally:
        lab.remove()
    assert "192.168.168.103:80" in listening and "192.168.140.27:80" in listening
    assert files and not any(Path(f).exists() for f in files)  # the proxies' logs go with the lab
    assert len(result.connections) == 16 and result.timeouts == 0 and result.agreement == 1.0
    for c in result.connections:
        assert c.target in (NODE1, NODE2) and c.simulated_target == c.target
        assert c.outcome == c.simulated_outcome == "established"
        back, _, rest = c.proxy_backend.partition(" -> ")
        assert back.startswith("192.168.168.103:") and rest == f"{c.target}: established"
    own = [c for c in result.connections if c.target == NODE1]
    assert own  # p = 1/65536 to miss node1 in 16
    for c in own:
        sport = int(c.client.split(":")[1])
        front = {(f"{p.src}:{p.sport}", f"{p.dst}:{p.dport}", p.flags)
                 for p in capture_packets(tmp_path / "cap" / "node1.pcap", POD, sport)}  # fmt: skip
        assert {(c.client, VIP, "SYN"), (VIP, c.client, "SYN,ACK")} <= front  # the listener answers the caller
        assert not any(src == NODE1 for src, _, _ in front)  # node1 never answers the pod
        back = c.proxy_backend.split(" ")[0]
        rows = [
            (f"{p.src}:{p.sport}", f"{p.dst}:{p.dport}", p.flags)
            for p in capture_packets(tmp_path / "cap" / "node1.pcap", "192.168.168.103", int(back.split(":")[1]))
        ]
        assert rows[0] == (back, NODE1, "SYN") and (NODE1, back, "SYN,ACK") in rows  # the proxy's own connection


@pytest.mark.parametrize(
    ("example", "timeouts"),
    [("clb.yaml", 0), ("internet-facing.yaml", 0), ("etp-local.yaml", 2)],
)
def test_lab_run_scenario_file(example: str, timeouts: int) -> None:
    """``hairpin lab run --scenario`` builds each of these example files and agrees with the simulator
    (etp-local.yaml pins no load balancer address: each connection's DNS answer is drawn as the simulator
    draws it; with seed 1 connections 4 and 5 get the caller's AZ, whose only healthy target is the
    caller's own node, and time out; the other four go to eu-west-1b's NLB node and are established)."""
    res = subprocess.run(
        [sys.executable, "-m", "hairpin.cli.main", "lab", "run", "--scenario", str(EXAMPLES / example),
         "--connections", "6", "--timeout", "2", "--seed", "1", "--format", "json"],
        capture_output=True, text=True, env=dict(os.environ), check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["timeouts"] == timeouts and doc["agreement"] == 1.0
    assert all(c["simulated_target"] == c["target"] != "" for c in doc["connections"])
    assert labs() == []
