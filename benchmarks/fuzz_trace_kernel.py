"""The kernel differential of ``hairpin trace`` at length: random rulesets, one real packet each, the rule counters.

Each case (``tests/kernel_diff.py``) loads a random ruleset over raw, mangle, nat and filter into a private node
namespace (``hpw-kd-b-*``, beside a sender ``hpw-kd-a-*``; both deleted after every case), sends one TCP or UDP
packet into it and compares the rules whose counters moved, the policies applied and the packets that left or
reached a socket with hairpin's trace of the namespace's dumps.  Needs root, iproute2 and iptables-nft.

Run: ``PYTHONPATH=src python3 benchmarks/fuzz_trace_kernel.py --cases 300 --seed 1000 [--family 6] [--out DIR]``;
every case that differs is printed (and written to DIR), with its ruleset and hairpin's trace.  Exit code 1 when
a case differed.  ``--family 6``: IPv6 (``tests/kernel_diff6.py``: ip6tables-nft, namespaces ``hpw-kd6-*``); its
``noise`` cases (the node's own ICMPv6 in the packet's window) are counted, not compared.
"""

from __future__ import annotations

import argparse
import collections
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import kernel_diff as kd
import kernel_diff6 as kd6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0, help="the first case's seed (cases are seed, seed+1, ...)")
    ap.add_argument("--out", type=Path, help="write each case that differs here")
    ap.add_argument("--family", type=int, choices=(4, 6), default=4)
    ap.add_argument("--kernel-only", action="store_true", help="IPv6: run the kernel's side alone (no trace)")
    args = ap.parse_args(argv)
    # a SIGTERM ends the run through SystemExit, so the case under way deletes its namespaces (run_case's finally)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    def one(seed: int) -> kd.Result:
        return kd6.one(seed, trace=not args.kernel_only) if args.family == 6 else kd.one(seed)

    tool = "ip6tables-nft" if args.family == 6 else "iptables-nft"
    version = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    print(f"kernel {platform.release()}, {version}, {time.strftime('%Y-%m-%d')}", flush=True)
    counts: collections.Counter[str] = collections.Counter()
    fates: collections.Counter[str] = collections.Counter()
    matched = 0
    t0 = time.monotonic()
    for seed in range(args.seed, args.seed + args.cases):
        res = one(seed)
        counts[res.status] += 1
        if res.status in ("agree", "differ"):
            fates[("out " if res.probe.iif == "out" else "") + res.fate] += 1
            matched += res.matched
        if res.status == "differ":
            text = kd.report(res)
            print(text, flush=True)
            if args.out is not None:
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / f"case-{seed}.txt").write_text(text)
        elif res.status not in ("agree", "kernel"):
            print(f"seed {seed}: {res.status}: {res.detail}", flush=True)
    took = time.monotonic() - t0
    print(f"{args.cases} cases in {took:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    compared = counts["agree"] + counts["differ"]
    print("compared cases by hairpin's fate of the packet: " + ", ".join(f"{k} {v}" for k, v in sorted(fates.items()))
          + f"; {matched} rule counters moved ({matched / max(compared, 1):.1f} a case)")
    return 1 if counts["differ"] else 0


if __name__ == "__main__":
    sys.exit(main())
