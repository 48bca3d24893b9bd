"""SVG sequence diagrams: well-formed XML, one element per lane and arrow, highlighted failing path."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hairpin.model.hop import Hop
from hairpin.model.net import Flags, Packet, ip_int
from hairpin.render import diagram, svg
from test_diagram import failing_trace, round_  # tests/ is on sys.path (rootdir conftest, no package)

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def arrows(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter("{http://www.w3.org/2000/svg}g") if "arrow" in g.get("class", "").split()]


def test_one_group_per_lane_and_arrow_with_data_attributes() -> None:
    hops = round_(0.0)
    text = svg.sequence_svg(hops, title="connection #7: timeout")
    root = parse(text)
    d = diagram.layout(hops)
    lanes = [g.get("data-lane") for g in root.iter("{http://www.w3.org/2000/svg}g") if "lane" in g.get("class", "")]
    assert lanes == ["netshoot", "node1", "NLB", "vpc", "nginx-demo-1"]
    got = [(g.get("data-src"), g.get("data-dst"), g.get("data-flags"), g.get("data-style")) for g in arrows(root)]
    assert got == [(a.src_lane, a.dst_lane, a.flags, a.style) for a in d.arrows]
    assert root.get("width") == str(int(d.width)) and root.get("height") == str(int(d.height))
    assert "connection #7: timeout" in text


def test_failing_return_path_is_thick_red_and_rst_dashed_orange() -> None:
    root = parse(svg.sequence_svg(round_(0.0)))
    (hp,) = [g for g in arrows(root) if g.get("data-style") == "hairpin"]
    line = hp.find("s:line", NS)
    assert line is not None
    assert line.get("stroke") == svg.COLOURS["hairpin"] == "#d32f2f"
    assert line.get("stroke-width") == "3"
    texts = [t.text for t in hp.iter("{http://www.w3.org/2000/svg}text")]
    assert texts[0] == "SYN,ACK 192.168.2.3:31468 -> 192.168.27.239:35474"
    assert "de-NAT src -> 192.168.2.3:31468" in (texts[1] or "")
    title = hp.find("s:title", NS)
    assert title is not None and "conntrack de-NAT (src)" in (title.text or "")
    for g in arrows(root):
        if g.get("data-style") == "rst":
            ln = g.find("s:line", NS)
            assert ln is not None and ln.get("stroke-dasharray") == "6 3" and ln.get("stroke") == "#ef6c00"


def test_time_column_gaps_folds_and_outcome_note() -> None:
    text = svg.sequence_svg(failing_trace(), fold=True)
    root = parse(text)
    times = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "time"]
    assert times[:3] == ["t (s)", "0.000000", "0.000050"]
    assert "1.000000" in times and "3.000000" in times
    assert "… 0.999 s later" in text or "… 1.000 s later" in text
    assert "same path as at t=0.000 s" in text
    notes = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-kind") == "timeout"]
    assert len(notes) == 1 and notes[0].get("data-lane") == "netshoot"


def test_markup_in_actions_is_escaped_and_ids_are_prefixed() -> None:
    p = Packet(ip_int("10.0.0.1"), 1, ip_int("10.0.0.2"), 2, Flags.SYN, 1)
    hops = [
        Hop(0.0, "a eth0", p, 'weird <script>alert("x")</script> & co', "send", 0, "a<b"),
        Hop(0.0001, "b", p, "TCP: x", "deliver", 0, "b&c"),
    ]
    text = svg.sequence_svg(hops, title="<t>", id_prefix="d2")
    root = parse(text)  # well-formed despite the markup
    assert "<script" not in text
    assert 'id="d2-head-normal"' in text and "url(#d2-head-normal)" in text
    assert [g.get("data-lane") for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-lane")] == [
        "a<b",
        "b&c",
    ]


def test_no_external_references() -> None:
    text = svg.sequence_svg(failing_trace())
    urls = set(re.findall(r"https?://[^\"' )]+", text))
    assert urls == {"http://www.w3.org/2000/svg"}  # the namespace name only; nothing is fetched
    assert "href" not in text and "@import" not in text


def test_empty_trace_is_a_valid_picture() -> None:
    root = parse(svg.sequence_svg([], title="nothing"))
    assert arrows(root) == []
