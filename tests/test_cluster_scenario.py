"""A hairpin Scenario from Kubernetes objects (hairpin.kube.from_cluster) and `hairpin scenario from-cluster`."""

from __future__ import annotations

import ipaddress
import random
import subprocess
import sys
from dataclasses import replace
from fractions import Fraction as F
from pathlib import Path

import pytest
import yaml

from hairpin import scenario
from hairpin.aws import risk
from hairpin.cli.main import main
from hairpin.errors import InputError
from hairpin.kube.cluster import Cluster
from hairpin.kube.from_cluster import scenario_from_objects, scenario_yaml
from hairpin.parsers import manifests as m

DATA = Path(__file__).parent / "data" / "check"
SVC = "nginx-demo/service-nginx-demo"


@pytest.fixture(scope="module")
def objects() -> list[m.KubeObject]:
    return m.load_paths([DATA / "seed-dump.yaml"])


def test_seed_dump_becomes_the_seed(objects: list[m.KubeObject], tmp_path: Path) -> None:
    s, notes = scenario_from_objects(objects, service=SVC, client="default/netshoot")
    assert [(n.name, n.ip, n.az) for n in s.nodes] == [
        ("node1", "192.168.2.3", "eu-west-1a"), ("node2", "192.168.21.86", "eu-west-1a"), ("node3", "192.168.44.17", "eu-west-1b")]  # fmt: skip
    assert {p.name: (p.ip, p.node) for p in s.pods} == {
        "netshoot": ("192.168.27.239", "node1"), "nginx-demo-1": ("192.168.16.142", "node1"),
        "nginx-demo-2": ("192.168.39.2", "node3"), "nginx-demo-3": ("192.168.49.70", "node3")}  # fmt: skip
    svc = s.client_service
    assert (svc.cluster_ip, svc.ports[0].target_port, svc.ports[0].node_port) == ("10.100.235.20", 80, 31468)
    assert svc.endpoints == ("nginx-demo-1", "nginx-demo-2", "nginx-demo-3")
    lb = svc.load_balancer
    assert lb is not None
    assert (lb.type, lb.scheme, lb.target_type, lb.preserve_client_ip, lb.cross_zone) == (
        "nlb",
        "internal",
        "instance",
        True,
        False,
    )
    assert (s.region, s.kube_proxy.version, s.client.pod, s.client.via) == (
        "eu-west-1",
        "1.18",
        "netshoot",
        "load-balancer",
    )
    # placeholders: one NLB address per AZ, inside that AZ's subnets
    for az, addr in lb.nodes:
        assert s.vpc.az_of(addr) == az
    assert any("placeholders" in n for n in notes)
    # the file loads back to the same scenario, with the notes as comments
    path = tmp_path / "s.yaml"
    text = scenario_yaml(s, notes)
    path.write_text(text)
    assert scenario.load(path) == s
    assert text.startswith("# ") and "# - NLB node addresses are not in Kubernetes objects" in text
    # and the same risk as the seed
    assert risk.timeout_fraction(s) == F(1, 4)
    assert risk.timeout_fraction(s, address=lb.node_in("eu-west-1a")) == F(1, 2)
    assert risk.timeout_fraction(replace(s, client=replace(s.client, address=lb.node_in("eu-west-1a")))) == F(1, 2)


def test_placeholder_client(objects: list[m.KubeObject]) -> None:
    s, notes = scenario_from_objects(Cluster.from_objects(objects), service=SVC)
    assert s.client.pod == "hairpin-client"
    assert s.client_pod.node == "node1"
    assert s.vpc.az_of(s.client_pod.ip) == "eu-west-1a"
    assert any("placeholder client pod" in n for n in notes)


@pytest.mark.parametrize(
    ("service", "client", "message"),
    [
        ("nginx-demo/nope", None, "--service nginx-demo/nope: no such Service in the input"),
        (SVC, "default/ghost", "--client-pod default/ghost: no such Pod in the input"),
    ],
)
def test_bad_names(objects: list[m.KubeObject], service: str, client: str | None, message: str) -> None:
    with pytest.raises(InputError) as exc:
        scenario_from_objects(objects, service=service, client=client)
    assert exc.value.message == message


def test_no_nodes_is_an_error(objects: list[m.KubeObject]) -> None:
    with pytest.raises(InputError, match="no Node"):
        scenario_from_objects([o for o in objects if o.kind != "Node"], service=SVC)


def test_cli_from_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seed.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(DATA / "seed-dump.yaml"), "--service", SVC,
              "--client-pod", "default/netshoot", "-o", str(out)])  # fmt: skip
    assert exc.value.code in (0, None)
    s = scenario.load(out)
    assert s.client.pod == "netshoot" and s.client_service.key == SVC
    assert yaml.safe_load(out.read_text())["client"]["service"] == SVC
    bad = tmp_path / "bad.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(DATA / "broken.yaml"), "--service", SVC, "-o", str(bad)])
    assert exc.value.code == 2
    assert not bad.exists()
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith(f"hairpin: error: {DATA / 'broken.yaml'}:5: not valid YAML")


def _proxy_config_map(name: str, key: str, mode: str | None) -> m.KubeObject:
    conf = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: \"\"\n"
    if mode is not None:
        conf += f"mode: \"{mode}\"\n"
    data = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "kube-system"},
            "data": {key: conf}}  # fmt: skip
    return m.KubeObject("ConfigMap", data, None, None)


@pytest.mark.parametrize(
    ("cm", "mode", "note"),
    [
        (None, "iptables", "kube-proxy mode unknown (no kube-proxy ConfigMap in the input): iptables assumed"),
        (("kube-proxy-config", "config", "ipvs"), "ipvs",
         "kube-proxy ConfigMap kube-system/kube-proxy-config (config): mode ipvs"),
        (("kube-proxy", "config.conf", "nftables"), "nftables",
         "kube-proxy ConfigMap kube-system/kube-proxy (config.conf): mode nftables"),
        (("kube-proxy-config", "config", ""), "iptables",
         "kube-proxy ConfigMap kube-system/kube-proxy-config (config): mode (empty)"),
        (("kube-proxy-config", "config", "kernelspace"), "iptables",
         "kube-proxy mode 'kernelspace' is not modelled (ConfigMap kube-system/kube-proxy-config (config): "
         "mode kernelspace): iptables assumed"),
        (("coredns", "config", "ipvs"), "iptables",
         "kube-proxy mode unknown (no kube-proxy ConfigMap in the input): iptables assumed"),
    ],
)
def test_kube_proxy_mode_from_its_config_map(
    objects: list[m.KubeObject], cm: tuple[str, str, str] | None, mode: str, note: str
) -> None:
    extra = [_proxy_config_map(*cm)] if cm else []
    s, notes = scenario_from_objects([*objects, *extra], service=SVC, client="default/netshoot")
    assert s.kube_proxy.mode == mode
    assert note in notes


def _dump_with_zone(tmp_path: Path, zone: str) -> Path:
    """The seed dump with ``zone`` for the value of the nodes' zone labels that say eu-west-1a."""
    doc = yaml.safe_load((DATA / "seed-dump.yaml").read_text())
    for item in doc["items"]:
        labels = item["metadata"].get("labels", {})
        for key in [k for k in labels if k.endswith("/zone") and labels[k] == "eu-west-1a"]:
            labels[key] = zone
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump(doc))
    return dump


def test_text_from_the_objects_stays_in_its_comment_line(tmp_path: Path) -> None:
    """A zone label holding line breaks (LF, and LS, which PyYAML also breaks lines at) and ESC: the header comment
    shows them escaped, one line per note, and the file loads back to the scenario built (before, the text after the
    break was a line of data: a second ``name`` key that YAML took silently)."""
    zone = "eu-west-1a\n# x: y\nname: evil\u2028z: 1\x1b"
    dump = _dump_with_zone(tmp_path, zone)
    s, notes = scenario_from_objects(m.load_paths([dump]), service=SVC, client="default/netshoot")
    assert s.vpc.azs[0].name == zone
    text = scenario_yaml(s, notes)
    head = text.split("\nname: ")[0].split("\n")
    assert all(line.startswith("# ") for line in head) and len(head) == len(notes) + 1
    assert head[1] == ("# - NLB node addresses are not in Kubernetes objects: eu-west-1a\\n# x: y\\nname: "
                       "evil\\u2028z: 1\\x1b 192.168.0.4, eu-west-1b 192.168.0.20 are placeholders in placeholder "
                       "subnets (one /28 per AZ); replace them with the addresses `dig +short <load balancer DNS "
                       "name>` returns")  # fmt: skip
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert scenario.load(path) == s


def test_a_label_value_no_cluster_holds_is_left_out_with_a_note(tmp_path: Path) -> None:
    """A label value the API server refuses (a space) read from a hand-made dump: not a label of the scenario (whose
    loader refuses it too), said in a note, and the file written loads back to the scenario built."""
    dump = _dump_with_zone(tmp_path, "eu-west-1a b")
    s, notes = scenario_from_objects(m.load_paths([dump]), service=SVC, client="default/netshoot")
    assert [n for n in notes if n.startswith("labels left out")] == [
        "labels left out, their values being ones the API server refuses (no cluster holds them; the scenario file "
        "refuses them too): node node1 topology.kubernetes.io/zone='eu-west-1a b', node node2 "
        "topology.kubernetes.io/zone='eu-west-1a b'"]  # fmt: skip
    assert s.node("node1").labels == (("kubernetes.io/hostname", "node1"), ("topology.kubernetes.io/region", "eu-west-1"))
    assert s.node("node1").az == "eu-west-1a b"
    path = tmp_path / "s.yaml"
    path.write_text(scenario_yaml(s, notes))
    assert scenario.load(path) == s


def test_a_selector_value_no_cluster_holds_is_refused(tmp_path: Path) -> None:
    doc = yaml.safe_load((DATA / "seed-dump.yaml").read_text())
    for item in doc["items"]:
        if item["kind"] == "Service" and item["metadata"]["name"] == "service-nginx-demo":
            item["spec"]["selector"] = {"app": "nginx "}
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as e:
        scenario_from_objects(m.load_paths([dump]), service=SVC, client="default/netshoot")
    assert str(e.value) == (f"Service {SVC}: spec.selector: app='nginx ': not a value a label can have (the API server "
                            "refuses it on any object), so it selects nothing; a scenario refuses it too")  # fmt: skip


_ROUTER = ("192.168.0.1 is the VPC router's address in 192.168.0.0/16 (the VPC range guessed from the input); AWS "
           "reserves it in any subnet holding it, so this is no VPC address (hybrid node? overlay pod?), not modelled: "
           "leave the object out or write the scenario by hand")  # fmt: skip


@pytest.mark.parametrize(("old", "holder"), [
    ("podIP: 192.168.16.142", "Pod nginx-demo/nginx-demo-1: status.podIP"),
    ("address: 192.168.2.3}", "Node node1: InternalIP"),
])  # fmt: skip
def test_an_address_at_the_guessed_vpc_router_is_one_line_naming_its_object(tmp_path: Path, old: str,
                                                                              holder: str) -> None:  # fmt: skip
    dump = tmp_path / "dump.yaml"
    text = (DATA / "seed-dump.yaml").read_text()
    assert text.count(old) == 1
    dump.write_text(text.replace(old, old.replace(old.split(" ")[1].rstrip("}"), "192.168.0.1")))
    out = tmp_path / "s.yaml"
    r = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "scenario", "from-cluster", str(dump), "--service",
                        SVC, "--client-pod", "default/netshoot", "-o", str(out)], capture_output=True, text=True)  # fmt: skip
    assert (r.returncode, r.stdout, out.exists()) == (2, "", False)
    assert r.stderr == f"hairpin: error: {dump}: {holder} {_ROUTER}\n"


def test_guessed_subnets_keep_their_router_addresses_off_the_addresses_read(tmp_path: Path) -> None:
    """A pod at 192.168.16.1 (a real subnet's host, a /19's) is the second address of every guessed subnet from the
    /24 to the /20 holding it, which a scenario gives to the VPC router: the subnets are the /19s instead (the
    seed's real ones), with the placeholder /28s after them, and the file loads back (before, the /24 put the pod
    at its router's address, and the loader now refuses that)."""
    dump = tmp_path / "dump.yaml"
    dump.write_text((DATA / "seed-dump.yaml").read_text().replace("podIP: 192.168.16.142", "podIP: 192.168.16.1"))
    s, notes = scenario_from_objects(m.load_paths([dump]), service=SVC, client="default/netshoot")
    assert [az.subnets for az in s.vpc.azs] == [("192.168.0.0/19", "192.168.64.0/28"),
                                                ("192.168.32.0/19", "192.168.64.16/28")]  # fmt: skip
    assert s.vpc.router == "192.168.0.1" and s.vpc.cidr == "192.168.0.0/16"
    path = tmp_path / "s.yaml"
    path.write_text(scenario_yaml(s, notes))
    assert scenario.load(path) == s


def test_guessed_subnets_of_a_dense_cluster_are_its_real_ones() -> None:
    """1,700 nodes in each of three /19s (an eksctl-style VPC), many at a /24's, /23's... second address, one at
    the second address of the /19's upper /20: the first prefix that puts none there is the /19, whose second
    address is the real VPC router's."""
    from hairpin.kube.from_cluster import _subnets

    rng = random.Random(7)
    azs = {az: sorted({str(ipaddress.IPv4Address(f"192.168.{base}.0") + rng.randrange(4, 8192)) for _ in range(1700)}
                      | {f"192.168.{base + 16}.1"})
           for az, base in (("a", 96), ("b", 128), ("c", 160))}  # fmt: skip
    assert sum(a.endswith(".1") for addrs in azs.values() for a in addrs) > 3
    assert _subnets(azs) == {"a": ["192.168.96.0/19"], "b": ["192.168.128.0/19"], "c": ["192.168.160.0/19"]}


def test_guessed_subnets_leave_room_for_the_placeholder_addresses() -> None:
    """Two AZs, each with an address at the second address of every network from the /18 to the /32 holding it
    (10.0.64.1 and, for the /32 10.0.64.1/32, 10.0.64.2), not of the /17: but the two /17s fill their /16 and
    leave no /28 for the placeholder NLB addresses, so the first prefix with room is kept (the /24; the loader
    then names the address at its router's)."""
    from hairpin.kube.from_cluster import _subnets

    azs = {"a": ["10.0.64.1", "10.0.64.2"], "b": ["10.0.192.1", "10.0.192.2"]}
    assert _subnets(azs) == {"a": ["10.0.64.0/24"], "b": ["10.0.192.0/24"]}
    azs["b"] = ["10.1.0.9"]  # in the next /16: the range is their /15, and the /17s leave room in it
    assert _subnets(azs) == {"a": ["10.0.0.0/17"], "b": ["10.1.0.0/17"]}


def test_a_cluster_ip_at_the_guessed_vpc_router_is_one_line(tmp_path: Path) -> None:
    doc = yaml.safe_load((DATA / "seed-dump.yaml").read_text())
    [svc] = [i for i in doc["items"] if i["kind"] == "Service" and i["metadata"]["name"] == "service-nginx-demo"]
    svc["spec"]["clusterIP"] = "192.168.0.1"
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as e:
        scenario_from_objects(m.load_paths([dump]), service=SVC, client="default/netshoot")
    assert str(e.value) == (f"Service {SVC}: spec.clusterIP 192.168.0.1 is the VPC router's address in "
                            "192.168.0.0/16 (the VPC range guessed from the input); a cluster IP range overlapping the "
                            "VPC's is not modelled: write the scenario by hand")  # fmt: skip


def test_the_table_on_stderr_shows_control_and_bidi_characters(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The per-node table from-cluster prints names its AZs after the zone labels read: ESC and RIGHT-TO-LEFT
    OVERRIDE there are shown as every terminal report shows them (they reached the terminal raw before)."""
    dump = _dump_with_zone(tmp_path, "eu-west-1a\x1b[31m\u202e")
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(dump), "--service", SVC, "--client-pod", "default/netshoot", "-o",
              str(tmp_path / "s.yaml")])  # fmt: skip
    err = capsys.readouterr().err
    assert exc.value.code in (0, None)
    assert "\x1b" not in err and "\u202e" not in err
    assert "│ node1 *     │ eu-west-1a\\x1b[31m\\u202e │" in err


def _pod(name: str, namespace: str | None, ip: str, phase: str = "Running") -> m.KubeObject:
    meta = {"name": name, **({"namespace": namespace} if namespace is not None else {})}
    return m.KubeObject("Pod", {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"nodeName": "node1"},
                                "status": {"phase": phase, "podIP": ip}}, None, None)  # fmt: skip


def test_one_pod_looked_up_is_the_one_pods_keeps() -> None:
    """``Cluster.pod`` (from-cluster's endpoints and client, without making every KPod): of the pods of one key, the
    last one still running or pending, as ``Cluster.pods`` keeps; a finished one after it does not hide it."""
    objs = [_pod("a", "ns", "10.0.0.4"), _pod("a", "ns", "10.0.0.5"), _pod("b", None, "10.0.0.6"),
            _pod("c", "ns", "10.0.0.7"), _pod("c", "ns", "10.0.0.8", "Succeeded"), _pod("d", "ns", "10.0.0.9", "Failed")]  # fmt: skip
    lookups = [("ns", "a"), ("default", "b"), ("ns", "c"), ("ns", "d"), ("ns", "b"), ("default", "a")]
    c = Cluster.from_objects(objs)
    got = {k: c.pod(*k) for k in lookups}
    assert {k: p.ip if p is not None else None for k, p in got.items()} == {
        ("ns", "a"): "10.0.0.5", ("default", "b"): "10.0.0.6", ("ns", "c"): "10.0.0.7", ("ns", "d"): None,
        ("ns", "b"): None, ("default", "a"): None}  # fmt: skip
    assert all(c.pod(*k) is got[k] for k in lookups)  # made once
    assert {k: c.pods.get(k) for k in lookups} == got  # the KPods every Pod made gives
    assert c.pod("ns", "a") is c.pods[("ns", "a")]  # once they are made, theirs
