"""A public corpus of real captures (set HAIRPIN_PCAP_CORPUS to a directory, e.g. the tcpdump project's
``tests``): every file through ``hairpin pcap`` with no traceback, exit 0/1/2 only, skipped frames said.
Skipped when the variable is not set (the corpus is not part of this repository)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hairpin.cli.main import app

CORPUS = os.environ.get("HAIRPIN_PCAP_CORPUS")


@pytest.mark.skipif(not CORPUS, reason="set HAIRPIN_PCAP_CORPUS to a directory of captures")
def test_every_capture_of_the_corpus_is_read_or_refused_in_one_line() -> None:
    assert CORPUS is not None
    files = sorted(p for p in Path(CORPUS).rglob("*") if p.suffix in (".pcap", ".pcapng"))
    assert files
    runner = CliRunner()
    for path in files:
        res = runner.invoke(app, ["pcap", str(path), "--format", "json"])
        assert res.exit_code in (0, 1, 2) and (res.exception is None or isinstance(res.exception, SystemExit)), (
            path, res.exception)
        doc = json.loads(res.stdout)
        for f in doc["files"]:
            assert f["packets"] == f["tcp"] + f["skipped"] and f["skipped"] == sum(f["skipped_by_reason"].values())
            if f["error"] is None and f["skipped"]:
                assert f"hairpin: warning: {path}: skipped {f['skipped']} of {f['packets']} frames" in res.stderr
        assert res.exit_code == (1 if doc["hairpins"] else 2 if any(f["error"] for f in doc["files"]) else 0)
