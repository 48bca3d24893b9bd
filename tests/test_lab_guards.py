"""What keeps the lab to what it made, without root: names ``ip netns`` would refuse, a record that vanishes while
listed, processes someone else runs in a lab namespace (or a record names), Ctrl-C at the build's first and last
save, pyroute2's forked helpers, namespaces opened without being made, and the empty file a kill leaves at a name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import hangup_default
from hairpin import scenario, topology
from hairpin.backends.lab import build, identity
from hairpin.backends.lab.record import LabRecord, labs
from hairpin.errors import InputError, LabUnsupported


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("hpabc123-node1", ""),
        ("hpabc123-" + "x" * 246, ""),  # 255 bytes: NAME_MAX
        ("hpabc123-" + "x" * 247, "longer than 255 bytes"),
        ("hpabc123-" + "é" * 123, ""),  # 9 + 246 bytes: counted in bytes (UTF-8), not in characters
        ("hpabc123-" + "é" * 124, "longer than 255 bytes"),
        ("", "empty, '.' or '..'"),
        (".", "empty, '.' or '..'"),
        ("..", "empty, '.' or '..'"),
        ("hpabc123-../../etc", "a '/' or a NUL in it"),
        ("hpabc123-a\0b", "a '/' or a NUL in it"),
    ],
)
def test_a_namespace_name_is_what_ip_netns_accepts(name: str, why: str) -> None:
    assert identity.invalid_name(name) == why


def _as_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[object]:
    """As if root with every tool: whatever stops ``up`` must do so before anything is made."""
    made: list[object] = []
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path / "labs"))
    monkeypatch.setattr(build.os, "geteuid", lambda: 0)
    monkeypatch.setattr(build.shutil, "which", lambda tool: f"/usr/sbin/{tool}")
    monkeypatch.setattr(build.identity, "create", lambda *a, **k: made.append(a))
    monkeypatch.setattr(build, "clean", lambda: made.append("clean"))
    return made


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: replace(s, pods=(replace(s.pods[0], name="../../x"), *s.pods[1:])),
         "the lab cannot name a network namespace after '../../x': a '/' or a NUL in it"),
        (lambda s: replace(s, pods=(replace(s.pods[0], name="p" * 247), *s.pods[1:])),
         f"the lab cannot name a network namespace after '{'p' * 247}': longer than 255 bytes"),
        (lambda s: replace(s, nodes=(replace(s.nodes[0], name="a\0b"), *s.nodes[1:])),
         "the lab cannot name a network namespace after 'a\\x00b': a '/' or a NUL in it"),
        (lambda s: replace(s, pods=(replace(s.pods[0], name="node2"), *s.pods[1:])),
         "the lab makes one network namespace per node and pod, and 'node2' names two (the vpc namespace is 'vpc')"),
        (lambda s: replace(s, pods=(replace(s.pods[0], name="vpc"), *s.pods[1:])),
         "the lab makes one network namespace per node and pod, and 'vpc' names two (the vpc namespace is 'vpc')"),
    ],
)  # fmt: skip
def test_a_name_the_lab_cannot_make_is_refused_before_anything_is_made(
    change: Any, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _as_root(monkeypatch, tmp_path)
    with pytest.raises(LabUnsupported) as e:
        build.up(change(scenario.seed()))
    assert isinstance(e.value, InputError) and str(e.value) == message
    assert made == [] and not (tmp_path / "labs").exists()


def test_a_scenario_file_with_such_a_name_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hairpin.cli.main import main

    text = (Path(scenario.__file__).parent / "scenarios" / "seed.yaml").read_text()
    assert text.count("{name: netshoot,") == 1 and text.count("pod: netshoot") == 1
    path = tmp_path / "slash.yaml"
    path.write_text(
        text.replace("{name: netshoot,", '{name: "x/netshoot",').replace("pod: netshoot", 'pod: "x/netshoot"')
    )
    made = _as_root(monkeypatch, tmp_path)
    for cmd in ("up", "run"):
        with pytest.raises(SystemExit) as e:
            main(["lab", cmd, "--scenario", str(path)])
        assert e.value.code == 2
        assert capsys.readouterr().err == (
            "hairpin: error: the lab cannot name a network namespace after 'x/netshoot': a '/' or a NUL in it\n"
        )
    assert made == [] and not (tmp_path / "labs").exists()


def test_a_record_naming_a_namespace_ip_netns_would_refuse_is_not_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NUL in a recorded name was a traceback (os.stat: embedded null byte) in status, down and clean."""
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    rec = LabRecord("hpabc123-", "seed", 2**22 + 7, 0.0, ["hpabc123-a\0b"])
    rec.save()
    with pytest.raises(InputError) as e:
        labs()
    assert str(e.value) == f"{rec.path}: not a lab record: a namespace name that ip netns would refuse"


def test_a_record_removed_while_the_records_are_listed_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two labs at once: one removes its record (it is done) while the other lists them (``up`` cleans first)."""
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    gone = LabRecord("hpabc123-", "seed", 2**22 + 7, 0.0)
    stays = LabRecord("hpabc124-", "seed", 2**22 + 8, 0.0)
    gone.save()
    stays.save()
    load = LabRecord.load

    def racing(path: Path) -> LabRecord:
        if path == gone.path:
            path.unlink()  # its owner removed it between the listing and the reading
        return load(path)

    monkeypatch.setattr(LabRecord, "load", staticmethod(racing))
    assert labs() == [stays]


def test_a_broken_record_still_stops_the_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    (tmp_path / "hpabc123.json").write_text("[]")
    with pytest.raises(InputError) as e:
        labs()
    assert str(e.value) == f"{tmp_path / 'hpabc123.json'}: not a lab record: not a JSON object"


def _sleeper(env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)


def test_only_processes_started_with_the_labs_mark_are_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the lab's namespaces (here: ours, as if it were one) removal ends what the lab started, found by
    ``HAIRPIN_LAB=<prefix>`` in the process's environment, and leaves anyone else's running."""
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    prefix = "hpabc123-"
    mine, other_lab, stranger = _sleeper(identity.lab_env(prefix)), _sleeper(identity.lab_env("hpabc124-")), _sleeper()
    try:
        assert identity.marked(mine.pid, prefix)
        assert not identity.marked(other_lab.pid, prefix) and not identity.marked(stranger.pid, prefix)
        own = os.stat("/proc/self/ns/net").st_ino
        assert {mine.pid, other_lab.pid, stranger.pid} <= set(identity.processes_in({own}))
        rec = LabRecord(prefix, "seed", 2**22 + 7, 0.0)
        rec.save()
        monkeypatch.setattr(identity, "processes_in", lambda inodes: [mine.pid, other_lab.pid, stranger.pid])
        assert rec.remove() == []
        assert mine.wait(timeout=5) == -signal.SIGTERM
        assert other_lab.poll() is None and stranger.poll() is None
        assert rec.strangers == [other_lab.pid, stranger.pid] and not rec.path.exists()
    finally:
        for p in (mine, other_lab, stranger):
            p.kill()
            p.wait()


def test_a_recorded_process_without_the_labs_mark_is_not_ended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record naming a process with its real start time (copied from /proc by whoever wrote it) does not get it
    ended: only a process started with the lab's HAIRPIN_LAB is the lab's."""
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    theirs, other_lab, ours = (
        _sleeper(),
        _sleeper(identity.lab_env("hpabc124-")),
        _sleeper(identity.lab_env("hpabc123-")),
    )
    try:
        procs = (theirs, other_lab, ours)
        rec = LabRecord("hpabc123-", "seed", 2**22 + 7, 0.0, pids=[p.pid for p in procs],
                        starts={str(p.pid): identity.proc_start(p.pid) or 0 for p in procs})  # fmt: skip
        rec.save()
        assert [rec.owns_pid(p.pid) for p in procs] == [False, False, True]
        assert rec.remove() == [] and rec.strangers == [] and not rec.path.exists()
        assert ours.wait(timeout=5) == -signal.SIGTERM
        assert theirs.poll() is None and other_lab.poll() is None
    finally:
        for p in (theirs, other_lab, ours):
            p.kill()
            p.wait()


def test_down_and_clean_say_which_processes_they_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hairpin.cli.main import main

    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    stranger = _sleeper()
    try:
        monkeypatch.setattr(identity, "processes_in", lambda inodes: [stranger.pid])
        for cmd in (["down", "hpabc123"], ["clean"]):
            LabRecord("hpabc123-", "seed", 2**22 + 7, 0.0).save()  # a dead owner: stale
            with pytest.raises(SystemExit) as e:
                main(["lab", *cmd])
            assert e.value.code == 0
            assert capsys.readouterr().out == (
                "removed 0 namespaces\nleft 1 processes the lab did not start running in its namespaces (each "
                f"namespace ends with the last of them): {stranger.pid}\n"
            )
            assert stranger.poll() is None and labs() == []
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.parametrize("at", ["first", "last"])
def test_ctrl_c_at_the_builds_first_or_last_save_removes_the_lab(
    at: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record's first save (before anything is made) and its last (state up) were outside the removal's
    reach: Ctrl-C there left a record, or a whole lab, until the next run."""
    _as_root(monkeypatch, tmp_path)
    removed: list[str] = []
    saved: list[str] = []
    monkeypatch.setattr(build, "_build", lambda lab, servers: None)
    save = LabRecord.save

    def interrupted(self: LabRecord) -> None:
        saved.append(self.state)
        save(self)
        if (at == "first") == (len(saved) == 1):
            raise KeyboardInterrupt

    monkeypatch.setattr(LabRecord, "save", interrupted)
    monkeypatch.setattr(LabRecord, "remove", lambda self: removed.append(self.prefix) or [])
    with pytest.raises(KeyboardInterrupt):
        build.up(scenario.seed())
    assert saved == (["building"] if at == "first" else ["building", "up"]) and len(removed) == 1


def test_a_forked_copy_of_the_owner_removes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyroute2 forks a helper per NetNS; one that unwinds its copy of the stack must not remove the lab."""
    _as_root(monkeypatch, tmp_path)
    removed: list[str] = []
    monkeypatch.setattr(LabRecord, "remove", lambda self: removed.append(self.prefix) or [])
    real = os.getpid()

    def forked_then_interrupted(lab: build.Lab, servers: bool) -> None:
        monkeypatch.setattr(build.os, "getpid", lambda: real + 1)  # as the forked helper sees it: another pid
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "_build", forked_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        build.up(scenario.seed())
    lab = build.Lab(scenario.seed(), topology.build(scenario.seed()), LabRecord("hpabc123-", "seed", real, 0.0))
    assert lab.remove() == [] and removed == []


_FORKS = """
import os, signal, sys, time
from hairpin.cli import main as m

def forks(args):
    pid = os.fork()
    if pid == 0:  # what pyroute2's helper is: a copy of this process, stopped with SIGTERM (or Ctrl-C)
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
        time.sleep(5)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status))
    return 0

m._typer = forks
m.main(["version"])
"""


@pytest.mark.parametrize(("sig", "code"), [("SIGTERM", 143), ("SIGINT", 130), ("SIGHUP", 129)])
def test_a_signal_in_a_forked_copy_of_the_program_ends_the_copy_only(sig: str, code: int) -> None:
    res = subprocess.run([sys.executable, "-c", _FORKS, sig], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(build.__file__).parents[3])},
                         preexec_fn=hangup_default)  # fmt: skip
    assert (res.returncode, res.stdout, res.stderr) == (0, f"{code}\n", "")


def test_namespaces_are_opened_never_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyroute2's NetNS(name) makes a namespace under a name that is gone unless flags=0 (measured: a lab
    namespace removed from another shell came back, unrecorded)."""
    import pyroute2

    opened: list[tuple[Any, ...]] = []

    class Gone:
        def __init__(self, name: str, **kw: Any) -> None:
            opened.append((name, kw))
            raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(pyroute2, "NetNS", Gone)
    topo = topology.build(scenario.seed())
    with pytest.raises(FileNotFoundError):
        build._configure("hpabc123-node1", topo.namespace("node1"), "hpabc123-")
    assert opened == [("hpabc123-node1", {"flags": 0})]


def test_the_record_a_lab_writes_is_still_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    rec = LabRecord("hpabc123-", "seed", os.getpid(), time.time(), ["hpabc123-vpc", "hpabc123-node1"],
                    netns_ids={"hpabc123-vpc": [4026531840, 5, 4]})  # fmt: skip
    rec.save()
    assert json.loads(rec.path.read_text())["namespaces"] == ["hpabc123-vpc", "hpabc123-node1"]
    assert labs() == [rec]


def test_the_labs_servers_are_kept_and_reaped_by_remove(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's Popen is kept by the lab (dropped, its __del__ could swallow a Ctrl-C) and reaped by remove."""
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    rec = LabRecord("hpabc123-", "seed", os.getpid(), 0.0)
    rec.save()
    lab = build.Lab(scenario.seed(), topology.build(scenario.seed()), rec)
    pid = build._start(lab, ["sleep", "60"])
    assert [p.pid for p in lab.procs] == [pid] == rec.pids and identity.marked(pid, "hpabc123-")
    proc = lab.procs[0]
    assert lab.remove() == [] and lab.procs == []
    assert proc.returncode == -signal.SIGTERM and not rec.path.exists()  # ended by the removal, and reaped


def test_a_namespace_another_removal_deleted_meanwhile_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two removals of one stale lab at once: the second finds the first's work done, without a traceback."""
    from pyroute2 import netns

    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    names = ["hpabc123-vpc", "hpabc123-node1", "hpabc123-node2"]
    rec = LabRecord(
        "hpabc123-", "seed", 2**22 + 7, 0.0, names, netns_ids={n: [100 + i, 5, 4] for i, n in enumerate(names)}
    )
    rec.save()
    present = {n: (100 + i, 5) for i, n in enumerate(names)}
    monkeypatch.setattr(identity, "netns_identity", lambda name: present.get(name))
    monkeypatch.setattr(identity, "processes_in", lambda inodes: [])
    calls: list[str] = []

    def remove(name: str) -> None:
        calls.append(name)
        if name == "hpabc123-node2":  # the other removal unlinked it between the check and the unlink
            raise FileNotFoundError(2, "No such file or directory")
        del present[name]
        if name == "hpabc123-node1":
            del present["hpabc123-vpc"]  # and deleted this one before this removal got to it

    monkeypatch.setattr(netns, "remove", remove)
    assert rec.remove() == ["hpabc123-node1"]
    assert calls == ["hpabc123-node2", "hpabc123-node1"] and not rec.path.exists()


def test_every_command_the_build_runs_in_a_lab_namespace_is_marked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sysctl, iptables-restore, ss, the health checks: each carries HAIRPIN_LAB=<prefix> (found after a crash)."""
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    s = scenario.seed()
    lab = build.Lab(s, topology.build(s), LabRecord("hpabc123-", "seed", os.getpid(), 0.0),
                    {n.name: f"hpabc123-{n.name}" for n in topology.build(s).namespaces})  # fmt: skip
    seen: list[tuple[str, str | None]] = []

    def ran(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        seen.append((" ".join(argv[4:6]), (kw.get("env") or {}).get(identity.MARK)))
        return subprocess.CompletedProcess(argv, 0, "LISTEN 0 5 0.0.0.0:80\n", "")

    monkeypatch.setattr(build.subprocess, "run", ran)
    build._run(["ip", "netns", "exec", "hpabc123-vpc", "sysctl", "-w"], prefix="hpabc123-")
    build._wait_listening(lab)
    assert seen == [("sysctl -w", "hpabc123-")] + [("ss -Hltn", "hpabc123-")] * 3


def test_an_empty_mount_point_is_deleted_only_when_the_record_holds_that_very_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kill after a name's file is made and before its namespace is mounted on it leaves an empty file there
    (identity.create): clean deletes it when the record holds its device and inode number and it is still what the
    lab makes (regular, empty, mode 000, one link), and leaves every other file at a recorded name."""
    from hairpin.cli.main import main

    netns_dir = tmp_path / "netns"
    netns_dir.mkdir()
    monkeypatch.setattr(identity, "NETNS_DIR", netns_dir)
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path / "labs"))
    kinds = ("lab", "unrecorded", "another", "written", "readable", "linked")
    names = {k: f"hpabc123-{k}" for k in kinds}
    for kind, name in names.items():
        (netns_dir / name).write_text("data" if kind == "written" else "")
        (netns_dir / name).chmod(0o644 if kind == "readable" else 0)
    os.link(netns_dir / names["linked"], tmp_path / "second-link")
    (tmp_path / "another").touch()

    def ident(path: Path) -> list[int]:
        st = os.stat(path)
        return [st.st_dev, st.st_ino]

    files = {names[k]: ident(netns_dir / names[k]) for k in kinds if k not in ("unrecorded", "another")}
    files[names["another"]] = ident(tmp_path / "another")  # the record holds another file than the one there
    before = {n: os.stat(netns_dir / n) for n in names.values()}
    LabRecord("hpabc123-", "seed", 2**22 + 7, 0.0, list(names.values()), mount_points=files).save()
    with pytest.raises(SystemExit) as e:
        main(["lab", "clean"])
    assert (e.value.code, capsys.readouterr()) == (
        0,
        (
            "removed 0 namespaces\n"
            "removed 1 empty mount points the lab made (no namespace was mounted on them): hpabc123-lab\n",
            "",
        ),
    )
    assert sorted(os.listdir(netns_dir)) == sorted(n for k, n in names.items() if k != "lab") and labs() == []
    for name in os.listdir(netns_dir):  # left as they were
        assert os.stat(netns_dir / name) == before[name]


def _made(path: Path) -> list[int]:
    st = os.stat(path)
    return [st.st_dev, st.st_ino]


def test_a_names_mount_point_is_recorded_before_it_has_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The empty file a namespace is mounted on is made without a name, recorded, then named: the record holds the
    very file, which is what ``lab_mount_point`` recognises."""
    monkeypatch.setattr(identity, "NETNS_DIR", tmp_path)
    path = tmp_path / "hpabc123-vpc"
    seen: list[tuple[list[int], bool]] = []
    identity._mount_point(path, lambda file: seen.append((file, path.exists())))
    assert seen == [(_made(path), False)] and identity.lab_mount_point(path.name, _made(path))
    assert (path.stat().st_mode, path.stat().st_size, path.stat().st_nlink) == (0o100000, 0, 1)


def test_a_names_mount_point_never_takes_over_a_file_there(tmp_path: Path) -> None:
    path = tmp_path / "hpabc123-vpc"
    path.write_text("someone's")
    before, seen = os.stat(path), []
    with pytest.raises(FileExistsError):
        identity._mount_point(path, seen.append)
    assert os.stat(path) == before and path.read_text() == "someone's"
    assert len(seen) == 1 and seen[0] != _made(path)  # recorded: the unnamed file, never the one there


@pytest.mark.parametrize("lacks", ["O_TMPFILE", "linkat"])
def test_without_unnamed_files_a_mount_point_is_named_then_recorded(
    lacks: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system without O_TMPFILE, or a process that cannot link an unnamed file: made by name, recorded right
    after (the last record is of the named file)."""
    import errno

    if lacks == "O_TMPFILE":
        opened = os.open

        def no_tmpfile(path: Any, flags: int, mode: int = 0o777) -> int:
            if flags & os.O_TMPFILE == os.O_TMPFILE:
                raise OSError(errno.EOPNOTSUPP, "Operation not supported")
            return opened(path, flags, mode)

        monkeypatch.setattr(identity.os, "open", no_tmpfile)
    else:
        monkeypatch.setattr(identity, "_link", lambda fd, path: False)
    monkeypatch.setattr(identity, "NETNS_DIR", tmp_path)
    path = tmp_path / "hpabc123-vpc"
    seen: list[tuple[list[int], bool]] = []
    identity._mount_point(path, lambda file: seen.append((file, path.exists())))
    assert seen[-1] == (_made(path), True) and len(seen) == (1 if lacks == "O_TMPFILE" else 2)
    assert identity.lab_mount_point(path.name, _made(path))
