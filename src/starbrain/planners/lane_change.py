"""Closed-loop driving on the multi-body plant: path following and the ISO 3888-2 double lane
change (obstacle avoidance), with sampling MPC over any vehicle world model.

Track (ISO 3888-2:2011, Table 1; total length 61 m; ``b`` = vehicle width in m):

========  ==========  ==========================================
section   length (m)  lane width (m)
========  ==========  ==========================================
1         12          1.1 b + 0.25
2         13.5        (free)
3         11          b + 1
4         12.5        (free)
5         12          1.3 b + 0.25, at most 3
========  ==========  ==========================================

Section 3's lane is offset to the left: its right cone line lies 1 m left of section 1's left
cone line; sections 1 and 5 share their right cone line. Coordinates: ``x`` along the track from
the entry of section 1, ``y`` to the left, ``y = 0`` on section 1's right cone line.

The plant is CommonRoad's multi-body model (``vehiclemodels.vehicle_dynamics_mb``, 29 states,
Pacejka tyres), integrated with SciPy LSODA over each 50 ms control interval; the steering
command is a steering-wheel angle (the plant's road wheels follow it through the vehicle's true
steering ratio at CommonRoad's steering-rate limit) and the accelerator is released at the
entry, as the standard asks (longitudinal acceleration 0: the model has no engine drag). A
cone is struck when any point of the vehicle body outline (the ``l x w`` rectangle, sampled at
every 10 ms) is outside a section's lane while inside its length; a spin is ``|sideslip| >
spin_threshold_rad`` (default 10 deg) at the centre of mass.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.integrate import solve_ivp
from torch import Tensor

from starbrain.core.errors import StarbrainError
from starbrain.planners.mpc import CEM, MPPI, MPCConfig, RolloutModel

__all__ = [
    "DLCResult",
    "DLCTrack",
    "MultiBodyPlant",
    "run_double_lane_change",
    "search_max_speed",
    "track_cost",
]

DT_S = 0.05
SPIN_THRESHOLD_RAD = math.radians(10.0)


@dataclass(frozen=True)
class DLCTrack:
    """The ISO 3888-2 cone layout for a vehicle of ``width_m`` (see the module table)."""

    width_m: float

    @property
    def sections(self) -> tuple[tuple[float, float, float, float], ...]:
        """The three coned lanes ``(x_start, x_end, y_right, y_left)`` in m."""
        b = self.width_m
        w1, w3, w5 = 1.1 * b + 0.25, b + 1.0, min(1.3 * b + 0.25, 3.0)
        y3 = w1 + 1.0  # section 3's right cone line: 1 m left of section 1's left one
        return ((0.0, 12.0, 0.0, w1), (25.5, 36.5, y3, y3 + w3), (49.0, 61.0, 0.0, w5))

    def centre_y(self, x: Tensor) -> Tensor:
        """The reference path: each lane's centre, joined across sections 2 and 4 by a
        half-cosine; ``x`` any shape, m."""
        (_, a1, r1, l1), (b0, b1, r3, l3), (c0, _e, r5, l5) = self.sections
        c1, c3, c5 = (r1 + l1) / 2, (r3 + l3) / 2, (r5 + l5) / 2
        s2 = ((x - a1) / (b0 - a1)).clamp(0, 1)
        s4 = ((x - b1) / (c0 - b1)).clamp(0, 1)
        up = c1 + (c3 - c1) * 0.5 * (1 - torch.cos(math.pi * s2))
        down = c3 + (c5 - c3) * 0.5 * (1 - torch.cos(math.pi * s4))
        return torch.where(x < b1, up, down)


def body_outline(
    x: np.ndarray,
    y: np.ndarray,
    yaw: np.ndarray,
    length_m: float,
    width_m: float,
    n_per_side: int = 9,
) -> tuple[np.ndarray, np.ndarray]:
    """Points on the body rectangle's outline around centre ``(x, y)`` heading ``yaw`` (each
    ``(T,)``): ``px, py`` ``(T, 4 * n_per_side)``."""
    s = np.linspace(-0.5, 0.5, n_per_side, endpoint=False)
    lx = np.concatenate(
        [
            s * length_m,
            np.full_like(s, 0.5 * length_m),
            -s * length_m,
            np.full_like(s, -0.5 * length_m),
        ]
    )
    ly = np.concatenate(
        [np.full_like(s, -0.5 * width_m), s * width_m, np.full_like(s, 0.5 * width_m), -s * width_m]
    )
    c, sn = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    return x[:, None] + c * lx - sn * ly, y[:, None] + sn * lx + c * ly


def cones_struck(track: DLCTrack, px: np.ndarray, py: np.ndarray) -> list[str]:
    """Which cone lines the body points ``px, py`` ``(T, P)`` cross: ``["s1-left", ...]``."""
    hit = []
    for i, (x0, x1, yr, yl) in zip((1, 3, 5), track.sections, strict=True):
        inside = (px >= x0) & (px <= x1)
        if (inside & (py < yr)).any():
            hit.append(f"s{i}-right")
        if (inside & (py > yl)).any():
            hit.append(f"s{i}-left")
    return hit


class MultiBodyPlant:
    """CommonRoad's multi-body car as the real vehicle (``params``: a CommonRoad parameter
    set, friction already applied; ``steering_ratio``: the true one)."""

    def __init__(self, params: Any, steering_ratio: float, speed_mps: float, y0_m: float) -> None:
        from vehiclemodels.init_mb import init_mb

        self.p, self.ratio = params, steering_ratio
        self.x = np.asarray(init_mb([0.0, y0_m, 0.0, speed_mps, 0.0, 0.0, 0.0], params), float)

    def observe(self) -> np.ndarray:
        """The single-track state ``(x, y, yaw, vx, vy, yaw_rate)`` of the body."""
        s = self.x
        return np.array([s[0], s[1], s[4], s[3], s[10], s[5]])

    def step(self, steering_wheel_rad: float, accel_mps2: float) -> tuple[np.ndarray, bool]:
        """Hold the command for ``DT_S``; returns the body states at every 10 ms ``(6, 6)``
        (rows x, y, yaw, vx, vy, r; first column the start) and whether integration held."""
        from vehiclemodels.vehicle_dynamics_mb import vehicle_dynamics_mb

        lim = float(self.p.steering.v_max)
        target = float(
            np.clip(steering_wheel_rad / self.ratio, self.p.steering.min, self.p.steering.max)
        )
        rate = float(np.clip((target - self.x[2]) / DT_S, -lim, lim))
        u = [rate, accel_mps2]
        with np.errstate(all="ignore"):
            sol = solve_ivp(
                lambda _t, s: vehicle_dynamics_mb(s, u, self.p),
                (0.0, DT_S),
                self.x,
                method="LSODA",
                rtol=1e-6,
                atol=1e-8,
                t_eval=np.linspace(0, DT_S, 6),
            )
        ok = bool(sol.success and np.isfinite(sol.y).all())
        if ok:
            self.x = sol.y[:, -1]
        y = sol.y if ok else np.repeat(self.x[:, None], 6, 1)
        return y[[0, 1, 4, 3, 10, 5]], ok


def track_cost(
    track: DLCTrack,
    length_m: float,
    width_m: float,
    w_path: float = 0.2,
    w_cone: float = 2000.0,
    margin_m: float = 0.1,
    w_slip: float = 200.0,
    w_steer_rate: float = 0.5,
    w_var: float = 0.0,
) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """The MPC cost over predicted states ``X`` ``(agents, samples, horizon, 6)``: squared
    distance to the reference path, squared body overhang past a cone line less ``margin_m``
    (half-width plus the heading's share of the length), sideslip past 6 deg, steering-wheel
    rate (rad/step) and, with ``w_var``, the predicted lateral-position variance."""
    secs = track.sections
    slip_soft = math.radians(6.0)

    def cost(X: Tensor, U: Tensor, var: Tensor) -> Tensor:
        px, py, yaw, vx, vy = X[..., 0], X[..., 1], X[..., 2], X[..., 3], X[..., 4]
        c = w_path * (py - track.centre_y(px)) ** 2
        half = 0.5 * width_m * torch.cos(yaw).abs() + 0.5 * length_m * torch.sin(yaw).abs()
        for x0, x1, yr, yl in secs:
            near = ((px + 0.5 * length_m >= x0) & (px - 0.5 * length_m <= x1)).to(X.dtype)
            over = torch.relu(py + half + margin_m - yl) + torch.relu(yr - (py - half - margin_m))
            c = c + w_cone * near * over**2
        slip = torch.atan2(vy, vx.clamp_min(0.5)).abs()
        c = c + w_slip * torch.relu(slip - slip_soft) ** 2
        total = c.sum(-1) + w_steer_rate * (U[..., 1:, 0] - U[..., :-1, 0]).pow(2).sum(-1)
        if w_var:
            total = total + w_var * var[..., 1].sum(-1)
        return total

    return cost


@dataclass
class DLCResult:
    """One run: entry ``speed_mps``, ``passed`` (no cone, no spin, reached the exit),
    ``cones`` struck, ``max_sideslip_rad``, ``spun``, the trajectory ``(T, 6)`` of body states
    at 10 ms, and the MPC's per-step compute times (s): wall clock and this process's CPU time
    (the CPU figure is the one that holds on a machine shared with other work)."""

    speed_mps: float
    passed: bool
    cones: list[str]
    max_sideslip_rad: float
    spun: bool
    trajectory: np.ndarray
    step_seconds: list[float] = field(default_factory=list)
    step_cpu_seconds: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        st = np.asarray(self.step_seconds or [float("nan")])
        cpu = np.asarray(self.step_cpu_seconds or [float("nan")])
        return {
            "speed_mps": self.speed_mps,
            "passed": self.passed,
            "cones": self.cones,
            "max_sideslip_deg": math.degrees(self.max_sideslip_rad),
            "spun": self.spun,
            "mpc_median_ms": float(np.median(st) * 1e3),
            "mpc_p99_ms": float(np.quantile(st, 0.99) * 1e3),
            "mpc_cpu_median_ms": float(np.median(cpu) * 1e3),
        }


def default_mpc_config(
    steering_ratio: float,
    v_max_radps: float = 0.4,
    max_road_wheel_rad: float = 0.5,
    n_samples: int = 256,
    horizon: int = 40,
    seed: int = 0,
    cem: bool = True,
) -> MPCConfig:
    """Steering-only sampling MPC at 20 Hz: ``horizon`` steps, inputs ``(steering-wheel angle,
    accel)`` with the accelerator held at 0, the steering-rate limit as a hard rate limit; CEM
    with 3 iterations of ``n_samples // 2`` or MPPI with one of ``n_samples``."""
    sw = max_road_wheel_rad * steering_ratio
    return MPCConfig(
        horizon=horizon,
        n_samples=n_samples // 2 if cem else n_samples,
        n_iters=3 if cem else 1,
        n_elites=16,
        noise_std=(0.35 * steering_ratio * 0.05, 1e-6),
        u_min=(-sw, 0.0),
        u_max=(sw, 0.0),
        du_max=(v_max_radps * DT_S * steering_ratio, 0.0),
        temperature=5.0,
        seed=seed,
        plan_states=False,  # the drive uses the plan's first input only
    )


def run_double_lane_change(
    model: RolloutModel,
    params: Any,
    true_steering_ratio: float,
    speed_mps: float,
    model_steering_ratio: float | None = None,
    mpc_config: MPCConfig | None = None,
    run_up_m: float = 15.0,
    spin_threshold_rad: float = SPIN_THRESHOLD_RAD,
    track: DLCTrack | None = None,
    cem: bool = True,
) -> DLCResult:
    """Drive the double lane change once at ``speed_mps`` (entry speed, m/s) on the plant
    ``params`` with MPPI over ``model``. Starts ``run_up_m`` before section 1 on its centre line
    and stops past the exit (section 5's end plus a car length), at a spin, or after 12 s.
    ``cem``: CEM (default, 3 iterations) or MPPI."""
    track = track or DLCTrack(float(params.w))
    ratio = model_steering_ratio or true_steering_ratio
    cfg = mpc_config or default_mpc_config(
        ratio, float(params.steering.v_max), min(float(params.steering.max), 0.5), cem=cem
    )
    length, width = float(params.l), float(params.w)
    mpc = (CEM if cem else MPPI)(model, track_cost(track, length, width), 2, cfg)
    y0 = 0.5 * track.sections[0][3]
    plant = MultiBodyPlant(params, true_steering_ratio, speed_mps, y0)
    plant.x[0] = -run_up_m
    u_prev = torch.zeros(2, dtype=cfg.dtype)
    traj, times, cpu, spun = [plant.observe()[:, None]], [], [], False
    end_x = track.sections[2][1] + length
    for _ in range(int(12.0 / DT_S)):
        t0, c0 = time.perf_counter(), time.process_time()
        step = mpc.step(torch.as_tensor(plant.observe(), dtype=cfg.dtype), u_prev)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        u_prev = step.u
        states, ok = plant.step(float(step.u[0]), 0.0)
        traj.append(states[:, 1:])
        slip = np.abs(np.arctan2(states[4], np.maximum(states[3], 0.1)))
        if not ok or slip.max() > spin_threshold_rad:
            spun = True
            break
        if states[0, -1] > end_x or states[3, -1] < 1.0:
            break
    tr = np.concatenate(traj, 1).T
    px, py = body_outline(tr[:, 0], tr[:, 1], tr[:, 2], length, width)
    cones = cones_struck(track, px, py)
    slip_max = float(np.abs(np.arctan2(tr[:, 4], np.maximum(tr[:, 3], 0.1))).max())
    reached = bool(tr[-1, 0] > track.sections[2][1])
    return DLCResult(
        speed_mps, not cones and not spun and reached, cones, slip_max, spun, tr, times, cpu
    )


def search_max_speed(
    run: Callable[[float], DLCResult],
    lo_mps: float = 8.0,
    hi_mps: float = 30.0,
    step_mps: float = 1.0,
    progress: Callable[[DLCResult], None] | None = None,
) -> tuple[float | None, list[DLCResult]]:
    """The highest entry speed on the grid ``lo, lo + step, ..., hi`` that passes, searched
    upward until the first two consecutive failures above a pass (or ``hi``): returns the speed
    (None when ``lo`` fails) and every run. Upward, not bisection: passing is not monotone in
    speed for a sampling controller, so the reported speed is one that was actually driven."""
    if step_mps <= 0 or hi_mps < lo_mps:
        raise StarbrainError("the speed search needs step > 0 and hi >= lo")
    best, runs, fails = None, [], 0
    v = lo_mps
    while v <= hi_mps + 1e-9:
        r = run(v)
        runs.append(r)
        if progress is not None:
            progress(r)
        if r.passed:
            best, fails = v, 0
        else:
            fails += 1
            if best is None or fails >= 2:
                break
        v += step_mps
    return best, runs
