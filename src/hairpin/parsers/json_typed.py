"""The strings of rapidyaml's JSON that PyYAML's resolver might type, found without a regular expression at each quote.

``hairpin.parsers.yaml_list`` proves that no string of rapidyaml's JSON would have been typed by PyYAML
(YAML 1.1) had it been plain in the text.  The direct way, one regular expression tried at every quote of
the JSON (about 150,000 a MiB of YAML), is the costliest proof of the fast path.  This module finds the
same strings with a handful of NumPy passes:

- the resolver's expressions (``alphabet``) can only match text made of a few characters: their literals
  and character ranges, read from the parsed expressions themselves (``re._parser``); an expression using
  anything else (a negated set, ``.``, a category such as ``\\d``, which in a ``str`` pattern takes other
  scripts' digits, a flag) gives no alphabet and the caller keeps the regular expression;
- in JSON without a backslash no string holds a quote, so the quotes pair up in order: opening, closing,
  opening...; a string is a candidate only when every one of its bytes is in some alphabet (one
  ``bytes.translate`` to a bit per alphabet it is not in, OR-ed over its first two and last two bytes, which
  rule most strings out, then over all the bytes of the others, ``numpy.bitwise_or.reduceat``);
- candidates with more dots than any match can hold (IP addresses) are dropped by counting the dots between
  their quotes; each distinct candidate is made once (``_distinct``: a dump repeats ``True`` and a
  pod-template hash thousands of times), and the few left are joined and given to the caller's
  expression, which says which of them are typed, exactly as it would at their place in the JSON.

``scan(js, typed)`` returns the typed strings, those of them that are keys (followed by ``:``) and the
longest string's length; None when it cannot be sure (a backslash, an odd number of quotes, no
alphabet), and the caller uses its regular expressions.  Tests hold it to them on generated JSON
(tests/test_yaml_list.py).
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["alphabets", "bad_table", "most_dots", "scan"]


def _chars(items: Any, out: set[int], consts: Any) -> bool:
    """Add to ``out`` every character the parsed expression ``items`` can match; False if unsure."""
    for op, arg in items:
        if op is consts.LITERAL:
            out.add(arg)
        elif op is consts.IN:
            for sop, sarg in arg:
                if sop is consts.LITERAL:
                    out.add(sarg)
                elif sop is consts.RANGE:
                    out.update(range(sarg[0], sarg[1] + 1))
                else:
                    return False  # NEGATE, CATEGORY...: not a small alphabet for sure
        elif op is consts.BRANCH:
            if not all(_chars(b, out, consts) for b in arg[1]):
                return False
        elif op is consts.SUBPATTERN:
            if arg[1] or arg[2] or not _chars(arg[3], out, consts):
                return False  # a group changing flags
        elif op in (consts.MAX_REPEAT, consts.MIN_REPEAT):
            if not _chars(arg[2], out, consts):
                return False
        elif op is consts.AT:
            continue  # ^ and $: no character
        else:
            return False
    return True


def _most(items: Any, ch: int, consts: Any) -> float:
    """The most times character ``ch`` can occur in a match of the parsed expression ``items`` (which
    ``_chars`` accepted); infinity when unbounded."""
    total = 0.0
    for op, arg in items:
        if op is consts.LITERAL:
            total += arg == ch
        elif op is consts.IN:
            total += any((sarg == ch) if sop is consts.LITERAL else (sarg[0] <= ch <= sarg[1]) for sop, sarg in arg)
        elif op is consts.BRANCH:
            total += max(_most(b, ch, consts) for b in arg[1])
        elif op is consts.SUBPATTERN:
            total += _most(arg[3], ch, consts)
        elif op in (consts.MAX_REPEAT, consts.MIN_REPEAT):
            inner = _most(arg[2], ch, consts)
            if inner:
                total += math.inf if arg[1] == consts.MAXREPEAT else inner * arg[1]
    return total


def most_dots(patterns: Iterable[re.Pattern[str]]) -> float:
    """The most dots a match of any of ``patterns`` can hold (infinity when unbounded or unsure)."""
    parser = importlib.import_module("re._parser")
    consts = importlib.import_module("re._constants")
    most = 0.0
    for p in patterns:
        parsed = parser.parse(p.pattern, p.flags).data
        if not _chars(parsed, set(), consts):
            return math.inf
        most = max(most, _most(parsed, 0x2E, consts))
    return most


def alphabets(patterns: Iterable[re.Pattern[str]]) -> list[frozenset[int]] | None:
    """For each of ``patterns``, the ASCII characters any of its matches is made of; None when that is not
    certain for one of them."""
    parser = importlib.import_module("re._parser")
    consts = importlib.import_module("re._constants")
    out: list[frozenset[int]] = []
    for p in patterns:
        if p.flags & ~(re.VERBOSE | re.UNICODE):
            return None
        try:
            parsed = parser.parse(p.pattern, p.flags)
        except Exception:  # pragma: no cover - a compiled pattern parses
            return None
        chars: set[int] = set()
        if not _chars(parsed.data, chars, consts):
            return None
        if any(c > 0x7E for c in chars) or chars & {0x0A, 0x22, 0x5C}:
            return None  # beyond ASCII, or a line break, quote or backslash: the candidates' joining would not hold
        out.append(frozenset(chars))
    return out


def bad_table(alphabets: list[frozenset[int]]) -> bytes:
    """A ``bytes.translate`` table: each byte to the bits of the alphabets it is not in (alphabet ``i`` is
    bit ``i % 8``, so more than eight share bits: their union); the quote to all bits."""
    merged = [frozenset[int]().union(*alphabets[i::8]) for i in range(min(8, len(alphabets)))]
    return bytes(
        0xFF
        if c == 0x22
        else sum(1 << i for i, chars in enumerate(merged) if c not in chars) | (0xFF << len(merged)) & 0xFF
        for c in range(256)
    )


#: candidates at most this long are told apart in NumPy (their bytes as two 64-bit words)
_WIDE = 16


def _distinct(js: bytes, a: Any, o: Any, c: Any, is_key: Any) -> tuple[set[bytes], set[bytes]]:
    """The strings ``js[o + 1 : c]`` (NumPy arrays of quote offsets; ``a``: ``js`` as a NumPy array) and those
    of them at a key (``is_key``), each string made once: a dump repeats a few candidates thousands of times
    (``True``, a pod-template hash), and slicing each of them cost a third of the scan.  Strings of up to
    ``_WIDE`` bytes are grouped by a hash of their bytes, length and key-ness, and each group is checked to
    hold one string (else every string is made)."""
    import numpy as np

    lens = c - o - 1
    short = lens <= _WIDE
    reps = [np.flatnonzero(~short)]
    if short.any():
        s = np.flatnonzero(short)
        cols = np.arange(_WIDE)
        pos = (o[s] + 1)[:, None] + cols
        np.minimum(pos, len(a) - 1, out=pos)
        mat = a[pos]
        mat[cols >= lens[s][:, None]] = 0
        words = mat.view(np.uint64)
        h = (words[:, 0] * np.uint64(0x9E3779B97F4A7C15)) ^ words[:, 1] ^ (lens[s].astype(np.uint64) << np.uint64(56))
        h = (h << np.uint64(1)) | is_key[s].astype(np.uint64)
        _, first, inv = np.unique(h, return_index=True, return_inverse=True)
        rep = first[inv.ravel()]
        alike = (words == words[rep]).all() and (lens[s] == lens[s][rep]).all() and (is_key[s] == is_key[s][rep]).all()
        reps.append(s[first] if alike else s)
    strings: set[bytes] = set()
    keys: set[bytes] = set()
    take = np.concatenate(reps)
    for x, y, key in zip(o[take].tolist(), c[take].tolist(), is_key[take].tolist(), strict=True):
        strings.add(js[x + 1 : y])
        if key:
            keys.add(js[x + 1 : y])
    return strings, keys


def scan(
    js: bytes, bad: bytes, typed: re.Pattern[bytes], one_dot: bool = False
) -> tuple[set[bytes], set[bytes], int] | None:
    """The strings of the JSON ``js`` that ``typed`` (a ``"...(TYPED)"`` expression with one group) finds,
    those of them followed by ``:`` (keys), and the longest string's length; None when unsure.  ``one_dot``:
    no typed string holds two dots (``most_dots``), so candidates that do (IP addresses) are not tried."""
    import numpy as np  # a dependency of hairpin; imported here as only large YAML Lists need it

    if b"\\" in js:
        return None  # an escape: a string may hold a quote
    a = np.frombuffer(js, np.uint8)
    q = np.flatnonzero(a == 0x22)
    if len(q) % 2:
        return None
    if not len(q):
        return set(), set(), 0
    opens, closes = q[0::2], q[1::2]
    longest = int((closes - opens).max()) - 1
    bits = np.frombuffer(js.translate(bad), np.uint8)
    # the alphabets a string is not made of: a candidate when some alphabet is left.  Its first two and last
    # two bytes rule most strings out at once (an empty string's first byte is its closing quote: never a
    # candidate); the others' bytes are OR-ed over [open + 1, close), what lies between two strings aside
    first, last = opens + 1, closes - 1
    sample = bits[first] | bits[last] | bits[np.minimum(first + 1, last)] | bits[np.maximum(last - 1, first)]
    maybe = np.flatnonzero(sample != 0xFF)
    if not len(maybe):
        return set(), set(), longest
    idx = np.empty(2 * len(maybe), np.intp)
    idx[0::2] = opens[maybe] + 1
    idx[1::2] = closes[maybe]
    worst = np.bitwise_or.reduceat(bits, idx)[0::2]
    ok = maybe[worst != 0xFF]
    if not len(ok):
        return set(), set(), longest
    o, c = opens[ok], closes[ok]
    if one_dot:  # the dots in each candidate, from where the dots are: two or more and it is no candidate
        dots = np.flatnonzero(a == 0x2E)
        few = np.flatnonzero(np.searchsorted(dots, c) - np.searchsorted(dots, o) < 2)
        o, c = o[few], c[few]
    is_key = a[np.minimum(c + 1, len(a) - 1)] == 0x3A
    strings, keys = _distinct(js, a, o, c, is_key)
    found = set(typed.findall(b'"' + b'"\n"'.join(strings) + b'"'))
    return found, found & keys, longest
