"""`hairpin pcap` on the command line: the JSON contract, exit codes, pictures, bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hairpin.backends import sim
from hairpin.cli.main import app
from hairpin.render import pcap as render_pcap
from hairpin.scenario import seed

runner = CliRunner()


@pytest.fixture(scope="module")
def client_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, sim.Run]:
    run = sim.run(seed(), 16, 5)
    path = tmp_path_factory.mktemp("cap") / "client.pcapng"
    render_pcap.write_run(run, path, run.connections, places={"pod netshoot eth0"})
    return path, run


def test_json_contract_and_exit_1(client_capture: tuple[Path, sim.Run]) -> None:
    path, run = client_capture
    res = runner.invoke(app, ["pcap", str(path), "--format", "json"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    timeouts = [c for c in run.connections if c.outcome == "timeout"]
    assert len(doc["hairpins"]) == len(timeouts) > 0
    h = doc["hairpins"][0]
    assert set(h) == {"client", "vip", "node", "backend", "syn_retransmits", "lost_s", "gave_up"}
    assert (h["client"], h["vip"], h["node"], h["backend"], h["syn_retransmits"]) == (
        timeouts[0].client, "192.168.168.103:80", "192.168.2.3:31468", None, 6)  # fmt: skip
    s = doc["summary"]
    assert (s["connections"], s["hairpins"], s["other_failures"]) == (16, len(timeouts), {})
    assert isinstance(s["packets"], int) and s["packets"] > 0


def test_no_hairpin_exits_0(tmp_path: Path) -> None:
    run = sim.run(seed(), 6, 5, fixes=False)
    good = [c for c in run.connections if c.outcome == "established"]
    path = tmp_path / "good.pcapng"
    render_pcap.write_run(run, path, good, places={"pod netshoot eth0"})
    res = runner.invoke(app, ["pcap", str(path)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "hairpin pcap: no hairpinned or failed connection in 6 TCP packets"
    assert lines[1].startswith(f"0 hairpinned connections of {len(good)} in ")


def test_text_svg_and_html(client_capture: tuple[Path, sim.Run], tmp_path: Path) -> None:
    path, _ = client_capture
    svg, page = tmp_path / "h.svg", tmp_path / "h.html"
    res = runner.invoke(app, ["pcap", str(path), "--svg", str(svg), "--html", str(page)])
    assert res.exit_code == 1
    assert "192.168.2.3:31468" in res.stdout and "by node: 192.168.2.3:31468" in res.stdout
    assert svg.read_text().startswith("<svg") and "SYN,ACK 192.168.2.3:31468 -&gt; 192.168.27.239:" in svg.read_text()
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and 'id="hairpins">' in text and "<script" not in text


def test_not_a_capture_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    res = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "pcap", str(bad)], capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip() == f"hairpin: error: {bad}: not a pcap or pcapng capture (starts with 0x68656c6c)"


def test_truncated_file_reports_where_it_stopped(client_capture: tuple[Path, sim.Run], tmp_path: Path) -> None:
    path, _ = client_capture
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(path.read_bytes()[:-30])
    res = runner.invoke(app, ["pcap", str(cut), "--format", "json"])
    assert res.exit_code in (0, 1)
    damage = json.loads(res.stdout)["files"][0]["damage"]
    assert damage.startswith("stopped at byte ") and "truncated block (type 0x6" in damage
