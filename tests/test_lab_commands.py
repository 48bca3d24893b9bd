"""The lab's pure builders and records: no root needed."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hairpin import scenario, topology
from hairpin.backends.lab import commands
from hairpin.backends.lab.record import LabRecord, is_stale, labs, new_prefix
from hairpin.backends.lab.run import nlb_flow, parse_conntrack, parse_conntrack_tuples


def test_nlb_emulation_rules_for_the_seed() -> None:
    text = commands.nlb_iptables(scenario.seed())
    lines = text.splitlines()
    assert lines[0] == "*nat" and lines[-1] == "COMMIT"
    assert (
        '-A PREROUTING -d 192.168.168.103/32 -p tcp -m comment --comment "NLB nginx-demo/service-nginx-demo eu-west-1a" -m tcp --dport 80 -j HP-NLB-0'
        in lines
    )
    assert (
        "-A HP-NLB-0 -p tcp -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 192.168.2.3:31468"
        in lines
    )
    assert "-A HP-NLB-0 -p tcp -j DNAT --to-destination 192.168.21.86:31468" in lines
    assert "-A HP-NLB-1 -p tcp -j DNAT --to-destination 192.168.44.17:31468" in lines
    assert not any("SNAT" in line for line in lines)  # client IP preserved


def test_nlb_emulation_without_preservation_snats_to_the_nlb_node() -> None:
    text = commands.nlb_iptables(scenario.with_fix(scenario.seed(), "no-preserve-client-ip"))
    assert (
        "-A POSTROUTING -m conntrack --ctstate DNAT --ctorigdst 192.168.168.103/32 -j SNAT --to-source 192.168.168.103"
        in text
    )


def test_nlb_emulation_ip_targets_and_cross_zone() -> None:
    s = scenario.with_fix(scenario.seed(), "ip-targets")
    assert "-A HP-NLB-0 -p tcp -j DNAT --to-destination 192.168.16.142:80" in commands.nlb_iptables(s)
    svc = s.client_service
    assert svc.load_balancer is not None
    cz = replace(s, services=(replace(svc, load_balancer=replace(svc.load_balancer, cross_zone=True)),))
    text = commands.nlb_iptables(cz)
    assert "--probability 0.33333333333 -j DNAT --to-destination 192.168.39.2:80" in text


def test_sysctls_split_before_and_after_interfaces() -> None:
    topo = topology.build(scenario.seed())
    node1 = topo.namespace("node1")
    before = dict(commands.global_sysctls(node1))
    after = dict(commands.interface_sysctls(node1))
    assert before["net.ipv4.ip_forward"] == "1" and before["net.ipv4.conf.all.rp_filter"] == "0"
    assert before["net.ipv4.tcp_syn_retries"] == "6"
    assert after["net.ipv4.conf.eth0.proxy_arp"] == "1"
    assert after["net.ipv4.neigh.eth0.proxy_delay"] == "0" and after["net.ipv4.neigh.enie348bef9edc.proxy_delay"] == "0"


def test_commands_are_argument_lists() -> None:
    assert commands.client_command("hp1-netshoot", "192.168.27.239", "192.168.168.103", 80, [40001, 40002], 3.5)[:4] == [
        "ip", "netns", "exec", "hp1-netshoot",
    ]  # fmt: skip
    argv = commands.client_command("hp1-netshoot", "192.168.27.239", "192.168.168.103", 80, [40001, 40002], 3.5)
    assert argv[-8:] == ["--dst", "192.168.168.103", "--port", "80", "--sports", "40001,40002", "--timeout", "3.5"]
    # a connection whose DNS answer differs carries its own destination
    argv = commands.client_command("hp1-netshoot", "192.168.27.239", "192.168.168.103", 80, [40001, 40002], 3.5,
                                   ["192.168.168.103", "192.168.140.27"])  # fmt: skip
    assert argv[-3:] == ["40001,40002@192.168.140.27", "--timeout", "3.5"]
    assert commands.sysctl_command("ns", [("a.b", "1")]) == [
        "ip",
        "netns",
        "exec",
        "ns",
        "sysctl",
        "-q",
        "-e",
        "-w",
        "a.b=1",
    ]


def test_parse_conntrack_maps_original_to_reply_source() -> None:
    line = (
        "ipv4     2 tcp      6 117 SYN_SENT src=192.168.27.239 dst=192.168.168.103 sport=50983 dport=80 [UNREPLIED] "
        "src=192.168.2.3 dst=192.168.27.239 sport=31468 dport=50983 mark=0 zone=0 use=2"
    )
    assert parse_conntrack(line) == {("192.168.27.239", 50983, "192.168.168.103", 80): ("192.168.2.3", 31468)}


def test_nlb_flow_follows_the_nodes_masquerade_to_the_vpc_entry() -> None:
    # node1 masqueraded pod:44426 to node1:33102 (--random-fully); the vpc namespace keyed the NLB's DNAT by that
    node1 = parse_conntrack_tuples(
        "ipv4     2 tcp      6 116 SYN_SENT src=192.168.27.239 dst=192.168.168.103 sport=44426 dport=80 [UNREPLIED] "
        "src=192.168.168.103 dst=192.168.2.3 sport=80 dport=33102 mark=0 zone=0 use=2"
    )
    vpc = parse_conntrack_tuples(
        "ipv4     2 tcp      6 116 SYN_SENT src=192.168.2.3 dst=192.168.168.103 sport=33102 dport=80 [UNREPLIED] "
        "src=192.168.2.3 dst=192.168.2.3 sport=31468 dport=33102 mark=0 zone=0 use=2"
    )
    key = ("192.168.27.239", 44426, "192.168.168.103", 80)
    assert node1[key] == ("192.168.168.103", 80, "192.168.2.3", 33102)
    assert nlb_flow(key, node1, vpc) == (("192.168.2.3", 33102), ("192.168.2.3", 31468))
    # not translated (the seed): the node's reply tuple names the pod itself
    plain = {key: ("192.168.168.103", 80, "192.168.27.239", 44426)}
    vpc2 = {key: ("192.168.21.86", 31468, "192.168.27.239", 44426)}
    assert nlb_flow(key, plain, vpc2) == (("192.168.27.239", 44426), ("192.168.21.86", 31468))
    assert nlb_flow(key, {}, vpc2) == (("192.168.27.239", 44426), ("192.168.21.86", 31468))  # no node entry
    assert nlb_flow(key, node1, {}) == (("192.168.2.3", 33102), None)


def test_tcp_syn_linear_timeouts_is_always_written() -> None:
    node1 = topology.build(scenario.seed()).namespace("node1")
    assert ("net.ipv4.tcp_syn_linear_timeouts", "0") in commands.global_sysctls(node1, 0)
    assert not any("linear" in k for k, _ in commands.global_sysctls(node1))
    s = scenario.seed()
    s4 = replace(s, kernel=replace(s.kernel, tcp_syn_linear_timeouts=4))
    items = commands.global_sysctls(topology.build(s4).namespace("node1"), 4)
    assert [v for k, v in items if k == "net.ipv4.tcp_syn_linear_timeouts"] == ["4"]


def _ipvs() -> scenario.Scenario:
    s = scenario.seed()
    return replace(s, kube_proxy=replace(s.kube_proxy, mode="ipvs"))


@pytest.mark.parametrize(
    ("present", "message"),
    [
        (False, "the lab needs the kernel's IPVS (ip_vs) for kube_proxy.mode ipvs; {path} is absent on this kernel"),
        (True, "IPVS in the lab is not built yet (kube_proxy.mode ipvs); use iptables or nftables"),
    ],
)
def test_ipvs_mode_is_refused_before_anything_is_made(
    present: bool, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    from hairpin.backends.lab import build
    from hairpin.errors import InputError, LabError

    ip_vs = tmp_path / "ip_vs"
    if present:
        ip_vs.write_text("IP Virtual Server version 1.2.1 (size=4096)\n")
    made: list[object] = []
    monkeypatch.setattr(build, "IP_VS", ip_vs)
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path / "labs"))
    # as if root with every tool: only the IPVS check can stop it, and it must do so before anything is made
    monkeypatch.setattr(build.os, "geteuid", lambda: 0)
    monkeypatch.setattr(build.shutil, "which", lambda tool: f"/usr/sbin/{tool}")
    monkeypatch.setattr(build.identity, "create", lambda *a, **k: made.append(a))  # every namespace is made there
    monkeypatch.setattr(build, "clean", lambda: made.append("clean"))
    build.check_permitted(scenario.seed())  # iptables mode passes
    with pytest.raises(build.LabUnsupported) as e:
        build.up(_ipvs())
    assert isinstance(e.value, LabError) and isinstance(e.value, InputError)
    assert str(e.value) == message.format(path=ip_vs)
    assert made == [] and not (tmp_path / "labs").exists() and labs() == []


def test_lab_up_refuses_ipvs_in_one_line_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    from hairpin.backends.lab import build
    from hairpin.cli.main import main

    text = (Path(scenario.__file__).parent / "scenarios" / "seed.yaml").read_text()
    assert "  mode: iptables\n" in text
    path = tmp_path / "seed-ipvs.yaml"
    path.write_text(text.replace("  mode: iptables\n", "  mode: ipvs\n", 1))
    made: list[object] = []
    monkeypatch.setattr(build, "IP_VS", tmp_path / "absent")
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path / "labs"))
    monkeypatch.setattr(build.identity, "create", lambda *a, **k: made.append(a))  # every namespace is made there
    for cmd in ("up", "run"):
        with pytest.raises(SystemExit) as e:
            main(["lab", cmd, "--scenario", str(path)])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err == (
            "hairpin: error: the lab needs the kernel's IPVS (ip_vs) for kube_proxy.mode ipvs; "
            f"{tmp_path / 'absent'} is absent on this kernel\n"
        )
    assert made == [] and not (tmp_path / "labs").exists()


def test_records_and_staleness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    p = new_prefix()
    assert p.startswith("hp") and p.endswith("-") and len(p) == 9
    mine = LabRecord(p, "seed", os.getpid(), 0.0, [f"{p}x"], persistent=False)
    mine.save()
    dead = LabRecord(new_prefix(), "seed", 2**22 + 12345, 0.0, [], state="up", persistent=False)
    dead.save()
    kept = LabRecord(new_prefix(), "seed", 2**22 + 12346, 0.0, [], state="up", persistent=True)
    kept.save()
    found = {r.prefix: r for r in labs()}
    assert set(found) == {mine.prefix, dead.prefix, kept.prefix}
    assert not is_stale(found[mine.prefix]) and is_stale(found[dead.prefix]) and not is_stale(found[kept.prefix])


def test_nftables_mode_needs_nft_before_anything_is_made(monkeypatch: pytest.MonkeyPatch) -> None:

    from hairpin.backends.lab import build
    from hairpin.scenario import seed

    s = seed()
    nft = replace(s, kube_proxy=replace(s.kube_proxy, mode="nftables", version="1.31"))
    monkeypatch.setattr(build.os, "geteuid", lambda: 0)
    monkeypatch.setattr(build.shutil, "which", lambda tool: None if tool == "nft" else f"/usr/sbin/{tool}")
    build.check_permitted(s)  # iptables mode does not need nft
    with pytest.raises(build.NotPermitted) as e:
        build.check_permitted(nft)
    assert str(e.value) == "the lab needs nft (Debian package nftables)"


def _lb(s: scenario.Scenario, **kw: object) -> scenario.Scenario:
    svc = s.client_service
    assert svc.load_balancer is not None
    new = replace(svc, load_balancer=replace(svc.load_balancer, **kw))  # type: ignore[arg-type]
    return replace(s, services=tuple(new if x.key == svc.key else x for x in s.services))


def test_nlb_emulation_honours_the_local_health_check() -> None:
    """externalTrafficPolicy Local: node2 has no backend, fails the health check, and gets no DNAT."""
    s = scenario.seed()
    svc = replace(s.client_service, external_traffic_policy="Local", health_check_node_port=32123)
    lines = commands.nlb_iptables(replace(s, services=(svc,))).splitlines()
    assert [line for line in lines if "-j DNAT" in line] == [
        "-A HP-NLB-0 -p tcp -j DNAT --to-destination 192.168.2.3:31468",
        "-A HP-NLB-1 -p tcp -j DNAT --to-destination 192.168.44.17:31468",
    ]
    local = replace(s, services=(svc,))
    assert commands.health_servers(local) == [
        ("node1", 32123, "nginx-demo/service-nginx-demo", 1),
        ("node2", 32123, "nginx-demo/service-nginx-demo", 0),
        ("node3", 32123, "nginx-demo/service-nginx-demo", 2),
    ]
    assert commands.health_checks(local) == {
        "192.168.2.3:32123": True, "192.168.21.86:32123": False, "192.168.44.17:32123": True,
    }  # fmt: skip
    assert commands.health_server_command("hpx-node2", commands.health_servers(local)[1])[5:] == [
        "-m", "hairpin.backends.lab.healthz", "--port", "32123", "--service", "nginx-demo/service-nginx-demo",
        "--local-endpoints", "0",
    ]  # fmt: skip
    assert commands.health_servers(s) == [] and commands.health_checks(s) == {}  # Cluster: no health server


def test_health_server_answers_like_kube_proxy() -> None:
    """kube-proxy's healthCheckNodePort server on loopback (no root): 200 with local endpoints, 503 without."""
    import socket
    import subprocess
    import sys
    import time

    from hairpin.backends.lab.healthz import probe

    ports = []
    procs = []
    for local in (1, 0):
        with socket.socket() as probe_sock:
            probe_sock.bind(("127.0.0.1", 0))
            ports.append(probe_sock.getsockname()[1])
        procs.append(subprocess.Popen([sys.executable, "-m", "hairpin.backends.lab.healthz", "--port", str(ports[-1]),
                                       "--service", "a/b", "--local-endpoints", str(local)]))  # fmt: skip
    try:
        targets = [f"127.0.0.1:{p}" for p in ports]
        deadline = time.monotonic() + 10
        got = probe(targets)
        while 0 in got.values() and time.monotonic() < deadline:
            time.sleep(0.05)
            got = probe(targets)
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=5)
    assert got == {targets[0]: 200, targets[1]: 503}


def test_internet_facing_nlb_gets_the_nat_gateway_snat() -> None:
    s = _lb(scenario.seed(), scheme="internet-facing",
            nodes=(("eu-west-1a", "198.51.100.10"), ("eu-west-1b", "198.51.100.11")))  # fmt: skip
    lines = commands.nlb_iptables(s).splitlines()
    for vip in ("198.51.100.10", "198.51.100.11"):
        assert (
            f"-A POSTROUTING -s 192.168.0.0/16 -m conntrack --ctstate DNAT --ctorigdst {vip}/32 "
            '-m comment --comment "NAT gateway 203.0.113.10" -j SNAT --to-source 203.0.113.10 --random-fully'
        ) in lines
    # preservation off: the NLB's own SNAT, no NAT gateway rule (the target sees the NLB either way)
    off = commands.nlb_iptables(_lb(s, preserve_client_ip=False))
    assert "NAT gateway" not in off and "--to-source 198.51.100.10" in off


def test_classic_elb_is_a_proxy_per_node_not_an_nlb_rule(tmp_path: Path) -> None:
    s = _lb(scenario.seed(), type="clb")
    assert "DNAT" not in commands.nlb_iptables(s)
    listeners = commands.clb_listeners(s)
    assert listeners == [
        ("192.168.168.103", 80, ("192.168.2.3:31468", "192.168.21.86:31468")),
        ("192.168.140.27", 80, ("192.168.44.17:31468",)),
    ]
    argv = commands.clb_proxy_command("hpx-vpc", listeners[0], tmp_path / "clb0.log")
    assert argv[:4] == ["ip", "netns", "exec", "hpx-vpc"]
    assert argv[5:] == ["-m", "hairpin.backends.lab.clb_proxy", "--listen", "192.168.168.103:80",
                        "--targets", "192.168.2.3:31468,192.168.21.86:31468", "--log", str(tmp_path / "clb0.log")]  # fmt: skip


def test_the_preflight_accepts_clb_internet_facing_and_local() -> None:
    from hairpin.backends.lab.build import check_supported

    s = scenario.seed()
    check_supported(_lb(s, type="clb"))
    check_supported(_lb(s, scheme="internet-facing"))
    check_supported(_lb(s, cross_zone=True))
    check_supported(replace(s, services=(replace(s.client_service, external_traffic_policy="Local"),)))


def test_clb_proxy_accepts_relays_and_logs(tmp_path: Path) -> None:
    """The CLB proxy on loopback (no root): it answers the caller, connects to a target from its own address
    and relays bytes both ways; one log line per connection."""
    import json
    import socket
    import subprocess
    import sys
    import threading
    import time

    backend = socket.create_server(("127.0.0.1", 0))
    bport = backend.getsockname()[1]
    seen: list[tuple[str, int]] = []

    def serve() -> None:
        conn, peer = backend.accept()
        seen.append(peer)
        conn.sendall(conn.recv(100).upper())
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    lport = probe.getsockname()[1]
    probe.close()
    log = tmp_path / "clb.log"
    proc = subprocess.Popen([sys.executable, "-m", "hairpin.backends.lab.clb_proxy", "--listen", f"127.0.0.1:{lport}",
                             "--targets", f"127.0.0.1:{bport}", "--log", str(log)])  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                c = socket.create_connection(("127.0.0.1", lport), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        c.sendall(b"hello")
        assert c.recv(100) == b"HELLO"
        client = c.getsockname()
        c.close()
        entry = json.loads(log.read_text().splitlines()[0])
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        backend.close()
    assert entry["client"] == f"127.0.0.1:{client[1]}" and entry["target"] == f"127.0.0.1:{bport}"
    assert entry["backend"] == "established" and entry["back"] == f"127.0.0.1:{seen[0][1]}"


def _record_text(prefix: str, **changes: object) -> str:
    import json

    data: dict[str, object] = {"prefix": prefix, "scenario": "seed", "owner": 2**22 + 7, "created": 0.0,
                               "namespaces": [f"{prefix}vpc"], "pids": [], "files": [], "fix": None,
                               "state": "building", "persistent": False, "netns_ids": {}, "starts": {},
                               "owner_start": None}  # fmt: skip
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda p, f: f.symlink_to(p / "elsewhere.json"), "not a lab record: a symlink"),
        (lambda p, f: f.write_text('{"prefix": "hpabc123-", "scen'), "not a lab record: not JSON (Unterminated string "
         "starting at: line 1 column 25 (char 24))"),
        (lambda p, f: f.write_bytes(b" " * (2**20 + 1)), "not a lab record: larger than 1048576 bytes"),
        (lambda p, f: f.write_text("[]"), "not a lab record: not a JSON object"),
        (lambda p, f: f.write_text(_record_text("hpabc123-", extra=1)), "not a lab record: unknown field 'extra'"),
        (lambda p, f: f.write_text(_record_text("hpabc123-", owner="1")), "not a lab record: 'owner' has the wrong type"),
        (lambda p, f: f.write_text(_record_text("hpabc124-")),
         "not a lab record: prefix 'hpabc124-' is not the file's (hpabc123.json)"),
        (lambda p, f: f.write_text(_record_text("hpabc123-", namespaces=["cni-1234"])),
         "not a lab record: a namespace not under the prefix hpabc123-"),
        (lambda p, f: f.write_text(_record_text("hpabc123-", pids=[1])),
         "not a lab record: a pid that is not a process number above 1"),
        (lambda p, f: f.write_text(_record_text("hpabc123-", files=[str(p / "victim")])),
         "not a lab record: a file that is not one of the lab's own logs"),
        (lambda p, f: f.write_text(_record_text("hpabc123-", netns_ids={"hpabc123-vpc": [1, 2]})),
         "not a lab record: a namespace identity that is not [inode, ctime_ns, not_before_ns] of a recorded namespace"),
        (lambda p, f: f.write_text(_record_text("hpabc123-", mount_points={"hpabc123-vpc": [1, 2, 3]})),
         "not a lab record: a mount point that is not [st_dev, st_ino] of a recorded namespace"),
        (lambda p, f: f.write_text(_record_text("hpabc123-", mount_points={"hpabc123-node1": [1, 2]})),
         "not a lab record: a mount point that is not [st_dev, st_ino] of a recorded namespace"),
        (lambda p, f: f.write_text(_record_text("hpabc123-", starts={"4242": 1})),
         "not a lab record: a process start time that is not of a recorded pid"),
    ],
)  # fmt: skip
def test_a_record_that_is_not_one_is_one_line_exit_2_and_nothing_is_removed(
    make: Any, why: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """status, down and clean read every record first: a hostile or broken one stops them with one line naming
    the file, exit 2, before anything is removed (here: a file a hostile record names stays)."""
    from hairpin.cli.main import main

    labs_dir = tmp_path / "labs"
    labs_dir.mkdir()
    (tmp_path / "victim").write_text("keep me")
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(labs_dir))
    good = LabRecord("hpabc122-", "seed", 2**22 + 8, 0.0, [], files=[str(labs_dir / "hpabc122-clb0.log")])
    good.save()
    (labs_dir / "hpabc122-clb0.log").write_text("a stale lab's log")
    bad = labs_dir / "hpabc123.json"
    make(tmp_path, bad)
    for cmd in (["status"], ["clean"], ["down"], ["down", "hpabc122"]):
        with pytest.raises(SystemExit) as e:
            main(["lab", *cmd])
        assert (e.value.code, capsys.readouterr()) == (2, ("", f"hairpin: error: {bad}: {why}\n"))
    assert (tmp_path / "victim").read_text() == "keep me" and good.path.exists()
    assert (labs_dir / "hpabc122-clb0.log").exists()


def test_a_record_of_another_user_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hairpin.errors import InputError

    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    rec = LabRecord("hpabc123-", "seed", 2**22 + 7, 0.0)
    rec.save()
    uid = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: uid + 1)  # as if another user wrote it
    with pytest.raises(InputError) as e:
        labs()
    assert str(e.value) == f"{rec.path}: not a lab record: owned by uid {uid}, not by uid {uid + 1}"


def test_a_record_written_and_read_back_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    rec = LabRecord("hpabc123-", "seed", os.getpid(), 1.5, ["hpabc123-vpc"], [4242],
                    [str(tmp_path / "hpabc123-clb0.log")], netns_ids={"hpabc123-vpc": [4026531840, 5, 4]},
                    mount_points={"hpabc123-vpc": [65024, 1523717]}, starts={"4242": 99}, owner_start=7)  # fmt: skip
    rec.save()
    (back,) = labs()
    assert back == rec and "kept" not in rec.path.read_text()


def test_deferred_signals_deliver_sigint_sigterm_and_sighup_when_the_block_ends() -> None:
    import signal

    from hairpin.backends.lab.identity import deferred_signals

    done = []
    with pytest.raises(KeyboardInterrupt), deferred_signals():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs between bytecodes: it has run by now
        done.append("recorded")
    assert done == ["recorded"]
    seen: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGHUP):
        old = signal.signal(signum, lambda signum, frame: seen.append(signum))
        try:
            with deferred_signals():
                os.kill(os.getpid(), signum)
                time.sleep(0.05)
                assert signum not in seen  # held back until the block ends
            assert seen[-1:] == [signum]
        finally:
            signal.signal(signum, old)
    assert seen == [signal.SIGTERM, signal.SIGHUP]


def test_owner_is_dead_when_its_pid_has_another_start_time_or_is_a_zombie(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from hairpin.backends.lab.identity import proc_start

    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(tmp_path))
    me = LabRecord(new_prefix(), "seed", os.getpid(), 0.0, owner_start=proc_start(os.getpid()))
    reused = LabRecord(new_prefix(), "seed", os.getpid(), 0.0, owner_start=(proc_start(os.getpid()) or 0) + 1)
    assert me.owner_alive() and not reused.owner_alive() and is_stale(reused)
    child = subprocess.Popen(["sleep", "30"])
    try:
        rec = LabRecord(new_prefix(), "seed", child.pid, 0.0, owner_start=proc_start(child.pid))
        assert rec.owner_alive()
        child.kill()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not rec.owner_alive() and is_stale(rec)  # killed, not yet reaped: dead all the same
    finally:
        child.kill()
        child.wait()


def test_a_symlink_planted_at_a_records_name_is_replaced_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record directory may be one others can write to (HAIRPIN_LAB_DIR): a symlink planted at the name of
    the record the lab is about to save points at a file of the victim's; the save replaces the link, and the
    victim's file is as it was."""
    labs = tmp_path / "labs"
    labs.mkdir()
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(labs))
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    rec = LabRecord("hpabc777-", "seed", os.getpid(), 0.0, [], persistent=False)
    rec.path.symlink_to(victim)
    rec.save()
    assert victim.read_text() == "precious\n"
    assert not rec.path.is_symlink() and json.loads(rec.path.read_text())["prefix"] == "hpabc777-"
    assert sorted(p.name for p in labs.iterdir()) == ["hpabc777.json"]  # no temporary file left
