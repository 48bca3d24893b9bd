"""Pure builders for the lab: names, the NLB emulation's rules, sysctls and command lines.

Nothing here runs anything, so all of it is tested without root.

The NLB is emulated in the ``vpc`` namespace, where the VPC router lives, as the reference sketch did: for
each NLB node address, a nat PREROUTING DNAT over that node's target set (the simulator's own target sets,
``hairpin.aws.nlb.Nlb``: AZ-local or cross-zone, healthy targets, instance or ip) with the kube-proxy-style
``-m statistic --mode random`` cascade, so each target is equally likely; conntrack keeps every later packet
of the flow on the same target, as the NLB's flow table does; replies pass the vpc namespace on their way
back and conntrack restores the listener's address.  With client IP preservation off, a SNAT to the NLB
node's address makes the target reply to the NLB.  In an IPv6 scenario the same rules are ip6tables-save text
(``/128`` host masks, bracketed ``[addr]:port`` targets), loaded with ip6tables-restore.

IPv6 namespaces are configured with ``ip -6 -batch`` (``ip6_batch``): every address ``nodad`` (and
``accept_dad=0`` set in each lab namespace before its interfaces exist: no address waits out duplicate address
detection), the routes, the VPC CNI's ip rules in the IPv6 family and the permanent neighbour entries.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hairpin.aws.clb import Clb
from hairpin.aws.nlb import Nlb, targets_for
from hairpin.aws.vpc import NAT_GATEWAY_EIP
from hairpin.kube.proxy import answers_health_checks
from hairpin.model.net import Endpoint, addr_int, ip_str
from hairpin.scenario import Scenario
from hairpin.topology import MAIN, Namespace

__all__ = [
    "ClbListener",
    "clb_listeners",
    "clb_proxy_command",
    "client_command",
    "global_sysctls",
    "health_checks",
    "health_server_command",
    "health_servers",
    "interface_sysctls",
    "ip6_batch",
    "nlb_iptables",
    "ns_name",
    "server_command",
]


def ns_name(prefix: str, logical: str) -> str:
    return f"{prefix}{logical}"


def nlb_iptables(s: Scenario) -> str:
    """The vpc namespace's iptables-save text emulating every NLB of the scenario (ip6tables-save text in an
    IPv6 scenario)."""
    host = "/128" if s.family == 6 else "/32"
    chains: list[str] = []
    rules: list[str] = []
    post: list[str] = []
    sg_chains: dict[str, list[str]] = {"nlb": [], "target": []}
    sg_rules: dict[str, list[str]] = {"nlb": [], "target": []}
    n = 0
    for svc in s.services:
        lb = svc.load_balancer
        if lb is None or lb.type != "nlb" or not lb.nodes:
            continue
        nlb = Nlb(s, svc)
        for node in nlb.nodes.values():
            chain = f"HP-NLB-{n}"
            n += 1
            chains.append(f":{chain} - [0:0]")
            vip = ip_str(node.addr)
            rules.append(
                f'-A PREROUTING -d {vip}{host} -p tcp -m comment --comment "NLB {svc.key} {node.az}" '
                f"-m tcp --dport {node.port} -j {chain}"
            )
            targets = list(node.targets)
            for i, t in enumerate(targets):
                left = len(targets) - i
                stat = f"-m statistic --mode random --probability {1 / left:.11f} " if left > 1 else ""
                rules.append(f"-A {chain} -p tcp {stat}-j DNAT --to-destination {t}")
            where = "nlb" if lb.security_groups else ("target" if nlb.preserve else None)
            if lb.source_ranges and where is not None:
                # the security group (hairpin.aws.security_groups): at the NLB before it picks a target, else at
                # the target (modelled on the forwarded, DNATed packet: the caller's address is what it sees)
                sg = f"HP-SG-{n - 1}"
                sg_chains[where].append(f":{sg} - [0:0]")
                if where == "nlb":
                    sg_rules["nlb"].append(f"-A PREROUTING -d {vip}{host} -p tcp -m tcp --dport {node.port} -j {sg}")
                else:
                    sg_rules["target"].append(
                        f"-A FORWARD -m conntrack --ctstate DNAT --ctdir ORIGINAL --ctorigdst {vip}{host} -j {sg}"
                    )
                sg_rules[where] += [f"-A {sg} -s {r} -j RETURN" for r in lb.source_ranges]
                what = "the NLB's security group" if where == "nlb" else "the targets' security group"
                sg_rules[where].append(f'-A {sg} -m comment --comment "{what}: not in the source ranges" -j DROP')
            if not nlb.preserve:
                post.append(
                    f"-A POSTROUTING -m conntrack --ctstate DNAT --ctorigdst {vip}{host} -j SNAT --to-source {vip}"
                )
            elif lb.scheme == "internet-facing":  # the NAT gateway in front: the NLB keeps its EIP as the client
                post.append(
                    f"-A POSTROUTING -s {s.vpc.cidr} -m conntrack --ctstate DNAT --ctorigdst {vip}{host} "
                    f'-m comment --comment "NAT gateway {NAT_GATEWAY_EIP}" -j SNAT --to-source {NAT_GATEWAY_EIP} '
                    "--random-fully"
                )
    lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]", *chains, *rules, *post, "COMMIT"]  # fmt: skip
    if sg_rules["nlb"]:
        lines += ["*mangle", ":PREROUTING ACCEPT [0:0]", *sg_chains["nlb"], *sg_rules["nlb"], "COMMIT"]
    if sg_rules["target"]:
        lines += ["*filter", ":FORWARD ACCEPT [0:0]", *sg_chains["target"], *sg_rules["target"], "COMMIT"]
    return "\n".join(lines) + "\n"


def global_sysctls(ns: Namespace, syn_linear_timeouts: int | None = None, family: int = 4) -> list[tuple[str, str]]:
    """Sysctls to set before any interface exists (so new interfaces inherit ``default``).

    ``syn_linear_timeouts`` (the scenario's ``kernel.tcp_syn_linear_timeouts``) is always written, 0 too:
    a kernel >= 6.5 starts every namespace at 4, so a scenario of an older kernel (0, the seed) would
    otherwise get SYNs at 0, 1, 2, 3, 4 s instead of 0, 1, 3, 7 s (measured here).  ``sysctl -e`` skips it
    on kernels without the setting.  In an IPv6 scenario (``family`` 6) duplicate address detection is off in
    the namespace (``accept_dad=0``, all and default): the lab's addresses are unique by construction and an
    address under DAD stays tentative (unusable) for about a second."""
    out = [(k, v) for k, v in ns.sysctls if ".conf.all." in k or ".conf.default." in k or ".conf." not in k]
    if syn_linear_timeouts is not None and not any(k == LINEAR_TIMEOUTS for k, _ in out):
        out.append((LINEAR_TIMEOUTS, str(syn_linear_timeouts)))
    out.append(("net.ipv4.neigh.default.proxy_delay", "0"))  # proxy ARP answers at once (reference README)
    if family == 6:
        out += [("net.ipv6.conf.all.accept_dad", "0"), ("net.ipv6.conf.default.accept_dad", "0"),
                ("net.ipv6.neigh.default.proxy_delay", "0")]  # fmt: skip
    return out


LINEAR_TIMEOUTS = "net.ipv4.tcp_syn_linear_timeouts"


def interface_sysctls(ns: Namespace, family: int = 4) -> list[tuple[str, str]]:
    """Per-interface sysctls, set once the interfaces exist; proxy ARP answers without delay on each
    (net.ipv4.neigh.IF.proxy_delay defaults to 0.8 s of random delay, which the reference README saw), and in
    an IPv6 scenario proxy NDP too (net.ipv6.neigh.IF.proxy_delay: the kernel's ndisc_recv_ns queues a proxied
    answer to a multicast solicitation for a random delay unless it is 0)."""
    out = [(k, v) for k, v in ns.sysctls if ".conf." in k and ".conf.all." not in k and ".conf.default." not in k]
    out += [(f"net.ipv4.neigh.{i.name}.proxy_delay", "0") for i in ns.interfaces if i.name != "lo"]
    if family == 6:
        out += [(f"net.ipv6.neigh.{i.name}.proxy_delay", "0") for i in ns.interfaces if i.name != "lo"]
    return out


def ip6_batch(ns: Namespace) -> str:
    """``ip -6 -batch -`` input configuring IPv6 namespace ``ns`` once its interfaces are up: addresses
    (``nodad``), routes (the kernel's own prefix routes are not repeated: an address's /64 makes its own),
    policy rules, permanent neighbours and proxy NDP entries, in that order."""
    lines: list[str] = []
    for iface in ns.interfaces:
        lines += [f"addr add {cidr} dev {iface.name} nodad" for cidr in iface.addresses]
    for r in ns.routes:
        dst = "default" if r.dst == "::/0" else r.dst
        line = f"route add {dst}" + (f" via {r.via}" if r.via else "") + f" dev {r.dev}"
        line += (f" src {r.src}" if r.src else "") + (" onlink" if r.onlink else "")
        lines.append(line + ("" if r.table == MAIN else f" table {r.table}"))
    for pr in ns.rules:
        line = f"rule add priority {pr.priority} from {pr.src or 'all'}" + (f" to {pr.dst}" if pr.dst else "")
        if pr.fwmark is not None:
            line += f" fwmark {pr.fwmark:#x}" + (f"/{pr.fwmask:#x}" if pr.fwmask is not None else "")
        line += (f" iif {pr.iif}" if pr.iif else "") + f" table {'main' if pr.table == MAIN else pr.table}"
        lines.append(line)
    lines += [f"neigh add {nb.ip} lladdr {nb.mac} dev {nb.dev} nud permanent" for nb in ns.neighbours]
    lines += [f"neigh add proxy {addr} dev {dev}" for addr, dev in ns.ndp_proxies]
    return "\n".join(lines) + "\n" if lines else ""


def hostport(ip: str, port: int) -> str:
    """``ip:port``, an IPv6 address in brackets (``[2a05:d018:a:5600::a]:31468``): ``Endpoint``'s text."""
    return str(Endpoint(addr_int(ip), port))


def split_hostport(text: str) -> tuple[str, int]:
    """``hostport``'s inverse (``Endpoint.parse``)."""
    e = Endpoint.parse(text)
    return e.ip, e.port


def in_ns(name: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", name, *argv]


def sysctl_command(name: str, items: list[tuple[str, str]]) -> list[str]:
    return in_ns(name, ["sysctl", "-q", "-e", "-w", *(f"{k}={v}" for k, v in items)])


def server_command(name: str, port: int, family: int = 4) -> list[str]:
    return in_ns(name, [sys.executable, "-m", "http.server", str(port), "--bind", "::" if family == 6 else "0.0.0.0"])


ClbListener = tuple[str, int, tuple[str, ...]]  # (address, listener port, targets "ip:port")


def clb_listeners(s: Scenario) -> list[ClbListener]:
    """Every Classic ELB node of the scenario: its address, listener port and target set (the simulator's
    own, ``hairpin.aws.clb.Clb``: AZ-local or cross-zone, healthy targets)."""
    out: list[ClbListener] = []
    for svc in s.services:
        lb = svc.load_balancer
        if lb is None or lb.type != "clb" or not lb.nodes:
            continue
        for node in Clb(s, svc).nodes.values():
            out.append((ip_str(node.addr), node.port, tuple(str(t) for t in node.targets)))
    return out


def clb_proxy_command(name: str, listener: ClbListener, log: Path) -> list[str]:
    addr, port, targets = listener
    return in_ns(
        name,
        [sys.executable, "-m", "hairpin.backends.lab.clb_proxy", "--listen", f"{addr}:{port}",
         "--targets", ",".join(targets), "--log", str(log)],
    )  # fmt: skip


HealthServer = tuple[str, int, str, int]  # (node, healthCheckNodePort, service key, local endpoints)


def health_servers(s: Scenario) -> list[HealthServer]:
    """kube-proxy's health check servers: one per node for each Service with externalTrafficPolicy Local and a
    healthCheckNodePort, answering with the node's number of local endpoints; none on a node whose address kube-proxy
    1.23 and later leave out by ``--nodeport-addresses`` (``hairpin.kube.proxy.answers_health_checks``)."""
    out: list[HealthServer] = []
    for svc in s.services:
        if svc.external_traffic_policy != "Local" or not svc.health_check_node_port:
            continue
        eps = s.endpoints_of(svc)
        for node in s.nodes:
            if answers_health_checks(s, node.name):
                out.append((node.name, svc.health_check_node_port, svc.key, sum(p.node == node.name for p in eps)))
    return out


def health_checks(s: Scenario) -> dict[str, bool]:
    """What the load balancers' health checks probe (``node:healthCheckNodePort`` of every registered instance
    target of a Local Service) and the health the simulator gives each (``hairpin.aws.nlb.targets_for``)."""
    out: dict[str, bool] = {}
    for svc in s.services:
        if svc.external_traffic_policy != "Local" or not svc.health_check_node_port or svc.load_balancer is None:
            continue
        for t in targets_for(s, svc):
            if svc.load_balancer.target_type == "instance":
                out[hostport(ip_str(t.addr), svc.health_check_node_port)] = t.healthy
    return out


def health_server_command(name: str, server: HealthServer, family: int = 4) -> list[str]:
    _, port, key, local = server
    bind = ["--bind", "::"] if family == 6 else []
    return in_ns(
        name,
        [sys.executable, "-m", "hairpin.backends.lab.healthz", "--port", str(port), "--service", key,
         "--local-endpoints", str(local), *bind],
    )  # fmt: skip


def client_command(name: str, src: str, dst: str, port: int, sports: list[int], timeout: float,
                   dsts: list[str] | None = None) -> list[str]:  # fmt: skip
    """The lab client's command; ``dsts`` (one per source port) overrides ``dst`` where it differs."""
    items = [str(p) if dsts is None or dsts[i] == dst else f"{p}@{dsts[i]}" for i, p in enumerate(sports)]
    return in_ns(
        name,
        [sys.executable, "-m", "hairpin.backends.lab.client", "--src", src, "--dst", dst, "--port", str(port),
         "--sports", ",".join(items), "--timeout", str(timeout)],
    )  # fmt: skip
