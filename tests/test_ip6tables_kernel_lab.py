"""The kernel as the oracle for hairpin's evaluation of ip6tables' matches: one network namespace whose filter
OUTPUT chain sends its datagrams to a chain of rules with no target (each counts the packets it matches and lets them go on), one UDP
datagram sent from a socket in it at a time, and the rule counters ``ip6tables-save -c`` reads back after each
must be the rules hairpin says the packet matched.  Root, ip6tables-nft and iproute2 needed; skipped otherwise."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid

import pytest

from hairpin.model.net import V6, Packet, addr_int
from hairpin.netfilter.evaluate import Context, Evaluator
from hairpin.parsers import forms, iptables_check

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not all(shutil.which(x) for x in ("ip", "ip6tables-nft-restore",
                                                                                        "ip6tables-nft-save")),
                                reason="needs root, iproute2 and ip6tables-nft")  # fmt: skip

NODE = "fd00::100"
MATCHES = [
    "-d fd00::100/128", "-d fd00::/64", "! -d fd00::/64", "-s fd00::100/128", "-d ::1/128", "-d fd01::/ffff:ffff::",
    "-m iprange --dst-range fd00::1-fd00::ff", "-m iprange ! --src-range fd00::1-fd00::ff",
    "-m addrtype --dst-type LOCAL", "-m addrtype --dst-type UNICAST", "-m addrtype --dst-type LOCAL,UNICAST",
    "-m addrtype --src-type LOCAL", "-m addrtype ! --dst-type LOCAL", "-m addrtype --dst-type MULTICAST",
    "-m addrtype --dst-type LOCAL --limit-iface-out", "-m addrtype --dst-type UNSPEC",
    "-m ipv6header --header ipv6-frag --soft", "-m ipv6header --header prot", "-m ipv6header ! --header prot",
    "-m ipv6header ! --header hop-by-hop,ipv6-frag --soft", "-m frag --fragid 0:4294967295", "-m hbh",
    "-m rt --rt-type 0", "-m dst", "-m ah --ahspi 0:4294967295",
    "-p udp", "-p ipv6-frag", "! -p ipv6-frag", "-p ipv6-icmp", "-p udp -m udp --dport 5000",
    "-p udp -m multiport --dports 1,5000", "-o lo", "-o veth0",
    "-m conntrack --ctstate NEW", "-m conntrack --ctorigdst fd00::/64", "-m pkttype --pkt-type unicast",
    "-m pkttype --pkt-type multicast", "-m addrtype --src-type UNICAST", "-d ff00::/8",
]  # fmt: skip
#: (destination, output device)
SENDS = [("fd00::100", "lo"), ("::1", "lo"), ("fd00::5", "veth0"), ("fd00::1ff", "veth0"), ("fd01::7", "veth0"),
         ("ff02::1", "veth0"), ("ff05::2", "veth0")]


def ruleset() -> str:
    # the kernel sends packets of its own (neighbour solicitations, MLD reports): only the test's datagram is let
    # into the chain of rules compared
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":T - [0:0]",
             "-A OUTPUT -p udp -m udp --sport 40000 -j T"]
    lines += [f"-A T {m}" for m in MATCHES]
    return "\n".join([*lines, "COMMIT", ""])


def sh(ns: str, *cmd: str, stdin: str | None = None) -> str:
    p = subprocess.run(["ip", "netns", "exec", ns, *cmd], input=stdin, text=True, capture_output=True, check=True)
    return p.stdout


class Host:
    def is_local(self, addr: int, iface: str | None = None) -> bool:
        dev = {addr_int(NODE): "veth0", V6 | 1: "lo"}.get(addr)
        return dev is not None and (iface is None or iface == dev)


@pytest.fixture(scope="module")
def netns() -> object:
    ns = f"hpw-v6rules-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for cmd in (["sysctl", "-qw", "net.ipv6.conf.default.addr_gen_mode=1"], ["ip", "link", "set", "lo", "up"],
                    ["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"], ["ip", "link", "set", "veth1", "up"], ["ip", "link", "set", "veth0", "up"],
                    ["ip", "addr", "add", f"{NODE}/64", "dev", "veth0", "nodad"],
                    ["ip", "-6", "route", "add", "fd01::/64", "dev", "veth0"]):  # fmt: skip
            sh(ns, *cmd)
        sh(ns, "ip6tables-nft-restore", stdin=ruleset())
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def counted(ns: str) -> set[int]:
    """The indexes (0-based, in MATCHES) of the rules of chain T whose packet counter is not 0."""
    out = set()
    rules = [ln for ln in sh(ns, "ip6tables-nft-save", "-c").splitlines() if " -A T " in f" {ln}"]
    assert len(rules) == len(MATCHES)
    for i, ln in enumerate(rules):
        m = re.match(r"\[(\d+):\d+\]", ln)
        assert m is not None
        if int(m.group(1)):
            out.add(i)
    return out


@pytest.mark.parametrize(("dst", "dev"), SENDS)
def test_output_counters_are_the_rules_hairpin_matches(netns: str, dst: str, dev: str) -> None:
    src = "::1" if dst == "::1" else NODE
    sh(netns, "ip6tables-nft", "-Z", "T")
    sh(netns, "python3", "-c", "import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); "
       f"s.bind(('{src}', 40000)); s.sendto(b'x', ('{dst}', 5000, 0, socket.if_nametoindex('{dev}')))")  # fmt: skip
    real = counted(netns)
    rs, _ = forms.read_iptables(ruleset(), "lab6", None, 6)
    iptables_check.check(rs)
    p = Packet(addr_int(src), 40000, addr_int(dst), 5000, proto="udp")
    ctx = Context(p, Host(), "OUTPUT", None, dev, ct_orig_dst=(p.dst, p.dport))
    v = Evaluator(rs).run("filter", "OUTPUT", ctx)
    assert v.steps[0].effect == "jump T" and all(s.effect == "no target: counted" for s in v.steps[1:])
    mine = {s.rule.index - 1 for s in v.steps[1:]}
    assert mine == real, ({MATCHES[i] for i in mine - real}, {MATCHES[i] for i in real - mine})


# ------------------------------------------------------------------------------------ received packets

#: what a received packet meets in mangle PREROUTING (an output interface is not known there: the kernel refuses
#: --limit-iface-out at PREROUTING, and -o matches nothing)
MATCHES_IN = [m.replace("--limit-iface-out", "--limit-iface-in") for m in MATCHES if not m.startswith("-o ")] + [
    "-i veth0", "-i lo", "-m addrtype --src-type LOCAL --limit-iface-in"]  # fmt: skip
#: destinations the peer sends to (each reaches the node: its neighbour entries point at the node's veth0)
SENDS_IN = ["fd00::100", "fd00::300", "fd01::7", "ff02::1", "ff05::2"]


def ruleset_in() -> str:
    lines = ["*mangle", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
             ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]", ":T - [0:0]",
             "-A PREROUTING -p udp -m udp --sport 40000 -j T"]  # fmt: skip
    lines += [f"-A T {m}" for m in MATCHES_IN]
    return "\n".join([*lines, "COMMIT", ""])


@pytest.fixture(scope="module")
def pair() -> object:
    node, peer = (f"hpw-v6rules-{k}-{uuid.uuid4().hex[:6]}" for k in ("n", "p"))
    for ns in (node, peer):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        sh(node, "sysctl", "-qw", "net.ipv6.conf.default.addr_gen_mode=1")
        sh(peer, "sysctl", "-qw", "net.ipv6.conf.default.addr_gen_mode=1")
        sh(node, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", peer)
        for ns, dev, addr in ((node, "veth0", NODE), (peer, "veth1", "fd00::200")):
            sh(ns, "ip", "link", "set", "lo", "up")
            sh(ns, "ip", "link", "set", dev, "up")
            sh(ns, "ip", "addr", "add", f"{addr}/64", "dev", dev, "nodad")
        mac = re.search(r"link/ether (\S+)", sh(node, "ip", "link", "show", "veth0"))
        assert mac is not None
        for dst in ("fd00::100", "fd00::300"):
            sh(peer, "ip", "-6", "neigh", "replace", dst, "lladdr", mac.group(1), "dev", "veth1", "nud", "permanent")
        sh(peer, "ip", "-6", "route", "add", "fd01::/64", "via", "fd00::100", "dev", "veth1")
        sh(node, "ip6tables-nft-restore", stdin=ruleset_in())
        yield node, peer
    finally:
        for ns in (node, peer):
            subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.mark.parametrize("dst", SENDS_IN)
def test_prerouting_counters_are_the_rules_hairpin_matches(pair: tuple[str, str], dst: str) -> None:
    node, peer = pair
    sh(node, "ip6tables-nft", "-t", "mangle", "-Z", "T")
    sh(peer, "python3", "-c", "import socket, time; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); "
       f"s.bind(('fd00::200', 40000)); s.sendto(b'x', ('{dst}', 5000, 0, socket.if_nametoindex('veth1'))); "
       "time.sleep(0.2)")  # fmt: skip
    rules = [ln for ln in sh(node, "ip6tables-nft-save", "-c", "-t", "mangle").splitlines() if ln.startswith("[")
             and " -A T " in ln]  # fmt: skip
    assert len(rules) == len(MATCHES_IN)
    real = {i for i, ln in enumerate(rules) if not ln.startswith("[0:")}
    assert real, "the datagram did not reach the node"
    rs, _ = forms.read_iptables(ruleset_in(), "lab6in", None, 6)
    iptables_check.check(rs)
    p = Packet(addr_int("fd00::200"), 40000, addr_int(dst), 5000, proto="udp")
    ctx = Context(p, Host(), "PREROUTING", "veth0", None, ct_orig_dst=(p.dst, p.dport))
    v = Evaluator(rs).run("mangle", "PREROUTING", ctx)
    assert v.steps[0].effect == "jump T" and all(s.effect == "no target: counted" for s in v.steps[1:])
    mine = {s.rule.index - 1 for s in v.steps[1:]}
    assert mine == real, ({MATCHES_IN[i] for i in mine - real}, {MATCHES_IN[i] for i in real - mine})
