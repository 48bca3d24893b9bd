"""A vectorised first pass over a classic pcap file: which frames can be left out of per-frame Python.

What it knows: the capture analyser reads only TCP packets with SYN or RST set.  For frames of the common
shapes (Ethernet with at most one 802.1Q/802.1ad/QinQ tag, Linux cooked v1 and v2, raw IP; IPv4 without
fragmentation and with a whole TCP header, IPv6 with TCP as its first next header), NumPy reads the TCP
flags of every frame of a chunk at once: a TCP packet with neither flag is counted as filtered and never
reaches Python.  Every other frame (another link type, a tunnel, an IPv6 extension header, ARP, a later
fragment, a truncated header...) goes to :func:`hairpin.parsers.frames.decode`, the full decoder, so skip
counts by reason, tunnels and damage reports stay exactly those of the streaming reader.  The record walk
itself (each record's length says where the next one starts) is sequential and stays a tight Python loop.

The result is a ``Scan``: counts, and one row per SYN/RST packet (its byte offset and length to read it
again, its time, and for plain IPv4 its addresses, ports and the analyser's ISN key).  ``healthy_pairs``
then finds, across every file analysed together, the handshakes the analyser would count as healthy and
forget at once (see ``_Analyser.feed`` in :mod:`hairpin.diagnose.capture`): one SYN and the SYN-ACK from
the address it called, with an ISN no other SYN, SYN-ACK or RST in any file names.  Those are counted
without being decoded; every other row is decoded by the full decoder, in the streaming reader's order.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hairpin.parsers import frames

__all__ = ["Scan", "healthy_pairs", "scan_pcap"]

_CHUNK = 1 << 23
_SYN, _ACK, _RST = 0x02, 0x10, 0x04
# the columns of a Scan, as narrow as their values (a row is 38 bytes)
_DTYPES: dict[str, Any] = {"offset": np.int64, "length": np.uint32, "t": np.float64, "kind": np.int8, "key": np.uint32,
                           "simple": np.bool_, "src": np.uint32, "sport": np.uint16, "dst": np.uint32, "dport": np.uint16}  # fmt: skip
_FAST_LINKTYPES = (frames.ETHERNET, frames.SLL, frames.SLL2, frames.RAW, frames.IPV4, frames.IPV6)


@dataclass
class Scan:
    """What the first pass found in one file (``rows`` in file order)."""

    packets: int = 0
    filtered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    damage: tuple[int, str, bool] | None = None  # byte offset, why, corrupt
    offset: Any = None  # int64: byte offset of each SYN/RST frame
    length: Any = None  # int64: its captured length
    t: Any = None  # float64: its time
    kind: Any = None  # int8: 0 SYN, 1 SYN-ACK, 2 RST (the analyser's order of tests)
    key: Any = None  # int64: the ISN the analyser looks the packet up by
    simple: Any = None  # bool: plain IPv4, the columns below are filled
    src: Any = None
    sport: Any = None
    dst: Any = None
    dport: Any = None
    keep: Any = None  # bool: set by healthy_pairs (False: counted, never decoded)


class _Bytes:
    """A chunk read as unsigned integers at any byte offset: views with a one-byte stride (unaligned reads),
    so a field of every frame is one gather."""

    def __init__(self, buf: bytes) -> None:
        self.u8 = np.frombuffer(buf, np.uint8)
        self.size = self.u8.size
        m = max(self.size - 1, 0)
        self.be16 = np.ndarray((m,), ">u2", buf, 0, (1,)) if m else np.zeros(0, ">u2")
        m = max(self.size - 3, 0)
        self.be32 = np.ndarray((m,), ">u4", buf, 0, (1,)) if m else np.zeros(0, ">u4")
        self.le32 = np.ndarray((m,), "<u4", buf, 0, (1,)) if m else np.zeros(0, "<u4")

    def __getitem__(self, i: Any) -> Any:
        return self.u8[i]


def _u16(a: _Bytes, i: Any) -> Any:
    return a.be16[np.minimum(i, a.be16.size - 1)].astype(np.int64)


def _u32be(a: _Bytes, i: Any) -> Any:
    return a.be32[np.minimum(i, a.be32.size - 1)].astype(np.int64)


def _u32(a: _Bytes, i: Any, little: bool) -> Any:
    return (a.le32 if little else a.be32)[np.minimum(i, a.be32.size - 1)].astype(np.int64)


def _classify(a: _Bytes, s: Any, end: Any, linktype: int) -> tuple[Any, Any, Any]:
    """For frames starting at ``s`` and ending at ``end``: (plain IPv4 TCP, plain IPv6 TCP, TCP header offset)."""
    n = a.size - 1

    def cl(i: Any) -> Any:  # indexes past a frame are masked out below
        return np.minimum(i, n)

    incl = end - s
    if linktype in (frames.ETHERNET, frames.SLL, frames.SLL2):
        head, at = {frames.ETHERNET: (14, 12), frames.SLL: (16, 14), frames.SLL2: (20, 0)}[linktype]
        ok = incl >= head
        etype = _u16(a, cl(s + at))
        off = s + head
        tagged = ok & ((etype == 0x8100) | (etype == 0x88A8) | (etype == 0x9100)) & (end - off >= 4)
        etype = np.where(tagged, _u16(a, cl(off + 2)), etype)
        off = np.where(tagged, off + 4, off)
        v4 = ok & (etype == 0x0800)
        v6 = ok & (etype == 0x86DD)
    else:
        off = s
        ok = incl >= 1
        nib = a[cl(s)] >> 4
        v4 = ok & (nib == 4) & (linktype != frames.IPV6)
        v6 = ok & (nib == 6) & (linktype != frames.IPV4)
    v4 &= end - off >= 20
    v6 &= end - off >= 40
    b0 = a[cl(off)].astype(np.int64)
    ihl = (b0 & 15) * 4
    total = _u16(a, cl(off + 2))
    stop4 = np.where(total > 0, np.minimum(end, off + total), end)
    v4 &= (
        ((b0 >> 4) == 4) & (ihl >= 20) & ((a[cl(off + 6)] & 0x1F) == 0) & (a[cl(off + 7)] == 0) & (a[cl(off + 9)] == 6)
    )
    v4 &= stop4 - (off + ihl) >= 20
    plen = _u16(a, cl(off + 4))
    stop6 = np.where(plen > 0, np.minimum(end, off + 40 + plen), end)
    v6 &= ((b0 >> 4) == 6) & (a[cl(off + 6)] == 6) & (stop6 - (off + 40) >= 20)
    tcp = np.where(v4, off + ihl, off + 40)
    return v4, v6, tcp


def _guess_walk(a: _Bytes, i: int, little: bool) -> tuple[Any, int] | None:
    """The record walk from ``i`` without a Python loop, or None.  Guess: record headers are where the
    timestamp's top byte equals the first record's and the lengths are plausible; drop guesses no other
    guess (nor ``i``) leads to; then check that the guesses are exactly the chain from ``i``, each the
    previous one plus 16 plus its captured length, and that the last one leads past the chunk's last full
    header.  Only a chain so checked is returned, so it is the walk itself; anything else falls back."""
    n = a.size
    top = i + (3 if little else 0)
    cand = np.flatnonzero(a.u8[top : n - 16 + (3 if little else 0) + 1] == a.u8[top]) + i
    if cand.size == 0 or cand.size > (n - i) // 16 * 4:
        return None
    le = a.le32 if little else a.be32
    incl = le[cand + 8].astype(np.int64)
    cand = cand[(incl <= le[cand + 12]) & (incl < (1 << 20))]
    for _ in range(8):
        if cand.size == 0 or cand[0] != i:
            return None
        succ = cand + 16 + le[cand + 8].astype(np.int64)
        if np.array_equal(succ[:-1], cand[1:]):
            return (cand, int(succ[-1])) if succ[-1] > n - 16 else None
        mark = np.zeros(n + 1, np.bool_)
        mark[np.minimum(succ, n)] = True
        led = mark[cand]
        led[0] = True
        if led.all():
            return None
        cand = cand[led]
    return None


def scan_pcap(f: Any, base: int, little: bool, unit: float, linktype: int, want: int,
              decode: Callable[[bytes, int, int], object], filtered: object, snaplen_max: int) -> Scan | None:  # fmt: skip
    """Scan the classic pcap records of ``f`` (positioned at byte ``base``, after the file header).
    ``decode(chunk, start, end)`` is the full decoder (a ``Packet``, a skip reason, or ``filtered``);
    None when the link type has no fast path."""
    if linktype not in _FAST_LINKTYPES:
        return None
    sc = Scan()
    cols: dict[str, list[Any]] = {k: [] for k in ("offset", "length", "t", "kind", "key", "simple", "src", "sport",
                                                  "dst", "dport")}  # fmt: skip
    hdr = struct.Struct(("<" if little else ">") + "I").unpack_from
    buf = b""
    i = 0
    while True:
        more = f.read(_CHUNK)
        buf = buf[i:] + more
        base += i
        i = 0
        n = len(buf)
        stop: tuple[int, str, bool] | None = None
        a = _Bytes(buf)
        guess = _guess_walk(a, i, little) if n - i >= 16 else None
        if guess is not None:
            o, i = guess
        else:
            starts: list[int] = []
            push = starts.append
            last = n - 16
            while i <= last:  # the walk; lengths are checked below, all at once
                push(i)
                i += 16 + hdr(buf, i + 8)[0]
            o = np.array(starts, dtype=np.int64)
        if o.size:
            incl = _u32(a, o + 8, little)
            bad = np.flatnonzero((incl > snaplen_max) | (o + 16 + incl > n))
            if bad.size:
                k = int(bad[0])
                i = int(o[k])
                if incl[k] > snaplen_max:
                    stop = (base + i, f"corrupt record header (captured length {int(incl[k])})", True)
                o = o[:k]
            if o.size:
                _chunk(sc, cols, buf, base, o, little, unit, linktype, want, decode, filtered)
        if stop is not None:
            sc.damage = stop
            break
        if not more:
            avail = n - i
            if avail >= 16:
                sc.damage = (base + i, f"truncated packet ({avail - 16} of {hdr(buf, i + 8)[0]} bytes)", False)
            elif avail:
                sc.damage = (base + i, "truncated record header", False)
            break
    for name, v in cols.items():
        setattr(sc, name, np.concatenate(v) if v else np.zeros(0, _DTYPES[name]))
    sc.keep = np.ones(sc.t.size, np.bool_)
    return sc


def _chunk(sc: Scan, cols: dict[str, list[Any]], buf: bytes, base: int, o: Any, little: bool, unit: float,
           linktype: int, want: int, decode: Callable[[bytes, int, int], object], filtered: object) -> None:  # fmt: skip
    a = _Bytes(buf)
    reasons = sc.reasons
    sc.packets += o.size
    incl = _u32(a, o + 8, little)
    s = o + 16
    end = s + incl
    v4, v6, tcp = _classify(a, s, end, linktype)
    flags = a[np.minimum(tcp + 13, a.size - 1)].astype(np.int64)
    plain = v4 | v6
    hit = (flags & want) != 0
    sc.filtered += int(np.count_nonzero(plain & ~hit))
    simple = v4 & hit
    slow = ~plain | (v6 & hit)
    rows = simple | slow
    idx = np.flatnonzero(rows)
    t = _u32(a, o[idx], little).astype(np.float64) + _u32(a, o[idx] + 4, little).astype(np.float64) * unit
    keep = np.ones(idx.size, np.bool_)
    key = np.zeros(idx.size, np.int64)
    fl = flags[idx]
    for j in np.flatnonzero(slow[idx]).tolist():  # the full decoder, one frame at a time
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
    idx, t, fl, key = idx[keep], t[keep], fl[keep], key[keep]
    kind = np.where((fl & _SYN) != 0, np.where((fl & _ACK) != 0, 1, 0), 2)
    th = tcp[idx]
    seq, ack = _u32be(a, np.minimum(th + 4, a.size - 4)), _u32be(a, np.minimum(th + 8, a.size - 4))
    simple_rows = simple[idx]
    fast_key = np.where(kind == 0, seq, np.where((kind == 1) | ((fl & _ACK) != 0), ack - 1, seq - 1)) & 0xFFFFFFFF
    key = np.where(simple_rows, fast_key, key & 0xFFFFFFFF)
    off = _ip_offset(a, s[idx], end[idx], linktype)
    cols["offset"].append(np.asarray(base + s[idx]).astype(_DTYPES["offset"]))
    cols["length"].append(np.asarray(incl[idx]).astype(_DTYPES["length"]))
    cols["t"].append(np.asarray(t).astype(_DTYPES["t"]))
    cols["kind"].append(np.asarray(kind).astype(_DTYPES["kind"]))
    cols["key"].append(np.asarray(key).astype(_DTYPES["key"]))
    cols["simple"].append(np.asarray(simple_rows).astype(_DTYPES["simple"]))
    cols["src"].append(np.asarray(np.where(simple_rows, _u32be(a, np.minimum(off + 12, a.size - 4)), 0)).astype(_DTYPES["src"]))
    cols["dst"].append(np.asarray(np.where(simple_rows, _u32be(a, np.minimum(off + 16, a.size - 4)), 0)).astype(_DTYPES["dst"]))
    cols["sport"].append(np.asarray(np.where(simple_rows, _u16(a, np.minimum(th, a.size - 2)), 0)).astype(_DTYPES["sport"]))
    cols["dport"].append(np.asarray(np.where(simple_rows, _u16(a, np.minimum(th + 2, a.size - 2)), 0)).astype(_DTYPES["dport"]))


def _ip_offset(a: _Bytes, s: Any, end: Any, linktype: int) -> Any:
    """The IP header's offset for frames ``_classify`` found plain (same rules)."""
    n = a.size - 1
    if linktype not in (frames.ETHERNET, frames.SLL, frames.SLL2):
        return s
    head, at = {frames.ETHERNET: (14, 12), frames.SLL: (16, 14), frames.SLL2: (20, 0)}[linktype]
    etype = _u16(a, np.minimum(s + at, n))
    off = s + head
    tagged = ((etype == 0x8100) | (etype == 0x88A8) | (etype == 0x9100)) & (end - off >= 4)
    return np.where(tagged, off + 4, off)


def healthy_pairs(scans: list[Scan]) -> tuple[int, float]:
    """Mark (``keep`` False) the handshakes the analyser would count healthy and forget at once, across
    all ``scans`` read together: a plain-IPv4 SYN and, after it in the merged order (time, file, position)
    and less than 130 s later, a SYN-ACK from the address and port it called to its source, their ISN
    named by no other SYN, SYN-ACK or RST in any file.  Returns how many, and the latest time among them."""
    if not scans:
        return 0, float("-inf")
    key = np.concatenate([s.key for s in scans])
    if key.size == 0:
        return 0, float("-inf")
    fileno = np.concatenate([np.full(s.key.size, n, np.int64) for n, s in enumerate(scans)])
    pos = np.concatenate([np.arange(s.key.size, dtype=np.int64) for s in scans])
    t = np.concatenate([s.t for s in scans])
    order = np.lexsort((pos, fileno, t, key))
    k = key[order]
    first = np.ones(k.size, np.bool_)
    first[1:] = k[1:] != k[:-1]
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, k.size))
    a = order[starts[counts == 2]]
    b = order[starts[counts == 2] + 1]
    col = {
        c: np.concatenate([getattr(s, c) for s in scans]) for c in ("kind", "simple", "src", "sport", "dst", "dport")
    }
    ok = (col["kind"][a] == 0) & (col["kind"][b] == 1) & col["simple"][a] & col["simple"][b]
    ok &= (col["src"][b] == col["dst"][a]) & (col["sport"][b] == col["dport"][a])
    ok &= (col["dst"][b] == col["src"][a]) & (col["dport"][b] == col["sport"][a])
    ok &= (t[b] - t[a]) < 130.0
    gone = np.concatenate([a[ok], b[ok]])
    bounds = np.cumsum([0] + [s.key.size for s in scans])
    for n, s in enumerate(scans):
        mine = gone[(gone >= bounds[n]) & (gone < bounds[n + 1])] - bounds[n]
        s.keep[mine] = False
    latest = float(t[gone].max()) if gone.size else float("-inf")
    return int(np.count_nonzero(ok)), latest
