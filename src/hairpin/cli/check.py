"""``hairpin check``: find LoadBalancer Services whose in-cluster callers can time out (manifests, dumps, live).

Exit code 0: nothing at risk; 1: a Service is at risk; 2: some input was bad (each bad file gets one
``file:line: message`` line on stderr, the other files are still checked).
"""

from __future__ import annotations

import io
import json
import sys
from typing import Annotated

import typer

from hairpin.errors import InputError, ParseError
from hairpin.writing import check_output, write_output

FORMATS = ("table", "json", "sarif")


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Manifests, kubectl dumps or directories ('-': stdin).")
    ] = None,
    kubeconfig: Annotated[str | None, typer.Option(help="Read the live cluster through this kubeconfig.")] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context of the live cluster.")] = None,
    live: Annotated[bool, typer.Option("--live", help="Read the live cluster (current kubeconfig context).")] = False,
    format: Annotated[str, typer.Option("--format", help="table, json or sarif.")] = "table",
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write the report to this file.")] = None,
    lbc_webhook: Annotated[
        bool | None,
        typer.Option(
            "--lbc-webhook/--no-lbc-webhook",
            help="Assume the AWS Load Balancer Controller's service mutator webhook is (not) installed, so "
            "manifests without loadBalancerClass go to it (default: only if the input shows it).",
        ),
    ] = None,
    only_at_risk: Annotated[bool, typer.Option("--only-at-risk", help="Table: hide Services not at risk.")] = False,
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Exit 0 when the input holds no Kubernetes objects (default: exit 2)."),
    ] = False,
) -> None:
    """Find Services of type LoadBalancer whose in-cluster callers can be sent back to their own node."""
    from hairpin.diagnose import check as chk
    from hairpin.kube.cluster import live_objects
    from hairpin.parsers import manifests

    if format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not paths and not (live or kubeconfig or context):
        raise InputError("give manifests, dumps or directories to check, or --live / --kubeconfig / --context")
    check_output(output)
    errors: list[InputError] = []
    parse_errors: list[ParseError] = []
    objects = manifests.load_paths(paths or [], parse_errors)
    errors.extend(parse_errors)
    if live or kubeconfig or context:
        objects.extend(live_objects(kubeconfig, context))
    if not objects and not allow_empty:  # a CI gate pointed at the wrong folder must not pass
        for e in errors:
            print(f"hairpin: error: {e.one_line()}", file=sys.stderr)
        where = ", ".join("<stdin>" if p == "-" else p for p in paths or []) or None
        raise InputError("no Kubernetes objects found (--allow-empty accepts that)", where)
    report = chk.check(objects, mutator_webhook=lbc_webhook, errors=errors)
    for e in report.errors:
        print(f"hairpin: error: {e.one_line()}", file=sys.stderr)
    if format == "json":
        text = json.dumps(report.to_json(), indent=1) + "\n"
    elif format == "sarif":
        text = json.dumps(report.to_sarif(), indent=1) + "\n"
    else:
        text = ""
    report.only_at_risk = only_at_risk
    if format == "table":
        from rich.console import Console

        if output is None:
            Console().print(report)
        else:
            buf = Console(width=120, record=True, file=io.StringIO())
            buf.print(report)
            text = buf.export_text()
    if output is None:
        if format != "table":
            sys.stdout.write(text)
    else:
        write_output(output, text)
    raise typer.Exit(report.exit_code)
