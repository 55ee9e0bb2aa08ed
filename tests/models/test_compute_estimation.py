"""Per-GPU thermal parameters from each GPU's own history: recovered against the simulator's
per-GPU truth, and the 60-s forecast they give on held-out GPUs (issue #18)."""

from __future__ import annotations

import numpy as np
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.models.compute_estimation import estimate_gpu_theta
from starbrain.models.compute_model import (
    ComputeModel,
    compute_trajectories,
    forecast_rmse,
    heldout_forecast,
)
from starbrain.models.dynamics import WorldModel, WorldModelConfig
from starbrain.physics.thermal import PlateRCPrior, RCThermalPrior
from starbrain.sources.compute.simulator import Fleet, FleetConfig, simulate_fleet

CFG = FleetConfig(n_racks=1, nodes_per_rack=2, idle_node_frac=0.0, seed=4)
NOMINAL = PlateRCPrior().theta_default().tolist()


@pytest.fixture(scope="module")
def rec():
    return simulate_fleet(CFG, 480.0)


def test_per_gpu_resistances_match_the_simulators_truth(rec) -> None:
    g = np.arange(CFG.n_gpus)
    th, rms = estimate_gpu_theta(rec.metrics, g, 1.0, NOMINAL, 0, 240)
    truth, spread = CFG.thermal, Fleet(CFG).spread  # the simulator's per-GPU resistance factor
    assert np.ptp(spread) > 0.08  # the GPUs really differ
    r_conv = (truth.r_conv0 + truth.r_conv_flow / CFG.flow_lpm**truth.flow_exponent) * spread
    np.testing.assert_allclose(th[:, 0], truth.r_die * spread, rtol=0.01)
    np.testing.assert_allclose(th[:, 2], truth.r_mem * spread, rtol=0.01)
    np.testing.assert_allclose(th[:, 4] + th[:, 5] / CFG.flow_lpm, r_conv, rtol=0.01)
    np.testing.assert_allclose(th[:, 6], truth.c_plate, rtol=0.02)
    assert rms.max() < 0.05  # deg C, die and HBM over the 240 s history
    with pytest.raises(StarbrainError, match="at least 30 samples"):
        estimate_gpu_theta(rec.metrics, g, 1.0, NOMINAL, 0, 10)


def test_per_gpu_parameters_cut_the_60s_forecast_error(rec) -> None:
    data = compute_trajectories(rec.metrics, np.arange(CFG.n_gpus), 1.0, 120, NOMINAL,
                                history_steps=180)  # fmt: skip
    assert data.n_traj == 2 * CFG.n_gpus and data.theta is not None
    assert data.theta.shape == (data.n_traj, 8)
    # an unfitted world model is its prior: this scores the per-GPU physics alone
    wm = WorldModel(PlateRCPrior(), WorldModelConfig(3, 3, 1.0, residual_dims=(0, 1)))
    cm = ComputeModel(wm, NOMINAL, RCThermalPrior().theta_default().tolist(), 1.0)
    row = forecast_rmse(cm, data, 60)[0]
    assert row["rmse_prior_c"] < 0.05  # deg C; nominal parameters: ~1 deg C (6% spread)
    assert row["rmse_prior_nominal_c"] > 10 * row["rmse_prior_c"]
    assert row["rmse_model_c"] == pytest.approx(row["rmse_prior_c"])


@pytest.mark.slow
def test_heldout_60s_forecast_meets_the_issue_target() -> None:
    rows = {r["stratum"]: r for r in heldout_forecast()}
    # measured 2026-12-07 (2 shared cores, ~80 s): all 0.108, healthy 0.050, pump 0.145 deg C;
    # per-GPU prior alone 0.188 / 0.006 / 0.265; nominal prior 1.11; single-node RC 3.6
    assert rows["all"]["rmse_model_c"] <= 1.0
    for name in ("all", "pump"):
        r = rows[name]
        assert r["rmse_model_c"] < r["rmse_prior_c"] < r["rmse_prior_nominal_c"] < r["rmse_rc_c"]
    assert rows["healthy"]["rmse_model_c"] < 0.2
