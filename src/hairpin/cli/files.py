"""Writing the CLI's outputs: whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hairpin.errors import InputError

__all__ = ["write_atomic"]


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``.

    A reader never sees half a file, and a failure leaves nothing behind; it is one InputError line."""
    target = os.path.abspath(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".hairpin-", dir=os.path.dirname(target))
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary open() would create it; mkstemp makes 0600
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise InputError(f"cannot write: {exc.strerror}", str(path)) from None
