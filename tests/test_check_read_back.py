"""``hairpin check DIR -o DIR/report``: a report written into a directory given as input.  Under a name the walk
reads as a manifest (``.yaml``, ``.yml``, ``.json``) it is refused before anything is read: the next check of
DIR would read the report as a manifest and fail.  Under any other name (``report.txt``) it is written, and the
next check of DIR skips it and says the same as before."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hairpin.cli.main import main

SEED = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(["check", *args])
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    d = tmp_path / "k8s"
    d.mkdir()
    shutil.copy(SEED, d / "seed-dump.yaml")
    return d


def refusal(output: Path | str, given: Path | str) -> str:
    return (f"hairpin: error: {output}: cannot write: inside {given}, given as input: checking it would read the "
            "report as a manifest (write it elsewhere, or to a name not ending in .yaml, .yml or .json)\n")  # fmt: skip


@pytest.mark.parametrize("name", ["report.json", "report.YAML", "sub/report.yml"])
def test_a_report_the_next_check_would_read_is_refused_before_reading(
    manifests: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    (manifests / "sub").mkdir()
    out = manifests / name
    assert check(capsys, str(manifests), "--format", "json", "-o", str(out)) == (2, "", refusal(out, manifests))
    assert sorted(p.name for p in manifests.rglob("*")) == ["seed-dump.yaml", "sub"]


def test_a_text_report_in_the_directory_is_skipped_by_the_next_check(
    manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, before, err = check(capsys, str(manifests), "--format", "json")
    assert (code, err) == (1, "")
    report = manifests / "report.txt"
    assert check(capsys, str(manifests), "-o", str(report)) == (1, "", f"wrote {report}\n")
    assert report.read_text().startswith(
        "hairpin check: 1 of 1 Service(s) with a load balancer can time out their "
        "in-cluster callers, up to 50.0% of connections"
    )
    assert check(capsys, str(manifests), "--format", "json") == (1, before, "")
    assert [(s["name"], s["at_risk"]) for s in json.loads(before)["services"]] == [("service-nginx-demo", True)]


def test_the_input_directory_is_compared_by_its_real_path(
    manifests: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "link"
    link.symlink_to(manifests)
    out = manifests / "report.json"
    assert check(capsys, str(link), "--format", "json", "-o", str(out)) == (2, "", refusal(out, link))
    assert not out.exists()


def test_a_report_behind_a_link_the_walk_does_not_enter_is_written(
    manifests: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "reports"
    elsewhere.mkdir()
    (manifests / "reports").symlink_to(elsewhere)  # check DIR enters no link to a directory
    out = manifests / "reports" / "report.json"
    assert check(capsys, str(manifests), "--format", "json", "-o", str(out)) == (1, "", f"wrote {out}\n")
    code, _, err = check(capsys, str(manifests), "--format", "json")
    assert (code, err) == (1, "")


def test_a_json_report_left_in_the_directory_is_one_line_naming_it(
    manifests: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    assert check(capsys, str(manifests), "--format", "json", "-o", str(out))[0] == 1
    out.rename(manifests / "report.json")  # moved in by hand
    code, _, err = check(capsys, str(manifests), "--format", "json")
    assert (code, err) == (2, f"hairpin: error: {manifests}/report.json:1: not a Kubernetes object: no kind\n")
