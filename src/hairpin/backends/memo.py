"""Whole connections memoised on their random decisions (``sim.run``'s bulk connections).

Every simulated connection starts from a clean network (``Network.reset``) and draws all its randomness
from streams seeded by text such as ``f"{seed}:{conn_id}:{host}"``: a connection is a function of those
streams.  What the streams decide is a short list of *decisions* (a ``statistic``/``numgen`` draw taken or
not, the IPVS rr position, the NLB's flow-hash target) and a few *values* (the client port, each host's
ISNs, MASQUERADE ports, the NLB's own source port).  This module records, while a connection is
simulated, every draw and what it was used for, and stores the connection's course (target, outcome,
elapsed time, SYNs, hairpin) at the end of that path of decisions in a trie.  A later connection walks the
trie drawing the same k-th values from its own streams; a leaf gives its course without simulating it, an
unexplored branch simulates it and extends the trie.

Why the values do not matter, and where that is checked rather than assumed:

- Ports are only compared (for equality, or against the bounds of a rule's port, range or set) and
  hashed (the NLB's flow hash, itself a recorded decision).  Every constant a port can be compared with
  is a number in the scenario, in a host's iptables/nft/ipset text or in the simulator's port ranges:
  ``constants`` collects them all (and more: any decimal number in those texts; it lives in
  :mod:`hairpin.backends.memo_values`, with ``_isns_apart`` and ``_Tap`` below).  Each port value's
  *cell* (equal to one constant, or strictly between two consecutive ones) is part of the decision
  path, so two connections on one path agree on every such comparison; and the ports of one connection
  must be pairwise distinct (no chance equality: a conntrack clash, a reused tuple).
- ISNs are only compared with themselves plus small offsets (``ack == isn + 1``) and hashed (the NLB's
  hash takes the SYN's sequence number): the ISNs of one connection must lie more than 2**16 apart from
  each other and from 0 (mod 2**32).
- Every draw of every tapped stream must be explained by one of the hooks below (``_Tap.draws`` against
  what the hooks consumed): a draw for an unknown purpose makes the connection unrecordable.
- A MASQUERADE port that was not the first one drawn (a clash moved it on), a NLB hash over a port that
  is neither a recorded value nor a constant, a NAT gateway (``VpcRouter.nat_out``: it derives its port
  arithmetically from the source port) or a Classic ELB (its own ports and ISNs from a keyed hash) make
  the connection, or the whole network, unrecordable: those connections are simulated in full.
- Connections must not interact: ``-m recent`` lists and nftables mode's ``affinity-…`` sets (``update @set {
  ip saddr }``, ``NftTable.dynamic``) outlive ``reset``; once one holds an address the memo is switched off for
  the rest of the run (connections until then saw empty lists, as recorded).

A connection that is not answered sends its SYN again; each round re-opens the closed conntrack entry on the
caller's node and draws kube-proxy's endpoint and the MASQUERADE port afresh.  Where such a SYN is about to be
sent, the recording writes a *round marker*: the state's key (``memo_rounds.round_key``, canonical up to the
renaming of drawn values) names a subtree shared by every path that reaches an equal state, and the ops after
it name values in a new frame (those the key names, then those drawn since).  Distinctness and ISN gaps are
still checked over every value of the connection.  A SYN round that draws nothing and gets no key (an event still
pending) leaves no op, so one trie position is reached at several rounds: a recording that follows a stored path
takes the key of a marker stored there only at that key's own time.

A memoised connection's hops are not known until asked for: ``sim.run`` gives it a replay (the same
connection simulated again, which is exact: it is seeded from (seed, id)).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hairpin.aws.nlb import NlbNode, Target, flow_hash_of
from hairpin.backends.memo_rounds import closed_of, round_key, unwatch, watch_closed
from hairpin.backends.memo_values import _isns_apart, _Tap, constants
from hairpin.backends.streams import host_of, host_stream, ipvs_stream, own_stream
from hairpin.host import LinuxHost, port_range
from hairpin.model.net import Endpoint, Packet

if TYPE_CHECKING:
    from collections.abc import Callable

    from hairpin.backends.sim import Connection, Network
    from hairpin.conntrack import Entry
    from hairpin.netfilter.evaluate import NatAction
    from hairpin.netfilter.rules import Rule
    from hairpin.tcp import Connector

__all__ = ["Course", "Memo", "constants"]

#: trie nodes a network keeps at most (a cache: once full, new paths are simulated and not stored)
MAX_NODES = 1 << 18


@dataclass(frozen=True, slots=True)
class Course:
    """What a connection's random values do not change (everything of a ``Connection`` but its id,
    client port and hops)."""

    src: int
    service: str
    target: str
    outcome: str
    elapsed_s: float
    syns: int
    hairpin: bool


class _Node:
    __slots__ = ("kids", "op")

    def __init__(self, op: tuple[Any, ...]) -> None:
        self.op = op
        self.kids: dict[Any, _Node | _Link | Course] = {}


class _Link:
    """A round marker: the rest of the path is the shared subtree ``slot[None]`` of a round key, whose ops
    name the values ``mapping`` picks from the current frame (in that order), then those drawn since."""

    __slots__ = ("key", "mapping", "slot")

    def __init__(self, key: tuple[Any, ...], mapping: tuple[int, ...], slot: dict[Any, _Node | _Link | Course]) -> None:
        self.key = key
        self.mapping = mapping
        self.slot = slot


class _Unrecordable(Exception):
    pass


class _Recording:
    """One connection's decisions and values while it is simulated; ops name values by their index in the
    current *frame* (the values since the start, or since the last round marker: see ``_Link``)."""

    def __init__(self, port: int) -> None:
        # (op, its outcome: the trie's branch key), or (None, (round key, frame indices)): a round marker
        self.ops: list[tuple[tuple[Any, ...] | None, Any]] = []
        self.vals = [port]  # the frame: symbol i's value (0: the client port)
        self.ports = {port: 0}  # port value -> symbol (this frame)
        self.isns: dict[int, int] = {}  # ISN -> symbol (this frame)
        self.port0 = port
        self.allports = {port}  # every port and ISN the connection drew, whatever the frame
        self.allisns: set[int] = set()
        #: closed entries the last round key named by their original tuple alone (by id): only the SYN that
        #: re-opens one may find it (``memo_rounds``)
        self.closed: dict[int, Entry] = {}
        self.reopening = self.watching = False  # a lone SYN being looked up; watch_closed installed
        self.at: tuple[dict[Any, _Node | _Link | Course], Any] | None = None  # where the next op goes in the trie
        self.taps: dict[str, _Tap] = {}
        self.used: dict[str, int] = {}  # draws of each stream the hooks explained
        self.spun: set[tuple[str, int]] = set()
        self.in_choose: int | None = None
        self.nat_ports: set[int] = set()
        self.bad: str | None = None


class Memo:
    """The decision trie of one quiet ``Network`` (the one ``sim.run`` simulates its bulk connections on)."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.roots: dict[Any, _Node | _Link | Course] = {}
        #: round key (``memo_rounds.round_key``) -> {None: the first node of its shared subtree}
        self.rounds: dict[tuple[Any, ...], dict[Any, _Node | _Link | Course]] = {}
        self.links = 0
        self.rec: _Recording | None = None
        self.hits = self.misses = self.nodes = 0
        #: why the memo is off for this network (every connection simulated in full), or None
        self.off: str | None = "a Classic ELB (its own keyed ports and ISNs)" if net.clbs else None
        self.cuts = constants(net)
        self._cutset = frozenset(self.cuts)
        self._nodes = [h for h in net.hosts.values() if isinstance(h, LinuxHost)]
        if self.off is None:
            self._install()

    # -- recording hooks
    def _install(self) -> None:
        net = self.net
        net.stream = self._stream
        for h in self._nodes:
            h.choose = self._choose_hook(h, h.choose)
            h.tcp.isn = self._isn_hook(h, h.tcp.isn)
            setattr(h, "_pick_port", self._port_hook(h, h._pick_port))  # noqa: B010 (an instance's method)
            h.tcp.send = self._send_hook(h, h.tcp.send)
            if h.ipvs is not None:
                if h.ipvs.choose is not None:
                    self.off = "IPVS scheduling asked of a callback"
                k = 0
                for vs in h.ipvs.services.values():
                    if vs.dests:
                        setattr(vs, "schedule", self._ipvs_hook(h.name, vs, k, vs.schedule))  # noqa: B010
                        k += 1
        for i, nlb in enumerate(net.nlbs.nlbs):
            setattr(nlb, "flow_hash", self._hash_hook(i, nlb.flow_hash))  # noqa: B010
            setattr(nlb, "choose", self._nlb_choose_hook(nlb.choose))  # noqa: B010
        if self.off is not None:
            net.stream = random.Random

    def _stream(self, text: str) -> random.Random:
        tap = _Tap(text)
        if self.rec is not None:
            self.rec.taps[text.split(":", 2)[2]] = tap
        return tap

    def _fail(self, why: str) -> None:
        if self.rec is not None and self.rec.bad is None:
            self.rec.bad = why

    def _tap(self, h: LinuxHost) -> tuple[_Recording, _Tap] | None:
        rec, tap = self.rec, h.rng
        if rec is None or not isinstance(tap, _Tap):
            return None
        return rec, tap

    def _use(self, rec: _Recording, stream: str, n: int) -> None:
        rec.used[stream] = rec.used.get(stream, 0) + n

    def _port(self, rec: _Recording, value: int) -> None:
        if value in rec.allports or value in self._cutset:
            self._fail(f"port {value} not generic")
        rec.allports.add(value)
        rec.ports[value] = len(rec.vals)
        rec.vals.append(value)

    def _cell(self, port: int) -> object:
        return ("=", port) if port in self._cutset else bisect.bisect(self.cuts, port)

    def _choose_hook(self, h: LinuxHost, orig: Callable[[float, Rule], bool]) -> Callable[[float, Rule], bool]:
        def choose(p: float, rule: Rule) -> bool:
            t = self._tap(h)
            if t is None:
                return orig(p, rule)
            rec, tap = t
            n0 = tap.draws
            v = orig(p, rule)
            if tap.draws - n0 != 1 or tap.last != "random":
                self._fail("a choice that is not one random() draw")
            self._use(rec, host_stream(h.name), 1)
            self._op(rec, ("c", host_stream(h.name), p), v)
            return v

        return choose

    def _isn_hook(self, h: LinuxHost, orig: Callable[[], int]) -> Callable[[], int]:
        def isn() -> int:
            t = self._tap(h)
            if t is None:
                return orig()
            rec, tap = t
            n0 = tap.draws
            v = orig()
            if tap.draws - n0 != 1 or tap.last != "bits32" or v in rec.allisns:
                self._fail("an ISN that is not one 32-bit draw")
            self._use(rec, host_stream(h.name), 1)
            rec.allisns.add(v)
            rec.isns[v] = len(rec.vals)
            rec.vals.append(v)
            self._op(rec, ("i", host_stream(h.name)), None)
            return v

        return isn

    def _port_hook(
        self, h: LinuxHost, orig: Callable[[Entry, int, Packet, NatAction, float], int | None]
    ) -> Callable[[Entry, int, Packet, NatAction, float], int | None]:
        def pick(ct: Entry, addr: int, p: Packet, nat: NatAction, now: float) -> int | None:
            t = self._tap(h)
            if t is None:
                return orig(ct, addr, p, nat, now)
            rec, tap = t
            n0 = tap.draws
            port = orig(ct, addr, p, nat, now)
            drew = tap.draws - n0
            if port is None or drew > 1 or (drew == 1 and tap.last != "randrange"):
                self._fail("a NAT port not picked at the first try")
            elif drew == 0:
                if port != p.sport:
                    self._fail("a NAT port neither kept nor drawn")
            else:
                lo, hi = port_range(p, nat)
                if port != lo + tap.value:
                    self._fail("a NAT port moved on from a taken one")
                self._use(rec, host_stream(h.name), 1)
                self._port(rec, port)
                self._op(rec, ("p", host_stream(h.name), lo, hi - lo + 1), self._cell(port))
            return port

        return pick

    def _send_hook(self, h: LinuxHost, orig: Callable[[Packet, str], None]) -> Callable[[Packet, str], None]:
        def send(p: Packet, why: str) -> None:
            rec = self.rec
            if rec is not None and rec.bad is None and int(p.flags) == 0x02:  # a SYN alone
                c = h.tcp.connectors.get((p.src, p.sport, p.dst, p.dport))
                if c is not None and c.syns > 1 and c.state == "SYN_SENT" and p.seq == c.isn:
                    self._round(rec, h, c)
            orig(p, why)

        return send

    def _op(self, rec: _Recording, op: tuple[Any, ...], outcome: Any) -> None:
        rec.ops.append((op, outcome))
        if rec.at is not None:  # on along the stored path while it has this op
            node = rec.at[0].get(rec.at[1])
            rec.at = (node.kids, outcome) if isinstance(node, _Node) and node.op == op else None

    def _round(self, rec: _Recording, h: LinuxHost, c: Connector) -> None:
        """A SYN is about to be sent again: a round marker when the state has a key (where the stored path has a
        marker of this round, its key: the path and the time decide the state, as for every op of the trie)."""
        link = rec.at[0].get(rec.at[1]) if rec.at is not None else None
        got = None
        # a SYN round that draws nothing and has no key leaves no op: the marker stored here may be a later round's
        # (the key's first item is the time), and then this round is computed as if no marker were stored here
        if isinstance(link, _Link) and link.key[0] == self.net.engine.now:
            got = closed_of(self.net, link.key, link.mapping, rec.vals)
        if got is None:
            got = round_key(self.net, h, c, rec.ports, rec.isns, rec.allports, self._cutset, self._cell, rec.spun)
        if got is None:
            rec.at = None
            return
        key, mapping, closed = got
        slot = link.slot if isinstance(link, _Link) else self.rounds.get(key)
        rec.at = None if slot is None else (slot, None)
        if any(id(e) not in {id(x) for x in closed} for e in rec.closed.values() if e.confirmed):
            self._fail("a closed entry named by its original tuple alone no longer is")
        rec.closed = {id(e): e for e in closed}
        for n in self._nodes if closed and not rec.watching else ():  # until the recording ends (``record``)
            rec.watching = True
            watch_closed(n.conntrack, lambda: self.rec, self._fail)
        rec.ops.append((None, (key, mapping)))
        vals = [rec.vals[i] for i in mapping]
        rec.ports = {v: j for j, v in enumerate(vals) if v in rec.ports}
        rec.isns = {v: j for j, v in enumerate(vals) if v in rec.isns}
        rec.vals = vals

    def _ipvs_hook(self, host: str, vs: Any, k: int, orig: Callable[[], Any]) -> Callable[[], Any]:
        def schedule() -> Any:
            rec = self.rec
            if rec is not None and (host, k) not in rec.spun:  # the first pick: where the spin left it
                rec.spun.add((host, k))
                self._op(rec, ("v", ipvs_stream(host), k, len(vs.dests)), vs._next)
            return orig()

        return schedule

    def _nlb_choose_hook(self, orig: Callable[[NlbNode, Packet], Target | None]) -> Callable[..., Target | None]:
        def choose(node: NlbNode, p: Packet) -> Target | None:
            rec = self.rec
            if rec is None:
                return orig(node, p)
            rec.in_choose = len(node.targets)
            n0 = len(rec.ops)
            try:
                t = orig(node, p)
            finally:
                rec.in_choose = None
            if node.targets and (len(rec.ops) != n0 + 1 or t is not node.targets[rec.ops[-1][1]]):
                self._fail("an NLB target not picked by its flow hash")
            return t

        return choose

    def _hash_hook(self, i: int, orig: Callable[[Packet], int]) -> Callable[[Packet], int]:
        def flow_hash(p: Packet) -> int:
            h = orig(p)
            rec = self.rec
            if rec is None:
                return h
            refs = []
            for v in (p.sport, p.dport):
                if v in rec.ports:
                    refs.append(-1 - rec.ports[v])
                elif v in self._cutset:
                    refs.append(v)
                else:
                    self._fail(f"NLB hash over port {v}, neither drawn nor a constant")
                    refs.append(v)
            if p.seq not in rec.isns:
                self._fail("NLB hash over a sequence number that is not an ISN")
            tmpl = (p.proto, p.src, refs[0], p.dst, refs[1], -1 - rec.isns.get(p.seq, 0))
            if rec.in_choose is not None:
                self._op(rec, ("h", i, tmpl, rec.in_choose), h % rec.in_choose)
            else:  # Nlb.forward: the NLB's own source port, 1024 + hash % 64512
                port = 1024 + h % 64512
                rec.nat_ports.add(port)
                self._port(rec, port)
                self._op(rec, ("n", i, tmpl), self._cell(port))
            return h

        return flow_hash

    # -- connections
    def lookup(self, conn_id: int, seed: int) -> tuple[Course, str] | None:
        """The course of connection ``conn_id`` and its client ("ip:port") when the trie holds its path."""
        if self.off is not None:
            return None
        net = self.net
        port = net.client_port(seed, conn_id)
        node: _Node | _Link | Course | None = self.roots.get((net.destination(seed, conn_id), self._cell(port)))
        vals = [port]  # the frame
        drawn = [port]  # every port drawn
        isns: list[int] = []  # every ISN drawn
        streams: dict[str, random.Random] = {}
        spins: dict[str, list[int]] = {}
        keys: dict[int, bytes] = {}
        prefix = f"{seed}:{conn_id}:"
        cutset, cuts, bisect_right = self._cutset, self.cuts, bisect.bisect
        while True:  # the kinds by how often they come: a choice, a port, an ISN, a link, a hash, an IPVS spin
            if isinstance(node, _Node):
                op = node.op
                kind = op[0]
                if kind in "cip":
                    r = streams.get(op[1])
                    if r is None:
                        r = streams[op[1]] = random.Random(prefix + op[1])
                    if kind == "c":
                        node = node.kids.get(r.random() < op[2])
                        continue
                    if kind == "p":
                        v = op[2] + r.randrange(op[3])
                        vals.append(v)
                        drawn.append(v)
                        node = node.kids.get(("=", v) if v in cutset else bisect_right(cuts, v))
                        continue
                    v = r.getrandbits(32)
                    vals.append(v)
                    isns.append(v)
                    node = node.kids.get(None)
                    continue
                if kind == "v":
                    got = spins.setdefault(op[1], [])
                    if not got:
                        host = net.hosts[host_of(op[1])]
                        assert isinstance(host, LinuxHost) and host.ipvs is not None
                        sr = random.Random(prefix + op[1])
                        got += [sr.randrange(len(vs.dests)) for vs in host.ipvs.services.values() if vs.dests]
                    node = node.kids.get(got[op[2]])
                    continue
                i = op[1]
                if i not in keys:
                    keys[i] = random.Random(f"{prefix}nlb{i}").randbytes(16)
                proto, src, sp, dst, dp, sq = op[2]
                h = flow_hash_of(keys[i], proto, src, vals[-1 - sp] if sp < 0 else sp, dst,
                                 vals[-1 - dp] if dp < 0 else dp, vals[-1 - sq])  # fmt: skip
                if kind == "h":
                    node = node.kids.get(h % op[3])
                    continue
                v = 1024 + h % 64512
                vals.append(v)
                drawn.append(v)
                node = node.kids.get(("=", v) if v in cutset else bisect_right(cuts, v))
            elif isinstance(node, _Link):
                vals = [vals[i] for i in node.mapping]
                node = node.slot.get(None)
            else:
                break
        if not isinstance(node, Course):
            return None
        if len(set(drawn)) != len(drawn) or not _isns_apart(isns):
            return None  # a chance equality: simulated in full, and not recorded
        self.hits += 1
        return node, str(Endpoint(node.src, port))

    def record(self, conn_id: int, seed: int) -> Connection:
        """Simulate connection ``conn_id`` in full and add its path to the trie when it is recordable."""
        self.misses += 1
        net = self.net
        if self.off is not None:
            return net.connect(conn_id, seed)
        port = net.client_port(seed, conn_id)
        dst = net.destination(seed, conn_id)
        rec = self.rec = _Recording(port)
        rec.at = (self.roots, (dst, self._cell(port)))
        try:
            c = net.connect(conn_id, seed)
        finally:
            self.rec = None
            for n in self._nodes if rec.watching else ():
                unwatch(n.conntrack)
        self._check_shared()
        if self.off is not None:
            net.stream = random.Random  # no more taps: every connection from now on is simulated in full
        elif rec.bad is None and self.nodes + len(rec.ops) <= MAX_NODES and self._recordable(rec, c):
            self._store((dst, self._cell(port)), rec, Course(Endpoint.parse(c.client).addr, c.service, c.target,
                                                            c.outcome, c.elapsed_s, c.syns, c.hairpin))  # fmt: skip
        return c

    def _check_shared(self) -> None:
        """State that outlives ``Network.reset`` must still be empty: ``-m recent`` lists, nft affinity sets, a NAT
        gateway."""
        from hairpin.aws.vpc import VpcRouter
        from hairpin.netfilter.matches import _RECENT
        from hairpin.netfilter.nft import NftTable
        from hairpin.netfilter.nft_tables import NftTables
        from hairpin.netfilter.stacked import Stacked

        for h in self.net.hosts.values():
            if isinstance(h, VpcRouter) and h.nat_out:
                self.off = "a NAT gateway (its port is arithmetic on the client's)"
            lists = _RECENT.get(h)
            if lists and any(lists.values()):
                self.off = "an -m recent list holds an address (connections interact)"
            nft = h.nf.nft if isinstance(h, LinuxHost) and isinstance(h.nf, Stacked) else None
            tables = nft.tables if isinstance(nft, NftTables) else [nft] if isinstance(nft, NftTable) else []
            if any(any(t.dynamic.values()) for t in tables):
                self.off = "an nft affinity set holds an address (connections interact)"

    def _recordable(self, rec: _Recording, c: Connection) -> bool:
        for name, tap in rec.taps.items():
            if name.endswith(":ipvs"):
                host = self.net.hosts[host_of(name)]
                assert isinstance(host, LinuxHost) and host.ipvs is not None
                want = sum(1 for vs in host.ipvs.services.values() if vs.dests)
            elif own_stream(name):  # nlbN, clbN (no tap draws the client port or the DNS answer)
                want = 1  # the key (randbytes), consumed by the NLB's hash
            else:
                want = rec.used.get(name, 0)
            if tap.draws != want:
                return False  # a draw no hook explains
        if not _isns_apart(list(rec.allisns)):
            return False
        for nlb in self.net.nlbs.nlbs:
            for flow in nlb.flows.values():
                if flow.nat_src is not None and flow.nat_src.port not in rec.nat_ports:
                    return False
        return bool(c.client) and c.client.endswith(f":{rec.port0}")

    def _store(self, root: Any, rec: _Recording, course: Course) -> None:
        kids = self.roots
        key = root
        for op, outcome in rec.ops:
            node = kids.get(key)
            if op is None:  # a round marker: on into the round key's shared subtree
                rkey, mapping = outcome
                slot = self.rounds.get(rkey)
                if node is None:
                    slot = self.rounds.setdefault(rkey, {})
                    node = kids[key] = _Link(rkey, mapping, slot)
                    self.links += 1
                if not isinstance(node, _Link) or node.mapping != mapping or node.slot is not slot:
                    raise MemoConflict(f"one decision path, two round states (after {key!r})")
                kids, key = node.slot, None
                continue
            if node is None:
                node = kids[key] = _Node(op)
                self.nodes += 1
            if not isinstance(node, _Node) or node.op != op:
                raise MemoConflict(f"one decision path, two courses ({op!r} after {key!r})")
            kids, key = node.kids, outcome
        old = kids.get(key)
        if old is not None and old != course:
            raise MemoConflict(f"one decision path, two courses ({old!r} and {course!r})")
        kids[key] = course


class MemoConflict(AssertionError):
    """The memo found one path of decisions leading to two different states or courses: its premises failed for
    this scenario, and a course it handed out may be wrong.  ``hairpin.backends.sim`` then simulates every
    connection again without it."""
