"""What a host says about a packet as it crosses it (rules matched, NAT bound, route taken, conntrack
entry made), and the ``Note`` that keeps those words unbuilt until someone reads them.

A host's notes are plain strings for the simulator.  The tracer walks every path of a packet and most of
its passes are never shown, so its fabric asks for ``Note`` objects instead (``Fabric.lazy``): each holds
the function that makes its lines and the values they are made from, taken when the note was made (the
packets, route decisions and steps are immutable; a conntrack entry, which changes, is copied into a
``CtWords``).  ``lines_of`` gives the lines of a mixed list, exactly the strings the eager host would
have appended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple

from hairpin.conntrack import describe
from hairpin.model.net import Endpoint, Packet

if TYPE_CHECKING:
    from hairpin.conntrack import Entry, Tuple
    from hairpin.netfilter.evaluate import Step
    from hairpin.routing import RouteResult

__all__ = ["CtWords", "Note", "ct_nat_lines", "dnat_lines", "lines_of", "new_entry_lines", "route_lines",
           "rule_lines", "snat_lines"]  # fmt: skip


class Note:
    """Lines of a host's words, built when first read (``lines``)."""

    __slots__ = ("_lines", "args", "fn")

    def __init__(self, fn: Callable[..., list[str]], *args: object) -> None:
        self.fn = fn
        self.args = args
        self._lines: list[str] | None = None

    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.fn(*self.args)
        return self._lines

    def __str__(self) -> str:
        return "; ".join(self.lines())


def lines_of(notes: Iterable[str | Note]) -> list[str]:
    """Every line of ``notes``: strings as they are, each ``Note``'s lines in its place."""
    out: list[str] = []
    for n in notes:
        if isinstance(n, str):
            out.append(n)
        else:
            out.extend(n.lines())
    return out


def rule_lines(table: str, steps: list[Step]) -> list[str]:
    """A table traversal's steps as lines, jumps and gotos left out (MARK's are kept: they set the mark)."""
    out = []
    for step in steps:
        target = step.rule.target
        if target is not None and target.name not in ("MARK",) and step.effect.startswith(("jump", "goto")):
            continue
        out.append(f"{table} {step.rule.chain}: {step.text}  [{step.effect}]")
    return out


class CtWords(NamedTuple):
    """What ``Entry.describe`` reads of a conntrack entry, copied when a note is made (the entry changes)."""

    orig: Tuple
    reply: Tuple
    state: str
    mark: int
    seen_reply: bool

    @classmethod
    def of(cls, ct: Entry) -> CtWords:
        return cls(ct.orig, ct.reply, ct.state, ct.mark, ct.seen_reply)

    def describe(self) -> str:
        return describe(self.orig, self.reply, self.state, self.mark, self.seen_reply)


def ct_nat_lines(what: str, manip: str, before: Packet, after: Packet, ct: CtWords) -> list[str]:
    return [f"conntrack {what} ({manip}): {before.source} > {before.dest} -> {after.source} > {after.dest}"
            f"  [{ct.describe()}]"]  # fmt: skip


def dnat_lines(kind: str, p: Packet, addr: int, port: int) -> list[str]:
    return [f"{kind}: {p.dest} -> {Endpoint(addr, port)}"]


def snat_lines(kind: str, random_fully: bool, p: Packet, addr: int, port: int,
               drawn: tuple[int, int] | None = None) -> list[str]:  # fmt: skip
    """``drawn``: the range the port was drawn from, when the packet's own port could not be kept (outside the
    range, or taken): the kernel draws it at random (nf_nat_core.c ``nf_nat_l4proto_unique_tuple``: a random
    offset for a source rewrite), so the port shown is one of many."""
    how = " --random-fully" if random_fully else ""
    why = f" (the port is drawn at random from {drawn[0]}-{drawn[1]}: this one is an example)" if drawn else ""
    return [f"{kind}{how}: {p.source} -> {Endpoint(addr, port)}{why}"]


def route_lines(r: RouteResult, suffix: str) -> list[str]:
    return [f"route: {r.describe()}{suffix}"]


def new_entry_lines(ct: CtWords) -> list[str]:
    return [f"conntrack: new entry [{ct.describe()}]"]
