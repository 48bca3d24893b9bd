"""pcap/pcapng reading and writing: every link type round-trips, damage is located, non-captures refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.errors import ParseError
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import pcap

SYN = Packet(ip_int("192.168.27.239"), 49134, ip_int("192.168.168.103"), 80, Flags.SYN, 1000, 0)
SYNACK = Packet(ip_int("192.168.2.3"), 31468, ip_int("192.168.27.239"), 49134, Flags.SYN | Flags.ACK, 7000, 1001)
RST = Packet(ip_int("192.168.27.239"), 49134, ip_int("192.168.2.3"), 31468, Flags.RST, 1001, 0)
RECS = [pcap.PacketRecord(0.5, "eth0", SYN, "first"), pcap.PacketRecord(0.500123, "eni1", SYNACK),
        pcap.PacketRecord(0.500201, "eni1", RST)]  # fmt: skip
LINKTYPES = [pcap.ETHERNET, pcap.SLL, pcap.SLL2, pcap.RAW, pcap.NULL]


@pytest.mark.parametrize("linktype", LINKTYPES)
def test_pcap_round_trip(tmp_path: Path, linktype: int) -> None:
    path = tmp_path / "x.pcap"
    pcap.write_pcap(path, RECS, linktype=linktype)
    r = pcap.read(path)
    got = list(r)
    assert [g.packet for g in got] == [SYN, SYNACK, RST]
    assert [round(g.t, 6) for g in got] == [0.5, 0.500123, 0.500201]
    assert r.linktypes == {linktype} and r.damage is None and r.packets == 3 and r.skipped == 0


def test_pcapng_round_trip_keeps_interfaces_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    pcap.write_pcapng(path, RECS)
    got = list(pcap.read(path))
    assert [(g.interface, g.comment, g.packet) for g in got] == [("eth0", "first", SYN), ("eni1", "", SYNACK),
                                                                 ("eni1", "", RST)]  # fmt: skip


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
@pytest.mark.parametrize("linktype", [pcap.ETHERNET, pcap.SLL2])
def test_tshark_reads_our_checksums_as_good(tmp_path: Path, linktype: int) -> None:
    path = tmp_path / "x.pcap"
    pcap.write_pcap(path, RECS, linktype=linktype)
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-o",
                          "ip.check_checksum:TRUE", "-T", "fields", "-e", "ip.checksum.status", "-e",
                          "tcp.checksum.status", "-e", "tcp.flags.str"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    lines = [line.split("\t") for line in out.splitlines()]
    assert [ln[:2] for ln in lines] == [["1", "1"]] * 3  # 1 = Good (0 bad, 2 unverified)
    assert [ln[2] for ln in lines] == ["··········S·", "·······A··S·", "·········R··"]


def test_truncated_capture_is_read_up_to_the_damage(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    pcap.write_pcap(path, RECS)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    r = pcap.read(path)
    assert [g.packet for g in r] == [SYN, SYNACK]
    assert r.damage == "stopped at byte 164 (after packet 2): truncated packet (44 of 54 bytes)"


def test_corrupt_pcapng_block_is_located(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    pcap.write_pcapng(path, RECS)
    data = bytearray(path.read_bytes())
    last = len(data) - int.from_bytes(data[-4:], "little")
    data[last + 4 : last + 8] = (13).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    r = pcap.read(path)
    assert [g.packet for g in r] == [SYN, SYNACK]
    assert r.damage == f"stopped at byte {last} (after packet 2): corrupt block (type 0x6, length 13)"


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file, not a capture"),
    (b"hello world\n", "not a pcap or pcapng capture (starts with 0x68656c6c)"),
])  # fmt: skip
def test_not_a_capture(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(ParseError) as e:
        pcap.read(path)
    assert str(e.value) == f"{path}: {message}"


def test_non_tcp_frames_are_counted_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    pcap.write_pcap(path, RECS[:1])
    data = bytearray(path.read_bytes())
    rec = data[24:]
    rec[16 + 12 : 16 + 14] = b"\x86\xdd"  # ethertype IPv6 in front of an IPv4 header: not read as either
    arp = bytearray(rec)
    arp[16 + 12 : 16 + 14] = b"\x08\x06"
    path.write_bytes(bytes(data[:24] + rec + data[24:] + arp))
    r = pcap.read(path)
    assert [g.packet for g in r] == [SYN] and r.packets == 3 and r.skipped == 2 and r.reasons == {"protocol": 2}


addr = st.integers(0, 2**32 - 1)
port = st.integers(0, 65535)
packets = st.builds(Packet, addr, port, addr, port, st.integers(0, 0x3F).map(Flags), st.integers(0, 2**32 - 1),
                    st.integers(0, 2**32 - 1), st.just("tcp"), st.binary(max_size=40))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**12), st.sampled_from(["eth0", "any", "pod a eth0"]), packets),
                min_size=1, max_size=8),
       st.sampled_from([*LINKTYPES, -1]))  # fmt: skip
def test_write_read_round_trip(tmp_path_factory: pytest.TempPathFactory, items: list[tuple[int, str, Packet]],
                               linktype: int) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("rt") / "x"
    recs = [pcap.PacketRecord(us / 1e6, name, p, "c" * (us % 3)) for us, name, p in items]
    if linktype == -1:
        pcap.write_pcapng(path, recs)
    else:
        pcap.write_pcap(path, recs, linktype=linktype)
    got = list(pcap.read(path))
    assert [g.packet for g in got] == [r.packet for r in recs]
    assert [round(g.t * 1e6) for g in got] == [us for us, _, _ in items]
    if linktype == -1:
        assert [(g.interface, g.comment) for g in got] == [(r.interface, r.comment) for r in recs]


def _block(kind: int, body: bytes) -> bytes:
    n = 12 + len(body)
    return kind.to_bytes(4, "little") + n.to_bytes(4, "little") + body + n.to_bytes(4, "little")


SHB = _block(0x0A0D0D0A, bytes.fromhex("4d3c2b1a") + b"\x01\x00\x00\x00" + b"\xff" * 8)
IDB = _block(1, b"\x01\x00\x00\x00" + (65535).to_bytes(4, "little"))


@pytest.mark.parametrize(("blocks", "damage"), [
    ([SHB, _block(1, b"\x01\x00\x00\x00")], "stopped at byte 28 (after packet 0): corrupt block (type 0x1: 4 bytes "
                                            "of body, its fixed fields take 8)"),
    ([SHB, IDB, _block(6, b"\0" * 12)], "stopped at byte 48 (after packet 0): corrupt block (type 0x6: 12 bytes of "
                                        "body, its fixed fields take 20)"),
    ([SHB, IDB, _block(2, b"\0" * 16)], "stopped at byte 48 (after packet 0): corrupt block (type 0x2: 16 bytes of "
                                        "body, its fixed fields take 20)"),
    ([SHB, IDB, _block(6, b"\0" * 12 + (40).to_bytes(4, "little") + b"\0" * 8)],
     "stopped at byte 48 (after packet 0): corrupt block (type 0x6: captured length 40 exceeds the block)"),
    ([SHB, IDB, _block(3, b"")], "stopped at byte 48 (after packet 0): corrupt block (type 0x3: 0 bytes of body, "
                                 "its fixed fields take 4)"),
    ([SHB[:4] + (0xFFFFFFF0).to_bytes(4, "little") + SHB[8:]],
     "stopped at byte 0 (after packet 0): corrupt section header (length 4294967280)"),
    ([SHB, IDB, (6).to_bytes(4, "little") + (0x7FFFFFFC).to_bytes(4, "little")],
     "stopped at byte 48 (after packet 0): corrupt block (type 0x6, length 2147483644)"),
])  # fmt: skip
def test_crafted_pcapng_blocks_are_one_located_error(tmp_path: Path, blocks: list[bytes], damage: str) -> None:
    path = tmp_path / "crafted.pcapng"
    path.write_bytes(b"".join(blocks) + b"\0" * 64)
    r = pcap.read(path)
    assert list(r) == [] and r.damage == damage and r.corrupt


def test_stdin_reads_a_pipe(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    pcap.write_pcap(path, RECS)
    code = "from hairpin.parsers import pcap\nr = pcap.read('-')\nprint([str(g.packet) for g in r], r.packets)"
    out = subprocess.run([sys.executable, "-c", code], input=path.read_bytes(), capture_output=True, check=True)
    assert out.stdout.decode().strip() == (
        "['tcp 192.168.27.239:49134 > 192.168.168.103:80 SYN', 'tcp 192.168.2.3:31468 > 192.168.27.239:49134 SYN,ACK', "
        "'tcp 192.168.27.239:49134 > 192.168.2.3:31468 RST'] 3")


addr6 = st.integers(0, 2**128 - 1).map(lambda a: a | (1 << 128))
packets6 = st.builds(Packet, addr6, port, addr6, port, st.integers(0, 0x3F).map(Flags), st.integers(0, 2**32 - 1),
                     st.integers(0, 2**32 - 1), st.just("tcp"), st.binary(max_size=40))  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(st.one_of(packets, packets6), st.sampled_from([(1, None), (276, "vxlan"), (113, "geneve"), (101, "ipip"),
                                                      (239, "gre"), (0, None), (108, "gre-eth")]))  # fmt: skip
def test_every_frame_decodes_back(p: Packet, how: tuple[int, str | None]) -> None:
    from hairpin.parsers import frames

    data = frames.frame(p, how[0], tunnel=how[1])
    assert frames.decode(data, how[0]) == p
    for cut in range(len(data) - len(p.payload) - 3):  # cut in the headers (NFLOG pads up to 3): a reason
        assert frames.decode(data[:cut], how[0]) in frames.REASONS


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([0, 1, 101, 108, 113, 228, 229, 239, 276, 147]))
def test_random_bytes_never_raise(data: bytes, linktype: int) -> None:
    from hairpin.parsers import frames

    r = frames.decode(data, linktype)
    assert isinstance(r, Packet) or r in frames.REASONS


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["pcap", "pcapng"]),
       st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=6),
       st.integers(0, 400))  # fmt: skip
def test_mutated_captures_never_raise(tmp_path_factory: pytest.TempPathFactory, kind: str,
                                      edits: list[tuple[int, int]], cut: int) -> None:  # fmt: skip
    """Any byte of a valid capture changed, and the file cut anywhere: records, a located stop, or a
    ParseError for the file; never another exception."""
    path = tmp_path_factory.mktemp("mut") / f"x.{kind}"
    (pcap.write_pcapng if kind == "pcapng" else pcap.write_pcap)(path, RECS)
    data = bytearray(path.read_bytes())
    for at, value in edits:
        data[at % len(data)] = value
    path.write_bytes(bytes(data[: len(data) - cut % len(data)]))
    try:
        r = pcap.read(path)
    except ParseError:
        return
    got = list(r)
    assert len(got) <= r.packets <= len(data) // 16  # every frame has at least a 16-byte header
    assert r.damage is None or r.damage.startswith("stopped at byte ")
