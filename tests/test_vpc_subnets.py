"""``Vpc.subnet_of`` and ``Vpc.az_of`` look an address up by its network at each prefix length the subnets have;
the answer must be the one a scan of every subnet in order gives (the first AZ, the first subnet), overlapping and
repeated subnets and both families included."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hairpin.model.scenario import AZ, Vpc


def scan(vpc: Vpc, address: str) -> tuple[str | None, str | None]:
    a = ipaddress.ip_address(address)
    for az in vpc.azs:
        for subnet in az.subnets:
            if a in ipaddress.ip_network(subnet):
                return subnet, next(z.name for z in vpc.azs if subnet in z.subnets)
    return None, None


V4 = st.builds(lambda n, p: str(ipaddress.ip_network((n, p), strict=False)),
               st.integers(0x0A000000, 0x0A0003FF), st.integers(20, 32))  # fmt: skip
V6 = st.builds(lambda n, p: str(ipaddress.ip_network((n, p), strict=False)),
               st.integers(0xFD00 << 112, (0xFD00 << 112) + 0xFFFF), st.integers(116, 128))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.one_of(V4, V6), max_size=6), min_size=1, max_size=4),
       st.lists(st.one_of(st.integers(0x0A000000, 0x0A0003FF).map(lambda n: str(ipaddress.IPv4Address(n))),
                          st.integers(0xFD00 << 112, (0xFD00 << 112) + 0xFFFF).map(
                              lambda n: str(ipaddress.IPv6Address(n)))), min_size=1, max_size=20))  # fmt: skip
def test_lookup_is_the_scan_in_order(azs: list[list[str]], addresses: list[str]) -> None:
    vpc = Vpc("10.0.0.0/16", "10.0.0.1", tuple(AZ(f"az{i}", tuple(s)) for i, s in enumerate(azs)))
    for a in addresses:
        assert (vpc.subnet_of(a), vpc.az_of(a)) == scan(vpc, a)


def test_overlapping_and_repeated_subnets_give_the_first_in_order() -> None:
    vpc = Vpc("10.0.0.0/16", "10.0.0.1", (AZ("a", ("10.0.1.0/25", "10.0.0.0/16")), AZ("b", ("10.0.1.0/24",)),
                                          AZ("c", ("10.0.1.0/25",))))  # fmt: skip
    assert (vpc.subnet_of("10.0.1.5"), vpc.az_of("10.0.1.5")) == ("10.0.1.0/25", "a")
    assert (vpc.subnet_of("10.0.1.200"), vpc.az_of("10.0.1.200")) == ("10.0.0.0/16", "a")
    assert (vpc.subnet_of("10.1.0.1"), vpc.az_of("10.1.0.1")) == (None, None)
    assert (vpc.subnet_of("fd00::1"), vpc.az_of("fd00::1")) == (None, None)


def test_scenario_lookups_by_name_give_the_first_of_a_name() -> None:
    """``Scenario.node``, ``pod`` and ``service`` look names up in a table made once: the first of a name, as a scan
    in order finds it, and KeyError for a name the scenario does not hold."""
    from dataclasses import replace

    from hairpin import scenario

    s = scenario.seed()
    first, second = s.nodes[0], s.nodes[1]
    twice = replace(s, nodes=(first, replace(second, name=first.name), *s.nodes[2:]))
    assert twice.node(first.name) is first
    assert twice.node(s.nodes[2].name) is s.nodes[2]
    p = s.pods[0]
    twice = replace(s, pods=(p, replace(s.pods[1], name=p.name), *s.pods[2:]))
    assert twice.pod(p.name) is p and s.client_service is s.services[0]
    for lookup, name in ((s.node, "nope"), (s.pod, "nope"), (s.service, "default/nope")):
        with pytest.raises(KeyError) as exc:
            lookup(name)
        assert exc.value.args == (name,)
