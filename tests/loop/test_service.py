"""The live loop on a small generated catalogue into a temporary DuckDB store: windows processed
once each, checkpoints, resume without re-processing, graceful SIGTERM (buffered UDP telemetry
flushed), drift measured against python-sgp4 (Vallado's C++ SGP4, not ours), and messages
published to real NATS (JetStream) and MQTT brokers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sgp4.api import Satrec, jday

from starbrain.core.errors import StarbrainError
from starbrain.loop.config import LoopConfig, load_config
from starbrain.loop.publish import SUBJECTS, Bus, mqtt_topic
from starbrain.loop.service import LoopService
from starbrain.loop.simulators import PowerSimulator, PresetCatalog, injected_anomalies
from starbrain.loop.worldmodel import measure_drift
from starbrain.store.database import Store

START = "2026-11-25T06:00:00"
T0 = np.datetime64(START, "ns")
PARAMS_PER_POWER_PACKET = 5  # bus_voltage, bus_current, battery_temperature, battery_charge, pyro


def small(**over: Any) -> LoopConfig:
    """40 satellites of the Starlink preset, one-minute windows, as fast as possible."""
    base: dict[str, Any] = dict(
        max_objects=40, speed=0.0, start=START, catalog_interval_s=60.0,
        telemetry_interval_s=30.0, conjunctions_interval_s=60.0, passes_interval_s=60.0,
        conjunctions_lookahead_s=0.0, passes_lookahead_s=0.0, threshold_km=100.0, refit=False,
        min_elevation_deg=0.0,
    )  # fmt: skip
    base.update(over)
    return LoopConfig(**base)


def run(cfg: LoopConfig, path: Path, **kw: Any) -> Any:
    with Store(path) as store:
        service = LoopService(cfg, store, **kw)
        return asyncio.run(service.run()), service


def test_loop_processes_each_window_once_and_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "loop.duckdb"
    first, service = run(small(duration_s=240.0), path)
    assert not first.resumed and first.start.startswith("2026-11-25T06:00:00")
    assert {k: v["runs"] for k, v in first.tasks.items()} == {
        "catalog": 4, "telemetry": 8, "conjunctions": 4, "passes": 4, "anomalies": 4,
    }  # fmt: skip
    assert all(v["errors"] == 0 for v in first.tasks.values())
    # 1 Hz POWER packets for 240 s, five parameters each
    assert first.stored["telemetry"] == 240 * PARAMS_PER_POWER_PACKET
    assert first.stored["elements"] == 40 * 5  # the initial set and four refreshes
    assert first.published["starbrain.catalog"] == 4
    assert first.published["starbrain.passes"] == 4
    assert first.published["starbrain.conjunctions"] == 4
    assert first.published["starbrain.telemetry"] == 8
    assert len(first.drift) == 4

    # a second run (no start given) continues at the checkpoint: nothing processed twice
    second, _ = run(small(duration_s=120.0, start=None), path)
    assert second.resumed and second.start == "2026-11-25T06:04:00.000Z"
    assert second.tasks["telemetry"]["runs"] == 4 and second.tasks["catalog"]["runs"] == 2
    with Store(path, read_only=True) as store:
        t = store.query(
            "SELECT count(*) AS n, count(DISTINCT time) AS d, min(time) AS a, max(time) AS b "
            "FROM telemetry WHERE parameter = 'battery_temperature'"
        ).to_pylist()[0]
        assert t["n"] == t["d"] == 360  # 6 minutes at 1 Hz, no duplicate sample
        state = store.query("SELECT task, done_until FROM loop_state ORDER BY task").to_pylist()
        assert {r["task"] for r in state} == {
            "catalog", "telemetry", "conjunctions", "passes", "anomalies",
        }  # fmt: skip
        assert all(str(r["done_until"]) == "2026-11-25 06:06:00" for r in state)
        windows = store.query(
            "SELECT DISTINCT screen_start FROM conjunctions ORDER BY screen_start"
        ).column("screen_start")
        starts = windows.to_numpy().astype("datetime64[s]")
        assert len(set(starts.tolist())) == len(starts)  # each window screened once
        assert np.all((starts - T0.astype("datetime64[s]")).astype(int) % 60 == 0)
        subjects = store.query("SELECT DISTINCT subject FROM loop_events").column(0).to_pylist()
        assert {"starbrain.catalog", "starbrain.passes", "starbrain.loop"} <= set(subjects)
        assert store.count("elements") == 40 * 7
    assert service.status()["running"] is False


def test_a_kill_between_a_windows_writes_commits_none_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #12 item 11: the second telemetry window's rows and events are written, then the
    process "dies" before its checkpoint: nothing of that window may be committed, and the
    resumed run stores each 1 Hz sample exactly once."""
    from starbrain.loop.checkpoint import Checkpoint

    path = tmp_path / "loop.duckdb"
    real_save = Checkpoint.save
    second = T0 + np.timedelta64(60, "s")

    def dies(self: Checkpoint, task: str, done_until: np.datetime64) -> None:
        if task == "telemetry" and done_until == second:
            raise SystemExit("killed between the window's writes")
        real_save(self, task, done_until)

    monkeypatch.setattr(Checkpoint, "save", dies)
    cfg = dict(duration_s=120.0, conjunctions_interval_s=600.0, passes_interval_s=600.0)
    with pytest.raises(SystemExit, match="killed"):
        run(small(**cfg), path)
    monkeypatch.setattr(Checkpoint, "save", real_save)
    with Store(path, read_only=True) as store:
        done = store.query(
            "SELECT epoch_ns(done_until) AS d FROM loop_state WHERE task = 'telemetry'"
        ).column("d")
        assert done.to_pylist() == [int((T0 + np.timedelta64(30, "s")).astype(np.int64))]
        n = store.query("SELECT count(*) AS n FROM telemetry").column("n")[0].as_py()
        assert n == 30 * PARAMS_PER_POWER_PACKET  # the first window only
        windows = store.query(
            "SELECT payload FROM loop_events WHERE subject = 'starbrain.telemetry'"
        ).column(0)
        assert [json.loads(w)["to"] for w in windows.to_pylist()] == ["2026-11-25T06:00:30.000Z"]

    resumed, _ = run(small(**cfg), path)  # same start: every task continues at its checkpoint
    assert resumed.resumed and resumed.tasks["telemetry"]["runs"] == 3
    with Store(path, read_only=True) as store:
        t = store.query(
            "SELECT count(*) AS n, count(DISTINCT (time, parameter)) AS d FROM telemetry"
        ).to_pylist()[0]
        assert t["n"] == t["d"] == 120 * PARAMS_PER_POWER_PACKET  # each sample once
        tos = store.query(
            "SELECT payload FROM loop_events WHERE subject = 'starbrain.telemetry'"
        ).column(0)
        ends = sorted(json.loads(w)["to"][11:19] for w in tos.to_pylist())
        assert ends == ["06:00:30", "06:01:00", "06:01:30", "06:02:00"]  # each window once


def test_drift_agrees_with_python_sgp4() -> None:
    """The drift check's number against Vallado's C++ SGP4 (python-sgp4), to 1 m."""
    catalog = PresetCatalog("starlink-gen1", T0, max_objects=12)
    old, new = catalog.at(T0), catalog.at(T0 + np.timedelta64(600, "s"))
    drift = measure_drift(old, new)
    assert drift is not None and drift.n == 12 and drift.mean_gap_s == pytest.approx(600.0)

    from starbrain.sources.catalogs.tle import format_tle

    lines_old, lines_new = format_tle(old), format_tle(new)
    jd, fr = jday(2026, 11, 25, 6, 10, 0.0)
    d = []
    for k in range(12):
        a = Satrec.twoline2rv(lines_old[2 * k], lines_old[2 * k + 1])
        b = Satrec.twoline2rv(lines_new[2 * k], lines_new[2 * k + 1])
        ea, ra, _ = a.sgp4(jd, fr)
        eb, rb, _ = b.sgp4(jd, fr)
        assert ea == eb == 0
        d.append(np.linalg.norm(np.subtract(ra, rb)))
    # TLE text rounds the elements (1e-8 rev/day, 1e-4 deg): about 1 m at 550 km
    assert drift.median_km == pytest.approx(float(np.median(d)), abs=2e-3)
    # two-body advance vs SGP4's J2 secular rates over 10 min: hundreds of metres, not km
    assert 0.3 < drift.median_km < 5.0


def test_power_simulator_packets_decode_with_the_injected_excursions() -> None:
    sim = PowerSimulator(rate_hz=2.0, anomaly_every_s=600.0, anomaly_duration_s=60.0)
    t0 = T0
    batches = sim.window(t0, t0 + np.timedelta64(1200, "s"))
    assert sim.decoder.stats.n_errors == 0
    import pyarrow as pa

    table = pa.Table.from_batches(batches)
    temp = table.filter(pa.compute.equal(table["parameter"], "battery_temperature"))
    t = temp.column("time").to_numpy().astype("datetime64[ns]")
    v = temp.column("value").to_numpy()
    assert len(t) == 2400
    windows = injected_anomalies(t0, t0 + np.timedelta64(1200, "s"), 600.0, 60.0)
    assert len(windows) == 2
    inside = np.zeros(len(t), bool)
    for a, b in windows:
        inside |= (t >= a) & (t < b)
    # 25 K excursions on a 293 K +- 4 K cycle; calibration step 0.25 K
    assert v[inside].min() > 310.0 and v[~inside].max() < 299.0


def test_robust_z_finds_the_injected_excursion_and_nothing_else(tmp_path: Path) -> None:
    """40 simulated minutes hold one battery-temperature excursion (06:30:00-06:31:30, +25 K);
    the loop's detector must report it, labelled, and no other anomaly (eclipse transitions,
    noise)."""
    cfg = small(
        start="2026-11-25T06:05:00", duration_s=2400.0, catalog_interval_s=2400.0,
        conjunctions_interval_s=2400.0, passes_interval_s=2400.0, telemetry_interval_s=60.0,
        anomalies_interval_s=300.0, max_objects=4,
    )  # fmt: skip
    summary, _ = run(cfg, tmp_path / "a.duckdb")
    assert summary.tasks["anomalies"]["runs"] == 8
    with Store(tmp_path / "a.duckdb", read_only=True) as store:
        rows = store.read("anomalies").to_pylist()
    assert len(rows) == 1, rows
    a = rows[0]
    assert (a["source"], a["parameter"], a["method"]) == (
        "sim:power", "battery_temperature", "robust-z",
    )  # fmt: skip
    assert a["label"] == "battery-temperature-excursion" and a["score"] > 1.0
    start = np.datetime64(a["start"].replace(tzinfo=None), "s")
    end = np.datetime64(a["end"].replace(tzinfo=None), "s")
    # the rise is seen within the rolling window (20 samples), the fall likewise
    assert np.datetime64("2026-11-25T06:30:00") <= start <= np.datetime64("2026-11-25T06:30:21")
    assert np.datetime64("2026-11-25T06:31:30") <= end <= np.datetime64("2026-11-25T06:31:52")
    assert summary.published["starbrain.anomalies"] == 8


def test_simulated_launches_are_stored_once_and_scored_after_landing(tmp_path: Path) -> None:
    """A 120 s launch (5 Hz, two injected anomalies) at 06:10 while the loop runs 06:05-06:14
    in one-minute windows, restarted at 06:11 (mid-flight): the flight's decoded telemetry is
    stored exactly once, and the trained detector (robust-z, models.anomaly) scores the
    flight when it lands."""
    import pyarrow as pa

    from starbrain.loop.flights import _decoded
    from starbrain.models.anomaly.data import frame_from_flight
    from starbrain.models.anomaly.detector import AnomalyDetector
    from starbrain.physics.flight_sim import FlightConfig, simulate_flight

    frames = [
        frame_from_flight(simulate_flight(FlightConfig(seed=s, duration_s=120.0, rate_hz=5.0)))
        for s in (1000, 1001)
    ]
    detector = AnomalyDetector.train(frames[:1], frames[1:], methods=["robust-z"])
    det_path = detector.save(tmp_path / "detector.pt")
    path = tmp_path / "f.duckdb"
    cfg = small(
        start="2026-11-25T06:05:00", duration_s=360.0, max_objects=4, telemetry_sim=False,
        catalog_interval_s=540.0, conjunctions_interval_s=540.0, passes_interval_s=540.0,
        flight_every_s=600.0, flight_duration_s=120.0, flight_rate_hz=5.0,
        flight_detector=str(det_path),
    )  # fmt: skip
    # launches every 600 s since 1970: 06:00:00 (landed before the start) and 06:10:00
    launch = int(np.datetime64("2026-11-25T06:10:00", "s").astype(np.int64))
    assert launch % 600 == 0
    run(cfg, path)  # 06:05-06:11: lift-off at 06:10
    second, _ = run(cfg.model_copy(update={"start": None, "duration_s": 180.0}), path)
    assert second.resumed and second.tasks["flights"]["runs"] == 3  # 06:11-06:14
    expected = _decoded(launch // 600, launch * 10**9, 120.0, 5.0, 2)
    with Store(path, read_only=True) as store:
        n = store.query("SELECT count(*) AS n FROM telemetry").column(0)[0].as_py()
        dup = (
            store.query(
                "SELECT count(*) FROM (SELECT apid, parameter, time FROM telemetry "
                "GROUP BY ALL HAVING count(*) > 1)"
            )
            .column(0)[0]
            .as_py()
        )
        events = [
            json.loads(p)
            for p in store.query(
                "SELECT payload FROM loop_events WHERE subject = 'starbrain.anomalies'"
            )
            .column(0)
            .to_pylist()
        ]
        stored = store.query("SELECT count(*) FROM anomalies").column(0)[0].as_py()
    assert expected.num_rows > 0 and n == expected.num_rows and dup == 0
    assert isinstance(expected, pa.Table)
    [flight] = [e for e in events if e["kind"] == "flight"]
    assert flight["source"] == "flight-20261125T061000"
    assert flight["detector"] and flight["injected"] == 2 and stored == flight["count"]


def test_config_file_and_bounds(tmp_path: Path) -> None:
    path = tmp_path / "loop.toml"
    path.write_text('[loop]\nspeed = 60\nstations = ["Svalbard"]\nthreshold_km = 2.5\n')
    cfg = load_config(path, max_objects=10)
    assert cfg.speed == 60 and cfg.stations == ["Svalbard"] and cfg.max_objects == 10
    with pytest.raises(StarbrainError, match="threshold_km"):
        load_config(None, threshold_km=-1.0)
    with pytest.raises(StarbrainError, match="not both"):
        load_config(None, nats_url="nats://127.0.0.1:1", mqtt_url="mqtt://127.0.0.1:1")
    with pytest.raises(StarbrainError, match="unexpected_key"):
        path.write_text("unexpected_key = 1\n")
        load_config(path)


def test_bus_fans_out_and_drops_the_oldest_for_slow_subscribers() -> None:
    async def main() -> tuple[list[int], list[int]]:
        bus = Bus(history=3)
        with bus.subscribe(maxsize=2) as slow, bus.subscribe(maxsize=100) as fast:
            for i in range(5):
                bus.publish({"i": i})
            await asyncio.sleep(0.01)
            got_slow = [slow.get_nowait()["i"] for _ in range(slow.qsize())]
            got_fast = [fast.get_nowait()["i"] for _ in range(fast.qsize())]
        assert bus.subscribers == 0 and [m["i"] for m in bus.recent] == [2, 3, 4]
        return got_slow, got_fast

    slow, fast = asyncio.run(main())
    assert slow == [3, 4] and fast == [0, 1, 2, 3, 4]


def test_refit_registers_a_model_when_the_drift_passes_the_threshold(tmp_path: Path) -> None:
    path = tmp_path / "loop.duckdb"
    cfg = small(
        duration_s=120.0, refit=True, drift_threshold_km=0.05, refit_objects=2, refit_epochs=2,
        max_objects=10, telemetry_sim=False,
    )  # fmt: skip
    summary, _ = run(cfg, path)
    assert len(summary.refits) == 1  # the second drift check is within the cooldown
    assert summary.published["starbrain.alerts"] == 2  # one per drift check above threshold
    with Store(path, read_only=True) as store:
        row = store.query("SELECT name, metrics_json FROM models").to_pylist()
    assert [r["name"] for r in row] == ["loop-orbit"]
    metrics = json.loads(row[0]["metrics_json"])
    assert [r["horizon_min"] for r in metrics["evaluation"]] == [60.0, 180.0, 360.0]
    assert metrics["trigger"]["median_km"] > 0.05
    # a restart inside the cooldown does not re-fit again
    again, _ = run(cfg.model_copy(update={"start": None}), path)
    assert again.refits == []


# -- the CLI process: graceful SIGTERM ------------------------------------------------------------
def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_tcp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_first_telemetry_window(url: str, proc: subprocess.Popen[str], timeout: float) -> None:
    """Poll the loop's console until the first telemetry window's message is in the store's
    event log (it is committed with the window's rows and checkpoint)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, "no telemetry window within the timeout"
        assert proc.poll() is None, "the loop exited early"
        with contextlib.suppress(httpx.HTTPError):
            events = httpx.get(f"{url}/api/loop", params={"events": 500}, timeout=5).json()
            if any(
                e["subject"] == "starbrain.telemetry"
                and (e["message"] or {}).get("kind") == "window"
                for e in events["events"]
            ):
                return
        time.sleep(0.05)


def test_sigterm_stops_gracefully_and_flushes_udp_telemetry(tmp_path: Path) -> None:
    from starbrain.sources.telemetry.ccsds import encode_packets
    from starbrain.sources.telemetry.packets import load_example_definitions
    from starbrain.sources.transport.udp import send_udp

    db = tmp_path / "run.duckdb"
    port, http = _free_udp_port(), _free_tcp_port()
    env = {**os.environ, "STARBRAIN_DB": str(db), "STARBRAIN_DATA": str(tmp_path)}
    env.pop("STARBRAIN_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "starbrain", "run", "--port", str(http), "--speed", "60",
         "--max-objects", "20", "--udp-port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        seen = ""
        while "listening for CCSDS packets" not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, seen
            line = proc.stderr.readline() if proc.stderr else ""
            seen += line
        # SIGTERM only once the first window is stored (a fixed sleep raced the window: #12.12)
        _wait_for_first_telemetry_window(f"http://127.0.0.1:{http}", proc, 90)
        defs = {p.name: p for p in load_example_definitions().packets}
        n = 300
        times = np.datetime64("2026-11-25T00:00:00", "ns") + np.arange(n) * np.timedelta64(10, "ms")
        packets = encode_packets(
            defs["PROPULSION"], np.arange(n), times=times, values={"thrust": np.full(n, 7.5e5)}
        )
        # one datagram per packet; then stop well before the 2 s periodic flush
        assert send_udp((bytes(p) for p in packets), "127.0.0.1", port) == n
        time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "live loop" in out
    with Store(db, read_only=True) as store:
        thrust = store.query(
            "SELECT count(*) AS n, min(value) AS v FROM telemetry WHERE parameter = 'thrust'"
        ).to_pylist()[0]
        assert thrust["n"] == n and thrust["v"] == pytest.approx(7.5e5)
        done = (
            store.query("SELECT epoch_ns(done_until) AS d FROM loop_state WHERE task = 'telemetry'")
            .column(0)[0]
            .as_py()
        )
        sim = (
            store.query("SELECT payload FROM loop_events WHERE subject = 'starbrain.loop'")
            .column(0)
            .to_pylist()
        )
        samples = (
            store.query("SELECT count(*) FROM telemetry WHERE parameter = 'battery_temperature'")
            .column(0)[0]
            .as_py()
        )
    kinds = [json.loads(e)["kind"] for e in sim]
    assert kinds == ["started", "stopped"]
    started = np.datetime64(json.loads(sim[0])["start"].rstrip("Z"), "ns")
    # the simulator's 1 Hz samples stored are exactly those of the checkpointed windows
    assert samples == (done - int(started.astype(np.int64))) // 10**9 > 0


# -- brokers --------------------------------------------------------------------------------------
@pytest.mark.broker
def test_publishes_every_documented_subject_to_nats_jetstream(
    tmp_path: Path, nats_server: Any
) -> None:
    import nats

    async def main() -> tuple[dict[str, int], int, Any]:
        nc = await nats.connect(nats_server.url)
        got: dict[str, int] = {}

        async def on(msg: Any) -> None:
            json.loads(msg.data)
            got[msg.subject] = got.get(msg.subject, 0) + 1

        await nc.subscribe("starbrain.>", cb=on)
        with Store(tmp_path / "nats.duckdb") as store:
            from starbrain.loop.publish import NatsPublisher

            service = LoopService(
                small(duration_s=120.0, drift_threshold_km=0.01, nats_url=nats_server.url),
                store,
                NatsPublisher(nats_server.url),
            )
            summary = await service.run()
        await nc.flush()
        await asyncio.sleep(0.2)
        info = await nc.jetstream().stream_info("STARBRAIN")
        await nc.close()
        return got, info.state.messages, summary

    got, stored, summary = asyncio.run(main())
    assert summary.publisher.startswith("NATS") and "JetStream" in summary.publisher
    expected = {
        "starbrain.catalog", "starbrain.passes", "starbrain.conjunctions", "starbrain.telemetry",
        "starbrain.models", "starbrain.alerts", "starbrain.loop", "starbrain.anomalies",
    }  # fmt: skip
    assert expected <= set(got) <= set(SUBJECTS)
    assert got == dict(summary.published)
    assert stored == sum(summary.published.values())  # every message acknowledged by JetStream


@pytest.mark.broker
def test_publishes_to_mqtt_with_qos1(tmp_path: Path, mosquitto_server: Any) -> None:
    import paho.mqtt.client as mqtt

    got: dict[str, int] = {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-subscriber")

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        json.loads(msg.payload)
        got[msg.topic] = got.get(msg.topic, 0) + 1

    client.on_message = on_message
    client.connect("127.0.0.1", mosquitto_server.port)
    client.subscribe("starbrain/#", qos=1)
    client.loop_start()
    try:
        time.sleep(0.3)
        cfg = small(duration_s=120.0, mqtt_url=mosquitto_server.url)
        with Store(tmp_path / "mqtt.duckdb") as store:
            from starbrain.loop.publish import MqttPublisher

            summary = asyncio.run(LoopService(cfg, store, MqttPublisher(cfg.mqtt_url or "")).run())
        deadline = time.monotonic() + 10
        want = {mqtt_topic(s): n for s, n in summary.published.items()}
        while got != want and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    assert got == want
    assert {"starbrain/catalog", "starbrain/passes", "starbrain/conjunctions"} <= set(got)


@pytest.mark.broker
def test_a_broker_outage_does_not_stop_publishing_in_process(nats_server: Any) -> None:
    from starbrain.loop.publish import NatsPublisher

    async def main() -> NatsPublisher:
        pub = NatsPublisher(nats_server.url)
        await pub.start()
        with pub.bus.subscribe() as queue:
            await pub.publish("starbrain.alerts", {"kind": "test", "n": 1})
            nats_server.kill()  # a crash: no goodbye
            await asyncio.sleep(0.2)
            await pub.publish("starbrain.alerts", {"kind": "test", "n": 2})
            got = [queue.get_nowait()["n"] for _ in range(queue.qsize())]
        assert got == [1, 2]  # the console's bus still has both
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pub.close(), 5)
        return pub

    pub = asyncio.run(main())
    assert pub.sent["starbrain.alerts"] == 1 and pub.failed["starbrain.alerts"] == 1
