"""Warnings given when a scenario file is loaded (``hairpin.scenario_checks``): ``target_node_labels`` that no
node carries, named with the file, the key and its line, once, by ``scenario validate``, ``reproduce``,
``sweep`` and ``lab``; and ``sweep --grid azs=N`` above the most AZs of any AWS Region."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hairpin import scenario

ROOT = Path(__file__).resolve().parent.parent
SEED = (ROOT / "src/hairpin/scenarios/seed.yaml").read_text()


def _typo(tmp_path: Path, target_type: str = "instance", labels: str = "{role: lbs}") -> Path:
    """The seed with node2 labelled role=lb and the load balancer asking for ``labels`` (line 54)."""
    text = SEED.replace("  - {name: node2, ip: 192.168.21.86, az: eu-west-1a}",
                        "  - {name: node2, ip: 192.168.21.86, az: eu-west-1a, labels: {role: lb}}")  # fmt: skip
    text = text.replace(
        "      proxy_protocol_v2: false\n", f"      proxy_protocol_v2: false\n      target_node_labels: {labels}\n"
    )
    text = text.replace("      target_type: instance\n", f"      target_type: {target_type}\n")
    path = tmp_path / "typo.yaml"
    path.write_text(text)
    assert text.splitlines()[53] == f"      target_node_labels: {labels}"
    return path


def _warning(path: Path) -> str:
    return (f"hairpin: warning: {path}:54: services[0].load_balancer.target_node_labels: no node carries role=lbs "
            "(nodes carry role=lb): the load balancer of nginx-demo/service-nginx-demo registers no instance target, "
            "so every connection through it times out; check the labels against nodes[].labels")  # fmt: skip


def hairpin(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": "200", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=False)  # fmt: skip


def test_load_keeps_the_warning_with_file_key_and_line(tmp_path: Path) -> None:
    path = _typo(tmp_path)
    s = scenario.load(path)
    assert s.warnings == (_warning(path).removeprefix("hairpin: warning: "),)
    assert s == scenario.load(path) and scenario.seed().warnings == ()


def test_no_warning_when_the_labels_match(tmp_path: Path) -> None:
    assert scenario.load(_typo(tmp_path, "instance", "{role: lb}")).warnings == ()


@pytest.mark.parametrize("labels", ["{role: lbs}", "{role: lb}"])
def test_labels_on_ip_targets_are_said_to_select_nothing(tmp_path: Path, labels: str) -> None:
    """The controller reads target-node-labels for instance targets only: on ip targets, matching or not, they
    keep no pod's traffic off any node."""
    path = _typo(tmp_path, "ip", labels)
    assert scenario.load(path).warnings == (
        f"{path}:54: services[0].load_balancer.target_node_labels: read for instance targets only: the load "
        "balancer of nginx-demo/service-nginx-demo has ip targets, the endpoints' pods on whatever node they run, "
        "so the labels select nothing",
    )


def test_validate_warns_once_and_exits_0(tmp_path: Path) -> None:
    path = _typo(tmp_path)
    r = hairpin("scenario", "validate", str(path))
    assert (r.returncode, r.stdout, r.stderr) == (0, f"{path}: ok (seed: 3 nodes, 4 pods, 1 services)\n",
                                                  _warning(path) + "\n")  # fmt: skip


def test_reproduce_warns_when_loading_then_says_why_it_timed_out(tmp_path: Path) -> None:
    path = _typo(tmp_path)
    r = hairpin("reproduce", "--scenario", str(path), "--connections", "20", "--no-fixes")
    assert r.returncode == 0
    lines = r.stderr.splitlines()
    assert lines[0] == _warning(path) and lines.count(_warning(path)) == 1
    # the run's own warning (hairpin.story.elsewhere_warning) follows
    assert lines[1].startswith("hairpin: warning: 20 of the 20 timeouts are not the load balancer") and len(lines) == 2


def test_sweep_warns_once_however_many_points(tmp_path: Path) -> None:
    path = _typo(tmp_path)
    r = hairpin("sweep", "--scenario", str(path), "--grid", "nodes=1,2", "--connections", "10", "--workers", "1")
    # every connection times out where the closed form, counting no target, says none does: exit 1, and the
    # warning above the table says why
    assert (r.returncode, r.stderr) == (1, _warning(path) + "\n")
    lines = r.stdout.splitlines()
    # the points disagree, and the first line and the last say it is the scenario, not the model
    assert lines[0] == ("hairpin sweep: 2 of 2 points disagree with the closed form (marked NO); in 2 of them "
                        "connections time out for a reason the closed form does not count (nodes=1: #0: NLB "
                        "192.168.168.103: no listener/healthy target for port 80: dropped)")  # fmt: skip
    assert lines[-1] == ("Next: check the scenario: a connection the load balancer did not send back to the caller's "
                         "own node timed out (hairpin reproduce --scenario FILE names the first one)")  # fmt: skip
    r = hairpin("sweep", "--scenario", str(path), "--grid", "nodes=1,2", "--connections", "10", "--workers", "1",
                "--format", "json")  # fmt: skip
    assert [(p["timeouts"], p["expected"], p["agrees"], p["not_hairpin"]) for p in json.loads(r.stdout)["points"]] == [
        (10, 0.0, False, 10), (10, 0.0, False, 10)]  # fmt: skip
    html = tmp_path / "sweep.html"
    hairpin("sweep", "--scenario", str(path), "--grid", "nodes=1,2", "--connections", "10", "--workers", "1",
            "--html", str(html))  # fmt: skip
    assert ('<p class="bad" id="not-hairpin">At 2 of the points connections time out for a reason the closed form '
            "does not count (nodes=1: #0: NLB 192.168.168.103: no listener/healthy target for port 80: dropped): "
            "check the scenario.</p>") in html.read_text()  # fmt: skip


def test_a_sweep_of_the_seed_counts_no_timeout_outside_the_closed_form() -> None:
    r = hairpin("sweep", "--grid", "nodes=1,2", "--connections", "40", "--workers", "1", "--format", "json")
    assert r.returncode == 0 and [p["not_hairpin"] for p in json.loads(r.stdout)["points"]] == [0, 0]


def test_sweep_warns_of_more_azs_than_any_region() -> None:
    r = hairpin("sweep", "--scenario", "examples/three-az-cross-zone.yaml", "--grid", "azs=3,7,8", "--connections",
                "10", "--workers", "1")  # fmt: skip
    assert (r.returncode, r.stderr) == (0, "hairpin: warning: --grid azs=7,8: no AWS Region has more than 6 "
                                           "Availability Zones (us-east-1 has 6); a point with more is a shape larger "
                                           "than any Region\n")  # fmt: skip
    assert hairpin("sweep", "--scenario", "examples/three-az-cross-zone.yaml", "--grid", "azs=6", "--connections",
                   "10", "--workers", "1").stderr == ""  # fmt: skip


def test_a_bad_point_is_one_error_line_without_the_warning() -> None:
    r = hairpin("sweep", "--grid", "azs=7", "--connections", "10", "--workers", "1")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith("hairpin: error: --grid azs=7: 7 AZs need ") and r.stderr.count("\n") == 1


class _Stop(Exception):
    pass


@pytest.mark.parametrize("command", ["up", "run"])
def test_lab_warns_once_before_it_builds(tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import hairpin.backends.lab as lab
    from hairpin.cli import lab as cli_lab

    def up(*_: object, **__: object) -> None:
        raise _Stop  # the lab is not built: no root needed

    monkeypatch.setattr(lab, "up", up)
    path = _typo(tmp_path)
    with pytest.raises(_Stop):
        if command == "up":
            cli_lab.up_cmd(scenario=path, fix=None)
        else:
            cli_lab.run_cmd(scenario=path, fix=None, connections=5, capture=None, svg=None, html=None, output=None,
                            format="text", timeout=None, connect_timeout=3.5, seed=0)  # fmt: skip
    assert capsys.readouterr().err == _warning(path) + "\n"
