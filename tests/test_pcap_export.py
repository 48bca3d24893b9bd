"""Simulated runs as pcapng: one interface per place, and tshark's own TCP analysis of the hairpin."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from hairpin.backends import sim
from hairpin.render import pcap
from hairpin.scenario import seed

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark (apt install tshark)")
CLIENT_IF = "pod netshoot eth0"


@pytest.fixture(scope="module")
def run() -> sim.Run:
    return sim.run(seed(), 12, 0)


def fields(path: Path, *names: str, display: str = "", two_pass: bool = False) -> list[list[str]]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=|"]
    if two_pass:
        cmd.insert(1, "-2")
    if display:
        cmd += ["-Y", display]
    for n in names:
        cmd += ["-e", n]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def test_records_one_interface_per_place(run: sim.Run) -> None:
    bad = run.example("timeout")
    assert bad is not None
    recs = pcap.records(bad.hops)
    places = Counter(r.interface for r in recs)
    # the client's view: 7 SYNs out, 7 de-NATed SYN-ACKs in, 7 RSTs out
    assert places[CLIENT_IF] == 21
    assert {"node1 eth0", "node1 enie348bef9edc", "VPC v-node1", "NLB 192.168.168.103"} <= set(places)
    assert [r.t for r in recs] == sorted(r.t for r in recs)
    assert all(r.comment for r in recs)
    only = pcap.records(bad.hops, places={CLIENT_IF}, offset=10.0)
    assert len(only) == 21 and only[0].t == 10.0
    assert str(only[0].packet).startswith("tcp 192.168.27.239:") and " > 192.168.168.103:80 SYN" in str(only[0].packet)


@needs_tshark
def test_tshark_reads_every_place(run: sim.Run, tmp_path: Path) -> None:
    path = tmp_path / "run.pcapng"
    pcap.write_run(run, path)
    rows = fields(path, "frame.interface_name", "tcp.flags.reset")
    ifs = {r[0] for r in rows}
    assert CLIENT_IF in ifs and "node1 eth0" in ifs and "NLB 192.168.168.103" in ifs
    assert any(r[1] in ("1", "True") for r in rows)


@needs_tshark
def test_tshark_flags_syn_retransmissions_and_rst_on_the_hairpinned_connection(run: sim.Run, tmp_path: Path) -> None:
    bad = run.example("timeout")
    assert bad is not None and bad.syns == 7
    cport = bad.client.rsplit(":", 1)[1]
    path = tmp_path / "client.pcapng"
    pcap.write_run(run, path, [bad], places={CLIENT_IF})
    rows = fields(path, "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "tcp.flags.str", "tcp.analysis.retransmission",
                  two_pass=True)  # fmt: skip
    syns = [r for r in rows if r[:4] == ["192.168.27.239", cport, "192.168.168.103", "80"]]
    assert len(syns) == 7
    # tshark's own analysis: every SYN after the first is a retransmission of the same segment
    assert [r[5] != "" for r in syns] == [False] + [True] * 6
    rsts = fields(path, "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", display="tcp.flags.reset == 1")
    assert rsts == [["192.168.27.239", cport, "192.168.2.3", "31468"]] * 7
    # the reply the client resets comes from the node's address and NodePort, not the NLB it called
    synacks = fields(path, "ip.src", "tcp.srcport", display="tcp.flags.syn == 1 && tcp.flags.ack == 1")
    assert synacks == [["192.168.2.3", "31468"]] * 7
    retrans = fields(
        path, "frame.number", display="tcp.analysis.retransmission && tcp.flags.syn == 1 && tcp.flags.ack == 0"
    )
    assert len(retrans) == 6


@needs_tshark
def test_good_connection_has_no_rst(run: sim.Run, tmp_path: Path) -> None:
    good = run.example("established")
    assert good is not None
    path = tmp_path / "good.pcapng"
    pcap.write_run(run, path, [good], places={CLIENT_IF})
    rows = fields(path, "ip.src", "tcp.srcport", "tcp.flags.str")
    assert [r[0] for r in rows] == ["192.168.27.239", "192.168.168.103", "192.168.27.239"]
    assert fields(path, "frame.number", display="tcp.flags.reset == 1") == []
    assert fields(path, "frame.number", display="tcp.analysis.retransmission") == []
