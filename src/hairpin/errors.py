"""hairpin's exceptions.

HairpinError                  every error hairpin raises on purpose
├── InputError                bad user input: names the file, the line and what is wrong (CLI exit 2)
│   ├── ParseError            a file that does not follow its grammar (iptables-save, routes, pcap...)
│   └── ScenarioError         a scenario that is not valid (points at the offending key)
├── ModelError                the model was asked something it cannot represent
└── LabError                  the lab could not build, run or remove its namespaces
    ├── NotPermitted          the lab needs root (CAP_NET_ADMIN) and network namespaces
    └── LabUnsupported        a scenario the lab cannot build on this kernel (also an InputError: exit 2)
"""

from __future__ import annotations

__all__ = [
    "HairpinError", "InputError", "LabError", "LabUnsupported", "ModelError", "NotPermitted", "ParseError",
    "ScenarioError",
]  # fmt: skip


class HairpinError(Exception):
    """Base of every error hairpin raises on purpose."""


class InputError(HairpinError):
    """Bad user input.  ``str()`` is one line: ``file:line: what is wrong``."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``file:line: message`` on one printable line of at most about ``MAX_LINE`` characters: control
        characters and newlines are escaped and an over-long message (a quoted 10 MB line) is cut."""
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        return _printable(f"{where}{self.message}")


#: The longest error line hairpin prints (a message quoting hostile input is cut to this).
MAX_LINE = 400


def _printable(text: str) -> str:
    if len(text) > MAX_LINE:
        text = text[: MAX_LINE - 40] + f" ... ({len(text) - MAX_LINE + 40} more characters)"
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text


class ParseError(InputError):
    """A file that does not follow its grammar."""


class ScenarioError(InputError):
    """A scenario that is not valid; ``message`` names the offending key path."""


class ModelError(HairpinError):
    """The model was asked something it cannot represent."""


class LabError(HairpinError):
    """The lab could not build, run or remove its namespaces."""


class NotPermitted(LabError):
    """The lab needs root (CAP_NET_ADMIN) and network namespaces."""


class LabUnsupported(LabError, InputError):
    """A scenario the lab cannot build (on this kernel): a lab error, reported as bad input (CLI exit 2)."""
