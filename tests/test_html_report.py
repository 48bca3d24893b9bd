"""The HTML report in headless Chromium: no console errors, nothing fetched, diagram and chart present."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser import chromium, needs_chromium
from hairpin.render import chart, html

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hairpin.backends import sim
    from hairpin.scenario import seed

    run = sim.run(seed(), 60, 0, fixes=True)
    done: list[int] = []
    pts = html.chart_points(run, connections=20, nodes=(1, 2, 3), progress=done.append)
    assert sum(done) == html.chart_total(run, connections=20, nodes=(1, 2, 3)) == 180
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(html.report(run, chart=pts))
    return path


def test_report_is_self_contained(report_file: Path) -> None:
    text = report_file.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in text
    # no reference that a browser would fetch: no src/href attributes, no url() but in-document markers
    assert not re.search(r"<[^>]*\s(src|href|xlink:href)=", text)
    assert set(re.findall(r"url\(([^)]*)\)", text)) <= {f"#{p}-head-{s}" for p in ("failedf", "faileda", "goodf")
                                                         for s in ("normal", "hairpin", "rst", "drop")}  # fmt: skip
    assert set(re.findall(r"https?://[^\"' )<]+", text)) == {"http://www.w3.org/2000/svg"}
    assert "<script" not in text


def test_report_contents(report_file: Path) -> None:
    text = report_file.read_text()
    assert 'id="failed"' in text and 'id="good"' in text and 'id="chart"' in text and 'id="fixes"' in text
    assert "192.168.27.239" in text and "192.168.168.103" in text and "192.168.2.3:31468" in text
    assert 'data-fix="ip-targets"' in text and 'data-fix="no-preserve-client-ip"' in text
    assert text.count('class="point"') == 9


def test_a_series_the_vpc_has_no_room_for_is_left_out_and_said(tmp_path: Path) -> None:
    """A VPC whose two /24 subnets fill it (10.0.0.0/23) has no subnet for a third AZ: the report's chart leaves
    out "cross-zone on, 3 AZs" and says why, instead of failing with a traceback."""
    from hairpin import scenario
    from hairpin.backends import sim

    path = tmp_path / "full.yaml"
    path.write_text(
        "name: fullvpc\nregion: eu-west-1\nvpc:\n  cidr: 10.0.0.0/23\n  router: 10.0.0.1\n  azs:\n"
        "    - {name: eu-west-1a, subnets: [10.0.0.0/24]}\n    - {name: eu-west-1b, subnets: [10.0.1.0/24]}\n"
        "nodes:\n  - {name: node1, ip: 10.0.0.10, az: eu-west-1a}\n  - {name: node2, ip: 10.0.0.11, az: eu-west-1a}\n"
        "  - {name: node3, ip: 10.0.1.10, az: eu-west-1b}\npods:\n  - {name: client, ip: 10.0.0.100, node: node1}\n"
        "  - {name: web-1, ip: 10.0.0.101, node: node1, labels: {app: web}}\n"
        "  - {name: web-2, ip: 10.0.1.101, node: node3, labels: {app: web}}\nservices:\n  - name: web\n"
        "    type: LoadBalancer\n    cluster_ip: 10.100.0.10\n    selector: {app: web}\n"
        "    ports: [{protocol: TCP, port: 80, target_port: 80, node_port: 30080}]\n    endpoints: [web-1, web-2]\n"
        "    load_balancer:\n      nodes: {eu-west-1a: 10.0.0.200, eu-west-1b: 10.0.1.200}\n"
        "client: {pod: client, service: default/web, port: 80, address: 10.0.0.200}\n"
    )
    s = scenario.load(path)
    why = ("cross-zone on, 3 AZs: 3 AZs need 1 more /24 subnet(s) than the scenario's AZs; the VPC 10.0.0.0/23 "
           "has 0 free: at most 2 AZs")  # fmt: skip
    assert chart.left_out(s, nodes=(1, 2)) == [why]
    run = sim.run(s, 20, 0, fixes=False)
    done: list[int] = []
    pts = html.chart_points(run, connections=10, nodes=(1, 2), progress=done.append)
    assert [(p.series, p.nodes_per_az) for p in pts] == [
        ("cross-zone off, 2 AZs", 1), ("cross-zone off, 2 AZs", 2), ("cross-zone on, 2 AZs", 1),
        ("cross-zone on, 2 AZs", 2)]  # fmt: skip
    assert sum(done) == html.chart_total(run, connections=10, nodes=(1, 2)) == 40
    page = html.report(run, chart=pts)
    assert f"<p class='sub'>Left out: {why.replace(chr(39), '&#x27;')}.</p>" in page


def test_chart_wilson_interval() -> None:
    lo, hi = chart.wilson(10, 20)
    assert (round(lo, 4), round(hi, 4)) == (0.2993, 0.7007)
    assert chart.wilson(0, 0) == (0.0, 1.0)


@needs_chromium
def test_report_in_headless_chromium(report_file: Path, tmp_path: Path) -> None:
    driver = chromium(tmp_path / "profile", (1480, 1200), console=True)
    try:
        run = driver.execute_script  # type: ignore[attr-defined]
        # control: the checks below do see a blocked external reference (the CSP refuses it: no traffic)
        control = tmp_path / "control.html"
        control.write_text(f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                           f'content="{html.CSP}"></head><body><img src="http://192.0.2.1/x.png"></body></html>')  # fmt: skip
        driver.get(control.as_uri())  # type: ignore[attr-defined]
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]  # type: ignore[attr-defined]
        assert run("return document.querySelectorAll('[src]').length") == 1
        driver.get(report_file.as_uri())  # type: ignore[attr-defined]
        assert run("return document.readyState") == "complete"
        logs = driver.get_log("browser")  # type: ignore[attr-defined]
        assert [e for e in logs if e["level"] in ("SEVERE", "WARNING")] == []
        resources = run("return performance.getEntriesByType('resource').map(e => e.name)")
        assert resources == []
        external = run(
            "return [...document.querySelectorAll('[src],[href],[srcset],link,script,iframe,img,object,embed')]"
            ".map(e => e.outerHTML.slice(0, 80))"
        )
        assert external == []
        # the failed connection's diagram, with the failing return path highlighted
        hairpin = run(
            "return [...document.querySelectorAll('#failed .diagram svg g.arrow.hairpin')]"
            ".map(g => [g.dataset.src, g.dataset.dst, g.dataset.flags, g.querySelector('text').textContent])"
        )
        assert hairpin
        for src, dst, flags, label in hairpin:
            assert (src, dst, flags) == ("node1", "netshoot", "SYN,ACK")
            assert label.startswith("SYN,ACK 192.168.2.3:31468 -> 192.168.27.239:")
        diagram_text = run("return document.querySelector('#failed .diagram svg').textContent")
        for addr in ("192.168.27.239", "192.168.168.103", "192.168.2.3:31468"):
            assert addr in diagram_text
        # the good connection: its SYN-ACK reaches the client from the NLB address it called
        good = run(
            "return [...document.querySelectorAll('#good .diagram svg g.arrow')]"
            ".filter(g => g.dataset.dst === 'netshoot').map(g => g.querySelector('text').textContent)"
        )
        assert good and good[0].startswith("SYN,ACK 192.168.168.103:80 -> 192.168.27.239:")
        assert run("return document.querySelectorAll('#good g.arrow.hairpin, #good g.arrow.rst').length") == 0
        # the chart: 3 series x 3 node counts, rendered with a non-zero size
        points = run("return document.querySelectorAll('#chart svg.chart g.point').length")
        assert points == 9
        box = run(
            "const r = document.querySelector('#chart svg.chart').getBoundingClientRect(); return [r.width, r.height]"
        )
        assert box[0] > 300 and box[1] > 200
        rate = run("return document.getElementById('timeouts').textContent")
        assert re.fullmatch(r"\d+ timed out \(\d+\.\d%\)", rate)
        ARTIFACTS.mkdir(exist_ok=True)
        height = min(int(run("return document.documentElement.scrollHeight")), 6000)
        driver.set_window_size(1480, height)  # type: ignore[attr-defined]
        assert driver.save_screenshot(str(ARTIFACTS / "report.png"))  # type: ignore[attr-defined]
        assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    finally:
        driver.quit()  # type: ignore[attr-defined]
