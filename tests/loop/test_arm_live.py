"""Live arm rows into ``starbrain run``'s arm task (issue #16 item 2): rows sent by
``sources.transport.row_sender`` over real UDP on loopback and a real nats-server are stored in
a real DuckDB file and drift-checked; a 1.5 kg payload the model was not trained on is caught,
re-fitted and registered; a bad line is named by line and field, the good rows kept."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.sources.jsonl_rows import rows_to_jsonl
from starbrain.sources.transport.row_sender import paced_chunks, parse_target, send_rows

START = "2026-11-25T06:00:00"


def _arm_rows(payload_kg: float, episodes: int, steps: int, seed: int) -> Any:
    pytest.importorskip("mujoco")
    from starbrain.sources.robots import WORN_ARM, simulate_arm

    return simulate_arm(WORN_ARM.with_payload(payload_kg), episodes, steps, seed, "arm-7")


def test_pacing_follows_the_rows_time_and_speed() -> None:
    table = _arm_rows(0.5, 1, 49, 0)  # 50 rows at 50 Hz: 0.98 s of log
    chunks = list(paced_chunks(table, speed=2.0, tick_s=0.1))
    dues = np.array([d for d, _ in chunks])
    # ten 0.1 s windows of log time, sent at (w + 1) * 0.1 / 2 s: 0.05 ... 0.50 s
    assert len(chunks) == 10 and np.allclose(dues, 0.05 * np.arange(1, 11), atol=1e-9)
    assert b"".join(p for _, p in chunks) == rows_to_jsonl(table)
    assert all(d == 0.0 for d, _ in paced_chunks(table, speed=0.0))
    assert parse_target("nats://127.0.0.1:4222/arm.live").subject == "arm.live"
    for bad in ("tcp://h:1", "udp://h", "nats://127.0.0.1:4222"):
        with pytest.raises(StarbrainError, match="--send"):
            parse_target(bad)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _run_loop(cfg: Any, db: Path, pub: Any, send: Any) -> tuple[Any, int, Any, list[str]]:
    """Run the loop on ``db``; ``send()`` (in a thread) once its live rows are listening."""
    from starbrain.loop.service import LoopService
    from starbrain.models.dynamics import load_world_model
    from starbrain.store.database import Store

    with Store(db) as store:
        service = LoopService(cfg, store, pub)
        job = asyncio.create_task(service.run())
        for _ in range(500):  # the socket and subscription start with the first arm window
            live = [c.__self__ for c in service._closers]
            if live and live[0].started:
                break
            await asyncio.sleep(0.02)
        await asyncio.to_thread(send)
        summary = await job
        rows = store.read("models", where="name = ?", params=["arm-residual"])
        reasons = [json.loads(m)["reason"] for m in rows["metrics_json"].to_pylist()]
        return summary, store.count("arm"), load_world_model(store, "arm-residual")[0], reasons


def _episodes() -> list[Any]:
    table = _arm_rows(1.5, 3, 150, 3)  # 151-row episodes with 1.5 kg at the flange
    return [table.filter(np.asarray(table["episode"]) == e) for e in range(3)]


def _assert_caught(summary: Any, alerts: list[dict[str, Any]], model: Any, reasons: list[str]):
    assert summary.tasks["arm"]["errors"] == 0
    drift = [a for a in alerts if a["kind"] == "arm-drift"]
    assert drift and drift[0]["model"] == "arm-residual"
    assert drift[0]["channel"] == "arm.joint_torque" and drift[0]["drift_ratio"] > 3.0
    # the re-fitted payload from the live rows: within 10 % of the truth (1.5 kg)
    assert float(model.theta[0]) == pytest.approx(1.5, rel=0.10)
    assert reasons.count("initial") == 1 and "drift" in reasons


@pytest.mark.slow  # about 25 s on the shared 2-core machine: the initial fit dominates
def test_live_arm_rows_over_udp_are_stored_checked_and_refitted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.loop.test_posts_task import Recorder, quiet

    ep0, ep1, ep2 = _episodes()
    port = _free_udp_port()
    cfg = quiet(start=START, speed=300.0, duration_s=600.0, arm_udp_port=port)
    pub = Recorder()

    def send() -> None:
        send_rows(ep0, f"udp://127.0.0.1:{port}", 0.0)
        send_rows(ep1, f"udp://127.0.0.1:{port}", 50.0)  # 3 s of log in 0.06 s
        good, second = rows_to_jsonl(ep2.slice(0, 2)).splitlines(keepends=True)
        bad = json.dumps({**json.loads(second), "q1_rad": "x"}).encode()  # line 2: q1_rad
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(good + bad, ("127.0.0.1", port))

    with caplog.at_level(logging.WARNING, logger="starbrain.loop"):
        summary, n, model, reasons = asyncio.run(_run_loop(cfg, tmp_path / "l.duckdb", pub, send))
    # every good row once: two episodes sent whole, the one good line of the bad datagram
    assert n == ep0.num_rows + ep1.num_rows + 1
    named = [r.getMessage() for r in caplog.records if "q1_rad" in r.getMessage()]
    assert len(named) == 1 and f"udp://127.0.0.1:{port}" not in named[0]  # the sender's port
    assert named[0].startswith("arm: udp://127.0.0.1:") and ":2: q1_rad: must be" in named[0]
    _assert_caught(summary, pub.alerts, model, reasons)


@pytest.mark.slow  # about 25 s: the initial fit dominates
def test_live_arm_rows_over_nats_are_stored_checked_and_refitted(
    tmp_path: Path, nats_server: Any
) -> None:
    from tests.loop.test_posts_task import Recorder, quiet

    ep0, _, _ = _episodes()
    cfg = quiet(start=START, speed=300.0, duration_s=600.0, arm_subject="arm.live",
                nats_url=nats_server.url)  # fmt: skip
    pub = Recorder()

    def send() -> None:
        send_rows(ep0, f"{nats_server.url}/arm.live", 0.0)

    summary, n, model, reasons = asyncio.run(_run_loop(cfg, tmp_path / "l.duckdb", pub, send))
    assert n == ep0.num_rows
    _assert_caught(summary, pub.alerts, model, reasons)
