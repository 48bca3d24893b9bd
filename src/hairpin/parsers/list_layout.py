"""Where the items of a ``kubectl get -o yaml`` List sit, from one NumPy pass over the text's line breaks.

``hairpin.parsers.yaml_list`` needs, for the block sequence of items that starts at offset ``begin``
(right after ``items:`` and its line break): where it ends (the first line at column 0 that does not start
with ``-``, a space or a line break), where each item starts (each line at column 0 starting with ``-``),
the line of each item, and the items holding a trailing space (`` \\n``) or an empty line (``\\n\\n``).
Found one by one, that is five regular-expression passes and a count over 100 MiB (about 0.35 s of CPU);
here it is one comparison of the bytes with ``\\n``, the offsets of the line breaks, and the byte after
(or before) each of them.

``layout(raw, begin)`` works on the text's bytes when the text is ASCII (offsets in bytes are then
offsets in characters); it answers exactly what ``yaml_list``'s regular expressions answer (tests hold the
two to each other on damaged Lists, tests/test_yaml_list.py).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Layout", "layout"]


class Layout(NamedTuple):
    end: int  #: where the items end (the text's length when nothing follows them)
    starts: list[int]  #: each item's offset, the first ``begin``
    lines: list[int]  #: each item's 1-based line
    spaced: list[int]  #: offsets in ``[begin, end)`` where `` \n`` or ``\n\n`` starts


def layout(raw: bytes, begin: int) -> Layout:
    """The layout of the items starting at ``begin`` in the ASCII text ``raw`` (``begin`` follows a line break)."""
    import numpy as np  # a dependency of hairpin; imported here as only large YAML Lists need it

    a = np.frombuffer(raw, np.uint8)
    n = len(a)
    nl = np.flatnonzero(a == 0x0A)
    # the end: the first line break at or after begin - 1 followed by a character that is not - , space, \n
    k0 = int(np.searchsorted(nl, begin - 1))
    after = nl[k0:]
    if len(after) and after[-1] == n - 1:
        after = after[:-1]  # the text's last character: nothing follows it
    nxt = a[after + 1]
    stop = np.flatnonzero((nxt != 0x2D) & (nxt != 0x20) & (nxt != 0x0A))
    end = int(after[stop[0]]) + 1 if len(stop) else n
    # the line breaks p in [begin, end - 1): the character after each is inside the items
    lo = int(np.searchsorted(nl, begin))
    hi = int(np.searchsorted(nl, end - 1))
    inside = nl[lo:hi]
    nxt = a[inside + 1]
    dash = np.flatnonzero(nxt == 0x2D)
    starts = [begin, *(inside[dash] + 1).tolist()]
    lines = [lo + 1, *(dash + lo + 2).tolist()]  # the line after the k-th line break (0-based) is line k + 2
    empty = inside[nxt == 0x0A]
    # a space before a line break p in [begin + 1, end)
    lo1 = int(np.searchsorted(nl, begin + 1))
    hi1 = int(np.searchsorted(nl, end))
    before = nl[lo1:hi1]
    spaced = before[a[before - 1] == 0x20] - 1
    return Layout(end, starts, lines, sorted([*empty.tolist(), *spaced.tolist()]))
