"""What a lab made, on disk, before it is made.

A record is a JSON file under ``/run/hairpin/labs/`` (``HAIRPIN_LAB_DIR`` overrides it) naming the lab's
unique prefix, its owner's pid, the namespaces it created and the processes it started.  Each namespace
is added to the record *before* it is created, so a crash at any point leaves a record that covers
everything that exists.  Removal deletes exactly the recorded names, never a pattern.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hairpin.writing import write_output

__all__ = ["LabRecord", "clean", "is_stale", "labs", "new_prefix", "state_dir"]


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

    @property
    def path(self) -> Path:
        return state_dir() / f"{self.prefix.rstrip('-')}.json"

    def save(self) -> None:
        d = state_dir()
        d.mkdir(parents=True, exist_ok=True)
        write_output(self.path, json.dumps(asdict(self), indent=1))  # whole or not at all, links not followed

    @classmethod
    def load(cls, path: Path) -> LabRecord:
        data = json.loads(path.read_text())
        return cls(**data)

    def owner_alive(self) -> bool:
        try:
            os.kill(self.owner, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def remove(self) -> list[str]:
        """Kill the recorded processes, delete the recorded namespaces and files, then the record."""
        from pyroute2 import netns

        for pid in self.pids:
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
        if self.pids:
            time.sleep(0.05)
        existing = set(netns.listnetns())
        removed = []
        for name in reversed(self.namespaces):
            if name in existing:
                netns.remove(name)
                removed.append(name)
        for f in self.files:
            Path(f).unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)
        return removed


def labs() -> list[LabRecord]:
    d = state_dir()
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.glob("hp*.json")):
        try:
            out.append(LabRecord.load(p))
        except (OSError, ValueError, TypeError):
            continue
    return out


def is_stale(rec: LabRecord) -> bool:
    """A lab nobody will remove: its owner died while building it, or while running with it (no `lab up`)."""
    if rec.owner_alive():
        return False
    return rec.state == "building" or not rec.persistent


def clean(stale_only: bool = True) -> list[str]:
    """Remove stale labs (or every recorded lab, with ``stale_only=False``); returns the namespaces removed."""
    removed: list[str] = []
    for rec in labs():
        if stale_only and not is_stale(rec):
            continue
        removed += rec.remove()
    return removed
