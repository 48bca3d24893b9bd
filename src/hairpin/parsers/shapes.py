"""The JSON types of the object fields hairpin reads, as the Kubernetes API types declare them.

kubectl decodes every object into its typed Go struct (k8s.io/api ``core/v1`` Node, Pod, Service,
ConfigMap; ``discovery/v1`` EndpointSlice; ``admissionregistration/v1``; ``apps/v1`` Deployment), so a
field of the wrong JSON type (``metadata: [a]``, ``spec.ports: 5``, ``status.addresses: x``) is
refused before anything reaches the cluster.  ``vet_shape(kind, data, file, line)`` checks the fields
hairpin reads against those types and raises ``ParseError`` naming the field path; ``null`` is
accepted anywhere (Go's zero value) and fields hairpin does not read are not looked at.  It keeps
everything downstream from meeting a list where it expects a mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hairpin.errors import ParseError

__all__ = ["SCHEMAS", "article", "json_type", "typed", "typed_short", "vet_shape", "well_typed"]

S, N, B = "string", "integer", "boolean"
M = "map[string]string"  # labels, annotations, selector, ConfigMap data
_META = {"name": S, "namespace": S, "generateName": S, "uid": S, "labels": M, "annotations": M}
_CONTAINER = {"name": S, "image": S, "args": [S], "ports": [{"name": S, "containerPort": N}]}

#: kind -> the fields hairpin reads (a dict: an object's fields; [x]: a list of x; a name: a scalar type)
SCHEMAS: dict[str, dict[str, Any]] = {
    "Node": {"spec": {"taints": [{"key": S}]},
             "status": {"addresses": [{"type": S, "address": S}],
                        "nodeInfo": {"kubeletVersion": S, "kubeProxyVersion": S, "osImage": S}}},
    "Pod": {"spec": {"nodeName": S, "hostNetwork": B, "containers": [_CONTAINER]},
            "status": {"phase": S, "podIP": S, "conditions": [{"type": S, "status": S}]}},
    "Service": {"spec": {"type": S, "loadBalancerClass": S, "externalTrafficPolicy": S, "clusterIP": S,
                         "clusterIPs": [S],
                         "healthCheckNodePort": N, "selector": M, "ipFamilies": [S], "ipFamilyPolicy": S,
                         "loadBalancerSourceRanges": [S],
                         "ports": [{"name": S, "port": N, "nodePort": N, "protocol": S}]}},
    "EndpointSlice": {"endpoints": [{"addresses": [S], "nodeName": S, "conditions": {"ready": B},
                                     "targetRef": {"kind": S, "name": S}}]},
    "ConfigMap": {"data": M},
    "MutatingWebhookConfiguration": {"webhooks": [{"name": S}]},
    "Deployment": {"spec": {"template": {"spec": {"containers": [_CONTAINER]}}}},
}  # fmt: skip


def json_type(v: Any) -> str:
    """The JSON name of a decoded value's type, as the API server's errors name it."""
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object" if isinstance(v, dict) else type(v).__name__


def article(word: str) -> str:
    """``word`` with its indefinite article."""
    return ("an " if word[0] in "aeiou" else "a ") + word


def _check(value: Any, schema: Any, path: str, file: str | None, line: int | None) -> None:
    if value is None:
        return
    want: str
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            want = "object"
        else:
            for key, sub in schema.items():
                _check(value.get(key), sub, f"{path}.{key}" if path else key, file, line)
            return
    elif isinstance(schema, list):
        if not isinstance(value, list):
            want = "array"
        else:
            for i, item in enumerate(value):
                _check(item, schema[0], f"{path}[{i}]", file, line)
            return
    elif schema == M:
        if isinstance(value, dict) and all(v is None or isinstance(v, str) for v in value.values()):
            return
        want = M
        if isinstance(value, dict):  # name the offending entry
            key, bad = next((k, v) for k, v in value.items() if not (v is None or isinstance(v, str)))
            raise ParseError(f"{path}[{key}] is {article(json_type(bad))}, not a string: kubectl refuses the file", file, line)
    else:
        got = json_type(value)
        if got == schema:
            return
        want = schema
    raise ParseError(f"{path} is {article(json_type(value))}, not {article(want)}: kubectl refuses the file", file, line)


_PY = {S: "str", N: "int", B: "bool"}


def _compile(schema: dict[str, Any], longest: dict[str, int] | None = None) -> Callable[[dict[str, Any]], bool]:
    """A function answering "is this object well typed?" with the checks written out inline (generated from
    the static schemas above, never from input): a walk over the schema per object cost as much as
    decoding the JSON; this costs a few percent of it.  ``longest``: dotted path of a string field -> the
    most characters it may have (an int, never input), each also required."""
    lines = ["def ok(d):"]
    counter = iter(range(10_000))
    limits = dict(longest or {})

    def emit(var: str, sch: Any, indent: str, path: str = "") -> None:
        if isinstance(sch, dict):
            lines.append(f"{indent}if type({var}) is not dict: return False")
            for key, sub in sch.items():
                v = f"v{next(counter)}"
                lines.append(f"{indent}{v} = {var}.get({key!r})")
                lines.append(f"{indent}if {v} is not None:")
                here = f"{path}.{key}" if path else key
                emit(v, sub, indent + "    ", here)
                if here in limits and sub == S:  # after its type check: a str here
                    lines.append(f"{indent}    if len({v}) > {int(limits.pop(here))}: return False")
        elif isinstance(sch, list):
            item = f"v{next(counter)}"
            lines.append(f"{indent}if type({var}) is not list: return False")
            lines.append(f"{indent}for {item} in {var}:")
            lines.append(f"{indent}    if {item} is None: continue")
            emit(item, sch[0], indent + "    ")
        elif sch == M:
            x = f"v{next(counter)}"
            lines.append(f"{indent}if type({var}) is not dict: return False")
            lines.append(f"{indent}for {x} in {var}.values():")
            lines.append(f"{indent}    if {x} is not None and type({x}) is not str: return False")
        else:
            lines.append(f"{indent}if type({var}) is not {_PY[sch]}: return False")

    emit("d", schema, "    ")
    if limits:  # a limit on a field the schema does not hold, or not a string: a mistake here, not input
        raise ValueError(f"no string field for the limits {sorted(limits)}")
    lines.append("    return True")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # code generated from the constant schemas only
    fn: Callable[[dict[str, Any]], bool] = namespace["ok"]
    return fn


_FAST = {kind: _compile({"metadata": _META, **schema}) for kind, schema in SCHEMAS.items()}
_FAST_META = _compile({"metadata": _META})


def typed(kind: str) -> Callable[[dict[str, Any]], bool]:
    """The generated check ``well_typed`` makes for ``kind``."""
    return _FAST.get(kind, _FAST_META)


def typed_short(kind: str | None, name: int, namespace: int) -> Callable[[dict[str, Any]], bool]:
    """``typed(kind)`` that also answers False when ``metadata.name`` is longer than ``name`` characters or
    ``metadata.namespace`` longer than ``namespace`` (a reader that checks names, ``strict.named``, then has
    nothing to say about an object this passes); a kind without a schema, or None: the metadata alone."""
    schema = SCHEMAS.get(kind or "", {})
    return _compile({"metadata": _META, **schema}, {"metadata.name": name, "metadata.namespace": namespace})


def well_typed(kind: str, data: dict[str, Any]) -> bool:
    """True when every field hairpin reads has its API type (``vet_shape`` would not raise).  This also
    holds every check of ``hairpin.parsers.strict.vet_object``: metadata name, namespace, generateName a
    string, labels and annotations strings, a Service's type, loadBalancerClass and externalTrafficPolicy
    strings and its ports' port and nodePort integers are all in ``SCHEMAS``, as strictly."""
    return _FAST.get(kind, _FAST_META)(data)


def vet_shape(kind: str, data: dict[str, Any], file: str | None, line: int | None) -> None:
    """Raise ``ParseError`` when a field hairpin reads has a JSON type the object's API type refuses."""
    if _FAST.get(kind, _FAST_META)(data):
        return
    _check(data.get("metadata"), _META, "metadata", file, line)
    schema = SCHEMAS.get(kind)
    if schema is not None:
        _check(data, schema, "", file, line)
