"""``hairpin``'s entry point: builds the typer app from each command module and turns bad input into
one line on stderr with exit code 2 (never a traceback).

Conventions every command follows (docs/cli.md): ``--version``; shell completion
(``--install-completion``); boolean options are plain flags (no value: ``--only-at-risk true`` is refused
in one line instead of reading ``true`` as a file); exit code 0 nothing found, 1 a finding, 2 bad input.
"""

from __future__ import annotations

import itertools
import signal
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

from hairpin.errors import HairpinError, InputError

_BOOL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "1", "0"})


def _plain_flags(params: list[Any]) -> list[Any]:
    """Flags take no value, so their help shows none (typer prints ``<bool>`` otherwise)."""
    for p in params:
        if getattr(p, "is_flag", False) and getattr(p, "metavar", None) is None:
            p.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


def _version(value: bool) -> None:
    if value:
        from hairpin import __version__

        print(f"hairpin {__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    name="hairpin",
    help="Rebuild the data path of Kubernetes Services on AWS packet by packet.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=_Group,
    epilog="Exit codes, every command: 0 nothing found, 1 a finding, 2 bad input (docs/cli.md).",
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print hairpin's version and exit.", callback=_version, is_eager=True),
    ] = False,
    max_input: Annotated[
        str | None,
        typer.Option(
            "--max-input",
            metavar="SIZE",
            help="Largest input file or stream read (bytes, or with K/M/G; default 512M, env HAIRPIN_MAX_INPUT).",
        ),
    ] = None,
    max_depth: Annotated[
        int | None,
        typer.Option(
            "--max-depth", metavar="N", help="Deepest YAML nesting accepted (default 100, env HAIRPIN_MAX_DEPTH)."
        ),
    ] = None,
) -> None:
    """Rebuild the data path of Kubernetes Services on AWS packet by packet."""
    from hairpin import reading

    reading.set_limits(reading.parse_size(max_input, "--max-input") if max_input is not None else None, max_depth)


def _adopt(t: typer.Typer) -> None:
    """Every command and group of ``t`` uses the classes above (plain flags in help)."""
    t.info.cls = _Group
    for c in t.registered_commands:
        c.cls = _Command
    for g in t.registered_groups:
        g.cls = _Group
        if g.typer_instance is not None:
            _adopt(g.typer_instance)


def _register() -> None:
    from hairpin.cli import check, lab, pcap, reproduce, scenario, sweep, trace

    for module in (reproduce, trace, lab, check, pcap, scenario, sweep):
        module.register(app)
    _adopt(app)


_register()


def _flag_given_a_value(argv: list[str]) -> str | None:
    """``--flag true``: the one-line error for a boolean flag followed by a truth word, else None."""
    from typer.main import get_command

    cmd: Any = get_command(app)
    words = [a for a in argv if not a.startswith("-")]
    for w in words:  # walk down the command path: hairpin lab run ...
        sub = getattr(cmd, "commands", {}).get(w) if hasattr(cmd, "commands") else None
        if sub is None:
            break
        cmd = sub
    flags = {o for p in cmd.params if getattr(p, "is_flag", False) for o in (*p.opts, *p.secondary_opts)}
    for a, b in itertools.pairwise(argv):
        if a in flags and b.lower() in _BOOL_WORDS:
            return f"{a} is a flag and takes no value (got {b!r}): write {a} alone"
    return None


def main(argv: list[str] | None = None) -> None:
    """Run the CLI.  InputError -> one line, exit 2; other HairpinError -> one line, exit 1."""
    args = list(sys.argv[1:] if argv is None else argv)
    interrupted: list[int] = []
    old = signal.getsignal(signal.SIGINT)
    if old is signal.default_int_handler:  # typer turns Ctrl-C into a silent exit 130: note it to say so

        def on_interrupt(signum: int, frame: Any) -> None:
            interrupted.append(signum)
            signal.default_int_handler(signum, frame)

        signal.signal(signal.SIGINT, on_interrupt)
    try:
        bad = _flag_given_a_value(args)
        if bad is not None:
            raise InputError(bad)
        code = app(args=args, prog_name="hairpin", standalone_mode=False)
    except TyperException as exc:  # a usage error: an unknown option, a missing or out-of-range value
        if type(exc).__name__ == "NoArgsIsHelpError":  # 'hairpin lab' alone: its help, as typer prints it
            app(args=args, prog_name="hairpin", standalone_mode=True)
        print(f"hairpin: error: {_one_line(exc.format_message())} (see {_usage(args)} --help)", file=sys.stderr)
        sys.exit(2)
    except InputError as exc:
        print(f"hairpin: error: {exc.one_line()}", file=sys.stderr)
        sys.exit(2)
    except HairpinError as exc:
        print(f"hairpin: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("hairpin: interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        if old is signal.default_int_handler:
            signal.signal(signal.SIGINT, old)
    if code == 130 and interrupted:
        print("hairpin: interrupted", file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _usage(argv: list[str]) -> str:
    """``hairpin CMD [SUB]``: the command path in ``argv``, for the --help hint."""
    from typer.main import get_command

    cmd: Any = get_command(app)
    path = ["hairpin"]
    for w in argv:
        if w.startswith("-"):
            break
        sub = getattr(cmd, "commands", {}).get(w) if hasattr(cmd, "commands") else None
        if sub is None:
            break
        path.append(w)
        cmd = sub
    return " ".join(path)


if __name__ == "__main__":
    main()
