"""``starbrain mcp`` through the SDK's own client: a real subprocess over stdio and over
streamable HTTP on 127.0.0.1; every tool round-trips, and a scripted agent session (no LLM)
finds an anomaly burst, pulls the matching telemetry and asks for an avoidance plan."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("mcp")

from mcp import Client
from mcp.client.stdio import StdioServerParameters

from starbrain.core.schemas.anomalies import ANOMALIES_SCHEMA
from starbrain.planners.conjunctions import screen_conjunctions
from starbrain.sources.compute.simulator import FleetConfig, simulate_fleet
from starbrain.sources.posts import events_from_anomalies, simulate_posts
from starbrain.sources.telemetry.ccsds import TELEMETRY_SCHEMA
from starbrain.store.database import Store
from tests.planners.conjunction_helpers import EPOCH, head_on_pairs

EXE = Path(sys.executable).with_name("starbrain")
ANOMALY_AT = EPOCH + np.timedelta64(2, "h")
MEET_S = 5 * 3600.0 + 17.0
STORE_PATH: list[Path] = []
COMPUTE = simulate_fleet(FleetConfig(n_racks=1, seed=3), 30.0)


def _ts(values: list[np.datetime64]) -> pa.Array:
    return pa.array(np.array(values, "datetime64[ns]"), pa.timestamp("ns", tz="UTC"))


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mcp") / "s.duckdb"
    pair = head_on_pairs(
        np.array([MEET_S]),
        np.array([550.0]),
        np.array([53.0]),
        np.array([40.0]),
        np.array([70.0]),
        np.array([0.06]),
    )
    conj = screen_conjunctions(pair, EPOCH, EPOCH + np.timedelta64(12, "h")).to_arrow()
    anomalies = pa.table(
        {
            "source": ["flight-7"],
            "parameter": ["chamber_pressure"],
            "start": _ts([ANOMALY_AT]),
            "end": _ts([ANOMALY_AT + np.timedelta64(20, "s")]),
            "score": [9.5],
            "method": ["robust-z"],
            "detected_at": _ts([ANOMALY_AT + np.timedelta64(3, "s")]),
            "label": [None],
        },
        schema=ANOMALIES_SCHEMA,
    )
    t = [ANOMALY_AT + np.timedelta64(k, "s") for k in range(-30, 30)]
    telemetry = pa.table(
        {
            "time": _ts(t),
            "apid": pa.array([100] * 60, pa.uint16()),
            "seq": pa.array(range(60), pa.uint16()),
            "parameter": pa.array(["chamber_pressure"] * 60).dictionary_encode(),
            "raw": [float(k) for k in range(60)],
            "value": [9.7e6 if k < 30 else 2.0e6 for k in range(60)],
        },
    ).cast(TELEMETRY_SCHEMA)
    events = events_from_anomalies(anomalies, place="Mahia", vehicle="Electron")
    sim = simulate_posts(events, EPOCH, 6 * 3600.0, seed=11, chatter_per_hour=60)
    with Store(path) as store:
        store.append("elements", pair, source="test")
        store.append("conjunctions", conj)
        store.append("anomalies", anomalies)
        store.append("telemetry", telemetry)
        store.append("posts", sim.posts, source="sim")
        store.append("compute", COMPUTE.to_table(), source="sim:test")
        if HAS_MUJOCO:
            store.append("arm", _arm(), source="sim:test")
    STORE_PATH[:] = [path]
    return path


ARM_PAYLOAD_KG = 0.8
HAS_MUJOCO = importlib.util.find_spec("mujoco") is not None  # the robots extra


def _arm() -> pa.Table:
    """Two excitation episodes of the worn arm carrying ``ARM_PAYLOAD_KG`` (MuJoCo)."""
    from dataclasses import replace

    from starbrain.sources.robots import WORN_ARM, simulate_arm

    return simulate_arm(replace(WORN_ARM, payload_kg=ARM_PAYLOAD_KG), 2, 150, 2, "arm-7")


def _env(store_file: Path) -> dict[str, str]:
    return {**os.environ, "STARBRAIN_DB": str(store_file)}


def _command() -> list[str]:
    return [str(EXE)] if EXE.exists() else [sys.executable, "-m", "starbrain"]


NOW = str(np.datetime_as_string(EPOCH + np.timedelta64(6, "h"), unit="s")) + "Z"
CALLS: dict[str, dict[str, Any]] = {
    "search_posts": {"query": "engine shutdown", "since": "6h", "now": NOW, "limit": 5},
    "post_bursts": {"since": "6h", "now": NOW},
    "catalog_query": {"norad_ids": [250001, 250002]},
    "telemetry_anomalies": {},
    "telemetry_window": {
        "parameter": "chamber_pressure",
        "start": "2026-01-01T01:59:50Z",
        "end": "2026-01-01T02:00:10Z",
    },
    "conjunctions": {"limit": 5},
    "passes": {
        "norad_ids": [250001],
        "station": "Tokyo:35.0,139.0",
        "start": "2026-01-01T00:00:00Z",
        "hours": 24,
    },
    "plan_avoidance": {"norad_id": 250001, "verify": False},
    "orbit_predict": {
        "norad_ids": [250001, 250002],
        "start": "2026-01-01T01:00:00Z",
        "hours": 1,
        "step_s": 600,
    },
    "contacts_plan": {
        "norad_ids": [250001, 250002],
        "stations": ["Tokyo:35.0,139.0", "Svalbard"],
        "start": "2026-01-01T00:00:00Z",
        "hours": 12,
        "demand_mbit": 1000.0,
    },
    "route_latency": {
        "source": "Tokyo",
        "destination": "New York",
        "start": "2026-01-01T00:00:00Z",
        "seconds": 10,
        "shells": [1],
    },
    "mars_windows": {"start_year": 2028, "end_year": 2028},
    "fleet_state": {"fleet": "compute", "limit": 1000},
    "compute_schedule": {"jobs": 100, "gpus": 10_000},
    **({"arm_estimate": {"arm_id": "arm-7"}} if HAS_MUJOCO else {}),
    "screen_conjunctions": {"start": "2026-01-01T00:00:00Z", "days": 0.5, "limit": 5},
}
ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    "orbit_predict": ({"norad_ids": [9], "start": "2026-01-01T00:00:00Z"}, "no element sets"),
    "route_latency": (
        {"source": "Atlantis", "destination": "Tokyo", "start": "2026-01-01T00:00:00Z"},
        "Atlantis",
    ),
    "mars_windows": ({"start_year": 2030, "end_year": 2028}, "before start_year"),
    "arm_estimate": ({"arm_id": "arm-404"}, "arm-404"),
    "contacts_plan": (
        {"norad_ids": [250001], "stations": ["Nowhere"], "start": "2026-01-01T00:00:00Z"},
        "Nowhere",
    ),
}


async def _round_trip_all(client: Client) -> dict[str, Any]:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    from starbrain.agents.mcp_server import TOOL_NAMES

    assert set(TOOL_NAMES) <= set(tools)
    for name in TOOL_NAMES:
        assert tools[name].input_schema["type"] == "object", name
    out: dict[str, Any] = {}
    progress: list[tuple[float, float | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total))

    for name, args in CALLS.items():
        r = await client.call_tool(name, args, progress_callback=on_progress)
        assert not r.is_error, (name, r.content)
        out[name] = r.structured_content
    out["_progress"] = progress
    for name, (args, words) in ERRORS.items():
        r = await client.call_tool(name, args)
        text = r.content[0].text  # type: ignore[union-attr]
        assert r.is_error and words in text and "Traceback" not in text, (name, text)
    res = await client.read_resource("starbrain://streams")
    out["_streams"] = json.loads(res.contents[0].text)  # type: ignore[union-attr]
    res = await client.read_resource("starbrain://streams/posts")
    out["_posts"] = json.loads(res.contents[0].text)  # type: ignore[union-attr]
    return out


def _check(out: dict[str, Any]) -> None:
    hits = out["search_posts"]["hits"]
    assert len(hits) == 5 and all("Electron" in h["text"] for h in hits)
    bursts = out["post_bursts"]["bursts"]
    assert bursts and bursts[0]["event_id"] == "anomaly:flight-7"
    assert 0.4 < bursts[0]["confidence"] <= 0.5  # linked on time alone (unnamed flight id)
    assert {e["norad_id"] for e in out["catalog_query"]["elements"]} == {250001, 250002}
    assert out["telemetry_anomalies"]["anomalies"][0]["source"] == "flight-7"
    samples = out["telemetry_window"]["samples"]
    assert len(samples) == 20 and samples[0]["time"] == "2026-01-01T01:59:50.000000000Z"
    assert out["conjunctions"]["n"] >= 1
    assert out["passes"]["n"] >= 1
    assert out["plan_avoidance"]["stored"] is False and out["plan_avoidance"]["plan"]
    assert out["_progress"] and out["_progress"][-1][0] == out["_progress"][-1][1]
    assert out["_streams"]["posts"]["rows"] > 100
    _check_planners(out)


def _check_planners(out: dict[str, Any]) -> None:
    """The newer tools against independent references: python-sgp4's ``SatrecArray`` for the
    states (1 m), the vacuum and fibre great-circle RTTs bracketing the route's RTT."""
    from starbrain.core import timeconv
    from starbrain.physics.sgp4 import propagate

    pred = out["orbit_predict"]
    assert pred["model"] == "sgp4" and pred["frame"] == "TEME" and pred["n"] == 14
    with Store(STORE_PATH[0], read_only=True) as store:
        elements = store.current_elements([250001, 250002])
    times = np.array([s["time"][:-1] for s in pred["states"][:7]], "datetime64[ns]")
    jd, fr = timeconv.datetime64_to_jd(times)
    r_ref, _, err = propagate(elements, jd, fr, backend="cpp")
    assert not np.any(err)
    got = np.array([[s[f"{c}_km"] for c in "xyz"] for s in pred["states"]]).reshape(2, 7, 3)
    ids = elements.column("norad_id").to_pylist()
    assert [s["norad_id"] for s in pred["states"][::7]] == ids
    np.testing.assert_allclose(got, r_ref, atol=1e-3)  # km
    contacts = out["contacts_plan"]
    assert contacts["model"] == "sgp4" and contacts["summary"]["method"] == "greedy"
    assert 0 < contacts["summary"]["delivered_mbit"] <= 2000.0 + 1e-6
    assert len(contacts["contacts"]) == contacts["summary"]["contacts"]
    route = out["route_latency"]["summary"]
    assert route["snapshots"] == 10
    assert route["vacuum_rtt_ms"] < route["rtt_median_ms"] < route["fibre_rtt_ms"]
    table = COMPUTE.to_table()
    fleet = out["fleet_state"]
    assert fleet["n"] == len(set(table.column("gpu_id").to_pylist())) == len(fleet["units"])
    newest = np.datetime64(np.max(table.column("time").to_numpy()), "ns")
    assert {u["time"] for u in fleet["units"]} == {f"{newest}Z"}
    screened, stored = out["screen_conjunctions"], out["conjunctions"]["conjunctions"][0]
    assert screened["model"] == "sgp4" and screened["stored"] is False and screened["n"] == 1
    hit = screened["conjunctions"][0]
    tca = np.datetime64(hit["tca"][:-1], "ns")
    assert abs((tca - EPOCH) / np.timedelta64(1, "s") - MEET_S) < 1.0  # the built geometry
    assert hit["miss_distance_km"] == pytest.approx(stored["miss_distance_km"], abs=1e-3)
    if HAS_MUJOCO:
        arm = out["arm_estimate"]
        assert arm["rows"] == 2 * 151 and arm["rms_after"] < arm["rms_before"]
        assert arm["payload_kg"] == pytest.approx(ARM_PAYLOAD_KG, rel=0.10)  # the simulated one
    sched = out["compute_schedule"]
    policies = {p["policy"]: p for p in sched["policies"]}
    assert list(policies) == ["nocap", "uniform60", "zeus", "starbrain"]
    ours, nocap = policies["starbrain"], policies["nocap"]
    assert ours["peak_site_mw"] <= sched["budget_mw"] * (1 + 1e-9) < nocap["peak_site_mw"]
    assert ours["max_ramp_mw_per_min"] <= sched["ramp_limit_mw_per_min"] * (1 + 1e-9)
    windows = out["mars_windows"]["windows"]
    assert sorted(w["type"] for w in windows) == [1, 2]
    assert all(w["launch"].startswith("2028") and w["c3_km2_s2"] > 7 for w in windows)
    assert out["_posts"]["key"] == ["id"]


def test_every_tool_over_stdio_and_writes_refused(store_file: Path) -> None:
    params = StdioServerParameters(
        command=_command()[0], args=[*_command()[1:], "mcp"], env=_env(store_file)
    )

    async def main() -> dict[str, Any]:
        async with Client(params, read_timeout_seconds=120) as client:
            out = await _round_trip_all(client)
            r = await client.call_tool(
                "plan_avoidance", {"norad_id": 250001, "verify": False, "store_plan": True}
            )
            out["_write"] = r
            out["_screen_write"] = await client.call_tool(
                "screen_conjunctions", {"start": "2026-01-01T00:00:00Z", "store_result": True}
            )
            return out

    out = anyio.run(main)
    _check(out)
    assert out["_write"].is_error
    assert "--allow-writes" in out["_write"].content[0].text
    assert out["_screen_write"].is_error
    assert "--allow-writes" in out["_screen_write"].content[0].text
    with Store(store_file, read_only=True) as store:
        assert store.count("manoeuvres") == 0
        assert store.count("conjunctions") == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server(store_file: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [*_command(), "mcp", "--transport", "http", "--port", str(port)],
        env=_env(store_file),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_every_tool_over_http_on_loopback(http_server: str) -> None:
    async def main() -> dict[str, Any]:
        async with Client(http_server, read_timeout_seconds=120) as client:
            return await _round_trip_all(client)

    _check(anyio.run(main))


def test_scripted_agent_session(store_file: Path) -> None:
    """Find the anomaly burst, pull the telemetry around it, ask for an avoidance plan: each
    step one MCP call, each next step's arguments read from the previous answer."""
    params = StdioServerParameters(
        command=_command()[0], args=[*_command()[1:], "mcp"], env=_env(store_file)
    )

    async def main() -> tuple[Any, Any, Any, Any]:
        async with Client(params, read_timeout_seconds=120) as client:
            b = await client.call_tool("post_bursts", {"since": "6h", "now": NOW})
            burst = b.structured_content["bursts"][0]
            flight = burst["event_id"].removeprefix("anomaly:")
            a = await client.call_tool("telemetry_anomalies", {"source": flight})
            anomaly = a.structured_content["anomalies"][0]
            w = await client.call_tool(
                "telemetry_window",
                {
                    "parameter": anomaly["parameter"],
                    "start": anomaly["start"],
                    "end": anomaly["end"],
                },
            )
            c = await client.call_tool("conjunctions", {"limit": 1})
            worst = c.structured_content["conjunctions"][0]
            p = await client.call_tool(
                "plan_avoidance", {"norad_id": worst["norad_id_1"], "other": worst["norad_id_2"]}
            )
            return burst, anomaly, w.structured_content, p.structured_content

    burst, anomaly, window, plan = anyio.run(main)
    assert "electron" in burst["terms"].split() and burst["confidence"] > 0.4
    assert anomaly["parameter"] == "chamber_pressure"
    values = [s["value"] for s in window["samples"]]
    assert len(values) == 20 and max(values) == pytest.approx(2.0e6)  # after the drop
    assert plan["verified"] is True and 0 < plan["plan"]["dv_mps"] < 1.0


@pytest.mark.slow
def test_http_off_loopback_needs_a_token_and_the_token_is_checked(store_file: Path) -> None:
    out = subprocess.run(
        [*_command(), "mcp", "--transport", "http", "--host", "0.0.0.0"],
        env=_env(store_file),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "needs --token" in out.stderr
    import httpx

    port = _free_port()
    token = "a-long-enough-token-123"
    proc = subprocess.Popen(
        [*_command(), "mcp", "--transport", "http", "--port", str(port), "--token", token],
        env=_env(store_file),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert r.status_code == 401
        ok = httpx.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json, text/event-stream",
            },
        )
        assert ok.status_code != 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
