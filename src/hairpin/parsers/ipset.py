"""``ipset save`` output: the sets Calico (``cali40*``), kube-proxy's IPVS mode (``KUBE-*``) and Cilium
(``cilium_node_set_v4``) keep, read so that ``-m set --match-set NAME src,dst`` can be decided.

    create NAME TYPE [family inet|inet6] [hashsize N] [maxelem N] [timeout N] [counters] [comment] ...
    add NAME ENTRY [timeout N] [nomatch] [packets N bytes N] [comment "..."] ...

Types modelled (ipset(8)): hash:ip, hash:net, hash:ip,port, hash:net,port, hash:ip,port,ip,
hash:ip,port,net, hash:net,net, hash:net,port,net, bitmap:ip, bitmap:port, list:set.  A ``port``
element is ``[PROTO:]PORT`` (tcp when no protocol is given).  A ``family inet6`` set is read without its
elements: it never holds an IPv4 packet (ip_set_test), and it is undecidable for an IPv6 one.  ``nomatch`` entries of net types exclude
their prefix (the most specific matching entry decides).  Other types parse and stay undecidable.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from hairpin import reading
from hairpin.errors import ParseError
from hairpin.model.net import Packet
from hairpin.parsers import pasted
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
    maxelem: int = 65536  # ipset(8): the default of every hash type
    netmask: int = 32  # hash:ip's netmask option
    family: int = 4  # create's ``family inet6``: 6 (its elements are not read); 0: none (list:set, bitmap:port)
    expanded: int = 0  # hash:ip elements once CIDR entries are expanded, as ipset restore adds them
    registry: dict[str, IpSet] = field(default_factory=dict, repr=False)
    _index: dict[int, dict[int, list[int]]] = field(default_factory=dict, init=False, repr=False)  # mask, net
    _linear: list[int] = field(default_factory=list, init=False, repr=False)
    _indexed: int = field(default=-1, init=False, repr=False)
    _answers: dict[tuple[object, ...], bool] = field(default_factory=dict, init=False, repr=False)

    @property
    def supported(self) -> bool:
        return self.type in _SUPPORTED

    def test(self, p: Packet, dirs: list[str]) -> bool:
        """Whether the packet's ``dirs`` (src/dst per dimension) values are in the set.

        A set can hold hundreds of thousands of entries and many rules can test it, so entries are looked up
        by their first dimension (one dictionary per prefix length: at most 33 lookups), and each answer is
        kept for the next rule that asks about the same packet: the cost is the number of entries once, not
        once per rule (a 100,000-entry set tested by 300 rules took more than 120 s when every test scanned it)."""
        if self.type == "list:set":
            return any(s.test(p, dirs) for n in self.members if (s := self.registry.get(n)) is not None)
        key = (p.src, p.dst, p.sport, p.dport, p.proto, tuple(dirs))
        if (known := self._answers.get(key)) is not None:
            return known
        best: tuple[int, bool] | None = None
        for dims, nomatch, spec in self._candidates(p, dirs):
            if len(dirs) < len(dims):
                continue
            if all(_dim_match(d, p, dirs[i]) for i, d in enumerate(dims)) and (best is None or spec > best[0]):
                best = (spec, nomatch)
        if len(self._answers) >= _ANSWERS:
            self._answers.clear()
        self._answers[key] = answer = best is not None and not best[1]
        return answer

    def _candidates(self, p: Packet, dirs: list[str]) -> list[tuple[tuple[Dim, ...], bool, int]]:
        """The entries whose first dimension can hold the packet's first ``dirs`` value (all of them when the
        first dimension is a port: bitmap:port), in the order they were added (the first of equals wins)."""
        if self._indexed != len(self.entries):
            self._index.clear()
            self._linear = []
            for i, e in enumerate(self.entries):
                d = e[0][0] if e[0] else None
                if d is not None and d[0] == "ip":
                    self._index.setdefault(int(d[2]), {}).setdefault(int(d[1]), []).append(i)
                else:
                    self._linear.append(i)
            self._indexed = len(self.entries)
            self._answers.clear()
        if not dirs:
            return self.entries
        addr = p.src if dirs[0] == "src" else p.dst
        found = list(self._linear)
        for mask, by_net in self._index.items():
            found += by_net.get(addr & mask, ())
        return [self.entries[i] for i in sorted(found)]


#: answers kept per set (the packets one trace asks about are far fewer)
_ANSWERS = 4096


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
            opts = dict(zip(toks[3::2], toks[4::2], strict=False))
            if toks[2] in ("list:set", "bitmap:port", "hash:mac"):
                sets[toks[1]].family = 0  # NFPROTO_UNSPEC: tested by packets of either family
            elif opts.get("family") == "inet6":
                sets[toks[1]].family = 6
            for opt in ("maxelem", "netmask"):
                if opt in opts and digits(opts[opt]) and len(opts[opt]) < 11:
                    setattr(sets[toks[1]], opt, int(opts[opt]))
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
    if not s.supported or s.family == 6:  # an IPv6 set's elements: not modelled (-m set says so for IPv6)
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
            if prefix == 0:  # e.g. Linux net/netfilter/ipset/ip_set_hash_ip.c hash_ip4_uadt: "if (!cidr ..."
                raise ParseError(f"entry {entry!r}: the kernel refuses a /0 in a set (invalid CIDR)", file, lineno)
            host = ~((1 << (32 - min(32, s.netmask))) - 1) & 0xFFFFFFFF  # hash_ip4_uadt: ip &= hostmask(netmask)
            if s.type == "hash:ip" and int(ipaddress.IPv4Address(part.partition("/")[0])) & host == 0:
                raise ParseError(f"entry {entry!r}: the kernel refuses the zero address in a hash:ip set", file,
                                 lineno)  # fmt: skip
            if s.type == "hash:ip" and not nomatch:
                s.expanded += 1 << max(0, min(32, s.netmask) - prefix)
                if s.expanded > s.maxelem:
                    raise ParseError(f"set {s.name} holds more than its maxelem {s.maxelem} elements once "
                                     f"{entry!r} is expanded (the kernel refuses: hash is full)", file, lineno)  # fmt: skip
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
    return parse(pasted.read_state(p), str(p))
