"""A small writer for ``iptables-save`` text: tables of chains of rule lines, printed in the order the
real ``iptables-save`` prints them.

What ``iptables-save`` does (iptables 1.8, both the legacy and the nf_tables backend; checked on this
machine with iptables v1.8.9 by restoring rules in a scratch network namespace and saving them):
built-in chains first in their fixed order, then user chains sorted by name, every chain declared
as ``:NAME POLICY [0:0]`` before any rule, then the rules chain by chain in the declaration order,
each chain's rules in their own order, then ``COMMIT``.  Rule lines are given here already in
iptables-save's canonical form (``-s -d -i -o -p`` first, then the matches as written, then the
target); ``tests/test_kube_proxy.py`` checks that the real tools give the text back unchanged.
"""

from __future__ import annotations

from hairpin.netfilter.rules import BUILTIN_CHAINS
from hairpin.parsers.iptables_save import save_string

__all__ = ["Tables", "comment"]


def comment(text: str) -> str:
    """``-m comment --comment TEXT`` with TEXT quoted as iptables-save quotes it."""
    return f"-m comment --comment {save_string(text)}"


class Tables:
    """Tables (in the order they are first touched) of chains of rules."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, list[str]]] = {}

    def table(self, name: str) -> dict[str, list[str]]:
        if name not in self._tables:
            self._tables[name] = {c: [] for c in BUILTIN_CHAINS[name]}
        return self._tables[name]

    def chain(self, table: str, chain: str) -> list[str]:
        """Declare ``chain`` (if new) and return its rule list."""
        return self.table(table).setdefault(chain, [])

    def add(self, table: str, chain: str, rule: str) -> None:
        """Append ``-A chain rule`` (``rule`` in iptables-save form, without ``-A CHAIN``)."""
        self.chain(table, chain).append(rule)

    def has(self, table: str, chain: str) -> bool:
        return chain in self._tables.get(table, {})

    def rules(self, table: str, chain: str) -> list[str]:
        return list(self._tables.get(table, {}).get(chain, []))

    def merge(self, other: Tables) -> None:
        """Add ``other``'s chains and rules after ours (chain by chain)."""
        for t, chains in other._tables.items():
            for c, rules in chains.items():
                self.chain(t, c).extend(rules)

    def render(self, order: tuple[str, ...] | None = None) -> str:
        """The ``iptables-save`` text; ``order`` names the tables to print and their order."""
        names = order if order is not None else tuple(self._tables)
        out: list[str] = []
        for t in names:
            if t not in self._tables:
                continue
            chains = self._tables[t]
            builtin = [c for c in BUILTIN_CHAINS[t] if c in chains]
            user = sorted(c for c in chains if c not in BUILTIN_CHAINS[t])
            out.append(f"*{t}")
            out.extend(f":{c} ACCEPT [0:0]" for c in builtin)
            out.extend(f":{c} - [0:0]" for c in user)
            for c in builtin + user:
                out.extend(f"-A {c} {r}" for r in chains[c])
            out.append("COMMIT")
        return "\n".join(out) + "\n"
