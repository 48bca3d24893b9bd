from hairpin.engine import Engine
from hairpin.model.net import Endpoint, Flags, Packet, ip_int
from hairpin.tcp import TcpStack, rst_for, syn_schedule

CLIENT = ip_int("192.168.27.239")
VIP = ip_int("192.168.168.103")
NODE = ip_int("192.168.2.3")


def test_default_syn_schedule_is_the_seed_era_kernel() -> None:
    times, give_up = syn_schedule(6, 0)
    assert times == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    assert give_up == 127.0


def test_linear_timeouts_schedule_of_kernels_6_5_and_later() -> None:
    # reference README measured SYNs at ~0,1,2,3,4,5,7,11,19,35,69 s and ETIMEDOUT at ~134 s (timer slack)
    times, give_up = syn_schedule(6, 4)
    assert times == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0]
    assert give_up == 131.0


def test_rst_for_syn_ack_takes_its_ack_as_sequence() -> None:
    synack = Packet(NODE, 31468, CLIENT, 49134, Flags.SYN | Flags.ACK, seq=500, ack=1001)
    rst = rst_for(synack)
    assert (rst.src, rst.sport, rst.dst, rst.dport) == (CLIENT, 49134, NODE, 31468)
    assert rst.flags == Flags.RST and rst.seq == 1001 and rst.ack == 0


def test_rst_for_syn_acks_the_syn() -> None:
    syn = Packet(CLIENT, 49134, NODE, 9, Flags.SYN, seq=41)
    rst = rst_for(syn)
    assert rst.flags == Flags.RST | Flags.ACK and rst.seq == 0 and rst.ack == 42


def _stack() -> tuple[TcpStack, Engine, list[tuple[float, Packet, str]]]:
    e = Engine()
    out: list[tuple[float, Packet, str]] = []
    isns = iter([1000, 5000, 9000])
    return TcpStack(e, lambda p, why: out.append((e.now, p, why)), lambda: next(isns)), e, out


def test_connect_times_out_after_seven_syns_at_the_kernel_times() -> None:
    tcp, e, out = _stack()
    done = []
    c = tcp.connect(Endpoint(CLIENT, 49134), Endpoint(VIP, 80), on_done=done.append)
    e.run()
    assert [t for t, p, _ in out] == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    assert all(p.flags == Flags.SYN and p.seq == 1000 and p.dst == VIP for _, p, _ in out)
    assert c.outcome == "timeout" and c.finished == 127.0 and done == [c]


def test_syn_ack_from_another_address_matches_no_socket_and_gets_rst() -> None:
    tcp, _e, out = _stack()
    c = tcp.connect(Endpoint(CLIENT, 49134), Endpoint(VIP, 80))
    what = tcp.receive(Packet(NODE, 31468, CLIENT, 49134, Flags.SYN | Flags.ACK, seq=7, ack=1001))
    assert what == "no socket matches: RST"
    rst = out[-1][1]
    assert (rst.src, rst.sport, rst.dst, rst.dport, rst.flags, rst.seq) == (CLIENT, 49134, NODE, 31468, Flags.RST, 1001)
    assert c.state == "SYN_SENT"


def test_syn_ack_from_the_called_address_establishes() -> None:
    tcp, _e, out = _stack()
    c = tcp.connect(Endpoint(CLIENT, 49134), Endpoint(VIP, 80))
    tcp.receive(Packet(VIP, 80, CLIENT, 49134, Flags.SYN | Flags.ACK, seq=7, ack=1001))
    assert c.outcome == "established"
    ack = out[-1][1]
    assert ack.flags == Flags.ACK and ack.seq == 1001 and ack.ack == 8


def test_listener_handshake_and_rst_drops_request() -> None:
    tcp, e, out = _stack()
    tcp.listen(0, 80)
    syn = Packet(NODE, 10618, ip_int("192.168.16.142"), 80, Flags.SYN, seq=99)
    assert "request socket" in tcp.receive(syn)
    synack = out[-1][1]
    assert synack.flags == Flags.SYN | Flags.ACK and synack.ack == 100 and synack.seq == 1000
    rst = Packet(NODE, 10618, ip_int("192.168.16.142"), 80, Flags.RST, seq=100)
    assert tcp.receive(rst) == "RST drops the request socket (SYN_RECV)"
    e.run()
    assert len(out) == 1  # no SYN/ACK retransmission after the reset
