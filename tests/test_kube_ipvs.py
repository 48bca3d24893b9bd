"""IPVS mode: kube-proxy's virtual servers and ipsets for the seed, the rr scheduler, the
connection table, and the seed's hairpin walked through them."""

from __future__ import annotations

import dataclasses

from hairpin.ipvs import IpvsTable, VirtualServer
from hairpin.kube.ipvs import ipsets, virtual_servers
from hairpin.model.net import ip_int, ip_str
from hairpin.scenario import seed

EPS = [("192.168.39.2", 80), ("192.168.49.70", 80), ("192.168.16.142", 80)]


def _vs(t: IpvsTable) -> list[tuple[str, str, int, list[tuple[str, int]]]]:
    return [(v.proto, ip_str(v.addr), v.port, [(ip_str(a), p) for a, p in v.dests]) for v in t.services.values()]


def test_seed_node1_virtual_servers_and_ipsets() -> None:
    s = seed()
    assert _vs(virtual_servers(s, "node1")) == [
        ("tcp", "10.100.235.20", 80, EPS),
        ("tcp", "192.168.2.3", 31468, EPS),
    ]
    assert ipsets(s, "node1") == {
        "KUBE-CLUSTER-IP": ["10.100.235.20,tcp:80"],
        "KUBE-NODE-PORT-TCP": ["31468"],
        "KUBE-LOOP-BACK": ["192.168.16.142,tcp:80,192.168.16.142"],
    }
    assert ipsets(s, "node2")["KUBE-LOOP-BACK"] == []


def test_local_policy_nodeport_has_only_local_destinations() -> None:
    s = seed()
    s = dataclasses.replace(s, services=(dataclasses.replace(s.services[0], external_traffic_policy="Local"),))
    assert _vs(virtual_servers(s, "node1"))[1] == ("tcp", "192.168.2.3", 31468, [("192.168.16.142", 80)])
    assert _vs(virtual_servers(s, "node3"))[1] == ("tcp", "192.168.44.17", 31468, EPS[:2])
    # no local endpoint: none in 1.18 (release-1.18 syncEndpoint keeps only local endpoints,
    # 2018112767/kubernetes @ b3796c7b pkg/proxy/ipvs/proxier.go), all endpoints from kubernetes PR #97081
    # (v1.21); the NLB's health check keeps external traffic away either way
    assert _vs(virtual_servers(s, "node2"))[1] == ("tcp", "192.168.21.86", 31468, [])
    s24 = dataclasses.replace(s, kube_proxy=dataclasses.replace(s.kube_proxy, version="1.24"))
    assert _vs(virtual_servers(s24, "node2"))[1] == ("tcp", "192.168.21.86", 31468, EPS)


def test_rr_walks_the_destinations_in_order() -> None:
    vs = VirtualServer("tcp", 1, 80, [(10, 80), (11, 80), (12, 80)])
    assert [vs.schedule() for _ in range(5)] == [(10, 80), (11, 80), (12, 80), (10, 80), (11, 80)]
    assert VirtualServer("tcp", 1, 80, []).schedule() is None


def test_connection_table_pins_a_connection_to_its_destination() -> None:
    t = virtual_servers(seed(), "node1")
    pod, node = ip_int("192.168.27.239"), ip_int("192.168.2.3")
    a = t.inbound("tcp", pod, 40000, node, 31468)
    again = t.inbound("tcp", pod, 40000, node, 31468)
    b = t.inbound("tcp", pod, 40001, node, 31468)
    assert a is again and a is not None and b is not None
    assert (ip_str(a.dest[0]), ip_str(b.dest[0])) == ("192.168.39.2", "192.168.49.70")
    assert t.inbound("tcp", pod, 40002, node, 31469) is None
    t.forget(a)
    assert t.outbound("tcp", a.dest[0], 80, pod, 40000) is None


def test_seed_hairpin_in_ipvs_mode() -> None:
    """The NLB delivers pod:P -> node1:31468; IPVS schedules it, KUBE-NODE-PORT masquerades it; the
    reply, de-masqueraded by conntrack, leaves ip_vs_out as node1:31468 -> pod:P: a destination
    node1 reaches through the VPC CNI's /32 route to the pod, not back through the NLB."""
    s = seed()
    t = virtual_servers(s, "node1")
    pod, node = ip_int("192.168.27.239"), ip_int("192.168.2.3")
    conn = t.inbound("tcp", pod, 40000, node, 31468)
    assert conn is not None and (ip_str(conn.dest[0]), conn.dest[1]) == ("192.168.39.2", 80)
    assert "31468" in ipsets(s, "node1")["KUBE-NODE-PORT-TCP"]  # -> KUBE-MARK-MASQ: SNAT to the node
    # the backend's SYN-ACK to node:X, un-SNATed by conntrack to pod:40000, then ip_vs_out:
    back = t.outbound("tcp", conn.dest[0], conn.dest[1], pod, 40000)
    assert back is conn
    synack = (ip_str(back.vaddr[0]), back.vaddr[1], ip_str(back.client[0]), back.client[1])
    assert synack == ("192.168.2.3", 31468, "192.168.27.239", 40000)
    assert s.pod("netshoot").node == "node1"  # so the /32 route delivers it to the pod: the hairpin


def test_only_local_node_ports_as_kube_proxys_ipvs_test_expects() -> None:
    """kubernetes pkg/proxy/ipvs/proxier_test.go TestOnlyLocalNodePorts (master): a NodePort Service
    (ETP Local, nodePort 3001) with endpoints 10.180.0.1 on the node (100.101.102.103) and 10.180.1.1
    elsewhere.  Its expectations, as facts: 2 virtual servers, the node's one with the local endpoint
    only; KUBE-NODE-PORT-TCP and KUBE-NODE-PORT-LOCAL-TCP hold 3001; KUBE-SERVICES jumps, in order,
    RETURN (-s 127.0.0.0/8), KUBE-MARK-MASQ (set KUBE-CLUSTER-IP), KUBE-NODE-PORT (no set), ACCEPT
    (set KUBE-CLUSTER-IP); KUBE-NODE-PORT: RETURN (KUBE-NODE-PORT-LOCAL-TCP), KUBE-MARK-MASQ
    (KUBE-NODE-PORT-TCP), ACCEPT (KUBE-HEALTH-CHECK-NODE-PORT).  Compared structurally (target and
    match set per rule, as its checkIptables does): the kernel here has no ip_vs to load them into."""
    import re

    from hairpin.kube.ipvs import tables
    from hairpin.scenario import from_dict

    doc = {
        "name": "TestOnlyLocalNodePorts",
        "vpc": {"cidr": "100.101.0.0/16", "router": "100.101.102.1", "azs": [{"name": "a", "subnets": ["100.101.102.0/24"]}]},
        "kube_proxy": {"mode": "ipvs", "version": "1.33"},
        "nodes": [{"name": "test-node", "ip": "100.101.102.103", "az": "a"}, {"name": "other-node", "ip": "100.101.102.104", "az": "a"}],
        "pods": [{"name": "ep", "ip": "10.180.0.1", "node": "test-node"}, {"name": "ep1", "ip": "10.180.1.1", "node": "other-node"}],
        "services": [{"namespace": "ns1", "name": "svc1", "type": "NodePort", "cluster_ip": "10.20.30.41",
                      "external_traffic_policy": "Local", "ports": [{"name": "p80", "port": 80, "node_port": 3001}],
                      "endpoints": ["ep", "ep1"]}],
        "client": {"pod": "ep1", "service": "ns1/svc1", "port": 80, "via": "cluster-ip"},
    }  # fmt: skip
    s = from_dict(doc, "ipvs.yaml")
    vs = _vs(virtual_servers(s, "test-node"))
    assert len(vs) == 2 and vs[1] == ("tcp", "100.101.102.103", 3001, [("10.180.0.1", 80)])
    sets = ipsets(s, "test-node")
    assert (sets["KUBE-NODE-PORT-TCP"], sets["KUBE-NODE-PORT-LOCAL-TCP"]) == (["3001"], ["3001"])
    t = tables(s, "test-node")

    def shape(table: str, chain: str) -> list[tuple[str, str]]:
        out = []
        for rule in t.rules(table, chain):
            target = rule.split(" -j ")[-1].split()[0]
            m = re.search(r"--match-set (\S+)", rule)
            src = re.search(r"-s (\S+)", rule)
            out.append((target, m.group(1) if m else (src.group(1) if src else "")))
        return out

    assert shape("nat", "KUBE-SERVICES") == [
        ("RETURN", "127.0.0.0/8"), ("KUBE-MARK-MASQ", "KUBE-CLUSTER-IP"), ("KUBE-NODE-PORT", ""), ("ACCEPT", "KUBE-CLUSTER-IP"),
    ]  # fmt: skip
    assert shape("nat", "KUBE-NODE-PORT") + shape("filter", "KUBE-NODE-PORT") == [
        ("RETURN", "KUBE-NODE-PORT-LOCAL-TCP"), ("KUBE-MARK-MASQ", "KUBE-NODE-PORT-TCP"), ("ACCEPT", "KUBE-HEALTH-CHECK-NODE-PORT"),
    ]  # fmt: skip


def test_ipset_save_has_kube_proxys_create_and_add_forms() -> None:
    """kubernetes pkg/proxy/ipvs/ipset/ipset.go (and pkg/util/ipset/ipset.go before it), ``createSet``:
    ``create NAME TYPE family inet hashsize 1024 maxelem 65536`` for the hash types (setIPSetDefaults'
    1024 / 65536 / inet), ``range 0-65535`` (DefaultPortRange) for bitmap:port, no ``comment`` option;
    ``AddEntry``: ``add NAME ENTRY`` with no comment.  Members of a bitmap:port set in port order, as
    ``ipset save`` lists them (tests/test_kube_ipvs_oracle.py loads the text with the real tool)."""
    from hairpin.kube.ipvs import ipset_save

    s = seed()
    svc = s.services[0]
    second = dataclasses.replace(svc, name="second", cluster_ip="10.100.0.10",
                                 ports=(dataclasses.replace(svc.ports[0], node_port=30054),))  # fmt: skip
    s = dataclasses.replace(s, services=(svc, second))
    lines = ipset_save(s, "node1").splitlines()
    assert "comment" not in " ".join(lines)
    assert lines[:4] == [
        "create KUBE-LOOP-BACK hash:ip,port,ip family inet hashsize 1024 maxelem 65536",
        "add KUBE-LOOP-BACK 192.168.16.142,tcp:80,192.168.16.142",
        "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536",
        "add KUBE-CLUSTER-IP 10.100.235.20,tcp:80",
    ]
    at = lines.index("create KUBE-NODE-PORT-TCP bitmap:port range 0-65535")
    assert lines[at + 1 : at + 3] == ["add KUBE-NODE-PORT-TCP 30054", "add KUBE-NODE-PORT-TCP 31468"]
    assert len([ln for ln in lines if ln.startswith("create ")]) == 13  # 1.18: no KUBE-IPVS-IPS, no KUBE-HEALTH-CHECK-NODE-PORT (PR #97824, 1.21)


def test_118_ipvs_forward_and_firewall_rules_as_release_118_writes_them() -> None:
    """release-1.18 pkg/proxy/ipvs/proxier.go writeIptablesRules (the fork 2018112767/kubernetes at b3796c7b):
    KUBE-FORWARD's two conntrack rules without -s/-d (as its iptables proxier), and the nat KUBE-FIREWALL
    "mark drop" rule; from 1.24 one "kubernetes forwarding conntrack rule", and from 1.25 no nat KUBE-FIREWALL
    (PR #110628 moved source ranges to the filter table)."""
    from dataclasses import replace

    from hairpin import scenario as scen
    from hairpin.kube import ipvs as kube_ipvs

    def forward_and_firewall(version: str) -> list[str]:
        s = scen.seed()
        s = replace(s, kube_proxy=replace(s.kube_proxy, mode="ipvs", version=version))
        text = kube_ipvs.tables(s, "node1").render(("filter", "nat"))
        return [ln for ln in text.splitlines() if ln.startswith(("-A KUBE-FORWARD", "-A KUBE-FIREWALL", ":KUBE-FIREWALL"))]

    conntrack = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    assert forward_and_firewall("1.18") == [  # filter, then nat
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
        f'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack pod source rule" {conntrack}',
        f'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack pod destination rule" {conntrack}',
        ":KUBE-FIREWALL - [0:0]",
        "-A KUBE-FIREWALL -j KUBE-MARK-DROP",
    ]
    assert forward_and_firewall("1.24")[1:] == [
        f'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" {conntrack}',
        ":KUBE-FIREWALL - [0:0]",
        "-A KUBE-FIREWALL -j KUBE-MARK-DROP",
    ]
    assert not [ln for ln in forward_and_firewall("1.25") if "KUBE-FIREWALL" in ln]
