"""Real connections in a lab, and the simulator's verdict on the same connections.

For each connection the client's namespace connects from a chosen source port; the target the emulated
NLB picked is read back from the vpc namespace's conntrack (``/proc/net/nf_conntrack``: the reply tuple's
source of the entry whose original tuple is the caller's address:port -> NLB address); for a ClusterIP call
it is the DNAT recorded by the client's node.  When the caller's node translates the source on the way out
(an overlay CNI's outgoing MASQUERADE, ``cni.nat_outgoing``; ``--random-fully`` picks a new port), the NLB
never sees the pod's address: the node's own conntrack entry for pod:port -> NLB gives the translated
address and port (its reply tuple's destination), and that is what the vpc namespace's entry is keyed by.
Behind an internet-facing NLB's NAT gateway the vpc entry's reply destination is the gateway's EIP and
port: what the NLB saw.  For a Classic ELB the target is what the lab's proxy logged for the caller
(``clb_proxy``); the simulated connection (``Network.connect``) is forced to it (it redraws the CLB's
key until its listener picks the same target).  The simulator then makes the same connection (same client port, same target) and the
two outcomes, and the two targets, are compared.

Real waits are bounded by a client-side connect timeout (default 3.5 s: SYNs at 0, 1 and 3 s); the
simulator runs the kernel's whole schedule (127 s with tcp_syn_retries=6), and both call the connection a
timeout.

In an IPv6 scenario addresses are written as the simulator writes them (``[addr]:port``, the address
compressed); /proc/net/nf_conntrack prints IPv6 addresses in full (``2a05:d018:000a:...``) and tcpdump as
``IP6 addr.port``: both are read back into that form.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hairpin.backends.lab import commands, identity
from hairpin.backends.lab.build import Lab, _run
from hairpin.backends.lab.commands import hostport, split_hostport
from hairpin.errors import InputError, LabError
from hairpin.model.net import ip_str
from hairpin.tcp import syn_schedule
from hairpin.writing import check_directory, check_output, name_problem

if TYPE_CHECKING:
    from hairpin.backends import sim
    from hairpin.scenario import Scenario

__all__ = [
    "Captured",
    "LabConnection",
    "LabRun",
    "Mask",
    "capture_packets",
    "capture_sequence",
    "nlb_flow",
    "parse_conntrack",
    "parse_conntrack_tuples",
    "run",
    "simulated_sequence",
]

_CT = re.compile(r"src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)")


Tuple = tuple[str, int, str, int]  # (src, sport, dst, dport)


def parse_conntrack_tuples(text: str) -> dict[Tuple, Tuple]:
    """/proc/net/nf_conntrack lines -> {original (src, sport, dst, dport): reply (src, sport, dst, dport)}.

    The reply tuple's source is where the original destination was DNATed to; its destination is where
    the original source was SNATed to (both unchanged when no NAT applied)."""
    out: dict[Tuple, Tuple] = {}
    for line in text.splitlines():
        if " tcp " not in f" {line} ":
            continue
        tuples = _CT.findall(line)
        if len(tuples) < 2:
            continue
        (s, d, sp, dp), (rs, rd, rsp, rdp) = (tuple(_addr(x) for x in t) for t in tuples[:2])
        out[(s, int(sp), d, int(dp))] = (rs, int(rsp), rd, int(rdp))
    return out


def _addr(text: str) -> str:
    """An address as the lab writes it: IPv6 compressed (conntrack prints every group in full), ports as they are."""
    return str(ipaddress.IPv6Address(text)) if ":" in text else text


def parse_conntrack(text: str) -> dict[Tuple, tuple[str, int]]:
    """/proc/net/nf_conntrack lines -> {original (src, sport, dst, dport): reply source (ip, port)}."""
    return {k: (v[0], v[1]) for k, v in parse_conntrack_tuples(text).items()}


def nlb_flow(
    key: Tuple, node_table: dict[Tuple, Tuple], vpc_table: dict[Tuple, Tuple]
) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
    """(the caller's address as the NLB saw it, the NLB's target) for one connection ``key`` (pod:port -> VIP).

    The client's node may have translated the source on the way out (its conntrack entry's reply
    destination says to what); the vpc namespace's entry is keyed by the translated source."""
    src = (key[0], key[1])
    out = node_table.get(key)
    if out is not None:
        src = (out[2], out[3])
    reply = vpc_table.get((src[0], src[1], key[2], key[3]))
    if reply is None:
        return (src if out is not None else None), None
    return src, (reply[0], reply[1])


_TCPDUMP = re.compile(
    r"^(?P<t>\d+\.\d+) .*?IP6? (?P<src>[\da-f:.]+)\.(?P<sport>\d+) > (?P<dst>[\da-f:.]+)\.(?P<dport>\d+): "
    r"Flags \[(?P<flags>[^\]]*)\](?:, seq (?P<seq>\d+)(?::\d+)?)?(?:, ack (?P<ack>\d+))?"
)
_FLAGS = {"S": "SYN", "F": "FIN", "R": "RST", "P": "PSH", ".": "ACK", "U": "URG"}
ROUND = 0.9  # the first SYN round: before the first retransmission at 1 s


def _flag_label(text: str) -> str:
    names = [_FLAGS[c] for c in text if c in _FLAGS]
    order = ["SYN", "FIN", "RST", "PSH", "ACK", "URG"]
    return ",".join(n for n in order if n in names)


@dataclass(frozen=True)
class Mask:
    """What is random in a packet sequence: node addresses (for MASQUERADE ports) and the backends."""

    node_ips: frozenset[str]
    node_ports: frozenset[int]
    endpoints: frozenset[str]

    def __call__(self, ip: str, port: int) -> str:
        return _masked(ip, port, self)


def _masked(ip: str, port: int, mask: Mask) -> str:
    """ip:port with what is random written generically: a node's MASQUERADE port as *, and the backend
    kube-proxy chose (``-m statistic --mode random``) as ``endpoint``."""
    if ip in mask.endpoints:
        return f"endpoint:{port}"
    return f"{hostport(ip, 0)[:-1]}*" if ip in mask.node_ips and port not in mask.node_ports else hostport(ip, port)


@dataclass(frozen=True)
class Captured:
    """One packet of a capture, as tcpdump printed it."""

    t: float
    src: str
    sport: int
    dst: str
    dport: int
    flags: str  # SYN, SYN,ACK, RST, ...
    seq: int | None
    ack: int | None

    def row(self, mask: Mask) -> str:
        return f"{mask(self.src, self.sport)} > {mask(self.dst, self.dport)} {self.flags}"

    @property
    def source(self) -> str:
        return hostport(self.src, self.sport)

    @property
    def dest(self) -> str:
        return hostport(self.dst, self.dport)


def capture_packets(pcap: Path, client: str, sport: int) -> list[Captured]:
    """Every packet of one connection in a capture, in order (the whole capture, every SYN round).

    The connection's packets are found by sequence number, which no NAT changes: the client's ISN on the
    SYNs (and the RST that answers the SYN/ACK, whose seq is ISN+1), ISN+1 as the SYN/ACK's ack."""
    res = subprocess.run(["tcpdump", "-r", str(pcap), "-nn", "-tt", "-S"], capture_output=True, text=True, check=False)
    rows = [
        Captured(float(m["t"]), m["src"], int(m["sport"]), m["dst"], int(m["dport"]), _flag_label(m["flags"]),
                 int(m["seq"]) if m["seq"] else None, int(m["ack"]) if m["ack"] else None)
        for m in (_TCPDUMP.match(line) for line in res.stdout.splitlines()) if m
    ]  # fmt: skip
    isn = next((r.seq for r in rows if r.src == client and r.sport == sport and r.flags == "SYN"), None)
    if isn is None:
        return []
    return [r for r in rows if r.seq in (isn, isn + 1) or r.ack == isn + 1]


def capture_sequence(pcap: Path, client: str, sport: int, mask: Mask) -> list[str]:
    """The first round of one connection as a node-side capture saw it (``capture_packets``, masked)."""
    packets = capture_packets(pcap, client, sport)
    if not packets:
        return []
    t0 = packets[0].t
    out: list[str] = []
    for p in packets:
        if p.t - t0 > ROUND:
            continue
        row = p.row(mask)
        if not out or out[-1] != row:
            out.append(row)
    return out


def simulated_sequence(hops: list[Any], node: str, pods: set[str], mask: Mask) -> list[str]:
    """The same view in the simulator: packets leaving the node, and those its neighbours send it."""
    out: list[str] = []
    entering = {f"pod {p} eth0" for p in pods} | {f"VPC v-{node}"}
    for h in sorted(hops, key=lambda h: h.t):
        if h.t > ROUND or h.kind != "send" or not (h.at.startswith(f"{node} ") or h.at in entering):
            continue
        p = h.packet
        row = f"{mask(p.source.ip, p.sport)} > {mask(p.dest.ip, p.dport)} {p.flags.label()}"
        if not out or out[-1] != row:
            out.append(row)
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
    simulated_target: str = ""  # the target the simulator's connection reports (it is forced to ``target``)
    nlb_source: str = ""  # the caller's address:port as the NLB saw it (the node's SNAT, if any, applied)
    #: a Classic ELB's own connection to the target, as its lab proxy logged it: "ip:port -> target: established"
    proxy_backend: str = ""

    @property
    def sequence_match(self) -> bool | None:
        """Whether the capture's first round equals the simulated one (None without a capture)."""
        if not self.real_sequence:
            return None
        return self.real_sequence == self.simulated_sequence

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence_match": self.sequence_match,
            "id": self.id,
            "client": self.client,
            "target": self.target,
            "outcome": self.outcome,
            "elapsed_s": round(self.elapsed_s, 6),
            "simulated_outcome": self.simulated_outcome,
            "simulated_target": self.simulated_target,
            "nlb_source": self.nlb_source,
            "proxy_backend": self.proxy_backend,
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

    rng = random.Random(f"lab:{seed}")
    sports = rng.sample(range(40000, 60000), connections)
    # each connection's destination: the scenario's address, or the NLB address the client's DNS lookup
    # returns for it when none is pinned, drawn exactly as the simulator draws it (same seed, same id)
    net = sim.Network(lab.scenario)  # one simulated network for every connection (each connect() resets it)
    dsts = [ip_str(net.destination(seed, i)) for i in range(connections)]
    dumps: list[tuple[subprocess.Popen[bytes], str]] = []
    stage: Path | None = None
    kept: list[str] = []  # captures that could not be moved into place: the stage keeps them
    if capture is not None:
        # tcpdump writes into a private directory of ours inside the capture directory; each file is renamed
        # into place once tcpdump has stopped, so nothing planted at NODE.pcap is followed or half-written
        check_capture_dir(capture, lab.scenario)
        try:
            capture.mkdir(exist_ok=True)
            stage = Path(tempfile.mkdtemp(prefix=".hairpin-capture-", dir=capture))
        except OSError as exc:
            raise InputError(f"--capture: cannot write: {exc.strerror}", str(capture)) from None
    failed = False
    try:
        return _connect_all(lab, connections, timeout, seed, (capture, stage, kept), dumps, sports, dsts, net,
                            progress)  # fmt: skip
    except BaseException:
        failed = True
        raise
    finally:
        for proc, _ in dumps:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        if failed and capture is not None and stage is not None:
            _keep_after_failure(capture, stage, kept)
        if stage is not None and not kept:
            shutil.rmtree(stage, ignore_errors=True)


def _keep_after_failure(capture: Path, stage: Path, kept: list[str]) -> None:
    """A run that failed or was interrupted after tcpdump started: what each node's tcpdump wrote so far (a whole
    pcap file: tcpdump ends it on SIGINT) is moved into ``capture`` as a finished run's would be, since it is the
    record of what went wrong, and a warning says so."""
    saved = [m for staged in sorted(stage.glob("*.pcap")) if (m := _move_capture(staged, capture, kept))]
    if saved:
        warnings.warn(f"{capture}: the run did not finish; what tcpdump captured until then is kept: "
                      f"{', '.join(saved)}", stacklevel=2)  # fmt: skip


def _end(proc: subprocess.Popen[str]) -> None:
    """End ``proc``'s session (SIGTERM, then SIGKILL after 5 s) if it is still running, and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for f in (proc.stdout, proc.stderr):
        if f is not None:
            f.close()


def check_capture_dir(capture: Path, scenario: Scenario | None = None) -> None:
    """InputError (one line) unless ``capture`` is a directory hairpin may write into or can create
    (:func:`hairpin.writing.check_directory`: a symbolic link another user planted in a sticky world-writable
    directory is not followed) and, for each node of ``scenario``, ``NODE.pcap`` is a file name
    (:func:`hairpin.writing.name_problem`) that the node's capture can be renamed to: not a directory.  A symbolic
    link, FIFO or file there is replaced by the capture, never followed.  Checked before the lab is built, with
    ``tcpdump`` itself (it writes the captures and reads them back for the hop-by-hop comparison): without it
    every node's capture would be missing at the end of the run."""
    try:
        check_directory(capture)
    except InputError as exc:
        raise InputError(f"--capture: {exc.message.removeprefix('cannot write: ')}", exc.file) from None
    for node in scenario.nodes if scenario is not None else ():
        why = name_problem(node.name) or name_problem(f"{node.name}.pcap")
        if why:
            raise InputError(f"--capture: node name {node.name!r} cannot name a capture file ({why})", str(capture))
        if capture.is_dir():
            check_output(capture / f"{node.name}.pcap", links=False)
    if shutil.which("tcpdump") is None:
        raise InputError("--capture: the lab captures with tcpdump, which is not installed (Debian package tcpdump)",
                         str(capture))  # fmt: skip


def _connect_all(
    lab: Lab,
    connections: int,
    timeout: float,
    seed: int,
    captures: tuple[Path | None, Path | None, list[str]],
    dumps: list[tuple[subprocess.Popen[bytes], str]],
    sports: list[int],
    dsts: list[str],
    net: sim.Network,
    progress: Callable[[int], None] | None,
) -> LabRun:
    s = lab.scenario
    capture, stage, kept = captures
    client = s.client_pod
    svc = s.client_service
    dport = s.client.port if s.client.via == "load-balancer" else svc.ports[0].port
    dst = s.client_target_address()
    if capture is not None and stage is not None:
        for node in s.nodes:
            path = stage / f"{node.name}.pcap"
            argv = commands.in_ns(lab.ns(node.name), ["tcpdump", "-i", "any", "-n", "-U", "-w", str(path), "tcp"])
            with identity.deferred_signals():  # started and recorded, or not started
                proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True, env=identity.lab_env(lab.record.prefix))  # fmt: skip
                lab.record.note_pid(proc.pid)
            dumps.append((proc, str(path)))
        time.sleep(0.5)
    where = client.node if client.host_network else client.name
    argv = commands.client_command(lab.ns(where), client.ip, dst, dport, sports, timeout, dsts)
    # the client runs in a session of its own, recorded like every process of the lab (lab down/clean end it
    # after a crash), and is ended here whatever happens, an interrupt (Ctrl-C) included
    with identity.deferred_signals():
        client_proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       start_new_session=True, env=identity.lab_env(lab.record.prefix))  # fmt: skip
        lab.record.note_pid(client_proc.pid)
    results: dict[int, dict[str, Any]] = {}
    try:
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
    finally:
        _end(client_proc)
        lab.record.forget_pid(client_proc.pid)
    if dumps:  # libpcap hands packets over in blocks retired at most every second (tcpdump's 1000 ms timeout):
        time.sleep(1.2)  # a block still open at SIGINT is lost, so let every block retire first,
        _settle([Path(p) for _, p in dumps])  # and tcpdump write them all out
    for p, _ in dumps:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=5)
    if capture is not None and stage is not None:
        dumps[:] = [(p, _move_capture(Path(staged), capture, kept)) for p, staged in dumps]
    node_table = parse_conntrack_tuples(_conntrack(lab, client.node))
    vpc_table = parse_conntrack_tuples(_conntrack(lab, "vpc")) if s.client.via == "load-balancer" else {}
    lb = svc.load_balancer if s.client.via == "load-balancer" else None
    clb = lb is not None and lb.type == "clb"
    proxied = _clb_connections(lab, len(results)) if clb else {}
    out: list[LabConnection] = []
    entry: dict[str, str] | None = None
    for i, sport in enumerate(sports):
        r = results.get(sport, {"outcome": "timeout", "elapsed_s": timeout})
        key = (client.ip, sport, dsts[i], dport)
        if clb:  # the proxy's log: which target it opened its own connection to, for this caller
            out_tuple = node_table.get(key)
            seen: tuple[str, int] | None = (out_tuple[2], out_tuple[3]) if out_tuple else (client.ip, sport)
            entry = proxied.get(f"{seen[0]}:{seen[1]}") if seen else None
            reply = split_hostport(entry["target"]) if entry else None
        elif s.client.via == "load-balancer":
            seen, reply = nlb_flow(key, node_table, vpc_table)
            if seen is not None and lb is not None and lb.scheme == "internet-facing" and lb.preserves_client_ip:
                # behind the NAT gateway the NLB saw the gateway's EIP: the vpc entry's reply destination
                via = node_table.get(key)
                src = (via[2], via[3]) if via else (key[0], key[1])
                gw = vpc_table.get((src[0], src[1], key[2], key[3]))
                seen = (gw[2], gw[3]) if gw else seen
        else:  # ClusterIP: the client's node DNATs
            seen, found = None, node_table.get(key)
            reply = (found[0], found[1]) if found else None
        target = hostport(*reply) if reply else ""
        # forced to the real target: the NLB's choice, the ClusterIP endpoint or the CLB's node
        simulated = net.connect(i, seed, sport, target or None)
        conn = LabConnection(i, hostport(client.ip, sport), target, r["outcome"], r["elapsed_s"], simulated.outcome,
                             simulated_target=simulated.target, nlb_source=hostport(*seen) if seen else "")  # fmt: skip
        if clb and entry:
            conn.proxy_backend = f"{entry['back']} -> {entry['target']}: {entry['backend']}"
        # the first round is compared for connections sent back to the caller's node that fail there (a hairpin,
        # or a martian drop); one that establishes (NAT gateway, CLB, no preservation) has no such round, and
        # tcpdump prints no sequence number on its bare handshake ACK
        if (capture is not None and target and split_hostport(target)[0] == s.node(client.node).ip
                and (simulated.hairpin or simulated.outcome != "established")):  # fmt: skip
            node = s.node(client.node)
            mask = Mask(
                frozenset(n.ip for n in s.nodes),
                frozenset(sp.node_port for x in s.services for sp in x.ports if sp.node_port),
                frozenset(p.ip for p in s.endpoints_of(svc)),
            )
            pods = {p.name for p in s.pods_on(node.name)}
            pcap = next((Path(f) for _, f in dumps if Path(f).name == f"{node.name}.pcap"), None)
            conn.real_sequence = capture_sequence(pcap, client.ip, sport, mask) if pcap else []
            conn.simulated_sequence = simulated_sequence(simulated.hops, node.name, pods, mask)
        out.append(conn)
    syns, give_up = syn_schedule(s.kernel.tcp_syn_retries, s.kernel.tcp_syn_linear_timeouts)
    limit = f"client-side connect timeout {timeout:g} s (SYNs sent within it: {sum(t < timeout for t in syns)})"
    would = (
        f"the default kernel would retransmit {len(syns) - 1} times and give up after {give_up:g} s "
        f"(tcp_syn_retries={s.kernel.tcp_syn_retries}, tcp_syn_linear_timeouts={s.kernel.tcp_syn_linear_timeouts})"
    )
    return LabRun(out, limit, would, [p for _, p in dumps if p])


def _move_capture(staged: Path, capture: Path, kept: list[str]) -> str:
    """Rename a node's capture from the stage into ``capture``; where that fails (``NODE.pcap`` became a
    directory, ``capture`` was removed or made read-only during the run), the capture stays in the stage, which
    ``run`` then keeps, and a warning says where.  Returns where the capture is ('': tcpdump wrote none)."""
    final = capture / staged.name
    try:
        os.replace(staged, final)
    except OSError as exc:
        if not os.path.lexists(staged):  # tcpdump could not start or write: nothing to keep
            warnings.warn(f"{final}: not written: tcpdump wrote no capture for this node", stacklevel=2)
            return ""
        kept.append(str(staged))
        warnings.warn(f"{final}: cannot write: {exc.strerror}; the capture is kept at {staged}", stacklevel=2)
        return str(staged)
    return str(final)


def _settle(paths: list[Path], quiet: float = 0.3, limit: float = 5.0) -> None:
    """Wait until none of the capture files has grown for ``quiet`` seconds (at most ``limit``)."""
    deadline = time.monotonic() + limit
    sizes = [p.stat().st_size if p.exists() else 0 for p in paths]
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = [p.stat().st_size if p.exists() else 0 for p in paths]
        if now == sizes:
            return
        sizes = now


def _clb_connections(lab: Lab, expected: int, wait: float = 3.0) -> dict[str, dict[str, str]]:
    """What the lab's CLB proxies did, by caller ip:port (their logs; a proxy logs a connection once its own
    connection to the target is made or has failed, which may be just after the caller's is established)."""
    from hairpin.backends.lab.build import clb_log

    deadline = time.monotonic() + wait
    while True:
        found: dict[str, dict[str, str]] = {}
        for i in range(len(commands.clb_listeners(lab.scenario))):
            path = clb_log(lab, i)
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            for line in text.splitlines():
                if line.strip():
                    entry = json.loads(line)
                    found[entry["client"]] = entry
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _conntrack(lab: Lab, logical: str) -> str:
    """The conntrack table of one lab namespace, as /proc/net/nf_conntrack text."""
    res = subprocess.run(commands.in_ns(lab.ns(logical), ["cat", "/proc/net/nf_conntrack"]), capture_output=True,
                         text=True, check=False, env=identity.lab_env(lab.record.prefix))  # fmt: skip
    return res.stdout


_ = _run
