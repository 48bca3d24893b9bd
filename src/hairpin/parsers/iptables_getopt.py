"""A rule's words as iptables 1.8.9 reads them with glibc ``getopt_long``, rewritten in the spelling
``iptables-save`` prints, so that ``iptables_save.parse_rule_args`` reads what iptables reads.

``iptables-restore`` hands each rule line to ``do_parse`` (iptables/xshared.c, 1.8.9), a ``getopt_long``
loop over the option string ``-:A:C:D:E:F::I:L::M:N:P:VX::Z::c:d:i:j:o:p:s:t:R:S::W::46bfg:h::m:nvw::x``
(xshared.h ``IPT_OPTSTRING``) and a long-option table that grows as the rule is read.  What that means,
each point checked with ``iptables-nft-restore`` 1.8.9 (nf_tables) loading into a private network
namespace and ``iptables-nft-save`` reading back (``tests/test_iptables_getopt.py``):

- The table at a word: iptables' own options (iptables/xtables.c ``original_opts``: ``--append``,
  ``--source``, ``--src``, ``--protocol``, ``--in-interface``, ``--jump``, ``--goto``, ``--match``,
  ``--fragments``...), then the options of each extension loaded so far, newest first (libxtables
  ``xtables_merge_options``/``xtables_options_xfrm``): ``-m NAME`` loads a match, ``-j NAME`` a target
  (a verdict or a chain adds none), and a second ``-m`` of a loaded match adds nothing.  An option of a
  match goes to the latest ``-m`` of that match, wherever it is written, even after ``-j``.
- ``--name=value`` gives ``value`` (``--name=`` the empty value); ``--name value`` the next word, whatever
  it is; an option that takes no value refuses ``=`` ('unknown option "--syn=1"').  A word that is an
  option's full name is that option (the first in table order); otherwise a prefix of exactly one option
  (or of aliases with one meaning) is that option, and a prefix of two is refused like an unknown word:
  ``opterr`` is 0, so iptables says 'unknown option "--dpo"' for both.
- Before refusing, iptables loads the match of ``-p tcp|udp|icmp|sctp`` if no ``-m`` loaded it yet
  (``command_default``/``load_proto``) and reads the word again: ``-p tcp --dpo 80`` is ``-m tcp --dport 80``,
  the match placed where it was loaded.
- Short options take an attached value (``-AINPUT``, ``-mtcp``, ``-gCHAIN``) -- except that 1.8.9 reads
  ``-p``, ``-s``, ``-d``, ``-i``, ``-o`` and ``-j`` from ``argv[optind - 1]``, the whole word, when the
  value is attached (``-ptcp``, ``--source=1.2.3.4``; fixed in 1.8.10, commit 90a7a183 "xshared: Fix
  parsing of option arguments in same word").  So ``-ptcp`` is 'unknown protocol "-ptcp" specified',
  ``-s10.0.0.1`` "host/network `-s10.0.0.1' not found", ``-jDROP`` "Chain '-jDROP' does not exist", and
  ``-ieth0`` loads: an interface named ``-ieth0`` (``--in-interface=eth0`` is too long: "interface name
  ... must be shorter than IFNAMSIZ (15)").  ``-p ! tcp`` is the protocol ``!`` (refused): 1.8.9 reads
  ``!`` between option and value only for arptables (``check_inverse``).
- ``!`` (a word of its own) negates the next option; two are "multiple consecutive ! not allowed".  ``--``
  ends the options: last, it is nothing; before other words, "unknown arguments found on commandline".
  ``-4`` is ignored.  A word that is no option where an option must be is "Bad argument `WORD'".

- ``read_command`` reads the whole line: the command wherever it is written (``-I CHAIN [NUM]``, ``-D``,
  ``-R``, ``-N``, ``-P``, ``-F``, ``-X``, ``-Z``...; a second one is "Cannot use -I with -A"), ``-c``/
  ``--set-counters``, ``-6`` (which ends the reading), ``-v`` (ignored), ``-n``/``-x`` ("Illegal option"),
  ``-t`` ("The -t option cannot be used in iptables-restore."), and clusters of short options as getopt
  reads them (``-fp tcp``, ``-4f``); ``iptables_commands`` says what each command does and carries it out.

What is not read here, left as written for the parser (which reads them as it did before): words after an
extension whose options ``iptables_arity`` does not list is loaded (its options are not known, so no
prefix can be decided; a command, ``-c`` or ``-6`` among them is refused), a ``-p`` whose match is not
tcp, udp, icmp or sctp, and double-quoted words where an option must be.

A trace shows a rewritten rule as ``iptables-save`` prints what iptables read, followed by the user's own
words (``shown_rule``).
"""

from __future__ import annotations

from collections.abc import Iterable

from hairpin.errors import ParseError
from hairpin.netfilter.rules import Rule
from hairpin.parsers.ip6tables import TARGETS6_ONLY
from hairpin.parsers.iptables_arity import OPTIONS
from hairpin.parsers.iptables_check import TARGETS
from hairpin.parsers.iptables_commands import COMMANDS, Command, counter, illegal, rule_number

#: target extensions of either family (ip6tables' HL, DNPT, SNPT take options as iptables' do)
_ANY_TARGETS = TARGETS | TARGETS6_ONLY

__all__ = ["KNOWN", "OWN", "foreign", "needs", "read_command", "respell", "respelled", "shown_rule"]

_NO, _REQ, _OPT = 0, 1, 2
#: iptables' own long options (iptables/xtables.c ``original_opts``, 1.8.9): name -> (has_arg, short)
_BASE: dict[str, tuple[int, str]] = {
    "append": (_REQ, "A"), "delete": (_REQ, "D"), "check": (_REQ, "C"), "insert": (_REQ, "I"),
    "replace": (_REQ, "R"), "list": (_OPT, "L"), "list-rules": (_OPT, "S"), "flush": (_OPT, "F"),
    "zero": (_OPT, "Z"), "new-chain": (_REQ, "N"), "delete-chain": (_OPT, "X"), "rename-chain": (_REQ, "E"),
    "policy": (_REQ, "P"), "source": (_REQ, "s"), "destination": (_REQ, "d"), "src": (_REQ, "s"),
    "dst": (_REQ, "d"), "protocol": (_REQ, "p"), "in-interface": (_REQ, "i"), "jump": (_REQ, "j"),
    "table": (_REQ, "t"), "match": (_REQ, "m"), "numeric": (_NO, "n"), "out-interface": (_REQ, "o"),
    "verbose": (_NO, "v"), "wait": (_OPT, "w"), "wait-interval": (_OPT, "W"), "exact": (_NO, "x"),
    "fragments": (_NO, "f"), "version": (_NO, "V"), "help": (_OPT, "h"), "line-numbers": (_NO, "0"),
    "modprobe": (_REQ, "M"), "set-counters": (_REQ, "c"), "goto": (_REQ, "g"), "ipv4": (_NO, "4"),
    "ipv6": (_NO, "6"),
}  # fmt: skip
#: options of extensions iptables 1.8.9 loads that ``iptables_arity`` does not list: CONNMARK revision 2's
#: shifts (extensions/libxt_CONNMARK.c ``connmark_tg_opts_v2``), the set match's old ``--set`` (libxt_set.c
#: ``set_opts_v3``..., two values like ``--match-set``), hashlimit's old ``--hashlimit`` (``--hashlimit-upto``)
_EXTRA = {"CONNMARK": {"--left-shift-mark": (1, False), "--right-shift-mark": (1, False)},
          "set": {"--set": (2, True)}, "hashlimit": {"--hashlimit": (1, True)}}  # fmt: skip
#: aliases that are one getopt entry's meaning (same ``val``): a prefix of both is not ambiguous
_ALIAS = {"--source-port": "--sport", "--destination-port": "--dport", "--source-ports": "--sports",
          "--destination-ports": "--dports", "--hashlimit": "--hashlimit-upto"}  # fmt: skip
_PROTO_MATCHES = frozenset({"tcp", "udp", "icmp", "sctp"})
_VERDICTS = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE"})
#: the short options a rule holds, and how they are written back
_RULE_SHORT = {"s": "-s", "d": "-d", "p": "-p", "i": "-i", "o": "-o", "j": "-j", "g": "-g", "m": "-m", "f": "-f",
               "A": "-A", "I": "-I", "4": ""}  # fmt: skip
_WHOLE_WORD = frozenset("psdioj")  # 1.8.9 reads their value from argv[optind - 1]

#: every word that is an option's exact name somewhere (a rule of only these needs no rewriting)
KNOWN = frozenset(
    {"-" + c for c in _RULE_SHORT if c != "4"}
    | {"--" + n for n, (_, c) in _BASE.items() if c in _RULE_SHORT and c != "4"}
    | {"--fragment"}
    | {o for opts in OPTIONS.values() for o in opts}
    | {o for opts in _EXTRA.values() for o in opts}
)


#: extension -> the options iptables 1.8.9 gives it (the extensions iptables_arity lists)
OWN = {name: frozenset({**opts, **_EXTRA.get(name, {})}) for name, opts in OPTIONS.items()}
_OWN = {f"{k}:{name}": own for name, own in OWN.items() for k in "mjg"}


def foreign(owner: str, names: Iterable[str]) -> bool:
    """Whether an option the parser put under the match ``owner`` ("m:tcp") or the target ("j:DNAT",
    "g:CHAIN") is not one of its own: iptables' getopt then reads it otherwise (another match's option, an
    option of the match ``-p`` loads, a prefix) or refuses it, and ``respell`` says which.  False for an
    extension whose options are not known."""
    own = _OWN.get(owner)
    if own is None:
        name = owner[2:]
        if owner[0] == "m" or (owner[0] == "j" and name not in _VERDICTS and name in _ANY_TARGETS):
            return False
        own = frozenset()  # a verdict or a chain: no options
    return any(n not in own for n in names)


def needs(tokens: list[tuple[str, bool]]) -> bool:
    """Whether a word of the rule is spelled in a way only getopt reads: an unquoted word that starts with
    ``-`` (not a negative number) and is no option's exact name (``--dport=80``, ``--dpo``, ``-ptcp``, ``--``)."""
    for t, q in tokens:
        if not q and len(t) > 1 and t[0] == "-" and t not in KNOWN and (not "0" <= t[1] <= "9" or t[1] in "46"):
            return True
    return False


#: a getopt entry: (name with --, has_arg, what it means, owner): iptables' own options mean their short
#: letter and have no owner; an extension's are owned by "m:NAME" (a match) or "j:NAME" (the target)
_Entry = tuple[str, int, object, str | None]


def _ext_table(owner: str) -> list[_Entry] | None:
    """The getopt entries of the match or target ``owner`` ("m:tcp", "j:DNAT"); None if not known."""
    name = owner[2:]
    opts = OPTIONS.get(name)
    if opts is None:
        if owner[0] == "j" and (name in _VERDICTS or name not in _ANY_TARGETS):
            return []  # the standard target (a verdict or a chain) has no options
        return None
    both = {**opts, **_EXTRA.get(name, {})}
    return [(o, _REQ if n > 0 else _NO, (owner, _ALIAS.get(o, o)), owner) for o, (n, _) in both.items()]


_BASE_TABLE: list[_Entry] = [("--" + n, a, c, None) for n, (a, c) in _BASE.items()]


class _Fallback(Exception):
    """A word whose reading needs an option table hairpin does not know: leave the rest as written."""


class _Stop(Exception):
    """``-6``: do_parse returns at once; the words after it are not read."""


class _Reader:
    def __init__(self, tokens: list[tuple[str, bool]], file: str | None, line: int | None) -> None:
        self.tokens, self.file, self.line = tokens, file, line
        self.segments: list[list[tuple[str, bool]]] = []
        self.target: list[tuple[str, bool]] | None = None
        self.latest: dict[str, int] = {}  # "m:NAME" -> the latest segment of that match
        self.loaded: list[tuple[str, list[_Entry] | None]] = []  # newest first
        self.protocol: str | None = None
        self.proto_used = False
        self.invert = False
        self.deferred: str | None = None  # a refusal iptables makes after reading every word
        self.cmd = Command()
        self.chain_quoted = False

    def fail(self, message: str) -> ParseError:
        return ParseError(message, self.file, self.line)

    def resolve(self, name: str) -> list[_Entry]:
        """The entries ``--name`` may be: the first exact one, else every one it is a prefix of (one
        meaning: that option; more: ambiguous; none: unknown)."""
        for e in _BASE_TABLE:
            if e[0] == name:
                return [e]
        for _, table in self.loaded:
            if table is None:
                raise _Fallback
            for e in table:
                if e[0] == name:
                    return [e]
        return [e for e in _BASE_TABLE + [e for _, t in self.loaded for e in t or ()] if e[0].startswith(name)]

    def unknown(self, word: str, found: list[_Entry]) -> ParseError:
        """iptables' refusal of an unknown or ambiguous option, with what hairpin knows of why."""
        if len({e[2] for e in found}) > 1:
            why = ", ".join(f"{e[0]} ({_owner_text(e[3])})" for e in found)
            return self.fail(f'unknown option "{word}" (iptables\' getopt_long: a prefix of {why})')
        if found:
            return self.fail(f'unknown option "{word}" ({found[0][0]} takes no value)')
        if self.target is not None and not any(t for _, t in self.loaded):
            return self.fail(f'unknown option "{word}": {self.target[0][0]} {self.target[1][0]} takes no options')
        return self.fail(f'unknown option "{word}"')

    def load(self, ext: str, implicit: bool = False) -> None:
        """``-m ext`` (or the protocol's match, loaded by iptables itself): a segment, and its options
        in the table unless the match is loaded already."""
        owner = "m:" + ext
        if owner not in self.latest:
            self.loaded.insert(0, (owner, _ext_table(owner)))
        self.latest[owner] = len(self.segments)
        self.segments.append([("-m", False), (ext, False)])
        if implicit:
            self.proto_used = True

    def load_proto(self) -> bool:
        """iptables' ``load_proto``: the match of ``-p`` loaded now, if it is not yet; whether it was."""
        p = self.protocol
        if p is None or self.proto_used or "m:" + p in self.latest:
            return False
        if p not in _PROTO_MATCHES:
            raise _Fallback  # udplite, dccp, a number...: not modelled
        self.load(p, implicit=True)
        return True

    def emit(self, seg: list[tuple[str, bool]], name: str, values: list[tuple[str, bool]]) -> None:
        if self.invert:
            seg.append(("!", False))
            self.invert = False
        seg.append((name, False))
        seg.extend(values)

    def has_arg(self, i: int) -> bool:
        """``xs_has_arg``: a next word that does not start with ``-`` or ``!``."""
        return i < len(self.tokens) and self.tokens[i][0][:1] not in ("-", "!")

    def set_option(self, letter: str) -> None:
        """xshared.c ``set_option`` for the options ``generic_opt_check`` looks at."""
        if letter in self.cmd.options:
            raise self.fail(f"multiple -{letter} flags not allowed")
        self.cmd.options.add(letter)
        if self.invert and letter in "nvxc0":
            raise self.fail(f"cannot have ! before -{letter}")

    def result(self, rest: int) -> list[tuple[str, bool]]:
        if self.deferred is not None and not self.cmd.skipped:
            raise self.fail(self.deferred)
        out = [t for s in self.segments for t in s]
        if self.target is not None:
            out.extend(self.target)
        if self.invert and not self.cmd.skipped:
            out.append(("!", False))
        if rest < len(self.tokens) and not self.cmd.skipped:
            for w, q in self.tokens[rest:]:
                if not q and w[:2] != "--" and len(w) > 1 and w[0] == "-" and w[1] in "ACDEFILNPRSXZc6":
                    raise self.fail(f"{w} after an option whose extension hairpin does not know: not read by hairpin")
                if not q and w[:2] == "--" and w[2:].split("=")[0] in _COMMAND_WORDS:
                    raise self.fail(f"{w} after an option whose extension hairpin does not know: not read by hairpin")
            out.extend(self.tokens[rest:])
        cmd = self.cmd
        if cmd.op is not None and cmd.chain is not None:
            out[:0] = [("-A", False), (cmd.chain, self.chain_quoted)]
        cmd.tokens = out
        return out


#: the long names of commands and of the options that are not part of a rule
_COMMAND_WORDS = frozenset(n for n, (_, c) in _BASE.items() if c in "ACDEFILNPRSXZc6")


def _owner_text(owner: str | None) -> str:
    return "iptables" if owner is None else f"-{owner[0]} {owner[2:]}"


def respell(tokens: list[tuple[str, bool]], file: str | None = None, line: int | None = None) -> list[tuple[str, bool]]:
    """The (word, quoted) tokens of a rule line, ``-A CHAIN`` included, in ``iptables-save``'s spelling:
    ``-A CHAIN`` first, built-in options and matches in the order iptables loaded them, each option
    under its name in full with its value as a word of its own, the target last.  Raises ParseError with
    iptables-restore's words where it refuses the rule; from a word whose reading needs an option table
    hairpin does not know, the rest is left as written.  A line that is more than a rule (another command,
    ``-c``, ``-6``: ``read_command``) is refused here."""
    cmd = read_command(tokens, file, line)
    if not cmd.plain:
        raise ParseError(f"expected -A CHAIN and a rule, got {' '.join(t for t, _ in tokens)[:40]!r}", file, line)
    return cmd.tokens


def read_command(tokens: list[tuple[str, bool]], file: str | None = None, line: int | None = None) -> Command:
    """A rule file line as ``do_parse`` reads it: the command, its chain and number, ``-c``'s counters, whether
    ``-6`` ended it, and the rule's words as ``respell`` gives them (``-A CHAIN`` first)."""
    r = _Reader(tokens, file, line)
    i, n = 0, len(tokens)
    while i < n:
        start = i
        w, q = tokens[i]
        if q or len(w) < 2 or w[0] != "-":
            if q and w.startswith("-"):
                r.result(start)  # a quoted word where an option must be: not modelled
                return _finish(r)
            if w == "!" and not q:
                if r.invert:
                    raise r.fail("multiple consecutive ! not allowed")
                r.invert = True
                i += 1
                continue
            raise r.fail(f"Bad argument `{w}'")
        if w == "--":
            if i + 1 < n:
                raise r.fail("unknown arguments found on commandline")
            i += 1
            continue
        try:
            i = _option(r, i)
        except _Fallback:
            r.result(start)
            return _finish(r)
        except _Stop:
            r.cmd.skipped = True
            r.result(n)
            return r.cmd
        if i < 0:
            r.result(start)
            return _finish(r)
    r.result(n)
    return _finish(r)


def _finish(r: _Reader) -> Command:
    """The checks do_parse makes after the last word (those hairpin's rule reading does not make itself)."""
    cmd = r.cmd
    if cmd.op is None:
        raise r.fail("no command specified")
    illegal(cmd, r.file, r.line)
    return cmd


_REQ_SHORT = frozenset("ACDEINPRMcdijmopstg")  # IPT_OPTSTRING: a value, attached or the next word
_OPT_SHORT = frozenset("FLSXZWhw")  # a value only attached
_NO_SHORT = frozenset("46Vbfnvx")


def _option(r: _Reader, i: int) -> int:
    """Read the option at ``tokens[i]`` into ``r``; the index after it and its values (-1: not modelled, left
    as written from here)."""
    tokens = r.tokens
    w = tokens[i][0]
    attached: str | None
    if w[1] == "-":
        name, eq, value = w.partition("=")
        attached = value if eq else None
        while True:
            found = r.resolve(name)
            if len({e[2] for e in found}) == 1 and not (found[0][1] == _NO and eq):
                break
            if not r.load_proto():
                raise r.unknown(w, found)
        full, has_arg, meaning, ext = found[0]
        if ext is not None:
            if has_arg == _REQ and attached is None and i + 1 >= len(tokens):
                if r.load_proto():
                    return _option(r, i)
                raise r.fail(f'option "{w}" requires an argument')
            return _ext_option(r, i, full, ext, attached)
        short = str(meaning)
        if has_arg == _REQ and attached is None:
            if i + 1 >= len(tokens):
                raise r.fail(f'option "{w}" requires an argument')
            return _letter(r, short, tokens[i + 1][0], tokens[i + 1][1], False, w, i + 2)
        return _letter(r, short, attached, False, attached is not None, w, i + 1)
    # short options, clustered as getopt reads them: "-fp tcp" is -f then -p tcp
    j = 1
    while True:
        short, rest = w[j], w[j + 1 :]
        if short in _REQ_SHORT:
            if rest:
                return _letter(r, short, rest, False, True, w, i + 1)
            if i + 1 >= len(tokens):
                raise r.fail(f'option "{w}" requires an argument')
            return _letter(r, short, tokens[i + 1][0], tokens[i + 1][1], False, w, i + 2)
        if short in _OPT_SHORT:
            return _letter(r, short, rest or None, False, bool(rest), w, i + 1)
        if short not in _NO_SHORT:
            if r.load_proto():
                return _option(r, i)
            raise r.fail(f'unknown option "{w}"')
        nxt = _letter(r, short, None, False, False, w, i + 1)
        if not rest or nxt < 0:
            return nxt
        j += 1


def _letter(r: _Reader, short: str, value: str | None, vq: bool, attached: bool, word: str, nxt: int) -> int:
    """The option ``-short`` (written ``word``) with its value, if any; the index of the next word."""
    if short in COMMANDS:
        return _command(r, short, value, vq, attached, nxt)
    if short == "6":
        raise _Stop
    if short == "4" or short == "M":
        return nxt
    if short in "nvx0":
        if short != "v" or "v" not in r.cmd.options:
            r.set_option(short)
        r.invert = False
        return nxt
    if short == "c":
        return _counters(r, value or "", nxt)
    if short == "t":
        if r.invert:
            raise r.fail("unexpected ! flag before --table")
        raise r.fail("The -t option cannot be used in iptables-restore.")
    if short in "wW":
        raise r.fail(f"You cannot use `-{short}' from iptables-restore")
    if short not in _RULE_SHORT:
        does = {"V": "prints its version and stops", "h": "prints help and stops"}.get(short, "has no such option")
        raise r.fail(f"{word}: not an option of a rule line (iptables-restore {does}): not read by hairpin")
    assert value is not None or short == "f"
    if short == "f":
        r.set_option("f")
        r.segments.append([])
        r.emit(r.segments[-1], "-f", [])
        return nxt
    assert value is not None
    if attached and short in _WHOLE_WORD:
        value = word  # iptables 1.8.9 takes argv[optind - 1]: the whole word
    if short == "m":
        if r.invert:
            return -1  # the parser refuses "! -m" in its words
        r.load(value)
    elif short in ("j", "g"):
        if r.invert or r.target is not None:
            return -1  # the parser refuses these in its words
        r.cmd.options.add("j")
        if short == "j" and attached:
            if len(value) >= 29:
                raise r.fail(f"Invalid target name `{value}' (28 chars max)")
            # a jump to a chain of that name, which the commit refuses after every word is read
            r.deferred = r.deferred or f"Chain '{value}' does not exist"
        r.target = [(_RULE_SHORT[short], False), (value, vq)]
        r.loaded.insert(0, ("j:" + value, _ext_table("j:" + value) if short == "j" else []))
    else:
        if attached:
            if short == "p":
                raise r.fail(f'unknown protocol "{value.lower()}" specified')
            if short in ("s", "d"):  # parsed after every word is read
                r.deferred = r.deferred or f"host/network `{value.split(',')[0].split('/')[0]}' not found"
            elif short in ("i", "o") and len(value) >= 16:
                raise r.fail(f"interface name `{value}' must be shorter than IFNAMSIZ (15)")
        if short == "p":
            r.protocol = value.lower()
        r.cmd.options.add(short)
        seg: list[tuple[str, bool]] = []
        r.segments.append(seg)
        r.emit(seg, _RULE_SHORT[short], [(value, vq)])
    return nxt


def _command(r: _Reader, op: str, value: str | None, vq: bool, attached: bool, nxt: int) -> int:
    """do_parse's commands (xshared.c, 1.8.9: ``add_command``, ``parse_rulenumber``, ``xs_has_arg``)."""
    tokens, cmd = r.tokens, r.cmd
    if op == "N" and value is not None:
        _valid_chain_name(r, value)
    if r.invert:
        raise r.fail("unexpected '!' flag")
    if cmd.op is not None:
        raise r.fail(f"Cannot use -{op} with -{cmd.op}")
    cmd.op = op
    if op in "FXZLS" and not attached and r.has_arg(nxt):
        value, vq = tokens[nxt]
        nxt += 1
    cmd.chain, r.chain_quoted = value, vq
    if op in "IDZLS" and r.has_arg(nxt):
        cmd.num = rule_number(tokens[nxt][0], r.file, r.line)
        nxt += 1
    elif op == "R":
        if not r.has_arg(nxt):
            raise r.fail("-R requires a rule number")
        cmd.num = rule_number(tokens[nxt][0], r.file, r.line)
        nxt += 1
    elif op in "EP":
        if not r.has_arg(nxt):
            raise r.fail("-E requires old-chain-name and new-chain-name" if op == "E" else "-P requires a chain and a policy")
        cmd.arg = tokens[nxt][0]
        nxt += 1
    return nxt


def _valid_chain_name(r: _Reader, name: str) -> None:
    """xshared.c ``assert_valid_chain_name`` (1.8.9)."""
    if len(name) >= 29:
        raise r.fail(f"chain name `{name}' too long (must be under 29 chars)")
    if name[:1] in ("-", "!"):
        raise r.fail(f"chain name not allowed to start with `{name[0]}'")
    if name in TARGETS or name in _VERDICTS:
        raise r.fail("chain name may not clash with target name")
    if any(c.isspace() for c in name):
        raise r.fail(f"Invalid chain name `{name}'")


def _counters(r: _Reader, pcnt: str, nxt: int) -> int:
    """``-c PACKETS BYTES`` or ``-c PACKETS,BYTES`` (xshared.c do_parse, case 'c')."""
    r.set_option("c")
    comma = pcnt.find(",", 1)
    if comma >= 0:
        bcnt: str | None = pcnt[comma + 1 :]
    elif r.has_arg(nxt):
        bcnt = r.tokens[nxt][0]
        nxt += 1
    else:
        bcnt = None
    if bcnt is None:
        raise r.fail("-c requires packet and byte counter")
    p, b = counter(pcnt), counter(bcnt)
    if p is None:
        raise r.fail("-c packet counter not numeric")
    if b is None:
        raise r.fail("-c byte counter not numeric")
    r.cmd.counters = (p, b)
    return nxt


def _ext_option(r: _Reader, i: int, full: str, owner: str, attached: str | None) -> int:
    """An option of the match or target ``owner``: written into its segment."""
    tokens = r.tokens
    count = {**OPTIONS[owner[2:]], **_EXTRA.get(owner[2:], {})}[full][0]
    values: list[tuple[str, bool]] = []
    nxt = i + 1
    if count:
        if attached is not None:
            values.append((attached, False))
        else:
            values.append(tokens[nxt])
            nxt += 1
        if count == 2 and nxt < len(tokens) and not tokens[nxt][0].startswith(("-", "!")):
            values.append(tokens[nxt])  # the extension reads its second word from argv[optind]
            nxt += 1
    seg = r.target if owner[0] == "j" and r.target is not None else r.segments[r.latest[owner]]
    r.emit(seg, full, values)
    return nxt


# ---------------------------------------------------------------------------------------------- showing


def shown_rule(rule: Rule) -> str:
    """``format_rule``, followed by ``(written: LINE)`` when the file spelled the rule otherwise
    (``--dport=80``, ``--dpo 80``): what iptables read, and what the user wrote."""
    from hairpin.parsers.iptables_save import format_rule

    text = format_rule(rule)
    own = respelled(rule)
    return text if own is None or own.split() == text.split() else f"{text} (written: {own})"


def respelled(rule: Rule) -> str | None:
    """The rule's own words (its line without counters) when they are not iptables-save's spelling of what
    iptables reads from them (``iptables_save.rule_args`` rewrote them); None otherwise.  For showing, not
    for loading."""
    from hairpin.parsers import iptables_save

    body = rule.source.strip()
    if rule.table == "nft" or not body:
        return None
    if body.startswith("["):
        body = body[body.find("]") + 1 :].strip()
    try:
        tokens = iptables_save.tokenize(body)
        if ("-c", False) in tokens:  # iptables -S -c: "-c PACKETS BYTES" is not part of the rule
            j = tokens.index(("-c", False))
            tokens = tokens[:j] + tokens[j + 3 :]
        if len(tokens) < 2 or tokens[0][0] not in ("-A", "--append", "-I", "--insert"):
            return body if tokens and tokens[0][0][:2] in ("-A", "-I", "--") else None
        if needs(tokens):
            return body
        args = iptables_save.parse_rule_args(tokens[2:], rule.table, rule.chain)
        several = any(not m.module and o.name in ("-s", "-d") and "," in o.value for m in args[0] for o in m.options)
        return body if several or iptables_save._foreign(*args) else None  # -s A,B: one of its kernel rules
    except ParseError:
        return body
