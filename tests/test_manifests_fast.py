"""The msgspec path of the JSON reader against the standard library's reader it replaced (hairpin.parsers.manifests).

``parse_json(text, fast=False)`` is the reference: the reader as it was, the standard library's C decoder one
List item at a time.  The fast path must hand ``hairpin check`` the very same objects (same keys in the same
order, same value types: ``1``, ``1.0`` and ``true`` differ here) with the same lines, or fail with the very same
one-line error, on every document: generated kubectl-like Lists, the same documents mutated at random
(duplicate keys, stray characters, NaN, lone surrogates, huge numbers...), and nesting at the recursion limit.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin.errors import ParseError
from hairpin.parsers import manifests as m
from hairpin.reading import json_depth

pytest.importorskip("msgspec")

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip


def outcome(text: str, fast: bool) -> tuple[str, Any]:
    """What the reader gives: each object as (kind, repr of its data, file, line), or the error's one line."""
    try:
        objs = m.parse_json(text, "dump.json", fast=fast)
    except ParseError as exc:
        return "error", exc.one_line()
    except ValueError as exc:  # the standard library's own limit on digits: the same exception either way
        return "ValueError", str(exc)
    return "objects", [(o.kind, repr(o.data), o.file, o.line, o.marks) for o in objs]


def same(text: str) -> tuple[str, Any]:
    got, want = outcome(text, True), outcome(text, False)
    assert got == want
    return got


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "TCP", "LoadBalancer", "true", "8080", "é", "\u2028", "\ud800", "\x00", "a\\b\"c"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["a", "name", "port", "kind", "x"]), inner, max_size=4),
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(["type", "ports", "selector", "name", "nodeName", "clusterIP", "phase", "zz"])
ITEMS = st.fixed_dictionaries(
    {
        "kind": st.one_of(st.sampled_from(["Pod", "Service", "Node", "EndpointSlice", "ConfigMap"]), VALUES),
        "metadata": st.one_of(
            st.fixed_dictionaries({"name": st.text(max_size=8), "namespace": st.sampled_from(["default", "ns1"])},
                                  optional={"annotations": st.dictionaries(st.text(max_size=6), VALUES, max_size=3),
                                            "labels": st.dictionaries(st.text(max_size=6), st.text(max_size=4),
                                                                      max_size=3)}),
            VALUES,
        ),
    },
    optional={"spec": st.one_of(st.dictionaries(KEYS, VALUES, max_size=4), VALUES),
              "status": st.dictionaries(KEYS, VALUES, max_size=3)},
)  # fmt: skip
DOCS = st.fixed_dictionaries(
    {"apiVersion": st.just("v1"), "kind": st.sampled_from(["List", "PodList", "ServiceList", "Pod"]),
     "items": st.lists(st.one_of(ITEMS, VALUES), max_size=5)},
    optional={"metadata": st.dictionaries(st.sampled_from(["resourceVersion", "x"]), VALUES, max_size=2)},
)  # fmt: skip


def dump(doc: Any, indent: int | None, ascii_only: bool) -> str:
    return json.dumps(doc, indent=indent, ensure_ascii=ascii_only)


@SETTINGS
@given(DOCS, st.sampled_from([None, 0, 1, 4]), st.booleans())
def test_generated_lists_read_the_same(doc: dict[str, Any], indent: int | None, ascii_only: bool) -> None:
    same(dump(doc, indent, ascii_only))


MUTATIONS = [",", "]", "}", "[", "{", '"', ":", "\\", "\x01", "\t", " ", "\n", "0", "-", "e", ".", "NaN", "1e999",
             '"\\ud800"', "9" * 30, "\u00e9", "\u2028", "null", "true"]  # fmt: skip


def mutate(text: str, rnd: random.Random, n: int) -> str:
    for _ in range(n):
        at = rnd.randrange(len(text) + 1)
        how = rnd.randrange(4)
        if how == 0:  # insert something
            text = text[:at] + rnd.choice(MUTATIONS) + text[at:]
        elif how == 1 and text:  # delete a few characters
            text = text[:at] + text[at + rnd.randrange(1, 4) :]
        elif how == 2:  # repeat a key with its value: a duplicate key (or garbage)
            k = text.find('"', at)
            e = text.find(",", k)
            if k >= 0 and e > k:
                text = text[:k] + text[k : e + 1] + text[k:]
        else:  # replace a value
            c = text.find(": ", at)
            if c >= 0:
                e = min((i for i in (text.find(",", c), text.find("\n", c)) if i >= 0), default=len(text))
                text = text[: c + 2] + rnd.choice(['"x"', "1", "1.0", "true", "[]", "{}", "NaN", "-0"]) + text[e:]
    return text


KUBECTL = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "web", "namespace": "default", "uid": "u1",
                      "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                                      "service.beta.kubernetes.io/aws-load-balancer-internal": "true"}},
         "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "externalTrafficPolicy": "Cluster",
                  "ports": [{"name": "http", "port": 80, "nodePort": 30080, "protocol": "TCP"}]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"}},
         "spec": {"nodeName": "ip-1", "containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]},
         "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]}},
        {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": "ip-1", "labels": {"topology.kubernetes.io/zone": "eu-west-1a"}},
         "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.9"}]}},
        {"kind": "EndpointSlice", "metadata": {"name": "web-x", "labels": {"kubernetes.io/service-name": "web"}},
         "endpoints": [{"addresses": ["10.0.0.1"], "nodeName": "ip-1", "conditions": {"ready": True}}]},
    ],
}  # fmt: skip


@SETTINGS
@given(DOCS, st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=4))
def test_mutated_lists_read_the_same(doc: dict[str, Any], seed: int, n: int) -> None:
    text = dump(doc, 4, True)
    same(mutate(text, random.Random(seed), n))


@SETTINGS
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=3), st.sampled_from([None, 4]))
def test_mutated_kubectl_dumps_read_the_same(seed: int, n: int, indent: int | None) -> None:
    same(mutate(dump(KUBECTL, indent, True), random.Random(seed), n))


def test_the_fast_path_is_taken_on_a_kubectl_dump_and_gives_the_reference_objects() -> None:
    text = dump(KUBECTL, 4, True)
    assert m.item_raws(text) is not None and len(m.item_raws(text) or ()) == 4
    kind, objs = same(text)
    assert kind == "objects"
    # each item opens on a line of its own, indented 8 spaces (json.dumps indent=4, as kubectl prints)
    assert [i + 1 for i, line in enumerate(text.splitlines()) if line == "        {"] == [5, 33, 67, 85]
    assert [(k, line) for k, _, _, line, _ in objs] == [("Service", 5), ("Pod", 33), ("Node", 67), ("EndpointSlice", 85)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a duplicate key in a Service item: refused at the item's line, by either path
        ('{"kind": "List", "items": [\n{"kind": "Pod"},\n{"kind": "Service", "spec": {"type": "A", "type": "B"}}]}',
         ("error", 'dump.json:3: duplicate key "type" in the object starting here: kubectl refuses the file '
                   "(duplicate field); a lenient reader would keep the last value")),
        # two "items" keys: msgspec keeps the second list; the reader refuses the second key
        ('{"kind": "List", "items": [{"kind": "Pod"}],\n "items": [{"kind": "Node"}]}',
         ("error", 'dump.json:1: duplicate key "items" in the object starting here: kubectl refuses the file '
                   "(duplicate field); a lenient reader would keep the last value")),
        # NaN is the standard library's extension: msgspec refuses it, the reference reads it
        ('{"kind": "List", "items": [{"kind": "Pod", "x": NaN}]}', None),
        # a lone surrogate: msgspec refuses it, the reference reads it
        ('{"kind": "List", "items": [{"kind": "Pod", "x": "\\ud800"}]}', None),
        # a number msgspec cannot hold
        ('{"kind": "List", "items": [{"kind": "Pod", "x": 1e999}]}', None),
        # not ASCII: the reference reader alone
        ('{"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "caf\u00e9"}}]}', None),
        ('{"kind": "List", "items": [{"kind": "Pod"} {"kind": "Pod"}]}',
         ("error", "dump.json:1: not valid JSON: Expecting ',' delimiter")),
    ],
)
def test_documents_msgspec_reads_differently_give_the_reference_answer(text: str, expected: Any) -> None:
    got = same(text)
    if expected is not None:
        assert got == expected
    else:
        assert got[0] == "objects" and len(got[1]) == 1


def test_nesting_at_the_recursion_limit_is_refused_alike() -> None:
    """Both decoders count their nesting against Python's recursion limit from the same depth of the stack:
    every depth around the limit gives the same answer, and the deepest is refused."""
    answers = set()
    limit = json_depth()  # 994 with CPython 3.11
    for depth in range(limit - 94, limit + 16, 3):
        text = '{"kind": "List", "items": [{"kind": "Pod", "x": ' + "[" * depth + "]" * depth + "}]}"
        answers.add(same(text)[0])
    assert answers == {"objects", "error"}


FIELD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(0, 1), st.text(max_size=3),
                         st.lists(st.none(), max_size=1), st.dictionaries(st.just("k"), st.none(), max_size=1))  # fmt: skip
#: the fields both walks look at, each with a value of its API type
GOOD: dict[tuple[str, ...], Any] = {
    ("metadata", "name"): "a", ("metadata", "namespace"): None, ("metadata", "generateName"): "g",
    ("metadata", "annotations"): {"a": "1", "b": None}, ("metadata", "labels"): {"app": "web"},
    ("spec", "type"): "LoadBalancer", ("spec", "loadBalancerClass"): None, ("spec", "externalTrafficPolicy"): "Local",
    ("spec", "ports"): [{"port": 80, "nodePort": None, "protocol": "TCP"}],
    ("spec", "ports", 0, "port"): 80, ("spec", "ports", 0, "nodePort"): 30080,
    ("metadata", "annotations", "a"): "x", ("metadata", "labels", "app"): "web",
}  # fmt: skip


def _has(data: Any, step: Any) -> bool:
    if isinstance(data, dict):
        return True
    return isinstance(data, list) and isinstance(step, int) and step < len(data)


def _put(data: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set the field at ``path`` when every container on the way is there (a bad value may have replaced one)."""
    for step in path[:-1]:
        if not (_has(data, step) and (isinstance(data, list) or step in data)):
            return
        data = data[step]
    if _has(data, path[-1]):
        data[path[-1]] = value


@SETTINGS
@given(
    st.sampled_from(["Service", "Pod", "Node", "EndpointSlice", "Widget"]),
    st.lists(st.tuples(st.sampled_from(sorted(GOOD, key=str)), FIELD_VALUES), max_size=2),
)
def test_well_typed_objects_pass_both_error_walks(kind: str, bad: list[tuple[tuple[Any, ...], Any]]) -> None:
    """``shapes.well_typed`` lets the reader skip ``strict.vet_object`` and ``shapes.vet_shape``: it may say yes
    only when neither would raise, and says no to every object they refuse (objects of good types with one or
    two fields given values of any JSON type)."""
    from hairpin.parsers import shapes, strict

    data: dict[str, Any] = {"kind": kind, "metadata": {}, "spec": {}}
    for path, value in GOOD.items():
        if len(path) == 2:
            _put(data, path, json.loads(json.dumps(value)))
    for path, value in bad:
        _put(data, path, value)
    refused = []
    for walk in (lambda: strict.vet_object(data, "f", 1, kind), lambda: shapes.vet_shape(kind, data, "f", 1)):
        try:
            walk()
        except ParseError:
            refused.append(True)
    assert shapes.well_typed(kind, data) == (refused == [])
