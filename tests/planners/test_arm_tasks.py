"""Reach with the sampling MPC on the MuJoCo arm: the cost, and a closed-loop reach."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pytest.importorskip("mujoco")

from starbrain.models.dynamics import WorldModel, WorldModelConfig
from starbrain.physics.arms import ScaraPrior, inverse_kinematics
from starbrain.planners.arm_tasks import (
    ReachTask,
    reach_cost,
    reach_mpc_config,
    run_reach_episode,
    sample_reach_tasks,
)
from starbrain.sources.robots import WORN_ARM, MujocoArm


def test_reach_cost_by_hand() -> None:
    goal = torch.tensor([[0.7, 0.0]], dtype=torch.float64)
    cost = reach_cost(goal, w_rate=0.5, w_torque=0.25, terminal_weight=10.0)
    X = torch.zeros(1, 1, 2, 4, dtype=torch.float64)  # stretched out along +x: at the goal
    X[0, 0, 0, 0] = math.pi / 2  # first step: flange at (0, 0.7), 0.98 m^2 away
    X[0, 0, 1, 2] = 2.0  # last step at the goal, joint 1 turning at 2 rad/s
    U = torch.ones(1, 1, 2, 2, dtype=torch.float64)
    c = cost(X, U, torch.zeros_like(X))
    assert float(c) == pytest.approx(0.98 + 0.5 * 4.0 + 0.25 * 4.0, rel=1e-12)


def test_tasks_start_away_from_a_reachable_goal() -> None:
    for t in sample_reach_tasks(20, seed=4):
        r = math.hypot(*t.goal_xy)
        assert 0.25 <= r <= 0.60
        inverse_kinematics(t.goal_xy)  # reachable


def test_mpc_on_the_true_arm_model_reaches_within_a_centimetre() -> None:
    torch.manual_seed(0)
    model = WorldModel(ScaraPrior(WORN_ARM, n_substeps=2), WorldModelConfig(4, 2, 0.02, 1))
    task = ReachTask((0.30, 0.35), (-1.0, 1.5, 0.0, 0.0), n_steps=75)
    cfg = reach_mpc_config(WORN_ARM, n_samples=128, horizon=15)
    res = run_reach_episode(MujocoArm(WORN_ARM), model, task, cfg, WORN_ARM)
    assert res.success, (res.final_dist_m, res.final_speed_mps)
    assert res.final_dist_m < 0.01
    assert res.x.shape == (76, 4) and res.u.shape == (75, 2)
    assert np.abs(res.u).max(0).tolist() <= list(WORN_ARM.torque_limit_nm)
    # the model's one-step predictions of the arm it models are close (friction smoothing only)
    assert np.abs(res.one_step_error[:, 2:]).max() < 0.1
