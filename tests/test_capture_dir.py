"""``hairpin lab run --capture DIR`` without a lab: DIR and every ``NODE.pcap`` in it checked before the lab is
built (a directory at NODE.pcap, a DIR link another user planted in a sticky world-writable directory, a node
name that is not a file name), and a capture that cannot be moved into DIR at the end kept where it was written.

No namespace is made: ``up`` is replaced by a function that fails the test, and ``run``'s connections by one
that writes the captures tcpdump would have written."""

from __future__ import annotations

import importlib
import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hairpin import scenario
from hairpin.backends import lab as lab_pkg
from hairpin.backends.lab.run import LabRun, check_capture_dir
from hairpin.cli.main import main
from hairpin.errors import InputError, LabError
from hairpin.writing import name_problem

run_mod = importlib.import_module("hairpin.backends.lab.run")  # the package's ``run`` is the function
NOBODY = 65534
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="gives a link to another user (needs root)")
SEED_YAML = Path(__file__).resolve().parents[1] / "src" / "hairpin" / "scenarios" / "seed.yaml"


def with_node_name(name: str) -> scenario.Scenario:
    s = scenario.seed()
    return replace(s, nodes=(replace(s.nodes[0], name=name), *s.nodes[1:]))


@pytest.fixture(autouse=True)
def tcpdump(monkeypatch: pytest.MonkeyPatch) -> None:
    """tcpdump installed, whether or not this machine has it (the check of its absence is a test below)."""
    which = run_mod.shutil.which
    monkeypatch.setattr(run_mod.shutil, "which", lambda tool, *a, **k: "/usr/bin/tcpdump" if tool == "tcpdump"
                        else which(tool, *a, **k))  # fmt: skip


@pytest.fixture
def no_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    """``lab run`` may check and refuse, never build: ``up`` fails the test."""

    def up(*a: Any, **k: Any) -> None:
        pytest.fail("the lab was built")

    monkeypatch.setattr(lab_pkg, "up", up)


def lab_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(["lab", "run", *args])
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


# ------------------------------------------------------------------------------ before the lab is built


def test_a_directory_at_node_pcap_is_one_line_before_anything_is_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_lab: None
) -> None:
    (tmp_path / "node2.pcap").mkdir()
    assert lab_run(capsys, "--capture", str(tmp_path)) == (
        2, "", f"hairpin: error: {tmp_path}/node2.pcap: cannot write: is a directory\n")  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node2.pcap"]


def test_a_file_as_dir_is_one_line_before_anything_is_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_lab: None
) -> None:
    f = tmp_path / "existing"
    f.write_text("a file")
    assert lab_run(capsys, "--capture", str(f)) == (2, "", f"hairpin: error: {f}: --capture: not a directory\n")
    assert f.read_text() == "a file"


def test_no_tcpdump_is_one_line_before_anything_is_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_lab: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_mod.shutil, "which", lambda tool, *a, **k: None)
    assert lab_run(capsys, "--capture", str(tmp_path / "cap")) == (
        2, "", f"hairpin: error: {tmp_path}/cap: --capture: the lab captures with tcpdump, which is not installed "
        "(Debian package tcpdump)\n")  # fmt: skip
    assert list(tmp_path.iterdir()) == []  # DIR not made


def test_a_file_or_a_link_at_node_pcap_passes_the_check(tmp_path: Path) -> None:
    (tmp_path / "node1.pcap").write_bytes(b"old")
    (tmp_path / "node2.pcap").symlink_to(tmp_path / "elsewhere")  # replaced by the capture, never followed
    check_capture_dir(tmp_path, scenario.seed())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node1.pcap", "node2.pcap"]


def test_a_missing_capture_directory_is_checked_by_its_parent(tmp_path: Path) -> None:
    check_capture_dir(tmp_path / "new", scenario.seed())  # created by run
    with pytest.raises(InputError) as e:
        check_capture_dir(tmp_path / "no" / "new", scenario.seed())
    assert str(e.value) == f"{tmp_path}/no/new: --capture: no such directory: {tmp_path}/no"


@root_only
def test_a_capture_directory_link_another_user_planted_is_not_followed(
    shared: Path, capsys: pytest.CaptureFixture[str], no_lab: None
) -> None:
    theirs = shared / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    link = shared / "cap"
    link.symlink_to(theirs)
    os.lchown(link, NOBODY, NOBODY)
    assert lab_run(capsys, "--capture", str(link)) == (
        2, "", f"hairpin: error: {link}: --capture: a symbolic link owned by another user in a sticky "
        "world-writable directory: not followed\n")  # fmt: skip
    assert list(theirs.iterdir()) == []


@root_only
def test_a_capture_directory_link_of_ones_own_in_a_sticky_directory_is_followed(shared: Path) -> None:
    mine = shared / "mine"
    mine.mkdir()
    link = shared / "cap"
    link.symlink_to(mine)
    check_capture_dir(link, scenario.seed())


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../x", "a '/' or a NUL in it"),
        ("a/b", "a '/' or a NUL in it"),
        ("..", "empty, '.' or '..'"),
        ("", "empty, '.' or '..'"),
        ("a\0b", "a '/' or a NUL in it"),
        ("n" * 251, "longer than 255 bytes"),  # the name fits, NAME.pcap does not
    ],
)
def test_a_node_name_that_is_not_a_file_name_is_refused(tmp_path: Path, name: str, why: str) -> None:
    with pytest.raises(InputError) as e:
        check_capture_dir(tmp_path, with_node_name(name))
    assert e.value.file == str(tmp_path)
    assert e.value.message == f"--capture: node name {name!r} cannot name a capture file ({why})"
    assert list(tmp_path.iterdir()) == []


def test_the_longest_node_name_is_accepted(tmp_path: Path) -> None:
    check_capture_dir(tmp_path, with_node_name("n" * 250))  # n*250 + ".pcap": 255 bytes, NAME_MAX


def test_a_scenario_node_named_out_of_dir_is_refused_by_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_lab: None
) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text(
        SEED_YAML.read_text().replace("name: node1,", "name: ../esc,").replace("node: node1,", "node: ../esc,")
    )
    cap = tmp_path / "cap"
    assert lab_run(capsys, "--scenario", str(evil), "--capture", str(cap)) == (
        2, "", f"hairpin: error: {cap}: --capture: node name '../esc' cannot name a capture file (a '/' or a NUL in "
        "it)\n")  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.yaml"]


@pytest.mark.parametrize(
    ("name", "why"),
    [("node1", ""), (".", "empty, '.' or '..'"), ("x" * 255, ""), ("é" * 128, "longer than 255 bytes")],
)
def test_name_problem(name: str, why: str) -> None:
    assert name_problem(name) == why


# ------------------------------------------------------------------------------ at the end of the run


def _run_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, race: Any) -> tuple[LabRun, Path]:
    """``run`` with its connections replaced: tcpdump's two captures are written into the stage, ``race`` changes
    DIR, then the captures are moved as the real run moves them."""
    cap = tmp_path / "cap"
    staged: list[Path] = []

    def connect_all(lab: Any, connections: int, timeout: float, seed: int, captures: Any, dumps: Any, *rest: Any
                    ) -> LabRun:  # fmt: skip
        capture, stage, kept = captures
        staged.append(stage)
        for node in ("node1", "node2"):
            (stage / f"{node}.pcap").write_bytes(node.encode())
        race(capture)
        moved = [run_mod._move_capture(stage / f"{node}.pcap", capture, kept) for node in ("node1", "node2")]
        return LabRun([], "", "", [m for m in moved if m])

    monkeypatch.setattr(run_mod, "_connect_all", connect_all)
    result = run_mod.run(SimpleNamespace(scenario=scenario.seed()), 2, capture=cap)  # type: ignore[arg-type]
    return result, staged[0]


def test_captures_are_moved_into_dir_and_the_stage_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, stage = _run_with(tmp_path, monkeypatch, lambda cap: None)
    cap = tmp_path / "cap"
    assert result.captures == [f"{cap}/node1.pcap", f"{cap}/node2.pcap"]
    assert sorted(p.name for p in cap.iterdir()) == ["node1.pcap", "node2.pcap"]
    assert (cap / "node2.pcap").read_bytes() == b"node2" and not stage.exists()


def test_a_capture_that_cannot_be_moved_is_kept_and_said_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.warns(UserWarning) as said:
        result, stage = _run_with(tmp_path, monkeypatch, lambda cap: (cap / "node2.pcap").mkdir())
    cap = tmp_path / "cap"
    assert [str(w.message) for w in said] == [
        f"{cap}/node2.pcap: cannot write: Is a directory; the capture is kept at {stage}/node2.pcap"
    ]
    assert result.captures == [f"{cap}/node1.pcap", f"{stage}/node2.pcap"]
    assert (stage / "node2.pcap").read_bytes() == b"node2" and (cap / "node1.pcap").read_bytes() == b"node1"
    assert stage.parent == cap and stage.name.startswith(".hairpin-capture-")


def test_a_capture_tcpdump_never_wrote_is_said_and_not_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def tcpdump_failed(cap: Path) -> None:
        for p in cap.glob(".hairpin-capture-*/node1.pcap"):
            p.unlink()

    with pytest.warns(UserWarning) as said:
        result, stage = _run_with(tmp_path, monkeypatch, tcpdump_failed)
    cap = tmp_path / "cap"
    assert [str(w.message) for w in said] == [f"{cap}/node1.pcap: not written: tcpdump wrote no capture for this node"]
    assert result.captures == [f"{cap}/node2.pcap"] and not stage.exists()


@pytest.mark.parametrize("error", [LabError("client failed: Cannot assign requested address"), KeyboardInterrupt()])
def test_a_run_that_fails_keeps_what_was_captured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    cap = tmp_path / "cap"
    stages: list[Path] = []

    def connect_all(lab: Any, connections: int, timeout: float, seed: int, captures: Any, *rest: Any) -> LabRun:
        stages.append(captures[1])
        (captures[1] / "node1.pcap").write_bytes(b"node1")  # tcpdump started on node1 only, then the run failed
        raise error

    monkeypatch.setattr(run_mod, "_connect_all", connect_all)
    with pytest.warns(UserWarning) as said, pytest.raises(type(error)):
        run_mod.run(SimpleNamespace(scenario=scenario.seed()), 2, capture=cap)  # type: ignore[arg-type]
    assert [str(w.message) for w in said] == [
        f"{cap}: the run did not finish; what tcpdump captured until then is kept: {cap}/node1.pcap"
    ]
    assert sorted(p.name for p in cap.iterdir()) == ["node1.pcap"] and not stages[0].exists()
    assert (cap / "node1.pcap").read_bytes() == b"node1"


def test_a_run_that_fails_before_any_capture_leaves_dir_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def connect_all(*a: Any) -> LabRun:
        raise LabError("client failed: 1")

    monkeypatch.setattr(run_mod, "_connect_all", connect_all)
    with pytest.raises(LabError):
        run_mod.run(SimpleNamespace(scenario=scenario.seed()), 2, capture=tmp_path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_run_checks_dir_before_any_capture_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "node3.pcap").mkdir()
    monkeypatch.setattr(run_mod, "_connect_all", lambda *a: pytest.fail("connected"))
    with pytest.raises(InputError) as e:
        run_mod.run(SimpleNamespace(scenario=scenario.seed()), 2, capture=tmp_path)  # type: ignore[arg-type]
    assert str(e.value) == f"{tmp_path}/node3.pcap: cannot write: is a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node3.pcap"]


def test_the_cli_warns_where_a_capture_is_kept_and_lists_it_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    removed: list[bool] = []
    monkeypatch.setattr(lab_pkg, "up", lambda sc: SimpleNamespace(scenario=sc, remove=lambda: removed.append(True)))
    cap = tmp_path / "cap"
    stages: list[Path] = []

    def connect_all(lab: Any, connections: int, timeout: float, seed: int, captures: Any, *rest: Any) -> LabRun:
        capture, stage, kept = captures
        stages.append(stage)
        (stage / "node1.pcap").write_bytes(b"node1")
        (capture / "node1.pcap").mkdir()
        return LabRun([], "", "", [run_mod._move_capture(stage / "node1.pcap", capture, kept)])

    monkeypatch.setattr(run_mod, "_connect_all", connect_all)
    code, out, err = lab_run(capsys, "--connections", "1", "--capture", str(cap))
    staged = stages[0] / "node1.pcap"
    assert (code, removed) == (0, [True])
    assert err == f"hairpin: warning: {cap}/node1.pcap: cannot write: Is a directory; the capture is kept at {staged}\n"
    assert f"captures: {staged}\n" in out
    assert staged.read_bytes() == b"node1"
