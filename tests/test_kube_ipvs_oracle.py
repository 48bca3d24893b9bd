"""kube-proxy's IPVS mode against kube-proxy's own IPVS unit tests, with the real ``ipset`` and
``iptables`` tools (root: a private network namespace per load).

Each kube-proxy test below is rebuilt as a hairpin scenario in IPVS mode; hairpin's ipsets
(``hairpin.kube.ipvs.ipset_save``) and the node's iptables text (``hairpin.kube.node_iptables``) are
loaded with ``ipset restore`` and ``iptables-restore`` and listed back with ``ipset save`` and
``iptables-save``; what the kube-proxy test expects is asserted on what the tools list back:

- its ``checkIPSet``: the entries of each named set, both sides sorted;
- its ``checkIptables``: for each named chain, the rules of that chain in the nat table then the
  filter table (its ``getRules``), same number and order, each with the expected jump target and
  ``--match-set`` name (none where it expects none);
- its ``checkIPVS`` / ``reflect.DeepEqual`` on the fake IPVS: hairpin's IPVS table (as
  ``ipvsadm -Sn`` text), compared structurally -- the kernel these tests run on has no ip_vs module,
  so the virtual servers cannot be loaded.

The expectations are facts from kubernetes/kubernetes pkg/proxy/ipvs/proxier_test.go, master as
stored (kubernetes/kubernetes @ 531be81208e2, a 1.33+ tree: ``testNodeName``, pkg/proxy/runner; the
1.29+ layout whose KUBE-SERVICES starts with ``-s 127.0.0.0/8 -j RETURN``), test by test.  No other
stored copy is newer: jesseward/kubernetes @ 5ec89f49 (1.36) stores no pkg/proxy/ipvs files, and no
pkg/proxy/ipvs/proxier_test.go is stored at kubernetes/kubernetes @ 2bb4b1042dfd, the commit an
earlier version of this note named.  The fake proxier there
(``NewFakeProxier``) runs on node ``test-node``; endpoints without a NodeName are on another node
here.  hairpin models IPv4 only: the IPv6 endpoints and node addresses of those tests, which the
IPv4 proxier drops (its expectations hold none of them), are left out.

The second half: hairpin's ipset and iptables texts are a fixed point of the real tools, for the seed
and every example in IPVS mode and every kube-proxy version hairpin models for it, and pass
kube-proxy's jump check.
"""

from __future__ import annotations

import dataclasses
import glob
import re
from typing import Any

import pytest

from hairpin.errors import ScenarioError
from hairpin.kube import node_iptables
from hairpin.kube.ipvs import ipset_save, virtual_servers
from hairpin.model.scenario import Service, ServicePort
from hairpin.parsers.ipvsadm import dump
from hairpin.scenario import Scenario, from_dict, load, seed
from kube_oracle import check_jumps, ipset_and_iptables_restore_and_save, needs_root

NODE, NODE_IP = "test-node", "100.101.102.103"

# kube-proxy's chain and set names (pkg/proxy/ipvs/proxier.go, ipset.go)
SERVICES, NODE_PORT, MARK_MASQ, LOAD_BALANCER = "KUBE-SERVICES", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "KUBE-LOAD-BALANCER"
CLUSTER_IP, HC = "KUBE-CLUSTER-IP", "KUBE-HEALTH-CHECK-NODE-PORT"  # fmt: skip


@pytest.fixture(autouse=True)
def _root() -> None:
    needs_root("ipset", "iptables-restore", "iptables-save")


def scenario(services: list[dict[str, Any]], pods: list[dict[str, Any]], version: str = "1.33") -> Scenario:
    """The fake proxier's world: test-node (100.101.102.103) and other-node, plus a caller pod."""
    doc = {
        "name": "kube-proxy ipvs proxier_test",
        "vpc": {"cidr": "100.101.0.0/16", "router": "100.101.102.1",
                "azs": [{"name": "a", "subnets": ["100.101.102.0/24"]}]},
        "kube_proxy": {"mode": "ipvs", "version": version},
        "nodes": [{"name": NODE, "ip": NODE_IP, "az": "a"}, {"name": "other-node", "ip": "100.101.102.104", "az": "a"}],
        "pods": [*pods, {"name": "caller", "ip": "10.180.9.9", "node": "other-node"}],
        "services": services,
        "client": {"pod": "caller", "service": f"{services[0]['namespace']}/{services[0]['name']}",
                   "port": services[0]["ports"][0]["port"], "via": "cluster-ip"},
    }  # fmt: skip
    first = services[0]["ports"][0]
    if first.get("protocol") != "UDP":
        return from_dict(doc, "proxier_test.yaml")
    # a scenario file's client calls a TCP port (a UDP one is refused: hairpin.scenario_protocols); kube-proxy's
    # rules for a UDP Service are made from the model, so the port is loaded as TCP and made UDP after
    first["protocol"] = "TCP"
    try:
        loaded = from_dict(doc, "proxier_test.yaml")
    finally:
        first["protocol"] = "UDP"
    head = loaded.services[0]
    udp = dataclasses.replace(head, ports=(dataclasses.replace(head.ports[0], protocol="UDP"), *head.ports[1:]))
    return dataclasses.replace(loaded, services=(udp, *loaded.services[1:]))


def svc(name: str, kind: str, cluster_ip: str, eps: list[str], node_port: int | None = None,
        protocol: str = "TCP", **extra: Any) -> dict[str, Any]:  # fmt: skip
    port: dict[str, Any] = {"name": "p80", "port": 80, "protocol": protocol}
    if node_port:
        port["node_port"] = node_port
    return {"namespace": "ns1", "name": name, "type": kind, "cluster_ip": cluster_ip, "ports": [port],
            "endpoints": eps, **extra}  # fmt: skip


def listed(s: Scenario, node: str = NODE) -> tuple[str, str]:
    """hairpin's ipset and iptables texts for ``node``, loaded and listed back by the real tools."""
    return ipset_and_iptables_restore_and_save(ipset_save(s, node), node_iptables(s, node))


def entries(ipset_text: str) -> dict[str, list[str]]:
    """checkIPSet's view: each set's entries, sorted."""
    out: dict[str, list[str]] = {}
    for line in ipset_text.splitlines():
        words = line.split()
        if words[:1] == ["create"]:
            out[words[1]] = []
        elif words[:1] == ["add"]:
            out[words[1]].append(words[2])
    return {name: sorted(members) for name, members in out.items()}


def rules(iptables_text: str, chain: str) -> list[tuple[str, str]]:
    """checkIptables' view of ``chain``: (jump target, --match-set name or "") of its rules, the nat
    table's then the filter table's (getRules saves nat, then filter)."""
    by_table: dict[str, list[tuple[str, str]]] = {}
    table = ""
    for line in iptables_text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(f"-A {chain} "):
            jump = re.search(r" -j (\S+)", line)
            match_set = re.search(r"--match-set (\S+)", line)
            by_table.setdefault(table, []).append((jump.group(1) if jump else "", match_set.group(1) if match_set else ""))
    return by_table.get("nat", []) + by_table.get("filter", [])


def ipvs(s: Scenario, node: str = NODE) -> dict[tuple[str, str], tuple[str, list[tuple[str, int]]]]:
    """The fake IPVS's view of hairpin's table, read back from its ``ipvsadm -Sn`` text:
    {(protocol, vip:port): (scheduler, [(real server, weight)])}."""
    out: dict[tuple[str, str], tuple[str, list[tuple[str, int]]]] = {}
    for line in dump(virtual_servers(s, node)).splitlines():
        w = line.split()
        proto = {"-t": "TCP", "-u": "UDP"}[w[1]]
        if w[0] == "-A":
            out[(proto, w[2])] = (w[w.index("-s") + 1], [])
        else:
            assert w[5] == "-m", line  # masquerading (NAT) forwarding, as kube-proxy's real servers
            out[(proto, w[2])][1].append((w[w.index("-r") + 1], int(w[w.index("-w") + 1])))
    return out


# ------------------------------------------------------------------ kube-proxy's tests, one by one

KUBE_SERVICES_NO_LB = [("RETURN", ""), (MARK_MASQ, CLUSTER_IP), (NODE_PORT, ""), ("ACCEPT", CLUSTER_IP)]


def test_node_port_ipv4_tcp() -> None:
    """TestNodePortIPv4 "1 service with node port, has 2 endpoints": NodePort svc1 10.20.30.41:80,
    nodePort 3001, endpoint 10.180.0.1 (plus an IPv6 one the IPv4 proxier drops); the whole fake IPVS
    must be the ClusterIP server and the node's 100.101.102.103:3001, both rr with 10.180.0.1:80
    weight 1."""
    s = scenario([svc("svc1", "NodePort", "10.20.30.41", ["ep"], 3001)],
                 [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}])  # fmt: skip
    assert ipvs(s) == {
        ("TCP", "10.20.30.41:80"): ("rr", [("10.180.0.1:80", 1)]),
        ("TCP", "100.101.102.103:3001"): ("rr", [("10.180.0.1:80", 1)]),
    }
    sets, ipt = listed(s)
    # not stated by that case (its expectedIPSets is nil); hairpin's, checked the same way
    assert entries(sets)["KUBE-NODE-PORT-TCP"] == ["3001"] and entries(sets)[CLUSTER_IP] == ["10.20.30.41,tcp:80"]
    assert rules(ipt, SERVICES) == KUBE_SERVICES_NO_LB


def test_node_port_ipv4_udp() -> None:
    """TestNodePortIPv4 "1 UDP service with node port, has endpoints" (nodePortAddresses 0.0.0.0/0,
    one node address): UDP servers; KUBE-NODE-PORT-UDP holds 3001; KUBE-NODE-PORT: KUBE-MARK-MASQ on
    KUBE-NODE-PORT-UDP, ACCEPT on KUBE-HEALTH-CHECK-NODE-PORT; KUBE-SERVICES: RETURN (-s 127.0.0.0/8),
    KUBE-MARK-MASQ on KUBE-CLUSTER-IP, KUBE-NODE-PORT, ACCEPT on KUBE-CLUSTER-IP."""
    s = scenario([svc("svc1", "NodePort", "10.20.30.41", ["ep"], 3001, protocol="UDP")],
                 [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}])  # fmt: skip
    assert ipvs(s) == {
        ("UDP", "10.20.30.41:80"): ("rr", [("10.180.0.1:80", 1)]),
        ("UDP", "100.101.102.103:3001"): ("rr", [("10.180.0.1:80", 1)]),
    }
    sets, ipt = listed(s)
    assert entries(sets)["KUBE-NODE-PORT-UDP"] == ["3001"]
    assert rules(ipt, NODE_PORT) == [(MARK_MASQ, "KUBE-NODE-PORT-UDP"), ("ACCEPT", HC)]
    assert rules(ipt, SERVICES) == KUBE_SERVICES_NO_LB


def test_node_port_ipv4_no_endpoints_and_cluster_ip() -> None:
    """TestNodePortIPv4 "service has node port but no endpoints": both servers, no real servers.
    TestIPv4Proxier "2 services with Cluster IP, each with endpoints" (the IPv6 one dropped) and
    "cluster IP service with no endpoints": one ClusterIP server each, with 10.180.0.1:80 / none."""
    no_eps = scenario([svc("svc1", "NodePort", "10.20.30.41", [], 3001)], [])
    assert ipvs(no_eps) == {("TCP", "10.20.30.41:80"): ("rr", []), ("TCP", "100.101.102.103:3001"): ("rr", [])}
    cluster = scenario([svc("svc1", "ClusterIP", "10.20.30.41", ["ep"])],
                       [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}])  # fmt: skip
    assert ipvs(cluster) == {("TCP", "10.20.30.41:80"): ("rr", [("10.180.0.1:80", 1)])}
    assert ipvs(scenario([svc("svc1", "ClusterIP", "10.20.30.41", [])], [])) == {("TCP", "10.20.30.41:80"): ("rr", [])}
    for s in (no_eps, cluster):
        sets, ipt = listed(s)
        assert entries(sets)[CLUSTER_IP] == ["10.20.30.41,tcp:80"] and entries(sets)["KUBE-LOOP-BACK"] == []
        assert rules(ipt, SERVICES) == KUBE_SERVICES_NO_LB


def test_only_local_node_ports() -> None:
    """TestOnlyLocalNodePorts: NodePort svc1 (externalTrafficPolicy Local, nodePort 3001), endpoints
    10.180.0.1 on test-node and 10.180.1.1 on other-node: 2 virtual servers, the node's
    100.101.102.103:3001 with the local endpoint only; KUBE-NODE-PORT-TCP and
    KUBE-NODE-PORT-LOCAL-TCP hold 3001; KUBE-SERVICES as above; KUBE-NODE-PORT: RETURN on
    KUBE-NODE-PORT-LOCAL-TCP, KUBE-MARK-MASQ on KUBE-NODE-PORT-TCP, ACCEPT on
    KUBE-HEALTH-CHECK-NODE-PORT (nat's two rules, then filter's)."""
    s = scenario([svc("svc1", "NodePort", "10.20.30.41", ["ep", "ep1"], 3001, external_traffic_policy="Local")],
                 [{"name": "ep", "ip": "10.180.0.1", "node": NODE},
                  {"name": "ep1", "ip": "10.180.1.1", "node": "other-node"}])  # fmt: skip
    vs = ipvs(s)
    assert len(vs) == 2 and vs[("TCP", "100.101.102.103:3001")] == ("rr", [("10.180.0.1:80", 1)])
    sets, ipt = listed(s)
    assert (entries(sets)["KUBE-NODE-PORT-TCP"], entries(sets)["KUBE-NODE-PORT-LOCAL-TCP"]) == (["3001"], ["3001"])
    assert rules(ipt, SERVICES) == KUBE_SERVICES_NO_LB
    assert rules(ipt, NODE_PORT) == [("RETURN", "KUBE-NODE-PORT-LOCAL-TCP"), (MARK_MASQ, "KUBE-NODE-PORT-TCP"),
                                     ("ACCEPT", HC)]  # fmt: skip
    # not in that test: the local endpoint's hairpin entry (KUBE-LOOP-BACK), hairpin's, loaded
    assert entries(sets)["KUBE-LOOP-BACK"] == ["10.180.0.1,tcp:80,10.180.0.1"]


def test_health_check_node_port() -> None:
    """TestHealthCheckNodePort: LoadBalancer Services valid-svc1 (health check node port 30000) and
    valid-svc2 (30001), externalTrafficPolicy Local, and invalid-svc3 (30002, policy Cluster): the set
    holds 30000 and 30001 only; KUBE-NODE-PORT as in TestOnlyLocalNodePorts.

    Difference: the three Services there share nodePort 3000 and one ClusterIP (a copied Service), which
    an API server never admits; here each has its own (3000, 3001, 3002; .41, .42, .43)."""
    def lb(name: str, ip: str, node_port: int, hc: int, policy: str) -> dict[str, Any]:
        return svc(name, "LoadBalancer", ip, [], node_port, external_traffic_policy=policy, health_check_node_port=hc)

    s = scenario([lb("valid-svc1", "10.20.30.41", 3000, 30000, "Local"), lb("valid-svc2", "10.20.30.42", 3001, 30001, "Local"),
                  lb("invalid-svc3", "10.20.30.43", 3002, 30002, "Cluster")], [])  # fmt: skip
    sets, ipt = listed(s)
    assert entries(sets)[HC] == ["30000", "30001"]
    assert rules(ipt, NODE_PORT) == [("RETURN", "KUBE-NODE-PORT-LOCAL-TCP"), (MARK_MASQ, "KUBE-NODE-PORT-TCP"),
                                     ("ACCEPT", HC)]  # fmt: skip


def test_masquerade_rule_and_chains() -> None:
    """TestMasqueradeRule: the first ``-j MASQUERADE`` rule of nat KUBE-POSTROUTING carries
    ``--random-fully`` when iptables has it (EKS's iptables does; hairpin always writes it).  With no
    local endpoint KUBE-LOOP-BACK is empty and its MASQUERADE rule is not written, as there.
    TestCreateAndLinkKubeChain: kube-proxy declares nat KUBE-SERVICES, KUBE-POSTROUTING,
    KUBE-NODE-PORT, KUBE-LOAD-BALANCER, KUBE-MARK-MASQ and filter KUBE-FORWARD, KUBE-NODE-PORT,
    KUBE-PROXY-FIREWALL, KUBE-SOURCE-RANGES-FIREWALL, KUBE-IPVS-FILTER, KUBE-IPVS-OUT-FILTER."""
    s = scenario([svc("svc1", "ClusterIP", "10.20.30.41", ["ep"])], [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}])
    _, ipt = listed(s)
    masq = [line for line in ipt.splitlines() if line.startswith("-A KUBE-POSTROUTING ") and "-j MASQUERADE" in line]
    assert masq[0].endswith("-j MASQUERADE --random-fully")
    declared: dict[str, set[str]] = {}
    table = ""
    for line in ipt.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":KUBE-") and "CANARY" not in line:
            declared.setdefault(table, set()).add(line[1:].split()[0])
    kubelet_and_cni = {"KUBE-FIREWALL", "KUBE-KUBELET-CANARY"}
    assert declared["nat"] - kubelet_and_cni == {SERVICES, "KUBE-POSTROUTING", NODE_PORT, LOAD_BALANCER, MARK_MASQ}
    assert declared["filter"] - kubelet_and_cni == {"KUBE-FORWARD", NODE_PORT, "KUBE-PROXY-FIREWALL",
                                                    "KUBE-SOURCE-RANGES-FIREWALL", "KUBE-IPVS-FILTER", "KUBE-IPVS-OUT-FILTER"}  # fmt: skip


# The Service features of kube-proxy's TestLoadBalancer, TestOnlyLocalLoadBalancing,
# TestLoadBalancerSourceRanges, TestAcceptIPVSTraffic, TestExternalIPs and TestOnlyLocalExternalIPs
# (proxier_test.go as above).  A load-balancer ingress IP is the scenario's ``load_balancer_ips``
# (ipMode VIP); EKS's AWS controllers publish a hostname, so only a scenario that says so has one.

LB_IP, EXT_IP = "1.2.3.4", "50.60.70.81"
LB_CHAIN_RULES = [(MARK_MASQ, "")]
KUBE_SERVICES_LB = [("RETURN", ""), (LOAD_BALANCER, LOAD_BALANCER), (MARK_MASQ, CLUSTER_IP), (NODE_PORT, ""),
                    ("ACCEPT", CLUSTER_IP), ("ACCEPT", LOAD_BALANCER)]  # fmt: skip


def loadable(iptables_text: str) -> tuple[str, list[str]]:
    """The text without its ``-m ipvs`` rules (KUBE-IPVS-OUT-FILTER), which this kernel cannot load
    (no ip_vs, so no xt_ipvs: iptables-restore fails), and those rules, checked as text instead."""
    keep, ipvs_rules = [], []
    for line in iptables_text.splitlines():
        (ipvs_rules if " -m ipvs " in line else keep).append(line)
    return "\n".join(keep) + "\n", ipvs_rules


def listed_features(s: Scenario, node: str = NODE) -> tuple[str, str, list[str]]:
    text, ipvs_rules = loadable(node_iptables(s, node))
    sets, ipt = ipset_and_iptables_restore_and_save(ipset_save(s, node), text)
    return sets, ipt, ipvs_rules


def test_load_balancer() -> None:
    """TestLoadBalancer: LoadBalancer svc1 10.20.30.41:80, nodePort 3001, ingress IP 1.2.3.4, endpoint
    10.180.0.1: 2 virtual servers (checkIPVS looks the LB address up with the nodePort, 1.2.3.4:3001,
    and, finding none, checks only their number: hairpin's are the ClusterIP, 1.2.3.4:80 and the node's
    NodePort -- the fake proxier there has no node address, so no NodePort server); KUBE-LOAD-BALANCER
    holds 1.2.3.4,tcp:80; KUBE-SERVICES: RETURN, KUBE-LOAD-BALANCER on KUBE-LOAD-BALANCER, KUBE-MARK-MASQ
    on KUBE-CLUSTER-IP, KUBE-NODE-PORT, ACCEPT on KUBE-CLUSTER-IP, ACCEPT on KUBE-LOAD-BALANCER; chain
    KUBE-LOAD-BALANCER: KUBE-MARK-MASQ."""
    s = scenario([svc("svc1", "LoadBalancer", "10.20.30.41", ["ep"], 3001, load_balancer_ips=[LB_IP])],
                 [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}])  # fmt: skip
    assert ipvs(s) == {
        ("TCP", "10.20.30.41:80"): ("rr", [("10.180.0.1:80", 1)]),
        ("TCP", "1.2.3.4:80"): ("rr", [("10.180.0.1:80", 1)]),
        ("TCP", "100.101.102.103:3001"): ("rr", [("10.180.0.1:80", 1)]),
    }
    sets, ipt, ipvs_rules = listed_features(s)
    assert entries(sets)[LOAD_BALANCER] == ["1.2.3.4,tcp:80"]
    assert entries(sets)["KUBE-LOAD-BALANCER-LOCAL"] == entries(sets)["KUBE-LOAD-BALANCER-FW"] == []
    assert rules(ipt, SERVICES) == KUBE_SERVICES_LB
    assert rules(ipt, LOAD_BALANCER) == LB_CHAIN_RULES
    assert ipvs_rules == []
    # kube-ipvs0 gets the VIP (hairpin's KUBE-IPVS-IPS; the test's fake netlink is not checked there)
    assert entries(sets)["KUBE-IPVS-IPS"] == ["1.2.3.4", "10.20.30.41"]


def test_only_local_load_balancing() -> None:
    """TestOnlyLocalLoadBalancing: as TestLoadBalancer with externalTrafficPolicy Local, endpoints
    10.180.0.1 on test-node and 10.180.1.1 on other-node: 1.2.3.4:80's only real server is the local
    one; KUBE-LOAD-BALANCER and KUBE-LOAD-BALANCER-LOCAL hold 1.2.3.4,tcp:80; KUBE-SERVICES as in
    TestLoadBalancer; KUBE-LOAD-BALANCER: RETURN on KUBE-LOAD-BALANCER-LOCAL, then KUBE-MARK-MASQ."""
    s = scenario([svc("svc1", "LoadBalancer", "10.20.30.41", ["ep", "ep1"], 3001, load_balancer_ips=[LB_IP],
                      external_traffic_policy="Local", health_check_node_port=30000)],
                 [{"name": "ep", "ip": "10.180.0.1", "node": NODE},
                  {"name": "ep1", "ip": "10.180.1.1", "node": "other-node"}])  # fmt: skip
    vs = ipvs(s)
    assert vs[("TCP", "1.2.3.4:80")] == ("rr", [("10.180.0.1:80", 1)])
    assert vs[("TCP", "10.20.30.41:80")] == ("rr", [("10.180.0.1:80", 1), ("10.180.1.1:80", 1)])
    sets, ipt, _ = listed_features(s)
    assert entries(sets)[LOAD_BALANCER] == entries(sets)["KUBE-LOAD-BALANCER-LOCAL"] == ["1.2.3.4,tcp:80"]
    assert rules(ipt, SERVICES) == KUBE_SERVICES_LB
    assert rules(ipt, LOAD_BALANCER) == [("RETURN", "KUBE-LOAD-BALANCER-LOCAL"), (MARK_MASQ, "")]
    # other-node has no local endpoint: all endpoints (PR #97081), as for its NodePort
    assert ipvs(s, "other-node")[("TCP", "1.2.3.4:80")] == ("rr", [("10.180.1.1:80", 1)])


def test_load_balancer_source_ranges() -> None:
    """TestLoadBalancerSourceRanges: LoadBalancer svc1 (no nodePort) with ingress 1.2.3.4 and source
    range 10.0.0.0/8: 2 virtual servers, 1.2.3.4:80 with 10.180.0.1:80; sets KUBE-LOAD-BALANCER and
    KUBE-LOAD-BALANCER-FW hold 1.2.3.4,tcp:80, KUBE-LOAD-BALANCER-SOURCE-CIDR 1.2.3.4,tcp:80,10.0.0.0/8;
    KUBE-SERVICES as in TestLoadBalancer; KUBE-PROXY-FIREWALL: KUBE-SOURCE-RANGES-FIREWALL on
    KUBE-LOAD-BALANCER-FW; KUBE-SOURCE-RANGES-FIREWALL: RETURN on KUBE-LOAD-BALANCER-SOURCE-CIDR, DROP.

    Not checked there, checked here: the node's IP (100.101.102.103) is outside 10.0.0.0/8, so
    KUBE-LOAD-BALANCER-SOURCE-IP stays empty and KUBE-IPVS-OUT-FILTER drops the node's own connections
    to the VIP (``lbNoNodeAccessIPPortProtocolEntries``); that ``-m ipvs`` rule cannot be loaded here."""
    s = scenario([svc("svc1", "LoadBalancer", "10.20.30.41", ["ep"], load_balancer_ips=[LB_IP],
                      load_balancer_source_ranges=["10.0.0.0/8"])],
                 [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}])  # fmt: skip
    assert ipvs(s) == {("TCP", "10.20.30.41:80"): ("rr", [("10.180.0.1:80", 1)]),
                       ("TCP", "1.2.3.4:80"): ("rr", [("10.180.0.1:80", 1)])}  # fmt: skip
    sets, ipt, ipvs_rules = listed_features(s)
    assert entries(sets)[LOAD_BALANCER] == entries(sets)["KUBE-LOAD-BALANCER-FW"] == ["1.2.3.4,tcp:80"]
    assert entries(sets)["KUBE-LOAD-BALANCER-SOURCE-CIDR"] == ["1.2.3.4,tcp:80,10.0.0.0/8"]
    assert entries(sets)["KUBE-LOAD-BALANCER-SOURCE-IP"] == []
    assert rules(ipt, SERVICES) == KUBE_SERVICES_LB
    assert rules(ipt, "KUBE-PROXY-FIREWALL") == [("KUBE-SOURCE-RANGES-FIREWALL", "KUBE-LOAD-BALANCER-FW")]
    assert rules(ipt, "KUBE-SOURCE-RANGES-FIREWALL") == [("RETURN", "KUBE-LOAD-BALANCER-SOURCE-CIDR"), ("DROP", "")]
    assert ipvs_rules == ["-A KUBE-IPVS-OUT-FILTER -s 1.2.3.4/32 -m ipvs --vproto 6 --vaddr 1.2.3.4/32 --vport 80 -j DROP"]
    # a range holding the node's IP: KUBE-LOAD-BALANCER-SOURCE-IP gets vip,proto:port,vip, no OUT-FILTER rule
    inside = scenario([svc("svc1", "LoadBalancer", "10.20.30.41", ["ep"], load_balancer_ips=[LB_IP],
                           load_balancer_source_ranges=["10.0.0.0/8", "100.101.0.0/16"])],
                      [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}])  # fmt: skip
    sets, ipt, ipvs_rules = listed_features(inside)
    assert entries(sets)["KUBE-LOAD-BALANCER-SOURCE-IP"] == ["1.2.3.4,tcp:80,1.2.3.4"]
    assert entries(sets)["KUBE-LOAD-BALANCER-SOURCE-CIDR"] == ["1.2.3.4,tcp:80,10.0.0.0/8", "1.2.3.4,tcp:80,100.101.0.0/16"]
    assert rules(ipt, "KUBE-SOURCE-RANGES-FIREWALL") == [("RETURN", "KUBE-LOAD-BALANCER-SOURCE-CIDR"),
                                                         ("RETURN", "KUBE-LOAD-BALANCER-SOURCE-IP"), ("DROP", "")]  # fmt: skip
    assert ipvs_rules == []


def test_accept_ipvs_traffic() -> None:
    """TestAcceptIPVSTraffic: ClusterIP svc1 (10.20.30.40, externalIP 5.6.7.8), LoadBalancer svc2
    (10.20.30.41, ingress 1.2.3.4) and NodePort svc3 (10.20.30.42), nodePort 80 each: KUBE-SERVICES is
    RETURN, KUBE-LOAD-BALANCER on KUBE-LOAD-BALANCER, KUBE-MARK-MASQ on KUBE-CLUSTER-IP, KUBE-MARK-MASQ on
    KUBE-EXTERNAL-IP, ACCEPT on KUBE-EXTERNAL-IP twice (physdev/addrtype and dst-type LOCAL),
    KUBE-NODE-PORT, ACCEPT on KUBE-CLUSTER-IP, ACCEPT on KUBE-LOAD-BALANCER.

    Difference: the three share nodePort 80 there; here 30080, 30081, 30082 (an API server admits
    no shared nodePort, nor one outside the range)."""
    s = scenario([svc("svc1", "ClusterIP", "10.20.30.40", ["ep1"], external_ips=["5.6.7.8"]),
                  svc("svc2", "LoadBalancer", "10.20.30.41", ["ep2"], 30081, load_balancer_ips=[LB_IP]),
                  svc("svc3", "NodePort", "10.20.30.42", ["ep3"], 30082)],
                 [{"name": f"ep{i}", "ip": f"10.180.0.{i}", "node": "other-node"} for i in (1, 2, 3)])  # fmt: skip
    _, ipt, _ = listed_features(s)
    assert rules(ipt, SERVICES) == [("RETURN", ""), (LOAD_BALANCER, LOAD_BALANCER), (MARK_MASQ, CLUSTER_IP),
                                    (MARK_MASQ, "KUBE-EXTERNAL-IP"), ("ACCEPT", "KUBE-EXTERNAL-IP"),
                                    ("ACCEPT", "KUBE-EXTERNAL-IP"), (NODE_PORT, ""), ("ACCEPT", CLUSTER_IP),
                                    ("ACCEPT", LOAD_BALANCER)]  # fmt: skip
    ext = [line for line in ipt.splitlines() if line.startswith("-A KUBE-SERVICES ") and "KUBE-EXTERNAL-IP " in line]
    assert ext[1].endswith("dst,dst -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT")
    assert ext[2].endswith("dst,dst -m addrtype --dst-type LOCAL -j ACCEPT")


def test_external_ips() -> None:
    """TestExternalIPs: ClusterIP svc1 10.20.30.41:80 with externalIPs 50.60.70.81 (plus an IPv6 one and
    127.0.0.1, which hairpin's scenario refuses as an external IP: a loopback address), endpoint 10.180.0.1:
    the external IP's server has 10.180.0.1:80.  TestExternalIPsNoEndpoint: without endpoints, 2
    servers, the external IP's with no real server.  The set is KUBE-EXTERNAL-IP (policy Cluster)."""
    s = scenario([svc("svc1", "ClusterIP", "10.20.30.41", ["ep"], external_ips=[EXT_IP])],
                 [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}])  # fmt: skip
    assert ipvs(s) == {("TCP", "10.20.30.41:80"): ("rr", [("10.180.0.1:80", 1)]),
                       ("TCP", "50.60.70.81:80"): ("rr", [("10.180.0.1:80", 1)])}  # fmt: skip
    none = scenario([svc("svc1", "ClusterIP", "10.20.30.41", [], external_ips=[EXT_IP])], [])
    assert ipvs(none) == {("TCP", "10.20.30.41:80"): ("rr", []), ("TCP", "50.60.70.81:80"): ("rr", [])}
    sets, ipt, _ = listed_features(s)
    assert entries(sets)["KUBE-EXTERNAL-IP"] == ["50.60.70.81,tcp:80"] and entries(sets)["KUBE-EXTERNAL-IP-LOCAL"] == []
    assert rules(ipt, SERVICES) == [("RETURN", ""), (MARK_MASQ, CLUSTER_IP), (MARK_MASQ, "KUBE-EXTERNAL-IP"),
                                    ("ACCEPT", "KUBE-EXTERNAL-IP"), ("ACCEPT", "KUBE-EXTERNAL-IP"), (NODE_PORT, ""),
                                    ("ACCEPT", CLUSTER_IP)]  # fmt: skip
    assert entries(sets)["KUBE-IPVS-IPS"] == ["10.20.30.41", "50.60.70.81"]


def test_only_local_external_ips() -> None:
    """TestOnlyLocalExternalIPs: NodePort svc1 with externalIP 50.60.70.81, externalTrafficPolicy Local,
    endpoints 10.180.0.1 (test-node) and 10.180.1.1 (other-node): the external IP's server has only
    10.180.0.1:80.  The set is KUBE-EXTERNAL-IP-LOCAL, with no KUBE-MARK-MASQ rule (source kept)."""
    s = scenario([svc("svc1", "NodePort", "10.20.30.41", ["ep", "ep1"], 3001, external_ips=[EXT_IP],
                      external_traffic_policy="Local")],
                 [{"name": "ep", "ip": "10.180.0.1", "node": NODE},
                  {"name": "ep1", "ip": "10.180.1.1", "node": "other-node"}])  # fmt: skip
    assert ipvs(s)[("TCP", "50.60.70.81:80")] == ("rr", [("10.180.0.1:80", 1)])
    sets, ipt, _ = listed_features(s)
    assert entries(sets)["KUBE-EXTERNAL-IP-LOCAL"] == ["50.60.70.81,tcp:80"] and entries(sets)["KUBE-EXTERNAL-IP"] == []
    assert rules(ipt, SERVICES) == [("RETURN", ""), (MARK_MASQ, CLUSTER_IP), ("ACCEPT", "KUBE-EXTERNAL-IP-LOCAL"),
                                    ("ACCEPT", "KUBE-EXTERNAL-IP-LOCAL"), (NODE_PORT, ""), ("ACCEPT", CLUSTER_IP)]  # fmt: skip


@pytest.mark.parametrize("version", ["1.18", "1.24"])
def test_features_before_1_25_are_written(version: str) -> None:
    """Before 1.25 the IPVS proxier checked source ranges in nat KUBE-FIREWALL with KUBE-MARK-DROP (kubernetes
    PR #110628 moved it): hairpin writes that layout too (tests/test_kube_ipvs_oracle_old.py checks it
    against release-1.18's tests), so a scenario with VIPs, external IPs or source ranges loads."""
    for key, value in (("load_balancer_ips", [LB_IP]), ("external_ips", [EXT_IP])):
        s = scenario([svc("svc1", "LoadBalancer", "10.20.30.41", ["ep"], 3001, **{key: value},
                          load_balancer_source_ranges=["10.0.0.0/8"])],
                     [{"name": "ep", "ip": "10.180.0.1", "node": NODE}], version=version)  # fmt: skip
        assert getattr(s.services[0], key) == tuple(value)
        assert s.services[0].load_balancer_source_ranges == ("10.0.0.0/8",)


def test_sctp_is_refused() -> None:
    """TestNodePortIPv4's SCTP cases (KUBE-NODE-PORT-SCTP, a hash:ip,port set of node address and
    port): hairpin models TCP and UDP Service ports only."""
    with pytest.raises(ScenarioError) as e:
        scenario([svc("svc1", "NodePort", "10.20.30.41", ["ep"], 3001, protocol="SCTP")],
                 [{"name": "ep", "ip": "10.180.0.1", "node": NODE}])  # fmt: skip
    assert str(e.value) == "proxier_test.yaml: services[0].ports[0].protocol: must be one of TCP, UDP (got 'SCTP')"


# ------------------------------------------------------------------ fixed point and jump check

#: kube-proxy versions whose IPVS-mode rules differ (hairpin.kube.ipvs: KUBE-PROXY-FIREWALL /
#: KUBE-IPVS-FILTER / KUBE-IPVS-IPS from 1.25, KUBE-IPVS-OUT-FILTER and the 127/8 RETURN from 1.29) or
#: whose kubelet rules beside them differ (1.28); 1.18 and 1.24 are the oldest layouts hairpin models.
VERSIONS = ("1.18", "1.24", "1.25", "1.28", "1.29", "1.33")


def _variants(s: Scenario) -> dict[str, Scenario]:
    """The scenario, its first Service with externalTrafficPolicy Local and a health check node port,
    without endpoints, and with a second Service (UDP NodePort, two ports' worth of set members); also
    with load-balancer VIPs and source ranges (nat KUBE-FIREWALL before 1.25, filter from 1.25; one
    holding node1's IP, so that node gets KUBE-LOAD-BALANCER-SOURCE-IP and the others a KUBE-IPVS-OUT-FILTER rule from 1.29), and with
    external IPs under both traffic policies (the Cluster one on the UDP Service)."""
    first = s.services[0]
    dns = Service("kube-system", "dns", "NodePort", "10.100.0.10",
                  (ServicePort("dns", "UDP", 53, 53, 30053), ServicePort("dns-tcp", "TCP", 53, 53, 30054)),
                  endpoints=first.endpoints)  # fmt: skip
    out = {
        "as is": s,
        "etp local": dataclasses.replace(s, services=(dataclasses.replace(first, external_traffic_policy="Local",
                                                                          health_check_node_port=32123),)),
        "no endpoints": dataclasses.replace(s, services=(dataclasses.replace(first, endpoints=()),)),
        "two services": dataclasses.replace(s, services=(first, dns)),
    }  # fmt: skip
    if first.type == "LoadBalancer":
        node1 = s.nodes[0].ip
        out["vips and source ranges"] = dataclasses.replace(s, services=(dataclasses.replace(
            first, load_balancer_ips=("203.0.113.7", "203.0.113.8"),
            load_balancer_source_ranges=("10.0.0.0/8", f"{node1}/32")),))  # fmt: skip
        out["external ips"] = dataclasses.replace(s, services=(
            dataclasses.replace(first, external_ips=("198.51.100.20",), external_traffic_policy="Local",
                                health_check_node_port=32123),
            dataclasses.replace(dns, external_ips=("198.51.100.21",))))  # fmt: skip
    return out


def _ipvs_mode(s: Scenario, version: str) -> Scenario:
    return dataclasses.replace(s, kube_proxy=dataclasses.replace(s.kube_proxy, mode="ipvs", version=version))


def _scenarios(version: str) -> list[tuple[str, Scenario]]:
    out = [(f"seed / {name}", v) for name, v in _variants(_ipvs_mode(seed(), version)).items()]
    for path in sorted(glob.glob("examples/*.yaml")):
        s = load(path)
        if s.family == 6:  # IPv6 scenarios are modelled in iptables and nftables modes only (hairpin.scenario6)
            continue
        out.append((path, _ipvs_mode(s, version)))
    return out


def normal_ipset(text: str) -> list[str]:
    """``ipset save`` text with what the kernel adds or orders by itself taken out: the
    ``bucketsize N initval 0x...`` ipset 7.17 on Linux 6.18 prints on hash sets' create lines (initval is
    a random hash seed the kernel draws per set), and the order of a hash set's members (hash order,
    from that seed: sorted here).  Set order, create options and bitmap members stay as listed."""
    out: list[str] = []
    block: list[str] = []
    for line in [*text.splitlines(), "create"]:
        if line.startswith("create"):
            out.extend(sorted(block) if out and " hash:" in out[-1] else block)
            block = []
            if line != "create":
                out.append(re.sub(r" bucketsize \d+ initval 0x[0-9a-f]+$", "", line))
        else:
            block.append(line)
    return out


def by_table(text: str) -> dict[str, list[str]]:
    """iptables-save text per table: the tool prints the tables in its own order (filter before nat
    with iptables 1.8.9's nf_tables backend), which carries no meaning."""
    out: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("*"):
            current = out.setdefault(line, [])
        if not line.startswith("#"):
            current.append(line)
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_ipsets_and_iptables_are_a_fixed_point_of_the_real_tools(version: str) -> None:
    loaded = 0
    for name, s in _scenarios(version):
        for node in s.nodes:
            ours_sets, (ours_ipt, ipvs_rules) = ipset_save(s, node.name), loadable(node_iptables(s, node.name))
            sets, ipt = ipset_and_iptables_restore_and_save(ours_sets, ours_ipt)
            assert normal_ipset(sets) == normal_ipset(ours_sets), f"{name} / {node.name}: ipset"
            assert by_table(ipt) == by_table(ours_ipt), f"{name} / {node.name}: iptables"
            # the -m ipvs rules (not loadable here): 1.29+, the VIPs' ports on nodes outside the ranges
            want = 2 if name.endswith("vips and source ranges") and version >= "1.29" and node.name != "node1" else 0
            assert len(ipvs_rules) == want, f"{name} / {node.name}: {ipvs_rules}"
            loaded += 1
    assert loaded == 4 * 3 + 3 + 5 + 3 + 3 + 3 + 3 + 6 + 2 * 3


@pytest.mark.parametrize("version", VERSIONS)
def test_ipvs_mode_dumps_pass_kube_proxys_jump_check(version: str) -> None:
    """checkIPTablesRuleJumps (pkg/proxy/iptables/proxier_test.go) on every IPVS-mode node dump.
    nat KUBE-LOAD-BALANCER and filter KUBE-SOURCE-RANGES-FIREWALL are created and filled on every sync
    (TestCreateAndLinkKubeChain; proxier.go writes ``-j KUBE-MARK-MASQ`` and ``-j DROP`` into them) but
    jumped to only from the load-balancer VIP and source-range rules: exempt only in a scenario
    without VIPs (resp. without source ranges), and checked like any chain in one with them."""
    checked_lb = 0
    for name, s in _scenarios(version):
        vips = any(svc.load_balancer_ips for svc in s.services)
        ranges = any(svc.load_balancer_source_ranges for svc in s.services)
        exempt = frozenset(c for c, used in ((LOAD_BALANCER, vips), ("KUBE-SOURCE-RANGES-FIREWALL", ranges)) if not used)
        checked_lb += not exempt
        for node in s.nodes:
            try:
                check_jumps(node_iptables(s, node.name), exempt)
            except AssertionError as e:
                raise AssertionError(f"{name} / {node.name}: {e}") from None
    assert checked_lb == 1
