"""Every file hairpin writes goes through here: whole or not at all, and only the file the user named.

What this module knows:

- ``-`` means standard output, for every command and every kind of output.
- A path is checked before any work starts (:func:`check_output`): a directory, a missing parent directory,
  a block device or a socket is one :class:`~hairpin.errors.InputError` line, so a long run never ends in
  "cannot write".
- A regular file (existing or new) is written to a temporary file created in the target's own directory
  with ``O_CREAT|O_EXCL|O_NOFOLLOW`` and a random name, flushed with ``fsync``, then renamed over the
  target.  Nothing planted in that directory (a symlink at a name hairpin might pick) is ever followed or
  overwritten; a reader never sees half a file; any failure (a full disk, an exception in the producer)
  removes the temporary file and leaves the target as it was.  An existing target keeps its permission
  bits; a new one gets the umask's, as ``open()`` would give it.
- A symlink the user named is written through: the file it points to is replaced, the link stays.  A file
  hairpin names itself (the lab's records, ``links=False``) is replaced as a name: a symlink, FIFO or device
  planted there is replaced by the file, never followed or written to.
- Special files are written to, never replaced: a FIFO, a character device (``/dev/null``, a terminal),
  and anything under ``/dev/`` or ``/proc/`` (``/dev/stdout``, ``/proc/self/fd/1``).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any, Literal, overload

from hairpin.errors import InputError

__all__ = ["check_output", "open_output", "write_output"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _is_passthrough(path: str) -> bool:
    """Paths written in place: ``/dev/...`` and ``/proc/...`` names (stdout, stderr, fds) and existing
    FIFOs and character devices."""
    norm = os.path.abspath(path)
    if norm.startswith(("/dev/", "/proc/")):
        return True
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)


def check_output(path: str | Path | None) -> None:
    """Raise InputError (one line naming ``path``) if ``path`` cannot be written; call before work starts.

    ``None`` (no output asked for) and ``-`` (standard output) always pass."""
    if path is None:
        return
    p = str(path)
    if p == "-":
        return
    if p == "":
        raise InputError("cannot write: empty file name")
    if _is_passthrough(p):
        if os.path.exists(p) and not os.access(p, os.W_OK):
            raise InputError("cannot write: permission denied", p)
        return
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", p) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise InputError("cannot write: is a directory", p)
        if not stat.S_ISREG(st.st_mode):
            raise InputError("cannot write: not a regular file, FIFO or character device", p)
    parent = os.path.dirname(os.path.realpath(p))
    if not os.path.isdir(parent):
        raise InputError(f"cannot write: no such directory: {os.path.dirname(p) or '.'}", p)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write: permission denied in {os.path.dirname(p) or '.'}", p)


def _temporary(directory: str, name: str) -> tuple[int, str]:
    for _ in range(16):
        tmp = os.path.join(directory, f".{name}.hairpin-{os.urandom(6).hex()}")
        try:
            return os.open(tmp, _FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise InputError("cannot write: no free temporary name", os.path.join(directory, name))


@overload
def open_output(path: str | Path, *, binary: Literal[False] = ..., links: bool = ...) -> AbstractContextManager[IO[str]]: ...
@overload
def open_output(path: str | Path, *, binary: Literal[True], links: bool = ...) -> AbstractContextManager[IO[bytes]]: ...
def open_output(path: str | Path, *, binary: bool = False, links: bool = True) -> AbstractContextManager[IO[Any]]:
    """A file object for ``path``; the target is replaced only if the ``with`` block ends normally.

    OSError while opening, writing or renaming becomes InputError naming ``path``; any exception leaves
    no temporary file behind and the target untouched (except for FIFOs and devices, written in place).
    ``links=False``: ``path`` itself is replaced, whatever is there (a file hairpin names itself)."""
    return _open_output(str(path), binary, links)


@contextlib.contextmanager
def _open_output(p: str, binary: bool, links: bool = True) -> Iterator[IO[Any]]:
    if p == "-":
        if binary:
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
        else:
            yield sys.stdout
            sys.stdout.flush()
        return
    check_output(p)
    if links and _is_passthrough(p):
        try:
            fh = open(p, "wb" if binary else "w", encoding=None if binary else "utf-8")  # noqa: SIM115
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror}", p) from None
        try:
            with fh:
                yield fh
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror}", p) from None
        return
    if links:
        real = os.path.realpath(p)
    else:  # the name itself: its directory resolved, the last component never followed
        head, tail = os.path.split(os.path.abspath(p))
        real = os.path.join(os.path.realpath(head), tail)
    directory, name = os.path.split(real)
    try:
        st = os.stat(real, follow_symlinks=links)
        old_mode: int | None = stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None
    except OSError:
        old_mode = None
    try:
        fd, tmp = _temporary(directory, name)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", p) from None
    done = False
    try:
        fh = os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if old_mode is not None:
            os.chmod(tmp, old_mode)
        os.replace(tmp, real)
        done = True
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", p) from None
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_output(path: str | Path, data: str | bytes, *, links: bool = True) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through :func:`open_output`."""
    if isinstance(data, bytes):
        with open_output(path, binary=True, links=links) as fb:
            fb.write(data)
    else:
        with open_output(path, links=links) as ft:
            ft.write(data)
