"""Every file hairpin writes: whole or not at all, only the file the user named, checked before work starts.

Library level (``hairpin.writing``) and through the CLI: a symlink planted where a temporary name could be,
FIFOs, character devices and ``/proc/self/fd/1`` written in place, ``-`` as standard output, a directory or
a missing directory as one line with exit 2 before any work, a full disk leaving nothing behind."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hairpin import writing
from hairpin.errors import InputError

DUMP = str(Path(__file__).parent / "data" / "check" / "seed-dump.yaml")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


def hairpin(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "COLUMNS": "160"})  # fmt: skip


def fifo_reader(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    """A started thread that reads ``fifo`` to its end into the returned list."""
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    return reader, got


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".hairpin-" in p.name or p.name.endswith(".part"))


# ------------------------------------------------------------------------------------------- library level


def test_new_file_gets_the_umask_mode_and_no_temporary_is_left(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        writing.write_output(tmp_path / "out.txt", "hello\n")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    f = tmp_path / "out.txt"
    f.write_text("old")
    f.chmod(0o604)
    writing.write_output(f, b"new")
    assert f.read_bytes() == b"new" and stat.S_IMODE(f.stat().st_mode) == 0o604


def test_a_failing_producer_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    f = tmp_path / "out.txt"
    f.write_text("precious")
    with pytest.raises(RuntimeError), writing.open_output(f) as fh:
        fh.write("half")
        raise RuntimeError("producer broke")
    assert f.read_text() == "precious" and leftovers(tmp_path) == []


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writing.os, "fsync", full)
    f = tmp_path / "out.txt"
    with pytest.raises(InputError) as exc:
        writing.write_output(f, "x" * 100)
    assert str(exc.value) == f"{f}: cannot write: No space left on device"
    assert not f.exists() and leftovers(tmp_path) == []


def test_symlinks_planted_at_every_temporary_name_are_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("do not touch")
    target = tmp_path / "out.pcapng"
    for name in ("out.pcapng.part", ".out.pcapng.part", ".out.pcapng.tmp", "out.pcapng.tmp"):
        (tmp_path / name).symlink_to(victim)
    writing.write_output(target, PCAPNG_MAGIC + b"rest")
    assert victim.read_text() == "do not touch"
    assert target.read_bytes().startswith(PCAPNG_MAGIC) and not target.is_symlink()
    assert (tmp_path / "out.pcapng.part").is_symlink()


@pytest.mark.parametrize("length", [232, 240, 255])
def test_a_long_name_without_unnamed_files_gets_a_temporary_name_that_fits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    monkeypatch.delattr(writing.os, "O_TMPFILE")
    f = tmp_path / ("é" * (length // 2) + "x" * (length % 2))  # two bytes a character: a cut can halve one
    f.write_text("old")
    with writing.open_output(f) as fh:
        fh.write("new")
        [tmp] = leftovers(tmp_path)
        raw = os.fsencode(tmp)
        cut = os.fsencode(f.name)[: min(length, 233)]
        assert raw.startswith(b"." + cut + b".hairpin-") and len(raw) == len(cut) + 22 <= 255
        assert f.read_text() == "old"
    assert (f.read_text(), leftovers(tmp_path), [p.name for p in tmp_path.iterdir()]) == ("new", [], [f.name])


def test_a_name_longer_than_name_max_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    f = tmp_path / ("n" * 256)
    with pytest.raises(InputError) as exc:
        writing.check_output(f)
    assert str(exc.value) == f"{f}: cannot write: the file name is longer than 255 bytes"
    with pytest.raises(InputError):
        writing.write_output(f, "x")
    assert list(tmp_path.iterdir()) == []


def test_a_named_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    writing.write_output(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_fifo_is_written_to_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader, got = fifo_reader(fifo)
    writing.write_output(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_character_device_is_written_to_not_replaced() -> None:
    writing.write_output("/dev/null", "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d, "cannot write: is a directory"),
        (lambda d: d / "missing" / "out.txt", "cannot write: no such directory: {d}/missing"),
        (lambda d: "", "cannot write: empty file name"),
    ],
)
def test_unwritable_targets_are_named_before_any_work(tmp_path: Path, make: object, message: str) -> None:
    assert callable(make)
    path = make(tmp_path)
    with pytest.raises(InputError) as exc:
        writing.check_output(path)
    assert str(exc.value) == (f"{path}: " if path else "") + message.format(d=tmp_path)
    assert not (tmp_path / "missing").exists()


def test_dash_is_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    writing.check_output("-")
    writing.write_output("-", "to stdout\n")
    assert capsys.readouterr().out == "to stdout\n"


# ------------------------------------------------------------------------------------------- the CLI


def test_reproduce_pcap_does_not_follow_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("do not touch")
    out = tmp_path / "run.pcapng"
    (tmp_path / "run.pcapng.part").symlink_to(victim)
    r = hairpin("reproduce", "--connections", "5", "--no-fixes", "--pcap", str(out))
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "do not touch"
    assert out.read_bytes()[:4] == PCAPNG_MAGIC
    assert leftovers(tmp_path) == ["run.pcapng.part"]  # the planted link itself, untouched


@pytest.mark.parametrize("kind", ["directory", "missing directory"])
def test_reproduce_pcap_bad_target_is_one_line_before_work(tmp_path: Path, kind: str) -> None:
    out = tmp_path if kind == "directory" else tmp_path / "nope" / "run.pcapng"
    why = "is a directory" if kind == "directory" else f"no such directory: {tmp_path}/nope"
    r = hairpin("reproduce", "--connections", "5", "--no-fixes", "--pcap", str(out))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines() == [f"hairpin: error: {out}: cannot write: {why}"]
    assert leftovers(tmp_path) == []


def test_reproduce_html_missing_directory_is_named_before_simulating(tmp_path: Path) -> None:
    r = hairpin("reproduce", "--html", str(tmp_path / "no" / "r.html"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"hairpin: error: {tmp_path}/no/r.html: cannot write: no such directory: {tmp_path}/no\n"


@pytest.mark.parametrize("length", [232, 240, 255, 256])
def test_check_output_replaces_a_file_of_any_name_up_to_255_bytes(tmp_path: Path, length: int) -> None:
    out = tmp_path / ("r" * length)
    if length <= 255:
        out.write_text("old")
    r = hairpin("check", DUMP, "--format", "json", "-o", str(out))
    if length <= 255:
        assert r.returncode == 1, r.stderr  # the seed's Service is at risk
        assert out.read_text().lstrip().startswith("{") and [p.name for p in tmp_path.iterdir()] == [out.name]
    else:
        assert (r.returncode, r.stdout) == (2, "")
        assert r.stderr == f"hairpin: error: {out}: cannot write: the file name is longer than 255 bytes\n"
        assert list(tmp_path.iterdir()) == []


def test_check_output_dash_is_stdout_and_writes_no_file(tmp_path: Path) -> None:
    r = hairpin("check", DUMP, "--format", "json", "-o", "-", cwd=tmp_path)
    assert r.returncode == 1, r.stderr  # the seed's Service is at risk
    assert r.stdout.lstrip().startswith("{") and not (tmp_path / "-").exists()


def test_check_output_to_proc_self_fd_1_symlink_writes_stdout(tmp_path: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to("/proc/self/fd/1")
    r = hairpin("check", DUMP, "--format", "json", "-o", str(link))
    assert r.returncode == 1, r.stderr
    assert r.stdout.lstrip().startswith("{") and link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


def test_check_output_onto_a_fifo_keeps_the_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader, got = fifo_reader(fifo)
    r = hairpin("check", DUMP, "--format", "json", "-o", str(fifo))
    reader.join(timeout=30)
    assert r.returncode == 1, r.stderr
    assert got and got[0].lstrip().startswith(b"{") and stat.S_ISFIFO(fifo.stat().st_mode)


def test_lab_run_capture_onto_a_file_is_one_line_before_the_lab(tmp_path: Path) -> None:
    f = tmp_path / "existing"
    f.write_text("a file, not a directory")
    r = hairpin("lab", "run", "--capture", str(f))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr == f"hairpin: error: {f}: --capture: not a directory\n"
    assert f.read_text() == "a file, not a directory"
