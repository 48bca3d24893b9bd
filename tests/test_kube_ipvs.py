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
    # no local endpoint: all endpoints (kubernetes PR #97081); the NLB's health check keeps traffic away
    assert _vs(virtual_servers(s, "node2"))[1] == ("tcp", "192.168.21.86", 31468, EPS)


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
