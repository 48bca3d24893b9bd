"""The published JSON Schema of the scenario file: it accepts what hairpin accepts, names every key hairpin
reads, and rejects the same bad shapes; `hairpin scenario schema|validate`."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin import scenario
from hairpin.errors import ScenarioError

SCHEMA = json.loads(resources.files("hairpin").joinpath("scenarios/schema.json").read_text())
SEED = yaml.safe_load(resources.files("hairpin").joinpath("scenarios/seed.yaml").read_text())


def schema_errors(doc: Any) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc)]


def test_schema_is_valid_and_accepts_the_seed() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert schema_errors(SEED) == []


def test_every_key_hairpin_reads_is_in_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record the (path, key) pairs from_dict reads on the seed and on a document using every optional key."""
    read: set[tuple[str, str]] = set()
    original = scenario._Reader.get

    def spy(self: Any, key: str, *a: Any, **k: Any) -> Any:
        import re

        read.add((re.sub(r"\[\d+\]", "[]", self.path), key))
        return original(self, key, *a, **k)

    monkeypatch.setattr(scenario._Reader, "get", spy)
    doc = copy.deepcopy(SEED)
    doc["kernel"]["accept_local"] = False
    doc["pods"][0]["host_network"] = False
    doc["services"][0]["load_balancer"]["target_node_labels"] = {"role": "web"}
    doc["services"][0]["health_check_node_port"] = 32000
    doc["kube_proxy"].update(version="1.33", cluster_cidr="192.168.0.0/16", node_port_addresses=["192.168.0.0/16"])
    doc["services"][0].update(external_ips=["192.168.99.33"], load_balancer_ips=["192.168.200.1"],
                              load_balancer_source_ranges=["10.0.0.0/8"], session_affinity="ClientIP",
                              session_affinity_timeout=60, internal_traffic_policy="Cluster")  # fmt: skip
    scenario.from_dict(doc)

    def props(path: str) -> set[str]:
        node = SCHEMA
        for part in [p for p in path.split(".") if p]:
            node = node["properties"][part.removesuffix("[]")]
            if part.endswith("[]"):
                node = node["items"]
        return set(node["properties"])

    missing = sorted(f"{p}.{k}" if p else k for p, k in read if k not in props(p))
    assert missing == []


@pytest.mark.parametrize(("mutate", "hairpin_says"), [
    (lambda d: d.update(colour="blue"), "colour: unknown key"),
    (lambda d: d["kernel"].update(tcp_syn_retries="six"), "kernel.tcp_syn_retries: must be an integer"),
    (lambda d: d["kube_proxy"].update(mode="ebpf"), "kube_proxy.mode: must be one of iptables, nftables, ipvs"),
    (lambda d: d["services"][0]["load_balancer"].update(target_type="pod"), "target_type: must be one of"),
    (lambda d: d["nodes"][0].update(ip="192.168.2.300"), "nodes[0].ip: must be an IPv4 or IPv6 address"),
    (lambda d: d["client"].pop("port"), "client.port: required key missing"),
    (lambda d: d["services"][0]["load_balancer"].update(cross_zone="yes"), "cross_zone: must be true or false"),
    (lambda d: d["nodes"][0].update(name="n" * 254), "nodes[0].name: 254 characters: the API server refuses a name for a Node longer than 253"),
    (lambda d: d["pods"][0].update(name="p" * 254), "pods[0].name: 254 characters: the API server refuses a name for a Pod longer than 253"),
    (lambda d: d["pods"][0].update(namespace="w" * 64), "pods[0].namespace: 64 characters: the API server refuses a namespace longer than 63"),
    (lambda d: d["services"][0].update(name="s" * 64), "services[0].name: 64 characters: the API server refuses a name for a Service longer than 63"),
    (lambda d: d["services"][0].update(namespace="w" * 64), "services[0].namespace: 64 characters: the API server refuses a namespace longer than 63"),
    (lambda d: d.update(name="t" * 257), "name: 257 characters: hairpin refuses a scenario name longer than 256"),
    (lambda d: d.update(description="d" * 10_001), "description: 10,001 characters: hairpin refuses a description longer than 10,000"),
    (lambda d: d.update(region="r" * 64), "region: 64 characters: the API server refuses a topology.kubernetes.io/region label value"),
    (lambda d: d["vpc"]["azs"][0].update(name="a" * 64), "vpc.azs[0].name: 64 characters: the API server refuses a topology.kubernetes.io/zone label value"),
    (lambda d: d["nodes"][0].update(az="a" * 64), "nodes[0].az: 64 characters: the API server refuses a topology.kubernetes.io/zone label value"),
    (lambda d: d["nodes"][0].update(labels={"role": "v" * 64}), "nodes[0].labels.role: 64 characters: the API server refuses a label value longer than 63"),
    (lambda d: d["pods"][0].update(labels={"k" * 64: "v"}), "pods[0].labels: a key whose name part is 64 characters"),
    (lambda d: d["pods"][0].update(labels={"p" * 254 + "/k": "v"}), "pods[0].labels: a key whose prefix part is 254 characters"),
    (lambda d: d["pods"][0].update(node="n" * 254), "pods[0].node: 254 characters: the API server refuses a name for a Node longer than 253"),
    (lambda d: d["services"][0]["ports"][0].update(name="p" * 64), "services[0].ports[0].name: 64 characters: the API server refuses a Service port name"),
    (lambda d: d["services"][0].update(endpoints=["e" * 254]), "services[0].endpoints[0]: 254 characters: the API server refuses a name for a Pod"),
    (lambda d: d["client"].update(pod="c" * 254), "client.pod: 254 characters: the API server refuses a name for a Pod longer than 253"),
    (lambda d: d["client"].update(service="s" * 128), "client.service: 128 characters: no Service's namespace/name is longer than 127"),
    (lambda d: d.update(cni={"name": "c" * 254}), "cni.name: 254 characters: hairpin refuses a CNI name longer than 253"),
])  # fmt: skip
def test_schema_and_hairpin_reject_the_same_documents(mutate: Any, hairpin_says: str) -> None:
    doc = copy.deepcopy(SEED)
    mutate(doc)
    assert schema_errors(doc) != []
    with pytest.raises(ScenarioError) as e:
        scenario.from_dict(doc, "bad.yaml")
    assert hairpin_says in str(e.value) and str(e.value).startswith("bad.yaml: ")


_LABEL_RULE = (
    "not a label value the API server takes (empty, or alphanumerics, '-', '_' and '.' from and to an "
    "alphanumeric: (([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?)"
)
_NOT_A_STRING = ": a Kubernetes label value is one (kubectl refuses a number or boolean there); write it in quotes"


@pytest.mark.parametrize(("value", "hairpin_says"), [
    (int("1" * 100), f"must be a string (got {'1' * 57}...){_NOT_A_STRING}"),
    (12, f"must be a string (got 12){_NOT_A_STRING}"),
    (1.1, f"must be a string (got 1.1){_NOT_A_STRING}"),
    (True, f"must be a string (got True){_NOT_A_STRING}"),
    (None, "must be a string (got None): write '' for an empty label value"),
    ("1" * 64, "64 characters: the API server refuses a label value longer than 63"),
    ("-web", f"'-web': {_LABEL_RULE}"),
    ("web app", f"'web app': {_LABEL_RULE}"),
    ("web\n", f"'web\\n': {_LABEL_RULE}"),
    ("wéb", f"'wéb': {_LABEL_RULE}"),
    ("1" * 63, ""),
    ("12", ""),
    ("", ""),
    ("a.b_c-D9", ""),
])  # fmt: skip
@pytest.mark.parametrize("where", ["pods[1].labels", "nodes[0].labels", "services[0].selector",
                                   "services[0].load_balancer.target_node_labels"])  # fmt: skip
def test_schema_and_hairpin_agree_on_a_label_value(value: Any, hairpin_says: str, where: str) -> None:
    """A label value is what Kubernetes takes (IsValidLabelValue): a string of at most 63 characters of its format;
    a YAML number or boolean is refused by both, as a 100-digit number was by hairpin only."""
    doc = copy.deepcopy(SEED)
    node: Any = doc
    for part in where.replace("[", ".").replace("]", "").split("."):
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node["app"] = value
    if hairpin_says:
        assert schema_errors(doc) != []
        with pytest.raises(ScenarioError) as e:
            scenario.from_dict(doc, "bad.yaml")
        assert str(e.value) == f"bad.yaml: {where}.app: {hairpin_says}"
    else:
        assert schema_errors(doc) == []
        scenario.from_dict(doc, "good.yaml")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "scenario", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_cli_schema_and_validate(tmp_path: Path) -> None:
    res = cli("schema")
    assert res.returncode == 0 and json.loads(res.stdout)["title"] == "hairpin scenario"
    # what `hairpin scenario schema` publishes is the shipped file, byte for byte (no generator to drift from)
    assert res.stdout == resources.files("hairpin").joinpath("scenarios/schema.json").read_text()
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(SEED))
    res = cli("validate", str(good))
    assert res.returncode == 0 and res.stdout == f"{good}: ok (seed: 3 nodes, 4 pods, 1 services)\n"
    bad = tmp_path / "bad.yaml"
    doc = copy.deepcopy(SEED)
    doc["client"]["pod"] = "nope"
    bad.write_text(yaml.safe_dump(doc))
    res = cli("validate", str(good), str(bad))
    line = bad.read_text().splitlines().index("  pod: nope") + 1
    assert res.returncode == 2 and res.stderr.strip() == f"hairpin: error: {bad}:{line}: client.pod: unknown pod 'nope'"


# ------------------------------------------------------------------------------------- property: schema == from_dict

#: What hairpin checks and the schema cannot express (cross-references, host bits, addresses in subnets):
#: the only reasons from_dict may reject a document the schema accepts.
HAIRPIN_ONLY = ("unknown node", "unknown pod", "unknown service", "unknown AZ", "has host bits set",
                "is in no subnet", "the client calls this load balancer",
                # which kube-proxy versions (and nftables layouts) are modelled: a set the schema does not list
                "kube_proxy.version: ",
                # which VPC CNI versions are modelled (hairpin.kube.cni_layout), and which write table ip aws-cni
                "cni.version: ", "cni.connmark_backend: nftables is written by",
                # the port the client calls is TCP (hairpin.scenario_protocols): a rule across keys
                "is not modelled on the port the client calls",
                # addresses across keys (hairpin.scenario_checks.refuse_contradictions, hairpin.scenario6)
                "an address belongs to one node", "an internal load balancer's node in",
                "is not a node address of the load balancer", "is not in the subnet of node",
                # the workaround fix: names, checked against the rest of the file (hairpin.fixes.missing)
                "is not applied in this scenario",
                # a key the schema lists for every mode that one mode does not model
                "not modelled in kube-proxy's ipvs mode (iptables and nftables modes)")  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
#: Values aimed at the boundaries the two must agree on.
edge_values = st.sampled_from([
    None, True, False, 0, -1, 1, 80, 65535, 65536, 127, 128, 80.0, 80.5, "", "80", "TCP", "tcp", "UDP", "SCTP",
    "instance", "ip", "nlb", "clb", "alb", "internal", "internet-facing", "Local", "Cluster", "local", "nftables",
    "ebpf", "cluster-ip", "10.0.0.1", "10.0.0.256", "10.0.0.01", "10.0.0.0/16", "10.0.0.0/33", "10.0.0.1/16",
    "10.0.0.0/255.255.0.0", "1.29", 1.29, [], {}, ["x"], {"a": "b"}, {"a": None}, {"a": [1]},
])  # fmt: skip


@st.composite
def valid_docs(draw: st.DrawFn) -> dict[str, Any]:
    """Well-formed scenarios: 1-3 AZs with 1-4 nodes each, the caller on the first node, the knobs drawn."""
    n_azs = draw(st.integers(1, 3))
    per_az = [draw(st.integers(1, 4)) for _ in range(n_azs)]
    azs = [{"name": f"zone-{chr(97 + i)}", "subnets": [f"10.0.{32 * i}.0/19"]} for i in range(n_azs)]
    nodes = [{"name": f"n{i}-{j}", "ip": f"10.0.{32 * i + j + 1}.10", "az": azs[i]["name"]}
             for i in range(n_azs) for j in range(per_az[i])]  # fmt: skip
    backends = draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=4))
    pods = [{"name": "caller", "ip": "10.0.1.200", "node": nodes[0]["name"]}]
    pods += [{"name": f"web-{k}", "namespace": "web", "ip": f"{b['ip'].rsplit('.', 1)[0]}.{100 + k}",
              "node": b["name"], "labels": {"app": "web"}} for k, b in enumerate(backends)]  # fmt: skip
    if draw(st.booleans()):
        pods.append({"name": "agent", "node": nodes[-1]["name"], "host_network": True})
    port = draw(st.integers(1, 65535))
    lb: dict[str, Any] = {
        "type": draw(st.sampled_from(["nlb", "clb"])),
        "scheme": draw(st.sampled_from(["internal", "internet-facing"])),
        "target_type": draw(st.sampled_from(["instance", "ip"])),
        "preserve_client_ip": draw(st.sampled_from([None, True, False])),
        "cross_zone": draw(st.booleans()),
        "proxy_protocol_v2": draw(st.booleans()),
        "nodes": {az["name"]: f"10.0.{32 * i + 20}.5" for i, az in enumerate(azs)},
    }
    # fmt: off
    return {
        "name": draw(st.text(max_size=8)),
        "region": "eu-west-1",
        "vpc": {"cidr": "10.0.0.0/16", "router": "10.0.0.1", "azs": azs},
        "kernel": {"tcp_syn_retries": draw(st.integers(0, 127)), "tcp_syn_linear_timeouts": draw(st.integers(0, 10)),
                   "accept_local": draw(st.booleans())},
        "kube_proxy": {"mode": (mode := draw(st.sampled_from(["iptables", "nftables", "ipvs"]))),
                       # nftables mode is modelled from 1.30 (earlier versions are refused with the file and line)
                       "version": draw(st.sampled_from(["1.30", 1.33] if mode == "nftables" else ["1.18", "1.29", 1.33]))},
        "cni": {"external_snat": draw(st.booleans()), "nat_outgoing": draw(st.booleans()),
                **draw(st.sampled_from([{}, {"version": "1.23", "connmark_backend": "nftables"}]))},
        "nodes": nodes,
        "pods": pods,
        "services": [{
            "namespace": "web", "name": "web", "type": draw(st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"])),
            "cluster_ip": "172.20.0.10", "selector": {"app": "web"},
            "external_traffic_policy": draw(st.sampled_from(["Cluster", "Local"])),
            # the port the client calls is TCP (hairpin.scenario_protocols); a UDP port may follow it
            "ports": [{"protocol": "TCP", "port": port,
                       "target_port": draw(st.integers(1, 65535)), "node_port": draw(st.integers(30000, 32767))},
                      *draw(st.sampled_from([[], [{"protocol": "UDP", "port": port, "node_port": 30000}]]))],
            "load_balancer": lb,
        }],
        "client": {"pod": "caller", "service": "web/web", "port": port,
                   "via": draw(st.sampled_from(["load-balancer", "cluster-ip"]))},
    }
    # fmt: on


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*path, i))
    return out


@st.composite
def mutated_docs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document with 1-3 edits anywhere: a value replaced, removed, nulled, or an unknown key added."""
    # a copy of what was drawn: st.just gives the same object every time, and the edits below are made in place
    doc = copy.deepcopy(draw(st.one_of(valid_docs(), st.just(SEED))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        op = draw(st.sampled_from(["set", "edge", "delete", "null", "extra"]))
        if op == "delete":
            del parent[path[-1]]
        elif op == "extra" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["colour", "nodes_", "Name", "x"]))] = 1
        else:
            value = {"set": json_values, "edge": edge_values}.get(op, st.none())
            parent[path[-1]] = draw(value)
    return doc


def _hairpin(doc: Any) -> str | None:
    """None when from_dict accepts ``doc``, else its one-line message; any other exception fails the test."""
    try:
        scenario.from_dict(copy.deepcopy(doc), "gen.yaml")
    except ScenarioError as e:
        text = str(e)
        assert "\n" not in text and text.startswith("gen.yaml: ")
        return text
    return None


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_docs())
def test_generated_valid_scenarios_pass_both(doc: dict[str, Any]) -> None:
    assert schema_errors(doc) == []
    assert _hairpin(doc) is None


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_docs())
def test_schema_and_from_dict_agree_on_mutated_scenarios(doc: dict[str, Any]) -> None:
    """What from_dict accepts the schema accepts; what the schema rejects from_dict rejects; from_dict rejects
    a document the schema accepts only for a check the schema cannot express (HAIRPIN_ONLY)."""
    schema_ok = schema_errors(doc) == []
    said = _hairpin(doc)
    if said is None:
        assert schema_ok, schema_errors(doc)
    elif schema_ok:
        assert any(reason in said for reason in HAIRPIN_ONLY), said


def test_schema_defaults_are_the_dataclass_defaults() -> None:
    """Every "default" the schema documents is what from_dict fills in when the key is left out."""
    props = SCHEMA["properties"]
    svc = props["services"]["items"]["properties"]
    pairs = [
        (props["kernel"]["properties"], scenario.Kernel()),
        (props["kube_proxy"]["properties"], scenario.KubeProxy()),
        (props["cni"]["properties"], scenario.Cni()),
        (svc["load_balancer"]["properties"], scenario.LoadBalancer()),
    ]
    for schema_props, instance in pairs:
        for key, prop in schema_props.items():
            if "default" in prop:
                assert getattr(instance, key) == prop["default"], key
    minimal = {"name": "m", "vpc": {"cidr": "10.0.0.0/16", "router": "10.0.0.1",
                                    "azs": [{"name": "a", "subnets": ["10.0.0.0/19"]}]},
               "nodes": [{"name": "n", "ip": "10.0.1.1", "az": "a"}], "pods": [{"name": "p", "ip": "10.0.1.2", "node": "n"}],
               "services": [{"name": "s", "cluster_ip": "10.1.0.1", "ports": [{"port": 80}], "load_balancer": {
                   "nodes": {"a": "10.0.2.2"}}}],
               "client": {"pod": "p", "service": "default/s", "port": 80}}  # fmt: skip
    assert schema_errors(minimal) == []
    s = scenario.from_dict(minimal)
    got = {"description": s.description, "region": s.region, "namespace": s.pods[0].namespace,
           "host_network": s.pods[0].host_network, "type": s.services[0].type,
           "external_traffic_policy": s.services[0].external_traffic_policy, "protocol": s.services[0].ports[0].protocol,
           "port_name": s.services[0].ports[0].name, "via": s.client.via, "lb": s.services[0].load_balancer,
           "kernel": s.kernel, "kube_proxy": s.kube_proxy, "cni": s.cni}  # fmt: skip
    pod = props["pods"]["items"]["properties"]
    port = svc["ports"]["items"]["properties"]
    want = {"description": props["description"]["default"], "region": props["region"]["default"],
            "namespace": pod["namespace"]["default"], "host_network": pod["host_network"]["default"],
            "type": svc["type"]["default"], "external_traffic_policy": svc["external_traffic_policy"]["default"],
            "protocol": port["protocol"]["default"], "port_name": port["name"]["default"],
            "via": props["client"]["properties"]["via"]["default"],
            "lb": scenario.LoadBalancer(nodes=(("a", "10.0.2.2"),)), "kernel": scenario.Kernel(),
            "kube_proxy": scenario.KubeProxy(), "cni": scenario.Cni()}  # fmt: skip
    assert got == want
    assert s.services[0].ports[0].target_port == 80 and s.services[0].ports[0].node_port is None
