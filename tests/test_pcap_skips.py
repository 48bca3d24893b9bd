"""Frames the full decoder skips as "protocol" (UDP that is no tunnel, ICMP, ARP...) are counted by the first
pass without being decoded (hairpin.parsers.fastscan_shapes._protocol): each frame it counts is one the
decoder skips as "protocol", and files of such frames give the streaming reader's counts and rows."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.model.net import V6, Flags, Packet, ip_int
from hairpin.parsers import frames, pcap

np = pytest.importorskip("numpy")

from hairpin.parsers.fastscan_shapes import _LINK, _Bytes, _protocol  # noqa: E402

CLIENT, VIP = ip_int("192.168.27.239"), ip_int("192.168.168.103")
HEAD = {frames.ETHERNET: 14, frames.SLL: 16, frames.SLL2: 20, frames.RAW: 0, frames.IPV4: 0}
ETYPE_AT = {frames.ETHERNET: 12, frames.SLL: 14, frames.SLL2: 0}


def frame(linktype: int, six: bool, proto: int | None = None, dport: int | None = None, etype: int | None = None,
          first: int | None = None, cut: int = 0) -> bytes:  # fmt: skip
    """A TCP frame (IPv4 or IPv6) with its IP protocol (next header), destination port, EtherType or first IP
    byte changed, then cut to ``cut`` bytes (0: whole)."""
    src, dst = (V6 | CLIENT, V6 | VIP) if six else (CLIENT, VIP)
    data = bytearray(frames.frame(Packet(src, 40000, dst, 80, Flags.SYN, 77, payload=b"q" * 12), linktype))
    ip = HEAD[linktype]
    if proto is not None:
        data[ip + (6 if six else 9)] = proto
    if dport is not None:
        struct.pack_into("!H", data, ip + (40 if six else 20) + 2, dport)
    if etype is not None and linktype in ETYPE_AT:
        struct.pack_into("!H", data, ETYPE_AT[linktype], etype)
    if first is not None:
        data[ip] = first
    return bytes(data[:cut] if cut else data)


def verdicts(linktype: int, chunk: list[bytes], vxlan: frozenset[int]) -> tuple[list[bool], list[object]]:
    """``_protocol`` of each frame laid end to end in one buffer, and the decoder's answer for each."""
    buf = b"".join(chunk) + bytes(64)  # a chunk holds more than its frames' bytes
    ends = np.cumsum([len(f) for f in chunk]).astype(np.int64)
    s = ends - np.array([len(f) for f in chunk], np.int64)
    mask = _protocol(_Bytes(buf), s, ends, ends - s, linktype, vxlan)
    said = [frames.decode(buf, linktype, "<", 6, int(a), int(b), vxlan) for a, b in zip(s, ends, strict=True)]
    return [bool(x) for x in mask], said


@pytest.mark.parametrize("linktype", sorted(_LINK))
def test_common_skips_are_counted_and_tcp_is_not(linktype: int) -> None:
    vx = frames.VXLAN_PORTS
    four = linktype != frames.IPV4  # IPv6 frames only where the link type can hold them
    cases = {
        "dns over ipv4": (frame(linktype, False, proto=17, dport=53), True),
        "icmp": (frame(linktype, False, proto=1), True),
        "an unknown protocol": (frame(linktype, False, proto=99), True),
        "a later fragment": (_fragment(linktype), True),
        "header length 16": (frame(linktype, False, first=0x44), True),
        "version 5": (frame(linktype, False, first=0x55), True),
        "tcp": (frame(linktype, False), False),
        "vxlan port": (frame(linktype, False, proto=17, dport=4789), False),
        "vxlan 8472": (frame(linktype, False, proto=17, dport=8472), False),
        "geneve port": (frame(linktype, False, proto=17, dport=6081), False),
        "ip in ip": (frame(linktype, False, proto=4), False),
        "gre": (frame(linktype, False, proto=47), False),
        "udp header cut": (frame(linktype, False, proto=17, dport=53, cut=HEAD[linktype] + 27), False),
        "ip header cut": (frame(linktype, False, proto=1, cut=HEAD[linktype] + 19), False),
    }
    if four:
        cases |= {
            "dns over ipv6": (frame(linktype, True, proto=17, dport=53), True),
            "icmpv6": (frame(linktype, True, proto=58), True),
            "hop-by-hop": (frame(linktype, True, proto=0), False),
            "fragment header": (frame(linktype, True, proto=44), False),
            "ipv6 header cut": (frame(linktype, True, proto=58, cut=HEAD[linktype] + 39), False),
        }
    if linktype in ETYPE_AT:
        cases |= {
            "arp": (frame(linktype, False, etype=0x0806), True),
            "lldp": (frame(linktype, False, etype=0x88CC), True),
            "a vlan tag": (frame(linktype, False, etype=0x8100), False),
            "ipv6 ethertype, ipv4 header": (frame(linktype, False, etype=0x86DD), True),
            "link header cut": (frame(linktype, False, etype=0x0806, cut=HEAD[linktype] - 1), False),
        }
    names = sorted(cases)
    mask, said = verdicts(linktype, [cases[k][0] for k in names], vx)
    assert {k: m for k, m in zip(names, mask, strict=True)} == {k: cases[k][1] for k in names}
    assert all(s == frames.PROTOCOL for s, m in zip(said, mask, strict=True) if m)


def _fragment(linktype: int) -> bytes:
    data = bytearray(frame(linktype, False))
    data[HEAD[linktype] + 7] = 1  # fragment offset 1 (8 bytes): a later fragment
    return bytes(data)


_EDIT = st.tuples(st.sampled_from([None, 1, 6, 17, 58, 99, 0, 44, 4, 41, 47]),
                  st.sampled_from([None, 53, 443, 4789, 8472, 6081]),
                  st.sampled_from([None, 0x0806, 0x88CC, 0x0800, 0x86DD, 0x8100, 0x88A8]),
                  st.sampled_from([None, 0x45, 0x46, 0x44, 0x4F, 0x65, 0x60, 0x35, 0x00]),
                  st.integers(0, 90), st.booleans())  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(_LINK)), st.lists(_EDIT, min_size=1, max_size=12),
       st.sampled_from([frames.VXLAN_PORTS, frozenset({53}), frozenset({6081, 4789})]))  # fmt: skip
def test_every_frame_counted_is_a_protocol_skip(linktype: int, edits: list[tuple[object, ...]],
                                                vxlan: frozenset[int]) -> None:  # fmt: skip
    """Whatever the protocol, port, EtherType, first IP byte and length: a frame ``_protocol`` counts is one the
    decoder skips as "protocol" (with the VXLAN ports given)."""
    chunk = [frame(linktype, bool(six) and linktype != frames.IPV4, proto, dport, etype, first, cut)  # type: ignore[arg-type]
             for proto, dport, etype, first, cut, six in edits]  # fmt: skip
    mask, said = verdicts(linktype, chunk, vxlan)
    assert [s for s, m in zip(said, mask, strict=True) if m] == [frames.PROTOCOL] * sum(mask)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(_LINK)), st.lists(_EDIT, max_size=40), st.integers(0, 3))
def test_files_of_skips_read_as_the_streaming_reader(tmp_path_factory: pytest.TempPathFactory, linktype: int,
                                                     edits: list[tuple[object, ...]], syns: int) -> None:  # fmt: skip
    """A capture of such frames among SYNs: the first pass's rows, counts and skip reasons are the streaming
    reader's."""
    chunk = [frame(linktype, bool(six) and linktype != frames.IPV4, proto, dport, etype, first, cut)  # type: ignore[arg-type]
             for proto, dport, etype, first, cut, six in edits] + [frame(linktype, False)] * syns  # fmt: skip
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for n, data in enumerate(chunk):
        out.append(struct.pack("<IIII", 1_700_000_000, n, len(data), len(data)) + data)
    path = tmp_path_factory.mktemp("skips") / "s.pcap"
    path.write_bytes(b"".join(out))
    fast = pcap.read(path, want=6)
    assert fast.scan() is not None
    rows = list(fast)
    slow = pcap.read(path, want=6)
    assert rows == list(slow)
    assert (fast.packets, fast.filtered, fast.reasons, fast.damage) == (slow.packets, slow.filtered, slow.reasons,
                                                                         slow.damage)  # fmt: skip


def test_a_dns_capture_is_not_decoded_frame_by_frame(tmp_path: Path) -> None:
    """200 DNS frames, ICMP and ARP around one SYN: one frame reaches the decoder (the SYN's row is a column)."""
    from unittest import mock

    chunk = [frame(frames.ETHERNET, n % 2 == 0, proto=17, dport=53) for n in range(200)]
    chunk += [frame(frames.ETHERNET, False, proto=1), frame(frames.ETHERNET, False, etype=0x0806)]
    chunk.append(frame(frames.ETHERNET, False))
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, frames.ETHERNET)]
    for n, data in enumerate(chunk):
        out.append(struct.pack("<IIII", 1_700_000_000, n, len(data), len(data)) + data)
    path = tmp_path / "dns.pcap"
    path.write_bytes(b"".join(out))
    calls: list[int] = []
    real = frames.decode

    def spy(*args: object, **kw: object) -> object:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    with mock.patch.object(pcap, "decode", spy):
        rd = pcap.read(path, want=6)
        assert rd.scan() is not None
        (row,) = list(rd)
    assert (rd.packets, rd.reasons, len(calls)) == (203, {frames.PROTOCOL: 202}, 0)
    assert (row.packet.src, row.packet.dport, row.packet.flags) == (CLIENT, 80, Flags.SYN)
