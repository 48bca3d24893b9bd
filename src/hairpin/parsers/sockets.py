"""``ss -ltnu`` (or ``-ltn``, ``-lun``): which sockets listen, on which address, family and port, and whether one
takes a packet, as the kernel's listener lookup matches them.

``ss`` prints a listener's local address as the kernel holds it (iproute2 misc/ss.c ``inet_addr_print``):

    0.0.0.0:22        an IPv4 socket bound to INADDR_ANY: IPv4 packets to any local address
    10.1.0.2:80       bound to one address: only packets to that address
    *:80              an IPv6 socket bound to ``::`` with IPV6_V6ONLY off (Linux's default, bindv6only=0): both
                      families, any address (an IPv4 packet reaches it as ``::ffff:a.b.c.d``)
    [::]:80           bound to ``::`` with IPV6_V6ONLY on: IPv6 packets only
    [fd00::1]:80      bound to one IPv6 address (``[::ffff:10.0.0.1]`` takes that IPv4 address too)
    0.0.0.0%eth0:68   bound to a device as well (SO_BINDTODEVICE): only what arrives on it

A TCP SYN finds a listener (``__inet_lookup_listener``, ``inet6_lookup_listener``) when one is bound to the
packet's destination address or to its family's wildcard; a UDP datagram the same (``__udp4_lib_lookup``).
Checked on Linux 6.18 with sockets of each kind in a network namespace (2026-12-02).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hairpin.errors import InputError
from hairpin.model.net import V6, addr_int, ip_str, is_v6
from hairpin.parsers.pasted import read_state
from hairpin.text import digits, split_lines

__all__ = ["Listener", "bound_elsewhere", "everywhere", "listener_for", "parse"]


@dataclass(frozen=True)
class Listener:
    """One listening (tcp) or bound (udp) socket: its protocol, port, address (None: a wildcard), the families it
    takes packets of, and the device it is bound to (None: any)."""

    proto: str
    port: int
    addr: int | None = None
    families: frozenset[int] = frozenset({4, 6})
    dev: str | None = None


def everywhere(protos: tuple[str, ...], ports: tuple[int, ...] | list[int]) -> list[Listener]:
    """Listeners on every address of both families (what a trace assumes without ``ss``, made explicit)."""
    return [Listener(proto, port) for proto in protos for port in ports]


def listener_for(listeners: list[Listener], proto: str, dst: int, port: int, iif: str | None = None) -> Listener | None:
    """The socket a packet to ``dst:port`` finds, or None (a TCP SYN is then answered with an RST)."""
    family = 6 if is_v6(dst) else 4
    for s in listeners:
        if s.proto != proto or s.port != port or family not in s.families:
            continue
        if s.dev is not None and iif is not None and s.dev != iif:
            continue
        if s.addr is None or s.addr == dst or (family == 4 and s.addr == V6 | 0xFFFF00000000 | dst):
            return s
    return None


def bound_elsewhere(listeners: list[Listener], proto: str, port: int) -> str:
    """Words for the sockets on ``port`` a packet did not find (bound to another address, family or device):
    `` for this address (its sockets: 127.0.0.1, [::]%eth0)``, or "" when the port has none."""
    shown = [_shown(s) for s in listeners if s.proto == proto and s.port == port]
    return f" for this address (its sockets: {', '.join(dict.fromkeys(shown))})" if shown else ""


def _shown(s: Listener) -> str:
    """A listener's local address as ``ss`` prints it."""
    if s.addr is None:
        host = "*" if s.families == {4, 6} else "0.0.0.0" if s.families == {4} else "[::]"
    else:
        host = f"[{ip_str(s.addr)}]" if is_v6(s.addr) else ip_str(s.addr)
    return host + (f"%{s.dev}" if s.dev else "")


def parse(text: str, file: str | None = None) -> list[Listener]:
    """The listeners ``ss -ltnu`` lists (LISTEN for tcp, UNCONN for udp); other lines are skipped."""
    out: list[Listener] = []
    for lineno, raw in enumerate(split_lines(text), 1):
        toks = raw.split()
        if not toks or toks[0] in ("State", "Netid"):
            continue
        proto = "tcp"
        if toks[0] in ("tcp", "udp"):
            proto, toks = toks[0], toks[1:]
        if len(toks) < 4 or toks[0] not in ("LISTEN", "UNCONN"):
            continue
        local = toks[3]
        host, _, port = local.rpartition(":")
        if not digits(port) or int(port) > 65535 or not host:
            raise InputError(f"bad local address {local!r} (ss -ltnu)", file, lineno)
        host, _, dev = host.partition("%")
        out.append(_listener("udp" if toks[0] == "UNCONN" and proto == "tcp" else proto, int(port), host,
                             dev or None, local, file, lineno))  # fmt: skip
    return out


def _listener(proto: str, port: int, host: str, dev: str | None, local: str, file: str | None,
              lineno: int) -> Listener:  # fmt: skip
    if host == "*":
        return Listener(proto, port, None, frozenset({4, 6}), dev)
    try:
        if host.startswith("[") and host.endswith("]"):
            addr = addr_int(host[1:-1]) if ":" in host else -1
            if addr < 0:
                raise ValueError(host)
            if addr == V6:  # [::]: IPV6_V6ONLY on
                return Listener(proto, port, None, frozenset({6}), dev)
            mapped = (addr & (V6 - 1)) >> 32 == 0xFFFF
            return Listener(proto, port, addr, frozenset({4, 6}) if mapped else frozenset({6}), dev)
        addr = addr_int(host)
    except ValueError:
        raise InputError(f"bad local address {local!r} (ss -ltnu)", file, lineno) from None
    if is_v6(addr):  # ss brackets IPv6 addresses: a bare one is not its output
        raise InputError(f"bad local address {local!r} (ss -ltnu prints IPv6 addresses in brackets)", file, lineno)
    return Listener(proto, port, None if addr == 0 else addr, frozenset({4}), dev)


def load(path: str | Path) -> list[Listener]:
    return parse(read_state(path), str(path))
