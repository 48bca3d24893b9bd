"""The AWS Load Balancer Controller's map annotations for one Service, as its model build reads them.

kubernetes-sigs/aws-load-balancer-controller, v3.5.0 (each with the release that changed it):

- ``aws-load-balancer-attributes`` (``pkg/service/model_build_load_balancer.go`` getLoadBalancerAttributes),
  ``aws-load-balancer-additional-resource-tags`` (buildAdditionalResourceTags) and
  ``aws-load-balancer-target-group-attributes`` (``model_build_target_group.go`` validateAndParseAttributes)
  are read with ParseStringMapAnnotation (``hairpin.aws.lbc_annotations``); a failed parse fails the model
  build: no load balancer.
- Per Service port (v2.14.0, commit f587f697 "Support configure target-group-attributes for different service
  port"): ``aws-load-balancer-target-group-attributes.<port>`` (buildPortSpecificTargetGroupAttributes, the
  Service port's number) is read the same way, after the base annotation; each of its keys with a non-empty
  value replaces the base one for that port's target group (an empty value keeps the base value).  Both maps
  have ``preserve_client_ip.enabled`` parsed with strconv.ParseBool (validateAndParseAttributes): an error
  fails the build.  Releases before v2.14.0 read no port annotation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hairpin.aws.lbc_annotations import read_map
from hairpin.aws.lbc_flags import parse_bool

__all__ = ["ADDITIONAL_TAGS", "LB_ATTRIBUTES", "PER_PORT_FROM", "TG_ATTRIBUTES", "base_maps", "port_maps"]

_PREFIX = "service.beta.kubernetes.io/"
TG_ATTRIBUTES = _PREFIX + "aws-load-balancer-target-group-attributes"
LB_ATTRIBUTES = _PREFIX + "aws-load-balancer-attributes"
ADDITIONAL_TAGS = _PREFIX + "aws-load-balancer-additional-resource-tags"
#: the first release that reads ``aws-load-balancer-target-group-attributes.<port>``
PER_PORT_FROM = (2, 14, 0)
_PRESERVE = "preserve_client_ip.enabled"
#: the map annotations whose failed parse fails every Service's model build, in the order the build reads them
_MAPS = (LB_ATTRIBUTES, ADDITIONAL_TAGS, TG_ATTRIBUTES)


def _release(version: tuple[int, int, int] | None) -> str:
    return f"release v{'.'.join(map(str, version))}, " if version else ""


def _read(key: str, raw: str, version: tuple[int, int, int] | None, steps: list[str], problems: list[str],
          warnings: list[str]) -> dict[str, str] | None:  # fmt: skip
    r = read_map(key, raw, version)
    if r.warning is not None:
        warnings.append(r.warning)
    if r.refused is not None:
        steps.append(f"{key}: {r.why_refused}: the AWS Load Balancer Controller's model build fails ({_release(version)}"
                     "pkg/annotations/parser.go ParseStringMapAnnotation) and no load balancer is built")  # fmt: skip
        problems.append(f"{key}: {r.why_refused} (the controller refuses the Service)")
        return None
    return r.pairs


def base_maps(a: Mapping[str, str], version: tuple[int, int, int] | None, steps: list[str], problems: list[str],
              warnings: list[str]) -> tuple[dict[str, str], dict[str, str]] | None:  # fmt: skip
    """(target group attributes, load balancer attributes), or None when one of the map annotations fails the
    parse (a step and a problem say which)."""
    got: dict[str, dict[str, str]] = {}
    for key in _MAPS:
        raw = a.get(key)
        pairs = {} if raw is None else _read(key, raw, version, steps, problems, warnings)
        if pairs is None:
            return None
        got[key] = pairs
    return got[TG_ATTRIBUTES], got[LB_ATTRIBUTES]


def port_maps(a: Mapping[str, str], version: tuple[int, int, int] | None, base: Mapping[str, str],
              ports: Sequence[int | None], steps: list[str], problems: list[str],
              warnings: list[str]) -> dict[int, dict[str, str]] | None:  # fmt: skip
    """Each Service port's target group attributes where its own annotation changes them (port -> the merged
    attributes), or None when that annotation fails the parse or gives ``preserve_client_ip.enabled`` that is no
    boolean (a step and a problem say which)."""
    out: dict[int, dict[str, str]] = {}
    for port in dict.fromkeys(p for p in ports if p is not None):
        key = f"{TG_ATTRIBUTES}.{port}"
        raw = a.get(key)
        if raw is None:
            continue
        if version is not None and version < PER_PORT_FROM:
            warnings.append(f"{key}: release v{'.'.join(map(str, version))} of the AWS Load Balancer Controller "
                            "does not read it (v2.14.0 and later do)")  # fmt: skip
            continue
        if version is None:
            warnings.append(f"{key}: releases of the AWS Load Balancer Controller before v2.14.0 do not read it; "
                            "hairpin assumes a current release (the input does not give the controller's release)")  # fmt: skip
        pairs = _read(key, raw, version, steps, problems, warnings)
        if pairs is None:
            return None
        value = pairs.get(_PRESERVE)
        if value is not None and parse_bool(value) is None:
            said = f"{key}: {_PRESERVE}={value!r} is not a boolean"
            steps.append(f"{said}: the AWS Load Balancer Controller's model build fails (\"failed to parse "
                         "attribute\") and no load balancer is built")  # fmt: skip
            problems.append(f"{said} (the controller refuses the Service)")
            return None
        merged = {**base, **{k: v for k, v in pairs.items() if v != ""}}
        if merged != dict(base):
            out[port] = merged
            steps.append(f"Service port {port}: target group attributes {key} over {TG_ATTRIBUTES}")
    return out
