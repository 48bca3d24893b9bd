"""VXLAN of the commonest shape (AWS VPC Traffic Mirroring, overlays) is read from the first pass's columns
(hairpin.parsers.fastscan_tunnels), with the streaming reader's answer on every frame: the rows field by
field, the JSON, and the shortcuts (healthy pairs, hairpins from the columns) taken on tunnelled rows."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.diagnose import capture
from hairpin.model.net import V6, Packet, ip_int
from hairpin.parsers import frames, pcap

np = pytest.importorskip("numpy")

from test_pcap_fast import both  # noqa: E402
from test_pcap_groups import NODES, SHAPES, connection  # noqa: E402

_HEAD = {frames.ETHERNET: 14, frames.SLL: 16, frames.SLL2: 20, frames.RAW: 0}
#: what is done to a frame's bytes after it is built: each but "plain" and "8472" sends it to the full decoder
#: or gives the decoder another answer (a skip reason, a shorter payload), which the columns must follow
EDITS = ("plain", "plain", "plain", "8472", "custom", "unlisted", "no-i-flag", "padding", "outer-short", "options",
         "fragment", "inner-vlan", "inner-arp", "snap")  # fmt: skip


def _six(p: Packet) -> Packet:
    """The packet with IPv6 addresses (fd00::a.b.c.d)."""
    pre = V6 | (0xFD00 << 112)
    return Packet(pre | p.src, p.sport, pre | p.dst, p.dport, p.flags, p.seq, p.ack, payload=p.payload)


def tunnelled(p: Packet, linktype: int, edit: str) -> bytes:
    """``p`` as a VXLAN frame of ``linktype``, then ``edit`` applied (see ``EDITS``)."""
    port = {"8472": 8472, "custom": 9999, "unlisted": 7777}.get(edit, 4789)
    f = bytearray(frames.frame(p, linktype, tunnel="vxlan-8472" if edit == "8472" else "vxlan", vxlan_port=port))
    ip = _HEAD[linktype]
    if edit == "no-i-flag":
        f[ip + 28] &= ~0x08
    elif edit == "padding":  # bytes after the outer packet (Ethernet padding, a trailer)
        f += b"\xab" * 9
    elif edit == "outer-short":  # the outer total length ends inside the inner TCP header or payload
        total = struct.unpack_from("!H", f, ip + 2)[0]
        struct.pack_into("!H", f, ip + 2, max(total - 12, 0))
    elif edit == "options":  # an outer IPv4 header of 24 bytes
        total = struct.unpack_from("!H", f, ip + 2)[0]
        f[ip] = 0x46
        struct.pack_into("!H", f, ip + 2, total + 4)
        f[ip + 20 : ip + 20] = b"\x01\x01\x01\x00"
    elif edit == "fragment":
        f[ip + 6] |= 0x01
    elif edit == "inner-vlan":  # a tag on the inner Ethernet frame
        e = ip + 36
        etype = bytes(f[e + 12 : e + 14])
        f[e + 12 : e + 14] = b"\x81\x00\x00\x64" + etype
        total = struct.unpack_from("!H", f, ip + 2)[0]
        struct.pack_into("!H", f, ip + 2, total + 4)
    elif edit == "inner-arp":
        f[ip + 48 : ip + 50] = b"\x08\x06"
    elif edit == "snap":  # captured short of the inner TCP header's end
        del f[ip + 36 + 14 + 30 :]
    return bytes(f)


def write(path: Path, linktype: int, rows: list[tuple[float, bytes]]) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for t, data in rows:
        sec, usec = divmod(round(t * 1e6), 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(data), len(data) + (20 if len(data) < 100 else 0)) + data)
    path.write_bytes(b"".join(out))


def _columns_used(path: Path, vxlan: frozenset[int]) -> Any:
    """The first pass of ``path``: which of its rows are read from the columns."""
    rd = pcap.read(path, want=6, vxlan=vxlan)
    sc = rd.scan()
    assert sc is not None
    return sc.simple


_CONN = st.tuples(st.sampled_from(SHAPES), st.integers(0, 40), st.integers(1, 1 << 31), st.sampled_from(NODES),
                  st.floats(0, 30), st.integers(1, 3), st.floats(0.05, 2.0))  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(sorted(_HEAD)), st.lists(_CONN, min_size=1, max_size=10), st.booleans(),
       st.lists(st.sampled_from(EDITS), min_size=1, max_size=40))  # fmt: skip
def test_tunnelled_rows_read_from_the_columns_give_the_streaming_answer(
    tmp_path_factory: pytest.TempPathFactory, linktype: int, conns: list[Any], six: bool, edits: list[str]
) -> None:
    path = tmp_path_factory.mktemp("vx") / "v.pcap"
    recs: list[pcap.PacketRecord] = []
    for n, (shape, c, isn, node, t, rounds, gap) in enumerate(conns):
        recs += connection(shape, ip_int("192.168.0.10") + c, 40000 + n, isn, node, 1_764_547_200.0 + t, rounds, gap)
    recs.sort(key=lambda r: r.t)
    rows, plain = [], []
    for i, r in enumerate(recs):
        edit = edits[i % len(edits)]
        p = _six(r.packet) if six else r.packet
        rows.append((r.t, tunnelled(p, linktype, edit)))
        plain.append(edit in ("plain", "8472", "custom"))
    write(path, linktype, rows)
    vxlan = frames.VXLAN_PORTS | {9999}
    fast_rd, slow_rd = pcap.read(path, want=6, vxlan=vxlan), pcap.read(path, want=6, vxlan=vxlan)
    assert fast_rd.scan() is not None
    assert list(fast_rd) == list(slow_rd)  # every row, field by field, and what was skipped and why
    assert (fast_rd.packets, fast_rd.filtered, fast_rd.reasons) == (slow_rd.packets, slow_rd.filtered, slow_rd.reasons)
    fast, slow = both([path], vxlan)
    assert fast == slow
    answer = capture.analyse_files([path], vxlan, records=False).to_json()
    assert answer["summary"] == slow["summary"] and answer["hairpins"] == slow["hairpins"]


def test_plain_vxlan_rows_are_columns_and_others_are_decoded(tmp_path: Path) -> None:
    """Each kind of edit: the plain VXLAN rows (4789, 8472, a port given as VXLAN) come from the columns,
    with the inner packet's addresses; every other edit goes to the full decoder."""
    base = 1_764_547_200.0
    recs = connection("hairpin", ip_int("192.168.0.10"), 40000, 7, NODES[0], base, 1, 1.0)
    syn = recs[0].packet
    rows = [(base + k, tunnelled(syn, frames.ETHERNET, e)) for k, e in enumerate(EDITS)]
    path = tmp_path / "e.pcap"
    write(path, frames.ETHERNET, rows)
    ports = frames.VXLAN_PORTS | {9999}
    simple = _columns_used(path, ports)
    skipped = {"unlisted": "protocol", "no-i-flag": "encapsulation", "fragment": "protocol", "inner-arp": "protocol",
               "outer-short": "truncated", "snap": "truncated"}  # fmt: skip
    kept = [e for e in EDITS if e not in skipped]
    got = dict(zip(kept, simple.tolist(), strict=True))
    assert got == {"plain": True, "8472": True, "custom": True, "padding": True, "options": False,
                   "inner-vlan": False}  # fmt: skip
    rd = pcap.read(path, want=6, vxlan=ports)
    sc = rd.scan()
    assert sc is not None
    assert (sc.src[0], sc.dst[0], sc.sport[0], sc.dport[0]) == (syn.src, syn.dst, syn.sport, syn.dport)
    assert sc.reasons == {"protocol": 3, "encapsulation": 1, "truncated": 2}
    assert list(rd) == list(pcap.read(path, want=6, vxlan=ports))


def test_a_port_not_given_as_vxlan_is_not_opened(tmp_path: Path) -> None:
    base = 1_764_547_200.0
    recs = connection("hairpin", ip_int("192.168.0.10"), 40000, 7, NODES[0], base, 2, 1.0)
    path = tmp_path / "c.pcap"
    write(path, frames.ETHERNET, [(r.t, tunnelled(r.packet, frames.ETHERNET, "custom")) for r in recs])
    fast, slow = both([path])  # 9999 is not VXLAN to the decoder: no TCP packet in the file
    assert fast == slow and fast["summary"]["hairpins"] == 0
    fast, slow = both([path], frames.VXLAN_PORTS | {9999})
    assert fast == slow and fast["summary"]["hairpins"] == 1


@pytest.mark.parametrize("six", [False, True], ids=["inner-ipv4", "inner-ipv6"])
def test_pcapng_vxlan_rows_are_columns(tmp_path: Path, six: bool) -> None:
    from test_pcap_fast import _pcapng

    base = 1_764_547_200.0
    recs: list[pcap.PacketRecord] = []
    for n in range(6):
        recs += connection("hairpin" if n % 2 else "healthy", ip_int("192.168.0.10") + n, 40000 + n, 1000 + n, NODES[0],
                           base + n, 2, 1.0)  # fmt: skip
    recs.sort(key=lambda r: r.t)
    blocks = [(0, r.t, tunnelled(_six(r.packet) if six else r.packet, frames.ETHERNET, "plain"), "") for r in recs]
    path = tmp_path / "v.pcapng"
    path.write_bytes(_pcapng("<", [(frames.ETHERNET, "eth0", 6)], blocks))
    rd = pcap.read(path, want=6)
    sc = rd.scan()
    assert sc is not None and bool(sc.simple.all()) and int(sc.v6.sum()) == (sc.t.size if six else 0)
    assert list(rd) == list(pcap.read(path, want=6))
    fast, slow = both([path])
    assert fast == slow and fast["summary"]["hairpins"] == 3 and fast["summary"]["healthy"] == 3
