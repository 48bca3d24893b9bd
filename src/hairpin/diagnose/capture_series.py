"""What a capture cannot show about a connection's SYN series: where it was captured, and what came before.

What it knows:

- Where: an analysis may read several captures (files of several nodes, a pcapng with several interfaces), each
  with its own earliest and latest frame (``Reader.spans``: by file and interface name; a file out of time order
  begins at its earliest frame and ends at its latest, wherever they are in the file).  A connection seen in some of
  them could only have been seen while those ran, so the end that decides ``gave_up`` and the start that decides
  what came before the capture are those of the captures it was seen in (``Sources``: one bit each, an attempt's
  ``seen`` the bits of its packets), not the latest frame of every file.  A capture of the same interface name
  (None: a classic pcap's) that begins when one of those ends (within ``CONTINUE`` of it) is its continuation, a
  file of a rotation, and counts with it; captures that overlap in time (several nodes, several interfaces) do
  not, nor does one that begins later than that: frames show when a capture ran, not what it did between its
  files, so a gap between two files is a gap in the capture (until 2026-12-03 any later file of the same name
  continued it, whatever the gap: a connection seen in a file that ended 400 s before the next began was said to
  have given up, and a lone SYN at that file's end was a failure instead of cut by its end).
- Before: Linux sends a SYN, then retransmits it when its timer fires: the RTO starts at ``TCP_TIMEOUT_INIT``
  (1 s, include/net/tcp.h) and doubles at each retransmission (``tcp_retransmit_timer``, net/ipv4/tcp_timer.c),
  up to ``TCP_RTO_MAX`` (120 s), ``tcp_syn_retries`` times (6: intervals 1, 2, 4, 8, 16, 32 s, and the connect
  gives up at 127 s, ``tcp_write_timeout``); kernels 6.5 and later first keep it at 1 s
  ``tcp_syn_linear_timeouts`` times (4 by default).  So an interval of 2**k s (k >= 1) follows at least k SYNs:
  exactly k with the classic schedule, more with the linear one (macOS's is also 1 s intervals, then doubling).
  When the first interval the capture saw is 2**k s, the SYN before the first one seen came half that before it
  (2**(k-1) s: 1 s before a 2 s interval, the linear timeouts' too), as late as its timer may fire; when that is
  before the capture's start, the capture could not see it, and the series began before the capture with at
  least k SYNs (``syns_before``).  When it is after the start, the capture would have seen that SYN and did not:
  the first SYN seen may be the series' first (an initial RTO of 2**k s: a BPF program's ``TIMEOUT_INIT``), so
  nothing is said (until 2026-12-03 the whole first interval was taken: a first SYN 1.9 s into the capture with
  a 2 s interval after it claimed a SYN 0.9 s into the capture that it does not hold).  The start is the
  capture's earliest frame, wherever a file out of time order (merged by hand, a clock stepped back) holds it
  (until 2026-12-03 its first frame in the file: its first SYN seen could come before it, and nothing was said).
  Only when the intervals seen double, as that backoff makes them (at least two intervals: three SYNs), and the first
  is a power of two seconds: Windows (3 s, then doubling), a changed RTO (a route's or a BPF program's), a fixed
  interval, or one interval alone say nothing about what came before.
- The timer's lateness: a timer fires on the timer wheel's tick for its level, at most 8/63 of its timeout late
  (kernel/time/timer.c: a level's granularity is 8**n jiffies for timeouts from 63 * 8**(n-1) jiffies), never
  early; ``SLACK``.  The lab's capture (tests/data/pcap/lab-node1.pcap, a 6.x kernel's linear timeouts) shows 1 s
  intervals of 1.0019 to 1.028 s; the reference measurement of the classic schedule SYNs at 0, 1.02, 3.04, 7.26,
  15.46, 31.58 and 65.12 s (intervals 2 to 5.5 % long).  ``JITTER`` more for the capture's own timestamps.  So
  the next SYN is due, at the latest, twice the last interval late by as much (``next_due``, which ``gave_up``
  waits for): that reference's 7th SYN came 33.54 s after an interval of 16.12 s, past twice it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hairpin.parsers.pcap import Reader
from hairpin.tcp import TCP_TIMEOUT_INIT

__all__ = ["FIRST", "JITTER", "SLACK", "Sources", "doubles", "next_due", "step", "syns_before"]

SLACK = 8 / 63  # how late, at most, a timer wheel timer fires, as a share of its timeout (kernel/time/timer.c)
JITTER = 0.05  # s: the capture's timestamps (each packet stamped when its CPU handled it)
# s: a capture of the same interface that begins less than this before or after another ends continues it; the
# files of a rotation overlap by the packets written out of time order (microseconds to milliseconds), or follow
# each other by the time between two frames; the captures of several nodes overlap by their whole run
CONTINUE = 1.0
FIRST = 2 * TCP_TIMEOUT_INIT - JITTER  # s: the shortest first interval ``step`` takes (a quick test before it)
STEPS = 6  # intervals of 2, 4, ... 64 s (the next, 128 s, is capped at TCP_RTO_MAX: 120 s, no power of two)


def step(gap: float) -> int:
    """k when ``gap`` is the backoff's interval of 2**k s (k >= 1), as late as the timer may fire it; 0 otherwise."""
    for k in range(1, STEPS + 1):
        nominal = TCP_TIMEOUT_INIT * 2**k
        if nominal - JITTER <= gap <= nominal * (1 + SLACK) + JITTER:
            return k
    return 0


def doubles(prev: Any, gap: Any) -> Any:
    """Whether the interval ``gap`` is twice ``prev`` as the backoff makes it, each of them as late as its timer
    may fire (floats, or NumPy arrays alike).  120 s after 64 s (``TCP_RTO_MAX`` caps the 128 s) is within."""
    return (gap >= 2 * prev / (1 + SLACK) - JITTER) & (gap <= 2 * prev * (1 + SLACK) + JITTER)


def next_due(dt: float) -> float:
    """The latest, in s after a SYN that came ``dt`` after the one before, that the backoff sends the next one: twice
    the interval (as early as its SYN's stamp may make it look: ``JITTER``), as late as its timer may fire.  The
    reference kernel's 7th SYN came 33.54 s after its 6th, an interval of 16.12 s: later than twice it (32.24 s)."""
    return 2 * (dt + JITTER) * (1 + SLACK) + JITTER


def syns_before(syns: int, first_t: float, first_dt: float, doubling: bool, start: float | None) -> int:
    """How many SYNs, at least, the series sent before its first one the capture saw: 0 when nothing says so.
    ``syns`` transmissions seen, the first at ``first_t``, the first interval ``first_dt``, ``doubling`` whether
    every interval seen doubles the one before; ``start``: where the captures that saw it begin."""
    if syns < 3 or not doubling or start is None:
        return 0
    k = step(first_dt)
    # the SYN before the first one seen: one interval of the backoff before it, half the first one seen, as late as
    # its timer may fire (the latest the capture could have started and still missed it)
    return k if k and first_t - start < TCP_TIMEOUT_INIT * 2 ** (k - 1) * (1 + SLACK) + JITTER else 0


class Sources:
    """The captures of an analysis by file (its place in the list read) and interface name, each with a bit (at
    first use: ``bit``); ``span(seen)``: the earliest and the latest frame of those in ``seen`` (every one when
    ``seen`` is 0), with the files of a rotation that continue them; ``reached(seen)``: the latest frame read so far
    of those in ``seen`` alone; ``done()``: whether every file was read to its end (its spans the whole file's)."""

    def __init__(self, readers: Sequence[Reader]) -> None:
        self.readers = readers
        self.bits: dict[tuple[int, str | None], int] = {}

    def bit(self, n: int, name: str | None) -> int:
        b = self.bits.get((n, name))
        if b is None:
            b = self.bits[(n, name)] = 1 << len(self.bits)
        return b

    def done(self) -> bool:
        return all(rd.done for rd in self.readers)

    def reached(self, seen: int) -> float:
        """The latest frame read so far in the captures of ``seen`` (-inf: none): where they end, at least.  Their
        ends only grow as more is read, and a rotation's next file only takes them further (``span``)."""
        ends = [sp[1] for (n, name), b in self.bits.items() if seen & b
                if (sp := self.readers[n].span(name)) is not None]  # fmt: skip
        return max(ends, default=float("-inf"))

    def span(self, seen: int = 0) -> tuple[float, float] | None:
        if not seen:
            spans = [sp for rd in self.readers for sp in rd.spans().values()]
            return (min(s for s, _ in spans), max(e for _, e in spans)) if spans else None
        mine = {k for k, b in self.bits.items() if seen & b}
        spans = [sp for n, name in mine if (sp := self.readers[n].span(name)) is not None]
        if not spans:
            return None
        first, last = min(s for s, _ in spans), max(e for _, e in spans)
        # a capture of the same interface name that begins as another ends is its continuation (a rotation:
        # tcpdump -C/-G, editcap -c): it would have seen the attempt's next packets, and its earlier ones
        names = {name for _, name in mine}
        rest = [(name, *sp) for n, rd in enumerate(self.readers) for name, sp in rd.spans().items()
                if name in names and (n, name) not in mine]  # fmt: skip
        for _, s, e in sorted(rest, key=lambda x: x[1]):
            if last - CONTINUE <= s <= last + CONTINUE:
                last = max(last, e)
        for _, s, e in sorted(rest, key=lambda x: -x[2]):
            if first - CONTINUE <= e <= first + CONTINUE:
                first = min(first, s)
        return first, last
