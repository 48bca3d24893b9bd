"""`hairpin sweep --html`: the report's exact rows and numbers for a known grid and seed, the command line
and seed, the inline chart, self-containment, and an atomic write."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from hairpin import sweep
from hairpin.render.sweep import command_line, report_html
from hairpin.scenario import seed

GRID = ["nodes=1,2", "cross_zone=false,true"]

# seed scenario, 200 connections a point, seed 3 (a point's numbers depend only on the seed and the point)
ROWS = [
    ["1", "false", "200/200", "100.0% ± 0.0%", "100.0%", "yes"],
    ["1", "true", "102/200", "51.0% ± 3.5%", "50.0%", "yes"],
    ["2", "false", "107/200", "53.5% ± 3.5%", "50.0%", "yes"],
    ["2", "true", "50/200", "25.0% ± 3.1%", "25.0%", "yes"],
]


class Tables(HTMLParser):
    """Every table's rows as lists of cell texts, and the text of elements with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.ids: dict[str, str] = {}
        self.tags: list[str] = []
        self._cell: list[str] | None = None
        self._id: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        if a.get("id") and tag in ("dd", "span"):
            self._id = (str(a["id"]), [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag in ("dd", "span") and self._id is not None:
            self.ids[self._id[0]] = "".join(self._id[1])
            self._id = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._id is not None:
            self._id[1].append(data)


def parse(text: str) -> Tables:
    p = Tables()
    p.feed(text)
    return p


def test_report_rows_numbers_command_and_seed() -> None:
    results = sweep.run(seed(), sweep.Grid.parse(GRID), connections=200, seed=3, workers=1)
    cmd = command_line(GRID, connections=200, seed=3)
    assert cmd == "hairpin sweep --grid nodes=1,2 --grid cross_zone=false,true --connections 200 --seed 3"
    page = report_html(results, seed(), connections=200, seed=3, command=cmd)
    doc = parse(page)
    points = doc.tables[-1]
    assert points[0] == ["nodes", "cross_zone", "timeouts", "simulated ± sd", "closed form", "agrees"]
    assert points[1:] == ROWS
    assert doc.ids["command"] == cmd and doc.ids["seed"] == "3"
    assert doc.ids["agree"] == "4 of 4 points agree"
    assert '<tr data-point="nodes=2,cross_zone=true">' in page
    # the chart inline, one series per cross-zone setting; nothing fetched, no scripts
    assert page.count("<svg") == 1 and "cross_zone=false" in page.split("<svg", 1)[1]
    assert "default-src 'none'" in page and "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")  # fmt: skip
    assert "<title>hairpin sweep over seed</title>" in page


def test_a_point_that_disagrees_is_marked() -> None:
    r = sweep.Result({"nodes": 2}, connections=400, timeouts=300, expected=0.5)
    page = report_html([r], seed(), connections=400, seed=0, command="hairpin sweep --grid nodes=2")
    assert parse(page).tables[-1][1] == ["2", "300/400", "75.0% ± 2.5%", "50.0%", "NO"]
    assert '<tr data-point="nodes=2" class="timeout">' in page
    assert parse(page).ids["agree"] == "0 of 1 points agree"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "sweep", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_cli_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "sweep.html"
    res = cli("--grid", GRID[0], "--grid", GRID[1], "--connections", "200", "--seed", "3", "--workers", "2",
              "--format", "json", "--html", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = parse(out.read_text())
    assert doc.tables[-1][1:] == ROWS  # the same numbers on 2 worker processes
    assert doc.ids["command"] == "hairpin sweep --grid nodes=1,2 --grid cross_zone=false,true --connections 200 --seed 3"
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.html"]  # no temporary file left behind


def test_cli_html_into_a_missing_directory_is_one_line_exit_2(tmp_path: Path) -> None:
    res = cli("--grid", "nodes=1", "--connections", "10", "--workers", "1", "--html", str(tmp_path / "no" / "r.html"))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "cannot write" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "no").exists()
