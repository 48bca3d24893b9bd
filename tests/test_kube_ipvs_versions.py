"""Two per-release differences of kube-proxy's IPVS layout, as hairpin writes them:

- the filter KUBE-NODE-PORT chain, its INPUT jump ("kubernetes health check rules") and the
  KUBE-HEALTH-CHECK-NODE-PORT set exist from 1.21 (kubernetes PR #97824, first in v1.21.0-alpha.3); the
  release-1.18 tree (fork 2018112767/kubernetes at b3796c7b, pkg/proxy/ipvs/proxier.go ``iptablesJumpChain``,
  ``iptablesChains``, ``ipsetInfo``) has none of them;
- before 1.28 (kubernetes PR #115019, ``shouldBind``) an external IP or VIP that is the node's own address is
  bound to kube-ipvs0 like any other (release-1.18 ``syncService(..., true)``), so it is on eth0 and on
  kube-ipvs0, and from 1.25 in KUBE-IPVS-IPS."""

from __future__ import annotations

from dataclasses import replace

from hairpin import scenario
from hairpin.backends import sim
from hairpin.kube.ipvs import dummy_addresses, ipset_save, ipsets, tables
from hairpin.topology import build

NODE1, NODE3 = "192.168.2.3", "192.168.44.17"
CIP = "10.100.235.20"


def _seed(version: str, **svc: object) -> scenario.Scenario:
    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode="ipvs", version=version))
    return replace(s, services=(replace(s.services[0], **svc),))  # type: ignore[arg-type]


def _local(version: str) -> scenario.Scenario:
    return _seed(version, external_traffic_policy="Local", health_check_node_port=32000)


def test_118_has_no_health_check_chain_jump_or_set() -> None:
    s = _local("1.18")
    assert ipset_save(s, "node1").count("HEALTH-CHECK") == 0
    assert "KUBE-HEALTH-CHECK-NODE-PORT" not in ipsets(s, "node1")
    assert tables(s, "node1").render(("filter",)).splitlines() == [
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":KUBE-FORWARD - [0:0]",
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack pod source rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack pod destination rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "COMMIT",
    ]


def test_124_has_the_health_check_chain_jump_and_set() -> None:
    s = _local("1.24")
    lines = ipset_save(s, "node1").splitlines()
    at = lines.index("create KUBE-HEALTH-CHECK-NODE-PORT bitmap:port range 0-65535")
    assert lines[at + 1] == "add KUBE-HEALTH-CHECK-NODE-PORT 32000"
    assert ipsets(s, "node1")["KUBE-HEALTH-CHECK-NODE-PORT"] == ["32000"]
    assert tables(s, "node1").render(("filter",)).splitlines() == [
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":KUBE-FORWARD - [0:0]",
        ":KUBE-NODE-PORT - [0:0]",
        '-A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT',
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        '-A KUBE-NODE-PORT -m comment --comment "Kubernetes health check node port" '
        "-m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT",
        "COMMIT",
    ]


def test_own_address_is_bound_before_1_28_and_left_out_from_it() -> None:
    """node1's address as an external IP, node3's as a VIP: each node binds the other's; before 1.28 it
    binds its own too, and from 1.25 KUBE-IPVS-IPS (the bound addresses) holds it."""
    both = {"external_ips": (NODE1,), "load_balancer_ips": (NODE3,)}
    for version in ("1.18", "1.24", "1.27"):
        s = _seed(version, **both)
        assert dummy_addresses(s, "node1") == dummy_addresses(s, "node3") == [CIP, NODE1, NODE3], version
    assert ipsets(_seed("1.27", **both), "node1")["KUBE-IPVS-IPS"] == [CIP, NODE1, NODE3]
    assert "KUBE-IPVS-IPS" not in ipsets(_seed("1.24", **both), "node1")
    for version in ("1.28", "1.30"):
        s = _seed(version, **both)
        assert (dummy_addresses(s, "node1"), dummy_addresses(s, "node3")) == ([CIP, NODE3], [CIP, NODE1]), version
        assert ipsets(s, "node1")["KUBE-IPVS-IPS"] == [CIP, NODE3]


def test_118_node_holds_its_own_address_on_eth0_and_kube_ipvs0() -> None:
    ns = build(_seed("1.18", external_ips=(NODE1,))).namespace("node1")
    assert ns.interface("kube-ipvs0").addresses == (f"{CIP}/32", f"{NODE1}/32")
    assert any(a.startswith(f"{NODE1}/") for a in ns.interface("eth0").addresses)
    ns30 = build(_seed("1.30", external_ips=(NODE1,))).namespace("node1")
    assert ns30.interface("kube-ipvs0").addresses == (f"{CIP}/32",)


def test_calling_the_nodes_own_address_as_external_ip_is_the_same_before_and_after_1_28() -> None:
    """The client dials node1's address (an external IP, port 80): it is local on node1 either way (the
    route found is eth0's), IPVS takes it, and the masqueraded SYN (source 192.168.2.3) is a martian on a
    node that binds node1's address to its kube-ipvs0: 131 of 200 time out at 1.18, 1.27 and 1.30 alike."""
    for version in ("1.18", "1.27", "1.30"):
        s = _seed(version, external_ips=(NODE1,))
        s = replace(s, client=replace(s.client, address=NODE1))
        r = sim.run(s, 200, seed=1).summary
        assert (r.timeouts, r.established) == (131, 69), version
        c = sim.connect(s, client_port=40000, seed=1)
        notes = " | ".join(h.action for h in c.hops)
        assert f"route: table local: local {NODE1} dev eth0 src {NODE1} (local delivery)" in notes
        assert f"martian source {NODE1} on eth0" in notes
