"""Names from a scenario file that hold markup, quotes or control characters: escaped in every SVG and HTML
picture, shown as ``\\xNN`` (never a raw control character, which XML refuses), and in pcapng exports."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.render.markup import escape, shown, visible

SEED = Path(__file__).resolve().parents[1] / "src" / "hairpin" / "scenarios" / "seed.yaml"
BAD = "<script>alert(1)</script>\"'&\x1b[31mX"


def test_escape_and_visible_exactly() -> None:
    assert (
        visible("a\x1b[31mb\x00\x7f\x85\ud800\ufffe\tc\nd\re") == "a\\x1b[31mb\\x00\\x7f\\x85\\ud800\\ufffe\tc\nd\\x0de"
    )
    assert escape(BAD) == "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;\\x1b[31mX"
    assert escape("\"'", quote=False) == "\"'"


def _evil(tmp_path: Path) -> Path:
    d = yaml.safe_load(SEED.read_text())
    d["name"] = "seed" + BAD
    d["pods"][0]["name"] = d["client"]["pod"] = "net" + BAD
    d["nodes"][0]["name"] = "n1" + BAD
    for p in d["pods"]:
        if p["node"] == "node1":
            p["node"] = d["nodes"][0]["name"]
    d["services"][0]["name"] = "svc" + BAD
    d["client"]["service"] = "nginx-demo/svc" + BAD
    path = tmp_path / "evil.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_pictures_of_a_scenario_with_markup_and_escapes_in_its_names(tmp_path: Path) -> None:
    evil = _evil(tmp_path)
    out = {k: tmp_path / f"r.{k}" for k in ("svg", "html")}
    res = _cli("reproduce", "--scenario", str(evil), "--connections", "20", "--no-fixes", "--svg", str(out["svg"]),
               "--html", str(out["html"]))  # fmt: skip
    assert res.returncode == 0, res.stderr
    sweep_svg, sweep_html = tmp_path / "s.svg", tmp_path / "s.html"
    res = _cli("sweep", "--scenario", str(evil), "--grid", "nodes=1,2", "--connections", "10", "--workers", "1",
               "--svg", str(sweep_svg), "--html", str(sweep_html))  # fmt: skip
    assert res.returncode == 0, res.stderr
    for path in (out["svg"], out["html"], sweep_svg, sweep_html):
        text = path.read_text()
        assert "\x1b" not in text and "<script" not in text, path
    ET.fromstring(out["svg"].read_text())  # well-formed: a raw ESC made it "not well-formed (invalid token)"
    ET.fromstring(sweep_svg.read_text())
    svg_text = out["svg"].read_text()
    assert 'data-lane="net&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;\\x1b[31mX"' in svg_text
    assert "hairpin sweep over seed&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;\\x1b[31mX" in (
        sweep_html.read_text()
    )


def test_pcapng_interface_names_and_comments_show_control_characters(tmp_path: Path) -> None:
    from hairpin import scenario
    from hairpin.backends import sim
    from hairpin.render import pcap

    run = sim.run(scenario.load(_evil(tmp_path)), 4, 0, fixes=False)
    recs = [r for c in run.connections for r in pcap.records(c.hops)]
    names = {r.interface for r in recs}
    assert "n1<script>alert(1)</script>\"'&\\x1b[31mX eth0" in names
    assert not any("\x1b" in (r.interface or "") or "\x1b" in r.comment for r in recs)


def test_bidirectional_formatting_characters_are_shown_and_marks_kept() -> None:
    """The nine explicit embeddings, overrides and isolates (UAX #9 2.1-2.4) are shown as ``\\uNNNN``: a browser
    obeys them, and ``node1-<RLO>gnp.pcap`` would be drawn ``node1-pacp.png``.  The implicit marks (LRM U+200E, RLM
    U+200F, ALM U+061C), U+2028, U+2029 and letters of right-to-left scripts are text and stay."""
    assert visible("node1-\u202egnp.pcap") == "node1-\\u202egnp.pcap"
    assert (
        visible("a\u202ab\u202bc\u202cd\u202de\u202ef\u2066g\u2067h\u2068i\u2069j")
        == "a\\u202ab\\u202bc\\u202cd\\u202de\\u202ef\\u2066g\\u2067h\\u2068i\\u2069j"
    )
    kept = "\u200e\u200f\u061c\u2028\u2029\u05d0\u0627\u2065\u206a\u2029"
    assert visible(kept) == kept
    assert escape("<b>\u202e'") == "&lt;b&gt;\\u202e&#x27;"


def test_the_terminal_shows_the_same_bidi_controls_as_the_pictures() -> None:
    """``shown`` (the terminal's rule, ``hairpin.cli.common``) escapes the nine bidi controls as ``visible`` does,
    and the control characters; the marks, U+2028 and surrogates are left to the terminal."""
    text = "a\u202ab\u202bc\u202cd\u202de\u202ef\u2066g\u2067h\u2068i\u2069j\x1b[31m\x85"
    assert shown(text) == "a\\u202ab\\u202bc\\u202cd\\u202de\\u202ef\\u2066g\\u2067h\\u2068i\\u2069j\\x1b[31m\\x85"
    assert shown(text) == visible(text)
    kept = "\u200e\u200f\u061c\u2028\u05d0\u2065\u206a\ttab\nnewline"
    assert shown(kept) == kept


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_escaped_text_is_well_formed_markup_that_reads_back_as_the_visible_text(text: str) -> None:
    """Any text, escaped, holds no markup character, no character XML refuses and no bidirectional formatting
    character; as SVG element content and as an attribute value it parses and reads back as ``visible(text)``."""
    import html as html_mod
    import re

    out = escape(text)
    assert not re.search("[<>\"'\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]", out)
    assert html_mod.unescape(out) == visible(text)
    # XML normalises a newline in an attribute value to a space and a tab to a space (XML 1.0 section 3.3.3)
    el = ET.fromstring(f'<svg xmlns="http://www.w3.org/2000/svg"><text a="{out}">{out}</text></svg>')[0]
    assert (el.text or "") == visible(text)
    assert el.get("a") == visible(text).replace("\t", " ").replace("\n", " ")
