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
    (lambda d: d["nodes"][0].update(ip="192.168.2.300"), "nodes[0].ip: must be an IPv4 address"),
    (lambda d: d["client"].pop("port"), "client.port: required key missing"),
    (lambda d: d["services"][0]["load_balancer"].update(cross_zone="yes"), "cross_zone: must be true or false"),
])  # fmt: skip
def test_schema_and_hairpin_reject_the_same_documents(mutate: Any, hairpin_says: str) -> None:
    doc = copy.deepcopy(SEED)
    mutate(doc)
    assert schema_errors(doc) != []
    with pytest.raises(ScenarioError) as e:
        scenario.from_dict(doc, "bad.yaml")
    assert hairpin_says in str(e.value) and str(e.value).startswith("bad.yaml: ")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "scenario", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_cli_schema_and_validate(tmp_path: Path) -> None:
    res = cli("schema")
    assert res.returncode == 0 and json.loads(res.stdout)["title"] == "hairpin scenario"
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
