"""The console API of the other fleets (issues #15-#18) on a real DuckDB file filled by the
demo's own fleet writers (``tests/console/fleet_store.py``), served by uvicorn.

References: the stored rows themselves (tracks, torques, GPU power summed here with numpy), the
library's functions called directly (model error, bursts, the schedule's evaluation), the arm's
datasheet link lengths (0.40 m, 0.30 m) and the ISO 3888-2 cone layout (Table 1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from starbrain.console.app import create_app
from starbrain.store.database import Store
from tests.console.conftest import TOKEN, serve_app
from tests.console.fleet_store import MODEL, VEHICLE, fleet_store_file, lane_change_path

__all__ = ["fleet_store_file"]  # the fixture, for pytest


@pytest.fixture(scope="module")
def client(fleet_store_file: Path) -> Iterator[httpx.Client]:
    with (
        serve_app(create_app(fleet_store_file, token=None)) as url,
        httpx.Client(base_url=url, timeout=60) as c,
    ):
        yield c


def get(client: httpx.Client, path: str, **params: Any) -> dict:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------- vehicles (#15)


def test_vehicle_track_is_the_stored_log(client: httpx.Client, fleet_store_file: Path) -> None:
    overview = get(client, "/api/vehicles")
    assert [v["vehicle_id"] for v in overview["logs"]] == [VEHICLE]
    assert overview["logs"][0]["samples"] == 81  # 4 s at 20 Hz, both ends
    assert overview["logs"][0]["friction"] == pytest.approx(0.6)
    assert overview["models"] == [MODEL]
    r = get(client, "/api/vehicles/track", vehicle_id=VEHICLE, max_points=20)
    assert (r["total"], r["stride"]) == (81, 5)
    with Store(fleet_store_file, read_only=True) as store:
        t = store.read("vehicle").sort_by("time")
    x, y = t["x_m"].to_numpy()[::5], t["y_m"].to_numpy()[::5]
    (log,) = r["logs"]
    np.testing.assert_allclose(log["x_m"], x, atol=1e-3)  # rounded to mm
    np.testing.assert_allclose(log["y_m"], y, atol=1e-3)
    assert log["time"][0] == "2026-11-25T06:00:00.000Z"
    assert client.get("/api/vehicles/track", params={"vehicle_id": "nope"}).status_code == 404


def test_vehicle_model_error_is_the_library_evaluation(
    client: httpx.Client, fleet_store_file: Path
) -> None:
    from starbrain.models.dynamics import load_world_model
    from starbrain.models.vehicle_kinds import position_rmse

    r = get(client, "/api/vehicles/model-error", vehicle_id=VEHICLE, horizon_s=[1.0, 0.5])
    assert r["available"] and r["hint"] is None
    with Store(fleet_store_file, read_only=True) as store:
        model, _ = load_world_model(store, MODEL)
        ref = position_rmse({MODEL: model}, store.read("vehicle"), [0.5, 1.0])
    got = {(row["stratum"], row["horizon_s"]): row["position_rmse_m"] for row in r["rows"]}
    assert len(got) == len(ref) == 4  # mu=0.6 and all, at 0.5 s and 1 s
    for row in ref:
        assert got[(row["stratum"], row["horizon_s"])] == pytest.approx(
            row["position_rmse_m"], rel=1e-3, abs=1e-4
        )
    one_s = got[("all", 1.0)]
    assert 0.0 < got[("all", 0.5)] < one_s < 5.0  # error grows with the horizon; metres


def test_lane_change_has_the_iso_cones_and_the_stored_path(client: httpx.Client) -> None:
    r = get(client, "/api/vehicles/lane-change", vehicle_id=VEHICLE)
    assert r["available"]
    run = r["run"]
    b = run["width_m"]
    assert b == pytest.approx(1.61, abs=0.05)  # a BMW 320i
    # ISO 3888-2 Table 1: lanes of 12, 11 and 12 m at x = 0, 12 + 13.5, 36.5 + 12.5; widths
    # 1.1 b + 0.25, b + 1 (offset 1 m left of the first lane) and min(1.3 b + 0.25, 3)
    w1 = 1.1 * b + 0.25
    ref = [
        [0, 12, 0, w1],
        [25.5, 36.5, w1 + 1, w1 + 1 + b + 1],
        [49, 61, 0, min(1.3 * b + 0.25, 3)],
    ]
    np.testing.assert_allclose(run["sections"], ref, atol=1e-9)
    x, y = lane_change_path(b)
    np.testing.assert_allclose(run["x_m"], x, atol=1e-3)
    np.testing.assert_allclose(run["y_m"], y, atol=1e-3)
    assert (run["speed_mps"], run["passed"], run["cones_struck"]) == (11.0, True, [])
    none = get(client, "/api/vehicles/lane-change", vehicle_id="other-car")
    assert not none["available"] and "starbrain vehicle drive" in none["hint"]


# ---------------------------------------------------------------- arm (#16)


def test_arm_series_tracks_the_stored_torques(client: httpx.Client, fleet_store_file: Path) -> None:
    overview = get(client, "/api/arm")
    assert overview["episodes"][0]["rows"] == 201
    assert overview["episodes"][0]["payload_kg"] == pytest.approx(0.5)
    r = get(client, "/api/arm/series", arm_id="arm-1", max_points=5000)
    assert (r["total"], r["stride"]) == (201, 1)
    with Store(fleet_store_file, read_only=True) as store:
        t = store.read("arm").sort_by("time")
    for c in ("tau_cmd_1_nm", "tau_cmd_2_nm", "tau_meas_1_nm", "tau_meas_2_nm", "q1_rad"):
        got = np.array(r[c], dtype=float)  # null (no measurement) -> NaN
        want = t[c].to_numpy(zero_copy_only=False).astype(float)
        np.testing.assert_allclose(got, want, atol=1e-4, err_msg=c)
    # the datasheet's links (sources/robots/arm.py ArmParams.link_m), fitted to the stored
    # poses: 2 mm, since MuJoCo's site pose can trail the joint angles by one 2 ms physics step
    assert r["link_m"] == pytest.approx([0.40, 0.30], abs=2e-3)
    assert client.get("/api/arm/series", params={"arm_id": "arm-9"}).status_code == 404


def test_arm_model_error_is_the_nominal_prior_evaluation(
    client: httpx.Client, fleet_store_file: Path
) -> None:
    from starbrain.models.arm import arm_trajectories, fit_arm_model
    from starbrain.models.dynamics import evaluate

    r = get(client, "/api/arm/model-error", arm_id="arm-1", horizon_s=[0.1, 1.0])
    rows = [row for row in r["rows"] if row["model"] == "nominal physics"]
    assert [row["horizon_s"] for row in rows] == pytest.approx([0.1, 1.0])
    with Store(fleet_store_file, read_only=True) as store:
        table = store.read("arm")
    data = arm_trajectories(table, stratum="all")
    ref = evaluate(fit_arm_model("nominal", table)[0], data, horizons=[5, 50])
    for row, want in zip(rows, [w for w in ref if w["stratum"] == "all"], strict=True):
        e = np.asarray(want["rmse_by_state"])
        assert row["q_rmse_rad"] == pytest.approx(math.sqrt((e[:2] ** 2).mean()), rel=1e-4)
    # the worn arm (0.5 kg payload, weaker actuators) drifts from its datasheet model
    assert 0.0 < rows[0]["q_rmse_rad"] < rows[1]["q_rmse_rad"]


# ---------------------------------------------------------------- compute (#18)


def test_site_power_is_the_sum_over_gpus(client: httpx.Client, fleet_store_file: Path) -> None:
    r = get(client, "/api/compute/site", max_points=5000)
    assert r["total"] == 60 and r["stride"] == 1 and set(r["n_gpus"]) == {64}
    with Store(fleet_store_file, read_only=True) as store:
        t = store.read("compute")
    times = t["time"].to_numpy()
    power, temp = t["power_w"].to_numpy(), t["gpu_temp_c"].to_numpy()
    first = times == times.min()
    assert r["site_power_w"][0] == pytest.approx(power[first].sum(), abs=1e-2)
    assert max(r["gpu_temp_max_c"]) == pytest.approx(temp.max(), abs=1e-3)
    assert r["hottest"][0]["gpu_temp_max_c"] == pytest.approx(temp.max(), abs=1e-9)


def test_schedule_stays_under_the_budget_and_matches_its_evaluation(
    client: httpx.Client,
) -> None:
    from starbrain.planners.power_schedule import Jobs, Site, evaluate_schedule, plan_schedule

    r = get(client, "/api/compute/schedule", n_jobs=100, n_gpus=20_000)
    jobs = Jobs.random(100, 20_000, seed=0)
    full = float((jobs.n_gpus * (jobs.demand_w + 90.0)).sum())
    site = Site(budget_w=0.55 * full, ramp_w_per_s=0.05 * full / 60)
    ref = evaluate_schedule(jobs, site, plan_schedule(jobs, site, "starbrain"))
    assert r["budget_w"] == pytest.approx(site.budget_w, rel=1e-12)
    assert max(r["site_power_w"]) == pytest.approx(float(ref["peak_site_mw"]) * 1e6, rel=1e-6)
    assert max(r["site_power_w"]) <= r["budget_w"] * (1 + 1e-9)
    assert r["summary"]["energy_mwh"] == pytest.approx(ref["energy_mwh"], rel=1e-9)
    assert r["summary"]["energy_mwh"] < r["baseline"]["energy_mwh"]
    assert len(r["jobs"]) == 100 and all(j["start_s"] % 60 == 0 for j in r["jobs"])
    assert {j["power_limit_w"] for j in r["jobs"]} <= set(np.arange(150.0, 701.0, 25.0))


# ---------------------------------------------------------------- posts (#17)


def test_posts_bursts_and_search(client: httpx.Client, fleet_store_file: Path) -> None:
    from starbrain.models.text.queries import store_bursts

    r = get(client, "/api/posts", limit=5)
    assert r["total"] == 383 and len(r["posts"]) == 5
    assert r["posts"][0]["time"] >= r["posts"][-1]["time"]  # newest first
    b = get(client, "/api/posts/bursts", include_spam=True)
    with Store(fleet_store_file, read_only=True) as store:
        ref, _ = store_bursts(store)
    assert [x["burst_id"] for x in b["bursts"]] == [x.burst_id for x in ref]
    assert [x["n_posts"] for x in b["bursts"]] == [x.n_posts for x in ref]
    assert b["n_spam"] == sum(x.spam for x in ref) == 1
    s = get(client, "/api/posts/search", q="engine shutdown", k=3)
    assert len(s["hits"]) == 3 and "engine" in s["hits"][0]["text"].lower()


# ---------------------------------------------------------------- ingest


def post_line(
    pid: str, text: str = "engine anomaly on the pad", time: str = "2026-11-25T07:00:00Z"
) -> str:
    return json.dumps({"id": pid, "time": time, "author": "@a", "text": text, "lang": "en"})


@pytest.fixture(scope="module")
def ingest_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("ingest") / "ingest.duckdb"
    with serve_app(create_app(path, token=TOKEN)) as url:
        yield url


def test_ingest_needs_the_token(ingest_url: str) -> None:
    body = post_line("t1") + "\n"
    r = httpx.post(f"{ingest_url}/api/posts", content=body)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = httpx.post(
        f"{ingest_url}/api/posts", content=body, headers={"Authorization": "Bearer x" * 3}
    )
    assert r.status_code == 401


def test_ingest_dedupes_names_bad_lines_and_keeps_the_rest(ingest_url: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    bad = json.dumps(
        {"id": "p3", "time": "yesterday-ish", "author": "@b", "text": "x", "lang": "en"}
    )
    body = "\n".join([post_line("p1"), post_line("p2"), bad, "{not json", post_line("p4")]) + "\n"
    r = httpx.post(f"{ingest_url}/api/posts", content=body, headers=auth)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["received"], got["new"], got["duplicate"], got["bad"]) == (5, 3, 0, 2)
    assert [(e["line"], e["field"]) for e in got["errors"]] == [(3, "time"), (4, None)]
    assert got["errors"][0]["message"].endswith(
        "time: cannot read 'yesterday-ish' as a UTC time (expected ISO 8601)"
    )
    assert got["stored"] == 3
    # the same posts again (a re-delivery) plus one with a changed text, as a JSON array
    again = [json.loads(post_line("p1")), json.loads(post_line("p2", text="edited")), {"id": "p5"}]
    r = httpx.post(f"{ingest_url}/api/posts", json=again, headers=auth)
    got = r.json()
    assert (got["new"], got["duplicate"], got["conflict"], got["bad"]) == (0, 1, 1, 1)
    assert got["errors"][0]["record"] == 2 and got["errors"][0]["field"] == "time"
    assert got["stored"] == 3
    listed = httpx.get(f"{ingest_url}/api/posts", headers=auth).json()
    assert sorted(p["id"] for p in listed["posts"]) == ["p1", "p2", "p4"]
    assert (
        next(p for p in listed["posts"] if p["id"] == "p2")["text"] == "engine anomaly on the pad"
    )
    empty = httpx.post(f"{ingest_url}/api/posts", content=b"  \n", headers=auth)
    assert empty.status_code == 422


def test_posts_contract_edges(ingest_url: str) -> None:
    """Found by schemathesis: an empty window bound was a 500 (NaT), OPTIONS named only GET in
    Allow, and an application/json object (not an array) was taken as one JSON Lines record."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/api/posts/bursts", "/api/posts/search?q=x"):
        r = httpx.get(f"{ingest_url}{path}", params={"until": ""}, headers=auth)
        assert r.status_code == 422, (path, r.text)
    r = httpx.request("OPTIONS", f"{ingest_url}/api/posts", headers=auth)
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    r = httpx.post(f"{ingest_url}/api/posts", json=json.loads(post_line("o1")), headers=auth)
    assert r.status_code == 422 and "array" in r.json()["message"]
