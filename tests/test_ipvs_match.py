"""``-m ipvs`` (xt_ipvs): the evaluator's semantics (Linux net/netfilter/xt_ipvs.c ``ipvs_mt``), the rule
checker against the real ``iptables-restore --test`` (iptables 1.8.9, whose libxt_ipvs parses the options
without the kernel module: this kernel has no xt_ipvs, so only the user-space checks are compared), and the
closed form against the simulator for IPVS host-network callers per kube-proxy version."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.aws.risk import timeout_fraction
from hairpin.backends import sim
from hairpin.errors import ParseError
from hairpin.ipvs import Connection, IpvsTable
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.netfilter.evaluate import Context, Evaluator
from hairpin.parsers import iptables_check, iptables_save
from test_ipvs_old_features_sim import CASES, NLB_IPS, _notes, _seed  # tests/ is on sys.path (rootdir conftest)

VIP, POD = "192.168.168.103", "192.168.49.70"


@dataclass
class _Host:
    ipvs: IpvsTable | None = field(default_factory=IpvsTable)

    def is_local(self, addr: int, iface: str | None = None) -> bool:
        return False


def _verdict(opts: str, pkt: Packet, host: _Host, *, prop: bool = True, ctstate: str = "NEW",
             ctdir: str = "ORIGINAL") -> str:  # fmt: skip
    rs = iptables_save.parse(f"*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m ipvs {opts} -j DROP\nCOMMIT\n")
    iptables_check.check(rs)
    undecided: list[str] = []

    def unknown(rule: Any, what: str) -> bool:
        undecided.append(what)
        return False

    ctx = Context(pkt, host, "OUTPUT", None, "eth0", ctstate=ctstate, ctdir=ctdir, ipvs=prop, unknown=unknown)
    v = Evaluator(rs).run("filter", "OUTPUT", ctx).verdict
    return "undecided" if undecided else v


def _conn_host() -> _Host:
    """A host whose IPVS table holds VIP:80 -> POD:8080 for the client VIP:40000 (a node process's connection)."""
    h = _Host()
    assert h.ipvs is not None
    c = Connection("tcp", (ip_int(VIP), 40000), (ip_int(VIP), 80), (ip_int(POD), 8080))
    h.ipvs.conns[("tcp", ip_int(VIP), 40000, ip_int(VIP), 80)] = c
    return h


#: the request after IPVS's LOCAL_OUT hook: client -> real server
FWD = Packet(ip_int(VIP), 40000, ip_int(POD), 8080, Flags.SYN)


@pytest.mark.parametrize(("opts", "want"), [
    ("--vproto 6 --vaddr 192.168.168.103/32 --vport 80", "DROP"),  # kube-proxy 1.29+'s KUBE-IPVS-OUT-FILTER
    ("--vproto tcp --vaddr 192.168.0.0/16 --vport 80", "DROP"),
    ("--vproto 17", "ACCEPT"),  # the packet's protocol is TCP
    ("! --vproto 17", "DROP"),
    ("--vport 81", "ACCEPT"),  # the virtual port, not the packet's 8080
    ("--vport 8080", "ACCEPT"),
    ("! --vport 81", "DROP"),
    ("--vaddr 192.168.49.70", "ACCEPT"),  # the virtual address, not the real server
    ("! --vaddr 10.0.0.0/8", "DROP"),
    ("--vaddr 192.168.168.0/255.255.255.0", "DROP"),
    ("--vaddr 192.168.168.104/40", "ACCEPT"),  # a prefix above 32 loads as /32
    ("--vmethod MASQ", "DROP"),
    ("--vmethod gate", "ACCEPT"),
    ("! --vmethod GATE", "DROP"),
    ("--vportctl 21", "ACCEPT"),  # no controlling connection
    ("! --vportctl 21", "DROP"),
    ("--vdir ORIGINAL", "DROP"),
    ("--vdir REPLY", "ACCEPT"),
    ("--ipvs", "DROP"),
    ("! --ipvs", "ACCEPT"),
])  # fmt: skip
def test_xt_ipvs_options_on_a_forwarded_request(opts: str, want: str) -> None:
    assert _verdict(opts, FWD, _conn_host()) == want


def test_xt_ipvs_needs_the_property_and_a_connection() -> None:
    """Without skb->ipvs_property only ``! --ipvs`` matches; with it but no connection for the packet read as
    client -> real server (the reply direction, or another client port) nothing but ``--ipvs`` matches."""
    full = "--vproto 6 --vaddr 192.168.168.103/32 --vport 80"
    assert _verdict(full, FWD, _conn_host(), prop=False) == "ACCEPT"
    assert _verdict("! --vport 1", FWD, _conn_host(), prop=False) == "ACCEPT"
    assert _verdict("! --ipvs", FWD, _conn_host(), prop=False) == "DROP"
    assert _verdict("--ipvs", FWD, _conn_host(), prop=False) == "ACCEPT"
    reply = Packet(ip_int(POD), 8080, ip_int(VIP), 40000, Flags.SYN | Flags.ACK)
    assert _verdict(full, reply, _conn_host()) == "ACCEPT"
    assert _verdict("--ipvs", reply, _conn_host()) == "DROP"
    other = Packet(ip_int(VIP), 40001, ip_int(POD), 8080, Flags.SYN)
    assert _verdict(full, other, _conn_host()) == "ACCEPT"
    assert _verdict("--vdir ORIGINAL", FWD, _conn_host(), ctstate="UNTRACKED") == "ACCEPT"  # no conntrack entry
    assert _verdict("--vdir REPLY", FWD, _conn_host(), ctstate="ESTABLISHED", ctdir="REPLY") == "DROP"


def test_xt_ipvs_is_undecided_without_the_ipvs_table() -> None:
    """A traced node without its ``ipvsadm -Sn`` output: whether IPVS forwarded the packet is not known."""
    for opts in ("--ipvs", "! --ipvs", "--vaddr 192.168.168.103"):
        assert _verdict(opts, FWD, _Host(ipvs=None)) == "undecided"


# -- the checker against iptables-restore --test

RULES = ["--vproto 6 --vaddr 10.0.0.1/32 --vport 80", "--vproto tcp", "--vproto foo", "--vproto 300",
         "--vproto 255", "--vproto 0", "--vproto all", "--vproto -1", "--vport http", "--vport 1:2", "--vport -1",
         "--vaddr 10.0.0.0/8", "--vaddr 10.0.0.1/255.0.0.0", "--vaddr 10.0.0.300", "--vaddr 10.0.0.1/x",
         "--vaddr 10.0.0.1/40", "--vaddr 10.0.0.1/-1", "! --vdir ORIGINAL", "--vdir reply", "--vdir FOO",
         "--vmethod masq", "--vmethod DR", "! --vmethod GATE", "--vportctl 21", "--vportctl ftp",
         "--vport 80 --vport 81", "--ipvs 5", "! --ipvs", "--ipvs", "--ipvs --vport 80", "! --vport 80",
         "--vaddr 10.0.0.1 ! --ipvs", "! --ipvs --vport 80", "--ipvs --ipvs", "--vdir ORIGINAL --vdir REPLY",
         "--vproto udp --vproto tcp", ""]  # fmt: skip


def _file(opts: str) -> str:
    return f"*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m ipvs {opts} -j DROP\nCOMMIT\n".replace("ipvs  -j", "ipvs -j")


def _hairpin_accepts(opts: str) -> bool:
    try:
        iptables_check.check(iptables_save.parse(_file(opts), "t.rules"))
    except ParseError:
        return False
    return True


def _real_accepts(opts: str, tmp: Path) -> bool:
    path = tmp / "t.rules"
    path.write_text(_file(opts))
    r = subprocess.run(["unshare", "-n", "iptables-restore", "--test", str(path)], capture_output=True, text=True,
                       check=False)  # fmt: skip
    assert r.returncode in (0, 2), r.stderr
    return r.returncode == 0


needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("iptables-restore") or not shutil.which("unshare"),
                                reason="needs root, iptables-restore and unshare")  # fmt: skip


@needs_root
def test_checker_accepts_exactly_what_iptables_restore_accepts(tmp_path: Path) -> None:
    got = {opts: (_hairpin_accepts(opts), _real_accepts(opts, tmp_path)) for opts in RULES}
    assert {o: h for o, (h, _) in got.items()} == {o: r for o, (_, r) in got.items()}
    assert sum(r for _, r in got.values()) == 18


def test_checker_refuses_a_port_above_65535() -> None:
    """iptables 1.8.9 loads ``--vport 70000`` as 4464 (``iptables -v`` prints ``vport 4464``); an
    iptables-save dump never holds it, so hairpin refuses it, naming the line."""
    with pytest.raises(ParseError) as exc:
        iptables_check.check(iptables_save.parse(_file("--vport 70000"), "t.rules"))
    assert str(exc.value) == "t.rules:3: ipvs: --vport 70000: above 65535"


_WORDS = st.sampled_from(["--ipvs", "--vproto", "--vaddr", "--vport", "--vdir", "--vmethod", "--vportctl", "!",
                          "tcp", "6", "17", "300", "10.0.0.1", "10.0.0.0/8", "10.0.0.1/33", "80", "http", "1:2",
                          "ORIGINAL", "reply", "MASQ", "DR"])  # fmt: skip


@needs_root
@settings(max_examples=60, deadline=None)
@given(st.lists(_WORDS, min_size=1, max_size=5))
def test_checker_agrees_with_iptables_restore_on_random_option_lists(tmp_path_factory: Any, words: list[str]) -> None:
    opts = " ".join(words)
    if "!" in words[-1:] or "! !" in opts:
        return  # a dangling or doubled "!" is refused by hairpin's grammar and iptables alike, differently worded
    try:
        hairpin = _hairpin_accepts(opts)
    except Exception as exc:  # a traceback is a defect
        raise AssertionError(f"{opts!r}: {exc!r}") from exc
    real = _real_accepts(opts, tmp_path_factory.mktemp("r"))
    if real and re.search(r"--vaddr \d+(?:\s|$)", opts):
        # the documented difference (docs/trace.md): iptables reads an address as inet_aton does ("6" is
        # 0.0.0.6); iptables-save always prints dotted quads, so hairpin refuses the short forms
        assert hairpin is False, opts
        return
    assert hairpin == real, opts


# -- closed form and simulator, per version

EXPECTED = {  # (version, host network, ranges) -> timeout probability, where it differs from "pods outside: 1"
    "1.25": {(True, ("10.0.0.0/8",)): 0},
    "1.28": {(True, ("10.0.0.0/8",)): 0},
    "1.29": {(True, ("10.0.0.0/8",)): 1, (True, ("192.168.168.103/32", "192.168.140.27/32")): 1},
    "1.30": {(True, ("10.0.0.0/8",)): 1, (True, ("192.168.168.103/32", "192.168.140.27/32")): 1},
}
PODS_OUT = {(False, ("10.0.0.0/8",)): 1, (False, ("192.168.168.103/32", "192.168.140.27/32")): 1}


@pytest.mark.parametrize("version", sorted(EXPECTED))
@pytest.mark.parametrize(("host", "ranges"), CASES)
def test_closed_form_agrees_with_the_simulator_from_1_25(version: str, host: bool, ranges: tuple[str, ...]) -> None:
    """1.25-1.28: a host-network caller is never dropped (KUBE-PROXY-FIREWALL hangs off INPUT and FORWARD only);
    1.29+: dropped unless the node's IP is in a range (KUBE-IPVS-OUT-FILTER; with the VIPs as the ranges the
    node's source, the VIP, is admitted by nothing: the rule is written because the node's IP is outside)."""
    s = _seed(version, host, load_balancer_ips=NLB_IPS, load_balancer_source_ranges=ranges)
    want = timeout_fraction(s)
    assert want == {**PODS_OUT, **EXPECTED[version]}.get((host, ranges), 0)
    r = sim.run(s, 20, seed=1).summary
    assert (r.timeouts, r.established) == ((20, 0) if want == 1 else (0, 20)), (want, r)


def test_node_process_is_dropped_by_the_ipvs_match_from_1_29() -> None:
    s = _seed("1.29", True, load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8",))
    notes = _notes(sim.connect(s, client_port=40000, seed=1), "node1")
    assert any(n.startswith("IPVS: 192.168.168.103:80 -> ") for n in notes), notes
    assert notes[-2:] == ["filter KUBE-IPVS-OUT-FILTER: -A KUBE-IPVS-OUT-FILTER -s 192.168.168.103/32 -m ipvs "
                          "--vproto 6 --vaddr 192.168.168.103/32 --vport 80 -j DROP  [DROP]", "dropped in filter OUTPUT"]
    s = _seed("1.28", True, load_balancer_ips=NLB_IPS, load_balancer_source_ranges=("10.0.0.0/8",))
    notes = _notes(sim.connect(s, client_port=40000, seed=1), "node1")
    assert not any("dropped" in n or "KUBE-IPVS-OUT-FILTER" in n for n in notes), notes
