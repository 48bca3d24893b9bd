"""Numbered steps of a connection: the first round in full, later rounds folded, the outcome last."""

from __future__ import annotations

from rich.console import Console

from hairpin import scenario, story
from hairpin.backends import sim


def test_hairpinned_connection_story() -> None:
    c = sim.connect(scenario.seed(), client_port=49134, target="192.168.2.3:31468", seed=1)
    steps = story.steps(c)
    assert steps[0].src == "192.168.27.239:49134" and steps[0].dst == "192.168.168.103:80" and steps[0].flags == "SYN"
    nlb = next(s for s in steps if s.at == "NLB 192.168.168.103")
    assert nlb.dst == "192.168.2.3:31468" and "client IP preserved" in nlb.what
    back = next(s for s in steps if s.flags == "SYN,ACK" and s.at.startswith("node1 eni"))
    assert (back.src, back.dst) == ("192.168.2.3:31468", "192.168.27.239:49134") and "de-NAT" in back.what
    folded = [s for s in steps if s.folded]
    assert [round(s.t) for s in folded] == [1, 3, 7, 15, 31, 63]
    assert all("same path: SYN/ACK from the node, client RST" in s.what for s in folded)
    assert steps[-1].kind == "timeout" and steps[-1].t == 127.0
    assert [s.n for s in steps] == list(range(1, len(steps) + 1))
    full = story.steps(c, full=True)
    assert len(full) > len(steps) and not any(s.folded for s in full)


def test_run_view_renders() -> None:
    r = sim.run(scenario.seed(), 20, seed=2, fixes=True)
    console = Console(width=140, record=True, color_system=None)
    console.print(story.RunView(r))
    text = console.export_text()
    assert "1. A connection that timed out" in text
    assert "4. Fixes: workarounds that remove every timeout here" in text and "5. Not fixes here" in text
    assert f"Over 20 connections: {r.summary.timeouts} timed out" in text
