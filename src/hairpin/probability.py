"""One probability story: the chance that one connection times out, per caller node and per NLB address.

Three figures describe the same cluster and each command used to print only one of them:

- ``hairpin reproduce``'s expected rate: the scenario's client on its node, **pinned** to the NLB address
  its scenario names (or its own AZ's): the seed's 50 %, measured 47.6 % over 1,000 connections;
- ``hairpin check``'s P(timeout): the **worst caller node**, its connections spread over the NLB's addresses
  in DNS (the seed's lone eu-west-1b node: 50 %);
- a scenario from ``hairpin scenario from-cluster`` (client not pinned): the client's node **averaged over
  DNS answers** (the seed's node1: 25 %).

:func:`breakdown` computes the whole table from ``hairpin.aws.risk`` (the same closed form every command
uses), so each command can show it and say which cell its own figure is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from rich.table import Table
from rich.text import Text

from hairpin.aws.risk import caller_probability, scenario_counts
from hairpin.scenario import Scenario

__all__ = ["Breakdown", "NodeRow", "breakdown"]


@dataclass(frozen=True)
class NodeRow:
    """One caller node: its AZ, its chance through each NLB address (pinned), and averaged over DNS."""

    node: str
    az: str
    pinned: tuple[tuple[str, Fraction], ...]  # (NLB AZ, probability) in the NLB's AZ order
    averaged: Fraction
    same: tuple[str, ...] = ()  # other nodes with exactly this row (same AZ, labels and local endpoints)


@dataclass(frozen=True)
class Breakdown:
    """The per-node, per-address table of one Service, and which cell is which command's figure."""

    service: str
    azs: tuple[str, ...]
    rows: tuple[NodeRow, ...]
    client_node: str
    client_az: str | None  # the NLB AZ the scenario's client is pinned to; None: not pinned
    scenario_rate: Fraction

    @property
    def worst(self) -> NodeRow:
        """The caller node ``hairpin check`` reports: highest averaged probability (first by name on a tie)."""
        return max(self.rows, key=lambda r: (r.averaged, [-ord(c) for c in r.node]))

    def client_row(self) -> NodeRow:
        return next(r for r in self.rows if r.node == self.client_node)

    def labels(self) -> list[str]:
        """Each command's figure, named: what it is and where it comes from."""
        c = self.client_row()
        w = self.worst
        pin = f"pinned to the NLB address in {self.client_az}" if self.client_az else "averaged over DNS answers"
        return [
            f"reproduce (this scenario): the client on {c.node}, {pin}: {_pct(self.scenario_rate)}",
            f"check: the worst caller node, {w.node} ({w.az}), averaged over DNS answers: {_pct(w.averaged)}",
            f"scenario from-cluster (client not pinned): {c.node} averaged over DNS answers: {_pct(c.averaged)}",
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "nodes": [{"node": r.node, "az": r.az, "pinned": {az: float(p) for az, p in r.pinned},
                       "averaged_over_dns": float(r.averaged)} for r in self.rows],
            "client_node": self.client_node,
            "client_pinned_az": self.client_az,
            "scenario_rate": float(self.scenario_rate),
            "worst_node": self.worst.node,
            "worst_node_rate": float(self.worst.averaged),
        }

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from hairpin.render.text import fitting, indented

        yield Text(f"P(timeout) of one connection to {self.service}, per caller node and NLB address")
        yield fitting(console, options, self._table(stacked=False), lambda: self._table(stacked=True))
        yield Text("* the scenario's client.  Which figure each command prints:")
        for line in self.labels():
            yield indented(line, 2, "- ")

    def _table(self, stacked: bool) -> Table:
        """Wide: node and AZ in columns of their own.  Stacked (narrow): the AZ under the node, the NLB's AZ
        alone in its column's header."""
        t = Table(expand=False, caption="via AZ: pinned to the NLB's address in that AZ" if stacked else None,
                  caption_justify="left")
        if stacked:
            t.add_column("caller node\nAZ", overflow="fold")
        else:
            t.add_column("caller node", no_wrap=True)
            t.add_column("AZ", no_wrap=True)
        for az in self.azs:
            t.add_column(f"via\n{az}" if stacked else f"via the NLB\nin {az}", justify="right", no_wrap=True)
        t.add_column("averaged\nover DNS", justify="right", no_wrap=True)
        for r in self.rows:
            mark = " *" if r.node == self.client_node else ""
            more = f" and {len(r.same)} more" if len(r.same) > 1 else (f", {r.same[0]}" if r.same else "")
            where = (f"{r.node}{mark}{more}\n{r.az}",) if stacked else (r.node + mark + more, r.az)
            t.add_row(*where, *(_pct(p) for _, p in r.pinned), _pct(r.averaged))
        return t


def _pct(p: Fraction) -> str:
    return f"{float(p):.1%}"


def breakdown(s: Scenario) -> Breakdown | None:
    """The table for the scenario's client Service; None when no caller can be hairpinned through it
    (ClusterIP, a Classic ELB, an internet-facing NLB, client IP preservation off), or when something else
    decides the course (kube-proxy capturing the NLB's addresses, a security group dropping the caller:
    ``risk.not_the_hairpin``), where a table of hairpin odds per node would contradict the verdict."""
    from hairpin.aws.risk import not_the_hairpin, timeout_fraction

    svc = s.client_service
    lb = svc.load_balancer
    if s.client.via == "cluster-ip" or lb is None or lb.type != "nlb" or lb.scheme != "internal":
        return None
    if not lb.preserves_client_ip or not_the_hairpin(s) is not None:
        return None
    azs = tuple(az for az, _ in lb.nodes) if lb.nodes else tuple(a.name for a in s.vpc.azs)
    # a node's row depends only on its AZ, its labels (target_node_labels) and how many of the Service's
    # endpoints it runs (ip targets; externalTrafficPolicy Local): one row per such class, the client's
    # node and the first node of each class named (scenario_counts is linear in the nodes: once per class)
    local = Counter(p.node for p in s.endpoints_of(svc))
    classes: dict[tuple[object, ...], list[str]] = {}
    first = s.client_pod.node
    for node in sorted(s.nodes, key=lambda n: n.name != first):
        registered = all(dict(node.labels).get(k) == v for k, v in lb.target_node_labels)
        classes.setdefault((node.az, registered, local[node.name]), []).append(node.name)
    rows = []
    for names in classes.values():
        node = s.node(names[0])
        counts = scenario_counts(s, svc, node.name)
        pinned = tuple((az, caller_probability(counts, cross_zone=lb.cross_zone, pinned_az=az)) for az in azs)
        rows.append(NodeRow(node.name, node.az, pinned, caller_probability(counts, cross_zone=lb.cross_zone),
                            tuple(names[1:])))  # fmt: skip
    rows.sort(key=lambda r: [n.name for n in s.nodes].index(r.node))
    # pinned: the scenario names the NLB address its client's DNS lookup returned (the seed does)
    client_az = next((az for az, a in lb.nodes if a == s.client.address), None) if s.client.address else None
    return Breakdown(svc.key, azs, tuple(rows), s.client_pod.node, client_az, timeout_fraction(s))

