"""A packet that leaves by a tunnel device is not the packet that leaves the node: what hairpin says of it.

When a route sends a packet out of an overlay device (Calico VXLAN or IPIP, Cilium VXLAN/Geneve, flannel), the
trace ends there, but the kernel then encapsulates it and sends an outer packet from the node: the tunnel
driver builds the outer header and hands it to ``ip_local_out`` (``iptunnel_xmit``, net/ipv4/ip_tunnel_core.c;
VXLAN and Geneve through ``udp_tunnel_xmit_skb``), so the outer packet goes through the node's OUTPUT and
POSTROUTING hooks and a route lookup as the node's own packet.  hairpin does not follow that outer packet;
the report says so under the verdict (``Encapsulation.line``) and in JSON (``Encapsulation.to_json``).

A device's kind comes from the node's ``ip -d addr`` (text or JSON: ``hairpin.parsers.linkinfo``), else, for
the well-known overlay devices, from its name (``BY_NAME``), said as "by its name":

- ``tunl0``: the kernel's IP-in-IP fallback device, made when the ipip module loads (``ipip_init_net`` names
  it, net/ipv4/ipip.c), and the device Calico routes IPIP through (projectcalico/calico felix/dataplane/
  linux/dataplanedefs/dataplane_defs.go ``IPIPIfaceName``);
- ``vxlan.calico`` and ``vxlan-v6.calico``: Calico's VXLAN devices (same file, ``VXLANIfaceNameV4``,
  ``VXLANIfaceNameV6``);
- ``cilium_vxlan``, ``cilium_geneve``, ``cilium_ipip4`` (type ipip), ``cilium_ipip6`` (type ip6tnl): Cilium's
  (cilium pkg/defaults/node.go ``VxlanDevice``, ``GeneveDevice``, ``IPIPv4Device``, ``IPIPv6Device``);
- ``flannel.<VNI>``: flannel's VXLAN device, named ``flannel.%v`` with the VNI (flannel-io/flannel
  pkg/backend/vxlan/vxlan.go).

A name says no VNI and no port.  A VXLAN device made without a port uses the kernel's default, 8472, not
IANA's 4789 ("the Linux default is 8472 for compatibility with early adopters": drivers/net/vxlan/
vxlan_core.c ``vxlan_port``, applied in ``vxlan_config_validate``); Geneve's default is IANA's 6081
(drivers/net/geneve.c ``GENEVE_UDP_PORT``).  The outer packet's destination:

- VXLAN: the remote end the device's forwarding table (``bridge fdb``) names for the inner destination MAC,
  a fixed ``remote`` when the device has one, or, in external (collect-metadata) mode, the one a program
  sets per packet;
- Geneve: its fixed ``remote``, or the one set per packet in external mode;
- IP-in-IP and the other IP tunnels without a fixed remote (``remote any``): the route's gateway, or the
  packet's own destination when the route has none (``ip_tunnel_xmit``: ``rt_nexthop``, net/ipv4/
  ip_tunnel.c).  The outer IPv4 header's protocol is 4 for IPv4 inside (IP-in-IP), 41 for IPv6 inside (sit),
  47 for GRE (IANA protocol numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hairpin.parsers.linkinfo import LinkKind

__all__ = ["BY_NAME", "Encapsulation", "encapsulation"]

#: well-known overlay device names -> (kind, whose device); ``flannel.<VNI>`` is matched apart
BY_NAME: dict[str, tuple[str, str]] = {
    "tunl0": ("ipip", "the kernel's IP-in-IP device, which Calico's IPIP routes use"),
    "vxlan.calico": ("vxlan", "Calico's VXLAN device"),
    "vxlan-v6.calico": ("vxlan", "Calico's IPv6 VXLAN device"),
    "cilium_vxlan": ("vxlan", "Cilium's VXLAN device"),
    "cilium_geneve": ("geneve", "Cilium's Geneve device"),
    "cilium_ipip4": ("ipip", "Cilium's IP-in-IP device"),
    "cilium_ipip6": ("ip6tnl", "Cilium's IPv6 tunnel device"),
}
_FLANNEL = re.compile(r"^flannel\.(\d+)$")

#: tunnel kinds -> (what the device is, the outer packet); any other kind (veth, bridge, dummy...) is not a tunnel
_KINDS: dict[str, tuple[str, str]] = {
    "vxlan": ("a VXLAN device", "a UDP datagram"),
    "geneve": ("a Geneve device", "a UDP datagram"),
    "ipip": ("an IP-in-IP device", "an outer IPv4 packet of protocol 4"),
    "sit": ("an IPv6-in-IPv4 (sit) device", "an outer IPv4 packet of protocol 41"),
    "ip6tnl": ("an IPv6 tunnel (ip6tnl) device", "an outer IPv6 packet"),
    "gre": ("a GRE device", "an outer IPv4 packet of protocol 47 (GRE)"),
    "gretap": ("a GRE device", "an outer IPv4 packet of protocol 47 (GRE)"),
    "ip6gre": ("an IPv6 GRE device", "an outer IPv6 packet with a GRE header (next header 47)"),
    "ip6gretap": ("an IPv6 GRE device", "an outer IPv6 packet with a GRE header (next header 47)"),
    "wireguard": ("a WireGuard device", "an encrypted UDP datagram"),
}


@dataclass(frozen=True)
class Encapsulation:
    """The tunnel device a packet leaves by, and what is known of it."""

    device: str
    kind: str
    vni: int | None
    port: int | None
    said_by: str  # "ip -d addr" | "ip -d -j addr" | "its name"
    owner: str = ""  # by its name: whose device it is
    remote: str | None = None
    external: bool = False

    def line(self, gateway: str | None = None) -> str:
        """The sentence under the verdict; ``gateway``: the route's ``via`` (IP tunnels without a fixed remote)."""
        what, outer = _KINDS[self.kind]
        if self.said_by == "its name":
            known = f"by its name: {self.owner}"
            if self.kind in ("vxlan", "geneve"):
                known += f"; ip -d addr show gives its {'UDP port' if self.vni is not None else 'VNI and UDP port'}"
        else:
            facts = ([f"VNI {self.vni}"] if self.vni is not None and self.kind in ("vxlan", "geneve") else []) + (
                [f"UDP {self.port}"] if self.port is not None and self.kind in ("vxlan", "geneve") else [])  # fmt: skip
            known = ", ".join([*facts, f"from {self.said_by}"])
        noun = "datagram" if "UDP" in outer else "packet"
        return (f"{self.device} is {what} ({known}): the kernel wraps the packet in {outer} from the node "
                f"{self._to(gateway)}, and that {noun} goes through the node's OUTPUT and POSTROUTING and its "
                "routes as the node's own packet; hairpin does not follow it")  # fmt: skip

    def _to(self, gateway: str | None) -> str:
        if self.remote is not None:
            return f"to {self.remote}"
        if self.external:
            return "to the remote end set per packet (the device is in external mode: the program driving it sets it)"
        if self.kind == "vxlan" and not self.owner.startswith("Cilium"):
            return "to the remote end the device's forwarding table names"
        if self.kind in ("ipip", "sit", "gre") and not self.owner.startswith("Cilium"):
            if gateway:
                return f"to the route's gateway {gateway}"
            return "to the packet's own destination (the route has no gateway)"
        if self.kind == "wireguard":
            return "to the peer's endpoint (wg show lists it)"
        return "to the tunnel's remote end"

    def to_json(self, gateway: str | None = None) -> dict[str, Any]:
        return {"device": self.device, "kind": self.kind, "vni": self.vni, "port": self.port, "from": self.said_by,
                "note": self.line(gateway)}  # fmt: skip


def encapsulation(dev: str | None, kinds: dict[str, LinkKind]) -> Encapsulation | None:
    """The tunnel ``dev`` is, from the node's ``ip -d addr`` (``kinds``), else from its name; None: not a tunnel
    (or not known to be one)."""
    if dev is None:
        return None
    k = kinds.get(dev)
    if k is not None:
        if k.kind not in _KINDS:
            return None
        return Encapsulation(dev, k.kind, k.vni, k.port, k.source, remote=k.remote, external=k.external)
    m = _FLANNEL.match(dev)
    if m is not None:
        vni = int(m.group(1))
        return Encapsulation(dev, "vxlan", vni, None, "its name", f"flannel's VXLAN device, VNI {vni}")
    if dev in BY_NAME:
        kind, owner = BY_NAME[dev]
        return Encapsulation(dev, kind, None, None, "its name", owner)
    return None
