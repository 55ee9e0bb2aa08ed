"""Arm tasks driven by the sampling MPC (``planners.mpc``) over any world model: reach a flange
position, with its cost, its success criterion and a closed-loop episode runner.

**Reach.** Move the tool flange to ``goal_xy`` (m, base frame) from a rest pose and hold it. An
episode of ``n_steps`` control periods succeeds when, at its end, the flange is within
``tol_m`` of the goal (default 1 cm) and moving slower than ``speed_tol_mps`` (default 0.05 m/s).
The cost per planned step is the squared flange distance (m^2) plus small rate and torque terms
and ``risk`` times the model's predicted position variance, with the final step weighted
``terminal_weight`` times.

The plant is anything with ``reset(state) -> state`` and ``step(torque) -> (state, measured)``
(``starbrain.sources.robots.MujocoArm``), so a live arm can stand in for the simulator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from starbrain.physics.arms.scara import ee_position, inverse_kinematics
from starbrain.planners.mpc import MPPI, MPCConfig, RolloutModel
from starbrain.sources.robots.arm import NOMINAL_ARM, ArmParams

__all__ = ["ArmPlant", "EpisodeResult", "ReachTask", "closed_loop", "flange_speed", "reach_cost",
           "reach_mpc_config", "run_reach_episode", "sample_reach_tasks"]  # fmt: skip


class ArmPlant(Protocol):
    def reset(self, state: Any = None) -> np.ndarray: ...

    def step(self, torque_cmd_nm: Any) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class ReachTask:
    """Reach ``goal_xy`` (m) from the joint state ``x0`` ``(q1, q2, qd1, qd2)``."""

    goal_xy: tuple[float, float]
    x0: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    n_steps: int = 75
    tol_m: float = 0.01
    speed_tol_mps: float = 0.05


def sample_reach_tasks(n: int, seed: int = 0, params: ArmParams = NOMINAL_ARM) -> list[ReachTask]:
    """``n`` reach tasks: goals uniform in angle and radius 0.25-0.60 m from the base (inside
    the 0.70 m reach), starts at rest in random poses at least 0.2 m from the goal."""
    rng = np.random.default_rng(seed)
    out: list[ReachTask] = []
    while len(out) < n:
        r, a = rng.uniform(0.25, 0.60), rng.uniform(-np.pi, np.pi)
        goal = (float(r * np.cos(a)), float(r * np.sin(a)))
        q = rng.uniform(-2.5, 2.5, 2)
        start = ee_position(torch.tensor(q, dtype=torch.float64), params).numpy()
        if np.hypot(*(start - goal)) < 0.2:
            continue
        out.append(ReachTask(goal, (float(q[0]), float(q[1]), 0.0, 0.0)))
    return out


def reach_cost(
    goal_xy: Tensor,
    params: ArmParams = NOMINAL_ARM,
    w_rate: float = 1e-3,
    w_torque: float = 1e-4,
    terminal_weight: float = 10.0,
    risk: float = 0.0,
) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """The MPC cost of reaching ``goal_xy`` ``(agents, 2)`` m: ``(agents, samples)`` from
    ``X``/``var`` ``(agents, samples, horizon, 4)`` and ``U`` ``(agents, samples, horizon, 2)``."""

    def cost(X: Tensor, U: Tensor, var: Tensor) -> Tensor:
        g = goal_xy.to(X.dtype)[:, None, None, :]
        d2 = ((ee_position(X[..., :2], params) - g) ** 2).sum(-1)  # (a, s, h)
        w = torch.ones(d2.shape[-1], dtype=X.dtype, device=X.device)
        w[-1] = terminal_weight
        c = (d2 * w).sum(-1) + w_rate * (X[..., 2:] ** 2).sum((-1, -2))
        c = c + w_torque * (U**2).sum((-1, -2))
        if risk:
            # flange variance from the joint-angle variance (lever arm ~ the reach)
            c = c + risk * params.reach_m**2 * var[..., :2].sum((-1, -2))
        return c

    return cost


def reach_mpc_config(params: ArmParams = NOMINAL_ARM, **overrides: Any) -> MPCConfig:
    """MPPI settings for reaching: a 0.4 s horizon, 256 samples, noise 20 % of the torque
    limits, temperature 0.005 (cost units: m^2), hard torque limits, and no extra rollout of
    the chosen plan (``plan_states=False``: the episode takes its one-step prediction from a
    one-step rollout of the applied torque instead)."""
    lim = list(params.torque_limit_nm)
    base: dict[str, Any] = dict(
        horizon=20, n_samples=256, n_iters=1, noise_std=[0.2 * v for v in lim],
        u_min=[-v for v in lim], u_max=lim, temperature=0.005, seed=0, plan_states=False,
    )  # fmt: skip
    base.update(overrides)
    return MPCConfig(**base)


@dataclass
class EpisodeResult:
    """One closed-loop episode: ``success`` (the task's criterion), ``final_dist_m``,
    ``final_speed_mps``, median MPC ``ms_per_step`` (every step's in ``step_ms``), and the
    trajectory ``x`` ``(n+1, 4)``,
    ``u`` ``(n, 2)``, ``measured`` ``(n, 2)`` torques, ``pred`` ``(n, 4)`` the model's one-step
    predictions (for the model-error trace)."""

    success: bool
    final_dist_m: float
    final_speed_mps: float
    ms_per_step: float
    x: np.ndarray
    u: np.ndarray
    measured: np.ndarray
    pred: np.ndarray
    step_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def one_step_error(self) -> np.ndarray:
        """``(n, 4)`` model one-step error (predicted minus measured next state)."""
        return self.pred - self.x[1:]


def _plan(mpc: MPPI, model: RolloutModel, xt: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """One MPC step from ``xt`` ``(1, state)``: the torque to apply and the model's one-step
    prediction of the state after it (the plan's first state, or a one-step rollout of the
    applied torque when the planner skipped rolling the plan out)."""
    st = mpc.step(xt)
    if mpc.config.plan_states:
        pred = st.X[0, 0]
    else:
        with torch.no_grad():
            pred = model.rollout(xt, st.u[:, None])[0][0, 0]
    return st.u[0].to(torch.float64).numpy(), pred.to(torch.float64).numpy()


def closed_loop(
    plant: ArmPlant,
    mpc: MPPI,
    model: RolloutModel,
    x: np.ndarray,
    n_steps: int,
    observe: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray], list[float]]:
    """``n_steps`` MPC steps on ``plant`` from its arm state ``x``; ``observe(x)`` is the
    planner's state (default ``x``). Returns the lists of arm states (``n + 1``), torques,
    measured torques, one-step predictions of the planner's state and MPC ms per step."""
    obs = observe or (lambda s: s)
    xs, us, meas, preds, ms = [x], [], [], [], []
    for _ in range(n_steps):
        xt = torch.as_tensor(obs(x), dtype=mpc.config.dtype)[None]
        t0 = time.perf_counter()
        u, pred = _plan(mpc, model, xt)
        ms.append(1e3 * (time.perf_counter() - t0))
        preds.append(pred)
        x, tau = plant.step(u)
        xs.append(x)
        us.append(u)
        meas.append(tau)
    return xs, us, meas, preds, ms


def flange_speed(x: np.ndarray, params: ArmParams = NOMINAL_ARM) -> float:
    """Flange speed (m/s) at the arm state ``x`` ``(4,)``."""
    q = torch.tensor(x[:2], dtype=torch.float64, requires_grad=True)
    p = ee_position(q, params)
    jac = torch.stack([torch.autograd.grad(p[i], q, retain_graph=True)[0] for i in range(2)])
    return float(torch.linalg.norm(jac @ torch.tensor(x[2:], dtype=torch.float64)))


def run_reach_episode(
    plant: ArmPlant,
    model: RolloutModel,
    task: ReachTask,
    config: MPCConfig | None = None,
    params: ArmParams = NOMINAL_ARM,
    risk: float = 0.0,
) -> EpisodeResult:
    """Drive ``plant`` with MPPI over ``model`` for ``task.n_steps`` steps and judge the reach."""
    cfg = config or reach_mpc_config(params)
    goal = torch.tensor([task.goal_xy], dtype=cfg.dtype)
    mpc = MPPI(model, reach_cost(goal, params, risk=risk), 2, cfg)
    x = plant.reset(np.asarray(task.x0, np.float64))
    xs, us, meas, preds, ms = closed_loop(plant, mpc, model, x, task.n_steps)
    X = np.array(xs)
    ee = ee_position(torch.tensor(X[-1, :2]), params).numpy()
    dist = float(np.hypot(*(ee - np.asarray(task.goal_xy))))
    speed = flange_speed(X[-1], params)
    ok = dist <= task.tol_m and speed <= task.speed_tol_mps
    return EpisodeResult(ok, dist, speed, float(np.median(ms)), X, np.array(us),
                         np.array(meas), np.array(preds), np.array(ms))  # fmt: skip


def reach_goal_pose(task: ReachTask, params: ArmParams = NOMINAL_ARM) -> tuple[float, float]:
    """Joint angles at the goal (elbow up), for plots and references."""
    return inverse_kinematics(task.goal_xy, params)
