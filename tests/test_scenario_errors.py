"""Scenario file errors (issue 8): one line, ``FILE:LINE: key.path: what is wrong``, through the library
(``hairpin.scenario.load``) and through ``hairpin reproduce --scenario F`` (exit 2, one line, nothing
written).  The line is the offending key's; a missing required key points at its enclosing mapping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hairpin import scenario
from hairpin.cli.main import main
from hairpin.errors import ScenarioError

# A small valid scenario; the cases below edit one line of it (line numbers in the comments).
BASE = """\
name: tiny
region: eu-west-1
vpc:
  cidr: 10.0.0.0/16
  router: 10.0.0.1
  azs:
    - name: eu-west-1a
      subnets: [10.0.0.0/19]
nodes:
  - {name: node1, ip: 10.0.1.10, az: eu-west-1a}
  - name: node2
    ip: 10.0.2.20
    az: eu-west-1a
pods:
  - {name: client, ip: 10.0.3.1, node: node1}
  - {name: web-1, namespace: web, ip: 10.0.3.2, node: node2, labels: {app: web}}
services:
  - namespace: web
    name: web
    type: LoadBalancer
    cluster_ip: 10.100.0.10
    selector: {app: web}
    ports:
      - {port: 80, target_port: 8080, node_port: 30080}
    load_balancer:
      target_type: instance
      nodes: {eu-west-1a: 10.0.10.5}
client:
  pod: client
  service: web/web
  port: 80
"""
#  1 name   3 vpc   4 cidr   9 nodes   10 node1   11 node2 (12 ip)   14 pods   15 client pod   16 web-1
# 17 services  18 namespace  22 selector  23 ports  24 port 80  25 load_balancer  26 target_type
# 27 nodes  28 client  29 pod  30 service  31 port


def test_the_base_loads() -> None:
    s = scenario.from_dict(scenario.parse(BASE, "t")[0])
    assert (s.name, len(s.nodes), s.client_service.endpoints) == ("tiny", 2, ("web-1",))


CASES = [
    # (id, old text, new text, expected message after "FILE:")
    ("bad-enum", "target_type: instance", "target_type: nodeport",
     "26: services[0].load_balancer.target_type: must be one of instance, ip (got 'nodeport')"),
    ("wrong-type-int", "  port: 80\n", "  port: eighty\n", "31: client.port: must be an integer (got 'eighty')"),
    ("wrong-type-bool", "      target_type: instance", "      target_type: instance\n      cross_zone: yes please",
     "27: services[0].load_balancer.cross_zone: must be true or false (got 'yes please')"),
    ("wrong-type-mapping", "  - {name: client, ip: 10.0.3.1, node: node1}", "  - client",
     "15: pods[0]: must be a mapping (got 'client')"),
    ("port-range", "{port: 80, target_port: 8080", "{port: 80, target_port: 80800",
     "24: services[0].ports[0].target_port: must be an integer from 1 to 65535 (got 80800)"),
    ("unknown-key", "    az: eu-west-1a\n", "    az: eu-west-1a\n    zone: b\n",
     "14: nodes[1].zone: unknown key (known here: az, ip, labels, name, prefix)"),
    ("unknown-top-key", "region: eu-west-1", "region: eu-west-1\ncolour: blue",
     "3: colour: unknown key (known here: client, cni, description, fix, kernel, kube_proxy, name, nodes, pods, "
     "region, services, vpc)"),
    ("bad-address", "    ip: 10.0.2.20", "    ip: 10.0.2.256", "12: nodes[1].ip: must be an IPv4 or IPv6 address such "
     "as 10.0.0.1 or 2600:1f18::1 (got '10.0.2.256')"),
    ("mixed-family", "    ip: 10.0.2.20", "    ip: 2a05:d018::14", "12: nodes[1].ip: 2a05:d018::14 is IPv6 but the "
     "scenario is IPv4 (vpc.cidr 10.0.0.0/16): one address family per scenario (dual-stack is not modelled)"),
    ("bad-cidr", "  cidr: 10.0.0.0/16", "  cidr: 10.0.0.0/33",
     "4: vpc.cidr: must be an IPv4 or IPv6 network such as 10.0.0.0/16 or 2600:1f18::/56 (got '10.0.0.0/33')"),
    ("cidr-host-bits", "subnets: [10.0.0.0/19]", "subnets: [10.0.1.0/19]",
     "8: vpc.azs[0].subnets[0]: 10.0.1.0/19 has host bits set (the network is 10.0.0.0/19)"),
    ("lb-node-address", "{eu-west-1a: 10.0.10.5}", "{eu-west-1a: 10.0.10}",
     "27: services[0].load_balancer.nodes.eu-west-1a: must be an IPv4 or IPv6 address such as 10.0.0.1 or "
     "2600:1f18::1 (got '10.0.10')"),
    ("address-outside-subnets", "    ip: 10.0.2.20", "    ip: 10.0.200.20",
     "12: nodes[1].ip: 10.0.200.20 is in no subnet of the VPC"),
    ("missing-required", "  port: 80\n", "", "28: client.port: required key missing"),
    ("missing-required-in-item", "    ip: 10.0.2.20\n", "", "11: nodes[1].ip: required key missing"),
    ("missing-required-top", "name: tiny\n", "", "1: name: required key missing"),
    ("required-null", "  pod: client\n", "  pod:\n", "29: client.pod: required, got null"),
    ("unknown-node", "ip: 10.0.3.2, node: node2", "ip: 10.0.3.2, node: node7",
     "16: pods[1].node: unknown node 'node7'"),
    ("unknown-pod", "  pod: client", "  pod: cleint", "29: client.pod: unknown pod 'cleint'"),
    ("unknown-service", "service: web/web", "service: web/wbe",
     "30: client.service: unknown service 'web/wbe' (services: web/web)"),
    ("unknown-az", "    az: eu-west-1a\n", "    az: eu-west-1b\n",
     "13: nodes[1].az: unknown AZ 'eu-west-1b' (vpc.azs: eu-west-1a)"),
    ("unknown-endpoint", "    selector: {app: web}", "    endpoints: [web-1, web-2]",
     "22: services[0].endpoints[1]: unknown pod 'web-2'"),
    ("lb-without-nodes", "      nodes: {eu-west-1a: 10.0.10.5}\n", "",
     "25: services[0].load_balancer.nodes: the client calls this load balancer: give its node address in each AZ "
     "(AZ: address)"),
    ("kube-proxy-version", "region: eu-west-1", "region: eu-west-1\nkube_proxy: {mode: ipvs, version: '1.21'}",
     "3: kube_proxy.version: '1.21' is not modelled; use \"1.18\" or \"1.24\" and later"),
    ("kube-proxy-version-unquoted", "region: eu-west-1", "region: eu-west-1\nkube_proxy: {version: 1.30}",
     "3: kube_proxy.version: '1.3' is not modelled; use \"1.18\" or \"1.24\" and later (an unquoted number: YAML "
     "reads 1.30 as 1.3; write the version in quotes, such as \"1.30\")"),
    ("duplicate-key", "  port: 80\n", "  port: 80\n  port: 81\n", "32: client.port: duplicate key (first on line 31)"),
    ("shared-node-address", "    ip: 10.0.2.20", "    ip: 10.0.1.10", "12: nodes[1].ip: 10.0.1.10 is also nodes[0].ip "
     "(node node1): an address belongs to one node, pod, cluster IP or load balancer node"),
    ("shared-pod-address", "ip: 10.0.3.2, node: node2", "ip: 10.0.3.1, node: node2", "16: pods[1].ip: 10.0.3.1 is "
     "also pods[0].ip (pod default/client): an address belongs to one node, pod, cluster IP or load balancer node"),
    ("pod-at-a-subnet-router", "subnets: [10.0.0.0/19]", "subnets: [10.0.0.0/23, 10.0.2.0/24, 10.0.3.0/24, "
     "10.0.10.0/24]", "15: pods[0].ip: 10.0.3.1 is also vpc.azs[0].subnets[2] (the VPC router's address in subnet "
     "10.0.3.0/24): an address belongs to one node, pod, cluster IP or load balancer node"),
    ("cluster-ip-of-a-pod", "cluster_ip: 10.100.0.10", "cluster_ip: 10.0.3.2", "21: services[0].cluster_ip: "
     "10.0.3.2 is also pods[1].ip (pod web/web-1): an address belongs to one node, pod, cluster IP or load balancer "
     "node"),
    ("lb-node-of-a-node", "{eu-west-1a: 10.0.10.5}", "{eu-west-1a: 10.0.1.10}", "27: "
     "services[0].load_balancer.nodes.eu-west-1a: 10.0.1.10 is also nodes[0].ip (node node1): an address belongs to "
     "one node, pod, cluster IP or load balancer node"),
    ("lb-node-outside-subnets", "{eu-west-1a: 10.0.10.5}", "{eu-west-1a: 10.0.200.5}", "27: "
     "services[0].load_balancer.nodes.eu-west-1a: 10.0.200.5 is in no subnet of the VPC: an internal load balancer's "
     "node in eu-west-1a has an address of a subnet there"),
    ("node-port-addresses-in-ipvs", "region: eu-west-1", "region: eu-west-1\nkube_proxy: {mode: ipvs, version: '1.24', "
     "node_port_addresses: [10.0.2.0/24]}", "3: kube_proxy.node_port_addresses: leaves out node node1's address 10.0.1.10: not "
     "modelled in kube-proxy's ipvs mode (iptables and nftables modes)"),
    ("client-address-elsewhere", "  port: 80\n", "  port: 80\n  address: 10.0.10.6\n", "32: client.address: "
     "10.0.10.6 is not a node address of the load balancer of web/web (eu-west-1a: 10.0.10.5): the caller's DNS "
     "answer is one of them"),
    ("yaml-syntax", "    selector: {app: web}", "    selector: {app: web",
     "23: not valid YAML: while parsing a flow mapping, expected ',' or '}', but got ':'"),
    ("yaml-syntax-indent", "  router: 10.0.0.1", "   router: 10.0.0.1", "5: not valid YAML: mapping values are not "
     "allowed here"),
    ("yaml-two-documents", "name: tiny\n", "name: tiny\n---\nname: other\n",
     "2: not valid YAML: expected a single document in the stream, but found another document"),
    ("empty", BASE, "# nothing here yet\n",
     "1: empty: a scenario is a mapping with name, vpc, nodes, pods, services and client"),
    ("not-a-mapping", BASE, "- name: tiny\n", "1: scenario: must be a mapping (got [{'name': 'tiny'}])"),
    # names Kubernetes refuses for their length (pods and nodes: DNS-1123 subdomain, 253; services: DNS-1035 label
    # and namespaces: DNS label, 63): the name itself is not quoted back
    ("node-name-long", "  - name: node2\n", "  - name: " + "n" * 254 + "\n",
     "11: nodes[1].name: 254 characters: the API server refuses a name for a Node longer than 253"),
    ("pod-name-long", "{name: client, ip: 10.0.3.1", "{name: " + "c" * 100_000 + ", ip: 10.0.3.1",
     "15: pods[0].name: 100,000 characters: the API server refuses a name for a Pod longer than 253"),
    ("pod-namespace-long", "namespace: web, ip", "namespace: " + "w" * 64 + ", ip",
     "16: pods[1].namespace: 64 characters: the API server refuses a namespace longer than 63"),
    ("service-name-long", "    name: web\n", "    name: " + "s" * 64 + "\n",
     "19: services[0].name: 64 characters: the API server refuses a name for a Service longer than 63"),
    ("service-namespace-long", "  - namespace: web\n", "  - namespace: " + "w" * 64 + "\n",
     "18: services[0].namespace: 64 characters: the API server refuses a namespace longer than 63"),
]  # fmt: skip


def _write(tmp_path: Path, old: str, new: str) -> Path:
    assert BASE.count(old) == 1, old
    f = tmp_path / "scenario.yaml"
    f.write_text(BASE.replace(old, new))
    return f


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_load_names_file_line_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    f = _write(tmp_path, old, new)
    with pytest.raises(ScenarioError) as e:
        scenario.load(f)
    assert str(e.value) == f"{f}:{expected}"
    assert e.value.file == str(f) and e.value.line == int(expected.split(":")[0])


def test_names_as_long_as_kubernetes_allows_load() -> None:
    doc = scenario.parse(BASE, "t")[0]
    node, pod, ns, svc = "n" * 253, "p" * 253, "w" * 63, "s" * 63
    doc["nodes"][1]["name"] = doc["pods"][1]["node"] = node
    doc["pods"][0]["name"] = doc["client"]["pod"] = pod
    doc["pods"][1]["namespace"] = doc["services"][0]["namespace"] = ns
    doc["services"][0]["name"] = svc
    doc["client"]["service"] = f"{ns}/{svc}"
    s = scenario.from_dict(doc, "t")
    got = (s.nodes[1].name, s.pods[0].name, s.pods[1].namespace, s.services[0].namespace, s.services[0].name)
    assert got == (node, pod, ns, ns, svc)


def test_an_unquoted_kube_proxy_version_that_names_a_layout_is_taken(tmp_path: Path) -> None:
    f = _write(tmp_path, "region: eu-west-1", "region: eu-west-1\nkube_proxy: {version: 1.28}")
    assert scenario.load(f).kube_proxy.version == "1.28"


def test_file_not_found_and_not_text(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as e:
        scenario.load(missing)
    assert str(e.value) == f"{missing}: cannot read: No such file or directory"
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ScenarioError) as e:
        scenario.load(binary)
    assert str(e.value) == f"{binary}:1: not UTF-8 text (byte 6)"
    with pytest.raises(ScenarioError) as e:
        scenario.load(tmp_path)
    assert str(e.value) == f"{tmp_path}: cannot read: Is a directory"


def test_from_dict_without_lines_names_the_key_only() -> None:
    data, _ = scenario.parse(BASE.replace("  port: 80\n", "  port: 0\n"), "t")
    with pytest.raises(ScenarioError) as e:
        scenario.from_dict(data, "t.yaml")
    assert str(e.value) == "t.yaml: client.port: must be an integer from 1 to 65535 (got 0)"


def test_lines_of_every_key_path() -> None:
    _, lines = scenario.parse(BASE, "t")
    assert lines[""] == 1 and lines["vpc.azs[0].subnets[0]"] == 8 and lines["nodes[1]"] == 11
    assert lines["nodes[1].az"] == 13 and lines["services[0].load_balancer.nodes.eu-west-1a"] == 27


def _run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    return int(e.value.code or 0), out.out, out.err


CLI_CASES = [c for c in CASES if c[0] in {"bad-enum", "wrong-type-int", "unknown-key", "bad-address", "bad-cidr",
                                         "missing-required", "unknown-node", "unknown-pod", "unknown-service",
                                         "yaml-syntax", "empty", "shared-node-address", "client-address-elsewhere",
                                         "pod-name-long"}]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "expected"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_reproduce_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: str
) -> None:
    f = _write(tmp_path, old, new)
    out = tmp_path / "out"
    out.mkdir()
    argv = ["reproduce", "--scenario", str(f), "--connections", "5", "--html", str(out / "r.html"),
            "--svg", str(out / "r.svg"), "--pcap", str(out / "r.pcapng")]  # fmt: skip
    code, stdout, stderr = _run_cli(argv, capsys)
    assert code == 2
    assert stderr.splitlines() == [f"hairpin: error: {f}:{expected}"]
    assert stdout == "" and list(out.iterdir()) == []


def test_reproduce_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = _run_cli(["reproduce", "--scenario", str(tmp_path / "nope.yaml")], capsys)
    assert (code, stdout) == (2, "")
    assert stderr.splitlines() == [f"hairpin: error: {tmp_path / 'nope.yaml'}: cannot read: No such file or directory"]


def test_validate_reports_each_bad_file_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(BASE)
    bad = _write(tmp_path, "  pod: client", "  pod: cleint")
    code, stdout, stderr = _run_cli(["scenario", "validate", str(good), str(bad)], capsys)
    assert code == 2
    assert stdout == f"{good}: ok (tiny: 2 nodes, 2 pods, 1 services)\n"
    assert stderr.splitlines() == [f"hairpin: error: {bad}:29: client.pod: unknown pod 'cleint'"]


def test_real_process_has_no_traceback(tmp_path: Path) -> None:
    f = _write(tmp_path, "target_type: instance", "target_type: nodeport")
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "reproduce", "--scenario", str(f)],
                       capture_output=True, text=True, check=False)  # fmt: skip
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [
        f"hairpin: error: {f}:26: services[0].load_balancer.target_type: must be one of instance, ip (got 'nodeport')"
    ]
