"""The IPv6 addresses of a first pass (:mod:`hairpin.parsers.fastscan`): 16 bytes each, held in the rows'
32-bit ``src`` and ``dst`` columns as indexes into the scan's table of the distinct addresses met.

What it knows: a capture's IPv6 addresses are few (nodes, pods, load balancers) and share prefixes, so
the table is kept as one sorted array of the lower 64 bits per upper 64 bits, and a chunk's addresses are
looked up all at once (``intern``).  The tables of several files differ (other addresses, met in another
order): ``addresses`` joins their rows under one table, by value, so equal addresses compare equal across
files.  The table holds each address as the decoder gives it (``hairpin.model.net.V6 | address``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hairpin.model.net import V6

__all__ = ["addresses", "intern"]

_FRESH = 16  # prefixes met for the first time in one chunk past which their addresses are added at once


def intern(sc: Any, src: Any, dst: Any) -> tuple[Any, Any]:
    """The indexes into ``sc.addrs`` of the 16-byte addresses ``src`` and ``dst`` (``V16`` arrays), new ones
    added.  An address is two 64-bit numbers: its upper half (the prefix: a cluster's few) picks a sorted
    table of the lower halves met so far, looked up for every row at once."""
    x = np.concatenate([src, dst]).view(">u8").reshape(-1, 2)
    hi, lo = x[:, 0].astype(np.uint64), x[:, 1].astype(np.uint64)
    out = np.empty(hi.size, np.uint32)
    prefixes, which = np.unique(hi, return_inverse=True)
    addrs, plist = sc.addrs, prefixes.tolist()
    fresh = np.array([h not in sc.ids for h in plist], np.bool_)
    if np.count_nonzero(fresh) > _FRESH:  # a flood's sources, a prefix each: their addresses are all new, added at once
        _fresh(sc, hi, lo, np.flatnonzero(fresh[which.reshape(-1)]), out)
        rest = np.flatnonzero(~fresh).tolist()  # the other prefixes, one at a time below
    else:
        rest = list(range(prefixes.size))
    if prefixes.size == 1:
        parts: list[tuple[int, Any]] = [(plist[0], slice(None))] if rest else []
    else:
        order = np.argsort(which.reshape(-1), kind="stable")
        bounds = np.searchsorted(which.reshape(-1)[order], np.arange(prefixes.size + 1)).tolist()
        parts = [(plist[k], order[bounds[k] : bounds[k + 1]]) for k in rest]
    for h, sel in parts:
        part = lo[sel]
        known, index = sc.ids.get(h, (np.zeros(0, np.uint64), np.zeros(0, np.uint32)))
        at = np.searchsorted(known, part)
        if known.size == 0 or not np.array_equal(known[np.minimum(at, known.size - 1)], part):
            new = _new_values(part, known)
            top = V6 | h << 64
            index = np.concatenate([index, np.arange(len(addrs), len(addrs) + new.size, dtype=np.uint32)])
            addrs.extend([top | v for v in new.tolist()])
            known = np.concatenate([known, new])
            o = np.argsort(known, kind="stable")
            known, index = known[o], index[o]
            sc.ids[h] = (known, index)
            at = np.searchsorted(known, part)
        out[sel] = index[at]
    return out[: src.size], out[src.size :]


def _fresh(sc: Any, hi: Any, lo: Any, rows: Any, out: Any) -> None:
    """The addresses ``rows`` (of prefixes not met before) added to ``sc.addrs`` in the order of their values,
    one table each prefix, their indexes put in ``out``: what the loop of :func:`intern` does, without a
    NumPy call for each prefix (a random-source IPv6 SYN flood met 400,000 prefixes in 200,000 packets: 6.6 s
    in that loop)."""
    o = rows[np.lexsort((lo[rows], hi[rows]))]  # by address
    h, low = hi[o], lo[o]
    lead = np.ones(o.size, np.bool_)  # each distinct address's first row
    lead[1:] = (h[1:] != h[:-1]) | (low[1:] != low[:-1])
    uh, ul = h[lead], low[lead]
    addrs = sc.addrs
    index = np.arange(len(addrs), len(addrs) + uh.size, dtype=np.uint32)
    addrs.extend([V6 | a << 64 | b for a, b in zip(uh.tolist(), ul.tolist(), strict=True)])
    out[o] = index[np.cumsum(lead) - 1]
    cut = [*np.flatnonzero(np.concatenate([[True], uh[1:] != uh[:-1]])).tolist(), uh.size]
    for k, p in enumerate(uh[cut[:-1]].tolist()):  # each prefix's sorted lower halves and their indexes
        sc.ids[p] = (ul[cut[k] : cut[k + 1]], index[cut[k] : cut[k + 1]])


def _new_values(part: Any, known: Any) -> Any:
    """The distinct values of ``part`` not in the sorted ``known``, sorted (np.setdiff1d, without the import of
    numpy.ma its np.unique makes: 15-20 ms the first time in a process)."""
    u = np.sort(part)
    u = u[np.concatenate(([True], u[1:] != u[:-1]))] if u.size else u
    if not known.size:
        return u
    at = np.minimum(np.searchsorted(known, u), known.size - 1)
    return u[known[at] != u]


def addresses(scans: list[Any]) -> tuple[Any, Any, list[int]]:
    """The ``src`` and ``dst`` columns of every scan end to end, with the IPv6 indexes made one table's
    (``addrs``, returned): equal addresses of two files get one index.  One scan: its own (read only)."""
    if len(scans) == 1:
        return scans[0].src, scans[0].dst, scans[0].addrs
    ids: dict[int, int] = {}  # each address's index in the joined table, in the order first met
    src, dst = np.concatenate([s.src for s in scans]), np.concatenate([s.dst for s in scans])
    at = 0
    for s in scans:
        if s.addrs:
            lut = np.array([ids.setdefault(x, len(ids)) for x in s.addrs], np.uint32)
            m = np.flatnonzero(s.v6) + at
            src[m], dst[m] = lut[src[m]], lut[dst[m]]
        at += s.key.size
    addrs = list(ids)
    return src, dst, addrs
