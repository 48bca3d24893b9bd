"""``hairpin trace`` of IPv6 packets end to end: the seed's node as an IPv6 EKS node (files read off a real kernel),
both families' files in one directory, and the one-line refusals where the files and the packet disagree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from hairpin import trace as tr

DATA = Path(__file__).parent / "data" / "trace"
V6 = DATA / "seed-node1-v6"
SYN6 = "tcp [2600:1f14:a:0:8a23::5]:49134 > [2600:1f14:a::23]:31468 syn in eth0"
SYN4 = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_the_seeds_failure_on_an_ipv6_node() -> None:
    """The client pod's SYN, delivered by the NLB with its IPv6 address kept, to this node's NodePort: whichever
    endpoint kube-proxy picks, the SYN-ACK is de-NATed to the pod and leaves by the pod's veth (the /128 route),
    not back out eth0: the seed's failure, over IPv6."""
    node = tr.Node.load(V6 / "ip6tables-save", V6 / "ip6-route", V6 / "ip6-rule", V6 / "ip-addr", family=6)
    assert node.family == 6
    p, iif = tr.parse_packet(SYN6)
    t = tr.trace(node, p, iif, reply=True)
    assert [o.probability for o in t.outcomes] == [Fraction(715827883, 2147483648), Fraction(1431655765, 4294967296),
                                                   Fraction(1431655765, 4294967296)]  # fmt: skip
    assert sum(o.probability for o in t.outcomes) == 1
    backends = ["2600:1f14:a:0:8b11::4", "2600:1f14:a:0:8c47::7", "2600:1f14:a:0:8a23::9"]
    for o, backend in zip(t.outcomes, backends, strict=True):
        req, rep = o.legs
        assert req.kind == "forward" and req.out_packet is not None
        assert str(req.out_packet).startswith("tcp [2600:1f14:a::23]:") and str(req.out_packet).endswith(
            f" > [{backend}]:80 SYN")  # MASQUERADE: the node's global address (ipv6_dev_get_saddr), not fe80::
        assert req.oif == ("eni851d8a400b6" if backend.endswith("8a23::9") else "eth0")
        assert rep.kind == "forward" and rep.oif == "enie348bef9edc"
        assert str(rep.out_packet) == "tcp [2600:1f14:a::23]:31468 > [2600:1f14:a:0:8a23::5]:49134 SYN,ACK"
        assert o.asymmetric is not None
    assert t.warnings == []


def test_the_cli_says_it_and_exits_1() -> None:
    res = run_cli("--node", str(V6), "--reply", SYN6)
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == ("hairpin trace: 3 of 3 outcome(s) of this packet (100.0% of its probability) return "
                        "asymmetrically: the reply leaves the node by another way than the request came, the seed's "
                        "failure")  # fmt: skip
    assert lines[2:6] == [f"read iptables: {V6}/ip6tables-save: ip6tables-save (nf_tables)",
                          f"read routes: {V6}/ip6-route: ip route", f"read rules: {V6}/ip6-rule: ip rule",
                          f"read addrs: {V6}/ip-addr: ip addr"]  # fmt: skip
    assert ("    SYN-ACK from the backend [2600:1f14:a:0:8a23::9]:80, arriving on eni851d8a400b6" in lines)


def test_both_families_in_one_directory(tmp_path: Path) -> None:
    """A node directory as ``hairpin collect`` writes it on a dual-stack node: each packet is traced through its
    own family's files (iptables-save and ip-route for IPv4, ip6tables-save and ip6-route for IPv6)."""
    for f in (DATA / "seed-node1").iterdir():
        shutil.copy(f, tmp_path / f.name)
    for name in ("ip6tables-save", "ip6-route", "ip6-rule"):
        shutil.copy(V6 / name, tmp_path / name)
    res = run_cli("--node", str(tmp_path), "--reply", SYN4, SYN6)
    assert res.returncode == 1, res.stderr
    assert f"read iptables: {tmp_path}/iptables-save: iptables-save" in res.stdout
    assert f"read iptables: {tmp_path}/ip6tables-save: ip6tables-save (nf_tables)" in res.stdout
    assert ("forwarded out enie348bef9edc as tcp 192.168.2.3:31468 > 192.168.27.239:49134 SYN,ACK" in res.stdout)
    assert ("forwarded out enie348bef9edc as tcp [2600:1f14:a::23]:31468 > [2600:1f14:a:0:8a23::5]:49134 SYN,ACK"
            in res.stdout)  # fmt: skip


def test_an_ipv6_packet_through_ipv4_files_is_one_line() -> None:
    seed = DATA / "seed-node1"
    res = run_cli("--iptables-save", str(seed / "iptables-save"), "--routes", str(seed / "ip-route"), SYN6)
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr.startswith(f"hairpin: error: {seed}/iptables-save:")
    assert res.stderr.count("\n") == 1 and "ip6tables-save" in res.stderr


def test_an_ipv4_packet_through_ipv6_files_is_one_line() -> None:
    res = run_cli("--iptables-save", str(V6 / "ip6tables-save"), "--routes", str(V6 / "ip6-route"), SYN4)
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr.startswith(f"hairpin: error: {V6}/ip6tables-save:")
    assert res.stderr.count("\n") == 1


def test_reject_answers_icmpv6(tmp_path: Path) -> None:
    (tmp_path / "ip6tables-save").write_text("# Generated by ip6tables-save v1.8.9 (nf_tables)\n*filter\n"
                                             ":INPUT ACCEPT [0:0]\n-A INPUT -p udp -j REJECT --reject-with "
                                             "icmp6-adm-prohibited\n-A INPUT -j REJECT\nCOMMIT\n")  # fmt: skip
    node = tr.Node.load(tmp_path / "ip6tables-save", V6 / "ip6-route", family=6)
    said = []
    for proto in ("udp", "tcp"):
        p, iif = tr.parse_packet(f"{proto} [2600:1f14:a:0:8a23::5]:5 > [2600:1f14:a::23]:53 in eth0")
        (o,) = tr.trace(node, p, iif, reply=True).outcomes
        said.append(o.legs[1].verdict)
    assert said == [
        "REJECT (line 4) answers ICMPv6 destination unreachable (type 1) code 1, administratively prohibited "
        "(icmp6-adm-prohibited) to 2600:1f14:a:0:8a23::5, not traced further",
        "REJECT (line 5) answers ICMPv6 destination unreachable (type 1) code 4, port unreachable "
        "(icmp6-port-unreachable) to 2600:1f14:a:0:8a23::5, not traced further"]  # fmt: skip


def test_both_ip6tables_backends_in_one_directory(tmp_path: Path) -> None:
    """ip6tables-nft-save's and ip6tables-legacy-save's dumps (as collect saves them) are each traced on their own
    hooks, as for IPv4: every order of the tables both backends hold rules at is tried."""
    shutil.copy(DATA / "ip6tables" / "ip6tables-nft-save-beside-legacy", tmp_path / "ip6tables-save")
    shutil.copy(DATA / "ip6tables" / "ip6tables-legacy-save", tmp_path / "ip6tables-legacy-save")
    shutil.copy(V6 / "ip6-route", tmp_path / "ip6-route")
    res = run_cli("--node", str(tmp_path), "tcp [fd00::9]:1 > [2600:1f14:a::23]:80 syn in eth0")
    assert res.returncode == 0, res.stderr
    assert (f"read iptables: {tmp_path}/ip6tables-save: ip6tables-save (nf_tables); iptables-legacy: "
            f"{tmp_path}/ip6tables-legacy-save: ip6tables-save (legacy)") in res.stdout  # fmt: skip
    assert "every order (4) gives the same outcomes" in res.stdout


@pytest.mark.parametrize("iif", ["eth0", "eni1"])
def test_an_answer_to_a_link_local_peer_leaves_by_the_device_the_request_came_in_on(tmp_path: Path, iif: str) -> None:
    """v6-node1 has fe80::/64 on eth0 and on eni1: the node's SYN-ACK to fe80::5 keeps to the SYN's input device
    (net/ipv6/tcp_ipv6.c tcp_v6_init_req: the request socket is bound to it for a link-local peer), not the first
    fe80::/64 route of the table."""
    (tmp_path / "ip6tables-save").write_text("# Generated by ip6tables-save v1.8.9\n*filter\n:INPUT ACCEPT [0:0]\n"
                                             ":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n")  # fmt: skip
    v6 = DATA / "v6-node1"
    node = tr.Node.load(tmp_path / "ip6tables-save", v6 / "ip-6-route", v6 / "ip-6-rule", v6 / "ip-6-o-addr", family=6)
    (o,) = tr.trace(node, *tr.parse_packet(f"tcp [fe80::5]:40000 > [fd00:6::1]:80 syn in {iif}"), reply=True).outcomes
    assert [leg.verdict for leg in o.legs] == [
        "delivered locally as tcp [fe80::5]:40000 > [fd00:6::1]:80 SYN",
        f"forwarded out {iif} as tcp [fd00:6::1]:80 > [fe80::5]:40000 SYN,ACK (table main: fe80::/64 dev {iif})",
    ]
