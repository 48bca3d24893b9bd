"""Python objects from a composed YAML document, the ones PyYAML's safe constructor makes, in one walk.

PyYAML's ``SafeConstructor.construct_document`` goes through ``construct_object`` for every node and a
generator for every mapping and sequence: about a third of reading a ``kubectl get -o yaml`` dump.
``construct(node, loader)`` builds the same objects (same keys in the same order, same types) in one
recursive walk for documents made of what such dumps hold: mappings, sequences and scalars the resolver
tagged ``str``, ``null``, ``bool``, ``int`` or ``float``.  Booleans come from the loader's own
``bool_values`` and numbers from its own ``construct_yaml_int``/``construct_yaml_float`` (PyYAML
``yaml/constructor.py``, ``SafeConstructor``), so every YAML 1.1 spelling reads as PyYAML reads it
(``yes``, ``off``, ``0x1F``, ``0o17``, ``017``, ``1_000``, ``1:30``, ``.inf``...).

Anything else raises ``NotPlain``, and the caller hands the document to ``construct_document``, which
gives the objects or the error it always gave: another tag (``!!binary``, ``!!set``, a custom tag), a
merge key ``<<`` or a value key ``=`` (``flatten_mapping``), a node met twice (an alias, which PyYAML
makes into one shared object), a key that is not a scalar (PyYAML refuses unhashable keys), a mapping
shorter than its pairs (a key twice: the reader's duplicate-key error comes from the loader, in the
loader's order of mappings) and nesting deeper than Python's recursion limit.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["NotPlain", "construct"]

_P = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = _P + "str", _P + "null", _P + "bool", _P + "int", _P + "float"
_MAP, _SEQ, _MERGE, _VALUE = _P + "map", _P + "seq", _P + "merge", _P + "value"


def _spent(n: Any) -> Any:
    """What ``construct``'s builder is rebound to once the document is built (see there)."""
    raise AssertionError("construct: the builder of a finished document")


class NotPlain(Exception):
    """The document holds something ``construct`` leaves to PyYAML's constructor."""


def construct(node: yaml.Node, loader: Any) -> Any:
    """The document ``node`` as ``loader.construct_document(node)`` would make it, or ``NotPlain``."""
    seen: set[int] = set()
    bool_values: dict[str, bool] = loader.bool_values
    to_int = loader.construct_yaml_int
    to_float = loader.construct_yaml_float
    scalar, mapping, sequence = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode

    def build(n: Any) -> Any:
        cls = n.__class__
        tag = n.tag
        if cls is scalar:
            if tag == _STR:
                return n.value
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return bool_values[n.value.lower()]
            if tag == _INT:
                return to_int(n)
            if tag == _FLOAT:
                return to_float(n)
            raise NotPlain
        if id(n) in seen:
            raise NotPlain
        seen.add(id(n))
        if cls is mapping and tag == _MAP:
            out: dict[Any, Any] = {}
            for k, v in n.value:
                if k.__class__ is not scalar or k.tag == _MERGE or k.tag == _VALUE:
                    raise NotPlain
                key = build(k)
                out[key] = build(v)
            if len(out) != len(n.value):
                raise NotPlain
            return out
        if cls is sequence and tag == _SEQ:
            return [build(x) for x in n.value]
        raise NotPlain

    try:
        return build(node)
    except RecursionError:
        raise NotPlain from None
    finally:
        # build's closure holds build itself: a reference cycle per document, which hairpin.gcpause keeps
        # to the end (2,000,000 empty documents, an 8 MB file, took 2 GB); rebinding the cell breaks it
        build = _spent
