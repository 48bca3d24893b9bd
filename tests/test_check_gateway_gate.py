"""Whether the AWS Load Balancer Controller reconciles Gateways of an NLB GatewayClass at all, from its Deployment:
the feature gate NLBGatewayAPI (kubernetes-sigs/aws-load-balancer-controller ``pkg/config/feature_gates.go``: from
v2.13.0, off by default up to v3.1.x, on from v3.2.0; ``main.go`` starts the NLB Gateway reconciler only when it is
on) and the release in the image tag."""

from __future__ import annotations

import pytest
import yaml

from hairpin.diagnose import check as chk
from hairpin.parsers import manifests as m
from test_check_gateway_crd import GATEWAY

IMAGE = "public.ecr.aws/eks/aws-load-balancer-controller:"
WHERE = "Deployment kube-system/aws-load-balancer-controller (g.yaml:26)"  # after the 24 lines of GATEWAY and ---


def deployment(tag: str, *args: str) -> dict[str, object]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "aws-load-balancer-controller", "namespace": "kube-system"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "aws-load-balancer-controller", "image": IMAGE + tag, "args": ["--cluster-name=prod", *args]}]}}}}  # fmt: skip


def report(*extra: dict[str, object]) -> chk.Report:
    r = chk.check(m.parse_yaml(GATEWAY + "".join("---\n" + yaml.safe_dump(d) for d in extra), "g.yaml"))
    assert r.errors == []
    return r


def run(*extra: dict[str, object]) -> chk.Finding:
    (f,) = report(*extra).findings
    return f


def said(*extra: dict[str, object]) -> list[str]:
    """The report's warnings on the controller, said once for every target group (``Report.lbc_warnings``), after
    checking that no target group repeats them in its own warnings."""
    r = report(*extra)
    assert all(w not in f.warnings for f in r.findings for w in r.lbc_warnings)
    return r.lbc_warnings


def built(f: chk.Finding) -> tuple[str, str]:
    return f.settings.controller, f.settings.load_balancer


@pytest.mark.parametrize(("tag", "args"), [
    ("v3.5.0", ("--feature-gates=NLBGatewayAPI=true",)), ("v3.2.0", ()),
    ("v3.1.0", ("--feature-gates=NLBGatewayAPI=true",)), ("v2.13.0", ("--feature-gates", "NLBGatewayAPI=true")),
])  # fmt: skip
def test_the_nlb_gateway_reconciler_runs(tag: str, args: tuple[str, ...]) -> None:
    f = run(deployment(tag, *args))
    assert built(f) == ("aws-load-balancer-controller", "nlb")
    assert f.settings.problems == () and f.warnings == []


NO_RELEASE = (f"the AWS Load Balancer Controller's image {IMAGE}latest names no release (tag 'latest'): it is taken "
              "to be v3.5.0, the newest release hairpin read, with its defaults and feature gates; hairpin reads the "
              "release from the image tag, else from --lbc-version, so to check an older release give --lbc-version "
              f"vX.Y.Z or the image with its tag in the input ({WHERE})")


def test_an_image_that_names_no_release_runs_the_reconciler_as_v3_5_0_does_and_says_so() -> None:
    f = run(deployment("latest"))
    assert built(f) == ("aws-load-balancer-controller", "nlb")
    assert f.settings.problems == () and f.warnings == []
    assert said(deployment("latest")) == [NO_RELEASE, UNKNOWN_SERVED]  # GATEWAY's TCPRoute is read at v1alpha2


def test_without_the_deployment_the_reconciler_is_assumed_to_run() -> None:
    assert built(run()) == ("aws-load-balancer-controller", "nlb")


@pytest.mark.parametrize(("tag", "args", "why"), [
    ("v3.5.0", ("--feature-gates=NLBGatewayAPI=false",),
     f"the AWS Load Balancer Controller runs with the feature gate NLBGatewayAPI=false ({WHERE})"),
    ("v3.1.0", (), "the AWS Load Balancer Controller's image is v3.1.0, whose feature gate NLBGatewayAPI is off unless "
                   f"turned on (on by default from v3.2.0), and its flags do not turn it on ({WHERE})"),
    ("v2.17.1", ("--feature-gates=NLBSecurityGroup=true",),
     "the AWS Load Balancer Controller's image is v2.17.1, whose feature gate NLBGatewayAPI is off unless turned on "
     f"(on by default from v3.2.0), and its flags do not turn it on ({WHERE})"),
    ("v2.12.0", ("--feature-gates=NLBGatewayAPI=true",),
     f"the AWS Load Balancer Controller's image is v2.12.0: the Gateway API came in v2.13.0 ({WHERE})"),
])  # fmt: skip
def test_no_nlb_when_the_reconciler_does_not_run(tag: str, args: tuple[str, ...], why: str) -> None:
    f = run(deployment(tag, *args))
    assert built(f) == ("none", "none")
    assert (f.at_risk, f.fixes) == (False, [])
    assert f.settings.steps == (f"Gateway shop/edge: {why}, so it reconciles no Gateway of an NLB GatewayClass: no NLB "
                                "is built (one built before stays as it was)",)  # fmt: skip
    assert f.settings.problems == (f"{why}: NLB Gateways are not reconciled",)


def test_a_newer_image_warns_on_gateways_too() -> None:
    f = run(deployment("v3.6.0"))
    assert built(f) == ("aws-load-balancer-controller", "nlb")
    assert said(deployment("v3.6.0"))[0] == (
        "the AWS Load Balancer Controller's image is v3.6.0, newer than v3.5.0 (the newest release hairpin read): its "
        f"defaults and feature gates are taken to be v3.5.0's ({WHERE})"
    )


V1 = GATEWAY.replace(
    "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute",
    "apiVersion: gateway.networking.k8s.io/v1\nkind: TCPRoute",
)


def test_v3_5_warns_when_a_route_is_read_below_v1_and_the_gate_is_left_to_its_default() -> None:
    # pkg/gateway/crddetect (v3.5.0): TCPRoute and UDPRoute must be served at gateway.networking.k8s.io/v1, else the
    # defaulted gate is turned off at start; a v1alpha2 object suggests v1 is not served, so: a warning, not a verdict
    assert "gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute" in GATEWAY and V1 != GATEWAY
    for tag in ("v3.5.0", "v3.6.1"):
        f = run(deployment(tag))
        assert built(f) == ("aws-load-balancer-controller", "nlb")
        assert f.warnings == []
        got = said(deployment(tag))
        assert len(got) == (1 if tag == "v3.5.0" else 2)  # v3.6.1: the newer-image warning first
        assert got[-1] == (
            "TCPRoute shop/web is read at gateway.networking.k8s.io/v1alpha2, not gateway.networking.k8s.io/v1: if the "
            "cluster does not serve gateway.networking.k8s.io/v1 (Gateway API before 1.6, or the controller's CRDs not "
            f"upgraded), the AWS Load Balancer Controller {tag} turns its NLB Gateway support off at start, as its "
            "feature gate NLBGatewayAPI is left to its default (pkg/gateway/crddetect), and these Gateways get no NLB "
            f"({WHERE})"
        )
    r = chk.check(m.parse_yaml(V1 + "---\n" + yaml.safe_dump(deployment("v3.5.0")), "g.yaml"))
    (f,) = r.findings
    assert (built(f), f.warnings, r.lbc_warnings) == (("aws-load-balancer-controller", "nlb"), [], [])
    assert said(deployment("v3.4.3")) == []  # v3.4: routes at v1alpha2 are what its detection asks for
    assert said(deployment("latest")) == [NO_RELEASE, UNKNOWN_SERVED]  # the release unknown: said, not guessed


UNKNOWN_SERVED = (
    "TCPRoute shop/web is read at gateway.networking.k8s.io/v1alpha2, not gateway.networking.k8s.io/v1, and the AWS "
    "Load Balancer Controller's image names no release, so whether it builds NLBs for these Gateways is not known: "
    "from v3.5.0, with its feature gate NLBGatewayAPI left to its default, it turns its NLB Gateway support off at "
    "start when the cluster does not serve gateway.networking.k8s.io/v1 (Gateway API before 1.6, or the controller's "
    "CRDs not upgraded; pkg/gateway/crddetect), while v3.2.0 to v3.4.x ask for the L4 routes at v1alpha2; give "
    f"--lbc-version vX.Y.Z or the image with its tag to decide ({WHERE})"
)


def test_an_image_that_names_no_release_says_once_that_the_crd_detection_depends_on_it() -> None:
    """A digest or ``latest``: the release decides whether routes read below v1 turn NLB Gateways off, so one warning
    says the outcome is not known (the Gateways are still judged as built, as the no-release warning says)."""
    digest = deployment("latest")
    digest["spec"]["template"]["spec"]["containers"][0]["image"] = IMAGE.rstrip(":") + "@sha256:" + "a" * 64  # type: ignore[index]
    got = said(digest)
    assert len(got) == 2 and got[1] == UNKNOWN_SERVED
    assert built(run(digest)) == ("aws-load-balancer-controller", "nlb")
    # the gate set in the flags: the detection is skipped whatever the release (pkg/gateway/crddetect)
    assert said(deployment("latest", "--feature-gates=NLBGatewayAPI=true")) == [NO_RELEASE]
    # every object at the version v3.5.0 asks for: nothing to doubt
    r = chk.check(m.parse_yaml(V1 + "---\n" + yaml.safe_dump(deployment("latest")), "g.yaml"))
    assert (r.errors, r.lbc_warnings) == ([], [NO_RELEASE])
    # two objects read below v1 (a TargetGroupConfiguration at v1beta1 too): still one warning, on the first
    two = GATEWAY + "---\n" + yaml.safe_dump({
        "apiVersion": "gateway.k8s.aws/v1beta1", "kind": "TargetGroupConfiguration",
        "metadata": {"name": "web", "namespace": "shop"}, "spec": {"targetReference": {"name": "web"}}})  # fmt: skip
    r = chk.check(m.parse_yaml(two + "---\n" + yaml.safe_dump(deployment("latest")), "g.yaml"))
    assert r.errors == [] and r.lbc_warnings[1:] == [UNKNOWN_SERVED.replace("(g.yaml:26)", "(g.yaml:35)")]
