"""Two clients whose SYNs drew the same ISN (tools with fixed ISNs, or chance in a large capture), their attempts
open at once: a SYN-ACK (or RST) joins the attempt whose client, or the source of one of its SYN's NAT views, it
names, never another client's attempt with that ISN; one that names none of them is an answer whose SYN is not in
the capture (not counted within 0.2 s of an open attempt's SYN).  Each capture is analysed three ways (the first
pass deciding hairpins from columns, the first pass with records, the streaming reader alone) and held to one
answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hairpin.diagnose import capture
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import pcap

pytest.importorskip("numpy")

SYN, SA, RST, ACK = Flags.SYN, Flags.SYN | Flags.ACK, Flags.RST, Flags.ACK
A, B, V = ip_int("10.0.0.1"), ip_int("10.0.0.2"), ip_int("192.168.168.103")
NODE, BACKEND, OTHER = ip_int("192.168.2.3"), ip_int("192.168.49.70"), ip_int("10.9.9.9")
ISN = 300
T0 = 1_700_000_000.0


def at(t: float, p: Packet) -> pcap.PacketRecord:
    return pcap.PacketRecord(round(T0 + t, 6), None, p)


def three(tmp: Path, recs: list[pcap.PacketRecord]) -> dict[str, Any]:
    path = tmp / "c.pcap"
    rows = [*sorted(recs, key=lambda r: r.t), at(70.0, Packet(OTHER, 9, V, 80, ACK, 1, 1))]  # the capture runs on
    pcap.write_pcap(path, rows, linktype=pcap.SLL2)
    out = [json.loads(json.dumps(capture.analyse_files([path], fast=fast, records=records).to_json()))
           for fast, records in ((True, False), (True, True), (False, True))]  # fmt: skip
    assert out[0] == out[1] == out[2]
    return out[0]


def hairpin(client: int, starts: tuple[float, ...]) -> list[pcap.PacketRecord]:
    """The seed's hairpin in the client pod: each round a SYN to V:80, the SYN-ACK from NODE:31468, the RST."""
    out = []
    for s in starts:
        out += [at(s, Packet(client, 40001, V, 80, SYN, ISN)), at(s + 0.0004, Packet(NODE, 31468, client, 40001, SA, 7, ISN + 1)),
                at(s + 0.0005, Packet(client, 40001, NODE, 31468, RST, ISN + 1))]  # fmt: skip
    return out


def healthy(client: int, s: float, again: float) -> list[pcap.PacketRecord]:
    """A handshake answered by V:80 at ``s``, its SYN-ACK sent again ``again`` s later (the client's ACK lost)."""
    return [at(s, Packet(client, 40001, V, 80, SYN, ISN)), at(s + 0.0004, Packet(V, 80, client, 40001, SA, 9, ISN + 1)),
            at(s + again, Packet(V, 80, client, 40001, SA, 9, ISN + 1))]  # fmt: skip


def fields(d: dict[str, Any]) -> tuple[Any, ...]:
    s = d["summary"]
    return (s["connections"], s["hairpins"], s["healthy"], s["other_failures"], s["answers_without_syn"],
            [(h["client"], h["node"], h["backend"], h["backends"], h["syn_retransmits"], h["lost_s"]) for h in d["hairpins"]],
            [(o["kind"], o["client"], o["backend"], o["syn_retransmits"]) for o in d["others"]])  # fmt: skip


@pytest.mark.parametrize(("first", "second"), [(A, B), (B, A)], ids=["A first", "B first"])
def test_a_hairpin_and_a_healthy_handshake_with_one_isn(tmp_path: Path, first: int, second: int) -> None:
    # the hairpinned client's rounds at 0, 1 and 3 s, the other's handshake at 0.5 s whose SYN-ACK its server sends
    # again at 1.5 s while the hairpin is open: the other's (until 2026-12-03 the hairpin's, its backend V:80)
    d = three(tmp_path, hairpin(first, (0.0, 1.0, 3.0)) + healthy(second, 0.5, 1.0))
    name = "10.0.0.1:40001" if first == A else "10.0.0.2:40001"
    assert fields(d) == (2, 1, 1, {}, 0, [(name, "192.168.2.3:31468", None, [], 2, 3.0005)], [])


@pytest.mark.parametrize(("first", "second"), [(A, B), (B, A)], ids=["A first", "B first"])
def test_a_healthy_handshake_then_a_hairpin_with_one_isn(tmp_path: Path, first: int, second: int) -> None:
    d = three(tmp_path, healthy(first, 0.0, 1.0) + hairpin(second, (0.5, 1.5, 3.5)))
    name = "10.0.0.2:40001" if first == A else "10.0.0.1:40001"
    assert fields(d) == (2, 1, 1, {}, 0, [(name, "192.168.2.3:31468", None, [], 2, 3.0005)], [])


def test_an_unanswered_client_and_a_healthy_one_with_one_isn(tmp_path: Path) -> None:
    syns = [at(s, Packet(A, 40001, V, 80, SYN, ISN)) for s in (0.0, 1.0, 3.0)]
    d = three(tmp_path, syns + healthy(B, 0.5, 1.0))
    assert fields(d) == (2, 0, 1, {"unanswered-syn": 1}, 0, [], [("unanswered-syn", "10.0.0.1:40001", None, 2)])


def test_another_clients_hairpin_without_its_syn_is_no_answer_to_an_open_attempt(tmp_path: Path) -> None:
    # the client node's capture: A's SYNs to V and the NLB's rewrite to NODE:31468, unanswered; B's SYN-ACK from
    # NODE:31468 and B's RST at 0.5 s, B's SYN not in the capture.  Until 2026-12-03 they joined A's attempt: a
    # hairpin (the rewrite plus a client's RST), B's answer not counted
    syns = [at(s + dt, Packet(A, 40001, dst, port, SYN, ISN)) for s in (0.0, 1.0, 3.0)
            for dt, dst, port in ((0.0, V, 80), (0.001, NODE, 31468))]  # fmt: skip
    b = hairpin(B, (0.5,))[1:]
    d = three(tmp_path, syns + b)
    assert fields(d) == (1, 0, 0, {"unanswered-syn": 1}, 1, [], [("unanswered-syn", "10.0.0.1:40001", None, 2)])


def test_two_hairpins_one_syn_not_in_the_capture(tmp_path: Path) -> None:
    # B's first round's SYN is before the capture: its SYN-ACK is an answer without SYN (until 2026-12-03 taken
    # into A's attempt), its next round a hairpin of its own
    d = three(tmp_path, hairpin(A, (0.0, 1.0, 3.0)) + hairpin(B, (0.5, 1.5))[1:])
    assert fields(d) == (2, 2, 0, {}, 1, [("10.0.0.1:40001", "192.168.2.3:31468", None, [], 2, 3.0005),
                                          ("10.0.0.2:40001", "192.168.2.3:31468", None, [], 0, 0.0005)], [])  # fmt: skip


@pytest.mark.parametrize(("t", "count"), [(0.1999, 0), (0.3, 1)])
def test_a_syn_ack_elsewhere_before_the_answer(tmp_path: Path, t: float, count: int) -> None:
    # a SYN-ACK to another client before A's answer: not A's; within 0.2 s of A's SYN it may be its view after NAT
    # (not counted, as after a handshake's answer), later an answer whose SYN is not in the capture
    recs = [at(0.0, Packet(A, 40001, V, 80, SYN, ISN)), at(t, Packet(V, 80, B, 40001, SA, 9, ISN + 1)),
            at(0.5, Packet(V, 80, A, 40001, SA, 9, ISN + 1))]  # fmt: skip
    assert fields(three(tmp_path, recs)) == (1, 0, 1, {}, count, [], [])


def test_a_hairpins_masquerade_views_join_it(tmp_path: Path) -> None:
    # the client's node: each round's SYN after kube-proxy's DNAT and MASQUERADE (NODE:16125 -> BACKEND:80), the
    # backend's SYN-ACK to NODE:16125 and the client's RST after conntrack's NAT from it: all the hairpin's
    recs = []
    for s in (0.0, 1.0, 3.0):
        recs += [at(s, Packet(A, 40001, V, 80, SYN, ISN)), at(s + 0.001, Packet(A, 40001, NODE, 31468, SYN, ISN)),
                 at(s + 0.002, Packet(NODE, 16125, BACKEND, 80, SYN, ISN)),
                 at(s + 0.003, Packet(BACKEND, 80, NODE, 16125, SA, 7, ISN + 1)),
                 at(s + 0.004, Packet(NODE, 31468, A, 40001, SA, 7, ISN + 1)),
                 at(s + 0.005, Packet(A, 40001, NODE, 31468, RST, ISN + 1)),
                 at(s + 0.006, Packet(NODE, 16125, BACKEND, 80, RST, ISN + 1))]  # fmt: skip
    assert fields(three(tmp_path, recs)) == (
        1, 1, 0, {}, 0, [("10.0.0.1:40001", "192.168.2.3:31468", "192.168.49.70:80", ["192.168.49.70:80"], 2, 3.006)], [])  # fmt: skip


@pytest.mark.parametrize(("src", "lost"), [(NODE, 3.5), (B, 3.0005)], ids=["masquerade", "another client"])
def test_a_rst_from_another_client_is_not_the_hairpins(tmp_path: Path, src: int, lost: float) -> None:
    # a RST without ACK with the ISN at 3.5 s: from the source of a SYN of the hairpin (its MASQUERADE view, NODE:16125)
    # it is its client's after NAT; from another client it is that client's (until 2026-12-03 the hairpin's: its
    # lost_s 3.5)
    recs = [*hairpin(A, (0.0, 1.0, 3.0)), at(3.0002, Packet(NODE, 16125, BACKEND, 80, SYN, ISN)),
            at(3.5, Packet(src, 16125 if src == NODE else 40001, NODE, 31468, RST, ISN + 1))]  # fmt: skip
    d = three(tmp_path, recs)
    assert fields(d) == (1, 1, 0, {}, 0, [("10.0.0.1:40001", "192.168.2.3:31468", "192.168.49.70:80",
                                           ["192.168.49.70:80"], 2, lost)], [])  # fmt: skip
