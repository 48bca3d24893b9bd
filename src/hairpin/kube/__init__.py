"""Kubernetes-side knowledge: reading cluster objects into hairpin's model (``cluster``) and the
rules a node keeps for Services.

- ``proxy``: kube-proxy's iptables rules (filter, nat) per version layout (``layout``), with chain
  names and probabilities computed as kube-proxy does (``names``);
- ``cni``: the AWS VPC CNI's iptables rules (mangle, nat), ip rules and host veth names;
- ``kubelet``: the few rules kubelet keeps beside kube-proxy's;
- ``ipvs``: kube-proxy's IPVS mode (virtual servers, ipsets and the iptables rules around them);
- ``nftables``: kube-proxy's nftables mode (table ip kube-proxy);
- ``node_nft``: the node's nftables tables in ONE ``nft list ruleset`` text: kube-proxy's (nftables mode) and
  the VPC CNI's ``table ip aws-cni`` (``cni.connmark_backend: nftables``, ``hairpin.kube.cni.nft_ruleset``);
- ``node_iptables``: all of them in ONE iptables-save text, as ``iptables-save`` on a real EKS node
  shows them (tables mangle, nat, filter).  The simulator parses it; the lab loads it with
  ``iptables-restore``.
"""

from __future__ import annotations

from hairpin.scenario import Scenario

__all__ = ["node_iptables", "node_nft"]

#: Empty chains the iptables canary monitors create (kube-proxy's and kubelet's ``ipt.Monitor``,
#: pkg/util/iptables/iptables.go): they show in every table they watch.
_CANARIES = ("KUBE-KUBELET-CANARY", "KUBE-PROXY-CANARY")


def node_iptables(scenario: Scenario, node: str) -> str:
    """kube-proxy + kubelet + AWS VPC CNI rules of ``node`` as one iptables-save text.

    The order inside built-in chains is the order the agents start in on a node: kubelet first
    (its ``-j KUBE-FIREWALL`` and ``-j KUBE-POSTROUTING`` jumps), kube-proxy prepending its jumps
    above kubelet's, then aws-node appending ``-j AWS-SNAT-CHAIN-0`` after kubelet's in nat
    POSTROUTING.  In an IPv6 scenario the text is ip6tables-save's: kube-proxy's IPv6 proxier, and none of
    kubelet's or the CNI's rules (neither writes any in ip6tables: ``hairpin.kube.kubelet``, ``hairpin.kube.cni``).
    """
    from hairpin.kube import cni, kubelet, proxy
    from hairpin.kube.dump import Tables

    t = Tables()
    for table in ("mangle", "nat", "filter"):
        t.table(table)
        for canary in _CANARIES:
            t.chain(table, canary)
    if scenario.kube_proxy.mode == "iptables":
        # nftables mode: kube-proxy's rules are hairpin.kube.nftables.ruleset (table ip kube-proxy).
        t.merge(proxy.tables(scenario, node))
    elif scenario.kube_proxy.mode == "ipvs":  # the rules around IPVS (hairpin.kube.ipvs)
        from hairpin.kube import ipvs

        t.merge(ipvs.tables(scenario, node))
    t.merge(kubelet.tables(scenario, node))
    t.merge(cni.tables(scenario, node))
    return t.render(("mangle", "nat", "filter"))


def node_nft(scenario: Scenario, node: str) -> str:
    """kube-proxy's ``table ip kube-proxy`` (nftables mode) and the VPC CNI's ``table ip aws-cni``
    (``cni.connmark_backend: nftables``) of ``node``, one after the other as ``nft list ruleset`` lists
    them; "" when the node has neither.  iptables-nft's own tables (what ``node_iptables`` holds) are left
    out: ``iptables-save`` shows them."""
    from hairpin.kube import cni

    texts = []
    if scenario.kube_proxy.mode == "nftables":
        from hairpin.kube.nftables import ruleset

        texts.append(ruleset(scenario, node))
    texts.append(cni.nft_ruleset(scenario, node))
    return "".join(texts)
