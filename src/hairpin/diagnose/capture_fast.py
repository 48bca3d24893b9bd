"""The rows a first pass leaves out of the analyser, and what the analyser does at their places in the stream.

What it knows: the analyser (:class:`hairpin.diagnose.capture._Analyser`) meets the rows (SYN, SYN-ACK and
RST packets) in the stream's order: one file in its own order, several files merged by time.  Three kinds
of rows can be left out of it, each decided from the first pass's columns (``fastscan``, its ISN groups:
``fastscan_groups``):

- a healthy handshake (``fastscan_groups.healthy_pairs``): the only two rows of their ISN key, the SYN first
  in the stream, the SYN-ACK from the address it called less than 130 s after it.  The analyser opens an
  attempt at the SYN and counts it healthy and forgets it at the SYN-ACK.  The same seen several times, in one
  file or in several (``tcpdump -i any``, a node's NAT views, captures of two nodes:
  ``fastscan_groups._healthy_views``): the rows other than each attempt's first SYN and its answer
  (``Scan.quiet``) open and close nothing, they only count as packets;
- a flood's lone SYN (``fastscan_groups.lone_syns``): the only row of its key; the analyser opens an attempt
  that nothing joins, classified by the SYN alone when a look for attempts to forget closes it, or at the end;
- a hairpin of the usual shapes (:mod:`hairpin.diagnose.capture_hairpins`), its attempt built from the columns.

Apart from its own attempt, a row changes the analyser's state for every other row: it counts in
``packets``, moves ``end`` (the latest time so far, from 0.0), may count as ``late`` (more than ``LATE``
behind ``end`` once an attempt was forgotten), and may fire the look for attempts to forget (``_tick``: at
a row that moves ``end`` to or past ``next_tick``; the look then closes the attempts idle for more than
``EXPIRE`` only when at least a quarter as many packets as attempts open came since the last one).  The
order the looks close hairpins in is the order of the tallies' equal counts; ``n`` (the order attempts
were opened in) orders the lists' equal first SYNs.  This module reproduces all of it (:func:`drive`):

- where the looks fire depends on the times alone: ``end`` is the running maximum, ``next_tick`` is
  ``TICK`` past the ``end`` of the last look, so their places are found once (:class:`Plan`);
- ``packets`` at a row is its place in the stream; the attempts open are the analyser's own plus the
  left-out ones open at that place (``ghosts``: a healthy SYN until its SYN-ACK, a lone SYN until a look
  closes it, which the analyser counts from their sorted times);
- each left-out attempt is counted in ``connections`` at its SYN's place; a hairpin's attempt is put into
  ``open`` there.

This is exact only when no row is more than ``DISORDER`` (4 s) behind ``end`` (:func:`stream_order`; a
capture written by tcpdump on several CPUs is out of time order by microseconds to milliseconds) and every
time is below ``CLOCK_MAX`` (2**33 s, where floats are exact to 2 microseconds).  Then:
no row is ``late`` (that takes more than 5 s); no look closes an attempt that a later row of its key would
still join (a row joins within 130 s of the attempt's last packet, a look closes past 135 s, and ``end``
runs at most 4 s ahead of any row still to come), so a healthy SYN's attempt is still open at its SYN-ACK
and whether a look runs changes no attempt's fields; and every lone SYN more than 135 s behind a look is
already in the stream.  A file further out of order, or several files one of which is out of time order
(their merge is then not a sort), is analysed packet by packet.  Within one key the rows are taken in the
stream's order, as the analyser meets them (a SYN-ACK written before its SYN is not a healthy pair, one
stamped before it but written after it is), and the reader must give exactly the rows still kept (else
``Mismatch``: the caller analyses packet by packet).

The hairpins a capture usually holds are decided from the columns too, their attempts opened by the driver
at their first SYNs' places (:mod:`hairpin.diagnose.capture_hairpins`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

# (capture imports this module when used)
from hairpin.diagnose.capture import last_frame
from hairpin.diagnose.capture_analyser import TICK, _analyser, _Sourced
from hairpin.diagnose.capture_hairpins import FastGroups, hairpin_groups
from hairpin.diagnose.capture_result import Analysis, Attempt
from hairpin.parsers.fastscan import by_key, healthy_pairs, joined, lone_syns
from hairpin.parsers.pcap import PacketRecord, Reader

__all__ = [
    "CLOCK_MAX", "DISORDER", "Mismatch", "Plan", "analyse_fast", "drive", "looks", "stream_order",
]  # fmt: skip

# s: how far a row may be behind the latest time before it for the rows left out to be replayed exactly; the
# proof above needs less than EXPIRE - GAP = 5 s (and LATE = 5 s); 1 s is kept for rounding
DISORDER = 4.0
# s: the latest time the proof is kept for.  Below it a time's unit in the last place is at most 2**-19 s, far
# inside that 1 s; past 2**55 s it is 8 s (a pcapng clock counting whole seconds can be read as that), ``end -
# DISORDER`` rounds to 8 s behind ``end`` and a row 8 s late passed the test (a healthy handshake's SYN-ACK came
# after a look had forgotten its SYN: counted healthy, the analyser's answer is an unanswered SYN)
CLOCK_MAX = 2.0**33


class Mismatch(Exception):
    """The reader gave other rows than the scan's ``keep`` said: the caller redoes the analysis row by row."""


def stream_order(ts: list[Any]) -> tuple[Any, Any] | None:
    """The files' rows (times ``ts``, one array per file, in file order) in the order the analyser meets
    them, when the rows left out can be replayed: (the concatenated rows' indexes in that order, or None for
    one file's own order; ``end`` with each row of the stream).  One file: no row more than ``DISORDER``
    behind the latest time before it.  Several files (merged by time, ``heapq.merge``): each in time order,
    so that the merge is the stable sort by time.  Either way every time below ``CLOCK_MAX``.  None
    otherwise."""
    if len(ts) == 1:
        t, perm = ts[0], None
    else:
        if not all(bool(x.size < 2 or np.all(x[1:] >= x[:-1])) for x in ts):
            return None
        t = np.concatenate(ts)
        perm = np.argsort(t, kind="stable")  # ties: by file, then by place in the file, as the merge takes them
        t = t[perm]
    if t.size == 0 or not float(t.max()) < CLOCK_MAX:  # (a clock this far out: packet by packet)
        return None
    if t[0] >= 0.0 and bool(np.all(t[1:] >= t[:-1])):  # in time order: `end` is each row's time
        return perm, t
    upto = np.maximum(np.maximum.accumulate(t), 0.0)  # the analyser's `end` starts at 0.0
    if bool(np.any(t[1:] < upto[:-1] - DISORDER)):
        return None
    return perm, upto


def looks(upto: Any) -> list[int]:
    """The rows at which the analyser looks for attempts to forget (``_tick``): a row that moves ``end``
    (``upto``: ``end`` with each row) to or past ``next_tick``, which is then ``TICK`` past it.  Past 2**56 s
    (a pcapng clock in whole seconds) ``end + TICK`` rounds back to ``end``: then the next look is at the
    next row that moves ``end`` at all, as in the analyser."""
    out: list[int] = []
    nxt, end, n = float("-inf"), 0.0, upto.size  # `end` starts at 0.0
    while True:
        # the first row whose `end` reaches nxt moves `end` (the one before it is below nxt); when nxt is not past
        # `end` (the start, or a TICK lost to rounding), the first row past `end`
        i = int(np.searchsorted(upto, nxt, "left")) if nxt > end else int(np.searchsorted(upto, end, "right"))
        if i >= n:
            return out
        out.append(i)
        end = float(upto[i])
        nxt = end + TICK


class Plan:
    """The analyser's state where each row still fed and each event among the rows left out (a look for
    attempts to forget, a hairpin's attempt opened) comes, in stream places.  ``out``: the rows left out
    (bool, stream order); ``opens``: those that open an attempt the analyser never sees (a healthy or lone
    SYN); ``closes``: those that close one (a healthy SYN-ACK); ``upto``: ``end`` with each row; ``fg``: the
    hairpins from the columns (their first SYNs' stream places in ``places``)."""

    def __init__(self, out: Any, opens: Any, closes: Any, upto: Any, fg: FastGroups | None = None,
                 places: list[int] | None = None) -> None:  # fmt: skip
        fed = np.flatnonzero(~out)
        found = looks(upto)
        ticks = set(np.asarray(found, np.int64)[out[found]].tolist())  # the looks at rows fed are the analyser's own
        by_place = dict(zip(places, fg.attempts, strict=True)) if fg is not None and places is not None else {}
        ev = np.array(sorted(ticks.union(by_place)), np.int64)  # (np.union1d: 10 ms the first time in a process)
        # attempts opened and closed among the rows before each place: the places of those rows, counted
        at_open, at_close = np.flatnonzero(opens), np.flatnonzero(closes)

        def before(where: Any) -> tuple[list[int], list[int]]:  # (opened, still open) before each place
            o = np.searchsorted(at_open, where)
            return o.tolist(), (o - np.searchsorted(at_close, where)).tolist()

        self.fed = fed.tolist()
        self.fed_end = np.where(fed > 0, upto[np.maximum(fed - 1, 0)], 0.0).tolist()  # `end` starts at 0.0
        self.fed_opened, self.fed_ghosts = before(fed)
        self.ev, self.ev_end = ev.tolist(), upto[ev].tolist()
        self.ev_opened, self.ev_ghosts = before(ev)
        self.ev_tick = [k in ticks for k in self.ev]
        self.ev_attempt: list[Attempt | None] = [by_place.get(k) for k in self.ev]
        self.total, self.end = out.size, float(upto[-1])
        self.opened, self.ghosts = at_open.size, at_open.size - at_close.size


def drive(an: Any, rows: Iterable[tuple[int, Any]], plan: Plan) -> None:
    """Feed ``an`` (a ``_Analyser``) the rows still read (``rows``: each with its stream place) with the
    state the rows left out give it at each place: ``packets``, ``end``, ``connections``, the attempts open
    (``ghosts``), the looks for attempts to forget fired at their rows, the hairpins' attempts opened at
    their first SYNs.  Raises ``Mismatch`` when ``rows`` are not exactly ``plan.fed``."""
    fed, fed_end, fed_opened, fed_ghosts = plan.fed, plan.fed_end, plan.fed_opened, plan.fed_ghosts
    ev, ev_end, ev_opened, ev_ghosts, ev_tick, ev_attempt = (plan.ev, plan.ev_end, plan.ev_opened, plan.ev_ghosts,
                                                             plan.ev_tick, plan.ev_attempt)  # fmt: skip
    n_fed, n_ev = len(fed), len(ev)
    e = applied = 0

    def events(upto: int) -> None:  # the events before stream place ``upto``
        nonlocal e, applied
        while e < n_ev and ev[e] < upto:
            an.packets = ev[e] + 1
            an.end = ev_end[e]
            an.connections += ev_opened[e] - applied
            applied = ev_opened[e]
            an.ghosts = ev_ghosts[e]
            if ev_tick[e]:
                an._tick()
            a = ev_attempt[e]
            if a is not None:  # the hairpin's first SYN: its attempt opened in the stream's order
                a.n = an.connections
                an.open[a] = None
                an.connections += 1
            e += 1

    j = 0
    for place, r in rows:
        if j >= n_fed or place != fed[j]:
            raise Mismatch(place)
        events(place)
        an.packets = place
        an.end = fed_end[j]
        an.connections += fed_opened[j] - applied
        applied = fed_opened[j]
        an.ghosts = fed_ghosts[j]
        an.feed(r)
        j += 1
    if j != n_fed:
        raise Mismatch(j)
    events(plan.total)
    an.packets, an.end = plan.total, max(an.end, plan.end)
    an.connections += plan.opened - applied
    an.ghosts = plan.ghosts


def analyse_fast(readers: list[Reader], scans: list[Any], listed: int, records: bool) -> Analysis | None:
    """The analysis with the rows the first pass can decide left out of the analyser and replayed at their
    places (this module's): healthy handshakes, a flood's lone SYNs past the
    ``listed`` earliest, and (``records`` False) the hairpins of the usual shapes
    (:mod:`hairpin.diagnose.capture_hairpins`).  None when the
    files' order does not allow it (``stream_order``) or the reader gives other rows than the
    scan kept (then every row is kept again, for the caller to analyse them all)."""
    order = stream_order([sc.t for sc in scans])
    groups = by_key(scans, order[0]) if order is not None else None
    if order is None or groups is None:
        return None
    perm, upto = order
    place: Any = None  # several files: each row's place in the stream (the merge's order inverted)
    if perm is not None:
        place = np.empty(perm.size, np.int64)
        place[perm] = np.arange(perm.size)

    def keep() -> Any:  # every file's keep, end to end (a copy)
        return np.concatenate([sc.keep for sc in scans]) if len(scans) > 1 else scans[0].keep.copy()

    healthy, latest = healthy_pairs(scans, groups)  # each pair in the stream's order (a SYN-ACK after its SYN)
    paired = keep()
    # the capture's end (its last frame, or the latest row: the analyser's ``end``, from 0.0) for the lone SYNs ``CUT``
    stop = max([float(upto[-1])] + [sc.last_t for sc in scans if sc.last_t is not None])
    an = _analyser(readers, listed=listed)
    sourced = an if isinstance(an, _Sourced) else None  # captures told apart: each row's (None: more than 62)
    several = sourced is not None
    found = _row_bits(scans, readers, sourced) if sourced is not None else None
    bits = found[0] if found is not None else None
    # the end each lone SYN's ``CUT`` is decided against: its capture's, or its own time when later (``_stop``)
    stops: Any = stop if sourced is None else None if found is None else np.maximum(found[1], groups[1])
    lone: dict[str, int] = {}
    lone_latest = float("-inf")
    if stops is not None:  # a flood's lone SYNs: counted, not decoded
        lone, lone_latest = lone_syns(scans, listed, groups, stops)
    unpaired = keep() if lone else paired
    fg = None
    if not records and (bits is not None or not several):
        fg = hairpin_groups(scans, groups, upto, place, bits)
    kept = keep() if fg is not None else unpaired
    kind, t = joined(scans, "kind"), groups[1]
    # the views of a healthy handshake other than each attempt's first SYN and its answer open and close nothing
    quiet = joined(scans, "quiet")
    if perm is not None:
        paired, unpaired, kept, kind, t, quiet = (
            paired[perm],
            unpaired[perm],
            kept[perm],
            kind[perm],
            t[perm],
            quiet[perm],
        )
    out = ~kept
    mine = out & unpaired  # rows left out as hairpins: their attempts are opened by the driver
    told = out & ~mine & ~quiet
    plan = Plan(out, told & (kind == 0), told & (kind == 1), upto, fg, fg.opens if fg else None)
    an.healthy = healthy
    lone_t = np.sort(t[paired & ~unpaired])
    an.lone_t = lone_t if lone_t.size else None
    if len(readers) == 1:
        fed: Iterable[tuple[int, PacketRecord]] = readers[0].rows()
    else:
        bounds = np.cumsum([0] + [sc.t.size for sc in scans]).tolist()  # (place stays an array: a list of
        # every row's place would cost about 40 bytes a row, and only the rows fed are looked up)

        def rows(n: int, rd: Reader) -> Iterator[tuple[float, int, int, PacketRecord]]:
            for row, r in rd.rows():
                yield r.t, n, row, r

        def merged() -> Iterator[tuple[int, PacketRecord]]:  # by time, file and place, as capture._analyse_files
            for _t, n, row, r in heapq.merge(*(rows(n, rd) for n, rd in enumerate(readers))):
                an.file = n  # type: ignore[attr-defined]  # (a _Sourced analyser: several files)
                yield int(place[bounds[n] + row]), r

        fed = merged()
    try:
        drive(an, fed, plan)
    except Mismatch:  # the reader reads again what the scan kept: never seen
        for sc in scans:
            sc.keep[:] = True
        return None
    if lone:
        an.kinds.update(lone)
    return an.result(max(latest, lone_latest), last_frame(readers))


def _row_bits(scans: list[Any], readers: list[Reader], an: _Sourced) -> tuple[Any, Any] | None:
    """Each row's capture (its file and interface) as ``an``'s bit (``Sources.bit``), and that capture's end
    (``Sources.span`` of its bit, a rotation's next files with it: the analyser's ``_stop`` for an attempt seen
    there alone), the scans' rows end to end; None when there are more than 62 captures (a bit beyond a 64-bit
    integer's)."""
    where = an.where
    bits, ends = [], []
    for n, (sc, rd) in enumerate(zip(scans, readers, strict=True)):
        names = rd.interfaces
        table = [where.bit(n, name) if len(where.bits) < 62 else 0 for name in (names if names is not None else [None])]
        if len(where.bits) >= 62:
            return None
        end = [(sp[1] if (sp := where.span(b)) is not None else float("-inf")) for b in table]
        which = sc.iface.astype(np.int64) if names is not None else np.zeros(sc.t.size, np.int64)
        bits.append(np.array(table, np.int64)[which])
        ends.append(np.array(end, np.float64)[which])
    return np.concatenate(bits), np.concatenate(ends)
