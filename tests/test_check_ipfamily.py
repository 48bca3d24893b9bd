"""``hairpin check`` on IPv6 and dual-stack Services (hairpin.aws.ipfamily): the AWS Load Balancer Controller's
refusal without a dualstack NLB, its IPv6 target groups, the in-tree provider's IPv4 load balancer, EKS Auto
Mode (assumed the controller's rule), values the API server refuses, and IPv4 answers that do not move."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.aws import ipfamily
from hairpin.cli.main import main
from hairpin.diagnose import check as chk
from hairpin.parsers import manifests as m

DATA = Path(__file__).parent / "data" / "check" / "ipv6"
CORPUS = Path(__file__).parent / "data" / "check" / "corpus"
IPT = "service.beta.kubernetes.io/aws-load-balancer-ip-address-type"
LBC_ERROR = "unsupported IPv6 configuration, lb not dual-stack"
NEW = ("ip_families", "ip_family_policy", "ip_address_type", "target_group_ip_address_type")
IPV6_NOTE = (
    "; this holds for callers that reach the NLB over IPv6 (IPv6 target group): an IPv4 caller's connection is "
    "translated to IPv6 and reaches the target from the NLB's own address (client IP preservation has no effect "
    "across families), so IPv4 callers are not sent back to themselves"
)
INSTANCE_WARNING = (
    "instance targets in an IPv6 target group: the AWS Load Balancer Controller builds them, but the Amazon EKS "
    "User Guide says IPv6 load balancing works to ip targets only; if AWS refuses the target group no load balancer "
    "is built (not modelled: the verdict assumes it is)"
)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    with pytest.raises(SystemExit) as exc:
        main(["check", *args, "--format", "json"])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), json.loads(out), err


def _by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in doc["services"]}


def test_ipv6_without_dualstack_is_refused_by_the_controller(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, err = _run([str(DATA / "refused.yaml")], capsys)
    (s,) = doc["services"]
    assert (code, err, doc["errors"]) == (0, "", [])  # as every Service the controller builds nothing for
    assert (s["at_risk"], s["controller"], s["load_balancer"], s["probability"], s["fix"]) == (False, "none", "none",
                                                                                              None, None)  # fmt: skip
    assert s["problems"] == [
        f'the AWS Load Balancer Controller will not provision it: "{LBC_ERROR}" (spec.ipFamilies has IPv6); fix: '
        f"{IPT}: dualstack"
    ]
    assert s["reason"] == (
        f"spec.ipFamilies [IPv6], ipFamilyPolicy SingleStack with an ipv4 NLB (ipv4, the default without {IPT}): the "
        f'AWS Load Balancer Controller refuses it ("{LBC_ERROR}", model_build_target_group.go): no load balancer is built'
    )
    assert [s[k] for k in NEW] == [["IPv6"], "SingleStack", "ipv4", None]


def test_ipv6_with_dualstack_gets_an_ipv6_target_group_at_risk_for_ipv6_callers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, doc, _ = _run([str(DATA / "dualstack.yaml")], capsys)
    (s,) = doc["services"]
    assert (code, s["at_risk"], s["controller"], s["target_type"], s["preserve_client_ip"]) == (
        1, True, "aws-load-balancer-controller", "instance", True)  # fmt: skip
    assert [s[k] for k in NEW] == [["IPv6"], "SingleStack", "dualstack", "ipv6"]
    assert s["reason"].endswith("and the connection times out" + IPV6_NOTE)
    assert s["warnings"] == [INSTANCE_WARNING]
    report = chk.check(m.load_paths([DATA / "dualstack.yaml"]))
    (step,) = [t for t in report.findings[0].settings.steps if t.startswith("target group IP address type")]
    assert step == (
        f"target group IP address type ipv6 (spec.ipFamilies [IPv6], ipFamilyPolicy SingleStack has IPv6, NLB dualstack "
        f"from {IPT}): the NLB reaches the targets over IPv6 at each node's primary IPv6 address; a caller over IPv6 "
        "keeps its address when preservation is on, an IPv4 caller is translated and reaches the target from the "
        "NLB's own address"
    )


def test_prefer_dual_stack_with_ipv6_listed_takes_ipv6_and_undecided_families_are_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, doc, _ = _run([str(DATA / "prefer-dual.yaml")], capsys)
    got = _by_name(doc)
    both, maybe = got["both"], got["maybe"]
    assert code == 1
    # any IPv6 entry makes the controller's target group IPv6 (buildTargetGroupIPAddressType), IPv4 first or not
    assert [both[k] for k in NEW] == [["IPv4", "IPv6"], "PreferDualStack", "dualstack", "ipv6"]
    assert both["at_risk"] and both["reason"].endswith(IPV6_NOTE)
    # a manifest: the API server adds IPv6 only on a dual-stack cluster, which hairpin cannot see
    assert [maybe[k] for k in NEW] == [["IPv4"], "PreferDualStack", "ipv4", None]
    assert maybe["at_risk"] and not maybe["reason"].endswith(IPV6_NOTE)
    assert maybe["warnings"] == [
        "spec.ipFamilies [IPv4], ipFamilyPolicy PreferDualStack: target group IP address type not decided: IPv4 on a "
        "single-stack IPv4 cluster (the verdict below), on a dual-stack cluster the AWS Load Balancer Controller "
        f'refuses it ("{LBC_ERROR}") (not modelled: hairpin cannot see the cluster\'s families in a manifest)'
    ]


def test_in_tree_provider_builds_ipv4_so_an_ipv6_only_service_is_broken_not_at_risk(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, doc, _ = _run([str(DATA / "in-tree.yaml")], capsys)
    (s,) = doc["services"]
    assert (code, s["at_risk"], s["controller"], s["load_balancer"], s["fix"]) == (0, False, "in-tree", "nlb", None)
    assert [s[k] for k in NEW] == [["IPv6"], None, "ipv4", "ipv4"]
    assert s["reason"].endswith(
        "so the load balancer sends every connection to a node port nothing serves: no caller, in the cluster or "
        "outside, gets through (a broken Service, not this failure)"
    )
    assert s["problems"] == [
        "IPv6-only Service behind the in-tree provider's IPv4 load balancer: nothing serves its node port over IPv4 "
        f"(use the AWS Load Balancer Controller with {IPT}: dualstack, or add IPv4 to spec.ipFamilies)"
    ]
    assert [x["annotation"] for x in s["ignored_annotations"]] == []


def test_kubectl_dump_with_ipv6_services(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, err = _run([str(DATA / "dump.json")], capsys)
    got = _by_name(doc)
    assert (code, err) == (1, "")
    web6, api6, legacy = got["web6"], got["api6"], got["dual-legacy"]
    # nodes in two AZs, one each, cross-zone off: 1/(k·n_a) = 1/2 for IPv6 callers
    assert (web6["at_risk"], web6["probability"]) == (True, 0.5)
    assert [web6[k] for k in NEW] == [["IPv6"], "SingleStack", "dualstack", "ipv6"]
    assert web6["reason"].startswith("internal NLB, instance targets, client IP preservation on: a caller on node ip-a "
                                     "(eu-west-1a) is sent back to its own node with P = 1/2 (50.0%)")  # fmt: skip
    assert web6["reason"].endswith(IPV6_NOTE)
    assert (api6["at_risk"], api6["controller"], api6["target_group_ip_address_type"]) == (False, "none", None)
    assert api6["problems"][0].startswith(f'the AWS Load Balancer Controller will not provision it: "{LBC_ERROR}"')
    # a dual-stack Service behind the in-tree provider: IPv4 load balancer, the IPv4 answer as before
    assert [legacy[k] for k in NEW] == [["IPv4", "IPv6"], "RequireDualStack", "ipv4", "ipv4"]
    assert (legacy["at_risk"], legacy["probability"], legacy["warnings"]) == (True, 0.5, [])
    assert not legacy["reason"].endswith(IPV6_NOTE)


def test_values_the_api_server_refuses_are_one_line_each_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, err = _run([str(DATA / "bad.yaml")], capsys)
    f = str(DATA / "bad.yaml")
    assert code == 2 and [s["name"] for s in doc["services"]] == ["fine"]
    assert err.splitlines() == [
        f"hairpin: error: {f}:1: spec.ipFamilies is a string, not an array: kubectl refuses the file",
        f'hairpin: error: {f}:10: spec.ipFamilies[0]: Unsupported value: "IPv7": supported values: "IPv4", "IPv6": '
        "the API server refuses the Service",
        f'hairpin: error: {f}:19: spec.ipFamilies[1]: Duplicate value: "IPv6": the API server refuses the Service',
        f"hairpin: error: {f}:29: spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or "
        "'PreferDualStack' when multiple IP families are specified: the API server refuses the Service",
        f'hairpin: error: {f}:39: spec.ipFamilyPolicy: Unsupported value: "DualStack": supported values: '
        '"PreferDualStack", "RequireDualStack", "SingleStack": the API server refuses the Service',
    ]
    assert "Traceback" not in err


def test_kubectl_dump_with_a_bad_family_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads((DATA / "dump.json").read_text())
    doc["items"][2]["spec"]["ipFamilies"] = ["IPv6", "ipv4"]
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(doc, indent=1))
    lines = path.read_text().splitlines()
    name_at = next(i for i, t in enumerate(lines) if '"name": "web6"' in t)
    line = max(i for i in range(name_at) if lines[i] == "  {") + 1  # the item's first line, its opening brace
    code, out, err = _run([str(path)], capsys)
    assert code == 2 and "web6" not in _by_name(out)
    assert err.splitlines() == [f'hairpin: error: {path}:{line}: spec.ipFamilies[1]: Unsupported value: "ipv4": '
                                'supported values: "IPv4", "IPv6": the API server refuses the Service']  # fmt: skip


def test_auto_mode_and_unknown_address_types(tmp_path: Path) -> None:
    text = """
apiVersion: v1
kind: Service
metadata: {name: auto6, annotations: {service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: instance}}
spec: {type: LoadBalancer, loadBalancerClass: eks.amazonaws.com/nlb, ipFamilies: [IPv6], ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: private
  annotations:
    service.beta.kubernetes.io/aws-load-balancer-type: nlb-ip
    service.beta.kubernetes.io/aws-load-balancer-ip-address-type: dualstack-without-public-ipv4
spec: {type: LoadBalancer, ports: [{port: 80}]}
"""
    (tmp_path / "s.yaml").write_text(text)
    got = {f.name: f for f in chk.check(m.load_paths([tmp_path / "s.yaml"])).findings}
    auto, private = got["auto6"], got["private"]
    assert (auto.at_risk, auto.settings.controller) == (False, "none")
    assert auto.settings.problems == (
        f'EKS Auto Mode will not provision it: "{LBC_ERROR}" (spec.ipFamilies has IPv6) (assumed: Auto Mode documents '
        "the annotation, not its target group rule; this is the AWS Load Balancer Controller's); fix: "
        f"{IPT}: dualstack",
    )
    # the Service path takes ipv4 or dualstack only (dualstack-without-public-ipv4 is for Ingresses and Gateways)
    assert (private.at_risk, private.settings.controller) == (False, "none")
    assert private.settings.problems == (f"{IPT}: 'dualstack-without-public-ipv4' is not ipv4 or dualstack (\"unknown "
                                         'IPAddressType: dualstack-without-public-ipv4")',)  # fmt: skip


def test_families_after_admission() -> None:
    f = ipfamily.families_after_admission
    assert f(["IPv6"], None, False) == (frozenset({"IPv6"}), False)
    assert f([], "RequireDualStack", False) == (frozenset({"IPv4", "IPv6"}), False)
    assert f(["IPv4"], "PreferDualStack", False) == (frozenset({"IPv4"}), True)
    assert f(["IPv4", "IPv6"], "PreferDualStack", False) == (frozenset({"IPv4", "IPv6"}), False)
    assert f(["IPv4"], "PreferDualStack", True) == (frozenset({"IPv4"}), False)  # stored: what the API server chose


# ------------------------------------------------------------------------ IPv4 answers do not move

def _corpus() -> list[Any]:
    errs: list[Any] = []
    objs = m.load_paths([CORPUS], errs)
    assert not errs
    return objs


def _without_new(report: chk.Report) -> list[dict[str, Any]]:
    out = []
    for s in report.to_json()["services"]:
        out.append({k: v for k, v in s.items() if k not in NEW})
    return out


CORPUS_OBJECTS = _corpus()
BASELINE = _without_new(chk.check(CORPUS_OBJECTS))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from([None, ("IPv4",), ("IPv4", "SingleStack"), (None, "SingleStack")]),
                min_size=len(CORPUS_OBJECTS), max_size=len(CORPUS_OBJECTS)))  # fmt: skip
def test_ipv4_families_leave_every_corpus_answer_unchanged(choice: list[Any]) -> None:
    """Differential: the public corpus with IPv4 written out (or SingleStack) in any Service gives exactly the
    answers it gives without (the IPv4 verdicts, reasons, fixes and steps do not move)."""
    objs = []
    for o, c in zip(CORPUS_OBJECTS, choice, strict=True):
        annotations = (o.data.get("metadata") or {}).get("annotations") or {}
        if c is not None and o.kind == "Service" and ipfamily.IP_ADDRESS_TYPE not in annotations:
            o = dataclasses.replace(o, data=copy.deepcopy(o.data))
            spec = o.data.setdefault("spec", {})
            if c[0]:
                spec["ipFamilies"] = [c[0]]
            if len(c) > 1:
                spec["ipFamilyPolicy"] = c[1]
        objs.append(o)
    report = chk.check(objs)
    assert _without_new(report) == BASELINE
    steps_before = [f.settings.steps for f in chk.check(CORPUS_OBJECTS).findings]
    assert [f.settings.steps for f in report.findings] == steps_before


@given(st.lists(st.sampled_from(["IPv4", "IPv6", "IPv7", "ipv6", None, ""]), max_size=3),
       st.sampled_from([None, "SingleStack", "PreferDualStack", "RequireDualStack", "DualStack"]))  # fmt: skip
def test_refusal_matches_the_api_server_rules(families: list[Any], policy: str | None) -> None:
    got = ipfamily.refusal(families, policy)
    named = [f for f in families if f is not None]
    bad_value = any(f not in ("IPv4", "IPv6") for f in named)
    dup = len(set(named)) < len(named)
    bad_policy = policy is not None and policy not in ("SingleStack", "PreferDualStack", "RequireDualStack")
    single_two = policy == "SingleStack" and len(named) == 2
    assert (got is None) == (not (bad_value or dup or bad_policy or single_two))
    if got is not None:
        assert got.endswith("the API server refuses the Service") and "\n" not in got


def test_sarif_result_names_the_target_group_family(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", str(DATA / "dualstack.yaml"), "--format", "sarif"])
    doc = json.loads(capsys.readouterr().out)
    (hp001,) = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "HP001"]
    assert exc.value.code == 1
    assert (hp001["properties"]["ip_families"], hp001["properties"]["target_group_ip_address_type"]) == (["IPv6"], "ipv6")
    assert IPV6_NOTE in hp001["message"]["text"]


def _nodes(*ips: str) -> str:
    return "".join(f"""---
apiVersion: v1
kind: Node
metadata:
  name: n{i}
  labels: {{topology.kubernetes.io/zone: eu-west-1a}}
status:
  addresses: [{{type: InternalIP, address: "{ip}"}}]
""" for i, ip in enumerate(ips))


@pytest.mark.parametrize(("ips", "refused"), [(("2a05:d018:1:a00::10", "2a05:d018:1:a00::11"), True),
                                              (("2a05:d018:1:a00::10", "10.0.1.11"), False), ((), False)])  # fmt: skip
def test_a_manifest_without_ip_families_takes_the_clusters_primary_family(tmp_path: Path, ips: tuple[str, ...],
                                                                          refused: bool) -> None:  # fmt: skip
    # the API server gives a Service without spec.ipFamilies the cluster's primary family: IPv6 when every node in
    # the input is an IPv6 node (an IPv6 EKS cluster), so the controller refuses it without a dualstack NLB
    text = (DATA / "refused.yaml").read_text().replace("  ipFamilies: [IPv6]\n  ipFamilyPolicy: SingleStack\n", "")
    f = tmp_path / "svc.yaml"
    f.write_text(text + _nodes(*ips))
    (found,) = chk.check(m.load_paths([f])).findings
    if not refused:
        assert found.at_risk and found.settings.tg_ip_address_type == "ipv4"
        return
    assert (found.at_risk, found.settings.controller) == (False, "none")
    assert found.reason == (
        f"no spec.ipFamilies on an IPv6 cluster with an ipv4 NLB (ipv4, the default without {IPT}): the AWS Load "
        f'Balancer Controller refuses it ("{LBC_ERROR}", model_build_target_group.go): no load balancer is built'
    )
    assert "no spec.ipFamilies: the API server gives the Service the cluster's primary family, IPv6 (every node's " \
           "InternalIP is IPv6)" in found.settings.steps  # fmt: skip
    f.write_text(text.replace("annotations:\n", f"annotations:\n    {IPT}: dualstack\n") + _nodes(*ips))
    (found,) = chk.check(m.load_paths([f])).findings
    assert found.at_risk and found.settings.tg_ip_address_type == "ipv6"


def _refused_without_families(tmp_path: Path, spec: str, annotation: str = "") -> Path:
    """refused.yaml without spec.ipFamilies and spec.ipFamilyPolicy, with ``spec`` lines instead (and an annotation)."""
    text = (DATA / "refused.yaml").read_text().replace("  ipFamilies: [IPv6]\n  ipFamilyPolicy: SingleStack\n", spec)
    f = tmp_path / "svc.yaml"
    f.write_text(text.replace("annotations:\n", f"annotations:\n    {annotation}\n") if annotation else text)
    return f


def test_a_manifests_ipv6_cluster_ip_makes_it_an_ipv6_service(tmp_path: Path) -> None:
    # the API server infers spec.ipFamilies from spec.clusterIPs (spec.clusterIP alone is copied there): the
    # Service is IPv6, and the controller refuses it without a dualstack NLB.  Until 2026-12-03 it was taken as
    # IPv4: at risk, IPv4 target group
    (found,) = chk.check(m.load_paths([_refused_without_families(tmp_path, '  clusterIP: "fd00::10"\n')])).findings
    assert (found.at_risk, found.settings.controller, found.ip_families) == (False, "none", ())
    assert found.reason == (
        f"spec.ipFamilies [IPv6] (from spec.clusterIPs) with an ipv4 NLB (ipv4, the default without {IPT}): the AWS "
        f'Load Balancer Controller refuses it ("{LBC_ERROR}", model_build_target_group.go): no load balancer is built'
    )
    assert ("spec.clusterIPs [fd00::10]: the API server adds IPv6 to spec.ipFamilies (it infers a family from each "
            "cluster IP the list does not cover)") in found.settings.steps  # fmt: skip
    f = _refused_without_families(tmp_path, '  clusterIP: "fd00::10"\n', f"{IPT}: dualstack")
    (found,) = chk.check(m.load_paths([f])).findings
    assert (found.at_risk, found.settings.ip_address_type, found.settings.tg_ip_address_type) == (
        True, "dualstack", "ipv6")  # fmt: skip
    assert found.warnings == [INSTANCE_WARNING]


def test_dual_stack_cluster_ips_decide_prefer_dual_stack(tmp_path: Path) -> None:
    # PreferDualStack with both cluster IPs, IPv6 first: the families are [IPv6, IPv4], decided (no warning)
    spec = '  ipFamilyPolicy: PreferDualStack\n  clusterIP: "fd00::10"\n  clusterIPs: ["fd00::10", "10.100.0.10"]\n'
    (found,) = chk.check(m.load_paths([_refused_without_families(tmp_path, spec, f"{IPT}: dualstack")])).findings
    assert (found.at_risk, found.settings.tg_ip_address_type, found.warnings) == (True, "ipv6", [INSTANCE_WARNING])


def test_an_ipv4_cluster_ip_changes_no_ipv4_answer(tmp_path: Path) -> None:
    plain = chk.check(m.load_paths([_refused_without_families(tmp_path, "")])).findings[0]
    (found,) = chk.check(m.load_paths([_refused_without_families(tmp_path, '  clusterIP: "10.100.0.10"\n')])).findings
    assert (found.at_risk, found.reason, found.settings.steps, found.warnings) == (
        True, plain.reason, plain.settings.steps, plain.warnings)  # fmt: skip
    assert found.settings.tg_ip_address_type == "ipv4"


def test_an_ipv6_cluster_ip_behind_the_in_tree_provider_is_broken(tmp_path: Path) -> None:
    f = tmp_path / "svc.yaml"
    f.write_text((DATA / "in-tree.yaml").read_text().replace("  ipFamilies: [IPv6]\n", '  clusterIP: "fd00::10"\n'))
    (found,) = chk.check(m.load_paths([f])).findings
    assert (found.at_risk, found.settings.controller, found.settings.broken is not None) == (False, "in-tree", True)


@pytest.mark.parametrize(("spec", "message"), [
    ('  ipFamilies: [IPv4]\n  clusterIP: "fd00::10"\n',
     'spec.clusterIPs[0]: Invalid value: "fd00::10": expected an IPv4 value as indicated by `ipFamilies[0]`'),
    ('  ipFamilies: [IPv4, IPv6]\n  ipFamilyPolicy: RequireDualStack\n  clusterIP: "10.100.0.10"\n'
     '  clusterIPs: ["10.100.0.10", "10.100.0.11"]\n',
     'spec.clusterIPs[1]: Invalid value: "10.100.0.11": expected an IPv6 value as indicated by `ipFamilies[1]`'),
    ('  clusterIP: "10.100.0.10"\n  clusterIPs: ["10.100.0.11"]\n',
     'spec.clusterIPs: Invalid value: ["10.100.0.11"]: first value must match `clusterIP`'),
])  # fmt: skip
def test_cluster_ips_the_api_server_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str,
                                            message: str) -> None:  # fmt: skip
    f = _refused_without_families(tmp_path, spec)
    code, doc, err = _run([str(f)], capsys)
    assert (code, doc["services"]) == (2, [])
    assert err == f"hairpin: error: {f}:1: {message}: the API server refuses the Service\n"


@pytest.mark.parametrize(("families", "ips", "want"), [
    ((), ("fd00::10",), ("IPv6",)), ((), ("10.0.0.1", "fd00::1"), ("IPv4", "IPv6")),
    (("IPv4",), ("10.0.0.1", "fd00::1"), ("IPv4", "IPv6")), (("IPv6", "IPv4"), ("fd00::1",), ("IPv6", "IPv4")),
    ((), ("None",), ()), ((), ("",), ()), ((), ("10.0.0.300",), ()), ((), (), ()), ((), ("::ffff:10.0.0.1",), ("IPv4",)),
])  # fmt: skip
def test_inferred_families(families: tuple[str, ...], ips: tuple[str, ...], want: tuple[str, ...]) -> None:
    assert ipfamily.inferred_families(families, ips) == want


def test_cluster_ips_as_the_api_server_takes_them() -> None:
    assert ipfamily.cluster_ips("fd00::10", None) == ("fd00::10",)
    assert ipfamily.cluster_ips("fd00::10", ["fd00::10", "10.0.0.1"]) == ("fd00::10", "10.0.0.1")
    assert ipfamily.cluster_ips(None, ["fd00::10"]) == ("fd00::10",)
    assert ipfamily.cluster_ips("", []) == ()


_V4, _V6 = st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str)


@given(st.lists(st.sampled_from(["IPv4", "IPv6"]), max_size=2, unique=True), st.lists(_V4 | _V6, min_size=1, max_size=2))
def test_cluster_ips_refused_or_inferred_as_the_api_server_does(families: list[str], ips: list[str]) -> None:
    # ValidateServiceClusterIPsRelatedFields: each cluster IP of its ipFamilies entry's family; initIPFamilyFields:
    # a family for each cluster IP past the list's end
    parsed = [ipaddress.ip_address(ip) for ip in ips]
    fam = ["IPv6" if a.version == 6 and a.ipv4_mapped is None else "IPv4" for a in parsed]  # mapped: IPv4 (To4)
    got = ipfamily.refusal(families, None, ips[0], ips)
    wrong = next((i for i, (f, g) in enumerate(zip(families, fam, strict=False)) if f != g), None)
    if wrong is None:
        assert got is None
        assert ipfamily.inferred_families(families, ips) == (*families, *fam[len(families) :])
    else:
        assert got == (f'spec.clusterIPs[{wrong}]: Invalid value: "{ips[wrong]}": expected an {families[wrong]} value '
                       f"as indicated by `ipFamilies[{wrong}]`: the API server refuses the Service")  # fmt: skip


def test_the_next_step_of_an_ipv6_target_group_is_an_ipv6_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    # scenario from-cluster builds IPv4 scenarios only and refuses an IPv6 cluster's addresses: the last line no longer
    # sends the reader to it for an IPv6 target group (until 2026-12-03 it did, and the command failed)
    with pytest.raises(SystemExit) as exc:
        main(["check", str(DATA / "dualstack.yaml")])
    lines = capsys.readouterr().out.splitlines()
    assert exc.value.code == 1
    assert lines[-1] == ("Next: see it happen over IPv6: hairpin reproduce --scenario examples/seed-ipv6.yaml, the "
                         "seed's cluster in IPv6 (scenario from-cluster builds IPv4 scenarios only; edit the example "
                         "to default/api's nodes and endpoints)")  # fmt: skip


def test_from_cluster_takes_a_dual_stack_nodes_ipv4_address(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the nodes of this dump list their IPv6 InternalIP first and their IPv4 one second: check's last line sends the
    # reader to scenario from-cluster for the IPv4 target group of shop/dual-legacy, which refused the nodes' first
    # address until 2026-12-03; an IPv4 scenario takes each node's IPv4 address
    import yaml

    with pytest.raises(SystemExit) as exc:
        main(["check", str(DATA / "dump.json")])
    last = capsys.readouterr().out.splitlines()[-1]
    assert exc.value.code == 1 and last.startswith("Next: see it happen on your cluster: hairpin scenario from-cluster "
                                                    "--service shop/dual-legacy ")  # fmt: skip
    out = tmp_path / "mine.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(DATA / "dump.json"), "--service", "shop/dual-legacy", "-o", str(out)])
    assert exc.value.code == 0
    nodes = yaml.safe_load(out.read_text())["nodes"]
    assert [(n["name"], n["ip"], n["az"]) for n in nodes] == [("ip-a", "10.0.1.10", "eu-west-1a"),
                                                              ("ip-b", "10.0.2.10", "eu-west-1b")]  # fmt: skip
    # a node with no IPv4 InternalIP at all is refused in one line, as before
    doc = json.loads((DATA / "dump.json").read_text())
    for item in doc["items"]:
        if item["kind"] == "Node" and item["metadata"]["name"] == "ip-b":
            item["status"]["addresses"] = [a for a in item["status"]["addresses"] if ":" in a["address"]]
    f = tmp_path / "v6only.json"
    f.write_text(json.dumps(doc))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["scenario", "from-cluster", str(f), "--service", "shop/dual-legacy", "-o", "-"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (f"hairpin: error: {f}: Node ip-b: status.addresses InternalIP: "
                                       "2a05:d018:1:b00::10: an IPv6 address; scenario from-cluster builds IPv4 "
                                       "scenarios only (write an IPv6 scenario by hand from examples/seed-ipv6.yaml; "
                                       "hairpin check reads IPv6 Services)\n")  # fmt: skip
