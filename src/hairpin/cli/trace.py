"""``hairpin trace``: what a real node (its iptables-save, routes, rules, addresses) does with a packet.

Every random choice branches, so the output lists every outcome with its exact probability; ``--reply``
follows each outcome's reply back through the node and names an asymmetric return.  Bad files: one line
``file:line: message`` and exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from hairpin.errors import InputError

FORMATS = ("text", "json")


def register(app: typer.Typer) -> None:
    app.command("trace")(trace_cmd)


def trace_cmd(
    packets: Annotated[
        list[str],
        typer.Argument(
            help="Packets, e.g. 'tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0' ('out': sent by the node)."
        ),
    ],
    iptables_save: Annotated[
        Path | None, typer.Option("--iptables-save", help="iptables-save output of the node.")
    ] = None,
    routes: Annotated[Path | None, typer.Option(help="ip -4 route show table all (or route -n) output.")] = None,
    rules: Annotated[Path | None, typer.Option(help="ip rule output (default: the kernel's default rules).")] = None,
    addrs: Annotated[Path | None, typer.Option(help="ip -4 -o addr output (default: from the local table).")] = None,
    ipset: Annotated[
        Path | None, typer.Option(help="ipset save output, to decide -m set matches (Calico, IPVS mode).")
    ] = None,
    ipvs: Annotated[
        Path | None, typer.Option(help="ipvsadm -Sn (or -Ln) output: the node's IPVS virtual servers (IPVS mode).")
    ] = None,
    node: Annotated[
        Path | None,
        typer.Option(help="A directory holding iptables-save, ip-route (or route-n), ip-rule, ip-addr[, ipset-save, ipvsadm]."),
    ] = None,
    reply: Annotated[
        bool, typer.Option("--reply", help="Follow each outcome's reply and flag an asymmetric return.")
    ] = False,
    format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    svg: Annotated[Path | None, typer.Option(help="Sequence diagram of the first packet's outcomes.")] = None,
    html: Annotated[Path | None, typer.Option(help="Self-contained HTML report of every outcome.")] = None,
) -> None:
    """Trace packets through a real node's netfilter rules and routing: every branch, with its probability."""
    from hairpin import trace as tr
    from hairpin.writing import check_output, write_output

    if format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    check_output(svg)
    check_output(html)
    files: dict[str, Path] = tr.Node.find(node) if node is not None else {}
    for key, value in (
        ("iptables", iptables_save),
        ("routes", routes),
        ("rules", rules),
        ("addrs", addrs),
        ("ipset", ipset),
        ("ipvs", ipvs),
    ):
        if value is not None:
            files[key] = value
    if "iptables" not in files or "routes" not in files:
        raise InputError("give --iptables-save FILE and --routes FILE, or --node DIR")
    parsed = [tr.parse_packet(p) for p in packets]
    n = tr.Node.load(files["iptables"], files["routes"], files.get("rules"), files.get("addrs"),
                     name=node.name if node is not None else "node", ipset_file=files.get("ipset"),
                     ipvs_file=files.get("ipvs"))  # fmt: skip
    traces = [tr.trace(n, p, iif, reply=reply) for p, iif in parsed]
    if svg is not None:
        from hairpin.render.trace import trace_svg

        write_output(svg, trace_svg(traces[0]))
    if html is not None:
        from hairpin.render.trace import report

        write_output(html, report(traces, title=f"hairpin trace: {n.name}"))
    if format == "json":
        doc = [t.to_json() for t in traces]
        sys.stdout.write(json.dumps(doc[0] if len(doc) == 1 else doc, indent=1) + "\n")
        return
    from rich.console import Console

    out = Console(width=None if sys.stdout.isatty() else 200)
    for t in traces:
        out.print(t)
