"""``hairpin reproduce`` through the CLI: text, JSON, bad input as one line with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def hairpin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"})  # fmt: skip


def test_reproduce_text_shows_the_failure_and_the_fixes() -> None:
    r = hairpin("reproduce", "--connections", "40", "--seed", "2")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "A connection that timed out" in out and "A connection that succeeded" in out
    assert "192.168.27.239" in out and "192.168.2.3:31468" in out and "ETIMEDOUT after 7 SYNs" in out
    assert "ip-targets" in out and "no-preserve-client-ip" in out and "cluster-ip" in out


def test_reproduce_json_is_the_contract() -> None:
    r = hairpin("reproduce", "--connections", "30", "--format", "json", "--no-fixes")
    doc = json.loads(r.stdout)
    assert doc["summary"]["attempts"] == 30 and doc["fixes"] == []


def test_bad_format_is_one_line_exit_2() -> None:
    r = hairpin("reproduce", "--format", "xml")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["hairpin: error: --format must be one of text, json, got 'xml'"]


def test_bad_scenario_names_file_and_key(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("name: x\nvpc: {cidr: 10.0.0.0/8, router: 10.0.0.1, azs: []}\nnodes: []\npods: []\nservices: []\n"
                 "client: {pod: nope, service: a/b, port: 80}\n")  # fmt: skip
    r = hairpin("reproduce", "--scenario", str(f))
    assert r.returncode == 2
    assert r.stderr.strip() == f"hairpin: error: {f}:6: client.pod: unknown pod 'nope'"
    assert "Traceback" not in r.stderr


def test_unknown_fix_is_one_line() -> None:
    r = hairpin("reproduce", "--fix", "magic")
    assert r.returncode == 2 and "unknown fix 'magic'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
