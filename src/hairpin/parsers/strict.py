"""What kubectl refuses in a manifest that a lenient YAML reader accepts, and where annotations sit.

kubectl decodes YAML by converting it to JSON (sigs.k8s.io/yaml ``YAMLToJSONStrict``, which is
go-yaml with duplicate keys refused: "key ... already set in map") and then unmarshalling the JSON
into the typed object (``encoding/json``).  Two kinds of files a lenient reader would take therefore
never reach the cluster:

- a mapping with the same key twice (PyYAML keeps the last value in silence);
- a value of the wrong JSON type in a field of a typed object: ``metadata.annotations`` and
  ``metadata.labels`` are ``map[string]string`` (k8s.io/apimachinery ``ObjectMeta``), so an unquoted
  ``aws-load-balancer-internal: true`` fails with "cannot unmarshal bool into Go struct field
  ObjectMeta.metadata.annotations of type string"; likewise a number.  ``null`` is accepted (the
  empty string).  A Service's ``spec.type``, ``spec.loadBalancerClass``,
  ``spec.externalTrafficPolicy`` are strings and ``spec.ports[].port``/``nodePort`` integers
  (k8s.io/api ``core/v1`` ``ServiceSpec``, ``ServicePort``).

``vet_yaml(node, file)`` checks the types of the objects in one composed YAML document and
``refuse_duplicate`` the keys of one mapping (the loader calls it for every mapping it constructs whose
dict came out shorter than its keys); both raise ``ParseError`` at the offending key or value's line; ``vet_object(data, file, line)``
checks the types of an already decoded (JSON) object.  ``marks(node)`` returns where the annotations
and a few Service fields sit (1-based line and column), for locations in reports.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml

from hairpin.errors import ParseError

if TYPE_CHECKING:
    from hairpin.parsers.manifests import KubeObject

__all__ = [
    "LABEL_NAME_LIMIT",
    "LABEL_PREFIX_LIMIT",
    "LABEL_VALUE_FORMAT",
    "LABEL_VALUE_LIMIT",
    "NAMESPACE_LIMIT",
    "SERVICE_PORT_NAME_LIMIT",
    "Marks",
    "marks",
    "name_limit",
    "named",
    "object_nodes",
    "refuse_duplicate",
    "vet_object",
    "vet_yaml",
]

#: path -> (line, column), 1-based: ``metadata.annotations[KEY]``, ``spec.type``, ``spec.loadBalancerClass``,
#: ``spec.loadBalancerSourceRanges``,
#: ``spec.ports[I]``
Marks = dict[str, tuple[int, int]]

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_INT = "tag:yaml.org,2002:int"
_JSON_TYPE = {  # the JSON type encoding/json names in its error, per YAML tag
    "tag:yaml.org,2002:bool": "bool",
    _INT: "number",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:seq": "array",
    "tag:yaml.org,2002:map": "object",
    "tag:yaml.org,2002:omap": "array",
    "tag:yaml.org,2002:set": "object",
    "tag:yaml.org,2002:binary": "string",
    _STR: "string",
    _NULL: "null",
}
_META_STRINGS = ("name", "namespace", "generateName")
_SPEC_STRINGS = ("type", "loadBalancerClass", "externalTrafficPolicy")
_PORT_INTS = ("port", "nodePort")
_PORT_STRINGS = ("protocol", "name")


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def _refuse(what: str, got: str, want: str, go_field: str, file: str | None, line: int) -> ParseError:
    def a(word: str) -> str:
        return ("an " if word[0] in "aio" else "a ") + word

    return ParseError(
        f"{what} is {a(got)}, not {a(want)}: kubectl refuses the file (cannot unmarshal {got} into Go "
        f"struct field {go_field} of type {want}); quote the value",
        file,
        line,
    )


def refuse_duplicate(keys: list[tuple[yaml.Node, Any]], file: str | None) -> None:
    """Raise at the second of two equal keys of one mapping (``keys``: each key node with its value)."""
    first: dict[Any, int] = {}
    for node, value in keys:
        seen = first.get(value)
        if seen is not None:
            raise ParseError(
                f'duplicate key "{node.value}" (first at line {seen}): kubectl refuses the file '
                '("already set in map"); a lenient reader would keep the last value',
                file,
                _line(node),
            )
        first[value] = _line(node)


def object_nodes(doc: yaml.Node) -> list[yaml.Node]:
    """The nodes of the Kubernetes objects in a document: the items of a List, else the document."""
    items = _child(doc, "items")
    kind = _child(doc, "kind")
    if (
        isinstance(items, yaml.SequenceNode)
        and isinstance(kind, yaml.ScalarNode)
        and str(kind.value).endswith("List")
    ):
        return [i for i in items.value if isinstance(i, yaml.MappingNode)]
    return [doc] if isinstance(doc, yaml.MappingNode) else []


def _scalar_type(node: yaml.Node) -> str:
    return _JSON_TYPE.get(str(node.tag), "object" if isinstance(node, yaml.MappingNode) else "string")


def _vet_node(obj: yaml.Node, file: str | None) -> None:
    meta = _child(obj, "metadata")
    if isinstance(meta, yaml.MappingNode):
        for key in _META_STRINGS:
            v = _child(meta, key)
            if v is not None and v.tag not in (_STR, _NULL):
                raise _refuse(f"metadata.{key}", _scalar_type(v), "string", f"ObjectMeta.metadata.{key}", file, _line(v))
        for field in ("annotations", "labels"):
            m = _child(meta, field)
            if m is None or m.tag == _NULL:
                continue
            if not isinstance(m, yaml.MappingNode):
                raise _refuse(f"metadata.{field}", _scalar_type(m), "map[string]string",
                              f"ObjectMeta.metadata.{field}", file, _line(m))  # fmt: skip
            for k, v in m.value:
                if k.tag != _STR:
                    raise _refuse(f"metadata.{field} key {k.value!r}", _scalar_type(k), "string",
                                  f"ObjectMeta.metadata.{field}", file, _line(k))  # fmt: skip
                if v.tag not in (_STR, _NULL):
                    shown = v.value if isinstance(v, yaml.ScalarNode) else "..."
                    raise _refuse(f"metadata.{field}[{k.value}]: {shown}", _scalar_type(v), "string",
                                  f"ObjectMeta.metadata.{field}", file, _line(v))  # fmt: skip
    kind = _child(obj, "kind")
    spec = _child(obj, "spec")
    if not (isinstance(kind, yaml.ScalarNode) and kind.value == "Service" and isinstance(spec, yaml.MappingNode)):
        return
    for key in _SPEC_STRINGS:
        v = _child(spec, key)
        if v is not None and v.tag not in (_STR, _NULL):
            raise _refuse(f"spec.{key}", _scalar_type(v), "string", f"ServiceSpec.spec.{key}", file, _line(v))
    ports = _child(spec, "ports")
    if not isinstance(ports, yaml.SequenceNode):
        return
    for i, p in enumerate(ports.value):
        for key in _PORT_INTS:
            v = _child(p, key)
            if v is not None and v.tag not in (_INT, _NULL):
                raise _refuse(f"spec.ports[{i}].{key}", _scalar_type(v), "int32",
                              f"ServicePort.spec.ports.{key}", file, _line(v))  # fmt: skip
        for key in _PORT_STRINGS:
            v = _child(p, key)
            if v is not None and v.tag not in (_STR, _NULL):
                raise _refuse(f"spec.ports[{i}].{key}", _scalar_type(v), "string",
                              f"ServicePort.spec.ports.{key}", file, _line(v))  # fmt: skip


def vet_yaml(doc: yaml.Node, file: str | None) -> None:
    """Raise ``ParseError`` at the first value of a wrong type in the objects of this composed document
    (duplicate keys are found while the document is constructed: ``refuse_duplicate``)."""
    for obj in object_nodes(doc):
        _vet_node(obj, file)


def marks(obj: yaml.Node) -> Marks:
    """Where each annotation key, ``spec.type``, ``spec.loadBalancerClass``, ``spec.loadBalancerSourceRanges``
    and each port start."""
    out: Marks = {}

    def at(n: yaml.Node) -> tuple[int, int]:
        return int(n.start_mark.line) + 1, int(n.start_mark.column) + 1

    meta = _child(obj, "metadata")
    ann = _child(meta, "annotations") if meta is not None else None
    if isinstance(ann, yaml.MappingNode):
        for k, _v in ann.value:
            out[f"metadata.annotations[{k.value}]"] = at(k)
    spec = _child(obj, "spec")
    if isinstance(spec, yaml.MappingNode):
        for k, v in spec.value:
            if isinstance(k, yaml.ScalarNode) and k.value in ("type", "loadBalancerClass", "loadBalancerSourceRanges"):
                out[f"spec.{k.value}"] = at(k)
            elif isinstance(k, yaml.ScalarNode) and k.value == "ports" and isinstance(v, yaml.SequenceNode):
                for i, p in enumerate(v.value):
                    out[f"spec.ports[{i}]"] = at(p)
    return out


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "string"


def vet_object(data: dict[str, Any], file: str | None, line: int | None, kind: str | None = None) -> None:
    """The type checks of ``vet_yaml`` on a decoded object (JSON input: the line is the object's)."""
    at = line or 1
    meta = data.get("metadata")
    if isinstance(meta, dict):
        for key in _META_STRINGS:
            v = meta.get(key)
            if v is not None and not isinstance(v, str):
                raise _refuse(f"metadata.{key}", _json_type(v), "string", f"ObjectMeta.metadata.{key}", file, at)
        for field in ("annotations", "labels"):
            m = meta.get(field)
            if m is None:
                continue
            if not isinstance(m, dict):
                raise _refuse(f"metadata.{field}", _json_type(m), "map[string]string",
                              f"ObjectMeta.metadata.{field}", file, at)  # fmt: skip
            for k, v in m.items():
                if v is not None and not isinstance(v, str):
                    raise _refuse(f"metadata.{field}[{k}]: {json_repr(v)}", _json_type(v), "string",
                                  f"ObjectMeta.metadata.{field}", file, at)  # fmt: skip
    spec = data.get("spec")
    if (kind or data.get("kind")) != "Service" or not isinstance(spec, dict):
        return
    for key in _SPEC_STRINGS:
        v = spec.get(key)
        if v is not None and not isinstance(v, str):
            raise _refuse(f"spec.{key}", _json_type(v), "string", f"ServiceSpec.spec.{key}", file, at)
    ports = spec.get("ports")
    for i, p in enumerate(ports if isinstance(ports, list) else ()):
        if not isinstance(p, dict):
            continue
        for key in _PORT_INTS:
            v = p.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise _refuse(f"spec.ports[{i}].{key}", _json_type(v), "int32",
                              f"ServicePort.spec.ports.{key}", file, at)  # fmt: skip


def json_repr(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v) if isinstance(v, int | float) else "..."


#: the longest names the API server accepts (kubernetes pkg/apis/core/validation/validation.go, 1.33: a
#: Service's name and a namespace are DNS labels, ValidateServiceName / ValidateNamespaceName; other names
#: are at most DNS subdomains; k8s.io/apimachinery pkg/util/validation: DNS1035LabelMaxLength 63,
#: DNS1123SubdomainMaxLength 253)
_LABEL, _SUBDOMAIN = 63, 253


def name_limit(kind: str) -> int:
    """The longest ``metadata.name`` the API server accepts for an object of ``kind`` (``named``'s limit)."""
    return _LABEL if kind == "Service" else _SUBDOMAIN


#: the longest ``metadata.namespace`` (``named``'s limit)
NAMESPACE_LIMIT = _LABEL

#: the longest label value, and the two parts of a label key: a name of at most 63 characters after an optional
#: DNS-subdomain prefix and "/" (k8s.io/apimachinery pkg/util/validation: IsValidLabelValue, LabelValueMaxLength 63;
#: IsQualifiedName, qualifiedNameMaxLength 63, its prefix IsDNS1123Subdomain, 253)
LABEL_VALUE_LIMIT = LABEL_NAME_LIMIT = _LABEL
LABEL_PREFIX_LIMIT = _SUBDOMAIN
#: what a label value may hold besides its length: empty, or alphanumeric characters, '-', '_' and '.' starting and
#: ending with an alphanumeric one (IsValidLabelValue's labelValueFmt, the same package); ``fullmatch`` it
LABEL_VALUE_FORMAT = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")

#: the longest name of a Service's port: a DNS-1123 label (pkg/apis/core/validation/validation.go
#: validateServicePort calls ValidateDNS1123Label; DNS1123LabelMaxLength 63).  A container port's name is an
#: IANA_SVC_NAME of at most 15 characters, but a Service port's is not.
SERVICE_PORT_NAME_LIMIT = _LABEL


class Named(list[Any]):  # (of KubeObjects, or of a reader's items)
    """Objects a reader held to ``named``'s limits as it type-checked them (``shapes.typed_short``): ``named``
    has nothing to drop or say about them and returns them as they are."""


def named(objs: list[KubeObject], errs: list[ParseError]) -> list[KubeObject]:
    """The objects whose name and namespace the API server would accept by length; each other one is one
    error (a 10 MB name would otherwise be a 10 MB table cell), and the rest are still read."""
    if objs.__class__ is Named:  # (a List inside the List makes ``flatten_lists`` return another list)
        return list(objs)
    # the usual case first: no name or namespace longer than the shortest limit, nothing to say (one look at
    # each object, 0.57 us against 0.8 us, on a 175,000-object dump)
    label = _LABEL
    for o in objs:
        meta = o.data.get("metadata")
        if isinstance(meta, dict):
            name, ns = meta.get("name"), meta.get("namespace")
            if (isinstance(name, str) and len(name) > label) or (isinstance(ns, str) and len(ns) > label):
                break
    else:
        return list(objs)
    keep: list[KubeObject] = []
    for o in objs:
        meta = o.data.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        ns = meta.get("namespace") if isinstance(meta, dict) else None
        limit = name_limit(o.kind)
        if isinstance(name, str) and len(name) > limit:
            errs.append(ParseError(f"metadata.name is {len(name):,} characters: the API server refuses a name longer "
                                   f"than {limit} for a {o.kind}", o.file, o.line))  # fmt: skip
        elif isinstance(ns, str) and len(ns) > _LABEL:
            errs.append(ParseError(f"metadata.namespace is {len(ns):,} characters: the API server refuses a "
                                   f"namespace longer than {_LABEL}", o.file, o.line))  # fmt: skip
        else:
            keep.append(o)
    return keep
