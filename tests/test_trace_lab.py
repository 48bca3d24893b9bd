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

import re
import subprocess
import uuid
from collections.abc import Iterator

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


def kernel_accepts(ns: str, text: str) -> bool:
    res = subprocess.run(["ip", "netns", "exec", ns, "iptables-restore"], input=text, capture_output=True,
                         text=True, check=False)  # fmt: skip
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
    assert hairpin_accepts(text) == kernel_accepts(netns, text), text


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
