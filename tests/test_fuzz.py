"""Fuzzing every kind of input hairpin reads: valid files mutated by hypothesis, and the hostile classes found
so far as fixed cases.

Each run goes through the CLI and must end with exit 0, 1 or 2, no traceback, every stderr line a
``hairpin: error:`` (or warning) line, and a bad file named in the error.  Most runs are in-process (the CLI's
``main`` with the input limit lowered to 1 MiB and a 30 s alarm as the bound on time); the hostile classes also
run in subprocesses with a 1 GiB address-space limit (``RLIMIT_AS``) and a timeout, so a blow-up in memory or
time fails the test instead of the machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hairpin import reading
from hairpin.cli.main import main
from time_limit import within

DATA = Path(__file__).parent / "data"
NODE = DATA / "trace" / "seed-node1"
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
SERVICE = ["--service", "nginx-demo/service-nginx-demo", "--client-pod", "default/netshoot"]
FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip

# ---------------------------------------------------------------------------------------------- valid inputs


def _ipvs_files() -> dict[str, bytes]:
    """ipset-save and ipvsadm -Sn text of the seed's node1 in IPVS mode, as the simulator's model writes them."""
    from hairpin import scenario
    from hairpin.kube import ipvs as kipvs
    from hairpin.parsers import ipvsadm
    from hairpin.topology import build

    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, mode="ipvs"))
    return {"ipset": build(s).namespace("node1").ipsets.encode(),
            "ipvs": ipvsadm.dump(kipvs.virtual_servers(s, "node1")).encode()}  # fmt: skip


def _pcapng() -> bytes:
    from hairpin.parsers import pcap

    buf = io.BytesIO()
    pcap.write_pcapng(buf, list(pcap.read(DATA / "pcap" / "lab-node1.pcap"))[:12])
    return buf.getvalue()


@pytest.fixture(scope="module")
def valid() -> dict[str, bytes]:
    from importlib import resources

    dump = yaml.safe_load((DATA / "check" / "seed-dump.yaml").read_text())
    return {
        "scenario": resources.files("hairpin").joinpath("scenarios/seed.yaml").read_bytes(),
        "iptables-save": (NODE / "iptables-save").read_bytes(),
        "ip-route": (NODE / "ip-route").read_bytes(),
        "ip-rule": (NODE / "ip-rule").read_bytes(),
        "ip-addr": (NODE / "ip-addr").read_bytes(),
        "ip-addr-brief": b"lo               UNKNOWN        127.0.0.1/8 ::1/128 \neth0             UP             "
                         b"192.168.2.3/19 fe80::4c5:8dff:fe3e:5a8b/64 \n",
        "cloud-config": b"[Global]\nZone = eu-west-1a\n; a comment\nNLBSecurityGroupMode = Managed\n"
                        b"KubernetesClusterTag = \"seed\"\n",
        **_ipvs_files(),
        "manifest.yaml": (DATA / "check" / "manifests" / "app.yaml").read_bytes(),
        "dump.yaml": (DATA / "check" / "seed-dump.yaml").read_bytes(),
        "dump.json": json.dumps(dump, indent=2).encode(),
        "pcap": (DATA / "pcap" / "lab-node1.pcap").read_bytes()[:3000],
        "pcapng": _pcapng(),
    }


def command(kind: str, f: str) -> list[str]:
    """The CLI call that reads a file of ``kind`` at ``f``."""
    node = ["--iptables-save", str(NODE / "iptables-save"), "--routes", str(NODE / "ip-route")]
    if kind == "scenario":
        return ["scenario", "validate", f]
    if kind == "iptables-save":
        return ["trace", "--iptables-save", f, "--routes", str(NODE / "ip-route"), SYN]
    if kind == "ip-route":
        return ["trace", "--iptables-save", str(NODE / "iptables-save"), "--routes", f, SYN]
    if kind == "ip-rule":
        return ["trace", *node, "--rules", f, SYN]
    if kind in ("ip-addr", "ip-addr-brief"):
        return ["trace", *node, "--addrs", f, SYN]
    if kind == "cloud-config":
        return ["check", str(DATA / "check" / "seed-dump.yaml"), "--cloud-config", f, "--format", "json"]
    if kind == "ipset":
        return ["trace", *node, "--ipset", f, SYN]
    if kind == "ipvs":
        return ["trace", *node, "--ipvs", f, SYN]
    if kind in ("manifest.yaml", "dump.yaml", "dump.json"):
        return ["check", f, "--format", "json"]
    if kind == "from-cluster":
        return ["scenario", "from-cluster", f, *SERVICE, "-o", "-"]
    if kind in ("pcap", "pcapng"):
        return ["pcap", f, "--format", "json"]
    raise AssertionError(kind)


# ---------------------------------------------------------------------------------------------- mutations

TOKENS = [b"\x00", b"\xff\xfe", b"\x07", b"\x1b[2J", b"\r", b"\t", b"&a ", b"*a", b"&a [1, 2]\nb: *a\n",
          b"[" * 150, b"{" * 150, b"- " * 120, b": ", b"---\n", b"...\n", b"!!python/object:os.system ''",
          b"1e999", b".nan", b"-1", b"65536", b"0x10", b"999.1.1.1", b"::1", b"\xe2\x80\xae", b"'", b'"', b"\\",
          b"x" * 5000, b"\n" * 50, b"COMMIT\n", b"*nat\n", b"-A ", b"-j ", b"--", b"/33", b"table ", b"lookup ",
          b"\xff\xff\xff\xff", b"\x0a\x0d\x0d\x0a", b"\x00\x00\x00\x00"]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with one to four edits: a byte changed, bytes inserted (random or a hostile token), a range
    deleted or repeated, or the end cut off."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "token", "delete", "repeat", "truncate"]))
        at = draw(st.integers(0, len(out)))
        if op == "flip" and out:
            out[min(at, len(out) - 1)] = draw(st.integers(0, 255))
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "token":
            out[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 64))]
        elif op == "repeat":
            piece = bytes(out[at : at + draw(st.integers(1, 40))])
            out[at:at] = piece * draw(st.integers(1, 20))
        elif op == "truncate":
            del out[at:]
    return bytes(out)


# ---------------------------------------------------------------------------------------------- running


def run_cli(args: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """``hairpin ARGS`` in this process with the input limit at 1 MiB: (exit code, stdout, stderr)."""

    class Stdin:
        buffer = io.BytesIO(stdin)

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = Stdin  # type: ignore[assignment]
    try:
        with within(30), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["--max-input", "1M", *args])
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = saved
        reading.set_limits()
    return code, out.getvalue(), err.getvalue()


#: Errors about a whole file, which have no line to name.
WHOLE_FILE = ("larger than the input limit", "not accepted: JSON nested too deeply", "no Kubernetes objects found",
              "not a pcap or pcapng capture", "empty file, not a capture", "cannot read", "no IPv4 route in the file",
              "no local addresses", "no such Service in the input", "larger than a scenario may be")  # fmt: skip


def check_run(code: int, err: str, name: str, text: bool = False) -> None:
    """Exit 0, 1 or 2; no traceback; stderr is hairpin's own lines; exit 2 names ``name`` (for a text file,
    with the line, unless the error is about the whole file)."""
    assert code in (0, 1, 2), (code, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    lines = err.splitlines()
    assert all(len(line) <= 420 for line in lines), max(lines, key=len)[:300]
    mine = [line for line in lines if line.startswith(("hairpin: error: ", "hairpin: warning: "))]
    assert code != 2 or mine, err[-2000:]
    if code == 2:
        assert any(name in line for line in mine), (name, err[-2000:])
        if text:
            first = next(line for line in mine if name in line)
            assert re.match(rf"hairpin: error: {re.escape(name)}:\d+: ", first) or any(
                w in first for w in WHOLE_FILE
            ), first


def fuzz_one(tmp: Path, kind: str, data: bytes, cmd_kind: str | None = None) -> None:
    f = tmp / kind
    f.write_bytes(data)
    code, _, err = run_cli(command(cmd_kind or kind, str(f)))
    check_run(code, err, str(f), text=kind not in ("pcap", "pcapng"))


# ---------------------------------------------------------------------------------------------- property tests


@pytest.mark.parametrize("kind", ["scenario", "iptables-save", "ip-route", "ip-rule", "ip-addr", "ip-addr-brief",
                                  "ipset", "ipvs", "manifest.yaml", "dump.yaml", "dump.json", "pcap", "pcapng",
                                  "cloud-config"])  # fmt: skip
def test_mutated_inputs(kind: str, valid: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")

    @FUZZ
    @given(st.data())
    def one(data: st.DataObject) -> None:
        fuzz_one(tmp, kind, data.draw(mutated(valid[kind])))

    one()


def test_mutated_dumps_through_from_cluster(valid: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")

    @FUZZ
    @given(st.data(), st.sampled_from(["dump.yaml", "dump.json"]))
    def one(data: st.DataObject, kind: str) -> None:
        fuzz_one(tmp, kind, data.draw(mutated(valid[kind])), "from-cluster")

    one()


def test_mutated_json_on_stdin(valid: dict[str, bytes]) -> None:
    @settings(FUZZ, max_examples=15)
    @given(st.data())
    def one(data: st.DataObject) -> None:
        code, _, err = run_cli(["check", "-", "--format", "json"], stdin=data.draw(mutated(valid["dump.json"])))
        check_run(code, err, "<stdin>")

    one()


VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                   st.text(max_size=12), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))  # fmt: skip


def test_values_in_a_valid_dump(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Any JSON value in the places check and from-cluster read (ports, addresses, labels, spec, metadata)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    base = yaml.safe_load((DATA / "check" / "seed-dump.yaml").read_text())
    paths = [("Service", "spec", "ports", 0, "port"), ("Service", "spec", "ports", 0, "targetPort"),
             ("Service", "spec", "ports", 0, "nodePort"), ("Service", "spec", "ports", 0, "protocol"),
             ("Service", "spec", "type"), ("Service", "spec", "externalTrafficPolicy"),
             ("Service", "metadata", "annotations"), ("Service", "spec", "selector"),
             ("Pod", "status", "podIP"), ("Pod", "spec", "nodeName"), ("Pod", "metadata", "labels"),
             ("Node", "metadata", "labels"), ("Node", "status", "addresses"),
             ("EndpointSlice", "endpoints"), ("Service", "spec"), ("Pod", "metadata"), ("Node", "status")]  # fmt: skip

    @settings(FUZZ, max_examples=40)
    @given(st.sampled_from(paths), VALUES, st.sampled_from(["check", "from-cluster"]))
    def one(path: tuple[str | int, ...], value: object, cmd: str) -> None:
        doc = json.loads(json.dumps(base))
        kind, *keys = path
        for item in doc["items"]:
            if item["kind"] == kind and (kind != "Service" or item["spec"].get("type") == "LoadBalancer"):
                target = item
                for k in keys[:-1]:
                    target = target[k]
                target[keys[-1]] = value
        f = tmp / "dump.json"
        f.write_text(json.dumps(doc))
        code, _, err = run_cli(command("from-cluster" if cmd == "from-cluster" else "dump.json", str(f)))
        check_run(code, err, str(f))

    one()


# ---------------------------------------------------------------------------------------------- fixed cases


def bomb(levels: int = 9) -> str:
    text = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        text += f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    return text


def _deep_yaml(n: int) -> str:
    text = "a: 1\n"
    for _ in range(n):
        text = "x:\n" + "".join("  " + line + "\n" for line in text.splitlines())
    return text


HOSTILE: dict[str, tuple[str, bytes]] = {
    "deep-scenario": ("scenario", _deep_yaml(800).encode()),
    "deep-flow-scenario": ("scenario", b"a: " + b"[" * 100_000 + b"]" * 100_000),
    "deep-json-manifest": ("dump.json", b'{"kind": "List", "items": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"),
    "control-character": ("scenario", b"name: a\x07b\n"),
    "alias-bomb-scenario": ("scenario", bomb().encode()),
    "alias-bomb-in-a-label": ("manifest.yaml", ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels:\n    "
                                                + bomb().replace("\n", "\n    ")).encode()),
    "non-utf8-ipset": ("ipset", b"create x hash:ip family inet\nadd x \xff\n"),
    "non-utf8-ipvsadm": ("ipvs", b"-A -t \xff:80 -s rr\n"),
    "long-line": ("iptables-save", b"*filter\n-A " + b"x" * 10_000_000 + b"\nCOMMIT\n"),
    "huge-pcapng-block": ("pcapng", b"\x0a\x0d\x0d\x0a\xf0\xff\xff\xff\x4d\x3c\x2b\x1a" + b"\0" * 64),
    "huge-pcapng-packet": ("pcapng", b"\x0a\x0d\x0d\x0a\x1c\0\0\0\x4d\x3c\x2b\x1a\1\0\0\0" + b"\xff" * 8
                           + b"\x1c\0\0\0" + b"\x06\0\0\0\xf0\xff\xff\xff" + b"\0" * 64),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_in_process(case: str, tmp_path: Path) -> None:
    kind, data = HOSTILE[case]
    fuzz_one(tmp_path, kind, data)


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize(
    ("case", "want"),
    [
        ("alias-bomb-scenario", ":2: YAML alias *a is not accepted"),
        ("alias-bomb-in-a-label", ":11: YAML aliases stand for more than 100,000 nodes"),
        ("deep-flow-scenario", ":1: nested more than 100 levels deep"),
        ("deep-json-manifest", ": not accepted: JSON nested too deeply"),
        ("/dev/zero", "/dev/zero:1: not a text file: NUL byte at byte 0"),
    ],
)
def test_hostile_in_a_subprocess_with_1_gib(case: str, want: str, tmp_path: Path) -> None:
    """The classes that used to take gigabytes or crash the interpreter, with the address space capped."""
    if case == "/dev/zero":
        f, kind = "/dev/zero", "dump.yaml"
    else:
        kind, data = HOSTILE[case]
        f = str(tmp_path / kind)
        Path(f).write_bytes(data)
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", *command(kind, f)], capture_output=True,
                       text=True, preexec_fn=_limited, timeout=120, env=dict(os.environ), check=False)  # fmt: skip
    check_run(r.returncode, r.stderr, f)
    assert r.returncode == 2 and f"hairpin: error: {f}{want.removeprefix('/dev/zero')}" in r.stderr


def test_endless_stdin_in_a_subprocess(tmp_path: Path) -> None:
    """`yes | hairpin check -`: refused at the input limit, memory bounded."""
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "--max-input", "64M", "check", "-"],
                           stdin=yes.stdout, capture_output=True, text=True, preexec_fn=_limited, timeout=120,
                           check=False)  # fmt: skip
    finally:
        yes.kill()
        yes.wait()
    assert (r.returncode, r.stderr) == (2, "hairpin: error: <stdin>: larger than the input limit of 64 MiB (raise "
                                           "it with hairpin --max-input SIZE or HAIRPIN_MAX_INPUT)\n"
                                           "hairpin: error: <stdin>: no Kubernetes objects found (--allow-empty "
                                           "accepts that)\n")  # fmt: skip
