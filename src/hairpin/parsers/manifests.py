"""Kubernetes objects from YAML/JSON manifests and ``kubectl get -o json|yaml`` dumps, with file and line.

A file holds one object, a multi-document YAML stream (rendered Helm/Kustomize output), or a List
(``kind: List`` or ``ServiceList``/``PodList``/..., as ``kubectl get`` prints it; items of a typed list
may omit their kind, which is then the list's kind minus ``List``).  Each object comes back as a
``KubeObject`` with the file and the 1-based line where it starts.  Directories are walked for
``*.yaml``, ``*.yml`` and ``*.json``; ``-`` reads standard input.

Speed: a JSON List's items are decoded one at a time, so each item's offset, hence line, comes for free.
When msgspec is installed and the text is ASCII, msgspec first splits the document into each item's raw
text (``msgspec.Raw``) and decodes the items (the same CPU time as the standard library's C decoder, split
included, and a fifth less memory: it reuses key strings; measured on a 262 MiB dump of 175,000 objects,
0.94 s and 675 MiB of objects against 1.01 s and 868 MiB); the raw pieces are laid end to end over the
text and each compared with the text at its offset, and anything msgspec refuses (``NaN``, a lone
surrogate, a number out of range, nesting too deep...) sends the whole file back to the standard
library's reader (``JSONDecoder.raw_decode``), which says what is wrong exactly as before.  Either way
the top-level keys, the Services and the items without a kind are decoded again by the standard library
with duplicate keys refused.  ``load_paths`` reads a JSON List of 1 MiB or more from the mapped file instead
(``hairpin.parsers.json_mapped``: the same steps on the file's bytes, its pages given back as the items are
decoded, so the text is never resident whole next to the objects), and this text path whenever that one
cannot vouch for its answer.  YAML is read from libyaml's events (``CSafeLoader``'s parser, when PyYAML has
it) in one pass that bounds nesting and aliases as it composes the nodes libyaml's composer would
(``hairpin.parsers.compose``), whose nodes carry their start marks; each document is made into objects by one walk
(``hairpin.parsers.construct``: the objects PyYAML's constructor makes, a third faster), or by PyYAML's
constructor when it holds anything else (aliases, merge keys, explicit tags, duplicate keys).

Errors: a file that cannot be read or parsed yields one ``ParseError`` (file, line, what is wrong)
and the objects before the error; ``load_paths`` collects errors and goes on with the other files.
A document kubectl would refuse (duplicate keys, an annotation that is not a string...: see
``hairpin.parsers.strict``) is an error at the offending line; it yields no object, and the documents
after it are still read.  YAML timestamps are not resolved (a date-like value stays a string, as
kubectl reads it into a string field).

Each YAML object carries ``marks``: where its annotations and a few Service fields sit (line, column).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from hairpin.errors import InputError, ParseError
from hairpin.gcpause import paused
from hairpin.parsers import pasted, shapes, strict, yaml_list
from hairpin.parsers.compose import documents
from hairpin.parsers.construct import NotPlain, construct
from hairpin.parsers.strict import Marks
from hairpin.reading import (
    check_yaml_events,
    display_name,
    files_under,
    json_error,
    long_number,
    number_error,
    read_text,
    yaml_error,
)

__all__ = ["KubeObject", "load_paths", "parse_json", "parse_text", "parse_yaml"]

try:  # the fast JSON item decoder (optional: the standard library's reader gives the same objects)
    import msgspec

    _MSG_DECODER: Any = msgspec.json.Decoder()

    class _ListTop(msgspec.Struct):
        """A document's ``items``, each as its raw text (every other key is skipped, its syntax checked)."""

        items: list[msgspec.Raw] | None = None

    _TOP_DECODER: Any = msgspec.json.Decoder(_ListTop)
    _MSG_ERRORS: tuple[type[BaseException], ...] = (msgspec.MsgspecError, RecursionError, ValueError)
except ImportError:  # pragma: no cover - msgspec not installed
    msgspec = None  # type: ignore[assignment]
    _MSG_ERRORS = ()

try:  # libyaml's C composer: much faster on large dumps
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _KubeLoader(_Loader):  # type: ignore[misc]
    """The safe loader without the timestamp resolver: a date-like scalar stays a string."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, Any]]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
        for first, resolvers in _Loader.yaml_implicit_resolvers.items()
    }
    hairpin_file: str | None = None

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        """The safe constructor's mapping, refusing a key that appears twice.  ``flatten_mapping`` deletes
        the merge keys (``<<``) from the node's own list and gives the node a new list with the merged
        pairs in front, so ``own`` ends up holding exactly the mapping's own pairs; a merged key the
        mapping overrides is no duplicate.  The dict is as long as the pairs unless keys repeat, so the
        usual cost is one ``len`` (a separate walk over the node tree cost 25 % of the parse)."""
        own = node.value if isinstance(node, yaml.MappingNode) else None
        mapping = super().construct_mapping(node, deep)
        if own is not None and len(mapping) != len(node.value):
            strict.refuse_duplicate([(k, self.construct_object(k)) for k, _ in own], self.hairpin_file)
        return mapping

SUFFIXES = (".yaml", ".yml", ".json")
#: ``load_paths`` reads a large JSON List from the mapped file (``hairpin.parsers.json_mapped``); False: the
#: text path alone (the reference it is tested against)
mapped = True


@dataclass(slots=True)
class KubeObject:
    """One Kubernetes object as parsed (a dict), where it came from, and its kind.  Nothing changes one once it
    is made; it is not ``frozen`` because a frozen dataclass is made through five ``object.__setattr__``
    calls: 1.06 us an object against 0.29 us, 0.13 s of a 175,000-object dump (Python 3.11.7, 2026-12-03)."""

    kind: str
    data: dict[str, Any]
    file: str | None
    line: int | None
    #: where annotations and some Service fields sit, 1-based (line, column); YAML input only
    marks: Marks | None = None

    @property
    def namespace(self) -> str:
        meta = self.data.get("metadata") or {}
        return str(meta.get("namespace") or "default")

    @property
    def name(self) -> str:
        meta = self.data.get("metadata") or {}
        return str(meta.get("name") or "")


class _Lines:
    """Offset -> 1-based line number, counting newlines (in C) from the last offset asked about."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.no = 1

    def line(self, offset: int) -> int:
        if offset < self.pos:
            self.pos, self.no = 0, 1
        self.no += self.text.count("\n", self.pos, offset)
        self.pos = offset
        return self.no


def _objects_of(doc: Any, file: str | None, line: int | None, item_lines: list[int] | None) -> Iterator[KubeObject]:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise ParseError(f"expected a Kubernetes object (a mapping), got {type(doc).__name__}", file, line)
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        if "kind" not in doc and isinstance(doc.get("items"), list) and "metadata" not in doc:
            # kubectl get -o yaml/json writes a List's keys sorted: apiVersion, items, kind: List, metadata
            # (k8s.io/cli-runtime pkg/printers JSONPrinter/YAMLPrinter marshal the List as an unstructured map,
            # whose keys Go's encoding/json sorts; sigs.k8s.io/yaml goes through JSON): items with no kind or
            # metadata after them is a List cut short (its last item may be cut too)
            raise ParseError("a List with items but no 'kind: List' after them (kubectl writes kind and metadata "
                             "after the items): the file looks cut short; write the dump again", file, line)
        if {"nodes", "pods", "services"} <= doc.keys():  # hairpin.scenario's top-level keys (docs/scenarios.md)
            run = f"hairpin reproduce --scenario {shlex.quote(file) if file and file != '<stdin>' else 'FILE'}"
            raise ParseError(f"not a Kubernetes object: no kind; this is a hairpin scenario ({run} runs it)", file, line)
        raise ParseError("not a Kubernetes object: no kind", file, line)
    items = doc.get("items")
    if kind.endswith("List") and isinstance(items, list):
        item_kind = kind[: -len("List")] or None
        for i, item in enumerate(items):
            at = item_lines[i] if item_lines is not None and i < len(item_lines) else line
            k = item_kind_of(i, item, item_kind, file, at)
            if k is None:
                continue
            _shape(item, file, at, f"items[{i}].")
            yield KubeObject(k, item, file, at)
        return
    _shape(doc, file, line)
    yield KubeObject(kind, doc, file, line)


def item_kind_of(i: int, item: Any, list_kind: str | None, file: str | None, at: int | None) -> str | None:
    """The kind of item ``i`` of a List (its own, else the List's: a ``PodList``'s items may leave it out);
    None for a null item (skipped); ParseError for an item that is no mapping or has no kind."""
    if item is None:
        return None
    if not isinstance(item, dict):
        raise ParseError(f"items[{i}]: expected a Kubernetes object (a mapping)", file, at)
    k = item.get("kind") or list_kind
    if not isinstance(k, str) or not k:
        raise ParseError(f"items[{i}]: not a Kubernetes object: no kind", file, at)
    return k


def _shape(obj: dict[str, Any], file: str | None, line: int | None, where: str = "") -> None:
    """Every Kubernetes object's metadata, spec and status are objects (the API server refuses anything else)."""
    for key in ("metadata", "spec", "status"):
        v = obj.get(key)
        if v is not None and not isinstance(v, dict):
            got = shapes.json_type(v)
            raise ParseError(f"{where}{key} is {shapes.article(got)}, not an object: kubectl refuses the file", file, line)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key
        self.line: int | None = None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a JSON object with the same key twice is refused (the API server's strict
    field validation, kubectl's default since 1.27, reports a duplicate field); as fast as the plain
    decoder (measured: 1.00 s either way on 100,000 pods)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return out


def parse_json(text: str, file: str | None = None, *, fast: bool = True) -> list[KubeObject]:
    """The objects of a JSON document (one object or a List), each with its line.  ``fast=False``: the
    standard library's reader alone (the reference the msgspec path is tested against)."""
    lines = _Lines(text)
    dec = json.JSONDecoder(object_pairs_hook=_no_duplicates)
    pos = _skip_ws(text, 0)
    if pos >= len(text):
        return []
    try:
        if text[pos] != "{":
            doc, _ = dec.raw_decode(text, pos)
            return list(_objects_of(doc, file, lines.line(pos), None))
        raws = item_raws(text) if fast else None
        try:
            doc, item_lines, end = _decode_top(text, pos, dec, lines, _PLAIN, raws)
        except _NotFast:
            lines = _Lines(text)
            doc, item_lines, end = _decode_top(text, pos, dec, lines, _PLAIN, None)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise json_error(exc, file) from None
    except _DuplicateKey as exc:
        raise ParseError(
            f'duplicate key "{exc.key}" in the object starting here: kubectl refuses the file (duplicate field); '
            "a lenient reader would keep the last value",
            file,
            exc.line if exc.line is not None else lines.line(pos),
        ) from None
    except ValueError as exc:  # an integer too long for Python to read (JSONDecodeError is caught above)
        if not long_number(exc):
            raise
        raise number_error(text, file, "JSON") from None
    end = _skip_ws(text, end)
    if end < len(text):
        raise ParseError("not valid JSON: extra data after the object", file, lines.line(end))
    out = list(_objects_of(doc, file, lines.line(pos), item_lines))
    for o in out:
        if not shapes.well_typed(o.kind, o.data):  # the common case costs one generated check, not two walks
            strict.vet_object(o.data, file, o.line, o.kind)
            shapes.vet_shape(o.kind, o.data, file, o.line)
    return out


_WS = re.compile(r"[ \t\r\n]*")  # JSON's whitespace (RFC 8259, section 2), as the json module skips it


def _skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]  # matches the empty string at least


_PLAIN = json.JSONDecoder()


class _NotFast(Exception):
    """The raw items msgspec gave do not line up with the text, or msgspec refused one: read it again."""


def item_raws(text: str) -> list[Any] | None:
    """The raw text of each element of the document's ``items`` as msgspec finds it (the last ``items`` key
    if there are several), or None: msgspec missing, the text not ASCII (raw lengths are in bytes, offsets
    in characters), not a JSON object with an ``items`` list, or anything msgspec refuses."""
    if msgspec is None or not text.isascii():
        return None
    try:
        top = _TOP_DECODER.decode(text)
    except _MSG_ERRORS:
        return None
    items: list[Any] | None = top.items
    return items


def _decode_raw(text: str, pos: int, raw: Any) -> tuple[Any, int]:
    """The item whose raw text msgspec found, provided that text starts at ``pos``; and where it ends.
    A function of its own so that it nests as deep in the stack as ``JSONDecoder.raw_decode`` does, which
    gives both decoders the same limit of nesting (both count C recursion against Python's limit)."""
    n = len(raw)  # bytes; the text is ASCII, so characters too
    if raw != msgspec.Raw(text[pos : pos + n]):
        raise _NotFast
    try:
        return _MSG_DECODER.decode(raw), pos + n
    except _MSG_ERRORS:
        raise _NotFast from None


def _decode_top(
    text: str, pos: int, dec: json.JSONDecoder, lines: _Lines, plain: json.JSONDecoder, raws: list[Any] | None = None
) -> tuple[dict[str, Any], list[int] | None, int]:
    """Decode the top-level object key by key, recording the line of each element of ``items``.

    ``dec`` refuses duplicate keys; List items are decoded by the faster ``plain`` decoder (or from
    ``raws``, msgspec's raw text of each item: ``_NotFast`` when they do not line up with the text), and
    only Services (and items without a kind) are decoded again by ``dec``: a List of Pods and Nodes is what
    ``kubectl get -o json`` prints, serialised by the API server without duplicates, and the hook costs
    ~30 % of the decoding (measured: 0.19 s -> 0.25 s on a 52 MiB dump, with ``dict`` as the hook).
    """
    out: dict[str, Any] = {}
    item_lines: list[int] | None = None
    pos = _skip_ws(text, pos + 1)
    if pos < len(text) and text[pos] == "}":
        return out, None, pos + 1
    while True:
        key, pos = dec.raw_decode(text, pos)
        if not isinstance(key, str):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
        pos = _skip_ws(text, pos)
        if pos >= len(text) or text[pos] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
        pos = _skip_ws(text, pos + 1)
        if key in out:
            raise _DuplicateKey(key)
        if key == "items" and pos < len(text) and text[pos] == "[":
            items: list[Any] = []
            item_lines = []
            pos = _skip_ws(text, pos + 1)
            fast = iter(raws) if raws is not None else None
            raws = None  # a second "items" key (refused below) is not what msgspec kept: msgspec keeps the last
            if pos < len(text) and text[pos] == "]":
                pos += 1
                if fast is not None and next(fast, None) is not None:
                    raise _NotFast
            else:
                while True:
                    item_lines.append(lines.line(pos))
                    start = pos
                    if fast is None:
                        value, pos = plain.raw_decode(text, pos)
                    else:
                        raw = next(fast, None)
                        if raw is None:
                            raise _NotFast
                        value, pos = _decode_raw(text, pos, raw)
                    if isinstance(value, dict) and value.get("kind") in (None, "Service"):
                        try:
                            dec.raw_decode(text, start)
                        except _DuplicateKey as exc:
                            exc.line = item_lines[-1]
                            raise
                    items.append(value)
                    pos = _skip_ws(text, pos)
                    if pos < len(text) and text[pos] == ",":
                        pos = _skip_ws(text, pos + 1)
                        continue
                    if pos < len(text) and text[pos] == "]":
                        pos += 1
                        if fast is not None and next(fast, None) is not None:
                            raise _NotFast
                        break
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
            out[key] = items
        else:
            out[key], pos = dec.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "}":
            return out, item_lines, pos + 1
        raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)


def parse_yaml(
    text: str,
    file: str | None = None,
    errors: list[ParseError] | None = None,
    *,
    fast: bool = True,
    one_pass: bool = True,
    lists: bool = True,
) -> list[KubeObject]:
    """The objects of a (multi-document) YAML stream, each with its line.  ``fast=False``: every document
    made by PyYAML's constructor (``hairpin.parsers.construct`` is tested against it).  ``one_pass=False``:
    the stream's events checked in a pass of their own, then the documents composed by libyaml's composer
    (the reference ``hairpin.parsers.compose`` is tested against).  ``lists=False``: a List's items are
    never read by rapidyaml (``hairpin.parsers.yaml_list``, tested against this path).

    A syntax error, a document nested deeper than ``hairpin.reading.max_depth()`` or an alias bomb ends
    the stream: with ``errors`` given, the objects before it are returned and the error appended; without,
    it is raised.  (Depth and aliases are counted on the events as the documents are composed.)
    """
    if lists and fast and one_pass and yaml_list.available():
        got = yaml_list.read(text, file, lambda t: _exact_list(t, file), lambda t: _skeleton_kind(t, file))
        if got is not None:
            objs = [KubeObject(k, d, file, line, marks) for k, d, line, marks in got]
            return strict.Named(objs) if got.__class__ is strict.Named else objs  # names already checked
    out: list[KubeObject] = []
    loader = None
    try:
        loader = _KubeLoader(text)
        loader.hairpin_file = file
        nodes = documents(loader, file) if one_pass else _two_pass(text, file, loader)
        for node in nodes:
            if node is None:
                continue
            try:
                strict.vet_yaml(node, file)
            except ParseError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                continue  # kubectl refuses this document; the next ones are still read
            line = node.start_mark.line + 1
            item_lines = _yaml_item_lines(node)
            try:
                try:
                    if not fast:
                        raise NotPlain
                    doc = construct(node, loader)
                except NotPlain:
                    doc = loader.construct_document(node)
            except (ParseError, ValueError) as exc:  # a duplicate key, or an integer too long for Python to read:
                if isinstance(exc, ValueError):  # this document is refused, the next ones are read
                    if not long_number(exc):
                        raise
                    exc = number_error(text, file, "YAML")
                if errors is None:
                    raise exc from None
                errors.append(exc)
                loader.constructed_objects, loader.recursive_objects, loader.state_generators = {}, {}, []
                continue
            at = {n.start_mark.line + 1: strict.marks(n) for n in strict.object_nodes(node)}
            objs = list(_objects_of(doc, file, line, item_lines))
            try:
                for o in objs:
                    shapes.vet_shape(o.kind, o.data, file, o.line)
            except ParseError as exc:  # a field of the wrong type: the document is refused
                if errors is None:
                    raise
                errors.append(exc)
                continue
            out.extend(KubeObject(o.kind, o.data, o.file, o.line, at.get(o.line or 0)) for o in objs)
    except yaml.YAMLError as exc:
        err = yaml_error(exc, file, text, context=False)
        if errors is None:
            raise err from None
        errors.append(err)
    except ParseError as exc:
        if errors is None:
            raise
        errors.append(exc)
    finally:
        if loader is not None:
            loader.dispose()
    return out


def _exact_list(text: str, file: str | None) -> list[yaml_list.Item] | None:
    """A List's objects read the exact way, or None when it says anything is wrong (for ``yaml_list``)."""
    errs: list[ParseError] = []
    objs = parse_yaml(text, file, errs, lists=False)
    if errs:
        return None
    return [(o.kind, o.data, o.line or 0, o.marks) for o in objs]


def _skeleton_kind(text: str, file: str | None) -> str | None:
    """The kind of the one document of ``text``, read the exact way, when it is a List whose items are
    ``[]``; None otherwise or on any error (for ``yaml_list``: the document around the items it reads)."""
    loader = _KubeLoader(text)
    loader.hairpin_file = file
    try:
        nodes = [n for n in documents(loader, file) if n is not None]
        if len(nodes) != 1:
            return None
        strict.vet_yaml(nodes[0], file)
        doc = loader.construct_document(nodes[0])
    except (yaml.YAMLError, ParseError, RecursionError, ValueError):
        return None
    finally:
        loader.dispose()
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if not isinstance(kind, str) or not kind.endswith("List") or doc.get("items") != []:
        return None
    return kind


def _two_pass(text: str, file: str | None, loader: Any) -> Iterator[Any]:
    """The documents' nodes as hairpin read them before ``hairpin.parsers.compose``: the whole event stream
    checked first (``check_yaml_events``), then each document composed by ``loader``'s own composer; the
    first bad document's error raised in place of that document."""
    bad = check_yaml_events(text, file, _Loader, aliases=True)  # merge keys (<<: *base) are valid YAML 1.1
    n_doc = 0
    while loader.check_node():
        if bad is not None and n_doc >= bad[0]:
            raise bad[1]
        n_doc += 1
        yield loader.get_node()
    if bad is not None:
        raise bad[1]


def _yaml_item_lines(node: Any) -> list[int] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "items" and isinstance(v, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in v.value]
    return None


def parse_text(text: str, file: str | None = None, errors: list[ParseError] | None = None) -> list[KubeObject]:
    """JSON when the first non-blank character opens a JSON object or array, else YAML."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return parse_json(text, file)
        except ParseError as exc:
            if errors is None:
                raise
            errors.append(exc)
            return []
    return parse_yaml(text, file, errors)


def _files(paths: Iterable[str | Path], errors: list[ParseError]) -> Iterator[str]:
    for p in paths:
        s = str(p)
        if s == "-":
            yield s
            continue
        path = Path(s)
        if path.is_dir():
            found = sorted(f for f in files_under(path) if f.suffix.lower() in SUFFIXES and f.is_file())
            yield from (str(f) for f in found)
        elif path.exists():
            yield s
        else:
            errors.append(ParseError("no such file or directory", s))


def load_paths(paths: Iterable[str | Path], errors: list[ParseError] | None = None) -> list[KubeObject]:
    """Every object in the given files and directories; each bad file adds one error to ``errors``."""
    errs: list[ParseError] = [] if errors is None else errors
    out: list[KubeObject] = []
    with paused():  # millions of small dicts, no cycles: hairpin.gcpause
        _load_into(out, paths, errs)
    if errors is None and errs:
        raise errs[0]
    return out


def _load_into(out: list[KubeObject], paths: Iterable[str | Path], errs: list[ParseError]) -> None:
    from hairpin.parsers import json_mapped  # a large JSON List read from the mapped file, not a str of it
    from hairpin.parsers.list_nested import flatten_lists  # a List inside a List: its items

    for f in _files(paths, errs):
        objs = json_mapped.read(f, display_name(f), errs) if mapped else None  # names checked too (strict.named)
        if objs is not None:
            flat = flatten_lists(objs, errs)
            out.extend(objs if flat is objs else strict.named(flat, errs))
            continue
        try:
            text = read_text(f)  # bounded, UTF-8, no NUL bytes (hairpin.reading)
        except ParseError as exc:
            errs.append(exc)
            continue
        except InputError as exc:
            errs.append(ParseError(exc.message, exc.file, exc.line))
            continue
        before = len(errs)
        objs = parse_text(text, display_name(f), errs)
        prompt = pasted.prompt_error(text, display_name(f)) if len(errs) > before else None
        if prompt is not None:
            # a shell prompt pasted above or below a dump breaks it in YAML's or JSON's words, often lines away
            # ("not valid JSON", "got str"): name the prompt line instead (hairpin.parsers.pasted)
            errs[before:] = [prompt]
            continue
        out.extend(strict.named(flatten_lists(objs, errs), errs))
