"""How deep jumps nest below a built-in (base) chain, in time linear in the rules: the jump graph's loops
are refused first (by the callers), so every chain's height is one pass over the chains in post-order.

The kernel's limits, checked with iptables-nft-restore 1.8.9, iptables-legacy-restore and nft 1.0.6 on Linux 6.18:
nf_tables (iptables-nft, nft, kube-proxy's nftables mode) refuses a jump that would nest a 16th chain below
a base chain ("RULE_APPEND failed (Too many links)": net/netfilter/nf_tables_api.c, ``nft_chain_validate``
stops at ``NFT_JUMP_STACK_SIZE``, 16, with EMLINK); iptables-legacy loads 20 and more (its jump stack is
as deep as the table has chains)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Generic, TypeVar

__all__ = ["MAX_NESTING", "NFT_NESTING", "Loop", "deepest", "heights", "post_order", "shown"]

T = TypeVar("T")

#: chains nested below a built-in chain that hairpin's iptables evaluator follows (a deeper ruleset is refused
#: when it is read, so the evaluator never meets one)
MAX_NESTING = 64
#: chains nested below a base chain that nf_tables accepts (the 16th is refused)
NFT_NESTING = 15

Edges = Mapping[str, Sequence[tuple[str, int]]]


class Loop(Exception, Generic[T]):
    """A jump back to a chain on the path: ``cycle`` runs from that chain down to it again (its last but one
    chain is the one that jumps back), ``jump`` is what the edge carried (its rule, or its line), ``root`` the
    chain the search started from."""

    def __init__(self, cycle: list[str], jump: T, root: str) -> None:
        super().__init__(" -> ".join(cycle))
        self.cycle = cycle
        self.jump = jump
        self.root = root


def post_order(roots: Iterable[str], succ: Mapping[str, Iterable[tuple[str, T]]]) -> list[str]:
    """Every chain reached from ``roots``, each after all the chains it jumps to: one depth-first search with
    the path on a stack (no recursion: a ruleset can nest 100,000 chains), each chain explored once.  A jump
    to a chain on the path raises :class:`Loop` (the kernel refuses a loop); a jump to a name ``succ`` does
    not hold is not followed."""
    order: list[str] = []
    done: set[str] = set()
    for root in roots:
        if root in done:
            continue
        path, onpath = [root], {root}
        stack = [iter(succ[root])]
        while stack:
            edge = next(stack[-1], None)
            if edge is None:
                stack.pop()
                done.add(path[-1])
                order.append(path[-1])
                onpath.discard(path.pop())
                continue
            t, jump = edge
            if t in onpath:
                raise Loop([*path[path.index(t) :], t], jump, path[0])
            if t in done or t not in succ:
                continue
            path.append(t)
            onpath.add(t)
            stack.append(iter(succ[t]))
    return order


def heights(order: Sequence[str], succ: Edges) -> dict[str, int]:
    """Each chain's height: how many chains nest below it (0: it jumps nowhere).  ``order`` lists every
    chain after all those it jumps to (a post-order of the loop-free jump graph)."""
    h: dict[str, int] = {}
    for name in order:
        h[name] = max((h.get(t, 0) + 1 for t, _ in succ.get(name, ()) if t in succ), default=0)
    return h


def deepest(root: str, succ: Edges, h: Mapping[str, int], limit: int) -> tuple[list[str], int]:
    """The chains from ``root`` down its deepest path, until ``limit + 1`` are nested below it, and the
    line of the jump that nests the last one."""
    path = [root]
    line = 0
    while len(path) <= limit + 1:
        name = path[-1]
        nxt = max(((t, ln) for t, ln in succ.get(name, ()) if t in succ), key=lambda e: h.get(e[0], 0), default=None)
        if nxt is None:
            break
        path.append(nxt[0])
        line = nxt[1]
    return path, line


def shown(path: list[str]) -> str:
    """A long path as its first three and last two chains."""
    return " -> ".join(path if len(path) <= 6 else [*path[:3], "...", *path[-2:]])
