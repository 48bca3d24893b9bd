"""A node with rules in both iptables backends: iptables-nft-save's and iptables-legacy-save's dumps traced together.

``tests/data/trace/legacy-node`` was read off a network namespace (Linux 6.18.44, iptables 1.8.9, 2026-12-02) where
an old kube-proxy's rules sit in the legacy backend (the Service 10.100.0.10:80 -> 192.168.39.2:80, and a DROP of
tcp port 8080 to 192.168.16.142 in filter FORWARD) and a new one's in nf_tables (the same Service ->
192.168.49.70:80, and an ACCEPT of the pod 192.168.27.239 in filter FORWARD): a node in the middle of a migration.
Which backend's nat runs first depends on which registered its hooks last, which no dump says: both results are
listed.  The kernel's own behaviour is checked in tests/test_trace_legacy_lab.py (root).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.legacy import backend_of
from hairpin.parsers import forms

NODE = Path(__file__).parent / "data" / "trace" / "legacy-node"
SVC = "tcp 192.168.27.239:40000 > 10.100.0.10:80 syn in eni1"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True, check=False)


def test_the_service_goes_to_either_backends_endpoint_and_both_are_listed() -> None:
    res = run("trace", "--node", str(NODE), "--reply", SVC)
    assert res.returncode == 0 and res.stderr == ""
    lines = res.stdout.splitlines()
    assert lines[0] == ("hairpin trace: the outcome depends on which iptables backend (legacy or nft) the kernel runs "
                        "first, which the dumps cannot tell: every result is listed, each outcome saying the order it "
                        "assumes (see the warning below)")  # fmt: skip
    assert lines[2] == (f"read iptables: {NODE}/iptables-save: iptables-save (nf_tables); iptables-legacy: "
                        f"{NODE}/iptables-legacy-save: iptables-save (legacy)")  # fmt: skip
    assert "  warning: THE OUTCOME DEPENDS ON AN ORDER THE DUMPS CANNOT TELL: iptables-legacy and iptables-nft both " \
           "hold rules at nat PREROUTING, filter FORWARD; the kernel runs first the one whose hooks were registered " \
           "last (nf_hook_entries_grow), which no dump records; the 4 orders give 2 different results, all listed, " \
           "each outcome saying the order it assumes (the probabilities add up to 1 per result)" in lines
    # iptables-nft-save's "iptables-legacy tables present" is not warned about: they are given
    assert not any("iptables-legacy tables are present" in ln for ln in lines)
    first = lines.index("outcome 1/2: probability 1 (1.000000)")
    second = lines.index("outcome 2/2: probability 1 (1.000000)")
    assert lines[first + 1] == "  assumes: legacy nat before nft nat at PREROUTING, either order at filter FORWARD"
    assert lines[second + 1] == "  assumes: nft nat before legacy nat at PREROUTING, either order at filter FORWARD"
    one, two = lines[first:second], lines[second:]
    assert ("    nat    KUBE-SEP-OLD             line 20    legacy: -A KUBE-SEP-OLD -p tcp -m comment --comment "
            '"default/web" -m tcp -j DNAT --to-destination 192.168.39.2:80  [DNAT]') in one  # fmt: skip
    assert "    filter FORWARD                  line 7     nft: -A FORWARD -s 192.168.27.239/32 -j ACCEPT  [ACCEPT]" in one
    assert ("    => forwarded out eth0 as tcp 192.168.27.239:40000 > 192.168.39.2:80 SYN (table main: default via "
            "192.168.0.1 dev eth0)") in one  # fmt: skip
    assert not any("nft: -A KUBE-SEP-NEW" in ln for ln in one)  # the first binding wins: nft's nat not consulted
    assert ("    nat    KUBE-SEP-NEW             line 21    nft: -A KUBE-SEP-NEW -p tcp -m comment --comment "
            '"default/web" -m tcp -j DNAT --to-destination 192.168.49.70:80  [DNAT]') in two  # fmt: skip
    assert not any("legacy: -A KUBE-SEP-OLD" in ln for ln in two)
    assert ("    => forwarded out eth0 as tcp 192.168.27.239:40000 > 192.168.49.70:80 SYN (table main: default via "
            "192.168.0.1 dev eth0)") in two  # fmt: skip
    for part in (one, two):  # each reply de-NATed back to the Service's address, out the pod's interface
        assert ("    => forwarded out eni1 as tcp 10.100.0.10:80 > 192.168.27.239:40000 SYN,ACK (table main: "
                "192.168.27.239 dev eni1 scope link)") in part  # fmt: skip


def test_json_says_how_many_results_and_what_each_outcome_assumes() -> None:
    res = run("trace", "--node", str(NODE), "--format", "json", SVC)
    assert res.returncode == 0
    doc = json.loads(res.stdout)
    assert doc["results"] == 2 and doc["total_probability"] == "2"
    assert [(o["probability"], o["legs"][0]["out"]["packet"], o["assumes"]) for o in doc["outcomes"]] == [
        ("1", "tcp 192.168.27.239:40000 > 192.168.39.2:80 SYN",
         "legacy nat before nft nat at PREROUTING, either order at filter FORWARD"),
        ("1", "tcp 192.168.27.239:40000 > 192.168.49.70:80 SYN",
         "nft nat before legacy nat at PREROUTING, either order at filter FORWARD"),
    ]  # fmt: skip


def test_a_drop_in_the_legacy_filter_drops_whatever_the_nft_filter_accepts() -> None:
    res = run("trace", "--node", str(NODE), "--format", "json", "tcp 192.168.27.239:40000 > 192.168.16.142:8080 syn in eni1")
    assert res.returncode == 0
    doc = json.loads(res.stdout)
    assert "results" not in doc and len(doc["outcomes"]) == 1
    (o,) = doc["outcomes"]
    assert "assumes" not in o
    assert o["legs"][0]["verdict"] == "dropped in filter FORWARD (-A FORWARD -d 192.168.16.142/32 -p tcp -m tcp --dport 8080 -j DROP)"
    assert doc["warnings"] == [
        "iptables-legacy and iptables-nft both hold rules at nat PREROUTING, filter FORWARD: the kernel runs first the "
        "one whose hooks were registered last (nf_hook_entries_grow), which no dump records; every order (4) gives "
        "the same outcomes (the rules shown are those of legacy nat before nft nat at PREROUTING, legacy filter "
        "before nft filter at FORWARD)"]  # fmt: skip
    assert [(s["chain"], s["rule"]) for s in o["legs"][0]["steps"] if s["table"] == "filter"] == [
        ("FORWARD", "legacy: -A FORWARD -d 192.168.16.142/32 -p tcp -m tcp --dport 8080 -j DROP")]


LEGACY_MANGLE = """# Generated by iptables-save v1.8.9 on Wed Dec  2 06:12:09 2026
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i eni1 -m statistic --mode random --probability 0.25000000000 -j MARK --set-xmark 0x80/0x80
COMMIT
"""


def test_backends_on_different_hooks_need_no_order_and_each_rule_names_its_backend(tmp_path: Path) -> None:
    (tmp_path / "legacy").write_text(LEGACY_MANGLE)
    res = run("trace", "--iptables-save", str(NODE / "iptables-save"), "--iptables-save", str(tmp_path / "legacy"),
              "--routes", str(NODE / "ip-route"), "--format", "json", SVC)  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["warnings"] == [] and "results" not in doc
    assert [(o["probability"], o["choices"]) for o in doc["outcomes"]] == [
        ("1/4", ["legacy line 8 matched (p=1/4): -A PREROUTING -i eni1 -m statistic --mode random --probability "
                 "0.25000000000 -j MARK --set-xmark 0x80/0x80"]),
        ("3/4", ["legacy line 8 did not match (p=1/4): -A PREROUTING -i eni1 -m statistic --mode random --probability "
                 "0.25000000000 -j MARK --set-xmark 0x80/0x80"]),
    ]  # fmt: skip
    assert [s["rule"] for s in doc["outcomes"][0]["legs"][0]["steps"]][:2] == [
        "legacy: -A PREROUTING -i eni1 -m statistic --mode random --probability 0.25000000000 -j MARK --set-xmark "
        "0x80/0x80",
        'nft: -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES']  # fmt: skip


def test_a_legacy_dump_without_its_header_is_named_with_the_option(tmp_path: Path) -> None:
    text = (NODE / "iptables-legacy-save").read_text()
    (tmp_path / "old").write_text("".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith("#")))
    base = ["trace", "--iptables-save", str(NODE / "iptables-save"), "--routes", str(NODE / "ip-route"), "--format",
            "json", SVC]  # fmt: skip
    res = run(*base, "--iptables-legacy-save", str(tmp_path / "old"))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["results"] == 2
    assert doc["inputs"]["iptables"] == (f"{NODE}/iptables-save: iptables-save (nf_tables); iptables-legacy: "
                                         f"{tmp_path}/old: iptables-save")  # fmt: skip
    # given without the option, beside both backends' dumps, it is not guessed
    res = run(*base, "--iptables-save", str(NODE / "iptables-legacy-save"), "--iptables-save", str(tmp_path / "old"))
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == (f"hairpin: error: {tmp_path}/old: cannot tell which iptables backend wrote this file (it "
                          "has no '# Generated by iptables-save' line) while the other rule files are "
                          "iptables-legacy-save's and iptables-nft-save's: give each backend's iptables-save output "
                          "whole, the legacy one with --iptables-legacy-save\n")  # fmt: skip


def test_the_nft_dump_given_as_the_legacy_one_is_refused() -> None:
    res = run("trace", "--iptables-legacy-save", str(NODE / "iptables-save"), "--iptables-save",
              str(NODE / "iptables-legacy-save"), "--routes", str(NODE / "ip-route"), SVC)  # fmt: skip
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == (f"hairpin: error: {NODE}/iptables-save: given as iptables-legacy-save output, but its "
                          "'# Generated by' line says iptables-nft-save (nf_tables)\n")  # fmt: skip


def test_the_same_legacy_dump_twice_is_read_once(tmp_path: Path) -> None:
    """On a node whose `iptables` is the legacy one, iptables-save and iptables-legacy-save print the same rules."""
    for name in ("iptables-save", "iptables-legacy-save"):
        (tmp_path / name).write_text((NODE / "iptables-legacy-save").read_text())
    for name in ("ip-route", "ip-addr"):
        (tmp_path / name).write_text((NODE / name).read_text())
    res = run("trace", "--node", str(tmp_path), "--format", "json", SVC)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["inputs"]["iptables"] == (f"{tmp_path}/iptables-save: iptables-save (legacy); "
                                         f"{tmp_path}/iptables-legacy-save: iptables-save (legacy), the same rules as "
                                         f"{tmp_path}/iptables-save: read once")  # fmt: skip
    assert [o["legs"][0]["out"]["packet"] for o in doc["outcomes"]] == ["tcp 192.168.27.239:40000 > 192.168.39.2:80 SYN"]
    assert doc["warnings"] == []


@given(version=st.from_regex(r"v1\.[0-9]\.[0-9]{1,2}", fullmatch=True),
       prog=st.sampled_from(["iptables-save", "iptables-nft-save", "iptables-legacy-save"]),
       nft=st.booleans(), date=st.text(st.characters(codec="ascii", exclude_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85"),
                                        max_size=30))  # fmt: skip
def test_the_backend_is_told_by_the_generated_by_line(version: str, prog: str, nft: bool, date: str) -> None:
    head = f"# Generated by {prog} {version}{' (nf_tables)' if nft else ''} on {date}\n"
    _, form = forms.read_iptables(head + "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", "f")
    assert backend_of(form) == ("nf_tables" if nft else "legacy")
    _, form = forms.read_iptables("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", "f")
    assert backend_of(form) is None


LEGACY_SAVE = "#!/bin/sh\nprintf '%s'\n"


def test_collect_keeps_iptables_legacy_save_only_when_it_prints_rules(tmp_path: Path) -> None:
    """The script's step: the tool missing, or printing nothing (no legacy table): no file, no error; else its file."""
    import os

    from hairpin.collect import script

    (step,) = [ln for ln in script().splitlines() if ln.startswith("{ iptables-legacy-save")]
    assert step == ("{ iptables-legacy-save > iptables-legacy-save && test -s iptables-legacy-save; } 2>/dev/null "
                    "|| rm -f iptables-legacy-save")  # fmt: skip
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "test", "rm"):
        found = next((Path(d) / tool for d in ("/usr/bin", "/bin") if (Path(d) / tool).exists()), None)
        if found is not None:
            (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    for printed in (None, "", "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n"):
        out = tmp_path / f"out{printed is None}{len(printed or '')}"
        out.mkdir()
        if printed is not None:
            (bin_dir / "iptables-legacy-save").write_text(LEGACY_SAVE.replace("%s", printed.replace("\n", "\\n")))
            (bin_dir / "iptables-legacy-save").chmod(0o755)
        res = subprocess.run(["sh", "-c", step], cwd=out, env=env, capture_output=True, text=True, check=False)
        assert (res.returncode, res.stderr) == (0, "")
        assert [(p.name, p.read_text()) for p in out.iterdir()] == ([("iptables-legacy-save", printed)] if printed else [])


def test_collect_run_leaves_out_an_empty_legacy_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    from hairpin import collect

    for printed, kept in ((b"", False), (b"*nat\nCOMMIT\n", True)):
        def fake(cmd: list[str], printed: bytes = printed, **_: object) -> subprocess.CompletedProcess[bytes]:
            if cmd == ["iptables-legacy-save"]:
                return subprocess.CompletedProcess(cmd, 0, printed, b"")
            return subprocess.CompletedProcess(cmd, 0 if cmd[0] in ("ip", "iptables-save") else 1, b"x\n", b"")

        monkeypatch.setattr(collect.subprocess, "run", fake)
        files = collect.run_commands()
        assert ("iptables-legacy-save" in files) == kept
        if kept:
            assert files["iptables-legacy-save"] == printed


def test_orders_that_give_one_result_are_described_exactly() -> None:
    from hairpin.legacy import _describe

    nat, flt = ("nat", "PREROUTING", "legacy", "nft"), ("filter", "FORWARD", "legacy", "nft")
    assert _describe([{nat: True, flt: True}, {nat: True, flt: False}], [nat, flt]) == (
        "legacy nat before nft nat at PREROUTING, either order at filter FORWARD")
    assert _describe([{nat: True, flt: False}, {nat: False, flt: True}], [nat, flt]) == (
        "(legacy nat before nft nat at PREROUTING, nft filter before legacy filter at FORWARD) or "
        "(nft nat before legacy nat at PREROUTING, legacy filter before nft filter at FORWARD)")
    assert _describe([{nat: False}], [nat, flt]) == "nft nat before legacy nat at PREROUTING"


def test_an_empty_chain_with_a_drop_policy_drops(tmp_path: Path) -> None:
    """``:FORWARD DROP`` and no rule (Docker sets it on the legacy backend): every forwarded packet is dropped, with
    one backend or beside the other's ACCEPT (ipt_do_table returns the chain's policy)."""
    text = (NODE / "iptables-legacy-save").read_text().replace(":FORWARD ACCEPT [0:0]", ":FORWARD DROP [0:0]")
    (tmp_path / "legacy").write_text("".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith("-A FORWARD")))
    packet = "tcp 192.168.27.239:40000 > 192.168.16.142:8080 syn in eni1"
    for ipt in ([str(tmp_path / "legacy")], [str(NODE / "iptables-save"), str(tmp_path / "legacy")]):
        res = run("trace", *(a for f in ipt for a in ("--iptables-save", f)), "--routes", str(NODE / "ip-route"),
                  "--format", "json", packet)  # fmt: skip
        assert res.returncode == 0, res.stderr
        doc = json.loads(res.stdout)
        assert [o["legs"][0]["verdict"] for o in doc["outcomes"]] == ["dropped in filter FORWARD (policy)"]
        assert len(doc["warnings"]) == len(ipt) - 1


def test_the_html_report_and_the_svg_say_the_order_each_outcome_assumes(tmp_path: Path) -> None:
    res = run("trace", "--node", str(NODE), "--html", str(tmp_path / "t.html"), "--svg", str(tmp_path / "t.svg"), SVC)
    assert res.returncode == 0, res.stderr
    html = (tmp_path / "t.html").read_text()
    assert html.count('<p class="sub">assumes: ') == 2
    assert '<p class="sub">assumes: nft nat before legacy nat at PREROUTING, either order at filter FORWARD</p>' in html
    assert "(assumes legacy nat before nft nat at PREROUTING, either order at filter FORWARD)" in (tmp_path / "t.svg").read_text()


def test_past_the_last_order_traced_nothing_is_claimed_for_every_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from hairpin import legacy
    from hairpin import trace as tr

    monkeypatch.setattr(legacy, "MAX_ORDERS", 1)
    n = tr.Node.load([NODE / "iptables-save", NODE / "iptables-legacy-save"], NODE / "ip-route")
    t = tr.trace(n, *tr.parse_packet(SVC))
    assert t.results == 1 and len(t.outcomes) == 1
    assert t.warnings == [
        "more than 1 orders of the two iptables backends: the rest were not traced, and the outcomes listed may not "
        "be all there are",
        "iptables-legacy and iptables-nft both hold rules at nat PREROUTING, filter FORWARD: the kernel runs first "
        "the one whose hooks were registered last (nf_hook_entries_grow), which no dump records; the 1 orders traced "
        "give the same outcomes (the rules shown are those of legacy nat before nft nat at PREROUTING, legacy filter "
        "before nft filter at FORWARD)"]  # fmt: skip


# ------------------------------------------------------------------------ random rules against a plain oracle

ADDR = {"A": "10.100.0.10", "B": "10.100.0.11", "C": "192.168.39.2", "D": "192.168.49.70"}
NAT = st.lists(st.tuples(st.sampled_from("AB"), st.sampled_from("CD")), max_size=2)
FILTER = st.lists(st.tuples(st.sampled_from("ABCD"), st.sampled_from(["ACCEPT", "DROP"])), max_size=2)
BACKEND = st.tuples(NAT, FILTER, st.sampled_from(["ACCEPT", "DROP"]))


def _dump(header: str, nat: list[tuple[str, str]], flt: list[tuple[str, str]], policy: str) -> str:
    lines = [header, "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]"]  # fmt: skip
    lines += [f"-A PREROUTING -d {ADDR[d]}/32 -p tcp -j DNAT --to-destination {ADDR[to]}:80" for d, to in nat]
    lines += ["COMMIT", "*filter", ":INPUT ACCEPT [0:0]", f":FORWARD {policy} [0:0]", ":OUTPUT ACCEPT [0:0]"]
    lines += [f"-A FORWARD -d {ADDR[d]}/32 -j {v}" for d, v in flt]
    return "\n".join([*lines, "COMMIT", ""])


def _oracle(backends: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]], str]]) -> set[str]:
    """The fates of ``tcp ... > A:80`` over both nat orders: the first backend (in that order) with a DNAT rule
    for A binds; then dropped when either backend's first FORWARD rule for the address (else its policy) drops."""
    fates = set()
    for order in (("legacy", "nft"), ("nft", "legacy")):
        dst = "A"
        for b in order:
            hit = next((to for d, to in backends[b][0] if d == "A"), None)
            if hit is not None:
                dst = hit
                break
        dropped = any(next((v for d, v in backends[b][1] if d == dst), backends[b][2]) == "DROP" for b in order)
        fates.add("drop" if dropped else ADDR[dst])
    return fates


@settings(max_examples=60, deadline=None)
@given(nft=BACKEND, old=BACKEND)
def test_random_rules_in_both_backends_give_every_fate_the_orders_give(
        nft: tuple[list[tuple[str, str]], list[tuple[str, str]], str],
        old: tuple[list[tuple[str, str]], list[tuple[str, str]], str]) -> None:  # fmt: skip
    import tempfile

    from hairpin import trace as tr

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "nft").write_text(_dump("# Generated by iptables-nft-save v1.8.9 (nf_tables) on x", *nft))
        (Path(d) / "legacy").write_text(_dump("# Generated by iptables-save v1.8.9 on x", *old))
        n = tr.Node.load([Path(d) / "nft", Path(d) / "legacy"], NODE / "ip-route")
        t = tr.trace(n, *tr.parse_packet("tcp 192.168.27.239:40000 > 10.100.0.10:80 syn in eni1"))
    got = {"drop" if o.legs[0].kind == "drop" else str(o.legs[0].out_packet).split(" ")[3].rpartition(":")[0]
           for o in t.outcomes}  # fmt: skip
    assert got == _oracle({"nft": nft, "legacy": old})
    assert t.results == len(got)
    assert all(o.probability == 1 for o in t.outcomes)  # no random choice: one outcome per result
    assert all((o.assumes is None) == (t.results == 1) for o in t.outcomes)
