"""An endpoint's text (``str(Endpoint)``): the dotted quad or bracketed RFC 5952 text and the port, the host part
remembered by address (``hairpin.model.net._HOSTS``), the same text however full the memory is."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hairpin.model import net
from hairpin.model.net import V6, Endpoint


@pytest.mark.parametrize(
    ("addr", "port", "text"),
    [
        (0xC0A80001, 80, "192.168.0.1:80"),
        (0, 0, "0.0.0.0:0"),
        (0xFFFFFFFF, 65535, "255.255.255.255:65535"),
        (V6 | 1, 443, "[::1]:443"),
        (V6 | int(ipaddress.IPv6Address("fd00::10.0.0.5")), 31468, "[fd00::a00:5]:31468"),
        (V6 | int(ipaddress.IPv6Address("::ffff:10.0.0.5")), 8080, "[::ffff:10.0.0.5]:8080"),
    ],
)
def test_the_text_of_an_endpoint(addr: int, port: int, text: str) -> None:
    assert str(Endpoint(addr, port)) == text
    assert str(Endpoint(addr, port)) == text  # the second time from the remembered host


@given(st.lists(st.tuples(st.booleans(), st.integers(0, (1 << 128) - 1), st.integers(0, 65535)), max_size=30))
def test_the_text_is_the_address_text_and_port_whatever_was_named_before(named: list[tuple[bool, int, int]]) -> None:
    for six, value, port in named:
        if six:
            addr, host = V6 | value, f"[{net.ip_str(V6 | value)}]"
        else:
            addr, host = value & 0xFFFFFFFF, str(ipaddress.IPv4Address(value & 0xFFFFFFFF))
        assert str(Endpoint(addr, port)) == f"{host}:{port}"


def test_the_memory_of_hosts_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(net, "_HOSTS", {})
    monkeypatch.setattr(net, "_HOSTS_MAX", 3)
    for _ in range(2):
        for last in range(10):
            assert str(Endpoint(0x0A000000 | last, 1000 + last)) == f"10.0.0.{last}:{1000 + last}"
            assert len(net._HOSTS) <= 3
    assert str(Endpoint(V6 | 2, 1)) == "[::2]:1"
    assert len(net._HOSTS) <= 3
