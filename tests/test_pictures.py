"""Pictures in every face: the failure drawn as the legend says, times a reader can use, lane headers with
addresses, and HTML reports where nothing overflows its box at 1280 and 1920 px in headless Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from browser import chromium, needs_chromium
from hairpin import trace as tr
from hairpin.backends import sim
from hairpin.backends.lab.run import LabConnection, LabRun
from hairpin.diagnose.capture import analyse_files
from hairpin.render import capture as capture_pics
from hairpin.render import lab as lab_report
from hairpin.render import trace as trace_pics
from hairpin.render.pcap import write_run
from hairpin.scenario import seed

NODE1 = Path(__file__).parent / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"


def arrows(svg: str) -> list[tuple[str, str, str, str]]:
    """(style, src, dst, flags) of every arrow group in an SVG."""
    return re.findall(r'<g class="arrow (\w+)" data-src="([^"]*)" data-dst="([^"]*)" data-flags="([^"]*)"', svg)


def seed_trace() -> tr.Trace:
    node = tr.Node.load(NODE1 / "iptables-save", NODE1 / "ip-route", NODE1 / "ip-rule", NODE1 / "ip-addr")
    packet, iif = tr.parse_packet(SYN)
    return tr.trace(node, packet, iif, reply=True)


def test_trace_svg_draws_the_asymmetric_reply_in_the_failure_style() -> None:
    t = seed_trace()
    assert len(t.outcomes) == 3 and all(o.asymmetric for o in t.outcomes)
    svg = trace_pics.trace_svg(t, 0)
    assert arrows(svg) == [
        ("normal", "via eth0", "node", "SYN"),
        ("normal", "node", "via eth0", "SYN"),
        ("normal", "via eth0", "node", "SYN,ACK"),
        ("hairpin", "node", "via enie348bef9edc", "SYN,ACK"),
    ]
    assert "thick red: an asymmetric reply" in svg and "interface enie348bef9edc" in svg


def test_capture_svg_times_start_at_the_first_packet_and_the_legend_fits_a_capture(tmp_path: Path) -> None:
    run = sim.run(seed(), 40, 2, fixes=False)
    write_run(run, tmp_path / "run.pcapng")
    analysis = analyse_files([tmp_path / "run.pcapng"])
    svg = capture_pics.sequence_svg(analysis.hairpins[0])
    times = [float(x) for x in re.findall(r'class="time" text-anchor="end">(\d+\.\d{6})<', svg)]
    assert times[0] == 0.0 and max(times) < 200  # seconds from the first packet, not since 1970
    assert "every rule" not in svg and "hover an arrow for where it was seen" in svg
    assert re.search(r"\(t=0: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\)", svg)
    assert ("hairpin", "node", "client", "SYN,ACK") in [(a[0], a[1], a[2], a[3]) for a in arrows(svg)]


def test_reproduce_svg_lane_headers_carry_addresses(tmp_path: Path) -> None:
    out = tmp_path / "c.svg"
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "reproduce", "--connections", "20", "--no-fixes",
                        "--svg", str(out)], capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    labels = re.findall(r'class="llabel"[^>]*>([^<]*)<', out.read_text())
    assert "pod 192.168.27.239 (client)" in labels
    assert any(label.startswith("node 192.168.2.3 ") for label in labels)
    assert "NLB 192.168.168.103" in " ".join(labels)


# ------------------------------------------------------------------------------------------- in a browser

OVERFLOW_JS = """
const out = [];
for (const e of document.querySelectorAll('body *')) {
  if (e.closest('svg') && e.tagName.toLowerCase() !== 'svg') continue;
  if (getComputedStyle(e).display === 'inline') continue;
  if (e.scrollWidth > e.clientWidth + 1) out.push(['scrolls', e.tagName, e.scrollWidth, e.clientWidth]);
  const r = e.getBoundingClientRect(), p = e.parentElement.getBoundingClientRect();
  if (r.right > p.right + 1) out.push(['sticks out', e.tagName, Math.round(r.right), Math.round(p.right)]);
}
if (document.documentElement.scrollWidth > window.innerWidth) out.push(['page', document.documentElement.scrollWidth]);
return out;
"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("reports")

    def cli(*args: str) -> None:
        r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True, cwd=d)
        assert r.returncode in (0, 1), r.stderr

    cli("reproduce", "--connections", "100", "--no-fixes", "--html", "reproduce.html", "--pcap", "run.pcapng")
    cli("trace", "--node", str(NODE1), "--reply", "--html", "trace.html", SYN)
    cli("pcap", "run.pcapng", "--html", "pcap.html")
    cli("sweep", "--grid", "nodes=1,2", "--connections", "40", "--html", "sweep.html")
    # the lab's report, from a lab result made by hand (a real run needs root; the page is the same)
    seq = ["192.168.27.239:41000 > 192.168.168.103:80 SYN", "192.168.27.239:41000 > 192.168.2.3:31468 SYN"]
    lab = LabRun([LabConnection(0, "192.168.27.239:41000", "192.168.2.3:31468", "timeout", 2.0, "timeout",
                                real_sequence=seq, simulated_sequence=seq),
                  LabConnection(1, "192.168.27.239:41001", "192.168.21.86:31468", "established", 0.0004,
                                "established")],
                 "client-side connect timeout 2 s (SYNs sent within it: 2)",
                 "the default kernel would retransmit 6 times and give up after 127 s", [])  # fmt: skip
    (d / "lab.html").write_text(lab_report.report(seed(), lab, seed=3))
    return {name: d / f"{name}.html" for name in ("reproduce", "trace", "pcap", "sweep", "lab")}


@needs_chromium
def test_nothing_overflows_its_box_at_1280_and_1920(reports: dict[str, Path], tmp_path: Path) -> None:
    driver = chromium(tmp_path / "profile")
    try:
        for width in (1280, 1920):
            driver.set_window_size(width, 1000)
            for name, path in reports.items():
                driver.get(path.as_uri())
                assert driver.execute_script(OVERFLOW_JS) == [], (width, name)
        driver.get(reports["trace"].as_uri())
        drawn = driver.execute_script(
            "return [...document.querySelectorAll('g.arrow.hairpin')].map(g => [g.dataset.src, g.dataset.dst])"
        )
        assert drawn == [["node", "via enie348bef9edc"]] * 3  # one per outcome, each on the client's veth
        box = driver.execute_script("const r = document.querySelector('.pic svg').getBoundingClientRect(); "
                                    "return [r.width, r.height]")  # fmt: skip
        assert box[0] > 300 and box[1] > 100
    finally:
        driver.quit()
