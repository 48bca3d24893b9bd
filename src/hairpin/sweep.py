"""Sweeps: the timeout rate over a grid of scenario settings, simulated next to the closed form.

A grid names values per setting (``Grid.parse(["nodes=1,2,3", "cross_zone=false,true"])``); every
combination is a point.  A point's scenario is the base scenario reshaped by ``hairpin.render.chart.variant``
(AZs, nodes per AZ, cross-zone) and then given the load balancer and Service settings of the point
(target type, client IP preservation, externalTrafficPolicy) with ``dataclasses.replace``.  Settings the
grid does not name keep the base scenario's values.

Each point is simulated (``hairpin.backends.sim.run``, ``connections`` connections) with a seed derived from
the sweep's seed and the point's key, so results do not depend on the worker count or the order points
finish in; and the closed form (``hairpin.aws.risk``) is computed for it.  ``agrees`` holds when the
simulated rate is within 4 standard deviations of the binomial around the closed form (exactly equal when
the closed form is 0 or 1).

``run(base, grid, ...)`` runs points on local processes (``workers``), or through a Dask scheduler
(``dask=ADDRESS``) or on Ray (``ray="local"``, ``"auto"`` or an address) when the optional packages are
installed (``pip install 'hairpin[cluster]'``).  Points are independent, so the results are the same
wherever they ran; they come back in grid order.
"""

from __future__ import annotations

import itertools
import math
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any

from hairpin.errors import InputError, ScenarioError
from hairpin.scenario import Scenario
from hairpin.text import digits

__all__ = ["KEYS", "MAX_REGION_AZS", "Grid", "Result", "point_key", "point_scenario", "run"]

#: grid key -> (parser, help)
KEYS: dict[str, str] = {
    "nodes": "instance targets (nodes) per AZ, e.g. nodes=1,2,3,4",
    "azs": "number of AZs the NLB enables, e.g. azs=1,2,3",
    "cross_zone": "cross-zone load balancing, e.g. cross_zone=false,true",
    "target_type": "instance or ip",
    "preserve_client_ip": "true, false or default (the controller's default for the target type)",
    "traffic_policy": "externalTrafficPolicy: Cluster or Local",
    "mode": "kube-proxy mode: iptables, nftables or ipvs (nftables on a scenario older than 1.30 runs kube-proxy 1.30)",
}
#: the most Availability Zones of any AWS Region: the "AWS Availability Zones" page of the AWS Regions and
#: Availability Zones guide (docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html)
#: lists us-east-1, the Region with the most, with six AZ IDs (use1-az1 to use1-az6)
MAX_REGION_AZS = 6
_BOOL = {"true": True, "false": False, "on": True, "off": False, "yes": True, "no": False}


def _value(key: str, text: str) -> Any:
    t = text.strip()
    if key in ("nodes", "azs"):
        if not digits(t) or not 1 <= int(t) <= 64:
            raise InputError(f"--grid {key}: {t!r} is not a whole number from 1 to 64")
        return int(t)
    if key == "cross_zone":
        if t.lower() not in _BOOL:
            raise InputError(f"--grid {key}: {t!r} is not true or false")
        return _BOOL[t.lower()]
    if key == "preserve_client_ip":
        if t.lower() == "default":
            return None
        if t.lower() not in _BOOL:
            raise InputError(f"--grid {key}: {t!r} is not true, false or default")
        return _BOOL[t.lower()]
    if key == "target_type":
        if t not in ("instance", "ip"):
            raise InputError(f"--grid {key}: {t!r} is not instance or ip")
        return t
    if key == "mode":
        if t not in ("iptables", "nftables", "ipvs"):
            raise InputError(f"--grid {key}: {t!r} is not iptables, nftables or ipvs")
        return t
    if t not in ("Cluster", "Local"):
        raise InputError(f"--grid {key}: {t!r} is not Cluster or Local")
    return t


@dataclass(frozen=True)
class Grid:
    """Values per setting, in the order given."""

    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Grid:
        axes: list[tuple[str, tuple[Any, ...]]] = []
        for spec in specs:
            key, eq, values = spec.partition("=")
            key = key.strip()
            if not eq or not values.strip():
                raise InputError(f"--grid {spec!r}: expected KEY=V1,V2,... (keys: {', '.join(KEYS)})")
            if key not in KEYS:
                raise InputError(f"--grid {spec!r}: unknown key {key!r} (keys: {', '.join(KEYS)})")
            if any(k == key for k, _ in axes):
                raise InputError(f"--grid {spec!r}: {key} given twice")
            axes.append((key, tuple(dict.fromkeys(_value(key, v) for v in values.split(",")))))
        return cls(tuple(axes))

    def warnings(self) -> list[str]:
        """Lines (without ``hairpin: warning:``) for a grid that is valid but larger than AWS: ``azs`` above
        :data:`MAX_REGION_AZS`, which no Region has."""
        out = []
        for key, values in self.axes:
            big = [v for v in values if key == "azs" and v > MAX_REGION_AZS]
            if big:
                out.append(f"--grid azs={','.join(str(v) for v in big)}: no AWS Region has more than {MAX_REGION_AZS} "
                           f"Availability Zones (us-east-1 has {MAX_REGION_AZS}); a point with more is a shape larger "
                           "than any Region")  # fmt: skip
        return out

    def points(self) -> list[dict[str, Any]]:
        keys = [k for k, _ in self.axes]
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in self.axes))]


def _client_az_nodes(s: Scenario) -> int:
    az = s.node(s.client_pod.node).az
    return sum(n.az == az for n in s.nodes)


def point_scenario(base: Scenario, point: dict[str, Any]) -> Scenario:
    """The base scenario with one grid point's settings."""
    from hairpin.render.chart import NoRoom, variant

    lb = base.client_service.load_balancer
    if lb is None:
        raise InputError(f"service {base.client_service.key} has no load balancer to sweep")
    s = base
    name = point_key(point)
    if {"nodes", "azs", "cross_zone"} & point.keys():
        try:
            s = variant(
                s,
                azs=point.get("azs", len(base.vpc.azs)),
                nodes_per_az=point.get("nodes", _client_az_nodes(base)),
                cross_zone=point.get("cross_zone", lb.cross_zone),
            )
        except NoRoom as exc:  # the base scenario's VPC or subnets have no room for this shape
            raise InputError(f"--grid {name}: {exc}") from None
    svc = s.client_service
    lb = svc.load_balancer
    assert lb is not None
    if "target_type" in point:
        lb = replace(lb, target_type=point["target_type"])
    if "preserve_client_ip" in point:
        lb = replace(lb, preserve_client_ip=point["preserve_client_ip"])
    new = replace(svc, load_balancer=lb)
    if "traffic_policy" in point:
        new = replace(new, external_traffic_policy=point["traffic_policy"],
                      health_check_node_port=new.health_check_node_port or 32000)  # fmt: skip
    if "mode" in point:
        from hairpin.kube.layout import parse_version

        version = s.kube_proxy.version
        if point["mode"] == "nftables" and parse_version(version) < (1, 30):  # the first modelled nftables layout
            version = "1.30"
        s = replace(s, kube_proxy=replace(s.kube_proxy, mode=point["mode"], version=version))
    out = replace(s, services=tuple(new if x.key == svc.key else x for x in s.services), name=f"{base.name}[{name}]")
    if out.family == 6:  # what an IPv6 scenario file may not hold, a grid point may not make (hairpin.scenario6)
        from hairpin.scenario6 import refuse_unmodelled

        refuse_unmodelled(out, lambda path, why: ScenarioError(f"--grid {name}: {path}: {why}"))
    return out


def point_key(point: dict[str, Any]) -> str:
    """A grid point as ``key=value,...`` in the grid's order (``nodes=1,cross_zone=false``)."""
    return ",".join(f"{k}={_text(v)}" for k, v in point.items())


def _text(v: Any) -> str:
    if v is None:
        return "default"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


@dataclass(frozen=True)
class Result:
    point: dict[str, Any]
    connections: int
    timeouts: int
    expected: float
    #: timeouts the load balancer did not cause by sending the caller back to its own node, which the closed
    #: form does not count (``hairpin.story.elsewhere``: no registered target, a Service without endpoints),
    #: and the first one's cause in a few words
    not_hairpin: int = 0
    not_hairpin_why: str = ""

    @property
    def rate(self) -> float:
        return self.timeouts / self.connections if self.connections else 0.0

    @property
    def sd(self) -> float:
        p = self.expected
        return math.sqrt(p * (1 - p) / self.connections) if self.connections else 0.0

    @property
    def agrees(self) -> bool:
        if self.expected in (0.0, 1.0):
            return self.rate == self.expected
        return abs(self.rate - self.expected) <= 4 * self.sd

    def key(self) -> str:
        return point_key(self.point)

    def to_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.point.items()}, "connections": self.connections, "timeouts": self.timeouts,
                "rate": round(self.rate, 6), "expected": round(self.expected, 6), "agrees": self.agrees,
                "not_hairpin": self.not_hairpin}  # fmt: skip


def _point_seed(seed: int, point: dict[str, Any]) -> int:
    return zlib.crc32(f"{seed}:{point_key(dict(sorted(point.items())))}".encode())


def simulate(base: Scenario, point: dict[str, Any], connections: int, seed: int) -> Result:
    """One point (a top-level function, so process pools and clusters can pickle it)."""
    from hairpin.backends import sim
    from hairpin.story import elsewhere

    s = point_scenario(base, point)
    r = sim.run(s, connections, _point_seed(seed, point), fixes=False)
    other, why = elsewhere(r) or (0, "")
    return Result(point, r.summary.attempts, r.summary.timeouts, r.summary.expected_rate, other, why)


def _local(
    base: Scenario, pts: list[dict[str, Any]], connections: int, seed: int, workers: int
) -> Iterator[tuple[int, Result]]:
    if workers <= 1 or len(pts) <= 1:
        for i, p in enumerate(pts):
            yield i, simulate(base, p, connections, seed)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(pts))) as pool:
        futures = {pool.submit(simulate, base, p, connections, seed): i for i, p in enumerate(pts)}
        for f in as_completed(futures):
            yield futures[f], f.result()


def _dask(
    base: Scenario, pts: list[dict[str, Any]], connections: int, seed: int, address: str, timeout: float
) -> Iterator[tuple[int, Result]]:
    try:
        from distributed import Client  # type: ignore[import-not-found, unused-ignore]
        from distributed import as_completed as dask_completed  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise InputError("--dask needs the 'distributed' package (pip install 'hairpin[cluster]')") from None
    try:
        client = Client(address, timeout=timeout)  # type: ignore[no-untyped-call, unused-ignore]
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"--dask {address}: cannot reach a Dask scheduler: {_one_line(exc)}") from None
    except Exception as exc:  # something else listens there: the handshake fails in odd ways (MemoryError...)
        what = f"{type(exc).__name__} in the handshake"
        raise InputError(f"--dask {address}: no Dask scheduler answered ({what})") from None
    try:
        futures = {client.submit(simulate, base, p, connections, seed, pure=False): i for i, p in enumerate(pts)}
        for f in dask_completed(list(futures)):  # type: ignore[no-untyped-call, unused-ignore]
            yield futures[f], f.result()
    finally:
        client.close()  # type: ignore[no-untyped-call, unused-ignore]


def _host_port(address: str) -> tuple[str, int] | None:
    """``host:port`` of a Ray address (``ray://host:port`` or a GCS ``host:port``); None for anything else."""
    rest = address.removeprefix("ray://")
    host, colon, port = rest.rpartition(":")
    if not colon or not host or not digits(port):
        return None
    return host.strip("[]"), int(port)


def _ray_target(address: str) -> tuple[str, int] | None:
    """The ``host:port`` a Ray address names (None for local/auto without RAY_ADDRESS); InputError for an
    address Ray cannot take.  Checked before Ray is imported, so a typo is named even without the extra."""
    target = os.environ.get("RAY_ADDRESS", "") if address == "auto" else address
    hp = _host_port(target)
    if target not in ("", "auto", "local") and hp is None:
        raise InputError(f"--ray {address}: expected local, auto, HOST:PORT or ray://HOST:PORT")
    return hp


def _ray(
    base: Scenario, pts: list[dict[str, Any]], connections: int, seed: int, address: str, timeout: float
) -> Iterator[tuple[int, Result]]:
    hp = _ray_target(address)
    try:
        import ray  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise InputError("--ray needs the 'ray' package (pip install 'hairpin[cluster]')") from None
    import logging
    import socket

    connected = False
    if not ray.is_initialized():
        opts: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
        if address == "local":
            ray.init(address="local", **opts)  # a new private instance even when one runs on this machine
        else:
            if hp is not None:  # Ray itself retries an unreachable address for minutes, then exits
                try:
                    socket.create_connection(hp, timeout=timeout).close()
                except OSError as exc:
                    raise InputError(f"--ray {address}: cannot reach {hp[0]}:{hp[1]}: {_one_line(exc)}") from None
            try:
                ray.init(address=address, **opts)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise InputError(f"--ray {address}: {_one_line(exc)}") from None
            except SystemExit:  # Ray gives up on a head that never answers by exiting
                raise InputError(f"--ray {address}: no Ray head answered there") from None
        connected = True
    try:
        remote = ray.remote(num_cpus=1)(simulate)
        pending = {remote.remote(base, p, connections, seed): i for i, p in enumerate(pts)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if connected:
            ray.shutdown()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def run(
    base: Scenario,
    grid: Grid,
    *,
    connections: int = 400,
    seed: int = 0,
    workers: int = 1,
    dask: str | None = None,
    ray: str | None = None,
    connect_timeout: float = 30.0,
    progress: Callable[[int], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Result]:
    """Every grid point, in grid order (results do not depend on ``workers`` or where they ran).

    Where points run: ``dask`` a Dask scheduler's address (``tcp://host:8786``); else ``ray``: ``"local"``
    (a private Ray started here and shut down afterwards), ``"auto"`` (the running Ray cluster that
    ``RAY_ADDRESS`` or ``ray start`` names), ``"host:port"`` or ``"ray://host:10001"``; when Ray is already
    initialised in this process that connection is used and left open.  Else ``workers`` local processes
    (1: in this process).  ``connect_timeout`` bounds how long an unreachable scheduler is waited for
    (InputError after it).  ``progress`` is called with 1 as each point finishes; ``warn`` with each line of the
    base scenario's warnings (``Scenario.warnings``) and the grid's (``Grid.warnings``), once every point is
    known to be valid and before any work starts (bad input stays one error line)."""
    if dask is not None and ray is not None:
        raise InputError("--dask and --ray: give one of them, not both")
    pts = grid.points()
    for p in pts:  # fail on a bad point before any work starts
        point_scenario(base, p)
    if ray is not None:
        _ray_target(ray)
    if warn is not None:
        for line in (*base.warnings, *grid.warnings()):
            warn(line)
    it: Iterator[tuple[int, Result]]
    if dask is not None:
        it = _dask(base, pts, connections, seed, dask, connect_timeout)
    elif ray is not None:
        it = _ray(base, pts, connections, seed, ray, connect_timeout)
    else:
        it = _local(base, pts, connections, seed, workers)
    out: list[Result | None] = [None] * len(pts)
    for i, r in it:
        out[i] = r
        if progress is not None:
            progress(1)
    return [r for r in out if r is not None]
