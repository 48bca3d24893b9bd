"""What the kernel's IPv6 paths refuse that its IPv4 paths do not (and the other way round), for ``LinuxHost``.

The netfilter hooks, conntrack and NAT are the same for both families; these checks are where IPv6 differs.
Addresses are ``hairpin.model.net`` ints (IPv6 ones tagged with ``V6``).  From Linux 6.x:

- ``ip6_rcv_core`` (net/ipv6/ip6_input.c) drops, *before* the PREROUTING hook (so no rule sees the packet): a
  loopback source or destination (``::1``) on a device other than lo (RFC 4291 2.5.3); a multicast source
  (RFC 4291 2.7); a multicast destination of scope 0 (reserved), or of scope 1 (interface-local) from another
  device than lo.  IPv4's martian checks come after PREROUTING instead (``ip_route_input_slow``), and IPv6 has
  none of them: no ``accept_local`` (a packet whose source is one of the node's own addresses is routed as any
  other) and no ``rp_filter`` (ip6tables' ``-m rpfilter`` does that job).
- ``ip6_forward`` (net/ipv6/ip6_output.c) forwards only with ``net.ipv6.conf.all.forwarding=1``; a packet
  leaving by another device than it came in on is not forwarded when its source is unspecified (``::``),
  multicast or loopback, nor from a link-local source (``fe80::/10``: ICMPv6 destination unreachable, "beyond
  scope of source address"); back out its own device it is (with a redirect).  It runs after the routing
  decision and before the FORWARD hook.
- TCP answers nothing to an anycast destination (``tcp_v6_conn_request`` and ``tcp_v6_send_reset`` require
  ``ipv6_unicast_destination``: a local, not an anycast, route), as IPv4's TCP answers nothing to a broadcast.
- REDIRECT (net/netfilter/nf_nat_redirect.c): in OUTPUT, to ``127.0.0.1`` (IPv4) or ``::1`` (IPv6); in
  PREROUTING, to the input device's first address (IPv4: the primary address, ``ifa_list``'s head; IPv6: the
  first usable address of ``addr_list``, kept global before link-local and newest first, as ``ip addr`` lists
  it; for a link-local destination, the first link-local one: nf_nat_redirect_ipv6_usable), and the packet is
  dropped when the device has none.  (Tentative addresses, which it skips, are not in the model.)
"""

from __future__ import annotations

from hairpin.model.net import V6, is_v6

__all__ = ["forward_refusal", "receive_refusal", "redirect_address", "scope"]

_LOOPBACK6 = V6 | 1


def _multicast(addr: int) -> bool:
    return is_v6(addr) and (addr >> 120) & 0xFF == 0xFF


def _link_local(addr: int) -> bool:
    return is_v6(addr) and (addr >> 118) & 0x3FF == 0x3FA  # fe80::/10


def scope(addr: int) -> str:
    """An IPv6 address's scope as ``ipv6_addr_scope`` gives it: host (``::1``), link (``fe80::/10``, and
    multicast of scope 2), global (everything else a dump shows; site-local ``fec0::/10`` is deprecated and
    counted as global here)."""
    if addr == _LOOPBACK6:
        return "host"
    if _link_local(addr) or (_multicast(addr) and (addr >> 112) & 0xF == 2):
        return "link"
    return "global"


def receive_refusal(src: int, dst: int, iif: str) -> str | None:
    """Why ``ip6_rcv_core`` drops an IPv6 packet arriving on ``iif`` before any hook, or None."""
    if not is_v6(dst):
        return None
    if iif != "lo" and _LOOPBACK6 in (src, dst):
        which = "source" if src == _LOOPBACK6 else "destination"
        return f"loopback {which} ::1 on {iif}, not lo (ip6_rcv_core, RFC 4291 2.5.3)"
    if _multicast(dst):
        mscope = (dst >> 112) & 0xF
        if mscope == 0:
            return "multicast destination of reserved scope 0 (ip6_rcv_core, RFC 4291 2.7)"
        if mscope == 1 and iif != "lo":
            return f"interface-local multicast destination from {iif} (ip6_rcv_core, RFC 4291 errata 3480)"
    if _multicast(src):
        return "multicast source (ip6_rcv_core, RFC 4291 2.7)"
    return None


def forward_refusal(src: int, same_link: bool) -> str | None:
    """Why ``ip6_forward`` refuses to forward a packet from ``src``, or None.  The source is checked only when the
    packet leaves by another device than it came in on (``same_link`` False): the check is the ``else`` of the
    test that sends a redirect instead (``IP6CB(skb)->iif == dst->dev->ifindex``), so a link-local source is
    forwarded back out its own link (measured: Linux 6.18)."""
    if same_link:
        return None
    if src in (V6, _LOOPBACK6) or _multicast(src):
        kind = "unspecified" if src == V6 else "multicast" if _multicast(src) else "loopback"
        return f"{kind} source, never forwarded (ip6_forward)"
    if _link_local(src):
        return ("link-local source, never forwarded (ip6_forward: ICMPv6 destination unreachable, beyond scope "
                "of source address)")  # fmt: skip
    return None


def redirect_address(hook: str, dst: int, addrs: list[tuple[int, int]]) -> int | None:
    """REDIRECT's new destination: loopback in OUTPUT, else the input device's first address (``addrs``, as
    ``ip addr`` lists the device's addresses of the packet's family), of the destination's scope for IPv6;
    None: the device has none, and the packet is dropped."""
    v6 = is_v6(dst)
    if hook == "OUTPUT":
        return _LOOPBACK6 if v6 else 0x7F000001
    if not v6:
        return next((a for a, _ in addrs if not is_v6(a)), None)
    want = scope(dst)  # ipv6_addr_scope: 0 for a global destination, where any scope will do
    return next((a for a, _ in addrs if is_v6(a) and (want == "global" or scope(a) == want)), None)
