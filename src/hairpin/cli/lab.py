"""``hairpin lab``: build a scenario in real network namespaces, run real connections, compare with the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from hairpin.errors import InputError

lab_app = typer.Typer(help="The same system in real Linux kernels (root): up, run, status, down, clean.",
                      no_args_is_help=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")


def _scenario(path: Path | None, fix: str | None):  # type: ignore[no-untyped-def]
    from hairpin import scenario as scen

    s = scen.load(path) if path is not None else scen.seed()
    return scen.with_fix(s, fix) if fix else s


@lab_app.command("up")
def up_cmd(
    scenario: Annotated[Path | None, typer.Option(help="Scenario YAML (default: the built-in seed).")] = None,
    fix: Annotated[str | None, typer.Option(help="Apply a workaround first.")] = None,
) -> None:
    """Build the scenario's namespaces; they stay until `hairpin lab down`."""
    from hairpin.backends.lab import up
    from hairpin.cli.common import warn_scenario

    sc = _scenario(scenario, fix)
    warn_scenario(sc)
    lab = up(sc, persistent=True)
    print(f"lab {lab.record.prefix.rstrip('-')} up: {len(lab.record.namespaces)} namespaces "
          f"({', '.join(lab.record.namespaces)})")  # fmt: skip


@lab_app.command("run")
def run_cmd(
    connections: Annotated[int, typer.Option(min=1, max=5000)] = 20,
    scenario: Annotated[Path | None, typer.Option(help="Scenario YAML (default: the built-in seed).")] = None,
    fix: Annotated[
        str | None, typer.Option(help="Apply a workaround (ip-targets, no-preserve-client-ip, cluster-ip, ...).")
    ] = None,
    capture: Annotated[
        Path | None, typer.Option(help="Write a pcap per node (tcpdump -i any) into this directory.")
    ] = None,
    connect_timeout: Annotated[
        float, typer.Option("--connect-timeout", min=0.5, max=130.0, help="Client-side connect timeout, seconds.")
    ] = 3.5,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.5, max=130.0, hidden=True, help="Old name of --connect-timeout.")
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the text or JSON to this file ('-': stdout).")
    ] = None,
    svg: Annotated[
        Path | None,
        typer.Option(
            help="Sequence diagram of the first timed-out connection, as the "
            "simulator replays it (same client port, same target)."
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            help="Self-contained HTML report: every real outcome next to the simulated one, the capture "
            "comparison (with --capture), and the simulator's replay of a real timed-out and a real good connection."
        ),
    ] = None,
) -> None:
    """Make real connections in a lab of its own (built and removed around the run) and compare with the simulator.

    Exit code 0 when every real connection agrees with the simulator, 1 when one does not, 2 on bad input."""
    from hairpin.backends.lab import run, up
    from hairpin.backends.lab.run import check_capture_dir
    from hairpin.cli.common import check_format, check_outputs, note_unchecked

    format = check_format(format, ("text", "json"))
    timeout = connect_timeout if timeout is None else timeout
    check_outputs({"--svg": svg, "--html": html, "--output": output}, [scenario])
    sc = _scenario(scenario, fix)
    if capture is not None:  # DIR and every NODE.pcap in it, before the lab is built
        check_capture_dir(capture, sc)
    note_unchecked(sc)
    lab = up(sc)
    try:
        err = Console(stderr=True)
        if err.is_terminal and format == "text":
            with Progress(TextColumn("connecting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=err, transient=True) as bar:  # fmt: skip
                task = bar.add_task("lab", total=connections)
                result = run(lab, connections, timeout=timeout, seed=seed, capture=capture,
                             progress=lambda n: bar.advance(task, n))  # fmt: skip
        else:
            result = run(lab, connections, timeout=timeout, seed=seed, capture=capture)
    finally:
        lab.remove()
    if svg is not None:
        _write_svg(svg, lab.scenario, result, seed)
    if html is not None:
        from hairpin.cli.common import write
        from hairpin.render import lab as lab_report

        write(html, lab_report.report(lab.scenario, result, seed=seed))
    code = 0 if all(c.outcome == c.simulated_outcome for c in result.connections) else 1
    if format == "json":
        from hairpin.cli.common import emit_raw

        emit_raw(output, json.dumps(result.to_json(), indent=1) + "\n")
        raise typer.Exit(code)
    _print_run(result, lab.scenario, connections, output)
    raise typer.Exit(code)


def _print_run(result: Any, scenario: Any, connections: int, output: str | None) -> None:
    from hairpin.cli.common import emit

    parts: list[Any] = []
    disagree = sum(1 for c in result.connections if c.outcome != c.simulated_outcome)
    n = len(result.connections)
    parts.append(Text(f"hairpin lab run: {result.timeouts} of {n} real connections timed out; the simulator "
                      + ("agrees on every one" if not disagree else f"DISAGREES on {disagree}"), style="bold"))  # fmt: skip
    from hairpin.render.lab_text import ConnectionsTable, SequenceTable

    parts.append(ConnectionsTable(result, scenario, connections))
    parts.append(f"timeouts: {result.timeouts}/{len(result.connections)}; agreement with the simulator: "
                 f"{result.agreement:.0%}")  # fmt: skip
    parts.append(f"limit: {result.limit}; {result.kernel_would}")
    if result.captures:
        parts.append("captures: " + ", ".join(result.captures))
        shown = next((c for c in result.connections if c.real_sequence), None)
        if shown is not None:
            parts.append(SequenceTable(shown, scenario.client_pod.node))
    step = ("Next: read a timed-out connection step by step: hairpin lab run --svg F (or hairpin reproduce)"
            if result.timeouts else
            "Next: run without the fix (or with more --connections) to see the failure" if scenario.fix else
            "Next: run with more --connections to see the failure (each connection times out only when the NLB "
            "picks the caller's own node)")
    if disagree:
        step = "Next: rerun with --capture DIR to compare the real packets with the simulator's, hop by hop"
    parts.append(Text(step, style="bold"))
    emit(output, *parts)


def _write_svg(path: Path, scenario: object, result: object, seed: int) -> None:
    from hairpin.backends import sim
    from hairpin.backends.lab import LabRun
    from hairpin.cli.common import write
    from hairpin.render.diagram import scenario_lanes
    from hairpin.render.svg import sequence_svg
    from hairpin.scenario import Scenario

    assert isinstance(scenario, Scenario) and isinstance(result, LabRun)
    shown = next((c for c in result.connections if c.outcome == "timeout"), None) or result.connections[0]
    replay = sim.connect(scenario, client_port=int(shown.client.rsplit(":", 1)[1]), target=shown.target or None,
                         conn_id=shown.id, seed=seed)  # fmt: skip
    title = f"lab connection #{shown.id} {shown.client}: real {shown.outcome}, simulated {replay.outcome}"
    write(path, sequence_svg(replay.hops, title=title, lanes=scenario_lanes(scenario)))


@lab_app.command("status")
def status_cmd() -> None:
    """List the labs on this machine (from their records)."""
    from hairpin.backends.lab.record import is_stale, labs
    from hairpin.render.markup import shown

    found = labs()
    if not found:
        print("no labs")
        return
    for rec in found:
        state = "stale" if is_stale(rec) else rec.state
        # the scenario's name as the file gave it: shown as every terminal report shows it (hairpin.render.markup)
        print(shown(f"{rec.prefix.rstrip('-')}  {state:8} scenario={rec.scenario} fix={rec.fix or '-'} "
                    f"owner={rec.owner} namespaces={len(rec.namespaces)} processes={len(rec.pids)}"))  # fmt: skip


@lab_app.command("down")
def down_cmd(lab: Annotated[str | None, typer.Argument(help="Lab id (default: all recorded labs).")] = None) -> None:
    """Remove what `up` made: exactly the recorded namespaces and processes (exit 2 for an unknown lab id)."""
    from hairpin.backends.lab import down
    from hairpin.backends.lab.record import labs

    if lab is not None:
        known = sorted(rec.prefix.rstrip("-") for rec in labs())
        if lab.rstrip("-") not in known:
            raise InputError(f"no lab {lab!r}; recorded labs: {', '.join(known) or 'none'} (hairpin lab status)")
    kept: list[str] = []
    strangers: list[int] = []
    emptied: list[str] = []
    removed = down(lab, kept, strangers, emptied)
    _removed(removed, kept, strangers, emptied)


@lab_app.command("clean")
def clean_cmd() -> None:
    """Remove labs whose owner died (crash, kill -9) before removing them: exactly what their records prove theirs."""
    from hairpin.backends.lab import clean

    kept: list[str] = []
    strangers: list[int] = []
    emptied: list[str] = []
    removed = clean(kept=kept, strangers=strangers, emptied=emptied)
    _removed(removed, kept, strangers, emptied)


def _removed(removed: list[str], kept: list[str], strangers: list[int], emptied: list[str]) -> None:
    print(f"removed {len(removed)} namespaces" + (f": {', '.join(removed)}" if removed else ""))
    if emptied:  # the empty file a name's namespace was to be mounted on, the lab's by its record (LabRecord.emptied)
        print(f"removed {len(emptied)} empty mount points the lab made (no namespace was mounted on them): "
              f"{', '.join(emptied)}")  # fmt: skip
    if kept:  # recorded, present, but another namespace than the one the lab made (LabRecord.owns_netns)
        print(f"kept {len(kept)} namespaces with a recorded name that the lab did not make: {', '.join(kept)}")
    if strangers:  # inside the lab's namespaces, not started by the lab (identity.marked): left running
        print(f"left {len(strangers)} processes the lab did not start running in its namespaces (each namespace "
              f"ends with the last of them): {', '.join(map(str, sorted(strangers)))}")  # fmt: skip
