"""``hairpin check`` on clusters whose Services are not kube-proxy's (hairpin.kube.datapath): Cilium's kube-proxy
replacement, Calico's eBPF dataplane, no kube-proxy; Cilium beside kube-proxy; plain EKS and filtered dumps, where
nothing is said.  Text lines, the JSON ``datapath`` field, SARIF and exit codes, through the CLI.

The dump: three nodes (two in eu-west-1a, one in eu-west-1b) and an internal in-tree NLB with instance targets
(at risk, P = 1/2 on node3), plus the system pods and ConfigMaps each case adds.
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
from hairpin.kube.datapath import Seen, assess, kpr_state
from test_check import CONTRACT, _Api, api  # noqa: F401  (api: the live API stub fixture)

P = "service.beta.kubernetes.io/"
NLB = {P + "aws-load-balancer-type": "nlb", P + "aws-load-balancer-internal": "true"}
CILIUM_IMAGE = "quay.io/cilium/cilium:v1.16.5@sha256:758ca0793f5995bb938a2fa219dcce63dc0b3fa7345f7ce6e9d1a6b0c4ed1e7b"
KUBE_PROXY_IMAGE = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy:v1.31.2-minimal-eksbuild.3"
NOT_MODELLED = "which hairpin does not model; the verdicts below assume kube-proxy's NAT"
BASE_FIRST = ("hairpin check: 1 of 1 Service(s) with a load balancer can time out their in-cluster callers, up to "
              "50.0% of connections (shop/svc); fixes below")  # fmt: skip


def node(name: str, az: str, ip: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"n-{name}", "labels": {"topology.kubernetes.io/zone": az}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                       "nodeInfo": {"kubeletVersion": "v1.31.2", "kubeProxyVersion": "v1.31.2"}}}  # fmt: skip


def service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "svc", "namespace": "shop", "uid": "s-1", "annotations": NLB},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                     "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}]}}  # fmt: skip


def sys_pod(name: str, app: str | None, image: str, ns: str = "kube-system", ctr: str = "main",
            env: dict[str, str] | None = None, args: list[str] | None = None, phase: str = "Running") -> dict[str, Any]:  # fmt: skip
    c: dict[str, Any] = {"name": ctr, "image": image}
    if env:
        c["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if args:
        c["args"] = args
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": f"p-{ns}-{name}", "labels": {"k8s-app": app} if app else {}},
            "spec": {"nodeName": "node1", "hostNetwork": True, "containers": [c]},
            "status": {"phase": phase, "podIP": "10.0.1.10"}}  # fmt: skip


def config_map(name: str, data: dict[str, str], ns: str = "kube-system") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}


NODES = [node("node1", "eu-west-1a", "10.0.1.10"), node("node2", "eu-west-1a", "10.0.1.20"),
         node("node3", "eu-west-1b", "10.0.2.30")]  # fmt: skip
COREDNS = sys_pod("coredns-1", "kube-dns", "coredns/coredns:1.11.3", ctr="coredns")
CILIUM = [sys_pod(f"cilium-{x}", "cilium", CILIUM_IMAGE, ctr="cilium-agent",
                  args=["--config-dir=/tmp/cilium/config-map"]) for x in "ab"]  # fmt: skip
KUBE_PROXY = [sys_pod(f"kube-proxy-{x}", "kube-proxy", KUBE_PROXY_IMAGE, ctr="kube-proxy") for x in "ab"]
AWS_NODE = [sys_pod(f"aws-node-{x}", "aws-node", "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.19.0",
                    ctr="aws-node") for x in "ab"]  # fmt: skip
PROXY_CONFIG = config_map("kube-proxy-config", {"config": "kind: KubeProxyConfiguration\nmode: iptables\n"})


def _check(tmp_path: Path, items: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
           fmt: str = "text") -> tuple[int, str]:  # fmt: skip
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*NODES, service(), *items]}))
    with pytest.raises(SystemExit) as exc:
        main(["check", str(dump), "--format", fmt])
    out, err = capsys.readouterr()
    assert err == ""
    return int(exc.value.code or 0), out


def _all(
    tmp_path: Path, items: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str], Any, Any]:
    """Exit code, text lines, JSON datapath, SARIF run of one dump; the exit code is the same in every format."""
    code, text = _check(tmp_path, items, capsys)
    jcode, js = _check(tmp_path, items, capsys, "json")
    scode, sarif = _check(tmp_path, items, capsys, "sarif")
    assert code == jcode == scode
    doc = json.loads(js)
    jsonschema.validate(doc, CONTRACT)
    (run,) = json.loads(sarif)["runs"]
    assert run["properties"]["datapath"] == doc["datapath"]
    return code, text.splitlines(), doc["datapath"], run


def _unmodelled(lines: list[str], short: str, line: str) -> None:
    assert lines[0] == (f"hairpin check: verdicts not modelled for this cluster's datapath ({short}: see below); under "
                        f"kube-proxy's NAT, {BASE_FIRST.removeprefix('hairpin check: ')}")  # fmt: skip
    assert lines[1] == line
    assert [ln for ln in lines if ln.startswith(("warning: ", "note: "))] == [line]
    # the simulator models kube-proxy's NAT too: the next step is a capture, which shows it whatever the datapath
    assert lines[-1] == ("Next: see whether it happens on this datapath: on a caller's node, tcpdump -i any -n -w "
                         "node.pcap tcp while its pods call the Service, then hairpin pcap node.pcap")  # fmt: skip


def _notification(run: Any, level: str, message: str) -> None:
    (inv,) = run["invocations"]
    assert inv["toolExecutionNotifications"] == [
        {"level": level, "message": {"text": message}, "descriptor": {"id": "datapath"}}
    ]
    assert inv["executionSuccessful"] is True


def test_cilium_kube_proxy_replacement_from_its_config_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cm = config_map("cilium-config", {"kube-proxy-replacement": "true", "enable-ipv4": "true"})
    code, lines, dp, run = _all(tmp_path, [COREDNS, *CILIUM, cm], capsys)
    msg = (
        "this cluster runs Cilium with kube-proxy replacement (ConfigMap kube-system/cilium-config "
        f"kube-proxy-replacement: true; no kube-proxy pods): its eBPF datapath translates Services, {NOT_MODELLED}"
    )
    assert code == 1  # a Service at risk under kube-proxy's NAT: the exit code keeps its meaning
    _unmodelled(lines, "Cilium's kube-proxy replacement", "warning: " + msg)
    assert dp == {
        "kind": "cilium-kube-proxy-replacement",
        "modelled": False,
        "message": msg,
        "seen": ["ConfigMap kube-system/cilium-config kube-proxy-replacement: true", "no kube-proxy pods"],
    }
    _notification(run, "warning", msg)


def test_cilium_agents_without_kube_proxy_pods(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, dp, _ = _all(tmp_path, [COREDNS, *CILIUM], capsys)
    msg = ("this cluster runs Cilium and no kube-proxy (2 Cilium agent pods; no kube-proxy-replacement setting in the "
           "input; no kube-proxy pods): Cilium's eBPF datapath then translates Services (kube-proxy replacement), "
           f"{NOT_MODELLED}")  # fmt: skip
    assert code == 1
    _unmodelled(lines, "Cilium without kube-proxy", "warning: " + msg)
    assert (dp["kind"], dp["modelled"], dp["message"]) == ("cilium-kube-proxy-replacement", False, msg)


def test_cilium_agent_flag_wins_over_its_config_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    agent = sys_pod("cilium-c", "cilium", CILIUM_IMAGE, ctr="cilium-agent",
                    args=["--config-dir=/tmp/cilium/config-map", "--kube-proxy-replacement", "strict"])  # fmt: skip
    cm = config_map("cilium-config", {"kube-proxy-replacement": "false"})
    _, lines, dp, _ = _all(tmp_path, [COREDNS, agent, *KUBE_PROXY, cm], capsys)
    assert dp["seen"] == ["--kube-proxy-replacement=strict on cilium-agent in pod kube-system/cilium-c",
                          "2 kube-proxy pods"]  # fmt: skip
    assert lines[1] == ("warning: this cluster runs Cilium with kube-proxy replacement (--kube-proxy-replacement=strict "
                        "on cilium-agent in pod kube-system/cilium-c; 2 kube-proxy pods): its eBPF datapath translates "
                        f"Services, {NOT_MODELLED}")  # fmt: skip


def test_calico_ebpf_from_felix_env(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calico = [sys_pod(f"calico-node-{x}", "calico-node", "quay.io/calico/node:v3.29.1", ns="calico-system",
                      ctr="calico-node", env={"FELIX_BPFENABLED": "True", "FELIX_HEALTHENABLED": "true"})
              for x in "ab"]  # fmt: skip
    code, lines, dp, run = _all(tmp_path, [COREDNS, *calico, *KUBE_PROXY], capsys)
    msg = (
        "this cluster runs Calico's eBPF dataplane (FELIX_BPFENABLED=True on calico-node in pod "
        "calico-system/calico-node-a; 2 kube-proxy pods): Felix's BPF programs translate Services, " + NOT_MODELLED
    )
    assert code == 1
    _unmodelled(lines, "Calico's eBPF dataplane", "warning: " + msg)
    assert (dp["kind"], dp["modelled"]) == ("calico-ebpf", False)
    _notification(run, "warning", msg)


def test_calico_iptables_beside_kube_proxy_says_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calico = sys_pod("calico-node-a", "calico-node", "quay.io/calico/node:v3.29.1", ns="calico-system",
                     ctr="calico-node", env={"FELIX_BPFENABLED": "false"})  # fmt: skip
    code, lines, dp, _ = _all(tmp_path, [COREDNS, calico, *KUBE_PROXY], capsys)
    assert (code, lines[0], dp) == (1, BASE_FIRST, None)


def test_cilium_beside_kube_proxy_is_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CNI chaining on EKS: Cilium's agents with aws-node and kube-proxy; the first line is unchanged."""
    code, lines, dp, run = _all(tmp_path, [COREDNS, *CILIUM, *AWS_NODE, *KUBE_PROXY], capsys)
    msg = (
        "Cilium runs beside kube-proxy (2 Cilium agent pods; 2 kube-proxy pods): its eBPF programs on the nodes' "
        "devices may route packets past netfilter; the verdicts below assume kube-proxy's NAT"
    )
    assert code == 1
    assert lines[:2] == [BASE_FIRST, "note: " + msg]
    assert (dp["kind"], dp["modelled"], dp["message"]) == ("ebpf-beside-kube-proxy", True, msg)
    _notification(run, "note", msg)


def test_no_kube_proxy_behind_aws_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, dp, _ = _all(tmp_path, [COREDNS, *AWS_NODE], capsys)
    msg = ("this cluster shows no kube-proxy (2 aws-node pods; no kube-proxy pods among kube-system's 3; no kube-proxy "
           f"ConfigMap): something else translates its Services, {NOT_MODELLED}")  # fmt: skip
    assert code == 1
    _unmodelled(lines, "no kube-proxy", "warning: " + msg)
    assert dp["kind"] == "no-kube-proxy"


def test_plain_eks_says_nothing_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, dp, run = _all(tmp_path, [COREDNS, *AWS_NODE, *KUBE_PROXY, PROXY_CONFIG], capsys)
    assert (code, lines[0], dp) == (1, BASE_FIRST, None)
    assert not [ln for ln in lines if ln.startswith(("warning: ", "note: ")) or "kube-proxy's NAT" in ln]
    assert run["invocations"][0]["toolExecutionNotifications"] == []
    # the same cluster without its system pods prints the same report
    _, bare = _check(tmp_path, [], capsys)
    _, full = _check(tmp_path, [COREDNS, *AWS_NODE, *KUBE_PROXY, PROXY_CONFIG], capsys)
    assert full == bare


def test_kube_proxy_config_map_without_its_pods_is_not_absence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, lines, dp, _ = _all(tmp_path, [COREDNS, *AWS_NODE, PROXY_CONFIG], capsys)
    assert (lines[0], dp) == (BASE_FIRST, None)


def test_no_kube_system_pods_says_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A dump filtered to some namespaces: no kube-proxy pod is in it whatever runs, so absence says nothing."""
    elsewhere = [sys_pod(f"cilium-{x}", "cilium", CILIUM_IMAGE, ns="cilium", ctr="cilium-agent") for x in "ab"]
    web = sys_pod("web-1", None, "nginx", ns="shop")
    code, lines, dp, _ = _all(tmp_path, [*elsewhere, web], capsys)
    assert (code, lines[0], dp) == (1, BASE_FIRST, None)
    finished = sys_pod("kube-proxy-old", "kube-proxy", KUBE_PROXY_IMAGE, phase="Succeeded")  # runs nothing
    _, lines, dp, _ = _all(tmp_path, [finished, web], capsys)
    assert (lines[0], dp) == (BASE_FIRST, None)


def test_kube_proxy_by_image_alone() -> None:
    s = Seen()
    for d in (COREDNS, *AWS_NODE, sys_pod("kp", None, KUBE_PROXY_IMAGE)):
        s.see_pod(d)
    assert (s.kube_proxy_pods, s.aws_node_pods, s.kube_system_pods) == (1, 2, 4)
    assert assess(s) is None


@pytest.mark.parametrize(("value", "state"), [
    ("true", True), ("strict", True), ("probe", True), ("partial", True), (" TRUE ", True),
    ("false", False), ("disabled", False), ("maybe", None), (None, None),
])  # fmt: skip
def test_kube_proxy_replacement_values(value: str | None, state: bool | None) -> None:
    assert kpr_state(value) is state


def test_unknown_replacement_value_is_named_not_guessed() -> None:
    s = Seen()
    for d in (COREDNS, *CILIUM):
        s.see_pod(d)
    s.see_config_map(config_map("cilium-config", {"kube-proxy-replacement": "maybe"}), ("kube-proxy",))
    dp = assess(s)
    assert dp is not None and dp.seen == ("2 Cilium agent pods", "ConfigMap kube-system/cilium-config "
                                          "kube-proxy-replacement: maybe", "no kube-proxy pods")  # fmt: skip


def test_live_read_gets_cilium_config_by_name(api: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    _Api.objects["/api/v1/namespaces/kube-system/configmaps/cilium-config"] = config_map(
        "cilium-config", {"kube-proxy-replacement": "true"}
    )
    with pytest.raises(SystemExit) as exc:
        main(["check", "--kubeconfig", str(api), "--context", "stub", "--format", "json"])
    out, err = capsys.readouterr()
    assert (exc.value.code, err) == (1, "")
    assert json.loads(out)["datapath"]["seen"] == ["ConfigMap kube-system/cilium-config kube-proxy-replacement: true"]


def test_cilium_replacement_off_and_no_kube_proxy_is_no_kube_proxy() -> None:
    s = Seen()
    agent = sys_pod(
        "cilium-e", "cilium", CILIUM_IMAGE, ctr="cilium-agent", env={"CILIUM_KUBE_PROXY_REPLACEMENT": "false"}
    )
    for d in (COREDNS, agent):
        s.see_pod(d)
    dp = assess(s)
    assert dp is not None and (dp.kind, dp.modelled) == ("no-kube-proxy", False)
    assert dp.seen == ("1 Cilium agent pod", "CILIUM_KUBE_PROXY_REPLACEMENT=false on cilium-agent in pod kube-system/cilium-e",
                       "no kube-proxy pods among kube-system's 2", "no kube-proxy ConfigMap")  # fmt: skip
    s.see_config_map(PROXY_CONFIG, ("kube-proxy-config", "kube-proxy"))
    assert assess(s) is None  # kube-proxy's ConfigMap: absence of its pods alone is not enough


def test_scenario_from_cluster_says_the_scenario_models_kube_proxy_instead(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The scenario hairpin builds of a Cilium kube-proxy-replacement cluster is a kube-proxy one: the YAML's
    comment and stderr say so; a plain EKS cluster's says nothing of it."""
    web = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web-1", "namespace": "shop", "uid": "p-web", "labels": {"app": "web"}},
           "spec": {"nodeName": "node1", "containers": [{"name": "web", "image": "nginx"}]},
           "status": {"phase": "Running", "podIP": "10.0.1.50",
                      "conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip
    for items, said in (([*CILIUM, config_map("cilium-config", {"kube-proxy-replacement": "true"}), COREDNS], True),
                        ([*KUBE_PROXY, *AWS_NODE, PROXY_CONFIG], False)):  # fmt: skip
        dump = tmp_path / "dump.json"
        dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [*NODES, service(), web, *items]}))
        out_file = tmp_path / "mine.yaml"
        with pytest.raises(SystemExit) as exc:
            main(["scenario", "from-cluster", "--service", "shop/svc", str(dump), "-o", str(out_file)])
        assert exc.value.code in (0, None)
        err = capsys.readouterr().err
        line = ("not modelled: Cilium's kube-proxy replacement (ConfigMap kube-system/cilium-config "
                "kube-proxy-replacement: true; no kube-proxy pods): the scenario models kube-proxy's NAT instead, so "
                "reproduce shows what kube-proxy would do on this cluster, not what it does")  # fmt: skip
        assert (f"hairpin: warning: {line}" in err.splitlines()) is said
        assert (line in " ".join(x.lstrip("# ") for x in out_file.read_text().splitlines() if x.startswith("#"))) is said


_NAMESPACES = st.sampled_from(["kube-system", "cilium", "shop", None, 7])
_APPS_DRAWN = st.sampled_from(["kube-proxy", "cilium", "calico-node", "aws-node", "kube-dns", None, 3])
_IMAGES = st.sampled_from([KUBE_PROXY_IMAGE, CILIUM_IMAGE, "nginx", "602401143452.dkr.ecr.eu-west-1.amazonaws.com/"
                           "amazon-k8s-cni:v1.19.0"])  # fmt: skip


@st.composite
def _pods(draw: st.DrawFn) -> dict[str, Any]:
    """A pod as a dump may hold it: any namespace, app label, image and phase, or metadata or labels that are
    not mappings at all."""
    ns, app = draw(_NAMESPACES), draw(_APPS_DRAWN)
    d = sys_pod(draw(st.sampled_from(["a", "b"])), None, draw(_IMAGES), ns="x", phase=draw(st.sampled_from(
        ["Running", "Succeeded", "Pending"])), env=draw(st.sampled_from([None, {"FELIX_BPFENABLED": "true"}])))  # fmt: skip
    meta = d["metadata"]
    meta["namespace"] = ns
    meta["labels"] = draw(st.sampled_from([{"k8s-app": app}, {}, None, ["k8s-app"]]))
    if draw(st.booleans()):
        d["metadata"] = draw(st.sampled_from([None, [], "x"]))
    return d


@given(st.lists(_pods(), max_size=12))
def test_see_pods_is_see_pod_of_each(pods: list[dict[str, Any]]) -> None:
    """The batch the cluster model calls (which passes over application pods without a call) counts exactly
    what ``see_pod`` counts pod by pod, in the same order (the first agent's flag is the one named)."""
    one, batch = Seen(), Seen()
    for d in pods:
        one.see_pod(d)
    batch.see_pods(pods)
    assert batch == one
