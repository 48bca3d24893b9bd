"""ip6tables' rules evaluated on IPv6 packets: exact verdicts, deciding rules, NAT actions and REJECT replies, on the
real ip6tables-nft-save fixture and on rules written for one behaviour each."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin.model.net import V6, Flags, Packet, addr_int, ip_int, ip_str
from hairpin.netfilter import evaluate
from hairpin.netfilter.evaluate import Context, Evaluator
from hairpin.netfilter.targets import reject_reply6
from hairpin.parsers import forms, iptables_check
from test_netfilter_eval import FakeHost

DATA = Path(__file__).parent / "data" / "trace" / "ip6tables"
NODE = addr_int("fd00::100")
CLIENT = addr_int("fd00:10:244:3::9")


HOST = FakeHost({NODE: "eth0", V6 | 1: "lo"})


def load(text: str) -> Evaluator:
    rs, _ = forms.read_iptables(text, "r6", None, 6)
    iptables_check.check(rs)
    return Evaluator(rs)


REAL = load((DATA / "ip6tables-nft-save").read_text())


def ctx(p: Packet, hook: str = "PREROUTING", **kw: object) -> Context:
    return Context(p, HOST, hook, **kw)  # type: ignore[arg-type]


def syn(src: str, dst: str, dport: int, sport: int = 40000, proto: str = "tcp") -> Packet:
    return Packet(addr_int(src), sport, addr_int(dst), dport, Flags.SYN if proto == "tcp" else Flags(0), proto=proto)


@pytest.mark.parametrize(("first", "dest"), [(True, "fd00:10:244:1::5"), (False, "fd00:10:244:2::7")])
def test_cluster_ip_dnat_to_either_endpoint(first: bool, dest: str) -> None:
    c = ctx(syn("fd00:10:244:3::9", "fd00:10:96::a", 80), choose=lambda p, r: first)
    v = REAL.run("nat", "PREROUTING", c)
    assert v.verdict == "ACCEPT" and v.nat is not None
    assert (v.nat.kind, v.nat.manip, ip_str(v.nat.addr or 0), v.nat.port, v.nat.port_range) == (
        "DNAT", "dst", dest, 8080, (8080, 8080))  # fmt: skip
    assert v.nat.addr == addr_int(dest)
    assert [s.effect for s in v.steps] == ["jump KUBE-SERVICES", "jump KUBE-SVC-WEB", "jump KUBE-SEP-A" if first
                                           else "jump KUBE-SEP-B", "DNAT"]  # fmt: skip
    assert c.mark == 0  # a pod source (fd00:10:244::/56) is not marked for masquerade


def test_cluster_ip_from_outside_the_pod_range_is_marked() -> None:
    c = ctx(syn("fd00:99::1", "fd00:10:96::a", 80), choose=lambda p, r: True)
    v = REAL.run("nat", "PREROUTING", c)
    assert c.mark == 0x4000 and [s.effect for s in v.steps[2:4]] == ["jump KUBE-MARK-MASQ", "mark=0x4000"]
    assert v.steps[3].rule.line == 39


def test_nodeport_addrtype_local_and_a_miss() -> None:
    v = REAL.run("nat", "PREROUTING", ctx(syn("fd00:99::1", "fd00::100", 30080)))
    assert [s.effect for s in v.steps] == ["jump KUBE-SERVICES", "jump KUBE-NODEPORTS"] and v.nat is None
    v = REAL.run("nat", "PREROUTING", ctx(syn("fd00:99::1", "fd00::101", 30080)))
    assert [s.effect for s in v.steps] == ["jump KUBE-SERVICES"] and v.verdict == "ACCEPT"


def test_dnat_range_and_snat_range_take_their_first_address() -> None:
    v = REAL.run("nat", "OUTPUT", ctx(syn("fd00::100", "fd00::99", 53, proto="udp"), "OUTPUT"))
    assert v.nat is not None and (ip_str(v.nat.addr or 0), v.nat.port, v.nat.port_range) == ("fd00::1", 5300,
                                                                                              (5300, 5310))
    v = REAL.run("nat", "OUTPUT", ctx(syn("fd00::100", "fd00::98", 53, proto="udp"), "OUTPUT"))
    assert v.nat is not None and (ip_str(v.nat.addr or 0), v.nat.port) == ("fd00::7", None)
    v = REAL.run("nat", "POSTROUTING", ctx(syn("fd00:1::5", "fd00:2::1", 443), "POSTROUTING", oif="eth0"))
    assert v.nat is not None and (v.nat.kind, ip_str(v.nat.addr or 0), v.nat.port) == ("SNAT", "fd00::1", None)
    assert v.nat.rule is not None and v.nat.rule.line == 38


def test_filter_input_verdicts() -> None:
    def run(src: str, dport: int = 80, **kw: object) -> evaluate.Verdict:
        return REAL.run("filter", "INPUT", ctx(syn(src, "fd00::100", dport), "INPUT", iif="eth0", **kw))

    v = run("fd00::15")  # -m iprange --src-range fd00::10-fd00::20 -j DROP
    assert (v.verdict, v.rule.line if v.rule else 0) == ("DROP", 10)
    v = run("fd00:bad::1")
    assert (v.verdict, v.rule.line if v.rule else 0) == ("REJECT", 11)
    assert v.rule is not None and v.rule.target is not None
    assert reject_reply6(v.rule.target) == ("icmp6", 1, "ICMPv6 destination unreachable (type 1) code 1, "
                                            "administratively prohibited (icmp6-adm-prohibited)")  # fmt: skip
    v = run("fd00::99", 22)
    assert (v.verdict, v.rule.line if v.rule else 0) == ("REJECT", 12)
    assert v.rule is not None and v.rule.target is not None
    assert reject_reply6(v.rule.target) == ("tcp-reset", None, "TCP RST")
    v = run("fd00::99", 80)  # -m hl undecidable (assumed not to match); -m ipv6header --header ipv6-frag --soft: no
    assert (v.verdict, v.rule) == ("ACCEPT", None)
    assert [s.effect for s in v.steps] == ["jump KUBE-FIREWALL", "could not decide -m hl (-m hl: the packet's hop "
                                           "limit is not modelled); assumed it does not match"]  # fmt: skip
    v = run("fd00::99", 80, ctstate="ESTABLISHED")
    assert (v.verdict, v.rule.line if v.rule else 0) == ("ACCEPT", 8)


def test_loopback_destination_from_elsewhere_is_dropped() -> None:
    v = REAL.run("filter", "INPUT", ctx(syn("fd00::99", "::1", 80), "INPUT", iif="eth0"))
    assert (v.verdict, v.rule.line if v.rule else 0) == ("DROP", 17)
    v = REAL.run("filter", "INPUT", ctx(syn("::1", "::1", 80), "INPUT", iif="lo"))
    assert v.verdict == "ACCEPT" and v.steps[0].effect == "jump KUBE-FIREWALL" and len(v.steps) == 2


def test_forward_ctorigdst_and_default_reject() -> None:
    p = syn("fd00:99::1", "fd00:10:244:1::5", 8080)
    v = REAL.run("filter", "FORWARD", ctx(p, "FORWARD", ct_orig_dst=(addr_int("fd00:10:96::a"), 80)))
    assert (v.verdict, v.rule.line if v.rule else 0) == ("ACCEPT", 15)
    v = REAL.run("filter", "FORWARD", ctx(syn("fd00:99::1", "fd00:77::1", 80), "FORWARD"))
    assert (v.verdict, v.rule.line if v.rule else 0) == ("REJECT", 16)
    assert v.rule is not None and v.rule.target is not None
    assert reject_reply6(v.rule.target)[:2] == ("icmp6", 4)
    v = REAL.run("filter", "FORWARD", ctx(syn("fd00:99::1", "fd00:10:244:9::1", 80), "FORWARD"))
    assert (v.verdict, v.rule) == ("DROP", None)  # :FORWARD DROP


HEAD = "# Generated by ip6tables-nft-save v1.8.9 (nf_tables) on Wed Dec  2 09:56:52 2026\n"
FILTER = HEAD + "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{}\nCOMMIT\n"


def first_match(rules: str, p: Packet, **kw: object) -> int | None:
    """The line of the rule that decides ``p`` in INPUT (rules end in -j DROP; the first is line 6), None: the
    policy."""
    v = load(FILTER.format(rules)).run("filter", "INPUT", ctx(p, "INPUT", **kw))
    return v.rule.line if v.rule else None


def test_protocol_icmpv6_is_58() -> None:
    ping = Packet(addr_int("fd00::1"), 0, NODE, 0, proto="icmp")
    assert first_match("-A INPUT -p icmp -j DROP\n-A INPUT -p ipv6-icmp -j DROP", ping) == 7
    assert first_match("-A INPUT -p icmpv6 -j DROP", syn("fd00::1", "fd00::100", 80)) is None
    assert first_match("-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j DROP", ping) is None  # undecided: no
    assert first_match("-A INPUT ! -p ipv6-icmp -j DROP", syn("fd00::1", "fd00::100", 80)) == 6


@pytest.mark.parametrize(("rule", "decides"), [
    ("-A INPUT -m frag --fragid 5 -j DROP", False),
    ("-A INPUT -p ipv6-frag -j DROP", False),
    ("-A INPUT ! -p ipv6-frag -j DROP", True),
    ("-A INPUT -p hopopt -j DROP", True),
    ("-A INPUT -m frag ! --fragid 5 -j DROP", False),
    ("-A INPUT -m hbh --hbh-len 0 -j DROP", False),
    ("-A INPUT -m dst ! --dst-len 0 -j DROP", False),
    ("-A INPUT -m rt --rt-type 0 -j DROP", False),
    ("-A INPUT -m ah --ahspi 1 -j DROP", False),
    ("-A INPUT -m ipv6header --header prot -j DROP", True),
    ("-A INPUT -m ipv6header ! --header prot -j DROP", False),
    ("-A INPUT -m ipv6header --header ipv6-frag -j DROP", False),
    ("-A INPUT -m ipv6header ! --header ipv6-frag -j DROP", True),
    ("-A INPUT -m ipv6header --header ipv6-frag --soft -j DROP", False),
    ("-A INPUT -m ipv6header ! --header ipv6-frag,hop-by-hop --soft -j DROP", True),
    ("-A INPUT -m ipv6header --header ipv6-frag,prot -j DROP", False),
    ("-A INPUT -m ipv6header --header prot,ipv6-frag --soft -j DROP", False),
    ("-A INPUT -m pkttype --pkt-type multicast -j DROP", False),
    ("-A INPUT -m pkttype --pkt-type unicast -j DROP", True),
    ("-A INPUT -m addrtype --dst-type LOCAL -j DROP", True),
    ("-A INPUT -m addrtype --dst-type LOCAL,UNICAST -j DROP", True),
    ("-A INPUT -m addrtype --dst-type LOCAL,MULTICAST -j DROP", False),
    ("-A INPUT -m addrtype --dst-type UNICAST -j DROP", True),
    ("-A INPUT -m addrtype --src-type LOCAL -j DROP", False),
    ("-A INPUT -m addrtype ! --src-type LOCAL -j DROP", True),
    ("-A INPUT -m addrtype --dst-type UNSPEC -j DROP", False),
    ("-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in -j DROP", True),
    ("-A INPUT -m iprange --dst-range fd00::ff-fd00::101 -j DROP", True),
    ("-A INPUT -m iprange ! --dst-range fd00::ff-fd00::101 -j DROP", False),
    ("-A INPUT -m iprange --src-range fd00::2-fd00::ff -j DROP", False),
    ("-A INPUT -d fd00::/ffff:: -j DROP", True),
    ("-A INPUT -d fd01::/ffff:: -j DROP", False),
    ("-A INPUT -d ::100/::ffff -j DROP", True),
    ("-A INPUT -s fd00::1/128 -d fd00::100 -j DROP", True),
    ("-A INPUT ! -s fd00::/16 -j DROP", False),
])  # fmt: skip
def test_one_match_on_a_tcp_packet_without_extension_headers(rule: str, decides: bool) -> None:
    p = syn("fd00::1", "fd00::100", 80)
    assert first_match(rule, p, iif="eth0") == (6 if decides else None)


def test_multicast_destination() -> None:
    p = syn("fd00::1", "ff02::1", 80, proto="udp")
    assert first_match("-A INPUT -m pkttype --pkt-type multicast -j DROP", p, iif="eth0") == 6
    assert first_match("-A INPUT -m pkttype --pkt-type multicast -j DROP", p) is None  # sent by this host: unicast
    assert first_match("-A INPUT -m addrtype --dst-type MULTICAST -j DROP", p) == 6
    assert first_match("-A INPUT -m addrtype --dst-type UNICAST -j DROP", p) is None


def test_addrtype_unreachable_is_undecided_and_said() -> None:
    v = load(FILTER.format("-A INPUT -m addrtype --dst-type UNREACHABLE -j DROP")).run(
        "filter", "INPUT", ctx(syn("fd00::1", "fd00::100", 80), "INPUT"))
    assert v.verdict == "ACCEPT"
    assert v.steps[0].effect == ("could not decide -m addrtype (UNREACHABLE needs the IPv6 route lookup "
                                 "(match_lookup_rt6), which is not modelled); assumed it does not match")  # fmt: skip


def test_an_ipv4_packet_never_matches_an_ipv6_network() -> None:
    v4 = Packet(ip_int("10.0.0.1"), 1, ip_int("10.0.0.2"), 80, Flags.SYN)
    for rule in ("-A INPUT -d ::/0 -j DROP", "-A INPUT -m iprange --dst-range ::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                 "-j DROP"):  # fmt: skip
        assert first_match(rule, v4) is None


def test_set_match_on_ipv6_is_undecided() -> None:
    v = Evaluator(forms.read_iptables(FILTER.format("-A INPUT -m set --match-set s6 src -j DROP"), "r6", None, 6)[0],
                  ipsets={})  # fmt: skip
    r = v.run("filter", "INPUT", ctx(syn("fd00::1", "fd00::100", 80), "INPUT"))
    assert r.verdict == "ACCEPT" and "could not decide -m set" in r.steps[0].effect


# ------------------------------------------------------------------------------------ a long chain


def kube_services(n: int) -> str:
    lines = [HEAD, "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]"]  # fmt: skip
    lines += [f":KUBE-SVC-{i} - [0:0]" for i in range(n)]
    lines.append("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES")
    for i in range(n):
        lines.append(f"-A KUBE-SERVICES -d fd00:10:96::{i:x}/128 -p tcp -m comment --comment \"ns/svc{i}:http cluster "
                     f"IP\" -m tcp --dport {1000 + i % 7} -j KUBE-SVC-{i}")  # fmt: skip
        lines.append(f"-A KUBE-SVC-{i} -p tcp -m tcp -j DNAT --to-destination [fd00:10:244:{i:x}::5]:8080")
    lines += ["-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j RETURN", "COMMIT"]
    return "\n".join(lines) + "\n"


LONG = kube_services(600)


@given(st.integers(0, 599), st.booleans())
def test_long_kube_services_chain_traced_to_the_right_service(i: int, right_port: bool) -> None:
    ev = load(LONG)
    port = 1000 + i % 7 if right_port else 2000
    v = ev.run("nat", "PREROUTING", ctx(syn("fd00:99::1", f"fd00:10:96::{i:x}", port)))
    if not right_port:
        assert v.nat is None and [s.effect for s in v.steps] == ["jump KUBE-SERVICES"]
        return
    assert v.nat is not None and v.nat.addr == addr_int(f"fd00:10:244:{i:x}::5") and v.nat.port == 8080
    assert [s.effect for s in v.steps] == ["jump KUBE-SERVICES", f"jump KUBE-SVC-{i}", "DNAT"]
    assert v.steps[1].rule.line == 610 + 2 * i  # the header, a blank line, *nat, 605 chains, PREROUTING's rule


def test_long_chain_is_indexed_by_ipv6_address() -> None:
    ev = load(LONG)
    ev.run("nat", "PREROUTING", ctx(syn("fd00:99::1", "fd00:10:96::1c8", 1000 + 456 % 7)))
    idx = ev.index[("nat", "KUBE-SERVICES")]
    p = syn("fd00:99::1", "fd00:10:96::1c8", 1000 + 456 % 7)
    assert idx.candidates(p) == [456, 600]  # the service's rule and the one no key holds
    assert len(idx.by_key) == 600 and (addr_int("fd00:10:96::1c8"), 1000 + 456 % 7) in idx.by_key


def test_index_agrees_with_rule_by_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    text = kube_services(40)
    indexed = load(text)
    indexed.rules("nat", "KUBE-SERVICES")  # opened (and indexed) before the threshold is raised
    monkeypatch.setattr(evaluate, "INDEX_MIN", 10**9)
    plain = load(text)
    for i in range(0, 40, 3):
        for dst in (f"fd00:10:96::{i:x}", "fd00::100", "10.0.0.1"):
            p = (syn("fd00:99::1", dst, 1000 + i % 7) if ":" in dst
                 else Packet(ip_int("10.0.0.9"), 1, ip_int(dst), 1000, Flags.SYN))  # fmt: skip
            a = indexed.run("nat", "PREROUTING", ctx(p))
            b = plain.run("nat", "PREROUTING", ctx(p))
            assert (a.verdict, a.nat, [s.effect for s in a.steps]) == (b.verdict, b.nat, [s.effect for s in b.steps])
    assert ("nat", "KUBE-SERVICES") in indexed.index and not plain.index


NAT_HEAD = HEAD + "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"


@given(st.integers(1, (1 << 128) - 1), st.integers(0, 1 << 16), st.integers(1, 65535), st.integers(0, 100),
       st.sampled_from(["[{a}-{b}]:{p}-{q}", "[{a}]:{p}", "{a}-{b}", "{a}", "[{a}]"]))  # fmt: skip
def test_dnat_to_any_ipv6_form_takes_its_first_address_and_port(a: int, span: int, p: int, width: int,
                                                                 form: str) -> None:  # fmt: skip
    import ipaddress

    lo, hi = ipaddress.IPv6Address(a), ipaddress.IPv6Address(min(a + span, (1 << 128) - 1))
    q = min(p + width, 65535)
    to = form.format(a=lo, b=hi, p=p, q=q)
    ev = load(NAT_HEAD + f"-A PREROUTING -p tcp -j DNAT --to-destination {to}\nCOMMIT\n")
    v = ev.run("nat", "PREROUTING", ctx(syn("fd00::1", "fd00::2", 80)))
    assert v.nat is not None and v.nat.addr == V6 | a
    if "{p}" in form:
        assert (v.nat.port, v.nat.port_range) == (p, (p, q if "{q}" in form else p))
    else:
        assert (v.nat.port, v.nat.port_range) == (None, None)
