"""The mapped-file JSON reader (hairpin.parsers.json_mapped) against the text path it stands in for.

``manifests.mapped = False`` is the reference: every file made one ``str`` and read by ``parse_text``.  With
the mapped path on (and its size floor lowered so that small files take it), ``load_paths`` must give the
very same objects (keys, order, value types, lines) and the very same one-line errors, on generated Lists,
mutated kubectl dumps, nesting at the recursion limit, and every input it must leave to the text path.
"""

from __future__ import annotations

import json
import mmap
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin.errors import ParseError
from hairpin.parsers import json_mapped as jm
from hairpin.parsers import manifests as m
from hairpin.reading import json_depth
from test_manifests_fast import DOCS, KUBECTL, SETTINGS, dump, mutate

pytest.importorskip("msgspec")
# the file is written anew for each example: the fixtures hold nothing an example leaves behind
FILE_SETTINGS = settings(SETTINGS, suppress_health_check=[*SETTINGS.suppress_health_check, HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def _small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jm, "MIN_SIZE", 0)
    monkeypatch.setattr(jm, "_DROP", 1)  # give pages back after every item: the drop is exercised too


def outcome(path: Path, mapped: bool) -> tuple[Any, ...]:
    m.mapped = mapped
    try:
        errs: list[ParseError] = []
        try:
            objs = m.load_paths([path], errs)
        except ValueError as exc:  # the standard library's own limit on digits: the same either way
            return ("ValueError", str(exc))
    finally:
        m.mapped = True
    return [(o.kind, _flat(o.data), o.file, o.line, o.marks) for o in objs], [e.one_line() for e in errs]


def _flat(value: Any) -> tuple[Any, ...]:
    """``value`` (decoded JSON) as a flat tuple of tokens, without recursion: an object nested as deep as the
    decoders go (9,998 levels with CPython 3.13) is past what ``repr`` and ``==`` recurse through."""
    out: list[Any] = []
    todo = [value]
    while todo:
        x = todo.pop()
        if isinstance(x, dict):
            out.append(("{", len(x)))
            for k, v in reversed(list(x.items())):
                todo += [v, ("key", k)]
        elif isinstance(x, list):
            out.append(("[", len(x)))
            todo += reversed(x)
        else:
            out.append((type(x).__name__, repr(x)))
    return tuple(out)


def same(tmp: Path, data: str | bytes) -> tuple[tuple[Any, ...], bool]:
    """Both answers for a file holding ``data`` (equal, asserted), and whether the mapped path gave it."""
    path = tmp / "dump.json"
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    before = jm.taken
    got = outcome(path, True)
    taken = jm.taken > before
    assert got == outcome(path, False)
    return got, taken


@FILE_SETTINGS
@given(DOCS, st.sampled_from([None, 0, 1, 4]), st.booleans())
def test_generated_lists_read_the_same(tmp_path: Path, doc: dict[str, Any], indent: int | None, ascii_only: bool) -> None:
    same(tmp_path, dump(doc, indent, ascii_only))


@FILE_SETTINGS
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=3), st.sampled_from([None, 4]))
def test_mutated_kubectl_dumps_read_the_same(tmp_path: Path, seed: int, n: int, indent: int | None) -> None:
    same(tmp_path, mutate(dump(KUBECTL, indent, True), random.Random(seed), n))


def test_a_kubectl_dump_is_read_mapped_with_the_reference_objects_and_lines(tmp_path: Path) -> None:
    (objs, errs), taken = same(tmp_path, dump(KUBECTL, 4, True))
    assert taken and errs == []
    assert [(k, line) for k, _, _, line, _ in objs] == [("Service", 5), ("Pod", 33), ("Node", 67), ("EndpointSlice", 85)]
    assert all(f == str(tmp_path / "dump.json") for _, _, f, _, _ in objs)


def test_a_file_below_the_size_floor_is_read_the_exact_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jm, "MIN_SIZE", 1 << 20)
    assert not same(tmp_path, dump(KUBECTL, 4, True))[1]


DUP = '{"kind": "List", "items": [\n{"kind": "Pod"},\n{"kind": "Service", "spec": {"type": "A", "type": "B"}}]}'


@pytest.mark.parametrize(
    ("data", "want"),
    [
        # a byte-order mark, CR, NUL or bytes that are not UTF-8 are left to the text path, which reads or refuses it
        ("\ufeff" + dump(KUBECTL, None, True), "objects"),
        (dump(KUBECTL, 4, True).replace("\n", "\r\n"), "objects"),
        ('{"kind": "List", "items": [{"kind": "Pod"}]}\r', "objects"),
        ('{"kind": "List",\n "items": [{"kind": "Pod"}]}\0', "dump.json:2: not a text file: NUL byte at byte 45"),
        (b'{"kind": "List", "items": [{"kind": "Pod"}]}\xff', "dump.json:1: not UTF-8 text (byte 44)"),
        # not an object first, not a List, nothing at all
        ('[{"kind": "Pod"}]', "dump.json:1: expected a Kubernetes object (a mapping), got list"),
        ('\x0c{"kind": "Pod"}', "dump.json:1: not valid JSON: Expecting value"),
        ('{"kind": "Pod", "metadata": {"name": "a"}}', "objects"),
        ("", "objects"),
        ("   \n ", "objects"),
        # what the text path refuses, refused in its words
        (DUP, 'dump.json:3: duplicate key "type" in the object starting here: kubectl refuses the file '
              "(duplicate field); a lenient reader would keep the last value"),
        ('{"kind": "List", "items": [{"kind": "Pod"}],\n "items": [{"kind": "Node"}]}',
         'dump.json:1: duplicate key "items" in the object starting here: kubectl refuses the file '
         "(duplicate field); a lenient reader would keep the last value"),
        ('{"kind": "List", "items": [{"kind": "Pod"}]}\n\n x', "dump.json:3: not valid JSON: extra data after the object"),
        ('{"kind": "List", "items": [{"kind": "Pod"} {"kind": "Pod"}]}', "dump.json:1: not valid JSON: Expecting ',' delimiter"),
        ('{"kind": "List", "items": [{"kind": "Pod", "x": NaN}]}', "objects"),
        ('{"kind": "List", "items": [{"kind": "Pod", "x": "\\ud800"}]}', "objects"),
        ('{"kind": "List", "items": [{"kind": "Pod", "x": 1e999}]}', "objects"),
        ('{"kind": "List", "items": [\n\n{"kind": "Pod", "spec": 5}]}',
         "dump.json:3: items[0].spec is an integer, not an object: kubectl refuses the file"),
        ('{"kind": "List", "items": [{"kind": "Pod", "x": ' + "9" * 5000 + "}]}",
         "dump.json:1: not accepted: a JSON number of more than 4,300 digits"),
    ],
)
def test_what_the_mapped_path_leaves_alone_reads_as_the_text_path_reads_it(tmp_path: Path, data: str | bytes, want: str) -> None:
    (_, errs), taken = same(tmp_path, data)
    assert not taken
    if want == "objects":
        assert errs == []
    else:
        assert [e.replace(str(tmp_path) + "/", "") for e in errs] == [want]


def test_a_file_over_the_input_limit_is_refused_in_the_same_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAIRPIN_MAX_INPUT", "100")
    (objs, errs), taken = same(tmp_path, dump(KUBECTL, 4, True))
    assert not taken and objs == [] and len(errs) == 1 and "larger than the input limit of 100 bytes" in errs[0]


def test_nesting_at_the_recursion_limit_is_read_alike(tmp_path: Path) -> None:
    """Every depth from 150 below this Python's JSON depth (994 with 3.11: ``reading.json_depth``) to 10 above
    gives the same answer by either path; some are read, some refused."""
    answers = set()
    limit = json_depth()
    for depth in range(limit - 144, limit + 11):
        for where in ("items", "top"):
            deep = "[" * depth + "]" * depth
            if where == "items":
                text = '{"kind": "List", "items": [{"kind": "Pod", "x": ' + deep + "}]}"
            else:
                text = '{"kind": "List", "x": ' + deep + ', "items": [{"kind": "Pod"}]}'
            (_, errs), _ = same(tmp_path, text)
            answers.add(bool(errs))
    assert answers == {True, False}


@pytest.mark.parametrize("tail", [".5", "e+5", "E5", ".25e-3", "", "]"])
def test_a_top_level_number_cut_by_the_window_is_read_whole(tail: str) -> None:
    """The first window is 4,096 characters: a number of 4,094 to 4,096 digits meets its end there."""
    dec = json.JSONDecoder()
    for digits in range(4090, 4100):
        text = "1" * digits + tail + ", "
        with mmap.mmap(-1, len(text)) as mm:
            mm.write(text.encode())
            got = jm._value_at(mm, 0, dec)
        assert got == dec.raw_decode(text) and type(got[0]) is type(dec.raw_decode(text)[0])


def test_a_big_dump_gives_its_pages_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Items past the drop interval: the pages before them are dropped and the answer does not change."""
    monkeypatch.setattr(jm, "_DROP", 4096)
    doc = {"apiVersion": "v1", "kind": "List", "items": [KUBECTL["items"][i % 4] for i in range(400)]}
    (objs, errs), taken = same(tmp_path, dump(doc, 4, True))
    assert taken and errs == [] and len(objs) == 400


def _mmaps_made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The file descriptors of every mmap the reader makes from now on (-1: anonymous memory)."""
    made: list[int] = []
    real = mmap.mmap

    def spy(fileno: int, length: int, *args: Any, **kwargs: Any) -> mmap.mmap:
        made.append(fileno)
        return real(fileno, length, *args, **kwargs)

    monkeypatch.setattr(jm.mmap, "mmap", spy)
    return made


def test_the_file_is_read_into_private_memory_not_mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a mapped file truncated by another process while it is read would end hairpin with SIGBUS
    made = _mmaps_made(monkeypatch)
    (_objs, errs), taken = same(tmp_path, dump(KUBECTL, 4, True))
    assert taken and errs == [] and made == [-1]


def test_a_yaml_dump_is_told_by_its_first_bytes_and_never_read_into_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _mmaps_made(monkeypatch)
    yaml_text = "\n \napiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata:\n    name: a\n"
    (objs, errs), taken = same(tmp_path, yaml_text)
    assert not taken and errs == [] and made == []
    assert [(kind, line) for kind, _, _, line, _ in objs] == [("Pod", 6)]
    # JSON whitespace longer than the first look still opens the file the mapped way
    (objs, errs), taken = same(tmp_path, " " * (jm._HEAD + 10) + "\n" + dump(KUBECTL, 4, True))
    assert taken and errs == [] and made == [-1] and len(objs) == len(KUBECTL["items"])


@pytest.mark.parametrize("short", [True, False])
def test_a_file_that_shrinks_or_grows_while_read_is_read_the_exact_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short: bool
) -> None:
    path = tmp_path / "dump.json"
    path.write_text(dump(KUBECTL, 4, True))
    real_readv, real_read = jm.os.readv, jm.os.read
    if short:  # the file ends before its size said (truncated meanwhile)
        monkeypatch.setattr(jm.os, "readv", lambda fd, bufs: min(real_readv(fd, bufs), 0) if bufs[0].nbytes < 100
                            else real_readv(fd, [bufs[0][: bufs[0].nbytes - 50]]))  # fmt: skip
    else:  # more bytes than its size said (appended to meanwhile)
        monkeypatch.setattr(jm.os, "read", lambda fd, n: b"x" if n == 1 else real_read(fd, n))
    before = jm.taken
    assert jm.read(str(path), "dump.json") is None and jm.taken == before


@pytest.mark.parametrize("part", [7, 1 << 20])
def test_utf8_text_is_read_mapped_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: int) -> None:
    # a non-ASCII annotation used to send the whole file to the text path (3.07 s and 1,175 MiB for the
    # 262 MiB dump); positions are bytes here, characters there: the objects and lines must not move
    monkeypatch.setattr(jm, "_CHUNK", part)  # 7: characters cut by the scan's parts
    doc = json.loads(dump(KUBECTL, 4, True))
    doc["items"][0]["metadata"]["annotations"] = {"description": "caf\u00e9 \u2603 \U0001f600 " * 50}
    doc["metadata"] = {"note": "\u00e9" * 3000, "resourceVersion": ""}  # a top-level value past the first window
    (objs, errs), taken = same(tmp_path, json.dumps(doc, indent=4, ensure_ascii=False))
    assert taken and errs == []
    assert [(k, line) for k, _, _, line, _ in objs] == [("Service", 5), ("Pod", 32), ("Node", 66), ("EndpointSlice", 84)]


@pytest.mark.parametrize("bad", [b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xff"])
def test_bytes_that_are_not_utf8_go_the_text_way(tmp_path: Path, bad: bytes) -> None:
    data = dump(KUBECTL, 4, True).encode().replace(b'"name": "web"', b'"name": "w' + bad + b'b"', 1)
    (objs, errs), taken = same(tmp_path, data)
    assert not taken and objs == [] and len(errs) == 1 and "not UTF-8 text" in errs[0]
