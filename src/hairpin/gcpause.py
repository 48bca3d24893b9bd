"""Pausing Python's cyclic garbage collector while a large input becomes objects.

Loading a 180,000-rule iptables dump or a 150,000-Pod cluster dump builds millions of small objects and
no reference cycles worth collecting; with the collector on, each generation-0 threshold crossed makes it
re-scan the growing young heap, and about half of the load time goes there.  ``paused()`` turns the
collector off for the block, then moves what the block built into the permanent generation
(``gc.freeze``) so later collections do not scan it again either, and restores the collector's state.
Objects are still freed by reference counting as usual; only reference cycles made inside the block
are kept until the process ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused"]


@contextmanager
def paused() -> Iterator[None]:
    """Run the block with the cyclic collector off; freeze what it built; restore the collector."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was:
            gc.enable()
