"""The discrete-event core: one scheduling primitive and a clock.

Events sit in a heap keyed by (time, priority, sequence): equal times run by priority, then in the order
they were scheduled, so every run with the same inputs is the same run.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

__all__ = ["Engine", "Timer"]


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
        # (time, priority, sequence, action, timer): the sequence number is unique, so tuples never
        # compare their actions.
        self._queue: list[tuple[float, int, int, Callable[[], None], Timer]] = []
        self._seq = 0

    def at(self, time: float, action: Callable[[], None], priority: int = 0) -> Timer:
        """Schedule ``action`` at absolute ``time`` (never in the past)."""
        timer = Timer()
        self._seq += 1
        heapq.heappush(self._queue, (time if time > self.now else self.now, priority, self._seq, action, timer))
        return timer

    def after(self, delay: float, action: Callable[[], None], priority: int = 0) -> Timer:
        return self.at(self.now + delay, action, priority)

    def run(self, until: float | None = None) -> None:
        """Run events until the queue is empty or the next event is later than ``until``."""
        q = self._queue
        pop = heapq.heappop
        while q:
            if until is not None and q[0][0] > until:
                self.now = until
                return
            time, _, _, action, timer = pop(q)
            if timer.cancelled:
                continue
            self.now = time
            action()

    def reset(self) -> None:
        self.now = 0.0
        self._queue.clear()
        self._seq = 0

    @property
    def pending(self) -> int:
        return sum(1 for e in self._queue if not e[4].cancelled)
