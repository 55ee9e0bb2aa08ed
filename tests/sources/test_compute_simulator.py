"""The data-centre simulator: thermal steady state against the closed form, synchronised job
phases, faults, the stream table, and the 100,000-GPU scale."""

from __future__ import annotations

import time

import numpy as np
import pytest

from starbrain.core.errors import StarbrainError
from starbrain.physics.thermal import rc_step
from starbrain.sources.compute import COMPUTE_SCHEMA
from starbrain.sources.compute.simulator import Fleet, FleetConfig, simulate_fleet
from starbrain.sources.compute.thermal_truth import ThermalTruth, truth_step


def test_rc_step_is_the_exact_solution_of_the_ode() -> None:
    # C dT/dt = P - (T - Tin)/R: T(t) = Teq + (T0 - Teq) exp(-t/RC), checked by fine Euler
    r, c, p, tin, t0 = 0.05, 1200.0, 600.0, 30.0, 40.0
    t = t0
    for _ in range(60_000):
        t += 1e-3 * (p - (t - tin) / r) / c
    assert rc_step(t0, p, tin, r, c, 60.0) == pytest.approx(t, abs=1e-3)


def test_truth_steady_state_matches_the_resistance_network() -> None:
    k, n = ThermalTruth(), 3
    p, tin, flow = np.array([700.0, 300.0, 70.0]), np.full(n, 30.0), np.array([2.0, 2.0, 1.0])
    tg = tp = tm = np.full(n, 30.0)
    for _ in range(400):
        tg, tp, tm = truth_step(tg, tp, tm, p, tin, flow, k, np.ones(n), 5.0)
    tp_ss = tin + p * (k.r_conv0 + k.r_conv_flow / flow**0.8)
    np.testing.assert_allclose(tp, tp_ss, atol=1e-6)
    np.testing.assert_allclose(tg, tp_ss + (1 - k.mem_frac) * p * k.r_die, atol=1e-6)
    np.testing.assert_allclose(tm, tp_ss + k.mem_frac * p * k.r_mem, atol=1e-6)


def test_jobs_swing_together_and_the_pump_fault_heats_its_loop() -> None:
    cfg = FleetConfig(n_racks=8, pump_fault_loop=1, pump_fault_start_s=300.0)
    rec = simulate_fleet(cfg, 1800.0)
    p = rec.metrics["power_w"]
    # synchronised checkpoints: a job's GPUs all drop to near idle at the same sample
    j = rec.job == 0
    low = (p[:, j] < 200).mean(1)
    assert set(np.unique(np.round(low, 6))) <= {0.0, 1.0} and low.max() == 1.0
    site = p.sum(1)
    assert site.max() - site.min() > 0.25 * site.max()  # thousands swing: large site swings
    # pump at 1 - 0.6 * 1500/3600 = 75% flow at the end; its loop runs hotter than loop 0
    assert rec.metrics["coolant_flow_lpm"][-1, rec.loop == 1] == pytest.approx(1.5, rel=1e-3)
    busy = rec.job >= 0
    hot = rec.metrics["gpu_temp_c"][-60:, (rec.loop == 1) & busy].mean()
    cool = rec.metrics["gpu_temp_c"][-60:, (rec.loop == 0) & busy].mean()
    assert hot - cool > 2.0
    assert (rec.metrics["gpu_temp_c"] < 95).all()


def test_power_limit_caps_draw_and_sets_the_throttle_bit() -> None:
    cfg = FleetConfig(n_racks=1, racks_per_loop=1)
    rec = simulate_fleet(cfg, 120.0, power_limit_w=np.full(cfg.n_gpus, 420.0))
    assert rec.metrics["power_w"].max() <= 420.0 + 1e-9
    capped = rec.metrics["throttle_reasons"] == 4
    assert capped.any() and (rec.metrics["sm_clock_mhz"][capped] < 1980).all()
    e = rec.metrics["energy_mj"][-1]
    np.testing.assert_allclose(e, rec.metrics["power_w"].sum(0) * 1e3, rtol=1e-12)


def test_recording_to_compute_table() -> None:
    rec = simulate_fleet(FleetConfig(n_racks=1, racks_per_loop=1), 5.0)
    t = rec.to_table(gpus=[0, 9])
    assert t.schema.equals(COMPUTE_SCHEMA) and t.num_rows == 10
    assert t["gpu_id"].to_pylist()[:2] == ["r0000-n00000-g0", "r0000-n00001-g1"]
    with pytest.raises(StarbrainError, match="duration_s"):
        simulate_fleet(FleetConfig(), 0.1)


def test_a_step_of_100000_gpus_is_vectorised() -> None:
    fleet = Fleet(FleetConfig(n_racks=3125))  # 3125 racks x 32 GPUs = 100,000 GPUs
    assert fleet.cfg.n_gpus == 100_000
    fleet.step()
    t0 = time.perf_counter()
    out = fleet.step()
    dt = time.perf_counter() - t0
    assert out["gpu_temp_c"].shape == (100_000,)
    assert dt < 0.5  # ~0.04 s measured here; a Python loop over GPUs would take seconds
