"""The number of values of each option iptables_arity knows, and where ``!`` may go, held to the real
``iptables-nft-restore --test`` (iptables 1.8.9): exact error lines, every option with no value, its values,
one more and ``!`` (a table of cases), and random rules (hypothesis) that hairpin refuses exactly when the
real tool does.  The tests against the real tool need root, iptables-nft-restore, ipset and unshare; each run of
the tool is in a network namespace of its own (the host's sets and rules are never touched)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iptables_arity_cases as cases
from hairpin.errors import InputError
from hairpin.netfilter.rules import BUILTIN_CHAINS
from hairpin.parsers import forms, iptables_check
from hairpin.parsers.iptables_arity import OPTIONS

HEADS = {t: f"*{t}\n" + "".join(f":{c} ACCEPT [0:0]\n" for c in BUILTIN_CHAINS[t]) for t in ("filter", "nat", "mangle", "raw")}


def hairpin_error(table: str, rule: str) -> str | None:
    """hairpin's error line for a file holding this one rule, without "f:LINE: ", or None if it loads."""
    text = HEADS[table] + rule + "\nCOMMIT\n"
    try:
        iptables_check.check(forms.read_iptables(text, "f")[0])
    except InputError as e:
        line = HEADS[table].count("\n") + 1
        assert str(e).startswith(f"f:{line}: "), str(e)
        return str(e).split(": ", 1)[1]
    return None


@pytest.mark.parametrize(("table", "rule", "error"), [
    # found in a dump: the stray word became a second value of --comment
    ("filter", "-A INPUT -m comment --comment a INPUT -j DROP", "Bad argument `INPUT' (comment --comment takes one value)"),
    ("filter", "-A INPUT -m comment --comment a b", "Bad argument `b' (comment --comment takes one value)"),
    ("filter", "-A INPUT -m comment --comment", 'option "--comment" requires an argument (comment)'),
    # getopt gives --comment the next word, whatever it is: "-j" is the comment and DROP a stray word
    ("filter", "-A INPUT -m comment --comment -j DROP", "Bad argument `DROP' (comment --comment takes one value)"),
    ("filter", "-A INPUT -m comment --comment ! x", "Bad argument `x' (comment --comment takes one value)"),
    ("filter", "-A INPUT -m comment ! --comment x", 'comment: option "--comment" cannot be inverted'),
    ("filter", "-A INPUT -p tcp -m tcp --dport ! 80", "Bad argument `80' (tcp --dport takes one value)"),
    ("filter", "-A INPUT -p tcp --syn x -j DROP", "Bad argument `x' (tcp --syn takes no value)"),
    ("filter", "-A INPUT -p tcp -m tcp --tcp-flags SYN", "--tcp-flags requires two args. (tcp)"),
    ("filter", "-A INPUT -m set --match-set s -5 -j DROP", "--match-set requires two args. (set)"),
    ("filter", "-A INPUT -m set --match-set s src dst -j DROP", "Bad argument `dst' (set --match-set takes two values)"),
    ("filter", "-A INPUT -m recent --set x --name a", "Bad argument `x' (recent --set takes no value)"),
    ("filter", "-A INPUT -m physdev --physdev-is-bridged 1 -j ACCEPT", "Bad argument `1' (physdev --physdev-is-bridged takes no value)"),
    ("filter", "-A INPUT -j REJECT --reject-with", 'option "--reject-with" requires an argument (REJECT)'),
    ("filter", "-A INPUT -j ACCEPT --foo", 'unknown option "--foo": -j ACCEPT takes no options'),
    ("nat", "-A POSTROUTING -j MASQUERADE --random-fully x", "Bad argument `x' (MASQUERADE --random-fully takes no value)"),
    ("nat", "-A PREROUTING -p tcp -j DNAT --to-destination 1.2.3.4:80 --random 2", "Bad argument `2' (DNAT --random takes no value)"),
    ("nat", "-A POSTROUTING -j SNAT --to-source 1.2.3.4 5.6.7.8", "Bad argument `5.6.7.8' (SNAT --to-source takes one value)"),
    ("mangle", "-A PREROUTING -j MARK ! --set-xmark 0x1", 'MARK: option "--set-xmark" cannot be inverted'),
    ("filter", "-A INPUT -p tcp -m tcp --tcp-flags ! SYN,ACK SYN -j DROP",
     "`!' is not a negation after --tcp-flags: iptables takes it as the value (tcp; write ! --tcp-flags)"),
    ("filter", "-A INPUT ! -j DROP", "'!' before -j in rule for chain INPUT (iptables negates options, not targets)"),
    ("filter", "-A INPUT ! -m comment --comment a -j DROP",
     "'!' before -m in rule for chain INPUT (iptables negates options, not matches)"),
    ("filter", "-A INPUT -g INPUT --foo 1", 'unknown option "--foo": -g INPUT takes no options'),
])  # fmt: skip
def test_wrong_counts_are_refused_as_iptables_restore_refuses_them(table: str, rule: str, error: str) -> None:
    assert hairpin_error(table, rule) == error


@pytest.mark.parametrize(("table", "rule"), [
    ("filter", "-A INPUT -m comment --comment --syn -j DROP"),  # the comment is "--syn"
    ("filter", "-A INPUT -m comment --comment ! -j DROP"),  # the comment is "!"
    ("filter", "-A INPUT -p tcp -m tcp --syn ! --dport 80 -j DROP"),  # "!" negates the next option
    ("filter", '-A INPUT -p tcp -m comment --comment "a b" -m tcp ! --tcp-flags SYN,ACK SYN -j DROP'),
    ("filter", "-A INPUT -m time --timestart 1 2 3 -j DROP"),  # a module iptables_arity does not know: as written
])  # fmt: skip
def test_right_counts_and_unknown_options_load(table: str, rule: str) -> None:
    assert hairpin_error(table, rule) is None


def test_iptables_dash_s_is_held_to_the_same_counts() -> None:
    """``iptables -S`` text goes through the same rule reader: the same refusal, at its own line."""
    text = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -m comment --comment a INPUT -j DROP\n"
    rs, _ = forms.read_iptables(text, "s", "filter")
    with pytest.raises(InputError, match=r"^s:4: Bad argument `INPUT' \(comment --comment takes one value\)$"):
        iptables_check.check(rs)


def test_every_option_has_a_case() -> None:
    have = {(k.split("-")[0], o) for tab in (cases.M, cases.T) for k, (_, _, _, opts) in tab.items() for o in opts}
    assert have == {(owner, o) for owner, opts in OPTIONS.items() for o in opts}
    assert len(have) == 180


# ------------------------------------------------------------------------------------------ the real tool


RESTORE = "iptables-nft-restore"
pytestmark_real = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(x) for x in (RESTORE, "ipset", "unshare")),
    reason="needs root, iptables-nft-restore, ipset and unshare",
)


def real_error(table: str, rule: str) -> str | None:
    """iptables-nft-restore --test on a file holding this one rule, in a new network namespace holding only
    the set the cases name: its first error line, or None."""
    script = f"ipset create {cases.SET} hash:ip && exec {RESTORE} --test"
    p = subprocess.run(["unshare", "--net", "sh", "-c", script], input=HEADS[table] + rule + "\nCOMMIT\n",
                       text=True, capture_output=True, check=False)  # fmt: skip
    if p.returncode == 0:
        return None
    return (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[0]


def rule_of(kind: str, key: str, opt: str, words: str, companion: str, neg: bool = False, first: bool = False) -> str:
    """The rule of a case (see iptables_arity_cases), its option followed by ``words``; ``first`` puts a
    match's companion first (an option short of its value takes the next word: not the companion's)."""
    _, chain, before, _ = (cases.M if kind == "m" else cases.T)[key]
    owner = key.split("-")[0]
    o = " ".join(x for x in ("!" if neg else "", opt, words) if x)
    if kind == "t":
        return " ".join(x for x in (f"-A {chain}", before, f"-j {owner}", companion, o) if x)
    if companion.startswith("^") or first:
        companion = companion.removeprefix("^")
        return " ".join(x for x in (f"-A {chain}", before, f"-m {owner}", companion, o, "-j ACCEPT") if x)
    return " ".join(x for x in (f"-A {chain}", before, f"-m {owner}", o, companion, "-j ACCEPT") if x)


CASES = [(kind, key, opt, vals, comp) for kind, tab in (("m", cases.M), ("t", cases.T))
         for key, (_, _, _, opts) in tab.items() for opt, (vals, comp) in opts.items()]  # fmt: skip


@pytestmark_real
@pytest.mark.parametrize(("kind", "key", "opt", "vals", "comp"), CASES, ids=[f"{c[1]}{c[2]}" for c in CASES])
def test_each_option_against_the_real_tool(kind: str, key: str, opt: str, vals: str, comp: str) -> None:
    """The option with its values loads; with one value more, one fewer (none) or ``!`` before it, hairpin
    refuses it exactly when iptables-nft-restore --test does; the count is the one iptables_arity gives."""
    table = (cases.M if kind == "m" else cases.T)[key][0]
    n, invertible = OPTIONS[key.split("-")[0]][opt]
    assert len(vals.split()) == n
    forms_ = [vals, vals + " zz", " ".join(vals.split()[:-1])] if vals else [vals, "zz"]
    for words in forms_:
        rule = rule_of(kind, key, opt, words, comp, first=len(words) < len(vals))
        real, ours = real_error(table, rule), hairpin_error(table, rule)
        assert (real is None) == (ours is None) == (words == vals), (rule, real, ours)
    rule = rule_of(kind, key, opt, vals, comp, neg=True)
    real, ours = real_error(table, rule), hairpin_error(table, rule)
    assert (real is None) == (ours is None) == invertible, (rule, real, ours)


#: options whose value is any text (the others' values are checked by iptables, not all by hairpin)
FREE = {("comment", "--comment"), ("LOG", "--log-prefix"), ("NFLOG", "--nflog-prefix"), ("recent", "--name"),
        ("hashlimit", "--hashlimit-name")}


@st.composite
def arity_rules(draw: st.DrawFn) -> tuple[str, str]:
    """(table, rule): one known option with a value count around its own, maybe negated (before the option,
    or between it and its values, which iptables 1.8 does not read as a negation), maybe a stray word or a
    word that looks like an option as the value of an option that takes any text (getopt gives it the next
    word, whatever it is)."""
    kind, key, opt, vals, comp = draw(st.sampled_from(CASES))
    n = len(vals.split())
    count = draw(st.sampled_from([n, n, n, max(n - 1, 0), n + 1, n + 2]))
    fill = draw(st.sampled_from(["zz", "1", "!", "-5", '"a b"']))
    words = (vals.split() + [fill] * count)[:count]
    if (key, opt) in FREE and draw(st.booleans()):
        words = [draw(st.sampled_from(["--syn", "-j", "--x", "!", "-5", "--comment"]))]  # a value, as getopt reads it
    elif draw(st.booleans()) and words:
        words.insert(0, "!")
    if draw(st.integers(0, 3)) == 0 and count >= n:
        words.append(draw(st.sampled_from(["!", "zz", "1"])))
    rule = rule_of(kind, key, opt, " ".join(words), comp, neg=draw(st.integers(0, 3)) == 0, first=True)
    return (cases.M if kind == "m" else cases.T)[key][0], rule


@pytestmark_real
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arity_rules())
def test_hairpin_refuses_exactly_what_iptables_restore_refuses(case: tuple[str, str]) -> None:
    table, rule = case
    real, ours = real_error(table, rule), hairpin_error(table, rule)
    assert (real is None) == (ours is None), (rule, real, ours)
