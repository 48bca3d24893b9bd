"""Reading a tarball that may be hostile (a ``collect`` bundle, a Retina capture) with bounded time and memory.

Only regular members are read, into memory, with their base name (``d/../iptables-save`` is ``iptables-save``);
links, devices, directories and names starting with a dot are skipped, so nothing is ever extracted, and a tar
inside the tar is one more file, never opened.  The bounds:

- the archive once decompressed (gzip, bzip2, xz or none: told by its first bytes) is read up to
  ``max_input()`` bytes (``--max-input``, 512 MiB unless raised), however small the compressed file: a
  gzip bomb costs at most that much decompression, and every member read stays below it in memory;
- at most ``MAX_MEMBERS`` members, and at most ``MAX_CHAIN`` extended headers in front of one member;
- an extended header (pax, GNU long name or link) is at most ``MAX_HEADER_BYTES`` and its records must be
  well formed (``LENGTH KEY=VALUE\\n``, the length matching) with no run of more than ``MAX_DIGITS`` digits:
  CPython's tarfile before 3.11.10/3.12.6 reads a malformed pax header in time quadratic in its size
  (CVE-2024-6232, python/cpython gh-121285: 65 s for 256 KiB on 3.11.7), and its search for ``hdrcharset``
  (``Lib/tarfile.py`` ``TarInfo._proc_pax``, 3.11) is quadratic in a run of digits (10 s for 64 KiB of them);
  well-formed records without long digit runs are read in linear time;
- GNU sparse members (old type ``S`` and pax ``GNU.sparse.*``) are refused: node state is never sparse, and
  tarfile's sparse map reader raises ``ValueError`` on a truncated map (Lib/tarfile.py
  ``TarInfo._proc_gnusparse_10``, 3.11).
"""

from __future__ import annotations

import lzma
import re
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from hairpin.errors import InputError
from hairpin.reading import (
    MAGIC_BYTES,
    compression,
    human_size,
    max_input,
    opener,
    too_big,
    too_much_decompressed,
    undecompressed,
)

__all__ = ["MAX_CHAIN", "MAX_DIGITS", "MAX_HEADER_BYTES", "MAX_MEMBERS", "compressed", "decompress_into", "is_tar",
           "read_members", "read_tar"]  # fmt: skip

MAX_MEMBERS = 512
MAX_CHAIN = 8
MAX_HEADER_BYTES = 64 << 10
_EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
             tarfile.GNUTYPE_LONGLINK)  # fmt: skip
MAX_DIGITS = 64
_DIGITS = re.compile(rb"[0-9]{%d}" % (MAX_DIGITS + 1))
_PAX = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)


class _Refused(Exception):
    """Raised inside tarfile's header parsing; not a TarError, so tarfile lets it through."""


class _Bounded:
    """A decompressed stream that refuses to go past ``limit`` bytes, with bytes pushed back in front
    (an extended header read ahead to be checked before tarfile reads it)."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self.raw = raw
        self.limit = limit
        self.pending = b""

    def _check(self, end: int) -> None:
        if end > self.limit:
            raise _Refused(too_much_decompressed(self.limit))

    def tell(self) -> int:
        return self.raw.tell() - len(self.pending)

    def read(self, n: int | None = -1) -> bytes:
        head = self.pending
        if n is None or n < 0:
            n = self.limit + 1 - self.tell()
        if head:
            self.pending = head[n:]
            head = head[:n]
            n -= len(head)
        if n <= 0:
            return head
        pos = self.raw.tell()
        data = self.raw.read(max(0, min(n, self.limit + 1 - pos)))
        self._check(pos + len(data))
        return head + data if head else data

    def unread(self, data: bytes) -> None:
        self.pending = data + self.pending

    def seek(self, offset: int, whence: int = 0) -> int:
        target = offset if whence == 0 else self.tell() + offset if whence == 1 else -1
        if target < 0:  # tarfile reads never seek from the end
            raise OSError("cannot seek there")
        self._check(target)
        here, raw = self.tell(), self.raw.tell()
        if here <= target <= raw:
            self.pending = self.pending[target - here :]
            return target
        self.pending = b""
        return self.raw.seek(target)


def _pax_records(buf: bytes) -> list[bytes]:
    """The keywords of a pax header's records, read in linear time; malformed: _Refused."""
    if _DIGITS.search(buf):  # tarfile's search for hdrcharset is quadratic in a run of digits
        raise _Refused(f"a pax header with a run of more than {MAX_DIGITS} digits")
    keys: list[bytes] = []
    pos = 0
    while pos < len(buf) and buf[pos] != 0:
        space = buf.find(b" ", pos, pos + 21)
        digits = buf[pos:space]
        if space < 0 or not digits.isdigit():
            raise _Refused("a malformed pax header (a record does not start with its length)")
        end = pos + int(digits)
        eq = buf.find(b"=", space + 1, end)
        if end > len(buf) or end <= space + 1 or buf[end - 1] != 0x0A or eq < 0:
            raise _Refused("a malformed pax header (a record's length does not match it)")
        keys.append(buf[space + 1 : eq])
        pos = end
    return keys


_TARINFO: Any = tarfile.TarInfo  # its header processing (_proc_member, _block) is private: not in typeshed


class _Member(tarfile.TarInfo):
    """tarfile's TarInfo with the bounds of this module checked before each header is processed."""

    def _proc_member(self, archive: Any) -> Any:
        stream: _Bounded = archive.fileobj
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _Refused(f"member {self.name} is a sparse file (not accepted)")
        if self.type not in _EXTENDED:
            archive.hp_chain = 0
            return _TARINFO._proc_member(self, archive)
        archive.hp_chain = getattr(archive, "hp_chain", 0) + 1
        if archive.hp_chain > MAX_CHAIN:
            raise _Refused(f"more than {MAX_CHAIN} extended headers in front of one member")
        if self.size > MAX_HEADER_BYTES:
            raise _Refused(f"an extended header of {self.size} bytes (at most {MAX_HEADER_BYTES} are accepted)")
        if self.type in _PAX:
            buf = stream.read(_TARINFO._block(self, self.size))
            stream.unread(buf)
            if any(k.startswith(b"GNU.sparse.") for k in _pax_records(buf[: self.size])):
                raise _Refused("a sparse member (pax GNU.sparse headers; not accepted)")
        return _TARINFO._proc_member(self, archive)


@contextmanager
def _opened(path: Path, limit: int) -> Iterator[_Bounded]:
    """``path`` decompressed (gzip, bzip2, xz, told by the first bytes: ``hairpin.reading.compression``; else
    as it is), bounded by ``limit``."""
    with path.open("rb") as f:
        kind = compression(f.read(MAGIC_BYTES))
    with path.open("rb") if kind is None else opener(kind)(path) as raw:
        yield _Bounded(raw, limit)


def read_tar(path: Path) -> dict[str, bytes]:
    """The regular members of the tarball ``path`` by base name (the first of each name), within the bounds
    above; anything else is one InputError naming ``path``."""
    files: dict[str, bytes] = {}
    for _, base, data in read_members(path):
        files.setdefault(base, data)
    return files


def read_members(path: Path) -> list[tuple[str, str, bytes]]:
    """Every regular member of the tarball ``path`` as (its name in the archive, its base name, its bytes), in
    archive order, two members of one base name included (a tarball of several nodes' directories holds
    ``node1/iptables-save`` and ``node2/iptables-save``: the caller decides); bounds and errors as ``read_tar``."""
    members: list[tuple[str, str, bytes]] = []
    limit = max_input()
    try:
        if path.stat().st_size > limit:
            raise too_big(str(path), limit)
        with _opened(path, limit) as stream, tarfile.open(fileobj=stream, mode="r:", tarinfo=_Member) as tar:  # type: ignore[call-overload]
            for i, m in enumerate(tar):
                if i >= MAX_MEMBERS:
                    raise _Refused(f"more than {MAX_MEMBERS} members")
                base = Path(m.name).name
                if not m.isfile() or not base or base.startswith("."):
                    continue
                f = tar.extractfile(m)
                if f is not None:
                    members.append((m.name.removeprefix("./"), base, f.read()))
    except _Refused as e:
        raise InputError(str(e), str(path)) from None
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as e:
        raise InputError(f"neither a directory nor a readable tarball: {e}", str(path)) from None
    except MemoryError:
        raise InputError(f"out of memory reading it (lower hairpin --max-input, now {human_size(limit)})",
                         str(path)) from None  # fmt: skip
    return members


def compressed(path: Path) -> str | None:
    """``gzip``, ``bzip2`` or ``xz`` when the file ``path`` starts as such a stream does, else None (unreadable too)."""
    try:
        with path.open("rb") as f:
            return compression(f.read(MAGIC_BYTES))
    except OSError:
        return None


def decompress_into(path: Path, target: Path, kind: str) -> None:
    """Write the compressed file ``path`` (one ``kind`` stream, gzip, bzip2 or xz, or several concatenated)
    into ``target`` decompressed, a megabyte at a time, at most ``max_input()`` bytes of it; anything else (past
    the limit, truncated, damaged, ``target`` not writable) is one InputError naming ``path``, in the words
    ``hairpin.reading.decompressed`` uses for a compressed text input."""
    limit = max_input()
    try:
        if path.stat().st_size > limit:
            raise too_big(str(path), limit)
        with _opened(path, limit) as stream, target.open("wb") as out:
            while True:
                try:
                    chunk = stream.read(1 << 20)
                except (EOFError, OSError, lzma.LZMAError, zlib.error, ValueError) as e:
                    raise InputError(undecompressed(kind, e), str(path)) from None
                if not chunk:
                    break
                out.write(chunk)
    except _Refused as e:
        raise InputError(str(e), str(path)) from None
    except OSError as e:  # opening it, or writing the copy (a full disk): not the file's fault
        raise InputError(f"could not be decompressed into the work directory ({e.strerror or e})", str(path)) from None


def is_tar(path: Path) -> bool:
    """Whether ``path`` opens as a tarball (its first header, read within the bounds above; a first header
    past them still counts, so that ``read_tar`` says what is wrong)."""
    try:
        with _opened(path, max_input()) as stream, tarfile.open(fileobj=stream, mode="r:", tarinfo=_Member):  # type: ignore[call-overload]
            return True
    except _Refused:
        return True
    except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error, ValueError, MemoryError):
        return False
