"""How the lab proves that a namespace or a process is the one it made, and how it makes a namespace so that
the proof is on disk before the name exists.

What it knows:

- A named network namespace is a bind mount of the namespace's nsfs inode at ``/run/netns/NAME``
  (iproute2's ``ip netns add``; ``ip netns attach`` does the same for a running process).
  ``stat`` on that path gives the nsfs inode: its number is the namespace's id for the namespace's whole life
  (``/proc/PID/ns/net`` shows the same number, ``namespaces(7)``), but the kernel hands a freed number out
  again, so a namespace made later under the same name may have it; the inode's ctime is set when the inode
  is made and stays while the bind mount pins it (measured on 6.18: ``ip netns exec`` does not change it,
  a namespace deleted and made again under the same name gets another ctime).  The identity recorded is
  ``(inode, ctime_ns)``.
- ``create`` unshares a new network namespace in a thread of its own, learns its inode number and ctime
  (``/proc/thread-self/ns/net``, held open), makes the empty file the name's bind mount goes on as an unnamed
  file (``open(2)``, ``O_TMPFILE``) and learns its device and inode number, hands all four to the caller to
  record, and only then gives the file its name (``linkat(2)``, which fails with ``EEXIST`` on a name that
  exists: a name is never taken over) and bind-mounts the thread's namespace on it (``mount(2)``, ``MS_BIND``),
  as iproute2's ``ip netns add`` does (ip/ipnetns.c, ``netns_add``: the run directory made a shared mount point
  first, then the file, then the bind mount).  If the process dies before the mount, the namespace dies with the
  thread, nameless, and what may be left is an empty, unmounted file at the name whose device and inode number
  the record holds: ``lab_mount_point`` tells it, and removal deletes it.  Where an unnamed file cannot be made
  (``EOPNOTSUPP``; ``EISDIR`` from a kernel older than 3.11, ``open(2)``) or linked (``_link``), the file is
  made by name (``O_CREAT | O_EXCL``) and recorded right after: a kill between the two leaves an empty file no
  record proves, and it stays.
- A process is identified by its pid and its start time (field 22 of ``/proc/PID/stat``, clock ticks after
  boot, ``proc(5)``): a pid the kernel has given to another process since has another start time.
- Every process whose ``/proc/PID/ns/net`` is one of a lab's proven namespaces runs inside the lab
  (``ip netns pids`` finds them the same way): ``processes_in``.  Not every one of them is the lab's: someone
  may have entered a namespace of a ``lab up`` lab (``ip netns exec NAME bash``).  The lab starts each of its
  processes with ``HAIRPIN_LAB=<prefix>`` in its environment (``lab_env``), which ``/proc/PID/environ`` shows
  for the process's whole life (``proc(5)``: the environment it was started with), so a process it started and
  had not recorded yet when it was killed is still found, and nobody else's is ended.
- A namespace name is what iproute2 accepts for ``ip netns``: not empty, at most ``NAME_MAX`` (255) bytes, no
  ``/``, not ``.`` or ``..`` (ip/ipnetns.c, ``invalid_name``), and no NUL (no path holds one): ``invalid_name``.
- ``deferred_signals``: SIGINT, SIGTERM and SIGHUP that arrive while the lab records what it just made, or while
  it removes a lab, take effect right after (the main thread only; Python runs signal handlers there).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import queue
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from hairpin.writing import name_problem

__all__ = [
    "MARK",
    "NETNS_DIR",
    "create",
    "deferred_signals",
    "invalid_name",
    "lab_env",
    "lab_mount_point",
    "marked",
    "netns_identity",
    "proc_start",
    "processes_in",
]

NETNS_DIR = Path("/run/netns")  # iproute2's NETNS_RUN_DIR; pyroute2 uses the same
CLONE_NEWNET = 0x40000000  # <linux/sched.h>
MARK = "HAIRPIN_LAB"  # in the environment of every process a lab starts: MARK=<its prefix>
MS_BIND, MS_REC, MS_SHARED = 4096, 16384, 1 << 20  # <linux/mount.h>, mount(2)
AT_FDCWD, AT_SYMLINK_FOLLOW, AT_EMPTY_PATH = -100, 0x400, 0x1000  # <linux/fcntl.h>, linkat(2)
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # what deferred_signals holds back


def invalid_name(name: str) -> str:
    """Why ``name`` cannot name a network namespace (module doc), or '': a namespace's name is a file name under
    ``NETNS_DIR``, so the rule is :func:`hairpin.writing.name_problem`'s."""
    return name_problem(name)


def lab_env(prefix: str) -> dict[str, str]:
    """The environment of a process the lab with ``prefix`` starts: this one's, and ``HAIRPIN_LAB=<prefix>``."""
    return {**os.environ, MARK: prefix}


def marked(pid: int, prefix: str) -> bool:
    """Process ``pid`` was started with ``HAIRPIN_LAB=<prefix>`` (``lab_env``) in its environment."""
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return os.fsencode(f"{MARK}={prefix}") in env.split(b"\0")


def _nsfs_dev() -> int:
    return os.stat("/proc/self/ns/net").st_dev  # follows the magic link to the nsfs inode


def netns_identity(name: str) -> tuple[int, int] | None:
    """``(inode, ctime_ns)`` of the namespace named ``name``, or None if no namespace is mounted there."""
    try:
        st = os.stat(NETNS_DIR / name, follow_symlinks=False)
    except OSError:
        return None
    if st.st_dev != _nsfs_dev():  # an empty mount point, a file, a directory: no namespace
        return None
    return st.st_ino, st.st_ctime_ns


def lab_mount_point(name: str, ident: list[int]) -> bool:
    """``NETNS_DIR/name`` is the file ``create`` made for that name, with no namespace mounted on it: its device and
    inode number are ``ident`` (recorded before it had the name), and it is still what ``create`` makes, a regular
    file, empty, mode 000, with one link.  (A namespace mounted on it would show the nsfs inode instead.)"""
    try:
        st = os.stat(NETNS_DIR / name, follow_symlinks=False)
    except OSError:
        return False
    return ([st.st_dev, st.st_ino] == ident and stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0
            and st.st_size == 0 and st.st_nlink == 1)  # fmt: skip


def proc_start(pid: int) -> int | None:
    """Process ``pid``'s start time (clock ticks after boot), None if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text.rsplit(")", 1)[1].split()[19])  # after the command's ")": field 3 is the first


def processes_in(inodes: set[int]) -> list[int]:
    """Every process whose network namespace has one of these inode numbers."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.stat(f"/proc/{entry.name}/ns/net").st_ino in inodes:
                out.append(int(entry.name))
    return out


def create(name: str, record: Callable[[int, int, list[int]], None]) -> tuple[int, int]:
    """Make network namespace ``name``: ``record(inode, ctime_ns, [dev, ino])`` (the namespace's identity, and the
    device and inode number of the file its name is mounted on) is called, and must have saved them, before the
    name exists.  Returns the namespace's identity, ``(inode, ctime_ns)``.  FileExistsError if ``name`` exists.

    The thread holds the namespace's nsfs inode open from before ``record`` until the name's bind mount holds
    it, so the ctime recorded is the named namespace's (an nsfs inode nobody holds is dropped, and the next
    look makes a new one with a new ctime; measured on 6.18: the same ctime through the fd, ``/proc/TID/ns/net``,
    the name, and after the fd is closed)."""
    libc = ctypes.CDLL(None, use_errno=True)
    made: queue.Queue[tuple[int, int, int] | OSError] = queue.Queue()
    done = threading.Event()

    def hold() -> None:  # the namespace lives as long as this thread (or its name, once mounted)
        try:
            if libc.unshare(CLONE_NEWNET) != 0:
                made.put(OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed"))
                return
            fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                st = os.fstat(fd)
                made.put((st.st_ino, st.st_ctime_ns, threading.get_native_id()))
                done.wait()
            finally:
                os.close(fd)
        except OSError as exc:
            made.put(exc)

    thread = threading.Thread(target=hold, name=f"netns {name}", daemon=True)
    thread.start()
    try:
        got = made.get()
        if isinstance(got, OSError):
            raise got
        inode, ctime, tid = got
        path = NETNS_DIR / name
        _shared_run_dir(libc)
        _mount_point(path, lambda file: record(inode, ctime, file))
        if libc.mount(os.fsencode(f"/proc/{tid}/ns/net"), os.fsencode(path), b"none", MS_BIND, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"bind mount on {path}: {os.strerror(err)}")
    finally:
        done.set()
        thread.join()
    ident = netns_identity(name)
    if ident != (inode, ctime):
        raise OSError(f"network namespace {name}: not the namespace just made")
    return ident


def _shared_run_dir(libc: ctypes.CDLL) -> None:
    """``NETNS_DIR`` made (mode 0755) and a shared mount point, so that a name's unmount reaches every mount
    namespace, as ``ip netns add`` makes it (iproute2 ip/ipnetns.c, ``create_netns_dir`` and ``netns_add``): making
    it shared fails with EINVAL while it is not a mount point, and it is then bind-mounted on itself, once."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(NETNS_DIR, 0o755)
    run_dir, bound = os.fsencode(NETNS_DIR), False
    while libc.mount(b"none", run_dir, b"none", MS_SHARED | MS_REC, None) != 0:
        err = ctypes.get_errno()
        if err != errno.EINVAL or bound:
            raise OSError(err, f"making {NETNS_DIR} a shared mount point: {os.strerror(err)}")
        if libc.mount(run_dir, run_dir, b"none", MS_BIND | MS_REC, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"bind mount of {NETNS_DIR} on itself: {os.strerror(err)}")
        bound = True


def _mount_point(path: Path, record: Callable[[list[int]], None]) -> None:
    """The empty file (mode 000) a name's bind mount goes on, made at ``path`` with ``record([dev, ino])`` called
    before it has its name where the file system allows (module doc), right after elsewhere; FileExistsError if
    ``path`` exists.  ``record`` may be called twice (an unnamed file that could not be linked, then a named one)."""
    try:  # an unnamed file in the directory (open(2), O_TMPFILE: with O_WRONLY, and without O_EXCL to be linkable)
        fd = os.open(path.parent, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR):
            raise
    else:
        try:
            st = os.fstat(fd)
            record([st.st_dev, st.st_ino])
            if _link(fd, path):
                return
        finally:
            os.close(fd)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0)
    try:  # no unnamed file here: named first, recorded right after (module doc)
        st = os.fstat(fd)
        record([st.st_dev, st.st_ino])
    finally:
        os.close(fd)


def _link(fd: int, path: Path) -> bool:
    """Give the unnamed file ``fd`` the name ``path`` (linkat(2)); FileExistsError if it exists, False if this process
    cannot link an unnamed file there.  ``AT_EMPTY_PATH`` needs CAP_DAC_READ_SEARCH (without it: ENOENT);
    ``/proc/self/fd/N`` with ``AT_SYMLINK_FOLLOW`` needs no capability, but a kernel may refuse it with EXDEV
    (measured on 6.18 in a virtual machine: even for a named file, on the same mount)."""
    libc = ctypes.CDLL(None, use_errno=True)
    tries: list[Callable[[], int]] = [
        lambda: libc.linkat(fd, b"", AT_FDCWD, os.fsencode(path), AT_EMPTY_PATH),
        lambda: libc.linkat(
            AT_FDCWD, os.fsencode(f"/proc/self/fd/{fd}"), AT_FDCWD, os.fsencode(path), AT_SYMLINK_FOLLOW
        ),
    ]
    for attempt in tries:
        if attempt() == 0:
            return True
        err = ctypes.get_errno()
        if err not in (errno.ENOENT, errno.EPERM, errno.EXDEV):
            raise OSError(err, os.strerror(err), str(path))  # FileExistsError for EEXIST
    return False


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP received inside the block are delivered (to the handlers in place before it)
    when it ends; the first of them only.  Outside the main thread the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[tuple[int, FrameType | None]] = []
    old: dict[int, Any] = {s: signal.getsignal(s) for s in SIGNALS}
    for s in old:
        signal.signal(s, lambda signum, frame: pending.append((signum, frame)))
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for signum, frame in pending[:1]:
            handler = old[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)
