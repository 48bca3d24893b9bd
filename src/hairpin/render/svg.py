"""Sequence diagrams drawn as standalone SVG text (no scripts, no fonts or images fetched).

``sequence_svg(hops, title=...)`` lays the hops out with ``hairpin.render.diagram.layout`` and draws
it: one lifeline per lane with its label and interfaces, one arrow per segment labelled
``flags src -> dst`` above and what acted below, the failing return path in thick red, RSTs in dashed
orange, drops ending in a cross, the time in seconds on the left, pauses as dotted bands.  Every arrow
carries a ``<title>`` with the full action text (a tooltip in browsers) and ``data-`` attributes naming
its lanes and style, so the HTML report's tests and scripts can find them.  ``draw(diagram)`` draws a
layout made elsewhere.  The same SVG embeds inline in HTML (ids are prefixed per diagram).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace

from hairpin.model.hop import Hop
from hairpin.render.diagram import (
    HEAD_H,
    LANE_W,
    MARGIN,
    TIME_W,
    Arrow,
    Diagram,
    Fold,
    Gap,
    Note,
    layout,
)
from hairpin.render.markup import escape

__all__ = ["COLOURS", "LEGEND", "draw", "sequence_svg"]

COLOURS = {
    "normal": "#37474f",
    "hairpin": "#d32f2f",
    "rst": "#ef6c00",
    "drop": "#6a1b9a",
    "timeout": "#d32f2f",
    "established": "#2e7d32",
    "reset": "#ef6c00",
}
CHAR_W = 6.6  # width of one 11px monospace character, for keeping labels inside the picture


def _a(value: object) -> str:
    return escape(str(value), quote=True)


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _t(t: float) -> str:
    return f"{t:.6f}"


def _text(
    x: float, y: float, body: str, cls: str, anchor: str = "middle", fit: float = 0.0, char_w: float = CHAR_W
) -> str:
    """A text element; with ``fit``, squeezed to that width when it would be wider."""
    squeeze = ""
    if fit and len(body) * char_w > fit:
        squeeze = f' textLength="{_num(fit)}" lengthAdjust="spacingAndGlyphs"'
    return f'<text x="{_num(x)}" y="{_num(y)}" class="{cls}" text-anchor="{anchor}"{squeeze}>{escape(body)}</text>'


def _clamp_centre(x: float, text: str, d: Diagram, size: float = CHAR_W) -> float:
    half = len(text) * size / 2
    lo, hi = TIME_W + half + 4, d.width - half - 4
    return min(max(x, lo), hi) if lo <= hi else x


def _style_block(p: str) -> str:
    return (
        f"<style>"
        f".{p} text{{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;}}"
        f".{p} .title{{font:bold 15px sans-serif;fill:#111}}"
        f".{p} .legend{{font:11px sans-serif;fill:#444}}"
        f".{p} .lname{{font:bold 13px sans-serif;fill:#111}}"
        f".{p} .llabel{{font-size:10.5px;fill:#444}}"
        f".{p} .lifs{{font-size:9.5px;fill:#777}}"
        f".{p} .time{{font-size:10.5px;fill:#555}}"
        f".{p} .pkt{{font-size:11px;fill:#111;paint-order:stroke;stroke:#fff;stroke-width:3px}}"
        f".{p} .acts{{font-size:9.5px;fill:#555;font-style:italic;"
        f"paint-order:stroke;stroke:#fff;stroke-width:3px}}"
        f".{p} .hairpin .pkt,.{p} .hairpin .acts{{fill:{COLOURS['hairpin']};font-weight:bold}}"
        f".{p} .rst .pkt{{fill:{COLOURS['rst']}}}"
        f".{p} .note{{font-size:10.5px;fill:#111}}"
        f".{p} .gap{{font:italic 10.5px sans-serif;fill:#666}}"
        f".{p} .fold{{font:10.5px sans-serif;fill:#444}}"
        f"</style>"
    )


def _marker(p: str, style: str) -> str:
    c = COLOURS[style]
    return (
        f'<marker id="{p}-head-{style}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
    )


def _arrow(d: Diagram, a: Arrow, p: str, lanes: Mapping[str, float]) -> str:
    x1 = lanes[a.src_lane]
    colour = COLOURS.get(a.style, COLOURS["normal"])
    width = 3 if a.style == "hairpin" else 1.4
    dash = ' stroke-dasharray="6 3"' if a.style == "rst" else ""
    attrs = (
        f'class="arrow {_a(a.style)}" data-src="{_a(a.src_lane)}" data-dst="{_a(a.dst_lane or "")}" '
        f'data-flags="{_a(a.flags)}" data-style="{_a(a.style)}" data-t="{_t(a.t)}"'
    )
    out = [f"<g {attrs}>", f"<title>{escape(a.label + chr(10) + a.detail)}</title>"]
    y = a.y
    end_mark = ""
    if a.dst_lane is None:
        x2 = x1 + LANE_W * 0.4
        path = f'<line x1="{_num(x1)}" y1="{_num(y)}" x2="{_num(x2)}" y2="{_num(y)}"/>'
        end_mark = _text(x2 + 6, y + 4, "?", "pkt", "start")
        mid = (x1 + x2) / 2
    elif a.dst_lane == a.src_lane:
        x2 = x1
        path = (
            f'<path d="M{_num(x1)},{_num(y - 8)} C{_num(x1 + 40)},{_num(y - 8)} '
            f"{_num(x1 + 40)},{_num(y + 8)} "
            f'{_num(x1 + 2)},{_num(y + 8)}" fill="none"/>'
        )
        mid = x1 + 40
    else:
        x2 = lanes[a.dst_lane]
        toward = -1 if x2 > x1 else 1
        path = f'<line x1="{_num(x1)}" y1="{_num(y)}" x2="{_num(x2 + toward * 2)}" y2="{_num(y)}"/>'
        mid = (x1 + x2) / 2
    if a.end in ("drop", "martian"):
        c = COLOURS["drop"]
        end_mark = (
            f'<path d="M{_num(x2 - 6)},{_num(y - 6)} L{_num(x2 + 6)},{_num(y + 6)} '
            f"M{_num(x2 - 6)},{_num(y + 6)} "
            f'L{_num(x2 + 6)},{_num(y - 6)}" stroke="{c}" stroke-width="2.5"/>'
        )
    elif a.end == "deliver":
        end_mark = f'<circle cx="{_num(x2)}" cy="{_num(y)}" r="3.5" fill="{colour}"/>'
    marker = "" if a.end in ("drop", "martian") else f' marker-end="url(#{p}-head-{_a(a.style)})"'
    path = path.replace("/>", f' stroke="{colour}" stroke-width="{width}"{dash}{marker}/>', 1)
    out.append(path)
    out.append(end_mark)
    label = a.label
    out.append(_text(_clamp_centre(mid, label, d), y - 6, label, "pkt"))
    if a.acts:
        acts = " · ".join(a.acts)
        out.append(_text(_clamp_centre(mid, acts, d, 5.8), y + 13, acts, "acts"))
    out.append("</g>")
    return "".join(out)


def _note(d: Diagram, n: Note, lanes: Mapping[str, float]) -> str:
    x = lanes[n.lane]
    colour = COLOURS.get(n.kind, "#555")
    text = n.text if len(n.text) <= 110 else n.text[:107] + "..."
    w = len(text) * 6.3 + 12
    left = min(x - 6, d.width - w - 4)
    return (
        f'<g class="note {_a(n.kind)}" data-lane="{_a(n.lane)}" data-kind="{_a(n.kind)}" data-t="{_t(n.t)}">'
        f"<title>{escape(n.text)}</title>"
        f'<rect x="{_num(left)}" y="{_num(n.y - 10)}" width="{_num(w)}" height="20" rx="4" fill="#fff" '
        f'stroke="{colour}" stroke-width="1.5"/>' + _text(left + 6, n.y + 4, text, "note", "start") + "</g>"
    )


LEGEND = (
    "thick red: the failing return path (SYN-ACK from an address the client did not call); dashed orange: RST; "
    "time in seconds on the left; hover an arrow for every rule that acted"
)


#: width of one character of the 15px bold title, for widening the picture to hold it
TITLE_CHAR_W = 9.4


def _fitted(d: Diagram) -> Diagram:
    """``d`` widened, when its title or an arrow's label is wider than its lanes (long IPv6 endpoints), so that
    nothing is cut at the picture's right edge: the lanes stay where they are, the room is added on the right."""
    labels = [len(r.label) for r in d.rows if isinstance(r, Arrow)]
    need = max(MARGIN * 2 + len(d.title) * TITLE_CHAR_W, TIME_W + max(labels, default=0) * CHAR_W + 8)
    return d if need <= d.width else replace(d, width=float(int(need + 0.999)))


def draw(d: Diagram, *, id_prefix: str = "sq", legend: str = LEGEND) -> str:
    """The SVG text of a laid-out diagram, with ``legend`` under the title."""
    p = re.sub(r"[^A-Za-z0-9_-]", "", id_prefix) or "sq"
    d = _fitted(d)
    w, h = d.width, d.height
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{p} sequence" width="{_num(w)}" height="{_num(h)}" '
        f'viewBox="0 0 {_num(w)} {_num(h)}" role="img" aria-label="{_a(d.title or "sequence diagram")}">',
        _style_block(p),
        "<defs>" + "".join(_marker(p, s) for s in ("normal", "hairpin", "rst", "drop")) + "</defs>",
        f'<rect x="0" y="0" width="{_num(w)}" height="{_num(h)}" fill="#fff"/>',
    ]
    if d.title:
        out.append(_text(MARGIN, 20, d.title, "title", "start"))
    out.append(_text(MARGIN, 36, legend, "legend", "start", fit=w - 2 * MARGIN, char_w=5.9))
    lanes = {ln.name: ln.x for ln in d.lanes}
    top = HEAD_H - 6
    out.append(_text(TIME_W - 6, top + 14, "t (s)", "time", "end"))
    for ln in d.lanes:
        cls = "lane client" if ln.name == d.client else "lane"
        out.append(f'<g class="{cls}" data-lane="{_a(ln.name)}">')
        out.append(
            f'<rect x="{_num(ln.x - LANE_W / 2 + 6)}" y="{HEAD_H - 56}" '
            f'width="{_num(LANE_W - 12)}" height="50" '
            f'rx="5" fill="#eef3f8" stroke="#90a4ae"/>'
        )
        out.append(_text(ln.x, HEAD_H - 38, ln.name, "lname", fit=LANE_W - 20, char_w=7.8))
        if ln.label:
            out.append(_text(ln.x, HEAD_H - 24, ln.label, "llabel", fit=LANE_W - 20, char_w=6.4))
        if ln.interfaces:
            ifs = ", ".join(ln.interfaces)
            out.append(_text(ln.x, HEAD_H - 12, ifs, "lifs", fit=LANE_W - 20, char_w=5.8))
        out.append(
            f'<line x1="{_num(ln.x)}" y1="{top}" x2="{_num(ln.x)}" y2="{_num(h - MARGIN / 2)}" '
            f'stroke="#b0bec5" stroke-dasharray="4 4"/>'
        )
        out.append("</g>")
    for r in d.rows:
        if isinstance(r, Arrow):
            out.append(_text(TIME_W - 6, r.y + 4, _t(r.t), "time", "end"))
            out.append(_arrow(d, r, p, lanes))
        elif isinstance(r, Note):
            out.append(_text(TIME_W - 6, r.y + 4, _t(r.t), "time", "end"))
            out.append(_note(d, r, lanes))
        elif isinstance(r, Gap):
            out.append(
                f'<g class="gap"><rect x="{MARGIN}" y="{_num(r.y - 9)}" '
                f'width="{_num(w - 2 * MARGIN)}" height="18" '
                f'fill="#f5f5f5" stroke="#bdbdbd" stroke-dasharray="2 3"/>'
                + _text(w / 2, r.y + 4, f"… {r.seconds:.3f} s later", "gap")
                + "</g>"
            )
        elif isinstance(r, Fold):
            out.append(_text(TIME_W - 6, r.y + 4, _t(r.t), "time", "end"))
            out.append(
                f'<g class="fold"><title>{escape(r.text)}</title><rect x="{TIME_W}" y="{_num(r.y - 10)}" '
                f'width="{_num(w - TIME_W - MARGIN)}" height="20" rx="4" fill="#fff8e1" stroke="#ffb300"/>'
                + _text(TIME_W + 8, r.y + 4, r.text, "fold", "start")
                + "</g>"
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def sequence_svg(
    hops: Sequence[Hop],
    *,
    title: str = "",
    lanes: Iterable[str | tuple[str, str]] | None = None,
    labels: Mapping[str, str] | None = None,
    fold: bool = False,
    id_prefix: str = "sq",
    failing: Collection[int] = (),
    legend: str = LEGEND,
) -> str:
    """The sequence diagram of ``hops`` as standalone SVG text (see ``hairpin.render.diagram.layout``)."""
    d = layout(hops, title=title, lanes=lanes, labels=labels, fold=fold, failing=failing)
    return draw(d, id_prefix=id_prefix, legend=legend)
