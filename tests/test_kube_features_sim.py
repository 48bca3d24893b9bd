"""The Service features kube-proxy writes beyond the seed's, in the simulator: load-balancer ingress IPs
(ipMode VIP), loadBalancerSourceRanges, ClientIP session affinity, externalIPs; and their effect on the
seed's hairpin (the seed's cluster with kube-proxy 1.30, iptables and nftables mode)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from hairpin import scenario
from hairpin.aws import risk
from hairpin.aws.nlb import targets_for
from hairpin.backends import sim
from hairpin.backends.lab.commands import health_servers
from hairpin.errors import ScenarioError
from hairpin.kube import node_iptables
from hairpin.kube.nftables import ruleset
from hairpin.kube.proxy import answers_health_checks, answers_node_ports

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


@pytest.mark.parametrize("version", ["1.30", "1.33", "1.34"])
def test_nftables_source_ranges_drop_pod_callers_like_iptables_mode(version: str) -> None:
    """nftables mode: the firewall check (filter-prerouting, or filter-prerouting-pre-dnat from 1.34, at
    dstnat - 10) sees the VIP before DNAT and drops a pod caller outside the ranges on its own node, on
    every attempt, as iptables mode does; inside the ranges every call goes through."""
    def nft(ranges: tuple[str, ...]) -> scenario.Scenario:
        s = _seed("nftables", load_balancer_ips=NLB_IPS, load_balancer_source_ranges=ranges)
        return replace(s, kube_proxy=replace(s.kube_proxy, version=version))

    s = nft(("10.0.0.0/8",))
    ipt = sim.run(_seed(load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8",)), 50, seed=1)
    r = sim.run(s, 50, seed=1)
    assert (r.summary.timeouts, r.summary.established) == (ipt.summary.timeouts, ipt.summary.established) == (50, 0)
    c = sim.connect(s, client_port=40000, seed=1)
    fw = "firewall-7WYOEMTF-nginx-demo/service-nginx-demo/tcp/"
    notes = c.hops[1].action.split(" | ")
    assert (c.hops[1].at, c.hops[1].kind) == ("node1", "drop")
    assert f"dropped in filter PREROUTING (nft {fw}: ip saddr != 10.0.0.0/8 drop)" in notes
    assert not any(n.startswith("nat ") for n in notes)  # dropped before the nat table ran
    assert sum(1 for h in c.hops if h.at == "pod netshoot eth0") == 7  # the SYN and its 6 retransmissions
    assert f"\tchain {fw} {{\n\t\tip saddr != 10.0.0.0/8 drop\n\t}}" in ruleset(s, "node1")
    ok = nft(("10.0.0.0/8", "192.168.0.0/16"))
    assert sim.run(ok, 50, seed=1).summary.established == 50
    assert "\t\tip saddr != { 10.0.0.0/8, 192.168.0.0/16 } drop" in ruleset(ok, "node1").splitlines()


@pytest.mark.parametrize(("mode", "version"), [("iptables", "1.30"), ("nftables", "1.33"), ("nftables", "1.34")])
def test_source_ranges_drop_node_callers_before_dnat(mode: str, version: str) -> None:
    """A process on the node (hostNetwork) calling a VIP: iptables drops it in filter OUTPUT
    (KUBE-PROXY-FIREWALL, the VIP left un-DNATed by KUBE-FW); nftables in its output firewall check at
    dstnat - 10, before nat-output DNATs the VIP away."""
    s = _seed(mode, load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8",))
    pods = tuple(replace(p, host_network=True, ip="192.168.2.3") if p.name == "netshoot" else p for p in s.pods)
    s = replace(s, pods=pods, kube_proxy=replace(s.kube_proxy, version=version))
    r = sim.run(s, 20, seed=1)
    assert (r.summary.timeouts, r.summary.established) == (20, 0)
    c = sim.connect(s, client_port=40000, seed=1)
    assert (c.hops[0].at, c.hops[0].kind) == ("node1", "drop")
    fw = "firewall-7WYOEMTF-nginx-demo/service-nginx-demo/tcp/"
    want = "dropped in filter OUTPUT" + (f" (nft {fw}: ip saddr != 10.0.0.0/8 drop)" if mode == "nftables" else "")
    assert want in c.hops[0].action.split(" | ")
    inside = replace(s, services=(replace(s.services[0], load_balancer_source_ranges=("192.168.0.0/16",)),))
    assert sim.run(inside, 20, seed=1).summary.established == 20


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


def test_nftables_affinity_sets_keep_a_retransmitting_client_on_its_endpoint() -> None:
    """nftables mode: ``update @affinity-… { ip saddr }`` in the endpoint chain, ``ip saddr @affinity-…
    goto endpoint-…`` in the service chain; the simulator keeps the sets' entries until their timeout."""
    s = _seed("nftables", session_affinity="ClientIP", session_affinity_timeout=600)
    lines = [x.strip() for x in ruleset(s, "node1").splitlines()]
    aff = "affinity-MMBNG555-nginx-demo/service-nginx-demo/tcp/__192.168.39.2/80"
    assert f"set {aff} {{" in lines and "timeout 10m" in lines
    assert f"update @{aff} {{ ip saddr }}" in lines
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
    """1.18's layout writes none of them, IPVS mode none either; nftables mode takes them all; one line
    with the file and line."""
    from pathlib import Path

    text = Path("examples/nftables-mode.yaml").read_text()
    anchor = "    load_balancer:\n"
    assert anchor in text
    bad = Path(str(tmp_path)) / "x.yaml"
    line = text.splitlines().index(anchor.rstrip("\n")) + 1
    assert "  mode: nftables" in text
    for key, value, mode, why in (
        ("session_affinity", "ClientIP", "ipvs",
         "not modelled in kube-proxy's ipvs mode (the iptables mode from 1.24 writes it)"),
        ("load_balancer_source_ranges", "[10.0.0.0/8]", "ipvs", None),
        ("load_balancer_source_ranges", "[10.0.0.0/8]", "nftables", None),
        ("external_ips", "[192.168.200.10]", "nftables", None),
    ):
        bad.write_text(text.replace(anchor, f"    {key}: {value}\n" + anchor).replace("  mode: nftables", f"  mode: {mode}"))
        if why is None:
            assert getattr(scenario.load(bad).services[0], key) == (value.strip("[]"),)
            continue
        with pytest.raises(ScenarioError) as e:
            scenario.load(bad)
        assert str(e.value) == f"{bad}:{line}: services[0].{key}: {why}"
    seed_text = text.replace('  version: "1.33"', '  version: "1.18"').replace("  mode: nftables", "  mode: iptables")
    bad.write_text(seed_text.replace(anchor, "    load_balancer_ips: [192.168.200.10]\n" + anchor))
    with pytest.raises(ScenarioError, match=r"services\[0\]\.load_balancer_ips: not modelled for kube-proxy 1\.18"):
        scenario.load(bad)
    ipvs_text = text.replace('  version: "1.33"', '  version: "1.24"').replace("  mode: nftables", "  mode: ipvs")
    # the IPVS layouts before 1.25 write external IPs, VIPs and source ranges too (nat KUBE-FIREWALL)
    bad.write_text(ipvs_text.replace(anchor, "    external_ips: [192.168.200.10]\n" + anchor))
    assert scenario.load(bad).services[0].external_ips == ("192.168.200.10",)
    bad.write_text(ipvs_text.replace(anchor, "    session_affinity: ClientIP\n" + anchor))
    with pytest.raises(ScenarioError) as e:
        scenario.load(bad)
    assert str(e.value) == (f"{bad}:{line}: services[0].session_affinity: not modelled in kube-proxy's ipvs mode "
                            "(the iptables mode from 1.24 writes it)")  # fmt: skip


def test_node_port_addresses() -> None:
    """--nodeport-addresses: iptables writes one KUBE-NODEPORTS jump per node address in the CIDRs
    (proxier.go, the "must be the last rule" rule); nftables fills nodeport-ips, or with 0.0.0.0/0
    matches every local address (``fib daddr type local``); a node whose address is in none of the
    CIDRs answers no NodePort, so the NLB's SYN to it gets a RST (seed 1, 40 connections)."""
    def with_npa(mode: str, npa: tuple[str, ...]) -> scenario.Scenario:
        s = _seed(mode)
        return replace(s, kube_proxy=replace(s.kube_proxy, node_port_addresses=npa))

    last = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"'
    lines = node_iptables(with_npa("iptables", ("192.168.0.0/19",)), "node1").splitlines()
    assert [x for x in lines if x.endswith("-j KUBE-NODEPORTS") and x.startswith("-A KUBE-SERVICES")] == [
        f"-A KUBE-SERVICES -d 192.168.2.3/32 {last} -j KUBE-NODEPORTS"
    ]
    assert f"-A KUBE-SERVICES {last} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS" in node_iptables(_seed(), "node1")
    # 192.168.0.0/19 holds node1 (192.168.2.3) and node2 (192.168.21.86), not node3 (192.168.44.17): node3 fails
    # the NLB's TCP health check on the NodePort, which only eu-west-1b's NLB node used, so the caller pinned to
    # eu-west-1a sees no change
    part = with_npa("iptables", ("192.168.0.0/19",))
    assert [answers_node_ports(part, n) for n in ("node1", "node2", "node3")] == [True, True, False]
    assert risk.timeout_fraction(part) == Fraction(1, 2) and sim.run(part, 40, seed=1).summary.timeouts > 0
    # only the caller's own node answers: it is the only healthy target in eu-west-1a (cross-zone off), so every
    # connection is sent back to it (until 2026-12-03 node2 was taken as healthy, its RSTs as answers: 1/2)
    own = with_npa("iptables", ("192.168.2.3/32",))
    assert risk.timeout_fraction(own) == 1 and sim.run(own, 40, seed=1).summary.timeouts == 40
    # no node answers the NodePort: every target fails the health check and the NLB fails open to all of them
    # (hairpin.aws.risk.caller_probability), 1 in 3 the caller's own node; the node RSTs; through the NLB the
    # caller gets it (reset), but the caller's own node sends it straight to the pod, which ignores it (not from
    # the NLB): timeout
    off_s = with_npa("iptables", ("10.0.0.0/8",))
    off = sim.run(off_s, 40, seed=1)
    assert risk.timeout_fraction(off_s) == Fraction(1, 3)
    assert (off.summary.timeouts, off.summary.resets, off.summary.established) == (11, 29, 0)
    nft_all = ruleset(with_npa("nftables", ("0.0.0.0/0",)), "node1")
    assert "set nodeport-ips {" not in nft_all
    assert "\t\tfib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports" in (
        nft_all.splitlines()
    )
    assert sim.run(with_npa("nftables", ("0.0.0.0/0",)), 40, seed=1).summary.timeouts > 0


def test_local_traffic_detector_short_circuits_pod_traffic_that_comes_back_through_the_nlb() -> None:
    """--cluster-cidr (detect-local-mode ClusterCIDR) with externalTrafficPolicy Local: the NLB keeps the
    pod's address, so on the target node KUBE-EXT's "pod traffic for ... external destinations" rule
    (-s <cluster CIDR> -j KUBE-SVC) sends the SYN to any endpoint, not masqueraded: the endpoint sees the
    pod's own address.  Its answer goes to the pod's node, whose conntrack de-NATs it to node:NodePort,
    and the pod still RSTs it (it expected the NLB's address): the seed's ETP Local failure, by another
    path (the NLB's only healthy target in the caller's AZ is the caller's node)."""
    s = _seed(external_traffic_policy="Local", health_check_node_port=32000)
    s = replace(s, kube_proxy=replace(s.kube_proxy, cluster_cidr="192.168.0.0/16"))
    assert (
        '-A KUBE-EXT-WGW5ZPXP7HZEBG5V -s 192.168.0.0/16 -m comment --comment "pod traffic for '
        'nginx-demo/service-nginx-demo external destinations" -j KUBE-SVC-WGW5ZPXP7HZEBG5V'
    ) in node_iptables(s, "node1").splitlines()
    c = sim.connect(s, client_port=40000, seed=0)
    assert c.outcome == "timeout"
    at_endpoint = next(h for h in c.hops if h.at.startswith("pod nginx-demo"))
    # an endpoint on another node (node3): only KUBE-SVC reaches it; KUBE-SVL holds node1's nginx-demo-1 only
    assert at_endpoint.at == "pod nginx-demo-3"
    assert (str(at_endpoint.packet.source).split(":")[0], at_endpoint.packet.flags.name) == ("192.168.27.239", "SYN")
    reply = next(h for h in c.hops if h.at == "pod netshoot" and h.packet.flags.name != "SYN")
    assert str(reply.packet.source) == "192.168.2.3:31468"


def test_trace_of_written_nodes_follows_the_new_rules(tmp_path: object) -> None:
    """`hairpin scenario nodes` then `hairpin trace` on a node with VIPs, source ranges and ClientIP
    affinity: the pod's SYN to the VIP is dropped by KUBE-PROXY-FIREWALL, and the affinity checks are
    reported undecidable (a real node's xt_recent lists are not in its dump), not guessed."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    base = Path(str(tmp_path))
    doc = yaml.safe_load(Path("src/hairpin/scenarios/seed.yaml").read_text())
    doc["kube_proxy"] = {"mode": "iptables", "version": "1.30"}
    doc["services"][0].update(session_affinity="ClientIP", load_balancer_ips=["192.168.168.103"],
                              load_balancer_source_ranges=["10.0.0.0/8"])  # fmt: skip
    (base / "s.yaml").write_text(yaml.safe_dump(doc))
    env = {**os.environ, "COLUMNS": "400"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                              env=env, check=False)  # fmt: skip

    assert run("scenario", "nodes", str(base / "s.yaml"), str(base / "nodes")).returncode == 0
    node1 = str(base / "nodes" / "node1")
    vip = run("trace", "--node", node1, "tcp 192.168.27.239:40000 > 192.168.168.103:80 syn in enie348bef9edc")
    drop = ('=> dropped in filter FORWARD (-A KUBE-PROXY-FIREWALL -d 192.168.168.103/32 -p tcp -m comment --comment '
            '"nginx-demo/service-nginx-demo traffic not accepted by KUBE-FW-WGW5ZPXP7HZEBG5V" -m tcp --dport 80 -j DROP)')  # fmt: skip
    assert drop in [line.strip() for line in vip.stdout.splitlines()], vip.stdout
    nodeport = run("trace", "--node", node1, "tcp 192.168.27.239:40000 > 192.168.2.3:31468 syn in eth0")
    assert nodeport.stdout.count("could not decide -m recent (-m recent list KUBE-SEP-") == 3 * 3  # 3 rules x 3 outcomes


def test_trace_of_an_nftables_node_drops_at_the_firewall_check(tmp_path: object) -> None:
    """`hairpin scenario nodes` then `hairpin trace` on an nftables-mode node with source ranges: the pod's
    SYN to the VIP is dropped in filter prerouting by the port's firewall chain, before DNAT."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    base = Path(str(tmp_path))
    doc = yaml.safe_load(Path("src/hairpin/scenarios/seed.yaml").read_text())
    doc["kube_proxy"] = {"mode": "nftables", "version": "1.33"}
    doc["services"][0].update(load_balancer_ips=["192.168.168.103"], load_balancer_source_ranges=["10.0.0.0/8"])
    (base / "s.yaml").write_text(yaml.safe_dump(doc))
    env = {**os.environ, "COLUMNS": "400"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                              env=env, check=False)  # fmt: skip

    assert run("scenario", "nodes", str(base / "s.yaml"), str(base / "nodes")).returncode == 0
    out = run("trace", "--node", str(base / "nodes" / "node1"),
              "tcp 192.168.27.239:40000 > 192.168.168.103:80 syn in enie348bef9edc")  # fmt: skip
    lines = [line.strip() for line in out.stdout.splitlines()]
    fw = "firewall-7WYOEMTF-nginx-demo/service-nginx-demo/tcp/"
    assert f"=> dropped in filter PREROUTING (nft {fw}: ip saddr != 10.0.0.0/8 drop)" in lines, out.stdout
    assert not any(line.startswith("nat ") for line in lines)  # the nat table never ran


@pytest.mark.parametrize(("version", "health"), [("1.30", [False, False, True]), ("1.18", [True, False, True])])
def test_health_check_node_port_follows_node_port_addresses_from_1_23(version: str, health: list[bool]) -> None:
    """externalTrafficPolicy Local with --nodeport-addresses holding node3 only: from kube-proxy 1.23 the
    healthCheckNodePort server listens on those addresses only (pkg/proxy/healthcheck/service_health.go,
    kubernetes PR #104742), so node1 fails the NLB's health check although it has an endpoint; before, it listened
    on every address and node1 passed, while its NodePort went unanswered.  node2 has no endpoint (503)."""
    s = _seed(external_traffic_policy="Local", health_check_node_port=32000)
    s = replace(s, kube_proxy=replace(s.kube_proxy, version=version, node_port_addresses=("192.168.44.17/32",)))
    assert [answers_health_checks(s, n) for n in ("node1", "node2", "node3")] == [version == "1.18", version == "1.18",
                                                                                 True]  # fmt: skip
    assert [(t.name, t.healthy) for t in targets_for(s, s.services[0])] == list(zip(("node1", "node2", "node3"),
                                                                                    health, strict=True))  # fmt: skip
    # the caller (node1, pinned to eu-west-1a's NLB address): from 1.23 that address has no healthy target and the
    # NLB node picks among eu-west-1a's registered targets, node1 one time in two; before, node1 was its only
    # healthy target there
    assert risk.timeout_fraction(s) == (Fraction(1, 2) if version == "1.30" else 1)
    got = sim.run(s, 40, seed=1).summary
    assert (got.timeouts, got.established) == (40, 0)
    lab_servers = [(node, port) for node, port, _, _ in health_servers(s)]
    assert lab_servers == ([("node3", 32000)] if version == "1.30" else
                           [("node1", 32000), ("node2", 32000), ("node3", 32000)])  # fmt: skip
