"""``hairpin check`` run as a program leaves its objects to the process's end (hairpin.cli.LEFT_TO_EXIT): the
report is written whole, stdout and stderr flushed, the exit code kept; called in-process, nothing is left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import hangup_default
from hairpin import cli
from hairpin.cli.main import main

SRC = str(Path(__file__).resolve().parents[1] / "src")

SERVICE = """- apiVersion: v1
  kind: Service
  metadata:
    name: lb{i}
    namespace: default
    annotations:
      service.beta.kubernetes.io/aws-load-balancer-type: nlb
  spec:
    type: LoadBalancer
    selector:
      app: web
    ports:
    - port: 80
      nodePort: {port}
"""


def _dump(tmp_path: Path, services: int) -> Path:
    p = tmp_path / "dump.yaml"
    items = "".join(SERVICE.format(i=i, port=30000 + i) for i in range(services))
    p.write_text("apiVersion: v1\nitems:\n" + items + "kind: List\nmetadata:\n  resourceVersion: ''\n")
    return p


def _program(args: list[str]) -> subprocess.CompletedProcess[str]:
    # an atexit hook tells whether the interpreter ended the usual way
    code = ("import atexit, sys; atexit.register(lambda: print('atexit ran', file=sys.stderr)); "
            "from hairpin.cli.main import entry; sys.argv = ['hairpin', *sys.argv[1:]]; entry()")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False)


def test_in_process_the_objects_are_freed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = _dump(tmp_path, 3)
    with pytest.raises(SystemExit) as exc:
        main(["check", str(dump), "--format", "json"])
    assert exc.value.code in (0, 1)
    assert cli.LEFT_TO_EXIT == []
    assert len(json.loads(capsys.readouterr().out)["services"]) == 3


@pytest.mark.parametrize("fmt", ["json", "sarif", "text"])
def test_as_a_program_the_report_is_whole_and_the_exit_is_the_operating_systems(
    tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = _dump(tmp_path, 400)  # a report of a hundred kB and more through a pipe
    with pytest.raises(SystemExit) as exc:
        main(["check", str(dump), "--format", fmt])
    want = capsys.readouterr().out
    got = _program(["check", str(dump), "--format", fmt])
    assert got.returncode == exc.value.code
    assert "atexit ran" not in got.stderr  # os._exit: nothing freed one by one
    if fmt != "text":
        assert got.stdout == want and len(want) > (100_000 if fmt == "json" else 1_000)
    else:  # (rich lays the table out for the terminal it sees)
        assert got.stdout.endswith("\n") and len(got.stdout) > 10_000


def test_as_a_program_bad_input_still_ends_the_usual_way(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Service\nmetadata: [\n")
    got = _program(["check", str(bad)])
    assert got.returncode == 2
    assert got.stderr.splitlines()[0].startswith(f"hairpin: error: {bad}:")
    assert "atexit ran" in got.stderr


def _closed_pipe(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``hairpin ARGS`` as a program whose stdout is a pipe nobody reads any more (``| head`` gone)."""
    r, w = os.pipe()
    os.close(r)
    env = {**os.environ, "PYTHONPATH": SRC}
    try:
        cmd = [sys.executable, "-m", "hairpin.cli.main", *args]
        return subprocess.run(cmd, stdout=w, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd, check=False)
    finally:
        os.close(w)


@pytest.mark.parametrize(
    "args",
    [
        ["reproduce", "--connections", "20"],  # rich text
        ["reproduce", "--connections", "20", "--format", "json"],  # sys.stdout.write, flushed at exit
        ["scenario", "schema"],
        ["--version"],
        ["--help"],  # typer's help, printed by rich
        ["collect"],
        ["pcap", str(Path(__file__).parent / "data" / "pcap" / "lab-node1.pcap")],  # the plain pcap path, without typer
    ],
)
def test_a_closed_pipe_ends_the_program_with_141_and_nothing_on_stderr(args: list[str]) -> None:
    got = _closed_pipe(args)
    assert (got.returncode, got.stderr) == (141, "")


SEED_DUMP = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"  # the seed's Service: at risk


def test_a_closed_pipe_is_not_a_finding_for_check() -> None:
    assert _program(["check", str(SEED_DUMP)]).returncode == 1  # read to the end: the finding
    for fmt in ("text", "json", "sarif"):
        got = _closed_pipe(["check", str(SEED_DUMP), "--format", fmt])
        assert (got.returncode, got.stderr) == (141, "")


def test_a_closed_stdout_does_not_stop_the_report_written_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    got = _closed_pipe(["check", str(SEED_DUMP), "--format", "json", "-o", str(out)])
    assert got.returncode == 1  # nothing went to stdout: the finding's code
    assert [s["at_risk"] for s in json.loads(out.read_text())["services"]] == [True]


def test_bad_input_with_a_closed_stdout_is_still_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Service\nmetadata: [\n")
    got = _closed_pipe(["check", str(bad)])
    assert got.returncode == 2
    assert got.stderr.startswith(f"hairpin: error: {bad}:")


# -- a signal while the program starts (hairpin.cli.early): held until the command's modules are imported


def _started_with(signum: int, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script's module imported (it holds the signals), ``signum`` sent to the process before
    anything else is imported, then the program run on ``args``."""
    code = ("import os, signal, sys; import hairpin.cli.program as p; "
            f"os.kill(os.getpid(), {int(signum)}); "
            "assert 'typer' not in sys.modules and 'rich' not in sys.modules; "
            "sys.argv = ['hairpin', *sys.argv[1:]]; p.entry()")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          check=False, preexec_fn=hangup_default)  # fmt: skip


@pytest.mark.parametrize(
    ("signum", "line", "code"),
    [(2, "hairpin: interrupted", 130), (15, "hairpin: terminated", 143), (1, "hairpin: hung up", 129)],
)
@pytest.mark.parametrize("args", [["reproduce", "-o", "out.json"], ["pcap", "in.pcap", "-o", "out.json"]])
def test_a_signal_while_starting_ends_before_the_command_with_one_line(
    signum: int, line: str, code: int, args: list[str], tmp_path: Path
) -> None:
    (tmp_path / "in.pcap").write_bytes(b"")  # never read: the command does not start
    r = _started_with(signum, args, tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (code, "", line + "\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pcap"]  # nothing written


_HUNG_UP = """
import os, signal, sys
if sys.argv[1] == "nohup":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts a program
from hairpin.cli import main as m


def command(args):  # the terminal closes while the command runs
    if sys.argv[1] == "eio without sighup":
        raise OSError(5, "Input/output error")
    try:
        os.kill(os.getpid(), signal.SIGHUP)
    except KeyboardInterrupt:
        if sys.argv[1] == "eio":  # unwinding writes to the terminal that hung up (a progress bar's last frame)
            raise OSError(5, "Input/output error")
        raise
    print("ran on", signal.getsignal(signal.SIGHUP) == signal.SIG_IGN)
    return 0


m._typer = command
m.main(["version"])
"""


@pytest.mark.parametrize(
    ("started", "got"),
    [
        ("", (129, "", "hairpin: hung up\n")),
        ("eio", (129, "", "hairpin: hung up\n")),
        ("nohup", (0, "ran on True\n", "")),
    ],
)
def test_sighup_ends_the_command_as_ctrl_c_does_unless_it_is_ignored(started: str, got: tuple[int, str, str]) -> None:
    r = subprocess.run([sys.executable, "-c", _HUNG_UP, started], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": SRC}, check=False, preexec_fn=hangup_default)  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr) == got


def test_an_os_error_without_sighup_is_not_taken_for_one() -> None:
    r = subprocess.run([sys.executable, "-c", _HUNG_UP, "eio without sighup"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": SRC}, check=False, preexec_fn=hangup_default)  # fmt: skip
    assert (r.returncode, r.stdout) == (1, "") and r.stderr.endswith("OSError: [Errno 5] Input/output error\n")


def test_without_a_signal_the_held_program_runs_and_handles_ctrl_c_again(tmp_path: Path) -> None:
    code = ("import signal, sys; import hairpin.cli.program as p; sys.argv = ['hairpin', '--version']\n"
            "try:\n    p.entry()\nexcept SystemExit as e:\n"
            "    print(e.code, signal.getsignal(signal.SIGINT) is signal.default_int_handler,"
            " signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, signal.getsignal(signal.SIGHUP) == signal.SIG_DFL,"
            " file=sys.stderr)")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": SRC}, cwd=tmp_path, check=False,
                       preexec_fn=hangup_default)  # fmt: skip
    assert r.stdout.startswith("hairpin ")
    assert r.stderr == "0 True True True\n"


def test_importing_the_library_holds_nothing() -> None:
    code = ("import signal; import hairpin.cli.main, hairpin.cli.early as e; "
            "print(e.holding(), signal.getsignal(signal.SIGINT) is signal.default_int_handler)")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": SRC}, check=False)  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr) == (0, "False True\n", "")


@pytest.mark.parametrize(("given", "runs_with"), [(None, "1"), ("4", "4"), ("", "")])
def test_the_program_runs_openblas_with_one_thread_unless_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, given: str | None, runs_with: str
) -> None:
    """NumPy's OpenBLAS reads OPENBLAS_NUM_THREADS once, as ``import numpy`` loads it: the program sets it before
    any command runs (its spinning threads cost 0.1 s of CPU and hairpin makes no BLAS call), and a value the
    user gave, even an empty one, stands."""
    import hairpin.cli.main as program

    seen: list[str | None] = []
    if given is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", given)
    monkeypatch.setattr(program, "main", lambda: seen.append(os.environ.get("OPENBLAS_NUM_THREADS")))
    program.entry()
    assert seen == [runs_with]
