"""kube-proxy's nftables mode for IPv6: ``table ip6 kube-proxy`` read from ``nft list ruleset`` and run on IPv6
packets.  The fixtures were written in kube-proxy's shape (pkg/proxy/nftables/proxier.go: ``ip6 daddr``/``ip6 saddr``,
``dnat to [A]:P``, ``ip6 daddr != ::1``, an endpoint chain's address with its colons as dots), loaded with nft into a
network namespace and listed back (nft list ruleset), beside the IPv4 table of tests/data/trace/nft-node1.nft."""

from __future__ import annotations

from pathlib import Path

import pytest

from hairpin.errors import ParseError
from hairpin.model.net import V6, Flags, Packet, addr_int
from hairpin.netfilter import nft
from hairpin.netfilter.evaluate import Context
from hairpin.parsers.nft_ruleset import read_nft

DATA = Path(__file__).parent / "data" / "trace" / "ip6tables"
DUAL = (DATA / "nft-dual-stack.nft").read_text()
NODE = addr_int("fd00::100")
EPS = ["fd00:10:244:1::2", "fd00:10:244:2::46", "fd00:10:244:3::8e"]


class Node:
    def is_local(self, addr: int, iface: str | None = None) -> bool:
        return addr in (NODE, V6 | 1)


def syn(src: str, dst: str, dport: int) -> Packet:
    return Packet(addr_int(src), 40000, addr_int(dst), dport, Flags.SYN)


def draws(k: int) -> object:
    """A ``choose`` that takes the k-th of the numgen elements (n-1 draws of 1/n, 1/(n-1), ...)."""
    seen = [0]

    def choose(p: float, r: object) -> bool:
        seen[0] += 1
        return seen[0] == k + 1

    return choose


def test_dual_stack_ruleset_gives_each_family_its_table() -> None:
    t6, form, warnings = read_nft(DUAL, "n", False, 6)
    assert t6 is not None and (t6.name, t6.family, form) == ("kube-proxy", 6, "nft list ruleset (table ip6 kube-proxy)")
    assert warnings == ["n:119: table ip kube-proxy: IPv4, not traced"]
    t4, form, warnings = read_nft(DUAL, "n", False)
    assert t4 is not None and (t4.family, form) == (4, "nft list ruleset (table ip kube-proxy)")
    assert warnings == ["n:1: table ip6 kube-proxy: IPv6, not traced"]
    with pytest.raises(ParseError) as e:
        read_nft((Path(__file__).parent / "data" / "trace" / "nft-node1.nft").read_text(), "v4", False, 6)
    assert str(e.value) == "v4:1: no table ip6 kube-proxy (kube-proxy's nftables mode)"


@pytest.mark.parametrize("k", [0, 1, 2])
def test_cluster_ip_dnat_to_each_endpoint(k: int) -> None:
    t, _, _ = read_nft(DUAL, "n", False, 6)
    assert t is not None
    ctx = Context(syn("fd00:99::1", "fd00:10:96::14", 80), Node(), "PREROUTING", iif="eth0", choose=draws(k))  # type: ignore[arg-type]
    v = t.run("nat", "PREROUTING", ctx)
    assert v.nat is not None and (v.nat.kind, v.nat.addr, v.nat.port) == ("DNAT", addr_int(EPS[k]), 80)
    assert v.steps[-1].text == f"nft meta l4proto tcp dnat to [{EPS[k]}]:80"
    assert ctx.mark == 0


def test_endpoint_calling_its_own_service_is_marked_and_masqueraded() -> None:
    t, _, _ = read_nft(DUAL, "n", False, 6)
    assert t is not None
    ctx = Context(syn(EPS[0], "fd00:10:96::14", 80), Node(), "PREROUTING", iif="eth0", choose=draws(0))  # type: ignore[arg-type]
    v = t.run("nat", "PREROUTING", ctx)
    assert v.nat is not None and v.nat.addr == addr_int(EPS[0]) and ctx.mark == 0x4000
    post = Context(syn(EPS[0], EPS[0], 80), Node(), "POSTROUTING", mark=ctx.mark)  # type: ignore[arg-type]
    m = t.run("nat", "POSTROUTING", post)
    assert m.nat is not None and (m.nat.kind, m.nat.random_fully) == ("MASQUERADE", True)


def test_nodeport_on_a_local_address_but_not_on_loopback() -> None:
    t, _, _ = read_nft(DUAL, "n", False, 6)
    assert t is not None
    ctx = Context(syn("fd00:99::1", "fd00::100", 31468), Node(), "PREROUTING", iif="eth0", choose=draws(2))  # type: ignore[arg-type]
    v = t.run("nat", "PREROUTING", ctx)
    assert v.nat is not None and v.nat.addr == addr_int(EPS[2]) and ctx.mark == 0x4000
    lo = Context(syn("::1", "::1", 31468), Node(), "OUTPUT", choose=draws(0))  # type: ignore[arg-type]
    assert t.run("nat", "OUTPUT", lo).nat is None  # ip6 daddr != ::1


def test_sets_tuples_and_numgen_dnat_map() -> None:
    t = nft.parse((DATA / "nft-ip6-sets.nft").read_text(), "s6")
    chain = [t.chains["c"]]
    v = t.run_chains(chain, Context(syn("fd00:99::1", "fd00:10:96::14", 80), Node(), "PREROUTING",  # type: ignore[arg-type]
                                    choose=draws(1)))  # fmt: skip
    assert [s.effect for s in v.steps] == ["jump d", "DNAT"]
    assert v.nat is not None and (v.nat.addr, v.nat.port) == (addr_int("fd00::6"), 8080)
    v = t.run_chains(chain, Context(syn("fd00:99::1", "fd00:10:96::15", 80), Node(), "PREROUTING",  # type: ignore[arg-type]
                                    choose=draws(0)))  # fmt: skip
    assert [s.effect for s in v.steps] == ["DNAT"] and v.nat is not None and v.nat.addr == addr_int("fd00::5")
    v = t.run_chains(chain, Context(syn(EPS[0], EPS[0], 80), Node(), "POSTROUTING"))  # type: ignore[arg-type]
    assert (v.verdict, [s.effect for s in v.steps]) == ("ACCEPT", ["accept"])


@pytest.mark.parametrize(("table", "rule", "message"), [
    ("ip", "ip6 daddr ::1 accept", "s:3: an ip6 match in table ip t: not modelled"),
    ("ip6", "ip daddr 10.0.0.1 accept", "s:3: an ip match in table ip6 t: not modelled"),
    ("ip6", "ip6 daddr fd00::1/129 accept", "s:3: bad prefix length /129 (0 to 128)"),
    ("ip6", "ip6 daddr fd00:::1 accept", "s:3: bad address 'fd00:::1'"),
])  # fmt: skip
def test_refusals(table: str, rule: str, message: str) -> None:
    with pytest.raises(ParseError) as e:
        nft.parse(f"table {table} t {{\n\tchain c {{\n\t\t{rule}\n\t}}\n}}\n", "s")
    assert str(e.value) == message


def test_nft_json_reads_as_the_text_does() -> None:
    tj, form, warnings = read_nft((DATA / "nft-dual-stack.json").read_text(), "j", False, 6)
    assert tj is not None and (tj.family, form, warnings) == (
        6, "nft -j list ruleset (table ip6 kube-proxy)", ["j: entry 53: table ip kube-proxy: IPv4, not traced"])
    tt, _, _ = read_nft(DUAL, "n", False, 6)
    assert tt is not None
    assert {n: [r.steps for r in c.rules] for n, c in tj.chains.items()} == {
        n: [r.steps for r in c.rules] for n, c in tt.chains.items()}
    ctx = Context(syn("fd00:99::1", "fd00:10:96::14", 80), Node(), "PREROUTING", iif="eth0", choose=draws(1))  # type: ignore[arg-type]
    v = tj.run("nat", "PREROUTING", ctx)
    assert v.nat is not None and v.nat.addr == addr_int(EPS[1]) and v.nat.port == 80
