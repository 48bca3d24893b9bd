"""``hairpin trace``: what a real node (its iptables-save, routes, rules, addresses) does with a packet.

Every random choice branches, so the output lists every outcome with its exact probability; ``--reply``
follows each outcome's reply back through the node and names an asymmetric return.  Bad files: one line
``file:line: message`` and exit code 2.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hairpin.errors import InputError

if TYPE_CHECKING:
    from hairpin.trace import Node

FORMATS = ("text", "json")


def register(app: typer.Typer) -> None:
    app.command("trace")(trace_cmd)
    app.command("collect")(collect_cmd)


def collect_cmd(
    node: Annotated[
        str | None, typer.Option("--node", help="Node name: print the kubectl debug one-liner for it.")
    ] = None,
    run: Annotated[bool, typer.Option("--run", help="Run the read-only commands here (on the node, as root).")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="With --run: a directory, or FILE.tgz ('-': tarball on stdout).")
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="With --node: the debug container's image, a busybox (default: busybox, from Docker Hub; a mirror "
            "where the cluster cannot reach it).",
        ),
    ] = None,
) -> None:
    """How to get a node's state for `hairpin trace --node`: the read-only commands, or a one-liner."""
    from hairpin import collect
    from hairpin.writing import check_directory, check_output, write_output

    if image is not None and node is None:
        raise InputError("--image needs --node (it is the image of the kubectl debug one-liner)")
    if not run:
        if out is not None:
            raise InputError("--out needs --run (without it, collect only prints the commands)")
        text = collect.script()
        if node is not None:
            line = collect.debug_one_liner(node, image or collect.DEBUG_IMAGE)
            text += "\n# or, from your workstation (writes " + f"{node}.tgz, which trace --node reads):\n"
            text += line + "\n"
        sys.stdout.write(text)
        return
    if out is None:
        raise InputError("--run needs --out DIR or --out FILE.tgz")
    tarball = str(out) == "-" or str(out).endswith((".tgz", ".tar.gz"))
    if tarball:
        check_output(out)
    else:
        check_directory(out)
    files = collect.run_commands()
    if tarball:
        write_output(out, collect.tarball(files))
        return
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", str(out)) from None
    for name in files:  # every name checked before anything is written
        check_output(out / name, links=False)
    for name, data in files.items():  # DIR/NAME is hairpin's name: a link, FIFO or device there is replaced
        write_output(out / name, data, links=False)
    for name in (n for n in collect.COMMANDS if n not in files):
        # a file of an earlier run into DIR (another node's, or this one's before) that this run did not write:
        # trace --node would read it beside this run's files, a bundle of two states.  The printed script removes
        # these the same way (``|| rm -f NAME``).
        stale = out / name
        if stale.is_file() or stale.is_symlink():
            stale.unlink()
            print(f"removed {stale} (an earlier run's; {collect.COMMANDS[name][0][0]} gave none this time: missing, "
                  "failed or printed nothing)", file=sys.stderr)  # fmt: skip


def trace_cmd(
    packets: Annotated[
        list[str],
        typer.Argument(
            help="Packets, e.g. 'tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0' ('out': sent by the node)."
        ),
    ],
    iptables_save: Annotated[
        list[Path] | None,
        typer.Option("--iptables-save", help="iptables-save or iptables [-t TABLE] -S output (repeat: one per table)."),
    ] = None,
    table: Annotated[
        str | None, typer.Option("--table", help="The table of an iptables -S file (default: from its chains).")
    ] = None,
    iptables_legacy_save: Annotated[
        Path | None,
        typer.Option("--iptables-legacy-save",
                     help="iptables-legacy-save output, beside iptables-nft-save's (--iptables-save): both traced."),
    ] = None,
    routes: Annotated[Path | None, typer.Option(help="ip route show table all (any form: -o, -c, -j) or route -n.")] = None,
    rules: Annotated[Path | None, typer.Option(help="ip rule output (default: the kernel's default rules).")] = None,
    addrs: Annotated[Path | None, typer.Option(help="ip addr output, any form (default: from the local table).")] = None,
    ipset: Annotated[
        Path | None, typer.Option(help="ipset save output, to decide -m set matches (Calico, IPVS mode).")
    ] = None,
    ipvs: Annotated[
        Path | None, typer.Option(help="ipvsadm -Sn (or -Ln) output: the node's IPVS virtual servers (IPVS mode).")
    ] = None,
    nft: Annotated[
        Path | None, typer.Option("--nft", help="nft list ruleset output (kube-proxy's nftables mode).")
    ] = None,
    conntrack: Annotated[
        Path | None, typer.Option("--conntrack", help="conntrack -L output: packets of existing connections keep their NAT.")
    ] = None,
    sockets: Annotated[
        Path | None, typer.Option(help="ss -ltnu output: which local ports listen (--reply: SYN-ACK or RST).")
    ] = None,
    node: Annotated[
        Path | None,
        typer.Option(help="The node's files: a directory, a tarball (hairpin collect) or a Retina capture; found by content."),
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
    import tempfile

    from hairpin.cli.common import check_format, check_outputs

    format = check_format(format, FORMATS)
    if table is not None and table not in ("raw", "mangle", "nat", "filter", "security"):
        raise InputError(f"--table must be raw, mangle, nat, filter or security, got {table!r}")
    check_outputs({"--svg": svg, "--html": html, "--output": output},
                  [*(iptables_save or []), iptables_legacy_save, routes, rules, addrs, ipset, ipvs, nft, conntrack,
                   sockets, node])  # fmt: skip
    _not_read_back({"--svg": svg, "--html": html, "--output": output}, node)
    work = tempfile.TemporaryDirectory(prefix=f"{node.name}." if node is not None else "hairpin.")
    try:
        _trace(node, work.name, packets, iptables_save, iptables_legacy_save, routes, rules, addrs, ipset, ipvs,
               sockets, nft, conntrack, table, reply, format, svg, html, output)  # fmt: skip
    except InputError as e:  # a bundle's files are read from a temporary copy: name the bundle and its member
        raise _in_bundle(e, work.name, node) from None
    finally:
        work.cleanup()


def _not_read_back(outputs: dict[str, Path | str | None], node: Path | None) -> None:
    """Refuse, in one line, an output written into the directory given to ``--node``: trace reads every file in it
    by its content (``Node.find_all``), so the next trace of the directory would read this one as the node's or
    leave one of the node's own out, and a name such as ``ip-route`` would replace the node's file, read now."""
    from hairpin.writing import read_from

    for path in outputs.values():
        if read_from(path, node, tree=False):
            raise InputError(f"cannot write: inside {node}, given to --node: trace reads every file in it to find "
                             "the node's state (write it elsewhere)", str(path))  # fmt: skip


def _in_bundle(e: InputError, work: str, node: Path | None) -> InputError:
    """``e`` with a file of the temporary copy named ``BUNDLE:MEMBER`` (as hairpin pcap names them)."""
    if node is None or e.file is None or not (e.file == work or e.file.startswith(work + "/")):
        return e
    member = e.file[len(work) :].lstrip("/")
    message = e.message.replace(work + "/", f"{node}:")  # another file of the bundle, named in the message
    return type(e)(message, f"{node}:{member}" if member else str(node), e.line)


def _trace(node: Path | None, work: str, packets: list[str], iptables_save: list[Path] | None,
           iptables_legacy_save: Path | None, routes: Path | None, rules: Path | None, addrs: Path | None, ipset: Path | None, ipvs: Path | None, sockets: Path | None,
           nft: Path | None, conntrack: Path | None, table: str | None, reply: bool, format: str, svg: Path | None,
           html: Path | None, output: str | None) -> None:  # fmt: skip
    from hairpin import trace as tr
    from hairpin.cli.common import emit, emit_raw, write
    from hairpin.collect import materialize
    from hairpin.model.net import is_v6

    parsed = [tr.parse_packet(p) for p in packets]
    families = sorted({6 if is_v6(p.dst) else 4 for p, _ in parsed})
    given = [f for f in (iptables_save or []) + [routes, rules, iptables_legacy_save] if f is not None]
    if len(families) > 1 and (node is None or given):
        raise InputError("IPv4 and IPv6 packets in one run need --node DIR holding both families' files "
                         "(iptables-save and ip6tables-save, ip -4 and ip -6 routes); else trace each family on its own")  # fmt: skip
    root = materialize(node, Path(work)) if node is not None else None
    loaded = {f: _load(root, f, iptables_save, iptables_legacy_save, routes, rules, addrs, ipset, ipvs, sockets, nft,
                       conntrack, table, node, work) for f in families}  # fmt: skip
    n = loaded[families[0]]
    for p, iif in parsed:
        tr.check_packet(loaded[6 if is_v6(p.dst) else 4], p, iif)
    traces = [tr.trace(loaded[6 if is_v6(p.dst) else 4], p, iif, reply=reply) for p, iif in parsed]
    if node is not None:  # warnings about a bundle's files name BUNDLE:MEMBER, not the temporary copy (gone on exit)
        for t in traces:
            t.warnings = [w.replace(work + "/", f"{node}:") for w in t.warnings]
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

        # on a terminal the traces render themselves (colour, wrapped); a pipe or a file gets their plain text,
        # whole lines so grep finds every rule
        body = list(traces) if output is None and sys.stdout.isatty() else [Text(t.text()) for t in traces]
        emit(output, Text(_diagnosis(traces, asym, reply), style="bold"), *body,
             Text(_next_step(asym, reply, _dropped(traces) == sum(len(t.outcomes) for t in traces)), style="bold"),
             lines=True)  # fmt: skip
    raise typer.Exit(1 if asym else 0)


def _load(root: Path | None, family: int, iptables_save: list[Path] | None, iptables_legacy_save: Path | None,
          routes: Path | None, rules: Path | None, addrs: Path | None, ipset: Path | None, ipvs: Path | None,
          sockets: Path | None, nft: Path | None, conntrack: Path | None, table: str | None, node: Path | None,
          work: str) -> Node:  # fmt: skip
    """The node of one address family: its files found in ``root`` (a bundle's copy), the options overriding them."""
    from hairpin import trace as tr

    files: dict[str, Path] = {}
    every_ipt: list[Path] = []
    unread: list[tuple[str, str]] = []
    if root is not None:
        files, every_ipt = tr.Node.find_all(root, family, unread)
    for key, value in (("routes", routes), ("rules", rules), ("addrs", addrs), ("ipset", ipset), ("ipvs", ipvs),
                       ("sockets", sockets), ("nft", nft), ("conntrack", conntrack)):  # fmt: skip
        if value is not None:
            files[key] = value
            unread = [(k, w) for k, w in unread if k != key]  # the option's file is read, not the directory's
    ipt: list[Path] = list(iptables_save) if iptables_save else every_ipt
    if iptables_legacy_save is not None:
        ipt = [f for f in ipt if f != iptables_legacy_save] + [iptables_legacy_save]
    if (not ipt and "nft" not in files) or "routes" not in files:
        if family == 6:
            raise InputError("an IPv6 packet: give --iptables-save FILE (ip6tables-save's) and --routes FILE (ip -6 "
                             "route show table all), or --node DIR holding them")  # fmt: skip
        raise InputError("give --iptables-save FILE (or --nft FILE) and --routes FILE, or --node DIR")
    n = tr.Node.load(ipt, files["routes"], files.get("rules"), files.get("addrs"),
                     name=_node_name(node), ipset_file=files.get("ipset"),
                     ipvs_file=files.get("ipvs"), table=table, sockets_file=files.get("sockets"),
                     nft_file=files.get("nft"), conntrack_file=files.get("conntrack"),
                     legacy_file=iptables_legacy_save, family=family)  # fmt: skip
    n.file_warnings = [w for _, w in unread]
    if node is not None:  # what was read from the temporary copy of a bundle, named BUNDLE:MEMBER
        n.forms = {k: v.replace(work + "/", f"{node}:") for k, v in n.forms.items()}
    return n


def _diagnosis(traces: list[Any], asym: list[tuple[Any, Any]], reply: bool) -> str:
    from hairpin.unseen import IPVS

    names = {name for t in traces for name in t.not_modelled}
    blind = sorted(names - {IPVS})
    line = _verdict(traces, asym, reply)
    if blind:  # hairpin.unseen: a datapath outside netfilter may do what no rule file shows
        line += (f" (netfilter and routing only: this node runs {' and '.join(blind)}, whose eBPF programs hairpin "
                 "does not model; see the warnings)")  # fmt: skip
    if IPVS in names:
        line += " (no Service translated: kube-proxy's IPVS mode and no ipvsadm output; see the warnings)"
    unsure = sum(1 for t in traces for o in t.outcomes if o.undecided)
    if unsure:  # a match hairpin does not model is taken as not matching: the answer rests on that guess
        n = sum(len(t.outcomes) for t in traces)
        line += (f" ({'the outcome rests' if n == 1 else f'{unsure} of {n} outcomes rest'} on a match hairpin could "
                 "not decide, taken as not matching: see 'could not decide')")  # fmt: skip
    warned = len({w for t in traces for w in t.warnings})
    if warned and "see the warnings" not in line:  # the answer stands beside what the files did not show or agree on
        line += " (see the warning below)" if warned == 1 else f" (see the {warned} warnings below)"
    return line


def _verdict(traces: list[Any], asym: list[tuple[Any, Any]], reply: bool) -> str:
    n = sum(len(t.outcomes) for t in traces)
    if any(t.results > 1 for t in traces):  # tables of equal priority whose order changes the outcome
        kube = any("kube-proxy" in u["between"] for t in traces if t.results > 1 for u in t.unknown_orders)
        which = ("which nat table (iptables' or kube-proxy's nft table)" if kube else
                 "which iptables backend (legacy or nft)")  # fmt: skip
        orders = (f"hairpin trace: the outcome depends on {which} the kernel runs first, which the dumps cannot "
                  "tell: every result is listed, each outcome saying the order it assumes")  # fmt: skip
        return orders + (f"; {len(asym)} of {n} outcome(s) return asymmetrically" if asym else "")
    if asym:
        p = sum((o.probability for _, o in asym), Fraction(0)) / len(traces)
        return (f"hairpin trace: {len(asym)} of {n} outcome(s) of this packet ({float(p):.1%} of its probability) return "
                "asymmetrically: "
                "the reply leaves the node by another way than the request came, the seed's failure")  # fmt: skip
    dropped = _dropped(traces)
    if dropped == n:  # no request gets through, so there is no reply to follow (said as such, not as a return)
        if n == 1:
            return ("hairpin trace: the packet is dropped, no reply to follow: the outcome's last step names the rule "
                    "or route that drops it")  # fmt: skip
        return (f"hairpin trace: the packet is dropped in all {n} outcomes, no reply to follow: each outcome's last "
                "step names the rule or route that drops it")  # fmt: skip
    if not reply:
        return f"hairpin trace: {n} outcome(s); add --reply to follow each reply back and flag an asymmetric return"
    silent = _unanswered(traces)
    if dropped or silent:
        parts = [f"{dropped} dropped (see {'its' if dropped == 1 else 'their'} last step)"] if dropped else []
        if silent:  # delivered, and the node's TCP sends nothing back: no reply, so no return to judge
            parts.append(f"{silent} delivered and not answered (see {'its' if silent == 1 else 'their'} reply)")
        rest = n - dropped - silent
        tail = f"; every reply of the other {rest} returns the way its request came" if rest else ""
        return f"hairpin trace: {n} outcome(s): {', '.join(parts)}{tail}"
    return f"hairpin trace: {n} outcome(s), every reply returns the way its request came"


def _unanswered(traces: list[Any]) -> int:
    """How many outcomes end with the request delivered and TCP sending nothing back (``hairpin.tracer``: a SYN
    to a broadcast or an anycast address, or from an IPv4-mapped source): until 2026-12-03 the first line said
    of them that every reply returns the way its request came."""
    from hairpin.tracer import SILENT

    return sum(1 for t in traces for o in t.outcomes
               if len(o.legs) > 1 and o.legs[-1].kind == "none" and o.legs[-1].verdict.startswith(SILENT))  # fmt: skip


def _dropped(traces: list[Any]) -> int:
    """How many outcomes end with the request dropped (by a rule, a route, the martian check) and nothing
    answering it: a REJECT answers for the node (``hairpin.tracer``: its answer is the reply), so it is not one."""
    return sum(1 for t in traces for o in t.outcomes if o.legs[0].kind in ("drop", "martian")
               and not (o.legs[0].steps and o.legs[0].steps[-1].effect.startswith("REJECT")))  # fmt: skip


def _next_step(asym: list[tuple[Any, Any]], reply: bool, dropped: bool = False) -> str:
    if dropped:
        return "Next: look at the rule or route that drops it (the last step of each outcome), or trace another packet"
    if asym:
        return ("Next: confirm it on the wire (tcpdump -i any -w node.pcap, then hairpin pcap node.pcap) and pick "
                "a fix: hairpin reproduce --list-fixes, docs/fixes.md")  # fmt: skip
    if not reply:
        return "Next: run again with --reply"
    return "Next: trace the packet the load balancer delivers to the node (destination node:NodePort)"


def _node_name(path: Path | None) -> str:
    """The node's name for lanes and hops: the directory's or tarball's name without its suffixes."""
    if path is None:
        return "node"
    name = path.name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or "node"
    return name
