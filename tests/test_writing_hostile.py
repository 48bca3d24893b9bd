"""Every file hairpin writes, against hostile set-ups: links and files another user planted in a sticky
world-writable directory (``/tmp``), read-only files, owners and modes, block devices, two outputs naming one
file, an output naming an input, a directory output whose sub-directories or files are links or FIFOs.

The set-ups with another user need root (to give a file to ``nobody``); as root they are the attacks that a
rename-based writer would otherwise let through where ``>`` in a shell is stopped by the kernel."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import hangup_default
from hairpin import writing
from hairpin.errors import InputError

#: this checkout's sources first, whatever the subprocess's cwd
PATH = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH")) if p)
DATA = Path(__file__).parent / "data"
DUMP = DATA / "check" / "seed-dump.yaml"
PCAP = DATA / "pcap" / "lab-node1.pcap"
NOBODY = 65534
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="gives files to another user (needs root)")


@pytest.fixture(scope="module")
def nobody_runs() -> None:
    """Skip unless ``nobody`` can run this Python on these sources (``hairpin --version`` as the tests run it): a
    virtualenv or checkout under a directory only root may enter (a CI runner's private temporary directory,
    /root) cannot be run as another user."""
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        os.chmod(d, 0o1777)
        r = hairpin("--version", cwd=Path(d), user=NOBODY)
    if r.returncode != 0:
        pytest.skip(f"nobody cannot run {sys.executable} on these sources: {(r.stderr.strip().splitlines() or [''])[-1]}")


def hairpin(*args: str, cwd: Path | None = None, user: int | None = None) -> subprocess.CompletedProcess[str]:
    as_user = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user is not None else []
    return subprocess.run([*as_user, sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "COLUMNS": "160", "PYTHONPATH": PATH})  # fmt: skip


def listing(directory: Path) -> list[tuple[str, str]]:
    """Every entry under ``directory``: (relative name, kind and target/size/owner/mode)."""
    out = []
    for p in sorted(directory.rglob("*")):
        st = p.lstat()
        kind = f"-> {os.readlink(p)}" if p.is_symlink() else f"{stat.filemode(st.st_mode)} {st.st_uid} {st.st_size}"
        out.append((str(p.relative_to(directory)), kind))
    return out


# ------------------------------------------------------------------------------ another user's plants


@root_only
def test_a_link_another_user_planted_in_a_sticky_directory_is_not_followed(shared: Path) -> None:
    victim = shared / "victim"
    victim.write_text("root's secret")
    victim.chmod(0o600)
    link = shared / "report.txt"
    link.symlink_to(victim)
    os.lchown(link, NOBODY, NOBODY)
    before = listing(shared)
    r = hairpin("check", str(DUMP), "-o", str(link))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (f"hairpin: error: {link}: cannot write: a symbolic link owned by another user in a sticky "
                        "world-writable directory: not followed\n")  # fmt: skip
    assert listing(shared) == before and victim.read_text() == "root's secret"


@root_only
def test_a_link_of_the_directory_owner_or_ones_own_is_written_through(shared: Path) -> None:
    real = shared / "real.txt"
    real.write_text("old")
    link = shared / "link.txt"
    link.symlink_to(real)  # root's: the directory's owner and the writer
    writing.write_output(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


@root_only
def test_another_users_file_in_a_sticky_directory_is_not_replaced_by_root(shared: Path) -> None:
    f = shared / "r.txt"
    f.write_text("nobody's")
    os.chown(f, NOBODY, NOBODY)
    f.chmod(0o4777)
    before = listing(shared)
    r = hairpin("check", str(DUMP), "-o", str(f))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"hairpin: error: {f}: cannot write: owned by another user in the sticky directory {shared}\n"
    assert listing(shared) == before and f.read_text() == "nobody's"


@root_only
def test_a_user_is_told_before_work_that_roots_file_in_a_sticky_directory_cannot_be_replaced(
    shared: Path, nobody_runs: None
) -> None:
    f = shared / "r.txt"
    f.write_text("root's")
    f.chmod(0o666)
    r = hairpin("reproduce", "--connections", "5", "--no-fixes", "-o", str(f), user=NOBODY)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"hairpin: error: {f}: cannot write: owned by another user in the sticky directory {shared}\n"
    assert f.read_text() == "root's" and [p.name for p in shared.iterdir()] == ["r.txt"]


@root_only
def test_a_read_only_file_is_refused_as_the_shell_refuses_it(shared: Path, nobody_runs: None) -> None:
    d = shared / "mine"
    d.mkdir()
    os.chown(d, NOBODY, NOBODY)
    f = d / "out.txt"
    f.write_text("keep me")
    os.chown(f, NOBODY, NOBODY)
    f.chmod(0o444)
    r = hairpin("check", str(DUMP), "-o", str(f), user=NOBODY)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"hairpin: error: {f}: cannot write: permission denied\n"
    assert f.read_text() == "keep me" and [p.name for p in d.iterdir()] == ["out.txt"]


# ------------------------------------------------------------------------------ owner and mode


@root_only
def test_root_keeps_the_owner_group_and_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    f = tmp_path / "out.txt"
    f.write_text("old")
    os.chown(f, NOBODY, NOBODY)
    f.chmod(0o640)
    writing.write_output(f, "new")
    st = f.stat()
    assert (f.read_text(), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == ("new", NOBODY, NOBODY, 0o640)


def test_set_id_and_sticky_bits_are_not_carried_to_the_new_file(tmp_path: Path) -> None:
    f = tmp_path / "out.txt"
    f.write_text("old")
    f.chmod(0o6755)
    writing.write_output(f, "new")
    assert stat.S_IMODE(f.stat().st_mode) == 0o755


def test_the_mode_is_set_on_the_open_file_never_through_a_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def by_name(*args: object, **kwargs: object) -> None:
        raise AssertionError("chmod through a name: a link swapped in at the temporary name would be followed")

    f = tmp_path / "out.txt"
    f.write_text("old")
    f.chmod(0o604)
    monkeypatch.setattr(writing.os, "chmod", by_name)
    writing.write_output(f, "new")
    assert (f.read_text(), stat.S_IMODE(f.stat().st_mode)) == ("new", 0o604)


def test_an_interrupted_write_leaves_no_temporary_file_and_the_old_content(tmp_path: Path) -> None:
    f = tmp_path / "out.pcapng"
    f.write_bytes(b"old capture")
    with pytest.raises(KeyboardInterrupt), writing.open_output(f, binary=True) as fh:
        fh.write(b"x" * 1_000_000)
        raise KeyboardInterrupt  # Ctrl-C; SIGTERM and SIGHUP unwind the same way (hairpin.cli.main)
    assert [p.name for p in tmp_path.iterdir()] == ["out.pcapng"] and f.read_bytes() == b"old capture"


# ------------------------------------------------------------------------------ special files


@root_only
def test_a_block_device_is_refused_even_under_dev(tmp_path: Path) -> None:
    dev = tmp_path / "blk"
    os.mknod(dev, 0o600 | stat.S_IFBLK, os.makedev(7, 0))
    for path in (str(dev), "/dev/loop0") if os.path.exists("/dev/loop0") else (str(dev),):
        with pytest.raises(InputError) as exc:
            writing.check_output(path)
        assert str(exc.value) == f"{path}: cannot write: not a regular file, FIFO or character device"


def test_a_regular_file_under_dev_is_written_whole_and_descriptors_in_place() -> None:
    assert not writing._is_passthrough("/dev/shm/report.html")
    assert writing._is_passthrough("/dev/stdout") and writing._is_passthrough("/dev/fd/1")
    assert writing._is_passthrough("/proc/self/fd/1") and writing._is_passthrough("/dev/null")


def test_a_full_device_is_one_line(tmp_path: Path) -> None:
    r = hairpin("check", str(DUMP), "-o", "/dev/full")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "hairpin: error: /dev/full: cannot write: No space left on device\n"


# ------------------------------------------------------------------------------ one file named twice


def test_two_outputs_naming_one_file_are_refused_before_work(tmp_path: Path) -> None:
    r = hairpin("reproduce", "--connections", "5", "--no-fixes", "-o", "same.html", "--html", "same.html", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "hairpin: error: same.html: cannot write: given to both --html and --output\n"
    assert list(tmp_path.iterdir()) == []


def test_two_names_of_one_existing_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.svg").write_text("old")
    (tmp_path / "b.svg").symlink_to("a.svg")
    r = hairpin("reproduce", "--connections", "5", "--no-fixes", "--svg", "a.svg", "--pcap", "b.svg", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == "hairpin: error: b.svg: cannot write: given to both --svg and --pcap\n"
    assert (tmp_path / "a.svg").read_text() == "old"


def test_a_capture_is_not_replaced_by_its_own_report(tmp_path: Path) -> None:
    cap = tmp_path / "x.pcap"
    shutil.copy(PCAP, cap)
    r = hairpin("pcap", "x.pcap", "-o", "x.pcap", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("hairpin: error: x.pcap: cannot write: --output names an input file; it would be replaced "
                        "by the report\n")  # fmt: skip
    assert cap.read_bytes() == PCAP.read_bytes() and [p.name for p in tmp_path.iterdir()] == ["x.pcap"]


def test_a_dump_is_not_replaced_by_the_scenario_built_from_it(tmp_path: Path) -> None:
    dump = tmp_path / "dump.yaml"
    shutil.copy(DUMP, dump)
    r = hairpin("scenario", "from-cluster", "--service", "nginx-demo/service-nginx-demo", "dump.yaml",
                "-o", "./dump.yaml", cwd=tmp_path)  # fmt: skip
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("hairpin: error: dump.yaml: cannot write: --output names an input file; it would be "
                        "replaced by the report\n")  # fmt: skip
    assert dump.read_bytes() == DUMP.read_bytes()


# ------------------------------------------------------------------------------ scenario nodes DIR


def test_scenario_nodes_does_not_follow_a_node_directory_link_out_of_dir(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "nodes", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "node2").symlink_to(elsewhere)
    before = listing(tmp_path)
    r = hairpin("scenario", "nodes", "seed", str(out))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"hairpin: error: {out}/node2: cannot write: not a directory (a symbolic link or a file)\n"
    assert listing(tmp_path) == before  # node1 not written either: every name is checked first


def test_scenario_nodes_replaces_a_link_or_fifo_planted_at_a_file_name(tmp_path: Path) -> None:
    out = tmp_path / "nodes"
    assert hairpin("scenario", "nodes", "seed", str(out)).returncode == 0
    victim = tmp_path / "victim"
    victim.write_text("do not touch")
    route = out / "node1" / "ip-route"
    expected = route.read_text()
    route.unlink()
    route.symlink_to(victim)
    rule = out / "node2" / "ip-rule"
    rule.unlink()
    os.mkfifo(rule)  # written to in place, this would wait for a reader for ever
    r = hairpin("scenario", "nodes", "seed", str(out))
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "do not touch"
    assert not route.is_symlink() and route.read_text() == expected
    assert stat.S_ISREG(rule.lstat().st_mode)
    assert [p.name for p in out.rglob(".*")] == []


def test_scenario_nodes_a_directory_at_a_file_name_is_refused_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "nodes"
    (out / "node3" / "ip-addr").mkdir(parents=True)
    r = hairpin("scenario", "nodes", "seed", str(out))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"hairpin: error: {out}/node3/ip-addr: cannot write: is a directory\n"
    assert [p.relative_to(out).as_posix() for p in sorted(out.rglob("*"))] == ["node3", "node3/ip-addr"]


# ------------------------------------------------------------------------------ a signal in the middle of a write


def unnamed_files(directory: Path) -> bool:
    """Whether ``directory``'s file system gives unnamed files (``O_TMPFILE``, ``open(2)``)."""
    try:
        os.close(os.open(directory, os.O_TMPFILE | os.O_WRONLY, 0o600))
    except (OSError, AttributeError):
        return False
    return True


def half_written(pid: int, directory: Path, name: str) -> bool:
    """Process ``pid`` holds the file replacing ``directory/name`` open, not yet named: with no name at all where
    the file system gives unnamed files (``/proc/PID/fd`` shows ``DIR/#INODE (deleted)``, ``proc(5)``), else
    under one temporary name beside ``name``."""
    named = [p.name for p in directory.iterdir() if p.name.startswith(f".{name}.hairpin-")]
    if not unnamed_files(directory):
        return len(named) == 1
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            held.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed meanwhile
            continue
    return named == [] and len([t for t in held if t.startswith(f"{directory}/#") and t.endswith(" (deleted)")]) == 1


#: the CLI, with the write of its report held half-way (after the data, before fsync) until a signal comes
_HELD = """
import os, sys, time
from hairpin import writing
from hairpin.cli.main import entry

def held(fd):
    sys.stderr.write("held\\n"); sys.stderr.flush()
    time.sleep(60)

writing.os.fsync = held
sys.argv = ["hairpin", *sys.argv[1:]]
entry()
"""


@pytest.mark.parametrize(("signum", "code", "line"), [(signal.SIGTERM, 143, "terminated"),
                                                     (signal.SIGINT, 130, "interrupted"),
                                                     (signal.SIGHUP, 129, "hung up")])  # fmt: skip
def test_a_signal_half_way_through_a_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, signum: int,
                                                                              code: int, line: str) -> None:  # fmt: skip
    out = tmp_path / "run.pcapng"
    out.write_bytes(b"old capture")
    proc = subprocess.Popen([sys.executable, "-c", _HELD, "reproduce", "--connections", "200", "--no-fixes",
                             "--pcap", str(out), "-o", os.devnull], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": PATH}, preexec_fn=hangup_default)  # fmt: skip
    assert proc.stderr is not None
    assert proc.stderr.readline() == "held\n"
    assert half_written(proc.pid, tmp_path, "run.pcapng")
    proc.send_signal(signum)
    rest = proc.stderr.read()
    assert (proc.wait(timeout=30), rest) == (code, f"hairpin: {line}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["run.pcapng"] and out.read_bytes() == b"old capture"


def test_kill_9_half_way_through_a_write_leaves_the_old_file_and_nothing_named(tmp_path: Path) -> None:
    """SIGKILL runs no clean-up: the file being written is unnamed until it is whole (``O_TMPFILE``), so the
    kernel frees it with the process.  Without unnamed files, one ``.NAME.hairpin-...`` file is left."""
    out = tmp_path / "run.pcapng"
    out.write_bytes(b"old capture")
    proc = subprocess.Popen([sys.executable, "-c", _HELD, "reproduce", "--connections", "200", "--no-fixes",
                             "--pcap", str(out), "-o", os.devnull], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": PATH})  # fmt: skip
    assert proc.stderr is not None
    assert proc.stderr.readline() == "held\n"
    assert half_written(proc.pid, tmp_path, "run.pcapng")
    proc.kill()
    assert (proc.wait(timeout=30), proc.stderr.read()) == (-signal.SIGKILL, "")
    left = sorted(p.name for p in tmp_path.iterdir())
    if unnamed_files(tmp_path):
        assert left == ["run.pcapng"]
    else:
        assert left[0].startswith(".run.pcapng.hairpin-") and left[1:] == ["run.pcapng"]
    assert out.read_bytes() == b"old capture"


@root_only
def test_a_file_planted_at_one_of_hairpins_own_names_gives_it_neither_owner_nor_mode(tmp_path: Path) -> None:
    planted = tmp_path / "lab.json"
    planted.write_text("{}")
    os.chown(planted, NOBODY, NOBODY)
    planted.chmod(0o666)  # world-writable: taken over, another user could edit what root reads back
    old = os.umask(0o022)
    try:
        writing.write_output(planted, '{"prefix": "hp"}', links=False)
    finally:
        os.umask(old)
    st = planted.stat()
    assert (planted.read_text(), st.st_uid, stat.S_IMODE(st.st_mode)) == ('{"prefix": "hp"}', 0, 0o644)


@pytest.mark.parametrize(("umask", "mode"), [(0o000, 0o664), (0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_follows_the_umask_but_is_never_writable_by_others(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        writing.write_output(tmp_path / "report.txt", "cluster data\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.txt").stat().st_mode) == mode


def test_an_existing_world_writable_file_keeps_its_mode(tmp_path: Path) -> None:
    f = tmp_path / "shared.txt"
    f.write_text("old")
    f.chmod(0o666)  # the user's own choice for this file
    writing.write_output(f, "new")
    assert stat.S_IMODE(f.stat().st_mode) == 0o666


# ------------------------------------------------------------------------------ directory outputs themselves


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "file", "cannot write: not a directory"),
        (lambda d: d / "missing" / "out", "cannot write: no such directory: {d}/missing"),
        (lambda d: "", "cannot write: empty directory name"),
    ],
)
def test_a_directory_output_is_checked_before_work(tmp_path: Path, make: object, message: str) -> None:
    assert callable(make)
    (tmp_path / "file").write_text("a file")
    path = make(tmp_path)
    with pytest.raises(InputError) as exc:
        writing.check_directory(path)
    assert str(exc.value) == (f"{path}: " if path else "") + message.format(d=tmp_path)
    writing.check_directory(tmp_path)  # exists
    writing.check_directory(tmp_path / "new")  # can be created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@root_only
def test_scenario_nodes_into_a_directory_link_another_user_planted_writes_nothing(shared: Path) -> None:
    theirs = shared / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    link = shared / "nodes"
    link.symlink_to(theirs)
    os.lchown(link, NOBODY, NOBODY)
    r = hairpin("scenario", "nodes", "seed", str(link))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (f"hairpin: error: {link}: cannot write: a symbolic link owned by another user in a sticky "
                        "world-writable directory: not followed\n")  # fmt: skip
    assert list(theirs.iterdir()) == []


def test_scenario_nodes_onto_a_file_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "nodes"
    f.write_text("a file")
    r = hairpin("scenario", "nodes", "seed", str(f))
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"hairpin: error: {f}: cannot write: not a directory\n")
    assert f.read_text() == "a file"


def test_scenario_nodes_refuses_a_node_name_that_leaves_dir(tmp_path: Path) -> None:
    seed = (Path(__file__).resolve().parents[1] / "src" / "hairpin" / "scenarios" / "seed.yaml").read_text()
    evil = tmp_path / "evil.yaml"
    evil.write_text(seed.replace("name: node1,", "name: ../esc,").replace("node: node1,", "node: ../esc,"))
    out = tmp_path / "out"
    out.mkdir()
    r = hairpin("scenario", "nodes", str(evil), str(out / "sub"))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"hairpin: error: {evil}: node name '../esc' cannot be a directory name in {out}/sub\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.yaml", "out"]
