"""Hairpins analysed from the first pass's columns (hairpin.diagnose.capture_fast) give exactly the analyser's
answer: the same JSON bytes (lists in order, tallies in order, counts, times), the same warnings and the
same fields of every listed attempt, against the streaming reader alone and against the per-row fast path,
on generated captures with hairpins, retransmissions, views, collisions of ISNs, other kinds, gaps past
the 135 s expiry and packets out of time order."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin.diagnose import capture, capture_fast
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import fastscan, pcap
from hairpin.render.json_out import dumps_indent1

pytest.importorskip("numpy")

VIP, VIP2 = ip_int("192.168.168.103"), ip_int("192.168.168.104")
NODES = (ip_int("192.168.2.3"), ip_int("192.168.2.4"))
SYN, SA, RST, ACK = Flags.SYN, Flags.SYN | Flags.ACK, Flags.RST, Flags.ACK
SHAPES = ("hairpin", "hairpin", "hairpin", "views", "healthy", "lone", "vip-answers", "two-nodes", "rst-ack",
          "rst-first", "no-rst", "other-dst", "late-syn-ack")  # fmt: skip


def connection(shape: str, client: int, port: int, isn: int, node: int, t: float, rounds: int,
               gap: float) -> list[pcap.PacketRecord]:  # fmt: skip
    """One connection's packets, each (time, packet)."""
    vip = VIP2 if shape == "other-dst" else VIP
    out = []

    def add(at: float, p: Packet) -> None:
        out.append(pcap.PacketRecord(round(at, 6), None, p))

    for k in range(rounds):
        at = t + k * gap
        add(at, Packet(client, port, VIP, 80, SYN, isn))
        if shape == "views":
            add(at + 0.0001, Packet(client, port, node, 31468, SYN, isn))
        if shape == "lone":
            continue
        if shape == "rst-first":
            add(at + 0.0002, Packet(client, port, node, 31468, RST, isn + 1))
        source = (VIP, 80) if shape in ("healthy", "vip-answers") and k == rounds - 1 else (node, 31468)
        if shape == "two-nodes" and k % 2:
            source = (NODES[1] if node == NODES[0] else NODES[0], 31468)
        if shape == "late-syn-ack":
            at += 131.0
        add(at + 0.0004, Packet(*source, client, port, SA, 7 + k, isn + 1))
        if shape in ("healthy", "no-rst"):
            continue
        if shape == "rst-ack":
            add(at + 0.0005, Packet(client, port, *source, RST | ACK, isn + 1, 8 + k))
        else:
            add(at + 0.0005, Packet(client, port, *source, RST, isn + 1))
    if shape == "other-dst":  # the same ISN from the same client to another address: not the plain shape
        add(t + 0.01, Packet(client, port, vip, 80, SYN, isn))
    return out


_CONN = st.tuples(st.sampled_from(SHAPES), st.integers(0, 3), st.integers(0, 3), st.booleans(), st.integers(1, 4),
                  st.sampled_from([0.05, 0.2, 1.0, 3.0, 129.9, 140.0]),
                  st.sampled_from([0.0, 0.0, 0.0005, 0.5, 10.0, 136.0, 300.0]))  # fmt: skip


def capture_of(conns: list[tuple[Any, ...]], order: str, swaps: int, seed: int) -> list[pcap.PacketRecord]:
    rng = random.Random(seed)
    t = 1_764_547_200.0
    out: list[pcap.PacketRecord] = []
    for i, (shape, client, isn, node, rounds, gap, step) in enumerate(conns):
        t += step
        out += connection(shape, ip_int("192.168.0.10") + client, 40000 + (i if isn else 0), 1000 + isn,
                          NODES[node], t, rounds, gap)  # fmt: skip
    if order == "time":
        out.sort(key=lambda r: r.t)
    elif order == "shuffled":
        rng.shuffle(out)
    for _ in range(swaps if out else 0):
        a, b = rng.randrange(len(out)), rng.randrange(len(out))
        out[a], out[b] = out[b], out[a]
    return out


def fields(a: capture.Attempt) -> tuple[Any, ...]:
    return (a.client, a.isn, a.called, a.first_t, a.last_t, a.syns, a.round_t, a.round_dt, a.answered_by,
            a.elsewhere, a.node_side, a.backend, a.masquerade, a.client_rst, a.server_rst, a.loopback, a.kind,
            a.gave_up)  # fmt: skip


def answers(path: Path, listed: int) -> dict[str, capture.Analysis]:
    return {"columns": capture.analyse_files([path], listed=listed, records=False),
            "rows": capture.analyse_files([path], listed=listed),
            "stream": capture.analyse_files([path], fast=False, listed=listed)}  # fmt: skip


def same(found: dict[str, capture.Analysis], stream_too: bool = True) -> None:
    new, rows, stream = found["columns"], found["rows"], found["stream"]
    for old in (rows, stream) if stream_too else (rows,):
        assert dumps_indent1(new.to_json()) == dumps_indent1(old.to_json())
        assert new.warnings() == old.warnings() and new.late == old.late
        assert new.tallies == old.tallies  # in order: equal counts in the order first counted
        assert [fields(a) for a in new.hairpins] == [fields(a) for a in old.hairpins]
        assert [fields(a) for a in new.others] == [fields(a) for a in old.others]
    # the per-row fast path opens the same attempts in the same order (healthy pairs are counted first in both)
    assert [a.n for a in new.hairpins + new.others] == [a.n for a in rows.hairpins + rows.others]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_CONN, min_size=1, max_size=14), st.sampled_from(["written", "time", "shuffled"]),
       st.integers(0, 3), st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 10_000]))  # fmt: skip
def test_columns_give_the_analysers_answer(tmp_path_factory: pytest.TempPathFactory, conns: list[tuple[Any, ...]],
                                           order: str, swaps: int, seed: int, listed: int) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("g") / "c.pcap"
    pcap.write_pcap(path, capture_of(conns, order, swaps, seed))
    same(answers(path, listed))  # in any order: a file out of time order is analysed packet by packet


def fast_groups(path: Path) -> capture_fast.FastGroups | None:
    rd = pcap.read(path, want=int(SYN | RST))
    sc = rd.scan()
    groups = fastscan.by_key([sc])
    fastscan.healthy_pairs([sc], groups)
    fastscan.lone_syns([sc], 10_000, groups)
    order = capture_fast.stream_order([sc.t])
    return None if order is None else capture_fast.hairpin_groups(sc, groups, order[1])


def test_the_seeds_hairpins_are_taken_from_the_columns(tmp_path: Path) -> None:
    conns = [("hairpin", i % 3, i, i % 2, 3, 1.0, 0.0005) for i in range(40)]
    conns += [("healthy", 1, 100 + i, 0, 1, 1.0, 0.0005) for i in range(30)]
    conns += [(shape, 2, 200 + i, 0, 2, 1.0, 0.0005) for i, shape in enumerate(SHAPES[3:])]
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, capture_of(conns, "time", 0, 1))  # as a capture is: out of time order, row by row
    fg = fast_groups(path)
    assert fg is not None
    assert len(fg.attempts) == 40 and fg.rows.size == 40 * 9  # every plain hairpin, none of the other shapes
    found = answers(path, 10_000)
    same(found)
    # and, row by row: views, vip-answers (hairpinned first), two-nodes, rst-first, other-dst
    assert found["columns"].hairpin_count == 40 + 5
    assert found["columns"].counts == {"hairpin": 45, "healthy": 2, "unanswered-syn": 2}
    assert all(not a.records for a in found["columns"].hairpins[:40] if a.syns == 3)


@pytest.mark.parametrize(("shape", "gap"), [("views", 1.0), ("two-nodes", 1.0), ("rst-ack", 1.0), ("rst-first", 1.0),
                                            ("vip-answers", 1.0), ("other-dst", 1.0), ("hairpin", 0.1),
                                            ("hairpin", 130.5), ("late-syn-ack", 1.0)])  # fmt: skip
def test_other_shapes_go_row_by_row(tmp_path: Path, shape: str, gap: float) -> None:
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, capture_of([(shape, 0, 1, 0, 3, gap, 0.0)], "written", 0, 1))
    assert fast_groups(path) is None
    same(answers(path, 10_000))


def test_expiry_between_rows_goes_row_by_row(tmp_path: Path) -> None:
    # another connection's packet 136 s later written between the hairpin's rounds: a tick there may close the
    # attempt before its next round; the rows after it are 136 s behind the capture's clock, so nothing is left
    # out of the analyser in this file
    recs = connection("hairpin", ip_int("192.168.0.10"), 40000, 5, NODES[0], 1_764_547_200.0, 3, 100.0)
    other = connection("hairpin", ip_int("192.168.0.11"), 40001, 6, NODES[0], 1_764_547_200.0 + 236.0, 1, 1.0)
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, recs[:3] + other + recs[3:])
    assert fast_groups(path) is None
    found = answers(path, 10_000)
    same(found)
    # closed after its first round, the hairpin is two attempts (the second opened by the second round's SYN),
    # and its 6 later rows came more than 5 s behind the capture's clock
    assert found["columns"].late == 6 and found["columns"].hairpin_count == 3
    assert found["columns"].by("client") == [("192.168.0.10", 2), ("192.168.0.11", 1)]


def test_pcapng_hairpins_from_the_columns(tmp_path: Path) -> None:
    conns = [("hairpin", i % 3, i, i % 2, 3, 1.0, 0.0005) for i in range(20)]
    conns += [("healthy", 1, 100 + i, 0, 1, 1.0, 0.0005) for i in range(10)] + [("views", 2, 300, 0, 2, 1.0, 0.0)]
    recs = [pcap.PacketRecord(r.t, "eth0", r.packet, "seen" if k % 5 == 0 else "")
            for k, r in enumerate(capture_of(conns, "time", 0, 1))]  # fmt: skip
    path = tmp_path / "c.pcapng"
    pcap.write_pcapng(path, recs)
    fg = fast_groups(path)
    assert fg is not None and len(fg.attempts) == 20
    found = answers(path, 10_000)
    same(found)
    assert found["columns"].hairpin_count == 21
    views = [a for a in found["columns"].hairpins if a.records]  # the one analysed row by row keeps its packets
    assert len(views) == 1 and {r.interface for r in views[0].records} == {"eth0"}


def test_cli_json_the_same_with_and_without_pictures(tmp_path: Path) -> None:
    from hairpin.cli.pcap_run import run

    conns = [("hairpin", i % 3, i, i % 2, 3, 1.0, 0.0005) for i in range(30)] + [("rst-first", 1, 99, 0, 2, 1.0, 0.0)]
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, capture_of(conns, "time", 0, 1))
    assert run([path], "json", output=str(tmp_path / "a.json")) == 1  # columns
    assert run([path], "json", svg=tmp_path / "a.svg", output=str(tmp_path / "b.json")) == 1  # row by row
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert b'"hairpins": 31' in (tmp_path / "a.json").read_bytes()
    assert "192.168.0.10:40000" in (tmp_path / "a.svg").read_text()  # the first hairpin, drawn from its packets


def test_a_reader_that_gives_other_rows_is_analysed_row_by_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conns = [("hairpin", i % 3, i, i % 2, 3, 1.0, 0.0005) for i in range(10)] + [("views", 2, 300, 0, 2, 1.0, 0.0)]
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, capture_of(conns, "time", 0, 1))
    expected = dumps_indent1(capture.analyse_files([path]).to_json())
    rows = pcap.Reader.rows

    def fewer(self: pcap.Reader) -> Any:
        yield from list(rows(self))[1:]  # one row the scan kept is missing

    monkeypatch.setattr(pcap.Reader, "rows", fewer)
    assert dumps_indent1(capture.analyse_files([path], records=False).to_json()) == expected


def test_a_syn_ack_written_before_its_syn_reads_as_the_streaming_reader_reads_it(tmp_path: Path) -> None:
    # the SYN-ACK is written first but stamped after the SYN: the analyser meets it first (no attempt yet),
    # then the SYN, which stays unanswered; pairing by time would have called it healthy
    c, v = ip_int("192.168.0.10"), ip_int("192.168.168.103")
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, [pcap.PacketRecord(100.001, None, Packet(v, 80, c, 40000, SYN | ACK, 5000, 1001)),
                           pcap.PacketRecord(100.0, None, Packet(c, 40000, v, 80, SYN, 1000))])  # fmt: skip
    found = answers(path, 10_000)
    same(found)
    summary = found["columns"].to_json()["summary"]
    assert summary["healthy"] == 0 and summary["other_failures"] == {"unanswered-syn": 1}
