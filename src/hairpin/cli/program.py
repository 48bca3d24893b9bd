"""The ``hairpin`` console script's module: imported only by the program itself, it holds Ctrl-C, SIGTERM and SIGHUP
(:mod:`hairpin.cli.early`) before anything heavy is imported, then runs :func:`hairpin.cli.main.entry`."""

from __future__ import annotations

from hairpin.cli import early

early.hold()

from hairpin.cli.main import entry  # noqa: E402  (after the signals are held: this import is the slow part)

__all__ = ["entry"]
