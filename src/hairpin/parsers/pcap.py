"""Captures in and out: pcap and pcapng, read as a stream of IPv4/TCP packets and written back.

What it knows (file formats from the pcap and pcapng specifications, IETF draft-ietf-opsawg-pcap and
draft-ietf-opsawg-pcapng; link types from tcpdump.org/linktypes.html):

- classic pcap: magic ``a1b2c3d4`` (microseconds) or ``a1b23c4d`` (nanoseconds), either byte order; a
  24-byte file header with the link type, then 16-byte record headers;
- pcapng: Section Header (``0a0d0d0a``, byte-order magic ``1a2b3c4d``), Interface Description (link type,
  ``if_name`` option 2, ``if_tsresol`` option 9), Enhanced Packet (with ``opt_comment``, option 1),
  Simple Packet and the obsolete Packet block; other blocks are skipped;
- link types: Ethernet (1, with 802.1Q tags), Linux cooked v1 (113, ``tcpdump -i any`` before libpcap
  1.10) and v2 (276, ``tcpdump -i any`` now: it carries the interface index), raw IPv4 (101, 228) and
  BSD loopback (0).

``read(path)`` returns a ``Reader``: iterate it for ``PacketRecord``s (IPv4 TCP only; everything else is
counted in ``skipped``).  It streams, holding one record at a time.  A truncated or corrupt capture
stops at the damage; ``Reader.damage`` then says where (byte offset, packet number) and why.  A file that
is not a capture at all raises ``ParseError`` naming the file.

``write_pcapng(path, records)`` writes one interface per distinct ``PacketRecord.interface`` (Ethernet
frames, microsecond timestamps, the record's comment as ``opt_comment``); ``write_pcap(path, records,
linktype=)`` writes classic pcap in any of the link types above, so every reader path can be tested.
Both compute correct IPv4 and TCP checksums, so Wireshark and tshark analyse the packets as real ones.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from hairpin.errors import ParseError
from hairpin.model.net import Flags, Packet

__all__ = ["LINKTYPES", "PacketRecord", "Reader", "frame", "read", "write_pcap", "write_pcapng"]

ETHERNET, NULL, RAW, RAW_IPV4, SLL, SLL2 = 1, 0, 101, 228, 113, 276
LINKTYPES = {ETHERNET: "Ethernet", SLL: "Linux cooked v1", SLL2: "Linux cooked v2", RAW: "raw IPv4",
             RAW_IPV4: "raw IPv4", NULL: "BSD loopback"}  # fmt: skip
SNAPLEN = 262144
_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_SHB = 0x0A0D0D0A


@dataclass(frozen=True, slots=True)
class PacketRecord:
    """One captured packet: when, on which interface (None when the capture does not say), and a comment."""

    t: float
    interface: str | None
    packet: Packet
    comment: str = ""


# ---------------------------------------------------------------------------------------------- writing


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ip_tcp(p: Packet) -> bytes:
    """The packet as IPv4 + TCP bytes with correct checksums.  The IP id is derived from the TCP sequence
    number and flags, so the views of one segment before and after NAT carry the same id (NAT keeps it)."""
    flags = int(p.flags)
    window = 64240 if flags & Flags.SYN else (0 if flags & Flags.RST else 502)
    tcp = struct.pack("!HHIIBBHHH", p.sport, p.dport, p.seq & 0xFFFFFFFF, p.ack & 0xFFFFFFFF, 5 << 4, flags,
                      window, 0, 0) + p.payload  # fmt: skip
    pseudo = struct.pack("!IIBBH", p.src, p.dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    ident = (p.seq + flags * 0x9E37) & 0xFFFF
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(tcp), ident, 0x4000, 64, 6, 0, p.src, p.dst)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + tcp


def _mac(addr: int) -> bytes:
    return b"\x02\x00" + addr.to_bytes(4, "big")  # locally administered, from the IPv4 address


def frame(p: Packet, linktype: int = ETHERNET, ifindex: int = 1) -> bytes:
    """The packet as one frame of ``linktype``."""
    body = _ip_tcp(p)
    if linktype == ETHERNET:
        return _mac(p.dst) + _mac(p.src) + b"\x08\x00" + body
    if linktype == SLL:
        return struct.pack("!HHH8sH", 0, 1, 6, _mac(p.src) + b"\0\0", 0x0800) + body
    if linktype == SLL2:
        return struct.pack("!HHIHBB8s", 0x0800, 0, ifindex, 1, 0, 6, _mac(p.src) + b"\0\0") + body
    if linktype in (RAW, RAW_IPV4):
        return body
    if linktype == NULL:
        return struct.pack("<I", 2) + body
    raise ValueError(f"link type {linktype} is not written by hairpin")


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _sink(path: str | Path | BinaryIO) -> AbstractContextManager[IO[bytes]]:
    if isinstance(path, (str, Path)):
        from hairpin.writing import open_output

        return open_output(path, binary=True)
    return nullcontext(path)


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", kind, n) + body + struct.pack("<I", n)


def write_pcapng(
    path: str | Path | BinaryIO, records: Iterable[PacketRecord], *, linktype: int = ETHERNET
) -> None:
    """Write ``records`` as pcapng: one Interface Description per distinct interface name, in order of
    first appearance, each named by ``if_name``; one Enhanced Packet per record with its comment.

    ``path`` is a file name (written through :mod:`hairpin.writing`: whole or not at all) or an open
    binary file."""
    ifaces: dict[str, int] = {}
    with _sink(path) as f:
        f.write(_block(_SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _option(0, b"")))
        for r in records:
            name = r.interface or "unknown"
            if name not in ifaces:
                ifaces[name] = len(ifaces)
                opts = _option(2, name.encode()) + _option(9, b"\x06") + _option(0, b"")
                f.write(_block(1, struct.pack("<HHI", linktype, 0, SNAPLEN) + opts))
            data = frame(r.packet, linktype, ifaces[name] + 1)
            us = round(r.t * 1_000_000)
            opts = (_option(1, r.comment.encode()) + _option(0, b"")) if r.comment else b""
            pad = b"\0" * (-len(data) % 4)
            head = struct.pack("<IIIII", ifaces[name], us >> 32, us & 0xFFFFFFFF, len(data), len(data))
            f.write(_block(6, head + data + pad + opts))


def write_pcap(path: str | Path | BinaryIO, records: Iterable[PacketRecord], *, linktype: int = ETHERNET) -> None:
    """Write ``records`` as classic pcap (microseconds, little-endian) in ``linktype``; with Linux cooked
    v2 each interface name gets its own index, in order of first appearance.  ``path`` as for
    :func:`write_pcapng`."""
    index: dict[str | None, int] = {}
    with _sink(path) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, linktype))
        for r in records:
            ifindex = index.setdefault(r.interface, len(index) + 1)
            data = frame(r.packet, linktype, ifindex)
            us = round(r.t * 1_000_000)
            f.write(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(data), len(data)) + data)


# ---------------------------------------------------------------------------------------------- reading


_HDR = struct.Struct("!HHIIBB")
_ADDRS = struct.Struct("!II")


def _packet(data: bytes, linktype: int, endian: str, want: int = 0, start: int = 0, end: int = -1) -> Packet | None:
    """The IPv4 TCP packet inside one frame (``data[start:end]``), or None; ``_FILTERED`` when its TCP
    flags have none of ``want`` (0: decode all).  Works on offsets, so the hot path copies no bytes."""
    if end < 0:
        end = len(data)
    if linktype == ETHERNET:
        off = start + 14
        etype = data[start + 12 : start + 14]
        while etype in (b"\x81\x00", b"\x88\xa8") and end >= off + 4:  # 802.1Q / 802.1ad tags
            etype = data[off + 2 : off + 4]
            off += 4
        if etype != b"\x08\x00":
            return None
    elif linktype == SLL:
        off = start + 16
        if data[start + 14 : start + 16] != b"\x08\x00":
            return None
    elif linktype == SLL2:
        off = start + 20
        if data[start : start + 2] != b"\x08\x00":
            return None
    elif linktype in (RAW, RAW_IPV4):
        off = start
    elif linktype == NULL:
        if end - start < 4 or struct.unpack_from(endian + "I", data, start)[0] != 2:
            return None
        off = start + 4
    else:
        return None
    if end - off < 20 or data[off] >> 4 != 4 or data[off + 9] != 6:
        return None
    ihl = (data[off] & 15) * 4
    total = (data[off + 2] << 8 | data[off + 3]) or (end - off)
    if (data[off + 6] & 0x1F) or data[off + 7]:  # a later fragment: no TCP header
        return None
    t = off + ihl
    stop = min(end, off + total)
    if stop - t < 20:
        return None
    if want and not data[t + 13] & want:
        return _FILTERED
    sport, dport, seq, ack, doff, flags = _HDR.unpack_from(data, t)
    src, dst = _ADDRS.unpack_from(data, off + 12)
    return Packet(src, sport, dst, dport, Flags(flags & 0x3F), seq, ack, "tcp", bytes(data[t + (doff >> 4) * 4 : stop]))


_FILTERED = Packet(0, 0, 0, 0)  # a TCP packet the reader was asked not to decode
_CHUNK = 1 << 22


class Reader:
    """A streaming reader of one capture file.  Iterate it once for ``PacketRecord``s; afterwards
    ``packets`` counts every frame read, ``skipped`` the frames that were not IPv4 TCP, ``damage`` says
    where and why reading stopped early (None when the file was read to its end) and ``linktypes`` lists
    the link types seen.  ``want``: decode only TCP packets with one of these flag bits (the others are
    still counted in ``packets`` and ``filtered``; 0, the default, decodes all); the analyser only needs SYNs and RSTs, and skipping the
    data segments is most of its speed."""

    def __init__(self, path: str | Path, want: int = 0) -> None:
        self.path = str(path)
        self.want = want
        self.filtered = 0
        self.packets = 0
        self.skipped = 0
        self.damage: str | None = None
        self.linktypes: set[int] = set()
        self.format = ""
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

    def __iter__(self) -> Iterator[PacketRecord]:
        with open(self.path, "rb", buffering=1 << 20) as f:
            yield from self._pcap(f) if self.format == "pcap" else self._pcapng(f)

    def _stop(self, offset: int, why: str) -> None:
        self.damage = f"stopped at byte {offset} (after packet {self.packets}): {why}"

    def _emit(self, data: bytes, linktype: int, endian: str) -> Packet | None:
        self.packets += 1
        p = _packet(data, linktype, endian, self.want)
        if p is None:
            self.skipped += 1
        elif p is _FILTERED:
            self.filtered += 1
            return None
        return p

    def _pcap(self, f: BinaryIO) -> Iterator[PacketRecord]:
        head = f.read(24)
        if len(head) < 24:
            self._stop(0, "truncated file header")
            return
        endian, unit = _PCAP_MAGIC[head[:4]]
        linktype = struct.unpack(endian + "I", head[20:24])[0] & 0x0FFFFFFF
        self.linktypes.add(linktype)
        rec = struct.Struct(endian + "IIII")
        want = self.want
        base = 24  # file offset of buf[0]
        buf = b""
        i = 0
        while True:
            if len(buf) - i < 16 + SNAPLEN:  # refill: keep the unread tail, read the next chunk
                more = f.read(_CHUNK)
                buf = buf[i:] + more
                base += i
                i = 0
                if not more and not buf:
                    return
            if len(buf) - i < 16:
                if len(buf) - i:
                    self._stop(base + i, "truncated record header")
                return
            sec, frac, incl, _orig = rec.unpack_from(buf, i)
            if incl > SNAPLEN * 4:
                self._stop(base + i, f"corrupt record header (captured length {incl})")
                return
            if len(buf) - i - 16 < incl:
                self._stop(base + i, f"truncated packet ({len(buf) - i - 16} of {incl} bytes)")
                return
            start = i + 16
            i = start + incl
            self.packets += 1
            p = _packet(buf, linktype, endian, want, start, i)
            if p is None:
                self.skipped += 1
            elif p is _FILTERED:
                self.filtered += 1
            else:
                yield PacketRecord(sec + frac * unit, None, p)

    def _pcapng(self, f: BinaryIO) -> Iterator[PacketRecord]:
        endian = "<"
        ifaces: list[tuple[int, str | None, float]] = []  # (linktype, name, seconds per tick)
        offset = 0
        while True:
            h = f.read(8)
            if not h:
                return
            if len(h) < 8:
                self._stop(offset, "truncated block header")
                return
            kind = struct.unpack(endian + "I", h[:4])[0]
            if kind == _SHB or h[:4] == b"\x0a\x0d\x0d\x0a":
                bom = f.read(4)
                if bom == b"\x4d\x3c\x2b\x1a":
                    endian = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    endian = ">"
                else:
                    self._stop(offset, "corrupt section header (byte-order magic)")
                    return
                length = struct.unpack(endian + "I", h[4:8])[0]
                if length < 28 or length % 4 or length > SNAPLEN * 8:  # never trust a length to size a read
                    self._stop(offset, f"corrupt section header (length {length})")
                    return
                body = bom + f.read(length - 16)
                ifaces = []
            else:
                length = struct.unpack(endian + "I", h[4:8])[0]
                if length < 12 or length % 4 or length > SNAPLEN * 8:
                    self._stop(offset, f"corrupt block (type 0x{kind:x}, length {length})")
                    return
                body = f.read(length - 12)
            tail = f.read(4)
            if len(body) < length - 12 or len(tail) < 4:
                self._stop(offset, f"truncated block (type 0x{kind:x}, {length} bytes)")
                return
            if struct.unpack(endian + "I", tail)[0] != length:
                self._stop(offset, f"corrupt block (type 0x{kind:x}: trailing length differs)")
                return
            offset += length
            if kind == 1:  # Interface Description
                linktype = struct.unpack(endian + "H", body[:2])[0]
                name, unit = None, 1e-6
                for code, value in _options(body[8:], endian):
                    if code == 2:
                        name = value.rstrip(b"\0").decode("utf-8", "replace")
                    elif code == 9 and value:
                        r = value[0]
                        unit = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0**-r
                ifaces.append((linktype, name, unit))
                self.linktypes.add(linktype)
            elif kind in (6, 2):  # Enhanced Packet, obsolete Packet
                if kind == 6:
                    iface, hi, lo, incl = struct.unpack(endian + "IIII", body[:16])
                else:
                    iface, hi, lo, incl = struct.unpack(endian + "HxxIII", body[:16])
                if iface >= len(ifaces):
                    self._stop(offset - length, f"packet on undeclared interface {iface}")
                    return
                data = body[20 : 20 + incl]
                linktype, name, unit = ifaces[iface]
                p = self._emit(data, linktype, endian)
                if p is not None:
                    comment = ""
                    for code, value in _options(body[20 + incl + (-incl % 4) :], endian):
                        if code == 1:
                            comment = value.decode("utf-8", "replace")
                    yield PacketRecord(((hi << 32) | lo) * unit, name, p, comment)
            elif kind == 3:  # Simple Packet: interface 0, no time
                if not ifaces:
                    self._stop(offset - length, "simple packet before any interface")
                    return
                linktype, name, _unit = ifaces[0]
                p = self._emit(body[4:], linktype, endian)
                if p is not None:
                    yield PacketRecord(0.0, name, p)


def _options(data: bytes, endian: str) -> Iterator[tuple[int, bytes]]:
    i = 0
    while i + 4 <= len(data):
        code, n = struct.unpack(endian + "HH", data[i : i + 4])
        if code == 0:
            return
        yield code, data[i + 4 : i + 4 + n]
        i += 4 + n + (-n % 4)


def read(path: str | Path, want: int = 0) -> Reader:
    """A streaming reader of a pcap or pcapng file (``ParseError`` when it is not one)."""
    return Reader(path, want)
