"""Where an object's annotations and Service fields sit, read from the lines of a plain block-style item.

``hairpin.parsers.strict.marks`` finds these places on libyaml's node tree: the line and column of each
annotation key, of ``spec.type``, ``spec.loadBalancerClass`` and ``spec.loadBalancerSourceRanges``, and
of each ``spec.ports`` entry.  ``hairpin.parsers.yaml_list`` reads most List items without a node tree;
for an item whose text it has already found free of flow collections (but ``{}``/``[]``), block scalars,
comments, tags, anchors, tabs and quoted scalars running past their line, the block layout alone says
where each key is: a block mapping's keys all start at one column, deeper lines belong to the value of
the key above them, and a sequence's entries start with ``- `` at one column (the key's own column when
the sequence is not indented, as kubectl prints it).

``item_marks(text, line, data)`` reads those places and checks them against ``data`` (the item as
decoded): the annotation keys found must be the annotations' keys, in order, and as many ports entries
as ``spec.ports`` has; anything it does not recognise gives None, and the caller reads the item the
exact way.  Tests hold it to ``strict.marks`` on generated items (tests/test_yaml_list.py).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hairpin.parsers.strict import Marks

__all__ = ["item_marks"]

_SPEC_KEYS = ("type", "loadBalancerClass", "loadBalancerSourceRanges")
#: the end of a top-level key's value: a line neither indented past column 2 nor a sequence entry at it
_VALUE_END = re.compile(r"\n(?!   |  - )")
#: a line indented less than the item's keys (which the whole reading refuses)
_SHALLOW = re.compile(r"\n(?!  |\Z)")


@functools.lru_cache(maxsize=4096)  # a dump repeats most key lines (kind: Pod, metadata:): 17 -> 14 us an item
def _key(content: str) -> tuple[str, bool] | None:
    """The key a block-mapping line starts with, and whether its value follows on this line; None when the
    line is no ``KEY:`` line this reader is sure of."""
    if content[:1] == "'":
        end = 1
        while True:
            end = content.find("'", end)
            if end < 0:
                return None
            if content[end + 1 : end + 2] == "'":
                end += 2
                continue
            break
        key, rest = content[1:end].replace("''", "'"), content[end + 1 :]
    elif content[:1] == '"':
        end = content.find('"', 1)
        if end < 0 or "\\" in content[:end]:
            return None
        key, rest = content[1:end], content[end + 1 :]
    else:
        colon = content.find(": ")
        if colon < 0:
            if not content.endswith(":"):
                return None
            colon = len(content) - 1
        key, rest = content[:colon], content[colon:]
        if not key or key[0] in "-?:,[]{}#&*!|>'\"%@`" or key != key.strip():
            return None
    if rest == ":":
        return key, False
    if rest.startswith(": ") and rest[2:].strip():
        return key, True
    return None


class _Lines:
    def __init__(self, text: str) -> None:
        raw = text.split("\n")
        if raw and raw[-1] == "":
            raw.pop()
        if raw:
            if not raw[0].startswith("- "):
                raise ValueError
            raw[0] = "  " + raw[0][2:]
        self.content: list[str] = [line.lstrip(" ") for line in raw]
        self.indent: list[int] = [len(line) - len(body) for line, body in zip(raw, self.content, strict=True)]

    def block(self, k: int) -> tuple[int, int]:
        """The lines of key line ``k``'s value: deeper lines, and entries of a sequence at its column."""
        p = self.indent[k]
        j = k + 1
        while j < len(self.indent) and (
            self.indent[j] > p or (self.indent[j] == p and self.content[j].startswith("- "))
        ):
            j += 1
        return k + 1, j

    def keys(self, a: int, b: int) -> dict[str, int] | None:
        """The keys of the block mapping on lines [a, b) -> their line; None if unsure (or a key twice)."""
        if a >= b:
            return {}
        col = self.indent[a]
        out: dict[str, int] = {}
        for j in range(a, b):
            if self.indent[j] < col:
                return None
            if self.indent[j] == col:
                if self.content[j].startswith("- "):
                    continue  # an entry of a sequence at the column of its key
                got = _key(self.content[j])
                if got is None or got[0] in out:
                    return None
                out[got[0]] = j
        return out

    def value_block(self, keys: dict[str, int], name: str) -> tuple[int, int] | None:
        k = keys.get(name)
        if k is None:
            return None
        got = _key(self.content[k])
        if got is None or got[1]:
            return None  # the value is on the key's line ({}, [], a scalar): no block
        return self.block(k)


def item_marks(text: str, line: int, data: dict[str, Any]) -> Marks | None:
    """``strict.marks`` of the List item ``text`` (starting ``- `` on 1-based ``line``), or None.

    When only annotations are marked (no ``spec`` field of a Service: a Pod's, a Deployment's), only the
    lines up to the end of the top-level ``metadata`` value are read: the keys there must be the item's
    first keys, in order, and no later line may be indented less than they are (the lines after them
    cannot change what these lines are)."""
    spec = data.get("spec")
    spec_marks = isinstance(spec, dict) and any(k in spec for k in (*_SPEC_KEYS, "ports"))
    part = False
    if not spec_marks:
        at = text.find("\n  metadata:\n")
        end = _VALUE_END.search(text, at + 12) if at >= 0 else None
        if end is not None and _SHALLOW.search(text, end.start()) is None:
            text, part = text[: end.start() + 1], True
    try:
        ls = _Lines(text)
    except ValueError:
        return None
    top = ls.keys(0, len(ls.indent))
    if top is None or list(top) != (list(data)[: len(top)] if part else list(data)):
        return None
    out: Marks = {}
    meta = data.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict) and meta["annotations"]:
        mb = ls.value_block(top, "metadata")
        mkeys = ls.keys(*mb) if mb else None
        ab = ls.value_block(mkeys, "annotations") if mkeys is not None else None
        akeys = ls.keys(*ab) if ab else None
        if akeys is None or list(akeys) != list(meta["annotations"]):
            return None
        for key, j in akeys.items():
            out[f"metadata.annotations[{key}]"] = (line + j, ls.indent[j] + 1)
    if spec_marks and isinstance(spec, dict):
        sb = ls.value_block(top, "spec")
        skeys = ls.keys(*sb) if sb else None
        if skeys is None or list(skeys) != list(spec):
            return None
        for key in _SPEC_KEYS:
            if key in skeys:
                j = skeys[key]
                out[f"spec.{key}"] = (line + j, ls.indent[j] + 1)
        ports = spec.get("ports")
        if isinstance(ports, list) and ports:
            pb = ls.value_block(skeys, "ports")
            if pb is None:
                return None
            a, b = pb
            col = ls.indent[a] if a < b else -1
            entries = [j for j in range(a, b) if ls.indent[j] == col and ls.content[j].startswith("- ")]
            if len(entries) != len(ports) or any(ls.indent[j] < col for j in range(a, b)):
                return None
            for i, j in enumerate(entries):
                rest = ls.content[j][2:]
                out[f"spec.ports[{i}]"] = (line + j, col + 2 + (len(rest) - len(rest.lstrip(" "))) + 1)
    return out
