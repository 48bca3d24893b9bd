"""The ISN groups of one or several first passes (:mod:`hairpin.parsers.fastscan`,
:mod:`hairpin.parsers.fastscan_ng`): the rows the capture analyser would count without reading them, marked so
that they are never decoded.

What it knows: the analyser finds a packet's attempt by its ISN (``_Analyser._find``/``_find_syn`` in
:mod:`hairpin.diagnose.capture`), so the rows of one ISN key, in the order the analyser meets them
(``by_key``: one file's own, several files merged by time), decide what it would make of them.
``healthy_pairs`` finds, across every file analysed together, the handshakes the analyser would count as
healthy and forget at once (see ``_Analyser.feed`` in :mod:`hairpin.diagnose.capture`): one SYN and the
SYN-ACK from the address it called, with an ISN no other SYN, SYN-ACK or RST in any file names, and the same
handshakes seen several times (``_healthy_views``: ``tcpdump -i any``, NAT views, captures of several
nodes).  ``lone_syns`` finds a flood's SYNs that no later packet joins.  Those are counted without being
decoded; the other plain rows are rebuilt from their columns, the rest decoded by the full decoder, in the
streaming reader's order.  ``group_rows``, ``first_of``, ``named_earlier``, ``mark`` and ``joined`` are the
column tools the hairpin columns (:mod:`hairpin.diagnose.capture_hairpins`) read groups with too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hairpin.model.net import V6
from hairpin.parsers.fastscan_addrs import addresses
from hairpin.tcp import TCP_TIMEOUT_INIT

if TYPE_CHECKING:  # (annotations only: fastscan imports this module)
    from hairpin.parsers.fastscan import Scan

__all__ = ["VIEWS_BATCH", "by_key", "first_of", "group_rows", "healthy_pairs", "joined", "lone_syns", "mark",
           "named_earlier"]  # fmt: skip


def healthy_pairs(scans: list[Scan], groups: Any = None) -> tuple[int, float]:
    """Mark (``keep`` False) the handshakes the analyser would count healthy and forget at once, across
    all ``scans`` read together: a plain IPv4 or IPv6 SYN and, after it in the order the analyser meets
    them, with a time less than 130 s past the SYN's, a SYN-ACK of its family from the address and port it
    called to its source, their ISN named by no other SYN, SYN-ACK or RST in any file.  That order is one file's own (a SYN-ACK
    written before its SYN meets no attempt: not a pair, whatever their times), or several files' merge
    by (time, file, position), which the caller uses only when each file is in time order; and the same
    handshakes seen several times (``_healthy_views``).  Returns how many, and the latest time among them.
    ``groups``: ``by_key(scans)`` when the caller has it already."""
    groups = by_key(scans) if groups is None else groups
    if groups is None:
        return 0, float("-inf")
    _key, t, order, starts, counts = groups
    two = starts[counts == 2]
    a, b = order[two], order[two + 1]  # a before b in the analyser's order
    ta, tb = t[a], t[b]
    col = {c: joined(scans, c) for c in ("kind", "simple", "v6", "sport", "dport")}
    ok = (col["kind"][a] == 0) & (col["kind"][b] == 1) & col["simple"][a] & col["simple"][b]
    ok &= col["v6"][a] == col["v6"][b]  # one family: an IPv4 address and an IPv6 index never compare
    # the SYN-ACK's addresses and ports are the SYN's swapped: each pair of columns read as one number
    (src, dst, _), sport, dport = addresses(scans), col["sport"], col["dport"]
    ok &= ((src[a].astype(np.uint64) << 32) | dst[a]) == ((dst[b].astype(np.uint64) << 32) | src[b])
    ok &= ((sport[a].astype(np.uint32) << 16) | dport[a]) == ((dport[b].astype(np.uint32) << 16) | sport[b])
    ok &= (tb - ta) < 130.0
    mark(scans, "keep", np.concatenate([a[ok], b[ok]]), False)
    views, views_latest = _healthy_views(scans, groups, src, dst, col)
    latest = max(float(ta[ok].max()), float(tb[ok].max())) if ok.any() else float("-inf")
    return int(np.count_nonzero(ok)) + views, max(latest, views_latest)


def group_rows(groups: Any, sel: Any) -> tuple[Any, Any, Any]:
    """The rows of the ISN groups ``sel`` (indexes into ``by_key``'s groups), one group after another, each in
    the order the analyser meets them: (each row's group among ``sel``, where each group starts among the
    rows, the rows)."""
    _key, _t, order, starts, counts = groups
    size = counts[sel]
    rep = np.repeat(np.arange(sel.size), size)
    first = np.cumsum(size) - size
    return rep, first, order[np.arange(rep.size) - first[rep] + starts[sel][rep]]


def mark(scans: list[Scan], name: str, rows: Any, value: bool) -> None:
    """Set column ``name`` (``keep`` or ``quiet``) of ``scans`` to ``value`` at ``rows`` (indexes into the
    scans' rows end to end)."""
    if len(scans) == 1:
        getattr(scans[0], name)[rows] = value
        return
    bounds = np.cumsum([0] + [s.key.size for s in scans])
    for n, s in enumerate(scans):
        getattr(s, name)[rows[(rows >= bounds[n]) & (rows < bounds[n + 1])] - bounds[n]] = value


def first_of(rep: Any, n: int, mask: Any) -> Any:
    """Each of the ``n`` groups' first row (its index among ``group_rows``' rows, whose groups are ``rep``)
    where ``mask`` holds; -1 for a group with none."""
    at = np.flatnonzero(mask)
    out = np.full(n, -1, np.int64)
    g = rep[at]
    lead = np.ones(at.size, np.bool_)
    lead[1:] = g[1:] != g[:-1]
    out[g[lead]] = at[lead]
    return out


#: rows of ISN groups ``_healthy_views`` reads at once (about 100 bytes a row while they are read)
VIEWS_BATCH = 1 << 18


def _healthy_views(scans: list[Scan], groups: Any, src: Any, dst: Any, col: dict[str, Any]) -> tuple[int, float]:
    """The healthy handshakes seen more than once: ``tcpdump -i any`` sees a pod's packets on its veth and on
    the node's interface, a capture of the node an NLB sends the connection to sees it before and after
    kube-proxy's DNAT and MASQUERADE, captures of several nodes see the same packets.  The rows of an ISN
    key, in the order the analyser meets them (one file's own; several files merged by time), are SYNs and
    SYN-ACKs, every one plain, of one family.  The analyser (``_Analyser._syn`` and ``feed``) opens an attempt
    at the first SYN (from the client ``C`` to ``V``), joins to it the SYNs from ``C`` less than
    ``VIEW_WINDOW`` (0.2 s) after it (views: not a retransmission) and the SYNs from other sources within the
    window of it either way (NAT views), and every SYN-ACK less than 130 s after its latest row; it counts
    it healthy and forgets it at the first SYN-ACK from ``V`` to ``C``, keeping its time as ``answered``.
    After that a SYN less than 0.2 s from it either way is a view of the answered handshake (the same packets
    in a file whose clock is ahead by more than the handshake's round trip) when it comes from ``C`` or from
    an address an earlier SYN of the key went to (``_went_to``: a NAT view), a SYN-ACK finds no attempt
    (every row of the key is in the group) and only counts as a packet when it comes within the window of the
    first SYN (a NAT view of the answer) or goes to the address and port an earlier SYN of the key came from
    (``named_earlier``: another view of the answer, its server's retransmission; later and to anywhere else, it answers
    another client's SYN with the same ISN); before the answer, a SYN-ACK to another address and port than ``C``'s
    and the sources of the SYNs before it (``_Analyser._find``) must come within the window of the first SYN
    (else the analyser counts it as an answer whose SYN is not in the capture).  That is the first form taken: one
    attempt, every row less than 130 s after the one before it, every SYN a view, fewer rows than the
    analyser keeps of an attempt.  The second: runs of SYNs from ``C`` to ``V`` then SYN-ACKs from ``V`` to
    ``C``, every run an attempt of its own (each run's SYNs within the window of its first, each run's first
    SYN 0.2 s or more from the one before, its first SYN-ACK less than 130 s after its latest SYN).  The
    groups are read a batch at a time (``VIEWS_BATCH`` rows, whole groups: ``_views_of``).  Marks the rows
    (``keep`` False; ``quiet`` True for all but each attempt's first SYN and the SYN-ACK that answers it,
    which open and close it); returns how many attempts, and the latest time among their rows.  ``src``,
    ``dst``: the scans' (``addresses``); ``col``: their kind, simple, v6, sport and dport columns (``joined``)."""
    counts = groups[4]
    sel = np.flatnonzero(counts >= 3)
    for sc in scans:
        sc.quiet = np.zeros(sc.key.size, np.bool_)
    ends = np.cumsum(counts[sel])
    found, latest, lo = 0, float("-inf"), 0
    while lo < sel.size:  # whole groups, about VIEWS_BATCH rows at a time: the memory of a batch, not of all
        hi = max(lo + 1, int(np.searchsorted(ends, (int(ends[lo - 1]) if lo else 0) + VIEWS_BATCH, "right")))
        n, last = _views_of(scans, groups, sel[lo:hi], col, src, dst)
        found, latest, lo = found + n, max(latest, last), hi
    return found, latest


def _views_of(scans: list[Scan], groups: Any, sel: Any, col: dict[str, Any], src: Any, dst: Any) -> tuple[int, float]:
    """``_healthy_views`` of the groups ``sel`` (by ``by_key``'s index, in order); ``col``: the scans'
    columns end to end."""
    # (the analyser's own constants; no cycle at import)
    from hairpin.diagnose.capture_analyser import GAP, KEEP, REPEAT, VIEW_WINDOW

    t, counts = groups[1], groups[4]
    n = sel.size
    rep, first, rows = group_rows(groups, sel)  # in the analyser's order within a group
    kind, tt = col["kind"][rows], t[rows]
    lead = first[rep]  # each row's group's first row (its index among ``rows``)
    syn, sa = kind == 0, kind == 1
    good = syn[first].copy()
    six = col["v6"][rows]
    ok = (syn | sa) & col["simple"][rows] & (six == six[lead])
    good[rep[~ok]] = False
    good[counts[sel] >= KEEP] = False  # (the analyser keeps KEEP packets of an attempt, the addresses from them)
    if not good.all():  # every step below reads a group's own rows alone: only the groups that can still be views
        if not good.any():  # (a hairpin's rows hold RSTs: on a capture of hairpins and single handshakes, none)
            return 0, float("-inf")
        return _views_of(scans, groups, sel[good], col, src, dst)
    # addresses and ports read as one number each: a SYN-ACK from V to C has its SYN's swapped
    a_, b_ = src[rows].astype(np.uint64) << 16, dst[rows].astype(np.uint64) << 16
    s_, d_ = a_ | col["sport"][rows], b_ | col["dport"][rows]
    from_c, to_c, from_v, to_v = s_ == s_[lead], d_ == s_[lead], s_ == d_[lead], d_ == d_[lead]
    d0 = tt - tt[lead]
    # one attempt, answered by the first SYN-ACK from V to C
    close = first_of(rep, n, sa & from_v & to_c)
    one = close >= 0
    after = np.arange(rows.size) > close[rep]
    nat = ~after | _went_to(rep, syn & ~from_c & after & (np.abs(d0) < VIEW_WINDOW), syn, src, dst, rows)
    view = np.where(from_c, (d0 < VIEW_WINDOW) & (~after | (d0 > -VIEW_WINDOW)), nat & (np.abs(d0) < VIEW_WINDOW))
    one[rep[syn & ~view]] = False
    # a SYN-ACK after the answer: the analyser takes it for another view of the answered handshake or its server's
    # retransmission (never an answer whose SYN is not in the capture) while it is at most SYNACK_LIFE s after the SYN
    # (``_Analyser._no_syn``): sure here; and when it goes to where a SYN of the handshake came from (the client, a NAT
    # view's source) or comes within VIEW_WINDOW of its SYN (a NAT view of the answer, to anywhere): later, to another
    # address or port, it answers another client that drew the same ISN
    one[rep[sa & after & ~(d0 < REPEAT)]] = False
    elsewhere = sa & after & ~to_c & ~(np.abs(d0) < VIEW_WINDOW)  # (to the client: its first SYN came from there)
    one[rep[elsewhere & ~named_earlier(rep, elsewhere, syn, s_, d_)]] = False
    # before the answer, a SYN-ACK joins the attempt only when it goes to its client or where a view of its SYN came
    # from (``_Analyser._find``); to anywhere else the analyser counts it as an answer whose SYN is not in the
    # capture, unless it comes within VIEW_WINDOW of the SYN (``_Analyser._no_syn``): such a group is its to read
    stray = sa & ~after & ~to_c & ~(np.abs(d0) < VIEW_WINDOW)
    one[rep[stray & ~named_earlier(rep, stray, syn, s_, d_)]] = False
    same = rep[1:] == rep[:-1]
    one[rep[1:][same & ~(tt[1:] - tt[:-1] < GAP)]] = False
    # the groups not of that form (ISNs drawn twice by chance, clocks apart by more than the window) may be runs,
    # each an attempt: read on their own rows only
    rest = np.flatnonzero((good & ~one)[rep])
    good &= one
    heads = first_sa = np.zeros(0, np.int64)
    if rest.size:
        plain = np.where(syn, from_c & to_v, from_v & to_c)[rest]
        each, h, f = _runs(rep[rest], syn[rest], sa[rest], tt[rest], plain)
        which = rep[rest[rest == lead[rest]]]  # those groups, in order (``each``'s; np.unique imports numpy.ma)
        good[which[each]] = True
        taken = each[np.searchsorted(which, rep[rest[h]])]  # the runs of the groups taken
        heads, first_sa = rest[h[taken]], rest[f[taken]]
    if not good.any():
        return 0, float("-inf")
    mine = good[rep]
    mark(scans, "keep", rows[mine], False)
    latest = float(tt[mine].max())
    # each attempt's first SYN opens it, its answer closes it: the one form, else every run of the other
    g1 = np.flatnonzero(good & one)
    opens = np.concatenate([first[g1], heads])
    mine[opens] = mine[np.concatenate([close[g1], first_sa])] = False
    mark(scans, "quiet", rows[mine], True)
    return int(opens.size), latest


def _went_to(rep: Any, asked: Any, syn: Any, src: Any, dst: Any, rows: Any) -> Any:
    """Of the rows ``asked`` (``group_rows``' ``rows``, groups ``rep``), those from an address that a SYN
    before them in their group went to: after a handshake's answer, the analyser takes a SYN from another
    source than the client for a view of it (a NAT view) only from such an address (``_Analyser._syn``).
    ``src``, ``dst``: the scans' address columns."""
    return named_earlier(rep, asked, syn, dst[rows], src[rows])


def named_earlier(rep: Any, asked: Any, syn: Any, have: Any, want: Any) -> Any:
    """Of the rows ``asked`` (groups ``rep``), those whose ``want`` is the ``have`` of a SYN before them in their
    group (numbers of the rows: addresses, or addresses and ports).  A NAT view of an answered handshake comes from
    where one of its SYNs went (``_went_to``); its SYN-ACK goes to where one of them came from (``_Analyser._no_syn``)."""
    out = np.zeros(rep.size, np.bool_)
    at = np.flatnonzero(asked)
    if not at.size:
        return out
    sy = np.flatnonzero(syn & np.isin(rep, rep[at]))  # the SYNs of the groups asked about
    if not sy.size:
        return out
    # the numbers as small ones (their rank among those met), each with its group above it
    ids = np.unique(np.concatenate([have[sy], want[at]]), return_inverse=True)[1].reshape(-1).astype(np.uint64)
    code = (rep[sy].astype(np.uint64) << np.uint64(32)) | ids[: sy.size]
    wanted = (rep[at].astype(np.uint64) << np.uint64(32)) | ids[sy.size :]
    by = np.argsort(code, kind="stable")  # by number within a group, the earliest row first
    code, sy = code[by], sy[by]
    head = np.ones(code.size, np.bool_)
    head[1:] = code[1:] != code[:-1]
    code, sy = code[head], sy[head]
    k = np.minimum(np.searchsorted(code, wanted), code.size - 1)
    out[at] = (code[k] == wanted) & (sy[k] < at)
    return out


def _runs(rep: Any, syn: Any, sa: Any, tt: Any, plain: Any) -> tuple[Any, Any, Any]:
    """The groups (rows by group ``rep``, in the analyser's order) that are runs of SYNs then SYN-ACKs, each
    run an attempt of its own (``_healthy_views``' second form): every row ``plain`` (a SYN from C to V, a
    SYN-ACK from V to C), each run's SYNs less than ``VIEW_WINDOW`` after its first, each run's first SYN at
    least that from the run before's, its first SYN-ACK less than ``GAP`` after its latest SYN.  Returns
    (for each group, in order, whether it is; each run's first row; each run's first SYN-ACK)."""
    from hairpin.diagnose.capture_analyser import GAP, REPEAT, VIEW_WINDOW

    new_group = np.ones(rep.size, np.bool_)
    new_group[1:] = rep[1:] != rep[:-1]
    group = np.cumsum(new_group) - 1
    start = new_group.copy()
    start[1:] |= sa[:-1] & syn[1:]
    run = np.cumsum(start) - 1
    heads = np.flatnonzero(start)
    later = ~new_group[heads]  # not its group's first run
    each = np.ones(int(group[-1]) + 1 if rep.size else 0, np.bool_)
    each[group[~plain]] = False
    last_syn_t = np.full(heads.size, -np.inf)
    np.maximum.at(last_syn_t, run[syn], tt[syn])
    first_sa = first_of(run, heads.size, sa)
    each[group[heads[(first_sa < 0) | ~(tt[np.maximum(first_sa, 0)] - last_syn_t < GAP)]]] = False
    each[group[syn & ~(tt - tt[heads[run]] < VIEW_WINDOW)]] = False
    # a run's SYN-ACKs after its answer: views of it, as the analyser takes them only that soon (``_views_of``)
    each[group[sa & (np.arange(rep.size) > first_sa[run]) & ~(tt - tt[heads[run]] < REPEAT)]] = False
    gap = np.abs(tt[heads[1:]] - tt[heads[:-1]])
    each[group[heads[1:][later[1:] & ~(gap >= VIEW_WINDOW)]]] = False
    return each, heads, np.maximum(first_sa, 0)


def joined(scans: list[Scan], name: str) -> Any:
    """Column ``name`` of every scan end to end (one scan's own array, not a copy: read only)."""
    return getattr(scans[0], name) if len(scans) == 1 else np.concatenate([getattr(s, name) for s in scans])


def by_key(scans: list[Scan], perm: Any = None) -> tuple[Any, Any, Any, Any, Any] | None:
    """The rows of all ``scans`` grouped by ISN key: (keys, times, the rows by key, where each key's group
    starts, its size).  Rows are numbered in the concatenation's order (file, then position); within a key
    they are in the order the analyser meets them: one file's own, or several files merged by time (the
    stable sort by time ``perm``, the stream's order, as ``heapq.merge`` takes files each in time order: at
    the same time by file, then position; computed when not given).  None for no row."""
    if not scans:
        return None
    key = joined(scans, "key")
    if key.size == 0:
        return None
    t = joined(scans, "t")
    if len(scans) == 1:
        perm = None
    elif perm is None:
        perm = np.argsort(t, kind="stable")
    # one sort of the 64-bit numbers key << 32 | place in the stream (unique, so the order is total)
    packed = (key if perm is None else key[perm]).astype(np.int64)  # (in place from here: one array at a time)
    packed <<= 32
    packed |= np.arange(key.size, dtype=np.int64)
    packed.sort()
    order = packed & 0xFFFFFFFF
    packed >>= 32
    k = packed
    if perm is not None:
        order = perm[order]
    first = np.ones(k.size, np.bool_)
    first[1:] = k[1:] != k[:-1]
    starts = np.flatnonzero(first)
    return key, t, order, starts, np.diff(np.append(starts, k.size))


def lone_syns(scans: list[Scan], listed: int, groups: Any = None,
              stop: Any = None) -> tuple[dict[str, int], float]:  # fmt: skip
    """Count by kind, and mark (``keep`` False), the lone SYNs past the ``listed`` earliest: a plain IPv4 or IPv6 SYN
    whose ISN no other SYN, SYN-ACK or RST in any file names.  The analyser would open an attempt for it
    that no later packet joins (it finds a packet's attempt by that ISN, ``_Analyser._find``/``_find_syn``
    in :mod:`hairpin.diagnose.capture`), and classify it by the SYN alone: ``loopback`` to 127.0.0.0/8 or
    ::1, else ``node-loopback`` from its own destination address, else ``unanswered-syn``; no retransmission,
    so nothing else of it is shown; with ``stop`` (the capture's end, or each row's: an array of the joined rows),
    one other than ``node-loopback`` less than
    ``TCP_TIMEOUT_INIT`` (1 s) before it is ``cut`` instead, as the analyser counts it (``Attempt.cut_by``: its
    client's timer could not have fired).  The ``listed`` earliest not ``cut`` (by time, file, position: the order
    the analyser opens them in) stay, for the analyser to list them (a ``cut`` one is never listed).  This is a SYN flood's bulk: counted
    here, never decoded or held.  Returns the counts and the latest time among those marked.  ``groups``:
    ``by_key(scans)`` when the caller has it already (it does not depend on ``keep``)."""
    groups = by_key(scans) if groups is None else groups
    if groups is None:
        return {}, float("-inf")
    _key, t, order, starts, counts = groups
    col = {c: joined(scans, c) for c in ("kind", "simple", "v6", "keep")}
    col["src"], col["dst"], addrs = addresses(scans)
    rows = order[starts[counts == 1]]
    rows = rows[(col["kind"][rows] == 0) & col["simple"][rows] & col["keep"][rows]]
    if rows.size <= listed and stop is None:
        return {}, float("-inf")
    rows = rows[np.lexsort((rows, t[rows]))]
    dst = col["dst"][rows]
    loop = (dst >> 24) == 127  # 127.0.0.0/8, and ::1 for IPv6 (hairpin.model.net.is_loopback)
    six = col["v6"][rows]
    if addrs and six.any():
        lo6 = np.array([x == V6 | 1 for x in addrs], np.bool_)
        loop = np.where(six, lo6[np.where(six, dst, 0)], loop)
    node = ~loop & (col["src"][rows] == dst)
    ends = stop[rows] if isinstance(stop, np.ndarray) else stop
    cut = ~node & (ends - t[rows] < TCP_TIMEOUT_INIT) if stop is not None else np.zeros(rows.size, np.bool_)
    # the `listed` earliest of those the analyser lists (not cut) stay for it: its list holds the same ones
    out = np.ones(rows.size, np.bool_)
    out[np.flatnonzero(~cut)[:listed]] = False
    if not out.any():
        return {}, float("-inf")
    rows, loop, node, cut = rows[out], loop[out], node[out], cut[out]
    found = {"loopback": int(np.count_nonzero(loop & ~cut)), "node-loopback": int(np.count_nonzero(node)),
             "cut": int(np.count_nonzero(cut))}  # fmt: skip
    found["unanswered-syn"] = int(rows.size) - found["loopback"] - found["node-loopback"] - found["cut"]
    mark(scans, "keep", rows, False)
    return {k: v for k, v in found.items() if v}, float(t[rows].max())
