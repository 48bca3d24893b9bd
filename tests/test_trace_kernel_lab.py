"""The kernel as the oracle for hairpin's iptables evaluator (root, iptables-nft, iproute2; network namespaces).

Random rulesets over the matches and targets hairpin models are loaded into a node namespace, one real packet is
sent into it, and hairpin's trace of the node's dumps must name exactly the rules whose counters moved, the
policies applied and the packets that left or reached a socket (``tests/kernel_diff.py`` says how).  The cases
``tests/test_trace_kernel_cases.py`` asserts on hairpin alone are run here against the kernel too.  A longer run:
``benchmarks/fuzz_trace_kernel.py``.
"""

from __future__ import annotations

import shutil

import pytest

import kernel_diff as kd
from conftest import is_root
from test_trace_kernel_cases import CASES

pytestmark = pytest.mark.skipif(
    not is_root() or any(shutil.which(t) is None for t in ("ip", "iptables-nft-restore", "iptables-nft-save")),
    reason="needs root, iproute2 and iptables-nft",
)  # fmt: skip

#: cases per run: about 0.7 s each on a busy 2-vCPU machine
SEEDS = range(40)


def _probe(packet: str) -> kd.Probe:
    words = packet.split()
    src, sport = words[1].split(":")
    dst, dport = words[3].split(":")
    flags = {"syn": "S", "rst": "R", "ack": "A", "syn,ack": "SA", "fin,ack": "FA"}[words[4]] if words[0] == "tcp" else ""
    return kd.Probe(words[0], src, int(sport), dst, int(dport), flags, words[-1])


@pytest.mark.parametrize(("name", "rules", "packet"), [c[:3] for c in CASES], ids=[c[0] for c in CASES])
def test_each_exact_case_is_what_the_kernel_does(name: str, rules: str, packet: str) -> None:
    p = _probe(packet)
    k = kd.run_case(rules, p)
    assert k.loaded, k.error
    h = kd.hairpin_case(k, p)
    assert h.undecided == [] and h.skipped == ""
    assert kd.compare(k, h) == [], h.text


def test_random_rulesets_trace_as_the_kernel_runs_them() -> None:
    results = [kd.one(seed) for seed in SEEDS]
    differ = [kd.report(r) for r in results if r.status == "differ"]
    assert differ == [], "\n".join(differ)
    # every status but "differ" is a case not compared: most must be
    assert sum(r.status == "agree" for r in results) >= len(results) * 0.85, [(r.seed, r.status) for r in results]


def test_a_nat_port_drawn_at_random_is_within_the_range_hairpin_names() -> None:
    rules = "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -p tcp -j MASQUERADE --to-ports 3000-3100\nCOMMIT\n"
    p = _probe("tcp 10.1.0.1:40000 > 10.7.0.9:80 syn in eth0")
    k = kd.run_case(rules, p)
    h = kd.hairpin_case(k, p)
    assert h.drawn == [(3000, 3100)] and kd.compare(k, h) == []
    ((link, sent),) = k.sent
    assert link == "eth1" and sent.startswith("tcp 10.1.1.1:") and 3000 <= int(sent.split(":")[1].split()[0]) <= 3100


def test_iptables_nft_loads_two_negated_ports_as_one_compare() -> None:
    """A documented difference (iptables 1.8.9, nf_tables): ``! --sport A ! --dport B`` becomes one compare of the
    port pair, so the kernel matches a packet whose source port is A but destination port is not B; hairpin reads
    the rule as iptables means it (both must differ), as iptables-legacy does."""
    rules = ("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp -m udp ! --sport 50000 ! --dport 1234\n"
             "COMMIT\n")  # fmt: skip
    p = _probe("udp 10.1.0.1:50000 > 10.7.0.9:443 in eth0")
    k = kd.run_case(rules, p)
    assert k.counts == {("mangle", "PREROUTING", 0): 1}
    assert kd.hairpin_case(k, p).counts == {}
    assert kd.NFT_PORT_PAIR.search(k.dumps["iptables-save"])
