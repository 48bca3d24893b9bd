"""IPv6 routing state (family 6): a real kernel's ip -6 dumps in every form read alike and round-trip, the routing
model answers as the kernel's `ip -6 route get` did on the same state, source selection rule by rule, errors."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.errors import InputError, ModelError, ParseError
from hairpin.model.net import V6, addr_int, ip_str
from hairpin.parsers import forms, iproute
from hairpin.parsers.node import read_node
from hairpin.routing import LOCAL_TABLE, MAIN_TABLE, RouteEntry, Routing, RuleEntry
from hairpin.routing6 import addr_label, addr_scope, select_source

V6N = Path(__file__).parent / "data" / "trace" / "v6-node1"  # off a kernel (6.18, iproute2 6.1.0): SOURCE.md


def names() -> iproute.TableNames:
    return iproute.TableNames()


def a6(text: str) -> int:
    return addr_int(text)


# ------------------------------------------------------------------------------------------ the forms


def test_ipv6_dumps_round_trip_byte_for_byte() -> None:
    for f in ("ip-6-route", "ip-6-o-route"):  # the multipath route's next hops as laid out: lines, or \<TAB>
        text = (V6N / f).read_text()
        assert iproute.format_ip_routes(iproute.parse_ip_routes(text, f, family=6)) == text
    text = (V6N / "ip-6-rule").read_text()
    assert iproute.format_ip_rules(iproute.parse_ip_rules(text, family=6)) == text
    text = (V6N / "ip-6-o-addr").read_text()
    assert iproute.format_addrs(iproute.parse_addrs(text, family=6)) == text


@pytest.mark.parametrize(("name", "form"), [
    ("ip-6-route", "ip route"),
    ("ip-6-o-route", "ip route"),
    ("ip-6-c-route", "ip route, coloured (-c)"),
    ("ip-6-j-route.json", "ip -j route (JSON, 35 IPv6 routes)"),
    ("ip-6-j-p-route.json", "ip -j route (JSON, 35 IPv6 routes)"),
    ("ip-route-all", "ip route (7 IPv4 routes skipped)"),
])  # fmt: skip
def test_every_route_form_gives_the_same_routes(name: str, form: str) -> None:
    want = [r.entry for r in iproute.parse_ip_routes((V6N / "ip-6-route").read_text(), family=6)]
    routes, said = forms.read_routes((V6N / name).read_text(), name, names(), 6)
    assert said == form and [r.entry for r in routes] == want
    assert forms.kind_of((V6N / name).read_text()) == "routes"
    assert [forms.kind_of((V6N / f).read_text()) for f in ("ip-6-rule", "ip-6-j-rule.json", "ip-6-addr", "ip-6-o-addr",
                                                           "ip-j-addr.json", "ip-br-addr", "route-A-inet6-n")] == [
        "rules", "rules", "addrs", "addrs", "addrs", "addrs", "routes"]  # fmt: skip


def test_the_routes_read_are_the_kernels() -> None:
    routes = iproute.parse_ip_routes((V6N / "ip-6-route").read_text(), family=6)
    by = {r.line: r for r in routes}
    e = by[21].entry  # default via fe80::1 dev eth0 metric 1024 pref medium
    assert (e.net, e.mask, e.prefix, e.dev, ip_str(e.via or 0), e.type, e.table, e.metric, e.pref) == (
        V6, V6, 0, "eth0", "fe80::1", "unicast", MAIN_TABLE, 1024, "medium")
    e = by[4].entry  # multipath: the first next hop, the rest kept
    assert (ip_str(e.via or 0), e.dev, by[4].extra) == ("fe80::1", "eth0", (
        "nexthop", "via", "fe80::1", "dev", "eth0", "weight", "1", "nexthop", "via", "fe80::2", "dev", "eth0", "weight",
        "2"))  # fmt: skip
    assert (by[10].entry.type, by[10].entry.pref, by[10].proto, by[10].extra) == ("unicast", "medium", "ra",
                                                                                  ("expires", "559sec"))  # fmt: skip
    assert by[9].entry.pref == "high" and by[8].entry.pref == "low" and by[8].entry.metric == 100
    assert [(by[n].entry.type, by[n].entry.dev) for n in (11, 12, 13)] == [("blackhole", "lo"), ("prohibit", "lo"),
                                                                           ("unreachable", "lo")]  # fmt: skip
    assert by[17].entry.describe() == "fd00:8::1 dev eth0" and by[17].entry.prefix == 128
    assert by[22].entry.describe() == "local ::1 dev lo"
    assert (by[23].entry.type, by[23].entry.table, by[23].entry.describe()) == ("anycast", LOCAL_TABLE,
                                                                                 "anycast 2001:db8:1:: dev eth0")  # fmt: skip
    assert by[36].entry.describe() == "multicast ff00::/8 dev eth0"


def _addr_view(addrs: list[iproute.ParsedAddress]) -> list[tuple[str, str, list[str]]]:
    return [(a.dev, a.cidr, sorted(a.flags)) for a in addrs]


@pytest.mark.parametrize(("name", "form"), [
    ("ip-6-addr", "ip addr"), ("ip-addr", "ip addr"), ("ip-6-o-addr", "ip -o addr"), ("ip-o-addr", "ip -o addr"),
    ("ip-j-addr.json", "ip -j addr (JSON)"),
])  # fmt: skip
def test_every_address_form_gives_the_same_addresses_and_flags(name: str, form: str) -> None:
    addrs, _, said = forms.read_addrs((V6N / name).read_text(), name, 6)
    assert said == form
    assert _addr_view(addrs) == [
        ("lo", "::1/128", []), ("eth0", "fd00:1::1/64", ["dadfailed", "tentative"]),
        ("eth0", "fd00:6::1/64", ["nodad", "noprefixroute"]), ("eth0", "fd00:8::1/128", ["nodad"]),
        ("eth0", "fd00:2::5/64", ["deprecated", "nodad"]), ("eth0", "2001:db8:1::10/64", ["nodad"]),
        ("eth0", "fd00:1::10/64", ["nodad"]), ("eth0", "fe80::704c:c7ff:fe2d:68b7/64", []),
        ("eni1", "fd00:5::1/64", ["tentative"]), ("eni1", "fe80::74d3:fbff:fec6:5225/64", []),
        ("dummy0", "fd00:7::1/64", ["tentative"])]  # fmt: skip
    v4, _, _ = forms.read_addrs((V6N / name).read_text(), name)  # family 4 reads the same file's inet ones
    assert [a.cidr for a in v4] == ([] if name.startswith("ip-6") else ["127.0.0.1/8", "10.0.0.10/24"])


def test_brief_addresses_say_they_have_no_flags() -> None:
    addrs, links, said = forms.read_addrs((V6N / "ip-br-addr").read_text(), "br", 6)
    assert said == "ip -br addr (no address flags: every address taken as usable)"
    assert [a.cidr for a in addrs][:3] == ["::1/128", "fd00:1::1/64", "fd00:6::1/64"] and len(addrs) == 11
    assert all(not a.flags for a in addrs) and links == {"lo", "eth0", "eni1", "dummy0"}


def test_rules_plain_and_json_agree() -> None:
    plain, said = forms.read_rules((V6N / "ip-6-rule").read_text(), "r", names(), 6)
    js, said_j = forms.read_rules((V6N / "ip-6-j-rule.json").read_text(), "j", names(), 6)
    assert (said, said_j) == ("ip rule", "ip -j rule (JSON)")
    assert [r.entry for r in plain] == [r.entry for r in js]
    assert [r.entry.describe() for r in plain if r.entry] == [
        "0: from all lookup local", "512: from all to fd00:9::5 lookup main",
        "1024: from fd00:9::/64 fwmark 0x80/0x80 lookup 101", "1536: from fd00:9::5 lookup 100",
        "32766: from all lookup main"]  # fmt: skip
    (r,) = iproute.parse_ip_rules("5:\tfrom ::/0 lookup main\n", family=6)
    assert r.entry == RuleEntry(5, MAIN_TABLE)  # fib6_rule_match: a /0 prefix matches every source


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(("name", "text", "family", "error"), [
    ("ip-4-route", None, 6, "ip-4-route:1: IPv4 route 'default': give the IPv6 table (ip -6 route show table all)"),
    ("r", "fd00::/64 dev eth0 metric 256 pref medium\n10.0.0.0/8 dev eth0\n", 6, None),
    ("route-n", None, 6, "route-n:1: route -n shows IPv4 routes only: give ip -6 route show table all"),
    ("route-A-inet6-n", None, 6, "route-A-inet6-n:1: route -A inet6 -n is not read (it leaves out the tables and "
     "route types a trace needs): give ip -6 route show table all"),
    ("route-A-inet6-n", None, 4, "route-A-inet6-n:1: route -A inet6 -n is not read (it leaves out the tables and "
     "route types a trace needs): give ip -4 route show table all (or route -n)"),
    ("r", "fd00::/64 dev eth0 pref top\n", 6, "r:1: bad pref 'top' (low, medium or high, once)"),
    ("r", "fd00::/64 via 10.0.0.1 dev eth0\n", 6, "r:1: bad gateway '10.0.0.1'"),
    ("r", "fd00::/129 dev eth0\n", 6, "r:1: bad prefix 'fd00::/129'"),
    ("r", "\tnexthop via fe80::1 dev eth0 weight 1\n", 6, "r:1: nexthop line without its route's line before it"),
    ("r", '[{"dst": "10.0.0.0/8", "dev": "eth0"}]', 6, "r: ip -j route entry 1: IPv4 route '10.0.0.0/8': give the "
     "IPv6 table (ip -6 -j route show table all)"),
])  # fmt: skip
def test_route_errors_are_one_located_line(name: str, text: str | None, family: int, error: str | None) -> None:
    body = (V6N / name).read_text() if text is None else text
    if error is None:  # a mixed file: the other family's lines are skipped, not refused
        routes, said = forms.read_routes(body, name, names(), family)
        assert said == "ip route (1 IPv4 routes skipped)" and len(routes) == 1
        with pytest.raises(ParseError) as e:
            iproute.parse_ip_routes(body, name, family=family)
        assert str(e.value) == "r:2: IPv4 route '10.0.0.0/8': give the IPv6 table (ip -6 route show table all)"
        return
    with pytest.raises(ParseError) as e:
        forms.read_routes(body, name, names(), family)
    assert str(e.value) == error


@pytest.mark.parametrize(("text", "family", "error"), [
    ("10:\tfrom 10.0.0.0/8 lookup 5\n", 6, "f:1: IPv4 prefix '10.0.0.0/8' in an IPv6 rule list: give ip -6 rule"),
    ("10:\tfrom all to fd00::/8 lookup 5\n", 4, "f:1: IPv6 prefix 'fd00::/8' in an IPv4 rule list: give ip -4 rule"),
    ("10:\tfrom fd00::/200 lookup 5\n", 6, "f:1: bad source prefix 'fd00::/200'"),
])  # fmt: skip
def test_rule_errors(text: str, family: int, error: str) -> None:
    with pytest.raises(ParseError) as e:
        forms.read_rules(text, "f", names(), family)
    assert str(e.value) == error


def test_address_errors() -> None:
    with pytest.raises(ParseError) as e:
        iproute.parse_addrs("2: eth0    inet6 fd00::1/129 scope global \\       valid_lft forever\n", "a", 6)
    assert str(e.value) == "a:1: bad prefix length in 'fd00::1/129'"
    with pytest.raises(ParseError) as e:
        iproute.parse_addrs("2: eth0    inet6 10.0.0.1/64 scope global \\       valid_lft forever\n", "a", 6)
    assert str(e.value) == "a:1: bad address '10.0.0.1'"


def test_ipv6_routes_without_addresses_or_local_table_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "routes"
    f.write_text("fd00::/64 dev eth0 proto kernel metric 256 pref medium\n")
    with pytest.raises(InputError) as e:
        read_node(None, f, family=6)
    assert str(e.value) == (f"{f}: no local addresses: give the addresses (ip -6 -o addr) or the local table "
                            "(ip -6 route show table all)")  # fmt: skip


# ------------------------------------------------------------------------------------------ the kernel's answers


SADDR = Path(__file__).parent / "data" / "trace" / "v6-saddr"  # source selection rules 5, 6, 8: SOURCE.md


def _kernel_answers(where: Path = V6N) -> list[tuple[str, str]]:
    lines = (where / "ip-6-route-get").read_text().splitlines()
    return [(lines[i][len("$ ip -6 route get "):], lines[i + 1]) for i in range(0, len(lines), 2)]


def _node(where: Path = V6N) -> iproute.NodeRouting:
    return read_node(None, where / "ip-6-route", where / "ip-6-rule", where / "ip-6-addr", family=6).routing


@pytest.mark.parametrize(("where", "args", "answer"), [(w, *x) for w in (V6N, SADDR) for x in _kernel_answers(w)])
def test_lookups_give_what_the_kernel_answered(where: Path, args: str, answer: str) -> None:
    """Each `ip -6 route get` the kernel answered on this state (ip-6-route-get): type, table, device, gateway,
    source (the kernel shows no source for a forwarded packet's route)."""
    words = args.split()
    opts = dict(zip(words[1::2], words[2::2], strict=True))
    r = _node(where).routing.lookup(a6(words[0]), a6(opts["from"]) if "from" in opts else 0, opts.get("iif"),
                                int(opts.get("mark", "0"), 0), opts.get("oif"))  # fmt: skip
    errors = {"No route to host": "unreachable", "Invalid argument": "blackhole", "Permission denied": "prohibit"}
    if answer.startswith("RTNETLINK answers: "):
        assert r.type == errors[answer.removeprefix("RTNETLINK answers: ")]
        return
    toks = answer.split()
    kind = toks.pop(0) if toks[0] in ("local", "anycast", "multicast") else "unicast"
    said = dict(zip(toks[1::2], toks[2::2], strict=False))
    table = {"local": LOCAL_TABLE, "main": MAIN_TABLE}.get(said.get("table", "main")) or int(said["table"])
    want_type = {"anycast": "local", "multicast": "unicast"}.get(kind, kind)  # multicast: the warned unicast path
    got = (r.type, r.table, r.dev, ip_str(r.gateway) if r.gateway else None)
    assert got == (want_type, table, said["dev"], said.get("via"))
    if "src" in said:
        assert r.src is not None and ip_str(r.src) == said["src"]


def test_lookups_exactly() -> None:
    nr = _node()
    rt = nr.routing
    r = rt.lookup(a6("2001:db8:1::99"))  # connected
    assert (r.type, r.table, r.dev, r.gateway, r.src) == ("unicast", MAIN_TABLE, "eth0", None, a6("2001:db8:1::10"))
    r = rt.lookup(a6("2600::1"))  # default via a link-local router
    assert (r.type, r.table, r.dev, r.gateway, r.src) == ("unicast", MAIN_TABLE, "eth0", a6("fe80::1"),
                                                          a6("2001:db8:1::10"))  # fmt: skip
    r = rt.lookup(a6("2600::1"), a6("fd00:9::5"), "eni1")  # from the pod's /128: its rule's table
    assert (r.type, r.table, r.dev, r.gateway) == ("unicast", 100, "eth0", a6("fe80::1"))
    assert r.rule is not None and r.rule.priority == 1536
    assert r.describe() == "rule 1536: from fd00:9::5 lookup 100; table 100: default via fe80::1 dev eth0"
    r = rt.lookup(a6("2001:db8:dead::1"))
    assert (r.type, r.table, r.dev, r.gateway, r.src) == ("unreachable", MAIN_TABLE, None, None, None)
    r = rt.lookup(a6("fd00:1::10"))
    assert (r.type, r.table, r.dev, r.gateway, r.src) == ("local", LOCAL_TABLE, "lo", None, a6("fd00:1::10"))
    r = rt.lookup(a6("::1"))
    assert (r.type, r.table, r.dev, r.gateway, r.src) == ("local", LOCAL_TABLE, "lo", None, a6("::1"))
    assert rt.is_local(a6("::1")) and rt.is_local(a6("::1"), "lo") and not rt.is_local(a6("::1"), "eth0")
    assert rt.is_local(a6("fd00:2::5"), "eth0") and not rt.is_local(a6("fd00:1::1"))  # dadfailed: no local route
    assert not rt.is_local(a6("fd00:1::"))  # anycast: delivered, but addrtype ANYCAST, not LOCAL
    assert not rt.is_broadcast(a6("fd00:1::ffff:ffff:ffff:ffff")) and not rt.is_broadcast(a6("ff02::1"))
    assert [r.priority for r in Routing(family=6).rules] == [0, 32766]
    with pytest.raises(ModelError) as e:  # never an IPv4 question answered "unreachable" by the IPv6 table
        rt.lookup(addr_int("10.0.0.1"))
    assert str(e.value) == "IPv4 destination 10.0.0.1 asked of an IPv6 routing table"
    r = rt.lookup(a6("fe80::1"), a6("fd00:9::5"), "eni1")  # link-local: strictly the input device's route
    assert (r.type, r.dev, r.route.describe() if r.route else None) == ("unicast", "eni1", "fe80::/64 dev eni1")
    assert rt.lookup(a6("fe80::1")).dev == "eth0"  # no device named: the first of the equal routes
    assert nr.warnings == [
        f"{V6N / 'ip-6-addr'}:5: fd00:1::1/64 on eth0 failed duplicate address detection (dadfailed): not local, "
        "never a source; left out",
        f"{V6N / 'ip-6-addr'}:20: fd00:5::1/64 on eni1 tentative (duplicate address detection not done): not local, "
        "never a source; left out",
        f"{V6N / 'ip-6-addr'}:25: fd00:7::1/64 on dummy0 tentative (duplicate address detection not done): not "
        "local, never a source; left out",
        f"{V6N / 'ip-6-route'}:4: multipath route: only its first next hop is used"]  # fmt: skip
    # (the local table's multicast ff00::/8 routes, on every IPv6 interface, say nothing: trace refuses a multicast
    # destination)


def test_the_local_table_alone_gives_the_addresses() -> None:
    nr = read_node(None, V6N / "ip-6-route", V6N / "ip-6-rule", family=6).routing
    assert [a.cidr for a in nr.addrs] == ["::1/128", "2001:db8:1::10/64", "fd00:1::10/64", "fd00:2::5/64",
                                          "fd00:6::1/128", "fd00:8::1/128", "fe80::704c:c7ff:fe2d:68b7/64",
                                          "fe80::74d3:fbff:fec6:5225/64"]  # fmt: skip
    assert nr.routing.lookup(a6("fd00:9::5")).src == a6("fd00:8::1")


def test_equal_routes_are_chosen_as_the_kernel_chose() -> None:
    """ip-6-route-get-equal: the higher pref, then the named device's route (output, or a received packet's input
    device), else the first listed.  (fd00:5::1 had finished DAD by then: its answers' sources are not compared.)"""
    routes, answers = (V6N / "ip-6-route-get-equal").read_text().split("# the kernel's answers\n")
    rt = _node().routing
    for r in iproute.parse_ip_routes(routes, family=6):
        rt.add_route(r.entry)
    lines = answers.splitlines()
    assert len(lines) == 12
    for ask, answer in zip(lines[0::2], lines[1::2], strict=True):
        words = ask.removeprefix("$ ip -6 route get ").split()
        opts = dict(zip(words[1::2], words[2::2], strict=True))
        r = rt.lookup(a6(words[0]), a6(opts["from"]) if "from" in opts else 0, opts.get("iif"), 0, opts.get("oif"))
        said = answer.split()
        assert (r.dev, r.route.pref if r.route else None) == (said[said.index("dev") + 1], said[-1])
        if "src" in said and said[said.index("src") + 1] != "fd00:5::1":
            assert r.src == a6(said[said.index("src") + 1])


def test_router_preference_breaks_a_metric_tie() -> None:
    routes = iproute.parse_ip_routes("2001:db8::/32 via fe80::1 dev eth0 metric 1024 pref low\n"
                                     "2001:db8::/32 via fe80::2 dev eth0 metric 1024 pref high\n"
                                     "2001:db8::/32 via fe80::3 dev eth0 metric 1000 pref low\n", family=6)  # fmt: skip
    rt = Routing(family=6)
    rt.add_address("eth0", "2001:db8:1::1/64")
    for r in routes[:2]:
        rt.add_route(r.entry)
    assert rt.lookup(a6("2001:db8:9::1")).gateway == a6("fe80::2")  # rt6_score_route: pref high
    rt.add_route(routes[2].entry)
    assert rt.lookup(a6("2001:db8:9::1")).gateway == a6("fe80::3")  # a lower metric first


# ------------------------------------------------------------------------------------------ the model


def test_add_address_adds_the_kernels_routes() -> None:
    rt = Routing(family=6)
    rt.add_address("lo", "::1/128")
    rt.add_address("eth0", "fd00:1::10/64")
    rt.add_address("eth0", "fd00:8::1/128")
    rt.add_address("eth0", "fd00:6::1/64", ["noprefixroute"])
    rt.add_address("eth0", "fd00:5::1/64", ["tentative"])
    rt.add_address("eth0", "fe80::1/64")
    assert [r.describe() for r in rt.tables[LOCAL_TABLE]] == [
        "local ::1 dev lo", "local fd00:1::10 dev eth0", "local fd00:8::1 dev eth0", "local fd00:6::1 dev eth0",
        "local fe80::1 dev eth0"]  # fmt: skip
    assert [(r.describe(), r.metric) for r in rt.tables[MAIN_TABLE]] == [
        ("fd00:8::1 dev eth0", 256), ("fd00:1::/64 dev eth0", 256), ("fd00:5::/64 dev eth0", 256),
        ("fe80::/64 dev eth0", 256)]  # fmt: skip
    files = iproute.routing_files(rt)
    assert files["ip-route"].splitlines()[:2] == ["fd00:8::1 dev eth0 proto kernel metric 256 pref medium",
                                                  "fd00:1::/64 dev eth0 proto kernel metric 256 pref medium"]  # fmt: skip
    assert files["ip-addr"].splitlines()[4] == ("5: eth0    inet6 fd00:5::1/64 scope global tentative \\       "
                                                "valid_lft forever preferred_lft forever")  # fmt: skip
    assert files["ip-rule"] == "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n"


def test_a_model_written_as_files_reads_back(tmp_path: Path) -> None:
    rt = _node().routing
    for name, text in iproute.routing_files(rt).items():
        (tmp_path / name).write_text(text)
    back = read_node(None, tmp_path / "ip-route", tmp_path / "ip-rule", tmp_path / "ip-addr", family=6).routing.routing
    for args, _ in _kernel_answers():
        words = args.split()
        opts = dict(zip(words[1::2], words[2::2], strict=True))
        key = (a6(words[0]), a6(opts["from"]) if "from" in opts else 0, opts.get("iif"), int(opts.get("mark", "0"), 0),
               opts.get("oif"))  # fmt: skip
        assert back.lookup(*key) == rt.lookup(*key)


# ------------------------------------------------------------------------------------------ source selection


def c(dev: str, cidr: str, *flags: str) -> tuple[str, int, int, frozenset[str]]:
    addr, _, plen = cidr.partition("/")
    return dev, a6(addr), int(plen or 128), frozenset(flags)


def test_scopes_and_labels() -> None:
    assert [addr_scope(a6(x)) for x in ("::1", "fe80::1", "fec0::1", "fd00::1", "2001:db8::1", "ff02::1", "ff05::2",
                                        "ff0e::1")] == [1, 2, 5, 14, 14, 2, 5, 14]  # fmt: skip
    assert [addr_label(a6(x)) for x in ("::1", "2001:db8::1", "2001::1", "2001:10::1", "2002::1", "fd00::1",
                                        "::ffff:10.0.0.1", "::10.0.0.1", "3ffe::1", "fec0::1")] == [
        0, 1, 6, 7, 2, 5, 4, 3, 12, 11]  # fmt: skip


def test_rule_1_the_same_address() -> None:
    cands = [c("eth0", "fd00::1/64"), c("eth1", "fd00::2/64")]
    assert select_source(cands, "lo", a6("fd00::2")) == a6("fd00::2")


def test_rule_2_appropriate_scope() -> None:
    cands = [c("eth0", "fe80::1/64"), c("eth0", "2001:db8::1/64")]
    assert select_source(cands, "eth0", a6("fe80::9")) == a6("fe80::1")
    assert select_source(cands, "eth0", a6("2600::9")) == a6("2001:db8::1")
    assert select_source([c("eth0", "fe80::1/64")], "eth0", a6("2600::9")) == a6("fe80::1")  # too small, yet the one
    # a link-local destination takes only the outgoing interface's addresses
    assert select_source([c("eth1", "fe80::2/64"), c("eth0", "2001:db8::1/64")], "eth0", a6("fe80::9")) == a6(
        "2001:db8::1")  # fmt: skip


def test_rule_3_avoid_deprecated() -> None:
    cands = [c("eth0", "2001:db8::1/64", "deprecated"), c("eth0", "2001:db9::1/64")]
    assert select_source(cands, "eth0", a6("2001:db8::9")) == a6("2001:db9::1")
    assert select_source(cands[:1], "eth0", a6("2001:db8::9")) == a6("2001:db8::1")  # avoided, not refused


def test_rule_5_the_outgoing_interface() -> None:
    cands = [c("eth1", "2001:db8::1/64"), c("eth0", "2001:db9::1/64")]
    assert select_source(cands, "eth0", a6("2001:db8::9")) == a6("2001:db9::1")
    assert select_source(cands, None, a6("2001:db8::9")) == a6("2001:db8::1")


def test_rule_6_matching_label_before_the_longest_prefix() -> None:
    cands = [c("eth0", "2001::1/32"), c("eth0", "2a00::1/64")]  # 2001::/32 (Teredo) has label 6, the destination 1
    assert select_source(cands, "eth0", a6("2001:db8::1")) == a6("2a00::1")


def test_rule_7_public_over_temporary() -> None:
    cands = [c("eth0", "2001:db8::aaaa/64", "temporary"), c("eth0", "2001:db8::1/64")]
    assert select_source(cands, "eth0", a6("2600::1")) == a6("2001:db8::1")


def test_rule_8_longest_prefix_within_the_address_prefix_length() -> None:
    cands = [c("eth0", "fd00:1::1/16"), c("eth0", "fd00::2/64")]
    assert select_source(cands, "eth0", a6("fd00:1::5")) == a6("fd00::2")  # 31 bits beat 16 (the first's cap)
    cands = [c("eth0", "fd00:1::1/64"), c("eth0", "fd00::2/64")]
    assert select_source(cands, "eth0", a6("fd00:1::5")) == a6("fd00:1::1")


def test_never_tentative_or_dad_failed_and_ties_keep_the_first() -> None:
    assert select_source([c("eth0", "2001:db8::1/64", "tentative"), c("eth0", "2001:db8::2/64", "dadfailed",
                                                                       "tentative")], "eth0", a6("2600::1")) is None  # fmt: skip
    assert select_source([c("eth0", "2001:db8::1/64", "tentative", "optimistic")], "eth0", a6("2600::1")) == a6(
        "2001:db8::1")  # fmt: skip
    assert select_source([c("eth0", "2001:db8::1/64"), c("eth0", "2001:db8::2/64")], "eth0", a6("2600::1")) == a6(
        "2001:db8::1")  # fmt: skip


# ------------------------------------------------------------------------------------------ property


hexw = st.integers(0, 0xFFFF)
nets = st.tuples(st.lists(hexw, min_size=8, max_size=8), st.integers(1, 128)).map(
    lambda t: ipaddress.IPv6Network((int("".join(f"{w:04x}" for w in t[0]), 16) >> (128 - t[1]) << (128 - t[1]),
                                     t[1])))  # fmt: skip


def _prefix(n: ipaddress.IPv6Network) -> str:
    return str(n.network_address) if n.prefixlen == 128 else str(n)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(["", "unreachable ", "blackhole ", "prohibit ", "local ", "anycast ", "multicast "]), nets,
    st.one_of(st.none(), hexw), st.sampled_from(["eth0", "eni1a2b", "lo"]), st.sampled_from(["", " table 100",
                                                                                             " table local"]),
    st.sampled_from(["", " proto kernel", " proto ra", " proto static"]), st.integers(0, 2**32 - 1),
    st.sampled_from(["", " expires 300sec"]), st.sampled_from(["low", "medium", "high"])), min_size=1, max_size=8))  # fmt: skip
def test_v6_route_lines_round_trip(items: list[tuple[str, ipaddress.IPv6Network, int | None, str, str, str, int, str,
                                                     str]]) -> None:  # fmt: skip
    lines = []
    for kind, net, via, dev, table, proto, metric, expires, pref in items:
        gw = f" via {ipaddress.IPv6Address((0xFE80 << 112) | via)}" if via is not None and not kind else ""
        lines.append(f"{kind}{_prefix(net)}{gw} dev {dev}{table}{proto} metric {metric}{expires} pref {pref}\n")
    text = "".join(dict.fromkeys(lines))  # a listing shows a route once (a repeat is refused)
    parsed = iproute.parse_ip_routes(text, family=6)
    assert iproute.format_ip_routes(parsed) == text
    again = iproute.parse_ip_routes(iproute.format_ip_routes(parsed), family=6)
    assert [r.entry for r in again] == [r.entry for r in parsed]
    assert all(isinstance(r.entry, RouteEntry) and r.entry.net & V6 for r in parsed)


def test_a_metric_past_32_bits_is_refused_at_its_line(tmp_path: Path) -> None:
    """RTA_PRIORITY is a u32: ``ip route`` never prints a larger metric, in either family (nor ``route -n``)."""
    from hairpin.parsers import iproute

    for text, family in (("fd00::/64 dev eth0 metric 4294967296\n", 6), ("10.0.0.0/8 dev eth0 metric "
                         "99999999999999999999999\n", 4)):  # fmt: skip
        with pytest.raises(ParseError) as e:
            iproute.parse_ip_routes(text, "r", family=family)
        assert str(e.value).startswith("r:1: bad metric '") and str(e.value).endswith("' (0 to 4294967295)")
    assert iproute.parse_ip_routes("fd00::/64 dev eth0 metric 4294967295\n", "r", family=6)[0].entry.metric == 2**32 - 1
    n = ("Kernel IP routing table\nDestination     Gateway         Genmask         Flags Metric Ref    Use Iface\n"
         "10.0.0.0        0.0.0.0         255.0.0.0       U     4294967296 0        0 eth0\n")
    with pytest.raises(ParseError, match=r"^r:3: bad metric '4294967296' \(0 to 4294967295\)$"):
        iproute.parse_route_n(n, "r")
