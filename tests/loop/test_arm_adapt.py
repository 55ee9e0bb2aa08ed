"""A payload change mid-run: detected from the model's error, re-fitted, registered, recovered."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("mujoco")

from starbrain.loop.arm_adapt import run_payload_change
from starbrain.models.arm import fit_arm_model
from starbrain.models.dynamics import FitConfig, load_world_model
from starbrain.planners.arm_tasks import reach_mpc_config, sample_reach_tasks
from starbrain.sources.robots import WORN_ARM, simulate_arm
from starbrain.store import Store


@pytest.mark.slow  # 16 s on the shared 2-core machine (5 closed-loop episodes)
def test_payload_change_is_detected_refitted_registered_and_recovered(tmp_path) -> None:
    torch.manual_seed(0)
    worn = simulate_arm(WORN_ARM, n_episodes=3, n_steps=150, seed=1)
    cfg = FitConfig(n_members=3, hidden=32, depth=2, epochs=15, patience=5, batch_size=128)
    model, _ = fit_arm_model("residual", worn, config=cfg, n_substeps=2)
    tasks = sample_reach_tasks(5, seed=3)
    mpc = reach_mpc_config(WORN_ARM, n_samples=128, horizon=15)
    with Store(tmp_path / "s.duckdb") as store:
        run = run_payload_change(model, tasks, WORN_ARM, 1.5, 2, mpc=mpc, store=store)
        loaded, row = load_world_model(store, "arm-residual")
    ep = run.episodes
    assert [e["drifted"] for e in ep[:2]] == [False, False]  # 0.5 kg as trained: no alarm
    assert run.detection_delay is not None and run.detection_delay <= 2  # the issue: within 3
    assert ep[run.detected_episode]["drift_ratio"] > 5.0
    # re-fitted from the drifted episode alone: payload within 10 %
    assert ep[run.detected_episode]["payload_est_kg"] == pytest.approx(1.5, rel=0.10)
    assert float(loaded.theta[0]) == pytest.approx(1.5, rel=0.10)
    assert row["metrics"]["reason"] == "drift"
    # recovered: every episode after the re-fit succeeds, as the two before the change did
    assert all(e["success"] for e in ep[:2])
    assert all(e["success"] for e in ep[run.detected_episode + 1 :])
    assert model.theta[0] == pytest.approx(0.5, rel=0.10)  # the caller's model is untouched
