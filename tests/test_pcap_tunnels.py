"""Geneve, IP-in-IP and GRE (and VXLAN) of the commonest shape are read from the first pass's columns
(hairpin.parsers.fastscan_tunnels), with the streaming reader's answer on every frame: exact verdicts of the
tunnel test on crafted frames next to the decoder's, and hypothesis captures (several tunnels and plain frames
in one file, edits that send frames to the decoder, pcap and pcapng, several files) whose rows, skip counts
and JSON are those of the streaming reader, the plain tunnelled rows taken as columns."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.diagnose import capture
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import frames, pcap

np = pytest.importorskip("numpy")

from hairpin.parsers.fastscan_shapes import _Bytes  # noqa: E402
from hairpin.parsers.fastscan_tunnels import tunnelled  # noqa: E402
from test_pcap_fast import _pcapng, both  # noqa: E402
from test_pcap_groups import NODES, SHAPES, connection  # noqa: E402
from test_pcap_vxlan import _six, write  # noqa: E402

_OUTER = (ip_int("10.0.0.1"), ip_int("10.0.0.2"))
C, K, S, R = 0x8000, 0x2000, 0x1000, 0x4000  # GRE's checksum, key, sequence and routing bits


def _link(linktype: int) -> bytes:
    mac = b"\x02\x00\x0a\x00\x00\x01"
    return {frames.ETHERNET: mac + mac + b"\x08\x00", frames.SLL: struct.pack("!HHH8sH", 0, 1, 6, mac + b"\0\0", 0x0800),
            frames.SLL2: struct.pack("!HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, mac + b"\0\0"), frames.RAW: b""}[linktype]  # fmt: skip


def _eth(p: Packet, body: bytes, vlan: bool = False) -> bytes:
    etype = struct.pack("!H", 0x86DD if p.src > 0xFFFFFFFF else 0x0800)
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + (b"\x81\x00\x00\x64" if vlan else b"") + etype + body


def outer(p: Packet, tunnel: str, words: int = 0, bits: int = K, ptype: int | None = None, version: int = 0,
          proto: int | None = None, vlan: bool = False) -> bytes:  # fmt: skip
    """``p`` inside ``tunnel`` as the outer IPv4 packet's bytes.  geneve (Ethernet inside) and geneve-ip: ``words``
    option words (1 to 63 of them written), ``version``; gre (IP inside) and gre-eth: the flag ``bits`` (each of C,
    K, S adds its word), ``version``; ipip: the outer ``proto`` (default: by the inner family); vxlan; ``ptype``
    overrides the protocol type, ``vlan`` tags the inner Ethernet frame."""
    body = frames._ip_tcp(p)
    etype = 0x86DD if p.src > 0xFFFFFFFF else 0x0800
    eth = _eth(p, body, vlan)
    if tunnel in ("geneve", "geneve-ip", "vxlan"):
        if tunnel == "vxlan":
            port, head = 4789, struct.pack("!II", 0x08000000, 42 << 8) + eth
        else:
            pt = ptype if ptype is not None else 0x6558 if tunnel == "geneve" else etype
            head = struct.pack("!BBHI", version << 6 | words, 0, pt, 42 << 8) + b"\x01\x02\x03\x04" * words
            port, head = 6081, head + (eth if tunnel == "geneve" else body)
        return frames._ip_packet(*_OUTER, 17, struct.pack("!HHHH", 50000, port, 8 + len(head), 0) + head)
    if tunnel == "ipip":
        return frames._ip_packet(*_OUTER, proto or (41 if etype == 0x86DD else 4), body)
    if tunnel in ("gre", "gre-eth"):
        pt = ptype if ptype is not None else 0x6558 if tunnel == "gre-eth" else etype
        extra = b"".join(struct.pack("!I", 7 + n) for n, b in enumerate((C, K, S)) if bits & b)
        return frames._ip_packet(
            *_OUTER, 47, struct.pack("!HH", bits | version, pt) + extra + (eth if tunnel == "gre-eth" else body)
        )
    raise ValueError(tunnel)


def verdict(
    data: bytes, linktype: int = frames.ETHERNET, ports: frozenset[int] = frames.VXLAN_PORTS
) -> tuple[Any, ...]:
    """The tunnel test's answer on one frame (4, 6 or None; the inner TCP header's offset, the outer end) and
    the decoder's (a Packet or a skip reason)."""
    buf = bytearray(data)
    s, end = np.array([0]), np.array([len(data)])
    in4, in6, tcp, _ip, ostop = tunnelled(_Bytes(buf), s, end, end - s, linktype, ports)
    fam = 4 if in4[0] else 6 if in6[0] else None
    return fam, (int(tcp[0]), int(ostop[0])) if fam else None, frames.decode(bytes(buf), linktype, vxlan=ports)


SYN = Packet(ip_int("192.168.0.10"), 40000, ip_int("192.168.168.103"), 80, Flags.SYN, 7, 0, payload=b"hello")
SYN6 = _six(SYN)


def _fast(data: bytes, tcp: int, fam: int = 4, p: Packet = SYN) -> None:
    got = verdict(data)
    assert got == (fam, (tcp, len(data)), p)


@pytest.mark.parametrize("words", [0, 1, 63])
def test_geneve_with_any_option_length_is_fast(words: int) -> None:
    f = _link(frames.ETHERNET) + outer(SYN, "geneve", words)
    _fast(f, 14 + 20 + 8 + 8 + 4 * words + 14 + 20)
    f = _link(frames.ETHERNET) + outer(SYN6, "geneve-ip", words)
    _fast(f, 14 + 20 + 8 + 8 + 4 * words + 40, 6, SYN6)


def test_geneve_ptypes_versions_and_options_past_the_packet() -> None:
    head = _link(frames.ETHERNET)
    _fast(head + outer(SYN, "geneve-ip"), 14 + 36 + 20)  # 0x0800: IPv4 right after the header
    assert verdict(head + outer(SYN, "geneve-ip", ptype=0x86DD))[::2] == (None, "protocol")  # IPv6 announced, IPv4 in
    assert verdict(head + outer(SYN, "geneve", ptype=0x0806))[::2] == (None, "encapsulation")
    assert verdict(head + outer(SYN, "geneve", version=1))[::2] == (None, "encapsulation")
    f = bytearray(head + outer(SYN, "geneve"))
    f[14 + 28] = 63  # 252 bytes of options announced, none there: past the outer packet's end
    assert verdict(bytes(f))[::2] == (None, "truncated")
    tagged = verdict(head + outer(SYN, "geneve", vlan=True))
    assert tagged[0] is None and tagged[2] == SYN  # a tagged inner frame: the decoder reads it
    assert verdict(head + outer(SYN, "geneve"), ports=frames.VXLAN_PORTS | {6081})[::2] == (None, "encapsulation")
    assert verdict(head + outer(SYN, "vxlan", words=0))[0] == 4


@pytest.mark.parametrize("bits", [0, C, K, S, C | K | S], ids=["none", "C", "K", "S", "CKS"])
def test_gre_with_each_of_c_k_s_is_fast(bits: int) -> None:
    words = bin(bits).count("1")
    _fast(_link(frames.ETHERNET) + outer(SYN, "gre", bits=bits), 14 + 24 + 4 * words + 20)
    _fast(_link(frames.ETHERNET) + outer(SYN6, "gre-eth", bits=bits), 14 + 24 + 4 * words + 14 + 40, 6, SYN6)


def test_gre_routing_or_version_1_is_not_opened() -> None:
    head = _link(frames.ETHERNET)
    assert verdict(head + outer(SYN, "gre", bits=R))[::2] == (None, "encapsulation")
    assert verdict(head + outer(SYN, "gre", version=1))[::2] == (None, "encapsulation")
    assert verdict(head + outer(SYN, "gre", ptype=0x880B))[::2] == (None, "encapsulation")


def test_ipip_families_must_agree() -> None:
    head = _link(frames.ETHERNET)
    _fast(head + outer(SYN, "ipip"), 14 + 40)
    _fast(head + outer(SYN6, "ipip"), 14 + 60, 6, SYN6)
    assert verdict(head + outer(SYN, "ipip", proto=41))[::2] == (None, "protocol")  # IPv6-in-IP holding IPv4
    assert verdict(head + outer(SYN6, "ipip", proto=4))[::2] == (None, "protocol")


@pytest.mark.parametrize("tunnel", ["geneve", "ipip", "gre"])
def test_the_outer_length_bounds_the_inner_packet(tunnel: str) -> None:
    head = _link(frames.ETHERNET)
    for p in (SYN, SYN6):
        f = bytearray(head + outer(p, tunnel) + b"\xab" * 9)  # a trailer after the outer packet
        fam, (_tcp, ostop), got = verdict(bytes(f))
        assert fam == (4 if p is SYN else 6) and ostop == len(f) - 9 and got == p
        struct.pack_into("!H", f, 16, 0)  # total length 0: the frame's end (the inner header bounds the payload)
        fam, (_tcp, ostop), got = verdict(bytes(f))
        assert fam and ostop == len(f) and got == p
        total = len(f) - 9 - 14
        struct.pack_into("!H", f, 16, total - 3)  # ends inside the inner payload: a shorter payload, still fast
        fam, (_tcp, ostop), got = verdict(bytes(f))
        assert fam and ostop == 14 + total - 3 and got.payload == b"he"
        struct.pack_into("!H", f, 16, total - 5 - 8)  # ends inside the inner TCP header
        assert verdict(bytes(f))[::2] == (None, "truncated")
        struct.pack_into("!H", f, 16, total - 5)  # ends right after the inner TCP header: fast, no payload
        fam, (_tcp, ostop), got = verdict(bytes(f))
        assert fam and ostop == 14 + total - 5 and got.payload == b""
        struct.pack_into("!H", f, 16, total - 6)  # one byte short of it
        assert verdict(bytes(f))[::2] == (None, "truncated")


@pytest.mark.parametrize("tunnel", ["geneve", "geneve-ip", "ipip", "gre", "gre-eth"])
def test_the_inner_length_bounds_the_tcp_header(tunnel: str) -> None:
    """An inner IPv4 total length (IPv6 payload length) one byte short of the TCP header: the decoder's
    "truncated", not fast; exactly the TCP header: fast, no payload."""
    for p in (SYN, SYN6):
        f = bytearray(_link(frames.ETHERNET) + outer(p, tunnel))
        ip = len(f) - 20 - 5 - (40 if p is SYN6 else 20)  # the inner IP header
        at, base = (ip + 4, 0) if p is SYN6 else (ip + 2, 20)
        struct.pack_into("!H", f, at, base + 20)
        fam, _where, got = verdict(bytes(f))
        assert fam == (6 if p is SYN6 else 4) and got == Packet(p.src, p.sport, p.dst, p.dport, p.flags, p.seq, p.ack)
        struct.pack_into("!H", f, at, base + 19)
        assert verdict(bytes(f))[::2] == (None, "truncated")


@pytest.mark.parametrize("tunnel", ["geneve", "geneve-ip", "ipip", "gre", "gre-eth"])
def test_inner_ipv4_options_and_ipv6_extension_headers_go_to_the_decoder(tunnel: str) -> None:
    f = bytearray(_link(frames.ETHERNET) + outer(SYN, tunnel))
    ip = len(f) - 20 - 5 - 20  # the inner IPv4 header: 24 bytes, a no-operation option and the end of the list
    f[ip] = 0x46
    f[ip + 20 : ip + 20] = b"\x01\x01\x01\x00"
    struct.pack_into("!H", f, ip + 2, 24 + 25)
    struct.pack_into("!H", f, 16, len(f) - 14)
    fam, _where, got = verdict(bytes(f))
    assert fam is None and got == SYN
    f = bytearray(_link(frames.ETHERNET) + outer(SYN6, tunnel))
    ip = len(f) - 20 - 5 - 40  # the inner IPv6 header: a destination options header (8 bytes) before TCP
    f[ip + 6] = 60
    f[ip + 40 : ip + 40] = b"\x06\x00" + b"\x01\x04\x00\x00\x00\x00"
    struct.pack_into("!H", f, ip + 4, 8 + 25)
    struct.pack_into("!H", f, 16, len(f) - 14)
    fam, _where, got = verdict(bytes(f))
    assert fam is None and got == SYN6


@pytest.mark.parametrize("linktype", [frames.ETHERNET, frames.SLL, frames.SLL2, frames.RAW])
def test_every_fast_link_type(linktype: int) -> None:
    for tunnel in ("geneve", "geneve-ip", "ipip", "gre", "gre-eth", "vxlan"):
        f = _link(linktype) + outer(SYN, tunnel)
        assert verdict(f, linktype)[::2] == (4, SYN)


# ------------------------------------------------------------------------------------- whole captures

#: (tunnel, options) of the frames; "plain" is no tunnel; each of the others is opened by the first pass
KINDS = ("plain", "geneve", "geneve-ip", "ipip", "gre", "gre-eth", "vxlan")
#: edits that send a frame to the decoder or give it another answer
EDITS = ("none", "none", "none", "padding", "zero-total", "outer-short", "fragment", "options", "inner-vlan",
         "version", "snap", "routing", "mismatch")  # fmt: skip


def tunnelled_frame(p: Packet, linktype: int, kind: str, words: int, bits: int, edit: str) -> bytes:
    if kind == "plain":
        return frames.frame(p, linktype)
    version = 1 if edit == "version" else 0
    if edit == "routing":
        bits |= R
    proto = (4 if p.src > 0xFFFFFFFF else 41) if edit == "mismatch" and kind == "ipip" else None
    body = bytearray(outer(p, kind, words, bits, None, version, proto, edit == "inner-vlan"))
    if edit == "padding":
        body += b"\xab" * 9
    elif edit == "zero-total":
        body[2:4] = b"\0\0"
        body += b"\xcd" * 5
    elif edit == "outer-short":
        struct.pack_into("!H", body, 2, len(body) - 12)
    elif edit == "fragment":
        body[6] |= 0x01
    elif edit == "options":
        body[0] = 0x46
        struct.pack_into("!H", body, 2, len(body) + 4)
        body[20:20] = b"\x01\x01\x01\x00"
    elif edit == "snap":
        del body[len(body) - 18 - len(p.payload) :]
    return _link(linktype) + bytes(body)


def _fast_shape(kind: str, edit: str) -> bool:
    """Whether a frame of ``kind`` with ``edit`` is of a shape the first pass opens."""
    if kind == "plain" or edit in ("none", "padding", "zero-total"):
        return True
    applies = {"routing": ("gre", "gre-eth"), "mismatch": ("ipip",), "version": ("geneve", "geneve-ip", "gre", "gre-eth"),
               "inner-vlan": ("geneve", "gre-eth", "vxlan")}  # fmt: skip
    return edit in applies and kind not in applies[edit]


_CONN = st.tuples(st.sampled_from(SHAPES), st.integers(0, 40), st.integers(1, 1 << 31), st.sampled_from(NODES),
                  st.floats(0, 30), st.integers(1, 3), st.floats(0.05, 2.0))  # fmt: skip
_FRAME = st.tuples(st.sampled_from(KINDS), st.sampled_from([0, 1, 2, 63]), st.sampled_from([0, C, K, S, C | K | S]),
                   st.sampled_from(EDITS))  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([frames.ETHERNET, frames.SLL, frames.SLL2, frames.RAW]), st.lists(_CONN, min_size=1, max_size=10),
       st.booleans(), st.lists(_FRAME, min_size=1, max_size=30), st.integers(1, 3), st.booleans())  # fmt: skip
def test_tunnelled_rows_read_from_the_columns_give_the_streaming_answer(
    tmp_path_factory: pytest.TempPathFactory, linktype: int, conns: list[Any], six: bool, how: list[Any], files: int,
    ng: bool
) -> None:  # fmt: skip
    tmp = tmp_path_factory.mktemp("tun")
    recs: list[pcap.PacketRecord] = []
    for n, (shape, c, isn, node, t, rounds, gap) in enumerate(conns):
        recs += connection(shape, ip_int("192.168.0.10") + c, 40000 + n, isn, node, 1_764_547_200.0 + t, rounds, gap)
    recs.sort(key=lambda r: r.t)
    paths = [tmp / (f"t{k}.pcapng" if ng else f"t{k}.pcap") for k in range(files)]
    parts: list[list[tuple[float, bytes]]] = [[] for _ in paths]
    columns: list[list[bool]] = [[] for _ in paths]
    for i, r in enumerate(recs):
        kind, words, bits, edit = how[i % len(how)]
        p = _six(r.packet) if six else r.packet
        parts[i % files].append((r.t, tunnelled_frame(p, linktype, kind, words, bits, edit)))
        if r.packet.flags & (Flags.SYN | Flags.RST):
            columns[i % files].append(_fast_shape(kind, edit))
    for path, rows in zip(paths, parts, strict=True):
        if ng:
            path.write_bytes(_pcapng("<", [(linktype, "eth0", 6)], [(0, t, d, "") for t, d in rows]))
        else:
            write(path, linktype, rows)
    for path, expected in zip(paths, columns, strict=True):
        fast_rd, slow_rd = pcap.read(path, want=6), pcap.read(path, want=6)
        sc = fast_rd.scan()
        assert sc is not None
        assert list(fast_rd) == list(slow_rd)  # every row, field by field, and what was skipped and why
        assert (fast_rd.packets, fast_rd.filtered, fast_rd.reasons) == (
            slow_rd.packets,
            slow_rd.filtered,
            slow_rd.reasons,
        )
        # the unedited tunnelled rows (and the plain ones) are columns; the edited ones were decoded (or skipped)
        assert int(sc.simple.sum()) == sum(expected)
    fast, slow = both(paths)
    assert fast == slow
    answer = capture.analyse_files(paths, frames.VXLAN_PORTS, records=False).to_json()
    assert answer["summary"] == slow["summary"] and answer["hairpins"] == slow["hairpins"]


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "plain"])
def test_hairpins_and_handshakes_in_each_tunnel_are_columns(tmp_path: Path, kind: str) -> None:
    base = 1_764_547_200.0
    recs: list[pcap.PacketRecord] = []
    for n in range(6):
        shape = ("hairpin", "healthy", "lone")[n % 3]
        recs += connection(shape, ip_int("192.168.0.10") + n, 40000 + n, 1000 + n, NODES[0], base + n, 2, 1.0)
    recs.sort(key=lambda r: r.t)
    path = tmp_path / "t.pcap"
    write(
        path, frames.ETHERNET, [(r.t, tunnelled_frame(r.packet, frames.ETHERNET, kind, 2, C | S, "none")) for r in recs]
    )
    rd = pcap.read(path, want=6)
    sc = rd.scan()
    assert sc is not None and bool(sc.simple.all()) and sc.reasons == {}
    assert list(rd) == list(pcap.read(path, want=6))
    fast, slow = both([path])
    assert fast == slow
    assert (fast["summary"]["hairpins"], fast["summary"]["healthy"]) == (2, 2)
