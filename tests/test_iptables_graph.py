"""The rule checker's jump graph (``iptables_check._check_graph``): one search shared by the built-in chains
and hooks propagated in topological order must refuse exactly what a search per built-in chain refused (the
earlier implementation, kept here as the reference), with the same line: loops reachable from a hook, and
targets used from hooks they are not allowed in (DNAT only from PREROUTING/OUTPUT, MASQUERADE only from
POSTROUTING...)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hairpin.errors import ParseError
from hairpin.parsers import iptables_check, iptables_save
from hairpin.parsers.iptables_check import _PLACES, BUILTIN_CHAINS

USER = ["A", "B", "C", "D", "E"]
NAT_BUILTIN = ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]


def _reference(rs: iptables_save.Ruleset, tname: str) -> None:
    """The per-hook search the checker used before (one depth-first search per built-in chain)."""
    table = rs.tables[tname]
    edges: dict[str, list[iptables_save.Rule]] = {name: [] for name in table.chains}
    for chain in table.chains.values():
        for rule in chain.rules:
            if rule.target is not None and rule.target.name in table.chains:
                edges[chain.name].append(rule)
    hooks: dict[str, set[str]] = {}
    for hook in BUILTIN_CHAINS[tname]:
        if hook not in table.chains:
            continue
        path, onpath, stack, done = [hook], {hook}, [iter(edges[hook])], set()
        hooks.setdefault(hook, set()).add(hook)
        while stack:
            edge = next(stack[-1], None)
            if edge is None:
                stack.pop()
                done.add(path[-1])
                onpath.discard(path.pop())
                continue
            assert edge.target is not None
            nxt = edge.target.name
            if nxt in onpath:
                cycle = [*path[path.index(nxt):], nxt]
                raise ParseError(f"jump loop: chain {edge.chain} jumps back to {nxt} ({' -> '.join(cycle)}, "
                                 f"reached from {tname} {hook}); the kernel refuses it", rs.file, edge.line)  # fmt: skip
            hooks.setdefault(nxt, set()).add(hook)
            if nxt in done:
                continue
            path.append(nxt)
            onpath.add(nxt)
            stack.append(iter(edges[nxt]))
    for chain in table.chains.values():
        reached = hooks.get(chain.name, set())
        for rule in chain.rules:
            t = rule.target
            if t is None or t.name not in _PLACES or t.name in table.chains:
                continue
            want_table, want_hooks = _PLACES[t.name]
            if tname != want_table:
                raise ParseError(f"-j {t.name} is only valid in the {want_table} table, not *{tname}", rs.file,
                                 rule.line)  # fmt: skip
            bad = sorted(reached - want_hooks)
            if bad:
                raise ParseError(f"-j {t.name} is not allowed from {tname} {', '.join(bad)} (only "
                                 f"{', '.join(sorted(want_hooks))})", rs.file, rule.line)  # fmt: skip


TARGETS = {"DNAT": "-j DNAT --to-destination 10.0.0.1:80", "MASQUERADE": "-j MASQUERADE", "RETURN": "-j RETURN"}
_rule = st.tuples(st.sampled_from(NAT_BUILTIN + USER), st.sampled_from(USER + list(TARGETS)))


@given(st.lists(_rule, max_size=14))
def test_the_shared_search_refuses_exactly_what_a_search_per_hook_refused(rules: list[tuple[str, str]]) -> None:
    lines = ["*nat", *(f":{c} ACCEPT [0:0]" for c in NAT_BUILTIN), *(f":{c} - [0:0]" for c in USER)]
    for chain, to in rules:
        lines.append(f"-A {chain} -p tcp {TARGETS.get(to, f'-j {to}')}")
    rs = iptables_save.parse("\n".join([*lines, "COMMIT", ""]), "t.rules")
    try:
        _reference(rs, "nat")
        want = None
    except ParseError as exc:
        want = str(exc)
    try:
        iptables_check._check_graph(rs, "nat")
        got = None
    except ParseError as exc:
        got = str(exc)
    assert got == want
