"""Single-track models against CommonRoad's own vehicleDynamics_ks / _st, and steady-state
cornering against the textbook understeer-gradient formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from vehiclemodels.parameters_vehicle2 import parameters_vehicle2
from vehiclemodels.vehicle_dynamics_ks import vehicle_dynamics_ks
from vehiclemodels.vehicle_dynamics_st import vehicle_dynamics_st

from starbrain.physics.vehicles import DynamicSingleTrack, KinematicSingleTrack, VehicleParams

DT, N = 0.05, 100  # 5 s at 20 Hz
P = parameters_vehicle2()  # BMW 320i
RATIO = 16.0


def _inputs() -> tuple[np.ndarray, np.ndarray]:
    """Steering-angle rate (rad/s) and acceleration (m/s^2) per interval: a slalom that speeds
    up then brakes."""
    k = np.arange(N)
    return 0.08 * np.cos(2 * np.pi * k * DT / 2.5), np.where(k < 50, 0.8, -1.2)


def _commonroad(fn, x0: list[float]) -> np.ndarray:
    sdot, acc = _inputs()
    xs = [np.asarray(x0, float)]
    for k in range(N):
        u = [float(sdot[k]), float(acc[k])]
        sol = solve_ivp(lambda _t, x, u=u: fn(x, u, P), (0, DT), xs[-1], rtol=1e-10, atol=1e-10)
        xs.append(sol.y[:, -1])
    return np.array(xs)


def _ours(model, x0: torch.Tensor, delta: np.ndarray) -> np.ndarray:
    """Roll our model with the road-wheel angle held at each interval's midpoint."""
    sdot, acc = _inputs()
    theta = VehicleParams.from_commonroad(P, RATIO).theta()
    xs, x = [x0], x0
    for k in range(N):
        mid = delta[k] + 0.5 * DT * sdot[k]
        u = torch.tensor([[mid * RATIO, acc[k]]], dtype=torch.float64)
        x = model.step(x, u, theta, DT)
        xs.append(x)
    return torch.cat(xs).numpy()


def test_kinematic_matches_commonroad_ks() -> None:
    v0 = 12.0
    cr = _commonroad(vehicle_dynamics_ks, [0.0, 0.0, 0.0, v0, 0.0])  # rear-axle reference
    x0 = torch.tensor([[P.b, 0.0, 0.0, v0, 0.0, 0.0]], dtype=torch.float64)  # centre of mass
    ours = _ours(KinematicSingleTrack(), x0, cr[:, 2])
    rear = ours[:, :2] - P.b * np.stack([np.cos(ours[:, 2]), np.sin(ours[:, 2])], 1)
    assert np.abs(rear - cr[:, :2]).max() < 0.01  # m, over 5 s and ~60 m of slalom
    assert np.abs(ours[:, 2] - cr[:, 4]).max() < 1e-3  # rad
    assert np.abs(np.hypot(ours[:, 3], ours[:, 4]) - cr[:, 3]).max() < 1e-9


def test_dynamic_matches_commonroad_st() -> None:
    v0 = 15.0
    cr = _commonroad(vehicle_dynamics_st, [0.0, 0.0, 0.0, v0, 0.0, 0.0, 0.0])
    x0 = torch.tensor([[0.0, 0.0, 0.0, v0, 0.0, 0.0]], dtype=torch.float64)
    ours = _ours(DynamicSingleTrack(), x0, cr[:, 2])
    assert np.abs(ours[:, :2] - cr[:, :2]).max() < 0.02  # m
    assert np.abs(ours[:, 2] - cr[:, 4]).max() < 1e-3  # yaw, rad
    assert np.abs(ours[:, 5] - cr[:, 5]).max() < 2e-3  # yaw rate, rad/s (peaks ~0.3)
    beta = np.arctan2(ours[:, 4], ours[:, 3])
    assert np.abs(beta - cr[:, 6]).max() < 5e-4  # slip angle, rad
    assert np.abs(cr[:, 5]).max() > 0.1  # the manoeuvre is not trivial


def test_steady_state_cornering_follows_the_understeer_gradient() -> None:
    """Gillespie, Fundamentals of Vehicle Dynamics (1992), ch. 6: delta = L/R + K a_y/g with
    K = W_f/C_af - W_r/C_ar; with CommonRoad's load-normalised stiffness (C_a = mu C_S W),
    K = 1/(mu C_Sf) - 1/(mu C_Sr)."""
    params = VehicleParams(cs_front_per_rad=14.0, cs_rear_per_rad=22.0, h_cg_m=0.0)
    k_us = 1 / (params.mu * params.cs_front_per_rad) - 1 / (params.mu * params.cs_rear_per_rad)
    wb = params.lf_m + params.lr_m
    speeds = torch.tensor([10.0, 15.0, 20.0, 25.0], dtype=torch.float64)
    delta = 0.02  # rad at the road wheels
    x = torch.zeros(4, 6, dtype=torch.float64)
    x[:, 3] = speeds
    u = torch.stack([torch.full((4,), delta * params.steering_ratio), torch.zeros(4)], -1)
    model, theta = DynamicSingleTrack(), params.theta()
    for _ in range(200):  # 10 s: the yaw transient is gone
        x = model.step(x, u.double(), theta, DT)
    v = torch.hypot(x[:, 3], x[:, 4])
    r = x[:, 5]
    radius, a_y = v / r, v * r
    predicted = wb / radius + k_us * a_y / 9.81
    assert predicted.numpy() == pytest.approx(np.full(4, delta), rel=0.01)
    # understeer: the yaw rate grows slower than speed, unlike the kinematic model
    kin = speeds * math.tan(delta) / wb
    assert (r < kin).all() and float(r[-1] / kin[-1]) < float(r[0] / kin[0])


def test_batched_parameters_per_row() -> None:
    model = DynamicSingleTrack()
    theta = VehicleParams().theta().repeat(3, 1)
    theta[1, 2] = 20.0  # another steering ratio
    x = torch.zeros(3, 6, dtype=torch.float64)
    x[:, 3] = 15.0
    u = torch.tensor([[0.3, 0.0]] * 3, dtype=torch.float64)
    out = model.step(x, u, theta, DT)
    assert torch.equal(out[0], out[2]) and out[1, 5] < out[0, 5]
    assert torch.allclose(model.step(x[:1], u[:1], theta[0], DT), out[:1])
