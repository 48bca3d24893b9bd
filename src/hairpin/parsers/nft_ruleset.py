"""``nft list ruleset`` (or ``nft list table ip kube-proxy``) of a node in kube-proxy's nftables mode, split into
its tables and checked before the tracer uses kube-proxy's.

- ``table ip kube-proxy`` (the table kube-proxy's nftables mode writes, kubernetes pkg/proxy/nftables) is read
  by ``hairpin.netfilter.nft`` (the simulator's own nftables model) and run by the same host and engine.
- ``table ip filter|nat|mangle|raw|security`` are iptables-nft's tables (other components, such as the AWS VPC
  CNI, still write iptables rules through iptables-nft): nft prints their xtables matches only as comments, so
  they are read from ``iptables-save`` instead; without that file they are left out with a warning.
- ``table ip6 ...``: IPv6, not traced (said).  Any other IPv4 table: refused (its rules would act on the packet
  and hairpin cannot read them).
- A jump loop between chains is refused, as the kernel refuses it at load (nf_tables_check_loops: ELOOP).
"""

from __future__ import annotations

import re

from hairpin.errors import ParseError
from hairpin.netfilter.nft import NftTable, parse

__all__ = ["read_nft"]

_TABLE = re.compile(r"^table\s+(\w+)\s+([\w.-]+)\s*\{")
_IPTABLES_NFT = {"filter", "nat", "mangle", "raw", "security"}


def read_nft(text: str, file: str, have_iptables: bool) -> tuple[NftTable | None, str, list[str]]:
    """kube-proxy's table, the form read, and warnings for the tables left out.  No kube-proxy table and an
    iptables-save given: None (an iptables-mode node whose ruleset holds only iptables-nft's tables)."""
    if text.lstrip().startswith("{"):
        raise ParseError("nft -j (JSON) output is not read yet: give `nft list ruleset` (text)", file, 1)
    lines = text.splitlines()
    blocks: list[tuple[str, str, int, int]] = []  # family, name, first line, last line (1-based)
    depth = 0
    current: tuple[str, str, int] | None = None
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if depth == 0:
            if not s or s.startswith("#"):
                continue
            m = _TABLE.match(s)
            if m is None:
                raise ParseError(f"expected 'table FAMILY NAME {{' (nft list ruleset), got {s[:40]!r}", file, no)
            current = (m.group(1), m.group(2), no)
        depth += _braces(s)
        if depth < 0:
            raise ParseError("unbalanced '}'", file, no)
        if depth == 0 and current is not None:
            blocks.append((*current, no))
            current = None
    if depth != 0 or current is not None:
        raise ParseError("the last table is not closed", file, len(lines))
    found: NftTable | None = None
    warnings: list[str] = []
    for family, name, first, last in blocks:
        where = f"{file}:{first}"
        if family == "ip6":
            warnings.append(f"{where}: table ip6 {name}: IPv6, not traced")
            continue
        if family == "ip" and name in _IPTABLES_NFT:
            if not have_iptables:
                warnings.append(f"{where}: table ip {name} is iptables-nft's: its rules are left out; give the "
                                "node's iptables-save (iptables-nft-save) too to trace them")  # fmt: skip
            continue
        if (family, name) != ("ip", "kube-proxy"):
            raise ParseError(f"table {family} {name}: not modelled (hairpin reads kube-proxy's table ip kube-proxy "
                             "and iptables-nft's tables through iptables-save)", file, first)  # fmt: skip
        body = "\n" * (first - 1) + "\n".join(lines[first - 1 : last])
        found = parse(body, file)
    if found is None:
        if have_iptables:
            return None, "nft list ruleset (no table ip kube-proxy: iptables mode, rules from iptables-save)", []
        raise ParseError("no table ip kube-proxy (kube-proxy's nftables mode)", file, 1)
    _check_loops(found, file)
    return found, "nft list ruleset (table ip kube-proxy)", warnings


def _braces(s: str) -> int:
    s = re.sub(r'"[^"]*"', "", s)
    return s.count("{") - s.count("}")


def _check_loops(table: NftTable, file: str) -> None:
    edges: dict[str, list[tuple[str, int]]] = {n: [] for n in table.chains}
    vmap_targets = {name: [v.partition(" ")[2] for v in elems.values() if v.startswith(("jump ", "goto "))]
                    for name, elems in table.vmaps.items()}  # fmt: skip
    for c in table.chains.values():
        for r in c.rules:
            for target in re.findall(r"\b(?:jump|goto) ([\w./-]+)", r.text):
                edges[c.name].append((target, r.line))
            for name in re.findall(r"vmap @([\w./-]+)", r.text):
                edges[c.name].extend((t, r.line) for t in vmap_targets.get(name, []))
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        state[n] = 1
        for t, line in edges.get(n, []):
            if state.get(t) == 1:
                cycle = " -> ".join([*path[path.index(t):], t])
                raise ParseError(f"jump loop: chain {n} jumps back to {t} ({cycle}); nft refuses it (ELOOP)", file,
                                 line)  # fmt: skip
            if state.get(t) is None and t in edges:
                visit(t, [*path, t])
        state[n] = 2

    for n in table.chains:
        if state.get(n) is None:
            visit(n, [n])
