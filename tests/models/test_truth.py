"""Truth generation: SGP4 start states propagated with the full-force numerical propagator."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from starbrain.models.truth import (
    BSTAR_TO_BALLISTIC_M2KG,
    generate_truth,
    leo_strata,
    sample_elements,
    sample_leo_elements,
    solar_activity,
    spacecraft_from_bstar,
)
from starbrain.physics.sgp4 import sgp4_propagate
from starbrain.physics.sgp4_init import Sgp4Elements


@pytest.fixture(scope="module")
def truth():
    return generate_truth(sample_elements(8, seed=3), days=1.0, step_min=20.0)


def test_sample_is_fixed_by_seed_and_varied() -> None:
    a, b = sample_elements(20, seed=5), sample_elements(20, seed=5)
    assert a.equals(b)
    assert not a.equals(sample_elements(20, seed=6))
    names = a.column("object_name").to_pylist()
    assert sum(n.startswith("SIM S") for n in names) == 8  # 40% from the Starlink preset
    alt_spread = np.ptp(a.column("mean_motion_rev_per_day").to_numpy())
    assert alt_spread > 1.0  # several altitudes, not one shell
    assert len(set(a.column("norad_id").to_pylist())) == 20


def test_spacecraft_from_bstar_inverts_the_bstar_definition() -> None:
    # B* = rho0 Cd A / (2 m), rho0 = 0.15696615 kg/m^2/ER (Vallado, Fundamentals, sec. 9.6.1)
    sc = spacecraft_from_bstar([1e-4, 3e-4])
    bc = sc.ballistic_m2kg(2)
    np.testing.assert_allclose(bc * 0.15696615 / 2.0, [1e-4, 3e-4], rtol=1e-12)
    assert BSTAR_TO_BALLISTIC_M2KG == pytest.approx(12.741621, rel=1e-5)  # the usual quoted figure


def test_truth_starts_at_the_sgp4_state_and_frames_agree(truth) -> None:
    assert truth.r_teme.shape == (8, 73, 3)
    assert truth.ok.all()
    el = Sgp4Elements.from_table(truth.elements, device="cpu")
    r0, v0, _ = sgp4_propagate(el, torch.zeros(1, dtype=torch.float64))
    np.testing.assert_allclose(truth.r_teme[:, 0], r0[:, 0].numpy(), atol=1e-9)
    np.testing.assert_allclose(truth.v_teme[:, 0], v0[:, 0].numpy(), atol=1e-12)
    # a rotation keeps lengths
    np.testing.assert_allclose(
        np.linalg.norm(truth.r_teme, axis=-1), np.linalg.norm(truth.r_gcrs, axis=-1), rtol=1e-13
    )


def test_truth_departs_from_sgp4_by_a_plausible_amount(truth) -> None:
    """After a day, full-force physics and SGP4 of the same start differ by 0.1-50 km in LEO
    (different zonals, drag model, third bodies): both are propagating the same orbit."""
    el = Sgp4Elements.from_table(truth.elements, device="cpu")
    r, _, _ = sgp4_propagate(el, torch.as_tensor(truth.t_min))
    d = np.linalg.norm(r.numpy() - truth.r_teme, axis=-1)[:, -1]
    assert np.all(d > 0.05) and np.all(d < 50.0), d


def test_force_model_is_documented(truth) -> None:
    meta = json.loads(truth.metadata_json())
    fm = meta["force_model"]
    assert fm["gravity_degree"] == 6 and fm["drag"] and fm["sun"] and fm["moon"] and fm["srp"]
    assert meta["step_min"] == 20.0 and meta["n_sat"] == 8
    assert len(meta["spacecraft"]["drag_area_m2"]) == 8


def test_mixed_epochs_are_refused() -> None:
    import pyarrow as pa

    a = sample_elements(2, seed=1, epoch="2024-01-01")
    b = sample_elements(2, seed=1, epoch="2024-01-02")
    with pytest.raises(ValueError, match="common epoch"):
        generate_truth(pa.concat_tables([a, b]), days=0.1)


def test_deep_space_sample_has_each_orbit_class() -> None:
    from starbrain.models.truth import orbit_class

    el = sample_elements(40, seed=7, meo_fraction=0.1, geo_fraction=0.1, heo_fraction=0.1)
    cls = orbit_class(el)
    assert [int((cls == c).sum()) for c in ("LEO", "MEO", "GEO", "HEO")] == [28, 4, 4, 4]
    n = el.column("mean_motion_rev_per_day").to_numpy()
    e = el.column("eccentricity").to_numpy()
    # GEO: one revolution per sidereal day (1.0027 rev/day) within 50 km of 42,164 km
    np.testing.assert_allclose(n[cls == "GEO"], 1.0027, atol=0.003)
    assert np.all(e[cls == "HEO"] > 0.5) and np.all(e[cls == "MEO"] < 0.011)
    # the LEO/Starlink part of the sample is the same draw as without deep-space satellites
    assert (
        el.slice(0, 16).column("object_name").to_pylist()[:16]
        == sample_elements(40, seed=7).column("object_name").to_pylist()[:16]
    )
    with pytest.raises(ValueError, match="fractions"):
        sample_elements(10, starlink_fraction=0.8, geo_fraction=0.5)


def test_sharded_truth_is_the_same_and_deep_space_is_plausible() -> None:
    """Sharding (the path Ray takes) does not change the truth: each satellite is integrated
    with its own step. For MEO/GEO/HEO, full-force truth and SGP4/SDP4 of the same start stay
    within 0.01-100 km over a day (lunisolar terms are in both; SRP and zonals differ)."""
    el = sample_elements(6, seed=2, starlink_fraction=0.0, meo_fraction=1 / 3,
                         geo_fraction=1 / 3, heo_fraction=1 / 3)  # fmt: skip
    whole = generate_truth(el, days=1.0, step_min=60.0)
    parts = generate_truth(el, days=1.0, step_min=60.0, shards=3)
    np.testing.assert_array_equal(whole.r_teme, parts.r_teme)
    assert parts.spacecraft == whole.spacecraft and parts.ok.all()
    sgp = Sgp4Elements.from_table(el, device="cpu")
    r, _, _ = sgp4_propagate(sgp, torch.as_tensor(whole.t_min))
    d = np.linalg.norm(r.numpy() - whole.r_teme, axis=-1)[:, -1]
    assert np.all(d > 0.01) and np.all(d < 100.0), d


def test_sharded_truth_honours_min_altitude() -> None:
    """``min_altitude_km`` stops a satellite on the sharded path as on the single one: LEO
    satellites at 400-1,200 km with the floor at 2,000 km are all stopped at once (ERROR_DECAYED,
    NaN after the epoch), in one piece and in three shards alike."""
    from starbrain.physics.numerical import ERROR_DECAYED

    el = sample_leo_elements(6, seed=9, alt_km=(400.0, 1200.0))
    whole = generate_truth(el, days=0.05, step_min=30.0, min_altitude_km=2000.0)
    parts = generate_truth(el, days=0.05, step_min=30.0, min_altitude_km=2000.0, shards=3)
    for t in (whole, parts):
        assert (t.error == ERROR_DECAYED).all() and not t.ok.any()
        assert np.isnan(t.r_gcrs[:, -1]).all()


def test_generic_leo_sample_covers_the_issue_14_ranges() -> None:
    el = sample_leo_elements(400, seed=4, shell_fraction=0.1)
    assert el.equals(sample_leo_elements(400, seed=4, shell_fraction=0.1))
    assert el.num_rows == 400 and len(set(el.column("norad_id").to_pylist())) == 400
    st = leo_strata(el, solar=False)
    generic = st["family"] == "generic"
    assert generic.sum() == 360 and (st["family"] == "shell").sum() == 40
    n = el.column("mean_motion_rev_per_day").to_numpy()[generic]
    inc = el.column("inclination_deg").to_numpy()[generic]
    ecc = el.column("eccentricity").to_numpy()[generic]
    alt = (398600.4418 * (86400.0 / (2 * np.pi * n)) ** 2) ** (1 / 3) - 6378.135
    # Kozai vs Brouwer mean motion moves the altitude by < 10 km
    assert 290.0 < alt.min() < 330.0 and 1170.0 < alt.max() < 1210.0
    assert inc.min() < 20.0 and inc.max() > 160.0  # all inclinations, retrograde included
    assert ecc.max() < 0.02 and ecc.min() < 3e-4
    bc = BSTAR_TO_BALLISTIC_M2KG * el.column("bstar_per_earth_radius").to_numpy()
    assert 0.002 <= bc.min() < 0.003 and 0.07 < bc.max() <= 0.1
    for name in ("altitude", "ballistic"):
        assert len(set(st[name])) == 3 and "outside" not in set(st[name])
    with pytest.raises(ValueError, match="max_eccentricity"):
        sample_leo_elements(4, max_eccentricity=0.5)


def test_solar_activity_from_the_packaged_space_weather() -> None:
    pytest.importorskip("brahe", reason="brahe ships the CSSI space-weather file")
    # NOAA SWPC: the cycle 23/24 minimum (F10.7 ~ 69 in Dec 2008) and the cycle 25 maximum
    # (monthly F10.7 above 200 in Aug 2024).
    band, f = solar_activity("2008-12-15T00:00:00")
    assert band == "low" and 65.0 < f < 75.0
    band, f = solar_activity("2024-08-15T00:00:00")
    assert band == "high" and f > 180.0
    el = sample_leo_elements(3, seed=1, epoch="2008-12-15T00:00:00")
    assert set(leo_strata(el)["solar"]) == {"low"}


def test_truth_and_priors_across_epochs_hold_out_by_time() -> None:
    from starbrain.models.orbit_model import concat_arcs, fit_priors, split_by_epoch
    from starbrain.models.truth import concat_truth

    epochs = ("2009-01-10T00:00:00", "2014-03-01T00:00:00", "2023-06-01T00:00:00")
    parts = [
        generate_truth(sample_leo_elements(2, seed=k, epoch=e, first_norad=400_000 + 10 * k),
                       days=0.05, step_min=18.0)
        for k, e in enumerate(epochs)
    ]  # fmt: skip
    whole = concat_truth(parts)
    assert whole.r_teme.shape == (6, parts[0].t_min.size, 3)
    assert whole.epoch == np.datetime64(epochs[0], "ns")
    np.testing.assert_array_equal(whole.r_teme[2:4], parts[1].r_teme)
    assert len(whole.spacecraft["drag_area_m2"]) == 6
    arcs = concat_arcs([fit_priors(p, fit_days=0.05, max_iter=3) for p in parts])
    train, test = split_by_epoch(arcs, "2020-01-01")
    assert len(train.elements) == 4 and len(test.elements) == 2
    assert set(test.truth.elements.column("norad_id").to_pylist()) == {400_020, 400_021}
    # each satellite keeps its own epoch in its elements
    jd = (arcs.elements.jdsatepoch + arcs.elements.jdsatepochF).numpy()
    assert np.ptp(jd[:2]) < 1e-9 and jd[4] - jd[0] > 5000.0
    with pytest.raises(ValueError, match="t_min grid"):
        concat_truth([parts[0], generate_truth(sample_leo_elements(1), days=0.02, step_min=9.0)])
