"""The iptables-save parser and the iptables-restore checks as they were before the load was made faster
(``hairpin.parsers.iptables_save`` and ``iptables_check`` at commit a4ca77e), kept verbatim, renamed
``_reference_*``: ``tests/test_iptables_fastpath.py`` holds the current code to them, object for object and
error line for error line.

One change since, in both the current code and this copy (marked "since a4ca77e"): iptables' getopt rule
for the options ``hairpin.parsers.iptables_arity`` knows (an option that takes a value takes the next word,
whatever it is) and the check of their number of values, which came later than the fast path.  And one
more (marked "since getopt"): a rule holding a word only iptables' getopt_long reads (``--dport=80``, ``--dpo``,
``-AINPUT``) is first rewritten by ``hairpin.parsers.iptables_getopt.respell``, and a built-in option takes
the next word when it starts with ``-`` or is ``!`` (iptables 1.8.9 loads ``-ieth0`` as ``-i -ieth0``), and
a rule with an option under a match or target that does not have it is read by ``respell`` too.  And (marked
"since forms"): a line that is more than an ``-A``/``-I`` rule (``-I CHAIN NUM``, ``-D``, ``-R``, ``-N``, ``-P``,
``-F``, ``-X``, ``-Z``, ``-c``, ``-6``, clustered short options, a second command) is read by
``iptables_getopt.read_command`` and carried out by ``iptables_commands.apply``, and ``-I`` at the head is kept
aside by ``iptables_commands.Edits``.  And (marked "since insert-respell"): an ``-I`` line that ``respell``
rewrites (``-m multiport --dport 80``, an option the match spells otherwise) stays an insert; the copy took
``respell``'s ``-A`` for the line's command and appended it (iptables-nft-restore 1.8.9 inserts it)."""


from __future__ import annotations

import re
import socket

from hairpin.errors import ParseError
from hairpin.netfilter.rules import BUILTIN_CHAINS, Match, Option, Rule, Ruleset, Table, Target
from hairpin.parsers import (
    iptables_commands,  # since forms
    iptables_getopt,  # since getopt
)
from hairpin.parsers.iptables_check import _arity  # since a4ca77e
from hairpin.parsers.iptables_save import (
    _foreign,  # since getopt
    _takes_value,  # since a4ca77e
)

_reference_save_BUILTIN_OPTS = {
    "-s": "-s", "--source": "-s", "--src": "-s",
    "-d": "-d", "--destination": "-d", "--dst": "-d",
    "-p": "-p", "--protocol": "-p",
    "-i": "-i", "--in-interface": "-i",
    "-o": "-o", "--out-interface": "-o",
    "-f": "-f", "--fragment": "-f",
}  # fmt: skip
_reference_save_TARGET_OPTS = {"-j": False, "--jump": False, "-g": True, "--goto": True}
_reference_save_VALUELESS = {"-f"}


#: one token: a double-quoted string (backslash escapes the next character), a bare word, or a lone
#: opening quote with no closing one (an error)
_reference_save_TOKEN = re.compile(r'[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^ \t"][^ \t]*)|("))', re.DOTALL)
_reference_save_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _reference_save_tokenize(text: str, file: str | None = None, line: int | None = None) -> list[tuple[str, bool]]:
    """Split a rule line into (token, was_quoted) pairs the way iptables-restore does: blanks and tabs
    separate tokens; a token that starts with a double quote runs to the next unescaped one."""
    if '"' not in text:
        return [(t, False) for t in text.replace("\t", " ").split(" ") if t]
    tokens: list[tuple[str, bool]] = []
    for quoted, bare, open_quote in _reference_save_TOKEN.findall(text):
        if open_quote:
            raise ParseError("unterminated quoted string", file, line)
        if bare:
            tokens.append((bare, False))
        else:
            tokens.append((_reference_save_ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted, True))
    return tokens


def _reference_save_is_option(tok: str, quoted: bool) -> bool:
    return not quoted and tok.startswith("-") and len(tok) > 1 and not tok[1].isdigit()


def _reference_save_parse_rule_args(
    tokens: list[tuple[str, bool]], table: str, chain: str, file: str | None = None, line: int | None = None
) -> tuple[tuple[Match, ...], Target | None]:
    """Parse the tokens after ``-A CHAIN`` into matches and a target."""
    matches: list[Match] = []
    target: Target | None = None
    module: str | None = None
    module_opts: list[Option] = []
    target_opts: list[Option] = []
    in_target = False
    negate = False
    i = 0
    # _reference_save_is_option of every token, computed once (a 180,000-rule dump asks it 2.5 million times)
    opt = [not q and len(t) > 1 and t[0] == "-" and not t[1].isdigit() for t, q in tokens]

    def close_module() -> None:
        nonlocal module, module_opts
        if module is not None:
            matches.append(Match(module, tuple(module_opts)))
        module, module_opts = None, []

    while i < len(tokens):
        tok, quoted = tokens[i]
        if tok == "!" and not quoted:
            negate = True
            i += 1
            continue
        if not opt[i]:
            raise ParseError(f"unexpected {tok!r} in rule for chain {chain}", file, line)
        i += 1
        values: list[str] = []
        quoted_any = False
        if i < len(tokens) and (_takes_value(tok, target, in_target, module, matches)  # since a4ca77e
                                or ((opt[i] or tokens[i] == ("!", False))  # since getopt
                                    and tok in _reference_save_BUILTIN_OPTS  # since getopt
                                    and tok not in ("-f", "--fragment"))):  # since getopt
            values.append(tokens[i][0])
            quoted_any = tokens[i][1]
            i += 1
        while i < len(tokens):
            nxt, nq = tokens[i]
            if nxt == "!" and not nq:
                # old-style "-s ! ADDR": negation between option and value
                if i + 1 < len(tokens) and not opt[i + 1] and not values:
                    negate = True
                    i += 1
                    continue
                break
            if opt[i]:
                break
            values.append(nxt)
            quoted_any = quoted_any or nq
            i += 1
        if negate and (tok in ("-m", "--match") or tok in _reference_save_TARGET_OPTS):  # since a4ca77e
            # iptables 1.8.9: "unexpected ! flag before --match", "cannot have ! before -j"
            raise ParseError(f"'!' before {tok} in rule for chain {chain} (iptables negates options, not "
                             f"{'matches' if tok in ('-m', '--match') else 'targets'})", file, line)
        if tok in ("-m", "--match"):
            if len(values) != 1:
                raise ParseError(f"-m needs one module name in rule for chain {chain}", file, line)
            if in_target:
                raise ParseError(f"match -m {values[0]} after the target in rule for chain {chain}", file, line)
            close_module()
            module = values[0]
        elif tok in _reference_save_TARGET_OPTS:
            if len(values) != 1:
                raise ParseError(f"{tok} needs one target name in rule for chain {chain}", file, line)
            if in_target:
                raise ParseError(f"second target {values[0]!r} in rule for chain {chain}", file, line)
            close_module()
            in_target = True
            target = Target(values[0], (), _reference_save_TARGET_OPTS[tok])
        elif in_target:
            target_opts.append(Option(tok, tuple(values), negate, quoted_any))
        elif tok in _reference_save_BUILTIN_OPTS and (module is None or tok not in ("-s", "-d", "-p", "-i", "-o")):
            name = _reference_save_BUILTIN_OPTS[tok]
            if name == "-p" and values[:1] == ["!"] and not quoted_any:  # since getopt
                raise ParseError('unknown protocol "!" specified', file, line)  # since getopt
            if name not in _reference_save_VALUELESS and len(values) != 1:
                raise ParseError(f"{tok} needs one value in rule for chain {chain}", file, line)
            close_module()
            matches.append(Match("", (Option(name, tuple(values), negate),)))
        elif tok in _reference_save_BUILTIN_OPTS:
            close_module()
            matches.append(Match("", (Option(_reference_save_BUILTIN_OPTS[tok], tuple(values), negate),)))
        else:
            if module is None:
                # iptables-save always names the module; accept the implicit -p tcp --dport form.
                implicit = _reference_save_implicit_module(matches)
                if implicit is None:
                    raise ParseError(f"option {tok} outside any match module in rule for chain {chain}", file, line)
                module = implicit
            module_opts.append(Option(tok, tuple(values), negate, quoted_any))
        negate = False
    close_module()
    if negate:
        raise ParseError(f"dangling '!' in rule for chain {chain}", file, line)
    if target is not None and target_opts:
        target = Target(target.name, tuple(target_opts), target.goto)
    return tuple(matches), target


def _reference_save_implicit_module(matches: list[Match]) -> str | None:
    for m in matches:
        if m.module == "":
            o = m.options[0]
            if o.name == "-p" and o.value in ("tcp", "udp", "icmp", "sctp"):
                return o.value
    return None


def _reference_save_parse(text: str, file: str | None = None) -> Ruleset:
    """Parse iptables-save text.  Raises ParseError(file, line) on the first malformed line."""
    rs = Ruleset(file=file)
    table: Table | None = None
    seen_tables: set[str] = set()
    edits = iptables_commands.Edits()  # since forms
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if table is None:
                rs.header.append(raw)
            continue
        if line.startswith("*"):
            if table is not None:
                raise ParseError(f"table *{line[1:]} starts before COMMIT of *{table.name}", file, lineno)
            name = line[1:].strip()
            if not name or " " in name:
                raise ParseError(f"bad table line {line!r}", file, lineno)
            if name in seen_tables:
                raise ParseError(f"table *{name} appears twice", file, lineno)
            seen_tables.add(name)
            table = rs.table(name)
            table.line = lineno
            continue
        if table is None:
            raise ParseError(f"{line.split()[0]!r} outside a table (expected *filter, *nat, ...)", file, lineno)
        if line == "COMMIT":
            table = None
            continue
        if line.startswith(":"):
            parts = line[1:].split()
            if len(parts) not in (2, 3):
                raise ParseError(f"bad chain line {line!r}", file, lineno)
            name, policy = parts[0], parts[1]
            counters = (0, 0)
            if len(parts) == 3:
                counters = _reference_save_counters(parts[2], file, lineno)
            if policy not in ("ACCEPT", "DROP", "-", "RETURN", "QUEUE"):
                raise ParseError(f"bad policy {policy!r} for chain {name}", file, lineno)
            if name in table.chains and table.chains[name].line:
                raise ParseError(f"chain {name} declared twice in *{table.name}", file, lineno)
            chain = table.chain(name)
            chain.policy = None if policy == "-" else policy
            chain.counters = counters
            chain.line = lineno
            continue
        counters_r: tuple[int, int] | None = None
        body = line
        if body.startswith("["):
            end = body.find("]")
            if end < 0:
                raise ParseError("unterminated counters", file, lineno)
            counters_r = _reference_save_counters(body[: end + 1], file, lineno)
            body = body[end + 1 :].strip()
        tokens = _reference_save_tokenize(body, file, lineno)
        if tokens and not tokens[0][1] and (tokens[0][0][:1] == "-" or tokens[0][0] == "!") and (  # since forms
                len(tokens) < 2 or tokens[0][0] not in ("-A", "--append", "-I", "--insert")  # since forms
                or (tokens[0][0] in ("-I", "--insert") and len(tokens) > 2 and tokens[2][0][:1] not in ("-", "!"))):  # since forms
            cmd = iptables_getopt.read_command(tokens, file, lineno)  # since forms
            _forms_apply(cmd, table, edits, raw.strip(), counters_r, rs.warnings, file, lineno)  # since forms
            continue  # since forms
        if tokens and tokens[0][0] not in ("-A", "--append", "-I", "--insert") and tokens[0][0][:1] == "-":
            tokens = iptables_getopt.respell(tokens, file, lineno)  # since getopt
        if len(tokens) < 2 or tokens[0][0] not in ("-A", "--append", "-I", "--insert"):
            raise ParseError(f"expected -A CHAIN, got {body[:40]!r}", file, lineno)
        if iptables_getopt.needs(tokens) or any(not q and t in ("-A", "--append", "-I", "--insert")  # since forms
                                                for t, q in tokens[2:]):  # since forms
            cmd = iptables_getopt.read_command(tokens, file, lineno)  # since forms
            _forms_apply(cmd, table, edits, raw.strip(), counters_r, rs.warnings, file, lineno)  # since forms
            continue  # since forms
        chain_name = tokens[1][0]
        command = tokens[0][0]  # since insert-respell: respell writes every rule as -A; the line's command is kept
        if chain_name not in table.chains or not table.chains[chain_name].line:
            raise ParseError(f"rule for undeclared chain {chain_name} in *{table.name}", file, lineno)
        respelled = iptables_getopt.needs(tokens)  # since getopt
        if respelled:  # since getopt
            tokens = iptables_getopt.respell(tokens, file, lineno)  # since getopt
            if tokens[1][0] != chain_name:  # since getopt
                raise ParseError(f"expected -A CHAIN, got {body[:40]!r}", file, lineno)  # since getopt
        matches, target = _reference_save_parse_rule_args(tokens[2:], table.name, chain_name, file, lineno)
        if not respelled and _foreign(matches, target):  # since getopt
            tokens = iptables_getopt.respell(tokens, file, lineno)  # since getopt
            matches, target = _reference_save_parse_rule_args(tokens[2:], table.name, chain_name, file, lineno)  # since getopt
        chain = table.chains[chain_name]
        rule = Rule(table.name, chain_name, matches, target, len(chain.rules) + 1, lineno, counters_r, raw.strip())
        if command in ("-I", "--insert"):  # since insert-respell
            # each -I goes before everything so far: kept aside and put in front once, at the end (inserting
            # and renumbering at every -I made a dump of N inserts cost N^2)
            edits.head(chain, rule)  # since forms
        else:
            chain.rules.append(rule)
    if table is not None:
        raise ParseError(f"table *{table.name} has no COMMIT", file, len(text.splitlines()))
    edits.finish()  # since forms
    _reference_save_check_jumps(rs)
    return rs


def _forms_apply(cmd: iptables_commands.Command, table: Table, edits: iptables_commands.Edits, source: str,  # since forms
                 counters: tuple[int, int] | None, warnings: list[str], file: str | None, line: int) -> None:  # since forms
    """A line that is more than a rule, carried out by ``iptables_commands`` (since forms)."""
    def read_rule(toks: list[tuple[str, bool]]) -> tuple[tuple[Match, ...], Target | None]:  # since forms
        return _reference_save_parse_rule_args(toks[2:], table.name, toks[1][0], file, line)  # since forms

    iptables_commands.apply(cmd, table, edits, read_rule, source, counters, warnings, file, line)  # since forms


_reference_save_VERDICTS = {"ACCEPT", "DROP", "RETURN", "QUEUE"}


def _reference_save_reindex(rule: Rule, index: int) -> Rule:
    return Rule(rule.table, rule.chain, rule.matches, rule.target, index, rule.line, rule.counters, rule.source)


def _reference_save_check_jumps(rs: Ruleset) -> None:
    for table in rs.tables.values():
        for chain in table.chains.values():
            for rule in chain.rules:
                t = rule.target
                if t is None or t.name in _reference_save_VERDICTS:
                    continue
                if t.goto and t.name not in table.chains:
                    raise ParseError(f"goto to undeclared chain {t.name} in *{table.name}", rs.file, rule.line)


def _reference_save_counters(text: str, file: str | None, line: int) -> tuple[int, int]:
    if not (text.startswith("[") and text.endswith("]")) or ":" not in text:
        raise ParseError(f"bad counters {text!r}", file, line)
    a, _, b = text[1:-1].partition(":")
    if not (a.isdigit() and b.isdigit()):
        raise ParseError(f"bad counters {text!r}", file, line)
    return int(a), int(b)


# ---------------------------------------------------------------------------------------------------- checks

_reference_check_VERDICTS = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE"})
#: Target extensions iptables 1.8.9 ships (extensions/libxt_*.c, libipt_*.c, IPv4 ones).
_reference_check_TARGETS = frozenset({
    "AUDIT", "CHECKSUM", "CLASSIFY", "CLUSTERIP", "CONNMARK", "CONNSECMARK", "CT", "DNAT", "DSCP", "ECN", "HMARK",
    "IDLETIMER", "LED", "LOG", "MARK", "MASQUERADE", "NETMAP", "NFLOG", "NFQUEUE", "NOTRACK", "RATEEST", "REDIRECT",
    "REJECT", "SECMARK", "SET", "SNAT", "SYNPROXY", "TCPMSS", "TCPOPTSTRIP", "TEE", "TOS", "TPROXY", "TRACE", "TTL",
    "ULOG", "ERROR",
})  # fmt: skip
#: Match extensions iptables 1.8.9 ships (IPv4).
_reference_check_MATCHES = frozenset({
    "addrtype", "ah", "bpf", "cgroup", "cluster", "comment", "connbytes", "connlabel", "connlimit", "connmark",
    "conntrack", "cpu", "dccp", "devgroup", "dscp", "ecn", "esp", "hashlimit", "helper", "icmp", "ipcomp", "iprange",
    "ipvs", "length", "limit", "mac", "mark", "multiport", "nfacct", "osf", "owner", "physdev", "pkttype", "policy",
    "quota", "rateest", "realm", "recent", "rpfilter", "sctp", "set", "socket", "state", "statistic", "string", "tcp",
    "tcpmss", "time", "tos", "ttl", "u32", "udp", "udplite",
})  # fmt: skip
#: target -> (table, hooks) the kernel allows it in.
_reference_check_PLACES: dict[str, tuple[str, frozenset[str]]] = {
    "DNAT": ("nat", frozenset({"PREROUTING", "OUTPUT"})),
    "REDIRECT": ("nat", frozenset({"PREROUTING", "OUTPUT"})),
    "SNAT": ("nat", frozenset({"POSTROUTING", "INPUT"})),
    "MASQUERADE": ("nat", frozenset({"POSTROUTING"})),
    "REJECT": ("filter", frozenset({"INPUT", "FORWARD", "OUTPUT"})),
    "CT": ("raw", frozenset({"PREROUTING", "OUTPUT"})),
    "NOTRACK": ("raw", frozenset({"PREROUTING", "OUTPUT"})),
    "TPROXY": ("mangle", frozenset({"PREROUTING"})),
}
_reference_check_PORT_OPTS = {"--dport", "--sport", "--destination-port", "--source-port"}
_reference_check_MULTI_OPTS = {"--dports", "--sports", "--ports", "--destination-ports", "--source-ports"}
_reference_check_PORTED_PROTOS = {"tcp", "udp", "sctp", "dccp", "6", "17", "132", "33"}
_reference_check_PROTOS = {"all", "tcp", "udp", "udplite", "icmp", "esp", "ah", "sctp", "gre", "dccp", "ipip", "ipencap", "igmp"}
_reference_check_IFNAMSIZ = 16
_reference_check_DOTTED = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _reference_check_check(rs: Ruleset) -> None:
    """Refuse what ``iptables-restore`` (and the kernel, on commit) would refuse; first problem wins."""
    f = rs.file
    for table in rs.tables.values():
        if table.name not in BUILTIN_CHAINS:
            raise ParseError(f"unknown table *{table.name} (the kernel has raw, mangle, nat, filter, security)",
                             f, table.line)  # fmt: skip
        builtins = BUILTIN_CHAINS[table.name]
        for chain in table.chains.values():
            if chain.name not in builtins and chain.policy is not None:
                raise ParseError(f"chain {chain.name} is not a built-in chain of *{table.name}: it cannot have "
                                 f"policy {chain.policy}", f, chain.line)  # fmt: skip
        for chain in table.chains.values():
            for rule in chain.rules:
                _reference_check_check_rule(rule, table.chains.keys(), f)
    for table in rs.tables.values():
        _reference_check_check_graph(rs, table.name)


def _reference_check_check_rule(rule: Rule, chains: object, f: str | None) -> None:
    line = rule.line
    proto = ""
    for m in rule.matches:
        if m.module == "":
            o = m.options[0]
            if o.name in ("-s", "-d"):
                for part in o.value.split(","):
                    _reference_check_network(part, f, line)
            elif o.name == "-p":
                proto = o.value.lower()
                if proto not in _reference_check_PROTOS and not (proto.isdigit() and int(proto) <= 255):
                    raise ParseError(f"unknown protocol {o.value!r} specified", f, line)
            elif o.name in ("-i", "-o") and len(o.value) >= _reference_check_IFNAMSIZ:
                raise ParseError(f"interface name {o.value!r} must be shorter than IFNAMSIZ ({_reference_check_IFNAMSIZ - 1})",
                                 f, line)  # fmt: skip
            continue
        if m.module not in _reference_check_MATCHES:
            raise ParseError(f"unknown match -m {m.module} (iptables: Couldn't load match `{m.module}')", f, line)
        _reference_check_check_match(m, proto, f, line)
    t = rule.target
    if t is None:
        return
    if rule.table == "nat" and t.name == "DROP":  # iptables.c refuses it before anything is loaded
        raise ParseError('the nat table is not intended for filtering: -j DROP is refused there', f, line)
    if t.name not in _reference_check_VERDICTS and t.name not in chains:  # type: ignore[operator]
        if t.goto or t.name not in _reference_check_TARGETS:
            raise ParseError(f"{'-g' if t.goto else '-j'} {t.name}: no chain {t.name} in *{rule.table} and no such "
                             "target", f, line)  # fmt: skip
        _reference_check_check_target_options(rule, proto, f, line)
    elif t.options:  # since a4ca77e
        raise ParseError(f'unknown option "{t.options[0].name}": {"-g" if t.goto else "-j"} {t.name} takes no options',
                         f, line)  # fmt: skip


def _reference_check_check_match(m: Match, proto: str, f: str | None, line: int) -> None:
    mod = m.module
    _arity(mod, m.options, f, line)  # since a4ca77e
    if mod == "ipvs":
        _reference_check_check_ipvs(m, f, line)
        return
    for o in m.options:
        if o.name in _reference_check_PORT_OPTS and mod in ("tcp", "udp", "sctp", "dccp", "udplite"):
            # libxt_udp (1.8.9) loads an inverted range as written (it matches nothing); tcp refuses it
            _reference_check_port_range(_reference_check_one(o, f, line), mod, f, line, ":", inverted_ok=mod == "udp")
        elif o.name in _reference_check_MULTI_OPTS and mod == "multiport":
            parts = _reference_check_one(o, f, line).split(",")
            if len(parts) > 15:
                raise ParseError("multiport: too many ports specified (at most 15)", f, line)
            for part in parts:
                _reference_check_port_range(part, proto or "tcp", f, line, ":")
        elif mod == "statistic" and o.name == "--probability":
            try:
                p = float(_reference_check_one(o, f, line))
            except ValueError:
                p = -1.0
            if not 0.0 <= p <= 1.0:
                raise ParseError(f"statistic: bad value for option \"--probability\" {o.value!r} (must be 0-1)",
                                 f, line)  # fmt: skip
        elif mod in ("mark", "connmark") and o.name == "--mark":
            _reference_check_mark(_reference_check_one(o, f, line), f, line)
        elif mod == "conntrack" and o.name in ("--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst"):
            _reference_check_network(_reference_check_one(o, f, line), f, line)


def _reference_check_check_target_options(rule: Rule, proto: str, f: str | None, line: int) -> None:
    t = rule.target
    assert t is not None
    _arity(t.name, t.options, f, line)  # since a4ca77e
    for o in t.options:
        if t.name in ("DNAT", "SNAT") and o.name in ("--to-destination", "--to-source", "--to"):
            _reference_check_nat_range(_reference_check_one(o, f, line), proto, f, line)
        elif t.name in ("MASQUERADE", "REDIRECT") and o.name == "--to-ports":
            if proto not in _reference_check_PORTED_PROTOS:
                raise ParseError(f"{t.name} --to-ports needs -p tcp, udp, sctp or dccp", f, line)
            _reference_check_port_range(_reference_check_one(o, f, line), proto, f, line, "-")
        elif t.name in ("MARK", "CONNMARK") and o.name in ("--set-xmark", "--set-mark", "--and-mark", "--or-mark",
                                                            "--xor-mark", "--nfmask", "--ctmask", "--mask"):  # fmt: skip
            _reference_check_mark(_reference_check_one(o, f, line), f, line)


def _reference_check_one(o: Option, f: str | None, line: int) -> str:
    if len(o.values) != 1:
        raise ParseError(f"option {o.name} needs one value", f, line)
    return o.value


def _reference_check_octets(text: str) -> bool:
    return bool(_reference_check_DOTTED.match(text)) and all(int(x) <= 255 for x in text.split("."))


def _reference_check_network(text: str, f: str | None, line: int) -> None:
    addr, slash, mask = text.partition("/")
    if not _reference_check_octets(addr):
        raise ParseError(f"host/network {addr!r} not found (expected a dotted IPv4 address)", f, line)
    if slash and not ((mask.isdigit() and int(mask) <= 32) or _reference_check_octets(mask)):
        raise ParseError(f"invalid mask {mask!r} specified", f, line)


def _reference_check_port(text: str, proto: str, f: str | None, line: int) -> int:
    if text.isdigit():
        n = int(text)
        if n <= 65535:
            return n
    else:
        # iptables resolves service names with getservbyname (/etc/services); its udp match takes a name
        # /etc/services lists for tcp only (udp --dport http loads as 80): any protocol's entry counts
        for p in (proto if proto in ("tcp", "udp") else "tcp", None):
            try:
                return socket.getservbyname(text, p) if p else socket.getservbyname(text)
            except (OSError, UnicodeError):
                continue
    raise ParseError(f"invalid port/service {text!r} specified", f, line)


def _reference_check_port_range(text: str, proto: str, f: str | None, line: int, sep: str, inverted_ok: bool = False) -> None:
    lo_s, has, hi_s = text.partition(sep)
    lo = _reference_check_port(lo_s, proto, f, line) if lo_s or not has else 0
    hi = _reference_check_port(hi_s, proto, f, line) if has and hi_s else (65535 if has else lo)
    if lo > hi and not inverted_ok:
        raise ParseError(f"invalid portrange {text!r} (min > max)", f, line)


def _reference_check_nat_range(text: str, proto: str, f: str | None, line: int) -> None:
    addrs, colon, ports = text.partition(":")
    for a in addrs.split("-") if addrs else ():
        if not _reference_check_octets(a):
            raise ParseError(f"bad IP address {a!r}", f, line)
    if colon:
        if proto not in _reference_check_PORTED_PROTOS:
            raise ParseError("a NAT port needs -p tcp, udp, sctp or dccp", f, line)
        lo_s, dash, hi_s = ports.partition("-")
        for p in (lo_s, hi_s) if dash else (lo_s,):
            if not p.isdigit() or int(p) > 65535:
                raise ParseError(f"port {p!r} not valid", f, line)
        if dash and int(lo_s) > int(hi_s):
            raise ParseError(f"invalid port range {ports!r} (min > max)", f, line)


def _reference_check_mark(text: str, f: str | None, line: int) -> None:
    for part in text.split("/", 1):
        try:
            v = int(part, 0)
        except ValueError:
            v = -1
        if not 0 <= v <= 0xFFFFFFFF:
            raise ParseError(f"bad mark value {text!r}", f, line)


def _reference_check_check_graph(rs: Ruleset, tname: str) -> None:
    """Jump loops reachable from a built-in chain, and targets used outside their table and hooks."""
    table = rs.tables[tname]
    # each chain's distinct successors in the order its rules first jump to them, with that first rule (a
    # later rule to the same chain meets a chain already explored, or already on the path and refused)
    succ: dict[str, dict[str, Rule]] = {name: {} for name in table.chains}
    for chain in table.chains.values():
        out = succ[chain.name]
        for rule in chain.rules:
            t = rule.target
            if t is not None and t.name in succ and t.name not in out:
                out[t.name] = rule
    # one depth-first search from the built-in chains in order, with the path on a stack (a jump to a chain
    # on the path is a loop) and the explored chains shared between them: a chain explored from an earlier
    # hook has no loop below it
    order: list[str] = []  # post-order: a chain after everything it jumps to
    done: set[str] = set()
    roots = [hook for hook in BUILTIN_CHAINS[tname] if hook in table.chains]
    for hook in roots:
        if hook in done:
            continue
        path: list[str] = [hook]
        onpath = {hook}
        stack = [iter(succ[hook].items())]
        while stack:
            edge = next(stack[-1], None)
            if edge is None:
                stack.pop()
                done.add(path[-1])
                order.append(path[-1])
                onpath.discard(path.pop())
                continue
            nxt, rule = edge
            if nxt in onpath:
                cycle = [*path[path.index(nxt):], nxt]
                raise ParseError(f"jump loop: chain {rule.chain} jumps back to {nxt} ({' -> '.join(cycle)}, "
                                 f"reached from {tname} {hook}); the kernel refuses it", rs.file, rule.line)  # fmt: skip
            if nxt in done:
                continue
            path.append(nxt)
            onpath.add(nxt)
            stack.append(iter(succ[nxt].items()))
    # which hooks reach each chain: propagated in topological order (the graph has no loop now)
    hooks: dict[str, set[str]] = {hook: {hook} for hook in roots}
    for name in reversed(order):
        mine = hooks.get(name)
        if not mine:
            continue
        for nxt in succ[name]:
            hooks.setdefault(nxt, set()).update(mine)
    for chain in table.chains.values():
        reached = hooks.get(chain.name, set())
        for rule in chain.rules:
            t = rule.target
            if t is None or t.name not in _reference_check_PLACES or t.name in table.chains:
                continue
            want_table, want_hooks = _reference_check_PLACES[t.name]
            if tname != want_table:  # checked for every rule, reached or not (xt_check_target)
                raise ParseError(f"-j {t.name} is only valid in the {want_table} table, not *{tname}", rs.file,
                                 rule.line)  # fmt: skip
            bad = sorted(reached - want_hooks)
            if bad:
                raise ParseError(f"-j {t.name} is not allowed from {tname} {', '.join(bad)} (only "
                                 f"{', '.join(sorted(want_hooks))})", rs.file, rule.line)  # fmt: skip


_reference_check_IPVS_OPTS = ("--ipvs", "--vproto", "--vaddr", "--vport", "--vdir", "--vmethod", "--vportctl")


def _reference_check_check_ipvs(m: Match, f: str | None, line: int) -> None:
    """libxt_ipvs.c ``ipvs_mt_opts`` / ``ipvs_mt_parse`` / ``ipvs_mt_check`` with xtables' option parsing."""
    seen: set[str] = set()
    for o in m.options:
        if o.name not in _reference_check_IPVS_OPTS:
            raise ParseError(f"ipvs: unknown option {o.name}", f, line)
        if o.name in seen:
            raise ParseError(f'ipvs: option "{o.name}" can only be used once', f, line)
        seen.add(o.name)
        if o.name == "--ipvs":
            if o.values:
                raise ParseError(f"ipvs: --ipvs takes no value (bad argument {o.values[0]!r})", f, line)
            continue
        value = _reference_check_one(o, f, line)
        if o.name == "--vproto":
            text = value.lower()
            if not (text.isdigit() and int(text) <= 255) and text not in _reference_check_PROTOS and not _reference_check_known_protocol(text):
                raise ParseError(f'ipvs: unknown protocol "{value}" specified', f, line)
        elif o.name == "--vaddr":
            addr, slash, mask = value.partition("/")
            if not _reference_check_octets(addr):
                raise ParseError(f"ipvs: --vaddr {value!r}: expected a dotted IPv4 address", f, line)
            if slash and not (mask.isdigit() or _reference_check_octets(mask)):
                raise ParseError(f'ipvs: bad value for option "--vaddr" {value!r}: neither a valid network mask nor '
                                 "valid CIDR", f, line)  # fmt: skip
        elif o.name in ("--vport", "--vportctl"):
            if value.isdigit():
                if int(value) > 65535:
                    raise ParseError(f"ipvs: {o.name} {value}: above 65535", f, line)
            else:
                _reference_check_port(value, "tcp", f, line)
        elif o.name == "--vdir":
            if o.negated:
                raise ParseError('ipvs: option "--vdir" cannot be inverted', f, line)
            if value.upper() not in ("ORIGINAL", "REPLY"):
                raise ParseError(f'ipvs: bad value for "--vdir" option: "{value}"', f, line)
        elif value.upper() not in ("GATE", "IPIP", "MASQ"):  # --vmethod
            raise ParseError(f'ipvs: bad value for "--vmethod" option: "{value}"', f, line)
    if not seen:
        raise ParseError("IPVS: at least one option is required", f, line)
    ipvs = next((o for o in m.options if o.name == "--ipvs"), None)
    if ipvs is not None and ipvs.negated and len(seen) > 1:
        raise ParseError("ipvs: ! --ipvs cannot be together with other options", f, line)


def _reference_check_known_protocol(name: str) -> bool:
    """A protocol name /etc/protocols knows (xtables_parse_protocol falls back to getprotobyname)."""
    try:
        socket.getprotobyname(name)
    except OSError:
        return False
    return True
