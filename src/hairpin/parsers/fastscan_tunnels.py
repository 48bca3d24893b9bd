"""Which frames of a chunk are plain TCP inside one tunnel of its commonest shape, read with NumPy: the first
pass's tunnel test (:mod:`hairpin.parsers.fastscan_shapes` calls it for the frames of no plain shape).

What it knows: how the full decoder (``frames._ip``, ``frames._gre``, ``frames._ether``) opens VXLAN (RFC 7348),
Geneve (RFC 8926), IP-in-IP (RFC 2003: protocol 4; RFC 4213: IPv6-in-IP, 41) and GRE (RFC 2784/2890: 47), and
which frames it would read, one tunnel deep, as exactly one plain TCP packet:

- the outer packet: after the link type's fixed header (no VLAN tag), an IPv4 header of 20 bytes (0x45), not
  a later fragment; it ends at min(frame end, its total length), or the frame's end for 0, and every inner
  header must end inside it, as the decoder bounds them;
- ``_TUNNELS``, one row per tunnel: the outer protocol it is opened for and how its header says where the
  payload starts and what it is (``_PAYLOAD``: Ethernet, IPv4 or IPv6).  VXLAN: UDP to a port the decoder
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

Every field is read through a clamped index, so a frame too short for a read gets some byte of the chunk,
and is then refused by the length tests (which need every byte read inside the frame).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hairpin.parsers import frames
from hairpin.parsers.fastscan_shapes import _LINK, _Bytes, _u16, _u32be

ETH, IP4, IP6 = 1, 4, 6  # what a tunnel's payload is: an Ethernet frame, or an IP packet of that version


def _u8(a: _Bytes, i: Any) -> Any:
    return a.u8[np.minimum(i, a.size - 1)].astype(np.int64)


def _payload(ptype: Any) -> Any:
    """A protocol type (an EtherType, as Geneve and GRE name their payload) as ETH, IP4, IP6 or 0 (not opened)."""
    return np.where(ptype == 0x6558, ETH, np.where(ptype == 0x0800, IP4, np.where(ptype == 0x86DD, IP6, 0)))


# each tunnel: from the outer IPv4 header at ``ip`` (20 bytes, of the row's protocol) of some frames, which of
# them it opens (as the decoder would open them: the rest go to the decoder), where its payload starts, what it is
Shape = Callable[[_Bytes, Any, Any, frozenset[int]], tuple[Any, Any, Any]]


def _vxlan(a: _Bytes, ip: Any, proto: Any, ports: frozenset[int]) -> tuple[Any, Any, Any]:
    ok = np.isin(_u16(a, ip + 22), np.array(sorted(ports), np.int64)) & ((_u8(a, ip + 28) & 0x08) != 0)
    return ok, ip + 36, ETH


def _geneve(a: _Bytes, ip: Any, proto: Any, ports: frozenset[int]) -> tuple[Any, Any, Any]:
    b = _u8(a, ip + 28)  # version (2 bits), option length (6 bits, in 4-byte words)
    ok = (_u16(a, ip + 22) == frames.GENEVE_PORT) & ((b >> 6) == 0) & (frames.GENEVE_PORT not in ports)
    return ok, ip + 36 + (b & 0x3F) * 4, _payload(_u16(a, ip + 30))


def _ipip(a: _Bytes, ip: Any, proto: Any, ports: frozenset[int]) -> tuple[Any, Any, Any]:
    return np.ones(ip.size, np.bool_), ip + 20, np.where(proto == 4, IP4, IP6)


def _gre(a: _Bytes, ip: Any, proto: Any, ports: frozenset[int]) -> tuple[Any, Any, Any]:
    flags = _u16(a, ip + 20)
    words = ((flags >> 15) & 1) + ((flags >> 13) & 1) + ((flags >> 12) & 1)  # checksum, key, sequence number
    return (flags & 0x4007) == 0, ip + 24 + 4 * words, _payload(_u16(a, ip + 22))


#: (the outer IPv4 protocols, the tunnel's test), in the decoder's order (VXLAN before Geneve on one port)
_TUNNELS: tuple[tuple[tuple[int, ...], Shape], ...] = (
    ((17,), _vxlan),
    ((17,), _geneve),
    ((4, 41), _ipip),
    ((47,), _gre),
)


def tunnelled(a: _Bytes, s: Any, end: Any, incl: Any, linktype: int,
              ports: frozenset[int]) -> tuple[Any, Any, Any, Any, Any]:  # fmt: skip
    """For frames starting at ``s`` (ending at ``end``, ``incl`` bytes): (plain IPv4 TCP inside a tunnel, plain
    IPv6 TCP inside a tunnel, the inner TCP header's offset, the inner IP header's offset, the outer packet's
    end), as the decoder reads them with ``ports`` opened as VXLAN; offsets of other frames are unspecified."""
    head, at = _LINK[linktype]
    ip = s + head
    ok = incl >= head + 60  # outer IPv4 20, the inner IPv4 20 and TCP 20 at least
    if at >= 0:
        ok &= _u16(a, ip - (head - at)) == 0x0800
    x = _u32be(a, ip)
    y = _u32be(a, ip + 6)  # fragment field, time to live, protocol
    ok &= ((x >> 24) == 0x45) & ((y & 0x1FFF0000) == 0)
    proto = y & 0xFF
    total = x & 0xFFFF
    ostop = np.where(total > 0, np.minimum(end, ip + total), end)
    inner = np.zeros(s.size, np.int64)
    kind = np.zeros(s.size, np.int64)
    for protos, shape in _TUNNELS:
        k = np.flatnonzero(ok & np.isin(proto, protos))
        if k.size:
            opened, where, what = shape(a, ip[k], proto[k], ports)
            inner[k] = np.where(opened, where, inner[k])
            kind[k] = np.where(opened, what, kind[k])
    k = np.flatnonzero(kind == ETH)
    if k.size:  # an inner Ethernet frame: untagged, of IPv4 or IPv6
        e = inner[k]
        etype = _u16(a, e + 12)
        kind[k] = np.where(etype == 0x0800, IP4, np.where(etype == 0x86DD, IP6, 0))
        inner[k] = e + 14
    in4 = np.zeros(s.size, np.bool_)
    in6 = np.zeros(s.size, np.bool_)
    k = np.flatnonzero(kind == IP4)
    if k.size:
        e, stop = inner[k], ostop[k]
        x, y = _u32be(a, e), _u32be(a, e + 6)
        length = x & 0xFFFF
        stop = np.where(length > 0, np.minimum(stop, e + length), stop)
        in4[k] = ((x >> 24) == 0x45) & ((y & 0x1FFF00FF) == 6) & (stop - (e + 20) >= 20)
    k = np.flatnonzero(kind == IP6)
    if k.size:
        e, stop = inner[k], ostop[k]
        x = _u32be(a, e)
        plen = _u16(a, e + 4)
        stop = np.where(plen > 0, np.minimum(stop, e + 40 + plen), stop)
        in6[k] = ((x >> 28) == 6) & (_u8(a, e + 6) == 6) & (stop - (e + 40) >= 20)
    return in4, in6, np.where(in6, inner + 40, inner + 20), inner, ostop
