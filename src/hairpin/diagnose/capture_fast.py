"""Hairpins of the plainest shape analysed from a first pass's columns, with no packet built for them.

What it knows: the analyser (:class:`hairpin.diagnose.capture._Analyser`) finds a packet's attempt by its
ISN key only, so the rows of one key (``fastscan.by_key``) are one attempt's whole story when they have
this shape, checked row by row on the columns of one classic pcap or pcapng file:

- every row plain IPv4 (``Scan.simple``) and still to be read (``keep``); the first row a SYN (no ACK) from
  the client ``C`` to the called address ``V`` (``C``'s address is not ``V``'s);
- every SYN is ``C -> V`` again, each at least ``VIEW_WINDOW`` after the one before it (so each is a
  retransmission: a new round), every SYN-ACK goes to ``C`` from one source ``E`` (not ``V``, not ``C``'s
  address), every other row is a RST without ACK from ``C`` to ``E``; at least one SYN-ACK, one RST, and
  the first SYN-ACK before the first RST;
- each row at or after the one before it in time, less than 130 s after it, and the capture's latest time
  up to it (``end``, whatever the other rows) at most ``EXPIRE`` past the one before it: no look for
  attempts to forget can close the attempt between two of its rows.

The analyser would open the attempt at the first SYN, count each SYN as a round, put ``E`` in
``elsewhere`` at the first SYN-ACK, set ``client_rst`` and ``answered_by = E`` at the first RST and change
nothing after that but ``last_t``: a hairpin, its fields known from the columns.  What else the analyser
does at those rows depends on the whole stream (in file order, not necessarily time order): each row
counts in ``packets``, moves ``end`` (the latest time so far), may count as ``late``, and can fire the look
for attempts to forget (``_tick``: at a row past ``end`` and at or past ``next_tick``), whose order decides
the tallies' order among equal counts (``Counter.most_common``); and each attempt's ``n`` is the order it
was opened in.  So the attempt is put into ``open`` at its first SYN's place in the stream, and the rows
left out are counted where they are: ``packets``; ``late`` from each row's place (which rows are more than
``LATE`` behind ``end``, counted once an attempt was forgotten); ``end`` and the ticks from the running
maximum of their times.  Every other key's rows go through the analyser as before, and the reader must
give exactly the rows the scan kept (else ``Mismatch``: the caller analyses row by row).

The attempts so analysed hold no ``records`` (the packets the pictures draw): used only when the caller
asks for no records (``analyse_files(records=False)``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

import numpy as np

from hairpin.diagnose.capture_result import Attempt
from hairpin.model.net import Endpoint

__all__ = ["FastGroups", "Mismatch", "drive", "hairpin_groups"]

_SYN, _ACK, _RST = 0x02, 0x10, 0x04
VIEW_WINDOW = 0.2  # hairpin.diagnose.capture.VIEW_WINDOW (not imported: that module imports this one)
GAP = 130.0  # hairpin.diagnose.capture._Analyser._find: a packet joins an attempt within 130 s of its last one
EXPIRE, LATE = 135.0, 5.0  # hairpin.diagnose.capture.EXPIRE and LATE


class Mismatch(Exception):
    """The reader gave other rows than the scan's ``keep`` said: the caller redoes the analysis row by row."""


class FastGroups:
    """The rows left out (sorted row numbers), the running maximum of their times, how many of them the
    analyser would count ``late`` (before each: a running sum), the attempts each with the position among
    those rows of its first SYN, and the rows still read (the reader must give exactly those)."""

    def __init__(self, rows: list[int], latest: list[float], behind: list[int], opens: list[int],
                 attempts: list[Attempt], read: list[int]) -> None:  # fmt: skip
        self.rows, self.latest, self.behind, self.opens, self.attempts, self.read = (rows, latest, behind, opens,
                                                                                      attempts, read)  # fmt: skip


def hairpin_groups(sc: Any, groups: Any) -> FastGroups | None:
    """The keys of one scan (``groups``: ``by_key([sc])``) whose rows are of the shape above, as attempts;
    their rows are marked ``keep`` False.  None when there is none."""
    if groups is None:
        return None
    key, t, order, starts, counts = groups
    sel = np.flatnonzero(counts >= 3)
    if not sel.size:
        return None
    n, size = sel.size, counts[sel]
    rep = np.repeat(np.arange(n), size)  # each row's group
    first = np.cumsum(size) - size  # where each group starts among the rows below
    rows = order[np.arange(rep.size) - first[rep] + starts[sel][rep]]  # in file order within a group
    kind, fl, tt = sc.kind[rows], sc.flags[rows].astype(np.int64), t[rows]
    src, sport = sc.src[rows].astype(np.int64), sc.sport[rows].astype(np.int64)
    dst, dport = sc.dst[rows].astype(np.int64), sc.dport[rows].astype(np.int64)
    ca, cp, va, vp = src[first][rep], sport[first][rep], dst[first][rep], dport[first][rep]
    syn, sa, rst = kind == 0, kind == 1, kind == 2
    good = np.ones(n, np.bool_)
    good &= syn[first] & (src[first] != dst[first])

    def firsts(mask: Any) -> Any:  # each group's first row of ``mask`` (its index among ``rows``), -1 for none
        at = np.flatnonzero(mask)
        out = np.full(n, -1, np.int64)
        g = rep[at]
        lead = np.ones(at.size, np.bool_)
        lead[1:] = g[1:] != g[:-1]
        out[g[lead]] = at[lead]
        return out

    fsa, frst = firsts(sa), firsts(rst)
    good &= (fsa >= 0) & (frst >= 0) & (fsa < frst)
    e = np.maximum(fsa, 0)
    ea, ep = src[e], sport[e]
    good &= ~((ea == dst[first]) & (ep == dport[first])) & (ea != src[first])
    ok = sc.simple[rows] & sc.keep[rows]
    ok &= ~syn | ((src == ca) & (sport == cp) & (dst == va) & (dport == vp))
    ea_r, ep_r = ea[rep], ep[rep]
    ok &= ~sa | ((dst == ca) & (dport == cp) & (src == ea_r) & (sport == ep_r))
    ok &= ~rst | (((fl & (_ACK | _RST | _SYN)) == _RST) & (src == ca) & (sport == cp) & (dst == ea_r) & (dport == ep_r))
    good[rep[~ok]] = False
    # the stream the analyser is fed (the rows still to be read, in file order): each row's place in it and
    # ``end`` (the latest time so far, from 0.0) just before it and with it
    fed = np.flatnonzero(sc.keep)
    tf = sc.t[fed]
    before = np.maximum.accumulate(np.concatenate([[0.0], tf]))[:-1]
    upto = np.maximum(before, tf)
    same = rep[1:] == rep[:-1]
    step = tt[1:] - tt[:-1]
    # each row in time order after the one before it in its group, within 130 s of it, and no look for attempts
    # to forget can close the attempt in between: ``end`` (at most ``upto`` at the row) minus ``last_t`` <= 135
    bad = same & ~((step >= 0) & (step < GAP) & (upto[np.searchsorted(fed, rows[1:])] - tt[:-1] <= EXPIRE))
    good[rep[1:][bad]] = False
    at = np.flatnonzero(syn)
    g = rep[at]
    pair = g[1:] == g[:-1]
    gaps = tt[at[1:]] - tt[at[:-1]]
    good[g[1:][pair & ~(gaps >= VIEW_WINDOW)]] = False
    if not good.any():
        return None
    # per good group: SYN count, the last SYN's time and the gap before it
    syns = np.bincount(g, minlength=n)
    tail = np.ones(at.size, np.bool_)  # each group's last SYN
    tail[:-1] = ~pair
    last_syn = np.full(n, -1, np.int64)
    last_syn[g[tail]] = at[tail]
    prev_dt = np.zeros(n, np.float64)  # the gap before it (0.0 for a group of one SYN, as the analyser leaves it)
    more = tail[1:] & pair
    prev_dt[g[1:][more]] = gaps[more]
    ends = first + size - 1
    chosen = np.flatnonzero(good)
    mine = good[rep]
    rows_out = np.sort(rows[mine])
    sc.keep[rows_out] = False
    f = first[chosen]
    # the endpoints (client, called, node) each built once: the distinct address-port numbers, then each attempt's
    k = chosen.size
    packed = np.concatenate([src[f] << 16 | sport[f], dst[f] << 16 | dport[f], ea[chosen] << 16 | ep[chosen]])
    distinct, which = np.unique(packed, return_inverse=True)
    built = [Endpoint(x >> 16, x & 0xFFFF) for x in distinct.tolist()]
    ends_of = list(map(built.__getitem__, which.tolist()))
    attempts = []
    cols = zip(ends_of[:k], key[rows[f]].tolist(), ends_of[k : 2 * k], tt[f].tolist(), tt[ends[chosen]].tolist(),
               syns[chosen].tolist(), tt[last_syn[chosen]].tolist(), prev_dt[chosen].tolist(), ends_of[2 * k :],
               strict=True)  # fmt: skip
    for client, isn, called, t0, t1, nsyn, round_t, round_dt, node in cols:
        attempts.append(Attempt(client, isn, called, t0, t1, 0, nsyn, round_t, round_dt, answered_by=node,
                                elsewhere={node}, client_rst=True))  # fmt: skip
    opens = np.searchsorted(rows_out, rows[f]).tolist()
    order_open = sorted(range(len(attempts)), key=opens.__getitem__)
    times = t[rows_out]
    behind = (times < before[np.searchsorted(fed, rows_out)] - LATE).astype(np.int64)  # the rows counted `late`
    return FastGroups(rows_out.tolist(), np.maximum.accumulate(times).tolist(),
                      np.concatenate([[0], np.cumsum(behind)]).tolist(), [opens[i] for i in order_open],
                      [attempts[i] for i in order_open], fed[sc.keep[fed]].tolist())  # fmt: skip


def drive(an: Any, rd: Any, fg: FastGroups) -> None:
    """Feed ``an`` (a ``_Analyser``) the reader's records with the attempts of ``fg`` opened, their rows
    counted (``packets``, ``late``, ``end``) and the ticks fired where the rows left out would have done it.
    Raises ``Mismatch`` when the reader does not give exactly ``fg.read``."""
    latest, behind, opens, attempts = fg.latest, fg.behind, fg.opens, fg.attempts
    pos = oi = 0
    n_open = len(opens)

    def advance(hi: int) -> None:  # the rows left out before position ``hi``
        nonlocal pos, oi
        # ``end`` >= the times before ``pos``, so the first row past ``end`` and at or past ``next_tick`` is
        # the first whose running maximum is: the row that fires the next tick
        while pos < hi:
            k = max(bisect_right(latest, an.end, pos, hi), bisect_left(latest, an.next_tick, pos, hi))
            o = opens[oi] if oi < n_open and opens[oi] < hi else hi
            at = min(k, o)
            if at >= hi:
                break
            if an.expired:
                an.late += behind[at + 1] - behind[pos]
            an.packets += at + 1 - pos
            pos = at + 1
            if latest[at] > an.end:
                an.end = latest[at]
            if at == k:  # this row moves `end` past `next_tick`: the look for attempts to forget
                an._tick()
            if at == o:  # this row is the attempt's first SYN: opened in the stream's order
                a = attempts[oi]
                a.n = an.connections
                an.open[a] = None
                an.connections += 1
                oi += 1
        if pos < hi:
            if an.expired:
                an.late += behind[hi] - behind[pos]
            an.packets += hi - pos
            if latest[hi - 1] > an.end:
                an.end = latest[hi - 1]
            pos = hi

    rows, read = fg.rows, fg.read
    i = 0
    for row, r in rd.rows():
        if i >= len(read) or row != read[i]:
            raise Mismatch(row)
        i += 1
        hi = bisect_left(rows, row, pos)
        if hi > pos:
            advance(hi)
        an.feed(r)
    if i != len(read):
        raise Mismatch(i)
    advance(len(rows))
