"""Security groups that do not admit in-cluster callers (hairpin.aws.security_groups): the closed form against the
simulator, the drop in the simulator's trace, and the scenario file's keys."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources

import pytest
import yaml

from hairpin import scenario
from hairpin.aws import risk
from hairpin.aws.security_groups import blocked, parse_ranges, source_ranges
from hairpin.backends import sim
from hairpin.errors import InputError, ScenarioError

OFFICE = ("10.99.0.0/16",)  # the seed's caller, 192.168.27.239, is not in it
VPC = ("192.168.0.0/16",)


def variant(name: str) -> scenario.Scenario:
    s = scenario.seed()
    svc = s.client_service
    lb = svc.load_balancer
    assert lb is not None
    kw: dict[str, object] = {
        "sg-blocks-at-nlb": {"security_groups": True, "source_ranges": OFFICE},
        "sg-blocks-at-nlb-preservation-off": {
            "security_groups": True,
            "source_ranges": OFFICE,
            "preserve_client_ip": False,
        },
        "sg-admits-vpc": {"security_groups": True, "source_ranges": VPC},
        "no-sg-blocks-at-target": {"source_ranges": OFFICE},
        "no-sg-preservation-off": {"source_ranges": OFFICE, "preserve_client_ip": False},
        "sg-no-ranges": {"security_groups": True},
    }[name]  # type: ignore[assignment]
    return replace(s, services=(replace(svc, load_balancer=replace(lb, **kw)),))  # type: ignore[arg-type]


EXACT = {
    "sg-blocks-at-nlb": 1.0,  # every SYN dropped by the NLB's security group
    "sg-blocks-at-nlb-preservation-off": 1.0,  # the NLB's group filters whatever the preservation
    "sg-admits-vpc": 1 / 2,  # the seed's hairpin only
    "no-sg-blocks-at-target": 1.0,  # client IP preserved: the targets' rules see the caller
    "no-sg-preservation-off": 0.0,  # the targets see the NLB's address, which their rules admit
    "sg-no-ranges": 1 / 2,
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_formula_matches_simulation(name: str) -> None:
    s = variant(name)
    p = risk.timeout_probability(s)
    assert p == pytest.approx(EXACT[name])
    n = 400
    r = sim.run(s, n, seed=7)
    assert r.summary.expected_rate == pytest.approx(p)
    sd = max((p * (1 - p) / n) ** 0.5, 1e-9)
    assert abs(r.summary.rate - p) <= 4 * sd + 1e-12, (name, r.summary.rate, p)


def test_drop_is_named_in_the_trace() -> None:
    r = sim.run(variant("sg-blocks-at-nlb"), 1, seed=1)
    text = "\n".join(h.action for c in r.connections for h in c.hops)
    assert ("NLB 192.168.168.103: the NLB's security group admits only its source ranges (10.99.0.0/16): "
            "192.168.27.239 is not in them, dropped") in text  # fmt: skip
    r = sim.run(variant("no-sg-blocks-at-target"), 1, seed=1)
    text = "\n".join(h.action for c in r.connections for h in c.hops)
    assert ("client IP preserved, and the targets' security group admits only the source ranges (10.99.0.0/16): "
            "192.168.27.239 is not in them, dropped at the target") in text  # fmt: skip


def test_blocked() -> None:
    assert blocked("10.0.1.5", (), nlb_security_groups=True, preserve_client_ip=True) is None
    assert blocked("10.0.1.5", ("10.0.0.0/16",), nlb_security_groups=True, preserve_client_ip=True) is None
    assert blocked("10.1.1.5", ("10.0.0.0/16",), nlb_security_groups=True, preserve_client_ip=False) == "nlb"
    assert blocked("10.1.1.5", ("10.0.0.0/16",), nlb_security_groups=False, preserve_client_ip=True) == "target"
    assert blocked("10.1.1.5", ("10.0.0.0/16",), nlb_security_groups=False, preserve_client_ip=False) is None


def test_source_ranges() -> None:
    ann = {"service.beta.kubernetes.io/load-balancer-source-ranges": "10.0.0.5/16, 192.168.0.0/24"}
    assert source_ranges([], ann) == (("10.0.0.0/16", "192.168.0.0/24"),
                                      "service.beta.kubernetes.io/load-balancer-source-ranges")  # fmt: skip
    assert source_ranges(["172.16.0.0/12"], ann) == (("172.16.0.0/12",), "spec.loadBalancerSourceRanges")
    assert source_ranges([], ann, annotation_honoured=False) == ((), "")
    with pytest.raises(InputError) as e:
        parse_ranges(["10.0.0.0/33"])
    assert str(e.value) == "loadBalancerSourceRanges: '10.0.0.0/33' is not a CIDR"


def test_scenario_keys() -> None:
    doc = yaml.safe_load(resources.files("hairpin").joinpath("scenarios/seed.yaml").read_text())
    lb = doc["services"][0]["load_balancer"]
    lb["security_groups"] = True
    lb["source_ranges"] = ["10.99.0.0/16"]
    s = scenario.from_dict(doc)
    got = s.services[0].load_balancer
    assert got is not None and (got.security_groups, got.source_ranges) == (True, ("10.99.0.0/16",))
    lb["source_ranges"] = ["10.99.0.1/16"]
    with pytest.raises(ScenarioError) as e:
        scenario.from_dict(doc)
    assert "services[0].load_balancer.source_ranges[0]" in str(e.value) and "host bits set" in str(e.value)


def test_lab_vpc_rules_for_the_drop() -> None:
    from hairpin.backends.lab import commands

    text = commands.nlb_iptables(variant("sg-blocks-at-nlb"))
    assert text.split("COMMIT\n")[1] == (
        "*mangle\n:PREROUTING ACCEPT [0:0]\n:HP-SG-0 - [0:0]\n:HP-SG-1 - [0:0]\n"
        "-A PREROUTING -d 192.168.168.103/32 -p tcp -m tcp --dport 80 -j HP-SG-0\n"
        "-A HP-SG-0 -s 10.99.0.0/16 -j RETURN\n"
        '-A HP-SG-0 -m comment --comment "the NLB\'s security group: not in the source ranges" -j DROP\n'
        "-A PREROUTING -d 192.168.140.27/32 -p tcp -m tcp --dport 80 -j HP-SG-1\n"
        "-A HP-SG-1 -s 10.99.0.0/16 -j RETURN\n"
        '-A HP-SG-1 -m comment --comment "the NLB\'s security group: not in the source ranges" -j DROP\n'
    )
    text = commands.nlb_iptables(variant("no-sg-blocks-at-target"))
    assert "-A FORWARD -m conntrack --ctstate DNAT --ctdir ORIGINAL --ctorigdst 192.168.168.103/32 -j HP-SG-0" in text
    assert "*mangle" not in text
    assert "HP-SG" not in commands.nlb_iptables(variant("no-sg-preservation-off"))  # targets see the NLB's address
