"""Sweep throughput: grid points per second on 1 and 2 local processes, a Dask LocalCluster and a local Ray.

    python benchmarks/bench_sweep.py [--connections N] [--repeat R] [--grid KEY=V1,V2 ...] [--no-dask] [--no-ray]

Every run simulates the same points with the same seed (results are checked identical across runs).
Columns: wall time of ``sweep.run`` (best of ``--repeat``; the local pool's start-up is inside it, a
cluster's start-up is reported on its own line, since a cluster is started once for many sweeps), points
per second, speed-up against the 1-process run, parallel efficiency (speed-up / cores used), wall time per
simulated connection, and how many seconds of real-kernel ``connect()`` time the sweep stands for per wall
second (a hairpinned connection costs 127 s in the real kernel with tcp_syn_retries=6, bench_sim.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable

from hairpin import scenario, sweep

KERNEL_TIMEOUT_S = 127.0  # tcp_syn_retries=6: 1+2+4+8+16+32+64 s


def best(fn: Callable[[], list[sweep.Result]], repeat: int) -> tuple[float, list[sweep.Result]]:
    times = []
    out: list[sweep.Result] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=400, help="simulated connections per point")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--grid", action="append", default=None, help="KEY=V1,V2 (default: nodes x cross_zone x target_type)")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    grid = sweep.Grid.parse(args.grid or ["nodes=1,2,3,4,6", "cross_zone=false,true", "target_type=instance,ip"])
    base = scenario.seed()
    n_points = len(grid.points())

    def go(**kw: object) -> Callable[[], list[sweep.Result]]:
        return lambda: sweep.run(base, grid, connections=args.connections, seed=1, **kw)  # type: ignore[arg-type]

    rows: list[tuple[str, int, float]] = []
    notes: list[str] = []
    t1, ref = best(go(workers=1), args.repeat)
    rows.append(("local, 1 process", 1, t1))
    t2, r2 = best(go(workers=2), args.repeat)
    assert [r.timeouts for r in r2] == [r.timeouts for r in ref]
    rows.append(("local, 2 processes", 2, t2))
    if not args.no_dask:
        try:
            from distributed import LocalCluster
        except ImportError:
            notes.append("dask: not installed (pip install -e '.[cluster]')")
        else:
            t0 = time.perf_counter()
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            notes.append(f"dask LocalCluster(2 worker processes) start-up: {time.perf_counter() - t0:.2f} s")
            try:
                td, rd = best(go(dask=cluster.scheduler_address), args.repeat)
            finally:
                cluster.close()
            assert [r.timeouts for r in rd] == [r.timeouts for r in ref]
            rows.append(("dask LocalCluster, 2 workers", 2, td))
    if not args.no_ray:
        try:
            import ray
        except ImportError:
            notes.append("ray: not installed (pip install -e '.[cluster]')")
        else:
            t0 = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
            notes.append(f"ray.init(num_cpus=2) start-up: {time.perf_counter() - t0:.2f} s")
            try:
                sweep.run(base, grid, connections=10, ray="local")  # warm the worker processes once
                tr, rr = best(go(ray="local"), args.repeat)
            finally:
                ray.shutdown()
            assert [r.timeouts for r in rr] == [r.timeouts for r in ref]
            rows.append(("ray local, 2 CPUs", 2, tr))

    conns = n_points * args.connections
    timeouts = sum(r.timeouts for r in ref)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; seed scenario; {n_points} points x "
          f"{args.connections} connections ({timeouts} of {conns} time out); best of {args.repeat}")  # fmt: skip
    print(f"{'where':30} {'wall':>8} {'points/s':>9} {'vs 1 proc':>10} {'efficiency':>11} {'per conn':>9} "
          f"{'kernel s / wall s':>18}")  # fmt: skip
    for label, cores, t in rows:
        print(f"{label:30} {t:7.2f}s {n_points / t:9.2f} {t1 / t:9.2f}x {t1 / t / cores:10.0%} "
              f"{t / conns * 1e3:7.3f}ms {timeouts * KERNEL_TIMEOUT_S / t:18,.0f}")  # fmt: skip
    for n in notes:
        print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
