"""The tracer's checks against the real tools, in private network namespaces (root, iptables, iproute2).

Differential: random rule files (hypothesis) are loaded by ``iptables-restore`` into a namespace of the
test's own; the tracer refuses exactly the files the kernel and iptables-restore refuse.  The real load is
the oracle, not ``iptables-restore --test``: ``--test`` never commits, so it does not see jump loops or a
target used from a hook it does not allow (the kernel checks those at commit), and with the nf_tables backend
it also accepts a jump to a chain that does not exist.  Documented exceptions: a udp port above 65535 (iptables 1.8.9's udp match loads ``--dport 99999`` as
34463, the value modulo 65536, while tcp refuses it; hairpin refuses both: a dump never holds such a value,
and tracing it as written would be wrong), which the generator makes and the test checks on its own; host
names in addresses (iptables resolves them through DNS; hairpin refuses them) and options a match module does
not know (iptables refuses them; hairpin leaves the rule undecided), which the generator does not make.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import needs_root_iptables
from hairpin.errors import ParseError
from hairpin.parsers import iptables_check, iptables_save

pytestmark = needs_root_iptables


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    name = f"hp15d-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


USER = ("KUBE-A", "KUBE-B", "KUBE-C")
def mostly(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """Valid values four times out of five: most files then load, and each bad value is tried alone."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good), st.sampled_from(good),
                     st.sampled_from(bad))  # fmt: skip


ADDRS = mostly(["10.0.0.1", "192.168.16.142", "10.0.0.0/8", "0.0.0.0/0", "172.16.0.0/255.240.0.0"],
               ["192.168.16.999", "10.0.0.300/24", "10.1.2.3/33"])  # fmt: skip
PORTS = mostly(["80", "31468", "65535", "1000:2000", "0", "http"], ["99999", "2000:1000"])
PROBS = mostly(["0.33333333349", "0.5", "1.0", "0"], ["1.7", "-0.1"])
NAT_TO = mostly(["192.168.39.2:80", "192.168.39.2", "10.0.0.1-10.0.0.5"],
                ["192.168.16.999:80", "10.0.0.1:99999", "10.0.0.1:90-80"])  # fmt: skip
TARGETS = mostly(["ACCEPT", "RETURN", *USER], ["NOPE", "KUBE-MISSING", "DROP"])


@st.composite
def rule(draw: st.DrawFn, table: str, chains: list[str]) -> str:
    chain = draw(st.sampled_from(chains))
    parts = [f"-A {chain}"]
    proto = draw(st.sampled_from(["", "tcp", "udp"]))
    if draw(st.booleans()):
        parts.append(f"-s {draw(ADDRS)}")
    if proto:
        parts.append(f"-p {proto}")
        if draw(st.booleans()):
            parts.append(f"-m {proto} --dport {draw(PORTS)}")
    if draw(st.booleans()):
        parts.append(f"-m statistic --mode random --probability {draw(PROBS)}")
    extra = ["DNAT", "SNAT", "MASQUERADE"] if table == "nat" else ["REJECT", "DROP"]
    target = draw(st.one_of(TARGETS, st.sampled_from(extra)))
    if target == "DNAT":
        parts.append(f"-j DNAT --to-destination {draw(NAT_TO)}")
    elif target == "SNAT":
        parts.append(f"-j SNAT --to-source {draw(NAT_TO)}")
    elif target == "RETURN" and chain in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "FORWARD"):
        parts.append("-j ACCEPT")
    else:
        parts.append(f"-j {target}")
    return " ".join(parts)


@st.composite
def rule_file(draw: st.DrawFn) -> str:
    out: list[str] = []
    for table, builtins in (("nat", ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]),
                            ("filter", ["INPUT", "FORWARD", "OUTPUT"])):  # fmt: skip
        name = table if draw(st.integers(0, 29)) else table + "x"
        out.append(f"*{name}")
        out += [f":{c} ACCEPT [0:0]" for c in builtins]
        out += [f":{c} - [0:0]" for c in USER]
        out += draw(st.lists(rule(table, builtins + list(USER)), min_size=1, max_size=5))
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def kernel_accepts(ns: str, text: str, *, test_only: bool = False) -> bool:
    cmd = ["ip", "netns", "exec", ns, "iptables-restore", *(["--test"] if test_only else [])]
    res = subprocess.run(cmd, input=text, capture_output=True, text=True, check=False)
    return res.returncode == 0


def hairpin_accepts(text: str) -> bool:
    try:
        iptables_check.check(iptables_save.parse(text, "rules"))
    except ParseError:
        return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule_file())
def test_refuses_exactly_what_the_kernel_refuses(netns: str, text: str) -> None:
    if UDP_WRAP.search(text):  # the documented exception: iptables wraps it, hairpin refuses it
        assert not hairpin_accepts(text)
        return
    accepted = hairpin_accepts(text)
    assert accepted == kernel_accepts(netns, text), text
    if not kernel_accepts(netns, text, test_only=True):  # what --test refuses, hairpin refuses too
        assert not accepted, text


UDP_WRAP = re.compile(r"-m udp --dport (99999|\d+:99999|99999:\d+)\b")


def test_udp_port_above_65535_is_wrapped_by_iptables_and_refused_by_hairpin(netns: str) -> None:
    text = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -m udp --dport 99999 -j ACCEPT\nCOMMIT\n"
    assert kernel_accepts(netns, text) and not hairpin_accepts(text)
    shown = subprocess.run(["ip", "netns", "exec", netns, "iptables", "-S", "INPUT"], capture_output=True, text=True,
                           check=True).stdout  # fmt: skip
    assert "-A INPUT -p udp -m udp --dport 34463 -j ACCEPT" in shown


@pytest.mark.parametrize("body", [
    "-A PREROUTING -j NOPE",
    "-A PREROUTING -p tcp -j DNAT --to-destination 192.168.16.999",
    "-A PREROUTING -p tcp -m tcp --dport 99999 -j ACCEPT",
    "-A PREROUTING -m statistic --mode random --probability 1.7 -j ACCEPT",
    "-A PREROUTING -j KUBE-A\n-A KUBE-A -j KUBE-A",
    "-A PREROUTING -j KUBE-A\n-A KUBE-A -j KUBE-B\n-A KUBE-B -j KUBE-A",
    "-A PREROUTING -j MASQUERADE",
])  # fmt: skip
def test_the_issues_cases_are_refused_by_both(netns: str, body: str) -> None:
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-A - [0:0]\n:KUBE-B - [0:0]\n" + body
    text += "\nCOMMIT\n"
    assert not kernel_accepts(netns, text) and not hairpin_accepts(text)


# ---------------------------------------------------------------------------------- every form off a kernel

SYN = "tcp 192.168.27.239:49134 > 192.168.2.3:31468 syn in eth0"
FORM_IPT = {
    "iptables-save": ["iptables-save"],
    "iptables-save-c": ["iptables-save", "-c"],
    "iptables-legacy-save": ["iptables-legacy-save"],
    "nat-S": ["iptables", "-t", "nat", "-S"],
    "filter-S": ["iptables", "-S"],
    "mangle-S": ["iptables", "-t", "mangle", "-S", "-v"],
}
FORM_ROUTES = {
    "ip-4-route": ["ip", "-4", "route", "show", "table", "all"],
    "ip-route-v6-too": ["ip", "route", "show", "table", "all"],
    "ip-o-route": ["ip", "-o", "-4", "route", "show", "table", "all"],
    "ip-c-route": ["ip", "-c=always", "-4", "route", "show", "table", "all"],
    "ip-j-route": ["ip", "-j", "route", "show", "table", "all"],
    "ip-jp-route": ["ip", "-j", "-p", "-4", "route", "show", "table", "all"],
    "route-n": ["route", "-n"],
}
FORM_RULES = {"ip-rule": ["ip", "rule"], "ip-c-rule": ["ip", "-c=always", "rule"], "ip-j-rule": ["ip", "-j", "rule"],
         "ip-jp-rule": ["ip", "-j", "-p", "rule"]}  # fmt: skip
FORM_ADDRS = {"ip-4o-addr": ["ip", "-4", "-o", "addr"], "ip-o-addr": ["ip", "-o", "addr"], "ip-addr": ["ip", "addr"],
         "ip-c-addr": ["ip", "-c", "addr"], "ip-cc-addr": ["ip", "-c=always", "addr"], "ip-j-addr": ["ip", "-j", "addr"],
         "ip-jp-addr": ["ip", "-j", "-p", "addr"]}  # fmt: skip


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed's node1 built in a namespace (rules in both iptables backends), dumped in every form."""
    from hairpin.kube import node_iptables
    from hairpin.scenario import seed

    out = tmp_path_factory.mktemp("forms")
    ns = f"hp15f-{uuid.uuid4().hex[:8]}"

    def sh(*a: str) -> str:
        return subprocess.run(["ip", "netns", "exec", ns, *a], capture_output=True, text=True, check=True).stdout

    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for i, dev in enumerate(("eth0", "enie348bef9edc", "eni851d8a400b6")):
            sh("ip", "link", "add", dev, "type", "veth", "peer", "name", f"peer{i}")
            sh("ip", "link", "set", dev, "up")
            sh("ip", "link", "set", f"peer{i}", "up")
        sh("ip", "link", "set", "lo", "up")
        sh("ip", "addr", "add", "192.168.2.3/19", "dev", "eth0")
        sh("ip", "route", "add", "default", "via", "192.168.0.1", "dev", "eth0")
        sh("ip", "route", "add", "192.168.27.239", "dev", "enie348bef9edc", "scope", "link")
        sh("ip", "route", "add", "192.168.16.142", "dev", "eni851d8a400b6", "scope", "link")
        sh("ip", "rule", "add", "to", "192.168.27.239", "lookup", "main", "prio", "512")
        sh("ip", "rule", "add", "to", "192.168.16.142", "lookup", "main", "prio", "512")
        sh("ip", "rule", "add", "fwmark", "0x80/0x80", "lookup", "main", "prio", "1024")
        rules = node_iptables(seed(), "node1")
        for restore in ("iptables-restore", "iptables-legacy-restore"):
            if shutil.which(restore) is None:
                continue
            subprocess.run(["ip", "netns", "exec", ns, restore], input=rules, text=True, check=True,
                           capture_output=True)  # fmt: skip
        for group in (FORM_IPT, FORM_ROUTES, FORM_RULES, FORM_ADDRS):
            for name, cmd in group.items():
                if shutil.which(cmd[0]) is None:  # route (net-tools), iptables-legacy-save: not everywhere
                    continue
                (out / name).write_text(sh(*cmd))
        # hairpin collect --run on the "node" itself: the tarball trace --node reads
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
        subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "hairpin.cli.main", "collect", "--run",
                        "--out", str(out / "collected.tgz")], check=True, capture_output=True, env=env)  # fmt: skip
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return out


def outcomes(n: object) -> list[object]:
    from hairpin import trace as tr

    assert isinstance(n, tr.Node)
    packet, iif = tr.parse_packet(SYN)
    t = tr.trace(n, packet, iif, reply=True)
    # the same rules sit on other lines in other forms: compare everything but line numbers
    text = json.dumps([o.to_json() for o in t.outcomes], sort_keys=True)
    return json.loads(re.sub(r'(line |"line": )\d+', r'\g<1>0', text))  # type: ignore[no-any-return]


def test_every_form_off_a_real_kernel_traces_the_same(dumps: Path) -> None:
    from hairpin import trace as tr

    base = tr.Node.load(dumps / "iptables-save", dumps / "ip-4-route", dumps / "ip-rule", dumps / "ip-4o-addr")
    want = outcomes(base)
    assert len(want) == 3 and all(o["asymmetric"] for o in want)  # type: ignore[index]
    seen: dict[str, str] = {}
    for ipt in (["iptables-save-c"], ["iptables-legacy-save"], ["nat-S", "filter-S", "mangle-S"]):
        if not (dumps / ipt[0]).exists():
            continue
        n = tr.Node.load([dumps / f for f in ipt], dumps / "ip-4-route", dumps / "ip-rule", dumps / "ip-4o-addr")
        assert outcomes(n) == want, ipt
        seen[ipt[0]] = n.forms["iptables"]
    for routes in FORM_ROUTES:
        if not (dumps / routes).exists():
            continue
        n = tr.Node.load(dumps / "iptables-save", dumps / routes, dumps / "ip-rule", dumps / "ip-4o-addr")
        assert outcomes(n) == want, routes
        seen[routes] = n.forms["routes"]
    for rules in FORM_RULES:
        n = tr.Node.load(dumps / "iptables-save", dumps / "ip-4-route", dumps / rules, dumps / "ip-4o-addr")
        assert outcomes(n) == want, rules
        seen[rules] = n.forms["rules"]
    for addrs in FORM_ADDRS:
        n = tr.Node.load(dumps / "iptables-save", dumps / "ip-4-route", dumps / "ip-rule", dumps / addrs)
        assert outcomes(n) == want, addrs
        seen[addrs] = n.forms["addrs"]
    forms = {k: v.split(": ", 1)[1] for k, v in seen.items()}
    for missing in ("iptables-legacy-save", "route-n"):  # tools this machine may not have
        if not (dumps / missing).exists():
            forms[missing] = {"iptables-legacy-save": "iptables-save (legacy)", "route-n": "route -n"}[missing]
    assert forms == {
        "iptables-save-c": "iptables-save (nf_tables) with counters (-c)",
        "iptables-legacy-save": "iptables-save (legacy)",
        "nat-S": f"iptables -S, table nat (inferred from its built-in chains); {dumps / 'filter-S'}: iptables -S, "
                 f"table filter (inferred from its built-in chains); {dumps / 'mangle-S'}: iptables -S, table mangle "
                 "(inferred from its built-in chains)",
        "ip-4-route": "ip route",
        "ip-route-v6-too": forms["ip-route-v6-too"],
        "ip-o-route": "ip route",
        "ip-c-route": "ip route, coloured (-c)",
        "ip-j-route": "ip -j route (JSON, 9 IPv4 routes)",
        "ip-jp-route": "ip -j route (JSON, 9 IPv4 routes)",
        "route-n": "route -n",
        "ip-rule": "ip rule", "ip-c-rule": "ip rule, coloured (-c)", "ip-j-rule": "ip -j rule (JSON)",
        "ip-jp-rule": "ip -j rule (JSON)",
        "ip-4o-addr": "ip -o addr", "ip-o-addr": "ip -o addr", "ip-addr": "ip addr", "ip-c-addr": "ip addr, coloured (-c)",
        "ip-cc-addr": "ip addr, coloured (-c)", "ip-j-addr": "ip -j addr (JSON)", "ip-jp-addr": "ip -j addr (JSON)",
    }  # fmt: skip
    assert forms["ip-route-v6-too"].startswith("ip route (") and forms["ip-route-v6-too"].endswith(
        " IPv6 routes skipped)")


def test_node_directory_found_by_content(dumps: Path, tmp_path: Path) -> None:
    """Files named anything: each is told by what it holds."""
    from hairpin import trace as tr

    for src, dst in (("nat-S", "a.txt"), ("ip-j-route", "b"), ("ip-cc-addr", "c.out"), ("ip-jp-rule", "d")):
        (tmp_path / dst).write_text((dumps / src).read_text())
    f = tr.Node.find(tmp_path)
    assert {k: v.name for k, v in f.items()} == {"iptables": "a.txt", "routes": "b", "addrs": "c.out", "rules": "d"}


def test_collect_run_on_the_node_gives_a_tarball_trace_reads(dumps: Path) -> None:
    from hairpin import trace as tr

    res = subprocess.run([sys.executable, "-m", "hairpin.cli.main", "trace", "--node", str(dumps / "collected.tgz"),
                          "--reply", "--format", "json", SYN], capture_output=True, text=True, check=False)  # fmt: skip
    assert res.returncode == 1, res.stderr  # asymmetric returns: a finding
    doc = json.loads(res.stdout)
    base = tr.Node.load(dumps / "iptables-save", dumps / "ip-4-route", dumps / "ip-rule", dumps / "ip-4o-addr",
                        name="collected")
    want = outcomes(base)
    # the namespace holds the rules in both backends (iptables-restore and iptables-legacy-restore above) and collect
    # gathers iptables-legacy-save too: both backends are traced, and every order ends as the nft rules alone do
    said = doc["inputs"]["iptables"]
    tgz = f"{dumps / 'collected.tgz'}"  # the files are named by the tarball and its member
    assert said == (f"{tgz}:iptables-save: iptables-save (nf_tables); iptables-legacy: {tgz}:iptables-legacy-save: "
                    "iptables-save (legacy)")
    assert "results" not in doc

    def fate(outs: list[Any]) -> list[object]:
        return [(o["probability"], [(leg["verdict"], leg["out"]) for leg in o["legs"]], o["asymmetric"]) for o in outs]

    assert fate(doc["outcomes"]) == fate(want)
    assert sorted(k for k in doc["inputs"]) == ["addrs", "iptables", "nft", "routes", "rules", "sockets"]
    assert doc["inputs"]["nft"].endswith(": nft list ruleset (no table ip kube-proxy: iptables mode, rules from "
                                         "iptables-save)")
