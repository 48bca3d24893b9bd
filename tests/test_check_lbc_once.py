"""What is said of the AWS Load Balancer Controller as a whole (its image's release, the feature gates that release
may not know, the Gateway API versions it needs) is said once per ``hairpin check`` run, not once per Service:
``Report.lbc_warnings`` (JSON ``lbc_warnings``, SARIF tool execution notifications with descriptor ``lbc`` and the
run property ``lbc_warnings``, a ``warning:`` line under the text report's first line).  What is said of one
Service's own annotations stays in its ``warnings``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hairpin.aws import controller as ctl
from hairpin.cli.main import main
from test_check_lbc_flags import WHERE, deployment_image, svc

IMAGE = "public.ecr.aws/eks/aws-load-balancer-controller:latest"
NO_RELEASE = (f"the AWS Load Balancer Controller's image {IMAGE} names no release (tag 'latest'): it is taken to be "
              "v3.5.0, the newest release hairpin read, with its defaults and feature gates; hairpin reads the release "
              "from the image tag, else from --lbc-version, so to check an older release give --lbc-version vX.Y.Z "
              f"or the image with its tag in the input ({WHERE})")  # fmt: skip
GATE = (f"--feature-gates 'SomeNewGate' is not a feature gate of v3.5.0; whether its release knows it (else it refuses "
        f"to start) is not known to hairpin ({WHERE})")  # fmt: skip
PER_PORT = ("service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.80: releases of the AWS Load Balancer "
            "Controller before v2.14.0 do not read it; hairpin assumes a current release (the input does not give the "
            "controller's release)")  # fmt: skip
SERVICES = 40


def dump(tmp_path: Path, *docs: dict[str, Any]) -> Path:
    """t.yaml in the working directory (``tmp``), the Deployment first: WHERE names t.yaml:1."""
    path = tmp_path / "t.yaml"
    path.write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    return Path("t.yaml")


def cluster(tmp_path: Path) -> Path:
    lbc = [svc(f"web-{i:02}", cls=ctl.LBC_CLASS) for i in range(SERVICES)]
    own = svc("own", {"service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.80":
                      "preserve_client_ip.enabled=false"}, cls=ctl.LBC_CLASS)  # fmt: skip
    return dump(tmp_path, deployment_image(IMAGE, "--feature-gates=SomeNewGate=true"), *lbc, own, svc("in-tree"))


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["check", str(path), "--format", fmt])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_json_says_the_controllers_warnings_once_and_each_service_only_its_own(tmp: Path,
                                                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code, out, err = run(cluster(tmp), "json", capsys)
    assert (code, err) == (1, "")  # internal NLBs with instance targets and no nodes: at risk
    doc = json.loads(out)
    assert doc["lbc_warnings"] == [NO_RELEASE, GATE]
    warnings = {s["name"]: s["warnings"] for s in doc["services"]}
    assert len(warnings) == SERVICES + 2
    assert warnings.pop("own") == [PER_PORT]  # what its own annotation leaves undecided stays with it
    assert set(map(tuple, warnings.values())) == {()}
    assert out.count("names no release") == 1


def test_text_and_sarif_say_them_once(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = cluster(tmp)
    code, out, err = run(path, "text", capsys)
    assert (code, err) == (1, "")
    flat = " ".join(out.split())  # rich wraps long lines
    assert flat.count("names no release") == 1 and flat.count("'SomeNewGate'") == 1
    assert f"warning: {NO_RELEASE}" in flat and f"warning: {GATE}" in flat
    assert flat.count("warnings - ") == 1 and f"shop/own: warnings - {PER_PORT}" in flat
    code, out, err = run(path, "sarif", capsys)
    assert (code, err) == (1, "")
    (r,) = json.loads(out)["runs"]
    assert r["invocations"][0]["toolExecutionNotifications"] == [
        {"level": "warning", "message": {"text": w}, "descriptor": {"id": "lbc"}} for w in (NO_RELEASE, GATE)
    ]
    assert r["properties"]["lbc_warnings"] == [NO_RELEASE, GATE]
    undecided = [x["message"]["text"] for x in r["results"] if x["ruleId"] == "HP005"]
    assert undecided == [f"Service shop/own: {PER_PORT}"]


def test_nothing_is_said_when_no_service_is_the_controllers(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As before: the controller's release changes no verdict of the in-tree provider's Services."""
    path = dump(tmp, deployment_image(IMAGE), svc("in-tree"))
    code, out, err = run(path, "json", capsys)
    assert (code, err) == (0, "")  # a Classic ELB: not at risk
    doc = json.loads(out)
    assert (doc["lbc_warnings"], [s["controller"] for s in doc["services"]]) == ([], [ctl.IN_TREE])
