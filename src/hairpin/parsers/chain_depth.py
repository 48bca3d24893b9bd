"""How deep jumps nest below a built-in (base) chain, in time linear in the rules: the jump graph's loops
are refused first (by the callers), so every chain's height is one pass over the chains in post-order.

The kernel's limits, checked with iptables-nft-restore 1.8.9, iptables-legacy-restore and nft 1.0.6 on Linux 6.18:
nf_tables (iptables-nft, nft, kube-proxy's nftables mode) refuses a jump that would nest a 16th chain below
a base chain ("RULE_APPEND failed (Too many links)": net/netfilter/nf_tables_api.c, ``nft_chain_validate``
stops at ``NFT_JUMP_STACK_SIZE``, 16, with EMLINK); iptables-legacy loads 20 and more (its jump stack is
as deep as the table has chains)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["MAX_NESTING", "NFT_NESTING", "deepest", "heights", "shown"]

#: chains nested below a built-in chain that hairpin's iptables evaluator follows (a deeper ruleset is refused
#: when it is read, so the evaluator never meets one)
MAX_NESTING = 64
#: chains nested below a base chain that nf_tables accepts (the 16th is refused)
NFT_NESTING = 15

Edges = Mapping[str, Sequence[tuple[str, int]]]


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
