"""The disagreements the kernel differential (``tests/kernel_diff.py``) found, each as an exact case on the lab
node's own dumps (Linux 6.18.44, iptables 1.8.9 nf_tables, 2026-12-02); ``tests/test_trace_kernel_lab.py`` runs
the same cases against the kernel as root.

- a rule without a target that matches is counted by the kernel (ipt_do_table's ADD_COUNTER runs before any
  target) and the walk goes on: hairpin now lists it ("no target: counted");
- before conntrack has seen the packet (the raw table) there is no entry: xt_conntrack/xt_state read the state as
  INVALID (not UNTRACKED); without an entry ``-m connmark`` never matches, negated or not (xt_connmark.c
  ``connmark_mt``), ``-m conntrack``'s other options match only beside a ``--ctstate`` (``conntrack_mt``), and
  ``CONNMARK`` does nothing (``connmark_tg_shift``);
- a DROP in raw OUTPUT, mangle OUTPUT or mangle POSTROUTING drops the packet;
- OUTPUT and POSTROUTING run with no input device (``ip_local_out``, ``ip_output``): ``-i`` in a user chain
  they reach compares an empty name, even for a forwarded packet.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hairpin import trace as tr

ROUTES = """default via 10.1.1.2 dev eth1
10.1.0.0/24 dev eth0 proto kernel scope link src 10.1.0.2
10.1.1.0/24 dev eth1 proto kernel scope link src 10.1.1.1
10.6.0.0/24 via 10.1.0.1 dev eth0
local 10.1.0.2 dev eth0 table local proto kernel scope host src 10.1.0.2
broadcast 10.1.0.255 dev eth0 table local proto kernel scope link src 10.1.0.2
local 10.1.1.1 dev eth1 table local proto kernel scope host src 10.1.1.1
broadcast 10.1.1.255 dev eth1 table local proto kernel scope link src 10.1.1.1
local 10.5.0.1 dev eth1 table local proto kernel scope host src 10.5.0.1
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1
broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1
"""
ADDRS = """1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 10.1.0.2/24 scope global eth0\\       valid_lft forever preferred_lft forever
3: eth1    inet 10.1.1.1/24 scope global eth1\\       valid_lft forever preferred_lft forever
3: eth1    inet 10.5.0.1/32 scope global eth1\\       valid_lft forever preferred_lft forever
"""

#: (name, rules, packet, the rules matched as (table, chain, line, effect) over every leg, each leg's verdict)
CASES: list[tuple[str, str, str, list[tuple[str, str, int, str]], list[str]]] = [
    ("a rule without a target is counted and the walk goes on",
     "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -s 10.0.0.0/8\n-A PREROUTING -p udp -j ACCEPT\nCOMMIT\n",
     "udp 10.1.0.1:40000 > 10.7.0.9:53 in eth0",
     [("raw", "PREROUTING", 3, "no target: counted"), ("raw", "PREROUTING", 4, "ACCEPT")],
     ["forwarded out eth1 as udp 10.1.0.1:40000 > 10.7.0.9:53 - (table main: default via 10.1.1.2 dev eth1)"]),
    ("the raw table sees no conntrack entry: INVALID, not UNTRACKED",
     "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m conntrack --ctstate UNTRACKED -j DROP\n"
     "-A PREROUTING -m state --state INVALID\n-A PREROUTING -m conntrack --ctstate INVALID --ctdir REPLY -j DROP\n"
     "COMMIT\n",
     "udp 10.1.0.1:40000 > 10.7.0.9:53 in eth0",
     [("raw", "PREROUTING", 4, "no target: counted"), ("raw", "PREROUTING", 5, "DROP")],
     ["dropped in raw PREROUTING"]),
    ("without an entry no connmark or entry option matches, negated or not",
     "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m connmark ! --mark 0x1 -j DROP\n"
     "-A PREROUTING -m conntrack ! --ctorigdst 10.0.0.0/8 -j DROP\n-A PREROUTING -m conntrack ! --ctorigdstport 80 -j DROP\n"
     "COMMIT\n",
     "udp 10.1.0.1:40000 > 10.7.0.9:53 in eth0",
     [],
     ["forwarded out eth1 as udp 10.1.0.1:40000 > 10.7.0.9:53 - (table main: default via 10.1.1.2 dev eth1)"]),
    ("CONNMARK without an entry leaves the packet's mark alone",
     "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j MARK --set-xmark 0x10/0xffffffff\n"
     "-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff\n"
     "-A PREROUTING -m mark --mark 0x10 -j DROP\nCOMMIT\n",
     "udp 10.1.0.1:40000 > 10.7.0.9:53 in eth0",
     [("raw", "PREROUTING", 3, "mark=0x10"),
      ("raw", "PREROUTING", 4, "no conntrack entry (INVALID): CONNMARK does nothing"), ("raw", "PREROUTING", 5, "DROP")],
     ["dropped in raw PREROUTING"]),
    ("an INVALID packet (an RST no entry knows) has no entry either",
     "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m connmark --mark 0x0 -j DROP\n"
     "-A PREROUTING -m conntrack --ctstate INVALID -j ACCEPT\nCOMMIT\n",
     "tcp 10.1.0.1:40000 > 10.7.0.9:80 rst in eth0",
     [("mangle", "PREROUTING", 4, "ACCEPT")],
     ["forwarded out eth1 as tcp 10.1.0.1:40000 > 10.7.0.9:80 RST (table main: default via 10.1.1.2 dev eth1)"]),
    ("a DROP in mangle POSTROUTING drops a forwarded packet",
     "*mangle\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth1 -j DROP\nCOMMIT\n",
     "udp 10.1.0.1:40000 > 10.7.0.9:53 in eth0",
     [("mangle", "POSTROUTING", 3, "DROP")],
     ["dropped in mangle POSTROUTING"]),
    ("a DROP in mangle OUTPUT drops the node's SYN-ACK",
     "*mangle\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK -j DROP\nCOMMIT\n",
     "tcp 10.1.0.1:40000 > 10.1.0.2:80 syn in eth0",
     [("mangle", "OUTPUT", 3, "DROP")],
     ["delivered locally as tcp 10.1.0.1:40000 > 10.1.0.2:80 SYN", "dropped in mangle OUTPUT"]),
    ("a DROP in raw OUTPUT drops the node's SYN-ACK",
     "*raw\n:OUTPUT DROP [0:0]\nCOMMIT\n",
     "tcp 10.1.0.1:40000 > 10.1.0.2:80 syn in eth0",
     [],
     ["delivered locally as tcp 10.1.0.1:40000 > 10.1.0.2:80 SYN", "dropped in raw OUTPUT"]),
    ("POSTROUTING has no input device: -i in a chain it reaches compares an empty name",
     "*mangle\n:POSTROUTING ACCEPT [0:0]\n:U1 - [0:0]\n-A POSTROUTING -j U1\n-A U1 -i eth0 -j DROP\n"
     "-A U1 ! -i eth+ -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n",
     "udp 10.1.0.1:40000 > 10.7.0.9:53 in eth0",
     [("mangle", "POSTROUTING", 4, "jump U1"), ("mangle", "U1", 6, "mark=0x1")],
     ["forwarded out eth1 as udp 10.1.0.1:40000 > 10.7.0.9:53 - (table main: default via 10.1.1.2 dev eth1)"]),
]  # fmt: skip


def node(tmp_path: Path, rules: str) -> tr.Node:
    (tmp_path / "iptables-save").write_text(rules)
    (tmp_path / "ip-route").write_text(ROUTES)
    (tmp_path / "ip-addr").write_text(ADDRS)
    n = tr.Node.load(tmp_path / "iptables-save", tmp_path / "ip-route", None, tmp_path / "ip-addr")
    n.listening = {(proto, port) for proto in ("tcp", "udp") for port in (53, 80, 443, 8080, 9090)}
    return n


@pytest.mark.parametrize(("name", "rules", "packet", "steps", "verdicts"), CASES, ids=[c[0] for c in CASES])
def test_what_the_kernel_did(tmp_path: Path, name: str, rules: str, packet: str,
                             steps: list[tuple[str, str, int, str]], verdicts: list[str]) -> None:  # fmt: skip
    p, iif = tr.parse_packet(packet)
    t = tr.trace(node(tmp_path, rules), p, iif, reply=p.proto == "tcp" and "syn" in packet)
    (o,) = t.outcomes
    assert [(s.table, s.chain, s.line, s.effect) for leg in o.legs for s in leg.steps] == steps
    assert [leg.verdict for leg in o.legs] == verdicts
    assert o.undecided == []
