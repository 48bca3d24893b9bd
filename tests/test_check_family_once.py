"""Why the cluster's primary IP family is not known (an IPv6-mode VPC CNI beside an IPv4 node, aws-node sources that
disagree, IPv6 settings ipamd refuses) is said once per ``hairpin check`` run, naming the first manifest without
``spec.ipFamilies`` and counting the others: ``Report.ip_family_warnings`` (JSON ``ip_family_warnings``, a SARIF tool
execution notification with descriptor ``ip_families`` and the run property ``ip_family_warnings``, a ``warning:``
line under the text report's first line), not in each such Service's warnings.  The Services are taken as IPv4 as
before: their verdicts and the exit code are those of a cluster that shows no IPv6 at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hairpin.aws import controller as ctl
from hairpin.cli.main import main
from hairpin.diagnose import families
from hairpin.diagnose.finding import Finding
from test_check_cni_ipv6 import V6, aws_node
from test_check_lbc_flags import P, report, row, svc

WHERE = "aws-node in pod kube-system/aws-node-x1"
DOUBT = (f"the VPC CNI runs in IPv6 mode (ENABLE_IPv6=true on {WHERE}), but node n1's InternalIP is IPv4 (10.0.1.11): "
         "hairpin cannot tell the cluster's primary family, the family the API server gives a Service without "
         "spec.ipFamilies; taken as IPv4")  # fmt: skip
ONCE = f"{DOUBT}, for 3 Services, manifests without spec.ipFamilies (shop/in-tree-nlb first)"
INTERNAL = {P + "aws-load-balancer-type": "nlb", P + "aws-load-balancer-internal": "true"}


def node(name: str, ip: str, az: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": az}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}  # fmt: skip


def services() -> list[dict[str, Any]]:
    """Three manifests without spec.ipFamilies (two at risk), one with it, one read from the cluster (its families
    are the API server's)."""
    v4 = svc("lbc-v4", cls=ctl.LBC_CLASS)
    v4["spec"]["ipFamilies"] = ["IPv4"]
    existing = svc("lbc-existing", cls=ctl.LBC_CLASS)
    existing["metadata"]["uid"] = "u-1"
    return [svc("lbc-a", cls=ctl.LBC_CLASS), svc("in-tree-nlb", INTERNAL), svc("clb"), v4, existing]


NODES = (node("n0", "2a05:d018:1:a00::10", "eu-west-1a"), node("n1", "10.0.1.11", "eu-west-1b"))


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "600")  # no wrapping: whole lines
    return tmp_path


def run(tmp: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    (tmp / "t.yaml").write_text("---\n".join(yaml.safe_dump(d) for d in (aws_node(V6), *NODES, *services())))
    with pytest.raises(SystemExit) as exc:
        main(["check", "t.yaml", "--format", fmt])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_the_report_says_it_once_and_no_service_repeats_it() -> None:
    r = report(aws_node(V6), *NODES, *services())
    assert r.ip_family_warnings == [ONCE]
    assert {f.name: f.warnings for f in r.findings} == {n: [] for n in ("lbc-a", "in-tree-nlb", "clb", "lbc-v4",
                                                                         "lbc-existing")}  # fmt: skip
    assert r.exit_code == 1


def test_verdicts_are_those_of_a_cluster_without_the_cni_s_ipv6_mode() -> None:
    """Taken as IPv4, as before: the same rows as without the aws-node pod, which says nothing then."""
    doubted = report(aws_node(V6), *NODES, *services())
    plain = report(*NODES, *services())
    assert [row(f) for f in doubted.findings] == [row(f) for f in plain.findings]
    assert [(f.name, f.at_risk, f.settings.tg_ip_address_type) for f in doubted.findings] == [
        ("in-tree-nlb", True, "ipv4"), ("lbc-a", True, "ipv4"), ("lbc-existing", True, "ipv4"),
        ("lbc-v4", True, "ipv4"), ("clb", False, None)]  # fmt: skip
    assert (doubted.exit_code, plain.exit_code, plain.ip_family_warnings) == (1, 1, [])


def test_one_manifest_is_named_alone() -> None:
    r = report(aws_node(V6), *NODES, svc("lbc-a", cls=ctl.LBC_CLASS))
    assert r.ip_family_warnings == [f"{DOUBT}, for the Service shop/lbc-a, a manifest without spec.ipFamilies"]


def test_nothing_is_said_when_every_service_has_its_families() -> None:
    r = report(aws_node(V6), *NODES, *services()[3:])
    assert (r.ip_family_warnings, [f.warnings for f in r.findings]) == ([], [[], []])


def test_json(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(tmp, "json", capsys)
    assert (code, err) == (1, "")
    doc = json.loads(out)
    assert doc["ip_family_warnings"] == [ONCE]
    assert [s["warnings"] for s in doc["services"]] == [[]] * 5
    assert out.count("cannot tell the cluster's primary family") == 1


def test_text(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(tmp, "text", capsys)
    assert (code, err) == (1, "")
    lines = [x.rstrip() for x in out.splitlines()]
    assert f"warning: {ONCE}" in lines[1:6]  # under the first line, with the datapath and the CNI settings
    assert out.count("cannot tell the cluster's primary family") == 1
    assert not any(x.endswith(": warnings") for x in lines)


def test_sarif(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(tmp, "sarif", capsys)
    assert (code, err) == (1, "")
    (r,) = json.loads(out)["runs"]
    notes = r["invocations"][0]["toolExecutionNotifications"]
    assert [n for n in notes if n["descriptor"]["id"] == "ip_families"] == [
        {"level": "warning", "message": {"text": ONCE}, "descriptor": {"id": "ip_families"}}
    ]
    assert r["properties"]["ip_family_warnings"] == [ONCE]
    assert [x for x in r["results"] if x["ruleId"] == "HP005"] == []


@given(st.lists(st.lists(st.sampled_from(("doubt", "own-1", "own-2")), unique=True, max_size=3), max_size=6))
def test_lifting_keeps_each_services_own_warnings(warnings: list[list[str]]) -> None:
    """Whatever the mix: the line is said once when a Service carried it, naming the first of them and counting
    them; every Service keeps its other warnings in their order."""
    findings = [Finding("ns", f"s{i}", None, None, False, ctl.not_built("Cluster", []), "", warnings=list(w))
                for i, w in enumerate(warnings)]  # fmt: skip
    said = families.family_warnings(findings, "doubt")
    carriers = [f"ns/s{i}" for i, w in enumerate(warnings) if "doubt" in w]
    if not carriers:
        assert said == []
    elif len(carriers) == 1:
        assert said == [f"doubt, for the Service {carriers[0]}, a manifest without spec.ipFamilies"]
    else:
        assert said == [f"doubt, for {len(carriers)} Services, manifests without spec.ipFamilies ({carriers[0]} first)"]
    assert [f.warnings for f in findings] == [[x for x in w if x != "doubt"] for w in warnings]
    assert families.family_warnings(findings, None) == []
