"""A private network namespace with one veth, for root tests that probe the kernel's own netfilter: created
under a unique name, deleted afterwards even when the test fails; nothing leaves it (its default route
points into the veth, whose peer is in the same namespace)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def sh(ns: str, *argv: str, stdin: str | None = None) -> str:
    """``argv`` run in namespace ``ns``: its standard output (a failure raises)."""
    return subprocess.run(["ip", "netns", "exec", ns, *argv], input=stdin, capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


@contextmanager
def one_veth(prefix: str, extra: Sequence[str] = ()) -> Iterator[str]:
    """A namespace ``PREFIX-XXXXXX`` with lo up and eth0 (10.0.0.1/24, and each ``extra`` address as a /32,
    peer0 its peer) up, the default route out eth0."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        sh(name, "ip", "link", "set", "lo", "up")
        sh(name, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
        sh(name, "ip", "link", "set", "peer0", "up")
        sh(name, "ip", "addr", "add", "10.0.0.1/24", "dev", "eth0")
        for addr in extra:
            sh(name, "ip", "addr", "add", f"{addr}/32", "dev", "eth0")
        sh(name, "ip", "link", "set", "eth0", "up")
        sh(name, "ip", "route", "add", "default", "dev", "eth0")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
