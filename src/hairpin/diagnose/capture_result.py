"""What ``hairpin pcap`` found: one connection attempt (``Attempt``), one file (``FileStats``) and the whole
result (``Analysis``) with its text and JSON forms.  The analysis itself is :mod:`hairpin.diagnose.capture`.

Bounds: an ``Analysis`` counts every attempt by kind (``counts``) and the hairpins by client, node and
called address (``tallies``) exactly, and lists at most ``max_listed`` hairpins and as many other failures
(the earliest by first SYN); ``truncated`` says how many of each were left out of the lists.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hairpin.model.net import Endpoint
from hairpin.parsers.frames import LINKTYPES
from hairpin.parsers.pcap import PacketRecord, Reader
from hairpin.tcp import TCP_TIMEOUT_INIT

__all__ = ["HAIRPIN_ADDRESSES", "HAIRPIN_TITLE", "MAX_LISTED", "TEXT_ROWS", "Analysis", "Attempt", "FileStats",
           "file_stats"]

TEXT_ROWS = 50  # connections listed in each table of the text report
MAX_LISTED = 10_000  # hairpins (and as many other failures) listed by default; every one is counted


@dataclass(slots=True, eq=False)
class Attempt:
    """One client SYN and everything seen of it.  Compact, as a flood keeps many open at once: the SYN
    transmissions are their count, the latest one's time and the interval before it (all that
    ``syn_retransmits``, the view window and ``gave_up`` need), and ``elsewhere`` is None until a SYN-ACK
    comes from an address the client did not call."""

    client: Endpoint
    isn: int
    called: Endpoint
    first_t: float
    last_t: float
    n: int = 0  # the order attempts were opened in (ties of first_t are listed in it)
    syns: int = 1  # SYN transmissions (views of one transmission are one)
    round_t: float = 0.0  # time of the latest transmission
    round_dt: float = 0.0  # interval between the last two transmissions
    first_dt: float = 0.0  # interval between the first two transmissions (0.0: one transmission)
    doubling: bool = True  # every interval seen twice the one before, as Linux's backoff makes them (capture_series)
    answered_by: Endpoint | None = None  # the SYN-ACK source from elsewhere than `called` that the client reset
    elsewhere: set[Endpoint] | None = None  # sources of SYN-ACKs to the client, not `called`
    node_side: Endpoint | None = None  # client -> node:NodePort view (the NLB's rewrite)
    backend: Endpoint | None = None  # the latest backend seen (kube-proxy's DNAT of the latest round)
    backends: list[Endpoint] | None = None  # every backend seen, in order, a repeat once (kube-proxy draws one a round)
    masquerade: Endpoint | None = None
    # the sources of its SYN's NAT views (addresses and ports as ints: kube-proxy's MASQUERADE, the NLB's own address):
    # with the client's, where its answers go and its client's RST may come from (capture_analyser._Analyser._find)
    nat_sources: set[tuple[int, int]] | None = None
    client_rst: bool = False
    server_rst: bool = False
    loopback: bool = False
    records: list[PacketRecord] = field(default_factory=list)
    kind: str = ""
    gave_up: bool = False
    reported: bool = False
    # SYNs the series sent before the capture's first one, at least (capture_series.syns_before; 0: none known)
    before: int = 0
    seen: int = 0  # where its packets were captured: a bit for each file and interface (capture_series.Sources)

    def add_backend(self, b: Endpoint) -> None:
        """``b`` is the backend now: the latest in ``backend``, and in ``backends`` when it is another than the one
        before (kube-proxy draws an endpoint for each SYN round it DNATs: a retransmission may go to another
        backend, and back.  After the client's RST, conntrack deletes the entry at the next SYN and looks it up
        again as a new connection, "Attempt to reopen a closed/aborted connection" in tcp_packet, the kernel's
        net/netfilter/nf_conntrack_proto_tcp.c; kube-proxy's iptables rules draw with ``-m statistic --mode
        random``, kubernetes pkg/proxy/iptables/proxier.go; tests/data/pcap/lab-node1.pcap shows it)."""
        self.backend = b
        if self.backends is None:
            self.backends = [b]
        elif self.backends[-1] != b:  # (the views of one round are one)
            self.backends.append(b)

    def cut_by(self, stop: float) -> bool:
        """Whether a capture ending at ``stop`` cut this unanswered attempt short: its one SYN (no retransmission
        seen) came less than ``TCP_TIMEOUT_INIT`` (1 s, include/net/tcp.h) before the end, so the client's
        retransmission timer could not have fired yet.  A retransmitted SYN is never cut: the client already
        waited 1 s or more for an answer that did not come, which a working path never makes it do."""
        return self.syns == 1 and stop - self.round_t < TCP_TIMEOUT_INIT

    @property
    def syn_retransmits(self) -> int:
        return self.syns - 1

    @property
    def lost_s(self) -> float:
        return self.last_t - self.first_t

    def to_json(self) -> dict[str, Any]:
        return {
            "client": str(self.client),
            "vip": str(self.called),
            "node": str(self.answered_by) if self.answered_by else None,
            "backend": str(self.backend) if self.backend else None,
            "backends": [str(b) for b in self.backends or ()],
            "syn_retransmits": self.syn_retransmits,
            "lost_s": round(self.lost_s, 6),
            "gave_up": self.gave_up,
            "syns_before_capture": self.before,
        }

    def cells(self) -> tuple[str, str]:
        """The text table's SYN retransmissions and lost seconds; ``≥`` and the least the backoff gives when the
        series began before the capture (``before`` SYNs at least, sent over 2**before - 1 s at least)."""
        if not self.before:
            return str(self.syn_retransmits), f"{self.lost_s:.3f}"
        lost = self.lost_s + TCP_TIMEOUT_INIT * (2**self.before - 1)
        return f"≥{self.syn_retransmits + self.before}", f"≥{lost:.3f}"


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


def file_stats(rd: Reader) -> FileStats:
    """What was read of one file, with ``error`` set when it gave no answer."""
    skipped = tuple(sorted(rd.reasons.items()))
    error = None
    if rd.corrupt and rd.damage:
        error = f"byte {rd.damage.removeprefix('stopped at byte ')}"
    elif rd.packets == rd.skipped:  # no TCP packet read, whole or cut short: no answer (never an all-clear)
        what = ", ".join(f"{why} {n}" for why, n in skipped)
        unread = sorted(lt for lt in rd.linktypes if lt not in LINKTYPES)
        if unread:
            what += f"; link type{'s' if len(unread) > 1 else ''} {', '.join(map(str, unread))} not read"
        error = f"no TCP packet in {rd.packets} frame{'s' if rd.packets != 1 else ''}" + (f" (skipped: {what})" if what else "") if rd.packets else \
            "no packets in the capture"
        if rd.damage:
            error += f"; {rd.damage}"
    return FileStats(rd.path, rd.format, tuple(sorted(rd.linktypes)), rd.packets, skipped, rd.damage, error)


@dataclass
class Analysis:
    """The result: the hairpins one by one, every other failure, and the counts."""

    hairpins: list[Attempt]
    others: list[Attempt]
    packets: int
    connections: int
    healthy: int
    files: list[FileStats] = field(default_factory=list)
    counts: dict[str, int] | None = None  # every attempt by kind (the lists hold the first ``max_listed``)
    tallies: dict[str, list[tuple[str, int]]] | None = None  # every hairpin by client, node and vip, most first
    max_listed: int | None = None  # the cap on each list (None: the lists are complete)
    late: int = 0  # packets more than 5 s behind the capture's clock after an attempt had been forgotten
    # attempts with no answer, one SYN less than 1 s before the capture's last frame (Attempt.cut_by): cut by the end
    # of the capture, not failures (in ``connections`` only)
    cut: int = 0
    # answers to a SYN (a SYN-ACK, or a RST with ACK and sequence 0) that joined no attempt, one per ISN: their SYN
    # is not in the capture (``capture._Analyser._no_syn``); not connections
    no_syn: int = 0
    # failed attempts whose SYN series began before the capture (Attempt.before, capture_series.syns_before)
    before_capture: int = 0

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
        """One line per file read with frames skipped, or cut short; one if packets came out of time order."""
        out = []
        if self.cut:
            out.append(f"{self.cut} connection attempt{'s' if self.cut != 1 else ''} cut by the end of the capture: "
                       "one SYN, no answer yet, and the capture ended less than 1 s after it, before the client "
                       "could retransmit; not counted as failures (a file of a rotation: read the next file with "
                       "it)")  # fmt: skip
        if self.no_syn:
            several = self.no_syn != 1
            out.append(f"{self.no_syn} answer{'s' if several else ''} to {'SYNs' if several else 'a SYN'} not in the capture: "
                       f"SYN-ACKs, or RSTs to a SYN, whose SYN was sent before the capture began or on an interface "
                       "it did not see; not counted as connections (start the capture before the clients connect, "
                       "on every interface: tcpdump -i any)")  # fmt: skip
        if self.before_capture:
            n = self.before_capture
            one = n == 1
            whose, its, their = ("connection's", "its", "its") if one else ("connections'", "each one's", "their")
            out.append(f"{n} {whose} SYN series began before the capture: "
                       f"{its} first SYN seen came within its first retransmission interval (2 s or more, the "
                       "intervals doubling as Linux's backoff makes them) of the capture's start, so SYNs went before "
                       f"it (syns_before_capture: how many, at least); {their} SYN retransmissions and lost time are "
                       "at least what is shown (≥ in the table)")  # fmt: skip
        if self.late:
            out.append(f"{self.late} packet{'s' if self.late != 1 else ''} came more than 5 s behind the capture's "
                       "clock (out of time order) after attempts had been closed (with no packet for 135 s, or "
                       "healthy for 10 s): those packets may have missed their connection")  # fmt: skip
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
    def truncated(self) -> dict[str, int]:
        """How many hairpins and other failures were counted but left out of the lists."""
        return {"hairpins": self.hairpin_count - len(self.hairpins),
                "others": sum(self.other_failures.values()) - len(self.others)}  # fmt: skip

    @property
    def hairpin_count(self) -> int:
        return self.counts.get("hairpin", 0) if self.counts is not None else len(self.hairpins)

    def by(self, what: str) -> list[tuple[str, int]]:
        """Hairpins counted by ``client`` (address), ``node`` or ``vip``, most first."""
        if self.tallies is not None:
            return self.tallies[what]

        def key(a: Attempt) -> str:
            return a.client.ip if what == "client" else str(a.answered_by) if what == "node" else str(a.called)

        return Counter(key(a) for a in self.hairpins).most_common()

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        n = self.hairpin_count
        yield Text(
            f"{n} hairpinned connection{'s' if n != 1 else ''} of {self.connections} in {self.packets} TCP packets; "
            f"healthy {self.healthy}; other failures: "
            + (", ".join(f"{k} {v}" for k, v in self.other_failures.items()) or "none")
            + (f"; cut by the capture's end {self.cut}" if self.cut else "")
            + (f"; answers to SYNs not in the capture {self.no_syn}" if self.no_syn else ""),
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
            rows = [((str(a.client), str(a.called), str(a.answered_by), "\n".join(map(str, a.backends or ())) or "-"),
                     (*a.cells(), "yes" if a.gave_up else "no"))
                    for a in self.hairpins[:TEXT_ROWS]]  # fmt: skip
            yield _fitting(console, options, HAIRPIN_TITLE, HAIRPIN_ADDRESSES, ("SYN retx", "lost (s)", "gave up"), rows)
            if self.hairpin_count > TEXT_ROWS:  # a table of thousands: seconds to lay out, and no one reads it
                yield Text(self._more(self.hairpin_count, len(self.hairpins)))
            for what in ("client", "node", "vip"):
                yield Text(f"by {what}: " + ", ".join(f"{k} {v}" for k, v in self.by(what)))
        if self.others:
            rows = [((str(a.client), str(a.called)), (a.kind, *a.cells()))
                    for a in self.others[:TEXT_ROWS]]  # fmt: skip
            yield _fitting(console, options, "other failures (not the hairpin)", ("client", "called"),
                           ("kind", "SYN retx", "lost (s)"), rows)  # fmt: skip
            n_others = sum(self.other_failures.values())
            if n_others > TEXT_ROWS:
                yield Text(self._more(n_others, len(self.others)))

    def _more(self, counted: int, listed: int) -> str:
        if listed == counted:
            return f"... and {counted - TEXT_ROWS} more (--format json lists them all)"
        return (f"... and {counted - TEXT_ROWS} more (--format json lists the first {listed}; "
                f"--max-listed N lists more)")  # fmt: skip

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
                "max_listed": self.max_listed,
                "truncated": self.truncated,
                "cut_by_capture_end": self.cut,
                "answers_without_syn": self.no_syn,
                "started_before_capture": self.before_capture,
            },
            "others": [{"kind": a.kind, **a.to_json()} for a in self.others],
            "files": [f.to_json() for f in self.files],
        }


HAIRPIN_TITLE = "hairpinned: SYN-ACK from an address the client did not call, reset by the client"
HAIRPIN_ADDRESSES = ("client", "called (VIP)", "answered by (node)", "backend")


def _fitting(console: Any, options: Any, title: str, addresses: tuple[str, ...], others: tuple[str, ...],
             rows: Sequence[tuple[tuple[str, ...], tuple[str, ...]]]) -> Any:
    """One row a connection: each address in its own column when that fits the width, else the addresses
    one under the other in one column (``hairpin.render.text``), so no address is cut.  A cell of several
    addresses (every backend of a hairpin, in order) holds one a line; the rows are then ruled apart.  The
    title is a line of its own above the table: rich wraps a table's title at the table's width, mid-phrase
    when the table is narrow."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from hairpin.render.text import fitting

    several = any("\n" in x for addrs, _ in rows for x in addrs)  # a hairpin's backends, one a line: rows ruled

    def table(stacked: bool) -> Table:
        t = Table(show_lines=stacked or several)
        for col in (" / ".join(addresses),) if stacked else addresses:
            t.add_column(col, overflow="fold", no_wrap=not stacked)
        for col in others:
            t.add_column(col, no_wrap=True, justify="right" if col in ("SYN retx", "lost (s)") else "left")
        for addrs, rest in rows:
            t.add_row(*(("\n".join(addrs),) if stacked else addrs), *rest)
        return t

    return Group(Text(title, style="table.title"), fitting(console, options, table(False), lambda: table(True)))

