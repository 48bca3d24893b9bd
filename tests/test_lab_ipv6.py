"""The lab on an IPv6 scenario (examples/seed-ipv6.yaml): what it loads into each namespace (no root), and, in
real kernels (root), the same outcomes and targets as the simulator connection by connection, with the
hairpinned SYN/ACK reaching the caller from [node1]:31468."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hairpin import scenario
from hairpin.backends.lab import commands
from hairpin.backends.lab.run import parse_conntrack_tuples
from hairpin.topology import build

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "seed-ipv6.yaml"
NODE1, NODE2, CALLER, VIP = (
    "2a05:d018:a:5600::a",
    "2a05:d018:a:5600::b",
    "2a05:d018:a:5600:1::5",
    "2a05:d018:a:5602::67",
)

root = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "ip6tables-restore", "tcpdump")),
    reason="the lab needs root, iproute2, ip6tables and tcpdump (CI runs as root and installs them)",
)


@pytest.fixture(scope="module")
def s() -> scenario.Scenario:
    return scenario.load(EXAMPLE)


def test_ip6_batch_of_the_caller_node_and_vpc(s: scenario.Scenario) -> None:
    topo = build(s)
    assert commands.ip6_batch(topo.namespace("netshoot")).splitlines() == [
        f"addr add {CALLER}/128 dev eth0 nodad",
        "route add fe80::1/128 dev eth0",
        "route add default via fe80::1 dev eth0",
        "neigh add fe80::1 lladdr 02:8a:49:c3:58:a7 dev eth0 nud permanent",  # node1's host veth
    ]
    assert commands.ip6_batch(topo.namespace("node1")).splitlines() == [
        f"addr add {NODE1}/64 dev eth0 nodad",
        "route add default via fe80:ec2::1 dev eth0",
        f"route add {CALLER}/128 dev enie348bef9edc",
        "route add 2a05:d018:a:5600:1::8/128 dev eni851d8a400b6",
        f"rule add priority 512 from all to {CALLER}/128 table main",
        "rule add priority 512 from all to 2a05:d018:a:5600:1::8/128 table main",
        "rule add priority 1024 from all fwmark 0x80/0x80 table main",
        f"neigh add {CALLER} lladdr 02:26:2f:55:5b:8b dev enie348bef9edc nud permanent",
        "neigh add 2a05:d018:a:5600:1::8 lladdr 02:8c:67:f5:8d:7f dev eni851d8a400b6 nud permanent",
    ]
    vpc = commands.ip6_batch(topo.namespace("vpc")).splitlines()
    assert vpc[:5] == [
        f"addr add {VIP}/128 dev lo nodad",
        "addr add 2a05:d018:a:5603::1b/128 dev lo nodad",
        "addr add fe80:ec2::1/64 dev v-node1 nodad",
        "addr add fe80:ec2::1/64 dev v-node2 nodad",
        "addr add fe80:ec2::1/64 dev v-node3 nodad",
    ]
    # the VPC fabric: pod addresses by neighbour entry to their node's eth0; node1 answered for node2, node2 for
    # node1 and node1's pods (one /64, on-link for both), nothing on node3's link (its subnet holds only node3's)
    assert [line for line in vpc if line.startswith("neigh add proxy")] == [
        f"neigh add proxy {NODE2} dev v-node1",
        f"neigh add proxy {CALLER} dev v-node2",
        "neigh add proxy 2a05:d018:a:5600:1::8 dev v-node2",
        f"neigh add proxy {NODE1} dev v-node2",
    ]
    assert f"neigh add {CALLER} lladdr 02:42:47:bc:16:71 dev v-node1 nud permanent" in vpc  # node1's eth0 MAC
    assert ("net.ipv6.conf.v-node1.proxy_ndp", "1") in topo.namespace("vpc").sysctls


def test_ipv6_sysctls_and_nlb_rules(s: scenario.Scenario) -> None:
    node1 = build(s).namespace("node1")
    before = commands.global_sysctls(node1, 0, 6)
    assert ("net.ipv6.conf.all.forwarding", "1") in before
    assert before[-3:] == [("net.ipv6.conf.all.accept_dad", "0"), ("net.ipv6.conf.default.accept_dad", "0"),
                           ("net.ipv6.neigh.default.proxy_delay", "0")]  # fmt: skip
    assert not any("accept_dad" in k for k, _ in commands.global_sysctls(node1, 0))  # IPv4 labs unchanged
    assert ("net.ipv6.neigh.eth0.proxy_delay", "0") in commands.interface_sysctls(node1, 6)
    assert commands.nlb_iptables(s).splitlines()[6:] == [
        ":HP-NLB-1 - [0:0]",
        f'-A PREROUTING -d {VIP}/128 -p tcp -m comment --comment "NLB nginx-demo/service-nginx-demo eu-west-1a" '
        "-m tcp --dport 80 -j HP-NLB-0",
        f"-A HP-NLB-0 -p tcp -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination "
        f"[{NODE1}]:31468",
        f"-A HP-NLB-0 -p tcp -j DNAT --to-destination [{NODE2}]:31468",
        '-A PREROUTING -d 2a05:d018:a:5603::1b/128 -p tcp -m comment --comment "NLB nginx-demo/service-nginx-demo '
        'eu-west-1b" -m tcp --dport 80 -j HP-NLB-1',
        "-A HP-NLB-1 -p tcp -j DNAT --to-destination [2a05:d018:a:5601::c]:31468",
        "COMMIT",
    ]
    off = commands.nlb_iptables(scenario.with_fix(s, "no-preserve-client-ip"))
    assert f"-A POSTROUTING -m conntrack --ctstate DNAT --ctorigdst {VIP}/128 -j SNAT --to-source {VIP}" in off
    assert commands.server_command("hpx-nginx-demo-1", 80, 6)[-2:] == ["--bind", "::"]


def test_conntrack_ipv6_addresses_are_read_compressed() -> None:
    line = ("ipv6     10 tcp      6 118 SYN_SENT src=2a05:d018:000a:5600:0001:0000:0000:0005 "
            "dst=2a05:d018:000a:5602:0000:0000:0000:0067 sport=40000 dport=80 [UNREPLIED] "
            "src=2a05:d018:000a:5600:0000:0000:0000:000a dst=2a05:d018:000a:5600:0001:0000:0000:0005 sport=31468 "
            "dport=40000 mark=0 zone=0 use=2")  # fmt: skip
    assert parse_conntrack_tuples(line) == {(CALLER, 40000, VIP, 80): (NODE1, 31468, CALLER, 40000)}


@root
@pytest.mark.usefixtures("lab_dir")
def test_seed_ipv6_lab_agrees_with_the_simulator(s: scenario.Scenario, tmp_path: Path) -> None:  # fmt: skip
    from hairpin.backends.lab import run, up
    from hairpin.backends.lab.run import capture_packets

    n, node1, node2 = 12, f"[{NODE1}]:31468", f"[{NODE2}]:31468"
    lab = up(s)
    names = list(lab.record.namespaces)
    try:
        result = run(lab, n, timeout=2.5, seed=1, capture=tmp_path / "cap")
    finally:
        lab.remove()
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name in left.split() for name in names)
    assert len(result.connections) == n and result.agreement == 1.0
    for c in result.connections:
        assert c.client.startswith(f"[{CALLER}]:") and c.nlb_source == c.client
        assert c.target in (node1, node2) and c.simulated_target == c.target
        assert c.outcome == c.simulated_outcome == ("timeout" if c.target == node1 else "established")
    timed_out = [c for c in result.connections if c.outcome == "timeout"]
    assert 0 < len(timed_out) < n
    for c in timed_out:
        assert c.sequence_match is True and c.real_sequence[4] == f"{node1} > {c.client} SYN,ACK"
        sport = int(c.client.rsplit(":", 1)[1])
        packets = capture_packets(tmp_path / "cap" / "node1.pcap", CALLER, sport)
        synacks = [p for p in packets if p.flags == "SYN,ACK" and p.dst == CALLER]
        assert synacks and {p.source for p in synacks} == {node1}  # de-NATed to [node1]:31468, to the caller
        assert any(p.flags == "RST" and p.source == c.client and p.dest == node1 for p in packets)


@root
def test_lab_run_cli_on_seed_ipv6(tmp_path: Path) -> None:
    env = {**os.environ, "HAIRPIN_LAB_DIR": str(tmp_path / "labs")}
    res = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "lab", "run", "--scenario", str(EXAMPLE),
                          "--connections", "4", "--connect-timeout", "2.5", "--format", "json"],
                         capture_output=True, text=True, check=False, env=env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["agreement"] == 1.0 and len(out["connections"]) == 4
    assert {c["target"] for c in out["connections"]} <= {f"[{NODE1}]:31468", f"[{NODE2}]:31468"}


@root
@pytest.mark.usefixtures("lab_dir")
def test_local_policy_health_checks_over_ipv6(s: scenario.Scenario) -> None:  # fmt: skip
    """externalTrafficPolicy Local: kube-proxy's health check servers bound to ::, probed from the vpc namespace at
    [node]:32123; node2 (no endpoint) answers 503 and leaves the target set, so every connection goes to node1."""
    from dataclasses import replace

    from hairpin.backends.lab import run, up

    local = replace(
        s, services=(replace(s.services[0], external_traffic_policy="Local", health_check_node_port=32123),)
    )
    assert commands.health_checks(local) == {f"[{NODE1}]:32123": True, f"[{NODE2}]:32123": False,
                                             "[2a05:d018:a:5601::c]:32123": True}  # fmt: skip
    lab = up(local)
    try:
        health = dict(lab.health)
        result = run(lab, 4, timeout=2.5, seed=3)
    finally:
        lab.remove()
    assert health == {f"[{NODE1}]:32123": 200, f"[{NODE2}]:32123": 503, "[2a05:d018:a:5601::c]:32123": 200}
    assert [(c.target, c.outcome, c.simulated_outcome) for c in result.connections] == [
        (f"[{NODE1}]:31468", "timeout", "timeout")
    ] * 4
