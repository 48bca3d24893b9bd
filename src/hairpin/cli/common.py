"""What every ``hairpin`` command shares: its ``--format`` values, ``-o/--output``, the ``wrote FILE`` line
on stderr, the console its text goes to, and the exit codes (0 nothing found, 1 a finding, 2 bad input;
docs/cli.md lists them command by command).

rich is imported only where text is laid out or a terminal may be there: JSON written to a file, off a
terminal, never imports it (start-up time).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hairpin.errors import InputError
from hairpin.render.markup import CONTROL, shown
from hairpin.text import digits
from hairpin.writing import check_output, check_outputs, read_from, write_output

__all__ = [
    "EXIT_BAD_INPUT", "EXIT_CLEAN", "EXIT_FINDING", "PIPE_WIDTH", "check_format", "check_output", "check_outputs", "emit", "emit_raw",
    "not_read_as_manifest", "read_progress", "text_width", "write", "wrote",
]  # fmt: skip

EXIT_CLEAN = 0
EXIT_FINDING = 1
EXIT_BAD_INPUT = 2

#: width of text written to a pipe or a file when $COLUMNS does not say (a terminal uses its own width)
PIPE_WIDTH = 150


def not_read_as_manifest(output: str | None, paths: Iterable[str], doing: str, what: str) -> None:
    """Refuse, in one line, an ``--output`` that a directory given as input holds under a name the manifest walk
    reads (``manifests.SUFFIXES``; ``check`` and ``scenario from-cluster``): this run would replace a file it read,
    and every later run on the directory would read ``what`` as a manifest (``not a Kubernetes object``, exit 2).
    The walk (``reading.files_under``) enters no symbolic link to a directory (:func:`hairpin.writing.read_from`).
    Any other name (``report.txt``) is skipped by the walk."""
    from hairpin.parsers.manifests import SUFFIXES

    if output is None or os.path.splitext(output)[1].lower() not in SUFFIXES:
        return
    if os.path.exists(output) and not os.path.isfile(output):  # a FIFO or a device: the walk reads no such file
        return
    for given in paths:
        if given != "-" and read_from(output, given, tree=True):
            raise InputError(f"cannot write: inside {given}, given as input: {doing} would read {what} as a "
                             "manifest (write it elsewhere, or to a name not ending in .yaml, .yml or .json)",
                             output)  # fmt: skip


def check_format(value: str, allowed: Iterable[str], aliases: dict[str, str] | None = None) -> str:
    """The ``--format`` value, with an old name mapped to its new one; anything else: one line, exit 2."""
    names = tuple(allowed)
    value = (aliases or {}).get(value, value)
    if value not in names:
        raise InputError(f"--format must be one of {', '.join(names)}, got {value!r}")
    return value


def wrote(path: str | Path, what: str = "") -> None:
    """``wrote FILE`` on stderr, for every file a command writes (nothing for ``-``: that is stdout); a control or
    bidi character in it (a node's name in ``scenario nodes``' directories) shown, not sent to the terminal."""
    if str(path) != "-":
        print(shown(f"wrote {path}" + (f" ({what})" if what else "")), file=sys.stderr)


def write(path: str | Path, data: str | bytes, what: str = "", *, links: bool = True) -> None:
    """:func:`hairpin.writing.write_output`, then ``wrote FILE`` on stderr."""
    write_output(path, data, links=links)
    wrote(path, what)


def _width() -> int | None:
    """None (rich measures the terminal) on a terminal; $COLUMNS if set; else :data:`PIPE_WIDTH`."""
    if sys.stdout.isatty():
        return None
    cols = os.environ.get("COLUMNS", "")
    return int(cols) if digits(cols) and int(cols) > 0 else PIPE_WIDTH


def text_width(output: str | Path | None = None) -> int:
    """The width text for ``output`` is laid out in: the terminal's, $COLUMNS, or :data:`PIPE_WIDTH`."""
    if output is not None and str(output) != "-":
        return _width() or PIPE_WIDTH
    from rich.console import Console

    return Console(width=_width()).width


class _Clean:
    """A renderable's text with control characters shown as ``\\xNN`` and bidi controls as ``\\u202e`` (its
    styles, rich's own control segments, are kept): a dump or rule file cannot move the cursor, recolour the
    terminal or draw a name reversed (``hairpin.render.markup.CONTROL``, the rule the HTML and SVG use)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.segment import Segment

        for seg in console.render(self.inner, options):
            if seg.control is None and CONTROL.search(seg.text):  # text from the user's files (hairpin.render.markup)
                yield Segment(shown(seg.text), seg.style)
            else:
                yield seg


def clean(renderable: Any) -> Any:
    """``renderable`` for a Console of the caller's own (stderr): its text from the user's files shown as
    :func:`emit` shows it (``\\x1b``, ``\\u202e``)."""
    return _Clean(renderable)


def _next_step(r: Any) -> bool:
    """The last line, ``Next: ...``: printed whole on a terminal too (the terminal wraps it on screen), since it
    often holds a command to copy, which a line broken by rich would cut."""
    return str(r.plain if hasattr(r, "plain") else r).startswith("Next: ")


def _stdout_console(**kwargs: Any) -> Any:
    """rich's Console on stdout, with a closed pipe raised as ``BrokenPipeError`` (``hairpin.cli.main``
    ends the program with 141) instead of rich's ``on_broken_pipe``, which exits 1: "a finding"."""
    from rich.console import Console

    class Stdout(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return Stdout(**kwargs)


def emit(output: str | Path | None, *renderables: Any, lines: bool = False) -> None:
    """Print rich renderables (or strings) to stdout, or, with ``-o FILE``, write them as plain text.

    ``lines``: the renderables are lines of text (rules, packets) kept whole on a pipe or in a file, so
    they stay greppable; a terminal wraps them.  Plain strings and ``Text`` (the one-line diagnosis, the
    next step) are always kept whole off a terminal."""
    from rich.console import Console
    from rich.text import Text

    if output is None or str(output) == "-":
        out = _stdout_console(width=_width())
        for r in renderables:  # uncropped: a verbatim line (hairpin.render.text.verbatim) goes out whole
            whole = isinstance(r, str | Text) and (not out.is_terminal or _next_step(r))
            out.print(_Clean(r), soft_wrap=whole or (lines and not out.is_terminal), crop=False)
        return
    buf = io.StringIO()
    con = Console(file=buf, width=_width() or PIPE_WIDTH, color_system=None, force_terminal=False)
    for r in renderables:
        con.print(_Clean(r), soft_wrap=lines or isinstance(r, str | Text), crop=False)
    write(output, buf.getvalue())


def emit_raw(output: str | Path | None, text: str) -> None:
    """JSON, SARIF, CSV: to stdout, or written whole to ``-o FILE``."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return
    write(output, text)


def _bytes_read() -> int | None:
    """Bytes this process has read so far (``rchar`` of /proc/self/io, Linux), else None."""
    try:
        with open("/proc/self/io", encoding="ascii") as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _may_be_terminal(stream: Any) -> bool:
    """False only when rich's ``Console.is_terminal`` is False for certain: no ``TTY_COMPATIBLE`` or
    ``FORCE_COLOR`` in the environment (either can force a terminal) and the stream is no tty."""
    if "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed: rich says no terminal too
        return False


@contextlib.contextmanager
def read_progress(paths: Iterable[str | Path], label: str = "reading") -> Iterator[None]:
    """A bytes-read progress bar on stderr while the block reads ``paths``: on a terminal only, nothing on
    a pipe.  Counted from the process's own read counter (no hook into the reader), so it is approximate
    and stops at the files' total size."""
    if not _may_be_terminal(sys.stderr):
        yield
        return
    from rich.console import Console

    err = Console(stderr=True)
    start = _bytes_read()
    sizes = []
    for p in paths:
        try:
            sizes.append(os.stat(p).st_size)
        except OSError:
            sizes.append(0)
    if not err.is_terminal or start is None or sum(sizes) == 0:
        yield
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    total = sum(sizes)
    stop = threading.Event()
    with Progress(TextColumn(label), BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as bar:  # fmt: skip
        task = bar.add_task(label, total=total)

        def poll() -> None:
            while not stop.wait(0.25):
                now = _bytes_read()
                if now is not None:
                    bar.update(task, completed=min(total, now - start))

        t = threading.Thread(target=poll, daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join()


def say(kind: str, text: str) -> None:
    """``hairpin: KIND: TEXT`` on stderr, its control and bidi characters shown (names from the user's files are in
    many a warning and note)."""
    print(shown(f"hairpin: {kind}: {text}"), file=sys.stderr)


def warn_scenario(scenario: Any) -> None:
    """On stderr, ``hairpin: warning: FILE:LINE: key: ...`` for each line of ``Scenario.warnings`` (what a valid
    file says that is most likely a mistake: ``hairpin.scenario_checks``)."""
    for line in scenario.warnings:
        say("warning", line)


def note_unchecked(scenario: Any) -> None:
    """On stderr, the scenario's warnings (:func:`warn_scenario`), then a warning when the scenario's kube-proxy is
    newer than any release its rules were checked against (``hairpin.kube.layout.unchecked``) or its VPC CNI newer
    than any release its rules were read from (the model may be wrong for that release, as ``hairpin check`` warns
    of the same kube-proxy), a note when its ``cni.version`` takes the rules of an older release that wrote the same
    ones (``hairpin.kube.cni_layout.note``), and a note for each NLB with instance targets in an IPv6 scenario
    (``hairpin.scenario6.notes``)."""
    from hairpin.kube import cni_layout
    from hairpin.kube.layout import unchecked

    warn_scenario(scenario)
    note = unchecked(scenario.kube_proxy.mode, scenario.kube_proxy.version)
    if note is not None:
        say("warning", note)
    note = cni_layout.note(scenario.cni.version)  # a VPC CNI release that takes another release's rules
    if note is not None:
        newer = cni_layout.parse_version(scenario.cni.version)[1] > cni_layout.NEWEST_READ
        say("warning" if newer else "note", note)
    from hairpin.scenario6 import notes as ipv6_notes

    for note in ipv6_notes(scenario):  # an IPv6 scenario's instance targets, which AWS may refuse
        say("note", note)


def versions_and_live(
    objects: list[Any],
    kubernetes_version: str | None,
    cloud_provider_version: str | None,
    live: bool,
    kubeconfig: str | None,
    context: str | None,
) -> tuple[Any, str, Any]:
    """``check``'s and ``from-cluster``'s versions and live objects: (Kubernetes version, where it comes from,
    the cloud provider's version).  ``--kubernetes-version`` wins; with ``--live``/``--kubeconfig``/``--context``
    the cluster's objects are appended to ``objects`` and, without the flag, the API server's /version is read."""
    from hairpin.aws.cloud_provider import parse_version
    from hairpin.kube.live import live_objects
    from hairpin.kube.version import live_server_version

    kube = parse_version(kubernetes_version) if kubernetes_version is not None else None
    provider = parse_version(cloud_provider_version, "--cloud-provider-version") if cloud_provider_version else None
    kube_from = "--kubernetes-version" if kube is not None else ""
    if live or kubeconfig or context:
        objects.extend(live_objects(kubeconfig, context))
        got = live_server_version(kubeconfig, context) if kube is None else None
        if got is not None:
            kube, kube_from = got
    return kube, kube_from, provider
