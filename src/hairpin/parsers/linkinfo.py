"""Each device's kind, where a node's address file says it: ``ip -d addr show`` / ``ip -d link show`` text and
``ip -d -j addr`` / ``ip -d -j link`` JSON (what a Microsoft Retina capture holds).

With ``-d``, iproute2 prints a device's link info (IFLA_LINKINFO) right after its ``link/...`` line: the kind
(IFLA_INFO_KIND) first, then the kind's own attributes (iproute2 ip/ipaddress.c print_linktype, the kind's
``print_opt``: ip/iplink_vxlan.c, ip/iplink_geneve.c, ip/link_iptnl.c)::

    2: vxlan.calico: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UNKNOWN group default qlen 1000
        link/ether 3a:4c:8a:14:88:37 brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535
        vxlan id 4096 local 10.0.0.1 srcport 0 0 dstport 4789 ttl auto ageing 300 udpcsum ...
        inet 10.244.1.0/32 scope global vxlan.calico

A device without a kind (a physical NIC) has no such line: the next one is its addresses, or (older iproute2)
``addrgenmode ...``/``numtxqueues ...``, which are not kinds.  In JSON the same is ``linkinfo.info_kind`` and
``linkinfo.info_data`` (``id``: the VNI, ``port``: the UDP destination port, ``local``, ``remote``,
``external``: collect-metadata mode, where a program sets each packet's remote end).

Without ``-d`` the files say no kind: ``hairpin.tunnels`` then tells the well-known overlay devices by name.
What cannot be read is left out (no kind known), never refused: the address reader
(``hairpin.parsers.forms.read_addrs``) has already checked the file.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from hairpin.model.net import addr_text
from hairpin.parsers.forms import strip_ansi
from hairpin.text import digits, split_lines

__all__ = ["LinkKind", "read_link_kinds"]

#: a device's header line of ``ip addr``/``ip link`` (multi-line form): ``IDX: DEV[@PEER]: <FLAGS> ...``
_HEADER = re.compile(r"^\d+:\s+([^\s:@]+)(?:@[^\s:]+)?:\s+<")
#: first words of the lines after ``link/...`` that are not a kind (iproute2 prints them with -d, or without it)
_NOT_KINDS = frozenset({"inet", "inet6", "valid_lft", "altname", "addrgenmode", "numtxqueues", "promiscuity",
                        "link-netnsid", "link-netns", "prop", "alias", "vf", "linkmode"})  # fmt: skip
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
#: a VXLAN or Geneve network identifier is 24 bits (RFC 7348 section 5, RFC 8926 section 3.4)
VNI_MAX = (1 << 24) - 1


@dataclass(frozen=True)
class LinkKind:
    """A device's kind and, for a tunnel, what its link info says (None: not said)."""

    dev: str
    kind: str  # IFLA_INFO_KIND as iproute2 prints it: vxlan, geneve, ipip, ip6tnl, sit, gre, veth, bridge...
    vni: int | None = None
    port: int | None = None  # the UDP destination port (vxlan, geneve)
    local: str | None = None
    remote: str | None = None  # a fixed remote end ("any" and unset: None)
    external: bool = False  # collect-metadata mode: the remote end is set per packet
    source: str = "ip -d addr"  # the form it was read from: "ip -d addr" | "ip -d -j addr"


def read_link_kinds(text: str) -> dict[str, LinkKind]:
    """Device name -> its kind, for every device the file gives one (``ip -d`` text or JSON); {} without ``-d``."""
    text, _ = strip_ansi(text)
    if text.lstrip().startswith("["):
        return _json_kinds(text)
    out: dict[str, LinkKind] = {}
    dev: str | None = None
    after_link = False
    for raw in split_lines(text):
        s = raw.strip()
        m = _HEADER.match(s)
        if m is not None:
            dev, after_link = m.group(1), False
            continue
        if dev is None or not s:
            continue
        if s.startswith("link/"):
            after_link = True
            continue
        if after_link:  # the line right after link/...: the kind, if the device has one
            after_link = False
            words = s.split()
            if _KIND.match(words[0]) and words[0] not in _NOT_KINDS:
                out[dev] = _from_words(dev, words)
    return out


def _from_words(dev: str, words: list[str]) -> LinkKind:
    """``vxlan id 4096 local 10.0.0.1 ... dstport 4789 ...``, ``ipip any remote 10.0.0.2 local any ...``."""
    kind = words[0]
    said: dict[str, str] = {}
    for key, value in itertools.pairwise(words):
        if key in ("id", "dstport", "local", "remote") and key not in said:
            said[key] = value
    return LinkKind(dev, kind, _int(said.get("id"), VNI_MAX), _int(said.get("dstport"), 0xFFFF), _addr(said.get("local")),
                    _addr(said.get("remote")), "external" in words[1:], "ip -d addr")  # fmt: skip


def _json_kinds(text: str) -> dict[str, LinkKind]:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    out: dict[str, LinkKind] = {}
    for d in doc if isinstance(doc, list) else []:
        if not isinstance(d, dict) or not isinstance(d.get("ifname"), str):
            continue
        info = d.get("linkinfo")
        if not isinstance(info, dict) or not isinstance(info.get("info_kind"), str):
            continue
        data: dict[str, Any] = info.get("info_data") if isinstance(info.get("info_data"), dict) else {}  # type: ignore[assignment]
        local, remote = data.get("local"), data.get("remote")
        out[d["ifname"]] = LinkKind(
            d["ifname"], info["info_kind"], _int(data.get("id"), VNI_MAX), _int(data.get("port"), 0xFFFF),
            _addr(local if isinstance(local, str) else None), _addr(remote if isinstance(remote, str) else None),
            data.get("external") is True, "ip -d -j addr")  # fmt: skip
    return out


def _int(value: object, most: int) -> int | None:
    """A number the kernel can hold (0..``most``: a VNI is 24 bits, a port 16), else not said."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and digits(value) and len(value) < 12:
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= most else None


def _addr(value: str | None) -> str | None:
    """An IPv4 or IPv6 address as the kernel prints it, else not said ("any", or text no kernel prints)."""
    if value is None or value == "any":
        return None
    try:
        return addr_text(str(ipaddress.ip_address(value)))
    except ValueError:
        return None
