"""Shared fixtures: small hosts built from iptables-save text, and a recording fabric."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from hairpin.engine import Engine
from hairpin.host import Fabric, LinuxHost
from hairpin.model.net import Packet
from hairpin.parsers import iptables_save
from hairpin.routing import Routing

# No test asserts timing (performance lives in benchmarks/): hypothesis's per-example deadline and its
# too-slow health check would make results depend on how loaded the machine is.
settings.register_profile("hairpin", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hairpin")


class Recorder(Fabric):
    """A fabric that records what hosts transmit and deliver instead of delivering it."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.sent: list[tuple[str, Packet, list[str]]] = []
        self.records: list[tuple[str, Packet, list[str], str]] = []

    def transmit(self, host: object, oif: str, packet: Packet, notes: list[str]) -> None:
        self.sent.append((oif, packet, list(notes)))

    def record(
        self, host: object, where: str, packet: Packet, notes: list[str], kind: str, lane: str | None = None
    ) -> None:
        self.records.append((where, packet, list(notes), kind))


def make_host(rules: str | None, addrs: dict[str, list[str]], routes: list[tuple[str, str, str | None]] = (),
              forward: bool = True, choose: object = None) -> tuple[LinuxHost, Recorder]:  # fmt: skip
    from hairpin.model.net import ip_int
    from hairpin.routing import RouteEntry, parse_cidr

    fab = Recorder()
    r = Routing()
    for dev, cidrs in addrs.items():
        for c in cidrs:
            r.add_address(dev, c)
    for dst, dev, via in routes:
        net, mask, prefix = parse_cidr(dst)
        r.add_route(RouteEntry(net, mask, prefix, dev, ip_int(via) if via else None))
    rs = iptables_save.parse(rules, "test.rules") if rules else None
    h = LinuxHost("h", fab, r, rs, ip_forward=forward)
    if choose is not None:
        h.choose = choose  # type: ignore[assignment]
    return h, fab


def hangup_default() -> None:
    """A ``preexec_fn`` for a child whose test needs SIGHUP's default action: a test run started under ``nohup``, or
    by a CI runner that ignores SIGHUP, passes the ignored disposition down through every exec (``signal(7)``), and
    the program then rightly leaves SIGHUP alone."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def is_root() -> bool:
    return os.geteuid() == 0


def needs_root_and(*tools: str) -> pytest.MarkDecorator:
    """Skip unless run as root with every one of ``tools`` on PATH; the reason names what is missing."""
    lacks = (["root"] if not is_root() else []) + [t for t in tools if shutil.which(t) is None]
    return pytest.mark.skipif(bool(lacks), reason=f"needs root and {', '.join(tools)}; lacks {', '.join(lacks)}"
                              " (CI runs as root and installs them)")  # fmt: skip


needs_root_iptables = needs_root_and("ip", "iptables-restore")


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory like /tmp (root's when run as root, mode 1777: world-writable and sticky) that ``nobody`` can
    reach: where another user's planted links and files are met."""
    d = Path(tempfile.mkdtemp(dir="/tmp", prefix="hairpin-shared-"))
    d.chmod(0o1777)
    yield d
    shutil.rmtree(d)


@pytest.fixture
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Labs built by the test record themselves in its own directory (``HAIRPIN_LAB_DIR``), never the user's."""
    labs = tmp_path / "labs"
    monkeypatch.setenv("HAIRPIN_LAB_DIR", str(labs))
    return labs


@pytest.fixture(autouse=True)
def _no_leftover_limits() -> Iterator[None]:
    """The input limits a test sets in-process (``hairpin --max-input`` through ``main``, or
    ``reading.set_limits``) stand over the environment until cleared: cleared after every test, so a later
    test's ``HAIRPIN_MAX_INPUT`` is obeyed whatever ran before it."""
    yield
    if "hairpin.reading" in sys.modules:
        sys.modules["hairpin.reading"].set_limits()


def _builds_a_lab(item: pytest.Item) -> bool:
    """Tests that build real network namespaces with hairpin's lab (or capture in one)."""
    module = item.path.stem
    if module == "test_lab_commands":  # command builders, tested without root
        return False
    words = set(module.split("_")) | set(item.name.split("[")[0].split("_"))
    return "lab" in words


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark lab tests ``lab`` by where they live, so ``-m "not lab"`` leaves network namespaces alone."""
    for item in items:
        if _builds_a_lab(item) and item.get_closest_marker("lab") is None:
            item.add_marker(pytest.mark.lab)
