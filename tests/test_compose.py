"""hairpin.parsers.compose (one pass over libyaml's events) against the two passes it replaced.

The reference is ``parse_yaml(..., one_pass=False)``: ``hairpin.reading.check_yaml_events`` over the whole
stream first, then libyaml's C composer (PyYAML's ``CParser.get_node``).  Both must give the same objects
(types, key order, YAML 1.1 values), lines, marks and error lines, in the same order, on generated
documents, on mutated ones, on every YAML fixture under tests/data/check and on the hostile cases of
tests/test_fuzz.py; and the one-pass composer must build the very node tree libyaml's composer builds
(tags, values, styles, marks, shared nodes for aliases).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin import reading
from hairpin.errors import ParseError
from hairpin.parsers import compose
from hairpin.parsers import manifests as m
from test_construct import document, value  # tests/ is on sys.path (rootdir conftest, no package)
from test_fuzz import HOSTILE, TOKENS, bomb, mutated

DATA = Path(__file__).parent / "data"
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
FIXTURES = sorted(p for p in (DATA / "check").rglob("*") if p.suffix in (".yaml", ".yml"))


def outcome(text: str, one_pass: bool, collect: bool = True) -> tuple[list[Any], list[str]]:
    """What ``parse_yaml`` answers: each object's kind, data (``repr``: types and key order), file, line
    and marks, and the error lines; ``collect=False``: the first error raised instead."""
    errors: list[ParseError] = []
    try:
        objs = m.parse_yaml(text, "dump.yaml", errors if collect else None, one_pass=one_pass)
    except ParseError as exc:
        return [], [exc.one_line()]
    return [(o.kind, repr(o.data), o.file, o.line, o.marks) for o in objs], [e.one_line() for e in errors]


def tree(node: Any, seen: dict[int, int]) -> Any:
    """A node tree as comparable data: class, tag, style, value, both marks; a node met again (an alias) as
    the number of its first appearance."""
    if id(node) in seen:
        return ("alias", seen[id(node)])
    seen[id(node)] = len(seen)
    marks = tuple((k.index, k.line, k.column, k.name) for k in (node.start_mark, node.end_mark))
    if isinstance(node, yaml.ScalarNode):
        return ("scalar", node.tag, node.style, node.value, marks)
    if isinstance(node, yaml.SequenceNode):
        return ("seq", node.tag, node.flow_style, [tree(x, seen) for x in node.value], marks)
    return ("map", node.tag, node.flow_style, [(tree(k, seen), tree(v, seen)) for k, v in node.value], marks)


def trees(text: str, one_pass: bool) -> list[Any] | str:
    """The documents' node trees, or the first error's class and words."""
    loader = m._KubeLoader(text)
    try:
        if one_pass:
            nodes = list(compose.documents(loader, "dump.yaml", end_marks=True))
        else:
            nodes = []
            while loader.check_node():
                nodes.append(loader.get_node())
        return [tree(n, {}) for n in nodes]
    except yaml.YAMLError as exc:
        return f"{type(exc).__name__}: {exc}"
    except ParseError as exc:
        return exc.one_line()
    finally:
        loader.dispose()


def same(text: str) -> tuple[list[Any], list[str]]:
    got = outcome(text, True)
    assert got == outcome(text, False)
    assert outcome(text, True, collect=False) == outcome(text, False, collect=False)
    bad = reading.check_yaml_events(text, "dump.yaml", aliases=True)
    if bad is None:  # no depth or alias error: the nodes themselves, errors included, are libyaml's
        assert trees(text, True) == trees(text, False)
    return got


@st.composite
def stream(draw: Any) -> str:
    """A multi-document stream: kubectl-like Lists, Kubernetes objects with typed fields, flow and block
    values, anchors (some defined twice), aliases (some undefined), explicit ``---``/``...`` markers and
    deep nesting."""
    docs = []
    anchors = ["a", "b"]
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.integers(0, 6))
        if what == 0:
            docs.append(draw(document()))
        elif what == 1:
            kind = draw(st.sampled_from(["Service", "Pod", "ConfigMap"]))
            port = draw(st.sampled_from(["80", "'80'", "http", "~", "0x50"]))
            docs.append(f"apiVersion: v1\nkind: {kind}\nmetadata:\n  name: {draw(value(plain=True))}\n"
                        f"  annotations: {{a: {draw(value())}}}\nspec:\n  type: LoadBalancer\n"
                        f"  ports:\n  - port: {port}\n    name: {draw(value())}\n")  # fmt: skip
        elif what == 2:
            n = draw(st.integers(1, 12))
            open_, close = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("[{x: ", "}]")]))
            docs.append(f"kind: Deep\nv: {open_ * n}{draw(value())}{close * n}\n")
        elif what == 3:
            a = draw(st.sampled_from(anchors))
            b = draw(st.sampled_from([*anchors, "zz"]))
            docs.append(f"kind: Widget\nx: &{a} {draw(value())}\ny: *{b}\nz: &{draw(st.sampled_from(anchors))} 1\n")
        elif what == 4:
            docs.append("kind: Widget\nl: " + "\n".join("  " * i + "- " + ("x" if i == 5 else "") for i in range(6)) + "\n")
        elif what == 5:
            docs.append(draw(st.sampled_from(["", "~\n", "[]\n", "- 1\n", "'s'\n", "kind: 3\n", "{kind: Pod}\n"])))
        else:
            docs.append(f"kind: Widget\ndata: {draw(value())}\n")
    seps = [draw(st.sampled_from(["---\n", "--- \n", "...\n---\n", "--- !!map\n"])) for _ in docs]
    return "".join((sep if i or draw(st.booleans()) else "") + d for i, (sep, d) in enumerate(zip(seps, docs, strict=True)))


@pytest.fixture(autouse=True)
def _limits(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Small limits, so that generated documents reach them (both readers see the same ones)."""
    reading.set_limits(depth=8)
    monkeypatch.setattr(reading, "ALIAS_NODES", 40)
    monkeypatch.setattr(compose, "ALIAS_NODES", 40)
    yield
    reading.set_limits()


@SETTINGS
@given(stream())
def test_generated_streams_read_the_same(text: str) -> None:
    same(text)


@SETTINGS
@given(st.data(), stream())
def test_mutated_streams_read_the_same(data: st.DataObject, text: str) -> None:
    raw = data.draw(mutated(text.encode()))
    same(raw.decode("utf-8", "replace").replace("\0", "\x07"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p.relative_to(DATA)))
def test_fixtures_read_the_same(path: Path) -> None:
    reading.set_limits()
    same(reading.read_text(path))


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(st.data(), st.sampled_from(FIXTURES))
def test_mutated_fixtures_read_the_same(data: st.DataObject, path: Path) -> None:
    reading.set_limits()
    raw = data.draw(mutated(path.read_bytes()))
    same(raw.decode("utf-8", "replace").replace("\0", "\x07"))


@pytest.mark.parametrize("token", [t for t in TOKENS if b"\0" not in t], ids=repr)
def test_hostile_tokens_in_a_dump_read_the_same(token: bytes) -> None:
    reading.set_limits()
    text = (DATA / "check" / "seed-dump.yaml").read_text()
    for at in (0, len(text) // 3, len(text) // 2, len(text)):
        same(text[:at] + token.decode("utf-8", "replace") + text[at:])


@pytest.mark.parametrize("case", sorted(c for c, (kind, _) in HOSTILE.items() if kind in ("scenario", "manifest.yaml")))
def test_fuzz_hostile_yaml_read_the_same(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reading.set_limits()
    monkeypatch.setattr(reading, "ALIAS_NODES", 100_000)
    monkeypatch.setattr(compose, "ALIAS_NODES", 100_000)
    same(HOSTILE[case][1].decode())


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # depth wins over the composer's own error in the same document (the event pass ran first) ...
        ("kind: A\nx: *nope\ny: [[[[[[[[[1]]]]]]]]]\n", ["dump.yaml:3: nested more than 8 levels deep (raise it with "
                                                       "hairpin --max-depth N or HAIRPIN_MAX_DEPTH)"]),
        # ... but not over one in an earlier document
        ("kind: A\nx: *nope\n---\ny: [[[[[[[[[1]]]]]]]]]\n", ["dump.yaml:2: not valid YAML: found undefined alias"]),
        ("x: &a 1\ny: &a 2\n", ["dump.yaml:2: not valid YAML: second occurrence"]),
        # a control character after a complete document: that document is not read
        ("kind: A\n---\nkind: B\n---\nkind: C\x07\n", ["dump.yaml:5: not valid YAML: control character #x0007 is not allowed"]),
        # a syntax error after a complete document: it is
        ("kind: A\n---\nkind: B\n---\nkind: [C\n", ["dump.yaml:6: not valid YAML: did not find expected ',' or ']'"]),
        ("x: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\ny: [*a, *a, *a, *a, *a]\n",
         ["dump.yaml:2: YAML aliases stand for more than 40 nodes (an alias bomb?): refused"]),
    ],
)  # fmt: skip
def test_error_order(text: str, want: list[str]) -> None:
    _, errors = same(text)
    assert errors[-1:] == want


def test_objects_lines_and_marks_of_a_dump() -> None:
    """The seed dump's objects in one pass: every item with its line, a Service's marks."""
    reading.set_limits()
    objs, errors = same((DATA / "check" / "seed-dump.yaml").read_text())
    assert errors == [] and len(objs) > 3
    svc = next(o for o in m.parse_yaml((DATA / "check" / "seed-dump.yaml").read_text(), "d") if o.kind == "Service")
    assert svc.marks and svc.line and all(line >= svc.line for line, _ in svc.marks.values())


def test_resolution_cache_is_bounded_and_answers_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the remembered scalars, tags are resolved every time, to the same answers."""
    monkeypatch.setattr(compose, "_KNOWN", 3)
    reading.set_limits()
    (obj,) = same("kind: A\nv: [yes, '1', 0755, x, 1:30, ~, yes, 0755, 1:30, x, null, 1e3]\n")[0]
    assert obj[1] == "{'kind': 'A', 'v': [True, '1', 493, 'x', 90, None, True, 493, 90, 'x', None, '1e3']}"


def test_path_resolvers_are_refused() -> None:
    class PathLoader(m._KubeLoader):  # type: ignore[misc]
        yaml_path_resolvers: ClassVar[dict[Any, Any]] = {((None, None),): None}

    with pytest.raises(ValueError):
        next(compose.documents(PathLoader("a: 1"), "f"))


def _one_gib() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("kind: A\nv: " + "[" * 100_000 + "]" * 100_000 + "\n", ":2: nested more than 100 levels deep"),
        ("kind: A\nv:\n" + "".join("  " * i + "k:\n" for i in range(1, 2000)) + "  " * 2000 + "x\n",
         ":102: nested more than 100 levels deep"),
        ("kind: Pod\n" + bomb(), ":7: YAML aliases stand for more than 100,000 nodes"),
        ("kind: Pod\n" + bomb(30), ":7: YAML aliases stand for more than 100,000 nodes"),
    ],
    ids=["100000-flow", "2000-block", "billion-laughs", "30-levels-of-laughs"],
)
def test_hostile_stays_bounded_in_a_subprocess_with_1_gib(text: str, want: str, tmp_path: Path) -> None:
    """The one pass refuses nesting and alias bombs under a 1 GiB address space, in one line."""
    f = tmp_path / "h.yaml"
    f.write_text(text)
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "check", str(f)], capture_output=True, text=True,
                       preexec_fn=_one_gib, timeout=120, check=False)  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    first = r.stderr.splitlines()[0]
    if want.endswith("levels deep") and "exceeded maximum nesting depth" in first:
        # PyYAML 6.0.4's bundled libyaml refuses deep flow nesting in its own scanner, ahead of hairpin's count
        # (6.0.3 built against the system's libyaml does not): the same refusal, in libyaml's words
        want = want.split(": nested")[0] + ": not valid YAML: exceeded maximum nesting depth"
        assert first == f"hairpin: error: {f}{want}"
        return
    assert first.startswith(f"hairpin: error: {f}{want}")


def test_a_control_character_right_after_a_document_drops_that_document() -> None:
    """libyaml checks its input for control characters a buffer at a time, so the reader error can come
    with the event after a document's end: the event pass then named that document, which was not read.
    Over a range of sizes, one pass agrees with two, and at some size the error comes right after the end."""
    reading.set_limits()
    after_end = 0
    for n in range(16_300, 16_420):
        text = "kind: A\nx: " + "y" * n + "\n...\n\x07"
        objs, errors = same(text)
        assert errors == ["dump.yaml:4: not valid YAML: control character #x0007 is not allowed"]
        loader = yaml.CSafeLoader(text)
        last = None
        with pytest.raises(yaml.reader.ReaderError):
            while True:
                last = loader.get_event()
        if isinstance(last, yaml.DocumentEndEvent):
            after_end += 1
            assert objs == []
    assert after_end > 0


def test_end_marks_are_left_out_unless_asked_for() -> None:
    """Nothing reads a node's end mark; by default the one pass leaves it out (a sixth of the tree)."""
    loader = m._KubeLoader("kind: A\nl: [1, {a: b}]\n")
    (root,) = compose.documents(loader, "f")
    nodes = [root, *(n for kv in root.value for n in kv), *root.value[1][1].value]
    assert len(nodes) == 7 and all(n.end_mark is None for n in nodes)
    assert [(n.start_mark.line, n.start_mark.column) for n in nodes] == [(0, 0), (0, 0), (0, 6), (1, 0), (1, 3), (1, 4), (1, 7)]
