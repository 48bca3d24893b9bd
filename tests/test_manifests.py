"""Kubernetes objects from manifests and dumps, with file and line (hairpin.parsers.manifests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.errors import ParseError
from hairpin.parsers import json_mapped, list_nested
from hairpin.parsers import manifests as m

MULTI = """\
# rendered by helm
apiVersion: v1
kind: Service
metadata:
  name: a
---
---
apiVersion: v1
kind: List
items:
- kind: Pod
  metadata: {name: p1}
-   kind: Pod
    metadata: {name: p2}
"""


def test_multi_document_yaml_lines() -> None:
    objs = m.parse_yaml(MULTI, "f.yaml")
    assert [(o.kind, o.name, o.line) for o in objs] == [("Service", "a", 2), ("Pod", "p1", 11), ("Pod", "p2", 13)]
    assert all(o.file == "f.yaml" for o in objs)
    assert objs[0].namespace == "default"


def test_typed_list_items_take_the_list_kind() -> None:
    text = json.dumps({"apiVersion": "v1", "kind": "ServiceList", "items": [{"metadata": {"name": "x"}}]}, indent=2)
    (o,) = m.parse_json(text, "d.json")
    assert (o.kind, o.name, o.line) == ("Service", "x", 5)


def test_json_item_lines_kubectl_layout() -> None:
    text = json.dumps(
        {"apiVersion": "v1", "items": [{"kind": "Pod", "metadata": {"name": f"p{i}"}} for i in range(3)],
         "kind": "List", "metadata": {"resourceVersion": ""}},
        indent=4,
    )  # fmt: skip
    objs = m.parse_json(text)
    lines = text.splitlines()
    for o in objs:
        assert lines[o.line - 1].strip() == "{"
        assert f'"name": "{o.name}"' in "\n".join(lines[o.line - 1 : o.line + 5])


def test_single_json_object_and_compact_json() -> None:
    assert [(o.kind, o.line) for o in m.parse_json('\n\n{"kind":"Node","metadata":{"name":"n"}}')] == [("Node", 3)]
    objs = m.parse_json('{"kind":"List","items":[{"kind":"Pod"},{"kind":"Node"}]}')
    assert [o.kind for o in objs] == ["Pod", "Node"]


@pytest.mark.parametrize(
    ("text", "line", "msg"),
    [
        ("kind: Service\nmetadata:\n  name: [x\n", 4, "not valid YAML"),
        ("- a\n- b\n", 1, "expected a Kubernetes object"),
        ("metadata: {name: x}\n", 1, "no kind"),
        ('{\n "kind": "List",\n "items": [\n  {"kind": "Pod"},\n  {"kind": }\n ]\n}', 5, "not valid JSON"),
        ('{"kind": "Pod"} {"kind": "Pod"}', 1, "extra data"),
        ("kind: List\nitems:\n- metadata: {}\n", 3, "items[0]: not a Kubernetes object"),
    ],
)
def test_errors_name_the_line(text: str, line: int, msg: str) -> None:
    with pytest.raises(ParseError) as exc:
        m.parse_text(text, "bad.yaml")
    assert exc.value.file == "bad.yaml"
    assert exc.value.line == line
    assert msg in exc.value.message


CUT = ("a List with items but no 'kind: List' after them (kubectl writes kind and metadata after the items): the "
       "file looks cut short; write the dump again")


def test_a_kubectl_list_cut_short_is_said_to_be_cut() -> None:
    """kubectl get -o yaml writes apiVersion, items, kind: List, metadata: a dump cut at a line boundary inside
    its items is valid YAML without kind; it was 'not a Kubernetes object: no kind'."""
    dump = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\nkind: List\nmetadata:\n"
    assert [o.kind for o in m.parse_text(dump + "  resourceVersion: ''\n", "d.yaml")] == ["Service"]
    cut = "".join(dump.splitlines(keepends=True)[:5])
    with pytest.raises(ParseError) as exc:
        m.parse_text(cut, "d.yaml")
    assert (exc.value.file, exc.value.line, exc.value.message) == ("d.yaml", 1, CUT)
    with pytest.raises(ParseError) as exc:  # a mapping with metadata and no kind is not a cut List
        m.parse_text("items: []\nmetadata: {}\n", "d.yaml")
    assert exc.value.message == "not a Kubernetes object: no kind"


def test_a_hairpin_scenario_given_as_manifests_is_named(tmp_path: Path) -> None:
    """A scenario (nodes, pods, services at the top) handed to check by mistake: said, with the command that runs
    it; a file name with a space is quoted for the shell, standard input is FILE."""
    text = (Path(__file__).resolve().parents[1] / "examples" / "clb.yaml").read_text()
    with pytest.raises(ParseError) as exc:
        m.parse_text(text, "my cluster.yaml")
    assert (exc.value.line, exc.value.message) == (9, "not a Kubernetes object: no kind; this is a hairpin scenario "
                                                      "(hairpin reproduce --scenario 'my cluster.yaml' runs it)")  # fmt: skip
    with pytest.raises(ParseError) as exc:
        m.parse_text(text, "<stdin>")
    assert exc.value.message.endswith("(hairpin reproduce --scenario FILE runs it)")
    with pytest.raises(ParseError) as exc:  # two of the three keys: not said to be a scenario
        m.parse_text("nodes: []\npods: []\n", "x.yaml")
    assert exc.value.message == "not a Kubernetes object: no kind"


def test_load_paths_keeps_going_after_a_bad_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text("kind: Service\nmetadata: {name: a}\n")
    (tmp_path / "sub" / "b.json").write_text('{"kind": "Service", "metadata": {"name": "b"}}')
    (tmp_path / "sub" / "bad.yml").write_text("kind: Service\n  x: [\n")
    (tmp_path / "notes.txt").write_text("ignored")
    errors: list[ParseError] = []
    objs = m.load_paths([tmp_path, tmp_path / "missing.yaml"], errors)
    assert sorted(o.name for o in objs) == ["a", "b"]
    assert [(Path(e.file or "").name, e.line) for e in errors] == [("bad.yml", 2), ("missing.yaml", None)]
    assert errors[1].message == "no such file or directory"
    with pytest.raises(ParseError):
        m.load_paths([tmp_path / "sub" / "bad.yml"])


def test_objects_before_a_yaml_error_are_kept() -> None:
    errors: list[ParseError] = []
    objs = m.parse_yaml("kind: Pod\nmetadata: {name: ok}\n---\nkind: [\n", "x.yaml", errors)
    assert [o.name for o in objs] == ["ok"]
    assert (errors[0].line, errors[0].message) == (5, "not valid YAML: did not find expected node content")


names = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), min_size=0, max_size=12)


@settings(max_examples=60, deadline=None)
@given(names, st.integers(0, 4), st.booleans())
def test_roundtrip_any_list_json_and_yaml(pod_names: list[str], indent: int, as_yaml: bool) -> None:
    doc = {"apiVersion": "v1", "items": [{"kind": "Pod", "metadata": {"name": n, "namespace": "ns"}} for n in pod_names],
           "kind": "List"}  # fmt: skip
    text = yaml.safe_dump(doc) if as_yaml else json.dumps(doc, indent=indent or None)
    objs = m.parse_text(text, "h")
    assert [o.name for o in objs] == pod_names
    assert all(o.kind == "Pod" and o.namespace == "ns" for o in objs)
    lines = text.splitlines()
    for o in objs:
        assert o.line is not None and 1 <= o.line <= len(lines)
        # the item starts on its line: YAML '- ' entry, JSON '{'
        if as_yaml:
            assert lines[o.line - 1].startswith("- ")
        elif indent:
            assert lines[o.line - 1].strip() == "{"


def test_metadata_spec_status_must_be_mappings() -> None:
    with pytest.raises(ParseError) as e:
        m.parse_yaml("kind: Service\nmetadata: {name: a}\nspec: x\n", "s.yaml")
    assert str(e.value) == "s.yaml:1: spec is a string, not an object: kubectl refuses the file"
    with pytest.raises(ParseError) as e:
        m.parse_json('{"kind": "PodList", "items": [\n{"metadata": ["x"]}]}', "p.json")
    assert str(e.value) == "p.json:2: items[0].metadata is an array, not an object: kubectl refuses the file"


_INNER = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "inner", "namespace": "x"},
          "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}  # fmt: skip


@pytest.mark.parametrize("as_yaml", [True, False])
def test_a_list_inside_a_list_is_read_as_kubectl_flattens_it(tmp_path: Path, as_yaml: bool) -> None:
    # k8s.io/cli-runtime pkg/resource/visitor.go FlattenListVisitor: items of a List inside a List, to any depth
    doc = {"apiVersion": "v1", "kind": "List", "items": [
        {"kind": "Pod", "metadata": {"name": "p"}},
        {"apiVersion": "v1", "kind": "List", "items": [
            _INNER, {"kind": "ServiceList", "items": [{"metadata": {"name": "typed"}}, None]}]}]}  # fmt: skip
    f = tmp_path / ("d.yaml" if as_yaml else "d.json")
    f.write_text(yaml.safe_dump(doc, sort_keys=False) if as_yaml else json.dumps(doc, indent=1))
    errors: list[ParseError] = []
    objs = m.load_paths([f], errors)
    assert errors == []
    # each inner object at the line of the outer List's item that holds it (YAML "- " entry, JSON "{")
    assert [(o.kind, o.name, o.line) for o in objs] == [
        ("Pod", "p", 4 if as_yaml else 5), ("Service", "inner", 7 if as_yaml else 11),
        ("Service", "typed", 7 if as_yaml else 11)]  # fmt: skip


def test_bad_items_of_an_inner_list_are_errors_the_others_are_read(tmp_path: Path) -> None:
    f = tmp_path / "n.yaml"
    f.write_text(
        "kind: List\nitems:\n- kind: ServiceList\n  items:\n"
        "  - metadata: {name: a, annotations: {k: true}}\n  - 5\n  - metadata: {name: b}\n    spec: {ports: 7}\n"
        "  - metadata: {name: c}\n"
    )
    errors: list[ParseError] = []
    objs = m.load_paths([f], errors)
    assert [(o.kind, o.name) for o in objs] == [("Service", "c")]
    assert [e.one_line() for e in errors] == [
        f"{f}:3: items[0].metadata.annotations[k]: true is a bool, not a string: kubectl refuses the file (cannot "
        "unmarshal bool into Go struct field ObjectMeta.metadata.annotations of type string); quote the value",
        f"{f}:3: items[1]: expected a Kubernetes object (a mapping)",
        f"{f}:3: items[2].spec.ports is an integer, not an array: kubectl refuses the file",
    ]


def test_flatten_lists_leaves_other_objects_alone() -> None:
    objs = m.parse_yaml("kind: Service\nmetadata: {name: a}\n---\nkind: List\nitems: []\n", "s.yaml")
    errors: list[ParseError] = []
    assert list_nested.flatten_lists(objs, errors) == [objs[0]] and errors == []
    plain = objs[:1]
    assert list_nested.flatten_lists(plain, errors) is plain


def test_a_list_inside_a_large_list_from_the_mapped_reader(tmp_path: Path) -> None:
    pods = [{"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "ns"}} for i in range(16_000)]
    doc = {"apiVersion": "v1", "items": [*pods, {"kind": "List", "items": [_INNER]}], "kind": "List"}
    f = tmp_path / "big.json"
    f.write_text(json.dumps(doc, indent=1))
    assert f.stat().st_size >= json_mapped.MIN_SIZE
    errors: list[ParseError] = []
    objs = m.load_paths([f], errors)
    assert errors == [] and len(objs) == 16_001
    assert (objs[-1].kind, objs[-1].name, objs[-1].line) == ("Service", "inner", 4 + 16_000 * 7)
