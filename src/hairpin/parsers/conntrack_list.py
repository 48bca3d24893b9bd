"""``conntrack -L`` (conntrack-tools; or ``/proc/net/nf_conntrack``) read into conntrack entries the tracer loads
before a trace, so a packet of an existing connection is handled with the entry's real NAT, not a fresh one.

    tcp      6 431999 ESTABLISHED src=A dst=B sport=P dport=Q [UNREPLIED] src=C dst=D sport=R dport=S [ASSURED] mark=M use=1
    udp      17 29 src=A dst=B sport=P dport=Q src=C dst=D sport=R dport=S mark=0 use=1
    ipv4     2 tcp      6 ...                       (/proc/net/nf_conntrack: the layer-3 columns first)

The first ``src= dst= sport= dport=`` group is the original tuple, the second the reply tuple (as
nf_conntrack prints them: net/netfilter/nf_conntrack_standalone.c); a reply tuple that differs from the
inverted original is NAT: destination NAT when the reply comes from another address or port than the
original went to, source NAT when it goes to another than the original came from.  Only tcp and udp
entries of the family asked for are kept (the tracer traces those): IPv4 ones by default, IPv6 ones (as
``conntrack -L -f ipv6`` lists them; plain ``conntrack -L`` lists IPv4 only) for an IPv6 trace.

A tuple (original or reply) that an earlier entry of the same zone already holds is refused with both lines:
the kernel hashes both tuples of every entry and refuses to confirm one that clashes with either
(``nf_conntrack_confirm``, net/netfilter/nf_conntrack_core.c), so one listing never shows a connection twice;
two listings pasted together do, and which of their entries to trust is not in them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hairpin.conntrack import IP_CT_DIR_ORIGINAL, IP_CT_DIR_REPLY, Conntrack, Entry, Tuple
from hairpin.errors import ParseError
from hairpin.model.net import addr_int, ip_int
from hairpin.reading import long_number, refusing_long_numbers
from hairpin.text import digits, split_lines

__all__ = ["CtEntry", "index", "load_into", "make", "parse"]

_TUPLE = re.compile(r"src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)")
_STATES = {"SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE",
           "SYN_SENT2", "NONE"}  # fmt: skip


@dataclass(frozen=True)
class CtEntry:
    orig: Tuple
    reply: Tuple
    state: str
    mark: int
    unreplied: bool
    line: int


@refusing_long_numbers
def parse(text: str, file: str | None = None, family: int = 4) -> list[CtEntry]:
    """The tcp and udp entries of ``family`` (4 or 6) in a listing."""
    out: list[CtEntry] = []
    seen: dict[tuple[str, Tuple], int] = {}  # (zone, tuple) -> the line of the entry holding it
    addr = ip_int if family == 4 else _v6
    for lineno, raw in enumerate(split_lines(text), 1):
        s = raw.strip()
        if not s or s.startswith(("#", "conntrack v")):
            continue
        toks = s.split()
        if toks[0] in ("ipv4", "ipv6"):
            if toks[0] != f"ipv{family}":
                continue
            toks = toks[2:]
        if len(toks) < 3 or not digits(toks[1]):
            raise ParseError(f"expected 'PROTO NUMBER TIMEOUT ...' (conntrack -L), got {s[:40]!r}", file, lineno)
        proto = toks[0]
        if proto not in ("tcp", "udp"):
            continue
        tuples = _TUPLE.findall(s)
        if len(tuples) != 2:
            raise ParseError("expected an original and a reply tuple (src= dst= sport= dport=, twice)", file, lineno)
        try:
            orig, reply = ((addr(a), int(p), addr(b), int(q), proto) for a, b, p, q in tuples)
        except ValueError as e:
            if (":" in tuples[0][0]) != (family == 6):
                continue  # the other family's entry (conntrack -L, conntrack -L -f ipv6)
            if long_number(e):
                raise  # refused in its own words (refusing_long_numbers)
            raise ParseError(f"bad tuple: {e}", file, lineno) from None
        if any(t[1] > 65535 or t[3] > 65535 for t in (orig, reply)):
            raise ParseError("port out of range", file, lineno)
        state = next((t for t in toks[3:5] if t in _STATES), "") if proto == "tcp" else "UDP"
        if proto == "tcp" and not state:
            raise ParseError("tcp entry without a state (ESTABLISHED, SYN_SENT...)", file, lineno)
        zone = re.search(r"\bzone=(\d+)", s)
        for t, (a, b, p, q) in zip((orig, reply), tuples, strict=True):
            first = seen.setdefault((zone.group(1) if zone else "0", t), lineno)
            if first != lineno:
                raise ParseError(f"tuple src={a} dst={b} sport={p} dport={q} is also line {first}'s: the kernel holds "
                                 "each tuple in one entry (nf_conntrack_confirm), so one conntrack -L listing never "
                                 "shows it twice (two listings pasted together?)", file, lineno)  # fmt: skip
        m = re.search(r"\bmark=(\d+)", s)
        out.append(CtEntry(orig, reply, state, int(m.group(1)) if m else 0, "[UNREPLIED]" in s, lineno))
    return out


def _v6(text: str) -> int:
    """An IPv6 address of a tuple (``ValueError`` for anything else, an IPv4 address included)."""
    if ":" not in text:
        raise ValueError(f"{text!r} is not an IPv6 address")
    return addr_int(text)


def load_into(table: Conntrack, entries: list[CtEntry], now: float) -> None:
    """Confirmed entries in ``table``, as the kernel holds them (NAT already decided both ways)."""
    for i, c in enumerate(entries):
        table.confirm(make(c, i, now), now)


def make(c: CtEntry, i: int, now: float) -> Entry:
    """Entry ``i`` of a listing, as confirming it at ``now`` leaves it (but not yet confirmed)."""
    e = Entry(1_000_000 + i, c.orig, c.reply)  # ids apart from the ones the host gives new entries
    e.state, e.mark, e.seen_reply = c.state, c.mark, not c.unreplied
    e.dnat = (c.reply[0], c.reply[1]) != (c.orig[2], c.orig[3])
    e.snat = (c.reply[2], c.reply[3]) != (c.orig[0], c.orig[1])
    e.nat_done = {"dst", "src"}
    Conntrack.refresh(e, now)
    return e


def index(entries: list[CtEntry]) -> dict[Tuple, tuple[int, int]]:
    """Which entry and direction each tuple finds once ``load_into`` has confirmed them one by one: an entry
    whose reply tuple another entry holds is refused (nf_conntrack_confirm), a later original tuple wins."""
    base: dict[Tuple, tuple[int, int]] = {}
    for i, c in enumerate(entries):
        if c.reply in base:
            continue
        base[c.orig] = (i, IP_CT_DIR_ORIGINAL)
        base[c.reply] = (i, IP_CT_DIR_REPLY)
    return base
