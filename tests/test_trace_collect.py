"""hairpin collect (the commands, the kubectl debug one-liner) and the bundles trace --node reads: a tarball and a
Microsoft Retina capture (layout: microsoft/retina pkg/capture/provider/network_capture_unix.go)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from hairpin.collect import COMMANDS, debug_one_liner, script

SEED = Path(__file__).parent / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_collect_prints_the_read_only_commands_and_the_one_liner() -> None:
    res = run("collect", "--node", "ip-192-168-2-3")
    assert res.returncode == 0 and res.stderr == ""
    lines = res.stdout.splitlines()
    assert lines[:5] == ["# run on the node as root (read-only); then: hairpin trace --node . PACKET",
                         "iptables-save > iptables-save.out 2> iptables-save.err; r=$?; { grep -v \"^#\" "
                         "iptables-save.err >&2; grep \"^#\" iptables-save.err; cat iptables-save.out; } > "
                         "iptables-save; rm -f iptables-save.out iptables-save.err; test $r = 0",
                         "ip -4 route show table all > ip-route",
                         "ip -4 rule show > ip-rule", "ip -d addr show > ip-addr"]  # fmt: skip
    assert "nft list ruleset > nft-ruleset 2>/dev/null || rm -f nft-ruleset" in lines
    assert lines[-1] == debug_one_liner("ip-192-168-2-3")
    assert lines[-1].startswith("kubectl debug node/ip-192-168-2-3 -q -i --profile=sysadmin --image=busybox -- "
                                "sh -c 'd=$(mktemp -d) && cd \"$d\" && { chroot /host iptables-save > "
                                "iptables-save.out 2> iptables-save.err; r=$?; ")
    assert lines[-1].endswith("tar czf - . && cd / && rm -rf \"$d\"' > ip-192-168-2-3.tgz")
    assert run("collect").stdout == script()
    res = run("collect", "--out", "x.tgz")
    assert (res.returncode, res.stderr) == (2, "hairpin: error: --out needs --run (without it, collect only prints "
                                               "the commands)\n")  # fmt: skip


def tgz(files: dict[str, str], prefix: str = "./") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def outcomes_of(res: subprocess.CompletedProcess[str]) -> list[tuple[str, str, str]]:
    assert res.returncode == 1, res.stderr  # the seed's node: asymmetric returns are a finding
    doc = json.loads(res.stdout)
    return [(o["probability"], o["legs"][0]["out"]["packet"], o["legs"][1]["out"]["iface"]) for o in doc["outcomes"]]


WANT = [("715827883/2147483648", "tcp 192.168.2.3:56364 > 192.168.39.2:80 SYN", "enie348bef9edc"),
        ("1431655765/4294967296", "tcp 192.168.2.3:56364 > 192.168.49.70:80 SYN", "enie348bef9edc"),
        ("1431655765/4294967296", "tcp 192.168.2.3:56364 > 192.168.16.142:80 SYN", "enie348bef9edc")]  # fmt: skip


def test_trace_reads_a_tarball(tmp_path: Path) -> None:
    files = {n: (SEED / n).read_text() for n in ("iptables-save", "ip-route", "ip-rule", "ip-addr")}
    bundle = tmp_path / "node1.tgz"
    bundle.write_bytes(tgz(files, "node1/"))
    assert outcomes_of(run("trace", "--node", str(bundle), "--reply", "--format", "json", SYN)) == WANT
    bad = tmp_path / "junk.tgz"
    bad.write_bytes(b"not a tarball")
    res = run("trace", "--node", str(bad), SYN)
    assert res.returncode == 2 and res.stderr.startswith(f"hairpin: error: {bad}: neither a directory nor a readable "
                                                         "tarball")  # fmt: skip


def retina_file(sections: list[tuple[str, str, str]]) -> str:
    """A Retina metadata file: Summary, one 'COMMAND(description)' line each, Execute, each command and output."""
    out = "Summary:\n\n" + "".join(f"{cmd}({desc})\n" for cmd, desc, _ in sections) + "\nExecute:\n\n"
    return out + "".join(f"{cmd}\n\n{text}" for cmd, _, text in sections)


def test_trace_reads_a_retina_capture(tmp_path: Path) -> None:
    addrs = [{"ifindex": 1, "ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
             {"ifindex": 2, "ifname": "eth0", "addr_info": [{"family": "inet", "local": "192.168.2.3",
                                                             "prefixlen": 19}]}]  # fmt: skip
    ip_resources = retina_file([
        ("/usr/sbin/ip -d -j addr show", "IP address configuration", json.dumps(addrs) + "\n"),
        ("/usr/sbin/ip -d -j neighbor show", "IP neighbor status", "[]\n"),
        ("/usr/sbin/ip rule list", "Policy routing list", (SEED / "ip-rule").read_text()),
        ("/usr/sbin/ip route show table all", "Routes of all route tables",
         (SEED / "ip-route").read_text() + "fe80::/64 dev eth0 proto kernel metric 256 pref medium\n"),
    ])  # fmt: skip
    iptables_rules = retina_file([
        ("/usr/sbin/iptables-save", "IPtables rules", (SEED / "iptables-save").read_text()),
        ("/usr/sbin/iptables -vnx -L", "IPtables rules and stats in filter table", "Chain INPUT (policy ACCEPT)\n"),
    ])  # fmt: skip
    name = "capture-1-ip-192-168-2-3-20261201T093000UTC"
    bundle = tmp_path / f"{name}.tar.gz"
    bundle.write_bytes(tgz({"ip-resources.txt": ip_resources, "iptables-rules.txt": iptables_rules,
                            f"{name}.pcap": "", "socket-stats.txt": "Summary:\n"}, f"{name}/"))  # fmt: skip
    res = run("trace", "--node", str(bundle), "--reply", "--format", "json", SYN)
    assert outcomes_of(res) == WANT
    inputs = json.loads(res.stdout)["inputs"]
    assert {k: v.rpartition(": ")[2] for k, v in inputs.items()} == {
        "iptables": "iptables-save", "routes": "ip route (1 IPv6 routes skipped)", "rules": "ip rule",
        "addrs": "ip -j addr (JSON)"}  # fmt: skip


def test_run_commands_keeps_iptables_save_comments_from_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """iptables-nft-save writes "iptables-legacy tables present" on stderr: `collect --run` keeps it at the head of
    the file (other stderr lines are not rule-file text and are left out), so the trace can warn about it."""
    from hairpin import collect
    from hairpin.parsers import iptables_save

    legacy = b"# Warning: iptables-legacy tables present, use iptables-legacy-save to see them"
    saved = b"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n"

    def fake(cmd: list[str], **_: object) -> subprocess.CompletedProcess[bytes]:
        if cmd == ["iptables-save"]:
            return subprocess.CompletedProcess(cmd, 0, saved, b"iptables-save: some note\n" + legacy)
        return subprocess.CompletedProcess(cmd, 0 if cmd[0] == "ip" else 1, b"", b"")

    monkeypatch.setattr(collect.subprocess, "run", fake)
    files = collect.run_commands()
    assert files["iptables-save"] == legacy + b"\n" + saved
    assert sorted(files) == ["ip-addr", "ip-route", "ip-rule", "iptables-save"]
    rs = iptables_save.parse(files["iptables-save"].decode(), "iptables-save")
    assert [w.split(": ", 1)[0] for w in rs.warnings] == ["iptables-save:1"]


FAKE_SAVE = """#!/bin/sh
echo '# Warning: iptables-legacy tables present, use iptables-legacy-save to see them' >&2
echo 'iptables-save: a note' >&2
printf '*filter\\n:INPUT ACCEPT [0:0]\\nCOMMIT\\n'
exit ${FAKE_EXIT:-0}
"""


def fake_tools(tmp_path: Path) -> dict[str, str]:
    """A PATH where iptables-save is FAKE_SAVE, ip prints its arguments, and the optional tools are missing."""
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "iptables-save").write_text(FAKE_SAVE)
    (bin_dir / "ip").write_text('#!/bin/sh\necho "ip $*"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    for tool in ("sh", "grep", "cat", "rm", "test", "mktemp", "tar", "gzip"):
        found = next((Path(d) / tool for d in ("/usr/bin", "/bin") if (Path(d) / tool).exists()), None)
        if found is not None:
            (bin_dir / tool).symlink_to(found)
    return {**os.environ, "PATH": str(bin_dir)}


@pytest.mark.parametrize("fail", [False, True])
def test_the_script_keeps_iptables_save_comments_from_stderr(tmp_path: Path, fail: bool) -> None:
    """iptables-nft-save's stderr comment ("iptables-legacy tables present") lands at the head of the file, where
    trace warns about it; its other stderr lines reach the terminal; a failing iptables-save fails the step."""
    env = fake_tools(tmp_path)
    env["FAKE_EXIT"] = "1" if fail else "0"
    out = tmp_path / "out"
    out.mkdir()
    step = script().splitlines()[1]
    res = subprocess.run(["sh", "-c", step], cwd=out, env=env, capture_output=True, text=True, check=False)
    assert (res.returncode, res.stderr) == (1 if fail else 0, "iptables-save: a note\n")
    assert sorted(p.name for p in out.iterdir()) == ["iptables-save"]
    assert (out / "iptables-save").read_text() == ("# Warning: iptables-legacy tables present, use "
                                                  "iptables-legacy-save to see them\n*filter\n:INPUT ACCEPT [0:0]\n"
                                                  "COMMIT\n")  # fmt: skip


def test_the_one_liner_streams_the_files_with_the_comment(tmp_path: Path) -> None:
    """The one-liner's script (what the busybox debug container runs) with fake tools: a tarball of the required
    files, iptables-save's stderr comment at the head of its file, the missing optional tools' files left out.
    Each node tool runs as `chroot /host TOOL` (the fake chroot refuses anything else) and the shell is the
    container's: `chroot /host sh -c` failed on Bottlerocket, which has no shell (bottlerocket-os/bottlerocket
    issue 4011) though it has the tools."""
    import shlex

    env = fake_tools(tmp_path)
    chroot = tmp_path / "bin" / "chroot"
    chroot.write_text('#!/bin/sh\n[ "$1" = /host ] || { echo "chroot: not /host: $1" >&2; exit 125; }\nshift\n'
                      'echo "$1" >> "$CHROOTED"\nexec "$@"\n')  # fmt: skip
    chroot.chmod(0o755)
    env["CHROOTED"] = str(tmp_path / "chrooted")
    argv = shlex.split(debug_one_liner("n1").rpartition(" > ")[0])
    assert argv[:10] == ["kubectl", "debug", "node/n1", "-q", "-i", "--profile=sysadmin", "--image=busybox", "--",
                         "sh", "-c"]  # fmt: skip
    res = subprocess.run(argv[8:], env=env, capture_output=True, check=False)
    assert (tmp_path / "chrooted").read_text().split() == [cmd[0] for cmd, _ in COMMANDS.values()]
    assert res.returncode == 0, res.stderr
    assert res.stderr == b"iptables-save: a note\n"
    with tarfile.open(fileobj=io.BytesIO(res.stdout), mode="r:gz") as tar:
        files = {Path(m.name).name: tar.extractfile(m).read().decode() for m in tar if m.isfile()}  # type: ignore[union-attr]
    # (the fake ip prints its arguments for -6 too: the IPv6 files are kept; no fake ip6tables-save: left out)
    assert sorted(files) == ["ip-addr", "ip-route", "ip-rule", "ip6-route", "ip6-rule", "iptables-save"]
    assert files["iptables-save"].startswith("# Warning: iptables-legacy tables present")
    assert files["ip-route"] == "ip -4 route show table all\n"
    assert files["ip6-route"] == "ip -6 route show table all\n"


def test_the_one_liner_takes_a_mirror_image_and_refuses_what_a_shell_would_run() -> None:
    # an air-gapped cluster pulls busybox from a mirror; the line is pasted into a shell, so a node name or an
    # image that is not one (a ';', a space, a '$(') is one line, exit 2, and nothing is printed
    res = run("collect", "--node", "ip-192-168-2-3.ec2.internal", "--image", "public.ecr.aws/docker/library/busybox:1.37")
    assert (res.returncode, res.stderr) == (0, "")
    line = res.stdout.splitlines()[-1]
    assert line == debug_one_liner("ip-192-168-2-3.ec2.internal", "public.ecr.aws/docker/library/busybox:1.37")
    assert line.startswith("kubectl debug node/ip-192-168-2-3.ec2.internal -q -i --profile=sysadmin "
                           "--image=public.ecr.aws/docker/library/busybox:1.37 -- sh -c 'd=$(mktemp -d)")  # fmt: skip
    assert line.endswith("' > ip-192-168-2-3.ec2.internal.tgz")
    for args, err in (
        (["--node", "n1; rm -rf ~"], "--node 'n1; rm -rf ~' is not a Kubernetes node name (lower-case letters, "
                                     "digits, '-' and '.', starting and ending with a letter or digit, at most 253 "
                                     "characters)"),
        (["--node", "Node1"], "--node 'Node1' is not a Kubernetes node name (lower-case letters, digits, '-' and "
                              "'.', starting and ending with a letter or digit, at most 253 characters)"),
        (["--node", "a" * 254], f"--node {'a' * 80!r} is not a Kubernetes node name (lower-case letters, digits, "
                                "'-' and '.', starting and ending with a letter or digit, at most 253 characters)"),
        (["--node", "n1", "--image", "busybox $(id)"], "--image 'busybox $(id)' is not an image reference (such as "
                                                       "busybox, public.ecr.aws/docker/library/busybox:1.37 or "
                                                       "registry.example:5000/busybox@sha256:...)"),
        (["--image", "busybox"], "--image needs --node (it is the image of the kubectl debug one-liner)"),
    ):  # fmt: skip
        res = run("collect", *args)
        assert (res.returncode, res.stdout, res.stderr) == (2, "", f"hairpin: error: {err}\n"), args
    assert debug_one_liner("a" * 253).startswith(f"kubectl debug node/{'a' * 253} ")
    assert debug_one_liner("n1", "registry.example:5000/tools/busybox@sha256:" + "0" * 64).split()[6] == (
        "--image=registry.example:5000/tools/busybox@sha256:" + "0" * 64)
