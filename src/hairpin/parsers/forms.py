"""Which tool printed a node-state file, told by its content, and the readers for every form people paste.

- iptables: ``iptables-save`` (with or without ``-c`` counters; the legacy and nf_tables headers are the
  same grammar; ``ip6tables-save`` and ``ip6tables -S`` too, in the same grammar, told apart by
  ``hairpin.parsers.ip6tables``: kind "iptables", ``Ruleset.family`` 6) and ``iptables [-t TABLE] -S`` (``-v`` adds ``-c PACKETS BYTES``).  ``-S`` prints no table
  name: it comes from an explicit hint, else from the built-in chains the ``-P`` lines declare (nat has
  PREROUTING, INPUT, OUTPUT, POSTROUTING; mangle all five; raw PREROUTING, OUTPUT; filter INPUT, FORWARD,
  OUTPUT, which security shares: filter is assumed, and said).  Several ``-S`` outputs one after the
  other are split where ``-P`` lines start again.
- iproute2: plain, ``-o`` (one line), coloured (``-c``, ``-c=always``: the ANSI colour escapes are removed
  first) and JSON (``-j``, ``-j -p``) for ``ip route``, ``ip rule`` and ``ip addr``; ``route -n``.
  IPv6 entries (a plain ``ip route show table all`` has them) are skipped.  With ``family=6`` the same forms
  are read for IPv6 (``ip -6 route show table all``, ``ip -6 rule``, the ``inet6`` addresses of any ``ip addr``
  form) and the IPv4 entries of a mixed dump are skipped; ``route -n`` has no IPv6 form and is refused.
- ``ipset save``, ``ipvsadm -Sn``/``-Ln``, ``nft list ruleset``, ``conntrack -L`` are recognised for
  ``--node DIR``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hairpin.errors import ParseError
from hairpin.netfilter.rules import BUILTIN_CHAINS, Rule, Ruleset
from hairpin.parsers import ip6tables, iproute, iptables_commands, iptables_save
from hairpin.reading import long_number, number_error, refusing_long_numbers, too_deep
from hairpin.text import digits, split_lines

__all__ = ["ANSI", "kind_of", "read_addrs", "read_iptables", "read_routes", "read_rules", "strip_ansi"]

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ROUTE_START = re.compile(
    r"^(?:(?:unicast|local|broadcast|multicast|blackhole|unreachable|prohibit|throw|nat|anycast)\s+)?"
    r"(?:default|\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?|[0-9a-f:]+:[0-9a-f:]*(?:/\d+)?)(?:\s|$)"
)
_RULE_LINE = re.compile(r"^\d+:\s+(?:not\s+)?(?:from|to|fwmark|iif|oif|all|lookup)\b")
_ADDR_O = re.compile(r"^\d+:\s+\S+\s+(?:inet6?|link/)\S*\s")
_ADDR_PLAIN = re.compile(r"^\d+:\s+\S+:\s+<")
#: ``ip -br addr``: NAME[@PEER], the operational state (iproute2 ip/ipaddress.c oper_states), the addresses
_ADDR_BRIEF = re.compile(r"^([^\s@]+)(?:@\S+)?\s+(UNKNOWN|NOTPRESENT|DOWN|LOWERLAYERDOWN|TESTING|DORMANT|UP)(\s.*)?$")
_CONNTRACK = re.compile(r"^(?:ipv4\s+2\s+)?(?:tcp|udp|icmp|sctp)\s+\d+\s+\d+\s.*\bsrc=")


def strip_ansi(text: str) -> tuple[str, bool]:
    """Text without colour escapes (``ip -c``), and whether there were any."""
    out = ANSI.sub("", text)
    return out, out != text


def kind_of(text: str) -> str | None:
    """What a file holds, by its content: iptables | routes | rules | addrs | ipset | ipvs | nft | conntrack."""
    text, _ = strip_ansi(text[:65536])
    s = text.lstrip()
    if s.startswith(("[", "{")):
        return _json_kind(s)
    for raw in split_lines(text):
        line = raw.strip()
        if not line or (line.startswith("#") and not ip6tables.HEADER.search(line)):
            continue
        if line.startswith("IP Virtual Server") or re.match(r"^-[Aa]\s+-[tuf]\s", line):
            return "ipvs"
        if ip6tables.HEADER.search(line) or re.match(r"^\*(raw|mangle|nat|filter|security)\b", line):
            return "iptables"
        if re.match(r"^-[PNA]\s+\S+", line) or re.match(r"^\[\d+:\d+\]\s+-A\s", line):
            return "iptables"
        if line.startswith(("Kernel IP routing table", "Kernel IPv6 routing table")) or line.startswith("Destination "):
            return "routes"
        if _RULE_LINE.match(line):
            return "rules"
        if _ADDR_O.match(line) or _ADDR_PLAIN.match(line) or _ADDR_BRIEF.match(line):
            return "addrs"
        if re.match(r"^(create|add)\s+\S+\s", line) or (line.startswith("Name: ") and "Type:" in text):
            return "ipset"
        if re.match(r"^table\s+(ip|inet|ip6|arp|bridge|netdev)\s+\S+", line):
            return "nft"
        if _CONNTRACK.match(line):
            return "conntrack"
        if _ROUTE_START.match(line):
            return "routes"
        return None
    return None


def _json_kind(text: str) -> str | None:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # the reader of the form it claims says what is wrong
        return None
    if isinstance(doc, dict) and "nftables" in doc:
        return "nft"
    if not isinstance(doc, list) or not doc or not isinstance(doc[0], dict):
        return None
    keys = set().union(*(d.keys() for d in doc if isinstance(d, dict)))
    if "addr_info" in keys or "ifname" in keys:
        return "addrs"
    if "priority" in keys:
        return "rules"
    if "dst" in keys:
        return "routes"
    return None


def _load_json(text: str, file: str | None, what: str) -> list[dict[str, Any]]:
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ParseError(too_deep(f"JSON ({what})"), file) from None
    except ValueError as e:
        if long_number(e):
            raise number_error(text, file, f"JSON ({what})") from None
        if isinstance(e, json.JSONDecodeError):  # the line it stopped at, as every text error names it
            raise ParseError(f"not valid JSON ({what}): {e.msg} (column {e.colno})", file, e.lineno) from None
        raise ParseError(f"not valid JSON ({what}): {e}", file) from None
    if not isinstance(doc, list) or not all(isinstance(d, dict) for d in doc):
        raise ParseError(f"expected a JSON list of objects ({what})", file)
    return doc


def _entry_error(e: ParseError, file: str | None, form: str) -> ParseError:
    return ParseError(f"{form} entry {e.line}: {e.message}", file)


# ------------------------------------------------------------------------------------------ iptables


@refusing_long_numbers
def read_iptables(text: str, file: str | None = None, table: str | None = None,
                  family: int | None = None) -> tuple[Ruleset, str]:  # fmt: skip
    """iptables-save or ``iptables -S`` text, or ip6tables' -> (Ruleset, the form read, said in words).

    The ruleset's ``family`` is 6 for ip6tables' rules (``hairpin.parsers.ip6tables.family_of``: the header,
    else an address or extension only one family has), else 4; ``family`` (4 or 6) refuses the other family's
    dump in one line saying which dump to give."""
    rs, form = _read_iptables(text, file, table)
    rs.family = ip6tables.family_of(rs, text, family)
    if rs.family == 6 and form.startswith("iptables"):
        form = "ip6" + form[2:]
    return rs, form


def _read_iptables(text: str, file: str | None, table: str | None) -> tuple[Ruleset, str]:
    for lineno, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            return _read_dash_s(text, file, table)
        if re.match(r"^Chain \S+ \((policy \w+|\d+ references)", line):
            raise ParseError("this is iptables -L output, which leaves out parts of rules a trace needs (options shown "
                             "only in words, or not at all): give iptables-save, or iptables -S for each table (-t nat -S, "
                             "-t mangle -S, -S)", file, lineno)  # fmt: skip
        break
    rs = iptables_save.parse(text, file)
    # iptables-nft-save writes "(nf_tables)" after its version, iptables-legacy-save writes nothing there; the
    # program names itself as it was called (iptables-save, or iptables-nft-save: checked with iptables 1.8.9),
    # and so do ip6tables-nft-save and ip6tables-legacy-save (which calls itself ip6tables-save)
    gen = [x for x in rs.header if ip6tables.HEADER.search(x)]
    backend = ("nf_tables" if "(nf_tables)" in gen[0] else "legacy") if gen else None
    counted = any(r.counters is not None for r in rs.rules())
    form = "iptables-save" + (f" ({backend})" if backend else "") + (" with counters (-c)" if counted else "")
    return rs, form


def _infer_table(policies: list[str], targets: set[str]) -> str | None:
    have = set(policies)
    for name in ("nat", "mangle", "raw"):
        if have == set(BUILTIN_CHAINS[name]):
            return name
    if have == set(BUILTIN_CHAINS["filter"]):
        return "filter"
    if not have and targets & {"DNAT", "SNAT", "MASQUERADE", "REDIRECT"}:
        return "nat"
    return None


def _read_dash_s(text: str, file: str | None, hint: str | None) -> tuple[Ruleset, str]:
    lines = split_lines(text)
    blocks: list[list[int]] = [[]]  # line indexes per ``-S`` output
    seen_body = False
    for i, raw in enumerate(lines):
        s = raw.strip()
        if s.startswith("-P ") and seen_body:
            blocks.append([])
            seen_body = False
        if s.startswith(("-N ", "-A ")):
            seen_body = True
        blocks[-1].append(i)
    if hint is not None and len(blocks) > 1:
        raise ParseError(f"{len(blocks)} iptables -S outputs in one file: --table names one table", file)
    rs = Ruleset(file=file)
    said: list[str] = []
    for block in blocks:
        toks = {i: iptables_save.tokenize(lines[i], file, i + 1) for i in block if lines[i].strip()
                and not lines[i].strip().startswith("#")}  # fmt: skip
        policies = [t[1][0] for t in toks.values() if t and t[0][0] == "-P" and len(t) > 1]
        targets = {t[j + 1][0] for t in toks.values() for j in range(len(t) - 1) if t[j][0] in ("-j", "-g")}
        name = hint or _infer_table(policies, targets)
        if name is None:
            first = min(toks) + 1 if toks else 1
            raise ParseError("iptables -S output without the table's built-in chains: cannot tell which table it "
                             "is; give --table TABLE", file, first)  # fmt: skip
        if name in rs.tables:
            raise ParseError(f"table {name} given twice", file, min(toks) + 1 if toks else 1)
        said.append(f"{name} ({'given' if hint else 'inferred from its built-in chains'})")
        t = rs.table(name)
        t.line = min(toks) + 1 if toks else 1
        for i, tk in sorted(toks.items()):
            _dash_s_line(rs, name, tk, file, i + 1, lines[i].strip())
    iptables_check_declared(rs)
    return rs, "iptables -S, table " + ", ".join(said)


def _dash_s_line(rs: Ruleset, tname: str, tk: list[tuple[str, bool]], file: str | None, lineno: int,
                 raw: str) -> None:  # fmt: skip
    table = rs.tables[tname]
    counters: tuple[int, int] | None = None
    for j in range(len(tk) - 2):
        if tk[j][0] in ("-c", "--set-counters") and digits(tk[j + 1][0]) and digits(tk[j + 2][0]):
            counters = (int(tk[j + 1][0]), int(tk[j + 2][0]))
            tk = tk[:j] + tk[j + 3 :]
            break
    op = tk[0][0]
    if op == "-P":
        if len(tk) != 3 or tk[2][0] not in ("ACCEPT", "DROP"):
            raise ParseError(f"expected '-P CHAIN ACCEPT|DROP', got {raw[:40]!r}", file, lineno)
        if tk[1][0] not in BUILTIN_CHAINS[tname]:
            raise ParseError(f"-P {tk[1][0]}: not a built-in chain of table {tname}", file, lineno)
        c = table.chain(tk[1][0])
        c.policy, c.line, c.counters = tk[2][0], lineno, counters or (0, 0)
    elif op == "-N":
        if len(tk) != 2:
            raise ParseError(f"expected '-N CHAIN', got {raw[:40]!r}", file, lineno)
        if tk[1][0] in table.chains and table.chains[tk[1][0]].line:
            raise ParseError(f"chain {tk[1][0]} declared twice", file, lineno)
        c = table.chain(tk[1][0])
        c.policy, c.line = None, lineno
    elif op == "-A" and len(tk) >= 2:
        cname = tk[1][0]
        if cname not in table.chains or not table.chains[cname].line:
            if cname not in BUILTIN_CHAINS[tname]:
                raise ParseError(f"rule for chain {cname}, which no -N line declares (table {tname})", file, lineno)
            table.chain(cname).line = lineno
        matches, target = iptables_save.rule_args(tk, tname, file, lineno)
        chain = table.chains[cname]
        rule = Rule(tname, cname, matches, target, len(chain.rules) + 1, lineno, counters, raw)
        for r in iptables_commands.expand(rule, file, lineno):  # -s A,B written by hand: one rule per address
            chain.rules.append(Rule(tname, cname, r.matches, target, len(chain.rules) + 1, lineno, counters, raw))
    else:
        raise ParseError(f"expected -P, -N or -A (iptables -S), got {raw[:40]!r}", file, lineno)


def iptables_check_declared(rs: Ruleset) -> None:
    """``-g CHAIN`` to a chain no ``-N`` declares (iptables_save.parse checks the same for its form)."""
    for table in rs.tables.values():
        for chain in table.chains.values():
            for r in chain.rules:
                if r.target is not None and r.target.goto and r.target.name not in table.chains:
                    raise ParseError(f"goto to undeclared chain {r.target.name} in table {table.name}", rs.file,
                                     r.line)  # fmt: skip


# ------------------------------------------------------------------------------------------ iproute2


def _is_v6_route(toks: list[str]) -> bool:
    """Whether a route line's words are an IPv6 route's."""
    first = toks[1] if toks and toks[0] in iproute.ROUTE_TYPES and len(toks) > 1 else (toks[0] if toks else "")
    gateway = toks[toks.index("via") + 1] if "via" in toks[:-1] else ""
    # an IPv6 default route names no address of its own: its gateway does (`via inet6 X` is an IPv4 route's
    # IPv6 next hop, kept), or its router preference (`pref`: RTA_PREF, which only IPv6 routes carry)
    # only an address skips a line: any other word with a colon (a pasted "Warning: ...") is left to the
    # route reader, which refuses it with its line, rather than being counted as a skipped IPv6 route
    return bool(iproute.V6_PREFIX.fullmatch(first)) or (first == "default" and (":" in gateway or "pref" in toks))


def _blank_family(text: str, family: int = 4) -> tuple[str, int, int]:
    """Plain ``ip route`` text with the other family's lines blanked (line numbers kept), how many there were,
    and the first one's line number (0: none).  A multipath route's indented ``nexthop`` lines go with it."""
    out: list[str] = []
    n = first_line = 0
    blanking = False
    for lineno, raw in enumerate(split_lines(text), 1):
        toks = raw.split()
        if toks and toks[0] == "nexthop" and raw[:1].isspace():
            out.append("" if blanking else raw)
            continue
        blanking = bool(toks) and not toks[0].startswith("#") and _is_v6_route(toks) != (family == 6)
        if blanking:
            out.append("")
            n += 1
            first_line = first_line or lineno
        else:
            out.append(raw)
    return "\n".join(out), n, first_line


def _blank_ipv6(text: str) -> tuple[str, int]:
    """Plain ``ip route`` text with IPv6 lines blanked (line numbers kept), and how many there were."""
    out, n, _ = _blank_family(text, 4)
    return out, n


@refusing_long_numbers
def read_routes(text: str, file: str | None, names: iproute.TableNames,
                family: int = 4) -> tuple[list[iproute.ParsedRoute], str]:  # fmt: skip
    """Routes in any accepted form, and the form.  ``family=6``: IPv6 routes.  A file of the other family's routes
    only is refused at its first line (for IPv4 until 2026-12-03 it was traced with no route: every packet
    dropped in routing); the other family's routes of a mixed dump (``ip route show table all``) are skipped."""
    text, coloured = strip_ansi(text)
    tag = ", coloured (-c)" if coloured else ""
    fam, other = ("IPv6", "IPv4") if family == 6 else ("IPv4", "IPv6")
    if text.lstrip().startswith("["):
        doc = _load_json(text, file, "ip -j route")
        lines = [_route_json_line(d, n, file, family) for n, d in enumerate(doc, 1)]
        kept = [ln for ln in lines if ln is not None]
        if doc and not kept:  # the other family's routes only (an IPv4 trace of ``ip -6 -j route`` ran routeless)
            v = "6" if family == 6 else "4"
            raise ParseError(f"ip -j route entry 1: {other} route {str(doc[0].get('dst', ''))!r}: give the {fam} "
                             f"table (ip -{v} -j route show table all)", file)  # fmt: skip
        try:
            routes = iproute.parse_ip_routes("\n".join(ln or "" for ln in lines), file, names, family, repeats=True)
        except ParseError as e:
            raise _entry_error(e, file, "ip -j route") from None
        return routes, f"ip -j route (JSON, {len(kept)} {fam} routes){tag}"
    head = text.lstrip()
    if head.startswith("Kernel IP routing table") or head.startswith("Destination") or head.startswith(
            iproute.ROUTE_A_INET6_TITLE):  # fmt: skip
        iproute.refuse_route_n(head, file, family)
        return iproute.parse_route_n(text, file), "route -n" + tag
    blanked, n, first = _blank_family(text, family)
    if n and not blanked.strip():  # the other family's routes only: refused, not traced with no route at all
        line = split_lines(text)[first - 1].split()
        prefix = line[1] if line[0] in iproute.ROUTE_TYPES and len(line) > 1 else line[0]
        v = "6" if family == 6 else "4"
        raise ParseError(f"{other} route {prefix!r}: give the {fam} table (ip -{v} route show table all)", file, first)
    form = "ip route" + tag + (f" ({n} {other} routes skipped)" if n else "")
    return iproute.parse_ip_routes(blanked, file, names, family), form


def _json_list(d: dict[str, Any], key: str, n: int, what: str, file: str | None) -> list[Any]:
    """Entry ``n``'s ``key``: a JSON list, or none (``[]``); anything else (null, a number, a string) refused."""
    v = d.get(key, [])
    if not isinstance(v, list):
        raise ParseError(f"{what} entry {n}: {key} is not a list", file)
    return v


def _route_json_line(d: dict[str, Any], n: int, file: str | None, family: int = 4) -> str | None:
    dst = str(d.get("dst", ""))
    # IPv6 (a default route by its gateway or its router preference, as in the text form)
    v6 = ":" in dst or (dst == "default" and (":" in str(d.get("gateway", "")) or "pref" in d))
    if v6 != (family == 6):
        return None
    out = [str(d["type"])] if d.get("type") not in (None, "unicast") else []
    out.append(dst or "default")
    if isinstance(d.get("via"), dict):  # RTA_VIA: {"family": "inet6", "host": ...}, as the plain form's via inet6
        out += ["via", str(d["via"].get("family", "?")), str(d["via"].get("host", "?"))]
    for key, word in (("from", "from"), ("gateway", "via"), ("dev", "dev"), ("table", "table"), ("protocol", "proto"),
                      ("scope", "scope"), ("prefsrc", "src"), ("metric", "metric")):  # fmt: skip
        if key in d and not (key == "table" and d[key] == "main"):
            out += [word, str(d[key])]
    out += [str(f) for f in _json_list(d, "flags", n, "ip -j route", file) if isinstance(f, str)]
    if family == 6:
        if "expires" in d:
            out += ["expires", f"{d['expires']}sec"]
        if "pref" in d:
            out += ["pref", str(d["pref"])]
        for hop in _json_list(d, "nexthops", n, "ip -j route", file):
            if not isinstance(hop, dict):
                raise ParseError(f"ip -j route entry {n}: a next hop is not an object", file)
            out.append("nexthop")
            for key, word in (("gateway", "via"), ("dev", "dev"), ("weight", "weight")):
                if key in hop:
                    out += [word, str(hop[key])]
            out += [str(f) for f in _json_list(hop, "flags", n, "ip -j route", file) if isinstance(f, str)]
    return " ".join(out)


@refusing_long_numbers
def read_rules(text: str, file: str | None, names: iproute.TableNames,
               family: int = 4) -> tuple[list[iproute.ParsedRule], str]:  # fmt: skip
    """``ip rule`` plain, coloured or JSON; ``family=6``: ``ip -6 rule`` (an IPv4 prefix refused at its line)."""
    text, coloured = strip_ansi(text)
    tag = ", coloured (-c)" if coloured else ""
    if text.lstrip().startswith("["):
        doc = _load_json(text, file, "ip -j rule")
        try:
            rules = iproute.parse_ip_rules("\n".join(_rule_json_line(d, n, file) for n, d in enumerate(doc, 1)),
                                           file, names, family, unit="entry")  # fmt: skip
        except ParseError as e:
            raise _entry_error(e, file, "ip -j rule") from None
        return rules, "ip -j rule (JSON)" + tag
    return iproute.parse_ip_rules(text, file, names, family), "ip rule" + tag


# ip -j rule's keys (iproute2 ip/iprule.c print_rule) that hairpin reads or places in the rule's text; any other
# is refused at its entry: a selector left out silently would make the rule match what it does not.
_RULE_JSON_KEYS = {"priority", "not", "src", "srclen", "dst", "dstlen", "fwmark", "fwmask", "iif", "oif",
                   "iif_detached", "oif_detached", "l3mdev", "tos", "dsfield", "ipproto", "sport", "sport_start",
                   "sport_end", "dport", "dport_start", "dport_end", "uid_start", "uid_end", "tun_id", "realms",
                   "flowlabel", "flowlabel_mask", "dscp", "protocol", "table", "suppress_prefixlen",
                   "suppress_ifgroup", "goto", "target", "action", "nop", "flags"}  # fmt: skip


def _rule_json_line(d: dict[str, Any], n: int, file: str | None) -> str:
    """One ``ip -j rule`` entry as ``ip rule`` prints it, so that one parser decides every rule: its selectors
    and actions as iprule.c print_rule names them (``sport_start``/``sport_end`` for a port range, ``uid_start``/
    ``uid_end``, ``suppress_prefixlen``, ``goto``, ``l3mdev`` and ``nop`` as keys...)."""
    unknown = sorted(set(d) - _RULE_JSON_KEYS)
    if unknown:
        raise ParseError(f"{unknown[0]!r} is not read (a rule's selectors must all be known)", file, n)
    out = [f"{d.get('priority', '?')}:"]
    if "not" in d:
        out.append("not")
    src = str(d.get("src", "all"))
    out += ["from", src + (f"/{d['srclen']}" if "srclen" in d else "")]
    if "dst" in d:
        out += ["to", str(d["dst"]) + (f"/{d['dstlen']}" if "dstlen" in d else "")]
    if "fwmark" in d:
        out += ["fwmark", str(d["fwmark"]) + (f"/{d['fwmask']}" if "fwmask" in d else "")]
    for key in ("iif", "oif"):
        if key in d:
            out += [key, str(d[key])] + (["[detached]"] if d.get(f"{key}_detached") else [])
    if "l3mdev" in d:
        out.append("l3mdev")
    for key in ("tos", "dsfield", "dscp", "ipproto", "tun_id", "realms", "flowlabel"):
        if key in d:
            out += [key, str(d[key])]
    for key, word in (("sport", "sport"), ("dport", "dport"), ("uid", "uidrange")):
        if f"{key}_start" in d or f"{key}_end" in d:
            out += [word, f"{d.get(f'{key}_start', '?')}-{d.get(f'{key}_end', '?')}"]
        elif key in d:
            out += [word, str(d[key])]
    action = d.get("action")
    if action in ("blackhole", "unreachable", "prohibit"):
        out.append(str(action))
    elif "nop" in d or action == "nop":
        out.append("nop")
    elif "goto" in d or action == "goto":
        out += ["goto", str(d.get("goto", d.get("target", "?")))]
    elif "table" in d:
        out += ["lookup", str(d["table"])]
    for key, word in (("suppress_prefixlen", "suppress_prefixlength"), ("suppress_ifgroup", "suppress_ifgroup"),
                      ("protocol", "proto")):  # fmt: skip
        if key in d:
            out += [word, str(d[key])]
    return " ".join(out)


@refusing_long_numbers
def read_addrs(text: str, file: str | None,
               family: int = 4) -> tuple[list[iproute.ParsedAddress], set[str] | None, str]:  # fmt: skip
    """Addresses, every interface (None when the form lists only those with an address: ``ip -o addr``,
    which ``-4`` filters), and the form.  ``family=6``: the ``inet6`` addresses, with their scope and flags
    (``ip -br addr`` shows no flags, which its form says)."""
    text, coloured = strip_ansi(text)
    tag = ", coloured (-c)" if coloured else ""
    inet = "inet6" if family == 6 else "inet"
    if text.lstrip().startswith("["):
        doc = _load_json(text, file, "ip -j addr")
        addrs: list[iproute.ParsedAddress] = []
        links: set[str] = set()
        for n, d in enumerate(doc, 1):
            name = d.get("ifname")
            if not isinstance(name, str) or not name:
                raise ParseError(f"ip -j addr entry {n}: no ifname", file)
            links.add(name)
            for a in _json_list(d, "addr_info", n, "ip -j addr", file):
                if not isinstance(a, dict) or a.get("family") != inet:
                    continue
                try:
                    line = f"{d.get('ifindex', n)}: {name}    {inet} {a['local']}/{a.get('prefixlen', 32)}"
                    if family == 6:  # the scope and each flag as the text form prints them
                        line += f" scope {a.get('scope', 'global')} " + " ".join(
                            k for k in a if k in iproute.ADDR_FLAGS and a[k] is True)  # fmt: skip
                        line = line.rstrip()
                    (pa,) = iproute.parse_addrs(line, file, family)
                except (KeyError, ParseError, ValueError) as e:
                    raise ParseError(f"ip -j addr entry {n}: bad address ({e})", file) from None
                tokens = pa.tokens if family == 6 else ()
                addrs.append(iproute.ParsedAddress(pa.index, pa.dev, pa.addr, pa.prefix, n, tokens))
        return addrs, links, "ip -j addr (JSON)" + tag
    first = next((ln for ln in split_lines(text) if ln.strip() and not ln.startswith("#")), "")
    if _ADDR_PLAIN.match(first.strip()):
        return _plain_addrs(text, file, tag, family)
    if _ADDR_BRIEF.match(first.strip()):
        return _brief_addrs(text, file, tag, family)
    return iproute.parse_addrs(_blank_links(text), file, family), None, "ip -o addr" + tag


def _blank_links(text: str) -> str:
    return "\n".join("" if re.match(r"^\d+:\s+\S+\s+link/", ln.strip()) else ln for ln in split_lines(text))


def _plain_addrs(text: str, file: str | None, tag: str,
                 family: int = 4) -> tuple[list[iproute.ParsedAddress], set[str], str]:  # fmt: skip
    """``ip addr`` (multi-line): ``IDX: DEV[@PEER]: <FLAGS> ...`` then indented ``inet ADDR/P ...`` lines."""
    addrs: list[iproute.ParsedAddress] = []
    links: set[str] = set()
    dev: str | None = None
    index = 0
    for lineno, raw in enumerate(split_lines(text), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        m = re.match(r"^(\d+):\s+([^\s:@]+)(?:@[^\s:]+)?:\s+<", s)
        if m:
            index, dev = int(m.group(1)), m.group(2)
            links.add(dev)
            continue
        if dev is None:
            raise ParseError(f"expected 'INDEX: DEV: <FLAGS> ...' (ip addr), got {s[:40]!r}", file, lineno)
        # other lines (the other family's, link/, valid_lft, altname, -d details): not used
        if s.startswith("inet6 " if family == 6 else "inet "):
            try:
                (pa,) = iproute.parse_addrs(f"{index}: {dev}    {s}", file, family)
            except ParseError as e:
                raise ParseError(e.message, file, lineno) from None
            addrs.append(iproute.ParsedAddress(pa.index, pa.dev, pa.addr, pa.prefix, lineno, pa.tokens))
    return addrs, links, "ip addr" + tag


def _brief_addrs(text: str, file: str | None, tag: str,
                 family: int = 4) -> tuple[list[iproute.ParsedAddress], set[str], str]:  # fmt: skip
    """``ip -br addr``: one line per interface, ``NAME[@PEER] STATE ADDR/P ADDR/P...`` (the other family's
    skipped); it shows no interface index, so the line's position stands for it, nor any address flag."""
    addrs: list[iproute.ParsedAddress] = []
    links: set[str] = set()
    for lineno, raw in enumerate(split_lines(text), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        m = _ADDR_BRIEF.match(s)
        if m is None:
            raise ParseError(f"expected 'NAME STATE ADDR/PREFIX ...' (ip -br addr), got {s[:40]!r}", file, lineno)
        dev = m.group(1)
        links.add(dev)
        for cidr in (m.group(3) or "").split():
            if (":" in cidr) != (family == 6):
                continue
            try:
                (pa,) = iproute.parse_addrs(f"{len(links)}: {dev}    {'inet6' if family == 6 else 'inet'} {cidr}",
                                            file, family)  # fmt: skip
            except ParseError as e:
                raise ParseError(e.message, file, lineno) from None
            addrs.append(iproute.ParsedAddress(pa.index, pa.dev, pa.addr, pa.prefix, lineno))
    if family == 6:  # tentative, DAD-failed and deprecated addresses cannot be told apart here
        return addrs, links, "ip -br addr" + tag + " (no address flags: every address taken as usable)"
    return addrs, links, "ip -br addr" + tag


_V6_ADDR = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:/\d+)?(?![\w:.])")
_MAC = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
_V4_ADDR = re.compile(r"(?<![\w.:])\d{1,3}(?:\.\d{1,3}){3}(?:/\d+)?(?![\w.])")


def family_of(text: str, kind: str) -> int | None:
    """Which address family a file of ``kind`` (``kind_of``'s answer) holds: 4, 6, or None when its content does
    not say (an ``ip rule`` list of the default rules names no address; ``ip addr``, ``ipset save``, ``ipvsadm``
    and ``ss`` list both families).  An iptables dump says it in its '# Generated by' line (ip6tables-save,
    ip6tables-nft-save, ip6tables-legacy-save), else by its addresses; routes, rules and conntrack listings by
    their addresses."""
    if kind not in ("iptables", "routes", "rules", "conntrack"):
        return None
    text, _ = strip_ansi(text[:65536])
    if kind == "iptables":
        gen = re.search(r"^#\s*Generated by (ip6?)tables", text, re.M)
        if gen is not None:
            return 6 if gen.group(1) == "ip6" else 4
    if kind == "routes" and re.search(r"^\s*(Kernel IP routing table|Destination\s)", text, re.M):
        return 4  # route -n: IPv4's main table
    v6 = any(not _MAC.fullmatch(m.group()) for m in _V6_ADDR.finditer(text))  # (--mac-source 02:00:...)
    v4 = _V4_ADDR.search(text) is not None
    return None if v6 == v4 else 6 if v6 else 4
