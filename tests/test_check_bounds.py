"""Manifests built to be expensive for ``hairpin check``: names no API server accepts (a 10 MB name was a 10 MB
table cell), millions of empty documents (each kept a reference cycle while the collector was paused)."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from hairpin.cli.main import main
from hairpin.errors import ParseError
from hairpin.parsers import manifests as m
from time_limit import within

SEED = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"


def test_names_longer_than_the_api_server_accepts_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SEED.read_text()
    long = tmp_path / "long.yaml"
    long.write_text(text.replace("name: service-nginx-demo", "name: s" + "x" * 1_000_000))
    with within(30), pytest.raises(SystemExit) as exc:
        main(["check", str(long), "--format", "json"])
    out, err = capsys.readouterr()
    assert exc.value.code == 2
    assert err.splitlines() == [
        f"hairpin: error: {long}:56: metadata.name is 1,000,001 characters: the API server refuses a name longer than "
        "63 for a Service",
        f"hairpin: error: {long}:75: metadata.name is 1,000,007 characters: the API server refuses a name longer than "
        "253 for a EndpointSlice",
    ]  # fmt: skip
    assert json.loads(out)["services"] == [] and max(map(len, out.splitlines())) < 400


@pytest.mark.parametrize(("name", "namespace", "error"), [
    ("s" * 63, "n" * 63, None),
    ("s" * 64, "n", "metadata.name is 64 characters: the API server refuses a name longer than 63 for a Service"),
    ("s", "n" * 64, "metadata.namespace is 64 characters: the API server refuses a namespace longer than 63"),
])  # fmt: skip
def test_name_lengths_are_the_api_servers(tmp_path: Path, name: str, namespace: str, error: str | None) -> None:
    f = tmp_path / "svc.yaml"
    f.write_text(f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  ports: []\n")
    errs: list[ParseError] = []
    objs = m.load_paths([f], errs)
    assert [e.message for e in errs] == ([error] if error else [])
    assert [o.name for o in objs] == ([] if error else [name])


def test_documents_leave_no_reference_cycles() -> None:
    """hairpin.gcpause keeps cycles to the end of the process: 2,000,000 empty documents (8 MB) took 2 GB."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        m.parse_text("---\n" * 10_000 + SEED.read_text(), "f", [])
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()
