"""The arm under a changing payload: reach or push episodes with the MPC over the current world
model, a drift check on every episode's telemetry, and on drift an online re-fit of the physical
parameters (payload, damping, friction, gains) from the drifted episodes, registered in the
store's model registry, after which planning continues on the re-fitted model.

Detection uses ``models.dynamics.drift_check``: the episode's mean standardised one-step error
against the model's validation baseline (``factor`` times, default 3) or more than half its
inputs out of distribution. The re-fit keeps the learned residual and replaces the prior's
parameters (``WorldModel.theta``), which is cheap enough to run between two episodes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from starbrain.models.arm import arm_trajectories, estimate_arm
from starbrain.models.dynamics import WorldModel, drift_check, register_world_model
from starbrain.planners.arm_push import PushTask, run_push_episode
from starbrain.planners.arm_tasks import EpisodeResult, ReachTask, run_reach_episode
from starbrain.planners.mpc import MPCConfig
from starbrain.sources.robots.arm import NOMINAL_ARM, ArmParams, MujocoArm, Puck
from starbrain.sources.robots.simulator import episode_table

__all__ = ["AdaptationRun", "check_and_refit", "run_payload_change", "run_task_episode"]


@dataclass
class AdaptationRun:
    """Per episode: ``payload_kg`` (truth), ``success``, ``final_dist_m``, ``drift_ratio``,
    ``drifted``, ``refit`` (True where the model was re-fitted after it), ``payload_est_kg``
    (the model's payload after the episode). ``change_episode``: the first episode with the new
    payload; ``detected_episode``: the first drifted episode at or after it (None: missed)."""

    episodes: list[dict[str, Any]] = field(default_factory=list)
    change_episode: int = 0
    detected_episode: int | None = None
    registered: list[str] = field(default_factory=list)
    tables: list[pa.Table] = field(default_factory=list)  # each episode's ``arm`` rows

    @property
    def detection_delay(self) -> int | None:
        """Episodes from the change to its detection (0: the first episode with it)."""
        d = self.detected_episode
        return None if d is None else d - self.change_episode

    def success_rate(self, first: int, last: int) -> float:
        rows = [e["success"] for e in self.episodes[first:last]]
        return float(np.mean(rows)) if rows else float("nan")


def check_and_refit(
    model: WorldModel,
    table: pa.Table,
    recent: list[pa.Table],
    params: ArmParams = NOMINAL_ARM,
    factor: float = 3.0,
    max_ood: float = 1.0,
    store: Any = None,
    name: str = "arm-residual",
    episode: int = 0,
) -> tuple[bool, float]:
    """Drift-check ``model`` on the ``arm`` rows ``table`` (one or more episodes); on drift
    re-fit its physical parameters in place from the drifted tables (``recent``, the last three
    kept, ``table`` added) and register it in ``store`` (when given) as ``name``; without drift
    ``recent`` is cleared. Returns (drifted, drift ratio)."""
    rep = drift_check(model, arm_trajectories(table, dt=params.dt), factor, max_ood)
    if not rep.drifted:
        recent.clear()
        return False, rep.ratio
    recent.append(table)
    del recent[:-3]
    est = estimate_arm(pa.concat_tables(recent), params)
    model.theta.copy_(est.theta.to(model.theta))
    if store is not None:
        register_world_model(store, name, model, metrics={
            "reason": "drift", "episode": episode, "drift_ratio": rep.ratio,
            "estimate": est.as_dict()})  # fmt: skip
    return True, rep.ratio


def run_task_episode(
    arm: MujocoArm,
    model: WorldModel,
    task: ReachTask | PushTask,
    mpc: MPCConfig | None,
    params: ArmParams,
) -> tuple[EpisodeResult, dict[str, Any]]:
    """One reach or push episode; the push's start puck-to-goal distance as an extra column."""
    if isinstance(task, PushTask):
        start = float(np.hypot(*np.subtract(task.puck_xy, task.goal_xy)))
        return run_push_episode(arm, model, task, mpc, params), {"start_dist_m": start}
    return run_reach_episode(arm, model, task, mpc, params), {}


def run_payload_change(
    model: WorldModel,
    tasks: Sequence[ReachTask | PushTask],
    true_arm: ArmParams,
    new_payload_kg: float,
    change_episode: int,
    *,
    mpc: MPCConfig | None = None,
    params: ArmParams = NOMINAL_ARM,
    store: Any = None,
    name: str = "arm-residual",
    factor: float = 3.0,
    max_ood: float = 1.0,
) -> AdaptationRun:
    """Run one reach or push episode per task (push: ``final_dist_m`` is the puck's distance to
    the goal, ``start_dist_m`` its start) on the MuJoCo arm ``true_arm``, whose payload becomes
    ``new_payload_kg`` from episode ``change_episode`` on; detect, re-fit, register (when a
    ``store`` is given) and carry on. ``model`` is not modified (a copy adapts). ``max_ood``:
    the out-of-distribution fraction that counts as drift on its own (default 1: never, since
    reach motions differ from the excitation data a model is trained on; the prior covers them).
    """
    model = copy.deepcopy(model)
    run = AdaptationRun(change_episode=change_episode)
    arm = MujocoArm(true_arm, Puck() if any(isinstance(t, PushTask) for t in tasks) else None)
    recent: list[pa.Table] = []
    for k, task in enumerate(tasks):
        if k == change_episode:
            arm.set_payload(new_payload_kg)
        res, extra = run_task_episode(arm, model, task, mpc, params)
        n = len(res.x)
        pay = np.full(n, arm.params.payload_kg)
        ee = np.zeros((n, 3))
        ep = {"x": res.x, "u": res.u, "tau": res.measured, "ee": ee, "payload_kg": pay}
        kind = "push" if isinstance(task, PushTask) else "reach"
        table = episode_table(ep, "arm-1", k, params.dt, task=kind)
        drifted, ratio = check_and_refit(model, table, recent, params, factor, max_ood,
                                         store, name, k)  # fmt: skip
        row: dict[str, Any] = {
            "episode": k, "payload_kg": arm.params.payload_kg, "success": res.success,
            "final_dist_m": res.final_dist_m, "drift_ratio": ratio, "drifted": drifted,
            "refit": drifted, "ms_per_step": res.ms_per_step, **extra,
        }  # fmt: skip
        if drifted:
            if run.detected_episode is None and k >= change_episode:
                run.detected_episode = k
            if store is not None:
                run.registered.append(f"{name}@episode{k}")
        run.tables.append(table)
        row["payload_est_kg"] = float(model.theta[0])
        run.episodes.append(row)
    return run
