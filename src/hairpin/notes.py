"""What a host says about a packet as it crosses it (rules matched, NAT bound, route taken, conntrack
entry made), and the ``Note`` that keeps those words unbuilt until someone reads them.

A host's notes are plain strings for the simulator.  The tracer walks every path of a packet and most of
its passes are never shown, so its fabric asks for ``Note`` objects instead (``Fabric.lazy``): each holds
the function that makes its lines and the values they are made from, taken when the note was made (the
packets, route decisions and steps are immutable; what a conntrack entry, which changes, says is copied:
``ct_words``).  ``lines_of`` gives the lines of a mixed list, exactly the strings the eager host would
have appended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from hairpin.conntrack import describe
from hairpin.model.net import Endpoint, Packet

if TYPE_CHECKING:
    from hairpin.conntrack import Entry, Tuple
    from hairpin.netfilter.evaluate import Step
    from hairpin.routing import RouteResult

__all__ = ["Note", "ct_nat_lines", "ct_words", "dnat_lines", "lines_of", "new_entry_lines", "route_lines",
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


def ct_words(ct: Entry) -> tuple[Tuple, Tuple, str, int, bool]:
    """What ``Entry.describe`` reads of a conntrack entry, copied when a note is made (the entry changes): a
    note's arguments are plain values, so that the garbage collector stops tracking them."""
    return ct.orig, ct.reply, ct.state, ct.mark, ct.seen_reply


def ct_nat_lines(what: str, manip: str, before: Packet, after: Packet, orig: Tuple, reply: Tuple, state: str,
                 mark: int, seen_reply: bool) -> list[str]:  # fmt: skip
    return [f"conntrack {what} ({manip}): {before.source} > {before.dest} -> {after.source} > {after.dest}"
            f"  [{describe(orig, reply, state, mark, seen_reply)}]"]  # fmt: skip


def dnat_lines(kind: str, dst: int, dport: int, addr: int, port: int) -> list[str]:
    """``dst``:``dport``: the packet's destination before the rewrite."""
    return [f"{kind}: {Endpoint(dst, dport)} -> {Endpoint(addr, port)}"]


def snat_lines(kind: str, random_fully: bool, src: int, sport: int, addr: int, port: int,
               drawn: tuple[int, int] | None = None) -> list[str]:  # fmt: skip
    """``src``:``sport``: the packet's source before the rewrite; ``drawn``: the range the port was drawn from,
    when the packet's own port could not be kept (outside the range, or taken): the kernel draws it at random
    (nf_nat_core.c ``nf_nat_l4proto_unique_tuple``: a random offset for a source rewrite), so the port shown is
    one of many."""
    how = " --random-fully" if random_fully else ""
    why = f" (the port is drawn at random from {drawn[0]}-{drawn[1]}: this one is an example)" if drawn else ""
    return [f"{kind}{how}: {Endpoint(src, sport)} -> {Endpoint(addr, port)}{why}"]


def route_lines(r: RouteResult, suffix: str) -> list[str]:
    return [f"route: {r.describe()}{suffix}"]


def new_entry_lines(orig: Tuple, reply: Tuple, state: str, mark: int, seen_reply: bool) -> list[str]:
    return [f"conntrack: new entry [{describe(orig, reply, state, mark, seen_reply)}]"]
