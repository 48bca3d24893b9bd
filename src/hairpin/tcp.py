"""Linux TCP endpoints, as far as connection set-up goes.

- A connecting socket (SYN_SENT) sends SYN and retransmits it on the kernel's schedule: the RTO starts
  at TCP_TIMEOUT_INIT (1 s) and doubles (tcp_retransmit_timer), up to ``tcp_syn_retries``
  retransmissions; the connect fails with ETIMEDOUT when the time tcp_model_timeout() allows has passed
  (1+2+4+8+16+32+64 = 127 s for the default 6).  Kernels >= 6.5 add ``tcp_syn_linear_timeouts``
  (default 4): that many extra retransmissions at a constant 1 s before the doubling starts
  (commit ccce324dabfe "tcp: make the first N SYN RTO backoffs linear"); the reference README measured
  SYNs at 0,1,2,3,4,5,7,11,19,35,69 s and ETIMEDOUT at ~134 s on this kind of machine.
- A listener answers SYN with SYN/ACK from a request socket (SYN_RECV), retransmits it (tcp_synack_retries,
  default 5), completes on the ACK and drops the request on a RST.
- A segment that matches no socket gets a RST as tcp_v4_send_reset builds it: if the segment had ACK,
  RST with seq = its ack; otherwise RST|ACK with ack = seq + SYN + FIN + payload length.  No RST answers
  a RST.
- SYN_SENT accepting a SYN/ACK needs the exact 4-tuple and ack = ISN + 1 (tcp_rcv_synsent_state_process);
  a SYN/ACK from another address matches no socket at all, which is the seed's step 6.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hairpin.engine import Engine, Timer
from hairpin.model.net import Endpoint, Flags, Packet

# TCP header bits as plain ints: IntFlag arithmetic runs in Python, int arithmetic in C
_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10

__all__ = ["Connector", "Listener", "TcpStack", "rst_for", "syn_schedule"]

TCP_TIMEOUT_INIT = 1.0
TCP_RTO_MAX = 120.0


def syn_schedule(syn_retries: int = 6, linear_timeouts: int = 0) -> tuple[list[float], float]:
    """(times the SYNs are sent, time connect() fails with ETIMEDOUT), relative to the first SYN."""
    rtos: list[float] = []
    retransmits = syn_retries + linear_timeouts
    rto = TCP_TIMEOUT_INIT
    for i in range(retransmits + 1):
        if i < linear_timeouts + 1:
            rtos.append(TCP_TIMEOUT_INIT)
        else:
            rto = min(rto * 2, TCP_RTO_MAX)
            rtos.append(rto)
    times = [0.0]
    for r in rtos[:-1]:
        times.append(times[-1] + r)
    return times, times[-1] + rtos[-1]


def rst_for(p: Packet) -> Packet:
    """The RST tcp_v4_send_reset (IPv6: tcp_v6_send_reset, the same fields) sends in answer to segment ``p``
    (addresses swapped)."""
    if int(p.flags) & _ACK:
        return Packet(p.dst, p.dport, p.src, p.sport, Flags.RST, seq=p.ack, ack=0)
    length = len(p.payload) + (1 if int(p.flags) & _SYN else 0) + (1 if int(p.flags) & _FIN else 0)
    return Packet(p.dst, p.dport, p.src, p.sport, Flags.RST | Flags.ACK, seq=0, ack=(p.seq + length) & 0xFFFFFFFF)


@dataclass
class Connector:
    """A socket in connect(): SYN_SENT until a valid SYN/ACK, a RST, or ETIMEDOUT."""

    local: Endpoint
    remote: Endpoint
    isn: int
    state: str = "SYN_SENT"
    started: float = 0.0
    finished: float | None = None
    outcome: str | None = None  # established | timeout | reset
    syns: int = 0
    timer: Timer | None = None
    on_done: Callable[[Connector], None] | None = None


@dataclass
class _Request:
    local: Endpoint
    remote: Endpoint
    isn: int
    client_isn: int
    timer: Timer | None = None
    retries: int = 0
    payload: bytes = b""


@dataclass
class Listener:
    local: Endpoint  # addr 0 = any address
    accepted: list[tuple[Endpoint, Endpoint, bytes]] = field(default_factory=list)


class TcpStack:
    """The TCP sockets of one namespace.  ``send`` hands a packet to the host's output path."""

    def __init__(
        self,
        engine: Engine,
        send: Callable[[Packet, str], None],
        isn: Callable[[], int],
        syn_retries: int = 6,
        linear_timeouts: int = 0,
        synack_retries: int = 5,
    ) -> None:
        self.engine = engine
        self.send = send
        self.isn = isn
        self.syn_retries = syn_retries
        self.linear_timeouts = linear_timeouts
        self.synack_retries = synack_retries
        self.listeners: dict[tuple[int, int], Listener] = {}
        self.connectors: dict[tuple[int, int, int, int], Connector] = {}
        self.requests: dict[tuple[int, int, int, int], _Request] = {}
        self.established: set[tuple[int, int, int, int]] = set()

    def reset(self) -> None:
        if not (self.connectors or self.requests or self.established or self.listeners):
            return  # nothing to forget (the tracer's host, reset before every path)
        for c in self.connectors.values():
            if c.timer:
                c.timer.cancel()
        for r in self.requests.values():
            if r.timer:
                r.timer.cancel()
        self.connectors.clear()
        self.requests.clear()
        self.established.clear()
        for listener in self.listeners.values():
            listener.accepted.clear()

    def listen(self, addr: int, port: int) -> Listener:
        listener = Listener(Endpoint(addr, port))
        self.listeners[(addr, port)] = listener
        return listener

    # -- active open
    def connect(
        self, local: Endpoint, remote: Endpoint, on_done: Callable[[Connector], None] | None = None
    ) -> Connector:
        c = Connector(local, remote, self.isn(), started=self.engine.now, on_done=on_done)
        self.connectors[(local.addr, local.port, remote.addr, remote.port)] = c
        times, give_up = syn_schedule(self.syn_retries, self.linear_timeouts)
        start = self.engine.now

        def fire(i: int) -> None:
            if c.state != "SYN_SENT":
                return
            if i < len(times):
                c.syns += 1
                self.send(Packet(local.addr, local.port, remote.addr, remote.port, Flags.SYN, seq=c.isn), _syn_note(i))
                nxt = times[i + 1] if i + 1 < len(times) else give_up
                c.timer = self.engine.at(start + nxt, lambda: fire(i + 1), priority=1)
            else:
                self._finish(c, "timeout")

        fire(0)
        return c

    def _finish(self, c: Connector, outcome: str) -> None:
        c.state = {"established": "ESTABLISHED", "timeout": "CLOSED", "reset": "CLOSED"}[outcome]
        c.outcome = outcome
        c.finished = self.engine.now
        if c.timer:
            c.timer.cancel()
        if c.on_done:
            c.on_done(c)

    # -- input
    def receive(self, p: Packet) -> str:
        """Handle a segment delivered to this namespace; returns what happened, in words."""
        key = (p.dst, p.dport, p.src, p.sport)
        c = self.connectors.get(key)
        if c is not None and c.state == "SYN_SENT":
            if int(p.flags) & _RST:
                if int(p.flags) & _ACK and p.ack == (c.isn + 1) & 0xFFFFFFFF:
                    self._finish(c, "reset")
                    return "RST accepted in SYN_SENT: connect() fails with ECONNREFUSED"
                return "RST ignored (unacceptable ack)"
            if int(p.flags) & _SYN and int(p.flags) & _ACK:
                if p.ack != (c.isn + 1) & 0xFFFFFFFF:
                    self.send(rst_for(p), "SYN/ACK with a bad ack in SYN_SENT: RST")
                    return "SYN/ACK with bad ack: RST"
                self._finish(c, "established")
                self.established.add(key)
                self.send(
                    Packet(p.dst, p.dport, p.src, p.sport, Flags.ACK, seq=(c.isn + 1) & 0xFFFFFFFF,
                           ack=(p.seq + 1) & 0xFFFFFFFF),
                    "SYN/ACK matches the connecting socket: ESTABLISHED, ACK",
                )  # fmt: skip
                return "SYN/ACK accepted: connection ESTABLISHED"
            return "segment ignored in SYN_SENT"
        if key in self.established or (c is not None and c.state == "ESTABLISHED"):
            return "segment for an established socket"
        req = self.requests.get(key)
        if req is not None:
            if int(p.flags) & _RST:
                if req.timer:
                    req.timer.cancel()
                del self.requests[key]
                return "RST drops the request socket (SYN_RECV)"
            if int(p.flags) & _SYN and not int(p.flags) & _ACK:
                self._send_synack(req, "retransmitted SYN: SYN/ACK again")
                return "retransmitted SYN for a request socket: SYN/ACK again"
            if int(p.flags) & _ACK and p.ack == (req.isn + 1) & 0xFFFFFFFF:
                if req.timer:
                    req.timer.cancel()
                del self.requests[key]
                self.established.add(key)
                listener = self._listener(p)
                if listener is not None:
                    listener.accepted.append((req.remote, req.local, p.payload))
                return "ACK completes the handshake: accept()"
        listener = self._listener(p)
        if listener is not None and int(p.flags) & _SYN and not int(p.flags) & _ACK:
            local, remote = Endpoint(p.dst, p.dport), Endpoint(p.src, p.sport)
            req = _Request(local, remote, self.isn(), p.seq)
            self.requests[key] = req
            self._send_synack(req, f"listener {listener.local.port}: SYN_RECV, SYN/ACK")
            return f"SYN to listening socket :{p.dport}: request socket (SYN_RECV)"
        if int(p.flags) & _RST:
            return "RST for no socket: ignored"
        why = "no socket matches" if listener is None else "no request socket matches"
        sender = "tcp_v6_send_reset" if p.dst > 0xFFFFFFFF else "tcp_v4_send_reset"  # net/ipv6/tcp_ipv6.c for IPv6
        self.send(rst_for(p), f"{why} {p.dest} <- {p.source}: RST ({sender})")
        return f"{why}: RST"

    def _listener(self, p: Packet) -> Listener | None:
        return self.listeners.get((p.dst, p.dport)) or self.listeners.get((0, p.dport))

    def _send_synack(self, req: _Request, note: str) -> None:
        self.send(
            Packet(req.local.addr, req.local.port, req.remote.addr, req.remote.port, Flags.SYN | Flags.ACK,
                   seq=req.isn, ack=(req.client_isn + 1) & 0xFFFFFFFF),
            note,
        )  # fmt: skip
        if req.timer:
            req.timer.cancel()
        if req.retries < self.synack_retries:
            delay = TCP_TIMEOUT_INIT * (2**req.retries)
            key = (req.local.addr, req.local.port, req.remote.addr, req.remote.port)

            def again() -> None:
                if self.requests.get(key) is req:
                    req.retries += 1
                    self._send_synack(req, f"SYN/ACK retransmission {req.retries} (tcp_synack_retries)")

            req.timer = self.engine.after(delay, again, priority=1)


def _syn_note(i: int) -> str:
    return "connect(): SYN" if i == 0 else f"SYN retransmission {i} (RTO expired)"
