"""Routing state read off a real namespace (tests/data/trace/v6-red/SOURCE.md) traced as the kernel answered it:
a ``throw`` route sends the lookup on to the next rule in either family."""

from __future__ import annotations

from pathlib import Path

import pytest

from hairpin import trace as tr

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
