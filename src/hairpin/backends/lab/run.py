"""Real connections in a lab, and the simulator's verdict on the same connections.

For each connection the client's namespace connects from a chosen source port; the target the emulated
NLB picked is read back from the vpc namespace's conntrack (``/proc/net/nf_conntrack``: the reply tuple's
source of the entry whose original tuple is client:port -> NLB address); for a ClusterIP call it is the
DNAT recorded by the client's node.  The simulator then makes the same connection (same client port, same
target) and the two outcomes are compared.

Real waits are bounded by a client-side connect timeout (default 3.5 s: SYNs at 0, 1 and 3 s); the
simulator runs the kernel's whole schedule (127 s with tcp_syn_retries=6), and both call the connection a
timeout.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hairpin.backends.lab import commands
from hairpin.backends.lab.build import Lab, _run
from hairpin.errors import LabError
from hairpin.tcp import syn_schedule

__all__ = ["LabConnection", "LabRun", "parse_conntrack", "run"]

_CT = re.compile(r"src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)")


def parse_conntrack(text: str) -> dict[tuple[str, int, str, int], tuple[str, int]]:
    """/proc/net/nf_conntrack lines -> {original (src, sport, dst, dport): reply source (ip, port)}."""
    out = {}
    for line in text.splitlines():
        if " tcp " not in f" {line} ":
            continue
        tuples = _CT.findall(line)
        if len(tuples) < 2:
            continue
        (s, d, sp, dp), (rs, _rd, rsp, _rdp) = tuples[0], tuples[1]
        out[(s, int(sp), d, int(dp))] = (rs, int(rsp))
    return out


@dataclass
class LabConnection:
    id: int
    client: str
    target: str
    outcome: str
    elapsed_s: float
    simulated_outcome: str = ""
    real_sequence: list[str] = field(default_factory=list)
    simulated_sequence: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client": self.client,
            "target": self.target,
            "outcome": self.outcome,
            "elapsed_s": round(self.elapsed_s, 6),
            "simulated_outcome": self.simulated_outcome,
        }


@dataclass
class LabRun:
    connections: list[LabConnection]
    limit: str
    kernel_would: str
    captures: list[str] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        if not self.connections:
            return 1.0
        return sum(c.outcome == c.simulated_outcome for c in self.connections) / len(self.connections)

    @property
    def timeouts(self) -> int:
        return sum(c.outcome == "timeout" for c in self.connections)

    def to_json(self) -> dict[str, Any]:
        return {
            "connections": [c.to_json() for c in self.connections],
            "agreement": round(self.agreement, 6),
            "timeouts": self.timeouts,
            "limit": self.limit,
            "kernel_would": self.kernel_would,
        }


def run(
    lab: Lab,
    connections: int = 20,
    *,
    timeout: float = 3.5,
    seed: int = 0,
    capture: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> LabRun:
    from hairpin.backends import sim

    s = lab.scenario
    client = s.client_pod
    dst = s.client_target_address()
    svc = s.client_service
    dport = s.client.port if s.client.via == "load-balancer" else svc.ports[0].port
    rng = random.Random(f"lab:{seed}")
    sports = rng.sample(range(40000, 60000), connections)
    dumps: list[tuple[subprocess.Popen[bytes], str]] = []
    if capture is not None:
        capture.mkdir(parents=True, exist_ok=True)
        for node in s.nodes:
            path = capture / f"{node.name}.pcap"
            argv = commands.in_ns(lab.ns(node.name), ["tcpdump", "-i", "any", "-n", "-U", "-w", str(path), "tcp"])
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            lab.record.pids.append(proc.pid)
            lab.record.save()
            dumps.append((proc, str(path)))
        time.sleep(0.5)
    where = client.node if client.host_network else client.name
    argv = commands.client_command(lab.ns(where), client.ip, dst, dport, sports, timeout)
    client_proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results: dict[int, dict[str, Any]] = {}
    assert client_proc.stdout is not None
    for line in client_proc.stdout:
        r = json.loads(line)
        results[r["sport"]] = r
        if progress is not None:
            progress(1)
    client_proc.wait()
    if client_proc.returncode != 0:
        why = client_proc.stderr.read().strip() if client_proc.stderr else client_proc.returncode
        raise LabError(f"client failed: {why}")
    for p, _ in dumps:
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=5)
    ct_ns = "vpc" if s.client.via == "load-balancer" else client.node
    text = subprocess.run(commands.in_ns(lab.ns(ct_ns), ["cat", "/proc/net/nf_conntrack"]),
                          capture_output=True, text=True, check=False).stdout  # fmt: skip
    table = parse_conntrack(text)
    out: list[LabConnection] = []
    for i, sport in enumerate(sports):
        r = results.get(sport, {"outcome": "timeout", "elapsed_s": timeout})
        reply = table.get((client.ip, sport, dst, dport))
        target = f"{reply[0]}:{reply[1]}" if reply else ""
        simulated = sim.connect(s, client_port=sport, target=target or None, conn_id=i, seed=seed)
        out.append(LabConnection(i, f"{client.ip}:{sport}", target, r["outcome"], r["elapsed_s"], simulated.outcome))
    syns, give_up = syn_schedule(s.kernel.tcp_syn_retries, s.kernel.tcp_syn_linear_timeouts)
    limit = f"client-side connect timeout {timeout:g} s (SYNs sent within it: {sum(t < timeout for t in syns)})"
    would = (
        f"the default kernel would retransmit {len(syns) - 1} times and give up after {give_up:g} s "
        f"(tcp_syn_retries={s.kernel.tcp_syn_retries}, tcp_syn_linear_timeouts={s.kernel.tcp_syn_linear_timeouts})"
    )
    return LabRun(out, limit, would, [p for _, p in dumps])


_ = _run
