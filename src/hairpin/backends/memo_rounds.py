"""The state of a quiet network at the start of a SYN round, canonical up to the renaming of a connection's
random values (``hairpin.backends.memo``'s round markers).

A connection that is not answered retransmits its SYN (``TcpStack.connect``'s ``fire``).  When the client's
next SYN is about to be sent and no event is pending (``Engine._queue`` holds only cancelled timers), what
happens from there on is a function of the network's per-connection state (everything ``Network.reset``
clears, and where the IPVS schedulers the connection already used stand), of the simulated time, of whether
a hairpinned SYN/ACK was delivered so far (``Connection.hairpin``) and of the random draws still to come.
``round_key`` writes that state as a tuple in which each port a connection drew (the client port, MASQUERADE
ports, the NLB's own port) is named by its order of appearance and its cell (as ``memo`` keys ports), and
each ISN by its order of appearance: two connections, or two rounds, with equal keys have the same rest of
the course for the same decisions, so the memo continues both in one shared subtree (a DAG, not a tree).

A *dead* port is one that no socket, NLB flow or kept entry holds.  A later packet carries only constants,
ports the live state holds (sockets and NLB flows give packets their ports; NAT rewrites them from the
tuples of an entry it finds, which is why a kept entry makes its ports live) or ports drawn later, which the
memo requires to differ from every port the connection drew (``memo._Recording.allports`` when recording,
the distinctness check of ``Memo.lookup``) and from every constant.  ``Conntrack.lookup``, ``confirm`` and
``reply_in_use`` find an entry only by a tuple it is kept under, ``IpvsTable.inbound`` a connection by its
key, ``outbound`` and ``forwarded`` by its client and real server.  So:

- an entry each of whose tuples holds a dead port, and an IPVS connection whose key and whose (client, real
  server) each hold one, are never found again: they are left out of the key (they stay in the tables);
- a CLOSE or TIME_WAIT entry whose reply tuple holds a dead port is found again only by its original tuple:
  by the SYN that re-opens it (``Conntrack.tcp_update`` answers "reopen", ``LinuxHost._conntrack_in`` kills
  it and tracks the SYN afresh; an expired one ``Conntrack.lookup`` kills), or by a packet that would read
  more of it.  The key holds its original tuple and state alone, and ``watch_closed`` makes the recording
  fail when it is found in any other way.  Its reply tuple, mark, timeout and NAT flags are not read;
- ``Conntrack.entries`` is read by ``Network._cluster_ip_target`` on the client's node, whose entries are
  all kept in full when the client calls a ClusterIP.

Anything else this module does not know how to name (a port that is neither drawn nor a constant, a
preloaded conntrack table, unknown attributes on a kept entry, a socket or a flow, an established socket, a
NAT gateway's mapping) gives no key: the memo then records the path without a round marker, as before.
``Entry.id`` is left out: only ``Conntrack.entries`` reads it (to list each entry once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from hairpin.aws.vpc import VpcRouter
from hairpin.conntrack import IP_CT_DIR_ORIGINAL
from hairpin.host import LinuxHost
from hairpin.model.net import Flags, ip_str

if TYPE_CHECKING:
    from collections.abc import Callable

    from hairpin.backends.sim import Network
    from hairpin.conntrack import Conntrack, Entry, Tuple
    from hairpin.model.net import Packet
    from hairpin.tcp import Connector

__all__ = ["Watch", "closed_of", "round_key", "unwatch", "watch_closed"]

_ENTRY = frozenset({"id", "orig", "reply", "state", "mark", "confirmed", "seen_reply", "dnat", "snat", "nat_done",
                    "expires"})  # fmt: skip
_CONNECTOR = frozenset({"local", "remote", "isn", "state", "started", "finished", "outcome", "syns", "timer",
                        "on_done"})  # fmt: skip
_REQUEST = frozenset({"local", "remote", "isn", "client_isn", "timer", "retries", "payload"})
_FLOW = frozenset({"node", "client", "listener", "target", "nat_src", "proxy_header_sent", "proxy_header"})
_IPVS_CONN = frozenset({"proto", "client", "vaddr", "dest", "state", "expires"})
#: states in which a SYN in the original direction re-opens an entry (``Conntrack.tcp_update``)
_REOPENED = ("CLOSE", "TIME_WAIT")


class _NoKey(Exception):
    pass


def _fields(obj: Any, known: frozenset[str]) -> None:
    if set(vars(obj)) - known:
        raise _NoKey


def round_key(net: Network, client: LinuxHost, conn: Connector, ports: dict[int, int], isns: dict[int, int],
              drawn: set[int], constants: frozenset[int], cell: Callable[[int], object],
              spun: set[tuple[str, int]]) -> tuple[tuple[Any, ...], tuple[int, ...], list[Entry]] | None:  # fmt: skip
    """(the canonical state, the frame indices of the values it names in the order it names them, the closed
    entries it names by their original tuple alone), or None.

    ``ports`` and ``isns`` map the values of the connection's current frame to their indices, ``drawn``
    holds every port the connection drew (those of earlier frames were dead when their frame ended); ``spun``
    holds the (host, k) of the IPVS schedulers whose position the connection already recorded."""
    try:
        return _key(net, client, conn, ports, isns, drawn, constants, cell, spun)
    except _NoKey:
        return None


def _key(net: Network, client: LinuxHost, conn: Connector, ports: dict[int, int], isns: dict[int, int],
         drawn: set[int], constants: frozenset[int], cell: Callable[[int], object],
         spun: set[tuple[str, int]]) -> tuple[tuple[Any, ...], tuple[int, ...], list[Entry]]:  # fmt: skip
    if any(not e[4].cancelled for e in net.engine._queue):
        raise _NoKey
    if any(isinstance(h, VpcRouter) and (h.nat_out or h.nat_back) for h in net.hosts.values()):
        raise _NoKey
    # the hosts holding per-connection state (listeners accept only with an established socket: TcpStack.receive)
    hosts = [h for h in net.hosts.values() if isinstance(h, LinuxHost) and (
        h.tcp.connectors or h.tcp.requests or h.tcp.established or h.conntrack._by_tuple or h.conntrack._base
        or (h.ipvs is not None and h.ipvs.conns))]  # fmt: skip

    def sym(v: int) -> bool:  # a drawn port (``p`` below refuses a port neither drawn nor constant in the key)
        return v in drawn

    # the anchors: sockets, NLB flows; their ports are live
    live: set[int] = set()
    for h in hosts:
        tcp = h.tcp
        if tcp.established:
            raise _NoKey
        for c in tcp.connectors.values():
            live.update(v for v in (c.local.port, c.remote.port) if sym(v))
        for r in tcp.requests.values():
            live.update(v for v in (r.local.port, r.remote.port) if sym(v))
        if h.conntrack._base:
            raise _NoKey
    for nlb in net.nlbs.nlbs:
        for k, f in nlb.flows.items():
            live.update(v for v in (k[1], k[3], f.client.port, f.listener.port, f.target.port) if sym(v))
            if f.nat_src is not None and sym(f.nat_src.port):
                live.add(f.nat_src.port)
        for k in nlb.replies:
            live.update(v for v in (k[1], k[3]) if sym(v))
    # the items left out when every way to find them holds a dead port: conntrack entries (by a tuple they are
    # kept under), IPVS connections (by key, by client and real server); Network._cluster_ip_target reads
    # every entry of the client's node
    keep_all = net.scenario.client_pod.node if net.scenario.client.via == "cluster-ip" else None
    # (item, the drawn ports of each way it can be found, all its drawn ports)
    items: list[tuple[object, list[set[int]], set[int]]] = []
    # closed TCP entries a SYN re-opens: (entry, the drawn ports of its original tuple, of its reply tuple)
    closed: list[tuple[Entry, set[int], set[int]]] = []
    for h in hosts:
        found: dict[int, tuple[Entry, list[set[int]]]] = {}  # an entry is found by the tuples it is kept under
        table = h.conntrack._by_tuple
        for x, (e, _) in table.items():
            found.setdefault(id(e), (e, []))[1].append({v for v in (x[1], x[3]) if sym(v)})
        for e, groups in found.values():
            ports_of = {v for t in (e.orig, e.reply) for v in (t[1], t[3]) if sym(v)}  # NAT rewrites from these
            if (h.name != keep_all and e.orig[4] == "tcp" and e.state in _REOPENED and len(groups) == 2
                    and table.get(e.orig) == (e, 0) and table.get(e.reply) == (e, 1)):  # fmt: skip
                closed.append((e, groups[0], groups[1]))
            else:
                items.append((e, [set()] if h.name == keep_all else groups, ports_of.union(*groups)))
        if h.ipvs is not None:
            for ck, ic in h.ipvs.conns.items():
                # inbound finds it by its key, outbound and forwarded by (client, dest)
                ways = [{v for v in (ck[2], ck[4]) if sym(v)}, {v for v in (ic.client[1], ic.dest[1]) if sym(v)}]
                items.append((ic, ways, ways[0] | ways[1] | {v for v in (ic.vaddr[1],) if sym(v)}))
    kept: set[int] = set()
    anchors = set(live)
    while True:
        # a closed entry counts with its original tuple alone, until its reply tuple turns out live
        live = set(anchors)
        kept.clear()
        alone = [(e, [o], o) for e, o, _ in closed]
        grew = True
        while grew:
            grew = False
            for obj, ways, syms in items + alone:
                if id(obj) not in kept and any(w <= live for w in ways):
                    kept.add(id(obj))
                    live |= syms
                    grew = True
        whole = [c for c in closed if c[2] <= live]
        if not whole:
            break
        for e, o, back in whole:
            closed.remove((e, o, back))
            items.append((e, [o, back], o | back | {v for t in (e.orig, e.reply) for v in (t[1], t[3]) if sym(v)}))
    # closed entries found by their original tuple alone: the SYN that finds one kills it (``Memo`` checks
    # that nothing else finds it), so only that tuple and the state are part of the key
    reopened = {id(e): e for e, _, _ in closed if id(e) in kept}
    # the key, naming values in order of appearance
    order: list[int] = []
    names: dict[int, int] = {}

    def name(v: int) -> int:
        n = names.get(v)
        if n is None:
            n = names[v] = len(order)
            order.append(v)
        return n

    named: dict[int, object] = {}

    def p(v: int) -> object:
        got = named.get(v)
        if got is not None:
            return got
        if v in ports:
            got = named[v] = ("s", name(ports[v]), cell(v))
            return got
        if v in constants:
            return v
        raise _NoKey

    def i(v: int) -> object:
        if v not in isns:
            raise _NoKey
        return ("i", name(isns[v]))

    out: list[Any] = [net.engine.now, _hairpin_so_far(net, client, conn)]
    for h in hosts:
        tcp = h.tcp
        for k, c in tcp.connectors.items():
            _fields(c, _CONNECTOR)
            out.append(("c", h.name, k[0], p(k[1]), k[2], p(k[3]), c.local.addr, p(c.local.port), c.remote.addr,
                        p(c.remote.port), i(c.isn), c.state, c.started, c.finished, c.outcome, c.syns))  # fmt: skip
        for k, r in tcp.requests.items():
            _fields(r, _REQUEST)
            out.append(("r", h.name, k[0], p(k[1]), k[2], p(k[3]), r.local.addr, p(r.local.port), r.remote.addr,
                        p(r.remote.port), i(r.isn), i(r.client_isn), r.retries, r.payload))  # fmt: skip
        for x, (e, d) in h.conntrack._by_tuple.items():
            if id(e) in reopened:
                _fields(e, _ENTRY)
                if d == 0:
                    out.append(("k", h.name, x[0], p(x[1]), x[2], p(x[3]), x[4], e.state))
            elif id(e) in kept:
                _fields(e, _ENTRY)
                t, u = e.orig, e.reply
                out.append(("e", h.name, x[0], p(x[1]), x[2], p(x[3]), x[4], d, t[0], p(t[1]), t[2], p(t[3]), t[4],
                            u[0], p(u[1]), u[2], p(u[3]), u[4], e.state, e.mark, e.confirmed, e.seen_reply, e.dnat,
                            e.snat, tuple(sorted(e.nat_done)), e.expires))  # fmt: skip
        if h.ipvs is not None:
            for key, ic in h.ipvs.conns.items():
                if id(ic) in kept:
                    _fields(ic, _IPVS_CONN)
                    out.append(("ic", h.name, key[0], key[1], p(key[2]), key[3], p(key[4]), ic.proto, ic.client[0],
                                p(ic.client[1]), ic.vaddr[0], p(ic.vaddr[1]), ic.dest[0], p(ic.dest[1]), ic.state,
                                ic.expires))  # fmt: skip
    for name_, j in sorted(spun):  # where the IPVS schedulers the connection used stand (the others: not drawn yet)
        host = net.hosts[name_]
        assert isinstance(host, LinuxHost) and host.ipvs is not None
        out.append(("v", name_, j, [vs for vs in host.ipvs.services.values() if vs.dests][j]._next))
    for n, nlb in enumerate(net.nlbs.nlbs):
        flows: dict[int, int] = {}
        for k, f in nlb.flows.items():
            _fields(f, _FLOW)
            flows[id(f)] = len(flows)
            src, lst = f.client, f.listener
            if f.proxy_header is not None and f.proxy_header != (
                f"PROXY {f.proxy_header.split()[1]} {ip_str(src.addr)} {ip_str(lst.addr)} {src.port} {lst.port}"
            ):
                raise _NoKey  # the header is read as written from the flow's endpoints, as Nlb.forward writes it
            nat = None if f.nat_src is None else (f.nat_src.addr, p(f.nat_src.port))
            out.append(("f", n, k[0], p(k[1]), k[2], p(k[3]), f.node.addr, src.addr, p(src.port), lst.addr,
                        p(lst.port), f.target.addr, p(f.target.port), f.target.name, nat, f.proxy_header_sent,
                        None if f.proxy_header is None else f.proxy_header.split()[1]))  # fmt: skip
        for k, f in nlb.replies.items():
            if id(f) not in flows:
                raise _NoKey
            out.append(("fr", n, k[0], p(k[1]), k[2], p(k[3]), flows[id(f)]))
    return tuple(out), tuple(order), list(reopened.values())


def _hairpin_so_far(net: Network, client: LinuxHost, conn: Connector) -> bool:
    """``Connection.hairpin`` of the hops so far (``Network._connect``'s test)."""
    syn_ack = Flags.SYN | Flags.ACK
    return any(h.kind == "deliver" and h.lane == client.name and h.packet.flags & syn_ack == syn_ack
               and h.packet.src != conn.remote.addr for h in net.hops)  # fmt: skip


def closed_of(net: Network, key: tuple[Any, ...], mapping: tuple[int, ...],
              vals: list[int]) -> tuple[tuple[Any, ...], tuple[int, ...], list[Entry]] | None:  # fmt: skip
    """``round_key``'s answer for a state whose key is known (the frame's values are ``vals``): the closed
    entries the key names by their original tuple, found in the tables; None when one is not there as named."""
    new = [vals[i] for i in mapping]
    closed = []
    for row in key:
        if isinstance(row, tuple) and row[0] == "k":
            _, host, a, sp, b, dp, proto, state = row
            t = (a, new[sp[1]] if isinstance(sp, tuple) else sp, b, new[dp[1]] if isinstance(dp, tuple) else dp, proto)
            h = net.hosts[host]
            found = h.conntrack._by_tuple.get(t) if isinstance(h, LinuxHost) else None
            if found is None or found[1] != IP_CT_DIR_ORIGINAL or found[0].state != state:
                return None
            closed.append(found[0])
    return key, mapping, closed


class Watch(Protocol):
    """What ``watch_closed`` reads of the connection being recorded (``memo._Recording``)."""

    #: the closed entries the last round key named by their original tuple alone, by id
    closed: dict[int, Entry]
    #: set while a SYN alone is looked up
    reopening: bool


def watch_closed(ct: Conntrack, current: Callable[[], Watch | None], fail: Callable[[str], None]) -> None:
    """Make ``ct`` call ``fail`` when a closed entry of ``current().closed`` is found other than by the SYN
    that re-opens it.  ``LinuxHost._conntrack_in`` is the only caller of ``Conntrack.lookup``; on a TCP SYN
    (no ACK, RST or FIN) that finds a CLOSE or TIME_WAIT entry in the original direction
    ``Conntrack.tcp_update`` answers "reopen" and the entry is killed (or ``lookup`` kills it when it has
    expired): either way it is gone and a new entry is made, whatever else it held."""
    get, lookup = ct._get, ct.lookup

    def checked_get(t: Tuple) -> tuple[Entry, int] | None:
        found = get(t)
        w = current()
        if (found is not None and w is not None and id(found[0]) in w.closed
                and not (w.reopening and found[1] == IP_CT_DIR_ORIGINAL)):  # fmt: skip
            fail("a closed entry found other than by the SYN that re-opens it")
        return found

    def checked_lookup(p: Packet, now: float) -> tuple[Entry, int] | None:
        w = current()
        if w is None or not w.closed or p.proto != "tcp" or int(p.flags) & 0x17 != 0x02:  # not a SYN alone
            return lookup(p, now)
        w.reopening = True
        try:
            found = lookup(p, now)
        finally:
            w.reopening = False
        if found is not None:
            w.closed.pop(id(found[0]), None)  # re-opened: killed by the caller
        return found

    setattr(ct, "_get", checked_get)  # noqa: B010 (an instance's method)
    setattr(ct, "lookup", checked_lookup)  # noqa: B010


def unwatch(ct: Conntrack) -> None:
    """Undo ``watch_closed``: ``ct`` finds entries with its own methods again."""
    for name in ("_get", "lookup"):
        vars(ct).pop(name, None)
