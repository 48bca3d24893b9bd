"""Test helpers that apply kube-proxy's own test oracles to hairpin's generated rules.

- ``check_jumps``: the consistency check of kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go
  ``checkIPTablesRuleJumps`` (every ``-j`` names a chain that was created and has rules, every
  created chain is jumped to), run over whole iptables-save dumps: built-in chains, the canary
  chains and the top-level chains that test exempts are not required to be jumped to;
- ``sort_rules``: the reordering of the same file's ``sortIPTablesRules`` (tables by name; chains
  KUBE-NODEPORTS, KUBE-SERVICES, other KUBE-* by name, then the rest by name; the rules of
  KUBE-NODEPORTS and KUBE-SERVICES stably by the Service name in their comment, the nat
  KUBE-SERVICES "must be the last rule" rule last), applied to both sides of a comparison;
- ``netns`` / ``restore_and_save`` / ``nft_load_and_list`` / ``ipset_and_iptables_restore_and_save``:
  load a text with the real tools in a private network namespace and list it back.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

#: Targets that are not chains (iptables extensions kube-proxy, kubelet and the VPC CNI use).
TARGETS = {"ACCEPT", "DROP", "REJECT", "RETURN", "MARK", "CONNMARK", "DNAT", "SNAT", "MASQUERADE", "LOG"}
BUILTIN = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}
#: checkIPTablesRuleJumps: chains that may exist without a jump to them (its list, plus the canary
#: chains of kubelet's and kube-proxy's iptables monitors and kubelet's KUBE-MARK-DROP before 1.28,
#: which kubelet creates whether or not a rule uses it).
TOP_LEVEL = {"KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-FORWARD",
             "KUBE-MARK-MASQ", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL",
             "KUBE-KUBELET-CANARY", "KUBE-PROXY-CANARY", "KUBE-MARK-DROP"}  # fmt: skip


def _tables(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("*"):
            current = out.setdefault(line[1:], [])
        elif current is not None and line and not line.startswith("#") and line != "COMMIT":
            current.append(line)
    return out


def check_jumps(text: str, exempt: frozenset[str] = frozenset()) -> None:
    """Raise AssertionError with kube-proxy's message when the dump fails checkIPTablesRuleJumps.

    ``exempt``: name prefixes of chains allowed to exist unused (a release older than the check)."""
    for table, lines in _tables(text).items():
        created = {m.group(1) for line in lines if (m := re.match(r"^:(\S+)", line))}
        filled = {m.group(1) for line in lines if (m := re.match(r"^-A (\S+)", line))}
        jumped = {m.group(1) for line in lines if (m := re.search(r" -j (\S+)", line))} - TARGETS
        missing = (jumped | filled) - created
        assert not missing, f"some chains in {table} are used but were not created: {sorted(missing)}"
        # the jumps from built-in chains are kube-proxy's EnsureRule jumps to its top-level chains, which
        # the restore data its check reads does not hold; a top-level chain may be empty
        from_user = {m.group(2) for line in lines if (m := re.match(r"^-A (\S+)(?: .*)? -j (\S+)", line))
                     and m.group(1) not in BUILTIN} - TARGETS  # fmt: skip
        empty = from_user - filled - {"KUBE-NODEPORTS"}
        assert not empty, f"some chains in {table} are jumped to but have no rules: {sorted(empty)}"
        extra = {c for c in created - jumped - TOP_LEVEL - BUILTIN if not c.startswith(tuple(exempt))}
        assert not extra, f"some chains in {table} are created but not used: {sorted(extra)}"


def _service_name(rule: str) -> str:
    """orderByCommentServiceName: the comment up to its first space or colon ('' without a comment)."""
    words = shlex.split(rule)
    if "--comment" not in words:
        return ""
    value = words[words.index("--comment") + 1]
    return re.split(r"[ :]", value, maxsplit=1)[0]


def _chain_key(name: str) -> tuple[int, str]:
    if name == "KUBE-NODEPORTS":
        return (0, "")
    if name == "KUBE-SERVICES":
        return (1, "")
    return (2 if name.startswith("KUBE-") else 3, name)


def sort_rules(text: str) -> str:
    """sortIPTablesRules of an iptables-save text; counters are reset to [0:0]."""
    out: list[str] = []
    for table, lines in sorted(_tables(text).items()):
        decl = {ln.split()[0][1:]: ln.split()[1] for ln in lines if ln.startswith(":")}
        rules: dict[str, list[str]] = {c: [] for c in decl}
        for ln in lines:
            if ln.startswith("-A "):
                rules.setdefault(ln.split()[1], []).append(ln)
        for chain in ("KUBE-NODEPORTS", "KUBE-SERVICES"):
            if chain in rules:
                last = [r for r in rules[chain] if "must be the last rule" in r]
                rest = [r for r in rules[chain] if r not in last]
                rules[chain] = sorted(rest, key=_service_name) + last
        order = sorted(decl, key=_chain_key)
        out.append(f"*{table}")
        out += [f":{c} {decl[c]} [0:0]" for c in order]
        for c in order:
            out += rules[c]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def needs_root(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace")
    for tool in ("ip", *tools):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


@contextmanager
def netns(prefix: str = "hp-kpo") -> Iterator[str]:
    """A fresh network namespace (deleted afterwards, whatever happens)."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def restore_and_save(text: str) -> str:
    """``iptables-restore`` of ``text`` into a fresh namespace, then ``iptables-save`` (comments dropped)."""
    needs_root("iptables-restore", "iptables-save")
    with netns() as ns:
        done = subprocess.run(["ip", "netns", "exec", ns, "iptables-restore"], input=text, text=True,
                              capture_output=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        saved = subprocess.run(["ip", "netns", "exec", ns, "iptables-save"], check=True, capture_output=True,
                               text=True).stdout  # fmt: skip
    return "\n".join(line for line in saved.splitlines() if not line.startswith("#")) + "\n"


def nft_load_and_list(text: str, table: str = "ip kube-proxy") -> str:
    """``nft -f`` of ``text`` into a fresh namespace, then ``nft list table``."""
    needs_root("nft")
    with netns() as ns:
        done = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=text, text=True,
                              capture_output=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        listed = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", *table.split()],
                                check=True, capture_output=True, text=True).stdout  # fmt: skip
    return listed


def nft_load_transaction(transaction: str) -> str:
    """A kube-proxy test's expected transaction loaded and listed back (``nft_load_and_list``): its
    declarations (tables, sets, maps, chains) first, since the fake's dumps add rules that name chains added
    further down, which ``nft -f`` refuses; comment lines and blank lines dropped."""
    lines = [x for x in transaction.splitlines() if x and not x.startswith("#")]
    declared = [x for x in lines if x.startswith(("add table", "add set", "add map", "add chain"))]
    return nft_load_and_list("\n".join(declared + [x for x in lines if x not in declared]) + "\n")


def nft_blocks(listing: str) -> list[str]:
    """The listed table's sets, maps and chains sorted by kind and name, as kube-proxy's test helper
    compares transactions without regard to the order objects were added; each block as listed
    (elements in nft's order, rules in chain order)."""
    body = listing.strip().splitlines()[2:-1]  # drop "table ... {", its comment and the closing brace
    blocks, cur = [], []
    for line in body:
        if not line.strip():
            continue
        cur.append(line)
        if line == "\t}":
            blocks.append("\n".join(cur))
            cur = []
    assert not cur
    return sorted(blocks, key=lambda b: b.split("\n")[0].split()[:2])


def ipset_and_iptables_restore_and_save(ipsets: str, iptables: str) -> tuple[str, str]:
    """``ipset restore`` of ``ipsets``, then ``iptables-restore`` of ``iptables`` (its ``-m set`` matches
    need the sets to exist already), in one fresh namespace; then ``ipset save`` and ``iptables-save``
    (iptables-save's comment lines dropped).  ip_set is per network namespace, so the host's sets are
    neither seen nor touched."""
    needs_root("ipset", "iptables-restore", "iptables-save")
    with netns("hp-ipset") as ns:
        done = subprocess.run(["ip", "netns", "exec", ns, "ipset", "restore"], input=ipsets, text=True,
                              capture_output=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        done = subprocess.run(["ip", "netns", "exec", ns, "iptables-restore"], input=iptables, text=True,
                              capture_output=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        sets = subprocess.run(["ip", "netns", "exec", ns, "ipset", "save"], check=True, capture_output=True,
                              text=True).stdout  # fmt: skip
        saved = subprocess.run(["ip", "netns", "exec", ns, "iptables-save"], check=True, capture_output=True,
                               text=True).stdout  # fmt: skip
        # the sets die with the namespace only once nothing references them: flush the rules first
        subprocess.run(["ip", "netns", "exec", ns, "iptables", "-t", "nat", "-F"], check=False)
        subprocess.run(["ip", "netns", "exec", ns, "iptables", "-F"], check=False)
        subprocess.run(["ip", "netns", "exec", ns, "ipset", "destroy"], check=False)
    return sets, "\n".join(line for line in saved.splitlines() if not line.startswith("#")) + "\n"
