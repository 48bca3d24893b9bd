"""A file hairpin writes has no name until it is whole: it is written as an unnamed file in the target's directory
(``O_TMPFILE``, ``open(2)``) and linked in (``linkat(2)``): at the target's name when nothing is there, else beside
it and renamed over it.  A process killed half-way (``kill -9``) leaves nothing.  Where the file system has no
unnamed files, or the link is refused, the named temporary file of before is used, and nothing planted is followed.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from hairpin import writing
from hairpin.errors import InputError


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def unnamed(tmp_path: Path) -> Path:
    try:
        os.close(os.open(tmp_path, os.O_TMPFILE | os.O_WRONLY, 0o600))
    except (OSError, AttributeError) as exc:
        pytest.skip(f"no unnamed files here: {exc}")
    return tmp_path


def test_a_new_file_has_no_name_until_it_is_whole(unnamed: Path) -> None:
    f = unnamed / "out.txt"
    old = os.umask(0o027)
    try:
        with writing.open_output(f) as fh:
            fh.write("half")
            fh.flush()
            assert names(unnamed) == []
            fh.write(" and the rest\n")
    finally:
        os.umask(old)
    st = f.stat()
    assert (f.read_text(), stat.S_IMODE(st.st_mode), st.st_nlink) == ("half and the rest\n", 0o640, 1)
    assert names(unnamed) == ["out.txt"]


def test_an_existing_file_is_replaced_whole_and_keeps_its_mode(unnamed: Path) -> None:
    f = unnamed / "out.txt"
    f.write_text("old")
    f.chmod(0o604)
    reader = unnamed / "reader"
    os.link(f, reader)  # a reader that opened the old file: it keeps the old content, whole
    with writing.open_output(f) as fh:
        fh.write("new")
        fh.flush()
        assert names(unnamed) == ["out.txt", "reader"] and f.read_text() == "old"
    assert (f.read_text(), stat.S_IMODE(f.stat().st_mode), reader.read_text()) == ("new", 0o604, "old")
    assert names(unnamed) == ["out.txt", "reader"]


@pytest.mark.parametrize("links", [True, False])
def test_a_link_planted_at_the_name_during_the_write_is_replaced_not_followed(unnamed: Path, links: bool) -> None:
    victim = unnamed / "victim"
    victim.write_text("do not touch")
    f = unnamed / "out.txt"
    with writing.open_output(f, links=links) as fh:
        fh.write("report")
        f.symlink_to(victim)  # after the checks: the link is made over no existing name, so it is renamed over
    assert (f.is_symlink(), f.read_text(), victim.read_text()) == (False, "report", "do not touch")
    assert names(unnamed) == ["out.txt", "victim"]


def test_a_failing_producer_leaves_nothing(unnamed: Path) -> None:
    f = unnamed / "out.txt"
    with pytest.raises(RuntimeError), writing.open_output(f, binary=True) as fh:
        fh.write(b"x" * 100_000)
        raise RuntimeError("producer broke")
    assert names(unnamed) == []


def test_a_name_of_255_bytes_is_written(unnamed: Path) -> None:
    # no temporary name beside it when it is new: linked at its own name
    f = unnamed / ("n" * 255)
    writing.write_output(f, "ok")
    assert names(unnamed) == ["n" * 255] and f.read_text() == "ok"


@pytest.mark.parametrize("length", [232, 233, 234, 240, 255])
def test_a_long_name_is_replaced_through_a_shortened_temporary_name(
    unnamed: Path, monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    # replacing needs a temporary name beside the target: ".NAME.hairpin-" and 12 hex digits is 22 bytes more,
    # so from 234 bytes on the name's part of it is cut to 233 bytes
    f = unnamed / ("n" * length)
    f.write_text("old")
    f.chmod(0o640)
    made: list[str] = []
    real_link = os.link

    def seen(src: str, dst: str, **kwargs: object) -> None:
        made.append(dst)
        real_link(src, dst, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writing.os, "link", seen)
    writing.write_output(f, "new")
    assert (f.read_text(), stat.S_IMODE(f.stat().st_mode), names(unnamed)) == ("new", 0o640, ["n" * length])
    [first, tmp] = made  # the target's own name (taken: EEXIST), then the temporary one
    stem = "n" * min(length, 233)
    assert first == "n" * length and tmp.startswith(f".{stem}.hairpin-") and len(tmp) == len(stem) + 22


def test_a_refused_link_copies_the_file_to_a_named_temporary(unnamed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_link = os.link

    def refused(src: str, dst: str, **kwargs: object) -> None:
        if src.startswith("/proc/self/fd/"):
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))  # a security module's refusal
        real_link(src, dst, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writing.os, "link", refused)
    f = unnamed / "out.bin"
    f.write_bytes(b"old")
    f.chmod(0o640)
    data = os.urandom(3 << 20)  # more than one chunk of the copy
    writing.write_output(f, data)
    assert (f.read_bytes() == data, stat.S_IMODE(f.stat().st_mode)) == (True, 0o640)
    assert names(unnamed) == ["out.bin"]


def test_without_unnamed_files_one_temporary_name_is_used_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(writing.os, "O_TMPFILE")
    f = tmp_path / "out.txt"
    with writing.open_output(f) as fh:
        fh.write("report")
        [tmp] = names(tmp_path)
        assert tmp.startswith(".out.txt.hairpin-") and len(tmp) == len(".out.txt.hairpin-") + 12
    assert names(tmp_path) == ["out.txt"] and f.read_text() == "report"
    with pytest.raises(RuntimeError), writing.open_output(f) as fh:
        fh.write("half")
        raise RuntimeError("producer broke")
    assert names(tmp_path) == ["out.txt"] and f.read_text() == "report"


def test_a_directory_that_cannot_be_opened_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "out.txt"
    real_open = os.open

    def no_directory(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if flags & os.O_DIRECTORY and not flags & getattr(os, "O_TMPFILE", 0) & ~os.O_DIRECTORY:
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writing.os, "open", no_directory)
    with pytest.raises(InputError) as exc:
        writing.write_output(f, "x")
    assert str(exc.value) == f"{f}: cannot write: Too many open files"
    assert names(tmp_path) == []
