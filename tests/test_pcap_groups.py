"""Hairpins analysed from the first pass's columns (hairpin.diagnose.capture_fast) give exactly the analyser's
answer: the same JSON bytes (lists in order, tallies in order, counts, times), the same warnings and the
same fields of every listed attempt, against the streaming reader alone and against the per-row fast path,
on generated captures with hairpins, retransmissions, views, collisions of ISNs, other kinds, gaps past
the 135 s expiry and packets out of time order.  Captures a little out of time order (timestamps moved by
up to 3.9 s, neighbours swapped, as on a node with several CPUs) keep the fast path (every row the first
pass can decide left out and replayed at its place, hairpin.diagnose.capture_fast), with the same answer;
further out of order, or several files one of which is out of order, they are analysed packet by packet."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hairpin.diagnose import capture, capture_fast, capture_hairpins
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import fastscan, fastscan_groups, pcap
from hairpin.render.json_out import dumps_indent1

pytest.importorskip("numpy")

VIP, VIP2 = ip_int("192.168.168.103"), ip_int("192.168.168.104")
NODES = (ip_int("192.168.2.3"), ip_int("192.168.2.4"))
SYN, SA, RST, ACK = Flags.SYN, Flags.SYN | Flags.ACK, Flags.RST, Flags.ACK
SHAPES = ("hairpin", "hairpin", "hairpin", "views", "healthy", "lone", "vip-answers", "two-nodes", "rst-ack",
          "rst-first", "no-rst", "other-dst", "late-syn-ack", "healthy-twice", "healthy-twice", "twice-late",
          "twice-crossed", "twice-nat", "hairpin-twice", "hairpin-spread", "node-side", "nat-late", "target-side",
          "target-late")  # fmt: skip
BACKEND = ip_int("192.168.39.2")
# every packet of a healthy handshake seen twice (a pod's veth and the node's interface, ``tcpdump -i any``):
# 3 us apart ("healthy-twice"), the second SYN 0.25 s after the first (a retransmission, "twice-late"), the
# second SYN after the first SYN-ACK ("twice-crossed"), the second views after a DNAT ("twice-nat")
_TWICE = {"healthy-twice": (0.000003, 0.0, False), "twice-late": (0.25, 0.0, False),
          "twice-crossed": (0.000003, 0.0005, False), "twice-nat": (0.000003, 0.0, True)}  # fmt: skip


def connection(shape: str, client: int, port: int, isn: int, node: int, t: float, rounds: int,
               gap: float) -> list[pcap.PacketRecord]:  # fmt: skip
    """One connection's packets, each (time, packet)."""
    vip = VIP2 if shape == "other-dst" else VIP
    out = []

    def add(at: float, p: Packet) -> None:
        out.append(pcap.PacketRecord(round(at, 6), None, p))

    if shape in _TWICE:  # one handshake, healthy, each packet seen twice
        later, crossed, nat = _TWICE[shape]
        add(t, Packet(client, port, VIP, 80, SYN, isn))
        view = Packet(client, port, node, 31468, SYN, isn) if nat else Packet(client, port, VIP, 80, SYN, isn)
        add(t + later + crossed, view)
        add(t + 0.0004, Packet(VIP, 80, client, port, SA, 7, isn + 1))
        back = (
            Packet(node, 31468, client, port, SA, 7, isn + 1) if nat else Packet(VIP, 80, client, port, SA, 7, isn + 1)
        )
        add(t + 0.0004 + later, back)
        return sorted(out, key=lambda r: r.t)
    if shape in ("target-side", "target-late"):  # a healthy connection on the node the NLB sent it to
        masq = 61000 + port % 1000
        late = 0.25 if shape == "target-late" else 0.0001  # (past the 0.2 s window: the analyser's new attempt)
        add(t, Packet(client, port, node, 31468, SYN, isn))  # from the NLB, the client's address kept
        add(t + late, Packet(node, masq, BACKEND, 8080, SYN, isn))  # after DNAT and MASQUERADE
        add(t + 0.0003, Packet(BACKEND, 8080, node, masq, SA, 7, isn + 1))
        add(t + 0.0004, Packet(node, 31468, client, port, SA, 7, isn + 1))  # de-NATed, back to the NLB
        return sorted(out, key=lambda r: r.t)
    if shape in ("node-side", "nat-late"):  # a hairpin as tcpdump -i any on the client's node sees it
        masq = 61000 + port % 1000
        late = 0.25 if shape == "nat-late" else 0.00021  # (past the 0.2 s window: the analyser's new attempt)
        for k in range(rounds):
            at = t + k * gap
            add(at, Packet(client, port, VIP, 80, SYN, isn))  # on the pod's veth
            add(at + 0.000005, Packet(client, port, VIP, 80, SYN, isn))  # leaving the node for the NLB
            add(at + 0.0002, Packet(client, port, node, 31468, SYN, isn))  # back from the NLB
            add(at + late, Packet(node, masq, BACKEND, 8080, SYN, isn))  # after DNAT and MASQUERADE
            add(at + 0.0003, Packet(BACKEND, 8080, node, masq, SA, 7 + k, isn + 1))
            add(at + 0.0004, Packet(node, 31468, client, port, SA, 7 + k, isn + 1))  # de-NATed, on the veth
            add(at + 0.0005, Packet(client, port, node, 31468, RST, isn + 1))
            add(at + 0.00051, Packet(node, masq, BACKEND, 8080, RST, isn + 1))  # after conntrack's NAT
        return sorted(out, key=lambda r: r.t)
    if shape in ("hairpin-twice", "hairpin-spread"):  # a hairpin whose every packet is seen again
        once = connection("hairpin", client, port, isn, node, t, rounds, gap)
        # 3 us later (a pod's veth, then the node's interface); or each SYN again 0.15 s and 0.3 s later, views
        # spread past the 0.2 s window (the last one is a new round to the analyser, though near the one before)
        later = (0.000003,) if shape == "hairpin-twice" else (0.15, 0.3)
        out = once + [pcap.PacketRecord(round(r.t + d, 6), None, r.packet) for r in once for d in later
                      if shape == "hairpin-twice" or r.packet.flags == SYN]  # fmt: skip
        return sorted(out, key=lambda r: r.t)
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
    if order in ("time", "jitter", "neighbours"):
        out.sort(key=lambda r: r.t)
    elif order == "shuffled":
        rng.shuffle(out)
    if order == "jitter":  # each timestamp moved later by up to `swaps` times a random step, the order kept
        late = rng.choice([0.00005, 0.00005, 0.0001, 0.002, 0.5, 3.9])
        out = [pcap.PacketRecord(round(r.t + rng.uniform(0.0, late), 6), r.interface, r.packet) for r in out]
        swaps = 0
    elif order == "neighbours":  # neighbours swapped, as packets handled on two CPUs
        for _ in range(2 * swaps if len(out) > 1 else 0):
            k = rng.randrange(len(out) - 1)
            out[k], out[k + 1] = out[k + 1], out[k]
        swaps = 0
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
    # the attempts are opened in the same order, with the same numbers (left-out ones counted at their places)
    for old in (rows, stream) if stream_too else (rows,):
        assert [a.n for a in new.hairpins + new.others] == [a.n for a in old.hairpins + old.others]


@contextmanager
def replays() -> Iterator[list[capture_fast.Plan]]:
    """The plans ``capture_fast.drive`` was given while inside (the analyses that left rows out)."""
    seen: list[capture_fast.Plan] = []
    drive = capture_fast.drive

    def spy(an: Any, rows: Any, plan: capture_fast.Plan) -> None:
        seen.append(plan)
        drive(an, rows, plan)

    capture_fast.drive = spy  # type: ignore[assignment]
    try:
        yield seen
    finally:
        capture_fast.drive = drive  # type: ignore[assignment]


def analysed(path: Path, records: list[pcap.PacketRecord],
             listed: int) -> tuple[dict[str, capture.Analysis], list[capture_fast.Plan]]:  # fmt: skip
    """``records`` written to ``path``, analysed the three ways (``answers``) and held to one answer (``same``);
    with the plans the analyses that left rows out gave ``capture_fast.drive``."""
    pcap.write_pcap(path, records)
    with replays() as plans:
        found = answers(path, listed)
    same(found)
    return found, plans


def jittered(records: list[pcap.PacketRecord], late: float, seed: int) -> list[pcap.PacketRecord]:
    """Each timestamp moved later by a random 0 to ``late`` seconds, the order kept (tcpdump on several CPUs)."""
    rng = random.Random(seed)
    return [pcap.PacketRecord(round(r.t + rng.uniform(0.0, late), 6), None, r.packet) for r in records]


def disorder(records: list[pcap.PacketRecord]) -> float:
    """How far the furthest row is behind the latest time before it (the SYN and RST rows only)."""
    latest, worst = 0.0, 0.0
    for r in records:
        if r.packet.flags & (SYN | RST):
            worst, latest = max(worst, latest - r.t), max(latest, r.t)
    return worst


#: rows of ISN groups the fast path reads at once: its own, or a few (many batches, groups never split)
_BATCH = st.sampled_from([fastscan_groups.VIEWS_BATCH, fastscan_groups.VIEWS_BATCH, 1, 3, 8])


@contextmanager
def views_batch(rows: int) -> Iterator[None]:
    old, fastscan_groups.VIEWS_BATCH = fastscan_groups.VIEWS_BATCH, rows
    try:
        yield
    finally:
        fastscan_groups.VIEWS_BATCH = old


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_CONN, min_size=1, max_size=14), st.sampled_from(["written", "time", "shuffled"]),
       st.integers(0, 3), st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 10_000]), _BATCH)  # fmt: skip
def test_columns_give_the_analysers_answer(tmp_path_factory: pytest.TempPathFactory, conns: list[tuple[Any, ...]],
                                           order: str, swaps: int, seed: int, listed: int, batch: int) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("g") / "c.pcap"
    pcap.write_pcap(path, capture_of(conns, order, swaps, seed))
    with views_batch(batch):
        same(answers(path, listed))  # in any order: a file out of time order is analysed packet by packet


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_CONN, min_size=1, max_size=14), st.sampled_from(["jitter", "neighbours"]), st.integers(1, 6),
       st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 10_000]))  # fmt: skip
def test_a_capture_a_little_out_of_time_order_keeps_the_fast_path(tmp_path_factory: pytest.TempPathFactory,
                                                                    conns: list[tuple[Any, ...]], order: str,
                                                                    swaps: int, seed: int, listed: int) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("j") / "c.pcap"
    records = capture_of(conns, order, swaps, seed)
    _found, plans = analysed(path, records, listed)
    # the two fast analyses (columns, rows) left rows out unless some row is more than 4 s behind
    assert len(plans) == (2 if disorder(records) <= 4.0 else 0)
    event(f"rows left out: {bool(plans)}")
    event(f"looks at rows left out: {any(any(p.ev_tick) for p in plans)}")
    event(f"hairpins from the columns: {any(a is not None for p in plans for a in p.ev_attempt)}")
    event(f"out of time order: {disorder(records) > 0}")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_CONN, min_size=1, max_size=10), st.sampled_from(["time", "jitter", "neighbours"]),
       st.integers(1, 4), st.integers(0, 2**32 - 1), st.sampled_from([1, 10_000]),
       st.sampled_from([0.0, 0.0, 0.0001, 0.002, 0.1999, 0.2, 0.3, -0.002]), _BATCH)  # fmt: skip
def test_two_files_merged_by_time_give_the_streaming_answer(tmp_path_factory: pytest.TempPathFactory,
                                                            conns: list[tuple[Any, ...]], order: str, swaps: int,
                                                            seed: int, listed: int, ahead: float, batch: int) -> None:  # fmt: skip
    # two captures of the traffic (each packet in one of them, or in both: a client-side and a node-side view),
    # the second one's clock ``ahead`` of the first's
    rng = random.Random(seed)
    records = capture_of(conns, order, swaps, seed)
    where = [rng.choice([(0,), (1,), (0, 1)]) for _ in records]
    parts = [[r if n == 0 else pcap.PacketRecord(round(r.t + ahead, 6), r.interface, r.packet)
              for r, w in zip(records, where, strict=True) if n in w] for n in (0, 1)]  # fmt: skip
    paths = [tmp_path_factory.mktemp("m") / f"{n}.pcap" for n in (0, 1)]
    for path, part in zip(paths, parts, strict=True):
        pcap.write_pcap(path, part)
    with replays() as plans, views_batch(batch):
        fast = {"columns": capture.analyse_files(paths, listed=listed, records=False),
                "rows": capture.analyse_files(paths, listed=listed)}  # fmt: skip
    same({**fast, "stream": capture.analyse_files(paths, fast=False, listed=listed)})
    in_order = all(disorder(part) == 0.0 for part in parts)  # (a file with no packet is in order)
    assert len(plans) == (2 if in_order else 0)  # merged, they are sorted only when each file is in time order


def fast_groups(path: Path) -> capture_hairpins.FastGroups | None:
    rd = pcap.read(path, want=int(SYN | RST))
    sc = rd.scan()
    groups = fastscan.by_key([sc])
    fastscan.healthy_pairs([sc], groups)
    fastscan.lone_syns([sc], 10_000, groups)
    order = capture_fast.stream_order([sc.t])
    return None if order is None else capture_hairpins.hairpin_groups([sc], groups, order[1])


def test_the_seeds_hairpins_are_taken_from_the_columns(tmp_path: Path) -> None:
    conns = [("hairpin", i % 3, i, i % 2, 3, 1.0, 0.0005) for i in range(40)]
    conns += [("healthy", 1, 100 + i, 0, 1, 1.0, 0.0005) for i in range(30)]
    conns += [(shape, 2, 200 + i, 0, 2, 1.0, 0.0005) for i, shape in enumerate(SHAPES[3:]) if shape not in _TWICE]
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, capture_of(conns, "time", 0, 1))  # as a capture is: out of time order, row by row
    fg = fast_groups(path)
    assert fg is not None
    # every plain hairpin, the one seen twice (two rounds of 6 rows), the one with the NLB's rewrite seen ("views":
    # 2 rounds of 4 rows), the one with a SYN to another address ("other-dst", 2 rounds of 3 rows and that SYN) and
    # the one seen on the client's node ("node-side", 2 rounds of 8 rows), none of the other shapes
    assert len(fg.attempts) == 44 and fg.rows.size == 40 * 9 + 12 + 8 + 7 + 16
    found = answers(path, 10_000)
    same(found)
    # and, row by row: vip-answers (hairpinned first), two-nodes, rst-first, hairpin-spread, nat-late (whose late
    # MASQUERADE view is an attempt of its own, unanswered, as target-late's is)
    assert found["columns"].hairpin_count == 44 + 5
    assert found["columns"].counts == {"hairpin": 49, "healthy": 2, "unanswered-syn": 4}
    assert all(not a.records for a in found["columns"].hairpins[:40] if a.syns == 3)


@pytest.mark.parametrize(("shape", "gap"), [("two-nodes", 1.0), ("rst-ack", 1.0), ("rst-first", 1.0),
                                            ("vip-answers", 1.0), ("hairpin", 0.1), ("nat-late", 1.0), ("target-late", 1.0),
                                            ("hairpin", 130.5), ("late-syn-ack", 1.0), ("hairpin-spread", 1.0),
                                            ("hairpin-twice", 0.19)])  # fmt: skip
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


@pytest.mark.parametrize("late", [0.0, 0.00005])
def test_pcapng_hairpins_from_the_columns(tmp_path: Path, late: float) -> None:
    conns = [("hairpin", i % 3, i, i % 2, 3, 1.0, 0.0005) for i in range(20)]
    conns += [("healthy", 1, 100 + i, 0, 1, 1.0, 0.0005) for i in range(10)] + [("two-nodes", 2, 300, 0, 2, 1.0, 0.0)]
    recs = [pcap.PacketRecord(r.t, "eth0", r.packet, "seen" if k % 5 == 0 else "")
            for k, r in enumerate(jittered(capture_of(conns, "time", 0, 1), late, 3))]  # fmt: skip
    assert (disorder(recs) > 0) == (late > 0)
    path = tmp_path / "c.pcapng"
    pcap.write_pcapng(path, recs)
    fg = fast_groups(path)
    assert fg is not None and len(fg.attempts) == 20
    found = answers(path, 10_000)
    same(found)
    assert found["columns"].hairpin_count == 21
    kept = [a for a in found["columns"].hairpins if a.records]  # the one analysed row by row keeps its packets
    assert len(kept) == 1 and {r.interface for r in kept[0].records} == {"eth0"}


@pytest.mark.parametrize("late", [0.0, 0.00005])
def test_cli_json_the_same_with_and_without_pictures(tmp_path: Path, late: float) -> None:
    from hairpin.cli.pcap_run import run

    conns = [("hairpin", i % 3, i, i % 2, 3, 1.0, 0.0005) for i in range(30)] + [("rst-first", 1, 99, 0, 2, 1.0, 0.0)]
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, jittered(capture_of(conns, "time", 0, 1), late, 5))
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
                           pcap.PacketRecord(100.0, None, Packet(c, 40000, v, 80, SYN, 1000)),
                           # the capture goes on past the SYN's retransmission timer (1 s): not cut by its end
                           pcap.PacketRecord(101.5, None, Packet(c, 40001, v, 80, ACK, 1, 1))])  # fmt: skip
    found = answers(path, 10_000)
    same(found)
    summary = found["columns"].to_json()["summary"]
    assert summary["healthy"] == 0 and summary["other_failures"] == {"unanswered-syn": 1}


def test_a_syn_ack_written_before_its_syn_keeps_the_fast_path(tmp_path: Path) -> None:
    # 1 ms out of order: the rows are left out where they can be, and this pair is not one of them
    c, v = ip_int("192.168.0.10"), ip_int("192.168.168.103")
    recs = [pcap.PacketRecord(100.001, None, Packet(v, 80, c, 40000, SYN | ACK, 5000, 1001)),
            pcap.PacketRecord(100.0, None, Packet(c, 40000, v, 80, SYN, 1000))]  # fmt: skip
    recs += connection("healthy", c, 40001, 2000, NODES[0], 100.002, 1, 1.0)
    recs += [pcap.PacketRecord(r.t - 0.0005, None, r.packet) for r in connection("healthy", c, 40002, 3000, NODES[0],
                                                                                    100.004, 1, 1.0)][::-1]  # fmt: skip
    recs.append(pcap.PacketRecord(102.0, None, Packet(c, 40009, v, 80, ACK, 1, 1)))  # the capture goes on: none cut
    path = tmp_path / "c.pcap"
    found, plans = analysed(path, recs, 10_000)
    # the second handshake is a pair; the third's SYN-ACK, written first, is not: the analyser meets it alone
    assert [p.fed for p in plans] == [[0, 1, 4, 5], [0, 1, 4, 5]]
    summary = found["columns"].to_json()["summary"]
    assert summary["healthy"] == 1 and summary["other_failures"] == {"unanswered-syn": 2}


@pytest.mark.parametrize("late", [0.00005, 0.002])
def test_a_jittered_capture_keeps_the_fast_path(tmp_path: Path, late: float) -> None:
    conns = [("hairpin", i % 3, i, i % 2, 3, 1.0, 0.0005) for i in range(40)]
    conns += [("healthy", 1, 100 + i, 0, 1, 1.0, 0.0005) for i in range(30)]
    # (not nat-late, whose late MASQUERADE view is classified by where the jitter puts it)
    conns += [(shape, 2, 200 + i, 0, 2, 1.0, 0.0005) for i, shape in enumerate(SHAPES[3:])
              if shape not in _TWICE and shape != "nat-late"]  # fmt: skip
    records = jittered(capture_of(conns, "time", 0, 1), late, 7)
    assert 0.0 < disorder(records) <= late
    # with 2 ms, some hairpins' RST is stamped before their SYN-ACK (written after it): still from the columns
    inverted = [k for k in range(len(records) - 1) if records[k].packet.flags == SA and records[k + 1].packet.flags ==
                RST and records[k + 1].t < records[k].t]  # fmt: skip
    assert bool(inverted) == (late > 0.001)
    path = tmp_path / "c.pcap"
    found, plans = analysed(path, records, 10_000)
    columns, rows = plans
    # the 40 plain hairpins, "hairpin-twice", "views", "other-dst" and "node-side" from the columns, every healthy
    # pair left out
    assert sum(a is not None for a in columns.ev_attempt) == 44
    assert len(rows.fed) == len(columns.fed) + 40 * 9 + 12 + 8 + 7 + 16 and columns.ghosts == rows.ghosts == 0
    # healthy: pairs, answered, elsewhere, target-side, target-late's answered attempt
    assert found["columns"].hairpin_count == 48 and found["columns"].healthy == 30 + 1 + 2 + 2


@pytest.mark.parametrize(("behind", "fast"), [(3.5, True), (4.5, False)])
def test_a_row_more_than_4_s_behind_is_analysed_packet_by_packet(tmp_path: Path, behind: float, fast: bool) -> None:
    conns = [("hairpin", i % 3, i, 0, 2, 1.0, 2.0) for i in range(5)] + [("healthy", 1, 100, 0, 1, 1.0, 1.0)]
    records = capture_of(conns, "time", 0, 1)
    # a lone SYN written last, stamped `behind` s before the latest time
    records.append(pcap.PacketRecord(records[-1].t - behind, None, Packet(ip_int("192.168.0.99"), 40999, VIP, 80,
                                                                          SYN, 77)))  # fmt: skip
    path = tmp_path / "c.pcap"
    found, plans = analysed(path, records, 1)
    assert len(plans) == (2 if fast else 0)
    assert found["columns"].counts == {"hairpin": 5, "unanswered-syn": 1} and found["columns"].healthy == 1


def test_two_files_one_out_of_time_order_are_analysed_packet_by_packet(tmp_path: Path) -> None:
    conns = [("hairpin", i % 3, i, 0, 2, 1.0, 0.5) for i in range(6)] + [("healthy", 1, 100, 0, 1, 1.0, 0.5)]
    records = capture_of(conns, "time", 0, 1)
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    pcap.write_pcap(a, records[::2])
    for swapped, fast in ((False, True), (True, False)):
        part = records[1::2]
        if swapped:  # two neighbours 1 ms apart written the other way round
            k = next(k for k in range(len(part) - 1) if part[k + 1].t - part[k].t < 0.01)
            part[k], part[k + 1] = part[k + 1], part[k]
        pcap.write_pcap(b, part)
        with replays() as plans:
            fast_json = dumps_indent1(capture.analyse_files([a, b], records=False).to_json())
        assert fast_json == dumps_indent1(capture.analyse_files([a, b], fast=False).to_json())
        assert len(plans) == (1 if fast else 0)


def test_a_look_closing_hairpins_at_a_left_out_row_keeps_the_tallies_order(tmp_path: Path) -> None:
    # in time order: hairpin A (opened first, a round 50 s later) and B; a healthy handshake 137 s in, left out
    # of the analyser, moves the clock past B's 135 s (not A's): the look there closes B first.  Counted
    # without it (as the first pass once did), the next look closed both in the order opened
    b = 1_764_547_200.0
    a_ = connection("hairpin", ip_int("192.168.0.10"), 40000, 5, NODES[0], b, 2, 50.0)
    b_ = connection("hairpin", ip_int("192.168.0.11"), 40001, 6, NODES[0], b + 1, 1, 1.0)
    h = connection("healthy", ip_int("192.168.0.20"), 40002, 900, NODES[0], b + 137, 1, 1.0)
    c = connection("hairpin", ip_int("192.168.0.12"), 40003, 7, NODES[0], b + 200, 1, 1.0)
    path = tmp_path / "c.pcap"
    found, plans = analysed(path, sorted(a_ + b_ + h + c, key=lambda r: r.t), 10_000)
    assert len(plans) == 2 and all(True in p.ev_tick for p in plans)  # the look at the healthy SYN, replayed
    assert found["columns"].by("client") == [("192.168.0.11", 1), ("192.168.0.10", 1), ("192.168.0.12", 1)]


def test_lone_syns_left_out_count_among_the_open_attempts(tmp_path: Path) -> None:
    # a look runs only when 4 x the packets since the last one reach the attempts open: 100 lone SYNs (all but
    # the first left out of the analyser, listed 1) keep the look at C's SYN (140 s) from closing B (idle
    # 138 s), so A, B and C are classified at the end in the order opened
    b = 1_764_547_200.0
    lone = [pcap.PacketRecord(b + 0.001 * i, None, Packet(ip_int("10.1.0.0") + i, 40000, VIP, 80, SYN, 5000 + i))
            for i in range(100)]  # fmt: skip
    a_ = connection("hairpin", ip_int("192.168.0.10"), 40000, 5, NODES[0], b + 1, 2, 60.0)
    b_ = connection("hairpin", ip_int("192.168.0.11"), 40001, 6, NODES[0], b + 2, 1, 1.0)
    c = connection("hairpin", ip_int("192.168.0.12"), 40003, 7, NODES[0], b + 140, 1, 1.0)
    path = tmp_path / "c.pcap"
    found, plans = analysed(path, sorted(lone + a_ + b_ + c, key=lambda r: r.t), 1)
    assert len(plans) == 2 and all(p.opened == 99 for p in plans)  # 99 lone SYNs left out
    assert found["columns"].by("client") == [("192.168.0.10", 1), ("192.168.0.11", 1), ("192.168.0.12", 1)]
    assert found["columns"].counts == {"hairpin": 3, "unanswered-syn": 100}


def test_lone_syns_left_out_are_closed_by_the_looks(tmp_path: Path) -> None:
    # 100 lone SYNs, then 30 healthy handshakes 120 s in and one 136 s in: the look there closes the lone SYNs
    # (idle 136 s).  Later looks see only A and B open: the one at C's SYN (280 s) runs after 3 packets and
    # closes B (idle 142 s) before A; had the lone SYNs stayed open, it would not have run
    b = 1_764_547_200.0
    lone = [pcap.PacketRecord(b + 0.001 * i, None, Packet(ip_int("10.1.0.0") + i, 40000, VIP, 80, SYN, 5000 + i))
            for i in range(100)]  # fmt: skip
    filler = [r for i in range(31) for r in connection("healthy", ip_int("10.2.0.0") + i, 40000, 9000 + i, NODES[0],
                                                         b + (136.0 if i == 30 else 120.0 + 0.01 * i), 1, 1.0)]  # fmt: skip
    a_ = connection("hairpin", ip_int("192.168.0.10"), 40000, 5, NODES[0], b + 137, 2, 63.0)
    b_ = connection("hairpin", ip_int("192.168.0.11"), 40001, 6, NODES[0], b + 138, 1, 1.0)
    c = connection("hairpin", ip_int("192.168.0.12"), 40003, 7, NODES[0], b + 280, 1, 1.0)
    path = tmp_path / "c.pcap"
    found, plans = analysed(path, sorted(lone + filler + a_ + b_ + c, key=lambda r: r.t), 1)
    assert len(plans) == 2 and all(p.opened == 99 + 31 for p in plans)  # lone SYNs and healthy SYNs left out
    assert found["columns"].by("client") == [("192.168.0.11", 1), ("192.168.0.10", 1), ("192.168.0.12", 1)]


def test_healthy_handshakes_seen_twice_are_left_out(tmp_path: Path) -> None:
    """A capture where every packet of 200 healthy handshakes is seen twice, 3 us apart (``tcpdump -i any``),
    around 3 hairpins: the handshakes' rows are left out (counted, never decoded), the answer is the
    streaming reader's."""
    records = []
    for i in range(200):
        shape = "hairpin" if i in (50, 120, 190) else "healthy-twice"
        records += connection(shape, ip_int("192.168.0.10") + i % 4, 40000 + i, 0x9E3779B9 * (i + 1) & 0xFFFFFFFF,
                              NODES[i % 2], 1_764_547_200.0 + i * 0.001, 3, 1.0)  # fmt: skip
    path = tmp_path / "twice.pcap"
    found, plans = analysed(path, sorted(records, key=lambda r: r.t), 10_000)
    new = found["columns"].to_json()["summary"]
    assert (new["healthy"], new["hairpins"], new["connections"], new["packets"]) == (197, 3, 200, 197 * 4 + 3 * 9)
    rd = pcap.read(path, want=6)
    sc = rd.scan()
    assert fastscan.healthy_pairs([sc])[0] == 197
    assert int((~sc.keep).sum()) == 197 * 4 and int(sc.quiet.sum()) == 197 * 2
    assert len(plans[0].fed) == 0  # the hairpins from the columns, the handshakes counted: no row fed


@pytest.mark.parametrize(("rounds", "gap"), [(1, 1.0), (3, 1.0), (7, 0.25), (4, 64.0)])
def test_a_hairpin_seen_twice_is_taken_from_the_columns(tmp_path: Path, rounds: int, gap: float) -> None:
    """Every packet of a hairpin seen twice, 3 us apart: the second SYN of each round is a view of the first
    (not a round), and the attempt is built from the columns with the analyser's rounds."""
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, capture_of([("hairpin-twice", 0, 1, 0, rounds, gap, 0.0)], "written", 0, 1))
    fg = fast_groups(path)
    assert fg is not None and fg.rows.size == 2 * 3 * rounds and len(fg.attempts) == 1
    a = fg.attempts[0]
    t0 = 1_764_547_200.0
    assert (a.syns, a.first_t, a.round_t) == (rounds, t0, t0 + (rounds - 1) * gap)
    assert a.round_dt == pytest.approx(gap if rounds > 1 else 0.0) and a.last_t == pytest.approx(a.round_t + 0.000503)
    assert (str(a.client), str(a.called), str(a.answered_by)) == ("192.168.0.10:40000", "192.168.168.103:80",
                                                                  "192.168.2.3:31468")  # fmt: skip
    same(answers(path, 10_000))


def test_a_syn_view_past_the_window_is_a_round(tmp_path: Path) -> None:
    """SYN views 0.15 s and 0.3 s after each round's SYN: the analyser counts the one 0.3 s after the round's
    first SYN as a round of its own, though it is 0.15 s after the SYN before it; the columns do not take
    the hairpin (each SYN there is at least 0.2 s after its round's first, or less than that after the SYN
    before it), and the answer is the analyser's."""
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, capture_of([("hairpin-spread", 0, 1, 0, 3, 1.0, 0.0)], "written", 0, 1))
    assert fast_groups(path) is None
    found = answers(path, 10_000)
    same(found)
    assert [a.syns for a in found["columns"].hairpins] == [6]


@pytest.mark.parametrize("ahead", [0.0001, 0.002, 0.3])
def test_captures_of_two_nodes_sharing_connections_leave_every_row_out(tmp_path: Path, ahead: float) -> None:
    """The same 300 connections (healthy, hairpinned, each packet once or twice in a file) captured in two
    files, the second's clock ahead: every healthy handshake is counted and every plain hairpin built from
    the columns across both files, no row fed to the analyser, and the answer is the streaming reader's.
    With the clocks 2 ms apart, more than a handshake's 0.4 ms, the second file's SYN comes after the first
    file's SYN-ACK: a view of a handshake answered already, not a new attempt; 0.3 s apart, past the 0.2 s
    window of views, it is one (each handshake counted twice, as the analyser counts it)."""
    records = []
    for i in range(300):
        shape = ("hairpin", "hairpin-twice", "healthy", "healthy-twice")[i % 4]
        records += connection(shape, ip_int("192.168.0.10") + i % 5, 40000 + i, 0x9E3779B9 * (i + 1) & 0xFFFFFFFF,
                              NODES[i % 2], 1_764_547_200.0 + i * 0.01, 1 + i % 3 if i % 4 < 2 else 1, 1.0)  # fmt: skip
    records.sort(key=lambda r: r.t)
    later = [pcap.PacketRecord(round(r.t + ahead, 6), None, r.packet) for r in records]
    paths = [tmp_path / "client.pcap", tmp_path / "node.pcap"]
    for path, part in zip(paths, (records, later), strict=True):
        pcap.write_pcap(path, part)
    with replays() as plans:
        fast = {"columns": capture.analyse_files(paths, records=False), "rows": capture.analyse_files(paths)}
    same({**fast, "stream": capture.analyse_files(paths, fast=False)})
    new = fast["columns"].to_json()["summary"]
    twice = 2 if ahead >= 0.2 else 1
    assert (new["connections"], new["healthy"], new["hairpins"]) == (150 + 150 * twice, 150 * twice, 150)
    assert len(plans) == 2 and len(plans[0].fed) == 0  # columns: nothing fed
    assert sum(a is not None for a in plans[0].ev_attempt) == 150
    hairpin_rows = sum(len(connection(("hairpin", "hairpin-twice")[i % 4], 0, 0, 0, NODES[0], 0.0, 1 + i % 3, 1.0))
                       for i in range(300) if i % 4 < 2)  # fmt: skip
    assert len(plans[1].fed) == 2 * hairpin_rows  # with pictures, the hairpins' rows are read (each file's)


def test_several_files_are_grouped_in_the_order_merged_by_time(tmp_path: Path) -> None:
    """by_key puts the rows of one ISN in the order the files' merge by time gives them (at the same time,
    the first file's first): the order the analyser meets them."""
    a = [
        pcap.PacketRecord(1.0, None, Packet(1, 2, 3, 4, SYN, 9)),
        pcap.PacketRecord(3.0, None, Packet(3, 4, 1, 2, SA, 5, 10)),
    ]
    b = [
        pcap.PacketRecord(1.0, None, Packet(1, 2, 3, 4, SYN, 9)),
        pcap.PacketRecord(2.0, None, Packet(1, 2, 3, 4, SYN, 9)),
    ]
    scans = []
    for n, part in enumerate((a, b)):
        pcap.write_pcap(tmp_path / f"{n}.pcap", part)
        scans.append(pcap.read(tmp_path / f"{n}.pcap", want=6).scan())
    groups = fastscan.by_key(scans)
    assert groups is not None
    _key, t, order, _starts, counts = groups
    assert counts.tolist() == [4] and order.tolist() == [0, 2, 3, 1] and t[order].tolist() == [1.0, 1.0, 2.0, 3.0]


def test_a_handshake_in_three_files_mixing_views_and_a_new_attempt_is_analysed_row_by_row(tmp_path: Path) -> None:
    """One healthy handshake in three files, the clocks 0, 2 ms and 0.3 s ahead: the second file's SYN is a
    view of the answered handshake, the third's a new attempt (0.3 s after the first SYN).  Neither form
    the columns take: its rows go to the analyser, and the answer (2 connections, both healthy) is the
    streaming reader's."""
    once = connection("healthy", ip_int("192.168.0.10"), 40000, 77, NODES[0], 1_764_547_200.0, 1, 1.0)
    paths = []
    for n, ahead in enumerate((0.0, 0.002, 0.3)):
        paths.append(tmp_path / f"{n}.pcap")
        pcap.write_pcap(paths[-1], [pcap.PacketRecord(round(r.t + ahead, 6), None, r.packet) for r in once])
    with replays() as plans:
        fast = {"columns": capture.analyse_files(paths, records=False), "rows": capture.analyse_files(paths)}
    same({**fast, "stream": capture.analyse_files(paths, fast=False)})
    new = fast["columns"].to_json()["summary"]
    assert (new["connections"], new["healthy"], new["packets"]) == (2, 2, 6)
    assert [len(p.fed) for p in plans] == [6, 6]


def test_a_syn_within_the_window_of_an_answered_handshake_is_a_view(tmp_path: Path) -> None:
    """The analyser alone (streaming reader): a SYN 2 ms after a handshake was answered, with its ISN and
    from its client, is a view of it (another capture's clock ahead), to the called address or after the
    NLB's rewrite to node:NodePort; from another source (after MASQUERADE, or another connection that drew
    the same ISN), or 0.2 s after, it is a new attempt."""
    c, t0 = ip_int("192.168.0.10"), 1_764_547_200.0

    def count(later: float, src: int, sport: int, dst: int, dport: int) -> tuple[int, int]:
        recs = [pcap.PacketRecord(t0, None, Packet(c, 40000, VIP, 80, SYN, 5)),
                pcap.PacketRecord(t0 + 0.0004, None, Packet(VIP, 80, c, 40000, SA, 7, 6)),
                pcap.PacketRecord(t0 + later, None, Packet(src, sport, dst, dport, SYN, 5))]  # fmt: skip
        found = capture.analyse(recs)
        return found.connections, found.healthy

    for to in ((VIP, 80), (NODES[0], 31468)):
        assert count(0.002, c, 40000, *to) == (1, 1)
        assert count(-0.002, c, 40000, *to) == (1, 1)
        assert count(0.1999, c, 40000, *to) == (1, 1)
        assert count(0.2, c, 40000, *to) == (2, 1)  # a new attempt, unanswered
        assert count(0.002, c, 40001, *to) == (2, 1)
        assert count(0.002, NODES[0], 61000, *to) == (2, 1)


@pytest.mark.parametrize("rounds", [1, 3])
def test_a_hairpin_seen_on_the_clients_node_is_taken_from_the_columns(tmp_path: Path, rounds: int) -> None:
    """A hairpin as ``tcpdump -i any`` on the client's node sees it: the SYN on the veth and leaving, back from
    the NLB to node:NodePort, after DNAT and MASQUERADE to the backend; the backend's SYN-ACK and its de-NATed
    view; the client's RST and its NATed view.  Built from the columns with the analyser's fields: the NLB's
    rewrite, the MASQUERADE source and the backend."""
    path = tmp_path / "c.pcap"
    pcap.write_pcap(path, capture_of([("node-side", 0, 1, 0, rounds, 1.0, 0.0)], "written", 0, 1))
    fg = fast_groups(path)
    assert fg is not None and fg.rows.size == 8 * rounds and len(fg.attempts) == 1
    a = fg.attempts[0]
    assert (str(a.client), str(a.called), str(a.answered_by), str(a.node_side), str(a.masquerade), str(a.backend)) == (
        "192.168.0.10:40000", "192.168.168.103:80", "192.168.2.3:31468", "192.168.2.3:31468", "192.168.2.3:61000",
        "192.168.39.2:8080")  # fmt: skip
    assert a.syns == rounds and a.elsewhere == {a.answered_by}
    found = answers(path, 10_000)
    same(found)
    assert found["columns"].to_json()["hairpins"][0]["backend"] == "192.168.39.2:8080"


@pytest.mark.parametrize("batch", [fastscan_groups.VIEWS_BATCH, 7])
def test_healthy_connections_seen_on_their_target_node_are_left_out(tmp_path: Path, batch: int) -> None:
    """100 healthy connections as a capture of the node the NLB sent them to shows them (from the NLB to
    node:NodePort, after DNAT and MASQUERADE to the backend, the backend's SYN-ACK before and after de-NAT):
    counted without a row fed to the analyser; one whose MASQUERADE view comes 0.25 s late (an attempt of its
    own to the analyser) is analysed row by row.  The answer is the streaming reader's."""
    records = []
    for i in range(101):
        records += connection("target-side" if i else "target-late", ip_int("192.168.0.10") + i % 5, 40000 + i,
                              0x9E3779B9 * (i + 1) & 0xFFFFFFFF, NODES[i % 2], 1_764_547_200.0 + i * 0.01, 1, 1.0)  # fmt: skip
    path = tmp_path / "target.pcap"
    with views_batch(batch):  # (7 rows: one group or two at a time)
        found, plans = analysed(path, sorted(records, key=lambda r: r.t), 10_000)
    new = found["columns"].to_json()["summary"]
    assert (new["connections"], new["healthy"], new["hairpins"]) == (102, 101, 0)
    assert [len(p.fed) for p in plans] == [4, 4]  # the late one's rows only
