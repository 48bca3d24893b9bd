"""A differential campaign against ``hairpin pcap``'s fast path on the edges of its conditions: every case must
give the streaming analyser's answer, byte for byte.

What it does: where :mod:`fuzz_pcap` mutates bytes and formats, this one builds captures whose rows sit on
the conditions the first pass decides by (``hairpin.parsers.fastscan_groups.healthy_pairs`` and its views and
runs, ``lone_syns``, ``hairpin.diagnose.capture_hairpins``, the replay of ``hairpin.diagnose.capture_fast``):

- ``stories``: a few connections (healthy, hairpin, the client node's NAT views, the target node's, a server
  reset, a lone SYN, or random SYN/SYN-ACK/RST rows among a few endpoints), each shifted, dropped, re-addressed
  or seen again by small chances, their rows at time steps on the edges (0.2 s either way, 4 s, 10 s, 130 s,
  135 s), ISNs drawn or shared (0 and 2**32 - 1 among them), IPv4, IPv6 or both; in time order, jittered by up
  to 3.9 s or with neighbours swapped; in one file, split among two or three, or copied into files whose
  clocks are ahead (by 0.2 s exactly among others); classic pcap or pcapng (three interfaces);
- ``floods``: hundreds of attempts (lone SYNs to V, to a loopback address and from a node to itself,
  hairpins of up to 6 rounds, healthy handshakes once or twice, server resets) over hundreds of seconds, so
  the looks for attempts to forget close hairpins in varying orders among many left-out attempts.

Each case is analysed three ways (``analyse_files`` from the columns, the per-row fast path, the streaming
analyser with ``fast=False``) with ``listed`` 1, 2 or 10,000 and compared: the JSON bytes, the warnings,
``late``, the tallies in order and every listed attempt's fields with its number.  A case that disagrees is
written to ``--out`` (its files and a report) and counted.

Run: ``PYTHONPATH=src python3 benchmarks/fuzz_pcap_edges.py --cases 5000 --seed 1 --out /tmp/edges``
(``--mode floods`` for the second kind).  Exit code 1 when a case disagreed.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

from hairpin.diagnose import capture
from hairpin.model.net import V6, Flags, Packet, ip_int
from hairpin.parsers import pcap
from hairpin.render.json_out import dumps_indent1

SYN, SA, RST, ACK = Flags.SYN, Flags.SYN | Flags.ACK, Flags.RST, Flags.ACK
R = pcap.PacketRecord
_V4 = {"C": ("10.0.0.1", 40000), "C2": ("10.0.0.1", 40001), "D": ("10.0.0.2", 40000), "V": ("192.168.168.103", 80),
       "N": ("192.168.2.3", 31468), "N2": ("192.168.2.4", 31468), "M": ("192.168.2.3", 61000),
       "B": ("192.168.39.2", 8080), "CN": ("192.168.2.3", 40000), "L": ("127.0.0.1", 80), "VN": ("192.168.2.3", 80),
       "Z0": ("0.0.0.0", 40000), "Z1": ("0.0.0.1", 80)}  # fmt: skip
V4 = {k: (ip_int(a), p) for k, (a, p) in _V4.items()}
V6S = {k: (V6 | 1 if a >> 24 == 127 else V6 | 0x20010DB8 << 96 | a, p) for k, (a, p) in V4.items()}
# an IPv6 row's addresses are indexes into its file's table (0, 1, ...): the IPv4 endpoints Z0 and Z1 are
# numerically equal to the first two, which the first pass must never take for the same address
STEPS = [0, 0, 0, 1e-6, 0.0001, 0.0004, 0.1999, 0.199999, 0.2, 0.200001, 0.25, 1.0, 3.0, 3.99, 4.0, 9.99, 10.0,
         10.01, 129.99, 130.0, 130.01, 134.99, 135.0, 135.01, 140.0]  # fmt: skip
BEHIND = [-1e-6, -0.0001, -0.1999, -0.2]
SHAPES: dict[str, list[tuple[str, str, Flags, float]]] = {
    "healthy": [("C", "V", SYN, 0), ("V", "C", SA, 0.0004)],
    "hairpin": [("C", "V", SYN, 0), ("N", "C", SA, 0.0004), ("C", "N", RST, 0.0005)],
    "node-side": [("C", "V", SYN, 0), ("C", "V", SYN, 5e-6), ("C", "N", SYN, 0.0002), ("M", "B", SYN, 0.00021),
                  ("B", "M", SA, 0.0003), ("N", "C", SA, 0.0004), ("C", "N", RST, 0.0005), ("M", "B", RST, 0.00051)],
    "target": [("C", "N", SYN, 0), ("M", "B", SYN, 0.0001), ("B", "M", SA, 0.0003), ("N", "C", SA, 0.0004)],
    "lone": [("C", "V", SYN, 0)],
    "server-reset": [("C", "V", SYN, 0), ("V", "C", RST | ACK, 0.0004)],
}  # fmt: skip


def packet(src: tuple[int, int], dst: tuple[int, int], fl: Flags, isn: int) -> Packet:
    """A row naming ``isn`` as the analyser looks it up: a SYN's sequence number, a SYN-ACK's or a RST with
    ACK's acknowledgement (ISN + 1), a RST's sequence number (ISN + 1)."""
    nxt = (isn + 1) & 0xFFFFFFFF
    if fl & SYN and not fl & ACK:
        return Packet(*src, *dst, fl, isn)
    if fl & (SYN | ACK):
        return Packet(*src, *dst, fl, 7, nxt)
    return Packet(*src, *dst, fl, nxt)


def story(rng: random.Random) -> list[tuple[float, str, str, Flags]]:
    """One connection's rows (time offset, source, destination, flags), a shape's changed by small chances."""
    mut, views = rng.choice([0.0, 0.0, 0.03, 0.1]), rng.choice([0.0, 0.1, 0.3, 1.0])
    name = rng.choice([*SHAPES, "random", "random", "families"])
    if name == "families":  # an IPv6 handshake's rows, then IPv4 rows between Z0 and Z1 (marked by a leading "4")
        rows = [("C", "V", SYN, 0.0), ("4Z1", "4Z0", SA, 0.0004), ("4Z0", "4Z1", rng.choice([SYN, RST]), 0.0005)]
    elif name == "random":
        names = list(V4)
        rows = [(rng.choice(names), rng.choice(names), rng.choice([SYN, SYN, SA, SA, RST, RST | ACK, SYN | RST, SA | RST]), 0.0)
                for _ in range(rng.randint(1, 6))]  # fmt: skip
    else:
        rows = SHAPES[name]
    rounds, gap = rng.choice([1, 1, 1, 2, 3]), rng.choice([0.2, 0.1999, 0.25, 1.0, 10.0, 129.99, 130.0, 135.0])
    out = []
    for k in range(rounds):
        for s, d, fl, dt in rows:
            if rng.random() < mut * 0.5:
                continue
            s = rng.choice(list(V4)) if rng.random() < mut else s
            d = rng.choice(list(V4)) if rng.random() < mut * 0.6 else d
            t = k * gap + dt + (rng.choice(STEPS) if rng.random() < mut * 2 else 0.0)
            out.append((t, s, d, fl))
            if rng.random() < views:  # seen again
                out.append((t + rng.choice(STEPS + BEHIND), s, d, fl))
    return out


def stories(rng: random.Random) -> list[list[pcap.PacketRecord]]:
    t = rng.choice([1000.0, 1_764_547_200.0, 0.5, 0.0, 0.0])  # from 0: steps of 0.2 and 130 exact in floats
    six, mixed = rng.random() < 0.25, rng.random() < 0.15
    shared = rng.sample([1000, 1001, 0, 0xFFFFFFFF, 77], rng.randint(1, 3))
    recs = []
    for _ in range(rng.randint(1, 10)):
        t += rng.choice(STEPS)
        ends = V6S if six or (mixed and rng.random() < 0.5) else V4
        isn = rng.choice(shared) if rng.random() < 0.3 else rng.getrandbits(32)
        rows = story(rng)
        if any(s[0] == "4" for _, s, _, _ in rows):  # a "families" story: IPv6 rows, and IPv4 rows marked "4"
            ends = V6S
        for dt, s, d, fl in rows:
            four = s[0] == "4" or d[0] == "4"  # (a row's endpoints are of one family)
            src, dst = (V4[s.lstrip("4")], V4[d.lstrip("4")]) if four else (ends[s], ends[d])
            recs.append(R(round(max(t + dt, 0.0), 6), None, packet(src, dst, fl, isn)))
    order = rng.choice(["time", "time", "time", "jitter", "swap", "written"])
    if order != "written":
        recs.sort(key=lambda r: r.t)
    if order == "jitter":
        recs = [R(round(r.t + rng.choice([0, 0, 0.0001, 0.2, 1.0, 3.9]), 6), None, r.packet) for r in recs]
    for _ in range(rng.randint(1, 3) if order == "swap" and len(recs) > 1 else 0):
        k = rng.randrange(len(recs) - 1)
        recs[k], recs[k + 1] = recs[k + 1], recs[k]
    n = rng.choice([1, 1, 2, 2, 3])
    if n == 1:
        return [recs]
    if rng.random() < 0.5:  # copies whose clocks are ahead, each missing a row or two
        files = [recs]
        for _ in range(n - 1):
            ahead = rng.choice([0.0, 0.0, 1e-6, 0.0002, 0.002, 0.1999, 0.2, 0.3, -0.002])
            files.append(sorted((R(round(max(r.t + ahead, 0.0), 6), None, r.packet) for r in recs if rng.random() < 0.9),
                                key=lambda r: r.t))  # fmt: skip
        return files
    parts: list[list[pcap.PacketRecord]] = [[] for _ in range(n)]
    for r in sorted(recs, key=lambda r: r.t):
        parts[rng.randrange(n)].append(r)
    return parts


def floods(rng: random.Random) -> list[list[pcap.PacketRecord]]:
    t = rng.choice([1000.0, 1_764_547_200.0])
    v, nodes, lo = (
        V4["V"][0],
        [ip_int("192.168.2.3"), ip_int("192.168.2.4"), ip_int("192.168.2.5")],
        ip_int("127.0.0.1"),
    )
    steps = [0.0, 0.0, 0.001, 0.05, 0.5, 1.0, 4.0, 9.99, 10.0, 10.01, 30.0, 134.99, 135.0, 135.01, 140.0]
    recs = []
    for i in range(rng.randint(20, 400)):
        t += rng.choice(steps) if rng.random() < 0.3 else rng.choice([0.0, 0.001, 0.01])
        c, port, node = ip_int("10.0.0.1") + rng.randrange(6), 30000 + i, rng.choice(nodes)
        isn = rng.getrandbits(32) if rng.random() < 0.95 else 1000
        nxt = (isn + 1) & 0xFFFFFFFF
        shape = rng.choice(["lone"] * 6 + ["hairpin"] * 3 + ["healthy", "twice", "loopback", "node", "reset"])
        if shape in ("lone", "loopback", "node"):
            src, dst = {"lone": ((c, port), (v, 80)), "loopback": ((lo, port), (lo, 80)),
                        "node": ((node, port), (node, 31468))}[shape]  # fmt: skip
            recs.append(R(round(t, 6), None, Packet(*src, *dst, SYN, isn)))
        elif shape in ("healthy", "twice", "reset"):
            recs.append(R(round(t, 6), None, Packet(c, port, v, 80, SYN, isn)))
            if shape == "twice":
                recs.append(R(round(t + 1e-6, 6), None, Packet(c, port, v, 80, SYN, isn)))
            answer = (
                Packet(v, 80, c, port, RST | ACK, 0, nxt) if shape == "reset" else Packet(v, 80, c, port, SA, 7, nxt)
            )
            recs.append(R(round(t + 0.0004, 6), None, answer))
        else:
            gap = rng.choice([1.0, 2.0, 10.0, 64.0])
            for k in range(rng.choice([1, 1, 2, 3, 6])):
                s = t + k * gap
                recs += [R(round(s, 6), None, Packet(c, port, v, 80, SYN, isn)),
                         R(round(s + 0.0004, 6), None, Packet(node, 31468, c, port, SA, 7, nxt)),
                         R(round(s + 0.0005, 6), None, Packet(c, port, node, 31468, RST, nxt))]  # fmt: skip
    recs.sort(key=lambda r: r.t)
    if rng.random() < 0.3:
        recs = [R(round(r.t + rng.uniform(0, 3.9), 6), None, r.packet) for r in recs]
    if rng.random() < 0.3:  # two files, each in time order
        share = rng.random()
        first = [rng.random() < share for _ in recs]
        return [sorted((r for r, f in zip(recs, first, strict=True) if f), key=lambda r: r.t),
                sorted((r for r, f in zip(recs, first, strict=True) if not f), key=lambda r: r.t)]  # fmt: skip
    return [recs]


def fields(a: capture.Attempt) -> tuple[Any, ...]:
    return (a.client, a.isn, a.called, a.first_t, a.last_t, a.syns, a.round_t, a.round_dt, a.answered_by,
            a.elsewhere, a.node_side, a.backend, a.masquerade, a.client_rst, a.server_rst, a.loopback, a.kind,
            a.gave_up, a.n)  # fmt: skip


def answer(an: capture.Analysis) -> tuple[Any, ...]:
    return (dumps_indent1(an.to_json()), an.warnings(), an.late, an.tallies, [fields(a) for a in an.hairpins],
            [fields(a) for a in an.others])  # fmt: skip


def check(files: list[list[pcap.PacketRecord]], work: Path, listed: int, ng: bool) -> list[str]:
    """The files written and analysed three ways: the ways that disagree with the streaming analyser."""
    paths = []
    for n, recs in enumerate(files):
        paths.append(work / f"{n}.{'pcapng' if ng and n % 2 == 0 else 'pcap'}")
        if paths[-1].suffix == ".pcapng":
            pcap.write_pcapng(paths[-1], [R(r.t, ("eth0", "veth1", "lo")[k % 3], r.packet) for k, r in enumerate(recs)])
        else:
            pcap.write_pcap(paths[-1], recs)
    ref = answer(capture.analyse_files(paths, fast=False, listed=listed))
    return [f"records={rec}" for rec in (False, True)
            if answer(capture.analyse_files(paths, listed=listed, records=rec)) != ref]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mode", choices=("stories", "floods"), default="stories")
    ap.add_argument("--out", type=Path, default=Path("fuzz-edges-out"))
    args = ap.parse_args()
    work = args.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    build = stories if args.mode == "stories" else floods
    bad = 0
    for case in range(args.cases):
        rng = random.Random(f"{args.seed}/{case}")
        files = build(rng)
        listed, ng = rng.choice([1, 2, 10_000]), rng.random() < 0.3
        wrong = check(files, work, listed, ng)
        if wrong:
            bad += 1
            keep = args.out / f"case{case}"
            keep.mkdir(exist_ok=True)
            for p in work.iterdir():
                (keep / p.name).write_bytes(p.read_bytes())
            (keep / "report.txt").write_text(f"seed {args.seed} case {case} listed {listed}: {', '.join(wrong)}\n")
        for p in work.iterdir():
            p.unlink()
    print(f"{args.cases} cases ({args.mode}), {bad} disagreed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
