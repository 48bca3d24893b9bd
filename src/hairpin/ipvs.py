"""The IPVS data plane as kube-proxy's IPVS mode uses it: virtual servers, the rr scheduler and
IPVS's own connection table (no simulator host is wired to it yet: see docs/modes.md).

What it knows (Linux net/netfilter/ipvs/ip_vs_core.c, ip_vs_rr.c, ip_vs_conn.c):

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
  ``ip_vs_out`` restores vaddr:vport.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Connection", "IpvsTable", "VirtualServer"]


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


@dataclass(frozen=True)
class Connection:
    """An IPVS connection entry: client, virtual address and the chosen real server."""

    proto: str
    client: tuple[int, int]
    vaddr: tuple[int, int]
    dest: tuple[int, int]


@dataclass
class IpvsTable:
    """All virtual servers of one host and its connection table."""

    services: dict[tuple[str, int, int], VirtualServer] = field(default_factory=dict)
    conns: dict[tuple[str, int, int, int, int], Connection] = field(default_factory=dict)

    def add(self, vs: VirtualServer) -> None:
        self.services[(vs.proto, vs.addr, vs.port)] = vs

    def lookup(self, proto: str, addr: int, port: int) -> VirtualServer | None:
        return self.services.get((proto, addr, port))

    def inbound(self, proto: str, src: int, sport: int, dst: int, dport: int) -> Connection | None:
        """``ip_vs_in`` for a packet at LOCAL_IN: the connection it belongs to (created and scheduled
        for a new one).  None: not for a virtual server, or no destination."""
        key = (proto, src, sport, dst, dport)
        conn = self.conns.get(key)
        if conn is not None:
            return conn
        vs = self.lookup(proto, dst, dport)
        if vs is None:
            return None
        dest = vs.schedule()
        if dest is None:
            return None
        conn = Connection(proto, (src, sport), (dst, dport), dest)
        self.conns[key] = conn
        return conn

    def outbound(self, proto: str, src: int, sport: int, dst: int, dport: int) -> Connection | None:
        """``ip_vs_out`` for a reply from a real server (after conntrack undid any masquerade): the
        connection whose client is (dst, dport) and real server is (src, sport)."""
        for conn in self.conns.values():
            if conn.proto == proto and conn.dest == (src, sport) and conn.client == (dst, dport):
                return conn
        return None

    def forget(self, conn: Connection) -> None:
        self.conns.pop((conn.proto, *conn.client, *conn.vaddr), None)
