"""The orbit world model (SGP4 prior + learned residual) and its evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from starbrain.models.evaluation import evaluate_orbit_model, position_errors
from starbrain.models.orbit_model import (
    OrbitModelConfig,
    OrbitWorldModel,
    fit_priors,
    train_orbit_model,
)
from starbrain.models.truth import generate_truth, sample_elements
from starbrain.physics.sgp4 import sgp4_propagate
from starbrain.report.orbit_model import plot_errors


@pytest.fixture(scope="module")
def arcs():
    truth = generate_truth(sample_elements(8, seed=4), days=2.0, step_min=20.0)
    return fit_priors(truth, fit_days=0.5)


def test_priors_are_fitted_to_the_first_part_only(arcs) -> None:
    assert arcs.fit_rms_km.shape == (8,)
    assert torch.all(arcs.fit_rms_km < 1.0)  # a half-day SGP4 fit to full-force truth
    d, t = position_errors(None, arcs)
    # the prior is best inside its fit span and drifts after it
    assert np.median(d[:, t <= 720]) < np.median(d[:, t >= 2000])


def test_untrained_model_is_exactly_the_prior(arcs) -> None:
    model = OrbitWorldModel(OrbitModelConfig(horizon_min=2880.0))
    t = torch.as_tensor(arcs.truth.t_min)
    with torch.no_grad():
        r, v = model(arcs.elements, t)
    r0, v0, _ = sgp4_propagate(arcs.elements, t)
    torch.testing.assert_close(r, r0, atol=1e-9, rtol=0)
    torch.testing.assert_close(v, v0, atol=1e-12, rtol=0)
    assert r.shape == (8, arcs.truth.t_min.size, 3)


def test_gradients_flow_through_sgp4_to_every_layer(arcs) -> None:
    model = OrbitWorldModel(OrbitModelConfig(horizon_min=2880.0))
    with torch.no_grad():  # leave the zero start so every path carries gradient
        model.mlp[-1].weight.normal_(0.0, 0.1)
    t = torch.as_tensor(arcs.truth.t_min[::6])
    r, _ = model(arcs.elements, t)
    target = torch.as_tensor(arcs.truth.r_teme[:, ::6])
    ((r - target) ** 2).sum().backward()
    for p in model.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # a pure element-drift model (no output correction) still learns: through SGP4 only
    last = model.mlp[-1].weight.grad
    assert last[:18].abs().sum() > 0  # the drift rows (5 elements + B*-scaled, 3 powers)


def test_corrections_are_gated_and_velocities_consistent(arcs) -> None:
    """The RTN correction's velocity is the time derivative of its position (checked by central
    differences), and the gate keeps corrections ~0 in the first hour."""
    cfg = OrbitModelConfig(horizon_min=2880.0, element_corrections=False)
    model = OrbitWorldModel(cfg)
    with torch.no_grad():
        model.mlp[-1].bias.normal_(0.0, 1.0)
    t = torch.tensor([30.0, 600.0, 2000.0], dtype=torch.float64)
    h = 1e-3  # minutes
    with torch.no_grad():
        rp, _ = model(arcs.elements, t + h)
        rm, _ = model(arcs.elements, t - h)
        _, v = model(arcs.elements, t)
        rp0, _ = model.prior(arcs.elements, t + h)
        rm0, _ = model.prior(arcs.elements, t - h)
        _, v0 = model.prior(arcs.elements, t)
        r, _ = model(arcs.elements, t)
        r0, _ = model.prior(arcs.elements, t)
    fd = ((rp - rp0) - (rm - rm0)) / (2 * h * 60.0)
    # 3 mm/s for km-size corrections: what is left is the frame's turn beyond two-body motion
    # (J2 node and perigee drift); ignoring the frame's turn altogether gives 0.7 m/s here
    torch.testing.assert_close(v - v0, fd, atol=3e-6, rtol=0)
    d = (r - r0).norm(dim=-1)
    assert torch.all(d[:, 0] < 0.01 * d[:, 2])  # 30 min: gated to ~0.2% of the full size


def test_per_satellite_times_match_common_times(arcs) -> None:
    model = OrbitWorldModel(OrbitModelConfig(horizon_min=2880.0))
    with torch.no_grad():
        model.mlp[-1].bias.normal_(0.0, 1.0)
        t = torch.tensor([100.0, 1500.0, 2800.0], dtype=torch.float64)
        r1, _ = model(arcs.elements, t)
        t2 = t.expand(len(arcs.elements), 3) + torch.arange(8.0, dtype=torch.float64)[:, None]
        r2, _ = model(arcs.elements, t2)
        r3, _ = model(arcs.elements, t + 3.0)
    assert r2.shape == (8, 3, 3)
    torch.testing.assert_close(r2[3], r3[3], atol=1e-9, rtol=0)
    assert not torch.allclose(r2[3], r1[3])


def test_training_lowers_the_loss_and_is_reproducible(arcs) -> None:
    cfg = OrbitModelConfig(epochs=30, horizon_min=2880.0, train_step_min=60.0, seed=1)
    _m1, h1 = train_orbit_model(arcs, cfg, device="cpu")
    _m2, h2 = train_orbit_model(arcs, cfg, device="cpu")
    assert h1["final_loss"] < 0.8 * h1["initial_loss"]
    assert h1["loss"] == h2["loss"]  # fixed seeds, deterministic CPU
    assert h1["device"] == "cpu" and h1["n_train"] == 8


def test_evaluation_table_and_plot(arcs, tmp_path) -> None:
    model = OrbitWorldModel(OrbitModelConfig(horizon_min=2880.0))
    rows = evaluate_orbit_model(model, arcs)
    assert [r["horizon_min"] for r in rows] == [60.0, 360.0, 1440.0]  # 3 d and 7 d beyond arc
    for row in rows:  # an untrained model is the prior
        assert row["model_median_km"] == pytest.approx(row["sgp4_median_km"], abs=1e-9)
        assert row["sgp4_p95_km"] >= row["sgp4_median_km"]
    png = plot_errors(model, arcs, tmp_path / "errors.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _done_when(
    n_sat: int, n_test: int, epochs: int, time_batch: int = 48
) -> dict[float, dict[str, float]]:
    truth = generate_truth(sample_elements(n_sat, seed=21), days=3.0, step_min=30.0)
    arcs = fit_priors(truth, fit_days=1.0)
    train, test = arcs.split(n_test, seed=0)
    cfg = OrbitModelConfig(epochs=epochs, horizon_min=4320.0, time_batch=time_batch)
    model, _ = train_orbit_model(train, cfg, device="cpu")
    return {r["horizon_min"]: r for r in evaluate_orbit_model(model, test)}


def test_model_cuts_the_error_on_held_out_satellites_small() -> None:
    """A fast, smaller version of the done-when: 80 fixed-seed LEO satellites, 3 days of
    full-force truth, priors fitted to day 1, 60 train / 20 held out, 200 epochs. Too few
    training satellites to halve the error (measured 3-day ratio ~0.6), but the model must
    still cut it clearly beyond the fit span and leave the first hour alone."""
    rows = _done_when(80, 20, 200)
    assert rows[4320.0]["median_ratio"] < 0.8, rows[4320.0]
    assert rows[1440.0]["median_ratio"] < 0.8, rows[1440.0]
    assert rows[60.0]["median_ratio"] < 1.01, rows[60.0]


@pytest.mark.slow
def test_model_halves_the_error_on_held_out_satellites() -> None:
    """The issue's done-when, at test scale: 300 fixed-seed LEO satellites, 3 days of
    full-force truth, SGP4 priors fitted to day 1, 260 train / 40 held out, 800 full-batch
    epochs (bench/world_model.py runs the 7-day version). Measured: median ratio 0.31 at 1 d,
    0.43 at 3 d; the 3-day p95 is 8% worse than SGP4's (a few held-out satellites are hurt)."""
    rows = _done_when(300, 40, 800, time_batch=0)
    assert rows[4320.0]["median_ratio"] <= 0.5, rows[4320.0]
    assert rows[1440.0]["median_ratio"] <= 0.5, rows[1440.0]
    assert rows[4320.0]["model_p95_km"] < 1.25 * rows[4320.0]["sgp4_p95_km"]
    assert rows[360.0]["median_ratio"] < 1.05, rows[360.0]


def test_predict_matches_forward_and_sgp4(arcs) -> None:
    from starbrain.models.orbit_model import predict

    t = np.arange(0.0, 240.0, 30.0)
    r0, v0 = predict(None, arcs.elements, t)
    r1, _ = predict(OrbitWorldModel(OrbitModelConfig()), arcs.elements, t)
    assert r0.shape == v0.shape == (8, 8, 3)
    np.testing.assert_allclose(r1, r0, atol=1e-9)
