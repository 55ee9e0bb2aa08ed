"""Push a puck to a goal on the table with the sampling MPC (``planners.mpc``) over an arm world
model plus a known contact prior for the puck.

**Push.** The puck (``starbrain.sources.robots.Puck``, 3 cm radius, 0.2 kg) starts at
``puck_xy`` and must be pushed by the flange's pusher sphere (2 cm) to ``goal_xy`` (m, base
frame). An episode of ``n_steps`` control periods (default 150 = 3 s) succeeds when, at its end,
the puck's centre is within ``tol_m`` (default 2 cm) of the goal.

**What predicts what.** The arm comes from the world model being judged (nominal, PETS or
physics+residual: ``rollout`` of the joint state under the torques); the puck from the known
quasi-static contact prior ``physics.arms.push_puck`` applied along the predicted flange path (it
is not learned). The planner's state is ``(q1, q2, qd1, qd2, puck_x, puck_y)``, the puck's
position observed from the simulator each step (a camera on a real cell).

Cost per planned step: the squared puck-to-goal distance (m^2, the last step ``terminal_weight``
times) plus ``w_approach`` times the squared flange distance to the point behind the puck (on the
far side from the goal, at contact distance), plus small rate and torque terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from starbrain.physics.arms.puck import push_puck
from starbrain.physics.arms.scara import ee_position, inverse_kinematics
from starbrain.planners.arm_tasks import (
    EpisodeResult,
    RolloutModel,
    closed_loop,
    flange_speed,
    reach_mpc_config,
)
from starbrain.planners.mpc import MPPI, MPCConfig
from starbrain.sources.robots.arm import NOMINAL_ARM, ArmParams, Puck

__all__ = ["PushModel", "PushTask", "push_cost", "run_push_episode", "sample_push_tasks"]


@dataclass(frozen=True)
class PushTask:
    """Push the puck from ``puck_xy`` to ``goal_xy`` (m) from the arm state ``x0``; success:
    the puck's centre within ``tol_m`` of the goal after ``n_steps`` periods."""

    puck_xy: tuple[float, float]
    goal_xy: tuple[float, float]
    x0: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    n_steps: int = 150
    tol_m: float = 0.02


def sample_push_tasks(n: int, seed: int = 0, params: ArmParams = NOMINAL_ARM) -> list[PushTask]:
    """``n`` push tasks: the puck 0.35-0.50 m from the base, the goal 0.08-0.15 m from it in a
    direction that keeps it 0.30-0.55 m from the base; the arm at rest with its flange on the
    puck's far side from the goal, 0.06-0.10 m behind the puck's centre (the approach is the
    reach task's; this one judges the push)."""
    rng = np.random.default_rng(seed)
    out: list[PushTask] = []
    while len(out) < n:
        r, a = rng.uniform(0.35, 0.50), rng.uniform(-np.pi, np.pi)
        puck = np.array([r * np.cos(a), r * np.sin(a)])
        d = rng.uniform(-np.pi, np.pi)
        step = rng.uniform(0.08, 0.15) * np.array([np.cos(d), np.sin(d)])
        start = puck - step / np.linalg.norm(step) * rng.uniform(0.06, 0.10)
        if not (0.30 <= np.hypot(*(puck + step)) <= 0.55 and np.hypot(*start) < 0.65):
            continue
        q = inverse_kinematics((float(start[0]), float(start[1])), params)
        out.append(PushTask((float(puck[0]), float(puck[1])),
                            (float(puck[0] + step[0]), float(puck[1] + step[1])),
                            (q[0], q[1], 0.0, 0.0)))  # fmt: skip
    return out


class PushModel:
    """Arm world model + quasi-static puck: ``rollout(x0 (B, 6), U (B, H, 2))`` -> ``X, var``
    ``(B, H, 6)``; the puck's variance is zero (a known prior)."""

    def __init__(self, arm_model: RolloutModel, contact_m: float, params: ArmParams) -> None:
        self.arm, self.contact_m, self.params = arm_model, float(contact_m), params

    @torch.no_grad()
    def rollout(self, x0: Tensor, U: Tensor) -> tuple[Tensor, Tensor]:
        X, var = self.arm.rollout(x0[:, :4], U)
        ee = ee_position(X[..., :2], self.params)  # (B, H, 2)
        p, ps = x0[:, 4:6], []
        for k in range(U.shape[1]):
            p = push_puck(p, ee[:, k], self.contact_m)
            ps.append(p)
        P = torch.stack(ps, 1).to(X.dtype)
        return torch.cat([X, P], -1), torch.cat([var, torch.zeros_like(P)], -1)


def push_cost(
    goal_xy: Tensor,
    contact_m: float,
    params: ArmParams = NOMINAL_ARM,
    w_approach: float = 0.3,
    w_rate: float = 5e-3,
    w_torque: float = 1e-4,
    terminal_weight: float = 10.0,
) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """The MPC cost of pushing to ``goal_xy`` ``(agents, 2)``: ``(agents, samples)`` from
    ``X``/``var`` ``(agents, samples, horizon, 6)`` and ``U`` ``(..., horizon, 2)``."""

    def cost(X: Tensor, U: Tensor, var: Tensor) -> Tensor:
        g = goal_xy.to(X.dtype)[:, None, None, :]
        puck = X[..., 4:6]
        to_goal = g - puck
        dirn = to_goal / torch.linalg.vector_norm(to_goal, dim=-1, keepdim=True).clamp_min(1e-3)
        behind = puck - contact_m * dirn
        ee = ee_position(X[..., :2], params)
        w = torch.ones(X.shape[-2], dtype=X.dtype, device=X.device)
        w[-1] = terminal_weight
        c = ((to_goal**2).sum(-1) * w).sum(-1)
        c = c + w_approach * ((ee - behind) ** 2).sum(-1).sum(-1)
        return c + w_rate * (X[..., 2:4] ** 2).sum((-1, -2)) + w_torque * (U**2).sum((-1, -2))

    return cost


def run_push_episode(
    plant: Any,
    model: RolloutModel,
    task: PushTask,
    config: MPCConfig | None = None,
    params: ArmParams = NOMINAL_ARM,
    puck: Puck | None = None,
) -> EpisodeResult:
    """Drive ``plant`` (a ``MujocoArm`` with a puck: ``reset(x0, puck_xy)``, ``puck_xy()``) with
    MPPI over ``model`` + the puck prior and judge the push. ``final_dist_m`` is the puck's
    distance to the goal; ``extra["puck_xy"]`` its path ``(n + 1, 2)``."""
    pk = puck or plant.puck or Puck()
    cfg = config or reach_mpc_config(params)
    goal = torch.tensor([task.goal_xy], dtype=cfg.dtype)
    pm = PushModel(model, pk.contact_m, params)
    mpc = MPPI(pm, push_cost(goal, pk.contact_m, params), 2, cfg)
    x = plant.reset(np.asarray(task.x0, np.float64), task.puck_xy)
    path: list[np.ndarray] = []

    def observe(s: np.ndarray) -> np.ndarray:  # called once per step, before planning
        path.append(plant.puck_xy())
        return np.concatenate([s, path[-1]])

    xs, us, meas, preds, ms = closed_loop(plant, mpc, pm, x, task.n_steps, observe)
    path.append(plant.puck_xy())
    X, P = np.array(xs), np.array(path)
    dist = float(np.hypot(*(P[-1] - np.asarray(task.goal_xy))))
    res = EpisodeResult(dist <= task.tol_m, dist, flange_speed(X[-1], params),
                        float(np.median(ms)), X, np.array(us), np.array(meas),
                        np.array(preds)[:, :4], np.array(ms))  # fmt: skip
    res.extra["puck_xy"] = P
    return res
