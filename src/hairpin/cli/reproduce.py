"""``hairpin reproduce``: simulate a scenario (the seed by default) and show its random timeouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hairpin.cli.common import check_format, check_outputs, emit, emit_raw, note_unchecked, say, write, wrote

FORMATS = ("text", "json")


def register(app: typer.Typer) -> None:
    app.command("reproduce")(reproduce)


def reproduce(
    scenario: Annotated[Path | None, typer.Option(help="Scenario YAML (default: the built-in seed).")] = None,
    connections: Annotated[int, typer.Option(min=1, max=10_000_000, help="Connections to simulate.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same run.")] = 0,
    fix: Annotated[str | None, typer.Option(help="Apply one workaround first (names: --list-fixes).")] = None,
    list_fixes: Annotated[bool, typer.Option("--list-fixes", help="List the workarounds' names and exit.")] = False,
    fixes: Annotated[bool, typer.Option("--fixes/--no-fixes", help="Also run each workaround.")] = True,
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the text or JSON to this file ('-': stdout).")
    ] = None,
    all_hops: Annotated[bool, typer.Option("--all-hops", help="JSON: hops of every connection.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Text: show every retransmission round.")] = False,
    svg: Annotated[Path | None, typer.Option(help="Write the timed-out connection's sequence diagram as SVG.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    pcap: Annotated[Path | None, typer.Option(help="Write the shown connections' packets as pcapng.")] = None,
    memo: Annotated[
        bool,
        typer.Option("--memo/--no-memo", help="Reuse the course of a connection whose random decisions were seen "
                     "before instead of simulating it again (the output is the same either way)."),
    ] = True,
    retries: Annotated[
        int | None,
        typer.Option(min=1, max=20, help="Also show what N client retries per request do (p^(N+1); not a fix)."),
    ] = None,
) -> None:
    """Simulate the scenario's client calling its Service and show why connections time out.

    Exit code 0 when the simulation ran (timeouts are what it shows, not an error), 2 on bad input."""
    from hairpin import scenario as scen
    from hairpin.backends import sim

    if list_fixes:
        _list_fixes(scen.FIXES)
        return
    format = check_format(format, FORMATS)
    check_outputs({"--svg": svg, "--html": html, "--pcap": pcap, "--output": output}, [scenario])
    sc = scen.load(scenario) if scenario is not None else scen.seed()
    if fix is not None:
        sc = scen.with_fix(sc, fix)
    note_unchecked(sc)
    total = connections * (1 + (len(scen.FIXES) if fixes else 0))
    err = Console(stderr=True)
    if err.is_terminal:  # the count and a progress bar on stderr, whatever the format of stdout
        with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:  # fmt: skip
            runs = f" (the scenario and {len(scen.FIXES)} workarounds, {connections} each)" if fixes else ""
            err.print(f"simulating {total} connections{runs}")
            task = bar.add_task("sim", total=total)
            result = sim.run(sc, connections, seed, fixes=fixes, progress=lambda n: bar.advance(task, n), memo=memo)
    else:
        result = sim.run(sc, connections, seed, fixes=fixes, memo=memo)
    from hairpin.story import elsewhere_warning

    warning = elsewhere_warning(result)
    if warning is not None:  # timeouts the closed form does not count: a scenario mistake, most often
        say("warning", warning)
    _write_pictures(result, svg, html, pcap)
    from hairpin import retries as retry_math

    tries = retry_math.summary(result, retries) if retries is not None else None
    if format == "json":
        doc = result.to_json(all_hops=all_hops)
        if tries is not None:
            doc["retries"] = tries.to_json()
        emit_raw(output, json.dumps(doc, indent=1, sort_keys=False) + "\n")
        return
    from rich.text import Text

    from hairpin.story import RunView, diagnosis, next_step

    # the diagnosis and the next step apart from the report: off a terminal each is kept one line (emit)
    emit(output, Text(diagnosis(result), style="bold"), RunView(result, full=full, ends=False),
         *((tries.text(),) if tries is not None else ()), Text(next_step(result), style="bold"))  # fmt: skip


def _list_fixes(fixes: dict[str, str]) -> None:
    """One line a workaround, its name and what it changes; on a terminal narrower than a line, the text wraps
    between words under itself, not under the names (on a pipe each stays one line, for grep)."""
    width = max(len(n) for n in fixes)
    out = Console()
    if not out.is_terminal:
        for name, what in fixes.items():
            print(f"{name:<{width}}  {what}")
        return
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, min_width=width)
    grid.add_column(overflow="fold")
    for name, what in fixes.items():
        grid.add_row(name, what)
    out.print(grid, markup=False, highlight=False)


def _write_pictures(result: object, svg: Path | None, html: Path | None, pcap: Path | None) -> None:
    if svg is None and html is None and pcap is None:
        return
    from hairpin.backends.sim import Run

    assert isinstance(result, Run)
    conn = result.example("timeout") or (result.connections[0] if result.connections else None)
    if svg is not None and conn is not None:
        from hairpin.render import svg as svg_mod
        from hairpin.render.diagram import scenario_lanes

        write(svg, svg_mod.sequence_svg(conn.hops, title=f"connection #{conn.id}: {conn.outcome}",
                                               lanes=scenario_lanes(result.scenario)))  # fmt: skip
    if html is not None:
        from hairpin.render import html as html_mod

        err = Console(stderr=True)
        if err.is_terminal:
            with Progress(TextColumn("report chart"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=err, transient=True) as bar:  # fmt: skip
                task = bar.add_task("chart", total=html_mod.chart_total(result))
                points = html_mod.chart_points(result, progress=lambda n: bar.advance(task, n))
        else:
            points = html_mod.chart_points(result)
        write(html, html_mod.report(result, chart=points))
    if pcap is not None:
        from hairpin.render import pcap as pcap_mod

        pcap_mod.write_run(result, pcap)
        wrote(pcap)
