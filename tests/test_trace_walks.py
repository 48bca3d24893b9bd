"""The nat walks the tracer keeps (``hairpin.netfilter.walks``) change no answer.

A kept walk is found by the fields the rules it met read and by the answers to its random draws; these tests
trace the same packets on a node that keeps them and on one that walks every rule (``LinuxHost.caching``
off) and compare every word and every JSON field, on varied packets (SYNs, replies, other ports and
protocols, addresses no Service has, packets the node sends, marks set by the rules), one node keeping
its walks across all of them, and on a chain whose walks read more fields on one answer than on the other; and on
the first random rulesets of the kernel lab's generator (``benchmarks/fuzz_trace_walks.py``)."""

from __future__ import annotations

import functools
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin import trace as tr
from hairpin.errors import InputError
from hairpin.model.net import ip_str
from hairpin.netfilter.evaluate import Context, Verdict
from hairpin.notes import lines_of

DATA = Path(__file__).parent / "data" / "trace"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import fuzz_trace_walks as campaign  # noqa: E402


def _seed() -> tr.Node:
    f = tr.Node.find(DATA / "seed-node1")
    return tr.Node.load(f["iptables"], f["routes"], f.get("rules"), f.get("addrs"), name="node1")


def _eks() -> tr.Node:
    eks = DATA / "eks-node-S"
    return tr.Node.load([eks / "iptables-t-nat-S", eks / "iptables-S"], eks / "ip-route", eks / "ip-rule")


def _legacy() -> tr.Node:
    f = DATA / "legacy-node"
    return tr.Node.load([f / "iptables-save", f / "iptables-legacy-save"], f / "ip-route", f / "ip-rule",
                        f / "ip-addr", legacy_file=f / "iptables-legacy-save")  # fmt: skip


NODES = {"seed": _seed, "eks": _eks, "legacy": _legacy}


@functools.cache
def kept(name: str) -> tr.Node:
    """One node per kind for the whole module: its kept walks pile up from packet to packet."""
    return NODES[name]()


def walked(name: str) -> tr.Node:
    n = NODES[name]()
    n.tracer().host.caching = False
    return n


def same(name: str, text: str, reply: bool) -> tr.Trace | None:
    """The trace of ``text`` on the node that keeps its walks, once it is shown to equal the one that walks
    every rule (None: both refuse the packet alike)."""
    try:
        packet, iif = tr.parse_packet(text)
    except InputError:
        return None
    try:
        want = tr.trace(walked(name), packet, iif, reply=reply)
    except InputError as e:
        try:
            tr.trace(kept(name), packet, iif, reply=reply)
        except InputError as f:
            assert str(f) == str(e)
            return None
        raise AssertionError(f"kept walks traced a packet the walked node refused: {e}") from None
    got = tr.trace(kept(name), packet, iif, reply=reply)
    assert got.text() == want.text()
    assert got.to_json() == want.to_json()
    assert records(got) == records(want)
    return got


def records(t: tr.Trace) -> list[object]:
    """What a trace recorded, before any word is made of it: each outcome's decisions, and each leg's table
    traversals (table, steps), events (kind, where, packet, the notes' lines, time), end and lead notes."""
    return [(o.decisions, [(leg.name, leg.walk, [(k, w, p, lines_of(n), now) for k, w, p, n, now in leg.events],
                            leg.kind, leg.oif, leg.out_packet, lines_of(leg.lead)) for leg in o.legs], o.undecided)
            for o in t.outcomes]  # fmt: skip


#: per node: its Services' ends (ClusterIP and NodePort: what draws), and addresses its rules and routes name or
#: no rule names (pods, the node, the Service addresses, loopback, a broadcast, the outside)
SERVICES = {
    "seed": [("tcp", "10.100.235.20", 80), ("tcp", "192.168.2.3", 31468)],
    "eks": [("tcp", "10.100.0.10", 53), ("udp", "10.100.0.10", 53), ("tcp", "10.100.0.10", 9153),
            ("tcp", "10.100.192.187", 80), ("tcp", "10.100.0.1", 443)],
    "legacy": [("tcp", "10.100.0.10", 80)],
}  # fmt: skip
ADDRS = {
    "seed": ["192.168.27.239", "192.168.2.3", "10.100.235.20", "192.168.49.70", "192.168.16.142", "192.168.39.2",
             "127.0.0.1", "8.8.8.8", "192.168.31.255"],
    "eks": ["172.31.0.225", "172.31.3.129", "172.31.12.149", "10.100.0.10", "169.254.169.254", "8.8.8.8",
            "127.0.0.1"],
    "legacy": ["192.168.2.3", "192.168.27.239", "192.168.16.142", "10.100.0.10", "8.8.8.8", "127.0.0.1"],
}  # fmt: skip
IFACES = {
    "seed": ["eth0", "enie348bef9edc", "eni851d8a400b6", "lo", "out"],
    "eks": ["eth0", "eni1e3dd7d66d7", "eni5f2d60c848c", "out"],
    "legacy": ["eth0", "eni1", "eni2", "lo", "out"],
}
PORTS = [80, 443, 53, 8080, 31468, 30000, 22, 49134, 1023]
FLAGS = ["syn", "ack", "rst", "syn,ack", "fin,ack"]


@st.composite
def packets(draw: st.DrawFn) -> tuple[str, str, bool]:
    """A node, a packet for it (to one of its Services two times in three), and whether to follow the reply."""
    name = draw(st.sampled_from(sorted(NODES)))
    addrs = ADDRS[name]
    if draw(st.integers(0, 2)):
        proto, dst, dport = draw(st.sampled_from(SERVICES[name]))
    else:
        proto = draw(st.sampled_from(["tcp", "udp"]))
        dst, dport = draw(st.sampled_from(addrs)), draw(st.sampled_from(PORTS))
    src, sport = draw(st.sampled_from(addrs)), draw(st.sampled_from(PORTS))
    flags = f" {draw(st.sampled_from(FLAGS))}" if proto == "tcp" and draw(st.integers(0, 2)) == 0 else ""
    where = draw(st.sampled_from(IFACES[name]))
    place = "out" if where == "out" else f"in {where}"
    return name, f"{proto} {src}:{sport} > {dst}:{dport}{flags} {place}", draw(st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packets())
def test_kept_walks_answer_as_walking_every_rule(case: tuple[str, str, bool]) -> None:
    name, text, reply = case
    same(name, text, reply)


def test_the_seed_packets_twice_each_and_the_walks_are_kept() -> None:
    """The seed's SYN, a ClusterIP SYN, a port no Service has, a UDP datagram and a SYN the node sends, each
    traced twice (the second meets the walks the first kept)."""
    texts = ["tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0",
             "tcp 192.168.27.239:49134 > 10.100.235.20:80 syn in enie348bef9edc",
             "tcp 192.168.27.239:49134 > 192.168.2.3:31469 syn in eth0",
             "udp 192.168.27.239:5353 > 10.100.235.20:80 in enie348bef9edc",
             "tcp 192.168.2.3:40000 > 10.100.235.20:80 syn out"]  # fmt: skip
    for text in texts:
        for reply in (False, True, True):
            assert same("seed", text, reply) is not None
    walks = kept("seed").tracer().host.walks
    assert walks.kept and set(walks.masks) >= {("nat", "PREROUTING"), ("nat", "POSTROUTING"), ("nat", "OUTPUT")}
    assert not walked("seed").tracer().host.walks.kept


RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:SVC - [0:0]
:PICK - [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j SVC
-A SVC -p tcp -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.2.0.1:80
-A SVC -j PICK
-A PICK -s 10.1.0.0/24 -p tcp -j DNAT --to-destination 10.2.0.2:80
-A PICK -p tcp -j DNAT --to-destination 10.2.0.3:80
COMMIT
"""
ROUTES = ("10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2\n"
          "10.1.0.0/16 dev eth1 proto kernel scope link src 10.1.0.1\n"
          "10.2.0.0/24 dev eth2 proto kernel scope link src 10.2.0.254\n"
          "local 10.0.0.2 dev eth0 table local proto kernel scope host src 10.0.0.2\n"
          "local 10.1.0.1 dev eth1 table local proto kernel scope host src 10.1.0.1\n"
          "local 10.2.0.254 dev eth2 table local proto kernel scope host src 10.2.0.254\n")  # fmt: skip


def test_a_walk_that_reads_the_source_on_one_answer_only(tmp_path: Path) -> None:
    """The chain's first rule draws; only the walk that answers no enters PICK, which reads the source (-s).
    A walk is kept the second time it is met, then every walk of its flow class; a packet from outside
    10.1.0.0/24 goes to 10.2.0.3, not to the 10.2.0.2 a kept walk of another source found."""
    (tmp_path / "ipt").write_text(RULES)
    (tmp_path / "routes").write_text(ROUTES)
    node = tr.Node.load(tmp_path / "ipt", tmp_path / "routes")
    plain = tr.Node.load(tmp_path / "ipt", tmp_path / "routes")
    plain.tracer().host.caching = False
    nf = node.tracer().host.nf
    walked_from: list[str] = []
    run_recorded = nf.run_recorded

    def counted(table: str, chain: str, ctx: Context) -> tuple[Verdict, int, int]:
        walked_from.append(ip_str(ctx.packet.src).rsplit(".", 1)[1])
        return run_recorded(table, chain, ctx)

    nf.run_recorded = counted  # type: ignore[method-assign]
    half = Fraction(1, 2)
    walks = node.tracer().host.walks
    for src, second, kept_after in (("10.1.0.5", "10.2.0.2:80", 0), ("10.1.0.9", "10.2.0.2:80", 0),
                                    ("10.1.200.7", "10.2.0.3:80", 0), ("10.1.0.5", "10.2.0.2:80", 1),
                                    ("10.1.200.7", "10.2.0.3:80", 2), ("10.1.200.7", "10.2.0.3:80", 2),
                                    ("10.1.0.5", "10.2.0.2:80", 2)):  # fmt: skip
        packet, iif = tr.parse_packet(f"tcp {src}:5000 > 10.0.0.2:80 syn in eth1")
        got, want = tr.trace(node, packet, iif, reply=True), tr.trace(plain, packet, iif, reply=True)
        assert [(o.probability, str(o.legs[0].out_packet.dest) if o.legs[0].out_packet else None)
                for o in got.outcomes] == [(half, "10.2.0.1:80"), (half, second)]  # fmt: skip
        assert got.text() == want.text() and got.to_json() == want.to_json()
        assert len(walks.kept) == kept_after
    # each source's two walks (yes, no) walked; 10.1.0.5's second trace keeps its "no" (met before under the wider
    # key), not its "yes" (met before under the narrower key only, before the source was read); 10.1.200.7's
    # second keeps both, its third walks none, and 10.1.0.5's third walks its "yes" again, which is kept
    assert walked_from == ["5", "5", "9", "9", "7", "7", "5", "5", "7", "7", "5"]
    assert walks.masks[("nat", "PREROUTING")] == 1 | 8  # the source (-s, on one answer) and the port (--dport)
    assert sorted(k[3] for k in walks.kept) == [9, 9]
    assert all(type(walks.kept[k].node) is not tuple for k in walks.kept)  # a draw first: both answers kept


#: the campaign's first cases (benchmarks/fuzz_trace_walks.py): a ruleset hairpin refuses (a nat rule the kernel
#: refuses too) is not traced
STATUSES = {4: ["agree"] * 12 + ["unloadable", "agree", "unloadable", "agree", "agree"],
            6: ["agree"] * 16 + ["unloadable"]}  # fmt: skip


@pytest.mark.parametrize("family", [4, 6])
def test_the_kernel_labs_random_rulesets_trace_alike_with_kept_walks(tmp_path: Path, family: int) -> None:
    """15 packets a ruleset, each traced three times in a shuffled order on a node that keeps its walks and on one
    that walks every rule: the same words and JSON, and walks were kept (the comparison is not empty)."""
    got = [campaign.one(seed, family, 15, tmp_path) for seed in range(772000, 772017)]
    assert [(status, report) for status, report, _ in got] == [(s, "") for s in STATUSES[family]]
    assert sum(n for _, _, n in got) > 50


def test_a_route_through_an_ip_rule_the_trace_warns_it_never_takes_is_a_contradiction() -> None:
    warned = (
        "  warning: ip-rule: the rule `100: from all fwmark 0x1/0x1 lookup 100` selects packets marked "
        "0x1/0x1, but no rule in the node's netfilter files can set those bits, so this trace never takes it"
    )
    route = "    route: rule 100: from all fwmark 0x1/0x1 lookup 100; table 100: default via 10.1.0.1 dev eth0"
    assert campaign.contradiction(f"{warned}\n{route}\n") == route.strip()
    assert campaign.contradiction(f"{warned}\n    route: table main: default via 10.1.1.2 dev eth1\n") == ""
    assert campaign.contradiction(route) == ""
