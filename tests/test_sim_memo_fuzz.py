"""A differential fuzz of the simulator's memo (``hairpin.backends.memo``, ``memo_rounds``): scenarios drawn from
the seed and every example, reshaped by what a scenario file may say (SYN retries and linear timeouts,
accept_local, kube-proxy mode and version, its cluster CIDR, ClientIP affinity and its timeout,
externalTrafficPolicy and internalTrafficPolicy, ClusterIP callers, DNS answers instead of a pinned NLB address,
the NLB's addresses as load-balancer IPs, the CNI's SNAT settings and nftables connection marks, the load
balancer's target type, client IP preservation, cross-zone, Proxy Protocol, security groups, a hostNetwork caller,
a caller that is one of its Service's backends, every workaround, the sweep's nodes per AZ and AZs), run with and
without the memo: every connection's course (client, service, target, outcome, elapsed time, SYNs, hairpin) and
the run's JSON (in some cases with every connection's hops, in others on a network that keeps no hops, as a
workaround's connections are run; in others against a run without any cache) must be the same.

``build`` and ``params`` are shared with ``benchmarks/fuzz_memo.py``, which runs the same comparison on thousands
of drawn cases."""

from __future__ import annotations

import json
import random
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin import scenario, sweep
from hairpin.backends import memo, memo_rounds, sim
from hairpin.errors import InputError

ROOT = Path(__file__).parent.parent
BASES = {p.stem: p for p in sorted((ROOT / "examples").glob("*.yaml"))} | {
    "seed": ROOT / "src" / "hairpin" / "scenarios" / "seed.yaml"
}
HITS: list[int] = []  # connections the memo answered, per run with the memo
ROUND_HITS: list[int] = []  # of those, connections of more than one SYN round
REFUSED: dict[str, int] = {}  # why build refused a case (the key of the first error)
VERSIONS = ("1.18", "1.24", "1.28", "1.30", "1.33")


@cache
def _doc(name: str) -> str:
    return BASES[name].read_text()


def build(p: dict[str, Any]) -> scenario.Scenario | None:
    """The scenario of one drawn case (``params``), or None when the scenario file would be refused."""
    d = yaml.safe_load(_doc(p["base"]))
    k = d.setdefault("kernel", {})
    k["tcp_syn_retries"], k["tcp_syn_linear_timeouts"] = p["retries"], p["linear"]
    k["accept_local"] = p["accept_local"]
    kp = d.setdefault("kube_proxy", {})
    if p["mode"] is not None:
        kp["mode"] = p["mode"]
        kp["version"] = p["version"]
    if (p["affinity"] is not None or p["itp_local"]) and kp.get("mode") == "ipvs":
        kp["mode"] = "iptables"  # written by the iptables mode from 1.24 and the nftables mode (kube.layout._FEATURES)
    if kp.get("mode") == "nftables" or p["affinity"] is not None or p["itp_local"]:
        old = str(kp.get("version", "1.18"))
        floor = "1.30" if kp.get("mode") == "nftables" else "1.24"
        kp["version"] = old if tuple(map(int, old.split("."))) >= tuple(map(int, floor.split("."))) else floor
    if p["npa_primary"]:
        kp["node_port_addresses"] = "primary"
    cni = d.setdefault("cni", {})
    cni["external_snat"] = p["external_snat"]
    cni["nat_outgoing"] = p["nat_outgoing"]
    if p["cni_nft"]:
        cni["version"], cni["connmark_backend"] = "1.23", "nftables"
    cl = d["client"]
    svc = next(s for s in d["services"] if f"{s.get('namespace', 'default')}/{s['name']}" == cl["service"])
    if p["via"] is not None:
        cl["via"] = p["via"]
    if p["dns"]:
        cl.pop("address", None)
    if p["affinity"] is not None:
        svc["session_affinity"], svc["session_affinity_timeout"] = "ClientIP", p["affinity"]
    if p["etp"] is not None:
        svc["external_traffic_policy"] = p["etp"]
        svc.setdefault("health_check_node_port", 32000)
    if p["itp_local"]:
        svc["internal_traffic_policy"] = "Local"
    lb = svc.get("load_balancer") or {}
    for key in ("target_type", "preserve_client_ip", "cross_zone", "proxy_protocol_v2"):
        if p[key] is not None:
            lb[key] = p[key]
    if p["source_ranges"] is not None:  # an IPv4 range on an IPv4 scenario, an IPv6 one on an IPv6 scenario
        v6 = ":" in d["vpc"]["cidr"]
        lb["security_groups"] = True
        lb["source_ranges"] = [
            {"10.0.0.0/8": "fd00::/8", "192.168.0.0/16": "2a05::/16", "0.0.0.0/0": "::/0"}[p["source_ranges"]]
            if v6
            else p["source_ranges"]
        ]
    if p.get("cluster_cidr"):  # kube-proxy's local-traffic detector (--cluster-cidr): the VPC's CIDR
        kp["cluster_cidr"] = d["vpc"]["cidr"]
    if p.get("lb_ips") and svc.get("load_balancer"):  # the NLB's addresses as VIP ingress IPs: captured on every node
        svc["load_balancer_ips"] = list(svc["load_balancer"].get("nodes", {}).values())
    if p.get("self_endpoint") and "endpoints" in svc:  # the caller is one of the Service's backends
        svc["endpoints"] = [*svc["endpoints"], cl["pod"]]
    if p["host_network"]:
        pod = next(x for x in d["pods"] if x["name"] == cl["pod"])
        pod["host_network"] = True
        pod.pop("ip", None)
    try:
        s = scenario.from_dict(d)
        shape = {k: p[k] for k in ("nodes", "azs") if p.get(k) is not None}
        if shape and s.client_service.load_balancer is not None:  # the sweep's reshaping (render.chart.variant)
            s = sweep.point_scenario(s, shape)
        if p["fix"] is not None:
            s = scenario.with_fix(s, p["fix"])
    except InputError as e:  # ScenarioError is one
        REFUSED[e.message.split(":")[0]] = REFUSED.get(e.message.split(":")[0], 0) + 1
        return None
    return s


def params(r: random.Random) -> dict[str, Any]:
    """One case drawn from ``r`` (the longer sweep of ``benchmarks/fuzz_memo.py``)."""
    c = r.choice
    return {
        "base": c(sorted(BASES)),
        "retries": c((0, 1, 2, 3, 6, 6, 8, 10, 12, 15, 20)),
        "linear": c((0, 0, 1, 4, 6)),
        "accept_local": r.random() < 0.15,
        "mode": c((None, "iptables", "nftables", "ipvs")),
        "version": c(VERSIONS),
        "npa_primary": r.random() < 0.1,
        "external_snat": r.random() < 0.2,
        "nat_outgoing": r.random() < 0.15,
        "cni_nft": r.random() < 0.2,
        "via": c((None, None, None, "cluster-ip")),
        "dns": r.random() < 0.3,
        "affinity": c((None, None, None, 1, 3, 10, 10800)),
        "etp": c((None, None, "Cluster", "Local")),
        "itp_local": r.random() < 0.1,
        "target_type": c((None, None, "instance", "ip")),
        "preserve_client_ip": c((None, None, True, False)),
        "cross_zone": c((None, True, False)),
        "proxy_protocol_v2": c((None, None, None, True)),
        "source_ranges": c((None, None, None, None, "10.0.0.0/8", "192.168.0.0/16", "0.0.0.0/0")),
        "host_network": r.random() < 0.1,
        "fix": c((None, None, None, *sorted(scenario.FIXES))),
        "nodes": c((None, None, None, 1, 2, 4)),
        "azs": c((None, None, None, 1, 2, 3)),
        "quiet": r.random() < 0.2,
        "all_hops": r.random() < 0.15,
        "uncached": r.random() < 0.15,
        "self_endpoint": r.random() < 0.1,
        "cluster_cidr": r.random() < 0.1,
        "lb_ips": r.random() < 0.08,
        "seed": r.randrange(2**16),
        "n": c((1, 2, 5, 20, 60, 150)),
    }


def courses(s: scenario.Scenario, n: int, seed: int, use_memo: bool, quiet: bool = False, all_hops: bool = False,
            caching: bool = True) -> tuple[list[tuple[Any, ...]], str]:  # fmt: skip
    """Every connection's course (what ``memo.Course`` stores, and the client) and the run's JSON (with every
    connection's hops: ``all_hops``); ``quiet``: on a network that keeps no hops, as ``sim.run`` simulates a
    workaround's connections (no JSON then); ``caching=False``: every other cache off too."""
    if quiet:
        net = sim.Network(s, verbose=False, caching=caching)
        net.keep_hops = False
        conns, doc = sim._connections(net, n, seed, use_memo, None, None), ""
    else:
        r = sim.run(s, n, seed=seed, memo=use_memo, caching=caching)
        conns, doc = r.connections, json.dumps(r.to_json(all_hops=all_hops))
    if use_memo:
        HITS.append(sum(isinstance(c, sim.Replayed) for c in conns))
        ROUND_HITS.append(sum(isinstance(c, sim.Replayed) and c.syns > 1 for c in conns))
    return [(c.id, c.client, c.service, c.target, c.outcome, c.elapsed_s, c.syns, c.hairpin) for c in conns], doc


def differ(p: dict[str, Any]) -> str | None:
    """What differs between the runs with and without the memo for case ``p`` (None: nothing, or no scenario);
    ``p["uncached"]``: the run without the memo has every other cache off too (``sim.run(caching=False)``)."""
    s = build(p)
    if s is None:
        return None
    how = (p.get("quiet", False), p.get("all_hops", False))
    with warnings.catch_warnings(record=True) as said:  # the memo's own check found it contradicting itself
        warnings.simplefilter("always")
        on = courses(s, p["n"], p["seed"], True, *how)
    conflicts = [str(w.message) for w in said if "memo contradicted itself" in str(w.message)]
    if conflicts:
        return f"memo conflict: {conflicts[0]}"
    off = courses(s, p["n"], p["seed"], False, *how, not p.get("uncached", False))
    if on == off:
        return None
    for a, b in zip(on[0], off[0], strict=True):
        if a != b:
            return f"connection {a[0]}: memo {a[1:]} != full {b[1:]}"
    return "the JSON differs"


#: a case that leaves the base scenario as its file says (the tests below change what they need)
PLAIN: dict[str, Any] = {
    "base": "seed", "retries": 6, "linear": 0, "accept_local": False, "mode": None, "version": "1.30",
    "npa_primary": False, "external_snat": False, "nat_outgoing": False, "cni_nft": False, "via": None, "dns": False,
    "affinity": None, "etp": None, "itp_local": False, "target_type": None, "preserve_client_ip": None,
    "cross_zone": None, "proxy_protocol_v2": None, "source_ranges": None, "host_network": False, "fix": None,
    "nodes": None, "azs": None, "quiet": False, "all_hops": False, "uncached": False, "self_endpoint": False,
    "cluster_cidr": False, "lb_ips": False, "seed": 3, "n": 60,
}  # fmt: skip

cases = st.builds(lambda seed: params(random.Random(seed)), st.integers(0, 2**32))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=cases)
def test_drawn_scenarios_identical_with_and_without_memo(p: dict[str, Any]) -> None:
    assert differ(p) is None, p


#: connections of several SYN rounds the memo answers in ``test_long_retries_identical`` (150 connections, one node
#: per AZ, cross-zone off: every connection sent to the caller's AZ hairpins); none where the memo is off (a Classic
#: ELB, a NAT gateway) or nothing hairpins (ip targets)
ROUNDS_ANSWERED = {"clb": 0, "etp-local": 80, "internet-facing": 0, "ipvs-mode": 37, "nftables-mode": 59, "seed": 36,
                   "seed-ip-targets": 0, "seed-ipv6": 38, "three-az-cross-zone": 3}  # fmt: skip


@pytest.mark.parametrize("base", sorted(BASES))
def test_long_retries_identical(base: str) -> None:
    """12 SYN retransmissions after 4 linear ones (past conntrack's 120 s SYN_SENT and IPVS's 60 s SYN_RECV
    timeouts) on each base scenario, through its NLB (the memo answering later rounds) and through its ClusterIP."""
    p = PLAIN | {"base": base, "retries": 12, "linear": 4, "seed": 5, "n": 150, "nodes": 1, "cross_zone": False}
    assert build(p) is not None, p
    assert differ(p) is None, p
    assert ROUND_HITS[-1] == ROUNDS_ANSWERED[base]
    p = PLAIN | {"base": base, "retries": 12, "linear": 4, "via": "cluster-ip", "seed": 5, "n": 40}
    assert build(p) is not None, p
    assert differ(p) is None, p


def _dns_case(n: int) -> dict[str, Any]:
    """three-az-cross-zone with the NLB address its DNS answers (one of three per connection)."""
    return PLAIN | {"base": "three-az-cross-zone", "dns": True, "n": n}


def test_the_fuzz_sees_a_root_key_without_the_dns_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison fails when the memo's lookups forget which NLB address DNS answered (every lookup keyed as
    if it were connection 0's): a memoised connection then gets another address's course."""
    p = _dns_case(60)
    assert differ(p) is None
    real = memo.Memo.lookup

    def lookup(self: memo.Memo, conn_id: int, seed: int) -> Any:
        dst = self.net.destination
        setattr(self.net, "destination", lambda s, i: dst(s, 0))  # noqa: B010 (an instance's method)
        try:
            return real(self, conn_id, seed)
        finally:
            del self.net.destination

    monkeypatch.setattr(memo.Memo, "lookup", lookup)
    assert differ(p) == (
        "connection 26: memo ('10.20.1.100:51797', '10.20.74.50:443', '10.20.33.21:30443', 'established', "
        "0.0007000000000000001, 1, False) != full ('10.20.1.100:51797', '10.20.10.50:443', '10.20.33.21:30443', "
        "'established', 0.0007000000000000001, 1, False)"
    )


def test_the_fuzz_sees_a_coarse_round_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A round key without the time, the SYN count and the kept entries' timeouts merges SYN rounds that differ:
    the memo's own check of its trie finds it (a failure of the fuzz; the run, simulated again without the memo, is not
    wrong)."""
    p = PLAIN | {"mode": "iptables"}
    assert differ(p) is None
    real = memo_rounds._key

    def coarse(*args: Any) -> Any:
        key, mapping, closed = real(*args)
        rows = tuple(r[:-1] if isinstance(r, tuple) and r[0] in ("c", "e", "ic") else r for r in key[1:])
        return (0.0, *rows), mapping, closed

    monkeypatch.setattr(memo_rounds, "_key", coarse)
    assert differ(p) == (
        "memo conflict: the simulator's memo contradicted itself (one decision path, two round states (after None)); "
        "all 60 connections were simulated again without it"
    )


def test_a_stored_marker_of_a_later_round_is_not_taken() -> None:
    """Found by this fuzz: a hostNetwork caller of seed-ipv6 (externalTrafficPolicy Local, client IP preservation
    off, 8 SYN retries).  Its SYN rounds 2 to 6 draw nothing and have no key (a backend's request socket still has a
    SYN/ACK retransmission pending, until 31 s), so the first marker of a connection's path is round 7's, at the
    trie position every one of those silent rounds reaches.  Connection 4, following that path, took round 7's
    marker at its round 2 (1 s) and stored a second marker after it: ``sim.run`` with the memo stopped on ``memo:
    one decision path, two round states (after None)``.  A stored marker is now taken only at its own time."""
    p = PLAIN | {"base": "seed-ipv6", "retries": 8, "etp": "Local", "preserve_client_ip": False, "host_network": True,
                 "cluster_cidr": True, "n": 5}  # fmt: skip
    s = build(p)
    assert s is not None
    m = memo.Memo(sim.Network(s, verbose=False))
    got = [m.lookup(i, 3) or m.record(i, 3) for i in range(5)]
    full = sim.Network(s, verbose=False)
    want = [full.connect(i, 3) for i in range(5)]
    assert [(c.outcome, c.syns, c.elapsed_s) for c in got] == [(c.outcome, c.syns, c.elapsed_s) for c in want] == [
        ("timeout", 9, 367.0), *[("established", 9, 247.00059999999996)] * 3, ("timeout", 9, 367.0)]  # fmt: skip
    assert (m.hits, m.misses, len(m.rounds), m.links) == (0, 5, 12, 12)  # markers for rounds 7 to 9 only
    assert all(key[0] in (63.0, 127.0, 247.0) for key in m.rounds)
    assert differ(p) is None
    assert differ(p | {"n": 60}) is None
    assert (HITS[-1], ROUND_HITS[-1]) == (35, 21)
