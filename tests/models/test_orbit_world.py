"""Issue #14: OD prior, learned residual (uncertainty, fallback), held-out splits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from starbrain.models.orbit_od import OdFit, fit_numerical
from starbrain.models.orbit_residual import (
    FEATURE_NAMES,
    OrbitDomain,
    ResidualConfig,
    SatelliteFeatures,
    fit_residual,
    orbit_regime,
    rtn_basis,
)
from starbrain.models.orbit_world import (
    EpochData,
    WorldModelTrainConfig,
    run_world_model,
    split_train_test,
)
from starbrain.physics.forces import ForceModel
from starbrain.physics.numerical import propagate_numerical


def test_orbit_regime_labels() -> None:
    got = orbit_regime([400.0, 650.0, 1100.0, 500.0], [30.0, 53.0, 97.6, 80.0])
    assert got.tolist() == [
        "300-500 km / 0-40 deg",
        "500-800 km / 40-80 deg",
        "800-1200 km / 80-180 deg",
        "500-800 km / 80-180 deg",
    ]


def test_config_holds_out_later_epochs() -> None:
    cfg = WorldModelTrainConfig()
    assert max(cfg.train_epochs) < min(cfg.test_epochs)
    with pytest.raises(ValueError, match="later than every training epoch"):
        WorldModelTrainConfig(train_epochs=("2022-01-01T00:00:00",),
                              test_epochs=("2021-01-01T00:00:00",))  # fmt: skip


def test_od_recovers_state_and_drag_scale() -> None:
    """Observations made with the prior's own forces and a drag scale of 1.7 from a state 1 km
    and 1 m/s off: the fit returns the scale to 2 % and the arc to under 5 m RMS."""
    fm = ForceModel(gravity_degree=2, sun=False, moon=False, srp=False)
    r0 = np.array([[6778.0, 0.0, 0.0], [0.0, 6728.0, 0.0]])
    v0 = np.array([[0.0, 5.0, 5.8], [-7.7, 0.0, 0.6]])
    from starbrain.models.orbit_od import _spacecraft

    t = np.arange(0.0, 6 * 3600.0 + 1, 600.0)
    b0 = np.array([0.02, 0.05])
    truth = propagate_numerical(r0, v0, (2458000.5, 0.0), t, fm, _spacecraft(1.7 * b0, 0.0))
    fit, r_out, _ = fit_numerical(
        truth.r, t, (2458000.5, 0.0), r0 + 1.0, v0 + 1e-3, b0, np.zeros(2), fm, 4, t
    )
    np.testing.assert_allclose(fit.drag_scale, 1.7, rtol=0.02)
    assert float(np.max(fit.rms_km)) < 5e-3
    assert r_out is not None and float(np.abs(r_out - truth.r).max()) < 0.02


def _synthetic(n: int, seed: int, regimes: list[str]) -> tuple:
    """Satellites whose along-track residual is 0.8 km x (log10 B + 2) x dt^2 plus noise of
    0.3 x the scale, with RTN states of a circular orbit (the basis is what matters)."""
    rng = np.random.default_rng(seed)
    vals = np.column_stack([
        rng.uniform(300, 1200, n), rng.uniform(0, 100, n), rng.uniform(-2.7, -1.0, n),
        np.full(n, 120.0), np.full(n, 120.0), np.full(n, 10.0), rng.uniform(-1, 1, (n, 2)),
        rng.uniform(-1.5, -1.0, n),
    ])  # fmt: skip
    assert vals.shape[1] == len(FEATURE_NAMES)
    feats = SatelliteFeatures(vals, rng.choice(regimes, n))
    t_days = np.arange(1.125, 3.0001, 0.125)
    dt = t_days - 1.0
    ang = 2 * np.pi * t_days * 15
    r = 7000.0 * np.stack([np.cos(ang), np.sin(ang), 0 * ang], -1)[None].repeat(n, 0)
    v = 7.5 * np.stack([-np.sin(ang), np.cos(ang), 0 * ang], -1)[None].repeat(n, 0)
    scale = 0.05 + 0.5 * dt**2
    along = 0.8 * (vals[:, 2:3] + 2.7) * dt**2 + 0.3 * scale * rng.standard_normal((n, dt.size))
    res = np.zeros((n, dt.size, 3))
    res[..., 1] = along
    res[..., 0] = 0.3 * scale * rng.standard_normal((n, dt.size))
    res[..., 2] = 0.3 * scale * rng.standard_normal((n, dt.size))
    r_truth = r + np.einsum("nkc,nkcj->nkj", res, rtn_basis(r, v))
    return feats, t_days, r_truth, r, v, res


@pytest.fixture(scope="module")
def synthetic_model() -> tuple:
    regimes = ["300-500 km / 0-40 deg", "500-800 km / 40-80 deg"]
    feats, t, r_truth, r, v, _ = _synthetic(100, 1, regimes)
    cfg = ResidualConfig(n_members=3, hidden=32, epochs=150, seed=0)
    return fit_residual(feats, t, r_truth, r, v, 1.0, "test-prior", cfg), regimes


def test_residual_learns_and_its_two_sigma_band_is_calibrated(synthetic_model: tuple) -> None:
    """Trained on 100, tested on 160 new satellites: median error well under the prior's, and
    the 2-sigma band holds 88-99 % of the RTN residual components (target 95 %)."""
    model, regimes = synthetic_model
    feats, t, r_truth, r, v, _ = _synthetic(160, 2, regimes)
    pred = model.correct(feats, t, r, v)
    assert not pred.fell_back.any()
    e_prior = np.median(np.linalg.norm(r_truth - r, axis=-1))
    e_model = np.median(np.linalg.norm(r_truth - pred.r, axis=-1))
    assert e_model < 0.7 * e_prior
    res = np.einsum("nkcj,nkj->nkc", rtn_basis(r, v), r_truth - pred.r)
    on = pred.corrected
    cover = float(np.mean(np.abs(res[:, on]) <= 2 * pred.sigma_rtn[:, on]))
    assert 0.88 <= cover <= 0.99, cover


def test_out_of_domain_falls_back_to_the_prior(synthetic_model: tuple) -> None:
    model, regimes = synthetic_model
    feats, t, _, r, v, _ = _synthetic(4, 3, regimes)
    feats.regime[0] = "800-1200 km / 80-180 deg"  # never trained
    feats.values[1, 2] = 0.5  # Cd*A/m of 3 m^2/kg: far outside the trained range
    pred = model.correct(feats, t, r, v)
    assert pred.fell_back.tolist() == [True, True, False, False]
    assert "not in training" in pred.reason[0] and "log10_ballistic" in pred.reason[1]
    np.testing.assert_array_equal(pred.r[:2], r[:2])  # exactly the prior
    assert not np.allclose(pred.r[2:], r[2:])
    assert np.isfinite(pred.sigma_rtn).all() and pred.prior == "test-prior"
    dom = OrbitDomain(**{**dataclasses.asdict(model.domain), "epoch_range": ("a", "b")})
    assert dom.regimes == sorted(regimes)


class _StubTruth:
    def subset(self, idx: np.ndarray) -> _StubTruth:
        return self


def _stub_epoch(regimes: list[str]) -> EpochData:
    n = len(regimes)
    z = np.zeros((n, 3))
    fit = OdFit(z, z, np.ones(n), np.ones(n), np.ones(n), np.ones(n), (0.0, 0.0),
                ForceModel())  # fmt: skip
    feats = SatelliteFeatures(np.zeros((n, len(FEATURE_NAMES))), np.array(regimes))
    return EpochData(_StubTruth(), np.zeros((n, 1)), fit, np.zeros(1), np.zeros((n, 1, 3)),  # type: ignore[arg-type]
                     np.zeros((n, 1, 3)), feats, {"x": np.arange(n)}, {})  # fmt: skip


def test_held_out_regime_is_never_in_training() -> None:
    cfg = WorldModelTrainConfig()
    held = cfg.held_out_regimes[0]
    regs = [held, "300-500 km / 0-40 deg", held, "800-1200 km / 80-180 deg"]
    train, test = split_train_test(cfg, [("train", _stub_epoch(regs)), ("test", _stub_epoch(regs))])
    assert held not in train[0].feats.regime.tolist()
    assert train[0].strata["x"].tolist() == [1, 3]
    assert test[0].feats.regime.tolist() == regs  # tests keep every regime


@pytest.mark.slow
def test_tiny_end_to_end_run() -> None:
    """Two training epochs, one later test epoch, half-day arcs: the pipeline runs, reports
    every stratum, falls back where the test epoch's space weather is outside training."""
    cfg = WorldModelTrainConfig(
        train_epochs=("2012-03-01T00:00:00", "2014-06-01T00:00:00"),
        test_epochs=("2023-03-01T00:00:00",), sats_per_train_epoch=6, sats_per_test_epoch=5,
        days=0.5, fit_days=0.25, truth_degree=4, prior_degree=4, residual_step_min=60.0,
        horizons_min=(60.0, 720.0), residual=ResidualConfig(n_members=2, epochs=20),
    )  # fmt: skip
    res = run_world_model(cfg)
    assert {r["stratum"] for r in res.table} >= {"all", "family", "altitude", "regime", "epoch"}
    assert res.n_test == 5 and res.n_train <= 12
    assert all(np.isfinite(r["model_median_km"]) for r in res.table)


def test_registry_round_trip_records_the_domain(synthetic_model: tuple, tmp_path) -> None:
    import json

    from starbrain.models.registry import KIND_ORBIT_OD, load_od_model, register_od_model
    from starbrain.store.database import Store

    model, regimes = synthetic_model
    with Store(tmp_path / "store.duckdb") as store:
        register_od_model(store, "od-test", model, train_config={"seed": 0})
        loaded, row = load_od_model(store, "latest")
    assert row["kind"] == KIND_ORBIT_OD
    assert json.loads(row["data_json"])["domain"]["regimes"] == sorted(regimes)
    feats, t, _, r, v, _ = _synthetic(3, 4, regimes)
    a, b = model.correct(feats, t, r, v), loaded.correct(feats, t, r, v)
    np.testing.assert_allclose(a.r, b.r, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.sigma_rtn, b.sigma_rtn, rtol=1e-6)
