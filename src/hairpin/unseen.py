"""What a node's files cannot show a trace: tables that were not given, and datapaths outside netfilter.

A trace follows netfilter's tables and the routing tables.  Two things make that answer wrong without any
rule being misread, and this module says so (``hairpin.trace`` adds its warnings; a missing nat table under
kube-proxy's rules is an error):

- **Tables not given.**  ``iptables -S`` prints one table (filter unless ``-t`` names another), so a pasted
  ``iptables -S`` is usually the filter table alone, and a table that is not given is traced as empty.
  kube-proxy's iptables and IPVS modes always write both nat (``KUBE-SERVICES``, ``KUBE-POSTROUTING``) and
  filter (``KUBE-FORWARD``) chains (kubernetes ``pkg/proxy/iptables/proxier.go`` and
  ``pkg/proxy/ipvs/proxier.go``, the chain lists each proxier ensures; ``hairpin.kube.proxy`` and
  ``hairpin.kube.ipvs`` write them), so kube-proxy's chains in one of the two without the other table is a
  partial dump.  Without nat, no Service address or NodePort is translated: refused.  Without filter,
  kube-proxy's drops and rejects are not applied: a warning.  From ``-S`` outputs, every one of raw, mangle,
  nat and filter that is missing is named (the AWS VPC CNI sets its connmark in mangle, NodeLocal DNSCache
  its NOTRACK in raw).  An ``iptables-save`` dump lists every table the kernel has, so a table it leaves out
  is empty in the kernel too, except for the kube-proxy pair above (``iptables-save -t nat``).
- **Datapaths outside netfilter.**  Cilium attaches eBPF programs to the node's devices and to cgroups:
  with its kube-proxy replacement they translate ClusterIPs at the pod's ``connect()`` and NodePorts on the
  node's devices, and its BPF host routing hands packets between devices past netfilter (Cilium docs,
  "Kubernetes Without kube-proxy" and "eBPF Host-Routing").  It is recognised by its iptables chains
  (``CILIUM_`` prefix: ``CILIUM_INPUT``, ``CILIUM_FORWARD``, ``CILIUM_PRE_nat``..., cilium
  ``pkg/datapath/iptables/iptables.go``) or its devices (``cilium_host``, ``cilium_net``, ``cilium_vxlan``,
  ``cilium_geneve``, ``cilium_ipip4``, ``cilium_ipip6``: cilium ``pkg/defaults/node.go``).  Calico's eBPF
  dataplane does Services and policy in BPF programs on the devices too (Calico docs, "Enable the eBPF
  dataplane"); in that mode Felix creates the devices ``bpfin.cali`` and ``bpfout.cali`` (calico
  ``felix/dataplane/linux/dataplanedefs/dataplane_defs.go``).  hairpin models neither: the trace is what
  netfilter and routing would do, and its first line says so.
- **kube-proxy's IPVS mode without its table.**  In IPVS mode the Services are translated by IPVS, whose
  virtual servers only ``ipvsadm -Sn`` shows; the rules show the mode (nat ``KUBE-NODE-PORT`` or
  ``KUBE-LOAD-BALANCER``, kubernetes ``pkg/proxy/ipvs/proxier.go``) and so does its dummy device ``kube-ipvs0``.
  Without ``ipvsadm`` output the trace cannot translate a Service packet: the first line and a warning say so.
- **A cut Service chain.**  kube-proxy picks a Service's endpoint with ``-m statistic --mode random
  --probability 1/n``, ``1/(n-1)``... and ends the chain with an unconditional jump to the last endpoint
  (kubernetes ``pkg/proxy/iptables/proxier.go``, ``writeServiceToEndpointRules``; ``hairpin.kube.proxy._dispatch``
  writes the same).  A ``KUBE-SVC-``, ``KUBE-SVL-`` or ``KUBE-XLB-`` chain whose last jump to an endpoint is still
  a random one is what a paste that lost its last lines looks like (``iptables -S`` has no end marker, unlike
  ``iptables-save``'s ``COMMIT``): the kernel would let the rest fall through, and so does the trace, with a
  warning naming the rule.
- **No kube-proxy at all.**  Files with no kube-proxy rules (no ``KUBE-SERVICES`` chain, no ``table ip
  kube-proxy``, no ``ipvsadm``) translate no Service: said, since kube-proxy's nftables mode keeps its rules in
  ``nft list ruleset`` (not given), the files may be the wrong node's, or Services may be done elsewhere; more
  sharply for a packet to a port in the NodePort range (30000-32767, kube-apiserver's default
  ``--service-node-port-range``) of the node's own address, which is then only a local port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hairpin.errors import InputError

if TYPE_CHECKING:
    from hairpin.model.net import Packet
    from hairpin.netfilter.rules import Ruleset
    from hairpin.routing import Routing

__all__ = ["IPVS", "NODE_PORTS", "cut_service_chains", "datapath_warnings", "datapaths", "ipvs_not_given",
           "kube_proxy_chain", "missing_tables", "no_kube_proxy"]

#: chains only kube-proxy's iptables or IPVS mode writes (kubelet's own chains, KUBE-MARK-MASQ,
#: KUBE-POSTROUTING and KUBE-FIREWALL before 1.28, are left out: kubelet writes them in any mode)
KUBE_PROXY_CHAINS = ("KUBE-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES",
                     "KUBE-PROXY-FIREWALL", "KUBE-NODE-PORT", "KUBE-IPVS-FILTER")  # fmt: skip
TABLES = ("raw", "mangle", "nat", "filter")
CILIUM_DEVICES = ("cilium_host", "cilium_net", "cilium_vxlan", "cilium_geneve", "cilium_ipip4", "cilium_ipip6")
CALICO_BPF_DEVICES = ("bpfin.cali", "bpfout.cali")
#: kube-apiserver's default --service-node-port-range
NODE_PORTS = range(30000, 32768)


def kube_proxy_chain(rulesets: list[Ruleset]) -> tuple[str, str] | None:
    """(table, chain) of the first chain only kube-proxy writes, or None."""
    for rs in rulesets:
        for t in rs.tables.values():
            for name in KUBE_PROXY_CHAINS:
                if name in t.chains:
                    return t.name, name
    return None


#: the chains in which kube-proxy (iptables mode) picks one of a Service's endpoints (XLB: up to 1.23)
SERVICE_CHAINS = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-XLB-")


def cut_service_chains(rs: Ruleset) -> list[str]:
    """Warnings for the kube-proxy Service chains of one rule file whose last jump to an endpoint (``KUBE-SEP-``)
    is a random one: kube-proxy ends every such chain with an unconditional jump (see the module's docstring)."""
    nat = rs.tables.get("nat")
    out: list[str] = []
    for chain in nat.chains.values() if nat is not None else ():
        if not chain.name.startswith(SERVICE_CHAINS):
            continue
        seps = [r for r in chain.rules if r.target is not None and r.target.name.startswith("KUBE-SEP-")]
        last = seps[-1] if seps else None
        stat = next((m for m in last.matches if m.module == "statistic"), None) if last is not None else None
        p = stat.get("--probability") if stat is not None else None
        if last is None or p is None:
            continue
        out.append(f"{rs.file}:{last.line}: {chain.name}'s last endpoint jump is a random one (--probability "
                   f"{p.value}), but kube-proxy ends a Service's chain with an unconditional jump to its last "
                   "endpoint: the rules after it look cut off (a paste that lost its last lines?); packets no rule "
                   "picks fall through, as the kernel would do with these rules")  # fmt: skip
    return out


def missing_tables(rulesets: list[Ruleset], kp: tuple[str, str] | None, dash_s: bool, nft: bool, files: list[str],
                   routing: Routing) -> list[str]:  # fmt: skip
    """Warnings for the tables the rule files leave out (see the module's docstring); ``InputError`` when
    kube-proxy's rules are there without table nat.  ``rulesets``: the node's (one per iptables backend);
    ``kp``: their first chain only kube-proxy writes (``kube_proxy_chain``); ``dash_s``: every rule file was
    ``iptables -S`` output; ``nft``: kube-proxy's nftables table was given; ``files``: the rule files, as the user
    named them."""
    file = files[0]
    have = {t for rs in rulesets for t in rs.tables}
    family = rulesets[0].family if rulesets else 4
    cmd = "ip6tables" if family == 6 else "iptables"
    out: list[str] = []
    if kp is not None and not nft:
        if "nat" not in have:
            raise InputError(f"kube-proxy's rules are here (chain {kp[1]} in table {kp[0]}) but table nat is not: "
                             "every Service address and NodePort would go untranslated. "
                             f"`{cmd} -S` prints table filter only: add `{cmd} -t nat -S` and `{cmd} -t mangle -S`, "
                             f"or give `{cmd}-save`", ", ".join(files))  # fmt: skip
        if "filter" not in have:
            out.append(f"{', '.join(files)}: kube-proxy's rules are in table nat but table filter is not given: taken as empty, "
                       "so kube-proxy's filter rules (KUBE-FORWARD's drop of invalid packets, the rejects of Services "
                       f"without endpoints, its firewall) are not applied: add `{cmd} -S` or give `{cmd}-save`")  # fmt: skip
    if dash_s:
        absent = [t for t in TABLES if t not in have and not (t == "filter" and out)]
        if absent:
            marks = ("mangle" in absent and any(r.fwmark is not None for r in routing.rules))
            said = f"{file}: `{cmd} -S` output gives" if len(files) == 1 else (
                f"the `{cmd} -S` outputs ({', '.join(files)}) give")
            out.append(f"{said} table{'s' if len(have) > 1 else ''} "
                       f"{', '.join(t for t in TABLES if t in have) or 'none'}; {', '.join(absent)} not given: taken "
                       "as empty" + (" (the node's ip rules select by fwmark, which rules in mangle set)" if marks
                                     else "") + f". Add `{cmd} -t TABLE -S` for each, or give `{cmd}-save`")  # fmt: skip
    return out


def datapaths(rulesets: list[Ruleset], links: set[str]) -> list[tuple[str, str]]:
    """The datapaths outside netfilter the node's files show: [(name, the evidence)]."""
    out: list[tuple[str, str]] = []
    cilium = sorted(c for rs in rulesets for t in rs.tables.values() for c in t.chains if c.startswith("CILIUM_"))
    devs = [d for d in CILIUM_DEVICES if d in links]
    if cilium or devs:
        said = ([f"chain {cilium[0]}"] if cilium else []) + ([f"device {devs[0]}"] if devs else [])
        out.append(("Cilium", " and ".join(said)))
    bpf = [d for d in CALICO_BPF_DEVICES if d in links]
    if bpf:
        out.append(("Calico's eBPF dataplane", "device " + " and ".join(bpf)))
    return out


#: chains only kube-proxy's IPVS mode writes in nat (pkg/proxy/ipvs/proxier.go: KUBE-NODE-PORT, KUBE-LOAD-BALANCER;
#: the iptables mode's chain is KUBE-NODEPORTS), and the dummy device it binds Service addresses to
IPVS_NAT_CHAINS = ("KUBE-NODE-PORT", "KUBE-LOAD-BALANCER")
IPVS_DEVICE = "kube-ipvs0"
IPVS = "kube-proxy's IPVS mode"


def ipvs_not_given(rulesets: list[Ruleset], links: set[str], ipvs: bool) -> tuple[str, str] | None:
    """(IPVS, a warning) when the files show kube-proxy's IPVS mode but no ``ipvsadm`` output was given: IPVS
    translates the Services then, and without its table the trace cannot."""
    if ipvs:
        return None
    said = [f"chain {c} in table nat" for rs in rulesets for c in IPVS_NAT_CHAINS
            if "nat" in rs.tables and c in rs.tables["nat"].chains][:1]  # fmt: skip
    if IPVS_DEVICE in links:
        said.append(f"device {IPVS_DEVICE}")
    if not said:
        return None
    return IPVS, (f"kube-proxy runs in IPVS mode on this node ({' and '.join(said)}) but no `ipvsadm -Sn` output "
                  "was given: IPVS, not these rules, translates Service addresses and NodePorts, so a Service packet "
                  "is traced here as if nothing translated it (delivered locally, or routed as it is). Give "
                  "`ipvsadm -Sn` (install ipvsadm on the node if it lacks it; hairpin collect saves it)")  # fmt: skip


def datapath_warnings(found: list[tuple[str, str]], kube_proxy: bool) -> list[str]:
    """One warning per datapath ``datapaths`` found, saying what it may do that the trace does not show;
    ``kube_proxy``: the files hold kube-proxy's rules (its chains, or its nftables table)."""
    out = []
    for name, evidence in found:
        if kube_proxy:
            does = ("its eBPF programs on the node's devices can route or drop packets before netfilter sees them "
                    "(BPF host routing, network policy)")  # fmt: skip
        else:
            does = ("with no kube-proxy rules in the files, its eBPF programs most likely translate Services (a "
                    "ClusterIP at the pod's connect(), a NodePort on the node's devices) and route packets past "
                    "netfilter")  # fmt: skip
        out.append(f"this node runs {name} ({evidence}): {does}. hairpin does not model it: this trace is what "
                   "netfilter and the routing tables do, not necessarily where the packet goes")  # fmt: skip
    return out


def no_kube_proxy(packet: Packet, local: bool, family: int) -> str:
    """The warning for files that hold no kube-proxy rules (no chain of its, no nftables table, no ``ipvsadm``: no
    Service is translated), sharper when ``packet`` goes to a NodePort-range port of the node (``local``)."""
    table = "ip6 kube-proxy" if family == 6 else "ip kube-proxy"
    files = f"the node's files hold no kube-proxy rules (no KUBE-SERVICES chain, no table {table}, no ipvsadm)"
    if local and packet.dport in NODE_PORTS:
        head = (f"port {packet.dport} is in the NodePort range (30000-32767) but {files}: nothing here translates "
                "it, so it is traced as a local port.")  # fmt: skip
    else:
        head = f"{files[0].upper()}{files[1:]}: no Service address or NodePort is translated in this trace."
    return (f"{head} kube-proxy's nftables mode keeps its rules in `nft list ruleset`: give it beside "
            "iptables-save; else, are these the node's files, and is kube-proxy running on it?")  # fmt: skip
