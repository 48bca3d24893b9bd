"""What a simulated host needs around it (``Fabric``, ``Place``) and the state of one packet crossing it
(``Pass``); the host itself is ``hairpin.host.LinuxHost``, which re-exports ``Fabric`` and ``Place``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from hairpin.conntrack import IP_CT_DIR_ORIGINAL, Entry

if TYPE_CHECKING:
    from hairpin.engine import Engine
    from hairpin.model.net import Packet
    from hairpin.notes import Note

__all__ = ["Fabric", "Pass", "Place"]


class Place(Protocol):
    """Anything that sends or records packets: a host, the VPC router."""

    name: str
    label: str


class Fabric:
    """What a host needs from the network around it (the simulator implements it)."""

    engine: Engine
    #: False: hosts skip the words of a trace (rule texts, conntrack entries, routes) for speed;
    #: outcomes are identical either way.
    verbose: bool = True
    #: True (with ``verbose``): those words come as ``hairpin.notes.Note`` objects, built when read (the
    #: tracer's passes are mostly never shown); False: as strings.
    lazy: bool = False
    #: True: the fabric follows a REJECT's answer itself (the tracer: ``hairpin.tracer``), so a host records the
    #: rejected packet as dropped; False (the simulator): the host's step names the answer, which goes no further
    answers_rejects: bool = False

    def transmit(self, host: Place, oif: str, packet: Packet, notes: Sequence[str | Note]) -> None:
        raise NotImplementedError

    def record(
        self, host: Place, where: str, packet: Packet, notes: Sequence[str | Note], kind: str, lane: str | None = None
    ) -> None:
        raise NotImplementedError


@dataclass(slots=True)
class Pass:
    """One packet's state while it crosses this host."""

    packet: Packet
    iif: str | None
    mark: int = 0
    ct: Entry | None = None
    direction: int = IP_CT_DIR_ORIGINAL
    #: before conntrack has seen the packet (the raw table) nf_ct_get gives no entry and ctinfo 0, which
    #: xt_conntrack.c conntrack_mt and xt_state.c state_mt read as INVALID (UNTRACKED is only IP_CT_UNTRACKED)
    ctstate: str = "INVALID"
    new: bool = False
    ipvs: bool = False  # skb->ipvs_property: set once IPVS has rewritten the packet (ip_vs_xmit.c, ip_vs_core.c)
