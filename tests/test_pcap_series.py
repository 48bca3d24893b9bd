"""What a capture cannot show about a connection's SYN series: the SYNs sent before it began
(``syns_before_capture``, from the doubling intervals of Linux's backoff), and ``gave_up`` against the end of the
captures (files, pcapng interfaces) that saw the connection, not the latest of all.  Each capture analysed three
ways (``test_pcap_ends.three``: the first pass deciding hairpins from columns, with records, the streaming
reader alone) and held to one answer."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hairpin.cli.main import app
from hairpin.diagnose import capture, capture_series
from hairpin.model.net import Packet
from hairpin.parsers import pcap
from test_pcap_ends import ACK, NODE, OTHER, RST, SA, SYN, T0, C, V, at, later, three, written

pytest.importorskip("numpy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fuzz_pcap

BEFORE = ("hairpin: warning: {n} {whose} SYN series began before the capture: {its} first SYN seen came within its "
          "first retransmission interval (2 s or more, the intervals doubling as Linux's backoff makes them) of the "
          "capture's start, so SYNs went before it (syns_before_capture: how many, at least); {their} SYN "
          "retransmissions and lost time are at least what is shown (≥ in the table)")  # fmt: skip
ONE = BEFORE.format(n=1, whose="connection's", its="its", their="its")


def rounds(starts: list[float], port: int = 40000, isn: int = 100, iface: str | None = None) -> list[pcap.PacketRecord]:
    """The seed's hairpin in the client pod, a round at each of ``starts`` (s after T0): the SYN to V:80, the
    SYN-ACK from NODE:31468, the client's RST."""
    out = []
    for s in starts:
        out += [pcap.PacketRecord(round(T0 + s, 6), iface, Packet(C, port, V, 80, SYN, isn)),
                pcap.PacketRecord(round(T0 + s + 0.0004, 6), iface, Packet(NODE, 31468, C, port, SA, 7, isn + 1)),
                pcap.PacketRecord(round(T0 + s + 0.0005, 6), iface, Packet(C, port, NODE, 31468, RST, isn + 1))]  # fmt: skip
    return out


def syns(starts: list[float], port: int = 40001, isn: int = 500) -> list[pcap.PacketRecord]:
    """An unanswered SYN series (a dropped SYN), a SYN at each of ``starts``."""
    return [at(T0 + s, Packet(C, port, V, 80, SYN, isn)) for s in starts]


def capture_of(tmp: Path, recs: list[pcap.PacketRecord], end: float = 60.0, name: str = "c.pcap") -> Path:
    """``recs`` in a capture that begins at T0 (another connection's data segment) and ends at T0 + ``end``."""
    return written(tmp, sorted([later(T0), *recs, later(T0 + end)], key=lambda r: r.t), name)


# (first SYN seen, after the capture's start, and the SYNs' times after it; syns_before_capture)
@pytest.mark.parametrize(("what", "times", "before"), [
    # the classic schedule from its 3rd SYN (1 s, 2 s before it): intervals 4, 8, 16 s; the capture began 1 s before
    ("3rd SYN", [1.0, 5.0, 13.0, 29.0], 2),
    # ... as late as a real kernel's timers fire them (the reference measurement: 4.22, 8.2, 16.12 s)
    ("3rd SYN, measured", [1.0, 5.22, 13.42, 29.54], 2),
    # from its 2nd SYN: intervals 2, 4, 8 s, the capture began 0.9 s before it (the 1st SYN 1 s before it: before)
    ("2nd SYN", [0.9, 2.9, 6.9, 14.9], 1),
    # from its 5th: 16, 32 s; 7.9 s after the start, the 4th SYN (8 s before it) came before the capture
    ("5th SYN", [7.9, 23.9, 55.9], 4),
    # the SYN before a 4 s interval is 2 s before it, as late as its timer fires: 2 * (1 + 8/63) + 0.05 = 2.304 s
    ("3rd SYN, its 2nd as late as it may be", [2.3, 6.3, 14.3, 30.3], 2),
    # a 2 s interval 1.9 s into the capture: the SYN before it (1 s before) would be 0.9 s into the capture, which
    # does not hold it; the first SYN seen may be the series' first (an initial RTO of 2 s): nothing said
    ("a 2 s interval, the SYN before it in the capture", [1.9, 3.9, 7.9, 15.9], 0),
    ("a 4 s interval, the SYN before it in the capture", [2.31, 6.31, 14.31, 30.31], 0),
    ("a 16 s interval 15.9 s into the capture", [15.9, 31.9, 63.9], 0),
    # a kernel with linear timeouts (6.5 and later), from its 6th SYN: 2, 4, 8 s (1 s five times before): at least 1
    ("linear kernel's 6th SYN", [0.5, 2.5, 6.5, 14.5], 1),
    # the first SYN seen as far from the start as its first interval, or further: the capture would have seen the one
    # before it
    ("a whole interval after the start", [4.0, 8.0, 16.0, 32.0], 0),
    # the first SYN in the capture: 1 s, then doubling
    ("1st SYN", [1.0, 2.0, 4.0, 8.0], 0),
    # a kernel with linear timeouts from its 2nd SYN: 1 s intervals say nothing
    ("linear 1 s", [0.5, 1.5, 2.5, 3.5], 0),
    # Windows (3 s, then doubling): not Linux's powers of two
    ("windows", [1.0, 4.0, 10.0, 22.0], 0),
    # intervals of 4 s that do not double (a changed RTO, a fixed interval)
    ("not doubling", [1.0, 5.0, 9.0, 13.0], 0),
    # 4, 8 then 12 s: one interval that does not double is enough
    ("stops doubling", [1.0, 5.0, 13.0, 25.0], 0),
    # one interval only (two SYNs): nothing says it doubles
    ("one interval", [1.0, 5.0], 0),
])  # fmt: skip
def test_syns_before_the_capture(tmp_path: Path, what: str, times: list[float], before: int) -> None:
    d = three([capture_of(tmp_path, rounds(times) + syns(times), end=times[-1] + 0.5)])
    got = [(x["client"], x["syn_retransmits"], x["syns_before_capture"]) for x in d["hairpins"] + d["others"]]
    n = len(times) - 1
    assert got == [("10.0.0.1:40000", n, before), ("10.0.0.1:40001", n, before)], what
    assert d["summary"]["started_before_capture"] == (2 if before else 0), what


def test_the_warning_and_the_table_say_at_least(tmp_path: Path) -> None:
    path = capture_of(tmp_path, rounds([1.0, 5.0, 13.0, 29.0]), end=29.5)
    page = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["pcap", str(path), "--html", str(page)], env={"COLUMNS": "200"})
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [f"wrote {page}", ONE]
    html = page.read_text()
    assert "<td class='n'>≥5</td><td class='n'>≥31.000</td><td>no</td>" in html
    assert "; SYN series begun before the capture: 1." in html
    row = next(line for line in res.stdout.splitlines() if "10.0.0.1:40000" in line)
    # 3 retransmissions counted and 2 SYNs before (the first seen is a retransmission too); 28.0005 s seen and the
    # 1 + 2 s before it at least
    assert row.split("│")[5:8] == ["       ≥5 ", "  ≥31.000 ", " no      "]
    res = CliRunner().invoke(app, ["pcap", str(path), "--format", "json"])
    d = json.loads(res.stdout)
    h = d["hairpins"][0]
    assert (h["syn_retransmits"], h["lost_s"], h["syns_before_capture"]) == (3, 28.0005, 2)
    assert d["summary"]["started_before_capture"] == 1
    assert res.stderr.splitlines() == [ONE]


def test_two_connections_in_the_warning(tmp_path: Path) -> None:
    recs = rounds([1.0, 5.0, 13.0]) + syns([0.9, 2.9, 6.9]) + syns([0.5, 1.5, 3.5], port=40002, isn=900)
    res = CliRunner().invoke(app, ["pcap", str(capture_of(tmp_path, recs, end=14.0)), "--format", "json"])
    d = json.loads(res.stdout)
    # (others by first SYN: 40002's, its first interval 1 s, then 40001's, 2 s)
    assert [(x["client"], x["syns_before_capture"]) for x in d["hairpins"] + d["others"]] == [
        ("10.0.0.1:40000", 2), ("10.0.0.1:40002", 0), ("10.0.0.1:40001", 1)]  # fmt: skip
    assert res.stderr.splitlines() == [BEFORE.format(n=2, whose="connections'", its="each one's", their="their")]


def test_the_start_is_that_of_the_file_that_saw_it(tmp_path: Path) -> None:
    # node1's capture from T0, node2's from T0 + 20 s: a hairpin seen only by node2, its first SYN 1 s after node2's
    # capture began, with intervals of 4 and 8 s, began before node2's capture whatever node1's saw
    node1 = capture_of(tmp_path, [*syns([1.0], port=41000, isn=7), at(T0 + 1.0004, Packet(V, 80, C, 41000, SA, 1, 8))],
                       end=60.0, name="node1.pcap")  # fmt: skip
    recs = [at(T0 + 20, Packet(OTHER, 9, V, 80, ACK, 1, 1)), *rounds([21.0, 25.0, 33.0]), later(T0 + 40)]
    node2 = written(tmp_path, recs, "node2.pcap")
    d = three([node1, node2])
    assert [(h["client"], h["syn_retransmits"], h["syns_before_capture"]) for h in d["hairpins"]] == [
        ("10.0.0.1:40000", 2, 2)]  # fmt: skip
    assert (d["summary"]["healthy"], d["summary"]["started_before_capture"]) == (1, 1)


# SYN rounds at 0.5, 1.5 and 3.5 s: another one was due 4 s after the last, at T0 + 7.5, as late as its timer may fire
# 4.6706 s after it (capture_series.next_due): node1's last frame at `end` + 0.5
@pytest.mark.parametrize(("end", "gave_up"), [(7.0, False), (7.67, False), (7.671, True)])
def test_gave_up_against_the_end_of_the_file_that_saw_it(tmp_path: Path, end: float, gave_up: bool) -> None:
    # node1's capture ends at T0 + `end`, node2's (another node: no packet of the hairpin) runs on to T0 + 60: the
    # hairpin seen by node1 alone is decided against node1's end, not node2's (before, `true` for both)
    node1 = written(tmp_path, [later(T0), *rounds([0.5, 1.5, 3.5]), later(T0 + end + 0.5)], "node1.pcap")
    node2 = capture_of(tmp_path, [], end=60.0, name="node2.pcap")
    d = three([node1, node2])
    assert [(h["syn_retransmits"], h["gave_up"]) for h in d["hairpins"]] == [(2, gave_up)]
    # seen by both (node2 saw its SYNs too): node2's end
    both = written(tmp_path, sorted([later(T0), *rounds([0.5, 1.5, 3.5], port=40000), later(T0 + 60)],
                                    key=lambda r: r.t), "node2b.pcap")  # fmt: skip
    d = three([node1, both])
    assert [(h["syn_retransmits"], h["gave_up"]) for h in d["hairpins"]] == [(2, True)]


def test_gave_up_per_interface_of_a_pcapng(tmp_path: Path) -> None:
    # one pcapng with two interfaces (dumpcap -i eth0 -i eth1): eth0's last frame 6 s after the hairpin's first SYN,
    # eth1's 60 s: the hairpin seen on eth0 is decided against eth0's end
    eth0 = [pcap.PacketRecord(T0, "eth0", Packet(OTHER, 9, V, 80, ACK, 1, 1)), *rounds([0.5, 1.5, 3.5], iface="eth0"),
            pcap.PacketRecord(T0 + 6.0, "eth0", Packet(OTHER, 9, V, 80, ACK, 2, 1))]  # fmt: skip
    eth1 = [pcap.PacketRecord(T0 + t, "eth1", Packet(OTHER, 10, V, 80, ACK, 1, 1)) for t in (0.1, 60.0)]
    path = written(tmp_path, sorted(eth0 + eth1, key=lambda r: r.t), "c.pcapng")
    d = three([path])
    assert [(h["syn_retransmits"], h["gave_up"]) for h in d["hairpins"]] == [(2, False)]
    seen: list[str] = []
    assert [h.gave_up for h in capture.watch(path, seen.append).hairpins] == [False]
    # the same frames on one interface: its end is the last frame, 60 s
    one = written(tmp_path, [pcap.PacketRecord(r.t, "eth0", r.packet) for r in sorted(eth0 + eth1, key=lambda r: r.t)],
                  "one.pcapng")  # fmt: skip
    assert [h["gave_up"] for h in three([one])["hairpins"]] == [True]


def test_the_kernels_intervals() -> None:
    # each interval of the backoff, as late as the timer wheel fires it (8/63 of it) and the capture's stamps (50 ms)
    assert [capture_series.step(g) for g in (1.0, 1.9, 1.95, 2.0, 2.3, 2.31, 3.0, 4.22, 8.2, 16.12, 33.54, 64.0)] == [
        0, 0, 1, 1, 1, 0, 0, 2, 3, 4, 5, 6]  # fmt: skip
    assert capture_series.doubles(64.0, 120.0)  # TCP_RTO_MAX caps the 8th interval
    assert not capture_series.doubles(32.0, 120.0)
    assert not capture_series.doubles(2.0, 3.0)
    assert capture_series.step(120.0) == 0
    # the latest the next SYN may come: twice the interval, as late as its timer fires (the reference kernel's 7th SYN
    # came 33.54 s after an interval of 16.12 s, later than twice it)
    assert [round(capture_series.next_due(g), 4) for g in (1.0, 2.0, 16.12, 32.0)] == [2.4167, 4.6706, 36.4967, 72.2897]
    assert capture_series.next_due(16.12) > 33.54 > 2 * 16.12


@pytest.mark.parametrize("listed", [1, 10_000])
def test_cut_by_the_end_of_the_file_that_saw_it(tmp_path: Path, listed: int) -> None:
    # node1's capture ends 0.5 s after two lone SYNs (no time for a retransmission), node2's (another node) runs on to
    # T0 + 60: cut by node1's end, not failures (before, two unanswered SYNs); a SYN 1 s before node1's end is one.
    # With 1 listed, the first pass counts the lone SYNs past the first without the analyser
    node1 = written(tmp_path, [later(T0), *syns([3.0], port=40003, isn=3), *syns([3.5], port=40001, isn=1),
                               *syns([3.6], port=40002, isn=2), later(T0 + 4.0)], "node1.pcap")  # fmt: skip
    node2 = capture_of(tmp_path, [], end=60.0, name="node2.pcap")
    out = [json.loads(json.dumps(capture.analyse_files([node1, node2], fast=fast, records=records,
                                                       listed=listed).to_json()))
           for fast, records in ((True, False), (True, True), (False, True))]  # fmt: skip
    assert out[0] == out[1] == out[2]
    s = out[0]["summary"]
    assert (s["connections"], s["other_failures"], s["cut_by_capture_end"]) == (3, {"unanswered-syn": 1}, 2)
    # node1 alone: the same
    assert three([node1])["summary"]["cut_by_capture_end"] == 2


@pytest.mark.parametrize(("gap", "after"), [(0.5, True), (1.0, True), (1.5, False), (400.0, False)])
def test_a_gap_between_two_files_is_a_gap_in_the_capture(tmp_path: Path, gap: float, after: bool) -> None:
    # rot_0 (T0 to T0 + 100): an unanswered SYN series at 88, 89, 91 and 95 s (the next due 8 s after the last); rot_1
    # begins `gap` s after rot_0's last frame, with a series at 0.5, 2.5 and 6.5 s into it (a 2 s interval: the SYN
    # before it came 1 s before it), and runs 200 s.  Within 1 s it continues rot_0 (a rotation): the first series
    # gave up, and rot_1's began in rot_0's time, which does not hold its SYN before.  A longer gap is a gap in the
    # capture (before, any later file continued rot_0: gave_up true with a 400 s gap)
    rot0 = written(tmp_path, [later(T0), *syns([88.0, 89.0, 91.0, 95.0]), later(T0 + 100)], "rot_0.pcap")
    s1 = 100 + gap
    rot1 = written(tmp_path, [later(T0 + s1), *syns([s1 + 0.5, s1 + 2.5, s1 + 6.5], port=40005, isn=5),
                              later(T0 + s1 + 200)], "rot_1.pcap")  # fmt: skip
    d = three([rot0, rot1])
    got = [(o["client"], o["syn_retransmits"], o["gave_up"], o["syns_before_capture"]) for o in d["others"]]
    assert got == [("10.0.0.1:40001", 3, after, 0), ("10.0.0.1:40005", 2, True, 0 if after else 1)]
    assert d["summary"]["started_before_capture"] == (0 if after else 1)


@pytest.mark.parametrize(("gap", "after"), [(0.5, True), (1.0, True), (1.5, False), (400.0, False)])
def test_a_lone_syn_before_a_gap_between_two_files_is_cut(tmp_path: Path, gap: float, after: bool) -> None:
    # a lone SYN 0.5 s before rot_0's last frame, rot_1 (data only) `gap` s after it: within 1 s, a rotation that ran
    # 200 s more without a retransmission (a failure); later, a gap in the capture: cut by rot_0's end (before, a
    # failure with a 400 s gap)
    rot0 = written(tmp_path, [later(T0), *syns([99.5], port=40009, isn=9), later(T0 + 100)], "rot_0.pcap")
    rot1 = written(tmp_path, [later(T0 + 100 + gap), later(T0 + 300 + gap)], "rot_1.pcap")
    d = three([rot0, rot1])
    assert [(o["client"], o["syn_retransmits"]) for o in d["others"]] == ([("10.0.0.1:40009", 0)] if after else [])
    assert d["summary"]["cut_by_capture_end"] == (0 if after else 1)


def test_a_file_out_of_time_order_says_nothing_before_it(tmp_path: Path) -> None:
    # the file's first frame at 100 s, then an unanswered series at 5, 7, 11 and 19 s (intervals 2, 4, 8 s) and a frame
    # at 0 s (tshark shows them in that order): the capture ran from 0 s, its earliest frame, where its span begins,
    # which would have held the SYN 1 s before the first one: nothing said (until 2026-12-03 its span began at its
    # first frame in the file, 100 s, and nothing was said of a first SYN before it)
    path = written(tmp_path, [later(T0 + 100), *syns([5.0, 7.0, 11.0, 19.0]), later(T0), later(T0 + 30)])
    rd = pcap.read(path)
    list(rd)
    assert (rd.spans(), rd.done) == ({None: (T0, T0 + 100)}, True)
    d = three([path])
    assert [(o["client"], o["syn_retransmits"], o["syns_before_capture"]) for o in d["others"]] == [
        ("10.0.0.1:40001", 3, 0)]  # fmt: skip
    assert d["summary"]["started_before_capture"] == 0


def test_gave_up_per_unnamed_interface_of_a_pcapng(tmp_path: Path) -> None:
    # as test_gave_up_per_interface_of_a_pcapng, the two interfaces without if_name (their names turned into another
    # option, if_description): two captures, eth0's ending 6 s after the hairpin's first SYN (before, they were one,
    # named None, and the hairpin was decided against the other's end, 60 s: gave_up true)
    eth0 = [pcap.PacketRecord(T0, "ifA0", Packet(OTHER, 9, V, 80, ACK, 1, 1)), *rounds([0.5, 1.5, 3.5], iface="ifA0"),
            pcap.PacketRecord(T0 + 6.0, "ifA0", Packet(OTHER, 9, V, 80, ACK, 2, 1))]  # fmt: skip
    eth1 = [pcap.PacketRecord(T0 + t, "ifB0", Packet(OTHER, 10, V, 80, ACK, 1, 1)) for t in (0.1, 60.0)]
    path = written(tmp_path, sorted(eth0 + eth1, key=lambda r: r.t), "c.pcapng")
    data = path.read_bytes()
    for name in (b"ifA0", b"ifB0"):  # option 2 (if_name), 4 bytes -> option 3 (if_description)
        assert data.count(b"\x02\x00\x04\x00" + name) == 1
        data = data.replace(b"\x02\x00\x04\x00" + name, b"\x03\x00\x04\x00" + name)
    path.write_bytes(data)
    rd = pcap.read(path)
    assert [r.interface for r in rd][:3] == [None, "interface 1", None]
    assert rd.spans() == {None: (T0, T0 + 6.0), "interface 1": (T0 + 0.1, T0 + 60.0)}
    d = three([path])
    assert [(h["syn_retransmits"], h["gave_up"]) for h in d["hairpins"]] == [(2, False)]


CUT = ("hairpin: warning: 1 connection attempt cut by the end of the capture: one SYN, no answer yet, and the capture "
       "ended less than 1 s after it, before the client could retransmit; not counted as failures (a file of a "
       "rotation: read the next file with it)")  # fmt: skip


def both_paths(paths: list[Path]) -> tuple[Any, str, str]:
    """``hairpin pcap PATHS --format json`` with and without the first pass: one exit code, output and warnings."""
    args = ["pcap", *map(str, paths), "--format", "json"]
    fast, slow = fuzz_pcap.cli(args, False), fuzz_pcap.cli(args, True)
    assert fast == slow
    return fast


@pytest.mark.parametrize("how", ["two files", "two interfaces", "an interface that goes on"])
def test_a_lone_syn_cut_by_its_captures_end_while_another_runs_on(tmp_path: Path, how: str) -> None:
    # node1's capture: a lone SYN at 3.5 s, its last frame at 4.0 s; node2's runs to 300 s with an unanswered series at
    # 200, 201 and 203 s.  The streaming analyser forgets node1's attempt 135 s after it, while node2's file is still
    # read: it waits for node1's end to be known, and is cut by it as the first pass counts it (before, the streaming
    # analyser listed it as an unanswered-syn failure).  The same with two interfaces of one pcapng; when node1's
    # interface goes on (a frame at 150 s, read after the attempt was forgotten), its SYN is a failure in both
    iface1, iface2 = ("node1", "node2") if how != "two files" else (None, None)
    one = [pcap.PacketRecord(T0, iface1, later(T0).packet),
           pcap.PacketRecord(T0 + 3.5, iface1, Packet(C, 40009, V, 80, SYN, 9)),
           pcap.PacketRecord(T0 + (150.0 if how == "an interface that goes on" else 4.0), iface1, later(T0).packet)]  # fmt: skip
    two = [pcap.PacketRecord(T0 + 0.1, iface2, later(T0).packet),
           *(pcap.PacketRecord(T0 + t, iface2, Packet(C, 40010, V, 80, SYN, 10)) for t in (200.0, 201.0, 203.0)),
           pcap.PacketRecord(T0 + 300, iface2, later(T0).packet)]  # fmt: skip
    if how == "two files":
        paths = [written(tmp_path, one, "node1.pcap"), written(tmp_path, two, "node2.pcap")]
    else:
        paths = [written(tmp_path, sorted(one + two, key=lambda r: r.t), "c.pcapng")]
    d = three(paths)
    cut = how != "an interface that goes on"
    got = [(o["kind"], o["client"], o["syn_retransmits"], o["gave_up"]) for o in d["others"]]
    assert got == [*([] if cut else [("unanswered-syn", "10.0.0.1:40009", 0, False)]),
                   ("unanswered-syn", "10.0.0.1:40010", 2, True)]  # fmt: skip
    s = d["summary"]
    assert (s["connections"], s["cut_by_capture_end"], s["other_failures"]) == (
        2, 1 if cut else 0, {"unanswered-syn": 1 if cut else 2})  # fmt: skip
    code, out, err = both_paths(paths)
    assert (code, err.splitlines()) == (0, [CUT] if cut else [])
    assert json.loads(out)["summary"] == s


@pytest.mark.parametrize("ng", [False, True])
def test_a_file_out_of_time_order_ends_at_its_latest_frame(tmp_path: Path, ng: bool) -> None:
    # a hairpin at 0, 1 and 3 s and a lone SYN at 3.5 s, then frames at 10 s and at 4 s, in that order in the file: it
    # ran to 10 s, its latest frame, wherever it is in the file; the next SYN was due by 7.67 s (gave_up) and the lone
    # SYN had 6.5 s to be retransmitted (a failure).  Until 2026-12-03 the end was the last frame in the file, 4 s:
    # gave_up false and the lone SYN cut by it
    recs = [later(T0), *rounds([0.0, 1.0, 3.0]), at(T0 + 3.5, Packet(C, 40009, V, 80, SYN, 9)), later(T0 + 10.0),
            later(T0 + 4.0)]  # fmt: skip
    path = written(tmp_path, [pcap.PacketRecord(r.t, "eth0" if ng else None, r.packet) for r in recs],
                   "c.pcapng" if ng else "c.pcap")  # fmt: skip
    spans = {"eth0" if ng else None: (T0, T0 + 10.0)}
    streamed, scanned = pcap.read(path, want=6), pcap.read(path, want=6)
    assert scanned.scan() is not None
    assert (scanned.spans(), scanned.done, scanned.last_t) == (spans, True, T0 + 10.0)
    assert (streamed.spans(), streamed.done) == ({}, False)
    list(streamed)
    assert (streamed.spans(), streamed.done, streamed.last_t) == (spans, True, T0 + 10.0)
    d = three([path])
    assert [(h["client"], h["gave_up"]) for h in d["hairpins"]] == [("10.0.0.1:40000", True)]
    assert [(o["kind"], o["client"]) for o in d["others"]] == [("unanswered-syn", "10.0.0.1:40009")]
    assert d["summary"]["cut_by_capture_end"] == 0


@pytest.mark.parametrize("earliest", [False, True])
def test_the_start_read_last_undoes_a_series_begun_before_the_capture(tmp_path: Path, earliest: bool) -> None:
    # the file's first frame at 100 s, an unanswered series at 101, 103, 107 and 115 s (intervals 2, 4, 8 s: the SYN
    # before it 1 s before its first, at 100 s, as the capture began), a lone SYN at 400 s (the streaming analyser
    # forgets the series there) and, last in the file, a frame at 0 s: the capture ran from 0 s and would have held
    # that SYN, so nothing is said; the streaming analyser decided it at 400 s, before that frame was read, and
    # decides it again at the end.  Without that frame, the series began before the capture
    recs = [later(T0 + 100), *syns([101.0, 103.0, 107.0, 115.0]), *syns([400.0], port=40002, isn=2),
            later(T0 + 500), *([later(T0)] if earliest else [])]  # fmt: skip
    d = three([written(tmp_path, recs)])
    assert [(o["client"], o["syn_retransmits"], o["syns_before_capture"]) for o in d["others"]] == [
        ("10.0.0.1:40001", 3, 0 if earliest else 1), ("10.0.0.1:40002", 0, 0)]  # fmt: skip
    assert d["summary"]["started_before_capture"] == (0 if earliest else 1)
