"""Conntrack NAT in both directions, re-open after RST, INVALID, and the martian-source drop, on a host."""

from __future__ import annotations

from conftest import make_host
from hairpin.model.net import Flags, Packet, ip_int

CLIENT = ip_int("192.168.27.239")
NODE = ip_int("192.168.2.3")
BACKEND = ip_int("192.168.16.142")

RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
-A PREROUTING -p tcp -m tcp --dport 31468 -j KUBE-MARK-MASQ
-A PREROUTING -p tcp -m tcp --dport 31468 -j DNAT --to-destination 192.168.16.142:80
-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
COMMIT
"""


def node():
    return make_host(
        RULES,
        {"eth0": ["192.168.2.3/19"]},
        [("0.0.0.0/0", "eth0", "192.168.0.1"), ("192.168.16.142/32", "eni-ngx", None),
         ("192.168.27.239/32", "eni-cli", None)],
    )  # fmt: skip


def test_dnat_and_masquerade_then_de_nat_of_the_reply_to_the_client_veth() -> None:
    h, fab = node()
    h.receive(Packet(CLIENT, 49134, NODE, 31468, Flags.SYN, seq=10), "eth0")
    oif, out, _ = fab.sent[-1]
    assert oif == "eni-ngx"
    assert (out.src, out.dst, out.dport) == (NODE, BACKEND, 80)
    masq_port = out.sport
    assert 1024 <= masq_port <= 65535
    (entry,) = h.conntrack.entries()
    assert entry.orig == (CLIENT, 49134, NODE, 31468, "tcp")
    assert entry.reply == (BACKEND, 80, NODE, masq_port, "tcp")
    assert entry.state == "SYN_SENT"
    h.receive(Packet(BACKEND, 80, NODE, masq_port, Flags.SYN | Flags.ACK, seq=7, ack=11), "eni-ngx")
    oif, back, _ = fab.sent[-1]
    # the seed's step 5: node:NodePort -> client, straight to the client's veth
    assert oif == "eni-cli"
    assert (back.src, back.sport, back.dst, back.dport) == (NODE, 31468, CLIENT, 49134)
    assert entry.state == "SYN_RECV" and entry.seen_reply


def test_client_rst_is_forwarded_to_the_backend_and_a_new_syn_reopens() -> None:
    h, fab = node()
    h.receive(Packet(CLIENT, 49134, NODE, 31468, Flags.SYN, seq=10), "eth0")
    masq_port = fab.sent[-1][1].sport
    h.receive(Packet(BACKEND, 80, NODE, masq_port, Flags.SYN | Flags.ACK, seq=7, ack=11), "eni-ngx")
    h.receive(Packet(CLIENT, 49134, NODE, 31468, Flags.RST, seq=11), "eth0")
    oif, rst, _ = fab.sent[-1]
    assert oif == "eni-ngx" and rst.flags == Flags.RST
    assert (rst.src, rst.sport, rst.dst, rst.dport) == (NODE, masq_port, BACKEND, 80)
    (entry,) = h.conntrack.entries()
    assert entry.state == "CLOSE"
    fab.engine.now = 1.0
    h.receive(Packet(CLIENT, 49134, NODE, 31468, Flags.SYN, seq=10), "eth0")
    _, again, notes = fab.sent[-1]
    assert any("re-opens" in n for n in notes)
    (new,) = h.conntrack.entries()
    assert new is not entry and new.state == "SYN_SENT" and new.reply[3] == again.sport


def test_syn_ack_without_entry_is_invalid_and_not_nated() -> None:
    h, fab = node()
    h.receive(Packet(BACKEND, 80, CLIENT, 49134, Flags.SYN | Flags.ACK), "eni-ngx")
    oif, p, notes = fab.sent[-1]
    assert oif == "eni-cli" and p.src == BACKEND
    assert any("INVALID" in n for n in notes)
    assert h.conntrack.entries() == []


def test_packet_from_own_address_is_a_martian_and_dropped() -> None:
    h, fab = node()
    h.receive(Packet(NODE, 40000, NODE, 31468, Flags.SYN), "eth0")
    assert fab.sent == []
    _where, _p, notes, kind = fab.records[-1]
    assert kind == "martian" and "martian source 192.168.2.3" in notes[-2]


def test_accept_local_lets_it_through() -> None:
    h, fab = node()
    h.accept_local = True
    h.receive(Packet(NODE, 40000, NODE, 31468, Flags.SYN), "eth0")
    assert fab.sent and fab.sent[-1][1].dst == BACKEND
