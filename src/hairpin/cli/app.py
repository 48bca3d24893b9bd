"""``hairpin``'s typer app: every command module registered, and the command tree walked for usage
errors (``flag_given_a_value``, ``usage``).  :mod:`hairpin.cli.main` imports it only when a command line
needs typer (every one but the plainest ``hairpin pcap``).

Conventions every command follows (docs/cli.md): ``--version``; shell completion
(``--install-completion``); boolean options are plain flags (no value: ``--only-at-risk true`` is refused
in one line instead of reading ``true`` as a file); exit code 0 nothing found, 1 a finding, 2 bad input.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

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

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        bad = given_twice(self.get_params(ctx), args)
        if bad is not None:
            from hairpin.errors import InputError

            raise InputError(bad)
        return list(super().parse_args(ctx, args))


def given_twice(params: list[Any], args: list[str]) -> str | None:
    """``--fix a --fix b``: the one-line error for an option that takes one value given two different ones
    (click keeps the last silently, so ``reproduce --fix ip-targets --fix cluster-ip`` ran cluster-ip alone
    and said nothing), else None.  Options that take several (``sweep --grid``) and flags are left alone."""
    single: dict[str, Any] = {}
    for p in params:
        if getattr(p, "param_type_name", "") == "option" and p.nargs == 1 and not (p.multiple or p.is_flag or p.count):
            single.update(dict.fromkeys(p.opts, p))
    seen: dict[str, tuple[str, str]] = {}  # the option's name -> (the spelling used first, its value)
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            break
        name, eq, value = a.partition("=") if a.startswith("--") else (a[:2], "=" if len(a) > 2 else "", a[2:])
        p = single.get(name)
        if p is None or not a.startswith("-"):
            i += 1
            continue
        if not eq:
            if i + 1 >= len(args):
                break  # click names the missing value
            value = args[i + 1]
            i += 1
        i += 1
        first = seen.setdefault(p.name, (name, value))
        if first[1] != value:
            return f"{name} given twice ({first[1]!r}, then {value!r}): it takes one value; give it once"
    return None


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


def flag_given_a_value(argv: list[str]) -> str | None:
    """``--flag true``: the one-line error for a boolean flag followed by a truth word, else None."""
    if not any(a.startswith("-") and b.lower() in _BOOL_WORDS for a, b in itertools.pairwise(argv)):
        return None  # every flag's name starts with '-': no such pair, no error (and no command tree built)
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


def one_line(message: str) -> str:
    return " ".join(message.split())


def usage(argv: list[str]) -> str:
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
