"""Text from the user's files made safe for SVG and HTML: markup escaped, and characters XML cannot hold shown.

``escape(text)`` is :func:`html.escape` (``& < > " '``) after every control character but tab and newline,
every lone surrogate and U+FFFE/U+FFFF is replaced by its visible form ``\\xNN`` (``\\uNNNN`` above U+00FF),
as the terminal reports show them (``hairpin.cli.common``: a name holding ``ESC[31m`` reads
``\\x1b[31m``).  XML 1.0 allows none of C0 but tab, newline and carriage return, no surrogate and neither
U+FFFE nor U+FFFF (the ``Char`` production, https://www.w3.org/TR/xml/#charsets): one of them in an SVG
file makes it "not well-formed", and a browser shows an error instead of the picture.  Carriage return, DEL
and the C1 controls are allowed there but are shown too, as in the terminal.

The nine explicit bidirectional formatting characters are shown too (``\\u202e``), here and in the terminal:
the embeddings and overrides U+202A-U+202E and the isolates U+2066-U+2069 (Unicode UAX #9 "Unicode
Bidirectional Algorithm", sections 2.1-2.4, https://www.unicode.org/reports/tr9/).  A browser obeys them: a capture file named
``node1-<U+202E>gnp.pcap`` is drawn ``node1-pacp.png``, a Service or node name can pass for another
("Trojan Source", CVE-2021-42574; rustc's ``text_direction_codepoint_in_literal`` lint flags the same nine).
The implicit marks (LRM, RLM, ALM) only set the direction of the neutral characters next to them and are
kept, as is every other character: in HTML and SVG text none but ``& < > " '`` is markup.
"""

from __future__ import annotations

import html
import re

__all__ = ["CONTROL", "escape", "shown", "visible"]

_C0_C1 = "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 controls but tab and newline, DEL, the C1 controls
#: the explicit bidirectional embeddings, overrides and isolates (UAX #9 sections 2.1-2.4)
_BIDI = "\u202a-\u202e\u2066-\u2069"
#: what a terminal report never prints as it is (ESC starts a terminal's escape sequences; a terminal that
#: implements UAX #9 reorders text after U+202E as a browser does): ``hairpin.cli.common``
CONTROL = re.compile(f"[{_C0_C1}{_BIDI}]")
_UNSAFE = re.compile(f"[{_C0_C1}{_BIDI}\ud800-\udfff\ufffe\uffff]")


def _shown(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def shown(text: str) -> str:
    """``text`` with the characters of :data:`CONTROL` replaced by ``\\xNN`` / ``\\uNNNN`` (a terminal report's form)."""
    return CONTROL.sub(_shown, text)


def visible(text: str) -> str:
    """``text`` with the characters above replaced by ``\\xNN`` / ``\\uNNNN``."""
    return _UNSAFE.sub(_shown, text)


def escape(text: str, quote: bool = True) -> str:
    """``text`` for SVG or HTML, as element content or (``quote``) an attribute value."""
    return html.escape(visible(text), quote=quote)
