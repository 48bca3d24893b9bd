"""The ``iptables-save`` grammar (iptables 1.8, legacy and nf_tables backends), read and written back.

    # comment lines                    kept in Ruleset.header
    *table                             starts a table
    :CHAIN POLICY [packets:bytes]      declares a chain; POLICY is ACCEPT/DROP or - for user chains
    [packets:bytes] -A CHAIN rule...   appends a rule (counters only with iptables-save -c)
    COMMIT                             ends the table

A rule is a sequence of options.  ``-m NAME`` opens a match module whose options follow; ``-j``/``-g``
names the target, whose options follow it.  ``!`` before an option negates it (iptables 1.8 prints it
there; a built-in option takes the next word as its value, as iptables 1.8.9 reads it: ``-s ! ADDR`` is
the address ``!`` and a stray ``ADDR``, ``-p ! tcp`` 'unknown protocol "!" specified'; iptables 1.8 reads
``--dport ! 80`` as the port ``!`` too).  A rule holding a word only getopt_long reads (``--dport=80``,
``--dpo``, ``-AINPUT``) is first rewritten by ``iptables_getopt``.  An option ``iptables_arity`` knows to take a value takes the next word,
whatever it is, as iptables' getopt_long gives it (``--comment -j DROP``: the comment ``-j``, then ``DROP``,
a word iptables_check refuses); ``!`` before ``-m``, ``-j`` or ``-g`` is refused, as iptables refuses it.  Values may be double-quoted with backslash
escapes, as iptables-save quotes comments.  No knowledge of what modules mean lives here: that is
``hairpin.netfilter.evaluate``'s job.
"""

from __future__ import annotations

import re
from pathlib import Path

from hairpin import reading
from hairpin.errors import ParseError
from hairpin.netfilter.rules import Match, Option, Rule, Ruleset, Table, Target
from hairpin.parsers import iptables_arity, iptables_check, iptables_commands, iptables_getopt
from hairpin.parsers.ip6tables import TARGETS6_ONLY
from hairpin.parsers.iptables_check import TARGETS
from hairpin.text import digits, split_lines

__all__ = ["dump", "format_rule", "load", "parse", "rule_args", "tokenize"]

_BUILTIN_OPTS = {
    "-s": "-s", "--source": "-s", "--src": "-s",
    "-d": "-d", "--destination": "-d", "--dst": "-d",
    "-p": "-p", "--protocol": "-p",
    "-i": "-i", "--in-interface": "-i",
    "-o": "-o", "--out-interface": "-o",
    "-f": "-f", "--fragment": "-f",
}  # fmt: skip
_TARGET_OPTS = {"-j": False, "--jump": False, "-g": True, "--goto": True}
_VALUELESS = {"-f"}
_APPEND_INSERT = frozenset({"-A", "--append", "-I", "--insert"})
# what an option word is to _fast_args: 1 -m, 2 -j, 3 -g, 4 a built-in option, 5 another option (the options
# dumps repeat are listed; any other word is looked at)
_MATCH, _JUMP, _GOTO, _BUILTIN, _OTHER = 1, 2, 3, 4, 5
_KINDS = {"-m": _MATCH, "--match": _MATCH, "-j": _JUMP, "--jump": _JUMP, "-g": _GOTO, "--goto": _GOTO,
          **dict.fromkeys(_BUILTIN_OPTS, _BUILTIN),
          **dict.fromkeys(["--comment", "--dport", "--sport", "--dports", "--mode", "--probability", "--every",
                           "--packet", "--to-destination", "--to-source", "--to-ports", "--set-xmark", "--or-mark",
                           "--mark", "--dst-type", "--src-type", "--ctstate", "--state", "--match-set"], _OTHER)}  # fmt: skip
#: the option words a rule may hold as written (any other word that starts with "-" is read by iptables_getopt)
_KNOWN = iptables_getopt.KNOWN
_OWN = iptables_getopt.OWN


#: one token: a double-quoted string (backslash escapes the next character), a bare word, or a lone
#: opening quote with no closing one (an error)
_TOKEN = re.compile(r'[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^ \t"][^ \t]*)|("))', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def tokenize(text: str, file: str | None = None, line: int | None = None) -> list[tuple[str, bool]]:
    """Split a rule line into (token, was_quoted) pairs the way iptables-restore does: blanks and tabs
    separate tokens; a token that starts with a double quote runs to the next unescaped one."""
    if '"' not in text:
        return [(t, False) for t in text.replace("\t", " ").split(" ") if t]
    tokens: list[tuple[str, bool]] = []
    for quoted, bare, open_quote in _TOKEN.findall(text):
        if open_quote:
            raise ParseError("unterminated quoted string", file, line)
        if bare:
            tokens.append((bare, False))
        else:
            tokens.append((_ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted, True))
    return tokens


def _is_option(tok: str, quoted: bool) -> bool:
    return not quoted and tok.startswith("-") and len(tok) > 1 and not "0" <= tok[1] <= "9"


def parse_rule_args(
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
    # _is_option of every token, computed once (a 180,000-rule dump asks it 2.5 million times)
    opt = [not q and len(t) > 1 and t[0] == "-" and not "0" <= t[1] <= "9" for t, q in tokens]

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
        if i < len(tokens) and (
            _takes_value(tok, target, in_target, module, matches)
            or ((opt[i] or tokens[i] == ("!", False)) and tok in _BUILTIN_OPTS and tok not in ("-f", "--fragment"))
        ):
            # getopt_long: an option that takes a value takes the next word, whatever it is ("!", "-j"; for
            # the built-in options, the interface "-ieth0" iptables 1.8.9 makes of "-ieth0", and the "!" of
            # "-s ! ADDR": iptables 1.8.9 reads "!" there only for arptables)
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
        if negate and (tok in ("-m", "--match") or tok in _TARGET_OPTS):
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
        elif tok in _TARGET_OPTS:
            if len(values) != 1:
                raise ParseError(f"{tok} needs one target name in rule for chain {chain}", file, line)
            if in_target:
                raise ParseError(f"second target {values[0]!r} in rule for chain {chain}", file, line)
            close_module()
            in_target = True
            target = Target(values[0], (), _TARGET_OPTS[tok])
        elif in_target:
            target_opts.append(Option(tok, tuple(values), negate, quoted_any))
        elif tok in _BUILTIN_OPTS and (module is None or tok not in ("-s", "-d", "-p", "-i", "-o")):
            name = _BUILTIN_OPTS[tok]
            if name == "-p" and values[:1] == ["!"] and not quoted_any:
                raise ParseError('unknown protocol "!" specified', file, line)
            if name not in _VALUELESS and len(values) != 1:
                raise ParseError(f"{tok} needs one value in rule for chain {chain}", file, line)
            close_module()
            matches.append(Match("", (Option(name, tuple(values), negate),)))
        elif tok in _BUILTIN_OPTS:
            close_module()
            matches.append(Match("", (Option(_BUILTIN_OPTS[tok], tuple(values), negate),)))
        else:
            if module is None:
                # iptables-save always names the module; accept the implicit -p tcp --dport form.
                implicit = _implicit_module(matches)
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


#: interned parts of rules, per parse: equal Options and Matches are one object (they are frozen), so a dump
#: whose rules repeat ``-p tcp``, ``-m tcp --dport 80`` or a Service's comment builds each once.  Options
#: by (name, value, quoted); matches by (module, their options' keys) or ("", built-in option, value);
#: targets by (name, goto, their options' ids...).
_OptionMemo = dict[tuple[str, str, bool], Option]
_MatchMemo = dict[tuple[object, ...], Match]
_TargetMemo = dict[tuple[object, ...], Target]


def _split(body: str) -> tuple[list[str], int] | None:
    """``tokenize`` for the lines dumps are made of, without a tuple per token: the words and the index of
    the one quoted word (-1 if none).  None for any other line (more than one quoted string, a backslash
    inside quotes, a quote inside a word): ``tokenize`` reads those."""
    quotes = body.count('"')
    if quotes == 0:
        words = (body.replace("\t", " ") if "\t" in body else body).split(" ")
        return ([w for w in words if w] if "" in words else words), -1
    if quotes != 2:
        return None
    pre, quoted, post = body.split('"')
    if (pre and pre[-1] not in " \t") or "\\" in quoted:
        return None
    # pre ends with a blank and post, most often, starts with one: split without those first
    words = (pre.replace("\t", " ") if "\t" in pre else pre)[:-1].split(" ")
    if "" in words:
        words = [w for w in words if w]
    at = len(words)
    words.append(quoted)
    if post:
        after = (post.replace("\t", " ") if "\t" in post else post).split(" ")
        if after[0] == "":
            del after[0]
        words.extend([w for w in after if w] if "" in after else after)
    return words, at


def _fast_args(
    words: list[str], quoted_at: int, options: _OptionMemo, memo: _MatchMemo, targets: _TargetMemo
) -> tuple[tuple[Match, ...], Target | None] | None:
    """``parse_rule_args`` of ``words[2:]`` when they are pairs of an option and its one value, none negated,
    none refused: the form kube-proxy and most tools write.  None otherwise (``parse_rule_args`` then reads
    the rule and says what is wrong with it).  Equal options and matches come from the memos."""
    n = len(words)
    if n & 1:
        return None
    matches: list[Match] = []
    module: str | None = None
    mopts: list[Option] = []
    mkeys: list[tuple[str, str, bool]] = []
    target: str | None = None
    goto = False
    topts: list[Option] = []
    for i in range(2, n, 2):
        tok = words[i]
        val = words[i + 1]
        kind = _KINDS.get(tok)
        if kind is None:
            if tok not in _KNOWN:
                return None  # not an option where one must be, or one spelled as only getopt reads it
            kind = _OTHER
        vq = i + 1 == quoted_at
        if i == quoted_at or (not vq and (val == "!" or (val[0] == "-" and len(val) > 1 and not "0" <= val[1] <= "9"))):
            return None  # a quoted option; a negation, or an option where its value must be
        if kind == _MATCH:
            if target is not None:
                return None
            if module is not None:
                if (m := _shared_match(memo, module, mkeys, mopts)) is None:
                    return None
                matches.append(m)
            mopts = []
            mkeys = []
            module = val
        elif kind in (_JUMP, _GOTO):
            if target is not None:
                return None
            if module is not None:
                if (m := _shared_match(memo, module, mkeys, mopts)) is None:
                    return None
                matches.append(m)
                module = None
            target = val
            goto = kind == _GOTO
        elif kind == _BUILTIN and target is None:  # (no Option of the memo: the match holds its own)
            if module is not None:
                if (m := _shared_match(memo, module, mkeys, mopts)) is None:
                    return None
                matches.append(m)
                module = None
                mopts = []
                mkeys = []
            # a built-in option is never marked quoted, and -s/--source are one: keyed by its short name
            bkey = ("", _BUILTIN_OPTS[tok], val)
            m = memo.get(bkey)
            if m is None:
                m = memo[bkey] = Match("", (Option(_BUILTIN_OPTS[tok], (val,), False),))
            matches.append(m)
        else:
            key = (tok, val, vq)
            o = options.get(key)
            if o is None:
                o = options[key] = Option(tok, (val,), False, vq)
            if target is not None:
                topts.append(o)
            else:
                if module is None:
                    module = _implicit_module(matches)
                    if module is None:
                        return None
                mopts.append(o)
                mkeys.append(key)
    if module is not None:
        if (m := _shared_match(memo, module, mkeys, mopts)) is None:
            return None
        matches.append(m)
    if target is None:
        return tuple(matches), None
    # the options by identity: equal ones are one object of ``options``, which holds them for the whole parse
    tkey = (target, goto, *map(id, topts)) if topts else (target, goto)
    t = targets.get(tkey)
    if t is None:
        if topts:
            own = _OWN.get(target)
            if own is None:
                if goto or target in _VERDICTS or (target not in TARGETS and target not in TARGETS6_ONLY):
                    return None  # a verdict or a chain has no options: iptables_getopt reads the rule
            else:
                for o in topts:
                    if o.name not in own:
                        return None  # an option the target does not have: iptables_getopt reads the rule
        t = targets[tkey] = Target(target, tuple(topts), goto)
    return tuple(matches), t


def _shared_match(
    memo: _MatchMemo, module: str, keys: list[tuple[str, str, bool]], opts: list[Option]
) -> Match | None:
    """The Match of ``module`` with these options, one object per parse for equal ones; None if an option
    is not one of the module's (iptables_getopt then reads the rule)."""
    mkey = (module, tuple(keys))
    m = memo.get(mkey)
    if m is None:
        own = _OWN.get(module)
        if own is not None:
            for k in keys:
                if k[0] not in own:
                    return None
        m = memo[mkey] = Match(module, tuple(opts))
    return m


def rule_args(
    tokens: list[tuple[str, bool]], table: str, file: str | None = None, line: int | None = None
) -> tuple[tuple[Match, ...], Target | None]:
    """``parse_rule_args`` of a rule's tokens after ``-A CHAIN`` (``tokens`` holds them), read as iptables'
    getopt_long reads them: a rule holding a word only getopt reads (``--dport=80``, ``--dpo``, ``-ptcp``)
    or an option under a match or target that does not have it (``-j MARK --set``, ``-m comment --comment x
    --dport 80``) is first rewritten by ``iptables_getopt.respell``."""
    chain = tokens[1][0]
    respelled = iptables_getopt.needs(tokens)
    if respelled:
        tokens = iptables_getopt.respell(tokens, file, line)
        if tokens[1][0] != chain:
            raise ParseError(f"expected -A {chain}, got -A {tokens[1][0]}", file, line)
    args = parse_rule_args(tokens[2:], table, chain, file, line)
    if not respelled and _foreign(*args):
        tokens = iptables_getopt.respell(tokens, file, line)
        args = parse_rule_args(tokens[2:], table, chain, file, line)
    return args


def _foreign(matches: tuple[Match, ...], target: Target | None) -> bool:
    """Whether an option is under a match or target that does not have it (``iptables_getopt.foreign``)."""
    for m in matches:
        if m.module and iptables_getopt.foreign("m:" + m.module, [o.name for o in m.options]):
            return True
    return (target is not None and bool(target.options)
            and iptables_getopt.foreign(("g:" if target.goto else "j:") + target.name, [o.name for o in target.options]))


def _takes_value(tok: str, target: Target | None, in_target: bool, module: str | None, matches: list[Match]) -> bool:
    """Whether ``tok`` is an option of a known extension that takes at least one value (iptables_arity)."""
    if in_target:
        owner = target.name if target is not None else None
    elif tok in _BUILTIN_OPTS or tok in _TARGET_OPTS or tok in ("-m", "--match"):
        return False
    else:
        owner = module if module is not None else _implicit_module(matches)
    s = iptables_arity.spec(owner, tok) if owner is not None else None
    return s is not None and s[0] > 0


def _implicit_module(matches: list[Match]) -> str | None:
    for m in matches:
        if m.module == "" and m.options:  # (a match named nothing, '-m ""', holds no option: refused when checked)
            o = m.options[0]
            if o.name == "-p" and o.value in ("tcp", "udp", "icmp", "sctp"):
                return o.value
    return None


def parse(text: str, file: str | None = None) -> Ruleset:
    """Parse iptables-save text.  Raises ParseError(file, line) on the first malformed line."""
    rs = Ruleset(file=file)
    table: Table | None = None
    seen_tables: set[str] = set()
    edits = iptables_commands.Edits()
    memos: tuple[_OptionMemo, _MatchMemo, _TargetMemo] = ({}, {}, {})
    for lineno, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if not line:
            continue
        if line[0] == "-" and table is not None:  # a rule without counters: most lines
            _rule(line, line, None, lineno, table, edits, memos, file, rs.warnings)
            continue
        if line.startswith("#"):
            if table is None:
                rs.header.append(raw)
            if "ncompatible" in line or "legacy" in line:  # rules iptables-nft-save left out
                hidden = iptables_check.hidden_rules(line)
                if hidden:
                    rs.warnings.append(f"{file or 'line'}{':' if file else ' '}{lineno}: {hidden}")
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
                counters = _counters(parts[2], file, lineno)
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
            counters_r = _counters(body[: end + 1], file, lineno)
            body = body[end + 1 :].strip()
        _rule(line, body, counters_r, lineno, table, edits, memos, file, rs.warnings)
    if table is not None:
        raise ParseError(f"table *{table.name} has no COMMIT", file, len(split_lines(text)))
    edits.finish()
    _check_jumps(rs)
    return rs


def _rule(
    line: str,
    body: str,
    counters_r: tuple[int, int] | None,
    lineno: int,
    table: Table,
    edits: iptables_commands.Edits,
    memos: tuple[_OptionMemo, _MatchMemo, _TargetMemo],
    file: str | None,
    warnings: list[str],
) -> None:
    """The line's rule appended to its chain (or kept aside, if inserted at the head); any other command
    (``-I CHAIN NUM``, ``-D``, ``-N``, ``-c``, ``-6``...) carried out by ``iptables_commands``."""
    split = _split(body)
    if split is None:
        tokens = tokenize(body, file, lineno)
        words, quoted_at = [t for t, _ in tokens], -2
    else:
        words, quoted_at = split
    # a plain -A/-I: the command first, no rule number after -I (iptables_commands.Command.plain)
    if len(words) >= 2 and words[0] in _APPEND_INSERT and (
        words[0] in ("-A", "--append") or len(words) < 3 or words[2][:1] in ("-", "!")
    ):
        chain_name = words[1]
        chain = table.chains.get(chain_name)
        chain = chain if chain is not None and chain.line else None
        args = _fast_args(words, quoted_at, *memos) if quoted_at != -2 and chain is not None else None
        if args is None:
            if quoted_at != -2:
                tokens = [(w, i == quoted_at) for i, w in enumerate(words)]
            if not _more_than_a_rule(tokens):
                if chain is None:
                    raise ParseError(f"rule for undeclared chain {chain_name} in *{table.name}", file, lineno)
                args = rule_args(tokens, table.name, file, lineno)
        if args is not None and chain is not None:
            rule = Rule(table.name, chain_name, args[0], args[1], len(chain.rules) + 1, lineno, counters_r, line)
            head = words[0] in ("-I", "--insert")
            if "," in body:  # perhaps -s A,B: one kernel rule per address pair
                iptables_commands.add(edits, chain, rule, head, file, lineno)
            elif head:
                edits.head(chain, rule)
            else:
                chain.rules.append(rule)
            return
    elif quoted_at != -2:
        tokens = [(w, i == quoted_at) for i, w in enumerate(words)]
    if not tokens or tokens[0][1] or (tokens[0][0][:1] != "-" and tokens[0][0] != "!"):
        raise ParseError(f"expected -A CHAIN, got {body[:40]!r}", file, lineno)
    cmd = iptables_getopt.read_command(tokens, file, lineno)

    def read_rule(toks: list[tuple[str, bool]]) -> tuple[tuple[Match, ...], Target | None]:
        return parse_rule_args(toks[2:], table.name, toks[1][0], file, lineno)

    iptables_commands.apply(cmd, table, edits, read_rule, line, counters_r, warnings, file, lineno)


def _more_than_a_rule(tokens: list[tuple[str, bool]]) -> bool:
    """Whether a line that starts with ``-A CHAIN`` holds a word only ``iptables_getopt.read_command`` reads (a
    spelling only getopt reads, ``-c``, ``-6``, a second command)."""
    return iptables_getopt.needs(tokens) or any(not q and t in _APPEND_INSERT for t, q in tokens[2:])


_VERDICTS = {"ACCEPT", "DROP", "RETURN", "QUEUE"}


def _check_jumps(rs: Ruleset) -> None:
    for table in rs.tables.values():
        for chain in table.chains.values():
            for rule in chain.rules:
                t = rule.target
                if t is None or t.name in _VERDICTS:
                    continue
                if t.goto and t.name not in table.chains:
                    raise ParseError(f"goto to undeclared chain {t.name} in *{table.name}", rs.file, rule.line)


def _counters(text: str, file: str | None, line: int) -> tuple[int, int]:
    if not (text.startswith("[") and text.endswith("]")) or ":" not in text:
        raise ParseError(f"bad counters {text!r}", file, line)
    a, _, b = text[1:-1].partition(":")
    if not (digits(a) and digits(b)):
        raise ParseError(f"bad counters {text!r}", file, line)
    return int(a), int(b)


def load(path: str | Path) -> Ruleset:
    p = Path(path)
    return parse(reading.read_text(p), str(p))


# ---------------------------------------------------------------------------------------------- writing


_NO_QUOTE = frozenset("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def save_string(value: str) -> str:
    """A string value as iptables' xtables_save_string prints it: bare if only [A-Za-z0-9_-], else quoted."""
    if value and all(c in _NO_QUOTE for c in value):
        return value
    return '"' + "".join("\\" + c if c in "\"\\'" else c for c in value) + '"'


def _format_option(o: Option, string_valued: bool = False) -> str:
    parts = ["!"] if o.negated else []
    parts.append(o.name)
    if string_valued or o.quoted:
        parts.extend(save_string(v) for v in o.values)
    else:
        parts.extend(v if v and not any(c in v for c in ' \t"') else save_string(v) for v in o.values)
    return " ".join(parts)


def format_rule(rule: Rule) -> str:
    """``-A CHAIN ...`` as iptables-save prints the rule."""
    out = [f"-A {rule.chain}"]
    for m in rule.matches:
        if m.module:
            out.append(f"-m {m.module}")
        out.extend(_format_option(o, m.module == "comment") for o in m.options)
    if rule.target is not None:
        out.append(f"{'-g' if rule.target.goto else '-j'} {rule.target.name}")
        out.extend(_format_option(o) for o in rule.target.options)
    return " ".join(out)


def dump(rs: Ruleset, counters: bool = False) -> str:
    """Write a Ruleset back as iptables-save text."""
    lines = list(rs.header)
    for table in rs.tables.values():
        lines.append(f"*{table.name}")
        for chain in table.chains.values():
            pkts, byts = chain.counters
            lines.append(f":{chain.name} {chain.policy or '-'} [{pkts}:{byts}]")
        for chain in table.chains.values():
            for rule in chain.rules:
                text = format_rule(rule)
                if counters and rule.counters is not None:
                    text = f"[{rule.counters[0]}:{rule.counters[1]}] {text}"
                lines.append(text)
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"
