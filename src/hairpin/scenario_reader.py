"""How one value of a scenario file is read: the YAML with the line of every key, each key's type and bounds,
and the one-line error naming the file, the line and the key path.

``parse(text, file)`` reads YAML (depth and aliases checked first, ``hairpin.reading``) and maps every key path
(``services[0].load_balancer.nodes``) to its line.  ``Reader`` walks one mapping of the document: a key's value
of the right type, an integer in range, an address of the scenario's one family, a choice, labels, and a string
no longer than its limit.  The limits are the real system's where there is one (the Kubernetes API server's for
names, labels and port names: ``hairpin.parsers.strict``, which ``hairpin check`` applies to manifests), else a
generous one of hairpin's own, so that a hostile or broken file cannot put a 50 MB name in every report.  What the
keys mean, and the checks across keys, are ``hairpin.scenario``'s.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

import yaml

from hairpin import reading
from hairpin.errors import ScenarioError
from hairpin.model.net import addr_text
from hairpin.parsers.strict import (
    LABEL_NAME_LIMIT,
    LABEL_PREFIX_LIMIT,
    LABEL_VALUE_FORMAT,
    LABEL_VALUE_LIMIT,
    NAMESPACE_LIMIT,
    name_limit,
)

__all__ = ["DESCRIPTION_LIMIT", "PORT_RANGE", "REGION_REFUSAL", "SCENARIO_NAME_LIMIT", "TEXT_LIMIT", "ZONE_REFUSAL",
           "Reader", "line_of", "name_refusal", "parse", "quoted"]  # fmt: skip

#: hairpin's own limits, for text no real system bounds: the scenario's name (a title in every report), its
#: description (a paragraph of the HTML report), and a label such as ``cni.name`` (shown, never parsed).  Each is
#: many times what a person writes there, and far below what would fill a terminal or a report.
SCENARIO_NAME_LIMIT = 256
DESCRIPTION_LIMIT = 10_000
TEXT_LIMIT = 253

#: An AZ name (``us-east-1a``: the Region code and a letter, AWS "Regions and Availability Zones") and the region
#: reach Kubernetes as the values of a node's ``topology.kubernetes.io/zone`` and ``topology.kubernetes.io/region``
#: labels (cloud-provider-aws reports the instance's placement as its zone and region, and the cloud node
#: controller of k8s.io/cloud-provider labels the node with them), where ``hairpin scenario from-cluster`` reads
#: them: a label value, so the API server's limit for one (``LABEL_VALUE_LIMIT``, 63) holds them.
ZONE_REFUSAL = "the API server refuses a topology.kubernetes.io/zone label value (an AZ name)"
REGION_REFUSAL = "the API server refuses a topology.kubernetes.io/region label value (a region)"

#: An IPv4 address in dotted-quad form (no leading zeros), and a network ``address/prefix``: the same
#: patterns as ``scenarios/schema.json``.
_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}")
_IPV4_NET = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}/(3[0-2]|[12]?\d)")
#: An IPv6 address in hex groups (RFC 4291 2.2 forms 1 and 2: no embedded dotted quad, no zone) and a network.
_H = "[0-9a-fA-F]{1,4}"
_IPV6_TEXT = (rf"(({_H}:){{7}}{_H}|({_H}:){{1,7}}:|({_H}:){{1,6}}:{_H}|({_H}:){{1,5}}(:{_H}){{1,2}}"
              rf"|({_H}:){{1,4}}(:{_H}){{1,3}}|({_H}:){{1,3}}(:{_H}){{1,4}}|({_H}:){{1,2}}(:{_H}){{1,5}}"
              rf"|{_H}:(:{_H}){{1,6}}|:((:{_H}){{1,7}}|:))")  # fmt: skip
_IPV6 = re.compile(_IPV6_TEXT)
_IPV6_NET = re.compile(rf"{_IPV6_TEXT}/(12[0-8]|1[01]\d|[1-9]?\d)")
PORT_RANGE = (1, 65535)


def quoted(value: Any) -> str:
    """``value`` for a one-line message: its repr, shortened."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        dict: "a mapping",
        list: "a list",
    }
    if set(kinds) >= {int, float}:
        kinds = tuple(k for k in kinds if k is not int)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def name_refusal(kind: str) -> str:
    """What refuses a name for an object of ``kind`` ("Namespace": a namespace), for ``Reader.bounded``."""
    return "the API server refuses a " + ("namespace" if kind == "Namespace" else f"name for a {kind}")


def line_of(lines: Mapping[str, int], path: str) -> int | None:
    """The line of ``path`` (``a.b[2].c``), else of the nearest enclosing key or item that has one."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""


class Reader:
    """Walks a mapping and raises ScenarioError naming the file, the line and the key path."""

    def __init__(self, data: Any, path: str, file: str | None, lines: Mapping[str, int],
                 family: list[tuple[int, str]] | None = None) -> None:  # fmt: skip
        self.path = path
        self.file = file
        self.lines = lines
        #: the scenario's address family and the key that set it (the first address read: vpc.cidr), shared
        self.family: list[tuple[int, str]] = family if family is not None else []
        if not isinstance(data, dict):
            raise self.error("", f"must be a mapping (got {quoted(data)})")
        self.data: dict[Any, Any] = data
        self.used: set[str] = set()

    def _key(self, key: str) -> str:
        if not key:
            return self.path
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> ScenarioError:
        """The error about ``key`` of this mapping ("" for the mapping itself), at its line."""
        path = self._key(key)
        return ScenarioError(f"{path or 'scenario'}: {message}", self.file, line_of(self.lines, path))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., required: bool = False) -> Any:
        """The value of ``key``; absent or null gives ``default`` (an error when required or no default)."""
        self.used.add(key)
        value = self.data.get(key)
        if value is None:
            if required or default is ...:
                raise self.error(key, "required key missing" if key not in self.data else "required, got null")
            return default
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if int in kinds and isinstance(value, float) and value.is_integer() and float not in kinds:
            value = int(value)  # 80.0 is the integer 80, as in JSON Schema
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise self.error(key, f"must be {_kind_name(kind)} (got {quoted(value)})")
        return value

    def bounded(self, key: str, value: str, limit: int, refusal: str) -> str:
        """``value`` (found at ``key``) when at most ``limit`` characters long, else the error
        ``KEY: N characters: REFUSAL longer than LIMIT``.  Only the length is checked, not the characters: the
        reports show control and bidirectional formatting characters escaped (``hairpin.render.markup``)."""
        if len(value) > limit:
            raise self.error(key, f"{len(value):,} characters: {refusal} longer than {limit:,}")
        return value

    def text(self, key: str, limit: int, refusal: str, default: Any = ...) -> Any:
        """A string of at most ``limit`` characters (absent/null: ``default``; no default: required);
        ``bounded`` says what is wrong with a longer one."""
        value = self.get(key, str, default=default, required=default is ...)
        return value if value is None or value is default else self.bounded(key, value, limit, refusal)

    def name(self, key: str, kind: str, default: Any = ...) -> Any:
        """A name no longer than the API server accepts for an object of ``kind`` ("Namespace": a namespace),
        as ``hairpin check`` reads manifests (``hairpin.parsers.strict``: pods and nodes 253 characters, a
        Service and a namespace 63, from kubernetes pkg/apis/core/validation ValidatePodName, ValidateNodeName,
        ValidateServiceName, ValidateNamespaceName): a 100,000-character name would fill every report."""
        limit = NAMESPACE_LIMIT if kind == "Namespace" else name_limit(kind)
        return self.text(key, limit, name_refusal(kind), default)

    def integer(self, key: str, default: Any = ..., lo: int = 0, hi: int | None = None) -> Any:
        """An integer from ``lo`` to ``hi`` (absent/null: ``default``)."""
        value = self.get(key, int, default=default)
        if value is None or value is default:
            return value
        if value < lo or (hi is not None and value > hi):
            bounds = f"from {lo} to {hi}" if hi is not None else f"at least {lo}"
            raise self.error(key, f"must be an integer {bounds} (got {value})")
        return value

    def sub(self, key: str, required: bool = True) -> Reader:
        value = self.get(key, dict, required=required, default=... if required else {})
        return Reader(value, self._key(key), self.file, self.lines, self.family)

    def items(self, key: str, required: bool = True) -> list[Reader]:
        values = self.get(key, list, required=required, default=... if required else [])
        return [Reader(v, f"{self._key(key)}[{i}]", self.file, self.lines, self.family) for i, v in enumerate(values)]

    def strings(self, key: str, default: Any = ...) -> Any:
        """A list of strings (absent/null: ``default``)."""
        values = self.get(key, list, default=default)
        if values is None or values is default:
            return values
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise self.error(f"{key}[{i}]", f"must be a string (got {quoted(v)})")
        return values

    def check_address(self, key: str, value: Any, network: bool = False) -> str:
        """``value`` (found at ``key``) as a normalised IPv4 or IPv6 address or network, of the scenario's one
        family (the first address read sets it; a later one of the other family is refused: dual-stack is not
        modelled)."""
        what = ("an IPv4 or IPv6 network such as 10.0.0.0/16 or 2600:1f18::/56" if network
                else "an IPv4 or IPv6 address such as 10.0.0.1 or 2600:1f18::1")  # fmt: skip
        v4, v6 = (_IPV4_NET, _IPV6_NET) if network else (_IPV4, _IPV6)
        if not isinstance(value, str) or not (v4.fullmatch(value) or v6.fullmatch(value)):
            raise self.error(key, f"must be {what} (got {quoted(value)})")
        fam = 6 if ":" in value else 4
        if not self.family:
            self.family.append((fam, f"{self._key(key)} {value}"))
        elif self.family[0][0] != fam:
            have, where = self.family[0]
            raise self.error(key, f"{value} is IPv{fam} but the scenario is IPv{have} ({where}): one address "
                                  "family per scenario (dual-stack is not modelled)")  # fmt: skip
        if network:
            try:
                return addr_text(str(ipaddress.ip_network(value)))
            except ValueError:
                raise self.error(
                    key,
                    f"{value} has host bits set (the network is "
                    f"{addr_text(str(ipaddress.ip_network(value, strict=False)))})",
                ) from None
        return addr_text(value)

    def address(self, key: str, required: bool = True, network: bool = False) -> str:
        value = self.get(key, str, required=required, default=... if required else None)
        if value is None:
            return ""
        return self.check_address(key, value, network)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default=default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)} (got {quoted(value)})")
        return str(value)

    def labels(self, key: str) -> tuple[tuple[str, str], ...]:
        """Kubernetes labels, each no longer than the API server accepts (``hairpin.parsers.strict``): a key's
        name part 63 characters after an optional prefix of 253 and "/", a value a string (a number or a boolean
        is refused, as ``kubectl`` refuses one in a manifest) of 63 that ``IsValidLabelValue`` takes."""
        raw = self.get(key, dict, default={})
        for k, v in raw.items():
            prefix, _, name = str(k).rpartition("/")
            if len(name) > LABEL_NAME_LIMIT or len(prefix) > LABEL_PREFIX_LIMIT:
                part, n, limit = ("name", name, LABEL_NAME_LIMIT) if len(name) > LABEL_NAME_LIMIT else (
                    "prefix", prefix, LABEL_PREFIX_LIMIT)  # fmt: skip
                raise self.error(key, f"a key whose {part} part is {len(n):,} characters: the API server refuses a "
                                      f"label key's {part} part longer than {limit}")  # fmt: skip
            if v is None:
                raise self.error(f"{key}.{k}", "must be a string (got None): write '' for an empty label value")
            if not isinstance(v, str):  # a number or boolean too: YAML's 1.10 is 1.1, true is not "true"
                raise self.error(f"{key}.{k}", f"must be a string (got {quoted(v)}): a Kubernetes label value is "
                                               "one (kubectl refuses a number or boolean there); write it in quotes")  # fmt: skip
            self.bounded(f"{key}.{k}", v, LABEL_VALUE_LIMIT, "the API server refuses a label value")
            if not LABEL_VALUE_FORMAT.fullmatch(v):
                raise self.error(f"{key}.{k}", f"{quoted(v)}: not a label value the API server takes (empty, or "
                                               "alphanumerics, '-', '_' and '.' from and to an alphanumeric: "
                                               f"{LABEL_VALUE_FORMAT.pattern})")  # fmt: skip
        return tuple(sorted((str(k), str(v)) for k, v in raw.items()))

    def done(self) -> None:
        extra = sorted((str(k) for k in self.data if k not in self.used), key=str)
        if extra:
            raise self.error(extra[0], f"unknown key (known here: {', '.join(sorted(self.used))})")


def parse(text: str, file: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML ``text``: the data, and the line (1-based) of every key path and list item in it.

    The path of a mapping value is the line of its key; a list item's is the line it starts on; the
    document's own (``""``) is its first line.  Syntax errors raise one-line ScenarioErrors.
    """
    bad = reading.check_yaml_events(text, file, yaml.SafeLoader)  # depth, aliases: before composing
    if bad is not None:
        raise ScenarioError(bad[1].message, file, bad[1].line)
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        err = reading.yaml_error(exc, file, text)
        raise ScenarioError(err.message, file, err.line) from None
    except ValueError as exc:  # an integer too long for Python to read
        if not reading.long_number(exc):
            raise
        err = reading.number_error(text, file, "YAML")
        raise ScenarioError(err.message, file, err.line) from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[str, int] = {}
    if root is None:
        return data, lines

    def walk(node: yaml.Node, path: str, line: int) -> None:
        lines.setdefault(path, line)
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                at = key.start_mark.line + 1
                sub = f"{path}.{name}" if path else name
                if name in seen and key.tag != "tag:yaml.org,2002:merge":
                    raise ScenarioError(f"{sub}: duplicate key (first on line {seen[name]})", file, at)
                seen[name] = at
                walk(value, sub, at)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}[{i}]", item.start_mark.line + 1)

    walk(root, "", root.start_mark.line + 1)
    return data, lines
