"""The compute world model on held-out simulated GPUs (other GPUs of another seeded fleet, half
of them on a loop whose pump degrades): 60-s die-temperature forecast against the single-node RC
model, and drift caught on the degrading loop only."""

from __future__ import annotations

import numpy as np
import pytest

from starbrain.models.compute_model import compute_trajectories, fit_compute_model, forecast_rmse
from starbrain.physics.thermal import PlateRCPrior
from starbrain.sources.compute.simulator import FleetConfig, simulate_fleet


@pytest.fixture(scope="module")
def fitted():
    cfg = dict(n_racks=2, racks_per_loop=1)
    tr = simulate_fleet(FleetConfig(**cfg, seed=1), 900.0)
    te = simulate_fleet(
        FleetConfig(**cfg, seed=2, pump_fault_loop=1, pump_fault_start_s=0, pump_fault_per_h=1.5),
        900.0,
    )
    th = PlateRCPrior().theta_default().tolist()
    g_tr, g_te = np.arange(0, 64, 2), np.arange(1, 64, 2)
    dtr = compute_trajectories(tr.metrics, g_tr, 1.0, 120, th)
    labels = ["pump" if v == 1 else "healthy" for v in te.loop[g_te]]
    dte = compute_trajectories(te.metrics, g_te, 1.0, 120, th, strata=labels)
    return fit_compute_model(dtr), dte, te, th


@pytest.mark.slow
def test_60s_forecast_beats_the_rc_model_on_held_out_gpus(fitted) -> None:
    cm, dte, _, _ = fitted
    rows = {r["stratum"]: r for r in forecast_rmse(cm, dte, 60)}
    # nominal parameters (no per-GPU estimates), measured 2026-12-07: model 1.10, three-node
    # prior 1.12, single-node RC 3.29 deg C (all); pump stratum 1.13 (falls back to the prior
    # there: ood 1.0). The issue's <= 1.0 with per-GPU parameters: test_compute_estimation.py
    for r in rows.values():
        assert r["rmse_model_c"] < 0.5 * r["rmse_rc_c"]
        assert r["rmse_model_c"] < 1.3
    assert rows["healthy"]["rmse_model_c"] < rows["healthy"]["rmse_prior_c"]
    assert rows["pump"]["ood_fraction"] > 0.9 and rows["healthy"]["ood_fraction"] < 0.1


@pytest.mark.slow
def test_drift_flags_the_degrading_pump_loop_only(fitted) -> None:
    cm, _, te, th = fitted
    for loop, expect in ((1, True), (0, False)):
        d = compute_trajectories(te.metrics, np.where(te.loop == loop)[0], 1.0, 60, th)
        rep = cm.drift(d.subset(np.arange(d.n_traj - 32, d.n_traj)))  # the last minute
        assert rep.drifted is expect, rep
