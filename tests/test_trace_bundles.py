"""Bundles that are not one node's whole state, as users assemble them: a tarball of several nodes' directories,
one node's addresses beside another's routes, a route dump with the VPC CNI's tables but no ``ip rule``; and the
warnings of a tarball's files naming BUNDLE:MEMBER.  Each is refused in one line (exit 2) or warned about,
never traced as if it were one node."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hairpin import trace as tr

SEED = Path(__file__).parent / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
NAMES = ("iptables-save", "ip-route", "ip-rule", "ip-addr")
#: the seed's node2 (``hairpin scenario nodes seed``): another node of the same cluster
NODE2_ADDR = "1: eth0    inet 192.168.21.86/19 scope global eth0\\       valid_lft forever preferred_lft forever\n"
NODE2_ROUTE = ("192.168.0.0/19 dev eth0 proto kernel scope link src 192.168.21.86 \n"
               "default via 192.168.0.1 dev eth0 \n"
               "local 192.168.21.86 dev eth0 table local proto kernel scope host src 192.168.21.86 \n")  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          check=False, timeout=120)  # fmt: skip


def tgz(path: Path, members: list[tuple[str, str]]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in members:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return path


def seed_files() -> dict[str, str]:
    return {n: (SEED / n).read_text() for n in NAMES}


def test_a_tarball_of_several_nodes_is_refused_not_read_as_one(tmp_path: Path) -> None:
    """`tar czf nodes.tgz nodes/` of two nodes: each name was taken from whichever node came first, so node2's
    routes and node1's rules were traced as one node (here: 'every reply returns the way its request came',
    exit 0, no warning)."""
    node1 = seed_files()
    node2 = {**node1, "ip-route": NODE2_ROUTE, "ip-addr": NODE2_ADDR}
    bundle = tgz(tmp_path / "nodes.tgz", [(f"nodes/node2/{n}", node2[n]) for n in NAMES]
                 + [(f"nodes/node1/{n}", node1[n]) for n in NAMES])  # fmt: skip
    res = run("trace", "--node", str(bundle), "--reply", SYN)
    assert (res.returncode, res.stdout, res.stderr) == (
        2, "", f"hairpin: error: {bundle}: two members named iptables-save (nodes/node2/iptables-save and "
               "nodes/node1/iptables-save): trace reads one node's files, each once (a tarball of several nodes? "
               "give one node's directory or tarball)\n")  # fmt: skip
    one = tgz(tmp_path / "node1.tgz", [(f"./{n}", node1[n]) for n in NAMES])  # hairpin collect's own layout
    assert run("trace", "--node", str(one), "--reply", SYN).returncode == 1  # the seed's asymmetric return


def test_one_nodes_addresses_beside_anothers_routes_are_refused(tmp_path: Path) -> None:
    """node1's ip addr with node2's `ip route show table all`: the local table holds none of the listed addresses,
    which one node's listings never show (the kernel adds a local route per address).  It was traced with three
    warnings under a confident first line."""
    node = tmp_path / "mixed"
    node.mkdir()
    for n, text in {**seed_files(), "ip-route": NODE2_ROUTE}.items():
        (node / n).write_text(text)
    res = run("trace", "--node", str(node), "--reply", SYN)
    assert (res.returncode, res.stdout, res.stderr) == (
        2, "", f"hairpin: error: {node}/ip-addr:2: no address here (192.168.2.3 on eth0) is in the local table of "
               f"{node}/ip-route (192.168.21.86 on eth0), but the kernel gives every address of the node a local "
               "route: these are two nodes' files; give one node's (hairpin collect saves them together)\n")  # fmt: skip
    bundle = tgz(tmp_path / "mixed.tgz", [(n, (node / n).read_text()) for n in NAMES])
    res = run("trace", "--node", str(bundle), SYN)  # the other file in the message is named BUNDLE:MEMBER too
    assert res.returncode == 2 and res.stderr.startswith(
        f"hairpin: error: {bundle}:ip-addr:2: no address here (192.168.2.3 on eth0) is in the local table of "
        f"{bundle}:ip-route (192.168.21.86 on eth0), ")  # fmt: skip


def test_addresses_sharing_one_with_the_local_table_are_still_only_warned(tmp_path: Path) -> None:
    """One address in common (a secondary address added between the two listings): the kernel's local table
    decides, as before; not refused."""
    f = tmp_path / "ip-addr"
    f.write_text((SEED / "ip-addr").read_text() + NODE2_ADDR.replace("1: eth0", "3: eth1").replace("eth0\\", "eth1\\"))
    n = tr.Node.load(SEED / "iptables-save", SEED / "ip-route", SEED / "ip-rule", f)
    assert n.routing.warnings == [f"{f}:3: 192.168.21.86/19 on eth1 is not in the local routing table "
                                  f"({SEED / 'ip-route'}): the kernel does not treat it as local; left out"]  # fmt: skip


ENI2_ROUTE = (SEED / "ip-route").read_text() + (
    "192.168.7.44 dev enib00000000001 scope link \n"
    "default via 192.168.0.1 dev eth1 table 2 \n"
    "192.168.0.1 dev eth1 table 2 scope link \n"
    "local 192.168.5.9 dev eth1 table local proto kernel scope host src 192.168.5.9 \n")  # fmt: skip
ENI2_RULE = (SEED / "ip-rule").read_text().replace("32766:", "1536:\tfrom 192.168.7.44 lookup 2\n32766:")
ENI2_ADDR = (SEED / "ip-addr").read_text() + (
    "3: eth1    inet 192.168.5.9/19 brd 192.168.31.255 scope global eth1\\       valid_lft forever\n")  # fmt: skip
FROM_ENI2_POD = "tcp 192.168.7.44:40000 > 192.168.168.103:80 syn in enib00000000001"


def test_no_ip_rule_beside_the_vpc_cnis_tables_is_warned(tmp_path: Path) -> None:
    """A pod on a secondary ENI leaves by eth1 through the VPC CNI's `1536: from POD lookup 2`; without the ip
    rule file the kernel's default rules never look up table 2 and the packet leaves by eth0, which was said
    nowhere."""
    node = tmp_path / "node"
    node.mkdir()
    (node / "iptables-save").write_text((SEED / "iptables-save").read_text())
    (node / "ip-route").write_text(ENI2_ROUTE)
    (node / "ip-addr").write_text(ENI2_ADDR)
    (node / "ip-rule").write_text(ENI2_RULE)
    res = run("trace", "--node", str(node), "--format", "json", FROM_ENI2_POD)
    doc = json.loads(res.stdout)
    assert (doc["warnings"], doc["outcomes"][0]["legs"][0]["out"]["iface"]) == ([], "eth1")
    (node / "ip-rule").unlink()
    res = run("trace", "--node", str(node), "--format", "json", FROM_ENI2_POD)
    doc = json.loads(res.stdout)
    assert doc["outcomes"][0]["legs"][0]["out"]["iface"] == "eth0"
    assert doc["warnings"] == [
        f"{node}/ip-route:10: no ip rule file: the kernel's default rules are assumed (local, main, default), so "
        "table 2 here is never looked up; the AWS VPC CNI sends a secondary ENI's pods to its table with `from POD "
        "lookup N` rules, without which their packets are traced by table main's routes instead: give `ip -4 rule "
        "show` (--rules FILE; hairpin collect saves it)"]  # fmt: skip
    # the seed's own node, no table but main and local: nothing to say
    n = tr.Node.load(SEED / "iptables-save", SEED / "ip-route", None, SEED / "ip-addr")
    assert n.routing.warnings == []


def test_a_tarballs_warnings_name_its_members_not_the_temporary_copy(tmp_path: Path) -> None:
    """Warnings named /tmp/NAME.tgz.XXXXXXXX/ip-route, a copy removed when hairpin exits (errors and the 'read'
    lines already named BUNDLE:MEMBER)."""
    bundle = tgz(tmp_path / "eni2.tgz", [("iptables-save", (SEED / "iptables-save").read_text()),
                                         ("ip-route", ENI2_ROUTE), ("ip-addr", ENI2_ADDR)])  # fmt: skip
    res = run("trace", "--node", str(bundle), FROM_ENI2_POD)
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert lines[lines.index("warnings (1):") + 1].startswith(
        f"  warning: {bundle}:ip-route:10: no ip rule file: ")  # fmt: skip
    assert "/tmp" not in res.stdout.replace(str(tmp_path), "")


def test_pcap_reads_every_capture_of_a_tarball_of_several_nodes(tmp_path: Path) -> None:
    """node1/cap.pcap and node2/cap.pcap: the second was left out without a word (one capture per base name)."""
    from hairpin.collect import capture_files

    pcap = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("node2/cap.pcap", "node1/cap.pcap", "node1/other.pcap"):
            info = tarfile.TarInfo(name)
            info.size = len(pcap)
            tar.addfile(info, io.BytesIO(pcap))
    bundle = tmp_path / "caps.tgz"
    bundle.write_bytes(buf.getvalue())
    (tmp_path / "w").mkdir()
    got = capture_files(bundle, tmp_path / "w")
    assert [(p.name, shown) for p, shown in got] == [
        ("member-0", f"{bundle}:node1/cap.pcap"), ("member-1", f"{bundle}:node2/cap.pcap"),
        ("other.pcap", f"{bundle}:other.pcap")]  # fmt: skip


def test_collect_run_into_a_used_directory_removes_the_files_it_did_not_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """`collect --run --out DIR` into a directory of an earlier run (another node, or before kube-proxy moved to
    iptables mode) left that run's nft-ruleset and conntrack beside this run's files, and trace read them as one
    node; the printed script removes them (`|| rm -f NAME`), and so does --run now, saying so."""
    from hairpin import collect
    from hairpin.cli.main import main

    out = tmp_path / "node1"
    out.mkdir()
    for name in ("nft-ruleset", "conntrack", "iptables-save", "notes.txt"):
        (out / name).write_text("an earlier run's\n")
    now = {n: (SEED / n).read_bytes() for n in NAMES}
    monkeypatch.setattr(collect, "run_commands", lambda: dict(now))
    with pytest.raises(SystemExit) as e:
        main(["collect", "--run", "--out", str(out)])
    assert e.value.code in (0, None)
    assert sorted(p.name for p in out.iterdir()) == sorted([*NAMES, "notes.txt"])
    assert (out / "iptables-save").read_bytes() == now["iptables-save"]
    err = capsys.readouterr().err.splitlines()
    assert [ln for ln in err if ln.startswith("removed ")] == [
        f"removed {out}/nft-ruleset (an earlier run's; nft gave none this time: missing, failed or printed nothing)",
        f"removed {out}/conntrack (an earlier run's; conntrack gave none this time: missing, failed or printed "
        "nothing)"]  # fmt: skip


def test_another_nodes_rules_beside_these_routes_are_warned(tmp_path: Path) -> None:
    """node1's iptables-save beside node2's routes and addresses: kube-proxy's rules are nearly the same on every
    node, but the VPC CNI's SNAT rule names its own node's primary address (192.168.2.3), which node2 lacks."""
    node = tmp_path / "node2"
    node.mkdir()
    (node / "iptables-save").write_text((SEED / "iptables-save").read_text())
    (node / "ip-route").write_text(NODE2_ROUTE)
    (node / "ip-addr").write_text(NODE2_ADDR)
    res = run("trace", "--node", str(node), "--format", "json", "tcp 192.168.27.239:49134 > 192.168.21.86:31468 syn "
              "in eth0")  # fmt: skip
    assert json.loads(res.stdout)["warnings"] == [
        f"{node}/iptables-save:36: the AWS VPC CNI's SNAT rule rewrites to 192.168.2.3, the primary address of the "
        f"node it runs on, but 192.168.2.3 is none of this node's addresses ({node}/ip-route and the address file): "
        "the rules look like another node's; give one node's files (hairpin collect saves them together)"]  # fmt: skip
    assert tr.Node.load(SEED / "iptables-save", SEED / "ip-route").ruleset.warnings == []  # one node's: nothing said


def test_a_second_file_of_a_kind_in_a_node_directory_is_said_not_read(tmp_path: Path) -> None:
    """Another node's route dump copied in beside this node's (any name: files are found by content too) is not
    read, and the trace says so first; given with --routes, the option's file is read and nothing is said."""
    node = tmp_path / "node1"
    node.mkdir()
    for name, text in seed_files().items():
        (node / name).write_text(text)
    (node / "route-node2").write_text(NODE2_ROUTE)
    got = run("trace", "--node", str(node), SYN, "--format", "json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["warnings"][0] == (
        f"{node}/route-node2: routes too, beside ip-route, which is read: not read (a directory gives one node's "
        "files, one of each kind)"
    )
    unread: list[tuple[str, str]] = []
    assert tr.Node.find_all(node, 4, unread)[0]["routes"] == node / "ip-route" and [k for k, _ in unread] == ["routes"]
    given = run("trace", "--node", str(node), "--routes", str(node / "ip-route"), SYN, "--format", "json")
    assert given.returncode == 0 and not any("route-node2" in w for w in json.loads(given.stdout)["warnings"])


def test_a_node_file_that_is_not_a_regular_file_is_said_not_read(tmp_path: Path) -> None:
    """``ip-rule`` as a FIFO (it would block a reader forever) or a link to nothing is not read, and said; the
    trace goes on with the kernel's default rules, and a regular ``ip-rule.txt`` beside it is read."""
    node = tmp_path / "node1"
    node.mkdir()
    for name, text in seed_files().items():
        if name != "ip-rule":
            (node / name).write_text(text)
    os.mkfifo(node / "ip-rule")
    (node / "rules").symlink_to(tmp_path / "absent")
    got = run("trace", "--node", str(node), SYN, "--format", "json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["warnings"][:2] == [
        f"{node}/ip-rule: not a regular file (a FIFO): not read",
        f"{node}/rules: not a regular file (a link to nothing): not read",
    ]
    assert "rules" not in json.loads(got.stdout)["inputs"]
    (node / "ip-rule.txt").write_text(seed_files()["ip-rule"])
    unread: list[tuple[str, str]] = []
    assert tr.Node.find_all(node, 4, unread)[0]["rules"] == node / "ip-rule.txt"
    assert unread == [("rules", f"{node}/ip-rule: not a regular file (a FIFO): not read")]
    given = run("trace", "--node", str(node), "--rules", str(node / "ip-rule.txt"), SYN, "--format", "json")
    assert not any("regular" in w for w in json.loads(given.stdout)["warnings"])
