"""The Classic Load Balancer with a TCP listener: a proxy, so it cannot hairpin.

What the model rests on (AWS Elastic Load Balancing docs):

- A Classic Load Balancer's TCP listener terminates the client's connection and opens its own connection
  to a registered instance: "the load balancer node ... opens a connection to the selected instance"
  and, for TCP, "Classic Load Balancers ... use the round robin routing algorithm for TCP listeners"
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/how-elastic-load-balancing-works.html,
  "Routing algorithm").  The backend connection's source is the load balancer node's own address: the
  instance never sees the caller's address unless Proxy Protocol (v1 for CLB) is enabled
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/enable-proxy-protocol.html).
- So the backend's SYN/ACK is addressed to the load balancer, never to the caller, and the caller's own
  node cannot short-circuit it: no hairpin, whatever node is picked.
- Cross-zone load balancing and targets (node IP:NodePort of every registered node, health by
  externalTrafficPolicy) follow the same rules as for the NLB (``hairpin.aws.nlb.targets_for``).

Simplifications: each simulated connection starts from clean state, so round robin is modelled as a
uniform choice keyed per connection (what one connection among many sees); the front connection is
accepted at once (SYN/ACK from the listener) and the backend connection opened at the same time; no data
is exchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from hairpin.aws.nlb import Target, targets_for
from hairpin.model.net import Endpoint, Flags, Packet, ip_int, ip_str
from hairpin.scenario import Scenario, Service

__all__ = ["Clb", "ClbNode", "Proxied"]

_EPHEMERAL = (1024, 65535)


@dataclass(frozen=True)
class ClbNode:
    az: str
    addr: int
    port: int
    targets: tuple[Target, ...]


@dataclass
class Proxied:
    """One client connection and the load balancer's own connection to a target."""

    node: ClbNode
    client: Endpoint
    listener: Endpoint
    back: Endpoint  # the load balancer's side of the backend connection
    target: Target
    front_isn: int
    back_isn: int
    front_established: bool = False
    back_established: bool = False


class Clb:
    """The nodes of one Classic Load Balancer and their proxied connections."""

    def __init__(self, s: Scenario, svc: Service, key: bytes = b"hairpin") -> None:
        lb = svc.load_balancer
        assert lb is not None
        self.service = svc
        self.key = hashlib.blake2b(key, digest_size=16).digest()
        enabled = {az for az, _ in lb.nodes}
        registered = [t for t in targets_for(s, svc) if t.az in enabled]
        port = svc.ports[0].port
        self.nodes: dict[int, ClbNode] = {}
        for az, addr in lb.nodes:
            pool = registered if lb.cross_zone else [t for t in registered if t.az == az]
            healthy = tuple(t for t in pool if t.healthy) or tuple(pool)
            self.nodes[ip_int(addr)] = ClbNode(az, ip_int(addr), port, healthy)
        self.front: dict[tuple[int, int, int, int], Proxied] = {}
        self.back: dict[tuple[int, int], Proxied] = {}  # (lb addr, lb port) of the backend connection

    def reset(self) -> None:
        self.front.clear()
        self.back.clear()

    def owns(self, addr: int) -> bool:
        return addr in self.nodes

    def _hash(self, *parts: object) -> int:
        data = "|".join(str(p) for p in parts).encode()
        return int.from_bytes(hashlib.blake2b(data, key=self.key, digest_size=8).digest(), "big")

    @property
    def connections(self) -> list[Proxied]:
        return list(self.front.values())

    def handle(self, p: Packet) -> list[tuple[Packet, str]]:
        """A packet addressed to a load balancer node: what the node sends in answer, and why."""
        node = self.nodes.get(p.dst)
        if node is None:
            return []
        conn = self.back.get((p.dst, p.dport))
        if conn is not None:  # from the target, on the load balancer's own connection
            return self._from_target(conn, p)
        if p.dport != node.port:
            return []
        key = (p.src, p.sport, p.dst, p.dport)
        conn = self.front.get(key)
        if p.flags & Flags.SYN and not p.flags & Flags.ACK:
            out: list[tuple[Packet, str]] = []
            if conn is None:
                if not node.targets:
                    return []
                target = node.targets[self._hash(p.src, p.sport, p.seq) % len(node.targets)]
                lo, hi = _EPHEMERAL
                back = Endpoint(node.addr, lo + self._hash("port", p.src, p.sport) % (hi - lo))
                conn = Proxied(node, p.source, p.dest, back, target, self._hash("isn", 1) & 0xFFFFFFFF,
                               self._hash("isn", 2) & 0xFFFFFFFF)  # fmt: skip
                self.front[key] = conn
                self.back[(back.addr, back.port)] = conn
                pool = ", ".join(t.name for t in node.targets)
                syn = Packet(back.addr, back.port, target.addr, target.port, Flags.SYN, conn.back_isn)
                out.append((syn, (
                    f"CLB {ip_str(node.addr)} ({node.az}): opens its own connection {back} -> {target} "
                    f"({target.name}, picked from [{pool}]); the target sees the load balancer's address, "
                    "not the caller's"
                )))  # fmt: skip
            synack = Packet(node.addr, node.port, p.src, p.sport, Flags.SYN | Flags.ACK, conn.front_isn,
                            (p.seq + 1) & 0xFFFFFFFF)  # fmt: skip
            out.insert(0, (synack, (
                f"CLB {ip_str(node.addr)} ({node.az}): TCP listener terminates the client's connection "
                f"{p.source} -> {p.dest} itself (a proxy): SYN/ACK from the listener"
            )))  # fmt: skip
            return out
        if conn is not None and p.flags & Flags.ACK and not conn.front_established:
            conn.front_established = True
        return []

    def _from_target(self, conn: Proxied, p: Packet) -> list[tuple[Packet, str]]:
        if p.flags & Flags.SYN and p.flags & Flags.ACK:
            conn.back_established = True
            ack = Packet(conn.back.addr, conn.back.port, p.src, p.sport, Flags.ACK, (conn.back_isn + 1) & 0xFFFFFFFF,
                         (p.seq + 1) & 0xFFFFFFFF)  # fmt: skip
            return [(ack, (
                f"CLB {ip_str(conn.node.addr)}: backend connection {conn.back} -> {conn.target} established; "
                f"client bytes from {conn.client} will be relayed on it"
            ))]  # fmt: skip
        return []
