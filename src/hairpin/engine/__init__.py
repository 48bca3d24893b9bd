"""The discrete-event core: one scheduling primitive and a clock.

Events sit in a heap keyed by (time, priority, sequence): equal times run by priority, then in the order
they were scheduled, so every run with the same inputs is the same run.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Engine", "Timer"]


@dataclass(order=True)
class _Event:
    time: float
    priority: int
    seq: int
    action: Callable[[], None] = field(compare=False)
    timer: Timer | None = field(compare=False, default=None)


class Timer:
    """A handle to a scheduled event; ``cancel()`` makes it a no-op."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Engine:
    """Runs scheduled callables in time order.  ``now`` is the simulated time in seconds."""

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list[_Event] = []
        self._seq = 0

    def at(self, time: float, action: Callable[[], None], priority: int = 0) -> Timer:
        """Schedule ``action`` at absolute ``time`` (never in the past)."""
        timer = Timer()
        self._seq += 1
        heapq.heappush(self._queue, _Event(max(time, self.now), priority, self._seq, action, timer))
        return timer

    def after(self, delay: float, action: Callable[[], None], priority: int = 0) -> Timer:
        return self.at(self.now + delay, action, priority)

    def run(self, until: float | None = None) -> None:
        """Run events until the queue is empty or the next event is later than ``until``."""
        q = self._queue
        while q:
            if until is not None and q[0].time > until:
                self.now = until
                return
            ev = heapq.heappop(q)
            if ev.timer is not None and ev.timer.cancelled:
                continue
            self.now = ev.time
            ev.action()

    def reset(self) -> None:
        self.now = 0.0
        self._queue.clear()
        self._seq = 0

    @property
    def pending(self) -> int:
        return sum(1 for e in self._queue if not (e.timer and e.timer.cancelled))
