"""A sweep's pictures: the chart of the simulated rate (with its 95 % interval) against nodes per AZ, one
series per combination of the grid's other settings, the closed form as a dashed line
(``hairpin.render.chart``); and the HTML report (``report_html``: the command and seed, the base scenario,
the points' table and the chart, on ``hairpin.render.html``'s self-contained page); and the points' text table
(``PointsTable``), wide or stacked to fit the width (``hairpin.render.text.fitting``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from hairpin.render import chart

if TYPE_CHECKING:
    from hairpin.scenario import Scenario
    from hairpin.sweep import Result

__all__ = ["PointsTable", "chart_svg", "command_line", "report_html", "table_html"]


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


def command_line(
    grid_specs: Sequence[str], *, connections: int, seed: int, scenario: str | None = None
) -> str:
    """The ``hairpin sweep`` command that reproduces a sweep's numbers (where points ran does not change
    them, so ``--workers``, ``--dask`` and ``--ray`` are left out)."""
    import shlex

    args = ["hairpin", "sweep"]
    for spec in grid_specs:
        args += ["--grid", spec]
    if scenario is not None:
        args += ["--scenario", scenario]
    args += ["--connections", str(connections), "--seed", str(seed)]
    return shlex.join(args)


def table_html(results: Sequence[Result]) -> str:
    """The points as an HTML table: the grid's settings, timeouts, simulated rate ± sd, closed form, agrees."""
    from hairpin.render.markup import escape
    from hairpin.sweep import _text

    keys = list(results[0].point) if results else []
    head = "".join(f"<th>{escape(k)}</th>" for k in keys) + (
        "<th>timeouts</th><th>simulated ± sd</th><th>closed form</th><th>agrees</th>"
    )
    rows = []
    for r in results:
        ok = r.agrees
        cells = "".join(f"<td>{escape(_text(v))}</td>" for v in r.point.values())
        marked = "" if ok else ' class="timeout"'
        rows.append(
            f'<tr data-point="{escape(r.key(), quote=True)}"{marked}>{cells}'
            f"<td class='n'>{r.timeouts}/{r.connections}</td><td class='n'>{r.rate:.1%} ± {r.sd:.1%}</td>"
            f"<td class='n'>{r.expected:.1%}</td>"
            f"<td class='n {'good' if ok else 'bad'}'>{'yes' if ok else 'NO'}</td></tr>"
        )
    return f'<table class="sweep"><tr>{head}</tr>{"".join(rows)}</table>'


def _not_hairpin_html(results: Sequence[Result]) -> str:
    """The paragraph naming the points whose timeouts the closed form does not count, or ""."""
    from hairpin.render.markup import escape

    other = [r for r in results if r.not_hairpin]
    if not other:
        return ""
    first = other[0]
    return (f'<p class="bad" id="not-hairpin">At {len(other)} of the points connections time out for a reason the closed '
            f"form does not count ({escape(first.key())}: {escape(first.not_hairpin_why)}): check the scenario.</p>")


def report_html(
    results: Sequence[Result], base: Scenario, *, connections: int, seed: int, command: str, title: str | None = None
) -> str:
    """A sweep as one self-contained HTML page (``hairpin.render.html``'s page, CSS and scenario facts):
    the command and seed, the base scenario, the points' table and the chart inline."""
    from hairpin.render import html
    from hairpin.render.markup import escape

    heading = title or f"hairpin sweep over {base.name}"
    agree = sum(r.agrees for r in results)
    cls = "good" if agree == len(results) else "bad"
    pic = chart_svg(results, title=f"{heading}: timeout rate")
    body = [
        f"<h1>{escape(heading)}</h1>",
        f'<p class="sub">{len(results)} points, {connections} simulated connections each, seed {seed}. Each point is '
        "the scenario below with the grid's settings changed.</p>"
        f'<dl class="facts"><dt>command</dt><dd id="command">{escape(command)}</dd>'
        f'<dt>seed</dt><dd id="seed">{seed}</dd></dl>',
        html.scenario_section(base),
        '<section id="points"><h2>Points</h2>'
        f'<p class="rate"><span class="{cls}" id="agree">{agree} of {len(results)} points agree</span> with the '
        "closed form.</p>"
        + _not_hairpin_html(results)
        +
        '<p class="sub">sd: the binomial standard deviation of a rate over that many connections at the closed '
        "form's rate; a point agrees when its simulated rate is within 4 sd of the closed form (exactly equal "
        "when the closed form is 0 or 1).</p>"
        f"{table_html(results)}</section>",
        '<section id="chart"><h2>Chart</h2><p class="sub">Simulated rate with its 95 % interval; dashed lines: '
        f'the closed form.</p><div class="pic">{pic}</div></section>',
        "<footer>Generated by hairpin sweep from the simulator (hairpin.backends.sim). Self-contained: inline SVG "
        "and CSS, no scripts, nothing fetched.</footer>",
    ]
    return html.page(heading, body)


class PointsTable:
    """The points as a text table.  Wide: one column a grid key, every cell and header on one line.  Stacked
    (when the wide one does not fit the width): a point's settings one ``key=value`` a line in one column, the
    timeouts over the simulated rate in another, so no key, value or rate is cut (``hairpin.render.text``)."""

    def __init__(self, results: Sequence[Result], keys: Sequence[str]) -> None:
        self.results = results
        self.keys = tuple(keys)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from hairpin.render.text import fitting

        yield fitting(console, options, self._table(stacked=False), lambda: self._table(stacked=True))

    def _table(self, stacked: bool) -> Any:
        from rich.table import Table
        from rich.text import Text

        from hairpin.sweep import _text

        t = Table(show_lines=stacked)
        if stacked:
            t.add_column("point", overflow="fold")
            t.add_column("timeouts\nsimulated", justify="right", no_wrap=True)
            t.add_column("closed\nform", justify="right", no_wrap=True)
        else:
            for k in self.keys:
                t.add_column(k, no_wrap=True)
            for col in ("timeouts", "simulated", "closed form"):
                t.add_column(col, justify="right", no_wrap=True)
        t.add_column("agree", justify="right", no_wrap=True)
        for r in self.results:
            agree = Text("yes") if r.agrees else Text("NO", style="bold red")
            values = [_text(r.point[k]) for k in self.keys]
            if stacked:
                point = "\n".join(f"{k}={v}" for k, v in zip(self.keys, values, strict=True))
                t.add_row(point, f"{r.timeouts}/{r.connections}\n{r.rate:.1%}", f"{r.expected:.1%}", agree)
            else:
                t.add_row(*values, f"{r.timeouts}/{r.connections}", f"{r.rate:.1%}", f"{r.expected:.1%}", agree)
        return t
