"""Captures in: pcap and pcapng files (or a live stream), read as a stream of TCP packets, or rebuilt from
the rows of a vectorised first pass.

What it knows (file formats from IETF draft-ietf-opsawg-pcap and draft-ietf-opsawg-pcapng):

- classic pcap: magic ``a1b2c3d4`` (microseconds) or ``a1b23c4d`` (nanoseconds), either byte order; a
  24-byte file header with the link type, then 16-byte record headers;
- pcapng: Section Header (``0a0d0d0a``, byte-order magic ``1a2b3c4d``, at least 28 bytes), Interface
  Description (link type, ``if_name`` option 2, ``if_tsresol`` option 9, ``if_tsoffset`` option 14: seconds
  added to every timestamp of the interface; 8 bytes of fixed fields),
  Enhanced Packet (20 bytes of fixed fields, ``opt_comment`` option 1), Simple Packet (4) and the
  obsolete Packet block (20); other blocks are skipped.  Every block length is checked against
  ``MAX_BLOCK`` before anything is read, and every block body against its fixed fields, so a crafted
  block is one ``error`` naming the byte offset, never an exception or an unbounded read;
- the frames inside (link types, IPv4/IPv6, tunnels): :mod:`hairpin.parsers.frames`.

``read(path)`` returns a ``Reader``: iterate it for ``PacketRecord``s (TCP only; every other frame is
counted in ``reasons`` by why it was skipped).  It streams, holding one record at a time; ``path`` ``-``
reads standard input as it arrives (``tcpdump -w - -U | ...``).  Where reading stopped early,
``Reader.damage`` says where (byte offset, packet number) and why; ``Reader.corrupt`` is true when the
cause is a malformed structure rather than a file cut short (a capture still being written, or a killed
tcpdump).  A file that is not a capture at all raises ``ParseError`` naming the file.

``PacketRecord``, the formats' magic numbers and limits, the Interface Description options and the writers
(``write_pcapng``, ``write_pcap``) live in :mod:`hairpin.parsers.pcap_format`; they are importable from here
too.
"""

from __future__ import annotations

import io
import os
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from hairpin.errors import ParseError
from hairpin.model.net import Flags, Packet
from hairpin.parsers import frames
from hairpin.parsers.frames import VXLAN_PORTS, decode, frame
from hairpin.parsers.pcap_format import (
    _FIXED,
    _PCAP_MAGIC,
    _SHB,
    MAGICS,
    MAX_BLOCK,
    SNAPLEN,
    PacketRecord,
    _options,
    interface,
    write_pcap,
    write_pcapng,
)

ETHERNET, IPV4, IPV6, LOOP, NFLOG, NULL, RAW, SLL, SLL2 = (frames.ETHERNET, frames.IPV4, frames.IPV6, frames.LOOP,
                                                          frames.NFLOG, frames.NULL, frames.RAW, frames.SLL,
                                                          frames.SLL2)  # fmt: skip
LINKTYPES = frames.LINKTYPES

__all__ = [
    "ETHERNET", "IPV4", "IPV6", "LINKTYPES", "LOOP", "MAGICS", "MAX_BLOCK", "NFLOG", "NULL", "RAW", "RAW_IPV4", "SLL",
    "SLL2", "PacketRecord", "Reader", "frame", "read", "write_pcap", "write_pcapng",
]  # fmt: skip

RAW_IPV4 = IPV4

_FILTERED = Packet(0, 0, 0, 0)  # a TCP packet the reader was asked not to decode
_FLAGS = tuple(Flags(i) for i in range(64))  # every value of the six flag bits, built once
_CHUNK = 1 << 22
_BATCH = 4096  # rows of a first pass rebuilt at a time


def _setters(cls: type, names: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The slot setters of ``cls`` when it is a slots dataclass whose fields are exactly ``names``, with the
    ``__init__`` dataclasses generates (it sets each field, through ``object.__setattr__`` when frozen), or
    a hand-written one the class declares does only that (``SLOT_INIT_ONLY``), and no ``__post_init__``: ``object.__new__(cls)`` and one setter a field then build the same instance for
    about half the cost of calling ``cls`` (0.44 us against 0.86 us for a ``Packet``).  None otherwise."""
    import dataclasses

    if (not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__")
            or tuple(f.name for f in dataclasses.fields(cls)) != names
            or getattr(cls.__init__, "__code__", None) is None
            or (cls.__init__.__code__.co_filename != "<string>"  # not generated, and not declared plain either
                and not cls.__dict__.get("SLOT_INIT_ONLY", False))):  # fmt: skip
        return None
    return tuple(cls.__dict__[n].__set__ for n in names)


_PACKET_SET = _setters(Packet, ("src", "sport", "dst", "dport", "flags", "seq", "ack", "proto", "payload"))
_RECORD_SET = _setters(PacketRecord, ("t", "interface", "packet", "comment"))


class _Prefixed(io.RawIOBase):
    """A raw stream that first gives back bytes already read from it (the magic number)."""

    def __init__(self, head: bytes, fd: int) -> None:
        self.head, self.fd = head, fd

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = os.read(self.fd, len(b))
        b[: len(data)] = data
        return len(data)


class Reader:
    """A streaming reader of one capture.  Iterate it once for ``PacketRecord``s; afterwards ``packets``
    counts every frame read, ``reasons`` the frames skipped by reason (``frames.REASONS``), ``damage``
    says where and why reading stopped early (None when it was read to its end), ``corrupt`` whether
    that was a malformed structure, and ``linktypes`` lists the link types seen.  ``want``: decode only
    TCP packets with one of these flag bits (the others are counted in ``filtered``; 0, the default,
    decodes all); the analyser only needs SYNs and RSTs, and skipping the data segments is most of its
    speed.  ``vxlan``: the UDP ports opened as VXLAN."""

    def __init__(self, path: str | Path, want: int = 0, vxlan: frozenset[int] = VXLAN_PORTS) -> None:
        self.path = str(path)
        self.want = want
        self.vxlan = vxlan
        self.filtered = 0
        self.packets = 0
        self.reasons: dict[str, int] = {}
        self.damage: str | None = None
        self.corrupt = False
        # the latest and the earliest time among the whole frames read (any frame, TCP or not): a file out of time
        # order (merged by hand, a clock stepped back, tcpdump's CPUs) ends at its latest frame, not its last one
        self.last_t: float | None = None
        self.first_t: float | None = None
        # pcapng: each interface's (by name) earliest and latest frame read, [earliest, latest] (``spans``)
        self._spans: dict[str | None, list[float]] = {}
        # whether the spans are the whole file's: it was read to its end (or to where it stops, damaged), or its
        # first pass (``scan``) was, which reads every frame; until then they grow as frames are read
        self.done = False
        self.linktypes: set[int] = set()
        self.format = ""
        self._stream: BinaryIO | None = None
        self._scan: Any = None  # fastscan.Scan once scan() ran
        self._how = (ETHERNET, "<")
        self._names: list[str | None] | None = None  # a pcapng scan's interface names
        if self.path == "-":
            fd = sys.stdin.fileno()
            head = b""
            while len(head) < 4:
                more = os.read(fd, 4 - len(head))
                if not more:
                    break
                head += more
            self._stream = io.BufferedReader(_Prefixed(head, fd), 1 << 16)
        else:
            try:
                with open(self.path, "rb") as f:
                    head = f.read(4)
            except OSError as e:
                raise ParseError(f"cannot read: {e.strerror}", self.path) from None
        if len(head) == 0:
            raise ParseError("empty file, not a capture", self.path)
        if head in _PCAP_MAGIC:
            self.format = "pcap"
        elif head == struct.pack("<I", _SHB):
            self.format = "pcapng"
        else:
            raise ParseError(f"not a pcap or pcapng capture (starts with 0x{head.hex()})", self.path)

    def spans(self) -> dict[str | None, tuple[float, float]]:
        """Where each interface's frames begin and end: its earliest and latest frame's times (any frame, TCP or
        not; a file out of time order begins and ends at those, not at its first and last frame), by interface name
        (pcapng's ``if_name``; None in a classic pcap, which has one interface, and for a pcapng interface without a
        name: the interfaces of one file with the same name are one).  Known for the frames read so far: the
        whole file's once ``done``."""
        if self.format == "pcap" or not self._spans:
            return {} if self.first_t is None or self.last_t is None else {None: (self.first_t, self.last_t)}
        return {k: (v[0], v[1]) for k, v in self._spans.items()}

    @property
    def interfaces(self) -> list[str | None] | None:
        """The interface names of a pcapng file the first pass read (by index, as its ``iface`` column); None
        otherwise."""
        return self._names

    def span(self, name: str | None) -> tuple[float, float] | None:
        """``spans()`` of one interface (None when none of its frames was read)."""
        if self.format == "pcap" or not self._spans:
            whole = None if self.first_t is None or self.last_t is None else (self.first_t, self.last_t)
            return whole if name is None else None
        v = self._spans.get(name)
        return None if v is None else (v[0], v[1])

    @property
    def skipped(self) -> int:
        return sum(self.reasons.values())

    def scan(self) -> Any:
        """The vectorised first pass (:mod:`hairpin.parsers.fastscan`, :mod:`hairpin.parsers.fastscan_ng`) of a
        classic pcap or pcapng file it reads, when ``want`` is set and NumPy is installed: afterwards iterating decodes only the SYN/RST rows
        still marked ``keep``.  None (and nothing changes) otherwise."""
        if self._scan is not None or self._stream is not None or not self.want:
            return self._scan
        try:
            from hairpin.parsers import fastscan
        except ImportError:  # no NumPy: the streaming reader alone
            return None
        want, vxlan = self.want, self.vxlan
        if self.format == "pcapng":
            from hairpin.parsers.fastscan_ng import scan_pcapng

            def decoder(linktype: int, endian: str) -> Any:
                def full(data: bytes, start: int, end: int) -> object:
                    return decode(data, linktype, endian, want, start, end, vxlan, _FILTERED)

                return full

            with open(self.path, "rb") as f:
                found = scan_pcapng(f, want, decoder, _FILTERED, interface, MAX_BLOCK, vxlan)
            if found is not None:
                self._scan, declared = found
                self._how, self._names = (declared["linktype"], declared["endian"]), declared["names"]
                self._adopt(self._scan)
            return self._scan
        with open(self.path, "rb") as f:
            head = f.read(24)
            if len(head) < 24:
                return None
            endian, unit = _PCAP_MAGIC[head[:4]]
            linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF

            def full(data: bytes, start: int, end: int) -> object:
                return decode(data, linktype, endian, want, start, end, vxlan, _FILTERED)

            sc = fastscan.scan_pcap(f, 24, endian == "<", unit, linktype, want, full, _FILTERED, SNAPLEN * 4, vxlan)
        if sc is not None:
            self._scan, self._how = sc, (linktype, endian)
            self._adopt(sc)
        return sc

    def _adopt(self, sc: Any) -> None:
        """Where the scanned file's frames begin and end (``first_t``, ``last_t``, ``spans``), known from its scan
        before any row is read: the scan read every frame (``done``)."""
        self.last_t, self.first_t = sc.last_t, sc.first_t
        self.done = True
        declared = self._names
        if declared is not None:
            from hairpin.parsers.fastscan import widen  # (loaded: the scan ran)

            self._spans = {}
            for k, (first, last) in sorted(sc.spans.items()):
                widen(self._spans, declared[k], first, last)

    def _replay(self) -> Iterator[PacketRecord]:
        for _part, batch in self._batches():
            yield from filter(None, batch)

    def rows(self) -> Iterator[tuple[int, PacketRecord]]:
        """After :meth:`scan` found the file's rows: each record iteration yields, with its row of the scan
        (its index in the ``Scan``'s columns), in the same order."""
        for part, batch in self._batches():
            for row, r in zip(part.tolist(), batch, strict=True):
                if r is not None:
                    yield row, r

    def _batches(self) -> Iterator[tuple[Any, list[PacketRecord | None]]]:
        sc = self._scan
        self.linktypes.add(self._how[0])
        self.packets, self.filtered, self.reasons = sc.packets, sc.filtered, dict(sc.reasons)
        self._adopt(sc)
        if sc.damage is not None:
            self._stop(*sc.damage)
        names = ("offset", "length", "t", "simple", "src", "sport", "dst", "dport", "flags", "seq", "ack", "pstart",
                 "plen")  # fmt: skip
        rows = sc.keep.nonzero()[0]
        fd = os.open(self.path, os.O_RDONLY)
        pread, flags_of = os.pread, _FLAGS
        try:
            for at in range(0, rows.size, _BATCH):  # a list at a time (cheaper than one yield a row), memory bounded
                part = rows[at : at + _BATCH]
                columns = [getattr(sc, c)[part].tolist() for c in names]
                if sc.addrs:  # IPv6 rows: their addresses from the scan's table
                    six = sc.v6[part]
                    if six.any():
                        addrs = sc.addrs
                        for c in (4, 6):
                            columns[c] = [addrs[x] if v else x for x, v in zip(columns[c], six.tolist(), strict=True)]
                if _PACKET_SET is not None and _RECORD_SET is not None:
                    batch = self._built(fd, columns)
                else:  # pragma: no cover - the dataclasses' own constructors
                    batch = [
                        PacketRecord(t, None, Packet(src, sport, dst, dport, flags_of[flags & 0x3F], seq, ack, "tcp",
                                                     pread(fd, plen, offset + pstart) if plen else b""))
                        if simple  # plain IP: the packet is in the columns, only a payload is read again
                        else self._decode_at(fd, offset, length, t)
                        for offset, length, t, simple, src, sport, dst, dport, flags, seq, ack, pstart, plen in zip(
                            *columns, strict=True
                        )
                    ]  # fmt: skip
                if self._names is not None:  # pcapng: each row's interface name and comment
                    batch = self._named(fd, batch, part)
                yield part, batch
        finally:
            os.close(fd)

    def _built(self, fd: int, columns: list[list[Any]]) -> list[PacketRecord | None]:
        """The rows of ``columns`` (as in ``_replay``) as records, each plain-IP one built from its columns
        through the slot setters (``_setters``), the others decoded again."""
        new, pread, flags_of = object.__new__, os.pread, _FLAGS
        assert _PACKET_SET is not None and _RECORD_SET is not None
        s_src, s_sport, s_dst, s_dport, s_flags, s_seq, s_ack, s_proto, s_payload = _PACKET_SET
        r_t, r_interface, r_packet, r_comment = _RECORD_SET
        out: list[PacketRecord | None] = []
        push = out.append
        for offset, length, t, simple, src, sport, dst, dport, flags, seq, ack, pstart, plen in zip(*columns,
                                                                                                    strict=True):  # fmt: skip
            if not simple:
                push(self._decode_at(fd, offset, length, t))
                continue
            p = new(Packet)  # Packet(src, sport, dst, dport, flags, seq, ack, "tcp", payload)
            s_src(p, src)
            s_sport(p, sport)
            s_dst(p, dst)
            s_dport(p, dport)
            s_flags(p, flags_of[flags & 0x3F])
            s_seq(p, seq)
            s_ack(p, ack)
            s_proto(p, "tcp")
            s_payload(p, pread(fd, plen, offset + pstart) if plen else b"")  # only a payload is read again
            r = new(PacketRecord)  # PacketRecord(t, None, p, "")
            r_t(r, t)
            r_interface(r, None)
            r_packet(r, p)
            r_comment(r, "")
            push(r)
        return out

    def _named(self, fd: int, batch: list[PacketRecord | None], part: Any) -> list[PacketRecord | None]:
        sc, names, endian = self._scan, self._names or [], self._how[1]
        out: list[PacketRecord | None] = []
        for r, iface, optlen, offset, length in zip(batch, *(getattr(sc, c)[part].tolist() for c in
                                                              ("iface", "optlen", "offset", "length")), strict=True):  # fmt: skip
            if r is None:
                out.append(None)
                continue
            comment = ""
            if optlen:  # the options after the frame (padded to 4 bytes), read as the streaming reader reads them
                for code, value in _options(os.pread(fd, optlen, offset + length + (-length % 4)), endian):
                    if code == 1:
                        comment = value.decode("utf-8", "replace")
            out.append(PacketRecord(r.t, names[iface], r.packet, comment))
        return out

    def _decode_at(self, fd: int, offset: int, length: int, t: float) -> PacketRecord | None:
        linktype, endian = self._how
        data = os.pread(fd, length, offset)
        p = decode(data, linktype, endian, self.want, 0, len(data), self.vxlan, _FILTERED)
        return PacketRecord(t, None, p) if isinstance(p, Packet) and p is not _FILTERED else None

    def __iter__(self) -> Iterator[PacketRecord]:
        if self._scan is not None:
            yield from self._replay()
            return
        if self._stream is not None:
            yield from self._pcap(self._stream) if self.format == "pcap" else self._pcapng(self._stream)
        else:
            with open(self.path, "rb", buffering=1 << 20) as f:
                yield from self._pcap(f) if self.format == "pcap" else self._pcapng(f)
        self.done = True  # read to its end, or to where it stops (``damage``): its spans are the whole file's

    def _stop(self, offset: int, why: str, corrupt: bool = False) -> None:
        self.damage = f"stopped at byte {offset} (after packet {self.packets}): {why}"
        self.corrupt = corrupt

    def _emit(self, data: bytes, linktype: int, endian: str) -> Packet | None:
        self.packets += 1
        p = decode(data, linktype, endian, self.want, 0, -1, self.vxlan, _FILTERED)
        if p.__class__ is str:
            self.reasons[p] = self.reasons.get(p, 0) + 1
            return None
        if p is _FILTERED:
            self.filtered += 1
            return None
        return p  # type: ignore[return-value]

    def _pcap(self, f: BinaryIO) -> Iterator[PacketRecord]:
        head = f.read(24)
        if len(head) < 24:
            self._stop(0, "truncated file header")
            return
        endian, unit = _PCAP_MAGIC[head[:4]]
        linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF
        self.linktypes.add(linktype)
        rec = struct.Struct(endian + "IIII")
        want, vxlan, reasons = self.want, self.vxlan, self.reasons
        read1 = f.read1  # type: ignore[attr-defined]
        base = 24  # file offset of buf[0]
        buf = b""
        i = 0
        # the earliest and latest whole record's times (``first_t``, ``last_t``): kept here, and set on the reader
        # before each packet it gives and each read (a frame's time as the first pass computes it, so both agree)
        lo, hi = float("inf"), float("-inf")
        while True:
            avail = len(buf) - i
            if avail >= 16:
                sec, frac, incl, _orig = rec.unpack_from(buf, i)
                if incl > SNAPLEN * 4:
                    self._stop(base + i, f"corrupt record header (captured length {incl})", True)
                    if hi >= lo:
                        self.first_t, self.last_t = lo, hi
                    return
                if avail - 16 >= incl:
                    start = i + 16
                    i = start + incl
                    self.packets += 1
                    t = sec + frac * unit
                    if t > hi:
                        hi = t
                    if t < lo:
                        lo = t
                    p = decode(buf, linktype, endian, want, start, i, vxlan, _FILTERED)
                    if p.__class__ is str:
                        reasons[p] = reasons.get(p, 0) + 1
                    elif p is _FILTERED:
                        self.filtered += 1
                    else:
                        self.first_t, self.last_t = lo, hi
                        yield PacketRecord(t, None, p)  # type: ignore[arg-type]
                    continue
            more = read1(_CHUNK)  # whatever has arrived: a whole chunk of a file, a pipe's latest bytes
            if hi >= lo:
                self.first_t, self.last_t = lo, hi
            if not more:
                if avail >= 16:
                    self._stop(base + i, f"truncated packet ({avail - 16} of {incl} bytes)")
                elif avail:
                    self._stop(base + i, "truncated record header")
                return
            buf = buf[i:] + more
            base += i
            i = 0

    def _pcapng(self, f: BinaryIO) -> Iterator[PacketRecord]:
        endian = "<"
        ifaces: list[tuple[int, str | None, float, float]] = []  # (linktype, name, seconds per tick, offset in s)
        simple_snap = 0
        offset = 0
        while True:
            h = f.read(8)
            if not h:
                return
            if len(h) < 8:
                self._stop(offset, "truncated block header")
                return
            if h[:4] == b"\x0a\x0d\x0d\x0a":
                bom = f.read(4)
                if bom == b"\x4d\x3c\x2b\x1a":
                    endian = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    endian = ">"
                elif len(bom) < 4:
                    self._stop(offset, "truncated section header")
                    return
                else:
                    self._stop(offset, "corrupt section header (byte-order magic)", True)
                    return
                kind, length = struct.unpack(endian + "II", h)
                if length < 28 or length % 4 or length > MAX_BLOCK:
                    self._stop(offset, f"corrupt section header (length {length})", True)
                    return
                body = bom + f.read(length - 16)
                ifaces = []
            else:
                kind, length = struct.unpack(endian + "II", h)
                if length < 12 or length % 4 or length > MAX_BLOCK:
                    self._stop(offset, f"corrupt block (type 0x{kind:x}, length {length})", True)
                    return
                body = f.read(length - 12)
            tail = f.read(4)
            if len(body) < length - 12 or len(tail) < 4:
                self._stop(offset, f"truncated block (type 0x{kind:x}, {length} bytes)")
                return
            if struct.unpack(endian + "I", tail)[0] != length:
                self._stop(offset, f"corrupt block (type 0x{kind:x}: trailing length differs)", True)
                return
            fixed = _FIXED.get(kind, 0)
            if len(body) < fixed:
                self._stop(offset, f"corrupt block (type 0x{kind:x}: {len(body)} bytes of body, its fixed fields "
                                   f"take {fixed})", True)  # fmt: skip
                return
            at = offset
            offset += length
            if kind == 1:  # Interface Description
                linktype = struct.unpack(endian + "H", body[:2])[0]
                ifaces.append((linktype, *interface(body, endian, len(ifaces))))
                if len(ifaces) == 1:  # a Simple Packet Block's interface: its snapshot length (0: none)
                    simple_snap = struct.unpack(endian + "I", body[4:8])[0]
                self.linktypes.add(linktype)
            elif kind in (6, 2):  # Enhanced Packet, obsolete Packet
                if kind == 6:
                    iface, hi, lo, incl = struct.unpack(endian + "IIII", body[:16])
                else:
                    iface, hi, lo, incl = struct.unpack(endian + "HxxIII", body[:16])
                if iface >= len(ifaces):
                    self._stop(at, f"packet on undeclared interface {iface}", True)
                    return
                if incl > len(body) - 20:
                    self._stop(at, f"corrupt block (type 0x{kind:x}: captured length {incl} exceeds the block)", True)
                    return
                data = body[20 : 20 + incl]
                linktype, name, unit, shift = ifaces[iface]
                p = self._emit(data, linktype, endian)
                t = ((hi << 32) | lo) * unit + shift
                span = self._spans.get(name)
                if span is None:
                    self._spans[name] = [t, t]
                elif t > span[1]:
                    span[1] = t
                elif t < span[0]:
                    span[0] = t
                if self.last_t is None or t > self.last_t:
                    self.last_t = t
                if self.first_t is None or t < self.first_t:
                    self.first_t = t
                if p is not None:
                    comment = ""
                    for code, value in _options(body[20 + incl + (-incl % 4) :], endian):
                        if code == 1:
                            comment = value.decode("utf-8", "replace")
                    yield PacketRecord(t, name, p, comment)
            elif kind == 3:  # Simple Packet: interface 0, no time
                if not ifaces:
                    self._stop(at, "simple packet before any interface", True)
                    return
                linktype, name, _unit, _shift = ifaces[0]
                # the frame: the original length, or the interface's snapshot length when smaller (what follows
                # is the block's padding to 4 bytes; draft-ietf-opsawg-pcapng, "Simple Packet Block")
                olen = struct.unpack(endian + "I", body[:4])[0]
                p = self._emit(body[4 : 4 + (min(olen, simple_snap) if simple_snap else olen)], linktype, endian)
                if p is not None:
                    yield PacketRecord(0.0, name, p)


def read(path: str | Path, want: int = 0, vxlan: frozenset[int] = VXLAN_PORTS) -> Reader:
    """A streaming reader of a pcap or pcapng file, or of standard input for ``-`` (``ParseError`` when it
    is not a capture)."""
    return Reader(path, want, vxlan)
