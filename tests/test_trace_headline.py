"""The first line of ``hairpin trace`` when requests are dropped: it said "every reply returns the way its request
came" (and, next, to trace the packet the load balancer delivers) for a packet that no outcome let through, so
there was no reply at all (an externalTrafficPolicy: Local NodePort on a node without a local endpoint)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SEED = Path(__file__).parent / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
FROM_OUTSIDE = "tcp 10.9.9.9:40000 > 192.168.2.3:31468 syn in eth0"  # its replies go back out eth0: symmetric
FORWARD = '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD\n'


def node(tmp_path: Path, drop: str) -> Path:
    """The seed's node1 with ``drop`` as the first rule of filter FORWARD."""
    d = tmp_path / "node1"
    d.mkdir()
    for name in ("ip-route", "ip-rule", "ip-addr"):
        (d / name).write_text((SEED / name).read_text())
    rules = (SEED / "iptables-save").read_text()
    assert FORWARD in rules
    (d / "iptables-save").write_text(rules.replace(FORWARD, drop + "\n" + FORWARD, 1))
    return d


def trace(*args: str) -> tuple[int, str, str]:
    res = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", *args], capture_output=True, text=True,
                         check=False, timeout=120)  # fmt: skip
    lines = res.stdout.splitlines()
    return res.returncode, lines[0], lines[-1]


def test_a_packet_dropped_in_every_outcome_says_so(tmp_path: Path) -> None:
    d = node(tmp_path, "-A FORWARD -s 192.168.27.239/32 -j DROP")
    want = (0, "hairpin trace: the packet is dropped in all 3 outcomes, no reply to follow: each outcome's last step "
               "names the rule or route that drops it",
            "Next: look at the rule or route that drops it (the last step of each outcome), or trace another packet")  # fmt: skip
    assert trace("--node", str(d), "--reply", SYN) == want
    assert trace("--node", str(d), SYN) == want  # without --reply too: there is nothing to add it for


def test_some_outcomes_dropped_are_counted_apart_from_the_replies(tmp_path: Path) -> None:
    d = node(tmp_path, "-A FORWARD -d 192.168.39.2/32 -j DROP")  # the first of the Service's three endpoints
    assert trace("--node", str(d), "--reply", FROM_OUTSIDE) == (
        0, "hairpin trace: 3 outcome(s): 1 dropped (see its last step); every reply of the other 2 returns the way "
           "its request came",
        "Next: trace the packet the load balancer delivers to the node (destination node:NodePort)")  # fmt: skip
    # an asymmetric return still comes first, dropped outcomes or not
    code, first, _ = trace("--node", str(d), "--reply", SYN)
    assert (code, first) == (1, "hairpin trace: 2 of 3 outcome(s) of this packet (66.7% of its probability) return "
                                "asymmetrically: the reply leaves the node by another way than the request came, the "
                                "seed's failure")  # fmt: skip


def test_an_outcome_resting_on_an_undecided_match_says_so(tmp_path: Path) -> None:
    """`-m length` is not modelled: taken as not matching, so the DROP after it decides; the first line says the
    answer rests on that."""
    d = node(tmp_path, "-A FORWARD -m length --length 100:200 -j ACCEPT\n-A FORWARD -j DROP")
    assert trace("--node", str(d), "--reply", SYN)[:2] == (
        0, "hairpin trace: the packet is dropped in all 3 outcomes, no reply to follow: each outcome's last step names "
           "the rule or route that drops it (3 of 3 outcomes rest on a match hairpin could not decide, taken as not "
           "matching: see 'could not decide')")  # fmt: skip
