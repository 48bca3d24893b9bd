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


def intern(sc: Any, src: Any, dst: Any) -> tuple[Any, Any]:
    """The indexes into ``sc.addrs`` of the 16-byte addresses ``src`` and ``dst`` (``V16`` arrays), new ones
    added.  An address is two 64-bit numbers: its upper half (the prefix: a cluster's few) picks a sorted
    table of the lower halves met so far, looked up for every row at once."""
    x = np.concatenate([src, dst]).view(">u8").reshape(-1, 2)
    hi, lo = x[:, 0].astype(np.uint64), x[:, 1].astype(np.uint64)
    out = np.empty(hi.size, np.uint32)
    prefixes, which = np.unique(hi, return_inverse=True)
    if prefixes.size == 1:
        parts: list[tuple[int, Any]] = [(int(prefixes[0]), slice(None))]
    else:
        order = np.argsort(which.reshape(-1), kind="stable")
        bounds = np.searchsorted(which.reshape(-1)[order], np.arange(prefixes.size + 1)).tolist()
        parts = [(h, order[bounds[k] : bounds[k + 1]]) for k, h in enumerate(prefixes.tolist())]
    addrs = sc.addrs
    for h, sel in parts:
        part = lo[sel]
        known, index = sc.ids.get(h, (np.zeros(0, np.uint64), np.zeros(0, np.uint32)))
        at = np.searchsorted(known, part)
        if known.size == 0 or not np.array_equal(known[np.minimum(at, known.size - 1)], part):
            new = np.setdiff1d(part, known)  # sorted, distinct
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
