"""Rule words spelled as iptables' getopt_long reads them (``--dport=80``, ``--dpo 80``, ``-AINPUT``...),
held to iptables 1.8.9: exact readings and refusals, a trace end to end, and a differential property test
against the real ``iptables-nft-restore``/``iptables-nft-save`` in a private network namespace (root,
the binaries and unshare needed; the host's rules and sets are never touched)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin.cli.main import main
from hairpin.errors import ParseError
from hairpin.netfilter.rules import Rule
from hairpin.parsers import forms, iptables_check, iptables_getopt, iptables_save

HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:X - [0:0]\n"


def rule(body: str) -> Rule:
    """hairpin's reading of a filter rule (the line after HEAD: line 6)."""
    return iptables_save.parse(HEAD + body + "\nCOMMIT\n", "f").rules()[0]


def error(body: str) -> str:
    with pytest.raises(ParseError) as e:
        rule(body)
    assert e.value.file == "f" and e.value.line == 6, str(e.value)
    return e.value.message


_ALIAS = {"--destination-port": "--dport", "--source-port": "--sport", "--destination-ports": "--dports",
          "--source-ports": "--sports"}  # fmt: skip


def meaning(r: Rule) -> tuple[object, ...]:
    """What iptables takes from a rule: the built-in options (in any order), the matches in order with
    their options (in any order, aliases as iptables-save names them), the target with its options;
    not the text nor whether a value was quoted."""
    def opts(options: tuple[object, ...]) -> list[tuple[str, tuple[str, ...], bool]]:
        return sorted((_ALIAS.get(o.name, o.name), o.values, o.negated) for o in options)  # type: ignore[attr-defined]

    builtins = sorted(o for m in r.matches if m.module == "" for o in opts(m.options))
    matches = [(m.module, opts(m.options)) for m in r.matches if m.module]
    target = None if r.target is None else (r.target.name, r.target.goto, opts(r.target.options))
    return (r.chain, builtins, matches, target)


# ------------------------------------------------------------------------------------------ exact readings


@pytest.mark.parametrize(("written", "canonical"), [
    # every line checked with iptables-nft-restore 1.8.9 + iptables-nft-save (the right-hand side is its output)
    ("-A INPUT -p tcp -m tcp --dport=80 -j DROP", "-A INPUT -p tcp -m tcp --dport 80 -j DROP"),
    ("-A INPUT -p tcp -m tcp --dpo 80 -j DROP", "-A INPUT -p tcp -m tcp --dport 80 -j DROP"),
    ("-A INPUT -p tcp --dpo 80 -j DROP", "-A INPUT -p tcp -m tcp --dport 80 -j DROP"),
    ("-AINPUT -p tcp -mtcp --dport 80 -j DROP", "-A INPUT -p tcp -m tcp --dport 80 -j DROP"),
    ("-A INPUT -p tcp -m tcp ! --dpo 80 -j DROP", "-A INPUT -p tcp -m tcp ! --dport 80 -j DROP"),
    ("-A INPUT -p tcp -m tcp --sy", "-A INPUT -p tcp -m tcp --syn"),  # saved as --tcp-flags FIN,SYN,RST,ACK SYN
    ("-A INPUT -p tcp -m multiport --dpo 80", "-A INPUT -p tcp -m multiport --dports 80"),
    ("-A INPUT -p tcp -m tcp -m tcp --dpo 80", "-A INPUT -p tcp -m tcp -m tcp --dport 80"),
    ("-A INPUT --so 10.0.0.1/32 -j DROP", "-A INPUT -s 10.0.0.1/32 -j DROP"),
    ("--append=INPUT -j DROP", "-A INPUT -j DROP"),
    ("--app INPUT --jum DROP", "-A INPUT -j DROP"),
    ("-A INPUT --goto=X", "-A INPUT -g X"),
    ("-A INPUT -gX", "-A INPUT -g X"),
    ("-A INPUT --match=tcp -p tcp --dport 80", "-A INPUT -p tcp -m tcp --dport 80"),
    ("-A INPUT -j DROP --", "-A INPUT -j DROP"),
    ("-A INPUT -4 -j DROP", "-A INPUT -j DROP"),
    ("-A INPUT --fragment -j DROP", "-A INPUT -f -j DROP"),
    ("-A INPUT -m comment --comment=-x", "-A INPUT -m comment --comment -x"),
    ("-A INPUT -m comment --comment= -j DROP", '-A INPUT -m comment --comment "" -j DROP'),
    ("-A INPUT -p tcp -j REJECT --reject-with=tcp-reset", "-A INPUT -p tcp -j REJECT --reject-with tcp-reset"),
    ("-A INPUT -p tcp -j REJECT --reject tcp-reset", "-A INPUT -p tcp -j REJECT --reject-with tcp-reset"),
    # iptables 1.8.9 reads -i's attached value as the whole word: an interface named "-ieth0"
    ("-A INPUT -ieth0 -j DROP", "-A INPUT -i -ieth0 -j DROP"),
    ("-A INPUT --in-i=eth0 -j DROP", "-A INPUT -i --in-i=eth0 -j DROP"),
    # an option of a match goes to that match, wherever it is written; -p's match is loaded where needed
    ("-A INPUT -p tcp -j DROP --dpo 80", "-A INPUT -p tcp -m tcp --dport 80 -j DROP"),
    ("-A INPUT -p tcp -m tcp --dport 80 -m comment --comment x --spo 1",
     "-A INPUT -p tcp -m tcp --sport 1 --dport 80 -m comment --comment x"),
    ("-A INPUT -p tcp -m comment --comment x --dpo 80", "-A INPUT -p tcp -m comment --comment x -m tcp --dport 80"),
    ("-A INPUT -p tcp -m comment --comment x -j DROP --dpo 80",
     "-A INPUT -p tcp -m comment --comment x -m tcp --dport 80 -j DROP"),
    ("-A INPUT -j CONNMARK --left-shift-mark 1 --set-x 0x1/0xffffffff",
     "-A INPUT -j CONNMARK --set-xmark 0x1/0xffffffff --left-shift-mark 1"),
])  # fmt: skip
def test_spellings_read_as_iptables_reads_them(written: str, canonical: str) -> None:
    r = rule(written)
    assert meaning(r) == meaning(rule(canonical))
    assert r.source == written  # the user's own line is kept


@pytest.mark.parametrize(("written", "message"), [
    # iptables-nft-restore 1.8.9's error line, then what hairpin adds in parentheses
    ("-A INPUT -p tcp -m tcp -m multiport --dpo 80 -j DROP",
     "unknown option \"--dpo\" (iptables' getopt_long: a prefix of --dports (-m multiport), --dport (-m tcp))"),
    ("-A INPUT -p tcp -m tcp --so 80",
     "unknown option \"--so\" (iptables' getopt_long: a prefix of --source (iptables), --source-port (-m tcp))"),
    ("-A INPUT --in=eth0 -j DROP",
     "unknown option \"--in=eth0\" (iptables' getopt_long: a prefix of --insert (iptables), --in-interface (iptables))"),
    ("-A INPUT --s 10.0.0.1 -j DROP", "unknown option \"--s\" (iptables' getopt_long: a prefix of --source (iptables), "
     "--src (iptables), --set-counters (iptables))"),
    ("-A INPUT -p tcp -m tcp --zzz 80 -j DROP", 'unknown option "--zzz"'),
    ("-A INPUT -m comment --comment a --frob x y -j DROP", 'unknown option "--frob"'),
    ("-A INPUT -j ACCEPT --foo", 'unknown option "--foo": -j ACCEPT takes no options'),
    ("-A INPUT -p tcp -m tcp --syn=1", 'unknown option "--syn=1" (--syn takes no value)'),
    ("-A INPUT -p tcp -m tcp --dpo", 'option "--dpo" requires an argument'),
    ("-AINPUT -ptcp -mtcp --dport 80 -jDROP", 'unknown protocol "-ptcp" specified'),
    ("-A INPUT --protocol=TCP -j DROP", 'unknown protocol "--protocol=tcp" specified'),
    ("-A INPUT -s10.0.0.1/24 -j DROP", "host/network `-s10.0.0.1' not found"),
    ("-A INPUT -s10.0.0.1,10.0.0.2 -j DROP", "host/network `-s10.0.0.1' not found"),
    ("-A INPUT --source=10.0.0.1 -j DROP", "host/network `--source=10.0.0.1' not found"),
    ("-A INPUT -jDROP", "Chain '-jDROP' does not exist"),
    ("-A INPUT --jump=DROP", "Chain '--jump=DROP' does not exist"),
    ("-A INPUT --in-interface=eth0 -j DROP", "interface name `--in-interface=eth0' must be shorter than IFNAMSIZ (15)"),
    ("-A INPUT -p tcp -- -j DROP", "unknown arguments found on commandline"),
    ("-A INPUT -p ! tcp -j DROP", 'unknown protocol "!" specified'),
    ("-A INPUT -s ! 1.2.3.4 -j DROP --x", "Bad argument `1.2.3.4'"),
    ("-A INPUT ! ! --so 1.2.3.4", "multiple consecutive ! not allowed"),
])  # fmt: skip
def test_refusals_in_iptables_words(written: str, message: str) -> None:
    assert error(written) == message


def test_a_match_whose_options_hairpin_does_not_know_leaves_the_rest_as_written() -> None:
    """-m time's options are not in iptables_arity: a prefix after it cannot be decided, so the words are
    read as before (the option as written), not guessed."""
    r = rule("-A INPUT -p tcp -m time --timest 1 -j DROP")
    assert [(m.module, [(o.name, o.values) for o in m.options]) for m in r.matches] == [
        ("", [("-p", ("tcp",))]), ("time", [("--timest", ("1",))])]
    # what came before it is read
    assert meaning(rule("-A INPUT -p tcp --dpo 80 -m time --timest 1 -j DROP"))[2][0] == ("tcp", [("--dport", ("80",), False)])


def test_needs_is_false_for_what_iptables_save_prints() -> None:
    line = ('-A KUBE-SEP-A -p tcp -m comment --comment "default/web" -m tcp -j DNAT --to-destination 10.0.1.5:8080 '
            "--random --persistent")
    assert not iptables_getopt.needs(iptables_save.tokenize(line))
    assert iptables_getopt.needs(iptables_save.tokenize("-A X -p tcp --dport=80"))
    assert not iptables_getopt.needs(iptables_save.tokenize("-A X -m comment --comment -5"))


def test_the_dport_equals_rule_is_traced_as_a_drop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules"
    rules.write_text("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport=80 -j DROP\nCOMMIT\n")
    routes = tmp_path / "routes"
    routes.write_text("10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2\n"
                      "local 10.0.0.2 dev eth0 table local proto kernel scope host src 10.0.0.2\n")  # fmt: skip
    with pytest.raises(SystemExit):
        main(["trace", "--iptables-save", str(rules), "--routes", str(routes), "tcp 10.0.0.1:1234 > 10.0.0.2:80 syn in eth0"])
    out = capsys.readouterr().out
    assert ("filter INPUT                    line 3     -A INPUT -p tcp -m tcp --dport 80 -j DROP (written: "
            "-A INPUT -p tcp -m tcp --dport=80 -j DROP)  [DROP]") in out
    assert "=> dropped in filter INPUT" in out
    assert "could not decide" not in out


@pytest.mark.parametrize(("written", "warned"), [("-ieth0", True), ("-i -ieth0", False), ("-i eth0", False),
                                               ("-oeth0", True)])  # fmt: skip
def test_an_attached_interface_is_read_as_1_8_9_reads_it_and_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str, warned: bool
) -> None:
    # iptables 1.8.9 reads "-ieth0" as the interface named "-ieth0" (the whole word; 1.8.10 reads eth0): the rule
    # loads and never matches, which hairpin does too, and says so (a file written for a newer iptables)
    rules = tmp_path / "rules"
    chain = "OUTPUT" if written.startswith("-o") else "INPUT"
    rules.write_text(f"*filter\n:{chain} ACCEPT [0:0]\n-A {chain} {written} -j DROP\nCOMMIT\n")
    routes = tmp_path / "routes"
    routes.write_text("10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2\n"
                      "local 10.0.0.2 dev eth0 table local proto kernel scope host src 10.0.0.2\n")  # fmt: skip
    packet = "tcp 10.0.0.2:1234 > 10.0.0.1:80 syn out" if chain == "OUTPUT" else "tcp 10.0.0.1:1234 > 10.0.0.2:80 syn in eth0"
    with pytest.raises(SystemExit):
        main(["trace", "--iptables-save", str(rules), "--routes", str(routes), packet])
    out = capsys.readouterr().out
    name = written.split()[-1]
    line = (f"  warning: {rules}:3: {name[:2]} {name}: iptables 1.8.9 reads an interface named '{name}' here, which no "
            f"interface is, so the rule never matches (iptables 1.8.10 and later read 'eth0'); taken as 1.8.9 reads it")
    assert (line in out.splitlines()) is warned
    assert ("dropped in filter" in out) is (written == "-i eth0")


def test_a_refusal_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules"
    rules.write_text("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp -m multiport --dpo 80 -j DROP\nCOMMIT\n")
    routes = tmp_path / "routes"
    routes.write_text("10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2\n")
    with pytest.raises(SystemExit) as e:
        main(["trace", "--iptables-save", str(rules), "--routes", str(routes), "tcp 10.0.0.1:1234 > 10.0.0.2:80 syn in eth0"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f'hairpin: error: {rules}:3: unknown option "--dpo" (iptables\' getopt_long: a prefix '
                                "of --dports (-m multiport), --dport (-m tcp))"]


# ------------------------------------------------------------------------------------------ the real tool

RESTORE, SAVE = "iptables-nft-restore", "iptables-nft-save"
real = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(x) for x in (RESTORE, SAVE, "unshare")),
    reason="needs root, iptables-nft-restore, iptables-nft-save and unshare",
)

#: rules as iptables-save prints them (kube-proxy, the AWS VPC CNI): fixed points of restore + save
TEMPLATES = {
    "nat": [
        '-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp '
        "--dport 53 -j KUBE-SVC-A",
        '-A KUBE-SVC-A -m comment --comment "default/web -> 10.0.1.5:8080" -m statistic --mode random '
        "--probability 0.50000000000 -j KUBE-SEP-A",
        '-A KUBE-SEP-A -s 10.0.1.5/32 -m comment --comment "default/web" -j KUBE-MARK-MASQ',
        '-A KUBE-SEP-A -p tcp -m comment --comment "default/web" -m tcp -j DNAT --to-destination 10.0.1.5:8080',
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE '
        "--random-fully",
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in '
        'this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
        '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web" -m tcp --dport 30080 -j KUBE-SVC-A',
        "-A AWS-SNAT-CHAIN-0 -d 10.0.0.0/16 -m comment --comment \"AWS SNAT CHAIN\" -j RETURN",
        '-A AWS-SNAT-CHAIN-0 ! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT '
        "--to-source 10.0.0.5 --random-fully",
    ],
    "mangle": [
        '-A PREROUTING -i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in '
        "-j CONNMARK --set-xmark 0x80/0x80",
        '-A PREROUTING -i eni+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask 0x80 '
        "--ctmask 0x80",
    ],
    "filter": [
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
        '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" '
        "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP",
        "-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset",
        "-A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT",
        "-A INPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN -m conntrack --ctstate NEW -j ACCEPT",
        "-A OUTPUT -o eth0 -p udp -m udp --sport 53 -j ACCEPT",
    ],
}
_BUILTIN_CHAINS = {"nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"], "mangle": ["PREROUTING", "INPUT",
                   "FORWARD", "OUTPUT", "POSTROUTING"], "filter": ["INPUT", "FORWARD", "OUTPUT"]}  # fmt: skip
_LONG = {"-s": "--source", "-d": "--destination", "-p": "--protocol", "-i": "--in-interface", "-o": "--out-interface",
         "-j": "--jump", "-g": "--goto", "-m": "--match", "-A": "--append"}  # fmt: skip


def _quote(word: str, quoted: bool) -> str:
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"' if quoted else word


def _groups(line: str) -> list[tuple[str, list[tuple[str, bool]]]]:
    """A template's words as (option, its values); "!" is a group of its own."""
    out: list[tuple[str, list[tuple[str, bool]]]] = []
    for w, q in iptables_save.tokenize(line):
        if not q and (w == "!" or w.startswith("-")):
            out.append((w, []))
        else:
            out[-1][1].append((w, q))
    return out


@st.composite
def respelled(draw: st.DrawFn, line: str) -> str:
    """``line`` with each option spelled at random as getopt_long reads it (some spellings iptables refuses:
    ambiguous prefixes, attached values of -p/-s/-d/-j)."""
    words: list[str] = []
    for opt, values in _groups(line):
        vals = [_quote(v, q) for v, q in values]
        if opt == "!":
            words.append(opt)
            continue
        how = draw(st.sampled_from(["as is", "prefix", "prefix", "prefix=", "prefix=", "attached"]))
        name = _LONG.get(opt, opt)
        if how == "attached" and not opt.startswith("--") and len(values) == 1 and not values[0][1]:
            words.append(opt + values[0][0])
            continue
        if how in ("prefix", "prefix="):
            name = name[: draw(st.integers(min_value=max(3, len(name) // 2), max_value=len(name)))]
        elif how == "attached" or opt in _LONG:
            name = opt if how == "attached" or draw(st.booleans()) else name
        if how == "prefix=" and values and not values[0][1]:
            words.append(f"{name}={values[0][0]}")
            words.extend(vals[1:])
        else:
            words.append(name)
            words.extend(vals)
    return " ".join(words)


def _head(table: str, lines: list[str]) -> str:
    chains = dict.fromkeys(_BUILTIN_CHAINS[table])
    for line in TEMPLATES[table]:
        words = line.split()
        chains.setdefault(words[1])
        for i, w in enumerate(words[:-1]):
            if w == "-j" and words[i + 1].startswith(("KUBE-", "AWS-")):
                chains.setdefault(words[i + 1])
    decl = "".join(f":{c} {'ACCEPT' if c in _BUILTIN_CHAINS[table] else '-'} [0:0]\n" for c in chains)
    return f"*{table}\n{decl}" + "".join(line + "\n" for line in lines) + "COMMIT\n"


def _real(text: str) -> tuple[int, str, str]:
    p = subprocess.run(["unshare", "--net", "sh", "-c", f"{RESTORE} && exec {SAVE}"], input=text, text=True,
                       capture_output=True, check=False)  # fmt: skip
    return p.returncode, p.stdout, p.stderr


def _hairpin(text: str) -> list[Rule] | str:
    """hairpin's rules of a file, read and checked as iptables-restore would; or its error."""
    try:
        rs = iptables_save.parse(text, "f")
        iptables_check.check(rs)
    except ParseError as e:
        return e.message
    return rs.rules()


@real
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_respelled_rules_mean_what_iptables_nft_save_says_they_mean(data: st.DataObject) -> None:
    """Every template, re-spelled at random: the ones hairpin reads are loaded together by the real tool
    (one restore + save per example), and hairpin's reading of each equals its reading of the line
    iptables-nft-save prints for it; one rule hairpin refuses is refused by the real tool too."""
    read: dict[str, list[str]] = {}
    refused: list[tuple[str, str]] = []
    for table, lines in TEMPLATES.items():
        for line in lines:
            text = data.draw(respelled(line))
            got = _hairpin(_head(table, [text]))
            if isinstance(got, str):
                refused.append((table, text))
            else:
                read.setdefault(table, []).append(text)
    files = [_head(t, ls) for t, ls in read.items()]
    code, out, err = _real("".join(files))
    assert code == 0, (err, files)
    saved = {line.split(" ", 2)[1] + str(i): line for i, line in enumerate(out.splitlines()) if line.startswith("-A ")}
    mine = [meaning(r) for f in files for r in _hairpin(f)]  # type: ignore[union-attr]
    theirs = [meaning(r) for f in _tables(out) for r in _hairpin(f)]  # type: ignore[union-attr]
    assert sorted(mine, key=repr) == sorted(theirs, key=repr), (files, saved)
    if refused:
        table, text = data.draw(st.sampled_from(refused))
        code, _, err = _real(_head(table, [text]))
        mine = _hairpin(_head(table, [text]))
        assert code != 0, (text, mine)
        theirs = err.splitlines()[0].removeprefix("iptables-nft-restore v1.8.9 (nf_tables): ")
        if isinstance(mine, str) and mine.startswith(GETOPT_REFUSALS) and theirs.startswith(GETOPT_REFUSALS):
            assert mine.startswith(theirs), (text, mine, theirs)


#: the refusals iptables_getopt words as iptables-restore does
GETOPT_REFUSALS = ("unknown option", "unknown protocol", "host/network", "Chain '", "interface name", 'option "',
                   "Bad argument", "unknown arguments")  # fmt: skip


def _tables(saved: str) -> list[str]:
    """iptables-nft-save's output, one text per table (comments dropped)."""
    out: list[str] = []
    for line in saved.splitlines():
        if line.startswith("*"):
            out.append("")
        if out and not line.startswith("#"):
            out[-1] += line + "\n"
    return out


def test_what_iptables_save_prints_is_respelled_as_itself() -> None:
    """respell leaves the templates' words (iptables-save's spelling) as they are."""
    for lines in TEMPLATES.values():
        for line in lines:
            tokens = iptables_save.tokenize(line)
            assert iptables_getopt.respell(tokens, "f", 1) == tokens


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_respelling_twice_is_respelling_once(data: st.DataObject) -> None:
    """What respell writes is read by respell as written (its output is iptables-save's spelling)."""
    for lines in TEMPLATES.values():
        tokens = iptables_save.tokenize(data.draw(respelled(data.draw(st.sampled_from(lines)))))
        try:
            once = iptables_getopt.respell(tokens, "f", 1)
        except ParseError:
            continue
        assert iptables_getopt.respell(once, "f", 1) == once


def test_a_respelled_rule_is_shown_with_the_user_s_words() -> None:
    assert iptables_getopt.shown_rule(rule("-A INPUT -p tcp -m tcp --dpo 80 -j DROP")) == (
        "-A INPUT -p tcp -m tcp --dport 80 -j DROP (written: -A INPUT -p tcp -m tcp --dpo 80 -j DROP)")
    assert iptables_getopt.shown_rule(rule("-A INPUT -p tcp -j DROP --dport 80")) == (
        "-A INPUT -p tcp -m tcp --dport 80 -j DROP (written: -A INPUT -p tcp -j DROP --dport 80)")
    assert iptables_getopt.shown_rule(rule("-AINPUT -j DROP")) == "-A INPUT -j DROP (written: -AINPUT -j DROP)"
    # iptables-save's own spelling, and a hand-written rule iptables reads as written, are shown once
    assert iptables_getopt.shown_rule(rule("-A INPUT -p tcp -m tcp --dport 80 -j DROP")) == (
        "-A INPUT -p tcp -m tcp --dport 80 -j DROP")
    assert iptables_getopt.shown_rule(rule("-A INPUT -p tcp --dport 80  -j DROP")) == (
        "-A INPUT -p tcp -m tcp --dport 80 -j DROP")


def test_iptables_dash_s_text_is_read_the_same_way() -> None:
    rs, _ = forms.read_iptables("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
                                "-A INPUT -p tcp -m tcp --dpo=80 -j DROP\n", "f")  # fmt: skip
    assert meaning(rs.rules()[0]) == meaning(rule("-A INPUT -p tcp -m tcp --dport 80 -j DROP"))
    with pytest.raises(ParseError) as e:
        forms.read_iptables("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -ptcp -j DROP\n", "f")
    assert str(e.value) == 'f:4: unknown protocol "-ptcp" specified'
