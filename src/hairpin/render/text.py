"""Text tables that fit the terminal: the wide layout when it fits, else the stacked one.

A rich table narrower than its content folds or cuts its cells (``…``).  Every table hairpin prints comes
in two layouts: wide (one column per field, nothing wrapped) and stacked (the fields of a row one under the
other in one column, nothing cut).  :func:`fitting` measures the wide layout against the width rich lays out
in (the terminal's, or ``$COLUMNS``) and returns it when it fits, else the stacked one; so a wide terminal
gets one line a row and 80 columns still get every cell whole.  :func:`indented` keeps a wrapped line of
explanation under its own indentation.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

__all__ = ["fitting", "indented"]


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
