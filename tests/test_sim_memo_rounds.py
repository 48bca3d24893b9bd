"""The memo's SYN rounds (``hairpin.backends.memo_rounds``): a hairpinned connection's later SYN rounds
continue in subtrees shared by round start states that are equal up to the renaming of random values, the
results stay byte-identical to full simulation, and states that differ where it can matter are not merged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin import scenario, sweep
from hairpin.backends import memo, memo_rounds, sim
from hairpin.conntrack import Entry
from hairpin.host import LinuxHost
from hairpin.model.net import Flags, Packet

MODES = ("iptables", "nftables", "ipvs")


def _warm(s: scenario.Scenario, n: int, seed: int) -> tuple[memo.Memo, list[Any]]:
    m = memo.Memo(sim.Network(s, verbose=False))
    return m, [m.lookup(i, seed) or m.record(i, seed) for i in range(n)]


def _round_hits(got: list[Any]) -> int:
    """Connections of more than one SYN round the memo answered."""
    return sum(isinstance(g, tuple) and g[0].syns > 1 for g in got)


@pytest.mark.parametrize(("mode", "keys"), [("iptables", 6), ("nftables", 6), ("ipvs", 18)])
def test_hairpinned_connections_hit_through_shared_rounds(mode: str, keys: int) -> None:
    """On the seed, every retransmitted SYN (rounds 2 to 7) starts from one state whatever the earlier rounds
    drew (the previous round's closed entry on node1 is keyed by its original tuple alone, the endpoint
    nodes' closed entries hold only dead ports); IPVS adds where its round-robin stands (3 real servers)."""
    s = sweep.point_scenario(scenario.seed(), {"mode": mode})
    m, got = _warm(s, 300, 3)
    assert len(m.rounds) == keys
    assert _round_hits(got) > 50  # of about 150 hairpinned connections
    on = sim.run(s, 120, seed=3, memo=True)
    assert sum(isinstance(c, sim.Replayed) and c.syns == 7 for c in on.connections) > 10
    assert json.dumps(on.to_json(all_hops=True)) == json.dumps(sim.run(s, 120, seed=3, memo=False).to_json(True))


one_node = st.fixed_dictionaries(
    # the caller's node is the only target its AZ's NLB node has: every connection hairpins (with cross-zone
    # load balancing, only those sent to the caller's AZ do: too few for 60 connections to hit)
    {"nodes": st.just(1), "cross_zone": st.just(False)},
    optional={"azs": st.integers(1, 3), "mode": st.sampled_from(MODES)},
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(point=one_node, seed=st.integers(0, 2**16))
def test_random_hairpinning_scenarios_identical_through_shared_rounds(point: dict[str, Any], seed: int) -> None:
    s = sweep.point_scenario(scenario.seed(), point)
    on = sim.run(s, 60, seed=seed, memo=True)
    assert any(isinstance(c, sim.Replayed) and c.syns > 1 for c in on.connections)  # the shared rounds answered
    off = sim.run(s, 60, seed=seed, memo=False)
    assert json.dumps(on.to_json(all_hops=True)) == json.dumps(off.to_json(all_hops=True))


@pytest.mark.parametrize("name", ["etp-local", "seed-ipv6", "nftables-mode", "ipvs-mode"])
def test_examples_identical_through_shared_rounds(name: str) -> None:
    """Examples whose connections retransmit (no local endpoint, IPv6, each kube-proxy mode's own example):
    enough connections that later rounds hit, the same JSON as full simulation."""
    s = scenario.load(Path(__file__).parent.parent / "examples" / f"{name}.yaml")
    on = sim.run(s, 150, seed=7, memo=True)
    assert any(isinstance(c, sim.Replayed) and c.syns > 1 for c in on.connections)
    assert json.dumps(on.to_json()) == json.dumps(sim.run(s, 150, seed=7, memo=False).to_json())


class _Round:
    """The network of the seed's connection 1 (hairpinned) stopped where its second SYN is about to be sent."""

    def __init__(self) -> None:
        s = scenario.seed()
        self.m = m = memo.Memo(sim.Network(s, verbose=False))
        self.net = net = m.net
        self.rec: memo._Recording | None = None
        client = net.hosts["netshoot"]
        assert isinstance(client, LinuxHost)
        self.client = client
        done = []

        def at_round(rec: memo._Recording, h: LinuxHost, c: Any) -> None:
            if not done:
                done.append(c)
                self.rec = rec
                raise _Stop

        m._round = at_round  # type: ignore[method-assign]
        with pytest.raises(_Stop):
            m.record(1, 3)
        self.conn = done[0]
        node1, node3 = net.hosts["node1"], net.hosts["node3"]
        assert isinstance(node1, LinuxHost) and isinstance(node3, LinuxHost)
        self.node1, self.node3 = node1, node3

    def key(self) -> tuple[Any, tuple[int, ...], list[Entry]] | None:
        rec = self.rec
        assert rec is not None
        m = self.m
        return memo_rounds.round_key(self.net, self.client, self.conn, rec.ports, rec.isns, rec.allports, m._cutset,
                                     m._cell, rec.spun)  # fmt: skip

    def entry(self, host: LinuxHost, state: str) -> Entry:
        (e,) = {id(e): e for e, _ in host.conntrack._by_tuple.values() if e.state == state}.values()
        return e


class _Stop(Exception):
    pass


def test_a_round_key_names_what_matters_and_leaves_out_what_cannot() -> None:
    r = _Round()
    got = r.key()
    assert got is not None
    key, mapping, closed = got
    closed_n1 = r.entry(r.node1, "CLOSE")
    assert closed == [closed_n1]  # the entry the next SYN re-opens: its original tuple alone
    assert len(mapping) == 2  # the client port and the client's ISN; the MASQUERADE port is dead
    stale = r.entry(r.node3, "CLOSE")  # node3's entry of round 1 holds only the dead MASQUERADE port
    assert all(row[1] != "node3" for row in key if isinstance(row, tuple))
    saved = stale.expires, closed_n1.expires, closed_n1.mark
    stale.expires, closed_n1.expires, closed_n1.mark = 99.0, 98.0, 7  # read only through a tuple no packet has
    again = r.key()
    assert again is not None and again[0] == key
    stale.expires, closed_n1.expires, closed_n1.mark = saved
    # what can matter changes the key: a live entry's timeout, the closed entry's state, the hairpin so far
    live = r.entry(r.node1, "SYN_SENT")
    live.expires += 1.0
    assert (r.key() or [None])[0] != key
    live.expires -= 1.0
    closed_n1.state = "ESTABLISHED"  # not re-opened by a SYN: all of it is keyed, its MASQUERADE port is live
    other = r.key()
    assert other is not None and other[0] != key and other[2] == [] and len(other[1]) == 3
    closed_n1.state = "CLOSE"
    hops = r.net.hops
    r.net.hops = []
    assert (r.key() or [None])[0] != key
    r.net.hops = hops
    assert (r.key() or [None])[0] == key


def test_a_reachable_stale_entry_is_keyed_in_full() -> None:
    """An entry on node3 whose tuples hold the live client port can be found again: it is part of the key."""
    r = _Round()
    got = r.key()
    assert got is not None
    stale = r.entry(r.node3, "CLOSE")
    table = r.node3.conntrack._by_tuple
    port = r.conn.local.port
    for t in (stale.orig, stale.reply):
        del table[t]
    stale.orig = (stale.orig[0], port, *stale.orig[2:])
    stale.reply = (*stale.reply[:3], port, stale.reply[4])
    table[stale.orig], table[stale.reply] = (stale, 0), (stale, 1)
    with_it = r.key()
    assert with_it is not None and with_it[0] != got[0]
    assert any(isinstance(row, tuple) and row[:2] == ("e", "node3") for row in with_it[0])
    stale.expires += 1.0
    assert (r.key() or [None])[0] != with_it[0]


def test_no_key_for_what_the_module_cannot_name() -> None:
    r = _Round()
    r.net.engine.after(5.0, lambda: None)  # an event pending at the round's start
    assert r.key() is None
    r.net.engine.reset()
    assert r.key() is not None
    live = r.entry(r.node1, "SYN_SENT")
    live.helper = "ftp"  # type: ignore[attr-defined]  # an attribute the key does not know
    assert r.key() is None
    del live.helper  # type: ignore[attr-defined]
    r.client.tcp.established.add((1, 2, 3, 4))
    assert r.key() is None


def test_a_closed_entry_is_only_found_by_the_syn_that_reopens_it() -> None:
    """While a round key names a closed entry by its original tuple alone, finding it in any other way makes
    the connection unrecordable; the re-opening SYN is allowed and ends the watch."""
    r = _Round()
    got = r.key()
    assert got is not None
    (closed,) = got[2]
    ct = r.node1.conntrack
    memo_rounds.watch_closed(ct, lambda: r.m.rec, r.m._fail)  # as Memo._round does once a key names one
    for how in ("reply tuple", "syn"):
        rec = memo._Recording(r.conn.local.port)
        rec.closed = {id(closed): closed}
        r.m.rec = rec
        try:
            if how == "reply tuple":
                assert ct.reply_in_use(closed.reply, 2.0)
                assert rec.bad == "a closed entry found other than by the SYN that re-opens it"
                o = closed.orig
                ack = Packet(o[0], o[1], o[2], o[3], Flags.ACK)
                rec.bad = None
                assert ct.lookup(ack, 2.0) == (closed, 0)
                assert rec.bad == "a closed entry found other than by the SYN that re-opens it"
            else:
                o = closed.orig
                assert ct.lookup(Packet(o[0], o[1], o[2], o[3], Flags.SYN), 2.0) == (closed, 0)
                assert rec.bad is None and rec.closed == {}
        finally:
            r.m.rec = None
    memo_rounds.unwatch(ct)  # the table's own methods: nothing is watched
    rec = memo._Recording(r.conn.local.port)
    rec.closed = {id(closed): closed}
    r.m.rec = rec
    assert ct.reply_in_use(closed.reply, 2.0) and rec.bad is None
    r.m.rec = None


def test_a_stored_marker_gives_its_key_without_recomputing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording a path whose markers are stored looks up the closed entries their keys name instead of
    computing the keys again; a closed entry that is not where the key names it gives no answer."""
    m = memo.Memo(sim.Network(scenario.seed(), verbose=False))
    calls: list[int] = []
    real = memo.round_key
    monkeypatch.setattr(memo, "round_key", lambda *a: calls.append(1) or real(*a))
    c = m.record(1, 3)
    assert c.syns == 7 and len(calls) == 6 and m.links == 6
    calls.clear()
    assert m.record(1, 3).target == c.target
    assert calls == [] and m.links == 6
    r = _Round()
    got = r.key()
    assert got is not None and r.rec is not None
    key, mapping, closed = got
    assert memo_rounds.closed_of(r.net, key, mapping, r.rec.vals) == (key, mapping, closed)
    r.node1.conntrack.kill(closed[0])
    assert memo_rounds.closed_of(r.net, key, mapping, r.rec.vals) is None
