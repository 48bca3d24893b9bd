"""Files kubectl refuses: duplicate keys, wrong value types in metadata and Service fields (hairpin.parsers.strict)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.cli.main import main
from hairpin.errors import ParseError
from hairpin.parsers import manifests as m
from hairpin.parsers import shapes, strict

DATA = Path(__file__).parent / "data" / "check"
REFUSED = DATA / "refused"
BOOL_MSG = (
    "metadata.annotations[service.beta.kubernetes.io/aws-load-balancer-internal]: true is a bool, not a string: "
    "kubectl refuses the file (cannot unmarshal bool into Go struct field ObjectMeta.metadata.annotations of type "
    "string); quote the value"
)
DUP_MSG = (
    'duplicate key "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes" (first at line 10): '
    'kubectl refuses the file ("already set in map"); a lenient reader would keep the last value'
)
NUM_MSG = (
    "metadata.annotations[service.beta.kubernetes.io/aws-load-balancer-healthcheck-port]: 8080 is a number, not a "
    "string: kubectl refuses the file (cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations "
    "of type string); quote the value"
)


def _errors(text: str) -> tuple[list[str], list[str]]:
    errs: list[ParseError] = []
    objs = m.parse_yaml(text, "f.yaml", errs)
    return [o.name for o in objs], [e.one_line() for e in errs]


def test_refused_documents_are_errors_and_the_next_documents_are_read() -> None:
    names, errs = _errors((REFUSED / "bool-internal.yaml").read_text())
    assert names == ["after-refused"]
    assert errs == [f"f.yaml:9: {BOOL_MSG}"]
    names, errs = _errors((REFUSED / "duplicate-key.yaml").read_text())
    assert names == [] and errs == [f"f.yaml:12: {DUP_MSG}"]
    with pytest.raises(ParseError) as exc:
        m.parse_yaml((REFUSED / "duplicate-key.yaml").read_text(), "f.yaml")
    assert exc.value.line == 12


@pytest.mark.parametrize(
    ("snippet", "line", "message"),
    [
        ("metadata:\n  name: a\n  labels:\n    tier: 1\n", 6,
         "metadata.labels[tier]: 1 is a number, not a string: kubectl refuses the file (cannot unmarshal number into "
         "Go struct field ObjectMeta.metadata.labels of type string); quote the value"),
        ("metadata:\n  name: 12\n", 4,
         "metadata.name is a number, not a string: kubectl refuses the file (cannot unmarshal number into Go struct "
         "field ObjectMeta.metadata.name of type string); quote the value"),
        ("metadata:\n  name: a\n  annotations: [x]\n", 5,
         "metadata.annotations is an array, not a map[string]string: kubectl refuses the file (cannot unmarshal "
         "array into Go struct field ObjectMeta.metadata.annotations of type map[string]string); quote the value"),
        ("metadata:\n  name: a\nspec:\n  ports:\n  - port: '80'\n", 7,
         "spec.ports[0].port is a string, not an int32: kubectl refuses the file (cannot unmarshal string into Go "
         "struct field ServicePort.spec.ports.port of type int32); quote the value"),
        ("metadata:\n  name: a\nspec:\n  type: yes\n", 6,
         "spec.type is a bool, not a string: kubectl refuses the file (cannot unmarshal bool into Go struct field "
         "ServiceSpec.spec.type of type string); quote the value"),
        ("metadata:\n  name: a\nspec:\n  ports:\n  - port: 80\n    port: 81\n", 8,
         'duplicate key "port" (first at line 7): kubectl refuses the file ("already set in map"); a lenient reader '
         "would keep the last value"),
    ],
)
def test_kubectl_refusals(snippet: str, line: int, message: str) -> None:
    _, errs = _errors("apiVersion: v1\nkind: Service\n" + snippet)
    assert errs == [f"f.yaml:{line}: {message}"]


def test_accepted_values() -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  annotations:\n    empty: null\n    date: 2024-01-01\n"
        "    quoted: 'true'\nspec:\n  <<: {type: LoadBalancer}\n  ports:\n  - port: 80\n"
    )
    names, errs = _errors(text)
    assert errs == [] and names == ["a"]
    (o,) = m.parse_yaml(text)
    assert o.data["metadata"]["annotations"]["date"] == "2024-01-01"  # not a datetime: timestamps are not resolved


def test_nested_annotation_value_refused() -> None:
    _, errs = _errors("kind: Service\nmetadata:\n  name: a\n  annotations:\n    m: {a: b}\n")
    assert errs == [
        "f.yaml:5: metadata.annotations[m]: ... is an object, not a string: kubectl refuses the file (cannot "
        "unmarshal object into Go struct field ObjectMeta.metadata.annotations of type string); quote the value"
    ]


def test_list_items_are_vetted_with_their_lines() -> None:
    text = "kind: List\nitems:\n- kind: Pod\n  metadata: {name: p}\n- kind: Service\n  metadata:\n    name: s\n    labels: {a: 1.5}\n"
    names, errs = _errors(text)
    assert names == [] and errs[0].startswith("f.yaml:8: metadata.labels[a]: 1.5 is a number")


def test_recursive_alias_does_not_hang() -> None:
    names, errs = _errors("kind: Widget\nmetadata: {name: a}\ndata: &d\n  x: *d\n")
    assert errs == [] and names == ["a"]
    names, errs = _errors("kind: ConfigMap\nmetadata: {name: a}\ndata: &d\n  x: *d\n")
    assert errs == ["f.yaml:1: data[x] is an object, not a string: kubectl refuses the file"] and names == []


def test_json_duplicate_and_types() -> None:
    dump = '{"kind": "List", "items": [\n {"kind": "Pod", "metadata": {"name": "p"}},\n' \
           ' {"kind": "Service", "metadata": {"name": "q", "name": "r"}}\n]}'  # fmt: skip
    with pytest.raises(ParseError) as exc:
        m.parse_json(dump, "d.json")
    assert exc.value.one_line() == (
        'd.json:3: duplicate key "name" in the object starting here: kubectl refuses the file (duplicate field); '
        "a lenient reader would keep the last value"
    )
    # a typed list's items have no kind: checked too
    with pytest.raises(ParseError) as exc:
        m.parse_json('{"kind": "ServiceList",\n "items": [\n  {"metadata": {"a": 1, "a": 2}}]}', "d.json")
    assert exc.value.line == 3
    with pytest.raises(ParseError) as exc:
        m.parse_json('{"kind": "Pod", "kind": "Pod"}', "d.json")
    assert exc.value.line == 1 and 'duplicate key "kind"' in exc.value.message
    with pytest.raises(ParseError) as exc:
        m.parse_json((REFUSED / "number-port.json").read_text(), "n.json")
    assert exc.value.one_line() == f"n.json:1: {NUM_MSG}"


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text("abcxyz-./", min_size=1, max_size=8),
                       st.one_of(st.text(max_size=6), st.integers(), st.booleans(), st.none()), max_size=5))  # fmt: skip
def test_annotation_types_property(ann: dict[str, object]) -> None:
    """A manifest is accepted exactly when every annotation value is a string or null (YAML and JSON agree)."""
    doc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "annotations": ann}}
    ok = all(v is None or isinstance(v, str) for v in ann.values())
    for parse, text in ((m.parse_yaml, yaml.safe_dump(doc)), (m.parse_json, json.dumps(doc))):
        if ok:
            assert [o.name for o in parse(text, "f")] == ["a"]
        else:
            with pytest.raises(ParseError, match="kubectl refuses the file"):
                parse(text, "f")


def test_cli_refused_files_are_errors_and_other_files_keep_their_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    def run(*paths: Path) -> tuple[int, dict[str, object], str]:
        with pytest.raises(SystemExit) as exc:
            main(["check", *map(str, paths), "--format", "json"])
        out, err = capsys.readouterr()
        return int(exc.value.code or 0), json.loads(out), err

    code_alone, alone, err_alone = run(DATA / "manifests")
    assert code_alone == 1 and err_alone == ""
    code, both, err = run(REFUSED, DATA / "manifests")
    assert code == 2
    assert err.splitlines() == [
        f"hairpin: error: {REFUSED / 'bool-internal.yaml'}:9: {BOOL_MSG}",
        f"hairpin: error: {REFUSED / 'duplicate-key.yaml'}:12: {DUP_MSG}",
        f"hairpin: error: {REFUSED / 'number-port.json'}:1: {NUM_MSG}",
    ]
    assert both["errors"] == [
        {"file": str(REFUSED / "bool-internal.yaml"), "line": 9, "message": BOOL_MSG},
        {"file": str(REFUSED / "duplicate-key.yaml"), "line": 12, "message": DUP_MSG},
        {"file": str(REFUSED / "number-port.json"), "line": 1, "message": NUM_MSG},
    ]
    services = both["services"]
    assert isinstance(services, list) and isinstance(alone["services"], list)
    others = [s for s in services if s["name"] != "after-refused"]
    assert others == alone["services"]
    (after,) = [s for s in services if s["name"] == "after-refused"]
    assert (after["controller"], after["at_risk"]) == ("aws-load-balancer-controller", False)
    assert {s["name"] for s in services} == {"web-internal", "web-public", "api", "after-refused"}


def test_typed_list_items_are_vetted_as_their_kind() -> None:
    text = '{"kind": "ServiceList", "items": [\n {"metadata": {"name": "s"}, "spec": {"ports": [{"port": "80"}]}}]}'
    with pytest.raises(ParseError) as exc:
        m.parse_json(text, "d.json")
    assert exc.value.one_line() == (
        "d.json:2: spec.ports[0].port is a string, not an int32: kubectl refuses the file (cannot unmarshal string "
        "into Go struct field ServicePort.spec.ports.port of type int32); quote the value"
    )


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=6), st.booleans())
def test_duplicate_keys_property(keys: list[str], nested: bool) -> None:
    """A mapping is refused exactly when a key repeats, at the line of its second occurrence; merged keys
    (``<<``) that the mapping overrides are no duplicates."""
    body = "".join(f"  {k}: v{i}\n" for i, k in enumerate(keys))
    if nested:
        text = "base: &b {a: x, b: y}\nkind: ConfigMap\nmetadata: {name: n}\ndata:\n  <<: *b\n" + body
        first_line = 6
    else:
        text = "kind: ConfigMap\nmetadata: {name: n}\ndata:\n" + body
        first_line = 4
    errs: list[ParseError] = []
    objs = m.parse_yaml(text, "f.yaml", errs)
    seen: dict[str, int] = {}
    dup = None
    for i, k in enumerate(keys):
        if k in seen:
            dup = (k, seen[k], first_line + i)
            break
        seen[k] = first_line + i
    if dup is None:
        assert errs == [] and [o.name for o in objs] == ["n"]
        data = objs[0].data["data"]
        assert {k: data[k] for k in keys} == {k: f"v{max(i for i, x in enumerate(keys) if x == k)}" for k in keys}
    else:
        k, first, second = dup
        assert objs == []
        assert [e.one_line() for e in errs] == [
            f'f.yaml:{second}: duplicate key "{k}" (first at line {first}): kubectl refuses the file ("already set '
            'in map"); a lenient reader would keep the last value'
        ]


# ------------------------------------------------------------------------- any shape: a verdict or one error

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70000) | st.text("ab1", max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "name", "port", "key"]), inner,
                                                                  max_size=3),
    max_leaves=6,
)  # fmt: skip
_PATHS = {
    "Service": [("metadata",), ("metadata", "annotations"), ("spec",), ("spec", "ports"), ("spec", "ports", 0),
                ("spec", "ports", 0, "port"), ("spec", "selector"), ("spec", "type"), ("spec", "healthCheckNodePort")],
    "Node": [("spec", "taints"), ("status",), ("status", "addresses"), ("status", "addresses", 0),
             ("status", "nodeInfo"), ("metadata", "labels")],
    "Pod": [("spec", "containers"), ("spec", "containers", 0, "ports"), ("status", "conditions"),
            ("status", "conditions", 0), ("spec", "nodeName"), ("status", "podIP")],
    "EndpointSlice": [("endpoints",), ("endpoints", 0), ("endpoints", 0, "addresses"), ("endpoints", 0, "conditions"),
                      ("metadata", "labels")],
    "Deployment": [("spec", "template", "spec", "containers"), ("spec", "template", "spec", "containers", 0, "args")],
}  # fmt: skip
_BASE: dict[str, dict[str, object]] = {
    "Service": {"metadata": {"name": "s", "namespace": "n", "annotations": {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb-ip"}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "a"}, "ports": [{"port": 80, "protocol": "UDP"}]}},
    "Node": {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "a"}},
             "spec": {"taints": [{"key": "k"}]},
             "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}], "nodeInfo": {}}},
    "Pod": {"metadata": {"name": "p", "namespace": "n", "labels": {"app": "a"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"name": "h", "containerPort": 1}]}]},
            "status": {"podIP": "10.0.0.9", "conditions": [{"type": "Ready", "status": "True"}]}},
    "EndpointSlice": {"metadata": {"name": "e", "namespace": "n", "labels": {"kubernetes.io/service-name": "s"}},
                      "endpoints": [{"addresses": ["10.0.0.9"], "nodeName": "n1", "conditions": {"ready": True}}]},
    "Deployment": {"metadata": {"name": "aws-load-balancer-controller"}, "spec": {"template": {"spec": {"containers": [
        {"name": "aws-load-balancer-controller", "args": ["--cluster-name=x"]}]}}}},
}  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_shape_gives_a_verdict_or_one_error(data: st.DataObject) -> None:
    """Whatever value sits at a field hairpin reads, check gives a report or one ParseError, never a traceback."""
    import copy

    from hairpin.diagnose import check as chk

    objs = {k: copy.deepcopy(v) for k, v in _BASE.items()}
    kind = data.draw(st.sampled_from(sorted(_PATHS)))
    path = data.draw(st.sampled_from(_PATHS[kind]))
    value = data.draw(_JSON)
    target: object = objs[kind]
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    doc = {"apiVersion": "v1", "kind": "List", "items": [{"kind": k, **v} for k, v in objs.items()]}
    for parse, text in ((m.parse_json, json.dumps(doc)), (m.parse_yaml, yaml.safe_dump(doc))):
        try:
            parsed = parse(text, "f")
        except ParseError as exc:
            assert "kubectl refuses the file" in exc.message
            continue
        chk.check(parsed).to_sarif()


def test_ports_of_the_wrong_type_are_one_error() -> None:
    """Found by the property test above: ``spec.ports: true`` reached a loop over the ports."""
    for text in ('{"kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": true}}',
                 "kind: Service\nmetadata: {name: s}\nspec: {ports: true}\n"):  # fmt: skip
        with pytest.raises(ParseError) as exc:
            m.parse_text(text, "f")
        assert exc.value.one_line() == "f:1: spec.ports is a boolean, not an array: kubectl refuses the file"


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_generated_shape_checks_agree_with_the_schema_walk(data: st.DataObject) -> None:
    """The inline checks generated from the schemas accept exactly what the path-naming walk accepts."""
    import copy

    from hairpin.parsers import shapes

    kind = data.draw(st.sampled_from(sorted(_PATHS)))
    obj: dict[str, object] = copy.deepcopy(_BASE[kind])
    path = data.draw(st.sampled_from(_PATHS[kind]))
    target: object = obj
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = data.draw(_JSON)  # type: ignore[index]
    fast = shapes._FAST[kind](obj)
    try:
        shapes._check(obj.get("metadata"), shapes._META, "metadata", "f", 1)
        shapes._check(obj, shapes.SCHEMAS[kind], "", "f", 1)
        walk = True
    except ParseError:
        walk = False
    assert fast == walk


@pytest.mark.parametrize(
    ("kind", "meta", "want"),
    [
        ("Service", {"name": "s" * 63, "namespace": "n" * 63}, True),
        ("Service", {"name": "s" * 64}, False),
        ("Service", {"namespace": "n" * 64}, False),
        ("Pod", {"name": "p" * 253}, True),
        ("Pod", {"name": "p" * 254}, False),
        ("Widget", {"name": "w" * 253, "namespace": None}, True),  # no schema: the metadata's alone
        ("Widget", {"name": "w" * 254}, False),
        ("Pod", {"name": 5}, False),  # the type check is still made
        ("Pod", {"name": None, "namespace": None}, True),
    ],
)
def test_the_type_check_with_name_limits_is_the_type_check_and_the_limits(
    kind: str, meta: dict[str, object], want: bool
) -> None:
    check = shapes.typed_short(kind, strict.name_limit(kind), strict.NAMESPACE_LIMIT)
    obj = {"kind": kind, "metadata": meta}
    assert check(obj) is want
    errs: list[ParseError] = []
    kept = strict.named([m.KubeObject(kind, obj, "f", 1)], errs)
    assert want is (shapes.well_typed(kind, obj) and len(kept) == 1 and not errs)


def test_a_limit_on_a_field_the_schema_does_not_hold_is_refused_when_the_check_is_made() -> None:
    with pytest.raises(ValueError, match=r"no string field for the limits \['metadata.labels'\]"):
        shapes._compile({"metadata": shapes._META}, {"metadata.labels": 5})
