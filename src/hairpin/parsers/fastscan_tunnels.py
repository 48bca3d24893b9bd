"""Which frames of a chunk are plain TCP inside one tunnel of its commonest shape, read with NumPy: the first
pass's tunnel test (:mod:`hairpin.parsers.fastscan_shapes` calls it for the frames of no plain shape).

What it knows: how the full decoder (``frames._ip``, ``frames._gre``, ``frames._ether``) opens VXLAN (RFC 7348),
Geneve (RFC 8926), IP-in-IP (RFC 2003: protocol 4; RFC 4213: IPv6-in-IP, 41) and GRE (RFC 2784/2890: 47), and
which frames it would read, one tunnel deep, as exactly one plain TCP packet:

- the outer packet: after the link type's fixed header (no VLAN tag), an IPv4 header of 20 bytes (0x45), not
  a later fragment; it ends at min(frame end, its total length), or the frame's end for 0, and every inner
  header must end inside it, as the decoder bounds them;
- ``_TUNNELS``, one row per tunnel: the outer protocol it is opened for and how its header says where the
  payload starts and what it is (``_payload``: Ethernet, IPv4 or IPv6).  VXLAN: UDP to a port the decoder
  opens as VXLAN, the I flag set, untagged Ethernet after 8 bytes.  Geneve: UDP to 6081 when 6081 is not a
  VXLAN port (the decoder tries VXLAN first), version 0 (another version is not opened), the payload after
  8 bytes and the options (their 6-bit length in 4-byte words), of protocol type 0x6558, 0x0800 or 0x86DD.
  IP-in-IP: IPv4 (4) or IPv6 (41) at once, its version the one announced (the decoder passes it on: another
  is "protocol").  GRE: no routing bit and version 0 (else the decoder says "encapsulation"), the payload
  after 4 bytes and 4 more for each of the C, K and S bits, of protocol type 0x0800, 0x86DD or 0x6558;
- the payload: Ethernet whose EtherType is IPv4 or IPv6 (a tagged inner frame goes to the decoder), then an
  IPv4 header of 20 bytes holding TCP, not a later fragment, or an IPv6 header with TCP right after its 40
  bytes, the TCP header's 20 bytes inside the inner packet (min(outer end, its own length), or the outer
  end for 0).  One tunnel deep is well inside the decoder's ``MAX_DEPTH``; a tunnel inside a tunnel, outer
  IPv4 options or IPv6, and every other shape are left to the decoder.

A frame too short for a read reads some other byte of the chunk (the indexes are clamped) and is then refused
by the length tests, which need every byte read inside the frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hairpin.parsers import frames
from hairpin.parsers.fastscan_shapes import _LINK, _Bytes, _ends

ETH, IP4, IP6 = 1, 4, 6  # what a tunnel's payload is: an Ethernet frame, or an IP packet of that version


def _payload(ptype: Any) -> Any:
    """A protocol type (an EtherType, as Geneve and GRE name their payload) as ETH, IP4, IP6 or 0 (not opened)."""
    return np.where(ptype == 0x6558, ETH, np.where(ptype == 0x0800, IP4, np.where(ptype == 0x86DD, IP6, 0)))


# each tunnel: from the outer IPv4 headers at ``ip`` (20 bytes, of the row's protocols; ``dport`` the UDP
# destination port where UDP) of some frames, which of them it opens (indexes into ``ip``: as the decoder would
# open them, the rest go to the decoder), where their payload starts and what it is.  Every frame here has at
# least 60 bytes from ``ip`` on, inside the chunk: the outer header and the 40 bytes after it are read unclamped
Shape = Callable[[_Bytes, Any, Any, Any, frozenset[int]], tuple[Any, Any, Any]]
_NONE = np.zeros(0, np.int64)


def _vxlan(a: _Bytes, ip: Any, proto: Any, dport: Any, ports: frozenset[int]) -> tuple[Any, Any, Any]:
    hit = np.zeros(ip.size, np.bool_)
    for port in ports:
        hit |= dport == port
    i = np.flatnonzero(hit)
    i = i[(a.u8[ip[i] + 28] & 0x08) != 0]  # the I flag: a valid VNI
    return i, ip[i] + 36, ETH


def _geneve(a: _Bytes, ip: Any, proto: Any, dport: Any, ports: frozenset[int]) -> tuple[Any, Any, Any]:
    if frames.GENEVE_PORT in ports:  # opened as VXLAN
        return _NONE, _NONE, ETH
    i = np.flatnonzero(dport == frames.GENEVE_PORT)
    b = a.u8[ip[i] + 28]  # version (2 bits), option length (6 bits, in 4-byte words)
    i, b = i[b < 64], b[b < 64].astype(np.int64)  # version 0
    return i, ip[i] + 36 + (b & 0x3F) * 4, _payload(a.be16[ip[i] + 30])


def _ipip(a: _Bytes, ip: Any, proto: Any, dport: Any, ports: frozenset[int]) -> tuple[Any, Any, Any]:
    return np.arange(ip.size), ip + 20, np.where(proto == 4, IP4, IP6)


def _gre(a: _Bytes, ip: Any, proto: Any, dport: Any, ports: frozenset[int]) -> tuple[Any, Any, Any]:
    flags = a.be16[ip + 20].astype(np.int64)
    i = np.flatnonzero((flags & 0x4007) == 0)  # no routing, version 0
    flags = flags[i]
    words = ((flags >> 15) & 1) + ((flags >> 13) & 1) + ((flags >> 12) & 1)  # checksum, key, sequence number
    return i, ip[i] + 24 + 4 * words, _payload(a.be16[ip[i] + 22])


#: (the outer IPv4 protocols, the tunnels opened in them in the decoder's order: VXLAN before Geneve on one port)
_TUNNELS: tuple[tuple[tuple[int, ...], tuple[Shape, ...]], ...] = (
    ((17,), (_vxlan, _geneve)),
    ((4, 41), (_ipip,)),
    ((47,), (_gre,)),
)


def tunnelled(a: _Bytes, s: Any, end: Any, incl: Any, linktype: int,
              ports: frozenset[int]) -> tuple[Any, Any, Any, Any, Any]:  # fmt: skip
    """For frames starting at ``s`` (ending at ``end``, ``incl`` bytes): (plain IPv4 TCP inside a tunnel, plain
    IPv6 TCP inside a tunnel, the inner TCP header's offset, the inner IP header's offset, the outer packet's
    end), as the decoder reads them with ``ports`` opened as VXLAN; offsets of other frames are unspecified."""
    head, at = _LINK[linktype]
    ok = incl >= head + 60  # outer IPv4 20, the inner IPv4 20 and TCP 20 at least
    ip = np.minimum(s + head, a.size - 60)  # moves no ok frame: any index in range will do for the others
    if at >= 0:
        ok &= a.be16[ip - (head - at)] == 0x0800
    x = a.be32[ip]
    y = a.be32[ip + 6]  # fragment field, time to live, protocol
    ok &= ((x >> 24) == 0x45) & ((y & 0x1FFF0000) == 0)
    proto = y & 0xFF
    total = (x & 0xFFFF).astype(np.int64)
    ostop = _ends(end, ip, total)
    found: list[Any] = []
    inner: list[Any] = []
    kind: list[Any] = []
    for protos, shapes in _TUNNELS:
        mine = proto == protos[0]
        for other in protos[1:]:
            mine |= proto == other
        k = np.flatnonzero(ok & mine)
        if not k.size:
            continue
        ipk, pk, dport = ip[k], proto[k], a.be16[ip[k] + 22]
        for shape in shapes:
            i, where, what = shape(a, ipk, pk, dport, ports)
            found.append(k[i])
            inner.append(where)
            kind.append(np.broadcast_to(what, i.shape))
    in4 = np.zeros(s.size, np.bool_)
    in6 = np.zeros(s.size, np.bool_)
    tip = np.zeros(s.size, np.int64)
    if not found:
        return in4, in6, tip, tip, ostop
    k, e, kk = np.concatenate(found), np.concatenate(inner), np.concatenate(kind)
    # the payload's IP header: after an untagged Ethernet header (its EtherType says the version), or at once (the
    # tunnel said it); the 2 bytes before it and its first 14 in one read, as fastscan_shapes._common reads them
    eth = kk == ETH
    e = np.where(eth, e + 14, e)
    h = a.v16[np.minimum(e - 2, a.v16.size - 1)].view(">u8").reshape(-1, 2)  # moves no frame found plain below
    x, z = h[:, 0], h[:, 1]
    etype, stop = x >> 48, ostop[k]
    v4 = np.where(eth, etype == 0x0800, kk == IP4) & (((x >> 40) & 0xFF) == 0x45)
    v4 &= (z & 0x1FFF00FF00000000) == 6 << 32  # not a later fragment, TCP
    total = ((x >> 16) & 0xFFFF).astype(np.int64)
    v4 &= _ends(stop, e, total) - e >= 40
    in4[k], tip[k] = v4, e
    v6 = np.where(eth, etype == 0x86DD, kk == IP6)
    if v6.any():
        v6 &= (((x >> 44) & 0xF) == 6) & ((z >> 56) == 6)
        plen = (x & 0xFFFF).astype(np.int64)
        v6 &= _ends(stop, e + 40, plen) - e >= 60
        in6[k] = v6
        return in4, in6, np.where(in6, tip + 40, tip + 20), tip, ostop
    return in4, in6, tip + 20, tip, ostop
