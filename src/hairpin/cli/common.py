"""What every ``hairpin`` command shares: its ``--format`` values, ``-o/--output``, the ``wrote FILE`` line
on stderr, the console its text goes to, and the exit codes (0 nothing found, 1 a finding, 2 bad input;
docs/cli.md lists them command by command).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console

from hairpin.errors import InputError
from hairpin.writing import check_output, write_output

__all__ = [
    "EXIT_BAD_INPUT", "EXIT_CLEAN", "EXIT_FINDING", "PIPE_WIDTH", "check_format", "check_output", "emit", "emit_raw",
    "write", "wrote",
]  # fmt: skip

EXIT_CLEAN = 0
EXIT_FINDING = 1
EXIT_BAD_INPUT = 2

#: width of text written to a pipe or a file when $COLUMNS does not say (a terminal uses its own width)
PIPE_WIDTH = 150


def check_format(value: str, allowed: Iterable[str], aliases: dict[str, str] | None = None) -> str:
    """The ``--format`` value, with an old name mapped to its new one; anything else: one line, exit 2."""
    names = tuple(allowed)
    value = (aliases or {}).get(value, value)
    if value not in names:
        raise InputError(f"--format must be one of {', '.join(names)}, got {value!r}")
    return value


def wrote(path: str | Path, what: str = "") -> None:
    """``wrote FILE`` on stderr, for every file a command writes (nothing for ``-``: that is stdout)."""
    if str(path) != "-":
        print(f"wrote {path}" + (f" ({what})" if what else ""), file=sys.stderr)


def write(path: str | Path, data: str | bytes, what: str = "") -> None:
    """:func:`hairpin.writing.write_output`, then ``wrote FILE`` on stderr."""
    write_output(path, data)
    wrote(path, what)


def _width() -> int | None:
    """None (rich measures the terminal) on a terminal; $COLUMNS if set; else :data:`PIPE_WIDTH`."""
    if sys.stdout.isatty():
        return None
    cols = os.environ.get("COLUMNS", "")
    return int(cols) if cols.isdigit() and int(cols) > 0 else PIPE_WIDTH


def emit(output: str | Path | None, *renderables: Any, lines: bool = False) -> None:
    """Print rich renderables (or strings) to stdout, or, with ``-o FILE``, write them as plain text.

    ``lines``: the renderables are lines of text (rules, packets) kept whole on a pipe or in a file, so
    they stay greppable; a terminal wraps them."""
    if output is None or str(output) == "-":
        out = Console(width=_width())
        for r in renderables:
            out.print(r, soft_wrap=lines and not out.is_terminal)
        return
    buf = io.StringIO()
    con = Console(file=buf, width=_width() or PIPE_WIDTH, color_system=None, force_terminal=False)
    for r in renderables:
        con.print(r, soft_wrap=lines)
    write(output, buf.getvalue())


def emit_raw(output: str | Path | None, text: str) -> None:
    """JSON, SARIF, CSV: to stdout, or written whole to ``-o FILE``."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return
    write(output, text)
