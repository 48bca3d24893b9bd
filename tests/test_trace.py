"""The tracer on node state: every outcome with its exact probability, the reply, the asymmetric return;
on files generated from the seed, on a real kernel's own dumps, and through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from fractions import Fraction
from pathlib import Path

import pytest

from hairpin import trace as tr
from hairpin.backends.sim import _routing
from hairpin.kube import node_iptables
from hairpin.parsers.iproute import routing_files
from hairpin.scenario import seed
from hairpin.topology import build

DATA = Path(__file__).parent / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
THIRD = Fraction(715827883, 2**31)  # lround(0.33333333349 * 2^31) / 2^31, as xt_statistic keeps it


def node1() -> tr.Node:
    f = tr.Node.find(DATA)
    return tr.Node.load(f["iptables"], f["routes"], f.get("rules"), f.get("addrs"), name="node1")


def generated_node(tmp: Path, name: str) -> tr.Node:
    s = seed()
    ns = next(n for n in build(s).namespaces if n.name == name)
    (tmp / "iptables-save").write_text(node_iptables(s, name))
    for k, v in routing_files(_routing(ns)).items():
        (tmp / k).write_text(v)
    return tr.Node.load(tmp / "iptables-save", tmp / "ip-route", tmp / "ip-rule", tmp / "ip-addr", name=name)


def test_committed_node1_rules_are_the_generators() -> None:
    assert (DATA / "iptables-save").read_text() == node_iptables(seed(), "node1")


def check_seed_node1(t: tr.Trace, backends_line: dict[str, int] | None = None) -> None:
    assert [o.probability for o in t.outcomes] == [THIRD, (1 - THIRD) / 2, (1 - THIRD) / 2]
    assert sum(o.probability for o in t.outcomes) == 1
    dnat = [o.legs[0].out_packet for o in t.outcomes]
    assert [str(p.dest) for p in dnat if p] == ["192.168.39.2:80", "192.168.49.70:80", "192.168.16.142:80"]
    assert all(p is not None and p.source.ip == "192.168.2.3" for p in dnat)  # MASQUERADE to the node's address
    assert [o.legs[0].oif for o in t.outcomes] == ["eth0", "eth0", "eni851d8a400b6"]
    for o in t.outcomes:
        req, rep = o.legs
        chains = [s.chain for s in req.steps]
        assert chains[:3] == ["PREROUTING", "PREROUTING", "KUBE-SERVICES"] and "KUBE-MARK-MASQ" in chains
        assert any(s.effect.startswith("MASQUERADE") for s in req.steps)
        assert rep.kind == "forward" and rep.oif == "enie348bef9edc"
        assert (
            rep.out_packet is not None and str(rep.out_packet) == "tcp 192.168.2.3:31468 > 192.168.27.239:49134 SYN,ACK"
        )
        assert o.asymmetric is not None and o.asymmetric.startswith(
            "the request came in on eth0 but its reply leaves on enie348bef9edc"
        )
        assert o.undecided == []
    if backends_line is not None:
        stats = [s for s in t.outcomes[0].legs[0].steps if "statistic" in s.text]
        assert [(s.chain, s.line) for s in stats] == [("KUBE-SVC-7D7VEXWNCKBQRZ7W", backends_line["svc"])]


def test_seed_node1_branches_three_ways_and_every_reply_returns_asymmetrically() -> None:
    packet, iif = tr.parse_packet(SYN)
    t = tr.trace(node1(), packet, iif, reply=True)
    check_seed_node1(t, {"svc": 52})
    assert t.outcomes[0].choices[0].startswith("line 52 matched (p=715827883/2147483648): -A KUBE-SVC-7D7VEXWNCKBQRZ7W")


def test_without_reply_only_the_request_is_followed() -> None:
    packet, iif = tr.parse_packet(SYN)
    t = tr.trace(node1(), packet, iif)
    assert [len(o.legs) for o in t.outcomes] == [1, 1, 1] and all(o.asymmetric is None for o in t.outcomes)


def test_a_node_without_the_client_returns_symmetrically(tmp_path: Path) -> None:
    n = generated_node(tmp_path, "node2")
    packet, iif = tr.parse_packet("tcp 192.168.27.239:49134 > 192.168.21.86:31468 syn in eth0")
    t = tr.trace(n, packet, iif, reply=True)
    assert len(t.outcomes) == 3
    for o in t.outcomes:
        assert o.legs[0].oif == "eth0" and o.legs[1].oif == "eth0" and o.asymmetric is None
        assert str(o.legs[1].out_packet) == "tcp 192.168.21.86:31468 > 192.168.27.239:49134 SYN,ACK"


def test_unknown_match_is_named_with_its_line(tmp_path: Path) -> None:
    rules = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A FORWARD -m length --length 100:200 -j ACCEPT\nCOMMIT\n")  # fmt: skip
    (tmp_path / "ipt").write_text(rules)
    (tmp_path / "routes").write_text("default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2\n"
                                     "10.1.0.0/24 dev eth1 proto kernel scope link src 10.1.0.1\n"
                                     "local 10.0.0.2 dev eth0 table local proto kernel scope host src 10.0.0.2\n"
                                     "local 10.1.0.1 dev eth1 table local proto kernel scope host src 10.1.0.1\n")  # fmt: skip
    n = tr.Node.load(tmp_path / "ipt", tmp_path / "routes")
    packet, iif = tr.parse_packet("tcp 10.1.0.5:5000 > 8.8.8.8:53 syn in eth1")
    (o,) = tr.trace(n, packet, iif).outcomes
    assert o.legs[0].kind == "drop" and o.legs[0].verdict.startswith("dropped in filter FORWARD")
    assert len(o.undecided) == 1 and o.undecided[0].startswith("line 5 (filter FORWARD): -m length")


@pytest.mark.parametrize(("text", "message"), [
    ("tcp 1.2.3.4:5 > 6.7.8.9:10 syn", "say where it enters"),
    ("tcp 1.2.3.4 > 6.7.8.9:10 in eth0", "expected 'tcp SRC:PORT > DST:PORT"),
    ("tcp 1.2.3.4:5 > 6.7.8.9:10 syx in eth0", "unknown TCP flag 'syx'"),
    ("tcp fd00::1.1234 > fd00::2.80 in eth0", "write an IPv6 endpoint in brackets"),  # (tcpdump's spelling)
    ("tcp [::1]:5 > 6.7.8.9:10 out", "one IPv4 and one IPv6 endpoint"),
    ("tcp 1.2.3.4:5 > 6.7.8.9:10:11 in eth0", "expected 'tcp SRC:PORT > DST:PORT"),
])  # fmt: skip
def test_bad_packets(text: str, message: str) -> None:
    with pytest.raises(tr.InputError) as e:
        tr.parse_packet(text)
    assert message in str(e.value)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_an_ipv6_packet_on_an_ipv4_node_is_one_line_and_exit_2(tmp_path: Path) -> None:
    res = run_cli("--node", str(DATA), "tcp [fd00::1]:1234 > [fd00::2]:80 syn in eth0")
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == (f"hairpin: error: {DATA}: no IPv6 iptables file (looked for ip6tables-save, ip6tables-save.txt, "
                          "ip6tables.txt and read every file's content)\n")  # fmt: skip
    res = run_cli("--iptables-save", str(DATA / "iptables-save"), "--routes", str(DATA / "ip-route"),
                  "tcp [fd00::1]:1234 > [fd00::2]:80 syn in eth0", "tcp 10.0.0.1:1 > 10.0.0.2:2 in eth0")  # fmt: skip
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == ("hairpin: error: IPv4 and IPv6 packets in one run need --node DIR holding both families' "
                          "files (iptables-save and ip6tables-save, ip -4 and ip -6 routes); else trace each family on "
                          "its own\n")  # fmt: skip


def test_cli_json_svg_html(tmp_path: Path) -> None:
    res = run_cli("--node", str(DATA), "--reply", "--format", "json", "--svg", str(tmp_path / "t.svg"),
                  "--html", str(tmp_path / "t.html"), SYN)  # fmt: skip
    assert res.returncode == 1, res.stderr  # an asymmetric return is a finding
    assert res.stderr == f"wrote {tmp_path / 't.svg'}\nwrote {tmp_path / 't.html'}\n"
    doc = json.loads(res.stdout)
    assert [o["probability"] for o in doc["outcomes"]] == ["715827883/2147483648", "1431655765/4294967296",
                                                           "1431655765/4294967296"]  # fmt: skip
    assert doc["total_probability"] == "1"
    hop = doc["outcomes"][0]["legs"][1]["hops"][0]
    assert set(hop) == {"t", "at", "src", "dst", "flags", "action"} and hop["flags"] == ["SYN", "ACK"]
    assert (tmp_path / "t.svg").read_text().startswith("<svg")
    page = (tmp_path / "t.html").read_text()
    assert page.count('class="bad asymmetric"') == 3 and "<script" not in page


def test_cli_bad_file_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "ipt"
    bad.write_text("*nat\n-A PREROUTING -j\nCOMMIT\n")
    res = run_cli("--iptables-save", str(bad), "--routes", str(DATA / "ip-route"), SYN)
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hairpin: error: {bad}:2: ")


needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("iptables-restore") is None,
                                reason="needs root and iptables to build a real namespace")  # fmt: skip


@needs_root
def test_dumps_read_off_a_real_kernel(tmp_path: Path) -> None:
    """Load node1's rules and routes into a fresh namespace, dump them with the real tools, trace the dumps."""
    ns = f"hptr-{uuid.uuid4().hex[:8]}"
    sh = lambda *a: subprocess.run(["ip", "netns", "exec", ns, *a], capture_output=True, text=True, check=True)  # noqa: E731
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for i, dev in enumerate(("eth0", "enie348bef9edc", "eni851d8a400b6")):  # veth pairs: no dummy module here
            sh("ip", "link", "add", dev, "type", "veth", "peer", "name", f"peer{i}")
            sh("ip", "link", "set", dev, "up")
            sh("ip", "link", "set", f"peer{i}", "up")
        sh("ip", "link", "set", "lo", "up")
        sh("ip", "addr", "add", "192.168.2.3/19", "dev", "eth0")
        sh("ip", "route", "add", "default", "via", "192.168.0.1", "dev", "eth0")
        sh("ip", "route", "add", "192.168.27.239", "dev", "enie348bef9edc", "scope", "link")
        sh("ip", "route", "add", "192.168.16.142", "dev", "eni851d8a400b6", "scope", "link")
        sh("ip", "rule", "add", "to", "192.168.27.239", "lookup", "main", "prio", "512")
        sh("ip", "rule", "add", "to", "192.168.16.142", "lookup", "main", "prio", "512")
        sh("ip", "rule", "add", "fwmark", "0x80/0x80", "lookup", "main", "prio", "1024")
        subprocess.run(["ip", "netns", "exec", ns, "iptables-restore"], input=node_iptables(seed(), "node1"),
                       text=True, check=True, capture_output=True)  # fmt: skip
        for name, cmd in (("iptables-save", ["iptables-save"]), ("ip-route", ["ip", "-4", "route", "show", "table", "all"]),
                          ("ip-rule", ["ip", "rule"]), ("ip-addr", ["ip", "-4", "-o", "addr"])):  # fmt: skip
            (tmp_path / name).write_text(sh(*cmd).stdout)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    f = tr.Node.find(tmp_path)
    n = tr.Node.load(f["iptables"], f["routes"], f.get("rules"), f.get("addrs"), name="node1")
    packet, iif = tr.parse_packet(SYN)
    check_seed_node1(tr.trace(n, packet, iif, reply=True))


CALICO_NAT = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:cali-POSTROUTING - [0:0]
:cali-nat-outgoing - [0:0]
-A POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING
-A cali-POSTROUTING -m comment --comment "cali:Z-c7XtVd2Bq7s_hA" -j cali-nat-outgoing
-A cali-nat-outgoing -m comment --comment "cali:flqWnvo8yq4ULQLa" -m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully
COMMIT
"""
CALICO_SETS = """create cali40masq-ipam-pools hash:net family inet hashsize 1024 maxelem 1048576
add cali40masq-ipam-pools 10.244.0.0/16
create cali40all-ipam-pools hash:net family inet hashsize 1024 maxelem 1048576
add cali40all-ipam-pools 10.244.0.0/16
"""
ROUTES = ("default via 192.168.0.1 dev eth0\n192.168.0.0/19 dev eth0 proto kernel scope link src 192.168.2.3\n"
          "10.244.1.7 dev cali1234 scope link\n"
          "local 192.168.2.3 dev eth0 table local proto kernel scope host src 192.168.2.3\n")  # fmt: skip


def test_calico_overlay_pod_to_the_vip_is_masqueraded_to_the_node(tmp_path: Path) -> None:
    """Calico's natOutgoing: a pod (10.244.0.0/16 pool, not VPC-routable) calling the NLB leaves SNATed to
    the node's address, so the NLB sees a node caller (issue 9's SNATed pod callers)."""
    (tmp_path / "iptables-save").write_text(CALICO_NAT)
    (tmp_path / "ip-route").write_text(ROUTES)
    (tmp_path / "ipset-save").write_text(CALICO_SETS)
    f = tr.Node.find(tmp_path)
    n = tr.Node.load(f["iptables"], f["routes"], name="calico-node", ipset_file=f["ipset"])
    packet, iif = tr.parse_packet("tcp 10.244.1.7:40000 > 192.168.168.103:80 syn in cali1234")
    (o,) = tr.trace(n, packet, iif).outcomes
    assert o.legs[0].oif == "eth0" and o.undecided == []
    assert o.legs[0].out_packet is not None and o.legs[0].out_packet.source.ip == "192.168.2.3"
    assert [(s.chain, s.line) for s in o.legs[0].steps][-1] == ("cali-nat-outgoing", 10)
    # pod to pod inside the pool (another node's pod, out eth0): not masqueraded
    packet, iif = tr.parse_packet("tcp 10.244.1.7:40000 > 10.244.2.9:80 syn in cali1234")
    (o,) = tr.trace(n, packet, iif).outcomes
    assert o.legs[0].oif == "eth0" and str(o.legs[0].out_packet) == "tcp 10.244.1.7:40000 > 10.244.2.9:80 SYN"
    assert all(not s.effect.startswith("MASQUERADE") for s in o.legs[0].steps)


def test_set_match_without_the_ipset_file_is_undecided(tmp_path: Path) -> None:
    (tmp_path / "iptables-save").write_text(CALICO_NAT)
    (tmp_path / "ip-route").write_text(ROUTES)
    n = tr.Node.load(tmp_path / "iptables-save", tmp_path / "ip-route")
    packet, iif = tr.parse_packet("tcp 10.244.1.7:40000 > 192.168.168.103:80 syn in cali1234")
    (o,) = tr.trace(n, packet, iif).outcomes
    assert o.legs[0].out_packet is not None and o.legs[0].out_packet.source.ip == "10.244.1.7"
    assert len(o.undecided) == 1 and o.undecided[0].startswith("line 10 (nat cali-nat-outgoing): -m set")


CILIUM = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CILIUM_PRE_mangle - [0:0]
-A PREROUTING -m comment --comment "cilium-feeder: CILIUM_PRE_mangle" -j CILIUM_PRE_mangle
-A CILIUM_PRE_mangle ! -o lo -m socket --transparent -m comment --comment "cilium: any->pod redirect proxied traffic to host proxy" -j MARK --set-xmark 0x200/0xffffffff
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CILIUM_POST_nat - [0:0]
-A POSTROUTING -m comment --comment "cilium-feeder: CILIUM_POST_nat" -j CILIUM_POST_nat
-A CILIUM_POST_nat -s 10.0.0.0/8 ! -d 10.0.0.0/8 ! -o cilium_+ -m comment --comment "cilium masquerade non-cluster" -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:CILIUM_FORWARD - [0:0]
-A FORWARD -m comment --comment "cilium-feeder: CILIUM_FORWARD" -j CILIUM_FORWARD
-A CILIUM_FORWARD -o cilium_host -m comment --comment "cilium: any->cluster on cilium_host forward accept" -j ACCEPT
-A CILIUM_FORWARD -i cilium_host -m comment --comment "cilium: cluster->any on cilium_host forward accept (nodeport)" -j ACCEPT
-A CILIUM_FORWARD -i lxc+ -m comment --comment "cilium: cluster->any on lxc+ forward accept" -j ACCEPT
COMMIT
"""


def test_cilium_iptables_mode_masquerades_a_pod_calling_the_vip(tmp_path: Path) -> None:
    """Cilium (iptables masquerading): a pod on lxc+ calling the NLB leaves SNATed to the node; the proxy
    redirect rule's -m socket cannot be decided from a dump and is named."""
    (tmp_path / "iptables-save").write_text(CILIUM)
    (tmp_path / "ip-route").write_text(ROUTES.replace("10.244.1.7 dev cali1234", "10.0.1.7 dev lxc1234"))
    n = tr.Node.load(tmp_path / "iptables-save", tmp_path / "ip-route")
    packet, iif = tr.parse_packet("tcp 10.0.1.7:40000 > 192.168.168.103:80 syn in lxc1234")
    (o,) = tr.trace(n, packet, iif).outcomes
    assert str(o.legs[0].out_packet) == "tcp 192.168.2.3:40000 > 192.168.168.103:80 SYN" and o.legs[0].oif == "eth0"
    assert [(s.chain, s.line) for s in o.legs[0].steps] == [
        ("PREROUTING", 8), ("CILIUM_PRE_mangle", 9), ("FORWARD", 25), ("CILIUM_FORWARD", 28), ("POSTROUTING", 17),
        ("CILIUM_POST_nat", 18)]  # fmt: skip
    assert o.undecided == ["line 9 (mangle CILIUM_PRE_mangle): -m socket; taken as not matching"]


def test_kube_proxy_1_24_layout_traces_the_same_outcomes(tmp_path: Path) -> None:
    from dataclasses import replace

    s = seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, version="1.28"))
    ns = next(n for n in build(s).namespaces if n.name == "node1")
    text = node_iptables(s, "node1")
    assert "KUBE-EXT-WGW5ZPXP7HZEBG5V" in text  # the 1.24+ layout
    (tmp_path / "iptables-save").write_text(text)
    for k, v in routing_files(_routing(ns)).items():
        (tmp_path / k).write_text(v)
    n = tr.Node.load(tmp_path / "iptables-save", tmp_path / "ip-route", tmp_path / "ip-rule", tmp_path / "ip-addr")
    packet, iif = tr.parse_packet(SYN)
    t = tr.trace(n, packet, iif, reply=True)
    check_seed_node1(t)
    assert "KUBE-EXT-WGW5ZPXP7HZEBG5V" in [s.chain for s in t.outcomes[0].legs[0].steps]


@pytest.mark.parametrize("width", [80, 60])
def test_on_a_narrow_terminal_every_line_wraps_under_its_indentation_and_nothing_is_cut(width: int) -> None:
    """A terminal of 80 (or 60) columns: no line is wider, the words are the plain text's words in order (a rule,
    a conntrack entry or where the packet goes is never cut at the edge), and a wrapped line's continuation
    starts at the line's own indentation."""
    import io

    from rich.console import Console

    t = tr.trace(node1(), *tr.parse_packet("tcp 192.168.27.239:40146 > 192.168.2.3:31468 in eth0"), reply=True)
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=True, color_system=None).print(t)
    shown = [ln.rstrip() for ln in buf.getvalue().splitlines()]
    assert max(map(len, shown)) <= width
    # every character in order (a word longer than the width, such as the checkout's path, is folded)
    assert "".join("".join(shown).split()) == "".join(t.text().split())
    assert shown.count("") == t.text().splitlines().count("")  # the blank lines between outcomes stay
    final = "=> forwarded out eni851d8a400b6 as tcp 192.168.2.3:56364 > 192.168.16.142:80"
    i = next(i for i, ln in enumerate(shown) if ln.strip().startswith(final[:40]))
    assert shown[i].startswith("    =>") and shown[i + 1].startswith("    ") and not shown[i + 1].startswith("     ")
