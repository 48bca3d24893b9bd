"""The user docs (README.md, docs/*.md): links resolve, no internal references, and the README's promises
(its set-up commands first, five steps on your own cluster, a command table of commands only)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _ids(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_relative_links_resolve(page: Path) -> None:
    text = page.read_text()
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        assert (page.parent / path).exists(), f"{_ids(page)}: broken link {target}"


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_no_internal_references(page: Path) -> None:
    text = page.read_text()
    # internal tracker numbers are small ("issue 8", "issue #6"); upstream ones (kubernetes PR #96959) are not
    assert re.search(r"(?i)\b(issue|PR|pull request)s? #?\d{1,3}\b", text) is None
    assert re.search(r"(?i)this machine", text) is None
    assert re.search(r"(?<![\w.])/(work|root)/", text) is None
    assert "../shared" not in text


def test_readme_setup_commands_come_first_unchanged() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[2:6] == [
        "```bash",
        "pip install -e . && hairpin reproduce            # install, then reproduce the seed's random NLB timeouts",
        "pip install -e '.[test]' && python3 -m pytest    # run the tests (lab tests need root; they skip otherwise; "
        '-m "not lab" leaves them out)',
        "```",
    ]


def test_readme_on_your_cluster_in_five_steps() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## On your cluster\n", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^(\d)\. \*\*(.+?)\*\*", section, re.M)
    assert [n for n, _ in steps] == ["1", "2", "3", "4", "5"]
    assert all(q.endswith("?") for _, q in steps)  # each says what it answers
    for command in ("hairpin check", "hairpin scenario from-cluster", "hairpin reproduce --scenario",
                    "hairpin trace --node", "hairpin pcap"):  # fmt: skip
        assert command in section
    assert section.index("hairpin check") < section.index("from-cluster") < section.index("reproduce --scenario")
    assert section.index("reproduce --scenario") < section.index("trace --node") < section.index("hairpin pcap")
    assert text.index("## On your cluster") < text.index("## The failure it was built for")


def test_readme_cites_the_seed_and_links_every_user_page() -> None:
    text = (ROOT / "README.md").read_text()
    assert ('Jerry Wang in "EKS service with internal NLB,\nbut gets timeouts randomly" (2021-04-23,\n'
            "https://focaaby.com/eks-service-with-internal-nlb-but-gets-timeouts-randomly/)") in text
    linked = set(LINK.findall(text))
    for page in ("docs/scenarios.md", "docs/cli.md", "docs/check.md", "docs/trace.md", "docs/pcap.md"):
        assert page in linked


def test_readme_command_table_lists_commands_only() -> None:
    text = (ROOT / "README.md").read_text()
    table = text.split("## Commands\n\n", 1)[1].split("\n\n", 1)[0]
    rows = [ln for ln in table.splitlines() if ln.startswith("| ") and not ln.startswith(("| command", "| ---"))]
    assert len(rows) == 8 and all(ln.startswith("| `hairpin ") for ln in rows)  # 8 with collect


def test_fixes_page_has_each_section_once() -> None:
    headings = [ln for ln in (ROOT / "docs" / "fixes.md").read_text().splitlines() if ln.startswith("#")]
    assert [h for h, n in Counter(headings).items() if n > 1] == []
    assert "## Not done yet" not in headings


def test_readme_example_is_what_reproduce_prints() -> None:
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "reproduce", "--no-fixes"], capture_output=True,
                       text=True, env={**os.environ, "COLUMNS": "400"}, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    readme = (ROOT / "README.md").read_text()
    example = readme.split("(abridged:", 1)[1].split("```\n", 1)[1].split("```", 1)[0].splitlines()
    out = r.stdout.splitlines()
    assert out[0].startswith(example[0].removesuffix("..."))
    for line in example:
        if line.startswith(("3. Over", "P(timeout) of one", "  - ", "* the scenario")):
            assert line in out, line
