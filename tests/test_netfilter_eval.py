"""Rule matching and targets, each asserted on exact marks, verdicts and NAT decisions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin.model.net import Flags, Packet, ip_int
from hairpin.netfilter.evaluate import Context, Evaluator
from hairpin.parsers import iptables_save

CLIENT = ip_int("192.168.27.239")
NODE = ip_int("192.168.2.3")


class FakeHost:
    def __init__(self, local: dict[int, str]) -> None:
        self.local = local

    def is_local(self, addr: int, iface: str | None = None) -> bool:
        dev = self.local.get(addr)
        return dev is not None and (iface is None or iface == dev)


HOST = FakeHost({NODE: "eth0", ip_int("127.0.0.1"): "lo"})


def ev(text: str) -> Evaluator:
    return Evaluator(iptables_save.parse(text, "t"))


def ctx(p: Packet, **kw: object) -> Context:
    return Context(p, HOST, "PREROUTING", **kw)  # type: ignore[arg-type]


SYN = Packet(CLIENT, 49134, NODE, 31468, Flags.SYN, seq=1)

NAT = """*nat
:PREROUTING ACCEPT [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-X - [0:0]
:KUBE-SEP-A - [0:0]
:KUBE-SEP-B - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL --limit-iface-in -j KUBE-NODEPORTS
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-NODEPORTS -p tcp -m comment --comment "ns/svc:" -m tcp --dport 31468 -j KUBE-MARK-MASQ
-A KUBE-NODEPORTS -p tcp -m comment --comment "ns/svc:" -m tcp --dport 31468 -j KUBE-SVC-X
-A KUBE-SVC-X -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A
-A KUBE-SVC-X -j KUBE-SEP-B
-A KUBE-SEP-A -s 192.168.16.142/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination 192.168.16.142:80
-A KUBE-SEP-B -p tcp -m tcp -j DNAT --to-destination 192.168.39.2:80
COMMIT
"""


@pytest.mark.parametrize(("first", "dest"), [(True, "192.168.16.142"), (False, "192.168.39.2")])
def test_nodeport_dnat_follows_the_random_choice(first: bool, dest: str) -> None:
    asked: list[float] = []

    def choose(p: float, rule: object) -> bool:
        asked.append(p)
        return first

    c = ctx(SYN, iif="eth0", choose=choose)
    v = ev(NAT).run("nat", "PREROUTING", c)
    assert v.verdict == "ACCEPT"
    assert v.nat is not None and v.nat.kind == "DNAT" and v.nat.addr == ip_int(dest) and v.nat.port == 80
    assert c.mark == 0x4000
    assert asked == [0.5]
    assert v.rule is not None and v.rule.chain == ("KUBE-SEP-A" if first else "KUBE-SEP-B")


def test_addrtype_limit_iface_in_needs_the_address_on_the_input_interface() -> None:
    c = ctx(SYN, iif="eni1", choose=lambda p, r: True)
    v = ev(NAT).run("nat", "PREROUTING", c)
    assert v.nat is None and v.verdict == "ACCEPT" and c.mark == 0


def test_mark_and_connmark_targets() -> None:
    text = """*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -i eth0 -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-xmark 0x80/0x80
-A PREROUTING -i eni+ -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80
-A PREROUTING -m mark --mark 0x80/0x80 -j MARK --or-mark 0x1
-A PREROUTING -m connmark ! --mark 0x0/0x80 -j MARK --xor-mark 0x100
COMMIT
"""
    e = ev(text)
    c1 = ctx(SYN, iif="eth0", ctmark=0x4)
    e.run("mangle", "PREROUTING", c1)
    assert (c1.ctmark, c1.mark) == (0x84, 0x100)
    reply = Packet(ip_int("192.168.16.142"), 80, NODE, 10618, Flags.SYN | Flags.ACK)
    c2 = ctx(reply, iif="eni1a2b", ctmark=0x84, mark=0x3)
    e.run("mangle", "PREROUTING", c2)
    # restore: mark = (0x3 & ~0x80) ^ (0x84 & 0x80) = 0x83; then or 0x1; then xor 0x100
    assert c2.mark == 0x183


def test_negation_multiport_conntrack_and_policy() -> None:
    text = """*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:SUB - [0:0]
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT ! -s 192.168.0.0/16 -j DROP
-A INPUT -p tcp -m multiport --dports 22,8000:9000 -j SUB
-A SUB -p tcp -m tcp --tcp-flags SYN,RST,ACK,FIN SYN -j RETURN
-A SUB -j ACCEPT
COMMIT
"""
    e = ev(text)
    p = Packet(CLIENT, 40000, NODE, 8080, Flags.SYN)
    assert e.run("filter", "INPUT", ctx(p)).verdict == "DROP"  # SUB returns for a SYN, policy DROP
    assert e.run("filter", "INPUT", ctx(Packet(CLIENT, 40000, NODE, 8080, Flags.ACK))).verdict == "ACCEPT"
    assert e.run("filter", "INPUT", ctx(p, ctstate="INVALID")).rule.line == 6  # type: ignore[union-attr]
    outside = Packet(ip_int("10.0.0.1"), 1, NODE, 22, Flags.ACK)
    v = e.run("filter", "INPUT", ctx(outside))
    assert v.verdict == "DROP" and v.rule is not None and v.rule.line == 7


def test_goto_returns_to_the_callers_caller() -> None:
    text = """*filter
:INPUT ACCEPT [0:0]
:A - [0:0]
:B - [0:0]
-A INPUT -j A
-A INPUT -j DROP
-A A -g B
-A A -j ACCEPT
-A B -j RETURN
COMMIT
"""
    v = ev(text).run("filter", "INPUT", ctx(SYN))
    assert v.verdict == "DROP" and v.rule is not None and v.rule.line == 6


def test_unknown_match_is_reported_and_assumed_not_to_match() -> None:
    text = """*filter
:INPUT ACCEPT [0:0]
-A INPUT -m set --match-set cali40all-hosts src -j DROP
COMMIT
"""
    e = ev(text)
    assert e.unknown_rules()[0][1] == "-m set"
    seen: list[str] = []
    v = e.run("filter", "INPUT", ctx(SYN, unknown=lambda r, what: seen.append(what) or False))
    assert v.verdict == "ACCEPT" and seen == ["-m set"]


def _many_services(n: int) -> str:
    lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]"]
    lines += [f":KUBE-SVC-{i} - [0:0]" for i in range(n)]
    lines.append("-A PREROUTING -j KUBE-SERVICES")
    for i in range(n):
        lines.append(f"-A KUBE-SERVICES -d 10.100.{i // 250}.{i % 250}/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-{i}")
        lines.append(f"-A KUBE-SVC-{i} -p tcp -j DNAT --to-destination 192.168.{i // 250}.{i % 250}:8080")
    lines.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j MARK --set-xmark 0x1/0x1")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


@given(st.integers(0, 199), st.sampled_from([80, 81]), st.booleans())
def test_indexed_chain_agrees_with_rule_by_rule(i: int, port: int, local: bool) -> None:
    text = _many_services(200)
    indexed = ev(text)
    plain = ev(text)
    plain.index.clear()
    dst = NODE if local else ip_int(f"10.100.{i // 250}.{i % 250}")
    p = Packet(CLIENT, 1234, dst, port, Flags.SYN)
    a, b = ctx(p), ctx(p)
    va, vb = indexed.run("nat", "PREROUTING", a), plain.run("nat", "PREROUTING", b)
    assert (va.verdict, va.nat, a.mark) == (vb.verdict, vb.nat, b.mark)
    if not local and port == 80:
        assert va.nat is not None and va.nat.addr == ip_int(f"192.168.{i // 250}.{i % 250}")


NETS = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32", "192.168.0.0/16", "192.168.2.3/32"]
ADDRS = ["10.1.2.3", "10.9.9.9", "192.168.2.3", "192.168.27.239", "172.16.0.1"]
rule_st = st.tuples(
    st.one_of(st.none(), st.tuples(st.booleans(), st.sampled_from(NETS))),  # [!] -s
    st.one_of(st.none(), st.tuples(st.booleans(), st.sampled_from(NETS))),  # [!] -d
    st.one_of(st.none(), st.sampled_from([80, 443, 31468])),  # -p tcp -m tcp --dport
    st.one_of(st.none(), st.integers(0, 3)),  # -m mark --mark V/0x3
    st.one_of(st.sampled_from(["ACCEPT", "DROP"]), st.integers(0, 3).map(lambda v: f"MARK {v}")),
)


def _in(addr: int, net: str) -> bool:
    base, _, plen = net.partition("/")
    mask = (0xFFFFFFFF << (32 - int(plen))) & 0xFFFFFFFF if plen else 0xFFFFFFFF
    return (addr & mask) == (ip_int(base) & mask)


def _naive(rules: list[tuple], p: Packet) -> tuple[str, int]:  # type: ignore[type-arg]
    """Rule by rule, from the iptables semantics alone: first terminal match wins, MARK goes on."""
    mark = 0
    for src, dst, dport, want_mark, target in rules:
        if src is not None and _in(p.src, src[1]) == src[0]:
            continue
        if dst is not None and _in(p.dst, dst[1]) == dst[0]:
            continue
        if dport is not None and p.dport != dport:
            continue
        if want_mark is not None and (mark & 0x3) != want_mark:
            continue
        if target.startswith("MARK"):
            mark = (mark & ~0x3) ^ int(target.split()[1])
            continue
        return target, mark
    return "ACCEPT", mark


def _text(rules: list[tuple]) -> str:  # type: ignore[type-arg]
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    for src, dst, dport, want_mark, target in rules:
        parts = ["-A FORWARD"]
        if src is not None:
            parts.append(f"{'! ' if src[0] else ''}-s {src[1] if '/' in src[1] else src[1] + '/32'}")
        if dst is not None:
            parts.append(f"{'! ' if dst[0] else ''}-d {dst[1] if '/' in dst[1] else dst[1] + '/32'}")
        if dport is not None:
            parts.append(f"-p tcp -m tcp --dport {dport}")
        if want_mark is not None:
            parts.append(f"-m mark --mark {want_mark:#x}/0x3")
        parts.append(
            f"-j MARK --set-xmark {int(target.split()[1]):#x}/0x3" if target.startswith("MARK") else f"-j {target}"
        )
        lines.append(" ".join(parts))
    return "\n".join([*lines, "COMMIT"]) + "\n"


@given(
    st.lists(rule_st, max_size=12),
    st.sampled_from(ADDRS),
    st.sampled_from(ADDRS),
    st.sampled_from([80, 443, 31468, 22]),
)
def test_random_rule_sets_agree_with_a_naive_evaluation(rules: list[tuple], src: str, dst: str, dport: int) -> None:  # type: ignore[type-arg]
    """For random rule sets, the compiled and indexed evaluator decides as a rule-by-rule reading does."""
    p = Packet(ip_int(src), 40000, ip_int(dst), dport, Flags.SYN)
    c = ctx(p)
    v = ev(_text(rules)).run("filter", "FORWARD", c)
    assert (v.verdict, c.mark) == _naive(rules, p)
