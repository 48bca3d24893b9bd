"""The captures of the fast-path campaign (benchmarks/fuzz_pcap.py): traffic, frames, files and their damage.

What it knows: how to build small captures the analyser tells apart (hairpins, healthy handshakes, lone SYNs,
server resets, data segments, SYN floods, hairpins and healthy connections as a node's capture shows them
(NAT views), times on the analyser's edges: 130 s to join, 135 s to forget,
looks every 10 s, 4 to 5 s out of order; ISNs that collide), as frames of every fast link type and tunnel
(``hairpin.parsers.frames.frame``, and crafted tunnels: Geneve with options, GRE with its optional fields,
IP-in-IP of either version, VXLAN on any port), written as classic pcap (both byte orders, micro- and
nanoseconds) or pcapng (several interfaces and time resolutions, clocks past 2**53 ticks, skipped blocks),
and how to damage them (record headers, IP, TCP and tunnel headers, records cut, duplicated, swapped,
zero-length or longer than their frame, times sent back, bytes that read as record headers, a second file
header, files cut, concatenated or with garbage after them).  ``make_case`` draws one case.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

from hairpin.model.net import V6, Flags, Packet
from hairpin.parsers import frames, pcap

__all__ = ["CHUNKS", "LINKS", "Rec", "make_case", "mutate_bytes", "pcap_bytes", "pcapng_bytes"]

SYN, ACK, RST, PSH = Flags.SYN, Flags.ACK, Flags.RST, Flags.PSH
LINKS = (frames.ETHERNET, frames.SLL, frames.SLL2, frames.RAW, frames.IPV4, frames.IPV6)
CHUNKS = (64, 100, 333, 1000, 4096, 1 << 20)
# ---------------------------------------------------------------------------------------------- traffic


def _addr(rng: random.Random, v6: bool) -> int:
    pool = [0xC0A8001B, 0xC0A80067, 0xC0A80203, 0x7F000001, 0x0A000005]
    a = rng.choice(pool) + rng.randrange(3)
    return (V6 | (0xFD00 << 112) | a) if v6 else a


def traffic(rng: random.Random) -> list[pcap.PacketRecord]:
    """A few connections of every kind the analyser tells apart, in time order give or take a jitter."""
    out: list[pcap.PacketRecord] = []
    t0 = rng.choice([1.7e9, 0.5, 100.0, 4294967000.0, 1.7e9 + 0.999999])
    isn_pool = [rng.randrange(1 << 32) for _ in range(rng.randint(2, 12))] + [0, 0xFFFFFFFF]
    for _ in range(rng.randint(1, 14)):
        v6 = rng.random() < 0.3
        c, v, e = _addr(rng, v6), _addr(rng, v6), _addr(rng, v6)
        if rng.random() < 0.1:
            v = c  # a node calling itself through the NLB
        cp, vp, ep = rng.randrange(1024, 65536), rng.choice([80, 443]), rng.choice([31468, 30080])
        s = rng.choice(isn_pool)
        t = t0 + rng.uniform(0, rng.choice([2.0, 30.0, 400.0]))
        kind = rng.choice(["hairpin", "hairpin", "healthy", "healthy", "lone", "reset", "data", "masq", "node",
                           "target"])  # fmt: skip
        if kind == "hairpin":
            for r in range(rng.randint(1, 4)):
                at = t + r * rng.choice([0.1, 1.0, 2.0, 140.0])
                out += [pcap.PacketRecord(at, None, Packet(c, cp, v, vp, SYN, s)),
                        pcap.PacketRecord(at + 0.0004, None, Packet(e, ep, c, cp, SYN | ACK, 7, s + 1)),
                        pcap.PacketRecord(at + 0.0005, None, Packet(c, cp, e, ep, RST, s + 1))]  # fmt: skip
        elif kind == "healthy":
            out += [pcap.PacketRecord(t, None, Packet(c, cp, v, vp, SYN, s)),
                    pcap.PacketRecord(t + rng.choice([0.0003, 129.9, 131.0]), None,
                                      Packet(v, vp, c, cp, SYN | ACK, 9, s + 1))]  # fmt: skip
        elif kind == "lone":
            out.append(pcap.PacketRecord(t, None, Packet(c, cp, v, vp, SYN, s)))
        elif kind == "reset":
            out += [pcap.PacketRecord(t, None, Packet(c, cp, v, vp, SYN, s)),
                    pcap.PacketRecord(t + 0.001, None, Packet(v, vp, c, cp, RST | ACK, 0, s + 1))]  # fmt: skip
        elif kind == "node":  # a hairpin as tcpdump -i any on the client's node sees it (NAT views, maybe late)
            m, b, late = _addr(rng, v6), _addr(rng, v6), rng.choice([0.00021, 0.00021, 0.25])
            m = e if rng.random() < 0.5 else m  # MASQUERADE to the node's own address, or another's
            for r in range(rng.randint(1, 3)):
                at = t + r * rng.choice([0.1, 1.0, 2.0])
                out += [pcap.PacketRecord(at, None, Packet(c, cp, v, vp, SYN, s)),
                        pcap.PacketRecord(at + 0.000005, None, Packet(c, cp, v, vp, SYN, s)),
                        pcap.PacketRecord(at + 0.0002, None, Packet(c, cp, e, ep, SYN, s)),
                        pcap.PacketRecord(at + late, None, Packet(m, 5555, b, 8080, SYN, s)),
                        pcap.PacketRecord(at + 0.0003, None, Packet(b, 8080, m, 5555, SYN | ACK, 3, s + 1)),
                        pcap.PacketRecord(at + 0.0004, None, Packet(e, ep, c, cp, SYN | ACK, 3, s + 1)),
                        pcap.PacketRecord(at + 0.0005, None, Packet(c, cp, e, ep, RST, s + 1)),
                        pcap.PacketRecord(at + 0.00051, None, Packet(m, 5555, b, 8080, RST, s + 1))]  # fmt: skip
        elif kind == "target":  # a healthy connection on the node the NLB sent it to (a NAT view, maybe late)
            m, b = _addr(rng, v6), _addr(rng, v6)
            m = e if rng.random() < 0.5 else m  # MASQUERADE to the address the SYN went to, or another
            out += [pcap.PacketRecord(t, None, Packet(c, cp, e, ep, SYN, s)),
                    pcap.PacketRecord(t + rng.choice([0.0001, 0.25]), None, Packet(m, 5555, b, 8080, SYN, s)),
                    pcap.PacketRecord(t + 0.0003, None, Packet(b, 8080, m, 5555, SYN | ACK, 3, s + 1)),
                    pcap.PacketRecord(t + 0.0004, None, Packet(e, ep, c, cp, SYN | ACK, 3, s + 1))]  # fmt: skip
        elif kind == "masq":
            m = _addr(rng, v6)
            out += [pcap.PacketRecord(t, None, Packet(c, cp, v, vp, SYN, s)),
                    pcap.PacketRecord(t + 0.01, None, Packet(m, 5555, e, ep, SYN, s)),
                    pcap.PacketRecord(t + 0.02, None, Packet(e, ep, m, 5555, SYN | ACK, 3, s + 1)),
                    pcap.PacketRecord(t + 0.03, None, Packet(v, vp, c, cp, SYN | ACK, 3, s + 1))]  # fmt: skip
        else:
            out += [pcap.PacketRecord(t, None, Packet(c, cp, v, vp, ACK, s + 1, 10)),
                    pcap.PacketRecord(t + 0.001, None, Packet(c, cp, v, vp, ACK | PSH, s + 1, 10, payload=b"GET /\r\n"))]  # fmt: skip
    out.sort(key=lambda r: r.t)
    if rng.random() < 0.3:  # a little out of time order (several CPUs), or a lot
        jitter = rng.choice([0.001, 3.0, 10.0])
        out = [pcap.PacketRecord(r.t + rng.uniform(-jitter, 0), r.interface, r.packet) for r in out]
    return out


def traffic_timing(rng: random.Random) -> list[pcap.PacketRecord]:
    """Many connections whose times sit on the analyser's edges (130 s to join, 135 s to forget, looks every
    10 s, views 0.2 s apart, 4 to 5 s out of order) and whose ISNs collide, written plain (so the rows are
    left out and replayed)."""
    out: list[pcap.PacketRecord] = []
    t = rng.choice([1.7e9, 0.25, 1000.0])
    isns = [rng.randrange(1 << 32) for _ in range(rng.randint(1, 6))]
    edges = [0.0, 0.0001, 0.1999, 0.2, 0.2001, 1.0, 3.9999, 4.0, 4.0001, 5.0, 9.9999, 10.0, 10.0001, 129.9999, 130.0,
             130.0001, 134.9999, 135.0, 135.0001, 140.0]  # fmt: skip
    hosts = [0xC0A8001B, 0xC0A80067, 0xC0A80203, 0x7F000001]
    for _ in range(rng.randint(5, 120)):
        v6 = rng.random() < 0.2
        c, v, e = (_addr(rng, v6) if rng.random() < 0.3 else rng.choice(hosts) | (V6 if v6 else 0) for _ in range(3))
        cp, vp, ep = rng.choice([40000, 40001, 5555]), 80, rng.choice([31468, 80])
        s = rng.choice(isns) if rng.random() < 0.3 else rng.randrange(1 << 32)
        t += rng.choice(edges) if rng.random() < 0.7 else rng.uniform(0, 20)
        kind = rng.choice(["hairpin", "healthy", "lone", "lone", "reset", "synack", "rst"])
        at = t
        if kind == "hairpin":
            for _r in range(rng.randint(1, 3)):
                out += [pcap.PacketRecord(at, None, Packet(c, cp, v, vp, SYN, s)),
                        pcap.PacketRecord(at + rng.choice(edges[:6]), None, Packet(e, ep, c, cp, SYN | ACK, 7, s + 1)),
                        pcap.PacketRecord(at + rng.choice(edges[:8]), None, Packet(c, cp, e, ep, RST, s + 1))]  # fmt: skip
                at += rng.choice(edges)
        elif kind == "healthy":
            out += [pcap.PacketRecord(at, None, Packet(c, cp, v, vp, SYN, s)),
                    pcap.PacketRecord(at + rng.choice(edges), None, Packet(v, vp, c, cp, SYN | ACK, 9, s + 1))]  # fmt: skip
        elif kind == "lone":
            out.append(pcap.PacketRecord(at, None, Packet(c, cp, v if rng.random() < 0.8 else c, vp, SYN, s)))
        elif kind == "reset":
            out += [pcap.PacketRecord(at, None, Packet(c, cp, v, vp, SYN, s)),
                    pcap.PacketRecord(at + rng.choice(edges), None, Packet(v, vp, c, cp, RST | ACK, 0, s + 1))]  # fmt: skip
        elif kind == "synack":
            out.append(pcap.PacketRecord(at, None, Packet(v, vp, c, cp, SYN | ACK, 9, s + 1)))
        else:
            out.append(pcap.PacketRecord(at, None, Packet(c, cp, e, ep, rng.choice([RST, RST | ACK]), s + 1, s + 1)))
    out.sort(key=lambda r: r.t)
    if rng.random() < 0.5:  # out of order by less than 4 s (the replay's bound), or just past it
        late = rng.choice([0.5, 3.9, 4.0, 4.1])
        out = [pcap.PacketRecord(max(0.0, r.t - rng.choice([0.0, 0.0, rng.uniform(0, late), late])), None, r.packet)
               for r in out]  # fmt: skip
    if rng.random() < 0.2 and len(out) > 2:  # a few rows written out of place
        for _ in range(rng.randint(1, 3)):
            a, b = rng.randrange(len(out)), rng.randrange(len(out))
            out[a], out[b] = out[b], out[a]
    return out


def traffic_flood(rng: random.Random) -> list[pcap.PacketRecord]:
    """A SYN flood (lone SYNs by the hundred) with hairpins, healthy handshakes and resets among it, over a few
    hundred seconds: many attempts open at once, so the looks for attempts to forget skip and close by the
    quarter rule while the lone SYNs are left out."""
    out: list[pcap.PacketRecord] = []
    t = rng.choice([1.7e9, 10.0])
    span = rng.choice([50.0, 300.0, 900.0])
    n = rng.randint(100, 1500)
    six = rng.random() < 0.4  # an IPv6 flood: its sources each in a prefix of its own
    for k in range(n):
        at = t + rng.uniform(0, span)
        c, v = 0xC6336400 + rng.randrange(1 << 8), rng.choice([0xC0A80067, 0x7F000001, 0xC6336401])
        if six:
            c, v = V6 | rng.getrandbits(128), V6 | (0xFD00 << 112) | rng.choice([5, 1])
        s = rng.randrange(1 << 32)
        out.append(pcap.PacketRecord(at, None, Packet(c, 1024 + k % 60000, v, 80, SYN, s)))
    out += traffic_timing(rng)
    out.sort(key=lambda r: r.t)
    if rng.random() < 0.3:
        out = [pcap.PacketRecord(r.t - rng.choice([0.0, rng.uniform(0, 3.9)]), None, r.packet) for r in out]
    return out


def frame_of(rng: random.Random, p: Packet, linktype: int, ifindex: int, ports: list[int]) -> bytes:
    v6 = p.src > 0xFFFFFFFF
    if linktype == frames.IPV4 and v6:
        linktype = frames.RAW
    how: dict[str, Any] = {}
    r = rng.random()
    if r < 0.15 and linktype in (frames.ETHERNET, frames.SLL, frames.SLL2):
        how["vlans"] = rng.choice([(0x8100,), (0x88A8, 0x8100), (0x9100,)])
    elif r < 0.3 and linktype != frames.IPV6:
        how["tunnel"] = rng.choice(["vxlan", "vxlan", "vxlan-8472", "geneve", "ipip", "gre"])
        how["vxlan_port"] = rng.choice(ports)
    elif r < 0.45 and linktype != frames.IPV6:
        return tunnel_frame(rng, p, linktype)
    elif r < 0.5 and linktype == frames.IPV6 and not v6:
        return frames.frame(p, frames.RAW, ifindex)  # an IPv4 packet in a raw IPv6 link type
    if linktype == frames.IPV6 and not v6 and "tunnel" not in how:
        return frames.frame(p, frames.RAW, ifindex)
    return frames.frame(p, linktype, ifindex, **how)


def _link(linktype: int, body: bytes, etype: int = 0x0800) -> bytes:
    """``body`` (an IP packet) behind ``linktype``'s fixed header."""
    if linktype == frames.ETHERNET:
        return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02" + struct.pack("!H", etype) + body
    if linktype == frames.SLL:
        return struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\0\0", etype) + body
    if linktype == frames.SLL2:
        return struct.pack("!HHIHBB8s", etype, 0, 2, 1, 0, 6, b"\x02" * 6 + b"\0\0") + body
    return body


def tunnel_frame(rng: random.Random, p: Packet, linktype: int) -> bytes:
    """``p`` inside one tunnel of any shape the decoder opens or refuses: Geneve with options and any payload
    type, GRE with any of its optional fields, IP-in-IP announcing either version, VXLAN on any port; the
    outer IPv4 header's total length exact, 0, short or long, a first fragment now and then."""
    inner = frames._ip_tcp(p)
    v6 = p.src > 0xFFFFFFFF
    eth = b"\x02\x00\x00\x00\x00\x03\x02\x00\x00\x00\x00\x04" + (b"\x86\xdd" if v6 else b"\x08\x00")
    kind = rng.choice(["geneve", "gre", "ipip", "vxlan"])
    if kind == "geneve":
        opt = rng.choice([0, 0, 1, 2, 5, 63])
        ptype = rng.choice([0x6558, 0x6558, 0x0800, 0x86DD, 0x0806])
        payload = (eth if ptype == 0x6558 else b"") + inner
        head = struct.pack("!BBHI", (rng.choice([0, 0, 0, 1]) << 6) | opt, 0, ptype, 42 << 8) + bytes(4 * opt)
        body, proto, port = head + payload, 17, rng.choice([6081, 6081, 4789])
    elif kind == "vxlan":
        body, proto, port = struct.pack("!II", rng.choice([0x08000000, 0x08000000, 0]), 42 << 8) + eth + inner, 17, \
            rng.choice([4789, 8472, 4790, 6081])  # fmt: skip
    elif kind == "gre":
        flags = rng.choice([0, 0x8000, 0x2000, 0x1000, 0xB000, 0x4000, 0x0001, 0x2000 | 0x0800])
        ptype = rng.choice([0x0800, 0x86DD, 0x6558, 0x6558, 0x880B])
        words = bin(flags & 0xB000).count("1")
        payload = (eth if ptype == 0x6558 else b"") + inner
        body, proto, port = struct.pack("!HH", flags, ptype) + bytes(4 * words) + payload, 47, 0
    else:
        body, proto, port = inner, rng.choice([4, 41]) if rng.random() < 0.2 else (41 if v6 else 4), 0
    if proto == 17:
        body = struct.pack("!HHHH", 49152, port, 8 + len(body), 0) + body
    total = 20 + len(body)
    total = rng.choice([total, total, total, 0, total - rng.randint(1, 30), total + rng.randint(1, 30)])
    frag = rng.choice([0x4000, 0x4000, 0x2000, 0])
    outer = struct.pack("!BBHHHBBHII", 0x45, 0, max(total, 0), 0, frag, 64, proto, 0, 0x0A000001, 0x0A000002) + body
    return _link(linktype, outer)


# ---------------------------------------------------------------------------------------------- files


class Rec:
    """One record as it will be written: header fields and frame bytes, each free to be made wrong."""

    def __init__(self, t: float, data: bytes, iface: int = 0, comment: str = "") -> None:
        self.t, self.data, self.iface, self.comment = t, data, iface, comment
        self.incl: int | None = None  # None: len(data)
        self.orig: int | None = None
        self.frac: int | None = None  # a fraction of a second as written (None: from t)
        self.sec: int | None = None


def pcap_bytes(recs: list[Rec], linktype: int, order: str = "<", nanos: bool = False, snaplen: int = 262144,
               header: bool = True) -> bytes:  # fmt: skip
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)] if header else []
    per = 1_000_000_000 if nanos else 1_000_000
    for r in recs:
        ticks = round(max(r.t, 0.0) * per)
        sec, frac = divmod(ticks, per)
        sec = r.sec if r.sec is not None else sec
        frac = r.frac if r.frac is not None else frac
        incl = len(r.data) if r.incl is None else r.incl
        orig = len(r.data) if r.orig is None else r.orig
        out.append(struct.pack(order + "IIII", sec & 0xFFFFFFFF, frac & 0xFFFFFFFF, incl & 0xFFFFFFFF,
                               orig & 0xFFFFFFFF) + r.data)  # fmt: skip
    return b"".join(out)


def _ng_block(order: str, kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack(order + "II", kind, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)


def _ng_opt(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def pcapng_bytes(rng: random.Random, recs: list[Rec], linktype: int, order: str, ifaces: int) -> bytes:
    shb = _ng_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    out = [struct.pack("<I", 0x0A0D0D0A) + shb[4:]]
    res = [rng.choice([6, 9, 0x86, 3, 0x80 | 20, 0, 0x80]) for _ in range(ifaces)]
    shift = rng.choice([0, 0, 0, 1 << 55, 1 << 62, (1 << 64) - (1 << 40)])  # ticks past 2**53: floats lose TICK

    def idb(k: int) -> bytes:
        opts = _ng_opt(order, 2, f"if{k}".encode()) + _ng_opt(order, 9, bytes([res[k]])) + _ng_opt(order, 0, b"")
        return _ng_block(order, 1, struct.pack(order + "HHI", linktype, 0, 262144) + opts)

    out.append(idb(0))
    later = rng.randrange(len(recs) + 1) if recs else 0
    for n, r in enumerate(recs):
        if n == later:
            out += [idb(k) for k in range(1, ifaces)]
            if rng.random() < 0.2:  # a block the reader skips (a custom block, type 0xBAD)
                out.append(_ng_block(order, 0xBAD, b"\x01\x02\x03\x04" * rng.randint(0, 3)))
        iface = r.iface % ifaces if n >= later else 0
        unit = 2.0 ** -(res[iface] & 0x7F) if res[iface] & 0x80 else 10.0 ** -res[iface]
        ticks = min(round(max(r.t, 0.0) / unit) + shift, (1 << 64) - 1)
        incl = len(r.data) if r.incl is None else r.incl
        orig = len(r.data) if r.orig is None else r.orig
        opts = _ng_opt(order, 1, r.comment.encode()) + _ng_opt(order, 0, b"") if r.comment else b""
        body = struct.pack(order + "IIIII", iface, (ticks >> 32) & 0xFFFFFFFF, ticks & 0xFFFFFFFF, incl & 0xFFFFFFFF,
                           orig & 0xFFFFFFFF) + r.data + b"\0" * (-len(r.data) % 4) + opts  # fmt: skip
        out.append(_ng_block(order, 6, body))
    if later >= len(recs):
        out += [idb(k) for k in range(1, ifaces)]
    return b"".join(out)


# ---------------------------------------------------------------------------------------------- mutations

_HDR_SPOTS = (0, 1, 2, 3, 6, 7, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 24, 32, 33, 34, 35, 36, 37, 38,
              40, 46, 47, 50, 52, 53, 54, 55, 60, 66, 67, 74)  # fmt: skip


def mutate_records(rng: random.Random, recs: list[Rec]) -> str:
    """One structural or byte mutation of ``recs`` (in place); its name."""
    if not recs:
        return "none"
    k = rng.randrange(len(recs))
    r = recs[k]
    what = rng.choice(["flip", "flip", "flip", "byte", "cut", "zero", "incl>orig", "incl>data", "incl<data", "dup",
                       "swap", "back", "frac", "lookalike", "ihl", "total", "frag", "proto", "doff", "flags",
                       "etype", "sec", "tunnel", "tunnel", "inner"])  # fmt: skip
    d = bytearray(r.data)
    if what == "flip" and d:
        i = rng.randrange(len(d))
        d[i] ^= 1 << rng.randrange(8)
    elif what == "byte" and d:
        i = min(rng.choice(_HDR_SPOTS), len(d) - 1)
        d[i] = rng.choice([0, 1, 4, 5, 6, 0x11, 0x29, 0x2C, 0x40, 0x45, 0x46, 0x4F, 0x60, 0x81, 0x86, 0xDD, 0xFF])
    elif what == "cut":
        d = d[: rng.randrange(len(d) + 1)]
        if rng.random() < 0.5:
            r.orig = len(r.data)  # snaplen-cut: the original length kept
    elif what == "zero":
        d = bytearray()
    elif what == "incl>orig":
        r.orig = max(0, len(d) - rng.randint(1, 40))
    elif what == "incl>data":
        r.incl = len(d) + rng.randint(1, 100)  # the record's length reaches into the next record
    elif what == "incl<data":
        r.incl = max(0, len(d) - rng.randint(1, 30))
    elif what == "dup":
        recs.insert(k, Rec(r.t, bytes(d), r.iface, r.comment))
    elif what == "swap" and len(recs) > 1:
        j = rng.randrange(len(recs))
        recs[k], recs[j] = recs[j], recs[k]
    elif what == "back":
        r.t = max(0.0, r.t - rng.choice([0.5, 4.5, 6.0, 200.0, 1e6]))
    elif what == "frac":
        r.frac = rng.choice([999_999, 1_000_000, 1_000_000_000, 0xFFFFFFFF])
    elif what == "sec":
        r.sec = rng.choice([0, 1 << 24, 0xFFFFFFFF, 0x7FFFFFFF])
    elif what == "lookalike":  # payload bytes that read as a plausible record header at the same time
        sec, frac = int(r.t), int((r.t % 1) * 1e6)
        fake = struct.pack("<IIII", sec & 0xFFFFFFFF, frac, 20, 20)
        d += fake * rng.randint(1, 3) + bytes(rng.randrange(256) for _ in range(rng.randint(0, 24)))
    else:
        ip = _ip_start(bytes(d))
        if ip is None:
            return what + "(no ip)"
        i = ip
        if what == "ihl" and i < len(d):
            d[i] = (d[i] & 0xF0) | rng.choice([0, 1, 4, 5, 6, 15])
        elif what == "total" and i + 3 < len(d):
            d[i + 2 : i + 4] = struct.pack("!H", rng.choice([0, 1, 19, 20, 39, 40, 41, 60, 0xFFFF]))
        elif what == "frag" and i + 7 < len(d):
            d[i + 6 : i + 8] = struct.pack("!H", rng.choice([0x2000, 0x0001, 0x4000, 0x1FFF, 0x8000]))
        elif what == "proto" and i + 9 < len(d):
            if d[i] >> 4 == 6:
                d[i + 6] = rng.choice([0, 17, 43, 44, 60, 51, 59, 4])
            else:
                d[i + 9] = rng.choice([17, 4, 41, 47, 1, 0])
        elif what in ("doff", "flags"):
            t = i + (40 if d[i] >> 4 == 6 else (d[i] & 15) * 4)
            if what == "doff" and t + 12 < len(d):
                d[t + 12] = rng.choice([0, 1, 4, 5, 15]) << 4
            elif t + 13 < len(d):
                d[t + 13] = rng.choice([0, 2, 4, 6, 0x12, 0x14, 0x16, 0x10, 0x3F, 0xFF, 0xC2])
        elif what == "tunnel" and i + 40 < len(d):  # GRE flags and type, UDP port, VXLAN flags, Geneve length/type
            at = min(i + rng.choice([20, 21, 22, 23, 24, 28, 29, 30, 31, 36, 48, 49]), len(d) - 1)
            d[at] = rng.choice([0x00, 0x08, 0x10, 0x12, 0x17, 0x20, 0x21, 0x30, 0x40, 0x41, 0x65, 0x80, 0x86, 0xB0,
                                0xB5, 0xC1, 0xDD, 0x3F, 0x58, 0xFF])  # fmt: skip
        elif what == "inner" and i + 90 < len(d):  # the inner headers of a tunnelled frame
            at = min(i + rng.choice([50, 51, 52, 53, 56, 57, 59, 70, 82, 83, 90]), len(d) - 1)
            d[at] = rng.choice([0x00, 0x06, 0x11, 0x20, 0x28, 0x45, 0x46, 0x60, 0x86, 0xDD, 0x12, 0x02, 0x04, 0xFF])
        elif what == "etype" and i >= 2:
            d[i - 2 : i] = rng.choice([b"\x81\x00", b"\x08\x06", b"\x86\xdd", b"\x08\x00", b"\x88\xa8"])
    r.data = bytes(d)
    return what


def _ip_start(d: bytes) -> int | None:
    """Where an IP header seems to start in a generated frame (its first 0x45 or 0x6x after 0 to 24 bytes)."""
    for i in (0, 14, 16, 18, 20, 24):
        if i < len(d) and (d[i] == 0x45 or d[i] >> 4 == 6) and (i == 0 or d[i - 2 : i] in (b"\x08\x00", b"\x86\xdd")):
            return i
    return None


def mutate_bytes(rng: random.Random, blob: bytes) -> tuple[bytes, str]:
    """A mutation of a whole file's bytes."""
    what = rng.choice(["truncate", "truncate", "flip", "garbage", "header", "concat-self", "none", "none"])
    b = bytearray(blob)
    if what == "truncate" and len(b) > 24:
        b = b[: rng.randrange(20, len(b) + 1)]
    elif what == "flip" and len(b) > 24:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(24, len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif what == "garbage":
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif what == "header" and len(b) > 40:  # a second file header (a concatenated capture)
        at = rng.randrange(24, len(b))
        b = b[:at] + bytes(b[:24]) + b[at:]
    elif what == "concat-self":
        b += bytes(b)
    return bytes(b), what


# ---------------------------------------------------------------------------------------------- one case


def make_case(rng: random.Random, where: Path) -> tuple[list[Path], str]:
    """One to three files for a case, and a description."""
    paths: list[Path] = []
    desc: list[str] = []
    timing = rng.random() < 0.5
    gen = (traffic_flood if rng.random() < 0.1 else traffic_timing) if timing else traffic
    shared = gen(rng)
    for n in range(rng.choice([1, 1, 1, 1, 2, 3])):
        recs_in = shared if n == 0 or rng.random() < 0.5 else gen(rng)
        if n and rng.random() < 0.5:
            ahead = rng.choice([0.0, 0.0001, 0.002, 0.3])  # another node's clock, and each record a little off it
            recs_in = [pcap.PacketRecord(r.t + ahead + rng.choice([0.0, 0.0001]), None, r.packet) for r in recs_in]
        linktype = rng.choice(LINKS)
        ports = [4789, 8472, 4790]
        plain = timing and rng.random() < 0.8
        if plain and linktype in (frames.IPV4, frames.IPV6):
            linktype = frames.RAW
        recs = [Rec(r.t, frames.frame(r.packet, linktype, 1 + i % 2) if plain else
                    frame_of(rng, r.packet, linktype, 1 + i % 2, ports), i % 3,
                    rng.choice(["", "", "c", "é"])) for i, r in enumerate(recs_in)]  # fmt: skip
        muts = [mutate_records(rng, recs) for _ in range(rng.choice([0, 0, 0, 1, 2]) if timing else
                                                         rng.choice([0, 1, 1, 2, 3, 6]))]  # fmt: skip
        ng = rng.random() < 0.3
        if ng:
            blob = pcapng_bytes(rng, recs, linktype, rng.choice("<>"), rng.randint(1, 3))
            form = "pcapng"
        else:
            order, nanos = rng.choice("<>"), rng.random() < 0.3
            blob = pcap_bytes(recs, linktype, order, nanos)
            form = f"pcap{order}{'ns' if nanos else 'us'}"
        blob, bm = mutate_bytes(rng, blob) if rng.random() < 0.4 else (blob, "none")
        p = where / f"f{n}.{'pcapng' if ng else 'pcap'}"
        p.write_bytes(blob)
        paths.append(p)
        desc.append(f"{form} lt={linktype} n={len(recs)} muts={muts} file={bm}")
    if rng.random() < 0.05:  # one file named twice: each copy read and merged
        paths.append(paths[0])
        desc.append("the first file again")
    return paths, "; ".join(desc)
