"""An output written where its own command reads its input from: ``trace --node DIR -o DIR/...``, ``pcap DIR -o
DIR/CAPTURE``, ``scenario from-cluster DIR -o DIR/x.yaml``.  Each is refused in one line, exit 2, before anything
is read or written: the run would replace a file it reads, or the next run on DIR would read the output as input.
(``check DIR -o DIR/x.yaml``: tests/test_check_read_back.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hairpin.cli.main import main

DATA = Path(__file__).parent / "data"
SEED_NODE = DATA / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
CAPTURE = DATA / "pcap" / "lab-node1.pcap"
DUMP = DATA / "check" / "seed-dump.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture
def node(tmp_path: Path) -> Path:
    d = tmp_path / "node1"
    shutil.copytree(SEED_NODE, d)
    return d


def in_node(output: Path | str, node: Path | str) -> str:
    return (f"hairpin: error: {output}: cannot write: inside {node}, given to --node: trace reads every file in it "
            "to find the node's state (write it elsewhere)\n")  # fmt: skip


@pytest.mark.parametrize(("option", "name"), [
    ("-o", "ip-route"),  # one of the node's files: it was replaced by the text, and the next trace failed
    ("-o", "trace.txt"),
    ("--svg", "trace.svg"),
    ("--html", "trace.html"),
])  # fmt: skip
def test_trace_refuses_an_output_in_the_node_directory(
    node: Path, capsys: pytest.CaptureFixture[str], option: str, name: str
) -> None:
    before = tree(node)
    out = node / name
    assert run(capsys, "trace", "--node", str(node), SYN, option, str(out)) == (2, "", in_node(out, node))
    assert tree(node) == before


def test_trace_compares_real_paths(node: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "link"
    link.symlink_to(node)
    before = tree(node)
    out = link / "trace.json"  # the directory through a link to it
    assert run(capsys, "trace", "--node", str(node), SYN, "--format", "json", "-o", str(out)) == (
        2, "", in_node(out, node))  # fmt: skip
    out = node / "sub" / ".." / "trace.json"
    (node / "sub").mkdir()
    assert run(capsys, "trace", "--node", str(link), SYN, "-o", str(out)) == (2, "", in_node(out, link))
    assert tree(node) == before


def test_trace_writes_beside_or_below_the_node_directory(
    node: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """trace reads the directory's own files, not its sub-directories', and a FIFO or device is never read."""
    (node / "out").mkdir()
    code, first, err = run(capsys, "trace", "--node", str(node), SYN)
    assert (code, err) == (0, "")
    for out in (node / "out" / "trace.txt", tmp_path / "trace.txt"):
        assert run(capsys, "trace", "--node", str(node), SYN, "-o", str(out)) == (0, "", f"wrote {out}\n")
        assert out.read_text().splitlines()[0] == first.splitlines()[0]
    assert run(capsys, "trace", "--node", str(node), SYN, "-o", "/dev/null") == (0, "", "wrote /dev/null\n")
    assert run(capsys, "trace", "--node", str(node), SYN) == (0, first, "")


@pytest.fixture
def captures(tmp_path: Path) -> Path:
    d = tmp_path / "caps"
    (d / "node1").mkdir(parents=True)
    shutil.copy(CAPTURE, d / "node1" / "eth0.pcap")
    return d


def replaced(output: Path, given: Path) -> str:
    return (f"hairpin: error: {output}: cannot write: a capture inside {given}, given as input: the report would "
            "replace it (write it elsewhere)\n")  # fmt: skip


@pytest.mark.parametrize("option", ["-o", "--html", "--svg"])
def test_pcap_refuses_to_replace_a_capture_of_its_directory(
    captures: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    out = captures / "node1" / "eth0.pcap"
    assert run(capsys, "pcap", str(captures), option, str(out)) == (2, "", replaced(out, captures))
    assert out.read_bytes() == CAPTURE.read_bytes()
    link = captures / "here.pcap"  # a link the walk reads through, as the write would replace its target
    link.symlink_to(out)
    assert run(capsys, "pcap", str(captures), "--format", "json", "-o", str(link)) == (2, "", replaced(link, captures))
    assert out.read_bytes() == CAPTURE.read_bytes() and link.is_symlink()


def test_pcap_writes_a_report_into_its_directory_and_skips_it_next_time(
    captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, first, err = run(capsys, "pcap", str(captures), "--format", "json")
    assert (code, err) == (1, "")
    out = captures / "report.json"
    assert run(capsys, "pcap", str(captures), "--format", "json", "-o", str(out)) == (1, "", f"wrote {out}\n")
    assert out.read_text() == first
    assert run(capsys, "pcap", str(captures), "--format", "json") == (1, first, "")


def test_scenario_from_cluster_refuses_a_scenario_its_directory_would_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "k8s"
    d.mkdir()
    shutil.copy(DUMP, d / "seed-dump.yaml")
    out = d / "scenario.yaml"
    code, stdout, err = run(capsys, "scenario", "from-cluster", "--service", "nginx-demo/service-nginx-demo", str(d),
                            "-o", str(out))  # fmt: skip
    assert (code, stdout) == (2, "")
    assert err == (f"hairpin: error: {out}: cannot write: inside {d}, given as input: building from it again would "
                   "read the scenario as a manifest (write it elsewhere, or to a name not ending in .yaml, .yml or "
                   ".json)\n")  # fmt: skip
    assert sorted(p.name for p in d.iterdir()) == ["seed-dump.yaml"]
    elsewhere = tmp_path / "scenario.yaml"
    code, _, err = run(capsys, "scenario", "from-cluster", "--service", "nginx-demo/service-nginx-demo", str(d),
                       "-o", str(elsewhere))  # fmt: skip
    assert code == 0 and f"wrote {elsewhere} (3 nodes, 4 pods, client hairpin-client)\n" in err


def test_trace_in_the_node_directory_itself(node: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """`hairpin collect` prints `hairpin trace --node . PACKET` to run where the files are: a bare name is there."""
    monkeypatch.chdir(node)
    before = tree(node)
    assert run(capsys, "trace", "--node", ".", SYN, "-o", "trace.txt") == (2, "", in_node("trace.txt", "."))
    assert tree(node) == before
