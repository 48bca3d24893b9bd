"""``hairpin pcap``'s fast path against the streaming reader on generated and mutated captures
(benchmarks/fuzz_pcap.py, a bounded share of its campaign), and the exact regressions of what the campaign
found: each the smallest file that showed it, with the answer both paths must give."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin.diagnose import capture
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import frames

np = pytest.importorskip("numpy")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import fuzz_pcap  # noqa: E402

from hairpin.diagnose import capture_fast  # noqa: E402
from test_pcap_edges import CUT_WARNING  # noqa: E402
from time_limit import within  # noqa: E402

CLIENT, VIP = ip_int("192.168.0.1"), ip_int("192.168.0.2")


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.integers(0, 2**32 - 1))
def test_generated_and_mutated_captures_same_answer(tmp_path: Path, seed: int) -> None:
    """One to three captures of every format and link type, mutated: the CLI's JSON and text, the
    ``records=True`` analysis and the first pass's rows are the streaming reader's."""
    import random

    rng = random.Random(seed)
    where = tmp_path / str(seed)
    where.mkdir()
    paths, desc = fuzz_pcap.make_case(rng, where)
    with within(60):
        bad = fuzz_pcap.check(paths, rng.choice(fuzz_pcap.CHUNKS), True, rng.choice([1, 3, 10_000]))
    assert not bad, desc


# ---------------------------------------------------------------------------------------------- regressions


def _pcapng_seconds(path: Path, packets: list[tuple[Packet, int]]) -> None:
    """A pcapng file with one Ethernet interface whose clock ticks in whole seconds (``if_tsresol`` 0), one
    Enhanced Packet Block a packet at its tick count."""
    o = "<"
    shb = fuzz_pcap._ng_block(o, 0x0A0D0D0A, struct.pack(o + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    opts = fuzz_pcap._ng_opt(o, 9, b"\x00") + fuzz_pcap._ng_opt(o, 0, b"")
    out = [shb, fuzz_pcap._ng_block(o, 1, struct.pack(o + "HHI", frames.ETHERNET, 0, 262144) + opts)]
    for p, ticks in packets:
        d = frames.frame(p)
        out.append(fuzz_pcap._ng_block(o, 6, struct.pack(o + "IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(d),
                                                          len(d)) + d))  # fmt: skip
    path.write_bytes(b"".join(out))


def test_a_clock_past_2_to_the_56_seconds_is_answered(tmp_path: Path) -> None:
    """A pcapng clock in whole seconds at 2**62 s: ``end + TICK`` rounds back to ``end`` there, and the
    replay's search for the analyser's looks for attempts to forget never moved on (the fast path hung).
    Such a clock is now analysed packet by packet (``CLOCK_MAX``), and ``looks`` itself moves on (below):
    both paths answer alike."""
    path = tmp_path / "seconds.pcapng"
    _pcapng_seconds(path, [(Packet(CLIENT, 40000, VIP, 80, Flags.SYN, 5), 1 << 62),
                           (Packet(VIP, 80, CLIENT, 40000, Flags.SYN | Flags.ACK, 9, 6), (1 << 62) + 1),
                           (Packet(CLIENT, 40001, VIP, 80, Flags.SYN, 77), (1 << 62) + 3)])  # fmt: skip
    with within(60):
        assert fuzz_pcap.check([path], 1 << 20, True, 1) == []
        code, out, err = fuzz_pcap.cli(["pcap", str(path), "--format", "json"], False)
    summary = json.loads(out)["summary"]
    # (the last SYN, 3 s after the first, is 2**62 s to a float: the capture's end, so cut by it)
    assert (code, err) == (0, f"hairpin: warning: {CUT_WARNING.format(n=1, s='')}\n")
    assert (summary["packets"], summary["connections"], summary["healthy"], summary["other_failures"],
            summary["cut_by_capture_end"]) == (3, 2, 1, {}, 1)  # fmt: skip
    assert capture.analyse_files([path], fast=False).to_json()["summary"] == summary


def test_looks_when_tick_is_lost_to_rounding() -> None:
    """Past 2**56 s a look comes at every row that moves ``end`` (``next_tick`` is ``end`` again); below, at
    the rows ``TICK`` apart."""
    big = 2.0**62  # one unit in the last place: 1024 s
    assert big + capture_fast.TICK == big
    assert capture_fast.looks(np.array([big, big, big + 1024, big + 1024, big + 2048])) == [0, 2, 4]
    assert capture_fast.looks(np.array([0.0, 0.0, 1.0, 5.0, 11.0, 11.5, 21.0, 31.0])) == [2, 4, 6, 7]


def test_a_syn_ack_8_s_late_at_2_to_the_55_seconds_is_not_a_healthy_pair(tmp_path: Path) -> None:
    """At 2**55 s a float's unit in the last place is 8 s: ``end - DISORDER`` rounded to 8 s behind ``end``,
    so a SYN-ACK written 8 s late (after a SYN 136 s past its own SYN, whose look forgot the attempt) passed
    the replay's test and was counted healthy; the analyser's answer is two unanswered SYNs.  Clocks past
    ``CLOCK_MAX`` are now analysed packet by packet."""
    x = 1 << 55
    path = tmp_path / "ulp8.pcapng"
    _pcapng_seconds(path, [(Packet(CLIENT, 40000, VIP, 80, Flags.SYN, 5), x),
                           (Packet(CLIENT, 40001, VIP, 80, Flags.SYN, 77), x + 136),
                           (Packet(VIP, 80, CLIENT, 40000, Flags.SYN | Flags.ACK, 9, 6), x + 128)])  # fmt: skip
    assert float(x + 136) - capture_fast.DISORDER == float(x + 128)  # the rounding that let it through
    assert capture_fast.stream_order([np.array([x, x + 136, x + 128], np.float64)]) is None
    assert fuzz_pcap.check([path], 1 << 20, True, 1) == []
    code, out, err = fuzz_pcap.cli(["pcap", str(path), "--format", "json"], False)
    summary = json.loads(out)["summary"]
    # (the SYN at x + 136 ends the capture: cut by its end; the SYN-ACK written 8 s behind it finds its attempt
    # forgotten by then, so it is an answer whose SYN the analysis no longer holds: counted as one, never a pair)
    assert (code, err) == (0, f"hairpin: warning: {CUT_WARNING.format(n=1, s='')}\nhairpin: warning: 1 answer to a "
                              "SYN not in the capture: SYN-ACKs, or RSTs to a SYN, whose SYN was sent before the capture "
                              "began or on an interface it did not see; not counted as connections (start the capture "
                              "before the clients connect, on every interface: tcpdump -i any)\n")  # fmt: skip
    assert json.loads(out)["summary"]["answers_without_syn"] == 1
    assert (summary["connections"], summary["healthy"], summary["other_failures"], summary["cut_by_capture_end"]) == (
        2, 0, {"unanswered-syn": 1}, 1)  # fmt: skip


def _pcapng_interleaved(path: Path, packets: int, every: int) -> None:
    """A pcapng file of ``packets`` Enhanced Packet Blocks (a healthy handshake each two), a custom block after
    every ``every`` of them."""
    o = "<"
    shb = fuzz_pcap._ng_block(o, 0x0A0D0D0A, struct.pack(o + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    out = [shb, fuzz_pcap._ng_block(o, 1, struct.pack(o + "HHI", frames.ETHERNET, 0, 262144))]
    for k in range(packets):
        isn = 1000 + k // 2
        p = Packet(CLIENT, 1024 + k // 2, VIP, 80, Flags.SYN, isn) if k % 2 == 0 else \
            Packet(VIP, 80, CLIENT, 1024 + k // 2, Flags.SYN | Flags.ACK, 9, isn + 1)  # fmt: skip
        d = frames.frame(p)
        us = 1_700_000_000_000_000 + k
        epb = struct.pack(o + "IIIII", 0, us >> 32, us & 0xFFFFFFFF, len(d), len(d)) + d
        out.append(fuzz_pcap._ng_block(o, 6, epb))
        if k % every == every - 1:
            out.append(fuzz_pcap._ng_block(o, 0xBAD, b"abcd"))
    path.write_bytes(b"".join(out))


@pytest.mark.parametrize(("every", "scanned"), [(1, False), (3, False), (100, True)])
def test_pcapng_blocks_between_packets_leave_it_to_the_streaming_reader(tmp_path: Path, every: int,
                                                                        scanned: bool) -> None:  # fmt: skip
    """Enhanced Packet Blocks a few at a time between other blocks: each run cost the first pass a search of
    the rest of its chunk and a pass of its own (100 times the streaming reader's time on 100,000 packets with
    a custom block after each), so such a file is now read by the streaming reader; runs of 64 and more keep
    the first pass.  The answer is the same either way."""
    from hairpin.parsers import pcap

    path = tmp_path / "interleaved.pcapng"
    _pcapng_interleaved(path, 3000, every)
    assert (pcap.read(path, want=6).scan() is not None) == scanned
    assert fuzz_pcap.check([path], 1 << 20, False) == []
    summary = capture.analyse_files([path]).to_json()["summary"]
    assert (summary["packets"], summary["connections"], summary["healthy"]) == (3000, 1500, 1500)


@pytest.mark.parametrize("chunk", [4096, 1 << 20])
def test_ipv6_flood_sources_in_prefixes_of_their_own(tmp_path: Path, chunk: int) -> None:
    """A SYN flood from random IPv6 sources, each in a /64 of its own, with handshakes and a hairpin between
    sources met again in later chunks: the addresses met for the first time are added at once (a loop of NumPy
    calls for each prefix took 6.6 s of 7.1 on 200,000 such SYNs, more than the streaming reader's 2.3 s), and
    every address keeps one index: the same rows, counts and hairpin as the streaming reader."""
    import random

    from hairpin.model.net import V6
    from hairpin.parsers import pcap

    rng = random.Random(7)
    vip, node = V6 | 0xFD00 << 112 | 5, V6 | 0xFD00 << 112 | 9
    sources = [V6 | rng.getrandbits(128) for _ in range(600)]
    recs = []
    for k in range(1500):
        c, t, isn = sources[k % 600], 1000.0 + k * 0.01, rng.getrandbits(32)
        recs.append(pcap.PacketRecord(t, None, Packet(c, 1024 + k, vip, 80, Flags.SYN, isn)))
        if k % 5 == 0:
            answer = Packet(vip, 80, c, 1024 + k, Flags.SYN | Flags.ACK, 1, isn + 1)
            recs.append(pcap.PacketRecord(t + 0.001, None, answer))
        if k == 1401:  # a hairpin: the SYN-ACK from the node, the client's RST
            recs += [pcap.PacketRecord(t + 0.002, None, Packet(node, 31468, c, 1024 + k, Flags.SYN | Flags.ACK, 1, isn + 1)),
                     pcap.PacketRecord(t + 0.003, None, Packet(c, 1024 + k, node, 31468, Flags.RST, isn + 1))]  # fmt: skip
    recs.append(pcap.PacketRecord(1300.0, None, Packet(1, 9, 2, 9, Flags.ACK, 1, 1)))  # goes on: none cut by the end
    path = tmp_path / "flood6.pcap"
    pcap.write_pcap(path, recs)
    assert fuzz_pcap.check([path], chunk, True, 3) == []
    with fuzz_pcap.chunked(chunk):
        rd = pcap.read(path, want=6)
        sc = rd.scan()
    assert len(sc.addrs) == 602  # the sources, the called address and the node, once each
    summary = capture.analyse_files([path], listed=3).to_json()["summary"]
    assert (summary["connections"], summary["healthy"], summary["hairpins"]) == (1500, 300, 1)
    assert summary["other_failures"] == {"unanswered-syn": 1199}
