"""kube-proxy's IPVS mode before 1.25 (load-balancer IPs, external IPs, loadBalancerSourceRanges) against
kube-proxy's own IPVS unit tests of release-1.18, with the real ``ipset`` and ``iptables`` tools, as
tests/test_kube_ipvs_oracle.py does for the current layout (same helpers, same views of the listed text).

The expectations are facts from pkg/proxy/ipvs/proxier_test.go of the release-1.18 tree stored as the fork
2018112767/kubernetes at b3796c7b24b36a48b9142b4c583a1fb3fa383e11: TestLoadBalancer, TestOnlyLocalLoadBalancing,
TestLoadBalanceSourceRanges (spelled so there), TestAcceptIPVSTraffic, TestExternalIPs and
TestOnlyLocalExternalIPs.  Its checkIptables reads the fake iptables kube-proxy wrote to, which holds no
kubelet rules, so a chain is compared in the nat table only (kubelet's filter KUBE-FIREWALL shares the name
of kube-proxy's nat KUBE-FIREWALL).  Its KUBE-SERVICES has no leading ``-s 127.0.0.0/8 -j RETURN`` (1.29+).

1.24 is taken to write the same rules and sets for these features (no stored tree of that era was dated
from its content; docs/kube-proxy.md says which PRs between the two changed the IPVS proxier's behaviour
here): it differs from 1.18 only where a PR says so -- external IPs follow externalTrafficPolicy
(ExternalPolicyForExternalIP, kubernetes PR #88786, on by default from 1.19 by PR #90537; release-1.18's
TestOnlyLocalExternalIPs turns the gate on itself) and a node without a local endpoint gives a policy-Local
VIP every endpoint (kubernetes PR #97081, v1.21).
"""

from __future__ import annotations

import re

import pytest

from hairpin.kube.ipvs import ipset_save
from hairpin.scenario import Scenario
from kube_oracle import needs_root
from test_kube_ipvs_oracle import (
    CLUSTER_IP,
    EXT_IP,
    LB_IP,
    LOAD_BALANCER,
    MARK_MASQ,
    NODE,
    NODE_PORT,
    SERVICES,
    entries,
    ipvs,
    listed_features,
    scenario,
    svc,
)

OLD = ("1.18", "1.24")
FIREWALL = "KUBE-FIREWALL"
KUBE_SERVICES_LB = [(LOAD_BALANCER, LOAD_BALANCER), (MARK_MASQ, CLUSTER_IP), (NODE_PORT, ""), ("ACCEPT", CLUSTER_IP),
                    ("ACCEPT", LOAD_BALANCER)]  # fmt: skip


@pytest.fixture(autouse=True)
def _root() -> None:
    needs_root("ipset", "iptables-restore", "iptables-save")


def nat_rules(iptables_text: str, chain: str) -> list[tuple[str, str]]:
    """checkIptables' view of nat ``chain``: (jump target, --match-set name or "") of each rule."""
    out: list[tuple[str, str]] = []
    table = ""
    for line in iptables_text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif table == "nat" and line.startswith(f"-A {chain} "):
            jump = re.search(r" -j (\S+)", line)
            match_set = re.search(r"--match-set (\S+)", line)
            out.append((jump.group(1) if jump else "", match_set.group(1) if match_set else ""))
    return out


def filter_chains(iptables_text: str) -> list[str]:
    table, out = "", []
    for line in iptables_text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif table == "filter" and line.startswith(":"):
            out.append(line.split()[0][1:])
    return out


def _lb(version: str, **extra: object) -> Scenario:
    return scenario([svc("svc1", "LoadBalancer", "10.20.30.41", ["ep"], 3001, load_balancer_ips=[LB_IP], **extra)],
                    [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}], version=version)  # fmt: skip


@pytest.mark.parametrize("version", OLD)
def test_load_balancer(version: str) -> None:
    """TestLoadBalancer: ingress 1.2.3.4 on svc1 10.20.30.41:80 (nodePort 3001), endpoint 10.180.0.1:
    KUBE-LOAD-BALANCER holds 1.2.3.4,tcp:80; KUBE-SERVICES jumps to KUBE-LOAD-BALANCER on it; chain
    KUBE-LOAD-BALANCER: KUBE-MARK-MASQ.  Its checkIPVS looks 1.2.3.4 up with the nodePort, finds nothing and
    checks only the count (2: the fake has no node address); hairpin's three are the ClusterIP's, the VIP's
    and the node's NodePort server."""
    s = _lb(version)
    assert ipvs(s) == {
        ("TCP", "10.20.30.41:80"): ("rr", [("10.180.0.1:80", 1)]),
        ("TCP", "1.2.3.4:80"): ("rr", [("10.180.0.1:80", 1)]),
        ("TCP", "100.101.102.103:3001"): ("rr", [("10.180.0.1:80", 1)]),
    }
    sets, ipt, ipvs_rules = listed_features(s)
    assert entries(sets)[LOAD_BALANCER] == ["1.2.3.4,tcp:80"]
    assert entries(sets)["KUBE-LOAD-BALANCER-FW"] == entries(sets)["KUBE-LOAD-BALANCER-LOCAL"] == []
    assert "KUBE-IPVS-IPS" not in entries(sets)  # a 1.25 set
    assert nat_rules(ipt, SERVICES) == KUBE_SERVICES_LB
    assert nat_rules(ipt, LOAD_BALANCER) == [(MARK_MASQ, "")]
    assert nat_rules(ipt, FIREWALL) == [("KUBE-MARK-DROP", "")]  # "mark drop for KUBE-FIRE-WALL", not jumped to
    assert ipvs_rules == []
    assert not {"KUBE-PROXY-FIREWALL", "KUBE-SOURCE-RANGES-FIREWALL", "KUBE-IPVS-FILTER"} & set(filter_chains(ipt))


@pytest.mark.parametrize("version", OLD)
def test_only_local_load_balancing(version: str) -> None:
    """TestOnlyLocalLoadBalancing: policy Local, endpoints 10.180.0.1 (test-node) and 10.180.1.1 (another
    node): 1.2.3.4:80 has only 10.180.0.1:80; KUBE-LOAD-BALANCER and KUBE-LOAD-BALANCER-LOCAL hold
    1.2.3.4,tcp:80; chain KUBE-LOAD-BALANCER: RETURN on KUBE-LOAD-BALANCER-LOCAL, then KUBE-MARK-MASQ.
    Not in that test: on a node without a local endpoint the VIP has no real server in 1.18 (syncEndpoint
    filters to local endpoints and nothing else) and every endpoint in 1.24 (PR #97081)."""
    s = scenario([svc("svc1", "LoadBalancer", "10.20.30.41", ["ep", "ep1"], 3001, load_balancer_ips=[LB_IP],
                      external_traffic_policy="Local", health_check_node_port=30000)],
                 [{"name": "ep", "ip": "10.180.0.1", "node": NODE},
                  {"name": "ep1", "ip": "10.180.1.1", "node": "other-node"}], version=version)  # fmt: skip
    assert ipvs(s)[("TCP", "1.2.3.4:80")] == ("rr", [("10.180.0.1:80", 1)])
    sets, ipt, _ = listed_features(s)
    assert entries(sets)[LOAD_BALANCER] == entries(sets)["KUBE-LOAD-BALANCER-LOCAL"] == ["1.2.3.4,tcp:80"]
    assert nat_rules(ipt, SERVICES) == KUBE_SERVICES_LB
    assert nat_rules(ipt, LOAD_BALANCER) == [("RETURN", "KUBE-LOAD-BALANCER-LOCAL"), (MARK_MASQ, "")]
    lonely = scenario([svc("svc1", "LoadBalancer", "10.20.30.41", ["ep1"], 3001, load_balancer_ips=[LB_IP],
                           external_traffic_policy="Local", health_check_node_port=30000)],
                      [{"name": "ep1", "ip": "10.180.1.1", "node": "other-node"}], version=version)  # fmt: skip
    want = [] if version == "1.18" else [("10.180.1.1:80", 1)]
    assert ipvs(lonely)[("TCP", "1.2.3.4:80")] == ipvs(lonely)[("TCP", "100.101.102.103:3001")] == ("rr", want)


@pytest.mark.parametrize("version", OLD)
def test_load_balance_source_ranges(version: str) -> None:
    """TestLoadBalanceSourceRanges: ingress 1.2.3.4, source range 10.0.0.0/8, endpoint 10.180.0.1: 1.2.3.4:80
    has 10.180.0.1:80; KUBE-LOAD-BALANCER and KUBE-LOAD-BALANCER-FW hold 1.2.3.4,tcp:80,
    KUBE-LOAD-BALANCER-SOURCE-CIDR 1.2.3.4,tcp:80,10.0.0.0/8; KUBE-SERVICES: KUBE-LOAD-BALANCER on
    KUBE-LOAD-BALANCER; KUBE-LOAD-BALANCER: KUBE-FIREWALL on KUBE-LOAD-BALANCER-FW, then KUBE-MARK-MASQ;
    KUBE-FIREWALL: RETURN on KUBE-LOAD-BALANCER-SOURCE-CIDR, then KUBE-MARK-DROP.

    Not checked there: with the node's IP in a range, KUBE-LOAD-BALANCER-SOURCE-IP holds vip,tcp:80,vip
    (allowFromNode) and KUBE-FIREWALL RETURNs on it after the CIDR set (ipsetWithIptablesChain's order)."""
    s = scenario([svc("svc1", "LoadBalancer", "10.20.30.41", ["ep"], load_balancer_ips=[LB_IP],
                      load_balancer_source_ranges=["10.0.0.0/8"])],
                 [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}], version=version)  # fmt: skip
    assert ipvs(s) == {("TCP", "10.20.30.41:80"): ("rr", [("10.180.0.1:80", 1)]),
                       ("TCP", "1.2.3.4:80"): ("rr", [("10.180.0.1:80", 1)])}  # fmt: skip
    sets, ipt, ipvs_rules = listed_features(s)
    assert entries(sets)[LOAD_BALANCER] == entries(sets)["KUBE-LOAD-BALANCER-FW"] == ["1.2.3.4,tcp:80"]
    assert entries(sets)["KUBE-LOAD-BALANCER-SOURCE-CIDR"] == ["1.2.3.4,tcp:80,10.0.0.0/8"]
    assert entries(sets)["KUBE-LOAD-BALANCER-SOURCE-IP"] == []
    assert nat_rules(ipt, SERVICES) == KUBE_SERVICES_LB
    assert nat_rules(ipt, LOAD_BALANCER) == [(FIREWALL, "KUBE-LOAD-BALANCER-FW"), (MARK_MASQ, "")]
    assert nat_rules(ipt, FIREWALL) == [("RETURN", "KUBE-LOAD-BALANCER-SOURCE-CIDR"), ("KUBE-MARK-DROP", "")]
    assert ipvs_rules == []
    assert "-A KUBE-FIREWALL -m comment --comment \"Kubernetes service load balancer ip + port + source cidr for " \
           "packet filter purpose\" -m set --match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -j RETURN" in ipt
    inside = scenario([svc("svc1", "LoadBalancer", "10.20.30.41", ["ep"], load_balancer_ips=[LB_IP],
                           load_balancer_source_ranges=["10.0.0.0/8", "100.101.0.0/16"],
                           external_traffic_policy="Local", health_check_node_port=30000)],
                      [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}], version=version)  # fmt: skip
    sets, ipt, _ = listed_features(inside)
    assert entries(sets)["KUBE-LOAD-BALANCER-SOURCE-IP"] == ["1.2.3.4,tcp:80,1.2.3.4"]
    assert nat_rules(ipt, FIREWALL) == [("RETURN", "KUBE-LOAD-BALANCER-SOURCE-CIDR"),
                                        ("RETURN", "KUBE-LOAD-BALANCER-SOURCE-IP"), ("KUBE-MARK-DROP", "")]  # fmt: skip
    # KUBE-LOAD-BALANCER-FW is before KUBE-LOAD-BALANCER-LOCAL in ipsetWithIptablesChain
    assert nat_rules(ipt, LOAD_BALANCER) == [(FIREWALL, "KUBE-LOAD-BALANCER-FW"), ("RETURN", "KUBE-LOAD-BALANCER-LOCAL"),
                                             (MARK_MASQ, "")]  # fmt: skip


@pytest.mark.parametrize("version", OLD)
def test_accept_ipvs_traffic(version: str) -> None:
    """TestAcceptIPVSTraffic: ClusterIP svc1 with externalIP 5.6.7.8, LoadBalancer svc2 with ingress 1.2.3.4,
    NodePort svc3: KUBE-SERVICES holds ACCEPT on KUBE-CLUSTER-IP, on KUBE-LOAD-BALANCER and on
    KUBE-EXTERNAL-IP (its checkIptables looks each expected rule up in the chain: the last two rules are
    acceptIPVSTraffic's, the external IP's ACCEPTs are externalIPRules')."""
    s = scenario([svc("svc1", "ClusterIP", "10.20.30.40", ["e1"], external_ips=["5.6.7.8"]),
                  svc("svc2", "LoadBalancer", "10.20.30.41", ["e2"], 80, load_balancer_ips=[LB_IP]),
                  svc("svc3", "NodePort", "10.20.30.42", ["e3"], 81)],
                 [{"name": f"e{i}", "ip": f"10.180.0.{i}", "node": "other-node"} for i in (1, 2, 3)],
                 version=version)  # fmt: skip
    _, ipt, _ = listed_features(s)
    got = nat_rules(ipt, SERVICES)
    assert {("ACCEPT", CLUSTER_IP), ("ACCEPT", LOAD_BALANCER), ("ACCEPT", "KUBE-EXTERNAL-IP")} <= set(got)
    assert got[-2:] == [("ACCEPT", CLUSTER_IP), ("ACCEPT", LOAD_BALANCER)]


@pytest.mark.parametrize("version", OLD)
def test_external_ips(version: str) -> None:
    """TestExternalIPs: ClusterIP svc1 10.20.30.41:80, externalIP 50.60.70.81, endpoint 10.180.0.1: the
    external IP's server has 10.180.0.1:80 (the test's IPv6 and 127.0.0.1 external IPs are left out, as in
    tests/test_kube_ipvs_oracle.py); KUBE-EXTERNAL-IP holds it, with KUBE-MARK-MASQ and the two ACCEPTs."""
    s = scenario([svc("svc1", "ClusterIP", "10.20.30.41", ["ep"], external_ips=[EXT_IP])],
                 [{"name": "ep", "ip": "10.180.0.1", "node": "other-node"}], version=version)  # fmt: skip
    assert ipvs(s) == {("TCP", "10.20.30.41:80"): ("rr", [("10.180.0.1:80", 1)]),
                       ("TCP", "50.60.70.81:80"): ("rr", [("10.180.0.1:80", 1)])}  # fmt: skip
    sets, ipt, _ = listed_features(s)
    assert entries(sets)["KUBE-EXTERNAL-IP"] == ["50.60.70.81,tcp:80"]
    assert nat_rules(ipt, SERVICES) == [(MARK_MASQ, CLUSTER_IP), (MARK_MASQ, "KUBE-EXTERNAL-IP"),
                                        ("ACCEPT", "KUBE-EXTERNAL-IP"), ("ACCEPT", "KUBE-EXTERNAL-IP"), (NODE_PORT, ""),
                                        ("ACCEPT", CLUSTER_IP)]  # fmt: skip


@pytest.mark.parametrize("version", OLD)
def test_only_local_external_ips(version: str) -> None:
    """TestOnlyLocalExternalIPs (which turns ExternalPolicyForExternalIP on: "remove this in k8s 1.19"): NodePort
    svc1 with externalIP 50.60.70.81, policy Local, endpoints 10.180.0.1 (test-node) and 10.180.1.1: the
    external IP's server has only 10.180.0.1:80 -- what 1.24 does (gate on by default from 1.19).  1.18 runs
    with the gate off: KUBE-EXTERNAL-IP, SNAT and every endpoint, whatever the policy."""
    s = scenario([svc("svc1", "NodePort", "10.20.30.41", ["ep", "ep1"], 3001, external_ips=[EXT_IP],
                      external_traffic_policy="Local")],
                 [{"name": "ep", "ip": "10.180.0.1", "node": NODE},
                  {"name": "ep1", "ip": "10.180.1.1", "node": "other-node"}], version=version)  # fmt: skip
    sets, ipt, _ = listed_features(s)
    if version == "1.24":
        assert ipvs(s)[("TCP", "50.60.70.81:80")] == ("rr", [("10.180.0.1:80", 1)])
        assert entries(sets)["KUBE-EXTERNAL-IP-LOCAL"] == ["50.60.70.81,tcp:80"] and entries(sets)["KUBE-EXTERNAL-IP"] == []
        assert (MARK_MASQ, "KUBE-EXTERNAL-IP-LOCAL") not in nat_rules(ipt, SERVICES)
    else:
        assert ipvs(s)[("TCP", "50.60.70.81:80")] == ("rr", [("10.180.0.1:80", 1), ("10.180.1.1:80", 1)])
        assert entries(sets)["KUBE-EXTERNAL-IP"] == ["50.60.70.81,tcp:80"] and entries(sets)["KUBE-EXTERNAL-IP-LOCAL"] == []
        assert (MARK_MASQ, "KUBE-EXTERNAL-IP") in nat_rules(ipt, SERVICES)
    assert "create KUBE-IPVS-IPS " not in ipset_save(s, NODE)  # a 1.25 set
