"""The recorded outputs of ``hairpin trace`` (text, JSON, SVG, HTML; with and without ``--reply``) on the
trace tests' inputs and on every node of the seed and the examples, as ``hairpin scenario nodes`` writes
them (iptables, IPVS and nftables nodes), kept byte for byte in ``tests/data/trace/golden/recorded.json.gz`` (one JSON object, case name -> its
recording; compressed: 2.3 MB of text, much of it the same rules again).

``tests/test_trace_golden.py`` replays every case and compares.  The cases' node files are written here
(``write_inputs``): the scenario nodes from ``hairpin.node_files`` (the generator ``hairpin scenario
nodes`` uses), the hand-written ones from the trace tests' own inputs.  When the tracer's words change on
purpose (or the rule generator), rewrite the recordings and review the diff:

    PYTHONPATH=src python3 tests/trace_golden.py --write
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "trace"
GOLDEN = DATA / "golden"
INPUTS = GOLDEN / "inputs"  # the hand-written nodes (from tests/test_trace.py, tests/test_trace_forms.py)
EXAMPLES = HERE.parent / "examples"
SCENARIOS = ("seed", "clb", "etp-local", "internet-facing", "ipvs-mode", "nftables-mode", "seed-ip-targets",
             "three-az-cross-zone")  # fmt: skip
SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
TO_KUBELET = "tcp 192.168.27.239:40000 > 192.168.2.3:10250 syn in enie348bef9edc"

#: (case name, the arguments after ``hairpin trace``), paths relative to the inputs' root
Case = tuple[str, list[str]]


def _scenario(name: str) -> object:
    from hairpin import scenario as scen

    return scen.seed() if name == "seed" else scen.load(EXAMPLES / f"{name}.yaml")


def write_inputs(root: Path) -> list[Case]:
    """Write every case's node files under ``root``; the cases."""
    from hairpin.kube import node_iptables
    from hairpin.model.scenario import Scenario
    from hairpin.node_files import node_files

    cases: list[Case] = []
    for sname in SCENARIOS:
        s = _scenario(sname)
        assert isinstance(s, Scenario)
        if sname == "seed":  # the seed once more in kube-proxy's 1.24+ layout (KUBE-EXT chains)
            s128 = replace(s, kube_proxy=replace(s.kube_proxy, version="1.28"))
            d = root / "seed-1.28"
            d.mkdir(parents=True)
            for fname, text in node_files(s128)["node1"].items():
                (d / fname).write_text(text)
            assert "KUBE-EXT-" in node_iptables(s128, "node1")
            cases.append(("seed-1.28-node1-reply", ["--node", "seed-1.28", "--reply", SYN]))
        client = s.client_pod
        svc = s.client_service
        port = svc.ports[0].node_port if svc.ports and svc.ports[0].node_port else s.client.port
        for node, files in node_files(s).items():
            d = root / sname / node
            d.mkdir(parents=True)
            for fname, text in files.items():
                (d / fname).write_text(text)
            rel = f"{sname}/{node}"
            ip = s.node(node).ip
            nodeport = f"tcp {client.ip}:40000 > {ip}:{port} syn in eth0"
            cases.append((f"{sname}-{node}-nodeport-reply", ["--node", rel, "--reply", nodeport]))
            cases.append((f"{sname}-{node}-nodeport-reply-json", ["--node", rel, "--reply", "--format", "json",
                                                                  nodeport]))  # fmt: skip
            if node != client.node:
                continue
            cases.append((f"{sname}-{node}-nodeport", ["--node", rel, nodeport]))
            cases.append((f"{sname}-{node}-nodeport-pictures", ["--node", rel, "--reply", "--svg", "out.svg",
                                                                "--html", "out.html", nodeport]))  # fmt: skip
            m = re.search(rf"^{re.escape(client.ip)} dev (\S+)", files["ip-route"], re.M)
            assert m is not None, (sname, node)
            target = s.client_target_address()
            to_vip = f"tcp {client.ip}:40000 > {target}:{s.client.port} syn in {m[1]}"
            cases.append((f"{sname}-{node}-pod-to-target-reply", ["--node", rel, "--reply", to_vip]))
            cases.append((f"{sname}-{node}-pod-to-target-reply-json", ["--node", rel, "--reply", "--format", "json",
                                                                       to_vip]))  # fmt: skip
            cases.append((f"{sname}-{node}-node-to-target-reply", ["--node", rel, "--reply",
                                                                   f"tcp {ip}:40000 > {target}:{s.client.port} syn out"]))  # fmt: skip
    (root / "data").symlink_to(DATA)  # the committed inputs, by a path that reads the same everywhere
    seed1, real1, eks = "data/seed-node1", "data/real-node1", "data/eks-node-S"
    seed_routes = ["--routes", f"{seed1}/ip-route", "--rules", f"{seed1}/ip-rule", "--addrs", f"{seed1}/ip-addr"]
    # fmt: off
    cases += [
        ("data-seed-node1-reply", ["--node", seed1, "--reply", SYN]),
        ("data-seed-node1-reply-json", ["--node", seed1, "--reply", "--format", "json", SYN]),
        ("data-seed-node1-pictures", ["--node", seed1, "--reply", "--svg", "out.svg", "--html", "out.html", SYN]),
        ("data-seed-node1-two-packets-json", ["--node", seed1, "--reply", "--format", "json", SYN,
                                              "tcp 192.168.2.3:40000 > 192.168.39.2:80 syn out"]),
        ("data-seed-node1-to-kubelet-reply", ["--node", seed1, "--reply", TO_KUBELET]),
        ("data-seed-node1-syn-ack", ["--node", seed1, "--reply", "tcp 192.168.39.2:80 > 192.168.27.239:49134 syn,ack in eth0"]),
        ("data-real-node1-reply", ["--node", real1, "--reply", SYN]),
        ("data-real-node1-route-n-json", ["--iptables-save", f"{real1}/iptables-save", "--routes", f"{real1}/route-n", "--addrs", f"{real1}/ip-addr",
                                          "--reply", "--format", "json", SYN]),
        ("data-eks-node-S-reply", ["--iptables-save", f"{eks}/iptables-t-nat-S", "--iptables-save", f"{eks}/iptables-S",
                                   "--routes", f"{eks}/ip-route", "--rules", f"{eks}/ip-rule", "--reply",
                                   "tcp 172.31.3.129:40000 > 10.100.192.187:80 syn in eni1e3dd7d66d7"]),
        ("data-nft-node1-reply", ["--nft", "data/nft-node1.nft", *seed_routes, "--reply", SYN]),
        ("data-nft-node1-json-reply-json", ["--nft", "data/nft-node1.json", *seed_routes, "--reply", "--format",
                                            "json", SYN]),
        ("data-nft-node1-pictures", ["--nft", "data/nft-node1.nft", *seed_routes, "--reply", "--svg", "out.svg",
                                     "--html", "out.html", SYN]),
    ]
    # fmt: on
    for name in sorted(p.name for p in INPUTS.iterdir()):
        spec = json.loads((INPUTS / name / "case.json").read_text())
        for i, packets in enumerate(spec["packets"]):
            for fmt in ("text", "json"):
                args = ["--node", f"data/golden/inputs/{name}", *spec.get("args", []), "--format", fmt, *packets]
                cases.append((f"inputs-{name}-{i}{'-json' if fmt == 'json' else ''}", args))
    names = [c[0] for c in cases]
    assert len(names) == len(set(names)), "case names repeat"
    return cases


def run_case(root: Path, args: list[str]) -> dict[str, str]:
    """``hairpin trace ARGS`` in this process, in ``root``: its exit code, standard output and error, and the
    SVG and HTML it wrote."""
    from hairpin.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(root)
    try:
        for f in ("out.svg", "out.html"):
            (root / f).unlink(missing_ok=True)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["trace", *args])
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
        got = {"exit": str(code), "stdout": out.getvalue(), "stderr": err.getvalue()}
        for f in ("out.svg", "out.html"):
            if (root / f).exists():
                got[f] = (root / f).read_text()
    finally:
        os.chdir(cwd)
    return got


def _flat(got: dict[str, str]) -> str:
    """One case's recording as one text: each part under a header line giving its length."""
    return "".join(f"=== {k} ({len(v)} characters)\n{v}\n" for k, v in got.items())


def record(root: Path) -> dict[str, str]:
    """Every case's recording, by case name."""
    return {name: _flat(run_case(root, args)) for name, args in write_inputs(root)}


RECORDED = GOLDEN / "recorded.json.gz"


def recorded() -> dict[str, str]:
    """The committed recordings."""
    with gzip.open(RECORDED, "rt", encoding="utf-8") as f:
        out: dict[str, str] = json.load(f)
    return out


def main() -> None:
    import tempfile

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: PYTHONPATH=src python3 tests/trace_golden.py --write")
    with tempfile.TemporaryDirectory(prefix="hairpin-golden-") as d:
        recs = record(Path(d))
    data = json.dumps(recs, indent=0, sort_keys=True).encode()
    RECORDED.write_bytes(gzip.compress(data, 9, mtime=0))
    print(f"wrote {len(recs)} recordings ({len(data)} bytes of text) to {RECORDED}")


if __name__ == "__main__":
    main()
