"""A sweep's chart: the simulated rate (with its 95 % interval) against nodes per AZ, one series per
combination of the grid's other settings, the closed form as a dashed line (``hairpin.render.chart``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hairpin.render import chart

if TYPE_CHECKING:
    from hairpin.sweep import Result

__all__ = ["chart_svg"]


def chart_svg(results: Sequence[Result], *, title: str = "") -> str:
    """The chart as standalone SVG (x: nodes per AZ when the grid sweeps ``nodes``, else the point's index)."""
    from hairpin.sweep import _text

    pts = []
    for i, r in enumerate(results):
        others = {k: v for k, v in r.point.items() if k != "nodes"}
        series = ", ".join(f"{k}={_text(v)}" for k, v in others.items()) or "all"
        x = int(r.point["nodes"]) if "nodes" in r.point else i + 1
        pts.append(chart.Point(series, int(r.point.get("azs", 0)), x, bool(r.point.get("cross_zone", False)),
                               r.connections, r.timeouts, r.expected))  # fmt: skip
    return chart.chart_svg(pts, title=title, width=980, height=400)
