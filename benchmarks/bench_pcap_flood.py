"""`hairpin pcap` on a SYN flood: N unanswered SYNs from distinct clients (100,000 a second of capture time,
so all open at once) with 3 hairpins mixed in, written with hairpin's pcap writer.  Measures the CPU time
(user + sys of the child) and the peak RSS of `hairpin pcap FILE --format json` (the fast first pass) and of
the streaming reader alone, and of `tshark -n -r FILE -Y 'tcp.flags.reset==1'` on the same file, each the
median of several runs; checks the answers (3 hairpins, N + 3 other failures; tshark: the 3 client RSTs).

    python3 benchmarks/bench_pcap_flood.py [--syns 1000000] [--repeat 3] [--src DIR]

``--src``: the ``src`` directory of the hairpin to measure (e.g. an older checkout, for before/after).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hairpin.model.net import Flags, Packet, ip_int
from hairpin.parsers.pcap import PacketRecord, write_pcap

VIP, NODE = ip_int("192.168.168.103"), ip_int("192.168.2.3")


def flood(path: Path, n: int) -> None:
    def isn(i: int) -> int:
        return (i * 2654435761 + 12345) & 0xFFFFFFFF

    def records() -> object:
        base = ip_int("10.0.0.0")
        for i in range(n):
            t = 1000.0 + i * 1e-5
            yield PacketRecord(t, None, Packet(base + (i >> 10) * 256 + 1, 1024 + (i & 1023), VIP, 80, Flags.SYN, isn(i)))
            if i % (n // 3) == n // 6:  # a hairpin: SYN, SYN-ACK from node:NodePort, the client's RST
                c, s = ip_int("172.16.0.9"), isn(n + i)
                yield PacketRecord(t, None, Packet(c, 40000 + i % 1000, VIP, 80, Flags.SYN, s))
                yield PacketRecord(t, None, Packet(NODE, 31468, c, 40000 + i % 1000, Flags.SYN | Flags.ACK, 7, s + 1))
                yield PacketRecord(t, None, Packet(c, 40000 + i % 1000, NODE, 31468, Flags.RST, s + 1))

    write_pcap(path, records())  # type: ignore[arg-type]


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(CPU s of the child, its peak RSS in MiB, stdout), measured with wait4's rusage."""
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, out.read().decode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--syns", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--src", default=str(Path(__file__).resolve().parents[1] / "src"))
    ap.add_argument("--file", help="reuse this flood capture (written when missing)")
    args = ap.parse_args()
    path = Path(args.file or tempfile.mkdtemp(prefix="hairpin-flood.") + "/flood.pcap")
    if not path.exists():
        t = time.process_time()
        flood(path, args.syns)
        print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB) in {time.process_time() - t:.1f} s CPU")
    env = dict(os.environ, PYTHONPATH=args.src)
    want = {"hairpins": 3, "others": args.syns}
    cases = {
        "hairpin pcap (fast first pass)": [sys.executable, "-m", "hairpin.cli.main", "pcap", str(path), "--format",
                                           "json"],
        "streaming reader (fast=False)": [sys.executable, "-c", "import json, sys; from hairpin.diagnose.capture "
                                          "import analyse_files; print(json.dumps(analyse_files([sys.argv[1]], "
                                          "fast=False).to_json()))", str(path)],
        "tshark -Y tcp.flags.reset==1": ["tshark", "-n", "-r", str(path), "-Y", "tcp.flags.reset==1"],
    }  # fmt: skip
    for name, cmd in cases.items():
        cpu, rss = [], []
        for _ in range(args.repeat):
            c, r, out = run(cmd, env)
            cpu.append(c)
            rss.append(r)
            if name.startswith("tshark"):
                assert len(out.splitlines()) == 3, out[:300]
            else:
                s = json.loads(out)["summary"]
                got = {"hairpins": s["hairpins"], "others": sum(s["other_failures"].values())}
                assert got == want, got
        print(f"{name}: CPU {statistics.median(cpu):.2f} s (runs {', '.join(f'{c:.2f}' for c in cpu)}), "
              f"peak RSS {statistics.median(rss):.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
