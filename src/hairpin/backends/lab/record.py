"""What a lab made, on disk, before it is made.

A record is a JSON file under ``/run/hairpin/labs/`` (``HAIRPIN_LAB_DIR`` overrides it) naming the lab's
unique prefix, its owner's pid, the namespaces it created and the processes it started.  Each namespace
is added to the record, with its identity (``identity``: nsfs inode number and the inode's ctime),
*before* it gets its name, and each process with its start time as soon as it is started, so a crash at any
point leaves a record that covers everything that exists.  Removal ends the recorded processes whose start
time still matches and that the lab started (``identity.marked``: its ``HAIRPIN_LAB`` in their environment), and
every other process inside the lab's namespaces that the lab started, then deletes the recorded namespaces whose
identity still matches, the empty file a kill left at a recorded name before its namespace was mounted there
when the record holds that very file (``identity.lab_mount_point``), and the recorded files: never a pattern,
never a name alone.  Anyone else's process inside them is left running (``LabRecord.strangers``).

A record is read only if it is a regular file (not a symlink) owned by the user reading it, at most
``RECORD_LIMIT`` bytes, named after its prefix, and holds exactly a record's fields with their types, every
namespace under its prefix and every file one of its own CLB logs; anything else is an ``InputError`` naming
the file, and nothing is removed on its word.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import signal
import stat
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hairpin.backends.lab import identity
from hairpin.errors import InputError
from hairpin.text import digits
from hairpin.writing import write_output

__all__ = ["RECORD_LIMIT", "LabRecord", "clean", "is_stale", "labs", "new_prefix", "state_dir"]

RECORD_LIMIT = 1 << 20  # bytes; a record of the largest scenario is a few kB
PREFIX = re.compile(r"hp[0-9a-f]{6}-\Z")  # new_prefix
STOP_WAIT = 3.0  # seconds a process gets to end after SIGTERM before SIGKILL


def state_dir() -> Path:
    return Path(os.environ.get("HAIRPIN_LAB_DIR", "/run/hairpin/labs"))


def new_prefix() -> str:
    """A unique per-lab prefix such as ``hp3fa9c1-``."""
    return f"hp{secrets.token_hex(3)}-"


@dataclass
class LabRecord:
    prefix: str
    scenario: str
    owner: int
    created: float
    namespaces: list[str] = field(default_factory=list)  # real names, in creation order
    pids: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # files it wrote (the CLB proxies' logs), removed with it
    fix: str | None = None
    state: str = "building"  # building | up
    persistent: bool = False  # made by `hairpin lab up`: outlives its owner until `hairpin lab down`
    #: namespace -> [nsfs inode, inode ctime in ns, time.time_ns() when recorded]; a record of an older hairpin
    #: may hold ctime 0 (recorded once the name existed, and its owner died before that)
    netns_ids: dict[str, list[int]] = field(default_factory=dict)
    #: namespace -> [st_dev, st_ino] of the file under /run/netns its name is mounted on, recorded before that file
    #: had the name (identity.create); a record of an older hairpin has none
    mount_points: dict[str, list[int]] = field(default_factory=dict)
    #: str(pid) -> start time in clock ticks after boot (/proc/PID/stat field 22)
    starts: dict[str, int] = field(default_factory=dict)
    #: the owner's start time (clock ticks after boot): a pid given to another process since is not the owner
    owner_start: int | None = None
    #: after ``remove``: recorded namespaces that exist but are not the lab's (not saved)
    kept: list[str] = field(default_factory=list, repr=False, compare=False, metadata={"saved": False})
    #: after ``remove``: processes the lab did not start that were running inside its namespaces (left alone; a
    #: namespace ends once the last of them has, its name is gone already)
    strangers: list[int] = field(default_factory=list, repr=False, compare=False, metadata={"saved": False})
    #: after ``remove``: recorded names whose empty, unmounted file (the lab's: ``mount_points``) it deleted
    emptied: list[str] = field(default_factory=list, repr=False, compare=False, metadata={"saved": False})

    @property
    def path(self) -> Path:
        return state_dir() / f"{self.prefix.rstrip('-')}.json"

    def save(self) -> None:
        d = state_dir()
        d.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in asdict(self).items() if k in _SAVED}
        # whole or not at all; a symlink (or anything) planted at the record's own name is replaced, never followed
        write_output(self.path, json.dumps(data, indent=1), links=False)

    @classmethod
    def load(cls, path: Path) -> LabRecord:
        """The record in ``path``; InputError (naming the file) unless it is one hairpin wrote (module doc)."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            why = "a symlink" if os.path.islink(path) else (exc.strerror or str(exc)).lower()
            raise InputError(f"not a lab record: {why}", str(path)) from None
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise InputError("not a lab record: not a regular file", str(path))
            if st.st_uid != os.geteuid():
                raise InputError(f"not a lab record: owned by uid {st.st_uid}, not by uid {os.geteuid()}", str(path))
            raw = f.read(RECORD_LIMIT + 1)
        if len(raw) > RECORD_LIMIT:
            raise InputError(f"not a lab record: larger than {RECORD_LIMIT} bytes", str(path))
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"not a lab record: not JSON ({str(exc).splitlines()[0]})", str(path)) from None
        why = _invalid(data, path)
        if why:
            raise InputError(f"not a lab record: {why}", str(path))
        return cls(**data)

    def owner_alive(self) -> bool:
        """The process that made the lab still runs: its pid has the recorded start time (when recorded) and
        is not a zombie (a process killed a moment ago, not yet reaped, has ended)."""
        start = identity.proc_start(self.owner)
        if start is None or (self.owner_start is not None and start != self.owner_start):
            return False
        return _running(self.owner)

    def forget_pid(self, pid: int) -> None:
        """The lab ended and reaped process ``pid`` itself: out of the record, saved."""
        self.pids.remove(pid)
        self.starts.pop(str(pid), None)
        self.save()

    def note_pid(self, pid: int) -> None:
        """Record process ``pid`` (just started by the lab) with its start time, and save."""
        self.pids.append(pid)
        start = identity.proc_start(pid)
        if start is not None:
            self.starts[str(pid)] = start
        self.save()

    def owns_pid(self, pid: int) -> bool:
        """Process ``pid`` is the one the lab started: its start time is the recorded one, and it carries the lab's
        ``HAIRPIN_LAB`` (``identity.marked``; every process the lab starts does), so a record that copies another
        process's pid and start time from /proc cannot have it ended."""
        want = self.starts.get(str(pid))
        return want is not None and identity.proc_start(pid) == want and identity.marked(pid, self.prefix)

    def owns_netns(self, name: str) -> bool:
        """Namespace ``name`` is the one the lab made: same nsfs inode, and the recorded ctime (or, in an older
        hairpin's record whose owner died before recording it, one no earlier than the second before it made the
        namespace: weaker, since the kernel may give a freed inode number to a namespace made later)."""
        ident, now = self.netns_ids.get(name), identity.netns_identity(name)
        if ident is None or now is None or now[0] != ident[0]:
            return False
        return now[1] == ident[1] if ident[1] else now[1] >= ident[2] - 1_000_000_000

    def remove(self) -> list[str]:
        """End the lab's processes, delete its namespaces and files (only what is proven the lab's: module
        doc), then the record.  Returns the namespaces deleted; ``self.kept`` is what was recorded, exists,
        and is not the lab's.  SIGINT, SIGTERM and SIGHUP wait until it is done."""
        with identity.deferred_signals():
            return self._remove()

    def report(self, kept: list[str] | None, strangers: list[int] | None, emptied: list[str] | None) -> None:
        """After ``remove``: add what it left or deleted besides namespaces to the lists given."""
        if kept is not None:
            kept += self.kept
        if strangers is not None:
            strangers += self.strangers
        if emptied is not None:
            emptied += self.emptied

    def _remove(self) -> list[str]:
        from pyroute2 import netns

        mine = [n for n in self.namespaces if self.owns_netns(n)]
        self.kept = [n for n in self.namespaces if n not in mine and identity.netns_identity(n) is not None]
        inodes = {self.netns_ids[n][0] for n in mine}
        procs = [(p, identity.proc_start(p)) for p in self.pids if self.owns_pid(p)]
        inside = [p for p in identity.processes_in(inodes) if p not in self.pids]
        procs += [(p, identity.proc_start(p)) for p in inside if identity.marked(p, self.prefix)]
        self.strangers = [p for p in inside if not identity.marked(p, self.prefix)]
        for pid, _ in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT
        while left := [p for p, s in procs if s is not None and identity.proc_start(p) == s and _running(p)]:
            if time.monotonic() > deadline:
                for pid in left:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        removed = []
        for name in reversed(mine):
            # proven again just before: another removal of the same lab (two `hairpin lab clean` at once, or
            # `up` cleaning while `clean` runs) may have deleted it meanwhile (was a FileNotFoundError traceback),
            # or something else may now be mounted at the name: that is kept, and said to be (it was left out of
            # both lists, so a namespace that still existed went unreported)
            if not self.owns_netns(name):
                if identity.netns_identity(name) is not None:
                    self.kept.append(name)
                continue
            try:
                netns.remove(name)
            except FileNotFoundError:
                continue
            removed.append(name)
        self.emptied = []
        for name in self.namespaces:
            if name in removed or not identity.lab_mount_point(name, self.mount_points.get(name, [])):
                continue
            try:
                (identity.NETNS_DIR / name).unlink()
            except OSError as exc:  # gone meanwhile, or EBUSY: something was mounted on it meanwhile (unlink(2))
                if exc.errno not in (errno.ENOENT, errno.EBUSY):
                    raise
                continue
            self.emptied.append(name)
        for f in self.files:
            Path(f).unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)
        return removed


def _running(pid: int) -> bool:
    """Not a zombie (a zombie has ended; its parent reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


_TYPES: dict[str, Any] = {"prefix": str, "scenario": str, "owner": int, "created": (int, float),
                          "namespaces": list, "pids": list, "files": list, "fix": (str, type(None)), "state": str,
                          "persistent": bool, "netns_ids": dict, "mount_points": dict, "starts": dict,
                          "owner_start": (int, type(None))}  # fmt: skip


_SAVED = {f.name for f in fields(LabRecord) if f.metadata.get("saved", True)}


def _invalid(data: Any, path: Path) -> str:
    """Why ``data`` (read from ``path``) is not a record hairpin wrote, or ''."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if set(data) - _SAVED:
        return f"unknown field {sorted(set(data) - _SAVED)[0]!r}"
    for key in ("prefix", "scenario", "owner", "created"):
        if key not in data:
            return f"no {key!r}"
    for key, value in data.items():
        want = _TYPES[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            return f"{key!r} has the wrong type"
    prefix = data["prefix"]
    if not PREFIX.match(prefix) or path.name != f"{prefix.rstrip('-')}.json":
        return f"prefix {prefix!r} is not the file's ({path.name})"
    if not all(isinstance(n, str) and n.startswith(prefix) and "/" not in n for n in data.get("namespaces", [])):
        return f"a namespace not under the prefix {prefix}"
    if any(identity.invalid_name(n) for n in data.get("namespaces", [])):
        return "a namespace name that ip netns would refuse"
    if not all(type(p) is int and p > 1 for p in data.get("pids", [])):
        return "a pid that is not a process number above 1"
    logs = {str(path.with_name(f"{prefix}clb{i}.log")) for i in range(len(data.get("files", [])))}
    if not all(f in logs for f in data.get("files", [])):
        return "a file that is not one of the lab's own logs"
    ids = data.get("netns_ids", {})
    if not all(n in data.get("namespaces", []) and isinstance(v, list) and len(v) == 3
               and all(type(x) is int for x in v) for n, v in ids.items()):  # fmt: skip
        return "a namespace identity that is not [inode, ctime_ns, not_before_ns] of a recorded namespace"
    files = data.get("mount_points", {})
    if not all(n in data.get("namespaces", []) and isinstance(v, list) and len(v) == 2
               and all(type(x) is int for x in v) for n, v in files.items()):  # fmt: skip
        return "a mount point that is not [st_dev, st_ino] of a recorded namespace"
    if not all(
        digits(k) and int(k) in data.get("pids", []) and type(v) is int for k, v in data.get("starts", {}).items()
    ):
        return "a process start time that is not of a recorded pid"
    return ""


def labs() -> list[LabRecord]:
    """Every record in ``state_dir()``; InputError (naming the file) for a file there that is not one."""
    d = state_dir()
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.glob("hp*.json")):
        try:
            out.append(LabRecord.load(p))
        except InputError:
            if os.path.lexists(p):
                raise
            # removed since the listing: its lab was removed by its owner meanwhile (two labs at once)
    return out


def is_stale(rec: LabRecord) -> bool:
    """A lab nobody will remove: its owner died while building it, or while running with it (no `lab up`)."""
    if rec.owner_alive():
        return False
    return rec.state == "building" or not rec.persistent


def clean(stale_only: bool = True, kept: list[str] | None = None, strangers: list[int] | None = None,
          emptied: list[str] | None = None) -> list[str]:  # fmt: skip
    """Remove stale labs (or every recorded lab, with ``stale_only=False``); returns the namespaces removed
    and adds to ``kept`` the recorded ones left because they are not the lab's (``LabRecord.owns_netns``), to
    ``strangers`` the processes left running in them because the lab did not start them, to ``emptied`` the
    names whose empty mount point it deleted (``LabRecord.emptied``)."""
    removed: list[str] = []
    for rec in labs():
        if stale_only and not is_stale(rec):
            continue
        removed += rec.remove()
        rec.report(kept, strangers, emptied)
    return removed
