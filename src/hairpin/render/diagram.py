"""The layout of a sequence diagram, as plain data: lanes, arrows, notes and time gaps.

A trace is a list of hops; a hop is a packet *leaving* a place (``kind`` ``send``, or ``nlb`` for the NLB's
rewrite) or *ending* there (``deliver``, ``drop``, ``martian``), plus the connection's outcome
(``established``, ``timeout``, ``reset``).  One lane per party (``Hop.lane``: the client pod, each node with
the interfaces packets left it by, the NLB, the VPC router, the backend pods).

Arrows: a leaving hop is joined to the next hop of *the same segment* in another lane: same TCP flags,
sequence and acknowledgement numbers (NAT rewrites addresses and ports, never those), within
``FLIGHT`` seconds (a retransmission of the same segment comes a whole RTO later, 1 s at least; RFC 6298
and Linux's TCP_TIMEOUT_INIT).  A leaving hop through ``lo`` may end in its own lane.  A leaving hop that
nothing received becomes a stub arrow (``dst_lane`` None); a hop that ends nothing and leaves nothing
becomes a note on its lane.

Highlighted (``Arrow.style``): ``hairpin`` is the failing return path -- the SYN-ACK delivered to the
client from an address other than the one it called (the first segment the client sent); ``rst`` is any
segment carrying RST; ``drop`` ends in a drop or martian.  Rows go in trace order; a pause longer than
``GAP`` seconds becomes a gap row, so the time column on the side shows retransmission timers.  With
``fold``, a retransmission round that repeats an earlier round's path is folded into one row.

Geometry is included (lane x, row y, in SVG user units) so renderers only draw; tests read the data.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hairpin.model.hop import Hop
from hairpin.model.net import Endpoint, Flags

__all__ = [
    "FLIGHT",
    "GAP",
    "Arrow",
    "Diagram",
    "Fold",
    "Gap",
    "Lane",
    "Note",
    "Row",
    "acts",
    "layout",
    "scenario_lanes",
]

FLIGHT = 0.5  # s: the longest a segment may take between two places of one trace
GAP = 0.1  # s: a pause longer than this is drawn as a gap row

LEAVING = ("send", "nlb")
ENDING = ("deliver", "drop", "martian")
OUTCOMES = ("established", "timeout", "reset")

# geometry, SVG user units
TIME_W = 96  # the time column on the left
LANE_W = 164
HEAD_H = 100
ARROW_H = 44
NOTE_H = 28
GAP_H = 30
FOLD_H = 30
MARGIN = 16


@dataclass(frozen=True)
class Lane:
    """One party: its name (``Hop.lane``), a label, the interfaces packets left it by, its x."""

    name: str
    label: str
    interfaces: tuple[str, ...]
    x: float


@dataclass(frozen=True)
class Arrow:
    """A segment travelling from one lane to another (``dst_lane`` None: nothing received it)."""

    t: float
    src_lane: str
    dst_lane: str | None
    packet: str  # "192.168.27.239:35474 -> 192.168.168.103:80"
    flags: str  # "SYN,ACK"
    acts: tuple[str, ...]  # what acted where it left: DNAT, MASQUERADE, route, NLB choice, RST...
    style: str  # normal | hairpin | rst | drop
    end: str  # kind of the receiving hop: send | nlb | deliver | drop | martian | none
    detail: str  # the full action text of both hops, for tooltips
    hop: int  # index of the leaving hop
    to_hop: int | None  # index of the receiving hop
    y: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.flags} {self.packet}"


@dataclass(frozen=True)
class Note:
    """A hop that is neither a departure nor an arrival: an outcome, an unmatched delivery or drop."""

    t: float
    lane: str
    kind: str
    text: str
    hop: int
    y: float = 0.0


@dataclass(frozen=True)
class Gap:
    """A pause in the trace (a retransmission timer running)."""

    t: float
    seconds: float
    y: float = 0.0


@dataclass(frozen=True)
class Fold:
    """A retransmission round folded because it repeats an earlier round's path."""

    t: float
    text: str
    hops: int
    y: float = 0.0


Row = Arrow | Note | Gap | Fold


@dataclass(frozen=True)
class Diagram:
    title: str
    lanes: tuple[Lane, ...]
    rows: tuple[Row, ...]
    client: str | None  # the client's lane
    called: str | None  # the endpoint the client called
    width: float = 0.0
    height: float = 0.0
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def arrows(self) -> list[Arrow]:
        return [r for r in self.rows if isinstance(r, Arrow)]

    def lane(self, name: str) -> Lane:
        for ln in self.lanes:
            if ln.name == name:
                return ln
        raise KeyError(name)


# ------------------------------------------------------------------------------------------ what acted

_ARROW_RE = re.compile(r"-> (\S+) > (\S+)")


def _shorten_route(text: str) -> str:
    body = text.split(": ", 1)[1] if ": " in text else text
    last = body.split("; ")[-1]
    last = re.sub(r"^table \S+: ", "", last)
    m = re.search(r"default via (\S+) dev (\S+)", last)
    if m:
        return f"route default via {m.group(1)} dev {m.group(2)}"
    m = re.match(r"(\S+) dev (\S+)", last)
    if m:
        return f"route {m.group(1)} dev {m.group(2)}"
    return "route " + last[:48]


def acts(action: str) -> tuple[str, ...]:
    """The few things in a hop's action text that explain an arrow, each a short phrase."""
    out: list[str] = []
    for raw in action.split(" | "):
        p = raw.strip()
        if not p:
            continue
        if p.startswith("DNAT:"):
            out.append("DNAT -> " + p.rsplit("-> ", 1)[-1])
        elif p.startswith(("MASQUERADE", "SNAT:")):
            out.append(p.split(":", 1)[0].split(" ")[0] + " -> " + p.rsplit("-> ", 1)[-1])
        elif p.startswith(("conntrack de-NAT", "conntrack NAT")):
            m = _ARROW_RE.search(p)
            which = "dst" if "(dst)" in p else "src"
            verb = "de-NAT" if "de-NAT" in p else "NAT"
            if m:
                out.append(f"{verb} {which} -> {m.group(2) if which == 'dst' else m.group(1)}")
        elif p.startswith("route:"):
            if "(local delivery)" not in p:
                out.append(_shorten_route(p))
        elif p.startswith("VPC route"):
            m = re.search(r"behind (\S+)", p)
            out.append(f"VPC route -> {m.group(1)}" if m else "VPC route")
        elif p.startswith("NLB "):
            m = re.search(r"picks target (\S+) \(([^)]*)\)", p)
            if m:
                out.append(f"NLB picks {m.group(1)} ({m.group(2)})")
            elif "flow table hit" in p:
                out.append("NLB flow table: same target")
            elif "source restored" in p:
                out.append("NLB restores listener as source")
            elif "dropped" in p:
                out.append(p[:60])
            m2 = re.search(r"source rewritten to the NLB's own address (\S+)", p)
            if m2:
                out.append(f"NLB SNAT -> {m2.group(1)}")
        elif "_send_reset" in p or p.startswith("no socket matches"):
            out.append("RST: no socket for this 4-tuple")
        elif p.startswith("SYN retransmission"):
            out.append(p.split(" (", 1)[0])
        elif p.startswith("connect()"):
            out.append("connect()")
        elif p.startswith("listener"):
            out.append(p.split(":", 1)[0] + ": SYN/ACK")
        elif p.startswith("SYN/ACK matches"):
            out.append("ESTABLISHED: ACK")
        elif "martian" in p or p.startswith(("dropped", "source/destination check")):
            out.append(p[:72])
    return tuple(out)


# ------------------------------------------------------------------------------------------ lanes


def scenario_lanes(scenario: object) -> list[tuple[str, str]]:
    """(lane, label) for a scenario's parties, in reading order: the client pod, its node, that node's
    other pods, the NLB, the VPC, then each other node followed by its pods."""
    from hairpin.scenario import Scenario

    assert isinstance(scenario, Scenario)
    s = scenario
    client = s.client_pod
    out: list[tuple[str, str]] = [(client.name, f"pod {client.ip} (client)")]

    def node_and_pods(node_name: str) -> None:
        n = s.node(node_name)
        out.append((n.name, f"node {n.ip} {n.az}"))
        for p in s.pods_on(n.name):
            if p.name != client.name:
                out.append((p.name, f"pod {p.ip}"))

    node_and_pods(client.node)
    svc = s.client_service
    if svc.load_balancer is not None and svc.load_balancer.nodes:
        out.append(("NLB", "NLB " + ", ".join(a for _, a in svc.load_balancer.nodes)))
    out.append(("vpc", f"VPC router {s.vpc.router}"))
    for n in s.nodes:
        if n.name != client.node:
            node_and_pods(n.name)
    return out


def _interfaces(hops: Sequence[Hop], lane: str) -> tuple[str, ...]:
    seen: list[str] = []
    for h in hops:
        if h.lane != lane or h.kind not in LEAVING:
            continue
        parts = h.at.split()
        if len(parts) >= 2 and parts[0] not in ("NLB",) and parts[-1] not in seen:
            seen.append(parts[-1])
    return tuple(seen)


# ------------------------------------------------------------------------------------------ layout


def _same_segment(a: Hop, b: Hop) -> bool:
    pa, pb = a.packet, b.packet
    return pa.flags == pb.flags and pa.seq == pb.seq and pa.ack == pb.ack and pa.proto == pb.proto


def _receivers(hops: Sequence[Hop]) -> dict[int, int]:
    """Leaving hop index -> index of the hop that received that segment."""
    taken: set[int] = set()
    out: dict[int, int] = {}
    for i, h in enumerate(hops):
        if h.kind not in LEAVING:
            continue
        loop = h.at.endswith(" lo")
        for j in range(i + 1, len(hops)):
            g = hops[j]
            if g.t - h.t > FLIGHT:
                break
            if j in taken or g.kind not in LEAVING + ENDING or not _same_segment(h, g):
                continue
            if g.lane == h.lane and not loop:
                continue
            out[i] = j
            taken.add(j)
            break
    return out


def _called(hops: Sequence[Hop]) -> tuple[str | None, Endpoint | None]:
    for h in hops:
        if h.kind == "send":
            return h.lane, h.packet.dest
    return (hops[0].lane, None) if hops else (None, None)


def _style(h: Hop, end: Hop | None, client: str | None, called: Endpoint | None) -> str:
    f = h.packet.flags
    synack = bool(f & Flags.SYN) and bool(f & Flags.ACK)
    to_client = end is not None and end.lane == client
    if to_client and synack and called is not None and end is not None and end.packet.source != called:
        return "hairpin"
    if f & Flags.RST:
        return "rst"
    if end is not None and end.kind in ("drop", "martian"):
        return "drop"
    return "normal"


def layout(
    hops: Sequence[Hop],
    *,
    title: str = "",
    lanes: Iterable[str | tuple[str, str]] | None = None,
    labels: Mapping[str, str] | None = None,
    fold: bool = False,
    failing: Collection[int] = (),
) -> Diagram:
    """Lay out ``hops`` as a sequence diagram.

    ``lanes`` orders the lanes (names, or (name, label) pairs such as ``scenario_lanes`` gives); lanes no
    hop uses are left out, lanes not named are appended in order of first appearance.  ``labels`` adds
    or overrides lane labels.  ``fold`` folds retransmission rounds that repeat an earlier path.
    ``failing`` names leaving hops (by index) drawn in the failure style whatever their lanes, for a
    face that knows the failing path by other means (the tracer's asymmetric reply).
    """
    hops = list(hops)
    order: list[str] = []
    lab: dict[str, str] = {}
    used = {h.lane for h in hops}
    for item in lanes or ():
        name, text = (item, "") if isinstance(item, str) else item
        if name in used and name not in order:
            order.append(name)
            lab[name] = text
    for h in hops:
        if h.lane not in order:
            order.append(h.lane)
    lab.update(labels or {})
    lane_objs = tuple(
        Lane(n, lab.get(n, ""), _interfaces(hops, n), TIME_W + MARGIN + LANE_W * i + LANE_W / 2)
        for i, n in enumerate(order)
    )
    client, called = _called(hops)
    recv = _receivers(hops)
    received = set(recv.values())

    rows: list[Row] = []
    for i, h in enumerate(hops):
        if i in recv or h.kind in LEAVING:
            j = recv.get(i)
            end = hops[j] if j is not None else None
            detail = f"{h.at}: {h.action}"
            if end is not None and end.kind in ENDING and end.action:
                detail += f"\n{end.at}: {end.action}"
            rows.append(
                Arrow(h.t, h.lane, end.lane if end else None, f"{h.packet.source} -> {h.packet.dest}",
                      h.packet.flags.label(), acts(h.action),
                      "hairpin" if i in failing else _style(h, end, client, called),
                      end.kind if end else "none", detail, i, j)
            )  # fmt: skip
        elif i not in received:
            text = h.action if h.kind in OUTCOMES else f"{h.packet.flags.label()} {h.packet}: {h.action}"
            rows.append(Note(h.t, h.lane, h.kind, text, i))
    rows.sort(key=lambda r: r.t)  # stable: trace order within a time; outcomes move to their time
    rows = _with_gaps(rows)
    if fold:
        rows = _fold(rows, hops)
    rows = _place(rows)
    width = TIME_W + MARGIN * 2 + LANE_W * max(1, len(order))
    height = (rows[-1].y + _height(rows[-1]) / 2 + MARGIN) if rows else HEAD_H + MARGIN
    return Diagram(title, lane_objs, tuple(rows), client, str(called) if called else None, width, height)


def _with_gaps(rows: list[Row]) -> list[Row]:
    out: list[Row] = []
    prev: float | None = None
    for r in rows:
        if prev is not None and r.t - prev > GAP:
            out.append(Gap(r.t, r.t - prev))
        out.append(r)
        prev = r.t
    return out


def _signature(rows: Sequence[Row]) -> tuple[tuple[str, ...], ...]:
    sig: list[tuple[str, ...]] = []
    for r in rows:
        if isinstance(r, Arrow):
            sig.append((r.src_lane, r.dst_lane or "", r.flags, r.style))
        elif isinstance(r, Note):
            sig.append((r.lane, r.kind))
    return tuple(sig)


def _fold(rows: list[Row], hops: Sequence[Hop]) -> list[Row]:
    rounds: list[list[Row]] = [[]]
    for r in rows:
        if isinstance(r, Gap):
            rounds.append([r])
        else:
            rounds[-1].append(r)
    seen: dict[tuple[tuple[str, ...], ...], float] = {}
    out: list[Row] = []
    for rnd in rounds:
        body = [r for r in rnd if not isinstance(r, Gap)]
        tail = [r for r in body if isinstance(r, Note) and r.kind in OUTCOMES]
        body = [r for r in body if r not in tail]
        sig = _signature(body)
        if body and sig in seen:
            first = body[0]
            why = ""
            if isinstance(first, Arrow):
                why = next((a for a in first.acts if a.startswith("SYN retransmission")), first.label)
            ends = "client RST" if any(isinstance(r, Arrow) and r.style == "rst" for r in body) else "no RST"
            text = f"{why}: same path as at t={seen[sig]:.3f} s ({len(body)} rows folded; {ends})"
            out.extend(r for r in rnd if isinstance(r, Gap))
            out.append(Fold(first.t, text, len(body)))
            out.extend(tail)
            continue
        if body:
            seen.setdefault(sig, body[0].t)
        out.extend(rnd)
    return out


def _height(r: Row) -> float:
    if isinstance(r, Arrow):
        return ARROW_H
    if isinstance(r, Note):
        return NOTE_H
    if isinstance(r, Gap):
        return GAP_H
    return FOLD_H


def _place(rows: list[Row]) -> list[Row]:
    from dataclasses import replace

    y: float = HEAD_H + MARGIN
    out: list[Row] = []
    for r in rows:
        h = _height(r)
        out.append(replace(r, y=y + h / 2))
        y += h
    return out
