"""What ip6tables' matches mean for an IPv6 packet (addresses ``V6 | value``, hairpin.model.net).

hairpin's IPv6 packets are TCP or UDP (or ICMPv6) with no extension header, and their hop limit is not modelled.
Semantics are the kernel's (Linux 6.x):

- networks (``-s``, ``-d``, ``--ctorigdst``): ``ADDR/PREFIX`` or ``ADDR/MASK`` (ip6tables-save prints a mask that
  is not a prefix as an address) compared under the mask (ip6_tables.c ``ip6_packet_match``, ``ipv6_masked_addr_cmp``).
- ``addrtype`` (net/netfilter/xt_addrtype.c ``addrtype_mt6``, ``match_type6``, ``match_lookup_rt6``): unlike
  IPv4's "is the address of one of these types", each type named is a condition: MULTICAST needs a multicast
  address, UNICAST a unicast one (``ipv6_addr_type``: not ``::``, not multicast, not v4-mapped), UNSPEC ``::``;
  then, when LOCAL, ANYCAST or UNREACHABLE is named, the route lookup decides: LOCAL when the address is the
  host's (on the ``--limit-iface-*`` device, when given: ``nf_ipv6_chk_addr``), UNREACHABLE and ANYCAST from the
  route found, which hairpin does not look up: undecidable when asked.  The kernel refuses BROADCAST, BLACKHOLE,
  PROHIBIT and the types after it for IPv6 (``addrtype_mt_checkentry_v1``): so does ``iptables_check``.
- ``frag``, ``hbh``, ``dst``, ``rt``, ``srh``, ``ah`` (net/ipv6/netfilter/ip6t_frag.c ``frag_mt6`` and the others):
  ``ipv6_find_hdr`` finds no such header in a packet without extension headers and the match is false, whatever
  its options and their ``!``.
- ``ipv6header`` (ip6t_ipv6header.c ``ipv6header_mt6``): the headers met before the upper-layer protocol, here
  none, so the set is "prot" alone; ``--soft`` matches when each header named is present (``!``: absent), else the
  set must be exactly the one named (``!``: must not be).
- ``icmp6`` (ip6t_icmp6 needs ``-p ipv6-icmp``): undecidable for an ICMPv6 packet (hairpin's carry no type), false
  for any other; ``hl`` and ``eui64`` are not modelled (the hop limit, the source MAC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hairpin.model.net import V6, mask_of
from hairpin.netfilter.rules import Match
from hairpin.parsers.ip6tables import v6_addr

if TYPE_CHECKING:
    from hairpin.netfilter.evaluate import Context

__all__ = ["EXT_HEADER_MATCHES", "MATCHES6", "addr_type6", "ipv6header", "net6"]

#: matches that look for one extension header (hairpin's packets have none: they never match)
EXT_HEADER_MATCHES = frozenset({"frag", "hbh", "dst", "rt", "srh", "ah"})
#: the matches ip6tables reads otherwise than iptables (ip6t_ah is IPv6's own AH match; the others only IPv6 has)
MATCHES6 = EXT_HEADER_MATCHES | {"icmp6", "ipv6header", "hl", "eui64", "mh"}
#: ipv6header's names (libip6t_ipv6header.c chain_protos, numbers, as ip6tables-save prints them) -> mask bits
_HEADER_BITS = {
    "hop": 128, "hop-by-hop": 128, "0": 128, "dst": 64, "ipv6-opts": 64, "60": 64, "route": 32, "ipv6-route": 32,
    "43": 32, "frag": 16, "ipv6-frag": 16, "44": 16, "auth": 8, "ah": 8, "51": 8, "esp": 4, "50": 4, "none": 2,
    "ipv6-nonxt": 2, "59": 2, "prot": 1, "protocol": 1, "255": 1,
}  # fmt: skip
_MASK_PROTO = 1


def net6(text: str) -> tuple[int, int]:
    """(network, mask) of ``ADDR``, ``ADDR/PREFIX`` or ``ADDR/MASK`` in the tagged form (``V6`` set in both)."""
    addr, _, m = text.partition("/")
    value = v6_addr(addr)
    if value is None:
        raise ValueError(f"{addr!r} is not an IPv6 address")
    if not m:
        mask = mask_of(128, True)
    elif ":" in m:
        mv = v6_addr(m)
        if mv is None:
            raise ValueError(f"{m!r} is not an IPv6 mask")
        mask = V6 | mv
    else:
        mask = mask_of(int(m.removeprefix("+")), True)
    return (V6 | value) & mask, mask


def _v6_kind(addr: int) -> str:
    """``ipv6_addr_type``'s verdict that addrtype reads: "multicast", "any" (``::``), "mapped" (``::ffff:0:0/96``,
    no IPV6_ADDR_UNICAST) or "unicast" (every other address, loopback, link-local and v4-compatible too)."""
    value = addr & (V6 - 1)
    if value >> 120 == 0xFF:
        return "multicast"
    if value == 0:
        return "any"
    if value >> 32 == 0xFFFF:
        return "mapped"
    return "unicast"


class Undecided(Exception):
    """The route lookup addrtype needs (UNREACHABLE, ANYCAST) is not modelled: the caller names it."""


def addr_type6(c: Context, addr: int, types: set[str], iface: str | None) -> bool:
    """xt_addrtype.c ``match_type6`` for an IPv6 address (raises ``Undecided`` where the route decides)."""
    kind = _v6_kind(addr)
    if "MULTICAST" in types and kind != "multicast":
        return False
    if "UNICAST" in types and kind not in ("unicast",):
        return False
    if "UNSPEC" in types and kind != "any":
        return False
    routed = types & {"LOCAL", "ANYCAST", "UNREACHABLE"}
    if not routed:
        return True
    if routed != {"LOCAL"}:
        raise Undecided(f"{'/'.join(sorted(routed - {'LOCAL'}))} needs the IPv6 route lookup (match_lookup_rt6), "
                        "which is not modelled")  # fmt: skip
    return c.host.is_local(addr, iface)


def ipv6header(m: Match) -> bool:
    """``-m ipv6header`` on a packet whose only header after IPv6's is its upper-layer protocol (constant)."""
    head = m.get("--header")
    if head is None:
        raise KeyError("--header")
    bits = 0
    for name in head.value.lower().split(","):
        if name not in _HEADER_BITS:
            raise KeyError(f"--header {name}")
        bits |= _HEADER_BITS[name]
    inv = 0xFF if head.negated else 0
    if m.get("--soft") is not None:
        return not ((_MASK_PROTO ^ bits ^ inv) & bits)
    return (bits != _MASK_PROTO) if inv else (bits == _MASK_PROTO)

