"""What the memo (:mod:`hairpin.backends.memo`) requires of a connection's random values, and the stream that
lets it check that every draw is explained.

What it knows (the premises the memo's module docstring gives, "Why the values do not matter"):

- ``constants``: every port number a rule, a socket or the simulator may compare a port with (the decimal
  numbers of the scenario and of every namespace's iptables, ipset and nft text, the IPVS virtual servers and
  listeners, the simulator's own ranges): a port value's *cell* among them is all a comparison can see;
- ``_isns_apart``: the ISNs of one connection lie more than ``ISN_GAP`` (2**16) apart from each other and
  from 0 (mod 2**32), so no ``seq + small`` of one equals another's;
- ``_Tap``: a random stream that counts its top-level draws, so a recording can tell whether the hooks
  explained every draw of a stream.
"""

from __future__ import annotations

import itertools
import random
import re
from typing import TYPE_CHECKING, Any

from hairpin.host import LinuxHost

if TYPE_CHECKING:
    from hairpin.backends.sim import Network

__all__ = ["ISN_GAP", "MOD32", "constants"]


ISN_GAP = 1 << 16
MOD32 = 1 << 32
#: the simulator's own port constants: ephemeral range, NAT ranges, the NLB's source-port range
_CODE_PORTS = (0, 1, 1023, 1024, 32767, 32768, 60999, 61000, 64512, 65535)
_NUMBER = re.compile(r"\d+")


class _Tap(random.Random):
    """A random stream that counts its top-level draws (a ``randrange`` is one draw, whatever it asks of
    ``getrandbits`` inside) and keeps the last one's kind and value."""

    def __init__(self, text: str) -> None:
        self.draws = 0
        self.last = ""
        self.value = 0
        self._inner = False
        super().__init__(text)

    def random(self) -> float:
        v = super().random()
        if not self._inner:
            self.draws, self.last = self.draws + 1, "random"
        return v

    def getrandbits(self, k: int) -> int:
        v = super().getrandbits(k)
        if not self._inner:
            self.draws, self.last, self.value = self.draws + 1, f"bits{k}", v
        return v

    def randrange(self, *args: Any) -> int:
        if self._inner:
            return super().randrange(*args)
        self._inner = True
        try:
            v = super().randrange(*args)
        finally:
            self._inner = False
        self.draws, self.last, self.value = self.draws + 1, "randrange", v
        return v


def constants(net: Network) -> list[int]:
    """Every port number a rule, a socket or the simulator may compare a port with (sorted): the
    decimal numbers of the scenario, of every namespace's iptables, ipset and nft text (kube-proxy's and the CNI's), the IPVS virtual
    servers and listeners, and the simulator's own ranges.  More numbers only make cells finer."""
    texts = [repr(net.scenario)]
    for ns in net.topology.namespaces:
        texts += [ns.iptables, ns.ipsets]
    from hairpin.kube import node_nft  # kube-proxy's table ip kube-proxy and the VPC CNI's table ip aws-cni

    texts += [node_nft(net.scenario, ns.name) for ns in net.topology.namespaces if ns.role == "node"]
    found = set(_CODE_PORTS)
    for text in texts:
        found.update(n for n in map(int, _NUMBER.findall(text)) if n <= 0xFFFF)
    for h in net.hosts.values():
        if isinstance(h, LinuxHost):
            found.update(port for _, port in h.tcp.listeners)
            if h.ipvs is not None:
                for vs in h.ipvs.services.values():
                    found.add(vs.port)
                    found.update(p for _, p in vs.dests)
    return sorted(found)


def _isns_apart(isns: list[int]) -> bool:
    """ISNs more than 2**16 apart from each other and from 0 (mod 2**32): no ``seq + small`` of one
    equals another's, nor wraps to a constant."""
    pts = sorted([0, *isns])
    gaps = [b - a for a, b in itertools.pairwise(pts)] + [MOD32 - pts[-1] + pts[0]]
    return min(gaps) > ISN_GAP
