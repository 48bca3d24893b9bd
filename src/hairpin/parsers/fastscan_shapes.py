"""Which frames of a chunk are plain TCP over IPv4 or IPv6 (or inside a tunnel), read with NumPy: the first pass's
shape tests (:mod:`hairpin.parsers.fastscan`).

What it knows: where a frame's IP and TCP headers are for the link types of the fast path, and which frames
the full decoder (:func:`hairpin.parsers.frames.decode`) would read as exactly one plain TCP packet with
those headers.  ``_Bytes`` reads fields at any byte offset of a chunk; ``_classify`` is the general test
(VLAN tags, IPv4 options, IPv6 with TCP as its first next header); ``_common`` and ``_common6`` recognise the
commonest untagged IPv4 and IPv6 shapes with a few reads a frame, :mod:`hairpin.parsers.fastscan_tunnels`
the commonest VXLAN, Geneve, IP-in-IP and GRE shapes; ``_shapes`` applies them in that order and leaves every
other frame to the decoder.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hairpin.parsers import frames

# link types whose frames can be plain IPv4 or IPv6 right after a fixed header: (its length, where its EtherType is or -1)
_LINK = {
    frames.ETHERNET: (14, 12),
    frames.SLL: (16, 14),
    frames.SLL2: (20, 0),
    frames.RAW: (0, -1),
    frames.IPV4: (0, -1),
}


class _Bytes:
    """The first ``n`` bytes of a buffer read as unsigned integers at any byte offset: views with a one-byte
    stride (unaligned reads), so a field of every frame is one gather."""

    def __init__(self, buf: Any, n: int | None = None) -> None:
        n = len(buf) if n is None else n
        self.u8 = np.frombuffer(buf, np.uint8, n)
        self.size = n
        m = max(n - 1, 0)
        self.be16 = np.ndarray((m,), ">u2", buf, 0, (1,)) if m else np.zeros(0, ">u2")
        m = max(n - 3, 0)
        self.be32 = np.ndarray((m,), ">u4", buf, 0, (1,)) if m else np.zeros(0, ">u4")
        self.le32 = np.ndarray((m,), "<u4", buf, 0, (1,)) if m else np.zeros(0, "<u4")
        m = max(n - 7, 0)
        self.be64 = np.ndarray((m,), ">u8", buf, 0, (1,)) if m else np.zeros(0, ">u8")
        self.le64 = np.ndarray((m,), "<u8", buf, 0, (1,)) if m else np.zeros(0, "<u8")
        # 16 and 20 bytes at any offset as one item: a gather of these is cheaper than two of unaligned numbers
        self.v16 = np.ndarray((n - 15,), "V16", buf, 0, (1,)) if n >= 16 else np.zeros(0, "V16")
        self.v20 = np.ndarray((n - 19,), "V20", buf, 0, (1,)) if n >= 20 else np.zeros(0, "V20")

    def __getitem__(self, i: Any) -> Any:
        return self.u8[i]


def _u16(a: _Bytes, i: Any) -> Any:
    return a.be16[np.minimum(i, a.be16.size - 1)].astype(np.int64)


def _u32(a: _Bytes, i: Any, little: bool) -> Any:
    return (a.le32 if little else a.be32)[np.minimum(i, a.be32.size - 1)].astype(np.int64)


def _at(a: _Bytes, i: Any) -> Any:
    """The bytes at ``i``, an index past the chunk read as its last byte (a frame too short for the field is
    refused by the caller's length tests, whatever the byte)."""
    return a.u8[np.minimum(i, a.size - 1)]


def _ends(end: Any, start: Any, length: Any) -> Any:
    """Where a packet starting at ``start`` ends as the decoder bounds it: at ``end`` (the frame's, or the
    outer packet's), sooner when its ``length`` field (IPv4's total length, or ``start`` past the IPv6
    header and its payload length) says so; a length of 0 (segmentation offload, a jumbogram) is ``end``."""
    return np.where(length > 0, np.minimum(end, start + length), end)


def _classify(a: _Bytes, s: Any, end: Any, linktype: int) -> tuple[Any, Any, Any, Any]:
    """For frames starting at ``s`` and ending at ``end``: (plain IPv4 TCP, plain IPv6 TCP, TCP header
    offset, IP header offset)."""
    incl = end - s
    if linktype in (frames.ETHERNET, frames.SLL, frames.SLL2):
        head, at = _LINK[linktype]
        ok = incl >= head
        etype = _u16(a, s + at)
        off = s + head
        tagged = ok & ((etype == 0x8100) | (etype == 0x88A8) | (etype == 0x9100)) & (end - off >= 4)
        etype = np.where(tagged, _u16(a, off + 2), etype)
        off = np.where(tagged, off + 4, off)
        v4 = ok & (etype == 0x0800)
        v6 = ok & (etype == 0x86DD)
    else:
        off = s
        ok = incl >= 1
        nib = _at(a, s) >> 4
        v4 = ok & (nib == 4) & (linktype != frames.IPV6)
        v6 = ok & (nib == 6) & (linktype != frames.IPV4)
    v4 &= end - off >= 20
    v6 &= end - off >= 40
    b0 = _at(a, off).astype(np.int64)
    ihl = (b0 & 15) * 4
    stop4 = _ends(end, off, _u16(a, off + 2))
    v4 &= ((b0 >> 4) == 4) & (ihl >= 20) & ((_at(a, off + 6) & 0x1F) == 0) & (_at(a, off + 7) == 0) & (_at(a, off + 9) == 6)
    v4 &= stop4 - (off + ihl) >= 20
    stop6 = _ends(end, off + 40, _u16(a, off + 4))
    v6 &= ((b0 >> 4) == 6) & (_at(a, off + 6) == 6) & (stop6 - (off + 40) >= 20)
    tcp = np.where(v4, off + ihl, off + 40)
    return v4, v6, tcp, off


def _common(a: _Bytes, s: Any, incl: Any, linktype: int) -> Any:
    """Which frames are of the commonest shape: after the link type's fixed header, an untagged IPv4 header
    of 20 bytes (0x45), not a later fragment, protocol 6, its total length 0 or at least 40 and the frame at
    least that long.  Each such frame is plain IPv4 for ``_classify`` too, with the TCP header 20 bytes
    after the IP header."""
    head, at = _LINK[linktype]
    ok = incl >= head + 40
    ip = np.minimum(s + head, a.size - 40)  # a frame too short for its fields is not ok: any index in range will do
    if head - at == 2:  # the EtherType right before the IP header: 16 bytes from it in one read hold the EtherType,
        h = a.v16[ip - 2].view(">u8").reshape(-1, 2)  # the first byte, the total length, the fragment field and
        x = h[:, 0]  # the protocol
        ok &= (x >> 40) == 0x080045
        total = (x >> 16) & 0xFFFF
        ok &= (h[:, 1] & 0x1FFF00FF00000000) == 6 << 32  # fragment offset 0, protocol TCP
    else:
        if at >= 0:
            ok &= a.be16[ip - (head - at)] == 0x0800
        x = a.be32[ip]
        ok &= (x >> 24) == 0x45
        total = x & 0xFFFF
        ok &= (a.be32[ip + 6] & 0x1FFF00FF) == 6  # fragment offset 0, protocol TCP
    ok &= (total >= 40) | (total == 0)
    return ok


def _common6(a: _Bytes, s: Any, incl: Any, linktype: int) -> Any:
    """Which frames are of the commonest IPv6 shape: after the link type's fixed header (no VLAN tag), an
    IPv6 header whose next header is TCP (6), its payload length 0 or at least 20 and the frame at least 60
    bytes past the header's start.  Each such frame is plain IPv6 for ``_classify`` too (its test, with the
    payload's end at min(frame end, 40 + payload length) or the frame's end for 0), the TCP header right
    after the 40 bytes; a raw IPv4 link type has none."""
    head, at = _LINK[linktype]
    ok = incl >= head + 60
    ip = np.minimum(s + head, a.size - 40)  # a frame too short for its fields is not ok: any index in range will do
    if head - at == 2:  # the EtherType right before the IP header: EtherType, version, payload length, next header
        h = a.v16[ip - 2].view(">u8").reshape(-1, 2)
        x = h[:, 0]
        ok &= (x >> 44) == 0x86DD6
        plen = x & 0xFFFF
        ok &= (h[:, 1] >> 56) == 6
    else:
        if at >= 0:
            ok &= a.be16[ip - (head - at)] == 0x86DD
        x = a.be64[ip]  # version, traffic class, flow label, payload length, next header, hop limit
        ok &= (x >> 60) == 6
        plen = (x >> 16) & 0xFFFF
        ok &= ((x >> 8) & 0xFF) == 6
    ok &= (plen == 0) | (plen >= 20)
    return ok


def _shapes(a: _Bytes, s: Any, end: Any, incl: Any, linktype: int,
            vxlan: frozenset[int] = frozenset()) -> tuple[Any, Any, Any, Any, Any]:  # fmt: skip
    """``_classify`` of every frame, the commonest shapes (``_common``, then ``_common6``) first and the
    general test only for the others; the TCP offsets of frames that are not plain stay inside the chunk."""
    if linktype not in _LINK or a.size < 64:
        v4, v6, tcp, ip = _classify(a, s, end, linktype)
        return v4, v6, np.minimum(tcp, a.size - 20), ip, end
    head = _LINK[linktype][0]
    v4 = _common(a, s, incl, linktype)
    tcp, ip = s + (head + 20), s + head
    g = np.flatnonzero(~v4)
    if not g.size:
        return v4, None, tcp, ip, end
    v6 = np.zeros(v4.size, np.bool_)
    if linktype != frames.IPV4:  # the commonest IPv6 shape next, the TCP header 40 bytes after the IP header
        c6 = _common6(a, s[g], incl[g], linktype)
        v6[g[c6]] = True
        tcp[g[c6]] += 20
        g = g[~c6]
        if not g.size:
            return v4, v6, tcp, ip, end
    bound = end  # where each frame's IP packet is bounded: the frame's end, or a tunnelled packet's outer end
    if linktype != frames.IPV6:  # VXLAN, Geneve, IP-in-IP, GRE of the commonest shape (overlays, mirroring, GWLB)
        from hairpin.parsers.fastscan_tunnels import tunnelled  # it reads fields with this module's helpers

        in4, in6, vtcp, vip, ostop = tunnelled(a, s[g], end[g], incl[g], linktype, vxlan)
        vx = in4 | in6
        if vx.any():
            h = g[vx]
            v4[h], v6[h], tcp[h], ip[h] = in4[vx], in6[vx], vtcp[vx], vip[vx]
            bound = end.copy()
            bound[h] = ostop[vx]
            g = g[~vx]
            if not g.size:
                return v4, v6, tcp, ip, bound
    v4[g], v6[g], gtcp, ip[g] = _classify(a, s[g], end[g], linktype)
    tcp[g] = np.minimum(gtcp, a.size - 20)
    return v4, v6, tcp, ip, bound


_OPENED = (6, 4, 41, 47, 17)  # IP protocols the decoder reads on: TCP, IP-in-IP, IPv6-in-IP, GRE, UDP (tunnels)
_EXTENSIONS = (0, 43, 60, 51, 44)  # IPv6 extension headers the decoder walks through


def _protocol(a: _Bytes, s: Any, end: Any, incl: Any, linktype: int, vxlan: frozenset[int]) -> Any:
    """Which frames (of the link types of ``_LINK``, no VLAN tag) the full decoder certainly skips as
    "protocol" (``frames.PROTOCOL``), read with a few reads each: an EtherType that is neither IP nor a VLAN tag
    (ARP, LLDP...); an IP header of a version its envelope does not announce, or neither 4 nor 6; IPv4 with a
    header length below 20, a later fragment, or a protocol the decoder does not open; IPv6 (40 bytes in the
    frame) whose first next header is neither an extension header nor a protocol the decoder opens; UDP whose
    8-byte header is inside the packet, to a port that is neither a VXLAN port of ``vxlan`` nor Geneve's
    (DNS, QUIC...).  As ``frames._ethertype`` and ``frames._ip`` test them, in their order (a frame too short
    for a test the decoder makes first, "truncated", is never one of these).  Every other frame is False."""
    head, at = _LINK[linktype]
    ok = incl >= head
    if at >= 0:
        etype = _u16(a, s + at)
        other = ok & (etype != 0x0800) & (etype != 0x86DD) & (etype != 0x8100) & (etype != 0x88A8) & (etype != 0x9100)
        ver = np.where(etype == 0x0800, 4, np.where(etype == 0x86DD, 6, -1))
    else:
        other = np.zeros(s.size, np.bool_)
        ver = np.full(s.size, 4 if linktype == frames.IPV4 else 6 if linktype == frames.IPV6 else 0)
    off = s + head
    ok &= (ver >= 0) & (end - off >= 20)  # an IP header the decoder reads (shorter: "truncated")
    b0 = _at(a, off).astype(np.int64)
    version = b0 >> 4
    out = ok & (((ver > 0) & (version != ver)) | ((version != 4) & (version != 6)))
    ok &= ~out
    # IPv4
    four = ok & (version == 4)
    ihl = (b0 & 15) * 4
    out |= four & (ihl < 20)
    four &= ihl >= 20
    later = ((_at(a, off + 6) & 0x1F) != 0) | (_at(a, off + 7) != 0)  # a later fragment
    out |= four & later
    four &= ~later
    stop = _ends(end, off, _u16(a, off + 2))
    proto = np.where(four, _at(a, off + 9).astype(np.int64), -1)  # (NumPy 2.5 refuses -1 beside a uint8 array)
    t = off + ihl
    # IPv6: 40 bytes in the frame (shorter: "truncated"), the first next header
    six = ok & (version == 6) & (end - off >= 40)
    stop = np.where(six, _ends(end, off + 40, _u16(a, off + 4)), stop)
    proto = np.where(six, _at(a, off + 6), proto)
    t = np.where(six, off + 40, t)
    known = four | six
    opened = np.isin(proto, _OPENED) | np.isin(proto, _EXTENSIONS)
    out |= known & ~opened
    udp = known & (proto == 17) & (stop - t >= 8)
    dport = _u16(a, t + 2)
    tunnel = np.isin(dport, np.array(sorted(vxlan | {frames.GENEVE_PORT}), np.int64))
    out |= udp & ~tunnel
    return other | out

