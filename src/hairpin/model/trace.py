"""What a trace found, and its words: the outcomes of one packet on one node, each a list of legs.

A leg keeps what the tracer's walk recorded, compactly: the steps of each table traversal (the
evaluator's own ``Step`` lists, with their rules), the host's events with their notes (``hairpin.notes``:
strings, or ``Note`` objects built when read), and each random choice with its rule.  The words of the
report (rule steps with their text, notes, hops, the verdict, each choice) are built the first time they
are read, so the passes no one shows cost no words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from hairpin.model.hop import Hop
from hairpin.model.net import Packet
from hairpin.notes import Note, lines_of

if TYPE_CHECKING:
    from hairpin.netfilter.evaluate import Step
    from hairpin.netfilter.rules import Rule
    from hairpin.tunnels import Encapsulation

__all__ = ["ASYMMETRIC_WHY", "Decision", "Event", "Leg", "Outcome", "RuleStep", "Trace"]

#: a host's rule notes and its socket layer's notes, which the leg's own notes leave out (they are its steps)
_RULE_NOTE = re.compile(r"^(raw|mangle|nat|filter|security) \S+: ")
#: one thing the host did with the packet: (kind, where, packet, notes, time)
Event = tuple[str, str, Packet, list["str | Note"], float]


class RuleStep:
    """A rule the packet matched: where it is in the file and what it did."""

    __slots__ = ("chain", "effect", "line", "table", "text")

    def __init__(self, table: str, chain: str, line: int, text: str, effect: str) -> None:
        self.table, self.chain, self.line, self.text, self.effect = table, chain, line, text, effect

    def __repr__(self) -> str:
        return f"RuleStep({self.table!r}, {self.chain!r}, {self.line}, {self.text!r}, {self.effect!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleStep) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self.table, self.chain, self.line, self.text, self.effect))

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "chain": self.chain, "line": self.line, "rule": self.text, "effect": self.effect}


def _rule_text(rule: Rule) -> str:
    from hairpin.parsers.iptables_getopt import shown_rule

    return shown_rule(rule)


#: a route note's gateway: ``route: table main: 10.244.2.0/26 via 10.244.2.0 dev vxlan.calico``
_VIA = re.compile(r" via (?:inet6? )?(\S+)")
#: the event kinds that decide a leg's verdict, and its first word
_ENDINGS = {"forward": "forwarded", "deliver": "delivered", "drop": "dropped", "martian": "dropped"}


class Leg:
    """One packet's pass through the node (the request, or its reply).

    ``kind`` (forward | local | drop | martian | none), ``oif`` and ``out_packet`` are known when the pass
    ends; ``steps``, ``notes``, ``hops`` and ``verdict`` are words, built when first read from ``walk``
    (table, steps) per table traversal and ``events``.  ``tunnel``: the tunnel device it leaves by
    (``hairpin.tunnels``), whose outer packet is not followed."""

    __slots__ = ("_hops", "_notes", "_steps", "_verdict", "events", "iif", "kind", "lead", "name", "node", "oif",
                 "out_packet", "packet", "tunnel", "walk")  # fmt: skip

    def __init__(self, name: str, packet: Packet, iif: str | None, kind: str = "", node: str = "node") -> None:
        self.name, self.packet, self.iif, self.kind, self.node = name, packet, iif, kind, node
        self.oif: str | None = None
        self.out_packet: Packet | None = None
        self.walk: list[tuple[str, list[Step]]] = []
        self.events: list[Event] = []
        self.lead: list[str | Note] = []  # notes before the host's own (what answers, an existing entry)
        self._steps: list[RuleStep] | None = None
        self._notes: list[str] | None = None
        self._hops: list[Hop] | None = None
        self._verdict: str | None = None
        self.tunnel: Encapsulation | None = None

    def ended(self) -> None:
        """The pass is over: where the packet went, from the host's events (the last one that says)."""
        for kind, where, pkt, _, _ in self.events:
            if kind == "forward":
                self.kind, self.oif, self.out_packet = "forward", where, pkt
            elif kind == "deliver":
                self.kind, self.out_packet = "local", pkt
            elif kind in ("drop", "martian"):
                self.kind = kind
        if not self.kind:
            self.kind = "none"

    @property
    def steps(self) -> list[RuleStep]:
        if self._steps is None:
            self._steps = [RuleStep(table, s.rule.chain, s.rule.line, s.text or _rule_text(s.rule), s.effect)
                           for table, steps in self.walk for s in steps]  # fmt: skip
        return self._steps

    @property
    def notes(self) -> list[str]:
        if self._notes is None:
            # the host's own socket layer has no sockets: what answers is the tracer's reply
            self._notes = lines_of(self.lead) + [n for e in self.events for n in lines_of(e[3])
                                                 if not _RULE_NOTE.match(n) and not n.startswith("TCP: ")]  # fmt: skip
        return self._notes

    @property
    def hops(self) -> list[Hop]:
        if self._hops is None:
            self._hops = [Hop(now, f"{self.node} {where}" if kind == "forward" else where, pkt,
                              "; ".join(lines_of(notes)), "send" if kind == "forward" else kind, 0, self.node)
                          for kind, where, pkt, notes, now in self.events]  # fmt: skip
        return self._hops

    @property
    def verdict(self) -> str:
        if self._verdict is None:
            verdict = ""
            for kind, where, pkt, notes, _ in self.events:
                if kind == "forward":
                    route = next((n for n in lines_of(notes) if n.startswith("route: ")), "")
                    verdict = f"forwarded out {where} as {pkt}" + (f" ({route[7:]})" if route else "")
                elif kind == "deliver":
                    verdict = f"delivered locally as {pkt}"
                elif kind in ("drop", "martian"):
                    said = lines_of(notes)
                    dropped = next((n[11:] for n in reversed(said) if n.startswith("dropped in ")), where)
                    which = next((n.split()[1] for n in said if n.startswith("martian ")), "source")
                    verdict = f"dropped in {dropped}" + (f" (martian {which})" if kind == "martian" else "")
            self._verdict = verdict or "no packet left (swallowed)"
        return self._verdict

    @verdict.setter
    def verdict(self, text: str) -> None:
        self._verdict = text

    @property
    def gateway(self) -> str | None:
        """The ``via`` of the route the packet left by (its forward event's route note), if it has one."""
        for kind, _, _, notes, _ in reversed(self.events):
            if kind == "forward":
                route = next((n for n in lines_of(notes) if n.startswith("route: ")), "")
                m = _VIA.search(route)
                return m.group(1) if m else None
        return None

    @property
    def encapsulated(self) -> str | None:
        """What becomes of a packet that leaves by a tunnel device (None: it does not)."""
        return self.tunnel.line(self.gateway) if self.tunnel is not None else None

    @property
    def ending(self) -> str:
        """The first word of ``verdict`` (forwarded, delivered, dropped...), without putting it into words."""
        if self._verdict is not None:
            return self._verdict.split(" ", 1)[0]
        word = "no"
        for kind, *_ in self.events:
            if kind in _ENDINGS:
                word = _ENDINGS[kind]
        return word

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": {"packet": str(self.packet), "iface": self.iif},
            "steps": [s.to_json() for s in self.steps],
            "notes": self.notes,
            "verdict": self.verdict,
            "out": {"packet": str(self.out_packet), "iface": self.oif} if self.out_packet is not None else None,
            "hops": [h.to_json() for h in self.hops],
        } | ({"encapsulated": self.tunnel.to_json(self.gateway)} if self.tunnel is not None else {})


#: one random choice: its exact probability, the answer taken, and what to say of it: the rule that drew
#: (None: an IPVS scheduler's choice, said by ``what``/``yes``/``no``)
Decision = tuple[Fraction, bool, "Rule | None", str, str, str]


def _choice(d: Decision) -> str:
    exact, answer, rule, what, yes, no = d
    if rule is not None:
        text = f"(p={exact}): {rule.source}" if rule.table == "nft" else f"(p={exact}): {_rule_text(rule)}"
        where = f"{what} line {rule.line}" if what else f"line {rule.line}"  # what: the backend, with two
        return f"{where} matched {text}" if answer else f"{where} did not match {text}"
    if answer:
        return yes or f"{what}: chosen (p={exact})"
    return no or f"{what}: not chosen (p={exact})"


class Outcome:
    """One path: the random choices that lead to it, its probability, and what happened."""

    __slots__ = ("_asymmetric", "_choices", "_probability", "assumes", "decisions", "legs", "undecided")

    def __init__(self, decisions: list[Decision], legs: list[Leg], undecided: list[str] | None = None,
                 asymmetric: tuple[str, Leg] | None = None) -> None:  # fmt: skip
        self.decisions = decisions
        self.legs = legs
        self.undecided = undecided or []
        self._asymmetric = asymmetric  # (the request's interface, the reply that left by another)
        self._probability: Fraction | None = None
        self._choices: list[str] | None = None
        #: with two iptables backends whose order changes the outcome: the order this outcome assumes
        self.assumes: str | None = None

    @property
    def probability(self) -> Fraction:
        if self._probability is None:
            prob = Fraction(1)
            for exact, answer, *_ in self.decisions:
                prob *= exact if answer else 1 - exact
            self._probability = prob
        return self._probability

    @property
    def choices(self) -> list[str]:
        if self._choices is None:
            self._choices = [_choice(d) for d in self.decisions]
        return self._choices

    @property
    def asymmetric(self) -> str | None:
        if self._asymmetric is None:
            return None
        iif, rep = self._asymmetric
        return f"the request came in on {iif} but its reply leaves on {rep.oif} as {rep.out_packet}"

    @property
    def hops(self) -> list[Hop]:
        return [h for leg in self.legs for h in leg.hops]

    def to_json(self) -> dict[str, Any]:
        return {
            "probability": str(self.probability),
            "p": float(self.probability),
            "choices": self.choices,
            "legs": [leg.to_json() for leg in self.legs],
            "asymmetric": self.asymmetric,
            "undecided": self.undecided,
        } | ({"assumes": self.assumes} if self.assumes is not None else {})


ASYMMETRIC_WHY = (
    "a reply that leaves by another interface than its request came in on does not go back the way the request "
    "came. If that interface faces the load balancer and the client's address was preserved, the client called "
    "the load balancer's address, gets the reply from the node's address instead, and resets it: random "
    "timeouts (the seed's failure)"
)


class Trace:
    """Every outcome of one packet on one node."""

    def __init__(self, packet: Packet, iif: str | None, outcomes: list[Outcome], warnings: list[str] | None = None,
                 inputs: dict[str, str] | None = None) -> None:  # fmt: skip
        self.packet = packet
        self.iif = iif
        self.outcomes = outcomes
        self.warnings = warnings if warnings is not None else []
        self.inputs = inputs if inputs is not None else {}  # kind -> "FILE: form read"
        #: how many different results the orders of two iptables backends give (1: the order does not matter,
        #: or one backend); above 1 the outcomes of each result are listed, each saying the order it assumes
        self.results = 1
        #: the pairs of tables of equal priority whose order at a hook the dumps cannot tell, each tried both ways
        #: (``hairpin.legacy.unknown_orders``): {"table", "hook", "between": [a, b]}
        self.unknown_orders: list[dict[str, object]] = []
        #: datapaths outside netfilter the node's files show (``hairpin.unseen``): "Cilium", "Calico's eBPF
        #: dataplane"; the trace is what netfilter and routing do, not necessarily where the packet goes
        self.not_modelled: list[str] = []

    @property
    def asymmetric_outcomes(self) -> list[int]:
        return [i for i, o in enumerate(self.outcomes, 1) if o.asymmetric]

    def to_json(self) -> dict[str, Any]:
        return {
            "packet": str(self.packet),
            "in": self.iif,
            "inputs": self.inputs,
            "outcomes": [o.to_json() for o in self.outcomes],
            "total_probability": str(sum((o.probability for o in self.outcomes), Fraction(0))),
            "warnings": self.warnings,
            "asymmetric": {"outcomes": self.asymmetric_outcomes, "why": ASYMMETRIC_WHY}
            if self.asymmetric_outcomes else None,
        } | ({"results": self.results} if self.results > 1 else {}) | (
            {"unknown_orders": self.unknown_orders} if self.unknown_orders else {}) | (
            {"not_modelled": self.not_modelled} if self.not_modelled else {})  # fmt: skip

    def lines(self) -> Iterator[tuple[str, str]]:
        """The text report as (style, line) pairs: whole lines, never wrapped."""
        where = f"in {self.iif}" if self.iif else "sent by the node"
        n = len(self.outcomes)
        yield "bold", f"{self.packet} {where}: {n} outcome{'s' if n != 1 else ''}"
        for kind, said in self.inputs.items():
            yield "dim", f"read {kind}: {said}"
        if self.warnings:
            yield "", ""
            yield "bold yellow", f"warnings ({len(self.warnings)}):"
            for w in self.warnings:
                yield "yellow", f"  warning: {w}"
        # the chain column fits the report's longest iptables chain name (kube-proxy's KUBE-SVC-/KUBE-SEP- names
        # are 25 characters; iptables allows 28, XT_EXTENSION_MAXNAMELEN less its NUL): the line numbers stay in
        # one column; an nftables chain named longer (kube-proxy's service-...-NS/NAME/tcp/PORT) overflows it
        width = max([24, *(len(s.chain) for o in self.outcomes for leg in o.legs for s in leg.steps
                           if len(s.chain) <= 28)])  # fmt: skip
        for i, o in enumerate(self.outcomes, 1):
            yield "", ""
            yield "bold cyan", f"outcome {i}/{n}: probability {o.probability} ({float(o.probability):.6f})"
            if o.assumes is not None:
                yield "bold yellow", f"  assumes: {o.assumes}"
            for c in o.choices:
                yield "cyan", f"  chose: {c}"
            for leg in o.legs:
                yield "bold", f"  {leg.name}: {leg.packet} " + (f"in {leg.iif}" if leg.iif else "(sent by the node)")
                for s in leg.steps:
                    yield "", f"    {s.table:<6} {s.chain:<{width}} line {s.line:<5} {s.text}  [{s.effect}]"
                for note in leg.notes:
                    yield "dim", f"    {note}"
                yield ("green" if leg.kind in ("forward", "local") else "red"), f"    => {leg.verdict}"
                if leg.tunnel is not None:
                    yield "yellow", f"       {leg.encapsulated}"
            for u in o.undecided:
                yield "yellow", f"  could not decide: {u}"
            if o.asymmetric:
                yield "bold red", f"  ASYMMETRIC RETURN: {o.asymmetric}"
        asym = self.asymmetric_outcomes
        if asym:
            yield "", ""
            which = ", ".join(map(str, asym))
            yield "bold red", f"ASYMMETRIC RETURN in outcome{'s' if len(asym) > 1 else ''} {which} of {n}: {ASYMMETRIC_WHY}"

    def text(self) -> str:
        return "".join(line + "\n" for _, line in self.lines())

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        """On a terminal: each line wrapped at its width, the lines it wraps onto under its own indentation
        (a rule, a warning or where the packet goes is never cut at the terminal's edge)."""
        from rich.text import Text

        from hairpin.render.text import indented

        for style, line in self.lines():
            body = line.lstrip(" ")
            if not body:
                yield Text("")  # a blank line between outcomes (a padded empty text renders no line)
                continue
            yield indented(Text(body, style=style, overflow="fold"), len(line) - len(body))
