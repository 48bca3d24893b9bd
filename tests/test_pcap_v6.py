"""IPv6 captures take the first pass's fast path (hairpin.parsers.fastscan): plain IPv6 TCP rows (next header 6,
no extension header) are read from columns, their addresses interned in the scan's table, and the healthy
pairs, lone SYNs and hairpins decided from the columns, with exactly the streaming reader's answer on IPv6
and mixed IPv4/IPv6 captures: the same JSON bytes, warnings, tallies and listed attempts; ISNs shared across
the families; ::1, 127.0.0.0/8 and node-loopback lone SYNs; several files; pcapng.  The columns of an IPv6
row are the decoder's packet, field by field (addresses, ports, flags, sequence numbers, payload)."""

from __future__ import annotations

import heapq
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hairpin.diagnose import capture
from hairpin.model.net import V6, Flags, Packet, addr_int, ip_int
from hairpin.parsers import fastscan, frames, pcap
from hairpin.render.json_out import dumps_indent1

np = pytest.importorskip("numpy")

from test_pcap_groups import _CONN, VIP, answers, capture_of, disorder, fast_groups, replays, same  # noqa: E402

FD00 = V6 | 0xFD00 << 112
SYN, SA, RST = Flags.SYN, Flags.SYN | Flags.ACK, Flags.RST
CLIENTS = range(ip_int("192.168.0.10"), ip_int("192.168.0.14"))


def six(a: int) -> int:
    """The IPv6 address fd00::a.b.c.d of an IPv4 one (as the benchmark's IPv6 capture maps them)."""
    return FD00 | a


def families(records: list[pcap.PacketRecord], v6: set[int]) -> list[pcap.PacketRecord]:
    """Every packet of the connections of the clients ``192.168.0.10 + k`` for ``k`` in ``v6`` made IPv6
    (each packet names its client as source or destination), the others left IPv4."""
    out = []
    for r in records:
        p = r.packet
        client = p.src if p.src in CLIENTS else p.dst
        if client - CLIENTS[0] in v6:
            p = Packet(six(p.src), p.sport, six(p.dst), p.dport, p.flags, p.seq, p.ack, payload=p.payload)
        out.append(pcap.PacketRecord(r.t, r.interface, p, r.comment))
    return out


_EXTRA = st.tuples(st.sampled_from(["lo4", "lo6", "node4", "node6", "lone4", "lone6"]), st.integers(0, 3),
                   st.integers(0, 40))  # fmt: skip


def extras(wanted: list[tuple[str, int, int]], start: float) -> list[pcap.PacketRecord]:
    """Lone SYNs: to 127.0.0.1 or ::1 (loopback), from an address to itself (node-loopback), or unanswered;
    their ISNs among the connections' (1000 to 1003) or their own."""
    out = []
    for n, (what, isn, at) in enumerate(wanted):
        a, b = ip_int("10.0.0.7") + n, VIP
        if what.startswith("lo"):
            b = ip_int("127.0.0.1") if what == "lo4" else V6 | 1
            a = a if what == "lo4" else six(a)
        elif what.startswith("node"):
            b = a = a if what == "node4" else six(a)
        elif what == "lone6":
            a, b = six(a), six(b)
        out.append(pcap.PacketRecord(1_764_547_200.0 + at * 0.25, None,
                                     Packet(a, 50000 + n, b, 80, SYN, 1000 + isn if isn < 3 else 7000 + n)))  # fmt: skip
    return out


def plain_rows(path: Path) -> tuple[int, int]:
    """(rows not simple, IPv6 rows simple) of the file's first pass."""
    sc = pcap.read(path, want=int(SYN | RST)).scan()
    return int(np.count_nonzero(~sc.simple)), int(np.count_nonzero(sc.v6 & sc.simple))


def v6_rows(records: list[pcap.PacketRecord]) -> int:
    return sum(1 for r in records if r.packet.src > 0xFFFFFFFF and r.packet.flags & (SYN | RST))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_CONN, min_size=1, max_size=12), st.sets(st.integers(0, 3)), st.lists(_EXTRA, max_size=6),
       st.sampled_from(["time", "jitter", "neighbours", "written"]), st.integers(0, 3), st.integers(0, 2**32 - 1),
       st.sampled_from([1, 2, 10_000]), st.sampled_from(["pcap", "pcapng"]))  # fmt: skip
def test_ipv6_and_mixed_captures_give_the_streaming_answer(tmp_path_factory: pytest.TempPathFactory,
                                                           conns: list[tuple[Any, ...]], v6: set[int],
                                                           more: list[tuple[str, int, int]], order: str, swaps: int,
                                                           seed: int, listed: int, form: str) -> None:  # fmt: skip
    # the lone SYNs merged in by time, the connections' packets left in their order (jittered, swapped...)
    records = list(heapq.merge(families(capture_of(conns, order, swaps, seed), v6),
                               sorted(extras(more, 1_764_547_200.0), key=lambda r: r.t), key=lambda r: r.t))  # fmt: skip
    path = tmp_path_factory.mktemp("v6") / f"c.{form}"
    (pcap.write_pcap if form == "pcap" else pcap.write_pcapng)(path, records)
    with replays() as plans:
        found = answers(path, listed)
    same(found)
    assert len(plans) == (2 if disorder(records) <= 4.0 else 0)  # the fast path, IPv6 rows or not
    assert plain_rows(path) == (0, v6_rows(records))  # every IPv6 row from the columns, none decoded
    event(f"families: {sorted({4 if r.packet.src <= 0xFFFFFFFF else 6 for r in records})}")
    event(f"hairpins from the columns: {any(a is not None for p in plans for a in p.ev_attempt)}")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_CONN, min_size=1, max_size=10), st.sets(st.integers(0, 3)), st.lists(_EXTRA, max_size=4),
       st.sampled_from(["time", "jitter", "neighbours"]), st.integers(1, 4), st.integers(0, 2**32 - 1),
       st.sampled_from([1, 10_000]), st.sampled_from(["pcap", "pcapng"]))  # fmt: skip
def test_two_files_with_ipv6_give_the_streaming_answer(tmp_path_factory: pytest.TempPathFactory,
                                                       conns: list[tuple[Any, ...]], v6: set[int],
                                                       more: list[tuple[str, int, int]], order: str, swaps: int,
                                                       seed: int, listed: int, form: str) -> None:  # fmt: skip
    """Two captures of the traffic, each packet in one or both: their address tables differ (other addresses,
    met in another order), and the pairs across them are found by address, not by index."""
    rng = random.Random(seed)
    records = sorted(families(capture_of(conns, order, swaps, seed), v6) + extras(more, 1_764_547_200.0),
                     key=lambda r: r.t)  # fmt: skip
    where = [rng.choice([(0,), (1,), (0, 1)]) for _ in records]
    parts = [[r for r, w in zip(records, where, strict=True) if n in w] for n in (0, 1)]
    paths = [tmp_path_factory.mktemp("m6") / f"{n}.{form if n else 'pcap'}" for n in (0, 1)]
    for path, part in zip(paths, parts, strict=True):
        (pcap.write_pcap if path.suffix == ".pcap" else pcap.write_pcapng)(path, part)
    with replays() as plans:
        fast = {"columns": capture.analyse_files(paths, listed=listed, records=False),
                "rows": capture.analyse_files(paths, listed=listed)}  # fmt: skip
    same({**fast, "stream": capture.analyse_files(paths, fast=False, listed=listed)})
    # each file in time order: merged by time, the fast path (unless a pcapng has no packet: no interface)
    assert len(plans) == (2 if all(pcap.read(p, want=6).scan() is not None for p in paths) else 0)


def _frames_pcap(path: Path, frames_: list[bytes], linktype: int, start: float = 1.7e9) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for n, data in enumerate(frames_):
        us = round((start + n * 0.001) * 1_000_000)
        out.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(data), len(data)) + data)
    path.write_bytes(b"".join(out))


def _columns(path: Path, linktype: int) -> list[tuple[Any, ...]]:
    """Each simple row of the file's first pass as (address, port, address, port, flags, seq, ack, payload),
    the addresses as ``Packet`` ints; asserts every row the decoder reads as plain IPv6 is simple."""
    rd = pcap.read(path, want=int(SYN | RST))
    sc = rd.scan()
    data = path.read_bytes()
    out = []
    for j in range(sc.t.size):
        frame = data[int(sc.offset[j]) : int(sc.offset[j]) + int(sc.length[j])]
        p = frames.decode(frame, linktype)
        assert isinstance(p, Packet)
        if not sc.simple[j]:
            out.append(None)
            continue
        assert bool(sc.v6[j]) == (p.src > 0xFFFFFFFF)
        src, dst = (sc.addrs[int(sc.src[j])], sc.addrs[int(sc.dst[j])]) if sc.v6[j] else (int(sc.src[j]), int(sc.dst[j]))
        at, n = int(sc.pstart[j]), int(sc.plen[j])
        out.append((src, int(sc.sport[j]), dst, int(sc.dport[j]), int(sc.flags[j]) & 0x3F, int(sc.seq[j]),
                    int(sc.ack[j]), frame[at : at + n] if n else b""))  # fmt: skip
        assert out[-1] == (p.src, p.sport, p.dst, p.dport, int(p.flags), p.seq, p.ack, p.payload)
    return out


_HEAD = {frames.ETHERNET: 14, frames.SLL: 16, frames.SLL2: 20, frames.RAW: 0, frames.IPV6: 0}


@pytest.mark.parametrize("linktype", sorted(_HEAD))
def test_ipv6_columns_are_the_decoders_packet(tmp_path: Path, linktype: int) -> None:
    """A SYN with a 5-byte payload, Ethernet padding after it, and its IPv6 header changed: flow label and
    hop limit (columns unchanged), payload length 0 (the payload runs to the frame's end), shorter than the
    frame (the padding left out), hop-by-hop options as next header (decoded, not a column)."""
    p = Packet(six(ip_int("192.168.27.239")), 40001, six(ip_int("192.168.168.103")), 80, SYN, 0xFFFFFFF0, 0,
               payload=b"hello")  # fmt: skip
    base = frames.frame(p, linktype) + b"\0" * 6
    ip = _HEAD[linktype]
    changed = []
    for at, value in ((1, 0xAB), (3, 0x77), (7, 1), (5, 0), (5, 22)):
        data = bytearray(base)
        if at == 5:
            data[ip + 4] = 0
        data[ip + at] = value
        changed.append(bytes(data))
    # a hop-by-hop options header (8 bytes: next header TCP, length 0, padding) before the TCP header
    hop = bytearray(base[: ip + 40] + bytes([6, 0, 1, 4, 0, 0, 0, 0]) + base[ip + 40 :])
    hop[ip + 4 : ip + 6], hop[ip + 6] = (20 + 5 + 8).to_bytes(2, "big"), 0
    path = tmp_path / "v6.pcap"
    _frames_pcap(path, [base, *changed, bytes(hop)], linktype)
    cols = _columns(path, linktype)
    full = (p.src, 40001, p.dst, 80, int(SYN), 0xFFFFFFF0, 0)
    assert cols[:4] == [(*full, b"hello")] * 4  # as written, traffic class and flow label, hop limit
    assert cols[4] == (*full, b"hello" + b"\0" * 6)  # payload length 0: to the frame's end, padding included
    assert cols[5] == (*full, b"he")  # 22: 20 of TCP header, 2 of payload
    assert cols[6] is None  # an extension header: the full decoder's row
    sc = pcap.read(path, want=6).scan()
    assert sc.v6.tolist() == [True] * 6 + [False] and sc.simple.tolist() == [True] * 6 + [False]
    assert (int(sc.pstart[0]), int(sc.plen[0]), int(sc.plen[4]), int(sc.plen[5])) == (ip + 60, 5, 11, 2)
    assert sc.addrs == [p.src, p.dst]  # interned in order of value within a prefix: ...1bef before ...a867
    assert list(pcap.read(path, want=6)) == list(pcap.read(path, want=0))


_V6A = st.integers(0, (1 << 128) - 1).map(lambda a: V6 | a)
_SMALL = st.sampled_from([FD00 | 1, FD00 | 2, V6 | 1, V6 | 0, FD00 | 1 << 64, V6 | (1 << 128) - 1])
_ENDS = st.tuples(st.one_of(_V6A, _SMALL), st.one_of(_V6A, _SMALL))
_IP6 = st.tuples(st.sampled_from([None, 0, 4, 6, 8, 16, 0x3F, 0xFFFF, 19, 20, 21, 24, 40, 60, 61]),
                 st.sampled_from([6, 6, 6, 0, 17, 43, 44, 59, 60]), st.integers(0, 0xFFFFFFF), st.integers(0, 255),
                 st.sampled_from([0x60, 0x60, 0x6F, 0x40, 0x70]), st.integers(0, 12))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(_HEAD)), st.booleans(),
       st.lists(st.tuples(_ENDS, st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 63),
                          st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF), st.binary(max_size=30), _IP6),
                max_size=20),
       st.sampled_from([64, 300, 1 << 20]))  # fmt: skip
def test_ipv6_rows_are_the_decoders_packets(tmp_path_factory: pytest.TempPathFactory, linktype: int, vlan: bool,
                                            packets: list[tuple[Any, ...]], chunk: int) -> None:  # fmt: skip
    """Any IPv6 TCP packets, their headers changed (payload length, next header, flow label, hop limit, the
    first byte) and padding after them, with and without a VLAN tag, in chunks small enough for records to
    straddle them: every row the decoder reads as plain IPv6 is a column row equal to its packet, and the
    rows, counts and analysis are the streaming reader's."""
    from unittest import mock

    vlans = (0x8100,) if vlan and linktype not in (frames.RAW, frames.IPV6) else ()
    ip = _HEAD[linktype] + 4 * len(vlans)
    out = []
    for (a, b), sport, dport, fl, seq, ack, payload, (plen, nh, label, hop, first, pad) in packets:
        data = bytearray(frames.frame(Packet(a, sport, b, dport, Flags(fl), seq, ack, payload=payload), linktype,
                                      vlans=vlans)) + b"\xee" * pad  # fmt: skip
        data[ip], data[ip + 1 : ip + 4] = first, (label & 0xFFFFFF).to_bytes(3, "big")
        if plen is not None:
            data[ip + 4 : ip + 6] = plen.to_bytes(2, "big")
        data[ip + 6], data[ip + 7] = nh, hop
        out.append(bytes(data))
    path = tmp_path_factory.mktemp("r6") / "r.pcap"
    _frames_pcap(path, out, linktype)
    with mock.patch.object(fastscan, "_CHUNK", chunk):
        fast = pcap.read(path, want=6)
        sc = fast.scan()
        rows = list(fast)
    slow = pcap.read(path, want=6)
    assert rows == list(slow)
    assert (fast.packets, fast.filtered, fast.reasons) == (slow.packets, slow.filtered, slow.reasons)
    plain = 0
    for data in out:  # the decoder's plain IPv6 rows: an IPv6 packet, next header 6 in the IP header
        p = frames.decode(data, linktype, want=6, filtered=pcap._FILTERED)
        plain += bool(isinstance(p, Packet) and p is not pcap._FILTERED and p.src > 0xFFFFFFFF and data[ip + 6] == 6)
    assert int(np.count_nonzero(sc.v6)) == plain == int(np.count_nonzero(sc.simple & sc.v6))
    event(f"plain IPv6 rows: {min(plain, 3)}")
    if plain:
        _columns(path, linktype)
    a = dumps_indent1(capture.analyse_files([path], records=False).to_json())
    assert a == dumps_indent1(capture.analyse_files([path], fast=False).to_json())


def _isn_rows(records: list[pcap.PacketRecord], path: Path) -> Any:
    pcap.write_pcap(path, records)
    return pcap.read(path, want=6).scan()


def test_an_ipv4_address_never_pairs_with_an_ipv6_index(tmp_path: Path) -> None:
    """An IPv4 SYN 0.0.0.0 -> 0.0.0.1 and an IPv6 SYN-ACK fd00::6 -> fd00::5 of its ISN: the IPv6 addresses'
    indexes are 1 and 0, the IPv4 SYN's addresses swapped, yet no pair (the analyser finds the attempt, but
    the SYN-ACK is from another address): one unanswered SYN, as the streaming reader says."""
    # (then a data segment 2 s later: the capture goes on past the SYN's retransmission timer, none cut by its end)
    recs = [pcap.PacketRecord(100.0, None, Packet(0, 40000, 1, 80, SYN, 1000)),
            pcap.PacketRecord(100.001, None, Packet(FD00 | 6, 80, FD00 | 5, 40000, SA, 9, 1001)),
            pcap.PacketRecord(102.0, None, Packet(7, 1, 8, 1, Flags.ACK, 1, 1))]  # fmt: skip
    sc = _isn_rows(recs, tmp_path / "c.pcap")
    assert sc.simple.all() and sc.v6.tolist() == [False, True]
    assert (sc.src.tolist(), sc.dst.tolist(), sc.addrs) == ([0, 1], [1, 0], [FD00 | 5, FD00 | 6])
    assert fastscan.healthy_pairs([sc])[0] == 0
    found = answers(tmp_path / "c.pcap", 10_000)
    same(found)
    assert found["columns"].counts == {"unanswered-syn": 1} and found["columns"].healthy == 0


@pytest.mark.parametrize("listed", [1, 3])
def test_lone_ipv6_syns_are_classified_as_the_analyser_does(tmp_path: Path, listed: int) -> None:
    """Lone SYNs to ::1 (loopback), from an IPv6 address to itself (node-loopback), to fd00::1 (unanswered),
    and IPv4 ones whose addresses equal the IPv6 ones' indexes (0.0.0.0 to itself, 0.0.0.1): counted from the
    columns by kind, the streaming reader's answer."""
    recs = [pcap.PacketRecord(100.0 + k * 0.01, None, p) for k, p in enumerate([
        Packet(FD00 | 9, 40000, V6 | 1, 80, SYN, 1), Packet(FD00 | 9, 40001, FD00 | 9, 80, SYN, 2),
        Packet(FD00 | 9, 40002, FD00 | 1, 80, SYN, 3), Packet(0, 40003, 0, 80, SYN, 4), Packet(2, 40004, 1, 80, SYN, 5),
        Packet(V6 | 1, 40005, V6 | 1, 80, SYN, 6), Packet(ip_int("127.0.0.1"), 1, ip_int("127.0.0.1"), 80, SYN, 7),
        Packet(addr_int("::ffff:127.0.0.1"), 2, addr_int("::ffff:127.0.0.1"), 80, SYN, 8)])]  # fmt: skip
    recs.append(pcap.PacketRecord(102.0, None, Packet(7, 1, 8, 1, Flags.ACK, 1, 1)))  # the capture goes on: none cut
    path = tmp_path / "c.pcap"
    sc = _isn_rows(recs, path)
    lone, _ = fastscan.lone_syns([sc], listed)
    # the earliest left for the analyser to list: to ::1, then from fd00::9 to itself, to fd00::1
    assert lone == ({"loopback": 2, "node-loopback": 3, "unanswered-syn": 2} if listed == 1 else
                    {"loopback": 2, "node-loopback": 2, "unanswered-syn": 1})  # fmt: skip
    found = answers(path, listed)
    same(found)
    assert found["columns"].counts == {"loopback": 3, "node-loopback": 3, "unanswered-syn": 2}


def test_a_handshake_split_over_two_files_with_other_tables(tmp_path: Path) -> None:
    """The SYN in one file, after other IPv6 addresses; its SYN-ACK in another, where its addresses are the
    first met: the indexes differ, the addresses do not, so the pair is found across the files."""
    c, v = FD00 | 0xC0A8_001B, FD00 | 0xC0A8_A867
    a = [pcap.PacketRecord(100.0, None, Packet(FD00 | 1, 1, FD00 | 2, 2, SYN, 50)),
         pcap.PacketRecord(100.5, None, Packet(c, 40000, v, 80, SYN, 1000))]  # fmt: skip
    b = [pcap.PacketRecord(100.6, None, Packet(v, 80, c, 40000, SA, 9, 1001))]
    pa, pb = tmp_path / "a.pcap", tmp_path / "b.pcapng"
    pcap.write_pcap(pa, a)
    pcap.write_pcapng(pb, b)
    sa, sb = pcap.read(pa, want=6).scan(), pcap.read(pb, want=6).scan()
    assert (sa.src[0], sb.dst[0]) == (0, 0) and sa.addrs[0] != sb.addrs[0]  # one index, two addresses
    assert fastscan.healthy_pairs([sa, sb])[0] == 1
    for order in ([pa, pb], [pb, pa]):
        fast = dumps_indent1(capture.analyse_files(order, records=False).to_json())
        assert fast == dumps_indent1(capture.analyse_files(order, fast=False).to_json())
        assert '"healthy": 1' in fast


def test_ipv6_seed_hairpins_are_taken_from_the_columns(tmp_path: Path) -> None:
    """The seed's hairpins and healthy handshakes, all IPv6, mixed with the same in IPv4 (the same ISNs):
    every plain hairpin of either family from the columns, each with the decoder's endpoints."""
    conns = [("hairpin", i % 4, i, i % 2, 3, 1.0, 0.0005) for i in range(40)]
    conns += [("healthy", i % 4, 100 + i, 0, 1, 1.0, 0.0005) for i in range(20)]
    records = families(capture_of(conns, "time", 0, 1), {1, 3})
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, records)
    fg = fast_groups(path)
    assert fg is not None and len(fg.attempts) == 40
    assert sum(a.client.addr > 0xFFFFFFFF for a in fg.attempts) == 20
    # clients .10 and .12 (even connections, node .3) IPv4, .11 and .13 (odd, node .4) IPv6
    assert {str(a.answered_by) for a in fg.attempts} == {"192.168.2.3:31468", "[fd00::c0a8:204]:31468"}
    found = answers(path, 10_000)
    same(found)
    assert found["columns"].hairpin_count == 40 and found["columns"].healthy == 20


def test_a_hairpin_never_mixes_families(tmp_path: Path) -> None:
    """An IPv4 SYN 0.0.0.0 -> 0.0.0.1, then an IPv6 SYN-ACK fd00::7 -> fd00::5 and RST fd00::5 -> fd00::7 of its
    ISN: fd00::5's index is 0, the SYN's client address, yet the three are no hairpin from the columns (the
    analyser calls it no hairpin at all)."""
    recs = [pcap.PacketRecord(100.0, None, Packet(0, 40000, 1, 80, SYN, 1000)),
            pcap.PacketRecord(100.001, None, Packet(FD00 | 7, 31468, FD00 | 5, 40000, SA, 9, 1001)),
            pcap.PacketRecord(100.002, None, Packet(FD00 | 5, 40000, FD00 | 7, 31468, RST, 1001))]  # fmt: skip
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, recs)
    sc = pcap.read(path, want=6).scan()
    assert (sc.src.tolist(), sc.dst.tolist()) == ([0, 1, 0], [1, 0, 1])
    assert fast_groups(path) is None
    found = answers(path, 10_000)
    same(found)
    assert found["columns"].hairpin_count == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 20), max_size=40),
       st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 20), max_size=40))  # fmt: skip
def test_new_addresses_are_setdiff1d(part: list[int], known: list[int]) -> None:
    from hairpin.parsers.fastscan_addrs import _new_values

    p, k = np.array(part, np.uint64), np.unique(np.array(known, np.uint64))
    assert _new_values(p, k).tolist() == np.setdiff1d(p, k).tolist()
