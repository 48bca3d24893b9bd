"""Routing state read off a real namespace (tests/data/trace/v6-red/SOURCE.md) traced as the kernel answered it:
a ``throw`` route sends the lookup on to the next rule in either family; and IPv4-mapped addresses, as the kernel
treats and prints them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from hairpin import trace as tr
from hairpin.errors import ParseError
from hairpin.model.net import addr_int, ip_str
from hairpin.parsers import forms, iproute, ipset

RED = Path(__file__).parent / "data" / "trace" / "v6-red"


def _node(family: int) -> tr.Node:
    if family == 6:
        return tr.Node.load(RED / "empty-save", RED / "ip6-route", RED / "ip6-rule", RED / "ip-addr", family=6)
    return tr.Node.load(RED / "empty-save", RED / "ip-route", RED / "ip-rule")


@pytest.mark.parametrize(("family", "packet", "verdict", "oif"), [
    # throw 2001:db8:33::/48 in table custom: on to main, which has no route: unreachable
    (6, "tcp [2001:db8:5::9]:1 > [2001:db8:33::1]:80 syn in d0", "unreachable", None),
    # throw 10.9.9.0/24 in table custom: on to main's 10.9.0.0/16 dev d1
    (4, "tcp 10.1.0.9:1 > 10.9.9.1:80 syn in d0", "unicast", "d1"),
    (4, "tcp 10.1.0.9:1 > 10.9.8.1:80 syn in d0", "unicast", "d0"),
    # iif lo matches only what the node sends (flowi6_iif is LOOPBACK_IFINDEX on output)
    (6, "tcp [2001:db8:6::1]:1 > [2001:db8:34::1]:80 syn out", "unicast", "d1"),
    (6, "tcp [2001:db8:9::9]:1 > [2001:db8:34::1]:80 syn in d1", "unicast", "d0"),
])  # fmt: skip
def test_route_lookups_are_the_kernels(family: int, packet: str, verdict: str, oif: str | None) -> None:
    node = _node(family)
    p, iif = tr.parse_packet(packet)
    r = node.routing.routing.lookup(p.dst, p.src, iif, 0)
    assert (r.type, r.dev) == (verdict, oif)


def test_a_throw_route_is_not_a_warning_and_not_a_way_out() -> None:
    node = _node(6)
    p, iif = tr.parse_packet("tcp [2001:db8:5::9]:1 > [2001:db8:33::1]:80 syn in d0")
    (o,) = tr.trace(node, p, iif).outcomes
    assert (o.legs[0].kind, o.legs[0].oif, o.legs[0].verdict) == ("drop", None, "dropped in routing")
    assert not [w for w in node.routing.warnings if "throw" in w]


SEED6 = Path(__file__).parent / "data" / "trace" / "seed-node1-v6"


def test_a_syn_from_an_ipv4_mapped_source_is_not_answered() -> None:
    """Measured on Linux 6.18.44 (a SYN sent into a namespace listening on [::]:80): the SYN from
    ::ffff:10.0.0.9 to port 80 got no SYN-ACK (Ip6InHdrErrors 1), one to port 81 (nothing listening) an RST; the
    same SYN from 2001:db8:1::99 a SYN-ACK."""
    node = tr.Node.load(SEED6 / "ip6tables-save", SEED6 / "ip6-route", SEED6 / "ip6-rule", SEED6 / "ip-addr",
                        family=6)  # fmt: skip
    p, iif = tr.parse_packet("tcp [::ffff:10.0.0.9]:1111 > [2600:1f14:a::23]:22 syn in eth0")
    (o,) = tr.trace(node, p, iif, reply=True).outcomes
    req, rep = o.legs
    assert str(req.packet) == "tcp [::ffff:10.0.0.9]:1111 > [2600:1f14:a::23]:22 SYN"
    assert (req.kind, rep.kind, rep.verdict) == ("local", "none", "TCP answers nothing to a SYN from ::ffff:10.0.0.9, "
                                                 "an IPv4-mapped source (tcp_v6_conn_request drops it)")  # fmt: skip
    p, iif = tr.parse_packet("tcp [2600:1f14:a:0:8a23::5]:1111 > [2600:1f14:a::23]:22 syn in eth0")
    (o,) = tr.trace(node, p, iif, reply=True).outcomes
    assert o.legs[1].kind == "forward"


@pytest.mark.parametrize(("text", "shown"), [
    ("::ffff:10.0.0.5", "::ffff:10.0.0.5"), ("::ffff:a00:5", "::ffff:10.0.0.5"), ("::ffff:0:0", "::ffff:0.0.0.0"),
    ("::fffe:a00:5", "::fffe:a00:5"), ("1::ffff:a00:5", "1::ffff:a00:5"), ("::a00:5", "::a00:5"),
])  # fmt: skip
def test_an_ipv4_mapped_address_is_shown_as_ip_shows_it(text: str, shown: str) -> None:
    assert ip_str(addr_int(ipaddress.IPv6Address(text))) == shown


@pytest.mark.parametrize("name", ["ip6-rule-many", "ip6-rule-goto"])
def test_json_rules_are_the_plain_ones(name: str) -> None:
    """``ip -j -6 rule`` and ``ip -6 rule`` of one namespace read as the same rules: a selector JSON names by
    another key (``sport_start``/``sport_end``, ``uid_start``, ``suppress_prefixlen``, ``goto``, ``l3mdev``,
    ``nop``) is never dropped, so ``sport 1000-2000 lookup 10`` is not read as ``lookup 10``."""
    plain, _ = forms.read_rules((RED / name).read_text(), "p", iproute.TableNames(), 6)
    js, said = forms.read_rules((RED / f"{name}.json").read_text(), "j", iproute.TableNames(), 6)
    assert said == "ip -j rule (JSON)"
    assert [(r.priority, r.entry, r.why) for r in js] == [(r.priority, r.entry, r.why) for r in plain]
    ignored = {r.priority: r.why.removeprefix("selector/action not modelled: ") for r in js if r.entry is None}
    assert ignored == ({200: "ipproto, dport", 210: "sport", 220: "uidrange", 230: "tos", 260: "nop", 290: "not",
                        1000: "l3mdev"} if name == "ip6-rule-many" else
                       {130: "not", 140: "suppress_prefixlength", 150: "goto", 190: "dport",
                        195: "suppress_ifgroup"})  # fmt: skip


def test_a_rule_key_not_known_is_refused_at_its_entry() -> None:
    text = '[{"priority":0,"src":"all","table":"local"},{"priority":5,"src":"all","flowlabel_x":"0x1","table":"10"}]'
    with pytest.raises(ParseError) as e:
        forms.read_rules(text, "j", iproute.TableNames(), 6)
    assert str(e.value) == "j: ip -j rule entry 2: 'flowlabel_x' is not read (a rule's selectors must all be known)"


def test_the_kernels_answer_for_a_port_range_rule_is_not_claimed() -> None:
    """ip -6 route get 2001:db8:34::1 from 2001:db8:9::9 iif d1 ipproto tcp sport 1 dport 81: dev d0 (main);
    with sport 1500: dev d1 (table 10, rule 210).  The port range is not modelled: the rule is left out, said."""
    node = tr.Node.load(RED / "empty-save", RED / "ip6-route", RED / "ip6-rule-many.json", RED / "ip-addr", family=6)
    p, iif = tr.parse_packet("tcp [2001:db8:9::9]:1 > [2001:db8:34::1]:81 syn in d1")
    (o,) = tr.trace(node, p, iif).outcomes
    assert o.legs[0].oif == "d0"
    assert (f"{RED}/ip6-rule-many.json:5: ignored '210:\tfrom all sport 1000-2000 lookup 10' (selector/action not "
            "modelled: sport)") in node.routing.warnings  # fmt: skip


SEED4 = Path(__file__).parent / "data" / "trace" / "seed-node1"


def _set_node(tmp_path: Path, rule: str, family: int) -> tr.Node:
    save = tmp_path / "save"
    save.write_text(f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{rule}\nCOMMIT\n")
    if family == 6:
        return tr.Node.load(save, RED / "ip6-route", RED / "ip6-rule", RED / "ip-addr", ipset_file=RED / "ipset-dual",
                            family=6)  # fmt: skip
    return tr.Node.load(save, SEED4 / "ip-route", SEED4 / "ip-rule", ipset_file=RED / "ipset-dual")


def test_a_dual_stack_ipset_save_is_read() -> None:
    """``ipset save`` of a node with IPv6 sets (read off a namespace) no longer refuses an IPv4 trace at an IPv6
    element ('bad address'): an inet6 set is read without its elements."""
    sets = ipset.load(RED / "ipset-dual")
    assert [(s.name, s.family, len(s.entries)) for s in sets.values()] == [("KUBE6", 6, 0), ("K4", 4, 2),
                                                                           ("ALL6", 6, 0)]  # fmt: skip


@pytest.mark.parametrize(("family", "rule", "packet", "said"), [
    (4, "-A FORWARD -m set --match-set K4 src -j DROP", "tcp 10.0.0.1:5 > 192.168.2.9:80 syn in eth0", "DROP"),
    (6, "-A FORWARD -m set --match-set KUBE6 src -j DROP", "tcp [2001:db8:6::9]:5 > [2001:db8:5::9]:80 syn in d1",
     "could not decide -m set (set KUBE6: IPv6 sets (ipset family inet6) are not modelled)"),
    (4, "-A FORWARD -m set --match-set ALL6 src -j DROP", "tcp 10.0.0.1:5 > 192.168.2.9:80 syn in eth0",
     "could not decide -m set (set ALL6 is an IPv6 set (ipset family inet6): iptables refuses such a rule, so the "
     "ipset file is not this rules' (libxt_set))"),
    (6, "-A FORWARD -m set --match-set K4 src -j DROP", "tcp [2001:db8:6::9]:5 > [2001:db8:5::9]:80 syn in d1",
     "could not decide -m set (set K4 is an IPv4 set (ipset family inet): ip6tables refuses such a rule, so the "
     "ipset file is not this rules' (libxt_set))"),
])  # fmt: skip
def test_sets_of_either_family(tmp_path: Path, family: int, rule: str, packet: str, said: str) -> None:
    node = _set_node(tmp_path, rule, family)
    p, iif = tr.parse_packet(packet)
    (o,) = tr.trace(node, p, iif).outcomes
    (step,) = [s for s in o.legs[0].steps if "match-set" in s.text]
    assert step.effect == said if said == "DROP" else step.effect.startswith(said)


@pytest.mark.parametrize(("packet", "kind", "oif"), [
    ("tcp [fe80::9]:1111 > [fe80::90e6:cff:fe91:bd76]:80 syn in r1", "forward", "r1"),  # r0's link-local
    ("tcp [fe80::9]:1111 > [fe80::90e6:cff:fe91:bd76]:80 syn in r0", "local", None),
    ("tcp [fe80::9]:1111 > [fe80::80a7:f5ff:fee1:234a]:80 syn in r0", "forward", "r0"),  # r1's link-local
    ("tcp [fd00:2::9]:1111 > [fd00:1::1]:80 syn in r1", "local", None),  # a global address: any device
])  # fmt: skip
def test_a_link_local_address_is_local_only_on_its_own_link(packet: str, kind: str, oif: str | None) -> None:
    a = RED / "a"
    node = tr.Node.load(a / "ip6tables-save", a / "ip6-route", a / "ip6-rule", a / "ip-addr", family=6)
    p, iif = tr.parse_packet(packet)
    (o,) = tr.trace(node, p, iif).outcomes
    assert (o.legs[0].kind, o.legs[0].oif) == (kind, oif)


def test_a_temporary_address_says_the_source_depends_on_use_tempaddr() -> None:
    """With use_tempaddr 2 the kernel chose the temporary address (SOURCE.md); the dump cannot say which setting
    the node has, so the public one hairpin assumes comes with the warning."""
    node = tr.Node.load(RED / "tempaddr-ip6tables-save", RED / "tempaddr-ip6-route", addrs_file=RED / "tempaddr-ip-addr",
                        family=6)  # fmt: skip
    p, iif = tr.parse_packet("tcp [2001:db8:6::9]:5 > [2001:db8:5::99]:80 syn in d1")
    (o,) = tr.trace(node, p, iif).outcomes
    assert str(o.legs[0].out_packet) == "tcp [2001:db8:5::7]:5 > [2001:db8:5::99]:80 SYN"
    assert node.routing.warnings == [
        f"{RED}/tempaddr-ip6-route:1: no ip rule file: the kernel's default rules are assumed (local, main), so "
        "tables 10, custom here are never looked up; packets an ip rule sends there are traced by table main's "
        "routes instead: give `ip -6 rule show` (--rules FILE; hairpin collect saves it)",
        f"{RED}/tempaddr-ip-addr:11: 2001:db8:5:0:faed:ff27:e621:607b/64 on d0 is temporary: as a source "
        "(MASQUERADE, the node's own packets) the kernel prefers it to a public address when "
        "net.ipv6.conf.d0.use_tempaddr is 2, the public one when 1 (ipv6_get_saddr_eval rule 7), which the dump "
        "does not say: the public one is assumed"]  # fmt: skip


@pytest.mark.parametrize("name", ["from-ip6-route", "from-ip6-route.json"])
def test_a_source_specific_route_is_left_out_said(name: str) -> None:
    """The kernel routed 2001:db8:40::1 from 2001:db8:5::9 by the source-specific route (dev d1) and found no
    route from 2001:db8:9::9 (SOURCE.md): neither is modelled, so the route is left out with a warning, in
    either form (ip -j route's ``from`` key was dropped before, the route read as one for every source)."""
    node = tr.Node.load(RED / "empty-save", RED / name, addrs_file=RED / "tempaddr-ip-addr", family=6)
    assert (f"{RED}/{name}:11: ignored route 2001:db8:40::/48 via 2001:db8:6::fe dev d1 from 2001:db8:5::/64: "
            "source-specific routes are not modelled, so a packet to 2001:db8:40::/48 may be routed otherwise, from "
            "any source") in node.routing.warnings  # fmt: skip
    main = [e.describe() for e in node.routing.routing.tables[254] if e.describe().startswith("2001:db8:40::")]
    assert main == ["2001:db8:40::/48 via 2001:db8:5::fe dev d0"]


@pytest.mark.parametrize(("text", "family", "error"), [
    # ip route show, ip -j route of `ip route add 10.8.0.0/16 via inet6 fe80::2 dev r0` (Linux 6.18, iproute2 6.1)
    ("10.8.0.0/16 via inet6 fe80::2 dev r0 \n", 4,
     "r:1: a next hop of the other family (via inet6 fe80::2) is not modelled"),
    ('[{"dst":"10.8.0.0/16","via":{"family":"inet6","host":"fe80::2"},"dev":"r0","flags":[]}]', 4,
     "r: ip -j route entry 1: a next hop of the other family (via inet6 fe80::2) is not modelled"),
    # not a form the kernel makes (an IPv6 route takes no RTA_VIA), refused alike
    ("fd00:8::/64 via inet 10.0.0.2 dev r0 metric 1024 pref medium\n", 6,
     "r:1: a next hop of the other family (via inet 10.0.0.2) is not modelled"),
])  # fmt: skip
def test_a_next_hop_of_the_other_family_is_refused(text: str, family: int, error: str) -> None:
    with pytest.raises(ParseError) as e:
        forms.read_routes(text, "r", iproute.TableNames(), family)
    assert str(e.value) == error


def test_the_first_line_says_a_syn_tcp_does_not_answer_is_not_answered(capsys: pytest.CaptureFixture[str]) -> None:
    # until 2026-12-03 it said "every reply returns the way its request came" of a SYN no reply answers
    from hairpin.cli.main import main

    def first(packet: str) -> str:
        with pytest.raises(SystemExit) as e:
            main(["trace", "--node", str(SEED6), "--reply", packet])
        assert e.value.code == 0
        return capsys.readouterr().out.splitlines()[0]

    assert first("tcp [::ffff:10.0.0.9]:1111 > [2600:1f14:a::23]:22 syn in eth0") == (
        "hairpin trace: 1 outcome(s): 1 delivered and not answered (see its reply) (see the warning below)"
    )
    # the subnet router anycast address (anycast 2600:1f14:a:: in the local table): delivered, never answered
    assert first("tcp [2600:1f14:a::99]:1111 > [2600:1f14:a::]:22 syn in eth0") == (
        "hairpin trace: 1 outcome(s): 1 delivered and not answered (see its reply) (see the warning below)"
    )
    assert first("tcp [2600:1f14:a::99]:1111 > [2600:1f14:a::23]:22 syn in eth0") == (
        "hairpin trace: 1 outcome(s), every reply returns the way its request came (see the warning below)"
    )
