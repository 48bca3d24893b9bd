"""Text from the user's files in ``hairpin check --format sarif``: no embedded link, no placeholder, no markup, no
bidi control (SARIF 2.1.0 sections 3.11.3-3.11.6), and artifact URIs percent-encoded (RFC 3986 section 2.1)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.cli.main import main
from hairpin.diagnose.sarif import RULES, _message, _uri
from test_check_datapath import NODES, service

#: a plain text message's embedded link as the CodeQL extension for VS Code finds it: '[', link text with '[', ']'
#: and '\' escaped, '](', a target, ')', the '[' not escaped (after an even number of backslashes)
LINK = re.compile(r"(?<!\\)(?:\\\\)*\[(?:[^\\\[\]]|\\\\|\\\]|\\\[)*\]\([^)]*\)")


def _unescaped(text: str) -> str:
    """What a viewer shows: ``\\[``, ``\\]`` and ``\\\\`` read as the character (section 3.11.6)."""
    return re.sub(r"\\([\\\[\]])", r"\1", text)


def _placeholders(text: str) -> tuple[str, list[str]]:
    """``text`` read as SARIF 2.1.0 section 3.11.5 says: '{{' and '}}' are one brace, ``{n}`` a placeholder; a
    lone brace is a broken message.  Returns (the text with its braces read, its placeholders)."""
    out, found, i = [], [], 0
    while i < len(text):
        two = text[i : i + 2]
        if two in ("{{", "}}"):
            out.append(two[0])
            i += 2
            continue
        if (m := re.match(r"\{(\d+)\}", text[i:])) is not None:
            found.append(m.group(1))
            i += m.end()
            continue
        assert text[i] not in "{}", f"a lone brace at {i} in {text!r}"
        out.append(text[i])
        i += 1
    return "".join(out), found


def test_brackets_and_backslashes_are_escaped_exactly() -> None:
    assert _message("shop/x[here](1) a\\b") == {"text": "shop/x\\[here\\](1) a\\\\b"}
    assert _message("[click](https://evil.example/)") == {"text": "\\[click\\](https://evil.example/)"}
    assert _message("\\[x](1)") == {"text": "\\\\\\[x\\](1)"}  # a backslash of the file's cannot undo the escape
    assert _message("no link: (1)") == {"text": "no link: (1)"}


def test_braces_are_doubled_exactly() -> None:
    # SARIF 2.1.0 section 3.11.5: a literal '{' or '}' is written '{{' or '}}', with or without arguments
    assert _message("svc{0} {x}") == {"text": "svc{{0}} {{x}}"}
    assert _message("ip saddr != { 10.0.0.0/8 } drop") == {"text": "ip saddr != {{ 10.0.0.0/8 }} drop"}
    assert _message("{{0}}[a]{") == {"text": "{{{{0}}}}\\[a\\]{{"}


def test_control_and_bidi_characters_are_shown() -> None:
    assert _message("svc\u202ex\x1b[31m") == {"text": "svc\\\\u202ex\\\\x1b\\[31m"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("[]{}()\\ 01ab:/")))
def test_no_text_makes_a_link_or_a_placeholder_and_a_viewer_shows_it_back(text: str) -> None:
    shown = _message(text)["text"]
    assert LINK.search(shown) is None
    read, placeholders = _placeholders(shown)
    assert placeholders == []
    assert _unescaped(read) == text


def test_rule_descriptions_hold_no_brace_or_bracket() -> None:
    # hairpin's own rule texts are written as they are shown: nothing in them to escape (sections 3.11.5, 3.11.6)
    texts = [t for rule in RULES for t in rule[3:5]]
    assert len(texts) == 10 and not any(set(t) & set("{}[]\\") for t in texts)


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


def _error_notifications(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> list[dict[str, Any]]:
    """The error notifications of ``check --format sarif`` of a good dump and a broken file named ``name``."""
    bad = tmp_path / name
    bad.write_text("kind: [\n")
    good = tmp_path / "ok.json"
    good.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*NODES, service()]}))
    with pytest.raises(SystemExit):
        main(["check", str(good), str(bad), "--format", "sarif"])
    notes = json.loads(capsys.readouterr().out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    return [n for n in notes if n["level"] == "error"]


def test_an_input_error_notification_escapes_its_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    errors = _error_notifications(tmp_path, capsys, "[x](1).yaml")
    assert len(errors) == 1
    assert f"{tmp_path}/\\[x\\](1).yaml:" in errors[0]["message"]["text"]
    assert LINK.search(errors[0]["message"]["text"]) is None
    assert errors[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("/%5Bx%5D%281%29.yaml")


def test_braces_from_a_service_and_its_annotation_are_no_placeholder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    svc = service()
    svc["metadata"]["name"] = "svc{0}"
    svc["metadata"]["annotations"] = {**svc["metadata"]["annotations"],
                                      "service.beta.kubernetes.io/aws-load-balancer-scheme": "{1}}"}  # fmt: skip
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*NODES, svc]}))
    with pytest.raises(SystemExit) as exc:
        main(["check", str(dump), "--format", "sarif"])
    assert exc.value.code == 1
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["HP001", "HP002"]
    hp001, hp002 = (r["message"] for r in run["results"])
    assert set(hp001) == set(hp002) == {"text"}  # no "arguments": nothing to put in a placeholder
    assert hp002["text"] == (
        "Service shop/svc{{0}}: service.beta.kubernetes.io/aws-load-balancer-scheme: '{{1}}}}' "
        "ignored by the in-tree provider: only the AWS Load Balancer Controller reads it"
    )
    assert hp001["text"].startswith("Service shop/svc{{0}}: internal NLB, instance targets")
    assert "Ignored: service.beta.kubernetes.io/aws-load-balancer-scheme: '{{1}}}}' ignored" in hp001["text"]
    for m in (hp001, hp002):
        read, placeholders = _placeholders(m["text"])
        assert placeholders == [] and read.startswith("Service shop/svc{0}: ")
    # names and values outside messages are data, written as they are
    assert run["results"][1]["properties"]["value"] == "{1}}"
    assert run["results"][0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "shop/svc{0}"


def test_an_input_error_notification_doubles_braces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [error] = _error_notifications(tmp_path, capsys, "{0}.yaml")
    assert error["message"]["text"].startswith(f"{tmp_path}/{{{{0}}}}.yaml:")
    assert _placeholders(error["message"]["text"])[1] == []
    assert error["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("/%7B0%7D.yaml")
