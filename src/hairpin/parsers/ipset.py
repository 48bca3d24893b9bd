"""``ipset save`` output: the sets Calico (``cali40*``), kube-proxy's IPVS mode (``KUBE-*``) and Cilium
(``cilium_node_set_v4``) keep, read so that ``-m set --match-set NAME src,dst`` can be decided.

    create NAME TYPE [family inet] [hashsize N] [maxelem N] [timeout N] [counters] [comment] ...
    add NAME ENTRY [timeout N] [nomatch] [packets N bytes N] [comment "..."] ...

Types modelled (ipset(8)): hash:ip, hash:net, hash:ip,port, hash:net,port, hash:ip,port,ip,
hash:ip,port,net, hash:net,net, hash:net,port,net, bitmap:ip, bitmap:port, list:set.  A ``port``
element is ``[PROTO:]PORT`` (tcp when no protocol is given).  ``nomatch`` entries of net types exclude
their prefix (the most specific matching entry decides).  Other types parse and stay undecidable.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from hairpin import reading
from hairpin.errors import ParseError
from hairpin.model.net import Packet
from hairpin.text import digits, split_lines

__all__ = ["IpSet", "load", "parse"]

_SUPPORTED = {"hash:ip", "hash:net", "hash:ip,port", "hash:net,port", "hash:ip,port,ip", "hash:ip,port,net",
              "hash:net,net", "hash:net,port,net", "bitmap:ip", "bitmap:port", "list:set"}  # fmt: skip
_ENTRY_OPTS = {"timeout", "packets", "bytes", "comment", "skbmark", "skbprio", "skbqueue"}
_ENTRY_FLAGS = {"nomatch"}

# one element dimension: ("ip", net, mask) or ("port", proto, lo, hi)
Dim = tuple[str, int, int] | tuple[str, str, int, int]


@dataclass
class IpSet:
    name: str
    type: str
    line: int = 0
    entries: list[tuple[tuple[Dim, ...], bool, int]] = field(default_factory=list)  # (dims, nomatch, prefix sum)
    members: list[str] = field(default_factory=list)  # list:set
    registry: dict[str, IpSet] = field(default_factory=dict, repr=False)

    @property
    def supported(self) -> bool:
        return self.type in _SUPPORTED

    def test(self, p: Packet, dirs: list[str]) -> bool:
        """Whether the packet's ``dirs`` (src/dst per dimension) values are in the set."""
        if self.type == "list:set":
            return any(s.test(p, dirs) for n in self.members if (s := self.registry.get(n)) is not None)
        best: tuple[int, bool] | None = None
        for dims, nomatch, spec in self.entries:
            if len(dirs) < len(dims):
                continue
            if all(_dim_match(d, p, dirs[i]) for i, d in enumerate(dims)) and (best is None or spec > best[0]):
                best = (spec, nomatch)
        return best is not None and not best[1]


def _dim_match(d: Dim, p: Packet, direction: str) -> bool:
    if d[0] == "ip":
        addr = p.src if direction == "src" else p.dst
        return (addr & d[2]) == d[1]
    port = p.sport if direction == "src" else p.dport
    return d[1] in (p.proto, "*") and d[2] <= port <= d[3]


def _ip_dim(text: str, file: str | None, line: int) -> tuple[Dim, int]:
    try:
        if "-" in text and "/" not in text:
            raise ParseError(f"address ranges are not modelled: {text!r}", file, line)
        n = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise ParseError(f"bad address {text!r}", file, line) from None
    return ("ip", int(n.network_address), int(n.netmask)), n.prefixlen


def _port_dim(text: str, file: str | None, line: int) -> Dim:
    proto, _, port = text.rpartition(":")
    proto = proto or "tcp"
    lo, _, hi = port.partition("-")
    if not digits(lo) or (hi and not digits(hi)):
        raise ParseError(f"bad port {text!r}", file, line)
    return ("port", proto, int(lo), int(hi or lo))


@reading.refusing_long_numbers
def parse(text: str, file: str | None = None) -> dict[str, IpSet]:
    """``ipset save`` text -> sets by name."""
    sets: dict[str, IpSet] = {}
    for lineno, raw in enumerate(split_lines(text), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        toks = line.split()
        if toks[0] in ("create", "-N", "-exist") and len(toks) >= 3:
            if toks[1] in sets:
                raise ParseError(f"set {toks[1]} created twice", file, lineno)
            sets[toks[1]] = IpSet(toks[1], toks[2], lineno, registry=sets)
            continue
        if toks[0] in ("add", "-A") and len(toks) >= 3:
            s = sets.get(toks[1])
            if s is None:
                raise ParseError(f"add to set {toks[1]} before its create line", file, lineno)
            _add(s, toks[2], toks[3:], file, lineno)
            continue
        raise ParseError(f"expected 'create NAME TYPE ...' or 'add NAME ENTRY ...', got {line[:40]!r}", file, lineno)
    return sets


def _add(s: IpSet, entry: str, rest: list[str], file: str | None, lineno: int) -> None:
    nomatch = "nomatch" in rest
    if s.type == "list:set":
        s.members.append(entry)
        return
    if not s.supported:
        return
    kinds = s.type.split(":", 1)[1].split(",")
    parts = entry.split(",")
    if len(parts) != len(kinds):
        raise ParseError(f"entry {entry!r} does not fit set type {s.type}", file, lineno)
    dims: list[Dim] = []
    spec = 0
    for kind, part in zip(kinds, parts, strict=True):
        if kind in ("ip", "net"):
            d, prefix = _ip_dim(part, file, lineno)
            dims.append(d)
            spec += prefix
        elif kind == "port":
            d = _port_dim(part, file, lineno)
            if s.type == "bitmap:port" and ":" not in part:
                d = ("port", "*", d[2], d[3])  # type: ignore[misc]
            dims.append(d)
        else:
            raise ParseError(f"set type {s.type} is not modelled", file, lineno)
    s.entries.append((tuple(dims), nomatch, spec))


def load(path: str | Path) -> dict[str, IpSet]:
    p = Path(path)
    return parse(reading.read_text(p), str(p))
