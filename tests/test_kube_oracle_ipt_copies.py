"""Which kube-proxy releases check hairpin's newest iptables layout: the stored copies of
kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go newer than the 1.28 line, dated by what they
contain, and kube-proxy's ``TestOverallIPTablesRules`` of the newest one as the oracle of hairpin's
1.34, 1.35 and 1.36 text (root: the real iptables-restore / iptables-save in a private network
namespace, as in tests/test_kube_oracle_lab.py).

A stored copy is dated by its code, not by its commit (the store holds one version per commit, and a
fork's commit says nothing of its release):

=========================================  ==============================================================
copy (repository @ commit)                 what dates it
=========================================  ==============================================================
kubernetes/kubernetes @ 2bb4b104           2017 (1.6/1.7 era): imports k8s.io/kubernetes/pkg/api and
                                           pkg/util/exec, ``testHostname``, a ``Proxier`` literal with
                                           ``allEndpoints``; no TestOverallIPTablesRules.  The version
                                           find_files names for this path; it is *not* where the
                                           expected text of tests/test_kube_oracle_lab.py comes from
kubernetes/kubernetes @ 0153b96a,          1.19 / 1.20 era: discovery/v1beta1, pkg/util/conntrack,
aojea/kubernetes @ e463c875                ``NewFakeProxier(ipt, false)``, checkAllLines; no
                                           TestOverallIPTablesRules
danwinship/kubernetes @ ef85e122,          1.30 - 1.32 era: ``//go:build linux`` + ``// +build linux``,
aroradaman/kubernetes @ f74a3617           ``testHostname``, pkg/util/async, proxyutiliptables
                                           ``NewDetectLocalByCIDR``, no nfAcctCounters in the fake
kubernetes/kubernetes @ 531be812           1.33 or later: ``testNodeName``, pkg/proxy/runner,
                                           proxyutil.NewDetectLocalByCIDR, ``conntrack.NewFake()``,
                                           nfAcctCounters; still ``// +build linux``; at that commit
                                           pkg/proxy/iptables/cleanup.go holds CleanupLeftovers
                                           (``utiliptables.NewBestEffort``)
jesseward/kubernetes @ 5ec89f49            1.36: the same fake as 531be812 without the ``// +build``
                                           line; its pkg/proxy/nftables/proxier_test.go at the same
                                           commit has the nftables layout of kubernetes PR #135800
                                           (1.36, see tests/test_kube_oracle_nft.py).  A fork: its
                                           KubeProxyConfiguration also has ``iptables.fullSyncPeriod``
kairosci/kubernetes @ 235e4894             1.33 or later, fork with an extra ``snatNodeInternalIP``
                                           option (``NewFakeProxierWithSNATNodeInternalIP``); not used
=========================================  ==============================================================

TestOverallIPTablesRules (the ``expected`` text, dedented) is the same, byte for byte, in
kubernetes/kubernetes @ 531be812 and jesseward/kubernetes @ 5ec89f49, and it is the text
``OVERALL_IPTABLES`` of tests/test_kube_oracle_lab.py: kube-proxy's iptables layout for these six
Services did not change between the 1.33+ master copy and 1.36.  So hairpin's 1.34, 1.35 and 1.36
text (the newest layout, hairpin.kube.layout) is compared with it below; 1.34 and 1.35 lie between
two copies that expect the same rules.
"""

from __future__ import annotations

import hashlib

import pytest

from hairpin.kube import proxy
from kube_oracle import check_jumps, restore_and_save, sort_rules
from test_kube_oracle_lab import (
    OVERALL_IPTABLES,
    TEST_NODE,
    overall_scenario,
    without_builtin_jumps,
    without_nfacct,
)

#: sha256 of TestOverallIPTablesRules' expected text (dedented, one trailing newline) in each copy
#: whose expectation hairpin is compared with; all three are the same text.
OVERALL_IPTABLES_SHA256 = {
    "kubernetes/kubernetes@531be81208e2 (1.33+ master)": "cb7b2daa9a8259e3b03b3621c53744878cc526af6184bb5138b0f055143202d9",
    "jesseward/kubernetes@5ec89f49a148 (1.36)": "cb7b2daa9a8259e3b03b3621c53744878cc526af6184bb5138b0f055143202d9",
}


def test_the_oracle_text_is_the_136_copys() -> None:
    digest = hashlib.sha256(OVERALL_IPTABLES.encode()).hexdigest()
    assert set(OVERALL_IPTABLES_SHA256.values()) == {digest}
    # 2 tables, 26 chains, 65 rules (3 of them written only with nfacct counters), 2 COMMIT
    assert len(OVERALL_IPTABLES.splitlines()) == 95


@pytest.mark.parametrize("version", ["1.34", "1.35", "1.36"])
def test_overall_iptables_rules_equal_the_136_expectation(version: str) -> None:
    ours = proxy.iptables_save(overall_scenario(version), TEST_NODE, random_fully=False)
    check_jumps(ours)
    theirs = sort_rules(restore_and_save(without_nfacct(OVERALL_IPTABLES)))
    got = sort_rules(restore_and_save(without_builtin_jumps(ours)))
    assert got.splitlines() == theirs.splitlines()
    assert len(theirs.splitlines()) == 99


def test_newest_layout_text_is_the_same_from_133_to_136() -> None:
    """hairpin writes one text for 1.33 - 1.36 (the versions the copies above bracket), on both nodes."""
    s133 = overall_scenario("1.33")
    for node in (TEST_NODE, "other-node"):
        want = proxy.iptables_save(s133, node)
        for version in ("1.34", "1.35", "1.36"):
            assert proxy.iptables_save(overall_scenario(version), node) == want, (node, version)
