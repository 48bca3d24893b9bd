"""The Service features kube-proxy writes beyond the seed's, in the simulator: load-balancer ingress IPs
(ipMode VIP), loadBalancerSourceRanges, ClientIP session affinity, externalIPs; and their effect on the
seed's hairpin (the seed's cluster with kube-proxy 1.30, iptables and nftables mode)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hairpin import scenario
from hairpin.backends import sim
from hairpin.errors import ScenarioError
from hairpin.kube import node_iptables
from hairpin.kube.nftables import ruleset

N = 200
EXT = "KUBE-EXT-WGW5ZPXP7HZEBG5V"
NLB_IPS = ("192.168.168.103", "192.168.140.27")  # the seed NLB's node addresses (one per AZ)


def _seed(mode: str = "iptables", **svc: object) -> scenario.Scenario:
    s = scenario.seed()
    version = "1.33" if mode == "nftables" else "1.30"
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode=mode, version=version))
    return replace(s, services=(replace(s.services[0], **svc),))  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_vip_ingress_ips_take_in_cluster_callers_off_the_nlb(mode: str) -> None:
    """With the NLB's addresses published as load-balancer ingress IPs (ipMode VIP), kube-proxy on the
    caller's own node DNATs the pod's SYN to an endpoint in PREROUTING: the NLB never sees it, so the
    seed's hairpin (the NLB picking the caller's node) cannot happen."""
    assert sim.run(_seed(mode), N, seed=1).summary.timeouts > 0
    vip = _seed(mode, load_balancer_ips=NLB_IPS)
    r = sim.run(vip, N, seed=1)
    assert (r.summary.timeouts, r.summary.established) == (0, N)
    c = sim.connect(vip, client_port=40000, seed=1)
    assert c.outcome == "established" and not any(h.at.startswith("NLB") for h in c.hops)
    notes = next(h for h in c.hops if h.at == "node1 eth0").action.split(" | ")
    assert "DNAT: 192.168.168.103:80 -> 192.168.49.70:80" in notes  # on the caller's node, in PREROUTING
    assert "MASQUERADE --random-fully: 192.168.27.239:40000 -> 192.168.2.3:33169" in notes  # KUBE-EXT masquerades
    if mode == "nftables":
        assert (
            "nat services: nft ip daddr . meta l4proto . th dport vmap @service-ips  "
            "[goto external-7WYOEMTF-nginx-demo/service-nginx-demo/tcp/]"
        ) in notes


def test_source_ranges_drop_pod_callers_outside_them_every_time() -> None:
    """loadBalancerSourceRanges on a VIP: a pod caller keeps its address (no NAT before the check), so
    one outside the ranges is dropped by KUBE-PROXY-FIREWALL on its own node, on every attempt."""
    s = _seed(load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8",))
    r = sim.run(s, 50, seed=1)
    assert (r.summary.timeouts, r.summary.established) == (50, 0)
    c = sim.connect(s, client_port=40000, seed=1)
    drop = (
        '-A KUBE-PROXY-FIREWALL -d 192.168.168.103/32 -p tcp -m comment --comment "nginx-demo/service-nginx-demo '
        'traffic not accepted by KUBE-FW-WGW5ZPXP7HZEBG5V" -m tcp --dport 80 -j DROP'
    )
    assert f"dropped in filter FORWARD ({drop})" in c.hops[1].action.split(" | ")
    assert sum(1 for h in c.hops if h.at == "pod netshoot eth0") == 7  # the SYN and its 6 retransmissions
    ok = _seed(load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8", "192.168.0.0/16"))
    assert sim.run(ok, 50, seed=1).summary.established == 50
    text = node_iptables(ok, "node1")
    assert '-A KUBE-FW-WGW5ZPXP7HZEBG5V -s 192.168.0.0/16 -m comment --comment "nginx-demo/service-nginx-demo ' \
           f'loadbalancer IP" -j {EXT}' in text.splitlines()  # fmt: skip
    # the node's own address is in 192.168.0.0/16: the VIPs as sources are let through too (allowFromNode)
    assert f'-A KUBE-FW-WGW5ZPXP7HZEBG5V -s 192.168.140.27/32 -m comment --comment "nginx-demo/service-nginx-demo ' \
           f'loadbalancer IP" -j {EXT}' in text.splitlines()  # fmt: skip


def test_client_ip_affinity_rules_and_a_retransmitting_client_keeps_its_endpoint() -> None:
    s = _seed(session_affinity="ClientIP", session_affinity_timeout=600)
    text = node_iptables(s, "node1")
    sep = "KUBE-SEP-52F6FPBF74OF3YE3"
    assert (
        '-A KUBE-SVC-WGW5ZPXP7HZEBG5V -m comment --comment "nginx-demo/service-nginx-demo -> 192.168.39.2:80" '
        f"-m recent --rcheck --seconds 600 --reap --name {sep} --mask 255.255.255.255 --rsource -j {sep}"
    ) in text.splitlines()
    assert (
        f'-A {sep} -p tcp -m comment --comment "nginx-demo/service-nginx-demo" -m recent --set --name {sep} '
        "--mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 192.168.39.2:80"
    ) in text.splitlines()
    # a timed-out (hairpinned) connection: every retransmitted SYN is DNATed to the same endpoint
    c = next(c for i in range(40) if (c := sim.connect(s, client_port=41000 + i, seed=i)).outcome == "timeout")
    dnats = {n for h in c.hops for n in h.action.split(" | ") if n.startswith("DNAT: ")}
    assert len(dnats) == 1


def test_external_ips_are_captured_like_vips() -> None:
    s = _seed(external_ips=("192.168.200.10",))
    lines = node_iptables(s, "node2").splitlines()
    assert (
        '-A KUBE-SERVICES -d 192.168.200.10/32 -p tcp -m comment --comment "nginx-demo/service-nginx-demo external IP" '
        f"-m tcp --dport 80 -j {EXT}"
    ) in lines
    assert "\t\telements = { 192.168.200.10 . tcp . 80 : goto external-7WYOEMTF-nginx-demo/service-nginx-demo/tcp/," in (
        ruleset(_seed("nftables", external_ips=("192.168.200.10",)), "node2").splitlines()
    )


def test_features_refused_where_not_modelled(tmp_path: object) -> None:
    """1.18's layout writes none of them; nftables mode refuses source ranges and affinity (the simulator
    evaluates no filter prerouting hook and keeps no affinity sets); one line with the file and line."""
    from pathlib import Path

    text = Path("examples/nftables-mode.yaml").read_text()
    anchor = "    load_balancer:\n"
    assert anchor in text
    bad = Path(str(tmp_path)) / "x.yaml"
    line = text.splitlines().index(anchor.rstrip("\n")) + 1
    for key, value, why in (
        ("session_affinity", "ClientIP", "not modelled in kube-proxy's nftables mode (the iptables mode from 1.24 writes it)"),
        ("external_ips", "[192.168.200.10]", None),
    ):
        bad.write_text(text.replace(anchor, f"    {key}: {value}\n" + anchor))
        if why is None:
            assert scenario.load(bad).services[0].external_ips == ("192.168.200.10",)
            continue
        with pytest.raises(ScenarioError) as e:
            scenario.load(bad)
        assert str(e.value) == f"{bad}:{line}: services[0].{key}: {why}"
    seed_text = text.replace('  version: "1.33"', '  version: "1.18"').replace("  mode: nftables", "  mode: iptables")
    bad.write_text(seed_text.replace(anchor, "    load_balancer_ips: [192.168.200.10]\n" + anchor))
    with pytest.raises(ScenarioError, match=r"services\[0\]\.load_balancer_ips: not modelled for kube-proxy 1\.18"):
        scenario.load(bad)
