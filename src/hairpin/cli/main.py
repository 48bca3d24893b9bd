"""``hairpin``'s entry point: runs the typer app (:mod:`hairpin.cli.app`) and turns bad input into one line
on stderr with exit code 2 (never a traceback).

What it knows: importing typer, every command module and rich, and building the command tree, costs about
0.2 s of CPU, more than analysing a capture of 100,000 packets; running a command through typer 0.29 also
imports pydantic and builds a ``TypeAdapter`` per parameter.  So the plainest ``hairpin pcap`` command
lines (``_plain_pcap``: capture files and the options ``--format``, ``-o``/``--output`` and
``--max-listed`` with ordinary values, each at most once) call the command (:func:`hairpin.cli.pcap_run.run`)
with the values typer would have passed, and so do the plainest ``hairpin check`` ones (``_plain_check``:
files or directories, ``--format`` and ``-o``/``--output``; :func:`hairpin.cli.check_run.run`, about 0.1 s of
CPU less); every other command line, help, completion, and anything unusual (an option given twice, a
value starting with ``-``, ``--opt=value``, ``--``, a flag) goes through typer as before, so help, errors
and exit codes are typer's own.  ``app`` is still importable from here.

A reader that closes stdout early (``hairpin check DUMP | head``) ends the program quietly with exit code
141, the status a shell gives a process that SIGPIPE ended (128 + 13, Linux ``signal(7)``): not 1, which
says "a finding" (rich's own handling, ``Console.on_broken_pipe``, exits 1), and never a traceback.  The
signal itself stays ignored (Python's default), so the lab's clean-up and the atomic writers still run
their ``finally`` blocks; stdout is pointed at /dev/null so the interpreter's last flush does not fail
again (the Python documentation's note on SIGPIPE, ``signal`` module).

SIGTERM unwinds the program as Ctrl-C does (the lab removes what it made, the atomic writers their temporary
files), then ends it with ``hairpin: terminated`` and exit code 143 (128 + 15, ``signal(7)``).  So does SIGHUP
(the terminal closed, the ssh connection dropped: ``signal(7)``, "Hangup detected on controlling terminal or death
of controlling process"), with ``hairpin: hung up`` (written if the terminal is still there) and exit code 129
(128 + 1), also when a write to the terminal that hung up fails (EIO) while the program unwinds.  Either is left alone when it is ignored at start (``nohup`` ignores SIGHUP) or has a handler.

Only in the program's own process: a copy of it made by ``fork()`` without ``exec`` (pyroute2 forks a helper
for every ``NetNS`` the lab opens, and stops it with SIGTERM; Ctrl-C and a closed terminal's SIGHUP reach it
too, in the same process group) inherits these handlers and the whole call stack, and unwinding there ran the
lab's clean-up a second time, in the helper, while the program went on building.  Measured (strace): the helper found itself among the
processes in the lab's namespaces, signalled itself and waited out the clean-up's 3 s before SIGKILL, and the
program waited for it (21 s of a 24 s ``lab run``); had it not been inside a lab namespace, it would have
deleted the namespaces of the lab being built (it did, once removal ended only the lab's own processes).  A
signal in such a copy ends the copy at once (``os._exit(128 + signal)``).
"""

from __future__ import annotations

import signal
import sys

if __name__ == "__main__":  # run as the program (python -m): hold Ctrl-C while it starts (hairpin.cli.early)
    from hairpin.cli import early as _starting

    _starting.hold()

import contextlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from hairpin.cli import LEFT_TO_EXIT, early
from hairpin.errors import HairpinError, InputError

if TYPE_CHECKING:
    from typing import Any

__all__ = ["entry", "main"]  # and `app` (module __getattr__)

_PCAP_OPTIONS = {"--format": "format", "-o": "output", "--output": "output", "--max-listed": "max_listed"}
_CHECK_OPTIONS = {"--format": "format", "-o": "output", "--output": "output"}
_DIGITS = re.compile(r"[0-9]{1,18}")  # what click reads as this int with no doubt (no sign, space, '_')


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer app, built on first use
        from hairpin.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _plain_pcap(args: list[str]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`hairpin.cli.pcap_run.run` for ``pcap FILE... [--format F] [-o OUT]
    [--max-listed N]``, else None (typer reads the command line).  Files are words not starting with ``-``;
    each option is given once, its value the next word, not starting with ``-``.  Shell completion (its
    environment variable set) goes to typer."""
    plain = _plain_words(args, "pcap", _PCAP_OPTIONS)
    if plain is None:
        return None
    words, opts = plain
    kw: dict[str, Any] = {"files": [Path(w) for w in words], **opts}
    if "max_listed" in opts:
        if not _DIGITS.fullmatch(opts["max_listed"]):
            return None
        kw["max_listed"] = int(opts["max_listed"])
    return kw


def _plain_check(args: list[str]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`hairpin.cli.check_run.run` for ``check PATH... [--format F] [-o OUT]``,
    read as :func:`_plain_pcap` reads its command line, else None (typer reads the command line: any flag,
    ``-`` for stdin, ``--live``...)."""
    plain = _plain_words(args, "check", _CHECK_OPTIONS)
    if plain is None:
        return None
    words, opts = plain
    return {"paths": words, **opts}


def _plain_words(args: list[str], command: str, options: dict[str, str]) -> tuple[list[str], dict[str, str]] | None:
    """``args`` as ``command`` followed by words not starting with ``-`` (at least one) and ``options`` (an
    option's spelling -> its parameter), each given once with its value the next word, not starting with
    ``-``; else None.  Shell completion (its environment variable set) goes to typer."""
    if len(args) < 2 or args[0] != command or "_HAIRPIN_COMPLETE" in os.environ:
        return None
    words: list[str] = []
    opts: dict[str, str] = {}
    i = 1
    while i < len(args):
        a = args[i]
        if not a:  # '' as a path: typer's reading of it is not restated here
            return None
        if not a.startswith("-"):
            words.append(a)
            i += 1
            continue
        name = options.get(a)
        if name is None or name in opts or i + 1 >= len(args) or args[i + 1].startswith("-"):
            return None
        opts[name] = args[i + 1]
        i += 2
    if not words:
        return None
    return words, opts


def main(argv: list[str] | None = None) -> None:
    """Run the CLI.  InputError -> one line, exit 2; other HairpinError -> one line, exit 1."""
    args = list(sys.argv[1:] if argv is None else argv)
    if early.holding():  # the program is starting: its signals are held until the command's modules are in
        _import_for(args)
        came = early.release()
        if came is not None:  # nothing was done yet: nothing to undo
            _ended(came)
    interrupted: list[int] = []
    home = os.getpid()  # a forked copy of this process ends at once on a signal (module doc)
    old = signal.getsignal(signal.SIGINT)
    if old is signal.default_int_handler:  # typer turns Ctrl-C into a silent exit 130: note it to say so

        def on_interrupt(signum: int, frame: Any) -> None:
            if os.getpid() != home:
                os._exit(128 + signum)
            interrupted.append(signum)
            signal.default_int_handler(signum, frame)

        signal.signal(signal.SIGINT, on_interrupt)

    def on_terminate(signum: int, frame: Any) -> None:
        if os.getpid() != home:
            os._exit(128 + signum)
        interrupted.append(signum)
        raise KeyboardInterrupt

    # SIGTERM (kill, timeout, systemd) and SIGHUP (the terminal closed) unwind like Ctrl-C: the lab removes itself
    ending = [s for s in ENDINGS if signal.getsignal(s) == signal.SIG_DFL]
    for signum in ending:
        signal.signal(signum, on_terminate)
    import warnings  # (not before the program's start-up is held: hairpin.cli.early)

    shown = warnings.showwarning  # a warning the library gives (warnings.warn) is one line, as ours are
    warnings.showwarning = _warning_line
    try:
        plain = _plain_pcap(args)
        checked = _plain_check(args) if plain is None else None
        if plain is not None or checked is not None:  # what typer would do: the root callback (no limit), the command
            if "hairpin.reading" in sys.modules:  # limits an earlier call in this process set are cleared
                sys.modules["hairpin.reading"].set_limits(None, None)
            if plain is not None:
                from hairpin.cli.pcap_run import run

                code: Any = run(**plain)
            elif checked is not None:
                from hairpin.cli.check_run import run as check

                code = check(**checked)
        else:
            code = _typer(args)
    except InputError as exc:
        print(f"hairpin: error: {exc.one_line()}", file=sys.stderr)
        sys.exit(2)
    except HairpinError as exc:
        print(f"hairpin: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        _ended(interrupted[-1] if interrupted else signal.SIGINT)
    except BrokenPipeError:  # stdout's reader went away (| head): see the module's docstring
        _stdout_gone()
        sys.exit(PIPE_CLOSED)
    except OSError:  # after SIGHUP: writing to the terminal that hung up (EIO) while unwinding (rich's progress bar)
        if signal.SIGHUP not in interrupted:
            raise
        _ended(signal.SIGHUP)
    except ValueError as exc:  # an integer too long for Python to read, from a reader that does not name it
        from hairpin.reading import long_number, number_error

        if not long_number(exc):
            raise
        print(f"hairpin: error: {number_error(None, None, '').message} in the input", file=sys.stderr)
        sys.exit(2)
    finally:
        warnings.showwarning = shown
        if old is signal.default_int_handler:
            signal.signal(signal.SIGINT, old)
        for signum in ending:
            signal.signal(signum, signal.SIG_DFL)
        if not _program:  # called in-process: what a command left is freed as usual
            LEFT_TO_EXIT.clear()
    if code == 130 and interrupted:
        _ended(interrupted[-1])
    sys.exit(code if isinstance(code, int) else 0)


def _ended(signum: int) -> None:
    """The program's last line and exit code after ``signum`` unwound it (or came while it started)."""
    said, code = ENDINGS.get(signum, ("interrupted", 130))
    with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone (EIO): the exit code still says it
        print(f"hairpin: {said}", file=sys.stderr)
    sys.exit(code)


def _warning_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:  # fmt: skip
    from hairpin.cli.common import say

    say("warning", str(message))


def _import_for(args: list[str]) -> None:
    """Import what running ``args`` needs first (the slow part of starting: typer, rich, the command tree), while
    the program holds its signals (:mod:`hairpin.cli.early`)."""
    if _plain_pcap(args) is not None:
        import hairpin.cli.pcap_run
    elif _plain_check(args) is not None:
        import hairpin.cli.check_run
    else:
        import typer.exceptions  # noqa: F401

        import hairpin.cli.app  # noqa: F401


def _typer(args: list[str]) -> Any:
    """The typer app on ``args`` (standalone mode off: its exit code returned); a usage error is one line,
    exit 2."""
    from typer.exceptions import TyperException

    from hairpin.cli.app import app, flag_given_a_value, one_line, usage

    stdout, stderr, fd1 = sys.stdout, sys.stderr, _file_of(1)
    try:
        bad = flag_given_a_value(args)
        if bad is not None:
            raise InputError(bad)
        return app(args=args, prog_name="hairpin", standalone_mode=False)
    except SystemExit:
        # click (typer's vendored copy too) turns a closed stdout (EPIPE) into exit 1, with stdout and stderr
        # replaced by wrappers that swallow later flushes (``BaseCommand.main``, ``PacifyFlushWrapper``):
        # told by that replacement, and made the pipe case; rich, which prints typer's help, exits 1 too
        # once it has pointed stdout at /dev/null (``Console.on_broken_pipe``): told by the descriptor
        if sys.stdout is not stdout and getattr(sys.stdout, "wrapped", None) is stdout:
            sys.stdout, sys.stderr = stdout, stderr
            raise BrokenPipeError from None
        if fd1 is not None and fd1 != _file_of(1) and _file_of(1) == _devnull():
            raise BrokenPipeError from None
        raise
    except TyperException as exc:  # a usage error: an unknown option, a missing or out-of-range value
        if type(exc).__name__ == "NoArgsIsHelpError":  # 'hairpin lab' alone: its help, as typer prints it
            app(args=args, prog_name="hairpin", standalone_mode=True)
        print(f"hairpin: error: {one_line(exc.format_message())} (see {usage(args)} --help)", file=sys.stderr)
        sys.exit(2)


def _file_of(fd: int) -> tuple[int, int] | None:
    """The device and inode ``fd`` refers to (None: not open)."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _devnull() -> tuple[int, int] | None:
    try:
        st = os.stat(os.devnull)
    except OSError:
        return None
    return st.st_dev, st.st_ino


#: exit code after SIGTERM (the lab's clean-up and the atomic writers have run): what a shell reports for a
#: process SIGTERM ended (128 + 15, ``signal(7)``)
TERMINATED = 128 + signal.SIGTERM

#: exit code after SIGHUP (the same clean-up has run): 128 + 1, ``signal(7)``
HUNG_UP = 128 + signal.SIGHUP

#: the signals that unwind the program as Ctrl-C does: what it says, and its exit code
ENDINGS: dict[int, tuple[str, int]] = {signal.SIGTERM: ("terminated", TERMINATED), signal.SIGHUP: ("hung up", HUNG_UP)}

#: exit code when stdout's reader closed the pipe: what a shell reports for a process SIGPIPE ended
PIPE_CLOSED = 128 + signal.SIGPIPE


def _stdout_gone() -> None:
    """Point stdout at /dev/null: what is still buffered for a closed pipe is dropped without a second
    error when the interpreter flushes it on exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (stdout replaced in-process): nothing to redirect
        pass


_program: list[bool] = []  # set by entry(): main() runs as the program itself


def entry() -> None:
    """The ``hairpin`` program (the console script, ``python -m hairpin.cli.main``): :func:`main`, and when
    a command left objects to the process's end (``hairpin.cli.LEFT_TO_EXIT``: ``hairpin check``'s dump,
    ``hairpin pcap``'s analysis) the process ends as soon as stdout and stderr are flushed, with
    ``os._exit`` and the exit code main() gave, and the operating system takes the memory back at once
    instead of the interpreter freeing every object and module one by one (0.23 s after a 150,000-Pod
    dump; about 10 ms after a 2,000,000-packet capture).  A command leaves something only once its output
    files are written and closed and its temporary directories removed; neither registers an exit handler.
    When nothing was left, or flushing fails (a closed pipe), the exit is Python's own, as before.

    The program runs NumPy's OpenBLAS with one thread unless the user's environment says otherwise
    (``OPENBLAS_NUM_THREADS``, read once when OpenBLAS loads, OpenBLAS's README "Setting the number of
    threads using environment variables"): hairpin makes no BLAS call, and the threads OpenBLAS starts as
    ``import numpy`` loads it wait for work by spinning, 0.1 s of CPU time on 2 cores (``python -c 'import
    numpy'``: 0.19-0.22 s of CPU against 0.08-0.11 s with one thread, NumPy 2.4.6, OpenBLAS 0.3.31,
    2026-12-03), paid by every ``check`` of a large YAML List and every ``pcap``."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _program.append(True)
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        try:  # output still buffered for a pipe that closed meanwhile: exit 141 as above, not the command's code
            sys.stdout.flush()
        except BrokenPipeError:
            _stdout_gone()
            code = PIPE_CLOSED
        except (OSError, ValueError):
            pass
        if not LEFT_TO_EXIT or not (code is None or isinstance(code, int)):
            if code is exc.code:
                raise
            raise SystemExit(code) from None
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            raise SystemExit(code) from None
        os._exit(code or 0)
    finally:
        _program.clear()


if __name__ == "__main__":
    entry()
