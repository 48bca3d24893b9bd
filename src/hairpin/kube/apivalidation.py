"""What the Kubernetes API server refuses in a Service's load-balancer fields, in its words.

kubernetes ``pkg/apis/core/validation/validation.go`` (``ValidateService``, ``validateLoadBalancerClassField``) and
``conditional_validation.go`` (``validateMixedProtocolLBService``), with the checks they call from k8s.io/apimachinery
and k8s.io/utils:

- ``load_balancer_class_refusal``: ``spec.loadBalancerClass`` on a type other than LoadBalancer is forbidden
  ("may only be used when `type` is 'LoadBalancer'"); on a LoadBalancer it must be a label key
  (``ValidateQualifiedName``: apimachinery ``pkg/api/validate/content`` ``IsLabelKey``, ``label_key_errors``).  An
  empty string is a value, not an absent field: ``loadBalancerClass`` is a ``*string``, set by ``""``.
- ``source_range_refusal``: ``spec.loadBalancerSourceRanges``, else the annotation
  ``service.beta.kubernetes.io/load-balancer-source-ranges`` (even empty), only on type LoadBalancer; each entry
  (the field's items; the annotation trimmed and, unless empty, split on ``,``) trimmed of white space
  (``strings.TrimSpace``) must parse as k8s.io/utils ``ParseCIDRSloppy`` parses it (``parse_cidr_sloppy``).
- ``mixed_protocol_refusal``: a new LoadBalancer Service with two protocols, refused before Kubernetes 1.24.
- ``source_range_warnings``: what the API server (1.33 and later) accepts in ``spec.loadBalancerSourceRanges`` but
  warns about (host bits set, leading zeros, IPv4-mapped IPv6), in its words.
- ``go_network``: a parsed range as Go's ``net.IPNet`` holds and prints it (an IPv4-mapped range is IPv4), which is
  how kube-proxy and the in-tree cloud provider read the ranges.
- ``ports_refusal``: ``spec.ports`` (``ValidateService``, ``validateServicePort``, ``ValidatePortNumOrName``, after
  ``SetDefaults_Service`` in ``pkg/apis/core/v1/defaults.go`` made an empty protocol TCP and an empty or zero
  targetPort the port), with apimachinery ``pkg/util/validation/validation.go`` ``IsValidPortNum`` ("must be between
  1 and 65535, inclusive"), ``IsValidPortName`` (an IANA_SVC_NAME) and ``IsDNS1123Label``; a nodePort outside
  0-65535 is refused by the registry's port allocator (``pkg/registry/core/service/portallocator``,
  ``ErrNotInRange``), whatever ``--service-node-port-range`` is (``k8s.io/apimachinery/pkg/util/net`` PortRange.Set
  takes no port past 65535).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "MIXED_PROTOCOL_DEFAULT_FROM",
    "PORT_PROTOCOLS",
    "cidr_warnings",
    "dns1123_label_error",
    "go_network",
    "go_quote",
    "go_trim_space",
    "is_ipv4_mapped",
    "label_key_errors",
    "load_balancer_class_refusal",
    "mixed_protocol_refusal",
    "parse_cidr_sloppy",
    "port_name_error",
    "ports_refusal",
    "source_range_entries",
    "source_range_refusal",
    "source_range_warnings",
]

SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
REFUSED = ": the API server refuses the Service"

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
            '"': '\\"', "\\": "\\\\"}  # fmt: skip


def go_quote(s: str) -> str:
    """Go's ``%q`` of a string (strconv.Quote), as field.Invalid prints a bad value: printable runes as they are
    (Python's isprintable is Go's unicode.IsPrint: no space but U+0020), the C escapes, else ``\\xNN`` below
    U+0080, ``\\uNNNN`` or ``\\UNNNNNNNN``."""
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


# -- label keys (apimachinery pkg/api/validate/content kube.go IsLabelKey, dns.go IsDNS1123Subdomain,
#    errors.go RegexError/MaxLenError; pkg/util/validation EmptyError "must be non-empty") ------------------
_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _DNS_LABEL + "(\\." + _DNS_LABEL + ")*"
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                  "must start and end with an alphanumeric character")  # fmt: skip
_KEY_RE = re.compile(_KEY_FMT)
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError, to the letter (its examples are joined by "',  or '", two spaces)."""
    return msg + " (e.g. " + " or ".join(f"'{e}', " for e in examples) + f"regex used for validation is '{fmt}')"


def label_key_errors(value: str) -> list[str]:
    """What IsLabelKey says of ``value`` (empty: a valid key).  Go's regexp ``$`` is the end of the text and its
    lengths are bytes, so ``fullmatch`` and UTF-8 lengths here.  (Older releases word two of these differently:
    "a qualified name" for "a valid label key", "characters" for "bytes".)"""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) > 2:
        return [f"a valid label key {_regex_error(_KEY_MSG, _KEY_FMT, 'MyName', 'my.name', '123-abc')} with an "
                "optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]  # fmt: skip
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix.encode()) > 253:
                errs.append("prefix part must be no more than 253 bytes")
            if not _SUBDOMAIN_RE.fullmatch(prefix):
                errs.append("prefix part " + _regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN_FMT, "example.com"))
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _KEY_RE.fullmatch(name):
        errs.append("name part " + _regex_error(_KEY_MSG, _KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def load_balancer_class_refusal(spec: Mapping[str, Any]) -> str | None:
    """The API server's refusal of ``spec.loadBalancerClass`` (``validateLoadBalancerClassField``, on create and on
    update alike), its first error in its words, or None.  The type is the defaulted one (missing or empty:
    ClusterIP); ``null`` is no class."""
    cls = spec.get("loadBalancerClass")
    if not isinstance(cls, str):
        return None
    if (spec.get("type") or "ClusterIP") != "LoadBalancer":
        return "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'" + REFUSED
    errs = label_key_errors(cls)
    return f"spec.loadBalancerClass: Invalid value: {go_quote(cls)}: {errs[0]}{REFUSED}" if errs else None


# -- CIDRs: k8s.io/utils ``ParseCIDRSloppy`` (net/parse.go), since June 2021 (Kubernetes 1.22) Go 1.16's
#    net.ParseCIDR kept as a fork (internal/third_party/forked/golang/net ip.go, parse.go) because Go 1.17 began
#    refusing leading zeros (kubernetes issue 100895).  Ported here rule for rule, not through Python's ipaddress:
#    that takes a zone (``fe80::1%eth0/64``), a bare address and a netmask, and refuses zeros the fork takes.
_BIG = 0xFFFFFF  # the fork's "bigger than we need"
#: the runes Go's unicode.IsSpace takes (strings.TrimSpace); Python's str.strip() would also take U+001C-U+001F
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def go_trim_space(s: str) -> str:
    """Go's ``strings.TrimSpace``."""
    return s.strip(_GO_SPACE)


def _dtoi(s: str) -> tuple[int, int, bool]:
    """The fork's dtoi: (value, digits read, ok) of the ASCII decimal digits at the start of ``s``."""
    n = i = 0
    while i < len(s) and "0" <= s[i] <= "9":
        n = n * 10 + ord(s[i]) - 48
        if n >= _BIG:
            return _BIG, i, False
        i += 1
    return (n, i, True) if i else (0, 0, False)


def _xtoi(s: str) -> tuple[int, int, bool]:
    """The fork's xtoi: the same for ASCII hex digits (any number of them: ``00001`` is 1)."""
    n = i = 0
    while i < len(s) and s[i] in "0123456789abcdefABCDEF":
        n = n * 16 + int(s[i], 16)
        if n >= _BIG:
            return 0, i, False
        i += 1
    return (n, i, True) if i else (0, i, False)


def _parse_ipv4(s: str) -> bytes | None:
    """The fork's parseIPv4: four decimal parts up to 255, leading zeros allowed (``010`` is ten)."""
    out = bytearray()
    for i in range(4):
        if not s or (i > 0 and s[0] != "."):
            return None
        s = s[1:] if i > 0 else s
        n, c, ok = _dtoi(s)
        if not ok or n > 0xFF:
            return None
        s = s[c:]
        out.append(n)
    return bytes(out) if not s else None


def _parse_ipv6(s: str) -> bytes | None:
    """The fork's parseIPv6: hex groups up to 0xFFFF, one ``::`` standing for at least one zero group, an IPv4
    address (parseIPv4) in the last 32 bits.  No zone."""
    ip = bytearray(16)
    ellipsis = -1
    if s.startswith("::"):
        ellipsis, s = 0, s[2:]
        if not s:
            return bytes(ip)
    i = 0
    while i < 16:
        n, c, ok = _xtoi(s)
        if not ok or n > 0xFFFF:
            return None
        if c < len(s) and s[c] == ".":
            if (ellipsis < 0 and i != 12) or i + 4 > 16:
                return None
            four = _parse_ipv4(s)
            if four is None:
                return None
            ip[i : i + 4] = four
            s, i = "", i + 4
            break
        ip[i], ip[i + 1] = n >> 8, n & 0xFF
        i += 2
        s = s[c:]
        if not s:
            break
        if s[0] != ":" or len(s) == 1:
            return None
        s = s[1:]
        if s[0] == ":":
            if ellipsis >= 0:
                return None
            ellipsis, s = i, s[1:]
            if not s:
                break
    if s:
        return None
    if i < 16:
        if ellipsis < 0:
            return None
        gap = 16 - i
        ip[ellipsis + gap : 16] = ip[ellipsis:i]
        ip[ellipsis : ellipsis + gap] = bytes(gap)
    elif ellipsis >= 0:
        return None
    return bytes(ip)


def _sloppy(s: str) -> tuple[bytes, int] | None:
    """(the address's bytes as written, 4 or 16 of them; the prefix length) of ``ParseCIDRSloppy``, or None."""
    addr, sep, mask = s.partition("/")
    if not sep:
        return None
    v4 = _parse_ipv4(addr)
    raw = v4 if v4 is not None else _parse_ipv6(addr)
    bits, used, ok = _dtoi(mask)
    if raw is None or not ok or used != len(mask) or bits > 8 * len(raw):
        return None
    return raw, bits


def parse_cidr_sloppy(s: str) -> Network | None:
    """The network k8s.io/utils ``ParseCIDRSloppy`` makes of ``s`` (host bits cleared), or None where it fails: an
    address (IPv4 tried first, then IPv6), ``/``, a decimal prefix length (leading zeros allowed) up to the address's
    bits.  So ``010.0.0.0/8`` is 10.0.0.0/8 (decimal, not octal); refused: a zone (``fe80::1%eth0/64``), a bare
    address, a netmask (``10.0.0.0/255.0.0.0``), white space, an empty string.  The network is the bytes Go holds:
    ``::ffff:10.0.0.0/104`` is an IPv6 network here; ``go_network`` is what Go's code makes of it."""
    got = _sloppy(s)
    if got is None:
        return None
    raw, bits = got
    if len(raw) == 4:
        return ipaddress.IPv4Network((raw, bits), strict=False)
    return ipaddress.IPv6Network((raw, bits), strict=False)


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def go_network(net: Network) -> Network:
    """``net`` as Go's ``net.IPNet`` reads and prints it: an IPv6 network of prefix 96 or longer whose (masked) address
    is IPv4-mapped (``::ffff:a.b.c.d``) is the IPv4 network of prefix length - 96, so ``::ffff:10.0.0.0/104`` is
    10.0.0.0/8 and ``::ffff:0:0/96`` is 0.0.0.0/0.  Go: ``IPNet.String`` and ``IPNet.Contains`` take the address's
    ``To4()`` and the mask's last four bytes (``networkNumberAndMask``, net/ip.go), and k8s.io/utils/net
    ``IPFamilyOfCIDR`` calls such a network IPv4 (``IPFamilyOf``: ``To4() != nil``).  apimachinery's own comment,
    pkg/util/validation/ip.go IsValidInterfaceAddress: "::ffff:192.168.0.1/120" -> "192.168.0.1/24"."""
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.network_address in _MAPPED:
        return ipaddress.IPv4Network((int(net.network_address) & 0xFFFFFFFF, net.prefixlen - 96))
    return net


def is_ipv4_mapped(net: Network) -> bool:
    """Whether Go reads the IPv6 network ``net`` as an IPv4 one (``go_network``)."""
    return net.version == 6 and go_network(net).version == 4


def _go_ip_string(raw: bytes) -> str:
    """Go's ``net.IP.String``: dotted IPv4 for 4 bytes or an IPv4-mapped 16, else RFC 5952 (as Python compresses)."""
    if len(raw) == 16 and ipaddress.IPv6Address(raw) in _MAPPED:
        raw = raw[12:]
    return str(ipaddress.IPv4Address(raw) if len(raw) == 4 else ipaddress.IPv6Address(raw))


def _netip_takes(value: str) -> bool:
    """Whether Go's ``netip.ParsePrefix`` (Go 1.22 and later) takes ``value``, which ``ParseCIDRSloppy`` took: it
    differs only in refusing leading zeros (an IPv4 part, written alone or inside IPv6, or the prefix length, of more
    than one digit starting with 0: net/netip parseIPv4, ParsePrefix, Go issue 63850) and IPv6 groups of more than
    four hex digits (parseIPv6)."""
    addr, _, bits = value.partition("/")
    if len(bits) > 1 and bits[0] == "0":
        return False
    groups = addr.split(":")
    if any(len(g) > 4 for g in groups if "." not in g):
        return False
    return not any(len(o) > 1 and o[0] == "0" for o in groups[-1].split(".")) if "." in groups[-1] else True


def cidr_warnings(path: str, value: str) -> list[str]:
    """What the API server warns of a CIDR it took (apimachinery pkg/util/validation/ip.go ``GetWarningsForCIDR``,
    Kubernetes 1.33 and later), its words: host bits set; leading zeros or an IPv4-mapped address (the form it asks
    for is Go's ``IPNet.String``, ``go_network``); else an IPv6 value not in RFC 5952 form.  Nothing for a value
    ``ParseCIDRSloppy`` refuses (it logs and says nothing)."""
    got = _sloppy(value)
    if got is None:
        return []
    raw, bits = got
    held = ipaddress.ip_network((raw, bits), strict=False)
    shown = str(go_network(held))
    out = []
    if held.network_address.packed != raw:  # Go: !ip.Equal(ipnet.IP)
        single = f"{_go_ip_string(raw)}/{8 * len(raw)}"
        out.append(f"{path}: CIDR value {go_quote(value)} is ambiguous in this context (should be {go_quote(shown)} or "
                   f"{go_quote(single)}?)")  # fmt: skip
    mapped = len(raw) == 16 and ipaddress.IPv6Address(raw) in _MAPPED
    if mapped or not _netip_takes(value):
        out.append(f"{path}: non-standard CIDR value {go_quote(value)} will be considered invalid in a future "
                   f"Kubernetes release: use {go_quote(shown)}")  # fmt: skip
    if not out and len(raw) == 16:
        canonical = f"{ipaddress.IPv6Address(raw)}/{bits}"
        if canonical != value:
            out.append(f"{path}: IPv6 CIDR value {go_quote(value)} should be in RFC 5952 canonical format "
                       f"({go_quote(canonical)})")  # fmt: skip
    return out


def source_range_warnings(ranges: Sequence[str]) -> list[str]:
    """The API server's warnings for ``spec.loadBalancerSourceRanges`` (kubernetes pkg/api/service/warnings.go
    ``GetWarningsForService``): each item as written, untrimmed (a padded item fails to parse there and is not
    warned of); the annotation is not looked at."""
    return [w for i, r in enumerate(ranges) for w in cidr_warnings(f"spec.loadBalancerSourceRanges[{i}]", r)]


def source_range_entries(spec: Mapping[str, Any], annotations: Mapping[str, str]) -> tuple[str, list[str]] | None:
    """(where, entries trimmed) the API server validates: the field when it has an item, else the annotation when it
    is set (empty once trimmed: no entries); None when neither is."""
    ranges = spec.get("loadBalancerSourceRanges")
    if isinstance(ranges, list) and ranges:
        # a null item decodes to Go's zero value, "" (any other non-string is refused earlier: parsers.shapes)
        return "spec.LoadBalancerSourceRanges", [go_trim_space("" if r is None else str(r)) for r in ranges]
    if SOURCE_RANGES_ANNOTATION in annotations:
        raw = go_trim_space(str(annotations[SOURCE_RANGES_ANNOTATION] or ""))
        return f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]", [
            go_trim_space(r) for r in raw.split(",")
        ] if raw else []
    return None


def source_range_refusal(spec: Mapping[str, Any], annotations: Mapping[str, str]) -> str | None:
    """The API server's first refusal of the Service's source ranges (``ValidateService``; the words of apimachinery
    ``pkg/util/validation/ip.go`` IsValidCIDR), or None.
    The field path is the API server's own (``spec.LoadBalancerSourceRanges[i]``, capital L; the annotation's entries
    are all named by the annotation).  Older releases refuse the same entries as one error on the whole list:
    "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24"."""
    got = source_range_entries(spec, annotations)
    if got is None:
        return None
    where, entries = got
    if (spec.get("type") or "ClusterIP") != "LoadBalancer":
        return f"{where}: Forbidden: may only be used when `type` is 'LoadBalancer'{REFUSED}"
    for i, entry in enumerate(entries):
        if parse_cidr_sloppy(entry) is None:
            path = f"{where}[{i}]" if where.startswith("spec.") else where
            return (f"{path}: Invalid value: {go_quote(entry)}: must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
                    f"2001:db8::/64){REFUSED}")  # fmt: skip
    return None


# -- mixed protocols (feature gate MixedProtocolLBService) -----------------------------------------------------
#: the first Kubernetes minor whose API server takes a new LoadBalancer Service with two protocols by default:
#: MixedProtocolLBService is alpha (off) in 1.20, beta (on) in 1.24, GA in 1.26 (kubernetes pkg/features/
#: kube_features.go); before 1.20 ValidateService refused it unconditionally
MIXED_PROTOCOL_DEFAULT_FROM = (1, 24)


def mixed_protocol_refusal(service_type: str, protocols: Sequence[str], kubernetes: tuple[int, int]) -> str | None:
    """The API server's refusal of a LoadBalancer Service with ports of two protocols on Kubernetes ``kubernetes``
    (with its default feature gates), its words (the ports it prints as Go values are left out), or None.  1.20 to
    1.23: ``validateMixedProtocolLBService`` (kubernetes ``pkg/apis/core/validation/conditional_validation.go``,
    which the Service strategy runs on create, and on an update that adds the second protocol); before 1.20:
    ``ValidateService`` itself."""
    if service_type != "LoadBalancer" or len(set(protocols)) < 2 or kubernetes >= MIXED_PROTOCOL_DEFAULT_FROM:
        return None
    words = ("may not contain more than 1 protocol when type is 'LoadBalancer'" if kubernetes >= (1, 20)
             else "cannot create an external load balancer with mix protocols")  # fmt: skip
    shown = ", ".join(dict.fromkeys(protocols))
    return (
        f"spec.ports: Invalid value: ({shown}): {words}: the API server of Kubernetes {kubernetes[0]}."
        f"{kubernetes[1]} refuses the Service (feature gate MixedProtocolLBService is on by default from 1.24)"
    )


# -- spec.ports: kubernetes pkg/apis/core/validation/validation.go ``ValidateService`` and ``validateServicePort``,
#    read at the main branch; apimachinery pkg/util/validation (IsValidPortNum, IsValidPortName, IsDNS1123Label) is
#    word for word the same in every release from v0.28 (Kubernetes 1.28) to v0.35 (1.35).  The older Kubernetes
#    releases' validation.go was not read rule by rule here: a rule that changed between 1.28 and 1.35 would not show.
#: the protocols ``validateServicePort`` takes (``supportedPortProtocols``), as ``sets.List`` prints them: sorted
PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(_LABEL_FMT)
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
              "and end with an alphanumeric character")  # fmt: skip
_PORT_NAME_RE = re.compile("[-a-z0-9]+")
_PORT_RANGE = "must be between 1 and 65535, inclusive"  # InclusiveRangeError(1, 65535)
#: kube-apiserver's default --service-node-port-range, as the port allocator's ErrNotInRange prints it
_NODE_PORT_RANGE = "30000-32767"


def dns1123_label_error(value: str) -> str | None:
    """apimachinery ``IsDNS1123Label``'s first error for ``value`` (its lengths are bytes), or None."""
    if len(value.encode()) > 63:
        return "must be no more than 63 characters"
    if _LABEL_RE.fullmatch(value):
        return None
    if _SUBDOMAIN_RE.fullmatch(value):  # a subdomain but not a label, its length checked: dots
        return "must not contain dots"
    return _regex_error(_LABEL_MSG, _LABEL_FMT, "my-name", "123-abc")


def port_name_error(value: str) -> str | None:
    """apimachinery ``IsValidPortName``'s first error (an IANA_SVC_NAME: at most 15 of a-z, 0-9 and ``-``, a letter
    among them, no ``--``, no ``-`` at either end), or None."""
    if len(value.encode()) > 15:
        return "must be no more than 15 characters"
    if not _PORT_NAME_RE.fullmatch(value):
        return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    if not re.search("[a-z]", value):
        return "must contain at least one letter (a-z)"
    if "--" in value:
        return "must not contain consecutive hyphens"
    if value[0] == "-" or value[-1] == "-":
        return "must not begin or end with a hyphen"
    return None


def _undecodable(i: int, key: str, v: Any) -> str | None:
    """The decoder's refusal of ``spec.ports[i].key`` (an int32; targetPort an IntOrString, whose UnmarshalJSON takes
    a JSON string as a name and decodes anything else into an int32, apimachinery ``pkg/util/intstr``), in
    encoding/json's words, or None.  ``null`` is the zero value."""
    if v is None or (key == "targetPort" and isinstance(v, str)):
        return None
    v = _whole(v)
    if isinstance(v, int) and not isinstance(v, bool):
        if _INT32_MIN <= v <= _INT32_MAX:
            return None
        got = f"number {v}"
    else:
        got = {bool: "bool", float: "number", str: "string", list: "array", dict: "object"}.get(type(v), "value")
    return (f"spec.ports[{i}].{key}: cannot unmarshal {got} into Go struct field ServicePort.spec.ports.{key} of type "
            f"int32{REFUSED}")  # fmt: skip


def _whole(v: Any) -> Any:
    """A float with no fractional part as the integer kubectl sends: it converts YAML to JSON and re-encodes the
    object it read (sigs.k8s.io/yaml YAMLToJSON keeps a YAML float a float64; Go's encoding/json writes 8080.0 as
    8080), so ``targetPort: 8080.0`` reaches the API server as 8080.  Anything else as it is."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _headless(spec: Mapping[str, Any]) -> bool:
    """``isHeadlessService``: the one cluster IP is "None" (the strategy makes clusterIPs from clusterIP)."""
    ips = spec.get("clusterIPs")
    if isinstance(ips, list) and ips:
        return ips == ["None"]
    return spec.get("clusterIP") == "None"


def _int(v: Any) -> int:
    """An int32 field as Go holds it once decoded (``_undecodable`` refused anything else): null is 0."""
    v = _whole(v)
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def ports_refusal(spec: Mapping[str, Any]) -> str | None:
    """The API server's first refusal of the Service's ``spec.ports`` (module docstring), its words, or None: the
    decoder's first, then ``validateServicePort``'s for each port in order (name, port, protocol, targetPort), then
    ``ValidateService``'s (a nodePort on a ClusterIP Service, two ports with one nodePort and protocol, two with one
    port and protocol), then the allocator's (a nodePort no range can hold).  The type and the protocols are the
    defaulted ones (missing or empty: ClusterIP, TCP).  Not refused: a nodePort in 1-65535 outside the cluster's
    ``--service-node-port-range`` (30000-32767 by default), which hairpin cannot see; a nodePort already taken."""
    raw = spec.get("ports")
    ports = [p if isinstance(p, dict) else {} for p in raw] if isinstance(raw, list) else []  # null: a zero port
    stype = spec.get("type") or "ClusterIP"
    if not ports:
        required = not _headless(spec) and stype != "ExternalName"
        return f"spec.ports: Required value{REFUSED}" if required else None
    for i, p in enumerate(ports):
        for key in ("port", "targetPort", "nodePort"):
            refused = _undecodable(i, key, p.get(key))
            if refused is not None:
                return refused
    names: set[str] = set()
    for i, p in enumerate(ports):
        at = f"spec.ports[{i}]"
        name = str(p.get("name") or "")
        if len(ports) > 1 and not name:
            return f"{at}.name: Required value{REFUSED}"
        if name:
            err = dns1123_label_error(name)
            if err is not None:
                return f"{at}.name: Invalid value: {go_quote(name)}: {err}{REFUSED}"
            if name in names:
                return f"{at}.name: Duplicate value: {go_quote(name)}{REFUSED}"
            names.add(name)
        port = _int(p.get("port"))
        if not 1 <= port <= 65535:
            return f"{at}.port: Invalid value: {port}: {_PORT_RANGE}{REFUSED}"
        proto = p.get("protocol") or "TCP"
        if proto not in PORT_PROTOCOLS:
            shown = ", ".join(f'"{x}"' for x in PORT_PROTOCOLS)
            return f"{at}.protocol: Unsupported value: {go_quote(str(proto))}: supported values: {shown}{REFUSED}"
        target = _whole(p.get("targetPort"))
        if isinstance(target, str) and target:
            err = port_name_error(target)
            if err is not None:
                return f"{at}.targetPort: Invalid value: {go_quote(target)}: {err}{REFUSED}"
        elif _int(target) and not 1 <= _int(target) <= 65535:  # 0, null, "": defaulted to the port
            return f"{at}.targetPort: Invalid value: {_int(target)}: {_PORT_RANGE}{REFUSED}"
    if stype == "ClusterIP":
        for i, p in enumerate(ports):
            if _int(p.get("nodePort")):
                return f"spec.ports[{i}].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'{REFUSED}"
    seen_node: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        node_port = _int(p.get("nodePort"))
        pair = (str(p.get("protocol") or "TCP"), node_port)
        if node_port and pair in seen_node:
            return f"spec.ports[{i}].nodePort: Duplicate value: {node_port}{REFUSED}"
        seen_node.add(pair)
    first: dict[tuple[str, int], int] = {}
    for i, p in enumerate(ports):
        pair = (str(p.get("protocol") or "TCP"), _int(p.get("port")))
        if pair in first:
            # the API server prints the value as a Go struct (%#v before 1.34, JSON from 1.34: apimachinery
            # field.Error.ErrorBody); the port and protocol stand for it here
            return (f"spec.ports[{i}]: Duplicate value: port {pair[1]}, protocol {pair[0]} (as spec.ports[{first[pair]}])"
                    f"{REFUSED}")  # fmt: skip
        first[pair] = i
    if stype in ("NodePort", "LoadBalancer"):
        for i, p in enumerate(ports):
            node_port = _int(p.get("nodePort"))
            if not 0 <= node_port <= 65535:  # 0: none asked for, one is allocated
                return (f"spec.ports[{i}].nodePort: Invalid value: {node_port}: provided port is not in the valid "
                        f"range. The range of valid ports is {_NODE_PORT_RANGE} (kube-apiserver's default "
                        f"--service-node-port-range; no range goes past 65535){REFUSED}")  # fmt: skip
    return None
