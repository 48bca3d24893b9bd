"""Sequence-diagram layout: lanes, arrows, highlighting, gaps and folds (hand-built and simulated hops)."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.model.hop import Hop
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.render import diagram
from hairpin.render.diagram import Arrow, Fold, Gap, Note, acts, layout

CLIENT = "192.168.27.239"
NLB = "192.168.168.103"
NODE1 = "192.168.2.3"
POD = "192.168.16.142"
S, SA, R = Flags.SYN, Flags.SYN | Flags.ACK, Flags.RST


def pkt(src: str, sport: int, dst: str, dport: int, flags: Flags, seq: int, ack: int = 0) -> Packet:
    return Packet(ip_int(src), sport, ip_int(dst), dport, flags, seq, ack)


def hop(t: float, lane: str, at: str, p: Packet, kind: str, action: str = "") -> Hop:
    return Hop(t, at, p, action, kind, 7, lane)


def round_(t0: float, syn_reply_src: tuple[str, int] = (NODE1, 31468), masq: int = 61793) -> list[Hop]:
    """One SYN round of the seed's failure: NLB picks node1, node1 DNATs to a local pod, de-NATs the reply."""
    syn = pkt(CLIENT, 35474, NLB, 80, S, 1000)
    syn_nlb = pkt(CLIENT, 35474, NODE1, 31468, S, 1000)
    syn_pod = pkt(NODE1, masq, POD, 80, S, 1000)
    sa_pod = pkt(POD, 80, NODE1, masq, SA, 5000, 1001)
    sa_cli = pkt(syn_reply_src[0], syn_reply_src[1], CLIENT, 35474, SA, 5000, 1001)
    rst = pkt(CLIENT, 35474, syn_reply_src[0], syn_reply_src[1], R, 1001)
    rst_pod = pkt(NODE1, masq, POD, 80, R, 1001)
    return [
        hop(
            t0,
            "netshoot",
            "pod netshoot eth0",
            syn,
            "send",
            "connect(): SYN | route: table main: default via 169.254.1.1 dev eth0",
        ),
        hop(
            t0 + 0.00005,
            "node1",
            "node1 eth0",
            syn,
            "send",
            "route: table main: default via 192.168.0.1 dev eth0",
        ),
        hop(
            t0 + 0.00025,
            "NLB",
            f"NLB {NLB}",
            syn_nlb,
            "nlb",
            f"NLB {NLB} (eu-west-1a): new flow: flow hash (proto, src, sport, dst, dport, seq) picks target "
            f"{NODE1}:31468 (node1) of 2 in eu-west-1a: [node1, node2]; client IP preserved",
        ),
        hop(
            t0 + 0.00025,
            "vpc",
            "VPC v-node1",
            syn_nlb,
            "send",
            f"VPC route: {NODE1} is on the ENI behind v-node1",
        ),
        hop(
            t0 + 0.0003,
            "node1",
            "node1 eni851d8a400b6",
            syn_pod,
            "send",
            f"nat KUBE-SEP-2: -A KUBE-SEP-2 -p tcp -m tcp -j DNAT --to-destination {POD}:80  [DNAT] | "
            f"DNAT: {NODE1}:31468 -> {POD}:80 | route: rule 512: from all to {POD} lookup main; table main: "
            f"{POD} dev eni851d8a400b6 scope link | "
            f"MASQUERADE --random-fully: {CLIENT}:35474 -> {NODE1}:{masq}",
        ),
        hop(
            t0 + 0.00035,
            "nginx-demo-1",
            "pod nginx-demo-1",
            syn_pod,
            "deliver",
            "TCP: SYN to listening socket :80",
        ),
        hop(
            t0 + 0.00035,
            "nginx-demo-1",
            "pod nginx-demo-1 eth0",
            sa_pod,
            "send",
            "listener 80: SYN_RECV, SYN/ACK",
        ),
        hop(
            t0 + 0.0004,
            "node1",
            "node1 enie348bef9edc",
            sa_cli,
            "send",
            f"conntrack de-NAT (dst): {POD}:80 > {NODE1}:{masq} -> {POD}:80 > {CLIENT}:35474  [x] | "
            f"route: rule 512: from all to {CLIENT} lookup main; "
            f"table main: {CLIENT} dev enie348bef9edc scope link | "
            f"conntrack de-NAT (src): {POD}:80 > {CLIENT}:35474 -> {NODE1}:31468 > {CLIENT}:35474  [x]",
        ),
        hop(t0 + 0.00045, "netshoot", "pod netshoot", sa_cli, "deliver", "TCP: no socket matches: RST"),
        hop(
            t0 + 0.00045,
            "netshoot",
            "pod netshoot eth0",
            rst,
            "send",
            f"no socket matches {CLIENT}:35474 <- {NODE1}:31468: RST (tcp_v4_send_reset)",
        ),
        hop(t0 + 0.0005, "node1", "node1 eni851d8a400b6", rst_pod, "send", ""),
        hop(
            t0 + 0.00055,
            "nginx-demo-1",
            "pod nginx-demo-1",
            rst_pod,
            "deliver",
            "TCP: RST drops the request socket",
        ),
    ]


def failing_trace() -> list[Hop]:
    hops = round_(0.0) + round_(1.0)
    hops.append(hop(3.0, "netshoot", "pod netshoot", pkt(CLIENT, 35474, NLB, 80, Flags(0), 0), "timeout",
                    "connect() gives up: ETIMEDOUT after 2 SYNs"))  # fmt: skip
    return hops


def test_lanes_in_order_of_first_appearance_with_interfaces() -> None:
    d = layout(failing_trace())
    assert [ln.name for ln in d.lanes] == ["netshoot", "node1", "NLB", "vpc", "nginx-demo-1"]
    assert d.lane("node1").interfaces == ("eth0", "eni851d8a400b6", "enie348bef9edc")
    assert d.lane("NLB").interfaces == ()
    xs = [ln.x for ln in d.lanes]
    assert xs == sorted(xs) and len(set(xs)) == 5
    assert d.client == "netshoot"
    assert d.called == f"{NLB}:80"


def test_arrows_join_each_departure_to_the_next_place_of_the_same_segment() -> None:
    d = layout(round_(0.0))
    got = [(a.src_lane, a.dst_lane, a.flags, a.style, a.end) for a in d.arrows]
    assert got == [
        ("netshoot", "node1", "SYN", "normal", "send"),
        ("node1", "NLB", "SYN", "normal", "nlb"),
        ("NLB", "vpc", "SYN", "normal", "send"),
        ("vpc", "node1", "SYN", "normal", "send"),
        ("node1", "nginx-demo-1", "SYN", "normal", "deliver"),
        ("nginx-demo-1", "node1", "SYN,ACK", "normal", "send"),
        ("node1", "netshoot", "SYN,ACK", "hairpin", "deliver"),
        ("netshoot", "node1", "RST", "rst", "send"),
        ("node1", "nginx-demo-1", "RST", "rst", "deliver"),
    ]
    hairpin = [a for a in d.arrows if a.style == "hairpin"]
    assert [a.packet for a in hairpin] == [f"{NODE1}:31468 -> {CLIENT}:35474"]
    assert hairpin[0].acts == (
        f"de-NAT dst -> {CLIENT}:35474",
        f"route {CLIENT} dev enie348bef9edc",
        f"de-NAT src -> {NODE1}:31468",
    )
    # the deliveries that end arrows are not repeated as notes
    assert [r for r in d.rows if isinstance(r, Note)] == []


def test_a_reply_from_the_called_address_is_not_highlighted() -> None:
    d = layout(round_(0.0, syn_reply_src=(NLB, 80)))
    assert [a.style for a in d.arrows if a.flags == "SYN,ACK"] == ["normal", "normal"]


def test_retransmission_rounds_are_separated_by_a_gap_and_the_outcome_is_a_note() -> None:
    d = layout(failing_trace())
    gaps = [r for r in d.rows if isinstance(r, Gap)]
    assert [round(g.t, 6) for g in gaps] == [1.0, 3.0]
    assert round(gaps[0].seconds, 6) == 0.9995  # from the last arrow (t=0.0005) to the retransmission
    notes = [r for r in d.rows if isinstance(r, Note)]
    assert [(n.lane, n.kind, n.text) for n in notes] == [
        ("netshoot", "timeout", "connect() gives up: ETIMEDOUT after 2 SYNs")
    ]
    # a retransmitted SYN (same seq, a whole RTO later) is never joined to the first SYN's hops
    assert len(d.arrows) == 18
    assert all(a.to_hop is not None and a.to_hop - a.hop < 12 for a in d.arrows)
    ys = [r.y for r in d.rows]
    assert ys == sorted(ys) and len(set(ys)) == len(ys)
    assert d.height > ys[-1]


def test_fold_replaces_a_round_that_repeats_an_earlier_path() -> None:
    d = layout(failing_trace(), fold=True)
    folds = [r for r in d.rows if isinstance(r, Fold)]
    assert len(folds) == 1
    assert folds[0].t == 1.0
    assert folds[0].hops == 9
    assert "same path as at t=0.000 s" in folds[0].text and "client RST" in folds[0].text
    assert len(d.arrows) == 9
    assert isinstance(d.rows[-1], Note) and d.rows[-1].kind == "timeout"


def test_a_round_on_a_different_path_is_not_folded() -> None:
    hops = round_(0.0) + round_(1.0, masq=4444)
    other = [h if h.lane != "nginx-demo-1" else dataclasses.replace(h, lane="nginx-demo-2") for h in round_(3.0)]
    d = layout(hops + other, fold=True)
    assert len([r for r in d.rows if isinstance(r, Fold)]) == 1
    assert {a.dst_lane for a in d.arrows} >= {"nginx-demo-2"}


def test_lanes_argument_orders_labels_and_drops_unused_lanes() -> None:
    order = [("netshoot", "pod 192.168.27.239"), ("node1", "node 192.168.2.3"), ("nginx-demo-1", "pod"),
             ("node3", "unused"), ("vpc", "VPC"), ("NLB", "NLB")]  # fmt: skip
    d = layout(round_(0.0), lanes=order, labels={"vpc": "VPC router 192.168.0.1"})
    assert [ln.name for ln in d.lanes] == ["netshoot", "node1", "nginx-demo-1", "vpc", "NLB"]
    assert d.lane("vpc").label == "VPC router 192.168.0.1"
    assert d.lane("netshoot").label == "pod 192.168.27.239"


def test_unreceived_departure_is_a_stub_and_drops_end_arrows() -> None:
    syn = pkt(CLIENT, 1, NLB, 80, S, 9)
    hops = [
        hop(0.0, "netshoot", "pod netshoot eth0", syn, "send"),
        hop(0.0001, "node1", "node1", syn, "martian", "martian source 192.168.27.239 from eth0: dropped"),
        hop(0.2, "node1", "node1 eth0", pkt(NODE1, 2, NLB, 80, S, 10), "send"),
        hop(0.3, "node1", "node1", pkt(NODE1, 3, NLB, 80, S, 11), "drop", "dropped in filter FORWARD"),
    ]
    d = layout(hops)
    a = d.arrows
    assert [(x.src_lane, x.dst_lane, x.end, x.style) for x in a] == [
        ("netshoot", "node1", "martian", "drop"),
        ("node1", None, "none", "normal"),
    ]
    assert [(n.lane, n.kind) for n in d.rows if isinstance(n, Note)] == [("node1", "drop")]
    assert "martian source" in a[0].detail


def test_loopback_departure_may_end_in_its_own_lane() -> None:
    p = pkt(NODE1, 5, NODE1, 31468, S, 3)
    d = layout([hop(0.0, "node1", "node1 lo", p, "send"), hop(0.0, "node1", "node1", p, "deliver")])
    assert [(a.src_lane, a.dst_lane) for a in d.arrows] == [("node1", "node1")]


def test_acts_keeps_nat_routes_nlb_and_rst() -> None:
    assert acts("DNAT: 192.168.2.3:31468 -> 192.168.49.70:80 | mangle PREROUTING: -A X -j CONNMARK  [m]") == (
        "DNAT -> 192.168.49.70:80",
    )
    assert acts("MASQUERADE --random-fully: 192.168.27.239:35474 -> 192.168.2.3:61793") == (
        "MASQUERADE -> 192.168.2.3:61793",
    )
    assert acts("route: table main: default via 192.168.0.1 dev eth0") == ("route default via 192.168.0.1 dev eth0",)
    assert acts("route: table local: local 192.168.27.239 dev eth0 (local delivery)") == ()
    assert acts(f"NLB {NLB}: reply of flow a -> b, source restored to the listener") == (
        "NLB restores listener as source",
    )
    snat = f"NLB {NLB} (a): new flow: ...; client IP preservation off: source rewritten to the NLB's own address"
    assert acts(f"{snat} {NLB}:2000") == (f"NLB SNAT -> {NLB}:2000",)
    assert acts("SYN retransmission 3 (RTO expired) | route: table main: default via 169.254.1.1 dev eth0") == (
        "SYN retransmission 3",
        "route default via 169.254.1.1 dev eth0",
    )
    assert acts("no socket matches a <- b: RST (tcp_v4_send_reset)") == ("RST: no socket for this 4-tuple",)


LANES = ["a", "b", "c", "d"]
hop_st = st.builds(
    lambda t, lane, kind, flags, seq: Hop(t, f"{lane} eth0", Packet(1, 2, 3, 4, Flags(flags), seq), "", kind, 0, lane),
    st.floats(0, 5, allow_nan=False),
    st.sampled_from(LANES),
    st.sampled_from(["send", "nlb", "deliver", "drop", "martian", "timeout", "established"]),
    st.sampled_from([0x02, 0x12, 0x04, 0x10]),
    st.integers(0, 3),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(hop_st, max_size=30))
def test_layout_invariants(hops: list[Hop]) -> None:
    hops.sort(key=lambda h: h.t)
    d = layout(hops, fold=True)
    names = {ln.name for ln in d.lanes}
    ends = [a.to_hop for a in d.arrows if a.to_hop is not None]
    assert len(ends) == len(set(ends))  # a hop ends at most one arrow
    for a in d.arrows:
        assert a.src_lane in names and (a.dst_lane is None or a.dst_lane in names)
        if a.to_hop is not None:
            src, dst = hops[a.hop], hops[a.to_hop]
            assert a.to_hop > a.hop and 0 <= dst.t - src.t <= diagram.FLIGHT
            assert (src.packet.flags, src.packet.seq) == (dst.packet.flags, dst.packet.seq)
            assert a.dst_lane != a.src_lane
    ys = [r.y for r in d.rows]
    assert ys == sorted(ys)
    # every hop is drawn: as an arrow's start or end, a note, or inside a fold
    drawn = {a.hop for a in d.arrows} | set(ends) | {n.hop for n in d.rows if isinstance(n, Note)}
    if not any(isinstance(r, Fold) for r in d.rows):
        assert drawn == set(range(len(hops)))


def test_seed_run_failed_and_good_connections() -> None:
    from hairpin.backends import sim
    from hairpin.scenario import seed

    s = seed()
    run = sim.run(s, 12, 0)
    bad, good = run.example("timeout"), run.example("established")
    assert bad is not None and good is not None
    d = layout(bad.hops, lanes=diagram.scenario_lanes(s))
    assert [ln.name for ln in d.lanes][:2] == ["netshoot", "node1"]
    assert d.lane("netshoot").label == "pod 192.168.27.239 (client)"
    assert d.lane("NLB").label == "NLB 192.168.168.103, 192.168.140.27"
    hp = [a for a in d.arrows if a.style == "hairpin"]
    assert len(hp) == bad.syns == 7
    assert {(a.src_lane, a.dst_lane, a.flags) for a in hp} == {("node1", "netshoot", "SYN,ACK")}
    assert {a.packet.split(" -> ")[0] for a in hp} == {"192.168.2.3:31468"}
    assert [n.kind for n in d.rows if isinstance(n, Note)] == ["timeout"]
    g = layout(good.hops)
    assert not [a for a in g.arrows if a.style in ("hairpin", "rst")]
    last_synack = [a for a in g.arrows if a.flags == "SYN,ACK" and a.dst_lane == "netshoot"]
    assert [a.packet.split(" -> ")[0] for a in last_synack] == ["192.168.168.103:80"]
    assert [n.kind for n in g.rows if isinstance(n, Note)] == ["established"]
    assert isinstance(g.rows[0], Arrow)
