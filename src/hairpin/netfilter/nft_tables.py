"""Several nftables tables on one node's hooks: kube-proxy's ``table ip kube-proxy`` and the AWS VPC CNI's
``table ip aws-cni``, run as the kernel runs them.

Each table keeps its own chains (both name a chain ``nat-prerouting``), sets and maps; a ``jump`` stays in its
table.  At a hook the kernel runs every table's base chains of that hook by priority
(``nf_hook_entries_grow``, net/netfilter/core.c): the CNI's ``nat-prerouting`` at -90 after kube-proxy's
``nat-prerouting`` at dstnat (-100).  At the nat hooks they all hang off nf_nat's one list and the first
binding ends it (``nf_nat_inet_fn``, net/netfilter/nf_nat_core.c: hairpin.netfilter.stacked says more), so a
packet kube-proxy DNATs never reaches the CNI's chain; ``run_chains`` stops at the first verdict other than
accept or a NAT binding, as ``NftTable.run_chains`` does for one table.

``NftTables`` has the face ``hairpin.netfilter.stacked.Stacked`` uses of one ``NftTable`` (``has``, ``run``,
``base_chains``, ``run_chains``), so the simulator, the lab's twin and ``hairpin trace`` stack either one.
"""

from __future__ import annotations

from hairpin.netfilter.evaluate import Context, Step, Verdict
from hairpin.netfilter.nft import NftChain, NftTable

__all__ = ["Nft", "NftTables", "has_table", "tables_of"]


class NftTables:
    """Tables on the same hooks, in the order listed (kube-proxy's first): chains of equal priority keep it."""

    def __init__(self, tables: list[NftTable]) -> None:
        self.tables = tables
        self._owner = {id(c): t for t in tables for c in t.chains.values()}

    def base_chains(self, kind: str, hook: str) -> list[NftChain]:
        """Every table's base chains of ``kind`` on ``hook``, by priority (``NftTable.base_chains``)."""
        return sorted((c for t in self.tables for c in t.base_chains(kind, hook)), key=lambda c: c.priority)

    def has(self, table: str, hook: str) -> bool:
        return any(t.has(table, hook) for t in self.tables)

    def run(self, table: str, hook: str, ctx: Context) -> Verdict:
        return self.run_chains(self.base_chains(table, hook), ctx)

    def run_chains(self, chains: list[NftChain], ctx: Context) -> Verdict:
        """Base chains of one hook, of any table, in the order given: the first verdict other than accept, or NAT
        binding, with the steps of every chain that ran."""
        steps: list[Step] = []
        for chain in chains:
            v = self._owner[id(chain)].run_chains([chain], ctx)
            steps += v.steps
            if v.verdict != "ACCEPT" or v.nat is not None:
                return Verdict(v.verdict, v.rule, v.nat, steps)
        return Verdict("ACCEPT", steps=steps)


#: one table or several: what ``Stacked`` runs beside iptables
Nft = NftTable | NftTables


def tables_of(nft: Nft | None) -> list[NftTable]:
    """The tables of ``nft`` (none for None)."""
    if nft is None:
        return []
    return list(nft.tables) if isinstance(nft, NftTables) else [nft]


def has_table(nft: Nft | None, name: str) -> bool:
    """Whether ``nft`` holds the table ``name`` (``kube-proxy``: the node runs kube-proxy's nftables mode)."""
    return nft is not None and any(t.name == name for t in tables_of(nft))
