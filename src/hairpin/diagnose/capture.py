"""The capture analyser: find the seed's asymmetric return (and its look-alikes) in real captures.

What it knows:

- A connection attempt is a client's SYN, named by the client's address, port and initial sequence number
  (ISN).  NAT rewrites addresses and ports but never sequence numbers, so every *view* of that SYN on a
  node-side ``tcpdump -i any`` capture (leaving the pod's veth, on ``eth0`` to the NLB, back from the NLB as
  ``client -> node:NodePort``, and after kube-proxy's DNAT + MASQUERADE as ``node:port -> backend``) carries
  the same sequence number; SYN-ACKs acknowledge ``ISN + 1``.  Views of one transmission fall within
  ``VIEW_WINDOW`` seconds of each other; a SYN of the same attempt after that is a retransmission.  A SYN
  with the same ISN is a view of an attempt only when it comes from the attempt's client or within
  ``VIEW_WINDOW`` of its latest transmission (a NAT view), so two clients that drew the same ISN are two
  attempts; a SYN-ACK or RST goes to the attempt whose client, or one of its SYN's NAT views' sources (the
  MASQUERADE source, the NLB's own address), it names, and to no attempt when it names none.  A healthy
  attempt is forgotten at its answer; a SYN with its ISN within ``VIEW_WINDOW`` of its latest transmission
  after that is still a view of it, not a new attempt, when it comes from its client or from an address one
  of its SYNs went to (a NAT view: the target node's MASQUERADE, the NLB's own address); two captures of the
  same traffic whose clocks differ by more than the handshake's round trip put the second file's SYN after
  the first file's SYN-ACK.
- The classification of an attempt, first match wins:

  ``hairpin``         the client (the SYN's first source) got a SYN-ACK to its port from an address other
                      than the one it called and reset it: the seed's failure (it then retransmits).  On a
                      capture of the client node's ENI (VPC Traffic Mirroring) the SYN-ACK itself stays
                      inside the node: there the NLB's rewrite (``client -> node:NodePort``) and the client's
                      RST (after conntrack's NAT) with no answer from the called address say it.  A
                      SYN-ACK from elsewhere that the client does not reset is the target's reply on its
                      way back to the NLB (a capture on the target node shows it), not a failure;
  ``healthy``         a SYN-ACK came from the address it called;
  ``server-reset``    a RST came from the address it called;
  ``loopback``        no answer, to a loopback address (127.0.0.0/8, ::1): traffic on ``lo`` that never
                      leaves its host, so never an NLB's doing (a closed local port answers with a RST:
                      ``server-reset``);
  ``node-loopback``   no answer, and a view of the SYN had equal (non-loopback) source and destination
                      addresses: a node (or hostNetwork pod) whose SYN the NLB sent back to the node itself,
                      dropped by the kernel as a martian source with no RST (the node caller);
  ``unanswered-syn``  no answer at all.

- ``gave_up``: the client stopped retransmitting before the capture ended, decided as "the capture goes on
  for longer than twice the last retransmission interval after the last SYN, as late as the timer may fire"
  (``capture_series.next_due``: the kernel's backoff would have sent another SYN by then: each interval
  doubles, or stays 1 s in the linear ones, hairpin.tcp.syn_schedule;
  the seed's kernel waits 64 s after the sixth retransmission and gives up at 127 s).  The capture's end is
  its last frame, whatever it is (a data segment, a UDP frame), not its last SYN or RST: the capture ran until
  then and would have seen that SYN; with several captures (files, a pcapng file's interfaces), the end of
  those that saw the attempt (``Attempt.seen``, ``capture_series.Sources``; ``_Sourced``).  ``lost_s``: from
  the first SYN to the attempt's last packet in the capture.  ``before``: the SYNs a series begun before the
  capture sent, at least, from the doubling intervals of Linux's backoff (``capture_series.syns_before``).
- Cut by the end of the capture (``CUT``): an attempt with no answer at all (``unanswered-syn``, ``loopback``)
  that is one SYN, no retransmission, less than 1 s (``TCP_TIMEOUT_INIT``) before the capture's last frame
  (``Reader.last_t``, any frame; of the captures that saw it, ``_stop``; ``Attempt.cut_by``) is counted apart
  (``Analysis.cut``), not as a failure: a file of a rotation, or a capture stopped, before the client could
  retransmit.  An unanswered SYN
  that was retransmitted is a failure wherever the capture ends.
- Answers whose SYN is not in the capture (``Analysis.no_syn``, ``_Analyser._no_syn``): a SYN-ACK, or a RST
  with ACK and sequence 0 (the reset a closed port or a REJECT sends to a segment without ACK, a SYN: RFC 9293
  section 3.10.7.1), that joins no attempt (none with its ISN had a packet less than ``GAP`` s before it, or it
  names none of their clients and NAT views' sources: another client's, that drew the same ISN): its SYN was sent
  before the capture began, or on an interface it did not see.  Counted once for its ISN (its
  views before and after NAT, its server's retransmissions: each less than ``GAP`` after the one before),
  never a connection, a failure or a verdict.  Not one: a SYN-ACK at most ``SYNACK_LIFE`` (63) s after the latest
  SYN of a handshake answered (healthy) with its ISN, to the address and port one of its SYNs came from, or
  anywhere within ``VIEW_WINDOW`` of it (a NAT view) (another capture's view of the answer, or its server's
  retransmission: a request socket resends its SYN-ACK for 63 s, reqsk_timer_handler; one to another client later
  answers that client's SYN, which drew the same ISN); a SYN-ACK within ``VIEW_WINDOW`` of an open attempt's
  latest SYN (maybe its view after NAT, though it does not join it);
  a RST without ACK (the client's reset of a SYN-ACK, as a RST to an established flow's data looks: it names
  no SYN); a RST with ACK and another sequence (an abortive close).
- ``backends``: every backend kube-proxy DNATed the attempt's SYN rounds to, in order (``backend``: the
  latest), as it draws one for each round.

Memory: attempts that end healthy are counted and forgotten at once, so memory grows with the number of
*failed* attempts in the capture, not with its size; failed attempts keep at most ``KEEP`` packets each
(for the pictures).  Several files are merged by time (``heapq.merge``), so a client-side and a node-side
capture of the same traffic can be read together.  A live stream (``watch``) also classifies and forgets
every attempt ``EXPIRE`` seconds of capture time after its last packet (the kernel gives up a connect at
127 s), so its memory stays bounded over hours; each hairpin is reported the moment the client's RST is
seen.

This module reads the files and drives the analyser (``hairpin.diagnose.capture_analyser``: the state machine
that applies the rules above, and its constants).

Honesty: every file's frames are counted, and the frames that were not read as TCP by reason
(``frames.REASONS``).  A file with no TCP packet at all, a file that is not a capture and a malformed
one (``Reader.corrupt``) are ``errors`` (one line each, the other files still analysed).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from hairpin.diagnose.capture_analyser import (
    CUT,
    EXPIRE,
    LIVE_KEEP,
    VIEW_WINDOW,
    _Analyser,
    _analyser,
)
from hairpin.diagnose.capture_result import MAX_LISTED, TEXT_ROWS, Analysis, Attempt, FileStats, file_stats
from hairpin.errors import ParseError
from hairpin.model.net import Flags
from hairpin.parsers.frames import VXLAN_PORTS
from hairpin.parsers.pcap import PacketRecord, Reader, read

__all__ = [
    "EXPIRE", "LIVE_KEEP", "MAX_LISTED", "TEXT_ROWS", "VIEW_WINDOW", "Analysis", "Attempt", "FileStats", "analyse",
    "analyse_files", "file_stats", "watch",
]  # fmt: skip


def last_frame(readers: Iterable[Reader]) -> float | None:
    """The latest of the files' last frames (``Reader.last_t``), None when none has one."""
    ts = [rd.last_t for rd in readers if rd.last_t is not None]
    return max(ts) if ts else None


def analyse(records: Iterable[PacketRecord], listed: int = MAX_LISTED,
            last: Callable[[], float | None] | None = None) -> Analysis:  # fmt: skip
    """Analyse packets in time order (one capture, or several merged by time).  ``listed``: how many hairpins
    (and other failures) are listed; every one is counted.  ``last``: the capture's last frame, asked once
    every packet was read (for ``CUT``; None: the last packet's time)."""
    an = _Analyser(listed=listed)
    for r in records:
        an.feed(r)
    return an.result(last=last() if last is not None else None)


def _analyse_files(readers: list[Reader], listed: int) -> Analysis:
    """``readers`` analysed packet by packet, merged by time, each packet's capture told apart."""
    an = _analyser(readers, listed=listed)
    if len(readers) == 1:
        for r in readers[0]:
            an.feed(r)
    else:

        def stream(n: int, rd: Reader) -> Iterator[tuple[float, int, int, PacketRecord]]:
            for i, r in enumerate(rd):
                yield r.t, n, i, r

        for _, n, _, r in heapq.merge(*(stream(n, rd) for n, rd in enumerate(readers))):
            an.file = n  # type: ignore[attr-defined]  # (a _Sourced analyser: several files)
            an.feed(r)
    return an.result(last=last_frame(readers))


def analyse_files(paths: Sequence[str | Path], vxlan: frozenset[int] = VXLAN_PORTS, fast: bool = True,
                  listed: int = MAX_LISTED, records: bool = True) -> Analysis:  # fmt: skip
    """Read and analyse capture files together.  A file that is not a capture (``ParseError``) or is
    malformed is an error of that file (``Analysis.errors``) and the others are still analysed; when no
    file is a capture at all, the first ``ParseError`` is raised.  ``fast``: use the vectorised first
    pass (:mod:`hairpin.parsers.fastscan`) where it applies; the answer is the same without it.  ``listed``:
    how many hairpins (and how many other failures) are listed, the earliest by first SYN; all are counted.
    ``records``: keep each failed attempt's packets (``Attempt.records``, the pictures' matter); with False
    and ``fast``, the hairpins of the usual shapes are analysed from the first pass's columns
    (:mod:`hairpin.diagnose.capture_hairpins`) and hold none; every other field and the answer are the same."""
    readers: list[Reader] = []
    refused: list[FileStats] = []
    first: ParseError | None = None
    for p in paths:
        try:
            readers.append(read(p, want=int(Flags.SYN | Flags.RST), vxlan=vxlan))
        except ParseError as e:
            first = first or e
            refused.append(FileStats(str(p), "", (), 0, error=e.message))
    if first is not None and not readers:
        raise first

    scans = [rd.scan() for rd in readers] if fast else []
    # every SYN/RST row is known: those the first pass can decide are left out of the analyser, and what they
    # do to it is replayed at their places (hairpin.diagnose.capture_fast); when the files' order does not
    # allow it, every packet is analysed, as the streaming reader does
    result = None
    if scans and all(sc is not None for sc in scans):
        from hairpin.diagnose.capture_fast import analyse_fast

        result = analyse_fast(readers, scans, listed, records)
    if result is None:  # one file in its own order, several merged by time
        result = _analyse_files(readers, listed)
    result.packets = sum(rd.packets - rd.skipped for rd in readers)  # every TCP packet, decoded or not
    result.files = [file_stats(rd) for rd in readers] + refused
    return result


def watch(path: str | Path, report: Callable[[str], None], *, every: float = 60.0,
          vxlan: frozenset[int] = VXLAN_PORTS) -> Analysis:  # fmt: skip
    """Analyse a live capture (``-``: standard input) as it arrives: ``report`` gets one line for each
    hairpin the moment the client's RST is seen, and a running summary every ``every`` seconds of capture
    time; attempts are classified and forgotten ``EXPIRE`` seconds after their last packet, so memory
    stays bounded.  Returns the counts (hairpins kept, other failures counted) when the stream ends or
    on ``KeyboardInterrupt``."""
    rd = read(path, want=int(Flags.SYN | Flags.RST), vxlan=vxlan)
    count = Counter[str]()

    def hairpin(a: Attempt, t: float) -> None:
        count["hairpin"] += 1
        report(f"{t:.6f} hairpin: {a.client} called {a.called}, SYN-ACK from {a.answered_by}, reset by the client")

    an = _analyser([rd], hairpin, listed=LIVE_KEEP)
    next_summary = None

    def summary(t: float) -> str:
        others = ", ".join(f"{k} {v}" for k, v in sorted(an.kinds.items()) if k not in ("hairpin", "healthy", CUT))
        return (f"{t:.6f} summary: {rd.packets} frames, {rd.packets - rd.skipped} TCP, skipped {rd.skipped}; "
                f"{an.connections} connections, {count['hairpin']} hairpinned, healthy "
                f"{an.healthy + an.kinds['healthy']}, open {len(an.open)}; other failures: {others or 'none'}")  # fmt: skip

    try:
        for r in rd:
            an.feed(r)
            if next_summary is None:
                next_summary = r.t + every
            elif r.t >= next_summary:
                an.expire(r.t)
                report(summary(r.t))
                next_summary = r.t + every
    except KeyboardInterrupt:
        pass
    result = an.result(last=rd.last_t)
    report(summary(an.end) + " (end)")
    result.packets = rd.packets - rd.skipped
    result.files = [file_stats(rd)]
    return result
