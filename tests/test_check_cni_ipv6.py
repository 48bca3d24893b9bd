"""The AWS VPC CNI's IPv6 mode read from the aws-node pods' environment (``hairpin.kube.cni_mode``;
aws/amazon-vpc-cni-k8s v1.23.0 ``pkg/ipamd/ipamd.go`` isConfigValid, ``utils/utils.go`` GetBoolAsStringEnvVar),
and what ``hairpin check`` takes from it: the cluster's primary family when the nodes do not show it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hairpin.diagnose import check as chk
from hairpin.kube.cni_mode import INIT, INIT_IPV6, CniMode, cni_mode
from hairpin.kube.datapath import Seen
from hairpin.parsers import manifests as m

DATA = Path(__file__).parent / "data" / "check" / "ipv6"
IPT = "service.beta.kubernetes.io/aws-load-balancer-ip-address-type"
LBC_ERROR = "unsupported IPv6 configuration, lb not dual-stack"
WHERE = "aws-node in pod kube-system/aws-node-x1"
V6 = {"ENABLE_IPv6": "true", "ENABLE_IPv4": "false", "ENABLE_PREFIX_DELEGATION": "true"}
DUAL = "IPv4 and IPv6 are both enabled. VPC CNI currently does not support dual stack mode"
BOTH_OFF = "IPv4 and IPv6 are both disabled. One of them have to be enabled"
NO_PD = "IPv6 is supported only in Prefix Delegation mode. Custom Networking is not supported in IPv6 mode."


@pytest.mark.parametrize(("env", "want"), [
    ({}, None),
    ({"ENABLE_IPv6": None}, None),
    (V6, CniMode(True, f"ENABLE_IPv6=true on {WHERE}")),
    ({**V6, "ENABLE_IPv6": "T"}, CniMode(True, f"ENABLE_IPv6=T on {WHERE}")),
    ({**V6, "ENABLE_IPv4": "true"}, CniMode(True, f"ENABLE_IPv6=true on {WHERE}", DUAL)),
    ({**V6, "ENABLE_PREFIX_DELEGATION": "false"}, CniMode(True, f"ENABLE_IPv6=true on {WHERE}", NO_PD)),
    ({"ENABLE_IPv6": "true", "ENABLE_IPv4": "false"}, CniMode(True, f"ENABLE_IPv6=true on {WHERE}", NO_PD)),
    ({**V6, "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true"}, CniMode(True, f"ENABLE_IPv6=true on {WHERE}", NO_PD)),
    # values from elsewhere (valueFrom) are not known: only a sure refusal is said
    ({**V6, "ENABLE_IPv4": None, "ENABLE_PREFIX_DELEGATION": None}, CniMode(True, f"ENABLE_IPv6=true on {WHERE}")),
    ({"ENABLE_IPv6": "true", "ENABLE_PREFIX_DELEGATION": "true"}, CniMode(True, f"ENABLE_IPv6=true on {WHERE}")),
    # ParseBool refuses "yes": ipamd takes the default, false, and with ENABLE_IPv4=false refuses both off
    ({**V6, "ENABLE_IPv6": "yes"}, CniMode(False, f"ENABLE_IPv6=yes on {WHERE}", BOTH_OFF)),
    ({"ENABLE_IPv6": "yes", "ENABLE_IPv4": "true"}, CniMode(False, f"ENABLE_IPv6=yes on {WHERE}")),
    ({"ENABLE_IPv6": "false", "ENABLE_IPv4": "true"}, CniMode(False, f"ENABLE_IPv6=false on {WHERE}")),
    ({"ENABLE_IPv6": "false", "ENABLE_IPv4": "false"},
     CniMode(False, f"ENABLE_IPv6=false on {WHERE}", BOTH_OFF)),
    ({"ENABLE_IPv6": "true\n"}, CniMode(False, f"ENABLE_IPv6='true\\n' on {WHERE}")),
])  # fmt: skip
def test_cni_mode(env: dict[str, str | None], want: CniMode | None) -> None:
    assert cni_mode(env, WHERE) == want


def aws_node(env: dict[str, str | None], name: str = "aws-node-x1", init: bool = True) -> dict[str, Any]:
    """An aws-node pod whose aws-node container sets ``env`` (None: valueFrom); ``init``: with the init container
    aws-vpc-cni-init every manifest of the CNI runs, its ENABLE_IPv6 the aws-node container's (as the README says)."""
    entries = [{"name": k, "value": v} if v is not None else {"name": k, "valueFrom": {"configMapKeyRef": {
        "name": "amazon-vpc-cni", "key": k}}} for k, v in env.items()]  # fmt: skip
    inits = [{"name": "aws-vpc-cni-init", "env": [{"name": "DISABLE_TCP_EARLY_DEMUX", "value": "false"},
                                                  {"name": "ENABLE_IPv6", "value": env.get("ENABLE_IPv6") or "false"}]}]  # fmt: skip
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system", "labels": {"k8s-app": "aws-node"}},
            "spec": {"nodeName": "n0", **({"initContainers": inits} if init else {}), "containers": [
                {"name": "aws-node", "image": "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.19.2",
                 "env": [{"name": "AWS_VPC_K8S_CNI_LOGLEVEL", "value": "DEBUG"}, *entries]},
                {"name": "aws-eks-nodeagent", "env": [{"name": "ENABLE_IPv6", "value": "false"}]}]},
            "status": {"phase": "Running"}}  # fmt: skip


def inited(env: dict[str, str | None]) -> dict[str, str | None]:
    """What ``Seen`` reads of an ``aws_node(env)`` pod: ``env`` and its init container's ENABLE_IPv6."""
    return {**env, INIT: "", INIT_IPV6: env.get("ENABLE_IPv6") or "false"}


def test_seen_reads_every_aws_node_pods_container() -> None:
    """Each pod's aws-node container (not the node agent's); two pods that disagree on the mode leave it unknown
    (tests/test_check_cni_pods.py has the warnings)."""
    s = Seen()
    s.see_pods([aws_node({**V6, "ENABLE_IPv4": None}), aws_node({"ENABLE_IPv6": "false"}, "aws-node-x2")])
    assert s.cni_envs == [(WHERE, inited({**V6, "ENABLE_IPv4": None})),
                          ("aws-node in pod kube-system/aws-node-x2", inited({"ENABLE_IPv6": "false"}))]  # fmt: skip
    assert s.cni_mode is None
    s = Seen()
    s.see_pods([aws_node({**V6, "ENABLE_IPv4": None}), aws_node({**V6, "ENABLE_IPv4": None}, "aws-node-x2")])
    assert s.cni_mode == CniMode(True, f"ENABLE_IPv6=true on {WHERE}")
    assert s.cni.warnings == ()
    assert Seen().cni_mode is None


def _node(name: str, ip: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": "eu-west-1a"}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}  # fmt: skip


def _report(*docs: dict[str, Any], dualstack: bool = False) -> chk.Report:
    text = (DATA / "refused.yaml").read_text().replace("  ipFamilies: [IPv6]\n  ipFamilyPolicy: SingleStack\n", "")
    if dualstack:
        text = text.replace("annotations:\n", f"annotations:\n    {IPT}: dualstack\n")
    text += "".join("---\n" + yaml.safe_dump(d) for d in docs)
    return chk.check(m.parse_yaml(text, "t.yaml"))


def _check(*docs: dict[str, Any], dualstack: bool = False) -> chk.Finding:
    (f,) = _report(*docs, dualstack=dualstack).findings
    return f


#: how the report says a doubt on the primary family once (``Report.ip_family_warnings``) for refused.yaml's Service
FOR_API = ", for the Service default/api, a manifest without spec.ipFamilies"


def test_a_manifest_in_a_cluster_whose_cni_runs_ipv6_takes_ipv6() -> None:
    """No nodes in the input, aws-node in IPv6 mode: the API server will give the Service IPv6, so the controller
    refuses it without a dualstack NLB, and with one it gets an IPv6 target group."""
    f = _check(aws_node(V6))
    assert (f.at_risk, f.settings.controller, f.warnings) == (False, "none", [])
    assert (f"no spec.ipFamilies: the API server gives the Service the cluster's primary family, IPv6 (the VPC CNI "
            f"runs in IPv6 mode, ENABLE_IPv6=true on {WHERE}: an IPv6 cluster)") in f.settings.steps  # fmt: skip
    assert f.reason.endswith(f'("{LBC_ERROR}", model_build_target_group.go): no load balancer is built')
    f = _check(aws_node(V6), dualstack=True)
    assert (f.at_risk, f.settings.tg_ip_address_type) == (True, "ipv6")
    # IPv6 nodes and the CNI agree
    f = _check(aws_node(V6), _node("n0", "2a05:d018:1:a00::10"))
    assert (f.settings.controller, f.warnings) == ("none", [])


def test_the_cni_in_ipv4_mode_changes_nothing() -> None:
    f = _check(aws_node({"ENABLE_IPv6": "false", "ENABLE_IPv4": "true"}), _node("n0", "10.0.1.10"))
    assert (f.at_risk, f.settings.tg_ip_address_type, f.warnings) == (True, "ipv4", [])


def test_an_ipv4_node_beside_an_ipv6_cni_is_a_warning_and_ipv4_as_before() -> None:
    r = _report(aws_node(V6), _node("n0", "2a05:d018:1:a00::10"), _node("n1", "10.0.1.11"))
    (f,) = r.findings
    assert (f.at_risk, f.settings.tg_ip_address_type, f.warnings) == (True, "ipv4", [])
    assert r.ip_family_warnings == [f"the VPC CNI runs in IPv6 mode (ENABLE_IPv6=true on {WHERE}), but node n1's "
                                    "InternalIP is IPv4 (10.0.1.11): hairpin cannot tell the cluster's primary family, "
                                    "the family the API server gives a Service without spec.ipFamilies; taken as IPv4"
                                    + FOR_API]  # fmt: skip


def test_settings_ipamd_refuses_are_no_evidence() -> None:
    r = _report(aws_node({**V6, "ENABLE_PREFIX_DELEGATION": "false"}))
    (f,) = r.findings
    assert (f.at_risk, f.settings.tg_ip_address_type, f.warnings) == (True, "ipv4", [])
    assert r.ip_family_warnings == [f'the VPC CNI is set to IPv6 mode (ENABLE_IPv6=true on {WHERE}), but ipamd refuses '
                                    f'its settings ("{NO_PD}", pkg/ipamd/ipamd.go isConfigValid) and does not start: '
                                    "hairpin cannot tell the cluster's primary family, the family the API server gives "
                                    "a Service without spec.ipFamilies; taken as IPv4" + FOR_API]  # fmt: skip


def test_a_service_with_its_families_is_not_warned() -> None:
    text = (
        (DATA / "refused.yaml").read_text()
        + "---\n"
        + yaml.safe_dump(aws_node(V6))
        + "---\n"
        + yaml.safe_dump(_node("n1", "10.0.1.11"))
    )
    (f,) = chk.check(m.parse_yaml(text, "t.yaml")).findings
    assert (f.settings.controller, f.warnings) == ("none", [])
