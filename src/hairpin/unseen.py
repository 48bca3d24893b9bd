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
- **Marks nothing sets.**  An ip rule that selects by a non-zero fwmark (the AWS VPC CNI's ``fwmark 0x80/0x80
  lookup main``, amazon-vpc-cni-k8s ``pkg/networkutils/network.go``) is taken only by packets whose mark some
  netfilter rule set: a ``MARK`` target (``--set-xmark V/M``, ``--set-mark V/M``, ``--or-mark V`` and
  ``--xor-mark V`` can turn on the bits of V; ``--and-mark`` none), ``TPROXY --tproxy-mark V/M`` (V), ``HMARK``
  (any), an nftables ``meta mark set`` (any, conservatively), or a ``CONNMARK --restore-mark`` (the bits of
  ``--ctmask``, or ``--mask``, all by default) of connection-mark bits that ``CONNMARK``'s setting options, a
  ``--save-mark`` (of the packet-mark bits of its ``--nfmask``), an nftables ``ct mark set`` or a conntrack entry
  given can turn on (iptables-extensions(8); the kernel's xt_connmark.c ``connmark_tg_shift`` restores
  ``(mark & ~nfmask) ^ (ctmark & ctmask)`` and saves ``(ctmark & ~ctmask) ^ (mark & nfmask)``: ``--nfmask``
  says which packet bits are cleared first, not which are restored).
  When no rule in the files can turn on any of the bits the ip rule needs, the trace never takes it, which is right only if the node's marks are
  really set nowhere; far more often the files are partial: ``iptables-save -t nat``, which leaves out the
  CNI's CONNMARK rules in mangle (an ``iptables-save`` dump cannot show that it was cut to one table), or a
  node whose CNI writes them in ``nft list ruleset`` (VPC CNI 1.23 on nf_tables: ``table ip aws-cni``) without
  that file.  A warning names the rule.  The VPC CNI's case is told more surely: from v1.16 its SNAT chain
  ``AWS-SNAT-CHAIN-0`` holds ``-d CIDR -j RETURN`` rules before the SNAT rule (PR #2697), and every such release
  also marks outbound connections in nat (``AWS-CONNMARK-CHAIN-0``), or, from v1.23 on an nf_tables node, in
  ``table ip aws-cni`` (``hairpin.kube.cni_layout``).  Such a SNAT chain with neither in the files means the
  nftables listing was not given: the CNI's mangle restore finds no connection mark to restore, and the trace
  routes the replies of connections leaving the VPC as if the fwmark rule were not there.
- **No kube-proxy at all.**  Files with no kube-proxy rules (no ``KUBE-SERVICES`` chain, no ``table ip
  kube-proxy``, no ``ipvsadm``) translate no Service: said, since kube-proxy's nftables mode keeps its rules in
  ``nft list ruleset`` (not given), the files may be the wrong node's, or Services may be done elsewhere; more
  sharply for a packet to a port in the NodePort range (30000-32767, kube-apiserver's default
  ``--service-node-port-range``) of the node's own address, which is then only a local port.
- **Another node's rules.**  The AWS VPC CNI's SNAT rule (comment ``AWS, SNAT``) rewrites to its node's primary
  address (``--to-source``, amazon-vpc-cni-k8s pkg/networkutils/network.go); when that address is none of the
  node's in the routing files, the rules are most likely another node's: said.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hairpin.errors import InputError

if TYPE_CHECKING:
    from hairpin.model.net import Packet
    from hairpin.netfilter.nft_tables import Nft
    from hairpin.netfilter.rules import Ruleset, Target
    from hairpin.routing import Routing

__all__ = [
    "IPVS",
    "NODE_PORTS",
    "cni_connmarks_not_given",
    "cut_service_chains",
    "datapath_warnings",
    "datapaths",
    "foreign_cni_snat",
    "ipvs_not_given",
    "kube_proxy_chain",
    "missing_tables",
    "no_kube_proxy",
    "unset_marks",
]

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


def missing_tables(rulesets: list[Ruleset], kp: tuple[str, str] | None, dash_s: bool, nft: bool,
                   files: list[str]) -> list[str]:  # fmt: skip
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
            said = f"{file}: `{cmd} -S` output gives" if len(files) == 1 else (
                f"the `{cmd} -S` outputs ({', '.join(files)}) give")
            out.append(f"{said} table{'s' if len(have) > 1 else ''} "
                       f"{', '.join(t for t in TABLES if t in have) or 'none'}; {', '.join(absent)} not given: taken "
                       f"as empty. Add `{cmd} -t TABLE -S` for each, or give `{cmd}-save`")  # fmt: skip
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


_ALL = 0xFFFFFFFF
#: nftables statements that write the packet mark (``meta mark set``, or its short form ``mark set``) and the
#: connection's (``ct mark set``)
_NFT_MARK_SET = re.compile(r"(?<![\w-])(?<!ct )(?:meta\s+)?mark\s+set\b")
_NFT_CT_MARK_SET = re.compile(r"\bct\s+mark\s+set\b")


def _mark_value(text: str) -> tuple[int, int | None]:
    """``V`` or ``V/M`` as iptables writes a mark (``0x80/0x80``, ``128``): (V, M or None); ValueError if not."""
    v, _, m = text.partition("/")
    return int(v, 0), (int(m, 0) if m else None)


def _ones(target: Target) -> int | None:
    """The bits of a mark that ``MARK``'s or ``CONNMARK``'s setting option can turn on: V of ``--set-xmark V/M``
    (mark = (mark & ~M) ^ V), ``--set-mark V/M`` (M zeroed, then V ORed), ``--or-mark V`` and ``--xor-mark V``;
    none for ``--and-mark`` (iptables-extensions(8)).  None: no setting option."""
    for opt in ("--set-xmark", "--set-mark", "--or-mark", "--xor-mark"):
        o = target.get(opt)
        if o is not None:
            return _mark_value(o.value)[0]
    return 0 if target.get("--and-mark") is not None else None


def _mask(target: Target, *names: str) -> int:
    """The first of the options ``names`` as a mask (all bits when none is given)."""
    for name in names:
        o = target.get(name)
        if o is not None:
            return _mark_value(o.value)[0]
    return _ALL


def _marks(rulesets: list[Ruleset], nft: Nft | None, ct_marks: int) -> int:
    """The packet-mark bits the rules can set: directly (``MARK``, ``TPROXY --tproxy-mark``, ``HMARK``, an
    nftables ``meta mark set``), or by ``CONNMARK --restore-mark`` (its ``--ctmask`` bits) from connection-mark
    bits something sets (``CONNMARK``'s setting options, ``--save-mark`` of the packet bits of its ``--nfmask``,
    an nftables ``ct mark set``, or the marks of the conntrack entries given, ``ct_marks``).  A value that does not read as a number counts as all bits."""
    from hairpin.netfilter.nft_tables import tables_of

    packet, conn, restores, saves = 0, ct_marks, 0, 0
    for rs in rulesets:
        for table in rs.tables.values():
            for chain in table.chains.values():
                for rule in chain.rules:
                    t = rule.target
                    if t is None or t.name not in ("MARK", "CONNMARK", "TPROXY", "HMARK"):
                        continue
                    try:
                        if t.name == "MARK":
                            ones = _ones(t)
                            packet |= _ALL if ones is None else ones
                        elif t.name == "HMARK":
                            packet = _ALL
                        elif t.name == "TPROXY":
                            o = t.get("--tproxy-mark")
                            if o is not None:
                                packet |= _mark_value(o.value)[0]  # mark = (mark & ~M) ^ V, as MARK's
                        elif t.get("--restore-mark") is not None:  # mark = (mark & ~nfmask) ^ (ctmark & ctmask)
                            restores |= _mask(t, "--ctmask", "--mask")
                        elif t.get("--save-mark") is not None:  # ctmark = (ctmark & ~ctmask) ^ (mark & nfmask)
                            saves |= _mask(t, "--nfmask", "--mask")
                        else:
                            conn |= _ones(t) or 0
                    except ValueError:
                        packet = _ALL
    for nft_table in tables_of(nft):
        for nft_chain in nft_table.chains.values():
            for nft_rule in nft_chain.rules:
                if _NFT_MARK_SET.search(nft_rule.text):
                    packet = _ALL
                if _NFT_CT_MARK_SET.search(nft_rule.text):
                    conn = _ALL
    conn |= packet & saves
    return packet | (conn & restores)


def unset_marks(rulesets: list[Ruleset], nft: Nft | None, routing: Routing, rules_file: str | None,
                ct_marks: int = 0) -> list[str]:  # fmt: skip
    """Warnings for the ip rules that select by a fwmark no rule in the files can set (see the module's
    docstring); ``ct_marks``: the marks of the conntrack entries given, ORed."""
    wanted = [(r, r.fwmark) for r in routing.rules if r.fwmark]  # fwmark 0 is met by an unmarked packet
    if not wanted:
        return []
    bits = _marks(rulesets, nft, ct_marks)
    have = {t for rs in rulesets for t in rs.tables}
    out = []
    for r, fwmark in wanted:
        if fwmark & r.fwmask & bits:  # a bit the rule needs set can be set
            continue
        mark = f"{fwmark:#x}" + (f"/{r.fwmask:#x}" if r.fwmask != _ALL else "")
        given = [] if "mangle" in have else ["table mangle"]
        if nft is None:
            given.append("nft list ruleset")
        out.append(f"{rules_file or 'ip rule'}: the rule `{r.describe()}` selects packets marked {mark}, but no rule in "
                   "the node's netfilter files can set those bits, so this trace never takes it"
                   + (f" (not given: {' and '.join(given)})" if given else "") + ". The AWS VPC CNI sets 0x80 in table "
                   "mangle (CONNMARK), or from v1.23 on nf_tables nodes in nft's table ip aws-cni: give the whole "
                   "`iptables-save` (not -t nat) and `nft list ruleset`")  # fmt: skip
    return out


def cni_connmarks_not_given(rulesets: list[Ruleset], nft: Nft | None) -> list[str]:
    """A warning when the VPC CNI's SNAT chain is v1.16 or later's and its nat connection marks are in neither
    the iptables rules nor an nftables ``table ip aws-cni`` (see the module's docstring)."""
    from hairpin.netfilter.nft_tables import has_table

    if has_table(nft, "aws-cni"):
        return []
    for rs in rulesets:
        nat = rs.tables.get("nat")
        snat = nat.chains.get("AWS-SNAT-CHAIN-0") if nat is not None else None
        if nat is None or snat is None or any(c.startswith("AWS-CONNMARK-CHAIN") for c in nat.chains):
            continue
        targets = {r.target.name for r in snat.rules if r.target is not None}
        if {"RETURN", "SNAT"} <= targets:
            return [f"{rs.file}: the AWS VPC CNI's SNAT chain AWS-SNAT-CHAIN-0 is v1.16 or later's, whose releases mark "
                    "connections leaving the VPC in table nat (AWS-CONNMARK-CHAIN-0), or from v1.23 on nf_tables "
                    "nodes in nft's table ip aws-cni; neither is in the files, so the replies of such connections are "
                    "traced without the mark the node's fwmark rule routes by: give `nft list ruleset` too "
                    "(hairpin collect saves it)"]  # fmt: skip
    return []


def foreign_cni_snat(rulesets: list[Ruleset], routing: Routing, routes_file: str) -> list[str]:
    """A warning when the AWS VPC CNI's SNAT rule (comment ``AWS, SNAT``) rewrites to an address this node does
    not have: the CNI writes its node's primary address there (``--to-source``, amazon-vpc-cni-k8s
    pkg/networkutils/network.go), so the rules are most likely another node's than the routing files."""
    from hairpin.model.net import addr_int, is_v6

    for rs in rulesets:
        nat = rs.tables.get("nat")
        for chain in nat.chains.values() if nat is not None else ():
            for r in chain.rules:
                to = r.target.get("--to-source") if r.target is not None and r.target.name == "SNAT" else None
                if to is None or r.comment() != "AWS, SNAT":
                    continue
                text = to.value.split(":")[0].split("-")[0]
                try:
                    addr = addr_int(text)
                except ValueError:
                    continue
                if routing.is_local(addr) or is_v6(addr) != (routing.family == 6):
                    continue
                return [f"{rs.file}:{r.line}: the AWS VPC CNI's SNAT rule rewrites to {text}, the primary address of "
                        f"the node it runs on, but {text} is none of this node's addresses ({routes_file} and the "
                        "address file): the rules look like another node's; give one node's files (hairpin collect "
                        "saves them together)"]  # fmt: skip
    return []
