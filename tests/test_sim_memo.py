"""The memo of whole connections (``hairpin.backends.memo``) never changes a result: runs with and
without it give byte-identical JSON (with every connection's hops), text, SVG and HTML, for random
scenarios, the seed, every example, seeds 0 and 7, every workaround and each kube-proxy mode."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from hairpin import scenario, sweep
from hairpin.backends import memo, sim
from hairpin.cli.main import app
from hairpin.netfilter.nft_tables import tables_of
from hairpin.netfilter.stacked import Stacked
from hairpin.story import RunView
from test_sim_cache import points  # tests/ is on sys.path (rootdir conftest, no package)

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))
MODES = ("iptables", "nftables", "ipvs")


def _mode(s: scenario.Scenario, mode: str) -> scenario.Scenario:
    return sweep.point_scenario(s, {"mode": mode})  # nftables: kube-proxy 1.30 at least


def _outputs(s: scenario.Scenario, n: int, seed: int, fixes: bool, use_memo: bool) -> tuple[str, str, str]:
    r = sim.run(s, n, seed=seed, fixes=fixes, memo=use_memo)
    buf = io.StringIO()
    Console(file=buf, width=160, color_system=None, force_terminal=False).print(RunView(r))
    return json.dumps(r.to_json()), json.dumps(r.to_json(all_hops=True)), buf.getvalue()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(point=points, seed=st.integers(0, 2**16), n=st.integers(2, 12), fixes=st.booleans(),
       cni_nft=st.booleans())  # fmt: skip
def test_random_scenarios_identical_with_and_without_memo(point: dict[str, Any], seed: int, n: int,
                                                          fixes: bool, cni_nft: bool) -> None:  # fmt: skip
    s = sweep.point_scenario(scenario.seed(), point)
    if cni_nft:  # the VPC CNI's connection marks as table ip aws-cni (cni.connmark_backend)
        s = replace(s, cni=replace(s.cni, version="1.23", connmark_backend="nftables"))
    on = sim.run(s, n, seed=seed, fixes=fixes, memo=True)
    off = sim.run(s, n, seed=seed, fixes=fixes, memo=False)
    assert json.dumps(on.to_json(all_hops=True)) == json.dumps(off.to_json(all_hops=True))


@pytest.mark.parametrize("mode", MODES)
def test_seed_identical_in_each_mode_and_the_memo_is_used(mode: str) -> None:
    s = _mode(scenario.seed(), mode)
    for seed in (0, 7):
        assert _outputs(s, 40, seed, True, True) == _outputs(s, 40, seed, True, False), seed
    net = sim.Network(s, verbose=False)
    m = memo.Memo(net)
    assert m.off is None
    courses = [m.lookup(i, 0) or m.record(i, 0) for i in range(60)]
    assert m.hits > 0 and m.hits + m.misses == 60  # the comparison above compared memoised connections
    assert sum(isinstance(c, tuple) for c in courses) == m.hits


@pytest.mark.parametrize("mode", MODES)
def test_the_cnis_nftables_connection_marks_identical_and_the_memo_is_used(mode: str) -> None:
    """cni.connmark_backend nftables: the VPC CNI's table ip aws-cni beside kube-proxy's rules of each mode (its
    numbers are among memo.constants' texts)."""
    s = _mode(scenario.seed(), mode)
    s = replace(s, cni=replace(s.cni, version="1.23", connmark_backend="nftables"))
    nf = sim.Network(s, verbose=False).hosts["node1"].nf
    assert isinstance(nf, Stacked) and [t.name for t in tables_of(nf.nft)][-1] == "aws-cni"
    for seed in (0, 7):
        assert _outputs(s, 40, seed, True, True) == _outputs(s, 40, seed, True, False), seed
    m = memo.Memo(sim.Network(s, verbose=False))
    assert m.off is None
    [m.lookup(i, 0) or m.record(i, 0) for i in range(60)]
    assert m.hits > 0 and m.hits + m.misses == 60


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_identical_with_and_without_memo(path: Path) -> None:
    base = scenario.load(path)
    for mode in MODES if base.family == 4 else ("iptables", "nftables"):  # IPv6: no IPVS mode (hairpin.scenario6)
        s = _mode(base, mode)
        for seed in (0, 7):
            assert _outputs(s, 16, seed, False, True) == _outputs(s, 16, seed, False, False), (mode, seed)


@pytest.mark.parametrize("fix", sorted(scenario.FIXES))
def test_every_fix_identical_with_and_without_memo(fix: str) -> None:
    s = scenario.with_fix(scenario.seed(), fix)
    for seed in (0, 7):
        assert _outputs(s, 30, seed, False, True) == _outputs(s, 30, seed, False, False), seed


def test_cli_outputs_identical_with_and_without_memo(tmp_path: Path) -> None:
    """``hairpin reproduce``'s text, JSON, --all-hops JSON, SVG and HTML, with --memo and --no-memo."""
    runner = CliRunner()
    got: dict[str, list[bytes]] = {}
    for flag in ("--memo", "--no-memo"):
        d = tmp_path / flag.strip("-")
        d.mkdir()
        outs = []
        for seed in ("0", "7"):
            base = ["reproduce", "--connections", "24", "--seed", seed, flag]
            r = runner.invoke(app, [*base, "-o", str(d / f"{seed}.txt"), "--svg", str(d / f"{seed}.svg")])
            assert r.exit_code == 0, r.output
            r = runner.invoke(app, [*base, "--format", "json", "-o", str(d / f"{seed}.json")])
            assert r.exit_code == 0, r.output
            r = runner.invoke(app, [*base, "--format", "json", "--all-hops", "--no-fixes", "-o", str(d / f"{seed}a.json")])
            assert r.exit_code == 0, r.output
            outs += [(d / f"{seed}{x}").read_bytes() for x in (".txt", ".svg", ".json", "a.json")]
        r = runner.invoke(app, ["reproduce", "--connections", "12", "--no-fixes", flag, "--html", str(d / "r.html"),
                                "-o", str(d / "r.txt")])  # fmt: skip
        assert r.exit_code == 0, r.output
        outs.append((d / "r.html").read_bytes())
        got[flag] = outs
    assert got["--memo"] == got["--no-memo"]
    assert b"timeout" in got["--memo"][0]


def test_memo_refuses_what_it_cannot_prove() -> None:
    """A Classic ELB (ports and ISNs of its own) switches the memo off; the seed's port cells split at
    its NodePort and the ISN guard keeps ISNs 2**16 apart and away from 0."""
    clb = scenario.load(Path(__file__).parent.parent / "examples" / "clb.yaml")
    assert memo.Memo(sim.Network(clb, verbose=False)).off == "a Classic ELB (its own keyed ports and ISNs)"
    m = memo.Memo(sim.Network(scenario.seed(), verbose=False))
    assert 31468 in m.cuts and 32768 in m.cuts and 60999 in m.cuts
    assert m._cell(31468) == ("=", 31468)
    assert m._cell(40000) == m._cell(50000) != m._cell(31469 if 31469 not in m.cuts else 20000)
    assert memo._isns_apart([1 << 20, 1 << 30])
    assert not memo._isns_apart([1 << 20, (1 << 20) + 5])
    assert not memo._isns_apart([5])
    assert not memo._isns_apart([(1 << 32) - 3])


def test_memoised_connections_replay_their_hops() -> None:
    """A memoised connection's hops are those of the same connection simulated in full."""
    s = scenario.seed()
    r = sim.run(s, 30, seed=4, memo=True)
    replayed = [c for c in r.connections if isinstance(c, sim.Replayed)]
    assert replayed
    full = sim.Network(s, verbose=False)
    c = replayed[-1]
    want = full.connect(c.id, 4)
    assert (c.client, c.target, c.outcome, c.elapsed_s, c.syns, c.hairpin) == (
        want.client, want.target, want.outcome, want.elapsed_s, want.syns, want.hairpin)
    assert [h.to_json() for h in c.hops] == [h.to_json() for h in want.hops] and want.hops


def test_memo_switches_off_where_connections_interact_or_ports_are_arithmetic() -> None:
    """ClientIP affinity's ``-m recent`` list holds the caller after its first connection (kube-proxy
    1.30, iptables mode): the memo stops there.  A NAT gateway derives its port from the client's: the
    internet-facing example's first connection switches the memo off.  Runs stay identical."""
    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, version="1.30"),
                services=(replace(s.services[0], session_affinity="ClientIP", session_affinity_timeout=600),))
    m = memo.Memo(sim.Network(s, verbose=False))
    assert m.off is None
    m.record(0, 2)
    assert m.off == "an -m recent list holds an address (connections interact)"
    assert m.lookup(1, 2) is None
    assert _outputs(s, 12, 2, False, True) == _outputs(s, 12, 2, False, False)
    nat = scenario.load(Path(__file__).parent.parent / "examples" / "internet-facing.yaml")
    m = memo.Memo(sim.Network(nat, verbose=False))
    m.record(0, 2)
    assert m.off == "a NAT gateway (its port is arithmetic on the client's)"


def test_a_full_trie_stores_no_more_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trie is a cache with a bound: once ``MAX_NODES`` are kept, new paths are simulated and not
    stored (the result is the same), paths already kept still hit."""
    s = scenario.seed()
    m = memo.Memo(sim.Network(s, verbose=False))
    for i in range(40):
        if m.lookup(i, 1) is None:
            m.record(i, 1)
    kept = m.nodes
    assert kept > 0
    monkeypatch.setattr(memo, "MAX_NODES", kept)
    hits = m.hits
    for i in range(40, 200):
        if m.lookup(i, 1) is None:
            m.record(i, 1)
    assert m.nodes == kept and m.hits > hits
    assert _outputs(s, 30, 1, False, True) == _outputs(s, 30, 1, False, False)


def test_a_memo_that_contradicts_itself_gives_way_to_full_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its self-checks (``Memo._store``) found one path of decisions with two courses: a course it handed out before
    may be wrong, so every connection is simulated again without it, with a warning, and the answer is memo=False's."""
    s = scenario.seed()
    off = sim.run(s, 40, seed=3, memo=False)
    real, calls = memo.Memo._store, []

    def store(self: memo.Memo, root: Any, rec: Any, course: Any) -> None:
        calls.append(1)
        if len(calls) == 6:
            raise memo.MemoConflict("one decision path, two courses (forced)")
        real(self, root, rec, course)

    monkeypatch.setattr(memo.Memo, "_store", store)
    ticks: list[int] = []
    with pytest.warns(RuntimeWarning) as caught:
        on = sim.run(s, 40, seed=3, memo=True, progress=ticks.append)
    assert [str(w.message) for w in caught] == [
        "the simulator's memo contradicted itself (one decision path, two courses (forced)); all 40 connections were "
        "simulated again without it"
    ]
    assert json.dumps(on.to_json(all_hops=True)) == json.dumps(off.to_json(all_hops=True))
    assert sum(ticks) == 40  # the progress shown before the conflict is not shown twice


def test_the_command_line_says_a_library_warning_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from hairpin.cli.main import main

    def conflict(self: memo.Memo, root: Any, rec: Any, course: Any) -> None:
        raise memo.MemoConflict("forced")

    monkeypatch.setattr(memo.Memo, "_store", conflict)
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--connections", "20", "--no-fixes", "--format", "json"])
    assert e.value.code == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "hairpin: warning: the simulator's memo contradicted itself (forced); all 20 connections were simulated "
        "again without it"
    ]
