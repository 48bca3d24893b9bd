"""kube-proxy's nft table beside iptables' nat tables on one kernel (root, network namespaces): what the kernel
does, and hairpin's trace of the dumps of the same namespace.

Measured on Linux 6.18.44 with nftables 1.0.6 and iptables 1.8.9 on 2026-12-02, and checked again on every run:
every nat chain, nf_tables' or iptables', hangs off nf_nat's list for its hook (nf_nat_register_fn), ordered by
priority and, at equal priority, newest first (nf_hook_entries_grow); nf_nat_inet_fn stops at the first chain
that sets up a binding.  So for one datagram sent to 10.9.9.9:80,

- an nft ``table ip kube-proxy`` nat chain at priority -100 on output (as kube-proxy writes its nat-output) DNATs it to 10.0.0.3:80, an
  iptables-nft nat OUTPUT rule to 10.0.0.2:80: the one created last applies its DNAT (its socket receives the
  datagram, its counter counts it) and the other's counter stays at 0, in both creation orders;
- with an iptables-legacy nat OUTPUT rule to 10.0.0.4:80 too, in all six creation orders: the one created last.

hairpin cannot know the creation order from the dumps, so it lists every result, the kernel's among them under
the order that was really used.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import is_root
from netns_probe import one_veth, sh

pytestmark = pytest.mark.skipif(
    not is_root() or any(shutil.which(t) is None for t in ("ip", "nft", "iptables-nft", "iptables-nft-save")),
    reason="needs root, iproute2, nft and iptables-nft",
)

#: where each table DNATs the datagram
TO = {"kube-proxy": "10.0.0.3", "iptables": "10.0.0.2", "nft": "10.0.0.2", "legacy": "10.0.0.4"}
KUBE_PROXY = """table ip kube-proxy {
	chain nat-output {
		type nat hook output priority -100; policy accept;
		ip daddr 10.9.9.9 counter meta l4proto udp dnat to 10.0.0.3:80
	}
}
"""
#: listen on every DNAT target, send one datagram to 10.9.9.9:80, say which socket got it
SEND = """
import select, socket
got = {}
for a in ("10.0.0.2", "10.0.0.3", "10.0.0.4"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a, 80))
    got[s] = a
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.bind(("10.0.0.1", 40000))
c.sendto(b"x", ("10.9.9.9", 80))
ready, _, _ = select.select(list(got), [], [], 2.0)
print(" ".join(sorted(got[s] for s in ready)))
"""
PACKET = "udp 10.0.0.1:40000 > 10.9.9.9:80 out"


@pytest.fixture
def netns() -> Iterator[str]:
    with one_veth("hpw-stacked", ("10.0.0.2", "10.0.0.3", "10.0.0.4")) as name:
        yield name


def create(ns: str, table: str) -> None:
    if table == "kube-proxy":
        sh(ns, "nft", "-f", "-", stdin=KUBE_PROXY)
    else:
        backend = "legacy" if table == "legacy" else "nft"
        sh(ns, f"iptables-{backend}", "-t", "nat", "-A", "OUTPUT", "-d", "10.9.9.9/32", "-p", "udp", "-j", "DNAT",
           "--to-destination", f"{TO[table]}:80")  # fmt: skip


def dump(ns: str, out: Path, legacy: bool) -> list[str]:
    """The namespace's state as hairpin collect names it: hairpin trace's arguments."""
    files = {"iptables-save": ["iptables-nft-save"], "nft-ruleset": ["nft", "list", "ruleset"],
             "ip-route": ["ip", "-4", "route", "show", "table", "all"], "ip-addr": ["ip", "-o", "-4", "addr"]}  # fmt: skip
    if legacy:
        files["iptables-legacy-save"] = ["iptables-legacy-save"]
    for name, argv in files.items():
        (out / name).write_text(sh(ns, *argv))  # the nft listing as nft prints it, counters included
    args = ["--iptables-save", str(out / "iptables-save"), "--nft", str(out / "nft-ruleset"), "--routes",
            str(out / "ip-route"), "--addrs", str(out / "ip-addr")]  # fmt: skip
    return args + (["--iptables-save", str(out / "iptables-legacy-save")] if legacy else [])


def counted(ns: str, legacy: bool) -> dict[str, int]:
    """Packets each table's DNAT rule counted (nft list ruleset, iptables-save -c)."""
    nft = re.search(r"counter packets (\d+) bytes \d+ meta l4proto udp dnat to 10.0.0.3:80", sh(ns, "nft", "list", "ruleset"))
    assert nft is not None
    out = {"kube-proxy": int(nft[1])}
    for backend in ("nft", "legacy") if legacy else ("nft",):
        line = next(ln for ln in sh(ns, f"iptables-{backend}-save", "-c", "-t", "nat").splitlines() if "DNAT" in ln)
        out[backend] = int(line[1:].split(":", 1)[0])
    return out


def trace_json(args: list[str]) -> tuple[int, dict[str, object]]:
    res = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", *args, "--format", "json", PACKET],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert res.stderr == ""
    return res.returncode, json.loads(res.stdout)


def results(doc: dict[str, object]) -> dict[str, str]:
    """Where each result sends the datagram -> the order it assumes."""
    outcomes = doc["outcomes"]
    assert isinstance(outcomes, list)
    return {o["legs"][0]["out"]["packet"].split(" > ")[1].split(":")[0]: o["assumes"] for o in outcomes}


@pytest.mark.parametrize("last", ["kube-proxy", "iptables"])
def test_the_nat_chain_created_last_runs_first_and_its_dnat_wins(netns: str, tmp_path: Path, last: str) -> None:
    first = "iptables" if last == "kube-proxy" else "kube-proxy"
    create(netns, first)
    create(netns, last)
    args = dump(netns, tmp_path, legacy=False)  # before the packet, as a node's dump would be taken
    assert sh(netns, sys.executable, "-c", SEND).strip() == TO[last]
    ran = counted(netns, legacy=False)
    assert ran == {"kube-proxy": 1 if last == "kube-proxy" else 0, "nft": 1 if last == "iptables" else 0}
    code, doc = trace_json(args)
    assert code == 0 and doc["results"] == 2
    assert doc["unknown_orders"] == [{"table": "nat", "hook": "OUTPUT", "between": ["iptables", "kube-proxy"]}]
    assert results(doc) == {
        "10.0.0.2": "iptables nat before kube-proxy nat at OUTPUT",
        "10.0.0.3": "kube-proxy nat before iptables nat at OUTPUT",
    }
    # the kernel's result is listed under the order it really used: the table created last first
    assert results(doc)[TO[last]] == f"{last} nat before {first} nat at OUTPUT"


@pytest.mark.skipif(any(shutil.which(t) is None for t in ("iptables-legacy", "iptables-legacy-save")),
                    reason="needs iptables-legacy")  # fmt: skip
@pytest.mark.parametrize("created", list(itertools.permutations(["kube-proxy", "nft", "legacy"])))
def test_three_nat_tables_the_one_created_last_wins(netns: str, tmp_path: Path, created: tuple[str, ...]) -> None:
    for table in created:
        create(netns, table)
    args = dump(netns, tmp_path, legacy=True)
    last = created[-1]
    assert sh(netns, sys.executable, "-c", SEND).strip() == TO[last]
    assert counted(netns, legacy=True) == {t: 1 if t == last else 0 for t in ("kube-proxy", "nft", "legacy")}
    code, doc = trace_json(args)
    assert code == 0 and doc["results"] == 3
    assert results(doc) == {
        "10.0.0.2": "nft nat first at OUTPUT",
        "10.0.0.3": "kube-proxy nat first at OUTPUT",
        "10.0.0.4": "legacy nat first at OUTPUT",
    }
    assert results(doc)[TO[last]] == f"{last} nat first at OUTPUT"
