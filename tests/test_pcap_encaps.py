"""Every link type and tunnel a cluster or a VPC produces, IPv4, IPv6 and dual-stack: one hairpin and one
healthy connection each, found exactly with nothing skipped; tshark decodes each capture the same way."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hairpin.diagnose import capture
from hairpin.model.net import Flags, Packet, addr_int, ip_str
from hairpin.parsers import frames, pcap

FAMILIES = {
    4: ("192.168.27.239", "192.168.168.103", "192.168.2.3"),
    6: ("2600:1f14:abc:1::27", "2600:1f14:abc:2::103", "2600:1f14:abc:3::3"),
}
# name: (link type, tunnel, VLAN tag types, VXLAN port)
CASES: dict[str, tuple[int, str | None, tuple[int, ...], int]] = {
    "ethernet": (frames.ETHERNET, None, (), 4789),
    "vlan": (frames.ETHERNET, None, (0x8100,), 4789),
    "qinq-88a8": (frames.ETHERNET, None, (0x88A8, 0x8100), 4789),
    "qinq-9100": (frames.ETHERNET, None, (0x9100, 0x8100), 4789),
    "sll": (frames.SLL, None, (), 4789),
    "sll-vlan": (frames.SLL, None, (0x8100,), 4789),
    "sll2": (frames.SLL2, None, (), 4789),
    "sll2-vlan": (frames.SLL2, None, (0x8100,), 4789),
    "raw": (frames.RAW, None, (), 4789),
    "null": (frames.NULL, None, (), 4789),
    "loop": (frames.LOOP, None, (), 4789),
    "nflog": (frames.NFLOG, None, (), 4789),
    "vxlan": (frames.ETHERNET, "vxlan", (), 4789),
    "vxlan-8472": (frames.SLL2, "vxlan-8472", (), 4789),
    "vxlan-custom": (frames.ETHERNET, "vxlan", (), 4790),
    "geneve": (frames.ETHERNET, "geneve", (), 4789),
    "ipip": (frames.SLL2, "ipip", (), 4789),
    "gre": (frames.ETHERNET, "gre", (), 4789),
    "gre-eth": (frames.ETHERNET, "gre-eth", (), 4789),
}


def conversation(family: int, t0: float, port: int) -> list[pcap.PacketRecord]:
    """A client-side hairpin (SYN, SYN-ACK from the node, RST; twice) and a healthy handshake."""
    client, vip, node = (addr_int(a) for a in FAMILIES[family])
    isn, good = 1000 + family, 5000 + family
    out = []
    for k, at in enumerate((0.0, 1.0)):
        out += [pcap.PacketRecord(t0 + at, "eth0", Packet(client, port, vip, 80, Flags.SYN, isn)),
                pcap.PacketRecord(t0 + at + 0.0004, "eth0", Packet(node, 31468, client, port, Flags.SYN | Flags.ACK,
                                                                    7000 + k, isn + 1)),
                pcap.PacketRecord(t0 + at + 0.0005, "eth0", Packet(client, port, node, 31468, Flags.RST, isn + 1))]
    out += [pcap.PacketRecord(t0 + 0.1, "eth0", Packet(client, port + 1, vip, 80, Flags.SYN, good)),
            pcap.PacketRecord(t0 + 0.1003, "eth0", Packet(vip, 80, client, port + 1, Flags.SYN | Flags.ACK, 9, good + 1)),
            pcap.PacketRecord(t0 + 0.1004, "eth0", Packet(client, port + 1, vip, 80, Flags.ACK, good + 1, 10))]  # fmt: skip
    return out


def records(families: tuple[int, ...]) -> list[pcap.PacketRecord]:
    recs = [r for i, f in enumerate(families) for r in conversation(f, 10.0 + 0.01 * i, 40000 + 10 * i)]
    return sorted(recs, key=lambda r: r.t)


def write(path: Path, name: str, families: tuple[int, ...]) -> int:
    linktype, tunnel, vlans, port = CASES[name]
    pcap.write_pcap(path, records(families), linktype=linktype, tunnel=tunnel, vlans=vlans, vxlan_port=port)
    return port


@pytest.mark.parametrize("families", [(4,), (6,), (4, 6)], ids=["ipv4", "ipv6", "dual"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_one_hairpin_one_healthy_nothing_skipped(tmp_path: Path, name: str, families: tuple[int, ...]) -> None:
    path = tmp_path / f"{name}.pcap"
    port = write(path, name, families)
    a = capture.analyse_files([path], frames.VXLAN_PORTS | {port})
    got = sorted((str(h.client), str(h.called), str(h.answered_by), h.syn_retransmits) for h in a.hairpins)
    want = []
    for i, f in enumerate(families):
        client, vip, node = FAMILIES[f]
        fmt = "[{}]:{}" if f == 6 else "{}:{}"
        want.append((fmt.format(client, 40000 + 10 * i), fmt.format(vip, 80), fmt.format(node, 31468), 1))
    assert got == sorted(want)
    assert (a.healthy, a.others, a.connections) == (len(families), [], 2 * len(families))
    f = a.files[0]
    assert (f.packets, f.skipped, f.error, f.damage) == (9 * len(families), 0, None, None)
    assert a.warnings() == [] and a.errors == []


def test_custom_vxlan_port_unopened_is_skipped_and_said(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    write(path, "vxlan-custom", (4,))
    a = capture.analyse_files([path])
    assert (a.connections, a.files[0].skipped_by) == (0, (("protocol", 9),))
    assert a.errors == [f"{path}: no TCP packet in 9 frames (skipped: protocol 9)"]


def tshark_view(path: Path, port: int) -> list[tuple[Any, ...]]:
    """(src, sport, dst, dport, flags, seq, ack) of the innermost TCP header of each frame, as tshark reads it."""
    fields = ["tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "ip.src", "ip.dst",
              "ipv6.src", "ipv6.dst"]  # fmt: skip
    cmd = ["tshark", "-n", "-r", str(path), "-d", "udp.port==8472,vxlan", "-d", f"udp.port=={port},vxlan",
           "-T", "fields", "-E", "occurrence=l"] + [x for f in fields for x in ("-e", f)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        sport, dport, flags, seq, ack, s4, d4, s6, d6 = line.split("\t")
        src, dst = (s6, d6) if s6 else (s4, d4)
        fl = int(flags, 16)
        rows.append((addr_int(src), int(sport), addr_int(dst), int(dport), fl, int(seq), int(ack) if fl & 0x10 else 0))
    return rows


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
@pytest.mark.parametrize("name", sorted(CASES))
def test_tshark_decodes_each_capture_the_same_way(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.pcap"
    port = write(path, name, (4, 6))
    ours = [(p.src, p.sport, p.dst, p.dport, int(p.flags), p.seq, p.ack) for p in (r.packet for r in pcap.read(path, 0,
            frames.VXLAN_PORTS | {port}))]  # fmt: skip
    theirs = tshark_view(path, port)
    assert len(ours) == 18
    assert theirs == ours, [ip_str(x[0]) for x in theirs]
