"""The conventions every ``hairpin`` command follows (docs/cli.md): --version, plain flags, shell
completion, --format text|json, -o/--output, "wrote FILE" on stderr, exit codes 0/1/2, a one-line
diagnosis first and the next step last, 80-column text, nothing on stderr when piped."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from hairpin import scenario as scen

DATA = Path(__file__).parent / "data"
DUMP = DATA / "check" / "seed-dump.yaml"
NODE = DATA / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
COMMANDS = (["reproduce"], ["trace"], ["check"], ["pcap"], ["sweep"], ["lab", "run"], ["lab", "up"],
            ["lab", "down"], ["scenario", "from-cluster"], ["scenario", "nodes"], ["scenario", "validate"])  # fmt: skip


def hairpin(*args: str, columns: int = 160, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": str(columns), "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, check=False)  # fmt: skip


def test_version() -> None:
    r = hairpin("--version")
    assert (r.returncode, r.stdout, r.stderr) == (0, f"hairpin {version('hairpin')}\n", "")


def test_shell_completion_is_offered() -> None:
    r = hairpin("--help")
    assert r.returncode == 0 and "--install-completion" in r.stdout and "--show-completion" in r.stdout
    assert "Exit codes, every command: 0 nothing found, 1 a finding, 2 bad input (docs/cli.md)." in r.stdout


def test_command_lists_are_one_line_per_command_at_80_columns() -> None:
    """A command's summary in its group's list is its help's first paragraph, printed with the paragraph's own
    line breaks: each is one line of text, wrapped by the terminal's width only."""
    from typer.main import get_command

    from hairpin.cli.app import app

    def summaries(group: Any, path: str) -> list[tuple[str, str]]:
        out = []
        for name, cmd in group.commands.items():
            out.append((f"{path}{name}", cmd.short_help or (cmd.help or "").split("\n\n")[0].strip()))
            if hasattr(cmd, "commands"):
                out += summaries(cmd, f"{path}{name} ")
        return out

    found = summaries(get_command(app), "")
    assert {name for name, _ in found} >= {" ".join(c) for c in COMMANDS}
    assert [name for name, text in found if "\n" in text] == []
    r = hairpin("--help", columns=80)
    assert r.returncode == 0 and max(len(line) for line in r.stdout.splitlines()) <= 80
    lines = r.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("│ check "))
    assert lines[at : at + 3] == ["│ check      Find Services whose in-cluster callers their load balancer can    │",
                                  "│            send back to their own node.                                      │",
                                  "│ pcap       Find connections whose SYN-ACK came back from an address the      │"]  # fmt: skip


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_help_shows_flags_without_a_value(cmd: list[str]) -> None:
    r = hairpin(*cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert "<bool>" not in r.stdout


def test_a_flag_given_a_value_is_one_line_exit_2() -> None:
    r = hairpin("check", "--only-at-risk", "true", str(DUMP))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("hairpin: error: --only-at-risk is a flag and takes no value (got 'true'): write "
                        "--only-at-risk alone\n")  # fmt: skip


@pytest.mark.parametrize(("args", "line"), [
    (("reproduce", "--fix", "ip-targets", "--fix", "cluster-ip"),
     "--fix given twice ('ip-targets', then 'cluster-ip'): it takes one value; give it once"),
    (("reproduce", "--seed", "1", "--seed=2"), "--seed given twice ('1', then '2'): it takes one value; give it once"),
    (("sweep", "--grid", "nodes=1", "-o", "a.txt", "--output", "b.txt"),
     "--output given twice ('a.txt', then 'b.txt'): it takes one value; give it once"),
    (("check", str(DUMP), "--format", "json", "--format=sarif"),
     "--format given twice ('json', then 'sarif'): it takes one value; give it once"),
])  # fmt: skip
def test_an_option_given_two_values_is_one_line_exit_2(args: tuple[str, ...], line: str) -> None:
    """click keeps the last value silently: `reproduce --fix ip-targets --fix cluster-ip` ran cluster-ip alone."""
    r = hairpin(*args)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"hairpin: error: {line}\n")


def test_an_option_given_twice_with_one_value_and_a_repeatable_one_still_run() -> None:
    r = hairpin("sweep", "--grid", "nodes=1", "--grid", "cross_zone=true", "--connections", "10", "--connections=10",
                "--workers", "1", "--format", "csv")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "nodes,cross_zone,connections,timeouts,rate,expected,agrees,not_hairpin"


def test_list_fixes_names_every_workaround_once() -> None:
    r = hairpin("reproduce", "--list-fixes")
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == list(scen.FIXES)
    assert lines[0] == f"{'ip-targets':<21}  {scen.FIXES['ip-targets']}"
    assert "--list-fixes" in hairpin("reproduce", "--help").stdout


def test_required_options_are_marked() -> None:
    assert re.search(r"--service .*\[required\]", hairpin("scenario", "from-cluster", "--help").stdout)
    r = hairpin("scenario", "from-cluster", str(DUMP))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "hairpin: error: Missing option '--service'. (see hairpin scenario from-cluster --help)\n"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["check", "--format"], "Option '--format' requires an argument. (see hairpin check --help)"),
        (["reproduce", "--connections", "0"], "Invalid value for '--connections': Input should be greater than or "
         "equal to 1 (see hairpin reproduce --help)"),
        (["nope"], "No such command 'nope'. (see hairpin --help)"),
        (["lab", "run", "--bogus"], "No such option: --bogus (see hairpin lab run --help)"),
    ],
    ids=["missing-value", "out-of-range", "unknown-command", "unknown-option"],
)  # fmt: skip
def test_usage_errors_are_one_line_exit_2(args: list[str], line: str) -> None:
    r = hairpin(*args)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"hairpin: error: {line}\n")


def test_format_text_everywhere_and_the_old_table_name() -> None:
    for cmd in (["check", str(DUMP)], ["sweep", "--grid", "nodes=1,2", "--connections", "40", "--workers", "1"]):
        text = hairpin(*cmd, "--format", "text")
        table = hairpin(*cmd, "--format", "table")
        assert text.returncode == table.returncode and text.stdout == table.stdout
        assert "table" not in hairpin(*cmd, "--help").stdout.split("--format", 1)[1].split("\n")[0]
    r = hairpin("check", str(DUMP), "--format", "xml")
    assert r.returncode == 2 and r.stderr == "hairpin: error: --format must be one of text, json, sarif, got 'xml'\n"


def test_run_connect_timeout_keeps_the_old_name_hidden() -> None:
    out = hairpin("lab", "run", "--help").stdout
    assert "--connect-timeout" in out and re.search(r"--timeout\b", out) is None
    assert "--connect-timeout" in hairpin("sweep", "--help").stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["reproduce", "--connections", "30", "--no-fixes"], 0),
        (["check", str(DUMP)], 1),
        (["trace", "--node", str(NODE), "--reply", SYN], 1),
        (["trace", "--node", str(NODE), SYN], 0),
        (["sweep", "--grid", "nodes=1,2", "--connections", "40", "--workers", "1"], 0),
    ],
    ids=["reproduce", "check", "trace-reply", "trace", "sweep"],
)
def test_output_file_equals_stdout_and_says_wrote(args: list[str], code: int, tmp_path: Path) -> None:
    plain = hairpin(*args)
    out = tmp_path / "out.txt"
    written = hairpin(*args, "-o", str(out))
    assert (plain.returncode, written.returncode) == (code, code)
    assert written.stdout == "" and written.stderr == f"wrote {out}\n"
    assert out.read_text() == plain.stdout
    assert plain.stderr == ""  # a pipe gets no progress


def test_json_to_output(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    r = hairpin("reproduce", "--connections", "20", "--no-fixes", "--format", "json", "--output", str(out))
    assert r.returncode == 0 and r.stderr == f"wrote {out}\n"
    assert json.loads(out.read_text())["summary"]["attempts"] == 20


def test_pcap_svg_on_a_clean_capture_prints_the_analysis_and_exits_0(tmp_path: Path) -> None:
    from hairpin.backends import sim
    from hairpin.render import pcap as render_pcap

    run = sim.run(scen.seed(), 6, 5, fixes=False)
    good = [c for c in run.connections if c.outcome == "established"]
    cap = tmp_path / "good.pcapng"
    render_pcap.write_run(run, cap, good, places={"pod netshoot eth0"})
    svg = tmp_path / "d.svg"
    r = hairpin("pcap", str(cap), "--svg", str(svg), "-o", str(tmp_path / "a.txt"))
    assert r.returncode == 0
    assert r.stderr == (f"hairpin: {svg} not written: the capture holds no failed connection to draw\n"
                        f"wrote {tmp_path / 'a.txt'}\n")  # fmt: skip
    assert not svg.exists()
    assert (tmp_path / "a.txt").read_text().startswith("hairpin pcap: no hairpinned or failed connection in 6 TCP")


def test_down_of_an_unknown_id_exits_2() -> None:
    r = hairpin("lab", "down", "hairpin-no-such-lab")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("hairpin: error: no lab 'hairpin-no-such-lab'; recorded labs: ")
    assert r.stderr.endswith(" (hairpin lab status)\n") and r.stderr.count("\n") == 1


def test_reproduce_reads_at_80_columns() -> None:
    r = hairpin("reproduce", "--connections", "200", columns=80)
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    # the report fits; off a terminal the diagnosis and the next step stay one line each, as every command's
    assert max(len(ln) for ln in lines[1:-1]) <= 80
    assert lines[0].startswith("hairpin reproduce: 102 of 200 simulated connections timed out (51.0%): the load")
    assert lines[-1].startswith("Next: pick a fix from table 4") and lines[-1].endswith("(or --live)")
    # the explanation column survives (stacked under each step): the de-NAT, the RST and the final ETIMEDOUT
    cells = " ".join(ln.split("│")[3].strip() for ln in lines if ln.startswith("│") and ln.count("│") == 4)
    assert "de-NAT (src): 192.168.49.70:80 > 192.168.27.239:35474" in cells
    assert "no socket matches: RST" in cells and "connect() gives up: ETIMEDOUT after 7 SYNs" in cells


def test_reproduce_uses_a_wide_terminal() -> None:
    wide = hairpin("reproduce", "--connections", "200", columns=200).stdout
    assert re.search(r"┃ # ┃ +t \(s\) ┃ at +┃ src -> dst +┃ flags +┃ what acted", wide)
    assert "where, packet, flags / what acted" in hairpin("reproduce", "--connections", "200", columns=80).stdout


def test_workarounds_that_fail_are_not_listed_as_fixes() -> None:
    out = hairpin("reproduce", "--connections", "200", columns=200).stdout
    fixes = out.split("4. Fixes: workarounds that remove every timeout here (was 102/200)")[1].split("5. Not fixes")[0]
    notfix = out.split("5. Not fixes here: workarounds that leave timeouts in this scenario")[1]
    assert "anti-affinity" not in fixes and re.search(r"│ anti-affinity +│ +102/200 │", notfix)
    for name in ("ip-targets", "no-preserve-client-ip", "cluster-ip", "proxy-protocol-v2", "target-node-labels"):
        assert re.search(rf"│ {name} +│ +0/200 │", fixes), name


@pytest.mark.parametrize(
    ("args", "first", "last"),
    [
        (["check", str(DUMP)], "hairpin check: 1 of 1 Service(s) with a load balancer can time out their in-cluster callers, "
         "up to 50.0% of connections (nginx-demo/service-nginx-demo); fixes below", "Next: see it happen"),
        (["trace", "--node", str(NODE), "--reply", SYN], "hairpin trace: 3 of 3 outcome(s) of this packet (100.0% of "
         "its probability) return asymmetrically", "Next: confirm it on the wire"),
        (["trace", "--node", str(NODE), SYN], "hairpin trace: 3 outcome(s); add --reply", "Next: run again with --reply"),
        (["sweep", "--grid", "nodes=1,2", "--connections", "40", "--workers", "1"],
         "hairpin sweep: all 2 points agree with the closed form", "Next: pick the setting"),
    ],
    ids=["check", "trace-reply", "trace", "sweep"],
)  # fmt: skip
def test_diagnosis_first_next_step_last(args: list[str], first: str, last: str) -> None:
    lines = hairpin(*args, columns=400).stdout.splitlines()
    assert lines[0].startswith(first) and lines[-1].startswith(last)


@pytest.mark.parametrize("args", [["reproduce", "--connections", "200"], ["reproduce", "--connections", "200", "--retries", "2"],
                                  ["check", str(DUMP)], ["trace", "--node", str(NODE), "--reply", SYN]])  # fmt: skip
def test_off_a_terminal_the_first_and_last_lines_stay_whole_at_80_columns(args: list[str]) -> None:
    """On a pipe (``| head -1`` in a script, a CI log) at 80 columns the report wraps, its first and last
    lines do not: the diagnosis and the next step are each one line (``reproduce`` wrapped its diagnosis
    into three until 2026-12-03, and with ``--retries`` printed the retries' sentence after the next step)."""
    lines = hairpin(*args, columns=80).stdout.splitlines()
    first = {"reproduce": "hairpin reproduce: 102 of 200 simulated connections timed out (51.0%): the load balancer sent "
                          "them back to the caller's own node node1, whose de-NATed SYN-ACK bypassed it; the client pod "
                          "reset it and retried until ETIMEDOUT",
             "check": "hairpin check: 1 of 1 Service(s) with a load balancer can time out their in-cluster callers, "
                      "up to 50.0% of connections (nginx-demo/service-nginx-demo); fixes below",
             "trace": "hairpin trace: 3 of 3 outcome(s) of this packet (100.0% of its probability) return "
                      "asymmetrically: the reply leaves the node by another way than the request came, the seed's "
                      "failure"}[args[0]]  # fmt: skip
    assert lines[0] == first
    assert lines[-1].startswith("Next: ") and len(lines[-1]) > 80
    if args[0] == "reproduce":
        assert lines[-1] == ("Next: pick a fix from table 4 (hairpin reproduce --fix NAME shows it working), then check "
                             "your own cluster: hairpin check DUMP.json (or --live)")  # fmt: skip
        assert ("--retries" in args) == lines[-2].startswith("With 2 retries per request")
        # the report between them wraps (check keeps what you copy whole, trace its rules: tested elsewhere)
        assert max(len(line) for line in lines[1:-1] if not line.startswith("With 2 retries")) <= 80


def test_the_three_probabilities_are_labelled_the_same_everywhere(tmp_path: Path) -> None:
    labels = [
        "reproduce (this scenario): the client on node1, pinned to the NLB address in eu-west-1a: 50.0%",
        "check: the worst caller node, node3 (eu-west-1b), averaged over DNS answers: 50.0%",
        "scenario from-cluster (client not pinned): node1 averaged over DNS answers: 25.0%",
    ]
    out = hairpin("reproduce", "--connections", "40", "--no-fixes", columns=200).stdout
    for label in labels:
        assert f"  - {label}" in out
    assert re.search(r"│ node1 \* +│ eu-west-1a │ +50\.0% │ +0\.0% │ +25\.0% │", out)
    assert re.search(r"│ node3 +│ eu-west-1b │ +0\.0% │ +100\.0% │ +50\.0% │", out)
    # check's figure is the breakdown's worst node
    doc = json.loads(hairpin("check", str(DUMP), "--format", "json").stdout)
    assert doc["services"][0]["probability"] == 0.5 and "node node3 (eu-west-1b)" in doc["services"][0]["reason"]
    text = hairpin("check", str(DUMP), columns=200).stdout
    assert "worst caller node" in text and f"  - {labels[1]}" in text  # check prints the same table
    assert re.search(r"│ node3 +│ eu-west-1b │ +0\.0% │ +100\.0% │ +50\.0% │", text)
    # from-cluster: its client is not pinned, so its reproduce figure is the averaged one (25 %)
    mine = tmp_path / "mine.yaml"
    r = hairpin("scenario", "from-cluster", "--service", "nginx-demo/service-nginx-demo", str(DUMP), "-o", str(mine),
                columns=200)  # fmt: skip
    assert r.returncode == 0 and "averaged over DNS answers: 25.0%" in r.stderr
    assert f"wrote {mine} (" in r.stderr
    doc = json.loads(hairpin("reproduce", "--scenario", str(mine), "--connections", "10", "--no-fixes",
                             "--format", "json").stdout)  # fmt: skip
    assert doc["summary"]["expected_rate"] == 0.25


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="the lab needs root and iproute2")
def test_lab_run_text_to_output(tmp_path: Path) -> None:
    out = tmp_path / "lab.txt"
    r = hairpin("lab", "run", "--connections", "4", "--connect-timeout", "1", "--seed", "1", "-o", str(out),
                columns=80)  # fmt: skip
    assert r.returncode == 0 and r.stdout == "" and r.stderr == f"wrote {out}\n"
    lines = out.read_text().splitlines()
    table = [ln for ln in lines if ln[:1] in "┏┃┡│└"]
    assert table and max(len(ln) for ln in table) <= 80  # the addresses stacked, nothing cut
    lines = [ln.rstrip() for ln in lines]
    # the diagnosis and the next step are whole lines (greppable), whatever the width
    m = re.fullmatch(r"hairpin lab run: (\d) of 4 real connections timed out; the simulator agrees on every one",
                     lines[0])  # fmt: skip
    assert m is not None
    assert "client / NLB target" in lines[3]
    # the real kernel picks the client's ports, so which connections the NLB hairpins varies (none: 1 in 16)
    assert lines[-1] == (
        "Next: read a timed-out connection step by step: hairpin lab run --svg F (or hairpin reproduce)"
        if m.group(1) != "0" else "Next: run with more --connections to see the failure (each connection times "
        "out only when the NLB picks the caller's own node)")


def test_scenario_nodes_writes_what_trace_reads(tmp_path: Path) -> None:
    r = hairpin("scenario", "nodes", "seed", str(tmp_path / "nodes"))
    assert r.returncode == 0, r.stderr
    names = ("iptables-save", "ip-route", "ip-rule", "ip-addr")
    assert r.stderr.splitlines()[:4] == [f"wrote {tmp_path / 'nodes' / 'node1' / n}" for n in names]
    assert sorted(p.name for p in (tmp_path / "nodes").iterdir()) == ["node1", "node2", "node3"]
    node1 = tmp_path / "nodes" / "node1"
    assert (node1 / "iptables-save").read_text() == (NODE / "iptables-save").read_text()
    assert (node1 / "ip-rule").read_text().splitlines()[1:4] == [
        "512:\tfrom all to 192.168.27.239 lookup main", "512:\tfrom all to 192.168.16.142 lookup main",
        "1024:\tfrom all fwmark 0x80/0x80 lookup main"]  # fmt: skip
    # tracing the written node1 gives the seed's asymmetric return, as the collected node does
    mine = hairpin("trace", "--node", str(node1), "--reply", "--format", "json", SYN)
    ref = hairpin("trace", "--node", str(NODE), "--reply", "--format", "json", SYN)
    assert (mine.returncode, ref.returncode) == (1, 1)
    a, b = json.loads(mine.stdout), json.loads(ref.stdout.replace('"seed-node1 ', '"node1 '))
    assert [o["probability"] for o in a["outcomes"]] == ["715827883/2147483648", "1431655765/4294967296",
                                                         "1431655765/4294967296"]  # fmt: skip
    assert all(o["asymmetric"] for o in a["outcomes"])
    # the files each was read from differ (the forms do not): compare everything else
    assert [v.rpartition(": ")[2] for v in a.pop("inputs").values()] == [
        v.rpartition(": ")[2] for v in b.pop("inputs").values()]
    assert a == b  # every leg, hop, rule line and verdict (the node's name aside)


def test_scenario_nodes_ipvs_mode_adds_ipset_and_ipvsadm(tmp_path: Path) -> None:
    examples = Path(__file__).parent.parent / "examples"
    r = hairpin("scenario", "nodes", str(examples / "ipvs-mode.yaml"), str(tmp_path))
    assert r.returncode == 0, r.stderr
    node = sorted(p for p in tmp_path.iterdir())[0]
    assert {p.name for p in node.iterdir()} == {"iptables-save", "ip-route", "ip-rule", "ip-addr", "ipset-save",
                                                "ipvsadm"}  # fmt: skip
    assert (node / "ipvsadm").read_text().startswith("-A -t ")
    bad = hairpin("scenario", "nodes", "seed", str(tmp_path / "missing" / "deeper"))
    assert bad.returncode == 2 and bad.stderr.startswith("hairpin: error: ")


def test_breakdown_of_the_seed_is_exact() -> None:
    from fractions import Fraction

    from hairpin.probability import breakdown

    b = breakdown(scen.seed())
    assert b is not None
    assert [(r.node, r.az, [p for _, p in r.pinned], r.averaged) for r in b.rows] == [
        ("node1", "eu-west-1a", [Fraction(1, 2), Fraction(0)], Fraction(1, 4)),
        ("node2", "eu-west-1a", [Fraction(1, 2), Fraction(0)], Fraction(1, 4)),
        ("node3", "eu-west-1b", [Fraction(0), Fraction(1)], Fraction(1, 2)),
    ]
    assert (b.client_node, b.client_az, b.scenario_rate, b.worst.node) == ("node1", "eu-west-1a", Fraction(1, 2),
                                                                          "node3")  # fmt: skip
    assert b.to_json()["worst_node_rate"] == 0.5
    assert breakdown(scen.with_fix(scen.seed(), "cluster-ip")) is None  # no load balancer in the path


def test_no_breakdown_where_the_hairpin_does_not_decide() -> None:
    """A table of hairpin odds per node would contradict a verdict decided elsewhere: kube-proxy capturing
    the NLB's addresses (P = 0 through them) or a security group dropping the caller (P = 1)."""
    from dataclasses import replace

    from hairpin.aws.risk import not_the_hairpin, timeout_fraction
    from hairpin.probability import breakdown

    seed = scen.seed()
    svc, lb = seed.services[0], seed.services[0].load_balancer
    assert lb is not None and not_the_hairpin(seed) is None
    vip = replace(seed, services=(replace(svc, load_balancer_ips=("192.168.168.103", "192.168.140.27")),))
    assert (breakdown(vip), timeout_fraction(vip)) == (None, 0)
    assert not_the_hairpin(vip) == (
        "kube-proxy on the caller's node captures the load balancer's addresses (ingress IPs, ipMode VIP)")
    sg = replace(seed, services=(replace(svc, load_balancer=replace(lb, security_groups=True,
                                                                    source_ranges=("203.0.113.0/24",))),))
    assert (breakdown(sg), timeout_fraction(sg), not_the_hairpin(sg)) == (
        None, 1, "the NLB's security group drops the caller")
    target = replace(seed, services=(replace(svc, load_balancer=replace(lb, source_ranges=("203.0.113.0/24",))),))
    assert (breakdown(target), not_the_hairpin(target)) == (None, "the targets' security group drops the caller")
    admitted = replace(seed, services=(replace(svc, load_balancer=replace(lb, security_groups=True,
                                                                          source_ranges=("192.168.0.0/16",))),))
    assert not_the_hairpin(admitted) is None and breakdown(admitted) is not None


def test_run_view_at_80_and_200_columns() -> None:
    from rich.console import Console

    from hairpin import story
    from hairpin.backends import sim

    run = sim.run(scen.seed(), 40, 2, fixes=False)
    texts = {}
    for width in (80, 200):
        con = Console(width=width, record=True, color_system=None, file=io.StringIO())
        con.print(story.RunView(run))
        texts[width] = con.export_text()
    assert max(len(ln) for ln in texts[80].splitlines()) <= 80
    assert "where, packet, flags / what acted" in texts[80] and "what acted" in texts[200]
    assert max(len(ln) for ln in texts[200].splitlines()) == 200  # a wide terminal is used in full
    assert "ETIMEDOUT after 7 SYNs" in texts[200]


def _on_a_terminal(*args: str) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; its text without colour codes."""
    import pty

    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="100", TERM="xterm")
    p = subprocess.Popen([sys.executable, "-m", "hairpin.cli.main", *args], stdout=subprocess.DEVNULL,
                         stderr=slave, env=env)  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not b:
            break
        chunks.append(b)
    code = p.wait()
    os.close(master)
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))


def test_progress_on_a_terminal_and_nothing_on_a_pipe() -> None:
    code, err = _on_a_terminal("reproduce", "--connections", "50")
    assert code == 0 and "simulating 350 connections (the scenario and 6 workarounds, 50 each)" in err
    code, err = _on_a_terminal("reproduce", "--connections", "20", "--format", "json")
    assert code == 0 and "simulating 140 connections (the scenario and 6 workarounds, 20 each)" in err
    code, err = _on_a_terminal("reproduce", "--connections", "20", "--no-fixes")
    assert code == 0 and "simulating 20 connections\n" in err.replace("\r", "")
    cap = str(DATA / "pcap" / "lab-node1.pcap")
    code, err = _on_a_terminal("pcap", cap)
    size = os.stat(cap).st_size
    assert code == 1 and "reading captures" in err and f"/{size / 1000:.1f} kB" in err
    piped = hairpin("pcap", cap)
    assert piped.returncode == 1 and piped.stderr == ""


def test_on_a_terminal_the_next_step_is_one_line_and_the_rest_wraps() -> None:
    """On a terminal (rich takes TTY_COMPATIBLE=1 for one) 60 columns wide, the diagnosis wraps at 60 but the
    ``Next:`` line, which holds a command to copy, is printed whole for the terminal to wrap on screen."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "60", "PYTHONPATH": str(root / "src")}
    dump = root / "tests" / "data" / "check" / "seed-dump.yaml"
    p = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "check", str(dump)], capture_output=True,
                       text=True, env=env, check=False)  # fmt: skip
    lines = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", p.stdout).splitlines()
    assert p.returncode == 1
    assert lines[-1] == (f"Next: see it happen on your cluster: hairpin scenario from-cluster --service "
                         f"nginx-demo/service-nginx-demo {dump} -o mine.yaml, then hairpin reproduce --scenario mine.yaml")  # fmt: skip
    assert lines[0].startswith("hairpin check: 1 of 1 Service(s)") and len(lines[0].rstrip()) <= 60
