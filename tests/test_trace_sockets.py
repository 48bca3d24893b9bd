"""``ss -ltnu`` read as the kernel's listener lookup matches it: which socket (if any) a SYN or a datagram to a
local address finds, by address, family and device; and the trace's answer (SYN-ACK or RST) that follows.
The ``ss`` lines are what ss 6.1.0 printed on Linux 6.18 for sockets of each kind made in a network namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from hairpin import trace as tr
from hairpin.errors import InputError
from hairpin.model.net import addr_int
from hairpin.parsers import sockets

SS = """Netid State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
udp   UNCONN 0      0                  *:86              *:*
udp   UNCONN 0      0     0.0.0.0%eth0:68         0.0.0.0:*
tcp   LISTEN 0      128        127.0.0.1:85        0.0.0.0:*
tcp   LISTEN 0      128          0.0.0.0:81        0.0.0.0:*
tcp   LISTEN 0      128                *:82              *:*
tcp   LISTEN 0      128             [::]:83           [::]:*
tcp   LISTEN 0      128            [::1]:84           [::]:*
tcp   LISTEN 0      128   [::ffff:10.1.0.2]:87           *:*
"""


@pytest.mark.parametrize(("proto", "dst", "port", "iif", "found"), [
    ("tcp", "10.1.0.2", 81, None, True),  # 0.0.0.0: any IPv4 address
    ("tcp", "fd00::2", 81, None, False),  # ... but no IPv6 packet
    ("tcp", "10.1.0.2", 82, None, True),  # *: an IPv6 socket with IPV6_V6ONLY off takes both families
    ("tcp", "fd00::2", 82, None, True),
    ("tcp", "10.1.0.2", 83, None, False),  # [::]: IPV6_V6ONLY on, IPv6 only
    ("tcp", "fd00::2", 83, None, True),
    ("tcp", "::1", 84, None, True),  # bound to one address: that address only
    ("tcp", "fd00::2", 84, None, False),
    ("tcp", "127.0.0.1", 85, None, True),
    ("tcp", "10.1.0.2", 85, None, False),  # the seed's node's 127.0.0.1-only listeners take no packet from a pod
    ("tcp", "10.1.0.2", 87, None, True),  # a v4-mapped bound address takes that IPv4 address
    ("tcp", "10.1.0.3", 87, None, False),
    ("udp", "10.1.0.2", 86, None, True),
    ("udp", "10.1.0.2", 68, "eth0", True),  # bound to eth0 as well: what arrives on eth0
    ("udp", "10.1.0.2", 68, "eth1", False),
    ("tcp", "10.1.0.2", 86, None, False),  # a udp socket answers no tcp
])  # fmt: skip
def test_which_socket_a_packet_finds(proto: str, dst: str, port: int, iif: str | None, found: bool) -> None:
    listeners = sockets.parse(SS, "ss")
    assert (sockets.listener_for(listeners, proto, addr_int(dst), port, iif) is not None) is found


def test_what_is_read() -> None:
    got = sockets.parse(SS, "ss")
    assert got[:3] == [sockets.Listener("udp", 86), sockets.Listener("udp", 68, None, frozenset({4}), "eth0"),
                       sockets.Listener("tcp", 85, addr_int("127.0.0.1"), frozenset({4}))]  # fmt: skip
    assert got[5] == sockets.Listener("tcp", 83, None, frozenset({6}))


@pytest.mark.parametrize(("line", "message"), [
    ("tcp LISTEN 0 128 fd00::1:80 *:*", "ss:1: bad local address 'fd00::1:80' (ss -ltnu prints IPv6 addresses in "
                                        "brackets)"),
    ("tcp LISTEN 0 128 10.0.0.300:80 *:*", "ss:1: bad local address '10.0.0.300:80' (ss -ltnu)"),
    ("tcp LISTEN 0 128 [fd00::zz]:80 *:*", "ss:1: bad local address '[fd00::zz]:80' (ss -ltnu)"),
    ("tcp LISTEN 0 128 :80 *:*", "ss:1: bad local address ':80' (ss -ltnu)"),
    ("tcp LISTEN 0 128 0.0.0.0:99999 *:*", "ss:1: bad local address '0.0.0.0:99999' (ss -ltnu)"),
])  # fmt: skip
def test_bad_lines(line: str, message: str) -> None:
    with pytest.raises(InputError) as e:
        sockets.parse(line + "\n", "ss")
    assert e.value.one_line() == message


def test_a_syn_to_an_address_no_socket_is_bound_to_is_answered_with_rst(tmp_path: Path) -> None:
    """kubelet's 127.0.0.1-only ports (10248) take no SYN from a pod: the kernel answers RST, not a SYN-ACK."""
    seed = Path(__file__).parent / "data" / "trace" / "seed-node1"
    (tmp_path / "ss").write_text("State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
                                 "LISTEN 0 4096 127.0.0.1:10248 0.0.0.0:*\nLISTEN 0 4096 *:10250 *:*\n")  # fmt: skip
    n = tr.Node.load(seed / "iptables-save", seed / "ip-route", seed / "ip-rule", seed / "ip-addr",
                     sockets_file=tmp_path / "ss")  # fmt: skip
    said = []
    for port in (10248, 10250):
        p, iif = tr.parse_packet(f"tcp 192.168.27.239:40000 > 192.168.2.3:{port} syn in enie348bef9edc")
        (o,) = tr.trace(n, p, iif, reply=True).outcomes
        said.append((str(o.legs[1].packet), o.legs[1].notes[0]))
    assert said == [("tcp 192.168.2.3:10248 > 192.168.27.239:40000 RST,ACK",
                     "RST: nothing listens on tcp port 10248 for this address (its sockets: 127.0.0.1) (ss)"),
                    ("tcp 192.168.2.3:10250 > 192.168.27.239:40000 SYN,ACK",
                     "SYN-ACK from the local socket listening on tcp port 10250 (ss)")]  # fmt: skip


def test_the_sockets_a_packet_missed_are_named() -> None:
    listeners = sockets.parse(SS, "ss")
    assert sockets.bound_elsewhere(listeners, "tcp", 85) == " for this address (its sockets: 127.0.0.1)"
    assert sockets.bound_elsewhere(listeners, "tcp", 83) == " for this address (its sockets: [::])"
    assert sockets.bound_elsewhere(listeners, "udp", 68) == " for this address (its sockets: 0.0.0.0%eth0)"
    assert sockets.bound_elsewhere(listeners, "tcp", 87) == " for this address (its sockets: [::ffff:10.1.0.2])"
    assert sockets.bound_elsewhere(listeners, "tcp", 9999) == ""
