"""The fleet simulator (CommonRoad multi-body model as the real car) writes vehicle-stream logs."""

from __future__ import annotations

import numpy as np
import pytest

from starbrain.sources.driving import VEHICLE_SCHEMA
from starbrain.sources.driving.simulator import DRIVERS, FLEET, simulate_log
from starbrain.store import Store

G = 9.81


@pytest.fixture(scope="module")
def logs():
    bmw, sporty = FLEET[1], DRIVERS[1]
    return {mu: simulate_log(bmw, mu, sporty, duration_s=6.0) for mu in (1.0, 0.3)}


def test_schema_rate_and_truth_columns(logs) -> None:
    t = logs[1.0]
    assert t.schema.equals(VEHICLE_SCHEMA, check_metadata=False)
    assert t.num_rows == 121
    dt = np.diff(t["time"].to_numpy().astype(np.int64))
    assert (dt == 50_000_000).all()
    assert t["log_id"][0].as_py() == "bmw-320i-mu1.0-sporty-s0"
    road = t["road_wheel_angle_rad"].to_numpy()
    moving = np.abs(road) > 1e-4
    ratio = t["steering_wheel_angle_rad"].to_numpy()[moving] / road[moving]
    assert np.median(ratio) == pytest.approx(FLEET[1].steering_ratio)
    # the wheels roll at the car's speed (within the tyre slip)
    v = t["speed_mps"].to_numpy()
    wheels = np.stack([t[f"wheel_speed_{w}_mps"].to_numpy() for w in ("fl", "fr", "rl", "rr")])
    assert np.median(np.abs(wheels.mean(0) - v) / v) < 0.02
    # the track integrates the speed: path length against the integral of the speed
    x, y = t["x_m"].to_numpy(), t["y_m"].to_numpy()
    path = np.hypot(np.diff(x), np.diff(y)).sum()
    hv = np.hypot(v, t["lateral_velocity_mps"].to_numpy())
    assert path == pytest.approx(np.trapezoid(hv, dx=0.05), rel=0.01)


def test_tyres_saturate_on_a_slippery_road(logs) -> None:
    ay_dry = np.abs(logs[1.0]["accel_y_mps2"].to_numpy()).max()
    ay_ice = np.abs(logs[0.3]["accel_y_mps2"].to_numpy()).max()
    assert ay_dry > 0.6 * G  # the same driver corners hard on a dry road (measured 7.4 m/s^2)
    assert ay_ice < 0.3 * G * 1.15  # and is held near mu g on a mu = 0.3 road
    # where the tyres saturate the car slides: lateral velocity far beyond the dry-road one
    assert (
        np.abs(logs[0.3]["lateral_velocity_mps"].to_numpy()).max()
        > 3 * np.abs(logs[1.0]["lateral_velocity_mps"].to_numpy()).max()
    )


def test_logs_go_into_the_vehicle_stream(logs, tmp_path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        for t in logs.values():
            store.append("vehicle", t, source="sim")
        back = store.read("vehicle", where="friction = ?", params=[0.3])
    assert back.num_rows == logs[0.3].num_rows
    assert back["driver"].to_pylist() == ["sporty"] * back.num_rows
