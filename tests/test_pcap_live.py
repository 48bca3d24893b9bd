"""`hairpin pcap -`: a live capture through a pipe, with pauses: each hairpin reported when its RST arrives
(before the rest of the stream is written), running summaries, a final summary at the end of the stream or
on Ctrl-C, and memory bounded by expiry over a long capture."""

from __future__ import annotations

import io
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from hairpin.diagnose import capture
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers import pcap

CLIENT, VIP, NODE = ip_int("192.168.27.239"), ip_int("192.168.168.103"), ip_int("192.168.2.3")


def hairpin(t: float, port: int, isn: int) -> list[pcap.PacketRecord]:
    return [pcap.PacketRecord(t, None, Packet(CLIENT, port, VIP, 80, Flags.SYN, isn)),
            pcap.PacketRecord(t + 0.0004, None, Packet(NODE, 31468, CLIENT, port, Flags.SYN | Flags.ACK, 7, isn + 1)),
            pcap.PacketRecord(t + 0.0005, None, Packet(CLIENT, port, NODE, 31468, Flags.RST, isn + 1))]  # fmt: skip


def healthy(t: float, port: int, isn: int) -> list[pcap.PacketRecord]:
    return [pcap.PacketRecord(t, None, Packet(CLIENT, port, VIP, 80, Flags.SYN, isn)),
            pcap.PacketRecord(t + 0.0003, None, Packet(VIP, 80, CLIENT, port, Flags.SYN | Flags.ACK, 9, isn + 1))]  # fmt: skip


def pcap_bytes(recs: list[pcap.PacketRecord], header: bool) -> bytes:
    buf = io.BytesIO()
    pcap.write_pcap(buf, recs, linktype=pcap.SLL2)
    return buf.getvalue() if header else buf.getvalue()[24:]


class Live:
    """``hairpin pcap -`` with a pipe on each side; ``line()`` waits for its next output line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "hairpin.cli.main", "pcap", "-", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode().rstrip("\n"))
        self.lines.put("<eof>")

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def line(self) -> str:
        return self.lines.get(timeout=120)  # a guard against a hang, not a timing assertion


def test_live_stream_reports_each_hairpin_before_the_stream_goes_on() -> None:
    live = Live("--every", "30")
    live.send(pcap_bytes(healthy(10.0, 40001, 100) + hairpin(10.5, 40002, 200), header=True))
    # the stream pauses here: the report must already be out
    assert live.line() == ("10.500500 hairpin: 192.168.27.239:40002 called 192.168.168.103:80, SYN-ACK from "
                           "192.168.2.3:31468, reset by the client")  # fmt: skip
    live.send(pcap_bytes(hairpin(41.0, 40003, 300), header=False))
    assert live.line() == ("41.000000 summary: 6 frames, 6 TCP, skipped 0; 3 connections, 1 hairpinned, healthy 1, "
                           "open 2; other failures: none")  # fmt: skip
    assert live.line().startswith("41.000500 hairpin: 192.168.27.239:40003 called")
    live.send(pcap_bytes(healthy(50.0, 40004, 400), header=False))
    assert live.proc.stdin is not None
    live.proc.stdin.close()
    assert live.line() == ("50.000300 summary: 10 frames, 10 TCP, skipped 0; 4 connections, 2 hairpinned, healthy 2, "
                           "open 0; other failures: none (end)")  # fmt: skip
    assert live.line() == "<eof>"
    assert live.proc.wait(timeout=60) == 1
    assert live.proc.stderr is not None and live.proc.stderr.read() == b""


def test_ctrl_c_ends_with_the_summary() -> None:
    live = Live()
    live.send(pcap_bytes(hairpin(10.0, 40002, 200), header=True))
    assert live.line().startswith("10.000500 hairpin: ")
    live.proc.send_signal(signal.SIGINT)  # the reader is blocked on the pipe, as under tcpdump
    assert live.line() == ("10.000500 summary: 3 frames, 3 TCP, skipped 0; 1 connections, 1 hairpinned, healthy 0, "
                           "open 0; other failures: none (end)")  # fmt: skip
    assert live.proc.wait(timeout=60) == 1


def test_memory_stays_bounded_over_hours(tmp_path: Path) -> None:
    """Four hours of one unanswered SYN a second: attempts expire, each summary sees the last 136 s open."""
    recs = [pcap.PacketRecord(float(t), None, Packet(CLIENT, 1024 + t % 60000, VIP, 80, Flags.SYN, t)) for t in
            range(4 * 3600)]  # fmt: skip
    # the capture goes on 2 s past the last SYN (its retransmission was due after 1 s): none cut by its end
    recs.append(pcap.PacketRecord(4 * 3600 + 1.0, None, Packet(CLIENT, 1, VIP, 80, Flags.ACK, 1, 1)))
    path = tmp_path / "long.pcap"
    pcap.write_pcap(path, recs)
    out: list[str] = []
    res = capture.watch(path, out.append, every=60.0)
    opened = [int(line.split(" open ")[1].split(";")[0]) for line in out]
    assert len(out) == 4 * 60  # 239 running summaries and the final one
    assert max(opened[:-1]) == capture.EXPIRE + 1 and opened[-1] == 0  # one SYN a second, 135 s of them
    assert out[-1].endswith(f"{4 * 3600} connections, 0 hairpinned, healthy 0, open 0; other failures: "
                            f"unanswered-syn {4 * 3600} (end)")  # fmt: skip
    assert (res.connections, len(res.others), res.other_failures) == (4 * 3600, capture.LIVE_KEEP,
                                                                      {"unanswered-syn": 4 * 3600})  # fmt: skip
    assert res.to_json()["summary"]["other_failures"] == {"unanswered-syn": 4 * 3600}
