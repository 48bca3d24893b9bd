"""Load balancer kinds (issue 8): a Classic ELB is a proxy and cannot hairpin; internet-facing NLB via NAT."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hairpin import scenario as sc
from hairpin.aws import risk
from hairpin.backends import sim
from hairpin.model.net import Flags, ip_int

CLB = ip_int("192.168.168.103")
POD = ip_int("192.168.27.239")
NODE1 = ip_int("192.168.2.3")


def _lb(s: sc.Scenario, **kw: object) -> sc.Scenario:
    svc = s.client_service
    assert svc.load_balancer is not None
    new = replace(svc, load_balancer=replace(svc.load_balancer, **kw))  # type: ignore[arg-type]
    return replace(s, services=tuple(new if x.key == svc.key else x for x in s.services))


def test_clb_never_times_out_and_uses_both_targets() -> None:
    s = _lb(sc.seed(), type="clb")
    assert risk.timeout_fraction(s) == 0
    r = sim.run(s, 200, 0)
    assert (r.summary.timeouts, r.summary.resets, r.summary.established) == (0, 0, 200)
    assert {c.target for c in r.connections} == {"192.168.2.3:31468", "192.168.21.86:31468"}  # node1, node2 (1a)
    assert not any(c.hairpin for c in r.connections)


def test_clb_terminates_and_opens_a_second_connection() -> None:
    s = _lb(sc.seed(), type="clb")
    r = sim.run(s, 40, 0)
    own = next(c for c in r.connections if c.target == "192.168.2.3:31468")  # the caller's own node
    c = sim.Network(s).connect(own.id, 0)
    assert c.outcome == "established" and c.target == "192.168.2.3:31468" and not c.hairpin
    lb_hops = [h for h in c.hops if h.kind == "nlb"]
    synack, syn = lb_hops[0].packet, lb_hops[1].packet
    # front: the listener answers the caller itself
    assert (synack.src, synack.sport, synack.dst, synack.flags) == (CLB, 80, POD, Flags.SYN | Flags.ACK)
    assert "terminates the client's connection" in lb_hops[0].action
    # back: a new connection from the load balancer's own address to node1:NodePort
    assert (syn.src, syn.dst, syn.dport, syn.flags) == (CLB, NODE1, 31468, Flags.SYN)
    assert "opens its own connection" in lb_hops[1].action and "(node1," in lb_hops[1].action
    # node1 de-NATs its backend's SYN/ACK to the load balancer, not to the caller pod
    back = [h for h in c.hops if h.packet.flags == Flags.SYN | Flags.ACK and h.packet.src == NODE1]
    assert back and all(h.packet.dst == CLB for h in back)
    # the caller's only SYN/ACK comes from the address it called
    delivered = [h for h in c.hops if h.kind == "deliver" and h.packet.dst == POD]
    assert [h.packet.src for h in delivered] == [CLB]
    assert any("backend connection" in h.action and "established" in h.action for h in lb_hops)
    assert c.syns == 1


EIP = ip_int("203.0.113.10")


def _internet_facing(s: sc.Scenario) -> sc.Scenario:
    s = _lb(s, scheme="internet-facing", nodes=(("eu-west-1a", "198.51.100.10"), ("eu-west-1b", "198.51.100.11")))
    return replace(s, client=replace(s.client, address="198.51.100.10"))


def test_internet_facing_nlb_through_the_nat_gateway_never_hairpins() -> None:
    s = _internet_facing(sc.seed())
    assert risk.timeout_fraction(s) == 0
    r = sim.run(s, 200, 0)
    assert (r.summary.timeouts, r.summary.established) == (0, 200)
    assert {c.target for c in r.connections} == {"192.168.2.3:31468", "192.168.21.86:31468"}
    own = next(c for c in r.connections if c.target == "192.168.2.3:31468")  # sent back to the caller's node
    c = sim.Network(s).connect(own.id, 0)
    assert c.outcome == "established" and not c.hairpin and c.syns == 1
    # the VPC CNI SNATs the pod to node1 (public destination is outside the VPC CIDR) ...
    node_out = next(h for h in c.hops if h.at == "node1 eth0" and h.packet.flags == Flags.SYN)
    assert node_out.packet.src == NODE1 and "AWS, SNAT" in node_out.action
    # ... the NAT gateway to its EIP, which the NLB keeps as the client address
    gw = next(h for h in c.hops if h.at == "NAT gateway" and h.kind == "snat")
    assert gw.packet.src == EIP and gw.packet.dst == ip_int("198.51.100.10")
    nlb = next(h for h in c.hops if h.kind == "nlb" and h.packet.flags == Flags.SYN)
    assert (nlb.packet.src, nlb.packet.dst, nlb.packet.dport) == (EIP, NODE1, 31468)
    # node1 de-NATs its backend's SYN/ACK to the EIP: not local, back through the NLB and the NAT gateway
    synacks = [h for h in c.hops if h.packet.flags == Flags.SYN | Flags.ACK and h.packet.src == NODE1]
    assert synacks and all(h.packet.dst == EIP for h in synacks)
    back = next(h for h in c.hops if h.at == "NAT gateway" and h.kind == "dnat")
    assert back.packet.src == ip_int("198.51.100.10") and back.packet.dst == NODE1
    delivered = [h for h in c.hops if h.kind == "deliver" and h.packet.dst == POD]
    assert [h.packet.src for h in delivered] == [ip_int("198.51.100.10")]


def test_a_clb_connection_can_be_forced_to_a_node() -> None:
    s = sc.load(Path(__file__).resolve().parents[1] / "examples" / "clb.yaml")
    for i, node in enumerate(("192.168.2.3:31468", "192.168.21.86:31468")):
        c = sim.connect(s, client_port=41000 + i, target=node, seed=3)
        assert (c.target, c.outcome) == (node, "established")
