"""Walks of chains with random draws, remembered per flow class and per answer to each draw.

A chain whose rules read only the packet's header fields, its interfaces, marks and conntrack state, and ask
for random draws (``-m statistic``: kube-proxy's nat chains), walks the same way for every packet that
agrees on what its rules read and gets the same answers to the same draws: the rules it looks at, the
steps it records, the marks it leaves and its verdict.  ``Walks`` keeps such walks, as Open vSwitch's
megaflow cache keeps a classifier's decision keyed by the fields the classifier looked at, with one
difference: the fields are those read by the rules this walk looked at in the chains it entered (an indexed
chain's candidates, and the index's destination and port: ``Evaluator.run_recorded``,
``hairpin.netfilter.evaluate.rule_reads``), not those of every rule the chain can reach, so a walk through a
10,000-Service KUBE-SERVICES chain never compiles the rules no packet met.

A walk is kept from the second time it is met (the walk of a packet met once would be kept for nothing),
and from then on every walk of its flow class.  Each flow class holds a tree of the draws its walks made,
in order: a walk met again asks the same draws of ``ctx.choose`` (the tracer records them as it would) and
follows the answers to the walk they lead to.  An answer no walk has followed yet walks the rules, the
draws already made handed to it again.  A chain's key fields are the union of those its walks read so far;
when a walk reads one more, the chain's later walks are keyed by the wider set and kept apart.  Walks that
met a rule of any other kind are not kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from hairpin.netfilter.evaluate import Context, Evaluator, Verdict
    from hairpin.netfilter.rules import Rule

__all__ = ["Leaf", "Walks"]

#: flow classes kept before the walks start afresh (a cache: answers never depend on it)
MAX_KEPT = 1 << 16

#: one walk's end: its verdict, the packet mark and conntrack mark it left, the rules it looked at
Leaf = tuple["Verdict", int, int, int]


class _Draw:
    """A draw the walk asked for (``ctx.choose(p, rule)``), and where each answer leads (None: not yet walked)."""

    __slots__ = ("no", "p", "rule", "yes")

    def __init__(self, p: float, rule: Rule) -> None:
        self.p, self.rule = p, rule
        self.yes: _Draw | Leaf | None = None
        self.no: _Draw | Leaf | None = None


class _Root:
    """A flow class's walks: the first draw (or the one walk, when it draws nothing), and the most rules any
    of its walks looked at."""

    __slots__ = ("cost", "node")

    def __init__(self, node: _Draw | Leaf, cost: int) -> None:
        self.node, self.cost = node, cost


class Walks:
    """The remembered walks of one evaluator's chains."""

    def __init__(self) -> None:
        #: per (table, chain): the per-flow fields (``rule_reads`` bits) its walks read so far
        self.masks: dict[tuple[str, str], int] = {}
        self.kept: dict[tuple[object, ...], _Root] = {}
        #: walks met once, (key, answers), in a flow class nothing is kept for: kept when met again
        self.met: set[tuple[tuple[object, ...], tuple[bool, ...]]] = set()

    def clear(self) -> None:
        self.masks.clear()
        self.kept.clear()
        self.met.clear()

    def find(self, key: tuple[object, ...], nf: Evaluator,
             choose: Callable[[float, Rule], bool]) -> Leaf | list[bool] | None:  # fmt: skip
        """The kept walk of flow class ``key`` (built by the caller from every field a walk may read, the
        per-flow ones ``masks`` names), its draws asked of ``choose`` as the walk asked them; else the answers
        given on the way, which ``walk`` hands to the walk again (None: walk without keeping, the rules any walk
        of the class looked at would take ``nf.budget`` below 0, where the walk must fail as it fails)."""
        root = self.kept.get(key)
        if root is None:
            return []
        if nf.budget is not None and nf.budget < root.cost:
            return None
        answers: list[bool] = []
        node: _Draw | Leaf | None = root.node
        while type(node) is _Draw:
            answer = choose(node.p, node.rule)
            answers.append(answer)
            node = node.yes if answer else node.no
        if node is None:
            return answers
        assert type(node) is tuple
        if nf.budget is not None:
            nf.budget -= node[3]
        return node

    def walk(self, nf: Evaluator, table: str, chain: str, ctx: Context, key: tuple[object, ...], answers: list[bool],
             rekey: Callable[[int], tuple[object, ...]]) -> Verdict:  # fmt: skip
        """``nf.run(table, chain, ctx)``, the first draws answered by ``answers`` (``find``'s), kept under ``key``
        when every rule it looked at is pure (under ``rekey(wider mask)`` when one of them read a field not in
        the chain's mask, ``key``'s, yet) and its flow class has kept walks or this walk was met before: a
        walk met once is not kept (keeping the walks of flow classes met once made the collector's passes
        over them cost more than the walks they saved)."""
        real = ctx.choose
        asked: list[tuple[float, Rule, bool]] = []

        def draw(p: float, rule: Rule) -> bool:
            i = len(asked)
            answer = answers[i] if i < len(answers) else real(p, rule)  # the answers already given, again
            asked.append((p, rule, answer))
            return answer

        ctx.choose = draw
        try:
            v, reads, looked = nf.run_recorded(table, chain, ctx)
        finally:
            ctx.choose = real
        if reads < 0:
            return v
        hc = (table, chain)
        mask = self.masks.get(hc, 0)
        root = self.kept.get(key)
        if reads & ~mask & 31:  # a field no walk of the chain read before: keyed by the wider set from now on
            self.masks[hc] = mask = mask | (reads & 31)
            key = rekey(mask)
            root = self.kept.get(key)
        if root is None:
            walk = (key, tuple([a for _, _, a in asked]))
            if walk not in self.met:
                if len(self.met) >= MAX_KEPT:
                    self.met.clear()
                self.met.add(walk)
                return v
            self.met.discard(walk)
        self._keep(key, root, asked, (v, ctx.mark, ctx.ctmark, looked))
        return v

    def _keep(self, key: tuple[object, ...], root: _Root | None, asked: list[tuple[float, Rule, bool]],
              leaf: Leaf) -> None:  # fmt: skip
        """Add a walk (its draws and end) to its flow class's tree."""
        if root is None:
            if len(self.kept) >= MAX_KEPT:
                self.kept.clear()
            self.kept[key] = _Root(_path(asked, leaf), leaf[3])
            return
        node: _Draw | Leaf | None = root.node
        for i, (p, rule, answer) in enumerate(asked):
            if type(node) is not _Draw or node.p != p or node.rule is not rule:
                del self.kept[key]  # walks of one flow class that part before a draw: none is kept (not met)
                return
            nxt = node.yes if answer else node.no
            if nxt is None:
                if answer:
                    node.yes = _path(asked[i + 1 :], leaf)
                else:
                    node.no = _path(asked[i + 1 :], leaf)
                root.cost = max(root.cost, leaf[3])
                return
            node = nxt


def _path(asked: list[tuple[float, Rule, bool]], leaf: Leaf) -> _Draw | Leaf:
    """One walk's draws, each leading by its answer to the next, the last to the walk's end."""
    node: _Draw | Leaf = leaf
    for p, rule, answer in reversed(asked):
        d = _Draw(p, rule)
        if answer:
            d.yes = node
        else:
            d.no = node
        node = d
    return node
