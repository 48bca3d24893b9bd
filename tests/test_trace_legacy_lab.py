"""Both iptables backends on one kernel (root, network namespaces): what the kernel does, and hairpin's trace of
the dumps of the same namespace.

Measured on Linux 6.18.44 with iptables 1.8.9 on 2026-12-02, and checked again on every run:

- hooks of equal priority run newest first (net/netfilter/core.c ``nf_hook_entries_grow``): a legacy nat OUTPUT
  DNAT to 10.0.0.2 and an iptables-nft nat OUTPUT DNAT to 10.0.0.3 for the same datagram: the backend whose rule
  was added last (its table or base chain registered last) applies its DNAT, and the other's nat rule counts no
  packet (nf_nat_inet_fn: the first binding ends nf_nat's list); the mangle OUTPUT MARK rules of both, the same;
- an ACCEPT in one backend's filter OUTPUT does not skip the other's DROP: the datagram is dropped (sendto
  fails with EPERM) in both creation orders.

hairpin cannot know the creation order from the dumps, so it must list both results, the kernel's among them
under the order that was really used.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import is_root
from netns_probe import one_veth, sh

pytestmark = pytest.mark.skipif(
    not is_root() or any(shutil.which(t) is None for t in ("ip", "iptables-legacy", "iptables-nft",
                                                           "iptables-legacy-save", "iptables-nft-save")),
    reason="needs root, iproute2, iptables-legacy and iptables-nft",
)  # fmt: skip

SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.0.1", 40000))
try:
    s.sendto(b"x", ("10.9.9.9", 80))
    print("sent")
except OSError as e:
    print("errno", e.errno)
"""
PACKET = "udp 10.0.0.1:40000 > 10.9.9.9:80 out"


@pytest.fixture
def netns() -> Iterator[str]:
    with one_veth("hpw-legacy") as name:
        yield name


def dump(ns: str, out: Path) -> dict[str, Path]:
    """The namespace's state as hairpin collect names it, and the rules' counters per backend."""
    files = {"iptables-save": ["iptables-nft-save"], "iptables-legacy-save": ["iptables-legacy-save"],
             "ip-route": ["ip", "-4", "route", "show", "table", "all"], "ip-addr": ["ip", "-o", "-4", "addr"]}  # fmt: skip
    for name, argv in files.items():
        (out / name).write_text(sh(ns, *argv))
    return {name: out / name for name in files}


def counted(ns: str, save: str) -> list[str]:
    """The rules that counted a packet (iptables-save -c), without their counters."""
    return [ln.split("] ", 1)[1] for ln in sh(ns, save, "-c").splitlines() if ln.startswith("[") and not ln.startswith("[0:")]


def trace_json(files: dict[str, Path]) -> tuple[int, dict[str, object]]:
    import json

    res = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", "--iptables-save", str(files["iptables-save"]),
                          "--iptables-save", str(files["iptables-legacy-save"]), "--routes", str(files["ip-route"]),
                          "--addrs", str(files["ip-addr"]), "--format", "json", PACKET],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert res.stderr == ""
    return res.returncode, json.loads(res.stdout)


@pytest.mark.parametrize("last", ["legacy", "nft"])
def test_the_backend_registered_last_runs_first_and_its_dnat_wins(netns: str, tmp_path: Path, last: str) -> None:
    first = "nft" if last == "legacy" else "legacy"
    to = {first: "10.0.0.2", last: "10.0.0.3"}
    for backend in (first, last):
        ipt = f"iptables-{backend}"
        sh(netns, ipt, "-t", "nat", "-A", "OUTPUT", "-p", "udp", "-d", "10.9.9.9", "-j", "DNAT", "--to-destination", to[backend])
        mark = "1" if backend == first else "2"
        sh(netns, ipt, "-t", "mangle", "-A", "OUTPUT", "-p", "udp", "-m", "mark", "--mark", "0", "-j", "MARK", "--set-mark", mark)
    files = dump(netns, tmp_path)  # before the packet: counters at 0, as a node's dump would be taken
    assert sh(netns, sys.executable, "-c", SEND).strip() == "sent"
    ran = {b: counted(netns, f"iptables-{b}-save") for b in ("legacy", "nft")}
    # the kernel: the last-registered backend's nat and mangle rules acted, the other's counted nothing
    assert ran[last] == ["-A OUTPUT -p udp -m mark --mark 0x0 -j MARK --set-xmark 0x2/0xffffffff",
                         "-A OUTPUT -d 10.9.9.9/32 -p udp -j DNAT --to-destination 10.0.0.3"]  # fmt: skip
    assert ran[first] == []
    # hairpin: both results listed, the kernel's under the order it really used
    code, doc = trace_json(files)
    assert code == 0
    outcomes = doc["outcomes"]
    assert isinstance(outcomes, list) and doc["results"] == 2
    got = {o["legs"][0]["out"]["packet"]: o["assumes"] for o in outcomes}
    assert got == {
        "udp 10.0.0.1:40000 > 10.0.0.3:80 -": f"{last} nat before {first} nat at OUTPUT, either order at mangle OUTPUT",
        "udp 10.0.0.1:40000 > 10.0.0.2:80 -": f"{first} nat before {last} nat at OUTPUT, either order at mangle OUTPUT",
    }


@pytest.mark.parametrize("accept_first", [True, False])
@pytest.mark.parametrize("dropper", ["legacy", "nft"])
def test_a_drop_in_either_backend_drops(netns: str, tmp_path: Path, dropper: str, accept_first: bool) -> None:
    acceptor = "nft" if dropper == "legacy" else "legacy"
    steps = [(acceptor, "ACCEPT"), (dropper, "DROP")]
    for backend, verdict in steps if accept_first else steps[::-1]:
        sh(netns, f"iptables-{backend}", "-A", "OUTPUT", "-p", "udp", "-j", verdict)
    files = dump(netns, tmp_path)
    assert sh(netns, sys.executable, "-c", SEND).strip() == "errno 1"  # EPERM: dropped in OUTPUT
    code, doc = trace_json(files)
    assert code == 0 and "results" not in doc
    outcomes = doc["outcomes"]
    assert isinstance(outcomes, list) and len(outcomes) == 1
    assert outcomes[0]["legs"][0]["verdict"] == "dropped in filter OUTPUT"
    warnings = doc["warnings"]
    assert isinstance(warnings, list) and len(warnings) == 2
    assert warnings[1].startswith("The node's files hold no kube-proxy rules")  # a namespace with no kube-proxy
    assert warnings[0].startswith("iptables-legacy and iptables-nft both hold rules at filter OUTPUT: the kernel runs "
                                  "first the one whose hooks were registered last (nf_hook_entries_grow), which no dump "
                                  "records; every order (2) gives the same outcomes")  # fmt: skip
