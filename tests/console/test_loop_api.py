"""The console's endpoints over the live loop's results (conjunctions, telemetry, anomalies,
world models, the loop's checkpoint), against a store the loop itself filled.

Conjunction details are checked for internal consistency against quantities computed here
from the stored TEME states: the miss vector's norm is the miss distance, the RTN vector has
the same norm as the TEME difference (a rotation), the relative velocity's norm is the relative
speed. Telemetry thinning and the anomaly markers are checked against the stored rows.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pytest

from starbrain.console.app import create_app
from starbrain.store.database import Store
from tests.console.conftest import serve_app

Client = httpx.Client


@contextmanager
def _client(path: Path) -> Iterator[httpx.Client]:
    with serve_app(create_app(path, token=None)) as url, httpx.Client(base_url=url) as c:
        yield c


@pytest.fixture(scope="module")
def client(loop_store_file: Path) -> Iterator[httpx.Client]:
    with _client(loop_store_file) as c:
        yield c


def test_conjunctions_list_matches_the_store(client: Client, loop_store_file: Path) -> None:
    with Store(loop_store_file, read_only=True) as store:
        stored = store.query(
            "SELECT count(DISTINCT (norad_id_1, norad_id_2, tca)) AS n, min(miss_distance_km) AS m "
            "FROM conjunctions"
        ).to_pylist()[0]
    assert stored["n"] > 0, "the fixture's screening found no conjunction"
    r = client.get("/api/conjunctions", params={"sort": "miss", "limit": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == stored["n"]
    misses = [c["miss_distance_km"] for c in body["conjunctions"]]
    assert misses == sorted(misses) and misses[0] == pytest.approx(stored["m"], abs=1e-6)
    by_pc = client.get("/api/conjunctions", params={"sort": "pc"}).json()["conjunctions"]
    pcs = [c["collision_probability"] for c in by_pc]
    assert pcs == sorted(pcs, reverse=True)
    one = body["conjunctions"][0]
    only = client.get("/api/conjunctions", params={"norad": one["norad_id_2"]}).json()
    assert all(
        one["norad_id_2"] in (c["norad_id_1"], c["norad_id_2"]) for c in only["conjunctions"]
    )


def test_conjunction_detail_is_consistent(client: Client) -> None:
    row = client.get("/api/conjunctions", params={"sort": "miss", "limit": 1}).json()
    c = row["conjunctions"][0]
    assert c["id"] == f"{c['norad_id_1']}/{c['norad_id_2']}/{c['tca_ns']}"
    r = client.get(f"/api/conjunctions/{c['id']}")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["tca"] == c["tca"] and d["miss_distance_km"] == pytest.approx(c["miss_distance_km"])
    d_teme = np.subtract(d["object_2"]["position_km"], d["object_1"]["position_km"])
    v_teme = np.subtract(d["object_2"]["velocity_kmps"], d["object_1"]["velocity_kmps"])
    # the stored states are at TCA: their separation is the miss distance (1 m), and the RTN
    # miss vector is that separation rotated (same norm)
    assert np.linalg.norm(d_teme) == pytest.approx(d["miss_distance_km"], abs=1e-3)
    assert np.linalg.norm(d["miss_rtn_km"]) == pytest.approx(np.linalg.norm(d_teme), abs=1e-3)
    assert np.linalg.norm(v_teme) == pytest.approx(d["relative_speed_kmps"], rel=1e-6)
    # at closest approach the separation is perpendicular to the relative velocity
    assert abs(np.dot(d_teme, v_teme)) / (np.linalg.norm(d_teme) * np.linalg.norm(v_teme)) < 1e-3
    assert 0.0 <= d["collision_probability"] <= 1.0 and d["hard_body_radius_m"] > 0
    assert (
        d["object_1"]["norad_id"] == c["norad_id_1"]
        and len(d["object_2"]["covariance_rtn_km2"]) == 6
    )


def test_conjunction_detail_errors(client: Client) -> None:
    r = client.get("/api/conjunctions/200001/200002/0")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.get("/api/conjunctions/200001/200002/99999999999999999999")
    assert r.status_code == 422
    r = client.get("/api/conjunctions", params={"limit": 0})
    assert r.status_code == 422


def test_telemetry_parameters_and_thinned_series(client: Client) -> None:
    p = client.get("/api/telemetry/parameters").json()
    names = {x["parameter"]: x for x in p["parameters"]}
    assert set(names) == {"bus_voltage", "bus_current", "battery_temperature",
                          "battery_charge", "pyro_armed"}  # fmt: skip
    assert names["battery_temperature"]["samples"] == 600  # 10 minutes at 1 Hz
    assert p["anomalies_available"] is True
    s = client.get(
        "/api/telemetry/series",
        params={"parameter": "battery_temperature", "minutes": 20, "max_points": 100},
    ).json()
    assert s["total"] == 600 and s["stride"] == 6 and len(s["time"]) == len(s["value"]) == 100
    v = np.array(s["value"])
    t = np.array([np.datetime64(x.rstrip("Z")) for x in s["time"]])
    inside = (t >= np.datetime64("2026-11-25T06:30:00")) & (
        t < np.datetime64("2026-11-25T06:31:30")
    )
    assert v[inside].min() > 310.0 and v[~inside].max() < 299.0
    [a] = s["anomalies"]
    assert a["label"] == "battery-temperature-excursion" and a["method"] == "robust-z"
    assert a["start"].startswith("2026-11-25T06:30:")
    window = client.get(
        "/api/telemetry/series",
        params={"parameter": "battery_temperature", "from": "2026-11-25T06:26:00Z",
                "to": "2026-11-25T06:28:00Z"},
    ).json()  # fmt: skip
    assert window["total"] == 120 and window["anomalies"] == []
    assert client.get("/api/telemetry/series", params={"parameter": "nope"}).status_code == 404
    bad = client.get(
        "/api/telemetry/series",
        params={"parameter": "battery_temperature", "from": "2026-11-25T07:00:00Z",
                "to": "2026-11-25T06:00:00Z"},
    )  # fmt: skip
    assert bad.status_code == 422 and "later" in bad.json()["message"]


def test_anomalies_and_a_store_without_them(
    client: Client, loop_store_file: Path, tmp_path: Path
) -> None:
    r = client.get("/api/anomalies").json()
    assert r["available"] and r["total"] == 1
    copy = tmp_path / "no-anomalies.duckdb"
    shutil.copy(loop_store_file, copy)
    con = duckdb.connect(str(copy))
    con.execute("DROP TABLE anomalies")
    con.close()
    with _client(copy) as c:
        assert c.get("/api/anomalies").json() == {"available": False, "total": 0, "anomalies": []}
        s = c.get("/api/telemetry/series", params={"parameter": "battery_temperature"})
        assert s.status_code == 200 and s.json()["anomalies"] == []
        assert c.get("/api/telemetry/parameters").json()["anomalies_available"] is False


def test_models_lists_the_loops_refit(client: Client, loop_store_file: Path) -> None:
    r = client.get("/api/models").json()
    [m] = r["models"]
    assert m["name"] == "loop-orbit" and m["kind"].startswith("orbit")
    assert [h["horizon_min"] for h in m["horizons"]] == [60.0, 180.0, 360.0]
    rows = m["metrics"]["evaluation"]
    for h, row in zip(m["horizons"], rows, strict=True):
        assert h["model_median_km"] == pytest.approx(row["model_median_km"])
        assert h["median_ratio"] == pytest.approx(row["model_median_km"] / row["sgp4_median_km"])
    assert all(math.isfinite(h["sgp4_median_km"]) for h in m["horizons"])


def test_loop_status_from_the_checkpoint(client: Client) -> None:
    r = client.get("/api/loop", params={"events": 500}).json()
    assert r["running"] is False
    tasks = {t["name"]: t for t in r["tasks"]}
    assert {"catalog", "telemetry", "conjunctions", "passes", "anomalies"} <= set(tasks)
    assert tasks["telemetry"]["done_until"] == "2026-11-25T06:35:00.000Z"
    assert tasks["telemetry"]["runs"] == 10
    kinds = [e["message"]["kind"] for e in r["events"] if e["subject"] == "starbrain.loop"]
    assert kinds == ["stopped", "started"]  # newest first
    subjects = {e["subject"] for e in r["events"]}
    assert {"starbrain.conjunctions", "starbrain.anomalies", "starbrain.models"} <= subjects
