"""``hairpin check --kube-proxy-version`` and ``--lbc-version``: kube-proxy's release when the input shows none (no
kube-proxy pod with a release in its image tag, no node's status.nodeInfo.kubeProxyVersion), the AWS Load Balancer
Controller's when the input has no Deployment of it or its image names none; the input wins over them, with a
warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hairpin.aws import controller as ctl
from hairpin.aws.lbc_flags import parse_release
from hairpin.cli import check_run
from hairpin.cli.main import main
from hairpin.diagnose import check as chk
from hairpin.diagnose.versions import LBC_REFUSED
from hairpin.errors import InputError
from hairpin.parsers import manifests as m
from test_check_gateway_gate import GATEWAY
from test_check_lbc_flags import WHERE, deployment_image, svc
from test_kube_proxy_version import EKS, NFT, objects, proxy_pod

DUMP = Path(__file__).parent / "data" / "check" / "seed-dump.yaml"
A, B = "192.168.168.103", "192.168.140.27"  # the seed NLB's addresses in eu-west-1a and eu-west-1b


def check(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["check", *args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def proxy_mode_status(tmp_path: Path) -> Path:
    """The seed's cluster (kubelets leave kubeProxyVersion empty, no kube-proxy pod), its NLB's two addresses in the
    Service's status with ipMode Proxy: kube-proxy 1.30 and later leave them to the NLB, earlier ones capture every
    ingress IP (KEP-1860; hairpin.kube.ipmode)."""
    doc = yaml.safe_load(DUMP.read_text())
    for item in doc["items"]:
        if item["kind"] == "Node":
            item["status"]["nodeInfo"]["kubeProxyVersion"] = ""
        if item["kind"] == "Service" and item["spec"].get("type") == "LoadBalancer":
            item["status"] = {"loadBalancer": {"ingress": [{"ip": A, "ipMode": "Proxy"}, {"ip": B, "ipMode": "Proxy"}]}}
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_release_given_decides_when_the_input_shows_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(proxy_mode_status(tmp_path))
    code, out, err = check([path, "--format", "json"], capsys)
    assert (code, err) == (1, "")  # a current kube-proxy: ipMode Proxy, the NLB's addresses reach the NLB
    doc = json.loads(out)
    assert (doc["services"][0]["at_risk"], doc["version_warnings"]) == (True, [])
    code, out, err = check([path, "--format", "json", "--kube-proxy-version", "1.29"], capsys)
    assert (code, err) == (0, "")  # 1.29 captures every ingress IP: no in-cluster caller reaches the NLB
    doc = json.loads(out)
    assert (doc["services"][0]["at_risk"], doc["version_warnings"]) == (False, [])
    assert "kube-proxy 1.29 predates LoadBalancerIPMode" in doc["services"][0]["reason"]


def test_a_release_newer_than_checked_is_warned_of(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check([str(proxy_mode_status(tmp_path)), "--format", "json", "--kube-proxy-version", "v1.37.1"],
                           capsys)  # fmt: skip
    assert (code, err) == (1, "")
    assert json.loads(out)["version_warnings"] == [
        "kube-proxy 1.37 (iptables mode) is newer than the newest release hairpin's rules were checked against (1.36); "
        "its rules are taken to be 1.36's (from --kube-proxy-version)"]  # fmt: skip


def test_the_input_wins_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    objects(tmp_path, ["v1.35.2", "v1.35.2", "v1.35.2"], extra=[NFT, proxy_pod("kube-proxy-a", EKS + "v1.33.5")])
    path = str(tmp_path / "dump.yaml")
    code, out, err = check([path, "--format", "json", "--kube-proxy-version", "1.31"], capsys)
    assert (code, err) == (1, "")
    assert json.loads(out)["version_warnings"] == [
        "--kube-proxy-version 1.31 is not used: the input shows kube-proxy 1.33 (from the image tag v1.33.5 of "
        "kube-proxy pod kube-system/kube-proxy-a), which hairpin takes"]  # fmt: skip
    code, out, err = check([path, "--format", "json", "--kube-proxy-version", "v1.33.0"], capsys)
    assert (code, err, json.loads(out)["version_warnings"]) == (1, "", [])  # the same release: nothing to say
    # a pod whose image names no release: the given release fills in, and the warning says so
    objects(tmp_path, ["v1.35.2", "v1.35.2", "v1.35.2"], extra=[NFT, proxy_pod("kube-proxy-l", EKS + "latest")])
    code, out, err = check([path, "--format", "json", "--kube-proxy-version", "1.34"], capsys)
    assert (code, err) == (1, "")
    assert json.loads(out)["version_warnings"] == [
        "the image tag latest of kube-proxy pod kube-system/kube-proxy-l names no release: kube-proxy is taken to be "
        "1.34, from --kube-proxy-version; hairpin reads kube-proxy's release from its pods' image tags, then from the "
        "nodes' status.nodeInfo.kubeProxyVersion, then from --kube-proxy-version"]  # fmt: skip


@pytest.mark.parametrize("value", ["1", "1.x", "latest", "2.0", "v1.33.4.5", "", " "])
def test_a_bad_value_is_one_line_and_exit_2(value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check([str(proxy_mode_status(tmp_path)), "--kube-proxy-version", value], capsys)
    assert (code, out) == (2, "")
    kind = "kube-proxy release" if value == "2.0" else "version"
    assert err == f"hairpin: error: --kube-proxy-version: {value!r} is not a {kind} like 1.33 or v1.33.4\n"


# ------------------------------------------------------------------ --lbc-version

LBC_IMAGE = "public.ecr.aws/eks/aws-load-balancer-controller:"
NO_DEPLOYMENT = ("the AWS Load Balancer Controller's Deployment is not in the input: its release is taken to be "
                 "{} (--lbc-version) and its flags and feature gates to be that release's defaults")  # fmt: skip


def lbc_report(*docs: dict[str, object], lbc: tuple[int, int, int] | None) -> chk.Report:
    return chk.check(
        m.parse_yaml("---\n".join(yaml.safe_dump(d) for d in docs), "t.yaml"), versions=chk.Versions(lbc=lbc)
    )


def test_without_the_deployment_the_release_given_decides() -> None:
    plain = lbc_report(svc("web", cls=ctl.LBC_CLASS), lbc=None)
    (f,) = plain.findings
    assert (f.settings.security_groups, plain.lbc_warnings) == (True, [])
    r = lbc_report(svc("web", cls=ctl.LBC_CLASS), lbc=(2, 5, 0))
    (g,) = r.findings
    assert g.settings.security_groups is False  # releases before v2.6.0 build NLBs without security groups
    assert ("no security groups on the NLB: the AWS Load Balancer Controller's release is v2.5.0, and releases before "
            "v2.6.0 build NLBs without them (--lbc-version)") in g.settings.steps  # fmt: skip
    # the flags are the defaults, as without the flag: the same target type step, no "not set in --lbc-version"
    assert [x for x in g.settings.steps if x.startswith("target type")] == [
        x for x in f.settings.steps if x.startswith("target type")]  # fmt: skip
    assert (r.lbc_warnings, g.warnings, g.at_risk) == ([NO_DEPLOYMENT.format("v2.5.0")], [], True)


def test_a_release_newer_than_read_is_warned_of_without_the_deployment() -> None:
    r = lbc_report(svc("web", cls=ctl.LBC_CLASS), lbc=(3, 6, 0))
    assert r.lbc_warnings == [
        NO_DEPLOYMENT.format("v3.6.0"),
        "the AWS Load Balancer Controller's release is v3.6.0 (--lbc-version), newer than v3.5.0 (the newest release "
        "hairpin read): its defaults and feature gates are taken to be v3.5.0's",
    ]


def test_an_image_that_names_no_release_takes_the_release_given() -> None:
    dep = deployment_image(LBC_IMAGE + "latest", "--feature-gates=SomeNewGate=true")
    r = lbc_report(dep, svc("web", cls=ctl.LBC_CLASS), lbc=(2, 13, 0))
    (f,) = r.findings
    assert r.lbc_warnings == [
        f"the AWS Load Balancer Controller's image {LBC_IMAGE}latest names no release (tag 'latest'): it is taken to be "
        f"v2.13.0, from --lbc-version ({WHERE})"]  # fmt: skip
    # a known release: a gate it does not know is a refusal to start, not a doubt
    assert r.lbc_problems == [f"--feature-gates 'SomeNewGate' is not a feature gate (of v3.5.0): the controller "
                              f"refuses to start with it ({WHERE})"]  # fmt: skip
    assert f.settings.problems == (LBC_REFUSED,)  # said once for the report (hairpin.diagnose.versions.lbc_problems)


def test_an_image_that_names_a_release_wins_with_a_warning() -> None:
    dep = deployment_image(LBC_IMAGE + "v2.14.1")
    r = lbc_report(dep, svc("web", cls=ctl.LBC_CLASS), lbc=(2, 5, 0))
    (f,) = r.findings
    assert f.settings.security_groups is True  # v2.14.1's behaviour, not v2.5.0's
    assert r.lbc_warnings == [
        f"--lbc-version v2.5.0 is not used: the AWS Load Balancer Controller's image {LBC_IMAGE}v2.14.1 names v2.14.1, "
        f"which hairpin takes ({WHERE})"]  # fmt: skip
    assert lbc_report(dep, svc("web", cls=ctl.LBC_CLASS), lbc=(2, 14, 1)).lbc_warnings == []  # the same: nothing


def test_a_gateway_without_the_deployment_follows_the_release_given() -> None:
    r = chk.check(m.parse_yaml(GATEWAY, "g.yaml"), versions=chk.Versions(lbc=(3, 1, 0)))
    (f,) = r.findings
    assert (f.settings.controller, f.at_risk) == ("none", False)  # NLBGatewayAPI is off by default before v3.2.0
    assert f.settings.problems == (
        "the AWS Load Balancer Controller's release is v3.1.0, whose feature gate NLBGatewayAPI is off unless turned on "
        "(on by default from v3.2.0), and its flags do not turn it on (--lbc-version): NLB Gateways are not reconciled",)  # fmt: skip
    r = chk.check(m.parse_yaml(GATEWAY, "g.yaml"), versions=chk.Versions(lbc=(3, 2, 0)))
    assert [(f.settings.controller, f.at_risk) for f in r.findings] == [("aws-load-balancer-controller", True)]


def test_the_cli_takes_lbc_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(svc("web", cls=ctl.LBC_CLASS)))
    code, out, err = check([str(path), "--format", "json", "--lbc-version", "2.5.0"], capsys)
    assert (code, err) == (1, "")
    assert json.loads(out)["lbc_warnings"] == [NO_DEPLOYMENT.format("v2.5.0")]


@pytest.mark.parametrize("value", ["2.13", "v2.13", "latest", "v2.13.0-rc.1", "2.13.0.1", "", "v 2.13.0"])
def test_a_bad_lbc_version_is_one_line_and_exit_2(value: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(svc("web", cls=ctl.LBC_CLASS)))
    code, out, err = check([str(path), "--lbc-version", value], capsys)
    assert (code, out) == (2, "")
    assert err == (f"hairpin: error: --lbc-version: {value!r} is not a release of the AWS Load Balancer Controller like "
                   "v2.13.0\n")  # fmt: skip


@given(
    st.text(max_size=20) | st.from_regex(r"v?[0-9]{1,5}\.[0-9]{1,5}(\.[0-9]{1,5})?(-[a-z0-9.]{0,6})?", fullmatch=True)
)
def test_the_two_parsers_take_a_release_or_say_one_line(text: str) -> None:
    """Any value: a release read back from the digits written, or InputError of one line naming the flag."""
    for flag, parse in (("--kube-proxy-version", check_run._kube_proxy_version), ("--lbc-version", parse_release)):
        try:
            got = parse(text)
        except InputError as exc:
            assert exc.message.startswith(f"{flag}: {text!r} is not a ") and "\n" not in exc.message
            continue
        assert got is not None
        digits = text.strip().lstrip("vV").split("-")[0].split("+")[0].split(".")
        assert got == tuple(int(d) for d in digits)[: len(got)]
        if flag == "--kube-proxy-version":
            assert got[0] == 1
