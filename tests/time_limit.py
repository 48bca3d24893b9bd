"""A test's bound on time: the body fails instead of hanging (SIGALRM; the main thread only)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class TimeLimit(Exception):
    """Raised in the body when its time is up; not an ``OSError`` (as ``TimeoutError`` is), so no reader's
    ``except OSError`` can take it for a file that cannot be read."""


@contextmanager
def within(seconds: int) -> Iterator[None]:
    """Raise ``TimeLimit`` in the body when it takes longer than ``seconds``."""

    def ring(signum: int, frame: object) -> None:
        raise TimeLimit(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
