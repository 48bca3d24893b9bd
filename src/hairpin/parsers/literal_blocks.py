"""Literal block scalars in a List item, swapped for plain placeholders so rapidyaml may read the item.

``kubectl get -o yaml`` prints a multi-line string as a literal block scalar (go-yaml, through
sigs.k8s.io/yaml): with clip chomping when the string ends with a line break, as kubectl's
``kubectl.kubernetes.io/last-applied-configuration`` annotation does, with strip chomping (``|-``) when it
does not, as a Pod's script in ``args`` or ``command`` does; in a mapping or as a sequence entry::

    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"v1","kind":"Service",...}
    containers:
    - args:
      - -c
      - |-
        set -e
        exec nginx -g 'daemon off;'

``hairpin.parsers.yaml_list`` sends an item holding a block scalar to the exact path.  ``rewrite(piece)``
recognises four header lines, each ending right after the indicators (no comment, no indentation
indicator, no keep chomping): ``<indent>KEY: |`` and ``<indent>KEY: |-`` (KEY not starting with ``-``),
``<indent>- |`` and ``<indent>- |-`` (only spaces before the ``-``: one entry of a block sequence, indented
under its key or not); never the item's first line.  Its content: one or more lines all indented alike and
deeper than KEY's (or the ``-``'s) column, none empty, none ending in a space, each ended by a line break;
the block ends at the first line indented no deeper than that column, which must not be empty or blank.
Every other block (``|+``, ``>`` and ``>-``, ``|2``, a comment after the header, an empty content line,
content indented unevenly) stays in the text, where the caller's risk scan sees its ``|`` or ``>`` and
leaves the item to the exact path; a header of the four forms whose content is not of that form makes
``rewrite`` give None.

How the exact path (libyaml; PyYAML's ``yaml.scanner.Scanner`` runs the same algorithm, YAML 1.1) reads
such a block: at a line's first token the scanner unwinds every indentation deeper than that column
(``unwind_indent``).  A key starting its line at column ``k`` then makes ``k`` the indentation
(``fetch_value``: ``add_indent(key.column)``).  A ``-`` at column ``c`` (``fetch_block_entry``) adds ``c``
when the indentation is less (an indented sequence), and leaves it when it is ``c`` already (an indentless
sequence, whose entries stand at their key's column: ``add_indent`` returns False); either way the
indentation is ``c`` when the ``|`` after it is scanned.  ``scan_block_scalar`` requires at least
``min_indent = self.indent + 1``, and takes the first content line's indentation when no indicator gives
one (``max(min_indent, max_indent)``); a line at that indentation is content, the first line indented less
ends the scalar (libyaml, src/scanner.c, does the same: ``yaml_parser_fetch_block_entry`` rolls the
indentation to the ``-``'s column only when it is less, ``yaml_parser_scan_block_scalar_breaks`` raises
the detected indentation to ``parser->indent + 1``).  So content deeper than ``k`` (or ``c``) is the
block's, and content at ``k`` or less would not be (such a block is empty, and ``rewrite`` refuses it).
The value is the content lines without their indentation, joined by line breaks; clip chomping adds one
final line break, strip chomping none (YAML 1.1 spec, "Block Chomping Indicator"; in
``scan_block_scalar``, ``chomping is not False`` appends the last line break).  A literal scalar is never
typed by the resolver: its value is a string.  The scanner then stands where it would after a one-line
plain scalar in place of the indicators, at the next line's first token (a plain scalar ends there too: the
line is indented no deeper than the indentation, ``scan_plain``); so the item with each block replaced by
a plain ``KEY: PLACEHOLDER`` or ``- PLACEHOLDER`` line reads as the original with each placeholder's value
replaced by its block's.  This holds only if the ``|`` starts a token in block context: were the header
line part of a multi-line plain scalar, a quoted scalar or a flow collection, the caller's risk scan of
the rewritten text (flow collections, quotes open at a line's end) or ``fill`` (the placeholder would be
part of a longer string) refuses the item.

The placeholders are ``hairpin-block-N`` (a string in YAML 1.1 and 1.2), and no item holding
``hairpin-block-`` anywhere is rewritten.  The caller holds the rewritten item to every check an item is
held to, then ``fill(data, values, entries)`` puts the blocks back: each placeholder must be found exactly
once, a mapping's value for a ``KEY:`` block and a sequence's entry for a ``-`` block (never a key).
``Rewrite.line`` maps a line of the rewritten item back to the original's (marks,
``hairpin.parsers.block_marks``).  Tests hold all of it to the exact path (tests/test_literal_blocks.py).
"""

from __future__ import annotations

import bisect
import re
from typing import Any, NamedTuple

__all__ = ["PREFIX", "Rewrite", "fill", "rewrite"]

#: the placeholders' common start (followed by the block's index)
PREFIX = "hairpin-block-"
#: a header's indicators: ``: |``, ``: |-``, ``- |`` or ``- |-`` ending its line
_HEADER = re.compile(r"[:-] \|-?\n")
_SPACES = re.compile(" *")
_CONTENT: dict[int, re.Pattern[str]] = {}


def _header(piece: str, at: int) -> re.Match[str] | None:
    """``_HEADER.search(piece, at)``, tried where ``str.find`` finds `` |`` (a search tries every ``:``
    and ``-`` of the item: 1.4 us against 0.4 us for a Pod)."""
    i = piece.find(" |", at + 1)
    while i >= 0:
        m = _HEADER.match(piece, i - 1)
        if m is not None:
            return m
        i = piece.find(" |", i + 1)
    return None


def _content(d: int) -> re.Pattern[str]:
    """One or more lines indented by ``d`` spaces exactly, none blank or ending in a space."""
    rx = _CONTENT.get(d)
    if rx is None:
        line = f" {{{d}}}[^ \\n](?:[^\\n]*[^ \\n])?\\n"
        rx = _CONTENT[d] = re.compile(f"(?:{line})+")
    return rx


class Rewrite(NamedTuple):
    text: str  #: the item with each block's header line ending with its placeholder, its content lines gone
    values: list[str]  #: each block's value, in order
    keys: list[int]  #: each block's header line (0-based) in ``text``
    removed: list[int]  #: content lines removed up to and including each block (cumulative)
    entries: list[bool]  #: each block is a sequence's entry (``- |``), not a mapping's value (``KEY: |``)

    def line(self, j: int) -> int:
        """The original item's 0-based line of the rewritten item's line ``j``."""
        n = bisect.bisect_left(self.keys, j)  # blocks whose header line is before j
        return j + (self.removed[n - 1] if n else 0)


def rewrite(piece: str) -> Rewrite | None:
    """``piece`` (one List item, starting ``- ``) with its literal blocks of the four forms swapped for
    placeholders; None when it holds none, or when a header of those forms is not followed by content of
    the form (or is the item's first line, or its ``-`` follows something on its line), or the
    placeholders' start occurs in it, or it does not end with a line break."""
    m = _header(piece, 0)
    if m is None or PREFIX in piece or not piece.endswith("\n"):
        return None
    parts: list[str] = []
    values: list[str] = []
    keys: list[int] = []
    removed: list[int] = []
    entries: list[bool] = []
    done = 0  # piece[:done] is in parts
    row = 0  # lines of the rewritten item before piece[done:]
    while m is not None:
        at = m.start()  # the ':' or '-'
        s = piece.rfind("\n", 0, at) + 1  # the header line's start
        if s == 0:
            return None  # the item's first line
        body = piece[s:at].lstrip(" ")
        entry = piece[at] == "-"
        if entry:
            if body:
                return None  # the '-' is not the line's first token
            col = at - s  # the entry's column: the indentation when the '|' is scanned
        else:
            if not body or body[0] == "-":
                return None  # an empty key, or a key on a sequence entry's line
            col = at - s - len(body)  # the key's column
        p = m.end()  # the first content line
        d = _SPACES.match(piece, p).end() - p  # type: ignore[union-attr]  # (always matches)
        run = _content(d).match(piece, p) if d > col else None
        if run is None:
            return None  # an empty block (kept exact), a blank line or a trailing space
        q = run.end()
        if q < len(piece):
            ind = _SPACES.match(piece, q).end() - q  # type: ignore[union-attr]
            if ind > col or piece[q + ind] == "\n":
                return None  # indented otherwise, blank, a trailing space; an empty line after the block
        lines = piece.count("\n", p, q)
        value = piece[p + d : q - 1].replace("\n" + " " * d, "\n")  # each line without its indentation
        row += piece.count("\n", done, s)
        keys.append(row)
        row += 1
        parts.append(piece[done : at + 2])
        parts.append(f"{PREFIX}{len(values)}\n")
        values.append(value if piece[m.end() - 2] == "-" else value + "\n")  # strip or clip chomping
        removed.append((removed[-1] if removed else 0) + lines)
        entries.append(entry)
        done = q
        m = _header(piece, q)
    parts.append(piece[done:])
    return Rewrite("".join(parts), values, keys, removed, entries)


def fill(data: Any, values: list[str], entries: list[bool] | None = None) -> bool:
    """Put each block's value in place of its placeholder in ``data`` (decoded from the rewritten item);
    False when a placeholder is not found exactly once, as a mapping's value where ``entries`` (None: all
    False) says False and as a sequence's entry where it says True, or a key holds ``PREFIX``.

    Where kubectl puts mapping values, in ``metadata.annotations``, they are looked for first when every
    block is one: found there, each is the only string holding ``PREFIX`` (the rewritten text holds it
    once a placeholder, and a scalar without escapes, which the caller refuses, folds its lines with a
    space or a line break, so no string gets it from anywhere else); otherwise the whole item is walked,
    each string and key looked at (a walk that stopped once each was found would rest on that argument
    alone; this one checks it)."""
    kinds = entries if entries is not None else [False] * len(values)
    meta = data.get("metadata") if data.__class__ is dict else None
    ann = meta.get("annotations") if meta.__class__ is dict else None
    if ann.__class__ is dict and not any(kinds):
        wanted = [f"{PREFIX}{n}" for n in range(len(values))]
        hits = [key for key, v in ann.items() if v in wanted]
        if len(hits) == len(values) and len({ann[key] for key in hits}) == len(values):
            for key in hits:
                ann[key] = values[int(ann[key][len(PREFIX) :])]
            return True
    seen = [False] * len(values)
    names = {f"{PREFIX}{n}": n for n in range(len(values))}
    stack = [data]
    while stack:
        node = stack.pop()
        if node.__class__ is dict:
            for key, v in node.items():
                if key.__class__ is not str or PREFIX in key:
                    return False
                if v.__class__ is str:
                    if PREFIX in v:
                        n = names.get(v)
                        if n is None or seen[n] or kinds[n]:
                            return False
                        seen[n] = True
                        node[key] = values[n]
                elif v.__class__ is dict or v.__class__ is list:
                    stack.append(v)
        elif node.__class__ is list:
            for j, v in enumerate(node):
                if v.__class__ is str:
                    if PREFIX in v:
                        n = names.get(v)
                        if n is None or seen[n] or not kinds[n]:
                            return False
                        seen[n] = True
                        node[j] = values[n]
                elif v.__class__ is dict or v.__class__ is list:
                    stack.append(v)
    return all(seen)
