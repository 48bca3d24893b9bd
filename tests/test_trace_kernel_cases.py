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
- OUTPUT runs with no input device (``__ip_local_out``): ``-i`` in a user chain it reaches compares an empty
  name; POSTROUTING keeps a forwarded packet's (``ip_output``: ``indev = skb->dev``);
- every OUTPUT table sees the output device routed before the hook (one ``nf_hook_state``): a reroute after
  mangle's mark or nat's DNAT changes what POSTROUTING sees, not filter OUTPUT's ``-o``;
- a packet the node sends to itself crosses POSTROUTING out of ``lo`` (nat POSTROUTING may SNAT it; nat INPUT is
  then not asked) and comes back through PREROUTING in on ``lo`` with its entry (state NEW);
- a NAT source port the packet's own port cannot be kept for is drawn at random: hairpin says so;
- a subnet's broadcast address (a ``broadcast`` route in the local table) is BROADCAST to ``-m addrtype`` and a
  packet to it is delivered locally (ip_route_input_slow: ``brd_input``), not forwarded;
- a loopback destination or source arriving on another device is a martian (``route_localnet`` 0), and a local
  address in 127.0.0.0/8 is LOCAL only on ``lo`` with ``--limit-iface-*``;
- MASQUERADE picks an address of scope universe (``inet_select_addr``): out of ``lo``, another device's;
- a DNAT or SNAT that leaves the tuple as it was sets no NAT status (nf_nat_setup_info): ``--ctstate DNAT`` does
  not match after a DNAT to the packet's own destination;
- TCP answers nothing to a broadcast address (``tcp_v4_conn_request``, ``tcp_v4_send_reset``);
- a packet the node sends is re-routed when mangle OUTPUT changes its mark (``ipt_mangle_out``) or nat OUTPUT its
  destination, not for a mark raw OUTPUT set;
- a FIN (FIN/ACK) no entry knows is INVALID, like a SYN/ACK or an RST: only a SYN or a bare ACK opens an entry;
- a packet the node sends is PACKET_HOST to ``-m pkttype`` ("unicast"), a multicast datagram too (xt_pkttype.c
  reads ``skb->pkt_type``, which only reception sets);
- REDIRECT sends a packet the node sends itself to 127.0.0.1 (nf_nat_redirect_ipv4: ``NF_INET_LOCAL_OUT``), not
  to one of its other addresses; an arriving one to the input device's first address.
- a mark nat OUTPUT sets re-routes nothing: nf_nat_ipv4_local_fn (nf_nat_proto.c) calls ip_route_me_harder only
  when the destination address changed, so the route mangle OUTPUT's mark chose stands (hairpin re-routed for
  any mark change up to the end of nat OUTPUT; found by the long run, seed 770651 in both families);
- ``CONNMARK --restore-mark`` sets the mark to ``(mark & ~nfmask) ^ (ctmark & ctmask)`` (xt_connmark.c
  ``connmark_tg_shift``): the connection's bits come in through ``--ctmask``, whatever ``--nfmask`` clears (the
  trace did so; the warning about fwmark rules no rule can take had the two masks swapped).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hairpin import trace as tr
from hairpin.parsers.sockets import everywhere

ROUTES = """default via 10.1.0.1 dev eth0 table 100
default via 10.1.1.2 dev eth1
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
RULES = "0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1/0x1 lookup 100\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n"
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
    ("OUTPUT has no input device: -i in a chain it reaches compares an empty name",
     "*mangle\n:OUTPUT ACCEPT [0:0]\n:U1 - [0:0]\n-A OUTPUT -j U1\n-A U1 -i eth0 -j DROP\n"
     "-A U1 ! -i eth+ -j MARK --set-xmark 0x2/0xffffffff\nCOMMIT\n",
     "tcp 10.1.0.1:40000 > 10.1.0.2:80 syn in eth0",
     [("mangle", "OUTPUT", 4, "jump U1"), ("mangle", "U1", 6, "mark=0x2")],
     ["delivered locally as tcp 10.1.0.1:40000 > 10.1.0.2:80 SYN",
      "forwarded out eth0 as tcp 10.1.0.2:80 > 10.1.0.1:40000 SYN,ACK (table main: 10.1.0.0/24 dev eth0 scope link "
      "src 10.1.0.2)"]),
    ("POSTROUTING of a forwarded packet keeps its input device",
     "*mangle\n:POSTROUTING ACCEPT [0:0]\n:U1 - [0:0]\n-A POSTROUTING -j U1\n-A U1 -i eth0 -j DROP\nCOMMIT\n",
     "udp 10.1.0.1:40000 > 10.7.0.9:53 in eth0",
     [("mangle", "POSTROUTING", 4, "jump U1"), ("mangle", "U1", 5, "DROP")],
     ["dropped in mangle POSTROUTING"]),
    ("filter OUTPUT sees the device routed before mangle's mark rerouted the packet",
     "*mangle\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j MARK --set-xmark 0x1/0xffffffff\nCOMMIT\n*filter\n:OUTPUT ACCEPT [0:0]\n"
     "-A OUTPUT -o eth1\n-A OUTPUT -o eth0\nCOMMIT\n",
     "tcp 10.9.0.1:40000 > 10.1.0.2:80 syn in eth0",
     [("mangle", "OUTPUT", 3, "mark=0x1"), ("filter", "OUTPUT", 7, "no target: counted")],
     ["delivered locally as tcp 10.9.0.1:40000 > 10.1.0.2:80 SYN",
      "forwarded out eth0 as tcp 10.1.0.2:80 > 10.9.0.1:40000 SYN,ACK (rule 100: from all fwmark 0x1/0x1 lookup 100; "
      "table 100: default via 10.1.0.1 dev eth0)"]),
    ("a datagram to the node's own address crosses POSTROUTING out of lo and PREROUTING in on lo",
     "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -i lo -m conntrack --ctstate NEW\n"
     "-A OUTPUT -o lo\nCOMMIT\n*mangle\n:INPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A INPUT -i lo\n"
     "-A POSTROUTING -o lo\nCOMMIT\n*nat\n:INPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
     "-A INPUT -j SNAT --to-source 10.8.0.1\n-A POSTROUTING -o lo -j SNAT --to-source 10.1.1.1\nCOMMIT\n",
     "udp 10.1.0.2:40000 > 10.5.0.1:53 out",
     [("raw", "OUTPUT", 5, "no target: counted"), ("mangle", "POSTROUTING", 11, "no target: counted"),
      ("nat", "POSTROUTING", 17, "SNAT"), ("raw", "PREROUTING", 4, "no target: counted"),
      ("mangle", "INPUT", 10, "no target: counted")],
     ["delivered locally as udp 10.1.1.1:40000 > 10.5.0.1:53 -"]),
    ("a subnet's broadcast address is BROADCAST to addrtype and delivered locally",
     "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m addrtype --dst-type BROADCAST\n"
     "-A PREROUTING -m addrtype --dst-type LOCAL\n-A PREROUTING -m pkttype --pkt-type unicast\nCOMMIT\n",
     "udp 10.1.0.1:40000 > 10.1.0.255:53 in eth0",
     [("mangle", "PREROUTING", 3, "no target: counted"), ("mangle", "PREROUTING", 5, "no target: counted")],
     ["delivered locally as udp 10.1.0.1:40000 > 10.1.0.255:53 -"]),
    ("a loopback destination from outside lo is a martian",
     "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL --limit-iface-in\n"
     "-A PREROUTING -m addrtype --dst-type LOCAL\nCOMMIT\n",
     "udp 10.1.0.1:40000 > 127.0.0.1:53 in eth0",
     [("raw", "PREROUTING", 4, "no target: counted")],
     ["dropped in routing (martian destination)"]),
    ("a loopback source from outside lo is a martian",
     "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING\nCOMMIT\n*mangle\n:INPUT ACCEPT [0:0]\n-A INPUT\nCOMMIT\n",
     "udp 127.0.0.5:40000 > 10.1.0.2:53 in eth0",
     [("raw", "PREROUTING", 3, "no target: counted")],
     ["dropped in routing (martian source)"]),
    ("MASQUERADE out of lo takes another device's address (scope universe)",
     "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o lo -j MASQUERADE\nCOMMIT\n",
     "udp 10.5.0.1:40000 > 10.1.0.2:53 out",
     [("nat", "POSTROUTING", 3, "MASQUERADE")],
     ["delivered locally as udp 10.1.0.2:40000 > 10.1.0.2:53 -"]),
    ("a DNAT to the packet's own destination changes no tuple: conntrack's state is not DNAT",
     "*mangle\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate DNAT\n-A INPUT -m conntrack ! --ctstate DNAT\n"
     "COMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DNAT --to-destination 10.5.0.1\nCOMMIT\n",
     "udp 10.1.0.1:50000 > 10.5.0.1:443 in eth1",
     [("nat", "PREROUTING", 8, "DNAT"), ("mangle", "INPUT", 4, "no target: counted")],
     ["delivered locally as udp 10.1.0.1:50000 > 10.5.0.1:443 -"]),
    ("TCP answers no SYN to a broadcast address",
     "*raw\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT\nCOMMIT\n",
     "tcp 10.9.0.1:40000 > 10.1.0.255:80 syn in eth0",
     [],
     ["delivered locally as tcp 10.9.0.1:40000 > 10.1.0.255:80 SYN",
      "TCP answers nothing to 10.1.0.255, a broadcast address (tcp_v4_conn_request)"]),
    ("a mark set in raw OUTPUT re-routes nothing: only mangle OUTPUT's changes do",
     "*raw\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j MARK --set-xmark 0x1/0x1\nCOMMIT\n",
     "tcp 10.9.0.1:53 > 10.1.0.2:80 syn in eth0",
     [("raw", "OUTPUT", 3, "mark=0x1")],
     ["delivered locally as tcp 10.9.0.1:53 > 10.1.0.2:80 SYN",
      "forwarded out eth1 as tcp 10.1.0.2:80 > 10.9.0.1:53 SYN,ACK (table main: default via 10.1.1.2 dev eth1)"]),
    ("a FIN no entry knows is INVALID: the nat table never sees it",
     "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j DNAT --to-destination 10.6.0.5\nCOMMIT\n"
     "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m state --state INVALID\nCOMMIT\n",
     "tcp 10.1.0.1:1234 > 10.7.0.9:443 fin,ack in eth0",
     [("mangle", "PREROUTING", 7, "no target: counted")],
     ["forwarded out eth1 as tcp 10.1.0.1:1234 > 10.7.0.9:443 FIN,ACK (table main: default via 10.1.1.2 dev eth1)"]),
    ("REDIRECT in OUTPUT goes to 127.0.0.1",
     "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p udp -j REDIRECT --to-ports 80\nCOMMIT\n",
     "udp 10.1.0.2:1234 > 10.7.0.9:53 out",
     [("nat", "OUTPUT", 3, "REDIRECT")],
     ["delivered locally as udp 10.1.0.2:1234 > 127.0.0.1:80 -"]),
    ("REDIRECT in PREROUTING goes to the input device's first address",
     "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp -j REDIRECT --to-ports 80\nCOMMIT\n",
     "udp 10.1.0.1:1234 > 10.7.0.9:53 in eth1",
     [("nat", "PREROUTING", 3, "REDIRECT")],
     ["delivered locally as udp 10.1.0.1:1234 > 10.1.1.1:80 -"]),
    ("a multicast datagram the node sends is unicast to -m pkttype",
     "*mangle\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A OUTPUT -m pkttype --pkt-type multicast\n"
     "-A OUTPUT -m pkttype --pkt-type unicast\n-A POSTROUTING -m pkttype --pkt-type multicast\n"
     "-A POSTROUTING -m pkttype --pkt-type unicast\nCOMMIT\n",
     "udp 10.1.1.1:1234 > 224.0.0.9:53 out",
     [("mangle", "OUTPUT", 5, "no target: counted"), ("mangle", "POSTROUTING", 7, "no target: counted")],
     ["forwarded out eth1 as udp 10.1.1.1:1234 > 224.0.0.9:53 - (table main: default via 10.1.1.2 dev eth1)"]),
    ("a mark nat OUTPUT sets re-routes nothing by itself (conntrack on: nat is walked only with an entry)",
     "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j MARK --set-xmark 0x1/0x1\nCOMMIT\n"
     "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m conntrack --ctstate NEW\nCOMMIT\n",
     "udp 10.1.0.2:50000 > 10.7.0.9:443 out",
     [("nat", "OUTPUT", 3, "mark=0x1"), ("filter", "OUTPUT", 7, "no target: counted")],
     ["forwarded out eth1 as udp 10.1.0.2:50000 > 10.7.0.9:443 - (table main: default via 10.1.1.2 dev eth1)"]),
    ("the route mangle OUTPUT's mark chose stands when nat OUTPUT changes the mark back",
     "*mangle\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j MARK --set-xmark 0x1/0x1\nCOMMIT\n"
     "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j MARK --set-xmark 0x0/0x1\nCOMMIT\n"
     "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m conntrack --ctstate NEW\nCOMMIT\n",
     "udp 10.1.0.2:50000 > 10.7.0.9:443 out",
     [("mangle", "OUTPUT", 3, "mark=0x1"), ("nat", "OUTPUT", 7, "mark=0x0"), ("filter", "OUTPUT", 11, "no target: counted")],
     ["forwarded out eth0 as udp 10.1.0.2:50000 > 10.7.0.9:443 - (rule 100: from all fwmark 0x1/0x1 lookup 100; "
      "table 100: default via 10.1.0.1 dev eth0)"]),
    ("CONNMARK --restore-mark XORs in the connection's --ctmask bits, whatever --nfmask clears",
     "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CONNMARK --set-xmark 0x1/0x1\n"
     "-A PREROUTING -j CONNMARK --restore-mark --nfmask 0x2 --ctmask 0xffffffff\nCOMMIT\n",
     "udp 10.1.0.1:40000 > 10.7.0.9:53 in eth0",
     [("mangle", "PREROUTING", 3, "ctmark=0x1"), ("mangle", "PREROUTING", 4, "mark=0x1 (restored from ctmark)")],
     ["forwarded out eth0 as udp 10.1.0.1:40000 > 10.7.0.9:53 - (rule 100: from all fwmark 0x1/0x1 lookup 100; "
      "table 100: default via 10.1.0.1 dev eth0)"]),
    ("CONNMARK --restore-mark restores no connection bit outside --ctmask",
     "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CONNMARK --set-xmark 0x1/0x1\n"
     "-A PREROUTING -j CONNMARK --restore-mark --nfmask 0x1 --ctmask 0x2\nCOMMIT\n",
     "udp 10.1.0.1:40000 > 10.7.0.9:53 in eth0",
     [("mangle", "PREROUTING", 3, "ctmark=0x1"), ("mangle", "PREROUTING", 4, "mark=0x0 (restored from ctmark)")],
     ["forwarded out eth1 as udp 10.1.0.1:40000 > 10.7.0.9:53 - (table main: default via 10.1.1.2 dev eth1)"]),
]  # fmt: skip


def node(tmp_path: Path, rules: str) -> tr.Node:
    (tmp_path / "iptables-save").write_text(rules)
    (tmp_path / "ip-route").write_text(ROUTES)
    (tmp_path / "ip-addr").write_text(ADDRS)
    (tmp_path / "ip-rule").write_text(RULES)
    n = tr.Node.load(tmp_path / "iptables-save", tmp_path / "ip-route", tmp_path / "ip-rule", tmp_path / "ip-addr")
    n.listening = everywhere(("tcp", "udp"), (53, 80, 443, 8080, 9090))
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


def test_a_nat_port_drawn_at_random_is_said_to_be_one_example(tmp_path: Path) -> None:
    """nf_nat_core.c ``nf_nat_l4proto_unique_tuple``: a source rewrite starts from a random offset in the range
    (the kernel chose 3072, then 3094, for the same packet)."""
    rules = "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -p tcp -j MASQUERADE --to-ports 3000-3100\nCOMMIT\n"
    p, iif = tr.parse_packet("tcp 10.1.0.1:40000 > 10.7.0.9:80 syn in eth0")
    (o,) = tr.trace(node(tmp_path, rules), p, iif).outcomes
    (said,) = [n for n in o.legs[0].notes if n.startswith("MASQUERADE")]
    port = said.split(" -> 10.1.1.1:")[1].split()[0]
    assert 3000 <= int(port) <= 3100
    assert said == (f"MASQUERADE: 10.1.0.1:40000 -> 10.1.1.1:{port} (the port is drawn at random from 3000-3100: "
                    "this one is an example)")
    # the packet's own port, when the range holds it, is kept and said plainly
    rules = rules.replace("3000-3100", "30000-50000")
    (o,) = tr.trace(node(tmp_path, rules), p, iif).outcomes
    assert [n for n in o.legs[0].notes if n.startswith("MASQUERADE")] == ["MASQUERADE: 10.1.0.1:40000 -> 10.1.1.1:40000"]
