"""The iptables rule model: a Ruleset holds Tables, a Table holds Chains, a Chain holds Rules.

A Rule keeps both its parsed structure (matches and a target, each a list of options) and where it
came from (file line, the text as written), so traces can quote it and writers can give it back.
Built-in matches (``-s -d -p -i -o -f``) are a Match whose ``module`` is ``""``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BUILTIN_CHAINS", "Chain", "Match", "Option", "Rule", "Ruleset", "Table", "Target"]

#: The built-in chains of each table, in the order iptables-save prints them.
BUILTIN_CHAINS: dict[str, tuple[str, ...]] = {
    "raw": ("PREROUTING", "OUTPUT"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}


def _setters(cls: type, *names: str) -> tuple[Any, ...]:
    """The slot setters of a frozen dataclass's fields, for an ``__init__`` faster than the one the dataclass
    generates (that one calls ``object.__setattr__`` for each field, which looks the name up first; a dump of
    170,000 rules makes as many Rules and about as many Options, Matches and Targets)."""
    return tuple(getattr(cls, n).__set__ for n in names)


@dataclass(frozen=True, slots=True, init=False)
class Option:
    """``[!] --name value...`` inside a match or a target."""

    name: str
    values: tuple[str, ...] = ()
    negated: bool = False
    quoted: bool = False  # the value was double-quoted in the source (iptables-save quotes comments)

    def __init__(self, name: str, values: tuple[str, ...] = (), negated: bool = False, quoted: bool = False) -> None:
        s = _OPTION
        s[0](self, name)
        s[1](self, values)
        s[2](self, negated)
        s[3](self, quoted)

    @property
    def value(self) -> str:
        return self.values[0] if self.values else ""


@dataclass(frozen=True, slots=True, init=False)
class Match:
    """``-m module`` with its options; module ``""`` holds one built-in option such as ``-s``."""

    module: str
    options: tuple[Option, ...] = ()

    def __init__(self, module: str, options: tuple[Option, ...] = ()) -> None:
        s = _MATCH
        s[0](self, module)
        s[1](self, options)

    def get(self, name: str) -> Option | None:
        for o in self.options:
            if o.name == name:
                return o
        return None


@dataclass(frozen=True, slots=True, init=False)
class Target:
    """``-j NAME options`` (or ``-g NAME`` when ``goto``); NAME is a verdict, an extension or a chain."""

    name: str
    options: tuple[Option, ...] = ()
    goto: bool = False

    def __init__(self, name: str, options: tuple[Option, ...] = (), goto: bool = False) -> None:
        s = _TARGET
        s[0](self, name)
        s[1](self, options)
        s[2](self, goto)

    def get(self, name: str) -> Option | None:
        for o in self.options:
            if o.name == name:
                return o
        return None


@dataclass(frozen=True, slots=True, init=False)
class Rule:
    """One ``-A CHAIN ...`` line.  ``index`` is the 1-based position in the chain, ``line`` in the file."""

    table: str
    chain: str
    matches: tuple[Match, ...]
    target: Target | None
    index: int = 0
    line: int = 0
    counters: tuple[int, int] | None = None
    source: str = ""

    def __init__(self, table: str, chain: str, matches: tuple[Match, ...], target: Target | None, index: int = 0,
                 line: int = 0, counters: tuple[int, int] | None = None, source: str = "") -> None:  # fmt: skip
        s = _RULE
        s[0](self, table)
        s[1](self, chain)
        s[2](self, matches)
        s[3](self, target)
        s[4](self, index)
        s[5](self, line)
        s[6](self, counters)
        s[7](self, source)

    def comment(self) -> str | None:
        for m in self.matches:
            if m.module == "comment":
                o = m.get("--comment")
                if o is not None:
                    return o.value
        return None

    @property
    def text(self) -> str:
        """The rule as iptables-save writes it (without counters)."""
        from hairpin.parsers.iptables_save import format_rule

        return format_rule(self)


_OPTION = _setters(Option, "name", "values", "negated", "quoted")
_MATCH = _setters(Match, "module", "options")
_TARGET = _setters(Target, "name", "options", "goto")
_RULE = _setters(Rule, "table", "chain", "matches", "target", "index", "line", "counters", "source")


@dataclass
class Chain:
    """A chain: built-in ones have a policy (ACCEPT/DROP), user chains have ``None`` (``-``)."""

    name: str
    policy: str | None = None
    counters: tuple[int, int] = (0, 0)
    rules: list[Rule] = field(default_factory=list)
    line: int = 0


@dataclass
class Table:
    name: str
    chains: dict[str, Chain] = field(default_factory=dict)
    line: int = 0

    def chain(self, name: str) -> Chain:
        if name not in self.chains:
            builtin = name in BUILTIN_CHAINS.get(self.name, ())
            self.chains[name] = Chain(name, "ACCEPT" if builtin else None)
        return self.chains[name]


@dataclass
class Ruleset:
    """Every table of one network namespace, of one family (iptables' or ip6tables').  ``header`` keeps the
    iptables-save comment lines."""

    tables: dict[str, Table] = field(default_factory=dict)
    file: str | None = None
    header: list[str] = field(default_factory=list)
    #: what loads but may not mean what was meant ("FILE:LINE: ..."; ``iptables_check.check`` fills it)
    warnings: list[str] = field(default_factory=list)
    #: 4: iptables' rules (IPv4 packets); 6: ip6tables' (IPv6 packets): ``forms.read_iptables`` tells them apart
    family: int = 4

    def table(self, name: str) -> Table:
        if name not in self.tables:
            self.tables[name] = Table(name)
        return self.tables[name]

    def rules(self) -> list[Rule]:
        return [r for t in self.tables.values() for c in t.chains.values() for r in c.rules]

    def merged(self, other: Ruleset) -> Ruleset:
        """A new ruleset with ``other``'s chains and rules appended (as a second iptables-restore --noflush)."""
        out = Ruleset(file=self.file, warnings=[*self.warnings, *other.warnings], family=self.family)
        for src in (self, other):
            for t in src.tables.values():
                tt = out.table(t.name)
                for c in t.chains.values():
                    cc = tt.chain(c.name)
                    if c.policy is not None:
                        cc.policy = c.policy
                    for r in c.rules:
                        cc.rules.append(
                            Rule(r.table, r.chain, r.matches, r.target, len(cc.rules) + 1, r.line, r.counters, r.source)
                        )
        return out
