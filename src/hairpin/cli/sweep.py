"""``hairpin sweep``: the timeout rate over a grid of scenario settings, simulated next to the closed form.

Exit code 0 when every point's simulated rate agrees with the closed form (within 4 sd), 1 when one does
not, 2 on bad input (an unknown grid key or value, a bad scenario file, a --dask or --ray scheduler that
cannot be reached within --connect-timeout): one line, no traceback.  ``--svg`` and ``--html`` are written
whole or not at all (``hairpin.writing.write_output``).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Annotated

import typer

FORMATS = ("text", "json", "csv")
#: the old name of ``--format text``, still accepted
ALIASES = {"table": "text"}


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep_cmd)


def sweep_cmd(
    grid: Annotated[
        list[str],
        typer.Option(
            "--grid",
            help="KEY=V1,V2,... (repeat): nodes, azs, cross_zone, target_type, preserve_client_ip, traffic_policy.",
        ),
    ],
    scenario: Annotated[Path | None, typer.Option(help="Base scenario YAML (default: the built-in seed).")] = None,
    connections: Annotated[int, typer.Option(min=10, max=1_000_000, help="Simulated connections per point.")] = 400,
    seed: Annotated[int, typer.Option(help="Random seed (each point derives its own from it).")] = 0,
    workers: Annotated[int, typer.Option(min=0, max=256, help="Local processes (0: the CPU count).")] = 0,
    dask: Annotated[str | None, typer.Option(help="Run points on this Dask scheduler (tcp://host:8786).")] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            help="Run points on Ray: local (start one here), auto (the running cluster), HOST:PORT or ray://HOST:PORT."
        ),
    ] = None,
    connect_timeout: Annotated[
        float, typer.Option(min=0.1, max=3600, help="Seconds to wait for a --dask or --ray scheduler.")
    ] = 30.0,
    format: Annotated[str, typer.Option("--format", help="text, json or csv.")] = "text",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the text, JSON or CSV to this file ('-': stdout).")
    ] = None,
    svg: Annotated[
        Path | None, typer.Option(help="Chart: rate against nodes per AZ, one line per other setting.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="Self-contained HTML report: the points' table, the chart, command and seed.")
    ] = None,
) -> None:
    """Simulate every combination of the grid's settings and compare each with the closed form."""
    from rich.console import Console

    from hairpin import scenario as scen
    from hairpin import sweep
    from hairpin.cli.common import check_format, check_outputs, emit, emit_raw, say, write
    from hairpin.render.markup import shown

    format = check_format(format, FORMATS, ALIASES)
    check_outputs({"--svg": svg, "--html": html, "--output": output}, [scenario])
    g = sweep.Grid.parse(grid)
    base = scen.load(scenario) if scenario is not None else scen.seed()
    n_workers = workers or (os.cpu_count() or 1)
    err = Console(stderr=True)
    if err.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                      transient=True) as bar:  # fmt: skip
            task = bar.add_task("points", total=len(g.points()))
            results = sweep.run(base, g, connections=connections, seed=seed, workers=n_workers, dask=dask, ray=ray,
                                connect_timeout=connect_timeout, progress=lambda n: bar.advance(task, n),
                                warn=lambda line: err.print(shown(f"hairpin: warning: {line}"), markup=False,
                                                            highlight=False, soft_wrap=True))  # fmt: skip
    else:
        results = sweep.run(base, g, connections=connections, seed=seed, workers=n_workers, dask=dask, ray=ray,
                            connect_timeout=connect_timeout,
                            warn=lambda line: say("warning", line))  # fmt: skip
    if svg is not None:
        from hairpin.render.sweep import chart_svg
        write(svg, chart_svg(results, title=f"hairpin sweep over {base.name}: timeout rate"))
    if html is not None:
        from hairpin.render.sweep import command_line, report_html
        cmd = command_line(grid, connections=connections, seed=seed,
                           scenario=str(scenario) if scenario is not None else None)  # fmt: skip
        write(html, report_html(results, base, connections=connections, seed=seed, command=cmd))
    if format == "json":
        emit_raw(output, json.dumps({"scenario": base.name, "connections": connections, "seed": seed,
                                     "points": [r.to_json() for r in results]}, indent=1) + "\n")  # fmt: skip
    elif format == "csv":
        buf = io.StringIO()
        keys = [k for k, _ in g.axes]
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([*keys, "connections", "timeouts", "rate", "expected", "agrees", "not_hairpin"])
        for r in results:
            d = r.to_json()
            w.writerow([*(d[k] for k in keys), r.connections, r.timeouts, d["rate"], d["expected"], r.agrees,
                        r.not_hairpin])  # fmt: skip
        emit_raw(output, buf.getvalue())
    else:
        from rich.text import Text

        keys = [k for k, _ in g.axes]
        bad = [r for r in results if not r.agrees]
        head = (f"hairpin sweep: all {len(results)} points agree with the closed form" if not bad else
                f"hairpin sweep: {len(bad)} of {len(results)} points disagree with the closed form (marked NO)")
        step = ("Next: pick the setting with the lowest rate and check it on your scenario: hairpin reproduce "
                "--scenario FILE" if not bad else "Next: rerun the NO points with more --connections; a steady "
                "disagreement is a model bug worth reporting")  # fmt: skip
        elsewhere = [r for r in bad if r.not_hairpin]
        if elsewhere:  # timeouts the closed form does not count: the scenario, not the model, explains them
            first = elsewhere[0]
            head += (f"; in {len(elsewhere)} of them connections time out for a reason the closed form does not "
                     f"count ({first.key()}: {first.not_hairpin_why})")  # fmt: skip
            if len(elsewhere) == len(bad):
                step = ("Next: check the scenario: a connection the load balancer did not send back to the "
                        "caller's own node timed out (hairpin reproduce --scenario FILE names the first one)")  # fmt: skip
        # the title and the note are lines of their own, not the table's title: rich wraps a title at the
        # table's width, mid-phrase when the table is narrow; a line is kept whole off a terminal
        from hairpin.render.sweep import PointsTable

        title = f"hairpin sweep over {base.name}: {connections} connections a point, seed {seed}"
        note = "agree: the simulated rate is within 4 sd of the closed form"
        emit(output, Text(head, style="bold"), Text(title, style="table.title"), PointsTable(results, keys),
             Text(note), Text(step, style="bold"))  # fmt: skip
    raise typer.Exit(0 if all(r.agrees for r in results) else 1)
