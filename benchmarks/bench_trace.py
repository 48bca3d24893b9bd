"""Tracer scale: parse + index time against ``iptables-restore --test`` on the same dump, and the time to
trace one packet, for kube-proxy dumps from ~1k to ~190k rules.

The dumps are the seed's node1 rules (``hairpin.kube.node_iptables``) with N synthetic Services added in
kube-proxy's 1.18 layout (a KUBE-SERVICES rule per ClusterIP, a KUBE-NODEPORTS pair, a KUBE-SVC chain with
5 statistic rules, 5 KUBE-SEP chains with their hairpin-masquerade and DNAT rules): 19 rules a Service.
The traced packet is the seed's SYN to node1's NodePort, so its path crosses the full KUBE-SERVICES chain.
``iptables-restore --test`` runs inside a throwaway network namespace (root; skipped otherwise).

Per traced packet after load: once the node is loaded and the first trace has compiled the rules on the
path, the CPU time (``time.process_time``) of a trace divided by the packet passes it made (the SYN's 3
outcomes: 3 passes; with ``--reply``: 6), the median of several runs of many traces; every trace's answer
is checked (3 outcomes, their probabilities, the DNAT backends, the asymmetric replies).

``--fresh``: the same per-pass figure for SYNs each from a source no trace sent before (10.200.0.0/16 on eth0),
so that no trace meets a flow class an earlier one walked (the tracer keeps nat walks per flow class:
``hairpin.netfilter.walks``); their replies return by eth0 (not asymmetric), so only the SYN is timed.

Usage: python benchmarks/bench_trace.py [--fresh] [services ...]   (default: 50 500 2000 10000)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from fractions import Fraction
from pathlib import Path

from hairpin import trace as tr
from hairpin.kube import node_iptables
from hairpin.model.net import Packet
from hairpin.scenario import seed

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
PROBS = ("0.20000000019", "0.25000000000", "0.33333333349", "0.50000000000")
#: the SYN's outcomes on node1: kube-proxy's 1/3 (xt_statistic: lround(p * 2^31) / 2^31) and the rest halved
THIRD = Fraction(715827883, 2**31)
WANT = [(THIRD, "192.168.39.2:80"), ((1 - THIRD) / 2, "192.168.49.70:80"), ((1 - THIRD) / 2, "192.168.16.142:80")]


def dump(services: int) -> str:
    chains: list[str] = []
    rules: list[str] = []
    for i in range(services):
        name = f"ns{i % 97}/svc{i}:http"
        cip = f"10.{100 + i // 65536}.{(i // 256) % 256}.{i % 256}"
        svc = f"KUBE-SVC-S{i:015d}"
        chains.append(f":{svc} - [0:0]")
        rules.append(
            f'-A KUBE-SERVICES -d {cip}/32 -p tcp -m comment --comment "{name} cluster IP" -m tcp --dport 80 -j {svc}'
        )
        rules.append(
            f'-A KUBE-NODEPORTS -p tcp -m comment --comment "{name}" -m tcp --dport {40000 + i % 20000} -j KUBE-MARK-MASQ'
        )
        for e in range(5):
            sep = f"KUBE-SEP-S{i:09d}E{e:05d}"
            chains.append(f":{sep} - [0:0]")
            pod = f"172.{16 + (i * 5 + e) // 65536}.{((i * 5 + e) // 256) % 256}.{(i * 5 + e) % 256}"
            stat = f"-m statistic --mode random --probability {PROBS[e]} " if e < 4 else ""
            rules.append(f'-A {svc} -m comment --comment "{name}" {stat}-j {sep}')
            rules.append(f'-A {sep} -s {pod}/32 -m comment --comment "{name}" -j KUBE-MARK-MASQ')
            rules.append(f'-A {sep} -p tcp -m comment --comment "{name}" -m tcp -j DNAT --to-destination {pod}:8080')
    out: list[str] = []
    for line in node_iptables(seed(), "node1").splitlines():
        if line.startswith("-A KUBE-SERVICES") and "nodeports" in line:
            out.extend(rules)
        out.append(line)
        if line == "*nat":
            out.extend(chains)
    return "\n".join(out) + "\n"


def check(result: tr.Trace, reply: bool) -> int:
    """The trace's answer is the seed's (see WANT); the packet passes it made."""
    got = [(o.probability, str(o.legs[0].out_packet.dest) if o.legs[0].out_packet else None) for o in result.outcomes]
    assert got == WANT, got
    assert all((o.asymmetric is not None) == reply for o in result.outcomes)
    return sum(len(o.legs) for o in result.outcomes)


def per_packet(node: tr.Node, reply: bool, traces: int = 200, runs: int = 9) -> tuple[float, int]:
    """CPU seconds per packet pass once loaded, the median of ``runs`` runs of ``traces`` traces; the passes
    a trace makes.  Each trace's answer is checked, outside the timed part."""
    packet, iif = tr.parse_packet(SYN)
    passes = check(tr.trace(node, packet, iif, reply=reply), reply)  # compiles the chains the packet reaches
    per: list[float] = []
    for _ in range(runs):
        got = []
        c0 = time.process_time()
        for _ in range(traces):
            got.append(tr.trace(node, packet, iif, reply=reply))
        per.append((time.process_time() - c0) / traces / passes)
        for result in got:
            check(result, reply)
    return statistics.median(per), passes


def per_packet_fresh(node: tr.Node, traces: int = 200, runs: int = 9) -> float:
    """``per_packet`` for SYNs each from a new source (a flow class no trace met), without their replies."""
    sources = iter(range(1, 65536))

    def syn() -> tuple[Packet, str | None]:
        i = next(sources)
        return tr.parse_packet(f"tcp 10.200.{i >> 8}.{i & 255}:49134 > 192.168.2.3:31468 syn in eth0")

    packet, iif = syn()
    passes = check(tr.trace(node, packet, iif), False)
    per: list[float] = []
    for _ in range(runs):
        todo = [syn() for _ in range(traces)]
        got = []
        c0 = time.process_time()
        for packet, iif in todo:
            got.append(tr.trace(node, packet, iif))
        per.append((time.process_time() - c0) / traces / passes)
        for result in got:
            check(result, False)
    return statistics.median(per)


def restore_test(path: Path) -> float | None:
    if os.geteuid() != 0 or shutil.which("iptables-restore") is None:
        return None
    ns = f"hpbench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        t = time.perf_counter()
        with open(path) as f:
            subprocess.run(["ip", "netns", "exec", ns, "iptables-restore", "--test"], stdin=f, check=True)
        return time.perf_counter() - t
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def main() -> None:
    fresh = "--fresh" in sys.argv[1:]
    sizes = [int(a) for a in sys.argv[1:] if a != "--fresh"] or [50, 500, 2000, 10000]
    if fresh:
        print(f"{'services':>8} {'rules':>8} {'per traced SYN from a new source after load, us CPU a pass':>60}")
    else:
        print(f"{'services':>8} {'rules':>8} {'parse+index s':>14} {'iptables-restore --test s':>26} {'ratio':>6} "
              f"{'per traced packet after load, us CPU (--reply)':>47}")  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        for n in sizes:
            path = Path(d) / f"ipt{n}"
            text = dump(n)
            path.write_text(text)
            rules = sum(line.startswith("-A ") for line in text.splitlines())
            t0 = time.perf_counter()
            node = tr.Node.load(path, DATA / "ip-route", DATA / "ip-rule", DATA / "ip-addr", name="node1")
            node.tracer()  # builds the host's evaluator: compile and index every rule
            load_s = time.perf_counter() - t0
            if fresh:
                print(f"{n:>8} {rules:>8} {per_packet_fresh(node) * 1e6:>60.1f}")
                continue
            request, _ = per_packet(node, reply=False)
            both, _ = per_packet(node, reply=True)
            ref = restore_test(path)
            ratio = f"{load_s / ref:.1f}x" if ref else "-"
            print(f"{n:>8} {rules:>8} {load_s:>14.2f} {ref if ref is not None else float('nan'):>26.2f} {ratio:>6} "
                  f"{request * 1e6:>37.1f} ({both * 1e6:.1f})")  # fmt: skip


if __name__ == "__main__":
    main()
