"""The IPVS data plane as kube-proxy's IPVS mode uses it: virtual servers, the rr scheduler and
IPVS's own connection table with its TCP states and timeouts.  ``hairpin.host.LinuxHost`` calls it
from the hooks IPVS registers (see there).

What it knows (Linux net/netfilter/ipvs/ip_vs_core.c, ip_vs_rr.c, ip_vs_conn.c, ip_vs_proto_tcp.c):

- a virtual server is (protocol, address, port) with a scheduler and real servers (destinations);
  a packet is looked up in ``ip_vs_in`` at NF_INET_LOCAL_IN, so its destination must already be a
  local address (kube-proxy binds ClusterIPs/LB IPs to the dummy ``kube-ipvs0``; NodePorts use the
  node's own addresses);
- ``rr`` (kube-proxy's default scheduler) walks the destination list round-robin, starting after
  the list head: the first new connection goes to the first destination, the next to the second...;
- a connection entry keyed by (protocol, client address, client port, vaddr, vport) pins later
  packets of the same connection to the same destination; in NAT (masquerading) forwarding the
  request's destination becomes the real server, and the reply (seen by ``ip_vs_out`` at FORWARD,
  or LOCAL_OUT/LOCAL_IN for a local real server) gets its source rewritten back to vaddr:vport;
- IPVS does not change the source: kube-proxy's iptables rules mark NodePort traffic
  (KUBE-NODE-PORT, ipset KUBE-NODE-PORT-TCP) for masquerade in POSTROUTING (mark 0x4000), and
  conntrack (``net.ipv4.vs.conntrack=1``, set by kube-proxy) undoes that SNAT on the reply before
  ``ip_vs_out`` restores vaddr:vport;
- a connection entry has a TCP state driven by ip_vs_proto_tcp.c's ``tcp_states`` table (INPUT:
  packets from the client, OUTPUT: from the real server; RST is looked at first, then SYN, FIN, ACK)
  and expires ``tcp_timeouts[state]`` after its last packet.  A SYN that finds a live entry reuses
  it (``conn_reuse_mode`` reschedules only entries in TIME_WAIT), so a client's retransmitted SYNs
  keep their real server; notably an RST from the client in SYN_RECV leaves the entry in SYN_RECV
  (60 s), so retransmits 1..32 s apart never reschedule.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from hairpin.model.net import Flags, ip_str

__all__ = ["TCP_TIMEOUTS", "Connection", "IpvsTable", "VirtualServer", "tcp_next"]

#: ip_vs_proto_tcp.c tcp_timeouts (seconds)
TCP_TIMEOUTS = {
    "NONE": 2.0, "ESTABLISHED": 900.0, "SYN_SENT": 120.0, "SYN_RECV": 60.0, "FIN_WAIT": 120.0,
    "TIME_WAIT": 120.0, "CLOSE": 10.0, "CLOSE_WAIT": 60.0, "LAST_ACK": 30.0, "LISTEN": 120.0,
    "SYNACK": 120.0,
}  # fmt: skip

_STATES = ("NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE", "CLOSE_WAIT",
           "LAST_ACK", "LISTEN", "SYNACK")  # fmt: skip
_NO, _ES, _SS, _SR, _FW, _TW, _CL, _CW, _LA, _LI, _SA = _STATES
#: ip_vs_proto_tcp.c tcp_states: direction -> flag row -> next state by current state (column order _STATES)
_TABLE: dict[str, dict[str, tuple[str, ...]]] = {
    "input": {
        "syn": (_SR, _ES, _ES, _SR, _SR, _SR, _SR, _SR, _SR, _SR, _SR),
        "fin": (_CL, _CW, _SS, _TW, _TW, _TW, _CL, _CW, _LA, _LI, _TW),
        "ack": (_CL, _ES, _SS, _ES, _FW, _TW, _CL, _CW, _CL, _LI, _ES),
        "rst": (_CL, _CL, _CL, _SR, _CL, _CL, _CL, _CL, _LA, _LI, _SR),
    },
    "output": {
        "syn": (_SS, _ES, _SS, _SR, _SS, _SS, _SS, _SS, _SS, _LI, _SR),
        "fin": (_TW, _FW, _SS, _TW, _FW, _TW, _CL, _TW, _LA, _LI, _TW),
        "ack": (_ES, _ES, _SS, _ES, _FW, _TW, _CL, _CW, _LA, _ES, _ES),
        "rst": (_CL, _CL, _SS, _CL, _CL, _TW, _CL, _CL, _CL, _CL, _CL),
    },
}  # fmt: skip


def tcp_next(state: str, direction: str, flags: Flags) -> str:
    """The IPVS TCP state after a segment (``set_tcp_state``: RST, else SYN, else FIN, else ACK)."""
    if flags & Flags.RST:
        row = "rst"
    elif flags & Flags.SYN:
        row = "syn"
    elif flags & Flags.FIN:
        row = "fin"
    elif flags & Flags.ACK:
        row = "ack"
    else:
        return state
    return _TABLE[direction][row][_STATES.index(state)]


@dataclass
class VirtualServer:
    """One IPVS service: ``ipvsadm -A -t addr:port -s rr`` plus its ``-a -r dest -m`` real servers."""

    proto: str
    addr: int
    port: int
    dests: list[tuple[int, int]]
    scheduler: str = "rr"
    _next: int = field(default=0, repr=False)

    def schedule(self) -> tuple[int, int] | None:
        """The next real server (ip_vs_rr_schedule); None: no destinations (the packet is dropped)."""
        if not self.dests:
            return None
        if self.scheduler != "rr":
            raise ValueError(f"scheduler {self.scheduler!r} is not modelled (rr only)")
        dest = self.dests[self._next % len(self.dests)]
        self._next = (self._next + 1) % len(self.dests)
        return dest


@dataclass(eq=False)
class Connection:
    """An IPVS connection entry: client, virtual address, the chosen real server, its TCP state."""

    proto: str
    client: tuple[int, int]
    vaddr: tuple[int, int]
    dest: tuple[int, int]
    state: str = "NONE"
    expires: float = 0.0

    def touch(self, direction: str, flags: Flags, now: float) -> None:
        """A segment in ``direction`` ("input": from the client, "output": from the real server)."""
        if self.proto == "tcp":
            self.state = tcp_next(self.state, direction, flags)
            self.expires = now + TCP_TIMEOUTS[self.state]
        else:
            self.expires = now + 300.0  # ip_vs_proto_udp.c: IP_VS_UDP_S_NORMAL 5*60

    def describe(self) -> str:
        c, v, d = self.client, self.vaddr, self.dest
        return (f"{self.proto.upper()} {ip_str(c[0])}:{c[1]} -> {ip_str(v[0])}:{v[1]} -> "
                f"{ip_str(d[0])}:{d[1]} {self.state}")  # fmt: skip


@dataclass
class IpvsTable:
    """All virtual servers of one host and its connection table."""

    services: dict[tuple[str, int, int], VirtualServer] = field(default_factory=dict)
    conns: dict[tuple[str, int, int, int, int], Connection] = field(default_factory=dict)
    #: Set by the tracer: asked (probability, what) at each scheduling step instead of running the
    #: scheduler, so every real server becomes a branch (where rr stands is unknown: 1/n each).
    choose: Callable[[Fraction, str], bool] | None = field(default=None, repr=False, compare=False)

    def add(self, vs: VirtualServer) -> None:
        self.services[(vs.proto, vs.addr, vs.port)] = vs

    def lookup(self, proto: str, addr: int, port: int) -> VirtualServer | None:
        return self.services.get((proto, addr, port))

    def inbound(
        self, proto: str, src: int, sport: int, dst: int, dport: int, flags: Flags = Flags.SYN, now: float = 0.0
    ) -> Connection | None:
        """``ip_vs_in`` for a packet at LOCAL_IN (or LOCAL_OUT): the connection it belongs to (created
        and scheduled for a new one; an expired entry is gone).  None: not for a virtual server, or
        no destination."""
        key = (proto, src, sport, dst, dport)
        conn = self.conns.get(key)
        if conn is not None and conn.expires <= now:
            del self.conns[key]
            conn = None
        if conn is None:
            vs = self.lookup(proto, dst, dport)
            if vs is None:
                return None
            if proto == "tcp" and not flags & Flags.SYN:
                return None  # ip_vs_in schedules only on a SYN (tcp_conn_schedule); others pass untouched
            dest = self._schedule(vs)
            if dest is None:
                return None
            conn = Connection(proto, (src, sport), (dst, dport), dest)
            self.conns[key] = conn
        conn.touch("input", flags, now)
        return conn

    def outbound(
        self, proto: str, src: int, sport: int, dst: int, dport: int, flags: Flags = Flags.ACK, now: float = 0.0
    ) -> Connection | None:
        """``ip_vs_out`` for a reply from a real server (after conntrack undid any masquerade): the
        live connection whose client is (dst, dport) and real server is (src, sport)."""
        for conn in self.conns.values():
            if conn.proto == proto and conn.dest == (src, sport) and conn.client == (dst, dport):
                if conn.expires <= now:
                    return None
                conn.touch("output", flags, now)
                return conn
        return None

    def forwarded(self, proto: str, src: int, sport: int, dst: int, dport: int) -> Connection | None:
        """The connection a packet from the client to the real server belongs to (xt_ipvs's lookup:
        ``conn_out_get`` on an inverted header, ip_vs_conn.c ``ip_vs_conn_out_get``): client ==
        (src, sport), real server == (dst, dport)."""
        for conn in self.conns.values():
            if conn.proto == proto and conn.client == (src, sport) and conn.dest == (dst, dport):
                return conn
        return None

    def _schedule(self, vs: VirtualServer) -> tuple[int, int] | None:
        if self.choose is None:
            return vs.schedule()
        if len(vs.dests) < 2:
            return vs.dests[0] if vs.dests else None
        n = len(vs.dests)
        name = f"IPVS {vs.proto.upper()} {ip_str(vs.addr)}:{vs.port} {vs.scheduler}"
        for i, (a, p) in enumerate(vs.dests[:-1]):
            if self.choose(Fraction(1, n - i), f"{name} -> {ip_str(a)}:{p} (real server {i + 1} of {n})"):
                return vs.dests[i]
        return vs.dests[-1]

    def forget(self, conn: Connection) -> None:
        self.conns.pop((conn.proto, *conn.client, *conn.vaddr), None)

    def reset(self) -> None:
        """Drop every connection entry (the schedulers keep their position)."""
        self.conns.clear()

    def spin(self, rng: random.Random) -> None:
        """Put every rr scheduler at a position drawn from ``rng`` (the traffic of other clients)."""
        for vs in self.services.values():
            if vs.dests:
                vs._next = rng.randrange(len(vs.dests))
