"""JSON as ``json.dumps(obj, indent=1)`` writes it, byte for byte, produced faster when that can be proved.

What it knows: with ``indent`` set, the standard library's encoder runs in pure Python (its C encoder
serves only compact output), so a report of tens of thousands of values takes tens of milliseconds.
msgspec's encoder and its ``json.format(..., indent=1)`` give the same bytes for the values checked here
(measured, and tested against ``json.dumps`` on hypothesis-generated documents in tests/test_json_out.py):
dicts with string keys, lists and tuples, ``None``, ``True``/``False``, integers within 64 bits, strings of
printable ASCII (space to ``~``) and the control characters below space, and finite floats whose ``repr``
has no exponent (``0.0`` and ``1e-4 <= |x| < 1e16``).  It differs elsewhere: non-ASCII text (``json``
escapes it as ``\\uXXXX``), DEL (0x7f, escaped only by ``json``), floats with an exponent (``1e+16``
against ``1e16``), NaN and infinities, non-string keys, subclasses (enums).  Every value is checked first;
anything outside that set goes to ``json.dumps`` itself.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps_indent1", "provable"]

_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1


def provable(obj: Any) -> bool:
    """Whether every value in ``obj`` is of a kind msgspec writes exactly as ``json.dumps`` does."""
    stack = [obj]
    pop, extend = stack.pop, stack.extend
    while stack:
        x = pop()
        t = x.__class__
        if t is str:
            if not x.isascii() or "\x7f" in x:
                return False
        elif t is dict:
            for k in x:
                if k.__class__ is not str or not k.isascii() or "\x7f" in k:
                    return False
            extend(x.values())
        elif t is list or t is tuple:
            extend(x)
        elif t is int:
            if not _INT_MIN <= x <= _INT_MAX:
                return False
        elif t is float:
            if x != 0.0 and not 1e-4 <= abs(x) < 1e16:  # NaN fails both tests
                return False
        elif x is None or x is True or x is False:
            continue
        else:
            return False
        del x
    return True


def dumps_indent1(obj: Any) -> str:
    """``json.dumps(obj, indent=1)``, through msgspec when every value is provably written the same."""
    if provable(obj):
        try:
            import msgspec
        except ImportError:  # pragma: no cover - msgspec is a dependency
            return json.dumps(obj, indent=1)
        return msgspec.json.format(msgspec.json.encode(obj), indent=1).decode("ascii")
    return json.dumps(obj, indent=1)
