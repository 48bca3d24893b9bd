"""IPv4-mapped source ranges and the API server's warnings (hairpin.kube.apivalidation go_network, cidr_warnings).

Go's net.IPNet reads ``::ffff:10.0.0.0/104`` as the IPv4 network 10.0.0.0/8 (IPNet.String, IPNet.Contains, k8s.io/utils
IPFamilyOfCIDR), and so do the in-tree provider (its security group rules) and kube-proxy from 1.30 (its rules).  The
AWS Load Balancer Controller hands the string to EC2 as written, as an IPv6 rule: hairpin counts that rule as
admitting nobody and leaves the callers its IPv4 reading would admit undecided.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.aws.security_groups import mapped_ranges, parse_ranges
from hairpin.cli.main import main
from hairpin.kube import apivalidation as api
from test_check_srcrange import _doc, _write
from test_check_srcrange_ipv6 import dump, lbc, node, pod, service

P = "spec.loadBalancerSourceRanges[0]"


@pytest.mark.parametrize(
    ("text", "go"),
    [("::ffff:10.0.0.0/104", "10.0.0.0/8"), ("::ffff:a00:0/104", "10.0.0.0/8"), ("::ffff:10.1.2.3/128", "10.1.2.3/32"),
     ("::ffff:0:0/96", "0.0.0.0/0"),  # every IPv4 address
     ("::ffff:10.0.0.0/95", "::fffe:0:0/95"),  # the mask clears a bit of ffff: IPv6
     ("::ffff:10.0.0.0/64", "::/64"), ("::10.0.0.0/104", "::a00:0/104"),  # IPv4-compatible: IPv6 to Go
     ("10.0.0.0/8", "10.0.0.0/8"), ("2001:db8::/32", "2001:db8::/32")],
)  # fmt: skip
def test_go_reads_a_mapped_network_as_ipv4(text: str, go: str) -> None:
    net = api.parse_cidr_sloppy(text)
    assert net is not None and str(api.go_network(net)) == go
    assert api.is_ipv4_mapped(net) == (net.version == 6 and ":" not in go)
    assert parse_ranges([text]) == (go,)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_any_mapped_network_is_its_ipv4_network(v4: int, bits: int) -> None:
    text = f"::ffff:{ipaddress.IPv4Address(v4)}/{96 + bits}"
    want = ipaddress.IPv4Network((v4, bits), strict=False)
    net = api.parse_cidr_sloppy(text)
    assert net is not None and api.go_network(net) == want
    assert mapped_ranges([f" {text}\t"]) == ((text, str(want)),)
    warned = api.cidr_warnings(P, text)
    assert warned[-1] == (f'{P}: non-standard CIDR value "{text}" will be considered invalid in a future Kubernetes '
                          f'release: use "{want}"')  # fmt: skip
    assert len(warned) == (1 if want.network_address == ipaddress.IPv4Address(v4) else 2)


@pytest.mark.parametrize(
    ("text", "warned"),
    [("10.0.0.0/8", []), ("2001:db8::/32", []), ("0.0.0.0/0", []), ("::/0", []),
     ("10.1.0.0/8", [f'{P}: CIDR value "10.1.0.0/8" is ambiguous in this context (should be "10.0.0.0/8" or '
                     '"10.1.0.0/32"?)']),
     ("2001:db8::1/32", [f'{P}: CIDR value "2001:db8::1/32" is ambiguous in this context (should be "2001:db8::/32" or '
                         '"2001:db8::1/128"?)']),
     ("010.0.0.0/8", [f'{P}: non-standard CIDR value "010.0.0.0/8" will be considered invalid in a future Kubernetes '
                      'release: use "10.0.0.0/8"']),
     ("10.0.0.0/08", [f'{P}: non-standard CIDR value "10.0.0.0/08" will be considered invalid in a future Kubernetes '
                      'release: use "10.0.0.0/8"']),
     ("00001::/16", [f'{P}: non-standard CIDR value "00001::/16" will be considered invalid in a future Kubernetes '
                     'release: use "1::/16"']),
     ("2001:DB8::/32", [f'{P}: IPv6 CIDR value "2001:DB8::/32" should be in RFC 5952 canonical format '
                        '("2001:db8::/32")']),
     ("2001:db8:0:0::/64", [f'{P}: IPv6 CIDR value "2001:db8:0:0::/64" should be in RFC 5952 canonical format '
                            '("2001:db8::/64")']),
     (" 10.0.0.0/8", []), ("bad", [])],  # what ParseCIDRSloppy refuses: nothing (GetWarningsForCIDR logs it)
)  # fmt: skip
def test_the_api_servers_warnings_word_for_word(text: str, warned: list[str]) -> None:
    assert api.cidr_warnings(P, text) == warned


def test_only_the_fields_items_are_warned_of() -> None:
    assert api.source_range_warnings(["10.0.0.0/8", "10.1.0.0/16", "010.0.0.0/8"]) == [
        'spec.loadBalancerSourceRanges[2]: non-standard CIDR value "010.0.0.0/8" will be considered invalid in a future '
        'Kubernetes release: use "10.0.0.0/8"']  # fmt: skip


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["check", str(path), "--format", "json"])
    return int(exc.value.code or 0), json.loads(capsys.readouterr().out)["services"][0]


@pytest.mark.parametrize("ranges", [["::ffff:192.168.0.0/112"], ["::ffff:10.0.0.0/104"]])
def test_the_in_tree_provider_admits_the_ipv4_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      ranges: list[str]) -> None:  # fmt: skip
    # the seed's in-tree NLB (instance targets, client IP preserved), addresses not captured by kube-proxy: its
    # security group rules hold ipnet.String(), the IPv4 network, so the verdict is that of the IPv4 range
    v4 = str(api.go_network(api.parse_cidr_sloppy(ranges[0])))  # type: ignore[arg-type]
    hostname = [{"hostname": "x.elb.eu-west-1.amazonaws.com"}]
    code, got = _check(_write(tmp_path, _doc(hostname, ranges), "mapped.yaml"), capsys)
    want_code, want = _check(_write(tmp_path, _doc(hostname, [v4]), "plain.yaml"), capsys)
    assert got.pop("warnings")[-1].endswith(f'use "{v4}"') and want.pop("warnings") == []
    got["file"] = want["file"]
    assert (code, got) == (want_code, want)
    assert (want["security_group_drop"] is None) == (v4 == "192.168.0.0/16")


NODES = [node("ip-a", "eu-west-1a", "10.0.1.10"), node("ip-b", "eu-west-1b", "10.0.2.10")]
PODS = [
    pod("shop", "web-1", "ip-a", "10.0.1.21", app="web"),
    pod("shop", "web-2", "ip-b", "10.0.2.21", app="web"),
    pod("default", "client-a", "ip-a", "10.0.1.31"),
    pod("default", "client-b", "ip-b", "172.16.0.31"),
]
DOUBT = ("spec.loadBalancerSourceRanges has the IPv4-mapped range(s) ::ffff:10.0.0.0/104 (IPv4 10.0.0.0/8 to "
         "Kubernetes, kube-proxy and the in-tree provider): the AWS Load Balancer Controller hands them to EC2 as "
         "written, as IPv6 security group rules, and EC2 does not document what such a rule admits, so hairpin counts "
         "them as admitting nobody; write 10.0.0.0/8 instead")  # fmt: skip
UNDECIDED = ("3 in-cluster caller pod(s) are inside only the IPv4 reading of those ranges (e.g. default/client-a "
             "(10.0.1.31), shop/web-1 (10.0.1.21), shop/web-2 (10.0.2.21)): hairpin cannot tell whether the security "
             "group drops their SYNs")  # fmt: skip
API = (f'the API server (Kubernetes 1.33 and later) warns: {P}: non-standard CIDR value "::ffff:10.0.0.0/104" will be '
       'considered invalid in a future Kubernetes release: use "10.0.0.0/8"')  # fmt: skip


def test_the_load_balancer_controller_leaves_the_mapped_readers_undecided(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    doc = dump(lbc(), *NODES, *PODS, service(fams=("IPv4",), ranges=["::ffff:10.0.0.0/104", "192.168.0.0/16"]))
    path = tmp_path / "lbc.json"
    path.write_text(json.dumps(doc))
    code, svc = _check(path, capsys)
    assert code == 1 and svc["warnings"] == [DOUBT, UNDECIDED, API]
    # client-b is outside both readings: dropped whatever EC2 does with the mapped rule
    assert svc["security_group_drop"] == (
        "1 in-cluster caller pod(s) are outside spec.loadBalancerSourceRanges (::ffff:10.0.0.0/104, 192.168.0.0/16), "
        "e.g. default/client-b (172.16.0.31) on node ip-b (1 reach it over IPv4, the family the target group keeps the "
        "caller's address in, from outside the IPv4 ranges (192.168.0.0/16)): the NLB's security group drops every SYN "
        "they send, so each of their connections times out (P = 1), whatever target the NLB picks")  # fmt: skip
    # nobody outside both readings: warnings only, no drop named
    doc = dump(lbc(), *NODES, *PODS[:3], service(fams=("IPv4",), ranges=["::ffff:10.0.0.0/104"]))
    path.write_text(json.dumps(doc))
    _, svc = _check(path, capsys)
    assert (svc["security_group_drop"], svc["warnings"]) == (None, [DOUBT, UNDECIDED, API])


def test_a_scenario_leaves_the_mapped_range_out_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, out = tmp_path / "lbc.json", tmp_path / "s.yaml"
    doc = dump(lbc(), *NODES, *PODS, service(fams=("IPv4",), ranges=["::ffff:10.0.0.0/104", "192.168.0.0/16"]))
    path.write_text(json.dumps(doc))
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(path), "--service", "shop/web", "--client-pod", "default/client-a",
              "-o", str(out)])  # fmt: skip
    assert exc.value.code in (0, None)
    notes = [line for line in out.read_text().splitlines() if "source range" in line]
    assert notes == [
        "# - IPv4-mapped source range(s) ::ffff:10.0.0.0/104 left out, as admitting nobody: the AWS Load Balancer "
        "Controller hands them to EC2 as IPv6 rules, whose effect EC2 does not document; callers inside 10.0.0.0/8 may "
        "in fact be admitted",
        "# - source ranges from spec.loadBalancerSourceRanges: 192.168.0.0/16"]  # fmt: skip
    lb = yaml.safe_load(out.read_text())["services"][0]["load_balancer"]
    assert lb["source_ranges"] == ["192.168.0.0/16"]
