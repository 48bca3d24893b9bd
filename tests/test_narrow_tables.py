"""Text tables at 80 and 200 columns: ``check``, ``pcap`` and the per-node probability table stack their rows
when the wide layout does not fit, and keep one line a row when it does; nothing is ever cut (no ``…``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from hairpin.backends import sim
from hairpin.backends.lab.run import LabConnection, LabRun
from hairpin.cli.check import PROBABILITY_NOTE
from hairpin.model.net import Flags as F
from hairpin.model.net import Packet, addr_int
from hairpin.parsers import pcap
from hairpin.probability import breakdown
from hairpin.render import pcap as render_pcap
from hairpin.render.text import indented
from hairpin.scenario import load, seed

ROOT = Path(__file__).resolve().parent.parent
DUMP = "tests/data/check/seed-dump.yaml"


def hairpin(columns: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"COLUMNS": str(columns), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PYTHONPATH": os.environ.get("PYTHONPATH", "")}  # fmt: skip
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=False)  # fmt: skip


def lines_of(out: str) -> list[str]:
    return [line.rstrip() for line in out.splitlines()]


def long_lines(lines: list[str], width: int) -> list[str]:
    return [line for line in lines if len(line) > width]


CHECK_FIRST = ("hairpin check: 1 of 1 Service(s) with a load balancer can time out their in-cluster callers, up to "
               "50.0% of connections (nginx-demo/service-nginx-demo); fixes below")  # fmt: skip
CHECK_NEXT = ("Next: see it happen on your cluster: hairpin scenario from-cluster --service nginx-demo/service-nginx-demo "
              f"{DUMP} -o mine.yaml, then hairpin reproduce --scenario mine.yaml")  # fmt: skip
CHECK_KUBECTL = ("       add these annotations to the Service's manifest, then: kubectl delete service -n nginx-demo "
                 "service-nginx-demo && kubectl apply -f <manifest>")  # fmt: skip
YAML = '           service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: "ip"'


def test_check_at_80_columns_stacks_the_table_and_cuts_nothing() -> None:
    r = hairpin(80, "check", DUMP)
    assert (r.returncode, r.stderr) == (1, "")
    lines = lines_of(r.stdout)
    # only the one-line diagnosis, the fix's kubectl command (copied whole), the note and the next step are
    # longer: kept whole off a terminal (greppable)
    assert long_lines(lines, 80) == [CHECK_FIRST, CHECK_KUBECTL, PROBABILITY_NOTE, CHECK_NEXT]
    assert "…" not in r.stdout
    i = lines.index("┃ Service / where / load balancer / client IP ┃ P(timeout)  ┃")
    assert lines[i + 2 : i + 7] == [
        "│ nginx-demo/service-nginx-demo               │ AT RISK     │",
        "│ tests/data/check/seed-dump.yaml:56          │ 1/2 (50.0%) │",
        "│ in-tree: nlb internal instance              │             │",
        "│ client IP preserved                         │             │",
        "└─────────────────────────────────────────────┴─────────────┘",
    ]
    # the explanations wrap under their own indentation; the fixes' YAML stays whole
    assert "    - service.beta.kubernetes.io/aws-load-balancer-type: nlb, no" in lines
    assert "      loadBalancerClass: the in-tree provider, Network Load Balancer" in lines
    assert "    1. point in-cluster callers at" in lines
    assert "       service-nginx-demo.nginx-demo.svc.cluster.local:80 (the ClusterIP)" in lines
    assert YAML in lines
    # the per-node table fits 80 columns as it is
    assert "│ node3       │ eu-west-1b │          0.0% │        100.0% │    50.0% │" in lines
    assert lines[-1] == CHECK_NEXT and lines[0] == CHECK_FIRST


def test_check_at_200_columns_keeps_one_line_a_service() -> None:
    r = hairpin(200, "check", DUMP)
    lines = lines_of(r.stdout)
    assert long_lines(lines, 200) == [PROBABILITY_NOTE]
    assert "…" not in r.stdout
    assert ("│ nginx-demo/service-nginx-demo │ tests/data/check/seed-dump.yaml:56 │ in-tree: nlb internal instance │ "
            "preserved │ AT RISK │ 1/2 (50.0%) │") in lines  # fmt: skip
    assert (
        "    - scheme internal (service.beta.kubernetes.io/aws-load-balancer-internal: 'true'; the in-tree provider takes any value but 'false')"
        in lines
    )
    assert "1 Service(s) with a load balancer, 1 at risk, 0 input error(s)" in lines


@pytest.mark.parametrize("width", [60, 70, 80, 100, 120, 140, 160])
def test_check_report_fits_every_width(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from hairpin.diagnose.check import check
    from hairpin.errors import ParseError
    from hairpin.parsers.manifests import load_paths

    monkeypatch.chdir(ROOT)
    errors: list[ParseError] = []
    report = check(load_paths([DUMP, "tests/data/check/manifests"], errors))
    assert not errors and len(report.at_risk) == 2
    con = Console(width=width, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    con.print(report)
    text = con.export_text()
    assert "…" not in text and not long_lines(lines_of(text), width)
    cells = ["nginx-demo/service-nginx-demo", "tests/data/check/manifests/clean.yaml:1", "1/2 (50.0%)", "AT RISK"]
    if width >= 80:  # the longest load balancer cell, whole on its line
        cells.append("aws-load-balancer-controller: nlb internet-facing ip")
    for cell in cells:
        assert cell in text, cell


def _v6_capture(path: Path) -> None:
    client, vip, node = (addr_int(a) for a in ("2600:1f14:abc:1::27", "2600:1f14:abc:2::103", "2600:1f14:abc:3::3"))
    c4, v4 = addr_int("10.0.1.5"), addr_int("10.0.9.9")
    recs = [pcap.PacketRecord(10.0, None, Packet(client, 40000, vip, 80, F.SYN, 5)),
            pcap.PacketRecord(10.0004, None, Packet(node, 31468, client, 40000, F.SYN | F.ACK, 7, 6)),
            pcap.PacketRecord(10.0005, None, Packet(client, 40000, node, 31468, F.RST, 6)),
            pcap.PacketRecord(11.0, None, Packet(c4, 50000, v4, 443, F.SYN, 100)),
            pcap.PacketRecord(11.0001, None, Packet(v4, 443, c4, 50000, F.RST | F.ACK, 0, 101)),
            pcap.PacketRecord(12.0, None, Packet(client, 40001, vip, 80, F.SYN, 900)),
            pcap.PacketRecord(13.0, None, Packet(client, 40001, vip, 80, F.SYN, 900)),
            # the capture goes on past the retransmission timer (2 s > the 1 s last waited): unanswered, not cut
            pcap.PacketRecord(15.0, None, Packet(c4, 50001, v4, 443, F.ACK, 1, 1))]  # fmt: skip
    pcap.write_pcap(path, recs, linktype=pcap.SLL2)


PCAP_NEXT = ("Next: find the Service behind the called address (hairpin check DUMP or --live) and trace the node's "
             "rules: hairpin trace --node DIR PACKET --reply")  # fmt: skip
PCAP_FIRST = ("hairpin pcap: {n} connection{s} hairpinned: the SYN-ACK came back from an address the client did not "
              "call, and the client reset it")  # fmt: skip


def test_pcap_of_a_simulated_run_at_80_and_200_columns(tmp_path: Path) -> None:
    run = sim.run(seed(), 16, 5)
    path = tmp_path / "client.pcapng"
    render_pcap.write_run(run, path, run.connections, places={"pod netshoot eth0"})
    timeouts = [c for c in run.connections if c.outcome == "timeout"]
    n = len(timeouts)
    first = PCAP_FIRST.format(n=n, s="s" if n != 1 else "")
    narrow = hairpin(80, "pcap", str(path))
    assert narrow.returncode == 1 and "…" not in narrow.stdout
    lines = lines_of(narrow.stdout)
    assert long_lines(lines, 80) == [first, PCAP_NEXT]
    i = lines.index("┃ backend                                      ┃ SYN retx ┃ lost (s) ┃ gave up ┃")
    c = timeouts[0].client
    assert lines[i + 2 : i + 6] == [
        f"│ {c:<44} │        6 │   63.001 │ yes     │",
        "│ 192.168.168.103:80                           │          │          │         │",
        "│ 192.168.2.3:31468                            │          │          │         │",
        "│ -                                            │          │          │         │",
    ]
    assert sum(1 for line in lines if line.startswith("│ 192.168.27.239:")) == n
    wide = lines_of(hairpin(200, "pcap", str(path)).stdout)
    assert long_lines(wide, 200) == [] and "…" not in "\n".join(wide)
    assert (
        "┃ client               ┃ called (VIP)       ┃ answered by (node) ┃ backend ┃ SYN retx ┃ lost (s) ┃ gave up ┃"
        in wide
    )
    assert f"│ {c} │ 192.168.168.103:80 │ 192.168.2.3:31468  │ -       │        6 │   63.001 │ yes     │" in wide
    assert wide[0] == first and wide[1].startswith(f"{n} hairpinned connections of 16 in ")
    assert wide[1].endswith(f" TCP packets; healthy {16 - n}; other failures: none")


def test_pcap_ipv6_and_other_failures_at_80_and_200_columns(tmp_path: Path) -> None:
    path = tmp_path / "v6.pcap"
    _v6_capture(path)
    narrow = hairpin(80, "pcap", str(path))
    assert narrow.returncode == 1 and "…" not in narrow.stdout
    lines = lines_of(narrow.stdout)
    assert long_lines(lines, 80) == [PCAP_FIRST.format(n=1, s=""), PCAP_NEXT]
    assert "\n".join(lines[6:13]) == "\n".join([
        "┃ client / called (VIP) / answered by (node) / ┃          ┃          ┃         ┃",
        "┃ backend                                      ┃ SYN retx ┃ lost (s) ┃ gave up ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━┩",
        "│ [2600:1f14:abc:1::27]:40000                  │        0 │    0.001 │ no      │",
        "│ [2600:1f14:abc:2::103]:80                    │          │          │         │",
        "│ [2600:1f14:abc:3::3]:31468                   │          │          │         │",
        "│ -                                            │          │          │         │",
    ])  # fmt: skip
    i = lines.index("┃ client / called             ┃ kind           ┃ SYN retx ┃ lost (s) ┃")
    assert lines[i + 2 : i + 8] == [
        "│ 10.0.1.5:50000              │ server-reset   │        0 │    0.000 │",
        "│ 10.0.9.9:443                │                │          │          │",
        "├─────────────────────────────┼────────────────┼──────────┼──────────┤",
        "│ [2600:1f14:abc:1::27]:40001 │ unanswered-syn │        1 │    1.000 │",
        "│ [2600:1f14:abc:2::103]:80   │                │          │          │",
        "└─────────────────────────────┴────────────────┴──────────┴──────────┘",
    ]
    wide = lines_of(hairpin(200, "pcap", str(path)).stdout)
    assert long_lines(wide, 200) == []
    assert ("│ [2600:1f14:abc:1::27]:40000 │ [2600:1f14:abc:2::103]:80 │ [2600:1f14:abc:3::3]:31468 │ -       │        0 │"
            "    0.001 │ no      │") in wide  # fmt: skip
    assert "│ [2600:1f14:abc:1::27]:40001 │ [2600:1f14:abc:2::103]:80 │ unanswered-syn │        1 │    1.000 │" in wide


def test_probability_table_with_three_azs_stacks_at_80_columns() -> None:
    b = breakdown(load(ROOT / "examples/three-az-cross-zone.yaml"))
    assert b is not None
    out = {}
    for width in (80, 200):
        con = Console(width=width, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
        con.print(b)
        out[width] = lines_of(con.export_text())
        assert not long_lines(out[width], width) and "…" not in "\n".join(out[width])
    assert out[80][1:9] == [
        "┏━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━┓",
        "┃ caller node ┃        via ┃        via ┃        via ┃ averaged ┃",
        "┃ AZ          ┃ us-east-1a ┃ us-east-1b ┃ us-east-1c ┃ over DNS ┃",
        "┡━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━┩",
        "│ node-a1 *   │      16.7% │      16.7% │      16.7% │    16.7% │",
        "│ us-east-1a  │            │            │            │          │",
        "│ node-a2     │      16.7% │      16.7% │      16.7% │    16.7% │",
        "│ us-east-1a  │            │            │            │          │",
    ]
    assert "via AZ: pinned to the NLB's address in that AZ" in out[80]
    assert out[80][-2:] == ["  - scenario from-cluster (client not pinned): node-a1 averaged over DNS",
                            "    answers: 16.7%"]  # fmt: skip
    assert "┃ caller node ┃ AZ         ┃ in us-east-1a ┃ in us-east-1b ┃ in us-east-1c ┃ over DNS ┃" in out[200]
    assert "│ node-c2     │ us-east-1c │         16.7% │         16.7% │         16.7% │    16.7% │" in out[200]
    assert out[200][-1] == "  - scenario from-cluster (client not pinned): node-a1 averaged over DNS answers: 16.7%"


def test_indented_wraps_under_the_text_not_the_marker() -> None:
    con = Console(width=30, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    con.print(indented("one two three four five six seven eight", 4, "1. "))
    assert lines_of(con.export_text()) == ["    1. one two three four five", "       six seven eight"]


@pytest.mark.parametrize(
    ("path", "first", "summary"),
    [
        ("tests/data/check/gateway/nlb-gateway.yaml",
         "hairpin check: 2 of 2 Service(s) with a load balancer (2 through a Gateway) can time out their in-cluster "
         "callers (shop/TCPRoute/web/web:8080); fixes below",
         "2 Service(s) with a load balancer (2 through a Gateway), 2 at risk, 0 input error(s)"),
        ("tests/data/check/corpus/aws-load-balancer-controller.yaml",
         "hairpin check: 2 of 6 Service(s) with a load balancer can time out their in-cluster callers "
         "(default/echoserver-class-instance); fixes below",
         "6 Service(s) with a load balancer, 2 at risk, 0 input error(s)"),
    ],
    ids=["gateway", "lbc"],
)  # fmt: skip
def test_check_counts_what_it_checked(path: str, first: str, summary: str) -> None:
    r = hairpin(200, "check", path)
    lines = lines_of(r.stdout)
    assert (r.returncode, lines[0]) == (1, first)
    assert summary in lines and "…" not in r.stdout


SWEEP = ("sweep", "--grid", "nodes=1,2", "--grid", "cross_zone=false,true", "--grid", "preserve_client_ip=default,false",
         "--grid", "target_type=instance,ip", "--connections", "50", "--workers", "1")  # fmt: skip
SWEEP_NEXT = (
    "Next: pick the setting with the lowest rate and check it on your scenario: hairpin reproduce --scenario FILE"
)
SWEEP_STACKED = [
    "hairpin sweep: all 16 points agree with the closed form",
    "hairpin sweep over seed: 50 connections a point, seed 0",
    "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━┓",
    "┃                            ┃  timeouts ┃ closed ┃       ┃",
    "┃ point                      ┃ simulated ┃   form ┃ agree ┃",
    "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━┩",
    "│ nodes=1                    │     50/50 │ 100.0% │   yes │",
    "│ cross_zone=false           │    100.0% │        │       │",
    "│ preserve_client_ip=default │           │        │       │",
    "│ target_type=instance       │           │        │       │",
    "├────────────────────────────┼───────────┼────────┼───────┤",
]


@pytest.mark.parametrize("width", [60, 80])
def test_sweep_at_80_and_60_columns_stacks_a_points_settings(width: int) -> None:
    r = hairpin(width, *SWEEP)
    assert (r.returncode, r.stderr) == (0, "")
    lines = lines_of(r.stdout)
    assert "…" not in r.stdout
    # the title is a line of its own (never wrapped at the table's width); only the next step is longer
    assert long_lines(lines, width) == [SWEEP_NEXT]
    assert lines[:11] == SWEEP_STACKED
    assert "│ nodes=1                    │     28/50 │  50.0% │   yes │" in lines
    assert lines[-2:] == ["agree: the simulated rate is within 4 sd of the closed form", SWEEP_NEXT]
    assert len(lines) == 11 + 15 * 5 + 2  # 15 more points of 4 lines and a rule; the note, the next step


def test_sweep_at_200_columns_keeps_one_line_a_point() -> None:
    lines = lines_of(hairpin(200, *SWEEP).stdout)
    assert lines[1:5] == [
        "hairpin sweep over seed: 50 connections a point, seed 0",
        "┏━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━┓",
        "┃ nodes ┃ cross_zone ┃ preserve_client_ip ┃ target_type ┃ timeouts ┃ simulated ┃ closed form ┃ agree ┃",
        "┡━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━┩",
    ]
    assert (
        "│ 1     │ true       │ default            │ instance    │    28/50 │     56.0% │       50.0% │   yes │"
        in lines
    )
    assert len(lines) == 2 + 3 + 16 + 1 + 2  # diagnosis, title; the head; a line a point; the rule; note, next


def test_reproduce_at_60_columns_folds_a_long_rule_instead_of_cutting_it() -> None:
    r = hairpin(60, "reproduce", "--scenario", "examples/etp-local.yaml", "--connections", "20", "--no-fixes")
    assert r.returncode == 0 and "…" not in r.stdout
    lines = lines_of(r.stdout)
    i = lines.index('│   │          │ "ingress-nginx/ingress-nginx-controller:ht│')
    assert lines[i + 1] == '│   │          │ tp" -m tcp -j DNAT --to-destination       │'


def _lab_run() -> tuple[LabRun, LabConnection]:
    real = ["192.168.27.239.44000 > 192.168.168.103.80: Flags [S]"]
    conns = [LabConnection(0, "192.168.27.239:50983", "192.168.21.86:31468", "established", 0.0006, "established"),
             LabConnection(1, "192.168.27.239:44000", "192.168.2.3:31468", "timeout", 3.5075, "established", real,
                           [real[0].replace("[S]", "[S.]")])]  # fmt: skip
    return LabRun(conns, "limit", "kernel"), conns[1]


@pytest.mark.parametrize("width", [60, 80, 200])
def test_lab_run_tables_fit_every_width(width: int) -> None:
    from hairpin.render.lab_text import ConnectionsTable, SequenceTable

    run, shown = _lab_run()
    con = Console(width=width, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    con.print(ConnectionsTable(run, seed(), 2))
    con.print(SequenceTable(shown, "node1"))
    lines = lines_of(con.export_text())
    assert "…" not in "\n".join(lines) and not long_lines(lines, width)
    assert lines[0] == "hairpin lab run: 2 real connections, scenario seed"
    table = {
        60: ["┃   ┃                      ┃ real /      ┃ elapsed ┃",
             "┃ # ┃ client / NLB target  ┃ simulated   ┃ (s)     ┃",
             "┡━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━┩",
             "│ 0 │ 192.168.27.239:50983 │ established │ 0.0006  │",
             "│   │ 192.168.21.86:31468  │ established │         │",
             "│ 1 │ 192.168.27.239:44000 │ timeout     │ 3.5075  │",
             "│   │ 192.168.2.3:31468    │ established │         │"],
        80: ["┃ # ┃ client / NLB target  ┃ real        ┃ elapsed (s) ┃ simulated   ┃",
             "┡━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━┩",
             "│ 0 │ 192.168.27.239:50983 │ established │ 0.0006      │ established │",
             "│   │ 192.168.21.86:31468  │             │             │             │"],
        200: ["┃ # ┃ client               ┃ NLB target          ┃ real        ┃ elapsed (s) ┃ simulated   ┃",
              "┡━━━╇━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━┩",
              "│ 0 │ 192.168.27.239:50983 │ 192.168.21.86:31468 │ established │ 0.0006      │ established │"],
    }[width]  # fmt: skip
    assert lines[2 : 2 + len(table)] == table
    # the capture's packet lines are folded, never cut, and read as text ("[S]" is not markup)
    title = "hairpinned connection 192.168.27.239:44000: first SYN round on node1, capture vs simulation (DIFFERENT)"
    if width == 200:
        assert title in lines
        assert (
            "│ 192.168.27.239.44000 > 192.168.168.103.80: Flags [S] │ 192.168.27.239.44000 > 192.168.168.103.80: Flags [S.] │"
            in lines
        )
    else:  # the title wraps between words at the width, not at the table's
        i = next(i for i, line in enumerate(lines) if line.startswith("hairpinned connection"))
        assert " ".join(lines[i : i + 2]) == title
        last = {60: "│ [S]                        │ [S.]                        │",
                80: "│ 192.168.168.103.80: Flags [S]        │ 192.168.168.103.80: Flags [S.]        │"}[width]  # fmt: skip
        assert last in lines


def test_pcap_title_at_60_columns_wraps_at_the_width_not_the_table() -> None:
    r = hairpin(60, "pcap", "tests/data/pcap/lab-node1.pcap")
    lines = lines_of(r.stdout)
    assert r.returncode == 1 and "…" not in r.stdout
    i = lines.index("hairpinned: SYN-ACK from an address the client did not call,")
    assert lines[i + 1 : i + 3] == [
        "reset by the client",
        "┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━┓",
    ]
