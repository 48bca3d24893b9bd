"""What the AWS VPC CNI (amazon-vpc-cni-k8s) sets up on a node: iptables rules, ip rules, host veths.

The iptables rules are those of the scenario's ``cni.version`` (layouts and their boundaries:
``hairpin.kube.cni_layout``), from aws/amazon-vpc-cni-k8s pkg/networkutils/network.go ``SetupHostNetwork``
/ ``buildIptablesSNATRules`` / ``buildIptablesConnmarkRules`` (v1.23: ``iptables_connmark.go``), with the
defaults of the aws-node DaemonSet: AWS_VPC_K8S_CNI_RANDOMIZESNAT=prng (``--random-fully``),
AWS_VPC_CNI_NODE_PORT_SUPPORT=true, AWS_VPC_K8S_CNI_CONNMARK unset (0x80), one VPC CIDR, no
AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS.  The default, 1.7 (the seed's era):

- nat: ``POSTROUTING -> AWS-SNAT-CHAIN-0`` (comment "AWS SNAT CHAIN"), then one chain per VPC CIDR
  ``AWS-SNAT-CHAIN-i ! -d CIDR -> AWS-SNAT-CHAIN-i+1``, and in the last chain ``! -o vlan+ ... SNAT
  --to-source <primary IP> --random-fully`` for destinations that are not local ("AWS, SNAT").  With external
  SNAT (AWS_VPC_K8S_CNI_EXTERNALSNAT=true) none of these rules exist (``shouldExist: !n.useExternalSNAT``);
  the empty chains still do (``ipt.NewChain`` runs regardless).
- mangle PREROUTING ("AWS, primary ENI"): on eth0, for packets to a local address arriving on eth0
  (``--limit-iface-in``), ``CONNMARK --set-mark 0x80/0x80`` (iptables-save prints --set-xmark);
  on ``eni+`` (the pods' host veths) and ``vlan+`` (security groups for pods' VLAN interfaces),
  ``CONNMARK --restore-mark --mask 0x80`` (printed as ``--nfmask 0x80 --ctmask 0x80``).  They exist
  whatever the external SNAT setting (they depend on node port support only).  v1.7.10's text word for
  word (until 2026-12-02 hairpin wrote v1.3 - v1.5's "AWS SNAT CHAN" and left the vlan rules out).

Later layouts add the vlan rules, nat PREROUTING ``-i eni+ -> AWS-CONNMARK-CHAIN-0`` ("AWS, outbound
connections") that connmarks connections leaving the VPC CIDR ("AWS, CONNMARK" ``--set-xmark``), the
"AWS, CONNMARK" restore in nat PREROUTING, and (1.16 and later) single chains of RETURN rules.
With ``cni.connmark_backend: nftables`` (1.23 and later, a node whose iptables is nf_tables) those nat
connection-mark rules are left out of the iptables tables and written as ``table ip aws-cni`` instead
(``nft_ruleset``, from v1.23.0's ``nftables_connmark.go``); the mangle and SNAT rules stay.

ip rules (``ip_rules``): 512 ``to <pod IP> lookup main`` for every pod on the node
(cmd/routed-eni-cni-plugin/driver ``toContainerRulePriority``), 1024 ``fwmark 0x80/0x80 lookup
main`` (``hostRulePriority``, only with node port support; from v1.13 also without it when SNAT is
not external), and 1536 ``from <pod IP> lookup <ENI
table>`` (``fromContainerRulePriority``) only for pods on a secondary ENI: the scenarios put every
pod on the primary ENI, so there is none.  Host veth names: ``eni`` + the first 11 hex digits of
sha1("<namespace>.<pod name>") (driver ``GenerateHostVethName``).

IPv6 mode (ENABLE_IPv6=true with ENABLE_PREFIX_DELEGATION=true, from v1.10.0, where ``SetupHostNetwork`` first
takes ``v6Enabled``; read at v1.23.0): ``UpdateHostSNATRules`` returns at once for IPv6 ("For v6, we don't add any
SNAT or Connmark rules as traffic enters and exits from the ENI it came from"), so the CNI writes no ip6tables rule
(its IPv6 setup adds an *IPv4* FORWARD reject for 169.254.172.0/22, the egress-v4 plugin's range: not modelled);
the ip rules are the same in the IPv6 family (``to <pod IP>/128``, and ``mainENIRule`` with ``Family =
AF_INET6``).
"""

from __future__ import annotations

import hashlib

from hairpin.kube.cni_layout import CniLayout, layout_for
from hairpin.kube.dump import Tables, comment
from hairpin.scenario import Scenario
from hairpin.topology import PolicyRule as IpRule  # one ip-rule type for all of hairpin

__all__ = [
    "CONNMARK",
    "IpRule",
    "host_veth_name",
    "ip_rules",
    "iptables_save",
    "nft_ruleset",
    "tables",
]

CONNMARK = 0x80
MAIN_TABLE = 254
TO_CONTAINER_PRIORITY = 512
HOST_RULE_PRIORITY = 1024
FROM_CONTAINER_PRIORITY = 1536


def host_veth_name(namespace: str, pod_name: str, prefix: str = "eni") -> str:
    """The host side of a pod's veth: ``eni`` + 11 hex digits of sha1("namespace.name")."""
    return prefix + hashlib.sha1(f"{namespace}.{pod_name}".encode()).hexdigest()[:11]


def ip_rules(scenario: Scenario, node: str) -> list[IpRule]:
    """The ip rules the CNI adds on ``node``, by priority."""
    scenario.node(node)
    out = [
        IpRule(
            TO_CONTAINER_PRIORITY,
            MAIN_TABLE,
            dst=f"{p.ip}/{128 if scenario.family == 6 else 32}",
            comment=f"to pod {p.key} (toContainerRulePriority)",
        )
        for p in scenario.pods_on(node)
    ]
    out.append(
        IpRule(
            HOST_RULE_PRIORITY,
            MAIN_TABLE,
            fwmark=CONNMARK,
            fwmask=CONNMARK,
            comment="connmarked (arrived on eth0) traffic uses the main table (hostRulePriority)",
        )
    )
    return sorted(out, key=lambda r: r.priority)


def tables(scenario: Scenario, node: str) -> Tables:
    """The CNI's rules on ``node`` as tables (mangle, nat), in the layout of ``cni.version``."""
    lay = layout_for(scenario.cni.version)
    primary = scenario.node(node).ip
    t = Tables()
    if scenario.family == 6:  # UpdateHostSNATRules: "For v6, we don't add any SNAT or Connmark rules"
        return t
    mark = f"{CONNMARK:#x}"
    primary_eni = comment("AWS, primary ENI")
    t.add(
        "mangle",
        "PREROUTING",
        f"-i eth0 {primary_eni} -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-xmark {mark}/{mark}",
    )
    restore = f"-j CONNMARK --restore-mark --nfmask {mark} --ctmask {mark}"
    t.add("mangle", "PREROUTING", f"-i eni+ {primary_eni} {restore}")
    if lay.vlan:  # "connmark restore for primary ENI from vlan" (shouldExist: node port support)
        t.add("mangle", "PREROUTING", f"-i vlan+ {primary_eni} {restore}")
    cidrs = [scenario.vpc.cidr]
    external = scenario.cni.external_snat
    snat = f"{comment('AWS, SNAT')} -m addrtype ! --dst-type LOCAL -j SNAT --to-source {primary} --random-fully"
    if lay.vlan:
        snat = f"! -o vlan+ {snat}"
    _chains(t, "AWS-SNAT-CHAIN", lay, cidrs, lay.snat_comment, snat, external)
    if not external:
        t.add("nat", "POSTROUTING", f"{comment(lay.snat_comment)} -j AWS-SNAT-CHAIN-0")
    nft = scenario.cni.connmark_backend == "nftables"  # the nat connection marks are table ip aws-cni's
    if lay.nat_connmark and not nft and not (external and lay.connmark_chain_deleted_on_external_snat):
        _chains(t, "AWS-CONNMARK-CHAIN", lay, cidrs, lay.connmark_comment,
                f"{comment('AWS, CONNMARK')} -j CONNMARK --set-xmark {mark}/{mark}", external)  # fmt: skip
    if lay.nat_connmark and not external and not nft:
        state = " -m state --state NEW" if lay.state_new else ""
        outbound = comment("AWS, outbound connections")
        t.add("nat", "PREROUTING", f"-i eni+ {outbound}{state} -j AWS-CONNMARK-CHAIN-0")
        t.add("nat", "PREROUTING", f"{comment('AWS, CONNMARK')} {restore}")
    if scenario.cni.nat_outgoing:
        _nat_outgoing(t, scenario, node)
    return t


def _chains(t: Tables, prefix: str, lay: CniLayout, cidrs: list[str], note: str, last: str, external: bool) -> None:
    """AWS-SNAT-CHAIN / AWS-CONNMARK-CHAIN: one chain with ``-d CIDR -j RETURN`` per CIDR (1.16 and later),
    or a chain per CIDR ``! -d CIDR -j <next>``, then ``last``.  The chains are created whatever the
    external-SNAT setting (``ipt.NewChain`` runs first); their rules only without external SNAT."""
    chains = [f"{prefix}-0"] if lay.single_chain else [f"{prefix}-{i}" for i in range(len(cidrs) + 1)]
    for c in chains:
        t.chain("nat", c)
    if external:
        return
    if lay.single_chain:
        # the CIDR rules are inserted at position 1, so they end up in reverse order (updateIptablesRules)
        for cidr in reversed(cidrs):
            t.add("nat", chains[0], f"-d {cidr} {comment(note)} -j RETURN")
    else:
        for i, cidr in enumerate(cidrs):
            t.add("nat", chains[i], f"! -d {cidr} {comment(note)} -j {chains[i + 1]}")
    t.add("nat", chains[-1], last)


NAT_OUTGOING = "HAIRPIN-NAT-OUTGOING"


def _nat_outgoing(t: Tables, scenario: Scenario, node: str) -> None:
    """An overlay CNI's outgoing NAT, in the shape of Calico's ``cali-nat-outgoing`` (``-m set --match-set
    cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully``)
    with the pool written out as addresses instead of an ipset: a pod's packet to anything but another
    pod leaves with the node's address."""
    pods = [p for p in scenario.pods if not p.host_network]
    t.chain("nat", NAT_OUTGOING)
    note = comment("overlay CNI: masquerade pod traffic leaving the pod network (natOutgoing)")
    for p in scenario.pods_on(node):
        if not p.host_network:
            t.add("nat", "POSTROUTING", f"-s {p.ip}/32 {note} -j {NAT_OUTGOING}")
    for p in pods:
        t.add("nat", NAT_OUTGOING, f"-d {p.ip}/32 {note} -j RETURN")
    t.add("nat", NAT_OUTGOING, f"{note} -j MASQUERADE --random-fully")


def iptables_save(scenario: Scenario, node: str) -> str:
    """The ``*mangle`` and ``*nat`` text of the CNI on ``node``, as iptables-save prints it."""
    return tables(scenario, node).render(("mangle", "nat"))


def nft_ruleset(scenario: Scenario, node: str) -> str:
    """``table ip aws-cni`` on ``node`` as ``nft list ruleset`` prints it, with ``cni.connmark_backend:
    nftables`` ("" otherwise, and with external SNAT: ``nftConnmark.Cleanup`` deletes the table).

    aws/amazon-vpc-cni-k8s v1.23.0 ``pkg/networkutils/nftables_connmark.go``: ``nftConnmark.Setup`` adds the
    table, the base chain ``nat-prerouting`` (``type nat hook prerouting``, ``nftBasePriority`` -90, which
    nft prints as ``dstnat + 10``; policy accept) and the regular chain ``snat-mark``, in that order;
    ``ensureBaseChainRules`` writes ``fib daddr type local return`` (``addFibLocalReturnRule``),
    ``iifname "eni*" counter jump snat-mark`` (``addJumpRule``: the 3 bytes of the veth prefix, which nft
    prints as a wildcard) and ``counter meta mark set ct mark & 0x80`` (``addRestoreRule``);
    ``ensureConnmarkChainRules`` inserts ``counter ip daddr CIDR return`` for each of the VPC CIDRs and
    AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS (``insertCIDRReturnRule``, at the top) and appends ``counter ct mark
    set ct mark | 0x80`` (``addSetMarkRule``).  The text is what ``nft list ruleset`` (nftables 1.0.6) gave
    back for those expressions on a fresh table (tests/test_cni_nft.py loads it in a namespace)."""
    scenario.node(node)
    if scenario.cni.connmark_backend != "nftables" or scenario.cni.external_snat:
        return ""
    mark = f"{CONNMARK:#010x}"
    counter = "counter packets 0 bytes 0"
    cidrs = [scenario.vpc.cidr]
    lines = [
        "table ip aws-cni {",
        "\tchain nat-prerouting {",
        "\t\ttype nat hook prerouting priority dstnat + 10; policy accept;",
        "\t\tfib daddr type local return",
        f'\t\tiifname "eni*" {counter} jump snat-mark',
        f"\t\t{counter} meta mark set ct mark & {mark}",
        "\t}",
        "",
        "\tchain snat-mark {",
        # each CIDR rule is inserted at the top (InsertRule): the last inserted is listed first
        *(f"\t\t{counter} ip daddr {cidr} return" for cidr in reversed(cidrs)),
        f"\t\t{counter} ct mark set ct mark | {mark}",
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"
