"""`hairpin sweep` on real clusters: a dask.distributed LocalCluster (2 worker processes) and a local Ray
(2 CPUs), through ``sweep.run`` and through the CLI; every point's timeouts must be identical to the local
process pool's with the same seed.  Unreachable schedulers: one line, exit 2, within --connect-timeout.

Needs the ``cluster`` extra (``pip install -e '.[test,cluster]'``); skipped without it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hairpin import sweep
from hairpin.errors import InputError
from hairpin.scenario import seed

GRID = ["nodes=1,2,3", "cross_zone=false,true"]
CONNECTIONS = 100
SEED = 7


def key(results: list[sweep.Result]) -> list[tuple[str, int, int]]:
    return [(r.key(), r.connections, r.timeouts) for r in results]


@pytest.fixture(scope="module")
def reference() -> list[tuple[str, int, int]]:
    """The local process pool's results (computed before any cluster starts threads in this process)."""
    return key(sweep.run(seed(), sweep.Grid.parse(GRID), connections=CONNECTIONS, seed=SEED, workers=2))


@pytest.fixture(scope="module")
def dask_address(reference: object) -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def ray_address(reference: object) -> Iterator[str]:
    ray = pytest.importorskip("ray")
    import logging

    ctx = ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        yield str(ctx.address_info["gcs_address"])
    finally:
        ray.shutdown()


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hairpin.cli.main", "sweep", *args], capture_output=True, text=True,
                          check=False, env={**os.environ, **(env or {})}, timeout=120)  # fmt: skip


def cli_points(*args: str, env: dict[str, str] | None = None) -> list[tuple[str, int, int]]:
    grid = [a for g in GRID for a in ("--grid", g)]
    res = cli(*grid, "--connections", str(CONNECTIONS), "--seed", str(SEED), "--format", "json", *args, env=env)
    assert res.returncode == 0, res.stderr
    pts: list[dict[str, Any]] = json.loads(res.stdout)["points"]
    return [(f"nodes={p['nodes']},cross_zone={str(p['cross_zone']).lower()}", p["connections"], p["timeouts"])
            for p in pts]  # fmt: skip


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_reference_is_the_in_process_run(reference: list[tuple[str, int, int]]) -> None:
    one = sweep.run(seed(), sweep.Grid.parse(GRID), connections=CONNECTIONS, seed=SEED, workers=1)
    assert key(one) == reference and reference[0] == ("nodes=1,cross_zone=false", CONNECTIONS, CONNECTIONS)


# ------------------------------------------------------------------------------------------ Dask


def test_dask_run_is_identical(dask_address: str, reference: list[tuple[str, int, int]]) -> None:
    done: list[int] = []
    results = sweep.run(seed(), sweep.Grid.parse(GRID), connections=CONNECTIONS, seed=SEED, dask=dask_address,
                        progress=done.append)  # fmt: skip
    assert key(results) == reference
    assert len(done) == len(reference)


def test_dask_cli_is_identical(dask_address: str, reference: list[tuple[str, int, int]]) -> None:
    assert dask_address.startswith("tcp://")
    assert cli_points("--dask", dask_address) == reference


def test_dask_unreachable_is_one_line_exit_2() -> None:
    pytest.importorskip("distributed")
    t0 = time.monotonic()
    res = cli("--grid", "nodes=1", "--dask", f"tcp://127.0.0.1:{closed_port()}", "--connect-timeout", "1")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("hairpin: error: --dask tcp://127.0.0.1:") and "cannot reach a Dask scheduler" in res.stderr
    assert time.monotonic() - t0 < 20


def test_dask_address_of_something_else_is_one_line_exit_2() -> None:
    pytest.importorskip("distributed")
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()

        def answer() -> None:
            conn, _ = srv.accept()
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                time.sleep(2)

        threading.Thread(target=answer, daemon=True).start()
        res = cli("--grid", "nodes=1", "--dask", f"tcp://127.0.0.1:{srv.getsockname()[1]}", "--connect-timeout", "2")
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("hairpin: error: --dask tcp://127.0.0.1:")


def test_dask_bad_address_is_an_input_error() -> None:
    pytest.importorskip("distributed")
    with pytest.raises(InputError, match="unknown address scheme 'http'"):
        sweep.run(seed(), sweep.Grid.parse(["nodes=1"]), connections=10, dask="http://127.0.0.1:8786")


# ------------------------------------------------------------------------------------------ Ray


def test_ray_run_is_identical(ray_address: str, reference: list[tuple[str, int, int]]) -> None:
    import ray

    # Ray is initialised in this process (the fixture): "local" uses that connection and leaves it open
    results = sweep.run(seed(), sweep.Grid.parse(GRID), connections=CONNECTIONS, seed=SEED, ray="local")
    assert key(results) == reference
    assert ray.is_initialized()


def test_ray_cli_address_and_auto_are_identical(ray_address: str, reference: list[tuple[str, int, int]]) -> None:
    assert cli_points("--ray", ray_address) == reference  # the cluster's GCS host:port
    assert cli_points("--ray", "auto", env={"RAY_ADDRESS": ray_address}) == reference


def test_ray_cli_local_starts_and_stops_its_own(reference: list[tuple[str, int, int]]) -> None:
    pytest.importorskip("ray")
    assert cli_points("--ray", "local") == reference  # a private Ray in the CLI's process, shut down at the end


def test_ray_unreachable_is_one_line_exit_2() -> None:
    pytest.importorskip("ray")
    t0 = time.monotonic()
    res = cli("--grid", "nodes=1", "--ray", f"127.0.0.1:{closed_port()}", "--connect-timeout", "1")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("hairpin: error: --ray 127.0.0.1:") and "cannot reach 127.0.0.1:" in res.stderr
    assert time.monotonic() - t0 < 20


def test_ray_bad_address_and_both_schedulers() -> None:
    with pytest.raises(InputError, match="expected local, auto, HOST:PORT or ray://HOST:PORT"):
        sweep.run(seed(), sweep.Grid.parse(["nodes=1"]), connections=10, ray="somewhere")
    with pytest.raises(InputError, match="give one of them, not both"):
        sweep.run(seed(), sweep.Grid.parse(["nodes=1"]), connections=10, ray="local", dask="tcp://127.0.0.1:1")
