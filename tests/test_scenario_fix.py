"""A scenario file's ``fix:`` key names the workaround the rest of the file applies (``hairpin.fixes``): the loader
refuses a name it does not know, and one the file does not apply, in one line at the key's line (exit 2); a file
that applies it loads with the fix named, as ``--fix`` would name it."""

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
from hairpin.fixes import FIXES, missing, with_fix

SEED_TEXT = resources.files("hairpin").joinpath("scenarios/seed.yaml").read_text()
SEED = yaml.safe_load(SEED_TEXT)
SCHEMA = json.loads(resources.files("hairpin").joinpath("scenarios/schema.json").read_text())
EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))
LB = "the load balancer of nginx-demo/service-nginx-demo"
ADVICE = " (apply it, or remove fix:, which applies nothing itself)"


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "scenario", "validate", str(path)],
                          capture_output=True, text=True, check=False)  # fmt: skip


def with_key(tmp_path: Path, value: str) -> tuple[Path, int]:
    """The seed with ``fix: VALUE`` as its last line, and that line's number."""
    f = tmp_path / "s.yaml"
    f.write_text(SEED_TEXT.rstrip("\n") + f"\nfix: {value}\n")
    return f, len(f.read_text().splitlines())


@pytest.mark.parametrize(("fix", "lacks"), [
    ("ip-targets", f"{LB} has instance targets, not ip"),
    ("no-preserve-client-ip", f"{LB} preserves client IP addresses"),
    ("cluster-ip", "client.via is load-balancer, not cluster-ip"),
    ("proxy-protocol-v2", f"{LB} preserves client IP addresses"),
    ("target-node-labels", f"{LB} has no target_node_labels"),
    ("anti-affinity", "target pod nginx-demo-1 runs on the caller's node node1"),
])  # fmt: skip
def test_a_fix_the_file_does_not_apply_is_one_line_at_its_key(tmp_path: Path, fix: str, lacks: str) -> None:
    f, line = with_key(tmp_path, fix)
    r = validate(f)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"hairpin: error: {f}:{line}: fix: {fix} is not applied in this scenario: {lacks}{ADVICE}\n"


def test_an_unknown_fix_is_one_line_naming_the_known_ones(tmp_path: Path) -> None:
    f, line = with_key(tmp_path, "ip-target")
    r = validate(f)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (f"hairpin: error: {f}:{line}: fix: unknown fix 'ip-target'; known: ip-targets, "
                        "no-preserve-client-ip, cluster-ip, proxy-protocol-v2, target-node-labels, anti-affinity\n")  # fmt: skip


def _applied(doc: dict[str, Any], fix: str) -> None:
    """``doc`` (the seed) edited the way ``with_fix`` changes the scenario."""
    lb = doc["services"][0]["load_balancer"]
    if fix == "ip-targets":
        lb["target_type"] = "ip"
    elif fix == "no-preserve-client-ip":
        lb["preserve_client_ip"] = False
    elif fix == "cluster-ip":
        doc["client"]["via"] = "cluster-ip"
    elif fix == "proxy-protocol-v2":
        lb.update(preserve_client_ip=False, proxy_protocol_v2=True)
    elif fix == "target-node-labels":
        lb["target_node_labels"] = {"role": "lb"}
        doc["nodes"][1]["labels"] = {"role": "lb"}
    elif fix == "anti-affinity":
        doc["pods"][1]["node"] = "node2"  # nginx-demo-1 off the caller's node1, into node2's AZ
    doc["fix"] = fix


@pytest.mark.parametrize("fix", list(FIXES))
def test_a_file_that_applies_its_fix_loads_with_the_fix_named(fix: str) -> None:
    doc = copy.deepcopy(SEED)
    _applied(doc, fix)
    s = scenario.from_dict(doc, "f.yaml")
    assert (s.fix, s.warnings, missing(s, fix)) == (fix, (), "")
    assert jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)
    # as the in-memory fix: the loaded file is what with_fix makes of the seed, up to the nodes' derived labels
    if fix not in ("target-node-labels", "anti-affinity"):
        assert s == with_fix(scenario.seed(), fix)


def test_ip_targets_with_client_ip_preservation_on_are_not_the_ip_targets_fix() -> None:
    doc = copy.deepcopy(SEED)
    _applied(doc, "ip-targets")
    doc["services"][0]["load_balancer"]["preserve_client_ip"] = True
    with pytest.raises(ScenarioError) as e:
        scenario.from_dict(doc, "f.yaml")
    lacks = f"{LB} has ip targets with client IP preservation on"
    assert str(e.value) == f"f.yaml: fix: ip-targets is not applied in this scenario: {lacks}{ADVICE}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("fix", list(FIXES))
def test_what_with_fix_makes_is_what_missing_accepts(path: Path, fix: str) -> None:
    assert missing(with_fix(scenario.load(path), fix), fix) == ""


def test_the_schema_lists_the_fixes_and_refuses_another_name() -> None:
    assert SCHEMA["properties"]["fix"]["enum"] == [*FIXES, None]
    doc = copy.deepcopy(SEED)
    doc["fix"] = "ip-target"
    assert not jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)
    doc["fix"] = None
    assert scenario.from_dict(doc).fix is None and jsonschema.Draft202012Validator(SCHEMA).is_valid(doc)
