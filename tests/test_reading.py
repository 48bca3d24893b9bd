"""hairpin.reading, the one input layer: size limits, bounded reads of devices and pipes, UTF-8, YAML depth and
aliases, JSON depth, short error lines; and each hostile input class through the CLI (one line, exit 2)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hairpin import reading
from hairpin.cli.main import main
from hairpin.errors import InputError, ParseError
from packing import DAMAGE, damaged, packed

NODE = Path(__file__).parent / "data" / "trace" / "seed-node1"
SEED_DUMP = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"


@pytest.fixture(autouse=True)
def _default_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(reading.SIZE_ENV, raising=False)
    monkeypatch.delenv(reading.DEPTH_ENV, raising=False)
    reading.set_limits()


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    reading.set_limits()
    return int(exc.value.code or 0), out, err


def bomb(levels: int = 9) -> str:
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        text += f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    return text


# ---------------------------------------------------------------------------------------------- the layer


def test_parse_size() -> None:
    assert [reading.parse_size(s) for s in ("10", "1k", "2M", "1G", "3MiB", " 5 kb ")] == [
        10, 1024, 2 << 20, 1 << 30, 3 << 20, 5120]  # fmt: skip
    with pytest.raises(InputError) as e:
        reading.parse_size("lots", "--max-input")
    assert str(e.value) == "--max-input must be a number of bytes, optionally with K, M or G, got 'lots'"


def test_size_limit_regular_file_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "big"
    f.write_text("x" * 2048)
    monkeypatch.setenv(reading.SIZE_ENV, "1K")
    with pytest.raises(InputError) as e:
        reading.read_text(f)
    assert str(e.value) == (
        f"{f}: larger than the input limit of 1 KiB (raise it with hairpin --max-input SIZE or HAIRPIN_MAX_INPUT)"
    )
    reading.set_limits(size=4096)  # the option wins over the environment
    assert reading.read_text(f) == "x" * 2048


def test_endless_device_ends_with_one_line() -> None:
    with pytest.raises(ParseError) as e:
        reading.read_text("/dev/zero")
    assert str(e.value) == "/dev/zero:1: not a text file: NUL byte at byte 0"
    reading.set_limits(size=3 << 20)
    with pytest.raises(InputError) as e2:
        reading.read_bytes("/dev/zero")  # binary: only the limit stops it, at limit + 1 byte
    assert str(e2.value).startswith("/dev/zero: larger than the input limit of 3 MiB")


def test_stdin_is_bounded_and_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = io.BytesIO(b"y\n" * 4096)

    monkeypatch.setattr(sys, "stdin", Stdin)
    reading.set_limits(size=1000)
    with pytest.raises(InputError) as e:
        reading.read_text("-")
    assert str(e.value).startswith("<stdin>: larger than the input limit of 1000 bytes")
    Stdin.buffer = io.BytesIO(b"ok\nbad \xff\n")
    with pytest.raises(ParseError) as e2:
        reading.read_text("-")
    assert str(e2.value) == "<stdin>:2: not UTF-8 text (byte 7)"


def test_text_normalisation(tmp_path: Path) -> None:
    f = tmp_path / "t"
    f.write_bytes(b"\xef\xbb\xbfa\r\nb\rc\n")
    assert reading.read_text(f) == "a\nb\nc\n"
    with pytest.raises(InputError) as e:
        reading.read_text(tmp_path)
    assert str(e.value) == f"{tmp_path}: cannot read: Is a directory"
    with pytest.raises(InputError) as e:
        reading.read_text(tmp_path / "missing")
    assert str(e.value) == f"{tmp_path / 'missing'}: cannot read: No such file or directory"


def test_yaml_alias_bomb_refused_quickly() -> None:
    with pytest.raises(ParseError) as e:
        reading.load_yaml(bomb(), "b.yaml")
    assert str(e.value) == (
        "b.yaml:2: YAML alias *a is not accepted (aliases can expand a small file into gigabytes; write the value out)"
    )


def test_the_json_depth_is_this_pythons_and_said_as_people_round_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    n = reading.json_depth()  # 994 levels with CPython 3.11, 1,497 with 3.12, 9,998 with 3.13
    json.loads("[" * (n // 2) + "]" * (n // 2))
    with pytest.raises(RecursionError):
        json.loads("[" * (2 * n + 10) + "]" * (2 * n + 10))
    for depth, about in ((994, "1,000"), (1497, "1,500"), (9998, "10,000"), (310, "300"), (40, "100")):
        monkeypatch.setattr(reading, "json_depth", lambda depth=depth: depth)
        assert reading.too_deep("JSON (ip -j route)") == (
            f"not accepted: JSON (ip -j route) nested too deeply (more than about {about} levels)")


def test_yaml_depth_limit() -> None:
    deep = "[" * 101 + "]" * 101
    with pytest.raises(ParseError) as e:
        reading.load_yaml(deep, "d.yaml")
    assert str(e.value) == (
        "d.yaml:1: nested more than 100 levels deep (raise it with hairpin --max-depth N or HAIRPIN_MAX_DEPTH)"
    )
    assert reading.load_yaml("[" * 100 + "]" * 100, "d.yaml") is not None
    reading.set_limits(depth=200)
    assert reading.load_yaml(deep, "d.yaml") is not None
    reading.set_limits()
    with pytest.raises(ParseError):  # libyaml's composer would overflow the C stack on this
        reading.load_yaml("[" * 200_000 + "]" * 200_000, "d.yaml")


def test_yaml_control_character_is_one_line() -> None:
    with pytest.raises(ParseError) as e:
        reading.load_yaml("name: ok\nname2: a\x07b\n", "c.yaml")
    assert str(e.value) == "c.yaml:2: not valid YAML: control character #x0007 is not allowed"


def test_error_lines_are_short_and_printable() -> None:
    e = ParseError("bad rule " + "x" * 10_000_000 + "\x1b[31m", "f", 3)
    assert len(str(e)) < 420 and str(e).startswith("f:3: bad rule xxx") and "\n" not in str(e)
    assert str(ParseError("a\nb\x1b", "f")) == "f: a\\nb\\x1b"
    assert reading.excerpt("y" * 100) == repr("y" * 60) + "... (100 characters)"


# ---------------------------------------------------------------------------------------------- through the CLI


def test_cli_scenario_hostile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = "a: 1\n"
    for _ in range(800):
        deep = "x:\n" + "".join("  " + line + "\n" for line in deep.splitlines())
    cases = {
        "deep.yaml": (deep, "deep.yaml:101: nested more than 100 levels deep"),
        "ctrl.yaml": ("name: a\x07b\n", "ctrl.yaml:1: not valid YAML: control character #x0007 is not allowed"),
        "bomb.yaml": (bomb(), "bomb.yaml:2: YAML alias *a is not accepted"),
    }
    for name, (text, want) in cases.items():
        (tmp_path / name).write_text(text)
        code, out, err = cli(["reproduce", "--scenario", str(tmp_path / name)], capsys)
        assert (code, out) == (2, "")
        assert err.startswith(f"hairpin: error: {tmp_path}/{want}") and err.count("\n") == 1
    code, _, err = cli(["reproduce", "--scenario", "/dev/zero"], capsys)
    assert (code, err) == (2, "hairpin: error: /dev/zero:1: not a text file: NUL byte at byte 0\n")


def test_cli_check_hostile(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    deep = 2 * reading.json_depth() + 10  # past this Python's JSON decoder (its limit depends on the version)
    (tmp_path / "deep.json").write_text('{"kind": "List", "items": [' + "[" * deep + "]" * deep + "]}")
    (tmp_path / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels:\n    "
                                       + bomb().replace("\n", "\n    "))  # fmt: skip
    for name, want in (
        ("deep.json", f"deep.json: {reading.too_deep()}"),
        ("pod.yaml", "pod.yaml:11: YAML aliases stand for more than 100,000 nodes (an alias bomb?): refused"),
    ):
        code, out, err = cli(["check", str(tmp_path / name), "--format", "json"], capsys)
        assert code == 2 and out == ""
        first, second = err.splitlines()
        assert first.startswith(f"hairpin: error: {tmp_path}/{want}")
        assert second == f"hairpin: error: {tmp_path}/{name}: no Kubernetes objects found (--allow-empty accepts that)"

    class Stdin:
        buffer = io.BytesIO(b"kind: Pod\nmetadata: {name: \xff}\n")

    monkeypatch.setattr(sys, "stdin", Stdin)
    code, _, err = cli(["check", "-", "--format", "json"], capsys)
    assert (code, err.splitlines()[0]) == (2, "hairpin: error: <stdin>:2: not UTF-8 text (byte 27)")
    Stdin.buffer = io.BytesIO(b"y\n" * 5000)
    code, _, err = cli(["--max-input", "4K", "check", "-", "--format", "json"], capsys)
    assert (code, err.splitlines()[0]) == (
        2, "hairpin: error: <stdin>: larger than the input limit of 4 KiB (raise it with hairpin --max-input SIZE or "
        "HAIRPIN_MAX_INPUT)")  # fmt: skip


def test_cli_trace_hostile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ipset").write_bytes(b"create x hash:ip family inet\nadd x \xff\xfe\n")
    (tmp_path / "ipvs").write_bytes(b"-A -t \xff:80 -s rr\n")
    (tmp_path / "iptables-save").write_text("*filter\n-A " + "x" * 10_000_000 + "\nCOMMIT\n")
    base = ["trace", "--iptables-save", str(NODE / "iptables-save"), "--routes", str(NODE / "ip-route")]
    for extra, want in (
        (["--ipset", str(tmp_path / "ipset")], f"{tmp_path}/ipset:2: not UTF-8 text (byte 35)"),
        (["--ipvs", str(tmp_path / "ipvs")], f"{tmp_path}/ipvs:1: not UTF-8 text (byte 6)"),
        (["--rules", "/dev/zero"], "/dev/zero:1: not a text file: NUL byte at byte 0"),
        (["--addrs", "/dev/zero"], "/dev/zero:1: not a text file: NUL byte at byte 0"),
    ):
        code, _, err = cli([*base, *extra, SYN], capsys)
        assert (code, err) == (2, f"hairpin: error: {want}\n")
    code, _, err = cli(["trace", "--iptables-save", str(tmp_path / "iptables-save"), "--routes",
                        str(NODE / "ip-route"), SYN], capsys)  # fmt: skip
    assert code == 2 and err.startswith(f"hairpin: error: {tmp_path}/iptables-save:2: ") and len(err) < 420


def test_cli_broken_kubeconfig_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kc = tmp_path / "kc"
    kc.write_text("apiVersion: v1\nkind: Config\nclusters: [\n")
    code, _, err = cli(["check", "--kubeconfig", str(kc)], capsys)
    assert (code, err) == (2, f"hairpin: error: {kc}:4: not valid YAML: while parsing a flow node, did not find "
                              "expected node content\n")  # fmt: skip
    kc.write_text(bomb())
    code, _, err = cli(["check", "--kubeconfig", str(kc)], capsys)
    assert code == 2 and err.startswith(f"hairpin: error: {kc}:2: YAML alias *a is not accepted")
    kc.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
    code, _, err = cli(["check", "--kubeconfig", str(kc)], capsys)
    assert code == 2 and err.startswith(f"hairpin: error: {kc}: cannot load kubeconfig: ") and err.count("\n") == 1


def test_check_empty_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(["check", str(tmp_path)], capsys)
    assert (code, out, err) == (2, "", f"hairpin: error: {tmp_path}: no Kubernetes objects found (--allow-empty "
                                       "accepts that)\n")  # fmt: skip
    (tmp_path / "c.yaml").write_text("# only a comment\n---\n")
    code, out, err = cli(["check", str(tmp_path / "c.yaml"), "--format", "json"], capsys)
    assert code == 2 and "no Kubernetes objects found" in err
    code, out, err = cli(["check", str(tmp_path), "--allow-empty", "--format", "json"], capsys)
    assert (code, err) == (0, "")
    assert json.loads(out) == {"services": [], "errors": [], "cloud_config": {
        "nlb_security_group_mode": "unknown", "value": None, "source": None,
        "note": "NLBSecurityGroupMode unknown: no cloud config in the input (--cloud-config FILE)"},
        "datapath": None, "cni_warnings": [], "version_warnings": [], "lbc_warnings": [],
        "lbc_problems": [], "ip_family_warnings": []}  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "want"),
    [  # the strict reader refuses what kubectl refuses (a number where an int32 goes), from-cluster the rest
        ("port: .nan", "spec.ports[0].port is a number, not an int32"),
        ("port: eighty", "spec.ports[0].port is a string, not an int32"),
        ("port: 1e999", "spec.ports[0].port is a string, not an int32"),
        # the API server's refusals (hairpin.kube.apivalidation.ports_refusal), as hairpin check words them
        ("port: 70000", "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive: the API "
                        "server refuses the Service"),
        ("nodePort: -5", "spec.ports[0].nodePort: Invalid value: -5: provided port is not in the valid range."),
        ("targetPort: 70000", "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, "
                              "inclusive: the API server refuses the Service"),
    ],
)  # fmt: skip
def test_from_cluster_bad_values_name_the_input(
    edit: str, want: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    doc = yaml.safe_load(SEED_DUMP.read_text())
    key, value = edit.split(": ")
    for item in doc["items"]:
        if item["kind"] == "Service" and item["spec"].get("type") == "LoadBalancer":
            item["spec"]["ports"][0][key] = yaml.safe_load(value)
    f = tmp_path / "dump.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out, err = cli(["scenario", "from-cluster", str(f), "--service", "nginx-demo/service-nginx-demo",
                          "--client-pod", "default/netshoot"], capsys)  # fmt: skip
    assert (code, out) == (2, "")
    lines = f.read_text().splitlines()
    at = next(i for i, line in enumerate(lines, 1) if line.lstrip().startswith(("- " + key + ":", key + ":"))
              and "ports" not in line)  # fmt: skip
    # a value of the wrong type is refused at its own line, a value the API server refuses at the Service's
    service_at = max(i for i, line in enumerate(lines[:at], 1) if line.startswith("- ")) if " is a" not in want else at
    assert err.startswith(f"hairpin: error: {f}:{service_at}: {want}") and err.count("\n") == 1


def test_from_cluster_bad_address_names_the_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    doc = yaml.safe_load(SEED_DUMP.read_text())
    for item in doc["items"]:
        if item["kind"] == "Pod" and item["metadata"]["name"] == "netshoot":
            item["status"]["podIP"] = "999.1.1.1"
    f = tmp_path / "dump.json"
    f.write_text(json.dumps(doc))
    code, out, err = cli(["scenario", "from-cluster", str(f), "--service", "nginx-demo/service-nginx-demo",
                          "--client-pod", "default/netshoot", "-o", "-"], capsys)  # fmt: skip
    assert (code, out) == (2, "")
    assert err == f"hairpin: error: {f}: Pod default/netshoot: status.podIP: not an IPv4 address: '999.1.1.1'\n"
    for item in doc["items"]:  # an IPv6 cluster's pod
        if item["kind"] == "Pod" and item["metadata"]["name"] == "netshoot":
            item["status"]["podIP"] = "2a05:d018:1:a00::5"
    f.write_text(json.dumps(doc))
    code, out, err = cli(["scenario", "from-cluster", str(f), "--service", "nginx-demo/service-nginx-demo",
                          "--client-pod", "default/netshoot", "-o", "-"], capsys)  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (f"hairpin: error: {f}: Pod default/netshoot: status.podIP: 2a05:d018:1:a00::5: an IPv6 address; "
                   "scenario from-cluster builds IPv4 scenarios only (write an IPv6 scenario by hand from "
                   "examples/seed-ipv6.yaml; hairpin check reads IPv6 Services)\n")


def test_pcapng_section_length_is_bounded(tmp_path: Path) -> None:
    from hairpin.parsers.pcap import Reader

    f = tmp_path / "huge.pcapng"
    f.write_bytes(b"\x0a\x0d\x0d\x0a" + (0xFFFFFFF0).to_bytes(4, "little") + b"\x4d\x3c\x2b\x1a" + b"\0" * 16)
    r = Reader(f)
    assert list(r) == []
    assert r.damage == "stopped at byte 0 (after packet 0): corrupt section header (length 4294967280)"


def test_dev_zero_in_a_subprocess_is_bounded() -> None:
    """Every text input given /dev/zero ends at once with one line, in a process limited to 1 GiB."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    for args in (["check", "/dev/zero"], ["scenario", "validate", "/dev/zero"],
                 ["trace", "--iptables-save", "/dev/zero", "--routes", str(NODE / "ip-route"), SYN]):  # fmt: skip
        r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", *args], capture_output=True, text=True,
                           preexec_fn=limit, timeout=120, check=False)  # fmt: skip
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "hairpin: error: /dev/zero:1: not a text file: NUL byte at byte 0" in r.stderr


def test_manifest_aliases_are_counted_not_refused() -> None:
    """Manifests may use merge keys; what aliases stand for is counted from events, and bounded."""
    from hairpin.parsers import manifests

    text = "x: &d {a: '1', b: '2'}\nkind: ConfigMap\nmetadata: {name: n}\ndata:\n  <<: *d\n  c: '3'\n"
    (obj,) = manifests.parse_yaml(text, "m.yaml")
    assert obj.data["data"] == {"a": "1", "b": "2", "c": "3"}
    assert reading.check_yaml_events(text, "m.yaml", aliases=True) is None
    big = "x: &a [" + ", ".join(["0"] * 60_000) + "]\ny: [*a, *a]\n"
    bad = reading.check_yaml_events(big, "m.yaml", aliases=True)
    assert bad is not None and str(bad[1]) == (
        "m.yaml:2: YAML aliases stand for more than 100,000 nodes (an alias bomb?): refused")
    with pytest.raises(ParseError):
        reading.load_yaml(text, "scenario.yaml")  # elsewhere, any alias is refused


def test_utf16_with_its_byte_order_mark_is_read_as_kubectl_reads_it(tmp_path: Path) -> None:
    # Windows PowerShell 5.1's `kubectl get ... -o yaml > dump.yaml` writes UTF-16LE with a byte-order mark, which
    # kubectl reads (cli-runtime's FileVisitor); until 2026-12-02 hairpin said "not a text file: NUL byte at byte 3"
    f = tmp_path / "dump.yaml"
    for codec in ("utf-16", "utf-16-le", "utf-16-be"):
        bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[codec]
        f.write_bytes(bom + "kind: List\r\nitems: []\r\n# é\n".encode(codec))
        assert reading.read_text(f) == "kind: List\nitems: []\n# é\n", codec
    f.write_bytes("a\nb\0c\n".encode("utf-16"))
    with pytest.raises(ParseError) as e:
        reading.read_text(f)
    assert str(e.value) == f"{f}:2: not a text file: NUL character at character 3 (UTF-16)"
    f.write_bytes(b"\xff\xfea\x00\n\x00\x00\xd8b\x00")  # a lone high surrogate on line 2
    with pytest.raises(ParseError) as e:
        reading.read_text(f)
    assert str(e.value) == f"{f}:2: not UTF-16 text (byte 6; it starts with a UTF-16 byte-order mark)"
    f.write_bytes("a\n".encode("utf-16-le"))  # no byte-order mark: not told from binary, refused as before
    with pytest.raises(ParseError) as e:
        reading.read_text(f)
    assert str(e.value) == f"{f}:1: not a text file: NUL byte at byte 1"


def test_check_reads_a_utf16_dump_as_its_utf8_twin(tmp_path: Path) -> None:
    dump = (Path(__file__).parent / "data" / "check" / "seed-dump.yaml").read_text()
    f = tmp_path / "dump.yaml"
    out = []
    for data in (dump.encode(), dump.replace("\n", "\r\n").encode("utf-16")):
        f.write_bytes(data)
        r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "check", str(f)], capture_output=True, text=True,
                           check=False)  # fmt: skip
        out.append((r.returncode, r.stdout, r.stderr))
    assert out[0] == out[1] and out[0][0] == 1


# ------------------------------------------------------------------------------------------ compressed input


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_compressed_text_is_read_decompressed(tmp_path: Path, kind: str) -> None:
    # `kubectl get ... -o json | gzip > dump.json.gz`: read as the text it holds, told by its first bytes, not its name
    f = tmp_path / "dump"
    text = "kind: List\r\nitems: []\n# é\n"
    f.write_bytes(packed(kind, text.encode()))
    assert reading.compression(f.read_bytes()[: reading.MAGIC_BYTES]) == kind
    assert reading.read_text(f) == "kind: List\nitems: []\n# é\n"
    # two streams one after the other (`gzip -c a >> f; gzip -c b >> f`) read as their texts joined, as gunzip does
    f.write_bytes(packed(kind, b"a: 1\n") + packed(kind, b"b: 2\n"))
    assert reading.read_text(f) == "a: 1\nb: 2\n"
    # what it holds is held to the text rules, with the line of the decompressed text
    f.write_bytes(packed(kind, b"a: 1\nb: \0\n"))
    with pytest.raises(ParseError) as e:
        reading.read_text(f)
    assert str(e.value) == f"{f}:2: not a text file: NUL byte at byte 8"
    f.write_bytes(packed(kind, "kind: List\n".encode("utf-16")))  # UTF-16 with its mark, compressed
    assert reading.read_text(f) == "kind: List\n"


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz"])
def test_compressed_input_is_bounded_and_damage_is_one_line(tmp_path: Path, kind: str) -> None:
    f = tmp_path / "dump.json"
    f.write_bytes(packed(kind, b" " * 5000))  # a bomb in small: 5,000 bytes once decompressed
    reading.set_limits(size=4096)
    with pytest.raises(InputError) as e:
        reading.read_text(f)
    assert str(e.value) == (f"{f}: more than 4 KiB once decompressed (a compression bomb?; raise the limit with "
                            "hairpin --max-input SIZE or HAIRPIN_MAX_INPUT)")  # fmt: skip
    reading.set_limits()
    whole = packed(kind, b"kind: List\nitems: []\n" * 50)
    f.write_bytes(whole[: len(whole) - 6])  # cut short
    with pytest.raises(InputError) as e:
        reading.read_text(f)
    assert str(e.value) == f"{f}: not a readable {kind} file: truncated"
    f.write_bytes(damaged(kind, b"kind: List\nitems: []\n" * 50))
    with pytest.raises(InputError) as e:
        reading.read_text(f)
    assert str(e.value) == f"{f}: not a readable {kind} file: damaged ({DAMAGE[kind]})"


def test_zstd_is_named_and_text_that_looks_like_bzip2_stays_text(tmp_path: Path) -> None:
    f = tmp_path / "dump.yaml"
    f.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 20)
    with pytest.raises(InputError) as e:
        reading.read_text(f)
    assert str(e.value) == f"{f}: zstd-compressed: hairpin opens gzip, bzip2 and xz files; decompress it first (zstd -d FILE)"
    f.write_bytes(b"BZh91AY&SY: x\n")  # bzip2's whole signature, as ASCII text: not a bzip2 stream
    assert reading.read_text(f) == "BZh91AY&SY: x\n"
    f.write_bytes(b"BZh9 is text\n")  # ``BZh`` and a digit alone are not the signature
    assert reading.compression(f.read_bytes()) is None
    assert reading.read_text(f) == "BZh9 is text\n"
    f.write_bytes(b"\x1f\x8b")  # two bytes of a gzip header: too short to be one, refused as binary
    with pytest.raises(ParseError) as e:
        reading.read_text(f)
    assert str(e.value) == f"{f}:1: not UTF-8 text (byte 1)"


def test_check_reads_a_gzipped_dump_as_the_dump_and_from_stdin(tmp_path: Path) -> None:
    dump = SEED_DUMP.read_bytes()
    plain, gz = tmp_path / "dump.yaml", tmp_path / "dump.yaml.gz"
    plain.write_bytes(dump)
    gz.write_bytes(packed("gzip", dump))
    runs = []
    for args, stdin in (([str(plain)], None), ([str(gz)], None), (["-"], packed("xz", dump))):
        r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "check", *args, "--format", "json"],
                           input=stdin, capture_output=True, check=False)  # fmt: skip
        runs.append((r.returncode, r.stdout, r.stderr))
    # the same answer; the JSON names each Service's file, and only that differs
    assert runs[0][0] == 1 and runs[0][2] == b"" and b'"file": "<stdin>"' in runs[2][1]
    assert runs[1][:2] == (1, runs[0][1].replace(b"dump.yaml", b"dump.yaml.gz")) and runs[1][2] == b""
    assert runs[2] == (1, runs[0][1].replace(str(plain).encode(), b"<stdin>"), b"")


def test_cli_kubeconfig_from_environment_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # A kubeconfig the client cannot load is named as the user gave it: --kubeconfig, else $KUBECONFIG as set
    # (a list of files), else ~/.kube/config; never ~/.kube/config when $KUBECONFIG chose other files.
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    monkeypatch.setenv("KUBECONFIG", f"{a}:{b}")
    code, out, err = cli(["check", "--live"], capsys)
    assert (code, out) == (2, "")
    assert err == (f"hairpin: error: KUBECONFIG={a}:{b}: cannot load kubeconfig: Invalid kube-config file. "
                   f"Expected key current-context in {a}\n")  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", str(b))  # no such file: the client reads nothing
    code, out, err = cli(["check", "--live"], capsys)
    assert (code, err) == (2, f"hairpin: error: KUBECONFIG={b}: cannot load kubeconfig: Invalid kube-config file. "
                              "No configuration found.\n")  # fmt: skip
    code, out, err = cli(["check", "--kubeconfig", str(a)], capsys)  # the flag wins over $KUBECONFIG
    assert (code, err) == (2, f"hairpin: error: {a}: cannot load kubeconfig: Invalid kube-config file. "
                              f"Expected key current-context in {a}\n")  # fmt: skip
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = cli(["check", "--live"], capsys)
    assert (code, err) == (2, "hairpin: error: ~/.kube/config: cannot load kubeconfig: Invalid kube-config file. "
                              "No configuration found.\n")  # fmt: skip
