"""A vectorised first pass over a classic pcap file: which frames can be left out of per-frame Python.

What it knows: the capture analyser reads only TCP packets with SYN or RST set.  For frames of the common
shapes (Ethernet with at most one 802.1Q/802.1ad/QinQ tag, Linux cooked v1 and v2, raw IP; IPv4 without
fragmentation and with a whole TCP header, IPv6 with TCP as its first next header), NumPy reads the TCP
flags of every frame of a chunk at once: a TCP packet with neither flag is counted as filtered and never
reaches Python.  The commonest shapes (an untagged IPv4 header of 20 bytes with TCP in it, an untagged
IPv6 header with TCP as next header) are recognised with a few reads per frame; the rest goes through the
general shape test (and tunnels of their commonest shape: :mod:`hairpin.parsers.fastscan_tunnels`), and
every frame of no fast shape (another link type, a tunnel of another shape, an IPv6 extension header, ARP, a
later fragment, a truncated header...) to :func:`hairpin.parsers.frames.decode`, the full decoder, so skip
counts by reason, tunnels and damage reports stay exactly those of the streaming reader.

The record walk (each record's length says where the next one starts) is sequential; it is guessed
without a Python loop (``_guess_walk``) and the guess is used only when it is checked to be the walk
itself, else a tight Python loop walks the chunk.

The result is a ``Scan``: counts, and one row per SYN/RST packet (its byte offset and length to read it
again, its time, and for plain IPv4 and IPv6 the whole TCP packet as columns: addresses, ports, flags,
sequence numbers and where its payload is, plus the analyser's ISN key).  An IPv6 row's addresses are
indexes into the scan's table of the distinct addresses met (``Scan.addrs``; a row's ``v6`` says which
kind of number its ``src`` and ``dst`` are, so an IPv4 address never equals an IPv6 index); the decoder's
packet has the same fields (the IPv6 flow label and hop limit are not in it).  Which rows the analyser would
count without reading them (``healthy_pairs``, ``lone_syns``) is found across every file analysed together
by :mod:`hairpin.parsers.fastscan_groups`; its public names are importable from here too.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hairpin.parsers import frames
from hairpin.parsers.fastscan_addrs import addresses, intern
from hairpin.parsers.fastscan_groups import (
    by_key,
    first_of,
    group_rows,
    healthy_pairs,
    joined,
    lone_syns,
    mark,
    named_earlier,
)
from hairpin.parsers.fastscan_shapes import _LINK, _Bytes, _ends, _protocol, _shapes, _u32

__all__ = ["Scan", "Window", "addresses", "by_key", "first_of", "group_rows", "healthy_pairs", "joined", "lone_syns",
           "mark", "named_earlier", "scan_pcap", "widen"]  # fmt: skip

_CHUNK = 1 << 20
_SYN, _ACK, _RST = 0x02, 0x10, 0x04
# the columns of a Scan, as narrow as their values (a row is 54 bytes)
_DTYPES: dict[str, Any] = {"offset": np.int64, "length": np.uint32, "t": np.float64, "kind": np.int8, "key": np.uint32,
                           "simple": np.bool_, "v6": np.bool_, "src": np.uint32, "sport": np.uint16, "dst": np.uint32, "dport": np.uint16,
                           "flags": np.uint8, "seq": np.uint32, "ack": np.uint32, "pstart": np.uint16, "plen": np.uint32}  # fmt: skip
_FAST_LINKTYPES = (frames.ETHERNET, frames.SLL, frames.SLL2, frames.RAW, frames.IPV4, frames.IPV6)


@dataclass
class Scan:
    """What the first pass found in one file (``rows`` in file order)."""

    packets: int = 0
    filtered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    vxlan: frozenset[int] = frozenset()  # the UDP ports opened as VXLAN (the decoder's), not a column
    damage: tuple[int, str, bool] | None = None  # byte offset, why, corrupt
    last_t: float | None = None  # the latest time of a whole frame (any frame, TCP or not), as the reader's
    first_t: float | None = None  # the earliest time of a frame (any frame), as the reader's ``first_t``
    # pcapng: each interface's (by its index) earliest and latest frame's times, as the reader's ``spans``
    spans: dict[int, list[float]] = field(default_factory=dict)
    offset: Any = None  # int64: byte offset of each SYN/RST frame
    length: Any = None  # its captured length
    t: Any = None  # float64: its time
    kind: Any = None  # int8: 0 SYN, 1 SYN-ACK, 2 RST (the analyser's order of tests)
    key: Any = None  # the ISN the analyser looks the packet up by
    simple: Any = None  # bool: plain IPv4 or IPv6, the columns below are filled
    v6: Any = None  # bool: plain IPv6; its src and dst are indexes into ``addrs``
    src: Any = None  # uint32: an IPv4 address, or (``v6``) an IPv6 address's index
    sport: Any = None
    dst: Any = None
    dport: Any = None
    flags: Any = None  # the TCP flags byte
    seq: Any = None
    ack: Any = None
    pstart: Any = None  # where the TCP payload starts, from the frame's start
    plen: Any = None  # its length (0: none)
    keep: Any = None  # bool: set by healthy_pairs (False: counted, never decoded)
    quiet: Any = None  # bool: rows healthy_pairs left out that open no attempt and close none (views)
    addrs: list[int] = field(default_factory=list)  # the IPv6 addresses of the rows, as ``V6 | address`` ints
    ids: dict[int, tuple[Any, Any]] = field(default_factory=dict)  # by upper 64 bits: (lower 64 bits sorted, index)


class _Column:
    """One column of a classic pcap's SYN/RST rows, chunk after chunk, in one array: when a chunk's rows do not
    fit, it is copied into one as large as the rows the file is expected to hold (``room``, from the share of
    rows in what was read so far) or twice as large, whichever is more.  ``a[:n]`` is the column; the rest of
    ``a`` is never written (so never resident).  Each chunk's arrays joined at the end held and wrote every row
    twice: about 17 ms of CPU and 7,000 page faults of the 0.2 s first pass of a 2,000,000-packet capture."""

    __slots__ = ("a", "n", "room")

    def __init__(self, dtype: Any) -> None:
        self.a, self.n = np.empty(0, dtype), 0
        self.room = 0  # how many rows the column is expected to hold in all

    def append(self, v: Any) -> None:
        """Add the rows ``v``."""
        end = self.n + v.size
        if end > self.a.size:
            try:
                grown = np.empty(max(end, self.room, 2 * self.a.size), self.a.dtype)
            except MemoryError:  # more than the address space allows (a limit, a guess far above the rows to come)
                grown = np.empty(max(end, 2 * self.a.size), self.a.dtype)
            grown[: self.n] = self.a[: self.n]
            self.a = grown
        self.a[self.n : end] = v
        self.n = end


class Window:
    """A read buffer used again and again (the first pass's chunks): what was not consumed moves to its front
    and the next chunk is read after it, into the same memory (grown, as a new buffer, only when what is
    left and a chunk do not fit: a pcapng block longer than a chunk)."""

    def __init__(self, f: Any, size: int, base: int) -> None:
        self.f = f
        self.buf = bytearray(size)
        self.view, self.whole = memoryview(self.buf), np.frombuffer(self.buf, np.uint8)
        self.base = base  # the file offset of buf[0]
        self.n = 0  # bytes of buf that hold the file

    def refill(self, i: int) -> int:
        """Drop the first ``i`` bytes, read the next chunk after the rest; the bytes read (0: the end)."""
        carry = self.n - i
        if carry + _CHUNK > len(self.buf):
            grown = bytearray(carry + _CHUNK)
            grown[:carry] = self.buf[i : self.n]
            self.buf = grown
            self.view, self.whole = memoryview(grown), np.frombuffer(grown, np.uint8)
        elif carry and i:
            self.whole[:carry] = self.whole[i : self.n]
        self.base += i
        got: int = self.f.readinto(self.view[carry : carry + _CHUNK])
        self.n = carry + got
        return got


def _guess_walk(a: _Bytes, i: int, little: bool, frac_max: int = 1 << 32,
                incl_max: int = 1 << 20) -> tuple[Any, Any, int] | None:  # fmt: skip
    """The record walk from ``i`` without a Python loop, or None: (offsets, captured lengths, where the walk
    goes on).  Guess: record headers are where the timestamp's top byte equals the first record's, the
    fraction of a second is below ``frac_max`` and the lengths are plausible; drop guesses no other guess
    (nor ``i``) leads to; then check that the guesses are exactly the chain from ``i``, each the previous
    one plus 16 plus its captured length, and that the last one leads past the chunk's last full header.
    Only a chain so checked is returned, so it is the walk itself; anything else falls back."""
    n = a.size
    if n - i < 16:
        return None
    top = i + (3 if little else 0)
    cand = np.flatnonzero(a.u8[top : n - 16 + (3 if little else 0) + 1] == a.u8[top]) + i
    if cand.size > (n - i) // 16 * 4:
        return None
    # each candidate's 16 bytes in one gather, then its four fields as contiguous columns
    h = np.ndarray((n - 15,), "V16", a.u8, 0, (1,))[cand].view("<u4" if little else ">u4").reshape(-1, 4)
    incl = h[:, 2]
    # and the seconds within the first record's 65,536-second span or the next one (a byte of the header
    # that only looks like a record's seems a record of weeks away: one left in costs a second round below)
    span = (h[:, 0] >> 16) - (h[0, 0] >> 16)
    ok = (h[:, 1] < frac_max) & (incl <= h[:, 3]) & (incl <= incl_max) & (span <= 1)
    if ok.all():
        incl = incl.astype(np.int64)
    else:
        cand, incl = cand[ok], incl[ok].astype(np.int64)
    for _ in range(8):
        if cand.size == 0 or cand[0] != i:
            return None
        succ = cand + 16 + incl
        if np.array_equal(succ[:-1], cand[1:]):
            return (cand, incl, int(succ[-1])) if succ[-1] > n - 16 else None
        mark = np.zeros(n + 1, np.bool_)
        mark[np.minimum(succ, n)] = True
        led = mark[cand]
        led[0] = True
        if led.all():
            return None
        cand, incl = cand[led], incl[led]
    return None


def scan_pcap(f: Any, base: int, little: bool, unit: float, linktype: int, want: int,
              decode: Callable[[Any, int, int], object], filtered: object, snaplen_max: int,
              vxlan: frozenset[int] = frozenset()) -> Scan | None:  # fmt: skip
    """Scan the classic pcap records of ``f`` (positioned at byte ``base``, after the file header).
    ``decode(chunk, start, end)`` is the full decoder (a ``Packet``, a skip reason, or ``filtered``), and
    ``vxlan`` the UDP ports it opens as VXLAN; None when the link type has no fast path."""
    if linktype not in _FAST_LINKTYPES:
        return None
    sc = Scan(vxlan=vxlan)
    cols: dict[str, Any] = {k: _Column(_DTYPES[k]) for k in _DTYPES}
    st = os.fstat(f.fileno())
    size = st.st_size if stat.S_ISREG(st.st_mode) else 0  # the file's bytes, to foresee its rows
    hdr = struct.Struct(("<" if little else ">") + "I").unpack_from
    frac_max = 1_000_000 if unit > 1e-7 else 1_000_000_000  # microseconds or nanoseconds: only a guess's filter
    win = Window(f, _CHUNK + snaplen_max + 16, base)  # a record cut by a chunk's end fits: never grown
    i = 0
    while True:
        got = win.refill(i)
        buf, n, base, i = win.buf, win.n, win.base, 0
        stop: tuple[int, str, bool] | None = None
        a = _Bytes(buf, n)
        guess = _guess_walk(a, i, little, frac_max, snaplen_max)
        if guess is not None:  # a chain of lengths at most snaplen_max, each record ending where the next starts
            o, incl, i = guess
            last = o.size - 1  # so only the last can end past the chunk: the test below, for it alone
            bad = np.arange(last, last + 1) if o.size and o[last] + 16 + incl[last] > n else np.zeros(0, np.int64)
        else:
            starts: list[int] = []
            push = starts.append
            last = n - 16
            while i <= last:  # the walk; lengths are checked below, all at once
                push(i)
                i += 16 + hdr(buf, i + 8)[0]
            o = np.array(starts, dtype=np.int64)
            incl = _u32(a, o + 8, little)
            bad = np.flatnonzero((incl > snaplen_max) | (o + 16 + incl > n))
        if o.size:
            if bad.size:
                k = int(bad[0])
                i = int(o[k])
                if incl[k] > snaplen_max:
                    stop = (base + i, f"corrupt record header (captured length {int(incl[k])})", True)
                o, incl = o[:k], incl[:k]
            if o.size:

                def times(idx: Any, o: Any = o, a: _Bytes = a) -> Any:
                    x = (a.le64 if little else a.be64)[o[idx]]  # seconds and fraction in one read (whole headers)
                    sec, frac = (x & 0xFFFFFFFF, x >> 32) if little else (x >> 32, x & 0xFFFFFFFF)
                    return sec.astype(np.float64) + frac.astype(np.float64) * unit

                span = _span((a.le64 if little else a.be64)[o], little, unit)
                _chunk(sc, cols, a, buf, base, o + 16, incl, times, linktype, want, decode, filtered, span)
                rows = cols["t"].n
                if rows and size > base + i:  # the rows the file holds if the rest is like what was read (and a fourth)
                    room = min(rows * size // (base + i) * 5 // 4 + 1024, size // 16 + 1)
                    for c in cols.values():
                        c.room = room
        if stop is not None:
            sc.damage = stop
            break
        if not got:
            avail = n - i
            if avail >= 16:
                sc.damage = (base + i, f"truncated packet ({avail - 16} of {hdr(buf, i + 8)[0]} bytes)", False)
            elif avail:
                sc.damage = (base + i, "truncated record header", False)
            break
    del a, buf, win
    for name, c in cols.items():
        setattr(sc, name, c.a[: c.n])
    sc.keep = np.ones(sc.t.size, np.bool_)
    return sc


def _span(x: Any, little: bool, unit: float) -> tuple[float, float]:
    """The earliest and latest time of classic pcap records whose headers' first 8 bytes are ``x`` (unsigned
    64-bit, read in the file's byte order), each as ``times`` makes it (seconds + fraction x unit).  When every
    fraction is below a second (1,000,000 microseconds, 10^9 nanoseconds), that time never decreases as
    (seconds, fraction) grows (the fraction's part is below 1, and rounding is monotonic), so the earliest and
    latest are those of the smallest and largest (seconds, fraction), found as integers; otherwise every time
    is made and compared."""
    key = (x << np.uint64(32)) | (x >> np.uint64(32)) if little else x  # seconds in the high half
    frac = key & np.uint64(0xFFFFFFFF)
    if int(frac.max()) < round(1 / unit):
        lo, hi = int(key.min()), int(key.max())
        return float(lo >> 32) + float(lo & 0xFFFFFFFF) * unit, float(hi >> 32) + float(hi & 0xFFFFFFFF) * unit
    every = (key >> np.uint64(32)).astype(np.float64) + frac.astype(np.float64) * unit
    return float(every.min()), float(every.max())


def _chunk(sc: Scan, cols: dict[str, list[Any]], a: _Bytes, buf: Any, base: int, s: Any, incl: Any,
           times: Callable[[Any], Any], linktype: int, want: int, decode: Callable[[Any, int, int], object],
           filtered: object, span: tuple[float, float] | None = None) -> Any:  # fmt: skip
    """The rows of the frames at ``s`` (``incl`` bytes each; ``times(i)``: the times of frames ``i``; ``span``:
    the earliest and latest of them, when the caller knows) added to ``cols``; returns which frames they are."""
    reasons = sc.reasons
    sc.packets += s.size
    if s.size:  # the capture's latest frame so far (``Reader.last_t``), and its earliest (``Reader.first_t``)
        if span is None:
            every = times(np.arange(s.size))
            span = float(every.min()), float(every.max())
        lo, hi = span
        sc.last_t = hi if sc.last_t is None else max(sc.last_t, hi)
        sc.first_t = lo if sc.first_t is None else min(sc.first_t, lo)
    end = s + incl
    v4, v6, tcp, ip, bound = _shapes(a, s, end, incl, linktype, sc.vxlan)
    flags = a.u8[tcp + 13]
    plain = v4 if v6 is None else v4 | v6
    other, skipped = ~plain, 0
    if linktype in _LINK and a.size >= 64:  # UDP, ICMP, ARP...: counted as the decoder would, not decoded
        rest = np.flatnonzero(other)
        if rest.size:
            gone = rest[_protocol(a, s[rest], end[rest], incl[rest], linktype, sc.vxlan)]
            if gone.size:
                skipped = int(gone.size)
                reasons[frames.PROTOCOL] = reasons.get(frames.PROTOCOL, 0) + skipped
                other[gone] = False
    # every other frame left out is a plain TCP packet without the flags wanted
    idx = np.flatnonzero(other | (plain & ((flags & want) != 0)))
    sc.filtered += s.size - idx.size - skipped
    simple = v4[idx] if v6 is None else plain[idx]
    six = None if v6 is None else v6[idx]  # the plain-IPv6 rows (all simple)
    t = times(idx)
    keep = np.ones(idx.size, np.bool_)
    key = np.zeros(idx.size, np.int64)
    fl = flags[idx].astype(np.int64)
    for j in np.flatnonzero(~simple).tolist():  # the full decoder, one frame at a time
        k = int(idx[j])
        p: Any = decode(buf, int(s[k]), int(end[k]))
        if p.__class__ is str:
            reasons[p] = reasons.get(p, 0) + 1
            keep[j] = False
        elif p is filtered:
            sc.filtered += 1
            keep[j] = False
        else:
            fl[j] = int(p.flags)
            key[j] = p.seq if fl[j] & _SYN and not fl[j] & _ACK else p.ack - 1 if fl[j] & (_SYN | _ACK) else p.seq - 1
    if not keep.all():
        idx, t, fl, key, simple = idx[keep], t[keep], fl[keep], key[keep], simple[keep]
        six = None if six is None else six[keep]
    if six is not None and not six.any():
        six = None
    kind = np.where((fl & _SYN) != 0, np.where((fl & _ACK) != 0, 1, 0), 2)
    th, sr, er = tcp[idx], s[idx], bound[idx]  # er: where the IP packet is bounded (the decoder's end for it)
    ipr = np.minimum(ip[idx], a.size - 20)
    # the first 16 bytes of each TCP header and the first 20 of each IP header in one read each (unsigned 64- and
    # 32-bit numbers): tcp and ip are at least 20 bytes before the chunk's end (_shapes), so both are inside it
    h = a.v16[th].view(">u8").reshape(-1, 2)
    ports, x = h[:, 0] >> 32, h[:, 0] & 0xFFFFFFFF
    seq, ack, offset = x, h[:, 1] >> 32, (h[:, 1] >> 28) & 15
    sport, dport = ports >> 16, ports & 0xFFFF
    fast_key = np.where(kind == 0, seq, np.where((kind == 1) | ((fl & _ACK) != 0), ack - 1, seq - 1)) & 0xFFFFFFFF
    every = bool(simple.all())  # the common case: every row plain, no np.where(simple, ...) needed
    key = fast_key if every else np.where(simple, fast_key.astype(np.int64), key & 0xFFFFFFFF)
    g = a.v20[ipr].view(">u4").reshape(-1, 5)
    src, dst = g[:, 3], g[:, 4]
    total = (g[:, 0] & 0xFFFF).astype(np.int64)
    stop = _ends(er, ipr, total)  # the IP packet's end, as the decoder takes it
    if six is not None:  # IPv6 rows: 40 bytes of IP header inside the frame (_classify), so ipr is the header
        r6 = np.flatnonzero(six)
        i6 = ipr[r6]
        pl = (g[r6, 1] >> 16).astype(np.int64)  # the payload length (0: a jumbogram or offload, the frame's end)
        stop[r6] = _ends(er[r6], i6 + 40, pl)
        src, dst = src.copy(), dst.copy()
        src[r6], dst[r6] = intern(sc, a.v16[i6 + 8], a.v16[i6 + 24])
    pstart = th + offset.astype(np.int64) * 4
    plen = np.maximum(stop - pstart, 0)
    if not every:
        plen = np.where(simple, plen, 0)
    col = {"offset": base + sr, "length": incl[idx], "t": t, "kind": kind, "key": key, "simple": simple,
           "v6": np.zeros(idx.size, np.bool_) if six is None else six, "src": src, "dst": dst, "sport": sport, "dport": dport,
           "flags": fl, "seq": seq, "ack": ack, "pstart": np.where(plen > 0, pstart - sr, 0), "plen": plen}  # fmt: skip
    for name, v in col.items():
        if not every and name not in ("offset", "length", "t", "kind", "key", "simple", "v6"):
            v = np.where(simple, v, 0)
        cols[name].append(np.asarray(v).astype(_DTYPES[name], copy=False))
    return idx


def widen(spans: dict[Any, list[float]], key: Any, first: float, last: float) -> None:
    """Take ``spans[key]`` (an interface's [earliest, latest] frame time) out to ``first`` and ``last``."""
    span = spans.setdefault(key, [first, last])
    span[0], span[1] = min(span[0], first), max(span[1], last)
