"""What a number and a line are in the text users paste: as the kernel's tools write and read them.

No dependencies: the plainest command lines (``hairpin pcap``) import it without the YAML and JSON readers
of :mod:`hairpin.reading`.
"""

from __future__ import annotations

__all__ = ["digits", "shown", "split_lines"]


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as the kernel's tools read theirs: split at ``\\n`` only.  ``str.splitlines``
    also splits at ``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028 and U+2029, which
    iptables-restore and nft take as part of a line (a comment holding U+2028 is one rule; a form feed
    cannot start a new rule)."""
    out = text.split("\n")
    if out[-1] == "":
        out.pop()
    return out


def digits(text: str) -> bool:
    """``text`` is a non-empty run of ASCII digits 0-9: a number as the kernel's tools print it.
    ``str.isdigit`` also takes other scripts' digits and superscripts (``'²'``, ``'１'``), which ``int``
    refuses or reads as a number no tool ever wrote."""
    return text.isascii() and text.isdigit()


def shown(text: str, limit: int = 80) -> str:
    """Text from the input as a report line or a note may hold it: as written when printable and at most
    ``limit`` characters, else quoted (``repr``: a newline or a terminal escape in a dump must not break the
    line or reach the terminal) and cut to ``limit`` characters, with ``...`` after the quote when cut."""
    if text.isprintable() and len(text) <= limit:
        return text
    return repr(text[:limit]) + ("..." if len(text) > limit else "")
