"""The orbit world model (SGP4 prior + learned residual) and its evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from starbrain.models.evaluation import evaluate_orbit_model, plot_errors, position_errors
from starbrain.models.orbit_model import (
    OrbitModelConfig,
    OrbitWorldModel,
    fit_priors,
    train_orbit_model,
)
from starbrain.models.truth import generate_truth, sample_elements
from starbrain.physics.sgp4 import sgp4_propagate


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
    assert last[:10].abs().sum() > 0


def test_training_lowers_the_loss_and_is_reproducible(arcs) -> None:
    cfg = OrbitModelConfig(epochs=30, horizon_min=2880.0, train_step_min=60.0, seed=1)
    _m1, h1 = train_orbit_model(arcs, cfg, device="cpu")
    _m2, h2 = train_orbit_model(arcs, cfg, device="cpu")
    assert h1["final_loss_km"] < 0.8 * h1["initial_loss_km"]
    assert h1["loss_km"] == h2["loss_km"]  # fixed seeds, deterministic CPU
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


@pytest.mark.slow
def test_model_halves_the_error_on_held_out_satellites() -> None:
    """The issue's done-when, at test scale: 300 fixed-seed LEO satellites, 3 days of
    full-force truth, SGP4 priors fitted to day 1, 260 train / 40 held out, 400 epochs.
    Measured (2 CPU threads, ~45 s in all): held-out median error at 3 d 231 m (SGP4) ->
    78 m (model), p95 403 -> 147 m; at 1 d 46 -> 11 m."""
    truth = generate_truth(sample_elements(300, seed=21), days=3.0, step_min=20.0)
    arcs = fit_priors(truth, fit_days=1.0)
    train, test = arcs.split(40, seed=0)
    cfg = OrbitModelConfig(epochs=400, horizon_min=4320.0)
    model, _ = train_orbit_model(train, cfg, device="cpu")
    rows = {r["horizon_min"]: r for r in evaluate_orbit_model(model, test)}
    assert rows[4320.0]["median_ratio"] < 0.5, rows[4320.0]
    assert rows[1440.0]["median_ratio"] < 0.5, rows[1440.0]
    assert rows[4320.0]["model_p95_km"] < rows[4320.0]["sgp4_p95_km"]


def test_predict_matches_forward_and_sgp4(arcs) -> None:
    from starbrain.models.orbit_model import predict

    t = np.arange(0.0, 240.0, 30.0)
    r0, v0 = predict(None, arcs.elements, t)
    r1, _ = predict(OrbitWorldModel(OrbitModelConfig()), arcs.elements, t)
    assert r0.shape == v0.shape == (8, 8, 3)
    np.testing.assert_allclose(r1, r0, atol=1e-9)
