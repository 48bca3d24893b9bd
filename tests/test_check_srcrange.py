"""`hairpin check` names kube-proxy's own loadBalancerSourceRanges drop (hairpin.diagnose.proxy_firewall).

The seed dump (tests/data/check/seed-dump.yaml: three nodes in 192.168.0.0/16, four pods, the in-tree internal
NLB) with the NLB's two addresses published as ingress IPs that kube-proxy captures and
``spec.loadBalancerSourceRanges: [10.0.0.0/8]``: every in-cluster caller is outside the range, so kube-proxy
drops each of its connections on its own node (P = 1).  The simulator, built from the same dump with
``hairpin scenario from-cluster``, drops every connection too; the fixes hairpin offers are checked there.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from dataclasses import replace
from fractions import Fraction as F
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin import scenario
from hairpin.aws import risk
from hairpin.backends import sim
from hairpin.cli.main import main
from hairpin.diagnose import proxy_firewall
from hairpin.kube.cluster import Cluster, KPod, KService
from test_check import CONTRACT  # tests/ is on sys.path (rootdir conftest, no package)

DUMP = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"
SVC = "nginx-demo/service-nginx-demo"
A, B = "192.168.168.103", "192.168.140.27"  # the seed NLB's addresses in eu-west-1a and eu-west-1b
VIPS = [{"ip": A, "ipMode": "VIP"}, {"ip": B, "ipMode": "VIP"}]
OFFICE = ["10.0.0.0/8"]
FW = "KUBE-FW-WGW5ZPXP7HZEBG5V"  # the seed port's KUBE-FW chain (the simulator writes the same name)
NFT_FW = "firewall-7WYOEMTF-nginx-demo/service-nginx-demo/tcp/"  # its nftables firewall chain
CALLERS = ["default/netshoot", "nginx-demo/nginx-demo-1", "nginx-demo/nginx-demo-2", "nginx-demo/nginx-demo-3"]
PATCH = ("kubectl patch service -n nginx-demo service-nginx-demo --type merge -p "
         "'{\"spec\": {\"loadBalancerSourceRanges\": [\"10.0.0.0/8\", \"<VPC-CIDR>\"]}}'")  # fmt: skip


def _doc(ingress: list[dict[str, str]], ranges: list[str] | None, *, kube_proxy: str = "v1.30.4-eks-a737599",
         mode: str | None = None, pods: bool = True, pod_cidrs: dict[str, list[str]] | None = None,
         host_network: bool = False) -> dict[str, Any]:  # fmt: skip
    doc = yaml.safe_load(DUMP.read_text())
    items = []
    for item in doc["items"]:
        if item["kind"] == "Pod" and not pods:
            continue
        if item["kind"] == "Node":
            item["status"]["nodeInfo"]["kubeProxyVersion"] = kube_proxy
            if pod_cidrs and item["metadata"]["name"] in pod_cidrs:
                item["spec"] = {"podCIDR": pod_cidrs[item["metadata"]["name"]][0],
                                "podCIDRs": pod_cidrs[item["metadata"]["name"]]}  # fmt: skip
        if item["kind"] == "Pod" and host_network and item["metadata"]["name"] == "netshoot":
            item["spec"]["hostNetwork"] = True
            item["status"]["podIP"] = "192.168.2.3"  # node1's address, as the kubelet reports it
        if item["kind"] == "Service":
            item["status"] = {"loadBalancer": {"ingress": copy.deepcopy(ingress)}}
            if ranges is not None:
                item["spec"]["loadBalancerSourceRanges"] = ranges
        items.append(item)
    if mode is not None:
        conf = f"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: {mode}\n"
        items.append({"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": "kube-proxy-config", "namespace": "kube-system"},
                      "data": {"config": conf}})  # fmt: skip
    doc["items"] = items
    return doc


def _write(tmp_path: Path, doc: dict[str, Any], name: str = "dump.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _check(path: Path, capsys: pytest.CaptureFixture[str], fmt: str = "json") -> tuple[int, Any]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["check", str(path), "--format", fmt])
    out = capsys.readouterr().out
    return int(exc.value.code or 0), (json.loads(out) if fmt != "text" else out)


def _scenario(path: Path, tmp_path: Path) -> scenario.Scenario:
    out = tmp_path / "s.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(path), "--service", SVC, "--client-pod", "default/netshoot", "-o", str(out)])
    assert exc.value.code in (0, None)
    return scenario.load(out)


def test_every_address_captured_pods_outside_the_ranges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _check(_write(tmp_path, _doc(VIPS, OFFICE)), capsys)
    jsonschema.validate(doc, CONTRACT)
    [svc] = doc["services"]
    assert code == 1
    assert (svc["at_risk"], svc["probability"], svc["security_group_drop"], svc["warnings"]) == (True, 1.0, None, [])
    rule = (f"{FW} admits only the ranges; KUBE-PROXY-FIREWALL drops the rest: -d {A}/32 -p tcp --dport 80 "
            "-j DROP")  # fmt: skip
    reason = ("kube-proxy (iptables mode assumed, 1.30) enforces spec.loadBalancerSourceRanges (10.0.0.0/8) itself on "
              f"the load-balancer address(es) it captures ({A}, {B}): 4 of the 4 in-cluster caller pod(s) of the "
              "input are outside them (pod addresses: 4 pod(s), e.g. default/netshoot (192.168.27.239), "
              "nginx-demo/nginx-demo-1 (192.168.16.142), nginx-demo/nginx-demo-2 (192.168.39.2)): every SYN they "
              "send there is dropped on their own node, before any load balancer (P = 1, every time)")  # fmt: skip
    assert svc["kube_proxy_drop"] == {
        "reason": reason, "certain": True, "mode": "iptables", "addresses": [A, B], "source_ranges": OFFICE,
        "rules": [{"port": "80/TCP", "rule": rule}], "callers": CALLERS, "admit": ["<VPC-CIDR>"], "families": ["IPv4"],
    }  # fmt: skip
    assert svc["reason"].startswith(reason + " (kube-proxy handles in-cluster calls to ")
    [port] = svc["ports"]
    assert (port["at_risk"], port["probability"], port["kube_proxy_rule"]) == (True, 1.0, rule)
    assert port["reason"] == f"kube-proxy drops callers outside the source ranges at {A}, {B}: {rule}"
    assert port["fixes"] == ["source-ranges", "cluster-ip"]
    assert svc["fix"] == ("admit the in-cluster callers' network(s) in spec.loadBalancerSourceRanges: " + PATCH)


def test_the_simulator_drops_every_connection_and_agrees_with_p(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The same Service as a scenario: kube-proxy's rules drop all 40 connections, as the checker's P = 1 says."""
    from hairpin.kube import proxy

    path = _write(tmp_path, _doc(VIPS, OFFICE))
    _, doc = _check(path, capsys)
    s = _scenario(path, tmp_path)
    assert s.client_service.load_balancer_source_ranges == ("10.0.0.0/8",)
    assert s.client_service.load_balancer_ips == (A, B)
    r = sim.run(s, 40, seed=3)
    assert (r.summary.attempts, r.summary.timeouts) == (40, 40)
    assert risk.timeout_fraction(s) == F(1) == F(doc["services"][0]["probability"])
    text = proxy.iptables_save(s, "node1")
    assert f"-A KUBE-SERVICES -d {A}/32 -p tcp" in text and f"-j {FW}" in text
    assert f'traffic not accepted by {FW}" -m tcp --dport 80 -j DROP' in text
    c = sim.connect(s, client_port=40000, seed=1)
    assert c.outcome == "timeout"
    assert any(f"traffic not accepted by {FW}\" -m tcp --dport 80 -j DROP  [DROP]" in h.action for h in c.hops)
    assert not any(h.at.startswith("NLB") for h in c.hops)


def test_nftables_mode_names_the_firewall_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, _doc(VIPS, ["10.0.0.0/8", "172.16.0.0/12"], kube_proxy="v1.33.1-eks-1", mode="nftables"))
    code, doc = _check(path, capsys)
    [svc] = doc["services"]
    rule = f"nftables chain {NFT_FW} (from firewall-check): ip saddr != {{ 10.0.0.0/8, 172.16.0.0/12 }} drop"
    assert (code, svc["probability"], svc["ports"][0]["kube_proxy_rule"]) == (1, 1.0, rule)
    assert svc["kube_proxy_drop"]["mode"] == "nftables"
    assert svc["kube_proxy_drop"]["reason"].startswith("kube-proxy (nftables mode, 1.33) enforces")
    s = _scenario(path, tmp_path)
    r = sim.run(s, 20, seed=5)
    assert r.summary.timeouts == 20 and risk.timeout_fraction(s) == 1
    c = sim.connect(s, client_port=40000, seed=1)
    assert any(f"filter {NFT_FW}: nft ip saddr != {{ 10.0.0.0/8, 172.16.0.0/12 }} drop" in h.action for h in c.hops)


def test_the_fixes_work_in_the_simulator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Admitting the callers' network (the seed's VPC, 192.168.0.0/16) clears the drop, in the checker and the
    simulator; calling the ClusterIP never meets the source ranges."""
    from dataclasses import replace

    path = _write(tmp_path, _doc(VIPS, [*OFFICE, "192.168.0.0/16"]), "fixed.yaml")
    code, doc = _check(path, capsys)
    [svc] = doc["services"]
    assert (code, svc["at_risk"], svc["probability"], svc["kube_proxy_drop"]) == (0, False, 0.0, None)
    s = _scenario(path, tmp_path)
    assert sim.run(s, 20, seed=1).summary.timeouts == 0 and risk.timeout_fraction(s) == 0
    s = _scenario(_write(tmp_path, _doc(VIPS, OFFICE)), tmp_path)
    s = replace(s, client=replace(s.client, via="cluster-ip"))
    r = sim.run(s, 20, seed=1)
    assert (r.summary.timeouts, r.connections[0].outcome) == (0, "established")


def test_what_kube_proxy_does_not_capture_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ipMode Proxy from 1.30 and a hostname-only status: no capture, no kube-proxy firewall (the security group
    takes the ranges instead, which is hairpin.diagnose.reach's finding)."""
    for ingress in ([{"ip": A, "ipMode": "Proxy"}, {"ip": B, "ipMode": "Proxy"}],
                    [{"hostname": "x.elb.eu-west-1.amazonaws.com"}]):  # fmt: skip
        _, doc = _check(_write(tmp_path, _doc(ingress, OFFICE)), capsys)
        [svc] = doc["services"]
        assert svc["kube_proxy_drop"] is None and svc["ports"][0]["kube_proxy_rule"] is None
        assert svc["security_group_drop"] is not None  # in-tree, preservation on: the instances' group
    _, doc = _check(_write(tmp_path, _doc(VIPS, None)), capsys)
    assert doc["services"][0]["kube_proxy_drop"] is None and doc["services"][0]["at_risk"] is False


def test_older_kube_proxy_captures_proxy_mode_and_marks_for_drop(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    proxy_mode = [{"ip": A, "ipMode": "Proxy"}, {"ip": B, "ipMode": "Proxy"}]
    _, doc = _check(_write(tmp_path, _doc(proxy_mode, OFFICE, kube_proxy="v1.29.3-eks-1")), capsys)
    kp = doc["services"][0]["kube_proxy_drop"]
    assert kp["addresses"] == [A, B] and doc["services"][0]["probability"] == 1.0
    assert kp["rules"][0]["rule"].startswith(f"{FW} admits only the ranges; KUBE-PROXY-FIREWALL drops the rest")
    # before 1.25 KUBE-FW only marks (KUBE-MARK-DROP) and kubelet's KUBE-FIREWALL drops the mark in INPUT and
    # OUTPUT: a pod's SYN to the load balancer's address is forwarded, marked, to the load balancer...
    marked = "-j KUBE-MARK-DROP (kubelet's KUBE-FIREWALL, jumped to from INPUT and OUTPUT, drops the mark: a " \
             "host-network caller's SYN, not a pod's, which is forwarded)"  # fmt: skip
    for version in ("v1.24.17-eks-1", "v1.18.9-eks-d1db3c"):
        _, doc = _check(_write(tmp_path, _doc(VIPS, OFFICE, kube_proxy=version)), capsys)
        assert doc["services"][0]["kube_proxy_drop"] is None
    # ... where the load balancer's own odds apply, as the simulator finds running those rules
    path = _write(tmp_path, _doc(VIPS, OFFICE, kube_proxy="v1.24.17-eks-1"))
    s = _scenario(path, tmp_path)
    assert risk.timeout_fraction(s) == risk.timeout_fraction(replace(s, services=(
        replace(s.services[0], load_balancer_ips=(), load_balancer_source_ranges=()),)))  # fmt: skip
    c = sim.connect(s, client_port=40000, seed=1)
    assert any("KUBE-MARK-DROP" in h.action for h in c.hops) and any(h.at.startswith("NLB") for h in c.hops)
    # ...and a host-network caller's SYN (OUTPUT) is dropped
    _, doc = _check(_write(tmp_path, _doc(VIPS, OFFICE, kube_proxy="v1.24.17-eks-1", host_network=True)), capsys)
    kp = doc["services"][0]["kube_proxy_drop"]
    assert kp["callers"] == ["default/netshoot"] and kp["rules"] == [{"port": "80/TCP", "rule": f"{FW}: {marked}"}]
    assert "before 1.25 it only marks their SYNs for drop" in kp["reason"]
    _, doc = _check(_write(tmp_path, _doc(VIPS, OFFICE, kube_proxy="v1.18.9-eks-d1db3c", host_network=True)), capsys)
    # the hash of "nginx-demo/service-nginx-demo:tcp", as the seed's 1.18 KUBE-SVC-7D7VEXWNCKBQRZ7W
    assert doc["services"][0]["kube_proxy_drop"]["rules"][0]["rule"] == f"KUBE-FW-7D7VEXWNCKBQRZ7W: {marked}"


def test_host_network_callers_call_from_their_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A host-network caller's source is its node's address: dropped unless the node's address is in a range
    (kube-proxy's "node IP in a range" rule admits only the VIPs as sources, for VIP-as-local-address LBs)."""
    doc = _doc(VIPS, ["192.168.16.0/20", "192.168.32.0/19"], host_network=True)
    _, out = _check(_write(tmp_path, doc), capsys)
    kp = out["services"][0]["kube_proxy_drop"]
    # 192.168.16.142 and 192.168.39.2 / .49.70 are in the ranges; netshoot calls from node1, 192.168.2.3
    assert kp["callers"] == ["default/netshoot"] and kp["admit"] == ["<VPC-CIDR>"]
    assert ("1 of the 4 in-cluster caller pod(s) of the input are outside them (host-network: 1 pod(s) calling from "
            "node address(es) node1 (192.168.2.3))") in kp["reason"]  # fmt: skip
    doc = _doc(VIPS, ["192.168.0.0/20", "192.168.32.0/19"], host_network=True)
    _, out = _check(_write(tmp_path, doc), capsys)
    assert out["services"][0]["kube_proxy_drop"]["callers"] == ["nginx-demo/nginx-demo-1"]


def test_without_pods_the_nodes_pod_cidrs_decide(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cidrs = {"node1": ["10.244.0.0/24"], "node2": ["10.244.1.0/24"], "node3": ["10.244.2.0/24"]}
    code, doc = _check(_write(tmp_path, _doc(VIPS, ["10.244.0.0/24", "10.244.2.0/25"], pods=False, pod_cidrs=cidrs)),
                       capsys)  # fmt: skip
    [svc] = doc["services"]
    kp = svc["kube_proxy_drop"]
    assert (code, svc["probability"], kp["callers"], kp["admit"]) == (
        1, 1.0, ["node node2", "node node3"], ["10.244.1.0/24", "10.244.2.0/24"])  # fmt: skip
    assert ("pods take their addresses from the nodes' podCIDRs, and 2 of them are not inside the ranges (node node2: "
            "podCIDR 10.244.1.0/24; node node3: podCIDR 10.244.2.0/24 (partly)); the input has no pods") in kp["reason"]
    assert svc["fix"].endswith('"loadBalancerSourceRanges": ["10.244.0.0/24", "10.244.2.0/25", "10.244.1.0/24", '
                               "\"10.244.2.0/24\"]}}'")  # fmt: skip
    code, doc = _check(_write(tmp_path, _doc(VIPS, ["10.244.0.0/16"], pods=False, pod_cidrs=cidrs)), capsys)
    assert (code, doc["services"][0]["kube_proxy_drop"]) == (0, None)


def test_unknown_callers_are_a_warning_not_a_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, _doc(VIPS, OFFICE, pods=False))
    code, doc = _check(path, capsys)
    [svc] = doc["services"]
    assert (code, svc["at_risk"], svc["probability"]) == (0, False, 0.0)
    assert svc["kube_proxy_drop"]["certain"] is False
    assert svc["warnings"] == [svc["kube_proxy_drop"]["reason"]]
    assert svc["warnings"][0].endswith(
        "callers outside the ranges are dropped there every time, but the input has no pods and no node podCIDRs, so "
        "hairpin cannot tell whether in-cluster callers are outside them; host-network callers on node(s) "
        "node1 (192.168.2.3), node2 (192.168.21.86), node3 (192.168.44.17) would be dropped (their address is "
        "outside the ranges); give the pods (kubectl get pods -A -o yaml) to check")  # fmt: skip
    _, sarif = _check(path, capsys, "sarif")
    [res] = sarif["runs"][0]["results"]
    assert (res["ruleId"], res["level"], res["properties"]["probability"], res["properties"]["fixes"]) == (
        "HP003", "warning", None, [])  # fmt: skip
    _, text = _check(path, capsys, "text")
    assert "nginx-demo/service-nginx-demo: warnings" in text


def test_one_address_captured_counts_its_share(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A captured, B to the NLB: a caller outside the ranges loses every connection to A (half the DNS answers),
    and the NLB's own hairpin for B; the closed form and the simulator for a caller pinned to A: 1."""
    path = _write(tmp_path, _doc([{"ip": A, "ipMode": "VIP"}, {"ip": B, "ipMode": "Proxy"}], OFFICE))
    _, doc = _check(path, capsys)
    [svc] = doc["services"]
    assert svc["probability"] == 1.0  # the in-tree provider's instance group drops the rest (security_group_drop)
    assert svc["security_group_drop"] is not None and svc["kube_proxy_drop"]["addresses"] == [A]
    assert "second failure: kube-proxy (iptables mode assumed, 1.30) enforces" in svc["reason"]
    assert svc["reason"].endswith(f"; only connections to {A} (1 of 2 address(es)), so P is at least 1/2")
    from dataclasses import replace

    s = _scenario(path, tmp_path)
    assert s.client_service.load_balancer_ips == (A,)
    pinned = replace(s, client=replace(s.client, address=A))
    assert risk.timeout_fraction(pinned) == 1 == sim.run(pinned, 20, seed=2).summary.timeouts / 20


def test_sarif_result_sits_on_the_source_ranges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, _doc(VIPS, OFFICE))
    line = next(i for i, x in enumerate(path.read_text().splitlines(), 1) if "loadBalancerSourceRanges" in x)
    code, sarif = _check(path, capsys, "sarif")
    [res] = sarif["runs"][0]["results"]  # HP003 alone: the NLB never sees these callers, so no HP001
    assert (code, res["ruleId"], res["ruleIndex"], res["level"]) == (1, "HP003", 2, "error")
    assert res["locations"][0]["physicalLocation"]["region"] == {"startLine": line, "startColumn": 5}
    assert res["properties"]["probability"] == 1.0 and res["properties"]["callers"] == CALLERS
    assert [x["name"] for x in res["properties"]["fixes"]] == ["source-ranges", "cluster-ip"]


def test_text_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _check(_write(tmp_path, _doc(VIPS, OFFICE)), capsys, "text")
    flat = " ".join(text.split())
    assert code == 1 and "AT RISK" in text and "1/1 (100.0%)" in text
    assert "verdict: kube-proxy (iptables mode assumed, 1.30) enforces spec.loadBalancerSourceRanges" in flat
    assert "P(timeout) of one connection to" not in text  # the hairpin-only table would contradict P = 1
    assert "1. admit the in-cluster callers' network(s) in spec.loadBalancerSourceRanges: kubectl patch" in flat


@pytest.mark.parametrize(
    ("ranges", "index", "entry"),
    [(["10.0.0.0/33"], 0, "10.0.0.0/33"),
     (["10.0.0.0/8", "fe80::1%eth0/64"], 1, "fe80::1%eth0/64"),  # a zone: Go's ParseCIDR refuses it
     (["10.0.0.1"], 0, "10.0.0.1"),  # no prefix length
     (["10.0.0.0/255.0.0.0"], 0, "10.0.0.0/255.0.0.0"),  # a netmask
     (["10.0.0.0/8", " "], 1, "")],  # empty once trimmed
)  # fmt: skip
def test_a_range_the_api_server_refuses_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          ranges: list[str], index: int, entry: str) -> None:  # fmt: skip
    # ValidateService checks each item, trimmed, with ParseCIDRSloppy: the Service never exists, so no verdict
    path = _write(tmp_path, _doc(VIPS, ranges))
    code, doc = _check(path, capsys)
    assert (code, doc["services"]) == (2, [])
    assert doc["errors"] == [{"file": str(path), "line": 138, "message": (
        f'spec.LoadBalancerSourceRanges[{index}]: Invalid value: "{entry}": must be a valid CIDR value, (e.g. '
        "10.9.8.0/24 or 2001:db8::/64): the API server refuses the Service")}]  # fmt: skip


def _nonstandard(entry: str, use: str = "10.0.0.0/8") -> str:
    return (f'the API server (Kubernetes 1.33 and later) warns: spec.loadBalancerSourceRanges[0]: non-standard CIDR '
            f'value "{entry}" will be considered invalid in a future Kubernetes release: use "{use}"')  # fmt: skip


@pytest.mark.parametrize(
    ("ranges", "warned"),
    [(["010.0.0.0/8"], [_nonstandard("010.0.0.0/8")]),
     ([" 10.0.0.0/8\t"], []),  # GetWarningsForCIDR reads the item untrimmed, fails to parse it and says nothing
     (["10.000.0.0/08"], [_nonstandard("10.000.0.0/08")]),
     # IPv4-mapped: IPv4 10.0.0.0/8 to kube-proxy (1.30 here) and the in-tree provider, as Go's net.IPNet reads it
     (["::ffff:10.0.0.0/104"], [_nonstandard("::ffff:10.0.0.0/104")]),
     (["::ffff:a00:0/104"], [_nonstandard("::ffff:a00:0/104")]),
     (["::FFFF:10.1.2.3/104"], ['the API server (Kubernetes 1.33 and later) warns: spec.loadBalancerSourceRanges[0]: '
                                'CIDR value "::FFFF:10.1.2.3/104" is ambiguous in this context (should be "10.0.0.0/8" '
                                'or "10.1.2.3/128"?)', _nonstandard("::FFFF:10.1.2.3/104")])],
)  # fmt: skip
def test_leading_zeros_padding_and_mapped_are_the_range_kubernetes_reads(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str],
                                                                          ranges: list[str], warned: list[str]) -> None:  # fmt: skip
    # ParseCIDRSloppy drops leading zeros (decimal, not octal) and the API server trims each item: 10.0.0.0/8
    plain = _check(_write(tmp_path, _doc(VIPS, OFFICE), "plain.yaml"), capsys)
    code, doc = _check(_write(tmp_path, _doc(VIPS, ranges), "plain.yaml"), capsys)
    assert doc["services"][0]["warnings"] == warned
    doc["services"][0]["warnings"] = []
    assert (code, doc) == plain and code == 1 and doc["services"][0]["kube_proxy_drop"]["callers"] == CALLERS


def test_kube_proxy_before_1_30_and_a_mapped_range_is_not_judged(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # before 1.30 kube-proxy kept the string as written for its IPv4 rules: hairpin does not say what it drops
    code, doc = _check(_write(tmp_path, _doc(VIPS, ["::ffff:10.0.0.0/104"], kube_proxy="v1.29.8-eks-1")), capsys)
    [svc] = doc["services"]
    assert (code, svc["kube_proxy_drop"], svc["at_risk"]) == (0, None, False)
    assert svc["warnings"] == [
        "spec.loadBalancerSourceRanges has the IPv4-mapped range(s) ::ffff:10.0.0.0/104 (from 1.30: 10.0.0.0/8): "
        "kube-proxy 1.29 (iptables mode) counts them as IPv4 and writes them into its IPv4 rules as written, which "
        "hairpin does not model, so kube-proxy's source-range firewall was not checked; write 10.0.0.0/8 instead",
        _nonstandard("::ffff:10.0.0.0/104")]  # fmt: skip
    # the same range written as IPv4 is judged on 1.29
    code, doc = _check(_write(tmp_path, _doc(VIPS, OFFICE, kube_proxy="v1.29.8-eks-1")), capsys)
    assert (code, doc["services"][0]["kube_proxy_drop"]["callers"]) == (1, CALLERS)


# -- the invariant: a caller is named exactly when its address is in none of the ranges, as the closed form drops it

_net = st.builds(lambda a, p: str(ipaddress.IPv4Network((a, p), strict=False)),
                 st.integers(0, 2**32 - 1), st.integers(8, 32))  # fmt: skip
_ip = st.integers(0, 2**32 - 1).map(lambda a: str(ipaddress.IPv4Address(a)))


@settings(max_examples=60, deadline=None)
@given(st.lists(_net, min_size=1, max_size=4), st.lists(_ip, min_size=1, max_size=6, unique=True))
def test_named_callers_are_exactly_those_outside(ranges: list[str], ips: list[str]) -> None:
    from dataclasses import replace

    c = Cluster()
    for i, ip in enumerate(ips):
        c.pods[("ns", f"p{i}")] = KPod("ns", f"p{i}", ip, "n1", {}, True, False)
    svc = KService("ns", "s", "LoadBalancer", "10.100.0.1", [{"port": 80, "protocol": "TCP"}], {}, "Cluster", None,
                   {}, None, None, None, True, source_ranges=tuple(ranges))  # fmt: skip
    d = proxy_firewall.assess(c, svc, [A], mode="iptables", mode_note="iptables mode, 1.30", version=(1, 30))
    outside = [f"ns/p{i}" for i, ip in enumerate(ips)
               if not any(ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(r, strict=False) for r in ranges)]  # fmt: skip
    assert (d.callers if d is not None else ()) == tuple(outside)
    assert d is None or d.certain
    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, version="1.30"))
    old = replace(s, kube_proxy=replace(s.kube_proxy, version="1.24"))
    nets = tuple(sorted({str(ipaddress.IPv4Network(r, strict=False)) for r in ranges}))
    for i, ip in enumerate(ips):  # the closed form's captured-address verdict for the same caller address
        svc_s = replace(s.services[0], load_balancer_ips=(A,), load_balancer_source_ranges=nets)
        got = risk._captured(s, svc_s, (("eu-west-1a", A),), ip)[A]
        assert got == (1 if f"ns/p{i}" in outside else 0)
        # 1.24 marks a pod's SYN for drop and forwards it: the address is not captured for it (the NLB's odds)
        assert risk._captured(old, svc_s, (("eu-west-1a", A),), ip) == ({} if f"ns/p{i}" in outside else {A: 0})
    if ips:
        d = proxy_firewall.assess(c, svc, [A], mode="iptables", mode_note="iptables mode, 1.24", version=(1, 24))
        assert d is None  # pods only: none dropped before 1.25


def test_ipvs_before_1_25_drops_pods_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """IPVS mode 1.24 and 1.18: nat KUBE-FIREWALL marks the SYNs from outside the ranges (KUBE-MARK-DROP) as
    the iptables mode of that era does, but the VIP is on kube-ipvs0, so a pod's SYN is for the node and
    kubelet's KUBE-FIREWALL drops it in INPUT: all four pods are named, P = 1, and the simulator built from
    the dump drops every connection in filter INPUT."""
    rule = ("nat KUBE-FIREWALL (from KUBE-LOAD-BALANCER for KUBE-LOAD-BALANCER-FW members): RETURN for "
            "KUBE-LOAD-BALANCER-SOURCE-CIDR, else -j KUBE-MARK-DROP; kubelet's KUBE-FIREWALL drops the mark in "
            "INPUT (the VIP is on kube-ipvs0, so a pod's SYN is for the node) and OUTPUT")  # fmt: skip
    for version in ("v1.24.17-eks-1", "v1.18.9-eks-d1db3c"):
        path = _write(tmp_path, _doc(VIPS, OFFICE, kube_proxy=version, mode="ipvs"))
        _, doc = _check(path, capsys)
        kp = doc["services"][0]["kube_proxy_drop"]
        assert kp["mode"] == "ipvs" and kp["callers"] == CALLERS and doc["services"][0]["probability"] == 1.0
        assert kp["rules"] == [{"port": "80/TCP", "rule": rule}]
        assert "before 1.25 it only marks" not in kp["reason"]
        s = _scenario(path, tmp_path)
        assert (s.kube_proxy.mode, s.kube_proxy.version) == ("ipvs", version[1:5])
        assert risk.timeout_fraction(s) == 1
        r = sim.run(s, 20, seed=1).summary
        assert (r.timeouts, r.established) == (20, 0)
        c = sim.connect(s, client_port=40000, seed=1)
        assert any("dropped in filter INPUT" in h.action for h in c.hops)
        assert not any(h.at.startswith("NLB") for h in c.hops)


IPVS_PODS = ("KUBE-SOURCE-RANGES-FIREWALL (from KUBE-PROXY-FIREWALL for KUBE-LOAD-BALANCER-FW members): RETURN for "
             "KUBE-LOAD-BALANCER-SOURCE-CIDR, else DROP")  # fmt: skip


@pytest.mark.parametrize(("version", "dropped"), [("v1.25.16-eks-1", False), ("v1.28.15-eks-1", False),
                                                  ("v1.29.10-eks-1", True), ("v1.30.4-eks-a737599", True)])  # fmt: skip
def test_ipvs_host_network_caller_per_version(tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str,
                                              dropped: bool) -> None:  # fmt: skip
    """A host-network caller (netshoot on node1, 192.168.2.3, outside 10.0.0.0/8) in IPVS mode: 1.25 to 1.28
    check the ranges in INPUT and FORWARD only, so its SYN (OUTPUT, then IPVS's LOCAL_OUT) is not dropped
    (kubernetes issue #119656): the checker leaves it out of the callers, the closed form says 0 and the
    simulator connects 20 of 20.  From 1.29 KUBE-IPVS-OUT-FILTER drops it in filter OUTPUT (PR #119791): named,
    P = 1, 20 of 20 time out in the simulator, dropped by the -m ipvs rule."""
    path = _write(tmp_path, _doc(VIPS, OFFICE, kube_proxy=version, mode="ipvs", host_network=True))
    _, doc = _check(path, capsys)
    kp = doc["services"][0]["kube_proxy_drop"]
    pods = [c for c in CALLERS if c != "default/netshoot"]
    assert kp["callers"] == (CALLERS if dropped else pods)
    if dropped:
        assert kp["rules"] == [{"port": "80/TCP", "rule": (
            f"{IPVS_PODS}; a host-network caller (source: the VIP) in filter OUTPUT -> KUBE-IPVS-OUT-FILTER: "
            f"-s {A}/32 -m ipvs --vproto 6 --vaddr {A}/32 --vport 80 -j DROP")}]  # fmt: skip
        assert "#119656" not in kp["reason"]
    else:
        assert kp["rules"] == [{"port": "80/TCP", "rule": f"{IPVS_PODS} (INPUT and FORWARD only: a host-network "
                                                          "caller's SYN, through OUTPUT, is not dropped before 1.29)"}]
        assert "host-network callers, whose SYNs take OUTPUT, are not dropped (kubernetes issue #119656)" in kp["reason"]
    s = _scenario(path, tmp_path)
    assert s.client_pod.host_network and (s.kube_proxy.mode, s.kube_proxy.version) == ("ipvs", version[1:5])
    assert risk.timeout_fraction(s) == int(dropped)
    r = sim.run(s, 20, seed=1).summary
    assert (r.timeouts, r.established) == ((20, 0) if dropped else (0, 20))
    c = sim.connect(s, client_port=40000, seed=1)
    notes = next(h for h in c.hops if h.at == "node1").action.split(" | ")
    # seed 1 resolves the NLB name to B; A's rule (the first in the chain) does not match: -s and --vaddr differ
    out_filter = (f"filter KUBE-IPVS-OUT-FILTER: -A KUBE-IPVS-OUT-FILTER -s {B}/32 -m ipvs --vproto 6 --vaddr {B}/32 "
                  "--vport 80 -j DROP  [DROP]")  # fmt: skip
    if dropped:
        assert notes[-2:] == [out_filter, "dropped in filter OUTPUT"]
    else:
        assert not any("dropped" in n for n in notes) and out_filter not in notes
