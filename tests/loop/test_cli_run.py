"""``starbrain run`` and ``starbrain demo`` as a user runs them: real processes, real sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from starbrain.store.database import Store

websockets_sync = pytest.importorskip("websockets.sync.client")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "STARBRAIN_DB": str(tmp_path / "s.duckdb"),
        "STARBRAIN_DATA": str(tmp_path),
    }


def test_run_headless_for_a_simulated_duration(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "starbrain", "run", "--no-console", "--speed", "0",
         "--duration", "120", "--max-objects", "20"],
        env=_env(tmp_path), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "loop running from" in out.stderr and "in-process bus" in out.stderr
    assert "live loop" in out.stdout and "telemetry" in out.stdout
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        assert store.count("telemetry") == 120 * 5
    bad = subprocess.run(
        [sys.executable, "-m", "starbrain", "run", "--host", "0.0.0.0", "--duration", "1"],
        env={k: v for k, v in _env(tmp_path).items() if k != "STARBRAIN_TOKEN"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 1 and "without a token" in " ".join(bad.stderr.split())


def test_run_serves_the_console_with_live_loop_messages(tmp_path: Path) -> None:
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "starbrain", "run", "--port", str(port), "--speed", "30",
         "--max-objects", "20"],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        seen = ""
        while "console: http://127.0.0.1" not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, seen
            seen += proc.stderr.readline() if proc.stderr else ""
        base = f"http://127.0.0.1:{port}"
        status = httpx.get(f"{base}/api/loop", timeout=30).json()
        assert status["running"] is True and status["speed"] == 30
        assert {t["name"] for t in status["tasks"]} >= {"catalog", "telemetry", "passes"}
        events = []
        with websockets_sync.connect(f"ws://127.0.0.1:{port}/ws/live?interval_s=60") as ws:
            hello = json.loads(ws.recv(timeout=30))
            assert hello["type"] == "hello" and hello["count"] == 20
            end = time.monotonic() + 60
            while not any(e.get("subject") == "starbrain.telemetry" for e in events):
                assert time.monotonic() < end, events
                msg = json.loads(ws.recv(timeout=60))
                if msg["type"] == "event":
                    events.append(msg)
        # the telemetry window every 30 simulated s is one wall second at 30x
        tm = next(e for e in events if e["subject"] == "starbrain.telemetry")
        assert tm["rows"] == 30 * 5 and tm["source"] == "sim:power"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "live loop" in out


def test_demo_help_offers_headless() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "starbrain", "demo", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "--headless" in out.stdout


@pytest.mark.slow
def test_demo_headless_runs_the_loop_and_exits(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "starbrain", "demo", "--headless", "--minutes", "2"],
        env=_env(tmp_path), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "live loop" in text and "re-fitted loop-orbit" in text
    assert "not serving" not in text  # --headless: no note about serving
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        assert store.count("conjunctions") > 0
        assert store.count("models") == 1
        assert store.count("telemetry") == 120 * 5
