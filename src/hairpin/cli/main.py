"""``hairpin``'s entry point: builds the typer app from each command module and turns bad input into
one line on stderr with exit code 2 (never a traceback)."""

from __future__ import annotations

import sys

import typer

from hairpin.errors import HairpinError, InputError

app = typer.Typer(
    name="hairpin",
    help="Rebuild the data path of Kubernetes Services on AWS packet by packet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print hairpin's version and exit."),
    max_input: str | None = typer.Option(
        None,
        "--max-input",
        metavar="SIZE",
        help="Largest input file or stream read (bytes, or with K/M/G; default 512M, env HAIRPIN_MAX_INPUT).",
    ),
    max_depth: int | None = typer.Option(
        None, "--max-depth", metavar="N", help="Deepest YAML nesting accepted (default 100, env HAIRPIN_MAX_DEPTH)."
    ),
) -> None:
    """Rebuild the data path of Kubernetes Services on AWS packet by packet."""
    from hairpin import reading

    reading.set_limits(reading.parse_size(max_input, "--max-input") if max_input is not None else None, max_depth)
    if version:
        from hairpin import __version__

        print(f"hairpin {__version__}")
        raise typer.Exit(0)


def _register() -> None:
    from hairpin.cli import check, lab, pcap, reproduce, scenario, sweep, trace

    for module in (reproduce, trace, lab, check, pcap, scenario, sweep):
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI.  InputError -> one line, exit 2; other HairpinError -> one line, exit 1."""
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        if exc.code == 130 and _interrupted(exc):  # typer turns Ctrl-C into a silent exit 130: say so
            print("hairpin: interrupted", file=sys.stderr)
        raise
    except InputError as exc:
        print(f"hairpin: error: {exc.one_line()}", file=sys.stderr)
        sys.exit(2)
    except HairpinError as exc:
        print(f"hairpin: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("hairpin: interrupted", file=sys.stderr)
        sys.exit(130)


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while handling a KeyboardInterrupt (its cause or context chain)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


if __name__ == "__main__":
    main()
