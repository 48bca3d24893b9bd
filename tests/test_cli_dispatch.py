"""``hairpin pcap``'s and ``hairpin check``'s plain command lines run without typer (hairpin.cli.main._plain_pcap,
_plain_check): the same stdout, stderr, files and exit codes as through typer, and neither typer, rich nor pydantic
imported for JSON written to a file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hairpin.cli.main import _plain_check, _plain_pcap
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers.pcap import PacketRecord, write_pcap

VIP, NODE, CLIENT = ip_int("192.168.168.103"), ip_int("192.168.2.3"), ip_int("192.168.0.10")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hairpins (three rounds each) and one healthy handshake."""
    recs = []
    for k, isn in enumerate((1000, 5000)):
        t = 100.0 + k
        for at in (0.0, 1.0, 3.0):
            recs += [PacketRecord(t + at, None, Packet(CLIENT, 40000 + k, VIP, 80, Flags.SYN, isn)),
                     PacketRecord(t + at + 0.001, None, Packet(NODE, 31468, CLIENT, 40000 + k, Flags.SYN | Flags.ACK,
                                                               77, isn + 1)),
                     PacketRecord(t + at + 0.002, None, Packet(CLIENT, 40000 + k, NODE, 31468, Flags.RST, isn + 1))]  # fmt: skip
    recs += [PacketRecord(105.0, None, Packet(CLIENT, 41000, VIP, 80, Flags.SYN, 9)),
             PacketRecord(105.001, None, Packet(VIP, 80, CLIENT, 41000, Flags.SYN | Flags.ACK, 3, 10))]  # fmt: skip
    path = tmp_path_factory.mktemp("cap") / "two.pcap"
    write_pcap(path, sorted(recs, key=lambda r: r.t))
    return path


_RUN = "import sys\nfrom hairpin.cli import main as m\n{patch}m.main(sys.argv[1:])\n"
# every command line through typer, as before
_VIA_TYPER = "m._plain_pcap = lambda args: None\nm._plain_check = lambda args: None\n"


def _run(args: list[str], typer: bool, cwd: Path) -> tuple[int, str, str]:
    code = _RUN.format(patch=_VIA_TYPER if typer else "")
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False, cwd=cwd,
                       env={"PATH": "/usr/bin:/bin", "COLUMNS": "100", "PYTHONPATH": ":".join(sys.path)})  # fmt: skip
    return r.returncode, r.stdout, r.stderr


def _both_ways(args: list[str], tmp_path: Path) -> list[tuple[int, str, str, bytes | None]]:
    """Exit code, stdout, stderr and the file OUT (if written) of ``args`` run plainly, then through typer."""
    answers = []
    for typer in (False, True):
        out = tmp_path / "OUT"
        out.unlink(missing_ok=True)
        code, stdout, stderr = _run(args, typer, tmp_path)
        answers.append((code, stdout, stderr, out.read_bytes() if out.exists() else None))
    return answers


@pytest.mark.parametrize("args", [
    ["pcap", "{cap}", "--format", "json"],
    ["pcap", "{cap}"],
    ["pcap", "{cap}", "--format", "text", "--max-listed", "1"],
    ["pcap", "--max-listed", "1", "{cap}", "--format", "json"],
    ["pcap", "{cap}", "{cap}", "--format", "json"],
    ["pcap", "{cap}", "-o", "OUT", "--format", "json"],
    ["pcap", "{cap}", "--output", "OUT"],
    ["pcap", "{cap}", "--format", "xml"],
    ["pcap", "{cap}", "--max-listed", "0"],
    ["pcap", "{cap}", "-o", "no-such-dir/x.json"],
    ["pcap", "missing.pcap", "--format", "json"],
    ["pcap", "{this}"],
])  # fmt: skip
def test_same_answer_as_through_typer(args: list[str], capture: Path, tmp_path: Path) -> None:
    args = [a.replace("{cap}", str(capture)).replace("{this}", __file__) for a in args]
    plain = _plain_pcap(args)
    assert plain is not None  # each is a plain command line
    answers = _both_ways(args, tmp_path)
    assert answers[0] == answers[1]
    assert answers[0][0] in (0, 1, 2)


CHECKED = Path(__file__).parent / "data" / "check"


@pytest.mark.parametrize("args", [
    ["check", "{dump}", "--format", "json"],
    ["check", "{dump}"],
    ["check", "{dump}", "--format", "sarif", "-o", "OUT"],
    ["check", "--output", "OUT", "{dump}"],
    ["check", "{dir}", "{dump}", "--format", "table"],
    ["check", "{broken}", "--format", "json"],
    ["check", "{broken}", "{dump}", "--format", "json"],
    ["check", "{dump}", "--format", "xml"],
    ["check", "missing.yaml"],
    ["check", "{dump}", "-o", "no-such-dir/x.json"],
    ["check", "{dump}", "-o", "{dump}"],
    ["check", "{this}"],
])  # fmt: skip
def test_check_same_answer_as_through_typer(args: list[str], tmp_path: Path) -> None:
    shutil.copy(CHECKED / "seed-dump.yaml", tmp_path / "dump.yaml")  # (-o over it: refused, but not on the data)
    args = [a.replace("{dump}", "dump.yaml").replace("{dir}", str(CHECKED / "manifests"))
            .replace("{broken}", str(CHECKED / "broken.yaml")).replace("{this}", __file__) for a in args]  # fmt: skip
    assert _plain_check(args) is not None  # each is a plain command line
    answers = _both_ways(args, tmp_path)
    assert answers[0] == answers[1]
    assert answers[0][0] in (1, 2)
    if args[1:] == ["dump.yaml", "--format", "json"]:
        doc = json.loads(answers[0][1])
        assert (answers[0][0], [(x["name"], x["at_risk"]) for x in doc["services"]]) == (
            1, [("service-nginx-demo", True)])  # fmt: skip


def test_check_json_to_a_file_imports_no_typer_rich_or_pydantic(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    code = ("import sys\nfrom hairpin.cli.main import main\ntry:\n main(sys.argv[1:])\nexcept SystemExit as e:\n"
            " print(e.code, sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'click', 'rich', 'pydantic'}))")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code, "check", str(CHECKED / "seed-dump.yaml"), "--format", "json", "-o",
                        str(out)], capture_output=True, text=True, check=False,
                       env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)})  # fmt: skip
    assert r.stdout == "1 []\n"
    assert r.stderr == f"wrote {out}\n"
    got = [(x["name"], x["at_risk"]) for x in json.loads(out.read_text())["services"]]
    assert got == [("service-nginx-demo", True)]


@pytest.mark.parametrize("args", [
    ["check"], ["check", "--help"], ["check", "-"], ["check", "F", "--format=json"], ["check", "F", "--format"],
    ["check", "F", "-o", "-"], ["check", "F", "--format", "json", "--format", "text"], ["check", "F", "--live"],
    ["check", "F", "--only-at-risk"], ["check", "F", "--allow-empty", "true"], ["check", "F", "--", "G"],
    ["check", ""], ["check", "F", "--max-listed", "5"], ["--max-input", "1K", "check", "F"], ["check", "--live"],
    ["check", "F", "--kubernetes-version", "1.33"], ["check", "F", "-o", "a", "--output", "b"],
])  # fmt: skip
def test_any_other_check_goes_to_typer(args: list[str]) -> None:
    assert _plain_check(args) is None


def test_plain_check_values_as_typer_passes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _plain_check(["check", "a", "b/", "-o", "o.json", "--format", "sarif"]) == {
        "paths": ["a", "b/"], "output": "o.json", "format": "sarif"}  # fmt: skip
    assert _plain_check(["check", "a"]) == {"paths": ["a"]}
    assert _plain_pcap(["check", "a"]) is None and _plain_check(["pcap", "a"]) is None
    monkeypatch.setenv("_HAIRPIN_COMPLETE", "bash_complete")
    assert _plain_check(["check", "a"]) is None


def _pcap_in_a_child(capture: Path, out: Path, modules: str) -> subprocess.CompletedProcess[str]:
    """``hairpin pcap CAPTURE --format json -o OUT`` in a fresh interpreter, which prints its exit code and
    which of ``modules`` (a Python expression: a set of names, matched against sys.modules) it imported."""
    code = ("import sys\nfrom hairpin.cli.main import main\ntry:\n main(sys.argv[1:])\nexcept SystemExit as e:\n"
            f" print(e.code, sorted({modules}))")
    return subprocess.run([sys.executable, "-c", code, "pcap", str(capture), "--format", "json", "-o", str(out)],
                          capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin",
                          "PYTHONPATH": ":".join(sys.path)})  # fmt: skip


def test_json_to_a_file_imports_no_typer_rich_or_pydantic(capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    r = _pcap_in_a_child(capture, out, "{m.split('.')[0] for m in sys.modules} & {'typer', 'click', 'rich', 'pydantic'}")
    assert r.stdout == "1 []\n"
    assert r.stderr == f"wrote {out}\n"
    doc = json.loads(out.read_text())
    assert (doc["summary"]["hairpins"], doc["summary"]["connections"], doc["summary"]["healthy"]) == (2, 3, 1)


@pytest.mark.parametrize("args", [
    ["pcap"], ["pcap", "--help"], ["pcap", "-"], ["pcap", "F", "--format=json"], ["pcap", "F", "--format"],
    ["pcap", "F", "-o", "-"], ["pcap", "F", "--format", "json", "--format", "text"], ["pcap", "F", "--svg", "x.svg"],
    ["pcap", "F", "--max-listed", "+5"], ["pcap", "F", "--max-listed", "1_0"], ["pcap", "F", "--", "G"],
    ["pcap", ""], ["--max-input", "1K", "pcap", "F"], ["trace", "F"], ["pcap", "F", "--vxlan-port", "9"], [],
])  # fmt: skip
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert _plain_pcap(args) is None


def test_a_plain_capture_needs_no_bundle_machinery(capture: Path, tmp_path: Path) -> None:
    r = _pcap_in_a_child(capture, tmp_path / "out.json", "set(sys.modules) & {'hairpin.collect', 'tarfile'}")
    assert r.stdout == "1 []\n"


def test_a_plain_capture_imports_no_yaml_reader(capture: Path, tmp_path: Path) -> None:
    # (hairpin.reading imports PyYAML: 15-18 ms of a 0.4 s analysis; the pcap path needs only hairpin.text;
    # numpy.ma, which np.unique without return_inverse imports, costs as much)
    r = _pcap_in_a_child(capture, tmp_path / "out.json", "set(sys.modules) & {'yaml', 'hairpin.reading', 'numpy.ma'}")
    assert r.stdout == "1 []\n"


def test_capture_magics_are_the_bundle_tests() -> None:
    from hairpin.collect import CAPTURE_MAGICS
    from hairpin.parsers.pcap import MAGICS

    assert sorted(MAGICS) == sorted(CAPTURE_MAGICS)


def test_plain_values_as_typer_passes_them() -> None:
    assert _plain_pcap(["pcap", "a", "b", "-o", "o.json", "--max-listed", "007", "--format", "json"]) == {
        "files": [Path("a"), Path("b")], "output": "o.json", "max_listed": 7, "format": "json"}  # fmt: skip


def test_completion_goes_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_HAIRPIN_COMPLETE", "bash_complete")
    assert _plain_pcap(["pcap", "F"]) is None


@pytest.mark.parametrize("preset", [None, "2"])
def test_numpy_is_imported_with_one_blas_thread_and_the_environment_restored(preset: str | None) -> None:
    code = ("import os, sys\nfrom hairpin.cli.pcap_run import _numpy_one_blas_thread\n"
            "assert 'numpy' not in sys.modules\n_numpy_one_blas_thread()\n"
            "print('numpy' in sys.modules, os.environ.get('OPENBLAS_NUM_THREADS'))")  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    if preset is not None:  # the user's own setting: left alone, numpy not imported here
        env["OPENBLAS_NUM_THREADS"] = preset
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env)
    assert r.stdout == ("True None\n" if preset is None else "False 2\n"), r.stderr


_ENTRY = ("import atexit, sys\nfrom hairpin.cli.main import entry\n"
          "atexit.register(lambda: sys.stderr.write('teardown\\n'))\nsys.argv[0] = 'hairpin'\nentry()\n")  # fmt: skip


def _entry(args: list[str], cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _ENTRY, *args], capture_output=True, text=True, check=False, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "100", "PYTHONPATH": ":".join(sys.path)}, **kw)  # type: ignore[call-overload]  # fmt: skip


@pytest.mark.parametrize("args", [
    ["pcap", "{cap}", "--format", "json"],
    ["pcap", "{cap}"],
    ["pcap", "{cap}", "-o", "OUT", "--format", "json"],
    ["pcap", "{cap}", "--format", "json", "--max-listed", "+1"],
    ["pcap", "{cap}", "--format", "xml"],
    ["pcap", "missing.pcap", "--format", "json"],
])  # fmt: skip
def test_the_program_ends_a_pcap_without_teardown(args: list[str], capture: Path, tmp_path: Path) -> None:
    """The ``hairpin`` program (``entry``) ends ``hairpin pcap`` once its output is flushed, without the
    interpreter's teardown (an exit handler does not run), with main()'s exit code, stdout, stderr and file,
    by either route; bad input (nothing left to the process's end) ends as Python ends it."""
    args = [a.replace("{cap}", str(capture)) for a in args]
    r = _entry(args, tmp_path)
    out = tmp_path / "OUT"
    got = (r.returncode, r.stdout, r.stderr, out.read_bytes() if out.exists() else None)
    out.unlink(missing_ok=True)
    code, stdout, stderr = _run(args, False, tmp_path)
    bad = code == 2
    assert got == (code, stdout + "", stderr + ("teardown\n" if bad else ""), out.read_bytes() if out.exists() else None)


def test_the_program_tears_down_after_any_other_command(tmp_path: Path) -> None:
    r = _entry(["--version"], tmp_path)
    assert (r.returncode, r.stderr) == (0, "teardown\n")
    assert r.stdout.startswith("hairpin ")


def test_the_program_on_a_closed_pipe_exits_as_python_does(capture: Path, tmp_path: Path) -> None:
    """stdout closed before the JSON is flushed: the flush fails, the exit is Python's own (its teardown
    runs), never a silent success."""
    code = ("import os, sys\nos.close(1)\nsys.argv[0] = 'hairpin'\nfrom hairpin.cli.main import entry\n"
            "import atexit\natexit.register(lambda: sys.stderr.write('teardown\\n'))\nentry()\n")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code, "pcap", str(capture), "--format", "json"], capture_output=True,
                       text=True, check=False, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)})  # fmt: skip
    assert r.returncode != 0 and r.returncode != 1
    assert "teardown" in r.stderr
