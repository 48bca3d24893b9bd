"""The rule model's own __init__s (each slot set by its descriptor) make what the frozen dataclasses' generated
ones made: the fields in order with their defaults, by position or keyword, through ``dataclasses.replace``,
equal and hashed alike, still frozen, pickled."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from hairpin.netfilter.rules import Match, Option, Rule, Target


def test_option() -> None:
    o = Option("--dport")
    assert [f.name for f in dataclasses.fields(Option)] == ["name", "values", "negated", "quoted"]
    assert dataclasses.astuple(o) == ("--dport", (), False, False)
    assert repr(o) == "Option(name='--dport', values=(), negated=False, quoted=False)"
    q = Option(name="--comment", values=("a b",), negated=True, quoted=True)
    assert dataclasses.astuple(q) == ("--comment", ("a b",), True, True)
    assert dataclasses.replace(o, name="--comment", values=("a b",), negated=True, quoted=True) == q
    assert o == Option("--dport", (), False, False) and hash(o) == hash(Option("--dport")) and o != q
    assert q.value == "a b" and o.value == ""
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.name = "--sport"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(q)) == q
    with pytest.raises(TypeError):
        Option()  # type: ignore[call-arg]


def test_match_and_target() -> None:
    dport = Option("--dport", ("80",))
    m = Match("tcp", (dport,))
    assert [f.name for f in dataclasses.fields(Match)] == ["module", "options"]
    assert dataclasses.astuple(Match("")) == ("", ())
    assert m == Match(module="tcp", options=(Option("--dport", ("80",)),)) and hash(m) == hash(Match("tcp", (dport,)))
    assert dataclasses.replace(m, module="udp") == Match("udp", (dport,)) and m.get("--dport") is dport
    t = Target("DNAT", (Option("--to-destination", ("10.0.0.1:80",)),))
    assert [f.name for f in dataclasses.fields(Target)] == ["name", "options", "goto"]
    assert dataclasses.astuple(Target("KUBE-SVC-X")) == ("KUBE-SVC-X", (), False)
    assert Target(name="X", goto=True) == dataclasses.replace(Target("X"), goto=True) != Target("X")
    assert repr(Target("X", goto=True)) == "Target(name='X', options=(), goto=True)"
    assert t.get("--to-destination") == Option("--to-destination", ("10.0.0.1:80",))
    for x in (m, t):
        with pytest.raises(dataclasses.FrozenInstanceError):
            x.options = ()  # type: ignore[misc]
        assert pickle.loads(pickle.dumps(x)) == x
    with pytest.raises(TypeError):
        Target()  # type: ignore[call-arg]


def test_rule() -> None:
    m = (Match("", (Option("-p", ("tcp",)),)), Match("comment", (Option("--comment", ("x",), quoted=True),)))
    t = Target("ACCEPT")
    r = Rule("filter", "INPUT", m, t)
    assert [f.name for f in dataclasses.fields(Rule)] == ["table", "chain", "matches", "target", "index", "line",
                                                          "counters", "source"]  # fmt: skip
    assert dataclasses.astuple(Rule("nat", "C", (), None)) == ("nat", "C", (), None, 0, 0, None, "")
    q = Rule(table="filter", chain="INPUT", matches=m, target=t, index=2, line=7, counters=(1, 60), source="-A INPUT")
    assert (q.index, q.line, q.counters, q.source) == (2, 7, (1, 60), "-A INPUT")
    assert dataclasses.replace(r, index=2, line=7, counters=(1, 60), source="-A INPUT") == q
    assert r == Rule("filter", "INPUT", m, t, 0, 0, None, "") and hash(r) == hash(Rule("filter", "INPUT", m, t))
    assert r != q and q.comment() == "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.line = 5  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(q)) == q
    with pytest.raises(TypeError):
        Rule("filter", "INPUT", m)  # type: ignore[call-arg]
