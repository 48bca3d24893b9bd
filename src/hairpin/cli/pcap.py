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
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from hairpin.errors import InputError, ParseError

if TYPE_CHECKING:
    from hairpin.diagnose.capture import Analysis

FORMATS = ("text", "json")


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
    from hairpin.cli.common import check_format, check_output, emit, emit_raw, read_progress, write
    from hairpin.diagnose.capture import analyse_files

    format = check_format(format, FORMATS)
    from hairpin.parsers.frames import VXLAN_PORTS

    ports = set(vxlan_port or ())
    if any(not 0 < p < 65536 for p in ports):
        raise InputError(f"--vxlan-port must be a UDP port (1-65535), got {sorted(ports)}")
    vxlan = VXLAN_PORTS | ports
    if max_listed < 1:
        raise InputError(f"--max-listed must be at least 1, got {max_listed}")
    for out_path in (svg, html, output):
        check_output(out_path)
    if "-" in (str(f) for f in files):
        if len(files) != 1 or svg is not None or html is not None or output is not None:
            raise InputError("a live stream (-) is read alone, without --svg, --html or -o")
        _live(format, vxlan, every)
    with tempfile.TemporaryDirectory(prefix="hairpin-pcap.") as work:
        paths, names = _expand(files, Path(work))
        with read_progress(paths, "reading captures"):  # on a terminal: bytes read so far
            try:
                result = analyse_files(paths, vxlan, listed=max_listed)
            except ParseError as e:  # named as the user knows it, not by its temporary copy
                raise ParseError(e.message, names.get(e.file or "", e.file), e.line) from None
    result.files = [replace(f, file=names.get(f.file, f.file)) for f in result.files]
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
    _finish(result)


def _expand(files: list[Path], work: Path) -> tuple[list[Path], dict[str, str]]:
    """Each bundle (a directory or tarball: a Retina capture, a collect tarball) replaced by the captures in it,
    and the names to show for those read from a temporary copy (``BUNDLE:MEMBER``)."""
    from hairpin.collect import capture_files, is_bundle

    paths: list[Path] = []
    shown: dict[str, str] = {}
    for i, f in enumerate(files):
        if not is_bundle(f):
            paths.append(f)
            continue
        into = work / str(i)
        into.mkdir()
        for path, name in capture_files(f, into):
            paths.append(path)
            shown[str(path)] = name
    return paths, shown


def _diagnosis(result: Any) -> str:
    bad = getattr(result, "errors", [])
    unread = f"; {len(bad)} input(s) could not be read (errors on stderr)" if bad else ""
    return _found(result) + unread


def _found(result: Any) -> str:
    n = result.hairpin_count
    if n:
        return (f"hairpin pcap: {n} connection{'s' if n != 1 else ''} hairpinned: the SYN-ACK came back from an "
                "address the client did not call, and the client reset it")  # fmt: skip
    if result.others:
        n = sum(result.other_failures.values())
        return f"hairpin pcap: no hairpin, but {n} failed connection(s) of other kinds (below)"
    return f"hairpin pcap: no hairpinned or failed connection in {result.packets} TCP packets"


def _next_step(result: Any) -> str:
    if getattr(result, "errors", []) and not result.hairpins:
        return "Next: fix or drop the inputs named on stderr and run hairpin pcap again"
    if result.hairpins:
        return ("Next: find the Service behind the called address (hairpin check DUMP or --live) and trace the "
                "node's rules: hairpin trace --node DIR PACKET --reply")  # fmt: skip
    return "Next: capture on the calling pod's node while the timeouts happen (tcpdump -i any -w FILE), then run it again"


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
