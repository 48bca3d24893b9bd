"""The mapped reader's item loop and its one pass over the items (hairpin.parsers.json_mapped ``_decode_top``,
``_objects``) against the text path, on what that loop and pass treat specially: the separators between items
(one match for whitespace, a comma, whitespace), and the order of the errors when the type check and the
shape check of ``manifests._objects_of`` are made together (the first shape error wins over any type error
of an earlier item, as when every object is made before any is vetted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hairpin.parsers import json_mapped as jm
from test_json_mapped import _small, same  # noqa: F401  (_small: the autouse fixture that lowers the size floor)

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
