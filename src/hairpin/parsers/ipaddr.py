"""``ip -o addr`` lines (``ip -4 -o addr``; ``ip -6 -o addr`` with ``family=6``) read and written back, each
address with what its line says after the prefix (scope, flags, label), its flags (tentative, dadfailed,
deprecated, noprefixroute...) told apart: IPv6 source selection needs them.  ``hairpin.parsers.forms`` turns the
other forms of ``ip addr`` into these lines.

    ip -4 -o addr    IDX: DEV    inet ADDR/PREFIX [brd B] scope S [flags] LABEL\\       valid_lft ...
    ip -6 -o addr    IDX: DEV    inet6 ADDR/PREFIX scope S [flags] \\       valid_lft ...
"""

from __future__ import annotations

from dataclasses import dataclass

from hairpin.errors import ParseError
from hairpin.model.net import ip_int, ip_str, is_v6, net_of
from hairpin.text import digits, split_lines

__all__ = ["ADDR_FLAGS", "ParsedAddress", "address", "format_addrs", "parse_addrs"]


def address(text: str, file: str | None, line: int, what: str = "address", family: int = 4) -> int:
    """One address of ``family`` (an IPv6 one without a prefix length), else ``bad WHAT`` at ``file:line``."""
    try:
        if family == 6:
            if "/" in text:
                raise ValueError(text)
            return net_of(text, True)[0]
        return ip_int(text)
    except ValueError:
        raise ParseError(f"bad {what} {text!r}", file, line) from None


#: address flags as ``ip addr`` prints them (iproute2 ip/ipaddress.c ifa_flag_names)
ADDR_FLAGS = frozenset({"secondary", "temporary", "nodad", "optimistic", "dadfailed", "home", "deprecated",
                        "tentative", "permanent", "mngtmpaddr", "noprefixroute", "autojoin", "stable-privacy",
                        "dynamic"})  # fmt: skip


@dataclass(frozen=True)
class ParsedAddress:
    index: int
    dev: str
    addr: int
    prefix: int
    line: int = 0
    tokens: tuple[str, ...] = ()  # what follows the CIDR up to the backslash (brd, scope, flags, label)
    tail: str = "valid_lft forever preferred_lft forever"

    @property
    def cidr(self) -> str:
        return f"{ip_str(self.addr)}/{self.prefix}"

    @property
    def flags(self) -> frozenset[str]:
        """The address's flags (tentative, dadfailed, deprecated, noprefixroute...) as its line shows them."""
        return frozenset(t for t in self.tokens if t in ADDR_FLAGS)

    def format(self) -> str:
        # IPv4 ends on the label, IPv6 (which has none) on a flag followed by a space
        inet, gap = ("inet6", " ") if is_v6(self.addr) else ("inet", "")
        return f"{self.index}: {self.dev}    {inet} {self.cidr} {' '.join(self.tokens)}{gap}\\       {self.tail}"


def parse_addrs(text: str, file: str | None = None, family: int = 4) -> list[ParsedAddress]:
    """``ip -4 -o addr`` text (``inet6`` lines, from a plain ``ip -o addr``, are skipped); ``family=6``: the
    ``inet6`` lines of ``ip -6 -o addr`` or ``ip -o addr`` (``inet`` lines skipped)."""
    inet, other = ("inet6", "inet") if family == 6 else ("inet", "inet6")
    out: list[ParsedAddress] = []
    for lineno, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, _, tail = line.partition("\\")
        toks = head.split()
        if len(toks) < 4 or not toks[0].endswith(":") or not digits(toks[0][:-1]):
            raise ParseError(f"expected 'INDEX: DEV inet ADDR/PREFIX ...' (ip -4 -o addr), got {line[:40]!r}",
                             file, lineno)  # fmt: skip
        if toks[2] == other:
            continue
        if toks[2] != inet:
            raise ParseError(f"expected {inet} after the device name, got {toks[2]!r}", file, lineno)
        dev = toks[1].split("@")[0]
        addr_s, slash, prefix_s = toks[3].partition("/")
        host = 128 if family == 6 else 32
        if slash and not (digits(prefix_s) and int(prefix_s) <= host):
            raise ParseError(f"bad prefix length in {toks[3]!r}", file, lineno)
        addr = address(addr_s, file, lineno, family=family)
        out.append(ParsedAddress(int(toks[0][:-1]), dev, addr, int(prefix_s) if slash else host, lineno,
                                 tuple(toks[4:]), " ".join(tail.split()) or "valid_lft forever preferred_lft forever"))  # fmt: skip
    return out


def format_addrs(addrs: list[ParsedAddress]) -> str:
    return "".join(a.format() + "\n" for a in addrs)
