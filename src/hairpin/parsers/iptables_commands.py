"""The commands of a rule file's lines besides ``-A``, and the words around a rule that are not part of it,
as ``iptables-restore`` 1.8.9 reads them and the kernel then applies them, in the order of the lines.

``iptables-restore`` hands each line inside a table to ``do_parse`` (iptables/xshared.c, 1.8.9; the nf_tables
restore: iptables/xtables-restore.c ``xtables_restore_parse_line``, which puts ``-t TABLE`` before the line's
words), so a line may hold any command of ``iptables``.  What hairpin reads, each point checked by loading
into a private network namespace with ``iptables-nft-restore`` 1.8.9 (nf_tables, Debian 12) and reading
back with ``iptables-nft-save`` (``tests/test_iptables_forms.py``):

- ``-I CHAIN [NUM]``: the rule goes before rule NUM (1 when no number is given: the head).  A number one past
  the last rule appends (nft.c ``nft_rule_insert``: "iptables allows to insert into rule_count + 1
  position"; not into an empty chain, though); beyond, the load fails: "Index of insertion too big".  The
  number is the next word when that word does not start with ``-`` or ``!`` (``xs_has_arg``), read by
  ``parse_rulenumber`` (``strtoumax`` base 0, 1 to 2147483647: ``0x2`` is 2, ``010`` is 8; else "Invalid rule
  number `0'").
- ``-D CHAIN NUM`` deletes rule NUM ("Index of deletion too big"); ``-D CHAIN RULE`` deletes the first rule
  iptables finds equal (none: "Bad rule (does a matching rule exist in that chain?)").  iptables compares
  rules after parsing their values (``10.0.0.1`` is ``10.0.0.1/32``): hairpin reads ``-s``/``-d`` as
  addresses and the rest word for word, deletes the first rule equal in both, and refuses when an earlier
  rule with the same target and matches might be equal.
- ``-s A,B`` / ``-d C,D``: one rule per address pair (``expand``), so positions count each of them.
- ``-R CHAIN NUM RULE`` replaces rule NUM ("Index of replacement too big"; a rule of several addresses:
  "Replacement rule does not specify a unique address").  iptables-legacy-restore 1.8.9 replaces it;
  iptables-nft-restore 1.8.9 crashes (segmentation fault, nothing loaded) on a replace of a rule that exists:
  hairpin reads the replace and warns.
- ``-N CHAIN`` ("Chain already exists"; ``assert_valid_chain_name``), ``-P CHAIN ACCEPT|DROP`` ("Bad
  built-in chain name", "Bad policy name"), ``-F CHAIN`` (no such chain: "No chain/target/match by that
  name"), ``-X CHAIN`` (a user chain that is empty and that no rule jumps to; else the kernel refuses:
  "CHAIN_DEL failed (Device or resource busy)"), ``-Z [CHAIN [NUM]]`` (counters only; refused where
  iptables-nft-restore 1.8.9 puts back a built-in chain's earlier policy or fails on counted rules: ``_zero``).  Refused, not
  modelled: ``-F`` with no chain (iptables-nft-restore 1.8.9 keeps the rules the file added before it, the
  legacy one removes them), ``-E`` (iptables-nft-restore 1.8.9 fails: "CHAIN_RENAME failed (No such file or
  directory)"), ``-C``, ``-L``, ``-S``, ``-V``, ``-h``.
- ``-c PACKETS BYTES`` / ``--set-counters`` (``-c P,B`` too): the rule's counters, read with ``sscanf
  %llu``; "-c requires packet and byte counter", "-c packet counter not numeric".
- ``-6`` / ``--ipv6``: ``do_parse`` returns at once, so the words after it are not read; a rule (``-A``,
  ``-I``, ``-D RULE``) is then added or deleted for no address at all (``nft_ipv4_add_entry`` loops over the
  addresses post_parse never parsed): the line does nothing, silently; hairpin warns.  Other commands
  are carried out.  ``-4`` is ignored.
- Short options cluster as getopt reads them: ``-fp tcp`` is ``-f -p tcp``, ``-fj DROP`` is ``-f -j DROP``.
- ``generic_opt_check``: ``-n``, ``-x``, ``--line-numbers`` with any of these commands, a rule option with
  ``-F``/``-N``/``-X``/``-Z``/``-P``/``-D NUM``, ``-c`` with ``-D``: "Illegal option `-n' with this command".

Errors the kernel gives when the file is committed (``iptables-restore --test`` does not see them) are said
as iptables-nft-restore says them, with "(when the file is loaded)".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from hairpin.errors import ParseError
from hairpin.netfilter.rules import BUILTIN_CHAINS, Chain, Match, Option, Rule, Table, Target

__all__ = ["Command", "Edits", "apply", "counter", "rule_number"]

_INT_MAX = 2**31 - 1
#: do_parse's commands (xshared.c cmd2char): the letter iptables names each by
COMMANDS = frozenset("ACDEFILNPRSXZ")
#: generic_opt_check's table (xshared.c commands_v_options, 1.8.9): the options each command refuses, in
#: the order it looks at them (optflags: n s d p j v x i o 0 c f)
_ORDER = "nsdpjvxio0cf"
_ILLEGAL = {
    "I": "nx0", "A": "nx0", "R": "nx0", "D": "nx0c", "C": "nx0c", "Dnum": "nsdpjxio0cf", "F": "nsdpjxio0cf",
    "Z": "nsdpjxio0cf", "N": "nsdpjxio0cf", "X": "nsdpjxio0cf", "E": "nsdpjxio0cf", "P": "nsdpjxio0f",
}  # fmt: skip


@dataclass
class Command:
    """What a line asks: the command letter, its chain, rule number and second word (``-P``'s policy, ``-E``'s new
    name), the rule's words (``-A CHAIN`` first, in iptables-save's spelling), the counters of ``-c``, the
    option letters ``generic_opt_check`` looks at, and whether ``-6`` ended the reading."""

    op: str | None = None
    chain: str | None = None
    num: int | None = None
    arg: str | None = None
    tokens: list[tuple[str, bool]] = field(default_factory=list)
    counters: tuple[int, int] | None = None
    options: set[str] = field(default_factory=set)
    skipped: bool = False

    @property
    def plain(self) -> bool:
        """An ``-A`` or a head ``-I`` with nothing else: what the rule parser reads on its own."""
        return (self.op == "A" or (self.op == "I" and self.num is None)) and self.counters is None and not self.skipped


def strtoumax(text: str) -> int | None:
    """C ``strtoumax(text, &end, 0)`` when it reads the whole word (after blanks; ``+``, ``0x``, octal ``0``)."""
    s = text.lstrip(" \t\n\v\f\r")
    if s[:1] in ("+", "-"):
        neg, s = s[0] == "-", s[1:]
    else:
        neg = False
    base = 16 if s[:2].lower() == "0x" and len(s) > 2 else 8 if s[:1] == "0" and len(s) > 1 else 10
    body = s[2:] if base == 16 else s
    digits = "0123456789abcdef"[:base]
    if not body or any(ch.lower() not in digits for ch in body):
        return None
    v = int(body, base)
    return (-v) % 2**64 if neg else v


def rule_number(text: str, file: str | None, line: int | None) -> int:
    """``parse_rulenumber``: ``xtables_strtoui(rule, NULL, &n, 1, INT_MAX)`` (no leading ``-``)."""
    v = None if text.lstrip(" \t\n\v\f\r")[:1] == "-" else strtoumax(text)
    if v is None or not 1 <= v <= _INT_MAX:
        raise ParseError(f"Invalid rule number `{text}'", file, line)
    return v


def counter(text: str) -> int | None:
    """``sscanf(text, "%llu")``: blanks, a sign, decimal digits (a minus wraps modulo 2**64); None if no digit."""
    s = text.lstrip(" \t\n\v\f\r")
    neg = s[:1] == "-"
    if s[:1] in ("+", "-"):
        s = s[1:]
    n = len(s) - len(s.lstrip("0123456789"))
    if not n:
        return None
    v = min(int(s[:n]), 2**64 - 1)
    return (-v) % 2**64 if neg else v


def illegal(cmd: Command, file: str | None, line: int | None) -> None:
    """``generic_opt_check`` for the command's options."""
    key = "Dnum" if cmd.op == "D" and cmd.num is not None else cmd.op or ""
    bad = _ILLEGAL.get(key, "")
    for c in _ORDER:
        if c in cmd.options and c in bad:
            raise ParseError(f"Illegal option `-{c}' with this command", file, line)


# ---------------------------------------------------------------------------------------------- applying


class Edits:
    """The chains' rules while a file's lines change them.  ``-I`` at the head is kept aside per chain and put
    in front when a line needs the chain's positions, or at the end (inserting at every head ``-I`` made a
    dump of N of them cost N^2); each changed chain is renumbered at the end."""

    def __init__(self) -> None:
        self.front: dict[int, tuple[Chain, list[Rule]]] = {}
        self.dirty: dict[int, Chain] = {}

    def head(self, chain: Chain, rule: Rule) -> None:
        self.front.setdefault(id(chain), (chain, []))[1].append(rule)
        self.dirty[id(chain)] = chain

    def rules(self, chain: Chain) -> list[Rule]:
        """The chain's rules in order, for a line that needs their positions (changed in place)."""
        kept = self.front.pop(id(chain), None)
        if kept is not None:
            chain.rules[:0] = reversed(kept[1])
        self.dirty[id(chain)] = chain
        return chain.rules

    def finish(self) -> None:
        for chain in list(self.dirty.values()):
            rules = self.rules(chain)
            rules[:] = [r if r.index == i + 1 else _reindex(r, i + 1) for i, r in enumerate(rules)]
        self.front.clear()
        self.dirty.clear()


def _reindex(rule: Rule, index: int) -> Rule:
    return Rule(rule.table, rule.chain, rule.matches, rule.target, index, rule.line, rule.counters, rule.source)


def _multi(rule: Rule) -> bool:
    """A rule of several addresses (``-s A,B``): iptables makes one kernel rule per address pair."""
    return any(m.module == "" and o.name in ("-s", "-d") and "," in o.value for m in rule.matches for o in m.options)


def expand(rule: Rule, file: str | None, line: int | None) -> list[Rule]:
    """The kernel rules of ``rule``: one per (source, destination) pair of a ``-s A,B`` / ``-d C,D`` list, sources
    outermost, in the order written (iptables/xtables.c add_entry, 1.8.9: ``for`` each source, ``for`` each
    destination, append or insert at the rule's position, so an insert's rules end up in reverse order; each
    address keeps its own mask, ``xtables_ipparse_multiple``).  Checked with iptables-nft-restore 1.8.9:
    ``! -s A,B`` is refused, an empty item is "host/network `' not found", a repeated address makes two rules."""
    if not _multi(rule):
        return [rule]
    lists: dict[str, list[str]] = {}
    for m in rule.matches:
        for o in m.options:
            if m.module == "" and o.name in ("-s", "-d") and "," in o.value:
                if o.negated:
                    raise ParseError("! not allowed with multiple source or destination IP addresses", file, line)
                items = o.value.split(",")
                if "" in items:
                    raise ParseError("host/network `' not found", file, line)
                lists[o.name] = items

    def one(src: str | None, dst: str | None) -> Rule:
        def pick(o: Option) -> Option:
            chosen = {"-s": src, "-d": dst}.get(o.name) if "," in o.value else None
            return o if chosen is None else Option(o.name, (chosen,), o.negated, o.quoted)

        matches = tuple(m if m.module else Match(m.module, tuple(pick(o) for o in m.options)) for m in rule.matches)
        return Rule(rule.table, rule.chain, matches, rule.target, rule.index, rule.line, rule.counters, rule.source)

    return [one(s, d) for s in lists.get("-s", [None]) for d in lists.get("-d", [None])]


def add(edits: Edits, chain: Chain, rule: Rule, head: bool, file: str | None, line: int | None) -> None:
    """``rule``'s kernel rules (``expand``) appended to ``chain``, or put at its head (``-I CHAIN [1]``)."""
    for r in expand(rule, file, line):
        if head:
            edits.head(chain, r)
        else:
            chain.rules.append(r if r.index == len(chain.rules) + 1 else _reindex(r, len(chain.rules) + 1))


_LOADED = "when the file is loaded; iptables-restore --test does not see it"


def apply(
    cmd: Command,
    table: Table,
    edits: Edits,
    read_rule: Callable[[list[tuple[str, bool]]], tuple[tuple[Match, ...], Target | None]],
    source: str,
    prefix: tuple[int, int] | None,
    warnings: list[str],
    file: str | None,
    line: int,
) -> None:
    """Carry out the line's command on ``table``; ``read_rule`` reads the rule's words (``-A CHAIN`` first)."""
    op, name = cmd.op, cmd.chain
    where = f"{file}:{line}" if file else f"line {line}"
    if op in ("E", "C", "L", "S") or (op == "F" and name is None):
        what = {"E": "-E (renaming a chain): iptables-nft-restore 1.8.9 fails on it in a rule file (CHAIN_RENAME "
                     "failed), iptables-legacy-restore renames",
                "C": "-C (checking for a rule)", "L": "-L (listing)", "S": "-S (listing)",
                "F": "-F with no chain: iptables-nft-restore 1.8.9 keeps the rules the file added before it, "
                     "iptables-legacy-restore removes them"}[op]  # fmt: skip
        raise ParseError(f"{what}: not read by hairpin", file, line)
    if cmd.skipped:
        if op == "R":
            raise ParseError("-R with -6: iptables-restore 1.8.9 crashes on it (it replaces with no address)", file,
                             line)  # fmt: skip
        if op in (None, "A", "I", "C") or (op == "D" and cmd.num is None):
            warnings.append(f"{where}: -6 (an ip6tables rule): iptables-restore (IPv4) skips the line, as hairpin "
                            "does")  # fmt: skip
            return
    if op is None:
        raise ParseError("no command specified", file, line)
    if op == "N":
        assert name is not None
        if name in table.chains and table.chains[name].line:
            raise ParseError(f"Chain already exists: -N {name} ({_LOADED})", file, line)
        chain = table.chain(name)
        chain.policy, chain.line = None, line
        return
    if op == "P":
        assert name is not None and cmd.arg is not None
        if name not in BUILTIN_CHAINS.get(table.name, ()):
            raise ParseError(f"Bad built-in chain name: -P {name} ({_LOADED})", file, line)
        if cmd.arg not in ("ACCEPT", "DROP"):
            raise ParseError(f"Bad policy name: -P {name} {cmd.arg} ({_LOADED})", file, line)
        chain = table.chain(name)
        chain.policy = cmd.arg
        chain.line = chain.line or line
        if cmd.counters is not None:
            chain.counters = cmd.counters
        return
    if op == "X" and name is None:
        for c in [c for c in table.chains.values() if c.name not in BUILTIN_CHAINS.get(table.name, ())]:
            _delete_chain(table, edits, c.name, file, line)
        return
    if op == "Z" and name is None:
        for c in table.chains.values():
            _zero(edits, table.name, c, None, file, line)
        return
    assert name is not None
    chain_or_none = table.chains.get(name)
    if chain_or_none is None or not chain_or_none.line:
        if op in ("A", "I", "D", "R"):
            raise ParseError(f"rule for undeclared chain {name} in *{table.name}", file, line)
        if op == "Z":
            raise ParseError(f"Bad built-in chain name: -Z {name}, no such chain ({_LOADED})", file, line)
        raise ParseError(f"No chain/target/match by that name: -{op} {name} ({_LOADED})", file, line)
    chain = chain_or_none
    if op == "F":
        edits.rules(chain).clear()
        return
    if op == "X":
        _delete_chain(table, edits, name, file, line)
        return
    if op == "Z":
        _zero(edits, table.name, chain, cmd.num, file, line)
        return
    if op == "D" and cmd.num is not None:
        rules = edits.rules(chain)
        if cmd.num > len(rules):
            raise ParseError(f"Index of deletion too big: -D {name} {cmd.num}, chain {name} has {len(rules)} "
                             f"rule{'s' if len(rules) != 1 else ''} ({_LOADED})", file, line)  # fmt: skip
        del rules[cmd.num - 1]
        return
    matches, target = read_rule(cmd.tokens)
    counters = cmd.counters if cmd.counters is not None else prefix
    rule = Rule(table.name, name, matches, target, len(chain.rules) + 1, line, counters, source)
    if op == "A" or (op == "I" and (cmd.num is None or cmd.num == 1)):
        add(edits, chain, rule, op == "I", file, line)
    elif op == "I":
        assert cmd.num is not None
        rules = edits.rules(chain)
        if cmd.num - 1 > len(rules) or not rules:
            raise ParseError(f"Index of insertion too big: -I {name} {cmd.num}, chain {name} has {len(rules)} "
                             f"rule{'s' if len(rules) != 1 else ''} ({_LOADED})", file, line)  # fmt: skip
        for r in expand(rule, file, line):
            rules.insert(cmd.num - 1, r)
    elif op == "R":
        assert cmd.num is not None
        if _multi(rule):
            raise ParseError("Replacement rule does not specify a unique address", file, line)
        rules = edits.rules(chain)
        if cmd.num > len(rules):
            raise ParseError(f"Index of replacement too big: -R {name} {cmd.num}, chain {name} has {len(rules)} "
                             f"rule{'s' if len(rules) != 1 else ''} ({_LOADED})", file, line)  # fmt: skip
        rules[cmd.num - 1] = rule
        warnings.append(f"{where}: -R {name} {cmd.num}: read as iptables-legacy-restore and iptables 1.8.9 replace "
                        "the rule; iptables-nft-restore 1.8.9 crashes on a replace (segmentation fault) and "
                        "loads nothing")  # fmt: skip
    else:  # -D RULE: each of its kernel rules (iptables/xtables.c delete_entry, 1.8.9)
        for r in expand(rule, file, line):
            _delete_rule(edits, chain, r, file, line)


_ALIAS = {"--destination-port": "--dport", "--source-port": "--sport", "--destination-ports": "--dports",
          "--source-ports": "--sports"}  # fmt: skip
#: matches iptables-nft turns into native expressions or rule data (a bare ``-m tcp``, a comment): left out
#: of the key of rules that may be equal, so that hairpin never calls a rule different that iptables finds equal
_LOOSE = frozenset({"tcp", "udp", "sctp", "icmp", "comment"})


_Builtin = tuple[tuple[str, tuple[str, ...], bool], ...]


def _key(rule: Rule) -> tuple[_Builtin, tuple[object, ...], object]:
    """The rule word for word (aliases as iptables-save names them; options of a match in any order)."""
    ms = tuple((m.module, tuple(sorted((_ALIAS.get(o.name, o.name), o.values, o.negated) for o in m.options)))
               for m in rule.matches if m.module)  # fmt: skip
    builtin = tuple(sorted((o.name, o.values, o.negated) for m in rule.matches if not m.module for o in m.options))
    t = rule.target
    target = None if t is None else (t.name, t.goto, tuple(sorted((o.name, o.values, o.negated) for o in t.options)))
    return builtin, ms, target


def _without_addresses(key: tuple[_Builtin, tuple[object, ...], object]) -> tuple[object, ...]:
    """``_key`` without ``-s`` and ``-d`` (compared as addresses, ``_addresses``)."""
    builtin, ms, target = key
    return tuple(o for o in builtin if o[0] not in ("-s", "-d")), ms, target


def _addresses(rule: Rule) -> frozenset[tuple[str, object, bool]] | None:
    """The rule's ``-s``/``-d`` as the kernel holds them (``10.9.9.9/8`` is ``10.0.0.0/8``, ``1.1.1.1`` is
    ``1.1.1.1/32``); None when one is not an address hairpin can read (a host name, a dotted mask)."""
    out = set()
    for m in rule.matches:
        for o in m.options:
            if not m.module and o.name in ("-s", "-d"):
                try:
                    out.add((o.name, ipaddress.ip_network(o.value, strict=False), o.negated))
                except ValueError:
                    return None
    return frozenset(out)


def _loose(rule: Rule) -> tuple[object, ...]:
    """What any rule iptables finds equal to this one has too: its target and its other matches."""
    t = rule.target
    return (None if t is None else (t.name, t.goto),
            tuple(sorted(m.module for m in rule.matches if m.module and m.module not in _LOOSE)))


def _delete_rule(edits: Edits, chain: Chain, rule: Rule, file: str | None, line: int) -> None:
    rules = edits.rules(chain)
    loose, key, mine = _loose(rule), _key(rule), _addresses(rule)
    rest = _without_addresses(key)
    for i, r in enumerate(rules):
        if _loose(r) != loose:
            continue
        theirs_key = _key(r)
        if theirs_key == key:
            del rules[i]
            return
        theirs = _addresses(r)
        if mine is not None and theirs is not None and _without_addresses(theirs_key) == rest:
            if mine == theirs:  # the same addresses written otherwise (-s 1.1.1.1 and -s 1.1.1.1/32)
                del rules[i]
                return
            continue  # other addresses: not this rule
        raise ParseError(f"-D {chain.name}: hairpin cannot tell whether the rule of line {r.line} is the one it "
                         "deletes (iptables compares rules after reading their values); delete by number "
                         f"(-D {chain.name} {i + 1}) or write the rule as iptables-save prints it", file, line)  # fmt: skip
    raise ParseError(f"Bad rule (does a matching rule exist in that chain?): -D {chain.name} ({_LOADED})", file, line)


def _delete_chain(table: Table, edits: Edits, name: str, file: str | None, line: int) -> None:
    if name in BUILTIN_CHAINS.get(table.name, ()):
        raise ParseError(f"-X {name}: deleting a built-in chain (iptables-nft-restore 1.8.9 removes an empty one from "
                         "nf_tables, the legacy kernel refuses): not read by hairpin", file, line)  # fmt: skip
    chain = table.chains[name]
    busy = bool(edits.rules(chain)) or any(
        r.target is not None and r.target.name == name
        for c in table.chains.values() if c is not chain for r in edits.rules(c))  # fmt: skip
    if busy:
        raise ParseError(f"CHAIN_DEL failed (Device or resource busy): chain {name} (it holds rules or a rule jumps "
                         f"to it; {_LOADED})", file, line)  # fmt: skip
    edits.front.pop(id(chain), None)
    edits.dirty.pop(id(chain), None)
    del table.chains[name]


def _zero(edits: Edits, table: str, chain: Chain, num: int | None, file: str | None, line: int) -> None:
    """``-Z``: the counters iptables keeps become 0 (a rule number past the end zeroes nothing).

    iptables-nft-restore 1.8.9 (measured in a network namespace, kernel 6.18.44, 2026-12-02) zeroes a chain by
    sending it again as its cache holds it, from before the file: a built-in chain gets back the policy the
    kernel had before the file (its header's policy and a ``-P`` earlier in the file are lost), which no file
    tells, so hairpin refuses it; a rule that carries counters (``-c``, ``[P:B]``) is sent again and refused
    ("RULE_REPLACE failed (Invalid argument)", exit 4), or, zeroed by number, crashes the tool (segmentation
    fault, nothing loaded)."""
    if chain.name in BUILTIN_CHAINS.get(table, ()):
        raise ParseError(f"-Z {chain.name}: iptables-nft-restore 1.8.9 puts back the policy built-in chain "
                         f"{chain.name} had before this file, which hairpin cannot tell (the file's own "
                         f"{chain.policy or 'ACCEPT'} is lost)", file, line)  # fmt: skip
    if any(r.counters is not None and (num is None or i + 1 == num) for i, r in enumerate(edits.rules(chain))):
        if num is not None:
            raise ParseError(f"-Z {chain.name} {num}: iptables-nft-restore 1.8.9 crashes (segmentation fault, "
                             f"nothing loaded) zeroing a rule that carries counters ({_LOADED})", file, line)  # fmt: skip
        raise ParseError(f"RULE_REPLACE failed (Invalid argument): rule in chain {chain.name} (-Z of a rule that "
                         f"carries counters; {_LOADED})", file, line)  # fmt: skip
    if num is None:  # no rule it names carries counters (refused above): only the chain's own are zeroed
        chain.counters = (0, 0)
