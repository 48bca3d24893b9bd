"""The analyser of connection attempts: ``hairpin.diagnose.capture``'s core, fed one packet record at a time.

What it knows is written in ``hairpin.diagnose.capture``'s docstring (attempts and their views, the kinds,
``gave_up``, the cut rule, answers without SYN, memory); this module holds the state machine that applies it
(``_Analyser``: attempts by ISN, their views, classification, forgetting) and the constants it is tuned by, each
with its source.  ``_Sourced`` is the same analyser told which capture each packet came from.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from hairpin.diagnose.capture_result import MAX_LISTED, Analysis, Attempt
from hairpin.diagnose.capture_series import FIRST, Sources, doubles, next_due, syns_before
from hairpin.model.net import Flags, Packet, is_loopback
from hairpin.parsers.pcap import PacketRecord, Reader

__all__ = ["CUT", "EXPIRE", "GAP", "KEEP", "KINDS", "LATE", "LIVE_KEEP", "REPEAT", "SYNACK_LIFE", "TICK", "UNANSWERED",
           "VIEW_WINDOW"]  # fmt: skip

VIEW_WINDOW = 0.2  # s: views of one transmission on several interfaces are this close; retransmits >= 1 s apart
KEEP = 400  # packets kept per failed attempt, for the pictures
KINDS = ("hairpin", "healthy", "server-reset", "loopback", "node-loopback", "unanswered-syn")
# an attempt with no answer, one SYN less than 1 s before the capture's last frame (Attempt.cut_by): counted apart
# (Analysis.cut), never a failure.  (No answer at all: ``node-loopback`` is not one, its
# SYN's martian view is the failure itself.)
CUT, UNANSWERED = "cut", ("unanswered-syn", "loopback")
LIVE_KEEP = 100  # hairpins and other failures a live stream keeps for its final report (all are reported and counted)
_SYN, _ACK, _RST = int(Flags.SYN), int(Flags.ACK), int(Flags.RST)
_SYN_ACK = _SYN | _ACK
# s of capture time after an attempt's last packet: past it, the attempt is classified and forgotten.  The
# kernel gives up a connect 127 s after its first SYN with tcp_syn_retries=6, 133 s with the 4 linear
# timeouts of kernels >= 6.5 (hairpin.tcp.syn_schedule; the reference README measured ETIMEDOUT at ~134 s),
# and a packet joins an attempt only within 130 s of its last one (_Analyser._find), so forgetting an attempt
# at 135 s changes no answer while packets come in time order (within EXPIRE - 130 = 5 s: ``late``)
GAP = 130.0  # s: a packet joins an attempt only this soon after the attempt's last packet (_Analyser._find)
EXPIRE = 135.0
LATE = EXPIRE - GAP
TICK = 10.0  # s of capture time between two looks for attempts to forget
# s: a SYN-ACK this soon after the latest SYN of a handshake answered with its ISN is left out of the analyser with
# the handshake (hairpin.parsers.fastscan_groups._views_of): its ``answered`` entry is then still there (a look
# forgets it only past TICK s, and the rows left out come at most capture_fast.DISORDER = 4 s behind ``end``), so
# ``_Analyser._no_syn`` takes it for a view of that answer, as the first pass does
REPEAT = 5.0
# s after the latest SYN of a handshake answered (healthy) during which a SYN-ACK with its ISN is its server's
# retransmission, not an answer to a SYN outside the capture: a listener's request socket resends its SYN-ACK on
# its own timer (reqsk_timer_handler, net/ipv4/inet_connection_sock.c: from TCP_TIMEOUT_INIT, doubling) up to
# tcp_synack_retries times (5: the last one 31 s after the first SYN-ACK) and drops the request at 63 s
# (Documentation/networking/ip-sysctl.rst, tcp_synack_retries); 31 s late by the timer wheel's slack (at most 8/63
# of a timeout: kernel/time/timer.c's levels) is 35 s, well inside it
SYNACK_LIFE = 63.0


class _Earliest:
    """The ``cap`` earliest attempts by (first SYN, order opened), in a heap: the lists stay bounded."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.heap: list[tuple[float, int, Attempt]] = []  # (-first_t, -n): the latest on top

    def add(self, a: Attempt) -> None:
        item = (-a.first_t, -a.n, a)
        if len(self.heap) < self.cap:
            heapq.heappush(self.heap, item)
        elif item[:2] > self.heap[0][:2]:
            heapq.heapreplace(self.heap, item)

    def sorted(self) -> list[Attempt]:
        return [a for _, _, a in sorted(self.heap, key=lambda x: x[:2], reverse=True)]


class _Analyser:
    """Attempts open (``open``; by ISN in ``by_isn``: one attempt, or a list when several share it) until
    ``EXPIRE`` s of capture time pass without a packet of theirs, then classified: counted by kind (and a
    hairpin by client, node and vip) and kept only when among the ``listed`` earliest of its list.  Memory
    is the attempts of the last 135 s of capture time plus the lists, not the whole capture."""

    def __init__(self, on_hairpin: Callable[[Attempt, float], None] | None = None, listed: int = MAX_LISTED) -> None:
        self.open: dict[Attempt, None] = {}  # in the order opened
        self.by_isn: dict[int, Attempt | list[Attempt]] = {}
        self.hairpins, self.others = _Earliest(listed), _Earliest(listed)
        self.kinds: Counter[str] = Counter()  # attempts classified, by kind
        self.by: dict[str, Counter[str]] = {"client": Counter(), "node": Counter(), "vip": Counter()}
        self.packets = 0
        self.connections = 0
        self.healthy = 0
        self.end = 0.0
        self.on_hairpin = on_hairpin
        self.next_tick = float("-inf")
        self.ticked = 0  # packets when attempts were last looked at
        self.expired = 0  # attempts forgotten before the end
        self.late = 0  # packets more than LATE s behind `end` after some attempt was forgotten
        # attempts a first pass left out of the stream (hairpin.diagnose.capture_fast): how many are open (a
        # healthy SYN awaiting its SYN-ACK, a lone SYN), set by the driver; the lone SYNs' times, sorted, of
        # which the first ``lone_gone`` were closed by the looks for attempts to forget
        self.ghosts = 0
        self.lone_t: Any = None
        self.lone_gone = 0
        # the healthy attempts forgotten in the last TICK s or so, by ISN: their latest transmission's time, their
        # client and the addresses their SYNs went to.  A SYN with that ISN within VIEW_WINDOW of it is a view of
        # a handshake already answered (the same packets in another capture whose clock is ahead by more than the
        # handshake's round trip), not a new attempt, when it comes from that client (to the called address or,
        # after the NLB's rewrite, to node:NodePort) or from one of those addresses (a NAT view: the target
        # node's MASQUERADE, the NLB's own address); its destination joins them
        self.answered: dict[int, tuple[float, int, int, tuple[int, ...]]] = {}
        self.pruned = 0  # answered handshakes forgotten (a packet far behind may have been a view of one: ``late``)
        self.no_syn = 0  # answers whose SYN is not in the capture, one per ISN (``_no_syn``)
        self.orphans: dict[int, float] = {}  # their ISNs: the latest answer's time (forgotten EXPIRE s after it)
        # the healthy handshakes by ISN: the addresses and ports their SYNs came from (the client's, a NAT view's: where
        # their SYN-ACK's views go), each with its handshake's latest SYN, kept SYNACK_LIFE s: a SYN-ACK with that ISN
        # to one of them until then is its server's retransmission (the client's ACK was lost) or another view of it,
        # never an answer without SYN; to anywhere else, another client's that drew the same ISN (fixed-ISN tools)
        self.synacked: dict[int, dict[tuple[int, int], float]] = {}
        # the captures read (capture_series.Sources): where the one an attempt was seen in begins (``before``) and ends
        # (``gave_up``); set by the driver (None: neither is told apart)
        self.sources: Sources | None = None
        self.before_capture = 0  # failed attempts whose SYN series began before the capture (Attempt.before)
        self.ends: dict[int, float] = {}  # at the end: where the captures that saw an attempt end, by ``seen``
        # attempts forgotten while the captures that saw them may still end less than 1 s after their one SYN (a
        # file read on while another was merged ahead of it), ``CUT`` or not decided when those ends are known
        # (``_close``); and the failures whose ``before`` was decided on captures not yet read to their end
        self.held: list[Attempt] = []
        self.unsure: list[Attempt] = []

    def _same(self, isn: int) -> Sequence[Attempt]:
        x = self.by_isn.get(isn)
        return () if x is None else (x,) if x.__class__ is Attempt else x  # type: ignore[return-value]

    def _forget(self, a: Attempt) -> None:
        self.open.pop(a, None)
        x = self.by_isn.get(a.isn)
        if x is a:
            del self.by_isn[a.isn]
        elif isinstance(x, list):
            x[:] = [y for y in x if y is not a]
            if len(x) <= 1:
                if x:
                    self.by_isn[a.isn] = x[0]
                else:
                    del self.by_isn[a.isn]

    def _find(self, isn: int, t: float, addr: int, port: int) -> Attempt | None:
        """The attempt a SYN-ACK or RST with this ISN belongs to: of the recent ones, the latest whose client, or
        the source of one of its SYN's NAT views (``nat_sources``: kube-proxy's MASQUERADE, the NLB's own address),
        is ``addr:port`` (where a SYN-ACK goes, a client's RST comes from); None when there is none: an answer to
        another client's SYN that drew the same ISN (tools with fixed ISNs), never this attempt's.  (Until
        2026-12-03 the latest attempt with the ISN took it whatever its endpoints.)  (Addresses and ports as
        plain ints: no Endpoint is built for a comparison, a packet at a time.)"""
        for a in reversed(self._same(isn)):
            if t - a.last_t < GAP:
                c, nat = a.client, a.nat_sources
                if (c.addr == addr and c.port == port) or (nat is not None and (addr, port) in nat):
                    return a
        return None

    def _find_syn(self, isn: int, t: float, addr: int, port: int) -> Attempt | None:
        """The attempt a SYN with this ISN (from ``addr:port``) is a view of: the same client (a
        retransmission, or a view before source NAT), or a NAT view of the attempt's latest transmission
        (within ``VIEW_WINDOW``).  Another client's SYN with the same ISN later on is another attempt."""
        for a in reversed(self._same(isn)):
            if t - a.last_t < GAP and (
                (a.client.addr == addr and a.client.port == port) or abs(t - a.round_t) < VIEW_WINDOW
            ):
                return a
        return None

    def feed(self, r: PacketRecord) -> None:
        p = r.packet
        self.packets += 1
        if r.t > self.end:
            self.end = r.t
            if r.t >= self.next_tick:
                self._tick()
        elif r.t < self.end - LATE and (self.expired or self.pruned):
            self.late += 1
        f = int(p.flags)  # plain int arithmetic: enum.Flag operators cost a call each
        if f & _SYN and not f & _ACK:
            self._syn(r, p)
        elif f & _SYN and f & _ACK:
            a = self._find((p.ack - 1) & 0xFFFFFFFF, r.t, p.dst, p.dport)
            if a is None:
                self._no_syn((p.ack - 1) & 0xFFFFFFFF, r.t, (p.dst, p.dport))
                return
            self._keep(a, r)
            if p.dst == a.client.addr and p.dport == a.client.port:
                if p.src == a.called.addr and p.sport == a.called.port:
                    if a.answered_by is None:  # the answer the client expected: healthy, forget it
                        self.healthy += 1
                        syns = [q.packet for q in a.records if int(q.packet.flags) & _SYN_ACK == _SYN]
                        went = tuple({q.dst: None for q in syns})
                        self.answered[a.isn] = (a.round_t, a.client.addr, a.client.port, went)
                        self._synacked(a.isn, [(q.src, q.sport) for q in syns], a.round_t)
                        self._forget(a)
                elif a.elsewhere is None:  # the target's own reply before the NLB rewrites it, or the seed's
                    a.elsewhere = {p.source}  # asymmetric return
                else:
                    a.elsewhere.add(p.source)
            elif a.backend is None and p.src != a.client.addr:
                a.add_backend(p.source)  # backend -> node:masq, before de-NAT
        elif f & _RST:
            a = self._find((p.seq - 1) & 0xFFFFFFFF, r.t, p.src, p.sport) if not f & _ACK else None
            if a is not None:  # the client's RST (seq ISN + 1, no ACK), or its view after conntrack's NAT
                a.client_rst = True
                if p.src == a.client.addr and p.sport == a.client.port and a.elsewhere and p.dest in a.elsewhere:
                    a.answered_by = a.answered_by or p.dest  # the SYN-ACK it did not expect
                    if self.on_hairpin is not None and not a.reported:
                        a.reported = True
                        self.on_hairpin(a, r.t)
                self._keep(a, r)
                return
            a = self._find((p.ack - 1) & 0xFFFFFFFF, r.t, p.dst, p.dport) if f & _ACK else None
            if a is not None:
                self._keep(a, r)
                c, called = a.client, a.called
                if p.dst == c.addr and p.dport == c.port and p.src == called.addr and p.sport == called.port:
                    a.server_rst = True
            elif f & _ACK and p.seq == 0:  # the reset a SYN gets from a closed port (sequence 0, RFC 9293 3.10.7.1)
                self._no_syn((p.ack - 1) & 0xFFFFFFFF, r.t, None)

    def _no_syn(self, isn: int, t: float, to: tuple[int, int] | None) -> None:
        """An answer to a SYN (a SYN-ACK to ``to``, or a RST with ACK and sequence 0: None) that joins no attempt: its
        SYN is not in the capture (sent before it began, or on an interface it did not see).  Counted once for its ISN
        (``no_syn``): its views and retransmissions less than ``GAP`` after the one before it are the same.
        Not one: a SYN-ACK of a handshake answered (healthy) with that ISN, its latest SYN at most
        ``SYNACK_LIFE`` s before, to where one of its SYNs came from (another view of the answer, or the server's
        retransmitted SYN-ACK; one to another client is that client's, which drew the same ISN), or within
        ``VIEW_WINDOW`` of it to anywhere (a view of the answer after NAT: the de-NATed one to a client whose own
        SYN another capture holds, as a SYN's NAT views join its attempt whatever their endpoints); nor a SYN-ACK
        within ``VIEW_WINDOW`` of the latest transmission of an attempt open with that ISN whose client and NAT
        views' sources it does not go to (``_find``: not its answer, but it may be a view of it after NAT, as for a
        handshake answered)."""
        if to is not None:
            for a in self._same(isn):
                if abs(t - a.round_t) < VIEW_WINDOW and t - a.last_t < GAP:
                    return
        done = self.synacked.get(isn) if to is not None else None
        if done is not None and to is not None:
            when = done.get(to)
            if (when is not None and t - when <= SYNACK_LIFE) or any(abs(t - w) < VIEW_WINDOW for w in done.values()):
                return
        seen = self.orphans.get(isn)
        if seen is None or not t - seen < GAP:
            self.no_syn += 1
        self.orphans[isn] = t if seen is None else max(t, seen)

    def _keep(self, a: Attempt, r: PacketRecord) -> None:
        if r.t > a.last_t:
            a.last_t = r.t
        if len(a.records) < KEEP:
            a.records.append(r)

    def _synacked(self, isn: int, sources: list[tuple[int, int]], t: float) -> None:
        """The SYNs of a handshake answered with ``isn``, its latest at ``t``, came from ``sources``."""
        known = self.synacked.setdefault(isn, {})
        for e in sources:
            if known.get(e, t) <= t:
                known[e] = t

    def _syn(self, r: PacketRecord, p: Packet) -> None:
        a = self._find_syn(p.seq, r.t, p.src, p.sport)
        if a is None:
            done = self.answered.get(p.seq)
            if done is not None and abs(r.t - done[0]) < VIEW_WINDOW:
                # a view of a handshake answered already (another capture's clock, a little ahead): from its
                # client, or after NAT from an address one of its SYNs went to (the NLB's, the target node's)
                went = done[3]
                if (done[1] == p.src and done[2] == p.sport) or p.src in went:
                    if p.dst not in went:
                        self.answered[p.seq] = (*done[:3], (*went, p.dst))
                    self._synacked(p.seq, [(p.src, p.sport)], done[0])  # its SYN-ACK's views may go to its source
                    return
            a = Attempt(p.source, p.seq, p.dest, r.t, r.t, self.connections, round_t=r.t)
            self.open[a] = None
            x = self.by_isn.get(p.seq)
            if x is None:
                self.by_isn[p.seq] = a
            elif isinstance(x, list):
                x.append(a)
            else:
                self.by_isn[p.seq] = [x, a]
            self.connections += 1
            self._view(a, r, p)
            return
        if r.t - a.round_t >= VIEW_WINDOW:  # a retransmission
            dt = r.t - a.round_t
            if a.syns == 1:
                a.first_dt = dt
            elif a.doubling and not doubles(a.round_dt, dt):
                a.doubling = False  # not Linux's backoff: nothing to say about what came before the capture
            a.syns += 1
            a.round_dt, a.round_t = dt, r.t
        self._view(a, r, p)

    def _view(self, a: Attempt, r: PacketRecord, p: Packet) -> None:
        self._keep(a, r)
        if p.src == p.dst and not is_loopback(p.src):
            a.loopback = True
        if p.src == a.client.addr and p.sport == a.client.port:
            if (p.dst != a.called.addr or p.dport != a.called.port) and a.node_side is None:
                a.node_side = p.dest  # the NLB's rewrite to node:NodePort (or a DNAT to the backend)
        else:
            a.masquerade = p.source
            if a.nat_sources is None:
                a.nat_sources = {(p.src, p.sport)}
            else:
                a.nat_sources.add((p.src, p.sport))
            a.add_backend(p.dest)

    def _kind(self, a: Attempt) -> str:
        """``a``'s kind from its packets (the end of the capture aside: ``CUT``, ``_classify``)."""
        if a.answered_by is None and a.client_rst and a.elsewhere and len(a.elsewhere) == 1:
            a.answered_by = next(iter(a.elsewhere))  # only the NATed view of the client's RST was seen
        elif a.answered_by is None and a.client_rst and not a.elsewhere and a.node_side is not None:
            # a capture of the client node's ENI (VPC Traffic Mirroring): the NLB's rewrite to node:NodePort
            # arrives, the de-NATed SYN-ACK is delivered inside the node (never on the ENI), and the client's
            # RST (seq ISN + 1, no ACK: a SYN-ACK it rejected) leaves after conntrack's NAT
            a.answered_by = a.node_side
        if a.answered_by is not None:
            return "hairpin"
        if a.server_rst:
            return "server-reset"
        if is_loopback(a.called.addr):
            return "loopback"  # local traffic on lo: no NLB ever sees it
        if a.loopback:
            return "node-loopback"
        if a.elsewhere:
            return "healthy"  # the target's reply on its way back through the NLB (a target-side capture)
        return "unanswered-syn"

    def _classify(self, a: Attempt, stop: float | None = None) -> None:
        """``a``'s kind, counted (and listed when among the earliest).  ``stop``: the capture's end (its last
        frame, or of all captures when the ones that saw ``a`` are not told apart); then an attempt with no answer
        is ``CUT`` when the captures that saw it ended before the client's retransmission timer could fire
        (``Attempt.cut_by``, ``_stop``).  None: it was not (``_close``)."""
        a.kind = self._kind(a)
        if stop is not None and a.kind in UNANSWERED and a.cut_by(self._stop(a, stop)):
            a.kind = CUT
        if a.kind == "hairpin" and a.backends is not None and a.answered_by in a.backends:
            if a.backend == a.answered_by:
                a.backend = None  # only the NLB's rewrite was seen, not kube-proxy's DNAT
            a.backends = [b for b in a.backends if b != a.answered_by] or None
        if a.kind == "hairpin" and self.on_hairpin is not None and not a.reported:
            a.reported = True
            self.on_hairpin(a, a.last_t)
        self.kinds[a.kind] += 1
        if a.syns >= 3 and a.first_dt >= FIRST and a.doubling and self.sources is not None and a.kind not in (
                "healthy", CUT):  # fmt: skip
            span = self.sources.span(a.seen)  # where the captures that saw it begin
            a.before = syns_before(a.syns, a.first_t, a.first_dt, a.doubling, span[0] if span else None)
            self.before_capture += a.before > 0
            if a.before and not self.sources.done():
                self.unsure.append(a)  # an earlier frame read later may begin its captures sooner: again at the end
        if a.kind == "hairpin":
            self.by["client"][a.client.ip] += 1
            self.by["node"][str(a.answered_by)] += 1
            self.by["vip"][str(a.called)] += 1
            self.hairpins.add(a)
        elif a.kind not in ("healthy", CUT):
            self.others.add(a)

    def _stop(self, a: Attempt, stop: float) -> float:
        """Where the captures that saw ``a`` end, when several were read (``seen``; their last frames, known at the
        end: ``ends`` caches them), else ``stop``, the end of all: for ``CUT`` and ``gave_up``."""
        if not a.seen or self.sources is None:
            return stop
        end = self.ends.get(a.seen)
        if end is None:
            span = self.sources.span(a.seen)
            end = self.ends[a.seen] = stop if span is None else span[1]
        return max(end, a.last_t)

    def _tick(self) -> None:
        """Forget the attempts over, at most every ``TICK`` s of capture time and only when at least a quarter
        as many packets as there are open attempts came since the last look: the looks cost time linear in
        the packets."""
        self.next_tick = self.end + TICK
        if self.answered:  # a row is at most DISORDER s behind `end` where it matters (capture_fast): TICK is more
            kept = {k: v for k, v in self.answered.items() if self.end - v[0] <= TICK}
            self.pruned += len(self.answered) - len(kept)
            self.answered = kept
        if self.orphans:
            self.orphans = {k: v for k, v in self.orphans.items() if self.end - v <= EXPIRE}
        if self.synacked:
            acked: dict[int, dict[tuple[int, int], float]] = {}
            for isn, known in self.synacked.items():
                known = {e: t for e, t in known.items() if self.end - t <= SYNACK_LIFE}
                if known:
                    acked[isn] = known
            self.synacked = acked
        if 4 * (self.packets - self.ticked) >= len(self.open) + self.ghosts - self.lone_gone:
            self.ticked = self.packets
            self.expire(self.end)

    def _close(self, a: Attempt) -> bool:
        """Classify ``a``, forgotten before the end (by a look for attempts to forget), as at the end: ``CUT`` when
        the captures that saw it ended less than 1 s after its one SYN (``_stop``), which the first pass decides of
        its lone SYNs alike (``fastscan_groups.lone_syns``).  With one capture it was not: that capture runs at least to
        ``end``, past ``EXPIRE`` s after it.  With several, when what they read so far reaches 1 s after it
        (``Sources.reached``: their ends only grow) it was not; else their ends must be known (``Sources.done``):
        until then ``a`` waits (False), as few as the SYNs of a second of each capture, and is looked at again."""
        sources = self.sources
        if (a.syns == 1 and a.seen and sources is not None and self._kind(a) in UNANSWERED
                and a.cut_by(max(a.last_t, sources.reached(a.seen)))):  # fmt: skip
            if not sources.done():
                return False
            self._classify(a, self.end)
            return True
        self._classify(a)
        return True

    def expire(self, now: float) -> None:
        """Classify and forget every attempt with no packet in the last ``EXPIRE`` seconds."""
        if self.held:
            self.held = [a for a in self.held if not self._close(a)]
        for a in [a for a in self.open if now - a.last_t > EXPIRE]:
            self._forget(a)
            self.expired += 1
            if not self._close(a):
                self.held.append(a)
        if self.lone_t is not None:  # the lone SYNs left out idle as long (classified by the first pass)
            gone = _idle(self.lone_t, now, self.lone_gone)
            self.expired += gone - self.lone_gone
            self.lone_gone = gone

    def finish(self, end: float = float("-inf"), last: float | None = None) -> tuple[list[Attempt], list[Attempt]]:
        """Classify what is still open; the hairpins and other failures listed, each by first SYN, with
        ``gave_up`` decided now that the capture's end is known: the latest of ``end``, every packet and
        ``last``, the files' last frame (any frame, ``Reader.last_t``), which may come after every SYN and RST
        (the end for ``CUT`` and ``gave_up`` alike)."""
        self.end = max(self.end, end)
        stop = self.end if last is None else max(self.end, last)
        for a in [*self.open, *self.held]:
            self._classify(a, stop)
        self.open.clear()
        self.held.clear()
        for a in self.unsure:  # their captures' starts, known now
            span = self.sources.span(a.seen) if self.sources is not None else None
            before = syns_before(a.syns, a.first_t, a.first_dt, a.doubling, span[0] if span else None)
            self.before_capture += (before > 0) - (a.before > 0)
            a.before = before
        self.unsure.clear()
        self.by_isn.clear()
        self.answered.clear()
        self.orphans.clear()
        self.synacked.clear()
        listed = self.hairpins.sorted(), self.others.sorted()
        for a in (*listed[0], *listed[1]):
            # the kernel's backoff would have sent another SYN by then (hairpin.tcp.syn_schedule), as late as its timer
            # may fire it (capture_series.next_due; until 2026-12-03 twice the last interval, which a real kernel's
            # 7th SYN, 33.54 s after an interval of 16.12 s, outlasted), and the capture was still running to see it: its end is its last frame, whatever the frame (``stop``), of the captures
            # (files, interfaces) that saw the attempt when several were read (``seen``)
            a.gave_up = a.syns >= 2 and self._stop(a, stop) - a.round_t > next_due(a.round_dt)
        return listed

    def result(self, end: float = float("-inf"), last: float | None = None) -> Analysis:
        hairpins, others = self.finish(end, last)
        cut = self.kinds.pop(CUT, 0)
        return Analysis(hairpins, others, self.packets, self.connections, self.healthy + self.kinds["healthy"],
                        counts=dict(self.kinds), cut=cut, max_listed=self.hairpins.cap, late=self.late, no_syn=self.no_syn,
                        before_capture=self.before_capture,
                        tallies={k: c.most_common() for k, c in self.by.items()})  # fmt: skip


class _Sourced(_Analyser):
    """The analyser of several captures (files, or a pcapng file's interfaces: ``capture_series.Sources``): each
    attempt's ``seen`` gets the bit of every packet's capture.  ``file``: the file of the packet fed next, set by
    the driver."""

    def __init__(self, sources: Sources, on_hairpin: Callable[[Attempt, float], None] | None = None,
                 listed: int = MAX_LISTED) -> None:  # fmt: skip
        super().__init__(on_hairpin, listed)
        self.sources = self.where = sources
        self.file = 0
        self.bit = 0

    def feed(self, r: PacketRecord) -> None:
        self.bit = self.where.bit(self.file, r.interface)
        super().feed(r)

    def _keep(self, a: Attempt, r: PacketRecord) -> None:
        a.seen |= self.bit
        super()._keep(a, r)


def _analyser(readers: Sequence[Reader], on_hairpin: Callable[[Attempt, float], None] | None = None,
              listed: int = MAX_LISTED) -> _Analyser:  # fmt: skip
    """An analyser of ``readers``' packets: one that tells their captures apart when there may be several
    (several files, or a pcapng file, which may have several interfaces)."""
    sources = Sources(readers)
    if len(readers) > 1 or any(rd.format == "pcapng" for rd in readers):
        return _Sourced(sources, on_hairpin, listed)
    an = _Analyser(on_hairpin, listed)
    an.sources = sources
    return an


def _idle(ts: Any, now: float, lo: int) -> int:
    """How many of the sorted times ``ts`` are more than ``EXPIRE`` before ``now`` (the test ``expire``
    makes, ``now - t > EXPIRE``, which holds for a prefix of them); at least ``lo`` are."""
    import numpy as np  # the first pass's own dependency (lone SYNs are left out only with it)

    k = max(lo, int(np.searchsorted(ts, now - EXPIRE, "left")))
    while k > lo and not now - float(ts[k - 1]) > EXPIRE:
        k -= 1
    while k < ts.size and now - float(ts[k]) > EXPIRE:
        k += 1
    return k
