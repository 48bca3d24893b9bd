"""Tarballs built to be expensive (compression bombs, pax headers that tarfile reads in quadratic time, header
chains, sparse members, links out of the archive): one line naming the tarball, exit 2, nothing left behind."""

from __future__ import annotations

import bz2
import gzip
import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hairpin import reading
from hairpin.archive import MAX_HEADER_BYTES, decompress_into, read_tar
from hairpin.errors import InputError
from time_limit import within

SEED = Path(__file__).parent / "data" / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"


@pytest.fixture(autouse=True)
def _limits() -> Iterator[None]:
    yield
    reading.set_limits()


def member(name: str, data: bytes = b"", type: bytes = tarfile.REGTYPE, **kw: object) -> bytes:
    info = tarfile.TarInfo(name)
    info.type = type
    info.size = len(data) if type in (tarfile.REGTYPE, tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME) else 0
    for k, v in kw.items():
        setattr(info, k, v)
    return info.tobuf(format=tarfile.USTAR_FORMAT) + data + b"\0" * (-len(data) % 512)


def pax(records: bytes) -> bytes:
    return member("././@PaxHeader", records, tarfile.XHDTYPE)


END = b"\0" * 1024


def write(path: Path, raw: bytes, compress: bool = True) -> Path:
    path.write_bytes(gzip.compress(raw, 9) if compress else raw)
    return path


def refused(path: Path) -> str:
    with pytest.raises(InputError) as e:
        read_tar(path)
    return str(e.value)


def test_a_compression_bomb_is_read_up_to_the_input_limit(tmp_path: Path) -> None:
    reading.set_limits(size=1 << 20)
    bomb = write(tmp_path / "bomb.tgz", member("a/iptables-save", b"\0" * (4 << 20)) + END)
    assert bomb.stat().st_size < 8 << 10
    assert refused(bomb) == (f"{bomb}: more than 1 MiB once decompressed (a compression bomb?; raise the limit with "
                             "hairpin --max-input SIZE or HAIRPIN_MAX_INPUT)")  # fmt: skip
    skipped = write(tmp_path / "dup.tgz", member("a/x", b"1") + member("b/x", b"\0" * (4 << 20)) + END)
    assert refused(skipped).endswith("more than 1 MiB once decompressed (a compression bomb?; raise the limit with "
                                     "hairpin --max-input SIZE or HAIRPIN_MAX_INPUT)")  # fmt: skip
    reading.set_limits(size=8 << 20)
    assert read_tar(bomb) == {"iptables-save": b"\0" * (4 << 20)}
    bz = tmp_path / "bomb.tbz"
    bz.write_bytes(bz2.compress(member("x", b"\0" * (9 << 20)) + END))
    assert refused(bz).endswith("more than 8 MiB once decompressed (a compression bomb?; raise the limit with "
                                "hairpin --max-input SIZE or HAIRPIN_MAX_INPUT)")  # fmt: skip


def test_pax_headers_that_tarfile_reads_in_quadratic_time_are_refused(tmp_path: Path) -> None:
    # CVE-2024-6232: 256 KiB of "2 " took 65 s in Python 3.11.7's tarfile; a run of digits 10 s per 64 KiB
    huge = write(tmp_path / "huge.tgz", pax(b"2 " * (1 << 17)) + member("x") + END)
    bad = write(tmp_path / "bad.tgz", pax(b"2 " * 30000) + member("x") + END)
    value = b" comment=" + b"7" * 60000 + b"\n"
    digits = write(tmp_path / "digits.tgz", pax(str(len(value) + 5).encode() + value) + member("x") + END)
    with within(10):
        assert refused(huge) == f"{huge}: an extended header of 262144 bytes (at most {MAX_HEADER_BYTES} are accepted)"
        assert refused(bad) == f"{bad}: a malformed pax header (a record's length does not match it)"
        assert refused(digits) == f"{digits}: a pax header with a run of more than 64 digits"


def test_honest_pax_and_gnu_long_names_are_read(tmp_path: Path) -> None:
    long = "d/" + "n" * 200 + "/ip-route"
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", format=fmt) as tar:
            info = tarfile.TarInfo(long)
            info.size, info.uname = 3, "r\u00f6t"
            tar.addfile(info, io.BytesIO(b"abc"))
        assert read_tar(write(tmp_path / "ok.tgz", buf.getvalue(), compress=False)) == {"ip-route": b"abc"}


def test_header_chains_members_and_sparse_files_are_bounded(tmp_path: Path) -> None:
    chain = write(tmp_path / "chain.tgz", pax(b"9 a=bcde\n") * 5000 + member("x") + END)
    many = write(tmp_path / "many.tgz", b"".join(member(f"f{i}") for i in range(600)) + END)
    sparse = write(tmp_path / "sparse.tgz", member("s", type=tarfile.GNUTYPE_SPARSE) + END)
    gsparse = write(tmp_path / "gsparse.tgz", pax(b"22 GNU.sparse.major=1\n") + member("s") + END)
    with within(10):
        assert refused(chain) == f"{chain}: more than 8 extended headers in front of one member"
        assert refused(many) == f"{many}: more than 512 members"
        assert refused(sparse) == f"{sparse}: member s is a sparse file (not accepted)"
        assert refused(gsparse) == f"{gsparse}: a sparse member (pax GNU.sparse headers; not accepted)"


def test_only_regular_members_are_read_by_base_name(tmp_path: Path) -> None:
    inner = member("iptables-save", b"inner") + END
    raw = (member("../../etc/ip-route", b"routes") + member("ip-rule", type=tarfile.SYMTYPE, linkname="/etc/passwd")
           + member("ip-addr", type=tarfile.LNKTYPE, linkname="../../etc/shadow")
           + member("nft-ruleset", type=tarfile.CHRTYPE, devmajor=1, devminor=5)
           + member("conntrack", type=tarfile.FIFOTYPE) + member("..", b"dots") + member(".hidden", b"h")
           + member("nested.tar", inner) + member("x/ip-route", b"second") + END)  # fmt: skip
    assert read_tar(write(tmp_path / "links.tgz", raw)) == {"ip-route": b"routes", "nested.tar": inner}


def test_trace_refuses_a_bomb_in_one_line_and_leaves_nothing_behind(tmp_path: Path) -> None:
    bomb = write(tmp_path / "node1.tgz", member("node1/iptables-save", b"\0" * (3 << 20)) + END)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    for argv in (["trace", "--node", str(bomb), SYN], ["pcap", str(bomb)]):
        res = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "--max-input", "1M", *argv],
                             capture_output=True, text=True, check=False, timeout=60,
                             env={**os.environ, "TMPDIR": str(tmp)})  # fmt: skip
        assert (res.returncode, res.stdout, res.stderr) == (
            2, "", f"hairpin: error: {bomb}: more than 1 MiB once decompressed (a compression bomb?; raise the limit "
                   "with hairpin --max-input SIZE or HAIRPIN_MAX_INPUT)\n")  # fmt: skip
        assert list(tmp.iterdir()) == []


def test_trace_names_a_tarballs_member_not_its_temporary_copy(tmp_path: Path) -> None:
    """A file of a tarball is read from a temporary copy; errors and the 'read' lines name BUNDLE:MEMBER (they
    named /tmp/node1.tgz.XXXXXXXX/iptables-save, a path gone once hairpin exits)."""
    files = {n: (SEED / n).read_bytes() for n in ("iptables-save", "ip-route", "ip-rule", "ip-addr")}
    good = write(tmp_path / "node1.tgz", b"".join(member(f"node1/{n}", d) for n, d in files.items()) + END)
    bad = write(tmp_path / "bad.tgz", member("node1/iptables-save", b"*nat\n-A PREROUTING -j NOPE\nCOMMIT\n")
                + member("node1/ip-route", files["ip-route"]) + END)  # fmt: skip
    run = [sys.executable, "-m", "hairpin.cli.main", "trace", "--node"]
    res = subprocess.run([*run, str(good), SYN], capture_output=True, text=True, check=False, timeout=60)
    assert res.returncode == 0
    assert [ln for ln in res.stdout.splitlines() if ln.startswith("read ")] == [
        f"read iptables: {good}:iptables-save: iptables-save", f"read routes: {good}:ip-route: ip route",
        f"read rules: {good}:ip-rule: ip rule", f"read addrs: {good}:ip-addr: ip -o addr"]  # fmt: skip
    res = subprocess.run([*run, str(bad), SYN], capture_output=True, text=True, check=False, timeout=60)
    assert res.returncode == 2 and res.stderr.startswith(f"hairpin: error: {bad}:iptables-save:2: ")


def test_a_retina_file_of_many_commands_is_cut_in_linear_time(tmp_path: Path) -> None:
    from hairpin.collect import split_retina

    n = 40_000  # a list of commands made this n^2: 1.6 billion comparisons
    text = "Summary:\n\n" + "".join(f"cmd{i}(d)\n" for i in range(n)) + "\nExecute:\n\n" + "".join(
        f"line{i}\n" for i in range(n)) + "/usr/sbin/iptables-save\n\n*nat\nCOMMIT\n"  # fmt: skip
    text = text.replace("Summary:\n\n", "Summary:\n\n/usr/sbin/iptables-save(rules)\n", 1)
    with within(10):
        split_retina({"iptables-rules.txt": text.encode()}, tmp_path)
    assert (tmp_path / "iptables-save").read_text() == "*nat\nCOMMIT\n"


def test_members_named_longer_than_a_file_name_may_be_are_read(tmp_path: Path) -> None:
    """A 300-byte member name (pax) was an OSError traceback when its temporary copy was written."""
    from hairpin.collect import capture_files, materialize

    pcap = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("d/" + "p" * 300 + ".pcap", pcap), ("d/" + "r" * 300, (SEED / "ip-route").read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    bundle = write(tmp_path / "long.tgz", buf.getvalue(), compress=False)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ((target, shown),) = capture_files(bundle, tmp_path / "a")
    assert (target.name, shown, target.read_bytes()) == ("member-0", f"{bundle}:{'p' * 300}.pcap", pcap)
    out = materialize(bundle, tmp_path / "b")
    assert sorted(p.name for p in out.iterdir()) == ["member-0", "member-1"]


def test_a_directory_tree_1200_deep_is_walked_without_recursion(tmp_path: Path) -> None:
    """Python 3.11's Path.rglob recurses once per level: a tree 1,000 deep was a RecursionError traceback in
    hairpin pcap DIR and hairpin check DIR.  (The tree is removed here, level by level: shutil.rmtree, which
    cleans pytest's temporary directories, recurses too and fails as deep.)"""
    from hairpin.collect import capture_files
    from hairpin.parsers import manifests

    deep = tmp_path / "t"
    deep.mkdir()
    here = os.getcwd()
    os.chdir(deep)  # each level made relative to the last
    try:
        for _ in range(1200):
            os.mkdir("a")
            os.chdir("a")
        Path("svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: []}\n")
        Path("x.pcap").write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
        os.chdir(here)
        ((_, shown),) = capture_files(deep, tmp_path)
        assert shown == f"{deep}:" + "a/" * 1200 + "x.pcap"
        assert [o.name for o in manifests.load_paths([deep])] == ["s"]
    finally:
        os.chdir(deep)
        for _ in range(1200):
            if not os.path.isdir("a"):
                break
            os.chdir("a")
        for name in ("svc.yaml", "x.pcap"):
            if os.path.exists(name):
                os.remove(name)
        while os.getcwd() != str(deep):
            os.chdir("..")
            os.rmdir("a")
        os.chdir(here)


def test_a_copy_that_cannot_be_written_is_not_called_damage(tmp_path: Path) -> None:
    """A compressed capture is decompressed into the work directory; a full disk there (``/dev/full``) is said
    as such, not as a damaged file."""
    src = tmp_path / "capture.pcap.gz"
    src.write_bytes(gzip.compress(b"\xd4\xc3\xb2\xa1" + b"\0" * 4096))
    with pytest.raises(InputError) as e:
        decompress_into(src, Path("/dev/full"), "gzip")
    assert str(e.value) == f"{src}: could not be decompressed into the work directory (No space left on device)"
    out = tmp_path / "capture"
    decompress_into(src, out, "gzip")
    assert out.read_bytes() == b"\xd4\xc3\xb2\xa1" + b"\0" * 4096
