"""kubectl's literal block scalars in a List item, swapped for plain placeholders so rapidyaml may read the item.

``kubectl apply`` (and Argo CD's client-side apply) keeps the object it applied as JSON in the annotation
``kubectl.kubernetes.io/last-applied-configuration``, which ``kubectl get -o yaml`` prints as a literal
block scalar::

    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"v1","kind":"Service",...}

``hairpin.parsers.yaml_list`` sends an item holding a block scalar (and the JSON in it) to the exact path.
``rewrite(piece)`` recognises the plainest literal blocks only: a line ``<indent>KEY: |`` ending right after
the ``|`` (no chomping or indentation indicator, no comment; not the item's first line, not a ``-`` entry),
followed by one or more content lines all indented alike and deeper than KEY, none empty, none ending in a
space, each ended by a line break, the block ending at the first line indented no deeper than KEY (an
empty line there only when it ends the item).  Every other line stays as it is.

How PyYAML (YAML 1.1, ``yaml.scanner.Scanner.scan_block_scalar``) reads such a block: KEY starts its line,
so the block mapping's indentation is KEY's column ``k`` when the ``|`` is scanned (the line's start unwound
the deeper ones, the key added ``k``); the content's indentation is the first content line's (deeper than
``k``); a line at that indentation is content, the first line indented less ends the scalar; with clip
chomping the value is the content lines without their indentation, joined by line breaks, with one final
line break (YAML 1.1 spec, 9.2 "Literal", chomping "clip").  A literal scalar is never typed by the
resolver: its value is a string.  The scanner then stands where it would after a one-line plain scalar in
place of the ``|``, at the next line's first character; so the item with the block replaced by a plain
``KEY: PLACEHOLDER`` line reads as the original with the placeholder's value replaced by the block's.

The placeholders are ``hairpin-block-N`` (a string in YAML 1.1 and 1.2), and no item holding
``hairpin-block-`` anywhere is rewritten.  The caller holds the rewritten item to every check an item is
held to, then ``fill(data, values)`` puts the blocks back: each placeholder must be found exactly once, as
a mapping's value (never a key or a list entry).  ``Rewrite.line`` maps a line of the rewritten item back
to the original's (marks, ``hairpin.parsers.block_marks``).  Tests hold all of it to the exact path
(tests/test_literal_blocks.py).
"""

from __future__ import annotations

import bisect
from typing import Any, NamedTuple

__all__ = ["PREFIX", "Rewrite", "fill", "rewrite"]

#: the placeholders' common start (followed by the block's index)
PREFIX = "hairpin-block-"


class Rewrite(NamedTuple):
    text: str  #: the item with each block's header line ``KEY: PLACEHOLDER`` and its content lines gone
    values: list[str]  #: each block's value, in order
    keys: list[int]  #: each block's key line (0-based) in ``text``
    removed: list[int]  #: content lines removed up to and including each block (cumulative)

    def line(self, j: int) -> int:
        """The original item's 0-based line of the rewritten item's line ``j``."""
        n = bisect.bisect_left(self.keys, j)  # blocks whose key line is before j
        return j + (self.removed[n - 1] if n else 0)


def rewrite(piece: str) -> Rewrite | None:
    """``piece`` (one List item, starting ``- ``) with its literal blocks of kubectl's form swapped for
    placeholders; None when it holds none, or when a ``KEY: |`` line is of any other form, or the
    placeholders' start occurs in it, or it does not end with a line break."""
    at = piece.find(": |\n")
    if at < 0 or PREFIX in piece or not piece.endswith("\n"):
        return None
    parts: list[str] = []
    values: list[str] = []
    keys: list[int] = []
    removed: list[int] = []
    done = 0  # piece[:done] is in parts
    row = 0  # lines of the rewritten item before piece[done:]
    while at >= 0:
        s = piece.rfind("\n", 0, at) + 1  # the key line's start
        body = piece[s:at].lstrip(" ")
        k = at - s - len(body)
        if s == 0 or not body or body[0] == "-":
            return None  # the item's first line, an empty key, a sequence entry
        p = at + 4  # the first content line
        content: list[str] = []
        d = -1
        while p < len(piece):
            e = piece.index("\n", p)  # (the piece ends with a line break)
            line = piece[p:e]
            ind = len(line) - len(line.lstrip(" "))
            if ind <= k:
                if ind == len(line):
                    return None  # an empty or blank line after the block, not at the item's end
                break
            if d < 0:
                d = ind
            if ind != d or line[-1] == " ":
                return None  # indented otherwise, blank, or a trailing space
            content.append(line[d:])
            p = e + 1
        if not content:
            return None  # an empty block: kept exact
        row += piece.count("\n", done, s)
        keys.append(row)
        row += 1
        parts.append(piece[done : at + 2])
        parts.append(f"{PREFIX}{len(values)}\n")
        values.append("\n".join(content) + "\n")
        removed.append((removed[-1] if removed else 0) + len(content))
        done = p
        at = piece.find(": |\n", p)
    parts.append(piece[done:])
    return Rewrite("".join(parts), values, keys, removed)


def fill(data: Any, values: list[str]) -> bool:
    """Put each block's value in place of its placeholder in ``data`` (decoded from the rewritten item);
    False when a placeholder is not found exactly once as a mapping's value, or a key holds ``PREFIX``.

    Where kubectl puts them, in ``metadata.annotations``, they are looked for first: found there, each is
    the only string holding ``PREFIX`` (the rewritten text holds it once a placeholder, and a scalar without
    escapes, which the caller refuses, folds its lines with a space or a line break, so no string gets it
    from anywhere else); otherwise the whole item is walked."""
    meta = data.get("metadata") if data.__class__ is dict else None
    ann = meta.get("annotations") if meta.__class__ is dict else None
    if ann.__class__ is dict:
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
                        if n is None or seen[n]:
                            return False
                        seen[n] = True
                        node[key] = values[n]
                elif v.__class__ is dict or v.__class__ is list:
                    stack.append(v)
        elif node.__class__ is list:
            for v in node:
                if v.__class__ is str:
                    if PREFIX in v:
                        return False
                elif v.__class__ is dict or v.__class__ is list:
                    stack.append(v)
    return all(seen)
