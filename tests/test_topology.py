"""The seed scenario's topology: exact interfaces, addresses, routes, rules and neighbours."""

from __future__ import annotations

import pytest

from hairpin import scenario, topology


@pytest.fixture(scope="module")
def topo() -> topology.Topology:
    return topology.build(scenario.seed())


def test_namespaces_and_links(topo: topology.Topology) -> None:
    names = [(n.name, n.role) for n in topo.namespaces]
    assert names[0] == ("vpc", "vpc")
    assert set(names) == {
        ("vpc", "vpc"), ("node1", "node"), ("node2", "node"), ("node3", "node"),
        ("netshoot", "pod"), ("nginx-demo-1", "pod"), ("nginx-demo-2", "pod"), ("nginx-demo-3", "pod"),
    }  # fmt: skip
    assert (("vpc", "v-node1"), ("node1", "eth0")) in topo.links
    assert (("node1", "enie348bef9edc"), ("netshoot", "eth0")) in topo.links


def test_node_wiring_follows_the_vpc_cni(topo: topology.Topology) -> None:
    n1 = topo.namespace("node1")
    assert n1.interface("eth0").addresses == ("192.168.2.3/19",)
    routes = {(r.dst, r.dev, r.via) for r in n1.routes}
    assert ("0.0.0.0/0", "eth0", "192.168.0.1") in routes
    assert ("192.168.27.239/32", "enie348bef9edc", None) in routes
    assert ("192.168.16.142/32", "eni851d8a400b6", None) in routes
    rules = {(r.priority, r.dst, r.fwmark, r.table) for r in n1.rules}
    assert (512, "192.168.27.239/32", None, 254) in rules
    assert (1024, None, 0x80, 254) in rules
    assert "*nat" in n1.iptables and ":KUBE-SVC-7D7VEXWNCKBQRZ7W - [0:0]" in n1.iptables
    assert dict(n1.sysctls)["net.ipv4.ip_forward"] == "1"


def test_pod_has_the_cni_gateway_and_static_neighbour(topo: topology.Topology) -> None:
    pod = topo.namespace("netshoot")
    assert pod.interface("eth0").addresses == ("192.168.27.239/32",)
    assert [(r.dst, r.via) for r in pod.routes] == [("169.254.1.1/32", None), ("0.0.0.0/0", "169.254.1.1")]
    (neigh,) = pod.neighbours
    host_veth = topo.namespace("node1").interface("enie348bef9edc")
    assert (neigh.ip, neigh.mac) == ("169.254.1.1", host_veth.mac)
    assert dict(pod.sysctls)["net.ipv4.tcp_syn_retries"] == "6"


def test_vpc_owns_subnet_routers_and_nlb_addresses(topo: topology.Topology) -> None:
    vpc = topo.namespace("vpc")
    assert vpc.interface("v-node1").addresses == ("192.168.0.1/32",)
    assert vpc.interface("v-node3").addresses == ("192.168.32.1/32",)
    assert set(vpc.interface("lo").addresses) == {"192.168.168.103/32", "192.168.140.27/32"}
    routes = {(r.dst, r.dev) for r in vpc.routes}
    assert ("192.168.27.239/32", "v-node1") in routes and ("192.168.39.2/32", "v-node3") in routes
