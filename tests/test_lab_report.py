"""The lab run's HTML report, from a hand-made lab result (no root needed): rows, captures, replays."""

from __future__ import annotations

from hairpin.backends.lab.run import LabConnection, LabRun
from hairpin.render import lab as lab_report
from hairpin.scenario import seed

SEQ = [
    "192.168.27.239:41000 > 192.168.168.103:80 SYN",
    "192.168.27.239:41000 > 192.168.2.3:31468 SYN",
    "192.168.2.3:* > endpoint:80 SYN",
]


def result(mismatch: bool = False) -> LabRun:
    bad = LabConnection(0, "192.168.27.239:41000", "192.168.2.3:31468", "timeout", 2.0, "timeout",
                        real_sequence=list(SEQ), simulated_sequence=SEQ[:2] + (["x"] if mismatch else SEQ[2:]))  # fmt: skip
    good = LabConnection(1, "192.168.27.239:41001", "192.168.21.86:31468", "established", 0.0004, "established")
    return LabRun([bad, good], "client-side connect timeout 2 s (SYNs sent within it: 2)",
                  "the default kernel would retransmit 6 times and give up after 127 s", ["/tmp/cap/node1.pcap"])  # fmt: skip


def test_report_rows_captures_and_replays() -> None:
    text = lab_report.report(seed(), result(), seed=3)
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text
    assert 'id="timeouts">1/2 timed out' in text and 'id="agreement">100%' in text
    assert ('<tr class="timeout" data-conn="0"><td class="n">0</td><td class="pkt">192.168.27.239:41000</td>'
            '<td class="pkt">192.168.2.3:31468</td><td>timeout</td><td class="t">2.0000</td>'
            '<td class="good">timeout</td></tr>') in text  # fmt: skip
    assert '<td class="pkt">192.168.21.86:31468</td><td>established</td>' in text
    assert "connection #0 192.168.27.239:41000: identical" in text
    # the simulator's replay of the real timed-out connection: same port, same target, the seed's RST
    assert 'id="failed"' in text and 'id="good"' in text
    assert "Real connection #0 192.168.27.239:41000 to NLB target 192.168.2.3:31468" in text
    assert "the simulator's replay of the same connection: <b>timeout</b>" in text
    assert '<td class="pkt">192.168.2.3:31468 -&gt; 192.168.27.239:41000</td><td>SYN,ACK</td>' in text
    assert '<td class="pkt">192.168.27.239:41000 -&gt; 192.168.2.3:31468</td><td>RST</td>' in text
    assert "127 s" in text


def test_report_shows_a_capture_that_differs() -> None:
    text = lab_report.report(seed(), result(mismatch=True))
    assert "connection #0 192.168.27.239:41000: DIFFERENT" in text
    assert '<td class="pkt bad">x</td>' in text
