"""The saturating single-track prior: the linear model for small slip, never beyond the road's
grip, rebuilt from its config."""

from __future__ import annotations

import math

import pytest
import torch

from starbrain.physics.vehicles import DynamicSingleTrack, SaturatingSingleTrack, VehicleParams
from starbrain.physics.vehicles.single_track import G

THETA = VehicleParams().theta()


def _corner(model, steer_wheel_rad: float, seconds: float = 4.0) -> torch.Tensor:
    """Constant steering at 20 m/s from straight running, 20 Hz: the states ``(steps, 6)``."""
    x0 = torch.tensor([[0.0, 0.0, 0.0, 20.0, 0.0, 0.0]], dtype=torch.float64)
    u = torch.tensor([[[steer_wheel_rad, 0.0]]], dtype=torch.float64).expand(
        1, int(seconds * 20), 2
    )
    return model.rollout(x0, u, THETA, 0.05)[0]


def test_small_slip_is_the_linear_model() -> None:
    # 0.5 deg of road-wheel angle at 20 m/s: ~1.4 m/s^2, far inside a grip of 1.0 g
    lin = _corner(DynamicSingleTrack(), math.radians(0.5) * 16)
    sat = _corner(SaturatingSingleTrack(road_friction=1.0), math.radians(0.5) * 16)
    assert float((lin[:, 5] * 20).abs().max()) == pytest.approx(1.4, abs=0.2)
    # tanh(z) = z (1 - z^2 / 3 ...): z <= 0.15 here, so the yaw rate agrees to ~1 %
    assert torch.allclose(sat[:, 5], lin[:, 5], rtol=0.01, atol=1e-4)
    assert float((sat[:, :2] - lin[:, :2]).norm(dim=-1).max()) < 0.05  # m after 4 s


def test_lateral_acceleration_stays_within_the_road_grip() -> None:
    # 3 deg of road-wheel angle at 20 m/s asks ~8 m/s^2 of a linear tyre; the road gives 0.3 g
    steer = math.radians(3.0) * 16
    lin = _corner(DynamicSingleTrack(), steer)
    sat = _corner(SaturatingSingleTrack(road_friction=0.3), steer)
    ay_lin = float((lin[-1, 3] * lin[-1, 5]).abs())
    assert ay_lin > 6.0
    v = torch.hypot(sat[:, 3], sat[:, 4])
    beta = torch.atan2(sat[:, 4], sat[:, 3])
    # lateral acceleration v (dbeta/dt + r), by finite differences of the slip angle
    ay = v[1:-1] * ((beta[2:] - beta[:-2]) / 0.1 + sat[1:-1, 5])
    assert float(ay.abs().max()) <= 0.3 * G * 1.001
    assert float(ay.abs().max()) >= 0.3 * G * 0.8  # it does reach the limit


def test_config_rebuilds_the_same_prior() -> None:
    p = SaturatingSingleTrack(road_friction=0.6, substep_s=0.025)
    q = SaturatingSingleTrack(**p.config())
    assert q.road_friction == 0.6 and q.substep_s == 0.025
    x = torch.tensor([[0.0, 0.0, 0.1, 15.0, 0.5, 0.3]], dtype=torch.float64)
    u = torch.tensor([[0.8, 0.5]], dtype=torch.float64)
    assert torch.equal(p.step(x, u, THETA, 0.05), q.step(x, u, THETA, 0.05))
