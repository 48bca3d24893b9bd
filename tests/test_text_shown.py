"""hairpin.text.shown: input text as one report line may hold it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hairpin.text import shown


def test_short_printable_text_is_kept() -> None:
    assert shown("kube-system/kube-proxy-abcde") == "kube-system/kube-proxy-abcde"
    assert shown("x" * 80) == "x" * 80


def test_long_text_is_quoted_cut_and_marked() -> None:
    assert shown("x" * 81) == repr("x" * 80) + "..."


def test_unprintable_text_is_quoted() -> None:
    assert shown("a\nb") == "'a\\nb'"
    assert shown("\x1b[31mred") == "'\\x1b[31mred'"


@given(st.text(max_size=300))
def test_one_printable_line_of_bounded_length(text: str) -> None:
    out = shown(text)
    assert out.isprintable()
    assert len(out) <= 10 * 80 + 2 + 3  # repr escapes a character in at most 10 (\\UXXXXXXXX), quotes, "..."
