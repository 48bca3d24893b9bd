"""A List inside a List, read as kubectl reads it: its items, to any depth, each an object of its own.

kubectl's resource builder expands a List's items until none is a List (k8s.io/cli-runtime
``pkg/resource/visitor.go``, FlattenListVisitor), so a file that wraps two ``kubectl get -o yaml`` outputs in
one more List applies every object in it.  ``hairpin.parsers.manifests`` reads the outer List; ``flatten_lists``
turns each of its items that is itself a List into that List's objects, checked as the outer List's items are.
"""

from __future__ import annotations

from hairpin.errors import ParseError
from hairpin.parsers import manifests as mf
from hairpin.parsers import shapes, strict

__all__ = ["flatten_lists"]


def flatten_lists(objs: list[mf.KubeObject], errs: list[ParseError]) -> list[mf.KubeObject]:
    """``objs`` with every List among them replaced by its items, to any depth, as kubectl reads a List inside
    a List (k8s.io/cli-runtime ``pkg/resource/visitor.go``, FlattenListVisitor: it expands a List's items until
    none is a List).  An inner item sits at its enclosing item's line; one kubectl would refuse (a field of
    the wrong type, no kind) is one error in ``errs``, and the others are still read."""
    if not any(o.kind.endswith("List") for o in objs):  # the usual case: one look at each object
        return objs
    out: list[mf.KubeObject] = []
    for o in objs:
        items = o.data.get("items")
        if not o.kind.endswith("List") or not isinstance(items, list):
            out.append(o)
            continue
        stack = [(o.kind, items, "items", iter(range(len(items))))]
        while stack:
            kind, seq, where, rest = stack[-1]
            i = next(rest, None)
            if i is None:
                stack.pop()
                continue
            item = seq[i]
            try:
                k = mf.item_kind_of(i, item, kind[: -len("List")] or None, o.file, o.line)
                if k is None:
                    continue
                inner = item.get("items")
                if k.endswith("List") and isinstance(inner, list):
                    stack.append((k, inner, f"{where}[{i}].items", iter(range(len(inner)))))
                    continue
                mf._shape(item, o.file, o.line, f"items[{i}].")
                if not shapes.well_typed(k, item):
                    strict.vet_object(item, o.file, o.line, k)
                    shapes.vet_shape(k, item, o.file, o.line)
            except ParseError as exc:  # named from the List at o.line: items[0].items[2].spec.ports ...
                own = exc.message.startswith(f"items[{i}]")  # item_kind_of's and _shape's name the item already
                path = f"{where}{exc.message[len('items') :]}" if own else f"{where}[{i}].{exc.message}"
                errs.append(ParseError(path, exc.file, exc.line))
                continue
            out.append(mf.KubeObject(k, item, o.file, o.line))
    return out
