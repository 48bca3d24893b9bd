"""The lab in real kernels (root only): the seed's failure, the simulator's agreement, the fixes, safety."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import needs_root_and
from hairpin import scenario
from hairpin.backends.lab import clean, down, labs, run, up

pytestmark = [needs_root_and("ip", "iptables-restore"), pytest.mark.usefixtures("lab_dir")]


def _netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


_LAB_NAME = re.compile(r"hp[0-9a-f]{6}-")  # record.new_prefix


def _kept(before: set[str], after: set[str]) -> bool:
    """Every namespace of ``before`` is still there, but for other labs' (``hpXXXXXX-...``): another test
    run on the machine builds and removes its own meanwhile, and this test's lab removes only what its record
    names (judged by its prefix, separately)."""
    return not {n for n in before - after if not _LAB_NAME.match(n)}


def _host_state() -> tuple[str, ...]:
    cmds = (["ip", "-o", "link"], ["ip", "-o", "addr"], ["ip", "route", "show", "table", "all"], ["ip", "rule"])
    out = tuple(subprocess.run(c, capture_output=True, text=True, check=True).stdout for c in cmds)
    ipt = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
    return (*out, "\n".join(line for line in ipt.splitlines() if not line.startswith("#")))


def test_seed_lab_reproduces_and_agrees_with_the_simulator(tmp_path: Path) -> None:
    before_ns, before_host = _netns(), _host_state()
    lab = up(scenario.seed())
    try:
        assert set(lab.record.namespaces) <= _netns()
        assert all(n.startswith(lab.record.prefix) for n in lab.record.namespaces)
        result = run(lab, 14, timeout=2.5, seed=1, capture=tmp_path / "cap")
    finally:
        lab.remove()
    after = _netns()
    assert not {n for n in after if n.startswith(lab.record.prefix)}  # exactly what it made is gone
    assert _kept(before_ns, after)  # and nothing else was touched (other processes may add their own meanwhile)
    assert _host_state() == before_host  # nothing added to the host namespace
    by_target = {(c.target, c.outcome) for c in result.connections}
    assert by_target <= {("192.168.2.3:31468", "timeout"), ("192.168.21.86:31468", "established")}
    assert 0 < result.timeouts < 14
    assert result.agreement == 1.0
    assert all(c.simulated_outcome == c.outcome for c in result.connections)
    assert "127 s" in result.kernel_would
    # hop for hop: node1's capture of each hairpinned connection's first round equals the simulated one
    hairpinned = [c for c in result.connections if c.target == "192.168.2.3:31468"]
    assert hairpinned and all(c.sequence_match for c in hairpinned)
    c = hairpinned[0]
    e = c.client
    assert c.real_sequence == [
        f"{e} > 192.168.168.103:80 SYN",
        f"{e} > 192.168.2.3:31468 SYN",
        "192.168.2.3:* > endpoint:80 SYN",
        "endpoint:80 > 192.168.2.3:* SYN,ACK",
        f"192.168.2.3:31468 > {e} SYN,ACK",
        f"{e} > 192.168.2.3:31468 RST",
        "192.168.2.3:* > endpoint:80 RST",
    ]
    assert sorted(Path(p).name for p in result.captures) == ["node1.pcap", "node2.pcap", "node3.pcap"]
    # the capture analyser on the real kernel's node1 capture (tcpdump -i any) finds exactly these connections
    from hairpin.diagnose.capture import analyse_files

    found = analyse_files([tmp_path / "cap" / "node1.pcap"])
    assert found.files[0].damage is None and found.files[0].linktypes in ((113,), (276,))
    assert sorted(str(h.client) for h in found.hairpins) == sorted(c.client for c in hairpinned)
    assert {str(h.answered_by) for h in found.hairpins} == {"192.168.2.3:31468"}
    assert all(h.syn_retransmits >= 1 and h.masquerade is not None for h in found.hairpins)
    assert all(str(h.called) == "192.168.168.103:80" for h in found.hairpins)
    assert found.others == []


_NODE1, _NODE2 = "192.168.2.3:31468", "192.168.21.86:31468"
_PODS = {"192.168.16.142:80", "192.168.39.2:80", "192.168.49.70:80"}  # nginx-demo-1 (node1), -2 and -3 (node3)


@pytest.mark.parametrize(
    ("fix", "targets", "must"),
    [
        ("ip-targets", {"192.168.16.142:80"}, {"192.168.16.142:80"}),  # the only pod target in eu-west-1a
        ("no-preserve-client-ip", {_NODE1, _NODE2}, {_NODE1}),  # node1, the caller's own node, now works
        ("cluster-ip", _PODS, set()),  # node1's kube-proxy DNATs to any endpoint
    ],
)
def test_each_fix_has_no_timeouts_in_the_lab(fix: str, targets: set[str], must: set[str]) -> None:
    n = 12  # the NLB emulation picks node1 with p = 1/2: missing it in all 12 has p = 1/4096
    lab = up(scenario.with_fix(scenario.seed(), fix))
    try:
        result = run(lab, n, timeout=2.5, seed=2)
    finally:
        lab.remove()
    assert len(result.connections) == n and result.timeouts == 0 and result.agreement == 1.0
    for c in result.connections:
        assert c.outcome == c.simulated_outcome == "established"
        assert c.target in targets and c.simulated_target in targets
        # sim.connect forces the NLB's choice, or for a ClusterIP call the endpoint the real kube-proxy picked
        assert c.simulated_target == c.target
    assert must <= {c.target for c in result.connections}


def test_a_killed_owner_leaves_a_record_that_clean_removes(tmp_path: Path) -> None:
    before = _netns()
    code = (
        "import os, signal; from hairpin import scenario; from hairpin.backends.lab import up; "
        "up(scenario.seed(), servers=False); os.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), check=False)
    assert proc.returncode == -signal.SIGKILL
    (rec,) = labs()
    assert set(rec.namespaces) <= _netns()
    removed = clean()
    assert sorted(removed) == sorted(rec.namespaces)
    after = _netns()  # other processes may add namespaces of their own meanwhile: judge by this lab's
    assert not set(rec.namespaces) & after and _kept(before, after) and labs() == []


def test_ctrl_c_during_build_removes_what_was_made(monkeypatch: pytest.MonkeyPatch) -> None:
    from hairpin.backends.lab import build

    before = _netns()
    calls = {"n": 0}
    real = build._configure

    def interrupted(real_name: str, ns: object, prefix: str) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(real_name, ns, prefix)  # type: ignore[arg-type]

    made: list[str] = []
    real_prefix = build.new_prefix

    def prefix() -> str:
        made.append(real_prefix())
        return made[-1]

    monkeypatch.setattr(build, "_configure", interrupted)
    monkeypatch.setattr(build, "new_prefix", prefix)
    with pytest.raises(KeyboardInterrupt):
        up(scenario.seed())
    after = _netns()  # judged by this lab's prefix: other processes may add namespaces meanwhile
    assert made and not {n for n in after if n.startswith(made[0])} and _kept(before, after) and labs() == []


def test_down_removes_only_its_own_lab() -> None:
    a = up(scenario.seed(), persistent=True, servers=False)
    b = up(scenario.seed(), persistent=True, servers=False)
    try:
        removed = down(a.record.prefix)
        assert sorted(removed) == sorted(a.record.namespaces)
        assert set(b.record.namespaces) <= _netns()
    finally:
        b.remove()
    time.sleep(0)


def test_lab_run_cli_json_svg_and_html(tmp_path: Path) -> None:
    svg = tmp_path / "lab.svg"
    page = tmp_path / "lab.html"
    res = subprocess.run(
        [sys.executable, "-m", "hairpin.cli.main", "lab", "run", "--connections", "6", "--timeout", "2",
         "--seed", "1", "--format", "json", "--svg", str(svg), "--html", str(page)],
        capture_output=True, text=True, env=dict(os.environ), check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    import json

    doc = json.loads(res.stdout)
    assert set(doc) >= {"connections", "agreement", "timeouts", "limit"} and doc["agreement"] == 1.0
    assert set(doc["connections"][0]) >= {"id", "client", "target", "outcome", "elapsed_s", "simulated_outcome"}
    assert svg.read_text().startswith("<svg") and "192.168.27.239" in svg.read_text()
    assert labs() == []
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "default-src 'none'" in text
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org", "")
    assert f'id="timeouts">{doc["timeouts"]}/6 timed out' in text and 'id="agreement">100%' in text
    for c in doc["connections"]:  # every real connection is a row with its target and both outcomes
        assert f'data-conn="{c["id"]}"><td class="n">{c["id"]}</td><td class="pkt">{c["client"]}</td>' in text


def test_lab_run_interrupted_ends_its_client_and_exits_130(tmp_path: Path) -> None:
    """A real SIGINT to `hairpin lab run` while its connection client runs: 'hairpin: interrupted', exit 130,
    the client (recorded in the lab's record like every other process) ended, the lab removed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "hairpin.cli.main", "lab", "run", "--connections", "40", "--timeout", "20",
         "--seed", "1", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    client: int | None = None
    deadline = time.monotonic() + 120
    while client is None and proc.poll() is None and time.monotonic() < deadline:
        for rec in labs():
            for pid in rec.pids:  # the client: recorded, running 'python -m hairpin.backends.lab.client'
                with contextlib.suppress(OSError):
                    if b"hairpin.backends.lab.client" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        client = pid
        time.sleep(0.05)
    assert client is not None, "the lab's client never appeared in its record"
    namespaces = labs()[0].namespaces
    time.sleep(0.5)  # connections under way (20 s timeouts: none has finished)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (130, "")
    assert err.endswith("hairpin: interrupted\n") and "Traceback" not in err
    assert not Path(f"/proc/{client}").exists()  # ended and reaped
    assert labs() == [] and not set(namespaces) & _netns()  # judged by this lab's names: others come and go
