"""iproute2 and net-tools output in and out: a real kernel's dumps round-trip, build the right routing
model, and bad lines are located."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin import trace as tr
from hairpin.errors import InputError, ParseError
from hairpin.model.net import ip_int, ip_str
from hairpin.parsers import iproute, iptables_save
from hairpin.parsers.node import read_node

REAL = Path(__file__).parent / "data" / "trace" / "real-node1"  # read off a kernel (6.18, iproute2 6.x, nf_tables)


def test_real_dumps_round_trip_byte_for_byte() -> None:
    text = (REAL / "ip-route").read_text()
    assert iproute.format_ip_routes(iproute.parse_ip_routes(text)) == text
    text = (REAL / "ip-rule").read_text()
    assert iproute.format_ip_rules(iproute.parse_ip_rules(text)) == text
    text = (REAL / "ip-addr").read_text()
    assert iproute.format_addrs(iproute.parse_addrs(text)) == text
    text = (REAL / "route-n").read_text()
    assert iproute.format_route_n(iproute.parse_route_n(text)) == text


def test_real_iptables_save_round_trips_apart_from_its_comments() -> None:
    text = (REAL / "iptables-save").read_text()
    body = [line for line in text.splitlines() if not line.startswith("#")]
    out = [line for line in iptables_save.dump(iptables_save.parse(text)).splitlines() if not line.startswith("#")]
    assert out == body


def test_real_dumps_give_the_kernels_routing_decisions() -> None:
    nr = read_node(None, REAL / "ip-route", REAL / "ip-rule", REAL / "ip-addr").routing
    r = nr.routing.lookup(ip_int("192.168.27.239"), ip_int("192.168.2.3"), "eth0")
    assert (r.type, r.dev, r.rule.priority if r.rule else None) == ("unicast", "enie348bef9edc", 512)
    r = nr.routing.lookup(ip_int("192.168.39.2"), 0, None)
    assert (r.type, r.dev, ip_str(r.gateway or 0), r.table) == ("unicast", "eth0", "192.168.0.1", 254)
    assert nr.routing.lookup(ip_int("192.168.2.3")).type == "local"
    assert nr.warnings == []


def test_route_n_alone_needs_the_addresses() -> None:
    with pytest.raises(InputError) as e:
        read_node(None, REAL / "route-n")
    assert str(e.value) == (f"{REAL / 'route-n'}: no local addresses: give the addresses (ip -4 -o addr) or the "
                            "local table (ip -4 route show table all)")  # fmt: skip
    nr = read_node(None, REAL / "route-n", None, REAL / "ip-addr").routing
    assert nr.routing.lookup(ip_int("192.168.16.142")).dev == "eni851d8a400b6"


def test_the_real_node_traces_like_the_generated_one() -> None:
    f = tr.Node.find(REAL)
    n = tr.Node.load(f["iptables"], f["routes"], f.get("rules"), f.get("addrs"))
    packet, iif = tr.parse_packet("tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0")
    t = tr.trace(n, packet, iif, reply=True)
    assert [str(o.legs[0].out_packet.dest) for o in t.outcomes if o.legs[0].out_packet] == [
        "192.168.39.2:80", "192.168.49.70:80", "192.168.16.142:80"]  # fmt: skip
    assert all(o.asymmetric for o in t.outcomes)


@pytest.mark.parametrize(("text", "line", "what"), [
    ("default via 192.168.0.1 dev eth0\n192.168.300.0/24 dev eth0\n", 2, "192.168.300.0/24"),
    ("default via 192.168.0.1 dev eth0 bogus-word\n", 1, "bogus-word"),
])  # fmt: skip
def test_bad_route_lines_are_located(text: str, line: int, what: str) -> None:
    with pytest.raises(ParseError) as e:
        iproute.parse_ip_routes(text, "routes")
    assert e.value.file == "routes" and e.value.line == line and what in str(e.value)


octet = st.integers(0, 255)
prefixes = st.tuples(octet, octet, octet, st.integers(8, 32)).map(  # canonical, as the kernel prints them
    lambda t: str(ipaddress.ip_network(f"10.{t[0]}.{t[1]}.{t[2]}/{t[3]}", strict=False)).removesuffix("/32")
)
devs = st.sampled_from(["eth0", "eth1", "eni0a1b2c3d4e5", "vlan.100"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(prefixes, st.one_of(st.none(), st.tuples(octet, octet)), devs,
                          st.sampled_from(["", " proto kernel", " proto static"]), st.sampled_from(["", " metric 100"])),
                min_size=1, max_size=10))  # fmt: skip
def test_route_lines_round_trip(items: list[tuple[str, tuple[int, int] | None, str, str, str]]) -> None:
    lines = []
    for prefix, via, dev, proto, metric in items:
        gw = f" via 10.255.{via[0]}.{via[1]}" if via else ""
        scope = " scope link" if via is None else ""
        lines.append(f"{prefix}{gw} dev {dev}{proto}{scope}{metric} \n")
    text = "".join(dict.fromkeys(lines))  # a listing shows a route once (a repeat is refused: below)
    assert iproute.format_ip_routes(iproute.parse_ip_routes(text)) == text


def test_a_rule_listed_twice_is_two_listings_pasted_together() -> None:
    """The kernel holds each rule once (`ip rule add` of an existing one: "RTNETLINK answers: File exists",
    checked in a namespace): a listing with the same line twice is refused at the second, text and JSON."""
    one = "0:\tfrom all lookup local\n512:\tfrom all to 192.168.27.239 lookup main\n32766:\tfrom all lookup main\n"
    assert len(iproute.parse_ip_rules(one, "r")) == 3
    with pytest.raises(ParseError) as e:
        iproute.parse_ip_rules(one + one, "r")
    assert str(e.value) == ("r:4: rule '0: from all lookup local' again (first at line 1): the kernel holds each rule "
                            "once, so one ip rule listing never shows it twice (two listings pasted together?)")  # fmt: skip
    # the same selector at another priority, or another table, is another rule
    assert len(iproute.parse_ip_rules(one + "100:\tfrom all lookup local\n0:\tfrom all lookup 100\n", "r")) == 5
    from hairpin.parsers import forms

    doc = '[{"priority": 0, "src": "all", "table": "local"}, {"priority": 0, "src": "all", "table": "local"}]'
    with pytest.raises(ParseError) as e:
        forms.read_rules(doc, "r.json", iproute.TableNames())
    assert str(e.value) == ("r.json: ip -j rule entry 2: rule '0: from all lookup local' again (first at entry 1): the "
                            "kernel holds each rule once, so one ip rule listing never shows it twice (two listings "
                            "pasted together?)")  # fmt: skip


def test_a_route_listed_twice_is_two_listings_pasted_together() -> None:
    """The kernel holds each route once (`ip route add` and `append` of an existing one: "RTNETLINK answers:
    File exists", checked in a namespace); the same prefix by another gateway (`append`) is another route."""
    one = ("default via 192.168.0.1 dev eth0\n192.168.0.0/19 dev eth0 proto kernel scope link src 192.168.2.3\n"
           "local 192.168.2.3 dev eth0 table local proto kernel scope host src 192.168.2.3\n")
    assert len(iproute.parse_ip_routes(one, "r")) == 3
    with pytest.raises(ParseError) as e:
        iproute.parse_ip_routes(one + one.replace("192.168.2.3", "192.168.21.86"), "r")
    assert str(e.value) == ("r:4: route 'default via 192.168.0.1 dev eth0' again (first at line 1): the kernel holds "
                            "each route once, so one ip route listing never shows it twice (two listings pasted "
                            "together?)")  # fmt: skip
    assert len(iproute.parse_ip_routes(one + "default via 192.168.0.2 dev eth0\n", "r")) == 4
    assert len(iproute.parse_ip_routes("10.0.0.0/8 dev eth0\n10.0.0.0/8 dev eth0\n", "r", repeats=True)) == 2
