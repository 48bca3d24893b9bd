"""The deterministic simulator: a scenario's topology built from simulated Linux hosts, the VPC and the NLB.

``run(scenario, connections=N, seed=S)`` makes N connections from the scenario's client to its Service
and returns every connection's outcome, the timeout rate and the closed-form expected rate.
``connect(scenario, client_port=..., target=...)`` makes one connection, optionally forcing the NLB's
choice (the lab uses this to replay what its real NLB emulation picked).

Each connection starts from a clean network state (empty conntrack tables and flow tables) at simulated
time 0, with random sources (ISNs, MASQUERADE ports, kube-proxy's endpoint choice, the NLB's flow-hash
key) seeded from (seed, connection id), so connection 17 of a run is the same whether it is run alone or
among a thousand, and the same seed gives byte-identical output.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from hairpin.aws.clb import Clb
from hairpin.aws.nlb import Nlb, NlbNode, NlbSet, Target
from hairpin.aws.vpc import VpcRouter
from hairpin.backends.memo import Course, Memo, MemoConflict
from hairpin.backends.streams import host_stream, ipvs_stream
from hairpin.engine import Engine
from hairpin.host import Fabric, LinuxHost
from hairpin.kube import node_nft
from hairpin.model.hop import Hop
from hairpin.model.net import Endpoint, Flags, Packet, addr_int, ip_str
from hairpin.notes import Note
from hairpin.parsers import iptables_save
from hairpin.routing import RouteEntry, Routing, RuleEntry, parse_cidr
from hairpin.scenario import FIXES, Scenario, with_fix
from hairpin.tcp import Connector
from hairpin.topology import Namespace, Topology, build

__all__ = ["Connection", "Network", "Run", "Summary", "connect", "run"]

LINK_DELAY = 0.000050  # one veth / ENI hop
NLB_DELAY = 0.000200  # NLB node processing and fabric
EPHEMERAL = (32768, 60999)  # net.ipv4.ip_local_port_range


@dataclass
class Connection:
    id: int
    client: str
    service: str
    target: str
    outcome: str  # established | timeout | reset
    elapsed_s: float
    hops: list[Hop]
    syns: int = 1
    hairpin: bool = False

    def to_json(self, hops: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "client": self.client,
            "service": self.service,
            "target": self.target,
            "outcome": self.outcome,
            "elapsed_s": round(self.elapsed_s, 6),
        }
        if hops:
            out["hops"] = [h.to_json() for h in self.hops]
        return out


class Replayed(Connection):
    """A connection whose course came from the memo (``hairpin.backends.memo``): its hops are simulated
    the first time they are asked for (the same connection again: it is seeded from (seed, id))."""

    def __init__(self, conn_id: int, client: str, course: Course, replay: Callable[[], list[Hop]] | None) -> None:
        super().__init__(conn_id, client, course.service, course.target, course.outcome, course.elapsed_s, [],
                         course.syns, course.hairpin)  # fmt: skip
        self._replay = replay

    @property
    def hops(self) -> list[Hop]:
        if self._replay is not None:
            self._hops, self._replay = self._replay(), None
        return self._hops

    @hops.setter
    def hops(self, value: list[Hop]) -> None:
        self._hops, self._replay = value, None


@dataclass
class Summary:
    attempts: int
    timeouts: int
    resets: int
    established: int
    expected_rate: float

    @property
    def rate(self) -> float:
        return self.timeouts / self.attempts if self.attempts else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "timeouts": self.timeouts,
            "rate": round(self.rate, 6),
            "expected_rate": round(self.expected_rate, 6),
        }


@dataclass
class Run:
    scenario: Scenario
    seed: int
    connections: list[Connection]
    summary: Summary
    fixes: list[tuple[str, Summary, str]] = field(default_factory=list)

    def example(self, outcome: str) -> Connection | None:
        for c in self.connections:
            if c.outcome == outcome:
                return c
        return None

    def to_json(self, all_hops: bool = False) -> dict[str, Any]:
        shown = {c.id for c in (self.example("timeout"), self.example("established")) if c is not None}
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "connections": [c.to_json(hops=all_hops or c.id in shown) for c in self.connections],
            "summary": self.summary.to_json(),
            "fixes": [{"name": n, "summary": s.to_json(), "why": why} for n, s, why in self.fixes],
        }


def expected_rate(scenario: Scenario) -> float:
    """The closed-form timeout probability of one connection (``hairpin.aws.risk``)."""
    from hairpin.aws import risk

    return float(risk.timeout_probability(scenario))


def _routing(ns: Namespace, family: int = 4) -> Routing:
    """The namespace's routing state; IPv6 routes as ``ip -6 route add`` makes them (metric 1024,
    IP6_RT_PRIO_USER; router preference medium)."""
    r = Routing(family=family)
    v6 = family == 6
    for iface in ns.interfaces:
        for cidr in iface.addresses:
            r.add_address(iface.name if iface.name != "lo" else "lo", cidr)
    for rt in ns.routes:
        net, mask, prefix = parse_cidr(rt.dst, family)
        r.add_route(
            RouteEntry(net, mask, prefix, rt.dev, addr_int(rt.via) if rt.via else None, scope=rt.scope,
                       src=addr_int(rt.src) if rt.src else None, table=rt.table, metric=1024 if v6 else 0,
                       pref="medium" if v6 else None)
        )  # fmt: skip
    for pr in ns.rules:
        src = parse_cidr(pr.src, family)[:2] if pr.src else None
        dst = parse_cidr(pr.dst, family)[:2] if pr.dst else None
        r.add_rule(
            RuleEntry(
                pr.priority, pr.table, src, dst, pr.fwmark, pr.fwmask if pr.fwmask is not None else 0xFFFFFFFF, pr.iif
            )
        )
    return r


class Network(Fabric):
    """The simulated network of one scenario."""

    def __init__(self, scenario: Scenario, topo: Topology | None = None, verbose: bool = True,
                 caching: bool = True) -> None:  # fmt: skip
        self.scenario = scenario
        self.verbose = verbose
        #: False: no hop is recorded (a connection's outcome, target and timing are the same either way)
        self.keep_hops = True
        self.topology = topo or build(scenario)
        self.engine = Engine()
        self.hops: list[Hop] = []
        self.conn_id = 0
        self.peers: dict[tuple[str, str], tuple[str, str]] = {}
        for a, b in self.topology.links:
            self.peers[a] = b
            self.peers[b] = a
        self.nlbs = NlbSet(
            [
                Nlb(scenario, svc)
                for svc in scenario.services
                if svc.load_balancer and svc.load_balancer.type == "nlb" and svc.load_balancer.nodes
            ]
        )
        self.clbs = [
            Clb(scenario, svc)
            for svc in scenario.services
            if svc.load_balancer and svc.load_balancer.type == "clb" and svc.load_balancer.nodes
        ]
        self.hosts: dict[str, LinuxHost | VpcRouter] = {}
        #: makes every per-connection random stream from its seed text (``hairpin.backends.memo`` taps them)
        self.stream: Callable[[str], random.Random] = random.Random
        self._dns: tuple[int, list[int]] | None = None  # (the scenario's address, the NLB's in DNS)
        k = scenario.kernel
        family = scenario.family
        for ns in self.topology.namespaces:
            routing = _routing(ns, family)
            if ns.role == "vpc":
                self.hosts[ns.name] = VpcRouter(self, routing, self.nlbs, self.clbs)
                continue
            ruleset = None
            if ns.iptables:  # iptables-save text, ip6tables-save's in an IPv6 scenario
                ruleset = iptables_save.parse(ns.iptables, f"{ns.name}.{'ip6tables' if family == 6 else 'iptables'}")
                ruleset.family = family
            sysctl = dict(ns.sysctls)
            label = ns.name if ns.role == "node" else f"pod {ns.name}"
            ipvs_table = ipsets = None
            if ns.role == "node" and scenario.kube_proxy.mode == "ipvs":  # IPVS + kube-proxy's ipsets
                from hairpin.kube.ipvs import virtual_servers
                from hairpin.parsers.ipset import parse as ipset_parse

                ipvs_table = virtual_servers(scenario, ns.name)
                ipsets = ipset_parse(ns.ipsets, f"{ns.name}.ipset")
            self.hosts[ns.name] = LinuxHost(
                ns.name, self, routing, ruleset,
                ip_forward=sysctl.get("net.ipv6.conf.all.forwarding" if family == 6 else "net.ipv4.ip_forward") == "1",
                accept_local=k.accept_local,
                syn_retries=k.tcp_syn_retries, linear_timeouts=k.tcp_syn_linear_timeouts, label=label,
                ipsets=ipsets, ipvs=ipvs_table,
            )  # fmt: skip
            if ns.role == "node":  # kube-proxy's ClientIP affinity lists (-m recent) start empty with the node
                from hairpin.netfilter.matches import keep_recent_lists

                keep_recent_lists(self.hosts[ns.name])
            if ns.role == "node" and (nft_text := node_nft(scenario, ns.name)):
                # kube-proxy's table ip kube-proxy (nftables mode) and the VPC CNI's table ip aws-cni
                # (cni.connmark_backend: nftables) on the node's hooks, beside its iptables tables
                from hairpin.netfilter.stacked import Stacked
                from hairpin.parsers.nft_ruleset import read_tables

                h = self.hosts[ns.name]
                assert isinstance(h, LinuxHost)
                h.nf = Stacked(h.nf, read_tables(nft_text, f"{ns.name}.nft"))
        if not caching:  # every cache off: routing decisions and per-flow-class verdicts (tests compare)
            for h in self.hosts.values():
                h.routing.caching = False
                if isinstance(h, LinuxHost):
                    h.caching = False
        # servers: every endpoint pod listens on its Services' target ports
        for svc in scenario.services:
            for pod in scenario.endpoints_of(svc):
                host = self._host_of_pod(pod.name)
                for sp in svc.ports:
                    host.tcp.listen(0, sp.target_port)

    def _host_of_pod(self, pod: str) -> LinuxHost:
        p = self.scenario.pod(pod)
        h = self.hosts[p.node if p.host_network else p.name]
        assert isinstance(h, LinuxHost)
        return h

    # -- Fabric
    def transmit(self, host: Any, oif: str, packet: Packet, notes: Sequence[str | Note]) -> None:
        self.record(host, f"{host.label} {oif}", packet, notes, "send")
        peer = self.peers.get((host.name, oif))
        if peer is None:
            return
        dest = self.hosts[peer[0]]
        delay = NLB_DELAY if isinstance(dest, VpcRouter) else LINK_DELAY
        self.engine.after(delay, lambda: dest.receive(packet, peer[1]))

    def record(
        self, host: Any, where: str, packet: Packet, notes: Sequence[str | Note], kind: str, lane: str | None = None
    ) -> None:
        if not self.keep_hops:
            return
        if not self.verbose:
            self.hops.append(Hop(self.engine.now, where, packet, "", kind, self.conn_id, lane or host.name))
            return
        self.hops.append(Hop(self.engine.now, where, packet, " | ".join(str(n) for n in notes if n), kind, self.conn_id,
                             lane or host.name))  # fmt: skip

    # -- connections
    def reset(self, seed: int, conn_id: int) -> None:
        self.engine.reset()
        self.hops = []
        self.conn_id = conn_id
        for name, h in self.hosts.items():
            if isinstance(h, VpcRouter):
                h.reset()
            if isinstance(h, LinuxHost):
                h.reset()
                h.rng = self.stream(f"{seed}:{conn_id}:{host_stream(name)}")
                if h.ipvs is not None:
                    # Where each rr scheduler stands when this connection arrives depends on all the
                    # other traffic the virtual server saw: drawn per connection (replays agree).
                    h.ipvs.spin(self.stream(f"{seed}:{conn_id}:{ipvs_stream(name)}"))
        for i, nlb in enumerate(self.nlbs.nlbs):
            nlb.reset()
            nlb.key = self.stream(f"{seed}:{conn_id}:nlb{i}").randbytes(16)
        for i, clb in enumerate(self.clbs):
            clb.reset()
            clb.key = self.stream(f"{seed}:{conn_id}:clb{i}").randbytes(16)

    def connect(self, conn_id: int = 0, seed: int = 0, client_port: int | None = None,
                target: str | None = None) -> Connection:  # fmt: skip
        """One connection; ``target`` forces the NLB's choice; for a ClusterIP caller the endpoint
        kube-proxy picks on the client's node, and for a Classic ELB the node its listener connects to,
        are forced by redrawing the connection's random draws until they pick ``target`` (any kube-proxy
        mode, iptables statistic, nftables numgen or IPVS rr, and the CLB's key: the same code)."""
        s = self.scenario
        lb = s.client_service.load_balancer if s.client.via == "load-balancer" else None
        redraw = s.client.via == "cluster-ip" or (lb is not None and lb.type == "clb")
        if target and redraw and client_port is not None:
            c = self._connect(conn_id, seed, client_port, None)
            for attempt in range(1, 64):
                if c.target == target:
                    break
                c = self._connect(conn_id, seed + attempt * 1_000_003, client_port, None, dns_seed=seed)
            return c
        return self._connect(conn_id, seed, client_port, target)

    @staticmethod
    def client_port(seed: int, conn_id: int) -> int:
        """The client's ephemeral source port for connection ``conn_id`` (net.ipv4.ip_local_port_range)."""
        return random.Random(f"{seed}:{conn_id}:client-port").randint(*EPHEMERAL)

    def destination(self, seed: int, conn_id: int) -> int:
        """The address the client connects to: the scenario's, or, when not pinned, the NLB address its
        DNS lookup returns for this connection (uniform over the NLB's addresses in DNS)."""
        if self._dns is None:
            s = self.scenario
            dst = addr_int(s.client_target_address())
            nlb = self.nlbs.for_addr(dst) if s.client.via == "load-balancer" and not s.client.address else None
            self._dns = (dst, nlb.in_dns if nlb is not None and nlb.in_dns else [])
        dst, answers = self._dns
        if answers:
            dst = answers[random.Random(f"{seed}:{conn_id}:dns").randrange(len(answers))]
        return dst

    def _connect(self, conn_id: int, seed: int, client_port: int | None, target: str | None,
                 dns_seed: int | None = None) -> Connection:  # fmt: skip
        s = self.scenario
        self.reset(seed, conn_id)
        client = self._host_of_pod(s.client.pod)
        port = client_port if client_port is not None else self.client_port(seed, conn_id)
        dst = self.destination(seed if dns_seed is None else dns_seed, conn_id)
        svc = s.client_service
        dport = s.client.port if s.client.via == "load-balancer" else svc.ports[0].port
        route = client.routing.lookup(dst)
        src = route.src or client.routing.primary_address() or 0
        chosen: list[str] = []
        forced = Endpoint.parse(target) if target else None

        def force(node: NlbNode, p: Packet) -> Target | None:
            if forced is None:
                return None
            for t in node.targets:
                if t.addr == forced.addr and t.port == forced.port:
                    return t
            return Target(forced.addr, forced.port, node.az, ip_str(forced.addr))

        for nlb in self.nlbs.nlbs:
            nlb.force = force
        done: list[Connector] = []
        conn = client.tcp.connect(Endpoint(src, port), Endpoint(dst, dport), on_done=done.append)
        self.engine.run()
        for nlb in self.nlbs.nlbs:
            for flow in nlb.flows.values():
                if flow.client == conn.local:
                    chosen.append(str(flow.target))
        if not chosen:  # the caller's address was translated on the way (CNI SNAT, NAT gateway): its only flow
            chosen += [str(f.target) for nlb in self.nlbs.nlbs for f in nlb.flows.values()][:1]
        for clb in self.clbs:
            for pc in clb.connections:
                if pc.client == conn.local:
                    chosen.append(str(pc.target))
        if not chosen and s.client.via == "cluster-ip":
            chosen.append(self._cluster_ip_target(conn.local))
        outcome = conn.outcome or "timeout"
        elapsed = (conn.finished if conn.finished is not None else self.engine.now) - conn.started
        self.hops.append(
            Hop(conn.finished or self.engine.now, client.label, Packet(src, port, dst, dport, Flags(0)),
                _outcome_text(outcome, s, conn), "timeout" if outcome == "timeout" else outcome, conn_id, client.name)
        )  # fmt: skip
        hairpin = any(
            h.kind == "deliver" and h.lane == client.name and h.packet.flags & Flags.SYN and h.packet.flags & Flags.ACK
            and h.packet.src != dst
            for h in self.hops
        )  # fmt: skip
        return Connection(conn_id, str(conn.local), f"{ip_str(dst)}:{dport}", chosen[0] if chosen else "",
                          outcome, elapsed, self.hops, conn.syns, hairpin)  # fmt: skip

    def _cluster_ip_target(self, local: Endpoint) -> str:
        """The backend the client's node picked for a ClusterIP connection: the source of the reply
        tuple of the conntrack entry the client's first SYN created there (a DNAT rule's or IPVS's)."""
        s = self.scenario
        host = self.hosts[s.client_pod.node]
        assert isinstance(host, LinuxHost)
        for e in host.conntrack.entries():
            if (e.orig[0], e.orig[1]) == (local.addr, local.port) and (e.reply[0], e.reply[1]) != (e.orig[2], e.orig[3]):
                return f"{ip_str(e.reply[0])}:{e.reply[1]}"
        return ""


def _outcome_text(outcome: str, s: Scenario, conn: Connector) -> str:
    if outcome == "timeout":
        return (
            f"connect() gives up: ETIMEDOUT after {conn.syns} SYNs "
            f"(tcp_syn_retries={s.kernel.tcp_syn_retries}, tcp_syn_linear_timeouts={s.kernel.tcp_syn_linear_timeouts})"
        )
    if outcome == "reset":
        return "connect() fails: ECONNREFUSED (RST)"
    return "connect() returns: ESTABLISHED"


def connect(scenario: Scenario, *, client_port: int, target: str | None = None, conn_id: int = 0,
            seed: int = 0) -> Connection:  # fmt: skip
    """One connection from the scenario's client; ``target`` ("ip:port") forces the NLB's choice."""
    return Network(scenario).connect(conn_id, seed, client_port, target)


FIX_WHY = {
    "ip-targets": "the NLB sends the SYN straight to a backend pod's IP (ip targets, preservation off by default "
    "for TCP); no node de-NATs a reply, and the pod's reply goes to the NLB's address and back through the NLB",
    "no-preserve-client-ip": "the NLB rewrites the source to its own address, so the node's de-NATed SYN/ACK is "
    "addressed to the NLB and goes back through it instead of straight to the client pod",
    "cluster-ip": "kube-proxy DNATs the SYN on the client's own node; the same conntrack entry de-NATs the reply, "
    "which comes from the ClusterIP the client called",
    "proxy-protocol-v2": "as no-preserve-client-ip (the reply goes back through the NLB), and the NLB hands the "
    "backend a Proxy Protocol v2 header with the caller's address and port; backends (and their health checks) "
    "must speak PPv2",
    "target-node-labels": "only the labelled nodes are targets; a caller on an unregistered node is never sent back "
    "to its own node, a caller on a registered node still is (residual risk)",
    "anti-affinity": "with ip targets and preservation on, no target pod shares the caller's node, so the NLB never "
    "sends the caller back to its own node; with instance targets the caller's node is still a target (no effect)",
}


def run(scenario: Scenario, connections: int = 1000, seed: int = 0, fixes: bool = False,
        progress: Any = None, caching: bool = True, memo: bool | None = None) -> Run:  # fmt: skip
    """``connections`` connections from the scenario's client; with ``fixes``, the same for each workaround.

    ``caching=False`` turns off every cache (routing decisions, per-flow-class verdicts, the memo of
    whole connections): the result is the same, only slower (tests/test_sim_cache.py and
    tests/test_sim_memo.py hold them to byte-identical JSON).  ``memo`` (default: ``caching``) keeps
    whole connections by their random decisions (``hairpin.backends.memo``): a connection whose
    decisions were seen before is not simulated; its hops are simulated when first asked for."""
    use_memo = caching if memo is None else memo and caching
    net = Network(scenario, verbose=False, caching=caching)
    replayer: list[Network] = []

    def replay(i: int) -> list[Hop]:
        if not replayer:
            replayer.append(Network(scenario, net.topology, verbose=False, caching=caching))
        return replayer[0].connect(i, seed).hops

    conns = _connections(net, connections, seed, use_memo, replay, progress)
    # replay the connections a reader is shown with every word of the trace (same seed, same packets)
    loud = Network(scenario, net.topology, verbose=True, caching=caching)
    for outcome in ("timeout", "established", "reset"):
        shown = next((c for c in conns if c.outcome == outcome), None)
        if shown is not None:
            conns[shown.id] = loud.connect(shown.id, seed)
    summary = _summary(conns, expected_rate(scenario))
    result = Run(scenario, seed, conns, summary)
    if fixes:
        for name in FIXES:
            fixed = with_fix(scenario, name)
            fnet = Network(fixed, verbose=False, caching=caching)
            fnet.keep_hops = False  # only the outcomes of a workaround's connections are kept
            fconns = _connections(fnet, connections, seed, use_memo, None, progress)
            for fc in fconns:
                fc.hops = []
            result.fixes.append((name, _summary(fconns, expected_rate(fixed)), FIX_WHY[name]))
    return result


def _connections(net: Network, n: int, seed: int, use_memo: bool, replay: Callable[[int], list[Hop]] | None,
                 progress: Any) -> list[Connection]:  # fmt: skip
    """Connections 0..n-1 on the quiet ``net``: memoised ones get ``replay`` for their hops (none when
    the network keeps no hops).  Should the memo contradict itself (``MemoConflict``), every connection is
    simulated again on a fresh network without it, with a warning: slower, never a course it may have got wrong."""
    out: list[Connection] = []
    try:
        return _each(net, n, seed, Memo(net) if use_memo else None, replay, progress, out)
    except MemoConflict as exc:
        warnings.warn(f"the simulator's memo contradicted itself ({exc}); all {n} connections were simulated "
                      "again without it", RuntimeWarning, stacklevel=3)  # fmt: skip
    fresh = Network(net.scenario, net.topology, verbose=net.verbose)
    fresh.keep_hops = net.keep_hops
    return _each(fresh, n, seed, None, replay, progress, [], shown=len(out))  # shown: the progress already given


def _each(net: Network, n: int, seed: int, memo: Memo | None, replay: Callable[[int], list[Hop]] | None,
          progress: Any, out: list[Connection], shown: int = 0) -> list[Connection]:  # fmt: skip
    """Connections 0..n-1 appended to ``out`` as they are made (``progress`` told of each after the first ``shown``)."""
    for i in range(n):
        hit = memo.lookup(i, seed) if memo is not None else None
        if hit is not None:
            course, client = hit
            out.append(Replayed(i, client, course, partial(replay, i) if replay is not None else None))
        else:
            out.append(memo.record(i, seed) if memo is not None else net.connect(i, seed))
        if progress is not None and i >= shown:
            progress(1)
    return out


def _summary(conns: list[Connection], expected: float) -> Summary:
    return Summary(
        len(conns),
        sum(c.outcome == "timeout" for c in conns),
        sum(c.outcome == "reset" for c in conns),
        sum(c.outcome == "established" for c in conns),
        expected,
    )
