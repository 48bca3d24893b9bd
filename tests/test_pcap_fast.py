"""The vectorised first pass (hairpin.parsers.fastscan) gives the same answer as the streaming reader alone:
the same JSON (hairpins, counts, skipped frames by reason, files, damage) on every link type and tunnel,
on many connections with healthy handshakes left undecoded, on ISN collisions, and on mutated captures."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.diagnose import capture
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import frames, pcap

np = pytest.importorskip("numpy")

from test_pcap_encaps import CASES, write  # noqa: E402

CLIENT, VIP, NODE = ip_int("192.168.27.239"), ip_int("192.168.168.103"), ip_int("192.168.2.3")
FAST = {frames.ETHERNET, frames.SLL, frames.SLL2, frames.RAW}


def both(paths: list[Path], vxlan: frozenset[int] = frames.VXLAN_PORTS) -> tuple[dict[str, Any], dict[str, Any]]:
    fast = capture.analyse_files(paths, vxlan, fast=True).to_json()
    slow = capture.analyse_files(paths, vxlan, fast=False).to_json()
    return json.loads(json.dumps(fast)), json.loads(json.dumps(slow))


@pytest.mark.parametrize("families", [(4,), (6,), (4, 6)], ids=["ipv4", "ipv6", "dual"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_link_type_and_tunnel_same_answer(tmp_path: Path, name: str, families: tuple[int, ...]) -> None:
    path = tmp_path / f"{name}.pcap"
    port = write(path, name, families)
    fast, slow = both([path], frames.VXLAN_PORTS | {port})
    assert fast == slow
    assert fast["summary"]["hairpins"] == len(families) and fast["summary"]["healthy"] == len(families)
    used = pcap.read(path, want=6).scan() is not None
    assert used == (CASES[name][0] in FAST)


def handshakes(n: int, hairpins: set[int], isn: Any, start: float = 1.7e9) -> list[pcap.PacketRecord]:
    out = []
    t = start
    for i in range(n):
        client, port, s = CLIENT + i % 7, 40000 + i, isn(i)
        t += 0.001
        if i in hairpins:
            for at in (0.0, 1.0):
                out += [pcap.PacketRecord(t + at, None, Packet(client, port, VIP, 80, Flags.SYN, s)),
                        pcap.PacketRecord(t + at + 0.0004, None, Packet(NODE, 31468, client, port,
                                                                         Flags.SYN | Flags.ACK, 7, s + 1)),
                        pcap.PacketRecord(t + at + 0.0005, None, Packet(client, port, NODE, 31468, Flags.RST, s + 1))]  # fmt: skip
        else:
            out += [pcap.PacketRecord(t, None, Packet(client, port, VIP, 80, Flags.SYN, s)),
                    pcap.PacketRecord(t + 0.0003, None, Packet(VIP, 80, client, port, Flags.SYN | Flags.ACK, 9, s + 1)),
                    pcap.PacketRecord(t + 0.0004, None, Packet(client, port, VIP, 80, Flags.ACK, s + 1, 10)),
                    pcap.PacketRecord(t + 0.0005, None, Packet(client, port, VIP, 80, Flags.ACK | Flags.PSH, s + 1, 10,
                                                               payload=b"GET / HTTP/1.1\r\n\r\n"))]  # fmt: skip
    return sorted(out, key=lambda r: r.t)


@pytest.mark.parametrize("linktype", sorted(FAST))
def test_healthy_handshakes_counted_without_decoding(tmp_path: Path, linktype: int) -> None:
    path = tmp_path / "many.pcap"
    pcap.write_pcap(path, handshakes(300, {5, 77, 200}, lambda i: 0x9E3779B9 * (i + 1) & 0xFFFFFFFF), linktype=linktype)
    fast, slow = both([path])
    assert fast == slow
    assert (fast["summary"]["hairpins"], fast["summary"]["healthy"], fast["summary"]["connections"]) == (3, 297, 300)
    rd = pcap.read(path, want=6)
    sc = rd.scan()
    from hairpin.parsers.fastscan import healthy_pairs

    assert healthy_pairs([sc])[0] == 297
    assert len(list(rd)) == 3 * 6  # only the hairpins' SYN, SYN-ACK and RST are decoded
    assert (rd.packets, rd.filtered) == (297 * 4 + 3 * 6, 297 * 2)


def test_colliding_isns_are_decoded_not_paired(tmp_path: Path) -> None:
    """Every connection draws one of three ISNs: no handshake has an ISN of its own, so none is left out."""
    path = tmp_path / "collide.pcap"
    pcap.write_pcap(path, handshakes(60, {3, 4, 30}, lambda i: 1000 + (i % 3) * 0x10000))
    fast, slow = both([path])
    assert fast == slow
    rd = pcap.read(path, want=6)
    from hairpin.parsers.fastscan import healthy_pairs

    assert healthy_pairs([rd.scan()])[0] == 0


def test_two_files_share_isns(tmp_path: Path) -> None:
    """The same handshakes seen in two files (client side and node side): the ISN is in both, so the pairs
    are decoded, and the merged answer is the streaming one."""
    recs = handshakes(50, {7}, lambda i: 77 + 1000 * i)
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    pcap.write_pcap(a, recs)
    pcap.write_pcap(b, recs[::2], linktype=frames.SLL2)
    fast, slow = both([a, b])
    assert fast == slow
    c = tmp_path / "c.pcapng"  # a pcapng file has no fast path: no pair is left out at all
    pcap.write_pcapng(c, recs[:10])
    fast, slow = both([a, c])
    assert fast == slow


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(FAST)), st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8),
       st.integers(0, 400), st.booleans())  # fmt: skip
def test_mutated_captures_same_answer(tmp_path_factory: pytest.TempPathFactory, linktype: int,
                                      edits: list[tuple[int, int]], cut: int, vlan: bool) -> None:  # fmt: skip
    """Any bytes changed and the file cut anywhere: the fast path and the streaming reader agree on
    everything, damage and skipped frames included."""
    path = tmp_path_factory.mktemp("mut") / "x.pcap"
    rng = random.Random(len(edits) * 1000 + cut)
    vlans = (0x8100,) if vlan and linktype != frames.RAW else ()
    pcap.write_pcap(path, handshakes(12, {2, 9}, lambda i: rng.getrandbits(32)), linktype=linktype, vlans=vlans)
    data = bytearray(path.read_bytes())
    for at, value in edits:
        data[24 + at % (len(data) - 24)] = value  # past the file header: every record is fair game
    path.write_bytes(bytes(data[: len(data) - cut % (len(data) - 24)]))
    fast, slow = both([path])
    assert fast == slow


@pytest.mark.parametrize("start", [1.7e9, 10.0])
def test_guessed_walk_is_the_walk_or_nothing(tmp_path: Path, start: float) -> None:
    """The record walk without a Python loop returns exactly the offsets the sequential walk visits (on
    real epoch timestamps it succeeds), or None; a record header hidden in a payload does not fool it."""
    import struct

    from hairpin.parsers import fastscan

    recs = handshakes(40, {3}, lambda i: 5000 + i, start)
    path = tmp_path / "w.pcap"
    fake = struct.pack("<IIII", int(start), 0, 8, 8) + b"\0" * 8  # a record header inside a payload
    recs.append(pcap.PacketRecord(start + 1, None, Packet(CLIENT, 1, VIP, 80, Flags.ACK, 1, 1, payload=fake * 3)))
    pcap.write_pcap(path, recs)
    buf = path.read_bytes()
    walk, i = [], 24
    while i <= len(buf) - 16:
        walk.append(i)
        i += 16 + struct.unpack_from("<I", buf, i + 8)[0]
    got = fastscan._guess_walk(fastscan._Bytes(buf), 24, True)
    if start > 1e9:
        assert got is not None
    if got is not None:
        assert got[0].tolist() == walk and got[1] == i
    fast, slow = both([path])
    assert fast == slow


def test_handshake_split_over_two_files(tmp_path: Path) -> None:
    """SYNs in one file, SYN-ACKs in the other (a capture on each side), some at the same time stamp: the
    pairs are found across files, in the merged order, and the answer is the streaming one."""
    recs = handshakes(30, {4}, lambda i: 0x1000 + 7 * i)
    syns = [r for r in recs if r.packet.flags & Flags.SYN and not r.packet.flags & Flags.ACK]
    rest = [r if r.packet.flags != Flags.SYN | Flags.ACK or i % 3 else pcap.PacketRecord(syns[0].t, None, r.packet)
            for i, r in enumerate(x for x in recs if x not in syns)]  # fmt: skip
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    pcap.write_pcap(a, syns)
    pcap.write_pcap(b, sorted(rest, key=lambda r: r.t), linktype=frames.SLL2)
    for order in ([a, b], [b, a]):
        fast, slow = both(order)
        assert fast == slow
    assert (fast["summary"]["hairpins"], fast["summary"]["healthy"]) == (1, 25)  # 4 SYN-ACKs came too early
    from hairpin.parsers.fastscan import healthy_pairs

    paired = healthy_pairs([pcap.read(a, want=6).scan(), pcap.read(b, want=6).scan()])[0]
    assert 0 < paired < 29  # the SYN-ACKs moved before their SYN are decoded, the others paired
