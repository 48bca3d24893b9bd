"""``nft list ruleset`` (or ``nft list table ip kube-proxy``) of a node in kube-proxy's nftables mode, split into
its tables and checked before the tracer uses kube-proxy's.

- ``table ip kube-proxy`` (the table kube-proxy's nftables mode writes, kubernetes pkg/proxy/nftables) is read
  by ``hairpin.netfilter.nft`` (the simulator's own nftables model) and run by the same host and engine.
- ``table ip aws-cni`` (the AWS VPC CNI's connection marks, v1.23+ on an nf_tables node: amazon-vpc-cni-k8s
  pkg/networkutils/nftables_connmark.go) is read the same way and runs beside kube-proxy's table
  (``hairpin.netfilter.nft_tables.NftTables``), or alone when kube-proxy runs in iptables mode and an
  ``iptables-save`` is given.
- ``table ip filter|nat|mangle|raw|security`` are iptables-nft's tables (other components, such as the AWS VPC
  CNI, still write iptables rules through iptables-nft): nft prints their xtables matches only as comments, so
  they are read from ``iptables-save`` instead; without that file they are left out with a warning.
- ``table ip6 ...``: IPv6, not traced (said); with ``family`` 6, ``table ip6 kube-proxy`` (kube-proxy's IPv6 table:
  ``ip6 daddr``, ``ip6 saddr``, ``dnat to [A]:P``) is the one read and the ``table ip`` ones are left out instead.  Any other table with rules: refused (its rules would act on the
  packet and hairpin cannot read them); one whose chains are all empty with policy accept is left out, said
  (nft(8): a base chain's policy applies to what its rules do not decide; with no rules, accept lets every
  packet through).
- A table listed twice (two listings pasted together, the later perhaps with other endpoints) is refused at its
  second line: ``nft list ruleset`` lists each table once, and which listing to trust is not in the file.
- A jump loop between chains is refused, as the kernel refuses it at load (nf_tables_check_loops: ELOOP), and so
  are jumps nesting more than 15 chains below a base chain (nft_chain_validate: EMLINK, Too many links).
- ``nft -j list ruleset`` (JSON, libnftables-json(5)) is turned into the text ``nft list ruleset`` prints for
  the statements kube-proxy writes, then read the same way; a rule's "line" is then its position in the
  ``nftables`` array, and an expression outside that set in kube-proxy's table is a one-line error naming the
  position.  Another table's rule that does not convert (iptables-nft's ``{"xt": ...}`` matches and targets) is
  kept as one line that is neither empty nor a comment: iptables-nft's tables are left out as in the text, and
  any other table with rules is refused as a table.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from hairpin.errors import ParseError
from hairpin.netfilter.nft import NftTable, parse
from hairpin.netfilter.nft_tables import Nft, NftTables, tables_of
from hairpin.parsers.chain_depth import NFT_NESTING, Loop, deepest, heights, post_order, shown
from hairpin.reading import long_number, number_error, refusing_long_numbers, too_deep
from hairpin.text import split_lines

__all__ = ["CNI_TABLE", "read_nft", "read_tables"]

_TABLE = re.compile(r"^table\s+(\w+)\s+([\w.-]+)\s*\{")
_IPTABLES_NFT = {"filter", "nat", "mangle", "raw", "security"}
#: the AWS VPC CNI's table (v1.23+ on an nf_tables node: amazon-vpc-cni-k8s pkg/networkutils/nftables_connmark.go
#: ``nftTableName``), IPv4 only (``UpdateHostSNATRules`` writes no connection marks for IPv6)
CNI_TABLE = "aws-cni"


@refusing_long_numbers
def read_nft(text: str, file: str, have_iptables: bool, family: int = 4) -> tuple[Nft | None, str, list[str]]:
    """kube-proxy's table, the form read, and warnings for the tables left out.  No kube-proxy table and an
    iptables-save given: None (an iptables-mode node whose ruleset holds only iptables-nft's tables).  ``family``
    6 reads kube-proxy's IPv6 table (``table ip6 kube-proxy``, which a dual-stack node's kube-proxy writes beside
    ``table ip kube-proxy``) and iptables-nft's ``table ip6`` ones, and leaves the ``table ip`` ones out (said)."""
    entry_of: dict[int, int] | None = None
    if text.lstrip().startswith("{"):
        text, entry_of = _from_json(text, file)
    try:
        table, form, warnings = _read_text(text, file, have_iptables, "ip6" if family == 6 else "ip")
    except ParseError as e:
        if entry_of is None or e.line is None:
            raise
        raise ParseError(f"nft -j entry {entry_of.get(e.line, 0)}: {e.message}", file) from None
    if entry_of is not None:
        for one in tables_of(table):
            for c in one.chains.values():
                c.rules[:] = [dataclasses.replace(r, line=entry_of.get(r.line, 0)) for r in c.rules]
        form = form.replace("nft list ruleset", "nft -j list ruleset")
        warnings = [re.sub(r":(\d+): ", lambda m: f": entry {entry_of.get(int(m.group(1)), 0)}: ", w, count=1)
                    for w in warnings]  # fmt: skip
    return table, form, warnings


def _blocks(lines: list[str], file: str) -> list[tuple[str, str, int, int]]:
    """Each ``table FAMILY NAME { ... }`` of an ``nft list ruleset`` text: family, name, first and last line
    (1-based); blank and comment lines between tables are skipped, anything else there is one ParseError."""
    blocks: list[tuple[str, str, int, int]] = []
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
    return blocks


def _read_text(text: str, file: str, have_iptables: bool, ours: str = "ip") -> tuple[Nft | None, str,
                                                                                     list[str]]:  # fmt: skip
    lines = split_lines(text)
    blocks = _blocks(lines, file)
    found: NftTable | None = None
    cni_table: NftTable | None = None  # the AWS VPC CNI's connection marks (v1.23 nftConnmark)
    warnings: list[str] = []
    theirs: list[str] = []  # iptables-nft's tables
    at: dict[tuple[str, str], int] = {}
    for family, name, first, last in blocks:
        if at.setdefault((family, name), first) != first:
            raise ParseError(f"table {family} {name} again (first at line {at[(family, name)]}): nft list ruleset "
                             "lists each table once (two listings pasted together?)", file, first)  # fmt: skip
        where = f"{file}:{first}"
        if family in ("ip", "ip6") and family != ours:
            warnings.append(f"{where}: table {family} {name}: {'IPv6' if family == 'ip6' else 'IPv4'}, not traced")
            continue
        if family == ours and name in _IPTABLES_NFT:
            theirs.append(name)
            if not have_iptables:
                save = "ip6tables-save (ip6tables-nft-save)" if ours == "ip6" else "iptables-save (iptables-nft-save)"
                warnings.append(f"{where}: table {ours} {name} is iptables-nft's: its rules are left out; give the "
                                f"node's {save} too to trace them")  # fmt: skip
            continue
        if (family, name) not in ((ours, "kube-proxy"), ("ip", CNI_TABLE)) and _inert(lines[first : last - 1]):
            warnings.append(f"{where}: table {family} {name}: no rules (its chains are empty, their policies accept): "
                            "it cannot act on a packet")  # fmt: skip
            continue
        if (family, name) not in ((ours, "kube-proxy"), ("ip", CNI_TABLE)):
            cni = f", the AWS VPC CNI's table ip {CNI_TABLE}" if ours == "ip" else ""
            raise ParseError(f"table {family} {name}: not modelled (hairpin reads kube-proxy's table {ours} kube-proxy"
                             f"{cni} and iptables-nft's tables through iptables-save)", file, first)  # fmt: skip
        body = "\n" * (first - 1) + "\n".join(lines[first - 1 : last])
        if name == CNI_TABLE:
            cni_table = parse(body, file)
            _check_loops(cni_table, file)
            continue
        found = parse(body, file)
    if cni_table is not None and found is not None:
        _check_loops(found, file)
        both = f"nft list ruleset (table {ours} kube-proxy, table ip {CNI_TABLE})"
        return NftTables([found, cni_table]), both, warnings
    if found is None:
        if have_iptables and cni_table is not None:
            return cni_table, (f"nft list ruleset (table ip {CNI_TABLE}; no table {ours} kube-proxy: iptables mode, "
                               "rules from iptables-save)"), warnings  # fmt: skip
        if have_iptables:
            return None, f"nft list ruleset (no table {ours} kube-proxy: iptables mode, rules from iptables-save)", \
                warnings
        if theirs:
            raise ParseError(f"no table {ours} kube-proxy (kube-proxy's nftables mode); its tables {ours} "
                             f"{', '.join(theirs)} are iptables-nft's (kube-proxy in iptables mode): give the node's "
                             "iptables-save with --iptables-save instead", file, 1)  # fmt: skip
        raise ParseError(f"no table {ours} kube-proxy (kube-proxy's nftables mode)", file, 1)
    _check_loops(found, file)
    return found, f"nft list ruleset (table {ours} kube-proxy)", warnings


def read_tables(text: str, file: str) -> Nft:
    """The tables of an ``nft list ruleset`` text hairpin wrote itself (``hairpin.kube.node_nft``): one, or
    several on the same hooks."""
    lines = split_lines(text)
    tables = [parse("\n" * (first - 1) + "\n".join(lines[first - 1 : last]), file)
              for _, _, first, last in _blocks(lines, file)]  # fmt: skip
    if not tables:
        raise ParseError("no table", file, 1)
    return tables[0] if len(tables) == 1 else NftTables(tables)


_EMPTY_CHAIN = re.compile(
    r"chain\s+[\w.-]+\s*\{|\}|type\s+\w+\s+hook\s+\w+\s+priority\s+[\w+-]+\s*;(\s*policy\s+accept\s*;)?|#.*|"
)


def _inert(body: list[str]) -> bool:
    """A table's lines (between its first and last) are chains without rules whose policies are accept (the
    empty ``table inet filter`` of a distribution's default nftables.conf): it cannot act on a packet."""
    return all(_EMPTY_CHAIN.fullmatch(line.strip()) for line in body)


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
    try:
        order = post_order(table.chains, edges)
    except Loop as e:
        cycle: list[str] = e.cycle
        raise ParseError(f"jump loop: chain {cycle[-2]} jumps back to {cycle[-1]} ({shown(cycle)}); nft refuses it "
                         "(ELOOP)", file, e.jump) from None  # fmt: skip
    height = heights(order, edges)
    for c in table.chains.values():
        if c.hook is not None and height.get(c.name, 0) > NFT_NESTING:
            deep, line = deepest(c.name, edges, height, NFT_NESTING)
            raise ParseError(f"jumps nest more than {NFT_NESTING} chains deep below base chain {c.name} ({shown(deep)}); "
                             "nft refuses it (Too many links)", file, line)  # fmt: skip


# ---------------------------------------------------------------------------------------------- nft -j


def _from_json(text: str, file: str) -> tuple[str, dict[int, int]]:
    """``nft -j list ruleset`` as the text ``nft list ruleset`` prints, and text line -> entry position."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ParseError(too_deep("JSON (nft -j list ruleset)"), file) from None
    except ValueError as e:
        if long_number(e):
            raise number_error(text, file, "JSON (nft -j list ruleset)") from None
        if isinstance(e, json.JSONDecodeError):  # the line it stopped at, as every text error names it
            raise ParseError(f"not valid JSON (nft -j list ruleset): {e.msg} (column {e.colno})", file, e.lineno) from None
        raise ParseError(f"not valid JSON (nft -j list ruleset): {e}", file) from None
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ParseError("expected {\"nftables\": [...]} (nft -j list ruleset)", file)
    tables: dict[tuple[str, str], list[tuple[str, int]]] = {}  # (family, name) -> [(text line, entry)]
    chains: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    table_at: dict[tuple[str, str], int] = {}  # each table's own entry
    for pos, item in enumerate(items, 1):
        if not isinstance(item, dict) or len(item) != 1:
            raise ParseError(f"nft -j entry {pos}: expected one object", file)
        ((kind, obj),) = item.items()
        if kind == "metainfo":
            continue
        if not isinstance(obj, dict):
            raise ParseError(f"nft -j entry {pos}: {kind} is not an object", file)
        key = (str(obj.get("family", "")), str(obj.get("table", obj.get("name", ""))))
        try:
            if kind == "table":
                if key in table_at:
                    raise ParseError(f"nft -j entry {pos}: table {key[0]} {key[1]} again (entry {table_at[key]}): "
                                     "nft -j list ruleset lists each table once (two listings pasted together?)",
                                     file)  # fmt: skip
                tables.setdefault(key, [])
                table_at.setdefault(key, pos)
            elif kind == "chain":
                head = [(f"\tchain {obj['name']} {{", pos)]
                if "hook" in obj:
                    head.append((f"\t\ttype {obj['type']} hook {obj['hook']} priority {obj['prio']}; "
                                 f"policy {obj.get('policy', 'accept')};", pos))  # fmt: skip
                chains[(*key, str(obj["name"]))] = head
            elif kind in ("map", "set"):
                tables.setdefault(key, []).extend(_map_lines(obj, pos))
            elif kind == "rule":
                expr = obj["expr"]
                try:
                    stmt = " ".join(_stmt(e) for e in expr)
                except (KeyError, TypeError, ValueError):
                    if key[1] == "kube-proxy":
                        raise
                    # another table's rule (iptables-nft's xt matches): only kube-proxy's table is read from
                    # JSON; the text reader leaves iptables-nft's tables out and refuses any other with rules,
                    # so the rule stays one line that is neither empty nor a comment
                    stmt = "unconverted rule"
                if obj.get("comment"):
                    stmt += f' comment "{obj["comment"]}"'
                ckey = (*key, str(obj["chain"]))
                if ckey not in chains:
                    raise ParseError(f"nft -j entry {pos}: rule for chain {obj['chain']}, which no chain entry "
                                     "before it declares", file)  # fmt: skip
                chains[ckey].append((f"\t\t{stmt}", pos))
            # other kinds (flowtable, counter, quota, ct helper...) hold no rule the packet passes
        except (KeyError, TypeError, ValueError) as e:
            raise ParseError(f"nft -j entry {pos}: {kind} not modelled ({e})", file) from None
    out: list[str] = []
    entry_of: dict[int, int] = {}

    def emit(line: str, pos: int) -> None:
        out.append(line)
        entry_of[len(out)] = pos

    for (family, name), body in tables.items():
        emit(f"table {family} {name} {{", table_at.get((family, name), 0))
        for line, pos in body:
            emit(line, pos)
        for (cf, ct, _), lines in chains.items():
            if (cf, ct) == (family, name):
                for line, pos in lines:
                    emit(line, pos)
                emit("\t}", 0)
        emit("}", 0)
    return "\n".join(out) + "\n", entry_of


def _map_lines(obj: dict[str, Any], pos: int) -> list[tuple[str, int]]:
    typ = obj["type"]
    key = " . ".join(typ) if isinstance(typ, list) else str(typ)
    lines = [(f"\tmap {obj['name']} {{", pos), (f"\t\ttype {key} : {obj.get('map', 'verdict')}", pos)]
    elems = obj.get("elem", [])
    if elems:
        parts = [f"{_value(k)} : {_stmt(v)}" for k, v in elems]
        lines.append((f"\t\telements = {{ {', '.join(parts)} }}", pos))
    lines.append(("\t}", pos))
    return lines


def _value(v: Any) -> str:
    if isinstance(v, dict) and "concat" in v:
        return " . ".join(_value(x) for x in v["concat"])
    if isinstance(v, dict) and "prefix" in v:
        return f"{v['prefix']['addr']}/{v['prefix']['len']}"
    if isinstance(v, dict) and "set" in v:
        return "{ " + ", ".join(_value(x) for x in v["set"]) + " }"
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        return str(v)
    raise ValueError(f"value {json.dumps(v)[:60]}")


def _expr(e: Any) -> str:
    """A match's left side as nft prints it."""
    if isinstance(e, dict):
        if "payload" in e:
            return f"{e['payload']['protocol']} {e['payload']['field']}"
        if "meta" in e:
            return f"meta {e['meta']['key']}"
        if "ct" in e:
            return f"ct {e['ct']['key']}"
        if "fib" in e:
            return f"fib {' . '.join(e['fib']['flags'])} {e['fib']['result']}"
        if "concat" in e:
            return " . ".join(_expr(x) for x in e["concat"])
        if "numgen" in e:
            return f"numgen {e['numgen']['mode']} mod {e['numgen']['mod']}"
        if "&" in e:
            a, b = e["&"]
            return f"{_expr(a)} & {_hex(b)}"
    raise ValueError(f"expression {json.dumps(e)[:60]}")


def _hex(v: Any) -> str:
    return f"0x{int(v):08x}" if isinstance(v, int) else str(v)


def _stmt(e: Any) -> str:
    if not isinstance(e, dict) or len(e) != 1:
        raise ValueError(f"statement {json.dumps(e)[:60]}")
    ((k0, v),) = e.items()
    k = str(k0)
    if k == "match":
        left, right, op = v["left"], v["right"], v.get("op", "==")
        if isinstance(left, dict) and left.get("meta", {}).get("key") == "iifname" and isinstance(right, str):
            return f'iifname {"" if op == "==" else op + " "}"{right}"'  # quoted, as nft prints it (the CNI's table)
        masked = isinstance(left, dict) and "&" in left
        rtext = _hex(right) if masked else _value(right)
        if masked:
            return f"{_expr(left)} {op} {rtext}"
        return f"{_expr(left)} {'' if op in ('==', 'in') else op + ' '}{rtext}"
    if k in ("jump", "goto"):
        return f"{k} {v['target']}"
    if k in ("accept", "drop", "return", "continue"):
        return k
    if k == "reject":
        return "reject"
    if k == "vmap":
        data = v["data"]
        if isinstance(data, str):
            return f"{_expr(v['key'])} vmap {data}"
        elems = ", ".join(f"{_value(a)} : {_stmt(b)}" for a, b in data["set"])
        return f"{_expr(v['key'])} vmap {{ {elems} }}"
    if k == "mangle":
        value = v["value"]
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("|", "^", "&"):
            ((op, (a, b)),) = value.items()
            return f"{_expr(v['key'])} set {_expr(a)} {op} {_hex(b)}"
        return f"{_expr(v['key'])} set {_value(value)}"
    if k == "dnat":  # an IPv6 address with a port is bracketed, as nft prints it (RFC 3986)
        addr = f"[{v['addr']}]" if ":" in str(v["addr"]) and "port" in v else v["addr"]
        return f"dnat to {addr}" + (f":{v['port']}" if "port" in v else "")
    if k == "masquerade":
        flags = v.get("flags") if isinstance(v, dict) else None
        return "masquerade" + (f" {flags if isinstance(flags, str) else ' '.join(flags)}" if flags else "")
    if k == "counter":
        return ""
    raise ValueError(f"statement {k}")
