"""Kept nat walks against walking every rule, on the kernel differential's random rulesets, many packets a node.

``hairpin.netfilter.walks`` keeps a nat walk per flow class once it is met a second time, and later passes of
the same class reuse it (``LinuxHost.caching``).  ``tests/test_trace_walks.py`` holds that to walking every rule
on three recorded nodes; this campaign does it on the random rulesets of ``tests/kernel_diff.py`` (IPv4) and
``tests/kernel_diff6.py`` (IPv6): every table and hook, user chains reached by ``-j`` and ``-g``, marks and
connection marks, DNAT, SNAT, MASQUERADE and REDIRECT, DROP policies.  No kernel is needed: each case draws a
ruleset and a list of the lab's probes (packets from either link, the node's own datagrams), loads one node
that keeps its walks, then traces every probe three times in a shuffled order, with and without ``--reply``,
on that node and on a fresh node with caching off, and compares the text and the JSON.  A ruleset hairpin
refuses (a nat rule the kernel refuses too) is counted, not traced.

It also holds each trace to its own warnings: a route through an ip rule the trace's warning says is never
taken (``hairpin.unseen.unset_marks``) is a contradiction.  The node's other files are the lab node's dumps as
``ip`` printed them (Linux 6.18.44, 2026-12-02; ``tests/kernel_diff.py`` ``B_SETUP``, ``tests/kernel_diff6.py``).

Run: ``PYTHONPATH=src python3 benchmarks/fuzz_trace_walks.py --cases 300 --seed 771000 [--family 6]
[--out DIR]``; every case that differs is printed (and written to DIR with its ruleset and the packets up to the
one that differed).  Exit code 1 when a case differed.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import kernel_diff as kd
import kernel_diff6 as kd6
from hairpin import trace as tr
from hairpin.errors import InputError, ParseError
from hairpin.parsers.sockets import everywhere

#: the lab node's dumps (``ip -4 route show table all``, ``ip -4 rule show``, ``ip -4 -o addr``)
DUMPS4 = {
    "ip-route": "default via 10.1.0.1 dev eth0 table 100 \ndefault via 10.1.1.2 dev eth1 \n"
    "10.1.0.0/24 dev eth0 proto kernel scope link src 10.1.0.2 \n10.1.1.0/24 dev eth1 proto kernel scope link src "
    "10.1.1.1 \n10.6.0.0/24 via 10.1.0.1 dev eth0 \nlocal 10.1.0.2 dev eth0 table local proto kernel scope host src "
    "10.1.0.2 \nbroadcast 10.1.0.255 dev eth0 table local proto kernel scope link src 10.1.0.2 \nlocal 10.1.1.1 dev "
    "eth1 table local proto kernel scope host src 10.1.1.1 \nbroadcast 10.1.1.255 dev eth1 table local proto kernel "
    "scope link src 10.1.1.1 \nlocal 10.5.0.1 dev eth1 table local proto kernel scope host src 10.5.0.1 \nlocal "
    "127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1 \nlocal 127.0.0.1 dev lo table local proto "
    "kernel scope host src 127.0.0.1 \nbroadcast 127.255.255.255 dev lo table local proto kernel scope link src "
    "127.0.0.1 \n",
    "ip-rule": "0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1/0x1 lookup 100\n32766:\tfrom all lookup main\n"
    "32767:\tfrom all lookup default\n",
    "ip-addr": "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet 10.1.0.2/24 scope global eth0\\       valid_lft forever preferred_lft forever\n"
    "3: eth1    inet 10.1.1.1/24 scope global eth1\\       valid_lft forever preferred_lft forever\n"
    "3: eth1    inet 10.5.0.1/32 scope global eth1\\       valid_lft forever preferred_lft forever\n",
}
#: the same for IPv6 (``ip -6``)
DUMPS6 = {
    "ip-route": "default via fd01::1 dev eth0 table 100 metric 1024 pref medium\n"
    "::1 dev lo proto kernel metric 256 pref medium\nfd01::/64 dev eth0 proto kernel metric 256 pref medium\n"
    "fd02::/64 dev eth1 proto kernel metric 256 pref medium\nfd05::1 dev eth1 proto kernel metric 256 pref medium\n"
    "fd06::/64 via fd01::1 dev eth0 metric 1024 pref medium\ndefault via fd02::2 dev eth1 metric 1024 pref medium\n"
    "local ::1 dev lo table local proto kernel metric 0 pref medium\n"
    "anycast fd01:: dev eth0 table local proto kernel metric 0 pref medium\n"
    "local fd01::2 dev eth0 table local proto kernel metric 0 pref medium\n"
    "anycast fd02:: dev eth1 table local proto kernel metric 0 pref medium\n"
    "local fd02::1 dev eth1 table local proto kernel metric 0 pref medium\n"
    "local fd05::1 dev eth1 table local proto kernel metric 0 pref medium\n"
    "multicast ff00::/8 dev eth0 table local proto kernel metric 256 pref medium\n"
    "multicast ff00::/8 dev eth1 table local proto kernel metric 256 pref medium\n",
    "ip-rule": "0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1/0x1 lookup 100\n32766:\tfrom all lookup main\n",
    "ip-addr": "1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever\n"
    "2: eth0    inet6 fd01::2/64 scope global nodad \\       valid_lft forever preferred_lft forever\n"
    "3: eth1    inet6 fd05::1/128 scope global nodad \\       valid_lft forever preferred_lft forever\n"
    "3: eth1    inet6 fd02::1/64 scope global nodad \\       valid_lft forever preferred_lft forever\n",
}


def load(where: Path, family: int, caching: bool) -> tr.Node:
    """The node of the files in ``where``, listening on the lab's ports; ``caching`` off: every rule walked."""
    files = [where / name for name in ("iptables-save", "ip-route", "ip-rule", "ip-addr")]
    node = tr.Node.load(*files, **({"family": 6} if family == 6 else {}))
    node.listening = everywhere(("tcp", "udp"), kd.PORTS)
    if not caching:
        node.tracer().host.caching = False
    return node


def traced(node: tr.Node, probe: kd.Probe, reply: bool) -> tuple[str, Any]:
    """The trace's text and JSON (or the refusal's words)."""
    try:
        packet, iif = tr.parse_packet(probe.hairpin())
        tr.check_packet(node, packet, iif)
        t = tr.trace(node, packet, iif, reply=reply)
    except InputError as e:
        return f"refused: {e}", None
    return t.text(), t.to_json()


def contradiction(text: str) -> str:
    """A route through an ip rule the trace's own warning says it never takes ("" if none)."""
    never = [w.split("`")[1] for w in text.splitlines() if "never takes it" in w and "`" in w]
    for line in text.splitlines():
        if "route: " in line and any(f"rule {rule}" in line for rule in never):
            return line.strip()
    return ""


def one(seed: int, family: int, probes: int, where: Path) -> tuple[str, str, int]:
    """Case ``seed``: ("agree" | "unloadable" | "differ", what differed and the packets up to it, how many walks
    the node kept)."""
    m: Any = kd6 if family == 6 else kd
    r = random.Random(seed)
    sent = [m.probe(r) for _ in range(probes)]
    text = m.ruleset(r, sent[0])
    (where / "iptables-save").write_text(text)
    for name, body in (DUMPS6 if family == 6 else DUMPS4).items():
        (where / name).write_text(body)
    try:
        kept = load(where, family, True)
    except (InputError, ParseError):
        return "unloadable", "", 0
    order = [(p, r.random() < 0.6) for p in sent for _ in range(3)]
    r.shuffle(order)
    for i, (p, reply) in enumerate(order):
        got = traced(kept, p, reply)
        want = traced(load(where, family, False), p, reply)
        said = "" if got == want else "the kept walks' trace differs from walking every rule"
        said = said or contradiction(got[0])
        if said:
            steps = "\n".join(f"{q.hairpin()}{' --reply' if rp else ''}" for q, rp in order[: i + 1])
            report = f"seed {seed}: {said}\n{steps}\n--- ruleset\n{text}--- kept\n{got[0]}\n--- walked\n{want[0]}"
            return "differ", report, len(kept.tracer().host.walks.kept)
    return "agree", "", len(kept.tracer().host.walks.kept)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0, help="the first case's seed (cases are seed, seed+1, ...)")
    ap.add_argument("--family", type=int, choices=(4, 6), default=4)
    ap.add_argument("--probes", type=int, default=15, help="packets a case traces (each three times)")
    ap.add_argument("--out", type=Path, help="write each case that differs here")
    args = ap.parse_args(argv)
    counts: collections.Counter[str] = collections.Counter()
    walks = 0
    with tempfile.TemporaryDirectory() as d:
        for seed in range(args.seed, args.seed + args.cases):
            status, report, n = one(seed, args.family, args.probes, Path(d))
            counts[status] += 1
            walks += n
            if report:
                print(report, flush=True)
                if args.out is not None:
                    args.out.mkdir(parents=True, exist_ok=True)
                    (args.out / f"case-{seed}.txt").write_text(report)
    print(f"{args.cases} cases (IPv{args.family}, seeds {args.seed}-{args.seed + args.cases - 1}): "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f"; {walks} nat walks kept")  # fmt: skip
    return 1 if counts["differ"] else 0


if __name__ == "__main__":
    sys.exit(main())
