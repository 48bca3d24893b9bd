"""hairpin next to the reference tool for each of its heavy jobs, side by side in one run, answers checked.

    python benchmarks/compare.py [--only trace,check,from-cluster,sim,pcap] [--services 10000] [--nodes 5000]
                                 [--check-services 10000] [--pods 150000] [--connections 2000] [--yaml]
                                 [--packets 2000000] [--runs 3]

Each pair runs on inputs this script generates, in child processes measured alike (wall time, CPU time
= user + system, peak RSS), and the answers are checked before a ratio is printed:

- trace: a kube-proxy iptables-save dump of N Services x 5 endpoints (``bench_trace.dump``: ~17 rules a
  Service) loaded and one SYN traced by ``hairpin trace`` (3 outcomes expected), against
  ``iptables-nft-restore --test`` on the same file in a throwaway network namespace (root; exit 0
  expected).  Then, in this process, the CPU time per traced packet once the node is loaded
  (``bench_trace.per_packet``: the median of 9 runs of 200 traces, each trace's answer checked).
- check: a ``kubectl get -o json`` List of a cluster (``bench_check.generate``) checked by ``hairpin
  check --format json`` (exit 1, Services at risk, no errors expected), against ``json.load`` of the same file
  (``yaml.load`` with libyaml's CSafeLoader with ``--yaml``).
- from-cluster: ``hairpin scenario from-cluster --service ns0/app0`` of the same List (the scenario written
  must load with ``hairpin.scenario.load`` and hold every node), against ``json.load`` of it.
- sim: ``sim.run`` of the seed scenario (timeout rate within 4 standard deviations of the closed form
  expected), against the real kernel's 127 s per hairpinned connection (tcp_syn_retries=6).
- pcap: a classic pcap (Ethernet) of 2,000,000 packets, 140 MB, random ISNs, 2 % of its connections
  seed-style hairpins (``bench_pcap_speed.records``: the number written is known) read by ``hairpin pcap F
  --format json -o OUT`` (exactly that many hairpins expected), against ``tshark -n -r F -Y
  'tcp.flags.reset==1'`` (3 resets per hairpin expected).  ``bench_pcap_speed.py`` has the same pair with
  the streaming reader and several runs.

Each hairpin run and, for the pairs whose goal is a ratio (trace, pcap), each reference run is repeated
``--runs`` times, the two alternating, and the medians are printed (peak RSS: the largest of the runs),
with every run's CPU time beside them.  A 2-vCPU virtual machine's speed drifts by 10-20 % over minutes,
so one run of each is not enough to say on which side of a goal a job falls; check's and from-cluster's
references (``json.load``, ``yaml.load``) run once, since their goals are absolute.

Machines shared with other work inflate wall times; CPU times are the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_pcap_speed  # noqa: E402
import bench_trace  # noqa: E402

KERNEL_TIMEOUT_S = 127.0  # connect() with tcp_syn_retries=6: 1+2+4+8+16+32+64 s


@dataclass
class Measured:
    wall: float
    cpu: float
    rss_mib: float
    code: int
    out: str


def compiled(package: Path) -> None:
    """Byte-compile ``package`` as installing a wheel does (pip compiles every module then): a source tree run
    with ``PYTHONDONTWRITEBYTECODE`` set, or whose modules changed since their bytecode was written, compiles
    them again in every child, which added up to 0.1-0.3 s of CPU time to a measured ``hairpin check``."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True, stdout=subprocess.DEVNULL)


def run(cmd: list[str], stdin: Path | None = None) -> Measured:
    """A child process's wall time, CPU time, peak RSS, exit code and standard output."""
    t0 = time.perf_counter()
    with open(stdin) if stdin is not None else open(os.devnull) as fin, tempfile.TemporaryFile("w+") as fout:
        proc = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        fout.seek(0)
        out = fout.read()
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status),
                    out)  # fmt: skip


def median(runs: list[Measured]) -> Measured:
    """The median wall and CPU time of ``runs``, the largest peak RSS, and the first run's exit code and output
    (each run's answer is checked as it comes)."""
    return Measured(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs),
                    max(r.rss_mib for r in runs), runs[0].code, runs[0].out)  # fmt: skip


def each(runs: list[Measured]) -> str:
    return "" if len(runs) < 2 else "; CPU of each run: " + ", ".join(f"{r.cpu:.2f}" for r in runs)


def row(name: str, ours: list[Measured], ref: list[Measured] | None, ref_name: str, goal: str) -> None:
    m = median(ours)
    label = "median " if len(ours) > 1 else ""
    print(f"  hairpin   {m.wall:8.2f} s wall {m.cpu:8.2f} s CPU {m.rss_mib:8.0f} MiB   ({label}{name}{each(ours)})")
    if ref is None:
        print(f"  reference {'n/a':>8}   ({ref_name}: not available here)")
        return
    r = median(ref)
    label = "median " if len(ref) > 1 else ""
    print(f"  reference {r.wall:8.2f} s wall {r.cpu:8.2f} s CPU {r.rss_mib:8.0f} MiB   ({label}{ref_name}{each(ref)})")
    print(f"  ratio     {m.wall / r.wall:8.2f}x wall {m.cpu / r.cpu:6.2f}x CPU   goal: {goal} (of the medians)")


def compare_trace(services: int, runs: int, tmp: Path) -> None:
    print(f"trace: kube-proxy dump of {services} Services x 5 endpoints")
    path = tmp / f"iptables-{services}"
    path.write_text(bench_trace.dump(services))
    rules = sum(line.startswith("-A ") for line in path.read_text().splitlines())
    d = bench_trace.DATA
    cmd = [sys.executable, "-m", "hairpin.cli.main", "trace", "--iptables-save", str(path), "--routes",
           str(d / "ip-route"), "--rules", str(d / "ip-rule"), "--addrs", str(d / "ip-addr"), "--format", "json",
           bench_trace.SYN]  # fmt: skip
    reference = os.geteuid() == 0 and shutil.which("iptables-nft-restore") and shutil.which("ip")
    ns = f"hpcmp-{uuid.uuid4().hex[:8]}"
    ours: list[Measured] = []
    ref: list[Measured] | None = [] if reference else None
    if ref is not None:
        subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for _ in range(runs):  # alternating, so that a drift of the machine's speed falls on both alike
            ours.append(run(cmd))
            outcomes = len(json.loads(ours[-1].out)["outcomes"]) if ours[-1].out.strip() else -1
            assert outcomes == 3, f"hairpin trace: {outcomes} outcomes (exit {ours[-1].code}), expected 3"
            if ref is not None:
                ref.append(run(["ip", "netns", "exec", ns, "iptables-nft-restore", "--test"], stdin=path))
                assert ref[-1].code == 0, f"iptables-nft-restore --test rejected the dump (exit {ref[-1].code})"
    finally:
        if ref is not None:
            subprocess.run(["ip", "netns", "del", ns], check=False)
    print(f"  {rules} rules; hairpin: 3 outcomes; iptables-nft-restore --test: " + ("accepted" if ref else "n/a"))
    row("load + trace one SYN with its outcomes", ours, ref, "iptables-nft-restore --test", "<= 3x")
    # in a child process: a loaded node is ~300 MiB, and a child's peak RSS (wait4) counts its parent's size at
    # the fork, which would then stand in for the peak of every hairpin run measured after this one
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_trace; from pathlib import Path; "
            "from hairpin import trace as tr; d = bench_trace.DATA; "
            f"node = tr.Node.load(Path({str(path)!r}), d / 'ip-route', d / 'ip-rule', d / 'ip-addr', name='node1'); "
            "print(*(x for r in (False, True) for x in bench_trace.per_packet(node, r)))")  # fmt: skip
    got = run([sys.executable, "-c", code])
    assert got.code == 0, f"per-packet trace measurement failed (exit {got.code})"
    words = got.out.split()
    for reply, (per, passes) in ((False, words[0:2]), (True, words[2:4])):  # answers checked (bench_trace.check)
        print(f"  per traced packet after load{' (--reply)' if reply else ''}: {float(per) * 1e6:5.1f} us CPU (median "
              f"of 9 runs of 200 traces, {passes} packet passes each, answers checked); goal < 50 us")  # fmt: skip


def cluster_dump(nodes: int, services: int, pods: int, fmt: str, tmp: Path) -> Path:
    """``bench_check``'s dump of that size, written once for the pairs that read it."""
    dump = tmp / f"cluster-{nodes}-{services}-{pods}.{fmt}"
    if not dump.exists():
        subprocess.run([sys.executable, str(HERE / "bench_check.py"), "--write", str(dump), "--nodes", str(nodes),
                        "--services", str(services), "--pods", str(pods), *(["--yaml"] if fmt == "yaml" else [])],
                       check=True)  # fmt: skip
    return dump


def compare_check(nodes: int, services: int, pods: int, yaml_too: bool, runs: int, tmp: Path) -> None:
    for fmt in ("json", "yaml") if yaml_too else ("json",):
        print(f"check: {nodes} nodes, {services} Services, {pods} Pods ({fmt.upper()})")
        dump = cluster_dump(nodes, services, pods, fmt, tmp)
        ours = []
        for _ in range(runs):
            ours.append(run([sys.executable, "-m", "hairpin.cli.main", "check", str(dump), "--format", "json"]))
            report = json.loads(ours[-1].out)
            at_risk = sum(1 for s in report["services"] if s["at_risk"])
            # the generator makes 1 Service in 10 a LoadBalancer; internal NLBs with instance targets are at risk
            assert ours[-1].code == 1 and at_risk and not report["errors"], (
                f"hairpin check: exit {ours[-1].code}, {at_risk} at risk"
            )
        if fmt == "json":
            ref_code = f"import json; d = json.load(open({str(dump)!r})); print(len(d['items']))"
            ref_name = "json.load"
        else:
            ref_code = (
                f"import yaml; d = yaml.load(open({str(dump)!r}), Loader=yaml.CSafeLoader); print(len(d['items']))"
            )
            ref_name = "yaml.load, CSafeLoader"
        ref = run([sys.executable, "-c", ref_code])
        items = int(ref.out.strip())
        assert items == nodes + pods + 2 * services, f"reference read {items} items"
        print(
            f"  {dump.stat().st_size / 2**20:.0f} MiB, {items} objects; hairpin: exit 1, {at_risk} of {len(report['services'])} load-balanced Services at risk"
        )
        row("check --format json", ours, [ref], ref_name, "< 3 s JSON, < 5 s YAML, < 1 GiB")


def compare_from_cluster(nodes: int, services: int, pods: int, runs: int, tmp: Path) -> None:
    print(f"from-cluster: {nodes} nodes, {services} Services, {pods} Pods (JSON), the scenario of ns0/app0")
    dump, out = cluster_dump(nodes, services, pods, "json", tmp), tmp / "scenario.yaml"
    from hairpin import scenario

    ours = []
    for _ in range(runs):
        out.unlink(missing_ok=True)
        ours.append(run([sys.executable, "-m", "hairpin.cli.main", "scenario", "from-cluster", "--service", "ns0/app0",
                         str(dump), "-o", str(out)]))  # fmt: skip
        assert ours[-1].code == 0, f"hairpin scenario from-cluster: exit {ours[-1].code}"
        built = scenario.load(str(out))
        # every generated node has an InternalIP and a zone, and none is excluded from load balancers: all written
        assert len(built.nodes) == nodes and built.client_service.key == "ns0/app0", f"{len(built.nodes)} nodes"
    ref = run([sys.executable, "-c", f"import json; print(len(json.load(open({str(dump)!r}))['items']))"])
    assert int(ref.out.strip()) == nodes + pods + 2 * services, f"reference read {ref.out.strip()} items"
    print(f"  {out.stat().st_size / 2**20:.1f} MiB scenario written, loads back: {len(built.nodes)} nodes, "
          f"{len(built.pods)} pods, {len(built.client_service.endpoints)} endpoints")  # fmt: skip
    row(
        "scenario from-cluster",
        ours,
        [ref],
        "json.load",
        "none set (it reads the dump as check does, then writes YAML)",
    )


def compare_sim(connections: int, runs: int) -> None:
    from hairpin import scenario
    from hairpin.backends import sim

    print(f"sim: sim.run of the seed scenario, {connections} connections")
    s = scenario.seed()
    sim.run(s, 20, seed=3)
    walls, cpus = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = sim.run(s, connections, seed=3)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    summ = result.summary
    p = summ.expected_rate
    sd = math.sqrt(p * (1 - p) / connections)
    assert abs(summ.rate - p) <= 4 * sd + 1e-9, f"rate {summ.rate} vs expected {p}"
    kernel = summ.timeouts * KERNEL_TIMEOUT_S
    print(f"  {summ.timeouts} of {connections} timed out ({summ.rate:.3f}, closed form {p:.3f}: within 4 sd)")
    print(f"  hairpin   {wall:8.2f} s wall {cpu:8.2f} s CPU   {connections / cpu:8,.0f} connections/s (CPU); "
          f"goal 50,000{'; median of ' + str(runs) if runs > 1 else ''}")  # fmt: skip
    print(f"  reference {kernel:8.0f} s of the kernel's connect() for the {summ.timeouts} hairpinned connections")
    print(f"  ratio     {kernel / wall:8,.0f}x faster than the kernel (wall)")


def compare_pcap(packets: int, runs: int, tmp: Path) -> None:
    from hairpin.parsers.pcap import write_pcap

    print(f"pcap: a {packets}-packet capture, 2 % of its connections hairpinned")
    path, out = tmp / "capture.pcap", tmp / "pcap.json"
    made: list[int] = []
    write_pcap(path, bench_pcap_speed.records(packets, 0.02, 1, made))
    hairpins, connections = made
    ours: list[Measured] = []
    ref: list[Measured] | None = [] if shutil.which("tshark") else None
    for _ in range(runs):  # alternating, so that a drift of the machine's speed falls on both alike
        out.unlink(missing_ok=True)
        ours.append(run([sys.executable, "-m", "hairpin.cli.main", "pcap", str(path), "--format", "json", "-o",
                         str(out)]))  # fmt: skip
        found = json.loads(out.read_text())["summary"]["hairpins"] if ours[-1].code in (0, 1) else -1
        assert found == hairpins, f"hairpin pcap: {found} hairpins (exit {ours[-1].code}), {hairpins} were written"
        if ref is not None:
            ref.append(run(["tshark", "-n", "-r", str(path), "-Y", "tcp.flags.reset==1"]))
            resets = len(ref[-1].out.splitlines())
            assert ref[-1].code == 0 and resets == 3 * hairpins, f"tshark: {resets} resets (exit {ref[-1].code})"
    print(f"  {path.stat().st_size / 1e6:.0f} MB, {connections} connections, {hairpins} hairpins written; hairpin: "
          f"{found} hairpins; tshark: " + (f"{3 * hairpins} resets" if ref else "n/a"))  # fmt: skip
    row(
        "pcap --format json", ours, ref, "tshark -Y 'tcp.flags.reset==1'", ">= 20x faster (CPU ratio <= 0.05), < 200 MB"
    )
    if ref is not None:
        m, r = median(ours), median(ref)
        print(f"  tshark / hairpin: {r.cpu / m.cpu:.1f}x CPU, {r.wall / m.wall:.1f}x wall (medians)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="trace,check,from-cluster,sim,pcap",
                    help="comma-separated: trace, check, from-cluster, sim, pcap")  # fmt: skip
    ap.add_argument("--services", type=int, default=10000, help="trace: Services in the iptables dump")
    ap.add_argument("--nodes", type=int, default=5000, help="check: nodes")
    ap.add_argument("--check-services", type=int, default=10000, help="check: Services")
    ap.add_argument("--pods", type=int, default=150000, help="check: Pods")
    ap.add_argument("--connections", type=int, default=2000, help="sim: connections")
    ap.add_argument("--yaml", action="store_true", help="check: also the same dump as YAML (slow to generate)")
    ap.add_argument("--packets", type=int, default=2_000_000, help="pcap: packets in the capture")
    ap.add_argument("--runs", type=int, default=3, help="runs of each (alternating with the reference); medians")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    only = {w.strip() for w in args.only.split(",")}
    import hairpin

    print(f"{time.strftime('%Y-%m-%d')}; {platform.machine()}, {os.cpu_count()} CPUs; kernel {platform.release()}; "
          f"python {platform.python_version()}; hairpin from {Path(hairpin.__file__).parent}")  # fmt: skip
    compiled(Path(hairpin.__file__).parent)
    with tempfile.TemporaryDirectory(prefix="hairpin-compare-") as d:
        tmp = Path(d)
        if "trace" in only:
            compare_trace(args.services, args.runs, tmp)
        if "check" in only:
            compare_check(args.nodes, args.check_services, args.pods, args.yaml, args.runs, tmp)
        if "from-cluster" in only:
            compare_from_cluster(args.nodes, args.check_services, args.pods, args.runs, tmp)
        if "sim" in only:
            compare_sim(args.connections, args.runs)
        if "pcap" in only:
            compare_pcap(args.packets, args.runs, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
