"""The mapped reader's item loop and its one pass over the items (hairpin.parsers.json_mapped ``_decode_top``,
``_objects``) against the text path, on what that loop and pass treat specially: the separators between items
(one match for whitespace, a comma, whitespace), and the order of the errors when the type check and the
shape check of ``manifests._objects_of`` are made together (the first shape error wins over any type error
of an earlier item, as when every object is made before any is vetted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hairpin.parsers import json_mapped as jm
from hairpin.reading import json_depth
from test_json_mapped import _flat, _small, same  # noqa: F401  (_small: the autouse fixture that lowers the size floor)

pytest.importorskip("msgspec")

POD = '{"kind": "Pod", "metadata": {"name": "p"}, "spec": {"nodeName": "n"}, "status": {"phase": "Running"}}'
SVC = '{"kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}}'


@pytest.mark.parametrize("sep", [",", ", ", ",\n", "\n,\n", " \t,\t\n\n  ", "\n\n\n,", ",\n\n\n", "\t,", ",\t\t"])
def test_items_apart_by_any_whitespace_keep_their_lines(tmp_path: Path, sep: str) -> None:
    text = '{"apiVersion": "v1", "kind": "List", "items": [\n' + sep.join([POD, SVC, POD, "\n" + SVC]) + "\n]}\n"
    (objs, errs), taken = same(tmp_path, text)
    assert taken and errs == []
    assert [k for k, *_ in objs] == ["Pod", "Service", "Pod", "Service"]
    n = sep.count("\n")
    assert [line for *_, line, _ in objs] == [2, 2 + n, 2 + 2 * n, 3 + 3 * n]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # a type error (labels) in item 0, a shape error in item 2: the shape error is the answer
        (
            '{"kind": "List", "items": [\n{"kind": "Pod", "metadata": {"labels": {"a": 1}}},\n'
            + POD
            + ',\n{"kind": "Pod", "status": []}]}',
            "dump.json:4: items[2].status is an array, not an object: kubectl refuses the file",
        ),
        # the type check of a Service does not look at its status: the shape check still does
        (
            '{"kind": "List", "items": [\n' + SVC + ',\n{"kind": "Service", "status": "up"}]}',
            "dump.json:3: items[1].status is a string, not an object: kubectl refuses the file",
        ),
        (
            '{"kind": "List", "items": [\n{"kind": "Deployment", "status": 5}]}',
            "dump.json:2: items[0].status is an integer, not an object: kubectl refuses the file",
        ),
        (
            '{"kind": "List", "items": [\n{"kind": "EndpointSlice", "spec": []}]}',
            "dump.json:2: items[0].spec is an array, not an object: kubectl refuses the file",
        ),
        # no shape error: the first type error in item order
        (
            '{"kind": "List", "items": [\n' + POD + ',\n{"kind": "Pod", "spec": {"nodeName": 5}},\n'
            '{"kind": "Pod", "metadata": {"name": 5}}]}',
            "dump.json:3: spec.nodeName is an integer, not a string: kubectl refuses the file",
        ),
        # items of a typed List take its kind; an item that is no object or has no kind
        (
            '{"kind": "PodList", "items": [\n{"spec": {"hostNetwork": "yes"}}]}',
            "dump.json:2: spec.hostNetwork is a string, not a boolean: kubectl refuses the file",
        ),
        (
            '{"kind": "List", "items": [\n' + POD + ",\n5]}",
            "dump.json:3: items[1]: expected a Kubernetes object (a mapping)",
        ),
        (
            '{"kind": "List", "items": [\n' + POD + ',\n{"metadata": {}}]}',
            "dump.json:3: items[1]: not a Kubernetes object: no kind",
        ),
    ],
)
def test_the_first_error_is_the_text_paths(tmp_path: Path, text: str, want: str) -> None:
    (objs, errs), taken = same(tmp_path, text)
    assert not taken and objs == []  # an error: the exact path said it
    assert [e.replace(str(tmp_path) + "/", "") for e in errs] == [want]


def test_a_list_of_nulls_and_objects_reads_alike(tmp_path: Path) -> None:
    text = '{"kind": "PodList", "items": [null,\n' + POD + ", null,\n" + '{"metadata": {"name": "q"}}]}'
    (objs, errs), taken = same(tmp_path, text)
    assert taken and errs == [] and [(k, line) for k, _, _, line, _ in objs] == [("Pod", 2), ("Pod", 3)]


def test_the_file_is_read_into_private_populated_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flags: list[int] = []
    real = jm.mmap.mmap

    def spy(fileno: int, length: int, *args: object, **kwargs: int) -> object:
        flags.append(kwargs.get("flags", -1))
        return real(fileno, length, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jm.mmap, "mmap", spy)
    (_, errs), taken = same(tmp_path, '{"kind": "List", "items": [' + POD + "]}")
    assert taken and errs == []
    assert flags == [jm.mmap.MAP_PRIVATE | jm.mmap.MAP_ANONYMOUS | getattr(jm.mmap, "MAP_POPULATE", 0)]


def _pod(name: str, ns: str = "default") -> str:
    return '{"kind": "Pod", "metadata": {"name": "' + name + '", "namespace": "' + ns + '"}}'


def _svc(name: str, ns: str = "default") -> str:
    return '{"kind": "Service", "metadata": {"name": "' + name + '", "namespace": "' + ns + '"}}'


def test_names_at_the_limits_are_kept_and_longer_ones_are_the_text_paths_errors(tmp_path: Path) -> None:
    at_limit = [_pod("p" * 253), _svc("s" * 63), _pod("q", "n" * 63), _svc("t", "m" * 63)]
    text = '{"kind": "List", "items": [\n' + ",\n".join(at_limit) + "]}"
    (objs, errs), taken = same(tmp_path, text)
    assert taken and errs == [] and [line for *_, line, _ in objs] == [2, 3, 4, 5]
    over = [_pod("p" * 254), _svc("s" * 64), _pod("q", "n" * 64), _pod("r" * 253), _svc("t", "m" * 64)]
    text = '{"kind": "List", "items": [\n' + ",\n".join(over) + "]}"
    (objs, errs), taken = same(tmp_path, text)
    assert taken and [(k, line) for k, _, _, line, _ in objs] == [("Pod", 5)]
    assert [e.replace(str(tmp_path) + "/", "") for e in errs] == [
        "dump.json:2: metadata.name is 254 characters: the API server refuses a name longer than 253 for a Pod",
        "dump.json:3: metadata.name is 64 characters: the API server refuses a name longer than 63 for a Service",
        "dump.json:4: metadata.namespace is 64 characters: the API server refuses a namespace longer than 63",
        "dump.json:6: metadata.namespace is 64 characters: the API server refuses a namespace longer than 63",
    ]


def test_a_long_name_on_an_object_of_a_wrong_type_is_the_type_error(tmp_path: Path) -> None:
    bad = '{"kind": "Pod", "metadata": {"name": "' + "p" * 254 + '"}, "spec": {"nodeName": 5}}'
    text = '{"kind": "List", "items": [\n' + _svc("s" * 64) + ",\n" + bad + "]}"
    (objs, errs), taken = same(tmp_path, text)
    assert not taken and objs == []
    assert [e.replace(str(tmp_path) + "/", "") for e in errs] == [
        "dump.json:3: spec.nodeName is an integer, not a string: kubectl refuses the file"
    ]


@pytest.mark.parametrize(
    ("svc", "unique"),
    [
        ('{"kind": "Service", "spec": {"type": "A"}}', True),
        ('{\n    "kind": "Service",\n    "spec": {"ports": [{"port": 80}], "x": null}\n}', True),
        ('{"kind": "Service", "spec": {"type": "A", "type": "B"}}', False),  # a key twice
        ('{"kind": "Service", "spec": {"a": {"b": 1, "b": 1}}}', False),  # twice alike, nested
        ('{"kind": "Service", "metadata": {"name": "\\u003c"}}', False),  # an escape msgspec writes otherwise
        ('{"kind": "Service", "spec": {"x": 1e3}}', False),  # a number msgspec writes otherwise (1000.0)
    ],
)
def test_a_service_is_shown_to_hold_no_key_twice_only_when_its_text_is_its_value_encoded(
    svc: str, unique: bool
) -> None:
    raw = svc.encode()
    assert jm._unique(jm.msgspec.json.decode(raw), raw) is unique


@pytest.mark.parametrize(
    ("svc", "want"),
    [
        ('{"kind": "Service", "metadata": {"name": "a\\u003cb"}, "spec": {"type": "ClusterIP"}}', ""),
        (
            '{"kind": "Service", "metadata": {"name": "a\\u003cb"}, "spec": {"type": "A", "type": "B"}}',
            'dump.json:3: duplicate key "type" in the object starting here: kubectl refuses the file (duplicate '
            "field); a lenient reader would keep the last value",
        ),
    ],
)
def test_a_service_not_shown_unique_is_read_by_the_strict_reader(tmp_path: Path, svc: str, want: str) -> None:
    (objs, errs), taken = same(tmp_path, '{"kind": "List", "items": [\n' + POD + ",\n" + svc + "]}")
    assert [e.replace(str(tmp_path) + "/", "") for e in errs] == ([want] if want else [])
    assert taken is not bool(want) and len(objs) == (0 if want else 2)


def _indented(items: list[str], after: str = "") -> str:
    """A List as kubectl lays it out: each item an object opened and closed on lines of its own, 8 spaces in."""
    parts = []
    for item in items:
        fields = item.split("|")
        lines = [f"            {f}," for f in fields[:-1]] + [f"            {fields[-1]}"]
        parts.append("        {\n" + "\n".join(lines) + "\n        }")
    body = ",\n".join(parts)
    return '{\n    "apiVersion": "v1",\n    "items": [\n' + body + '\n    ],\n    "kind": "List"' + after + "\n}\n"


def _calls_of(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """One entry for each call of the reader's function ``name`` from now on (it still runs)."""
    calls: list[int] = []
    real = getattr(jm, name)

    def spy(*args: object) -> object:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(jm, name, spy)
    return calls


@pytest.fixture
def split_by_msgspec(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the items were split by msgspec (``_items_raw``), the cut having failed or not applied."""
    return _calls_of(monkeypatch, "_items_raw")


def test_a_list_laid_out_as_kubectl_does_is_cut_without_msgspecs_split(
    tmp_path: Path, split_by_msgspec: list[int]
) -> None:
    text = _indented(['"kind": "Pod"|"metadata": {"name": "p"}', '"kind": "Service"|"spec": {"type": "ClusterIP"}',
                      '"kind": "Node"|"status": {\n                "addresses": []\n            }'])  # fmt: skip
    (objs, errs), taken = same(tmp_path, text)
    assert taken and errs == [] and split_by_msgspec == []
    assert [(k, line) for k, _, _, line, _ in objs] == [("Pod", 4), ("Service", 8), ("Node", 12)]


@pytest.mark.parametrize(
    "text",
    [
        # a blank line between two items: no cut there, so a part holds two items
        _indented(['"kind": "Pod"', '"kind": "Pod"']).replace("},\n        {", "},\n\n        {"),
        # a null item between two objects
        _indented(['"kind": "Pod"', '"kind": "Pod"']).replace("},\n        {", "},\n        null,\n        {"),
        # an item's own list of objects laid out at the items' depth: a cut inside the item
        _indented(
            ['"kind": "Pod"|"x": [\n        {\n        },\n        {\n        }\n            ]', '"kind": "Pod"']
        ),
        # objects at the items' depth after the list: the last item's cut found past its end
        _indented(
            ['"kind": "Pod"', '"kind": "Pod"'], ',\n    "x": [\n        {\n        },\n        {\n        }\n    ]'
        ),
        # the last item closed on the line of its last field
        _indented(['"kind": "Pod"', '"kind": "Pod"']).replace('"Pod"\n        }\n    ]', '"Pod"}\n    ]'),
    ],
)
def test_a_part_that_is_not_one_item_is_read_by_the_standard_library_and_the_cuts_go_on(
    tmp_path: Path, split_by_msgspec: list[int], text: str
) -> None:
    (objs, errs), taken = same(tmp_path, text)
    assert taken and errs == [] and split_by_msgspec == []
    assert [k for k, *_ in objs] == ["Pod", "Pod"]


def test_a_cuts_end_inside_an_item_is_not_taken_for_the_cut(
    tmp_path: Path, split_by_msgspec: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # an item's own list holds ``},``, a line break, the items' indentation and ``{``, the end of a cut, but no
    # line break and indentation stand before that ``}``: the search goes on to the real cut after the item,
    # and every part is one whole item (none is read again where it starts by the standard library)
    plain = _indented(['"kind": "Pod"', '"kind": "Pod"', '"kind": "Node"'])
    text = plain.replace('"Pod"\n        },', '"Pod",\n            "x": [{"a": 1},\n        {"b": 2}]\n        },', 1)
    read_where_it_starts = _calls_of(monkeypatch, "_value_at")
    same(tmp_path, plain)
    top = len(read_where_it_starts)  # the top-level keys and values
    (objs, errs), taken = same(tmp_path, text)
    assert taken and errs == [] and split_by_msgspec == []
    assert [(k, line) for k, _, _, line, _ in objs] == [("Pod", 4), ("Pod", 9), ("Node", 12)]
    assert objs[0][1] == _flat({"kind": "Pod", "x": [{"a": 1}, {"b": 2}]})
    assert len(read_where_it_starts) == 2 * top


def test_a_list_whose_items_close_on_their_last_line_is_read_alike(
    tmp_path: Path, split_by_msgspec: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # no cut anywhere: the search stops after a few misses, and every item is read where it starts
    searched = _calls_of(monkeypatch, "_decode_part")
    items = ",\n".join(f'        {{"kind": "Pod", "metadata": {{"name": "p{i}"}}}}' for i in range(30))
    text = '{\n    "items": [\n' + items + '\n    ],\n    "kind": "List"\n}\n'
    (objs, errs), taken = same(tmp_path, text)
    assert taken and errs == [] and split_by_msgspec == [] and searched == []
    assert [line for *_, line, _ in objs] == list(range(3, 33))


def test_a_list_not_laid_out_one_item_a_line_is_split_by_msgspec(tmp_path: Path, split_by_msgspec: list[int]) -> None:
    (objs, errs), taken = same(tmp_path, '{"kind": "List", "items": [' + POD + ", " + SVC + "]}")
    assert taken and errs == [] and split_by_msgspec == [1] and len(objs) == 2


def test_an_item_the_cut_finds_refused_is_the_text_paths_error(tmp_path: Path) -> None:
    text = _indented(['"kind": "Pod"', '"kind": "Pod"|"x": [1,]'])
    (objs, errs), taken = same(tmp_path, text)
    assert not taken and objs == []
    try:  # the standard library's words, which differ by version ("Illegal trailing comma..." since 3.13)
        json.loads('{"kind": "Pod", "x": [1,]}')
    except json.JSONDecodeError as e:
        why = e.msg
    assert [e.replace(str(tmp_path) + "/", "") for e in errs] == [f"dump.json:9: not valid JSON: {why}"]


def test_nesting_at_the_recursion_limit_is_read_alike_when_cut(tmp_path: Path) -> None:
    """As ``test_json_mapped``'s test of nesting, on a List whose items are cut apart: every depth from 150 below
    this Python's JSON depth to 10 above gives the same answer by either path; some are read, some refused."""
    answers = set()
    limit = json_depth()
    for depth in range(limit - 144, limit + 11):
        text = _indented(['"kind": "Pod"', '"kind": "Pod"|"x": ' + "[" * depth + "]" * depth])
        (_, errs), _ = same(tmp_path, text)
        answers.add(bool(errs))
    assert answers == {True, False}


def test_after_eight_parts_in_a_row_that_are_not_one_item_the_cuts_stop(
    tmp_path: Path, split_by_msgspec: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[int] = []
    real = jm._decode_part

    def spy(*args: object) -> object:
        got = real(*args)  # type: ignore[arg-type]
        tried.append(got is not None)
        return got

    monkeypatch.setattr(jm, "_decode_part", spy)
    nested = '"kind": "Pod"|"x": [\n        {\n        },\n        {\n        }\n            ]'  # a cut inside
    (objs, errs), taken = same(tmp_path, _indented([nested] * 12))
    assert taken and errs == [] and split_by_msgspec == [] and len(objs) == 12
    assert tried == [False] * 8
