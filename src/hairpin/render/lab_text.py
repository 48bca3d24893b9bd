"""A lab run's text tables (``hairpin lab run``), laid out to fit the width (``hairpin.render.text.fitting``).

The connections' table comes in three layouts, the first that fits: wide (one column a field), stacked (a
connection's addresses one under the other in one column) and narrowest (also the real outcome over the
simulated one, for 60 columns).  The capture-against-simulation table folds a long packet line rather than
cut it.  Each table's title is a line of its own, above it: rich wraps a table's title at the table's width,
mid-phrase when the table is narrow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from hairpin.backends.lab.run import LabConnection, LabRun
    from hairpin.scenario import Scenario

__all__ = ["ConnectionsTable", "SequenceTable"]


class ConnectionsTable:
    """Every real connection: its number, its addresses (the client, the source the NLB saw when the caller
    was translated on the way out, the NLB target or, for a Classic ELB, its target and its own connection),
    the real outcome, the time it took and the simulator's outcome for the same client port and target."""

    def __init__(self, result: LabRun, scenario: Scenario, connections: int) -> None:
        self.result = result
        self.title = f"hairpin lab run: {connections} real connections, scenario {scenario.name}" + (
            f", fix {scenario.fix}" if scenario.fix else ""
        )
        conns = result.connections
        # a caller translated on the way out (cni.nat_outgoing): the source the NLB saw, from the node's conntrack
        self.translated = any(c.nlb_source and c.nlb_source != c.client for c in conns)
        # a Classic ELB (a proxy): its own connection to the target, as the lab's proxy logged it
        self.proxied = any(c.proxy_backend for c in conns)
        self.addr_cols = ("client", *(("source at the NLB",) if self.translated else ()),
                          "CLB target" if self.proxied else "NLB target",
                          *(("CLB's own connection",) if self.proxied else ()))  # fmt: skip

    def _addresses(self, c: LabConnection) -> list[str]:
        own = (c.proxy_backend.split(" -> ")[0] + " " + c.proxy_backend.rsplit(": ", 1)[-1],) if self.proxied else ()
        return [c.client, *((c.nlb_source,) if self.translated else ()), c.target, *own]

    def _table(self, layout: str) -> Table:
        t = Table()
        t.add_column("#", no_wrap=True, justify="right")
        if layout == "wide":
            for col in self.addr_cols:
                t.add_column(col, no_wrap=True)
        else:
            t.add_column(" / ".join(self.addr_cols), overflow="fold")
        if layout == "narrowest":
            t.add_column("real /\nsimulated", no_wrap=True)
            t.add_column("elapsed\n(s)", no_wrap=True)
        else:
            for col in ("real", "elapsed (s)", "simulated"):
                t.add_column(col, no_wrap=True)
        for c in self.result.connections:
            simulated = Text(c.simulated_outcome, style="green" if c.outcome == c.simulated_outcome else "bold red")
            addrs = self._addresses(c)
            cells = addrs if layout == "wide" else ["\n".join(addrs)]
            if layout == "narrowest":
                t.add_row(str(c.id), *cells, Text(f"{c.outcome}\n").append_text(simulated), f"{c.elapsed_s:.4f}")
            else:
                t.add_row(str(c.id), *cells, c.outcome, f"{c.elapsed_s:.4f}", simulated)
        return t

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from hairpin.render.text import fitting

        yield Text(self.title, style="table.title")
        yield fitting(console, options, self._table("wide"),
                      lambda: fitting(console, options, self._table("stacked"), lambda: self._table("narrowest")))  # fmt: skip


class SequenceTable:
    """The first SYN round of a hairpinned connection as the capture saw it, next to the simulator's; a line
    that differs is marked."""

    def __init__(self, shown: LabConnection, node: str) -> None:
        self.shown = shown
        self.title = (f"hairpinned connection {shown.client}: first SYN round on {node}, capture vs simulation "
                      f"({'match' if shown.sequence_match else 'DIFFERENT'})")  # fmt: skip

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        real, sim = self.shown.real_sequence, self.shown.simulated_sequence
        seq = Table()
        seq.add_column("real kernel (tcpdump -i any)", overflow="fold")
        seq.add_column("simulator", overflow="fold")
        for i in range(max(len(real), len(sim))):
            a = real[i] if i < len(real) else ""
            b = sim[i] if i < len(sim) else ""
            seq.add_row(Text(a), Text(b) if a == b else Text(b, style="bold red"))  # text, not markup: "[S.]"
        yield Text(self.title, style="table.title")
        yield seq
