"""`hairpin pcap` on the command line: the JSON contract, exit codes, pictures, bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hairpin.backends import sim
from hairpin.cli.main import app
from hairpin.render import pcap as render_pcap
from hairpin.scenario import seed
from packing import DAMAGE, PACK, damaged

runner = CliRunner()


@pytest.fixture(scope="module")
def client_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, sim.Run]:
    run = sim.run(seed(), 16, 5)
    path = tmp_path_factory.mktemp("cap") / "client.pcapng"
    render_pcap.write_run(run, path, run.connections, places={"pod netshoot eth0"})
    return path, run


def test_json_contract_and_exit_1(client_capture: tuple[Path, sim.Run]) -> None:
    path, run = client_capture
    res = runner.invoke(app, ["pcap", str(path), "--format", "json"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    timeouts = [c for c in run.connections if c.outcome == "timeout"]
    assert len(doc["hairpins"]) == len(timeouts) > 0
    h = doc["hairpins"][0]
    assert set(h) == {"client", "vip", "node", "backend", "backends", "syn_retransmits", "lost_s", "gave_up",
                      "syns_before_capture"}  # fmt: skip
    assert (h["client"], h["vip"], h["node"], h["backend"], h["backends"], h["syn_retransmits"],
            h["syns_before_capture"]) == (timeouts[0].client, "192.168.168.103:80", "192.168.2.3:31468", None, [], 6,
                                          0)  # fmt: skip
    s = doc["summary"]
    assert (s["connections"], s["hairpins"], s["other_failures"]) == (16, len(timeouts), {})
    assert (s["cut_by_capture_end"], s["started_before_capture"]) == (0, 0)
    assert isinstance(s["packets"], int) and s["packets"] > 0


def test_no_hairpin_exits_0(tmp_path: Path) -> None:
    run = sim.run(seed(), 6, 5, fixes=False)
    good = [c for c in run.connections if c.outcome == "established"]
    path = tmp_path / "good.pcapng"
    render_pcap.write_run(run, path, good, places={"pod netshoot eth0"})
    res = runner.invoke(app, ["pcap", str(path)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "hairpin pcap: no hairpinned or failed connection in 6 TCP packets"
    assert lines[1].startswith(f"0 hairpinned connections of {len(good)} in ")


def test_text_svg_and_html(client_capture: tuple[Path, sim.Run], tmp_path: Path) -> None:
    path, _ = client_capture
    svg, page = tmp_path / "h.svg", tmp_path / "h.html"
    res = runner.invoke(app, ["pcap", str(path), "--svg", str(svg), "--html", str(page)])
    assert res.exit_code == 1
    assert "192.168.2.3:31468" in res.stdout and "by node: 192.168.2.3:31468" in res.stdout
    assert svg.read_text().startswith("<svg") and "SYN,ACK 192.168.2.3:31468 -&gt; 192.168.27.239:" in svg.read_text()
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and 'id="hairpins">' in text and "<script" not in text


def test_not_a_capture_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    res = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "pcap", str(bad)], capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip() == f"hairpin: error: {bad}: not a pcap or pcapng capture (starts with 0x68656c6c)"


def test_truncated_file_reports_where_it_stopped(client_capture: tuple[Path, sim.Run], tmp_path: Path) -> None:
    path, _ = client_capture
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(path.read_bytes()[:-30])
    res = runner.invoke(app, ["pcap", str(cut), "--format", "json"])
    assert res.exit_code in (0, 1)
    damage = json.loads(res.stdout)["files"][0]["damage"]
    assert damage.startswith("stopped at byte ") and "truncated block (type 0x6" in damage


def _cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "pcap", *args], capture_output=True, text=True,
                          check=False, input=None if stdin is None else stdin.decode("latin-1"))  # fmt: skip


def _udp_only(path: Path) -> None:
    from hairpin.model.net import Flags as F
    from hairpin.model.net import Packet, ip_int
    from hairpin.parsers import pcap

    p = Packet(ip_int("10.0.0.1"), 5, ip_int("10.0.0.2"), 6, F.SYN, 1)
    pcap.write_pcap(path, [pcap.PacketRecord(0.0, None, p)] * 3, linktype=pcap.ETHERNET, tunnel="vxlan",
                    vxlan_port=9999)  # fmt: skip


def test_nothing_decodable_exits_2_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "udp.pcap"
    _udp_only(path)
    res = _cli(str(path))
    assert res.returncode == 2
    assert res.stderr == f"hairpin: error: {path}: no TCP packet in 3 frames (skipped: protocol 3)\n"
    assert "read 3 frames in 1 file: 0 TCP, skipped 3 (protocol 3)" in res.stdout


def test_skipped_frames_are_a_warning_line(client_capture: tuple[Path, sim.Run], tmp_path: Path) -> None:
    from hairpin.parsers import pcap

    path, _ = client_capture
    udp = tmp_path / "udp.pcap"
    _udp_only(udp)
    res = _cli(str(path), str(udp), "--format", "json")
    assert res.returncode == 1  # the hairpins found in the first file
    doc = json.loads(res.stdout)
    assert [(f["file"], f["skipped"], f["skipped_by_reason"], f["error"]) for f in doc["files"]] == [
        (str(path), 0, {}, None), (str(udp), 3, {"protocol": 3}, "no TCP packet in 3 frames (skipped: protocol 3)")]
    assert (doc["summary"]["skipped"], doc["summary"]["skipped_by_reason"]) == (3, {"protocol": 3})
    assert res.stderr == f"hairpin: error: {udp}: no TCP packet in 3 frames (skipped: protocol 3)\n"
    mixed = tmp_path / "mixed.pcap"
    recs = list(pcap.read(path))
    pcap.write_pcap(mixed, recs)
    data = mixed.read_bytes()
    arp = bytearray(data[24 : 24 + 16 + 54])
    arp[16 + 12 : 16 + 14] = b"\x08\x06"
    mixed.write_bytes(data + bytes(arp))
    res = _cli(str(mixed))
    assert res.returncode == 1
    assert res.stderr == (f"hairpin: warning: {mixed}: skipped 1 of {len(recs) + 1} frames (protocol 1): "
                          "they were not read as TCP\n")  # fmt: skip


def test_a_crafted_file_is_one_line_and_the_others_are_analysed(client_capture: tuple[Path, sim.Run],
                                                                  tmp_path: Path) -> None:  # fmt: skip
    path, run = client_capture
    bad = tmp_path / "crafted.pcapng"
    shb = bytes.fromhex("0a0d0d0a") + (0xFFFFFFF0).to_bytes(4, "little") + bytes.fromhex("4d3c2b1a") + b"\0" * 20
    bad.write_bytes(shb)
    res = _cli(str(bad))
    assert (res.returncode, res.stderr) == (2, f"hairpin: error: {bad}: byte 0 (after packet 0): corrupt section "
                                               "header (length 4294967280)\n")  # fmt: skip
    res = _cli(str(bad), str(path), "--format", "json")
    assert res.returncode == 1 and res.stderr.startswith(f"hairpin: error: {bad}: byte 0 ")
    timeouts = sum(c.outcome == "timeout" for c in run.connections)
    assert json.loads(res.stdout)["summary"]["hairpins"] == timeouts
    good = tmp_path / "good.pcapng"
    render_pcap.write_run(run, good, [c for c in run.connections if c.outcome == "established"],
                          places={"pod netshoot eth0"})  # fmt: skip
    res = _cli(str(good), str(bad))
    flat = " ".join(res.stdout.split())  # the diagnosis, the analysis of the readable file, the next step
    assert res.returncode == 2 and flat.startswith("hairpin pcap: no hairpinned or failed connection in 15 TCP "
                                                   "packets; 1 input(s) could not be read (errors on stderr) "
                                                   "0 hairpinned connections of ")  # fmt: skip
    assert flat.endswith("Next: fix or drop the inputs named on stderr and run hairpin pcap again")


def test_ipv6_hairpin_in_json_and_pictures(tmp_path: Path) -> None:
    from hairpin.model.net import Flags as F
    from hairpin.model.net import Packet, addr_int
    from hairpin.parsers import pcap

    client, vip, node = (addr_int(a) for a in ("2600:1f14:abc:1::27", "2600:1f14:abc:2::103", "2600:1f14:abc:3::3"))
    recs = [pcap.PacketRecord(10.0, None, Packet(client, 40000, vip, 80, F.SYN, 5)),
            pcap.PacketRecord(10.0004, None, Packet(node, 31468, client, 40000, F.SYN | F.ACK, 7, 6)),
            pcap.PacketRecord(10.0005, None, Packet(client, 40000, node, 31468, F.RST, 6))]  # fmt: skip
    path, svg, page = tmp_path / "v6.pcap", tmp_path / "v6.svg", tmp_path / "v6.html"
    pcap.write_pcap(path, recs, linktype=pcap.SLL2)
    res = runner.invoke(app, ["pcap", str(path), "--format", "json", "--svg", str(svg), "--html", str(page)])
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert [(h["client"], h["vip"], h["node"]) for h in doc["hairpins"]] == [
        ("[2600:1f14:abc:1::27]:40000", "[2600:1f14:abc:2::103]:80", "[2600:1f14:abc:3::3]:31468")]
    assert doc["summary"]["by_client"] == {"2600:1f14:abc:1::27": 1}
    assert "SYN,ACK [2600:1f14:abc:3::3]:31468 -&gt; [2600:1f14:abc:1::27]:40000" in svg.read_text()
    assert "[2600:1f14:abc:3::3]:31468" in page.read_text()


def test_html_files_table_says_what_was_skipped_and_why(tmp_path: Path) -> None:
    from hairpin.diagnose.capture import analyse_files
    from hairpin.render.capture import report

    udp = tmp_path / "udp.pcap"
    _udp_only(udp)
    page = report(analyse_files([udp]))
    assert (f"<td class='pkt'>{udp}</td><td>pcap</td><td class='n'>0</td><td class='n'>3 (protocol 3)</td>"
            "<td>error: no TCP packet in 3 frames (skipped: protocol 3)</td>") in page  # fmt: skip


def test_an_unread_link_type_is_named(tmp_path: Path) -> None:
    import struct

    path = tmp_path / "wifi.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127) + struct.pack("<IIII", 0, 0, 4, 4)
                     + b"abcd")  # fmt: skip
    res = _cli(str(path))
    assert res.returncode == 2
    assert res.stderr == (f"hairpin: error: {path}: no TCP packet in 1 frame (skipped: link type 1; link type 127 "
                          "not read)\n")  # fmt: skip
    assert "read 1 frame in 1 file: 0 TCP, skipped 1 (link type 1)" in res.stdout


def test_a_file_that_is_not_a_capture_among_captures(client_capture: tuple[Path, sim.Run], tmp_path: Path) -> None:
    path, _ = client_capture
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    res = _cli(str(notes), str(path), "--format", "json")
    assert res.returncode == 1
    assert res.stderr == f"hairpin: error: {notes}: not a pcap or pcapng capture (starts with 0x68656c6c)\n"
    assert [f["error"] for f in json.loads(res.stdout)["files"]] == [
        None, "not a pcap or pcapng capture (starts with 0x68656c6c)"]


def test_a_retina_capture_bundle_is_read_like_its_captures(client_capture: tuple[Path, sim.Run],
                                                            tmp_path: Path) -> None:  # fmt: skip
    """A Retina capture (a tarball of a directory holding the pcap and metadata files, microsoft/retina
    pkg/capture/provider/network_capture_unix.go) and a plain directory: the captures in them are found by
    content and named BUNDLE:MEMBER; a bundle without one is one line, exit 2."""
    import io
    import tarfile

    path, run = client_capture
    timeouts = sum(c.outcome == "timeout" for c in run.connections)
    bundle = tmp_path / "retina-node1.tar.gz"
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in (("retina-node1/ip-resources.txt", b"Summary:\n"), ("retina-node1/node1-20261201.pcap",
                           path.read_bytes()), ("retina-node1/iptables-rules.txt", b"Summary:\n")):  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    res = _cli(str(bundle), "--format", "json")
    doc = json.loads(res.stdout)
    assert (res.returncode, doc["summary"]["hairpins"]) == (1, timeouts)
    assert [f["file"] for f in doc["files"]] == [f"{bundle}:node1-20261201.pcap"]
    folder = tmp_path / "dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "x.cap").write_bytes(path.read_bytes())
    (folder / "notes.txt").write_text("not a capture\n")
    doc = json.loads(_cli(str(folder), "--format", "json").stdout)
    assert [f["file"] for f in doc["files"]] == [f"{folder}:sub/x.cap"] and doc["summary"]["hairpins"] == timeouts
    empty = tmp_path / "empty.tgz"
    with tarfile.open(empty, "w:gz") as tar:
        info = tarfile.TarInfo("readme.txt")
        tar.addfile(info, io.BytesIO(b""))
    res = _cli(str(empty))
    assert (res.returncode, res.stderr) == (2, f"hairpin: error: {empty}: no pcap or pcapng file in it\n")


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_a_compressed_capture_is_read_as_its_capture(client_capture: tuple[Path, sim.Run], tmp_path: Path,
                                                     kind: str) -> None:  # fmt: skip
    """``capture.pcapng.gz`` (as Wireshark and tshark open it): the same answer as the capture, under the file's
    own name; what it holds once decompressed is bounded by the input limit; damage and a compressed file that
    is no capture are one line each, exit 2."""
    pack = PACK[kind]
    path, _ = client_capture
    packed = tmp_path / f"client.pcapng.{kind}"
    packed.write_bytes(pack(path.read_bytes()))
    plain = _cli(str(path), "--format", "json")
    res = _cli(str(packed), "--format", "json")
    assert (res.returncode, res.stderr) == (plain.returncode, plain.stderr) == (1, "")
    assert res.stdout == plain.stdout.replace(f'"{path}"', f'"{packed}"') != plain.stdout
    limit = packed.stat().st_size + 1  # the file is within the limit, what it holds is not
    assert limit < path.stat().st_size
    res = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "--max-input", str(limit), "pcap", str(packed)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert (res.returncode, res.stderr) == (2, f"hairpin: error: {packed}: more than {limit} bytes once decompressed (a "
                                               "compression bomb?; raise the limit with hairpin --max-input SIZE or "
                                               "HAIRPIN_MAX_INPUT)\n")  # fmt: skip
    whole = packed.read_bytes()
    packed.write_bytes(whole[: len(whole) // 2])
    res = _cli(str(packed))
    assert (res.returncode, res.stderr) == (2, f"hairpin: error: {packed}: not a readable {kind} file: truncated\n")
    packed.write_bytes(damaged(kind, path.read_bytes()))
    res = _cli(str(packed))
    assert (res.returncode, res.stderr) == (2, f"hairpin: error: {packed}: not a readable {kind} file: damaged "
                                               f"({DAMAGE[kind]})\n")  # fmt: skip
    packed.write_bytes(pack(b"hello\n" * 100))
    res = _cli(str(packed))
    assert (res.returncode, res.stderr) == (2, f"hairpin: error: {packed}: not a pcap or pcapng capture once "
                                               f"decompressed from {kind} (starts with 0x68656c6c)\n")  # fmt: skip


def test_text_lists_the_first_rows_json_all(tmp_path: Path) -> None:
    """Sixty hairpins: the text report's table shows the first 50 (by first SYN) and says how many more;
    JSON lists all sixty."""
    from hairpin.diagnose.capture import TEXT_ROWS
    from hairpin.model.net import Flags, Packet, ip_int
    from hairpin.parsers.pcap import PacketRecord, write_pcap

    client, vip, node = ip_int("192.168.27.239"), ip_int("192.168.168.103"), ip_int("192.168.2.3")
    recs = []
    for i in range(60):
        t, port = 1.7e9 + i, 40000 + i
        recs += [PacketRecord(t, None, Packet(client, port, vip, 80, Flags.SYN, 1000 * i)),
                 PacketRecord(t + 0.0004, None, Packet(node, 31468, client, port, Flags.SYN | Flags.ACK, 7, 1000 * i + 1)),
                 PacketRecord(t + 0.0005, None, Packet(client, port, node, 31468, Flags.RST, 1000 * i + 1))]  # fmt: skip
    path = tmp_path / "sixty.pcap"
    write_pcap(path, recs)
    res = runner.invoke(app, ["pcap", str(path), "-o", str(tmp_path / "out.txt")])
    assert res.exit_code == 1, res.output
    text = (tmp_path / "out.txt").read_text()
    assert TEXT_ROWS == 50
    assert "192.168.27.239:40049 " in text and "192.168.27.239:40050 " not in text
    assert "... and 10 more (--format json lists them all)\n" in text
    doc = json.loads(runner.invoke(app, ["pcap", str(path), "--format", "json"]).stdout)
    assert [h["client"] for h in doc["hairpins"]] == [f"192.168.27.239:{40000 + i}" for i in range(60)]


@pytest.mark.parametrize(("keep", "damage"), [
    (10, "stopped at byte 0 (after packet 0): truncated file header"),
    (30, "stopped at byte 24 (after packet 0): truncated record header"),
    (60, "stopped at byte 24 (after packet 0): truncated packet (20 of 80 bytes)"),
])  # fmt: skip
def test_a_capture_cut_before_its_first_packet_gives_no_answer(tmp_path: Path, keep: int, damage: str) -> None:
    # a real tcpdump -i any capture (tests/data/pcap/lab-node1.pcap) cut before its first whole packet: nothing
    # was read, so no all-clear (until 2026-12-02: exit 0, "no hairpinned or failed connection in 0 TCP packets",
    # and only a warning), the same answer as a capture with no packet at all
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((Path(__file__).parent / "data" / "pcap" / "lab-node1.pcap").read_bytes()[:keep])
    res = _cli(str(cut))
    assert res.returncode == 2
    assert res.stdout.splitlines()[0] == (
        "hairpin pcap: no hairpinned or failed connection in 0 TCP packets; 1 input(s) could not be read (errors on "
        "stderr)"
    )
    assert res.stderr.splitlines()[-1] == f"hairpin: error: {cut}: no packets in the capture; {damage}"
