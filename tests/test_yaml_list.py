"""rapidyaml's reading of a List's items (hairpin.parsers.yaml_list) against the exact YAML path.

``parse_yaml(text, lists=False)`` is the reference: libyaml's events composed and constructed as PyYAML
reads them (YAML 1.1), with kubectl's refusals.  With rapidyaml the reader must give the very same
objects (kind, data with the same value types, file, line, marks) and the very same errors, on generated
kubectl-like Lists salted with what YAML 1.1 and 1.2 read differently (``yes``, ``0755``, ``1e3``, ``~``,
``.inf``, ``1:30``, ``0x1F``...), quoted and plain, block scalars, tags, anchors, duplicate keys, values of
the wrong type and stray characters.  Besides: which constructs send an item or the file to the exact path,
and the reader without rapidyaml.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import re
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin.errors import ParseError
from hairpin.parsers import block_marks, json_typed, list_layout, strict, yaml_list
from hairpin.parsers import manifests as m

pytest.importorskip("ryml")
pytest.importorskip("msgspec")

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip


def outcome(text: str, lists: bool) -> tuple[Any, ...]:
    """Each object as (kind, repr of its data, file, line, marks) and each error's one line."""
    errors: list[ParseError] = []
    objs = m.parse_yaml(text, "dump.yaml", errors, lists=lists)
    return [(o.kind, repr(o.data), o.file, o.line, o.marks) for o in objs], [e.one_line() for e in errors]


def same(text: str) -> tuple[Any, ...]:
    got = outcome(text, True)
    assert got == outcome(text, False)
    return got


def fast_read(text: str) -> list[Any] | None:
    """What yaml_list itself answers (None: the exact path reads the file)."""
    return yaml_list.read(text, "dump.yaml", lambda t: m._exact_list(t, "dump.yaml"),
                          lambda t: m._skeleton_kind(t, "dump.yaml"))  # fmt: skip


POD = """- apiVersion: v1
  kind: Pod
  metadata:
    name: web-{i}
    namespace: default
    labels:
      app: web
  spec:
    nodeName: ip-{i}
    containers:
    - name: app
      image: nginx:1.25
      ports:
      - containerPort: 8080
        protocol: TCP
  status:
    phase: Running
    podIP: 10.0.0.{i}
    conditions:
    - type: Ready
      status: 'True'
"""

SERVICE = """- apiVersion: v1
  kind: Service
  metadata:
    name: lb
    namespace: default
    annotations:
      service.beta.kubernetes.io/aws-load-balancer-type: nlb
  spec:
    type: LoadBalancer
    ports:
    - port: 80
      nodePort: 30080
"""


def dump(items: list[str], head: str = "apiVersion: v1\n", tail: str = "kind: List\nmetadata:\n  resourceVersion: \"\"\n") -> str:
    return head + "items:\n" + "".join(items) + tail


def test_a_plain_list_is_read_by_rapidyaml_with_lines_and_marks() -> None:
    text = dump([POD.format(i=1), SERVICE, POD.format(i=2)])
    objs, errors = same(text)
    assert errors == []
    assert [(o[0], o[3]) for o in objs] == [("Pod", 3), ("Service", 24), ("Pod", 36)]
    assert objs[1][4] == {
        "metadata.annotations[service.beta.kubernetes.io/aws-load-balancer-type]": (30, 7),
        "spec.type": (32, 5), "spec.ports[0]": (34, 7),
    }  # fmt: skip
    assert objs[0][4] == {}
    got = fast_read(text)
    assert got is not None and len(got) == 3


@pytest.mark.parametrize("value", ["yes", "No", "on", "OFF", "True", "~", "Null", "0755", "0x1F", "1_000", "1:30",
                                   "1e3", "1.0e+3", ".inf", "-.Inf", ".NaN", "+1", "0b101", "=", "<<", "5.", ".5", "-.5",
                                   "+.5", "-1.", "1.e3", "-0", "00", "1.0E+3"])
def test_what_yaml_1_1_types_otherwise_reads_as_pyyaml_reads_it(value: str) -> None:
    for line in (f"      app: {value}\n", f"      '{value}': x\n", f"      app: '{value}'\n", f"      {value}: x\n"):
        text = dump([POD.format(i=1).replace("      app: web\n", line), POD.format(i=2)])
        same(text)


def test_a_typed_plain_scalar_sends_the_file_to_the_exact_path() -> None:
    text = dump([POD.format(i=1).replace("protocol: TCP", "protocol: yes"), POD.format(i=2)])
    assert fast_read(text) is None  # rapidyaml's JSON has "yes" as a string and the text has it plain
    objs, _ = same(text)
    assert "'protocol': True" in objs[0][1]
    quoted = dump([POD.format(i=1).replace("protocol: TCP", "protocol: 'yes'"), POD.format(i=2)])
    assert fast_read(quoted) is not None
    assert "'protocol': 'yes'" in same(quoted)[0][0][1]


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("      app: web\n", "      app: web\n      app: db\n",
         'dump.yaml:10: duplicate key "app" (first at line 9): kubectl refuses the file ("already set in map"); '
         "a lenient reader would keep the last value"),
        ("      app: web\n", "      app: 80\n",
         "dump.yaml:9: metadata.labels[app]: 80 is a number, not a string: kubectl refuses the file (cannot "
         "unmarshal number into Go struct field ObjectMeta.metadata.labels of type string); quote the value"),
        ("    nodeName: ip-1\n", "    nodeName: 7\n", "dump.yaml:3: spec.nodeName is an integer, not a string: "
         "kubectl refuses the file"),
    ],
)
def test_refusals_are_the_exact_paths_at_the_same_line(old: str, new: str, error: str) -> None:
    text = dump([POD.format(i=1).replace(old, new), POD.format(i=2)])
    objs, errors = same(text)
    assert objs == [] and errors == [error]


@pytest.mark.parametrize("old,new", [
    ("      app: web\n", "      app: &a web\n      b: *a\n"),
    ("      app: web\n", "      app: !!str web\n"),
    ("      app: web\n", "      app: |\n        web\n        db\n"),
    ("      app: web\n", "      app: >-\n        web\n"),
    ("      app: web\n", "      app: web # a comment\n"),
    ("      app: web\n", "      app: [web, db]\n"),
    ("      app: web\n", "      app: {a: b}\n"),
    ("      app: web\n", "      app: \"we\\u00e9b\"\n"),
    ("      app: web\n", "      app: 'it''s'\n"),
    ("      app: web\n", "      app: 'two\n        lines'\n"),
    ("      app: web\n", "      app: two\n        lines\n"),
    ("      app: web\n", "      app: web \n"),
    ("      app: web\n", "      app: web\n\n"),
    ("      app: web\n", "      app: wéb 日本\n"),
    ("      app: web\n", "      ? app\n      : web\n"),
    ("      app: web\n", "      <<: {a: b}\n"),
    ("      app: web\n", "   app: web\n"),
    ("      app: web\n", "      app: web\n     bad: x\n"),
])  # fmt: skip
def test_constructs_rapidyaml_is_not_trusted_with_read_alike(old: str, new: str) -> None:
    same(dump([POD.format(i=1).replace(old, new), POD.format(i=2)]))


def test_files_the_fast_path_leaves_alone() -> None:
    pod = POD.format(i=1)
    for text in (
        "---\n" + dump([pod]), dump([pod]) + "---\nkind: Pod\nmetadata: {name: a}\n", dump([pod]).replace("  ", "\t", 1),
        "kind: PodList\nitems:\n" + pod.replace("  kind: Pod\n", ""), dump([pod], tail="kind: List\nitems: []\n"),
        dump([pod], tail="kind: Pod\n"), dump([pod], tail=""), "items:\n- a: 1\n", dump([pod]).replace("items:", "items: # x"),
        dump(["- - a\n"]), dump(["- null\n"]), dump(["-\n  kind: Pod\n"]),
    ):  # fmt: skip
        same(text)


def test_typed_lists_give_items_without_a_kind_the_lists() -> None:
    text = "kind: PodList\nitems:\n" + POD.format(i=1).replace("  kind: Pod\n", "")
    objs, errors = same(text)
    assert errors == [] and objs[0][0] == "Pod" and fast_read(text) is not None


def test_without_rapidyaml_the_exact_path_reads_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    text = dump([POD.format(i=1), SERVICE])
    want = outcome(text, True)
    monkeypatch.setattr(yaml_list, "ryml", None)
    assert not yaml_list.available()
    assert outcome(text, True) == want


def _loaded(path: Any, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """``load_paths`` (which holds names to ``strict.named``'s limits) with or without rapidyaml."""
    with monkeypatch.context() as mp:
        if not fast:
            mp.setattr(yaml_list, "ryml", None)
        errors: list[ParseError] = []
        objs = m.load_paths([path], errors)
    return [(o.kind, repr(o.data), o.line, o.marks) for o in objs], [e.one_line() for e in errors]


@pytest.mark.parametrize(
    ("name", "pod_name", "namespace", "errors"),
    [
        ("a" * 63, "p" * 253, "n" * 63, []),
        ("a" * 64, "p" * 253, "n" * 63, ["dump.yaml:24: metadata.name is 64 characters: the API server refuses a name "
                                         "longer than 63 for a Service"]),
        ("a" * 63, "p" * 254, "n" * 63, ["dump.yaml:3: metadata.name is 254 characters: the API server refuses a name "
                                         "longer than 253 for a Pod"]),
        ("a" * 63, "p" * 253, "n" * 64, ["dump.yaml:3: metadata.namespace is 64 characters: the API server refuses a "
                                         "namespace longer than 63"]),
    ],
)  # fmt: skip
def test_names_held_to_their_limits_as_the_items_are_typed_read_as_the_exact_path_reads_them(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, name: str, pod_name: str, namespace: str, errors: list[str]
) -> None:
    pod = POD.format(i=1).replace("web-1", pod_name).replace("namespace: default", f"namespace: {namespace}")
    text = dump([pod, SERVICE.replace("name: lb", f"name: {name}"), POD.format(i=2)])
    path = tmp_path / "dump.yaml"
    path.write_text(text)
    monkeypatch.chdir(tmp_path)
    got = _loaded("dump.yaml", True, monkeypatch)
    assert got == _loaded("dump.yaml", False, monkeypatch)
    assert got[1] == errors and len(got[0]) == 3 - len(errors)
    read = fast_read(text)
    assert read is not None  # rapidyaml's path: names within the limits are said so, a longer one is left to named
    assert (read.__class__ is strict.Named) == (not errors)


def test_rapidyamls_own_error_print_is_silenced(capfd: pytest.CaptureFixture[str]) -> None:
    text = dump([POD.format(i=1).replace("      app: web\n", "      app: web\n    - x\n")])
    same(text)
    assert capfd.readouterr().err == ""


RISKY = ["yes", "no", "On", "off", "true", "False", "TRUE", "null", "~", "Null", "", "0", "-0", "7", "-12", "0755",
         "0x1F", "0b11", "1_000", "1:30", "190:20:30", "1.5", "-2.25", "1.50", "1.", ".5", "1e3", "1.0e+3", ".inf",
         "-.inf", ".nan", "+1", "123456789012345678", "1234567890123456789012", "10.0.0.1", "2001-12-14", "v1.2",
         "a b", "<<", "=", "é", "x:y", "-", "--", "0o17", "NaN", "inf", "1e+3", "3.0.1", "-.5", "+.5", "-1.",
         "-0", "00"]  # fmt: skip


@st.composite
def lists(draw: Any) -> str:
    rnd = random.Random(draw(st.integers(0, 2**32)))
    items = []
    for i in range(draw(st.integers(1, 5))):
        body = POD.format(i=i) if rnd.random() < 0.8 else SERVICE
        lines = body.splitlines(keepends=True)
        for _ in range(rnd.randrange(4)):
            v = rnd.choice(RISKY)
            q = rnd.choice(["", "", "'", '"'])
            where = rnd.randrange(1, len(lines))
            indent = len(lines[where]) - len(lines[where].lstrip(" -"))
            key = rnd.choice(["app", "image", "phase", v or "k", "status", "port", "type"])
            kq = rnd.choice(["", "'"]) if key == v else ""
            if rnd.random() < 0.5:  # a value replaced where one sits
                head, sep, _ = lines[where].partition(": ")
                if sep:
                    lines[where] = f"{head}: {q}{v}{q}\n"
            else:  # a key added beside the line's own (maybe a duplicate)
                lines.insert(where + 1, " " * indent + f"{kq}{key}{kq}: {q}{v}{q}\n")
        items.append("".join(lines))
    return dump(items)


@SETTINGS
@given(lists())
def test_generated_lists_read_alike(text: str) -> None:
    same(text)


def test_a_quoted_True_beside_a_plain_true_keeps_the_fast_path() -> None:
    text = dump([POD.format(i=1).replace("      status: 'True'\n", "      status: 'True'\n      ready: true\n")])
    assert fast_read(text) is not None
    assert "'ready': True" in same(text)[0][0][1]


@pytest.mark.parametrize("value", ["-.5", "1.5", "1.", "1e3", "-0.0"])
def test_a_number_with_a_fraction_or_exponent_sends_the_file_to_the_exact_path(value: str) -> None:
    # rapidyaml writes plain -.5 as -0.5 (PyYAML: the string '-.5') and 1. as 1.0: no float is taken from it
    text = dump([POD.format(i=1).replace("  spec:\n", f"  spec:\n    weight: {value}\n"), POD.format(i=2)])
    assert fast_read(text) is None
    objs, errors = same(text)
    assert not errors and len(objs) == 2


def test_plain_minus_dot_five_is_a_string_as_pyyaml_reads_it() -> None:
    text = dump([POD.format(i=1).replace("      app: web\n", "      app: -.5\n"), POD.format(i=2)])
    objs, _ = same(text)
    assert "'app': '-.5'" in objs[0][1]


def test_an_empty_key_is_refused_as_libyaml_refuses_it() -> None:
    # rapidyaml reads '      : v' as the key "" where libyaml stops: the item goes the exact way
    text = dump([POD.format(i=1).replace("  spec:\n", "  spec:\n    x:\n      : v\n"), POD.format(i=2)])
    objs, errors = same(text)
    assert objs == [] and errors == ["dump.yaml:12: not valid YAML: did not find expected key"]


def test_every_item_with_its_own_quoted_resource_version_stays_on_the_fast_path() -> None:
    # kubectl quotes each object's resourceVersion ("1000001"): a string PyYAML would type if it were plain,
    # but rapidyaml writes a plain decimal unquoted, so only keys of that form are looked for in the text
    items = [POD.format(i=i).replace("    name: web-", f'    resourceVersion: "{1000000 + i}"\n    name: web-')
             for i in range(400)]  # fmt: skip
    text = dump(items)
    assert fast_read(text) is not None
    objs, errors = same(text)
    assert not errors and "'resourceVersion': '1000007'" in objs[7][1]


def test_many_distinct_typed_strings_send_the_file_to_the_exact_path() -> None:
    items = [POD.format(i=i).replace("      app: web\n", f"      app: '0{i % 8}{i // 8 % 8}{i // 64 % 8}'\n")
             for i in range(yaml_list.MAX_WORDS + 10)]  # fmt: skip
    text = dump(items)
    assert fast_read(text) is None
    objs, errors = same(text)
    assert not errors and "'app': '0000'" in objs[0][1] and "'app': '0070'" in objs[56][1]


def test_a_plain_decimal_key_is_typed_as_pyyaml_types_it() -> None:
    text = dump([POD.format(i=1).replace("      app: web\n", "      app: web\n      80: x\n"), POD.format(i=2)])
    same(text)


@st.composite
def services(draw: Any) -> str:
    """A Service item (or a Pod, whose only marks are its annotations) in the layouts kubectl and people
    write: ports indented or not, quoted annotation keys, values continued on the next line, extra spaces
    after a dash, keys in any order."""
    rnd = random.Random(draw(st.integers(0, 2**32)))
    ind = rnd.choice([2, 4])
    pad = " " * ind
    ann = []
    for i in range(rnd.randrange(0, 4)):
        key = rnd.choice([f"a{i}.example.com/k", f"'q{i}/k'", f'"d{i}/k"', f"x{i}"])
        val = rnd.choice(["v", "'quoted'", "two\n" + " " * (2 + 2 * ind + 2) + "lines", "nlb"])
        ann.append(f"{pad}{pad}{key}: {val}\n")
    meta = [f"{pad}name: s\n", f"{pad}namespace: default\n"]
    if ann:
        meta.append(f"{pad}annotations:\n" + "".join(ann))
    rnd.shuffle(meta)
    dash = rnd.choice(["- ", "-   "])
    seq_ind = rnd.choice([0, ind])
    ports = "".join(
        " " * (ind + seq_ind) + dash + f"port: {80 + p}\n" + " " * (ind + seq_ind + len(dash)) + f"nodePort: {30080 + p}\n"
        for p in range(rnd.randrange(0, 3))
    )
    spec = [f"{pad}type: LoadBalancer\n", f"{pad}selector:\n{pad}{pad}app: web\n"]
    if ports:
        spec.append(f"{pad}ports:\n" + ports)
    if rnd.random() < 0.3:
        spec.append(f"{pad}loadBalancerClass: service.k8s.aws/nlb\n")
    rnd.shuffle(spec)
    kind = "Service"
    if rnd.random() < 0.4:  # an object whose only marks are its annotations (block_marks reads metadata's lines)
        kind = "Pod"
        spec = [f"{pad}nodeName: n\n", f"{pad}containers:\n" + " " * (ind + seq_ind) + dash + "name: c\n"]
    parts = ["metadata:\n" + "".join(meta), "spec:\n" + "".join(spec)]
    if rnd.random() < 0.3:
        parts.reverse()
    if rnd.random() < 0.3:
        parts.append(rnd.choice(["status:\n" + pad + "phase: Running\n", "status: {}\n", "x:\n- 1\n"]))
    body = "apiVersion: v1\n" + f"kind: {kind}\n" + "".join(parts)
    lines = body.splitlines(keepends=True)
    return "- " + lines[0] + "".join("  " + ln for ln in lines[1:])


@SETTINGS
@given(st.lists(services(), min_size=1, max_size=4))
def test_marks_read_from_the_lines_are_libyamls(items: list[str]) -> None:
    text = dump([*items, POD.format(i=1)])
    objs, errors = same(text)  # kind, data, line and marks of every object equal the exact path's
    assert not errors and len(objs) == len(items) + 1
    exact = m.parse_yaml(text, "dump.yaml", lists=False)
    for item, obj in zip(items, exact, strict=False):  # each item's marks, read from its lines alone
        assert block_marks.item_marks(item, obj.line or 0, obj.data) == obj.marks


def test_a_pods_marks_are_read_from_its_lines_up_to_the_end_of_metadata() -> None:
    data = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {"a": "b", "c": "d"}},
            "spec": {"x": 1}}  # fmt: skip
    item = "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p\n    annotations:\n      a: b\n      c: d\n  spec:\n    x: 1\n"
    want = {"metadata.annotations[a]": (15, 7), "metadata.annotations[c]": (16, 7)}
    assert block_marks.item_marks(item, 10, data) == want
    assert block_marks.item_marks(item.replace("  metadata:", "  z: 2\n  metadata:"), 10, data) is None  # not data's keys
    assert block_marks.item_marks(item.replace("  spec:\n    x: 1\n", "  spec:\n    x: 1\n y: 2\n"), 10, data) is None
    assert block_marks.item_marks(item.replace("  kind: Pod\n", ""), 10, data) is None  # kind missing before metadata
    first = "- metadata:\n    name: p\n    annotations:\n      a: b\n      c: d\n  apiVersion: v1\n  kind: Pod\n  spec:\n    x: 1\n"
    assert block_marks.item_marks(first, 10, {"metadata": data["metadata"], "apiVersion": "v1", "kind": "Pod",
                                               "spec": {"x": 1}}) == {"metadata.annotations[a]": (13, 7),
                                                                      "metadata.annotations[c]": (14, 7)}  # fmt: skip


@pytest.mark.parametrize("length", [509, 510, 1024, 1025, 1100])
def test_a_key_too_long_for_libyaml_is_refused_as_libyaml_refuses_it(length: int) -> None:
    # libyaml refuses a simple key of more than 1,024 characters; rapidyaml reads longer keys
    text = dump([POD.format(i=1).replace("  spec:\n", "  spec:\n    " + "k" * length + ": v\n"), POD.format(i=2)])
    objs, errors = same(text)
    if length > 1024:
        assert objs == [] and len(errors) == 1 and errors[0].startswith("dump.yaml:1")  # same() held the line
    else:
        assert not errors and len(objs) == 2


_MUTANTS = list(" \n:-\"'#{}[],&*!|>?%@`0123456789abyntfoYNT.~+_=\\")
_BASE = dump([POD.format(i=1), SERVICE, POD.format(i=2), SERVICE.replace("name: lb", "name: lb2")])


def _damaged(edits: list[tuple[int, str, str]]) -> str:
    """``_BASE`` with each (place, insert/delete/replace, character) applied in turn."""
    text = _BASE
    for at, op, ch in edits:
        at = min(at, len(text) - 1)
        text = text[:at] + ch + text[at:] if op == "insert" else text[:at] + ("" if op == "delete" else ch) + text[at + 1 :]
    return text


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(_BASE)), st.sampled_from(["insert", "delete", "replace"]),
                          st.sampled_from(_MUTANTS)), min_size=1, max_size=3))  # fmt: skip
def test_a_list_damaged_anywhere_reads_as_the_exact_path_reads_it(edits: list[tuple[int, str, str]]) -> None:
    # one to three characters inserted, deleted or replaced anywhere: what rapidyaml accepts and libyaml
    # refuses (or reads otherwise) must never come back from the fast path
    text = _damaged(edits)
    same(text)


def _rapidyaml_json(text: str) -> bytes | None:
    """rapidyaml's JSON of the items of ``text`` (None when rapidyaml refuses them)."""
    import ryml

    body = text[text.index("items:\n") + len("items:\n") : text.rindex("kind: List")]
    tree = ryml.Tree()
    try:
        with yaml_list._quiet_stderr():
            ryml.parse_in_arena(body.encode("utf-8"), tree)
        return bytes(ryml.emit_json_in_place(tree, bytearray(16 * len(body) + 4096)))
    except (ryml.ExceptionBasic, IndexError):
        return None


@SETTINGS
@given(lists())
def test_typed_strings_found_by_numpy_are_the_regular_expressions(text: str) -> None:
    # json_typed.scan (quotes paired, alphabets, candidates) against the expression tried at every quote
    js = _rapidyaml_json(text)
    if js is None:
        return
    yaml_list._typed_in(js)  # builds the expression and the table
    assert yaml_list._bad
    assert json_typed.scan(js, yaml_list._bad, yaml_list._typed) is not None or b"\\" in js
    assert yaml_list._typed_in(js) == yaml_list._typed_in_re(js)
    try:
        compact = msgspec.json.format(js, indent=-1)
    except msgspec.DecodeError:  # rapidyaml wrote what is not JSON (a plain +1): msgspec refuses the run
        return
    if b"\\" not in js:  # the run's compact encoding (what _fast_runs scans) finds the same strings
        assert yaml_list._typed_in(js, compact) == yaml_list._typed_in_re(js)


@pytest.mark.parametrize(
    ("item", "read"),
    [
        ("- a: x\n  b: 1\n", True),
        ("- a: x\n  a: 1\n", False),  # a duplicate key, its value a number: two quotes fewer in msgspec's encoding
        ("- a: x\n  b: 1\n  a: 'y'\n", False),
        ("- a: {}\n  a: []\n", False),
        ('- a: "x\\\\y"\n  b: 1\n', True),  # an escape: the encoding compared byte for byte instead
        ('- a: "x\\\\y"\n  a: 1\n', False),
        ("- a: 'say \"x\"'\n  b: '\":'\n", True),
        ("- a: 'say \"x\"'\n  b: 1\n  b: '\":'\n", False),
    ],
)
def test_a_key_msgspec_drops_sends_the_run_to_the_exact_path(item: str, read: bool) -> None:
    out: list[Any] = [None]
    assert yaml_list._fast_runs(item, [0, len(item)], [1], set(), out) is read
    if read:
        assert out[0] == yaml.safe_load(item)[0]


@pytest.mark.parametrize("value", [*RISKY, "1.2.3", "0x1g", "yes1", "nul", "TRUE ", " 1", "1_0.5", "<<<", "10.0.0.1.",
                                   "190:20:30.15", "-.INF", "+0b1", "0o7", "~~", "=="])  # fmt: skip
def test_each_risky_string_is_found_alike_as_key_value_and_list_entry(value: str) -> None:
    for v in (value, value * 3, f"{value}x", f"x{value}"):
        esc = json.dumps(v)
        js = f'[\n  {{\n    {esc}: {esc},\n    "a": [\n      {esc}\n    ],\n    "b": {esc}\n  }}\n]'.encode()
        yaml_list._typed_in(js)
        assert yaml_list._typed_in(js) == yaml_list._typed_in_re(js), v


@SETTINGS
@given(
    st.lists(st.tuples(st.binary(min_size=0, max_size=20).filter(lambda b: b'"' not in b), st.booleans()), max_size=60)
)
def test_candidates_are_made_once_each_as_one_by_one(strings: list[tuple[bytes, bool]]) -> None:
    # json_typed._distinct groups alike strings in NumPy: the same sets as slicing every string
    import numpy as np

    js = b"[" + b",".join(b'"' + w + b'"' + (b":" if key else b" ") for w, key in strings) + b"]"
    a = np.frombuffer(js, np.uint8)
    q = np.flatnonzero(a == 0x22)
    o, c = q[0::2], q[1::2]
    is_key = a[np.minimum(c + 1, len(a) - 1)] == 0x3A
    want = {w for w, _ in strings}, {w for w, key in strings if key}
    assert json_typed._distinct(js, a, o, c, is_key) == want


def test_candidates_alike_in_their_hash_only_are_each_made(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    js = b'["True": "5d9c7b8f4", "True", "x", "5d9c7b8f4": "a"]'
    a = np.frombuffer(js, np.uint8)
    q = np.flatnonzero(a == 0x22)
    o, c = q[0::2], q[1::2]
    is_key = a[np.minimum(c + 1, len(a) - 1)] == 0x3A
    want = ({b"True", b"5d9c7b8f4", b"x", b"a"}, {b"True", b"5d9c7b8f4"})
    assert json_typed._distinct(js, a, o, c, is_key) == want
    # every string in one group (as if all hashed alike): the group is seen to hold several, each is made
    one = lambda h, return_index, return_inverse: (h[:1], np.zeros(1, np.intp), np.zeros(len(h), np.intp))  # noqa: E731
    monkeypatch.setattr(np, "unique", one)
    assert json_typed._distinct(js, a, o, c, is_key) == want


def test_the_scan_declines_what_it_cannot_pair() -> None:
    yaml_list._typed_in(b"[]")
    assert yaml_list._bad and yaml_list._typed is not None
    assert json_typed.scan(b'["a\\"b", "yes"]', yaml_list._bad, yaml_list._typed) is None  # an escaped quote
    assert json_typed.scan(b'["a", "yes]', yaml_list._bad, yaml_list._typed) is None  # an odd number of quotes
    assert json_typed.scan(b'["a", "yes", "1.5", "10.0.0.1"]', yaml_list._bad, yaml_list._typed) == (
        {b"yes", b"1.5"}, set(), 8)  # fmt: skip
    assert json_typed.scan(b'{"80": "x", "x": "80"}', yaml_list._bad, yaml_list._typed) == ({b"80"}, {b"80"}, 2)


def test_alphabets_are_read_from_the_resolvers_or_not_at_all() -> None:
    got = json_typed.alphabets([re.compile(r"^(?:yes|No|0x[0-9a-f_]+)$", re.X)])
    assert got == [frozenset(b"yesNo0x0123456789abcdef_")]
    assert json_typed.alphabets([re.compile(r"^(?:[^a]+)$")]) is None  # a negated set
    assert json_typed.alphabets([re.compile(r"^\d+$")]) is None  # a category: other scripts' digits too
    assert json_typed.alphabets([re.compile(r"^.x$")]) is None  # any character
    assert json_typed.alphabets([re.compile(r"^(?i:yes)$")]) is None  # a flag changed in a group
    assert json_typed.alphabets([re.compile(r"^yes$", re.I)]) is None
    assert json_typed.alphabets([re.compile('^a"b$')]) is None  # a quote would break the joined candidates
    assert json_typed.alphabets(yaml_list._resolvers()) is not None


def test_the_most_dots_a_match_holds_is_read_from_the_expression() -> None:
    assert json_typed.most_dots(yaml_list._resolvers()) == 1  # YAML 1.1's floats: one dot; so 10.0.0.1 is no candidate
    assert json_typed.most_dots([re.compile(r"^a\.b(?:\.c)?$")]) == 2
    assert json_typed.most_dots([re.compile(r"^[.-9]{2,3}$")]) == 3
    assert json_typed.most_dots([re.compile(r"^(?:x|\.)+$")]) == float("inf")
    assert json_typed.most_dots([re.compile(r"^[^x]$")]) == float("inf")  # unsure
    two = b'["1.2.3", "1.5"]'
    assert yaml_list._typed is not None
    loose = re.compile(rb'"((?:[0-9]+\.)+[0-9]+)"')
    assert json_typed.scan(two, json_typed.bad_table([frozenset(b"0123456789.")]), loose) == ({b"1.2.3", b"1.5"}, set(), 5)
    assert json_typed.scan(two, json_typed.bad_table([frozenset(b"0123456789.")]), loose, one_dot=True) == ({b"1.5"}, set(), 5)


def test_runs_cut_by_lines_read_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    text = dump([POD.format(i=i) if i % 3 else SERVICE for i in range(12)])
    want = outcome(text, True)
    seen: list[int] = []
    parse = yaml_list.ryml.parse_in_arena
    monkeypatch.setattr(yaml_list.ryml, "parse_in_arena", lambda raw, tree: (seen.append(raw.count(b"\n")), parse(raw, tree))[1])
    monkeypatch.setattr(yaml_list, "RUN_LINES", 45)  # two Pods (21 lines) or a Pod and a Service (12) a run
    assert outcome(text, True) == want == outcome(text, False)
    assert seen and max(seen) <= 45 and len(seen) >= 5


def _runs_item_by_item(bounds: list[int], lines: list[int], exact: set[int], chunk: int, most: int) -> list[list[int]]:
    """The runs as the reader used to cut them, adding up each item's size and lines in turn (the reference)."""
    n, i, runs = len(bounds) - 1, 0, []
    while i < n:
        group: list[int] = []
        size = rows = 0
        j = i
        while j < n:
            if j in exact:
                j += 1
                continue
            size += bounds[j + 1] - bounds[j]
            rows += lines[j + 1] - lines[j] if j + 1 < n else 0
            if group and (size > chunk or rows > most):
                break
            group.append(j)
            j += 1
        if not group:
            break
        runs.append(group)
        i = j
    return runs


@pytest.mark.parametrize("seed", range(40))
def test_runs_are_cut_where_adding_up_item_by_item_cuts_them(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rnd = random.Random(seed)
    items = [POD.format(i=i) if rnd.random() < 0.7 else SERVICE for i in range(rnd.randrange(1, 25))]
    bounds = [0, *itertools.accumulate(len(x) for x in items)]
    lines = [1, *itertools.accumulate(x.count("\n") for x in items)][:-1]
    lines = [ln + 1 if k else ln for k, ln in enumerate(lines)]  # (any increasing numbers: only differences count)
    exact = {k for k in range(len(items)) if rnd.random() < rnd.choice([0, 0.2, 0.6])}
    chunk, most = rnd.choice([1, 300, 700, 2000, 1 << 20]), rnd.choice([1, 12, 30, 60, 12_000])
    monkeypatch.setattr(yaml_list, "CHUNK", chunk)
    monkeypatch.setattr(yaml_list, "RUN_LINES", most)
    seen: list[str] = []
    parse = yaml_list.ryml.parse_in_arena
    monkeypatch.setattr(
        yaml_list.ryml, "parse_in_arena", lambda raw, tree: (seen.append(raw.decode()), parse(raw, tree))[1]
    )
    out: list[Any] = [None] * len(items)
    assert yaml_list._fast_runs("".join(items), bounds, lines, exact, out)
    want = _runs_item_by_item(bounds, lines, exact, chunk, most)
    assert seen == ["".join(items[k] for k in run) for run in want]
    assert [k for k, d in enumerate(out) if d is not None] == [k for k in range(len(items)) if k not in exact]


def _risk_sets(text: str) -> tuple[set[int], set[int]] | None:
    """_risky_items tried occurrence by occurrence (every risk character sparse) and by whole passes."""
    gated = yaml_list._gates(text)
    head = yaml_list._ITEMS.search(text)
    if gated is None or head is None or not text.startswith("- ", head.end()):
        return None
    present = gated[0]
    begin = head.end()
    end_m = yaml_list._REGION_END.search(text, begin - 1)
    end = end_m.start() + 1 if end_m is not None else len(text)
    starts = [begin, *(m.start() + 1 for m in yaml_list._ITEM.finditer(text, begin, end))]
    old = yaml_list.SPARSE
    try:
        yaml_list.SPARSE = 10**9
        each = yaml_list._risky_items(text, starts, end, present)
        yaml_list.SPARSE = -1
        passes = yaml_list._risky_items(text, starts, end, present)
    finally:
        yaml_list.SPARSE = old
    return each, passes


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(_BASE)), st.sampled_from(["insert", "delete", "replace"]),
                          st.sampled_from(_MUTANTS)), min_size=1, max_size=6))  # fmt: skip
def test_risky_items_found_at_each_occurrence_are_those_of_whole_passes(edits: list[tuple[int, str, str]]) -> None:
    text = _damaged(edits)
    got = _risk_sets(text)
    if got is not None:
        assert got[0] == got[1]


def test_risky_characters_are_counted_and_found_where_they_start_a_token() -> None:
    text = dump([POD.format(i=1).replace("      app: web\n", "      app: 'a=b' # c\n      x: a#b\n"), POD.format(i=2),
                 SERVICE.replace("nlb\n", "nlb\n      y: {}\n      z: {a: b}\n")])  # fmt: skip
    gated = yaml_list._gates(text)
    assert gated is not None
    present = gated[0]
    assert present[ord("#")] == 2 and present[ord("{")] == 2 and present[ord("=")] == 1
    assert _risk_sets(text) == ({0, 2}, {0, 2})  # the comment; the flow mapping (not {}); a#b and 'a=b' are no token


@pytest.mark.parametrize("where", ["region", "head", "tail"])
def test_a_line_indented_near_the_nesting_limit_sends_the_file_to_the_exact_path(where: str) -> None:
    from hairpin.reading import max_depth

    deep = " " * (max_depth() - 12)
    pod = POD.format(i=1)
    if where == "region":
        text = dump([pod.replace("      app: web\n", "      app: web\n" + deep + "# deep\n"), POD.format(i=2)])
    elif where == "head":
        text = dump([pod], head="apiVersion: v1\nmetadata:\n" + deep + "# deep\n")
    else:
        text = dump([pod], tail="kind: List\nmetadata:\n" + deep + "# deep\n")
    assert fast_read(text) is None
    same(text)
    # a space less: no longer the limit's concern (the comment sends its item alone to the exact path)
    assert fast_read(text.replace(deep, deep[:-1])) is not None or where != "region"
    assert yaml_list._markers(text.replace(deep, deep[:-1]), text.index("items:\n") + 7, len(text)) is False


@pytest.mark.parametrize("marker", ["---\n", "...\n", "%YAML 1.1\n"])
def test_document_markers_around_the_items_send_the_file_to_the_exact_path(marker: str) -> None:
    pod = POD.format(i=1)
    for text in (dump([pod], tail="kind: List\n" + marker + "metadata: {}\n"), dump([pod], head="apiVersion: v1\n" + marker),
                 dump([pod, marker.replace("\n", ": x\n") if marker[0] == "%" else marker, POD.format(i=2)])):  # fmt: skip
        assert fast_read(text) is None
        same(text)


def _layout_by_expressions(text: str, begin: int) -> list_layout.Layout:
    """What the regular expressions say list_layout.layout should answer."""
    end_m = yaml_list._REGION_END.search(text, begin - 1)
    end = end_m.start() + 1 if end_m is not None else len(text)
    starts = [begin, *(m.start() + 1 for m in yaml_list._ITEM.finditer(text, begin, end))]
    lines = [text.count("\n", 0, begin) + 1]
    for a, b in itertools.pairwise(starts):
        lines.append(lines[-1] + text.count("\n", a, b))
    spaced = sorted(m.start() for rx in yaml_list._LINE_RISKS for m in rx.finditer(text, begin, end))
    return list_layout.Layout(end, starts, lines, spaced)


def _layouts(text: str) -> tuple[Any, Any] | None:
    head = yaml_list._ITEMS.search(text)
    if head is None or not text.isascii():
        return None
    got = list_layout.layout(text.encode("ascii"), head.end())
    for block in (1, 2, 5, 64):  # the text read a few bytes at a time answers alike
        saved, list_layout.BLOCK = list_layout.BLOCK, block
        try:
            assert list_layout.layout(text.encode("ascii"), head.end()) == got, block
        finally:
            list_layout.BLOCK = saved
    # items opening as _ITEM_OK has them: NumPy at the layout's starts, as the expression at each
    plain = all(yaml_list._ITEM_OK.match(text, s) is not None for s in got.starts)
    assert yaml_list._open_plainly(text.encode("ascii"), got.starts) is plain
    return got, _layout_by_expressions(text, head.end())


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(_BASE)), st.sampled_from(["insert", "delete", "replace"]),
                          st.sampled_from(list(" \n-:ak'"))), min_size=1, max_size=8))  # fmt: skip
def test_the_layout_from_line_breaks_is_the_regular_expressions(edits: list[tuple[int, str, str]]) -> None:
    text = _damaged(edits)
    got = _layouts(text)
    if got is not None:
        assert got[0][:3] == got[1][:3]
        # spaced also holds a match inside another one (\n\n\n): the same items either way
        assert set(got[0].spaced) >= set(got[1].spaced)
        assert {bisect.bisect_right(got[0].starts, h) for h in got[0].spaced} == {
            bisect.bisect_right(got[0].starts, h) for h in got[1].spaced
        }


@pytest.mark.parametrize("text", [
    "items:\n- a: 1\n", "items:\n- a: 1", "items:\n- a: 1 \n", "items:\n- a: 1 ", "items:\n- a: 1\n\n\n- b: 2\nkind: List\n",
    "items:\n- a: 1\n \n  \nkind: List\n", "kind: List\nitems:\n- a\n-\n- - b\n\nx: 1\n", "items:\n- a: 1\n-", "items:\n- a\nk",
    "items:\n- a: 1\n- ", "items:\n- a: 1\n- b", "items:\n- a\n- #\n", "items:\n-  a\n", "items:\n-\ta\n",
])  # fmt: skip
def test_the_layout_at_the_edges(text: str) -> None:
    got = _layouts(text)
    assert got is not None and got[0][:3] == got[1][:3] and set(got[0].spaced) >= set(got[1].spaced)
