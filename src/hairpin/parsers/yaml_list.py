"""The items of a large ``kubectl get -o yaml`` List read by rapidyaml, when that gives what the exact path gives.

The exact YAML path (``hairpin.parsers.manifests.parse_yaml``: libyaml's events, ``compose``, ``construct``,
the checks kubectl makes) costs about 0.24 s of CPU per MiB, nearly all of it in making one Python object
per event and node.  rapidyaml (a C++ YAML parser, ``pip install rapidyaml``, optional) parses a run of
items and emits it as JSON, which msgspec decodes, about ten times faster.  The two do not read alike:
rapidyaml resolves plain scalars by YAML 1.2's rules, PyYAML (and kubectl's reader) by YAML 1.1's
(``yes``, ``0755``, ``1:30``, ``.inf``, ``~`` are typed in 1.1 and strings in rapidyaml's JSON; ``1e3``
is a string in PyYAML and a number in rapidyaml's), and rapidyaml keeps duplicate keys.  So
``read(text, file, exact)`` only answers when it can show, for the text it was given, that the answer is
the exact path's; otherwise it returns None and the caller reads the file the exact way:

- the file is one ``kind: ...List`` document whose ``items:`` is a block sequence at column 0, each item
  starting ``- KEY`` at column 0 (the item's line is that line's); the rest of the document (items
  replaced by ``[]`` and blank lines, so lines keep their numbers) is read by the exact path;
- the text has no character PyYAML's reader refuses, no tab, carriage return, byte-order mark or
  Unicode line break, no document marker or directive, and no line indented as deep as the nesting
  limit;
- an item holding anything else rapidyaml might read otherwise goes to the exact path on its own (its
  line and marks shifted back): a backslash, a comment, a trailing space or empty line, a flow collection
  other than ``{}``/``[]``, a tag, anchor, alias, block scalar (but an item whose only such construct is
  literal blocks of the forms kubectl prints, ``KEY: |``, ``KEY: |-``, ``- |`` and ``- |-``, is read with
  each block replaced by a plain placeholder and held to every check here: ``hairpin.parsers.literal_blocks``), complex key, merge key or any indicator
  character at the start of a token (a ``:`` there is an empty key, which libyaml refuses and rapidyaml
  reads as ``""``), a quoted scalar not closed on its line; so does an item whose
  ``marks`` would not be empty (annotations, a Service's fields: ``hairpin.parsers.strict.marks``) when
  its lines do not show them plainly (``hairpin.parsers.block_marks``);
- rapidyaml's JSON must hold no fraction or exponent (msgspec's float hook refuses the run): rapidyaml
  respells plain floats (``1.`` is written ``1.0``, ``-.5`` as ``-0.5``, a string in PyYAML) and reads
  ``1e3`` as a number where PyYAML reads a string; what msgspec accepts unquoted besides is ``true``,
  ``false``, ``null`` and decimal integers, which rapidyaml writes as they stand and PyYAML types alike;
  and every string that PyYAML's resolver would type if it were plain must not occur plain in the items'
  text (a regular expression over the text: a string quoted there is fine); such strings are found in the
  JSON by ``hairpin.parsers.json_typed`` (NumPy; the regular expression tried at every quote when it is
  unsure);
- no key is 510 characters long or longer (libyaml refuses a simple key longer than 1,024 characters,
  rapidyaml does not);
- no key was dropped by msgspec (a duplicate key: kubectl refuses the file, the exact path says where):
  msgspec's encoding of the decoded items holds as many quotes as rapidyaml's JSON (without a backslash
  no string holds a quote, so every string, key or value, is two quotes in each, and a key dropped takes
  at least its own two away); with a backslash, the encoding must be byte for byte rapidyaml's JSON with
  its whitespace removed.  The encoding holds the same strings as the JSON and no whitespace, so the
  typed strings are looked for in it;
- each object has a kind, and every field hairpin reads has its API type (``hairpin.parsers.shapes``),
  so neither ``strict.vet_yaml`` nor ``shapes.vet_shape`` would refuse it; the same check holds the names to
  ``strict.named``'s limits, and when every item read here is within them the answer is a ``strict.Named``
  (``strict.named`` then has nothing to say and does not look at the objects again).

A run handed to rapidyaml joins the items on either side of those left to the exact path (each item is a
whole entry of the sequence).  The items' end, starts, lines, trailing spaces and empty lines of an ASCII text come from its line breaks
(``hairpin.parsers.list_layout``); a risk character that occurs seldom is tried where ``str.find`` finds it
rather than by a regular-expression pass over the whole text (the same expression either way).

Measured (2026-12-01, rapidyaml 0.15.2, msgspec 0.23.0, NumPy 2.4.6, PyYAML 6.0.3, Python 3.11.7): see
docs/performance.md, "hairpin check" and "YAML under 5 s".
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from yaml.reader import Reader

from hairpin.parsers import json_typed, list_layout, literal_blocks, shapes, strict
from hairpin.parsers.block_marks import item_marks
from hairpin.reading import max_depth

try:  # optional: without it every file is read the exact way
    import ryml
except ImportError:  # pragma: no cover - exercised by tests that hide the module
    ryml = None
try:
    import msgspec
except ImportError:  # pragma: no cover
    msgspec = None  # type: ignore[assignment]

__all__ = ["available", "read"]

#: bytes of item text handed to rapidyaml at a time (bounds memory; 1 MiB measured as fast as larger runs)
CHUNK = 1 << 20
#: lines of item text in a run at most: rapidyaml makes a node or two a line, and clearing its tree between
#: runs costs its whole capacity (doubled past 65,536 nodes); 40,000 lines keep it there
RUN_LINES = 12_000

#: an object as the reader builds it: (kind, data, line, marks)
Item = tuple[str, dict[str, Any], int, Any]
#: the exact path on a List document: text -> its objects, or None on any error
Exact = Callable[[str], list[Item] | None]
#: an item being read: None (not yet), its data (decoded by rapidyaml and msgspec, not yet checked), or the Item
_Slot = dict[str, Any] | Item | None

_ITEMS = re.compile(r"(?:^|(?<=\n))items:[ ]*\n")
_REGION_END = re.compile(r"\n[^- \n]")  # the first line at column 0 that is not a sequence entry
_ITEM = re.compile(r"\n-")
_ITEM_OK = re.compile(r"- [^ \n#]")
# a token start: a space or a line break before it (over-approximates: also inside scalars).  Each
# expression starts with its literal character, so the regular expression engine skips to it at C speed.
_RISKS: list[tuple[bytes, re.Pattern[str]]] = [  # (characters that must occur for it to match, expression)
    *((bytes([c]), re.compile(f"{re.escape(chr(c))}(?<=[ \\n]{re.escape(chr(c))})")) for c in b"&*!|>%@`?]},#<=:"),
    (b"{", re.compile(r"\{(?<=[ \n]\{)(?!\}\n)")),  # flow collections but {} and []
    (b"[", re.compile(r"\[(?<=[ \n]\[)(?!\]\n)")),
    (b"'", re.compile(r"'(?<=[ \n]')(?:[^'\n]|'')*(?:\n|$)")),  # a single-quoted scalar open at the line end
    (b'"', re.compile(r'"(?<=[ \n]")[^"\n]*(?:\n|$)')),  # a double-quoted one
    (b"\\", re.compile(r"\\")),  # escapes
    (b"", re.compile(r"- - - - ")),  # deeply nested sequences
]
#: trailing spaces and empty lines (``list_layout`` finds them in an ASCII text)
_LINE_RISKS = [re.compile(r" \n"), re.compile(r"\n\n")]
_RISK_CHARS = b"".join(t for t, _ in _RISKS)
_NON_RISK = bytes(b for b in range(256) if b not in _RISK_CHARS)
_INF_NAN = re.compile(rb"inf|nan", re.IGNORECASE)
#: a string rapidyaml would have written unquoted had it been a plain value: true, false, null, a decimal
#: number (a JSON string of this form was quoted in the text, or is a key: PyYAML types plain keys too)
_SAFE = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?|true|false|null|")
#: a JSON key (rapidyaml writes one a line) of that form
_SAFE_KEY = re.compile(rb'\n *"(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?|true|false|null)": ')
_SAFE_KEY_TEXT = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?|true|false|null")
#: distinct typed strings a run may hold before the fast path gives up on it (each is looked for in the text)
MAX_WORDS = 256
#: a key libyaml may refuse: a simple key of more than 1,024 characters (PyYAML 6.0.3 with libyaml), which
#: rapidyaml reads; 510 characters of JSON key are at most 1,022 of single-quoted text with
#: every quote doubled, so a shorter key is always within the limit
_LONG_KEY = re.compile(rb'\n *"[^"\n]{510}')


#: kind -> ``shapes.typed(kind)`` that also holds the names to ``strict.named``'s limits (built on first use)
_SHORT: dict[str, Callable[[dict[str, Any]], bool]] = {}


def _short(kind: str) -> Callable[[dict[str, Any]], bool]:
    got = _SHORT.get(kind)
    if got is None:
        got = _SHORT[kind] = shapes.typed_short(kind, strict.name_limit(kind), strict.NAMESPACE_LIMIT)
    return got


def available() -> bool:
    """rapidyaml and msgspec are both importable."""
    return ryml is not None and msgspec is not None


def _resolvers() -> list[re.Pattern[str]]:
    """PyYAML's implicit resolvers as the reader's loader has them (imported late: no cycle)."""
    from hairpin.parsers.manifests import _KubeLoader

    found = {rx.pattern: rx for rs in _KubeLoader.yaml_implicit_resolvers.values() for _, rx in rs}
    return [found[p] for p in sorted(found)]


def _typed_pattern() -> re.Pattern[bytes]:
    """A JSON string whose text PyYAML's resolver (the reader's loader's table) would type if it were a
    plain scalar: the loader's own implicit resolvers, each anchored expression unanchored."""
    alts = []
    for rx in _resolvers():
        body = rx.pattern.strip()
        if not (body.startswith("^") and body.endswith("$")):  # pragma: no cover - PyYAML's are anchored
            raise ValueError(rx.pattern)
        alts.append(f"(?x:{body[1:-1]})")
    # a JSON string opens with one of the characters a typed scalar can start with (or is empty)
    return re.compile(f'"(?=[-+.0-9~<=!&*yYnNtTfFoO"])((?:{"|".join(alts)}))"'.encode())


_typed: re.Pattern[bytes] | None = None
#: json_typed.scan's table (the characters the resolvers' matches are made of), b"" when there is none
_bad: bytes | None = None
_one_dot = False  # no typed string holds two dots (json_typed.most_dots)


def _typed_in(js: bytes, compact: bytes | None = None) -> tuple[set[bytes], set[bytes]] | None:
    """The non-empty strings of rapidyaml's JSON ``js`` that PyYAML would type if they were plain, and those
    of them that are keys of the form ``_SAFE_KEY`` (only when some typed string is of the form ``_SAFE``);
    None when a key is long enough that libyaml might refuse it.  ``compact``: the same JSON without its
    whitespace (msgspec's encoding of the decoded run, holding the same strings), scanned instead of ``js``."""
    global _typed, _bad, _one_dot
    if _typed is None:
        _typed = _typed_pattern()
    if _bad is None:
        resolvers = _resolvers()
        chars = json_typed.alphabets(resolvers)
        _bad = b"" if chars is None else json_typed.bad_table(chars)
        _one_dot = json_typed.most_dots(resolvers) <= 1
    got = json_typed.scan(js if compact is None else compact, _bad, _typed, _one_dot) if _bad else None
    if got is None:
        return _typed_in_re(js)
    found, keys, longest = got
    if longest >= 510 and _LONG_KEY.search(js):
        return None
    found.discard(b"")
    if not any(_SAFE.fullmatch(w) for w in found):
        return found, set()
    return found, {k for k in keys if _SAFE_KEY_TEXT.fullmatch(k)}


def _typed_in_re(js: bytes) -> tuple[set[bytes], set[bytes]] | None:
    """``_typed_in`` by regular expressions over the whole JSON (the reference, and the way when
    ``json_typed.scan`` is unsure)."""
    assert _typed is not None
    if _LONG_KEY.search(js):
        return None  # a key libyaml might refuse as too long (or a long string in a list): the exact path says
    found = set(_typed.findall(js))
    found.discard(b"")  # "": quoted in the text (an empty plain value is null in both)
    if not any(_SAFE.fullmatch(w) for w in found):
        return found, set()
    return found, set(_SAFE_KEY.findall(js))


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """rapidyaml prints each parse error on the C stderr before raising; the exact path says what is wrong."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


#: in an ASCII text, what the fast path takes: printable characters and line feeds (no tab, no carriage
#: return, nothing PyYAML's reader refuses)
_ASCII_OK = bytes([*range(0x20, 0x7F), 0x0A])
_OK_NON_RISK = bytes(b for b in _ASCII_OK if b not in _RISK_CHARS)


def _gates(text: str) -> tuple[dict[int, int], bytes | None] | None:
    """The risk characters in ``text`` (``_RISKS``) and how many times each occurs, and the text's bytes when
    it is ASCII; None when the fast path cannot be tried on it at all (see the module's docstring; document
    markers are ``_markers``')."""
    if not text:
        return None
    raw = None
    if text.isascii():
        # one pass keeps what is either a risk character or refused (a control character, tab, carriage return)
        raw = text.encode("ascii")
        rest = raw.translate(None, _OK_NON_RISK)
        if rest.translate(None, _ASCII_OK):
            return None
    else:
        if "\t" in text or "\r" in text or "\ufeff" in text or re.search("[\x85\u2028\u2029]", text):
            return None
        if Reader.NON_PRINTABLE.search(text):
            return None
        rest = text.encode("utf-8").translate(None, _NON_RISK)
    if text.startswith(("---", "...", "%")):
        return None
    return {c: rest.count(c) for c in set(_RISK_CHARS) if c in rest}, raw


def _markers(text: str, begin: int, end: int) -> bool:
    """A document marker or directive at a line's start, or a line indented nearly as deep as the nesting
    limit.  Within the items ``[begin, end)`` every line starts with ``-``, a space or a line break, and each
    starting with ``-`` is an item start that ``read`` checks is ``- `` and a token, so there only the
    indentation is looked for; the document around them is searched whole."""
    deep = max(1, max_depth() - 12)
    if text.find("\n" + " " * deep, begin - 1, end) >= 0:
        return True
    rx = re.compile(f"\n(?:---|\\.\\.\\.|%| {{{deep}}})")
    return rx.search(text, 0, begin) is not None or rx.search(text, end - 1) is not None


#: a risk character occurring at most this many times is looked for occurrence by occurrence (``str.find``
#: runs at memory speed, a regular expression pass over 100 MiB costs 0.06 s whatever it finds; tried at
#: each of 50,000 braces of 100 MiB, 0.021 s, at each of 380,000 quotes 0.079 s, 2026-12-01)
SPARSE = 100_000


def _risky_items(
    text: str, starts: list[int], end: int, present: dict[int, int], spaced: list[int] | None = None
) -> set[int]:
    """Indices of the items (``starts``: their offsets in ``text``; the last ends at ``end``) whose text
    holds a risky construct (``present``: the risk characters that occur in the text, and how often;
    ``spaced``: where a trailing space or an empty line starts, when ``list_layout`` found them)."""
    out: set[int] = set()
    at = starts[0]
    risks: list[tuple[bytes, re.Pattern[str]]] = _RISKS
    if spaced is None:
        risks = [*_RISKS, *((b"", rx) for rx in _LINE_RISKS)]
    else:
        out.update(bisect.bisect_right(starts, h) - 1 for h in spaced)
    for triggers, rx in risks:
        if not triggers:
            hits: Iterator[int] = (m.start() for m in rx.finditer(text, at, end))
        elif triggers[0] not in present:
            continue
        elif present[triggers[0]] <= SPARSE:  # each expression starts with its character: tried where it occurs
            hits = _each(text, chr(triggers[0]), rx, at, end)
        else:
            hits = (m.start() for m in rx.finditer(text, at, end))
        for h in hits:
            out.add(bisect.bisect_right(starts, h) - 1)
    if text[end - 1] == " ":
        out.add(len(starts) - 1)  # a trailing space at the very end
    return out


def _each(text: str, ch: str, rx: re.Pattern[str], at: int, end: int) -> Iterator[int]:
    """Where ``rx`` (which starts with ``ch``) matches in ``text[at:end]``, tried at each ``ch``: the
    expression's own answer there, its look-behind seeing the text before ``at`` as ``finditer``'s does."""
    i = text.find(ch, at, end)
    while i >= 0:
        if rx.match(text, i, end) is not None:
            yield i
        i = text.find(ch, i + 1, end)


class _Float(Exception):
    """A fraction or exponent in rapidyaml's JSON (see the module's docstring)."""


def _no_float(text: str) -> float:
    raise _Float(text)


def _sound_json(js: bytes, body: str, compact: bytes | None = None) -> bool:
    """rapidyaml's JSON of a run of items types its scalars as PyYAML would (see the module's docstring;
    ``compact``: as for ``_typed_in``)."""
    got = _typed_in(js, compact)
    if got is None:
        return False
    found, safe_keys = got
    words: set[bytes] = set()  # strings PyYAML types when plain, and rapidyaml writes as strings
    for raw in found:
        if _INF_NAN.search(raw):  # rapidyaml respells these, quoted or not ('-.Inf' becomes "-.inf")
            return False
        if not _SAFE.fullmatch(raw):
            words.add(raw)
    # rapidyaml writes a plain true, false, null or decimal value unquoted: as a JSON string it was quoted in
    # the text (every object's resourceVersion is), unless it is a key (a JSON key is a string; PyYAML's
    # plain key -2.25 is a float); so only such keys are looked for in the text
    if len(words) + len(safe_keys) > MAX_WORDS:
        return False
    for found_, after in ((words, "\\n|$|:(?:[ \\n]|$)"), (safe_keys, ":(?:[ \\n]|$)")):
        if found_:
            alts = "|".join(re.escape(w.decode("utf-8")) for w in sorted(found_, key=len, reverse=True))
            # (no word holds a space, so a match preceded by anything else hides no later plain one)
            for m in re.finditer(f"(?:{alts})(?={after})", body):
                if m.start() > 0 and body[m.start() - 1] in " \n":
                    return False  # it occurs plain (or so it seems: a false alarm costs only speed)
    return True


def read(text: str, file: str | None, exact: Exact, skeleton_kind: Callable[[str], str | None]) -> list[Item] | None:
    """The objects of ``text`` as the exact path gives them, or None (read the file the exact way)."""
    if not available():
        return None
    gated = _gates(text)
    if gated is None:
        return None
    present, raw = gated
    del gated  # (the text's bytes are let go once the layout is read)
    head = _ITEMS.search(text)
    if head is None:
        return None
    begin = head.end()
    lay = None
    if raw is not None:  # ASCII: the items' end, starts and lines from the line breaks (list_layout)
        lay = list_layout.layout(raw, begin)
        end = lay.end
        if not _open_plainly(raw, lay.starts):
            return None
    else:
        end_m = _REGION_END.search(text, begin - 1)
        end = end_m.start() + 1 if end_m is not None else len(text)
    del raw
    if _ITEMS.search(text, end) is not None:
        return None  # a second items key: the exact path says what it makes of it
    if not text.startswith("- ", begin) or _markers(text, begin, end):
        return None
    # the document around the items, read the exact way (its errors send the file there: lines not kept)
    kind = skeleton_kind(text[: head.start()] + "items: []\n" + text[end:])
    if kind is None:
        return None
    # offsets are the text's own (the items are not copied out of it)
    if lay is not None:
        starts, lines = lay.starts, lay.lines
    else:
        starts = [begin, *(m.start() + 1 for m in _ITEM.finditer(text, begin, end))]
        lines = [text.count("\n", 0, begin) + 1]
        for a, b in itertools.pairwise(starts):
            lines.append(lines[-1] + text.count("\n", a, b))
    if lay is None and any(_ITEM_OK.match(text, s) is None for s in starts):
        return None
    bounds = [*starts, end]
    exact_idx = _risky_items(text, starts, end, present, None if lay is None else lay.spaced)
    out: list[_Slot] = [None] * len(starts)
    with _quiet_stderr():
        ok = _fast_runs(text, bounds, lines, exact_idx, out)
        if not ok:
            return None
        # items risky only for kubectl's literal blocks: read rewritten (hairpin.parsers.literal_blocks)
        rewrites = _rewritten(text, bounds, lines, exact_idx, out) if exact_idx else {}
    item_kind = kind[: -len("List")]
    checks: dict[str, Callable[[dict[str, Any]], bool]] = {}  # kind -> the check of that kind, names held too
    short = True  # every name within strict.named's limits (then the answer is a strict.Named)
    for i, data in enumerate(out):
        if data is None:
            continue
        assert data.__class__ is dict  # (only decoded items are in out yet)
        # the checks _objects_of and the strict checks make, or the exact path says what is wrong
        k = data.get("kind") or item_kind
        if k.__class__ is not str or not k:
            return None
        check = checks.get(k)
        if check is None:
            check = checks[k] = _short(k)
        if not check(data):
            if not shapes.typed(k)(data):
                return None
            short = False  # a name too long: strict.named says so
        meta, spec, status = data.get("metadata"), data.get("spec"), data.get("status")
        if not (meta is None or meta.__class__ is dict) or not (spec is None or spec.__class__ is dict):
            return None
        if not (status is None or status.__class__ is dict):
            return None
        # strict.marks would not be empty: annotations, or one of the Service fields it marks
        if (meta is not None and meta.get("annotations")) or (
            spec is not None
            and ("ports" in spec or "type" in spec or "loadBalancerClass" in spec or "loadBalancerSourceRanges" in spec)
        ):
            rw = rewrites.get(i)
            where = item_marks(text[bounds[i] : bounds[i + 1]] if rw is None else rw.text, lines[i], data)
            if where is None:
                exact_idx.add(i)
                out[i] = None
                continue
            if rw is not None:  # lines of the rewritten item -> the file's
                at = lines[i]
                where = {key: (at + rw.line(ln - at), col) for key, (ln, col) in where.items()}
            out[i] = (k, data, lines[i], where)
        else:
            out[i] = (k, data, lines[i], {})
    if exact_idx and not _exact_items(text, bounds, lines, sorted(exact_idx), out, exact, kind):
        return None
    if None in out:
        return None
    # (the items read the exact way were not held to the names' limits here)
    return strict.Named(out) if short and not exact_idx else out  # type: ignore[return-value]  # (every slot an Item)


def _open_plainly(raw: bytes, starts: list[int]) -> bool:
    """Every item of the ASCII text ``raw`` starts as ``_ITEM_OK`` has it (``- `` and a character that is no
    space, line break or ``#``), looked at in NumPy at once rather than by a match at each of 175,000 items."""
    import numpy as np  # a dependency of hairpin; imported here as only large YAML Lists need it

    a = np.frombuffer(raw, np.uint8)
    at = np.asarray(starts, np.intp)
    if not len(at) or at[-1] + 2 >= len(a):  # (starts increase: the last is the one that may lack two bytes)
        return not len(at)
    third = a[at + 2]
    return bool(((a[at] == 0x2D) & (a[at + 1] == 0x20) & (third != 0x20) & (third != 0x0A) & (third != 0x23)).all())


def _fast_runs(body: str, bounds: list[int], lines: list[int], exact_idx: set[int], out: list[_Slot]) -> bool:
    """Decode the items not in ``exact_idx`` a run of about CHUNK bytes (and RUN_LINES lines) at a time into
    ``out``; a run joins the items on either side of those left to the exact path (each item is a whole
    entry of the sequence, starting ``- `` at column 0 and ending with a line break but the last)."""
    tree = ryml.Tree()
    dec = msgspec.json.Decoder(float_hook=_no_float)
    buf = bytearray(4 * CHUNK)
    n = len(bounds) - 1
    # a run starts at the first item not left to the exact path and takes the next ones as long as their sizes
    # (and lines: the last item's count none) add up to at most CHUNK (and RUN_LINES), at least one item; the
    # totals from the start of the text, those of the items left to the exact path counting nothing
    sizes = [b - a for a, b in itertools.pairwise(bounds)]
    rows = [b - a for a, b in itertools.pairwise(lines)]
    rows.append(0)
    for k in exact_idx:
        sizes[k] = rows[k] = 0
    size_to = [0, *itertools.accumulate(sizes)]  # size_to[j]: the sizes of the items before j
    rows_to = [0, *itertools.accumulate(rows)]
    i = 0
    while i < n:
        while i < n and i in exact_idx:
            i += 1
        if i == n:
            break
        # the first item past the run: the first whose totals from i on exceed a limit (never i itself)
        j = min(
            bisect.bisect_right(size_to, size_to[i] + CHUNK) - 1,
            bisect.bisect_right(rows_to, rows_to[i] + RUN_LINES) - 1,
        )
        j = max(j, i + 1)
        group = [k for k in range(i, j) if k not in exact_idx] if exact_idx else list(range(i, j))
        if group[-1] - group[0] + 1 == len(group):
            run = body[bounds[group[0]] : bounds[group[-1] + 1]]
        else:
            run = "".join([body[bounds[k] : bounds[k + 1]] for k in group])
        tree.clear()
        tree.clear_arena()
        try:
            ryml.parse_in_arena(run.encode("utf-8"), tree)
            while True:
                try:
                    js = bytes(ryml.emit_json_in_place(tree, buf))
                    break
                except IndexError:  # the buffer is too small for this run's JSON
                    buf = bytearray(2 * len(buf))
            items = dec.decode(js)
        except (ryml.ExceptionBasic, msgspec.MsgspecError, ValueError, RecursionError, _Float):
            return False
        if not isinstance(items, list) or len(items) != len(group):
            return False
        enc = msgspec.json.encode(items)
        compact: bytes | None = enc
        if b"\\" in js:  # an escape: the encoding must be rapidyaml's JSON without its whitespace
            if enc != msgspec.json.format(js, indent=-1):
                return False  # a key dropped: a duplicate
            compact = None  # (the typed strings are looked for by regular expressions in rapidyaml's JSON)
        elif _quotes(enc) != _quotes(js):
            return False  # a key dropped: a duplicate (see the module's docstring)
        if not _sound_json(js, run, compact):
            return False
        for data, k in zip(items, group, strict=True):
            if data.__class__ is not dict:
                return False
            out[k] = data
        i = j
    return True


def _quotes(js: bytes) -> int:
    """How many quotes ``js`` holds (NumPy: a fifth of ``bytes.count``'s time on a run's JSON)."""
    import numpy as np  # a dependency of hairpin; imported here as only large YAML Lists need it

    return int(np.count_nonzero(np.frombuffer(js, np.uint8) == 0x22))


def _rewritten(
    text: str, bounds: list[int], lines: list[int], exact_idx: set[int], out: list[_Slot]
) -> dict[int, literal_blocks.Rewrite]:
    """Read the items of ``exact_idx`` that hold literal blocks of kubectl's forms, rewritten with plain
    placeholders, held to every check the other items are held to (risks in the rewritten text, rapidyaml,
    msgspec, duplicate and typed strings), the blocks put back; each item read is moved from ``exact_idx``
    to ``out``.  Returns the rewrites of the items read (their marks are read on the rewritten lines)."""
    found: dict[int, literal_blocks.Rewrite] = {}
    for i in sorted(exact_idx):
        rw = literal_blocks.rewrite(text[bounds[i] : bounds[i + 1]])
        if rw is not None:
            found[i] = rw
    if not found:
        return {}
    idx = list(found)
    body = "".join(rw.text for rw in found.values())
    bounds2 = [0]
    lines2 = [1]
    for rw in found.values():
        bounds2.append(bounds2[-1] + len(rw.text))
        lines2.append(lines2[-1] + rw.text.count("\n"))
    gated = _gates(body)  # (pieces of a text that passed, and plain placeholders: it passes too)
    if gated is None:
        return {}
    risky = _risky_items(body, bounds2[:-1], len(body), gated[0], None)
    got: list[_Slot] = [None] * len(idx)
    if len(risky) == len(idx) or not _fast_runs(body, bounds2, lines2[:-1], risky, got):
        return {}  # (the rewritten items stay on the exact path: always the exact path's answer)
    used: dict[int, literal_blocks.Rewrite] = {}
    for k, i in enumerate(idx):
        data = got[k]
        if data.__class__ is not dict or not literal_blocks.fill(data, found[i].values, found[i].entries):
            continue
        out[i] = data
        exact_idx.discard(i)
        used[i] = found[i]
    return used


def _exact_items(
    body: str, bounds: list[int], lines: list[int], idx: list[int], out: list[_Slot], exact: Exact, kind: str
) -> bool:
    """Read the items ``idx`` by the exact path, as one List whose lines are shifted back to the file's."""
    parts = [f"kind: {json.dumps(kind)}\nitems:\n"]
    at = 3  # the wrapper's line of the next item
    starts_w: list[int] = []
    for i in idx:
        piece = body[bounds[i] : bounds[i + 1]]
        if not piece.endswith("\n"):
            piece += "\n"
        parts.append(piece)
        starts_w.append(at)
        at += piece.count("\n")
    got = exact("".join(parts))
    if got is None or len(got) != len(idx):
        return False
    for i, w, (k, data, line, marks) in zip(idx, starts_w, got, strict=True):
        if line != w:
            return False
        shift = lines[i] - w
        moved = None if marks is None else {k: (ln + shift, col) for k, (ln, col) in marks.items()}
        out[i] = (k, data, lines[i], moved)
    return True
