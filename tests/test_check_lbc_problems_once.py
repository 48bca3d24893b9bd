"""The flags the AWS Load Balancer Controller refuses at start are said once per ``hairpin check`` run, not once per
Service: ``Report.lbc_problems`` (JSON ``lbc_problems``, SARIF tool execution notifications of level error with
descriptor ``lbc`` and the run property ``lbc_problems``, a ``problem:`` line under the text report's first line).
Each of the controller's Services keeps one pointer among its problems (``LBC_REFUSED``), so it still counts as a
Service with a problem, and its verdict and the exit code are what they were when the lines were repeated."""

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
from hairpin.diagnose.finding import Finding
from hairpin.diagnose.versions import LBC_REFUSED, LBC_REFUSED_TEXT, lbc_problems
from test_check_lbc_flags import NODES, WHERE, P, deployment, report, row, svc

SCHEME = P + "aws-load-balancer-scheme"
GATE = f"--feature-gates 'Bogus' is not a feature gate (of v3.5.0): the controller refuses to start with it ({WHERE})"
TARGET = ("--default-target-type 'IP' is not instance or ip: the controller refuses to start (controller_config.go "
          f"validateDefaultTargetType) ({WHERE})")  # fmt: skip
BAD_SCHEME = f"{SCHEME}: unknown scheme 'public' (the controller refuses the Service)"
REFUSED = ("--default-target-type=IP", "--feature-gates=Bogus=true")


def services(public: bool = False) -> list[dict[str, Any]]:
    """Three Services of the controller (one with a problem of its own) and one of the in-tree provider; ``public``:
    the first internet-facing too, so that none is at risk."""
    first = {SCHEME: "internet-facing"} if public else {}
    return [svc("lbc-a", first, cls=ctl.LBC_CLASS), svc("lbc-b", {SCHEME: "internet-facing"}, cls=ctl.LBC_CLASS),
            svc("lbc-bad", {SCHEME: "public"}, cls=ctl.LBC_CLASS), svc("in-tree")]  # fmt: skip


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "600")  # no wrapping: whole lines
    return tmp_path


def dump(tmp: Path, *docs: dict[str, Any]) -> str:
    """t.yaml in the working directory, the Deployment first: WHERE names t.yaml:1."""
    (tmp / "t.yaml").write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    return "t.yaml"


def run(path: str, fmt: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["check", path, "--format", fmt])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_the_report_says_each_refused_flag_once_and_each_service_points_at_them() -> None:
    r = report(deployment(*REFUSED), *NODES, *services())
    assert r.lbc_problems == [GATE, TARGET]
    assert {f.name: f.settings.problems for f in r.findings} == {
        "lbc-a": (LBC_REFUSED,),
        "lbc-b": (LBC_REFUSED,),
        "lbc-bad": (LBC_REFUSED, BAD_SCHEME),
        "in-tree": (),
    }


def test_verdicts_are_those_of_the_defaults_as_before() -> None:
    """The refused values are left at their defaults (instance targets, no gate): every row is the one the controller
    without those flags gives, as when each Service listed the lines itself."""
    with_flags = report(deployment(*REFUSED), *NODES, *services())
    without = report(deployment(), *NODES, *services())
    assert (
        [row(f) for f in with_flags.findings]
        == [row(f) for f in without.findings]
        == [
            ("lbc-a", ctl.LBC, "nlb", "internal", "instance", True, True, 0.5),
            ("in-tree", ctl.IN_TREE, "clb", "internet-facing", None, None, False, None),
            ("lbc-b", ctl.LBC, "nlb", "internet-facing", "instance", True, False, None),
            ("lbc-bad", ctl.NONE, "none", "unknown", None, None, False, None),
        ]
    )
    assert (with_flags.exit_code, without.exit_code, without.lbc_problems) == (1, 1, [])


def test_enable_service_controller_false_keeps_its_own_problem_after_the_pointer() -> None:
    r = report(deployment("--feature-gates=EnableServiceController=false,Bogus=true"), svc("lbc", cls=ctl.LBC_CLASS))
    (f,) = r.findings
    assert row(f) == ("lbc", ctl.NONE, "none", "unknown", None, None, False, None)
    assert f.settings.problems == (LBC_REFUSED, "the AWS Load Balancer Controller does not reconcile Services: feature "
                                                "gate EnableServiceController=false")  # fmt: skip
    assert r.lbc_problems == [GATE]


def test_nothing_is_said_without_a_service_of_the_controller() -> None:
    """As before: the in-tree provider's Services carry none of the controller's problems."""
    r = report(deployment(*REFUSED), svc("in-tree"))
    assert (r.lbc_problems, [f.settings.problems for f in r.findings], r.exit_code) == ([], [()], 0)


def test_json(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(dump(tmp, deployment(*REFUSED), *NODES, *services()), "json", capsys)
    assert (code, err) == (1, "")
    doc = json.loads(out)
    assert doc["lbc_problems"] == [GATE, TARGET]
    assert {s["name"]: s["problems"] for s in doc["services"]} == {
        "lbc-a": [LBC_REFUSED],
        "lbc-b": [LBC_REFUSED],
        "lbc-bad": [LBC_REFUSED, BAD_SCHEME],
        "in-tree": [],
    }
    assert out.count("'Bogus'") == 1 and out.count("'IP'") == 1


def test_text_says_each_line_once(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(dump(tmp, deployment(*REFUSED), *NODES, *services()), "text", capsys)
    assert (code, err) == (1, "")
    lines = [x.rstrip() for x in out.splitlines()]
    assert lines[1:3] == [f"problem: {GATE}", f"problem: {TARGET}"]
    assert out.count("'Bogus'") == 1 and out.count("'IP'") == 1 and out.count("refuses to start with its flags") == 1
    at = lines.index("shop/lbc-bad: problems")
    assert lines[at: at + 6] == ["shop/lbc-bad: problems", f"  - {BAD_SCHEME}", "",
                                 "shop/lbc-a and 2 other Service(s): problems", f"  - {LBC_REFUSED_TEXT}", ""]  # fmt: skip
    assert sum(x.endswith(": problems") for x in lines) == 2


def test_text_still_counts_each_service_with_the_problem(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing at risk: the first and last lines count and name the Services with problems, as before."""
    code, out, err = run(dump(tmp, deployment(*REFUSED), *NODES, *services(public=True)), "text", capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == ("hairpin check: none of 4 Service(s) with a load balancer can send an in-cluster caller back "
                        "to its own node; 3 have problems (below)")  # fmt: skip
    assert lines[-1] == ("Next: no Service here times out its in-cluster callers, but 3 have problems listed above "
                         "(shop/lbc-a first): fix them and run hairpin check again")  # fmt: skip


def test_sarif_one_notification_each_and_one_result_per_service(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(dump(tmp, deployment(*REFUSED), *NODES, *services()), "sarif", capsys)
    assert (code, err) == (1, "")
    (r,) = json.loads(out)["runs"]
    assert r["invocations"][0]["toolExecutionNotifications"] == [
        {"level": "error", "message": {"text": p}, "descriptor": {"id": "lbc"}} for p in (GATE, TARGET)
    ]
    assert r["properties"]["lbc_problems"] == [GATE, TARGET]
    problems = sorted(x["message"]["text"] for x in r["results"] if x["ruleId"] == "HP004")
    assert problems == sorted([f"Service shop/{n}: {LBC_REFUSED}" for n in ("lbc-a", "lbc-b", "lbc-bad")]
                              + [f"Service shop/lbc-bad: {BAD_SCHEME}"])  # fmt: skip


FLAGS = ("flag-1", "flag-2", "flag-3")  # the controller's refused flags, in LbcFlags.problems' order
OWN = ("own-1", "own-2")


@given(st.lists(st.lists(st.sampled_from(FLAGS + OWN), unique=True, max_size=5), max_size=6))
def test_lifting_keeps_each_services_own_problems_and_who_has_one(problems: list[list[str]]) -> None:
    """Whatever the mix: each line is said once, in the flags' order, if any Service carried it; a Service keeps its
    own problems in their order, with one pointer where its first flag line was; the Services with a problem are the
    same ones."""
    findings = [Finding("ns", f"s{i}", None, None, False, ctl.not_built("Cluster", [], tuple(p)), "")
                for i, p in enumerate(problems)]  # fmt: skip
    said = lbc_problems(findings, FLAGS)
    assert said == [x for x in FLAGS if any(x in p for p in problems)]
    for f, before in zip(findings, problems, strict=True):
        after = list(f.settings.problems)
        if not set(before) & set(FLAGS):
            assert after == before
            continue
        at = next(i for i, p in enumerate(before) if p in FLAGS)
        own = [p for p in before if p not in FLAGS]
        assert after == [*own[:at], LBC_REFUSED, *own[at:]]
    assert [bool(f.settings.problems) for f in findings] == [bool(p) for p in problems]
