"""Fixtures for the console: a small generated catalogue in a throw-away store, and the real app
served by uvicorn on a loopback port (a real socket, as a browser or client would see it)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the console needs fastapi (pip install fastapi)")
pytest.importorskip("uvicorn", reason="the console needs uvicorn (pip install uvicorn)")

import uvicorn

from starbrain.sources.generators.constellation import WalkerShell, generate
from starbrain.store.database import Store

EPOCH = "2026-11-25T00:00:00"
# Two small Walker shells, 42 satellites: every endpoint answers in milliseconds.
SHELLS = (
    WalkerShell(550.0, 53.0, 6, 5, phasing=1, name="A"),
    WalkerShell(1200.0, 87.9, 3, 4, phasing=1, name="B"),
)
N_SATS = sum(s.size for s in SHELLS)
FIRST_NORAD = 200_001
TOKEN = "test-token-0123456789abcdef"


def make_store(path: Path) -> Path:
    table = generate(SHELLS, epoch=EPOCH, first_norad=FIRST_NORAD, source="generated:test")
    with Store(path) as store:
        store.append("elements", table, source="generated:test")
    return path


@pytest.fixture(scope="session")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("console") / "store.duckdb")


@contextmanager
def serve_app(app: object) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws_ping_interval=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


LOOP_START = "2026-11-25T06:25:00"


def make_loop_store(path: Path) -> Path:
    """A store filled by the live loop itself: 10 minutes from 06:25 of 40 Starlink satellites
    and 300 debris objects (conjunctions under 50 km), 1 Hz POWER telemetry with the excursion
    the simulator injects at 06:30 (found by the loop's robust-z detector), and one re-fit of
    the orbit world model (drift threshold set low)."""
    import asyncio

    from starbrain.loop.config import LoopConfig
    from starbrain.loop.service import LoopService

    cfg = LoopConfig(
        max_objects=40, debris=300, speed=0.0, start=LOOP_START, duration_s=600.0,
        catalog_interval_s=300.0, telemetry_interval_s=60.0, conjunctions_interval_s=300.0,
        conjunctions_lookahead_s=0.0, passes_interval_s=600.0, anomalies_interval_s=300.0,
        threshold_km=50.0, drift_threshold_km=0.05, refit_objects=2, refit_epochs=2,
    )  # fmt: skip
    failed: list[BaseException] = []

    def work() -> None:  # in a thread of its own: Playwright's sync API runs an event loop here
        try:
            with Store(path) as store:
                asyncio.run(LoopService(cfg, store).run())
        except BaseException as exc:  # re-raised below, in the test's thread
            failed.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return path


@pytest.fixture(scope="session")
def loop_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_loop_store(tmp_path_factory.mktemp("console-loop") / "loop.duckdb")
