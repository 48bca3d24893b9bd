"""The AWS Load Balancer Controller's list and map annotations, read exactly as its parser reads them.

kubernetes-sigs/aws-load-balancer-controller ``pkg/annotations/parser.go``:

- A list annotation (ParseStringSliceAnnotation: ``aws-load-balancer-subnets``, ``load-balancer-source-ranges``,
  ``aws-load-balancer-security-groups``, ...) goes through splitCommaSeparatedString: split on every ``,``,
  each piece trimmed (Go's strings.TrimSpace), empty pieces dropped.  No escaping, no quoting: ``\\,`` is a
  backslash and a separator.  The same in every release from v2.0.0 to v3.5.0.
- A map annotation (ParseStringMapAnnotation: ``aws-load-balancer-target-group-attributes``,
  ``aws-load-balancer-attributes``, ``aws-load-balancer-target-node-labels``,
  ``aws-load-balancer-additional-resource-tags``, ...) changed in v2.14.1 (commit f7296d3e "support comma in
  string pars value", tagged 2025-10-17):

  - up to v2.14.0 (from v2.1.0, commit 1def42e7): the pieces of splitCommaSeparatedString, each cut at its
    first ``=``; key and value are *not* trimmed again (``a = b`` is the key ``"a "`` with the value
    ``" b"``);
  - from v2.14.1 (to v3.5.0): the pieces of splitKeyValuePairs, which reads the value byte by byte: a
    backslash takes the next character literally (``\\,`` is a comma, ``\\\\`` a backslash; a backslash
    that ends the value stays); a ``,`` ends the piece when the rest of the value (trimmed) holds an ``=``
    anywhere, stays in the piece when nothing but spaces follows it, and otherwise ends the parse with the
    trimmed rest as one last piece.  Empty pieces are kept (``a=1,,b=2`` has the piece ``""``; so does a
    value of spaces only).  Each piece is cut at its first ``=`` and key and value trimmed.

  In both, a piece without ``=`` or with an empty key fails the parse ("failed to parse stringMap
  annotation"), and a later key replaces an earlier one (a Go map).  A failed parse of the attributes,
  target node labels (instance targets) or tags annotations fails the Service's model build
  (``pkg/service/model_build_target_group.go`` validateAndParseAttributes and
  buildTargetGroupBindingNodeSelector, ``model_build_load_balancer.go`` getLoadBalancerAttributes and
  buildAdditionalResourceTags): no load balancer is built.

The controller's release comes from its image tag (``hairpin.aws.lbc_flags.image_version``), else from
``hairpin check --lbc-version``; when neither gives it, hairpin reads a map as the current releases do and warns when the older releases
read the same text differently.
"""

from __future__ import annotations

from dataclasses import dataclass

from hairpin.kube.apivalidation import go_trim_space

__all__ = [
    "ESCAPES_FROM",
    "MapReading",
    "read_map",
    "split_list",
    "split_pairs",
    "string_map",
]

#: the first release whose map annotations take ``\\,`` and trim keys and values (commit f7296d3e)
ESCAPES_FROM = (2, 14, 1)



def split_list(raw: str) -> list[str]:
    """splitCommaSeparatedString: the trimmed, non-empty pieces between commas."""
    return [p for p in (go_trim_space(piece) for piece in raw.split(",")) if p]


def split_pairs(raw: str) -> list[str]:
    """splitKeyValuePairs (v2.14.1 and later): the pieces of a map annotation, escapes resolved."""
    out: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            cur.append(raw[i + 1])
            i += 2
            continue
        if ch == ",":
            rest = go_trim_space(raw[i + 1 :])
            if "=" in rest:
                out.append(go_trim_space("".join(cur)))
                cur = []
            elif rest:
                out.append(go_trim_space("".join(cur)))
                out.append(rest)
                return out
            else:
                cur.append(ch)
        else:
            cur.append(ch)
        i += 1
    if cur:
        out.append(go_trim_space("".join(cur)))
    return out


def string_map(raw: str, *, escapes: bool = True) -> dict[str, str]:
    """ParseStringMapAnnotation of ``raw``: v2.14.1 and later with ``escapes``, else v2.1.0 to v2.14.0.
    A piece the controller refuses raises ``ValueError(piece)``."""
    out: dict[str, str] = {}
    for piece in split_pairs(raw) if escapes else split_list(raw):
        key, eq, value = piece.partition("=")
        if escapes:
            key, value = go_trim_space(key), go_trim_space(value)
        if not eq or not key:
            raise ValueError(piece)
        out[key] = value
    return out


@dataclass(frozen=True)
class MapReading:
    """A map annotation as the controller reads it: the pairs, or the piece that fails the parse, and a
    warning when the releases read it differently and the release is not known."""

    pairs: dict[str, str]
    refused: str | None = None
    warning: str | None = None

    @property
    def why_refused(self) -> str:
        """``'x' is not key=value ("failed to parse stringMap annotation")``, for a refused reading."""
        return f'{self.refused!r} is not key=value ("failed to parse stringMap annotation")'


def _one(raw: str, escapes: bool) -> MapReading:
    try:
        return MapReading(string_map(raw, escapes=escapes))
    except ValueError as e:
        return MapReading({}, refused=str(e.args[0]))


def _said(r: MapReading) -> str:
    if r.refused is not None:
        return f"a failed parse ({r.refused!r} is not key=value): no load balancer"
    return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in sorted(r.pairs.items())) + "}"


def read_map(annotation: str, raw: str, version: tuple[int, int, int] | None) -> MapReading:
    """``raw``, the value of the map annotation ``annotation``, as the controller of release ``version``
    reads it; ``None``: not known, read as v2.14.1 and later do, with a warning when earlier releases differ."""
    if version is not None:
        got = _one(raw, version >= ESCAPES_FROM)
        spaced = sorted(k for k in got.pairs if go_trim_space(k) != k)
        if version >= ESCAPES_FROM or not spaced:
            return got
        shown = ", ".join(repr(k) for k in spaced)
        warning = (f"{annotation}: release v{'.'.join(map(str, version))} of the AWS Load Balancer Controller does "
                   f"not trim keys (v2.14.1 and later do): {shown} is read with its spaces, as no attribute or label "
                   "hairpin knows")  # fmt: skip
        return MapReading(got.pairs, got.refused, warning)
    now, before = _one(raw, True), _one(raw, False)
    if now == before or (now.refused is not None and before.refused is not None):
        return now
    warning = (f"{annotation}: releases of the AWS Load Balancer Controller before v2.14.1 read {raw!r} as "
               f"{_said(before)}, v2.14.1 and later as {_said(now)}; hairpin assumes a current release (the input "
               "does not give the controller's release)")  # fmt: skip
    return MapReading(now.pairs, now.refused, warning)
