"""The kernel as the oracle for hairpin's IPv6 traces: random ip6tables rules, one real IPv6 packet, the counters.

The lab of ``tests/kernel_diff.py`` for IPv6, with its comparison (``compare``), its counter reading and hairpin's
side (``hairpin_case(..., family=6)``) shared.  B: ``eth0`` fd01::2/64, ``eth1`` fd02::1/64 and fd05::1/128;
fd06::/64 via fd01::1 (A, on eth0), default via fd02::2 (A, on eth1), and a packet marked 0x1 (mark & 0x1) is
routed by table 100: default via fd01::1.  Neighbours are static (``nud permanent``: no neighbour solicitation),
addresses ``nodad``, ``net.ipv6.conf.all.forwarding`` 1.  Rules use ip6tables' words (``-p ipv6-icmp``,
``-m addrtype`` without BROADCAST, no ``--pkt-type broadcast``, DNAT/SNAT to ``[addr]:port``, MASQUERADE,
REDIRECT); they are loaded with ``ip6tables-nft-restore`` and read back with ``ip6tables-nft-save -c``; the
packet goes out of an AF_PACKET socket in A with ethertype 0x86DD (upper-layer checksums over the IPv6
pseudo-header, RFC 8200 8.1); B's UDP sockets are AF_INET6 with ``IPV6_RECVPKTINFO``; B's own datagram (a probe
``out``) leaves an AF_INET6 socket bound to its source.  The dumps hairpin reads: ``ip6tables-nft-save``,
``ip -6 route show table all``, ``ip -6 rule show``, ``ip -6 -o addr``.

The kernel's own IPv6 packets (the noise).  Linux 6.18, as measured in this lab:

- A sends nothing: ``net.ipv6.conf.{all,default}.disable_ipv6`` is 1 in A before its links exist (its veths
  take ``default``'s value: net/ipv6/addrconf.c ``ipv6_add_dev`` copies ``devconf_dflt``).
- B (set on ``default`` and ``all`` before the links exist): ``addr_gen_mode`` 1 (IN6_ADDR_GEN_MODE_NONE: no
  link-local address, so no redirect either: ``ndisc_send_redirect`` gives up without one), ``accept_dad`` 0 and
  ``nodad`` addresses (no DAD probe: ``addrconf_dad_begin``), ``router_solicitations`` 0 and ``accept_ra`` 0
  (no RS), ``mldv1_unsolicited_report_interval`` and ``mldv2_unsolicited_report_interval`` 0 (the repeated
  unsolicited reports follow at once instead of within a second).  ``net.ipv6.mld_qrv`` cannot be set: it is
  registered for the initial namespace only (net/ipv6/sysctl_net_ipv6.c, ``ipv6_rotable``), and the robustness
  count ``idev->mc_qrv`` starts from it (2).
- What is left are MLDv2 reports (from ``::``, to ff02::16) when a link comes up and when an address joins its
  solicited-node group: ``net/ipv6/mcast.c`` ``igmp6_group_added`` has no switch to turn them off, and they cross
  ip6tables OUTPUT and POSTROUTING (``mld_sendpack``: ``NF_HOOK(NFPROTO_IPV6, NF_INET_LOCAL_OUT, ...)``).  The lab
  waits, before loading the rules, until A has seen them on both links and 50 ms of quiet (``settle``); the rule
  counters are read again just before the packet is sent and subtracted from the ones after.  When B sends any
  ICMPv6 packet during the packet's window, or its ``Icmp6Out*`` counters (``/proc/net/snmp6``) move (an ICMPv6
  packet a rule dropped on the way out is seen there only), the case is not compared: ``noise`` for MLD and
  neighbour discovery, ``skipped`` for an ICMPv6 error B sent about the packet (hairpin does not trace the
  kernel's ICMPv6 errors, which cross OUTPUT: a link-local source the node cannot forward, ``ip6_forward``).

Measured (Linux 6.18.44, ip6tables 1.8.9 nf_tables, 2026-12-02): 200 random cases, the kernel's side alone: no
case was noise (the reports are over before the rules load), one an ICMPv6 error (a link-local source to forward:
destination unreachable, beyond scope) and 5 the port-pair rule of ``kernel_diff``.  Each case takes about 0.5 s.
Against hairpin's IPv6 trace as its branches stood before they were merged (2026-12-02), 420 cases (seeds 0-119,
5000-5299): 373 agree, 41 not compared (none of them noise), 6 differ, every one of them one of the two
differences ``tests/test_trace_kernel_lab6.py`` marks (a link-local source forwarded back out of the link it came
in on; a SYN to the subnet-router anycast address).

What the kernel does that the IPv4 lab does not show (``tests/test_trace_kernel_lab6.py`` asserts each):
``ip6_rcv_core`` drops a loopback source or destination off ``lo`` and a multicast source before PREROUTING (no
counter moves); ``ip6_forward`` refuses a link-local source only when the packet would leave by another device
(the check is the ``else`` of its redirect branch), after PREROUTING and before FORWARD, and sends ICMPv6
destination unreachable (code 2) unless the rate limit keeps it back (``Icmp6OutRateLimitHost``); the node's own
address as a source is forwarded or delivered like any other; MASQUERADE takes ``ipv6_dev_get_saddr``'s choice
among the output device's addresses, the longest prefix shared with the destination capped at the address's own
prefix length (fd05::1/128 for fd07::9, fd02::1/64 for fd03::9); REDIRECT takes the input device's first address
(``nf_nat_redirect_ipv6``: ``idev->addr_list``, newest first within a scope, as ``ip addr`` lists them); the
subnet-router anycast address (fd01::, an ``anycast`` route in table local while forwarding is on) is delivered
locally, but TCP answers a SYN to it with nothing (``tcp_v6_conn_request``: ``ipv6_unicast_destination``).

Limits of the lab: no REJECT in random rulesets (its ICMPv6 answer crosses OUTPUT, which hairpin does not trace);
the exact case of ``REJECT --reject-with tcp-reset`` compares the RST the kernel sends with the one hairpin names.
Probes never use a link-local or multicast address a reply would have to reach (the reply's route needs a
link-local route B does not have), but a random DNAT can make a link-local source's SYN local: B's SYN-ACK is
then bound to the SYN's input device (net/ipv6/tcp_ipv6.c ``tcp_v6_init_req`` keeps it for a link-local peer "so
that link locals have meaning"), finds no route there and never crosses OUTPUT, as hairpin's ``--reply`` says.  An MLD report a rule drops in OUTPUT moves counters unseen by A and by
``Icmp6Out*`` (``mld_sendpack`` counts only what left); none is sent after the settle unless a link changes state,
which nothing does during a case.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import struct
import subprocess
import sys
import uuid
from dataclasses import dataclass

import kernel_diff as kd

MAC, PEER, PORTS, PORT_POOL, USER = kd.MAC, kd.PEER, kd.PORTS, kd.PORT_POOL, kd.USER
B_SETUP = """link set lo up
link set eth0 address {eth0} up
link set eth1 address {eth1} up
addr add fd01::2/64 dev eth0 nodad
addr add fd02::1/64 dev eth1 nodad
addr add fd05::1/128 dev eth1 nodad
route add fd06::/64 via fd01::1 dev eth0
route add default via fd02::2 dev eth1
neigh add fd01::1 lladdr {a0} dev eth0 nud permanent
neigh add fd01::7 lladdr {a0} dev eth0 nud permanent
neigh add fd02::2 lladdr {a1} dev eth1 nud permanent
rule add fwmark 0x1/0x1 lookup 100 prio 100
route add default via fd01::1 dev eth0 table 100
""".format(**MAC)
A_SYSCTLS = {"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"}
B_SYSCTLS = {f"net/ipv6/conf/{c}/{k}": v for c in ("all", "default") for k, v in (
    ("addr_gen_mode", "1"), ("accept_dad", "0"), ("router_solicitations", "0"), ("accept_ra", "0"),
    ("mldv1_unsolicited_report_interval", "0"), ("mldv2_unsolicited_report_interval", "0"), ("forwarding", "1"))}
B_SYSCTLS["net/ipv4/tcp_synack_retries"] = "0"  # the IPv4 knob serves TCP over IPv6 too (tcp_ipv6.c)

#: B's side: sysctls, a TCP listener and a UDP socket (IPV6_RECVPKTINFO) on every port; then, one command a
#: line: "snmp" prints the Icmp6Out* counters, "end" what the UDP sockets received
LISTENER = r"""
import json, socket, sys
for key, value in json.loads(sys.argv[1]).items():
    with open("/proc/sys/" + key, "w") as f:
        f.write(value)
udp = []
keep = []
for port in json.loads(sys.argv[2]):
    t = socket.socket(socket.AF_INET6)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("::", port))
    t.listen(16)
    keep.append(t)
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    u.bind(("::", port))
    udp.append((port, u))
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "snmp":
        with open("/proc/net/snmp6") as f:
            icmp = dict(l.split() for l in f if l.startswith("Icmp6Out"))
        print(json.dumps(icmp), flush=True)
        continue
    got = []
    for port, u in udp:
        while True:
            try:
                data, anc, flags, addr = u.recvmsg(2048, 256, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            dst = "?"
            for level, kind, value in anc:
                if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                    dst = socket.inet_ntop(socket.AF_INET6, value[:16])
            got.append([dst, port, addr[0], addr[1]])
    print(json.dumps(got), flush=True)
    break
"""

#: A's side: sysctls, one AF_PACKET socket for every IPv6 frame on A's links (before they exist); commands:
#: "settle" (wait for B's MLD reports on both links, then 50 ms of quiet; at most 3 s), "go HEX IFACE DMAC"
#: (the window opens; send the frame, if any), "end WAIT" (print what B sent in the window)
SENDER = r"""
import json, select, socket, sys, time
for key, value in json.loads(sys.argv[1]).items():
    with open("/proc/sys/" + key, "w") as f:
        f.write(value)
cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
print("ready", flush=True)
seen, window = [], None
def drain(until):
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return
        ready, _, _ = select.select([cap], [], [], left)
        if ready:
            data, addr = cap.recvfrom(65535)
            if addr[2] != socket.PACKET_OUTGOING and addr[0] in ("a0", "a1"):
                seen.append([time.monotonic(), addr[0], data.hex()])
for line in sys.stdin:
    words = line.split()
    if words[0] == "settle":
        end = time.monotonic() + 3
        while time.monotonic() < end:
            drain(min(end, time.monotonic() + 0.05))
            links = {name for t, name, h in seen if h[12:14] == "00" and h[80:82] == "3a" and h[96:98] == "8f"}
            if links == {"a0", "a1"} and time.monotonic() - seen[-1][0] >= 0.05:
                break
        print(len(seen), flush=True)
    elif words[0] == "go":
        drain(time.monotonic())
        window = len(seen)
        if len(words) > 1:
            tx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
            tx.sendto(bytes.fromhex(words[1]), (words[2], 0x86DD, 0, 0, bytes.fromhex(words[3])))
        print("sent", flush=True)
    elif words[0] == "end":
        drain(time.monotonic() + float(words[1]))
        print(json.dumps([[n, h] for t, n, h in seen[window:]]), flush=True)
        break
"""

LOCAL_SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
try:
    s.sendto(b"kdif", (sys.argv[3], int(sys.argv[4])))
    print("sent")
except OSError as e:
    print("errno", e.errno)
"""

# ------------------------------------------------------------------------------------------- the generator

ADDRS = ("fd01::1", "fd01::7", "fd09::1", "fd01::2", "fd02::1", "fd05::1", "fd07::9", "fd06::5", "fd01::", "::1",
         "fe80::1")  # fmt: skip
DNAT_TO = ("fd01::2", "fd05::1", "fd07::9", "fd06::5", "fd01::7")
SNAT_TO = ("fd02::1", "fd01::2", "fd08::1")
IFACES = kd.IFACES


def _cidr(r: random.Random, addrs: tuple[str, ...] = ADDRS) -> str:
    return str(ipaddress.IPv6Network(f"{r.choice(addrs)}/{r.choice((128, 128, 64, 64, 48, 16))}", strict=False))


#: ``kernel_diff._matches`` in ip6tables' words: IPv6 prefixes and ranges, ``ipv6-icmp``, no broadcast
V6 = kd.Words(_cidr, ADDRS, lambda a: int(ipaddress.IPv6Address(a)), ("tcp", "tcp", "udp", "udp", "ipv6-icmp"),
              ("LOCAL", "UNICAST", "LOCAL,UNICAST", "MULTICAST"), ("unicast", "multicast"),
              ("--syn", "! --syn", "--tcp-flags SYN,ACK SYN", "--tcp-flags ALL SYN", "--tcp-flags RST RST",
               "! --tcp-flags SYN,RST,ACK ACK"))  # fmt: skip


def _matches(r: random.Random, table: str, chain: str, addrs: tuple[str, ...] = ADDRS,
             pool: tuple[int, ...] = PORT_POOL) -> list[str]:  # fmt: skip
    return kd._matches(r, table, chain, addrs, pool, V6)


def _target(r: random.Random, table: str, chain: str, proto: bool) -> str:
    """``kernel_diff._target`` with IPv6 NAT addresses (``[addr]:port``) and REDIRECT."""
    t = kd._target(r, table, chain, proto)
    if not t.startswith(("-j DNAT", "-j SNAT")):
        return t
    to = t.split()[-1]
    addr = r.choice(DNAT_TO if "DNAT" in t else SNAT_TO)
    port = to.rsplit(":", 1)[1] if ":" in to else ""
    if "DNAT" in t and r.random() < 0.25:
        return "-j REDIRECT" + (f" --to-ports {r.choice((80, 8080, 9090))}" if proto and r.random() < 0.6 else "")
    return t.rsplit(" ", 1)[0] + " " + (f"[{addr}]:{port}" if port else addr)


def ruleset(r: random.Random, p: kd.Probe | None = None) -> str:
    return kd.ruleset(r, p, _matches, _target, ADDRS)


@dataclass(frozen=True)
class Probe(kd.Probe):
    def hairpin(self) -> str:
        flags = {"S": "syn", "R": "rst", "A": "ack", "SA": "syn,ack", "FA": "fin,ack", "": ""}[self.flags]
        where = "out" if self.iif == "out" else f"in {self.iif}"
        return (f"{self.proto} [{self.src}]:{self.sport} > [{self.dst}]:{self.dport}{' ' + flags if flags else ''} "
                f"{where}")  # fmt: skip


#: the martians (IPv6 has no source check but these, net/ipv6/ip6_input.c ip6_rcv_core and ip6_forward): a
#: loopback source or destination off ``lo``, a multicast source, a link-local source to forward (to another
#: link: dropped; back out of the link it came in on: ip6_forward skips the check on that branch), B's own address
MARTIANS = (("::1", "fd07::9"), ("fd01::1", "::1"), ("ff02::1", "fd07::9"), ("fe80::1", "fd07::9"),
            ("fe80::1", "fd06::5"), ("fd02::1", "fd07::9"), ("fd01::2", "fd05::1"))  # fmt: skip


def probe(r: random.Random) -> Probe:
    if r.random() < 0.25:  # sent by B: OUTPUT, nat OUTPUT, and over lo to itself
        return Probe("udp", r.choice(("fd01::2", "fd02::1", "fd05::1")), r.choice((1234, 40000, 50000)),
                     r.choice(("fd01::2", "fd05::1", "fd07::9", "fd06::5", "fd01::7", "::1")), r.choice(PORTS), "",
                     "out")  # fmt: skip
    proto = r.choice(("tcp", "tcp", "udp"))
    src = r.choice(("fd01::1", "fd01::1", "fd01::7", "fd09::1", "fd09::1"))
    dst = r.choice(("fd01::2", "fd02::1", "fd05::1", "fd07::9", "fd06::5", "fd01::2", "fd07::9", "fd01::"))
    if r.random() < 0.08:
        src, dst = r.choice(MARTIANS)
    flags = r.choice(("S", "S", "S", "S", "S", "R", "A", "SA", "FA")) if proto == "tcp" else ""
    return Probe(proto, src, r.choice((1234, 40000, 50000, 53)), dst, r.choice(PORTS), flags,
                 r.choice(("eth0", "eth0", "eth0", "eth1")))  # fmt: skip


def frame(p: kd.Probe) -> bytes:
    """The IPv6 packet: TCP or UDP (next header 6, 17) with its checksum over the pseudo-header (RFC 8200 8.1:
    source, destination, upper-layer length, next header); hop limit 64."""
    src, dst = socket.inet_pton(socket.AF_INET6, p.src), socket.inet_pton(socket.AF_INET6, p.dst)
    if p.proto == "tcp":
        bits = {"S": 0x02, "R": 0x04, "A": 0x10, "SA": 0x12, "FA": 0x11}[p.flags]
        l4 = struct.pack("!HHIIBBHHH", p.sport, p.dport, 1000, 1 if bits & 0x10 else 0, 5 << 4, bits, 65535, 0, 0)
        num = 6
    else:
        l4 = struct.pack("!HHHH", p.sport, p.dport, 8 + 4, 0) + b"kdif"
        num = 17
    c = kd._csum(src + dst + struct.pack("!I3xB", len(l4), num) + l4)
    l4 = l4[:16] + struct.pack("!H", c) + l4[18:] if num == 6 else l4[:6] + struct.pack("!H", c or 0xFFFF) + l4[8:]
    return struct.pack("!IHBB16s16s", 6 << 28, len(l4), num, 64, src, dst) + l4


def parse_frame(data: bytes) -> str:
    """A captured IPv6 packet as hairpin prints one (``tcp [fd01::2]:80 > [fd01::1]:1234 SYN,ACK``); an ICMPv6
    one as ``icmp6 TYPE/CODE SRC > DST``."""
    from hairpin.model.net import Flags, Packet, addr_int

    num = data[6]
    src = socket.inet_ntop(socket.AF_INET6, data[8:24])
    dst = socket.inet_ntop(socket.AF_INET6, data[24:40])
    at = 40
    while num in (0, 43, 60) and len(data) > at + 8:  # hop-by-hop (MLD's router alert), routing, destination
        num, at = data[at], at + (data[at + 1] + 1) * 8
    if num == 58:
        return f"icmp6 {data[at]}/{data[at + 1]} {src} > {dst}"
    sport, dport = struct.unpack("!HH", data[at:at + 4])
    if num == 6:
        return str(Packet(addr_int(src), sport, addr_int(dst), dport, Flags(data[at + 13] & 0x3F), 0, 0, "tcp"))
    if num == 17:
        return str(Packet(addr_int(src), sport, addr_int(dst), dport, Flags(0), 0, 0, "udp"))
    return f"proto {num} {src} > {dst}"


# ------------------------------------------------------------------------------------------------ the lab


@dataclass
class Lab:
    """What happened beside the rules: B's ICMPv6 in the packet's window, and how long the setup waited."""

    icmp6: list[tuple[str, str]]  # (B's link, "icmp6 TYPE/CODE SRC > DST") sent in the window
    snmp: dict[str, int]  # Icmp6Out* counters that moved in the window
    settled: int = 0  # frames A saw before the rules were loaded (B's MLD reports)


def _line(proc: subprocess.Popen[str], command: str | None = None) -> str:
    assert proc.stdin is not None and proc.stdout is not None
    if command is not None:
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
    return proc.stdout.readline().strip()


def _ns(ns: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def run_case(text: str, p: kd.Probe, wait: float = 0.15) -> tuple[kd.Kernel, Lab]:
    """Load ``text`` into a fresh IPv6 node namespace, send ``p``, and read what the kernel did."""
    tag = uuid.uuid4().hex[:6]
    a, b = f"hpw-kd6-a-{tag}", f"hpw-kd6-b-{tag}"
    made: list[str] = []
    procs: list[subprocess.Popen[str]] = []
    try:
        for ns in (a, b):
            kd._run(["ip", "netns", "add", ns])
            made.append(ns)
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        listener = subprocess.Popen(_ns(b, sys.executable, "-c", LISTENER, json.dumps(B_SYSCTLS), json.dumps(PORTS)),
                                    **pipes)  # type: ignore[call-overload]  # fmt: skip
        procs.append(listener)
        sender = subprocess.Popen(_ns(a, sys.executable, "-c", SENDER, json.dumps(A_SYSCTLS)), **pipes)  # type: ignore[call-overload]
        procs.append(sender)
        for proc, name in ((listener, "listener"), (sender, "sender")):
            if (said := _line(proc)) != "ready":
                raise RuntimeError(f"{name}: {said!r} {proc.stderr.read() if proc.stderr else ''}")
        kd._run(["ip", "-n", a, "-batch", "-"], kd.A_SETUP.format(b=b, **MAC))
        kd._run(["ip", "-6", "-n", b, "-batch", "-"], B_SETUP)
        settled = int(_line(sender, "settle"))
        res = kd._run(_ns(b, "ip6tables-nft-restore"), text, check=False)
        if res.returncode != 0:
            return kd.Kernel(False, res.stderr.strip()), Lab([], {}, settled)
        k = kd.Kernel(True)
        k.dumps = {
            "iptables-save": kd._run(_ns(b, "ip6tables-nft-save")).stdout,
            "ip-route": kd._run(["ip", "-n", b, "-6", "route", "show", "table", "all"]).stdout,
            "ip-rule": kd._run(["ip", "-n", b, "-6", "rule", "show"]).stdout,
            "ip-addr": kd._run(["ip", "-n", b, "-6", "-o", "addr"]).stdout,
        }
        before, before_p = kd.counters(kd._run(_ns(b, "ip6tables-nft-save", "-c")).stdout)
        snmp0 = json.loads(_line(listener, "snmp"))
        local = p.iif == "out"
        go = "go" if local else f"go {frame(p).hex()} {PEER[p.iif]} {MAC[p.iif].replace(':', '')}"
        assert _line(sender, go) == "sent"
        if local:
            k.said = kd._run(_ns(b, sys.executable, "-c", LOCAL_SENDER, p.src, str(p.sport), p.dst,
                                 str(p.dport))).stdout.strip()  # fmt: skip
        seen = [({v: k_ for k_, v in PEER.items()}[name], parse_frame(bytes.fromhex(h)))
                for name, h in json.loads(_line(sender, f"end {wait}"))]  # fmt: skip
        snmp1 = json.loads(_line(listener, "snmp"))
        k.delivered = [(d, int(dp), s, int(sp)) for d, dp, s, sp in json.loads(_line(listener, "end"))]
        after, after_p = kd.counters(kd._run(_ns(b, "ip6tables-nft-save", "-c")).stdout)
        k.counts = {key: n - before.get(key, 0) for key, n in after.items()}
        k.policies = {key: n - before_p.get(key, 0) for key, n in after_p.items()}
        k.sent = [(link, pkt) for link, pkt in seen if not pkt.startswith("icmp6 ")]
        moved = {key: int(n) - int(snmp0.get(key, 0)) for key, n in snmp1.items() if int(n) != int(snmp0.get(key, 0))}
        return k, Lab([(link, pkt) for link, pkt in seen if pkt.startswith("icmp6 ")], moved, settled)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


#: ICMPv6 types B sends on its own: MLD (130-132, 143) and neighbour discovery (133-137)
CHATTER = {130, 131, 132, 133, 134, 135, 136, 137, 143}


def noise(lab: Lab) -> tuple[str, str]:
    """("noise" | "skipped", why) when B sent ICMPv6 in the packet's window; ("", "") when it sent none."""
    types = {int(pkt.split()[1].split("/")[0]) for _, pkt in lab.icmp6}
    types |= {int(key[len("Icmp6OutType"):]) for key in lab.snmp if key.startswith("Icmp6OutType")}
    # Icmp6OutRateLimitHost/Global: an ICMPv6 error the rate limit kept back (icmp6_send: icmpv6_xrlim_allow),
    # which crossed no hook
    sent = {key: n for key, n in lab.snmp.items() if not key.startswith("Icmp6OutRateLimit")}
    if not types and not sent:
        return "", ""
    said = "; ".join(f"{link}: {pkt}" for link, pkt in lab.icmp6) or f"Icmp6Out counters moved: {sent}"
    if types and types <= CHATTER:
        return "noise", f"B's own ICMPv6 in the window: {said}"
    return "skipped", f"B sent ICMPv6 about the packet (not traced by hairpin): {said}"


def hairpin_case(k: kd.Kernel, p: kd.Probe) -> kd.Hairpin:
    """hairpin's trace on B's IPv6 dumps (``kernel_diff.hairpin_case`` with ``family=6``)."""
    return kd.hairpin_case(k, p, family=6)


def one(seed: int, attempts: int = 20, trace: bool = True) -> kd.Result:
    """Case ``seed`` (statuses as ``kernel_diff.one``'s, and ``noise``); without ``trace``, the kernel's side alone
    (status ``kernel``: loaded, sent, read, no noise)."""
    r = random.Random(seed)
    p = probe(r)
    text = ""
    k, lab = kd.Kernel(False), Lab([], {})
    for _ in range(attempts):
        text = ruleset(r, p)
        k, lab = run_case(text, p)
        if k.loaded:
            break
    if not k.loaded:
        return kd.Result(seed, text, p, "refused", detail=k.error)
    status, why = noise(lab)
    if status:
        return kd.Result(seed, text, p, status, detail=why)
    if kd.NFT_PORT_PAIR.search(k.dumps["iptables-save"]):
        return kd.Result(seed, text, p, "skipped", detail="a rule with ! --sport A ! --dport B (iptables-nft's one compare)")
    if not trace:
        return kd.Result(seed, text, p, "kernel", matched=sum(1 for n in k.counts.values() if n))
    h = hairpin_case(k, p)
    if h.undecided:
        return kd.Result(seed, text, p, "undecided", detail="; ".join(h.undecided))
    if h.skipped:
        return kd.Result(seed, text, p, "skipped", detail=h.skipped)
    diffs = kd.compare(k, h)
    return kd.Result(seed, k.dumps["iptables-save"], p, "differ" if diffs else "agree", diffs, h.text, h.fate,
                     sum(1 for n in k.counts.values() if n))  # fmt: skip
