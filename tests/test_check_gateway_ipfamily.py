"""``hairpin check`` on a Gateway of the AWS Load Balancer Controller's Gateway API path whose routes lead to IPv6
Services: the LoadBalancerConfiguration's ipAddressType decides, and one refused target group fails the Gateway."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hairpin.cli.main import main

GATEWAY = Path(__file__).parent / "data" / "check" / "ipv6" / "gateway.yaml"
LBC_ERROR = "unsupported IPv6 configuration, lb not dual-stack"
FIX = "fix: ipAddressType: dualstack in LoadBalancerConfiguration shop/edge-lb"


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, dict[str, Any]]]:
    with pytest.raises(SystemExit) as exc:
        main(["check", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    assert err == ""
    doc = json.loads(out)
    assert doc["errors"] == []
    return int(exc.value.code or 0), {s["name"]: s for s in doc["services"]}


def _with(tmp_path: Path, address_type: str) -> Path:
    text = GATEWAY.read_text().replace("  scheme: internal\n", f"  scheme: internal\n  ipAddressType: {address_type}\n")
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return path


def test_an_ipv6_route_on_an_ipv4_gateway_fails_every_route_of_the_gateway(capsys: pytest.CaptureFixture[str]) -> None:
    code, by = _check(GATEWAY, capsys)
    web, api = by["TCPRoute/web/web:8080"], by["TCPRoute/api/api:8443"]
    assert code == 0
    assert [(s["at_risk"], s["controller"], s["load_balancer"], s["target_group_ip_address_type"]) for s in (web, api)] \
        == [(False, "none", "none", None), (False, "none", "none", None)]  # fmt: skip
    refused = f'the AWS Load Balancer Controller will not provision it: "{LBC_ERROR}" (spec.ipFamilies has IPv6); {FIX}'
    assert web["problems"] == [refused]
    assert api["problems"] == [f"the Gateway's NLB is not built: target group TCPRoute/web/web:8080: {refused}"]
    assert "pkg/gateway/model/model_build_target_group.go" in web["reason"]
    assert "the error ends the Gateway's whole model build" in web["reason"]


def test_a_dualstack_gateway_gives_each_route_the_family_of_its_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, by = _check(_with(tmp_path, "dualstack"), capsys)
    web, api = by["TCPRoute/web/web:8080"], by["TCPRoute/api/api:8443"]
    assert code == 1
    assert [(s["at_risk"], s["ip_address_type"], s["target_group_ip_address_type"], s["problems"]) for s in (web, api)] \
        == [(True, "dualstack", "ipv6", []), (True, "dualstack", "ipv4", [])]  # fmt: skip
    assert api["warnings"] == []
    assert web["warnings"][0].startswith("instance targets in an IPv6 target group")


def test_dualstack_without_public_ipv4_is_dual_stack_to_the_controller_and_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, by = _check(_with(tmp_path, "dualstack-without-public-ipv4"), capsys)
    web = by["TCPRoute/web/web:8080"]
    assert (web["at_risk"], web["target_group_ip_address_type"]) == (True, "ipv6")
    assert web["warnings"][0] == (
        "LoadBalancerConfiguration shop/edge-lb ipAddressType: dualstack-without-public-ipv4: the AWS Load Balancer "
        "Controller takes it as dual-stack, but the Elastic Load Balancing API Reference lists only ipv4 and dualstack "
        "for Network Load Balancers; if AWS refuses it no load balancer is built (not modelled: the verdict assumes it is)"
    )


def test_an_address_type_the_crd_refuses_builds_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, by = _check(_with(tmp_path, "ipv6"), capsys)
    for s in by.values():
        assert (s["at_risk"], s["load_balancer"]) == (False, "none")
        assert any("'ipv6' is not one of ipv4, dualstack, dualstack-without-public-ipv4" in p for p in s["problems"])


def test_the_text_report_says_nothing_is_built_and_what_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exc:
        main(["check", str(GATEWAY)])
    out = capsys.readouterr().out.splitlines()
    assert exc.value.code == 0
    assert out[0] == ("hairpin check: none of 2 Service(s) with a load balancer (2 through a Gateway) can send an "
                      "in-cluster caller back to its own node; 2 have problems (below)")  # fmt: skip
    rows = [line for line in out if line.startswith("│ shop/")]
    assert [[c.strip() for c in r.split("│")[3:6]] for r in rows] == [["none", "-", "not built"]] * 2
    assert out[-1] == ("Next: no Service here times out its in-cluster callers, but 2 have problems listed above "
                       "(shop/TCPRoute/api/api:8443 first): fix them and run hairpin check again")  # fmt: skip


def test_sarif_carries_problems_and_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    """HP004 (error) for what the controller refuses, HP005 (warning) for what hairpin cannot decide, each on the
    Service's first line, with a fingerprint that does not move when other results come and go."""
    with pytest.raises(SystemExit) as exc:
        main(["check", str(GATEWAY), "--format", "sarif"])
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert exc.value.code == 0
    assert [(r["ruleId"], r["ruleIndex"], r["level"], r["locations"][0]["physicalLocation"]["region"]) for r in results] \
        == [("HP004", 3, "error", {"startLine": 53}), ("HP004", 3, "error", {"startLine": 39})]  # fmt: skip
    refused = f'the AWS Load Balancer Controller will not provision it: "{LBC_ERROR}" (spec.ipFamilies has IPv6); {FIX}'
    assert results[1]["message"]["text"] == f"Service shop/TCPRoute/web/web:8080: {refused}"
    assert results[1]["partialFingerprints"] == {"hairpinHP004/v1": "shop/TCPRoute/web/web:8080/e836610ac69cc7e5"}
    with pytest.raises(SystemExit):
        main(["check", str(GATEWAY.parent / "prefer-dual.yaml"), "--format", "sarif"])
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    undecided = [(r["message"]["text"].split(":")[0], r["level"]) for r in results if r["ruleId"] == "HP005"]
    assert undecided == [("Service default/both", "warning"), ("Service default/maybe", "warning")]
