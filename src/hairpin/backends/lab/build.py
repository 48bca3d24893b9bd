"""Make a scenario's topology real: namespaces, veths, addresses, routes, rules, neighbours, sysctls,
iptables (through iptables-restore) and the backends' servers, all recorded before they are made.

Order matters: global sysctls (rp_filter, proxy_delay, TCP settings) are set before any interface exists
so that new interfaces inherit them; interface sysctls (proxy_arp) after.  Every veth is created inside a
lab namespace with its peer placed straight into another lab namespace: nothing ever appears in the host
namespace.  Each namespace is opened by name with ``NetNS(name, flags=0)``: pyroute2's default (``O_CREAT``)
would make a new namespace under a name that is gone (removed by ``hairpin lab down`` from another shell, say),
one the record does not hold.

An IPv6 scenario is built the same way, with IPv6's tools: ``accept_dad=0`` among each namespace's global
sysctls, addresses, routes, rules and neighbours through ``ip -6 -batch`` (``commands.ip6_batch``), the node and
NLB rules through ip6tables-restore, servers bound to ``::``.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from hairpin.backends.lab import commands, identity
from hairpin.backends.lab.record import LabRecord, clean, new_prefix
from hairpin.errors import LabError, LabUnsupported, NotPermitted
from hairpin.kube import node_nft
from hairpin.scenario import Scenario
from hairpin.topology import Namespace, Topology, build

__all__ = ["IP_VS", "Lab", "LabUnsupported", "check_permitted", "check_supported", "down", "up"]

NUD_PERMANENT = 0x80
SCOPES = {"global": 0, "link": 253, "host": 254}
IP_VS = Path("/proc/net/ip_vs")  # exists when the kernel has IPVS (built in or the ip_vs module loaded)


def check_supported(scenario: Scenario) -> None:
    """Refuse, before anything is made, a scenario whose data path the lab does not build.

    Every node and pod is a namespace named ``<prefix><name>``: a name ``ip netns`` would refuse
    (``identity.invalid_name``) or two of the same name cannot be made.  kube-proxy's IPVS mode needs the
    kernel's IPVS (``/proc/net/ip_vs``); even with it, the lab does not load IPVS virtual servers yet."""
    names = [n.name for n in scenario.nodes] + [p.name for p in scenario.pods if not p.host_network] + ["vpc"]
    for name in names:
        why = identity.invalid_name(f"hp{'0' * 6}-{name}")  # as long as new_prefix()'s
        if why:
            raise LabUnsupported(f"the lab cannot name a network namespace after {name!r}: {why}")
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})[0]
        raise LabUnsupported(f"the lab makes one network namespace per node and pod, and {twice!r} names two "
                             "(the vpc namespace is 'vpc')")  # fmt: skip
    if scenario.kube_proxy.mode == "ipvs":
        if not IP_VS.exists():
            raise LabUnsupported(
                f"the lab needs the kernel's IPVS (ip_vs) for kube_proxy.mode ipvs; {IP_VS} is absent on this kernel"
            )
        raise LabUnsupported("IPVS in the lab is not built yet (kube_proxy.mode ipvs); use iptables or nftables")


def check_permitted(scenario: Scenario | None = None) -> None:
    """What the scenario needs that the lab cannot build (``check_supported``), then root and the tools
    (``nft`` too in kube-proxy's nftables mode), before anything is made."""
    if scenario is not None:
        check_supported(scenario)
    if os.geteuid() != 0:
        raise NotPermitted("the lab needs root (CAP_NET_ADMIN) to create network namespaces")
    tools = {"ip": "iproute2", "iptables-restore": "iptables"}
    if scenario is not None and scenario.family == 6:
        tools = {"ip": "iproute2", "ip6tables-restore": "iptables"}
    if scenario is not None and scenario.kube_proxy.mode == "nftables":
        tools["nft"] = "nftables"
    for tool, package in tools.items():
        if shutil.which(tool) is None:
            raise NotPermitted(f"the lab needs {tool} (Debian package {package})")


def _run(argv: list[str], stdin: str | None = None, prefix: str = "") -> None:
    env = identity.lab_env(prefix) if prefix else None  # marked as the lab's (identity.marked)
    res = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, env=env)
    if res.returncode != 0:
        raise LabError(f"{' '.join(argv[:6])}: {res.stderr.strip() or res.returncode}")


@dataclass
class Lab:
    """A built lab: its scenario, topology, record and the real name of each logical namespace."""

    scenario: Scenario
    topology: Topology
    record: LabRecord
    names: dict[str, str] = field(default_factory=dict)
    #: the NLB's health checks as the vpc namespace made them: node:healthCheckNodePort -> HTTP status
    health: dict[str, int] = field(default_factory=dict)
    #: the servers' and proxies' Popen objects, kept until ``remove`` reaps them: a Popen dropped while its
    #: process runs has its ``__del__`` run Python code, and a Ctrl-C that lands there is lost ("Exception
    #: ignored in Popen.__del__", measured: an interrupted ``lab run`` ran to its end with exit 0)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    def ns(self, logical: str) -> str:
        return self.names[logical]

    def remove(self) -> list[str]:
        """The lab's ``LabRecord.remove``, then its servers reaped; in the process that made it only: a forked
        copy of it (pyroute2's helpers) that unwinds its copy of the call stack (an exception, Ctrl-C) removes
        nothing."""
        if os.getpid() != self.record.owner:
            return []
        removed = self.record.remove()
        with identity.deferred_signals():  # dropping a Popen runs its __del__: a signal there would be lost
            for proc in self.procs:
                proc.poll()  # reaped if it has ended (the removal ended every one it proved the lab's)
            self.procs.clear()
        return removed


def up(scenario: Scenario, *, persistent: bool = False, servers: bool = True) -> Lab:
    """Build the scenario in fresh namespaces.  On any failure (Ctrl-C included) removes what it made."""
    check_permitted(scenario)
    clean()  # labs left by killed processes
    topo = build(scenario)
    rec = LabRecord(new_prefix(), scenario.name, os.getpid(), time.time(), fix=scenario.fix, persistent=persistent,
                    owner_start=identity.proc_start(os.getpid()))  # fmt: skip
    lab = Lab(scenario, topo, rec, {n.name: commands.ns_name(rec.prefix, n.name) for n in topo.namespaces})
    try:  # the first save and the last too: Ctrl-C during either leaves nothing behind either
        rec.save()
        _build(lab, servers)
        rec.state = "up"
        rec.save()
    except BaseException:
        lab.remove()  # not in a forked copy of this process (Lab.remove)
        raise
    return lab


def _build(lab: Lab, servers: bool) -> None:
    from pyroute2 import NetNS
    from pyroute2.netlink.exceptions import NetlinkError

    rec = lab.record
    family = lab.scenario.family
    for n in lab.topology.namespaces:
        real = lab.ns(n.name)

        def record(inode: int, ctime: int, file: list[int], real: str = real) -> None:  # proof and all, before its name
            if real not in rec.namespaces:  # (called again for a mount point made by name: identity.create)
                rec.namespaces.append(real)
            rec.netns_ids[real] = [inode, ctime, time.time_ns()]
            rec.mount_points[real] = file
            rec.save()

        with identity.deferred_signals():
            try:
                rec.netns_ids[real][1] = identity.create(real, record)[1]
            except FileExistsError:
                raise LabError(f"network namespace {real} exists already; the lab left it alone") from None
            except OSError as exc:
                raise LabError(f"network namespace {real}: {exc}") from None
            rec.save()
        linear = lab.scenario.kernel.tcp_syn_linear_timeouts
        _run(commands.sysctl_command(real, commands.global_sysctls(n, linear, family)), prefix=rec.prefix)
    for (a_ns, a_if), (b_ns, b_if) in lab.topology.links:
        a = lab.topology.namespace(a_ns).interface(a_if)
        b = lab.topology.namespace(b_ns).interface(b_if)
        try:
            with NetNS(lab.ns(a_ns), flags=0) as ipr:  # flags=0: never made here (module doc)
                ipr.link("add", ifname=a_if, kind="veth", address=a.mac,
                         peer={"ifname": b_if, "address": b.mac, "net_ns_fd": lab.ns(b_ns)})  # fmt: skip
        except (OSError, NetlinkError) as exc:
            raise LabError(f"{lab.ns(a_ns)}: veth {a_if} to {lab.ns(b_ns)}: {exc}") from None
    restore = "ip6tables-restore" if family == 6 else "iptables-restore"
    for n in lab.topology.namespaces:
        try:
            _configure(lab.ns(n.name), n, rec.prefix)
        except (OSError, NetlinkError) as exc:
            raise LabError(f"{lab.ns(n.name)}: {exc}") from None
        iptables = n.iptables if n.role != "vpc" else commands.nlb_iptables(lab.scenario)
        if iptables.strip():
            _run(commands.in_ns(lab.ns(n.name), [restore]), stdin=iptables, prefix=rec.prefix)
        if n.role == "node" and (nft_text := node_nft(lab.scenario, n.name)):
            # kube-proxy's table ip kube-proxy (hairpin.kube.nftables) and the VPC CNI's table ip aws-cni
            # (hairpin.kube.cni.nft_ruleset), loaded in the node's namespace only, after iptables' tables
            _run(commands.in_ns(lab.ns(n.name), ["nft", "-f", "-"]), stdin=nft_text, prefix=rec.prefix)
    if servers:
        for svc in lab.scenario.services:
            for pod in lab.scenario.endpoints_of(svc):
                where = pod.node if pod.host_network else pod.name
                for sp in svc.ports:
                    _start(lab, commands.server_command(lab.ns(where), sp.target_port, family))
        _start_clbs(lab)
        for server in commands.health_servers(lab.scenario):
            _start(lab, commands.health_server_command(lab.ns(server[0]), server, family))
        _wait_listening(lab)
        _check_health(lab)


def _configure(real: str, n: Namespace, prefix: str = "") -> None:
    from pyroute2 import NetNS

    family = 6 if any(":" in a for a in n.addresses) else 4  # an IPv6 scenario's namespaces hold IPv6 only

    batch = commands.ip6_batch(n) if family == 6 else ""
    with NetNS(real, flags=0) as ipr:  # flags=0: a name that is gone is an error, never a new namespace
        index = {}
        for iface in n.interfaces:
            found = ipr.link_lookup(ifname=iface.name)
            if not found:
                raise LabError(f"{real}: interface {iface.name} missing")
            index[iface.name] = found[0]
            ipr.link("set", index=found[0], state="up")
        if "lo" not in index:
            lo = ipr.link_lookup(ifname="lo")[0]
            ipr.link("set", index=lo, state="up")
            index["lo"] = lo
        for iface in n.interfaces if family == 4 else ():
            for cidr in iface.addresses:
                addr, _, plen = cidr.partition("/")
                ipr.addr("add", index=index[iface.name], address=addr, prefixlen=int(plen or 32))
        for r in n.routes if family == 4 else ():
            kw: dict[str, object] = {"dst": r.dst, "oif": index[r.dev], "table": r.table, "scope": SCOPES[r.scope]}
            if r.via:
                kw["gateway"] = r.via
                kw.pop("scope")
            if r.src:
                kw["prefsrc"] = r.src
            try:
                ipr.route("add", **kw)
            except Exception as exc:  # the kernel already made the subnet route from the address
                if getattr(exc, "code", None) != errno.EEXIST:
                    raise LabError(f"{real}: route {r.dst} dev {r.dev}: {exc}") from None
        for pr in n.rules if family == 4 else ():
            rkw: dict[str, object] = {"priority": pr.priority, "table": pr.table}
            if pr.src:
                a, _, plen = pr.src.partition("/")
                rkw.update(src=a, src_len=int(plen or 32))
            if pr.dst:
                a, _, plen = pr.dst.partition("/")
                rkw.update(dst=a, dst_len=int(plen or 32))
            if pr.fwmark is not None:
                rkw.update(fwmark=pr.fwmark, fwmask=pr.fwmask if pr.fwmask is not None else 0xFFFFFFFF)
            if pr.iif:
                rkw["iifname"] = pr.iif
            ipr.rule("add", **rkw)
        for nb in n.neighbours if family == 4 else ():
            ipr.neigh("add", dst=nb.ip, lladdr=nb.mac, ifindex=index[nb.dev], state=NUD_PERMANENT)
    if batch:
        _run(commands.in_ns(real, ["ip", "-6", "-batch", "-"]), stdin=batch, prefix=prefix)
    iface_sysctls = commands.interface_sysctls(n, family)
    if iface_sysctls:
        _run(commands.sysctl_command(real, iface_sysctls), prefix=prefix)


def _start(lab: Lab, argv: list[str]) -> int:
    with identity.deferred_signals():  # started and recorded (with its start time), or not started
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                env=identity.lab_env(lab.record.prefix))  # fmt: skip
        lab.record.note_pid(proc.pid)
        lab.procs.append(proc)  # kept (Lab.procs)
    return proc.pid


def clb_log(lab: Lab, i: int) -> Path:
    """Where the lab's ``i``-th Classic ELB proxy writes what it did (next to the lab's record)."""
    return lab.record.path.with_name(f"{lab.record.prefix}clb{i}.log")


def _start_clbs(lab: Lab) -> None:
    """A real TCP proxy (``clb_proxy``) per Classic ELB node, in the vpc namespace, on the node's address."""
    for i, listener in enumerate(commands.clb_listeners(lab.scenario)):
        log = clb_log(lab, i)
        lab.record.files.append(str(log))
        lab.record.save()  # recorded before it exists
        log.touch()
        _start(lab, commands.clb_proxy_command(lab.ns("vpc"), listener, log))


def _check_health(lab: Lab) -> None:
    """The load balancer's health checks, made for real: an HTTP GET from the vpc namespace to every
    registered node's healthCheckNodePort (kube-proxy's server: 200 with local endpoints, 503 without).  The
    emulated NLB's targets are the simulator's healthy ones (``commands.nlb_iptables``); a kernel whose
    answers said otherwise would make a lab that is not the simulated system, so the build stops."""
    want = commands.health_checks(lab.scenario)
    if not want:
        return
    import json

    res = subprocess.run(
        commands.in_ns(lab.ns("vpc"), [sys.executable, "-m", "hairpin.backends.lab.healthz", "--probe", ",".join(want)]),
        capture_output=True, text=True, check=False, env=identity.lab_env(lab.record.prefix),
    )  # fmt: skip
    if res.returncode != 0:
        raise LabError(f"health check probe failed: {res.stderr.strip() or res.returncode}")
    lab.health = {k: int(v) for k, v in json.loads(res.stdout).items()}
    wrong = [k for k, healthy in want.items() if (lab.health.get(k) == 200) != healthy]
    if wrong:
        raise LabError(f"health checks disagree with the simulator's target health: {', '.join(wrong)}")


def _wait_listening(lab: Lab, timeout: float = 10.0) -> None:
    """Wait until every server, CLB proxy and health check server accepts (http.server takes a moment)."""
    want = [("vpc", f"src {addr}:{port}") for addr, port, _ in commands.clb_listeners(lab.scenario)]
    want += [(node, f"sport = :{port}") for node, port, _, _ in commands.health_servers(lab.scenario)]
    for svc in lab.scenario.services:
        for pod in lab.scenario.endpoints_of(svc):
            for sp in svc.ports:
                want.append((pod.node if pod.host_network else pod.name, f"sport = :{sp.target_port}"))
    deadline = time.monotonic() + timeout
    for where, query in want:
        while True:
            res = subprocess.run(commands.in_ns(lab.ns(where), ["ss", "-Hltn", query]), capture_output=True,
                                 text=True, check=False, env=identity.lab_env(lab.record.prefix))  # fmt: skip
            if res.stdout.strip():
                break
            if time.monotonic() > deadline:
                raise LabError(f"server on {where} ({query}) did not start")
            time.sleep(0.05)


def down(prefix: str | None = None, kept: list[str] | None = None, strangers: list[int] | None = None,
         emptied: list[str] | None = None) -> list[str]:  # fmt: skip
    """Remove the recorded labs (one, by prefix, or all); returns the namespaces removed and adds to ``kept``
    the recorded ones left because they are not the lab's (``LabRecord.owns_netns``), to ``strangers`` the
    processes left running in them because the lab did not start them (``LabRecord.strangers``), to ``emptied``
    the names whose empty mount point it deleted (``LabRecord.emptied``)."""
    from hairpin.backends.lab.record import labs

    removed: list[str] = []
    for rec in labs():
        if prefix is None or rec.prefix.rstrip("-") == prefix.rstrip("-"):
            removed += rec.remove()
            rec.report(kept, strangers, emptied)
    return removed
