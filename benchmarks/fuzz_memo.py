"""The memo's differential fuzz at length: ``python benchmarks/fuzz_memo.py --cases 2000 --seed 1`` draws cases as
``tests/test_sim_memo_fuzz.py`` does (``params``), runs each with and without the memo and prints every case
that differs (and a count at the end).  Not a test: it takes as long as the cases it is asked for."""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from test_sim_memo_fuzz import HITS, ROUND_HITS, build, differ, params


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-n", type=int, default=10_000, help="skip cases with more connections")
    ap.add_argument("--big", type=float, default=0.0, help="share of cases given 500 to 3,000 connections")
    a = ap.parse_args()
    r = random.Random(a.seed)
    ran = refused = bad = conns = hits = round_hits = 0
    errors: collections.Counter[str] = collections.Counter()
    t0 = time.time()
    for i in range(a.cases):
        p = params(r)
        if r.random() < a.big:
            p["n"] = r.choice((500, 1000, 2000, 3000))
        if p["n"] > a.max_n:
            continue
        if build(p) is None:
            refused += 1
            continue
        try:
            why = differ(p)
        except Exception as e:
            errors[f"{type(e).__name__}: {e}"[:200]] += 1
            if errors[f"{type(e).__name__}: {e}"[:200]] == 1:
                print("ERROR", json.dumps(p), traceback.format_exc(limit=3), flush=True)
            continue
        ran += 1
        conns += p["n"]
        hits += HITS[-1] if HITS else 0
        round_hits += ROUND_HITS[-1] if ROUND_HITS else 0
        if why is not None:
            bad += 1
            print("DIFF", json.dumps(p), why, flush=True)
        if ran % 25 == 0:
            print(
                f"# {i} drawn, {ran} ran, {refused} refused, {bad} differ, {conns} connections ({hits} memo hits, {round_hits} of several SYN rounds), "
                f"{time.time() - t0:.0f} s",
                flush=True,
            )
    print(
        f"# done: {ran} ran ({conns} connections x 2), {refused} refused, {bad} differ, {hits} memo hits ({round_hits} of several SYN rounds), {sum(errors.values())} errors "
        f"{dict(errors)}, {time.time() - t0:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
