"""hairpin.render.json_out.dumps_indent1 writes exactly the bytes of json.dumps(obj, indent=1)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.render.json_out import dumps_indent1

_scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(1 << 70), max_value=1 << 70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text() | st.text(alphabet=st.characters(max_codepoint=0x80))
    | st.sampled_from([0.0, -0.0, 1e16, 1e-5, 1e-4, 123456789012345.6, 1.5e300, 5e-324, 3.0005])
)  # fmt: skip
_keys = st.text() | st.text(alphabet=st.characters(max_codepoint=0x80), max_size=3)
_docs = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_keys, inner, max_size=5)
    | st.tuples(inner, inner),
    max_leaves=40,
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(_docs)
def test_same_bytes_as_json_dumps(doc: Any) -> None:
    assert dumps_indent1(doc) == json.dumps(doc, indent=1)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False), _scalars, max_size=5))
def test_keys_json_converts(doc: Any) -> None:
    assert dumps_indent1(doc) == json.dumps(doc, indent=1)


def test_what_msgspec_refuses_falls_back() -> None:
    for doc in ([math.nan, math.inf, -math.inf], {"s": "\ud800"}, "\udfff", {"x": [1e16, "\x7f", "é"]}):
        assert dumps_indent1(doc) == json.dumps(doc, indent=1)


def test_empty_and_nested_layout() -> None:
    doc = {"a": [], "b": {}, "c": [[], [{}]], "d": {"e": {"f": None}}, "": 0}
    assert dumps_indent1(doc) == json.dumps(doc, indent=1)
    assert dumps_indent1([]) == "[]" and dumps_indent1({}) == "{}" and dumps_indent1(5) == "5"
