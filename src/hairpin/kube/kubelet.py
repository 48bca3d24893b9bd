"""The iptables rules kubelet keeps next to kube-proxy's (pkg/kubelet/kubelet_network_linux.go).

Before IPTablesOwnershipCleanup went GA in 1.28 (kubernetes PR #119374) kubelet created nat
KUBE-MARK-DROP (``MARK --or-mark 0x8000``, printed ``--set-xmark 0x8000/0x8000``) and filter
KUBE-FIREWALL with "kubernetes firewall for dropping marked packets" (mark 0x8000 -> DROP) and,
since the CVE-2020-8558 fix (1.18.4), "block incoming localnet connections"; it prepends
``-j KUBE-FIREWALL`` to INPUT and OUTPUT.  kubelet starts before kube-proxy, so kube-proxy's
prepended jumps end up above kubelet's.  From 1.28 kubelet keeps only KUBE-FIREWALL's localnet rule,
which kube-proxy also writes.  Its KUBE-MARK-MASQ/KUBE-POSTROUTING copies are flushed and rewritten
by kube-proxy's restore, so only kube-proxy's version shows.  In ip6tables (from 1.28) kubelet keeps none of
these: the KUBE-FIREWALL setup is IPv4's only (kubelet_network_linux.go ``if !iptClient.IsIPv6()``).
"""

from __future__ import annotations

from hairpin.kube.dump import Tables, comment
from hairpin.kube.layout import layout_for
from hairpin.scenario import Scenario

__all__ = ["LOCALNET_RULE", "tables"]

LOCALNET_RULE = (
    f"! -s 127.0.0.0/8 -d 127.0.0.0/8 {comment('block incoming localnet connections')} "
    "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
)


def tables(scenario: Scenario, node: str) -> Tables:
    """kubelet's rules on ``node`` (filter, nat)."""
    scenario.node(node)
    lay = layout_for(scenario.kube_proxy.version)
    t = Tables()
    if scenario.family == 6 and not lay.kubelet_owns_mark_chains:
        # from 1.28 syncIPTablesRules sets up KUBE-FIREWALL, its INPUT/OUTPUT jumps and the localnet rule only
        # "if !iptClient.IsIPv6()": kubelet's ip6tables hold none of them (IPv6 scenarios start at 1.28)
        return t
    t.add("filter", "INPUT", "-j KUBE-FIREWALL")
    t.add("filter", "OUTPUT", "-j KUBE-FIREWALL")
    if lay.kubelet_owns_mark_chains:
        t.add("filter", "KUBE-FIREWALL",
              f"{comment('kubernetes firewall for dropping marked packets')} -m mark --mark 0x8000/0x8000 -j DROP")
        t.add("nat", "KUBE-MARK-DROP", "-j MARK --set-xmark 0x8000/0x8000")
    # from 1.28 kube-proxy's iptables proxier writes the same rule, and one copy shows; the nftables
    # and IPVS modes do not write it in iptables, so kubelet's copy is the one on the node
    if not lay.proxy_writes_localnet_rule or scenario.kube_proxy.mode != "iptables":
        t.add("filter", "KUBE-FIREWALL", LOCALNET_RULE)
    return t
