"""Compressed inputs for tests: the three formats hairpin reads (gzip, bzip2, xz), whole or damaged."""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Callable

PACK: dict[str, Callable[[bytes], bytes]] = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}
#: what each decompressor of CPython's standard library says of ``damaged``'s output
DAMAGE = {"gzip": "Incorrect length of data produced", "bzip2": "Invalid data stream", "xz": "Corrupt input data"}


def packed(kind: str, data: bytes) -> bytes:
    return PACK[kind](data)


def damaged(kind: str, data: bytes) -> bytes:
    """``data`` compressed, then one byte changed: gzip's length trailer (the stream decompresses, its length
    check fails), or a byte in the middle of a bzip2 or xz stream (their block checks fail)."""
    z = bytearray(packed(kind, data))
    z[-1 if kind == "gzip" else len(z) // 2] ^= 0xFF
    return bytes(z)
