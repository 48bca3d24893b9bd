"""A hop: one packet seen at one place at one time, and what acted on it there.

Traces from every face of hairpin (simulator, tracer, lab capture, pcap analyser) are lists of hops,
so the renderers draw them all the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hairpin.model.net import Flags, Packet

__all__ = ["Hop"]


@dataclass(frozen=True, slots=True)
class Hop:
    """``packet`` as it was seen ``at`` a place (``"node1 eth0"``) at simulated time ``t``.

    ``action`` says in words what acted on it (a rule, a conntrack entry, a route, the NLB's choice);
    ``kind`` is a short machine tag (``send``, ``nlb``, ``dnat``, ``snat``, ``route``, ``deliver``,
    ``rst``, ``drop``, ``timeout``...) that renderers use for colour; ``conn`` is the connection id.
    """

    t: float
    at: str
    packet: Packet
    action: str
    kind: str = "info"
    conn: int = 0
    lane: str = ""

    @property
    def flags(self) -> Flags:
        return self.packet.flags

    def to_json(self) -> dict[str, Any]:
        return {
            "t": round(self.t, 6),
            "at": self.at,
            "src": str(self.packet.source),
            "dst": str(self.packet.dest),
            "flags": self.packet.flags.names,
            "action": self.action,
        }
