"""``hairpin trace``: what a real node (its iptables-save, routes, rules, addresses) does with a packet.

Every random choice branches, so the output lists every outcome with its exact probability; ``--reply``
follows each outcome's reply back through the node and names an asymmetric return.  Bad files: one line
``file:line: message`` and exit code 2.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any

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
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the text or JSON to this file ('-': stdout).")
    ] = None,
) -> None:
    """Trace packets through a real node's netfilter rules and routing: every branch, with its probability.

    Exit code 1 when an outcome returns asymmetrically (--reply: the seed's failure), 0 otherwise, 2 on bad input."""
    from hairpin import trace as tr
    from hairpin.cli.common import check_format, check_output, emit, emit_raw, write

    format = check_format(format, FORMATS)
    for out_path in (svg, html, output):
        check_output(out_path)
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

        write(svg, trace_svg(traces[0]))
    if html is not None:
        from hairpin.render.trace import report

        write(html, report(traces, title=f"hairpin trace: {n.name}"))
    asym = [(t, o) for t in traces for o in t.outcomes if o.asymmetric]
    if format == "json":
        doc = [t.to_json() for t in traces]
        emit_raw(output, json.dumps(doc[0] if len(doc) == 1 else doc, indent=1) + "\n")
    else:
        from rich.text import Text

        emit(output, Text(_diagnosis(traces, asym, reply), style="bold"), *traces,
             Text(_next_step(asym, reply), style="bold"), lines=True)  # fmt: skip
    raise typer.Exit(1 if asym else 0)


def _diagnosis(traces: list[Any], asym: list[tuple[Any, Any]], reply: bool) -> str:
    n = sum(len(t.outcomes) for t in traces)
    if asym:
        p = sum((o.probability for _, o in asym), Fraction(0)) / len(traces)
        return (f"hairpin trace: {len(asym)} of {n} outcome(s) of this packet ({float(p):.1%} of its probability) return "
                "asymmetrically: "
                "the reply leaves the node by another way than the request came, the seed's failure")  # fmt: skip
    if not reply:
        return f"hairpin trace: {n} outcome(s); add --reply to follow each reply back and flag an asymmetric return"
    return f"hairpin trace: {n} outcome(s), every reply returns the way its request came"


def _next_step(asym: list[tuple[Any, Any]], reply: bool) -> str:
    if asym:
        return ("Next: confirm it on the wire (tcpdump -i any -w node.pcap, then hairpin pcap node.pcap) and pick "
                "a fix: hairpin reproduce --list-fixes, docs/fixes.md")  # fmt: skip
    if not reply:
        return "Next: run again with --reply"
    return "Next: trace the packet the load balancer delivers to the node (destination node:NodePort)"
