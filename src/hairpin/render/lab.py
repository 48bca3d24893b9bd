"""One self-contained HTML report of a lab run: what the real kernels did next to what the simulator says.

``report(scenario, result, seed=...)`` writes, in order: the scenario's facts, the real outcome of every
connection with the simulator's outcome for the same client port and NLB target (and the agreement), the
hop-for-hop comparison of node captures with the simulated first round when the run captured
(``lab run --capture``), and the simulator's replay of one real timed-out and one real established
connection as sequence diagrams with their step tables.  The lab itself draws nothing: a real connection
is known by its outcome, its client port and the target the emulated NLB picked, and the simulator replays
exactly that connection (``hairpin.backends.sim.connect``), so the diagram is the model's account of a
connection the kernel really made.

The page reuses the simulator report's CSS and policy (``hairpin.render.html.page``): inline SVG and CSS,
no scripts, nothing fetched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hairpin.render import html
from hairpin.render.markup import escape

if TYPE_CHECKING:
    from hairpin.backends.lab.run import LabConnection, LabRun
    from hairpin.scenario import Scenario

__all__ = ["report"]


def _e(v: object) -> str:
    return escape(str(v), quote=True)


def _results(result: LabRun) -> str:
    n = len(result.connections)
    cls = "bad" if result.timeouts else "good"
    agree = "good" if result.agreement == 1.0 else "bad"
    rows = []
    for c in result.connections:
        same = c.outcome == c.simulated_outcome
        rows.append(
            f'<tr class="{_e(c.outcome)}" data-conn="{c.id}"><td class="n">{c.id}</td><td class="pkt">{_e(c.client)}</td>'
            f'<td class="pkt">{_e(c.target or "?")}</td><td>{_e(c.outcome)}</td><td class="t">{c.elapsed_s:.4f}</td>'
            f'<td class="{"good" if same else "bad"}">{_e(c.simulated_outcome)}</td></tr>'
        )
    return (
        '<section id="results"><h2>Real connections</h2>'
        f'<p class="rate"><span class="{cls}" id="timeouts">{result.timeouts}/{n} timed out</span> in the real '
        f'kernels; agreement with the simulator: <span class="{agree}" id="agreement">{result.agreement:.0%}</span>'
        "</p>"
        f'<p class="sub">Limit: {_e(result.limit)}; {_e(result.kernel_would)}.</p>'
        "<table><tr><th>#</th><th>client</th><th>NLB target</th><th>real</th><th>elapsed (s)</th>"
        f"<th>simulated</th></tr>{''.join(rows)}</table></section>"
    )


def _captures(result: LabRun) -> str:
    shown = [c for c in result.connections if c.real_sequence]
    if not shown:
        return ""
    parts = [
        '<section id="captures"><h2>Captures against the simulation</h2>',
        f'<p class="sub">Captures: {_e(", ".join(result.captures))}. First SYN round of each hairpinned connection '
        "on the client's node (tcpdump -i any), next to the simulated hops; the random MASQUERADE port and "
        "kube-proxy's backend choice are masked.</p>",
    ]
    for c in shown:
        verdict = "identical" if c.sequence_match else "DIFFERENT"
        rows = []
        for i in range(max(len(c.real_sequence), len(c.simulated_sequence))):
            a = c.real_sequence[i] if i < len(c.real_sequence) else ""
            b = c.simulated_sequence[i] if i < len(c.simulated_sequence) else ""
            rows.append(
                f'<tr><td class="n">{i + 1}</td><td class="pkt">{_e(a)}</td>'
                f'<td class="pkt{"" if a == b else " bad"}">{_e(b)}</td></tr>'
            )
        parts.append(
            f'<details{" open" if c is shown[0] else ""} data-conn="{c.id}"><summary>connection #{c.id} '
            f"{_e(c.client)}: {verdict}</summary><table><tr><th>#</th><th>real kernel</th><th>simulator</th></tr>"
            f"{''.join(rows)}</table></details>"
        )
    parts.append("</section>")
    return "".join(parts)


def _replay(scenario: Scenario, c: LabConnection, seed: int, heading: str, anchor: str) -> str:
    from hairpin.backends import sim

    replay = sim.connect(
        scenario, client_port=int(c.client.rsplit(":", 1)[1]), target=c.target or None, conn_id=c.id, seed=seed
    )
    note = (
        f'<p class="sub">Real connection #{c.id} {_e(c.client)} to NLB target {_e(c.target or "?")}: '
        f"<b>{_e(c.outcome)}</b> in the kernel after {c.elapsed_s:.4f} s; the simulator's replay of the same "
        f"connection: <b>{_e(replay.outcome)}</b>.</p>"
    )
    section = html.connection_section(scenario, replay, heading, anchor)
    head_end = section.index("</h2>") + len("</h2>")
    return section[:head_end] + note + section[head_end:]


def report(scenario: Scenario, result: LabRun, *, seed: int = 0, title: str | None = None) -> str:
    """The lab run as one HTML document (see the module docstring for what it holds)."""
    heading = title or f"hairpin lab run: {scenario.name}" + (f", fix {scenario.fix}" if scenario.fix else "")
    body = [
        f"<h1>{_e(heading)}</h1>",
        f'<p class="sub">{len(result.connections)} real TCP connections in network namespaces (real iptables, '
        f"conntrack, routing and TCP), each replayed by the simulator with the same client port and NLB target, "
        f"seed {seed}.</p>",
        html.scenario_section(scenario),
        _results(result),
        _captures(result),
    ]
    bad = next((c for c in result.connections if c.outcome == "timeout"), None)
    good = next((c for c in result.connections if c.outcome == "established"), None)
    if bad is not None:
        body.append(_replay(scenario, bad, seed, "A connection that timed out in the kernel", "failed"))
    if good is not None:
        body.append(_replay(scenario, good, seed, "A connection that succeeded in the kernel", "good"))
    body.append(
        "<footer>Generated by hairpin from a lab run (hairpin.backends.lab) and the simulator's replay of its "
        "connections. Self-contained: inline SVG and CSS, no scripts, nothing fetched.</footer>"
    )
    return html.page(heading, body)
