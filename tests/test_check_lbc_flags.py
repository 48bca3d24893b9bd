"""``hairpin check`` with the AWS Load Balancer Controller's command line read from its Deployment:
``--load-balancer-class``, ``--default-target-type``, ``--default-load-balancer-scheme`` and the feature
gates EnableIPTargetType and EnableServiceController (kubernetes-sigs/aws-load-balancer-controller v3.5.0,
``pkg/config/``, ``pkg/service/service_utils.go``, ``pkg/service/model_build_target_group.go``, ``main.go``)."""

from __future__ import annotations

import json
from fractions import Fraction as F
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from hairpin.aws import controller as ctl
from hairpin.aws.lbc_flags import LbcFlags, image_version, lbc_flags
from hairpin.diagnose import check as chk
from hairpin.diagnose.versions import LBC_REFUSED
from hairpin.parsers import manifests as m

P = "service.beta.kubernetes.io/"
TYPE, TT, SCHEME = P + "aws-load-balancer-type", P + "aws-load-balancer-nlb-target-type", P + "aws-load-balancer-scheme"
A, B = "eu-west-1a", "eu-west-1b"
CORP = "corp.example/nlb"
WHERE = "Deployment kube-system/aws-load-balancer-controller (t.yaml:1)"


def svc(name: str, ann: dict[str, str] | None = None, cls: str | None = None, typ: str = "LoadBalancer") -> dict[str, Any]:
    spec: dict[str, Any] = {"type": typ, "selector": {"app": "web"},
                            "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}  # fmt: skip
    if typ in ("LoadBalancer", "NodePort"):
        spec["ports"][0]["nodePort"] = 30080
    if cls:
        spec["loadBalancerClass"] = cls
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop",
            "annotations": ann or {}}, "spec": spec}  # fmt: skip


def deployment(*args: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "aws-load-balancer-controller", "namespace": "kube-system"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "aws-load-balancer-controller", "image": "public.ecr.aws/eks/aws-load-balancer-controller:v2.14.1",
                 "args": ["--cluster-name=prod", *args]}]}}}}  # fmt: skip


def node(name: str, az: str) -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": az}},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.31.2"}}}  # fmt: skip


def report(*docs: dict[str, Any]) -> chk.Report:
    return chk.check(m.parse_yaml("---\n".join(yaml.safe_dump(d) for d in docs), "t.yaml"))


def row(f: chk.Finding) -> tuple[Any, ...]:
    s = f.settings
    return (f.name, s.controller, s.load_balancer, s.scheme, s.target_type, s.preserve_client_ip, f.at_risk,
            f.probability)  # fmt: skip


NODES = (node("n1", A), node("n2", A), node("n3", B))


# ------------------------------------------------------------------------------- --load-balancer-class

def test_load_balancer_class_the_controller_claims() -> None:
    """With --load-balancer-class corp.example/nlb a Service of that class goes to the controller (internal
    NLB, instance targets: worst node n3, alone in AZ b, P = 1/2), one of the default class to nobody."""
    r = report(deployment(f"--load-balancer-class={CORP}"), *NODES, svc("corp", cls=CORP),
               svc("default-class", cls=ctl.LBC_CLASS))  # fmt: skip
    assert [row(f) for f in r.findings] == [
        ("corp", ctl.LBC, "nlb", "internal", "instance", True, True, F(1, 2)),
        ("default-class", ctl.OTHER, "none", "unknown", None, None, False, None),
    ]
    corp, default = r.findings
    assert corp.worst_node == "n3"
    assert corp.settings.steps[0] == f"spec.loadBalancerClass {CORP}: the AWS Load Balancer Controller (its --load-balancer-class, {WHERE})"
    assert default.reason == (
        "spec.loadBalancerClass service.k8s.aws/nlb: neither the in-tree provider (it ignores Services with a class) "
        f"nor the AWS Load Balancer Controller (it claims class {CORP}: --load-balancer-class in {WHERE}) provisions it"
    )
    assert r.exit_code == 1
    # without the Deployment the default class is the controller's
    r = report(*NODES, svc("corp", cls=CORP), svc("default-class", cls=ctl.LBC_CLASS))
    assert [(f.name, f.settings.controller, f.at_risk) for f in r.findings] == [
        ("default-class", ctl.LBC, True), ("corp", ctl.OTHER, False)]  # fmt: skip


def test_the_webhook_sets_the_class_the_controller_claims() -> None:
    hook = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "aws-load-balancer-webhook"}, "webhooks": [{"name": "mservice.elbv2.k8s.aws"}]}  # fmt: skip
    (f,) = report(deployment("--load-balancer-class", CORP), hook, svc("fresh")).findings
    assert row(f)[:7] == ("fresh", ctl.LBC, "nlb", "internal", "instance", True, True)
    assert f.settings.steps[0] == (
        "no loadBalancerClass, but the AWS Load Balancer Controller's service mutator webhook (mservice.elbv2.k8s.aws) "
        f"sets {CORP} when the Service is created: the AWS Load Balancer Controller"
    )


def test_nodeport_services_with_annotations_do_not_depend_on_the_class() -> None:
    (f,) = report(deployment(f"--load-balancer-class={CORP}"), *NODES,
                  svc("np", {TYPE: "external", TT: "instance"}, typ="NodePort")).findings  # fmt: skip
    assert row(f) == ("np", ctl.LBC, "nlb", "internal", "instance", True, True, F(1, 2))


# ------------------------------------------------------------------------------- --default-target-type

def test_default_target_type_ip() -> None:
    """--default-target-type ip: a Service without the target type annotation gets ip targets (TCP:
    preservation off by default, not at risk); the annotation still wins."""
    r = report(deployment("--default-target-type=ip"), *NODES, svc("plain", cls=ctl.LBC_CLASS),
               svc("inst", {TT: "instance"}, cls=ctl.LBC_CLASS))  # fmt: skip
    assert [row(f) for f in r.findings] == [
        ("inst", ctl.LBC, "nlb", "internal", "instance", True, True, F(1, 2)),
        ("plain", ctl.LBC, "nlb", "internal", "ip", False, False, None),
    ]
    plain = r.findings[1]
    assert f"target type ip (no {TT}: the controller's --default-target-type ip, {WHERE})" in plain.settings.steps
    assert plain.reason == "internal NLB with client IP preservation off: targets see the NLB's address and answer it"
    # the Deployment says nothing: instance, and the step says where that came from
    (f,) = report(deployment(), svc("plain", cls=ctl.LBC_CLASS)).findings
    assert f.settings.target_type == "instance"
    assert f"target type instance (the controller's --default-target-type: not set in {WHERE}, instance)" in f.settings.steps


# ------------------------------------------------------------------------------- EnableIPTargetType

def test_enable_ip_target_type_false_refuses_ip_targets() -> None:
    gate = "--feature-gates=EnableIPTargetType=false"
    r = report(deployment(gate), *NODES,
               svc("ann-ip", {TYPE: "external", TT: "ip"}),
               svc("nlb-ip", {TYPE: "nlb-ip"}),  # the gate tests the target type value only: nlb-ip still gets ip
               svc("inst", {TYPE: "external", TT: "instance"}),
               svc("in-tree", {TYPE: "nlb", P + "aws-load-balancer-internal": "true"}))  # fmt: skip
    assert [row(f) for f in r.findings] == [
        ("in-tree", ctl.IN_TREE, "nlb", "internal", "instance", True, True, F(1, 2)),
        ("inst", ctl.LBC, "nlb", "internal", "instance", True, True, F(1, 2)),
        ("ann-ip", ctl.NONE, "none", "unknown", None, None, False, None),
        ("nlb-ip", ctl.LBC, "nlb", "internal", "ip", False, False, None),
    ]
    in_tree, inst, ann_ip, _ = r.findings
    assert ann_ip.settings.problems == ("ip targets refused: feature gate EnableIPTargetType=false",)
    assert ann_ip.reason == (
        f"target type ip ({TT}: ip) refused: the AWS Load Balancer Controller runs with the feature gate "
        f"EnableIPTargetType=false ({WHERE}) and fails the Service (\"unsupported targetType: ip when "
        "EnableIPTargetType is false\"): no load balancer is built; one built before keeps its old settings"
    )
    # fixes that need ip targets are not offered
    assert [x.name for x in inst.fixes] == ["no-preserve-client-ip", "proxy-protocol-v2", "cluster-ip"]
    assert [x.name for x in in_tree.fixes] == ["cluster-ip"]
    # and are without the gate
    r = report(*NODES, svc("inst", {TYPE: "external", TT: "instance"}),
               svc("in-tree", {TYPE: "nlb", P + "aws-load-balancer-internal": "true"}))  # fmt: skip
    assert [[x.name for x in f.fixes] for f in r.findings] == [
        ["cluster-ip", "recreate-ip-targets"], ["no-preserve-client-ip", "proxy-protocol-v2", "ip-targets", "cluster-ip"]]  # fmt: skip


def test_default_target_type_ip_with_ip_targets_disabled() -> None:
    r = report(deployment("--default-target-type=ip", "--feature-gates=EnableIPTargetType=false"),
               svc("plain", cls=ctl.LBC_CLASS), svc("inst", {TT: "instance"}, cls=ctl.LBC_CLASS))  # fmt: skip
    assert [(f.name, f.settings.controller, f.settings.target_type, f.at_risk) for f in r.findings] == [
        ("inst", ctl.LBC, "instance", True), ("plain", ctl.NONE, None, False)]  # fmt: skip
    assert r.findings[1].reason.startswith(f"target type ip (no {TT}, --default-target-type ip) refused: ")


# ------------------------------------------------------------------------------- EnableServiceController

def test_enable_service_controller_false() -> None:
    """The controller reconciles no Service: its LoadBalancer Services are reported without a load
    balancer, NodePort ones are not checked, the in-tree provider's are judged as before."""
    r = report(deployment("--feature-gates=EnableServiceController=false"), *NODES,
               svc("lbc", cls=ctl.LBC_CLASS), svc("np", {TYPE: "external", TT: "instance"}, typ="NodePort"),
               svc("in-tree", {TYPE: "nlb", P + "aws-load-balancer-internal": "true"}))  # fmt: skip
    assert [row(f) for f in r.findings] == [
        ("in-tree", ctl.IN_TREE, "nlb", "internal", "instance", True, True, F(1, 2)),
        ("lbc", ctl.NONE, "none", "unknown", None, None, False, None),
    ]
    lbc = r.findings[1]
    assert lbc.settings.problems == (
        "the AWS Load Balancer Controller does not reconcile Services: feature gate EnableServiceController=false",)
    assert lbc.reason == (
        f"the AWS Load Balancer Controller runs with the feature gate EnableServiceController=false ({WHERE}): it "
        "reconciles no Service, so no load balancer is built (one built before stays as it was)"
    )
    assert [x.name for x in r.findings[0].fixes] == ["cluster-ip"]


# ------------------------------------------------------------------------------- --default-load-balancer-scheme

def test_default_load_balancer_scheme_internet_facing() -> None:
    r = report(deployment("--default-load-balancer-scheme=internet-facing"), *NODES, svc("plain", cls=ctl.LBC_CLASS),
               svc("int", {SCHEME: "internal"}, cls=ctl.LBC_CLASS))  # fmt: skip
    assert [row(f) for f in r.findings] == [
        ("int", ctl.LBC, "nlb", "internal", "instance", True, True, F(1, 2)),
        ("plain", ctl.LBC, "nlb", "internet-facing", "instance", True, False, None),
    ]
    assert (f"scheme internet-facing (the controller's --default-load-balancer-scheme, {WHERE}; an NLB built "
            "before keeps its scheme)") in r.findings[1].settings.steps  # fmt: skip


# ------------------------------------------------------------------------------- flags the controller refuses

def test_flags_the_controller_refuses_are_reported_and_defaults_kept() -> None:
    """Said once for the report (``Report.lbc_problems``); the Service keeps a pointer among its problems."""
    r = report(deployment("--default-target-type=IP", "--default-load-balancer-scheme", "public",
                          "--feature-gates=EnableTCPUDPListenerType=true,NLBSecurityGroup"),
               svc("lbc", cls=ctl.LBC_CLASS))  # fmt: skip
    (f,) = r.findings
    assert row(f) == ("lbc", ctl.LBC, "nlb", "internal", "instance", True, True, None)
    assert f.settings.problems == (LBC_REFUSED,)
    assert tuple(r.lbc_problems) == (
        f"--feature-gates 'EnableTCPUDPListenerType' is not a feature gate (of v3.5.0): the controller refuses to start "
        f"with it ({WHERE})",
        f"--feature-gates 'NLBSecurityGroup' is not KEY=BOOL: the controller refuses to start with it ({WHERE})",
        "--default-target-type 'IP' is not instance or ip: the controller refuses to start (controller_config.go "
        f"validateDefaultTargetType) ({WHERE})",
        "--default-load-balancer-scheme 'public' is not internal or internet-facing: the controller refuses to "
        f"start (controller_config.go validateDefaultLoadBalancerScheme) ({WHERE})",
    )
    assert "scheme internal (the AWS Load Balancer Controller's default since v2.2.0)" in f.settings.steps


def test_lbc_flags_pflag_forms() -> None:
    f = lbc_flags(["--load-balancer-class", "a/b", "--default-target-type=ip", "--load-balancer-class=c/d",
                   "--feature-gates=EnableIPTargetType=false", "--feature-gates", " EnableIPTargetType = true ,",
                   "--", "--default-load-balancer-scheme=internet-facing"], "here")  # fmt: skip
    assert f == LbcFlags(feature_gates=(("EnableIPTargetType", True),), source="here", load_balancer_class="c/d",
                         default_target_type="ip", default_target_type_set=True)  # fmt: skip
    assert lbc_flags(["--default-target-type"]).problems == ("--default-target-type has no value: the controller refuses to start",)
    assert lbc_flags([]) == LbcFlags()


@given(st.lists(st.text(alphabet="-=,abcdeiloprstnTF ", max_size=30), max_size=8))
def test_lbc_flags_never_fails_and_keeps_valid_values(args: list[str]) -> None:
    f = lbc_flags(args)
    assert f.default_target_type in ("instance", "ip")
    assert f.default_scheme in ("internal", "internet-facing")
    assert all(isinstance(v, bool) for _, v in f.feature_gates)


# ------------------------------------------------------------------------------- from a JSON dump

def test_dump_with_the_controllers_deployment(tmp_path: Path) -> None:
    """`kubectl get -o json` of nodes, Services and the controller's Deployment with a custom class and ip
    as the default target type: the Service of that class gets ip targets, preservation off; the one
    asking for instance targets is at risk with P = 1/2 on n3."""
    items = [*NODES, deployment(f"--load-balancer-class={CORP}", "--default-target-type=ip"),
             svc("ip-default", cls=CORP), svc("inst", {TT: "instance"}, cls=CORP), svc("stale", cls=ctl.LBC_CLASS)]  # fmt: skip
    for it in items:
        it["metadata"]["uid"] = "u-" + it["metadata"]["name"]
    path = tmp_path / "dump.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2))
    r = chk.check(m.load_paths([path]))
    assert [row(f) for f in r.findings] == [
        ("inst", ctl.LBC, "nlb", "internal", "instance", True, True, F(1, 2)),
        ("ip-default", ctl.LBC, "nlb", "internal", "ip", False, False, None),
        ("stale", ctl.OTHER, "none", "unknown", None, None, False, None),
    ]
    assert r.findings[0].worst_node == "n3"


# ------------------------------------------------------------------------------- scenario from a cluster

def test_scenario_from_a_cluster_takes_the_controllers_flags() -> None:
    """The seed dump with its Service given the controller's custom class: ``scenario from-cluster``
    builds the NLB the controller would, with its --default-target-type."""
    from hairpin.kube.from_cluster import scenario_from_objects

    seed = yaml.safe_load((Path(__file__).parent / "data" / "check" / "seed-dump.yaml").read_text())
    for it in seed["items"]:
        if it["kind"] == "Service" and it["metadata"]["name"] == "service-nginx-demo":
            it["spec"]["loadBalancerClass"] = CORP
            it["metadata"]["annotations"] = {}

    def lb(*args: str) -> tuple[Any, ...]:
        doc = {**seed, "items": [*seed["items"], deployment(*args)]}
        s, _ = scenario_from_objects(m.parse_yaml(yaml.safe_dump(doc), "d.yaml"),
                                     service="nginx-demo/service-nginx-demo", client="default/netshoot")  # fmt: skip
        x = s.client_service.load_balancer
        assert x is not None
        return (x.type, x.scheme, x.target_type, x.preserve_client_ip)

    assert lb(f"--load-balancer-class={CORP}") == ("nlb", "internal", "instance", True)
    assert lb(f"--load-balancer-class={CORP}", "--default-target-type=ip") == ("nlb", "internal", "ip", False)


# ------------------------------------------------------------------------------- TCP_UDP listeners

def _dns(ann: dict[str, str]) -> dict[str, Any]:
    d = svc("dns", {TYPE: "external", TT: "ip", **ann})
    d["spec"]["ports"] = [{"name": "tcp", "port": 53, "targetPort": 5353, "protocol": "TCP"},
                          {"name": "udp", "port": 53, "targetPort": 5353, "protocol": "UDP"}]  # fmt: skip
    return d


def test_tcp_and_udp_on_one_port_without_tcp_udp_listeners() -> None:
    """Default (gate EnableTCPUDPListener off, no annotation): one listener per port number, the first
    Service port's (53/TCP, ip targets: preservation off, not at risk); 53/UDP gets no listener."""
    (f,) = report(_dns({})).findings
    assert (f.at_risk, f.settings.preserve_client_ip) == (False, False)
    assert [(p.label, p.preserve_client_ip, p.at_risk) for p in f.ports] == [("53/TCP", False, False)]
    listener = P + "aws-load-balancer-enable-tcp-udp-listener"
    assert (f"TCP and UDP on port 53 without TCP_UDP listeners (no {listener}, feature gate EnableTCPUDPListener off "
            "by default): the AWS Load Balancer Controller builds one listener per port number, the first Service "
            "port's; 53/UDP gets none") in f.settings.steps  # fmt: skip
    assert f.settings.problems == (
        f"Service port 53/UDP is not served by the NLB: a TCP and a UDP port of one number need {listener}: \"true\" "
        "(AWS Load Balancer Controller v2.13.0 or later)",)
    # the annotation, or the gate in the Deployment: one TCP_UDP target group, always preserved: at risk
    for docs in ([_dns({listener: "true"})], [deployment("--feature-gates=EnableTCPUDPListener=true"), _dns({})]):
        (f,) = report(*NODES, *docs).findings
        assert [(p.label, p.preserve_client_ip, p.at_risk) for p in f.ports] == [
            ("53/TCP_UDP", True, True), ("53/TCP_UDP", True, True)]  # fmt: skip
        assert (f.at_risk, f.settings.preserve_client_ip) == (True, True)
        assert [x.name for x in f.fixes] == ["cluster-ip", "anti-affinity"]
    # the annotation wins over the gate
    (f,) = report(deployment("--feature-gates=EnableTCPUDPListener=true"), _dns({listener: "false"})).findings
    assert [p.label for p in f.ports] == ["53/TCP"] and not f.at_risk


def test_an_image_before_v2_13_0_ignores_the_tcp_udp_annotation_and_refuses_the_gate() -> None:
    listener = P + "aws-load-balancer-enable-tcp-udp-listener"
    old = "public.ecr.aws/eks/aws-load-balancer-controller:v2.12.0"
    (f,) = report(deployment_image(old), *NODES, _dns({listener: "true"})).findings
    assert [(p.label, p.preserve_client_ip, p.at_risk) for p in f.ports] == [("53/TCP", False, False)]
    assert (f"{listener} not honoured: the AWS Load Balancer Controller's image is v2.12.0, and the annotation came in "
            f"v2.13.0 ({WHERE})") in f.settings.steps  # fmt: skip
    r = report(deployment_image(old, "--feature-gates=EnableTCPUDPListener=true"), *NODES, _dns({}))
    (f,) = r.findings
    assert [p.label for p in f.ports] == ["53/TCP"]  # the gate is not applied: v2.12.0 does not know it
    assert f.settings.problems[0] == LBC_REFUSED
    assert r.lbc_problems[0] == (
        f"--feature-gates 'EnableTCPUDPListener' is not a feature gate of v2.12.0 (it came in v2.13.0): the controller "
        f"refuses to start with it ({WHERE})")  # fmt: skip
    new = "public.ecr.aws/eks/aws-load-balancer-controller:v2.13.0"
    (f,) = report(*NODES, deployment_image(new), _dns({listener: "true"})).findings
    assert [p.label for p in f.ports] == ["53/TCP_UDP", "53/TCP_UDP"]


def test_an_image_older_than_a_flag_or_gate_refuses_to_start_and_its_value_is_not_applied() -> None:
    """pkg/config at each release tag: --default-load-balancer-scheme from v2.11.0, --default-target-type from
    v2.5.0, --load-balancer-class from v2.4.0, --feature-gates from v2.3.1; the gates of GATE_FROM."""
    flags = lbc_flags(["--default-load-balancer-scheme=internet-facing", "--default-target-type", "ip",
                       "--feature-gates=NLBSecurityGroup=false,EnableIPTargetType=true"], "here",
                      "x/aws-load-balancer-controller:v2.4.7")  # fmt: skip
    assert (flags.default_scheme, flags.default_target_type, flags.feature_gates) == (
        "internal", "instance", (("EnableIPTargetType", True),))
    assert flags.problems == (
        "--default-load-balancer-scheme is not a flag of v2.4.7 (it came in v2.11.0): the controller refuses to start "
        "with it (pflag: unknown flag) (here)",
        "--default-target-type is not a flag of v2.4.7 (it came in v2.5.0): the controller refuses to start with it "
        "(pflag: unknown flag) (here)",
        "--feature-gates 'NLBSecurityGroup' is not a feature gate of v2.4.7 (it came in v2.6.0): the controller "
        "refuses to start with it (here)",
    )
    assert lbc_flags(["--load-balancer-class=a/b", "--feature-gates=WeightedTargetGroups=true"], "here",
                     "x/aws-load-balancer-controller:v2.3.0").problems == (
        "--load-balancer-class is not a flag of v2.3.0 (it came in v2.4.0): the controller refuses to start with it "
        "(pflag: unknown flag) (here)",
        "--feature-gates is not a flag of v2.3.0 (it came in v2.3.1): the controller refuses to start with it (pflag: "
        "unknown flag) (here)",
    )  # fmt: skip
    # the first release of each: accepted
    flags = lbc_flags(["--default-load-balancer-scheme=internet-facing", "--feature-gates=IngressPlanAnnotation=true"],
                      "here", "x/aws-load-balancer-controller:v3.4.0")  # fmt: skip
    assert (flags.problems, flags.default_scheme) == ((), "internet-facing")


def test_an_image_before_v2_4_0_reads_no_load_balancer_class() -> None:
    """v2.3.1 (before PR #2489) takes a Service by its annotations only; the in-tree provider ignores one with a
    class: with the class alone nobody builds a load balancer, with nlb-ip the controller still does."""
    old = "public.ecr.aws/eks/aws-load-balancer-controller:v2.3.1"
    not_read = (f"spec.loadBalancerClass {ctl.LBC_CLASS} not honoured: the AWS Load Balancer Controller's image is "
                f"v2.3.1, and it reads the class from v2.4.0 ({WHERE})")  # fmt: skip
    (f,) = report(deployment_image(old), *NODES, svc("cls", cls=ctl.LBC_CLASS)).findings
    assert row(f) == ("cls", ctl.NONE, "none", "unknown", None, None, False, None)
    assert f.settings.steps == (
        not_read,
        "the in-tree provider ignores a Service with a class, and the AWS Load Balancer Controller takes none without "
        f"{TYPE} nlb-ip or external: no load balancer is provisioned",
    )
    assert f.settings.problems == (
        f"spec.loadBalancerClass {ctl.LBC_CLASS} is not read by the AWS Load Balancer Controller v2.3.1 (v2.4.0 and "
        "later read it): no controller provisions the Service",)  # fmt: skip
    (f,) = report(deployment_image(old), *NODES, svc("ann", {TYPE: "nlb-ip"}, cls=ctl.LBC_CLASS)).findings
    assert row(f)[:5] == ("ann", ctl.LBC, "nlb", "internal", "ip")
    assert f.settings.steps[:2] == (not_read, f"{TYPE}: nlb-ip: the AWS Load Balancer Controller (the in-tree provider "
                                              "skips it)")  # fmt: skip
    (f,) = report(deployment_image(old.replace("v2.3.1", "v2.4.0")), *NODES, svc("cls", cls=ctl.LBC_CLASS)).findings
    assert row(f)[:3] == ("cls", ctl.LBC, "nlb")


def test_flags_in_the_containers_command() -> None:
    """Flags after the program in ``command`` reach the controller as well as ``args`` (the process gets
    command[1:] + args)."""
    dep = deployment()
    ctr = dep["spec"]["template"]["spec"]["containers"][0]
    ctr["command"] = ["/controller", "--default-target-type=ip"]
    (f,) = report(dep, svc("plain", cls=ctl.LBC_CLASS)).findings
    assert (f.settings.target_type, f.at_risk) == ("ip", False)
    ctr["command"], ctr["args"] = ["/controller", "--default-target-type=ip"], ["--cluster-name=prod", "--default-target-type=instance"]
    (f,) = report(dep, svc("plain", cls=ctl.LBC_CLASS)).findings  # args come after command: the last one wins
    assert (f.settings.target_type, f.at_risk) == ("instance", True)
    ctr["command"] = ["--default-target-type=ip"]  # the program itself, not a flag
    ctr["args"] = ["--cluster-name=prod"]
    (f,) = report(dep, svc("plain", cls=ctl.LBC_CLASS)).findings
    assert f.settings.target_type == "instance"


def test_cli_names_the_problems_in_json_and_text(tmp_path: Path, capsys: Any) -> None:
    import pytest

    from hairpin.cli.main import main

    path = tmp_path / "k.yaml"
    path.write_text("---\n".join(yaml.safe_dump(d) for d in (deployment("--feature-gates=EnableIPTargetType=false"),
                                                              svc("ann-ip", {TYPE: "external", TT: "ip"}))))  # fmt: skip
    problem = "ip targets refused: feature gate EnableIPTargetType=false"
    for fmt in ("json", "table"):
        with pytest.raises(SystemExit) as exc:
            main(["check", str(path), "--format", fmt])
        out, err = capsys.readouterr()
        assert (exc.value.code or 0, err) == (0, "")
        if fmt == "json":
            (s,) = json.loads(out)["services"]
            assert (s["controller"], s["load_balancer"], s["problems"]) == ("none", "none", [problem])
        else:
            assert f"shop/ann-ip: problems\n  - {problem}\n" in out


# ------------------------------------------------------------------ the controller's release, from its image tag

def deployment_image(image: str, *args: str) -> dict[str, Any]:
    d = deployment(*args)
    d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return d


def test_image_version_reads_the_tag() -> None:
    assert image_version("public.ecr.aws/eks/aws-load-balancer-controller:v3.5.0") == (3, 5, 0)
    assert image_version("602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-load-balancer-controller:v2.14.1"
                         "@sha256:" + "a" * 64) == (2, 14, 1)  # fmt: skip
    assert image_version("localhost:5000/aws-load-balancer-controller:v3.6.0-rc.1") == (3, 6, 0)
    assert image_version("registry:5000/aws-load-balancer-controller") is None  # the port is no tag
    assert image_version("aws-load-balancer-controller:latest") is None
    assert image_version("aws-load-balancer-controller@sha256:" + "b" * 64) is None
    assert image_version(None) is None and image_version(["v3.5.0"]) is None


def test_an_image_newer_than_the_newest_release_read_warns_and_keeps_v3_5_behaviour() -> None:
    r = report(deployment_image("public.ecr.aws/eks/aws-load-balancer-controller:v3.6.0",
                                "--feature-gates=SomeNewGate=true,NLBSecurityGroup=true,SomeNewGate=false"),
               svc("lbc", cls=ctl.LBC_CLASS))  # fmt: skip
    (f,) = r.findings
    assert row(f) == ("lbc", ctl.LBC, "nlb", "internal", "instance", True, True, None)
    assert f.settings.problems == ()  # a gate v3.6.0 may have added is not called a refusal to start
    assert f.settings.warnings == (
        f"the AWS Load Balancer Controller's image is v3.6.0, newer than v3.5.0 (the newest release hairpin read): "
        f"its defaults and feature gates are taken to be v3.5.0's ({WHERE})",
        f"--feature-gates 'SomeNewGate' is not a feature gate of v3.5.0; whether v3.6.0 knows it (else it refuses to "
        f"start) is not known to hairpin ({WHERE})",
    )
    # said once for the report, not in each Service's warnings (hairpin.diagnose.versions.lbc_warnings)
    assert (r.lbc_warnings, f.warnings) == (list(f.settings.warnings), [])


def test_a_read_release_refuses_an_unknown_gate_and_does_not_warn() -> None:
    for image in ("public.ecr.aws/eks/aws-load-balancer-controller:v3.5.0",
                  "public.ecr.aws/eks/aws-load-balancer-controller:v3.5.9"):  # fmt: skip
        r = report(deployment_image(image, "--feature-gates=SomeNewGate=true"), svc("lbc", cls=ctl.LBC_CLASS))
        (f,) = r.findings
        assert f.settings.problems == (LBC_REFUSED,), image
        assert r.lbc_problems == [f"--feature-gates 'SomeNewGate' is not a feature gate (of v3.5.0): the "
                                  f"controller refuses to start with it ({WHERE})"], image  # fmt: skip
        assert f.settings.warnings == (), image
    flags = lbc_flags(["--feature-gates=NLBGatewayAPI=true"], "here", "x/aws-load-balancer-controller:v4.0.0")
    assert flags.version == (4, 0, 0) and flags.problems == ()
    assert flags.warnings == ("the AWS Load Balancer Controller's image is v4.0.0, newer than v3.5.0 (the newest "
                              "release hairpin read): its defaults and feature gates are taken to be v3.5.0's (here)",)  # fmt: skip


ASSUMED = ("it is taken to be v3.5.0, the newest release hairpin read, with its defaults and feature gates; hairpin "
           "reads the release from the image tag, else from --lbc-version, so to check an older release give "
           "--lbc-version vX.Y.Z or the image with its tag in the input")


def test_an_image_that_names_no_release_is_taken_to_be_v3_5_0_with_one_warning() -> None:
    repo = "public.ecr.aws/eks/aws-load-balancer-controller"
    for image, why in ((f"{repo}:latest", "tag 'latest'"),
                       (f"{repo}@sha256:{'c' * 64}", "a digest only"),
                       (f"{repo}:v2.x-custom", "tag 'v2.x-custom' is not a release"),
                       (f"{repo}:main", "tag 'main' is not a release"),
                       ("registry.local:5000/aws-load-balancer-controller", "no tag")):  # fmt: skip
        (f,) = report(deployment_image(image), svc("lbc", cls=ctl.LBC_CLASS)).findings
        assert row(f) == ("lbc", ctl.LBC, "nlb", "internal", "instance", True, True, None), image
        assert f.settings.problems == (), image
        assert f.settings.warnings == (
            f"the AWS Load Balancer Controller's image {image} names no release ({why}): {ASSUMED} ({WHERE})",), image
        assert f.settings.security_groups is True, image  # v3.5.0's behaviour, not v2.5's


def test_an_image_that_names_no_release_does_not_call_an_unknown_gate_a_refusal() -> None:
    """The release may be newer than v3.5.0 and know the gate: a warning, not "refuses to start"."""
    image = "public.ecr.aws/eks/aws-load-balancer-controller:latest"
    (f,) = report(deployment_image(image, "--feature-gates=SomeNewGate=true"), svc("lbc", cls=ctl.LBC_CLASS)).findings
    assert f.settings.problems == ()
    assert f.settings.warnings == (
        f"the AWS Load Balancer Controller's image {image} names no release (tag 'latest'): {ASSUMED} ({WHERE})",
        f"--feature-gates 'SomeNewGate' is not a feature gate of v3.5.0; whether its release knows it (else it "
        f"refuses to start) is not known to hairpin ({WHERE})",
    )


def test_scenario_from_a_cluster_says_the_controllers_release_was_assumed() -> None:
    from hairpin.kube.from_cluster import scenario_from_objects

    seed = yaml.safe_load((Path(__file__).parent / "data" / "check" / "seed-dump.yaml").read_text())
    for it in seed["items"]:
        if it["kind"] == "Service" and it["metadata"]["name"] == "service-nginx-demo":
            it["spec"]["loadBalancerClass"] = ctl.LBC_CLASS
    image = "public.ecr.aws/eks/aws-load-balancer-controller:latest"
    doc = {**seed, "items": [*seed["items"], deployment_image(image)]}
    text = yaml.safe_dump(doc)
    _, notes = scenario_from_objects(m.parse_yaml(text, "d.yaml"),
                                     service="nginx-demo/service-nginx-demo", client="default/netshoot")  # fmt: skip
    line = text.splitlines().index("- apiVersion: apps/v1") + 1  # the Deployment, the last item
    where = f"Deployment kube-system/aws-load-balancer-controller (d.yaml:{line})"
    assert [n for n in notes if n.startswith("load balancer warning:")] == [
        f"load balancer warning: the AWS Load Balancer Controller's image {image} names no release (tag 'latest'): "
        f"{ASSUMED} ({where})"]  # fmt: skip


def test_a_tag_that_names_no_release_is_shown_quoted_and_cut() -> None:
    flags = lbc_flags([], "here", "x/aws-load-balancer-controller:" + "\x1b" * 100)
    assert flags.version is None
    (w,) = flags.warnings
    assert w.startswith("the AWS Load Balancer Controller's image 'x/aws-load-balancer-controller:\\x1b")
    assert "names no release (tag '" + "\\x1b" * 80 + "'... is not a release)" in w  # repr, cut at 80 characters
    assert lbc_flags([], "here", "").warnings == ()  # no image given: nothing to say


def test_an_image_before_v2_6_0_builds_nlbs_without_security_groups() -> None:
    sg = "security groups on the NLB (assumed: the AWS Load Balancer Controller v2.6.0 or later creates its NLBs with them)"
    (old,) = report(deployment_image("602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-load-balancer-controller:v2.5.4"),
                    svc("lbc", {P + "aws-load-balancer-security-groups": "sg-1"}, cls=ctl.LBC_CLASS)).findings  # fmt: skip
    assert (old.settings.security_groups, old.settings.warnings) == (False, ())
    assert old.settings.steps[-2:] == (
        "no security groups on the NLB: the AWS Load Balancer Controller's image is v2.5.4, and releases before v2.6.0 "
        f"build NLBs without them ({WHERE})",
        "externalTrafficPolicy Cluster",
    )
    (new,) = report(deployment_image("public.ecr.aws/eks/aws-load-balancer-controller:v2.6.0"),
                    svc("lbc", cls=ctl.LBC_CLASS)).findings  # fmt: skip
    assert new.settings.security_groups is True
    assert new.settings.steps[-2:] == (sg, "externalTrafficPolicy Cluster")
