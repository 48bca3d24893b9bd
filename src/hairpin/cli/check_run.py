"""What ``hairpin check`` does once its arguments are read, without typer (the typer declaration, its help and
option parsing are in :mod:`hairpin.cli.check`; :mod:`hairpin.cli.main` calls :func:`run` directly for the plainest
command lines, so the check of a large dump pays for no command tree and no pydantic).

Exit code (returned) 0: nothing at risk; 1: a Service is at risk; 2: some input was bad (each bad file gets one
``file:line: message`` line on stderr, the other files are still checked).  When the cluster's Services are not
translated by kube-proxy (``hairpin.kube.datapath``), the first line says the verdicts are not modelled and the
second says what the input shows; the exit code keeps its meaning.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hairpin.cli import LEFT_TO_EXIT
from hairpin.cli.common import check_format, check_outputs, emit, emit_raw, not_read_as_manifest, versions_and_live
from hairpin.errors import InputError, ParseError

FORMATS = ("text", "json", "sarif")
#: the old name of ``--format text``, still accepted
ALIASES = {"table": "text"}


def run(paths: list[str] | None = None, kubeconfig: str | None = None, context: str | None = None, live: bool = False,
        format: str = "text", output: str | None = None, lbc_webhook: bool | None = None, only_at_risk: bool = False,
        auto_mode: bool | None = None, kubernetes_version: str | None = None,
        cloud_provider_version: str | None = None, cloud_config: str | None = None,
        allow_empty: bool = False, *, kube_proxy_version: str | None = None,
        lbc_version: str | None = None) -> int:  # fmt: skip
    """``hairpin check`` with its options as typer passes them; returns the exit code."""
    from hairpin.diagnose import check as chk
    from hairpin.parsers import manifests

    format = check_format(format, FORMATS, ALIASES)
    if not paths and not (live or kubeconfig or context):
        raise InputError("give manifests, dumps or directories to check, or --live / --kubeconfig / --context")
    kube_proxy = _kube_proxy_version(kube_proxy_version)  # before any input is read: a bad value is one line, exit 2
    lbc = _lbc_version(lbc_version)
    check_outputs({"--output": output}, paths or [])
    not_read_as_manifest(output, paths or [], "checking it", "the report")
    errors: list[InputError] = []
    parse_errors: list[ParseError] = []
    objects = manifests.load_paths(paths or [], parse_errors)
    errors.extend(parse_errors)
    kube, kube_from, provider = versions_and_live(objects, kubernetes_version, cloud_provider_version, live,
                                                  kubeconfig, context)  # fmt: skip
    if not objects and not allow_empty:  # a CI gate pointed at the wrong folder must not pass
        for e in errors:
            print(f"hairpin: error: {e.one_line()}", file=sys.stderr)
        where = ", ".join("<stdin>" if p == "-" else p for p in paths or []) or None
        raise InputError("no Kubernetes objects found (--allow-empty accepts that)", where)
    versions = chk.Versions(kube, kube_from, provider, _cloud_config(cloud_config), kube_proxy, lbc)
    report = chk.check(objects, mutator_webhook=lbc_webhook, errors=errors, versions=versions, auto_mode=auto_mode)
    for e in report.errors:
        print(f"hairpin: error: {e.one_line()}", file=sys.stderr)
    if format == "json":
        emit_raw(output, json.dumps(report.to_json(), indent=1) + "\n")
    elif format == "sarif":
        emit_raw(output, json.dumps(report.to_sarif(), indent=1) + "\n")
    else:
        from rich.text import Text

        report.only_at_risk = only_at_risk
        dp = [Text(report.datapath.line(), style="bold yellow")] if report.datapath is not None else []
        dp += [Text(f"problem: {p}", style="bold yellow") for p in report.lbc_problems]  # each once, cluster-wide
        said = (*report.version_warnings, *report.lbc_warnings, *report.cni_warnings, *report.ip_family_warnings)
        dp += [Text(f"warning: {w}", style="bold yellow") for w in said]
        emit(output, Text(diagnosis(report), style="bold"), *dp, report, *breakdowns(objects, report),
             Text(PROBABILITY_NOTE, style="dim"),
             Text(next_step(report, _source(paths, live, kubeconfig, context)), style="bold"))  # fmt: skip
    LEFT_TO_EXIT.append((objects, report))  # freed by the process's end (hairpin.cli)
    return report.exit_code


def _kube_proxy_version(text: str | None) -> tuple[int, int] | None:
    """``--kube-proxy-version`` as (major, minor): ``1.33``, ``v1.33.2``, ``v1.33.2-eksbuild.1``; bad: InputError."""
    if text is None:
        return None
    from hairpin.aws.cloud_provider import parse_version

    major, minor, _ = parse_version(text, "--kube-proxy-version")
    if major != 1:  # every kube-proxy release is 1.NN
        raise InputError(f"--kube-proxy-version: {text!r} is not a kube-proxy release like 1.33 or v1.33.4")
    return major, minor


def _lbc_version(text: str | None) -> tuple[int, int, int] | None:
    """``--lbc-version`` as (major, minor, patch): ``v2.13.0``, ``2.13.0``; bad: InputError."""
    if text is None:
        return None
    from hairpin.aws.lbc_flags import parse_release

    return parse_release(text)


def _cloud_config(path: str | None) -> Any:
    """``--cloud-config FILE`` read as the cloud provider reads it (``hairpin.aws.cloud_config``); bad: InputError."""
    if path is None:
        return None
    from hairpin import reading
    from hairpin.aws.cloud_config import from_text

    shown = reading.display_name(path)
    return from_text(reading.read_text(path), f"--cloud-config {shown}", shown)


PROBABILITY_NOTE = (
    "P(timeout): one connection's chance from the worst caller node (the node most likely to be sent back "
    "to itself), its connections spread over the NLB's addresses in DNS. A caller pinned to one address "
    "(a cached DNS answer) can be higher: hairpin reproduce shows the table per caller node and NLB address."
)


#: at-risk Services whose per-node, per-address table the text report shows
BREAKDOWNS = 3


def breakdowns(objects: list[Any], report: Any) -> list[Any]:
    """The per-caller-node, per-NLB-address table (``hairpin.probability``) of the first at-risk Services
    whose nodes are known: the same table ``reproduce`` and ``scenario from-cluster`` print."""
    from hairpin.kube.cluster import Cluster
    from hairpin.kube.from_cluster import scenario_from_objects
    from hairpin.probability import breakdown

    # the table is the hairpin's alone: a Service whose callers a security group or kube-proxy's source-range
    # firewall drops (P = 1 whatever the node) would get figures that contradict its verdict
    shown = [f for f in report.at_risk if f.probability is not None and f.blocked is None
             and not (f.kube_proxy_drop is not None and f.kube_proxy_drop.certain)][:BREAKDOWNS]  # fmt: skip
    if not shown:
        return []
    cluster = Cluster.from_objects(objects)
    out: list[Any] = []
    for f in shown:
        try:
            built, _ = scenario_from_objects(cluster, service=f"{f.namespace}/{f.name}")
            b = breakdown(built)
        except InputError:  # not enough in the input to build a scenario: the table above still stands
            continue
        if b is not None:
            out.append(b)
    return out


def diagnosis(report: Any) -> str:
    """The first line of the text report; when the Services' datapath is not kube-proxy's NAT, it says first that
    the verdicts are not modelled (``hairpin.kube.datapath``)."""
    said = _diagnosis(report)
    dp = report.datapath
    if dp is None or dp.modelled:
        return said
    return (f"hairpin check: verdicts not modelled for this cluster's datapath ({dp.short}: see below); under "
            f"kube-proxy's NAT, {said.removeprefix('hairpin check: ')}")  # fmt: skip


def _diagnosis(report: Any) -> str:
    from hairpin.diagnose.report_text import counted

    risky = report.at_risk
    if risky:
        worst = max(risky, key=lambda f: f.probability or 0)
        p = f", up to {float(worst.probability):.1%} of connections" if worst.probability is not None else ""
        return (f"hairpin check: {len(risky)} of {counted(report.findings)} can time out their in-cluster callers"
                f"{p} ({worst.namespace}/{worst.name}); fixes below")  # fmt: skip
    if report.errors:
        return f"hairpin check: {len(report.errors)} input(s) could not be read; no Service at risk in the rest"
    troubled = _troubled(report)
    tail = f"; {_have(len(troubled))} problems (below)" if troubled else ""
    und = _undecided(report)
    if und:
        return (f"hairpin check: {len(und)} of {counted(report.findings)} undecided (a TargetGroupBinding's target "
                "group, whose load balancer is in no Kubernetes object: below); none of the others can send an "
                f"in-cluster caller back to its own node{tail}")  # fmt: skip
    return f"hairpin check: none of {counted(report.findings)} can send an in-cluster caller back to its own node{tail}"


def _source(paths: list[str] | None, live: bool, kubeconfig: str | None, context: str | None) -> str:
    """The inputs again, as ``scenario from-cluster`` takes them."""
    words = list(paths or [])
    if kubeconfig:
        words.append(f"--kubeconfig {kubeconfig}")
    if context:
        words.append(f"--context {context}")
    if live and not (kubeconfig or context):
        words.append("--live")
    return " ".join(words)


def next_step(report: Any, source: str = "DUMP") -> str:
    """The last line of the text report."""
    if report.errors:
        return "Next: fix the input errors above (one line each on stderr) and run hairpin check again"
    if report.at_risk and report.datapath is not None and not report.datapath.modelled:
        # the simulator models kube-proxy's NAT too; a capture shows the failure whatever translates Services
        return ("Next: see whether it happens on this datapath: on a caller's node, tcpdump -i any -n -w node.pcap "
                "tcp while its pods call the Service, then hairpin pcap node.pcap")  # fmt: skip
    # scenario from-cluster builds a Service's own load balancer, not a Gateway's target group, and IPv4 scenarios only
    # (hairpin.kube.from_cluster): an IPv6 target group's failure is shown by an IPv6 scenario written by hand
    own = [f for f in report.at_risk if f.service_type != "Gateway"]
    v4 = [f for f in own if f.settings.tg_ip_address_type != "ipv6"]
    if v4:
        f = v4[0]
        return (f"Next: see it happen on your cluster: hairpin scenario from-cluster --service {f.namespace}/{f.name} "
                f"{source} -o mine.yaml, then hairpin reproduce --scenario mine.yaml")  # fmt: skip
    if own:
        f = own[0]
        return (f"Next: see it happen over IPv6: hairpin reproduce --scenario examples/seed-ipv6.yaml, the seed's cluster "
                f"in IPv6 (scenario from-cluster builds IPv4 scenarios only; edit the example to {f.namespace}/{f.name}'s "
                "nodes and endpoints)")  # fmt: skip
    if report.at_risk:
        f = report.at_risk[0]
        return (f"Next: apply a fix listed above for {f.namespace}/{f.name} and run hairpin check again; scenario "
                "from-cluster builds a Service's own load balancer, not a Gateway's target groups")  # fmt: skip
    troubled = _troubled(report)
    if troubled:
        f = troubled[0]
        return (f"Next: no Service here times out its in-cluster callers, but {_have(len(troubled))} problems listed "
                f"above ({f.namespace}/{f.name} first): fix them and run hairpin check again")  # fmt: skip
    und = _undecided(report)
    if und:
        f = und[0]
        return (f"Next: read the load balancer and preserve_client_ip.enabled of {f.namespace}/{f.name}'s target group "
                "from AWS (the warning above says how): hairpin cannot see them")  # fmt: skip
    return "Next: nothing to fix; run hairpin check in CI (README, Catch it in CI) to keep it so"


def _undecided(report: Any) -> list[Any]:
    """Findings whose load balancer is outside the input (TargetGroupBindings: hairpin.diagnose.tgb)."""
    return [f for f in report.findings if f.settings.load_balancer == "unknown"]


def _troubled(report: Any) -> list[Any]:
    """The Services with problems: what their controller refuses or AWS rejects (often: no load balancer)."""
    return [f for f in report.findings if f.settings.problems]


def _have(n: int) -> str:
    return f"{n} ha{'s' if n == 1 else 've'}"
