"""Every file hairpin reads comes in through here: bounded, decoded, and refused in one line when hostile.

What this module knows:

- **Size.**  A file (or standard input, a pipe, a device) is read in chunks up to a limit, 512 MiB unless
  ``HAIRPIN_MAX_INPUT`` or the global option ``hairpin --max-input SIZE`` says otherwise (``SIZE`` in bytes
  or with a ``K``/``M``/``G`` suffix).  A regular file known to be larger is refused before it is read;
  an endless stream (``/dev/zero``, ``yes |``) is refused once the limit is passed, so memory stays bounded.
- **Compression.**  A file or stream compressed with gzip, bzip2 or xz (told by its first bytes, not its
  name: :func:`compression`) is decompressed as it is read, and what it holds once decompressed is held to
  the same limit, so a compression bomb costs at most the limit's worth of decompression.  zstd is named and
  refused (Python 3.11 has no zstd module).
- **Text.**  Text inputs must be UTF-8 (a leading byte-order mark is dropped) without NUL bytes; the error
  names the line and byte.  Line endings are normalised to ``\\n`` as Python's text mode would.
- **YAML.**  A document's event stream is checked before it is composed (manifests: as it is composed, in
  the same pass, by ``hairpin.parsers.compose``, which counts exactly as :func:`check_yaml_events`): nesting deeper than
  ``HAIRPIN_MAX_DEPTH`` (``--max-depth``, default 100) is refused with the line where it occurs (libyaml's C
  composer recurses once per level, so an unchecked deep document can crash the interpreter).  Aliases
  (``*name``) are how a few kilobytes become gigabytes ("billion laughs"): scenario files and kubeconfigs
  never need them and any alias is refused; manifests may use YAML 1.1 merge keys (``<<: *base``), so there
  aliases are accepted while the nodes they stand for, counted without building anything, stay under
  :data:`ALIAS_NODES` per document.  Reader errors (control characters) and syntax errors are one line with the line number.
- **JSON.**  Python's decoder refuses nesting beyond the interpreter's recursion limit (about 1,000 levels)
  with ``RecursionError``; :func:`json_error` turns that, and any ``JSONDecodeError``, into one line.
- **Excerpts.**  An error that quotes input quotes at most :data:`EXCERPT` characters of it
  (:func:`excerpt`); :class:`hairpin.errors.InputError` also caps every message.

Every error is a :class:`hairpin.errors.ParseError` or :class:`~hairpin.errors.InputError` naming the file
(``<stdin>`` for ``-``), so the CLI prints ``hairpin: error: FILE:LINE: what`` and exits 2.
"""

from __future__ import annotations

import functools
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import yaml

from hairpin.errors import InputError, ParseError
from hairpin.text import digits

__all__ = [
    "ALIAS_NODES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_INPUT",
    "DEPTH_ENV",
    "EXCERPT",
    "MAGIC_BYTES",
    "SIZE_ENV",
    "YAML_LOADER",
    "alias_bomb_error",
    "check_yaml_events",
    "compression",
    "decompressed",
    "depth_error",
    "display_name",
    "excerpt",
    "files_under",
    "human_size",
    "json_depth",
    "json_error",
    "load_yaml",
    "long_number",
    "max_depth",
    "max_input",
    "number_error",
    "opener",
    "parse_size",
    "read_bytes",
    "read_text",
    "refusing_long_numbers",
    "set_limits",
    "too_big",
    "too_deep",
    "too_much_decompressed",
    "undecompressed",
    "yaml_error",
]

SIZE_ENV = "HAIRPIN_MAX_INPUT"
DEPTH_ENV = "HAIRPIN_MAX_DEPTH"
DEFAULT_MAX_INPUT = 512 << 20
DEFAULT_MAX_DEPTH = 100
#: Where aliases are accepted (manifests), the most nodes they may stand for in one document.
ALIAS_NODES = 100_000
#: At most this many characters of an offending input are quoted in an error.
EXCERPT = 60
_CHUNK = 1 << 20

_limits: dict[str, int] = {}  # set by set_limits (the CLI's global options), over the environment


def parse_size(text: str, what: str = "size") -> int:
    """``"512M"`` -> 536870912; bytes or a K/M/G/T suffix (powers of 1024, an optional ``i``/``B``)."""
    m = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if m is None:
        raise InputError(f"{what} must be a number of bytes, optionally with K, M or G, got {excerpt(str(text))}")
    return int(m.group(1)) << (10 * " kmgt".index(m.group(2).lower() or " "))


def _env_int(name: str, default: int, size: bool) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    if size:
        return parse_size(raw, name)
    if not digits(raw.strip()):
        raise InputError(f"{name} must be a whole number, got {excerpt(raw)}")
    return int(raw)


def max_input() -> int:
    """The largest input, in bytes, hairpin reads from one file or stream."""
    return _limits.get("size") or _env_int(SIZE_ENV, DEFAULT_MAX_INPUT, True)


def max_depth() -> int:
    """The deepest nesting of mappings and lists accepted in a YAML document."""
    return _limits.get("depth") or _env_int(DEPTH_ENV, DEFAULT_MAX_DEPTH, False)


def set_limits(size: int | None = None, depth: int | None = None) -> None:
    """Override the limits for this process (the CLI's ``--max-input`` and ``--max-depth``); None: the
    environment's or the default."""
    _limits.clear()
    if size is not None:
        if size < 1:
            raise InputError(f"--max-input must be at least 1 byte, got {size}")
        _limits["size"] = size
    if depth is not None:
        if depth < 1:
            raise InputError(f"--max-depth must be at least 1, got {depth}")
        _limits["depth"] = depth


def human_size(n: int) -> str:
    """``n`` bytes as people write a limit: ``512 MiB``, ``1 GiB``, else ``N bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """``text`` quoted (``repr``) and cut to about ``limit`` characters: safe to put in a one-line error."""
    if len(text) > limit:
        return repr(text[:limit]) + f"... ({len(text)} characters)"
    return repr(text)


def display_name(path: str | Path) -> str:
    """The name errors use: ``<stdin>`` for ``-``, else the path as given."""
    return "<stdin>" if str(path) == "-" else str(path)


def too_big(name: str, limit: int) -> InputError:
    return InputError(
        f"larger than the input limit of {human_size(limit)} (raise it with hairpin --max-input SIZE or {SIZE_ENV})",
        name,
    )


#: the first bytes of each compressed format hairpin opens: gzip (RFC 1952, 2.3.1: ID1 ID2 and the deflate
#: method), xz (the .xz file format 1.2.0, 2.1.1.1: the header magic bytes), and bzip2 (``BZh``, the block size
#: digit, then the first block's magic, 0x314159265359, or the end of stream's, 0x177245385090, as bzip2's own
#: sources write them): the whole signature, since ``BZh`` alone could begin a text file
_MAGICS = ((re.compile(rb"\x1f\x8b\x08"), "gzip"), (re.compile(rb"\xfd7zXZ\x00"), "xz"),
           (re.compile(rb"BZh[1-9](?:\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90)"), "bzip2"))  # fmt: skip
#: zstd's frame magic number (RFC 8878, 3.1.1, little-endian 0xFD2FB528)
_ZSTD = b"\x28\xb5\x2f\xfd"
#: bytes enough to tell every format above
MAGIC_BYTES = 10


def compression(head: bytes) -> str | None:
    """``gzip``, ``bzip2`` or ``xz`` when ``head`` (a file's first ``MAGIC_BYTES`` bytes or more) starts a
    stream of that format, else None."""
    for rx, kind in _MAGICS:
        if rx.match(head):
            return kind
    return None


def opener(kind: str) -> Callable[[Any], IO[bytes]]:
    """The reader class of a ``compression()`` format, opened on a path or a binary file object."""
    import bz2
    import gzip
    import lzma

    return cast(Callable[[Any], IO[bytes]], {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}[kind])


def decompressed(data: bytes, kind: str, name: str, limit: int) -> bytes:
    """``data`` (a whole ``kind`` stream, several concatenated streams too, as gunzip reads them) decompressed,
    at most ``limit`` bytes of it, else one InputError naming ``name``: past the limit, truncated or damaged."""
    import io
    import lzma
    import zlib

    try:
        with opener(kind)(io.BytesIO(data)) as f:
            out = f.read(limit + 1)
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
        raise InputError(undecompressed(kind, exc), name) from None
    if len(out) > limit:
        raise InputError(too_much_decompressed(limit), name)
    return out


def undecompressed(kind: str, exc: BaseException) -> str:
    """What is said of a ``kind`` (gzip, bzip2, xz) input its decompressor stops on: cut short (``EOFError``:
    the stream ends before its end marker) or damaged (its own words: a bad CRC, an invalid block...)."""
    return f"not a readable {kind} file: " + ("truncated" if isinstance(exc, EOFError) else f"damaged ({exc})")


def too_much_decompressed(limit: int) -> str:
    """What is said of a compressed input (a file, a tarball) that holds more than ``limit`` bytes."""
    return (f"more than {human_size(limit)} once decompressed (a compression bomb?; raise the limit with hairpin "
            f"--max-input SIZE or {SIZE_ENV})")  # fmt: skip


def _no_nul(data: bytes, name: str) -> None:
    nul = data.find(b"\0")
    if nul >= 0:
        raise ParseError(f"not a text file: NUL byte at byte {nul}", name, data.count(b"\n", 0, nul) + 1)


def _read_stream(fh: IO[bytes], name: str, limit: int, text: bool, size: int = 0) -> bytes:
    """Everything ``fh`` holds (``size``: what a regular file's size says, read in one piece when it is
    below the limit), at most ``limit`` bytes; with ``text``, no NUL byte, and a gzip, bzip2 or xz stream
    decompressed (at most ``limit`` bytes of it too)."""
    parts: list[bytes] = []
    total = 0
    packed: str | None = None
    while True:
        chunk = fh.read(min(max(size + 1 - total, _CHUNK), limit + 1 - total))
        if not chunk:
            break
        if text and total == 0:
            while len(chunk) < MAGIC_BYTES:  # (a pipe may give the first bytes a few at a time)
                more = fh.read(MAGIC_BYTES - len(chunk))
                if not more:
                    break
                chunk += more
            packed = compression(chunk)
            if chunk.startswith(_ZSTD):
                raise InputError("zstd-compressed: hairpin opens gzip, bzip2 and xz files; decompress it first "
                                 "(zstd -d FILE)", name)  # fmt: skip
            if packed is not None or chunk.startswith(UTF16_BOMS):
                text = False  # compressed: its text is checked once decompressed.  UTF-16: every ASCII
                # character holds a zero byte; read_text looks for NUL characters
        if text and b"\0" in chunk:
            _no_nul(b"".join([*parts, chunk]), name)
        parts.append(chunk)
        total += len(chunk)
        if total > limit:
            raise too_big(name, limit)
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    if packed is None:
        return data
    del parts
    try:
        data = decompressed(data, packed, name, limit)
    except InputError:
        if packed == "bzip2" and b"\0" not in data and data.isascii():
            return data  # text that happens to start as bzip2 does ("BZh91AY&SY"): a bzip2 stream is binary
        raise
    if not data.startswith(UTF16_BOMS):
        _no_nul(data, name)
    return data


def read_bytes(path: str | Path, *, text: bool = False) -> bytes:
    """The content of ``path`` (``-``: standard input), at most ``max_input()`` bytes, else one InputError."""
    name = display_name(path)
    limit = max_input()
    try:
        if str(path) == "-":
            return _read_stream(sys.stdin.buffer, name, limit, text)
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise InputError("cannot read: Is a directory", name)
            if stat.S_ISREG(st.st_mode) and st.st_size > limit:
                raise too_big(name, limit)
            return _read_stream(fh, name, limit, text, st.st_size if stat.S_ISREG(st.st_mode) else 0)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", name) from None
    except MemoryError:
        raise InputError(f"out of memory reading it (lower hairpin --max-input, now {human_size(limit)})", name) from None


#: the byte-order marks of UTF-16 little- and big-endian text
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _utf16(data: bytes, name: str) -> str:
    """UTF-16 text with its byte-order mark, decoded; a bad code unit or a NUL character is one ParseError."""
    try:
        out = data.decode("utf-16")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].decode("utf-16", "replace").count("\n") + 1
        raise ParseError(f"not UTF-16 text (byte {exc.start}; it starts with a UTF-16 byte-order mark)", name,
                         line) from None  # fmt: skip
    nul = out.find("\0")
    if nul >= 0:
        line = out.count("\n", 0, nul) + 1
        raise ParseError(f"not a text file: NUL character at character {nul} (UTF-16)", name, line)
    return out.replace("\r\n", "\n").replace("\r", "\n") if "\r" in out else out


def read_text(path: str | Path) -> str:
    """The UTF-8 text of ``path`` (``-``: standard input), bounded like :func:`read_bytes`.

    Not UTF-8, or a NUL byte: one ParseError with the line and byte.  ``\\r\\n`` and ``\\r`` become ``\\n``.  Text
    that starts with a UTF-16 byte-order mark (what Windows PowerShell 5.1's ``>`` writes) is read as UTF-16, as
    kubectl reads it (k8s.io/cli-runtime, ``resource.FileVisitor``: ``unicode.BOMOverride``)."""
    data = read_bytes(path, text=True)
    if data.startswith(UTF16_BOMS):
        return _utf16(data, display_name(path))
    try:
        out = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParseError(f"not UTF-8 text (byte {exc.start})", display_name(path), line) from None
    if "\r" in out:
        out = out.replace("\r\n", "\n").replace("\r", "\n")
    return out


# ---------------------------------------------------------------------------------------------- YAML

#: libyaml's C parser when PyYAML has it (the same resolver and constructors as ``yaml.SafeLoader``, about five
#: times faster)
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LOADER = YAML_LOADER
_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def yaml_error(exc: yaml.YAMLError, file: str | None, text: str | None = None, context: bool = True) -> ParseError:
    """One line for any PyYAML error: what is wrong and the line (control characters: which one).
    ``context``: say what the parser was reading too ("while parsing a flow node, ...")."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1 if text is not None and exc.position >= 0 else None
        ch = exc.character
        code = ord(ch) if isinstance(ch, str) and len(ch) == 1 else ch
        what = f"#x{code:04x}" if isinstance(code, int) else repr(ch)
        return ParseError(f"not valid YAML: control character {what} is not allowed", file, line)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = ", ".join(x for x in (exc.context if context else None, exc.problem) if x) or "cannot parse"
        return ParseError(f"not valid YAML: {_one_line(problem)}", file, mark.line + 1 if mark else None)
    return ParseError(f"not valid YAML: {_one_line(str(exc))[:200]}", file)


def _line(ev: Any) -> int | None:
    mark = ev.start_mark
    return int(mark.line) + 1 if mark is not None else None


def depth_error(limit: int, file: str | None, line: int | None) -> ParseError:
    """The error for a YAML collection opened ``limit`` + 1 levels deep, at ``line``."""
    return ParseError(f"nested more than {limit} levels deep (raise it with hairpin --max-depth N or {DEPTH_ENV})", file, line)


def alias_bomb_error(file: str | None, line: int | None) -> ParseError:
    """The error for the alias at ``line`` that takes a document past :data:`ALIAS_NODES` aliased nodes."""
    return ParseError(f"YAML aliases stand for more than {ALIAS_NODES:,} nodes (an alias bomb?): refused", file, line)


def check_yaml_events(
    text: str, file: str | None, loader: type[Any] | None = None, aliases: bool = False
) -> tuple[int, ParseError] | None:
    """Walk the event stream of ``text`` with a ``loader`` (the class the composer will use).

    Returns None when every document nests at most ``max_depth()`` deep and has no alias (``aliases``: no
    more than :data:`ALIAS_NODES` nodes reached through aliases), else (index of the first bad document,
    its error).  A syntax error is left to the composer, which meets it at the same place after the same
    documents."""
    limit = max_depth()
    depth = 0
    doc = -1
    ld = None
    sizes: dict[Any, int] = {}  # anchor -> nodes in its value, aliases inside it expanded
    open_anchors: list[list[Any]] = []  # [depth, name, nodes so far] of anchored collections being read
    expanded = 0
    try:
        ld = (loader or _LOADER)(text)
        while ld.check_event():
            ev = ld.get_event()
            if open_anchors and isinstance(ev, (yaml.NodeEvent, *_STARTS)):
                grow = sizes.get(ev.anchor, 1) if isinstance(ev, yaml.AliasEvent) else 1
                for a in open_anchors:
                    a[2] += grow
            if isinstance(ev, _STARTS):
                depth += 1
                if ev.anchor is not None:
                    open_anchors.append([depth, ev.anchor, 1])
                if depth > limit:
                    return doc, depth_error(limit, file, _line(ev))
            elif isinstance(ev, _ENDS):
                if open_anchors and open_anchors[-1][0] == depth:
                    _, name, size = open_anchors.pop()
                    sizes[name] = size
                depth -= 1
            elif isinstance(ev, yaml.DocumentStartEvent):
                doc += 1
                depth = 0
                sizes, open_anchors, expanded = {}, [], 0
            elif isinstance(ev, yaml.ScalarEvent):
                if ev.anchor is not None:
                    sizes[ev.anchor] = 1
            elif isinstance(ev, yaml.AliasEvent) and aliases:
                expanded += sizes.get(ev.anchor, 1)  # an anchor still open (a recursive alias): one reference
                if expanded > ALIAS_NODES:
                    return doc, alias_bomb_error(file, _line(ev))
            elif isinstance(ev, yaml.AliasEvent):
                return doc, ParseError(
                    f"YAML alias *{_one_line(str(ev.anchor))[:EXCERPT]} is not accepted (aliases can expand a small "
                    "file into gigabytes; write the value out)",
                    file,
                    _line(ev),
                )
    except yaml.YAMLError as exc:
        if isinstance(exc, yaml.reader.ReaderError):  # the composer would fail the same way, but earlier docs
            return max(doc, 0), yaml_error(exc, file, text)
        return None
    finally:
        if ld is not None:
            ld.dispose()
    return None


def long_number(exc: BaseException) -> bool:
    """``exc`` is Python refusing to read an integer of more digits than ``sys.get_int_max_str_digits()``
    (4,300 by default: reading longer ones takes time quadratic in their length), which the JSON and YAML
    readers raise as a bare ValueError."""
    return type(exc) is ValueError and "integer string conversion" in str(exc)


_DIGITS_RUN = re.compile(r"[0-9]+")


def number_error(text: str | None, file: str | None, kind: str, line: int | None = None) -> ParseError:
    """One line for an integer too long for Python to read (``kind``: what it was read as, or ""), at ``line``,
    else at the line of the first such run of digits in ``text``."""
    limit = sys.get_int_max_str_digits()
    if line is None and text is not None:
        for m in _DIGITS_RUN.finditer(text):
            if m.end() - m.start() > limit:
                line = text.count("\n", 0, m.start()) + 1
                break
    return ParseError(f"not accepted: a {kind + ' ' if kind else ''}number of more than {limit:,} digits", file, line)


_Reader = TypeVar("_Reader", bound=Callable[..., Any])


def refusing_long_numbers(fn: _Reader) -> _Reader:
    """``fn(text, file, ...)``, a reader of one input's text, with an integer too long for Python to read
    (``long_number``) refused in one line naming ``file`` and the line (``number_error``)."""

    @functools.wraps(fn)
    def reader(text: str, file: str | None = None, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(text, file, *args, **kwargs)
        except ValueError as exc:
            if not long_number(exc):
                raise
            raise number_error(text, file, "") from None

    return cast(_Reader, reader)


def load_yaml(text: str, file: str | None, loader: type[Any] | None = None) -> Any:
    """One YAML document's data, with the depth and alias checks; every error one ParseError line."""
    cls = loader or _LOADER
    bad = check_yaml_events(text, file, cls)
    if bad is not None:
        raise bad[1]
    ld = None
    try:
        ld = cls(text)
        return ld.get_single_data()
    except yaml.YAMLError as exc:
        raise yaml_error(exc, file, text) from None
    except ValueError as exc:
        if long_number(exc):
            raise number_error(text, file, "YAML") from None
        raise
    finally:
        if ld is not None:
            ld.dispose()


@functools.lru_cache(maxsize=1)
def json_depth() -> int:
    """The deepest nesting of lists this Python's JSON decoder reads (found once, by halving, from the caller's
    depth in the stack).  It is Python's: the C decoder counts its nesting against the interpreter's recursion
    limit, 994 levels from the top of the stack with CPython 3.11.7, 1,497 with 3.12.1 and 9,998 with 3.13.0
    (measured 2026-12-03); msgspec counts the same way."""
    lo, hi = 1, 1 << 20
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            json.loads("[" * mid + "]" * mid)
            lo = mid
        except RecursionError:
            hi = mid - 1
    return lo


def too_deep(what: str = "JSON") -> str:
    """What is said of JSON nested deeper than :func:`json_depth` (``what``: the form, ``JSON (ip -j route)``)."""
    n = json_depth()
    step = 500 if n >= 1000 else 100
    return f"not accepted: {what} nested too deeply (more than about {max(step, round(n / step) * step):,} levels)"


def json_error(exc: Exception, file: str | None, text: str | None = None) -> ParseError:
    """One line for a JSON decoding failure: a syntax error with its line, or nesting too deep."""
    if isinstance(exc, json.JSONDecodeError):
        return ParseError(f"not valid JSON: {exc.msg}", file, exc.lineno)
    if isinstance(exc, RecursionError):
        return ParseError(too_deep(), file)
    if long_number(exc):
        return number_error(text, file, "JSON")
    return ParseError(f"not valid JSON: {_one_line(str(exc))[:200]}", file)


def files_under(root: Path) -> Iterator[Path]:
    """Every entry below the directory ``root`` that is not a directory (as ``root.rglob("*")`` finds them:
    symbolic links to directories are not entered), found without recursion: Python 3.11's ``rglob`` recurses
    once per level, and a tree 1,500 directories deep was a RecursionError traceback.  Unreadable
    directories are skipped."""
    todo = [str(root)]
    while todo:
        try:
            with os.scandir(todo.pop()) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                todo.append(e.path)
            else:
                yield Path(e.path)
