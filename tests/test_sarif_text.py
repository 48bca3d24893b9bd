"""Text from the user's files in ``hairpin check --format sarif``: no embedded link, no markup, no bidi control
(SARIF 2.1.0 sections 3.11.3-3.11.6), and artifact URIs percent-encoded (RFC 3986 section 2.1)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.cli.main import main
from hairpin.diagnose.sarif import _message, _uri
from test_check_datapath import NODES, service

#: a plain text message's embedded link as the CodeQL extension for VS Code finds it: '[', link text with '[', ']'
#: and '\' escaped, '](', a target, ')', the '[' not escaped (after an even number of backslashes)
LINK = re.compile(r"(?<!\\)(?:\\\\)*\[(?:[^\\\[\]]|\\\\|\\\]|\\\[)*\]\([^)]*\)")


def _unescaped(text: str) -> str:
    """What a viewer shows: ``\\[``, ``\\]`` and ``\\\\`` read as the character."""
    return re.sub(r"\\([\\\[\]])", r"\1", text)


def test_brackets_and_backslashes_are_escaped_exactly() -> None:
    assert _message("shop/x[here](1) a\\b") == {"text": "shop/x\\[here\\](1) a\\\\b"}
    assert _message("[click](https://evil.example/)") == {"text": "\\[click\\](https://evil.example/)"}
    assert _message("\\[x](1)") == {"text": "\\\\\\[x\\](1)"}  # a backslash of the file's cannot undo the escape
    assert _message("no link: (1) {0}") == {"text": "no link: (1) {0}"}


def test_control_and_bidi_characters_are_shown() -> None:
    assert _message("svc\u202ex\x1b[31m") == {"text": "svc\\\\u202ex\\\\x1b\\[31m"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("[]()\\ 1ab:/")))
def test_no_text_makes_a_link_and_a_viewer_shows_it_back(text: str) -> None:
    shown = _message(text)["text"]
    assert LINK.search(shown) is None
    assert _unescaped(shown) == text


@pytest.mark.parametrize(("path", "uri"), [
    ("./k8s/svc.yaml", "k8s/svc.yaml"),
    ("my dir/#1 100%.yaml", "my%20dir/%231%20100%25.yaml"),
    ("k8s/sérvice?.yaml", "k8s/s%C3%A9rvice%3F.yaml"),
    ("a:b.yaml", "a%3Ab.yaml"),  # not the scheme "a"
    ("//host/x.yaml", "/host/x.yaml"),  # not the authority "host"
    ("/abs/[x](1).yaml", "/abs/%5Bx%5D%281%29.yaml"),
    ("back\\slash.yaml", "back%5Cslash.yaml"),  # a POSIX name
    ("bad-\udcff.yaml", "bad-%FF.yaml"),  # an undecodable byte, as os.fsdecode gives it
])  # fmt: skip
def test_artifact_uris_are_percent_encoded(path: str, uri: str) -> None:
    assert _uri(path) == uri


def _sarif(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str], file: str = "dump.json") -> dict[str, Any]:
    svc = service()
    svc["metadata"]["name"] = name
    dump = tmp_path / file
    dump.parent.mkdir(exist_ok=True)
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*NODES, svc]}))
    with pytest.raises(SystemExit) as exc:
        main(["check", str(dump), "--format", "sarif"])
    assert exc.value.code == 1
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


def test_a_service_name_with_a_link_is_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _sarif(tmp_path, "svc[here](1)\u202e", capsys, "dir #1/dump 100%.json")
    run = doc["runs"][0]
    messages = [r["message"] for r in run["results"]]
    messages += [loc["message"] for r in run["results"] for loc in r.get("relatedLocations", [])]
    assert messages and all(set(m) == {"text"} for m in messages)  # never "markdown"
    assert all(m["text"].startswith("Service shop/svc\\[here\\](1)\\\\u202e") for m in messages)
    assert all(LINK.search(m["text"]) is None for m in messages)
    res = run["results"][0]
    assert res["ruleId"] == "HP001"
    uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.endswith("/dir%20%231/dump%20100%25.json") and " " not in uri and "#" not in uri
    assert "markdown" not in json.dumps(doc)


def test_an_input_error_notification_escapes_its_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "[x](1).yaml"
    bad.write_text("kind: [\n")
    good = tmp_path / "ok.json"
    good.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*NODES, service()]}))
    with pytest.raises(SystemExit):
        main(["check", str(good), str(bad), "--format", "sarif"])
    notes = json.loads(capsys.readouterr().out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    errors = [n for n in notes if n["level"] == "error"]
    assert len(errors) == 1
    assert f"{tmp_path}/\\[x\\](1).yaml:" in errors[0]["message"]["text"]
    assert LINK.search(errors[0]["message"]["text"]) is None
    assert errors[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("/%5Bx%5D%281%29.yaml")
