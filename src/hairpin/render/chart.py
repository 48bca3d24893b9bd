"""The timeout rate against the cluster's shape: simulated points next to the closed form, as data and SVG.

``variant(scenario, azs=, nodes_per_az=, cross_zone=)`` derives a scenario with ``dataclasses.replace``:
the client's node stays where it is, the client's AZ comes first, nodes are added (or left out) so every
AZ has ``nodes_per_az`` instance targets, AZs beyond the scenario's get a free subnet of the VPC and an
NLB node address, backend pods on nodes left out move to the remaining nodes (a pod's node only decides
which node de-NATs, not whether the client is hairpinned), and cross-zone load balancing is set.  IPv6
scenarios too: new nodes and NLB nodes take addresses of their subnet, and the nodes' delegated prefixes
are dropped (the VPC then routes each pod's address, as in a scenario without prefixes).

``points(scenario, ...)`` simulates ``connections`` connections per variant (``hairpin.backends.sim``)
and records the closed-form expectation (``hairpin.aws.risk`` through ``sim.expected_rate``);
``total(...)`` is the number of connections it will simulate, so a caller can size a progress bar, and
``progress`` is called with the number of connections done as they finish.  ``chart_svg(points)`` draws
the rate (with a 95 % Wilson interval) against nodes per AZ, one colour per series, the closed form as
a line.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from hairpin.render.markup import escape
from hairpin.scenario import AZ, Node, Scenario

__all__ = [
    "DEFAULT_NODES",
    "NoRoom",
    "Point",
    "chart_svg",
    "left_out",
    "points",
    "series_of",
    "total",
    "variant",
    "wilson",
]

DEFAULT_NODES = (1, 2, 3, 4, 6)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
PALETTE = ("#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f")


@dataclass(frozen=True)
class Point:
    """One simulated variant: its shape, how many connections timed out, and the closed form."""

    series: str
    azs: int
    nodes_per_az: int
    cross_zone: bool
    connections: int
    timeouts: int
    expected: float

    @property
    def rate(self) -> float:
        return self.timeouts / self.connections if self.connections else 0.0


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion k/n (95 % for z=1.96)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


# ------------------------------------------------------------------------------------------ variants


class NoRoom(ValueError):
    """The scenario has no room for the variant asked for: no free subnet of the VPC for another AZ, no free
    address left in an AZ's subnet for another node or NLB node, or no AZ name left (``REGION`` + a-z)."""


def _free_subnets(s: Scenario, prefix: int, want: int) -> list[str]:
    """Up to ``want`` subnets of the VPC of this prefix length that no AZ uses (IPv4 or IPv6)."""
    used = [ipaddress.ip_network(n) for az in s.vpc.azs for n in az.subnets]
    out: list[str] = []
    for net in ipaddress.ip_network(s.vpc.cidr).subnets(new_prefix=prefix):
        if len(out) == want:
            break
        if not any(net.overlaps(u) for u in used):
            out.append(str(net))
    return out


def variant(s: Scenario, *, azs: int, nodes_per_az: int, cross_zone: bool) -> Scenario:
    """The scenario reshaped to ``azs`` AZs of ``nodes_per_az`` nodes each, cross-zone on or off."""
    if azs < 1 or nodes_per_az < 1:
        raise ValueError("azs and nodes_per_az must be at least 1")
    if azs > len(_LETTERS) and azs > len(s.vpc.azs):
        raise NoRoom(f"{azs} AZs: AZ names are the region's name and a letter, a to z (at most {len(_LETTERS)})")
    svc = s.client_service
    lb = svc.load_balancer
    if lb is None:
        raise ValueError(f"service {svc.key} has no load balancer")
    client_node = s.node(s.client_pod.node)
    zone_names = [client_node.az] + [z.name for z in s.vpc.azs if z.name != client_node.az]
    zones: list[AZ] = [next(z for z in s.vpc.azs if z.name == n) for n in zone_names][:azs]
    prefix = ipaddress.ip_network(s.vpc.subnet_of(client_node.ip) or s.vpc.azs[0].subnets[0]).prefixlen
    spare = _free_subnets(s, prefix, max(0, azs - len(zones)))
    if len(zones) + len(spare) < azs:
        raise NoRoom(f"{azs} AZs need {azs - len(zones)} more /{prefix} subnet(s) than the scenario's AZs; "
                     f"the VPC {s.vpc.cidr} has {len(spare)} free: at most {len(zones) + len(spare)} AZs")  # fmt: skip
    taken = {z.name for z in s.vpc.azs}
    while len(zones) < azs:
        name = next((f"{s.region}{c}" for c in _LETTERS if f"{s.region}{c}" not in taken), None)
        if name is None:
            raise NoRoom(f"{azs} AZs: no AZ name {s.region}a to {s.region}z left")
        taken.add(name)
        zones.append(AZ(name, (spare.pop(0),)))
    used = {n.ip for n in s.nodes} | {p.ip for p in s.pods} | {a for _, a in lb.nodes} | {s.vpc.router}
    names = {n.name for n in s.nodes}

    def fresh_ip(zone: AZ) -> str:
        net = ipaddress.ip_network(zone.subnets[0])
        for host in net.hosts():  # a generator: an IPv6 /64 is walked from its start only
            if int(host) - int(net.network_address) < 10:
                continue  # AWS reserves the first four addresses of a subnet; keep clear of them
            if str(host) not in used:
                used.add(str(host))
                return str(host)
        raise NoRoom(f"{nodes_per_az} nodes per AZ: no free address left in subnet {net} of {zone.name}")

    def fresh_name() -> str:
        i = len(names) + 1
        while f"node{i}" in names:
            i += 1
        names.add(f"node{i}")
        return f"node{i}"

    nodes: list[Node] = []
    for zone in zones:
        have = [n for n in s.nodes if n.az == zone.name]
        if zone.name == client_node.az:
            have = [client_node] + [n for n in have if n.name != client_node.name]
        keep = have[:nodes_per_az]
        while len(keep) < nodes_per_az:
            keep.append(Node(fresh_name(), fresh_ip(zone), zone.name, client_node.labels))
        nodes.extend(keep)
    kept = {n.name for n in nodes}
    pods = []
    spill = 0
    for p in s.pods:
        if p.node in kept:
            pods.append(p)
            continue
        target = nodes[spill % len(nodes)]
        spill += 1
        pods.append(replace(p, node=target.name, ip=target.ip if p.host_network else p.ip))
    if any(n.prefix for n in nodes):
        # an IPv6 node's delegated /80 (nodes[].prefix) holds its own pods only: with pods moved between nodes,
        # the VPC routes each pod's address instead (what a scenario without prefixes says)
        nodes = [replace(n, prefix=None) for n in nodes]
    lb_nodes = dict(lb.nodes)
    new_lb_nodes = []
    for zone in zones:
        addr = lb_nodes.get(zone.name) or fresh_ip(zone)
        new_lb_nodes.append((zone.name, addr))
    new_svc = replace(svc, load_balancer=replace(lb, cross_zone=cross_zone, nodes=tuple(new_lb_nodes)))
    services = tuple(new_svc if x.key == svc.key else x for x in s.services)
    return replace(
        s,
        name=f"{s.name}-{azs}az-{nodes_per_az}n-{'xz' if cross_zone else 'noxz'}",
        vpc=replace(s.vpc, azs=tuple(zones)),
        nodes=tuple(nodes),
        pods=tuple(pods),
        services=services,
    )


def series_of(s: Scenario) -> list[tuple[str, int, bool]]:
    """The default series: cross-zone off with the scenario's AZs, cross-zone on with 2 and 3 AZs."""
    n = len(s.vpc.azs)
    return [
        (f"cross-zone off, {n} AZ{'s' if n != 1 else ''}", n, False),
        ("cross-zone on, 2 AZs", 2, True),
        ("cross-zone on, 3 AZs", 3, True),
    ]


def _series(s: Scenario, nodes: Sequence[int]) -> tuple[list[tuple[str, int, bool]], list[str]]:
    """The default series the scenario has room for (``variant`` with the most nodes per AZ), and why each
    other one is left out (``series name: reason``)."""
    keep: list[tuple[str, int, bool]] = []
    why: list[str] = []
    for name, azs, xz in series_of(s):
        try:
            variant(s, azs=azs, nodes_per_az=max(nodes, default=1), cross_zone=xz)
        except NoRoom as exc:
            why.append(f"{name}: {exc}")
            continue
        keep.append((name, azs, xz))
    return keep, why


def left_out(s: Scenario, *, nodes: Sequence[int] = DEFAULT_NODES) -> list[str]:
    """The default series ``points`` leaves out because the scenario has no room for them, each with why."""
    return _series(s, nodes)[1]


def total(s: Scenario, *, connections: int = 200, nodes: Sequence[int] = DEFAULT_NODES) -> int:
    """How many connections ``points`` simulates with these arguments."""
    return connections * len(nodes) * len(_series(s, nodes)[0])


def points(
    s: Scenario,
    *,
    connections: int = 200,
    seed: int = 0,
    nodes: Sequence[int] = DEFAULT_NODES,
    progress: Callable[[int], None] | None = None,
) -> list[Point]:
    """Simulate every (series, nodes per AZ) variant of ``s``; ``progress(n)`` after each connection.  A series
    the scenario has no room for (its VPC has no free subnet for another AZ, a subnet no free address for
    another node) is left out: ``left_out`` says which and why."""
    from hairpin.backends import sim

    out: list[Point] = []
    for name, azs, xz in _series(s, nodes)[0]:
        for n in nodes:
            v = variant(s, azs=azs, nodes_per_az=n, cross_zone=xz)
            r = sim.run(v, connections, seed, fixes=False, progress=progress)
            out.append(Point(name, azs, n, xz, r.summary.attempts, r.summary.timeouts, r.summary.expected_rate))
    return out


# ------------------------------------------------------------------------------------------ drawing


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def chart_svg(pts: Sequence[Point], *, title: str = "", width: int = 680, height: int = 380) -> str:
    """The rate against nodes per AZ: dots with 95 % intervals (simulated), lines (closed form)."""
    left, right, top, bottom = 58, 200, 34, 48
    pw, ph = width - left - right, height - top - bottom
    xs = sorted({p.nodes_per_az for p in pts}) or [1]
    x_lo, x_hi = min(xs) - 0.5, max(xs) + 0.5
    y_hi = max([0.25, *(wilson(p.timeouts, p.connections)[1] for p in pts), *(p.expected for p in pts)])
    y_hi = min(1.0, math.ceil(y_hi * 10) / 10)

    def X(v: float) -> float:
        return left + (v - x_lo) / (x_hi - x_lo) * pw

    def Y(v: float) -> float:
        return top + ph - v / y_hi * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title or "timeout rate", quote=True)}">',
        "<style>.chart text{font:11px sans-serif;fill:#333}.chart .ct{font:bold 13px sans-serif}</style>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
    ]
    if title:
        out.append(f'<text class="ct" x="{left}" y="18">{escape(title)}</text>')
    steps = 5
    for i in range(steps + 1):
        v = y_hi * i / steps
        y = Y(v)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{_n(y)}" y2="{_n(y)}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{_n(y + 4)}" text-anchor="end">{v:.0%}</text>')
    for x in xs:
        out.append(f'<text x="{_n(X(x))}" y="{top + ph + 16}" text-anchor="middle">{x}</text>')
    out.append(
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#555"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#555"/>'
        f'<text x="{_n(left + pw / 2)}" y="{height - 12}" text-anchor="middle">nodes per AZ (instance targets)</text>'
        f'<text transform="translate(14 {_n(top + ph / 2)}) rotate(-90)" text-anchor="middle">timeout rate</text>'
    )
    names: list[str] = []
    for p in pts:
        if p.series not in names:
            names.append(p.series)
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        ser = sorted((p for p in pts if p.series == name), key=lambda p: p.nodes_per_az)
        jitter = (i - (len(names) - 1) / 2) * 5
        line = " ".join(f"{_n(X(p.nodes_per_az))},{_n(Y(p.expected))}" for p in ser)
        out.append(f'<g class="series" data-series="{escape(name, quote=True)}">')
        out.append(
            f'<polyline class="formula" points="{line}" fill="none" stroke="{colour}" stroke-width="1.5" '
            f'stroke-dasharray="5 3"/>'
        )
        for p in ser:
            lo, hi = wilson(p.timeouts, p.connections)
            px = X(p.nodes_per_az) + jitter
            out.append(
                f'<g class="point" data-nodes="{p.nodes_per_az}" data-azs="{p.azs}" '
                f'data-cross-zone="{str(p.cross_zone).lower()}" data-rate="{p.rate:.6f}" '
                f'data-expected="{p.expected:.6f}" data-timeouts="{p.timeouts}" data-connections="{p.connections}">'
                f"<title>{escape(name)}, {p.nodes_per_az} nodes per AZ: {p.timeouts}/{p.connections} timed out "
                f"({p.rate:.1%}; 95 % interval {lo:.1%}-{hi:.1%}); closed form {p.expected:.1%}</title>"
                f'<line x1="{_n(px)}" x2="{_n(px)}" y1="{_n(Y(lo))}" y2="{_n(Y(hi))}" stroke="{colour}"/>'
                f'<circle cx="{_n(px)}" cy="{_n(Y(p.rate))}" r="4" fill="{colour}"/></g>'
            )
        ly = top + 8 + i * 36
        lx = left + pw + 14
        out.append(
            f'<circle cx="{lx + 6}" cy="{ly}" r="4" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{ly + 4}">{escape(name)}</text>'
            f'<line x1="{lx}" x2="{lx + 12}" y1="{ly + 16}" y2="{ly + 16}" stroke="{colour}" stroke-dasharray="5 3"/>'
            f'<text x="{lx + 16}" y="{ly + 20}" fill="#666">closed form</text>'
        )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
