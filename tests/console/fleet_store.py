"""A store of the other fleets for the console's tests, filled by the demo's own writers
(``loop.demo_fleets``: a 4 s car log, a 4 s arm episode, 64 GPUs for 60 s, 3 simulated hours of
posts), plus a registered kinematic vehicle model and one stored lane change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from starbrain.store.database import Store

START = np.datetime64("2026-11-25T06:00:00", "ns")
VEHICLE = "bmw-320i"  # demo_fleets drives FLEET[1]
MODEL = f"vehicle-{VEHICLE}-kinematic"


def lane_change_path(width_m: float) -> tuple[np.ndarray, np.ndarray]:
    """A path along the double lane change's reference centre line (m, track frame)."""
    from starbrain.planners.lane_change import DLCTrack

    x = np.linspace(-15.0, 66.0, 163)
    y = DLCTrack(width_m).centre_y(torch.as_tensor(x)).numpy()
    return x, y


def make_fleet_store(path: Path) -> Path:
    from starbrain.loop.demo_fleets import FLEETS
    from starbrain.models.dynamics import register_world_model
    from starbrain.models.vehicle_kinds import build_vehicle_model
    from starbrain.physics.vehicles.single_track import VehicleParams
    from starbrain.sources.driving.simulator import FLEET, vehicle_parameters
    from starbrain.store import queries

    with Store(path) as store:
        for _, write in FLEETS:
            write(store, START)
        spec = next(v for v in FLEET if v.vehicle_id == VEHICLE)
        nominal = VehicleParams.from_commonroad(vehicle_parameters(spec), 16.0)
        model, info = build_vehicle_model("kinematic", store.read("vehicle"), VEHICLE, nominal)
        register_world_model(store, MODEL, model, metrics=info, created=START)
        plant = vehicle_parameters(spec, 0.6)
        x, y = lane_change_path(float(plant.w))
        summary = {"speed_mps": 11.0, "passed": True, "spun": False, "max_sideslip_deg": 2.5,
                   "cones": []}  # fmt: skip
        queries.record_lane_change(
            store, vehicle_id=VEHICLE, model=MODEL, friction=0.6, summary=summary,
            width_m=float(plant.w), length_m=float(plant.l), x_m=x, y_m=y, ran_at=START,
        )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def fleet_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fleet_store(tmp_path_factory.mktemp("console-fleets") / "fleets.duckdb")
