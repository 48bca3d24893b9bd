"""The nft parser/evaluator (hairpin.netfilter.nft) on kube-proxy's nftables-mode table for the seed."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin.errors import ParseError
from hairpin.kube.nftables import ruleset
from hairpin.model.net import Flags, Packet, ip_int, ip_str
from hairpin.netfilter.evaluate import Context
from hairpin.netfilter.nft import parse
from hairpin.netfilter.rules import Rule
from hairpin.scenario import Scenario
from hairpin.scenario import seed as iptables_seed


def seed() -> Scenario:
    """The seed's cluster with kube-proxy 1.33 in nftables mode."""
    s = iptables_seed()
    return dataclasses.replace(s, kube_proxy=dataclasses.replace(s.kube_proxy, mode="nftables", version="1.33"))

NODE1 = ip_int("192.168.2.3")
POD = ip_int("192.168.27.239")


class _Node:
    def is_local(self, addr: int, iface: str | None = None) -> bool:
        return addr == NODE1


def _syn(dst: str, dport: int) -> Packet:
    return Packet(POD, 40000, ip_int(dst), dport, Flags.SYN)


def _table():  # type: ignore[no-untyped-def]
    return parse(ruleset(seed(), "node1"), "node1.nft")


@pytest.mark.parametrize(
    ("draws", "endpoint"),
    [([True], "192.168.39.2"), ([False, True], "192.168.49.70"), ([False, False], "192.168.16.142")],
)
def test_nodeport_syn_is_dnated_by_numgen_and_marked(draws: list[bool], endpoint: str) -> None:
    t = _table()
    asked: list[float] = []
    it = iter(draws)

    def choose(p: float, r: Rule) -> bool:
        asked.append(p)
        return next(it)

    ctx = Context(_syn("192.168.2.3", 31468), _Node(), "PREROUTING", iif="eth0", choose=choose)
    v = t.run("nat", "PREROUTING", ctx)
    assert v.nat is not None and v.nat.kind == "DNAT"
    assert (ip_str(v.nat.addr or 0), v.nat.port) == (endpoint, 80)
    assert ctx.mark == 0x4000
    assert asked == [1 / 3, 1 / 2][: len(draws)]
    # the chosen endpoint's probability is exactly 1/3 whichever it is
    prob = Fraction(1)
    for i, d in enumerate(draws):
        prob *= Fraction(1, 3 - i) if d else 1 - Fraction(1, 3 - i)
    assert prob == Fraction(1, 3)


def test_clusterip_from_pod_is_not_marked() -> None:
    t = _table()
    ctx = Context(_syn("10.100.235.20", 80), _Node(), "OUTPUT", choose=lambda p, r: True)
    v = t.run("nat", "OUTPUT", ctx)
    assert v.nat is not None and (ip_str(v.nat.addr or 0), v.nat.port) == ("192.168.39.2", 80)
    assert ctx.mark == 0


def test_nodeport_on_other_address_or_port_untouched() -> None:
    t = _table()
    for dst, port in (("192.168.21.86", 31468), ("192.168.2.3", 31469), ("127.0.0.1", 31468)):
        ctx = Context(_syn(dst, port), _Node(), "PREROUTING")
        v = t.run("nat", "PREROUTING", ctx)
        assert v.nat is None and v.verdict == "ACCEPT" and ctx.mark == 0


def test_postrouting_masquerades_marked_packets_and_clears_the_bit() -> None:
    t = _table()
    ctx = Context(Packet(POD, 40000, ip_int("192.168.39.2"), 80, Flags.SYN), _Node(), "POSTROUTING", mark=0x4001)
    v = t.run("nat", "POSTROUTING", ctx)
    assert v.nat is not None and v.nat.kind == "MASQUERADE" and v.nat.random_fully
    assert ctx.mark == 0x0001
    ctx = Context(Packet(POD, 40000, ip_int("192.168.39.2"), 80, Flags.SYN), _Node(), "POSTROUTING")
    assert t.run("nat", "POSTROUTING", ctx).nat is None


def test_hairpin_endpoint_masquerade_rule() -> None:
    # nginx-demo-1 (192.168.16.142, on node1) calling the ClusterIP and picked itself: marked.
    t = _table()
    p = Packet(ip_int("192.168.16.142"), 40000, ip_int("10.100.235.20"), 80, Flags.SYN)
    ctx = Context(p, _Node(), "PREROUTING", choose=lambda q, r: False)
    v = t.run("nat", "PREROUTING", ctx)
    assert v.nat is not None and ip_str(v.nat.addr or 0) == "192.168.16.142" and ctx.mark == 0x4000


def test_no_endpoints_rejects_in_filter_input() -> None:
    s = seed()
    s = dataclasses.replace(s, services=(dataclasses.replace(s.services[0], endpoints=()),))
    t = parse(ruleset(s, "node1"))
    ctx = Context(_syn("192.168.2.3", 31468), _Node(), "INPUT")
    assert t.run("filter", "INPUT", ctx).verdict == "REJECT"
    ctx = Context(_syn("192.168.2.3", 31468), _Node(), "INPUT", ctstate="ESTABLISHED")
    assert t.run("filter", "INPUT", ctx).verdict == "ACCEPT"


def test_unmodelled_statement_is_located() -> None:
    text = ruleset(seed(), "node1").replace("masquerade fully-random", "masquerade fully-random\n\t\tlog prefix x")
    with pytest.raises(ParseError) as e:
        parse(text, "n.nft")
    line = text.splitlines().index("\t\tlog prefix x") + 1
    assert e.value.one_line() == f"n.nft:{line}: nft statement not modelled: 'log prefix x'"


def test_undefined_chain_is_an_error() -> None:
    text = ruleset(seed(), "node1").replace("jump masquerading", "jump nowhere")
    with pytest.raises(ParseError, match="undefined chain 'nowhere'"):
        parse(text, "n.nft")


@given(st.integers(min_value=0, max_value=0xFFFFFFFF), st.integers(min_value=1, max_value=65535))
def test_only_the_service_tuple_is_dnated(dst: int, dport: int) -> None:
    t = _table()
    ctx = Context(Packet(POD, 40000, dst, dport, Flags.SYN), _Node(), "OUTPUT", choose=lambda p, r: True)
    v = t.run("nat", "OUTPUT", ctx)
    hit = (dst, dport) in ((ip_int("10.100.235.20"), 80), (NODE1, 31468))
    assert (v.nat is not None) == hit


def test_sets_cluster_ips_check_and_source_ranges() -> None:
    """Named and anonymous address sets: cluster-ips-check rejects an unused port of a ClusterIP and drops
    an unallocated ClusterIP (filter output, after DNAT); nodeport-ips limits NodePorts to the node's
    address; a firewall chain drops sources outside its ranges."""
    s = seed()
    s = dataclasses.replace(s, kube_proxy=dataclasses.replace(s.kube_proxy, version="1.34", service_cidr="10.100.0.0/16"))
    t = parse(ruleset(s, "node1"), "n.nft")
    assert t.sets["cluster-ips"] == [(ip_int("10.100.235.20"), 0xFFFFFFFF)]
    for dst, port, verdict in (("10.100.235.20", 81, "REJECT"), ("10.100.9.9", 80, "DROP"), ("10.101.0.1", 80, "ACCEPT")):
        ctx = Context(_syn(dst, port), _Node(), "OUTPUT")
        assert t.run("filter", "OUTPUT", ctx).verdict == verdict, dst
    text = ruleset(s, "node1").replace(
        "\t\tjump mark-for-masquerade\n\t\tgoto service-",
        "\t\tip saddr != { 10.0.0.0/8, 192.168.0.0/20 } drop\n\t\tjump mark-for-masquerade\n\t\tgoto service-",
    )
    t = parse(text, "n.nft")
    ctx = Context(_syn("192.168.2.3", 31468), _Node(), "PREROUTING")  # POD 192.168.27.239: outside both
    assert t.run("nat", "PREROUTING", ctx).verdict == "DROP"
    inside = Context(Packet(ip_int("192.168.5.1"), 1, NODE1, 31468, Flags.SYN), _Node(), "PREROUTING",
                     choose=lambda q, r: True)  # fmt: skip
    assert t.run("nat", "PREROUTING", inside).nat is not None


def test_undefined_set_is_an_error() -> None:
    text = ruleset(seed(), "node1").replace("ip daddr @nodeport-ips", "ip daddr @nowhere", 1)
    with pytest.raises(ParseError, match="set 'nowhere' is not defined"):
        parse(text, "n.nft")
    bad = ruleset(seed(), "node1").replace("elements = { 192.168.2.3 }", "elements = { node1 }")
    with pytest.raises(ParseError, match="set element not modelled: 'node1'"):
        parse(bad, "n.nft")


def test_dynamic_set_entries_live_until_their_timeout() -> None:
    text = """table ip t {
\tset aff {
\t\ttype ipv4_addr
\t\tsize 65535
\t\tflags dynamic,timeout
\t\ttimeout 1m30s
\t}

\tchain c {
\t\ttype filter hook input priority filter; policy accept;
\t\tip saddr @aff drop
\t\tupdate @aff { ip saddr }
\t}
}
"""
    t = parse(text, "t.nft")
    assert t.timeouts == {"aff": 90.0}

    class _Clock:
        now = 0.0

    class _Host(_Node):
        engine = _Clock()

    host = _Host()
    ctx = lambda: Context(_syn("192.168.2.3", 80), host, "INPUT")  # noqa: E731
    assert t.run("filter", "INPUT", ctx()).verdict == "ACCEPT"  # not yet in the set: recorded now
    host.engine.now = 89.0
    assert t.run("filter", "INPUT", ctx()).verdict == "DROP"
    host.engine.now = 200.0
    assert t.run("filter", "INPUT", ctx()).verdict == "ACCEPT"  # expired at 90 s
    with pytest.raises(ParseError, match="set timeout not modelled: 'timeout forever'"):
        parse(text.replace("timeout 1m30s", "timeout forever"), "t.nft")


@pytest.mark.parametrize(("version", "pre", "post"), [
    ("1.33", ["filter-prerouting"], []),
    ("1.34", ["filter-prerouting-pre-dnat"], []),
])
def test_filter_chains_split_at_dstnat_on_prerouting_and_output(version: str, pre: list[str], post: list[str]) -> None:
    """The host runs nft filter chains below dstnat (-100) before its nat table (``-pre-dnat`` pseudo-hooks)
    and the rest after it: kube-proxy's firewall checks (dstnat - 10 = -110) see the VIP before DNAT."""
    s = dataclasses.replace(seed(), kube_proxy=dataclasses.replace(seed().kube_proxy, version=version))
    t = parse(ruleset(s, "node1"), "node1.nft")

    def names(hook: str) -> list[str]:
        return [c.name for c in t.base_chains("filter", hook)]

    assert (names("PREROUTING-pre-dnat"), names("PREROUTING")) == (pre, post)
    out_pre = "filter-output" if version == "1.33" else "filter-output-pre-dnat"
    out_post = ["filter-output-post-dnat"] if version == "1.33" else ["filter-output"]
    assert (names("OUTPUT-pre-dnat"), names("OUTPUT")) == ([out_pre], out_post)
    assert [c.priority for c in t.base_chains("filter", "OUTPUT-pre-dnat")] == [-110]
    # no split elsewhere: input and forward run whole where the host runs filter INPUT / FORWARD
    assert names("INPUT-pre-dnat") == [] and names("INPUT") == ["filter-input"]
    assert t.base_chains("nat", "PREROUTING-pre-dnat") == [] and [c.name for c in t.base_chains("nat", "PREROUTING")] == [
        "nat-prerouting"]


@pytest.mark.parametrize(("proto", "dport", "marked"), [("tcp", 80, True), ("tcp", 81, False), ("udp", 80, False)])
def test_port_match_of_the_130_to_133_masquerade_rule(proto: str, dport: int, marked: bool) -> None:
    """``tcp dport 80`` (kube-proxy 1.30 - 1.33's ClusterIP masquerade rule) matches the protocol and the
    destination port, nothing else."""
    text = (
        "table ip kube-proxy {\n\tchain nat-output {\n\t\ttype nat hook output priority -100; policy accept;\n"
        "\t\tip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 meta mark set meta mark | 0x00004000\n"
        "\t}\n}\n"
    )
    t = parse(text, "n.nft")
    p = dataclasses.replace(Packet(POD, 40000, ip_int("172.30.0.41"), dport, Flags.SYN), proto=proto)
    ctx = Context(p, _Node(), "OUTPUT")
    t.run("nat", "OUTPUT", ctx)
    assert ctx.mark == (0x4000 if marked else 0)
