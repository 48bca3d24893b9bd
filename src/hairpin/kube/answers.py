"""The API server's answers, read as untrusted input: bounded in size and in pages.

What it knows: a live read (``hairpin check --live``, ``scenario from-cluster --live``) is a series of HTTP
answers from a server hairpin does not control.  Each answer's body is read in chunks from the response
object the Kubernetes client returns with ``_preload_content=False`` (a urllib3 response), and every body of
one live read counts against one budget: the input limit (``hairpin --max-input`` / ``HAIRPIN_MAX_INPUT``,
512 MiB unless raised), the same limit a dump file of the cluster would have.  A list call pages with
``limit`` and ``continue`` (the API server's chunking, Kubernetes API concepts "Retrieving large results sets
in chunks"); a server that repeats a continue token, or pages without end, is refused in one line rather
than followed for ever.
"""

from __future__ import annotations

import json
from typing import Any

from hairpin import reading
from hairpin.errors import InputError

__all__ = ["MAX_PAGES", "Budget"]

#: Pages of one list call: at ``limit=500`` that is five million objects of a kind, far beyond any cluster.
MAX_PAGES = 10_000
_CHUNK = 1 << 20


class Budget:
    """What one live read may still take: bytes (over every answer) and, per list call, its pages."""

    def __init__(self, where: str, limit: int | None = None) -> None:
        self.where = where
        self.limit = reading.max_input() if limit is None else limit
        self.used = 0

    def body(self, resp: Any, what: str) -> bytes:
        """The whole body of ``resp``, at most what is left of the budget, else one InputError."""
        parts: list[bytes] = []
        try:
            while True:
                chunk = resp.read(min(_CHUNK, self.limit + 1 - self.used))
                if not chunk:
                    break
                parts.append(chunk)
                self.used += len(chunk)
                if self.used > self.limit:
                    raise InputError(
                        f"{what} failed: the API server's answers are larger than the input limit of "
                        f"{reading.human_size(self.limit)} (raise it with hairpin --max-input SIZE or "
                        f"{reading.SIZE_ENV})",
                        self.where,
                    )
        finally:
            close = getattr(resp, "release_conn", None)
            if callable(close):
                close()
        return b"".join(parts)

    def json(self, resp: Any, what: str) -> Any:
        """The body of ``resp`` decoded as JSON; undecodable or nested too deeply: one InputError."""
        data = self.body(resp, what)
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as exc:
            why = reading.json_error(exc, None).message
            raise InputError(f"{what} failed: the API server's answer is {why}", self.where) from None

    def pages(self, what: str) -> _Pages:
        """A tracker for one list call's continue tokens (see :class:`_Pages`)."""
        return _Pages(what, self.where)


class _Pages:
    """One list call's pages: each continue token new, at most :data:`MAX_PAGES` pages."""

    def __init__(self, what: str, where: str) -> None:
        self.what, self.where = what, where
        self.seen: set[str] = set()

    def next(self, token: Any) -> str | None:
        """The token to ask for next (None: the list is complete)."""
        if not token:
            return None
        if not isinstance(token, str):
            raise InputError(f"{self.what} failed: the API server's continue token is not a string", self.where)
        if token in self.seen:
            raise InputError(f"{self.what} failed: the API server repeated a continue token (a loop)", self.where)
        if len(self.seen) + 1 >= MAX_PAGES:
            raise InputError(f"{self.what} failed: the API server sent more than {MAX_PAGES:,} pages", self.where)
        self.seen.add(token)
        return token
