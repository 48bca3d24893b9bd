"""``hairpin pcap``: find hairpinned connections (and their look-alikes) in pcap/pcapng captures.

Exit code 0: no hairpin found; 1: at least one; 2: bad input (a file that is not a capture), one line.
A truncated or corrupt capture is analysed up to the damage and the output says where it stopped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from hairpin.errors import InputError

FORMATS = ("text", "json")


def register(app: typer.Typer) -> None:
    app.command("pcap")(pcap)


def pcap(
    files: Annotated[list[Path], typer.Argument(help="pcap or pcapng files (read together, merged by time).")],
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    svg: Annotated[Path | None, typer.Option(help="Sequence diagram of the first hairpinned connection.")] = None,
    html: Annotated[Path | None, typer.Option(help="Self-contained HTML report.")] = None,
) -> None:
    """Find connections whose SYN-ACK came back from an address the client did not call (the seed's failure)."""
    from hairpin.diagnose.capture import analyse_files
    from hairpin.writing import check_output, write_output

    if format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    check_output(svg)
    check_output(html)
    result = analyse_files(files)
    if svg is not None:
        from hairpin.render.capture import sequence_svg

        shown = result.hairpins[0] if result.hairpins else (result.others[0] if result.others else None)
        if shown is None:
            raise InputError("--svg: the capture holds no failed connection to draw", str(svg))
        write_output(svg, sequence_svg(shown))
    if html is not None:
        from hairpin.render.capture import report

        write_output(html, report(result, title=f"hairpin pcap {' '.join(str(f) for f in files)}"))
    if format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=1) + "\n")
    else:
        from rich.console import Console

        Console(width=None if sys.stdout.isatty() else 150).print(result)
    raise typer.Exit(1 if result.hairpins else 0)
