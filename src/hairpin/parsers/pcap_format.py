"""The two capture file formats themselves: the record a capture holds, the numbers that tell the formats
apart and bound what is read, a pcapng block's options, and writing both formats.

What it knows (IETF draft-ietf-opsawg-pcap and draft-ietf-opsawg-pcapng):

- ``PacketRecord``: one captured packet, as :mod:`hairpin.parsers.pcap` reads it and the writers here take it;
- the first four bytes of each format (``MAGICS``: classic pcap's four magics, microseconds or nanoseconds in
  either byte order; pcapng's Section Header Block type), the snapshot length written (``SNAPLEN``), the
  largest pcapng block read (``MAX_BLOCK``) and the bytes of fixed fields in each packet-bearing block type;
- ``interface``: an Interface Description Block's ``if_name``, ``if_tsresol`` and ``if_tsoffset`` options,
  which the streaming reader and the first pass (:mod:`hairpin.parsers.fastscan_ng`) both read with it;
- ``write_pcapng(path, records)`` writes one interface per distinct ``PacketRecord.interface`` (microsecond
  timestamps, the record's comment as ``opt_comment``); ``write_pcap(path, records, linktype=)`` writes
  classic pcap; both in any link type and tunnel :func:`hairpin.parsers.frames.frame` builds, so every reader
  path is tested.

The reader (:mod:`hairpin.parsers.pcap`) imports everything here and gives the public names again.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from hairpin.model.net import Packet
from hairpin.parsers.frames import ETHERNET, frame

__all__ = ["MAGICS", "MAX_BLOCK", "SNAPLEN", "PacketRecord", "interface", "write_pcap", "write_pcapng"]

SNAPLEN = 262144
MAX_BLOCK = 1 << 24  # bytes: the largest pcapng block read (real ones are a few kB; a packet is <= 256 kB)
_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_SHB = 0x0A0D0D0A
MAGICS = (*_PCAP_MAGIC, struct.pack("<I", _SHB))  # the first 4 bytes of every capture hairpin.parsers.pcap reads
_FIXED = {1: 8, 6: 20, 2: 20, 3: 4}  # bytes of fixed fields in each block type's body


@dataclass(frozen=True, slots=True)
class PacketRecord:
    """One captured packet: when, on which interface (None when the capture does not say), and a comment."""

    t: float
    interface: str | None
    packet: Packet
    comment: str = ""


# ---------------------------------------------------------------------------------------------- writing


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _sink(path: str | Path | BinaryIO) -> AbstractContextManager[IO[bytes]]:
    if isinstance(path, (str, Path)):
        from hairpin.writing import open_output

        return open_output(path, binary=True)
    return nullcontext(path)


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", kind, n) + body + struct.pack("<I", n)


def write_pcapng(path: str | Path | BinaryIO, records: Iterable[PacketRecord], *, linktype: int = ETHERNET,
                 **how: Any) -> None:  # fmt: skip
    """Write ``records`` as pcapng: one Interface Description per distinct interface name, in order of
    first appearance, each named by ``if_name``; one Enhanced Packet per record with its comment.

    ``path`` is a file name (written through :mod:`hairpin.writing`: whole or not at all) or an open
    binary file.  ``how``: ``tunnel``, ``vlans``, ``vxlan_port`` as for :func:`hairpin.parsers.frames.frame`."""
    ifaces: dict[str, int] = {}
    with _sink(path) as f:
        f.write(_block(_SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _option(0, b"")))
        for r in records:
            name = r.interface or "unknown"
            if name not in ifaces:
                ifaces[name] = len(ifaces)
                opts = _option(2, name.encode()) + _option(9, b"\x06") + _option(0, b"")
                f.write(_block(1, struct.pack("<HHI", linktype, 0, SNAPLEN) + opts))
            data = frame(r.packet, linktype, ifaces[name] + 1, **how)
            us = round(r.t * 1_000_000)
            opts = (_option(1, r.comment.encode()) + _option(0, b"")) if r.comment else b""
            pad = b"\0" * (-len(data) % 4)
            head = struct.pack("<IIIII", ifaces[name], us >> 32, us & 0xFFFFFFFF, len(data), len(data))
            f.write(_block(6, head + data + pad + opts))


def write_pcap(path: str | Path | BinaryIO, records: Iterable[PacketRecord], *, linktype: int = ETHERNET,
               **how: Any) -> None:  # fmt: skip
    """Write ``records`` as classic pcap (microseconds, little-endian) in ``linktype``; with Linux cooked
    v2 each interface name gets its own index, in order of first appearance.  ``path`` as for
    :func:`write_pcapng`."""
    index: dict[str | None, int] = {}
    with _sink(path) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, linktype))
        for r in records:
            ifindex = index.setdefault(r.interface, len(index) + 1)
            data = frame(r.packet, linktype, ifindex, **how)
            us = round(r.t * 1_000_000)
            f.write(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(data), len(data)) + data)


# ---------------------------------------------------------------------------------------------- reading


def interface(body: bytes, endian: str, index: int = 0) -> tuple[str | None, float, float]:
    """An Interface Description Block's name (``if_name``), time unit in seconds (``if_tsresol``: a power of
    10, or of 2 with the top bit set; microseconds when absent) and offset in seconds (``if_tsoffset``: a
    signed 64-bit number of seconds added to every timestamp, 0 when absent; draft-ietf-opsawg-pcapng,
    "Interface Description Block"), from its body (after the 8 bytes of fixed fields: its options).  The
    first pass (:mod:`hairpin.parsers.fastscan_ng`) reads them with this too.  ``index``: the interface's
    number in its section; one without ``if_name`` is None when it is the first, else ``interface N``, so that
    two unnamed interfaces are two captures (each its own span: ``Reader.spans``; until 2026-12-03 they were
    one, and a connection seen on one that stopped early was decided against the other's end)."""
    name: str | None = None if index == 0 else f"interface {index}"
    unit, shift = 1e-6, 0.0
    for code, value in _options(body[8:], endian):
        if code == 2:
            name = value.rstrip(b"\0").decode("utf-8", "replace")
        elif code == 9 and value:
            r = value[0]
            unit = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0**-r
        elif code == 14 and len(value) == 8:
            shift = float(struct.unpack(endian + "q", value)[0])
    return name, unit, shift


def _options(data: bytes, endian: str) -> Iterator[tuple[int, bytes]]:
    i = 0
    while i + 4 <= len(data):
        code, n = struct.unpack(endian + "HH", data[i : i + 4])
        if code == 0:
            return
        yield code, data[i + 4 : i + 4 + n]
        i += 4 + n + (-n % 4)
