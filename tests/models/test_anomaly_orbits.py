"""Orbit anomalies (issue #19): SGP4-prior residuals over a calibrated sigma, on simulated
catalogue histories with injected faults (models.anomaly.orbit_sim / orbits)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from starbrain.models.anomaly.orbit_sim import CatalogConfig, OrbitFault, simulate_catalog
from starbrain.models.anomaly.orbits import (
    CHANNELS,
    element_pairs,
    fit_orbit_detector,
    orbit_residuals,
    orbit_streams,
    score_update,
)
from starbrain.models.truth import sample_leo_elements
from starbrain.physics.sgp4_init import MU_KM3_S2

DAYS = 12.0
BURN_DAY = 6.0
BURN = 320_001
DECAYING = 320_002


@pytest.fixture(scope="module")
def catalog():
    """Detector calibrated on two nominal catalogues (thresholds are the fitted ones); test
    catalogue: a 1 m/s along-track burn at ~800 km, a low high-drag object decaying nominally."""
    cfg = {"days": DAYS}
    alt = (400.0, 1200.0)
    sig_h, _ = simulate_catalog(sample_leo_elements(80, seed=1, alt_km=alt), {},
                                CatalogConfig(seed=1, **cfg))  # fmt: skip
    cal_h, _ = simulate_catalog(sample_leo_elements(80, seed=2, alt_km=alt, first_norad=310_001),
                                {}, CatalogConfig(seed=2, **cfg))  # fmt: skip
    sigma, scorer = fit_orbit_detector(sig_h, cal_h)
    test = pa.concat_tables([
        sample_leo_elements(1, seed=5, alt_km=(780.0, 820.0), first_norad=BURN),
        sample_leo_elements(1, seed=6, alt_km=(400.0, 410.0), first_norad=DECAYING,
                            ballistic_m2kg=(0.05, 0.06)),
    ])  # fmt: skip
    hist, labels = simulate_catalog(test, {0: OrbitFault("burn_along_track", BURN_DAY, 1.0)},
                                    CatalogConfig(seed=3, **cfg))  # fmt: skip
    return sigma, scorer, test, hist, labels


def _stream(streams, norad):
    return next(s for s in streams if s.object_id == str(norad))


def test_burn_detected_and_decay_not(catalog) -> None:
    sigma, scorer, _, hist, labels = catalog
    assert labels.num_rows == 1 and labels["object_id"][0].as_py() == str(BURN)
    start = labels["start"].cast(pa.int64())[0].as_py()
    streams = orbit_streams(hist, sigma)
    burn = scorer.events(_stream(streams, BURN))
    assert burn, "a 1 m/s along-track burn was not detected"
    first_after = int(_stream(streams, BURN).t_ns[_stream(streams, BURN).t_ns > start][0])
    assert min(e.start_ns for e in burn) == first_after  # the first element set after the burn
    assert {e.channel for e in burn} & {"along_track_km", "semi_major_axis_km"}
    assert all(e.peak_sigma >= e.threshold_sigma for e in burn)
    assert all(e.model == "sgp4-prior" and "sigma outside sgp4-prior" in e.message() for e in burn)
    decay = _stream(streams, DECAYING)
    assert scorer.events(decay) == []
    # ... and it does decay: the mean motion rises by more than 1 km of semi-major axis
    n = hist.filter(pa.compute.equal(hist["norad_id"], DECAYING))["mean_motion_rev_per_day"]
    a = (MU_KM3_S2 / (n.to_numpy() * 2 * math.pi / 86400.0) ** 2) ** (1 / 3)
    assert a[0] - a[-1] > 1.0


def test_burn_semi_major_axis_jump(catalog) -> None:
    """The residual in semi-major axis at the first set after the burn is Gauss's
    2 sqrt(a**3 / mu) dv (1.93 km for 1 m/s at 800 km), within 10 %."""
    sigma, _, test, hist, labels = catalog
    s = _stream(orbit_streams(hist, sigma), BURN)
    start = labels["start"].cast(pa.int64())[0].as_py()
    k = int(np.flatnonzero(s.t_ns > start)[0])
    n0 = test["mean_motion_rev_per_day"][0].as_py() * 2 * math.pi / 86400.0
    a0 = (MU_KM3_S2 / n0**2) ** (1 / 3)
    expected = 2.0 * math.sqrt(a0**3 / MU_KM3_S2) * 1e-3
    got = s.residual[k, CHANNELS.index("semi_major_axis_km")]
    assert got == pytest.approx(expected, rel=0.1)


def test_online_update_matches_batch(catalog) -> None:
    """score_update (the vectorised online step) gives the batch scorer's scores."""
    sigma, scorer, _, hist, _ = catalog
    p = element_pairs(hist)
    z, flag = score_update(p.prev, p.next, sigma, scorer)
    r, f = orbit_residuals(p.prev, p.next)
    streams = orbit_streams(hist, sigma)
    zb = np.concatenate([scorer.score(s) for s in streams])
    np.testing.assert_allclose(z, zb, rtol=1e-12, atol=1e-12)
    assert flag.sum() >= 1 and np.isfinite(r).all() and f.shape == (len(z), 2)
