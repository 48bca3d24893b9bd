"""Capture analyser speed against tshark on the same file, and memory across two file sizes.

Builds a capture of N connections (default 100,000 connections, ~1M packets at the default mix): mostly
healthy client-side handshakes plus data, a share of seed-style hairpins (SYN, SYN-ACK from the node, RST,
retransmitted SYNs), written as pcap (Ethernet) with hairpin's writer.  Then times:

- ``hairpin``: ``analyse_files`` (read + group + classify), and its peak RSS in a child process;
- ``tshark -r F -Y 'tcp.flags.reset==1'`` (find the resets: the cheapest comparable filter pass);
- ``tshark -r F -q -z conv,tcp`` (conversation table).

Usage: python benchmarks/bench_pcap.py [connections] [hairpin-share]
"""

from __future__ import annotations

import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers.pcap import PacketRecord, write_pcap

VIP, NODE = ip_int("192.168.168.103"), ip_int("192.168.2.3")


def records(n: int, share: float, seed: int = 1) -> Iterator[PacketRecord]:
    rng = random.Random(seed)
    t = 0.0
    for i in range(n):
        client = ip_int("192.168.0.0") + 10 + (i % 5000)
        port = 32768 + (i % 28000)
        isn = rng.getrandbits(32)
        t += 0.0005
        if rng.random() < share:
            for k, at in enumerate((0.0, 1.0, 3.0)):
                yield PacketRecord(t + at, None, Packet(client, port, VIP, 80, Flags.SYN, isn))
                yield PacketRecord(t + at + 0.0004, None, Packet(NODE, 31468, client, port, Flags.SYN | Flags.ACK,
                                                                 7 + k, isn + 1))  # fmt: skip
                yield PacketRecord(t + at + 0.0005, None, Packet(client, port, NODE, 31468, Flags.RST, isn + 1))
        else:
            srv = rng.getrandbits(32)
            yield PacketRecord(t, None, Packet(client, port, VIP, 80, Flags.SYN, isn))
            yield PacketRecord(t + 0.0003, None, Packet(VIP, 80, client, port, Flags.SYN | Flags.ACK, srv, isn + 1))
            yield PacketRecord(t + 0.0004, None, Packet(client, port, VIP, 80, Flags.ACK, isn + 1, srv + 1))
            for k in range(5):
                yield PacketRecord(t + 0.0005 + k * 1e-5, None,
                                   Packet(client, port, VIP, 80, Flags.ACK | Flags.PSH, isn + 1 + k, srv + 1))  # fmt: skip
            yield PacketRecord(t + 0.001, None, Packet(client, port, VIP, 80, Flags.FIN | Flags.ACK, isn + 6, srv + 1))


def run_child(path: Path) -> tuple[float, int, int]:
    code = (
        "import resource,sys,time\nfrom hairpin.diagnose.capture import analyse_files\n"
        f"t=time.perf_counter();a=analyse_files([{str(path)!r}]);d=time.perf_counter()-t\n"
        "print(d, len(a.hairpins), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    share = float(sys.argv[2]) if len(sys.argv) > 2 else 0.02
    with tempfile.TemporaryDirectory() as d:
        rows = []
        for size in (n // 4, n):
            path = Path(d) / f"cap{size}.pcap"
            write_pcap(path, records(size, share))
            packets = (path.stat().st_size - 24) // 70
            secs, found, rss = run_child(path)
            line = {"connections": size, "packets": packets, "MB": path.stat().st_size / 1e6, "hairpin_s": secs,
                    "hairpins": found, "rss_MB": rss / 1024}  # fmt: skip
            if shutil.which("tshark"):
                line["tshark_rst_s"] = timed(["tshark", "-n", "-r", str(path), "-Y", "tcp.flags.reset==1"])
                line["tshark_conv_s"] = timed(["tshark", "-n", "-r", str(path), "-q", "-z", "conv,tcp"])
            rows.append(line)
        for r in rows:
            ratio = ""
            if "tshark_rst_s" in r:
                ratio = (f"  tshark -Y reset {r['tshark_rst_s']:.2f} s ({r['tshark_rst_s'] / r['hairpin_s']:.1f}x), "
                         f"-z conv,tcp {r['tshark_conv_s']:.2f} s ({r['tshark_conv_s'] / r['hairpin_s']:.1f}x)")  # fmt: skip
            print(f"{r['connections']:>8} connections, ~{r['packets']:>9} packets, {r['MB']:.0f} MB: hairpin "
                  f"{r['hairpin_s']:.2f} s ({r['packets'] / r['hairpin_s'] / 1e6:.2f} Mpkt/s), {r['hairpins']} "
                  f"hairpins, peak RSS {r['rss_MB']:.0f} MB{ratio}")  # fmt: skip
    _ = resource


if __name__ == "__main__":
    main()
