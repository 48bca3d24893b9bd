"""``hairpin check``'s security-group and kube-proxy source-range checks by IP family (hairpin.diagnose.reach,
hairpin.diagnose.proxy_firewall, hairpin.diagnose.families).

A dump of a dual-stack-node cluster (two AZs, one node each) whose pods are IPv6 (an IPv6 EKS cluster), with an
AWS Load Balancer Controller Service: dualstack NLB, ``ipFamilies: [IPv6]`` (an IPv6 target group), instance
targets.  Callers are judged in the family that reaches the target with their own address; a range list with no
entry of that family admits none of them (the controller writes each range as a rule of its own family); the
controller refuses an IPv6 range on an ipv4 NLB with its managed security group; kube-proxy's IPv6 proxier keeps
the IPv6 ranges and VIPs only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin.cli.main import main
from hairpin.diagnose import check as chk
from hairpin.diagnose import families
from hairpin.parsers import manifests as m
from test_check import CONTRACT  # tests/ is on sys.path (rootdir conftest, no package)

DS = "service.beta.kubernetes.io/aws-load-balancer-ip-address-type"
A6, B6 = "2a05:d018:1:a00::", "2a05:d018:1:b00::"


def node(name: str, az: str, *ips: str, cidrs: list[str] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": name, "uid": f"n-{name}", "labels": {"topology.kubernetes.io/zone": az}},
         "status": {"addresses": [{"type": "InternalIP", "address": ip} for ip in ips],
                    "nodeInfo": {"kubeletVersion": "v1.33.4-eks-1", "kubeProxyVersion": "v1.33.4-eks-1"}}}
    if cidrs:
        d["spec"] = {"podCIDR": cidrs[0], "podCIDRs": cidrs}
    return d


def pod(ns: str, name: str, on: str, *ips: str, app: str = "client", host: bool = False) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": f"p-{name}", "labels": {"app": app}},
            "spec": {"nodeName": on, "hostNetwork": host, "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "podIP": ips[0], "podIPs": [{"ip": i} for i in ips],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def service(name: str = "web", *, fams: tuple[str, ...] | None = ("IPv6",), policy: str | None = "SingleStack",
            ranges: list[str] | None = None, lb: str | None = "dualstack", ingress: list[dict[str, str]] | None = None,
            annotations: dict[str, str] | None = None) -> dict[str, Any]:
    ann = {"service.beta.kubernetes.io/aws-load-balancer-type": "external",
           "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "instance"}
    if lb:
        ann[DS] = lb
    ann.update(annotations or {})
    spec: dict[str, Any] = {"type": "LoadBalancer", "selector": {"app": "web"},
                            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30080}],
                            "externalTrafficPolicy": "Cluster"}
    if fams:
        spec["ipFamilies"] = list(fams)
    if policy:
        spec["ipFamilyPolicy"] = policy
    if ranges is not None:
        spec["loadBalancerSourceRanges"] = ranges
    d = {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": "shop", "uid": f"s-{name}", "creationTimestamp": "2026-11-30T10:00:00Z",
                      "annotations": ann}, "spec": spec}
    if ingress is not None:
        d["status"] = {"loadBalancer": {"ingress": ingress}}
    return d


def lbc(*gates: str) -> dict[str, Any]:
    args = ["--cluster-name=c1", *(f"--feature-gates={g}" for g in gates)]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "aws-load-balancer-controller", "namespace": "kube-system", "uid": "d-lbc"},
            "spec": {"template": {"spec": {"containers": [{"name": "aws-load-balancer-controller",
                                                          "image": "public.ecr.aws/eks/aws-load-balancer-controller:v2.13.0",
                                                          "args": args}]}}}}


NODES = [node("ip-a", "eu-west-1a", A6 + "10", "10.0.1.10"), node("ip-b", "eu-west-1b", B6 + "10", "10.0.2.10")]
# IPv6 EKS-like pods: IPv6 only; plus a dual-stack pod and an IPv4-only pod
PODS = [pod("shop", "web-1", "ip-a", A6 + "21", app="web"), pod("shop", "web-2", "ip-b", B6 + "21", app="web"),
        pod("default", "client-a", "ip-a", A6 + "31"), pod("default", "client-b", "ip-b", B6 + "31")]


def dump(*items: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": list(items)}


def _check(tmp_path: Path, doc: dict[str, Any], capsys: pytest.CaptureFixture[str], fmt: str = "json") -> tuple[int, Any]:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(doc, indent=1))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["check", str(path), "--format", fmt])
    out = json.loads(capsys.readouterr().out)
    if fmt == "json":
        jsonschema.validate(out, CONTRACT)
        return int(exc.value.code or 0), out["services"][0]
    return int(exc.value.code or 0), out


HAIRPIN = ("internal NLB, instance targets, client IP preservation on: a caller on node ip-a (eu-west-1a) is sent back "
           "to its own node with P = 1/2 (50.0%)")  # fmt: skip
INSTANCE_WARNING = (
    "instance targets in an IPv6 target group: the AWS Load Balancer Controller builds them, but the Amazon EKS "
    "User Guide says IPv6 load balancing works to ip targets only; if AWS refuses the target group no load balancer "
    "is built (not modelled: the verdict assumes it is)"
)
NO_V6_RULE = ("and no range is IPv6 (the AWS Load Balancer Controller writes each range as a rule of its own family, "
              "so none admits IPv6)")  # fmt: skip


def test_ipv6_target_group_with_only_ipv4_ranges_drops_ipv6_callers_at_the_nlb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # model_build_managed_sg.go: an IPv4 CIDR becomes an IpRanges rule, an IPv6 one an Ipv6Ranges rule; none is IPv6
    code, s = _check(tmp_path, dump(*NODES, *PODS, service(ranges=["10.0.0.0/16"])), capsys)
    drop = ("4 in-cluster caller pod(s) are outside spec.loadBalancerSourceRanges (10.0.0.0/16), e.g. default/client-a "
            f"({A6}31) on node ip-a (4 reach it over IPv6, the family the target group keeps the caller's address in, "
            f"{NO_V6_RULE}): the NLB's security group drops every SYN they send, so each of their connections times "
            "out (P = 1), whatever target the NLB picks")  # fmt: skip
    assert (code, s["at_risk"], s["probability"], s["security_group_drop"]) == (1, True, 1.0, drop)
    assert s["security_group_drop_families"] == ["IPv6"]
    assert s["reason"].startswith(HAIRPIN) and s["reason"].endswith("; second failure: " + drop)
    assert s["fix"] == ("admit the in-cluster callers' network in the source ranges: kubectl patch service -n shop web "
                        "--type merge -p '{\"spec\": {\"loadBalancerSourceRanges\": [\"10.0.0.0/16\", "
                        "\"<VPC-IPv6-CIDR>\"]}}'")  # fmt: skip
    assert (s["warnings"], s["problems"], s["kube_proxy_drop"]) == ([INSTANCE_WARNING], [], None)
    f = chk.check(m.load_paths([tmp_path / "dump.json"])).findings[0]
    assert f.worst_node == "ip-a" and f.fixes[0].cost == (
        "replace <VPC-IPv6-CIDR> with the VPC's IPv6 CIDR (the networks the in-cluster callers take their addresses "
        "from with the AWS VPC CNI); every address in them can then reach the NLB; the AWS Load Balancer Controller "
        "writes an IPv6 range only for a dualstack NLB (it refuses one on an ipv4 NLB)")  # fmt: skip


def test_ipv6_ranges_that_hold_the_pods_leave_only_the_hairpin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, s = _check(tmp_path, dump(*NODES, *PODS, service(ranges=["10.0.0.0/16", "2a05:d018:1::/48"])), capsys)
    assert (code, s["at_risk"], s["probability"], s["security_group_drop"], s["security_group_drop_families"]) == (
        1, True, 0.5, None, [])  # fmt: skip
    assert s["reason"].startswith(HAIRPIN) and "second failure" not in s["reason"]
    assert s["warnings"] == [INSTANCE_WARNING]


def test_callers_without_the_target_groups_family_are_judged_in_theirs(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # an IPv4-only pod reaches the dualstack NLB over IPv4 with its own address: the NLB's group has no IPv4 rule;
    # a dual-stack pod in the IPv6 range is admitted over IPv6 (the family judged), whatever its IPv4 address
    pods = [*PODS, pod("default", "old-v4", "ip-b", "10.0.2.40"), pod("default", "dual", "ip-a", "10.0.1.41", A6 + "41")]
    code, s = _check(tmp_path, dump(*NODES, *pods, service(ranges=["2a05:d018:1:a00::/56"])), capsys)
    assert s["security_group_drop"] == (
        "3 in-cluster caller pod(s) are outside spec.loadBalancerSourceRanges (2a05:d018:1:a00::/56), e.g. "
        f"default/client-b ({B6}31) on node ip-b (1 have no IPv6 address and reach it over IPv4, and no range is IPv4 "
        "(the AWS Load Balancer Controller writes each range as a rule of its own family, so none admits IPv4); 2 "
        "reach it over IPv6, the family the target group keeps the caller's address in, from outside the IPv6 ranges "
        "(2a05:d018:1:a00::/56)): the NLB's security group drops every SYN they send, so each of their connections "
        "times out (P = 1), whatever target the NLB picks"
    )
    assert (code, s["probability"], s["security_group_drop_families"]) == (1, 1.0, ["IPv4", "IPv6"])
    assert s["fix"].endswith("'{\"spec\": {\"loadBalancerSourceRanges\": [\"2a05:d018:1:a00::/56\", \"<VPC-CIDR>\", "
                             "\"<VPC-IPv6-CIDR>\"]}}'")  # fmt: skip
    report = chk.check(m.load_paths([tmp_path / "dump.json"]))
    assert report.findings[0].blocked_families == ["IPv4", "IPv6"]
    assert report.findings[0].fixes[0].cost.startswith("replace <VPC-CIDR> with the VPC's IPv4 CIDR and "
                                                       "<VPC-IPv6-CIDR> with the VPC's IPv6 CIDR")  # fmt: skip


def test_no_pod_with_an_ipv6_address_is_a_warning_not_a_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, s = _check(tmp_path, dump(*NODES, service(ranges=["10.0.0.0/16"])), capsys)
    assert (code, s["probability"], s["security_group_drop"], s["security_group_drop_families"]) == (1, 0.5, None, [])
    assert s["warnings"] == [INSTANCE_WARNING, (
        "IPv6 target group with spec.loadBalancerSourceRanges set: spec.loadBalancerSourceRanges has no IPv6 range, so "
        "every caller that reaches the NLB over IPv6 is dropped (P = 1); the input has no pod with an IPv6 address "
        "(status.podIPs), so hairpin cannot tell whether in-cluster callers are dropped; give the pods (kubectl get "
        "pods -A -o yaml) to check")]  # fmt: skip
    v4pods = [pod("default", "old-v4", "ip-b", "10.0.2.40")]
    _, s = _check(tmp_path, dump(*NODES, *v4pods, service(ranges=["10.0.0.0/16", "2a05:d018:1::/48"])), capsys)
    assert s["warnings"][1] == (
        "IPv6 target group with spec.loadBalancerSourceRanges set: callers over IPv6 are admitted only from its IPv6 "
        "ranges (2a05:d018:1::/48); the input has no pod with an IPv6 address (status.podIPs), so hairpin cannot tell "
        "whether in-cluster callers are dropped; give the pods (kubectl get pods -A -o yaml) to check")  # fmt: skip
    assert s["security_group_drop"] is None  # the IPv4 pod is inside 10.0.0.0/16 over IPv4


def test_an_ipv6_range_on_an_ipv4_nlb_is_refused_by_the_controller(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # buildCIDRsFromSourceRanges (v2.6.0 to v3.5.0): "unsupported v6 cidr %v when lb is not dualstack"
    svc = service(fams=None, policy=None, lb=None, ranges=["10.0.0.0/16", "2a05:d018:1::/48"])
    code, s = _check(tmp_path, dump(*NODES, *PODS, svc), capsys)
    assert (code, s["at_risk"], s["controller"], s["load_balancer"], s["fix"]) == (0, False, "none", "none", None)
    assert s["reason"] == (
        "spec.loadBalancerSourceRanges has the IPv6 range 2a05:d018:1::/48 and the NLB is ipv4: the AWS Load Balancer "
        "Controller refuses it (\"unsupported v6 cidr 2a05:d018:1::/48 when lb is not dualstack\", "
        "model_build_managed_sg.go: its security group gets IPv6 rules only on a dualstack NLB): no load balancer is "
        "built")  # fmt: skip
    assert s["problems"] == [
        "the AWS Load Balancer Controller will not provision it: \"unsupported v6 cidr 2a05:d018:1::/48 when lb is not "
        f"dualstack\"; fix: {DS}: dualstack, or remove the IPv6 range from spec.loadBalancerSourceRanges"]  # fmt: skip
    # no managed security group: no refusal (the user's own groups; the feature gate off)
    own = service(fams=None, policy=None, lb=None, ranges=["10.0.0.0/16", "2a05:d018:1::/48"],
                  annotations={"service.beta.kubernetes.io/aws-load-balancer-security-groups": "sg-1"})  # fmt: skip
    assert _check(tmp_path, dump(*NODES, *PODS, own), capsys)[1]["controller"] == "aws-load-balancer-controller"
    legacy = dump(*NODES, *PODS, lbc("NLBSecurityGroup=false"), svc)
    assert _check(tmp_path, legacy, capsys)[1]["controller"] == "aws-load-balancer-controller"
    # the annotation's ranges are checked the same way when the spec field is empty
    ann = service(fams=None, policy=None, lb=None,
                  annotations={"service.beta.kubernetes.io/load-balancer-source-ranges": "10.0.0.0/16, fd00::/8"})
    _, s = _check(tmp_path, dump(*NODES, *PODS, ann), capsys)
    assert s["problems"][0].startswith("the AWS Load Balancer Controller will not provision it: \"unsupported v6 cidr "
                                       "fd00::/8 when lb is not dualstack\"")  # fmt: skip


def test_without_nlb_security_groups_the_targets_judge_ipv6_callers(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # buildTargetGroupBindingNetworkingLegacy: preservation on, the targets' rules are the ranges as written
    code, s = _check(tmp_path, dump(*NODES, *PODS, lbc("NLBSecurityGroup=false"), service(ranges=["10.0.0.0/16"])),
                     capsys)  # fmt: skip
    assert (code, s["probability"], s["security_group_drop_families"]) == (1, 1.0, ["IPv6"])
    assert s["security_group_drop"].endswith(
        f"{NO_V6_RULE}): the targets' security group (client IP preserved, so they see the caller's address) drops "
        "every SYN they send, so each of their connections times out (P = 1), whatever target the NLB picks")
    # no ranges: getDefaultIPSourceRanges gives an internal NLB's IPv6 target group the VPC's IPv6 CIDRs
    _, s = _check(tmp_path, dump(*NODES, *PODS, lbc("NLBSecurityGroup=false"), service()), capsys)
    assert (s["probability"], s["security_group_drop"], s["warnings"]) == (0.5, None, [INSTANCE_WARNING])
    f = chk.check(m.load_paths([tmp_path / "dump.json"])).findings[0]
    assert (
        "no source ranges, no security groups on the NLB, client IP preserved: the targets' rules admit the VPC's "
        "IPv6 CIDRs (getDefaultIPSourceRanges for an internal NLB's IPv6 target group, model_build_target_group.go); "
        "hairpin does not know the VPC's CIDRs and assumes every in-cluster caller's IPv6 address is inside them "
        "(the AWS VPC CNI gives pods addresses from the VPC's subnets)") in f.settings.steps  # fmt: skip
    assert f.settings.steps[-1].startswith("target group IP address type ipv6") is False  # the verdict's step is last


def test_ipv6_only_pods_calling_an_ipv4_nlb_are_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pods = [*PODS, pod("default", "old-v4", "ip-b", "10.0.2.40")]
    svc = service(fams=None, policy=None, lb=None, ranges=["10.0.0.0/16"])
    code, s = _check(tmp_path, dump(*NODES, *pods, svc), capsys)
    assert (code, s["probability"], s["security_group_drop"], s["target_group_ip_address_type"]) == (1, 0.5, None, "ipv4")
    assert s["warnings"] == [
        "4 caller pod(s) have no IPv4 address (e.g. default/client-a, default/client-b, shop/web-1): they reach the "
        "IPv4 load balancer through some NAT (on an IPv6 EKS cluster, from their node's IPv4 address), a source the "
        "input does not show, so the source ranges were not checked for them"]  # fmt: skip
    # the IPv4 pod outside the range is dropped as before (its IPv4 address, status.podIPs)
    _, s = _check(tmp_path, dump(*NODES, *pods, service(fams=None, policy=None, lb=None, ranges=["10.0.1.0/24"])),
                  capsys)  # fmt: skip
    assert s["security_group_drop"] == (
        "1 in-cluster caller pod(s) are outside spec.loadBalancerSourceRanges (10.0.1.0/24), e.g. default/old-v4 "
        "(10.0.2.40) on node ip-b: the NLB's security group drops every SYN they send, so each of their connections "
        "times out (P = 1), whatever target the NLB picks")  # fmt: skip
    assert s["security_group_drop_families"] == ["IPv4"]


VIPS4 = [{"ip": "10.0.1.100", "ipMode": "VIP"}, {"ip": "10.0.2.100", "ipMode": "VIP"}]
VIPS6 = [{"ip": A6 + "100", "ipMode": "VIP"}, {"ip": B6 + "100", "ipMode": "VIP"}]


def test_kube_proxy_ipv6_proxier_drops_ipv6_callers_at_captured_ipv6_addresses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    svc = service(fams=("IPv4", "IPv6"), policy="RequireDualStack", ranges=["10.0.0.0/16", "2001:db8::/64"],
                  ingress=VIPS4 + VIPS6)  # fmt: skip
    code, s = _check(tmp_path, dump(*NODES, *PODS, svc), capsys)
    rule = (f"ip6tables: KUBE-FW-67NZLRHBNDSAWJRO admits only the ranges; KUBE-PROXY-FIREWALL drops the rest: -d "
            f"{A6}100/128 -p tcp --dport 80 -j DROP")  # fmt: skip
    reason = (
        "kube-proxy's IPv6 proxier (iptables mode assumed, 1.33) enforces the IPv6 entries of "
        "spec.loadBalancerSourceRanges (2001:db8::/64; each proxier keeps the ranges of its own family) itself on the "
        f"IPv6 load-balancer address(es) it captures ({A6}100, {B6}100), for callers over IPv6: 4 of the 4 in-cluster "
        f"caller pod(s) of the input are outside them (pod IPv6 addresses: 4 pod(s), e.g. default/client-a ({A6}31), "
        f"default/client-b ({B6}31), shop/web-1 ({A6}21)): every SYN they send there is dropped on their own node, "
        "before any load balancer (P = 1, every time)")  # fmt: skip
    assert s["kube_proxy_drop"] == {
        "reason": reason, "certain": True, "mode": "iptables", "addresses": [A6 + "100", B6 + "100"],
        "source_ranges": ["2001:db8::/64"], "rules": [{"port": "80/TCP", "rule": rule}],
        "callers": ["default/client-a", "default/client-b", "shop/web-1", "shop/web-2"], "admit": ["<VPC-IPv6-CIDR>"],
        "families": ["IPv6"]}  # fmt: skip
    assert (code, s["at_risk"], s["probability"], s["ports"][0]["kube_proxy_rule"]) == (1, True, 1.0, rule)
    # the patch keeps the IPv4 range and adds the IPv6 placeholder
    assert s["fix"] == ("admit the in-cluster callers' network(s) in spec.loadBalancerSourceRanges: kubectl patch "
                        "service -n shop web --type merge -p '{\"spec\": {\"loadBalancerSourceRanges\": [\"10.0.0.0/16\", "
                        "\"2001:db8::/64\", \"<VPC-IPv6-CIDR>\"]}}'")  # fmt: skip
    # the IPv4 proxier's callers are unknown (no pod has an IPv4 address): a warning
    assert s["warnings"][1] == (
        "kube-proxy (iptables mode assumed, 1.33) enforces spec.loadBalancerSourceRanges (10.0.0.0/16) itself on the "
        "load-balancer address(es) it captures (10.0.1.100, 10.0.2.100): callers outside the ranges are dropped there "
        "every time, but no pod of the input has an IPv4 address (status.podIPs) and no node an IPv4 podCIDR, so "
        "hairpin cannot tell whether in-cluster callers are outside them; give the pods (kubectl get pods -A -o yaml) "
        "to check")  # fmt: skip


def test_kube_proxy_nftables_ip6_rule_and_ipv6_pod_cidrs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = [node("ip-a", "eu-west-1a", A6 + "10", "10.0.1.10", cidrs=["10.0.1.0/24", "fd00:a::/64"]),
             node("ip-b", "eu-west-1b", B6 + "10", "10.0.2.10", cidrs=["10.0.2.0/24", "fd00:b::/64"])]
    conf = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy-config", "namespace": "kube-system"},
          "data": {"config": conf}}  # fmt: skip
    svc = service(fams=("IPv6",), ranges=["fd00:a::/64", "10.0.0.0/8"], ingress=VIPS6)
    code, s = _check(tmp_path, dump(*nodes, cm, svc), capsys)
    d = s["kube_proxy_drop"]
    assert (code, s["probability"], d["families"], d["callers"], d["admit"]) == (1, 1.0, ["IPv6"], ["node ip-b"],
                                                                                  ["fd00:b::/64"])  # fmt: skip
    assert d["rules"] == [{"port": "80/TCP", "rule": "nftables chain firewall-KHN6ECMT-shop/web/tcp/http (table ip6 "
                                                      "kube-proxy, from firewall-check): ip6 saddr != fd00:a::/64 drop"}]
    assert d["reason"].endswith(
        "pods take their addresses from the nodes' podCIDRs, and 1 of them are not inside the ranges (node ip-b: "
        "podCIDR fd00:b::/64); the input has no pods, so the callers are the pods those nodes run: every SYN they send "
        "there is dropped on their own node, before any load balancer (P = 1, every time)")


def test_ipv6_proxier_without_an_ipv6_range_writes_no_firewall(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # usesFWChain needs a range of the proxier's family: IPv6 callers of the IPv6 VIPs are not filtered
    svc = service(fams=("IPv4", "IPv6"), policy="RequireDualStack", ranges=["10.0.0.0/16"], ingress=VIPS6)
    code, s = _check(tmp_path, dump(*NODES, *PODS, svc), capsys)
    assert (code, s["at_risk"], s["kube_proxy_drop"], s["security_group_drop"]) == (0, False, None, None)
    assert s["reason"].startswith(f"kube-proxy handles in-cluster calls to {A6}100, {B6}100 (status.loadBalancer."
                                  "ingress with ipMode VIP)")  # fmt: skip
    assert "the NLB has one IPv6 address per AZ (2) and the status lists 2: no in-cluster caller over IPv6" in s["reason"]


def test_captured_ipv4_addresses_do_not_cover_an_ipv6_target_groups_callers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    svc = service(fams=("IPv4", "IPv6"), policy="RequireDualStack", ingress=VIPS4)
    code, s = _check(tmp_path, dump(*NODES, *PODS, svc), capsys)
    assert (code, s["at_risk"], s["probability"]) == (1, True, 0.5)
    assert s["reason"].endswith(
        "kube-proxy handles in-cluster calls to 10.0.1.100, 10.0.2.100 (status.loadBalancer.ingress with ipMode VIP) on "
        "the caller's own node, so they never reach the NLB (kube-proxy 1.33 honours ipMode (LoadBalancerIPMode, beta "
        "in 1.30, GA in 1.32)), but callers over IPv6 (the family the target group keeps the caller's address in) that "
        "resolve another NLB address still reach it (0 IPv6 address(es) for 2 AZ(s))")
    # an IPv6 VIP on an IPv4-only Service is not captured (no IPv6 proxier serves it): the IPv4 verdict stands
    v4 = service(fams=("IPv4",), lb=None, ingress=VIPS6)
    _, s = _check(tmp_path, dump(*NODES, *PODS, v4), capsys)
    assert (s["at_risk"], s["probability"]) == (True, 0.5) and "kube-proxy handles" not in s["reason"]


def test_sarif_carries_the_drop_families(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc = _check(tmp_path, dump(*NODES, *PODS, service(ranges=["10.0.0.0/16"])), capsys, fmt="sarif")
    (hp001,) = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "HP001"]
    assert hp001["properties"]["security_group_drop_families"] == ["IPv6"]
    assert hp001["properties"]["security_group_drop"].startswith("4 in-cluster caller pod(s) are outside")


_V4 = st.ip_addresses(v=4).map(str)
_V6 = st.ip_addresses(v=6).map(str)


@given(st.lists(st.one_of(_V4, _V6, st.sampled_from(["", "x", "10.0.0.0/8", "::/0"])), max_size=6))
def test_address_picks_the_first_of_each_family(values: list[str]) -> None:
    for fam in (4, 6):
        got = families.address(values, fam)
        want = next((v for v in values if families.version(v) == fam and "/" not in v), None)
        assert got == want


@given(st.lists(st.one_of(st.ip_addresses(v=4).map(lambda a: f"{a}/32"), st.ip_addresses(v=6).map(lambda a: f"{a}/128")),
                max_size=6))  # fmt: skip
def test_ranges_of_splits_by_family(ranges: list[str]) -> None:
    four, six = families.ranges_of(ranges, 4), families.ranges_of(ranges, 6)
    assert sorted(four + six) == sorted(ranges) and all(":" in r for r in six) and all(":" not in r for r in four)
