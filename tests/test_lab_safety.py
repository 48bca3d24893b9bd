"""The lab removes exactly what it made (root only): decoys with its names and pids are left alone, a killed
or terminated owner's lab is removed whole, processes in its namespaces end with it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import hangup_default, needs_root_and
from hairpin import scenario
from hairpin.backends.lab import LabRecord, clean, labs, up
from hairpin.backends.lab.identity import netns_identity, proc_start

pytestmark = [needs_root_and("ip", "iptables-restore"), pytest.mark.usefixtures("lab_dir")]


def _hairpin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          env=dict(os.environ), check=False)  # fmt: skip


def _running(pid: int, start: int | None) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return proc_start(pid) == start and text.rsplit(")", 1)[1].split()[0] != "Z"


def test_down_leaves_a_decoy_namespace_and_a_decoy_process_at_recorded_names_and_pids() -> None:
    """After a crash the kernel may give a recorded name or pid to something else: down proves each first."""
    lab = up(scenario.seed(), persistent=True)
    rec = lab.record
    decoy_ns, other = rec.namespaces[-1], f"{rec.prefix}decoy"  # a recorded name; a name under the prefix
    server = rec.pids[0]
    sleeper: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(["ip", "netns", "del", decoy_ns], check=True)
        for name in (decoy_ns, other):
            subprocess.run(["ip", "netns", "add", name], check=True)
        sleeper = subprocess.Popen(["ip", "netns", "exec", decoy_ns, "sleep", "300"], start_new_session=True)
        decoy = subprocess.Popen(["sleep", "300"], start_new_session=True)  # as if it had a recorded pid
        # the server's pid given to the decoy: in the record's pid list and as the key of its start time, and
        # nowhere else (a replace over the whole text also hit any namespace identity or start time that held
        # the pid's digits, and once left a recorded namespace neither removed nor said to be kept)
        saved = json.loads(rec.path.read_text())
        saved["pids"] = [decoy.pid if p == server else p for p in saved["pids"]]
        saved["starts"] = {str(decoy.pid) if k == str(server) else k: v for k, v in saved["starts"].items()}
        rec.path.write_text(json.dumps(saved, indent=1))
        res = _hairpin("lab", "down", rec.prefix.rstrip("-"))
        assert res.returncode == 0, res.stderr
        assert res.stdout.splitlines() == [
            f"removed 7 namespaces: {', '.join(reversed(rec.namespaces[:-1]))}",
            f"kept 1 namespaces with a recorded name that the lab did not make: {decoy_ns}",
        ]
        assert netns_identity(decoy_ns) is not None and netns_identity(other) is not None
        assert _running(decoy.pid, proc_start(decoy.pid)) and sleeper.poll() is None
        assert not any(netns_identity(n) for n in rec.namespaces[:-1]) and labs() == []
        assert not _running(server, rec.starts[str(server)])  # the real server, found in its namespace, ended
    finally:
        for p in (sleeper, locals().get("decoy")):
            if isinstance(p, subprocess.Popen):
                p.kill()
                p.wait()
        for name in (decoy_ns, other):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        lab.remove()


@pytest.mark.parametrize("planted", ["namespace", "empty file"])
def test_a_name_that_exists_is_never_taken_over(planted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A namespace, or an empty file such as a killed ``ip netns add`` leaves, at a name the lab is about to make:
    the build stops, and the removal that follows leaves it (the record holds another file for that name)."""
    from hairpin.backends.lab import build
    from hairpin.errors import LabError

    prefix = build.new_prefix()
    monkeypatch.setattr(build, "new_prefix", lambda: prefix)
    decoy = f"{prefix}netshoot"  # the second namespace the seed's lab makes
    if planted == "namespace":
        subprocess.run(["ip", "netns", "add", decoy], check=True)
    else:
        os.close(os.open(f"/run/netns/{decoy}", os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    try:
        before = os.stat(f"/run/netns/{decoy}")
        with pytest.raises(LabError) as e:
            up(scenario.seed(), servers=False)
        assert str(e.value) == f"network namespace {decoy} exists already; the lab left it alone"
        assert os.stat(f"/run/netns/{decoy}") == before
        assert netns_identity(f"{prefix}vpc") is None and labs() == []
    finally:
        subprocess.run(["ip", "netns", "del", decoy], check=False, capture_output=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/run/netns/{decoy}")


_KILLED_BEFORE_THE_MOUNT = """
import ctypes, os, signal
from hairpin import scenario
from hairpin.backends.lab import identity, up

libc = ctypes.CDLL


class KilledBeforeTheMount:  # libc, but the process is killed instead of mounting the second namespace on its name
    def __init__(self, *args, **kw):
        self.libc = libc(*args, **kw)

    def __getattr__(self, name):
        return getattr(self.libc, name)

    def mount(self, source, target, fs, flags, data):
        if target.endswith(b"-netshoot") and flags == identity.MS_BIND:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.libc.mount(source, target, fs, flags, data)


ctypes.CDLL = KilledBeforeTheMount
up(scenario.seed(), servers=False)
"""


def test_a_kill_between_a_names_file_and_its_mount_leaves_a_file_clean_removes() -> None:
    """SIGKILL after the file a name is mounted on has its name, before the mount: an empty file is left at the
    name (``ip netns list`` shows it), and the record holds that very file, so ``lab clean`` deletes it."""
    proc = subprocess.run([sys.executable, "-c", _KILLED_BEFORE_THE_MOUNT], env=dict(os.environ), check=False)
    assert proc.returncode == -signal.SIGKILL
    (rec,) = labs()
    name = f"{rec.prefix}netshoot"
    path = Path("/run/netns") / name
    try:
        st = path.stat()
        assert rec.namespaces == [f"{rec.prefix}vpc", name] and netns_identity(name) is None
        assert stat.S_ISREG(st.st_mode) and st.st_size == 0 and [st.st_dev, st.st_ino] == rec.mount_points[name]
        res = _hairpin("lab", "clean")
        assert (res.returncode, res.stdout, res.stderr) == (
            0,
            (
                f"removed 1 namespaces: {rec.prefix}vpc\n"
                f"removed 1 empty mount points the lab made (no namespace was mounted on them): {name}\n"
            ),
            "",
        )
        assert not os.path.lexists(path) and netns_identity(f"{rec.prefix}vpc") is None and labs() == []
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        clean(stale_only=False)  # every lab in the test's own directory, up or not


def _run_until_client(tmp_path: Path) -> tuple[subprocess.Popen[str], list[str], list[tuple[int, int | None]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hairpin.cli.main", "lab", "run", "--connections", "40", "--connect-timeout", "20",
         "--seed", "1", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        recs = labs()
        if recs and len(recs[0].pids) == 4:  # three servers and the client: connections under way
            return proc, recs[0].namespaces, [(p, recs[0].starts.get(str(p))) for p in recs[0].pids]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the lab's client never started: {proc.communicate()}")


def test_sigterm_to_lab_run_removes_its_lab_and_exits_143(tmp_path: Path) -> None:
    proc, namespaces, pids = _run_until_client(tmp_path)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (143, "", "hairpin: terminated\n")
    assert labs() == [] and not any(netns_identity(n) for n in namespaces)
    assert not any(_running(p, s) for p, s in pids)


def test_sigkill_to_lab_run_leaves_a_stale_lab_that_clean_removes_whole(tmp_path: Path) -> None:
    """The owner killed and not yet reaped (a zombie) is dead: status says stale, clean removes the lab."""
    proc, namespaces, pids = _run_until_client(tmp_path)
    proc.kill()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        (rec,) = labs()
        status = _hairpin("lab", "status")
        assert status.stdout == (f"{rec.prefix.rstrip('-')}  stale    scenario=seed fix=- owner={proc.pid} "
                                 "namespaces=8 processes=4\n")  # fmt: skip
        assert all(_running(p, s) for p, s in pids[:3])  # the servers (the client may die of its closed pipe)
        removed = clean()
        assert sorted(removed) == sorted(namespaces) and labs() == []
        assert not any(netns_identity(n) for n in namespaces) and not any(_running(p, s) for p, s in pids)
    finally:
        proc.communicate()
        if labs():
            clean(stale_only=False)  # every lab in the test's own directory, up or not


def test_a_namespace_removed_during_the_build_is_not_made_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """``hairpin lab down`` from another shell while a lab is built: pyroute2's NetNS(name) used to make a new,
    unrecorded namespace under the vanished name.  Now the build stops with one line and nothing is left."""
    from hairpin.backends.lab import build
    from hairpin.errors import LabError

    configure = build._configure
    gone: list[str] = []

    def meanwhile(real: str, n: object, prefix: str = "") -> None:
        if not gone:  # before the first namespace is configured, the next one is removed by hand
            gone.append(real.replace("vpc", "netshoot"))
            subprocess.run(["ip", "netns", "del", gone[0]], check=True)
        configure(real, n, prefix)  # type: ignore[arg-type]

    monkeypatch.setattr(build, "_configure", meanwhile)
    with pytest.raises(LabError) as e:
        up(scenario.seed(), servers=False)
    assert str(e.value).startswith(f"{gone[0]}: ") and "No such file or directory" in str(e.value)
    prefix = gone[0][: -len("netshoot")]
    assert [n for n in os.listdir("/run/netns") if n.startswith(prefix)] == [] and labs() == []


def test_a_namespace_replaced_between_the_two_proofs_is_kept_and_said_to_be(monkeypatch: pytest.MonkeyPatch) -> None:
    """Removal proves each namespace the lab's twice: when it plans and just before it deletes.  One replaced by
    another namespace in between (someone's ``ip netns del`` then ``add`` of that name) is left and named in
    ``kept``; it used to be left out of both lists, so a namespace that existed went unreported."""
    from hairpin.backends.lab.record import LabRecord

    lab = up(scenario.seed(), servers=False)
    rec = lab.record
    victim = lab.ns("netshoot")
    owns = LabRecord.owns_netns
    asked: list[str] = []

    def swapped_before_the_second_proof(self: LabRecord, name: str) -> bool:
        asked.append(name)
        if name == victim and asked.count(name) == 2:
            subprocess.run(["ip", "netns", "del", name], check=True)
            subprocess.run(["ip", "netns", "add", name], check=True)
        return owns(self, name)

    monkeypatch.setattr(LabRecord, "owns_netns", swapped_before_the_second_proof)
    try:
        removed = lab.remove()
        assert removed == [n for n in reversed(rec.namespaces) if n != victim]
        assert rec.kept == [victim] and asked.count(victim) == 2
        assert netns_identity(victim) is not None and labs() == []
        assert not any(netns_identity(n) for n in rec.namespaces if n != victim)
    finally:
        subprocess.run(["ip", "netns", "del", victim], check=False, capture_output=True)


def test_down_leaves_a_process_it_did_not_start_in_its_namespace() -> None:
    """Someone's shell in a namespace of a ``lab up`` lab is theirs: down ends what the lab started (recorded,
    or marked HAIRPIN_LAB=<prefix> and not recorded yet when its owner died), and leaves that one running."""
    from hairpin.backends.lab.identity import lab_env

    lab = up(scenario.seed(), persistent=True, servers=False)
    rec = lab.record
    node1 = lab.ns("node1")
    theirs = subprocess.Popen(["ip", "netns", "exec", node1, "sleep", "300"], start_new_session=True)
    ours = subprocess.Popen(["ip", "netns", "exec", node1, "sleep", "300"], start_new_session=True,
                            env=lab_env(rec.prefix))  # fmt: skip
    try:
        time.sleep(0.3)  # both exec'd into sleep in node1
        res = _hairpin("lab", "down", rec.prefix.rstrip("-"))
        assert res.returncode == 0, res.stderr
        assert res.stdout.splitlines() == [
            f"removed 8 namespaces: {', '.join(reversed(rec.namespaces))}",
            "left 1 processes the lab did not start running in its namespaces (each namespace ends with the last "
            f"of them): {theirs.pid}",
        ]
        assert ours.wait(timeout=10) == -signal.SIGTERM and theirs.poll() is None
        assert not any(netns_identity(n) for n in rec.namespaces) and labs() == []
    finally:
        for p in (theirs, ours):
            p.kill()
            p.wait()


def test_a_namespace_is_recorded_with_its_whole_identity_before_it_has_its_name() -> None:
    """The inode and its ctime are in the record before the name exists (the nsfs inode held open meanwhile), so
    a stale record never has to fall back on the inode number alone, which the kernel hands out again."""
    from hairpin.backends.lab import identity

    name = f"hp{os.getpid() % 0xFFFFFF:06x}-identity"
    seen: list[tuple[int, int, list[int], bool]] = []
    try:
        got = identity.create(
            name, lambda inode, ctime, file: seen.append((inode, ctime, file, os.path.lexists(f"/run/netns/{name}")))
        )
        ((inode, ctime, file, existed),) = seen
        assert (inode, ctime, existed) == (got[0], got[1], False) and netns_identity(name) == got and got[1] > 0
        # the file the name is mounted on: on /run/netns's own file system, not the namespace's nsfs inode
        assert file[0] == os.stat("/run/netns").st_dev and file != [os.stat(f"/run/netns/{name}").st_dev, got[0]]
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


_HANGS_UP_MID_BUILD = """
import time
from hairpin.backends.lab import build
from hairpin.cli import main

waited = build._wait_listening


def waits(lab, timeout=10.0):  # the servers listen: the build stops here, as if slow, until the signal
    waited(lab, timeout)
    print("building", flush=True)
    time.sleep(60)


build._wait_listening = waits
main.main(["lab", "up"])
"""


class _Terminal:
    """The program run on a pseudo-terminal of its own (its controlling terminal; SIGHUP's default action), so that
    closing the terminal's other side hangs it up as a closed window or a dropped ssh session does."""

    def __init__(self, args: list[str]) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, env=dict(os.environ), pass_fds=(slave,),
                                     preexec_fn=lambda: (hangup_default(), os.login_tty(slave)))  # fmt: skip
        os.close(slave)

    def hang_up(self, rec: LabRecord, pids: list[tuple[int, int | None]]) -> None:
        """Close the terminal: the program ends with 129, and its lab is gone, names and processes."""
        os.close(self.master)
        self.master = -1
        assert self.proc.wait(timeout=60) == 129
        assert labs() == [] and not any(os.path.lexists(f"/run/netns/{n}") for n in rec.namespaces)
        assert not any(_running(p, s) for p, s in pids)

    def close(self) -> None:
        """Whatever the test's outcome: the terminal closed, the program ended, every lab of the test's own
        directory removed, up or not."""
        if self.master >= 0:
            os.close(self.master)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        clean(stale_only=False)


def test_a_closed_terminal_removes_the_lab_being_built() -> None:
    """The program's controlling terminal goes away (the terminal window closed, ssh dropped: the kernel hangs it
    up and sends SIGHUP) while ``lab up`` builds: the lab is removed, with nowhere to say so (EIO), exit 129."""
    term = _Terminal([sys.executable, "-c", _HANGS_UP_MID_BUILD])
    try:
        seen = b""
        while b"building" not in seen:
            seen += os.read(term.master, 1024)
        (rec,) = labs()
        pids: list[tuple[int, int | None]] = [(p, rec.starts[str(p)]) for p in rec.pids]
        assert len(rec.namespaces) == 8 and all(netns_identity(n) for n in rec.namespaces) and len(pids) == 3
        term.hang_up(rec, pids)
    finally:
        term.close()


def test_sighup_mid_build_removes_exactly_its_lab_and_exits_129() -> None:
    """A closed terminal (SIGHUP to the program's process group) while ``lab up`` builds: like Ctrl-C, what was
    made is removed before the program ends; another lab's namespace stays."""
    from hairpin.backends.lab.build import new_prefix

    decoy = f"{new_prefix()}decoy"
    subprocess.run(["ip", "netns", "add", decoy], check=True)
    proc: subprocess.Popen[str] | None = None
    try:
        ident = netns_identity(decoy)
        proc = subprocess.Popen([sys.executable, "-c", _HANGS_UP_MID_BUILD], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=dict(os.environ), start_new_session=True,
                                preexec_fn=hangup_default)  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == "building\n"
        (rec,) = labs()
        pids = [(p, rec.starts[str(p)]) for p in rec.pids]
        assert rec.state == "building" and len(rec.namespaces) == 8 and len(pids) == 3
        assert all(netns_identity(n) for n in rec.namespaces) and all(_running(p, s) for p, s in pids)
        os.killpg(proc.pid, signal.SIGHUP)
        out, err = proc.communicate(timeout=60)
        assert (proc.returncode, out, err) == (129, "", "hairpin: hung up\n")
        assert labs() == [] and not any(os.path.lexists(f"/run/netns/{n}") for n in rec.namespaces)
        assert not any(_running(p, s) for p, s in pids)
        assert netns_identity(decoy) == ident
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        subprocess.run(["ip", "netns", "del", decoy], check=False, capture_output=True)
        clean(stale_only=False)  # every lab in the test's own directory, up or not


def test_a_closed_terminal_ends_lab_run_and_its_progress_bar_with_129() -> None:
    """``lab run`` on a terminal draws a progress bar; hung up while connecting, the bar's last write fails (EIO)
    as the program unwinds: the lab is removed all the same and the exit code is still 129, not 1."""
    import select

    term = _Terminal([sys.executable, "-m", "hairpin.cli.main", "lab", "run", "--connections", "40",
                      "--connect-timeout", "20"])  # fmt: skip
    try:
        deadline, recs = time.monotonic() + 120, []
        while time.monotonic() < deadline and not (recs and len(recs[0].pids) == 4):  # three servers and the client
            if select.select([term.master], [], [], 0.05)[0]:
                os.read(term.master, 4096)  # the terminal shows what the program draws
            recs = labs()
        (rec,) = recs
        pids = [(p, rec.starts.get(str(p))) for p in rec.pids]
        time.sleep(0.5)  # connections under way, the bar drawn
        term.hang_up(rec, pids)
    finally:
        term.close()
