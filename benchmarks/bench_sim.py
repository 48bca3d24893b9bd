"""Simulator throughput: simulated connections per second, hairpinned and healthy, next to the real kernel.

    python benchmarks/bench_sim.py [--connections N] [--lab] [--mode iptables|nftables|ipvs]

A hairpinned connection is simulated whole: 7 SYNs, each hairpinned through node1's conntrack and
answered with a RST, until ETIMEDOUT at 127 s of simulated time.  The reference is the real kernel:
the same connection takes 127 s of wall time there (tcp_syn_retries=6); a healthy one takes what the
lab measures (``--lab``, root only: real namespaces, real TCP).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from hairpin import scenario
from hairpin.backends import sim


def per_connection(net: sim.Network, target: str, n: int) -> tuple[float, str]:
    times = []
    outcome = ""
    for i in range(n):
        t0 = time.perf_counter()
        c = net.connect(i, 1, target=target)
        times.append(time.perf_counter() - t0)
        outcome = c.outcome
    return statistics.median(times), outcome


def lab_healthy_connect_time(n: int) -> float | None:
    try:
        from hairpin.backends.lab import bench_connect_time  # type: ignore[attr-defined]
    except Exception:
        return None
    return float(bench_connect_time(n))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--lab", action="store_true", help="also time healthy connections in the real-kernel lab (root)")
    ap.add_argument("--mode", choices=("iptables", "nftables", "ipvs"), default="iptables", help="kube-proxy mode")
    args = ap.parse_args()
    from dataclasses import replace

    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode=args.mode))
    quiet = sim.Network(s, verbose=False)
    loud = sim.Network(s, quiet.topology, verbose=True)
    rows = []
    for label, target in (
        ("hairpinned (timeout)", "192.168.2.3:31468"),
        ("healthy (established)", "192.168.21.86:31468"),
    ):
        q, outcome = per_connection(quiet, target, max(50, args.connections // 10))
        v, _ = per_connection(loud, target, 50)
        rows.append((label, outcome, q, v))
    t0 = time.perf_counter()
    run = sim.run(s, args.connections, seed=3)
    total = time.perf_counter() - t0
    lab = lab_healthy_connect_time(20) if args.lab else None
    kernel = {"hairpinned (timeout)": 127.0, "healthy (established)": lab}
    print(f"python {sys.version.split()[0]}; seed scenario, kube-proxy {args.mode} mode; median per connection")
    print(f"{'connection':24} {'outcome':12} {'quiet':>10} {'traced':>10} {'real kernel':>12} {'sim speed-up':>13}")
    for label, outcome, q, v in rows:
        k = kernel[label]
        ks = f"{k:.4f} s" if k is not None else "n/a"
        ratio = f"{k / q:,.0f}x" if k is not None else "n/a"
        print(f"{label:24} {outcome:12} {q * 1e3:8.3f}ms {v * 1e3:8.3f}ms {ks:>12} {ratio:>13}")
    print(
        f"sim.run({args.connections}) on the seed: {total:.2f} s, {args.connections / total:,.0f} connections/s, "
        f"rate {run.summary.rate:.3f} (expected {run.summary.expected_rate:.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
