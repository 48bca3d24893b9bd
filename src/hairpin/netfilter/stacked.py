"""kube-proxy's nftables table and iptables' tables on the same hooks: the kernel's order between them.

``Stacked`` runs iptables' tables (one backend's ``Evaluator``, or both backends' ``Backends``) and kube-proxy's
``NftTable`` (``hairpin.netfilter.nft``), or kube-proxy's and the AWS VPC CNI's ``table ip aws-cni`` together
(``hairpin.netfilter.nft_tables.NftTables``), at each hook in priority order, and at the nat hooks, where
kube-proxy's and iptables' sit at the same priority, in the order the simulator fixes or the order ``hairpin
trace`` asks for (its docstring says what the kernel does and how it was checked).  The CNI's nat chain, at
-90, runs after both (when neither made a binding) in every order.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from hairpin.netfilter.backends import Backends, run_in_order
from hairpin.netfilter.evaluate import Context, Evaluator, Reads, Verdict
from hairpin.netfilter.nft_tables import Nft

__all__ = ["IPT_NAT_PRIORITY", "KUBE_PROXY", "Stacked"]


#: the priority iptables' nat table (either backend) hooks in at: NF_IP_PRI_NAT_DST -100 at PREROUTING and OUTPUT,
#: NF_IP_PRI_NAT_SRC 100 at INPUT and POSTROUTING (include/uapi/linux/netfilter_ipv4.h)
IPT_NAT_PRIORITY = {"PREROUTING": -100, "OUTPUT": -100, "INPUT": 100, "POSTROUTING": 100}
#: how kube-proxy's table is named in a trace's orders ("iptables nat before kube-proxy nat at PREROUTING")
KUBE_PROXY = "kube-proxy"


class Stacked(Evaluator):
    """An iptables Evaluator and an nft table on the same hooks, in the kernel's priority order.

    nft's filter chains run before iptables' filter table (0): those below dstnat on prerouting
    and output (kube-proxy's firewall checks, -110) on the host's ``-pre-dnat`` pseudo-hooks,
    before either nat table (``PRE_DNAT``).  kube-proxy 1.34+ puts filter-input, filter-forward and
    filter-output at priority ``filter`` (0), iptables' own: there the kernel's order is also the creation
    order, and running nft's first is one order, not enumerated (a DROP in either drops in both; only a
    REJECT beside a DROP, or a mark, could tell them apart).

    At the nat hooks kube-proxy's nat chains (dstnat -100 / srcnat 100) and iptables' nat table sit at the
    same priority, and their order is the order they were registered in, which no dump records: since Linux
    4.18 every nat chain, of nf_tables or of iptables, hangs off nf_nat's own list for its hook
    (``nf_nat_register_fn`` -> ``nf_hook_entries_insert_raw``, net/netfilter/nf_nat_core.c), kept by
    priority by ``nf_hook_entries_grow`` (net/netfilter/core.c), which puts a chain registered LATER before
    those of equal priority already there; ``nf_nat_inet_fn`` walks that list only until a chain sets up a
    binding.  So the nat chain created last runs first, and the first binding wins (checked on Linux 6.18.44
    with nftables 1.0.6 and iptables 1.8.9, 2026-12-02, in both creation orders and, with iptables-legacy's
    nat table too, all six: tests/test_trace_stacked_lab.py).

    - ``order`` None (the simulator, ``hairpin.backends.sim``): one order, fixed: iptables' nat table
      first, kube-proxy's only if iptables made no binding.  The lab (``hairpin.backends.lab.build``)
      creates the other order: it loads the iptables rules (``iptables-restore``) and then kube-proxy's
      table (``nft -f``), so in its kernel kube-proxy's nat chains, registered last, run first.  The two
      agree on every packet for which at most one of the two tables sets up a NAT binding.
    - ``order`` given (``hairpin trace``, through ``hairpin.legacy.trace_orders``): at each nat hook where
      both hold rules, ``order(table, hook, a, b)`` (True: ``a`` runs before ``b``) places kube-proxy's nat
      chains of iptables' priority among iptables' nat tables (one, or both backends' in the order
      ``Backends`` asks for: a three-way order), the last first: ``order(nat, H, last, "kube-proxy")``,
      and only if that is False the one before it.  kube-proxy's nat chains of another priority run in
      priority order (nf_hook_entries_grow), before or after iptables'.
    """

    def __init__(self, iptables: Evaluator | None, nft: Nft,
                 order: Callable[[str, str, str, str], bool] | None = None) -> None:  # fmt: skip
        self.iptables = iptables
        self.nft = nft
        self.order = order

    def has(self, table: str, chain: str) -> bool:
        return (self.iptables is not None and self.iptables.has(table, chain)) or self.nft.has(table, chain)

    def pure(self, table: str, chain: str) -> Reads | None:
        return None  # nft's numgen draws and the two tables' order: never cached

    def run(self, table: str, chain: str, ctx: Context) -> Verdict:
        if self.order is not None and table == "nat" and chain in IPT_NAT_PRIORITY:
            return self._nat(chain, ctx)
        nft_first = table == "filter"
        runners: list[Callable[[Context], Verdict]] = []
        if self.iptables is not None and self.iptables.has(table, chain):
            runners.append(partial(self.iptables.run, table, chain))
        if self.nft.has(table, chain):
            runners.insert(0 if nft_first else len(runners), partial(self.nft.run, table, chain))
        return run_in_order(table, runners, ctx)

    def _nat(self, hook: str, ctx: Context) -> Verdict:
        """nf_nat's list at ``hook``: kube-proxy's nat chains and iptables' nat table(s), in the order asked."""
        assert self.order is not None
        prio = IPT_NAT_PRIORITY[hook]
        chains = self.nft.base_chains("nat", hook)
        ipt: list[tuple[str, Callable[[Context], Verdict]]] = []
        if isinstance(self.iptables, Backends):
            ipt = self.iptables.parts("nat", hook)
        elif self.iptables is not None and self.iptables.has("nat", hook):
            ipt = [("iptables", partial(self.iptables.run, "nat", hook))]
        same = [c for c in chains if c.priority == prio]
        if same and ipt:
            at = len(ipt)
            while at > 0 and not self.order("nat", hook, ipt[at - 1][0], KUBE_PROXY):
                at -= 1
            ipt.insert(at, (KUBE_PROXY, partial(self.nft.run_chains, same)))
        elif same:
            ipt = [(KUBE_PROXY, partial(self.nft.run_chains, same))]
        before = [c for c in chains if c.priority < prio]
        after = [c for c in chains if c.priority > prio]
        runners = [r for _, r in ipt]
        if before:
            runners.insert(0, partial(self.nft.run_chains, before))
        if after:
            runners.append(partial(self.nft.run_chains, after))
        return run_in_order("nat", runners, ctx)

