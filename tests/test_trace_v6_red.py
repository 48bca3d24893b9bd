"""Routing state read off a real namespace (tests/data/trace/v6-red/SOURCE.md) traced as the kernel answered it:
a ``throw`` route sends the lookup on to the next rule in either family; and IPv4-mapped addresses, as the kernel
treats and prints them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from hairpin import trace as tr
from hairpin.model.net import addr_int, ip_str

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
