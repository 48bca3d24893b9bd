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


# -- kube-proxy 1.36+ (kubernetes PR #135800 / #136499): no mark-for-masquerade chain, numgen DNAT maps,
# the hairpin-connections set checked in masquerading after DNAT
def _table_136(cidr: str | None = None):  # type: ignore[no-untyped-def]
    s = seed()
    s = dataclasses.replace(s, kube_proxy=dataclasses.replace(s.kube_proxy, version="1.36", cluster_cidr=cidr))
    return parse(ruleset(s, "node1"), "node1.nft")


@pytest.mark.parametrize(
    ("draws", "endpoint", "asked"),
    [([True], "192.168.39.2", [Fraction(1, 3)]),
     ([False, True], "192.168.49.70", [Fraction(1, 3), Fraction(1, 2)]),
     ([False, False], "192.168.16.142", [Fraction(1, 3), Fraction(1, 2)])],
)  # fmt: skip
def test_136_nodeport_dnat_map_draws_one_in_n_and_marks(draws: list[bool], endpoint: str, asked: list[Fraction]) -> None:
    t = _table_136()
    seen: list[float] = []
    it = iter(draws)

    def choose(p: float, r: Rule) -> bool:
        seen.append(p)
        assert r.source.startswith("meta l4proto tcp dnat ip to numgen random mod 3 map {")
        return next(it)

    ctx = Context(_syn("192.168.2.3", 31468), _Node(), "PREROUTING", iif="eth0", choose=choose)
    v = t.run("nat", "PREROUTING", ctx)
    assert v.nat is not None and v.nat.kind == "DNAT"
    assert (ip_str(v.nat.addr or 0), v.nat.port) == (endpoint, 80)
    assert [Fraction(p).limit_denominator(100) for p in seen] == asked
    assert ctx.mark == 0x4000  # external- chain: meta mark set meta mark | 0x4000 comment "masquerade"
    assert [s.effect for s in v.steps][-1] == "DNAT"


def test_136_udp_does_not_match_the_tcp_dnat_map() -> None:
    t = _table_136()
    p = Packet(POD, 40000, ip_int("10.100.235.20"), 80, Flags.SYN, proto="udp")
    v = t.run("nat", "PREROUTING", Context(p, _Node(), "PREROUTING", choose=lambda q, r: True))
    assert v.nat is None


@pytest.mark.parametrize(
    ("src", "dst", "dport", "ctstatus", "masq"),
    [("192.168.16.142", "192.168.16.142", 80, {"DNAT"}, True),  # node1's endpoint reached itself
     ("192.168.16.142", "192.168.16.142", 80, set(), False),  # not DNATed: a pod talking to its own IP
     ("192.168.16.142", "192.168.16.142", 81, {"DNAT"}, False),  # another port
     ("192.168.39.2", "192.168.39.2", 80, {"DNAT"}, False),  # node2's endpoint: not in node1's set
     ("192.168.27.239", "192.168.16.142", 80, {"DNAT"}, False)],  # another pod
)  # fmt: skip
def test_136_masquerading_hairpin_set(src: str, dst: str, dport: int, ctstatus: set[str], masq: bool) -> None:
    t = _table_136()
    assert t.tuples == {"hairpin-connections": {(ip_int("192.168.16.142"), ip_int("192.168.16.142"), "tcp", 80)}}
    p = Packet(ip_int(src), 40000, ip_int(dst), dport, Flags.SYN)
    ctx = Context(p, _Node(), "POSTROUTING", ctstatus=frozenset(ctstatus))
    v = t.run("nat", "POSTROUTING", ctx)
    assert (v.nat is not None and v.nat.kind == "MASQUERADE" and v.nat.random_fully) == masq
    assert ctx.mark == 0


def test_136_marked_packet_is_masqueraded_and_the_bit_cleared() -> None:
    t = _table_136()
    ctx = Context(Packet(POD, 40000, ip_int("192.168.39.2"), 80, Flags.SYN), _Node(), "POSTROUTING", mark=0x4001)
    v = t.run("nat", "POSTROUTING", ctx)
    assert v.nat is not None and v.nat.kind == "MASQUERADE" and ctx.mark == 0x0001
    assert v.rule is not None and v.rule.source == (
        "meta mark & 0x00004000 != 0x00000000 meta mark set meta mark ^ 0x00004000 masquerade fully-random")


@pytest.mark.parametrize(("src", "marked"), [("192.168.27.239", False), ("10.9.9.9", True)])
def test_136_clusterip_masquerade_rule_heads_services(src: str, marked: bool) -> None:
    t = _table_136("192.168.0.0/16")
    assert t.chains["services"].rules[0].text == (
        "ip daddr @cluster-ips ip saddr != 192.168.0.0/16 meta mark set meta mark | 0x00004000 "
        'comment "masquerade clusterIP traffic from outside cluster"')
    p = Packet(ip_int(src), 40000, ip_int("10.100.235.20"), 80, Flags.SYN)
    ctx = Context(p, _Node(), "PREROUTING", choose=lambda q, r: True)
    v = t.run("nat", "PREROUTING", ctx)
    assert v.nat is not None and ip_str(v.nat.addr or 0) == "192.168.39.2"
    assert ctx.mark == (0x4000 if marked else 0)


@pytest.mark.parametrize(
    ("line", "error"),
    [("\t\tmeta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 10.0.0.1 . 80 }",
      "numgen mod 2 needs elements 0..1"),
     ("\t\tmeta l4proto tcp dnat ip to numgen random mod 1 map { 0 : 10.0.0.1 }",
      "dnat map element not modelled: '0 : 10.0.0.1'"),
     ("\t\tip saddr . ip daddr . meta l4proto . th dport @nosuch masquerade",
      "set 'nosuch' is not a defined set of ipv4_addr . ipv4_addr . inet_proto . inet_service")],
)  # fmt: skip
def test_136_statements_refused_with_their_line(line: str, error: str) -> None:
    text = "table ip kube-proxy {\n\tchain x {\n" + line + "\n\t}\n}\n"
    with pytest.raises(ParseError) as e:
        parse(text, "n.nft")
    assert (e.value.message, e.value.line) == (error, 3)


def test_136_tuple_set_elements_and_types_are_checked() -> None:
    head = "table ip kube-proxy {\n\tset h {\n\t\ttype ipv4_addr . ipv4_addr . inet_proto . inet_service\n"
    t = parse(head + "\t\telements = { 10.0.0.1 . 10.0.0.1 . udp . 53,\n\t\t\t     10.0.0.2 . 10.0.0.2 . tcp . 80 }\n\t}\n}\n")
    assert t.tuples["h"] == {(ip_int("10.0.0.1"), ip_int("10.0.0.1"), "udp", 53),
                             (ip_int("10.0.0.2"), ip_int("10.0.0.2"), "tcp", 80)}  # fmt: skip
    assert "h" not in t.sets
    with pytest.raises(ParseError) as e:
        parse(head + "\t\telements = { 10.0.0.1 . tcp . 53 }\n\t}\n}\n", "n.nft")
    assert (e.value.message, e.value.line) == ("set element not modelled: '10.0.0.1 . tcp . 53'", 4)
    with pytest.raises(ParseError) as e:
        parse("table ip kube-proxy {\n\tset h {\n\t\ttype ipv4_addr . inet_service\n\t}\n}\n", "n.nft")
    assert (e.value.message, e.value.line) == ("set type not modelled: 'type ipv4_addr . inet_service'", 3)


@pytest.mark.parametrize("counter", ["counter", "counter packets 12 bytes 720", 'counter name "localhost-nodeport-rejected"',
                                     "counter name svc-drops"])
def test_a_counter_statement_counts_and_changes_nothing(counter: str) -> None:
    """``nft list ruleset`` shows ``counter packets N bytes M`` in every rule that has a counter (and ``counter
    name X`` for a named one): the same verdicts, marks and DNATs with a counter at the head of every rule."""
    plain = ruleset(seed(), "node1")
    lines, in_chain = [], False
    for ln in plain.splitlines(keepends=True):
        in_chain = ln.startswith("\tchain ") or (in_chain and ln != "\t}\n")
        rule = in_chain and ln.startswith("\t\t") and not ln.startswith("\t\ttype ")
        lines.append(f"\t\t{counter} {ln[2:]}" if rule else ln)
    counted = "".join(lines)
    assert counted.count(counter) > 10
    for draws in ([True], [False, True], [False, False]):
        got = []
        for text in (plain, counted):
            it = iter(draws)
            ctx = Context(_syn("192.168.2.3", 31468), _Node(), "PREROUTING", iif="eth0", choose=lambda p, r, it=it: next(it))
            v = parse(text, "n.nft").run("nat", "PREROUTING", ctx)
            assert v.nat is not None
            got.append((v.verdict, v.nat.addr, v.nat.port, ctx.mark))
        assert got[0] == got[1]
    with pytest.raises(ParseError, match="nft statement not modelled: 'counters'"):
        parse(plain.replace("\t\tjump services", "\t\tcounters"), "n.nft")
