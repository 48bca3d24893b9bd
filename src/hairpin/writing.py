"""Every file hairpin writes goes through here: whole or not at all, and only the file the user named.

What this module knows:

- ``-`` means standard output, for every command and every kind of output.
- A path is checked before any work starts (:func:`check_output`): a directory, a missing parent directory,
  a block device or a socket is one :class:`~hairpin.errors.InputError` line, so a long run never ends in
  "cannot write".
- A regular file (existing or new) is written to an unnamed file in the target's own directory (``O_TMPFILE``,
  ``open(2)``), flushed with ``fsync``, then given a name (``linkat(2)`` through ``/proc/self/fd``): the target's
  own when nothing is there, else a random one beside it (cut to fit ``NAME_MAX``), renamed over the target.  A process killed
  while writing (``kill -9``) leaves nothing: the kernel frees an unnamed file with its last descriptor.  Where
  the file system has no unnamed files (or ``/proc`` is missing) the file is written under a temporary name
  created with ``O_CREAT|O_EXCL|O_NOFOLLOW``, as a refused link is copied to one.  Nothing planted in that
  directory (a symlink at a name hairpin might pick) is ever followed or overwritten (``linkat`` makes no link
  over an existing name); a reader never sees half a file; any failure (a full disk, an exception in the
  producer) removes what was written and leaves the target as it was.  A temporary name left by a killed run
  is never removed by a later one: nothing tells it from a file another run is writing, or one planted there.
  An existing target keeps its permission bits (``rwx`` only: set-user-ID, set-group-ID and sticky are
  dropped) and, where the process may set them, its owner and group, set on the open temporary file
  (``fchown``/``fchmod``: never through a name that could have been swapped); a new one gets ``0o664`` less
  the umask: the umask's, as ``open()`` would give it, except that it is never writable by others, even
  under ``umask 000``.
- What ``>`` in a shell refuses is refused before work starts: an existing file the process may not write
  (``access(2)``), and what Linux's ``fs.protected_symlinks`` and ``fs.protected_regular`` protect
  (``Documentation/admin-guide/sysctl/fs.rst``; ``may_follow_link`` in ``fs/namei.c``), which a rename would
  otherwise get round: a symlink in a sticky world-writable directory (``/tmp``) owned by neither the
  process nor the directory's owner is not followed, and an existing file in a sticky directory is not
  replaced unless it or the directory is the process's (root: unless it is root's or the directory owner's).
  Enforced whatever the sysctls say (they are off in some containers).
- Two outputs naming one file, or an output naming an input, are refused (:func:`check_outputs`): the
  second write would silently replace the first, or the report its own input.  Whether an output lands where
  a command reading a directory given as input would find it (:func:`read_from`) is for the command to judge
  (``check`` by name, ``trace --node`` any file, ``pcap`` a capture).
- A symlink the user named is written through: the file it points to is replaced, the link stays.  A file
  hairpin names itself (the lab's records, ``links=False``) is replaced as a name: a symlink, FIFO or device
  planted there is replaced by the file, never followed or written to.
- Special files are written to, never replaced: a FIFO, a character device (``/dev/null``, a terminal),
  ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N`` and anything under ``/proc/`` (``/proc/self/fd/1``).  A
  block device (``/dev/sda``) is refused like a directory; a regular file under ``/dev/`` (``/dev/shm``) is
  written as any other.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any, Literal, overload

from hairpin.errors import InputError

__all__ = [
    "check_directory", "check_output", "check_outputs", "name_problem", "open_output", "read_from", "write_output",
]  # fmt: skip

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: bytes in one file name (``NAME_MAX``, ``<linux/limits.h>``)
NAME_MAX = 255
#: a new file's mode before the umask (``open(2)``: the file gets ``mode & ~umask``)
_NEW_MODE = 0o664


#: names written in place whatever they resolve to: the process's own descriptors (``/dev/fd`` is a link to
#: ``/proc/self/fd``, ``proc(5)``), which a rename would detach from the shell's redirection
_DESCRIPTORS = ("/dev/stdout", "/dev/stderr", "/dev/stdin")


def _is_passthrough(path: str) -> bool:
    """Paths written in place: the process's descriptors (``/dev/stdout``, ``/dev/fd/N``, ``/proc/...``) and
    existing FIFOs and character devices."""
    norm = os.path.abspath(path)
    if norm.startswith(("/proc/", "/dev/fd/")) or norm in _DESCRIPTORS:
        return True
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)


def _sticky(st: os.stat_result) -> bool:
    return bool(st.st_mode & stat.S_ISVTX)


def _resolve(path: str, last: bool = True) -> str:
    """``path`` with every symlink on its way followed (``last``: the final component's too), as
    ``os.path.realpath`` would, but refusing a symlink that Linux's ``fs.protected_symlinks`` would not follow
    (``may_follow_link``, ``fs/namei.c``): one in a sticky world-writable directory whose owner is neither this
    process's effective user nor the directory's owner.  A rename-based writer would otherwise follow a link
    another user planted in ``/tmp`` at the name given, where ``>`` in a shell stops (EACCES)."""
    euid = os.geteuid()
    todo = [c for c in path.split("/") if c not in ("", ".")]
    cur = "/" if path.startswith("/") else os.getcwd()
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            cur = os.path.dirname(cur)
            continue
        nxt = os.path.join(cur, part)
        if not todo and not last:
            return nxt
        try:
            st = os.lstat(nxt)
        except OSError:  # missing (a new file, a missing directory: check_output names it) or unreadable
            return os.path.join(nxt, *todo)
        if not stat.S_ISLNK(st.st_mode):
            cur = nxt
            continue
        hops += 1
        if hops > 40:  # MAXSYMLINKS (path_resolution(7)): let the open fail with ELOOP
            return os.path.join(nxt, *todo)
        here = os.stat(cur)
        if _sticky(here) and here.st_mode & stat.S_IWOTH and st.st_uid not in (euid, here.st_uid):
            which = "" if nxt == os.path.join(os.getcwd(), path) else f" ({nxt})"
            raise InputError(f"cannot write: a symbolic link{which} owned by another user in a sticky "
                             "world-writable directory: not followed", path)  # fmt: skip
        target = os.readlink(nxt)
        todo = [c for c in target.split("/") if c not in ("", ".")] + todo
        if target.startswith("/"):
            cur = "/"
    return cur


def _check_existing(p: str, real: str) -> os.stat_result | None:
    """The existing regular file at ``real`` (None: none), refused in one line where ``>`` would be refused:
    not writable by this process (``access(2)``), or in a sticky directory and owned by neither this process
    nor the directory's owner (``fs.protected_regular``, ``Documentation/admin-guide/sysctl/fs.rst``; for a
    user other than root, the sticky bit itself makes the rename fail: ``rename(2)``, EPERM)."""
    try:
        st = os.lstat(real)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    if not os.access(real, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
        raise InputError("cannot write: permission denied", p)
    euid = os.geteuid()
    try:
        here = os.stat(os.path.dirname(real))
    except OSError:
        return st
    foreign = st.st_uid not in (0, here.st_uid) if euid == 0 else euid not in (st.st_uid, here.st_uid)
    if _sticky(here) and foreign:
        raise InputError(f"cannot write: owned by another user in the sticky directory {os.path.dirname(real)}", p)
    return st


def check_output(path: str | Path | None, *, links: bool = True) -> None:
    """Raise InputError (one line naming ``path``) if ``path`` cannot be written; call before work starts.

    ``None`` (no output asked for) and ``-`` (standard output) always pass.  ``links=False``: the final
    component is hairpin's own name, replaced whatever is there (see :func:`open_output`)."""
    if path is None:
        return
    p = str(path)
    if p == "-":
        return
    if p == "":
        raise InputError("cannot write: empty file name")
    if len(os.fsencode(os.path.basename(p))) > NAME_MAX:  # no file system of Linux takes it (ENAMETOOLONG)
        raise InputError(f"cannot write: the file name is longer than {NAME_MAX} bytes", p)
    if links and _is_passthrough(p):
        if os.path.exists(p) and not os.access(p, os.W_OK):
            raise InputError("cannot write: permission denied", p)
        return
    try:
        real = _resolve(p, last=links)
        st = os.stat(real, follow_symlinks=links)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", p) from None
    if st is not None and links:
        if stat.S_ISDIR(st.st_mode):
            raise InputError("cannot write: is a directory", p)
        if not stat.S_ISREG(st.st_mode):
            raise InputError("cannot write: not a regular file, FIFO or character device", p)
    if st is not None and not links and stat.S_ISDIR(st.st_mode):
        raise InputError("cannot write: is a directory", p)
    parent = os.path.dirname(real)
    if not os.path.isdir(parent):
        raise InputError(f"cannot write: no such directory: {os.path.dirname(p) or '.'}", p)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write: permission denied in {os.path.dirname(p) or '.'}", p)
    if links:
        _check_existing(p, real)


def check_directory(path: str | Path) -> None:
    """Raise InputError (one line naming ``path``) unless ``path`` is a directory hairpin may write files into,
    or one it can create (its parent exists and is writable); a link on its way is followed as for
    :func:`check_output` (not one another user planted in a sticky world-writable directory)."""
    p = str(path)
    if p == "":
        raise InputError("cannot write: empty directory name")
    try:
        real = _resolve(p)
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", p) from None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise InputError("cannot write: not a directory", p)
    where = real if st is not None else os.path.dirname(real)
    if st is None and not os.path.isdir(where):
        raise InputError(f"cannot write: no such directory: {os.path.dirname(p.rstrip('/')) or '.'}", p)
    if not os.access(where, os.W_OK | os.X_OK):
        raise InputError("cannot write: permission denied", p)


def name_problem(name: str) -> str:
    """Why ``name`` (one that hairpin takes from its input, a node's) cannot be one file or directory name inside
    a directory it writes into, or '': empty, ``.`` or ``..`` (the directory itself or its parent), a ``/``
    (a path out of the directory, ``../x``, or into another, ``a/b``), a NUL (no path holds one), or longer than
    ``NAME_MAX`` bytes (``path_resolution(7)``: ENAMETOOLONG).  The same rule as iproute2's for a network
    namespace's name, a file under ``/run/netns`` (``invalid_name``, ip/ipnetns.c)."""
    if not name or name in (".", ".."):
        return "empty, '.' or '..'"
    if "/" in name or "\0" in name:
        return "a '/' or a NUL in it"
    if len(os.fsencode(name)) > NAME_MAX:
        return f"longer than {NAME_MAX} bytes"
    return ""


def check_outputs(outputs: dict[str, str | Path | None], inputs: Iterable[str | Path | None] = ()) -> None:
    """:func:`check_output` for each of ``outputs`` (option name: path), then refuse, in one line, two of them
    naming one file (the second write would replace the first) or one naming an input (the report would
    replace what it is read from).  Standard output, FIFOs and devices may be given more than once."""
    seen: dict[tuple[int, int] | str, str] = {}
    for option, path in outputs.items():
        check_output(path)
        if path is None or str(path) == "-" or _is_passthrough(str(path)):
            continue
        key = _identity(str(path))
        if key in seen:
            raise InputError(f"cannot write: given to both {seen[key]} and {option}", str(path))
        seen[key] = option
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        try:
            st = os.stat(given)
        except OSError:  # not a file (a built-in name such as "seed"): its reader says what is wrong
            continue
        if (key := (st.st_dev, st.st_ino)) in seen:
            raise InputError(f"cannot write: {seen[key]} names an input file; it would be replaced by the report",
                             str(given))  # fmt: skip


def read_from(output: str | Path | None, directory: str | Path | None, *, tree: bool) -> bool:
    """Whether a reader of ``directory`` given as input finds the file written at ``output``: a regular file
    directly in it (``tree=False``: ``trace --node DIR`` reads the directory's own files) or anywhere under it
    (``tree=True``: a walk that enters no symbolic link to a directory, ``reading.files_under``).  The directory
    the output is named in is compared by its real path, so a symbolic link in ``directory`` named as the output
    is one of its files (the reader follows it; so does the write), and a directory reached through a link
    the walk does not enter is not under it.  Standard output, FIFOs and devices are read by no such reader."""
    if output is None or directory is None or str(output) in ("-", "") or _is_passthrough(str(output)):
        return False
    top = str(directory)
    if not os.path.isdir(top):
        return False
    where = os.path.realpath(os.path.dirname(str(output)) or ".")
    top = os.path.realpath(top)
    return where == top or (tree and where.startswith(top.rstrip("/") + "/"))


def _identity(path: str) -> tuple[int, int] | str:
    """An existing file's (device, inode), else the name it resolves to: two names for one file compare equal."""
    try:
        st = os.stat(path)
        return (st.st_dev, st.st_ino)
    except OSError:
        return _resolve(path)


#: bytes a temporary name adds to the target's: ``.``, ``.hairpin-`` and 12 hex digits
_TEMPORARY_EXTRA = len(".") + len(".hairpin-") + 12


def _temporary_names(name: str) -> Iterator[str]:
    """Sixteen random names to try beside ``name`` for a temporary file (``.NAME.hairpin-`` and 12 hex digits, 48
    random bits from ``os.urandom``).  A name too long for that to fit in ``NAME_MAX`` bytes (over 233) is cut to
    its first 233 bytes (``.NAMEPREFIX.hairpin-...``, never longer than ``NAME_MAX``): the random part, what makes
    the name unpredictable, is never shortened, and the file is created or linked exclusively as any other."""
    raw = os.fsencode(name)[: NAME_MAX - _TEMPORARY_EXTRA]
    # os.fsdecode undoes os.fsencode byte for byte (surrogateescape): half a UTF-8 character cut off stays bytes
    stem = os.fsdecode(raw)
    for _ in range(16):
        yield f".{stem}.hairpin-{os.urandom(6).hex()}"


def _temporary(dfd: int, name: str, shown: str) -> tuple[int, str]:
    """A new file of a random name beside ``name`` in the directory ``dfd`` (``O_EXCL|O_NOFOLLOW``: nothing planted
    there is followed or opened): its descriptor and its name."""
    for tmp in _temporary_names(name):
        try:
            # rw for user and group as the umask allows, never others' write (a report holds cluster data
            # another user could then change unseen); a replaced file gets its old mode back (fchmod)
            return os.open(tmp, _FLAGS, _NEW_MODE, dir_fd=dfd), tmp
        except FileExistsError:
            continue
    raise InputError("cannot write: no free temporary name", shown)


#: errors of ``open(O_TMPFILE)`` that mean "not here" (``open(2)``): a kernel before Linux 3.11 (EISDIR; the
#: flag holds ``O_DIRECTORY``), a file system without it (EOPNOTSUPP), a C library or emulation that refuses it
_NO_TMPFILE = (errno.EISDIR, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOENT, errno.ENOSYS)


def _unnamed(dfd: int) -> int | None:
    """An unnamed file in the directory ``dfd`` (``O_TMPFILE``, ``open(2)``), or None where that cannot be had:
    no name exists until :func:`_link` gives it one, so a process killed while writing (``kill -9``) leaves
    nothing behind.  It is named through ``/proc/self/fd`` (``linkat(2)`` with ``AT_SYMLINK_FOLLOW``, the form
    ``open(2)`` gives for a process without ``CAP_DAC_READ_SEARCH``), so without ``/proc`` it is not used."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        # O_RDWR: read back if the name cannot be given (_link); the mode as for a named temporary file
        return os.open(".", flag | os.O_RDWR | os.O_CLOEXEC, _NEW_MODE, dir_fd=dfd)
    except OSError as exc:
        if exc.errno in _NO_TMPFILE:
            return None
        raise


def _link(fd: int, dfd: int, name: str, shown: str) -> str | None:
    """Give the unnamed file ``fd`` a name in the directory ``dfd``: ``name`` itself when nothing is there (a link
    is never made over an existing name, nor through a symbolic link at it: ``linkat(2)``, EEXIST), else a random
    temporary name, returned for the rename over ``name``.  A link that fails otherwise (a security module's
    refusal) copies the file to a named temporary file instead."""
    source = f"/proc/self/fd/{fd}"
    try:
        os.link(source, name, dst_dir_fd=dfd, follow_symlinks=True)
        return None
    except FileExistsError:
        pass
    except OSError:
        return _copy(fd, dfd, name, shown)
    for tmp in _temporary_names(name):
        try:
            os.link(source, tmp, dst_dir_fd=dfd, follow_symlinks=True)
            return tmp
        except FileExistsError:
            continue
    raise InputError("cannot write: no free temporary name", shown)


def _copy(fd: int, dfd: int, name: str, shown: str) -> str:
    """``fd``'s bytes, mode and owner in a new named temporary file beside ``name`` (its name returned)."""
    out, tmp = _temporary(dfd, name, shown)
    try:
        st = os.fstat(fd)
        _keep_owner(out, st)
        os.fchmod(out, stat.S_IMODE(st.st_mode))
        os.lseek(fd, 0, os.SEEK_SET)
        while chunk := os.read(fd, 1 << 20):
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view) :]
        os.fsync(out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dfd)
        raise
    finally:
        os.close(out)
    return tmp


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
    check_output(p, links=links)
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
    try:  # links=False: the directory resolved, the last component replaced as a name, never followed
        real = _resolve(p, last=links)
        old = _check_existing(p, real) if links else None
        if not links:  # a file at hairpin's own name that is not ours was planted: its mode is not taken
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(real)
                old = st if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() else None
        directory, name = os.path.split(real)
        # every name below is taken in this one directory, opened once
        dfd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", p) from None
    done = False
    tmp: str | None = None
    try:
        fd = _unnamed(dfd)
        if fd is None:
            fd, tmp = _temporary(dfd, name, p)
        fh = os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8")
        with fh:
            yield fh
            fh.flush()
            if old is not None:  # on the open file: a name in a shared directory could be swapped meanwhile
                _keep_owner(fh.fileno(), old)
                os.fchmod(fh.fileno(), stat.S_IMODE(old.st_mode) & 0o777)
            os.fsync(fh.fileno())
            if tmp is None:  # unnamed until now: linked at the target's name, or beside it for the rename
                tmp = _link(fh.fileno(), dfd, name, p)
                done = tmp is None
        if not done:
            assert tmp is not None
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            done = True
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", p) from None
    finally:
        if not done and tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
        os.close(dfd)


def _keep_owner(fd: int, old: os.stat_result) -> None:
    """The replaced file's owner and group on ``fd``, as far as this process may set them (``chown(2)``: root
    any; a user a group of their own), as ``>`` in a shell, which writes the same inode, would keep them."""
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) == (old.st_uid, old.st_gid):
        return
    try:
        os.fchown(fd, old.st_uid, old.st_gid)
    except PermissionError:
        with contextlib.suppress(PermissionError):
            os.fchown(fd, -1, old.st_gid)


def write_output(path: str | Path, data: str | bytes, *, links: bool = True) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` through :func:`open_output`."""
    if isinstance(data, bytes):
        with open_output(path, binary=True, links=links) as fb:
            fb.write(data)
    else:
        with open_output(path, links=links) as ft:
            ft.write(data)
