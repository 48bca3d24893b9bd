"""Ctrl-C, SIGTERM and SIGHUP while the ``hairpin`` program is still starting.

What it knows: the program spends its first 0.1-0.3 s importing (typer, rich, the command's modules).  Python
turns Ctrl-C into a ``KeyboardInterrupt`` wherever the interpreter happens to be, and during imports that is
often inside importlib's own clean-up callbacks, where the exception is printed as "Exception ignored ..." and
lost (the command then runs to its end as if nothing happened), or outside any ``try``, where it is a
traceback.  Imports change nothing outside the process, so the program holds these signals while it starts:
:func:`hold` notes them instead of raising, and :func:`release` (called by ``hairpin.cli.main.main`` once the
command's modules are imported, before the command does anything) gives the signal that came, if any, and puts
the handlers back.  Only the program holds (``hairpin.cli.program``, ``python -m hairpin.cli.main``): code that
imports hairpin as a library keeps Python's own handling.

It imports nothing but CPython's ``_signal`` (already loaded when the interpreter starts; :mod:`signal` is the
same functions with enums around them, and importing :mod:`enum` costs 7 ms), so what it cannot cover is the
interpreter's own start-up and the console script's first lines: about the first 20 ms.
"""

from __future__ import annotations

try:
    import _signal as signal  # type: ignore[import-not-found]  # the C module signal wraps: same handlers
except ImportError:  # pragma: no cover - another Python implementation
    import signal

__all__ = ["hold", "holding", "release"]

_pending: list[int] = []
_saved: dict[int, object] = {}


def _note(signum: int, frame: object) -> None:
    _pending.append(signum)


def hold() -> None:
    """Note Ctrl-C (if Python's default handler is in place), SIGTERM and SIGHUP (if their default action is)
    instead of acting on them, until :func:`release`."""
    if _saved:
        return
    for signum, default in (
        (signal.SIGINT, signal.default_int_handler),
        (signal.SIGTERM, signal.SIG_DFL),
        (signal.SIGHUP, signal.SIG_DFL),
    ):
        if signal.getsignal(signum) == default:
            _saved[signum] = default
            signal.signal(signum, _note)


def holding() -> bool:
    return bool(_saved)


def release() -> int | None:
    """Put back the handlers :func:`hold` replaced; the first signal that came meanwhile, or None."""
    for signum, handler in _saved.items():
        signal.signal(signum, handler)
    _saved.clear()
    came = _pending[0] if _pending else None
    _pending.clear()
    return came
