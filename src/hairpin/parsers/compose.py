"""YAML documents composed in one pass over libyaml's events, bounded as they are composed.

``hairpin check`` used to read a YAML stream twice: once as events, to refuse nesting deeper than
``hairpin.reading.max_depth()`` and aliases standing for more than ``hairpin.reading.ALIAS_NODES`` nodes
(``hairpin.reading.check_yaml_events``), then again through libyaml's composer (PyYAML's ``CParser``,
``yaml/_yaml.pyx``: ``_compose_node`` and friends), which recurses in C once per level and cannot be
interrupted.  ``documents(loader, file)`` pulls each event once (``loader.get_event``), counts depth and
alias expansion on it exactly as ``check_yaml_events`` does, and composes the node tree from it with an
explicit stack, so no nesting reaches the C stack.

The nodes are those PyYAML's C composer builds (PyYAML 6.0.x, ``yaml/_yaml.pyx``, ``CParser``): each
node's tag is the event's tag, or, when the event has none or the non-specific ``!``, the loader's
resolver's (``yaml/resolver.py``, ``BaseResolver.resolve``: the implicit resolvers of the value's first
character and the wildcard ones, tried in order, for a plain scalar; ``str``, ``seq`` or ``map``
otherwise); the value, style and flow style are the event's; the start and end marks are the events'
(a collection ends at its end event's end mark; end marks only when asked for, see ``documents``); an alias is the anchored node itself; an undefined alias
and an anchor defined twice in one document are the C composer's ``ComposerError`` with its words and
marks.  Anchors are forgotten at the end of each document.

Errors come in the order the two passes gave them (``tests/test_compose.py`` holds it to them):

- a document is handed over once the event after its end has been read: a reader error (a control
  character, found by libyaml a buffer at a time) while a document is the last one begun drops that
  document, as the event pass did (it named that document and the composer stopped before it);
- a depth or alias-bomb error, or a reader error, met anywhere in a document wins over the composer's own
  error in that document (the event pass ran first), so after a composer error the events are still
  checked up to the next document; a syntax error there leaves the composer's error standing;
- a syntax error after a complete document comes after that document's objects, as the composer gave it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from hairpin.reading import ALIAS_NODES, alias_bomb_error, depth_error, max_depth

__all__ = ["documents"]

#: how many distinct plain scalars have their resolved tag remembered (the keys of a dump repeat; a few
#: hundred KiB at most)
_KNOWN = 4096


def _resolver_table(loader: Any) -> tuple[dict[str, list[tuple[str, Any]]], list[tuple[str, Any]]] | None:
    """The loader's implicit scalar resolvers by first character (each list with the wildcard ones after
    it, as ``BaseResolver.resolve`` concatenates them), and the wildcard list for any other character; None
    when the loader resolves some other way (its own ``resolve``), which is then called for every scalar."""
    if type(loader).resolve is not BaseResolver.resolve:
        return None
    resolvers: dict[Any, list[tuple[str, Any]]] = loader.yaml_implicit_resolvers
    wildcard = list(resolvers.get(None, []))
    return {k: list(v) + wildcard for k, v in resolvers.items() if k is not None}, wildcard


def documents(loader: Any, file: str | None, *, end_marks: bool = False) -> Iterator[Any]:
    """Each document's root node from ``loader``'s event stream (a PyYAML loader over the text: ``CSafeLoader``
    or a subclass), with the depth and alias bounds of ``check_yaml_events(..., aliases=True)``.

    ``end_marks``: give each node its end mark, as libyaml's composer does; by default None, as nothing
    hairpin or PyYAML's constructor does reads it (``yaml/constructor.py`` quotes start marks only), and
    the marks are a sixth of the node tree (80 bytes a node).

    Raises ``yaml.YAMLError`` (syntax, reader and composer errors, as the composer raised them) or
    ``ParseError`` (depth, alias bomb) where the two passes did."""
    if loader.yaml_path_resolvers:  # nodes would be resolved by their path: not what this composer does
        raise ValueError("documents() does not support path resolvers")
    limit = max_depth()
    table = _resolver_table(loader)
    resolve = loader.resolve
    by_char, wildcard = table if table is not None else ({}, [])
    s_tag, q_tag, m_tag = loader.DEFAULT_SCALAR_TAG, loader.DEFAULT_SEQUENCE_TAG, loader.DEFAULT_MAPPING_TAG
    get_event = loader.get_event
    known: dict[str, str] = {}  # plain scalar -> its resolved tag, for the first _KNOWN distinct ones (keys)

    depth = 0
    sizes: dict[Any, int] = {}  # anchor -> nodes in its value, aliases inside it expanded (as the event pass)
    open_anchors: list[list[Any]] = []  # [depth, name, nodes so far] of anchored collections being read
    expanded = 0
    anchors: dict[Any, Any] = {}  # anchor -> node (the composer's)
    pending: Any = None  # the last complete document, handed over once the next event is read
    has_pending = False
    failed: yaml.YAMLError | None = None  # the composer's error in this document: events are still checked
    root: Any = None
    # the open collections: their value lists, whether each is a mapping, and a mapping's key waiting for its value
    opened: list[Any] = []
    values: list[list[Any]] = []
    is_map: list[bool] = []
    keys: list[Any] = []
    top: list[Any] | None = None  # values[-1]
    top_map = False
    children: list[Any] | None = None  # the node just made is a collection: its (still empty) value list
    mapping = False

    while True:
        try:
            ev = get_event()
        except yaml.reader.ReaderError:  # the event pass named the last document begun: it is not handed over
            raise
        except yaml.YAMLError as exc:  # a syntax error
            if failed is not None:  # the event pass stopped here, the composer had failed before
                raise failed from None
            if has_pending:  # the composer had handed over the document before it met the error
                has_pending = False
                yield pending
            raise exc from None
        cls = ev.__class__
        if cls is ScalarEvent:
            if open_anchors:
                for a in open_anchors:
                    a[2] += 1
            anchor = ev.anchor
            if anchor is not None:
                sizes[anchor] = 1
            if failed is not None:
                continue
            if anchor is not None and anchor in anchors:
                failed = _duplicate(anchors[anchor], ev)
                continue
            tag = ev.tag
            value = ev.value
            if tag is None or tag == "!":
                if table is None:
                    tag = resolve(ScalarNode, value, ev.implicit)
                elif ev.implicit[0]:
                    tag = known.get(value)
                    if tag is None:
                        tag = s_tag
                        for t, rx in by_char.get(value[0], wildcard) if value else by_char.get("", wildcard):
                            if rx.match(value):
                                tag = t
                                break
                        if len(known) < _KNOWN:
                            known[value] = tag
                else:
                    tag = s_tag
            node: Any = ScalarNode(tag, value, ev.start_mark, ev.end_mark if end_marks else None, ev.style)
            children = None
            if anchor is not None:
                anchors[anchor] = node
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            if open_anchors:
                for a in open_anchors:
                    a[2] += 1
            depth += 1
            anchor = ev.anchor
            if anchor is not None:
                open_anchors.append([depth, anchor, 1])
            if depth > limit:
                raise depth_error(limit, file, ev.start_mark.line + 1)
            if failed is not None:
                continue
            if anchor is not None and anchor in anchors:
                failed = _duplicate(anchors[anchor], ev)
                continue
            tag = ev.tag
            mapping = cls is MappingStartEvent
            if tag is None or tag == "!":
                tag = (m_tag if mapping else q_tag) if table is not None else resolve(
                    MappingNode if mapping else SequenceNode, None, ev.implicit
                )
            children = []
            node = (MappingNode if mapping else SequenceNode)(tag, children, ev.start_mark, None, ev.flow_style)
            if anchor is not None:
                anchors[anchor] = node
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            if open_anchors and open_anchors[-1][0] == depth:
                _, name, size = open_anchors.pop()
                sizes[name] = size
            depth -= 1
            if failed is not None:
                continue
            node = opened.pop()
            if end_marks:
                node.end_mark = ev.end_mark
            values.pop()
            is_map.pop()
            keys.pop()
            if values:
                top, top_map = values[-1], is_map[-1]
            else:
                top, top_map = None, False
            continue
        elif cls is AliasEvent:
            anchor = ev.anchor
            grow = sizes.get(anchor, 1)  # an anchor still open (a recursive alias): one reference
            if open_anchors:
                for a in open_anchors:
                    a[2] += grow
            expanded += grow
            if expanded > ALIAS_NODES:
                raise alias_bomb_error(file, ev.start_mark.line + 1)
            if failed is not None:
                continue
            if anchor not in anchors:
                failed = ComposerError(None, None, "found undefined alias", ev.start_mark)
                continue
            node = anchors[anchor]
            children = None
        elif cls is DocumentStartEvent or cls is StreamEndEvent:
            if failed is not None:
                raise failed
            if has_pending:
                has_pending = False
                yield pending
                pending = None
            if cls is StreamEndEvent:
                return
            depth, sizes, open_anchors, expanded, anchors = 0, {}, [], 0, {}
            root, opened, values, is_map, keys, top, top_map = None, [], [], [], [], None, False
            continue
        elif cls is DocumentEndEvent:
            if failed is None:
                pending, has_pending, root = root, True, None
            continue
        else:  # StreamStartEvent
            continue
        # a node (a scalar, an alias, or a collection just opened) goes to its parent
        if top is None:
            root = node
        elif top_map:
            if keys[-1] is None:
                keys[-1] = node
            else:
                top.append((keys[-1], node))
                keys[-1] = None
        else:
            top.append(node)
        if children is not None:  # a collection: its children come next
            opened.append(node)
            values.append(children)
            is_map.append(mapping)
            keys.append(None)
            top, top_map = children, mapping


def _duplicate(first: Any, ev: Any) -> ComposerError:
    return ComposerError("found duplicate anchor; first occurrence", first.start_mark, "second occurrence", ev.start_mark)
