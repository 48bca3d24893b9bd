"""The kernel as the oracle for hairpin's iptables evaluator: random rules, one real packet, the rule counters.

Each case builds two fresh network namespaces, ``hpw-kd-a-*`` (the sender) and ``hpw-kd-b-*`` (the node under
test), joined by two veth pairs (A ``a0`` = B ``eth0``, A ``a1`` = B ``eth1``), loads a random ruleset (raw,
mangle, nat, filter; user chains reached by ``-j`` and ``-g``) into B with ``iptables-nft-restore``, sends one
hand-built IPv4 TCP or UDP packet into B from an AF_PACKET socket in A (or, for a quarter of the cases, has B
send a UDP datagram itself from a bound socket: OUTPUT, nat OUTPUT, and over ``lo`` to its own addresses), and
reads back:

- ``iptables-save -c``: every rule's packet counter, and each built-in chain's policy counter;
- what B sent (AF_PACKET sockets in A on both links: a forwarded packet, or B's own SYN-ACK to a local SYN);
- what B delivered (UDP sockets bound in B on every port a case can reach, with ``IP_PKTINFO``; TCP listeners
  on the same ports, so a local SYN is answered with a SYN-ACK, never an RST);
- for a datagram B sends, what its ``sendto`` said (EPERM when a rule dropped it on the way out).

hairpin traces the same packet on the dumps taken from B before the packet was sent (``iptables-save``,
``ip route show table all``, ``ip rule``, ``ip -o addr``; the listening ports as ``ss -ltnu`` would give them)
and must agree: the rules it says the packet matched (every leg: the request, and B's SYN-ACK for a local SYN)
are the rules whose counters went from 0, as many times each; the chains whose policy it applied are the
policy counters that moved; and the packets it says leave B (interface and header) or reach a local socket are
exactly the ones seen.

A holds no address (nothing it receives is local, and its ip_forward is 0), so it answers nothing; B's
``send_redirects`` is 0 (a packet forwarded back out the link it came in on draws no ICMP redirect, which would
cross B's OUTPUT chains) and ``tcp_synack_retries`` 0 (no retransmitted SYN-ACK).  Neighbours are static, so
nothing waits for ARP.  Random matches (``-m statistic``) are not generated: their outcome is random; nor are
matches hairpin does not model (``-m length``, ``-m icmp`` types: hairpin's packets carry neither a length nor
an ICMP type), which it names as undecided.  A case is not compared (``skipped``) when a bare ACK reaches a
local port (or a SYN-ACK, a FIN): the kernel answers with an RST from its control socket, while hairpin's ``--reply`` assumes the
connection's socket answers (whether one exists is not in the dumps); likewise when B's SYN-ACK to a local SYN
is itself delivered locally (an IPv6 SYN from one of B's own addresses: no socket awaits that SYN-ACK, and TCP
answers it with an RST that crosses OUTPUT and PREROUTING again, net/ipv6/tcp_ipv6.c ``tcp_v6_rcv``).  A NAT
source port hairpin says was drawn at random is compared as "any port in that range".

Used by ``tests/test_trace_kernel_lab.py`` (root, a few dozen cases) and ``benchmarks/fuzz_trace_kernel.py``
(longer runs).
"""

from __future__ import annotations

import json
import random
import re
import socket
import struct
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAC = {"a0": "02:00:00:00:0a:00", "a1": "02:00:00:00:0a:01", "eth0": "02:00:00:00:0b:00",
       "eth1": "02:00:00:00:0b:01"}  # fmt: skip
PEER = {"eth0": "a0", "eth1": "a1"}
#: B's addresses: eth0 10.1.0.2/24, eth1 10.1.1.1/24 and 10.5.0.1/32; routes: 10.6.0.0/24 via A on eth0,
#: default via A on eth1 (A's side answers neither: it holds no address); a packet marked 0x1 (mark & 0x1) is
#: routed by table 100: default via A on eth0
B_SETUP = """link set lo up
link set eth0 address {eth0} up
link set eth1 address {eth1} up
addr add 10.1.0.2/24 dev eth0
addr add 10.1.1.1/24 dev eth1
addr add 10.5.0.1/32 dev eth1
route add 10.6.0.0/24 via 10.1.0.1 dev eth0
route add default via 10.1.1.2 dev eth1
neigh add 10.1.0.1 lladdr {a0} dev eth0 nud permanent
neigh add 10.1.0.7 lladdr {a0} dev eth0 nud permanent
neigh add 10.1.1.2 lladdr {a1} dev eth1 nud permanent
rule add fwmark 0x1/0x1 lookup 100 prio 100
route add default via 10.1.0.1 dev eth0 table 100
""".format(**MAC)
A_SETUP = """link set lo up
link add a0 address {a0} type veth peer name eth0 netns {b}
link add a1 address {a1} type veth peer name eth1 netns {b}
link set a0 up
link set a1 up
"""
#: ports a packet or a DNAT can reach: B listens on each (tcp and udp) on every address
PORTS = (53, 80, 443, 8080, 9090)
SYSCTLS = {"net/ipv4/ip_forward": "1", "net/ipv4/conf/all/send_redirects": "0",
           "net/ipv4/conf/default/send_redirects": "0", "net/ipv4/conf/eth0/send_redirects": "0",
           "net/ipv4/conf/eth1/send_redirects": "0", "net/ipv4/conf/all/rp_filter": "0",
           "net/ipv4/conf/eth0/rp_filter": "0", "net/ipv4/conf/eth1/rp_filter": "0",
           "net/ipv4/tcp_synack_retries": "0"}  # fmt: skip

LISTENER = r"""
import json, socket, struct, sys
for key, value in json.loads(sys.argv[1]).items():
    with open("/proc/sys/" + key, "w") as f:
        f.write(value)
udp = []
keep = []
for port in json.loads(sys.argv[2]):
    t = socket.socket()
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("0.0.0.0", port))
    t.listen(16)
    keep.append(t)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_PKTINFO", 8), 1)
    u.bind(("0.0.0.0", port))
    udp.append((port, u))
print("ready", flush=True)
sys.stdin.readline()
got = []
for port, u in udp:
    while True:
        try:
            data, anc, flags, addr = u.recvmsg(2048, 256, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
        dst = "?"
        for level, kind, value in anc:
            if level == socket.IPPROTO_IP and kind == getattr(socket, "IP_PKTINFO", 8):
                dst = socket.inet_ntoa(value[8:12])
        got.append([dst, port, addr[0], addr[1]])
print(json.dumps(got), flush=True)
"""

SENDER = r"""
import json, select, socket, sys, time
frame, iface, dmac, wait = bytes.fromhex(sys.argv[1]), sys.argv[2], bytes.fromhex(sys.argv[3]), float(sys.argv[4])
caps = []
for name in ("a0", "a1"):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    s.bind((name, 0x0800))
    caps.append((name, s))
print("ready", flush=True)
if frame:
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    tx.sendto(frame, (iface, 0x0800, 0, 0, dmac))
else:
    sys.stdin.readline()
end = time.monotonic() + wait
seen = []
while True:
    left = end - time.monotonic()
    if left <= 0:
        break
    ready, _, _ = select.select([s for _, s in caps], [], [], left)
    for name, s in caps:
        if s in ready:
            data, addr = s.recvfrom(65535)
            if addr[2] != socket.PACKET_OUTGOING:
                seen.append([name, data.hex()])
print(json.dumps(seen))
"""

#: a datagram B itself sends (a probe ``out``): from a socket bound to its source
LOCAL_SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
try:
    s.sendto(b"kdif", (sys.argv[3], int(sys.argv[4])))
    print("sent")
except OSError as e:
    print("errno", e.errno)
"""

# ------------------------------------------------------------------------------------------- the generator

TABLES = {"raw": ("PREROUTING", "OUTPUT"), "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
          "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"), "filter": ("INPUT", "FORWARD", "OUTPUT")}  # fmt: skip
USER = ("U1", "U2")
ADDRS = ("10.1.0.1", "10.1.0.7", "10.9.0.1", "10.1.0.2", "10.1.1.1", "10.5.0.1", "10.7.0.9", "10.6.0.5", "10.1.0.255",
         "127.0.0.1")
PORT_POOL = (53, 80, 443, 1234, 8080, 9090, 40000, 50000)
DNAT_TO = ("10.1.0.2", "10.5.0.1", "10.7.0.9", "10.6.0.5", "10.1.0.7")
SNAT_TO = ("10.1.1.1", "10.1.0.2", "10.8.0.1")
IFACES = ("eth0", "eth1", "eth+", "e+", "lo", "eth9")
HAS_IN = {"PREROUTING", "INPUT", "FORWARD"}
HAS_OUT = {"OUTPUT", "FORWARD", "POSTROUTING"}


def _neg(r: random.Random, p: float = 0.25) -> str:
    return "! " if r.random() < p else ""


def _cidr(r: random.Random, addrs: tuple[str, ...] = ADDRS) -> str:
    a = r.choice(addrs)
    prefix = r.choice((32, 32, 24, 16, 8))
    import ipaddress

    return str(ipaddress.IPv4Network(f"{a}/{prefix}", strict=False))


def _ports(r: random.Random, pool: tuple[int, ...] = PORT_POOL) -> str:
    if r.random() < 0.3:
        lo, hi = sorted(r.sample(sorted(set(pool)), 2))
        return f"{lo}:{hi}"
    return str(r.choice(pool))


def _mark(r: random.Random) -> str:
    v = r.choice((0, 1, 2, 0x10, 0x11))
    m = r.choice(("", "", "/0xff", "/0x1", "/0x10"))
    return f"{v:#x}{m}"


@dataclass(frozen=True)
class Words:
    """What a family's rules may say, for the generator (``_matches``): IPv4's here, IPv6's in kernel_diff6."""

    cidr: Callable[[random.Random, tuple[str, ...]], str]
    ranged: tuple[str, ...]  # the addresses of -m iprange
    order: Callable[[str], Any]  # how two of them sort (lo-hi)
    protos: tuple[str, ...]
    addrtypes: tuple[str, ...]
    pkttypes: tuple[str, ...]
    tcp_flags: tuple[str, ...]


def _matches(r: random.Random, table: str, chain: str, addrs: tuple[str, ...] = ADDRS,
             pool: tuple[int, ...] = PORT_POOL, words: Words | None = None) -> list[str]:  # fmt: skip
    """A few match clauses (each kind at most once), valid for ``chain`` of ``table``; addresses and ports from
    ``addrs`` and ``pool`` (the probe's own, more often than the others), in ``words``' family (IPv4's: ``V4``)."""
    w = words or V4
    out: list[str] = []
    kinds = r.sample(["s", "d", "p", "iprange", "addrtype", "i", "o", "mark", "connmark", "conntrack", "state",
                      "pkttype", "comment", "multiport"], r.choice((0, 1, 1, 2, 2, 3)))  # fmt: skip
    proto = ""
    if "p" in kinds or "multiport" in kinds:
        proto = r.choice(w.protos) if "multiport" not in kinds else r.choice(("tcp", "udp"))
    for k in kinds:
        if k in ("s", "d"):
            out.append(f"{_neg(r)}-{k} {w.cidr(r, addrs)}")
        elif k == "iprange":
            lo, hi = sorted(r.sample(w.ranged, 2), key=w.order)
            out.append(f"-m iprange {_neg(r)}--{r.choice(('src', 'dst'))}-range {lo}-{hi}")
        elif k == "addrtype":
            words = []
            for side in r.sample(["src", "dst"], r.choice((1, 1, 2))):
                words.append(f"{_neg(r)}--{side}-type {r.choice(w.addrtypes)}")
            limit = r.random()
            if limit < 0.3 and chain in ("PREROUTING", "INPUT", "FORWARD"):
                words.append("--limit-iface-in")
            elif limit < 0.6 and chain in ("OUTPUT", "FORWARD", "POSTROUTING"):
                words.append("--limit-iface-out")
            out.append("-m addrtype " + " ".join(words))
        elif k == "i" and (chain in HAS_IN or chain in USER):
            out.append(f"{_neg(r)}-i {r.choice(IFACES)}")
        elif k == "o" and (chain in HAS_OUT or chain in USER):
            out.append(f"{_neg(r)}-o {r.choice(IFACES)}")
        elif k in ("mark", "connmark"):
            out.append(f"-m {k} {_neg(r)}--mark {_mark(r)}")
        elif k == "conntrack":
            words = []
            if r.random() < 0.7:
                states = r.sample(["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED", "DNAT", "SNAT"],
                                  r.choice((1, 1, 2)))  # fmt: skip
                words.append(f"{_neg(r)}--ctstate {','.join(states)}")
            if r.random() < 0.4:
                words.append(f"{_neg(r)}--ctorigdst {w.cidr(r, addrs)}")
            if r.random() < 0.2:
                words.append(f"{_neg(r)}--ctorigdstport {r.choice(pool)}")
            if r.random() < 0.2 or not words:
                words.append(f"--ctdir {r.choice(('ORIGINAL', 'REPLY'))}")
            out.append("-m conntrack " + " ".join(words))
        elif k == "state":
            out.append(f"-m state {_neg(r)}--state {r.choice(('NEW', 'ESTABLISHED', 'NEW,ESTABLISHED', 'INVALID'))}")
        elif k == "pkttype":
            out.append(f"-m pkttype {_neg(r)}--pkt-type {r.choice(w.pkttypes)}")
        elif k == "comment":
            out.append(f'-m comment --comment "case {r.randrange(100)}"')
    if proto:
        out.insert(0, f"{_neg(r, 0.15) if 'multiport' not in kinds else ''}-p {proto}")
        negated_proto = out[0].startswith("!")
        if proto in ("tcp", "udp") and not negated_proto:
            if "multiport" in kinds:
                which = r.choice(("dports", "sports", "ports"))
                ports = ",".join(str(p) for p in sorted(r.sample(sorted(set(pool)), r.choice((1, 2, 3)))))
                out.append(f"-m multiport {_neg(r)}--{which} {ports}")
            words = []
            if r.random() < 0.5:
                words.append(f"{_neg(r)}--dport {_ports(r, pool)}")
            if r.random() < 0.3:
                words.append(f"{_neg(r)}--sport {_ports(r, pool)}")
            if proto == "tcp" and r.random() < 0.4:
                words.append(r.choice(w.tcp_flags))
            if words:
                out.append(f"-m {proto} " + " ".join(words))
    return out


V4 = Words(_cidr, ADDRS, socket.inet_aton, ("tcp", "tcp", "udp", "udp", "icmp"),
           ("LOCAL", "UNICAST", "LOCAL,UNICAST", "BROADCAST"), ("unicast", "broadcast", "multicast"),
           ("--syn", "! --syn", "--tcp-flags SYN,ACK SYN", "--tcp-flags ALL SYN", "--tcp-flags RST RST",
            "! --tcp-flags SYN,RST,ACK ACK", "--tcp-flags ACK ACK"))  # fmt: skip


def _target(r: random.Random, table: str, chain: str, proto: bool) -> str:
    """A target allowed in ``chain`` (user chains: anything their table allows; the kernel refuses the rest
    when the file is loaded, and the case is drawn again)."""
    choices = ["", "ACCEPT", "RETURN", "jump", "jump", "goto", "MARK", "CONNMARK"]
    if table != "nat" and r.random() < 0.6:
        choices += ["DROP"]
    if table == "nat":
        choices += ["NAT", "NAT", "NAT"]
        if r.random() < 0.1:
            choices.append("DROP")
    t = r.choice(choices)
    if t in ("jump", "goto"):
        if chain == "U2":
            t = "ACCEPT"
        else:
            dest = "U2" if chain == "U1" else r.choice(USER)
            return f"-{'j' if t == 'jump' else 'g'} {dest}"
    if t == "MARK":
        return r.choice((f"-j MARK --set-xmark {_mark(r)}" if "/" in _mark(r) else f"-j MARK --set-mark {_mark(r)}",
                         f"-j MARK --set-xmark {r.choice((1, 2, 0x10))}/{r.choice(('0xff', '0xffffffff', '0x1'))}",
                         f"-j MARK --or-mark {r.choice((1, 0x10))}"))  # fmt: skip
    if t == "CONNMARK":
        masks = f"--nfmask {r.choice(('0xff', '0xf0', '0x1'))} --ctmask {r.choice(('0xffffffff', '0xf', '0x10'))}"
        return r.choice((f"-j CONNMARK --set-xmark {r.choice((1, 2, 0x10))}/{r.choice(('0xff', '0xffffffff'))}",
                         "-j CONNMARK --save-mark", "-j CONNMARK --restore-mark",
                         # unequal masks: xt_connmark.c's save and restore each read both (revision 1)
                         f"-j CONNMARK --save-mark {masks}", f"-j CONNMARK --restore-mark {masks}"))  # fmt: skip
    if t == "NAT":
        if chain in ("PREROUTING", "OUTPUT", "U1"):
            to = r.choice(DNAT_TO)
            if proto and r.random() < 0.5:
                to += f":{r.choice((80, 8080, 9090))}"
            return f"-j DNAT --to-destination {to}"
        if chain == "POSTROUTING" and r.random() < 0.5:
            return "-j MASQUERADE" + (" --to-ports 3000-3100" if proto and r.random() < 0.3 else "")
        to = r.choice(SNAT_TO)
        if proto and r.random() < 0.4:
            to += ":2000"
        return f"-j SNAT --to-source {to}"
    return f"-j {t}" if t else ""


def ruleset(r: random.Random, p: Probe | None = None, matches: Any = None, target: Any = None,
            addrs: tuple[str, ...] = ADDRS) -> str:
    """A random iptables-restore file over every table and hook a forwarded or local packet meets.

    nat's U1 is reached only from PREROUTING and OUTPUT (it may DNAT), U2 only from INPUT and POSTROUTING
    (SNAT): the kernel refuses a NAT target in a hook it does not serve.  With the probe ``p``, its addresses
    and ports are drawn more often, so more rules match it.  ``matches``, ``target`` and ``addrs`` are another
    family's generator pieces (``tests/kernel_diff6.py``)."""
    matches, target = matches or _matches, target or _target
    pool = PORT_POOL
    if p is not None:
        addrs += (p.src, p.dst) * 3
        pool += (p.sport, p.dport) * 2
    out: list[str] = []
    for table, builtins in TABLES.items():
        out.append(f"*{table}")
        for c in builtins:
            drop = 0.1 if table == "filter" else 0.03 if table in ("raw", "mangle") else 0
            out.append(f":{c} {'DROP' if r.random() < drop else 'ACCEPT'} [0:0]")
        out += [f":{u} - [0:0]" for u in USER]
        for chain in (*builtins, *USER):
            for _ in range(r.choice((0, 1, 1, 2, 2, 3, 4))):
                m = matches(r, table, chain, addrs, pool)
                proto = any(x.startswith("-p tcp") or x.startswith("-p udp") for x in m)
                t = target(r, table, chain, proto)
                if table == "nat" and t.split()[-1:] == ["U2"] and chain in ("PREROUTING", "OUTPUT", "U1"):
                    t = "-j U1" if chain != "U1" else "-j RETURN"
                if table == "nat" and t.split()[-1:] == ["U1"] and chain in ("INPUT", "POSTROUTING", "U2"):
                    t = "-j U2" if chain != "U2" else "-j RETURN"
                if "MASQUERADE" in t and chain != "POSTROUTING":
                    t = "-j ACCEPT"
                if t == "-j RETURN" and r.random() < 0.5 and chain not in USER:
                    t = "-j ACCEPT"
                out.append(" ".join([f"-A {chain}", *m, *([t] if t else [])]))
        out.append("COMMIT")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Probe:
    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    flags: str  # "S", "R", "A", "SA", "FA" (tcp), "" (udp)
    iif: str  # eth0 | eth1: the link of B it arrives on; "out": B sends it (a udp datagram from a local socket)

    def hairpin(self) -> str:
        flags = {"S": "syn", "R": "rst", "A": "ack", "SA": "syn,ack", "FA": "fin,ack", "": ""}[self.flags]
        where = "out" if self.iif == "out" else f"in {self.iif}"
        return f"{self.proto} {self.src}:{self.sport} > {self.dst}:{self.dport}{' ' + flags if flags else ''} {where}"


def probe(r: random.Random) -> Probe:
    if r.random() < 0.25:  # sent by B: new connections through OUTPUT, nat OUTPUT, and over lo to itself
        return Probe("udp", r.choice(("10.1.0.2", "10.1.1.1", "10.5.0.1")), r.choice((1234, 40000, 50000)),
                     r.choice(("10.1.0.2", "10.5.0.1", "10.7.0.9", "10.6.0.5", "10.1.0.7", "127.0.0.1")), r.choice(PORTS), "",
                     "out")  # fmt: skip
    proto = r.choice(("tcp", "tcp", "udp"))
    # martians (the node's own address or a loopback one as the source, a loopback destination) now and then
    src = r.choice(("10.1.0.1", "10.1.0.1", "10.1.0.7", "10.9.0.1", "10.9.0.1")) if r.random() < 0.92 else \
        r.choice(("10.1.1.1", "127.0.0.5"))
    dst = r.choice(("10.1.0.2", "10.1.1.1", "10.5.0.1", "10.7.0.9", "10.6.0.5", "10.1.0.2", "10.7.0.9", "10.1.0.255"))
    if r.random() < 0.03:
        dst = "127.0.0.1"
    flags = r.choice(("S", "S", "S", "S", "S", "R", "A", "SA", "FA")) if proto == "tcp" else ""
    return Probe(proto, src, r.choice((1234, 40000, 50000, 53)), dst, r.choice(PORTS), flags,
                 r.choice(("eth0", "eth0", "eth0", "eth1")))  # fmt: skip


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(p: Probe) -> bytes:
    """The IPv4 packet (checksums right: conntrack checks them at PREROUTING)."""
    src, dst = socket.inet_aton(p.src), socket.inet_aton(p.dst)
    if p.proto == "tcp":
        bits = {"S": 0x02, "R": 0x04, "A": 0x10, "SA": 0x12, "FA": 0x11}[p.flags]
        ack = 1 if bits & 0x10 else 0
        l4 = struct.pack("!HHIIBBHHH", p.sport, p.dport, 1000, ack, 5 << 4, bits, 65535, 0, 0)
        num = 6
    else:
        l4 = struct.pack("!HHHH", p.sport, p.dport, 8 + 4, 0) + b"kdif"
        num = 17
    pseudo = src + dst + struct.pack("!BBH", 0, num, len(l4))
    c = _csum(pseudo + l4)
    l4 = l4[:16] + struct.pack("!H", c) + l4[18:] if num == 6 else l4[:6] + struct.pack("!H", c or 0xFFFF) + l4[8:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, num, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return hdr + l4


def parse_frame(data: bytes) -> str:
    """A captured IPv4 packet as hairpin prints one (``tcp 1.2.3.4:5 > 6.7.8.9:10 SYN,ACK``)."""
    from hairpin.model.net import Flags, Packet, ip_int

    ihl = (data[0] & 15) * 4
    num = data[9]
    src, dst = socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20])
    sport, dport = struct.unpack("!HH", data[ihl:ihl + 4])
    if num == 6:
        return str(Packet(ip_int(src), sport, ip_int(dst), dport, Flags(data[ihl + 13] & 0x3F), 0, 0, "tcp"))
    if num == 17:
        return str(Packet(ip_int(src), sport, ip_int(dst), dport, Flags(0), 0, 0, "udp"))
    return f"proto {num} {src} > {dst}"


# ------------------------------------------------------------------------------------------------ the lab


def _run(argv: list[str], stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=check)


@dataclass
class Kernel:
    """What B did with the packet."""

    loaded: bool
    error: str = ""
    counts: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (table, chain, index) -> packets
    policies: dict[tuple[str, str], int] = field(default_factory=dict)  # built-in chain -> policy packets
    sent: list[tuple[str, str]] = field(default_factory=list)  # (B's link, packet)
    delivered: list[tuple[str, int, str, int]] = field(default_factory=list)  # udp: (dst, dport, src, sport)
    dumps: dict[str, str] = field(default_factory=dict)
    said: str = ""  # a local sender's word: "sent", or "errno N" (1: EPERM, a DROP in OUTPUT or POSTROUTING)


def counters(saved: str) -> tuple[dict[tuple[str, str, int], int], dict[tuple[str, str], int]]:
    """``iptables-save -c``: packets per rule (table, chain, index from 0) and per built-in chain's policy."""
    rules: dict[tuple[str, str, int], int] = {}
    policies: dict[tuple[str, str], int] = {}
    table = ""
    seen: dict[tuple[str, str], int] = {}
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            name, policy, cnt = line[1:].split()[:3]
            if policy != "-":
                policies[(table, name)] = int(cnt.strip("[]").split(":")[0])
        elif line.startswith("["):
            cnt, rest = line.split("] ", 1)
            chain = rest.split()[1]
            i = seen.get((table, chain), 0)
            seen[(table, chain)] = i + 1
            rules[(table, chain, i)] = int(cnt[1:].split(":")[0])
    return rules, policies


def run_case(text: str, p: Probe, wait: float = 0.15) -> Kernel:
    """Load ``text`` into a fresh node namespace, send ``p``, and read what the kernel did."""
    tag = uuid.uuid4().hex[:6]
    a, b = f"hpw-kd-a-{tag}", f"hpw-kd-b-{tag}"
    made: list[str] = []
    listener: subprocess.Popen[str] | None = None
    try:
        for ns in (a, b):
            _run(["ip", "netns", "add", ns])
            made.append(ns)
        _run(["ip", "-n", a, "-batch", "-"], A_SETUP.format(b=b, **MAC))
        _run(["ip", "-n", b, "-batch", "-"], B_SETUP)
        listener = subprocess.Popen(["ip", "netns", "exec", b, sys.executable, "-c", LISTENER, json.dumps(SYSCTLS),
                                     json.dumps(list(PORTS))], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)  # fmt: skip
        assert listener.stdout is not None and listener.stdin is not None
        ready = listener.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError(f"listener: {ready!r} {listener.stderr.read() if listener.stderr else ''}")
        res = _run(["ip", "netns", "exec", b, "iptables-nft-restore"], text, check=False)
        if res.returncode != 0:
            return Kernel(False, res.stderr.strip())
        k = Kernel(True)
        k.dumps = {
            "iptables-save": _run(["ip", "netns", "exec", b, "iptables-nft-save"]).stdout,
            "ip-route": _run(["ip", "-n", b, "-4", "route", "show", "table", "all"]).stdout,
            "ip-rule": _run(["ip", "-n", b, "-4", "rule", "show"]).stdout,
            "ip-addr": _run(["ip", "-n", b, "-4", "-o", "addr"]).stdout,
        }
        local = p.iif == "out"
        sender = subprocess.Popen(["ip", "netns", "exec", a, sys.executable, "-c", SENDER, "" if local else frame(p).hex(),
                                   PEER.get(p.iif, "a0"), MAC.get(p.iif, MAC["eth0"]).replace(":", ""), str(wait)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert sender.stdout is not None and sender.stdin is not None
        assert sender.stdout.readline().strip() == "ready"
        if local:
            k.said = _run(["ip", "netns", "exec", b, sys.executable, "-c", LOCAL_SENDER, p.src, str(p.sport), p.dst,
                           str(p.dport)]).stdout.strip()  # fmt: skip
        sender.stdin.write("\n")
        sender.stdin.flush()
        out = sender.stdout.readline()
        sender.wait()
        k.sent = [({v: k_ for k_, v in PEER.items()}[name], parse_frame(bytes.fromhex(h))) for name, h in json.loads(out)]
        listener.stdin.write("\n")
        listener.stdin.flush()
        k.delivered = [(d, int(dp), s, int(sp)) for d, dp, s, sp in json.loads(listener.stdout.readline())]
        k.counts, k.policies = counters(_run(["ip", "netns", "exec", b, "iptables-nft-save", "-c"]).stdout)
        return k
    finally:
        if listener is not None:
            listener.kill()
            listener.wait()
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


# ----------------------------------------------------------------------------------------- hairpin's side


@dataclass
class Hairpin:
    undecided: list[str]
    counts: dict[tuple[str, str, int], int]
    policies: dict[tuple[str, str], int]
    sent: list[tuple[str, str]]
    delivered: list[tuple[str, int, str, int]]
    text: str
    skipped: str = ""
    #: ranges hairpin says a NAT source port was drawn from at random (the kernel's draw is another)
    drawn: list[tuple[int, int]] = field(default_factory=list)
    said: str = ""  # what a local sender's sendto should say ("" for a packet from A)
    fate: str = ""  # the request's end: forward | local | drop | martian


def hairpin_case(k: Kernel, p: Probe, family: int = 4) -> Hairpin:
    """hairpin's trace of ``p`` on the dumps taken from B before the packet was sent (``family`` 6: ip6tables and
    ``ip -6`` dumps)."""
    from hairpin import trace as tr
    from hairpin.model.net import ip_str
    from hairpin.parsers.sockets import everywhere

    with tempfile.TemporaryDirectory() as d:
        for name, body in k.dumps.items():
            (Path(d) / name).write_text(body)
        files = [Path(d) / name for name in ("iptables-save", "ip-route", "ip-rule", "ip-addr")]
        node = tr.Node.load(*files, **({"family": 6} if family == 6 else {}))
    node.listening = everywhere(("tcp", "udp"), PORTS)
    tracer = node.tracer()
    policies: dict[tuple[str, str], int] = {}
    inner = tracer.host.watch

    def watch(table: str, chain: str, v: Any) -> None:
        if v.rule is None and table in TABLES and chain in TABLES[table]:
            policies[(table, chain)] = policies.get((table, chain), 0) + 1
        if inner is not None:
            inner(table, chain, v)

    tracer.host.watch = watch
    packet, iif = tr.parse_packet(p.hairpin())
    tr.check_packet(node, packet, iif)
    t = tr.trace(node, packet, iif, reply=True)
    assert len(t.outcomes) == 1, "no random match is generated: one outcome"
    o = t.outcomes[0]
    req = o.legs[0]
    legs = [req]
    skipped = ""
    # the kernel's only answer: B's SYN-ACK to a local SYN (B listens on every port a case reaches); UDP sockets
    # here never answer, a forwarded packet is never answered (A holds no address)
    if len(o.legs) > 1 and req.kind == "local" and p.proto == "tcp":
        if p.flags == "S" and o.legs[1].kind == "local":
            # the SYN came from one of B's own addresses (IPv6 has no martian check for that): B's SYN-ACK to
            # itself finds no socket awaiting it and TCP answers it with an RST, which crosses OUTPUT again
            skipped = "syn,ack to the node's own address: the kernel answers RST from its control socket"
        elif p.flags == "S":
            legs.append(o.legs[1])
        elif p.flags != "R":
            skipped = f"{p.hairpin().split()[4]} delivered locally: the kernel answers RST from its control socket"
    counts: dict[tuple[str, str, int], int] = {}
    rulesets = [node.ruleset]
    for leg in legs:
        for table, steps in leg.walk:
            for s in steps:
                rules = rulesets[0].tables[table].chains[s.rule.chain].rules
                idx = next(i for i, x in enumerate(rules) if x is s.rule)
                key = (table, s.rule.chain, idx)
                counts[key] = counts.get(key, 0) + 1
    if len(o.legs) > 1 and len(legs) == 1:
        # the policies the dropped reply leg walked are not the kernel's: trace the request alone for them
        policies.clear()
        tr.trace(node, packet, iif, reply=False)
    sent = []
    delivered = []
    for leg in legs:
        if leg.kind == "forward" and leg.out_packet is not None and leg.oif is not None:
            sent.append((leg.oif, str(leg.out_packet)))
        elif leg.kind == "local" and leg.out_packet is not None and p.proto == "udp":
            q = leg.out_packet
            delivered.append((ip_str(q.dst), q.dport, ip_str(q.src), q.sport))
    drawn = [(int(m[1]), int(m[2])) for leg in legs for n in leg.notes
             for m in re.finditer(r"the port is drawn at random from (\d+)-(\d+)", n)]  # fmt: skip
    said = ""
    if p.iif == "out":  # a DROP on B's way out fails the sender's sendto with EPERM (nf_hook_slow: -EPERM)
        dropped_out = req.kind == "drop" and any(h in req.verdict for h in ("OUTPUT", "POSTROUTING"))
        said = "errno 1" if dropped_out else "sent"
    return Hairpin(list(o.undecided), counts, policies, sent, delivered, t.text(), skipped, drawn, said, req.kind)


def _drawn(sent: list[tuple[str, str]], drawn: list[tuple[int, int]]) -> list[tuple[str, str]]:
    """The packets with a source port from a range hairpin says is drawn at random written as ``*``."""
    def port(m: re.Match[str]) -> str:
        return ":*" if any(lo <= int(m[1]) <= hi for lo, hi in drawn) else m[0]

    return sorted((link, re.sub(r":(\d+)(?= >)", port, pkt, count=1)) for link, pkt in sent)


def compare(k: Kernel, h: Hairpin) -> list[str]:
    """Every way hairpin's trace differs from what the kernel did (empty: they agree)."""
    out: list[str] = []
    kc = {key: n for key, n in k.counts.items() if n}
    if kc != h.counts:
        for key in sorted(set(kc) | set(h.counts)):
            if kc.get(key, 0) != h.counts.get(key, 0):
                out.append(f"rule {key[0]} {key[1]} #{key[2] + 1}: kernel counted {kc.get(key, 0)}, "
                           f"hairpin {h.counts.get(key, 0)}")  # fmt: skip
    # hairpin walks only the built-in chains holding rules (an empty ACCEPT chain cannot change the packet)
    live = {(t, c) for t, c, _ in k.counts}
    kp = {key: n for key, n in k.policies.items() if n and key in live}
    hp = {key: n for key, n in h.policies.items() if key in live}
    if kp != hp:
        out.append(f"policies: kernel {sorted(kp.items())}, hairpin {sorted(hp.items())}")
    if _drawn(k.sent, h.drawn) != _drawn(h.sent, h.drawn):
        out.append(f"sent: kernel {sorted(k.sent)}, hairpin {sorted(h.sent)}")
    if k.said != h.said:
        out.append(f"the local sender: kernel {k.said!r}, hairpin {h.said!r}")
    def drawn(got: list[tuple[str, int, str, int]]) -> list[tuple[str, int, str, str]]:
        return sorted((d, dp, sa, "*" if any(lo <= sp <= hi for lo, hi in h.drawn) else str(sp)) for d, dp, sa, sp in got)

    if drawn(k.delivered) != drawn(h.delivered):
        out.append(f"delivered: kernel {sorted(k.delivered)}, hairpin {sorted(h.delivered)}")
    return out


#: iptables-nft 1.8.9 loads ``-m tcp|udp ! --sport A ! --dport B`` (two single ports, both negated) as one 4-byte
#: compare of the port pair, ``(sport, dport) != (A, B)``: the kernel then matches when either port differs, not
#: when both do (``nft --debug=netlink``: ``cmp neq reg 1``), while iptables-nft-save prints the rule as written.
#: hairpin follows the rule's meaning (xt_tcpudp, iptables-legacy); such cases are not compared.
NFT_PORT_PAIR = re.compile(r"! --sport \d+ ! --dport \d+(?![\d:])")


@dataclass
class Result:
    seed: int
    text: str
    probe: Probe
    status: str  # agree | differ | refused | undecided | skipped
    diffs: list[str] = field(default_factory=list)
    detail: str = ""
    fate: str = ""  # what hairpin said of the request: forward | local | drop | martian
    matched: int = 0  # rule counters that moved in the kernel


def one(seed: int, attempts: int = 20) -> Result:
    """Case ``seed``: a ruleset the kernel loads (drawn again, up to ``attempts`` times, while it refuses
    one), the packet, and the comparison."""
    r = random.Random(seed)
    p = probe(r)
    text = ""
    k = Kernel(False)
    for _ in range(attempts):
        text = ruleset(r, p)
        k = run_case(text, p)
        if k.loaded:
            break
    if not k.loaded:
        return Result(seed, text, p, "refused", detail=k.error)
    if NFT_PORT_PAIR.search(k.dumps["iptables-save"]):
        return Result(seed, text, p, "skipped", detail="a rule with ! --sport A ! --dport B (iptables-nft's one compare)")
    h = hairpin_case(k, p)
    fate, matched = h.fate, sum(1 for n in k.counts.values() if n)
    if h.undecided:
        return Result(seed, text, p, "undecided", detail="; ".join(h.undecided))
    if h.skipped:
        return Result(seed, text, p, "skipped", detail=h.skipped)
    diffs = compare(k, h)
    return Result(seed, k.dumps["iptables-save"], p, "differ" if diffs else "agree", diffs, h.text, fate, matched)


def report(res: Result) -> str:
    return (f"seed {res.seed}: {res.status}: {res.probe.hairpin()}\n" + "".join(f"  {d}\n" for d in res.diffs)
            + (f"  {res.detail}\n" if res.status != "differ" else "") + res.text
            + ("\n--- hairpin\n" + res.detail if res.status == "differ" else ""))  # fmt: skip
