"""hairpin.parsers.construct against PyYAML's own constructor (``parse_yaml(fast=False)``).

The one-walk constructor must give ``hairpin check`` the very objects PyYAML's safe constructor gives (same
keys in the same order, same types: ``yes`` is True and ``0755`` is 493 in YAML 1.1), with the same lines and
marks, or leave the document to PyYAML, which then gives its own objects or errors: generated documents
spelled with every YAML 1.1 scalar form, anchors and aliases, merge keys, explicit tags, complex and
duplicate keys.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin.errors import ParseError
from hairpin.parsers import construct as c
from hairpin.parsers import manifests as m

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip

#: plain and quoted spellings, many of which YAML 1.1 resolves to something other than a string
SCALARS = [
    "yes", "No", "ON", "off", "y", "n", "true", "False", "TRUE", "~", "null", "Null", "''", '""', "0755", "0o17",
    "0x1F", "0b101", "1_000", "1:30", "-1:30:00", "190:20:30.15", ".inf", "-.Inf", ".NaN", "1e3", "1.5e3",
    "6.8523015e+5", "685.230_15e+03", "2001-12-14", "2001-12-14t21:59:43.10-05:00", '"quoted"', "'single'",
    "plain text", "12", "-0", "+12", "0.", "3.14", "!!str 12", "!!binary aGVsbG8=", '!!int "3"', "!!float 1",
    "!!null ''", "!!bool yes", "web-1", "10.0.0.1", "eu-west-1a", "8080", "'8080'", "=", "<<x", "*.example",
]  # fmt: skip
#: without explicit tags, the value key ``=`` (PyYAML has no constructor for it) or an alias-looking ``*.``
PLAIN = [x for x in SCALARS if not x.startswith(("!!", "=", "*"))]
KEYS = ["a", "name", "kind", "yes", "1", "0x10", "~", "'b'", "port", "null", "on", "1.5", "true"]


@st.composite
def value(draw: Any, depth: int = 0, plain: bool = False) -> str:
    """A YAML value in flow style; ``plain``: no explicit tag."""
    what = draw(st.integers(0, 9 if depth < 3 else 0))
    if what <= 5:
        return draw(st.sampled_from(PLAIN if plain else SCALARS))
    if what <= 7:
        keys = draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=plain))
        return "{" + ", ".join(f"{k}: {draw(value(depth + 1, plain))}" for k in keys) + "}"
    return "[" + ", ".join(draw(st.lists(value(depth + 1, plain), max_size=3))) + "]"


@st.composite
def document(draw: Any) -> str:
    """A kubectl-like List: block mappings holding flow values, with anchors, aliases, merge keys, explicit
    tags, complex and duplicate keys sprinkled in."""
    lines = ["apiVersion: v1", f"kind: {draw(st.sampled_from(['List', 'PodList', 'ServiceList']))}", "items:"]
    anchors: list[str] = []
    plain = draw(st.booleans())  # nothing the walk leaves to PyYAML (unless keys collide: 1 and true, ~ and null)
    for i in range(draw(st.integers(1 if plain else 0, 4))):
        # a kind or namespace that is no string refuses the document before it is built: rare in plain ones
        kinds = ["Pod", "Service", "Node", "EndpointSlice", "Widget"] + ([] if plain else ["yes", "~", "12"])
        kind = draw(st.sampled_from(kinds))
        lines.append(f"- kind: {kind}")
        ns = draw(st.sampled_from(["default", "null"] + ([] if plain else ["1"])))
        lines.append(f"  metadata: {{name: n{i}, namespace: {ns}}}")
        if plain:  # most of the scalar spellings, in some order
            spellings = draw(st.permutations(PLAIN))[: draw(st.integers(len(PLAIN) // 2, len(PLAIN)))]
            lines.append(f"  s: [{', '.join(spellings)}]")
        for k in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=plain)):
            extra = draw(st.integers(0, 14)) if not plain else -1
            v = draw(value(plain=plain))
            if extra == 0:
                name = f"x{len(anchors)}"
                anchors.append(name)
                v = f"&{name} {v}"
            elif extra == 1 and anchors:
                v = f"*{draw(st.sampled_from(anchors))}"
            elif extra == 2:
                k = "<<"
                v = f"*{draw(st.sampled_from(anchors))}" if anchors else "{merged: 1}"
            elif extra == 3:
                k = "? [a, b]"
            elif extra == 4:
                v = "!!set {a, b}"
            elif extra == 5:
                v = "!!omap [{a: 1}, {b: 2}]"
            lines.append(f"  {k}: {v}")
    text = "\n".join(lines) + "\n"
    if draw(st.booleans()):
        text += "---\n" + text
    return text


def outcome(text: str, fast: bool) -> tuple[list[Any], list[str]]:
    errors: list[ParseError] = []
    objs = m.parse_yaml(text, "dump.yaml", errors, fast=fast)
    return [(o.kind, repr(o.data), o.line, o.marks) for o in objs], [e.one_line() for e in errors]


def same(text: str) -> tuple[list[Any], list[str]]:
    got, want = outcome(text, True), outcome(text, False)
    assert got == want
    return got


@SETTINGS
@given(document())
def test_generated_documents_read_the_same(text: str) -> None:
    same(text)


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("kind: Pod\na: [yes, No, ~, 0755, 0x1F, 1_000, 1:30, .inf, 2001-12-14, '8080', 3.5]\n",
         {"kind": "Pod", "a": [True, False, None, 493, 31, 1000, 90, float("inf"), "2001-12-14", "8080", 3.5]}),
        ("kind: Widget\nx: {on: x, 2: y, ~: z}\n", {"kind": "Widget", "x": {True: "x", 2: "y", None: "z"}}),
    ],
)  # fmt: skip
def test_yaml_1_1_scalars_are_built_as_pyyaml_builds_them(text: str, data: dict[str, Any]) -> None:
    loader = m._KubeLoader(text)
    try:
        node = loader.get_single_node()
        assert repr(c.construct(node, loader)) == repr(data)
    finally:
        loader.dispose()
    objs, errs = same(text)
    assert errs == [] and objs[0][1] == repr(data)


@pytest.mark.parametrize(
    "text",
    [
        "kind: Pod\nbase: &b {x: 1}\nother: *b\n",  # an alias: PyYAML shares the object
        "kind: Pod\n<<: {x: 1}\ny: 2\n",  # a merge key
        "kind: Pod\nx: !!binary aGVsbG8=\n",  # an explicit tag
        "kind: Pod\n? [a]\n: b\n",  # a key PyYAML cannot hash
        "kind: Pod\nx: 1\nx: 2\n",  # a duplicate key: the loader's error
        "kind: Pod\nmetadata: {a: 1, a: 2}\nspec: {b: 1, b: 2}\n",  # two: the loader says which first
    ],
)
def test_what_the_walk_leaves_to_pyyaml(text: str) -> None:
    loader = m._KubeLoader(text)
    try:
        node = loader.get_single_node()
        with pytest.raises(c.NotPlain):
            c.construct(node, loader)
    finally:
        loader.dispose()
    same(text)


def test_a_kubectl_dump_is_built_by_the_walk() -> None:
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        {"kind": "Service", "metadata": {"name": "web", "annotations": {"a": "true"}},
         "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 30080}]}}]}, sort_keys=False)  # fmt: skip
    loader = m._KubeLoader(text)
    try:
        c.construct(loader.get_single_node(), loader)  # no NotPlain
    finally:
        loader.dispose()
    objs, errs = same(text)
    assert errs == [] and [(k, line) for k, _, line, _ in objs] == [("Service", 4)]
