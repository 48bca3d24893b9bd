"""``hairpin check`` on public manifests (tests/data/check/corpus: facts of real Services, each citing its source):
the expected verdict for every Service, without and with the AWS Load Balancer Controller's mutator webhook."""

from __future__ import annotations

from pathlib import Path

import pytest

from hairpin.diagnose import check as chk
from hairpin.errors import ParseError
from hairpin.parsers import manifests as m

CORPUS = Path(__file__).parent / "data" / "check" / "corpus"
LBC, IN_TREE = "aws-load-balancer-controller", "in-tree"

# (namespace, name) -> (controller, load balancer, scheme, target type, at risk, target group protocols,
#                       annotations the controller ignores (suffix after service.beta.kubernetes.io/))
EXPECTED = {
    # kubernetes-sigs/aws-load-balancer-controller docs
    ("default", "echoserver-class-instance"): (LBC, "nlb", "internal", "instance", True, ["TCP"], []),
    ("default", "echoserver-class-ip"): (LBC, "nlb", "internal", "ip", False, ["TCP"], []),
    ("default", "echoserver-external-instance"): (LBC, "nlb", "internal", "instance", True, ["TCP"], []),
    ("default", "echoserver-external-ip"): (LBC, "nlb", "internal", "ip", False, ["TCP"], []),
    ("default", "MyAppSvc"): (LBC, "nlb", "internet-facing", "ip", False, ["TCP"], []),
    ("default", "quic-service"): (LBC, "nlb", "internet-facing", "ip", False, ["TCP_UDP", "TCP_UDP"], []),
    # kubernetes/ingress-nginx and charts built from it
    ("ingress-nginx", "ingress-nginx-controller"): (IN_TREE, "nlb", "internet-facing", "instance", False, ["TCP", "TCP"], []),
    ("ingress-nginx", "ingress-nginx-controller-tls"): (IN_TREE, "nlb", "internet-facing", "instance", False, ["TCP", "TCP"], []),
    ("ingress-nginx", "ingress-nginx"): (IN_TREE, "nlb", "internet-facing", "instance", False, ["TCP", "TCP"], []),
    ("ingress-nginx", "ingress-nginx-l4"): (IN_TREE, "clb", "internet-facing", None, False, [], []),
    ("ingress-nginx", "nginx-ingress-controller-ingress-nginx-controller"):
        (IN_TREE, "nlb", "internal", "instance", True, ["TCP", "TCP"], ["aws-load-balancer-scheme"]),
    ("ingress-nginx", "ingress-nginx-controller-ppv1"): (IN_TREE, "clb", "internet-facing", None, False, [], []),
    # Contour, Istio
    ("projectcontour", "envoy"): (IN_TREE, "clb", "internet-facing", None, False, [], []),
    ("istio-system", "istio-ingressgateway-nlb"): (IN_TREE, "nlb", "internet-facing", "instance", False, ["TCP", "TCP"], []),
    ("istio-system", "istio-ingressgateway-private"): (IN_TREE, "clb", "internal", None, False, [], []),
    ("istio-ingress", "istio-ingress-gateway"): (LBC, "nlb", "internet-facing", "instance", False, ["TCP", "TCP"], []),
    # EKS workshop, EKS user guide, a blog tutorial
    ("ui", "ui-nlb"): (IN_TREE, "nlb", "internet-facing", "instance", False, ["TCP"],
                       ["aws-load-balancer-nlb-target-type", "aws-load-balancer-scheme"]),
    ("ui", "ui-nlb-ipv6"): (LBC, "nlb", "internet-facing", "instance", False, ["TCP"], []),
    ("nlb-sample-app", "nlb-sample-service"): (LBC, "nlb", "internet-facing", "ip", False, ["TCP"], []),
    ("nlb-sample-app", "nlb-sample-service-fargate"): (LBC, "nlb", "internal", "ip", False, ["TCP"], []),
    ("httpd-svc", "httpd"): (LBC, "nlb", "internet-facing", "ip", False, ["TCP"], []),
    # rubykaigi-net: internal NLBs, ip targets, UDP (preservation cannot be turned off)
    ("default", "s3tftpd"): (LBC, "nlb", "internal", "ip", True, ["UDP"], []),
    ("default", "fluentd"): (LBC, "nlb", "internal", "ip", True, ["UDP"], []),
}  # fmt: skip
#: Services no controller provisions a load balancer for (Ingress backends, webhooks): not reported
NOT_REPORTED = {
    ("echoserver", "echoserver"),
    ("game-2048", "service-2048"),
    ("ingress-nginx", "ingress-nginx-controller-admission"),
}
#: with the mutator webhook installed (as the EKS workshop installs the controller), every LoadBalancer Service
#: created without a class goes to the AWS Load Balancer Controller: internal and instance targets by default
AT_RISK_WITH_WEBHOOK = {
    ("default", "echoserver-class-instance"), ("default", "echoserver-external-instance"), ("default", "fluentd"),
    ("default", "s3tftpd"), ("ingress-nginx", "ingress-nginx"), ("ingress-nginx", "ingress-nginx-controller"),
    ("ingress-nginx", "ingress-nginx-controller-ppv1"), ("ingress-nginx", "ingress-nginx-controller-tls"),
    ("ingress-nginx", "ingress-nginx-l4"), ("ingress-nginx", "nginx-ingress-controller-ingress-nginx-controller"),
    ("istio-system", "istio-ingressgateway-nlb"), ("istio-system", "istio-ingressgateway-private"),
    ("projectcontour", "envoy"),
}  # fmt: skip
P = "service.beta.kubernetes.io/"


def _report(webhook: bool) -> chk.Report:
    errors: list[ParseError] = []
    r = chk.check(m.load_paths([CORPUS], errors), mutator_webhook=webhook)
    assert errors == []
    return r


def test_every_public_service_has_its_expected_verdict() -> None:
    r = _report(False)
    got = {
        (f.namespace, f.name): (
            f.settings.controller, f.settings.load_balancer, f.settings.scheme, f.settings.target_type, f.at_risk,
            [p.protocol for p in f.ports], [x.annotation.removeprefix(P) for x in f.ignored],
        )
        for f in r.findings
    }  # fmt: skip
    assert got == EXPECTED
    assert not NOT_REPORTED & got.keys()
    assert r.exit_code == 1
    assert len(r.findings) == 23 and len(r.at_risk) == 5


def test_every_public_service_with_the_mutator_webhook() -> None:
    r = _report(True)
    assert {(f.namespace, f.name) for f in r.findings} == set(EXPECTED)
    assert {(f.namespace, f.name) for f in r.at_risk} == AT_RISK_WITH_WEBHOOK
    assert all(f.settings.controller == LBC for f in r.findings)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_object_cites_its_source(path: Path) -> None:
    """Each document opens with a comment naming where its facts come from."""
    for doc in path.read_text().split("\n---\n"):
        assert doc.lstrip().startswith("#"), f"{path.name}: a document without its source"
