"""The iptables-save tokenizer (regular expressions, for load speed) splits every line exactly as the
character-by-character reading iptables-restore does: same tokens, same quoting, same errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.errors import ParseError
from hairpin.parsers.iptables_save import tokenize


def reference(text: str) -> list[tuple[str, bool]] | None:
    """The previous character loop; None where it raised (unterminated quote)."""
    tokens: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t":
            i += 1
            continue
        if ch == '"':
            i += 1
            buf = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(text[i])
                i += 1
            if i >= n:
                return None
            i += 1
            tokens.append(("".join(buf), True))
        else:
            j = i
            while j < n and text[j] not in " \t":
                j += 1
            tokens.append((text[i:j], False))
            i = j
    return tokens


def ours(text: str) -> list[tuple[str, bool]] | None:
    try:
        return tokenize(text, "f", 1)
    except ParseError:
        return None


@settings(max_examples=600)
@given(st.text(alphabet=st.sampled_from(list(' \t"\\ab-!\n\r\x0b/:,é')), max_size=30))
def test_same_tokens_as_the_character_loop(text: str) -> None:
    assert ours(text) == reference(text)


@pytest.mark.parametrize(
    ("line", "want"),
    [
        (
            '-A X -m comment --comment "ns/svc:http cluster IP" -j KUBE-SVC-1',
            [
                ("-A", False),
                ("X", False),
                ("-m", False),
                ("comment", False),
                ("--comment", False),
                ("ns/svc:http cluster IP", True),
                ("-j", False),
                ("KUBE-SVC-1", False),
            ],
        ),
        ('a"b "c\\"d"e\t""', [('a"b', False), ('c"d', True), ("e", False), ("", True)]),
        ("  -s\t10.0.0.0/8  ", [("-s", False), ("10.0.0.0/8", False)]),
    ],
)
def test_examples(line: str, want: list[tuple[str, bool]]) -> None:
    assert tokenize(line) == want


def test_unterminated_quote_is_a_parse_error_with_its_line() -> None:
    with pytest.raises(ParseError) as e:
        tokenize('-A X -m comment --comment "open', "rules", 7)
    assert "unterminated quoted string" in str(e.value)
    assert e.value.line == 7 and e.value.file == "rules"


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["-A", "-I", "--insert", "--append"]), st.sampled_from(["X", "Y"])),
                max_size=25))  # fmt: skip
def test_inserts_and_appends_keep_iptables_order(ops: list[tuple[str, str]]) -> None:
    """-I puts a rule first, -A last, in the order of the lines, per chain; rules are numbered from 1."""
    from hairpin.parsers.iptables_save import parse

    lines = ["*filter", ":X - [0:0]", ":Y - [0:0]"]
    want: dict[str, list[int]] = {"X": [], "Y": []}
    for n, (op, chain) in enumerate(ops):
        lines.append(f"{op} {chain} -s 10.0.0.{n}/32 -j ACCEPT")
        if op in ("-I", "--insert"):
            want[chain].insert(0, len(lines))
        else:
            want[chain].append(len(lines))
    lines.append("COMMIT")
    rs = parse("\n".join(lines) + "\n", "rules")
    for name in ("X", "Y"):
        rules = rs.tables["filter"].chains[name].rules
        assert [r.line for r in rules] == want[name]
        assert [r.index for r in rules] == list(range(1, len(rules) + 1))
