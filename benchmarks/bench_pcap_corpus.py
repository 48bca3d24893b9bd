"""``hairpin pcap`` over a corpus of real captures it has never seen: no traceback, every skipped frame counted.

Usage: python benchmarks/bench_pcap_corpus.py DIR [--vxlan-port N]

DIR: a directory of ``*.pcap``/``*.pcapng`` files, e.g. the tcpdump project's test corpus
(``git clone https://github.com/the-tcpdump-group/tcpdump`` and pass its ``tests`` directory; about 830
captures of every link type and protocol tcpdump decodes, many of them malformed on purpose).  Each file is
analysed on its own, as ``hairpin pcap FILE`` would.  Prints the totals: files read, refused (not a capture),
malformed (corrupt structure), cut short, with no TCP packet; frames, TCP packets, skipped frames by reason;
connections and the kinds found; the link types that are not decoded, by frame count; any exception other
than a located ``ParseError`` (a bug, listed by file).  The numbers in docs/pcap.md come from this script.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections import Counter
from pathlib import Path

from hairpin.diagnose.capture import analyse_files
from hairpin.errors import ParseError
from hairpin.parsers.frames import LINKTYPES


def main() -> int:
    root = Path(sys.argv[1])
    files = sorted(p for p in root.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))
    tally: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    unknown_links: Counter[int] = Counter()
    bugs: list[str] = []
    t0 = time.perf_counter()
    for path in files:
        tally["files"] += 1
        try:
            a = analyse_files([path])
        except ParseError:
            tally["refused (not a capture)"] += 1
            continue
        except Exception:  # the point: any other exception is a bug to list
            bugs.append(f"{path.name}: {traceback.format_exc().strip().splitlines()[-1]}")
            continue
        f = a.files[0]
        tally["frames"] += f.packets
        tally["TCP packets"] += f.tcp
        tally["connections"] += a.connections
        tally["hairpins"] += len(a.hairpins)
        tally["healthy"] += a.healthy
        kinds.update(a.other_failures)
        reasons.update(dict(f.skipped_by))
        if f.error and f.damage:
            tally["malformed"] += 1
        elif f.error:
            tally["no TCP packet (exit 2)"] += 1
        elif f.damage:
            tally["cut short (warning)"] += 1
        if f.skipped and not f.error:
            tally["read, some frames skipped (warning)"] += 1
        for lt in f.linktypes:
            if lt not in LINKTYPES:
                unknown_links[lt] += f.packets
    secs = time.perf_counter() - t0
    print(f"{len(files)} captures under {root} in {secs:.1f} s")
    for k, v in tally.items():
        print(f"  {k}: {v}")
    print("  skipped frames by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    print("  other failures: " + (", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"))
    print("  link types not decoded (frames): " + ", ".join(f"{k} {v}" for k, v in unknown_links.most_common(12)))
    print(f"  exceptions other than a located error: {len(bugs)}")
    for b in bugs:
        print(f"    {b}")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
