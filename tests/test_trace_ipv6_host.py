"""The IPv6 host path's own facts (hairpin.ip6), IPv6 packets as ``trace`` reads them, and what differs by family
when a node's files are read: REDIRECT's address, conntrack listings, telling a file's family, collect's files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin import collect, ip6
from hairpin import trace as tr
from hairpin.model.net import V6, addr_int
from hairpin.parsers import conntrack_list, forms


def a(text: str) -> int:
    return addr_int(text)


@pytest.mark.parametrize(("src", "dst", "iif", "why"), [
    ("::1", "fd01::2", "eth0", "loopback source ::1 on eth0, not lo (ip6_rcv_core, RFC 4291 2.5.3)"),
    ("fd01::1", "::1", "eth0", "loopback destination ::1 on eth0, not lo (ip6_rcv_core, RFC 4291 2.5.3)"),
    ("::1", "::1", "lo", None),
    ("ff02::1", "fd01::2", "eth0", "multicast source (ip6_rcv_core, RFC 4291 2.7)"),
    ("fd01::1", "ff00::1", "eth0", "multicast destination of reserved scope 0 (ip6_rcv_core, RFC 4291 2.7)"),
    ("fd01::1", "ff01::1", "eth0",
     "interface-local multicast destination from eth0 (ip6_rcv_core, RFC 4291 errata 3480)"),
    ("fd01::1", "ff01::1", "lo", None),
    ("fe80::1", "fd01::2", "eth0", None),  # link-local sources are received (forwarding refuses them)
    ("fd01::2", "fd01::2", "eth0", None),  # the node's own address as source: no martian check in IPv6
    ("::", "fd01::2", "eth0", None),
])  # fmt: skip
def test_what_ip6_rcv_core_drops_before_any_hook(src: str, dst: str, iif: str, why: str | None) -> None:
    assert ip6.receive_refusal(a(src), a(dst), iif) == why


def test_ipv4_packets_are_not_ip6_rcv_cores() -> None:
    assert ip6.receive_refusal(a("127.0.0.1"), a("10.0.0.1"), "eth0") is None


@pytest.mark.parametrize(("src", "why"), [
    ("fd01::1", None),
    ("2600:1f14::5", None),
    ("fe80::1", "link-local source, never forwarded (ip6_forward: ICMPv6 destination unreachable, beyond scope of "
                "source address)"),
    ("::", "unspecified source, never forwarded (ip6_forward)"),
    ("::1", "loopback source, never forwarded (ip6_forward)"),
    ("ff05::2", "multicast source, never forwarded (ip6_forward)"),
])  # fmt: skip
def test_what_ip6_forward_refuses(src: str, why: str | None) -> None:
    assert ip6.forward_refusal(a(src), same_link=False) == why
    assert ip6.forward_refusal(a(src), same_link=True) is None  # back out its own link: checked by nothing


def test_scopes() -> None:
    assert [ip6.scope(a(x)) for x in ("::1", "fe80::1", "febf::1", "fec0::1", "fd00::1", "ff02::1", "ff05::1")] == [
        "host", "link", "link", "global", "global", "link", "global"]  # fmt: skip


def test_redirect_addresses() -> None:
    eth0 = [(a("fd01::2"), 64), (a("fd01::3"), 64), (a("fe80::2"), 64)]
    assert ip6.redirect_address("OUTPUT", a("fd09::1"), eth0) == V6 | 1
    assert ip6.redirect_address("OUTPUT", a("10.0.0.9"), []) == a("127.0.0.1")
    assert ip6.redirect_address("PREROUTING", a("fd09::1"), eth0) == a("fd01::2")
    # a link-local destination: the device's first link-local address (nf_nat_redirect_ipv6_usable: the scope)
    assert ip6.redirect_address("PREROUTING", a("fe80::9"), eth0) == a("fe80::2")
    # a global destination takes any scope: only a link-local address on the device
    assert ip6.redirect_address("PREROUTING", a("fd09::1"), [(a("fe80::2"), 64)]) == a("fe80::2")
    assert ip6.redirect_address("PREROUTING", a("fe80::9"), [(a("fd01::2"), 64)]) is None
    assert ip6.redirect_address("PREROUTING", a("fd09::1"), []) is None
    assert ip6.redirect_address("PREROUTING", a("10.0.0.9"), [(a("10.1.0.2"), 24), (a("10.1.0.3"), 24)]) == a("10.1.0.2")
    assert ip6.redirect_address("PREROUTING", a("10.0.0.9"), []) is None


def test_redirect_on_a_device_without_address_drops(tmp_path: Path) -> None:
    """A pod's host-side veth (the VPC CNI's eniXXX) holds no IPv4 address: REDIRECT drops what arrives on it
    (nf_nat_redirect_ipv4: ``if (!newdst.ip) return NF_DROP``), it does not borrow another device's address."""
    (tmp_path / "ipt").write_text("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp -j REDIRECT --to-ports 80\n"
                                  "COMMIT\n")  # fmt: skip
    (tmp_path / "routes").write_text("default via 10.1.0.1 dev eth0\n10.1.0.0/24 dev eth0 proto kernel scope link src "
                                     "10.1.0.2\n10.1.0.50 dev eni1 scope link\nlocal 10.1.0.2 dev eth0 table local proto "
                                     "kernel scope host src 10.1.0.2\n")  # fmt: skip
    n = tr.Node.load(tmp_path / "ipt", tmp_path / "routes")
    p, iif = tr.parse_packet("udp 10.1.0.50:1234 > 10.7.0.9:53 in eni1")
    (o,) = tr.trace(n, p, iif).outcomes
    assert o.legs[0].verdict == "dropped in nat PREROUTING"
    assert "REDIRECT: eni1 has no address to redirect to: drop (nf_nat_redirect)" in o.legs[0].notes


@pytest.mark.parametrize(("text", "src", "dst", "iif"), [
    ("tcp [fd00::1]:1234 > [fd00::2]:80 syn in eth0", "fd00::1", "fd00::2", "eth0"),
    ("udp [2600:1f14:abc::7]:53 > [fe80::1]:5353 out", "2600:1f14:abc::7", "fe80::1", None),
    ("tcp [::ffff:10.0.0.1]:1 > [::1]:2 in lo", "::ffff:10.0.0.1", "::1", "lo"),
])  # fmt: skip
def test_ipv6_packets(text: str, src: str, dst: str, iif: str | None) -> None:
    p, got = tr.parse_packet(text)
    assert (p.src, p.dst, got) == (a(src), a(dst), iif)
    assert str(p).startswith(f"{p.proto} [{src}]:")  # an IPv4-mapped address as ip prints it


@pytest.mark.parametrize(("text", "message"), [
    ("tcp fd00::1.1234 > fd00::2.80 in eth0", "write an IPv6 endpoint in brackets, e.g. 'tcp [fd00::1]:1234 > "
                                              "[fd00::2]:80 syn in eth0'"),
    ("tcp [::1]:5 > 6.7.8.9:10 out", "one IPv4 and one IPv6 endpoint; a packet's addresses are of one family"),
    ("tcp [fd00::1::2]:5 > [::1]:10 out", "At most one '::' permitted in 'fd00::1::2'"),
    ("tcp [1.2.3.4]:5 > [::1]:10 out", "expected 'tcp SRC:PORT > DST:PORT [FLAGS] (in IFACE | out)' (IPv6: [ADDR]:PORT)"),
])  # fmt: skip
def test_bad_ipv6_packets(text: str, message: str) -> None:
    with pytest.raises(tr.InputError) as e:
        tr.parse_packet(text)
    assert message in str(e.value)


CT = """tcp      6 431999 ESTABLISHED src=fd00::1 dst=fd00::2 sport=1 dport=2 src=fd00::2 dst=fd00::1 sport=2 dport=1 [ASSURED] mark=0 use=1
ipv6     10 udp      17 29 src=fd00::1 dst=fd00::3 sport=5 dport=53 src=fd00::9 dst=fd00::1 sport=53 dport=5 mark=3 use=1
tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 [ASSURED] mark=0 use=1
ipv4     2 udp      17 29 src=10.0.0.1 dst=10.0.0.3 sport=5 dport=53 src=10.0.0.3 dst=10.0.0.1 sport=53 dport=5 mark=0 use=1
"""


def test_conntrack_listings_by_family() -> None:
    six = conntrack_list.parse(CT, "ct", 6)
    assert [(c.line, c.orig, c.reply, c.mark) for c in six] == [
        (1, (a("fd00::1"), 1, a("fd00::2"), 2, "tcp"), (a("fd00::2"), 2, a("fd00::1"), 1, "tcp"), 0),
        (2, (a("fd00::1"), 5, a("fd00::3"), 53, "udp"), (a("fd00::9"), 53, a("fd00::1"), 5, "udp"), 3)]  # fmt: skip
    assert [c.line for c in conntrack_list.parse(CT, "ct")] == [3, 4]
    with pytest.raises(tr.InputError, match=r"^ct:1: bad tuple"):
        conntrack_list.parse("tcp 6 1 ESTABLISHED src=fd00::1 dst=fd00::zz sport=1 dport=2 src=fd00::2 dst=fd00::1 "
                             "sport=2 dport=1\n", "ct", 6)  # fmt: skip


@pytest.mark.parametrize(("text", "kind", "family"), [
    ("# Generated by ip6tables-save v1.8.9 (nf_tables) on Wed\n*filter\n", "iptables", 6),
    ("# Generated by ip6tables-legacy-save v1.8.9 on Wed\n*filter\n", "iptables", 6),
    ("# Generated by iptables-nft-save v1.8.9 (nf_tables) on Wed\n*filter\n", "iptables", 4),
    ("-P INPUT ACCEPT\n-A KUBE-SERVICES -d fd00:10:96::1/128 -p tcp -j KUBE-SVC-X\n", "iptables", 6),
    ("-P INPUT ACCEPT\n-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment \"ns/a:b\" -j X\n", "iptables", 4),
    ("-P INPUT ACCEPT\n-A INPUT -m mac --mac-source 02:00:00:00:0a:00 -j ACCEPT\n", "iptables", None),
    ("default via fe80::1 dev eth0 proto ra metric 1024 expires 1798sec pref medium\n", "routes", 6),
    ("default via 10.0.0.1 dev eth0\n", "routes", 4),
    ("Kernel IP routing table\nDestination     Gateway\n", "routes", 4),
    ('[{"dst":"fd00::/64","dev":"eth0"}]', "routes", 6),
    ("0:\tfrom all lookup local\n32766:\tfrom all lookup main\n", "rules", None),
    ("0:\tfrom all lookup local\n100:\tfrom fd00::5 lookup 100\n", "rules", 6),
    ("1: lo    inet 127.0.0.1/8 scope host lo\n1: lo    inet6 ::1/128 scope host\n", "addrs", None),
])  # fmt: skip
def test_a_files_family_by_its_content(text: str, kind: str, family: int | None) -> None:
    assert forms.family_of(text, kind) == family


def test_collect_keeps_the_ipv6_state_when_printed() -> None:
    assert collect.COMMANDS["ip6tables-save"] == (("ip6tables-save",), False)
    assert collect.COMMANDS["ip6tables-legacy-save"] == (("ip6tables-legacy-save",), False)
    assert collect.COMMANDS["ip6-route"] == (("ip", "-6", "route", "show", "table", "all"), False)
    assert collect.COMMANDS["ip6-rule"] == (("ip", "-6", "rule", "show"), False)
    assert collect.COMMANDS["conntrack6"] == (("conntrack", "-L", "-f", "ipv6"), False)
    script = collect.script()
    assert "{ ip -6 route show table all > ip6-route && test -s ip6-route; } 2>/dev/null || rm -f ip6-route\n" in script
    assert all(n in tr.FILES6[k] for k, n in (("iptables", "ip6tables-save"), ("routes", "ip6-route"),
                                              ("rules", "ip6-rule")))  # fmt: skip


def test_a_multicast_destination_is_refused() -> None:
    node = tr.Node(tr.Ruleset(), _no_routing(), family=6)
    p, iif = tr.parse_packet("udp [fd01::1]:5 > [ff05::1:3]:547 in eth0")
    with pytest.raises(tr.InputError) as e:
        tr.check_packet(node, p, iif)
    assert str(e.value) == ("packet udp [fd01::1]:5 > [ff05::1:3]:547 -: a multicast destination is not traced (IPv6 "
                            "multicast routing and MLD are not modelled)")  # fmt: skip


def test_a_packet_of_the_other_family_than_the_node_is_refused() -> None:
    node = tr.Node(tr.Ruleset(), _no_routing())
    p, iif = tr.parse_packet("tcp [fd01::1]:5 > [fd01::2]:80 in eth0")
    with pytest.raises(tr.InputError) as e:
        tr.check_packet(node, p, iif)
    assert str(e.value) == ("packet tcp [fd01::1]:5 > [fd01::2]:80 SYN: an IPv6 packet, but the node's files are IPv4's "
                            "(iptables-save, ip -4 route): give ip6tables-save and ip -6 route show table all (ip -6 "
                            "rule)")  # fmt: skip


def _no_routing() -> tr.iproute.NodeRouting:
    from hairpin.routing import Routing

    return tr.iproute.NodeRouting(Routing(), [], [], [], tr.iproute.TableNames())


@settings(max_examples=300, deadline=None)
@given(st.ip_addresses(v=6), st.ip_addresses(v=6), st.integers(0, 65535), st.integers(0, 65535),
       st.sampled_from(["syn", "syn,ack", "rst", "ack", ""]), st.sampled_from(["tcp", "udp"]),
       st.sampled_from(["in eth0", "out"]))  # fmt: skip
def test_any_ipv6_packet_reads_back_as_written(src: object, dst: object, sport: int, dport: int, flags: str,
                                               proto: str, where: str) -> None:  # fmt: skip
    """Every IPv6 address in any of its RFC 5952 or expanded spellings, any port: the packet read is the one
    written, and it prints its endpoints as it reads them."""
    text = f"{proto} [{src}]:{sport} > [{dst}]:{dport}{' ' + flags if flags and proto == 'tcp' else ''} {where}"
    p, iif = tr.parse_packet(text)
    assert (p.src, p.sport, p.dst, p.dport, p.proto) == (a(str(src)), sport, a(str(dst)), dport, proto)
    assert iif == ("eth0" if where == "in eth0" else None)
    again, _ = tr.parse_packet(f"{p} {where}".replace(" - ", " ") if proto == "udp" else f"{p} {where}")
    assert (again.src, again.sport, again.dst, again.dport) == (p.src, p.sport, p.dst, p.dport)
    long = f"{proto} [{src.exploded}]:{sport} > [{dst.exploded}]:{dport} {where}"  # type: ignore[attr-defined]
    exploded, _ = tr.parse_packet(long)
    assert (exploded.src, exploded.dst) == (p.src, p.dst)
