"""The VPC CNI's init container aws-vpc-cni-init and IPv6 mode (``hairpin.kube.cni_mode`` init_ipv6_warning):
amazon-vpc-cni-k8s ``cmd/aws-vpc-cni-init/main.go`` configureIPv6Settings turns net.ipv6.conf.all.forwarding on only
when the init container's own ENABLE_IPv6 is true (GetBoolAsStringEnvVar); the README sets it on both containers."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from hairpin.diagnose import check as chk
from hairpin.kube.cni_mode import (
    INIT,
    INIT_IPV6,
    NO_INIT,
    TEMPLATE,
    cni_settings,
    init_ipv6_warning,
    no_init_ipv6_warning,
)
from hairpin.kube.datapath import Seen
from hairpin.parsers import manifests as m
from test_check_cni_ipv6 import DATA, V6, aws_node, inited
from test_check_cni_pods import V4, daemon_set

A, B, C = (f"aws-node in pod kube-system/aws-node-{x}" for x in "abc")
WHY = (": that container turns net.ipv6.conf.all.forwarding on only when its own ENABLE_IPv6 is true "
       "(amazon-vpc-cni-k8s cmd/aws-vpc-cni-init/main.go configureIPv6Settings; the README sets it on both "
       "containers), so the node forwards no IPv6 packet to or from its pods unless its OS, or an earlier aws-node "
       "pod's init container, turned forwarding on")  # fmt: skip


def warned(where: str, said: str, others: str = "") -> str:
    return (f"VPC CNI settings for IPv6 are incomplete: ENABLE_IPv6=true on {where} sets IPv6 mode, but its init "
            f"container aws-vpc-cni-init has {said}{others}{WHY}")  # fmt: skip


def init(env: Mapping[str, str | None], value: str | bool | None) -> dict[str, str | None]:
    """``env`` with the init container beside it: ``False`` none, ``True`` one without ENABLE_IPv6, else its value."""
    if isinstance(value, bool):
        return {**env, INIT: ""} if value else dict(env)
    return {**env, INIT: "", INIT_IPV6: value}


@pytest.mark.parametrize(("sources", "want"), [
    ([(A, init(V6, True))], warned(A, "ENABLE_IPv6 not set")),
    ([(A, init(V6, "false"))], warned(A, "ENABLE_IPv6=false")),
    ([(A, init(V6, "yes"))], warned(A, "ENABLE_IPv6=yes")),  # ParseBool refuses it: the default, false
    ([(A, init(V6, ""))], warned(A, "ENABLE_IPv6=")),
    # what GetBoolAsStringEnvVar reads as true (v1.13.0 on): the node is set up
    ([(A, init(V6, "true"))], None), ([(A, init(V6, "True"))], None), ([(A, init(V6, "1"))], None),
    ([(A, init(V6, None))], None),  # valueFrom: not in the input, no claim
    ([(A, init(V6, False))], None),  # no init container in the input: no claim
    ([(A, init(V4, "false"))], None),  # IPv4 mode: the init container's IPv6 setup is not needed
    ([(A, init({**V6, "ENABLE_PREFIX_DELEGATION": "false"}, True))], None),  # refused by ipamd: said elsewhere
    ([(A, init(V6, "true")), (B, init(V6, True)), (C, init(V6, "0")), (TEMPLATE, init(V6, "false"))],
     warned(B, "ENABLE_IPv6 not set", " (and so do 2 other aws-node sources)")),
    ([(A, init(V6, "true")), (TEMPLATE, init(V6, True))], warned(TEMPLATE, "ENABLE_IPv6 not set")),
    ([(A, init(V6, "f")), (B, init(V6, "TRUE"))], warned(A, "ENABLE_IPv6=f")),
    ([(A, init(V6, "f")), (B, init(V6, "F"))], warned(A, "ENABLE_IPv6=f", " (and so does 1 other aws-node source)")),
])  # fmt: skip
def test_init_ipv6_warning(sources: list[tuple[str, dict[str, str | None]]], want: str | None) -> None:
    assert init_ipv6_warning(sources) == want


def test_the_warning_joins_the_settings_warnings() -> None:
    assert cni_settings([(A, init(V6, True))]).warnings == (warned(A, "ENABLE_IPv6 not set"),)
    # the template stands in for absent pods, its init container too
    assert cni_settings([], (TEMPLATE, init(V6, "false"))).warnings == (warned(TEMPLATE, "ENABLE_IPv6=false"),)


def with_init(doc: dict[str, Any], env: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``doc`` (a pod or the DaemonSet) with the init container aws-vpc-cni-init, its ``env`` as given."""
    doc = copy.deepcopy(doc)
    spec = doc["spec"]["template"]["spec"] if doc["kind"] == "DaemonSet" else doc["spec"]
    spec["initContainers"] = [{"name": "other-init", "env": [{"name": "ENABLE_IPv6", "value": "true"}]},
                              {"name": INIT, "env": [{"name": "DISABLE_TCP_EARLY_DEMUX", "value": "false"}, *(env or [])]}]  # fmt: skip
    return doc


def test_seen_reads_the_init_container_of_pods_and_template() -> None:
    s = Seen()
    s.see_pods([with_init(aws_node(V6, "aws-node-a"), None),
                with_init(aws_node(V6, "aws-node-b"), [{"name": "ENABLE_IPv6", "value": "false"},
                                                       {"name": "ENABLE_IPv6", "value": "true"}]),
                with_init(aws_node(V6, "aws-node-c"), [{"name": "ENABLE_IPv6", "valueFrom": {"configMapKeyRef": {}}}]),
                aws_node(V6, "aws-node-d")])  # fmt: skip
    assert s.cni_envs == [(A, {**V6, INIT: ""}), (B, {**V6, INIT: "", INIT_IPV6: "true"}),  # the last entry wins
                          (C, {**V6, INIT: "", INIT_IPV6: None}),
                          ("aws-node in pod kube-system/aws-node-d", inited(V6))]  # another init container is not read  # fmt: skip
    s.see_daemon_set(with_init(daemon_set(V6), [{"name": "ENABLE_IPv6", "value": "false"}]))
    assert s.cni_template == (TEMPLATE, {**V6, INIT: "", INIT_IPV6: "false"})
    assert s.cni.warnings == (warned(A, "ENABLE_IPv6 not set", " (and so does 1 other aws-node source)"),)


def test_check_says_it() -> None:
    """refused.yaml's internal NLB without spec.ipFamilies, and an aws-node pod in IPv6 mode whose init container
    leaves ENABLE_IPv6 at the manifest's "false": the report's VPC CNI warnings say it, the verdict is as before."""
    text = (DATA / "refused.yaml").read_text().replace("  ipFamilies: [IPv6]\n  ipFamilyPolicy: SingleStack\n", "")
    pod = with_init(aws_node(V6, "aws-node-a"), [{"name": "ENABLE_IPv6", "value": "false"}])
    report = chk.check(m.parse_yaml(text + "---\n" + yaml.safe_dump(pod), "t.yaml"))
    assert report.cni_warnings == (warned(A, "ENABLE_IPv6=false"),)
    (f,) = report.findings
    assert (f.settings.controller, f.warnings) == ("none", [])


def test_the_docs_show_the_warning_as_said() -> None:
    text = (Path(__file__).parent.parent / "docs" / "check.md").read_text()
    assert f"\nwarning: {warned(A, 'ENABLE_IPv6=false')}\n" in text


# ---------------------------------------------------------------------------- a pod with no init container at all

BARE_WHY = (": aws-vpc-cni-init, which every manifest of the CNI runs beside it, is what turns "
            "net.ipv6.conf.all.forwarding on in IPv6 mode (amazon-vpc-cni-k8s cmd/aws-vpc-cni-init/main.go "
            "configureIPv6Settings; ipamd and the CNI plugins do not), so the node forwards no IPv6 packet to or from "
            "its pods unless its OS, or an earlier aws-node pod's init container, turned forwarding on")  # fmt: skip


def bare(where: str, others: str = "") -> str:
    return (f"VPC CNI settings for IPv6 are incomplete: ENABLE_IPv6=true on {where} sets IPv6 mode, but its pod has "
            f"no init container{others}{BARE_WHY}")  # fmt: skip


NONE = {NO_INIT: ""}


@pytest.mark.parametrize(("sources", "want"), [
    ([(A, {**V6, **NONE})], bare(A)),
    ([(TEMPLATE, {**V6, **NONE})], bare(TEMPLATE)),
    ([(A, init(V6, "true")), (B, {**V6, **NONE}), (C, {**V6, **NONE}), (TEMPLATE, {**V6, **NONE})],
     bare(B, " (and so do 2 other aws-node sources)")),
    ([(A, {**V6, **NONE}), (B, {**V4, **NONE})], bare(A)),  # IPv4 mode needs no IPv6 forwarding
    ([(A, {**V4, **NONE})], None),
    ([(A, {**V6, "ENABLE_IPv6": None, **NONE})], None),  # valueFrom: the mode is not known, no claim
    ([(A, {**V6, "ENABLE_PREFIX_DELEGATION": "false", **NONE})], None),  # refused by ipamd: said elsewhere
    ([(A, init(V6, True))], None),  # an init container: init_ipv6_warning's case
    ([(A, V6)], None),  # init containers, none of them aws-vpc-cni-init (another name for its image?): no claim
])  # fmt: skip
def test_no_init_ipv6_warning(sources: list[tuple[str, dict[str, str | None]]], want: str | None) -> None:
    assert no_init_ipv6_warning(sources) == want


def test_seen_tells_no_init_container_from_another_one() -> None:
    s = Seen()
    other = aws_node(V6, "aws-node-b", init=False)
    other["spec"]["initContainers"] = [{"name": "vpc-cni-init-renamed", "env": []}]
    s.see_pods([aws_node(V6, "aws-node-a", init=False), other])
    assert s.cni_envs == [(A, {**V6, NO_INIT: ""}), (B, V6)]
    assert s.cni.warnings == (bare(A),)


def test_check_says_it_of_a_pod_with_no_init_container() -> None:
    text = (DATA / "refused.yaml").read_text().replace("  ipFamilies: [IPv6]\n  ipFamilyPolicy: SingleStack\n", "")
    both = [aws_node(V6, "aws-node-a", init=False), with_init(aws_node(V6, "aws-node-b"), None)]
    report = chk.check(m.parse_yaml(text + "".join("---\n" + yaml.safe_dump(p) for p in both), "t.yaml"))
    assert report.cni_warnings == (warned(B, "ENABLE_IPv6 not set"), bare(A))


def test_the_docs_show_the_no_init_warning_as_said() -> None:
    text = (Path(__file__).parent.parent / "docs" / "check.md").read_text()
    assert f"\nwarning: {bare(A)}\n" in text
