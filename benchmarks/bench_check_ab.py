"""``hairpin check`` of one dump by two (or more) versions of the code, alternating, answers compared.

    python benchmarks/bench_check_ab.py DUMP TREE_A TREE_B [--runs 6] [--format json]

Each TREE is a checkout of hairpin (its ``src`` directory goes on ``PYTHONPATH``); each round runs
``hairpin check DUMP --format F -o OUT`` once with every tree in turn (A B A B ...), as a child process
whose CPU time (user + system) and peak RSS come from ``os.wait4``.  On a machine shared with other work
the wall time and even the CPU time move from run to run, so the versions alternate and the medians are
compared.  The reports the trees write must be byte for byte the same (exit 1 otherwise).  Each tree is
byte-compiled first, as an installed package is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def once(tree: Path, dump: Path, fmt: str, out: Path) -> tuple[float, float, float, int]:
    """One check by ``tree``: (CPU seconds, system seconds, peak RSS in MiB, exit code)."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    cmd = [sys.executable, "-c", "from hairpin.cli.main import entry; entry()", "check", str(dump)]
    child = subprocess.Popen([*cmd, "--format", fmt, "-o", str(out)], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return usage.ru_utime + usage.ru_stime, usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump", type=Path)
    ap.add_argument("trees", type=Path, nargs="+", help="checkouts of hairpin, run in this order each round")
    ap.add_argument("--runs", type=int, default=6, help="rounds (each runs every tree once)")
    ap.add_argument("--format", default="json", choices=["json", "sarif"])
    args = ap.parse_args()
    cpu: dict[Path, list[float]] = {t: [] for t in args.trees}
    for t in args.trees:  # as an installed package runs (see compare.compiled)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(t / "src")], check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        outs = {t: Path(tmp) / f"{i}.{args.format}" for i, t in enumerate(args.trees)}
        for r in range(args.runs):
            for t in args.trees:
                t0 = time.monotonic()
                used, system, rss, code = once(t, args.dump, args.format, outs[t])
                cpu[t].append(used)
                print(f"round {r + 1} {t}: {used:.2f} s CPU ({system:.2f} s system), {rss:,.0f} MiB, "
                      f"{time.monotonic() - t0:.2f} s wall, exit {code}, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        first = outs[args.trees[0]].read_bytes()
        differ = [t for t in args.trees[1:] if outs[t].read_bytes() != first]
    for t in args.trees:
        print(f"{t}: median {statistics.median(cpu[t]):.2f} s CPU, {min(cpu[t]):.2f}-{max(cpu[t]):.2f} s")
    if differ:
        print(f"the {args.format} reports differ: {', '.join(map(str, differ))} against {args.trees[0]}")
        return 1
    print(f"the {args.format} reports are byte for byte the same")
    return 0


if __name__ == "__main__":
    sys.exit(main())
