"""Node files (and ``kubectl`` dumps for ``check``) pasted from a terminal with the shell prompt still in them
(hairpin.parsers.pasted): one line with the file and line, exit 2, whichever file and form; never read as data
(``ip route`` counted ``root@node:~# ip route`` as a skipped IPv6 route until 2026-12-02, ``--node DIR`` left such
a file unread, and ``check`` blamed YAML or JSON, lines away)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hairpin import trace as tr
from hairpin.errors import ParseError
from hairpin.parsers import pasted

DATA = Path(__file__).parent / "data" / "trace"
SEED = DATA / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
HINT = "remove it and keep only what the command printed"

PROMPTS = [
    "root@node:~# ip route show table all",  # Debian, Ubuntu
    "[root@ip-192-168-2-3 ~]# ip route show table all",  # Amazon Linux (EKS nodes), RHEL
    "[ec2-user@ip-192-168-2-3 ~]$ sudo ip route",
    "ubuntu@ip-192-168-2-3:/tmp$ ip route",
    "sh-5.2# ip route",  # kubectl debug node/... then chroot /host
    "bash-5.1$ ip route",
    "/ # ip route",  # busybox under kubectl debug
    "$ ip route",
    "$ sudo iptables-save",
    "root@node:~# ",  # a bare prompt after the output
]


def _with(tmp: Path, name: str, text: str) -> Path:
    f = tmp / name
    f.write_text(text)
    return f


@pytest.mark.parametrize("prompt", PROMPTS)
def test_a_prompt_above_the_routes_is_refused_with_its_line(tmp_path: Path, prompt: str) -> None:
    f = _with(tmp_path, "ip-route", prompt + "\n" + (SEED / "ip-route").read_text())
    with pytest.raises(ParseError) as e:
        tr.Node.load(SEED / "iptables-save", f, SEED / "ip-rule", SEED / "ip-addr")
    assert str(e.value) == f"{f}:1: a shell prompt, not the command's output ({prompt!r}): {HINT}"


@pytest.mark.parametrize("which", ["iptables-save", "ip-route", "ip-rule", "ip-addr"])
def test_a_prompt_below_any_file_is_refused_with_its_line(tmp_path: Path, which: str) -> None:
    files = {n: SEED / n for n in ("iptables-save", "ip-route", "ip-rule", "ip-addr")}
    text = (SEED / which).read_text()
    files[which] = _with(tmp_path, which, text + "[root@ip-192-168-2-3 ~]# \n")
    with pytest.raises(ParseError) as e:
        tr.Node.load(files["iptables-save"], files["ip-route"], files["ip-rule"], files["ip-addr"])
    line = len(text.splitlines()) + 1
    assert (
        str(e.value)
        == f"{files[which]}:{line}: a shell prompt, not the command's output ('[root@ip-192-168-2-3 ~]# '): {HINT}"
    )


def test_a_prompt_in_the_other_state_files_is_refused(tmp_path: Path) -> None:
    ss = _with(tmp_path, "ss", "$ ss -ltnu\nNetid State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n")
    ct = _with(tmp_path, "ct", "sh-5.2# conntrack -L\n")
    ipset = _with(tmp_path, "ipset", "root@node:~# ipset save\ncreate KUBE-X hash:ip family inet\n")
    ipvs = _with(tmp_path, "ipvs", "/ # ipvsadm -Sn\n-A -t 10.0.0.1:80 -s rr\n")
    nft = _with(tmp_path, "nft", "$ nft list ruleset\n" + (DATA / "nft-node1.nft").read_text())
    base = (SEED / "iptables-save", SEED / "ip-route", SEED / "ip-rule", SEED / "ip-addr")
    for kw, f, shown in (("sockets_file", ss, "$ ss -ltnu"), ("conntrack_file", ct, "sh-5.2# conntrack -L"),
                         ("ipset_file", ipset, "root@node:~# ipset save"), ("ipvs_file", ipvs, "/ # ipvsadm -Sn"),
                         ("nft_file", nft, "$ nft list ruleset")):  # fmt: skip
        with pytest.raises(ParseError) as e:
            tr.Node.load(*base, **{kw: f})  # type: ignore[arg-type]
        assert str(e.value) == f"{f}:1: a shell prompt, not the command's output ({shown!r}): {HINT}", kw


def test_a_node_directory_names_the_file_under_a_prompt(tmp_path: Path) -> None:
    # found by content: a file whose first line is a prompt was not recognised and so left unread
    for n in ("iptables-save", "ip-rule", "ip-addr"):
        shutil.copy(SEED / n, tmp_path / n)
    f = _with(tmp_path, "node1-routes", "[root@ip-192-168-2-3 ~]# ip route\n" + (SEED / "ip-route").read_text())
    with pytest.raises(ParseError) as e:
        tr.Node.find_all(tmp_path)
    assert (
        str(e.value) == f"{f}:1: a shell prompt, not the command's output ('[root@ip-192-168-2-3 ~]# ip route'): {HINT}"
    )
    # a note that is no node file is still passed over
    f.unlink()
    shutil.copy(SEED / "ip-route", tmp_path / "ip-route")
    _with(tmp_path, "notes.txt", "what I ran:\n$ ip route\n")
    assert sorted(tr.Node.find_all(tmp_path)[0]) == ["addrs", "iptables", "routes", "rules"]


def test_the_cli_gives_one_line_and_exit_2(tmp_path: Path) -> None:
    f = _with(tmp_path, "ip-route", "$ ip route\n" + (SEED / "ip-route").read_text())
    cmd = [sys.executable, "-m", "hairpin.cli.main", "trace", "--iptables-save", str(SEED / "iptables-save")]
    r = subprocess.run([*cmd, "--routes", str(f), SYN], capture_output=True, text=True, check=False)
    assert (r.returncode, r.stdout, r.stderr) == (
        2,
        "",
        f"hairpin: error: {f}:1: a shell prompt, not the command's output ('$ ip route'): {HINT}\n",
    )


@pytest.mark.parametrize("line", [
    "# Generated by iptables-save v1.8.9 (nf_tables) on Wed Dec  2 15:44:59 2026",  # iptables-save's own comment
    "# iptables-save",  # a root prompt without user@host is a comment to every reader: left to them
    '-A KUBE-SERVICES -m comment --comment "x@y:~# $ ip route" -j RETURN',
    "veth0@if5        UP             192.168.2.3/19",  # ip -br addr: a device and its peer
    "\t\tmeta l4proto tcp ip daddr 10.0.0.1 # comment",
    "$HOME is not a prompt",
])  # fmt: skip
def test_lines_that_are_not_prompts(line: str) -> None:
    assert pasted.find_prompt("x\n" + line + "\n") is None


def test_a_word_with_a_colon_is_no_ipv6_route(tmp_path: Path) -> None:
    # "Warning: ..." in an `ip route` paste was counted as a skipped IPv6 route; an address still is one
    f = _with(tmp_path, "ip-route", "Warning: this is not a route\n" + (SEED / "ip-route").read_text())
    with pytest.raises(ParseError) as e:
        tr.Node.load(SEED / "iptables-save", f)
    assert str(e.value) == f"{f}:1: bad prefix 'Warning:'"
    f.write_text("fe80::/64 dev eth0 proto kernel metric 256 pref medium\n" + (SEED / "ip-route").read_text())
    assert tr.Node.load(SEED / "iptables-save", f).forms["routes"] == f"{f}: ip route (1 IPv6 routes skipped)"


# conntrack -L in the seed's node1 built in a network namespace (Linux 6.18.44, conntrack-tools 1.4.7), after two
# connections from the client pod to the NodePort
LIVE_CT = (
    "tcp      6 9 CLOSE src=192.168.27.239 dst=192.168.2.3 sport=41001 dport=31468 src=192.168.49.70 dst=192.168.2.3 "
    "sport=80 dport=27349 [ASSURED] mark=128 use=1\n"
    "tcp      6 9 CLOSE src=192.168.27.239 dst=192.168.2.3 sport=41002 dport=31468 src=192.168.39.2 dst=192.168.2.3 "
    "sport=80 dport=59451 [ASSURED] mark=128 use=1\n"
)
ACK = "tcp 192.168.27.239:41001 > 192.168.2.3:31468 ack in enie348bef9edc"


def test_two_conntrack_listings_pasted_together_are_refused(tmp_path: Path) -> None:
    # the same connection twice, or a later listing's entry for the same tuple with another endpoint: the kernel
    # holds one entry per tuple, and which one to trust is not in the files (until 2026-12-02 the later one was
    # used without a word)
    base = (SEED / "iptables-save", SEED / "ip-route", SEED / "ip-rule", SEED / "ip-addr")
    f = _with(tmp_path, "ct", LIVE_CT)
    t = tr.trace(tr.Node.load(*base, conntrack_file=f), *tr.parse_packet(ACK))
    assert [str(o.legs[0].out_packet) for o in t.outcomes] == ["tcp 192.168.2.3:27349 > 192.168.49.70:80 ACK"]
    other = LIVE_CT.splitlines(keepends=True)[0].replace("src=192.168.49.70", "src=192.168.39.2")
    for text, line in ((LIVE_CT + LIVE_CT, 3), (other + LIVE_CT, 2)):
        f.write_text(text)
        with pytest.raises(ParseError) as e:
            tr.Node.load(*base, conntrack_file=f)
        assert str(e.value) == (
            f"{f}:{line}: tuple src=192.168.27.239 dst=192.168.2.3 sport=41001 dport=31468 is also line 1's: the "
            "kernel holds each tuple in one entry (nf_conntrack_confirm), so one conntrack -L listing never shows it "
            "twice (two listings pasted together?)"
        )
    # the same tuple in two conntrack zones is two entries
    f.write_text(LIVE_CT + LIVE_CT.splitlines(keepends=True)[0].replace(" mark=128", " mark=128 zone=1"))
    assert tr.Node.load(*base, conntrack_file=f).forms["conntrack"] == f"{f}: conntrack -L (3 tcp/udp entries)"


@pytest.mark.parametrize(("prompt", "where"), [
    ("$ kubectl get nodes,pods,svc,endpointslices -A -o yaml", "above"),
    ("[root@ip-192-168-2-3 ~]# kubectl get svc -A -o json", "above"),  # was "not valid JSON: Expecting value"
    ("user@laptop:~$ ", "below"),  # was "not valid YAML: could not find expected ':'"
])  # fmt: skip
def test_check_names_a_prompt_pasted_with_a_dump(tmp_path: Path, prompt: str, where: str) -> None:
    dump = (Path(__file__).parent / "data" / "check" / "seed-dump.yaml").read_text()
    f = _with(tmp_path, "dump.yaml", f"{prompt}\n{dump}" if where == "above" else f"{dump}{prompt}\n")
    line = 1 if where == "above" else len(dump.splitlines()) + 1
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "check", str(f)], capture_output=True, text=True,
                       check=False)  # fmt: skip
    assert (r.returncode, r.stderr.splitlines()) == (2, [
        f"hairpin: error: {f}:{line}: a shell prompt, not the command's output ({prompt!r}): {HINT}",
        f"hairpin: error: {f}: no Kubernetes objects found (--allow-empty accepts that)"])  # fmt: skip
    # a dump that reads is not searched for prompts: a column-0 line like one inside a block scalar is data
    f.write_text(
        dump.replace("  kind: Node\n", "  kind: Node\n  annotations:\n    note: |\n      $ kubectl get nodes\n", 1)
    )
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "check", str(f)], capture_output=True, text=True,
                       check=False)  # fmt: skip
    assert r.returncode == 1, r.stderr


def test_two_nft_listings_pasted_together_are_refused(tmp_path: Path) -> None:
    # `nft list ruleset` twice, the second with another endpoint: the later table was used without a word until
    # 2026-12-02; nft lists each table once
    nft = (DATA / "nft-node1.nft").read_text()
    f = _with(tmp_path, "nft", nft + nft.replace("192.168.39.2", "192.168.39.22"))
    with pytest.raises(ParseError) as e:
        tr.Node.load(None, SEED / "ip-route", SEED / "ip-rule", SEED / "ip-addr", nft_file=f)
    first = next(i for i, line in enumerate(nft.splitlines(), 1) if line.startswith("table ip kube-proxy"))
    second = len(nft.splitlines()) + first
    assert str(e.value) == (
        f"{f}:{second}: table ip kube-proxy again (first at line {first}): nft list ruleset lists each table once (two "
        "listings pasted together?)"
    )
    doc = json.loads((DATA / "nft-node1.json").read_text())
    doc["nftables"] += doc["nftables"][1:]
    f.write_text(json.dumps(doc))
    with pytest.raises(ParseError) as e:
        tr.Node.load(None, SEED / "ip-route", SEED / "ip-rule", SEED / "ip-addr", nft_file=f)
    assert str(e.value) == (
        f"{f}: nft -j entry 53: table ip kube-proxy again (entry 2): nft -j list ruleset lists each table once (two "
        "listings pasted together?)"
    )


def test_two_ipvsadm_listings_pasted_together_are_refused() -> None:
    # the IPVS example's node-a table (hairpin scenario nodes examples/ipvs-mode.yaml), twice, the second with
    # another real server: the later service replaced the first without a word until 2026-12-02
    from hairpin.parsers import ipvsadm

    sn = (
        "-A -t 10.2.0.10:30080 -s rr\n-a -t 10.2.0.10:30080 -r 10.2.0.201:8080 -m -w 1\n"
        "-a -t 10.2.0.10:30080 -r 10.2.2.201:8080 -m -w 1\n"
    )
    assert [len(vs.dests) for vs in ipvsadm.parse(sn, "ipvs").services.values()] == [2]
    with pytest.raises(ParseError) as e:
        ipvsadm.parse(sn + sn.replace("10.2.2.201", "10.2.2.222"), "ipvs")
    assert str(e.value) == (
        "ipvs:4: virtual server tcp 10.2.0.10:30080 again: the kernel holds it once (ip_vs_ctl.c: EEXIST), so one "
        "ipvsadm listing never shows it twice (two listings pasted together?)"
    )
    with pytest.raises(ParseError) as e:
        ipvsadm.parse(sn + sn.splitlines(keepends=True)[-1], "ipvs")
    assert str(e.value) == (
        "ipvs:4: real server 10.2.2.201:8080 of tcp 10.2.0.10:30080 again: the kernel holds it once (ip_vs_ctl.c: "
        "EEXIST), so one ipvsadm listing never shows it twice (two listings pasted together?)"
    )
    ln = "TCP  10.2.0.10:30080 rr\n  -> 10.2.0.201:8080              Masq    1      0          0\n"
    with pytest.raises(ParseError) as e:
        ipvsadm.parse(ln + ln, "ipvs")
    assert str(e.value).startswith("ipvs:3: virtual server tcp 10.2.0.10:30080 again: ")


def test_a_route_file_that_lost_a_pod_route_is_warned(tmp_path: Path) -> None:
    # `ip route` of the seed's node1 without the client pod's route (`192.168.27.239 dev enie348bef9edc scope
    # link`): its SYN-ACK then leaves by the default route, the asymmetric return is gone, and until 2026-12-02
    # nothing said the file looked cut; ip rule still holds the VPC CNI's rule for that pod
    lines = (SEED / "ip-route").read_text().splitlines(keepends=True)
    assert lines[0].startswith("192.168.27.239 dev enie348bef9edc")
    f = _with(tmp_path, "ip-route", "".join(lines[1:]))
    t = tr.trace(tr.Node.load(SEED / "iptables-save", f, SEED / "ip-rule", SEED / "ip-addr"), *tr.parse_packet(SYN))
    assert f"{SEED / 'ip-rule'}:2: '512: from all to 192.168.27.239 lookup main' sends packets for 192.168.27.239 " \
        f"to table main, which has no route to 192.168.27.239 in {f}: the AWS VPC CNI adds the two together for each " \
        "pod (the route to its host veth), so the route file looks cut (a paste that lost lines?); packets for " \
        "192.168.27.239 take table main's other routes" in t.warnings  # fmt: skip
    whole = tr.trace(tr.Node.load(*(SEED / n for n in ("iptables-save", "ip-route", "ip-rule", "ip-addr"))),
                     *tr.parse_packet(SYN))  # fmt: skip
    assert not [w for w in whole.warnings if "looks cut" in w]
