"""kube-proxy's nftables mode in an IPv6 scenario (``table ip6 kube-proxy``) and ClientIP session affinity in IPv6.

The seed-ipv6 example with ``kube_proxy.mode: nftables``: the ruleset hairpin.kube.nftables writes for node1
(golden files, checked against the kernel: ``nft -c -f``, then ``nft -f`` and ``nft list table ip6 kube-proxy``
gives the same text), the simulator's run (306 timeouts of 600 for seed 0, closed form 1/2, as in iptables mode),
the files ``hairpin scenario nodes`` writes and what ``hairpin trace --node`` reads from them, the sweep's grid
over modes, and ClientIP affinity in both modes (ip6tables' ``-m recent`` and nft's ``affinity-…`` sets)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hairpin import scenario
from hairpin.aws import risk
from hairpin.backends import sim
from hairpin.errors import ScenarioError
from hairpin.kube import node_iptables, node_nft
from hairpin.kube.nftables import chain_base, endpoint_chain, ruleset
from hairpin.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "seed-ipv6.yaml"
GOLDEN = Path(__file__).parent / "data" / "kube_nftables6"
NODE1, CALLER = "2a05:d018:a:5600::a", "2a05:d018:a:5600:1::5"
SYN = f"tcp [{CALLER}]:40000 > [{NODE1}]:31468 syn in eth0"
needs_nft = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("nft") is None, reason="needs root and nft")
needs_ip6tables = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip6tables-restore") is None, reason="needs root and ip6tables-restore"
)


def variant(tmp_path: Path, mode: str = "nftables", affinity: bool = False) -> Path:
    """examples/seed-ipv6.yaml with kube-proxy in ``mode`` (and ClientIP affinity), as a file."""
    text = EXAMPLE.read_text()
    assert text.count("  mode: iptables") == 1 and text.count("    external_traffic_policy: Cluster\n") == 1
    text = text.replace("  mode: iptables", f"  mode: {mode}")
    if affinity:
        text = text.replace("    external_traffic_policy: Cluster\n",
                            "    external_traffic_policy: Cluster\n    session_affinity: ClientIP\n")  # fmt: skip
    out = tmp_path / f"seed-ipv6-{mode}{'-affinity' if affinity else ''}.yaml"
    out.write_text(text)
    return out


@pytest.fixture(scope="module")
def nft6(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return scenario.load(variant(tmp_path_factory.mktemp("nft6")))


def _version(s: Scenario, version: str, **kp: str) -> Scenario:
    return dataclasses.replace(s, kube_proxy=dataclasses.replace(s.kube_proxy, version=version, **kp))


@pytest.fixture
def netns() -> Iterator[str]:
    """A throwaway network namespace, deleted afterwards."""
    ns = "hp6nft-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


def test_ipv6_endpoint_chain_names_match_kube_proxy() -> None:
    """servicePortEndpointChainNameBase writes an IPv6 endpoint's colons as dots before hashing; the names are
    the ones of the IPv6 dump in kube-proxy's nftables tests (ns1/svc1 with endpoints fd00:10:180::1 and
    fd00:10:180::2:1)."""
    assert chain_base("ns1/svc1/tcp/p80__fd00.10.180..1/80") == "ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80"
    assert chain_base("ns1/svc1/tcp/p80__fd00.10.180..2.1/80") == "2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80"
    s = scenario.load(EXAMPLE)
    svc = s.services[0]
    assert endpoint_chain(svc, svc.ports[0], "2a05:d018:a:5600:1::8", 80) == (
        "endpoint-67LDPKES-nginx-demo/service-nginx-demo/tcp/__2a05.d018.a.5600.1..8/80"
    )
    assert endpoint_chain(svc, svc.ports[0], "2a05:d018:a:5600:1::8", 80, "affinity-") == (
        "affinity-67LDPKES-nginx-demo/service-nginx-demo/tcp/__2a05.d018.a.5600.1..8/80"
    )


@pytest.mark.parametrize("version", ["1.30", "1.36"])
def test_ruleset_of_node1_is_the_golden_text(nft6: Scenario, version: str) -> None:
    text = ruleset(_version(nft6, version), "node1")
    assert text == (GOLDEN / f"seed-ipv6-node1-{version}.nft").read_text()
    assert node_nft(_version(nft6, version), "node1") == text  # no table ip aws-cni in IPv6 (scenario6 refuses it)


def test_ruleset_lines_that_differ_from_ipv4(nft6: Scenario) -> None:
    """What proxier.go writes otherwise for the IPv6 family: ipX, ipvX_addr, noLocalhost, [addr]:port."""
    lines = [x.strip() for x in ruleset(_version(nft6, "1.33", cluster_cidr="2a05:d018:a:5600::/56",
                                                 service_cidr="fd5e:1a2b:3c4d::/108"), "node1").splitlines()]  # fmt: skip
    ep = "endpoint-67LDPKES-nginx-demo/service-nginx-demo/tcp/__2a05.d018.a.5600.1..8/80"
    svc = "service-7WYOEMTF-nginx-demo/service-nginx-demo/tcp/"
    assert lines[0] == "table ip6 kube-proxy {"
    assert [x for x in lines if x.startswith("type ")][:4] == ["type ipv6_addr", "type ipv6_addr",
        "type ipv6_addr . inet_proto . inet_service : verdict", "type inet_proto . inet_service : verdict"]  # fmt: skip
    i = lines.index(f"chain {ep} {{")
    assert lines[i + 1 : i + 3] == ["ip6 saddr 2a05:d018:a:5600:1::8 jump mark-for-masquerade",
                                    "meta l4proto tcp dnat to [2a05:d018:a:5600:1::8]:80"]  # fmt: skip
    i = lines.index(f"chain {svc} {{")
    assert lines[i + 1] == ("ip6 daddr fd5e:1a2b:3c4d::7b2e tcp dport 80 ip6 saddr != 2a05:d018:a:5600::/56 "
                            "jump mark-for-masquerade")  # fmt: skip
    i = lines.index("chain cluster-ips-check {")
    assert lines[i + 1 : i + 3] == [
        'ip6 daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"',
        'ip6 daddr fd5e:1a2b:3c4d::/108 drop comment "Drop traffic to unallocated ClusterIPs"',
    ]
    # --nodeport-addresses matching every address: the loopback exclusion is ip6 daddr != ::1
    every = dataclasses.replace(nft6, kube_proxy=dataclasses.replace(nft6.kube_proxy, node_port_addresses=("::/0",)))
    lines = [x.strip() for x in ruleset(every, "node1").splitlines()]
    assert "set nodeport-ips {" not in lines
    assert "fib daddr type local ip6 daddr != ::1 meta l4proto . th dport vmap @service-nodeports" in lines
    assert "ip6 daddr != ::1 meta l4proto . th dport vmap @no-endpoint-nodeports" in lines


def _elements_as_sets(text: str) -> list[object]:
    """The lines of an ``nft list`` text with each ``elements = { ... }`` block as a set of its elements (the
    kernel lists them in its hash's order, which hairpin does not claim)."""
    out: list[object] = []
    block: list[str] | None = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("elements = { "):
            block, s = [], s.removeprefix("elements = { ")
        if block is None:
            out.append(line)
            continue
        end = s.endswith(" }")
        block += [e.strip() for e in s.removesuffix(" }").split(",") if e.strip()]
        if end:
            out.append(frozenset(block))
            block = None
    return out


def _affinity(s: Scenario, **change: object) -> Scenario:
    svc = dataclasses.replace(s.services[0], session_affinity="ClientIP", **change)  # type: ignore[arg-type]
    return dataclasses.replace(s, services=(svc,))


@needs_nft
@pytest.mark.parametrize("version", ["1.30", "1.33", "1.34", "1.36"])
@pytest.mark.parametrize("change", ["seed", "local-affinity", "empty", "services"])
def test_the_kernel_accepts_the_ipv6_ruleset_and_lists_it_back_identically(
    nft6: Scenario, version: str, change: str, netns: str
) -> None:
    s = _version(nft6, version, cluster_cidr="2a05:d018:a:5600::/56", service_cidr="fd5e:1a2b:3c4d::/108")
    if change == "local-affinity":
        s = _affinity(s, external_traffic_policy="Local")
    elif change == "empty":
        s = dataclasses.replace(s, services=(dataclasses.replace(s.services[0], endpoints=()),))
    elif change == "services":  # sets and maps of several elements: nft lists an IPv6 set one element a line
        svc = s.services[0]
        more = [dataclasses.replace(svc, name=f"svc{i}", cluster_ip=ip, session_affinity="ClientIP",
                                    ports=(dataclasses.replace(svc.ports[0], node_port=31469 + i),))
                for i, ip in enumerate(["fd5e:1a2b:3c4d::1", "fd5e:1a2b:3c4d::ab:cdef", "fd5e:1a2b:3c4d::9"])]  # fmt: skip
        s = dataclasses.replace(s, services=(svc, *more))
    text = ruleset(s, "node1")
    ns = ["ip", "netns", "exec", netns, "nft"]
    subprocess.run([*ns, "-c", "-f", "-"], input=text, text=True, check=True)  # nft's check, nothing loaded
    assert subprocess.run([*ns, "list", "ruleset"], capture_output=True, text=True, check=True).stdout == ""
    subprocess.run([*ns, "-f", "-"], input=text, text=True, check=True)
    listed = subprocess.run([*ns, "list", "table", "ip6", "kube-proxy"], capture_output=True, text=True, check=True)
    assert _elements_as_sets(listed.stdout) == _elements_as_sets(text)
    assert len(listed.stdout.splitlines()) == len(text.splitlines())  # as many elements a line
    if change != "services":
        assert listed.stdout == text


def test_reproduce_in_nftables_mode_times_out_as_in_iptables_mode(nft6: Scenario) -> None:
    assert risk.timeout_fraction(nft6) == risk.Fraction(1, 2)
    run = sim.run(nft6, 600, 0)
    assert (run.summary.timeouts, run.summary.resets, run.summary.expected_rate) == (306, 0, 0.5)
    ipt = sim.run(scenario.load(EXAMPLE), 600, 0)
    assert [(c.target, c.outcome) for c in run.connections] == [(c.target, c.outcome) for c in ipt.connections]
    for version in ("1.34", "1.36"):
        assert sim.run(_version(nft6, version), 600, 0).summary.timeouts == 306


def test_the_hairpinned_connection_takes_the_iptables_modes_hops(nft6: Scenario) -> None:
    """numgen random mod 3 draws as the statistic rules do: the same backend, ports and packets, hop by hop."""
    target = f"[{NODE1}]:31468"
    c = sim.Network(nft6).connect(0, 0, client_port=40000, target=target)
    ipt = sim.Network(scenario.load(EXAMPLE)).connect(0, 0, client_port=40000, target=target)
    assert (c.outcome, c.syns, c.hairpin, c.elapsed_s) == ("timeout", 7, True, 127.0)
    assert [(h.kind, h.lane, str(h.packet)) for h in c.hops] == [(h.kind, h.lane, str(h.packet)) for h in ipt.hops]
    assert str(c.hops[4].packet) == f"tcp [{NODE1}]:16288 > [2a05:d018:a:5601:3::3]:80 SYN"  # DNAT + MASQUERADE
    assert str(c.hops[11].packet) == f"tcp [{NODE1}]:31468 > [{CALLER}]:40000 SYN,ACK"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          check=False, env=env)  # fmt: skip


@pytest.mark.parametrize("mode", ["nftables", "iptables"])
def test_scenario_nodes_then_trace_node_gives_the_same_outcomes_in_both_modes(tmp_path: Path, mode: str) -> None:
    res = _cli("scenario", "nodes", str(variant(tmp_path, mode)), str(tmp_path / "nodes"))
    assert res.returncode == 0, res.stderr
    node1 = tmp_path / "nodes" / "node1"
    files = ["ip-addr", "ip6-route", "ip6-rule", "ip6tables-save"] + (["nft-ruleset"] if mode == "nftables" else [])
    assert sorted(p.name for p in node1.iterdir()) == files
    assert res.stderr.splitlines()[-1].startswith(f"Next: hairpin trace --node {node1} --reply '{SYN}'")
    if mode == "nftables":
        assert (node1 / "nft-ruleset").read_text() == (GOLDEN / "seed-ipv6-node1-1.30.nft").read_text()
        assert "-A KUBE-" not in (node1 / "ip6tables-save").read_text()  # kube-proxy's rules are in nft-ruleset
    res = _cli("trace", "--node", str(node1), "--reply", SYN, "--format", "json")
    assert res.returncode == 1  # asymmetric
    out = json.loads(res.stdout)
    assert [o["asymmetric"] for o in out["outcomes"]] == [
        f"the request came in on eth0 but its reply leaves on enie348bef9edc as tcp [{NODE1}]:31468 > "
        f"[{CALLER}]:40000 SYN,ACK"
    ] * 3
    # numgen random mod 3: exactly 1/3 each; the statistic rules' probabilities as iptables-save rounds them
    assert [o["probability"] for o in out["outcomes"]] == (
        ["1/3"] * 3
        if mode == "nftables"
        else ["715827883/2147483648", "1431655765/4294967296", "1431655765/4294967296"]
    )
    dnat = [next(s["rule"] for s in o["legs"][0]["steps"] if s["effect"] == "DNAT") for o in out["outcomes"]]
    assert sorted(rule.rsplit(" ", 1)[1] for rule in dnat) == [
        "[2a05:d018:a:5600:1::8]:80", "[2a05:d018:a:5601:3::2]:80", "[2a05:d018:a:5601:3::3]:80"]  # fmt: skip
    if mode == "nftables":
        assert dnat[0] == "nft meta l4proto tcp dnat to [2a05:d018:a:5601:3::2]:80"


def test_sweep_over_modes_of_the_ipv6_example(tmp_path: Path) -> None:
    res = _cli("sweep", "--scenario", str(EXAMPLE), "--grid", "mode=iptables,nftables", "--connections", "10",
               "--workers", "1", "--format", "json", "-o", str(tmp_path / "sweep.json"))  # fmt: skip
    assert (res.returncode, res.stderr) == (0, f"wrote {tmp_path / 'sweep.json'}\n")
    points = json.loads((tmp_path / "sweep.json").read_text())["points"]
    assert [(p["mode"], p["timeouts"], p["expected"], p["agrees"]) for p in points] == [
        ("iptables", 7, 0.5, True), ("nftables", 5, 0.5, True)]  # fmt: skip


def test_ipvs_mode_is_refused_in_one_line(tmp_path: Path) -> None:
    bad = variant(tmp_path, "ipvs")
    line = next(i for i, ln in enumerate(bad.read_text().splitlines(), 1) if ln == "  mode: ipvs")
    with pytest.raises(ScenarioError) as e:
        scenario.load(bad)
    assert str(e.value) == f"{bad}:{line}: kube_proxy.mode: IPv6 scenarios are modelled in iptables and nftables " \
                           "modes only (got ipvs)"  # fmt: skip
    res = _cli("reproduce", "--scenario", str(bad))
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == (f"hairpin: error: {bad}:{line}: kube_proxy.mode: IPv6 scenarios are modelled in iptables "
                          "and nftables modes only (got ipvs)\n")  # fmt: skip


# -- ClientIP session affinity in IPv6


def test_ip6tables_affinity_rules(tmp_path: Path) -> None:
    s = scenario.load(variant(tmp_path, "iptables", affinity=True))
    lines = node_iptables(s, "node1").splitlines()
    sep = "KUBE-SEP-VTBU3ZYQ52T6MMNZ"
    mask = "--mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    assert (f'-A {sep} -p tcp -m comment --comment "nginx-demo/service-nginx-demo" -m recent --set --name {sep} '
            f"{mask} --rsource -m tcp -j DNAT --to-destination [2a05:d018:a:5600:1::8]:80") in lines  # fmt: skip
    assert ('-A KUBE-SVC-WGW5ZPXP7HZEBG5V -m comment --comment "nginx-demo/service-nginx-demo -> '
            f'[2a05:d018:a:5600:1::8]:80" -m recent --rcheck --seconds 10800 --reap --name {sep} {mask} --rsource '
            f"-j {sep}") in lines  # fmt: skip
    assert not any("255.255.255.255" in x for x in lines)


def _tables(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line and not line.startswith("#"):
            out.setdefault(table, []).append(line)
    return out


@needs_ip6tables
def test_the_kernel_accepts_the_ip6tables_affinity_rules_and_saves_them_back(tmp_path: Path, netns: str) -> None:
    text = node_iptables(scenario.load(variant(tmp_path, "iptables", affinity=True)), "node1")
    ns = ["ip", "netns", "exec", netns]
    subprocess.run([*ns, "ip6tables-restore", "--test"], input=text, text=True, check=True)
    subprocess.run([*ns, "ip6tables-restore"], input=text, text=True, check=True)
    saved = subprocess.run([*ns, "ip6tables-save"], capture_output=True, text=True, check=True).stdout
    assert _tables(saved) == _tables(text)  # iptables-nft lists the tables in another order


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_affinity_keeps_each_target_node_on_one_backend(tmp_path: Path, mode: str) -> None:
    """Without affinity both target nodes spread their connections over the three pods; with it, each node's
    first pick (the caller's address in the node's -m recent list or affinity set) holds for every later
    connection.  The timeouts do not change: the NLB picks the node (306 of 600 for seed 0, closed form 1/2),
    and the memo, switched off once a list holds an address, gives the run the connections simulate in full."""
    s = scenario.load(variant(tmp_path, mode, affinity=True))
    net = sim.Network(s)
    backends: dict[str, set[str]] = {}
    for i in range(20):
        c = net.connect(i, 0)
        pod = next(h for h in c.hops if h.kind == "deliver" and h.lane.startswith("nginx-demo-"))
        backends.setdefault(c.target, set()).add(pod.lane)
    assert backends == {f"[{NODE1}]:31468": {"nginx-demo-3"}, "[2a05:d018:a:5600::b]:31468": {"nginx-demo-2"}}
    assert risk.timeout_fraction(s) == risk.Fraction(1, 2)
    run, full = sim.run(s, 600, 0), sim.run(s, 600, 0, memo=False)
    assert (run.summary.timeouts, run.summary.resets) == (306, 0)
    assert [(c.target, c.outcome) for c in run.connections] == [(c.target, c.outcome) for c in full.connections]


def test_nftables_affinity_in_ipv4_runs_with_the_memo() -> None:
    """The memo switches off once an nft affinity set holds an address (it asserted one decision path, two
    courses before): the seed in nftables mode with ClientIP affinity, memo on and off, connection by connection."""
    s = scenario.seed()
    s = _affinity(dataclasses.replace(s, kube_proxy=dataclasses.replace(s.kube_proxy, mode="nftables", version="1.33")))
    run, full = sim.run(s, 200, 0), sim.run(s, 200, 0, memo=False)
    assert run.summary.timeouts == full.summary.timeouts == 102
    assert [(c.target, c.outcome) for c in run.connections] == [(c.target, c.outcome) for c in full.connections]
