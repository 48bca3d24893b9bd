"""IPv4 + TCP packets as immutable values.

Addresses are kept as ``int`` inside packets (fast to hash, mask and compare in the netfilter and
routing models) and shown as dotted quads.  ``ip()`` accepts either form.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

__all__ = ["Endpoint", "Flags", "Packet", "ip", "ip_int", "ip_str"]


def ip_int(value: str | int | ipaddress.IPv4Address) -> int:
    """The 32-bit integer of an IPv4 address given as text, int or ``IPv4Address``."""
    if isinstance(value, int):
        return value
    return int(ipaddress.IPv4Address(value))


def ip_str(value: int) -> str:
    """Dotted-quad text of a 32-bit address."""
    return f"{(value >> 24) & 255}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


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
    """An IPv4 address and a port."""

    addr: int
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        host, _, port = text.rpartition(":")
        if not host:
            raise ValueError(f"expected ip:port, got {text!r}")
        return cls(ip_int(host), int(port))

    @property
    def ip(self) -> str:
        return ip_str(self.addr)

    def __str__(self) -> str:
        return f"{ip_str(self.addr)}:{self.port}"


@dataclass(frozen=True, slots=True)
class Packet:
    """One IPv4 packet carrying TCP (or UDP, with no flags).

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
