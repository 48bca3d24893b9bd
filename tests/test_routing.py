from hairpin.model.net import addr_int, ip_int
from hairpin.routing import MAIN_TABLE, RouteEntry, Routing, RuleEntry, parse_cidr


def _node() -> Routing:
    r = Routing()
    r.add_address("eth0", "192.168.2.3/19")
    r.add_address("lo", "127.0.0.1/8")
    for cidr, dev, via in (("0.0.0.0/0", "eth0", "192.168.0.1"), ("192.168.27.239/32", "eni1", None)):
        net, mask, prefix = parse_cidr(cidr)
        r.add_route(RouteEntry(net, mask, prefix, dev, ip_int(via) if via else None))
    r.add_route(RouteEntry(0, 0, 0, "eth1", ip_int("192.168.0.1"), table=2))
    r.add_rule(RuleEntry(512, MAIN_TABLE, dst=(ip_int("192.168.27.239"), 0xFFFFFFFF)))
    r.add_rule(RuleEntry(1024, MAIN_TABLE, fwmark=0x80, fwmask=0x80))
    r.add_rule(RuleEntry(1536, 2, src=(ip_int("192.168.27.239"), 0xFFFFFFFF)))
    return r


def test_longest_prefix_wins() -> None:
    r = _node().lookup(ip_int("192.168.27.239"))
    assert r.type == "unicast" and r.dev == "eni1" and r.gateway is None
    assert r.rule is not None and r.rule.priority == 512


def test_subnet_route_from_address_and_default() -> None:
    n = _node()
    assert n.lookup(ip_int("192.168.21.86")).dev == "eth0"
    assert n.lookup(ip_int("192.168.21.86")).gateway is None
    d = n.lookup(ip_int("10.0.0.1"))
    assert d.dev == "eth0" and d.gateway == ip_int("192.168.0.1") and d.src == ip_int("192.168.2.3")


def test_local_table_first() -> None:
    r = _node().lookup(ip_int("192.168.2.3"))
    assert r.type == "local" and r.table == 255


def test_policy_rule_from_pod_uses_its_eni_table_unless_marked() -> None:
    n = _node()
    from_pod = n.lookup(ip_int("10.0.0.1"), src=ip_int("192.168.27.239"))
    assert from_pod.table == 2 and from_pod.dev == "eth1"
    marked = n.lookup(ip_int("10.0.0.1"), src=ip_int("192.168.27.239"), mark=0x80)
    assert marked.table == MAIN_TABLE and marked.rule is not None and marked.rule.priority == 1024


def test_source_selection_falls_back_to_another_device_for_addressless_veth() -> None:
    n = _node()
    assert n.select_source("eni1", ip_int("192.168.27.239")) == ip_int("192.168.2.3")
    assert n.select_source("eth0", ip_int("192.168.0.1")) == ip_int("192.168.2.3")


def test_rule_description_reads_like_ip_rule() -> None:
    assert (
        RuleEntry(1024, MAIN_TABLE, fwmark=0x80, fwmask=0x80).describe()
        == "1024: from all fwmark 0x80/0x80 lookup main"
    )
    assert RuleEntry(512, MAIN_TABLE, dst=(ip_int("192.168.27.239"), 0xFFFFFFFF)).describe() == (
        "512: from all to 192.168.27.239 lookup main"
    )


def test_a_kept_source_is_forgotten_when_an_address_is_added() -> None:
    """select_source keeps its answers per question; add_address (IPv4 and IPv6) forgets them; with caching
    off none is kept."""
    r = _node()
    assert r.select_source("eth1", ip_int("10.0.0.1"), universe=True) == ip_int("192.168.2.3")  # another device's
    r.add_address("eth1", "10.0.0.7/24")
    assert r.select_source("eth1", ip_int("10.0.0.1"), universe=True) == ip_int("10.0.0.7")
    r6 = Routing(family=6)
    r6.add_address("eth0", "fd00::5/64", ["tentative"])  # not usable yet (routing6.candidates_of leaves it out)
    assert r6.select_source("eth0", addr_int("fd00::9")) is None
    r6.add_address("eth0", "fd00::6/64")
    assert r6.select_source("eth0", addr_int("fd00::9")) == addr_int("fd00::6")
    plain = _node()
    plain.caching = False
    assert plain.select_source("eth1", ip_int("10.0.0.1"), universe=True) == ip_int("192.168.2.3")
    assert not plain._sources and r._sources
