"""The capture analyser on captures written from simulated runs: client side, node side (-i any), the
neighbours of the hairpin, damaged files and several files read together."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hairpin import scenario
from hairpin.backends import sim
from hairpin.diagnose import capture
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import pcap
from hairpin.render import pcap as render_pcap

NODE1_PODS = ("pod netshoot eth0", "pod nginx-demo-1 eth0")


@pytest.fixture(scope="module")
def run() -> sim.Run:
    return sim.run(scenario.seed(), 40, 3)


def all_records(run: sim.Run) -> list[pcap.PacketRecord]:
    out: list[pcap.PacketRecord] = []
    offset = 0.0
    for c in run.connections:
        out += render_pcap.records(c.hops, offset=offset)
        offset += max(h.t for h in c.hops) + 1.0
    return out


def node1_any(recs: list[pcap.PacketRecord]) -> list[pcap.PacketRecord]:
    """What `tcpdump -i any` on node1 sees: its own interfaces both ways (what node1 sends, what the VPC
    delivers to it, what its pods send into their veths)."""
    keep = [r for r in recs if r.interface is not None and (r.interface.startswith("node1 ")
            or r.interface == "VPC v-node1" or r.interface in NODE1_PODS)]  # fmt: skip
    return [replace(r, interface=None, comment="") for r in keep]


def client_side(recs: list[pcap.PacketRecord]) -> list[pcap.PacketRecord]:
    return [r for r in recs if r.interface == "pod netshoot eth0"]


def expected(run: sim.Run) -> dict[str, int]:
    return {o: sum(c.outcome == o for c in run.connections) for o in ("timeout", "established", "reset")}


def test_client_side_capture_finds_exactly_the_timeouts(run: sim.Run, tmp_path: Path) -> None:
    path = tmp_path / "client.pcapng"
    pcap.write_pcapng(path, client_side(all_records(run)))
    a = capture.analyse_files([path])
    n = expected(run)
    assert n["timeout"] > 0 and n["established"] > 0
    assert len(a.hairpins) == n["timeout"] and a.healthy == n["established"] and a.others == []
    assert a.connections == len(run.connections)
    timed_out = {c.client for c in run.connections if c.outcome == "timeout"}
    assert {str(h.client) for h in a.hairpins} == timed_out
    h = a.hairpins[0]
    assert str(h.called) == "192.168.168.103:80" and str(h.answered_by) == "192.168.2.3:31468"
    assert h.backend is None  # the client cannot see kube-proxy's DNAT
    assert h.syn_retransmits == 6 and h.lost_s == pytest.approx(63.0, abs=0.01)
    assert [h.gave_up for h in a.hairpins[:-1]] == [True] * (len(a.hairpins) - 1)


def test_node_side_any_capture_groups_views_and_names_the_backend(run: sim.Run, tmp_path: Path) -> None:
    path = tmp_path / "node1.pcap"
    pcap.write_pcap(path, node1_any(all_records(run)), linktype=pcap.SLL2)
    a = capture.analyse_files([path])
    n = expected(run)
    assert len(a.hairpins) == n["timeout"] and a.others == []
    bad = next(c for c in run.connections if c.outcome == "timeout")
    h = next(h for h in a.hairpins if str(h.client) == bad.client)
    assert str(h.answered_by) == "192.168.2.3:31468" and h.syn_retransmits == 6
    first_dnat = next(x.packet for x in bad.hops if x.kind == "send" and x.packet.src == ip_int("192.168.2.3")
                      and x.packet.flags == Flags.SYN)  # fmt: skip
    assert str(h.backend) == str(first_dnat.dest)  # kube-proxy's first pick, seen after DNAT + MASQUERADE
    assert h.masquerade is not None and h.masquerade.ip == "192.168.2.3"
    assert a.to_json()["summary"]["by_node"] == {"192.168.2.3:31468": n["timeout"]}


def test_a_capture_of_every_place_counts_each_connection_once(run: sim.Run) -> None:
    a = capture.analyse(all_records(run))
    assert a.connections == len(run.connections)
    assert len(a.hairpins) == expected(run)["timeout"] and a.healthy == expected(run)["established"]


def test_node_caller_is_named_node_loopback_not_hairpin() -> None:
    s = scenario.seed()
    pods = tuple(replace(p, host_network=True, ip="192.168.2.3") if p.name == "netshoot" else p for p in s.pods)
    c = sim.connect(replace(s, pods=pods), client_port=40000, target="192.168.2.3:31468")
    a = capture.analyse(render_pcap.records(c.hops))
    assert a.hairpins == [] and a.other_failures == {"node-loopback": 1}
    o = a.others[0]
    assert str(o.client) == "192.168.2.3:40000" and str(o.called) == "192.168.168.103:80" and o.syn_retransmits == 6


C, S = ip_int("10.0.0.5"), ip_int("10.0.9.9")


def rec(t: float, p: Packet) -> pcap.PacketRecord:
    return pcap.PacketRecord(t, "eth0", p)


def test_unanswered_syn_and_server_reset_are_their_own_kinds() -> None:
    recs = [rec(0.0, Packet(C, 40000, S, 443, Flags.SYN, 100)), rec(1.0, Packet(C, 40000, S, 443, Flags.SYN, 100)),
            rec(3.0, Packet(C, 40000, S, 443, Flags.SYN, 100)),
            rec(3.5, Packet(C, 40001, S, 80, Flags.SYN, 500)),
            rec(3.5002, Packet(S, 80, C, 40001, Flags.RST | Flags.ACK, 0, 501)),
            rec(9.0, Packet(C, 40002, S, 80, Flags.SYN, 900)),
            rec(9.0003, Packet(S, 80, C, 40002, Flags.SYN | Flags.ACK, 7, 901))]  # fmt: skip
    a = capture.analyse(recs)
    assert a.hairpins == [] and a.healthy == 1 and a.connections == 3
    assert a.other_failures == {"server-reset": 1, "unanswered-syn": 1}
    un = next(o for o in a.others if o.kind == "unanswered-syn")
    assert (str(un.client), un.syn_retransmits, un.lost_s, un.gave_up) == ("10.0.0.5:40000", 2, 3.0, True)


def test_a_synack_from_elsewhere_without_client_rst_is_the_target_side_not_a_hairpin() -> None:
    node = ip_int("10.0.1.1")
    recs = [rec(0.0, Packet(C, 40000, node, 31468, Flags.SYN, 100)),
            rec(0.0004, Packet(node, 31468, C, 40000, Flags.SYN | Flags.ACK, 5, 101))]  # fmt: skip
    a = capture.analyse(recs)
    assert a.hairpins == [] and a.others == [] and a.healthy == 1


def test_client_and_node_captures_read_together(run: sim.Run, tmp_path: Path) -> None:
    recs = all_records(run)
    pcap.write_pcapng(tmp_path / "c.pcapng", client_side(recs))
    pcap.write_pcap(tmp_path / "n.pcap", node1_any(recs), linktype=pcap.SLL)
    a = capture.analyse_files([tmp_path / "c.pcapng", tmp_path / "n.pcap"])
    assert len(a.hairpins) == expected(run)["timeout"] and a.connections == len(run.connections)
    assert [f.linktypes for f in a.files] == [(1,), (113,)]


def test_truncated_capture_is_analysed_up_to_the_damage(run: sim.Run, tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    pcap.write_pcap(path, client_side(all_records(run)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 7])
    a = capture.analyse_files([path])
    assert a.files[0].damage is not None and a.files[0].damage.startswith("stopped at byte ")
    assert 0 < a.packets < len(client_side(all_records(run)))


@pytest.mark.parametrize("addr", ["127.0.0.1", "127.3.2.1", "::1"])
def test_an_unanswered_syn_on_loopback_is_loopback_not_node_loopback(addr: str) -> None:
    from hairpin.model.net import addr_int

    a = addr_int(addr)
    recs = [pcap.PacketRecord(t, None, Packet(a, 40000, a, 8080, Flags.SYN, 77)) for t in (0.0, 1.0, 3.0)]
    # the capture goes on past the next retransmission's time (2 s after the last SYN): not cut by its end
    recs.append(pcap.PacketRecord(5.0, None, Packet(a, 40001, a, 8081, Flags.ACK, 1, 1)))
    res = capture.analyse(recs)
    assert res.hairpins == [] and res.other_failures == {"loopback": 1}


def test_a_refused_loopback_connection_is_a_server_reset() -> None:
    lo = ip_int("127.0.0.1")
    res = capture.analyse([pcap.PacketRecord(0.0, None, Packet(lo, 40000, lo, 8080, Flags.SYN, 77)),
                           pcap.PacketRecord(0.0001, None, Packet(lo, 8080, lo, 40000, Flags.RST | Flags.ACK, 0, 78))])  # fmt: skip
    assert res.other_failures == {"server-reset": 1}


def test_vpc_traffic_mirroring_of_the_client_nodes_eni_shows_the_nlb_side(run: sim.Run, tmp_path: Path) -> None:
    """What a Traffic Mirroring session on node1's ENI delivers to its target: every packet node1 sends or the
    VPC delivers to it (both directions of the ENI), in VXLAN to UDP 4789, captured on the target's Ethernet."""
    mirrored = [replace(r, interface=None, comment="") for r in all_records(run)
                if r.interface in ("node1 eth0", "VPC v-node1")]  # fmt: skip
    path = tmp_path / "mirror-target.pcap"
    pcap.write_pcap(path, mirrored, linktype=pcap.ETHERNET, tunnel="vxlan")
    a = capture.analyse_files([path])
    n = expected(run)
    assert (len(a.hairpins), a.healthy, a.others) == (n["timeout"], n["established"], [])
    assert a.files[0].skipped == 0
    assert {str(h.answered_by) for h in a.hairpins} == {"192.168.2.3:31468"}
    assert {str(h.called) for h in a.hairpins} == {"192.168.168.103:80"}
    bad = next(c for c in run.connections if c.outcome == "timeout")
    h = next(h for h in a.hairpins if str(h.client) == bad.client)
    first_dnat = next(x.packet for x in bad.hops if x.kind == "send" and x.packet.src == ip_int("192.168.2.3")
                      and x.packet.flags == Flags.SYN)  # fmt: skip
    assert str(h.backend) == str(first_dnat.dest) and str(h.node_side) == "192.168.2.3:31468"


def test_two_clients_with_the_same_isn_are_two_attempts() -> None:
    c1, c2, vip, node = (ip_int(a) for a in ("192.168.27.239", "192.168.30.5", "192.168.168.103", "192.168.2.3"))
    isn = 12345
    R = pcap.PacketRecord
    hairpin = [R(t, None, p) for t0 in (0.0, 1.0) for t, p in (
        (t0, Packet(c1, 40000, vip, 80, Flags.SYN, isn)),
        (t0 + 0.0004, Packet(node, 31468, c1, 40000, Flags.SYN | Flags.ACK, 7, isn + 1)),
        (t0 + 0.0005, Packet(c1, 40000, node, 31468, Flags.RST, isn + 1)))]  # fmt: skip
    healthy = [R(0.5, None, Packet(c2, 50000, vip, 80, Flags.SYN, isn)),
               R(0.5003, None, Packet(vip, 80, c2, 50000, Flags.SYN | Flags.ACK, 9, isn + 1))]  # fmt: skip
    a = capture.analyse(sorted(hairpin + healthy, key=lambda r: r.t))
    assert (a.connections, a.healthy, a.others) == (2, 1, [])
    assert [(str(h.client), str(h.answered_by), h.syn_retransmits) for h in a.hairpins] == [
        ("192.168.27.239:40000", "192.168.2.3:31468", 1)]
