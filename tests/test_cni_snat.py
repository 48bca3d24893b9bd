"""The AWS VPC CNI's SNAT settings read from the aws-node sources (``hairpin.kube.cni_mode``: ``snat_type``,
``exclude_snat_cidrs``; ``hairpin.kube.cni_snat``), what ``scenario from-cluster`` writes of them, and that
``hairpin check`` gives the same verdicts whatever they say.

Facts: aws/amazon-vpc-cni-k8s v1.23.0 ``pkg/networkutils/network.go`` (useExternalSNAT, getBoolEnvVar, typeOfSNAT,
parseCIDRString, buildIptablesSNATRules).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hairpin.cli.main import main
from hairpin.kube.cni import iptables_save
from hairpin.kube.cni_mode import DIFFER, cni_settings, exclude_snat_cidrs, snat_type
from hairpin.kube.cni_snat import Snat, scenario_external_snat, snat_settings
from hairpin.kube.from_cluster import NOT_MODELLED, scenario_from_objects
from hairpin.parsers import manifests as m
from test_check_cni_ipv6 import aws_node
from test_check_cni_pods import TEMPLATE, V4, A, B, _dump, daemon_set
from test_check_datapath import KUBE_PROXY, NODES, PROXY_CONFIG, service

EXT, RND, EXC = "AWS_VPC_K8S_CNI_EXTERNALSNAT", "AWS_VPC_K8S_CNI_RANDOMIZESNAT", "AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS"
SVC = "nginx-demo/service-nginx-demo"


# ------------------------------------------------------------------------------------------ the CNI's readings


@pytest.mark.parametrize(("value", "want"), [
    (None, None),  # valueFrom: not known
    ("", "prng"),  # unset or empty: the default
    ("prng", "prng"),
    ("hashrandom", "hashrandom"),
    ("none", "none"),
    ("None", "prng"),  # case sensitive: an unknown value is the default
    (" none", "prng"),  # not trimmed
    ("random-fully", "prng"),
])  # fmt: skip
def test_snat_type(value: str | None, want: str | None) -> None:
    assert snat_type(value) == want


@pytest.mark.parametrize(("value", "want"), [
    (None, None),
    ("", ((), ())),
    ("10.1.2.3/16", (("10.1.0.0/16",), ())),  # the network, as Go's IPNet.String gives it
    (" 172.16.0.0/12 ,192.168.0.0/16", (("172.16.0.0/12", "192.168.0.0/16"), ())),  # TrimSpace
    ("0.0.0.0/0", (("0.0.0.0/0",), ())),
    ("10.0.0.0/008", (("10.0.0.0/8",), ())),  # Go's dtoi reads leading zeros in the length
    # skipped: IPv6, no length, a netmask, a leading zero in the address, a length over 32, an empty entry
    ("fd00::/8,10.0.0.0,10.0.0.0/255.0.0.0,010.0.0.0/8,10.0.0.0/33,,10.2.0.0/16",
     (("10.2.0.0/16",), ("fd00::/8", "10.0.0.0", "10.0.0.0/255.0.0.0", "010.0.0.0/8", "10.0.0.0/33", ""))),
    ("::ffff:10.0.0.0/104", None),  # Go's To4 takes an IPv4-mapped address as IPv4: not claimed
])  # fmt: skip
def test_exclude_snat_cidrs(value: str | None, want: object) -> None:
    assert exclude_snat_cidrs(value) == want


@given(st.lists(st.tuples(st.ip_addresses(v=4), st.integers(0, 32), st.sampled_from(["", " ", "\t"])), max_size=5))
def test_exclude_snat_cidrs_takes_every_ipv4_cidr(entries: list[tuple[Any, int, str]]) -> None:
    value = ",".join(f"{pad}{ip}/{bits}{pad}" for ip, bits, pad in entries)
    want = tuple(str(ipaddress.IPv4Network(f"{ip}/{bits}", strict=False)) for ip, bits, _ in entries)
    assert exclude_snat_cidrs(value) == ((want, ()) if entries else ((), ()))


@given(st.text(max_size=60))
def test_exclude_snat_cidrs_never_raises(value: str) -> None:
    got = exclude_snat_cidrs(value)
    if got is not None:
        assert len(got[0]) + len(got[1]) == (len(value.split(",")) if value else 0)
        assert all(ipaddress.IPv4Network(c).with_prefixlen == c for c in got[0])


# ------------------------------------------------------------------------------------------ sources that differ


def test_sources_that_differ_on_snat_are_warned_and_the_mode_stays_known() -> None:
    got = cni_settings([(A, {**V4, EXT: "true"}), (B, {**V4, EXT: "false", RND: "hashrandom"})])
    assert got.mode is not None and got.split is None
    assert got.warnings == (
        f"{DIFFER} {A} has {EXT}=true, {RND} not set; {B} has {EXT}=false, {RND}=hashrandom (2 aws-node pods read)",
    )
    # read as the CNI reads them: "TRUE" and "1" alike, an unknown randomisation the default, the same networks
    same = cni_settings([(A, {EXT: "TRUE", RND: "bogus", EXC: "10.1.2.3/16"}),
                         (B, {EXT: "1", RND: "prng", EXC: " 10.1.0.0/16,fd00::/8"})])  # fmt: skip
    assert same.warnings == ()
    assert snat_settings([(A, {EXT: "true"}), (B, {EXT: "1"})], (TEMPLATE, {EXT: "false"})) == Snat(
        A, {EXT: "true"}, frozenset({EXT})
    )
    assert snat_settings([]) is None
    assert snat_settings([], (TEMPLATE, {EXC: "10.0.0.0/8"})) == Snat(TEMPLATE, {EXC: "10.0.0.0/8"}, frozenset())


# ------------------------------------------------------------------------------------------ the scenario's key


EXC_NOTE = (f"{NOT_MODELLED} {EXC} on {A}: the CNI does not SNAT pods' traffic to 10.0.0.0/8, 100.64.0.0/10; the "
            "scenario has no key for it: its pods' traffic to those outside the VPC is SNATed to the "
            "node's address, which changes no verdict")  # fmt: skip


@pytest.mark.parametrize(("env", "differ", "want"), [
    ({}, (), (False, [])),
    ({EXT: "true"}, (), (True, [f"cni.external_snat: true from {EXT}=true on {A}"])),
    ({EXT: "false"}, (), (False, [f"cni.external_snat: false from {EXT}=false on {A}"])),
    ({EXT: "yes"}, (), (False, [f"cni.external_snat: false from {EXT}=yes on {A} (not a value Go's strconv.ParseBool "
                                "takes: the CNI logs it and uses its default, false)"])),
    ({EXT: None}, (), (False, [f"VPC CNI settings: {EXT} from a ConfigMap or Secret (valueFrom) on {A}, not in the "
                               "input: cni.external_snat: false, the CNI's default, written; no verdict depends on it"])),
    ({EXT: "true"}, (EXT,), (False, [f"VPC CNI settings: the aws-node sources differ on {EXT}: cni.external_snat: "
                                     "false, the CNI's default, written; no verdict depends on it"])),
    # external SNAT on: no SNAT rule, so neither the randomisation nor the exclusions act on anything
    ({EXT: "true", RND: "none", EXC: "10.0.0.0/8"}, (), (True, [f"cni.external_snat: true from {EXT}=true on {A}"])),
    ({RND: "prng"}, (), (False, [])),
    ({RND: "Prng"}, (), (False, [f"{RND}=Prng on {A}: SNAT --random-fully (not prng, hashrandom or none: the CNI logs "
                                 "it and uses its default, prng)"])),
    ({RND: "none"}, (), (False, [f"{RND}=none on {A} gives the CNI's SNAT rule no randomisation flag; the scenario "
                                 "has no key for it and writes --random-fully: the port the node's address leaves "
                                 "with differs, no verdict depends on it"])),
    ({RND: "hashrandom"}, (), (False, [f"{RND}=hashrandom on {A} gives the CNI's SNAT rule --random; the scenario has "
                                       "no key for it and writes --random-fully: the port the node's address leaves "
                                       "with differs, no verdict depends on it"])),
    ({RND: "none"}, (RND,), (False, [f"VPC CNI settings: the aws-node sources differ on {RND}: the scenario's SNAT "
                                     "rule takes --random-fully, the default"])),
    ({EXC: "10.0.0.0/8, 100.64.0.0/10"}, (), (False, [EXC_NOTE])),
    ({EXC: "10.0.0.0/8,100.64.0.0/10,fd00::/8,bad\x1b"}, (), (False, [
        EXC_NOTE, f"{EXC} on {A}: the CNI skips fd00::/8, 'bad\\x1b' (not an IPv4 CIDR; pkg/networkutils/network.go "
                  "parseCIDRString)"])),
    ({EXC: ""}, (), (False, [])),
    ({EXC: "10.0.0.0/8"}, (EXC,), (False, [f"{NOT_MODELLED} the aws-node sources differ on {EXC}; the scenario has no "
                                           "key for it: its pods' traffic leaving the VPC is SNATed to the node's "
                                           "address"])),
])  # fmt: skip
def test_scenario_external_snat(env: dict[str, str | None], differ: tuple[str, ...],
                                want: tuple[bool, list[str]]) -> None:  # fmt: skip
    assert scenario_external_snat(Snat(A, env, frozenset(differ)), NOT_MODELLED) == want


def test_no_aws_node_keeps_the_default_unsaid() -> None:
    assert scenario_external_snat(None, NOT_MODELLED) == (False, [])


# ------------------------------------------------------------------------------------------ from-cluster


def test_from_cluster_writes_external_snat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pods = [aws_node({**V4, EXT: "true"}, "aws-node-a"), aws_node({**V4, EXT: "True"}, "aws-node-b")]
    built, notes = scenario_from_objects(m.load_paths([_dump(tmp_path, pods)]), service=SVC)
    assert built.cni.external_snat is True
    assert f"cni.external_snat: true from {EXT}=true on {A}" in notes
    out = tmp_path / "s.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(_dump(tmp_path, pods)), "--service", SVC, "-o", str(out)])
    assert exc.value.code in (0, None)
    assert yaml.safe_load(out.read_text())["cni"]["external_snat"] is True
    capsys.readouterr()
    # the rules the scenario gives the nodes: no SNAT rule (hairpin.kube.cni), where the default has one
    node = built.nodes[0]
    assert "-j SNAT" not in iptables_save(built, node.name)
    assert f"-j SNAT --to-source {node.ip} --random-fully" in iptables_save(
        replace(built, cni=replace(built.cni, external_snat=False)), node.name
    )


def test_from_cluster_pods_that_differ_take_the_default_and_say_so(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    pods = [aws_node({**V4, EXT: "true"}, "aws-node-a"), aws_node(V4, "aws-node-b")]
    items = [*pods, daemon_set({**V4, EXT: "true"})]
    built, notes = scenario_from_objects(m.load_paths([_dump(tmp_path, items)]), service=SVC)
    assert built.cni.external_snat is False
    differ = (f"{DIFFER} {A} has {EXT}=true; {B} has {EXT} not set (2 aws-node pods and the DaemonSet's pod template "
              "read)")  # fmt: skip
    assert [n for n in notes if EXT in n] == [
        differ,
        f"VPC CNI settings: the aws-node sources differ on {EXT}: "
        "cni.external_snat: false, the CNI's default, written; no verdict depends on it",
    ]
    with pytest.raises(SystemExit):
        main(
            ["scenario", "from-cluster", str(_dump(tmp_path, items)), "--service", SVC, "-o", str(tmp_path / "s.yaml")]
        )
    err = capsys.readouterr().err
    assert f"hairpin: warning: {differ}\n" in err
    assert (
        f"hairpin: warning: VPC CNI settings: the aws-node sources differ on {EXT}: cni.external_snat: false, " in err
    )


def test_from_cluster_says_the_exclusions_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pods = [aws_node({**V4, EXC: "10.0.0.0/8,100.64.0.0/10"}, "aws-node-a")]
    built, notes = scenario_from_objects(m.load_paths([_dump(tmp_path, pods)]), service=SVC)
    assert built.cni.external_snat is False
    assert EXC_NOTE in notes
    with pytest.raises(SystemExit):
        main(["scenario", "from-cluster", str(_dump(tmp_path, pods)), "--service", SVC, "-o", str(tmp_path / "s.yaml")])
    assert f"hairpin: warning: {EXC_NOTE}\n" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ check


def _check(
    tmp_path: Path, env: dict[str, str | None], capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    dump = tmp_path / "dump.json"
    items = [*NODES, service(), *KUBE_PROXY, PROXY_CONFIG, aws_node({**V4, **env}, "aws-node-a")]
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    with pytest.raises(SystemExit) as exc:
        main(["check", str(dump), "--format", "json"])
    out, err = capsys.readouterr()
    assert err == ""
    return int(exc.value.code or 0), json.loads(out)


@pytest.mark.parametrize("env", [
    {EXT: "true"}, {RND: "none"}, {RND: "hashrandom"}, {EXC: "0.0.0.0/0"}, {EXT: None, RND: None, EXC: None},
])  # fmt: skip
def test_check_gives_the_same_verdict_whatever_the_snat_settings(tmp_path: Path, env: dict[str, str | None],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    base = _check(tmp_path, {}, capsys)
    assert base[0] == 1  # the internal NLB is at risk
    assert _check(tmp_path, env, capsys) == base
