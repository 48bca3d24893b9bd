"""The vectorised first pass over a pcapng file: :mod:`hairpin.parsers.fastscan`'s work on frames, after a
walk of Enhanced Packet Blocks without a Python loop.

What it knows (IETF draft-ietf-opsawg-pcapng): blocks are 4-byte aligned, each starts with its type and
total length and ends with the length again; an Enhanced Packet Block (type 6) holds the interface id, the
timestamp's high and low 32 bits, the captured and original lengths, the frame padded to 4 bytes, then
options (``opt_comment`` is code 1); an Interface Description Block (type 1) the link type, then options
(``if_name`` 2, ``if_tsresol`` 9, ``if_tsoffset`` 14).  Read as 32-bit words, the blocks that can be Enhanced Packet Blocks are
found at once (type 6, a length the streaming reader accepts, the trailing length equal, a declared
interface, the frame inside the block); the walk takes them while each is exactly where the previous one
ends, so it is the walk itself.

Scope: one section of Enhanced Packet and Interface Description Blocks, every interface of one link type
``fastscan`` reads; other blocks (statistics, which dumpcap writes at the end of a capture, name
resolution, custom blocks) are skipped as the streaming reader skips them.  A second section, Simple or
obsolete Packet Blocks, several link types, and any block the streaming reader would call truncated or
corrupt give None: the file is then read by the streaming reader alone, so its answer and its words about
damage are always the streaming reader's.  So does a file whose Enhanced Packet Blocks come a few at a time
between other blocks (``_RUN_MIN``): the streaming reader is faster on it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from hairpin.parsers.fastscan import _CHUNK, _DTYPES, _FAST_LINKTYPES, Scan, Window, _chunk, widen
from hairpin.parsers.fastscan_shapes import _Bytes

__all__ = ["scan_pcapng"]

_EPB, _IDB = 6, 1
# runs of Enhanced Packet Blocks: each costs a search of the rest of its chunk and a pass over its frames (about
# 0.25 ms), so a file whose EPBs come between other blocks (a custom block after each) took 100 times the
# streaming reader's time (20 s against 0.2 s for 100,000 packets).  Past _BREAKS runs ended by another block,
# averaging fewer than _RUN_MIN EPBs, the file is left to the streaming reader (a capture's EPBs make one run a
# chunk, ended by the chunk's end; its Interface Description Blocks end a few)
_BREAKS, _RUN_MIN = 64, 64
_BOMS = {b"\x4d\x3c\x2b\x1a": True, b"\x1a\x2b\x3c\x4d": False}  # the byte-order magic as read: little-endian?


def _epb_run(w: Any, k: int, m: int, interfaces: int, max_block: int) -> tuple[Any, int]:
    """The Enhanced Packet Blocks chained from word ``k`` (one there, checked by the caller) within the first
    ``m`` words: their word indexes and the word where the walk goes on."""
    c = np.flatnonzero(w[k : m - 1] == _EPB) + k
    length = w[c + 1].astype(np.int64)
    after = c + length // 4
    ok = (length % 4 == 0) & (length >= 32) & (length <= max_block) & (after <= m)
    ok &= w[np.minimum(after, m) - 1] == length  # the trailing length (for a block past the end: masked above)
    ok &= w[np.minimum(c + 2, m - 1)] < interfaces
    ok &= w[np.minimum(c + 5, m - 1)] <= length - 32  # the frame inside the block
    c, after = c[ok], after[ok]
    if c.size == 0 or c[0] != k:
        return c[:0], k
    stop = np.flatnonzero(after[:-1] != c[1:])  # the first block whose successor is not the next candidate
    j = int(stop[0]) if stop.size else c.size - 1
    return c[: j + 1], int(after[j])


def scan_pcapng(f: Any, want: int, decoder: Callable[[int, str], Callable[[Any, int, int], object]], filtered: object,
                interface: Callable[[bytes, str, int], tuple[str | None, float, float]], max_block: int,
                vxlan: frozenset[int] = frozenset()) -> tuple[Scan, dict[str, Any]] | None:  # fmt: skip
    """Scan the pcapng file ``f`` (at its start).  ``decoder(linktype, endian)`` gives the full decoder of
    frames (as for ``fastscan.scan_pcap``), ``interface(body, endian, index)`` reads an Interface Description Block's
    name, time unit and offset (``hairpin.parsers.pcap_format.interface``).  Returns the
    ``Scan`` (with ``iface`` and ``optlen`` columns: each row's interface and the length of its block's
    options) and what the file declared (``linktype``, ``endian``, ``names`` of the interfaces), or None
    when the file is outside the scope above.  ``vxlan``: the UDP ports the decoder opens as VXLAN."""
    head = f.read(12)
    if len(head) < 12 or head[8:12] not in _BOMS:
        return None
    little = _BOMS[head[8:12]]
    e = "<" if little else ">"
    first = struct.unpack(e + "I", head[4:8])[0]
    if first < 28 or first % 4 or first > max_block:
        return None
    rest = f.read(first - 12)
    if len(rest) < first - 12 or struct.unpack(e + "I", rest[-4:])[0] != first:
        return None
    names: list[str | None] = []
    units: list[float] = []
    shifts: list[float] = []  # each interface's if_tsoffset, in seconds
    linktype = -1
    decode: Callable[[Any, int, int], object] = decoder(0, e)
    sc = Scan(vxlan=vxlan)
    cols: dict[str, list[Any]] = {k: [] for k in _DTYPES}
    extra: dict[str, list[Any]] = {"iface": [], "optlen": []}
    win = Window(f, 2 * _CHUNK, first)  # grown only for a block longer than a chunk
    breaks = 0
    i = 0
    while True:
        got = win.refill(i)
        buf, n, base, i = win.buf, win.n, win.base, 0
        a = _Bytes(buf, n)
        w = np.frombuffer(buf, e + "u4", n // 4)
        while n - i >= 8:
            kind, length = int(w[i // 4]), int(w[i // 4 + 1])
            if length < 12 or length % 4 or length > max_block:
                return None
            if i + length > n:
                break  # read on
            if kind == _EPB:
                if not names:
                    return None
                run, after = _epb_run(w, i // 4, n // 4, len(names), max_block)
                if not run.size:
                    return None
                if after * 4 + 8 <= n and after * 4 + int(w[after + 1]) <= n:  # ended by a block inside the chunk
                    breaks += 1
                    if breaks > _BREAKS and breaks * _RUN_MIN > sc.packets + run.size:  # interleaved: see _RUN_MIN
                        return None
                _rows(sc, cols, extra, a, w, buf, base, run, np.array(units), np.array(shifts), linktype, want, decode,
                      filtered)  # fmt: skip
                i = after * 4
            elif kind == _IDB:
                body = bytes(buf[i + 8 : i + length - 4])
                if len(body) < 8 or int(w[(i + length) // 4 - 1]) != length:
                    return None
                lt = struct.unpack(e + "H", body[:2])[0]
                if lt not in _FAST_LINKTYPES or linktype not in (-1, lt):
                    return None
                name, unit, shift = interface(body, e, len(names))  # as the streaming reader reads them
                if linktype == -1:
                    linktype, decode = lt, decoder(lt, e)
                names.append(name)
                units.append(unit)
                shifts.append(shift)
                i += length
            elif kind in (2, 3, 0x0A0D0D0A) or int(w[(i + length) // 4 - 1]) != length:
                return None  # obsolete or Simple Packet Blocks, a new section, a corrupt block
            else:
                i += length  # statistics, name resolution, custom blocks...: skipped, as the streaming reader does
        if not got:
            if i != n or linktype == -1:
                return None  # cut short, or no interface: the streaming reader says so
            break
    del a, w, buf, win
    for name in list(_DTYPES) + list(extra):
        v = cols.pop(name) if name in cols else extra.pop(name)
        setattr(
            sc,
            name,
            np.concatenate(v) if v else np.zeros(0, np.uint32 if name in ("iface", "optlen") else _DTYPES[name]),
        )
    sc.keep = np.ones(sc.t.size, np.bool_)
    return sc, {"linktype": linktype, "endian": e, "names": names}


def _rows(sc: Scan, cols: dict[str, list[Any]], extra: dict[str, list[Any]], a: _Bytes, w: Any, buf: Any, base: int,
          run: Any, units: Any, shifts: Any, linktype: int, want: int, decode: Callable[[Any, int, int], object],
          filtered: object) -> None:  # fmt: skip
    incl = w[run + 5].astype(np.int64)
    iface = w[run + 2].astype(np.int64)

    def times(idx: Any) -> Any:  # ((high << 32) | low) * the interface's tick + its offset, as the streaming reader
        ticks = (w[run[idx] + 3].astype(np.uint64) << np.uint64(32)) | w[run[idx] + 4].astype(np.uint64)
        return ticks.astype(np.float64) * units[iface[idx]] + shifts[iface[idx]]

    every = times(np.arange(run.size)) if run.size else None
    span = None if every is None else (float(every.min()), float(every.max()))
    idx = _chunk(sc, cols, a, buf, base, run * 4 + 28, incl, times, linktype, want, decode, filtered, span)
    if every is not None:  # each interface's earliest and latest frame (``Reader.spans``): one interface, or a few
        lo, hi = int(iface.min()), int(iface.max())
        for k in (lo,) if lo == hi else np.unique(iface).tolist():
            mine = every if lo == hi else every[iface == k]
            first, last = float(mine.min()), float(mine.max())
            widen(sc.spans, k, first, last)
    length = w[run[idx] + 1].astype(np.int64)
    extra["iface"].append(iface[idx].astype(np.uint32))
    extra["optlen"].append((length - 32 - ((incl[idx] + 3) & ~3)).astype(np.uint32))
