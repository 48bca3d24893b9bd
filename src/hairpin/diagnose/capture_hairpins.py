"""Hairpins decided from the first pass's columns, without building their packets.

What it knows: the capture analyser (:class:`hairpin.diagnose.capture._Analyser`) keeps an attempt per client
SYN and changes its fields row by row; for the hairpins a capture usually holds, what it ends with can be
read from the columns of the rows of one ISN key (``fastscan_groups.by_key``: every SYN, SYN-ACK and RST naming
the ISN, in the order the analyser meets them: one file's own, or several files merged by time).  A key is taken
when its rows are of this shape (anything else goes to the analyser row by row):

- every row plain IPv4 or IPv6 (``Scan.simple``; an IPv6 address is its index in the joined table tagged
  with bit 32, so it equals no IPv4 address) and still to be read (``keep``); the first row a SYN (no ACK)
  from the client ``C`` to the called address ``V`` (``C``'s address is not ``V``'s);
- SYNs: from ``C`` (its address and port) to anywhere, or from another source within ``VIEW_WINDOW`` of
  the latest round's first SYN (a view after kube-proxy's DNAT and MASQUERADE, as a capture of the node
  shows it); none with equal source and destination addresses.  The rounds are the SYNs from ``C``, as the
  analyser counts them (``_rounds``);
- SYN-ACKs: to ``C`` all from one source ``E`` (not ``V``, not ``C``'s address), or to the source of a SYN
  before it (the backend's answer to the MASQUERADE source, before it is de-NATed);
- RSTs without ACK (and without SYN): from ``C`` all to ``E``, or from the source of a SYN before it (the
  client's RST after conntrack's NAT); at least one SYN-ACK to ``C`` and one RST from ``C``, the first SYN-ACK to ``C``
  before the first RST from ``C``;
- each row less than 130 s after the one before it (it may be stamped before it: ``last_t`` is the latest
  time so far), and ``end`` with it at most ``EXPIRE`` past the one before it: no look for attempts to
  forget can close the attempt between two of its rows.

The analyser would open the attempt at the first SYN, join every other row to it (it is the only attempt of
the key), count the rounds, set ``node_side`` at the first SYN from ``C`` to another destination than ``V``
(the NLB's rewrite to node:NodePort), ``masquerade`` and ``backend`` at each SYN from another source (its
source and destination: the last one stays), or ``backend`` at a SYN-ACK to another address than ``C``'s
from another address than ``C``'s while it has none, put ``E`` in ``elsewhere`` at the first SYN-ACK to
``C`` (``backends``: each backend so set, in order, one the same as the one before once: ``_backends``), set
``client_rst`` at the first RST and ``answered_by = E`` at the first RST from ``C`` after that
SYN-ACK: a hairpin, its fields known from the columns (its ``backend`` dropped when it is ``E``, as the
analyser's classification does).  Those attempts hold no ``records`` (the packets the pictures draw): used
only when the caller asks for no records (``analyse_files(records=False)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hairpin.diagnose.capture_analyser import EXPIRE, GAP, VIEW_WINDOW
from hairpin.diagnose.capture_result import Attempt
from hairpin.diagnose.capture_series import doubles
from hairpin.model.net import Endpoint
from hairpin.parsers.fastscan import addresses, first_of, group_rows, joined, mark, named_earlier

__all__ = ["FastGroups", "hairpin_groups"]

_SYN, _ACK, _RST = 0x02, 0x10, 0x04


class FastGroups:
    """Hairpins from the columns: the rows left out (sorted), and the attempts in the order the analyser
    would open them, each with its first SYN's place in the stream."""

    def __init__(self, rows: Any, opens: list[int], attempts: list[Attempt]) -> None:
        self.rows, self.opens, self.attempts = rows, opens, attempts


def hairpin_groups(scans: list[Any], groups: Any, upto: Any, place: Any = None, bits: Any = None) -> FastGroups | None:
    """The keys of ``scans`` (``groups``: ``by_key(scans)``, given the stream's order) whose rows are of the
    shape above, as attempts; their rows are marked ``keep`` False.  ``upto``: ``end`` with each row of the
    stream (``stream_order``'s); ``place``: each row's place in the stream, None for one file (its own order);
    ``bits``: each row's capture (``capture_series.Sources.bit``, the rows end to end), None when one capture
    (each attempt's ``seen`` the bits of its rows, as the analyser's ``_Sourced`` sets it).  None when there is
    none."""
    if groups is None:
        return None
    key, t, order, starts, counts = groups
    keep = joined(scans, "keep")
    # a group whose first row is left out already (a healthy handshake seen several times) is not one: not read
    sel = np.flatnonzero((counts >= 3) & keep[order[starts]])
    if not sel.size:
        return None
    n = sel.size
    rep, first, rows = group_rows(groups, sel)  # in the stream's order within a group
    place = rows if place is None else place[rows]
    col = {c: joined(scans, c)[rows] for c in ("kind", "flags", "simple", "v6", "sport", "dport")}
    kind, fl, tt = col["kind"], col["flags"].astype(np.int64), t[rows]
    # addresses as numbers no IPv4 address and IPv6 index share: an IPv6 row's index with bit 32 set
    src_, dst_, addrs = addresses(scans)
    fam = col["v6"].astype(np.int64) << 32
    src, sport = src_[rows].astype(np.int64) | fam, col["sport"].astype(np.int64)
    dst, dport = dst_[rows].astype(np.int64) | fam, col["dport"].astype(np.int64)
    ca, cp, va, vp = src[first][rep], sport[first][rep], dst[first][rep], dport[first][rep]
    syn, sa, rst = kind == 0, kind == 1, kind == 2
    from_c, to_c = (src == ca) & (sport == cp), (dst == ca) & (dport == cp)
    good = syn[first] & (src[first] != dst[first])
    sa_c, rst_c = sa & to_c, rst & from_c
    fsa, frst = first_of(rep, n, sa_c), first_of(rep, n, rst_c)
    good &= (fsa >= 0) & (frst >= 0) & (fsa < frst)
    e = np.maximum(fsa, 0)
    ea, ep = src[e], sport[e]
    good &= ~((ea == dst[first]) & (ep == dport[first])) & (ea != src[first])
    ea_r, ep_r = ea[rep], ep[rep]
    ok = col["simple"] & keep[rows]
    ok &= ~syn | (src != dst)
    ok &= ~sa_c | ((src == ea_r) & (sport == ep_r))
    ok &= ~rst | ((fl & (_ACK | _RST | _SYN)) == _RST)
    ok &= ~rst_c | ((dst == ea_r) & (dport == ep_r))
    # a SYN-ACK to another endpoint than C's, a RST from another one, joins the attempt only when a SYN before it came
    # from there (a NAT view's source: ``_Analyser._find``); else it is another client's, whose SYN drew the same ISN
    s_, d_ = src << 16 | sport, dst << 16 | dport
    stray_sa, stray_rst = sa & ~to_c, rst & ~from_c
    ok &= ~stray_sa | named_earlier(rep, stray_sa, syn, s_, d_)
    ok &= ~stray_rst | named_earlier(rep, stray_rst, syn, s_, s_)
    good[rep[~ok]] = False
    same = rep[1:] == rep[:-1]
    step = tt[1:] - tt[:-1]
    # each row less than 130 s after the one before it in its group (so after its attempt's ``last_t``, the latest
    # of them: a row may be stamped before the one written ahead of it), and no look for attempts to forget can
    # close the attempt in between: ``end`` (at most ``upto`` at the row) minus ``last_t`` <= 135
    bad = same & ~((step < GAP) & (upto[place[1:]] - tt[:-1] <= EXPIRE))
    good[rep[1:][bad]] = False
    rounds = _rounds(rep, syn & from_c, syn & ~from_c, tt, n, good)
    if rounds is None:
        return None
    syns, round_t, round_dt, first_dt, doubling = rounds
    seen = np.bitwise_or.reduceat(bits[rows], first) if bits is not None else np.zeros(n, np.int64)
    last_t = np.maximum.reduceat(tt, first)  # the latest time of each group's rows
    # the NLB's rewrite: the first SYN from C elsewhere than V; MASQUERADE: the last SYN from another source; else
    # the backend is the source of the first SYN-ACK to another endpoint than C's, from another address than C's
    side = first_of(rep, n, syn & from_c & ~((dst == va) & (dport == vp)))
    nat = np.full(n, -1, np.int64)
    nat_at = np.flatnonzero(syn & ~from_c)
    np.maximum.at(nat, rep[nat_at], nat_at)
    answer = first_of(rep, n, sa & ~to_c & (src != ca))
    chosen = np.flatnonzero(good)
    rows_out = np.sort(rows[good[rep]])
    mark(scans, "keep", rows_out, False)
    f = first[chosen]
    # the endpoints each built once: the distinct address-port numbers, then each attempt's (-1: none)
    k = chosen.size
    s_, n_, a_ = side[chosen], nat[chosen], answer[chosen]

    def ends(i: Any, addr: Any, port: Any) -> Any:
        return np.where(i >= 0, addr[np.maximum(i, 0)] << 16 | port[np.maximum(i, 0)], -1)

    backend = np.where(n_ >= 0, ends(n_, dst, dport), ends(a_, src, sport))
    packed = np.concatenate([src[f] << 16 | sport[f], dst[f] << 16 | dport[f], ea[chosen] << 16 | ep[chosen],
                             ends(s_, dst, dport), ends(n_, src, sport), backend])  # fmt: skip
    distinct, which = np.unique(packed, return_inverse=True)
    built = [None if x < 0 else Endpoint(addrs[(x >> 16) & 0xFFFFFFFF] if x >> 48 else x >> 16, x & 0xFFFF)
             for x in distinct.tolist()]  # fmt: skip
    got = list(map(built.__getitem__, which.tolist()))
    backs_seen = _backends(rep, nat_at, a_, chosen, dst, dport, src, sport, dict(zip(distinct.tolist(), built, strict=True)),
                     addrs)  # fmt: skip
    attempts = []
    cols = zip(got[:k], key[rows[f]].tolist(), got[k : 2 * k], tt[f].tolist(), last_t[chosen].tolist(),
               syns[chosen].tolist(), round_t[chosen].tolist(), round_dt[chosen].tolist(), got[2 * k : 3 * k],
               got[3 * k : 4 * k], got[4 * k : 5 * k], got[5 * k :], strict=True)  # fmt: skip
    more = zip(backs_seen, first_dt[chosen].tolist(), doubling[chosen].tolist(), seen[chosen].tolist(), strict=True)
    for (client, isn, called, t0, t1, nsyn, rt, rdt, node, node_side, masq, back), (backs, fdt, dbl, where) in zip(
            cols, more, strict=True):  # fmt: skip
        attempts.append(Attempt(client, isn, called, t0, t1, 0, nsyn, rt, rdt, fdt, dbl, answered_by=node,
                                elsewhere={node}, node_side=node_side, backend=back, backends=backs, masquerade=masq,
                                client_rst=True, seen=where))  # fmt: skip
    opens = place[f].tolist()  # each attempt's first SYN: where the analyser would open it
    order_open = sorted(range(len(attempts)), key=opens.__getitem__)
    return FastGroups(rows_out, [opens[i] for i in order_open], [attempts[i] for i in order_open])


def _backends(rep: Any, nat_at: Any, answer: Any, chosen: Any, dst: Any, dport: Any, src: Any, sport: Any,
              cache: dict[int, Any], addrs: list[int]) -> list[list[Endpoint] | None]:  # fmt: skip
    """Each chosen group's backends as the analyser lists them (``Attempt.add_backend``), in order: the source of
    its first SYN-ACK from elsewhere (``answer``, a row or -1) when no SYN from another source came before it, then
    the destination of each SYN from another source (``nat_at``: rows in the stream's order); one the same as the
    one before it once."""
    index = {g: i for i, g in enumerate(chosen.tolist())}
    packed: list[list[int]] = [[] for _ in index]
    first_nat: dict[int, int] = {}
    for row, g in zip(nat_at.tolist(), rep[nat_at].tolist(), strict=True):
        i = index.get(g)
        if i is not None:
            first_nat.setdefault(i, row)
            packed[i].append(int(dst[row]) << 16 | int(dport[row]))
    for i, row in enumerate(answer.tolist()):
        if row >= 0 and (i not in first_nat or row < first_nat[i]):
            packed[i].insert(0, int(src[row]) << 16 | int(sport[row]))

    def endpoint(x: int) -> Endpoint:
        e = cache.get(x)
        return e if e is not None else Endpoint(addrs[(x >> 16) & 0xFFFFFFFF] if x >> 48 else x >> 16, x & 0xFFFF)

    return [[endpoint(x) for i, x in enumerate(xs) if not i or xs[i - 1] != x] or None for xs in packed]


def _rounds(rep: Any, own: Any, nat: Any, tt: Any, n: int, good: Any) -> tuple[Any, Any, Any, Any, Any] | None:
    """The SYN rounds of the ``n`` groups (rows by group ``rep`` in the stream's order, times ``tt``) as the
    analyser counts them (``_Analyser._syn``): a SYN from the client (``own``) at least ``VIEW_WINDOW`` after
    the latest round's first SYN (``round_t``) starts a round, any other from the client is a view of it; a
    SYN from another source (``nat``) joins the attempt only within ``VIEW_WINDOW`` of ``round_t`` either way
    (``_find_syn``), as a view.  Each round's first SYN is taken to be the group's first SYN and each of the
    client's at least ``VIEW_WINDOW`` after the client's SYN before it; a group where that is not the
    analyser's count (a view from the client ``VIEW_WINDOW`` or more after its round's first SYN, a round's
    first SYN less than that after the round before: views spread over more than the window), or where a
    view from another source is not within the window of its round's first SYN, is marked not ``good``.
    Returns each group's rounds, its latest round's time and the gap before it (0.0 for one round, as the
    analyser leaves it), the gap between its first two rounds (0.0 for one round) and whether each gap doubles the
    one before (``capture_series.doubles``, as the analyser's ``_syn`` tells it), or None when no group is still
    good."""
    at = np.flatnonzero(own)
    g, ts = rep[at], tt[at]
    pair = g[1:] == g[:-1]  # a SYN after another of its group
    head = np.ones(at.size, np.bool_)
    head[1:] = ~pair | (ts[1:] - ts[:-1] >= VIEW_WINDOW)
    hidx = np.flatnonzero(head)
    lead = np.maximum.accumulate(np.where(head, np.arange(at.size), 0))  # each SYN's round's first SYN
    good[g[~(head | (ts - ts[lead] < VIEW_WINDOW))]] = False
    hg, ht = g[hidx], ts[hidx]
    hpair = hg[1:] == hg[:-1]
    hgap = ht[1:] - ht[:-1]
    good[hg[1:][hpair & ~(hgap >= VIEW_WINDOW)]] = False
    # the views from another source: each within the window of the round's first SYN before it, of its group (in a
    # group still good, the first row is its first round's first SYN)
    views = np.flatnonzero(nat)
    if views.size:
        heads_at = at[hidx]
        k = np.searchsorted(heads_at, views, "right") - 1
        before = heads_at[np.maximum(k, 0)] if heads_at.size else views
        ok = (k >= 0) & (rep[before] == rep[views]) & (np.abs(tt[views] - tt[before]) < VIEW_WINDOW)
        good[rep[views][~ok]] = False
    if not good.any():
        return None
    syns = np.bincount(hg, minlength=n)
    tail = np.ones(hidx.size, np.bool_)  # each group's last round
    tail[:-1] = ~hpair
    round_t = np.zeros(n, np.float64)
    round_t[hg[tail]] = ht[tail]
    round_dt = np.zeros(n, np.float64)  # the gap before it (0.0 for a group of one round, as the analyser leaves it)
    more = tail[1:] & hpair
    round_dt[hg[1:][more]] = hgap[more]
    # the first gap: between a group's first two rounds; doubling: every gap twice the one before it, in its group
    start = np.ones(hidx.size, np.bool_)
    start[1:] = ~hpair
    first_dt = np.zeros(n, np.float64)
    at_first = np.flatnonzero(start[:-1] & hpair)
    first_dt[hg[at_first]] = hgap[at_first]
    doubling = np.ones(n, np.bool_)
    three = np.flatnonzero(hpair[:-1] & hpair[1:])  # gaps j and j + 1 of one group
    doubling[hg[three][~doubles(hgap[three], hgap[three + 1])]] = False
    return syns, round_t, round_dt, first_dt, doubling
