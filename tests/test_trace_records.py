"""The tracer's walk records and makes no words; the words come from the records when the report is read.

The words themselves are held byte for byte by test_trace_golden; here: that a trace builds none of them
(no rule formatted, no note, step, hop, verdict or choice put into text) until read, that the verdicts the
tracer keeps per flow class change nothing, and that every path draws what a fresh ``Random(0)`` draws."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin import trace as tr
from hairpin.notes import Note
from hairpin.tracer import _Draws

DATA = Path(__file__).parent / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"


def node1() -> tr.Node:
    f = tr.Node.find(DATA)
    return tr.Node.load(f["iptables"], f["routes"], f.get("rules"), f.get("addrs"), name="node1")


def test_a_trace_makes_no_words_until_they_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    n = node1()
    packet, iif = tr.parse_packet(SYN)
    shown = tr.trace(n, packet, iif, reply=True)  # the first trace compiles the rules on the path
    want_text, want_json = shown.text(), json.dumps(shown.to_json())

    def no_words(*args: object) -> str:
        raise AssertionError("a rule was put into words during the walk")

    import hairpin.parsers.iptables_save as ipt

    with monkeypatch.context() as m:
        m.setattr(ipt, "format_rule", no_words)
        t = tr.trace(n, packet, iif, reply=True)
    assert len(t.outcomes) == 3 and [len(o.legs) for o in t.outcomes] == [2, 2, 2]
    notes = [x for o in t.outcomes for leg in o.legs for e in leg.events for x in e[3] if isinstance(x, Note)]
    # a kept verdict's rule note and a route decision's note are the very ones the shown trace recorded (read
    # there); every other note is new and unread
    before = {id(x) for o in shown.outcomes for leg in o.legs for e in leg.events for x in e[3] if isinstance(x, Note)}
    new = [x for x in notes if id(x) not in before]
    assert len(notes) >= 3 * 8 and len(new) >= 3 * 4 and all(x._lines is None for x in new)  # DNAT, MASQUERADE...
    assert len(new) < len(notes)
    for o in t.outcomes:
        assert o._choices is None and o._probability is None
        for leg in o.legs:
            assert leg._steps is None and leg._notes is None and leg._hops is None and leg._verdict is None
            assert leg.walk and leg.kind == "forward" and leg.oif is not None  # what the report needs to know
    # read now: the same words as the trace that was shown at once
    assert t.text() == want_text and json.dumps(t.to_json()) == want_json
    assert all(x._lines is not None for x in notes)


def test_kept_verdicts_change_nothing() -> None:
    packet, iif = tr.parse_packet(SYN)
    kept, walked = node1(), node1()
    walked.tracer().host.caching = False
    for _ in range(2):  # the second trace meets the verdicts the first kept
        a, b = tr.trace(kept, packet, iif, reply=True), tr.trace(walked, packet, iif, reply=True)
        assert a.text() == b.text() and a.to_json() == b.to_json()
    assert kept.tracer().host._verdicts and not walked.tracer().host._verdicts


draws = st.lists(st.lists(st.one_of(st.integers(1, 40), st.just(-1)), max_size=6), min_size=1, max_size=8)


@given(draws)
def test_every_path_draws_what_a_fresh_random_0_draws(paths: list[list[int]]) -> None:
    """-1: ``random()``; k: ``getrandbits(k)``; and ``randrange``, which draws through getrandbits."""
    d = _Draws()
    for path in paths:
        d.restart()
        fresh = random.Random(0)
        for bits in path:
            if bits < 0:
                assert d.random() == fresh.random()
            else:
                assert d.getrandbits(bits) == fresh.getrandbits(bits)
        assert d.randrange(64512) == fresh.randrange(64512)
