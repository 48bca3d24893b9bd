"""`hairpin reproduce` on a scenario whose connections time out for another reason than the load balancer
sending the caller back to its own node (the failure the closed form counts): one warning line, and the
diagnosis says so, instead of a rate next to an unrelated closed form and fix tables that seem to explain it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hairpin import scenario, story
from hairpin.backends import sim

SEED = Path(__file__).resolve().parents[1] / "src" / "hairpin" / "scenarios" / "seed.yaml"


#: kube-proxy's "has no endpoints" rule (KUBE-EXTERNAL-SERVICES, -j REJECT) on the NLB's target node2
REJECTED = ("#0: node2: rejected in filter INPUT by REJECT (nginx-demo/service-nginx-demo: has no endpoints): ICMP "
            "port unreachable to 192.168.27.239")  # fmt: skip


def _variant(tmp_path: Path, kind: str) -> Path:
    d = yaml.safe_load(SEED.read_text())
    if kind == "labels":  # a typo: no node carries the label, so the NLB has no registered target
        d["services"][0]["load_balancer"]["target_node_labels"] = {"role": "ingres"}
    elif kind == "endpoints":  # a Service without endpoints: every node REJECTs the SYN in filter INPUT, and every
        # node fails the NLB's health check (a TCP connection to the NodePort), so the NLB fails open
        d["services"][0]["endpoints"] = []
    path = tmp_path / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "reproduce", "--no-fixes", *args],
                          capture_output=True, text=True, check=False, env={**os.environ, "COLUMNS": "300"})  # fmt: skip


@pytest.mark.parametrize(("kind", "warning", "head"), [
    ("labels",
     "hairpin: warning: 40 of the 40 timeouts are not the load balancer sending the caller back to its own node node1 "
     "(#0: NLB 192.168.168.103: no listener/healthy target for port 80: dropped): the closed form (0.0%) and the fix "
     "tables do not account for them; check the scenario\n",
     "hairpin reproduce: 40 of 40 simulated connections timed out (100.0%): 40 of them not because the load balancer "
     "sent them back to the caller's own node node1 (#0: NLB 192.168.168.103: no listener/healthy target for port 80: "
     "dropped)"),
    ("endpoints",
     f"hairpin: warning: 30 of the 40 timeouts are not the load balancer sending the caller back to its own node node1 "
     f"({REJECTED}): the closed form (33.3%) and the fix tables do not account for them; check the scenario\n",
     "hairpin reproduce: 40 of 40 simulated connections timed out (100.0%): 30 of them not because the load balancer "
     f"sent them back to the caller's own node node1 ({REJECTED})"),
])  # fmt: skip
def test_timeouts_that_are_not_the_hairpin_are_said(tmp_path: Path, kind: str, warning: str, head: str) -> None:
    path = _variant(tmp_path, kind)
    # the labels no node carries are said when the file is loaded too (hairpin.scenario_checks), first
    loaded = [f"hairpin: warning: {w}\n" for w in scenario.load(path).warnings]
    assert len(loaded) == (kind == "labels") and all(
        w.startswith(f"hairpin: warning: {path}:") and "target_node_labels: no node carries role=ingres:" in w
        for w in loaded
    )
    res = _cli("--scenario", str(path), "--connections", "40", "--seed", "0")
    assert res.returncode == 0
    assert res.stderr == "".join(loaded) + warning
    assert res.stdout.splitlines()[0] == head
    res = _cli("--scenario", str(path), "--connections", "40", "--format", "json")
    assert res.stderr == "".join(loaded) + warning  # whatever the format


def test_the_seed_and_a_node_caller_are_not_warned_about(tmp_path: Path) -> None:
    assert story.elsewhere(sim.run(scenario.seed(), 200, 0, fixes=False)) is None
    d = yaml.safe_load(SEED.read_text())  # a hostNetwork caller: its SYN comes back to node1 and is a martian
    d["pods"][0].update(host_network=True, ip="192.168.2.3")
    path = tmp_path / "hostnet.yaml"
    path.write_text(yaml.safe_dump(d))
    run = sim.run(scenario.load(path), 100, 0, fixes=False)
    assert run.summary.timeouts > 0 and story.elsewhere(run) is None
    res = _cli("--connections", "100")
    assert (res.returncode, res.stderr) == (0, "")
