"""The NLB's target sets per AZ, cross-zone, stickiness of a flow, preservation on and off."""

from __future__ import annotations

from dataclasses import replace

from hairpin.aws.nlb import Nlb, targets_for
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.scenario import seed

CLIENT = ip_int("192.168.27.239")
VIP = ip_int("192.168.168.103")


def _nlb(**lb: object) -> Nlb:
    s = seed()
    svc = s.client_service
    assert svc.load_balancer is not None
    svc = replace(svc, load_balancer=replace(svc.load_balancer, **lb))
    return Nlb(s, svc)


def test_instance_targets_are_every_node_on_the_node_port() -> None:
    s = seed()
    ts = targets_for(s, s.client_service)
    assert [(str(t), t.az, t.name) for t in ts] == [
        ("192.168.2.3:31468", "eu-west-1a", "node1"),
        ("192.168.21.86:31468", "eu-west-1a", "node2"),
        ("192.168.44.17:31468", "eu-west-1b", "node3"),
    ]


def test_cross_zone_off_keeps_the_az_and_on_uses_all() -> None:
    assert [t.name for t in _nlb().nodes[VIP].targets] == ["node1", "node2"]
    assert [t.name for t in _nlb(cross_zone=True).nodes[VIP].targets] == ["node1", "node2", "node3"]


def test_ip_targets_are_pods_on_the_target_port() -> None:
    # cross-zone off: the AZ-a NLB node only has the AZ-a pod, which runs on the client's own node1
    assert [str(t) for t in _nlb(target_type="ip").nodes[VIP].targets] == ["192.168.16.142:80"]
    s = seed()
    ts = targets_for(
        s, replace(s.client_service, load_balancer=replace(s.client_service.load_balancer, target_type="ip"))
    )  # type: ignore[arg-type]
    assert [str(t) for t in ts] == ["192.168.39.2:80", "192.168.49.70:80", "192.168.16.142:80"]


def test_a_flow_keeps_its_target_for_every_packet_and_retransmission() -> None:
    nlb = _nlb()
    syn = Packet(CLIENT, 49134, VIP, 80, Flags.SYN, seq=123)
    first = nlb.forward(syn)
    assert first is not None
    out, why = first
    assert out.src == CLIENT and out.sport == 49134 and out.dport == 31468 and "client IP preserved" in why
    for seq in (123, 124, 9999):
        again = nlb.forward(Packet(CLIENT, 49134, VIP, 80, Flags.ACK, seq=seq))
        assert again is not None and again[0].dst == out.dst and "flow table hit" in again[1]


def test_the_flow_hash_includes_the_sequence_number() -> None:
    nlb = _nlb()
    picks = {nlb.choose(nlb.nodes[VIP], Packet(CLIENT, 49134, VIP, 80, Flags.SYN, seq=s)).name for s in range(64)}  # type: ignore[union-attr]
    assert picks == {"node1", "node2"}


def test_reply_goes_back_through_the_nlb_with_the_listener_as_source() -> None:
    nlb = _nlb()
    out, _ = nlb.forward(Packet(CLIENT, 49134, VIP, 80, Flags.SYN, seq=5))  # type: ignore[misc]
    back = nlb.reverse(Packet(out.dst, 31468, CLIENT, 49134, Flags.SYN | Flags.ACK, seq=9, ack=6))
    assert back is not None
    assert (back[0].src, back[0].sport, back[0].dst, back[0].dport) == (VIP, 80, CLIENT, 49134)


def test_preservation_off_rewrites_the_source_to_the_nlb_node() -> None:
    nlb = _nlb(preserve_client_ip=False)
    out, why = nlb.forward(Packet(CLIENT, 49134, VIP, 80, Flags.SYN, seq=5))  # type: ignore[misc]
    assert out.src == VIP and "preservation off" in why
    back = nlb.reverse(Packet(out.dst, 31468, VIP, out.sport, Flags.SYN | Flags.ACK, ack=6))
    assert back is not None and (back[0].src, back[0].dst, back[0].dport) == (VIP, CLIENT, 49134)


def test_external_traffic_policy_local_marks_nodes_without_endpoints_unhealthy() -> None:
    s = seed()
    svc = replace(s.client_service, external_traffic_policy="Local")
    health = {t.name: t.healthy for t in targets_for(s, svc)}
    assert health == {"node1": True, "node2": False, "node3": True}
