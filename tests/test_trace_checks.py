"""Cross-checks before any trace: a rule file iptables-restore or the kernel would refuse, a packet the node
could not see.  Each case is the seed's node1 with one line changed; the error is exact, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hairpin import trace as tr
from hairpin.errors import ParseError
from hairpin.parsers import iptables_check, iptables_save

DATA = Path(__file__).parent / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


LINE_FIREWALL = 73  # -A KUBE-FIREWALL ... -m mark --mark 0x8000/0x8000 -j DROP
CASES = [
    ("-j KUBE-SERVICES\n", "-j KUBE-NOPE\n", 1, 31, "-j KUBE-NOPE: no chain KUBE-NOPE in *nat and no such target"),
    ("-j KUBE-SERVICES\n", "-j FROBNICATE\n", 1, 31, "-j FROBNICATE: no chain FROBNICATE in *nat and no such target"),
    ("--to-destination 192.168.16.142:80", "--to-destination 192.168.16.999:80", 1, 49,
     "bad IP address '192.168.16.999'"),
    ("--dport 31468", "--dport 99999", 1, 39, "invalid port/service '99999' specified"),
    ("--probability 0.33333333349", "--probability 1.7", 1, 52,
     "statistic: bad value for option \"--probability\" '1.7' (must be 0-1)"),
    ("*nat\n", "*natx\n", 1, 13, "unknown table *natx (the kernel has raw, mangle, nat, filter, security)"),
    ("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000", "-A KUBE-MARK-MASQ -j KUBE-MARK-MASQ", 1, 38,
     "jump loop: chain KUBE-MARK-MASQ jumps back to KUBE-MARK-MASQ (KUBE-MARK-MASQ -> KUBE-MARK-MASQ, reached from "
     "nat PREROUTING); the kernel refuses it"),
    ("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000", "-A KUBE-MARK-MASQ -j KUBE-SERVICES", 1, 38,
     "jump loop: chain KUBE-MARK-MASQ jumps back to KUBE-SERVICES (KUBE-SERVICES -> KUBE-SVC-7D7VEXWNCKBQRZ7W -> "
     "KUBE-SEP-2NMLPXPPZMNETRWM -> KUBE-MARK-MASQ -> KUBE-SERVICES, reached from nat PREROUTING); the kernel "
     "refuses it"),
    ("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000", "-A KUBE-MARK-MASQ -j DROP", 1, 38,
     "the nat table is not intended for filtering: -j DROP is refused there"),
    ("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000", "-A KUBE-MARK-MASQ -j MASQUERADE", 1, 38,
     "-j MASQUERADE is not allowed from nat OUTPUT, PREROUTING (only POSTROUTING)"),
    ("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000", "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x1ffffffff", 1,
     38, "bad mark value '0x1ffffffff'"),
    ("-m tcp --dport 31468", "-m tcp --dport 31468:31000", 1, 39, "invalid portrange '31468:31000' (min > max)"),
    ("! -s 127.0.0.0/8", "! -s 127.0.0.0/33", 1, 74, "invalid mask '33' specified"),
    ("-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
     "-m frobnicate --level 3 -j KUBE-SERVICES\n", 1, 31,
     "unknown match -m frobnicate (iptables: Couldn't load match `frobnicate')"),
    ("-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n", "-m \"\" -j KUBE-SERVICES\n", 1, 31,
     "-m \"\": a match module has a name (iptables: Couldn't load match `')"),
    ("-m mark --mark 0x8000/0x8000 -j DROP", "-m mark --mark 0x8000/0x8000 -j REJECT --reject-with tcp-reset", 1,
     LINE_FIREWALL, "REJECT --reject-with tcp-reset needs -p tcp: the kernel refuses it otherwise (ipt_REJECT.c "
     "reject_tg_check: TCP_RESET invalid for non-tcp)"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "count", "line", "message"), CASES)
def test_a_file_iptables_restore_refuses_is_one_line_exit_2(tmp_path: Path, old: str, new: str, count: int,
                                                           line: int, message: str) -> None:  # fmt: skip
    text = (DATA / "iptables-save").read_text()
    assert old in text, old
    bad = tmp_path / "iptables-save"
    bad.write_text(text.replace(old, new, count))
    res = run_cli("--iptables-save", str(bad), "--routes", str(DATA / "ip-route"), SYN)
    assert (res.returncode, res.stdout, res.stderr) == (2, "", f"hairpin: error: {bad}:{line}: {message}\n")


def test_a_loop_no_built_in_chain_reaches_is_loaded_as_the_kernel_does() -> None:
    """The kernel checks loops from the hooks only (mark_source_chains); so does the check."""
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n:LONELY - [0:0]\n-A LONELY -j LONELY\nCOMMIT\n"
    iptables_check.check(iptables_save.parse(text, "f"))
    with pytest.raises(ParseError, match=r"^f:4: jump loop: chain LONELY jumps back to LONELY"):
        iptables_check.check(iptables_save.parse(text.replace("COMMIT", "-A PREROUTING -j LONELY\nCOMMIT"), "f"))


@pytest.mark.parametrize(("packet", "message"), [
    ("tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in ens05",
     "packet tcp 192.168.27.239:49134 > 192.168.2.3:31468 SYN: the node has no interface 'ens05' (its files name: "
     "eni851d8a400b6, enie348bef9edc, eth0, lo)"),
    ("tcp 10.9.9.9:49134 > 192.168.2.3:31468 syn out",
     "packet tcp 10.9.9.9:49134 > 192.168.2.3:31468 SYN: sent by the node ('out') but 10.9.9.9 is not one of its "
     "addresses (local routing table); a packet from a pod enters on the pod's interface: 'in IFACE'"),
])  # fmt: skip
def test_a_packet_the_node_could_not_see_is_one_line_exit_2(packet: str, message: str) -> None:
    res = run_cli("--node", str(DATA), "--reply", packet)
    assert (res.returncode, res.stdout, res.stderr) == (2, "", f"hairpin: error: {message}\n")


def test_a_packet_the_node_sends_from_its_own_address_is_traced() -> None:
    f = tr.Node.find(DATA)
    n = tr.Node.load(f["iptables"], f["routes"], f.get("rules"), f.get("addrs"))
    packet, iif = tr.parse_packet("tcp 192.168.2.3:40000 > 192.168.39.2:80 syn out")
    (o,) = tr.trace(n, packet, iif).outcomes
    assert o.legs[0].oif == "eth0" and str(o.legs[0].out_packet) == "tcp 192.168.2.3:40000 > 192.168.39.2:80 SYN"


@pytest.mark.parametrize(("header", "warned"), [
    ("# Generated by iptables-nft-save v1.8.9 (nf_tables) on Wed Dec  2 06:12:09 2026\n", True),
    ("", True),  # no header: the backend is not known
    ("# Generated by iptables-save v1.8.9 on Wed Dec  2 06:12:09 2026\n", False),  # iptables-legacy-save
])
def test_two_negated_ports_are_warned_about_unless_the_dump_is_legacy(header: str, warned: bool) -> None:
    """iptables-nft 1.8.9 loads '! --sport A ! --dport B' as one compare of the pair (the kernel then matches when
    either port differs; tests/test_trace_kernel_lab.py measures it): the trace says so at the rule's line."""
    text = (f"{header}*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp -m udp ! --sport 50000 ! --dport 1234 "
            "-j MARK --set-xmark 0x1/0x1\n-A PREROUTING -p tcp -m tcp ! --sport 1:2 ! --dport 80 -j ACCEPT\nCOMMIT\n")
    rs = iptables_save.parse(text, "f")
    iptables_check.check(rs)
    line = 4 if header else 3
    assert rs.warnings == ([f"f:{line}: '! --sport 50000 ! --dport 1234': iptables-nft 1.8.9 loads this as one compare "
                            "of the port pair, so on an nf_tables node the kernel matches a packet when either port "
                            "differs; hairpin reads it as written (both differ), as iptables-legacy does"]
                           if warned else [])  # fmt: skip
