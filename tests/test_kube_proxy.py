"""kube-proxy's iptables rules (hairpin.kube.proxy) and the whole node text (hairpin.kube.node_iptables),
checked against the seed's dump and against the real iptables-restore/iptables-save."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hairpin.errors import ScenarioError
from hairpin.kube import node_iptables
from hairpin.kube.layout import layout_for, parse_version
from hairpin.kube.proxy import iptables_save
from hairpin.parsers import iptables_save as parser
from hairpin.scenario import Scenario, load, seed
from kube_oracle import check_jumps

# `iptables-save | grep "service-nginx-demo"` on the seed's node, as the seed document
# (shared/seed/eks-internal-nlb-random-timeouts.md, step 3) prints it.
SEED_DUMP = """\
-A KUBE-NODEPORTS -p tcp -m comment --comment "nginx-demo/service-nginx-demo:" -m tcp --dport 31919 -j KUBE-MARK-MASQ
-A KUBE-NODEPORTS -p tcp -m comment --comment "nginx-demo/service-nginx-demo:" -m tcp --dport 31919 -j KUBE-SVC-7D7VEXWNCKBQRZ7W
-A KUBE-SEP-2IF7DICDPRGPK5UI -s 192.168.39.2/32 -m comment --comment "nginx-demo/service-nginx-demo:" -j KUBE-MARK-MASQ
-A KUBE-SEP-2IF7DICDPRGPK5UI -p tcp -m comment --comment "nginx-demo/service-nginx-demo:" -m tcp -j DNAT --to-destination 192.168.39.2:80
-A KUBE-SEP-2V4THTSJVFKRX4LC -s 192.168.16.142/32 -m comment --comment "nginx-demo/service-nginx-demo:" -j KUBE-MARK-MASQ
-A KUBE-SEP-2V4THTSJVFKRX4LC -p tcp -m comment --comment "nginx-demo/service-nginx-demo:" -m tcp -j DNAT --to-destination 192.168.16.142:80
-A KUBE-SEP-73EDW25F4C3YFWYZ -s 192.168.49.70/32 -m comment --comment "nginx-demo/service-nginx-demo:" -j KUBE-MARK-MASQ
-A KUBE-SEP-73EDW25F4C3YFWYZ -p tcp -m comment --comment "nginx-demo/service-nginx-demo:" -m tcp -j DNAT --to-destination 192.168.49.70:80
-A KUBE-SERVICES -d 10.100.235.20/32 -p tcp -m comment --comment "nginx-demo/service-nginx-demo: cluster IP" -m tcp --dport 80 -j KUBE-SVC-7D7VEXWNCKBQRZ7W
-A KUBE-SVC-7D7VEXWNCKBQRZ7W -m comment --comment "nginx-demo/service-nginx-demo:" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-2IF7DICDPRGPK5UI
-A KUBE-SVC-7D7VEXWNCKBQRZ7W -m comment --comment "nginx-demo/service-nginx-demo:" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-73EDW25F4C3YFWYZ
-A KUBE-SVC-7D7VEXWNCKBQRZ7W -m comment --comment "nginx-demo/service-nginx-demo:" -j KUBE-SEP-2V4THTSJVFKRX4LC
""".splitlines()

# Endpoint chains for the addresses the seed shows (sha256 of "nginx-demo/service-nginx-demo:tcp" + "ip:80");
# the seed's own names were made from the unedited addresses (see tests/test_kube_names.py).
OURS = {"2IF7DICDPRGPK5UI": "2NMLPXPPZMNETRWM", "73EDW25F4C3YFWYZ": "5S7VRPKLE4JVPCT5", "2V4THTSJVFKRX4LC": "GUSCEVX6QYQWNWTF"}
# The unedited endpoint addresses behind the seed's names, in the same roles.
UNEDITED = {"nginx-demo-2": "192.168.4.232", "nginx-demo-3": "192.168.57.43", "nginx-demo-1": "192.168.76.6"}


def _with(s: Scenario, version: str | None = None, etp: str | None = None, node_port: int | None = None,
          hc: int | None = None) -> Scenario:  # fmt: skip
    svc = s.services[0]
    if etp is not None:
        svc = replace(svc, external_traffic_policy=etp, health_check_node_port=hc)
    if node_port is not None:
        svc = replace(svc, ports=(replace(svc.ports[0], node_port=node_port),))
    kp = replace(s.kube_proxy, version=version) if version else s.kube_proxy
    return replace(s, services=(svc,), kube_proxy=kp)


def _lines(text: str, needle: str = "") -> list[str]:
    return [line for line in text.splitlines() if line.startswith("-A ") and needle in line]


def test_seed_rules_match_the_seed_dump() -> None:
    text = iptables_save(_with(seed(), node_port=31919), "node1")
    expected = SEED_DUMP
    for theirs, ours in OURS.items():
        expected = [line.replace(theirs, ours) for line in expected]
    # same rules, same order (iptables-save sorts user chains by name, so the SEP chains move)
    got = _lines(text, "service-nginx-demo")
    assert sorted(got) == sorted(expected)
    assert [line for line in got if "KUBE-SVC-" in line.split()[1]] == [
        line for line in expected if "KUBE-SVC-" in line.split()[1]
    ]


def test_seed_names_and_probabilities_with_the_unedited_addresses() -> None:
    s = seed()
    s = replace(s, pods=tuple(replace(p, ip=UNEDITED.get(p.name, p.ip)) for p in s.pods))
    got = _lines(iptables_save(_with(s, node_port=31919), "node1"), "-A KUBE-SVC-")
    assert got == SEED_DUMP[-3:]


def test_seed_whole_nat_and_filter_118() -> None:
    text = iptables_save(seed(), "node1")
    assert text.startswith("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
    assert _lines(text, "-A KUBE-POSTROUTING") == [
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    ]
    assert _lines(text, "-A KUBE-MARK-MASQ") == ["-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"]
    assert _lines(text, "-A KUBE-SERVICES")[-1] == (
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule '
        'in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS'
    )
    assert _lines(text, "-A INPUT") == [
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" '
        "-j KUBE-EXTERNAL-SERVICES",
    ]
    assert "KUBE-EXT-" not in text and "KUBE-SVL-" not in text
    # the 1.18 layout is the same on every node for ETP Cluster
    assert text == iptables_save(seed(), "node3")


def test_modern_layout_for_the_seed() -> None:
    text = iptables_save(_with(seed(), version="1.33"), "node1")
    svc, ext = "KUBE-SVC-WGW5ZPXP7HZEBG5V", "KUBE-EXT-WGW5ZPXP7HZEBG5V"
    assert _lines(text, "-A KUBE-NODEPORTS") == [
        f'-A KUBE-NODEPORTS -p tcp -m comment --comment "nginx-demo/service-nginx-demo" -m tcp --dport 31468 -j {ext}'
    ]
    assert _lines(text, f"-A {ext}") == [
        f'-A {ext} -m comment --comment "masquerade traffic for nginx-demo/service-nginx-demo external destinations" '
        "-j KUBE-MARK-MASQ",
        f"-A {ext} -j {svc}",
    ]
    assert _lines(text, f"-A {svc}") == [
        f'-A {svc} -m comment --comment "nginx-demo/service-nginx-demo -> 192.168.39.2:80" '
        "-m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-52F6FPBF74OF3YE3",
        f'-A {svc} -m comment --comment "nginx-demo/service-nginx-demo -> 192.168.49.70:80" '
        "-m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-KV7SCSDZAY55ZP2X",
        f'-A {svc} -m comment --comment "nginx-demo/service-nginx-demo -> 192.168.16.142:80" -j KUBE-SEP-VR4OYFUNC3INERCR',
    ]
    assert _lines(text, "-A KUBE-SEP-VR4OYFUNC3INERCR") == [
        '-A KUBE-SEP-VR4OYFUNC3INERCR -s 192.168.16.142/32 -m comment --comment "nginx-demo/service-nginx-demo" '
        "-j KUBE-MARK-MASQ",
        '-A KUBE-SEP-VR4OYFUNC3INERCR -p tcp -m comment --comment "nginx-demo/service-nginx-demo" -m tcp '
        "-j DNAT --to-destination 192.168.16.142:80",
    ]
    assert _lines(text, "-A KUBE-FORWARD")[-1] == (
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    )
    assert [line.split(" -j ")[-1] for line in _lines(text, "-A INPUT")] == [
        "KUBE-PROXY-FIREWALL", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES"
    ]  # fmt: skip
    assert "KUBE-MARK-DROP" not in text and "KUBE-XLB" not in text
    assert "KUBE-PROXY-FIREWALL" not in iptables_save(_with(seed(), version="1.24"), "node1")


def test_etp_local_118_with_and_without_local_endpoints() -> None:
    s = _with(seed(), etp="Local")
    xlb, svc = "KUBE-XLB-7D7VEXWNCKBQRZ7W", "KUBE-SVC-7D7VEXWNCKBQRZ7W"
    node1 = iptables_save(s, "node1")  # nginx-demo-1 (192.168.16.142) runs here
    assert _lines(node1, "-A KUBE-NODEPORTS") == [
        '-A KUBE-NODEPORTS -s 127.0.0.0/8 -p tcp -m comment --comment "nginx-demo/service-nginx-demo:" -m tcp '
        "--dport 31468 -j KUBE-MARK-MASQ",
        f'-A KUBE-NODEPORTS -p tcp -m comment --comment "nginx-demo/service-nginx-demo:" -m tcp --dport 31468 -j {xlb}',
    ]
    assert _lines(node1, f"-A {xlb}") == [
        f'-A {xlb} -m comment --comment "masquerade LOCAL traffic for nginx-demo/service-nginx-demo: LB IP" '
        "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
        f'-A {xlb} -m comment --comment "route LOCAL traffic for nginx-demo/service-nginx-demo: LB IP to service chain" '
        f"-m addrtype --src-type LOCAL -j {svc}",
        f'-A {xlb} -m comment --comment "Balancing rule 0 for nginx-demo/service-nginx-demo:" -j KUBE-SEP-GUSCEVX6QYQWNWTF',
    ]
    node2 = iptables_save(s, "node2")  # no nginx pod here
    assert _lines(node2, f"-A {xlb}")[-1] == (
        f'-A {xlb} -m comment --comment "nginx-demo/service-nginx-demo: has no local endpoints" -j KUBE-MARK-DROP'
    )
    node3 = iptables_save(s, "node3")  # two local endpoints: 1/2 then the rest
    assert [line.split(" -j ")[0].split("--comment ")[1] for line in _lines(node3, f"-A {xlb}")[2:]] == [
        '"Balancing rule 0 for nginx-demo/service-nginx-demo:" -m statistic --mode random --probability 0.50000000000',
        '"Balancing rule 1 for nginx-demo/service-nginx-demo:"',
    ]


def test_etp_local_modern_with_and_without_local_endpoints() -> None:
    s = _with(seed(), version="1.30", etp="Local", hc=32123)
    ext, svl, svc = "KUBE-EXT-WGW5ZPXP7HZEBG5V", "KUBE-SVL-WGW5ZPXP7HZEBG5V", "KUBE-SVC-WGW5ZPXP7HZEBG5V"
    node1 = iptables_save(s, "node1")
    assert _lines(node1, f"-A {ext}") == [
        f'-A {ext} -m comment --comment "masquerade LOCAL traffic for nginx-demo/service-nginx-demo external '
        'destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
        f'-A {ext} -m comment --comment "route LOCAL traffic for nginx-demo/service-nginx-demo external '
        f'destinations" -m addrtype --src-type LOCAL -j {svc}',
        f"-A {ext} -j {svl}",
    ]
    assert _lines(node1, f"-A {svl}") == [
        f'-A {svl} -m comment --comment "nginx-demo/service-nginx-demo -> 192.168.16.142:80" -j KUBE-SEP-VR4OYFUNC3INERCR'
    ]
    assert _lines(node1, "-A KUBE-NODEPORTS -p tcp -m comment --comment \"nginx-demo/service-nginx-demo health") == [
        '-A KUBE-NODEPORTS -p tcp -m comment --comment "nginx-demo/service-nginx-demo health check node port" '
        "-m tcp --dport 32123 -j ACCEPT"
    ]
    node2 = iptables_save(s, "node2")
    assert f":{svl} " not in node2
    assert _lines(node2, f"-A {ext}")[-1].endswith(f"-j {svc}")  # only the LOCAL-source short-circuit
    assert _lines(node2, "-A KUBE-EXTERNAL-SERVICES") == [
        '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "nginx-demo/service-nginx-demo has no local endpoints" '
        "-m addrtype --dst-type LOCAL -m tcp --dport 31468 -j DROP"
    ]
    # 1.24: still KUBE-MARK-DROP in the SVL chain (PR #110290 came in 1.25)
    n2_124 = iptables_save(_with(seed(), version="1.24", etp="Local"), "node2")
    assert _lines(n2_124, f"-A {svl}") == [
        f'-A {svl} -m comment --comment "nginx-demo/service-nginx-demo has no local endpoints" -j KUBE-MARK-DROP'
    ]
    assert _lines(n2_124, "-A KUBE-EXTERNAL-SERVICES") == []


def test_service_without_endpoints_is_rejected() -> None:
    s = seed()
    s = replace(s, services=(replace(s.services[0], endpoints=()),))
    for v, port_comment in (("1.18", "nginx-demo/service-nginx-demo: has no endpoints"),
                            ("1.33", "nginx-demo/service-nginx-demo has no endpoints")):  # fmt: skip
        text = iptables_save(_with(s, version=v), "node1")
        assert _lines(text, "-A KUBE-SERVICES -d 10.100.235.20/32")[0] == (
            f'-A KUBE-SERVICES -d 10.100.235.20/32 -p tcp -m comment --comment "{port_comment}" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable'
        )
        assert "KUBE-SVC-" not in text


def test_versions() -> None:
    assert parse_version("1.18") == (1, 18)
    assert parse_version("v1.28.3-eks-1") == (1, 28)
    assert layout_for("1.18").legacy and not layout_for("1.24").legacy
    for bad in ("1.21", "1.17", "2.0", "abc", ""):
        with pytest.raises(ScenarioError):
            layout_for(bad)
    with pytest.raises(ScenarioError, match="not modelled"):
        iptables_save(_with(seed(), version="1.22"), "node1")


def test_node_text_parses_and_round_trips_through_the_parser() -> None:
    s = seed()
    for v in ("1.18", "1.24", "1.33"):
        text = node_iptables(_with(s, version=v), "node1")
        rs = parser.parse(text, "node1")
        assert list(rs.tables) == ["mangle", "nat", "filter"]
        assert parser.dump(rs) == text
    text = node_iptables(s, "node1")
    assert _lines(text, "-A POSTROUTING") == [
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        '-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0',
    ]
    assert [line.split(" -j ")[-1] for line in _lines(text, "-A INPUT")] == [
        "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL"
    ]  # fmt: skip
    assert _lines(text, "-A KUBE-MARK-DROP") == ["-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000"]


# ----------------------------------------------------------------------------------- real kernel


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace")
    for tool in ("ip", "iptables-restore", "iptables-save"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    name = f"hp-test-{uuid.uuid4().hex[:10]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _tables(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("*"):
            current = line
            out[current] = []
        out[current].append(line)
    return out


@pytest.mark.parametrize("version", ["1.18", "1.24", "1.25", "1.28", "1.33"])
@pytest.mark.parametrize("etp", ["Cluster", "Local", "no endpoints"])
def test_real_iptables_accepts_and_saves_the_same_text(netns: str, tmp_path: object, version: str, etp: str) -> None:
    if etp == "no endpoints":  # REJECT rules: iptables-save adds --reject-with icmp-port-unreachable
        s = seed()
        s = _with(replace(s, services=(replace(s.services[0], endpoints=()),)), version=version)
    else:
        s = _with(seed(), version=version, etp=etp, hc=32123 if etp == "Local" else None)
    for node in s.nodes:
        text = node_iptables(s, node.name)
        path = f"{tmp_path}/{node.name}.rules"
        with open(path, "w") as f:
            f.write(text)
        test = subprocess.run(["ip", "netns", "exec", netns, "iptables-restore", "--test", path],
                              capture_output=True, text=True)  # fmt: skip
        assert test.returncode == 0, test.stderr
        subprocess.run(["ip", "netns", "exec", netns, "iptables-restore", path], check=True)
        saved = subprocess.run(["ip", "netns", "exec", netns, "iptables-save"], check=True, capture_output=True,
                               text=True).stdout  # fmt: skip
        ours, theirs = _tables(text), _tables(saved)
        for table, lines in ours.items():
            assert theirs.get(table) == lines, f"{node.name} {table}"


# ------------------------------------------------------------------ kube-proxy's jump-consistency check

VERSIONS = ("1.18", "1.24", "1.25", "1.28", "1.33")


def _variants(s: Scenario) -> dict[str, Scenario]:
    svc = s.services[0]
    sp = svc.ports[0]
    return {
        "as is": s,
        "etp local": replace(s, services=(replace(svc, external_traffic_policy="Local", health_check_node_port=32123),)),
        "no endpoints": replace(s, services=(replace(svc, endpoints=()),)),
        "local, no endpoints": replace(s, services=(replace(svc, endpoints=(), external_traffic_policy="Local"),)),
        "cluster ip": replace(s, services=(replace(svc, type="ClusterIP", ports=(replace(sp, node_port=None),)),)),
        "nodeport without nodePort": replace(s, services=(replace(svc, type="NodePort", ports=(replace(sp, node_port=None),)),)),
    }  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
def test_every_generated_dump_passes_kube_proxys_jump_check(version: str) -> None:
    """checkIPTablesRuleJumps (pkg/proxy/iptables/proxier_test.go) on every node's whole dump, for the
    seed and the examples, in every variant above."""
    import glob

    scenarios = [seed()] + [load(p) for p in sorted(glob.glob("examples/*.yaml"))]
    checked = 0
    for base in scenarios:
        if base.kube_proxy.mode != "iptables":
            continue
        for name, s in _variants(_with(base, version=version)).items():
            for node in s.nodes:
                try:
                    # kube-proxy 1.18 declared a Local Service's KUBE-XLB chain even without endpoints,
                    # when nothing jumps to it (its proxier.go; the check came with the 1.2x tests)
                    check_jumps(node_iptables(s, node.name), frozenset({"KUBE-XLB-"} if version == "1.18" else ()))
                except AssertionError as e:
                    raise AssertionError(f"{base.name} / {name} / {node.name}: {e}") from None
                checked += 1
    assert checked >= 5 * 6 * 3


def test_jump_check_flags_what_kube_proxys_check_flags() -> None:
    """The cases of kube-proxy's TestCheckIPTablesRuleJumps (pkg/proxy/iptables/proxier_test.go)."""
    ok = "*nat\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n" \
         "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n-A KUBE-SERVICES -j KUBE-SVC-X\n-A KUBE-SVC-X -j KUBE-MARK-MASQ\nCOMMIT\n"
    check_jumps(ok)
    with pytest.raises(AssertionError, match=r"used but were not created: \['KUBE-SVC-X'\]"):
        check_jumps("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-X\nCOMMIT\n")
    with pytest.raises(AssertionError, match=r"jumped to but have no rules: \['KUBE-SVC-X'\]"):
        check_jumps("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-X\nCOMMIT\n")
    with pytest.raises(AssertionError, match=r"created but not used: \['KUBE-SVC-X'\]"):
        check_jumps("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n-A KUBE-SVC-X -j DROP\nCOMMIT\n")


def test_nodeport_type_port_without_a_node_port_gets_no_external_chain() -> None:
    """kube-proxy writes KUBE-EXT only for an externally accessible port (ExternallyAccessible():
    nodePort, load-balancer VIPs or externalIPs); TestOverallIPTablesRules' svc4 is a NodePort-type
    Service without a nodePort whose KUBE-EXT exists because of its external IP."""
    s = _variants(_with(seed(), version="1.33"))["nodeport without nodePort"]
    text = node_iptables(s, "node1")
    assert "KUBE-EXT-" not in text and "KUBE-NODEPORTS -p tcp" not in text
    assert _lines(text, "-A KUBE-SERVICES -d 10.100.235.20/32") == [
        '-A KUBE-SERVICES -d 10.100.235.20/32 -p tcp -m comment --comment "nginx-demo/service-nginx-demo cluster IP" '
        "-m tcp --dport 80 -j KUBE-SVC-WGW5ZPXP7HZEBG5V"
    ]
    with_ip = replace(s, services=(replace(s.services[0], external_ips=("192.168.99.33",)),))
    assert _lines(node_iptables(with_ip, "node1"), "-A KUBE-EXT-") == [
        '-A KUBE-EXT-WGW5ZPXP7HZEBG5V -m comment --comment "masquerade traffic for nginx-demo/service-nginx-demo '
        'external destinations" -j KUBE-MARK-MASQ',
        "-A KUBE-EXT-WGW5ZPXP7HZEBG5V -j KUBE-SVC-WGW5ZPXP7HZEBG5V",
    ]


def test_versions_newer_than_the_newest_checked_get_a_note() -> None:
    """kube-proxy newer than the newest release whose own tests checked hairpin's rules (per mode): a line saying so
    (the rules are taken to be that release's; the commands print it as a warning), not silence."""
    from hairpin.kube.layout import NEWEST_CHECKED, unchecked

    assert NEWEST_CHECKED == {"iptables": 36, "nftables": 36, "ipvs": 33}
    assert unchecked("iptables", "1.36") is None and unchecked("nftables", "v1.36.2-eks-1") is None
    assert unchecked("ipvs", "1.33") is None and unchecked("iptables", "1.18") is None
    assert unchecked("iptables", "1.37") == (
        "kube-proxy 1.37 (iptables mode) is newer than the newest release hairpin's rules were checked against "
        "(1.36); its rules are taken to be 1.36's")
    assert unchecked("ipvs", "1.34") == (
        "kube-proxy 1.34 (ipvs mode) is newer than the newest release hairpin's rules were checked against "
        "(1.33); its rules are taken to be 1.33's")


def test_reproduce_says_so_on_stderr(tmp_path: Path) -> None:
    import sys

    import yaml

    from hairpin import scenario as scen

    doc = yaml.safe_load(Path(scen.__file__).with_name("scenarios").joinpath("seed.yaml").read_text())
    doc["kube_proxy"]["version"] = "1.37"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "reproduce", "--scenario", str(path), "--connections", "5",
                        "--no-fixes", "--format", "json"], capture_output=True, text=True, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "hairpin: warning: kube-proxy 1.37 (iptables mode) is newer than the newest release hairpin's rules were "
        "checked against (1.36); its rules are taken to be 1.36's"]
