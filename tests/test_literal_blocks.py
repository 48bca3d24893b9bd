"""kubectl's literal block scalars on the fast path (hairpin.parsers.literal_blocks, yaml_list) against the exact path.

An item whose only construct rapidyaml is not trusted with is a literal block of kubectl's form
(``kubectl.kubernetes.io/last-applied-configuration: |`` and one indentation of content) is read by
rapidyaml with the block swapped for a plain placeholder; every other block form stays on the exact path.
``same(text)`` (tests/test_yaml_list.py) holds every object (kind, data, file, line, marks) and error to
the exact path's.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hairpin.parsers import literal_blocks, yaml_list
from test_yaml_list import POD, SERVICE, SETTINGS, dump, fast_read, same

pytest.importorskip("ryml")
pytest.importorskip("msgspec")

LA = "kubectl.kubernetes.io/last-applied-configuration"
JSON = (
    '{"apiVersion":"v1","kind":"Service","metadata":{"name":"lb","namespace":"default"},"spec":{"ports":[{"port":80}]}}'
)


def with_block(item: str, header: str = f"{LA}: |", body: tuple[str, ...] = (JSON,), indent: int = 8) -> str:
    """``item`` (POD or SERVICE) with a block ``header`` and ``body`` lines first among its annotations."""
    block = f"      {header}\n" + "".join(" " * indent + b + "\n" if b else "\n" for b in body)
    if "    annotations:\n" in item:
        return item.replace("    annotations:\n", "    annotations:\n" + block)
    return item.replace("  metadata:\n", "  metadata:\n    annotations:\n" + block)


def exact_indices(monkeypatch: pytest.MonkeyPatch, text: str) -> list[int] | None:
    """The items ``yaml_list.read`` leaves to the exact path (None: the whole file goes there)."""
    seen: list[int] = []
    real = yaml_list._exact_items

    def spy(body: str, bounds: list[int], lines: list[int], idx: list[int], *rest: Any) -> bool:
        seen.extend(idx)
        return real(body, bounds, lines, idx, *rest)

    monkeypatch.setattr(yaml_list, "_exact_items", spy)
    got = fast_read(text)
    return None if got is None else seen


def test_kubectls_last_applied_configuration_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    text = dump([POD.format(i=1), with_block(SERVICE), POD.format(i=2), with_block(SERVICE)])
    objs, errors = same(text)
    assert errors == []
    assert exact_indices(monkeypatch, text) == []
    assert [(o[0], o[3]) for o in objs] == [("Pod", 3), ("Service", 24), ("Pod", 38), ("Service", 59)]
    assert f"'{LA}': '{JSON}\\n'" in objs[1][1]
    assert objs[1][4] == {
        f"metadata.annotations[{LA}]": (30, 7),
        "metadata.annotations[service.beta.kubernetes.io/aws-load-balancer-type]": (32, 7),  # after the block
        "spec.type": (34, 5), "spec.ports[0]": (36, 7),
    }  # fmt: skip
    assert objs[3][4]["spec.ports[0]"] == (71, 7)
    deeper = dump([with_block(SERVICE, body=("x", "y"), indent=11)])  # any one indentation deeper than the key
    assert same(deeper)[0][0][3] == 3 and exact_indices(monkeypatch, deeper) == []


def test_two_blocks_and_lines_after_each_are_mapped_back(monkeypatch: pytest.MonkeyPatch) -> None:
    item = with_block(SERVICE).replace(
        "      service.beta", "      note: |\n        one: 'a' \"b\" #c\n        {[ é ]}\n      service.beta"
    )
    text = dump([item, POD.format(i=1)])
    objs, errors = same(text)
    assert not errors and exact_indices(monkeypatch, text) == []
    assert "'note': 'one: \\'a\\' \"b\" #c\\n{[ é ]}\\n'" in objs[0][1]
    assert objs[0][4]["metadata.annotations[note]"] == (11, 7)
    assert objs[0][4]["spec.ports[0]"] == (18, 7)


@pytest.mark.parametrize("header,body,indent", [
    (f"{LA}: |+", (JSON,), 8), (f"{LA}: |2", (JSON,), 8),
    (f"{LA}: >", (JSON,), 8), (f"{LA}: | # c", (JSON,), 8), (f"{LA}: |", (JSON, "", JSON), 8),
    (f"{LA}: |", (JSON, "  more"), 8), (f"{LA}: |", ("a ",), 8), (f"{LA}: |", (), 8),
    (f"{LA}: |", ("x", "hairpin-block-0"), 8)
])  # fmt: skip
def test_other_block_forms_stay_on_the_exact_path(
    monkeypatch: pytest.MonkeyPatch, header: str, body: tuple[str, ...], indent: int
) -> None:
    text = dump([with_block(SERVICE, header, body, indent), POD.format(i=1)])
    same(text)
    assert exact_indices(monkeypatch, text) in (None, [0])


@pytest.mark.parametrize("old,new,fast", [
    ("    - port: 80\n", "    - port: 80\n      name: |\n        x\n", True),  # a value in a sequence's mapping
    ("    - port: 80\n", "    - |\n      x\n    - port: 80\n", False),  # a sequence entry
    ("    - port: 80\n", "    - name: |\n        x\n      port: 80\n", False),  # on the entry's line
    ("    name: lb\n", "    name: lb\n      more: |\n        x\n", False),  # after a plain scalar's line
    ("    name: lb\n", "    name: |\n      x\n    name: y\n", False),  # a duplicate key
    ("    name: lb\n", "    name: |\n      x\n   more: y\n", False),  # then a line less indented
])  # fmt: skip
def test_blocks_elsewhere_in_an_item(monkeypatch: pytest.MonkeyPatch, old: str, new: str, fast: bool) -> None:
    text = dump([SERVICE.replace(old, new), POD.format(i=1)])
    same(text)
    assert exact_indices(monkeypatch, text) in (([],) if fast else (None, [0]))


@pytest.mark.parametrize(
    "body", [("a",), ("a", "b"), ("#", "- x", "? y", "'q", '"', "k: v", "{", "é ü"), ("yes",), ("0755",)]
)
def test_the_value_is_pyyamls(body: tuple[str, ...]) -> None:
    piece = "- a: 0\n  k: |\n" + "".join(f"    {b}\n" for b in body) + "  z: 1\n"
    rw = literal_blocks.rewrite(piece)
    assert rw is not None and rw.values == [yaml.safe_load(piece)[0]["k"]]
    assert rw.text == "- a: 0\n  k: hairpin-block-0\n  z: 1\n"


def test_rewrite_lines() -> None:
    piece = "- a: 1\n  k: |\n    x\n    y\n  b: 2\n  m: |\n    z\n  c: 3\n"
    rw = literal_blocks.rewrite(piece)
    assert rw is not None
    assert rw.text == "- a: 1\n  k: hairpin-block-0\n  b: 2\n  m: hairpin-block-1\n  c: 3\n"
    assert rw.values == ["x\ny\n", "z\n"]
    assert [rw.line(j) for j in range(5)] == [0, 1, 4, 5, 7]
    assert literal_blocks.rewrite(piece[:-1]) is None  # no final line break
    assert literal_blocks.rewrite("- k: |\n  x\n") is None  # the item's first line
    data: dict[str, Any] = {"a": 1, "k": "hairpin-block-0", "b": [{"m": "hairpin-block-1"}]}
    assert literal_blocks.fill(data, rw.values) and data == {"a": 1, "k": "x\ny\n", "b": [{"m": "z\n"}]}
    assert not literal_blocks.fill({"k": ["hairpin-block-0"]}, ["x\n"])
    assert not literal_blocks.fill({"k": "hairpin-block-0", "j": "hairpin-block-0"}, ["x\n"])
    assert not literal_blocks.fill({"hairpin-block-0": 1}, ["x\n"])
    assert not literal_blocks.fill({"k": 1}, ["x\n"])


@st.composite
def blocky(draw: Any) -> str:
    """A List whose items hold literal blocks of kubectl's form and of the forms that must fall back."""
    rnd = random.Random(draw(st.integers(0, 2**32)))
    items = []
    for i in range(rnd.randrange(1, 5)):
        base = rnd.choice([SERVICE, POD.format(i=i)])
        header = rnd.choice([f"{LA}: |"] * 6 + [f"{LA}: |-", f"{LA}: |+", f"{LA}: |1", f"{LA}: >", "'q': |", "x: |  "])
        lines = rnd.choice([(JSON,), ("a", "b: c"), ("# c", "{", "'", '"'), ("é", "hairpin-block-1"), ("x", ""),
                            ("x", "  y"), ("yes",), ("- a",), ("x ",), ()])  # fmt: skip
        item = with_block(base, header, lines, rnd.choice([8, 8, 8, 7, 10]))
        if rnd.random() < 0.3:
            item = item.replace(
                "    name: ", "    name: |\n      " + rnd.choice(["v", "w: x", "- y"]) + "\n    nam: ", 1
            )
        if rnd.random() < 0.2:
            item = item.replace("  spec:\n", "  spec:\n    tail: |\n      t\n", 1)
        items.append(item)
    return dump(items)


@SETTINGS
@given(blocky())
def test_lists_with_blocks_read_alike(text: str) -> None:
    same(text)


_BASE = dump([POD.format(i=1), with_block(SERVICE), with_block(POD.format(i=2), body=("a", "b: c"))])


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, len(_BASE)), st.sampled_from(["insert", "delete", "replace"]),
                          st.sampled_from(list(" \n:-\"'#{}[],&*!|>?%@`019abyn.~+\\"))), min_size=1, max_size=3))  # fmt: skip
def test_a_list_with_blocks_damaged_anywhere_reads_as_the_exact_path_reads_it(
    edits: list[tuple[int, str, str]],
) -> None:
    text = _BASE
    for at, op, ch in edits:
        at = min(at, len(text) - 1)
        text = (
            text[:at] + ch + text[at:]
            if op == "insert"
            else text[:at] + ("" if op == "delete" else ch) + text[at + 1 :]
        )
    same(text)


def test_runs_join_the_items_around_those_left_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    # every third item holds a comment (exact), every third a block (rewritten): the fast runs skip them
    items = [POD.format(i=i) if i % 3 == 0 else with_block(SERVICE) if i % 3 == 1 else SERVICE.replace("lb\n", "lb # c\n")
             for i in range(15)]  # fmt: skip
    text = dump(items)
    want = same(text)
    runs: list[int] = []
    parse = yaml_list.ryml.parse_in_arena
    monkeypatch.setattr(yaml_list.ryml, "parse_in_arena", lambda raw, tree: (runs.append(raw.count(b"\n- ")), parse(raw, tree))[1])
    assert exact_indices(monkeypatch, text) == [2, 5, 8, 11, 14]
    assert runs == [4, 4]  # the 5 Pods in one run, the 5 rewritten Services in another (items after the first)
    monkeypatch.setattr(yaml_list, "RUN_LINES", 45)
    assert same(text) == want
