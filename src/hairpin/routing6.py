"""What the kernel's IPv6 routing knows that IPv4 does not: address scopes, the default address labels, and
source address selection (RFC 6724 as net/ipv6/addrconf.c ipv6_dev_get_saddr implements it).

Addresses are the tagged ints of ``hairpin.model.net`` (``V6 | value``).  ``select_source`` models these rules of
ipv6_get_saddr_eval, in the kernel's order, each compared only when every earlier one tied, the first candidate
keeping a full tie (candidates are walked device by device in the order the dump lists them, which is ifindex
order, and each device's addresses in the order ``ip addr`` prints them, which is the kernel's idev->addr_list):

- rule 1, prefer the same address (IPV6_SADDR_RULE_LOCAL);
- rule 2, appropriate scope (IPV6_SADDR_RULE_SCOPE): the smallest scope that still reaches the destination's,
  else the largest;
- rule 3, avoid deprecated addresses, and optimistic ones (optimistic_dad and use_optimistic are 0 by default);
  ::1, IPv4-mapped and -compatible addresses are always preferred (ipv6_saddr_preferred);
- rule 5, prefer the outgoing interface (IPV6_SADDR_RULE_OIF);
- rule 6, prefer a matching label, with the kernel's default label table (net/ipv6/addrlabel.c
  ip6addrlbl_init_table, as ``ip addrlabel`` lists it on a fresh namespace; a table changed with ``ip addrlabel``
  is not read);
- rule 7, prefer public addresses over temporary ones, as with use_tempaddr below 2 (the kernel default);
- rule 8, the longest matching prefix, counted no further than the candidate's own prefix length.

Not modelled: rule 4 (mobile IPv6 home addresses), rule 5.5, the ORCHID rule, socket preferences
(IPV6_ADDR_PREFERENCES), VRF (l3mdev) domains.  Candidates: every interface's addresses (a non-strict lookup),
only the outgoing interface's for a link-local or multicast destination; never a tentative (not optimistic) or
DAD-failed address, never a multicast or the unspecified address.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hairpin.model.net import V6

__all__ = ["LABELS", "addr_label", "addr_scope", "select_source"]

_ALL = V6 - 1

SCOPE_NODE, SCOPE_LINK, SCOPE_SITE, SCOPE_GLOBAL = 0x1, 0x2, 0x5, 0xE

#: net/ipv6/addrlabel.c ip6addrlbl_init_table: (prefix, length, label)
LABELS: tuple[tuple[int, int, int], ...] = (
    (1, 128, 0), (0, 96, 3), (0xFFFF << 32, 96, 4), (0x2001 << 112, 32, 6), (0x20010010 << 96, 28, 7),
    (0x3FFE << 112, 16, 12), (0x2002 << 112, 16, 2), (0xFEC0 << 112, 10, 11), (0xFC << 120, 7, 5), (0, 0, 1),
)  # fmt: skip


def _bits(addr: int) -> int:
    return addr & _ALL


def addr_scope(addr: int) -> int:
    """The scope __ipv6_addr_type (net/ipv6/addrconf_core.c) gives an address: a multicast address's scope
    nibble, 1 for ::1, 2 for fe80::/10, 5 for fec0::/10, 14 (global) for the rest, unique-local fc00::/7 too."""
    v = _bits(addr)
    if v >> 120 == 0xFF:
        return (v >> 112) & 0xF
    if v == 1:
        return SCOPE_NODE
    if v >> 118 == 0x3FA:
        return SCOPE_LINK
    if v >> 118 == 0x3FB:
        return SCOPE_SITE
    return SCOPE_GLOBAL


def addr_label(addr: int) -> int:
    """The label of the longest matching prefix of the default label table."""
    v = _bits(addr)
    best, label = -1, 1
    for prefix, length, lab in LABELS:
        if length > best and (v >> (128 - length) if length else 0) == (prefix >> (128 - length) if length else 0):
            best, label = length, lab
    return label


def _common(a: int, b: int) -> int:
    x = _bits(a) ^ _bits(b)
    return 128 - x.bit_length()


def select_source(candidates: Iterable[tuple[str, int, int, frozenset[str]]], out_dev: str | None,
                  dst: int) -> int | None:  # fmt: skip
    """ipv6_dev_get_saddr: the source for ``dst`` leaving by ``out_dev`` among ``(dev, addr, prefix, flags)``
    (``flags`` as ``ip addr`` prints them: tentative, dadfailed, deprecated, optimistic, temporary...); None when
    no address qualifies (the kernel's -EADDRNOTAVAIL)."""
    dst_scope = addr_scope(dst)
    own_link_only = out_dev is not None and (_bits(dst) >> 120 == 0xFF or dst_scope <= SCOPE_LINK)
    dst_label = addr_label(dst)
    best: tuple[int, ...] | None = None
    chosen: int | None = None
    for dev, addr, prefix, flags in candidates:
        if own_link_only and dev != out_dev:
            continue
        if "dadfailed" in flags or ("tentative" in flags and "optimistic" not in flags):
            continue
        v = _bits(addr)
        if v == 0 or v >> 120 == 0xFF:
            continue
        scope = addr_scope(addr)
        always = v == 1 or v >> 32 == 0xFFFF or v >> 32 == 0  # ipv6_saddr_preferred: loopback, mapped, compat
        score = (
            int(addr == dst),  # rule 1
            -scope if scope >= dst_scope else scope - 128,  # rule 2
            int(always or not (flags & {"deprecated", "optimistic"})),  # rule 3
            int(out_dev is None or dev == out_dev),  # rule 5
            int(addr_label(addr) == dst_label),  # rule 6
            int("temporary" not in flags),  # rule 7
            min(_common(addr, dst), prefix),  # rule 8
        )
        if best is None or score > best:
            best, chosen = score, addr
    return chosen


def candidates_of(addresses: dict[str, list[tuple[int, int]]],
                  flags: dict[tuple[str, int], frozenset[str]]) -> Sequence[tuple[str, int, int, frozenset[str]]]:  # fmt: skip
    """Every IPv6 address of every device, in the model's order, with its flags."""
    return [(dev, a, p, flags.get((dev, a), frozenset())) for dev, lst in addresses.items() for a, p in lst
            if a > 0xFFFFFFFF]  # fmt: skip
