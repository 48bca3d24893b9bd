"""Node state built to be expensive for ``hairpin trace``: big ipsets tested by many rules, sets the kernel
would refuse, jump chains; the cost stays bounded by the input's size and the answers are those of honest
input."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin import trace as tr
from hairpin.errors import ParseError
from hairpin.model.net import Packet
from hairpin.parsers import ipset
from time_limit import within

DATA = Path(__file__).parent / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
PORTALS = '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n'


def node_with(tmp: Path, rules: str, sets: str) -> tr.Node:
    for f in ("ip-route", "ip-rule", "ip-addr"):
        shutil.copy(DATA / f, tmp / f)
    (tmp / "iptables-save").write_text((DATA / "iptables-save").read_text().replace(PORTALS, rules + PORTALS, 1))
    (tmp / "ipset-save").write_text(sets)
    f = tr.Node.find(tmp)
    return tr.Node.load(f["iptables"], f["routes"], f.get("rules"), f.get("addrs"), name="n", ipset_file=f["ipset"])


def test_a_big_set_tested_by_many_rules_costs_its_size_once(tmp_path: Path) -> None:
    """300 rules testing a 30,000-entry set: every test scanned the set (9 million entry checks; a
    100,000-entry set took more than 120 s); entries are now looked up by prefix and answers kept."""
    rules = "".join(f"-A PREROUTING -m set --match-set big src -j MARK --set-xmark 0x{i:x}/0xffff\n"
                    for i in range(1, 301))  # fmt: skip
    sets = "create big hash:net family inet maxelem 100000\n" + "".join(
        f"add big 11.{i >> 8 & 255}.{i & 255}.0/24\n" for i in range(30000)) + "add big 192.168.0.0/16\n"  # fmt: skip
    with within(30):
        n = node_with(tmp_path, rules, sets)
        packet, iif = tr.parse_packet(SYN)
        outcomes = tr.trace(n, packet, iif).outcomes
    assert len(outcomes) == 3  # the seed's three backends
    for o in outcomes:  # every MARK rule matched (the source is in 192.168.0.0/16), then the portals rule
        assert len([s for s in o.legs[0].steps if s.chain == "PREROUTING" and s.table == "nat"]) == 301


@pytest.mark.parametrize(("sets", "message"), [
    ("create s hash:net\nadd s 0.0.0.0/0\n", "ipset-save:2: entry '0.0.0.0/0': the kernel refuses a /0 in a set "
                                            "(invalid CIDR)"),
    ("create s hash:ip\nadd s 10.0.0.0/1\n", "ipset-save:2: set s holds more than its maxelem 65536 elements once "
                                            "'10.0.0.0/1' is expanded (the kernel refuses: hash is full)"),
    ("create s hash:ip maxelem 300\nadd s 10.0.0.0/24\nadd s 10.0.1.0/26\n",
     "ipset-save:3: set s holds more than its maxelem 300 elements once '10.0.1.0/26' is expanded (the kernel "
     "refuses: hash is full)"),
    ("create s hash:ip\nadd s 0.0.0.0\n", "ipset-save:2: entry '0.0.0.0': the kernel refuses the zero address in a "
                                         "hash:ip set"),
])  # fmt: skip
def test_sets_the_kernel_refuses_are_one_line(sets: str, message: str) -> None:
    with pytest.raises(ParseError) as e:
        ipset.parse(sets, "ipset-save")
    assert str(e.value) == message


def test_hash_ip_cidr_entries_within_maxelem_are_read() -> None:
    s = ipset.parse("create s hash:ip maxelem 512 netmask 24\nadd s 10.0.0.0/16\nadd s 10.1.0.0/16\n")["s"]
    assert s.expanded == 512 and s.test(Packet(0x0A010203, 1, 0, 2), ["src"])


def linear(s: ipset.IpSet, p: Packet, dirs: list[str]) -> bool:
    """What IpSet.test answered before the index: the most specific matching entry, the first of equals."""
    best: tuple[int, bool] | None = None
    for dims, nomatch, spec in s.entries:
        fits = len(dirs) >= len(dims) and all(ipset._dim_match(d, p, dirs[i]) for i, d in enumerate(dims))
        if fits and (best is None or spec > best[0]):
            best = (spec, nomatch)
    return best is not None and not best[1]


NETS = st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from([8, 16, 24, 30, 32]))


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["hash:net", "hash:net,port", "hash:net,net", "bitmap:port"]),
       entries=st.lists(st.tuples(NETS, NETS, st.integers(1, 4), st.booleans()), max_size=12),
       probes=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 5)), min_size=1, max_size=6),
       dirs=st.sampled_from([["src"], ["dst"], ["src", "dst"], ["dst", "src"]]))  # fmt: skip
def test_the_index_answers_as_the_scan_did(kind: str, entries: list[tuple[tuple[int, int, int],
                                           tuple[int, int, int], int, bool]], probes: list[tuple[int, int, int]],
                                           dirs: list[str]) -> None:  # fmt: skip
    def net(t: tuple[int, int, int]) -> str:
        return f"10.{t[0]}.{t[1]}.0/{t[2]}"

    lines = [f"create s {kind}"]
    for a, b, port, nomatch in entries:
        second = {"hash:net": "", "hash:net,port": f",tcp:{port}", "hash:net,net": f",{net(b)}"}.get(kind, "")
        first = str(port) if kind == "bitmap:port" else net(a)
        lines.append(f"add s {first}{second}{' nomatch' if nomatch else ''}")
    s = ipset.parse("\n".join(lines) + "\n")["s"]
    for x, y, port in probes:
        p = Packet((10 << 24) | (x << 16) | (y << 8) | 1, port, (10 << 24) | (y << 16) | (x << 8) | 2, port)
        assert s.test(p, dirs) == linear(s, p, dirs)
        assert s.test(p, dirs) == linear(s, p, dirs)  # the kept answer


def chains_rules(n: int, jumps: int = 1) -> tuple[str, str]:
    """n nested user chains C0..C{n-1}, each jumping ``jumps`` times to the next, entered from PREROUTING."""
    return ("".join(f":C{i} - [0:0]\n" for i in range(n)),
            "-A PREROUTING -j C0\n" + "".join(f"-A C{i} -j C{i + 1}\n" * jumps for i in range(n - 1)))  # fmt: skip


def nat_node(tmp: Path, chains: str, rules: str) -> Path:
    for f in ("ip-route", "ip-rule", "ip-addr"):
        shutil.copy(DATA / f, tmp / f)
    text = (DATA / "iptables-save").read_text()
    text = text.replace(":KUBE-SERVICES - [0:0]\n", ":KUBE-SERVICES - [0:0]\n" + chains, 1)
    (tmp / "iptables-save").write_text(text.replace(PORTALS, rules + PORTALS, 1))
    return tmp


def trace_error(node: Path) -> str:
    f = tr.Node.find(node)
    with pytest.raises(ParseError) as e:
        n = tr.Node.load(f.get("iptables"), f["routes"], f.get("rules"), f.get("addrs"), nft_file=f.get("nft"))
        packet, iif = tr.parse_packet(SYN)
        tr.trace(n, packet, iif)
    return str(e.value).replace(str(node), "DIR")


def test_jumps_nesting_past_what_the_evaluator_follows_are_refused_when_read(tmp_path: Path) -> None:
    """100,000 nested chains: the evaluator stopped at 64 and said 'dropped' (iptables-legacy follows them)."""
    with within(60):
        msg = trace_error(nat_node(tmp_path, *chains_rules(100_000)))
    assert msg == ("DIR/iptables-save:100095: jumps nest more than 64 chains deep below nat PREROUTING (PREROUTING -> "
                   "C0 -> C1 -> ... -> C63 -> C64): not followed (iptables-nft refuses more than 15: Too many links)")  # fmt: skip
    (tmp_path / "ok").mkdir()
    f = tr.Node.find(nat_node(tmp_path / "ok", *chains_rules(64)))
    n = tr.Node.load(f["iptables"], f["routes"], f.get("rules"), f.get("addrs"))
    outcomes = tr.trace(n, *tr.parse_packet(SYN)).outcomes  # 64 chains deep, then the seed's three backends
    assert [o.legs[0].kind for o in outcomes] == ["forward"] * 3
    assert len([s for s in outcomes[0].legs[0].steps if s.effect.startswith("jump C")]) == 64


def test_a_chain_jumping_twice_to_the_next_is_refused_past_the_budget(tmp_path: Path) -> None:
    """40 chains, each jumping twice to the next: 2^40 rules for one packet (it ran out of 2 GB)."""
    with within(60):
        msg = trace_error(nat_node(tmp_path, *chains_rules(40, jumps=2)))
    assert msg.startswith("DIR/iptables-save:")
    assert msg.endswith(": more than 4,000,000 rules looked at for one packet: the same chains are jumped to over and "
                        "over (a chain jumping twice to the next, many deep?); not followed")  # fmt: skip


def nft_node(tmp: Path, chains: list[tuple[str, list[str]]]) -> Path:
    for f in ("ip-route", "ip-rule", "ip-addr"):
        shutil.copy(DATA / f, tmp / f)
    hook = "type nat hook prerouting priority dstnat; policy accept;"
    body = "".join(f"\tchain {name} {{\n" + (f"\t\t{hook}\n" if name == "pre" else "")
                   + "".join(f"\t\t{r}\n" for r in rules) + "\t}\n" for name, rules in chains)  # fmt: skip
    (tmp / "nft-ruleset").write_text("table ip kube-proxy {\n" + body + "}\n")
    return tmp


def test_nft_jumps_nest_at_most_15_chains_as_the_kernel_allows(tmp_path: Path) -> None:
    """nft 1.0.6 on Linux 6.18: a 16th nested chain is 'Could not process rule: Too many links'; 100,000 of
    them were a RecursionError traceback."""
    deep = [("pre", ["jump c0"])] + [(f"c{i}", [f"jump c{i + 1}"]) for i in range(100_000)] + [("c100000", [])]
    with within(60):
        msg = trace_error(nft_node(tmp_path, deep))
    assert msg == ("DIR/nft-ruleset:49: jumps nest more than 15 chains deep below base chain pre (pre -> c0 -> c1 -> "
                   "... -> c14 -> c15); nft refuses it (Too many links)")  # fmt: skip
    loop = [("pre", ["jump c0"])] + [(f"c{i}", [f"jump c{(i + 1) % 50_000}"]) for i in range(50_000)]
    (tmp_path / "loop").mkdir()
    assert trace_error(nft_node(tmp_path / "loop", loop)) == (
        "DIR/nft-ruleset:150004: jump loop: chain c49999 jumps back to c0 (c0 -> c1 -> c2 -> ... -> c49999 -> c0); "
        "nft refuses it (ELOOP)")  # fmt: skip
    (tmp_path / "ok").mkdir()
    ok = [("pre", ["jump c0"])] + [(f"c{i}", [f"jump c{i + 1}"]) for i in range(14)] + [("c14", [])]
    f = tr.Node.find(nft_node(tmp_path / "ok", ok))
    n = tr.Node.load(None, f["routes"], f.get("rules"), f.get("addrs"), nft_file=f["nft"])
    (o, *_) = tr.trace(n, *tr.parse_packet(SYN)).outcomes
    assert o.legs[0].kind == "local"


@pytest.mark.parametrize(("n", "elements", "error"), [
    (11, range(11), None),  # refused before: as strings, sorted("10", "2") is not range(11)'s order
    (4294967295, range(2), "numgen mod 4294967295 needs elements 0..4294967294"),  # was a MemoryError
    (2, ["0 : goto a", "1 goto a"], "numgen mod 2 needs elements 0..1"),  # was a ValueError traceback
])  # fmt: skip
def test_numgen_maps_are_checked_in_time_linear_in_their_elements(n: int, elements: object, error: str | None) -> None:
    from hairpin.netfilter import nft

    elems = ", ".join(e if isinstance(e, str) else f"{e} : goto a" for e in elements)  # type: ignore[attr-defined]
    text = f"table ip kube-proxy {{\n\tchain a {{\n\t}}\n\tchain s {{\n\t\tnumgen random mod {n} vmap {{ {elems} }}\n\t}}\n}}\n"
    if error is None:
        assert nft.parse(text, "f").chains["s"].rules[0].steps[0] == ("numgen", *["goto a"] * n)
        return
    with pytest.raises(ParseError) as e:
        nft.parse(text, "f")
    assert str(e.value) == f"f:5: {error}"


TUPLE = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.just("tcp"))


@settings(max_examples=300, deadline=None)
@given(listed=st.lists(st.tuples(TUPLE, TUPLE, st.sampled_from(["ESTABLISHED", "TIME_WAIT", "SYN_SENT"])), max_size=8),
       asks=st.lists(st.tuples(st.sampled_from(["lookup", "used", "confirm", "kill"]), TUPLE, TUPLE), max_size=10),
       now=st.sampled_from([0.0, 200.0]))  # fmt: skip
def test_preloaded_conntrack_answers_as_the_loaded_one(listed: list[tuple[Any, Any, str]], asks: list[tuple[str, Any, Any]],
                                                       now: float) -> None:  # fmt: skip
    """The tracer no longer loads conntrack -L into the table before every outcome's run (300,000 entries: 6 s
    a run, times up to 4,096 runs); entries are made when a run first meets one of their tuples."""
    from hairpin.conntrack import Conntrack, Entry
    from hairpin.parsers import conntrack_list as cl

    entries = [cl.CtEntry(o, r, s, 0, False, i + 1) for i, (o, r, s) in enumerate(listed)]
    eager, lazy = Conntrack(), Conntrack()
    cl.load_into(eager, entries, 0.0)
    lazy.preload(cl.index(entries), lambda n: cl.make(entries[n], n, 0.0))

    def seen(found: tuple[Entry, int] | None) -> object:
        return None if found is None else (found[0].id, found[0].orig, found[0].reply, found[0].state, found[1])

    for what, a, b in asks:
        if what == "lookup":
            p = Packet(a[0], a[1], a[2], a[3], proto="tcp")
            assert seen(eager.lookup(p, now)) == seen(lazy.lookup(p, now))
        elif what == "used":
            assert eager.reply_in_use(a, now) == lazy.reply_in_use(a, now)
        elif what == "confirm":
            assert eager.confirm(Entry(7, a, b), now) == lazy.confirm(Entry(7, a, b), now)
        else:
            for t in (eager, lazy):
                found = t.lookup(Packet(a[0], a[1], a[2], a[3], proto="tcp"), now)
                if found is not None:
                    t.kill(found[0])
    key = lambda e: (e.id, e.orig, e.reply)  # noqa: E731
    assert sorted(map(key, eager.entries())) == sorted(map(key, lazy.entries()))


def test_a_long_list_of_random_choices_lists_what_fits(tmp_path: Path) -> None:
    """Outcome k of a Service's statistic chain makes k choices and prints them: 4,096 outcomes of a 5,000-endpoint
    chain made 8 million and ran out of 2 GB (an IPVS service of 100,000 real servers too); the outcomes are
    listed until 200,000 choices, with a warning."""
    rules = "-A PREROUTING -j S\n" + "-A S -m statistic --mode random --probability 0.5 -j RETURN\n" * 3000
    with within(60):
        f = tr.Node.find(nat_node(tmp_path, ":S - [0:0]\n", rules))
        n = tr.Node.load(f["iptables"], f["routes"], f.get("rules"), f.get("addrs"))
        t = tr.trace(n, *tr.parse_packet(SYN))
    assert len(t.outcomes) == 631  # outcome k: k choices in S, one more in the seed's Service: 200,027
    assert t.warnings[-1] == ("more than 200,000 random choices made (a long statistic or IPVS list: outcome k makes "
                              "k), over the 631 outcomes listed: the rest are not listed")  # fmt: skip


@pytest.mark.parametrize(("rule", "message"), [
    ("ip saddr 1.2.3.4/40 accept", "f:5: bad prefix length /40 (0 to 32)"),  # these three were ValueError tracebacks
    ("ip saddr { 1.2.3.4/99 } accept", "f:5: bad prefix length /99 (0 to 32)"),
    ("ip saddr { 1.2.3.999 } accept", "f:5: bad address '1.2.3.999'"),
    ("ip saddr @s accept", None),
])  # fmt: skip
def test_nft_addresses_are_checked_when_read(rule: str, message: str | None) -> None:
    from hairpin.netfilter import nft

    text = "table ip kube-proxy {\n\tset s {\n\t\ttype ipv4_addr\n\t\telements = { 1.2.3.4/33 }\n\t}\n}\n"
    with pytest.raises(ParseError) as e:
        nft.parse(text, "f")
    assert str(e.value) == "f:4: bad prefix length /33 (0 to 32)"
    if message is None:
        return
    text = f"table ip kube-proxy {{\n\tchain pre {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tx\n\t\t{rule}\n\t}}\n}}\n"
    with pytest.raises(ParseError) as e:
        nft.parse(text.replace("\t\tx\n", "\t\tip daddr 9.9.9.9 accept\n"), "f")
    assert str(e.value) == message


def test_a_big_nft_set_tested_by_many_rules_costs_its_size_once(tmp_path: Path) -> None:
    """300 rules testing a set of 60,000 addresses: every test scanned the set; now one lookup per prefix."""
    elements = ", ".join(f"11.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(60_000))
    rules = [f"ip saddr @s meta mark set meta mark | 0x{1 << (i % 30):x}" for i in range(300)]
    node = nft_node(tmp_path, [("pre", rules)])
    text = (node / "nft-ruleset").read_text()
    (node / "nft-ruleset").write_text(text.replace("{\n", f"{{\n\tset s {{\n\t\ttype ipv4_addr\n\t\telements = {{ "
                                                         f"{elements}, 192.168.0.0/16 }}\n\t}}\n", 1))  # fmt: skip
    f = tr.Node.find(node)
    with within(30):
        n = tr.Node.load(None, f["routes"], f.get("rules"), f.get("addrs"), nft_file=f["nft"])
        (o,) = tr.trace(n, *tr.parse_packet(SYN)).outcomes
    assert len([s for s in o.legs[0].steps if s.effect.startswith("mark=")]) == 300
