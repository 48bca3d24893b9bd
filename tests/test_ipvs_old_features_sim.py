"""kube-proxy's IPVS mode 1.18 and 1.24 with load-balancer VIPs (ipMode VIP), loadBalancerSourceRanges and
external IPs, in the simulator, and the closed form (``hairpin.aws.risk``) against it.

Before 1.25 the IPVS proxier marks a source outside the ranges in nat (KUBE-LOAD-BALANCER -> KUBE-FIREWALL
-> KUBE-MARK-DROP, release-1.18 pkg/proxy/ipvs/proxier.go) and kubelet's filter KUBE-FIREWALL drops the
mark in INPUT and OUTPUT.  The VIP is bound to kube-ipvs0, so it is local: a pod's SYN is routed to INPUT
(where the mark is dropped before IPVS's LOCAL_IN hook) and a node process's SYN passes filter OUTPUT
after IPVS's LOCAL_OUT hook.  The simulator executes the node's rules; nothing here is special-cased."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import pytest

from hairpin import scenario
from hairpin.aws.risk import timeout_fraction
from hairpin.backends import sim

NLB_IPS = ("192.168.168.103", "192.168.140.27")  # the seed NLB's node addresses (one per AZ)
MARK_DROP_RULE = "nat KUBE-MARK-DROP: -A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000  [mark=0x8000]"
KUBELET_DROP = ("filter KUBE-FIREWALL: -A KUBE-FIREWALL -m comment --comment \"kubernetes firewall for dropping "
                "marked packets\" -m mark --mark 0x8000/0x8000 -j DROP  [DROP]")  # fmt: skip


def _seed(version: str, host_network: bool = False, **svc: object) -> scenario.Scenario:
    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode="ipvs", version=version))
    s = replace(s, services=(replace(s.services[0], **svc),))  # type: ignore[arg-type]
    if host_network:
        name = s.client_pod.name
        s = replace(s, pods=tuple(dataclasses.replace(p, host_network=True) if p.name == name else p for p in s.pods))
    return s


def _notes(c: sim.ConnectResult, at: str) -> list[str]:
    return next(h for h in c.hops if h.at == at).action.split(" | ")


@pytest.mark.parametrize("version", ["1.18", "1.24"])
def test_pod_outside_the_ranges_is_marked_in_nat_and_dropped_in_input(version: str) -> None:
    """Range 10.0.0.0/8 (the seed's pods are in 192.168.0.0/16): every SYN of the pod is marked 0x8000 in
    nat KUBE-FIREWALL, routed to the VIP on kube-ipvs0 and dropped by kubelet's KUBE-FIREWALL in filter
    INPUT, before IPVS: 50 of 50 time out; with the pods' range allowed, 0 of 50."""
    s = _seed(version, load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8",))
    r = sim.run(s, 50, seed=1).summary
    assert (r.timeouts, r.established) == (50, 0)
    notes = _notes(sim.connect(s, client_port=40000, seed=1), "node1")
    assert MARK_DROP_RULE in notes
    assert "route: table local: local 192.168.168.103 dev kube-ipvs0 src 192.168.168.103 (local delivery)" in notes
    assert notes[-2:] == [KUBELET_DROP, "dropped in filter INPUT"]
    assert not any(n.startswith("IPVS") for n in notes)
    ok = _seed(version, load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8", "192.168.0.0/16"))
    r = sim.run(ok, 50, seed=1).summary
    assert (r.timeouts, r.established) == (0, 50)


@pytest.mark.parametrize("version", ["1.18", "1.24"])
def test_node_process_leaves_from_the_vip_and_is_dropped_in_output(version: str) -> None:
    """A host-network caller's SYN to the VIP: source 192.168.168.103 (the VIP, the local route's source),
    marked in nat OUTPUT, DNATed by IPVS at LOCAL_OUT, then dropped by kubelet's KUBE-FIREWALL in filter
    OUTPUT."""
    s = _seed(version, True, load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8",))
    notes = _notes(sim.connect(s, client_port=40000, seed=1), "node1")
    assert MARK_DROP_RULE in notes
    assert any(n.startswith("IPVS: 192.168.168.103:80 -> ") and "TCP 192.168.168.103:40000 -> 192.168.168.103:80"
               in n for n in notes), notes  # fmt: skip
    assert notes[-2:] == [KUBELET_DROP, "dropped in filter OUTPUT"]


CASES = [  # (host network, ranges)
    (False, ("10.0.0.0/8",)),
    (False, ("10.0.0.0/8", "192.168.0.0/16")),
    (False, ("192.168.168.103/32", "192.168.140.27/32")),  # the VIPs, not the pod
    (True, ("10.0.0.0/8",)),
    (True, ("192.168.0.0/16",)),
    (True, ("192.168.168.103/32", "192.168.140.27/32")),  # the VIPs: the node's source is the VIP
    (True, ("192.168.2.3/32",)),  # node1's IP: KUBE-LOAD-BALANCER-SOURCE-IP (allowFromNode)
    (False, ()),
]


@pytest.mark.parametrize("version", ["1.18", "1.24"])
@pytest.mark.parametrize(("host", "ranges"), CASES)
def test_closed_form_agrees_with_the_simulator(version: str, host: bool, ranges: tuple[str, ...]) -> None:
    """timeout_fraction (hairpin.aws.risk ``_captured``) against 40 simulated connections: 0 or 1 exactly."""
    s = _seed(version, host, load_balancer_ips=NLB_IPS, load_balancer_source_ranges=ranges)
    r = sim.run(s, 40, seed=1).summary
    want = timeout_fraction(s)
    assert want in (0, 1)
    assert (r.timeouts, r.established) == ((40, 0) if want == 1 else (0, 40)), (want, r)
    expected = {(False, ("10.0.0.0/8",)): 1, (False, ("192.168.168.103/32", "192.168.140.27/32")): 1,
                (True, ("10.0.0.0/8",)): 1}  # fmt: skip
    assert want == expected.get((host, ranges), 0)


@pytest.mark.parametrize("version", ["1.18", "1.24"])
def test_external_ip_and_local_policy(version: str) -> None:
    """Policy Local: node1 runs one of the seed's three endpoints, node2 none.  An external IP's server has all
    three in 1.18 (ExternalPolicyForExternalIP off) and node1's one in 1.24; a VIP's server on node2 has none
    in 1.18 (release-1.18 syncEndpoint) and all three in 1.24 (kubernetes PR #97081)."""
    from hairpin.kube.ipvs import virtual_servers
    from hairpin.model.net import ip_int

    s = _seed(version, load_balancer_ips=NLB_IPS, external_ips=("192.168.200.10",), external_traffic_policy="Local",
              health_check_node_port=32123)  # fmt: skip
    ext = virtual_servers(s, "node1").lookup("tcp", ip_int("192.168.200.10"), 80)
    vip = virtual_servers(s, "node2").lookup("tcp", ip_int(NLB_IPS[0]), 80)
    assert ext is not None and vip is not None
    assert [ip for ip, _ in ext.dests] == (
        [ip_int(p.ip) for p in s.endpoints_of(s.services[0])] if version == "1.18" else [ip_int("192.168.16.142")])
    assert len(vip.dests) == (0 if version == "1.18" else 3)
