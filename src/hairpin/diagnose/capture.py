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
  attempts; a SYN-ACK or RST goes to the attempt whose client (or MASQUERADE source) it names.
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
  for at least twice the last retransmission interval after the last SYN" (the kernel's backoff would have
  sent another SYN by then; the seed's kernel waits 64 s after the sixth retransmission and gives up at
  127 s).  ``lost_s``: from the first SYN to the attempt's last packet in the capture.

Memory: attempts that end healthy are counted and forgotten at once, so memory grows with the number of
*failed* attempts in the capture, not with its size; failed attempts keep at most ``KEEP`` packets each
(for the pictures).  Several files are merged by time (``heapq.merge``), so a client-side and a node-side
capture of the same traffic can be read together.  A live stream (``watch``) also classifies and forgets
every attempt ``EXPIRE`` seconds of capture time after its last packet (the kernel gives up a connect at
127 s), so its memory stays bounded over hours; each hairpin is reported the moment the client's RST is
seen.

Honesty: every file's frames are counted, and the frames that were not read as TCP by reason
(``frames.REASONS``).  A file with no TCP packet at all, a file that is not a capture and a malformed
one (``Reader.corrupt``) are ``errors`` (one line each, the other files still analysed).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hairpin.errors import ParseError
from hairpin.model.net import Endpoint, Flags, Packet, ip_str, is_loopback
from hairpin.parsers.frames import LINKTYPES, VXLAN_PORTS
from hairpin.parsers.pcap import PacketRecord, Reader, read

__all__ = [
    "EXPIRE", "LIVE_KEEP", "VIEW_WINDOW", "Analysis", "Attempt", "FileStats", "analyse", "analyse_files", "file_stats", "watch",
]  # fmt: skip

VIEW_WINDOW = 0.2  # s: views of one transmission on several interfaces are this close; retransmits >= 1 s apart
KEEP = 400  # packets kept per failed attempt, for the pictures
KINDS = ("hairpin", "healthy", "server-reset", "loopback", "node-loopback", "unanswered-syn")
TEXT_ROWS = 50  # connections listed in each table of the text report (JSON lists them all)
LIVE_KEEP = 100  # hairpins and other failures a live stream keeps for its final report (all are reported and counted)
_SYN, _ACK, _RST = int(Flags.SYN), int(Flags.ACK), int(Flags.RST)
EXPIRE = 135.0  # s of capture time after an attempt's last packet: the kernel gives up a connect at 127 s


def _ep(addr: int, port: int) -> str:
    return f"{ip_str(addr)}:{port}"


@dataclass
class Attempt:
    """One client SYN and everything seen of it."""

    client: Endpoint
    isn: int
    called: Endpoint
    first_t: float
    last_t: float
    rounds: list[float] = field(default_factory=list)  # time of each SYN transmission
    answered_by: Endpoint | None = None  # the SYN-ACK source from elsewhere than `called` that the client reset
    elsewhere: set[Endpoint] = field(default_factory=set)  # sources of SYN-ACKs to the client, not `called`
    node_side: Endpoint | None = None  # client -> node:NodePort view (the NLB's rewrite)
    backend: Endpoint | None = None
    masquerade: Endpoint | None = None
    client_rst: bool = False
    server_rst: bool = False
    loopback: bool = False
    records: list[PacketRecord] = field(default_factory=list)
    kind: str = ""
    gave_up: bool = False
    reported: bool = False

    @property
    def syn_retransmits(self) -> int:
        return max(0, len(self.rounds) - 1)

    @property
    def lost_s(self) -> float:
        return self.last_t - self.first_t

    def to_json(self) -> dict[str, Any]:
        return {
            "client": str(self.client),
            "vip": str(self.called),
            "node": str(self.answered_by) if self.answered_by else None,
            "backend": str(self.backend) if self.backend else None,
            "syn_retransmits": self.syn_retransmits,
            "lost_s": round(self.lost_s, 6),
            "gave_up": self.gave_up,
        }


@dataclass(frozen=True)
class FileStats:
    """One file: its frames (``packets``), the TCP packets among them, the frames skipped by reason,
    where reading stopped early (``damage``) and ``error``: why the file gave no answer (not a capture,
    malformed, or nothing decodable), None when it was read."""

    file: str
    format: str
    linktypes: tuple[int, ...]
    packets: int
    skipped_by: tuple[tuple[str, int], ...] = ()
    damage: str | None = None
    error: str | None = None

    @property
    def skipped(self) -> int:
        return sum(n for _, n in self.skipped_by)

    @property
    def tcp(self) -> int:
        return self.packets - self.skipped

    def skipped_text(self) -> str:
        return ", ".join(f"{why} {n}" for why, n in self.skipped_by)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "linktypes": list(self.linktypes),
                "packets": self.packets, "tcp": self.tcp, "skipped": self.skipped,
                "skipped_by_reason": dict(self.skipped_by), "damage": self.damage, "error": self.error}  # fmt: skip


@dataclass
class Analysis:
    """The result: the hairpins one by one, every other failure, and the counts."""

    hairpins: list[Attempt]
    others: list[Attempt]
    packets: int
    connections: int
    healthy: int
    files: list[FileStats] = field(default_factory=list)
    counts: dict[str, int] | None = None  # a live stream's counts by kind (its lists hold the first LIVE_KEEP)

    @property
    def frames(self) -> int:
        return sum(f.packets for f in self.files)

    @property
    def skipped_by(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for f in self.files:
            out.update(dict(f.skipped_by))
        return dict(sorted(out.items()))

    @property
    def errors(self) -> list[str]:
        """One line per file that gave no answer: ``FILE: why``."""
        return [f"{f.file}: {f.error}" for f in self.files if f.error]

    def warnings(self) -> list[str]:
        """One line per file read with frames skipped, or cut short."""
        out = []
        for f in self.files:
            if f.error:
                continue
            if f.skipped:
                out.append(f"{f.file}: skipped {f.skipped} of {f.packets} frames ({f.skipped_text()}): "
                           "they were not read as TCP")  # fmt: skip
            if f.damage:
                out.append(f"{f.file}: {f.damage}; analysed up to there")
        return out

    @property
    def other_failures(self) -> dict[str, int]:
        if self.counts is not None:
            return {k: v for k, v in sorted(self.counts.items()) if k not in ("hairpin", "healthy")}
        return dict(sorted(Counter(a.kind for a in self.others).items()))

    @property
    def hairpin_count(self) -> int:
        return self.counts.get("hairpin", 0) if self.counts is not None else len(self.hairpins)

    def by(self, what: str) -> list[tuple[str, int]]:
        """Hairpins counted by ``client`` (address), ``node`` or ``vip``, most first."""

        def key(a: Attempt) -> str:
            return a.client.ip if what == "client" else str(a.answered_by) if what == "node" else str(a.called)

        return Counter(key(a) for a in self.hairpins).most_common()

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        n = self.hairpin_count
        yield Text(
            f"{n} hairpinned connection{'s' if n != 1 else ''} of {self.connections} in {self.packets} TCP packets; "
            f"healthy {self.healthy}; other failures: "
            + (", ".join(f"{k} {v}" for k, v in self.other_failures.items()) or "none"),
            style="bold red" if n else "bold green",
        )
        if self.files:
            skipped = sum(self.skipped_by.values())
            yield Text(f"read {self.frames} frame{'s' if self.frames != 1 else ''} in {len(self.files)} file{'s' if len(self.files) != 1 else ''}: "
                       f"{self.frames - skipped} TCP, skipped {skipped}"
                       + (f" ({', '.join(f'{k} {v}' for k, v in self.skipped_by.items())})" if skipped else ""),
                       style="yellow" if skipped else "")  # fmt: skip
        rows: list[tuple[tuple[str, ...], tuple[str, ...]]]
        if self.hairpins:
            rows = [((str(a.client), str(a.called), str(a.answered_by), str(a.backend or "-")),
                     (str(a.syn_retransmits), f"{a.lost_s:.3f}", "yes" if a.gave_up else "no"))
                    for a in self.hairpins[:TEXT_ROWS]]  # fmt: skip
            yield _fitting(console, options, HAIRPIN_TITLE, HAIRPIN_ADDRESSES, ("SYN retx", "lost (s)", "gave up"), rows)
            if len(self.hairpins) > TEXT_ROWS:  # a table of thousands: seconds to lay out, and no one reads it
                yield Text(f"... and {len(self.hairpins) - TEXT_ROWS} more (--format json lists them all)")
            for what in ("client", "node", "vip"):
                yield Text(f"by {what}: " + ", ".join(f"{k} {v}" for k, v in self.by(what)))
        if self.others:
            rows = [((str(a.client), str(a.called)), (a.kind, str(a.syn_retransmits), f"{a.lost_s:.3f}"))
                    for a in self.others[:TEXT_ROWS]]  # fmt: skip
            yield _fitting(console, options, "other failures (not the hairpin)", ("client", "called"),
                           ("kind", "SYN retx", "lost (s)"), rows)  # fmt: skip
            if len(self.others) > TEXT_ROWS:
                yield Text(f"... and {len(self.others) - TEXT_ROWS} more (--format json lists them all)")

    def to_json(self) -> dict[str, Any]:
        return {
            "hairpins": [a.to_json() for a in self.hairpins],
            "summary": {
                "packets": self.packets,
                "connections": self.connections,
                "hairpins": self.hairpin_count,
                "other_failures": self.other_failures,
                "healthy": self.healthy,
                "frames": self.frames,
                "skipped": sum(self.skipped_by.values()),
                "skipped_by_reason": self.skipped_by,
                "by_client": dict(self.by("client")),
                "by_node": dict(self.by("node")),
                "by_vip": dict(self.by("vip")),
            },
            "others": [{"kind": a.kind, **a.to_json()} for a in self.others],
            "files": [f.to_json() for f in self.files],
        }


HAIRPIN_TITLE = "hairpinned: SYN-ACK from an address the client did not call, reset by the client"
HAIRPIN_ADDRESSES = ("client", "called (VIP)", "answered by (node)", "backend")


def _fitting(console: Any, options: Any, title: str, addresses: tuple[str, ...], others: tuple[str, ...],
             rows: Sequence[tuple[tuple[str, ...], tuple[str, ...]]]) -> Any:
    """One row a connection: each address in its own column when that fits the width, else the addresses
    one under the other in one column (``hairpin.render.text``), so no address is cut."""
    from rich.table import Table

    from hairpin.render.text import fitting

    def table(stacked: bool) -> Table:
        t = Table(title=title, title_justify="left", show_lines=stacked)
        for col in (" / ".join(addresses),) if stacked else addresses:
            t.add_column(col, overflow="fold", no_wrap=not stacked)
        for col in others:
            t.add_column(col, no_wrap=True, justify="right" if col in ("SYN retx", "lost (s)") else "left")
        for addrs, rest in rows:
            t.add_row(*(("\n".join(addrs),) if stacked else addrs), *rest)
        return t

    return fitting(console, options, table(False), lambda: table(True))


class _Analyser:
    def __init__(self, on_hairpin: Callable[[Attempt, float], None] | None = None, keep: bool = True) -> None:
        self.open: dict[tuple[int, int, int], Attempt] = {}  # (client addr, client port, isn)
        self.by_isn: dict[int, list[Attempt]] = {}
        self.done: list[Attempt] = []
        self.others: list[Attempt] = []  # a live stream's first LIVE_KEEP other failures
        self.kinds: Counter[str] = Counter()  # attempts classified and forgotten (live streams)
        self.packets = 0
        self.connections = 0
        self.healthy = 0
        self.end = 0.0
        self.on_hairpin = on_hairpin
        self.keep = keep  # keep classified attempts (a file); a live stream counts and forgets them

    def _forget(self, a: Attempt) -> None:
        self.open.pop((a.client.addr, a.client.port, a.isn), None)
        same = self.by_isn.get(a.isn)
        if same is not None:
            same[:] = [x for x in same if x is not a]
            if not same:
                del self.by_isn[a.isn]

    def _find(self, isn: int, t: float, addr: int, port: int) -> Attempt | None:
        """The attempt a SYN-ACK or RST with this ISN belongs to: of the recent ones, the one whose client
        (or MASQUERADE source) is ``addr:port``, else the latest.  (Addresses and ports as plain ints: no
        Endpoint is built for a comparison, a packet at a time.)"""
        found = None
        for a in reversed(self.by_isn.get(isn, ())):
            if t - a.last_t < 130.0:
                c, m = a.client, a.masquerade
                if (c.addr == addr and c.port == port) or (m is not None and m.addr == addr and m.port == port):
                    return a
                found = found or a
        return found

    def _find_syn(self, isn: int, t: float, addr: int, port: int) -> Attempt | None:
        """The attempt a SYN with this ISN (from ``addr:port``) is a view of: the same client (a
        retransmission, or a view before source NAT), or a NAT view of the attempt's latest transmission
        (within ``VIEW_WINDOW``).  Another client's SYN with the same ISN later on is another attempt."""
        for a in reversed(self.by_isn.get(isn, ())):
            if t - a.last_t < 130.0 and (
                (a.client.addr == addr and a.client.port == port) or abs(t - a.rounds[-1]) < VIEW_WINDOW
            ):
                return a
        return None

    def feed(self, r: PacketRecord) -> None:
        p = r.packet
        self.packets += 1
        if r.t > self.end:
            self.end = r.t
        f = int(p.flags)  # plain int arithmetic: enum.Flag operators cost a call each
        if f & _SYN and not f & _ACK:
            self._syn(r, p)
        elif f & _SYN and f & _ACK:
            a = self._find((p.ack - 1) & 0xFFFFFFFF, r.t, p.dst, p.dport)
            if a is None:
                return
            self._keep(a, r)
            if p.dst == a.client.addr and p.dport == a.client.port:
                if p.src == a.called.addr and p.sport == a.called.port:
                    if a.answered_by is None:  # the answer the client expected: healthy, forget it
                        self.healthy += 1
                        self._forget(a)
                else:  # the target's own reply before the NLB rewrites it, or the seed's asymmetric return
                    a.elsewhere.add(p.source)
            elif a.backend is None and p.src != a.client.addr:
                a.backend = p.source  # backend -> node:masq, before de-NAT
        elif f & _RST:
            a = self._find((p.seq - 1) & 0xFFFFFFFF, r.t, p.src, p.sport) if not f & _ACK else None
            if a is not None:  # the client's RST (seq ISN + 1, no ACK), or its view after conntrack's NAT
                a.client_rst = True
                if p.src == a.client.addr and p.sport == a.client.port and p.dest in a.elsewhere:
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

    def _keep(self, a: Attempt, r: PacketRecord) -> None:
        if r.t > a.last_t:
            a.last_t = r.t
        if len(a.records) < KEEP:
            a.records.append(r)

    def _syn(self, r: PacketRecord, p: Packet) -> None:
        a = self._find_syn(p.seq, r.t, p.src, p.sport)
        if a is None:
            a = Attempt(p.source, p.seq, p.dest, r.t, r.t, [r.t])
            self.open[(p.src, p.sport, p.seq)] = a
            self.by_isn.setdefault(p.seq, []).append(a)
            self.connections += 1
            self._view(a, r, p)
            return
        if r.t - a.rounds[-1] >= VIEW_WINDOW:
            a.rounds.append(r.t)
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
            a.backend = p.dest

    def _classify(self, a: Attempt) -> None:
        if a.answered_by is None and a.client_rst and len(a.elsewhere) == 1:
            a.answered_by = next(iter(a.elsewhere))  # only the NATed view of the client's RST was seen
        elif a.answered_by is None and a.client_rst and not a.elsewhere and a.node_side is not None:
            # a capture of the client node's ENI (VPC Traffic Mirroring): the NLB's rewrite to node:NodePort
            # arrives, the de-NATed SYN-ACK is delivered inside the node (never on the ENI), and the client's
            # RST (seq ISN + 1, no ACK: a SYN-ACK it rejected) leaves after conntrack's NAT
            a.answered_by = a.node_side
        if a.answered_by is not None:
            a.kind = "hairpin"
        elif a.server_rst:
            a.kind = "server-reset"
        elif is_loopback(a.called.addr):
            a.kind = "loopback"  # local traffic on lo: no NLB ever sees it
        elif a.loopback:
            a.kind = "node-loopback"
        elif a.elsewhere:
            a.kind = "healthy"  # the target's reply on its way back through the NLB (a target-side capture)
        else:
            a.kind = "unanswered-syn"
        if len(a.rounds) >= 2:
            a.gave_up = self.end - a.rounds[-1] >= 2 * (a.rounds[-1] - a.rounds[-2])
        if a.kind == "hairpin" and a.backend is not None and a.backend == a.answered_by:
            a.backend = None  # only the NLB's rewrite was seen, not kube-proxy's DNAT
        if a.kind == "hairpin" and self.on_hairpin is not None and not a.reported:
            a.reported = True
            self.on_hairpin(a, a.last_t)
        self.kinds[a.kind] += 1
        if not self.keep and a.kind not in ("hairpin", "healthy") and len(self.others) < LIVE_KEEP:
            self.others.append(a)

    def expire(self, now: float) -> None:
        """Classify and forget every attempt with no packet in the last ``EXPIRE`` seconds."""
        for a in [a for a in self.open.values() if now - a.last_t > EXPIRE]:
            self._classify(a)
            self._forget(a)
            if self.keep:
                self.done.append(a)

    def finish(self) -> list[Attempt]:
        for a in list(self.open.values()):
            self._classify(a)
            if self.keep:
                self.done.append(a)
        self.open.clear()
        self.by_isn.clear()
        self.done.sort(key=lambda a: a.first_t)
        return self.done


def analyse(records: Iterable[PacketRecord], counted: tuple[int, float] = (0, float("-inf"))) -> Analysis:
    """Analyse packets in time order (one capture, or several merged by time).  ``counted``: healthy
    handshakes left out of ``records`` (``fastscan.healthy_pairs``) and their latest time."""
    an = _Analyser()
    an.connections = an.healthy = counted[0]
    an.packets = 2 * counted[0]
    an.end = max(an.end, counted[1])
    for r in records:
        an.feed(r)
    done = an.finish()
    return Analysis(
        [a for a in done if a.kind == "hairpin"],
        [a for a in done if a.kind not in ("hairpin", "healthy")],
        an.packets,
        an.connections,
        an.healthy + sum(a.kind == "healthy" for a in done),
    )


def file_stats(rd: Reader) -> FileStats:
    """What was read of one file, with ``error`` set when it gave no answer."""
    skipped = tuple(sorted(rd.reasons.items()))
    error = None
    if rd.corrupt and rd.damage:
        error = f"byte {rd.damage.removeprefix('stopped at byte ')}"
    elif rd.packets == rd.skipped and not rd.damage:
        what = ", ".join(f"{why} {n}" for why, n in skipped)
        unread = sorted(lt for lt in rd.linktypes if lt not in LINKTYPES)
        if unread:
            what += f"; link type{'s' if len(unread) > 1 else ''} {', '.join(map(str, unread))} not read"
        error = f"no TCP packet in {rd.packets} frame{'s' if rd.packets != 1 else ''}" + (f" (skipped: {what})" if what else "") if rd.packets else \
            "no packets in the capture"
    return FileStats(rd.path, rd.format, tuple(sorted(rd.linktypes)), rd.packets, skipped, rd.damage, error)


def analyse_files(paths: Sequence[str | Path], vxlan: frozenset[int] = VXLAN_PORTS, fast: bool = True) -> Analysis:
    """Read and analyse capture files together.  A file that is not a capture (``ParseError``) or is
    malformed is an error of that file (``Analysis.errors``) and the others are still analysed; when no
    file is a capture at all, the first ``ParseError`` is raised.  ``fast``: use the vectorised first
    pass (:mod:`hairpin.parsers.fastscan`) where it applies; the answer is the same without it."""
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

    def stream(n: int, rd: Reader) -> Iterator[tuple[float, int, int, PacketRecord]]:
        for i, r in enumerate(rd):
            yield r.t, n, i, r

    counted = (0, float("-inf"))
    scans = [rd.scan() for rd in readers] if fast else []
    if scans and all(sc is not None for sc in scans):  # every packet is known: healthy pairs need no decoding
        from hairpin.parsers.fastscan import healthy_pairs

        counted = healthy_pairs(scans)
    if len(readers) == 1:  # one file: its own order, nothing to merge
        result = analyse(readers[0], counted)
    else:
        merged = heapq.merge(*(stream(n, rd) for n, rd in enumerate(readers)))
        result = analyse((r for _, _, _, r in merged), counted)
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
    hairpins: list[Attempt] = []  # the first LIVE_KEEP, for the final report
    count = Counter[str]()

    def hairpin(a: Attempt, t: float) -> None:
        count["hairpin"] += 1
        if len(hairpins) < LIVE_KEEP:
            hairpins.append(a)
        report(f"{t:.6f} hairpin: {a.client} called {a.called}, SYN-ACK from {a.answered_by}, reset by the client")

    an = _Analyser(hairpin, keep=False)
    next_summary = None

    def summary(t: float) -> str:
        others = ", ".join(f"{k} {v}" for k, v in sorted(an.kinds.items()) if k not in ("hairpin", "healthy"))
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
    an.finish()
    report(summary(an.end) + " (end)")
    result = Analysis(hairpins, an.others, rd.packets - rd.skipped, an.connections, an.healthy + an.kinds["healthy"])
    result.files = [file_stats(rd)]
    result.counts = dict(an.kinds)
    return result
