"""What a caller sent back to its own node sees, by the protocols of the target groups that keep its address.

``hairpin check`` calls a Service at risk when an in-cluster caller can be routed back to its own node through
an internal NLB that preserves the client IP (``hairpin.diagnose.check``).  The asymmetric return is the same for
TCP and UDP: the NLB rewrites only the destination (client IP preservation is on, and cannot be turned off, for
UDP, TCP_UDP, QUIC and TCP_QUIC target groups: AWS, "Edit target group attributes for your Network Load
Balancer", Client IP preservation), and the reply leaves the caller's node for the caller without passing the
NLB.  What the caller then sees differs:

- **TCP**: the SYN/ACK comes from the node (or target pod), not the NLB's address, matches no socket, is reset,
  and ``connect()`` retransmits its SYN to the same target until it gives up (``hairpin.tcp``, docs/model.md).
- **UDP** (and QUIC, which runs over it): the reply datagram comes from the node's address and NodePort (instance
  targets: conntrack restores the NodePort the NLB sent to) or the pod's address and port (ip targets), not the
  NLB listener's.  A connected UDP socket does not take a datagram from another address (Linux
  ``net/ipv4/udp.c``, ``compute_score``: a socket with a remote address scores -1 for any other source), and with
  no socket to take it the kernel answers ICMP port unreachable (``__udp4_lib_rcv``).  An unconnected socket
  hands the application a reply from an address it did not send to, which a client that checks the reply's
  source ignores.  Either way the caller gets no answer and waits out its own timeout: UDP has no
  retransmission or ``connect()`` timeout of its own.  The NLB hashes a UDP flow on protocol, addresses and ports
  (no sequence number), "so it is consistently routed to a single target throughout its lifetime" (AWS, "How
  Elastic Load Balancing works", Routing algorithm): every retry from the same socket reaches the same target,
  and P is per flow, a new source port drawing again.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["TCP_LIKE", "UDP_LIKE", "consequence"]

#: target group protocols that carry TCP connections, and those that carry UDP datagrams (TCP_UDP: both)
TCP_LIKE = frozenset({"TCP", "TLS", "TCP_UDP", "TCP_QUIC"})
UDP_LIKE = frozenset({"UDP", "TCP_UDP", "QUIC", "TCP_QUIC"})

_TCP = {
    "instance": "the SYN reaches the caller's own node with the caller's address as source; the reply is de-NATed "
                "there and handed straight to the caller, which resets it, and the connection times out",
    "ip": "the target pod answers the caller directly on their shared node, the caller resets it, and it times out",
}  # fmt: skip
_UDP = {
    "instance": "a UDP datagram reaches the caller's own node with the caller's address as source; the reply is "
                "de-NATed there and handed straight to the caller from the node's address and NodePort, not the "
                "NLB's",
    "ip": "a UDP datagram reaches a target pod on the caller's own node, which answers the caller directly from its "
          "own address and port, not the NLB's",
}  # fmt: skip
_UDP_TAIL = ("a connected UDP socket does not take it (its kernel answers ICMP port unreachable) and a client that "
             "checks the reply's source ignores it, so the caller gets no answer and waits out its own timeout; "
             "retries from the same socket are the same NLB flow and land on the same target (P is per flow)")  # fmt: skip


def consequence(protocols: Iterable[str], targets: str) -> str:
    """What the caller sees, for the target groups' ``protocols`` that preserve the client IP (none known: TCP)
    and ``targets`` ("instance" or "ip")."""
    protos = {p.upper() for p in protocols}
    tcp = bool(protos & TCP_LIKE) or not protos & UDP_LIKE  # (no protocol known: TCP)
    udp = bool(protos & UDP_LIKE)
    udp_text = f"{_UDP[targets]}: {_UDP_TAIL}"
    if tcp and udp:
        return f"TCP: {_TCP[targets]}; UDP: {udp_text}"
    return udp_text if udp else _TCP[targets]
