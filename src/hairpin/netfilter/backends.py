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

__all__ = ["LABELS", "Backends", "run_in_order"]

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

    def parts(self, table: str, chain: str) -> list[tuple[str, Callable[[Context], Verdict]]]:
        """The backends holding rules at (table, chain), in the order asked (``order``, when both do): each
        as (its label, a runner whose verdict's steps are labelled).  ``hairpin.netfilter.stacked.Stacked``
        interleaves kube-proxy's nft table with these at the nat hooks."""
        found = [(e, legacy) for e, legacy in ((self.nft, False), (self.legacy, True))
                 if e is not None and e.has(table, chain)]  # fmt: skip
        if len(found) == 2 and self.order(table, chain):
            found.reverse()

        def runner(e: Evaluator, label: str) -> Callable[[Context], Verdict]:
            def run(ctx: Context) -> Verdict:
                v = e.run(table, chain, ctx)
                return Verdict(v.verdict, v.rule, v.nat, _labelled(v.steps, label))

            return run

        return [(LABELS[legacy], runner(e, LABELS[legacy])) for e, legacy in found]

    def run(self, table: str, chain: str, ctx: Context) -> Verdict:
        return run_in_order(table, [r for _, r in self.parts(table, chain)], ctx)


def run_in_order(table: str, runners: list[Callable[[Context], Verdict]], ctx: Context) -> Verdict:
    """Tables on one hook, one after the other, as the kernel's hook loop runs them: the steps of each that
    ran, and the verdict of the last.  ``nf_hook_slow``: only NF_ACCEPT goes on to the next hook;
    ``nf_nat_inet_fn``: at a nat hook, a chain that sets up a binding ends nf_nat's list.  (Also the simulator's
    nftables-mode hooks, ``hairpin.netfilter.stacked``: the last verdict itself when it holds every step.)"""
    steps: list[Step] = []
    v = Verdict("ACCEPT")
    for run in runners:
        v = run(ctx)
        steps += v.steps
        if v.verdict != "ACCEPT" or (table == "nat" and v.nat is not None):
            break
    return v if len(steps) == len(v.steps) else Verdict(v.verdict, v.rule, v.nat, steps)
