"""The two ends of a capture: ``gave_up`` decided against the capture's last frame (any frame, in any file read
together), and the answers whose SYN is not in the capture (a SYN-ACK, or a RST with ACK and sequence 0, that
joins no attempt: ``summary.answers_without_syn``).  Each capture is analysed three ways (the first pass deciding
hairpins from columns, the first pass with records, the streaming reader alone) and held to one answer."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hairpin.cli.main import app
from hairpin.diagnose import capture
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import frames, pcap

pytest.importorskip("numpy")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import fuzz_pcap

SYN, SA, RST, ACK = Flags.SYN, Flags.SYN | Flags.ACK, Flags.RST, Flags.ACK
C, V, NODE, OTHER = ip_int("10.0.0.1"), ip_int("192.168.168.103"), ip_int("192.168.2.3"), ip_int("10.9.9.9")
BACKEND = ip_int("192.168.49.70")
T0 = 1_700_000_000.0
NO_SYN = ("hairpin: warning: {n} answer{s} to {syns} not in the capture: SYN-ACKs, or RSTs to a SYN, whose SYN was "
          "sent before the capture began or on an interface it did not see; not counted as connections (start the "
          "capture before the clients connect, on every interface: tcpdump -i any)")  # fmt: skip


def at(t: float, p: Packet) -> pcap.PacketRecord:
    return pcap.PacketRecord(round(t, 6), None, p)


def later(t: float) -> pcap.PacketRecord:
    """A data segment of another connection (no SYN, no RST: never a row of the analysis) at ``t``."""
    return at(t, Packet(OTHER, 9, V, 80, ACK, 1, 1))


def written(tmp: Path, recs: list[pcap.PacketRecord], name: str = "c.pcap") -> Path:
    path = tmp / name
    if name.endswith(".pcapng"):
        pcap.write_pcapng(path, recs)
    else:
        pcap.write_pcap(path, recs, linktype=pcap.SLL2)
    return path


def three(paths: list[Path]) -> dict[str, Any]:
    out = [json.loads(json.dumps(capture.analyse_files(paths, fast=fast, records=records).to_json()))
           for fast, records in ((True, False), (True, True), (False, True))]  # fmt: skip
    assert out[0] == out[1] == out[2]
    return out[0]


def hairpin_rounds(starts: tuple[float, ...]) -> list[pcap.PacketRecord]:
    """The seed's hairpin in the client pod: each round a SYN to V:80, the SYN-ACK from NODE:31468, the RST."""
    out = []
    for s in starts:
        out += [at(T0 + s, Packet(C, 40000, V, 80, SYN, 100)), at(T0 + s + 0.0004, Packet(NODE, 31468, C, 40000, SA, 7, 101)),
                at(T0 + s + 0.0005, Packet(C, 40000, NODE, 31468, RST, 101))]  # fmt: skip
    return out


def udp_pcap(path: Path, recs: list[pcap.PacketRecord], udp_at: float) -> Path:
    """``recs`` in Ethernet, then a DNS query (UDP, skipped as ``protocol``) at ``udp_at``: the last frame."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + 4, 1, 0, 64, 17, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    udp = struct.pack("!HHHH", 53000, 53, 12, 0) + b"abcd"
    dns = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp
    body = b""
    for r in recs:
        data = frames.frame(r.packet, frames.ETHERNET)
        us = round(r.t * 1_000_000)
        body += struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(data), len(data)) + data
    us = round(udp_at * 1_000_000)
    body += struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(dns), len(dns)) + dns
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + body)
    return path


# SYN rounds at 0, 1 and 3 s: the last interval is 2 s, so another SYN was due 4 s after the last one, as late as the
# timer may fire it (capture_series.next_due): 2 * (2 + 0.05) * (1 + 8/63) + 0.05 = 4.6706 s after it.  (Before
# 2026-12-03, 4 s: a capture ending at 4 s said the client gave up where a late timer's SYN was still to come)
@pytest.mark.parametrize(("tail", "gave_up"), [(None, False), (3.999999, False), (4.0, False), (4.67, False),
                                               (4.671, True), (6.0, True)])  # fmt: skip
@pytest.mark.parametrize("how", ["pcap", "pcapng", "udp", "rotation"])
def test_gave_up_against_the_captures_last_frame(tmp_path: Path, tail: float | None, gave_up: bool, how: str) -> None:
    # the capture's end is its last frame, whatever it is (a data segment, a DNS query, the next file of a
    # rotation), not its last SYN or RST: running 2 intervals past the last SYN, it would have seen the next one
    rounds = hairpin_rounds((0.0, 1.0, 3.0))
    unanswered = [at(T0 + s, Packet(C, 40001, V, 80, SYN, 500)) for s in (0.0, 1.0, 3.0)]
    recs = sorted(rounds + unanswered, key=lambda r: r.t)
    end = T0 + 3.0 + tail if tail is not None else None
    if how == "udp" and end is not None:
        paths = [udp_pcap(tmp_path / "c.pcap", recs, end)]
    elif how == "rotation" and end is not None:  # the frame in the next file of the rotation, begun as rot_0 ended
        paths = [written(tmp_path, recs, "rot_0.pcap"),
                 written(tmp_path, [later(T0 + 3.001), later(end)], "rot_1.pcap")]  # fmt: skip
    else:
        paths = [written(tmp_path, recs + ([later(end)] if end is not None else []),
                         "c.pcapng" if how == "pcapng" else "c.pcap")]  # fmt: skip
    d = three(paths)
    hairpin = ("10.0.0.1:40000", 2, gave_up)
    assert [(h["client"], h["syn_retransmits"], h["gave_up"]) for h in d["hairpins"]] == [hairpin]
    assert [(o["kind"], o["client"], o["syn_retransmits"], o["gave_up"]) for o in d["others"]] == [
        ("unanswered-syn", "10.0.0.1:40001", 2, gave_up)]  # fmt: skip


def test_gave_up_in_text_html_and_a_live_stream(tmp_path: Path) -> None:
    path = written(tmp_path, [*hairpin_rounds((0.0, 1.0, 3.0)), later(T0 + 9.0)])
    res = CliRunner().invoke(app, ["pcap", str(path), "--html", str(tmp_path / "r.html")], env={"COLUMNS": "200"})
    assert res.exit_code == 1
    row = next(line for line in res.stdout.splitlines() if "10.0.0.1:40000" in line)
    assert row.split("│")[5:8] == ["        2 ", "    3.000 ", " yes     "]
    assert "<td class='n'>2</td><td class='n'>3.000</td><td>yes</td>" in (tmp_path / "r.html").read_text()
    seen: list[str] = []
    live = capture.watch(path, seen.append)
    assert [h.gave_up for h in live.hairpins] == [True]


def test_answers_whose_syn_is_before_the_capture(tmp_path: Path) -> None:
    # a hairpin round's SYN-ACK (seen before and after de-NAT) and the client's RST, a healthy handshake's SYN-ACK
    # retransmitted by its server 1 s later, and a closed port's RST to a SYN: three SYNs before the first packet,
    # each counted once; the client's RST (no ACK: it answers a SYN-ACK, like a RST to an established flow's data)
    # is not one.  The hairpin's next round is found, its retransmissions counted from there
    recs = [at(T0, Packet(BACKEND, 80, NODE, 16125, SA, 7, 101)), at(T0 + 0.00001, Packet(NODE, 31468, C, 40000, SA, 7, 101)),
            at(T0 + 0.0001, Packet(C, 40000, NODE, 31468, RST, 101)),
            at(T0 + 0.0002, Packet(V, 80, C, 40001, SA, 9, 301)), at(T0 + 0.0003, Packet(V, 81, C, 40002, RST | ACK, 0, 401)),
            *hairpin_rounds((1.0,)), at(T0 + 1.2, Packet(V, 80, C, 40001, SA, 9, 301)), later(T0 + 10)]  # fmt: skip
    d = three([written(tmp_path, recs)])
    s = d["summary"]
    assert (s["connections"], s["hairpins"], s["healthy"], s["other_failures"], s["answers_without_syn"]) == (
        1, 1, 0, {}, 3)  # fmt: skip
    assert d["hairpins"][0]["syn_retransmits"] == 0


def test_the_same_answer_more_than_130_s_apart_is_two(tmp_path: Path) -> None:
    # (a repeat less than 130 s after the one before is the same answer: its views, its server's retransmissions)
    recs = [at(T0 + s, Packet(V, 80, C, 40001, SA, 9, 301)) for s in (0.0, 100.0, 229.999, 360.0)]
    assert three([written(tmp_path, recs)])["summary"]["answers_without_syn"] == 2


@pytest.mark.parametrize(("what", "rows", "kinds", "count"), [
    # a RST to an established flow's data (no ACK), an abortive close (RST, ACK, sequence not 0): not answers to a SYN
    ("rst to data", [(0.0, Packet(V, 80, C, 40001, RST, 5000))], {}, 0),
    ("abortive close", [(0.0, Packet(V, 80, C, 40001, RST | ACK, 5000, 301))], {}, 0),
    # a closed port's RST to a SYN in the capture: server-reset, its answer found
    ("server reset", [(0.0, Packet(C, 40001, V, 81, SYN, 300)), (0.0002, Packet(V, 81, C, 40001, RST | ACK, 0, 301))],
     {"server-reset": 1}, 0),
    # a healthy handshake and its server's retransmitted SYN-ACK (the client's ACK lost): the SYN is in the capture
    # (the SYN-ACK within 63 s of it: its server's retransmission, or another view of the answer)
    ("retransmitted", [(0.0, Packet(C, 40001, V, 80, SYN, 300)), (0.0002, Packet(V, 80, C, 40001, SA, 9, 301)),
                       (3.0002, Packet(V, 80, C, 40001, SA, 9, 301))], {}, 0),
    ("retransmitted at 7 s", [(0.0, Packet(C, 40001, V, 80, SYN, 300)), (0.0002, Packet(V, 80, C, 40001, SA, 9, 301)),
                              (7.0002, Packet(V, 80, C, 40001, SA, 9, 301))], {}, 0),
    # the kernel's whole SYN-ACK schedule (tcp_synack_retries 5: 1, 2, 4, 8, 16 s apart, the last 31 s after the
    # first), each retransmission a few percent late as the timer wheel fires it: all its own, none counted
    ("synack schedule", [(0.0, Packet(C, 40001, V, 80, SYN, 300))]
     + [(t, Packet(V, 80, C, 40001, SA, 9, 301)) for t in (0.0002, 1.02, 3.06, 7.3, 15.6, 32.9)], {}, 0),
    # ... up to 63 s after its SYN (the request socket's life), not one more
    ("retransmitted at 63 s", [(0.0, Packet(C, 40001, V, 80, SYN, 300)), (0.0002, Packet(V, 80, C, 40001, SA, 9, 301)),
                               (63.0, Packet(V, 80, C, 40001, SA, 9, 301))], {}, 0),
    ("retransmitted at 63.001 s", [(0.0, Packet(C, 40001, V, 80, SYN, 300)),
                                   (0.0002, Packet(V, 80, C, 40001, SA, 9, 301)),
                                   (63.001, Packet(V, 80, C, 40001, SA, 9, 301))], {}, 1),
])  # fmt: skip
def test_which_answers_count(tmp_path: Path, what: str, rows: list[tuple[float, Packet]], kinds: dict[str, int],
                             count: int) -> None:  # fmt: skip
    d = three([written(tmp_path, [at(T0 + t, p) for t, p in rows] + [later(T0 + 70)])])
    assert (d["summary"]["other_failures"], d["summary"]["answers_without_syn"]) == (kinds, count), what


def test_a_handshake_seen_in_two_captures_is_no_answer_without_syn(tmp_path: Path) -> None:
    # the client pod's and the node's captures, the node's clock 1 ms ahead: the node's view of the SYN-ACK comes
    # after the client's capture answered the handshake (and forgot it), within the window of its SYN
    client = [at(T0, Packet(C, 40001, V, 80, SYN, 300)), at(T0 + 0.0004, Packet(V, 80, C, 40001, SA, 9, 301))]
    node = [at(r.t + 0.001, r.packet) for r in client]
    d = three([written(tmp_path, client, "a.pcap"), written(tmp_path, node, "b.pcap")])
    assert (d["summary"]["healthy"], d["summary"]["answers_without_syn"]) == (1, 0)


def test_answers_without_syn_on_the_command_line(tmp_path: Path) -> None:
    recs = [at(T0, Packet(V, 80, C, 40001, SA, 9, 301)), at(T0 + 0.1, Packet(V, 80, C, 40002, SA, 9, 401)),
            at(T0 + 1, Packet(C, 40003, V, 80, SYN, 500)), at(T0 + 1.0004, Packet(V, 80, C, 40003, SA, 9, 501))]  # fmt: skip
    path = written(tmp_path, recs)
    res = CliRunner().invoke(app, ["pcap", str(path)])
    assert res.exit_code == 0  # never a failure
    assert res.stderr.splitlines() == [NO_SYN.format(n=2, s="s", syns="SYNs")]
    assert res.stdout.splitlines()[0] == (
        "hairpin pcap: no hairpinned or failed connection in 4 TCP packets; 2 answers to SYNs not in the capture "
        "(warning on stderr)")  # fmt: skip
    assert res.stdout.splitlines()[1] == (
        "0 hairpinned connections of 1 in 4 TCP packets; healthy 1; other failures: none; answers to SYNs not in the "
        "capture 2")  # fmt: skip
    res = CliRunner().invoke(app, ["pcap", str(path), "--format", "json", "--html", str(tmp_path / "r.html")])
    assert (res.exit_code, json.loads(res.stdout)["summary"]["answers_without_syn"]) == (0, 2)
    assert "answers to SYNs not in the capture: 2" in (tmp_path / "r.html").read_text()
    one = written(tmp_path, recs[1:], "one.pcap")
    res = CliRunner().invoke(app, ["pcap", str(one), "--format", "json"])
    assert res.stderr.splitlines() == [NO_SYN.format(n=1, s="", syns="a SYN")]
    assert json.loads(res.stdout)["summary"]["answers_without_syn"] == 1
    seen: list[str] = []
    assert capture.watch(path, seen.append).no_syn == 2


@pytest.mark.parametrize(("again", "count"), [(3.0, 0), (4.999, 0), (15.0, 0)])
def test_a_fixed_isn_tools_handshakes_with_a_synack_again(tmp_path: Path, again: float, count: int) -> None:
    # a tool with a fixed ISN and port: two handshakes 20 s apart, the first's SYN-ACK sent again `again` s later (each
    # handshake an attempt of its own, the first pass's runs): within 63 s of its SYN its server's retransmission,
    # however the rows are analysed
    recs = [at(T0, Packet(C, 40001, V, 80, SYN, 300)), at(T0 + 0.0004, Packet(V, 80, C, 40001, SA, 9, 301)),
            at(T0 + again, Packet(V, 80, C, 40001, SA, 9, 301)),
            at(T0 + 20, Packet(C, 40001, V, 80, SYN, 300)), at(T0 + 20.0004, Packet(V, 80, C, 40001, SA, 9, 301))]  # fmt: skip
    d = three([written(tmp_path, [*recs, later(T0 + 30)])])
    assert (d["summary"]["connections"], d["summary"]["healthy"], d["summary"]["answers_without_syn"]) == (2, 2, count)


C2, C3, MASQ = ip_int("10.0.0.2"), ip_int("10.0.0.3"), ip_int("192.168.2.3")


# (the rows after a healthy handshake C:40001 -> V:80 at 0 s with ISN 300, answered at 0.4 ms; answers_without_syn)
@pytest.mark.parametrize(("what", "rows", "count"), [
    # its server's retransmission to its client: its own
    ("to its client", [(3.0, Packet(V, 80, C, 40001, SA, 9, 301))], 0),
    ("to its client at 30 s", [(30.0, Packet(V, 80, C, 40001, SA, 9, 301))], 0),
    # the same ISN drawn by another client (a fixed-ISN tool) whose SYN is not in the capture: another client's
    # answer, 3 s after (the first pass's views of one handshake) or 30 s after (the analyser's); before, taken for
    # the handshake's SYN-ACK retransmitted
    ("to another client", [(3.0, Packet(V, 80, C2, 40001, SA, 9, 301))], 1),
    ("to another client at 30 s", [(30.0, Packet(V, 80, C2, 40001, SA, 9, 301))], 1),
    ("to another port of its client", [(3.0, Packet(V, 80, C, 40002, SA, 9, 301))], 1),
    # the node's views: the SYN after kube-proxy's DNAT and MASQUERADE (MASQ:16125 -> backend), the backend's SYN-ACK
    # to the MASQUERADE source 1 s later (its retransmission before de-NAT) is the handshake's; to another port not
    ("masquerade", [(0.0001, Packet(MASQ, 16125, BACKEND, 80, SYN, 300)),
                    (1.0, Packet(BACKEND, 80, MASQ, 16125, SA, 9, 301))], 0),
    ("masquerade, another port", [(0.0001, Packet(MASQ, 16125, BACKEND, 80, SYN, 300)),
                                  (1.0, Packet(BACKEND, 80, MASQ, 16126, SA, 9, 301))], 1),
    # the answer's view after NAT (a client's SYN another capture holds: the lab capture cut by editcap) within 0.2 s
    # of the SYN, as a SYN's NAT views join its attempt, to anywhere; later, another client's
    ("a NAT view", [(0.0005, Packet(NODE, 31468, C2, 50000, SA, 9, 301))], 0),
    ("a NAT view 0.2 s after", [(0.2, Packet(NODE, 31468, C2, 50000, SA, 9, 301))], 1),
    # two clients' handshakes with the same ISN, 10 s apart: a retransmission to either is its own; to a third not
    ("two handshakes", [(10.0, Packet(C2, 40001, V, 80, SYN, 300)), (10.0004, Packet(V, 80, C2, 40001, SA, 9, 301)),
                        (12.0, Packet(V, 80, C, 40001, SA, 9, 301)), (13.0, Packet(V, 80, C2, 40001, SA, 9, 301))], 0),
    ("two handshakes, a third client", [(10.0, Packet(C2, 40001, V, 80, SYN, 300)),
                                        (10.0004, Packet(V, 80, C2, 40001, SA, 9, 301)),
                                        (12.0, Packet(V, 80, C3, 40001, SA, 9, 301))], 1),
])  # fmt: skip
def test_a_syn_ack_with_a_handshakes_isn_to_another_client(tmp_path: Path, what: str, rows: list[tuple[float, Packet]],
                                                           count: int) -> None:  # fmt: skip
    handshake = [(0.0, Packet(C, 40001, V, 80, SYN, 300)), (0.0004, Packet(V, 80, C, 40001, SA, 9, 301))]
    recs = sorted([at(T0 + t, p) for t, p in handshake + rows], key=lambda r: r.t)
    path = written(tmp_path, [*recs, later(T0 + 70)])
    d = three([path])
    s = d["summary"]
    assert (s["healthy"], s["other_failures"], s["answers_without_syn"]) == (
        2 if what.startswith("two") else 1, {}, count), what  # fmt: skip
    args = ["pcap", str(path)]
    out = [fuzz_pcap.cli(args, reference) for reference in (False, True)]
    assert out[0] == out[1]
    assert (out[0][0], out[0][2].splitlines()) == (0, [NO_SYN.format(n=1, s="", syns="a SYN")] if count else []), what


def test_the_real_capture_cut_every_15_packets_starts_with_answers(tmp_path: Path) -> None:
    # editcap -c 15 of the lab capture: the 4th, 8th and 10th files start with a hairpin round's SYN-ACK whose SYN
    # is in the file before (tshark shows those first packets); read together, none
    from test_pcap_edges import LAB, editcap  # tests/ is on sys.path (rootdir conftest)

    files = editcap(LAB, tmp_path, 15)
    assert [three([f])["summary"]["answers_without_syn"] for f in files] == [0, 0, 0, 1, 0, 0, 0, 1, 0, 1]
    assert three(files)["summary"]["answers_without_syn"] == 0
