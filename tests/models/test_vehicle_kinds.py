"""The four vehicle model kinds: the PETS baseline's pose integrator, building, position RMSE."""

from __future__ import annotations

import math

import pytest
import torch

from starbrain.models.vehicle_kinds import RigidBodyPrior, build_vehicle_model, position_rmse
from starbrain.sources.driving.simulator import DRIVERS, FLEET, simulate_log


def test_rigid_body_prior_drives_a_circle() -> None:
    # constant 10 m/s, 0.2 rad/s, 4 m/s sideways: a circle of radius |v| / r = 53.85 m; the
    # midpoint heading makes each 50 ms chord's error O(dt^3)
    x = torch.tensor([[0.0, 0.0, 0.3, 10.0, 4.0, 0.2]], dtype=torch.float64)
    p = RigidBodyPrior()
    for _ in range(200):  # 10 s: 2 rad of arc
        x = p.step(x, torch.zeros(1, 2), p.theta_default(), 0.05)
    v, r, yaw0 = math.hypot(10, 4), 0.2, 0.3
    beta = math.atan2(4, 10)
    cx = -v / r * math.sin(yaw0 + beta)  # centre of the circle, left of the velocity
    cy = v / r * math.cos(yaw0 + beta)
    assert math.hypot(float(x[0, 0]) - cx, float(x[0, 1]) - cy) == pytest.approx(v / r, abs=1e-3)
    assert float(x[0, 2]) == pytest.approx(yaw0 + 2.0, abs=1e-12)
    assert x[0, 3:].tolist() == [10.0, 4.0, 0.2]


def test_single_track_beats_kinematic_on_a_weaving_driver() -> None:
    logs = simulate_log(FLEET[1], 1.0, DRIVERS[2], duration_s=4.0)
    kin, info = build_vehicle_model("kinematic", logs, params=None)
    st, _ = build_vehicle_model("single-track", logs, params=info["params"])
    assert info["vehicle_id"] == "bmw-320i" and info["n_transitions"] == 80
    rows = position_rmse({"kinematic": kin, "single-track": st}, logs, horizons_s=(1.0,))
    got = {(r["model"], r["stratum"]): r["position_rmse_m"] for r in rows}
    assert set(got) == {(m, s) for m in ("kinematic", "single-track") for s in ("all", "mu1.0")}
    assert got[("single-track", "all")] < got[("kinematic", "all")]
    with pytest.raises(Exception, match="unknown vehicle model kind"):
        build_vehicle_model("magic", logs)
