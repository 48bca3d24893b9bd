"""A large JSON List read into memory it can give back as it goes, never held whole as text.

What this module knows: ``hairpin.parsers.manifests`` reads a file by making all of it one ``str`` (through
``hairpin.reading.read_text``) and decoding the objects from it; on a 262 MiB ``kubectl get -o json`` dump
that string is still alive when the last objects are made, a quarter of the peak memory.  Here a regular
file is read into a mapping (``mmap``) and decoded from it by the same steps the text path takes
(items laid out one object a line, as kubectl writes them, are cut apart where one item's closing line
meets the next one's opening line and each part is decoded whole by msgspec, a part that is not one item
read where the item starts by the standard library; any other List is split by msgspec into each item's
raw bytes, which point into the mapping, each checked to start where the reader expects it and decoded;
Services and items without a kind are shown free of duplicate keys, or decoded again by the standard
library with duplicate keys refused; the top-level keys are decoded by the standard library too; names
are held to ``strict.named``'s limits in the same pass as the types).  The pages
already consumed are given back every few MiB (``madvise(MADV_DONTNEED)``, Linux ``madvise(2)``).  The file
is read into a private anonymous mapping rather than mapped itself: a mapped file that another process
truncates while it is read ends the reader with SIGBUS.  A page given back reads as zeros if touched again,
so the reader only ever moves forward (and zeros are never valid JSON: a slip would be refused, then read
the exact way).

It gives an answer only when it can show the text path would give the same one: a regular file of at least
:data:`MIN_SIZE` bytes and at most the input limit, valid UTF-8 (as the text path decodes it; positions are
counted in bytes here and in characters there, and only compared through the lines, counted alike),
without NUL or carriage-return bytes (which the text path refuses or rewrites), opening with ``{`` after
JSON whitespace (so no byte-order mark; a file whose first 4 KiB say otherwise, a YAML dump, is never read
into memory here), a List whose every item is decoded whole (cut apart, or split
by msgspec from a document it accepts whole, the raw items lining up with the bytes), and the file's size,
time and inode unchanged at the end.  Anything else, and any error
of any kind (a duplicate key, a wrong field, nesting too deep, a bad number...), returns None and the file is
read again the exact way, which says what is wrong in the very same line.  Each decoder is called from as
deep in the stack as on the text path, or deeper, so nesting the text path accepts is never refused here
for a different reason, and nesting it refuses is refused here too (then read again the exact way).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import mmap
import os
import re
import stat
import sys
from typing import Any

from hairpin.errors import ParseError
from hairpin.parsers import manifests as mf
from hairpin.parsers import shapes, strict
from hairpin.reading import json_depth, max_input

__all__ = ["MIN_SIZE", "read"]

try:  # the same optional import as manifests': without msgspec every file takes the text path
    import msgspec
except ImportError:  # pragma: no cover - msgspec not installed
    msgspec = None  # type: ignore[assignment]

#: smaller files are read the exact way (the text is small next to its objects)
MIN_SIZE = 1 << 20
_CHUNK = 8 << 20  # the UTF-8/NUL/CR scan looks at this much at a time
_HEAD = 4096  # the bytes read first to see whether the text opens with ``{``
_DROP = 16 << 20  # consumed pages are given back every this many bytes
_WS = re.compile(rb"[ \t\r\n]*")  # JSON's whitespace (RFC 8259, section 2), as manifests._WS
#: a private anonymous mapping (pages given back are freed, not kept by a shared memory object as with
#: ``mmap``'s default ``MAP_SHARED``), its pages made at once (``MAP_POPULATE``, Linux ``mmap(2)``: measured
#: 0.23 s -> 0.12 s of system time to read 262 MiB, against one page fault per page as the copy goes)
_FLAGS = mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", 0) | getattr(mmap, "MAP_POPULATE", 0)
_SEP = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*")  # between two items of a List
#: how far ahead ``_items_cut`` looks for the end of an item (a larger one is read by the standard library),
#: and after how many parts in a row that were not one item it stops looking (reading each item so then)
_REACH, _MISSES = 1 << 20, 8
_LBRACE, _RBRACE, _LBRACKET, _RBRACKET, _COMMA, _COLON = b"{}[],:"

#: files this path has read (tests look at it to know the path was taken)
taken = 0


class _Fallback(Exception):
    """Something this path cannot vouch for: the file is read the exact way."""


#: From CPython 3.12 on, the C decoders count their nesting against a limit of the C stack that Python calls
#: do not use up (CPython's "What's New in Python 3.12": the recursion limit now applies only to Python code),
#: so an item or top-level value decoded here on its own can nest two levels deeper than the same value
#: inside the whole document the text path decodes: a value this path reads may be one the text path refuses
#: (about 1,497 levels with 3.12.1, 9,998 with 3.13.0).  There, any value long enough to hold that many
#: brackets that does hold them sends the whole file to the text path.  Up to 3.11 both decoders count Python
#: frames too, and this path decodes deeper in the stack than the text path does, so it refuses first.
_C_DEPTH = sys.version_info >= (3, 12)
_DEEP: int | None = None  # brackets that may nest too deep for the text path (``json_depth`` less a margin)


def _shallow(chunk: bytes) -> None:
    """Raise ``_Fallback`` when ``chunk`` may nest as deep as the text path's decoder refuses (CPython 3.12+)."""
    global _DEEP
    if not _C_DEPTH:
        return
    if _DEEP is None:
        _DEEP = json_depth() - 16
    if len(chunk) >= _DEEP and chunk.count(b"[") + chunk.count(b"{") >= _DEEP:
        raise _Fallback


def read(path: str, file: str, errors: list[ParseError] | None = None) -> list[mf.KubeObject] | None:
    """The objects ``strict.named(manifests.parse_text(read_text(path), file), errors)`` gives, or None when
    this path cannot tell (then nothing has been reported: the caller reads the file the exact way)."""
    global taken
    if msgspec is None or path == "-":
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    mm = None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size < max(MIN_SIZE, 1) or st.st_size > max_input():
            return None
        # a file whose first character after JSON whitespace is not ``{`` (a YAML dump) is refused by ``_plain``
        # anyway: told from its first bytes, before 100 MiB are read and scanned for nothing (0.1 s)
        head = os.pread(fd, _HEAD, 0)
        pos = _WS.match(head).end()  # type: ignore[union-attr]  # matches the empty string at least
        if pos < len(head) and head[pos] != _LBRACE:
            return None
        # a private anonymous mapping the file is read into (not the file mapped: a file truncated by another
        # process while it is read would end this one with SIGBUS); its pages can still be given back
        mm = mmap.mmap(-1, st.st_size, flags=_FLAGS)
        if not _read_into(fd, mm) or not _plain(mm):
            return None
        objs, short = _parse(mm, file)
        after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns, after.st_ino) != (st.st_size, st.st_mtime_ns, st.st_ino):
            return None
        taken += 1
        # every name within the limits (the usual case) leaves ``named`` nothing to drop or say
        return objs if short else strict.named(objs, [] if errors is None else errors)
    except Exception:  # whatever it is, the exact path reads the file and says it
        return None
    finally:
        if mm is not None:
            with contextlib.suppress(BufferError):  # a raw item still points into it (an error above): closed when freed
                mm.close()
        os.close(fd)


def _read_into(fd: int, mm: mmap.mmap) -> bool:
    """The whole file into ``mm``, exactly filling it (a file that shrank or grew meanwhile: False)."""
    view = memoryview(mm)
    try:
        got = 0
        while got < len(mm):
            n = os.readv(fd, [view[got:]])
            if n <= 0:
                return False
            got += n
        return os.read(fd, 1) == b""
    finally:
        view.release()


def _plain(mm: mmap.mmap) -> bool:
    """UTF-8 (strictly: no surrogate, no overlong form), no NUL, no CR, and ``{`` first after whitespace.
    A part of the text that is ASCII needs no decoding to know it."""
    size = len(mm)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    for i in range(0, size, _CHUNK):
        part = mm[i : i + _CHUNK]
        if b"\0" in part or b"\r" in part:
            return False
        if not (part.isascii() and not utf8.getstate()[0]):  # a character cut by the part's end continues here
            try:
                utf8.decode(part)
            except UnicodeDecodeError:
                return False
    try:
        utf8.decode(b"", final=True)  # nothing left half-way at the end
    except UnicodeDecodeError:
        return False
    pos = _skip(mm, 0)
    return pos < size and mm[pos] == _LBRACE


def _skip(mm: mmap.mmap, pos: int) -> int:
    return _WS.match(mm, pos).end()  # type: ignore[union-attr]  # matches the empty string at least


def _parse(mm: mmap.mmap, file: str) -> tuple[list[mf.KubeObject], bool]:
    """``manifests.parse_json`` on the mapping (called as deep in the stack as it is), and whether every name
    is known to be within ``strict.named``'s limits."""
    dec = json.JSONDecoder(object_pairs_hook=mf._no_duplicates)
    pos = _skip(mm, 0)
    first = mm[:pos].count(b"\n") + 1  # before any page is given back: a page given back reads as zeros
    doc, item_lines, end = _decode_top(mm, pos, dec, _Lines(mm))
    if _skip(mm, end) < len(mm):
        raise _Fallback
    out, vet, short = _objects(doc, file, first, item_lines)
    for o in vet:
        strict.vet_object(o.data, file, o.line, o.kind)
        shapes.vet_shape(o.kind, o.data, file, o.line)
    return out, short


#: kinds whose type check (``shapes.well_typed``) holds metadata, spec and status to be objects, so an item
#: it passes needs no ``manifests._shape`` (which checks just that)
_SHAPED = frozenset(
    k for k, sch in shapes.SCHEMAS.items() if isinstance(sch.get("spec"), dict) and isinstance(sch.get("status"), dict)
)


#: kind -> ``shapes.typed(kind)`` that also holds the names to ``strict.named``'s limits (built on first use)
_SHORT: dict[str, Any] = {}


def _short(kind: str) -> Any:
    got = _SHORT.get(kind)
    if got is None:
        got = _SHORT[kind] = shapes.typed_short(kind, strict.name_limit(kind), strict.NAMESPACE_LIMIT)
    return got


def _objects(
    doc: Any, file: str, line: int, item_lines: list[int] | None
) -> tuple[list[mf.KubeObject], list[mf.KubeObject], bool]:
    """``list(manifests._objects_of(...))`` in one pass with the type check ``manifests.parse_json`` makes
    after it, the objects that check did not pass (to be vetted in order, once every item is read, as
    there), and whether every name is within ``strict.named``'s limits (then it has nothing to say): the
    same objects and the same first error."""
    if not isinstance(doc, dict):
        return list(mf._objects_of(doc, file, line, item_lines)), [], False
    kind = doc.get("kind")
    items = doc.get("items")
    if (not isinstance(kind, str) or not kind.endswith("List") or not isinstance(items, list) or item_lines is None
            or len(item_lines) != len(items)):  # fmt: skip
        objs = list(mf._objects_of(doc, file, line, item_lines))
        return objs, [o for o in objs if not shapes.well_typed(o.kind, o.data)], False
    item_kind = kind[: -len("List")] or None
    out: list[mf.KubeObject] = []
    vet: list[mf.KubeObject] = []
    short = True
    typed, kind_of, checks = shapes.typed, mf.item_kind_of, _SHORT
    make, append = mf.KubeObject, out.append
    for i, (item, at) in enumerate(zip(items, item_lines, strict=True)):
        # ``manifests.item_kind_of`` written out for an object with a kind; anything else asks it
        k = (item.get("kind") or item_kind) if type(item) is dict else None
        if type(k) is not str or not k:
            k = kind_of(i, item, item_kind, file, at)
            if k is None:
                continue
        o = make(k, item, file, at)
        check = checks.get(k) or _short(k)
        if check(item):
            if k not in _SHAPED:
                mf._shape(item, file, at, f"items[{i}].")
        else:
            short = False  # a name too long, or a type wrong: told apart by the plain check
            if typed(k)(item):
                if k not in _SHAPED:
                    mf._shape(item, file, at, f"items[{i}].")
            else:
                mf._shape(item, file, at, f"items[{i}].")
                vet.append(o)
        append(o)
    return out, vet, short


def _top_raws(mm: mmap.mmap) -> list[Any]:
    """msgspec's raw bytes of each item (``manifests.item_raws``, as deep in the stack), reversed so that
    each is dropped as it is taken; no ``items`` list: the exact path."""
    items: list[Any] | None = mf._TOP_DECODER.decode(mm).items
    if items is None:
        raise _Fallback
    items.reverse()
    return items


class _Lines:
    """``manifests._Lines`` on bytes, moving forward only; an item's newlines are counted in its copy."""

    def __init__(self, mm: mmap.mmap) -> None:
        self.mm = mm
        self.pos = 0
        self.no = 1

    def line(self, offset: int) -> int:
        if offset < self.pos:
            raise _Fallback
        self.no += self.mm[self.pos : offset].count(b"\n")
        self.pos = offset
        return self.no

    def past(self, offset: int, newlines: int) -> None:
        self.no += newlines
        self.pos = offset


def _value_at(mm: mmap.mmap, pos: int, dec: json.JSONDecoder) -> tuple[Any, int]:
    """The JSON value at ``pos`` (a top-level key or value) as ``dec.raw_decode`` reads it from the whole
    text: decoded from a window of the bytes that grows until the value ends at least 3 characters before
    the window does (a number reads on past its end by at most 3: ``1.5``, ``1e+5``) or reaches the end."""
    size = len(mm)
    width = 4096
    while True:
        stop = min(size, pos + width)
        width *= 4
        try:
            text = mm[pos:stop].decode("utf-8")  # a character cut by the window's end: a wider window
            value, end = dec.raw_decode(text)
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            if stop == size:
                raise
            continue
        if stop == size or end + 3 <= len(text):
            taken = text[:end].encode("utf-8")
            _shallow(taken)
            return value, pos + len(taken)  # characters -> bytes


def _unique(value: Any, chunk: bytes) -> bool:
    """True when the item's text holds no key twice, shown by its decoded value encoded again equal to the
    text without whitespace: a key given twice is decoded once, so the two could not be equal (as
    ``hairpin.parsers.yaml_list`` proves it).  False: not shown (an escape or a number written otherwise than
    msgspec writes it), and the standard library's reader with duplicate keys refused decides, as before
    (measured on 10,000 Services: 0.08-0.10 s that way, a few hundredths this way)."""
    return bool(msgspec.json.encode(value) == msgspec.json.format(chunk, indent=-1))


def _decode_raw(mm: mmap.mmap, pos: int, raw: Any) -> tuple[Any, bytes, int]:
    """``manifests._decode_raw`` on the mapping: the item, its bytes, and where it ends."""
    n = len(raw)
    chunk = mm[pos : pos + n]
    if msgspec.Raw(chunk) != raw:
        raise _Fallback
    _shallow(chunk)
    return mf._MSG_DECODER.decode(raw), chunk, pos + n


def _decode_top(
    mm: mmap.mmap, pos: int, dec: json.JSONDecoder, lines: _Lines
) -> tuple[dict[str, Any], list[int] | None, int]:
    """``manifests._decode_top`` on the mapping, its items decoded by msgspec (:func:`_items_cut` or
    :func:`_items_raw`); anything it would refuse (or read again without msgspec) is a :class:`_Fallback` or
    the decoder's own error, and so is a document without an ``items`` list (left to the exact path)."""
    out: dict[str, Any] = {}
    item_lines: list[int] | None = None
    size = len(mm)
    pos = _skip(mm, pos + 1)
    if pos < size and mm[pos] == _RBRACE:
        raise _Fallback
    while True:
        key, pos = _value_at(mm, pos, dec)
        if not isinstance(key, str):
            raise _Fallback
        pos = _skip(mm, pos)
        if pos >= size or mm[pos] != _COLON:
            raise _Fallback
        pos = _skip(mm, pos + 1)
        if key in out:
            raise _Fallback
        if key == "items" and pos < size and mm[pos] == _LBRACKET:
            items: list[Any] = []
            item_lines = []
            pos = _skip(mm, pos + 1)
            if pos < size and mm[pos] == _RBRACKET:
                pos += 1
            else:
                indent = _indent(mm, pos)
                if indent:
                    pos = _items_cut(mm, pos, indent, dec, lines, items, item_lines)
                else:
                    pos = _items_raw(mm, pos, dec, lines, items, item_lines)
            out[key] = items
        else:
            out[key], pos = _value_at(mm, pos, dec)
        pos = _skip(mm, pos)
        if pos < size and mm[pos] == _COMMA:
            pos = _skip(mm, pos + 1)
            continue
        if pos < size and mm[pos] == _RBRACE and item_lines is not None:
            return out, item_lines, pos + 1
        raise _Fallback


def _indent(mm: mmap.mmap, pos: int) -> bytes:
    """The spaces and tabs that lead the first item's line when that item is an object alone at the start of
    its line (as kubectl, ``jq`` and ``json.dumps(indent=...)`` write a List), else b""."""
    if mm[pos] != _LBRACE:
        return b""
    start = mm.rfind(b"\n", 0, pos) + 1
    lead = mm[start:pos]
    return lead if start > 0 and lead and not lead.strip(b" \t") else b""


def _drop(mm: mmap.mmap, dropped: int, pos: int) -> int:
    """The pages wholly before ``pos`` given back (every :data:`_DROP` bytes); where the given back part ends."""
    if pos - dropped < _DROP:
        return dropped
    upto = pos - pos % mmap.PAGESIZE
    mm.madvise(mmap.MADV_DONTNEED, dropped, upto - dropped)
    return upto


def _items_cut(
    mm: mmap.mmap,
    pos: int,
    indent: bytes,
    dec: json.JSONDecoder,
    lines: _Lines,
    items: list[Any],
    item_lines: list[int],
) -> int:
    """The items of a List written one object a line at ``indent`` (``pos``: the first one's ``{``), each
    cut where a line holding ``indent`` and ``}``, a comma and a line break, and ``indent`` and ``{`` meet
    (kubectl writes every item so), the last where the first line holding ``indent`` and ``}`` after it
    ends; where the list ends.  A cut line break is never inside a string (JSON strings hold no line
    break), so a cut is always between two values; each cut part must decode as one whole JSON value,
    which holds only when the part is exactly one item.  A part that does not (it ends inside an item or
    holds two: an item's own list laid out at the items' depth, a blank line or a ``null`` between items;
    or msgspec refuses the item) is left to the standard library's reader, which decodes the one value
    where the item starts, duplicate keys refused, as the text path reads a List msgspec does not take
    (``manifests._decode_top``); the cuts go on after it.  msgspec's split of the whole document into raw
    items (0.26 s on the 262 MiB dump: the text parsed once more) is not made; each part is decoded deeper
    in the stack than the text path decodes an item or skips it whole, so nesting it refuses is refused
    here too."""
    cut = b"\n" + indent + b"},\n" + indent + b"{"
    close = b"\n" + indent + b"}"
    tail = len(close)  # an item's end past the cut's start
    step = len(cut) - 1  # the next item's start past it
    # a regular expression of the literal finds it in 0.17-0.20 s over the 262 MiB dump, ``mmap.find``
    # (two-way search) in 0.35 s (measured 2026-12-02, Python 3.11.7); one of its rarer end (``},``, a line
    # break, ``indent`` and ``{``: a search for a literal opening with a line break stops at every line), the
    # line break and ``indent`` before it then checked, in two thirds of that (0.23 s against 0.32 s on a
    # busy machine, 2026-12-03): the first match so checked is the first cut, as the search from ``lead``
    # on places the cut's start at ``pos`` or after
    head = b"\n" + indent
    lead = len(head)
    search = re.compile(re.escape(cut[lead:])).search
    sep = _SEP.match
    append_line, append = item_lines.append, items.append
    size = len(mm)
    no = lines.line(pos)
    dropped = 0
    missed = 0  # parts in a row that were not one item
    while True:
        append_line(no)
        if missed < _MISSES:
            reach = pos + _REACH
            m = search(mm, pos + lead, reach)
            while m is not None:
                at = m.start() - lead
                if mm[at : at + lead] == head:
                    break
                m = search(mm, at + lead + 1, reach)
            else:
                at = mm.find(close, pos, reach)
            got = _decode_part(mm, pos, at + tail) if at >= 0 else None
        else:  # the layout is not what it seemed: no more searching ahead (each search could read far)
            m = got = None
        if got is not None:
            missed = 0
            value, chunk = got
            end = at + tail
            if type(value) is dict and value.get("kind") in (None, "Service") and not _unique(value, chunk):
                dec.raw_decode(chunk.decode("utf-8"))  # duplicate keys refused (then the exact path)
        else:  # not one item: the one value that starts here
            missed += 1
            m = None
            value, end = _value_at(mm, pos, dec)
            chunk = mm[pos:end]
        no += chunk.count(b"\n")
        append(value)
        if m is not None:  # the cut: a comma and one line break
            no += 1
            pos = at + step
        else:
            s = sep(mm, end)
            if s is None:
                break
            no += s.group().count(b"\n")
            pos = s.end()
        dropped = _drop(mm, dropped, pos)
    pos = _skip(mm, end)
    lines.past(pos, 0)
    lines.no = no + mm[end:pos].count(b"\n")
    if pos < size and mm[pos] == _RBRACKET:
        return pos + 1
    raise _Fallback


def _decode_part(mm: mmap.mmap, pos: int, end: int) -> tuple[Any, bytes] | None:
    """The JSON value ``mm[pos:end]`` holds whole, and those bytes; None when they hold no one whole value or
    msgspec refuses it (it refuses anything after the value).  Decoded two calls deeper than
    :func:`_items_cut`, itself a call deeper than ``manifests._decode_top``: deeper than the text path's
    ``_decode_raw`` and than its skip of the whole document, whose object and ``items`` list each take one
    level of nesting before the items' own."""
    chunk = mm[pos:end]
    try:
        value = _decoded(chunk)
    except Exception:
        return None
    _shallow(chunk)
    return value, chunk


def _decoded(chunk: bytes) -> Any:
    return mf._MSG_DECODER.decode(chunk)


def _items_raw(
    mm: mmap.mmap, pos: int, dec: json.JSONDecoder, lines: _Lines, items: list[Any], item_lines: list[int]
) -> int:
    """The items of any other List (``pos``: the first one's start) as msgspec splits the whole document
    (``_top_raws``; every page is still resident); where the list ends."""
    raws = _top_raws(mm)
    size = len(mm)
    dropped = 0
    # the loop below runs once per item: the steps of ``_Lines`` and ``_skip`` written out, the usual
    # separator (whitespace, a comma, whitespace) one match
    no = lines.line(pos)
    sep = _SEP.match
    append_line, append, pop = item_lines.append, items.append, raws.pop
    while True:
        append_line(no)
        if not raws:
            raise _Fallback
        value, chunk, pos = _decode_raw(mm, pos, pop())
        no += chunk.count(b"\n")
        if type(value) is dict and value.get("kind") in (None, "Service") and not _unique(value, chunk):
            dec.raw_decode(chunk.decode("utf-8"))  # duplicate keys refused (then the exact path)
        append(value)
        dropped = _drop(mm, dropped, pos)
        m = sep(mm, pos)
        if m is not None:
            no += m.group().count(b"\n")
            pos = m.end()
            continue
        lines.past(pos, 0)
        lines.no = no
        pos = _skip(mm, pos)
        if pos < size and mm[pos] == _RBRACKET:
            if raws:
                raise _Fallback
            return pos + 1
        raise _Fallback
