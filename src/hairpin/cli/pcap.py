"""``hairpin pcap``: find hairpinned connections (and their look-alikes) in pcap/pcapng captures, or in a
live stream (``-``).

Exit code 1: at least one hairpin found (and only then); otherwise 2 when a file gave no answer (not a
capture, malformed, or no TCP packet in it: one ``hairpin: error:`` line each, the other files still
analysed); otherwise 0.  Frames that were not read as TCP and captures cut short are one
``hairpin: warning:`` line each on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from hairpin.errors import InputError

if TYPE_CHECKING:
    from hairpin.diagnose.capture import Analysis

FORMATS = ("text", "json")


def register(app: typer.Typer) -> None:
    app.command("pcap")(pcap)


def pcap(
    files: Annotated[list[Path], typer.Argument(help="pcap or pcapng files (read together, merged by time).")],
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    svg: Annotated[Path | None, typer.Option(help="Sequence diagram of the first hairpinned connection.")] = None,
    html: Annotated[Path | None, typer.Option(help="Self-contained HTML report.")] = None,
    vxlan_port: Annotated[list[int] | None, typer.Option("--vxlan-port", help="Also open UDP to this port as "
                          "VXLAN (4789 and 8472 always are); repeatable.")] = None,
    every: Annotated[float, typer.Option(help="Live stream (-): a running summary every this many seconds of "
                                              "capture time.")] = 60.0,
) -> None:
    """Find connections whose SYN-ACK came back from an address the client did not call (the seed's failure)."""
    from hairpin.diagnose.capture import analyse_files
    from hairpin.writing import check_output, write_output

    if format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    from hairpin.parsers.frames import VXLAN_PORTS

    ports = set(vxlan_port or ())
    if any(not 0 < p < 65536 for p in ports):
        raise InputError(f"--vxlan-port must be a UDP port (1-65535), got {sorted(ports)}")
    vxlan = VXLAN_PORTS | ports
    check_output(svg)
    check_output(html)
    if "-" in (str(f) for f in files):
        if len(files) != 1 or svg is not None or html is not None:
            raise InputError("a live stream (-) is read alone, without --svg/--html")
        _live(format, vxlan, every)
    result = analyse_files(files, vxlan)
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
    _finish(result)


def _finish(result: Analysis) -> NoReturn:
    for line in result.warnings():
        sys.stderr.write(f"hairpin: warning: {line}\n")
    for line in result.errors:
        sys.stderr.write(f"hairpin: error: {line}\n")
    raise typer.Exit(1 if result.hairpins else 2 if result.errors else 0)


def _live(format: str, vxlan: frozenset[int], every: float) -> NoReturn:
    """Read standard input as it arrives; one line per hairpin and a running summary (stdout, or stderr
    when the final result is JSON)."""
    import signal

    from hairpin.diagnose.capture import watch

    out = sys.stderr if format == "json" else sys.stdout

    def report(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    signal.signal(signal.SIGINT, signal.default_int_handler)
    result = watch("-", report, every=every, vxlan=vxlan)
    if format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=1) + "\n")
    _finish(result)
