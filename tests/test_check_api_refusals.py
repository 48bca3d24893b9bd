"""The API server's refusals of a Service's load-balancer fields (hairpin.kube.apivalidation): loadBalancerClass,
the source ranges (field and annotation) and, with a known Kubernetes version, mixed protocols."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.cli.main import main
from hairpin.diagnose import check as chk
from hairpin.errors import ParseError
from hairpin.kube import apivalidation as api
from hairpin.parsers import manifests as m

P = "service.beta.kubernetes.io/"
RANGES = P + "load-balancer-source-ranges"
NLB_IP = {P + "aws-load-balancer-type": "nlb-ip", P + "aws-load-balancer-scheme": "internal"}
REFUSED = ": the API server refuses the Service"
KEY_RULE = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")  # fmt: skip


def _svc(typ: str = "LoadBalancer", ann: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    ports = spec.pop("ports", [{"name": "web", "port": 80, "targetPort": 8080, "protocol": "TCP"}])
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "svc", "namespace": "shop", "annotations": dict(NLB_IP if ann is None else ann)},
            "spec": {"type": typ, "selector": {"app": "web"}, "ports": ports, **spec}}  # fmt: skip


def _errors(doc: dict[str, Any]) -> tuple[int, list[tuple[int | None, str]], int]:
    r = chk.check(m.parse_yaml(yaml.safe_dump(doc), "t.yaml"))
    return r.exit_code, [(e.line, e.message) for e in r.errors], len(r.findings)


# -- spec.loadBalancerClass ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "why"),
    [("", "name part must be non-empty"),  # an empty string is a class, not "no class"
     ("service.k8s.aws/nlb/x", f"a valid label key {KEY_RULE} with an optional DNS subdomain prefix and '/' (e.g. "
                               "'example.com/MyName')"),
     ("/nlb", "prefix part must be non-empty"),
     ("Service.k8s.aws/nlb", "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                             "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                             "'example.com', regex used for validation is "
                             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
     ("service.k8s.aws/", "name part must be non-empty"),
     ("service.k8s.aws/nlb-", f"name part {KEY_RULE}"),
     ("x" * 64, "name part must be no more than 63 bytes"),
     ("service.k8s.aws/nlb\n", f"name part {KEY_RULE}")],  # Go's $ is the end of the text, not before a newline
)  # fmt: skip
def test_a_class_that_is_no_label_key_is_refused(cls: str, why: str) -> None:
    shown = cls.replace("\n", "\\n")  # Go's %q
    assert _errors(_svc(loadBalancerClass=cls)) == (2, [(1, f'spec.loadBalancerClass: Invalid value: "{shown}": {why}'
                                                            f"{REFUSED}")], 0)  # fmt: skip


def test_the_bad_value_is_quoted_as_go_quotes_it() -> None:
    # field.Invalid prints a string with %q: escapes, not raw control characters
    assert _errors(_svc(loadBalancerClass='a\tb"c'))[1] == [(1, f'spec.loadBalancerClass: Invalid value: "a\\tb\\"c": '
                                                                f"name part {KEY_RULE}{REFUSED}")]  # fmt: skip
    quoted = [api.go_quote(x) for x in ("\x01", "\xa0", "\u00e9", "\u200b", "\U000e0001", "\\")]
    assert quoted == ['"\\x01"', '"\\u00a0"', '"\u00e9"', '"\\u200b"', '"\\U000e0001"', '"\\\\"']


@pytest.mark.parametrize("cls", ["service.k8s.aws/nlb", "eks.amazonaws.com/nlb", "My_Class.1", "a" * 63, None])
def test_a_label_key_or_null_class_is_taken(cls: str | None) -> None:
    assert _errors(_svc(loadBalancerClass=cls))[1:] == ([], 1)


@pytest.mark.parametrize("typ", ["NodePort", "ClusterIP", "ExternalName", ""])
def test_a_class_on_another_type_is_forbidden(typ: str) -> None:
    # the type is defaulted first: missing or empty is ClusterIP
    forbidden = "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'" + REFUSED
    assert _errors(_svc(typ, loadBalancerClass="service.k8s.aws/nlb")) == (2, [(1, forbidden)], 0)


# -- source ranges -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "ann", "where"),
    [({"loadBalancerSourceRanges": ["10.0.0.0/8"]}, {}, "spec.LoadBalancerSourceRanges"),
     ({}, {RANGES: ""}, f"metadata.annotations[{RANGES}]"),  # set, even empty
     ({"loadBalancerSourceRanges": ["10.0.0.0/8"]}, {RANGES: "bad"}, "spec.LoadBalancerSourceRanges")],
)  # fmt: skip
def test_source_ranges_on_a_nodeport_are_forbidden(spec: dict[str, Any], ann: dict[str, str], where: str) -> None:
    doc = _svc("NodePort", {**NLB_IP, **ann}, **spec)
    assert _errors(doc) == (2, [(1, f"{where}: Forbidden: may only be used when `type` is 'LoadBalancer'{REFUSED}")], 0)


def test_the_field_wins_over_the_annotation_when_it_has_an_item() -> None:
    # ValidateService reads the annotation only when the field is empty, so a bad annotation beside it is not seen
    assert _errors(_svc(loadBalancerSourceRanges=["10.0.0.0/8"], ann={**NLB_IP, RANGES: "x"}))[:2] == (0, [])
    code, errors, _ = _errors(_svc(loadBalancerSourceRanges=[], ann={**NLB_IP, RANGES: "10.0.0.0/8,fe80::1%eth0/64"}))
    assert (code, errors) == (2, [(1, f'metadata.annotations[{RANGES}]: Invalid value: "fe80::1%eth0/64": must be a '
                                      f"valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64){REFUSED}")])  # fmt: skip


@pytest.mark.parametrize(
    ("text", "net"),
    [("10.0.0.0/8", "10.0.0.0/8"), ("10.1.2.3/8", "10.0.0.0/8"), ("010.0.0.0/8", "10.0.0.0/8"),
     ("10.0.0.0/008", "10.0.0.0/8"), ("0000.00.0.0/0", "0.0.0.0/0"), ("::ffff:010.1.2.3/128", "::ffff:a01:203/128"),
     ("2001:DB8::/32", "2001:db8::/32"), ("2001:db8::/032", "2001:db8::/32"),
     ("fe80::1%eth0/64", None), ("fe80::%1/64", None), ("10.0.0.1", None), ("10.0.0.0/255.0.0.0", None),
     ("10.0.0.0/0.255.255.255", None), ("10.0.0.0/33", None), ("2001:db8::/129", None), ("10.0.0.0/-1", None),
     ("10.0.0.0/+8", None), ("10.0.0.0/", None), ("/8", None), ("", None), (" 10.0.0.0/8", None),
     ("10.0.0.0/8 ", None), ("256.0.0.0/8", None), ("0x0a.0.0.0/8", None), ("10.0.0/8", None),
     ("\uff11\uff10.0.0.0/8", None), ("10.0.0.0/\uff18", None), ("00001::/16", "1::/16"), ("fffff::/16", None), ("1:2:3:4:5:6:7:8::/64", None), ("1:2:3:4:5:1.2.3.4/128", None), ("1::2::3/64", None)],
)  # fmt: skip
def test_parse_cidr_sloppy_takes_what_kubernetes_takes(text: str, net: str | None) -> None:
    got = api.parse_cidr_sloppy(text)
    assert (str(got) if got is not None else None) == net


def test_go_trim_space_is_not_pythons_strip() -> None:
    assert api.go_trim_space("\x1c10.0.0.0/8\u3000\x85") == "\x1c10.0.0.0/8"  # U+001C is no space to Go


_octet = st.integers(0, 255)


@settings(max_examples=200, deadline=None)
@given(st.lists(_octet, min_size=4, max_size=4), st.integers(0, 32), st.lists(st.integers(0, 3), min_size=5,
       max_size=5), st.sampled_from(["", " ", "\t", "\u3000", "\n "]))  # fmt: skip
def test_padded_and_zero_led_ipv4_ranges_are_the_network_they_write(octets: list[int], bits: int, zeros: list[int],
                                                                     pad: str) -> None:  # fmt: skip
    text = ".".join("0" * z + str(o) for z, o in zip(zeros, octets, strict=False)) + "/" + "0" * zeros[4] + str(bits)
    want = ipaddress.ip_network((".".join(map(str, octets)), bits), strict=False)
    assert api.parse_cidr_sloppy(text) == want  # decimal, never octal
    doc = _svc(loadBalancerSourceRanges=[pad + text + pad])
    assert _errors(doc)[:2] == (0, [])
    if pad:
        assert api.parse_cidr_sloppy(pad + text) is None  # untrimmed: refused (the API server trims first)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=24))
def test_what_parses_is_a_cidr_of_its_own_text(text: str) -> None:
    got = api.parse_cidr_sloppy(text)
    if got is not None:
        mask = text.partition("/")[2]
        assert "%" not in text and mask.isascii() and mask.isdigit() and int(mask) == got.prefixlen
        assert api.parse_cidr_sloppy(str(got)) == got


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**128 - 1), st.integers(0, 128), st.sampled_from(["compressed", "exploded", "upper"]))
def test_ipv6_ranges_in_any_usual_form_are_their_network(value: int, bits: int, form: str) -> None:
    a = ipaddress.IPv6Address(value)
    text = a.compressed.upper() if form == "upper" else getattr(a, form)
    assert api.parse_cidr_sloppy(f"{text}/{bits}") == ipaddress.IPv6Network((a, bits), strict=False)


@pytest.mark.parametrize("ranges", ["10.0.0.0/8", {"a": "b"}, [10]])
def test_source_ranges_that_are_no_list_of_strings_are_kubectls_refusal(ranges: Any) -> None:
    with pytest.raises(ParseError) as exc:
        m.parse_yaml(yaml.safe_dump(_svc(loadBalancerSourceRanges=ranges)), "t.yaml")
    what = {str: "spec.loadBalancerSourceRanges is a string, not an array",
            dict: "spec.loadBalancerSourceRanges is an object, not an array",
            list: "spec.loadBalancerSourceRanges[0] is an integer, not a string"}[type(ranges)]  # fmt: skip
    assert str(exc.value) == f"t.yaml:1: {what}: kubectl refuses the file"


# -- mixed protocols -----------------------------------------------------------------------------------------------

MIXED = [{"name": "dns", "port": 53, "targetPort": 53, "protocol": "TCP"},
         {"name": "dns-udp", "port": 53, "targetPort": 53, "protocol": "UDP"}]  # fmt: skip


def _cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: dict[str, Any], *args: str
) -> tuple[int, str, list[str]]:
    """(exit code, stderr, the names of the Services judged)."""
    f = tmp_path / "svc.yaml"
    f.write_text(yaml.safe_dump(doc))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["check", str(f), "--format", "json", *args])
    out = capsys.readouterr()
    return (int(exc.value.code or 0), out.err.replace(str(f), "svc.yaml"),
            [x["name"] for x in json.loads(out.out)["services"]])  # fmt: skip


@pytest.mark.parametrize(
    ("version", "words"),
    [("1.23", "may not contain more than 1 protocol when type is 'LoadBalancer'"),
     ("v1.20.7-eks-1", "may not contain more than 1 protocol when type is 'LoadBalancer'"),
     ("1.19", "cannot create an external load balancer with mix protocols")],
)  # fmt: skip
def test_mixed_protocols_before_1_24_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str,
                                                 words: str) -> None:  # fmt: skip
    minor = version.lstrip("v").split("-")[0].split(".")[1]
    code, err, names = _cli(tmp_path, capsys, _svc(ports=MIXED), "--kubernetes-version", version)
    assert (code, names) == (2, [])
    assert err == (f"hairpin: error: svc.yaml:1: spec.ports: Invalid value: (TCP, UDP): {words}: the API "
                              f"server of Kubernetes 1.{minor} refuses the Service (feature gate MixedProtocolLBService "
                              "is on by default from 1.24)\n")  # fmt: skip


@pytest.mark.parametrize("args", [("--kubernetes-version", "1.24"), ("--kubernetes-version", "1.33"), ()])
def test_mixed_protocols_from_1_24_or_an_unknown_version_are_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                     args: tuple[str, ...]) -> None:  # fmt: skip
    # judged as before: an internal nlb-ip NLB, client IP preservation off (ip targets), not at risk
    assert _cli(tmp_path, capsys, _svc(ports=MIXED), *args) == (0, "", ["svc"])


def test_an_existing_mixed_service_is_judged_whatever_the_version(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    doc = _svc(ports=MIXED)
    doc["metadata"]["uid"] = "5f0c"  # read from a cluster: it exists (the gate may be on, or it predates the check)
    assert _cli(tmp_path, capsys, doc, "--kubernetes-version", "1.23") == (0, "", ["svc"])
    assert _cli(tmp_path, capsys, _svc(ports=MIXED[:1]), "--kubernetes-version", "1.19") == (0, "", ["svc"])
