"""kube-proxy's own expected rules for the older iptables layouts (root: real iptables-restore in a private
network namespace; skipped without root or iptables, like tests/test_kube_oracle_lab.py).

Which stored copies of kubernetes' pkg/proxy/iptables/proxier_test.go hold a full expected dump of a given
release line, and how their release was established, is in docs/kube-proxy.md ("Checked against
kube-proxy's own tests").  Only the 1.18 line has one: the fork 2018112767/kubernetes at commit
b3796c7b24b36a48b9142b4c583a1fb3fa383e11, a release-1.18 tree at v1.18.5 or later (it imports
``k8s.io/klog``, which master replaced by ``k8s.io/klog/v2`` for 1.19, and ``discovery/v1beta1``; its
NewFakeProxier takes ``endpointSlicesEnabled`` and builds ``proxyutiliptables.NewDetectLocalByCIDR``, both new
in 1.18; its KUBE-POSTROUTING is the RETURN / --xor-mark / MASQUERADE of kubernetes PR #92035, which reached
the 1.18 line in v1.18.5).  No stored copy is from the 1.24 or 1.25 line.

The era's comparison: TestEndpointSliceE2E checks ``assert.Equal(expectedIPTablesWithSlice,
fp.iptablesData.String())``, the restore input verbatim; ``sortIPTablesRules`` did not exist yet.  hairpin
writes what iptables-save prints, not kube-proxy's restore input, so both texts are loaded with the real
iptables-restore and listed back with iptables-save; the listings are then compared line for line with no
reordering at all: iptables-save lists the chains by name, but keeps every chain's rules in their order.
"""

from __future__ import annotations

import re
from dataclasses import replace

from hairpin.kube import proxy
from hairpin.scenario import Scenario, from_dict
from kube_oracle import check_jumps, restore_and_save

# kubernetes pkg/proxy/iptables/proxier_test.go, TestEndpointSliceE2E, ``expectedIPTablesWithSlice`` (fork
# 2018112767/kubernetes, commit b3796c7b24b36a48b9142b4c583a1fb3fa383e11, the release-1.18 line).  The test's
# Service ns1/svc1 has an unnamed port whose ``Port`` is left unset (0, hence ``--dport 0``), targetPort 80,
# ClusterIP 172.20.1.1; its EndpointSlice lists 10.0.1.1 (on the test's own host), 10.0.1.2 and 10.0.1.3;
# the fake proxier's local-traffic detector is the CIDR 10.0.0.0/24.
ENDPOINT_SLICE_E2E_118 = """\
*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack pod source rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack pod destination rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-AHZNAGK3SCETOS2T - [0:0]
:KUBE-SEP-PXD6POUVGD2I37UY - [0:0]
:KUBE-SEP-SOKZUIT7SCEVIP33 - [0:0]
:KUBE-SEP-WVE3FAB34S7NZGDJ - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SERVICES -m comment --comment "ns1/svc1: cluster IP" -m tcp -p tcp -d 172.20.1.1/32 --dport 0 ! -s 10.0.0.0/24 -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m comment --comment "ns1/svc1: cluster IP" -m tcp -p tcp -d 172.20.1.1/32 --dport 0 -j KUBE-SVC-AHZNAGK3SCETOS2T
-A KUBE-SVC-AHZNAGK3SCETOS2T -m comment --comment ns1/svc1: -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-PXD6POUVGD2I37UY
-A KUBE-SEP-PXD6POUVGD2I37UY -m comment --comment ns1/svc1: -s 10.0.1.1/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-PXD6POUVGD2I37UY -m comment --comment ns1/svc1: -m tcp -p tcp -j DNAT --to-destination 10.0.1.1:80
-A KUBE-SVC-AHZNAGK3SCETOS2T -m comment --comment ns1/svc1: -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-SOKZUIT7SCEVIP33
-A KUBE-SEP-SOKZUIT7SCEVIP33 -m comment --comment ns1/svc1: -s 10.0.1.2/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-SOKZUIT7SCEVIP33 -m comment --comment ns1/svc1: -m tcp -p tcp -j DNAT --to-destination 10.0.1.2:80
-A KUBE-SVC-AHZNAGK3SCETOS2T -m comment --comment ns1/svc1: -j KUBE-SEP-WVE3FAB34S7NZGDJ
-A KUBE-SEP-WVE3FAB34S7NZGDJ -m comment --comment ns1/svc1: -s 10.0.1.3/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-WVE3FAB34S7NZGDJ -m comment --comment ns1/svc1: -m tcp -p tcp -j DNAT --to-destination 10.0.1.3:80
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
"""

#: the 1.18 fake proxier's hostname (proxier_test.go ``testHostname``)
TEST_HOST = "test-hostname"


def endpoint_slice_e2e_scenario(cluster_cidr: str | None = "10.0.0.0/24", port: int = 0) -> Scenario:
    """TestEndpointSliceE2E's Service and endpoints at kube-proxy 1.18.  A scenario's port must be 1-65535,
    so it is read with 80 and the port is then set to the test's 0 (kube-proxy writes it as it is)."""
    doc = {
        "name": "kube-proxy 1.18 TestEndpointSliceE2E",
        "vpc": {"cidr": "192.168.0.0/16", "router": "192.168.0.1", "azs": [{"name": "a", "subnets": ["192.168.0.0/24"]}]},
        "kube_proxy": {"version": "1.18", **({"cluster_cidr": cluster_cidr} if cluster_cidr else {})},
        "nodes": [{"name": TEST_HOST, "ip": "192.168.0.2", "az": "a"}, {"name": "node2", "ip": "192.168.0.3", "az": "a"},
                  {"name": "node3", "ip": "192.168.0.4", "az": "a"}],
        "pods": [{"name": "ep1", "ip": "10.0.1.1", "node": TEST_HOST}, {"name": "ep2", "ip": "10.0.1.2", "node": "node2"},
                 {"name": "ep3", "ip": "10.0.1.3", "node": "node3"}],
        "services": [{"namespace": "ns1", "name": "svc1", "cluster_ip": "172.20.1.1", "ports": [{"port": 80}],
                      "endpoints": ["ep1", "ep2", "ep3"]}],
        "client": {"pod": "ep2", "service": "ns1/svc1", "port": 80, "via": "cluster-ip"},
    }  # fmt: skip
    s = from_dict(doc, "endpointslice-e2e.yaml")
    svc = s.services[0]
    return replace(s, services=(replace(svc, ports=(replace(svc.ports[0], port=port),)),))


def kube_proxy_input(text: str) -> str:
    """hairpin's text as kube-proxy's restore input holds it: without the jumps from the built-in chains (kube-proxy
    adds them with EnsureRule, outside the restore input) and without kubelet's KUBE-MARK-DROP chain, which
    hairpin's 1.18 text declares because kube-proxy may jump to it but which kube-proxy's input never
    declares (kubelet creates it; the test's Service makes no jump to it)."""
    lines = [ln for ln in text.splitlines() if not re.match(r"-A [A-Z]+ ", ln) and ln != ":KUBE-MARK-DROP - [0:0]"]
    return "\n".join(lines) + "\n"


def test_118_endpoint_slice_e2e_equals_kube_proxys_expectation() -> None:
    ours = proxy.iptables_save(endpoint_slice_e2e_scenario(), TEST_HOST, random_fully=False)
    check_jumps(ours)
    assert ":KUBE-MARK-DROP - [0:0]" in ours.splitlines()  # the one line kube_proxy_input() removes besides jumps
    theirs = restore_and_save(ENDPOINT_SLICE_E2E_118)
    got = restore_and_save(kube_proxy_input(ours))
    assert got.splitlines() == theirs.splitlines()
    # 2 tables (4 lines), 3 + 4 built-in and 3 + 8 kube-proxy chains, 4 + 16 rules
    assert len(theirs.splitlines()) == 42
    # hairpin's text is what iptables-save lists (the built-in jumps and KUBE-MARK-DROP included)
    assert restore_and_save(ours) == ours


def test_118_forward_conntrack_rules_do_not_depend_on_the_cluster_cidr() -> None:
    """release-1.18 proxier.go writes the two KUBE-FORWARD conntrack rules unconditionally (EKS sets no
    --cluster-cidr); the detector's ``! -s`` rule is the only line --cluster-cidr adds for a ClusterIP."""
    with_cidr = proxy.iptables_save(endpoint_slice_e2e_scenario(), TEST_HOST)
    without = proxy.iptables_save(endpoint_slice_e2e_scenario(cluster_cidr=None), TEST_HOST)
    forward = [ln for ln in without.splitlines() if ln.startswith("-A KUBE-FORWARD")]
    assert forward == [
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack pod source rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack pod destination rule" '
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]
    extra = sorted(set(with_cidr.splitlines()) - set(without.splitlines()))
    assert extra == [
        '-A KUBE-SERVICES ! -s 10.0.0.0/24 -d 172.20.1.1/32 -p tcp -m comment --comment "ns1/svc1: cluster IP" '
        "-m tcp --dport 0 -j KUBE-MARK-MASQ"
    ]
    assert set(without.splitlines()) <= set(with_cidr.splitlines())


def test_118_etp_local_with_cluster_cidr_redirects_pods_first() -> None:
    """ETP Local at 1.18 with --cluster-cidr: the KUBE-XLB chain first sends pod sources to the KUBE-SVC chain
    (release-1.18 proxier.go, ``localDetector.JumpIfLocal`` with "Redirect pods trying to reach external
    loadbalancer VIP to clusterIP"), then the LOCAL-source rules, then the local endpoints."""
    s = endpoint_slice_e2e_scenario(port=80)
    svc = replace(s.services[0], type="NodePort", external_traffic_policy="Local",
                  ports=(replace(s.services[0].ports[0], node_port=30080),))  # fmt: skip
    text = proxy.iptables_save(replace(s, services=(svc,)), TEST_HOST)
    check_jumps(text)
    xlb = [ln for ln in text.splitlines() if ln.startswith("-A KUBE-XLB-")]
    assert xlb == [
        '-A KUBE-XLB-AHZNAGK3SCETOS2T -s 10.0.0.0/24 -m comment --comment "Redirect pods trying to reach external '
        'loadbalancer VIP to clusterIP" -j KUBE-SVC-AHZNAGK3SCETOS2T',
        '-A KUBE-XLB-AHZNAGK3SCETOS2T -m comment --comment "masquerade LOCAL traffic for ns1/svc1: LB IP" '
        "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
        '-A KUBE-XLB-AHZNAGK3SCETOS2T -m comment --comment "route LOCAL traffic for ns1/svc1: LB IP to service chain" '
        "-m addrtype --src-type LOCAL -j KUBE-SVC-AHZNAGK3SCETOS2T",
        '-A KUBE-XLB-AHZNAGK3SCETOS2T -m comment --comment "Balancing rule 0 for ns1/svc1:" -j KUBE-SEP-PXD6POUVGD2I37UY',
    ]
    assert restore_and_save(text) == text
