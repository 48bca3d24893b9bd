"""``hairpin pcap``: find hairpinned connections (and their look-alikes) in pcap/pcapng captures.

Exit code 0: no hairpin found; 1: at least one; 2: bad input (a file that is not a capture), one line.
A truncated or corrupt capture is analysed up to the damage and the output says where it stopped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

FORMATS = ("text", "json")


def register(app: typer.Typer) -> None:
    app.command("pcap")(pcap)


def pcap(
    files: Annotated[list[Path], typer.Argument(help="pcap or pcapng files (read together, merged by time).")],
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    svg: Annotated[Path | None, typer.Option(help="Sequence diagram of the first hairpinned connection.")] = None,
    html: Annotated[Path | None, typer.Option(help="Self-contained HTML report.")] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the text or JSON to this file ('-': stdout).")
    ] = None,
) -> None:
    """Find connections whose SYN-ACK came back from an address the client did not call (the seed's failure)."""
    from hairpin.cli.common import check_format, check_output, emit, emit_raw, read_progress, write
    from hairpin.diagnose.capture import analyse_files

    format = check_format(format, FORMATS)
    for out_path in (svg, html, output):
        check_output(out_path)
    with read_progress(files, "reading captures"):  # on a terminal: bytes read so far
        result = analyse_files(files)
    if svg is not None:
        from hairpin.render.capture import sequence_svg

        shown = result.hairpins[0] if result.hairpins else (result.others[0] if result.others else None)
        if shown is None:  # a clean capture: the analysis below says so, exit 0
            print(f"hairpin: {svg} not written: the capture holds no failed connection to draw", file=sys.stderr)
        else:
            write(svg, sequence_svg(shown))
    if html is not None:
        from hairpin.render.capture import report

        write(html, report(result, title=f"hairpin pcap {' '.join(str(f) for f in files)}"))
    if format == "json":
        emit_raw(output, json.dumps(result.to_json(), indent=1) + "\n")
    else:
        from rich.text import Text

        emit(output, Text(_diagnosis(result), style="bold"), result, Text(_next_step(result), style="bold"))
    raise typer.Exit(1 if result.hairpins else 0)


def _diagnosis(result: Any) -> str:
    n = len(result.hairpins)
    if n:
        return (f"hairpin pcap: {n} connection{'s' if n != 1 else ''} hairpinned: the SYN-ACK came back from an "
                "address the client did not call, and the client reset it")  # fmt: skip
    if result.others:
        return f"hairpin pcap: no hairpin, but {len(result.others)} failed connection(s) of other kinds (below)"
    return f"hairpin pcap: no hairpinned or failed connection in {result.packets} TCP packets"


def _next_step(result: Any) -> str:
    if result.hairpins:
        return ("Next: find the Service behind the called address (hairpin check DUMP or --live) and trace the "
                "node's rules: hairpin trace --node DIR PACKET --reply")  # fmt: skip
    return "Next: capture on the calling pod's node while the timeouts happen (tcpdump -i any -w FILE), then run it again"
