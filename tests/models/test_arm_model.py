"""Arm world models from the ``arm`` stream: parameter estimation against the simulator's true
parameters, the residual model against its prior, and drift when the payload changes."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

pytest.importorskip("mujoco")

from starbrain.core.errors import StarbrainError
from starbrain.models.arm import (
    arm_trajectories,
    estimate_arm,
    estimate_gain,
    fit_arm_model,
)
from starbrain.models.dynamics import FitConfig, drift_check
from starbrain.sources.robots import WORN_ARM, simulate_arm

SMALL = FitConfig(n_members=3, hidden=32, depth=2, epochs=15, patience=5, batch_size=128)


@pytest.fixture(scope="module")
def worn():
    return simulate_arm(WORN_ARM, n_episodes=3, n_steps=150, seed=1)


def test_trajectories_from_the_stream(worn) -> None:
    data = arm_trajectories(worn, n_steps=50)
    assert data.n_traj == 9 and data.n_steps == 50
    assert data.dt == pytest.approx(0.02)
    assert data.strata[0] == "arm-1/0"
    with pytest.raises(StarbrainError, match="q1_rad"):
        arm_trajectories(worn.drop_columns(["q1_rad"]))


def test_gain_from_the_torque_sensors(worn) -> None:
    g1, g2 = estimate_gain(worn)
    assert g1 == pytest.approx(0.85, rel=0.005) and g2 == pytest.approx(0.90, rel=0.005)


@pytest.mark.parametrize("payload_kg", [0.5, 1.2])
def test_payload_and_damping_estimated_within_ten_percent(payload_kg) -> None:
    table = simulate_arm(replace(WORN_ARM, payload_kg=payload_kg), n_episodes=2, n_steps=150,
                         seed=2)  # fmt: skip
    est = estimate_arm(table).as_dict()
    # the target: payload within 10 % (measured 1 % at 0.5 kg)
    assert est["payload_kg"] == pytest.approx(payload_kg, rel=0.10)
    assert est["damping_1_nms"] == pytest.approx(0.70, rel=0.10)
    assert est["damping_2_nms"] == pytest.approx(0.39, rel=0.10)


def test_residual_model_beats_the_nominal_prior_and_notices_a_new_payload(worn) -> None:
    model, info = fit_arm_model("residual", worn, config=SMALL)
    assert info["estimate"]["payload_kg"] == pytest.approx(0.5, rel=0.1)
    held_out = simulate_arm(WORN_ARM, n_episodes=1, n_steps=150, seed=9)
    nominal, _ = fit_arm_model("nominal", worn)
    x, u, xn, _ = arm_trajectories(held_out).transitions()
    err_model = (model.predict(x, u).mean - xn)[:, 2:].pow(2).mean().sqrt()
    err_nominal = (nominal.predict(x, u).mean - xn)[:, 2:].pow(2).mean().sqrt()
    assert err_model < 0.2 * err_nominal
    # the same arm is not drift; 1.5 kg instead of 0.5 kg is
    same = drift_check(model, arm_trajectories(held_out))
    heavy = simulate_arm(replace(WORN_ARM, payload_kg=1.5), n_episodes=1, n_steps=150, seed=9)
    changed = drift_check(model, arm_trajectories(heavy))
    assert not same.drifted
    assert changed.drifted and changed.ratio > 10 * same.ratio


def test_unknown_kind_is_one_clear_error(worn) -> None:
    with pytest.raises(StarbrainError, match="pets"):
        fit_arm_model("lstm", worn)
    assert torch.is_tensor(fit_arm_model("nominal", worn)[0].theta)


def test_one_episode_is_enough_to_fit() -> None:
    # regression: one 200-step episode used to be one trajectory, too few for a validation split
    table = simulate_arm(WORN_ARM, n_episodes=1, n_steps=200, seed=4)
    model, info = fit_arm_model("pets", table, config=SMALL)
    assert model.fitted and info["n_transitions"] == 200
