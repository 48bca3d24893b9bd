"""Simulator throughput: simulated connections per second, hairpinned and healthy, next to the real kernel.

    python benchmarks/bench_sim.py [--connections N] [--lab] [--mode iptables|nftables|ipvs]
    python benchmarks/bench_sim.py --memo-table [--connections N] [--repeats R] [--scenario examples/X.yaml]
    python benchmarks/bench_sim.py --floor [--connections N] [--repeats R] [--scenario examples/X.yaml]

A hairpinned connection is simulated whole: 7 SYNs, each hairpinned through node1's conntrack and
answered with a RST, until ETIMEDOUT at 127 s of simulated time.  The reference is the real kernel:
the same connection takes 127 s of wall time there (tcp_syn_retries=6); a healthy one takes what the
lab measures (``--lab``, root only: real namespaces, real TCP).

``--memo-table``: ``sim.run`` connections/s (CPU time of this process, median of ``--repeats``) in each
kube-proxy mode with the memo of whole connections off and on, the memo's hit rate and the number of
SYN round states it shares subtrees for (``hairpin.backends.memo_rounds``), for the seed
and each ``--scenario``; then ``hairpin reproduce``'s default run (1,000 connections and 1,000 for each
workaround) off and on.

``--floor``: the least work any simulator giving today's results byte for byte must do per connection.
Every random value a connection uses comes from a stream seeded by text (``random.Random(f"{seed}:{id}:
{host}")``: SHA-512 of the text, then MT19937's ``init_by_array`` over 624 words, then a twist before the
first value), and no value can be had without that seeding.  A full simulation of each connection records
which streams it drew from (the client port's, the DNS answer's, each host's and the NLB key's that gave at
least one value); seeding exactly those texts and taking one value from each, with nothing simulated, is
timed: its connections/s is a ceiling for byte-identical results with CPython's ``random``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from hairpin import scenario
from hairpin.backends import sim


def per_connection(net: sim.Network, target: str, n: int) -> tuple[float, str]:
    times = []
    outcome = ""
    for i in range(n):
        t0 = time.process_time()
        c = net.connect(i, 1, target=target)
        times.append(time.process_time() - t0)
        outcome = c.outcome
    return statistics.median(times), outcome


def cpu(fn: Callable[[], object], repeats: int) -> float:
    """Median CPU seconds of ``fn()`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def memo_table(n: int, repeats: int, paths: list[str]) -> int:
    from hairpin import sweep
    from hairpin.backends import memo

    print(f"python {sys.version.split()[0]}; sim.run({n}, seed=3); CPU time, median of {repeats}")
    print(f"{'scenario':28} {'mode':9} {'memo off':>12} {'memo on':>12} {'speed-up':>9} {'hits':>6} {'timeouts':>9} "
          f"{'rounds':>6}")  # fmt: skip
    named = [("seed", scenario.seed())] + [(p.rsplit("/", 1)[-1], scenario.load(p)) for p in paths]
    for name, base in named:
        for mode in ("iptables", "nftables", "ipvs"):
            s = sweep.point_scenario(base, {"mode": mode})
            off = cpu(lambda s=s: sim.run(s, n, seed=3, memo=False), repeats)
            on = cpu(lambda s=s: sim.run(s, n, seed=3, memo=True), repeats)
            m = memo.Memo(sim.Network(s, verbose=False))
            for i in range(n):
                if m.lookup(i, 3) is None:
                    m.record(i, 3)
            rate = sim.run(s, n, seed=3).summary.rate
            print(f"{name:28} {mode:9} {n / off:10,.0f}/s {n / on:10,.0f}/s {off / on:8.2f}x "
                  f"{m.hits / n:6.1%} {rate:9.3f} {len(getattr(m, 'rounds', ())):6}")  # fmt: skip
    s = scenario.seed()
    off = cpu(lambda: sim.run(s, 1000, seed=0, fixes=True, memo=False), repeats)
    on = cpu(lambda: sim.run(s, 1000, seed=0, fixes=True, memo=True), repeats)
    print(f"hairpin reproduce defaults (seed, 1,000 + 6 x 1,000 connections): memo off {off:.2f} s, on {on:.2f} s")
    return 0


def floor(n: int, repeats: int, paths: list[str]) -> int:
    from hairpin.backends import memo

    print(f"python {sys.version.split()[0]}; {n} connections, seed 3; seeding CPU time, median of {repeats}")
    print(f"{'scenario':28} {'streams/conn':>12} {'min':>4} {'max':>4} {'per stream':>11} {'ceiling':>12}")
    named = [("seed", scenario.seed())] + [(p.rsplit("/", 1)[-1], scenario.load(p)) for p in paths]
    for name, s in named:
        net = sim.Network(s, verbose=False)
        net.keep_hops = False
        taps: list[tuple[str, memo._Tap]] = []

        def stream(text: str, taps: list[tuple[str, memo._Tap]] = taps) -> random.Random:
            tap = memo._Tap(text)
            taps.append((text, tap))
            return tap

        net.stream = stream
        texts: list[list[str]] = []
        for i in range(n):
            taps.clear()
            net.connect(i, 3)
            used = [f"3:{i}:client-port"]  # Network.client_port: always drawn
            assert net._dns is not None
            if net._dns[1]:  # Network.destination: one DNS answer drawn when the NLB has several
                used.append(f"3:{i}:dns")
            used += [text for text, tap in taps if tap.draws]
            texts.append(used)
        flat = [t for used in texts for t in used]

        def seed_all(flat: list[str] = flat) -> None:
            for text in flat:
                random.Random(text).random()

        t = cpu(seed_all, repeats)
        counts = [len(u) for u in texts]
        print(f"{name:28} {len(flat) / n:12.2f} {min(counts):4} {max(counts):4} {t / len(flat) * 1e6:9.2f}us "
              f"{n / t:10,.0f}/s")  # fmt: skip
    return 0


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
    ap.add_argument("--memo-table", action="store_true", help="connections/s with the memo off and on, by mode")
    ap.add_argument("--floor", action="store_true", help="the seeding a byte-identical simulator cannot avoid")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scenario", action="append", default=[], help="also this scenario (--memo-table)")
    args = ap.parse_args()
    if args.memo_table:
        return memo_table(args.connections, args.repeats, args.scenario)
    if args.floor:
        return floor(args.connections, args.repeats, args.scenario)
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
    t0 = time.process_time()
    run = sim.run(s, args.connections, seed=3)
    total = time.process_time() - t0
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
