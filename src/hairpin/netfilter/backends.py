"""Two iptables backends on one node: iptables-legacy's tables and iptables-nft's, on the same hooks.

Both backends hook their tables in at the same priorities (NF_IP_PRI_RAW -300, MANGLE -150, NAT_DST -100,
FILTER 0, SECURITY 50, NAT_SRC 100: include/uapi/linux/netfilter_ipv4.h; iptables-nft's base chains are
created with the same numbers), so at every hook where both have a table the kernel's order between them
is the order of hooks of EQUAL priority.  net/netfilter/core.c ``nf_hook_entries_grow`` (Linux 6.x, the
copy read has the BPF hook dispatcher added in 6.4) copies the old entries while ``reg->priority >
orig_ops[i]->priority`` and puts the new hook before the first entry whose priority is not lower: a hook
registered later runs BEFORE an older one of the same priority.  A legacy table registers its hooks when
the table is first instantiated in the network namespace; an iptables-nft base chain when the chain is
created (and again when it is deleted and re-created).  No dump records when that was, so the order is
unknown: ``order(table, hook)`` is asked (True: legacy first) at every hook where both backends hold rules,
and the tracer tries every answer (``hairpin.legacy``).

The verdicts combine as the kernel's hook loop combines them (``nf_hook_slow``: the next hook runs only
on NF_ACCEPT): a DROP (or REJECT) in either backend's table ends the packet there, an ACCEPT in one does
not skip the other.  Marks set by the first table are seen by the second (one ``Context``).

NAT is not a plain hook.  Since Linux 4.18 (nf_nat: "add nat type hooks to nat core") and in every 5.x
and 6.x kernel, ``iptable_nat`` and nf_tables' nat chains do not hook in themselves: each registers
through ``nf_nat_ipv4_register_fn`` -> ``nf_nat_register_fn`` into nf_nat's own per-hook list
(``nf_hook_entries_insert_raw``, the same ``nf_hook_entries_grow`` order), and nf_nat's hook,
``nf_nat_inet_fn`` (net/netfilter/nf_nat_core.c), walks that list only while the connection has no
binding for the hook's manip type: after each chain, ``if (nf_nat_initialized(ct, maniptype)) goto
do_nat``.  So the first nat table that sets up a binding (DNAT, SNAT, MASQUERADE, REDIRECT) wins and the
other backend's nat table is not consulted for that connection; a chain that returns NF_DROP ends it.

Measured on Linux 6.18.44 with iptables 1.8.9, 2026-12-02 (tests/test_trace_legacy_lab.py): in a fresh
network namespace, a legacy nat OUTPUT DNAT to 10.0.0.2 and an iptables-nft nat OUTPUT DNAT to 10.0.0.3
for the same datagram: the backend whose rule was added LAST applied its DNAT and the other's nat rule
counted no packet; the same for mangle OUTPUT MARK rules; an ACCEPT in one backend's filter OUTPUT and a
DROP in the other's: the datagram was dropped (EPERM) in both creation orders.
"""

from __future__ import annotations

from collections.abc import Callable

from hairpin.netfilter.evaluate import Context, Evaluator, Reads, Step, Verdict
from hairpin.netfilter.rules import Rule

__all__ = ["LABELS", "Backends"]

#: how each backend is named in a trace
LABELS = {True: "legacy", False: "nft"}


def _labelled(steps: list[Step], label: str) -> list[Step]:
    from hairpin.parsers.iptables_getopt import shown_rule

    return [Step(s.rule, s.effect, f"{label}: {s.text or shown_rule(s.rule)}") for s in steps]


class Backends(Evaluator):
    """iptables-nft's tables (``nft``) and iptables-legacy's (``legacy``) on the same hooks.

    ``order(table, hook)`` says which runs first where both hold rules (True: legacy).  Every step is
    labelled with its backend (``legacy: -A ...`` / ``nft: -A ...``): the two files' line numbers overlap."""

    def __init__(self, nft: Evaluator | None, legacy: Evaluator | None, order: Callable[[str, str], bool]) -> None:
        self.nft = nft
        self.legacy = legacy
        self.order = order
        self._legacy_rules: set[int] = {id(r) for r in legacy.ruleset.rules()} if legacy is not None else set()

    def is_legacy(self, rule: Rule) -> bool:
        """Whether ``rule`` is one of the legacy backend's (by identity: the two files may hold equal rules)."""
        return id(rule) in self._legacy_rules

    def has(self, table: str, chain: str) -> bool:
        return any(e is not None and e.has(table, chain) for e in (self.nft, self.legacy))

    def pure(self, table: str, chain: str) -> Reads | None:
        return None  # the order is a per-trace answer: never cached

    def run(self, table: str, chain: str, ctx: Context) -> Verdict:
        parts = [(e, legacy) for e, legacy in ((self.nft, False), (self.legacy, True))
                 if e is not None and e.has(table, chain)]  # fmt: skip
        if len(parts) == 2 and self.order(table, chain):
            parts.reverse()
        steps: list[Step] = []
        v = Verdict("ACCEPT")
        for e, legacy in parts:
            v = e.run(table, chain, ctx)
            steps += _labelled(v.steps, LABELS[legacy])
            # nf_hook_slow: only NF_ACCEPT goes on to the next hook; nf_nat_inet_fn: a binding ends the list
            if v.verdict != "ACCEPT" or (table == "nat" and v.nat is not None):
                break
        return Verdict(v.verdict, v.rule, v.nat, steps)
