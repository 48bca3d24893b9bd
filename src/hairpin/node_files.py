"""A simulated node's state written the way a real node's tools print it, for ``hairpin trace --node``.

For each node of a scenario, the files ``hairpin trace`` reads (``hairpin.trace.FILES``), made from the
same model the simulator runs, so tracing them gives what ``hairpin reproduce`` does on that node:

- ``iptables-save``: kube-proxy's and the CNI's rules (``hairpin.topology``: ``hairpin.kube.proxy``,
  ``hairpin.kube.cni``, ``hairpin.kube.ipvs``), as ``iptables-save`` prints them;
- ``ip-route``, ``ip-rule``, ``ip-addr``: the node's routing (``ip -4 route show table all``, ``ip rule``,
  ``ip -4 -o addr``), from the simulator's own routing tables (``hairpin.parsers.iproute.routing_files``);
- ``ipset-save`` and ``ipvsadm`` (``ipvsadm -Sn``) when kube-proxy runs in IPVS mode;
- ``nft-ruleset`` (``nft list ruleset``) when kube-proxy runs in nftables mode (``table ip kube-proxy``) or
  the VPC CNI writes its connection marks with nftables (``cni.connmark_backend: nftables``: ``table ip
  aws-cni``), both when both (``hairpin.kube.node_nft``); ``trace --nft`` reads them beside ``iptables-save``.

An IPv6 scenario's node gets ``ip6tables-save``, ``ip6-route`` and ``ip6-rule`` instead (``ip -6 route show
table all``, ``ip -6 rule``), the names ``hairpin collect`` gives them, and in nftables mode ``nft-ruleset`` with
``table ip6 kube-proxy``.
"""

from __future__ import annotations

from hairpin.scenario import Scenario

__all__ = ["node_files"]


def node_files(scenario: Scenario) -> dict[str, dict[str, str]]:
    """``{node name: {file name: text}}`` for every node of the scenario."""
    from hairpin.backends.sim import Network
    from hairpin.host import LinuxHost
    from hairpin.kube import node_nft
    from hairpin.parsers.iproute import routing_files

    net = Network(scenario, verbose=False)
    out: dict[str, dict[str, str]] = {}
    for ns in net.topology.namespaces:
        if ns.role != "node":
            continue
        host = net.hosts[ns.name]
        assert isinstance(host, LinuxHost)
        files = {"iptables-save": ns.iptables, **routing_files(host.routing)}
        if scenario.family == 6:  # the first names trace --node looks for in an IPv6 node (``ip-addr`` keeps its)
            from hairpin.trace import FILES, FILES6

            v6 = {FILES[k][0]: FILES6[k][0] for k in FILES}
            files = {v6.get(name, name): text for name, text in files.items()}
        if scenario.kube_proxy.mode == "ipvs":
            from hairpin.kube.ipvs import virtual_servers
            from hairpin.parsers.ipvsadm import dump

            files["ipset-save"] = ns.ipsets
            files["ipvsadm"] = dump(virtual_servers(scenario, ns.name))
        if nft_text := node_nft(scenario, ns.name):
            files["nft-ruleset"] = nft_text
        out[ns.name] = files
    return out
