"""``starbrain predict`` with several objects in one call and ``--frame teme|gcrs|itrf``, against
Skyfield (python-sgp4 and its TEME, GCRS and ITRS frames on skyfield-data's IERS table) for real
Vallado TLEs stored with ``catalog load``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from skyfield.api import EarthSatellite
from skyfield.framelib import itrs
from skyfield.sgp4lib import TEME
from typer.testing import CliRunner

from starbrain.cli import app
from starbrain.core.errors import StarbrainError
from starbrain.physics.frames import timescale
from tests.models.peer_truth import _skyfield_utc, vallado_tle

RUNNER = CliRunner()
SATS = [28057, 6251, 28129]  # two LEO (SGP4) and a GPS satellite (SDP4, deep space)


@pytest.fixture
def stored(tmp_path: Path, store_path: Path) -> Path:
    tle = tmp_path / "vallado.tle"
    tle.write_text("".join(f"{a}\n{b}\n" for a, b in (vallado_tle(n) for n in SATS)))
    res = RUNNER.invoke(app, ["catalog", "load", str(tle)])
    assert res.exit_code == 0, res.output
    return tmp_path


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


@pytest.mark.parametrize("frame", ["teme", "gcrs", "itrf"])
def test_predict_several_objects_in_each_frame_match_skyfield(stored: Path, frame: str) -> None:
    """Three objects in one call (comma list and a repeated option), 12 h every 2 h from a
    common start: every position within 1 mm of Skyfield's in TEME, GCRS and ITRS; velocities
    within 1 mm/s (TEME, GCRS) and 1 cm/s (ITRS; measured 3 mm/s, see below)."""
    out = stored / f"{frame}.csv"
    start = "2006-06-27T00:00:00"
    res = RUNNER.invoke(app, ["predict", "--norad", "28057,6251", "--norad", "28129", "--model",
                              "sgp4", "--from", start, "--hours", "12", "--step-min", "120",
                              "--frame", frame, "--output", str(out)])  # fmt: skip
    assert res.exit_code == 0, (res.output, res.exception)
    assert "3 objects: " + frame.upper() + " states" in res.stdout
    rows = _rows(out)
    assert len(rows) == 3 * 7
    assert [int(r["norad_id"]) for r in rows[::7]] == SATS
    ts = timescale()
    for norad in SATS:
        sat = EarthSatellite(*vallado_tle(norad), ts=ts)
        mine = [r for r in rows if int(r["norad_id"]) == norad]
        times = np.array([r["time"].rstrip("Z").replace(" ", "T") for r in mine], "datetime64[ns]")
        assert str(times[0]) == start + ".000000000"
        at = sat.at(_skyfield_utc(times))
        if frame == "gcrs":
            r_ref, v_ref = at.position.km, at.velocity.km_per_s
        else:
            rr, vv = at.frame_xyz_and_velocity(itrs if frame == "itrf" else TEME)
            r_ref, v_ref = rr.km, vv.km_per_s
        r = np.array([[float(x[f"{c}_km"]) for c in "xyz"] for x in mine])
        v = np.array([[float(x[f"v{c}_kmps"]) for c in "xyz"] for x in mine])
        np.testing.assert_allclose(r, r_ref.T, rtol=0, atol=1e-6)
        # ITRS velocity: our TEME -> ITRF follows Skyfield's TEME_to_ITRF (GMST 1982 rate), its
        # ITRS frame differentiates the full rotation: 3 mm/s apart in LEO
        np.testing.assert_allclose(v, v_ref.T, rtol=0, atol=1e-5 if frame == "itrf" else 1e-6)
        # minutes since each object's own epoch
        epoch = np.datetime64(sat.epoch.utc_datetime().replace(tzinfo=None), "ns")
        want = (times - epoch) / np.timedelta64(60_000_000_000, "ns")
        got = np.array([float(x["minutes_since_epoch"]) for x in mine])
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_predict_one_object_defaults_to_its_epoch_and_bad_norads(stored: Path) -> None:
    res = RUNNER.invoke(app, ["predict", "--norad", "28057", "--model", "sgp4", "--hours", "1",
                              "--step-min", "30", "--format", "csv"])  # fmt: skip
    assert res.exit_code == 0, res.exception
    rows = list(csv.DictReader(res.stdout.splitlines()))
    assert len(rows) == 3 and float(rows[0]["minutes_since_epoch"]) == 0.0  # from the TLE epoch
    assert rows[0]["prior"] == "sgp4" and rows[0]["fell_back"] == "false"
    for bad, why in (("28057,abc", "'abc': not a catalogue number"),
                     ("28057,99999", "no element sets stored for NORAD 99999")):  # fmt: skip
        res = RUNNER.invoke(app, ["predict", "--norad", bad, "--model", "sgp4"])
        assert isinstance(res.exception, StarbrainError) and why in str(res.exception)


def test_predict_says_per_object_which_prior_and_whether_it_fell_back(
    tmp_path: Path, store_path: Path
) -> None:
    """With an OD world model valid for one object's regime only (the planner propagator's
    test model), predict's prior / fell_back columns say so per object, as the propagator's
    own object_info does: the in-domain object is corrected, the other is its prior alone."""
    from starbrain.models.orbit_residual import orbit_regime
    from starbrain.models.registry import register_od_model
    from starbrain.models.truth import sample_leo_elements
    from starbrain.store.database import Store
    from tests.planners.test_od_propagator import (
        EPOCH,
        FIT_DAYS,
        TRAIN_CONFIG,
        _open_domain,
        _residual,
    )

    # seed 6: inclinations 12.9 and 74.6 deg, two regimes, each away from its edges
    elements = sample_leo_elements(2, seed=6, epoch=EPOCH, alt_km=(540.0, 660.0))
    inc = np.asarray(elements.column("inclination_deg").to_numpy())
    regimes = orbit_regime(np.full(2, 600.0), inc).tolist()
    assert regimes[0] != regimes[1]
    with Store(store_path) as store:
        store.append("elements", elements, source="test")
        register_od_model(store, "od-one", _open_domain(_residual(FIT_DAYS), [regimes[0]]),
                          train_config=TRAIN_CONFIG)  # fmt: skip
    ids = [str(n) for n in elements.column("norad_id").to_pylist()]
    res = RUNNER.invoke(app, ["predict", "--norad", ",".join(ids), "--hours", "12",
                              "--step-min", "120", "--format", "csv"])  # fmt: skip
    assert res.exit_code == 0, (res.output, res.exception)
    assert "model used: OD world model 'od-one'" in res.stderr
    rows = list(csv.DictReader(res.stdout.splitlines()))
    by_id = {r["norad_id"]: r for r in rows}
    assert by_id[ids[0]]["fell_back"] == "false" and by_id[ids[1]]["fell_back"] == "true"
    assert {r["prior"] for r in rows} == {"numerical-od:test"}
