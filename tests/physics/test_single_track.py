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


def _coasting_commonroad(x0: list[float], delta: np.ndarray) -> np.ndarray:
    """CommonRoad's single-track car coasting (acceleration 0) with the road-wheel angle held
    at ``delta[k]`` over interval ``k`` (set on the state, steering rate 0)."""
    xs, x = [np.asarray(x0, float)], np.asarray(x0, float)
    for d in delta:
        x = x.copy()
        x[2] = d
        sol = solve_ivp(lambda _t, s: vehicle_dynamics_st(s, [0.0, 0.0], P), (0, DT), x,
                        rtol=1e-11, atol=1e-11)  # fmt: skip
        x = sol.y[:, -1]
        xs.append(x)
    return np.array(xs[1:])


def test_coasting_rollout_matches_commonroad_st() -> None:
    """The exact coasting path of ``DynamicSingleTrack.rollout`` (the MPC's fast path) against
    CommonRoad's vehicleDynamics_st integrated at 1e-11 tolerance: 2 s of a random steering
    walk at 15 m/s, float64 and float32."""
    rng = np.random.default_rng(3)
    delta = np.cumsum(rng.normal(0.0, 0.01, 40))  # rad at the road wheels, peaks ~0.05
    cr = _coasting_commonroad([0.0, 0.0, 0.0, 15.0, 0.3, 0.0, 0.0], delta)
    theta = VehicleParams.from_commonroad(P, RATIO).theta()
    x0 = torch.tensor([[0.0, 0.0, 0.3, 15.0, 0.0, 0.0]], dtype=torch.float64)
    U = torch.tensor(np.stack([delta * RATIO, np.zeros(40)], -1))[None]
    for dtype, pos_tol, ang_tol in ((torch.float64, 1e-4, 1e-7), (torch.float32, 1e-3, 1e-5)):
        X = DynamicSingleTrack().rollout(x0.to(dtype), U.to(dtype), theta, DT)[0].double().numpy()
        assert np.abs(X[:, :2] - cr[:, :2]).max() < pos_tol  # m, over ~30 m
        assert np.abs(X[:, 2] - cr[:, 4]).max() < ang_tol  # yaw, rad
        assert np.abs(X[:, 5] - cr[:, 5]).max() < ang_tol * 10  # yaw rate, rad/s
        assert np.abs(np.arctan2(X[:, 4], X[:, 3]) - cr[:, 6]).max() < ang_tol  # slip angle
    assert np.abs(cr[:, 5]).max() > 0.05  # the walk turns the car


def test_rollout_per_vehicle_rows_and_the_accelerating_fallback() -> None:
    """Rows of three vehicles (two speeds, two steering ratios) in equal and unequal groups
    agree with stepping the RK4 model at 1 ms sub-steps; with an acceleration the rollout is
    :meth:`step` repeated, bit for bit."""
    model, fine = DynamicSingleTrack(), DynamicSingleTrack(substep_s=0.001)
    g = torch.Generator().manual_seed(0)
    for n in (6, 7):  # 6: three equal groups of two; 7: unequal groups
        theta = VehicleParams().theta().repeat(n, 1)
        theta[1::3, 2] = 20.0
        x0 = torch.zeros(n, 6, dtype=torch.float64)
        x0[:, 3] = torch.tensor([10.0, 10.0, 22.0] * 3)[:n]
        U = torch.zeros(n, 30, 2, dtype=torch.float64)
        U[..., 0] = torch.cumsum(0.1 * torch.randn(n, 30, generator=g, dtype=torch.float64), 1)
        X = model.rollout(x0, U, theta, DT)
        ref, xs = [], x0
        for k in range(30):
            xs = fine.step(xs, U[:, k], theta, DT)
            ref.append(xs)
        err = (X - torch.stack(ref, 1)).abs().amax((0, 1))
        assert float(err[:2].max()) < 1e-4 and float(err[2:].max()) < 1e-7
    U[..., 1] = 0.5
    xs, ref = x0, []
    for k in range(30):
        xs = model.step(xs, U[:, k], theta, DT)
        ref.append(xs)
    assert torch.equal(model.rollout(x0, U, theta, DT), torch.stack(ref, 1))
