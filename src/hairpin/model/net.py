"""IPv4 and IPv6 TCP packets as immutable values.

Addresses are kept as ``int`` inside packets (fast to hash, mask and compare in the netfilter and
routing models) and shown as dotted quads.  ``ip()`` accepts either form.

IPv6: an IPv6 address is the int ``V6 | address`` (bit 128 set), so it can never equal an IPv4 int
(not even ``::a.b.c.d``) and every IPv4 code path stays what it was: plain 32-bit ints.  The capture
analyser, the pictures, the tracer and the simulator of IPv6 scenarios (``hairpin.scenario6``: netfilter,
routing with ``hairpin.routing6`` and ``hairpin.ip6``, VPC, NLB) carry IPv6 this way.  IPv6 endpoints print as
``[addr]:port`` (RFC 5952 text, RFC 3986 brackets).
"""

from __future__ import annotations

import enum
import functools
import ipaddress
from dataclasses import dataclass
from typing import ClassVar

__all__ = ["V6", "Endpoint", "Flags", "Packet", "addr_int", "addr_text", "ip", "ip_int", "ip_str", "is_loopback", "is_v6",
           "mask_of", "net_of"]

V6 = 1 << 128  # tag bit of an IPv6 address int


def ip_int(value: str | int | ipaddress.IPv4Address) -> int:
    """The 32-bit integer of an IPv4 address given as text, int or ``IPv4Address`` (IPv6 text raises
    ``ValueError``, as the IPv4-only models expect: use ``addr_int`` where IPv6 is welcome)."""
    if isinstance(value, int):
        return value
    return int(ipaddress.IPv4Address(value))


def addr_int(value: str | int | ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    """The integer of an IPv4 or IPv6 address: the 32-bit value for IPv4, ``V6 | value`` for IPv6."""
    if isinstance(value, int):
        return value
    if isinstance(value, ipaddress.IPv6Address) or (isinstance(value, str) and ":" in value):
        return V6 | int(ipaddress.IPv6Address(value))
    return int(ipaddress.IPv4Address(value))


@functools.lru_cache(maxsize=1 << 16)
def _v6_text(value: int) -> str:
    """RFC 5952 text of an IPv6 address int (``V6`` or not), remembered: a capture's report names the few
    addresses of its nodes and pods again and again (tallies, lists), and ``ipaddress`` takes ~5 us each.  An
    IPv4-mapped address keeps its dotted quad (RFC 5952 5: ``::ffff:10.0.0.1``, as ip, ss and tcpdump print it)."""
    v = value & (V6 - 1)
    if v >> 32 == 0xFFFF:
        return f"::ffff:{(v >> 24) & 255}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}"
    return str(ipaddress.IPv6Address(v))


def ip_str(value: int) -> str:
    """Dotted-quad text of a 32-bit address; RFC 5952 text of an IPv6 one."""
    if value > 0xFFFFFFFF:
        return _v6_text(value)
    return f"{(value >> 24) & 255}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def addr_text(value: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An address (or ``ADDR/LEN`` network) as hairpin writes it everywhere: ``ip_str``'s text.  ``str()`` of an
    ``ipaddress`` object is not that on every Python: an IPv4-mapped IPv6 address is ``::ffff:a00:5`` up to 3.12
    and ``::ffff:10.0.0.5`` from 3.13 on (the ipaddress entries of CPython 3.13's changelog)."""
    if isinstance(value, str) and "/" in value:
        net = ipaddress.ip_network(value)
        return f"{addr_text(net.network_address)}/{net.prefixlen}"
    return ip_str(addr_int(value))


def is_v6(value: int) -> bool:
    """Whether an address int is IPv6."""
    return value > 0xFFFFFFFF


def is_loopback(value: int) -> bool:
    """127.0.0.0/8 (RFC 1122 3.2.1.3) or ::1 (RFC 4291 2.5.3): traffic that never leaves its host."""
    return value >> 24 == 127 if value <= 0xFFFFFFFF else value == V6 | 1


def mask_of(prefix: int, v6: bool = False) -> int:
    """The mask of a prefix length, in the address ints' form: 32 bits for IPv4; for IPv6 ``V6 | mask`` over 128
    bits, so ``addr & mask == net`` holds for tagged IPv6 addresses and never for an IPv4 one (``::/0`` is ``V6``)."""
    if v6:
        return V6 | (((1 << 128) - 1) ^ ((1 << (128 - prefix)) - 1))
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF


def net_of(text: str, v6: bool | None = None) -> tuple[int, int, int]:
    """``(net, mask, prefix)`` of ``A/P`` or ``A`` (a host) in either family, host bits cleared (as the kernel
    stores a prefix); ``v6`` True or False refuses the other family (``ValueError``)."""
    is6 = ":" in text
    if v6 is not None and is6 != v6:
        raise ValueError(f"{text!r} is not an {'IPv6' if v6 else 'IPv4'} address")
    n = ipaddress.ip_network(text, strict=False)
    mask = mask_of(n.prefixlen, is6)
    return (V6 if is6 else 0) | int(n.network_address), mask, n.prefixlen


ip = ip_int


class Flags(enum.IntFlag):
    """TCP header flags, with the kernel's bit values."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20

    @property
    def names(self) -> list[str]:
        """Flag names in wire order (SYN, ACK, ...), as tcpdump and the JSON contract show them."""
        order = (Flags.SYN, Flags.FIN, Flags.RST, Flags.PSH, Flags.ACK, Flags.URG)
        return [f.name for f in order if f & self and f.name]

    def label(self) -> str:
        """Short text such as ``SYN``, ``SYN,ACK`` or ``RST``."""
        return ",".join(self.names) or "-"

    @classmethod
    def parse(cls, text: str) -> Flags:
        """``"syn,ack"``, ``"SYN|ACK"`` or ``"SA"``-style text to flags."""
        short = {"S": cls.SYN, "A": cls.ACK, "R": cls.RST, "F": cls.FIN, "P": cls.PSH, "U": cls.URG}
        result = cls(0)
        text = text.strip()
        parts = [p for p in text.replace("|", ",").replace("-", ",").split(",") if p]
        for part in parts:
            upper = part.upper()
            if upper in cls.__members__:
                result |= cls[upper]
            elif all(ch in short for ch in upper):
                for ch in upper:
                    result |= short[ch]
            else:
                raise ValueError(f"unknown TCP flag {part!r}")
        return result


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """An address (IPv4, or IPv6 tagged with ``V6``) and a port."""

    addr: int
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        host, _, port = text.rpartition(":")
        if not host:
            raise ValueError(f"expected ip:port, got {text!r}")
        if host.startswith("[") and host.endswith("]"):
            return cls(V6 | int(ipaddress.IPv6Address(host[1:-1])), int(port))
        return cls(ip_int(host), int(port))

    @property
    def ip(self) -> str:
        return ip_str(self.addr)

    def __str__(self) -> str:
        host = _HOSTS.get(self.addr)
        if host is None:
            host = _host(self.addr)
        return f"{host}:{self.port}"


#: the host part of an endpoint's text, by address: a report names the same few addresses again and again (a
#: capture's virtual IPs and nodes, a scenario's pods), and the dictionary look-up takes half the time of laying out
#: a dotted quad; cleared when it holds ``_HOSTS_MAX`` addresses, so it stays small whatever is named
_HOSTS: dict[int, str] = {}
_HOSTS_MAX = 1 << 16


def _host(a: int) -> str:
    """``ip_str`` of ``a``, in brackets for IPv6 (RFC 3986), remembered in ``_HOSTS``."""
    host = f"[{ip_str(a)}]" if a > 0xFFFFFFFF else ip_str(a)
    if len(_HOSTS) >= _HOSTS_MAX:
        _HOSTS.clear()
    _HOSTS[a] = host
    return host


@dataclass(frozen=True, slots=True, init=False)
class Packet:
    """One IP packet carrying TCP (or UDP, with no flags); IPv6 when its addresses carry ``V6``.

    ``payload`` carries application bytes such as a Proxy Protocol v2 header.
    """

    src: int
    sport: int
    dst: int
    dport: int
    flags: Flags = Flags(0)  # noqa: RUF009 (an immutable enum value)
    seq: int = 0
    ack: int = 0
    proto: str = "tcp"
    payload: bytes = b""
    #: ``__init__`` sets each field's slot in field order and does nothing else (the pcap reader relies on it)
    SLOT_INIT_ONLY: ClassVar[bool] = True

    def __init__(self, src: int, sport: int, dst: int, dport: int, flags: Flags = Flags(0), seq: int = 0,  # noqa: B008
                 ack: int = 0, proto: str = "tcp", payload: bytes = b"") -> None:  # fmt: skip
        # the __init__ a frozen dataclass generates, faster: each slot set by its own descriptor, where the
        # generated one calls object.__setattr__ (which looks the name up first); a pass makes one at each NAT
        _SET[0](self, src)
        _SET[1](self, sport)
        _SET[2](self, dst)
        _SET[3](self, dport)
        _SET[4](self, flags)
        _SET[5](self, seq)
        _SET[6](self, ack)
        _SET[7](self, proto)
        _SET[8](self, payload)

    @property
    def source(self) -> Endpoint:
        return Endpoint(self.src, self.sport)

    @property
    def dest(self) -> Endpoint:
        return Endpoint(self.dst, self.dport)

    def with_src(self, addr: int, port: int) -> Packet:
        return Packet(addr, port, self.dst, self.dport, self.flags, self.seq, self.ack, self.proto, self.payload)

    def with_dst(self, addr: int, port: int) -> Packet:
        return Packet(self.src, self.sport, addr, port, self.flags, self.seq, self.ack, self.proto, self.payload)

    def __str__(self) -> str:
        return f"{self.proto} {self.source} > {self.dest} {self.flags.label()}"


#: Packet's slot setters, in field order (``Packet.__init__``)
_SET = tuple(getattr(Packet, f).__set__ for f in ("src", "sport", "dst", "dport", "flags", "seq", "ack", "proto",
                                                  "payload"))  # fmt: skip
