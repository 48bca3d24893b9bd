"""`hairpin sweep`: grid expansion, point scenarios, determinism across workers, formula agreement, outputs,
bad grids."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hairpin import sweep
from hairpin.errors import InputError
from hairpin.scenario import seed


def test_grid_expands_in_order() -> None:
    g = sweep.Grid.parse(["nodes=1,2", "cross_zone=false,true", "preserve_client_ip=default,false"])
    pts = g.points()
    assert len(pts) == 8
    assert pts[0] == {"nodes": 1, "cross_zone": False, "preserve_client_ip": None}
    assert pts[-1] == {"nodes": 2, "cross_zone": True, "preserve_client_ip": False}


def test_point_scenario_applies_each_setting() -> None:
    s = sweep.point_scenario(seed(), {"nodes": 3, "azs": 3, "cross_zone": True, "target_type": "ip",
                                      "preserve_client_ip": True, "traffic_policy": "Local"})  # fmt: skip
    lb = s.client_service.load_balancer
    assert lb is not None and (lb.target_type, lb.preserve_client_ip, lb.cross_zone) == ("ip", True, True)
    assert len(s.vpc.azs) == 3 and len(s.nodes) == 9 and s.client_service.external_traffic_policy == "Local"
    assert s.client_pod.node == "node1"  # the caller stays where it is


def test_kube_proxy_mode_is_a_grid_key_and_does_not_change_the_rate() -> None:
    g = sweep.Grid.parse(["mode=iptables,nftables,ipvs", "nodes=2,3"])
    s = sweep.point_scenario(seed(), {"mode": "ipvs", "nodes": 3})
    assert (s.kube_proxy.mode, s.name) == ("ipvs", "seed[mode=ipvs,nodes=3]")
    results = sweep.run(seed(), g, connections=300, seed=1, workers=2)
    assert [(r.point["mode"], r.point["nodes"], r.expected) for r in results][::2] == [
        ("iptables", 2, 0.5), ("nftables", 2, 0.5), ("ipvs", 2, 0.5)]  # fmt: skip
    assert all(r.agrees for r in results), [r.to_json() for r in results if not r.agrees]


def test_results_do_not_depend_on_the_worker_count() -> None:
    g = sweep.Grid.parse(["nodes=1,2,3"])
    one = sweep.run(seed(), g, connections=60, seed=4, workers=1)
    two = sweep.run(seed(), g, connections=60, seed=4, workers=2)
    assert [(r.point, r.timeouts) for r in one] == [(r.point, r.timeouts) for r in two]


def test_every_point_agrees_with_the_closed_form() -> None:
    g = sweep.Grid.parse(["nodes=1,2,4", "cross_zone=false,true", "target_type=instance,ip"])
    results = sweep.run(seed(), g, connections=400, seed=1, workers=2)
    exp = {(r.point["nodes"], r.point["cross_zone"], r.point["target_type"]): r.expected for r in results}
    assert exp[(1, False, "instance")] == 1.0 and exp[(2, False, "instance")] == 0.5
    assert exp[(2, True, "instance")] == 0.25 and exp[(4, True, "instance")] == 0.125
    assert all(v == 0.0 for k, v in exp.items() if k[2] == "ip")  # preservation off by default for ip targets
    assert all(r.agrees for r in results), [r.to_json() for r in results if not r.agrees]


@pytest.mark.parametrize(("spec", "message"), [
    ("nodez=1,2", "unknown key 'nodez'"),
    ("nodes=0", "'0' is not a whole number from 1 to 64"),
    ("cross_zone=maybe", "'maybe' is not true or false"),
    ("traffic_policy=local", "'local' is not Cluster or Local"),
    ("mode=userspace", "'userspace' is not iptables, nftables or ipvs"),
    ("nodes", "expected KEY=V1,V2,..."),
])  # fmt: skip
def test_bad_grids(spec: str, message: str) -> None:
    with pytest.raises(InputError) as e:
        sweep.Grid.parse([spec])
    assert message in str(e.value)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "sweep", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_cli_json_csv_svg(tmp_path: Path) -> None:
    res = cli("--grid", "nodes=1,2", "--grid", "cross_zone=false,true", "--connections", "200", "--workers", "1",
              "--format", "json", "--svg", str(tmp_path / "s.svg"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [(p["nodes"], p["cross_zone"], p["expected"]) for p in doc["points"]] == [
        (1, False, 1.0), (1, True, 0.5), (2, False, 0.5), (2, True, 0.25)]  # fmt: skip
    assert (tmp_path / "s.svg").read_text().startswith("<svg")
    res = cli("--grid", "nodes=2", "--connections", "100", "--workers", "1", "--format", "csv")
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == ["nodes", "connections", "timeouts", "rate", "expected", "agrees", "not_hairpin"]
    assert rows[1][0] == "2" and rows[1][-1] == "0"


def test_cli_bad_grid_is_one_line_exit_2() -> None:
    res = cli("--grid", "nodes=1,x")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.strip() == "hairpin: error: --grid nodes: 'x' is not a whole number from 1 to 64"


FULL_VPC = """\
name: fullvpc
region: eu-west-1
vpc:
  cidr: 10.0.0.0/23
  router: 10.0.0.1
  azs:
    - {name: eu-west-1a, subnets: [10.0.0.0/24]}
    - {name: eu-west-1b, subnets: [10.0.1.0/24]}
nodes:
  - {name: node1, ip: 10.0.0.10, az: eu-west-1a}
  - {name: node2, ip: 10.0.0.11, az: eu-west-1a}
  - {name: node3, ip: 10.0.1.10, az: eu-west-1b}
pods:
  - {name: client, ip: 10.0.0.100, node: node1}
  - {name: web-1, ip: 10.0.0.101, node: node1, labels: {app: web}}
  - {name: web-2, ip: 10.0.1.101, node: node3, labels: {app: web}}
services:
  - name: web
    type: LoadBalancer
    cluster_ip: 10.100.0.10
    selector: {app: web}
    ports: [{protocol: TCP, port: 80, target_port: 80, node_port: 30080}]
    endpoints: [web-1, web-2]
    load_balancer:
      nodes: {eu-west-1a: 10.0.0.200, eu-west-1b: 10.0.1.200}
client: {pod: client, service: default/web, port: 80, address: 10.0.0.200}
"""


def test_cli_a_shape_the_vpc_has_no_room_for_is_one_line_exit_2(tmp_path: Path) -> None:
    # the seed's 192.168.0.0/16 holds eight /19s, four of them the seed's subnets: at most 6 AZs
    res = cli("--grid", "azs=6,7", "--workers", "1", "--connections", "10")
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == ("hairpin: error: --grid azs=7: 7 AZs need 5 more /19 subnet(s) than the scenario's AZs; "
                          "the VPC 192.168.0.0/16 has 4 free: at most 6 AZs\n")  # fmt: skip
    ipv6 = str(Path(__file__).parent.parent / "examples" / "seed-ipv6.yaml")  # a /56: room, but 26 AZ letters
    res = cli("--scenario", ipv6, "--grid", "azs=27", "--workers", "1", "--connections", "10")
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == ("hairpin: error: --grid azs=27: 27 AZs: AZ names are the region's name and a letter, "
                          "a to z (at most 26)\n")  # fmt: skip
    small = tmp_path / "small.yaml"  # a /27 per AZ: addresses .10 to .30 for nodes, the pods take 2 of them
    small.write_text(FULL_VPC.replace("10.0.0.0/23", "10.0.0.0/16").replace(".0/24", ".0/27").replace(".100", ".20")
                     .replace(".101", ".21").replace(".200", ".25"))  # fmt: skip
    res = cli("--scenario", str(small), "--grid", "nodes=2,30", "--workers", "1", "--connections", "10")
    assert (res.returncode, res.stdout) == (2, "")
    assert res.stderr == ("hairpin: error: --grid nodes=30: 30 nodes per AZ: no free address left in subnet "
                          "10.0.0.0/27 of eu-west-1a\n")  # fmt: skip
