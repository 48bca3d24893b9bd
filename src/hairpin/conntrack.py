"""Connection tracking with NAT, as netfilter's nf_conntrack and nf_nat do it.

An entry has an original tuple (as the first packet came) and a reply tuple (what a reply looks like
after NAT).  NAT decisions are taken once, by the nat table on the first packet, and rewrite the reply
tuple; every later packet of the flow, in both directions, is rewritten from the tuples alone:
destination manipulation at PREROUTING/OUTPUT, source manipulation at POSTROUTING/INPUT.

TCP state follows nf_conntrack_proto_tcp in outline: NONE -SYN-> SYN_SENT -SYN/ACK(reply)-> SYN_RECV
-ACK-> ESTABLISHED; RST -> CLOSE.  A SYN in the original direction of a CLOSE or TIME_WAIT entry re-opens
the connection: the old entry is killed and the packet is tracked afresh (tcp_packet's "attempt to
reopen a closed/aborted connection"), so the nat table decides again.  A SYN/ACK or RST with no entry is
INVALID (tcp_new() accepts only SYN, or mid-stream ACKs with nf_conntrack_tcp_loose=1).
Timeouts are the kernel's defaults (nf_conntrack_tcp_timeout_*).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hairpin.model.net import Flags, Packet, ip_str

# TCP header bits as plain ints: IntFlag arithmetic runs in Python, int arithmetic in C
_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10

__all__ = ["IP_CT_DIR_ORIGINAL", "IP_CT_DIR_REPLY", "Conntrack", "Entry", "Tuple", "describe"]

Tuple = tuple[int, int, int, int, str]  # src, sport, dst, dport, proto

IP_CT_DIR_ORIGINAL = 0
IP_CT_DIR_REPLY = 1

# nf_conntrack_tcp_timeout_* defaults (seconds), Documentation/networking/nf_conntrack-sysctl.rst
TIMEOUTS = {
    "SYN_SENT": 120.0,
    "SYN_RECV": 60.0,
    "ESTABLISHED": 432000.0,
    "FIN_WAIT": 120.0,
    "CLOSE_WAIT": 60.0,
    "LAST_ACK": 30.0,
    "TIME_WAIT": 120.0,
    "CLOSE": 10.0,
    "UDP": 30.0,
}


def tuple_of(p: Packet) -> Tuple:
    return (p.src, p.sport, p.dst, p.dport, p.proto)


def invert(t: Tuple) -> Tuple:
    return (t[2], t[3], t[0], t[1], t[4])


def fmt_tuple(t: Tuple) -> str:
    return f"src={ip_str(t[0])} dst={ip_str(t[2])} sport={t[1]} dport={t[3]}"


def describe(orig: Tuple, reply: Tuple, state: str, mark: int, seen_reply: bool) -> str:
    """An entry as ``conntrack -L`` prints it (``Entry.describe``), from the fields it reads."""
    status = "" if seen_reply else " [UNREPLIED]"
    st = f"{state} " if orig[4] == "tcp" else ""
    return f"{orig[4]} {st}{fmt_tuple(orig)}{status} {fmt_tuple(reply)}" + (f" mark={mark}" if mark else "")


@dataclass(eq=False)
class Entry:
    """One tracked connection."""

    id: int
    orig: Tuple
    reply: Tuple
    state: str = "NONE"
    mark: int = 0
    confirmed: bool = False
    seen_reply: bool = False
    dnat: bool = False
    snat: bool = False
    nat_done: set[str] = field(default_factory=set)  # "dst", "src": manip types already decided
    expires: float = 0.0

    def describe(self) -> str:
        """``conntrack -L`` style text."""
        return describe(self.orig, self.reply, self.state, self.mark, self.seen_reply)


class Conntrack:
    """One network namespace's conntrack table."""

    def __init__(self) -> None:
        self._by_tuple: dict[Tuple, tuple[Entry, int]] = {}
        self._next = 1
        # entries loaded before a run (a node's conntrack -L): tuple -> (entry number, direction), each made
        # into an Entry the first time a tuple of it is asked about in a run (preload)
        self._base: dict[Tuple, tuple[int, int]] = {}
        self._make: Callable[[int], Entry] | None = None
        self._made: set[int] = set()

    def clear(self) -> None:
        """Empty the table; preloaded entries come back as they were loaded."""
        self._by_tuple.clear()
        if self._made:
            self._made = set()

    def preload(self, base: dict[Tuple, tuple[int, int]], make: Callable[[int], Entry]) -> None:
        """Hold the entries ``base`` maps (as ``confirm`` would have inserted them one by one) without making
        them: ``make(n)`` makes entry n (confirmed here) when a run first meets one of its tuples.  A trace of a
        node with 300,000 entries runs once per outcome; loading them all each time took 6 s a run."""
        self._base, self._make, self._made = base, make, set()

    def _get(self, t: Tuple) -> tuple[Entry, int] | None:
        found = self._by_tuple.get(t)
        if found is None and self._base:
            b = self._base.get(t)
            if b is not None and b[0] not in self._made:
                self._take(b[0])
                found = self._by_tuple.get(t)
        return found

    def _take(self, n: int) -> None:
        assert self._make is not None
        self._made.add(n)
        e = self._make(n)
        e.confirmed = True
        for t, d in ((e.orig, IP_CT_DIR_ORIGINAL), (e.reply, IP_CT_DIR_REPLY)):
            cur = self._by_tuple.get(t)
            if self._base.get(t, (-1, 0))[0] == n and (cur is None or cur[0] is e):
                self._by_tuple[t] = (e, d)

    def entries(self) -> list[Entry]:
        for n in sorted({b[0] for b in self._base.values()} - self._made):
            self._take(n)
        seen: dict[int, Entry] = {}
        for e, _ in self._by_tuple.values():
            seen[e.id] = e
        return list(seen.values())

    def lookup(self, p: Packet, now: float) -> tuple[Entry, int] | None:
        found = self._get(tuple_of(p))
        if found is None:
            return None
        entry, _ = found
        if entry.expires and now >= entry.expires:
            self.kill(entry)
            return None
        return found

    def new(self, p: Packet) -> Entry:
        """An unconfirmed entry for the first packet of a flow."""
        t = tuple_of(p)
        e = Entry(self._next, t, invert(t))
        self._next += 1
        return e

    def confirm(self, e: Entry, now: float) -> bool:
        """Insert both tuples (nf_conntrack_confirm).  False when the reply tuple clashes (packet dropped)."""
        if e.confirmed:
            return True
        self._get(e.orig)  # a preloaded entry there is made first, so that e replaces it as it would have
        clash = self._get(e.reply)
        if clash is not None and clash[0] is not e:
            return False
        e.confirmed = True
        self._by_tuple[e.orig] = (e, IP_CT_DIR_ORIGINAL)
        self._by_tuple[e.reply] = (e, IP_CT_DIR_REPLY)
        self.refresh(e, now)
        return True

    def kill(self, e: Entry) -> None:
        for t in (e.orig, e.reply):
            cur = self._by_tuple.get(t)
            if cur is not None and cur[0] is e:
                del self._by_tuple[t]
        e.confirmed = False

    def reply_in_use(self, reply: Tuple, now: float) -> bool:
        """Whether a confirmed entry already has this reply tuple (nf_nat_used_tuple)."""
        cur = self._get(reply)
        if cur is None:
            return False
        if cur[0].expires and now >= cur[0].expires:
            self.kill(cur[0])
            return False
        return True

    @staticmethod
    def refresh(e: Entry, now: float) -> None:
        e.expires = now + TIMEOUTS.get(e.state if e.orig[4] == "tcp" else "UDP", 120.0)

    @staticmethod
    def tcp_new_state(flags: Flags) -> str | None:
        """State of a new entry for a packet with ``flags``; None when the packet is INVALID (tcp_new)."""
        if int(flags) & _RST:
            return None
        if int(flags) & _SYN and not int(flags) & _ACK:
            return "SYN_SENT"
        if int(flags) & _SYN:
            return None  # a SYN/ACK with no entry
        if int(flags) & _FIN:
            return None  # a FIN (FIN/ACK) with no entry: tcp_conntracks' fin row from sNO is sIV (get_conntrack_index)
        if int(flags) & _ACK:
            return "ESTABLISHED"  # nf_conntrack_tcp_loose=1 picks up mid-stream connections
        return None

    def tcp_update(self, e: Entry, direction: int, flags: Flags, now: float) -> str:
        """Advance the TCP state for a packet; returns ``"ok"``, ``"reopen"`` or ``"invalid"``."""
        s = e.state
        if int(flags) & _RST:
            e.state = "CLOSE"
        elif int(flags) & _SYN and not int(flags) & _ACK:
            if direction == IP_CT_DIR_ORIGINAL and s in ("CLOSE", "TIME_WAIT"):
                return "reopen"
            if s in ("NONE", "SYN_SENT"):
                e.state = "SYN_SENT"
        elif int(flags) & _SYN and int(flags) & _ACK:
            if direction == IP_CT_DIR_REPLY and s in ("SYN_SENT", "SYN_RECV"):
                e.state = "SYN_RECV"
            elif s in ("CLOSE",):
                return "invalid"
        elif int(flags) & _FIN:
            if s in ("ESTABLISHED", "SYN_RECV"):
                e.state = "FIN_WAIT"
            elif s in ("FIN_WAIT", "CLOSE_WAIT", "LAST_ACK"):
                e.state = "LAST_ACK" if s == "FIN_WAIT" else s
        elif int(flags) & _ACK:
            if s == "SYN_RECV" and direction == IP_CT_DIR_ORIGINAL:
                e.state = "ESTABLISHED"
            elif s == "LAST_ACK":
                e.state = "TIME_WAIT"
        if direction == IP_CT_DIR_REPLY:
            e.seen_reply = True
        self.refresh(e, now)
        return "ok"
