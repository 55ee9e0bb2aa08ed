"""The SCARA arm's torch prior against MuJoCo itself (the reference): mass matrix, one-step
integration, torque delivery; and the inverse kinematics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

mujoco = pytest.importorskip("mujoco")

from starbrain.physics.arms import ScaraPrior, ee_position, inverse_kinematics  # noqa: E402
from starbrain.sources.robots import NOMINAL_ARM, WORN_ARM, MujocoArm  # noqa: E402


def _random_transitions(params, n=60, seed=0):
    arm = MujocoArm(params)
    rng = np.random.default_rng(seed)
    lim = np.asarray(params.torque_limit_nm)
    x, xn, u = [], [], []
    for _ in range(n):
        s0 = np.concatenate([rng.uniform(-3, 3, 2), rng.uniform(-4, 4, 2)])
        arm.reset(s0)
        uk = rng.uniform(-1.2, 1.2, 2) * lim  # beyond the limits too: both clip
        s1, _ = arm.step(uk)
        x.append(s0), u.append(uk), xn.append(s1)
    return (torch.tensor(np.array(v)) for v in (x, u, xn))


def test_mass_matrix_matches_mujoco_with_payload() -> None:
    p = replace(WORN_ARM, payload_kg=0.7)
    arm = MujocoArm(p)
    prior = ScaraPrior(p)
    for q2 in (-2.5, -0.3, 0.0, 1.1, 3.0):
        arm.reset([0.4, q2, 0.0, 0.0])
        m = np.zeros((2, 2))
        mujoco.mj_fullM(arm.model, arm.data, m)  # MuJoCo >= 3.3 signature
        m11, m12, m22, _ = prior.mass_matrix(
            torch.tensor(q2, dtype=torch.float64), torch.tensor(0.7, dtype=torch.float64)
        )
        np.testing.assert_allclose([float(m11), float(m12), float(m22)],
                                   [m[0, 0], m[0, 1], m[1, 1]], rtol=1e-12)  # fmt: skip


def test_one_step_reproduces_mujoco_without_friction() -> None:
    p = replace(WORN_ARM, friction_nm=(0.0, 0.0))
    x, u, xn = _random_transitions(p)
    prior = ScaraPrior(p)
    pred = prior.step(x, u, prior.theta_default(), p.dt)
    # 10 MuJoCo Euler substeps with implicit damping: equal to round-off
    assert float((pred - xn).abs().max()) < 1e-10


def test_smoothed_friction_is_close_to_mujoco_frictionloss() -> None:
    x, u, xn = _random_transitions(WORN_ARM, seed=1)
    prior = ScaraPrior(WORN_ARM)
    pred = prior.step(x, u, prior.theta_default(), WORN_ARM.dt)
    err = (pred - xn)[:, 2:].pow(2).mean(0).sqrt()
    change = (xn - x)[:, 2:].pow(2).mean(0).sqrt()
    # dry friction is a constraint in MuJoCo, tanh-smoothed here: within 2 % of the rate change
    assert (err / change).max() < 0.02


def test_nominal_prior_is_wrong_about_the_worn_arm() -> None:
    x, u, xn = _random_transitions(WORN_ARM, seed=2)
    nominal = ScaraPrior(NOMINAL_ARM)
    pred = nominal.step(x, u, nominal.theta_default(), WORN_ARM.dt)
    rel = (pred - xn)[:, 2:].pow(2).mean().sqrt() / (xn - x)[:, 2:].pow(2).mean().sqrt()
    assert rel > 0.05  # the wear, payload and gain drift are visible in one step


def test_theta_makes_the_nominal_prior_the_worn_one() -> None:
    nominal = ScaraPrior(NOMINAL_ARM)
    worn = ScaraPrior(WORN_ARM)
    x = torch.tensor([[0.2, 0.9, 1.0, -2.0], [1.0, -1.5, -0.5, 3.0]], dtype=torch.float64)
    u = torch.tensor([[3.0, -1.0], [-5.0, 2.5]], dtype=torch.float64)
    a = nominal.step(x, u, worn.theta_default(), NOMINAL_ARM.dt)
    b = worn.step(x, u, worn.theta_default(), NOMINAL_ARM.dt)
    assert torch.allclose(a, b, atol=1e-14, rtol=0)


def test_measured_torque_is_gain_times_clipped_command() -> None:
    arm = MujocoArm(WORN_ARM)
    arm.reset()
    _, tau = arm.step([100.0, -1.0])
    np.testing.assert_allclose(tau, [0.85 * 8.0, 0.90 * -1.0], rtol=1e-12)


def test_payload_change_keeps_the_state() -> None:
    arm = MujocoArm(NOMINAL_ARM)
    arm.reset([0.1, 0.2, 0.3, 0.4])
    arm.set_payload(1.5)
    np.testing.assert_allclose(arm.state, [0.1, 0.2, 0.3, 0.4])
    assert arm.params.payload_kg == 1.5
    assert float(arm.model.body("payload").mass[0]) == pytest.approx(1.5)


def test_ee_pose_and_inverse_kinematics_agree_with_mujoco() -> None:
    arm = MujocoArm(NOMINAL_ARM)
    q = inverse_kinematics((0.35, 0.4))
    arm.reset([q[0], q[1], 0.0, 0.0])
    np.testing.assert_allclose(arm.ee_pose()[:2], [0.35, 0.4], atol=1e-12)
    xy = ee_position(torch.tensor(q, dtype=torch.float64))
    np.testing.assert_allclose(xy.numpy(), [0.35, 0.4], atol=1e-12)
    with pytest.raises(ValueError, match="reach"):
        inverse_kinematics((0.8, 0.0))
