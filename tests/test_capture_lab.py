"""A real capture: `tcpdump -i any` on node1 of `hairpin lab run --connections 6 --capture DIR` (seed 0)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hairpin.cli.main import app

CAP = Path(__file__).parent / "data" / "pcap" / "lab-node1.pcap"


def test_real_lab_capture_three_hairpins_three_healthy() -> None:
    res = CliRunner().invoke(app, ["pcap", str(CAP), "--format", "json"])
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    s = doc["summary"]
    assert (s["packets"], s["connections"], s["hairpins"], s["healthy"]) == (138, 6, 3, 3)
    assert s["other_failures"] == {}
    assert doc["files"][0]["linktypes"] == [276] and doc["files"][0]["damage"] is None
    hp = doc["hairpins"]
    assert [h["client"] for h in hp] == ["192.168.27.239:50983", "192.168.27.239:58543", "192.168.27.239:58707"]
    assert {h["vip"] for h in hp} == {"192.168.168.103:80"}
    assert {h["node"] for h in hp} == {"192.168.2.3:31468"}
    assert [h["backend"] for h in hp] == ["192.168.39.2:80", "192.168.49.70:80", "192.168.16.142:80"]
    assert [h["syn_retransmits"] for h in hp] == [3, 3, 3]
