"""`hairpin pcap` against `tshark -r F -Y 'tcp.flags.reset==1'` on the same 2,000,000-packet capture.

Builds (or reuses, with --keep PATH) a classic pcap (Ethernet) of 2,000,000 packets: healthy client-side
connections (SYN, SYN-ACK, ACK, five data segments, FIN) and a share of seed-style hairpins (SYN, SYN-ACK
from the node, client RST, three rounds), every connection with a random ISN, written in time order (as a
capture is) with hairpin's writer.
``--jitter US`` writes (``--keep PATH``: when PATH does not exist yet) the same packets in the same order with each timestamp moved later by a random 0 to US
microseconds, as a capture on a node with several CPUs is: ``tcpdump -i any`` writes packets in the order it
takes them from the kernel's ring, each stamped when its CPU handled it, so packets close in time are written
out of time order (here every packet closer than US microseconds to the one before it may be; the file order,
each connection's own order, stays the order they happened in).
The number of hairpins written is known; the benchmark checks that `hairpin pcap` finds exactly that many
(and that tshark sees 3 resets per hairpin).  Then it runs, interleaved, ``--runs`` times each:

- ``hairpin pcap F --format json -o OUT`` (the CLI, start-up included) with the vectorised first pass;
- the same analysis with the streaming reader alone (``analyse_files(fast=False)``, the "before");
- ``tshark -n -r F -Y 'tcp.flags.reset==1'``;

and prints the median CPU time (user + system of the child, from ``wait4``: the figure to compare on a
shared machine), wall time and peak RSS of each, the ratios of CPU times, and the load average.

``--ipv6`` writes the same packets as IPv6 frames (every address a.b.c.d as fd00::a.b.c.d, the same ports,
ISNs and times), as on an EKS IPv6 cluster.

``--tunnel T`` writes every frame inside a tunnel, between two node addresses 10.0.0.1 and 10.0.0.2, as
``hairpin.parsers.frames.frame(p, tunnel=T)`` writes it: ``vxlan`` (UDP 4789), ``geneve`` (UDP 6081, no
options, Ethernet inside), ``ipip`` (IP-in-IP), ``gre`` (GRE with a key, IP inside) or ``gre-eth`` (GRE with
Ethernet inside); the tunnels tshark opens without being told a port.

``--node-side`` writes the capture as ``tcpdump -i any`` on the client's node sees it (``node_views``);
``--target-side`` writes healthy connections only, as the node an NLB sends them to sees them
(``target_views``).

``--baseline SRC`` also runs ``hairpin pcap`` with ``PYTHONPATH=SRC`` (another checkout's ``src``),
interleaved, and checks that its JSON is byte for byte this one's.

Usage: python benchmarks/bench_pcap_speed.py [--packets N] [--share S] [--runs R] [--keep PATH] [--no-before]
       [--jitter US] [--baseline SRC] [--ipv6] [--tunnel T] [--node-side | --target-side]
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from hairpin.model.net import V6, Flags, Packet, ip_int
from hairpin.parsers.pcap import PacketRecord, write_pcap

VIP, NODE, BACKEND = ip_int("192.168.168.103"), ip_int("192.168.2.3"), ip_int("192.168.39.2")
FD00 = V6 | 0xFD00 << 112


def records(packets: int, share: float, seed: int, made: list[int], jitter: float = 0.0,
            node_side: bool = False, tag: bool = False) -> Iterator[PacketRecord]:  # fmt: skip
    """Connections until ``packets`` packets are written, in time order as a capture is (a hairpin's later
    rounds wait in a heap until their time comes); ``made`` gets [hairpins, connections].  ``jitter``: each
    record's time moved later by a random 0 to ``jitter`` seconds (its own random numbers: the same
    connections as without), the order kept.  ``node_side``: as ``tcpdump -i any`` on the client's node
    sees them (``node_views``); ``tag``: a hairpin's SYNs carry the comment "hairpin" (for ``node_views``)."""
    if jitter:
        late = random.Random(seed + 1)
        for r in records(packets, share, seed, made, node_side=node_side):
            yield PacketRecord(r.t + late.uniform(0.0, jitter), r.interface, r.packet, r.comment)
        return
    if node_side:
        yield from node_views(records(packets, share, seed, made, tag=True))
        return
    rng = random.Random(seed)
    t = 1_764_547_200.0  # 2025-12-01 00:00 UTC: a real epoch, as tcpdump writes
    n = hairpins = i = 0
    pending: list[tuple[float, int, PacketRecord]] = []  # (time, order made, record)
    order = itertools.count()

    def add(r: PacketRecord) -> None:
        heapq.heappush(pending, (r.t, next(order), r))

    while n < packets:
        client = ip_int("192.168.0.0") + 10 + (i % 5000)
        port = 32768 + (i % 28000)
        isn = rng.getrandbits(32)
        t += 0.0005
        while pending and pending[0][0] < t:
            yield heapq.heappop(pending)[2]
        if rng.random() < share and packets - n >= 9:
            hairpins += 1
            n += 9
            for at in (0.0, 1.0, 3.0):
                add(PacketRecord(t + at, None, Packet(client, port, VIP, 80, Flags.SYN, isn), "hairpin" if tag else ""))
                add(PacketRecord(t + at + 0.0004, None, Packet(NODE, 31468, client, port, Flags.SYN | Flags.ACK,
                                                               rng.getrandbits(32), isn + 1)))  # fmt: skip
                add(PacketRecord(t + at + 0.0005, None, Packet(client, port, NODE, 31468, Flags.RST, isn + 1)))
        else:
            srv = rng.getrandbits(32)
            rows = [Packet(client, port, VIP, 80, Flags.SYN, isn),
                    Packet(VIP, 80, client, port, Flags.SYN | Flags.ACK, srv, isn + 1),
                    Packet(client, port, VIP, 80, Flags.ACK, isn + 1, srv + 1)]  # fmt: skip
            rows += [Packet(client, port, VIP, 80, Flags.ACK | Flags.PSH, isn + 1 + k, srv + 1) for k in range(5)]
            rows.append(Packet(client, port, VIP, 80, Flags.FIN | Flags.ACK, isn + 6, srv + 1))
            rows = rows[: packets - n]
            n += len(rows)
            for k, p in enumerate(rows):
                add(PacketRecord(t + k * 1e-5, None, p))
        i += 1
    while pending:
        yield heapq.heappop(pending)[2]
    made[:] = [hairpins, i]


def node_views(recs: Iterator[PacketRecord]) -> Iterator[PacketRecord]:
    """The client-side capture as ``tcpdump -i any`` on the client's node sees it: every packet of a healthy
    connection on the pod's veth and on the node's interface, 5 us apart; a hairpin's SYN on the veth and
    leaving the node (C -> VIP), back from the NLB as C -> NODE:31468, and after kube-proxy's DNAT and
    MASQUERADE as NODE:masq -> BACKEND:8080 on its way to the backend's node; the backend's SYN-ACK to
    NODE:masq, de-NATed to NODE:31468 -> C on the veth; the client's RST on the veth and after conntrack's
    NAT (NODE:masq -> BACKEND:8080).  The MASQUERADE port is the client's port + 1 (any port the client
    does not use).  In time order: each connection's views within 15 us of its packet."""
    pending: list[tuple[float, int, PacketRecord]] = []
    order = itertools.count()

    def add(t: float, p: Packet) -> None:
        heapq.heappush(pending, (t, next(order), PacketRecord(t, None, p)))

    for r in recs:
        while pending and pending[0][0] <= r.t:
            yield heapq.heappop(pending)[2]
        p, t = r.packet, r.t
        f = int(p.flags)
        if p.sport == 31468 or p.dport == 31468:  # a hairpin's SYN-ACK or RST
            cport = p.dport if p.sport == 31468 else p.sport
            masq = Packet(NODE, cport + 1, BACKEND, 8080, p.flags, p.seq, p.ack)
            if f & int(Flags.ACK):  # the backend's SYN-ACK to NODE:masq, then de-NATed on the veth
                add(t - 0.00001, Packet(BACKEND, 8080, NODE, cport + 1, p.flags, p.seq, p.ack))
                add(t, p)
            else:  # the client's RST on the veth, then after conntrack's NAT
                add(t, p)
                add(t + 0.00001, masq)
        elif p.dst == VIP and f == int(Flags.SYN):
            add(t, p)  # (the tag left behind)
            add(t + 0.000005, p)
            if r.comment == "hairpin":
                add(t + 0.0002, Packet(p.src, p.sport, NODE, 31468, p.flags, p.seq))
                add(t + 0.00021, Packet(NODE, p.sport + 1, BACKEND, 8080, p.flags, p.seq))
        else:
            add(t, p)
            add(t + 0.000005, p)
    while pending:
        yield heapq.heappop(pending)[2]


def target_views(packets: int, seed: int, made: list[int]) -> Iterator[PacketRecord]:
    """Healthy connections as the node an NLB sends them to captures them, 4 frames each: the client's SYN
    from the NLB to NODE:31468 (client address kept), after DNAT and MASQUERADE NODE:masq -> BACKEND:8080,
    the backend's SYN-ACK, and de-NATed NODE:31468 -> client; a connection every 0.2 ms, random ISNs, in
    time order.  ``made`` gets [0 hairpins, connections]."""
    rng = random.Random(seed)
    t = 1_764_547_200.0
    n = packets // 4
    for i in range(n):
        client, port = ip_int("192.168.0.0") + 10 + i % 5000, 32768 + i % 28000
        isn, masq = rng.getrandbits(32), 1024 + i % 60000
        t += 0.0002
        yield PacketRecord(t, None, Packet(client, port, NODE, 31468, Flags.SYN, isn))
        yield PacketRecord(t + 0.00001, None, Packet(NODE, masq, BACKEND, 8080, Flags.SYN, isn))
        yield PacketRecord(t + 0.00011, None, Packet(BACKEND, 8080, NODE, masq, Flags.SYN | Flags.ACK, 5, isn + 1))
        yield PacketRecord(t + 0.00012, None, Packet(NODE, 31468, client, port, Flags.SYN | Flags.ACK, 5, isn + 1))
    made[:] = [0, n]


def ipv6(r: PacketRecord) -> PacketRecord:
    """The record with its addresses a.b.c.d as fd00::a.b.c.d: the same capture, as an IPv6 cluster's."""
    p = r.packet
    return PacketRecord(r.t, r.interface, Packet(FD00 | p.src, p.sport, FD00 | p.dst, p.dport, p.flags, p.seq, p.ack,
                                                 p.proto, p.payload), r.comment)  # fmt: skip


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, str]:
    """CPU seconds (user + system), wall seconds, peak RSS in MB (the child's own, from wait4) and standard
    output."""
    t = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        secs = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} exited {proc.returncode}")
    return usage.ru_utime + usage.ru_stime, secs, usage.ru_maxrss / 1024, text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=2_000_000)
    ap.add_argument("--share", type=float, default=0.02, help="share of connections that hairpin")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="write the capture here (reused when it exists, with PATH.json)")
    ap.add_argument("--no-before", action="store_true", help="skip the streaming-reader-only run")
    ap.add_argument("--jitter", type=float, default=0.0, metavar="US",
                    help="move each timestamp later by a random 0 to US microseconds (several CPUs)")  # fmt: skip
    ap.add_argument("--baseline", type=Path, metavar="SRC", help="also time hairpin from this src directory")
    ap.add_argument("--no-tshark", action="store_true", help="skip the tshark runs")
    ap.add_argument("--ipv6", action="store_true", help="write every address a.b.c.d as fd00::a.b.c.d (IPv6 frames)")
    ap.add_argument("--tunnel", choices=("vxlan", "geneve", "ipip", "gre", "gre-eth"), help="write every frame inside this tunnel")
    ap.add_argument("--node-side", action="store_true",
                    help="as tcpdump -i any on the client's node sees it: views on the veth and eth0, NAT views")
    ap.add_argument("--target-side", action="store_true",
                    help="only healthy connections, as the node an NLB sends them to captures them (NAT views)")  # fmt: skip
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.keep or Path(tmp.name) / "cap.pcap"
    meta = path.with_suffix(path.suffix + ".json")
    if path.exists() and meta.exists():
        hairpins, connections = json.loads(meta.read_text())
    else:
        made: list[int] = []
        t = time.perf_counter()
        recs = (target_views(args.packets, args.seed, made) if args.target_side else
                records(args.packets, args.share, args.seed, made, args.jitter * 1e-6, args.node_side))  # fmt: skip
        write_pcap(path, map(ipv6, recs) if args.ipv6 else recs, **({"tunnel": args.tunnel} if args.tunnel else {}))
        hairpins, connections = made
        meta.write_text(json.dumps(made))
        print(f"wrote {path} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    size = path.stat().st_size / 1e6
    print(f"capture: {args.packets} packets, {size:.0f} MB, {connections} connections, {hairpins} hairpins written"
          + (f", timestamps moved by 0-{args.jitter:g} us" if args.jitter else "")
          + (f", inside {args.tunnel} (as written now: a kept file is not checked)" if args.tunnel else ""))  # fmt: skip
    out = Path(tmp.name) / "out.json"
    hairpin_cmd = [sys.executable, "-m", "hairpin.cli.main", "pcap", str(path), "--format", "json", "-o", str(out)]
    before_cmd = [sys.executable, "-c", "import sys,json\nfrom hairpin.diagnose.capture import analyse_files\n"
                  f"print(json.dumps(analyse_files([{str(path)!r}], fast=False).to_json()['summary']['hairpins']))"]  # fmt: skip
    tshark_cmd = ["tshark", "-n", "-r", str(path), "-Y", "tcp.flags.reset==1"]
    times: dict[str, list[tuple[float, float, float]]] = {"hairpin": [], "baseline": [], "before": [], "tshark": []}
    have_tshark = shutil.which("tshark") is not None and not args.no_tshark
    base_out = Path(tmp.name) / "base.json"
    base_env = {**os.environ, "PYTHONPATH": str(args.baseline)} if args.baseline else None
    for _ in range(args.runs):
        cpu, secs, rss, _text = run(hairpin_cmd)
        found = json.loads(out.read_text())["summary"]["hairpins"]
        if found != hairpins:
            raise SystemExit(f"hairpin found {found} hairpins, {hairpins} were written")
        times["hairpin"].append((cpu, secs, rss))
        if base_env is not None:
            cpu, secs, rss, _text = run([*hairpin_cmd[:-1], str(base_out)], base_env)
            if base_out.read_bytes() != out.read_bytes():
                raise SystemExit(f"the baseline's JSON ({args.baseline}) differs from this one's")
            times["baseline"].append((cpu, secs, rss))
        if not args.no_before:
            cpu, secs, rss, text = run(before_cmd)
            if int(text) != hairpins:
                raise SystemExit(f"the streaming reader found {text.strip()} hairpins, {hairpins} were written")
            times["before"].append((cpu, secs, rss))
        if have_tshark:
            cpu, secs, rss, text = run(tshark_cmd)
            resets = len(text.splitlines())
            per = 6 if args.node_side else 3  # (on the node, each RST is seen again after conntrack's NAT)
            if resets != per * hairpins:
                raise SystemExit(f"tshark shows {resets} resets, {per * hairpins} were written")
            times["tshark"].append((cpu, secs, rss))
    med = {k: tuple(statistics.median(x[n] for x in v) for n in range(3)) for k, v in times.items() if v}
    for k, (c, s, r) in med.items():
        print(f"{k:>8}: median CPU {c:6.2f} s, wall {s:6.2f} s, peak RSS {r:6.0f} MB  "
              f"(CPU {', '.join(f'{x[0]:.2f}' for x in times[k])}; wall {', '.join(f'{x[1]:.2f}' for x in times[k])})")  # fmt: skip
    if "tshark" in med:
        print(f"tshark / hairpin: {med['tshark'][0] / med['hairpin'][0]:.1f}x CPU, "
              f"{med['tshark'][1] / med['hairpin'][1]:.1f}x wall (goal >= 20x)")  # fmt: skip
    if "baseline" in med:
        print(f"baseline / hairpin: {med['baseline'][0] / med['hairpin'][0]:.2f}x CPU")
    if "before" in med:
        print(f"before / hairpin: {med['before'][0] / med['hairpin'][0]:.1f}x CPU")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
