"""The API server's refusals of a Service's spec.ports (hairpin.kube.apivalidation.ports_refusal) and of a Service,
Node or Pod with no name, as hairpin check and scenario from-cluster report them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.cli.main import main
from hairpin.diagnose import check as chk
from hairpin.errors import InputError
from hairpin.kube import apivalidation as api
from hairpin.kube.from_cluster import scenario_from_objects
from hairpin.parsers import manifests as m

P = "service.beta.kubernetes.io/"
NLB = {P + "aws-load-balancer-type": "nlb"}
REFUSED = ": the API server refuses the Service"
RANGE = "must be between 1 and 65535, inclusive"
WEB = {"name": "web", "port": 80, "targetPort": 8080, "protocol": "TCP"}
LABEL_RULE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
              "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")  # fmt: skip
NODE_RANGE = ("provided port is not in the valid range. The range of valid ports is 30000-32767 (kube-apiserver's "
              "default --service-node-port-range; no range goes past 65535)")  # fmt: skip
SEED = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"
SEED_SVC = "nginx-demo/service-nginx-demo"


def _svc(ports: Any, typ: str = "LoadBalancer", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "shop", "annotations": NLB},
            "spec": {"type": typ, "selector": {"app": "web"}, "ports": ports, **spec}}  # fmt: skip


def _errors(doc: dict[str, Any]) -> tuple[int, list[tuple[int | None, str]], int]:
    """(exit code, (line, message) of each input error, how many Services were judged) of a YAML manifest."""
    r = chk.check(m.parse_yaml(yaml.safe_dump(doc), "t.yaml"))
    return r.exit_code, [(e.line, e.message) for e in r.errors], len(r.findings)


REFUSALS = [
    # port: IsValidPortNum; a missing port is Go's zero
    ([{"port": 99999}], "spec.ports[0].port: Invalid value: 99999: " + RANGE),
    ([{"port": 0}], "spec.ports[0].port: Invalid value: 0: " + RANGE),
    ([{"port": -1}], "spec.ports[0].port: Invalid value: -1: " + RANGE),
    ([{"protocol": "TCP"}], "spec.ports[0].port: Invalid value: 0: " + RANGE),
    ([{"port": 2**31}], "spec.ports[0].port: cannot unmarshal number 2147483648 into Go struct field "
                        "ServicePort.spec.ports.port of type int32"),
    # targetPort: ValidatePortNumOrName, a number (IsValidPortNum) or an IANA_SVC_NAME (IsValidPortName)
    ([{"port": 80, "targetPort": 70000}], "spec.ports[0].targetPort: Invalid value: 70000: " + RANGE),
    ([{"port": 80, "targetPort": -8080}], "spec.ports[0].targetPort: Invalid value: -8080: " + RANGE),
    ([{"port": 80, "targetPort": "8080"}],
     'spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)'),
    ([{"port": 80, "targetPort": "HTTP"}], 'spec.ports[0].targetPort: Invalid value: "HTTP": must contain only '
                                          "alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
    ([{"port": 80, "targetPort": "sixteen-letters1"}],
     'spec.ports[0].targetPort: Invalid value: "sixteen-letters1": must be no more than 15 characters'),
    ([{"port": 80, "targetPort": "web--x"}],
     'spec.ports[0].targetPort: Invalid value: "web--x": must not contain consecutive hyphens'),
    ([{"port": 80, "targetPort": "web-"}],
     'spec.ports[0].targetPort: Invalid value: "web-": must not begin or end with a hyphen'),
    ([{"port": 80, "targetPort": 70000.0}], "spec.ports[0].targetPort: Invalid value: 70000: " + RANGE),
    ([{"port": 80, "targetPort": 2.0**31}], "spec.ports[0].targetPort: cannot unmarshal number 2147483648 into Go "
                                           "struct field ServicePort.spec.ports.targetPort of type int32"),
    ([{"port": 80, "targetPort": True}], "spec.ports[0].targetPort: cannot unmarshal bool into Go struct field "
                                         "ServicePort.spec.ports.targetPort of type int32"),
    ([{"port": 80, "targetPort": 80.5}], "spec.ports[0].targetPort: cannot unmarshal number into Go struct field "
                                         "ServicePort.spec.ports.targetPort of type int32"),
    ([{"port": 80, "targetPort": [80]}], "spec.ports[0].targetPort: cannot unmarshal array into Go struct field "
                                         "ServicePort.spec.ports.targetPort of type int32"),
    # protocol: supportedPortProtocols, case-sensitive
    ([{"port": 80, "protocol": "tcp"}],
     'spec.ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"'),
    ([{"port": 80, "protocol": "HTTP"}],
     'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'),
    # names: required when there are several ports, DNS-1123 labels, unique
    ([WEB, {"port": 443}], "spec.ports[1].name: Required value"),
    ([{"port": 80}, {"name": "tls", "port": 443}], "spec.ports[0].name: Required value"),
    ([WEB, {**WEB, "port": 443}], 'spec.ports[1].name: Duplicate value: "web"'),
    ([{"name": "Web", "port": 80}], f'spec.ports[0].name: Invalid value: "Web": {LABEL_RULE}'),
    ([{"name": "web.tls", "port": 80}], 'spec.ports[0].name: Invalid value: "web.tls": must not contain dots'),
    ([{"name": "x" * 64, "port": 80}],
     f'spec.ports[0].name: Invalid value: "{"x" * 64}": must be no more than 63 characters'),
    # one port and protocol twice (no protocol is TCP)
    ([WEB, {"name": "b", "port": 80}], "spec.ports[1]: Duplicate value: port 80, protocol TCP (as spec.ports[0])"),
    ([{"name": "a", "port": 53, "protocol": "UDP"}, {"name": "b", "port": 53, "protocol": "UDP", "targetPort": 54}],
     "spec.ports[1]: Duplicate value: port 53, protocol UDP (as spec.ports[0])"),
    # nodePort: one nodePort and protocol twice; none no range can hold
    ([{**WEB, "nodePort": 30080}, {"name": "b", "port": 81, "nodePort": 30080}],
     "spec.ports[1].nodePort: Duplicate value: 30080"),
    ([{**WEB, "nodePort": 99999}], f"spec.ports[0].nodePort: Invalid value: 99999: {NODE_RANGE}"),
    ([{**WEB, "nodePort": -1}], f"spec.ports[0].nodePort: Invalid value: -1: {NODE_RANGE}"),
    # no ports at all
    ([], "spec.ports: Required value"),
    (None, "spec.ports: Required value"),
]  # fmt: skip


@pytest.mark.parametrize(("ports", "message"), REFUSALS)
def test_refused_ports_are_an_input_error_of_the_service(ports: Any, message: str) -> None:
    assert _errors(_svc(ports)) == (2, [(1, message + REFUSED)], 0)


@pytest.mark.parametrize(("ports", "message"), REFUSALS)
def test_refused_ports_in_a_json_list(tmp_path: Path, ports: Any, message: str) -> None:
    f = tmp_path / "dump.json"  # one item a line, as kubectl's items start each at its own line: the Service's is 3
    f.write_text('{"apiVersion": "v1", "kind": "List", "items": [\n{"kind": "Node", "metadata": {"name": "n1"}},\n'
                 f"{json.dumps(_svc(ports))}\n]}}\n")  # fmt: skip
    r = chk.check(m.load_paths([f]))
    assert (r.exit_code, [(e.file, e.line, e.message) for e in r.errors], r.findings) == (
        2, [(str(f), 3, message + REFUSED)], [])  # fmt: skip


@pytest.mark.parametrize(
    ("typ", "ports", "message"),
    [("NodePort", [], "spec.ports: Required value"),
     ("ClusterIP", [{**WEB, "nodePort": 30080}], "spec.ports[0].nodePort: Forbidden: may not be used when `type` is "
                                                 "'ClusterIP'"),
     ("", [{**WEB, "nodePort": 30080}], "spec.ports[0].nodePort: Forbidden: may not be used when `type` is "
                                        "'ClusterIP'")],
)  # fmt: skip
def test_refusals_that_depend_on_the_type(typ: str, ports: Any, message: str) -> None:
    doc = _svc(ports, typ)
    assert _errors(doc) == (2, [(1, message + REFUSED)], 0)


@pytest.mark.parametrize(
    ("typ", "ports", "spec"),
    [("ClusterIP", [], {"clusterIP": "None"}),  # headless: no port needed
     ("ClusterIP", None, {"clusterIPs": ["None"]}),
     ("ExternalName", [], {"externalName": "db.example.com"}),
     ("NodePort", [{**WEB, "nodePort": 0}], {}),  # 0: allocate one
     ("ExternalName", [{**WEB, "nodePort": 99999}], {"externalName": "db.example.com"})],  # no allocator
)  # fmt: skip
def test_services_without_a_load_balancer_that_the_api_server_takes(typ: str, ports: Any, spec: dict[str, Any]) -> None:
    assert _errors(_svc(ports, typ, **spec)) == (0, [], 0)


@pytest.mark.parametrize(
    "ports",
    [[{"port": 80}],  # no protocol: TCP; no targetPort: the port
     [{"port": 80, "protocol": "", "targetPort": ""}],  # empty: defaulted
     [{"port": 80, "targetPort": 0}],  # 0: defaulted to the port
     [{"port": 80, "targetPort": 8080.0}],  # kubectl sends 8080 (it re-encodes what it read)
     [{"port": 80, "targetPort": None, "protocol": None, "nodePort": None, "name": None}],
     [{"port": 1, "targetPort": 65535}, ],
     [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}],
     [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81, "nodePort": 30080, "protocol": "UDP"}],
     [{"name": "web", "port": 80, "targetPort": "http-alt"}, {"name": "sctp", "port": 9, "protocol": "SCTP"}],
     [{**WEB, "nodePort": 20000}]],  # outside the default range: the cluster's range may hold it
)  # fmt: skip
def test_ports_the_api_server_takes_are_judged(ports: Any) -> None:
    assert _errors(_svc(ports)) == (0, [], 1)


# -- the command line ------------------------------------------------------------------------------------------------


def _cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, name: str = "x.yaml") -> tuple[int, str, Any]:
    """(exit code, stderr with the file's path as its name, the JSON report: None when nothing was written)."""
    f = tmp_path / name
    f.write_text(text)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["check", str(f), "--format", "json"])
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.err.replace(str(f), name), json.loads(out.out) if out.out else None


def test_the_reported_port_99999_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ("apiVersion: v1\nkind: Service\nmetadata: {name: x, annotations: {service.beta.kubernetes.io/"
            "aws-load-balancer-type: nlb}}\nspec: {type: LoadBalancer, ports: [{port: 99999}]}\n")  # fmt: skip
    code, err, report = _cli(tmp_path, capsys, text)
    assert (code, report["services"]) == (2, [])
    assert err == ("hairpin: error: x.yaml:1: spec.ports[0].port: Invalid value: 99999: must be between 1 and 65535, "
                   "inclusive: the API server refuses the Service\n")  # fmt: skip
    assert report["errors"] == [{"file": str(tmp_path / "x.yaml"), "line": 1, "message": (
        "spec.ports[0].port: Invalid value: 99999: must be between 1 and 65535, inclusive" + REFUSED)}]  # fmt: skip


@pytest.mark.parametrize(("value", "got"), [('"80"', "a string"), ("80.5", "a number"), ("true", "a bool")])
def test_a_port_of_another_type_is_refused_by_the_decoder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          value: str, got: str) -> None:  # fmt: skip
    text = f"apiVersion: v1\nkind: Service\nmetadata: {{name: x}}\nspec:\n  type: LoadBalancer\n  ports: [{{port: {value}}}]\n"
    code, err, report = _cli(tmp_path, capsys, text)
    assert (code, report) == (2, None)  # the file is refused whole, as kubectl refuses it
    assert err.splitlines()[0] == (f"hairpin: error: x.yaml:6: spec.ports[0].port is {got}, not an int32: kubectl "
                                   f"refuses the file (cannot unmarshal {got.split()[1]} into Go struct field "
                                   "ServicePort.spec.ports.port of type int32); quote the value")  # fmt: skip


# -- objects without a name ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Node", "Pod", "Service"])
def test_an_unnamed_object_in_a_list_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       kind: str) -> None:  # fmt: skip
    items = [{"kind": "Node", "metadata": {"name": "n1"}}, {"kind": kind}, _svc([WEB])]
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})  # one line: every item at line 1
    code, err, report = _cli(tmp_path, capsys, text, "dump.json")
    assert code == 2
    assert err == (f"hairpin: error: dump.json:1: metadata.name: Required value: name or generateName is required: "
                   f"the API server refuses the {kind} (object 2 of the 3 read at this line)\n")  # fmt: skip
    assert [s["name"] for s in report["services"]] == ["svc"]  # the rest is still judged


def test_unnamed_objects_in_a_list_of_one_item_a_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # as kubectl writes a List, each item at a line of its own: the line tells them apart; a List inside the List
    # puts its items at its own line, counted among themselves
    text = (
        '{"apiVersion": "v1", "kind": "List", "items": [\n{"kind": "Pod"},\n{"kind": "Node", "metadata": '
        '{"name": "n1"}},\n{"kind": "List", "items": [{"kind": "Node", "metadata": {"name": "n2"}}, '
        '{"kind": "Node", "metadata": {}}]},\n{"kind": "Service", "metadata": {"generateName": "svc-"}, "spec": {"ports": [{"port": 80}]}}\n]}\n'
    )
    code, err, report = _cli(tmp_path, capsys, text, "dump.json")
    assert (code, report["services"], report["errors"]) == (
        2,
        [],
        [
            {
                "file": str(tmp_path / "dump.json"),
                "line": 2,
                "message": "metadata.name: Required value: name or "
                "generateName is required: the API server refuses the Pod",
            },
            {
                "file": str(tmp_path / "dump.json"),
                "line": 4,
                "message": "metadata.name: Required value: name or "
                "generateName is required: the API server refuses the Node (object 2 of the 2 read at this line)",
            },
        ],
    )
    assert err.count("\n") == 2


@pytest.mark.parametrize("meta", [{}, {"name": ""}, {"name": None, "namespace": "shop"}])
def test_an_unnamed_service_manifest_is_an_input_error(meta: dict[str, Any]) -> None:
    doc = {**_svc([WEB]), "metadata": {**meta, "annotations": NLB}}
    message = "metadata.name: Required value: name or generateName is required: the API server refuses the Service"
    assert _errors(doc) == (2, [(1, message)], 0)


def test_a_generated_name_is_taken() -> None:
    doc = {**_svc([WEB]), "metadata": {"generateName": "svc-", "annotations": NLB}}
    assert _errors(doc) == (0, [], 1)


# -- valid ports are never refused -----------------------------------------------------------------------------------

_LABEL = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?\Z")
_IANA = st.from_regex(r"\A[a-z]([a-z0-9]|-(?=[a-z0-9])){0,14}\Z").filter(lambda s: len(s) <= 15 and s[-1] != "-")


@st.composite
def _valid_ports(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 4))
    names = draw(st.lists(_LABEL, min_size=n, max_size=n, unique=True))
    pairs = draw(st.lists(st.tuples(st.sampled_from([None, "", *api.PORT_PROTOCOLS]), st.integers(1, 65535)),
                          min_size=n, max_size=n, unique_by=lambda t: (t[0] or "TCP", t[1])))  # fmt: skip
    node_ports = draw(st.lists(st.integers(30000, 32767), min_size=n, max_size=n, unique=True))
    out = []
    for name, (proto, port), node_port in zip(names, pairs, node_ports, strict=True):
        p: dict[str, Any] = {"port": port}
        if n > 1 or draw(st.booleans()):
            p["name"] = name
        if proto is not None:
            p["protocol"] = proto
        target = draw(st.one_of(st.none(), st.just(0), st.just(""), st.integers(1, 65535), _IANA))
        if target is not None:
            p["targetPort"] = target
        if draw(st.booleans()):
            p["nodePort"] = draw(st.sampled_from([0, node_port]))
        out.append(p)
    return out


@given(_valid_ports(), st.sampled_from(["LoadBalancer", "NodePort"]))
@settings(max_examples=300, deadline=None)
def test_valid_ports_are_never_refused(ports: list[dict[str, Any]], typ: str) -> None:
    assert api.ports_refusal({"type": typ, "ports": ports}) is None
    assert api.ports_refusal({"type": "ClusterIP", "ports": [{k: v for k, v in p.items() if k != "nodePort"}
                                                             for p in ports]}) is None  # fmt: skip


@given(_valid_ports())
@settings(max_examples=60, deadline=None)
def test_check_judges_every_service_with_valid_ports(ports: list[dict[str, Any]]) -> None:
    # the whole path, manifest text to verdict (a mixed-protocol LoadBalancer is refused only with an older
    # --kubernetes-version, not given here)
    assert _errors(_svc(ports)) == (0, [], 1)


# -- scenario from-cluster agrees with check on the same dump --------------------------------------------------------


def _seed_with(port: dict[str, Any]) -> list[m.KubeObject]:
    out = []
    for o in m.load_paths([SEED]):
        if o.kind == "Service" and o.name == "service-nginx-demo":
            data = copy.deepcopy(o.data)
            data["spec"]["ports"] = [{**data["spec"]["ports"][0], **port}]
            o = m.KubeObject(o.kind, data, o.file, o.line, o.marks)
        out.append(o)
    return out


@pytest.mark.parametrize(
    ("port", "message"),
    [({"port": 99999}, "spec.ports[0].port: Invalid value: 99999: " + RANGE),
     ({"nodePort": 70000}, f"spec.ports[0].nodePort: Invalid value: 70000: {NODE_RANGE}"),
     ({"targetPort": "8080"}, 'spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter '
                              "(a-z)"),
     ({"protocol": "tcp"}, 'spec.ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"')],
)  # fmt: skip
def test_from_cluster_refuses_what_check_refuses(port: dict[str, Any], message: str) -> None:
    objects = _seed_with(port)
    r = chk.check(objects)
    assert [(e.line, e.message) for e in r.errors] == [(56, message + REFUSED)]
    with pytest.raises(InputError) as exc:
        scenario_from_objects(objects, service=SEED_SVC)
    assert (exc.value.line, exc.value.message) == (56, message + REFUSED)


@pytest.mark.parametrize(
    ("port", "want"),
    [({"nodePort": 0}, (80, 80, None)),  # the API server allocates one
     ({"targetPort": 0}, (80, 80, 31468)),  # defaulted to the port
     ({"targetPort": ""}, (80, 80, 31468)),
     ({"targetPort": 8080.0}, (80, 8080, 31468)),
     ({"targetPort": None, "protocol": None}, (80, 80, 31468))],
)  # fmt: skip
def test_from_cluster_takes_the_defaults_check_takes(port: dict[str, Any], want: tuple[int, int, int | None]) -> None:
    objects = _seed_with(port)
    assert chk.check(objects).errors == []
    s, _ = scenario_from_objects(objects, service=SEED_SVC)
    assert [(p.port, p.target_port, p.node_port) for p in s.client_service.ports] == [want]
