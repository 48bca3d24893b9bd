"""`hairpin scenario from-cluster` with a Service whose status lists load-balancer IPs (KEP-1860 ipMode):
the IPs become the NLB's node addresses, the ones kube-proxy captures (ipMode VIP, or any ipMode before
1.30) the Service's ``load_balancer_ips``; the simulator and the closed form then agree that in-cluster
callers of them never hairpin.  A hostname-only status keeps the placeholders and the seed's rate."""

from __future__ import annotations

import copy
import json
from fractions import Fraction as F
from pathlib import Path
from typing import Any

import pytest
import yaml

from hairpin import scenario
from hairpin.aws import risk
from hairpin.backends import sim
from hairpin.cli.main import main
from hairpin.kube import ipmode

DUMP = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"
SVC = "nginx-demo/service-nginx-demo"
HOST = "a7487a27201f2434490bada8096adce3-221f6e1d21fadd5b.elb.eu-west-1.amazonaws.com"
A, B = "192.168.168.103", "192.168.140.27"  # the seed NLB's addresses in eu-west-1a and eu-west-1b
N = 200


def _dump(tmp_path: Path, ingress: list[dict[str, str]], kube_proxy: str = "v1.30.4-eks-a737599") -> Path:
    doc = yaml.safe_load(DUMP.read_text())
    for item in doc["items"]:
        if item["kind"] == "Node":
            item["status"]["nodeInfo"]["kubeProxyVersion"] = kube_proxy
        if item["kind"] == "Service":
            item["status"] = {"loadBalancer": {"ingress": copy.deepcopy(ingress)}}
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _from_cluster(tmp_path: Path, ingress: list[dict[str, str]], kube_proxy: str = "v1.30.4-eks-a737599") -> tuple[
        scenario.Scenario, str]:  # fmt: skip
    out = tmp_path / "s.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(_dump(tmp_path, ingress, kube_proxy)), "--service", SVC,
              "--client-pod", "default/netshoot", "-o", str(out)])  # fmt: skip
    assert exc.value.code in (0, None)
    return scenario.load(out), out.read_text()


def _reproduce(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--scenario", str(path), "--connections", str(N), "--seed", "1", "--no-fixes",
              "--format", "json"])  # fmt: skip
    assert exc.value.code in (0, None)
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)["summary"]
    return summary


def test_ipmode_vip_reproduces_as_not_hairpinning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s, text = _from_cluster(tmp_path, [{"ip": A, "ipMode": "VIP"}, {"ip": B, "ipMode": "VIP", "hostname": HOST}])
    svc = s.client_service
    assert svc.load_balancer is not None
    assert svc.load_balancer.nodes == (("eu-west-1a", A), ("eu-west-1b", B))
    assert svc.load_balancer_ips == (A, B)
    assert (s.vpc.az_of(A), s.vpc.az_of(B)) == ("eu-west-1a", "eu-west-1b")
    lines = text.splitlines()
    assert (f"# - NLB node addresses from the Service's status.loadBalancer.ingress: eu-west-1a {A}, eu-west-1b {B} "
            "(the status names no AZ: each address put in the AZ whose addresses are nearest)") in lines  # fmt: skip
    assert (f"# - ingress IPs kube-proxy captures on every node (ipMode VIP): {A}, {B}; in-cluster callers of "
            "them never reach the load balancer") in lines  # fmt: skip
    assert not any("placeholders in placeholder subnets" in x for x in lines)
    assert yaml.safe_load(text)["services"][0]["load_balancer_ips"] == [A, B]
    err = capsys.readouterr().err
    assert ("No per-node table: kube-proxy on the caller's node captures the load balancer's addresses (ingress IPs, "
            "ipMode VIP); hairpin reproduce shows the outcome.") in err.splitlines()  # fmt: skip
    assert "node1" not in err  # no table of hairpin odds next to a Service no caller hairpins through
    summary = _reproduce(tmp_path / "s.yaml", capsys)
    assert (summary["attempts"], summary["timeouts"], summary["expected_rate"]) == (N, 0, 0.0)
    c = sim.connect(s, client_port=40000, seed=1)
    assert c.outcome == "established" and not any(h.at.startswith("NLB") for h in c.hops)


@pytest.mark.parametrize(
    "ingress",
    [
        [{"hostname": HOST}],
        [{"ip": A, "ipMode": "Proxy"}, {"ip": B, "ipMode": "Proxy", "hostname": HOST}],
    ],
    ids=["hostname", "proxy"],
)
def test_ipmode_proxy_or_hostname_keeps_the_seeds_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ingress: list[dict[str, str]]
) -> None:
    s, text = _from_cluster(tmp_path, ingress)
    svc = s.client_service
    assert svc.load_balancer_ips == ()
    assert "load_balancer_ips" not in yaml.safe_load(text)["services"][0]
    assert risk.timeout_fraction(s) == F(1, 4)  # the seed dump's rate (tests/test_cluster_scenario.py)
    summary = _reproduce(tmp_path / "s.yaml", capsys)
    assert summary["expected_rate"] == 0.25
    assert 25 <= summary["timeouts"] <= 75  # 200 draws of p = 1/4: mean 50, sd 6.1
    assert svc.load_balancer is not None
    if ingress[0].get("ip"):  # the status's addresses are the NLB's, not captured
        assert svc.load_balancer.nodes == (("eu-west-1a", A), ("eu-west-1b", B))
    else:  # today's behaviour: placeholders
        assert [addr for _, addr in svc.load_balancer.nodes] == ["192.168.0.4", "192.168.0.20"]
        assert any("placeholders in placeholder subnets" in x for x in text.splitlines())


def test_one_address_captured_the_other_proxied(tmp_path: Path) -> None:
    """Residual risk: a caller that resolves the address kube-proxy does not capture still goes to the NLB;
    the closed form averages over the addresses in DNS and the simulator agrees."""
    s, _ = _from_cluster(tmp_path, [{"ip": A, "ipMode": "Proxy"}, {"ip": B, "ipMode": "VIP"}])
    assert s.client_service.load_balancer_ips == (B,)
    assert (risk.timeout_fraction(s), risk.timeout_fraction(s, address=A), risk.timeout_fraction(s, address=B)) == (
        F(1, 4), F(1, 2), F(0))  # fmt: skip
    s, _ = _from_cluster(tmp_path, [{"ip": A, "ipMode": "VIP"}, {"ip": B, "ipMode": "Proxy"}])
    assert s.client_service.load_balancer_ips == (A,)
    assert risk.timeout_fraction(s) == 0  # B's AZ has no target on the caller's node
    assert sim.run(s, N, seed=1).summary.timeouts == 0


def test_before_130_every_ingress_ip_is_captured_and_before_124_none_is_written(tmp_path: Path) -> None:
    s, text = _from_cluster(tmp_path, [{"ip": A, "ipMode": "Proxy"}], kube_proxy="v1.29.3")
    assert s.client_service.load_balancer_ips == (A,)
    assert ("# - load balancer ingress IPs: kube-proxy 1.29 predates LoadBalancerIPMode (on by default from 1.30): "
            "it captures every ingress IP, whatever its ipMode") in text.splitlines()  # fmt: skip
    s, text = _from_cluster(tmp_path, [{"ip": A, "ipMode": "VIP"}], kube_proxy="v1.18.9-eks-d1db3c")
    assert s.client_service.load_balancer_ips == ()
    assert (f"# - ingress IPs kube-proxy captures ({A}) left out: not modelled for kube-proxy 1.18 (iptables "
            "layouts 1.24 and later write it)") in text.splitlines()  # fmt: skip
    assert s.client_service.load_balancer is not None
    assert s.client_service.load_balancer.nodes[0] == ("eu-west-1a", A)


def test_source_ranges_with_captured_ips_drop_every_call() -> None:
    """The closed form for a captured address honours kube-proxy's firewall (loadBalancerSourceRanges)."""
    from dataclasses import replace

    s = scenario.seed()
    s = replace(s, kube_proxy=replace(s.kube_proxy, version="1.30"))
    s = replace(s, services=(replace(s.services[0], load_balancer_ips=(A, B),
                                     load_balancer_source_ranges=("10.0.0.0/8",)),))  # fmt: skip
    assert risk.timeout_fraction(s) == 1 == sim.run(s, 20, seed=1).summary.timeouts / 20
    s = replace(s, services=(replace(s.services[0], load_balancer_source_ranges=("192.168.0.0/16",)),))
    assert risk.timeout_fraction(s) == 0 == sim.run(s, 20, seed=1).summary.timeouts


def test_place_and_ipv4() -> None:
    by_az = {"a": ["10.0.1.5", "10.0.1.9"], "b": ["10.0.2.5"]}
    assert ipmode.place(["10.0.2.200", "10.0.1.200"], by_az) == {"b": "10.0.2.200", "a": "10.0.1.200"}
    # one per AZ, in the status's order; the second address nearest a goes to the AZ left
    assert ipmode.place(["10.0.1.200", "10.0.1.201"], by_az) == {"a": "10.0.1.200", "b": "10.0.1.201"}
    assert ipmode.place(["10.0.1.200", "10.0.1.201", "10.0.2.1"], by_az) == {"a": "10.0.1.200", "b": "10.0.1.201"}
    # ties go to the first AZ by name; a node's or pod's own address is never the load balancer's
    assert ipmode.place(["172.16.0.1"], by_az) == {"a": "172.16.0.1"}
    assert ipmode.place(["10.0.2.5"], by_az) == {}
    assert ipmode.ipv4(["10.0.0.1", "fd00::1", "not-an-ip", "300.1.1.1", ""]) == ("10.0.0.1",)
