"""Captures cut in time (a file of a `tcpdump -C`/`-G` rotation, `editcap -c`) and hairpins whose retransmitted
SYNs kube-proxy sent to different backends: the real lab capture cut as editcap cuts it, and built edges."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hairpin.cli.main import app
from hairpin.diagnose import capture
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import pcap
from test_narrow_tables import hairpin, lines_of, long_lines  # tests/ is on sys.path (rootdir conftest)

pytest.importorskip("numpy")

LAB = Path(__file__).parent / "data" / "pcap" / "lab-node1.pcap"
SYN, SA, RST, ACK = Flags.SYN, Flags.SYN | Flags.ACK, Flags.RST, Flags.ACK
C, V, NODE, OTHER = ip_int("10.0.0.1"), ip_int("192.168.168.103"), ip_int("192.168.2.3"), ip_int("10.9.9.9")
T0 = 1_700_000_000.0
CUT_WARNING = ("{n} connection attempt{s} cut by the end of the capture: one SYN, no answer yet, and the capture "
               "ended less than 1 s after it, before the client could retransmit; not counted as failures (a file "
               "of a rotation: read the next file with it)")  # fmt: skip


def editcap(src: Path, out: Path, every: int) -> list[Path]:
    """``editcap -c every``: the classic pcap ``src`` cut into files of ``every`` records, bytes unchanged."""
    data = src.read_bytes()
    head, at, files, chunk = data[:24], 24, [], b""
    count = 0
    while at < len(data):
        incl = struct.unpack_from("<I", data, at + 8)[0]
        chunk += data[at : at + 16 + incl]
        at += 16 + incl
        count += 1
        if count == every or at >= len(data):
            files.append(out / f"rot_{len(files):05d}.pcap")
            files[-1].write_bytes(head + chunk)
            chunk, count = b"", 0
    return files


def three(paths: list[Path], listed: int = 10_000) -> dict[str, Any]:
    """The JSON of the three analyses (the first pass deciding hairpins from columns, the first pass with
    records, the streaming reader alone), held to one answer."""
    out = [json.loads(json.dumps(capture.analyse_files(paths, fast=fast, records=records, listed=listed).to_json()))
           for fast, records in ((True, False), (True, True), (False, True))]  # fmt: skip
    assert out[0] == out[1] == out[2]
    return out[0]


def test_the_real_capture_cut_every_15_packets(tmp_path: Path) -> None:
    files = editcap(LAB, tmp_path, 15)
    assert len(files) == 10
    found = [three([f]) for f in files]
    # each file alone: the hairpins' SYNs whose SYN-ACK is in the next file are cut by the end, never a failure
    assert [d["summary"]["cut_by_capture_end"] for d in found] == [0, 0, 1, 0, 1, 0, 2, 0, 1, 0]
    assert [d["summary"]["hairpins"] for d in found] == [2, 0, 0, 0, 1, 2, 1, 0, 1, 0]
    assert [d["summary"]["other_failures"] for d in found] == [{}] * 10
    assert [d["others"] for d in found] == [[]] * 10
    # the fourth file starts with answers whose SYNs are in the third: not read as anything
    assert (found[3]["summary"]["connections"], found[3]["summary"]["healthy"]) == (0, 0)
    # all files together: the whole capture's answer, nothing cut
    whole = three(files)
    assert whole == three([LAB]) | {"files": whole["files"]}
    s = whole["summary"]
    assert (s["connections"], s["hairpins"], s["healthy"], s["other_failures"], s["cut_by_capture_end"]) == (
        6, 3, 3, {}, 0)  # fmt: skip


def test_a_cut_file_alone_on_the_command_line(tmp_path: Path) -> None:
    third = editcap(LAB, tmp_path, 15)[2]
    res = CliRunner().invoke(app, ["pcap", str(third)])
    assert res.exit_code == 0
    assert res.stderr.splitlines() == [f"hairpin: warning: {CUT_WARNING.format(n=1, s='')}"]
    assert (
        "0 hairpinned connections of 2 in 15 TCP packets; healthy 1; other failures: none; cut by the capture's "
        "end 1" in " ".join(res.stdout.split())
    )
    res = CliRunner().invoke(app, ["pcap", str(third), "--format", "json"])
    doc = json.loads(res.stdout)
    assert (res.exit_code, doc["summary"]["cut_by_capture_end"], doc["summary"]["other_failures"], doc["others"]) == (
        0, 1, {}, [])  # fmt: skip


def at(t: float, p: Packet) -> pcap.PacketRecord:
    return pcap.PacketRecord(round(t, 6), None, p)


def later(t: float) -> pcap.PacketRecord:
    """A data segment of another connection (no SYN, no RST: the analyser never sees it) at ``t``: the
    capture's last frame."""
    return at(t, Packet(OTHER, 9, V, 80, ACK, 1, 1))


def written(tmp_path: Path, recs: list[pcap.PacketRecord], name: str = "c.pcap") -> Path:
    path = tmp_path / name
    pcap.write_pcap(path, recs, linktype=pcap.SLL2)
    return path


@pytest.mark.parametrize(("gap", "cut"), [(0.0, 1), (0.999999, 1), (1.0, 0), (30.0, 0)])
def test_a_first_syn_is_cut_until_its_retransmission_was_due(tmp_path: Path, gap: float, cut: int) -> None:
    # Linux's initial RTO is 1 s (TCP_TIMEOUT_INIT): a capture ending before it cannot show the retransmission
    recs = [at(T0, Packet(C, 40000, V, 80, SYN, 100))] + ([later(T0 + gap)] if gap else [])
    d = three([written(tmp_path, recs)])
    assert (d["summary"]["cut_by_capture_end"], d["summary"]["other_failures"]) == (
        cut, {} if cut else {"unanswered-syn": 1})  # fmt: skip
    assert d["summary"]["connections"] == 1 and len(d["others"]) == 1 - cut


@pytest.mark.parametrize("gap", [0.0, 0.5, 1.999999, 2.0])
def test_a_retransmitted_unanswered_syn_is_never_cut(tmp_path: Path, gap: float) -> None:
    # SYNs at 0, 1 and 3 s, none answered: the client waited 1 s and more for an answer that did not come (a
    # firewall's drop, a capture stopped 3 s after the last retransmission): a failure whenever the capture ends
    recs = [at(T0 + s, Packet(C, 40000, V, 80, SYN, 100)) for s in (0.0, 1.0, 3.0)] + ([later(T0 + 3 + gap)] if gap else [])
    d = three([written(tmp_path, recs)])
    assert (d["summary"]["cut_by_capture_end"], d["summary"]["other_failures"]) == (0, {"unanswered-syn": 1})


def test_a_node_callers_martian_syn_and_a_hairpin_are_never_cut(tmp_path: Path) -> None:
    # the node caller's SYN with its own address as source is the failure itself; a hairpin's last round may be
    # cut, its earlier rounds showed the failure
    recs = [at(T0, Packet(C, 40000, V, 80, SYN, 100)), at(T0 + 0.0004, Packet(NODE, 31468, C, 40000, SA, 7, 101)),
            at(T0 + 0.0005, Packet(C, 40000, NODE, 31468, RST, 101)), at(T0 + 1.0, Packet(C, 40000, V, 80, SYN, 100)),
            at(T0 + 1.0, Packet(NODE, 5000, NODE, 31468, SYN, 200))]  # fmt: skip
    d = three([written(tmp_path, recs)])
    s = d["summary"]
    assert (s["hairpins"], s["other_failures"], s["cut_by_capture_end"]) == (1, {"node-loopback": 1}, 0)
    assert (d["hairpins"][0]["syn_retransmits"], d["hairpins"][0]["gave_up"]) == (1, False)


@pytest.mark.parametrize("listed", [1, 3, 100])
def test_a_flood_cut_by_the_end_counted_as_the_analyser_counts_it(tmp_path: Path, listed: int) -> None:
    # 40 lone SYNs 0.1 s apart, one to 127.0.0.1 every fifth, and a node's SYN to itself last: the first pass
    # counts the lone SYNs it leaves out as the analyser classifies them, and the lists hold the same ones
    recs = [at(T0 + k / 10, Packet(C + k, 40000, ip_int("127.0.0.1") if k % 5 == 0 else V, 80, SYN, 1000 + k))
            for k in range(40)]  # fmt: skip
    recs.append(at(T0 + 3.95, Packet(NODE, 1, NODE, 31468, SYN, 99)))
    d = three([written(tmp_path, recs)], listed)
    s = d["summary"]
    # the last second: SYNs 30 to 39 (at 3.0 to 3.9 s, the capture ends at 3.95 s): cut, the node's one is not
    assert (s["connections"], s["cut_by_capture_end"]) == (41, 10)
    assert s["other_failures"] == {"loopback": 6, "node-loopback": 1, "unanswered-syn": 24}
    assert [o["client"] for o in d["others"]] == (["10.0.0.1:40000", "10.0.0.2:40000", "10.0.0.3:40000"][:listed]
                                                  if listed < 31 else
                                                  [f"10.0.0.{k + 1}:40000" for k in range(30)] + ["192.168.2.3:1"])  # fmt: skip
    assert s["truncated"]["others"] == 31 - min(listed, 31)


def test_a_live_stream_cut_by_its_end(tmp_path: Path) -> None:
    recs = [at(T0, Packet(C, 40000, V, 80, SYN, 100)), at(T0 + 5, Packet(C, 40001, V, 80, SYN, 200))]
    out: list[str] = []
    res = capture.watch(written(tmp_path, recs), out.append)
    assert (res.other_failures, res.cut) == ({"unanswered-syn": 1}, 1)
    assert out[-1].endswith("2 connections, 0 hairpinned, healthy 0, open 0; other failures: unanswered-syn 1 (end)")


def test_the_capture_starts_with_answers_to_syns_before_it(tmp_path: Path) -> None:
    # a hairpin round's SYN-ACK and RST, and a healthy handshake's SYN-ACK, whose SYNs are before the first
    # packet: they join nothing; the hairpin's next round is found, its retransmissions counted from there
    recs = [at(T0, Packet(NODE, 31468, C, 40000, SA, 7, 101)), at(T0 + 0.0001, Packet(C, 40000, NODE, 31468, RST, 101)),
            at(T0 + 0.0002, Packet(V, 80, C, 40001, SA, 9, 301)),
            at(T0 + 1.0, Packet(C, 40000, V, 80, SYN, 100)), at(T0 + 1.0004, Packet(NODE, 31468, C, 40000, SA, 8, 101)),
            at(T0 + 1.0005, Packet(C, 40000, NODE, 31468, RST, 101)), later(T0 + 10)]  # fmt: skip
    d = three([written(tmp_path, recs)])
    s = d["summary"]
    assert (s["connections"], s["hairpins"], s["healthy"], s["other_failures"], s["cut_by_capture_end"]) == (
        1, 1, 0, {}, 0)  # fmt: skip
    assert d["hairpins"][0]["syn_retransmits"] == 0


LAB_BACKENDS = [["192.168.16.142:80", "192.168.39.2:80"], ["192.168.49.70:80", "192.168.39.2:80", "192.168.49.70:80"],
                ["192.168.49.70:80", "192.168.16.142:80", "192.168.39.2:80", "192.168.16.142:80"]]  # fmt: skip


def test_every_backend_of_the_real_capture_in_order() -> None:
    # kube-proxy draws an endpoint for each SYN round (the client's RST closed the round's conntrack entry):
    # (tshark: 58707's four rounds DNATed to 192.168.49.70, 192.168.16.142, 192.168.39.2, 192.168.16.142; 50983's
    # to 192.168.16.142 three times, then 192.168.39.2: a repeat is listed once)
    d = three([LAB])
    assert [h["backends"] for h in d["hairpins"]] == LAB_BACKENDS
    assert [h["backend"] for h in d["hairpins"]] == [b[-1] for b in LAB_BACKENDS]  # the latest, as before


def test_every_backend_in_the_table_at_80_and_140_columns() -> None:
    for width, rows in ((80, [
        "│ 192.168.27.239:58707                         │        3 │    3.050 │ no      │",
        "│ 192.168.168.103:80                           │          │          │         │",
        "│ 192.168.2.3:31468                            │          │          │         │",
        "│ 192.168.49.70:80                             │          │          │         │",
        "│ 192.168.16.142:80                            │          │          │         │",
        "│ 192.168.39.2:80                              │          │          │         │",
        "│ 192.168.16.142:80                            │          │          │         │",
        "└──────────────────────────────────────────────┴──────────┴──────────┴─────────┘",
    ]), (140, [
        "│ 192.168.27.239:58707 │ 192.168.168.103:80 │ 192.168.2.3:31468  │ 192.168.49.70:80  │        3 │    3.050 │ no      │",
        "│                      │                    │                    │ 192.168.16.142:80 │          │          │         │",
        "│                      │                    │                    │ 192.168.39.2:80   │          │          │         │",
        "│                      │                    │                    │ 192.168.16.142:80 │          │          │         │",
        "└──────────────────────┴────────────────────┴────────────────────┴───────────────────┴──────────┴──────────┴─────────┘",
    ])):  # fmt: skip
        lines = lines_of(hairpin(width, "pcap", str(LAB)).stdout)
        assert long_lines([x for x in lines if x[:1] in "┏┃┡│├└"], width) == []
        i = next(k for k, x in enumerate(lines) if "192.168.27.239:58707" in x)
        assert lines[i : i + len(rows)] == rows


def test_backends_of_retransmissions_from_the_columns_and_the_analyser(tmp_path: Path) -> None:
    # a node's `tcpdump -i any` of a hairpin whose rounds kube-proxy DNATs to b1, b2, b1: each SYN leaving, back
    # from the NLB to node:NodePort, DNATed and MASQUERADEd to a backend, the backend's SYN-ACK before and after
    # de-NAT, the client's RST before and after NAT
    b1, b2 = ip_int("192.168.39.2"), ip_int("192.168.16.142")
    recs = []
    for k, (t, b) in enumerate(((0.0, b1), (1.0, b2), (3.0, b1))):
        m = 61000 + k
        recs += [at(T0 + t, Packet(C, 40000, V, 80, SYN, 100)),
                 at(T0 + t + 0.0001, Packet(C, 40000, NODE, 31468, SYN, 100)),
                 at(T0 + t + 0.0002, Packet(NODE, m, b, 8080, SYN, 100)),
                 at(T0 + t + 0.0003, Packet(b, 8080, NODE, m, SA, 7 + k, 101)),
                 at(T0 + t + 0.0004, Packet(NODE, 31468, C, 40000, SA, 7 + k, 101)),
                 at(T0 + t + 0.0005, Packet(C, 40000, NODE, 31468, RST, 101)),
                 at(T0 + t + 0.0006, Packet(NODE, m, b, 8080, RST, 101))]  # fmt: skip
    recs.append(later(T0 + 10))
    d = three([written(tmp_path, recs)])
    h = d["hairpins"][0]
    assert (h["backend"], h["backends"], h["syn_retransmits"]) == (
        "192.168.39.2:8080", ["192.168.39.2:8080", "192.168.16.142:8080", "192.168.39.2:8080"], 2)  # fmt: skip
    # the client pod's own capture shows no backend: an empty list, as `backend` is null
    d = three([written(tmp_path, [r for r in recs if r.packet.src in (C, V, OTHER) or r.packet.dst == C], "pod.pcap")])
    assert (d["hairpins"][0]["backend"], d["hairpins"][0]["backends"]) == (None, [])
