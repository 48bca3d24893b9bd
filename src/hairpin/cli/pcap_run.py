"""What ``hairpin pcap`` does once its arguments are read, without typer (the typer declaration, its help
and option parsing are in :mod:`hairpin.cli.pcap`; :mod:`hairpin.cli.main` calls :func:`run` directly for
the plainest command lines, so the analysis of one big capture pays for no command tree).

Exit code (returned): 1 when at least one hairpin was found (and only then); otherwise 2 when a file gave
no answer (not a capture, malformed, or no TCP packet in it: one ``hairpin: error:`` line each, the other
files still analysed); otherwise 0.  Frames that were not read as TCP and captures cut short are one
``hairpin: warning:`` line each on stderr.  JSON written to a file imports neither rich nor typer, and
NumPy is imported with one OpenBLAS thread (``_numpy_one_blas_thread``).
"""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hairpin.errors import InputError, ParseError
from hairpin.gcpause import paused

if TYPE_CHECKING:
    from hairpin.diagnose.capture import Analysis

FORMATS = ("text", "json")


def run(files: list[Path], format: str = "text", svg: Path | None = None, html: Path | None = None,
        output: str | None = None, vxlan_port: list[int] | None = None, every: float = 60.0,
        max_listed: int = 10_000) -> int:  # fmt: skip
    """``hairpin pcap`` with its options as typer passes them; returns the exit code."""
    _numpy_one_blas_thread()
    from hairpin.cli.common import check_format, check_outputs, emit_raw, read_progress, write
    from hairpin.diagnose.capture import analyse_files

    format = check_format(format, FORMATS)
    from hairpin.parsers.frames import VXLAN_PORTS

    ports = set(vxlan_port or ())
    if any(not 0 < p < 65536 for p in ports):
        raise InputError(f"--vxlan-port must be a UDP port (1-65535), got {sorted(ports)}")
    vxlan = VXLAN_PORTS | ports
    if max_listed < 1:
        raise InputError(f"--max-listed must be at least 1, got {max_listed}")
    check_outputs({"--svg": svg, "--html": html, "--output": output}, files)
    _no_capture_replaced([svg, html, output], files)
    if "-" in (str(f) for f in files):
        if len(files) != 1 or svg is not None or html is not None or output is not None:
            raise InputError("a live stream (-) is read alone, without --svg, --html or -o")
        return _live(format, vxlan, every)
    with _workdir(files) as work:
        paths, names = (files, {}) if work is None else _expand(files, Path(work))
        # on a terminal: bytes read so far; the collector paused, as the analysis makes no reference cycles
        # (hairpin.gcpause): its passes over the rows' objects cost about 10 ms of a 2-million-packet capture
        with read_progress(paths, "reading captures"), paused():
            try:
                # the packets of each failed attempt are kept only for the pictures
                result = analyse_files(paths, vxlan, listed=max_listed, records=svg is not None or html is not None)
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
        from hairpin.render.json_out import dumps_indent1

        emit_raw(output, dumps_indent1(result.to_json()) + "\n")
    else:
        from rich.text import Text

        from hairpin.cli.common import emit

        emit(output, Text(_diagnosis(result), style="bold"), result, Text(_next_step(result), style="bold"))
    from hairpin.cli import LEFT_TO_EXIT

    LEFT_TO_EXIT.append(result)  # written and closed, the bundle's directory removed: freed by the process's end
    return _finish(result)


def _numpy_one_blas_thread() -> None:
    """Import NumPy with one OpenBLAS thread, unless it is imported already or the user set
    ``OPENBLAS_NUM_THREADS``: the analysis does no linear algebra, and starting OpenBLAS's thread pool costs
    about 0.05 s of CPU time (measured with NumPy 2.4's wheel on 2 cores), a tenth of a 2,000,000-packet
    run.  The environment is restored right after, so nothing started later inherits the setting."""
    if "numpy" in sys.modules or "OPENBLAS_NUM_THREADS" in os.environ:
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"  # read once, when OpenBLAS is loaded
    try:
        import numpy  # noqa: F401
    except ImportError:  # the streaming reader alone (hairpin.parsers.pcap.Reader.scan)
        pass
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]


def _no_capture_replaced(outputs: list[Path | str | None], files: list[Path]) -> None:
    """Refuse, in one line, an output that would replace a capture read from a directory given as input (the
    captures under it, found by content: ``collect.capture_files``): a file given by name is refused by
    ``check_outputs``; a report elsewhere in the directory is no capture, and the next run skips it."""
    from hairpin.parsers.pcap import MAGICS
    from hairpin.writing import read_from

    for path in outputs:
        for f in files:
            if str(f) == "-" or not read_from(path, f, tree=True):  # "-": standard input
                continue
            try:
                with open(str(path), "rb") as fh:  # through a link, as the walk reads it and the write replaces it
                    capture = fh.read(4) in MAGICS
            except OSError:  # a new file, or one this run could not read either
                capture = False
            if capture:
                raise InputError(f"cannot write: a capture inside {f}, given as input: the report would replace it "
                                 "(write it elsewhere)", str(path))  # fmt: skip


def _workdir(files: list[Path]) -> AbstractContextManager[str | None]:
    """A temporary directory for the bundles' captures, or None when every file is a capture itself (a regular
    file starting with a pcap or pcapng magic number: what ``hairpin.collect.is_bundle`` tests first), so the
    plainest command line imports neither ``hairpin.collect`` (tarfile, subprocess) nor ``tempfile``."""
    from hairpin.parsers.pcap import MAGICS

    def capture(f: Path) -> bool:
        try:
            if not f.is_file():  # a directory, a pipe, nothing: as before
                return False
            with f.open("rb") as fh:
                return fh.read(4) in MAGICS
        except OSError:
            return False

    if all(capture(f) for f in files):
        return nullcontext(None)
    import tempfile

    return tempfile.TemporaryDirectory(prefix="hairpin-pcap.")


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
    no_syn = getattr(result, "no_syn", 0)  # answers it could not judge: said, so the line is no plain all-clear
    unjudged = f"; {no_syn} answer{'s' if no_syn != 1 else ''} to SYNs not in the capture (warning on stderr)"
    clean = f"hairpin pcap: no hairpinned or failed connection in {result.packets} TCP packets"
    return clean + unjudged if no_syn else clean


def _next_step(result: Any) -> str:
    if getattr(result, "errors", []) and not result.hairpins:
        return "Next: fix or drop the inputs named on stderr and run hairpin pcap again"
    if result.hairpins:
        return ("Next: find the Service behind the called address (hairpin check DUMP or --live) and trace the "
                "node's rules: hairpin trace --node DIR PACKET --reply")  # fmt: skip
    return "Next: capture on the calling pod's node while the timeouts happen (tcpdump -i any -w FILE), then run it again"


def _finish(result: Analysis) -> int:
    for line in result.warnings():
        sys.stderr.write(f"hairpin: warning: {line}\n")
    for line in result.errors:
        sys.stderr.write(f"hairpin: error: {line}\n")
    return 1 if result.hairpins else 2 if result.errors else 0


def _live(format: str, vxlan: frozenset[int], every: float) -> int:
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
        from hairpin.render.json_out import dumps_indent1

        sys.stdout.write(dumps_indent1(result.to_json()) + "\n")
    return _finish(result)
