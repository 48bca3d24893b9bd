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
from hairpin.model.net import V6, Flags, Packet, ip_int
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
    c = tmp_path / "c.pcapng"  # pcapng with a first pass: the pairs are found across the two formats
    pcap.write_pcapng(c, recs[:10])
    assert pcap.read(c, want=6).scan() is not None
    fast, slow = both([a, c])
    assert fast == slow
    d = tmp_path / "d.pcapng"  # a link type without one: no pair is left out at all
    pcap.write_pcapng(d, recs[:10], linktype=frames.NULL)
    assert pcap.read(d, want=6).scan() is None
    fast, slow = both([a, d])
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
    walk, lengths, i = [], [], 24
    while i <= len(buf) - 16:
        walk.append(i)
        lengths.append(struct.unpack_from("<I", buf, i + 8)[0])
        i += 16 + lengths[-1]
    got = fastscan._guess_walk(fastscan._Bytes(buf), 24, True, 1_000_000)
    if start > 1e9:
        assert got is not None
    if got is not None:
        assert (got[0].tolist(), got[1].tolist(), got[2]) == (walk, lengths, i)
    fast, slow = both([path])
    assert fast == slow


@pytest.mark.parametrize("gap", [0.0, 40_000.0, 200_000.0])
def test_guessed_walk_across_second_spans(tmp_path: Path, gap: float) -> None:
    """Records whose seconds leave the first record's 65,536-second span (a quiet capture over days): the
    guessed walk is the walk or nothing, never another chain, and the analysis is the streaming one; a
    payload holding a header of weeks later is not taken for a record."""
    import struct

    from hairpin.parsers import fastscan

    start = 1_764_547_200.0  # 0x692CD480: the span's top bytes 0x692C
    recs = [pcap.PacketRecord(r.t + i * gap, r.interface, r.packet)
            for i, r in enumerate(handshakes(20, {2}, lambda i: 9000 + i, start))]  # fmt: skip
    weeks = struct.pack("<IIII", int(start) - 2_800_000, 0, 8, 3877) + b"\0" * 8
    recs.append(pcap.PacketRecord(recs[-1].t + 1, None, Packet(CLIENT, 1, VIP, 80, Flags.ACK, 1, 1, payload=weeks)))
    path = tmp_path / "s.pcap"
    pcap.write_pcap(path, recs)
    buf = path.read_bytes()
    walk, i = [], 24
    while i <= len(buf) - 16:
        walk.append(i)
        i += 16 + struct.unpack_from("<I", buf, i + 8)[0]
    got = fastscan._guess_walk(fastscan._Bytes(buf), 24, True, 1_000_000)
    if gap * len(recs) < 65_536:
        assert got is not None  # one span (or the next): taken
    if got is not None:
        assert (got[0].tolist(), got[2]) == (walk, i)
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


def _capture(packets: list[tuple[Packet, int]], linktype: int, vlans: tuple[int, ...], start: float,
             tweaks: list[tuple[int, int, int]]) -> bytes:  # fmt: skip
    """Classic pcap bytes (microseconds, little-endian) with each frame cut to its snap length (0: whole)
    and ``tweaks`` (frame, byte of its IP header, value) applied first."""
    import struct

    head = {frames.ETHERNET: 14, frames.SLL: 16, frames.SLL2: 20, frames.RAW: 0}[linktype] + 4 * len(vlans)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for n, (p, snap) in enumerate(packets):
        data = bytearray(frames.frame(p, linktype, 1, vlans=vlans))
        for which, at, value in tweaks:
            if which % len(packets) == n and head + at < len(data):
                data[head + at] = value
        cut = data[:snap] if snap else data
        us = round((start + n * 0.001) * 1_000_000)
        out.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(cut), len(data)) + cut)
    return b"".join(out)


# (byte of the IP header, value): version and header length (IPv4 with options: the TCP header moves),
# fragment flags and offset, protocol, total length (0: the frame's length; under 40: TCP header cut)
_TWEAKS = [(0, 0x46), (0, 0x4F), (0, 0x44), (0, 0x65), (0, 0x35), (6, 0x20), (6, 0x10), (6, 0x01), (7, 0x01), (6, 0x40),
           (9, 17), (9, 4), (2, 0), (3, 0), (3, 20), (3, 39), (3, 40), (3, 41), (2, 0xFF)]  # fmt: skip
_V4 = st.integers(1, 0xFFFFFFFF)
_V6 = st.integers(1, (1 << 128) - 1).map(lambda a: V6 | a)
_ADDRS = st.one_of(st.tuples(_V4, _V4), st.tuples(_V6, _V6))
_PACKET = st.builds(lambda ends, sport, dport, fl, seq, ack, payload: Packet(ends[0], sport, ends[1], dport, Flags(fl), seq, ack, payload=payload),
                    _ADDRS, st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 63),
                    st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF), st.binary(max_size=40))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(FAST)), st.booleans(), st.lists(st.tuples(_PACKET, st.one_of(st.just(0), st.integers(1, 120))), max_size=25),
       st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255)), max_size=4), st.integers(0, 200),
       st.sampled_from([20, 61, 500, 1 << 22]), st.sampled_from([1.7e9, 10.0]),
       st.lists(st.tuples(st.integers(0, 30), st.sampled_from(_TWEAKS)).map(lambda w: (w[0], *w[1])), max_size=4))  # fmt: skip
def test_rows_are_the_streaming_packets(tmp_path_factory: pytest.TempPathFactory, linktype: int, vlan: bool,
                                        packets: list[tuple[Packet, int]], edits: list[tuple[int, int]], cut: int,
                                        chunk: int, start: float, tweaks: list[tuple[int, int, int]]) -> None:  # fmt: skip
    """Every SYN/RST row the first pass keeps is the packet the streaming reader decodes, field by field
    (addresses, ports, flags, sequence numbers, payload, time), whatever the frames: IPv4 and IPv6, any
    flags, payloads (one holding a pcap record header), frames cut by a snap length, IP headers changed
    (version, header length, fragment, protocol, total length), bytes changed anywhere, the file cut, and
    chunks so small that records straddle them; the counts and the damage agree too."""
    import struct
    from unittest import mock

    from hairpin.parsers import fastscan

    fake = struct.pack("<IIII", int(start), 0, 8, 8) + b"\0" * 8  # a record header inside a payload
    packets = [*packets, (Packet(CLIENT, 1, VIP, 80, Flags.SYN, 1, 0, payload=fake * 2), 0)]
    data = bytearray(_capture(packets, linktype, (0x8100,) if vlan and linktype != frames.RAW else (), start, tweaks))
    for at, value in edits:
        data[24 + at % (len(data) - 24)] = value
    path = tmp_path_factory.mktemp("rows") / "r.pcap"
    path.write_bytes(bytes(data[: len(data) - cut % (len(data) - 24)]))
    with mock.patch.object(fastscan, "_CHUNK", chunk):
        fast = pcap.read(path, want=6)
        assert fast.scan() is not None
        rows = list(fast)
    slow = pcap.read(path, want=6)
    assert rows == list(slow)
    assert (fast.packets, fast.filtered, fast.reasons, fast.damage, fast.corrupt) == \
        (slow.packets, slow.filtered, slow.reasons, slow.damage, slow.corrupt)  # fmt: skip


@pytest.mark.parametrize("tweak", _TWEAKS, ids=[f"byte{at}={value:#x}" for at, value in _TWEAKS])
@pytest.mark.parametrize("linktype", sorted(FAST))
def test_each_ip_header_change_same_rows(tmp_path: Path, linktype: int, tweak: tuple[int, int]) -> None:
    """Each IP header change on a whole SYN, SYN-ACK, RST and ACK (with and without a VLAN tag): the shape
    test sends it where the streaming reader does (a row, a filtered packet or a skip reason), and the rows
    are the streaming reader's packets."""
    packets = [Packet(CLIENT, 40001, VIP, 80, Flags.SYN, 11), Packet(VIP, 80, CLIENT, 40001, Flags.SYN | Flags.ACK, 7, 12),
               Packet(CLIENT, 40001, VIP, 80, Flags.RST, 12), Packet(CLIENT, 40001, VIP, 80, Flags.ACK, 12, 8, payload=b"x" * 30)]  # fmt: skip
    for vlans in ((), (0x8100,)) if linktype != frames.RAW else ((),):
        path = tmp_path / f"t{len(vlans)}.pcap"
        path.write_bytes(_capture([(p, 0) for p in packets], linktype, vlans, 1.7e9, [(n, *tweak) for n in range(4)]))
        fast = pcap.read(path, want=6)
        assert fast.scan() is not None
        rows = list(fast)
        slow = pcap.read(path, want=6)
        assert rows == list(slow)
        assert (fast.packets, fast.filtered, fast.reasons) == (slow.packets, slow.filtered, slow.reasons)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nanos", [False, True], ids=["usec", "nsec"])
def test_byte_orders_and_nanoseconds_guessed_walk(tmp_path: Path, order: str, nanos: bool) -> None:
    """Both byte orders and both time units: the guessed walk is taken (real epoch times), rows and times
    are the streaming reader's, and so is the analysis."""
    import struct

    from hairpin.parsers import fastscan

    recs = handshakes(200, {5, 50}, lambda i: 0x10000 + 77 * i)
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, frames.ETHERNET)]
    for r in recs:
        data = frames.frame(r.packet, frames.ETHERNET)
        ticks = round(r.t * (1e9 if nanos else 1e6))
        sec, frac = divmod(ticks, 1_000_000_000 if nanos else 1_000_000)
        out.append(struct.pack(order + "IIII", sec, frac, len(data), len(data)) + data)
    path = tmp_path / "o.pcap"
    path.write_bytes(b"".join(out))
    buf = path.read_bytes()
    walk = fastscan._guess_walk(fastscan._Bytes(buf), 24, order == "<", 1_000_000_000 if nanos else 1_000_000)
    assert walk is not None and walk[0].size == len(recs) and walk[2] == len(buf)
    fast = pcap.read(path, want=6)
    assert fast.scan() is not None
    slow = pcap.read(path, want=6)
    assert list(fast) == list(slow)
    a, b = both([path])
    assert a == b and (a["summary"]["hairpins"], a["summary"]["healthy"]) == (2, 198)


@pytest.mark.parametrize("chunk", [64, 333, 4096])
def test_small_chunks_same_answer(tmp_path: Path, chunk: int) -> None:
    """Chunks far smaller than the file (records cut at every chunk's end): the same analysis, healthy
    handshakes still paired across chunks."""
    from unittest import mock

    from hairpin.parsers import fastscan

    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, handshakes(120, {1, 60, 119}, lambda i: 0x9E3779B9 * (i + 3) & 0xFFFFFFFF))
    slow = json.loads(json.dumps(capture.analyse_files([path], fast=False).to_json()))
    guessed = fastscan._guess_walk
    cut: list[bool] = []  # per guessed walk: whether its last record runs past the chunk's end

    def spy(a: Any, i: int, *args: Any) -> Any:
        got = guessed(a, i, *args)
        if got is not None:
            cut.append(bool(got[2] > a.size))
        return got

    with mock.patch.object(fastscan, "_CHUNK", chunk), mock.patch.object(fastscan, "_guess_walk", spy):
        fast = json.loads(json.dumps(capture.analyse_files([path], fast=True).to_json()))
        rd = pcap.read(path, want=6)
        assert fastscan.healthy_pairs([rd.scan()])[0] == 117
    assert fast == slow
    assert True in cut  # the guessed walks' last records cut by the chunk's end were read again in the next chunk
    assert (fast["summary"]["hairpins"], fast["summary"]["healthy"], fast["summary"]["packets"]) == (3, 117, 117 * 4 + 3 * 6)


@pytest.mark.parametrize("quiet_first", [True, False], ids=["rows-later", "rows-first"])
def test_columns_grown_past_or_short_of_their_estimate(tmp_path: Path, quiet_first: bool) -> None:
    """A scan's columns are written into arrays sized from the share of SYN/RST rows read so far: a file whose
    first chunks hold no such row and the rest many (the columns grow past every estimate) and the other way
    round (they end far short of it) give the rows of a scan in one chunk, and the streaming reader's answer."""
    from unittest import mock

    from hairpin.parsers import fastscan

    recs = handshakes(150, {3, 140}, lambda i: 0x9E3779B9 * (i + 5) & 0xFFFFFFFF)
    t = recs[0].t - 10.0 if quiet_first else recs[-1].t + 1.0
    data = [pcap.PacketRecord(t + i * 0.001, None, Packet(CLIENT, 1, VIP, 80, Flags.ACK, 1 + i, 1, payload=b"d" * 300))
            for i in range(200)]  # fmt: skip
    path = tmp_path / "share.pcap"
    pcap.write_pcap(path, data + recs if quiet_first else recs + data)
    whole = pcap.read(path, want=6).scan()  # the file is one chunk
    sizes: list[int] = []
    append = fastscan._Column.append

    def spy(self: Any, v: Any) -> None:
        append(self, v)
        if self is cols_t[0]:
            sizes.append(self.a.size)

    cols_t: list[Any] = []
    new = fastscan._Column.__init__

    def init(self: Any, dtype: Any) -> None:
        new(self, dtype)
        if not cols_t:
            cols_t.append(self)  # the first column made: "offset"

    with mock.patch.object(fastscan, "_CHUNK", 2048), mock.patch.object(fastscan._Column, "append", spy), \
            mock.patch.object(fastscan._Column, "__init__", init):  # fmt: skip
        small = pcap.read(path, want=6).scan()
    assert small.t.size == whole.t.size == 148 * 2 + 2 * 6
    for name, dtype in fastscan._DTYPES.items():
        got, want = getattr(small, name), getattr(whole, name)
        assert got.dtype == want.dtype == np.dtype(dtype) and np.array_equal(got, want), name
    grown = len(set(sizes))  # each size the column had: grown once to the estimate, then only when it was too small
    if quiet_first:
        assert grown >= 3 and sizes[-1] >= small.offset.size
    else:
        assert grown == 2 and sizes[-1] > 2 * small.offset.size  # the estimate from the rows-only start, never reached
    fast, slow = both([path])
    assert fast == slow and (fast["summary"]["hairpins"], fast["summary"]["healthy"]) == (2, 148)


def test_a_column_too_large_to_reserve_grows_by_doubling() -> None:
    """Rows expected beyond what can be reserved (a first chunk of SYNs in a huge capture of data segments): the
    column takes its rows in an array twice as large as before instead, the same rows."""
    from hairpin.parsers import fastscan

    c = fastscan._Column(np.int64)
    c.room = 1 << 50  # 8 PiB
    c.append(np.arange(5))
    c.append(np.arange(5, 12))
    assert c.a[: c.n].tolist() == list(range(12)) and c.a.size == 12
    c.room = 100
    c.append(np.arange(12, 13))
    assert c.a[: c.n].tolist() == list(range(13)) and c.a.size == 100


# ---------------------------------------------------------------------------------------------- pcapng


def _ng_block(order: str, kind: int, body: bytes) -> bytes:
    import struct

    body += b"\0" * (-len(body) % 4)
    return struct.pack(order + "II", kind, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)


def _ng_option(order: str, code: int, value: bytes) -> bytes:
    import struct

    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _pcapng(order: str, ifaces: list[tuple[int, str, int]], packets: list[tuple[int, float, bytes, str]],
            idb_at: int = 0, offsets: dict[int, bytes] | None = None) -> bytes:  # fmt: skip
    """A pcapng file: a section header, the first interface (link type, name, ``if_tsresol`` byte), one
    Enhanced Packet Block a packet (interface, time, frame, comment), the other interfaces declared before
    packet ``idb_at``.  ``offsets``: an ``if_tsoffset`` option's value by interface (8 bytes: seconds, which
    the packets' timestamps are written less)."""
    import struct

    shift = {k: struct.unpack(order + "q", v)[0] if len(v) == 8 else 0 for k, v in (offsets or {}).items()}
    out = [_ng_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))]
    out[0] = struct.pack("<I", 0x0A0D0D0A) + out[0][4:]  # the block type reads the same in both orders
    idbs = [_ng_block(order, 1, struct.pack(order + "HHI", lt, 0, 262144) + _ng_option(order, 2, name.encode())
                      + _ng_option(order, 9, bytes([res]))
                      + (_ng_option(order, 14, (offsets or {})[k]) if k in (offsets or {}) else b"")
                      + _ng_option(order, 0, b"")) for k, (lt, name, res) in enumerate(ifaces)]  # fmt: skip
    out.append(idbs[0])
    for n, (iface, t, data, comment) in enumerate(packets):
        if n == idb_at:
            out += idbs[1:]
        res = ifaces[iface][2]
        ticks = round((t - shift.get(iface, 0)) * (2 ** (res & 0x7F) if res & 0x80 else 10**res))
        opts = _ng_option(order, 1, comment.encode()) + _ng_option(order, 0, b"") if comment else b""
        out.append(_ng_block(order, 6, struct.pack(order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                                                   len(data)) + data + b"\0" * (-len(data) % 4) + opts))  # fmt: skip
    if idb_at >= len(packets):
        out += idbs[1:]
    return b"".join(out)


def _same_rows(path: Path, chunk: int = 1 << 20) -> bool:
    """The first pass applied; its rows and counts are the streaming reader's.  Returns whether it applied."""
    from unittest import mock

    from hairpin.parsers import fastscan, fastscan_ng

    with mock.patch.object(fastscan_ng, "_CHUNK", chunk), mock.patch.object(fastscan, "_CHUNK", chunk):
        fast = pcap.read(path, want=6)
        used = fast.scan() is not None
        rows = list(fast)
    slow = pcap.read(path, want=6)
    assert rows == list(slow)
    assert (fast.packets, fast.filtered, fast.reasons, fast.damage, fast.corrupt, fast.linktypes) == \
        (slow.packets, slow.filtered, slow.reasons, slow.damage, slow.corrupt, slow.linktypes)  # fmt: skip
    a, b = both([path])
    assert a == b
    return used


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(FAST)), st.sampled_from(["<", ">"]),
       st.lists(st.tuples(_PACKET, st.integers(0, 2), st.sampled_from(["", "x", "a comment", "é"])), max_size=20),
       st.sampled_from([6, 9, 0x86]), st.integers(0, 6), st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255)), max_size=3),
       st.integers(0, 300), st.sampled_from([64, 300, 1 << 20]))  # fmt: skip
def test_pcapng_rows_are_the_streaming_packets(tmp_path_factory: pytest.TempPathFactory, linktype: int, order: str,
                                               packets: list[tuple[Packet, int, str]], res: int, idb_at: int,
                                               edits: list[tuple[int, int]], cut: int, chunk: int) -> None:  # fmt: skip
    """pcapng of either byte order: three interfaces (names, time resolutions), two of them declared
    between packets, comments, any packets; bytes changed and the file cut: the first pass (where it
    applies) gives the streaming reader's packets (interface, comment, time included), counts and analysis."""
    ifaces = [(linktype, "eth0", res), (linktype, "any", 6), (linktype, "lo", res)]
    frames_ = [(iface if n >= idb_at else 0, 1.7e9 + n * 0.25, frames.frame(p, linktype, 1), comment)
               for n, (p, iface, comment) in enumerate(packets)]  # fmt: skip
    data = bytearray(_pcapng(order, ifaces, frames_, idb_at))
    for at, value in edits:
        data[28 + at % max(len(data) - 28, 1)] = value
    path = tmp_path_factory.mktemp("ng") / "n.pcapng"
    path.write_bytes(bytes(data[: len(data) - cut % max(len(data) - 28, 1)]))
    used = _same_rows(path, chunk)
    if not edits and not cut % max(len(data) - 28, 1):
        assert used  # a whole file in scope takes the first pass


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_first_pass_pairs_handshakes(tmp_path: Path, order: str) -> None:
    """A pcapng of 300 handshakes with 3 hairpins: the healthy ones are counted without decoding, and the
    answer is the streaming reader's."""
    recs = handshakes(300, {5, 77, 200}, lambda i: 0x9E3779B9 * (i + 1) & 0xFFFFFFFF)
    path = tmp_path / "h.pcapng"
    path.write_bytes(_pcapng(order, [(frames.ETHERNET, "eth0", 6)], [(0, r.t, frames.frame(r.packet), "") for r in recs]))
    assert _same_rows(path, 4096)
    from hairpin.parsers.fastscan import healthy_pairs

    rd = pcap.read(path, want=6)
    assert healthy_pairs([rd.scan()])[0] == 297 and len(list(rd)) == 18
    a, _ = both([path])
    assert (a["summary"]["hairpins"], a["summary"]["healthy"]) == (3, 297)


@pytest.mark.parametrize("what", ["simple packet", "second section", "two link types", "corrupt statistics", "no interface",
                                  "interface trailer", "packet trailer", "packet length", "cut"])  # fmt: skip
def test_pcapng_out_of_scope_is_the_streaming_reader(tmp_path: Path, what: str) -> None:
    """Blocks and layouts the first pass does not take, and damage (a trailing length that differs, in a
    packet, an interface or a statistics block, a block
    length not a multiple of 4, a file cut short): it declines (None), and the answer and the damage
    reported are the streaming reader's."""
    import struct

    recs = handshakes(20, {3}, lambda i: 1000 + 7 * i)
    body = [(0, r.t, frames.frame(r.packet), "") for r in recs]
    ifaces = [(frames.ETHERNET, "eth0", 6)] + ([(frames.SLL2, "any", 6)] if what == "two link types" else [])
    data = _pcapng("<", ifaces, body)
    if what == "simple packet":
        data += _ng_block("<", 3, struct.pack("<I", 60) + frames.frame(recs[0].packet))
    elif what == "second section":
        data += _pcapng("<", ifaces, body[:5])
    elif what == "corrupt statistics":
        stats = _ng_block("<", 5, struct.pack("<III", 0, 0, 0))
        data += stats[:-4] + struct.pack("<I", len(stats) + 4)
    elif what == "no interface":
        data = data[:28]
    elif what in ("interface trailer", "packet trailer", "packet length"):
        at = 28 if what == "interface trailer" else 28 + struct.unpack_from("<I", data, 32)[0]  # the first IDB, EPB
        length = struct.unpack_from("<I", data, at + 4)[0]
        if what == "packet length":
            data = data[: at + 4] + struct.pack("<I", length + 2) + data[at + 8 :]
        else:
            data = data[: at + length - 4] + struct.pack("<I", length + 4) + data[at + length :]
    elif what == "cut":
        data = data[:-3]
    path = tmp_path / "o.pcapng"
    path.write_bytes(data)
    assert not _same_rows(path)


@pytest.mark.parametrize("kind", [4, 5, 0xBAD, 0x40000BAD])
def test_pcapng_other_blocks_skipped(tmp_path: Path, kind: int) -> None:
    """Name resolution, interface statistics (dumpcap ends its captures with them) and custom blocks,
    between packets and at the end: skipped by the first pass as by the streaming reader."""
    import struct

    recs = handshakes(20, {3}, lambda i: 1000 + 7 * i)
    block = _ng_block("<", kind, struct.pack("<III", 0, 1, 2))
    data = _pcapng("<", [(frames.ETHERNET, "eth0", 6)], [(0, r.t, frames.frame(r.packet), "") for r in recs])
    at = len(data) - 200 - (len(data) - 200) % 4
    while struct.unpack_from("<I", data, at)[0] != 6 or struct.unpack_from("<I", data, at + 4)[0] > 200:
        at -= 4  # the start of a packet block near the end (a 6 followed by a plausible length)
    path = tmp_path / "s.pcapng"
    path.write_bytes(data[:at] + block + data[at:] + block)
    assert _same_rows(path, 64)
    a, _ = both([path])
    assert (a["summary"]["hairpins"], a["summary"]["healthy"]) == (1, 19)


def test_pcapng_blocks_longer_than_a_chunk(tmp_path: Path) -> None:
    """Enhanced Packet Blocks of 3 kB read in chunks of 256 bytes: the buffer grows, the packets (payload and
    comment included) are the streaming reader's."""
    big = Packet(CLIENT, 1, VIP, 80, Flags.SYN, 5, 0, payload=b"y" * 3000)
    path = tmp_path / "big.pcapng"
    path.write_bytes(_pcapng("<", [(frames.ETHERNET, "eth0", 6)], [(0, 1.7e9 + k, frames.frame(big), "c") for k in range(5)]))
    assert _same_rows(path, 256)
    rows = list(pcap.read(path, want=6))
    assert [(len(r.packet.payload), r.comment, r.interface) for r in rows] == [(3000, "c", "eth0")] * 5


@settings(max_examples=300, deadline=None)
@given(st.tuples(*[st.integers(0, (1 << 32) - 1)] * 2, *[st.integers(0, 65535)] * 2, st.integers(0, 63),
                 *[st.integers(0, (1 << 32) - 1)] * 2, st.floats(allow_nan=False, allow_infinity=False)))  # fmt: skip
def test_slot_built_records_equal_constructed_ones(v: tuple[Any, ...]) -> None:
    """pcap.Reader._built (object.__new__ and the slot setters) gives what PacketRecord(t, None, Packet(...))
    gives: equal, same hash and repr, every field."""
    src, dst, sport, dport, flags, seq, ack, t = v
    assert pcap._PACKET_SET is not None and pcap._RECORD_SET is not None
    rd = pcap.Reader.__new__(pcap.Reader)
    columns = [[0], [0], [t], [True], [src], [sport], [dst], [dport], [flags], [seq], [ack], [0], [0]]
    (built,) = rd._built(-1, columns)
    want = pcap.PacketRecord(t, None, Packet(src, sport, dst, dport, Flags(flags), seq, ack, "tcp", b""))
    assert built == want and hash(built) == hash(want) and repr(built) == repr(want)
    assert built.packet == want.packet and hash(built.packet) == hash(want.packet)
    assert type(built.packet.flags) is Flags and built.comment == "" and built.interface is None


def test_slot_setters_refuse_other_classes() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            raise AssertionError

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    assert pcap._setters(Checked, ("a",)) is None and pcap._setters(NoSlots, ("a",)) is None
    assert pcap._setters(Packet, ("src",)) is None


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "streaming"])
@pytest.mark.parametrize("records", [True, False], ids=["records", "columns"])
def test_analysis_makes_no_reference_cycles(tmp_path: Path, fast: bool, records: bool) -> None:
    """`hairpin pcap` pauses the cyclic collector while it analyses (hairpin.gcpause): that is only sound
    while the analysis leaves no reference cycles behind, whatever the capture holds."""
    import gc

    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, handshakes(200, {3, 90, 199}, lambda i: 0x9E3779B9 * (i + 5) & 0xFFFFFFFF))
    with path.open("ab") as f:  # a truncated last record: the damage report's path too
        f.write(bytes(20))
    capture.analyse_files([path], fast=fast, records=records)  # every module imported, every cache filled
    gc.collect()
    gc.disable()
    try:
        result = capture.analyse_files([path], fast=fast, records=records).to_json()
        assert (result["summary"]["hairpins"], result["summary"]["healthy"]) == (3, 197)
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("chunk", [4096, 1 << 20])
def test_pcapng_interface_time_offsets(tmp_path: Path, order: str, chunk: int) -> None:
    """``if_tsoffset`` (seconds added to every timestamp of its interface): a hairpin seen on three interfaces
    whose clocks are written an hour ahead, an hour behind and as is is one hairpin, at the same times by both
    readers; an offset of another length than 8 bytes is not one (the packets stay where they are written)."""
    import struct

    recs = handshakes(40, {7}, lambda i: 0x9E3779B9 * (i + 11) & 0xFFFFFFFF)
    ifaces = [(frames.ETHERNET, "eth0", 6), (frames.ETHERNET, "eni1", 6), (frames.ETHERNET, "eni2", 9)]
    hour = {1: struct.pack(order + "q", 3600), 2: struct.pack(order + "q", -3600)}
    packets = [(n % 3, r.t, frames.frame(r.packet), "") for n, r in enumerate(recs)]
    path = tmp_path / "o.pcapng"
    path.write_bytes(_pcapng(order, ifaces, packets, offsets=hour))
    assert _same_rows(path, chunk)
    read = [(r.interface, r.t) for r in pcap.read(path, want=6)]
    assert [t for _, t in read] == pytest.approx([r.t for r in recs if r.packet.flags & 6], abs=2e-6)
    assert {name for name, _ in read} == {"eth0", "eni1", "eni2"}
    fast, _slow = both([path])
    assert (fast["summary"]["hairpins"], fast["summary"]["healthy"]) == (1, 39)
    bad = tmp_path / "b.pcapng"  # a 7-byte if_tsoffset: ignored, the timestamps are read as written
    bad.write_bytes(_pcapng(order, ifaces, packets, offsets={1: b"\x00" * 6 + b"\x0e\x10"[:1]}))
    first = next(r for n, r in enumerate(recs) if n % 3 == 1 and r.packet.flags & 6)
    assert _same_rows(bad, chunk)
    assert next(r.t for r in pcap.read(bad, want=6) if r.interface == "eni1") == pytest.approx(first.t, abs=1e-6)


@pytest.mark.parametrize(("snaplen", "payload"), [(0, b"x"), (262144, b"x"), (55, b"x"), (54, b"")])
def test_pcapng_simple_packet_frame_ends_at_its_length(tmp_path: Path, snaplen: int, payload: bytes) -> None:
    """A Simple Packet Block's frame is its original length, or the interface's snapshot length when smaller; the
    block's padding to 4 bytes is not part of it (here a segment of one byte whose IPv4 total length is 0, so
    the frame's end is the payload's end)."""
    import struct

    p = Packet(CLIENT, 40000, VIP, 80, Flags.SYN, 1000, payload=b"x")
    frame = bytearray(frames.frame(p))
    frame[16:18] = b"\0\0"  # IPv4 total length 0: the frame's end bounds the packet (segmentation offload)
    assert len(frame) == 55
    shb = _ng_block("<", 0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = _ng_block("<", 1, struct.pack("<HHI", frames.ETHERNET, 0, snaplen) + _ng_option("<", 0, b""))
    spb = _ng_block("<", 3, struct.pack("<I", len(frame)) + bytes(frame))
    assert len(spb) == 12 + 4 + 56  # padded by one byte
    path = tmp_path / "s.pcapng"
    path.write_bytes(shb + idb + spb)
    (r,) = list(pcap.read(path, want=6))
    assert (r.t, r.packet.src, r.packet.dport, r.packet.payload) == (0.0, CLIENT, 80, payload)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)), min_size=1, max_size=40),
    st.booleans(),
    st.sampled_from([1e-6, 1e-9]),
    st.booleans(),
)
def test_span_is_the_earliest_and_latest_time_made_one_by_one(
    stamps: list[tuple[int, int]], little: bool, unit: float, valid: bool
) -> None:
    """fastscan._span (the earliest and latest record time of a chunk, found on integers when every fraction
    is below a second) gives exactly min and max of seconds + fraction x unit as the first pass makes each
    time, fractions past a second (a damaged or crafted file) included."""
    import numpy as np

    from hairpin.parsers.fastscan import _span

    if valid:  # fractions within the second, the seconds near one another (the usual capture)
        whole = round(1 / unit)
        stamps = [(1_764_700_000 + s % 100, f % whole) for s, f in stamps]
    x = np.array([(f << 32) | s if little else (s << 32) | f for s, f in stamps], np.uint64)
    times = [float(s) + float(f) * unit for s, f in stamps]
    assert _span(x, little, unit) == (min(times), max(times))
