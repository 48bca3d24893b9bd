"""``hairpin check``: annotations the provisioning controller ignores (text, JSON, SARIF), and SARIF results
on the deciding annotation's line and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hairpin.aws.controller import resolve
from hairpin.aws.ignored import ignored_annotations
from hairpin.cli.main import main
from hairpin.diagnose import check as chk
from hairpin.parsers import manifests as m

DATA = Path(__file__).parent / "data" / "check"
P = "service.beta.kubernetes.io/"


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_ignored_annotations_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(["check", str(DATA / "ignored.yaml"), "--format", "json"], capsys)
    assert code == 1 and err == ""
    by_name = {s["name"]: s for s in json.loads(out)["services"]}
    meant = by_name["meant-internal"]
    assert (meant["controller"], meant["load_balancer"], meant["scheme"], meant["at_risk"]) == (
        "in-tree", "clb", "internet-facing", False)  # fmt: skip
    assert meant["ignored_annotations"] == [
        {"annotation": P + "aws-load-balancer-nlb-target-type", "value": "ip", "controller": "in-tree",
         "why": "only the AWS Load Balancer Controller reads it"},
        {"annotation": P + "aws-load-balancer-scheme", "value": "internal", "controller": "in-tree",
         "why": "only the AWS Load Balancer Controller reads it"},
    ]  # fmt: skip
    both = by_name["lbc-both-schemes"]
    assert (both["controller"], both["scheme"], both["at_risk"]) == ("aws-load-balancer-controller", "internal", True)
    assert both["ignored_annotations"] == [
        {"annotation": P + "aws-load-balancer-extra-security-groups", "value": "sg-0123",
         "controller": "aws-load-balancer-controller", "why": "only the in-tree provider reads it"},
        {"annotation": P + "aws-load-balancer-internal", "value": "false",
         "controller": "aws-load-balancer-controller", "why": P + "aws-load-balancer-scheme is set and wins over it"},
    ]  # fmt: skip


def test_ignored_annotations_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _main(["check", str(DATA / "ignored.yaml")], capsys)
    assert code == 1
    flat = " ".join(out.split())  # the console wraps long lines
    assert (f"shop/meant-internal: annotations ignored - {P}aws-load-balancer-nlb-target-type: 'ip' ignored by the "
            f"in-tree provider: only the AWS Load Balancer Controller reads it - {P}aws-load-balancer-scheme: "
            "'internal' ignored by the in-tree provider: only the AWS Load Balancer Controller reads it") in flat
    assert (f"ignored: {P}aws-load-balancer-internal: 'false' ignored by the AWS Load Balancer Controller: "
            f"{P}aws-load-balancer-scheme is set and wins over it") in flat  # fmt: skip


def test_ignored_annotations_sarif_and_deciding_region(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _main(["check", str(DATA / "ignored.yaml"), "--format", "sarif"], capsys)
    assert code == 1
    results = json.loads(out)["runs"][0]["results"]
    regions = [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]) for r in results]
    assert regions == [
        ("HP001", "warning", {"startLine": 28, "startColumn": 5}),  # preserve_client_ip.enabled=true decides
        ("HP002", "note", {"startLine": 27, "startColumn": 5}),  # extra-security-groups
        ("HP002", "note", {"startLine": 25, "startColumn": 5}),  # internal next to scheme
        ("HP002", "note", {"startLine": 10, "startColumn": 5}),  # nlb-target-type on the in-tree CLB
        ("HP002", "note", {"startLine": 9, "startColumn": 5}),  # scheme on the in-tree CLB
    ]
    risk = results[0]
    assert risk["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 17}
    assert f"(decided by {P}aws-load-balancer-target-group-attributes)." in risk["message"]["text"]
    assert f"Ignored: {P}aws-load-balancer-internal: 'false' ignored by" in risk["message"]["text"]
    assert results[4]["message"]["text"] == (
        f"Service shop/meant-internal: {P}aws-load-balancer-scheme: 'internal' ignored by the in-tree provider: only "
        "the AWS Load Balancer Controller reads it"
    )
    assert results[4]["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 3}


def test_seed_dump_region_on_the_internal_annotation() -> None:
    r = chk.check(m.load_paths([DATA / "seed-dump.yaml"]))
    (res,) = [x for x in r.to_sarif()["runs"][0]["results"] if x["ruleId"] == "HP001"]
    region = res["locations"][0]["physicalLocation"]["region"]
    text = (DATA / "seed-dump.yaml").read_text().splitlines()
    assert text[region["startLine"] - 1][region["startColumn"] - 1 :].startswith(P + "aws-load-balancer-internal:")


def test_json_input_has_no_columns_region_is_the_object() -> None:
    doc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "j", "namespace": "shop", "annotations": {
        P + "aws-load-balancer-type": "nlb-ip", P + "aws-load-balancer-target-group-attributes":
        "preserve_client_ip.enabled=true"}}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}  # fmt: skip
    r = chk.check(m.parse_json(json.dumps(doc, indent=1), "s.json"))
    (res,) = r.to_sarif()["runs"][0]["results"]
    assert res["locations"][0]["physicalLocation"]["region"] == {"startLine": 1} and "relatedLocations" not in res


@pytest.mark.parametrize(
    ("ann", "kwargs", "want"),
    [
        ({P + "aws-load-balancer-type": "nlb", P + "aws-load-balancer-target-group-attributes": "preserve_client_ip.enabled=false"},
         {}, [(P + "aws-load-balancer-target-group-attributes", "in-tree")]),
        ({P + "aws-load-balancer-type": "nlb", P + "aws-load-balancer-target-group-attributes": "preserve_client_ip.enabled=false"},
         {"in_tree_tg_attributes": True}, []),
        ({P + "aws-load-balancer-listener-attributes.TCP-80": "tcp.idle_timeout.seconds=400",
          P + "aws-load-balancer-type": "nlb-ip"}, {}, []),
        ({P + "aws-load-balancer-made-up": "x", P + "aws-load-balancer-type": "nlb-ip"}, {},
         [(P + "aws-load-balancer-made-up", "aws-load-balancer-controller")]),
        ({P + "aws-load-balancer-scheme": "internal"}, {"load_balancer_class": "example.com/lb"}, []),
    ],
)
def test_ignored_rules(ann: dict[str, str], kwargs: dict[str, Any], want: list[tuple[str, str]]) -> None:
    tg = bool(kwargs.pop("in_tree_tg_attributes", False))
    s = resolve(ann, in_tree_tg_attributes=tg, **kwargs)
    assert [(x.annotation, x.controller) for x in ignored_annotations(ann, s, in_tree_tg_attributes=tg)] == want


def test_ignored_annotations_on_yaml_roundtrip() -> None:
    """Exactly the annotations neither list has are reported as read by no controller."""
    ann = {P + "aws-load-balancer-nope": "1"}
    r = chk.check(m.parse_yaml(yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "x", "annotations": ann}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})))  # fmt: skip
    assert [x.why for x in r.findings[0].ignored] == ["no AWS load balancer controller reads it"]
