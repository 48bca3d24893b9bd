"""Frames to TCP packets and back: link types, IPv4/IPv6 and the tunnels a Kubernetes node or a VPC wraps
packets in.

What it knows (link-layer headers from tcpdump.org/linktypes.html and the LINKTYPE_* pages it links;
protocol headers from their RFCs):

- link types: Ethernet (1) with any number of 802.1Q (0x8100), 802.1ad (0x88a8) and pre-standard QinQ
  (0x9100) tags; Linux cooked v1 (113, 16-byte header, protocol at 14) and v2 (276, 20-byte header,
  protocol at 0), both with a VLAN tag when the protocol is a tag type (libpcap puts the tag back in front
  of the payload); raw IP (101: version from the first nibble; 228 IPv4; 229 IPv6); BSD loopback (0, the
  address family in the capturing host's byte order) and OpenBSD loopback (108, network byte order), with
  AF_INET 2 and AF_INET6 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD) and 30 (macOS); Linux NFLOG (239:
  4-byte header with the address family, then type-length-value attributes in the capturing host's byte
  order, the packet in NFULA_PAYLOAD, type 9);
- IPv4 (RFC 791: a later fragment carries no TCP header) and IPv6 (RFC 8200: hop-by-hop, routing,
  destination options and fragment extension headers; RFC 4302 AH);
- tunnels, opened down to the innermost TCP packet (at most ``MAX_DEPTH`` levels): IP-in-IP (protocol 4,
  RFC 2003; Calico IPIP) and IPv6-in-IP (41, RFC 4213); GRE (47, RFC 2784/2890: checksum, key and sequence
  fields; payload IPv4, IPv6 or Ethernet 0x6558); VXLAN (RFC 7348: UDP 4789, and 8472, the Linux kernel's
  default, which Flannel uses (flannel Documentation/backends.md) and Cilium keeps (cilium/cilium PR
  16874); Calico's ``vxlanPort`` (FelixConfiguration reference); AWS VPC Traffic Mirroring sends mirrored
  packets in VXLAN, its targets accept UDP 4789 (docs.aws.amazon.com/vpc/latest/mirroring/
  create-traffic-mirroring-target.html)); Geneve (RFC 8926: UDP 6081, with options; payload Ethernet
  0x6558, IPv4 or IPv6; Cilium's Geneve mode, and the Gateway Load Balancer's "GENEVE protocol on port
  6081": docs.aws.amazon.com/elasticloadbalancing/latest/gateway/gateway-load-balancers.html).

``decode`` returns the ``Packet`` or the reason the frame is skipped: ``"link type"`` (a link type not
listed above), ``"protocol"`` (not TCP: ARP, UDP, ICMP, a later IP fragment...), ``"encapsulation"`` (a
tunnel header it cannot open) or ``"truncated"`` (the frame ends inside a header, e.g. a short snap
length).  It works on offsets into the caller's buffer, so the hot path copies no bytes.

``frame`` builds frames of every link type and tunnel above (correct IPv4, IPv6 and TCP checksums), so
every decoding path is tested against the bytes tshark reads.
"""

from __future__ import annotations

import struct

from hairpin.model.net import V6, Flags, Packet

__all__ = [
    "ENCAP", "ETHERNET", "IPV4", "IPV6", "LINKTYPE", "LINKTYPES", "LOOP", "NFLOG", "NULL", "PROTOCOL", "RAW",
    "REASONS", "SLL", "SLL2", "TRUNCATED", "TUNNELS", "VXLAN_PORTS", "decode", "frame",
]  # fmt: skip

ETHERNET, NULL, RAW, LOOP, SLL, IPV4, IPV6, NFLOG, SLL2 = 1, 0, 101, 108, 113, 228, 229, 239, 276
LINKTYPES = {ETHERNET: "Ethernet", SLL: "Linux cooked v1", SLL2: "Linux cooked v2", RAW: "raw IP",
             IPV4: "raw IPv4", IPV6: "raw IPv6", NULL: "BSD loopback", LOOP: "OpenBSD loopback",
             NFLOG: "Linux NFLOG"}  # fmt: skip
LINKTYPE, PROTOCOL, ENCAP, TRUNCATED = "link type", "protocol", "encapsulation", "truncated"
REASONS = (LINKTYPE, PROTOCOL, ENCAP, TRUNCATED)
VXLAN_PORTS = frozenset({4789, 8472})
GENEVE_PORT = 6081
MAX_DEPTH = 4
TUNNELS = ("vxlan", "vxlan-8472", "geneve", "ipip", "gre", "gre-eth")
_TAGS = (0x8100, 0x88A8, 0x9100)
_AF_INET6 = (10, 24, 28, 30)
_HDR = struct.Struct("!HHIIBB")
_LOW = V6 - 1
_FLAGS = tuple(Flags(i) for i in range(64))  # every value of the six flag bits, built once

Result = Packet | str

# ---------------------------------------------------------------------------------------------- decoding


def decode(data: bytes, linktype: int, endian: str = "<", want: int = 0, start: int = 0, end: int = -1,
           vxlan: frozenset[int] = VXLAN_PORTS, filtered: Packet | None = None) -> Result:  # fmt: skip
    """The innermost TCP packet of the frame ``data[start:end]`` or the reason it is skipped; ``filtered``
    (when given) for a TCP packet whose flags have none of ``want`` (0: decode all)."""
    if end < 0:
        end = len(data)
    if linktype in (ETHERNET, SLL2, SLL):  # the common case first, inline
        if linktype == ETHERNET:
            off = start + 14
            etype = data[start + 12] << 8 | data[start + 13] if end >= off else -1
        elif linktype == SLL2:
            off = start + 20
            etype = data[start] << 8 | data[start + 1] if end >= off else -1
        else:
            off = start + 16
            etype = data[start + 14] << 8 | data[start + 15] if end >= off else -1
        if etype == 0x0800:
            return _ip(data, off, end, want, vxlan, filtered, 0, 4)
        if etype < 0:
            return TRUNCATED
        return _ethertype(data, etype, off, end, want, vxlan, filtered, 0)
    if linktype in (RAW, IPV4, IPV6):
        ver = 4 if linktype == IPV4 else 6 if linktype == IPV6 else 0
        return _ip(data, start, end, want, vxlan, filtered, 0, ver)
    if linktype in (NULL, LOOP):
        if end - start < 4:
            return TRUNCATED
        fam = struct.unpack_from(">I" if linktype == LOOP else endian + "I", data, start)[0]
        if fam > 0xFFFF:  # written on a host of the other byte order
            fam = int.from_bytes(fam.to_bytes(4, "big"), "little")
        if fam == 2 or fam in _AF_INET6:
            return _ip(data, start + 4, end, want, vxlan, filtered, 0, 4 if fam == 2 else 6)
        return PROTOCOL
    if linktype == NFLOG:
        return _nflog(data, start, end, endian, want, vxlan, filtered)
    return LINKTYPE


def _nflog(data: bytes, start: int, end: int, endian: str, want: int, vxlan: frozenset[int],
           filtered: Packet | None) -> Result:  # fmt: skip
    if end - start < 4:
        return TRUNCATED
    fam = data[start]
    tlv = struct.Struct(endian + "HH")
    i = start + 4
    while i + 4 <= end:
        n, kind = tlv.unpack_from(data, i)
        if n < 4:
            return ENCAP
        if kind == 9:  # NFULA_PAYLOAD
            if i + n > end:
                return TRUNCATED
            if fam != 2 and fam != 10:
                return PROTOCOL
            return _ip(data, i + 4, i + n, want, vxlan, filtered, 0, 4 if fam == 2 else 6)
        i += (n + 3) & ~3
    return PROTOCOL  # no packet in this log message


def _ether(data: bytes, off: int, end: int, want: int, vxlan: frozenset[int], filtered: Packet | None,
           depth: int) -> Result:  # fmt: skip
    if end - off < 14:
        return TRUNCATED
    return _ethertype(data, data[off + 12] << 8 | data[off + 13], off + 14, end, want, vxlan, filtered, depth)


def _ethertype(data: bytes, etype: int, off: int, end: int, want: int, vxlan: frozenset[int],
               filtered: Packet | None, depth: int) -> Result:  # fmt: skip
    while etype in _TAGS:  # 802.1Q, 802.1ad, QinQ: TCI, then the next type
        if end - off < 4:
            return TRUNCATED
        etype = data[off + 2] << 8 | data[off + 3]
        off += 4
    if etype == 0x0800 or etype == 0x86DD:
        return _ip(data, off, end, want, vxlan, filtered, depth, 4 if etype == 0x0800 else 6)
    return PROTOCOL


def _ip(data: bytes, off: int, end: int, want: int, vxlan: frozenset[int], filtered: Packet | None,
        depth: int, ver: int = 0) -> Result:  # fmt: skip
    """The IP packet at ``off``; ``ver``: the version its envelope announced (0: any)."""
    if end - off < 20:
        return TRUNCATED
    version = data[off] >> 4
    if ver and version != ver:
        return PROTOCOL  # the envelope and the header disagree
    if version == 4:
        ihl = (data[off] & 15) * 4
        if ihl < 20:
            return PROTOCOL
        total = data[off + 2] << 8 | data[off + 3]
        stop = min(end, off + total) if total else end  # 0: segmentation offload, the frame's length
        if (data[off + 6] & 0x1F) or data[off + 7]:
            return PROTOCOL  # a later fragment: no transport header
        proto = data[off + 9]
        t = off + ihl
        if proto == 6:
            if stop - t < 20:
                return TRUNCATED
            if want and not data[t + 13] & want:
                return filtered if filtered is not None else PROTOCOL
            src = int.from_bytes(data[off + 12 : off + 16], "big")
            dst = int.from_bytes(data[off + 16 : off + 20], "big")
            return _tcp(data, t, stop, src, dst)
    elif version == 6:
        if end - off < 40:
            return TRUNCATED
        plen = data[off + 4] << 8 | data[off + 5]
        stop = min(end, off + 40 + plen) if plen else end  # 0: a jumbogram (RFC 2675) or offload
        proto = data[off + 6]
        t = off + 40
        for _ in range(8):  # extension headers
            if proto in (0, 43, 60, 51):
                if stop - t < 8:
                    return TRUNCATED
                step = (data[t + 1] + 2) * 4 if proto == 51 else (data[t + 1] + 1) * 8
                proto = data[t]
                t += step
            elif proto == 44:
                if stop - t < 8:
                    return TRUNCATED
                if (data[t + 2] << 8 | data[t + 3]) & 0xFFF8:
                    return PROTOCOL  # a later fragment
                proto = data[t]
                t += 8
            else:
                break
        if proto == 6:
            if stop - t < 20:
                return TRUNCATED
            if want and not data[t + 13] & want:
                return filtered if filtered is not None else PROTOCOL
            src = V6 | int.from_bytes(data[off + 8 : off + 24], "big")
            dst = V6 | int.from_bytes(data[off + 24 : off + 40], "big")
            return _tcp(data, t, stop, src, dst)
    else:
        return PROTOCOL
    if depth >= MAX_DEPTH:
        return ENCAP
    if proto == 4 or proto == 41:  # IP-in-IP, IPv6-in-IP
        return _ip(data, t, stop, want, vxlan, filtered, depth + 1, 4 if proto == 4 else 6)
    if proto == 47:
        return _gre(data, t, stop, want, vxlan, filtered, depth + 1)
    if proto == 17:
        if stop - t < 8:
            return TRUNCATED
        dport = data[t + 2] << 8 | data[t + 3]
        u = t + 8
        if dport in vxlan:
            if stop - u < 8:
                return TRUNCATED
            if not data[u] & 0x08:  # the I flag: a valid VNI
                return ENCAP
            return _ether(data, u + 8, stop, want, vxlan, filtered, depth + 1)
        if dport == GENEVE_PORT:
            if stop - u < 8:
                return TRUNCATED
            if data[u] >> 6:
                return ENCAP  # an unknown Geneve version
            inner = u + 8 + (data[u] & 0x3F) * 4
            ptype = data[u + 2] << 8 | data[u + 3]
            if ptype == 0x6558:
                return _ether(data, inner, stop, want, vxlan, filtered, depth + 1)
            if ptype == 0x0800 or ptype == 0x86DD:
                return _ip(data, inner, stop, want, vxlan, filtered, depth + 1, 4 if ptype == 0x0800 else 6)
            return ENCAP
    return PROTOCOL


def _gre(data: bytes, g: int, stop: int, want: int, vxlan: frozenset[int], filtered: Packet | None,
         depth: int) -> Result:  # fmt: skip
    if stop - g < 4:
        return TRUNCATED
    flags = data[g] << 8 | data[g + 1]
    if flags & 0x4007:  # routing present (RFC 1701) or version 1 (PPTP's enhanced GRE)
        return ENCAP
    inner = g + 4 + 4 * (bool(flags & 0x8000) + bool(flags & 0x2000) + bool(flags & 0x1000))
    ptype = data[g + 2] << 8 | data[g + 3]
    if ptype == 0x0800 or ptype == 0x86DD:
        return _ip(data, inner, stop, want, vxlan, filtered, depth, 4 if ptype == 0x0800 else 6)
    if ptype == 0x6558:
        return _ether(data, inner, stop, want, vxlan, filtered, depth)
    return ENCAP


def _tcp(data: bytes, t: int, stop: int, src: int, dst: int) -> Packet:
    sport, dport, seq, ack, doff, flags = _HDR.unpack_from(data, t)
    return Packet(src, sport, dst, dport, _FLAGS[flags & 0x3F], seq, ack, "tcp", bytes(data[t + (doff >> 4) * 4 : stop]))


# ---------------------------------------------------------------------------------------------- encoding


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ip_packet(src: int, dst: int, proto: int, payload: bytes, ident: int = 0) -> bytes:
    """An IPv4 or IPv6 header (by the addresses) in front of ``payload``, with a correct checksum."""
    if src > 0xFFFFFFFF:
        return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, (src & _LOW).to_bytes(16, "big"),
                           (dst & _LOW).to_bytes(16, "big")) + payload  # fmt: skip
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0, src, dst)
    return ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:] + payload


def _ip_tcp(p: Packet) -> bytes:
    """The packet as IPv4 or IPv6 + TCP bytes with correct checksums.  The IPv4 id is derived from the TCP
    sequence number and flags, so the views of one segment before and after NAT carry the same id."""
    flags = int(p.flags)
    window = 64240 if flags & Flags.SYN else (0 if flags & Flags.RST else 502)
    tcp = struct.pack("!HHIIBBHHH", p.sport, p.dport, p.seq & 0xFFFFFFFF, p.ack & 0xFFFFFFFF, 5 << 4, flags,
                      window, 0, 0) + p.payload  # fmt: skip
    if p.src > 0xFFFFFFFF:
        pseudo = (p.src & _LOW).to_bytes(16, "big") + (p.dst & _LOW).to_bytes(16, "big") + struct.pack("!IxxxB", len(tcp), 6)
    else:
        pseudo = struct.pack("!IIBBH", p.src, p.dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    return _ip_packet(p.src, p.dst, 6, tcp, (p.seq + flags * 0x9E37) & 0xFFFF)


def _mac(addr: int) -> bytes:
    return b"\x02\x00" + (addr & 0xFFFFFFFF).to_bytes(4, "big")  # locally administered, from the address


_OUTER = (0x0A000001, 0x0A000002)  # the tunnel's endpoints: two nodes, 10.0.0.1 -> 10.0.0.2


def _tunnel(p: Packet, body: bytes, tunnel: str, vxlan_port: int) -> bytes:
    """``body`` (the packet's IP bytes) inside ``tunnel``, as the outer IPv4 packet's bytes."""
    etype = b"\x86\xdd" if p.src > 0xFFFFFFFF else b"\x08\x00"
    eth = _mac(p.dst) + _mac(p.src) + etype + body
    if tunnel in ("vxlan", "vxlan-8472", "geneve"):
        if tunnel == "geneve":
            port, head = 6081, struct.pack("!BBHI", 0, 0, 0x6558, 42 << 8)
        else:
            port, head = (8472 if tunnel == "vxlan-8472" else vxlan_port), struct.pack("!II", 0x08000000, 42 << 8)
        inner = head + eth
        udp = struct.pack("!HHHH", 49152 + (p.sport & 0x3FFF), port, 8 + len(inner), 0) + inner
        return _ip_packet(*_OUTER, 17, udp)
    if tunnel == "ipip":
        return _ip_packet(*_OUTER, 41 if p.src > 0xFFFFFFFF else 4, body)
    if tunnel == "gre":
        return _ip_packet(*_OUTER, 47, b"\x20\x00" + etype + struct.pack("!I", 7) + body)  # with a key (K bit)
    if tunnel == "gre-eth":
        return _ip_packet(*_OUTER, 47, b"\x00\x00\x65\x58" + eth)
    raise ValueError(f"tunnel {tunnel!r} is not written by hairpin (one of {', '.join(TUNNELS)})")


def frame(p: Packet, linktype: int = ETHERNET, ifindex: int = 1, *, tunnel: str | None = None,
          vlans: tuple[int, ...] = (), vxlan_port: int = 4789) -> bytes:  # fmt: skip
    """The packet as one frame of ``linktype``, inside ``tunnel`` (one of ``TUNNELS``) when given, with
    ``vlans`` (tag types such as 0x8100, outermost first; Ethernet and Linux cooked only)."""
    body = _ip_tcp(p)
    v6 = p.src > 0xFFFFFFFF and tunnel is None
    if tunnel is not None:
        body = _tunnel(p, body, tunnel, vxlan_port)
    etype = 0x86DD if v6 else 0x0800
    tags = b""
    for i in range(len(vlans)):  # each tag carries the type that follows it
        nxt = vlans[i + 1] if i + 1 < len(vlans) else etype
        tags += struct.pack("!HH", 100 + i, nxt)
    first = vlans[0] if vlans else etype
    if linktype == ETHERNET:
        return _mac(p.dst) + _mac(p.src) + struct.pack("!H", first) + tags + body
    if linktype == SLL:
        return struct.pack("!HHH8sH", 0, 1, 6, _mac(p.src) + b"\0\0", first) + tags + body
    if linktype == SLL2:
        return struct.pack("!HHIHBB8s", first, 0, ifindex, 1, 0, 6, _mac(p.src) + b"\0\0") + tags + body
    if vlans:
        raise ValueError(f"VLAN tags need an Ethernet or Linux cooked link type, not {linktype}")
    if linktype == RAW or linktype == (IPV6 if v6 else IPV4):
        return body
    if linktype == NULL:
        return struct.pack("<I", 30 if v6 else 2) + body
    if linktype == LOOP:
        return struct.pack(">I", 24 if v6 else 2) + body
    if linktype == NFLOG:
        tlv = struct.pack("<HH", 4 + len(body), 9) + body + b"\0" * (-len(body) % 4)
        hdr = struct.pack("<HH", 8, 1) + struct.pack("!HBx", etype, 1)  # NFULA_PACKET_HDR: protocol, hook
        return struct.pack("!BBH", 10 if v6 else 2, 0, 0) + hdr + tlv
    raise ValueError(f"link type {linktype} is not written by hairpin")
