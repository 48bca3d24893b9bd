"""kube-proxy's IPVS mode with load-balancer VIPs (ipMode VIP), loadBalancerSourceRanges and external
IPs, in the simulator and through ``hairpin scenario nodes`` + ``hairpin trace``: the seed's cluster
with kube-proxy 1.30 in IPVS mode, compared with the iptables-mode figures of
tests/test_kube_features_sim.py for the same scenarios."""

from __future__ import annotations

from dataclasses import replace

from hairpin import scenario
from hairpin.backends import sim
from hairpin.kube.ipvs import dummy_addresses, virtual_servers
from hairpin.model.net import ip_int

N = 200
NLB_IPS = ("192.168.168.103", "192.168.140.27")  # the seed NLB's node addresses (one per AZ)
SRF_DROP = "filter KUBE-SOURCE-RANGES-FIREWALL: -A KUBE-SOURCE-RANGES-FIREWALL -j DROP  [DROP]"


def _seed(mode: str = "ipvs", **svc: object) -> scenario.Scenario:
    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode=mode, version="1.30"))
    return replace(s, services=(replace(s.services[0], **svc),))  # type: ignore[arg-type]


def _notes(c: sim.ConnectResult, at: str) -> list[str]:
    return next(h for h in c.hops if h.at == at).action.split(" | ")


def test_vips_take_in_cluster_callers_off_the_nlb_as_in_iptables_mode() -> None:
    """The seed in IPVS mode times out (the NLB sends some SYNs back to the caller's node); with the
    NLB's addresses as VIPs kube-proxy binds them to kube-ipvs0 on every node, so the pod's SYN is
    IPVS's at LOCAL_IN on its own node: no timeout, as in iptables mode (0 of 200 there too)."""
    base = sim.run(_seed(), N, seed=1).summary
    assert (base.timeouts, base.established) == (91, 109)
    vip = _seed(load_balancer_ips=NLB_IPS)
    r = sim.run(vip, N, seed=1).summary
    ipt = sim.run(_seed("iptables", load_balancer_ips=NLB_IPS), N, seed=1).summary
    assert (r.timeouts, r.established) == (ipt.timeouts, ipt.established) == (0, N)
    c = sim.connect(vip, client_port=40000, seed=1)
    assert c.outcome == "established" and not any(h.at.startswith("NLB") for h in c.hops)
    notes = _notes(c, "node1 eth0")
    assert "route: table local: local 192.168.168.103 dev kube-ipvs0 src 192.168.168.103 (local delivery)" in notes
    assert "nat KUBE-MARK-MASQ: -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000  [mark=0x4000]" in notes
    assert any(n.startswith("IPVS: 192.168.168.103:80 -> 192.168.49.70:80 (masq, rr)") for n in notes), notes
    assert "MASQUERADE --random-fully: 192.168.27.239:40000 -> 192.168.2.3:50168" in notes


def test_source_ranges_drop_pod_callers_outside_them_every_time_as_in_iptables_mode() -> None:
    """Source range 10.0.0.0/8 (the seed's pods are in 192.168.0.0/16): filter INPUT ->
    KUBE-PROXY-FIREWALL -> KUBE-SOURCE-RANGES-FIREWALL drops the SYN before IPVS sees it, on every
    attempt: 50 of 50 time out, as in iptables mode.  A range holding the pods lets every one through."""
    s = _seed(load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8",))
    r = sim.run(s, 50, seed=1).summary
    ipt = sim.run(_seed("iptables", load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8",)), 50, seed=1)
    assert (r.timeouts, r.established) == (ipt.summary.timeouts, ipt.summary.established) == (50, 0)
    c = sim.connect(s, client_port=40000, seed=1)
    notes = _notes(c, "node1")
    assert notes[-2:] == [SRF_DROP, "dropped in filter INPUT"]
    assert not any(n.startswith("IPVS") for n in notes)
    ok = _seed(load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8", "192.168.0.0/16"))
    r = sim.run(ok, 50, seed=1).summary
    assert (r.timeouts, r.established) == (0, 50)


def test_etp_local_vip_falls_back_to_every_endpoint_on_a_node_without_one() -> None:
    """externalTrafficPolicy Local: the VIP's real servers are the node's own endpoints, or every
    endpoint on a node with none (PR #97081), so an in-cluster caller still connects."""
    s = _seed(load_balancer_ips=NLB_IPS, external_traffic_policy="Local", health_check_node_port=32123)
    eps = [ip_int(p.ip) for p in s.endpoints_of(s.services[0])]
    for node in s.nodes:
        local = [ip_int(p.ip) for p in s.endpoints_of(s.services[0]) if p.node == node.name]
        vs = virtual_servers(s, node.name).lookup("tcp", ip_int(NLB_IPS[0]), 80)
        assert vs is not None and [a for a, _ in vs.dests] == (local or eps)
    r = sim.run(s, 50, seed=1).summary
    assert (r.timeouts, r.established) == (0, 50)


def test_external_ips_are_ipvs_servers_bound_to_kube_ipvs0() -> None:
    """An external IP: a virtual server on it with every endpoint (policy Cluster) and the address on
    kube-ipvs0 of every node, after the ClusterIP (the trace test below follows a SYN to it)."""
    s = _seed(external_ips=("192.168.200.10",))
    eps = [(ip_int(p.ip), 80) for p in s.endpoints_of(s.services[0])]
    for node in s.nodes:
        assert dummy_addresses(s, node.name) == [s.services[0].cluster_ip, "192.168.200.10"]
        vs = virtual_servers(s, node.name).lookup("tcp", ip_int("192.168.200.10"), 80)
        assert vs is not None and vs.dests == eps and len(eps) == 3


def test_trace_of_a_written_ipvs_node_drops_at_the_source_range_firewall(tmp_path: object) -> None:
    """`hairpin scenario nodes` then `hairpin trace` on an IPVS-mode node with a VIP and source range
    10.0.0.0/8: the pod's SYN to the VIP is dropped in filter INPUT by KUBE-SOURCE-RANGES-FIREWALL;
    with the pods' range allowed it goes to a real server through IPVS."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    base = Path(str(tmp_path))
    doc = yaml.safe_load(Path("src/hairpin/scenarios/seed.yaml").read_text())
    doc["kube_proxy"] = {"mode": "ipvs", "version": "1.30"}
    doc["services"][0].update(load_balancer_ips=["192.168.168.103"], load_balancer_source_ranges=["10.0.0.0/8"])
    env = {**os.environ, "COLUMNS": "400"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                              env=env, check=False)  # fmt: skip

    packet = "tcp 192.168.27.239:40000 > 192.168.168.103:80 syn in enie348bef9edc"
    for ranges, name in ((["10.0.0.0/8"], "drop"), (["10.0.0.0/8", "192.168.0.0/16"], "ok")):
        doc["services"][0]["load_balancer_source_ranges"] = ranges
        (base / f"{name}.yaml").write_text(yaml.safe_dump(doc))
        assert run("scenario", "nodes", str(base / f"{name}.yaml"), str(base / name)).returncode == 0
        out = run("trace", "--node", str(base / name / "node1"), packet)
        lines = [line.strip() for line in out.stdout.splitlines()]
        if name == "drop":
            assert "=> dropped in filter INPUT" in lines, out.stdout
            srf = [line for line in lines if line.startswith("filter KUBE-SOURCE-RANGES-FIREWALL ")]
            assert len(srf) == 1 and srf[0].endswith("-A KUBE-SOURCE-RANGES-FIREWALL -j DROP  [DROP]"), out.stdout
            assert not any(line.startswith("IPVS") for line in lines), out.stdout
        else:
            assert not any("dropped" in line for line in lines), out.stdout
            assert any("IPVS" in line and "192.168.168.103:80 ->" in line for line in lines), out.stdout
    doc["services"][0].pop("load_balancer_source_ranges")
    doc["services"][0].update(load_balancer_ips=[], external_ips=["192.168.200.10"])
    (base / "ext.yaml").write_text(yaml.safe_dump(doc))
    assert run("scenario", "nodes", str(base / "ext.yaml"), str(base / "ext")).returncode == 0
    out = run("trace", "--node", str(base / "ext" / "node1"), packet.replace("192.168.168.103", "192.168.200.10"))
    lines = [line.strip() for line in out.stdout.splitlines()]
    assert not any("dropped" in line for line in lines), out.stdout
    assert any("IPVS" in line and "192.168.200.10:80 ->" in line for line in lines), out.stdout
