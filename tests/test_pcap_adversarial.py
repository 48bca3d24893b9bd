"""Captures built to sit on the edges of the fast path's conditions (hairpin.diagnose.capture_fast,
hairpin.parsers.fastscan's healthy handshakes seen several times, hairpin.diagnose.capture_hairpins), each
analysed three ways (from the columns, the per-row fast path, the streaming reader alone) and held to one
answer: the same JSON bytes, warnings and fields of every listed attempt.  The expected figures are the
streaming analyser's, checked by hand against the rules of ``hairpin.diagnose.capture``: views within
``VIEW_WINDOW`` (0.2 s) of a transmission, a row joining its attempt less than ``GAP`` (130 s) after the
attempt's last one, ties in time across files taken in file order, a SYN-ACK from the called address
after a SYN-ACK from elsewhere, RSTs with an ACK, a client whose address is the node's, lone SYNs at equal
times with one or two listed, IPv6 address indexes numerically equal to IPv4 addresses, and an answered
handshake's view after a look for attempts to forget.  Each test also says whether the rows were left out
of the analyser (the fast path at work) or went to it (the fast path declined)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hairpin.diagnose import capture
from hairpin.model.net import V6, Flags, Packet, ip_int
from hairpin.parsers import pcap
from test_pcap_groups import answers, replays, same  # tests/ is on sys.path (rootdir conftest, no package)

pytest.importorskip("numpy")

SYN, SA, RST, ACK = Flags.SYN, Flags.SYN | Flags.ACK, Flags.RST, Flags.ACK
C, V, NODE = ip_int("10.0.0.1"), ip_int("192.168.168.103"), ip_int("192.168.2.3")
T0 = 1_764_547_200.0
R = pcap.PacketRecord


def at(t: float, p: Packet) -> pcap.PacketRecord:
    return R(round(t, 6), None, p)


def handshake(t: float, isn: int, client: int = C, port: int = 40000, rtt: float = 0.0004) -> list[pcap.PacketRecord]:
    """A SYN to V:80 and V's SYN-ACK ``rtt`` later."""
    return [at(t, Packet(client, port, V, 80, SYN, isn)), at(t + rtt, Packet(V, 80, client, port, SA, 7, isn + 1))]


def hairpin(t: float, isn: int, rounds: int, gap: float, client: int = C, port: int = 40000) -> list[pcap.PacketRecord]:
    """Rounds of a SYN to V:80, the SYN-ACK from NODE:31468, the client's RST (no ACK)."""
    out = []
    for k in range(rounds):
        s = t + k * gap
        out += [at(s, Packet(client, port, V, 80, SYN, isn)), at(s + 0.0004, Packet(NODE, 31468, client, port, SA, 7, isn + 1)),
                at(s + 0.0005, Packet(client, port, NODE, 31468, RST, isn + 1))]  # fmt: skip
    return out


def shifted(records: list[pcap.PacketRecord], dt: float) -> list[pcap.PacketRecord]:
    return [at(r.t + dt, r.packet) for r in records]


def analysed(tmp: Path, files: list[list[pcap.PacketRecord]], listed: int = 10_000,
             goes_on: bool = True) -> tuple[dict[str, Any], list[Any]]:  # fmt: skip
    """``files`` written, analysed the three ways and held to one answer; with the plans the fast analyses
    gave ``capture_fast.drive`` (none: the fast path declined the files).  ``goes_on``: each file ends with an
    unrelated data segment (no SYN or RST: never a row) 200 s after its latest packet, so that no attempt is cut
    by the end of the capture (the client's retransmission timer is at most 120 s)."""
    paths = []
    for n, recs in enumerate(files):
        paths.append(tmp / f"{n}.pcap")
        tail = [at(max(r.t for r in recs) + 200, Packet(ip_int("10.9.9.9"), 9, ip_int("10.9.9.8"), 9, ACK, 1, 1))]
        pcap.write_pcap(paths[-1], recs + tail if goes_on and recs else recs)
    if len(paths) == 1:
        with replays() as plans:
            found = answers(paths[0], listed)
    else:
        with replays() as plans:
            found = {"columns": capture.analyse_files(paths, listed=listed, records=False),
                     "rows": capture.analyse_files(paths, listed=listed)}  # fmt: skip
        found["stream"] = capture.analyse_files(paths, fast=False, listed=listed)
    same(found)
    return found, plans


def summary(found: dict[str, Any]) -> tuple[int, int, int, dict[str, int]]:
    s = found["stream"].to_json()["summary"]
    return s["connections"], s["healthy"], s["hairpins"], s["other_failures"]


@pytest.mark.parametrize(("ahead", "count"), [(0.199999, 2), (-0.199999, 2), (0.2, 4), (-0.2, 4), (0.200001, 4)])
def test_two_files_whose_clocks_differ_by_the_view_window(tmp_path: Path, ahead: float, count: int) -> None:
    # two handshakes in two files, the second's clock `ahead`: under 0.2 s its SYN is a view (of an attempt still
    # open, or of one answered already), from 0.2 s on a new attempt, answered by its own SYN-ACK: 2 or 4 healthy,
    # every row left out of the analyser either way
    once = handshake(T0, 77) + handshake(T0 + 1, 78)
    found, plans = analysed(tmp_path, [once, shifted(once, ahead)])
    assert summary(found) == (count, count, 0, {})
    assert [len(p.fed) for p in plans] == [0, 0]


@pytest.mark.parametrize(("later", "answer", "fed"), [(0.199999, (2, 2, 0, {}), 0), (-0.199999, (2, 2, 0, {}), 0),
                                                      (0.2, (3, 2, 0, {"unanswered-syn": 1}), 3),
                                                      (-0.2, (3, 2, 0, {"unanswered-syn": 1}), 3)])  # fmt: skip
def test_a_syn_written_after_the_answer_at_the_window_edge(tmp_path: Path, later: float, answer: Any, fed: int) -> None:
    # one file: the client's SYN again, written after the SYN-ACK, stamped `later` than the first: within 0.2 s
    # either way a view of the answered handshake (left out with it); at 0.2 s a new attempt, never answered
    # (its key's 3 rows go to the analyser)
    recs = [*handshake(T0, 77), at(T0 + later, Packet(C, 40000, V, 80, SYN, 77)), *handshake(T0 + 1, 78)]
    found, plans = analysed(tmp_path, [recs])
    assert summary(found) == answer
    assert [len(p.fed) for p in plans] == [fed, fed]


@pytest.mark.parametrize(("rtt", "view", "answer", "fed"), [(129.99, False, (1, 1, 0, {}), 0),
                                                            (130.0, False, (1, 0, 0, {"unanswered-syn": 1}), 2),
                                                            (130.000001, False, (1, 0, 0, {"unanswered-syn": 1}), 2),
                                                            (130.0, True, (1, 1, 0, {}), 0)])  # fmt: skip
def test_a_syn_ack_at_the_130_s_edge(tmp_path: Path, rtt: float, view: bool, answer: Any, fed: int) -> None:
    # the SYN-ACK joins the attempt only less than 130 s after its last packet: a view of the SYN 10 us after it
    # moves that packet, so a SYN-ACK 130 s after the first SYN still answers it
    recs = handshake(T0, 77, rtt=rtt)
    if view:
        recs.insert(1, at(T0 + 0.00001, Packet(C, 40000, V, 80, SYN, 77)))
    found, plans = analysed(tmp_path, [recs])
    assert summary(found) == answer
    assert [len(p.fed) for p in plans] == [fed, fed]


@pytest.mark.parametrize(("files", "answer"), [
    ([[SA], [SYN]], (1, 0, 0, {"unanswered-syn": 1})),  # at one time the first file's row first: a SYN-ACK before its SYN
    ([[SYN], [SA]], (1, 1, 0, {})),
    ([[SYN], [SA], [SYN]], (1, 1, 0, {})),  # the third file's SYN: a view of the answered handshake
    ([[SA], [SYN], [SYN]], (1, 0, 0, {"unanswered-syn": 1})),
])  # fmt: skip
def test_rows_of_several_files_at_one_time(tmp_path: Path, files: list[list[Flags]], answer: Any) -> None:
    def row(f: Flags) -> pcap.PacketRecord:
        return at(T0, Packet(C, 40000, V, 80, SYN, 77) if f == SYN else Packet(V, 80, C, 40000, SA, 7, 78))

    found, plans = analysed(tmp_path, [[row(f) for f in rows] for rows in files])
    assert summary(found) == answer
    left_out = answer[1] == 1  # a handshake is left out; a SYN-ACK before its SYN is not one
    assert [len(p.fed) == 0 for p in plans] == [left_out, left_out]


@pytest.mark.parametrize(("gap", "hairpins", "fg"), [(130.0, 1, 1), (130.0005, 2, 0)])
def test_hairpin_rounds_at_the_130_s_edge_with_looks_between(tmp_path: Path, gap: float, hairpins: int, fg: int) -> None:
    # two rounds `gap` apart (the second SYN 129.9995 s or 130 s after the first round's RST) with a lone SYN every
    # 10 s between (a look for attempts to forget at each): one hairpin of 2 rounds taken from the columns, or two
    # hairpins of one round each, analysed row by row
    lone = [at(T0 + 10 * k + 0.3, Packet(ip_int("10.9.0.2"), 2000 + k, V, 80, SYN, 9000 + k)) for k in range(1, 16)]
    found, plans = analysed(tmp_path, [sorted(hairpin(T0, 77, 2, gap) + lone, key=lambda r: r.t)])
    assert summary(found) == (15 + hairpins, 0, hairpins, {"unanswered-syn": 15})
    assert [a.syns for a in found["stream"].hairpins] == ([2] if hairpins == 1 else [1, 1])
    assert sum(a is not None for a in plans[0].ev_attempt) == fg


def test_a_syn_ack_from_the_called_address_and_from_elsewhere(tmp_path: Path) -> None:
    syn = at(T0, Packet(C, 40000, V, 80, SYN, 77))
    other = at(T0 + 0.0003, Packet(NODE, 31468, C, 40000, SA, 7, 78))
    called = at(T0 + 0.0004, Packet(V, 80, C, 40000, SA, 7, 78))
    rst = at(T0 + 0.0005, Packet(C, 40000, NODE, 31468, RST, 78))
    # the called address answers before the client resets the other SYN-ACK: healthy (RST after it: no attempt)
    found, plans = analysed(tmp_path, [[syn, other, called, rst]])
    assert summary(found) == (1, 1, 0, {}) and [len(p.fed) for p in plans] == [4, 4]
    # the client resets the other SYN-ACK first: a hairpin, whatever the called address says after
    found, plans = analysed(tmp_path, [[syn, other, rst, called]])
    assert summary(found) == (1, 0, 1, {}) and [len(p.fed) for p in plans] == [4, 4]
    assert str(found["columns"].hairpins[0].answered_by) == "192.168.2.3:31468"
    # no RST: healthy at the called address's SYN-ACK, left out of the analyser (the other one is a view)
    found, plans = analysed(tmp_path, [[syn, other, called]])
    assert summary(found) == (1, 1, 0, {}) and [len(p.fed) for p in plans] == [0, 0]


def test_a_round_reset_with_an_ack_goes_to_the_analyser(tmp_path: Path) -> None:
    recs = hairpin(T0, 77, 3, 1.0)
    recs[5] = at(recs[5].t, Packet(C, 40000, NODE, 31468, RST | ACK, 78, 8))  # the second round's RST carries an ACK
    found, plans = analysed(tmp_path, [recs])
    assert summary(found) == (1, 0, 1, {})
    a = found["stream"].hairpins[0]
    assert (a.syns, a.client_rst, a.server_rst, str(a.answered_by)) == (3, True, False, "192.168.2.3:31468")
    # the RST with ACK is keyed by its ACK (8 - 1): a key of its own, never joined; the rest are the columns'
    assert [len(p.fed) for p in plans] == [1, 9] and sum(a is not None for a in plans[0].ev_attempt) == 1


def test_a_client_whose_address_is_the_nodes(tmp_path: Path) -> None:
    # a hostNetwork client on the node that answers: its hairpin goes to the analyser; its healthy handshake seen
    # twice is left out
    found, plans = analysed(tmp_path, [hairpin(T0, 77, 2, 1.0, client=NODE)])
    assert summary(found) == (1, 0, 1, {}) and [len(p.fed) for p in plans] == [6, 6]
    assert str(found["columns"].hairpins[0].client) == "192.168.2.3:40000"
    twice = sorted(handshake(T0, 78, client=NODE) + handshake(T0 + 0.00001, 78, client=NODE), key=lambda r: r.t)
    found, plans = analysed(tmp_path, [twice])
    assert summary(found) == (1, 1, 0, {}) and [len(p.fed) for p in plans] == [0, 0]


@pytest.mark.parametrize("listed", [1, 2])
def test_lone_syns_at_equal_times_with_few_listed(tmp_path: Path, listed: int) -> None:
    # 12 lone SYNs three to a time (every fourth to a loopback address) and a node's SYN to itself: the `listed`
    # earliest by time, then order opened, are listed; the rest counted by the first pass
    recs = [at(T0 + k // 3, Packet(C + k, 40000, ip_int("127.0.0.1") if k % 4 == 0 else V, 80, SYN, 100 + k))
            for k in range(12)]  # fmt: skip
    recs.append(at(T0 + 2, Packet(NODE, 1, NODE, 31468, SYN, 99)))
    found, plans = analysed(tmp_path, [sorted(recs, key=lambda r: r.t)], listed)
    assert summary(found) == (13, 0, 0, {"loopback": 3, "node-loopback": 1, "unanswered-syn": 9})
    assert [(str(a.client), a.kind) for a in found["stream"].others] == [
        ("10.0.0.1:40000", "loopback"), ("10.0.0.2:40000", "unanswered-syn")][:listed]
    assert [p.opened for p in plans] == [13 - listed, 13 - listed]


def test_ipv6_indexes_equal_to_ipv4_addresses(tmp_path: Path) -> None:
    # an IPv6 row's addresses are indexes (0, 1) into the scan's table; IPv4 rows from 0.0.0.1 to 0.0.0.0 with
    # the same ISN must not pair with them: a SYN-ACK of the other family is no answer.  An IPv4 SYN within
    # 0.2 s is a NAT view of the IPv6 attempt (another source, the analyser's rule); 0.25 s after it, an attempt
    # of its own, answered by the IPv4 SYN-ACK
    s6, d6 = V6 | 0x20010DB8 << 96 | 1, V6 | 0x20010DB8 << 96 | 2
    syn6 = at(T0, Packet(s6, 40000, d6, 80, SYN, 77))
    sa4 = at(T0 + 0.2504, Packet(1, 80, 0, 40000, SA, 7, 78))
    found, plans = analysed(tmp_path, [[syn6, sa4]])
    assert summary(found) == (1, 0, 0, {"unanswered-syn": 1}) and [len(p.fed) for p in plans] == [2, 2]
    found, plans = analysed(tmp_path, [[syn6, at(T0 + 0.0005, Packet(0, 40000, 1, 80, SYN, 77)), sa4]])
    assert summary(found) == (1, 0, 0, {"unanswered-syn": 1}) and [len(p.fed) for p in plans] == [3, 3]
    syn4 = at(T0 + 0.25, Packet(0, 40000, 1, 80, SYN, 77))
    found, plans = analysed(tmp_path, [[syn6, syn4, sa4]])
    assert summary(found) == (2, 1, 0, {"unanswered-syn": 1}) and [len(p.fed) for p in plans] == [3, 3]
    # the same, the IPv4 rows in a second file (its own table, joined by value)
    found, plans = analysed(tmp_path, [[syn6], [syn4, sa4]])
    assert summary(found) == (2, 1, 0, {"unanswered-syn": 1}) and [len(p.fed) for p in plans] == [3, 3]


def test_an_answered_handshakes_view_after_a_look(tmp_path: Path) -> None:
    # a look for attempts to forget (it prunes the answered handshakes more than 10 s old) between a handshake's
    # answer and its client's SYN again, 3.8 s behind the clock and 0.1 s after the first: still a view
    first = at(T0 - 9.999, Packet(ip_int("10.9.0.3"), 1, V, 80, SYN, 5))  # the first look; the next at T0 + 0.001
    filler = at(T0 + 3.9, Packet(ip_int("10.9.0.4"), 2, V, 80, SYN, 6))  # a look here
    recs = [first, *handshake(T0, 77), filler, at(T0 + 0.1, Packet(C, 40000, V, 80, SYN, 77))]
    found, plans = analysed(tmp_path, [recs])
    assert summary(found) == (3, 1, 0, {"unanswered-syn": 2}) and [len(p.fed) for p in plans] == [2, 2]
    assert found["stream"].late == 0


def test_an_answered_handshakes_view_far_behind_the_clock(tmp_path: Path) -> None:
    # the same, the other row 11 s after the handshake (out of time order by more than the fast path's 4 s: the
    # streaming analyser alone): the analyser keeps an answered handshake 10 s after it, so the SYN 0.1 s after
    # the answered one, written 10.9 s behind the clock, opens an attempt of its own, never answered; it is
    # counted late and warned about, as docs/pcap.md says
    recs = [*handshake(T0, 77), at(T0 + 11, Packet(ip_int("10.9.0.4"), 2, V, 80, SYN, 6)),
            at(T0 + 0.1, Packet(C, 40000, V, 80, SYN, 77))]  # fmt: skip
    found = capture.analyse(recs)
    # (the SYN at T0 + 11 is the capture's last packet: cut by its end, not a failure)
    assert (found.connections, found.healthy, found.late, found.counts, found.cut) == (
        3, 1, 1, {"unanswered-syn": 1}, 1)  # fmt: skip
    assert found.warnings()[1:] == ["1 packet came more than 5 s behind the capture's clock (out of time order) after "
                                "attempts had been closed (with no packet for 135 s, or healthy for 10 s): those "
                                "packets may have missed their connection"]  # fmt: skip


BACKEND = ip_int("192.168.39.2")


def target_node(src: int = NODE, sport: int = 61000, nlb: tuple[int, int] | None = None) -> list[tuple[float, Packet]]:
    """The NLB's target node's view of handshake ISN 5: from the NLB to node:NodePort (from ``nlb``, the NLB's
    own address and port, when it does not keep the client's), after DNAT and MASQUERADE (from ``src:sport``)
    to the backend, the backend's SYN-ACK before and after de-NAT."""
    client = nlb or (C, 40000)
    return [(0.0, Packet(*client, NODE, 31468, SYN, 5)), (0.0001, Packet(src, sport, BACKEND, 8080, SYN, 5)),
            (0.0002, Packet(BACKEND, 8080, src, sport, SA, 7, 6)), (0.0003, Packet(NODE, 31468, *client, SA, 7, 6))]


def test_a_healthy_connection_seen_on_its_target_node_with_the_clock_ahead(tmp_path: Path) -> None:
    # the client side (SYN to V, V's SYN-ACK) and the target node 2 ms ahead: every view of the target node comes
    # after the answer.  The MASQUERADE view comes from the node the SYN's view went to (node:NodePort), so it is
    # a view of the answered handshake: one connection, as the two files on one clock give; the fast path takes it
    found, plans = analysed(tmp_path, [handshake(T0, 5), [at(T0 + 0.002 + d, p) for d, p in target_node()]])
    assert summary(found) == (1, 1, 0, {})
    assert [len(p.fed) for p in plans] == [0, 0]
    same_clock, _ = analysed(tmp_path, [handshake(T0, 5, rtt=0.004), [at(T0 + 0.001 + d, p) for d, p in target_node()]])
    assert summary(same_clock) == (1, 1, 0, {})


def test_a_view_after_the_answer_from_an_address_no_syn_went_to_is_another_attempt(tmp_path: Path) -> None:
    # the same, but the SYN to the backend comes from 192.168.2.4, an address none of the handshake's SYNs went to:
    # another host's connection that drew the same ISN (tools with fixed ISNs do) cannot be told from it, so it is
    # an attempt of its own, answered by the backend: 2 connections, 2 healthy
    other = [at(T0 + 0.002 + d, p) for d, p in target_node(src=ip_int("192.168.2.4"))]
    found, _plans = analysed(tmp_path, [handshake(T0, 5), other])
    assert summary(found) == (2, 2, 0, {})


def test_the_nlb_s_own_address_after_the_answer_is_a_view(tmp_path: Path) -> None:
    # client IP preservation off: the NLB's view comes from its own address (the called one, V:9000) to
    # node:NodePort, then MASQUERADE from the node: both views of the answered handshake
    found, plans = analysed(tmp_path, [handshake(T0, 5), [at(T0 + 0.002 + d, p) for d, p in target_node(nlb=(V, 9000))]])
    assert summary(found) == (1, 1, 0, {})
    assert [len(p.fed) for p in plans] == [0, 0]


def test_a_masquerade_view_before_the_view_that_went_to_its_node(tmp_path: Path) -> None:
    # out of causal order (a hand-made file): the SYN from node:61000 comes before any SYN went to the node, so
    # it opens an attempt of its own, which the client's SYN to node:NodePort then joins as a NAT view
    views = target_node()
    views[0], views[1] = (0.0001, views[1][1]), (0.00015, views[0][1])
    found, _plans = analysed(tmp_path, [handshake(T0, 5), [at(T0 + 0.002 + d, p) for d, p in views]])
    assert summary(found) == (2, 2, 0, {})


@pytest.mark.parametrize(("second", "answer", "fed"), [(-0.5, (2, 2, 0, {}), 0), (0.5, (2, 2, 0, {}), 0),
                                                       (-0.1, (1, 1, 0, {}), 0)])  # fmt: skip
def test_a_handshake_again_written_after_it_stamped_before_it(tmp_path: Path, second: float, answer: Any, fed: int) -> None:
    # one file: a handshake, then the same SYN and SYN-ACK stamped `second` from it (a capture out of time order by
    # less than 4 s): 0.2 s or more either way, an attempt of its own, answered (two runs); within 0.2 s the SYN is
    # a view of the answered handshake and the SYN-ACK meets no attempt (one attempt).  Left out either way
    recs = handshake(T0 + 1, 77) + handshake(T0 + 1 + second, 77)
    found, plans = analysed(tmp_path, [recs])
    assert summary(found) == answer
    assert [len(p.fed) for p in plans] == [fed, fed]
