"""Porkchops, windows and synodic opportunities for Earth -> Mars, checked against flown missions
and published launch periods, and for internal consistency."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from starbrain.physics import ephemeris
from starbrain.planners import transfers as tr


def _one(launch: str, arrival: str) -> tr.TransferGrid:
    return tr.evaluate_transfers(
        np.array([launch], dtype="datetime64[ns]"), np.array([arrival], dtype="datetime64[ns]")
    )


def test_maven_launch_c3() -> None:
    """MAVEN's launch energy was 12.2 km^2/s^2 (Wikipedia, "Characteristic energy", Examples).

    Dates: launch 2013-11-18 13:28 EST = 18:28 UTC (NASA/JPL news release "Mission managers hail
    successful MAVEN launch"); Mars orbit insertion on 2014-09-21 EDT (NASA SVS 4181), evening
    EDT, i.e. 2014-09-22 ~02:24 UTC. A ballistic arc between the planets' centres ignores the
    injection aim-point bias and trajectory corrections, so we allow 0.5 km^2/s^2 (4 %).
    """
    g = _one("2013-11-18T18:28", "2014-09-22T02:24")
    assert g.converged[0]
    assert abs(g.c3_km2_s2[0] - 12.2) < 0.5


def test_mars_2020_launch_c3() -> None:
    """Mars 2020 launched 2020-07-30 11:50 UTC and landed 2021-02-18 (landing confirmed 20:55
    UTC) (Wikipedia, "Mars 2020"). Its C3 should lie in 14-16 km^2/s^2: that range is the
    issue's stated check; we did not find a primary published number (e.g. AAS 19-203) in a form
    we could read, so this is a plausibility bound, not a tight comparison. Type I transfer."""
    g = _one("2020-07-30T11:50", "2021-02-18T20:44")
    assert g.converged[0]
    assert 14.0 < g.c3_km2_s2[0] < 16.0
    assert g.transfer_type[0] == 1


def test_2020_type1_window_inside_emirates_mars_mission_launch_period() -> None:
    """The Emirates Mars Mission (emiratesmarsmission.ae/journey/launch) used a 30-day launch
    period opening 2020-07-14 and closing 2020-08-12, on a Type 1 trajectory with a 211-day
    transit for a launch at the open of the period, arriving in February 2021. Our minimum-C3
    type I transfer of the 2020 opportunity must launch inside that period, and the 211-day
    transfer from the opening day must be type I and arrive in February 2021."""
    (opp,) = tr.transfer_opportunities("2020-01-01", "2020-12-31", refine=False)
    assert opp.type1 is not None
    assert np.datetime64("2020-07-14") <= opp.type1.launch <= np.datetime64("2020-08-12")
    assert opp.type1.c3_km2_s2 < 16.0
    g = _one("2020-07-14", str(np.datetime64("2020-07-14") + np.timedelta64(211, "D")))
    assert g.transfer_type[0] == 1
    assert str(g.arrival[0])[:7] == "2021-02"


def test_windows_2026_to_2035() -> None:
    rows = tr.windows_table(2026, 2035)
    opps = sorted({r["opportunity"] for r in rows})
    assert [o[:4] for o in opps] == ["2026", "2029", "2031", "2033", "2035"]  # reference dates
    assert sorted({r["launch"][:4] for r in rows}) == ["2026", "2028", "2031", "2033", "2035"]
    gaps = np.diff(np.array(opps, dtype="datetime64[D]")).astype(int)
    assert np.all(np.abs(gaps - 780) < 60)  # Earth-Mars synodic period ~780 days
    for r in rows:
        # Ballistic Earth-Mars minima are 7-20 km^2/s^2 in every opportunity (physical range).
        assert 7.0 < r["c3_km2_s2"] < 20.0, r
        assert r["type"] in (1, 2)
        lo, hi = (60, 300) if r["type"] == 1 else (180, 500)
        assert lo < r["tof_days"] < hi, r
    types = {(r["opportunity"], r["type"]) for r in rows}
    assert len(types) == len(rows) == 10


def test_opportunity_types_and_refinement() -> None:
    coarse = tr.transfer_opportunities("2028-06-01", "2029-06-01", refine=False)
    fine = tr.transfer_opportunities("2028-06-01", "2029-06-01", refine=True)
    assert len(coarse) == len(fine) == 1
    for kind in (1, 2):
        c = getattr(coarse[0], f"type{kind}")
        f = getattr(fine[0], f"type{kind}")
        assert f.transfer_type == kind
        assert (f.transfer_angle_rad < math.pi) == (kind == 1)
        # The local optimiser may only improve on the grid, and not by much.
        assert f.c3_km2_s2 <= c.c3_km2_s2 + 1e-9
        assert c.c3_km2_s2 - f.c3_km2_s2 < 0.5


def test_porkchop_grid() -> None:
    g = tr.porkchop("2020-06-15", "2020-09-15", "2020-12-01", "2021-12-01", step_days=5)
    assert g.shape == (19, 74)
    assert g.launch.shape == g.c3_km2_s2.shape
    best = g.best("c3", transfer_type=1, ridge_margin_deg=5.0)
    assert 12.5 < best.c3_km2_s2 < 14.0
    i = np.argwhere(g.launch[:, 0] == best.launch)[0, 0]
    j = np.argwhere(g.arrival[0, :] == best.arrival)[0, 0]
    assert g.c3_km2_s2[i, j] == pytest.approx(best.c3_km2_s2)
    assert g.tof_days[i, j] == pytest.approx((j * 5 + 169) - i * 5)
    # Departure delta-v from a 200 km circular orbit on the same C3.
    mu = ephemeris.GM_KM3_S2["earth"]
    r = tr.RADIUS_KM["earth"] + 200.0
    dv = math.sqrt(best.c3_km2_s2 + 2 * mu / r) - math.sqrt(mu / r)
    assert g.dv_departure_kms[i, j] == pytest.approx(dv)
    assert np.all(np.abs(np.degrees(g.dla_rad[g.converged])) <= 90.0)


def test_arrival_before_launch_is_flagged() -> None:
    g = tr.evaluate_transfers(
        np.array(["2021-01-01", "2020-01-01"], dtype="datetime64[ns]"),
        np.array(["2020-06-01", "2020-09-01"], dtype="datetime64[ns]"),
    )
    assert g.converged.tolist() == [False, True]
    assert np.isnan(g.c3_km2_s2[0]) and g.transfer_type[0] == 0


def test_delta_v_assumptions() -> None:
    launch = np.array(["2033-04-04"], dtype="datetime64[ns]")
    arrival = np.array(["2033-09-28"], dtype="datetime64[ns]")
    flyby = tr.evaluate_transfers(launch, arrival, assumptions=tr.DeltaVAssumptions(capture=False))
    circ = tr.evaluate_transfers(launch, arrival)
    ell = tr.evaluate_transfers(
        launch, arrival, assumptions=tr.DeltaVAssumptions(capture_apoapsis_alt_km=33_000.0)
    )
    assert flyby.dv_arrival_kms[0] == 0.0
    # Capturing into an elliptical orbit costs less than into a low circular one.
    assert 0.0 < ell.dv_arrival_kms[0] < circ.dv_arrival_kms[0]
    mu = ephemeris.GM_KM3_S2["mars"]
    rp = tr.RADIUS_KM["mars"] + 300.0
    vinf = circ.vinf_arr_kms[0]
    assert circ.dv_arrival_kms[0] == pytest.approx(
        math.sqrt(vinf**2 + 2 * mu / rp) - math.sqrt(mu / rp)
    )


def test_torch_device_matches_numpy() -> None:
    pytest.importorskip("torch")
    args = ("2022-08-01", "2022-11-01", "2023-02-01", "2023-12-01")
    a = tr.porkchop(*args, step_days=10)
    b = tr.porkchop(*args, step_days=10, device="cpu")
    np.testing.assert_array_equal(a.converged, b.converged)
    np.testing.assert_allclose(a.c3_km2_s2, b.c3_km2_s2, rtol=1e-10)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="unknown planet"):
        tr.porkchop("2020-01-01", "2020-02-01", "2020-06-01", "2020-07-01", target="vulcan")
    with pytest.raises(ValueError, match="later than"):
        tr.transfer_opportunities("2030-01-01", "2020-01-01")
    with pytest.raises(ValueError, match="ends earlier"):
        tr.porkchop("2020-03-01", "2020-02-01", "2020-06-01", "2020-07-01")
    with pytest.raises(ValueError, match="no earth-mars opportunity"):
        tr.porkchop_for_window(2027)  # 2026's launches end in December 2026, 2028's start later


def test_plots(tmp_path: Path) -> None:
    from starbrain.report.porkchop import write_porkchop_html, write_porkchop_png

    g = tr.porkchop_for_window(2028, step_days=6)
    pytest.importorskip("matplotlib")
    png = write_porkchop_png(g, tmp_path / "pc.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pytest.importorskip("plotly")
    html = write_porkchop_html(g, tmp_path / "pc.html", include_plotlyjs="cdn")
    text = html.read_text()
    assert "C3" in text and "plotly" in text.lower()
