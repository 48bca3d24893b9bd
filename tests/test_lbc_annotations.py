"""The AWS Load Balancer Controller's list and map annotations as its parser reads them
(kubernetes-sigs/aws-load-balancer-controller ``pkg/annotations/parser.go``: splitCommaSeparatedString for lists
and, up to v2.14.0, maps; splitKeyValuePairs with trimmed keys and values for maps from v2.14.1), and what
``hairpin check`` says when a Service's map annotation fails that parse or reads differently across releases."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.aws import controller as ctl
from hairpin.aws.lbc_annotations import read_map, split_list, split_pairs, string_map
from hairpin.aws.lbc_flags import LbcFlags
from hairpin.diagnose import check as chk
from hairpin.kube.apivalidation import go_trim_space as go_trim
from hairpin.parsers import manifests as m

P = "service.beta.kubernetes.io/"
EXTERNAL = {ctl.TYPE: "external", ctl.TARGET_TYPE: "instance"}
TG, TAGS = ctl.TG_ATTRIBUTES, ctl.ADDITIONAL_TAGS
PARSE = '("failed to parse stringMap annotation")'


@pytest.mark.parametrize(("raw", "pieces"), [
    ("", []),
    ("   ", [""]),
    ("a=1, b = 2 ", ["a=1", "b = 2"]),
    ("a=1,,b=2", ["a=1", "", "b=2"]),
    (",a=1", ["", "a=1"]),
    ("a=1,", ["a=1,"]),
    ("a=1, \t", ["a=1,"]),
    ("a=1,,", ["a=1", ","]),
    ("a=1,2", ["a=1", "2"]),
    ("a=1,2,b=3", ["a=1", "2", "b=3"]),
    ("a=1,2,3", ["a=1", "2,3"]),
    ("a=x\\,y,b=z", ["a=x,y", "b=z"]),
    ("a=x\\\\,b=z", ["a=x\\", "b=z"]),
    ("a=x\\", ["a=x\\"]),
    ("a\\=b=c", ["a=b=c"]),
    ("a=1,b\\=2", ["a=1", "b=2"]),
])  # fmt: skip
def test_split_pairs_as_the_controller_splits_them(raw: str, pieces: list[str]) -> None:
    assert split_pairs(raw) == pieces


@pytest.mark.parametrize(("raw", "want"), [
    ("", {}),
    (" role = edge , tier=web", {"role": "edge", "tier": "web"}),
    ("a=b=c", {"a": "b=c"}),
    ("a\\=b=c", {"a": "b=c"}),
    ("a=1,a=2", {"a": "2"}),
    ("a=", {"a": ""}),
    ("owners=x\\,y, team=z", {"owners": "x,y", "team": "z"}),
    ("preserve_client_ip.enabled=false,", {"preserve_client_ip.enabled": "false,"}),
    ("\x1fk=v\x1f", {"\x1fk": "v\x1f"}),  # Go's TrimSpace keeps U+001F, which Python's strip removes
    ("k=\xa0v\u3000", {"k": "v"}),
])  # fmt: skip
def test_string_map_from_v2_14_1(raw: str, want: dict[str, str]) -> None:
    assert string_map(raw) == want


@pytest.mark.parametrize(("raw", "piece"), [
    ("   ", ""), ("a=1,,b=2", ""), (",a=1", ""), ("a=1,,", ","), ("a=1,2", "2"), ("a=1,2,3", "2,3"), ("=x", "=x"),
    (" = x", "= x"), ("a", "a"),
])  # fmt: skip
def test_string_map_from_v2_14_1_refuses(raw: str, piece: str) -> None:
    with pytest.raises(ValueError) as e:
        string_map(raw)
    assert e.value.args == (piece,)


@pytest.mark.parametrize(("raw", "want"), [
    ("", {}),
    ("   ", {}),
    ("a=1,,b=2, ", {"a": "1", "b": "2"}),
    (" a = b ", {"a ": " b"}),
    ("preserve_client_ip.enabled=false,", {"preserve_client_ip.enabled": "false"}),
    ("a=b=c", {"a": "b=c"}),
])  # fmt: skip
def test_string_map_up_to_v2_14_0(raw: str, want: dict[str, str]) -> None:
    assert string_map(raw, escapes=False) == want


def test_string_map_up_to_v2_14_0_has_no_escapes() -> None:
    with pytest.raises(ValueError) as e:
        string_map("owners=x\\,y", escapes=False)
    assert e.value.args == ("y",)


def test_split_list_has_no_escapes_or_quotes() -> None:
    assert split_list(' subnet-a, ,subnet-b\\,subnet-c,"x,y" ,') == ["subnet-a", "subnet-b\\", "subnet-c", '"x', 'y"']
    assert split_list("") == []


_KEY = st.text(st.characters(blacklist_characters=",=\\", blacklist_categories=("Cs",)), min_size=1, max_size=8)
_VALUE = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace(",", "\\,")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEY.filter(lambda k: go_trim(k) == k), _VALUE.filter(lambda v: go_trim(v) == v), max_size=4))
def test_escaped_values_read_back(pairs: dict[str, str]) -> None:
    """From v2.14.1 a backslash before ',' and '\\' gives any value back, '=' and spaces inside included."""
    raw = ", ".join(f"{k}={_escape(v)}" for k, v in pairs.items())
    assert string_map(raw) == pairs


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("ab=, \\\t"), max_size=14))
def test_any_text_is_a_map_or_the_piece_refused(raw: str) -> None:
    """Never another exception; a refused piece has no '=' or an empty key; keys and values are trimmed."""
    for escapes in (True, False):
        try:
            got = string_map(raw, escapes=escapes)
        except ValueError as e:
            piece = e.args[0]
            key, eq, _ = piece.partition("=")
            assert not eq or not (go_trim(key) if escapes else key)
        else:
            if escapes:
                assert all(go_trim(k) == k and k and go_trim(v) == v for k, v in got.items())


WARNED = (f"{TG}: releases of the AWS Load Balancer Controller before v2.14.1 read 'preserve_client_ip.enabled=false,' "
          "as {'preserve_client_ip.enabled': 'false'}, v2.14.1 and later as {'preserve_client_ip.enabled': 'false,'}; "
          "hairpin assumes a current release (the input does not give the controller's release)")  # fmt: skip


def test_read_map_by_release() -> None:
    raw = "preserve_client_ip.enabled=false,"
    unknown = read_map(TG, raw, None)
    assert (unknown.pairs, unknown.refused, unknown.warning) == ({"preserve_client_ip.enabled": "false,"}, None, WARNED)
    new = read_map(TG, raw, (2, 14, 1))
    assert (new.pairs, new.refused, new.warning) == ({"preserve_client_ip.enabled": "false,"}, None, None)
    old = read_map(TG, raw, (2, 14, 0))
    assert (old.pairs, old.refused, old.warning) == ({"preserve_client_ip.enabled": "false"}, None, None)
    # both releases refuse it (at different pieces): the outcome is the same, no warning
    both = read_map(TG, "a=1,,c", None)
    assert (both.pairs, both.refused, both.warning) == ({}, ",c", None)
    assert both.why_refused == f"',c' is not key=value {PARSE}"
    # the same pairs in every release: no warning
    assert read_map(TG, "a=1, b=2", None).warning is None
    spaced = read_map(TG, "a = 1", (2, 13, 3))
    assert (spaced.pairs, spaced.warning) == ({"a ": " 1"}, f"{TG}: release v2.13.3 of the AWS Load Balancer Controller "
            "does not trim keys (v2.14.1 and later do): 'a ' is read with its spaces, as no attribute or label hairpin "
            "knows")  # fmt: skip


def _refusal(key: str, piece: str) -> str:
    return f"{key}: {piece!r} is not key=value {PARSE} (the controller refuses the Service)"


def test_a_map_the_controller_cannot_parse_builds_no_load_balancer() -> None:
    s = ctl.resolve({**EXTERNAL, TG: "proxy_protocol_v2.enabled=true,stickiness"})
    assert (s.controller, s.load_balancer, s.problems, s.warnings) == (
        "none",
        "none",
        (_refusal(TG, "stickiness"),),
        (),
    )
    assert s.steps[-1] == (f"{TG}: 'stickiness' is not key=value {PARSE}: the AWS Load Balancer Controller's model "
                           "build fails (pkg/annotations/parser.go ParseStringMapAnnotation) and no load balancer is "
                           "built")  # fmt: skip
    s = ctl.resolve({**EXTERNAL, TAGS: "team=web,payments"})
    assert (s.controller, s.problems) == ("none", (_refusal(TAGS, "payments"),))
    s = ctl.resolve({**EXTERNAL, ctl.LB_ATTRIBUTES: "load_balancing.cross_zone.enabled"},
                    lbc=LbcFlags(version=(2, 13, 3)))  # fmt: skip
    assert (s.controller, s.problems) == ("none", (_refusal(ctl.LB_ATTRIBUTES, "load_balancing.cross_zone.enabled"),))
    assert s.steps[-1].startswith(f"{ctl.LB_ATTRIBUTES}: 'load_balancing.cross_zone.enabled' is not key=value "
                                  f"{PARSE}: the AWS Load Balancer Controller's model build fails (release v2.13.3, ")  # fmt: skip
    # the in-tree provider does not read these annotations with the controller's parser
    s = ctl.resolve({ctl.TYPE: "nlb", TAGS: "team=web,payments"})
    assert (s.controller, s.load_balancer, s.problems) == ("in-tree", "nlb", ())


def test_an_escaped_comma_depends_on_the_release() -> None:
    ann = {**EXTERNAL, TAGS: "owners=web\\,payments", ctl.LB_ATTRIBUTES: "load_balancing.cross_zone.enabled=true"}
    s = ctl.resolve(ann, lbc=LbcFlags(version=(2, 14, 1)))
    assert (s.controller, s.cross_zone, s.problems, s.warnings) == ("aws-load-balancer-controller", True, (), ())
    s = ctl.resolve(ann, lbc=LbcFlags(version=(2, 14, 0)))
    assert (s.controller, s.problems, s.warnings) == ("none", (_refusal(TAGS, "payments"),), ())
    s = ctl.resolve(ann)
    assert (s.controller, s.problems) == ("aws-load-balancer-controller", ())
    assert s.warnings == (f"{TAGS}: releases of the AWS Load Balancer Controller before v2.14.1 read "
                          "'owners=web\\\\,payments' as a failed parse ('payments' is not key=value): no load balancer, "
                          "v2.14.1 and later as {'owners': 'web,payments'}; hairpin assumes a current release (the "
                          "input does not give the controller's release)",)  # fmt: skip


def test_a_trailing_comma_after_a_boolean_attribute() -> None:
    """From v2.14.1 a comma that ends the value stays in it: 'false,' is no boolean and the controller refuses the
    Service; before, the attribute was 'false'.  Without the release both are said."""
    ann = {**EXTERNAL, TG: "preserve_client_ip.enabled=false,"}
    s = ctl.resolve(ann)
    assert (s.controller, s.warnings) == ("none", (WARNED,))
    assert s.problems == (f"{TG}: preserve_client_ip.enabled='false,' is not a boolean (the controller refuses the "
                          "Service)",)  # fmt: skip
    s = ctl.resolve(ann, lbc=LbcFlags(version=(2, 13, 3)))
    assert (s.controller, s.preserve_client_ip, s.problems, s.warnings) == (
        "aws-load-balancer-controller",
        False,
        (),
        (),
    )


def test_target_node_labels_by_release() -> None:
    labels = ctl.NODE_LABELS
    s = ctl.resolve({**EXTERNAL, labels: "role = edge"}, lbc=LbcFlags(version=(3, 5, 0)))
    assert (s.target_node_labels, s.warnings) == ((("role", "edge"),), ())
    s = ctl.resolve({**EXTERNAL, labels: "role = edge"}, lbc=LbcFlags(version=(2, 12, 0)))
    assert s.target_node_labels == (("role ", " edge"),)
    assert s.warnings == (f"{labels}: release v2.12.0 of the AWS Load Balancer Controller does not trim keys (v2.14.1 "
                          "and later do): 'role ' is read with its spaces, as no attribute or label hairpin knows",)  # fmt: skip
    # ip targets: the annotation is not read, so neither its refusal nor its warning applies
    s = ctl.resolve({**EXTERNAL, ctl.TARGET_TYPE: "ip", labels: "role=edge,"})
    assert (s.controller, s.warnings) == ("aws-load-balancer-controller", ())


def _deployment(image: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "aws-load-balancer-controller", "namespace": "kube-system"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "aws-load-balancer-controller", "image": image, "args": ["--cluster-name=prod"]}]}}}}  # fmt: skip


def _service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "annotations": {**EXTERNAL, TAGS: "owners=web\\,payments"}},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                     "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30080}]}}  # fmt: skip


@pytest.mark.parametrize(("image", "controller"), [
    ("public.ecr.aws/eks/aws-load-balancer-controller:v2.14.1", "aws-load-balancer-controller"),
    ("public.ecr.aws/eks/aws-load-balancer-controller:v2.13.3", "none"),
])  # fmt: skip
def test_check_reads_the_release_from_the_controllers_image(image: str, controller: str) -> None:
    text = "---\n".join(yaml.safe_dump(d) for d in (_deployment(image), _service()))
    (f,) = chk.check(m.parse_yaml(text, "t.yaml")).findings
    assert (f.settings.controller, f.settings.warnings) == (controller, ())


# ------------------------------------------------------------ per-port target group attributes (v2.14.0 and later)
PORTS = ((80, "TCP"), (443, "TCP"))
V = LbcFlags(version=(2, 14, 1))


def _tgs(s: ctl.Settings) -> list[tuple[int | None, bool, str]]:
    return [(tg.port, tg.preserve_client_ip, tg.why) for tg in s.target_groups]


def test_a_ports_own_attributes_override_the_base_ones() -> None:
    s = ctl.resolve({**EXTERNAL, TG: "preserve_client_ip.enabled=false", f"{TG}.80": "preserve_client_ip.enabled=true"},
                    ports=PORTS, lbc=V)  # fmt: skip
    assert _tgs(s) == [(80, True, f"client IP preservation on ({TG}.80: preserve_client_ip.enabled=true)"),
                       (443, False, f"client IP preservation off ({TG}: preserve_client_ip.enabled=false)")]  # fmt: skip
    assert (s.preserve_client_ip, s.problems, s.warnings) == (True, (), ())
    assert f"Service port 80: target group attributes {TG}.80 over {TG}" in s.steps
    # an empty value keeps the base one; a port the Service does not have is not read
    s = ctl.resolve({**EXTERNAL, TG: "preserve_client_ip.enabled=false,proxy_protocol_v2.enabled=true",
                     f"{TG}.80": "proxy_protocol_v2.enabled=", f"{TG}.8080": "preserve_client_ip.enabled=true"},
                    ports=PORTS, lbc=V)  # fmt: skip
    assert ([on for _, on, _ in _tgs(s)], s.preserve_client_ip, s.proxy_protocol_v2) == ([False, False], False, True)
    assert not [t for t in s.steps if t.startswith("Service port")]
    s = ctl.resolve({**EXTERNAL, f"{TG}.443": "preserve_client_ip.enabled=false"}, ports=PORTS, lbc=V)
    assert [(p, on) for p, on, _ in _tgs(s)] == [(80, True), (443, False)] and s.preserve_client_ip is True


def test_per_port_attributes_by_release() -> None:
    ann = {**EXTERNAL, f"{TG}.80": "preserve_client_ip.enabled=false"}
    s = ctl.resolve(ann, ports=PORTS[:1], lbc=LbcFlags(version=(2, 13, 3)))
    assert (_tgs(s)[0][1], s.preserve_client_ip) == (True, True)
    assert s.warnings == (f"{TG}.80: release v2.13.3 of the AWS Load Balancer Controller does not read it (v2.14.0 and "
                          "later do)",)  # fmt: skip
    s = ctl.resolve(ann, ports=PORTS[:1])
    assert (_tgs(s)[0][1], s.preserve_client_ip) == (False, False)
    assert s.warnings == (f"{TG}.80: releases of the AWS Load Balancer Controller before v2.14.0 do not read it; "
                          "hairpin assumes a current release (the input does not give the controller's release)",)  # fmt: skip


@pytest.mark.parametrize(("value", "problem"), [
    ("preserve_client_ip.enabled=maybe", f"{TG}.80: preserve_client_ip.enabled='maybe' is not a boolean (the controller "
                                         "refuses the Service)"),
    # validateAndParseAttributes parses the value with strconv.ParseBool, which refuses "" too
    ("preserve_client_ip.enabled=", f"{TG}.80: preserve_client_ip.enabled='' is not a boolean (the controller refuses "
                                    "the Service)"),
    ("deregistration_delay.timeout_seconds", _refusal(f"{TG}.80", "deregistration_delay.timeout_seconds")),
])  # fmt: skip
def test_a_ports_attributes_the_controller_refuses(value: str, problem: str) -> None:
    s = ctl.resolve({**EXTERNAL, f"{TG}.80": value}, ports=PORTS, lbc=V)
    assert (s.controller, s.problems) == ("none", (problem,))


def test_per_port_attributes_are_the_controllers_not_ignored() -> None:
    from hairpin.aws.ignored import ignored_annotations

    ann = {**EXTERNAL, f"{TG}.80": "preserve_client_ip.enabled=false"}
    assert ignored_annotations(ann, ctl.resolve(ann, ports=PORTS, lbc=V)) == ()
    nlb = {ctl.TYPE: "nlb", f"{TG}.80": "preserve_client_ip.enabled=false"}
    (got,) = ignored_annotations(nlb, ctl.resolve(nlb, ports=PORTS))
    assert (got.annotation, got.why) == (f"{TG}.80", "only the AWS Load Balancer Controller reads it")


def test_check_judges_a_port_by_its_own_attributes() -> None:
    """preserve_client_ip.enabled=false on the Service, =true on port 80: port 80's target group keeps the
    caller's address, so the Service is at risk (before, hairpin read the base annotation only: not at risk)."""
    svc = _service()
    svc["metadata"]["annotations"] = {**EXTERNAL, TG: "preserve_client_ip.enabled=false",
                                      f"{TG}.80": "preserve_client_ip.enabled=true"}  # fmt: skip
    text = "---\n".join(yaml.safe_dump(d) for d in (_deployment("public.ecr.aws/eks/aws-load-balancer-controller:v2.14.1"),
                                                    svc))  # fmt: skip
    (f,) = chk.check(m.parse_yaml(text, "t.yaml")).findings
    assert (f.at_risk, f.settings.preserve_client_ip, f.warnings) == (True, True, [])
    assert [(p.port, p.preserve_client_ip) for p in f.ports] == [(80, True)]
    svc["metadata"]["annotations"].pop(f"{TG}.80")
    text = "---\n".join(yaml.safe_dump(d) for d in (_deployment("public.ecr.aws/eks/aws-load-balancer-controller:v2.14.1"),
                                                    svc))  # fmt: skip
    (f,) = chk.check(m.parse_yaml(text, "t.yaml")).findings
    assert (f.at_risk, f.settings.preserve_client_ip) == (False, False)


def test_the_preservation_fix_sets_every_annotation_that_decides_it() -> None:
    """The fix 'no-preserve-client-ip' writes the Service's target group attributes with the other keys kept
    (a value with a comma escaped, as the controller reads it from v2.14.1), and each per-port annotation that sets
    preservation, which would otherwise win for its port."""
    svc = _service()
    svc["metadata"]["annotations"] = {**EXTERNAL, TG: "stickiness.type=source_ip, tag=a\\,b",
                                      f"{TG}.80": "preserve_client_ip.enabled=true,deregistration_delay.timeout_seconds=5",
                                      f"{TG}.443": "deregistration_delay.timeout_seconds=9"}  # fmt: skip
    text = "---\n".join(yaml.safe_dump(d) for d in (_deployment("public.ecr.aws/eks/aws-load-balancer-controller:v2.14.1"),
                                                    svc))  # fmt: skip
    (f,) = chk.check(m.parse_yaml(text, "t.yaml")).findings
    fix = next(x for x in f.fixes if x.name == "no-preserve-client-ip")
    assert fix.annotations == (
        (TG, "stickiness.type=source_ip,tag=a\\,b,preserve_client_ip.enabled=false"),
        (f"{TG}.80", "preserve_client_ip.enabled=false,deregistration_delay.timeout_seconds=5"),
    )
    # applied, the Service is no longer at risk
    svc["metadata"]["annotations"].update(dict(fix.annotations))
    text = "---\n".join(yaml.safe_dump(d) for d in (_deployment("public.ecr.aws/eks/aws-load-balancer-controller:v2.14.1"),
                                                    svc))  # fmt: skip
    (f,) = chk.check(m.parse_yaml(text, "t.yaml")).findings
    assert (f.at_risk, f.settings.preserve_client_ip, f.settings.problems) == (False, False, ())
