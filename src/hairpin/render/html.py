"""One self-contained HTML report of a simulator run: it opens from disk and fetches nothing.

``report(run, title=...)`` writes, in order: the scenario (client, Service, load balancer, kernel), the
timeout rate with its closed-form expected value, a failed and a good connection each as a numbered step
table and a sequence diagram (``hairpin.render.svg``; the failed one folded, every round under a
disclosure), the chart of the rate against nodes per AZ / AZs / cross-zone (``hairpin.render.chart``;
``chart_points(run, ...)`` computes its data with a progress callback so a CLI can show a bar, and
``report(run, chart=...)`` takes it), and the workaround comparison.

Everything is inline: CSS in a ``<style>``, pictures as inline SVG, no scripts at all; a
Content-Security-Policy ``default-src 'none'`` makes the browser refuse any fetch the page might attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hairpin.render import chart as chart_mod
from hairpin.render import diagram, svg
from hairpin.render.markup import escape

if TYPE_CHECKING:
    from hairpin.backends.sim import Connection, Run
    from hairpin.scenario import Scenario

__all__ = ["chart_points", "chart_total", "connection_section", "page", "report", "scenario_section", "step_rows"]

#: The page's Content-Security-Policy (W3C CSP Level 3, https://www.w3.org/TR/CSP3/): ``default-src 'none'`` refuses
#: every fetch, script and plugin (every fetch directive falls back to it); the inline ``<style>`` blocks are all the
#: page needs.  ``base-uri`` (a document directive) and ``form-action`` (a navigation directive) are not fetch
#: directives and do not fall back to ``default-src``, so they are set too: a ``<base>`` or ``<form>`` could not
#: point the page elsewhere either.  A policy in ``<meta>`` cannot carry ``frame-ancestors``, ``sandbox`` or
#: ``report-uri`` (HTML standard, the ``http-equiv="content-security-policy"`` state); the page needs none of them.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1b1b;margin:0;background:#fafafa}
main{max-width:1680px;margin:0 auto;padding:18px 28px 60px;overflow-wrap:anywhere}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#555;margin:0 0 14px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:0}
dl.facts dt{color:#555}dl.facts dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
.rate{font-size:18px;margin:6px 0}.bad{color:#c62828;font-weight:600}.good{color:#2e7d32;font-weight:600}
.pic{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px;margin:8px 0}
.pic svg{display:block;max-width:100%;height:auto}
table{border-collapse:collapse;background:#fff;font-size:12.5px;width:100%;overflow-wrap:normal}
th,td{border:1px solid #e0e0e0;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f3f6}td.n,td.t{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.pkt,td.at{font-family:ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
table.steps td:last-child{overflow-wrap:anywhere}
tr.hairpin td{background:#ffebee}tr.rst td{background:#fff3e0}tr.timeout td{background:#ffcdd2}
tr.established td{background:#e8f5e9}
details{margin:6px 0}summary{cursor:pointer;color:#0d47a1}
footer{color:#666;font-size:12px;margin-top:30px}
"""


def _e(v: object) -> str:
    return escape(str(v), quote=True)


def chart_total(run: Run, *, connections: int = 200, nodes: Sequence[int] = chart_mod.DEFAULT_NODES) -> int:
    """How many connections ``chart_points`` will simulate (for a progress bar's total)."""
    return chart_mod.total(run.scenario, connections=connections, nodes=nodes)


def chart_points(
    run: Run,
    *,
    connections: int = 200,
    nodes: Sequence[int] = chart_mod.DEFAULT_NODES,
    progress: Callable[[int], None] | None = None,
) -> list[chart_mod.Point]:
    """The chart's data: variants of the run's scenario, ``connections`` each, with the run's seed."""
    return chart_mod.points(run.scenario, connections=connections, seed=run.seed, nodes=nodes, progress=progress)


def step_rows(conn: Connection, *, fold: bool = True) -> str:
    """The connection's numbered steps as HTML table rows, one per arrow, note or folded round."""
    d = diagram.layout(conn.hops, fold=fold)
    rows = []
    n = 0
    for r in d.rows:
        if isinstance(r, diagram.Gap):
            continue
        n += 1
        if isinstance(r, diagram.Arrow):
            h = conn.hops[r.hop]
            to = f" → {r.dst_lane}" if r.dst_lane else " → ?"
            cls = r.style if r.style != "normal" else ""
            rows.append(
                f'<tr class="{_e(cls)}"><td class="n">{n}</td><td class="t">{r.t:.6f}</td>'
                f'<td class="at">{_e(h.at)}{_e(to)}</td><td class="pkt">{_e(r.packet)}</td><td>{_e(r.flags)}</td>'
                f"<td>{_e('; '.join(r.acts))}</td></tr>"
            )
        elif isinstance(r, diagram.Note):
            h = conn.hops[r.hop]
            rows.append(
                f'<tr class="{_e(r.kind)}"><td class="n">{n}</td><td class="t">{r.t:.6f}</td>'
                f'<td class="at">{_e(h.at)}</td><td class="pkt"></td><td></td><td>{_e(r.text)}</td></tr>'
            )
        else:
            rows.append(
                f'<tr class="fold"><td class="n">{n}</td><td class="t">{r.t:.6f}</td><td colspan="4">{_e(r.text)}</td></tr>'
            )
    head = "<tr><th>#</th><th>t (s)</th><th>packet leaves → to</th><th>src → dst</th><th>flags</th><th>what acted</th></tr>"
    return f'<table class="steps">{head}{"".join(rows)}</table>'


def scenario_section(s: Scenario) -> str:
    """The scenario's facts (client, Service, load balancer, nodes, kernel) as an HTML section."""
    svc = s.client_service
    lb = svc.load_balancer
    pod = s.client_pod
    node = s.node(pod.node)
    facts = [
        ("scenario", f"{s.name} ({s.region})" + (f", fix {s.fix}" if s.fix else "")),
        ("client", f"pod {pod.namespace}/{pod.name} {pod.ip} on {node.name} {node.ip} ({node.az})"),
        ("calls", f"{svc.key} at {s.client_target_address()}:{s.client.port} via {s.client.via}"),
        (
            "service",
            f"{svc.type} ClusterIP {svc.cluster_ip}; "
            + ", ".join(f"{p.port}->{p.target_port} NodePort {p.node_port}" for p in svc.ports)
            + f"; externalTrafficPolicy {svc.external_traffic_policy}; endpoints {', '.join(svc.endpoints)}",
        ),
    ]
    if lb is not None:
        facts.append(
            (
                "load balancer",
                f"{lb.type} {lb.scheme}, {lb.target_type} targets, client IP preservation "
                f"{'on' if lb.preserves_client_ip else 'off'}, cross-zone {'on' if lb.cross_zone else 'off'}; "
                f"nodes {', '.join(f'{a} {x}' for a, x in lb.nodes)}",
            )
        )
    facts.append(("nodes", ", ".join(f"{n.name} {n.ip} ({n.az})" for n in s.nodes)))
    facts.append(
        (
            "kernel",
            f"tcp_syn_retries={s.kernel.tcp_syn_retries} tcp_syn_linear_timeouts={s.kernel.tcp_syn_linear_timeouts}; "
            f"kube-proxy {s.kube_proxy.mode} {s.kube_proxy.version}; CNI {s.cni.name}",
        )
    )
    body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    desc = f'<p class="sub">{_e(s.description)}</p>' if s.description else ""
    return f'<section id="scenario"><h2>Scenario</h2>{desc}<dl class="facts">{body}</dl></section>'


def connection_section(scenario: Scenario, conn: Connection, heading: str, anchor: str) -> str:
    """One connection as a folded sequence diagram (every round under a disclosure) and its step table."""
    lanes = diagram.scenario_lanes(scenario)
    title = f"connection #{conn.id} from {conn.client} to {conn.service}: {conn.outcome} (NLB target {conn.target})"
    folded = svg.sequence_svg(conn.hops, title=title, lanes=lanes, fold=True, id_prefix=f"{anchor}f")
    parts = [
        f'<section id="{_e(anchor)}"><h2>{_e(heading)}</h2>',
        f'<p class="sub">#{conn.id}: {_e(conn.client)} → {_e(conn.service)}, NLB target {_e(conn.target)}, '
        f"{conn.syns} SYN{'s' if conn.syns != 1 else ''}, {_e(conn.outcome)} after {conn.elapsed_s:.6f} s</p>",
        f'<div class="pic diagram" data-conn="{conn.id}" data-outcome="{_e(conn.outcome)}">{folded}</div>',
    ]
    if any(isinstance(r, diagram.Fold) for r in diagram.layout(conn.hops, fold=True).rows):
        full = svg.sequence_svg(conn.hops, title=title + ", every round", lanes=lanes, id_prefix=f"{anchor}a")
        parts.append(f'<details><summary>every retransmission round</summary><div class="pic">{full}</div></details>')
    parts.append(f"<details open><summary>step table</summary>{step_rows(conn)}</details></section>")
    return "".join(parts)


def _rate(run: Run) -> str:
    sm = run.summary
    cls = "bad" if sm.timeouts else "good"
    return (
        '<section id="rate"><h2>Timeout rate</h2>'
        f'<p class="rate">Over {sm.attempts} connections: <span class="{cls}" id="timeouts">{sm.timeouts} timed out '
        f"({sm.rate:.1%})</span>, {sm.established} established, {sm.resets} reset. "
        f'Expected: <span id="expected">{sm.expected_rate:.1%}</span> (closed form, docs/model.md).</p></section>'
    )


def _chart(run: Run, pts: Sequence[chart_mod.Point]) -> str:
    if not pts:
        return ""
    per = max(p.connections for p in pts)
    pic = chart_mod.chart_svg(pts, title="Timeout rate against nodes per AZ, AZs and cross-zone load balancing")
    rows = "".join(
        f"<tr><td>{_e(p.series)}</td><td class='n'>{p.nodes_per_az}</td><td class='n'>{p.timeouts}/{p.connections}</td>"
        f"<td class='n'>{p.rate:.1%}</td><td class='n'>{p.expected:.1%}</td></tr>"
        for p in pts
    )
    gone = chart_mod.left_out(run.scenario, nodes=sorted({p.nodes_per_az for p in pts}))
    missing = "".join(f"<p class='sub'>Left out: {_e(why)}.</p>" for why in gone)
    return (
        '<section id="chart"><h2>Rate against the cluster\'s shape</h2>'
        f'<p class="sub">Variants of this scenario (client node kept, nodes added per AZ, seed {run.seed}), '
        f"{per} simulated connections per point with a 95 % interval; dashed lines: the closed form.</p>{missing}"
        f'<div class="pic">{pic}</div><details><summary>chart data</summary><table>'
        "<tr><th>series</th><th>nodes per AZ</th><th>timeouts</th><th>rate</th><th>expected</th></tr>"
        f"{rows}</table></details></section>"
    )


def _fixes(run: Run) -> str:
    if not run.fixes:
        return ""
    from hairpin.scenario import FIXES

    rows = [
        f"<tr><td>none (as configured)</td><td></td><td class='n'>{run.summary.timeouts}/{run.summary.attempts}</td>"
        f"<td class='n'>{run.summary.rate:.1%}</td><td class='n'>{run.summary.expected_rate:.1%}</td><td></td></tr>"
    ]
    for name, sm, why in run.fixes:
        cls = "good" if sm.timeouts == 0 else "bad"
        rows.append(
            f'<tr data-fix="{_e(name)}"><td><b>{_e(name)}</b></td><td>{_e(FIXES.get(name, ""))}</td>'
            f'<td class="n {cls}">{sm.timeouts}/{sm.attempts}</td><td class="n">{sm.rate:.1%}</td>'
            f'<td class="n">{sm.expected_rate:.1%}</td><td>{_e(why)}</td></tr>'
        )
    return (
        '<section id="fixes"><h2>Workarounds</h2><table><tr><th>fix</th><th>what to change</th><th>timeouts</th>'
        f"<th>rate</th><th>expected</th><th>why it works</th></tr>{''.join(rows)}</table></section>"
    )


def report(
    run: Run,
    *,
    title: str | None = None,
    chart: Sequence[chart_mod.Point] | None = None,
    chart_connections: int = 200,
    progress: Callable[[int], None] | None = None,
) -> str:
    """The whole report as one HTML document.  ``chart`` None computes the chart (``progress`` is called
    as its connections finish); an empty sequence leaves the chart out."""
    pts = chart if chart is not None else chart_points(run, connections=chart_connections, progress=progress)
    s = run.scenario
    heading = title or f"hairpin reproduce: {s.name}"
    bad = run.example("timeout")
    good = run.example("established")
    body = [
        f"<h1>{_e(heading)}</h1>",
        f'<p class="sub">{run.summary.attempts} simulated connections, seed {run.seed}. Hover an arrow in a diagram '
        "for every rule, conntrack entry and route that acted on the packet.</p>",
        scenario_section(run.scenario),
        _rate(run),
    ]
    if bad is not None:
        body.append(connection_section(run.scenario, bad, "A connection that timed out", "failed"))
    if good is not None:
        body.append(connection_section(run.scenario, good, "A connection that succeeded", "good"))
    body.append(_chart(run, pts))
    body.append(_fixes(run))
    body.append(
        "<footer>Generated by hairpin from the simulator (hairpin.backends.sim). Self-contained: inline SVG and "
        "CSS, no scripts, nothing fetched.</footer>"
    )
    return page(heading, body)


def page(title: str, sections: Sequence[str]) -> str:
    """A self-contained HTML document: the title, the sections in order, the report's CSS, and a
    Content-Security-Policy that lets the browser fetch nothing."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
        + "\n".join(b for b in sections if b)
        + "\n</main></body></html>\n"
    )
