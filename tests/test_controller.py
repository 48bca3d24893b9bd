"""Which controller provisions a LoadBalancer Service and the settings it derives (hairpin.aws.controller)."""

from __future__ import annotations

import pytest

from hairpin.aws import controller as c

P = "service.beta.kubernetes.io/"
TYPE, TT, SCHEME, INTERNAL = (
    P + "aws-load-balancer-type",
    P + "aws-load-balancer-nlb-target-type",
    P + "aws-load-balancer-scheme",
    P + "aws-load-balancer-internal",
)
TGA, LBA, XZ, LABELS = (
    P + "aws-load-balancer-target-group-attributes",
    P + "aws-load-balancer-attributes",
    P + "aws-load-balancer-cross-zone-load-balancing-enabled",
    P + "aws-load-balancer-target-node-labels",
)

# (annotations, loadBalancerClass, protocols, webhook) -> (controller, lb, scheme, target type, preserve, cross-zone)
CASES = [
    # in-tree: Classic ELB unless type nlb; internet-facing unless aws-load-balancer-internal is set (not 'false')
    ({}, None, ("TCP",), False, ("in-tree", "clb", "internet-facing", None, None, False)),
    ({INTERNAL: "true"}, None, ("TCP",), False, ("in-tree", "clb", "internal", None, None, False)),
    ({TYPE: "nlb"}, None, ("TCP",), False, ("in-tree", "nlb", "internet-facing", "instance", True, False)),
    ({TYPE: "nlb", INTERNAL: "true"}, None, ("TCP",), False, ("in-tree", "nlb", "internal", "instance", True, False)),
    (
        {TYPE: "nlb", INTERNAL: "0.0.0.0/0"},
        None,
        ("TCP",),
        False,
        ("in-tree", "nlb", "internal", "instance", True, False),
    ),
    (
        {TYPE: "nlb", INTERNAL: "false"},
        None,
        ("TCP",),
        False,
        ("in-tree", "nlb", "internet-facing", "instance", True, False),
    ),
    (
        {TYPE: "nlb", INTERNAL: "true", XZ: "true"},
        None,
        ("TCP",),
        False,
        ("in-tree", "nlb", "internal", "instance", True, True),
    ),
    # in-tree ignores the target group attributes annotation unless told the provider is >= 1.34
    (
        {TYPE: "nlb", INTERNAL: "true", TGA: "preserve_client_ip.enabled=false"},
        None,
        ("TCP",),
        False,
        ("in-tree", "nlb", "internal", "instance", True, False),
    ),
    # the AWS Load Balancer Controller: nlb-ip, external + target type, or its class
    ({TYPE: "nlb-ip"}, None, ("TCP",), False, ("aws-load-balancer-controller", "nlb", "internal", "ip", False, False)),
    ({TYPE: "nlb-ip"}, None, ("UDP",), False, ("aws-load-balancer-controller", "nlb", "internal", "ip", True, False)),
    (
        {TYPE: "external", TT: "instance"},
        None,
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", True, False),
    ),
    (
        {TYPE: "external", TT: "ip"},
        None,
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "ip", False, False),
    ),
    (
        {TYPE: "external", TT: "ip", TGA: "preserve_client_ip.enabled=true"},
        None,
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "ip", True, False),
    ),
    (
        {TYPE: "external", TT: "instance", TGA: "preserve_client_ip.enabled=false,proxy_protocol_v2.enabled=true"},
        None,
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", False, False),
    ),
    (
        {TYPE: "external", TT: "instance", SCHEME: "internet-facing"},
        None,
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internet-facing", "instance", True, False),
    ),
    (
        {TYPE: "external", TT: "instance", INTERNAL: "false"},
        None,
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internet-facing", "instance", True, False),
    ),
    (
        {TYPE: "external", TT: "instance", SCHEME: "internal", INTERNAL: "false"},
        None,
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", True, False),
    ),
    (
        {TYPE: "external", TT: "instance", LBA: "load_balancing.cross_zone.enabled=true"},
        None,
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", True, True),
    ),
    (
        {TYPE: "external", TT: "instance", LBA: "load_balancing.cross_zone.enabled=true", XZ: "false"},
        None,
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", True, False),
    ),
    (
        {TYPE: "external", TT: "instance", XZ: "true", TGA: "load_balancing.cross_zone.enabled=false"},
        None,
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", True, False),
    ),
    (
        {},
        "service.k8s.aws/nlb",
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", True, False),
    ),
    (
        {TYPE: "nlb"},
        "service.k8s.aws/nlb",
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "instance", True, False),
    ),
    (
        {TT: "ip"},
        "service.k8s.aws/nlb",
        ("TCP",),
        False,
        ("aws-load-balancer-controller", "nlb", "internal", "ip", False, False),
    ),
    # the mutator webhook turns a classless manifest into an LBC Service
    ({}, None, ("TCP",), True, ("aws-load-balancer-controller", "nlb", "internal", "instance", True, False)),
    # nobody
    ({TYPE: "external"}, None, ("TCP",), False, ("none", "none", "unknown", None, None, False)),
    ({}, "example.com/metallb", ("TCP",), False, ("other", "none", "unknown", None, None, False)),
]


@pytest.mark.parametrize(("ann", "cls", "protos", "webhook", "want"), CASES)
def test_resolve_every_combination(
    ann: dict[str, str], cls: str | None, protos: tuple[str, ...], webhook: bool, want: tuple[object, ...]
) -> None:
    s = c.resolve(ann, load_balancer_class=cls, protocols=protos, mutator_webhook=webhook)
    assert (s.controller, s.load_balancer, s.scheme, s.target_type, s.preserve_client_ip, s.cross_zone) == want
    assert s.steps, "every answer says how it was reached"


def test_in_tree_honours_target_group_attributes_from_1_34() -> None:
    ann = {TYPE: "nlb", INTERNAL: "true", TGA: "preserve_client_ip.enabled=false"}
    assert c.resolve(ann, in_tree_tg_attributes=True).preserve_client_ip is False
    ignored = c.resolve(ann, in_tree_tg_attributes=False)
    assert ignored.preserve_client_ip is True
    assert any("ignored" in s for s in ignored.steps)


def test_steps_name_the_deciding_annotation() -> None:
    s = c.resolve({TYPE: "external", TT: "instance", INTERNAL: "true"})
    assert f"scheme internal (deprecated {INTERNAL}: 'true')" in s.steps
    s = c.resolve({TYPE: "nlb-ip"})
    assert "scheme internal (the AWS Load Balancer Controller's default since v2.2.0)" in s.steps
    assert "client IP preservation off (the default for ip targets with TCP)" in s.steps


def test_problems_are_reported_not_raised() -> None:
    # an unknown scheme fails the LBC's model build at once ("unknown scheme: public": the legacy annotation is
    # not read), and so does a legacy value strconv.ParseBool refuses: nothing is built, nothing is at risk
    s = c.resolve({TYPE: "external", TT: "instance", SCHEME: "public", INTERNAL: "maybe"})
    assert (s.controller, s.load_balancer, s.scheme, s.target_type) == ("none", "none", "unknown", None)
    assert s.problems == (f"{SCHEME}: unknown scheme 'public' (the controller refuses the Service)",)
    s = c.resolve({TYPE: "external", TT: "instance", INTERNAL: "no"})
    assert (s.controller, s.load_balancer, s.target_type) == ("none", "none", None)
    assert s.problems == (f"{INTERNAL}: 'no' is not a boolean (the controller refuses the Service)",)
    assert c.resolve({TYPE: "external", TT: "instance", INTERNAL: "T"}).scheme == "internal"  # strconv.ParseBool
    # preserve_client_ip.enabled that strconv.ParseBool refuses fails the LBC's model build too
    s = c.resolve({TYPE: "external", TT: "instance", TGA: "preserve_client_ip.enabled=flase"})
    assert (s.controller, s.load_balancer, s.preserve_client_ip) == ("none", "none", None)
    assert s.problems == (f"{TGA}: preserve_client_ip.enabled='flase' is not a boolean (the controller refuses the "
                          "Service)",)  # fmt: skip
    assert c.resolve({TYPE: "external", TT: "instance", TGA: "preserve_client_ip.enabled=FALSE"}).preserve_client_ip \
        is False
    s = c.resolve({TYPE: "nlb-ip"}, protocols=("UDP",))
    assert s.problems == ()
    s = c.resolve({TYPE: "nlb-ip", TGA: "preserve_client_ip.enabled=false"}, protocols=("UDP",))
    assert s.preserve_client_ip is True and "UDP" in s.problems[0]


def test_non_loadbalancer_service_has_no_load_balancer() -> None:
    s = c.resolve({TYPE: "nlb"}, service_type="ClusterIP")
    assert (s.controller, s.load_balancer) == ("none", "none")


def test_target_node_labels_and_proxy_protocol() -> None:
    s = c.resolve({TYPE: "nlb", LABELS: "role=edge, tier=web", P + "aws-load-balancer-proxy-protocol": "*"})
    assert s.target_node_labels == (("role", "edge"), ("tier", "web"))
    assert s.proxy_protocol_v2 is True


def test_parse_map() -> None:
    assert c.parse_map(" a=1, b = x=y ,c,") == {"a": "1", "b": "x=y", "c": ""}


@pytest.mark.parametrize(("value", "meant", "what"), [("NLB", "nlb", "a Network Load Balancer"),
                                                      (" nlb", "nlb", "a Network Load Balancer"),
                                                      ("External", "external", "the AWS Load Balancer Controller"),
                                                      ("NLB-IP", "nlb-ip", "the AWS Load Balancer Controller")])  # fmt: skip
def test_a_load_balancer_type_off_by_case_is_a_classic_elb_with_a_warning(value: str, meant: str, what: str) -> None:
    """Both controllers compare aws-load-balancer-type exactly: 'NLB' is a Classic ELB from the in-tree provider
    (hairpin says so, not at risk), and a warning says what was probably meant."""
    s = c.resolve({TYPE: value})
    assert (s.controller, s.load_balancer) == ("in-tree", "clb")
    assert s.warnings == (f"{TYPE}: {value!r} is not {meant!r}: the controllers compare the value exactly, so the "
                          f"in-tree provider builds a Classic ELB; if {what} was meant, write {meant!r}",)  # fmt: skip
    assert c.resolve({TYPE: "nlb"}).warnings == () and c.resolve({TYPE: "classic"}).warnings == ()
