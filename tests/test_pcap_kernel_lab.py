"""Real-kernel captures (root, network namespaces): IPv4 and IPv6 connections between two namespaces,
captured by tcpdump on the veth (Ethernet), on ``any`` (Linux cooked v2) and on ``nflog:5`` (NFLOG, from an
nftables ``log group 5`` rule): ``hairpin pcap`` reads every one with nothing skipped, classifies each
connection, and decodes every TCP header exactly as tshark does."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hairpin.diagnose import capture
from hairpin.errors import HairpinError
from hairpin.parsers import pcap

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "tcpdump", "nft", "tshark")),
                       reason="needs root, iproute2, tcpdump, nft and tshark"),
]

SERVER = """
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 8080)); s.listen(8); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.close()
"""
CLIENT = """
import socket, sys
for host in ("10.79.0.2", "fd79::2"):
    for port in (8080, 8081):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        c = socket.socket(fam, socket.SOCK_STREAM); c.settimeout(5)
        try:
            c.connect((host, port)); print(host, port, "connected")
        except OSError as e:
            print(host, port, type(e).__name__)
        c.close()
"""


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    d = tmp_path_factory.mktemp("kcap")
    c, s = f"hpc{os.getpid()}c", f"hpc{os.getpid()}s"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sh("ip", "netns", "add", c)
        sh("ip", "netns", "add", s)
        sh("ip", "link", "add", "c0", "netns", c, "type", "veth", "peer", "name", "s0", "netns", s)
        for ns, dev, v4, v6 in ((c, "c0", "10.79.0.1/24", "fd79::1/64"), (s, "s0", "10.79.0.2/24", "fd79::2/64")):
            sh("ip", "-n", ns, "addr", "add", v4, "dev", dev)
            sh("ip", "-n", ns, "addr", "add", v6, "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "netns", "exec", c, "nft", "add table inet hp; add chain inet hp o { type filter hook output "
           "priority 0; }; add chain inet hp i { type filter hook input priority 0; }; add rule inet hp o meta "
           "l4proto tcp log group 5; add rule inet hp i meta l4proto tcp log group 5")  # fmt: skip
        server = subprocess.Popen(["ip", "netns", "exec", s, sys.executable, "-c", SERVER], stdout=subprocess.PIPE)
        procs.append(server)
        assert server.stdout is not None and server.stdout.readline() == b"ready\n"
        files = {"ethernet": d / "c0.pcap", "any": d / "any.pcap", "nflog": d / "nflog.pcap"}
        for name, iface in (("ethernet", "c0"), ("any", "any"), ("nflog", "nflog:5")):
            t = subprocess.Popen(["ip", "netns", "exec", c, "tcpdump", "-n", "-U", "--immediate-mode", "-i", iface, "-w", str(files[name])]
                                 + ([] if name == "nflog" else ["tcp"]), stderr=subprocess.PIPE)  # fmt: skip
            procs.append(t)
            assert t.stderr is not None
            while b"listening on" not in t.stderr.readline():
                pass
        out = subprocess.run(["ip", "netns", "exec", c, sys.executable, "-c", CLIENT], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        assert out.splitlines() == ["10.79.0.2 8080 connected", "10.79.0.2 8081 ConnectionRefusedError",
                                    "fd79::2 8080 connected", "fd79::2 8081 ConnectionRefusedError"]  # fmt: skip
        # the last packets reach the capture files (not a timing assertion): each file holds both resets, or 30 s
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(_resets(f) >= 2 for f in files.values()):
            time.sleep(0.2)
        for t in procs[1:]:
            t.send_signal(signal.SIGINT)
            t.wait(timeout=30)
        yield files
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in (c, s):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _resets(path: Path) -> int:
    """The RST segments a capture being written holds so far (a record cut by the writer ends the count)."""
    try:
        return sum(1 for r in pcap.read(path) if r.packet is not None and r.packet.flags & 0x04)
    except (HairpinError, OSError):  # no header written yet, a record half written: not yet
        return 0


@pytest.mark.parametrize(("name", "linktype"), [("ethernet", 1), ("any", 276), ("nflog", 239)])
def test_real_kernel_captures_are_read_whole(captures: dict[str, Path], name: str, linktype: int) -> None:
    a = capture.analyse_files([captures[name]])
    f = a.files[0]
    assert (f.linktypes, f.skipped, f.error, f.damage) == ((linktype,), 0, None, None)
    assert (a.connections, a.healthy, a.hairpins, a.other_failures) == (4, 2, [], {"server-reset": 2})
    assert sorted(str(o.called) for o in a.others) == ["10.79.0.2:8081", "[fd79::2]:8081"]


@pytest.mark.parametrize("name", ["ethernet", "any", "nflog"])
def test_real_kernel_captures_decode_as_tshark_does(captures: dict[str, Path], name: str) -> None:
    from test_pcap_encaps import tshark_view

    ours = [(p.src, p.sport, p.dst, p.dport, int(p.flags), p.seq, p.ack) for p in (r.packet for r in
            pcap.read(captures[name]))]  # fmt: skip
    ours = [(*x[:6], x[6] if x[4] & 0x10 else 0) for x in ours]
    assert len(ours) >= 14 and ours == tshark_view(captures[name], 4789)
