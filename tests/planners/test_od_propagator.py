"""The issue #14 OD world model as the planners' propagator: loaded from the registry, prior
fitted to SGP4 over the fit window, residual applied in domain, prior alone out of it, and the
per-object provenance (which prior, fell back or not) in ``last_info``."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from starbrain.models.orbit_residual import (
    FEATURE_NAMES,
    ResidualConfig,
    SatelliteFeatures,
    fit_residual,
    orbit_regime,
    rtn_basis,
)
from starbrain.models.truth import sample_leo_elements
from starbrain.planners.propagator import (
    OdWorldModelPropagator,
    Sgp4Propagator,
    resolve_propagator,
    utc_propagate,
)
from starbrain.store.database import Store

FIT_DAYS = 0.25
TRAIN_CONFIG = {"prior_degree": 4, "od_iterations": 2, "step_min": 30.0}
EPOCH = "2023-03-01T00:00:00"


def _residual(fit_days: float, km_per_day: float = 2.0) -> Any:
    """A small residual trained on synthetic satellites whose along-track error grows as
    ``km_per_day`` x dt [days] after the fit window (2: the correction it learns is km-sized;
    0: it learns only the 10 m noise)."""
    rng = np.random.default_rng(0)
    n = 40
    vals = rng.uniform(-1.0, 1.0, (n, len(FEATURE_NAMES)))
    t_days = fit_days + np.arange(1, 9) * 0.125
    dt = t_days - fit_days
    ang = 2 * np.pi * 15 * t_days
    r = 7000.0 * np.stack([np.cos(ang), np.sin(ang), 0 * ang], -1)[None].repeat(n, 0)
    v = 7.5 * np.stack([-np.sin(ang), np.cos(ang), 0 * ang], -1)[None].repeat(n, 0)
    res = np.zeros((n, dt.size, 3))
    res[..., 1] = km_per_day * dt + 0.01 * rng.standard_normal((n, dt.size))
    r_truth = r + np.einsum("nkc,nkcj->nkj", res, rtn_basis(r, v))
    feats = SatelliteFeatures(vals, np.array(["300-500 km / 0-40 deg"] * n))
    cfg = ResidualConfig(n_members=2, hidden=16, epochs=60, seed=0)
    return fit_residual(feats, t_days, r_truth, r, v, fit_days, "numerical-od:test", cfg)


def _open_domain(model: Any, regimes: list[str]) -> Any:
    """The same residual valid on ``regimes`` at any feature value, applied at every horizon;
    its normaliser maps every real feature value to ~0 (inside the synthetic training range,
    where the features carried nothing), so it predicts its learned 2 km x dt anywhere."""
    m = dataclasses.replace(model)
    k = len(model.mu)
    m.domain = dataclasses.replace(model.domain, regimes=regimes, lo=[-1e9] * k, hi=[1e9] * k)
    m.mu, m.sd = np.zeros(k), np.full(k, 1e12)
    m.use = np.ones_like(model.use)
    return m


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    from starbrain.models.registry import register_od_model

    elements = sample_leo_elements(2, seed=5, epoch=EPOCH, alt_km=(540.0, 660.0))
    inc = np.asarray(elements.column("inclination_deg").to_numpy())
    assert np.all(np.abs(inc[:, None] - [40.0, 80.0]) > 1.0)  # regimes away from their edges
    regimes = orbit_regime(np.full(2, 600.0), inc).tolist()
    base = _residual(FIT_DAYS)
    db = tmp_path_factory.mktemp("od-prop") / "store.duckdb"
    with Store(db) as store:
        # object 0's regime is in the domain, object 1's is not (unless both share one)
        register_od_model(store, "od-small", _open_domain(base, [regimes[0]]),
                          train_config=TRAIN_CONFIG, created="2024-07-01T00:00:00")  # fmt: skip
        register_od_model(store, "od-none", _open_domain(base, []),
                          train_config=TRAIN_CONFIG, created="2024-06-01T00:00:00")  # fmt: skip
    return db, elements, regimes


def test_resolve_loads_the_od_model(setup: tuple[Path, Any, Any]) -> None:
    db, _, _ = setup
    with Store(db, read_only=True) as store:
        latest = resolve_propagator(store, None)
        named = resolve_propagator(store, "od-none")
        sgp4 = resolve_propagator(store, "sgp4")
    assert isinstance(latest, OdWorldModelPropagator) and "'od-small'" in latest.name
    assert isinstance(named, OdWorldModelPropagator) and "'od-none'" in named.name
    assert named.model.prior_degree == 4 and named.model.fit_days == FIT_DAYS
    assert isinstance(sgp4, Sgp4Propagator)


def test_prior_follows_sgp4_in_the_fit_window_and_residual_only_in_domain(
    setup: tuple[Path, Any, Any],
) -> None:
    """In the fit window the states are the OD prior's, which follows SGP4 (python-sgp4,
    Vallado's code) to well under a km; after it, the in-domain object is the prior plus the
    residual's mean (to 1 um), the out-of-domain one exactly the prior, and last_info says so."""
    from sgp4.api import WGS72, Satrec

    from starbrain.physics.sgp4 import Sgp4Elements

    db, elements, regimes = setup
    with Store(db, read_only=True) as store:
        model = resolve_propagator(store, "od-small")
    el = Sgp4Elements.from_table(elements, device="cpu")
    t = np.arange(0.0, 0.5 * 1440.0 + 1e-9, 40.0)  # 0 to 12 h, fit window 6 h
    state = model.init(el)
    info0 = model.object_info(state)
    assert model.population_info is not None
    assert model.population_info.fell_back.tolist() == info0.fell_back.tolist()
    r, _, ok = model.propagate(state, t[None, :])
    info = model.last_info
    # the prior alone: the same fitted state with both objects outside the domain
    nowhere = SatelliteFeatures(state.feats.values, np.array(["nowhere", "nowhere"]))
    r0, _, ok0 = model.propagate(dataclasses.replace(state, feats=nowhere), t[None, :])
    assert ok.all() and ok0.all()
    assert info is not None and info.prior == "numerical-od:test"
    same = regimes[1] == regimes[0]
    assert info.fell_back.tolist() == info0.fell_back.tolist() == [False, not same]
    assert info.reason[0] == "" and (same or "not in training" in info.reason[1])
    assert model.last_info is not None and not model.last_info.corrected.any()
    inside = t <= FIT_DAYS * 1440.0
    assert not info.corrected[:, inside].any() and info.corrected[0, ~inside].all()
    np.testing.assert_array_equal(r[:, inside], r0[:, inside])
    if not same:
        np.testing.assert_array_equal(r[1], r0[1])
    # the in-domain correction is the residual's mean in the prior's RTN frame: its length
    # (a rotation to TEME keeps it) is that of the residual's mean at each dt
    shift = np.linalg.norm(r[0, ~inside] - r0[0, ~inside], axis=-1)
    dt = t[~inside] / 1440.0 - FIT_DAYS
    mean, _ = model.model.residual.moments(state.feats.values[:1], dt)
    np.testing.assert_allclose(shift, np.linalg.norm(mean[0], axis=-1), rtol=0, atol=1e-6)
    assert shift.min() > 1e-3 and np.all(np.diff(shift) > 0), shift  # grows with dt
    # the prior in the fit window against Vallado's SGP4 on the same elements
    row = elements.slice(0, 1).to_pylist()[0]
    sat = Satrec()
    epoch = np.datetime64(row["epoch"].replace(tzinfo=None), "ns")
    days = (epoch - np.datetime64("1949-12-31T00:00:00", "ns")) / np.timedelta64(1, "D")
    sat.sgp4init(
        WGS72, "i", 1, days, row["bstar_per_earth_radius"], 0.0, 0.0, row["eccentricity"],
        math.radians(row["arg_of_pericenter_deg"]), math.radians(row["inclination_deg"]),
        math.radians(row["mean_anomaly_deg"]), row["mean_motion_rev_per_day"] * 2 * math.pi / 1440,
        math.radians(row["ra_of_asc_node_deg"]),
    )  # fmt: skip
    ref = np.array([sat.sgp4_tsince(float(x))[1] for x in t[inside]])
    err = np.linalg.norm(r0[0, inside] - ref, axis=-1)
    assert err.max() < 0.5, err  # km: EGM2008 4x4 + drag scale fitted to SGP4 over 6 h
    assert float(info.fit_rms_km[0]) < 0.3


@pytest.mark.slow  # two more prior fits (the UTC view prepares its own population)
def test_utc_view_and_selection_match(setup: tuple[Path, Any, Any]) -> None:
    """``utc_propagate`` (what passes, contacts and routing use) and ``select`` give the same
    states as ``propagate`` on the whole population (cached tables: to 1e-9 km)."""
    from starbrain.core import timeconv
    from starbrain.physics.sgp4 import Sgp4Elements

    db, elements, _ = setup
    with Store(db, read_only=True) as store:
        model = resolve_propagator(store, "od-small")
    el = Sgp4Elements.from_table(elements, device="cpu")
    t = np.linspace(0.0, 600.0, 7)
    state = model.init(el)
    r, _, _ = model.propagate(state, t[None, :])
    jd, fr = timeconv.datetime64_to_jd(
        np.datetime64(EPOCH, "ns") + (t * 60e9).astype("timedelta64[ns]")
    )
    r_utc, _ = utc_propagate(model, el)(np.asarray(jd), np.asarray(fr), slice(1, 2))
    np.testing.assert_allclose(r_utc[0], r[1], atol=1e-6)
    r1, _, _ = model.propagate(model.select(state, np.array([1])), t[None, :])
    np.testing.assert_allclose(r1[0], r[1], atol=1e-9)
    assert model.last_info is not None and len(model.last_info.reason) == 1


@pytest.mark.slow  # a prior fit and 6 hours of passes through the CLI
def test_passes_say_which_prior_and_how_many_fell_back(
    setup: tuple[Path, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``passes --model NAME`` with an OD world model names it, and says on standard error
    which prior it used and how many objects fell back; the passes equal the planner's with
    the same propagator (rise/set to 1 ms)."""
    from typer.testing import CliRunner

    from starbrain.cli import app
    from starbrain.planners.passes import GroundStation, find_passes

    db, elements, regimes = setup
    with Store(db) as store:
        store.append("elements", elements, source="test")
    monkeypatch.setenv("STARBRAIN_DB", str(db))
    args = ["passes", "--station", "Tokyo:35.6895,139.6917,40", "--from", EPOCH[:16],
            "--hours", "6", "--min-elevation", "0", "--format", "json",
            "--model", "od-small"]  # fmt: skip
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, (out.output, out.exception)
    n_back = int(regimes[1] != regimes[0])
    assert "propagator: OD world model 'od-small'" in out.output
    assert f"prior: numerical-od:test; {n_back} of 2 objects outside" in out.output
    with Store(db, read_only=True) as store:
        model = resolve_propagator(store, "od-small")
    start = np.datetime64(EPOCH, "ns")
    ref = find_passes(utc_propagate(model, elements), elements.column("norad_id").to_numpy(),
                      [GroundStation("Tokyo", 35.6895, 139.6917, 0.04)], start,
                      start + np.timedelta64(6, "h"), min_elevation_deg=0.0)  # fmt: skip
    text = out.output
    rows = json.loads(text[text.index("[") : text.rindex("]") + 1])
    assert len(rows) == len(ref) > 0
    got = np.sort([np.datetime64(r["culminate"].rstrip("Z"), "ns").astype(np.int64) for r in rows])
    want = np.sort(ref.culminate.astype("datetime64[ns]").astype(np.int64))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e6)  # 1 ms
