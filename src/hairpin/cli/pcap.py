"""``hairpin pcap``: find hairpinned connections (and their look-alikes) in pcap/pcapng captures, or in a
live stream (``-``).

Exit code 1: at least one hairpin found (and only then); otherwise 2 when a file gave no answer (not a
capture, malformed, or no TCP packet in it: one ``hairpin: error:`` line each, the other files still
analysed); otherwise 0.  Frames that were not read as TCP and captures cut short are one
``hairpin: warning:`` line each on stderr.

The command itself (without typer) is :func:`hairpin.cli.pcap_run.run`; this module declares its arguments,
options and help for typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hairpin.cli.pcap_run import FORMATS

__all__ = ["FORMATS", "pcap", "register"]


def register(app: typer.Typer) -> None:
    app.command("pcap")(pcap)


def pcap(
    files: Annotated[
        list[Path],
        typer.Argument(help="pcap or pcapng files (read together, merged by time); a directory or tarball (a Retina "
                       "capture) stands for the captures in it; '-': a live stream."),
    ],
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    svg: Annotated[Path | None, typer.Option(help="Sequence diagram of the first hairpinned connection.")] = None,
    html: Annotated[Path | None, typer.Option(help="Self-contained HTML report.")] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the text or JSON to this file ('-': stdout).")
    ] = None,
    vxlan_port: Annotated[list[int] | None, typer.Option("--vxlan-port", help="Also open UDP to this port as "
                          "VXLAN (4789 and 8472 always are); repeatable.")] = None,
    every: Annotated[float, typer.Option(help="Live stream (-): a running summary every this many seconds of "
                                              "capture time.")] = 60.0,
    max_listed: Annotated[int, typer.Option("--max-listed", help="List at most this many hairpins, and as many other "
                          "failures (the earliest by first SYN); all are counted.")] = 10_000,
) -> None:
    """Find connections whose SYN-ACK came back from an address the client did not call (the seed's failure)."""
    from hairpin.cli.pcap_run import run

    raise typer.Exit(run(files, format, svg, html, output, vxlan_port, every, max_listed))

