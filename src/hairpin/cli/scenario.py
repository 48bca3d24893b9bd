"""``hairpin scenario from-cluster``: write a hairpin scenario YAML built from Kubernetes objects.

The objects come from manifests/dumps and/or the live cluster; the file loads back with
``hairpin.scenario.load`` and runs with ``hairpin reproduce --scenario``.  Nothing is written when the
input is bad (exit 2, one line naming the file and line).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
import yaml

from hairpin.cli.common import clean, not_read_as_manifest, say, versions_and_live, warn_scenario, write, wrote
from hairpin.errors import InputError, ParseError
from hairpin.render.markup import shown
from hairpin.writing import check_directory, check_output, check_outputs, name_problem, write_output

scenario_app = typer.Typer(help="Build hairpin scenarios.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(scenario_app, name="scenario")


@scenario_app.command("from-cluster")
def from_cluster(
    service: Annotated[str, typer.Option("--service", help="The Service, namespace/name.")],
    paths: Annotated[list[str] | None, typer.Argument(help="Manifests, kubectl dumps or directories.")] = None,
    client_pod: Annotated[str | None, typer.Option("--client-pod", help="The calling pod, namespace/name.")] = None,
    kubeconfig: Annotated[str | None, typer.Option(help="Read the live cluster through this kubeconfig.")] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context of the live cluster.")] = None,
    live: Annotated[bool, typer.Option("--live", help="Read the live cluster (current kubeconfig context).")] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="Scenario YAML to write ('-': stdout).")] = "-",
    kubernetes_version: Annotated[
        str | None, typer.Option(help="The cluster's Kubernetes version (e.g. 1.33), when not read from a live cluster.")
    ] = None,
    cloud_provider_version: Annotated[
        str | None, typer.Option(help="The AWS cloud provider (cloud-provider-aws) release, e.g. v1.33.3, when known.")
    ] = None,
) -> None:
    """Build a scenario for one Service (and one calling pod) from Kubernetes objects."""
    from hairpin import reading
    from hairpin import scenario as scen
    from hairpin.aws.cloud_provider import tg_attributes_support
    from hairpin.kube.from_cluster import WARNINGS, scenario_from_objects, scenario_yaml
    from hairpin.parsers import manifests

    if not service:
        raise InputError("--service namespace/name is required")
    if not paths and not (live or kubeconfig or context):
        raise InputError("give manifests or dumps, or --live / --kubeconfig / --context")
    check_outputs({"--output": output}, paths or [])
    not_read_as_manifest(output, paths or [], "building from it again", "the scenario")
    errors: list[ParseError] = []
    objects = manifests.load_paths(paths or [], errors)
    if errors:
        for e in errors[1:]:
            print(f"hairpin: error: {e.one_line()}", file=sys.stderr)
        raise errors[0]
    kube, kube_from, provider = versions_and_live(objects, kubernetes_version, cloud_provider_version, live,
                                                  kubeconfig, context)  # fmt: skip
    in_tree = tg_attributes_support(kube, kube_from, provider) if kube is not None or provider is not None else None
    sources = [*(paths or []), *(["the live cluster"] if live or kubeconfig or context else [])]
    where = ", ".join("<stdin>" if p == "-" else p for p in sources)
    try:
        built, notes = scenario_from_objects(objects, service=service, client=client_pod, in_tree=in_tree)
    except InputError as exc:  # errors name the input they come from, never the output
        raise InputError(exc.message, exc.file or where, exc.line) from None
    text = scenario_yaml(built, notes)
    for n in notes:  # a datapath hairpin does not model (hairpin.kube.datapath), a connmark backend assumed
        if n.startswith(WARNINGS):  # (hairpin.kube.cni_backend): said where it is seen, too
            say("warning", n)
    try:
        scen.from_dict(yaml.load(text, Loader=reading.YAML_LOADER), output)  # what we write must load back
    except InputError as exc:
        raise InputError(f"the scenario built from it is not valid: {exc.message}", where) from None
    from hairpin.cli.common import note_unchecked

    note_unchecked(built)
    _probability_note(built)
    if output == "-":
        sys.stdout.write(text)
        return
    write_output(output, text)
    wrote(output, f"{len(built.nodes)} nodes, {len(built.pods)} pods, client {built.client.pod}")
    print(f"Next: hairpin reproduce --scenario {output}", file=sys.stderr)


def _probability_note(built: object) -> None:
    """On stderr: the per-node, per-address table, and which figure this scenario's reproduce shows."""
    from rich.console import Console

    from hairpin.aws.risk import not_the_hairpin
    from hairpin.probability import breakdown
    from hairpin.scenario import Scenario

    assert isinstance(built, Scenario)
    b = breakdown(built)
    if b is not None:  # node and AZ names from the objects read: shown as every terminal report shows them
        Console(stderr=True).print(clean(b))
    elif (why := not_the_hairpin(built)) is not None:  # a per-node table of hairpin odds would mislead
        print(shown(f"No per-node table: {why}; hairpin reproduce shows the outcome."), file=sys.stderr)


@scenario_app.command("nodes")
def nodes(
    scenario: Annotated[str, typer.Argument(help="Scenario YAML ('seed': the built-in seed).")],
    directory: Annotated[str, typer.Argument(help="Directory to write one sub-directory per node into.")],
) -> None:
    """Write each simulated node's state into DIRECTORY/NODE, the files `hairpin trace --node` reads.

    The files: iptables-save, ip route, ip rule, ip addr (and ipset and ipvsadm in IPVS mode, nft-ruleset in
    nftables mode); an IPv6 scenario's nodes get ip6tables-save, ip6-route and ip6-rule."""
    from pathlib import Path

    from hairpin import scenario as scen
    from hairpin.node_files import node_files

    s = scen.seed() if scenario == "seed" else scen.load(scenario)
    root = Path(directory)
    check_directory(directory)
    written = node_files(s)
    for node, files in written.items():  # every name checked before anything is written
        d = root / node
        if name_problem(node):
            # a hand-written scenario's node name (a Kubernetes node's is a DNS subdomain: no "/") would be
            # written out of DIR ("../x") or into it ("a/b")
            raise InputError(f"node name {node!r} cannot be a directory name in {directory}", scenario)
        if d.is_symlink() or (d.exists() and not d.is_dir()):
            # DIR/NODE is hairpin's name: a link there (planted, or left) is not followed out of DIR
            raise InputError("cannot write: not a directory (a symbolic link or a file)", str(d))
        if d.is_dir():
            for name in files:
                check_output(d / name, links=False)
    for node, files in written.items():
        d = root / node
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror}", str(d)) from None
        for name, text in files.items():
            write(d / name, text, links=False)  # a link, FIFO or device at DIR/NODE/FILE is replaced, not followed
    client = s.client_pod
    node = client.node
    target = s.client_target_address()
    print(shown(f"hairpin scenario nodes: {len(written)} nodes of {s.name} written to {directory}"), file=sys.stderr)
    svc = s.client_service
    port = svc.ports[0].node_port if svc.ports and svc.ports[0].node_port else s.client.port
    node_ip = s.node(node).ip
    src, dst = (f"[{a}]" if ":" in a else a for a in (client.ip, node_ip))  # IPv6: [ADDR]:PORT
    print(shown(f"Next: hairpin trace --node {root / node} --reply 'tcp {src}:40000 > {dst}:{port} syn in eth0'"
                f"  (the SYN the load balancer {target} delivers to {node} when it picks the caller's own node)"),
          file=sys.stderr)  # fmt: skip


@scenario_app.command("schema")
def schema() -> None:
    """Print the scenario file's JSON Schema (draft 2020-12)."""
    from importlib import resources

    sys.stdout.write(resources.files("hairpin").joinpath("scenarios/schema.json").read_text())


@scenario_app.command("validate")
def validate(files: Annotated[list[str], typer.Argument(help="Scenario YAML files.")]) -> None:
    """Check scenario files: one line per file, 'FILE: ok' or 'FILE:LINE: key.path: what is wrong' (exit 2)."""
    from hairpin import scenario as scen

    bad: list[InputError] = []
    for f in files:
        try:
            s = scen.load(f)
        except InputError as exc:
            bad.append(exc)
            continue
        # the name as the terminal reports show text from the user's files (hairpin.render.markup)
        print(shown(f"{f}: ok ({s.name}: {len(s.nodes)} nodes, {len(s.pods)} pods, {len(s.services)} services)"))
        warn_scenario(s)  # valid, but most likely a mistake (hairpin.scenario_checks)
    for e in bad[1:]:
        print(f"hairpin: error: {e.one_line()}", file=sys.stderr)
    if bad:
        raise bad[0]
