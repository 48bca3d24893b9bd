"""Simulated traces written as pcapng, one interface per place, for Wireshark and tshark.

A hop that sends a packet (``send``, ``nlb``) is a frame on the interface named by ``Hop.at``
(``"pod netshoot eth0"``, ``"node1 eth0"``, ``"node1 enie348bef9edc"``, ``"VPC v-node1"``,
``"NLB 192.168.168.103"``), at the hop's time, with the hop's action text as the frame comment.  A hop
that ends a packet (``deliver``, ``drop``, ``martian``) is a frame on the interface its lane sends from
when the lane has exactly one (a pod's ``eth0``: so ``pod netshoot eth0`` shows the client's whole view,
as tcpdump inside the pod would), else on ``Hop.at``.  Outcome hops (``timeout``, ``established``,
``reset``) put nothing on the wire and are left out.

tshark's TCP analysis (4.0) follows a conversation across every interface of a file, so the same segment
captured at two places counts as a retransmission, exactly as in a real multi-interface capture.  To
analyse one place, write only it (``places={"pod netshoot eth0"}``) or cut it out first::

    tshark -r run.pcapng -Y 'frame.interface_name == "pod netshoot eth0"' -w client.pcapng
    tshark -r client.pcapng -Y tcp.analysis.flags

``write_run(run, path)`` writes the run's shown connections (a timed-out, an established and a reset
one, whichever exist) one after another, each shifted to start a second after the previous one ended.
The bytes come from ``hairpin.parsers.pcap_format.write_pcapng`` (Ethernet, IPv4, TCP with the simulated
sequence numbers, so tshark's analysis works on them).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hairpin.model.hop import Hop

if TYPE_CHECKING:
    from hairpin.backends.sim import Connection, Run
    from hairpin.parsers.pcap import PacketRecord

__all__ = ["records", "write_hops", "write_run"]

SENDS = ("send", "nlb")
ENDS = ("deliver", "drop", "martian")
PAUSE = 1.0  # s between two connections of one file


def _lane_interfaces(hops: Sequence[Hop]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for h in hops:
        if h.kind in SENDS:
            out.setdefault(h.lane, set()).add(h.at)
    return out


def records(
    hops: Sequence[Hop], *, offset: float = 0.0, label: str = "", places: Collection[str] | None = None
) -> list[PacketRecord]:
    """The ``PacketRecord``s of ``hops`` in time order (stable), shifted by ``offset`` seconds; with
    ``places``, only the frames on those interfaces."""
    from hairpin.parsers.pcap import PacketRecord
    from hairpin.render.markup import visible

    ifs = _lane_interfaces(hops)
    out: list[tuple[float, int, PacketRecord]] = []
    for i, h in enumerate(hops):
        if h.kind in SENDS:
            where = h.at
        elif h.kind in ENDS:
            own = ifs.get(h.lane, set())
            where = next(iter(own)) if len(own) == 1 else h.at
        else:
            continue
        if places is not None and where not in places:
            continue
        comment = f"{label}{h.kind} at {h.at}" + (f": {h.action}" if h.action else "")
        # names from the scenario file: control characters shown as \xNN (hairpin.render.markup), so tshark
        # printing an interface name or comment cannot recolour the terminal either
        out.append((h.t + offset, i, PacketRecord(h.t + offset, visible(where), h.packet, visible(comment))))
    out.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in out]


def write_hops(hops: Sequence[Hop], path: str | Path, *, places: Collection[str] | None = None) -> None:
    """Write one trace's packets as pcapng (only those on ``places`` if given)."""
    from hairpin.parsers.pcap import write_pcapng

    write_pcapng(path, records(hops, places=places))


def _shown(run: Run) -> list[Connection]:
    out: list[Connection] = []
    for outcome in ("timeout", "established", "reset"):
        c = run.example(outcome)
        if c is not None and c.hops and c not in out:
            out.append(c)
    return out


def write_run(
    run: Run,
    path: str | Path,
    connections: Iterable[Connection] | None = None,
    *,
    places: Collection[str] | None = None,
) -> None:
    """Write the run's shown connections (or ``connections``) as one pcapng, one after another (only the
    frames on ``places`` if given, e.g. ``{"pod netshoot eth0"}`` for the client's own view)."""
    from hairpin.parsers.pcap import write_pcapng

    recs: list[PacketRecord] = []
    offset = 0.0
    for c in connections if connections is not None else _shown(run):
        if not c.hops:
            continue
        recs.extend(records(c.hops, offset=offset, label=f"connection #{c.id} ({c.outcome}): ", places=places))
        offset += max(h.t for h in c.hops) + PAUSE
    write_pcapng(path, recs)
