"""``hairpin check``'s report as SARIF 2.1.0, for code scanning.

Rules: ``HP001`` (internal-nlb-hairpin, level warning): a Service whose in-cluster callers can time
out; ``HP002`` (ignored-annotation, level note): an annotation the Service's controller ignores;
``HP003`` (kube-proxy-source-range-drop, level error): kube-proxy's own loadBalancerSourceRanges
firewall drops in-cluster callers of the load-balancer IPs it captures, every time
(``hairpin.diagnose.proxy_firewall``; level warning when the input cannot say who the callers are).
An HP003 result sits on ``spec.loadBalancerSourceRanges`` when the file says where it is.  ``HP004``
(load-balancer-problem, level error): one result per problem of a Service, what its controller refuses or
AWS rejects (often: no load balancer is built at all); ``HP005`` (undecided, level warning): one result per
warning of a Service, where the input does not let hairpin decide; both on the Service's first line.
An HP001 result sits on the annotation that decides the verdict (line and column), with the Service
object as a related location: ``preserve_client_ip.enabled=true`` in the target group attributes when
it is set, else what makes the NLB internal (``aws-load-balancer-scheme``, ``aws-load-balancer-internal``),
else what selects the NLB and its targets (``aws-load-balancer-nlb-target-type``,
``aws-load-balancer-type``, ``spec.loadBalancerClass``), else the object's first line.  An HP002 result
sits on the ignored annotation.  Input errors are tool execution notifications with file and line.  When the
cluster's Services are not translated by kube-proxy's NAT (``hairpin.kube.datapath``), the run's properties carry
``datapath`` (as in the JSON report) and a tool execution notification says it (level warning: the verdicts are
not modelled; note: eBPF programs run beside kube-proxy), as the cloud config hairpin used is a run property.
The warnings on the AWS VPC CNI's settings (``hairpin.diagnose.families.cni_warnings``) are tool execution
notifications too (level warning, descriptor ``cni``), and the run property ``cni_warnings`` lists them; so are
the AWS Load Balancer Controller's own (``Report.lbc_warnings``: descriptor ``lbc``, run property ``lbc_warnings``),
said once instead of an HP005 result per Service.  The flags that controller refuses at start
(``Report.lbc_problems``) are notifications of level error with descriptor ``lbc`` and the run property
``lbc_problems``, said once; each of its Services keeps one HP004 result that points at them.  Why the cluster's
primary IP family is not known (``Report.ip_family_warnings``) is a notification of level warning with descriptor
``ip_families`` and the run property ``ip_family_warnings``, not an HP005 result per manifest.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hairpin import __version__
from hairpin.aws import cloud_config
from hairpin.aws import controller as ctl
from hairpin.render.markup import visible

if TYPE_CHECKING:
    from hairpin.diagnose.finding import Finding
    from hairpin.diagnose.report import Report

__all__ = ["RULE_ID", "SARIF_SCHEMA", "deciding_location", "to_sarif"]

RULE_ID = "HP001"
RULE_NAME = "internal-nlb-hairpin"
IGNORED_RULE_ID = "HP002"
PROXY_DROP_RULE_ID = "HP003"
PROBLEM_RULE_ID = "HP004"
UNDECIDED_RULE_ID = "HP005"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

#: The rules: (id, name, default level, short description, full description, help URI or "").
RULES = (
    (RULE_ID, RULE_NAME, "warning", "In-cluster callers of this internal NLB can time out",
     "An internal NLB with client IP preservation can send an in-cluster caller's connection to the caller's own "
     "node (or a target pod on it); the reply never reaches the NLB and the connection times out (NAT loopback).",
     "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-troubleshooting.html"
     "#loopback-timeout"),
    (IGNORED_RULE_ID, "ignored-annotation", "note", "The controller provisioning this Service ignores this annotation",
     "The annotation is read only by another load balancer controller (or by none), so the load balancer is built "
     "without it.", ""),
    (PROXY_DROP_RULE_ID, "kube-proxy-source-range-drop", "error",
     "kube-proxy drops in-cluster callers outside loadBalancerSourceRanges",
     "kube-proxy handles calls to the load-balancer IPs it captures (ipMode VIP) on the caller's node and enforces "
     "spec.loadBalancerSourceRanges there: a caller whose address is in none of the ranges has every connection "
     "dropped (KUBE-FW/KUBE-PROXY-FIREWALL, nftables firewall chains).",
     "https://kubernetes.io/docs/reference/networking/virtual-ips/"),
    (PROBLEM_RULE_ID, "load-balancer-problem", "error", "The load balancer controller refuses this Service, or AWS would",
     "A setting the Service's controller refuses or AWS rejects (an unknown value, an IPv6 Service on an IPv4 load "
     "balancer, a feature gate off...): often no load balancer is built at all.", ""),
    (UNDECIDED_RULE_ID, "undecided", "warning", "hairpin cannot decide this from the input",
     "Something the verdict depends on is not in the input (the cluster's IP families, the pods' addresses, the "
     "cloud provider's settings...): the message says what each case gives.", ""),
)


def _uri(file: str) -> str:
    """A SARIF artifact URI: the path as given, '/' separated, without a leading './', percent-encoded.

    ``artifactLocation.uri`` is a URI reference (SARIF 2.1.0 section 3.10, RFC 3986): every byte of the
    path's UTF-8 but the unreserved characters and '/' is written ``%XX`` (RFC 3986 section 2.1), so a space,
    '#' (which would start a fragment), '%', '?', ':' (which would make ``a:b.yaml`` a scheme) or a non-ASCII
    letter reach the viewer as part of the path.  A name the file system gave as undecodable bytes (Python's
    surrogateescape) is written as those bytes.  On Windows '\\' separates directories and becomes '/'."""
    u = file.replace(os.sep, "/") if os.sep != "/" else file  # a POSIX name may hold '\\' (written %5C)
    while u.startswith("./"):
        u = u[2:]
    if u.startswith("//"):  # '//x' would be a host named x (RFC 3986 section 4.2); the same file as '/x' (POSIX)
        u = "/" + u.lstrip("/")
    return quote(u, safe="/", encoding="utf-8", errors="surrogateescape")


_LINK_CHARS = re.compile(r"[\\\[\]]")
_BRACES = re.compile(r"[{}]")


def _message(text: str) -> dict[str, str]:
    """A plain text message (SARIF 2.1.0 section 3.11.3) that can hold no embedded link, no placeholder and no markup.

    Text from the user's files (a Service's name, an annotation's value, a rule's comment) and hairpin's own words
    (a fix's ``kubectl patch -p '{"spec": ...}'``) are in hairpin's messages.  A viewer turns ``[text](target)`` in a
    plain text message into a link to a related location or to any URI (section 3.11.6); literal brackets and
    backslashes are escaped with a backslash there, and GitHub's CodeQL extension for VS Code reads the same escapes
    anywhere in the message (github/vscode-codeql, ``unescapeSarifText`` in
    extensions/ql-vscode/src/common/sarif-utils.ts), so every '[', ']' and '\\' is escaped and no text from a file
    can open a link.  ``{n}`` is a placeholder for ``arguments[n]`` (section 3.11.5), which requires a literal '{' or
    '}' in a plain text or formatted message to be written '{{' or '}}', with or without ``arguments`` (and section
    3.11.11: a message holding a placeholder must have them), so every brace is doubled and ``{0}`` from a file is
    never read as a placeholder.  hairpin never writes ``message.markdown`` (section 3.11.4: a viewer would render
    it), and the characters the HTML report shows escaped (control and bidirectional formatting characters,
    ``hairpin.render.markup.visible``) are shown escaped here too."""
    text = _LINK_CHARS.sub(lambda m: "\\" + m.group(), visible(text))
    return {"text": _BRACES.sub(lambda m: m.group() * 2, text)}


def _ann(key: str) -> str:
    return f"metadata.annotations[{key}]"


def deciding_location(annotations: Mapping[str, str], marks: Mapping[str, tuple[int, int]]) -> tuple[str, int, int] | None:
    """(what, line, column) of the annotation or field that decides an at-risk verdict, if the file says."""
    candidates: list[str] = []
    if ctl.parse_map(annotations.get(ctl.TG_ATTRIBUTES, "")).get("preserve_client_ip.enabled") == "true":
        candidates.append(_ann(ctl.TG_ATTRIBUTES))
    candidates += [_ann(ctl.SCHEME), _ann(ctl.INTERNAL), _ann(ctl.TARGET_TYPE), _ann(ctl.TYPE), "spec.loadBalancerClass"]
    for c in candidates:
        at = marks.get(c)
        if at is not None:
            what = c[len("metadata.annotations[") : -1] if c.startswith("metadata.") else c
            return what, at[0], at[1]
    return None


def _fix_text(f: Finding) -> str:
    return "; ".join(
        f"{i}. {x.summary} ({x.command(f.command_namespace, f.name)}; cost: {x.cost})" for i, x in enumerate(f.fixes, 1)
    )


def ports_text(f: Finding) -> str:
    """' (port 53/UDP at risk; 80/TCP not: ...)' when the ports' verdicts differ, else ''."""
    risky = f.ports_at_risk
    if not risky or len(risky) == len(f.ports):
        return ""
    ok = [p for p in f.ports if not p.at_risk]
    return (f" (port{'s' if len(risky) > 1 else ''} {', '.join(p.label for p in risky)} at risk; "
            + "; ".join(f"{p.label} not: {p.reason}" for p in ok) + ")")  # fmt: skip


def _ignored_text(f: Finding) -> str:
    return "".join(f" Ignored: {x.text()}." for x in f.ignored)


def _locations(f: Finding, at: tuple[int, int] | None) -> dict[str, Any]:
    logical = [{"name": f.name, "fullyQualifiedName": f"{f.namespace}/{f.name}", "kind": "resource"}]
    if f.file is None:
        return {"locations": [{"logicalLocations": logical}]}
    region: dict[str, int] = {"startLine": f.line or 1}
    if at is not None:
        region = {"startLine": at[0], "startColumn": at[1]}
    out: dict[str, Any] = {
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": _uri(f.file)}, "region": region},
             "logicalLocations": logical}
        ]
    }  # fmt: skip
    if at is not None:
        out["relatedLocations"] = [
            {"id": 1, "message": _message(f"Service {f.namespace}/{f.name}"),
             "physicalLocation": {"artifactLocation": {"uri": _uri(f.file)}, "region": {"startLine": f.line or 1}}}
        ]  # fmt: skip
    return out


def _risk_result(f: Finding) -> dict[str, Any]:
    decided = f.decided_at
    where = f" (decided by {decided[0]})" if decided else ""
    result: dict[str, Any] = {
        "ruleId": RULE_ID,
        "ruleIndex": 0,
        "level": "warning",
        "message": _message(f"Service {f.namespace}/{f.name}{ports_text(f)}: {f.reason}{where}.{_ignored_text(f)} "
                            f"Fixes, cheapest first: {_fix_text(f)}"),
        "partialFingerprints": {"hairpinService/v1": f"{f.namespace}/{f.name}"},
        "properties": {
            "probability": float(f.probability) if f.probability is not None else None,
            "controller": f.settings.controller,
            "fixes": [x.to_json(f.command_namespace, f.name) for x in f.fixes],
            "ports": [p.to_json() for p in f.ports],
            "ignored_annotations": [x.to_json() for x in f.ignored],
            "candidates": [x.to_json(f.command_namespace, f.name) for x in f.candidates],
            "security_group_drop": f.blocked,
            "security_group_drop_families": list(f.blocked_families),
            "ip_families": list(f.ip_families),
            "target_group_ip_address_type": f.settings.tg_ip_address_type,
            "nlb_security_group_mode": f.settings.sg_mode,
        },
    }
    result.update(_locations(f, decided[1:] if decided else None))
    return result


def _ignored_results(f: Finding) -> list[dict[str, Any]]:
    out = []
    for x in f.ignored:
        r: dict[str, Any] = {
            "ruleId": IGNORED_RULE_ID,
            "ruleIndex": 1,
            "level": "note",
            "message": _message(f"Service {f.namespace}/{f.name}: {x.text()}"),
            "partialFingerprints": {"hairpinIgnored/v1": f"{f.namespace}/{f.name}/{x.annotation}"},
            "properties": x.to_json(),
        }
        r.update(_locations(f, f.marks.get(_ann(x.annotation))))
        out.append(r)
    return out


def _proxy_drop_result(f: Finding) -> dict[str, Any]:
    d = f.kube_proxy_drop
    assert d is not None
    fixes = f"Fixes, cheapest first: {_fix_text(f)}" if d.certain else ""
    r: dict[str, Any] = {
        "ruleId": PROXY_DROP_RULE_ID,
        "ruleIndex": 2,
        "level": "error" if d.certain else "warning",
        "message": _message(f"Service {f.namespace}/{f.name}: {d.reason}. {fixes}".rstrip()),
        "partialFingerprints": {"hairpinProxyDrop/v1": f"{f.namespace}/{f.name}"},
        "properties": {**d.to_json(), "probability": float(f.probability) if d.certain and f.probability else None,
                       "fixes": [x.to_json(f.command_namespace, f.name) for x in f.fixes] if d.certain else []},
    }  # fmt: skip
    r.update(_locations(f, f.marks.get("spec.loadBalancerSourceRanges")))
    return r


def _said(f: Finding, rule: str, index: int, level: str, texts: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """One result per problem (HP004) or warning (HP005) of a Service, on its first line."""
    out = []
    for text in texts:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]  # stable across runs, unlike a position
        r: dict[str, Any] = {
            "ruleId": rule,
            "ruleIndex": index,
            "level": level,
            "message": _message(f"Service {f.namespace}/{f.name}: {text}"),
            "partialFingerprints": {f"hairpin{rule}/v1": f"{f.namespace}/{f.name}/{digest}"},
        }
        r.update(_locations(f, None))
        out.append(r)
    return out


def to_sarif(r: Report) -> dict[str, Any]:
    results = [_risk_result(f) for f in r.at_risk
               if not (f.kube_proxy_drop is not None and f.kube_proxy_drop.alone)]  # fmt: skip
    results += [_proxy_drop_result(f) for f in r.findings if f.kube_proxy_drop is not None]
    for f in r.findings:
        results += _ignored_results(f)
    for f in r.findings:
        results += _said(f, PROBLEM_RULE_ID, 3, "error", f.settings.problems)
        shown = f.kube_proxy_drop.reason if f.kube_proxy_drop is not None else None  # already an HP003 result
        results += _said(f, UNDECIDED_RULE_ID, 4, "warning", [w for w in f.warnings if w != shown])
    notes = []
    for e in r.errors:
        n: dict[str, Any] = {"level": "error", "message": _message(e.one_line())}
        if e.file:
            phys: dict[str, Any] = {"artifactLocation": {"uri": _uri(e.file)}}
            if e.line:
                phys["region"] = {"startLine": e.line}
            n["locations"] = [{"physicalLocation": phys}]
        notes.append(n)
    if r.datapath is not None:  # a cluster-level condition: no Service's location (hairpin.kube.datapath)
        notes.append({"level": "note" if r.datapath.modelled else "warning", "message": _message(r.datapath.message),
                      "descriptor": {"id": "datapath"}})  # fmt: skip
    for w in r.cni_warnings:  # the VPC CNI's settings (hairpin.diagnose.families.cni_warnings): cluster-level too
        notes.append({"level": "warning", "message": _message(w), "descriptor": {"id": "cni"}})
    notes += [{"level": "warning", "message": _message(w), "descriptor": {"id": "versions"}} for w in r.version_warnings]
    notes += [{"level": "error", "message": _message(p), "descriptor": {"id": "lbc"}} for p in r.lbc_problems]
    notes += [{"level": "warning", "message": _message(w), "descriptor": {"id": "lbc"}} for w in r.lbc_warnings]
    notes += [{"level": "warning", "message": _message(w), "descriptor": {"id": "ip_families"}}
              for w in r.ip_family_warnings]  # fmt: skip
    rules = [{"id": rid, "name": name, "shortDescription": {"text": short}, "fullDescription": {"text": full},
              **({"helpUri": uri} if uri else {}), "defaultConfiguration": {"level": level}}
             for rid, name, level, short, full, uri in RULES]  # fmt: skip
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "hairpin", "version": __version__, "rules": rules}},
                "invocations": [
                    {"executionSuccessful": not r.errors, "toolExecutionNotifications": notes},
                ],
                "results": results,
                # the in-tree provider's NLBSecurityGroupMode hairpin used and where it came from (cloud_config.py)
                "properties": {
                    "cloud_config": cloud_config.to_json(r.sg_mode),
                    "datapath": r.datapath.to_json() if r.datapath is not None else None,
                    "cni_warnings": list(r.cni_warnings),
                    "lbc_warnings": list(r.lbc_warnings),
                    "lbc_problems": list(r.lbc_problems),
                    "ip_family_warnings": list(r.ip_family_warnings),
                },
            }
        ],
    }
