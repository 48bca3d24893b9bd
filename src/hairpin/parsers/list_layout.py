"""Where the items of a ``kubectl get -o yaml`` List sit, from one NumPy pass over the text's line breaks.

``hairpin.parsers.yaml_list`` needs, for the block sequence of items that starts at offset ``begin``
(right after ``items:`` and its line break): where it ends (the first line at column 0 that does not start
with ``-``, a space or a line break), where each item starts (each line at column 0 starting with ``-``),
the line of each item, and the items holding a trailing space (`` \\n``) or an empty line (``\\n\\n``).
Found one by one, that is five regular-expression passes and a count over 100 MiB (about 0.35 s of CPU);
here it is one comparison of the bytes with ``\\n``, the offsets of the line breaks, and the byte after
(or before) each of them, made a block of ``BLOCK`` bytes at a time (the answer is the same for any block size;
the tests read texts a byte at a time).

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


#: bytes looked at in one NumPy pass: its temporaries (a mask of the block, the offsets of its about 200,000
#: line breaks) stay under glibc's largest heap allocation (32 MiB), so each block reuses the last one's memory
#: where whole-text arrays were mapped and faulted in afresh every time (0.1-0.2 s of system time a 100 MiB text)
BLOCK = 1 << 22


def layout(raw: bytes, begin: int) -> Layout:
    """The layout of the items starting at ``begin`` in the ASCII text ``raw`` (``begin`` follows a line break)."""
    import numpy as np  # a dependency of hairpin; imported here as only large YAML Lists need it

    a = np.frombuffer(raw, np.uint8)
    n = len(a)
    starts = [begin]
    lines = [raw.count(b"\n", 0, begin) + 1]
    spaced: list[int] = []
    end = n
    at = max(begin - 1, 0)
    index = raw.count(b"\n", 0, at)  # of the first line break at or after ``at`` among the text's
    while at < n:
        upto = min(at + BLOCK, n)
        nl = np.flatnonzero(a[at:upto] == 0x0A)
        nl += at
        first = index
        index += len(nl)
        at = upto
        # the end: the first line break at or after begin - 1 followed by a character that is not - , space, \n
        has_next = nl if not len(nl) or nl[-1] != n - 1 else nl[:-1]  # (the text's last character: nothing follows)
        nxt = a[has_next + 1]
        stop = np.flatnonzero((nxt != 0x2D) & (nxt != 0x20) & (nxt != 0x0A))
        k = int(stop[0]) if len(stop) else len(has_next)
        if len(stop):
            end = int(has_next[k]) + 1
            at = n
        # the line breaks p in [begin, end - 1): the character after each is inside the items
        lo = int(np.searchsorted(has_next[:k], begin))
        inside = has_next[lo:k]
        nxt = nxt[lo:k]
        dash = np.flatnonzero(nxt == 0x2D)
        starts += (inside[dash] + 1).tolist()
        lines += (dash + (first + lo + 2)).tolist()  # the line after the k-th line break (0-based) is line k + 2
        empty = inside[nxt == 0x0A]
        # a space before a line break p in [begin + 1, end)
        before = nl[int(np.searchsorted(nl, begin + 1)) : int(np.searchsorted(nl, end))]
        spaced += empty.tolist()
        spaced += (before[a[before - 1] == 0x20] - 1).tolist()
    return Layout(end, starts, lines, sorted(spaced))
