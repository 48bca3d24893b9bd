"""The forms of a rule file's lines besides a plain ``-A`` (``-I CHAIN NUM``, ``-D``, ``-R``, ``-N``, ``-P``, ``-F``,
``-X``, ``-Z``, ``-c``/``--set-counters``, ``-6``, clustered short options), held to iptables-nft-restore 1.8.9:
exact chain contents and refusals, and a differential property test that loads generated files with the real
``iptables-nft-restore`` in a private network namespace and reads them back with ``iptables-nft-save`` (root,
the binaries and unshare needed; the host's rules are never touched)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin.errors import ParseError
from hairpin.netfilter.rules import Ruleset
from hairpin.parsers import iptables_check, iptables_commands, iptables_save

HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:X - [0:0]\n:Y - [0:0]\n"


def load(body: str) -> Ruleset:
    rs = iptables_save.parse(HEAD + body + "\nCOMMIT\n", "f")
    iptables_check.check(rs)
    return rs


def chain(body: str, name: str = "X") -> list[str]:
    """The chain's rules as iptables-save prints them, in order (their indexes checked)."""
    rules = load(body).tables["filter"].chains[name].rules
    assert [r.index for r in rules] == list(range(1, len(rules) + 1))
    return [iptables_save.format_rule(r) for r in rules]


def error(body: str) -> str:
    with pytest.raises(ParseError) as e:
        load(body)
    return str(e.value)


LOADED = " (when the file is loaded; iptables-restore --test does not see it)"


# ------------------------------------------------------------------------------------------ exact readings


def test_insert_at_a_position_goes_where_the_kernel_puts_it() -> None:
    # iptables-nft-restore 1.8.9 + iptables-nft-save: 6.6.6.6, 5.5.5.5, 1.1.1.1, 3.3.3.3, 2.2.2.2, 4.4.4.4
    assert chain("-A X -s 1.1.1.1/32 -j DROP\n-A X -s 2.2.2.2/32 -j DROP\n-I X 2 -s 3.3.3.3/32 -j DROP\n"
                 "-I X 4 -s 4.4.4.4/32 -j DROP\n-I X -s 5.5.5.5/32 -j DROP\n-I X 1 -s 6.6.6.6/32 -j DROP") == [
        "-A X -s 6.6.6.6/32 -j DROP", "-A X -s 5.5.5.5/32 -j DROP", "-A X -s 1.1.1.1/32 -j DROP",
        "-A X -s 3.3.3.3/32 -j DROP", "-A X -s 2.2.2.2/32 -j DROP", "-A X -s 4.4.4.4/32 -j DROP"]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), [
    ("-A X -j DROP\n-I X 3 -j DROP", "f:8: Index of insertion too big: -I X 3, chain X has 1 rule" + LOADED),
    ("-I X 2 -j DROP", "f:7: Index of insertion too big: -I X 2, chain X has 0 rules" + LOADED),
    ("-I X 0 -j DROP", "f:7: Invalid rule number `0'"),
    ("-I X 1x -j DROP", "f:7: Invalid rule number `1x'"),
    ("-I X 1 2 -j DROP", "f:7: Bad argument `2'"),
    ("-A X -j DROP\n-D X 2", "f:8: Index of deletion too big: -D X 2, chain X has 1 rule" + LOADED),
    ("-A X -j DROP\n-D X -s 9.9.9.9/32 -j ACCEPT",
     "f:8: Bad rule (does a matching rule exist in that chain?): -D X" + LOADED),
    ("-A X -j DROP\n-D X 1 -j DROP", "f:8: Illegal option `-j' with this command"),
    ("-A X -j DROP\n-R X 2 -j DROP", "f:8: Index of replacement too big: -R X 2, chain X has 1 rule" + LOADED),
    ("-R X -j DROP", "f:7: -R requires a rule number"),
    ("-R X 1 -s 1.1.1.1,2.2.2.2 -j DROP", "f:7: Replacement rule does not specify a unique address"),
    ("-A X ! -s 1.1.1.1,2.2.2.2 -j DROP", "f:7: ! not allowed with multiple source or destination IP addresses"),
    ("-I X ! -d 1.1.1.1,2.2.2.2 -j DROP", "f:7: ! not allowed with multiple source or destination IP addresses"),
    ("-A X -s 1.1.1.1, -j DROP", "f:7: host/network `' not found"),
    ("-A X -j DROP -c 5", "f:7: -c requires packet and byte counter"),
    ("-A X -j DROP -c 5 -6", "f:7: -c requires packet and byte counter"),
    ("-A X -j DROP -c x 6", "f:7: -c packet counter not numeric"),
    ("-A X -j DROP -c 5 y", "f:7: -c byte counter not numeric"),
    ("-A X -j DROP ! -c 5 6", "f:7: cannot have ! before -c"),
    ("-D X -c 1 2 -j DROP", "f:7: Illegal option `-c' with this command"),
    ("-A X -fptcp -j DROP", 'f:7: unknown protocol "-fptcp" specified'),
    ("-A X -ff -j DROP", "f:7: multiple -f flags not allowed"),
    ("-A X -fn -j DROP", "f:7: Illegal option `-n' with this command"),
    ("-A X -x -j DROP", "f:7: Illegal option `-x' with this command"),
    ("-A X --ipv -j DROP",
     "f:7: unknown option \"--ipv\" (iptables' getopt_long: a prefix of --ipv4 (iptables), --ipv6 (iptables))"),
    ("-A X -t nat -j DROP", "f:7: The -t option cannot be used in iptables-restore."),
    ("-A X -I Y -j DROP", "f:7: Cannot use -I with -A"),
    ("! -A X -j DROP", "f:7: unexpected '!' flag"),
    ("-N Z extra", "f:7: Bad argument `extra'"),
    ("-N X", "f:7: Chain already exists: -N X" + LOADED),
    ("-N DNAT", "f:7: chain name may not clash with target name"),
    ("-P X DROP", "f:7: Bad built-in chain name: -P X" + LOADED),
    ("-P INPUT FOO", "f:7: Bad policy name: -P INPUT FOO" + LOADED),
    ("-F Z", "f:7: No chain/target/match by that name: -F Z" + LOADED),
    ("-A Y -j DROP\n-X Y", "f:8: CHAIN_DEL failed (Device or resource busy): chain Y (it holds rules or a rule jumps "
     "to it; when the file is loaded; iptables-restore --test does not see it)"),
    ("-A INPUT -j X\n-X X", "f:8: CHAIN_DEL failed (Device or resource busy): chain X (it holds rules or a rule jumps "
     "to it; when the file is loaded; iptables-restore --test does not see it)"),
    ("-Z Q", "f:7: Bad built-in chain name: -Z Q, no such chain" + LOADED),
])  # fmt: skip
def test_refusals_in_iptables_words(body: str, message: str) -> None:
    assert error(body) == message


@pytest.mark.parametrize(("body", "message"), [
    ("-F", "f:7: -F with no chain: iptables-nft-restore 1.8.9 keeps the rules the file added before it, "
     "iptables-legacy-restore removes them: not read by hairpin"),
    ("-E X Z", "f:7: -E (renaming a chain): iptables-nft-restore 1.8.9 fails on it in a rule file (CHAIN_RENAME "
     "failed), iptables-legacy-restore renames: not read by hairpin"),
    ("-C X -j DROP", "f:7: -C (checking for a rule): not read by hairpin"),
    ("-V", "f:7: -V: not an option of a rule line (iptables-restore prints its version and stops): not read by "
     "hairpin"),
    ("-A X -s localhost -j DROP\n-D X -s 127.0.0.1 -j DROP",
     "f:8: -D X: hairpin cannot tell whether the rule of line 7 is the one it deletes (iptables compares rules "
     "after reading their values); delete by number (-D X 1) or write the rule as iptables-save prints it"),
    ("-A X -p tcp -m time --timestart 1 -c 1 2 -j DROP",
     "f:7: -c after an option whose extension hairpin does not know: not read by hairpin"),
])  # fmt: skip
def test_forms_hairpin_does_not_model_are_refused_in_one_line(body: str, message: str) -> None:
    assert error(body) == message


@pytest.mark.parametrize(("body", "rules"), [
    ("-A X -j DROP -c 5 6", ["-A X -j DROP"]),
    ("-A X -fp tcp -j DROP", ["-A X -f -p tcp -j DROP"]),
    ("-A X -fj DROP", ["-A X -f -j DROP"]),
    ("-A X -f4 -j DROP", ["-A X -f -j DROP"]),
    ("-A X -4f -j DROP", ["-A X -f -j DROP"]),
    ("-A X -fv -j DROP", ["-A X -f -j DROP"]),
    ("-A X -fs 1.2.3.4 -j DROP", ["-A X -f -s 1.2.3.4 -j DROP"]),
    ("-IX -j DROP", ["-A X -j DROP"]),
    ("--insert=X 1 -j DROP", ["-A X -j DROP"]),
    ("-I X +1 -j DROP", ["-A X -j DROP"]),
    ("-A X -j DROP\n-I X 0x2 -j ACCEPT", ["-A X -j DROP", "-A X -j ACCEPT"]),
    ("-A X -s 1.1.1.1/32 -j DROP\n-A X -s 2.2.2.2/32 -j DROP\n-A X -s 1.1.1.1/32 -j DROP\n-D X -s 1.1.1.1/32 -j DROP",
     ["-A X -s 2.2.2.2/32 -j DROP", "-A X -s 1.1.1.1/32 -j DROP"]),
    ("-A X -s 1.1.1.1/32 -j DROP\n-A X -s 2.2.2.2/32 -j DROP\n-D X 1", ["-A X -s 2.2.2.2/32 -j DROP"]),
    ("-A X -j DROP\n-F X\n-A X -j ACCEPT", ["-A X -j ACCEPT"]),
    ("-I X -j DROP\n-I X -j RETURN\n-D X 1\n-I X 2 -j ACCEPT", ["-A X -j DROP", "-A X -j ACCEPT"]),
    ("-A X -j DROP -6", []),
    ("-A X -f6 -j DROP", []),
    ("-6 -A X -j DROP", []),
    ("-A X -j DROP -6 --bogus", []),
    ("-A X -m comment --comment -c -j DROP", ["-A X -m comment --comment -c -j DROP"]),
    # one kernel rule per address pair, sources outermost; an insert's in reverse (checked with iptables-nft-restore)
    ("-A X -s 10.9.9.9/8,1.1.1.1 -d 3.3.3.3,2.2.0.0/16 -j RETURN",
     ["-A X -s 10.9.9.9/8 -d 3.3.3.3 -j RETURN", "-A X -s 10.9.9.9/8 -d 2.2.0.0/16 -j RETURN",
      "-A X -s 1.1.1.1 -d 3.3.3.3 -j RETURN", "-A X -s 1.1.1.1 -d 2.2.0.0/16 -j RETURN"]),
    ("-A X -j ACCEPT\n-I X -s 3.3.3.3,4.4.4.4 -d 5.5.5.5,6.6.6.6 -j DROP\n-I X 2 -s 7.7.7.7,8.8.8.8 -j DROP",
     ["-A X -s 4.4.4.4 -d 6.6.6.6 -j DROP", "-A X -s 8.8.8.8 -j DROP", "-A X -s 7.7.7.7 -j DROP",
      "-A X -s 4.4.4.4 -d 5.5.5.5 -j DROP", "-A X -s 3.3.3.3 -d 6.6.6.6 -j DROP",
      "-A X -s 3.3.3.3 -d 5.5.5.5 -j DROP", "-A X -j ACCEPT"]),
    ("-A X -s 1.1.1.1,1.1.1.1 -j DROP", ["-A X -s 1.1.1.1 -j DROP", "-A X -s 1.1.1.1 -j DROP"]),
    ("-A X -s 1.1.1.1,2.2.2.2 -j DROP\n-D X 1", ["-A X -s 2.2.2.2 -j DROP"]),
    ("-A X -s 1.1.1.1 -j DROP\n-D X -s 1.1.1.1/32 -j DROP", []),
    ("-A X -s 10.9.9.9/8 -j DROP\n-A X -s 2.2.2.2 -j DROP\n-D X -s 2.2.2.2/32 -j DROP", ["-A X -s 10.9.9.9/8 -j DROP"]),
    ("-A X -s 1.1.1.1,2.2.2.2,3.3.3.3 -j DROP\n-D X -s 3.3.3.3,1.1.1.1 -j DROP", ["-A X -s 2.2.2.2 -j DROP"]),
])  # fmt: skip
def test_chain_contents(body: str, rules: list[str]) -> None:
    assert chain(body) == rules


def test_counters_and_zeroing() -> None:
    rs = load("-A X -j DROP -c 5 6\n-A X -j ACCEPT --set-counters=7,8\n-A X -j RETURN -c -5 6")
    assert [r.counters for r in rs.rules()] == [(5, 6), (7, 8), (2**64 - 5, 6)]  # sscanf %llu wraps a minus
    assert [r.counters for r in load("-A X -j DROP\n-Z X").rules()] == [None]
    assert [r.counters for r in load("-A X -j DROP -c 5 6\n-Z X 2").rules()] == [(5, 6)]  # no rule 2: nothing zeroed


@pytest.mark.parametrize(("body", "message"), [
    # iptables-nft-restore 1.8.9 sends a zeroed chain again as its cache holds it (tests/test_iptables_forms.py's
    # differential test found these; measured in a namespace, kernel 6.18.44)
    ("-A X -j DROP -c 5 6\n-Z X", "f:8: RULE_REPLACE failed (Invalid argument): rule in chain X (-Z of a rule that "
     "carries counters; when the file is loaded; iptables-restore --test does not see it)"),
    ("-A X -j DROP -c 5 6\n-Z X 1", "f:8: -Z X 1: iptables-nft-restore 1.8.9 crashes (segmentation fault, nothing "
     "loaded) zeroing a rule that carries counters" + LOADED),
    ("-P INPUT DROP\n-Z INPUT", "f:8: -Z INPUT: iptables-nft-restore 1.8.9 puts back the policy built-in chain INPUT "
     "had before this file, which hairpin cannot tell (the file's own DROP is lost)"),
    ("-Z", "f:7: -Z INPUT: iptables-nft-restore 1.8.9 puts back the policy built-in chain INPUT had before this file, "
     "which hairpin cannot tell (the file's own ACCEPT is lost)"),
])  # fmt: skip
def test_zeroing_what_iptables_nft_restore_sends_again_is_refused(body: str, message: str) -> None:
    with pytest.raises(ParseError) as e:
        load(body)
    assert str(e.value) == message


def test_chains_policies_and_warnings() -> None:
    rs = load("-N Z\n-A Z -j DROP\n-P INPUT DROP\n-X Y\n-A X -j DROP -6\n-A X -j RETURN\n-R X 1 -j ACCEPT")
    t = rs.tables["filter"]
    assert list(t.chains) == ["INPUT", "FORWARD", "OUTPUT", "X", "Z"]
    assert t.chains["INPUT"].policy == "DROP"
    assert [iptables_save.format_rule(r) for r in rs.rules()] == ["-A X -j ACCEPT", "-A Z -j DROP"]
    assert rs.warnings == [
        "f:11: -6 (an ip6tables rule): iptables-restore (IPv4) skips the line, as hairpin does",
        "f:13: -R X 1: read as iptables-legacy-restore and iptables 1.8.9 replace the rule; iptables-nft-restore "
        "1.8.9 crashes on a replace (segmentation fault) and loads nothing",
    ]


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("+1", 1), ("010", 8), ("0x10", 16), (" 3", 3), ("2147483647", 2147483647)])
def test_rule_numbers_are_read_as_strtoumax_base_0(text: str, value: int) -> None:
    assert iptables_commands.rule_number(text, "f", 1) == value


@pytest.mark.parametrize("text", ["0", "-1", "2147483648", "1x", "", "08", "0x"])
def test_bad_rule_numbers(text: str) -> None:
    with pytest.raises(ParseError):
        iptables_commands.rule_number(text, "f", 1)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list(" +-0123456789xX")), max_size=8))
def test_counter_is_sscanf_llu(text: str) -> None:
    got = iptables_commands.counter(text)
    s = text.lstrip()
    sign = s[:1] if s[:1] in "+-" else ""
    digits = s[len(sign):][: len(s[len(sign):]) - len(s[len(sign):].lstrip("0123456789"))]
    if not digits:
        assert got is None
    else:
        v = min(int(digits), 2**64 - 1)
        assert got == ((-v) % 2**64 if sign == "-" else v)


# ------------------------------------------------------------------------------------------ the real tool

RESTORE, SAVE = "iptables-nft-restore", "iptables-nft-save"
real = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(x) for x in (RESTORE, SAVE, "unshare")),
    reason="needs root, iptables-nft-restore, iptables-nft-save and unshare",
)


def _real(text: str) -> tuple[int, str, str]:
    p = subprocess.run(["unshare", "--net", "sh", "-c", f"{RESTORE} && exec {SAVE}"], input=text, text=True,
                       capture_output=True, check=False)  # fmt: skip
    return p.returncode, p.stdout, p.stderr


def _contents(rs: Ruleset) -> dict[str, tuple[str | None, list[str]]]:
    t = rs.tables["filter"]
    return {c.name: (c.policy, [" ".join(sorted(iptables_save.format_rule(r).split())) for r in c.rules])
            for c in t.chains.values()}  # fmt: skip


RULES = ["-s 10.0.0.1/32 -j DROP", "-p tcp -m tcp --dport 80 -j ACCEPT", "-d 10.0.0.2/32 -j Y", "-j RETURN",
         "-p udp -f -j DROP", "-s 10.0.0.1/32,10.0.0.3/32 -d 10.0.0.2/32,10.0.0.4/32 -j DROP"]  # fmt: skip
CHAINS = ["INPUT", "X", "Y", "Z"]


@st.composite
def line(draw: st.DrawFn) -> str:
    c = draw(st.sampled_from(CHAINS))
    rule = draw(st.sampled_from(RULES))
    n = draw(st.integers(1, 4))
    form = draw(st.sampled_from(["-A", "-A", "-I", "-I n", "-D n", "-D r", "-F", "-N", "-X", "-Z", "-P", "-c", "-6",
                                 "-fp"]))  # fmt: skip
    return {"-A": f"-A {c} {rule}", "-I": f"-I {c} {rule}", "-I n": f"-I {c} {n} {rule}", "-D n": f"-D {c} {n}",
            "-D r": f"-D {c} {rule}", "-F": f"-F {c}", "-N": f"-N {c}", "-X": f"-X {c}", "-Z": f"-Z {c}",
            "-P": f"-P {c} DROP", "-c": f"-A {c} {rule} -c {n} {n * 10}", "-6": f"-A {c} {rule} -6",
            "-fp": f"-A {c} -fp tcp -j ACCEPT"}[form]  # fmt: skip


@real
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(line(), min_size=1, max_size=8))
def test_rule_files_with_these_forms_load_as_iptables_nft_restore_loads_them(lines: list[str]) -> None:
    """A file of these forms: where hairpin reads it, the real tool loads it and iptables-nft-save prints back
    the chains hairpin holds, rule for rule; where hairpin refuses it in iptables' words, the real tool refuses
    it too (hairpin's refusals of what it does not model are not compared)."""
    text = HEAD + "".join(x + "\n" for x in lines) + "COMMIT\n"
    try:
        mine = iptables_save.parse(text, "f")
        iptables_check.check(mine)
    except ParseError as e:
        if "not read by hairpin" in e.message or "hairpin cannot tell" in e.message or "not modelled" in e.message:
            return
        code, _, err = _real(text)
        assert code != 0, (text, e.message)
        return
    code, out, err = _real(text)
    assert code == 0, (text, err)
    theirs = iptables_save.parse("".join(x + "\n" for x in out.splitlines() if not x.startswith("#")), "saved")
    assert _contents(mine) == _contents(theirs), (text, out)


@real
def test_a_replace_crashes_iptables_nft_restore_1_8_9() -> None:
    """What the -R warning says: iptables-nft-restore 1.8.9 crashes on a replace of a rule that exists."""
    code, _, _ = _real(HEAD + "-A X -j DROP\n-R X 1 -j ACCEPT\nCOMMIT\n")
    version = subprocess.run([RESTORE, "--version"], capture_output=True, text=True, check=False).stdout
    if "v1.8.9" not in version:
        pytest.skip(f"not iptables 1.8.9: {version.strip()}")
    assert code == 139  # sh reports a segmentation fault as 128 + 11


def test_several_addresses_in_iptables_s_text_make_one_rule_per_pair() -> None:
    """Hand-written ``iptables -S`` text with ``-s A,B``: read as iptables would load it, one rule per address."""
    from hairpin.parsers import forms

    text = "-P PREROUTING ACCEPT\n-A PREROUTING -s 10.1.1.1,10.2.2.2 -p tcp -j DNAT --to-destination 10.3.3.3:80\n"
    rs, _ = forms.read_iptables(text, "nat-S", "nat")
    rules = rs.tables["nat"].chains["PREROUTING"].rules
    assert [(iptables_save.format_rule(r), r.index, r.line) for r in rules] == [
        ("-A PREROUTING -s 10.1.1.1 -p tcp -j DNAT --to-destination 10.3.3.3:80", 1, 2),
        ("-A PREROUTING -s 10.2.2.2 -p tcp -j DNAT --to-destination 10.3.3.3:80", 2, 2),
    ]


# ------------------------------------------------------------------------------ dumps that say they are not whole

LEGACY = "# Warning: iptables-legacy tables present, use iptables-legacy-save to see them"


@pytest.mark.parametrize(("comment", "warning"), [
    (LEGACY, "iptables-nft-save says iptables-legacy tables are present: their rules act on every packet too, and "
             "they are not in this file (hairpin traces only the rules it is given); run iptables-legacy-save on the "
             "node to see them"),
    ("# Warning: iptables-legacy tables present, use iptables-legacy to see them", None),
    ("# Table `nat' contains incompatible base-chains, use 'nft' tool to list them.",
     "iptables-nft-save says table nat has base chains it cannot show (another program wrote them with nft): their "
     "rules act on packets and are not in this file; nft list table ip nat shows them"),
    ("# Table `filter' is incompatible, use 'nft' tool.",
     "iptables-nft-save left table filter out (it holds rules iptables cannot show): none of that table's rules are "
     "in this file or traced; nft list table ip filter shows them"),
    ("# Generated by iptables-nft-save v1.8.9 (nf_tables) on Wed Dec  2 03:26:20 2026", "-"),
])  # fmt: skip
def test_comments_saying_rules_were_left_out(comment: str, warning: str | None) -> None:
    got = iptables_check.hidden_rules(comment)
    if warning is None:  # what `iptables -S` prints to stderr: the same warning in other words
        assert got is not None and got.startswith("iptables-nft-save says iptables-legacy tables are present")
    elif warning == "-":
        assert got is None
    else:
        assert got == warning


def test_a_dump_that_says_rules_were_left_out_is_traced_with_a_warning_naming_the_line() -> None:
    text = (f"{LEGACY}\n*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n"
            "# Table `filter' contains incompatible base-chains, use 'nft' tool to list them.\n"
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n")  # fmt: skip
    rs = iptables_save.parse(text, "node.txt")
    assert [w.split(": iptables-nft-save")[0] for w in rs.warnings] == ["node.txt:1", "node.txt:5"]
    assert [iptables_save.format_rule(r) for r in rs.rules()] == ["-A INPUT -j ACCEPT"]


@real
def test_iptables_nft_save_writes_the_base_chain_comment() -> None:
    """The comment's words, as iptables-nft-save writes them when nft added a base chain to its table."""
    p = subprocess.run(["unshare", "--net", "sh", "-c", "iptables-nft -t nat -A PREROUTING -j ACCEPT && nft add chain "
                        "ip nat other '{ type nat hook prerouting priority -50; }' && exec iptables-nft-save"],
                       capture_output=True, text=True, check=False)  # fmt: skip
    if p.returncode != 0 or not shutil.which("nft"):
        pytest.skip(f"nft could not add the chain: {p.stderr.strip()}")
    rs = iptables_save.parse(p.stdout, "saved")
    assert [w.split(": ", 1)[1] for w in rs.warnings] == [iptables_check.hidden_rules(
        "# Table `nat' contains incompatible base-chains, use 'nft' tool to list them.")]  # fmt: skip
