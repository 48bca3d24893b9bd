"""Hostile text in every picture a browser opens: ``reproduce``, ``trace``, ``pcap`` and ``sweep`` with ``--html`` and
``--svg``, and the lab's report.  The names in a scenario, the comments of iptables rules, an interface name, a node
directory's and a capture file's name hold markup that would run script, break out of an attribute, a ``<style>``
or a CDATA section, a ``javascript:`` URL, U+2028, a right-to-left override, NUL and ESC.  Every SVG (standalone
or inline) must parse as XML, every page hold only the elements and attributes hairpin writes, the hostile text
must be there escaped exactly, and in headless Chromium nothing may run or be fetched, with the page's
Content-Security-Policy and without it (the escaping alone must hold: a standalone SVG has no policy)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from browser import chromium, needs_chromium
from hairpin.backends.lab.run import LabConnection, LabRun
from hairpin.model.hop import Hop
from hairpin.model.net import Flags, Packet
from hairpin.render import svg

SEED = Path(__file__).resolve().parents[1] / "src" / "hairpin" / "scenarios" / "seed.yaml"
NODE1 = Path(__file__).parent / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"

#: script that would set the title, attribute and element break-outs, </style>, ]]>, a javascript: URL, a quote,
#: U+2028, RIGHT-TO-LEFT OVERRIDE, NUL, ESC and an entity that must not be decoded
HOSTILE = ("</script><script>document.title='x'</script>\"><svg onload=alert(1)><img src=x onerror=alert(2)>"
           "]]></style>javascript:alert(3)\u2028\u202e\x00\x1b&amp;")  # fmt: skip
#: HOSTILE as every page and picture must hold it (written out by hand, not computed by the code under test)
ESCAPED = ("&lt;/script&gt;&lt;script&gt;document.title=&#x27;x&#x27;&lt;/script&gt;&quot;&gt;&lt;svg onload=alert(1)"
           "&gt;&lt;img src=x onerror=alert(2)&gt;]]&gt;&lt;/style&gt;javascript:alert(3)\u2028\\u202e\\x00\\x1b"
           "&amp;amp;")  # fmt: skip
#: HOSTILE as a reader sees it in the browser
SHOWN = ("</script><script>document.title='x'</script>\"><svg onload=alert(1)><img src=x onerror=alert(2)>"
         "]]></style>javascript:alert(3)\u2028\\u202e\\x00\\x1b&amp;")  # fmt: skip
#: a capture file name: an element in it, and an override that would draw "x-gnp.pcapng" as "x-gnpacp.png"
PCAP_NAME = "<img src=x onerror=alert(4)>x-\u202egnp.pcapng"
#: a word longer than the page is wide: it must wrap, not widen the page
LONG = "W" * 300
#: for a Service's name and the namespaces, at most 63 characters in all (the API server's limit, which the
#: scenario loader holds them to): an attribute break-out, an element, RIGHT-TO-LEFT OVERRIDE and ESC
SHORT = '"><svg onload=alert(1)>\u202e\x1b'
#: an interface name (the trace's rules, routes and addresses name it)
IFACE = "<i>\"&'x"

#: every element hairpin's pages and pictures are made of
TAGS = {"html", "head", "meta", "title", "style", "body", "main", "section", "h1", "h2", "h3", "p", "b", "span", "dl",
        "dt", "dd", "table", "tr", "th", "td", "details", "summary", "div", "footer", "svg", "defs", "marker", "path",
        "rect", "line", "polyline", "circle", "g", "text"}  # fmt: skip
#: attributes that load, navigate or run something
ACTIVE = re.compile(r"^(on.*|href|xlink:href|src|srcset|action|formaction|style|background|poster|data)$")


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI run in ``cwd``, from the hairpin these tests import (a relative PYTHONPATH would not reach it there)."""
    import hairpin

    env = {**os.environ, "PYTHONPATH": str(Path(hairpin.__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, check=False)  # fmt: skip


def _scenario(path: Path) -> Path:
    """The seed with HOSTILE appended to its name, description, nodes, pods and endpoints, SHORT to the namespaces
    and the Service's name, LONG to the description and as much of it to node1's name as its 253 characters allow
    (the step tables name it)."""
    d = yaml.safe_load(SEED.read_text())
    d["name"] = "seed" + HOSTILE
    d["description"] = HOSTILE + LONG
    wide = "W" * (253 - len("node1") - len(HOSTILE))  # still wider than the page
    for n in d["nodes"]:  # the W's first: the step table's "NLB picks ... (node)" stops at the first ")"
        n["name"] += (wide if n["name"] == "node1" else "") + HOSTILE
    for p in d["pods"]:
        p["node"] += (wide if p["node"] == "node1" else "") + HOSTILE
        p["name"] += HOSTILE
        p["namespace"] += SHORT
    svc = d["services"][0]
    svc["namespace"] += SHORT
    svc["name"] += SHORT
    svc["endpoints"] = [e + HOSTILE for e in svc["endpoints"]]
    d["client"]["pod"] += HOSTILE
    d["client"]["service"] = f"{svc['namespace']}/{svc['name']}"
    path.write_text(yaml.safe_dump(d))
    return path


def _node(d: Path) -> Path:
    """The seed's node1 in a directory named like an element, every rule comment HOSTILE (no NUL: the reader refuses
    a NUL byte), the client's veth named IFACE."""
    shutil.copytree(NODE1, d)
    quoted = HOSTILE.replace("\x00", "").replace('"', '\\"')
    rules = re.sub(r'--comment "[^"]*"', lambda m: f'--comment "{quoted}"', (d / "iptables-save").read_text())
    (d / "iptables-save").write_text(rules)
    for f in d.iterdir():
        f.write_text(f.read_text().replace("enie348bef9edc", IFACE))
    return d


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every face's pictures made from hostile input: {name: file}."""
    from hairpin import scenario
    from hairpin.backends import sim
    from hairpin.render import lab as lab_report
    from hairpin.render.pcap import write_run

    d = tmp_path_factory.mktemp("hostile")
    evil = _scenario(d / "evil.yaml")
    res = _cli(d, "reproduce", "--scenario", str(evil), "--connections", "40", "--no-fixes", "--svg", "reproduce.svg",
               "--html", "reproduce.html")  # fmt: skip
    assert (res.returncode, res.stderr) == (0, "wrote reproduce.svg\nwrote reproduce.html\n")
    node = _node(d / "<img src=x onerror=alert(5)>")
    res = _cli(d, "trace", "--node", str(node), "--reply", "--svg", "trace.svg", "--html", "trace.html", SYN)
    assert (res.returncode, res.stderr) == (1, "wrote trace.svg\nwrote trace.html\n")  # 1: the asymmetric reply
    run = sim.run(scenario.load(evil), 40, 0, fixes=False)
    write_run(run, d / PCAP_NAME)
    res = _cli(d, "pcap", PCAP_NAME, "--svg", "pcap.svg", "--html", "pcap.html")
    assert (res.returncode, res.stderr) == (1, "wrote pcap.svg\nwrote pcap.html\n")  # 1: a hairpin is in it
    res = _cli(d, "sweep", "--scenario", str(evil), "--grid", "nodes=1,2", "--connections", "10", "--workers", "1",
               "--svg", "sweep.svg", "--html", "sweep.html")  # fmt: skip
    assert (res.returncode, res.stderr) == (0, "wrote sweep.svg\nwrote sweep.html\n")
    seq = [f"192.168.27.239:41000 > 192.168.168.103:80 SYN {HOSTILE}"]
    lab = LabRun([LabConnection(0, "192.168.27.239:41000", "192.168.2.3:31468", "timeout", 2.0, "timeout",
                                real_sequence=seq, simulated_sequence=seq[:0]),
                  LabConnection(1, "192.168.27.239:41001", "192.168.21.86:31468", "established", 0.0004,
                                "established")],
                 "limit " + HOSTILE, "kernel " + HOSTILE, ["cap " + HOSTILE])  # fmt: skip
    (d / "lab.html").write_text(lab_report.report(scenario.load(evil), lab, seed=3))
    return {p.name: p for p in sorted(d.iterdir()) if p.suffix in (".html", ".svg")}


def test_every_face_wrote_its_pictures(faces: dict[str, Path]) -> None:
    assert sorted(faces) == ["lab.html", "pcap.html", "pcap.svg", "reproduce.html", "reproduce.svg", "sweep.html",
                             "sweep.svg", "trace.html", "trace.svg"]  # fmt: skip


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.active: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.active += [(tag, k) for k, _ in attrs if ACTIVE.match(k)]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_every_picture_is_well_formed_and_holds_only_hairpins_elements(faces: dict[str, Path]) -> None:
    for name, path in faces.items():
        text = path.read_text(encoding="utf-8")
        pictures = [text] if name.endswith(".svg") else re.findall(r"<svg .*?</svg>", text, re.S)
        assert pictures, name
        for pic in pictures:
            ET.fromstring(pic)  # well-formed XML: a raw control character or an unescaped "<" makes it fail
        p = _Elements()
        p.feed(text)
        p.close()
        assert p.tags <= TAGS, (name, p.tags - TAGS)
        assert p.active == [], name
        for raw in ("<script", "<img", "<svg onload", "\x00", "\x1b", "\u202e"):
            assert raw not in text, (name, raw)
        assert ESCAPED in text or name.startswith("trace."), name  # the rules' form: the next test


def test_the_hostile_text_is_escaped_exactly_where_each_face_writes_it(faces: dict[str, Path]) -> None:
    page = {name: path.read_text(encoding="utf-8") for name, path in faces.items()}
    assert f"<title>hairpin reproduce: seed{ESCAPED}</title>" in page["reproduce.html"]
    assert f'<p class="sub">{ESCAPED}{LONG}</p>' in page["reproduce.html"]  # the description
    assert f'data-lane="netshoot{ESCAPED}"' in page["reproduce.svg"]
    assert f"<h1>hairpin sweep over seed{ESCAPED}</h1>" in page["sweep.html"]
    # the rule comment as iptables-save quotes it (\" and \' inside, libxtables' xtables_save_string), then escaped
    comment = ESCAPED.replace("\\x00", "").replace("&quot;", "\\&quot;").replace("&#x27;", "\\&#x27;")
    assert (f"<td class='pkt'>-A PREROUTING -m comment --comment &quot;{comment}&quot; -j KUBE-SERVICES</td>"
            in page["trace.html"])  # fmt: skip
    assert "<h1>hairpin trace: &lt;img src=x onerror=alert(5)&gt;</h1>" in page["trace.html"]
    assert 'data-lane="via &lt;i&gt;&quot;&amp;&#x27;x"' in page["trace.svg"]
    assert "<h1>hairpin pcap &lt;img src=x onerror=alert(4)&gt;x-\\u202egnp.pcapng</h1>" in page["pcap.html"]
    assert f'<p class="sub">Limit: limit {ESCAPED}; kernel {ESCAPED}.</p>' in page["lab.html"]
    assert f'<td class="pkt">192.168.27.239:41000 &gt; 192.168.168.103:80 SYN {ESCAPED}</td>' in page["lab.html"]


def test_every_page_carries_the_policy_that_fetches_nothing(faces: dict[str, Path]) -> None:
    meta = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; '
            "base-uri 'none'; form-action 'none'\">")  # fmt: skip
    for name, path in faces.items():
        if name.endswith(".html"):
            text = path.read_text(encoding="utf-8")
            assert text.startswith(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">{meta}'), name
            assert set(re.findall(r"https?://[^\"' )<]+", text)) == {"http://www.w3.org/2000/svg"}, name


def test_library_values_in_class_and_data_attributes_are_escaped() -> None:
    """A hop's ``kind`` (a note's class) comes from whoever builds the hops: hairpin's faces use fixed tags, a
    library caller may not; it is escaped like every other value."""
    p = Packet(0x0A000001, 1000, 0x0A000002, 80, Flags.SYN)
    pic = svg.sequence_svg([Hop(0.0, "a eth0", p, "why", '"><script>x</script>', 0, "a")], id_prefix='"><b>')
    ET.fromstring(pic)
    assert '<g class="note &quot;&gt;&lt;script&gt;x&lt;/script&gt;" data-lane="a" ' in pic
    assert "<script" not in pic and 'class="b sequence"' in pic


# ------------------------------------------------------------------------------------------ in the browser

SCAN = """
const active = [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
  .filter(a => /^(on|href$|xlink:href$|src$|srcset$|action$|formaction$|style$)/i.test(a.name))
  .map(a => e.tagName + ' ' + a.name));
return {title: document.title,
        h1: document.querySelector('h1') ? document.querySelector('h1').textContent : null,
        elements: [...document.querySelectorAll(
          'script,iframe,img,image,object,embed,foreignObject,a,link,base,form,use,audio,video,source')]
          .map(e => e.outerHTML.slice(0, 80)),
        active: active,
        fetched: performance.getEntriesByType('resource').map(e => e.name)};
"""

#: the distinct numbers of lines of the step tables' flags cells ("SYN,ACK")
FLAG_LINES = """
return [...new Set([...document.querySelectorAll('table.steps td:nth-child(5)')].filter(td => td.textContent)
  .map(td => { const r = document.createRange(); r.selectNodeContents(td); return r.getClientRects().length; }))];
"""


@needs_chromium
def test_nothing_runs_or_is_fetched_in_headless_chromium(faces: dict[str, Path], tmp_path: Path) -> None:
    from test_pictures import OVERFLOW_JS  # tests/ is on sys.path (rootdir conftest, no package)

    titles = {"reproduce.html": "hairpin reproduce: seed" + SHOWN, "sweep.html": "hairpin sweep over seed" + SHOWN,
              "trace.html": "hairpin trace: <img src=x onerror=alert(5)>",
              "pcap.html": "hairpin pcap <img src=x onerror=alert(4)>x-\\u202egnp.pcapng",
              "lab.html": "hairpin lab run: seed" + SHOWN}  # fmt: skip
    driver = chromium(tmp_path / "profile", (1280, 1000), console=True)
    try:
        # control: a script the page let through would be seen (the title changes)
        control = tmp_path / "control.svg"
        control.write_text(
            '<svg xmlns="http://www.w3.org/2000/svg" onload="document.title=\'x\'"><title>t</title></svg>'
        )
        driver.get(control.as_uri())
        assert driver.execute_script("return document.title") == "x"
        for name, path in faces.items():
            loads = [path]
            if name.endswith(".html"):  # the escaping alone must hold: the same page without its policy
                bare = tmp_path / f"nopolicy-{name}"
                bare.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", path.read_text()))
                loads.append(bare)
            for page in loads:
                driver.get(page.as_uri())  # an alert() that ran would fail the next command
                seen = driver.execute_script(SCAN)
                assert (seen["elements"], seen["active"], seen["fetched"]) == ([], [], []), page.name
                if name.endswith(".svg"):
                    assert seen["title"] == "", page.name  # a root <svg> without a <title> child
                else:
                    assert seen["title"] == seen["h1"] == titles[name], page.name
                    assert driver.execute_script(OVERFLOW_JS) == [], page.name
                    # and a long word wraps without breaking the short ones: a flags cell stays on one line
                    assert driver.execute_script(FLAG_LINES) in ([], [1]), page.name
                errors = [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
                assert errors == [], page.name
    finally:
        driver.quit()
