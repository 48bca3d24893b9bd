"""A connection's hops told as numbered steps, the way the seed document tells them.

The simulator records every hop with everything that acted on it (rules, conntrack, routes, the NLB).
``steps(connection)`` keeps what a reader needs: one row per place a packet left (or died), with the time,
the place, src -> dst, flags, and the few facts that explain the row (NAT, the rule that did it, the route
that sent it, the NLB's choice, the TCP decision).  Retransmission rounds after the first are folded into
one row each unless ``full``.  ``RunView`` renders a whole run with rich (``__rich_console__``), so the
CLI only prints it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from hairpin.model.hop import Hop
from hairpin.model.net import Endpoint, Flags, addr_int

if TYPE_CHECKING:
    from hairpin.backends.sim import Connection, Run, Summary

__all__ = ["RunView", "Step", "diagnosis", "elsewhere", "elsewhere_warning", "explain", "next_step", "steps"]


@dataclass(frozen=True)
class Step:
    n: int
    t: float
    at: str
    src: str
    dst: str
    flags: str
    what: str
    kind: str
    folded: int = 0  # hops folded into this row


_KEEP = (
    "DNAT",
    "SNAT",
    "MASQUERADE",
    "NAT (",
    "de-NAT",
    "NLB ",
    "connect()",
    "SYN retransmission",
    "RST",
    "martian",
    "dropped",
    "rejected",
    "not simulated",
    "ETIMEDOUT",
    "ECONNREFUSED",
    "ESTABLISHED",
    "re-opens",
    "INVALID",
    "SYN_RECV",
    "accept()",
    "source/destination",
    "VPC route",
)


def explain(hop: Hop) -> str:
    """The facts of a hop worth reading, joined with '; '."""
    parts = [p.strip() for p in hop.action.split(" | ") if p.strip()]
    chain_path: list[str] = []
    keep: list[str] = []
    route = ""
    for p in parts:
        m = re.match(r"(nat|mangle|filter|raw) (\S+): (-A \S+.*?)\s+\[(.*)\]$", p)
        if m:
            table, chain, rule, effect = m.groups()
            if effect in ("DNAT", "MASQUERADE", "SNAT") or effect.startswith("DROP"):
                keep.append(f"{table} {chain}: {rule}")
            elif effect.startswith("mark=0x4000"):
                chain_path.append(chain)
            continue
        if p.startswith("route:"):
            route = p
            continue
        if p.startswith("conntrack: new entry"):
            continue
        if any(k in p for k in _KEEP):
            if p.startswith("conntrack") and "  [" in p:
                text, _, entry = p.partition("  [")
                if any(entry[:-1] in k for k in keep):
                    p = text
            keep.append(p)
    if chain_path and not any("KUBE-MARK-MASQ" in k for k in keep):
        keep.insert(0, "KUBE-MARK-MASQ (mark 0x4000 for MASQUERADE)")
    if route and hop.kind in ("send", "deliver", "drop") and not any(k.startswith("VPC route") for k in keep):
        keep.append(route)
    return "; ".join(keep)


def _is_client_syn(h: Hop, client_lane: str) -> bool:
    return h.lane == client_lane and h.kind == "send" and h.packet.flags == Flags.SYN


def steps(conn: Connection, full: bool = False) -> list[Step]:
    """Numbered steps of one connection; retransmission rounds after the first folded unless ``full``."""
    hops = sorted(conn.hops, key=lambda h: h.t)  # stable: same-time hops keep their order
    if not hops:
        return []
    client_lane = hops[0].lane
    rounds: list[list[Hop]] = []
    for h in hops:
        if _is_client_syn(h, client_lane) or not rounds:
            rounds.append([])
        rounds[-1].append(h)
    out: list[Step] = []

    def add(h: Hop, what: str | None = None, folded: int = 0) -> None:
        if h.kind == "deliver" and not what:
            what = explain(h)
        out.append(
            Step(len(out) + 1, h.t, h.at, str(h.packet.source), str(h.packet.dest), h.packet.flags.label(),
                 what if what is not None else explain(h), h.kind, folded)
        )  # fmt: skip

    for i, rnd in enumerate(rounds):
        last = i == len(rounds) - 1
        if i == 0 or full:
            for h in rnd:
                add(h)
            continue
        first = rnd[0]
        end = [h for h in rnd if h.kind in ("timeout", "established", "reset")]
        body = [h for h in rnd if h not in end]
        saw_rst = any(h.lane == client_lane and h.packet.flags & Flags.RST and h.kind == "send" for h in body)
        saw_synack = any(h.lane == client_lane and h.kind == "deliver" and h.packet.flags & Flags.SYN
                         and h.packet.flags & Flags.ACK for h in body)  # fmt: skip
        outcome = (
            "same path: SYN/ACK from the node, client RST"
            if saw_rst
            else ("SYN/ACK accepted" if saw_synack else "no answer")
        )
        add(first, f"{explain(first)}; {outcome} ({len(body)} hops folded)", len(body) - 1)
        if last:
            for h in end:
                add(h, h.action)
    return out


def _flag_style(flags: str) -> str:
    if "RST" in flags:
        return "bold red"
    if "SYN,ACK" in flags:
        return "bold yellow"
    if "SYN" in flags:
        return "cyan"
    return ""


#: below this width a connection's steps are stacked (the explanation on its own line) instead of a table
STACK_BELOW = 120


def _table(conn: Connection, title: str, full: bool, width: int) -> Table:
    # a Text title: rich reads a str title as markup with emoji codes, and IPv6 text such as "d018:a:5600" holds one
    t = Table(title=Text(title, style="table.title"), title_justify="left", expand=True, show_lines=False,
              pad_edge=False)  # fmt: skip
    stacked = width < STACK_BELOW
    t.add_column("#", justify="right", style="dim", no_wrap=True)
    t.add_column("t (s)", justify="right", no_wrap=True)
    if stacked:  # narrow: where, packet and flags on one line, what acted under it, nothing cut
        t.add_column("where, packet, flags / what acted", ratio=1, overflow="fold")
    else:
        t.add_column("at", no_wrap=True, max_width=24)
        t.add_column("src -> dst", no_wrap=True)
        t.add_column("flags", no_wrap=True)
        t.add_column("what acted", ratio=1)
    for s in steps(conn, full):
        style = "bold red" if s.kind in ("timeout", "drop", "martian") else ("green" if s.kind == "established" else "")
        when = f"{s.t:.6f}" if s.t < 1 else f"{s.t:.3f}"
        if stacked:
            cell = Text(f"{s.at}  {s.src} -> {s.dst}  ")
            cell.append(s.flags, style=_flag_style(s.flags))
            cell.append("\n")
            cell.append(s.what, style=style or "")
            t.add_row(str(s.n), when, cell)
        else:
            t.add_row(str(s.n), when, s.at, f"{s.src} -> {s.dst}", Text(s.flags, style=_flag_style(s.flags)),
                      Text(s.what, style=style or ""))  # fmt: skip
    return t


def _host(target: str) -> str:
    """The address of an ``ADDR:PORT`` / ``[ADDR]:PORT`` target ('' for none)."""
    return target.rpartition(":")[0].strip("[]")


def elsewhere(r: Run) -> tuple[int, str] | None:
    """The timeouts the load balancer did not cause by sending the caller back to its own node (the failure the
    closed form, ``hairpin.aws.risk``, counts): how many, and the first one's cause in a few words (``#0: NLB
    192.168.168.103: no listener/healthy target for port 80: dropped``, a load balancer without a registered
    target; ``#1: node2: rejected in filter INPUT by REJECT (...)``, a Service without endpoints).  None when there is none."""
    s = r.scenario
    own = {s.node(s.client_pod.node).ip} | {p.ip for p in s.pods if p.node == s.client_pod.node}
    other = [c for c in r.connections if c.outcome == "timeout" and _host(c.target) not in own]
    if not other:
        return None
    c = other[0]
    why = f"NLB target {c.target}, not the caller's node" if c.target else "no load balancer target"
    if any(st.kind in ("drop", "martian") and not st.what for st in steps(c)):
        from hairpin.backends import sim  # a bulk connection, recorded without words: replayed with them

        c = sim.connect(s, client_port=Endpoint.parse(c.client).port, target=c.target or None, conn_id=c.id,
                        seed=r.seed)  # fmt: skip
    for st in steps(c):
        if st.kind in ("drop", "martian"):
            parts = st.what.split("; ")  # the part that says where it ended, else the first
            what = next((x for x in parts if x.startswith(("dropped", "rejected", "martian"))), parts[0])
            why = what if what.startswith(st.at) else f"{st.at}: {what}"
            break
    return len(other), f"#{c.id}: {why}"


def elsewhere_warning(r: Run) -> str | None:
    """The warning line (without ``hairpin: warning:``) for :func:`elsewhere`'s timeouts, or None."""
    found = elsewhere(r)
    if found is None:
        return None
    n, first = found
    return (f"{n} of the {r.summary.timeouts} timeouts are not the load balancer sending the caller back to its "
            f"own node {r.scenario.client_pod.node} ({first}): the closed form "
            f"({r.summary.expected_rate:.1%}) and the fix tables do not account for them; check the scenario")  # fmt: skip


def diagnosis(r: Run) -> str:
    """One line: what the run found, before any detail."""
    s = r.scenario
    sm = r.summary
    if sm.attempts == 0:
        return "hairpin reproduce: no connection simulated"
    if sm.timeouts == 0 and sm.resets == 0:
        return (f"hairpin reproduce: all {sm.attempts} simulated connections of {s.client_pod.name} to "
                f"{s.client_service.key} succeeded" + (f" (fix {s.fix})" if s.fix else ""))  # fmt: skip
    bad = r.example("timeout") or r.example("reset")
    head = f"hairpin reproduce: {sm.timeouts} of {sm.attempts} simulated connections timed out ({sm.rate:.1%})"
    found = elsewhere(r)
    if found is not None:
        n, first = found
        return (f"{head}: {n} of them not because the load balancer sent them back to the caller's own node "
                f"{s.client_pod.node} ({first})")  # fmt: skip
    if bad is not None and bad.hairpin:
        return (f"{head}: the load balancer sent them back to the caller's own node {s.client_pod.node}, "
                "whose de-NATed SYN-ACK bypassed it; the client pod reset it and retried until ETIMEDOUT")
    return head


def next_step(r: Run) -> str:
    """One line: what to do after reading the run."""
    if r.summary.timeouts == 0:
        return ("Next: check your own cluster: hairpin check DUMP.json (or --live), then hairpin scenario "
                "from-cluster (README, On your cluster)")
    return ("Next: pick a fix from table 4 (hairpin reproduce --fix NAME shows it working), "
            "then check your own cluster: hairpin check DUMP.json (or --live)")


@dataclass
class RunView:
    """A run of the simulator, rendered for a terminal.  ``ends``: with its one-line diagnosis first and its
    next step last; False when the caller prints those two itself (``hairpin reproduce`` does, so that on a
    pipe or in a file each stays one line, as every command's first and last lines do)."""

    run: Run
    full: bool = False
    ends: bool = True

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        r = self.run
        s = r.scenario
        svc = s.client_service
        lb = svc.load_balancer
        width = options.max_width
        head = Text()
        head.append(f"scenario {s.name}", style="bold")
        head.append(f"  seed {r.seed}\n")
        head.append(
            f"client pod {s.client_pod.name} {s.client_pod.ip} on {s.client_pod.node}; calls {svc.key} at "
            f"{Endpoint(addr_int(s.client_target_address()), s.client.port)} ({s.client.via})"
        )
        if lb is not None:
            head.append(
                f"\nload balancer: {lb.type} {lb.scheme}, {lb.target_type} targets, client IP preservation "
                f"{'on' if lb.preserves_client_ip else 'off'}, cross-zone {'on' if lb.cross_zone else 'off'}"
                + (", Proxy Protocol v2 on" if lb.proxy_protocol_v2 else "")
                + (f", target node labels {dict(lb.target_node_labels)}" if lb.target_node_labels else "")
                + (f"; fix: {s.fix}" if s.fix else "")
            )
        head.append(
            f"\nkernel: tcp_syn_retries={s.kernel.tcp_syn_retries} tcp_syn_linear_timeouts="
            f"{s.kernel.tcp_syn_linear_timeouts}; kube-proxy {s.kube_proxy.mode} {s.kube_proxy.version}"
        )
        parts: list[object] = [Text(diagnosis(r), style="bold")] if self.ends else []
        parts.append(Panel(head, title="hairpin reproduce", expand=True))
        bad = r.example("timeout")
        good = r.example("established")
        if bad is not None:
            parts.append(_table(bad, f"1. A connection that timed out (#{bad.id}, {_target(bad)})", self.full, width))
        if good is not None:
            parts.append(_table(good, f"2. A connection that succeeded (#{good.id}, {_target(good)})", self.full, width))
        sm = r.summary
        rate = Text()
        rate.append(f"3. Over {sm.attempts} connections: ", style="bold")
        rate.append(f"{sm.timeouts} timed out ({sm.rate:.1%})", style="bold red" if sm.timeouts else "bold green")
        rate.append(f", expected {sm.expected_rate:.1%} (closed form: see docs/model.md)")
        parts.append(rate)
        parts.extend(self._probability())
        if r.fixes:
            fixing = [(n, fs, why) for n, fs, why in r.fixes if fs.timeouts == 0 and fs.resets == 0]
            failing = [(n, fs, why) for n, fs, why in r.fixes if (n, fs, why) not in fixing]
            base = f"{sm.timeouts}/{sm.attempts}"
            parts.append(_fix_table(f"4. Fixes: workarounds that remove every timeout here (was {base})", fixing))
            if failing:
                parts.append(_fix_table("5. Not fixes here: workarounds that leave timeouts in this scenario "
                                        "(do not apply these)", failing))  # fmt: skip
            parts.append(Text("Not fixes either: client retries (each attempt has the same chance; "
                              "--retries N shows it) and externalTrafficPolicy: Local (docs/fixes.md).",
                              style="dim"))  # fmt: skip
        if self.ends:
            parts.append(Text(next_step(r), style="bold"))
        yield Group(*parts)  # type: ignore[arg-type]

    def _probability(self) -> list[object]:
        from hairpin.probability import breakdown

        b = breakdown(self.run.scenario)
        return [] if b is None else [b]


def _fix_table(title: str, rows: list[tuple[str, Summary, str]]) -> Table:
    ft = Table(title=title, title_justify="left", expand=True)
    ft.add_column("workaround", no_wrap=True)
    ft.add_column("timeouts", justify="right", no_wrap=True)
    ft.add_column("why", ratio=1)
    for name, fs, why in rows:
        ft.add_row(name, Text(f"{fs.timeouts}/{fs.attempts}", style="green" if fs.timeouts == 0 else "red"), why)
    return ft


def _target(c: Connection) -> str:
    """Where the load balancer sent the connection, or that it never reached one (a captured VIP, ClusterIP)."""
    return f"NLB target {c.target}" if c.target else "no load balancer on its way"
