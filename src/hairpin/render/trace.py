"""Pictures of a node trace: each outcome (request and reply) as a sequence diagram, and an HTML report.

Lanes are the node's interfaces as the packet meets them (in on one, out of another) with the node in
the middle: an arrow comes in on the input interface, the node's rules act, an arrow leaves by the output
interface. An asymmetric return shows as the reply leaving by a different lane than the request came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hairpin.model.hop import Hop
from hairpin.render import html, svg
from hairpin.render.markup import escape

if TYPE_CHECKING:
    from hairpin.trace import Outcome, Trace

__all__ = ["LEGEND", "outcome_hops", "report", "trace_svg"]

LEGEND = (
    "thick red: an asymmetric reply (it leaves by another interface than its request came in on); "
    "dashed orange: RST; a cross: dropped"
)


def outcome_hops(o: Outcome, node: str = "node") -> list[Hop]:
    """The outcome's legs as hops: in on the input interface's lane, out on the output interface's lane."""
    return _hops(o, node)[0]


def _hops(o: Outcome, node: str) -> tuple[list[Hop], list[int]]:
    """The hops, and the indices of those that leave on the failing path (an asymmetric reply)."""
    out: list[Hop] = []
    failing: list[int] = []
    t = 0.0
    for leg in o.legs:
        src_lane = f"via {leg.iif}" if leg.iif else node
        t += 0.001
        out.append(Hop(t, f"{src_lane} {leg.iif or 'lo'}", leg.packet, f"{leg.name} arrives", "send", 0, src_lane))
        t += 0.0001
        action = "; ".join([s.text for s in leg.steps if s.effect.startswith(("DNAT", "MASQ", "SNAT", "DROP"))]
                           + leg.notes)  # fmt: skip
        if leg.kind == "forward" and leg.out_packet is not None:
            out.append(Hop(t, f"{node} {leg.iif or 'lo'}", leg.packet, "", "deliver", 0, node))
            t += 0.0001
            dst_lane = f"via {leg.oif}"
            if o.asymmetric and leg.name == "reply":
                failing.append(len(out))
            out.append(Hop(t, f"{node} {leg.oif}", leg.out_packet, action, "send", 0, node))
            t += 0.0001
            out.append(Hop(t, f"{dst_lane} {leg.oif}", leg.out_packet, "", "deliver", 0, dst_lane))
        else:
            kind = "drop" if leg.kind in ("drop", "martian") else "deliver"
            out.append(Hop(t, f"{node} {leg.iif or 'lo'}", leg.packet, action + f"; {leg.verdict}", kind, 0, node))
    return out, failing


def trace_svg(t: Trace, index: int = 0, *, id_prefix: str = "tr") -> str:
    """One outcome of ``t`` as a standalone SVG sequence diagram."""
    o = t.outcomes[index]
    title = (
        f"{t.packet}: outcome {index + 1}/{len(t.outcomes)}, probability {o.probability} ({float(o.probability):.4f})"
    )
    if o.asymmetric:
        title += ": ASYMMETRIC RETURN"
    if o.assumes is not None:
        title += f" (assumes {o.assumes})"
    hops, failing = _hops(o, "node")
    labels = {h.lane: f"interface {h.lane.removeprefix('via ')}" for h in hops if h.lane.startswith("via ")}
    labels["node"] = "the traced node"
    return svg.sequence_svg(hops, title=title, id_prefix=id_prefix, failing=failing, labels=labels, legend=LEGEND)


def _e(v: object) -> str:
    return escape(str(v), quote=True)


def report(traces: list[Trace], *, title: str = "hairpin trace") -> str:
    """Every outcome of every traced packet: diagram, probability, rule steps with line numbers, verdicts."""
    body = [f"<h1>{_e(title)}</h1>"]
    for ti, t in enumerate(traces):
        body.append(f'<section id="packet{ti}"><h2>{_e(t.packet)} {_e("in " + t.iif if t.iif else "(sent by the node)")}: '
                    f"{len(t.outcomes)} outcome(s)</h2>")  # fmt: skip
        for w in t.warnings:
            body.append(f'<p class="sub">warning: {_e(w)}</p>')
        for oi, o in enumerate(t.outcomes):
            cls = "bad" if o.asymmetric else "good"
            body.append(f'<h3 class="{cls}" data-outcome="{oi + 1}">outcome {oi + 1}: probability {_e(o.probability)} '
                        f"({float(o.probability):.6f})</h3>")  # fmt: skip
            if o.asymmetric:
                body.append(f'<p class="bad asymmetric">ASYMMETRIC RETURN: {_e(o.asymmetric)}</p>')
            if o.assumes is not None:  # two iptables backends whose order changes the outcome
                body.append(f'<p class="sub">assumes: {_e(o.assumes)}</p>')
            body.append(f'<div class="pic diagram">{trace_svg(t, oi, id_prefix=f"t{ti}o{oi}")}</div>')
            rows = []
            for leg in o.legs:
                for s in leg.steps:
                    rows.append(f"<tr><td>{_e(leg.name)}</td><td>{_e(s.table)}</td><td>{_e(s.chain)}</td>"
                                f"<td class='n'>{s.line}</td><td class='pkt'>{_e(s.text)}</td><td>{_e(s.effect)}</td></tr>")  # fmt: skip
                rows.append(
                    f"<tr class='established'><td>{_e(leg.name)}</td><td colspan='5'>{_e(leg.verdict)}</td></tr>"
                )
            body.append("<details open><summary>rules and verdicts</summary><table><tr><th>leg</th><th>table</th>"
                        f"<th>chain</th><th>line</th><th>rule</th><th>effect</th></tr>{''.join(rows)}</table></details>")  # fmt: skip
        body.append("</section>")
    body.append("<footer>Generated by hairpin trace. Self-contained: inline SVG and CSS, nothing fetched.</footer>")
    return html.page(title, body)
