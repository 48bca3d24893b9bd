"""The text form of a ``hairpin check`` report: the table of Services, then each at-risk one explained.

The table is wide (one column per field) when it fits the width rich lays out in, else stacked (the
Service, where it is, its load balancer and client IP one under the other; verdict and P(timeout) beside
them), so nothing is cut at 80 columns (``hairpin.render.text``).  The explanations wrap under their own
indentation.  :func:`counted` names what the report counts (Services of any type a load balancer fronts,
those behind a Gateway among them), for the first line and the last.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from hairpin.render.text import fitting, indented, verbatim

if TYPE_CHECKING:
    from hairpin.diagnose.finding import Finding
    from hairpin.diagnose.report import Report

__all__ = ["counted", "render"]

TITLE = "Services with a load balancer"


def counted(findings: Sequence[Finding]) -> str:
    """``N Service(s) with a load balancer``: what the report counts, whatever the Service's type
    (LoadBalancer, or NodePort and ClusterIP Services the AWS Load Balancer Controller provisions), with how
    many of them are a Gateway's target groups (a Service behind a route of a Gateway's load balancer)."""
    gateways = sum(1 for f in findings if f.service_type == "Gateway")
    return f"{len(findings)} Service(s) with a load balancer" + (f" ({gateways} through a Gateway)" if gateways else "")


def _pct(p: Fraction) -> str:
    return f"{p.numerator}/{p.denominator} ({float(p):.1%})" if p else "0"


def _cells(f: Finding) -> tuple[str, str, str, str, Text, str]:
    s = f.settings
    where = f"{f.file}:{f.line}" if f.file else "cluster"
    unbuilt = s.load_balancer == "none" and bool(s.problems)  # the controller refuses it (its problems say why)
    verdict = Text("AT RISK", style="bold red") if f.at_risk else Text("not built" if unbuilt else "ok",
                                                                       style="yellow" if unbuilt else "green")
    if s.load_balancer == "unknown":  # a TargetGroupBinding's target group (hairpin.diagnose.tgb): its warning says why
        verdict = Text("undecided", style="yellow")
    prob = "-" if f.probability is None else _pct(f.probability)
    if f.at_risk and f.probability is None:
        kp = f.kube_proxy_drop
        prob = "1/n (no nodes)" if kp is None or not kp.certain else "1 at " + ", ".join(kp.addresses)
    lb = f"{s.controller}: {s.load_balancer}" if s.controller != "none" else "none"
    if s.load_balancer == "unknown":
        lb = f"{s.controller}: unknown" + (f" {s.target_type}" if s.target_type else "")
    elif s.load_balancer != "none":
        lb += f" {s.scheme}" + (f" {s.target_type}" if s.target_type else "")
        lb += ", cross-zone" if s.cross_zone and s.load_balancer == "nlb" else ""
    preserve = {True: "preserved", False: "replaced", None: "-"}[s.preserve_client_ip]
    if len({p.preserve_client_ip for p in f.ports}) > 1:  # say which target group does what
        preserve = ", ".join(f"{p.label} {'preserved' if p.preserve_client_ip else 'replaced'}" for p in f.ports)
    name = f"{f.namespace}/{f.name}" + ("" if f.service_type == "LoadBalancer" else f" ({f.service_type})")
    return name, where, lb, preserve, verdict, prob


def _wide(rows: list[tuple[str, str, str, str, Text, str]]) -> Table:
    t = Table(title=TITLE, title_justify="left")
    for col in ("Service", "Where", "Load balancer", "Client IP", "Verdict", "P(timeout)"):
        t.add_column(col, no_wrap=True)
    for row in rows:
        t.add_row(*row)
    return t


def _stacked(rows: list[tuple[str, str, str, str, Text, str]]) -> Table:
    t = Table(title=TITLE, title_justify="left", show_lines=True)
    t.add_column("Service / where / load balancer / client IP", ratio=1, overflow="fold")
    t.add_column("Verdict\nP(timeout)", overflow="fold")
    for name, where, lb, preserve, verdict, prob in rows:
        left = Text(name, style="bold")
        left.append(f"\n{where}\n{lb}\nclient IP {preserve}", style="")
        right = verdict.copy()
        right.append(f"\n{prob}", style="")
        t.add_row(left, right)
    return t


def render(report: Report, console: Any, options: Any) -> Iterator[Any]:
    """``Report.__rich_console__``: the table, each at-risk Service explained, the counts."""
    shown = report.at_risk if report.only_at_risk else report.findings
    rows = [_cells(f) for f in shown]
    yield fitting(console, options, _wide(rows), lambda: _stacked(rows))
    for f in report.at_risk:
        yield from _explained(f)
    for f in shown:
        if f.ignored and not f.at_risk:
            yield Text("")
            yield Text(f"{f.namespace}/{f.name}: annotations ignored", style="bold yellow")
            for ig in f.ignored:
                yield indented(ig.text(), 2, "- ")
    yield from _problems(shown)
    for f in shown:
        if f.warnings:  # what hairpin could not decide (hairpin.diagnose.proxy_firewall)
            yield Text("")
            yield Text(f"{f.namespace}/{f.name}: warnings", style="bold yellow")
            for text in f.warnings:
                yield indented(text, 2, "- ")
    risky = len(report.at_risk)
    yield Text("")
    yield Text(
        f"{counted(report.findings)}, {risky} at risk, {len(report.errors)} input error(s)",
        style="bold red" if risky or report.errors else "bold green",
    )


def _problems(shown: Sequence[Finding]) -> Iterator[Any]:
    """Each Service's problems (what the controller refuses or leaves out, ``hairpin.aws.controller``); the pointer to
    the flags its AWS Load Balancer Controller refuses at start (``versions.LBC_REFUSED``) is said once for them all,
    naming the first and counting the others, not once per Service."""
    from hairpin.diagnose.versions import LBC_REFUSED, LBC_REFUSED_TEXT

    for f in shown:
        own = [p for p in f.settings.problems if p != LBC_REFUSED]
        if own:
            yield Text("")
            yield Text(f"{f.namespace}/{f.name}: problems", style="bold yellow")
            for text in own:
                yield indented(text, 2, "- ")
    refused = [f for f in shown if LBC_REFUSED in f.settings.problems]
    if refused:
        first = f"{refused[0].namespace}/{refused[0].name}"
        others = len(refused) - 1
        yield Text("")
        yield Text(f"{first}{f' and {others} other Service(s)' if others else ''}: problems", style="bold yellow")
        yield indented(LBC_REFUSED_TEXT, 2, "- ")


def _explained(f: Finding) -> Iterator[Any]:
    yield Text("")
    yield Text(f"{f.namespace}/{f.name}", style="bold")
    yield Text("  how hairpin decided:")
    for step in f.settings.steps:
        yield indented(step, 4, "- ")
    for ig in f.ignored:
        yield indented(Text(f"ignored: {ig.text()}", style="yellow"), 2)
    yield indented(f"verdict: {f.reason}", 2)
    if len(f.ports) > 1 or any(not p.at_risk for p in f.ports):
        yield Text("  per port (target group):")
        for p in f.ports:
            yield indented(f"{p.label}: {'AT RISK' if p.at_risk else 'ok'}: {p.reason}", 4, "- ")
    yield Text("  fixes, cheapest first:")
    for i, x in enumerate(f.fixes, 1):
        yield indented(Text(x.summary, style="bold"), 4, f"{i}. ")
        yield indented(f"cost: {x.cost}", 7)
        y = x.yaml()
        if y is not None:  # to paste and to run: whole lines (hairpin.render.text.verbatim)
            yield verbatim(y, 7, "cyan")
            yield verbatim(x.command(f.command_namespace, f.name), 7, "cyan")
    for x in f.candidates:
        yield indented(f"not available yet: {x.summary}", 2)
        yield indented(f"cost: {x.cost}", 7)
