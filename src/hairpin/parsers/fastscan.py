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
packet has the same fields (the IPv6 flow label and hop limit are not in it).  ``healthy_pairs`` then finds, across
every file analysed together, the handshakes the analyser would count as healthy and forget at once (see
``_Analyser.feed`` in :mod:`hairpin.diagnose.capture`): one SYN and the SYN-ACK from the address it
called, with an ISN no other SYN, SYN-ACK or RST in any file names.  Those are counted without being
decoded; the other plain rows are rebuilt from their columns, the rest decoded by the full decoder,
in the streaming reader's order.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hairpin.model.net import V6
from hairpin.parsers import frames
from hairpin.parsers.fastscan_addrs import addresses, intern
from hairpin.parsers.fastscan_shapes import _LINK, _Bytes, _ends, _protocol, _shapes, _u32
from hairpin.tcp import TCP_TIMEOUT_INIT

__all__ = ["Scan", "Window", "addresses", "by_key", "first_of", "group_rows", "healthy_pairs", "joined", "lone_syns",
           "mark", "named_earlier", "scan_pcap", "widen"]

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
    cols: dict[str, list[Any]] = {k: [] for k in _DTYPES}
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

                _chunk(sc, cols, a, buf, base, o + 16, incl, times, linktype, want, decode, filtered)
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
    for name in _DTYPES:  # one column at a time, its chunks freed as it is joined: memory peaks at one column over
        v = cols.pop(name)
        setattr(sc, name, np.concatenate(v) if v else np.zeros(0, _DTYPES[name]))
        del v
    sc.keep = np.ones(sc.t.size, np.bool_)
    return sc


def _chunk(sc: Scan, cols: dict[str, list[Any]], a: _Bytes, buf: Any, base: int, s: Any, incl: Any,
           times: Callable[[Any], Any], linktype: int, want: int, decode: Callable[[Any, int, int], object],
           filtered: object) -> Any:  # fmt: skip
    """The rows of the frames at ``s`` (``incl`` bytes each; ``times(i)``: the times of frames ``i``) added to
    ``cols``; returns which frames they are."""
    reasons = sc.reasons
    sc.packets += s.size
    if s.size:  # the capture's latest frame so far (``Reader.last_t``), and its earliest (``Reader.first_t``)
        every = times(np.arange(s.size))
        hi, lo = float(every.max()), float(every.min())
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


def widen(spans: dict[Any, list[float]], key: Any, first: float, last: float) -> None:
    """Take ``spans[key]`` (an interface's [earliest, latest] frame time) out to ``first`` and ``last``."""
    span = spans.setdefault(key, [first, last])
    span[0], span[1] = min(span[0], first), max(span[1], last)


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
