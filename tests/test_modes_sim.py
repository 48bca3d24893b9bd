"""kube-proxy nftables mode in the simulator: the seed's hairpin happens exactly as in iptables mode."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hairpin import scenario
from hairpin.backends import sim
from hairpin.model.net import Flags

CLIENT = "192.168.27.239"
VIP = "192.168.168.103:80"
NODE1 = "192.168.2.3"
NODE_PORT = f"{NODE1}:31468"
BACKENDS = ("192.168.39.2:80", "192.168.49.70:80", "192.168.16.142:80")


@pytest.fixture(scope="module")
def nft_seed() -> scenario.Scenario:
    s = scenario.seed()
    return replace(s, kube_proxy=replace(s.kube_proxy, mode="nftables", version="1.33"))


def test_node_iptables_has_no_kube_proxy_rules_in_nftables_mode(nft_seed: scenario.Scenario) -> None:
    from hairpin.kube import node_iptables

    text = node_iptables(nft_seed, "node1")
    assert "KUBE-SVC-" not in text and "KUBE-NODEPORTS" not in text and "KUBE-SEP-" not in text
    assert "AWS-SNAT-CHAIN-0" in text  # the VPC CNI's rules stay
    assert "KUBE-SVC-" in node_iptables(scenario.seed(), "node1")


def test_hairpinned_connection_in_nftables_mode(nft_seed: scenario.Scenario) -> None:
    c = sim.connect(nft_seed, client_port=49134, target=NODE_PORT, seed=7)
    assert c.outcome == "timeout" and c.hairpin
    sent = [(h.at, str(h.packet.source), str(h.packet.dest), h.packet.flags.label(), h.t)
            for h in c.hops if h.kind in ("send", "nlb")]  # fmt: skip
    first = [(src, dst, fl) for _, src, dst, fl, t in sent if t < 0.5]
    assert first[0] == (f"{CLIENT}:49134", VIP, "SYN")
    assert (f"{CLIENT}:49134", NODE_PORT, "SYN") in first
    # table ip kube-proxy: numgen DNAT, external- chain marks 0x4000, masquerading SNATs to the node
    masq = next(f for f in first if f[0].startswith(f"{NODE1}:") and f[2] == "SYN" and f[1] in BACKENDS)
    assert (masq[1], masq[0], "SYN,ACK") in first
    # the de-NATed SYN-ACK node:NodePort -> pod goes straight to the pod's veth (the /32 route)
    synack = next(s for s in sent if s[4] < 0.5 and (s[1], s[2], s[3]) == (NODE_PORT, f"{CLIENT}:49134", "SYN,ACK"))
    assert synack[0].startswith("node1 eni")
    assert (f"{CLIENT}:49134", NODE_PORT, "RST") in first
    assert (masq[0], masq[1], "RST") in first
    syns = [round(t, 3) for at, src, dst, fl, t in sent if at == "pod netshoot eth0" and fl == "SYN"]
    assert syns == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    rsts = [h for h in c.hops if h.lane == "netshoot" and h.kind == "send" and h.packet.flags == Flags.RST]
    assert len(rsts) == 7
    assert c.elapsed_s == pytest.approx(127.0)
    assert c.hops[-1].kind == "timeout" and "ETIMEDOUT after 7 SYNs" in c.hops[-1].action


def test_other_node_succeeds_in_nftables_mode(nft_seed: scenario.Scenario) -> None:
    c = sim.connect(nft_seed, client_port=49135, target="192.168.21.86:31468")
    assert c.outcome == "established" and not c.hairpin


def test_nftables_rate_matches_the_closed_form(nft_seed: scenario.Scenario) -> None:
    n = 1000
    r = sim.run(nft_seed, n, seed=11)
    assert r.summary.expected_rate == pytest.approx(0.5)
    assert abs(r.summary.rate - 0.5) < 4 * (0.25 / n) ** 0.5
    for c in r.connections:
        assert (c.outcome == "timeout") == (c.target == NODE_PORT)


def test_nftables_endpoint_choice_is_uniform(nft_seed: scenario.Scenario) -> None:
    # ClusterIP path: the numgen draw picks each of 3 endpoints 1/3 of the time; nothing times out.
    s = scenario.with_fix(nft_seed, "cluster-ip")
    r = sim.run(s, 600, seed=3)
    assert r.summary.timeouts == 0


def test_nodeport_hop_names_the_nft_rules_that_acted(nft_seed: scenario.Scenario) -> None:
    c = sim.connect(nft_seed, client_port=49134, target=NODE_PORT, seed=7)
    hop = [h for h in c.hops if h.at == "node1 eth0"][1]
    notes = hop.action.split(" | ")
    svc = "nginx-demo/service-nginx-demo/tcp/"
    ep = f"endpoint-UVQWZLS7-{svc}__192.168.49.70/80"
    assert notes[:4] == [  # every table the SYN crossed, the VPC CNI's iptables rules too, in the kernel's order
        'mangle PREROUTING: -A PREROUTING -i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type '
        "LOCAL --limit-iface-in -j CONNMARK --set-xmark 0x80/0x80  [ctmark=0x80]",
        "filter filter-prerouting: nft ct state new jump firewall-check  [jump firewall-check]",
        "nat nat-prerouting: nft jump services  [jump services]",
        "nat services: nft ip daddr @nodeport-ips meta l4proto . th dport vmap "
        f"@service-nodeports  [goto external-7WYOEMTF-{svc}]",
    ]
    assert f"nat {ep}: nft meta l4proto tcp dnat to 192.168.49.70:80  [DNAT]" in notes
    assert "DNAT: 192.168.2.3:31468 -> 192.168.49.70:80" in notes
    assert "nat masquerading: nft masquerade fully-random  [MASQUERADE]" in notes


# -- kube-proxy 1.36+ (kubernetes PR #135800 / #136499): the same failure through the new rules
@pytest.fixture(scope="module")
def nft136_seed() -> scenario.Scenario:
    s = scenario.seed()
    return replace(s, kube_proxy=replace(s.kube_proxy, mode="nftables", version="1.36"))


def test_136_rate_matches_the_closed_form(nft136_seed: scenario.Scenario) -> None:
    n = 1000
    r = sim.run(nft136_seed, n, seed=11)
    assert r.summary.expected_rate == pytest.approx(0.5)
    assert abs(r.summary.rate - 0.5) < 4 * (0.25 / n) ** 0.5
    for c in r.connections:
        assert (c.outcome == "timeout") == (c.target == NODE_PORT)


def test_136_nodeport_hop_names_the_new_rules(nft136_seed: scenario.Scenario) -> None:
    c = sim.connect(nft136_seed, client_port=49134, target=NODE_PORT, seed=7)
    assert c.outcome == "timeout" and c.hairpin and c.elapsed_s == pytest.approx(127.0)
    action = [h for h in c.hops if h.at == "node1 eth0"][1].action
    svc = "nginx-demo/service-nginx-demo/tcp/"
    masq = "meta mark & 0x00004000 != 0x00000000 meta mark set meta mark ^ 0x00004000 masquerade fully-random"
    expected = [  # in this order (notes are joined with " | ", which the mark rules' text holds too)
        'mangle PREROUTING: -A PREROUTING -i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type '
        "LOCAL --limit-iface-in -j CONNMARK --set-xmark 0x80/0x80  [ctmark=0x80]",
        "filter filter-prerouting-pre-dnat: nft ct state new jump firewall-check  [jump firewall-check]",
        "nat nat-prerouting: nft jump services  [jump services]",
        f"nat services: nft ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports  [goto external-7WYOEMTF-{svc}]",
        f'nat external-7WYOEMTF-{svc}: nft meta mark set meta mark | 0x00004000 comment "masquerade"  [mark=0x4000]',
        f"nat external-7WYOEMTF-{svc}: nft goto service-7WYOEMTF-{svc}  [goto service-7WYOEMTF-{svc}]",
        f"nat service-7WYOEMTF-{svc}: nft meta l4proto tcp dnat ip to numgen random mod 3 map "
        "{ 0 : 192.168.39.2 . 80, 1 : 192.168.49.70 . 80, 2 : 192.168.16.142 . 80 }  [DNAT]",
        "DNAT: 192.168.2.3:31468 -> 192.168.49.70:80",
        "route: table main: default via 192.168.0.1 dev eth0",
        "filter filter-forward: nft ct state new jump service-endpoints-check  [jump service-endpoints-check]",
        "filter filter-forward: nft ct state new jump cluster-ips-check  [jump cluster-ips-check]",
        "nat nat-postrouting: nft jump masquerading  [jump masquerading]",
        f"nat masquerading: nft {masq}  [mark=0x0]",  # the bit cleared, then the same rule SNATs
        f"nat masquerading: nft {masq}  [MASQUERADE]",
        "MASQUERADE --random-fully: 192.168.27.239:49134 -> 192.168.2.3:22780",
    ]
    assert " | ".join(expected) in action
    assert action.startswith(expected[0])
    assert "mark-for-masquerade" not in action and "endpoint-" not in action


def test_136_endpoint_calling_its_own_clusterip_is_masqueraded_by_the_hairpin_set(
    nft136_seed: scenario.Scenario,
) -> None:
    """nginx-demo-1 (192.168.16.142, node1) through the ClusterIP: when the draw picks itself, the
    masquerading chain's ``ct status dnat`` + ``@hairpin-connections`` rule SNATs it to node1 (1.34: the
    endpoint chain's ``ip saddr 192.168.16.142 jump mark-for-masquerade``)."""
    s = replace(nft136_seed, client=replace(nft136_seed.client, pod="nginx-demo-1", via="cluster-ip"))
    c = sim.connect(s, client_port=40005, seed=5)
    assert (c.outcome, c.target) == ("established", "192.168.16.142:80")
    notes = next(h for h in c.hops if "DNAT: 10.100.235.20:80 -> 192.168.16.142:80" in h.action).action.split(" | ")
    assert ("nat masquerading: nft ct status dnat ip saddr . ip daddr . meta l4proto . th dport @hairpin-connections "
            "masquerade fully-random  [MASQUERADE]") in notes  # fmt: skip
    assert "MASQUERADE --random-fully: 192.168.16.142:40005 -> 192.168.2.3:23657" in notes
    other = sim.connect(s, client_port=40000, seed=0)  # the draw picked nginx-demo-3 on node3: no masquerade
    assert (other.outcome, other.target) == ("established", "192.168.49.70:80")
    assert not any("MASQUERADE" in h.action for h in other.hops)
