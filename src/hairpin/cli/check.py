"""``hairpin check``: find Services with a load balancer whose in-cluster callers can time out (manifests, dumps, live).

Exit code 0: nothing at risk; 1: a Service is at risk; 2: some input was bad (each bad file gets one
``file:line: message`` line on stderr, the other files are still checked).  When the cluster's Services are not
translated by kube-proxy (``hairpin.kube.datapath``), the first line says the verdicts are not modelled and the
second says what the input shows; the exit code keeps its meaning.

The command itself (without typer) is :func:`hairpin.cli.check_run.run`; this module declares its arguments,
options and help for typer.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hairpin.cli.check_run import ALIASES, BREAKDOWNS, FORMATS, PROBABILITY_NOTE, breakdowns, diagnosis, next_step

__all__ = ["ALIASES", "BREAKDOWNS", "FORMATS", "PROBABILITY_NOTE", "breakdowns", "check", "diagnosis", "next_step",
           "register"]  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Manifests, kubectl dumps or directories ('-': stdin).")
    ] = None,
    kubeconfig: Annotated[str | None, typer.Option(help="Read the live cluster through this kubeconfig.")] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context of the live cluster.")] = None,
    live: Annotated[bool, typer.Option("--live", help="Read the live cluster (current kubeconfig context).")] = False,
    format: Annotated[str, typer.Option("--format", help="text, json or sarif.")] = "text",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the report to this file ('-': stdout).")
    ] = None,
    lbc_webhook: Annotated[
        bool | None,
        typer.Option(
            "--lbc-webhook/--no-lbc-webhook",
            help="Assume the AWS Load Balancer Controller's service mutator webhook is (not) installed, so "
            "manifests without loadBalancerClass go to it (default: only if the input shows it).",
        ),
    ] = None,
    only_at_risk: Annotated[bool, typer.Option("--only-at-risk", help="Text: hide Services not at risk.")] = False,
    auto_mode: Annotated[
        bool | None,
        typer.Option(
            "--auto-mode/--no-auto-mode",
            help="Assume the cluster uses (does not use) EKS Auto Mode, whose default class "
            "eks.amazonaws.com/nlb takes manifests without loadBalancerClass (default: only if the input has "
            "Auto Mode nodes).",
        ),
    ] = None,
    kubernetes_version: Annotated[
        str | None,
        typer.Option(help="The cluster's Kubernetes version (e.g. 1.33), when not read from a live cluster."),
    ] = None,
    cloud_provider_version: Annotated[
        str | None,
        typer.Option(help="The AWS cloud provider (cloud-provider-aws) release, e.g. v1.33.3, when known."),
    ] = None,
    cloud_config: Annotated[
        str | None,
        typer.Option(
            "--cloud-config",
            help="The AWS cloud provider's cloud config (the INI file the cloud-controller-manager reads): its "
            "[Global] NLBSecurityGroupMode says whether in-tree NLBs get a security group (default: a ConfigMap "
            "of the input that holds it, else unknown).",
        ),
    ] = None,
    kube_proxy_version: Annotated[
        str | None,
        typer.Option(help="kube-proxy's release (e.g. 1.33), when the input has no kube-proxy pod or node that says it."),
    ] = None,
    lbc_version: Annotated[
        str | None,
        typer.Option(help="The AWS Load Balancer Controller's release (e.g. v2.13.0), when the input has no Deployment "
                     "of it or its image names no release."),
    ] = None,
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty", help="Exit 0 when the input holds no Kubernetes objects (default: exit 2)."),
    ] = False,
) -> None:
    """Find Services whose in-cluster callers their load balancer can send back to their own node.

    Services with a load balancer: type LoadBalancer; NodePort and ClusterIP Services the AWS Load Balancer
    Controller provisions; Services behind a Gateway."""
    from hairpin.cli.check_run import run

    raise typer.Exit(run(paths, kubeconfig, context, live, format, output, lbc_webhook, only_at_risk, auto_mode,
                         kubernetes_version, cloud_provider_version, cloud_config, allow_empty,
                         kube_proxy_version=kube_proxy_version, lbc_version=lbc_version))  # fmt: skip
