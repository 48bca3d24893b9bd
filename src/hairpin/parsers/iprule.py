"""``ip rule`` as a node prints it (``ip -4 rule``, ``ip -6 rule``), read into ``hairpin.routing.RuleEntry``
and written back; and the words ``ip rule`` and ``ip route`` (:mod:`hairpin.parsers.iproute`) share: routing
table names and numbers (``TableNames``), and prefixes read and written as iproute2 prints them.

Format (iproute2 6.x; see tests/data/trace/):

    ip rule      PRIO:<TAB>[not] from SRC [to DST] [fwmark M[/MASK]] [iif DEV] [oif DEV]
                 ... (lookup TABLE | blackhole | unreachable | prohibit | goto N | nop)

Every word a rule line says is kept (``ParsedRule.tokens``) so the writer gives it back; a rule the routing
model cannot represent (``not``, ``tos``, ``uidrange``, ``ipproto``, ``sport``, ``dport``,
``suppress_prefixlength``, ``goto``...) is kept for writing with ``entry`` None and ``why`` saying what is not
modelled.  Malformed lines raise ``ParseError(file, line)``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from hairpin.errors import ParseError
from hairpin.model.net import V6, ip_str, is_v6, net_of
from hairpin.routing import DEFAULT_TABLE, LOCAL_TABLE, MAIN_TABLE, RuleEntry, prefix_len
from hairpin.text import digits, split_lines

__all__ = ["ParsedRule", "TableNames", "format_ip_rules", "parse_ip_rules", "rule_tokens"]


_TABLE_IDS = {"local": LOCAL_TABLE, "main": MAIN_TABLE, "default": DEFAULT_TABLE, "unspec": 0}


@dataclass(frozen=True)
class TableNames:
    """Table name <-> number; names other than local/main/default get numbers from 2**31 up."""

    names: dict[str, int] = field(default_factory=dict)

    def id(self, text: str, file: str | None, line: int) -> int:
        if text in _TABLE_IDS:
            return _TABLE_IDS[text]
        if digits(text):
            return int(text)
        if not text or not all(c.isalnum() or c in "_-." for c in text):
            raise ParseError(f"bad table {text!r}", file, line)
        return self.names.setdefault(text, 2**31 + len(self.names))

    def name(self, table: int) -> str:
        for k, v in _TABLE_IDS.items():
            if v == table and k != "unspec":
                return k
        for k, v in self.names.items():
            if v == table:
                return k
        return str(table)


def _cidr(text: str, file: str | None, line: int, what: str = "prefix", family: int = 4) -> tuple[int, int, int]:
    if family == 6:
        if text in ("default", "all"):
            return V6, V6, 0
        try:
            return net_of(text, True)
        except ValueError:
            raise ParseError(f"bad {what} {text!r}", file, line) from None
    if text in ("default", "0/0", "all"):
        return 0, 0, 0
    try:
        n = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise ParseError(f"bad {what} {text!r}", file, line) from None
    return int(n.network_address), int(n.netmask), n.prefixlen


def _prefix_text(net: int, prefix: int) -> str:
    if prefix == 0:
        return "default"
    return ip_str(net) if prefix == (128 if is_v6(net) else 32) else f"{ip_str(net)}/{prefix}"


# ------------------------------------------------------------------------------------------ ip rule


@dataclass(frozen=True)
class ParsedRule:
    """One ``ip rule`` line.  ``entry`` is None when the model cannot represent the rule (``why`` says so)."""

    priority: int
    tokens: tuple[str, ...]  # the selector and action as written, after "PRIO:"
    entry: RuleEntry | None
    line: int = 0
    why: str = ""

    def format(self) -> str:
        return f"{self.priority}:\t{' '.join(self.tokens)}"


_RULE_ACTIONS = {"lookup", "table", "blackhole", "unreachable", "prohibit", "goto", "nop"}
_RULE_UNMODELLED = {"not", "tos", "dsfield", "uidrange", "ipproto", "sport", "dport", "suppress_prefixlength",
                    "suppress_ifgroup", "l3mdev", "goto", "nop", "realms", "tun_id", "dscp", "flowlabel"}  # fmt: skip
_RULE_VALUED = {"from", "to", "fwmark", "iif", "oif", "lookup", "table", "tos", "dsfield", "uidrange", "ipproto",
                "sport", "dport", "suppress_prefixlength", "suppress_ifgroup", "goto", "realms", "proto",
                "protocol", "tun_id", "dscp", "flowlabel", "priority", "pref"}  # fmt: skip


def parse_ip_rules(text: str, file: str | None = None, names: TableNames | None = None,
                   family: int = 4, unit: str = "line") -> list[ParsedRule]:  # fmt: skip
    """``ip rule`` (``ip -4 rule show``) text; ``family=6``: ``ip -6 rule``.  A rule listed twice is refused:
    the kernel holds each rule once (``fib_nl_newrule``: ``ip rule add`` of an existing rule answers "File
    exists"; checked in a namespace, iproute2 6.1.0, Linux 6.18), so a listing that shows one twice is two
    listings pasted together.  ``unit`` names the place in that error (``entry`` for ``ip -j rule``)."""
    names = names if names is not None else TableNames()
    out: list[ParsedRule] = []
    seen: dict[tuple[int, tuple[str, ...]], int] = {}
    for lineno, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        prio_s, sep, rest = line.partition(":")
        if not sep or not digits(prio_s.strip()):
            raise ParseError(f"expected 'PRIORITY: from ... lookup TABLE', got {line[:40]!r}", file, lineno)
        toks = tuple(rest.split())
        first = seen.setdefault((int(prio_s), toks), lineno)
        if first != lineno:
            raise ParseError(f"rule '{int(prio_s)}: {' '.join(toks)}' again (first at {unit} {first}): the kernel "
                             "holds each rule once, so one ip rule listing never shows it twice (two listings "
                             "pasted together?)", file, lineno)  # fmt: skip
        out.append(_parse_rule(int(prio_s), toks, file, lineno, names, family))
    return out


def _parse_rule(prio: int, toks: tuple[str, ...], file: str | None, lineno: int, names: TableNames,
                family: int = 4) -> ParsedRule:  # fmt: skip
    vals: dict[str, str] = {}
    unmodelled: list[str] = []
    action: str | None = None
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in ("[detached]", "[l3mdev-table]", "[unresolved]"):
            unmodelled.append(t) if t != "[detached]" else None
            i += 1
            continue
        if t == "lookup" and toks[i + 1 : i + 2] == ("[l3mdev-table]",):  # an l3mdev rule (FRA_L3MDEV) as iprule.c
            t, i = "l3mdev", i + 1  # prints it: the table of the packet's VRF device
        if t in ("blackhole", "unreachable", "prohibit", "nop", "l3mdev", "not"):
            if t in ("blackhole", "unreachable", "prohibit"):
                action = t
            else:
                unmodelled.append(t)
            i += 1
            continue
        if t in _RULE_VALUED:
            if i + 1 >= len(toks):
                raise ParseError(f"{t} without a value in ip rule", file, lineno)
            key = "lookup" if t == "table" else t
            vals[key] = toks[i + 1]
            if key in _RULE_UNMODELLED:
                unmodelled.append(key)
            if key == "lookup":
                action = "lookup"
            i += 2
            continue
        raise ParseError(f"unexpected {t!r} in ip rule", file, lineno)
    if action is None and "goto" not in vals and not {"nop", "l3mdev"} & set(unmodelled):
        raise ParseError("ip rule without an action (lookup TABLE, blackhole, unreachable, prohibit)", file, lineno)
    src = dst = None
    for key in ("from", "to"):
        text = vals.get(key, "")
        if (":" in text) != (family == 6) and text not in ("", "all"):
            give = "ip -6 rule" if family == 6 else "ip -4 rule"
            raise ParseError(f"{'IPv4' if family == 6 else 'IPv6'} prefix {vals[key]!r} in an "
                             f"{'IPv6' if family == 6 else 'IPv4'} rule list: give {give}", file, lineno)  # fmt: skip
    if "from" in vals and vals["from"] != "all":
        n, m, p = _cidr(vals["from"], file, lineno, "source prefix", family)
        src = (n & m, m) if p or family == 4 else None  # fib6_rule_match: a /0 prefix matches every source
    if "to" in vals and vals["to"] != "all":
        n, m, p = _cidr(vals["to"], file, lineno, "destination prefix", family)
        dst = (n & m, m) if p or family == 4 else None
    fwmark, fwmask = None, 0xFFFFFFFF
    if "fwmark" in vals:
        fv, _, fm = vals["fwmark"].partition("/")
        try:
            fwmark, fwmask = int(fv, 0), int(fm, 0) if fm else 0xFFFFFFFF
        except ValueError:
            raise ParseError(f"bad fwmark {vals['fwmark']!r}", file, lineno) from None
    table = names.id(vals["lookup"], file, lineno) if "lookup" in vals else 0
    if unmodelled:
        why = "selector/action not modelled: " + ", ".join(dict.fromkeys(unmodelled))
        return ParsedRule(prio, toks, None, lineno, why)
    label = vals["lookup"] if "lookup" in vals and table >= 2**31 else None  # a name from rt_tables (TableNames)
    entry = RuleEntry(prio, table, src, dst, fwmark, fwmask, vals.get("iif"), vals.get("oif"), action or "lookup",
                      label)  # fmt: skip
    return ParsedRule(prio, toks, entry, lineno)


def format_ip_rules(rules: list[ParsedRule]) -> str:
    return "".join(r.format() + "\n" for r in rules)


def rule_tokens(r: RuleEntry, names: TableNames | None = None) -> tuple[str, ...]:
    """A model rule as ``ip rule`` prints its selector and action."""
    names = names or TableNames()
    out = ["from", "all" if r.src is None else _prefix_text(r.src[0], prefix_len(r.src[1])).replace(
        "default", "0.0.0.0/0")]  # fmt: skip
    if r.dst is not None:
        out += ["to", _prefix_text(r.dst[0], prefix_len(r.dst[1])).replace("default", "0.0.0.0/0")]
    if r.fwmark is not None:
        out += ["fwmark", f"{r.fwmark:#x}" + (f"/{r.fwmask:#x}" if r.fwmask != 0xFFFFFFFF else "")]
    if r.iif:
        out += ["iif", r.iif]
    if r.oif:
        out += ["oif", r.oif]
    out += ["lookup", names.name(r.table)] if r.action == "lookup" else [r.action]
    return tuple(out)
