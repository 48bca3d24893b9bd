"""Text tables that fit the terminal: the wide layout when it fits, else the stacked one.

A rich table narrower than its content folds or cuts its cells (``…``).  Every table hairpin prints comes
in two layouts: wide (one column per field, nothing wrapped) and stacked (the fields of a row one under the
other in one column, nothing cut).  :func:`fitting` measures the wide layout against the width rich lays out
in (the terminal's, or ``$COLUMNS``) and returns it when it fits, else the stacked one; so a wide terminal
gets one line a row and 80 columns still get every cell whole.  :func:`indented` keeps a wrapped line of
explanation under its own indentation.  :func:`verbatim` is for what the user copies (YAML to paste into a
manifest, a command to run): each line whole, never wrapped or cut by rich, so a narrow terminal wraps it on
screen but copies it as it is (the report is printed uncropped: ``hairpin.cli.common.emit``).
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

__all__ = ["fitting", "indented", "verbatim"]


def fitting(console: Console, options: ConsoleOptions, wide: Table, stacked: Callable[[], Table]) -> Table:
    """``wide`` if its natural width (every cell on one line) fits ``options.max_width``, else ``stacked()``."""
    need = Measurement.get(console, options.update(width=10**6), wide).maximum
    return wide if need <= options.max_width else stacked()


def indented(text: str | Text, indent: int, marker: str = "", style: str = "") -> Padding:
    """``text`` indented by ``indent`` spaces after ``marker`` (``"- "``, ``"1. "``); a line it wraps onto
    starts under the text, not under the marker."""
    t = text if isinstance(text, Text) else Text(text, style=style)
    if not marker:
        return Padding(t, (0, 0, 0, indent), expand=False)
    grid = Table.grid(padding=0)
    grid.add_column(no_wrap=True, width=len(marker))
    grid.add_column(ratio=1, overflow="fold")
    grid.add_row(Text(marker, style=t.style), t)
    return Padding(grid, (0, 0, 0, indent), expand=False)


def verbatim(text: str, indent: int, style: str = "") -> Text:
    """``text`` with every line indented by ``indent`` spaces and kept whole: rich neither wraps nor crops it
    (``no_wrap``, overflow ``ignore``), whatever the width."""
    pad = " " * indent
    return Text("\n".join(pad + line for line in text.split("\n")), style=style, no_wrap=True, overflow="ignore")
