"""kube-proxy IPVS mode in the simulator: the iptables text and ipsets it writes, IPVS's hooks in the
host, its TCP state table, and the seed's hairpin reproduced through IPVS."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hairpin import scenario
from hairpin.backends import sim
from hairpin.ipvs import TCP_TIMEOUTS, IpvsTable, VirtualServer, tcp_next
from hairpin.kube import ipvs, node_iptables
from hairpin.model.net import Flags, ip_int, ip_str
from hairpin.parsers import iptables_save
from hairpin.parsers.ipset import parse as ipset_parse

CLIENT = "192.168.27.239"
VIP = "192.168.168.103:80"
NODE1 = "192.168.2.3"
NODE_PORT = f"{NODE1}:31468"
BACKENDS = ("192.168.39.2:80", "192.168.49.70:80", "192.168.16.142:80")


def _mode(s: scenario.Scenario, version: str | None = None) -> scenario.Scenario:
    kp = replace(s.kube_proxy, mode="ipvs", version=version or s.kube_proxy.version)
    return replace(s, kube_proxy=kp)


@pytest.fixture(scope="module")
def seed() -> scenario.Scenario:
    return _mode(scenario.seed())


# ------------------------------------------------------------------------------------------ the rules


def test_nat_rules_of_the_seed_node_in_ipvs_mode(seed: scenario.Scenario) -> None:
    text = node_iptables(seed, "node1")
    nat = text[text.index("*nat") : text.index("COMMIT", text.index("*nat"))]
    kube = [line for line in nat.splitlines() if line.startswith("-A KUBE-")]
    assert kube == [
        "-A KUBE-FIREWALL -j KUBE-MARK-DROP",  # release-1.18 writeIptablesRules: the nat KUBE-FIREWALL (< 1.25)
        "-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ",
        "-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000",  # kubelet's (< 1.28)
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
        '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" '
        "-m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ",
        '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin '
        'purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE',
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE '
        "--random-fully",
        '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" '
        "-m set --match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ",
        "-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT",
        "-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT",
    ]
    assert '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in nat
    assert "KUBE-SVC-" not in text and "KUBE-NODEPORTS" not in text
    assert "-A POSTROUTING -m comment --comment \"AWS SNAT CHAIN\" -j AWS-SNAT-CHAIN-0" in text  # the CNI stays


def test_filter_rules_from_1_25_and_1_29(seed: scenario.Scenario) -> None:
    old = ipvs.tables(seed, "node1").render(("filter",))
    assert "KUBE-IPVS-FILTER" not in old and "KUBE-PROXY-FIREWALL" not in old
    new = ipvs.tables(_mode(scenario.seed(), "1.30"), "node1").render(("filter",))
    lines = new.splitlines()
    assert [x for x in lines if x.startswith("-A INPUT")] == [
        '-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
        '-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
        '-A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT',
    ]
    assert lines[-4] == (
        "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst "
        "-j REJECT --reject-with icmp-port-unreachable"
    )
    assert '-A OUTPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-OUT-FILTER' in lines
    nat = ipvs.tables(_mode(scenario.seed(), "1.30"), "node1").rules("nat", "KUBE-SERVICES")
    assert nat[0] == "-s 127.0.0.0/8 -j RETURN"
    assert "-s 127.0.0.0/8" not in ipvs.tables(_mode(scenario.seed(), "1.28"), "node1").render()


def test_generated_text_parses_and_writes_back(seed: scenario.Scenario) -> None:
    for version in ("1.18", "1.24", "1.28", "1.30"):
        s = _mode(scenario.seed(), version)
        text = node_iptables(s, "node1")
        rs = iptables_save.parse(text, "node1.iptables")
        assert iptables_save.dump(rs) == text


def test_ipsets_of_the_seed_node(seed: scenario.Scenario) -> None:
    sets = ipset_parse(ipvs.ipset_save(seed, "node1"), "node1.ipset")
    # 1.18: no KUBE-IPVS-IPS (1.25), no KUBE-HEALTH-CHECK-NODE-PORT (PR #97824, 1.21)
    assert sorted(sets) == sorted(n for n in ipvs.SETS if n not in ("KUBE-IPVS-IPS", "KUBE-HEALTH-CHECK-NODE-PORT"))
    assert [s.type for s in sets.values()][:2] == ["hash:ip,port,ip", "hash:ip,port"]
    from hairpin.model.net import Packet

    to_nodeport = Packet(ip_int(CLIENT), 40000, ip_int(NODE1), 31468, Flags.SYN)
    assert sets["KUBE-NODE-PORT-TCP"].test(to_nodeport, ["dst"])
    assert not sets["KUBE-NODE-PORT-LOCAL-TCP"].test(to_nodeport, ["dst"])
    to_cip = Packet(ip_int(CLIENT), 40000, ip_int("10.100.235.20"), 80, Flags.SYN)
    assert sets["KUBE-CLUSTER-IP"].test(to_cip, ["dst", "dst"])
    assert not sets["KUBE-CLUSTER-IP"].test(to_cip, ["src", "dst"])
    local = _mode(replace(scenario.seed(), services=(replace(scenario.seed().services[0],
                  external_traffic_policy="Local", health_check_node_port=32000),)), "1.30")  # fmt: skip
    m = ipvs.ipsets(local, "node1")
    assert m["KUBE-NODE-PORT-LOCAL-TCP"] == ["31468"] and m["KUBE-HEALTH-CHECK-NODE-PORT"] == ["32000"]
    assert m["KUBE-IPVS-IPS"] == ["10.100.235.20"]


def test_node_holds_the_cluster_ips_on_kube_ipvs0(seed: scenario.Scenario) -> None:
    from hairpin.topology import build

    ns = build(seed).namespace("node1")
    assert ns.interface("kube-ipvs0").addresses == ("10.100.235.20/32",)
    assert "create KUBE-NODE-PORT-TCP bitmap:port" in ns.ipsets
    assert all(i.name != "kube-ipvs0" for i in build(scenario.seed()).namespace("node1").interfaces)


# ------------------------------------------------------------------------------------- IPVS itself


def test_tcp_state_table_rows() -> None:
    # ip_vs_proto_tcp.c tcp_states: SYN in, SYN/ACK out, RST in keeps SYN_RECV; ACK in establishes
    assert tcp_next("NONE", "input", Flags.SYN) == "SYN_RECV"
    assert tcp_next("SYN_RECV", "output", Flags.SYN | Flags.ACK) == "SYN_RECV"
    assert tcp_next("SYN_RECV", "input", Flags.RST) == "SYN_RECV"
    assert tcp_next("SYN_RECV", "input", Flags.ACK) == "ESTABLISHED"
    assert tcp_next("ESTABLISHED", "input", Flags.RST) == "CLOSE"
    assert tcp_next("ESTABLISHED", "input", Flags.FIN | Flags.ACK) == "CLOSE_WAIT"
    assert tcp_next("ESTABLISHED", "output", Flags.FIN | Flags.ACK) == "FIN_WAIT"
    assert (TCP_TIMEOUTS["SYN_RECV"], TCP_TIMEOUTS["CLOSE"], TCP_TIMEOUTS["ESTABLISHED"]) == (60.0, 10.0, 900.0)


def test_an_expired_entry_is_rescheduled_rr() -> None:
    t = IpvsTable()
    t.add(VirtualServer("tcp", 1, 80, [(10, 80), (11, 80), (12, 80)]))
    a = t.inbound("tcp", 5, 40000, 1, 80, Flags.SYN, now=0.0)
    assert a is not None and a.dest == (10, 80) and a.expires == 60.0
    assert t.inbound("tcp", 5, 40000, 1, 80, Flags.RST, now=0.1) is a and a.state == "SYN_RECV"
    assert t.inbound("tcp", 5, 40000, 1, 80, Flags.SYN, now=32.0) is a  # a retransmit within 60 s
    b = t.inbound("tcp", 5, 40000, 1, 80, Flags.SYN, now=92.5)  # 60.5 s idle: gone, scheduled again
    assert b is not None and b is not a and b.dest == (11, 80)
    assert t.inbound("tcp", 5, 40001, 1, 80, Flags.ACK, now=93.0) is None  # no entry, not a SYN: not scheduled
    assert ip_str(b.vaddr[0]) == "0.0.0.1"


# -------------------------------------------------------------------------------- the seed through IPVS


def test_hairpinned_connection_in_ipvs_mode(seed: scenario.Scenario) -> None:
    c = sim.connect(seed, client_port=40000, target=NODE_PORT, seed=0)
    assert c.outcome == "timeout" and c.hairpin and c.target == NODE_PORT
    node1 = [(round(h.t, 3), h.at, str(h.packet.source), str(h.packet.dest), h.packet.flags.label())
             for h in c.hops if h.lane == "node1" and h.kind == "send"]  # fmt: skip
    # t=0: the NLB's SYN (client IP kept) -> IPVS picks 192.168.49.70:80, KUBE-NODE-PORT's mark masquerades it
    assert node1[1] == (0.0, "node1 eth0", "192.168.2.3:44552", "192.168.49.70:80", "SYN")
    hop = next(h for h in c.hops if h.lane == "node1" and h.packet.dst == ip_int("192.168.49.70"))
    assert ("IPVS: 192.168.2.3:31468 -> 192.168.49.70:80 (masq, rr) "
            "[TCP 192.168.27.239:40000 -> 192.168.2.3:31468 -> 192.168.49.70:80 SYN_RECV]") in hop.action  # fmt: skip
    assert "MASQUERADE --random-fully: 192.168.27.239:40000 -> 192.168.2.3:44552" in hop.action
    # the reply: conntrack undoes the masquerade, ip_vs_out restores node1:31468, the /32 route takes it to the pod
    synack = next(h for h in c.hops if h.lane == "node1" and h.packet.flags == Flags.SYN | Flags.ACK)
    assert (str(synack.packet.source), str(synack.packet.dest)) == (NODE_PORT, f"{CLIENT}:40000")
    assert synack.at.startswith("node1 eni")
    assert "IPVS reply: 192.168.39.2:80" not in synack.action
    assert "IPVS reply: 192.168.49.70:80 -> 192.168.2.3:31468" in synack.action
    # the client's RST goes to node1:31468, IPVS forwards it to the same real server
    client = [(round(h.t, 3), str(h.packet.dest), h.packet.flags.label())
              for h in c.hops if h.at == "pod netshoot eth0"]  # fmt: skip
    assert client[:2] == [(0.0, VIP, "SYN"), (0.001, NODE_PORT, "RST")]
    assert [t for t, _, fl in client if fl == "SYN"] == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    assert sum(fl == "RST" for _, _, fl in client) == 7
    # every retransmit finds IPVS's entry (SYN_RECV, 60 s) and reaches the same real server
    rs = {str(h.packet.dest) for h in c.hops if h.lane == "node1" and h.kind == "send" and h.packet.dport == 80
          and h.packet.flags == Flags.SYN and h.packet.src == ip_int(NODE1)}  # fmt: skip
    assert rs == {"192.168.49.70:80"}
    assert c.elapsed_s == pytest.approx(127.0) and c.syns == 7


def test_other_node_succeeds_in_ipvs_mode(seed: scenario.Scenario) -> None:
    c = sim.connect(seed, client_port=40001, target="192.168.21.86:31468", seed=0)
    assert c.outcome == "established" and not c.hairpin


def test_ipvs_rate_matches_the_closed_form(seed: scenario.Scenario) -> None:
    n = 1000
    r = sim.run(seed, n, seed=11)
    assert r.summary.expected_rate == pytest.approx(0.5)
    assert r.summary.timeouts == 466
    assert abs(r.summary.rate - 0.5) < 4 * (0.25 / n) ** 0.5
    for c in r.connections:
        assert (c.outcome == "timeout") == (c.target == NODE_PORT)


def test_cluster_ip_fix_in_ipvs_mode(seed: scenario.Scenario) -> None:
    # pod -> ClusterIP: the ClusterIP is local (kube-ipvs0), IPVS schedules it on the client's own node,
    # no masquerade (not a NodePort), and ip_vs_out answers from the ClusterIP: nothing times out.
    r = sim.run(scenario.with_fix(seed, "cluster-ip"), 600, seed=3)
    assert r.summary.timeouts == 0
    counts = {b: sum(c.target == b for c in r.connections) for b in BACKENDS}
    assert counts == {"192.168.39.2:80": 192, "192.168.49.70:80": 196, "192.168.16.142:80": 212}
    c = sim.connect(scenario.with_fix(seed, "cluster-ip"), client_port=40002, seed=3)
    synack = next(h for h in c.hops if h.at == "pod netshoot" and h.packet.flags == Flags.SYN | Flags.ACK)
    assert str(synack.packet.source) == "10.100.235.20:80"
    syn = next(h for h in c.hops if h.kind == "deliver" and h.packet.flags == Flags.SYN)
    assert ip_str(syn.packet.src) == CLIENT  # the backend sees the caller: no masquerade for ClusterIP traffic


def test_local_policy_keeps_the_client_address_and_still_hairpins(seed: scenario.Scenario) -> None:
    svc = replace(seed.services[0], external_traffic_policy="Local", health_check_node_port=32000)
    s = replace(seed, services=(svc,))
    c = sim.connect(s, client_port=40003, target=NODE_PORT, seed=0)
    assert c.outcome == "timeout" and c.hairpin
    # KUBE-NODE-PORT-LOCAL-TCP returns before KUBE-MARK-MASQ: the local backend gets the client's address
    syn = next(h for h in c.hops if h.lane == "nginx-demo-1" and h.kind == "deliver")
    assert (str(syn.packet.source), str(syn.packet.dest)) == (f"{CLIENT}:40003", "192.168.16.142:80")
    synack = next(h for h in c.hops if h.lane == "node1" and h.packet.flags == Flags.SYN | Flags.ACK)
    assert (str(synack.packet.source), str(synack.packet.dest)) == (NODE_PORT, f"{CLIENT}:40003")
    assert sim.run(s, 200, seed=5).summary.timeouts == 200  # only node1 passes the health check in the AZ


def _node_caller(s: scenario.Scenario) -> scenario.Scenario:
    pods = tuple(replace(p, host_network=True, ip=NODE1) if p.name == "netshoot" else p for p in s.pods)
    return replace(s, pods=pods, name="node-caller")


def test_node_caller_through_the_nlb_is_a_martian_in_ipvs_mode_too(seed: scenario.Scenario) -> None:
    c = sim.connect(_node_caller(seed), client_port=40000, target=NODE_PORT, seed=0)
    assert c.outcome == "timeout" and c.syns == 7
    assert [h.kind for h in c.hops if h.lane == "node1" and h.kind in ("martian", "deliver")] == ["martian"] * 7


def test_node_process_to_the_cluster_ip_uses_the_cluster_ip_as_source(seed: scenario.Scenario) -> None:
    # The route to a ClusterIP is the local route of kube-ipvs0, so a node process's socket takes the
    # ClusterIP as its source; KUBE-CLUSTER-IP src,dst marks it and KUBE-POSTROUTING masquerades it.
    c = sim.connect(scenario.with_fix(_node_caller(seed), "cluster-ip"), client_port=40000, seed=0)
    assert c.outcome == "established" and c.target == "192.168.49.70:80"
    first = c.hops[0]
    assert (first.at, str(first.packet.source), str(first.packet.dest)) == (
        "node1 eth0", "192.168.2.3:44552", "192.168.49.70:80")  # fmt: skip
    assert "-m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT" in first.action
    assert "IPVS: 10.100.235.20:80 -> 192.168.49.70:80 (masq, rr) [TCP 10.100.235.20:40000 ->" in first.action
    synack = next(h for h in c.hops if h.kind == "deliver" and h.packet.flags == Flags.SYN | Flags.ACK)
    assert (str(synack.packet.source), str(synack.packet.dest)) == ("10.100.235.20:80", "10.100.235.20:40000")


def test_a_backend_calling_its_own_cluster_ip_is_masqueraded_by_kube_loop_back(seed: scenario.Scenario) -> None:
    s = scenario.with_fix(seed, "cluster-ip")
    s = replace(s, client=replace(s.client, pod="nginx-demo-1"))  # a backend on node1 calls its own Service
    c = sim.connect(s, client_port=40000, target="192.168.16.142:80", seed=1)
    assert (c.outcome, c.target) == ("established", "192.168.16.142:80")
    out = next(h for h in c.hops if h.lane == "node1" and h.kind == "send" and h.packet.flags == Flags.SYN)
    # KUBE-LOOP-BACK dst,dst,src: MASQUERADE without --random-fully keeps the port
    assert (str(out.packet.source), str(out.packet.dest)) == ("192.168.2.3:40000", "192.168.16.142:80")
    assert "KUBE-LOOP-BACK dst,dst,src -j MASQUERADE" in out.action
    back = next(h for h in c.hops if h.kind == "deliver" and h.packet.flags == Flags.SYN | Flags.ACK)
    assert (str(back.packet.source), str(back.packet.dest)) == ("10.100.235.20:80", "192.168.16.142:40000")
